//! The fused, tiled pass: similarities are computed a tile at a time with a
//! matrix product and folded at once into a running log-sum-exp per anchor,
//! counting the candidates that score above each positive on the way. The
//! R x R similarity matrix never exists.
//!
//! In the one-file layouts the similarity matrix is symmetric, so only tiles
//! on or above the diagonal are computed; each serves the anchors of its rows
//! (a row fold) and of its columns (a column fold). Every partial sum is kept
//! per (anchor, tile) and merged in a fixed order, so the result is identical
//! for any number of threads.
//!
//! By concern: `element` (the stored and tile element types, float16 rows
//! converted as tiles are formed), `schedule` (row blocks to workers, the
//! ordered merge of column partials), `multiply` (which product fills a
//! tile), `fold` (tile logits into running log-sum-exps), `rank` (candidates
//! above each positive, near-ties rechecked in float64) and `records` (the
//! sums turned into each record's findings and terms). This file holds the
//! pass itself, built complete by [`Pass::new`].

mod element;
mod fold;
mod multiply;
mod rank;
mod records;
mod schedule;

pub use element::{Element, Stored};
pub use rank::TIE_ULPS;
pub use schedule::{tile_count, workers};

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::layout::Layout;
use crate::loss::cpu::Avx2Fma;
use crate::loss::exp::Lse;
use crate::loss::{EXP32_SPAN, FIXED_SHIFT_SPAN, Settings, Similarity};

/// Rows in compressed form: `ids[start[r]..start[r + 1]]` belong to row r.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    start: Vec<usize>,
    ids: Vec<usize>,
}

impl Csr {
    /// Groups `(row, value)` items by row, keeping their order within a row.
    pub fn build(rows: usize, items: impl Iterator<Item = (usize, usize)> + Clone) -> Csr {
        let mut start = vec![0usize; rows + 1];
        for (r, _) in items.clone() {
            start[r + 1] += 1;
        }
        for r in 0..rows {
            start[r + 1] += start[r];
        }
        let mut fill = start.clone();
        let mut ids = vec![0usize; start[rows]];
        for (r, v) in items {
            ids[fill[r]] = v;
            fill[r] += 1;
        }
        Csr { start, ids }
    }

    pub fn get(&self, r: usize) -> &[usize] {
        &self.ids[self.start[r]..self.start[r + 1]]
    }

    /// The same rows with each row's values sorted and deduplicated.
    pub fn sorted_unique(&self) -> Csr {
        let rows = self.start.len() - 1;
        let mut out = Csr {
            start: vec![0],
            ids: Vec::with_capacity(self.ids.len()),
        };
        for r in 0..rows {
            let mut v = self.get(r).to_vec();
            v.sort_unstable();
            v.dedup();
            out.ids.extend(v);
            out.start.push(out.ids.len());
        }
        out
    }

    pub(super) fn any_in(&self, lo: usize, hi: usize) -> bool {
        self.start[lo] != self.start[hi]
    }
}

/// One file's rows with what the pass needs to know of each.
pub struct Side<'a, T> {
    pub m: ArrayView2<'a, T>,
    /// Multiplier that turns a dot product into the similarity: 1/|x| for
    /// cosine, 1 for dot.
    pub scale: Vec<f64>,
    /// |x| * scale: 1 for cosine, |x| for dot. Bounds the product's rounding.
    pub size: Vec<f64>,
    /// The rows are read in place from a memory-mapped file: the pass makes
    /// no packed copy of them.
    pub mapped: bool,
}

/// Anchors whose candidates lie on the other side of the tile.
pub struct Anchors {
    /// Record ids of each anchor row.
    pub records: Csr,
    /// Distinct positives of each anchor row (rows of the other side).
    pub positives: Csr,
    /// For each row of the other side, the anchors it is a positive of.
    pub reverse: Csr,
}

