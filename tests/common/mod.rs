//! Shared by the integration tests: a naive float64 reference of the loss and
//! small builders for in-memory inputs.
#![allow(dead_code)]

use infonce::input::{Embeddings, Matrix, Values};
use infonce::layout::Layout;
use infonce::loss::Similarity;
use infonce::loss::kernel::TIE_ULPS;

/// Row-major embeddings as float64 rows.
pub type Rows = Vec<Vec<f64>>;

pub fn embeddings_f64(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float64".into(),
        values: Values::F64(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

pub fn embeddings_f32(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<f32> = rows.iter().flatten().map(|&x| x as f32).collect();
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float32".into(),
        values: Values::F32(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

/// float16 embeddings; every value must be exact in float16.
pub fn embeddings_f16(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<half::f16> = rows
        .iter()
        .flatten()
        .map(|&x| half::f16::from_f64(x))
        .collect();
    assert!(
        flat.iter()
            .zip(rows.iter().flatten())
            .all(|(h, &x)| f64::from(*h) == x)
    );
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float16".into(),
        values: Values::F16(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

/// What the reference computes for one record.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub logit: f64,
    pub log_denominator: f64,
    pub loss: f64,
    pub rank: u64,
}

fn sim(x: &[f64], y: &[f64], s: Similarity) -> f64 {
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    match s {
        Similarity::Dot => dot,
        Similarity::Cosine => {
            let nx = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            let ny = y.iter().map(|a| a * a).sum::<f64>().sqrt();
            dot / (nx * ny)
        }
    }
}

/// The seed's formula, term by term, in float64: candidates are the other
/// rows (one-file layouts) or the other file (keys layout).
pub fn reference(
    layout: &Layout,
    first: &Rows,
    second: Option<&Rows>,
    s: Similarity,
    tau: f64,
) -> Vec<Expected> {
    layout
        .records
        .iter()
        .map(|r| {
            let (anchor, cands) = match (second, r.backward) {
                (None, _) => (&first[r.anchor], first),
                (Some(k), false) => (&first[r.anchor], k),
                (Some(k), true) => (&k[r.anchor], first),
            };
            let logits: Vec<(usize, f64)> = cands
                .iter()
                .enumerate()
                .filter(|(k, _)| second.is_some() || *k != r.anchor)
                .map(|(k, c)| (k, sim(anchor, c, s) / tau))
                .collect();
            let lp = logits
                .iter()
                .find(|(k, _)| *k == r.positive)
                .expect("positive is a candidate")
                .1;
            let max = logits.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
            let log_den = max
                + logits
                    .iter()
                    .map(|(_, l)| (l - max).exp())
                    .sum::<f64>()
                    .ln();
            // log1p(sum over the others of exp(l - lp)), computed with its own max.
            let others: Vec<f64> = logits
                .iter()
                .filter(|(k, _)| *k != r.positive)
                .map(|(_, l)| l - lp)
                .collect();
            let loss = if others.is_empty() {
                0.0
            } else {
                let m = others.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + others.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                if lse > 0.0 {
                    lse + (-lse).exp().ln_1p()
                } else {
                    lse.exp().ln_1p()
                }
            };
            // Ties within float64 rounding of the similarity favour the positive.
            let size = |x: &[f64]| match s {
                Similarity::Cosine => 1.0,
                Similarity::Dot => x.iter().map(|a| a * a).sum::<f64>().sqrt(),
            };
            let d = anchor.len() as f64;
            let window = |k: usize| {
                TIE_ULPS * (d + 2.0) * f64::EPSILON * size(anchor) * size(&cands[k]) / tau
            };
            let rank = 1 + logits
                .iter()
                .filter(|(k, l)| *k != r.positive && *l > lp + window(*k))
                .count() as u64;
            Expected {
                logit: lp,
                log_denominator: log_den,
                loss,
                rank,
            }
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so tests need no extra crate
/// to make seeded data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// Two views of `n` items of dimension `d`: item + `noise` * uniform.
    pub fn two_view(&mut self, n: usize, d: usize, noise: f64) -> Rows {
        let items: Rows = (0..n)
            .map(|_| (0..d).map(|_| self.uniform()).collect())
            .collect();
        let mut rows = Vec::with_capacity(2 * n);
        for _ in 0..2 {
            for it in &items {
                rows.push(it.iter().map(|x| x + noise * self.uniform()).collect());
            }
        }
        rows
    }
}
