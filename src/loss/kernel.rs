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

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayView2, s};
use rayon::prelude::*;

use super::exp::{Lse, exp_nonpos, max_of};

/// An element type the pass can multiply: float32 or float64.
pub trait Element: bytemuck::Pod + Into<f64> + Send + Sync + Default + 'static {
    /// Unit roundoff of the type's arithmetic (2^-24 or 2^-53).
    const UNIT_ROUNDOFF: f64;
    const ONE: Self;
}

impl Element for f32 {
    const UNIT_ROUNDOFF: f64 = 5.960_464_477_539_063e-8;
    const ONE: f32 = 1.0;
}

impl Element for f64 {
    const UNIT_ROUNDOFF: f64 = 1.110_223_024_625_156_5e-16;
    const ONE: f64 = 1.0;
}

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

    fn any_in(&self, lo: usize, hi: usize) -> bool {
        self.start[lo] != self.start[hi]
    }
}

/// Width of the tie window in units of (d + 2) float64 epsilons.
pub const TIE_ULPS: f64 = 2.0;

/// One file's rows with what the pass needs to know of each.
pub struct Side<'a, T> {
    pub m: ArrayView2<'a, T>,
    /// Multiplier that turns a dot product into the similarity: 1/|x| for
    /// cosine, 1 for dot.
    pub scale: Vec<f64>,
    /// |x| * scale: 1 for cosine, |x| for dot. Bounds the product's rounding.
    pub size: Vec<f64>,
}

/// Anchors whose candidates lie on the other side of the tile.
pub struct Anchors {
    /// Record ids of each anchor row.
    pub records: Csr,
    /// Distinct positives of each anchor row (rows of the other side).
    pub positives: Csr,
}

/// Everything the pass reads.
pub struct Pass<'p, 'a, T> {
    /// Rows of the tiles: anchors of forward records.
    pub a: &'p Side<'a, T>,
    /// Columns of the tiles: candidates of forward records. In one-file
    /// layouts this is the same side as `a`.
    pub b: &'p Side<'a, T>,
    pub one_file: bool,
    pub inv_tau: f64,
    pub tau: f64,
    pub block: usize,
    /// Forward anchors (rows of `a`).
    pub fwd: Anchors,
    /// Anchors of the column fold: in one-file layouts the forward anchors
    /// again; in the keys layout the key-to-query anchors (rows of `b`).
    pub col: Option<Anchors>,
    /// Each record's positive logit, from [`Pass::precise_logit`].
    pub positive_logit: Vec<f64>,
}

/// What the pass found: per row of each side, the log-sum-exp over the
/// candidates that are neither the row itself nor one of its positives, and
/// per record the count of candidates scoring above its positive.
pub struct PassOut {
    pub lse_a: Vec<Lse>,
    pub lse_b: Vec<Lse>,
    pub above: Vec<u64>,
}

struct TaskOut {
    rows: Vec<Lse>,
    /// Column partials of this row block, indexed by column block.
    cols: Vec<Option<Vec<Lse>>>,
}

struct Buffers<T> {
    g: Vec<T>,
    l: Vec<f64>,
    colmax: Vec<f64>,
    colsum: Vec<f64>,
    hi: Vec<f64>,
    lo: Vec<f64>,
    above: Vec<u64>,
    near: Vec<u64>,
    saved: Vec<(usize, f64)>,
}

impl<T: Element> Pass<'_, '_, T> {
    /// The similarity of row `i` of `a` and row `j` of `b`, summed in float64
    /// in index order. Positives and near-ties use it, so that equal rows give
    /// equal numbers.
    pub fn precise_sim(&self, i: usize, j: usize) -> f64 {
        let x = self.a.m.row(i);
        let y = self.b.m.row(j);
        let dot: f64 = x
            .iter()
            .zip(y.iter())
            .map(|(&p, &q)| Into::<f64>::into(p) * Into::<f64>::into(q))
            .sum();
        // One product of the two scales, so that s(i, j) == s(j, i) exactly.
        dot * (self.a.scale[i] * self.b.scale[j])
    }

    pub fn precise_logit(&self, i: usize, j: usize) -> f64 {
        self.precise_sim(i, j) / self.tau
    }