/// Everything the pass reads.
pub struct Pass<'p, 'a, T> {
    /// Rows of the tiles: anchors of forward records.
    a: &'p Side<'a, T>,
    /// Columns of the tiles: candidates of forward records. In one-file
    /// layouts this is the same side as `a`.
    b: &'p Side<'a, T>,
    one_file: bool,
    /// 1 / tau (infinite for a tau below 1/f64::MAX: see [`Pass::per_tau`]).
    inv_tau: f64,
    tau: f64,
    /// Tile logits are `(g * row_scale[i]) * col_scale[j]`, g the tile's
    /// dot product ([`Scaling`]).
    row_scale: Vec<f64>,
    col_scale: Vec<f64>,
    block: usize,
    /// Forward anchors (rows of `a`).
    fwd: Anchors,
    /// Anchors of the column fold: in one-file layouts the forward anchors
    /// again; in the keys layout the key-to-query anchors (rows of `b`).
    col: Option<Anchors>,
    /// Each record's positive: a row of `b` for forward records, of `a`
    /// for the column fold's.
    positive: Vec<usize>,
    /// Each record's positive similarity, from [`Pass::precise_sim`].
    positive_sim: Vec<f64>,
    /// Each record's positive logit, `positive_sim / tau` (as
    /// [`Pass::precise_logit`] computes it).
    positive_logit: Vec<f64>,
    /// A shift that serves every exponential when all logits are known to
    /// lie within 700 of it (cosine: |s| <= 1, so 1/tau when 2/tau <= 700);
    /// each exponential is then computed once for its row and its column.
    fixed_shift: Option<f64>,
    /// Float32 tiles may take their exponentials in float32: set when the
    /// fixed shift's span keeps every term a normal float32 (see
    /// [`fold32`](Pass::fold32)).
    exp32: bool,
    /// The token of AVX2 + FMA where the CPU has both and the caller did
    /// not ask for the portable code: the hand-vectorized code runs with it.
    cpu: Option<Avx2Fma>,
}

/// What the pass found: per row of each side, the log-sum-exp over the
/// candidates that are neither the row itself nor one of its positives, and
/// per record the count of candidates scoring above its positive.
pub struct PassOut {
    pub lse_a: Vec<Lse>,
    pub lse_b: Vec<Lse>,
    pub above: Vec<u64>,
}

/// How a tile's dot product g of rows i (of `a`) and j (of `b`) becomes a
/// logit: `(g * row[i]) * col[j]`. Normally `row[i] = scale_i / tau` and
/// `col[j] = scale_j`. At a tau so small that `scale_i / tau` or
/// `g * scale_i / tau` could overflow (cosine rows far from unit norm at
/// tau 1e-298, or dot products at a tau below 1e-308), 1/tau is split
/// between the two, `1/sqrt(tau)` each: every intermediate then stays below
/// the logit's own bound (1e300) or the square root of its factors'.
pub struct Scaling {
    pub row: Vec<f64>,
    pub col: Vec<f64>,
}

impl Scaling {
    /// Intermediates above this count as overflowing.
    const LIMIT: f64 = 1e300;

    pub fn new<T>(a: &Side<'_, T>, b: &Side<'_, T>, tau: f64) -> Scaling {
        let inv_tau = 1.0 / tau;
        let max = |v: &[f64]| v.iter().fold(0.0f64, |m, &x| m.max(x));
        // |g * scale_i| <= |x_i| |y_j| scale_i = size_i |y_j|, and
        // |y_j| = size_j / scale_j.
        let largest_y = b
            .size
            .iter()
            .zip(&b.scale)
            .fold(0.0f64, |m, (&s, &c)| m.max(s / c));
        let row_max = max(&a.scale) * inv_tau;
        let g_row_max = max(&a.size) * largest_y * inv_tau;
        let (row_f, col_f) = if row_max <= Self::LIMIT && g_row_max <= Self::LIMIT {
            (inv_tau, 1.0)
        } else {
            let f = 1.0 / tau.sqrt();
            (f, f)
        };
        Scaling {
            row: a.scale.iter().map(|s| s * row_f).collect(),
            col: b.scale.iter().map(|s| s * col_f).collect(),
        }
    }
}

/// What a pass is built for: the fused pass needs every record's positive
/// similarity, a listing of terms does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Terms,
}

