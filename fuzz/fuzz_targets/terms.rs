//! The core on random data in every layout, float32 and float64, with tau
//! down to 1e-300: every term `--terms` lists matches the naive float64
//! reference of `tests/common` (index and value), each `p` lies in [0, 1],
//! a record's `p` sum to 1, and the positive's `p` equals the record's
//! `p_positive` within the precision of the pass (chosen by the same policy
//! as a run of the tool).
//!
//! Input: byte 0 picks the layout (bits 0-2: two-view, pairs, pairs
//! symmetric, keys, keys symmetric), dot similarity (bit 3) and float32
//! input (bit 4); byte 1 the exponent of tau (10^0 down to 10^-300) and
//! byte 2 its mantissa; byte 3 the dimension (1 to 8); byte 4 the number of
//! items (1 to 16); byte 5 a power of two that scales every value down (so
//! that dot products stay finite at the smallest tau); the rest are the
//! values (each byte a signed eighth, repeated as needed).

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use infonce::input::index::{IndexPair, Pairs};
use infonce::layout::Layout;
use infonce::loss::precision::{self, F32_NORMS};
use infonce::loss::{Core, Settings, Similarity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, exp10, mant, dim, items, shrink, values @ ..] = data else {
        return;
    };
    if values.is_empty() {
        return;
    }
    let kind = pick & 7;
    if kind > 4 {
        return;
    }
    let s = if pick & 8 != 0 {
        Similarity::Dot
    } else {
        Similarity::Cosine
    };
    let f32_input = pick & 16 != 0;
    let tau = (1.0 + *mant as f64 / 256.0) * 10f64.powf(-(*exp10 as f64) * 300.0 / 255.0);
    let d = 1 + (*dim as usize % 8);
    let n = 1 + (*items as usize % 16);
    let scale = 2f64.powi(-(*shrink as i32 % 128));
    let r = if kind >= 3 { n } else { 2 * n };
    let rows_of = |offset: usize| -> Vec<Vec<f64>> {
        (0..r)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        let b = values[(offset + i * d + j) % values.len()] as i8;
                        let x = b as f64 / 8.0 * scale;
                        if f32_input { x as f32 as f64 } else { x }
                    })
                    .collect()
            })
            .collect()
    };
    let first = rows_of(0);
    let second = (kind >= 3).then(|| rows_of(r * d));
    // The checks a run makes before the core: rows in float64's range, no
    // zero row under cosine, logits within 1e300.
    let norm = |x: &Vec<f64>| x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let all = first.iter().chain(second.iter().flatten());
    let mut largest = (0.0f64, 0.0f64);
    let mut fit_f32 = true;
    for (k, x) in all.enumerate() {
        let m = norm(x);
        if m == 0.0 {
            if s == Similarity::Cosine {
                return;
            }
            continue;
        }
        if !(1e-150..=1e150).contains(&m) {
            return;
        }
        fit_f32 &= (F32_NORMS.0..=F32_NORMS.1).contains(&m);
        if k < first.len() {
            largest.0 = largest.0.max(m);
        } else {
            largest.1 = largest.1.max(m);
        }
    }
    if second.is_none() {
        largest.1 = largest.0;
    }
    let size = match s {
        Similarity::Cosine => 1.0,
        Similarity::Dot => largest.0 * largest.1,
    };
    if size / tau > 1e300 {
        return;
    }
    let layout = match kind {
        0 => Layout::two_view("mem.npy", r).unwrap(),
        1 | 2 => {
            if r < 2 {
                return;
            }
            let pairs: Vec<IndexPair> = values
                .chunks(2)
                .take(3 * r)
                .map(|c| {
                    let a = c[0] as usize % r;
                    let b = (a + 1 + c.get(1).copied().unwrap_or(0) as usize % (r - 1)) % r;
                    IndexPair {
                        a: a as i64,
                        b: b as i64,
                    }
                })
                .collect();
            let pairs = Pairs::from_pairs("p.csv", pairs);
            Layout::pairs("mem.npy", r, &pairs, kind == 2).unwrap()
        }
        _ => Layout::keys("q.npy", n, "k.npy", n, kind == 4).unwrap(),
    };
    let choice = precision::choose(&precision::Request {
        force_f64: false,
        any_f64: !f32_input,
        dimension: d,
        tau,
        similarity: s,
        largest_norms: largest,
        norms_fit_f32: fit_f32,
    });
    let make = |rows: &Vec<Vec<f64>>| {
        if choice.f64_products {
            common::embeddings_f64(rows)
        } else {
            common::embeddings_f32(rows)
        }
    };
    let a = make(&first);
    let b = second.as_ref().map(make);
    let settings = Settings {
        tau,
        similarity: s,
        block: 1 + (*mant as usize % 7),
        portable: pick & 32 != 0,
    };
    let core = Core::new(&layout, &a, b.as_ref(), settings).expect("checked above");
    let stats = core.run(&|_| {});
    for st in &stats {
        let f = st.finish();
        assert!(f.loss.is_finite() && f.loss >= 0.0, "{f:?}");
        assert!((0.0..=1.0).contains(&f.p_positive), "{f:?}");
        assert!(f.log_denominator >= f.log_numerator, "{f:?}");
    }
    let all: Vec<usize> = (0..layout.records.len()).collect();
    let mut terms = vec![Vec::new(); all.len()];
    core.terms(&all, &mut |k, ts| {
        terms[k] = ts.to_vec();
        Ok::<(), ()>(())
    })
    .unwrap();
    let want = common::reference(&layout, &first, second.as_deref(), s, tau);
    let unit = if choice.f64_products {
        2f64.powi(-53)
    } else {
        2f64.powi(-24)
    };
    if let Err(e) = common::check_terms(&stats, &terms, &want, d, tau, unit, "fuzz") {
        panic!("{e}");
    }
});