    /// Whether candidate j (of `b`) scores above a positive whose logit is
    /// `lp`, anchor i (of `a`). Logits closer than the float64 rounding bound
    /// of the similarity count as a tie, and ties favour the positive: two
    /// rows equal in exact arithmetic never outrank each other.
    fn scores_above(&self, i: usize, j: usize, lp: f64) -> bool {
        self.precise_logit(i, j) > lp + self.tie_window(self.a.size[i] * self.b.size[j])
    }

    /// The float64 rounding bound of a logit whose rows have `size` |x||y|
    /// (1 under cosine).
    fn tie_window(&self, size: f64) -> f64 {
        let d = self.a.m.ncols() as f64;
        TIE_ULPS * (d + 2.0) * f64::EPSILON * size * self.inv_tau
    }

    fn blocks(n: usize, block: usize) -> usize {
        n.div_ceil(block)
    }

    /// Runs the pass; `progress` is called with the number of tiles done.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> PassOut {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let above: Vec<AtomicU64> = (0..self.positive_logit.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        let tasks: Vec<TaskOut> = (0..nbi)
            .into_par_iter()
            .with_max_len(1)
            .map(|bi| self.row_block(bi, nbj, &above, progress))
            .collect();

        // Merge in a fixed order: a row's own tiles left to right, then the
        // column partials from the row blocks above it, top to bottom.
        let mut lse_a = Vec::with_capacity(n_a);
        for (bi, t) in tasks.iter().enumerate() {
            for (k, &own) in t.rows.iter().enumerate() {
                let mut acc = own;
                if self.one_file {
                    for above_task in &tasks[..bi] {
                        if let Some(c) = &above_task.cols[bi] {
                            acc = acc.merge(c[k]);
                        }
                    }
                }
                lse_a.push(acc);
            }
        }
        let mut lse_b = Vec::new();
        if !self.one_file && self.col.is_some() {
            lse_b.reserve(n_b);
            for bj in 0..nbj {
                let width = (n_b - bj * self.block).min(self.block);
                for k in 0..width {
                    let mut acc = Lse::EMPTY;
                    for t in &tasks {
                        if let Some(c) = &t.cols[bj] {
                            acc = acc.merge(c[k]);
                        }
                    }
                    lse_b.push(acc);
                }
            }
        }
        PassOut {
            lse_a,
            lse_b,
            above: above.into_iter().map(AtomicU64::into_inner).collect(),
        }
    }

    /// Number of tiles [`Pass::run`] computes (for progress bars).
    pub fn tile_count(&self) -> u64 {
        let nbi = Self::blocks(self.a.m.nrows(), self.block) as u64;
        let nbj = Self::blocks(self.b.m.nrows(), self.block) as u64;
        if self.one_file {
            nbi * (nbi + 1) / 2
        } else {
            nbi * nbj
        }
    }

    fn row_block(
        &self,
        bi: usize,
        nbj: usize,
        above: &[AtomicU64],
        progress: &(dyn Fn(u64) + Sync),
    ) -> TaskOut {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut out = TaskOut {
            rows: vec![Lse::EMPTY; i1 - i0],
            cols: vec![None; nbj],
        };
        let mut buf = Buffers {
            g: vec![T::default(); b * b],
            l: vec![0.0; b * b],
            colmax: vec![0.0; b],
            colsum: vec![0.0; b],
            hi: vec![0.0; b],
            lo: vec![0.0; b],
            above: vec![0; b],
            near: vec![0; b],
            saved: Vec::new(),
        };
        let rows_have_anchors = self.fwd.records.any_in(i0, i1);
        let first = if self.one_file { bi } else { 0 };
        for bj in first..nbj {
            let j0 = bj * b;
            let j1 = (j0 + b).min(self.b.m.nrows());
            let diagonal = self.one_file && bi == bj;
            let cols_have_anchors =
                !diagonal && self.col.as_ref().is_some_and(|c| c.records.any_in(j0, j1));
            if rows_have_anchors || cols_have_anchors {
                self.tile(i0, i1, j0, j1, diagonal, &mut buf);
                if rows_have_anchors {
                    self.fold_rows(i0, j0, j1, &mut buf, &mut out.rows, above);
                }
                if cols_have_anchors {
                    out.cols[bj] = Some(self.fold_cols(i0, i1, j0, j1, &mut buf, above));
                }
            }
            progress(1);
        }
        out
    }

    /// Fills `buf.l` with the logits of rows i0..i1 against columns j0..j1.
    fn tile(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        diagonal: bool,
        buf: &mut Buffers<T>,
    ) {
        let (bi, bj) = (i1 - i0, j1 - j0);
        let d = self.a.m.ncols();
        let a = self.a.m.slice(s![i0..i1, ..]);
        let c = self.b.m.slice(s![j0..j1, ..]);
        let (ars, acs) = (a.strides()[0], a.strides()[1]);
        let (crs, ccs) = (c.strides()[0], c.strides()[1]);
        // SAFETY: the pointers and strides come from ndarray views of bi x d
        // and bj x d elements; the destination holds bi x bj elements laid
        // out row-major with row stride bj.
        unsafe {
            gemm::gemm(
                bi,
                bj,
                d,
                buf.g.as_mut_ptr(),
                1,
                bj as isize,
                false,
                a.as_ptr(),
                acs,
                ars,
                c.as_ptr(),
                crs,
                ccs,
                T::default(),
                T::ONE,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        let col_scale = &self.b.scale[j0..j1];
        for ii in 0..bi {
            let rs = self.a.scale[i0 + ii] * self.inv_tau;
            let g = &buf.g[ii * bj..(ii + 1) * bj];
            let l = &mut buf.l[ii * bj..(ii + 1) * bj];
            for ((l, &g), &cs) in l.iter_mut().zip(g).zip(col_scale) {
                *l = Into::<f64>::into(g) * rs * cs;
            }
            if diagonal {
                l[ii] = f64::NEG_INFINITY;
            }
        }
    }

    /// Bound on |tile logit - precise logit| for row `i` against columns j0..j1.
    fn tolerance(&self, size_i: f64, j0: usize, j1: usize) -> f64 {
        let d = self.a.m.ncols() as f64;
        let size_j = max_of(&self.b.size[j0..j1]).max(0.0);
        self.window(d, size_i * size_j)
    }

    /// The product's rounding bound plus the tie window: a tile logit outside
    /// lp +- this is decided without a float64 recheck.
    fn window(&self, d: f64, size: f64) -> f64 {
        2.0 * (d + 4.0) * T::UNIT_ROUNDOFF * size * self.inv_tau + 2.0 * self.tie_window(size)
    }

    #[allow(clippy::too_many_arguments)]
    fn fold_rows(
        &self,
        i0: usize,
        j0: usize,
        j1: usize,
        buf: &mut Buffers<T>,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) {
        let bj = j1 - j0;
        for (ii, acc) in rows.iter_mut().enumerate() {
            let i = i0 + ii;
            let recs = self.fwd.records.get(i);
            if recs.is_empty() {
                continue;
            }
            let row = &mut buf.l[ii * bj..(ii + 1) * bj];
            let tol = self.tolerance(self.a.size[i], j0, j1);
            for &r in recs {
                let lp = self.positive_logit[r];
                let (hi, lo) = (lp + tol, lp - tol);
                let mut n_above = 0u64;
                let mut n_near = 0u64;
                for &x in row.iter() {
                    n_above += (x > hi) as u64;
                    n_near += ((x >= lo) & (x <= hi)) as u64;
                }
                if n_near > 0 {
                    for (jj, &x) in row.iter().enumerate() {
                        if x >= lo && x <= hi && self.scores_above(i, j0 + jj, lp) {
                            n_above += 1;
                        }
                    }
                }
                if n_above > 0 {
                    above[r].fetch_add(n_above, Ordering::Relaxed);
                }
            }
            buf.saved.clear();
            for &q in self.fwd.positives.get(i) {
                if (j0..j1).contains(&q) {
                    buf.saved.push((q - j0, row[q - j0]));
                    row[q - j0] = f64::NEG_INFINITY;
                }
            }
            *acc = acc.merge(Lse::of_slice(row));
            for &(k, v) in &buf.saved {
                row[k] = v;
            }
        }
    }

    /// Folds the tile down its columns for the column-side anchors.
    fn fold_cols(
        &self,
        i0: usize,
        i1: usize,
        j0: usize,
        j1: usize,
        buf: &mut Buffers<T>,
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        let col = self.col.as_ref().expect("checked by the caller");
        let (bi, bj) = (i1 - i0, j1 - j0);
        // Rank counts, one pass per slot (the k-th record of each column).
        let slots = (j0..j1)
            .map(|j| col.records.get(j).len())
            .max()
            .unwrap_or(0);
        for slot in 0..slots {
            for jj in 0..bj {
                let j = j0 + jj;
                match col.records.get(j).get(slot) {
                    Some(&r) => {
                        let lp = self.positive_logit[r];
                        let tol = self.tolerance_col(j, i0, i1);
                        buf.hi[jj] = lp + tol;
                        buf.lo[jj] = lp - tol;
                    }
                    None => {
                        buf.hi[jj] = f64::INFINITY;
                        buf.lo[jj] = f64::INFINITY;
                    }
                }
                buf.above[jj] = 0;
                buf.near[jj] = 0;
            }
            for ii in 0..bi {
                let row = &buf.l[ii * bj..(ii + 1) * bj];
                let bounds = buf.hi[..bj].iter().zip(&buf.lo[..bj]);
                let counts = buf.above[..bj].iter_mut().zip(&mut buf.near[..bj]);
                for ((&x, (&hi, &lo)), (above, near)) in row.iter().zip(bounds).zip(counts) {
                    *above += (x > hi) as u64;
                    *near += ((x >= lo) & (x <= hi)) as u64;
                }
            }
            for jj in 0..bj {
                let j = j0 + jj;
                let Some(&r) = col.records.get(j).get(slot) else {
                    continue;
                };
                let mut n = buf.above[jj];
                if buf.near[jj] > 0 {
                    let lp = self.positive_logit[r];
                    for ii in 0..bi {
                        let x = buf.l[ii * bj + jj];
                        if x >= buf.lo[jj] && x <= buf.hi[jj] && self.scores_above(i0 + ii, j, lp) {
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    above[r].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        // Mask each column's positives, then a max and a shifted sum per column.
        buf.saved.clear();
        for jj in 0..bj {
            for &q in col.positives.get(j0 + jj) {
                if (i0..i1).contains(&q) {
                    let k = (q - i0) * bj + jj;
                    buf.saved.push((k, buf.l[k]));
                    buf.l[k] = f64::NEG_INFINITY;
                }
            }
        }
        let colmax = &mut buf.colmax[..bj];
        colmax.fill(f64::NEG_INFINITY);
        for ii in 0..bi {
            let row = &buf.l[ii * bj..(ii + 1) * bj];
            for (m, &x) in colmax.iter_mut().zip(row) {
                *m = if x > *m { x } else { *m };
            }
        }
        // An all-masked column keeps max -inf; shift it by 0 so exp gives 0.
        for m in colmax.iter_mut() {
            if *m == f64::NEG_INFINITY {
                *m = 0.0;
            }
        }
        let colsum = &mut buf.colsum[..bj];
        colsum.fill(0.0);
        for ii in 0..bi {
            let row = &buf.l[ii * bj..(ii + 1) * bj];
            for ((s, &x), &m) in colsum.iter_mut().zip(row).zip(colmax.iter()) {
                *s += exp_nonpos(x - m);
            }
        }
        for &(k, v) in &buf.saved {
            buf.l[k] = v;
        }
        colmax
            .iter()
            .zip(colsum.iter())
            .map(|(&max, &sum)| {
                if sum == 0.0 {
                    Lse::EMPTY
                } else {
                    Lse { max, sum }
                }
            })
            .collect()
    }

    fn tolerance_col(&self, j: usize, i0: usize, i1: usize) -> f64 {
        let d = self.a.m.ncols() as f64;
        let size_i = max_of(&self.a.size[i0..i1]).max(0.0);
        self.window(d, size_i * self.b.size[j])
    }
}