impl<'p, 'a, S: Stored> Pass<'p, 'a, S> {
    /// The pass over `a`'s anchors and `b`'s candidates (`a`'s own in the
    /// one-file layouts), for the records of `layout`; with
    /// [`Purpose::Run`] it also computes every record's positive similarity
    /// (in parallel, on the caller's pool).
    pub fn new(
        a: &'p Side<'a, S>,
        b: Option<&'p Side<'a, S>>,
        layout: &Layout,
        settings: &Settings,
        purpose: Purpose,
    ) -> Self {
        let records = &layout.records;
        let one_file = layout.one_file();
        let fwd: Vec<(usize, usize, usize)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.backward)
            .map(|(k, r)| (r.anchor, r.positive, k))
            .collect();
        let bwd: Vec<(usize, usize, usize)> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.backward)
            .map(|(k, r)| (r.anchor, r.positive, k))
            .collect();
        let n_a = a.m.nrows();
        let n_b = b.map_or(n_a, |b| b.m.nrows());
        let anchors = |rows: usize, other: usize, list: &[(usize, usize, usize)]| {
            let records = Csr::build(rows, list.iter().map(|&(a, _, k)| (a, k)));
            let positives = Csr::build(rows, list.iter().map(|&(a, q, _)| (a, q))).sorted_unique();
            let pairs = (0..rows).flat_map(|a| positives.get(a).iter().map(move |&q| (q, a)));
            let reverse = Csr::build(other, pairs.collect::<Vec<_>>().into_iter());
            Anchors {
                records,
                positives,
                reverse,
            }
        };
        let b = b.unwrap_or(a);
        let col = if one_file {
            Some(anchors(n_a, n_a, &fwd))
        } else if bwd.is_empty() {
            None
        } else {
            Some(anchors(n_b, n_a, &bwd))
        };
        let tau = settings.tau;
        let fixed_shift = (settings.similarity == Similarity::Cosine
            && 2.0 / tau <= FIXED_SHIFT_SPAN)
            .then_some(1.0 / tau);
        let scaling = Scaling::new(a, b, tau);
        let positive_sim: Vec<f64> = match purpose {
            Purpose::Run => records
                .par_iter()
                .map(|r| {
                    if r.backward {
                        precise_sim(a, b, r.positive, r.anchor)
                    } else {
                        precise_sim(a, b, r.anchor, r.positive)
                    }
                })
                .collect(),
            Purpose::Terms => Vec::new(),
        };
        Pass {
            a,
            b,
            one_file,
            inv_tau: 1.0 / tau,
            tau,
            row_scale: scaling.row,
            col_scale: scaling.col,
            block: settings.block.max(1),
            fwd: anchors(n_a, n_b, &fwd),
            col,
            positive: records.iter().map(|r| r.positive).collect(),
            positive_logit: positive_sim.iter().map(|s| s / tau).collect(),
            positive_sim,
            fixed_shift,
            exp32: fixed_shift.is_some() && 2.0 / tau <= EXP32_SPAN,
            cpu: if settings.portable {
                None
            } else {
                Avx2Fma::detect()
            },
        }
    }

    /// The similarity of row `i` of `a` and row `j` of `b`, summed in float64
    /// in index order. Positives and near-ties use it, so that equal rows give
    /// equal numbers.
    pub fn precise_sim(&self, i: usize, j: usize) -> f64 {
        precise_sim(self.a, self.b, i, j)
    }

    pub fn precise_logit(&self, i: usize, j: usize) -> f64 {
        self.precise_sim(i, j) / self.tau
    }
}

/// The similarity of row `i` of `a` and row `j` of `b`, summed in float64 in
/// index order.
fn precise_sim<S: Stored>(a: &Side<'_, S>, b: &Side<'_, S>, i: usize, j: usize) -> f64 {
    let x = a.m.row(i);
    let y = b.m.row(j);
    let dot: f64 = x
        .iter()
        .zip(y.iter())
        .map(|(&p, &q)| Into::<f64>::into(p) * Into::<f64>::into(q))
        .sum();
    // One product of the two scales, so that s(i, j) == s(j, i) exactly.
    dot * (a.scale[i] * b.scale[j])
}
