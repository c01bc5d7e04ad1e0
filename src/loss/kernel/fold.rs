//! The folds: a tile's dot products become logits, rank counts and
//! exponentials summed into each anchor's running log-sum-exp, a row at a
//! time (the row fold) and down the columns (the column fold).

use std::sync::atomic::AtomicU64;

use super::element::{Element, Stored};
use super::schedule::Tile;
use super::{Anchors, MAIN, Pass, Temp};
use crate::loss::cpu::{Avx2Fma, Avx512, Fused, Madd, Portable};
use crate::loss::exp::{Lse, exp, exp32, max_of, sum_lanes};
use crate::loss::rows32;

/// Sets `v[q - j0]` to `value` for each `q` of `at` inside `v`.
#[inline(always)]
fn mask(v: &mut [f64], at: &[usize], j0: usize, value: f64) {
    for &q in at {
        if let Some(x) = q.checked_sub(j0).and_then(|k| v.get_mut(k)) {
            *x = value;
        }
    }
}

/// Scratch space of one worker, reused across its tiles.
pub(super) struct Buffers {
    /// One row of logits.
    l: Vec<f64>,
    /// One row of exponentials.
    e: Vec<f64>,
    /// Per column: the shift of its exponentials in this tile.
    colshift: Vec<f64>,
    /// Per column: the sum of its shifted exponentials in this tile.
    colsum: Vec<f64>,
    /// Per column: its maximum logit in this tile.
    colmax: Vec<f64>,
    saved: Vec<(usize, f64)>,
    /// Float32 counterparts of `l`, `e`, the column scales and `colmax`.
    l32: Vec<f32>,
    e32: Vec<f32>,
    cs32: Vec<f32>,
    colmax32: Vec<f32>,
    /// Entries masked in a float32 row: (column, row's positive, column
    /// anchor's positive), in the order they are added back.
    masked: Vec<(usize, bool, bool)>,
    /// Their columns in increasing order, as the row fold takes them.
    masked_at: Vec<usize>,
}

impl Buffers {
    /// Scratch for tiles of at most `b` columns.
    pub(super) fn new(b: usize) -> Buffers {
        Buffers {
            l: vec![0.0; b],
            e: vec![0.0; b],
            colshift: vec![0.0; b],
            colsum: vec![0.0; b],
            colmax: vec![0.0; b],
            saved: Vec::new(),
            l32: vec![0.0; b],
            e32: vec![0.0; b],
            cs32: vec![0.0; b],
            colmax32: vec![0.0; b],
            masked: Vec::new(),
            masked_at: Vec::new(),
        }
    }
}

impl<S: Stored> Pass<'_, '_, S> {
    /// Runs the fold compiled for AVX-512 or for AVX2 and FMA where the pass
    /// holds the AVX2 token (AVX-512 where the CPU also has it), and the
    /// portable build elsewhere. The choice does not depend on the threads,
    /// so a run gives the same bits for any number; the AVX-512 and AVX2
    /// builds give the same bits as each other.
    pub(super) fn fold_dispatch(
        &self,
        tp: &Temp,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        match self.cpu {
            Some(cpu) => match cpu.avx512() {
                Some(wide) => self.fold_avx512(tp, wide, t, g, buf, rows, above),
                None => self.fold_avx2(tp, cpu, t, g, buf, rows, above),
            },
            None => self.fold_any(tp, Portable, t, g, buf, rows, above),
        }
    }

    /// The fold compiled for AVX-512 (with AVX2 and FMA): the float32 row
    /// loop sixteen lanes wide.
    #[allow(clippy::too_many_arguments)]
    fn fold_avx512(
        &self,
        tp: &Temp,
        cpu: Avx512,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn compiled<S: Stored>(
                pass: &Pass<'_, '_, S>,
                tp: &Temp,
                cpu: Avx512,
                t: &Tile,
                g: &[S::Tile],
                buf: &mut Buffers,
                rows: &mut [Lse],
                above: &[AtomicU64],
            ) -> Vec<Lse> {
                pass.fold_any(tp, cpu, t, g, buf, rows, above)
            }
            // SAFETY: the token exists only where the CPU has AVX-512F, AVX2
            // and FMA.
            unsafe { compiled(self, tp, cpu, t, g, buf, rows, above) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        match cpu.avx2().never {}
    }

    /// The fold compiled for AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    fn fold_avx2(
        &self,
        tp: &Temp,
        cpu: Avx2Fma,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn compiled<S: Stored>(
                pass: &Pass<'_, '_, S>,
                tp: &Temp,
                cpu: Avx2Fma,
                t: &Tile,
                g: &[S::Tile],
                buf: &mut Buffers,
                rows: &mut [Lse],
                above: &[AtomicU64],
            ) -> Vec<Lse> {
                pass.fold_any(tp, cpu, t, g, buf, rows, above)
            }
            // SAFETY: the token exists only where the CPU has AVX2 and FMA.
            unsafe { compiled(self, tp, cpu, t, g, buf, rows, above) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        match cpu.never {}
    }

    /// The float32 fold where it applies, the general one otherwise.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fold_any<C: Cpu>(
        &self,
        tp: &Temp,
        cpu: C,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        if tp.exp32
            && let (Some(shift), Some(g)) = (tp.fixed_shift, <S::Tile>::as_f32(g))
        {
            return self.fold32(tp, cpu, t, g, shift as f32, buf, rows, above);
        }
        self.fold::<C::Madd>(tp, t, g, buf, rows, above)
    }

    /// Folds one tile, a row at a time: the row's logits, its rank counts
    /// and those of the columns, its exponentials into the row's partial sum
    /// and into the columns' sums. Everything a row needs stays in L1.
    #[inline(always)]
    fn fold<M: Madd>(
        &self,
        tp: &Temp,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        let bj = t.j1 - t.j0;
        let d = self.a.m.ncols() as f64;
        let (cand, col_scale) = (self.cand(t.side), tp.col(t.side));
        let col_scale = &col_scale[t.j0..t.j1];
        let col = self.col.as_ref().filter(|_| t.cols);
        let Buffers {
            l,
            e,
            colshift,
            colsum,
            colmax,
            saved,
            ..
        } = buf;
        let (l, e) = (&mut l[..bj], &mut e[..bj]);
        let (colshift, colsum, colmax) =
            (&mut colshift[..bj], &mut colsum[..bj], &mut colmax[..bj]);

        if let Some(col) = col {
            if tp.fixed_shift.is_none() {
                self.column_shifts(tp, t, col, g, l, colshift);
            }
            colsum.fill(0.0);
            colmax.fill(f64::NEG_INFINITY);
        }
        let size_j = max_of(&cand.size[t.j0..t.j1]).max(0.0);
        for (ii, acc) in rows.iter_mut().enumerate().take(t.i1 - t.i0) {
            let i = t.i0 + ii;
            self.logit_row(tp, t, ii, g, col_scale, l);
            let row_recs = if t.rows { self.fwd.records.get(i) } else { &[] };

            let tol = self.window(tp, d, self.a.size[i] * size_j);
            self.row_ranks(tp, t, i, row_recs, l, max_of(l), tol, above);
            // The columns' maxima, to find the few columns that need counting.
            if col.is_some() {
                for (m, &x) in colmax.iter_mut().zip(l.iter()) {
                    *m = m.max(x);
                }
            }

            // The row's partial sum, without its positives, then the
            // columns' sums, without the entries where row i is the column
            // anchor's positive. With a fixed shift one exponential serves both.
            match tp.fixed_shift {
                Some(shift) => {
                    for (ex, &x) in e.iter_mut().zip(l.iter()) {
                        *ex = exp::<M>(x - shift);
                    }
                    if !row_recs.is_empty() {
                        let sum = self.sum_without(e, self.row_positives(t, i), t.j0, saved);
                        *acc = acc.merge(Lse { max: shift, sum });
                    }
                    if let Some(col) = col {
                        mask(e, col.reverse.get(i), t.j0, 0.0);
                        for (s, &ex) in colsum.iter_mut().zip(e.iter()) {
                            *s += ex;
                        }
                    }
                }
                None => {
                    if !row_recs.is_empty() {
                        saved.clear();
                        for &q in self.row_positives(t, i) {
                            if (t.j0..t.j1).contains(&q) {
                                saved.push((q - t.j0, l[q - t.j0]));
                                l[q - t.j0] = f64::NEG_INFINITY;
                            }
                        }
                        let shift = max_of(l);
                        if shift > f64::NEG_INFINITY {
                            for (ex, &x) in e.iter_mut().zip(l.iter()) {
                                *ex = exp::<M>(x - shift);
                            }
                            *acc = acc.merge(Lse {
                                max: shift,
                                sum: sum_lanes(e),
                            });
                        }
                        for &(k, v) in saved.iter() {
                            l[k] = v;
                        }
                    }
                    if let Some(col) = col {
                        mask(l, col.reverse.get(i), t.j0, f64::NEG_INFINITY);
                        for ((s, &x), &m) in colsum.iter_mut().zip(l.iter()).zip(colshift.iter()) {
                            *s += exp::<M>(x - m);
                        }
                    }
                }
            }
        }

        let Some(col) = col else {
            return Vec::new();
        };
        self.column_ranks(
            tp,
            t,
            col,
            |jj| colmax[jj],
            |ii, jj| {
                // The same expression as `logit_row`, so the same bits.
                let rs = tp.row_scale[t.i0 + ii];
                Into::<f64>::into(g[ii * bj + jj]) * rs * col_scale[jj]
            },
            above,
        );
        colshift
            .iter()
            .zip(colsum.iter())
            .map(|(&m, &sum)| {
                let max = tp.fixed_shift.unwrap_or(m);
                if sum == 0.0 {
                    Lse::EMPTY
                } else {
                    Lse { max, sum }
                }
            })
            .collect()
    }

    /// The fold of a float32 tile under a fixed shift, all in float32 lanes
    /// but the sums: logits are `(g * rs) * cs` with `rs = scale_i / tau` and
    /// `cs = scale_j` rounded to float32, exponentials come from [`exp32`]
    /// and are summed in float64. Both roundings stay far inside the float32
    /// product's own error, and the logits' inside the window that sends
    /// near-ties to the float64 recheck. The caller sets `exp32` only when
    /// 2/tau <= 80, so every shifted logit is above -80 (minus the product's
    /// rounding) and no term underflows the float32 floor of -87.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn fold32<C: Cpu>(
        &self,
        tp: &Temp,
        cpu: C,
        t: &Tile,
        g: &[f32],
        shift: f32,
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        let bj = t.j1 - t.j0;
        let d = self.a.m.ncols() as f64;
        let col = self.col.as_ref().filter(|_| t.cols);
        let Buffers {
            colsum,
            l32,
            e32,
            cs32,
            colmax32,
            masked,
            masked_at,
            ..
        } = buf;
        let (l, e, cs, colsum, colmax) = (
            &mut l32[..bj],
            &mut e32[..bj],
            &mut cs32[..bj],
            &mut colsum[..bj],
            &mut colmax32[..bj],
        );
        let (cand, col_scale) = (self.cand(t.side), tp.col(t.side));
        for (c, &s) in cs.iter_mut().zip(&col_scale[t.j0..t.j1]) {
            *c = s as f32;
        }
        if col.is_some() {
            colsum.fill(0.0);
            colmax.fill(f32::NEG_INFINITY);
        }
        let size_j = max_of(&cand.size[t.j0..t.j1]).max(0.0);
        for (ii, acc) in rows.iter_mut().enumerate().take(t.i1 - t.i0) {
            let i = t.i0 + ii;
            let row_recs = if t.rows { self.fwd.records.get(i) } else { &[] };

            // The row's positives stay out of its own sum, and the entries
            // where row i is the column anchor's positive out of the column
            // sums: the row fold leaves both out of both, and what only one
            // leaves out is added back below.
            masked.clear();
            let positives = if row_recs.is_empty() {
                &[][..]
            } else {
                self.row_positives(t, i)
            };
            let reverse = col.map_or(&[][..], |c| c.reverse.get(i));
            for (&q, row_side) in positives
                .iter()
                .map(|q| (q, true))
                .chain(reverse.iter().map(|q| (q, false)))
            {
                let Some(k) = q.checked_sub(t.j0).filter(|&k| k < bj) else {
                    continue;
                };
                match masked.iter_mut().find(|m| m.0 == k) {
                    Some(m) => {
                        m.1 |= row_side;
                        m.2 |= !row_side;
                    }
                    None => masked.push((k, row_side, !row_side)),
                }
            }
            masked_at.clear();
            masked_at.extend(masked.iter().map(|m| m.0));
            masked_at.sort_unstable();

            // Logits, maxima and exponential sums in one sweep of the row;
            // the row meets itself on diagonal tiles (which have no column
            // fold), and that logit is -inf.
            let row = rows32::Row {
                g: &g[ii * bj..(ii + 1) * bj],
                rs: tp.row_scale[i] as f32,
                cs,
                shift,
                own: t.diagonal.then_some(ii),
                masked: masked_at,
            };
            let (row_max, mut sum) = cpu.fold_row(
                row,
                l,
                e,
                col.is_some().then_some(&mut *colmax),
                col.is_some().then_some(&mut *colsum),
            );
            let tol = self.window(tp, d, self.a.size[i] * size_j);
            self.row_ranks(tp, t, i, row_recs, l, row_max as f64, tol, above);

            for &(k, row_side, col_side) in masked.iter() {
                let ex = exp32::<C::Madd>(l[k] - shift) as f64;
                if !row_side {
                    sum += ex;
                }
                if !col_side && col.is_some() {
                    colsum[k] += ex;
                }
            }
            if !row_recs.is_empty() {
                *acc = acc.merge(Lse {
                    max: shift as f64,
                    sum,
                });
            }
        }

        let Some(col) = col else {
            return Vec::new();
        };
        self.column_ranks(
            tp,
            t,
            col,
            |jj| colmax[jj] as f64,
            |ii, jj| {
                // The same expression as the row's logits, so the same bits.
                let rs = tp.row_scale[t.i0 + ii] as f32;
                rows32::logit(g[ii * bj + jj], rs, cs[jj]) as f64
            },
            above,
        );
        colsum
            .iter()
            .map(|&sum| {
                if sum == 0.0 {
                    Lse::EMPTY
                } else {
                    Lse {
                        max: shift as f64,
                        sum,
                    }
                }
            })
            .collect()
    }

    /// The sum of `e` leaving out the entries at `skip` (indices of the
    /// whole side, offset by `j0`), which are restored afterwards.
    #[inline(always)]
    fn sum_without(
        &self,
        e: &mut [f64],
        skip: &[usize],
        j0: usize,
        saved: &mut Vec<(usize, f64)>,
    ) -> f64 {
        saved.clear();
        for &q in skip {
            if let Some(v) = q.checked_sub(j0).and_then(|k| e.get_mut(k)) {
                saved.push((q - j0, *v));
                *v = 0.0;
            }
        }
        let sum = sum_lanes(e);
        for &(k, v) in saved.iter() {
            e[k] = v;
        }
        sum
    }

    /// The positives of row i's anchor that lie on the tile's candidate
    /// side: those of the main side; none on an extra side.
    #[inline(always)]
    fn row_positives(&self, t: &Tile, i: usize) -> &[usize] {
        if t.side == MAIN {
            self.fwd.positives.get(i)
        } else {
            &[]
        }
    }

    /// Row ii of the tile's logits into `l`; the anchor itself is -inf.
    #[inline(always)]
    fn logit_row(
        &self,
        tp: &Temp,
        t: &Tile,
        ii: usize,
        g: &[S::Tile],
        col_scale: &[f64],
        l: &mut [f64],
    ) {
        let bj = l.len();
        let rs = tp.row_scale[t.i0 + ii];
        let grow = &g[ii * bj..(ii + 1) * bj];
        for ((l, &g), &cs) in l.iter_mut().zip(grow).zip(col_scale) {
            *l = Into::<f64>::into(g) * rs * cs;
        }
        if t.diagonal {
            l[ii] = f64::NEG_INFINITY;
        }
    }

    /// Without a fixed shift, each column's shift is its maximum over the
    /// tile, leaving out the entries the column fold masks.
    #[inline(always)]
    fn column_shifts(
        &self,
        tp: &Temp,
        t: &Tile,
        col: &Anchors,
        g: &[S::Tile],
        l: &mut [f64],
        colshift: &mut [f64],
    ) {
        colshift.fill(f64::NEG_INFINITY);
        let col_scale = &tp.col_scale[t.j0..t.j1];
        for ii in 0..t.i1 - t.i0 {
            self.logit_row(tp, t, ii, g, col_scale, l);
            mask(l, col.reverse.get(t.i0 + ii), t.j0, f64::NEG_INFINITY);
            for (m, &x) in colshift.iter_mut().zip(l.iter()) {
                *m = m.max(x);
            }
        }
        // An all-masked column keeps -inf; shift it by 0 so exp gives 0.
        for m in colshift.iter_mut() {
            if *m == f64::NEG_INFINITY {
                *m = 0.0;
            }
        }
    }
}

/// The code a fold is built from: the portable form or, with the token that
/// proves the CPU has them, the AVX2 + FMA or the AVX-512 one.
trait Cpu: Copy {
    /// How the fold's exponentials compute a * b + c.
    type Madd: Madd;
    /// One float32 row of a tile ([`rows32::fold_row`]); `e` is scratch.
    fn fold_row(
        self,
        row: rows32::Row<'_>,
        l: &mut [f32],
        e: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64);
}

impl Cpu for Portable {
    type Madd = Portable;
    #[inline(always)]
    fn fold_row(
        self,
        row: rows32::Row<'_>,
        l: &mut [f32],
        e: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        rows32::fold_row::<Portable>(row, l, e, colmax, colsum)
    }
}

impl Cpu for Avx2Fma {
    type Madd = Fused;
    #[inline(always)]
    fn fold_row(
        self,
        row: rows32::Row<'_>,
        l: &mut [f32],
        e: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        #[cfg(target_arch = "x86_64")]
        {
            let _ = e; // the exponentials stay in registers
            rows32::avx2::fold_row(self, row, l, colmax, colsum)
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self.never {}
    }
}

impl Cpu for Avx512 {
    type Madd = Fused;
    #[inline(always)]
    fn fold_row(
        self,
        row: rows32::Row<'_>,
        l: &mut [f32],
        e: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        #[cfg(target_arch = "x86_64")]
        {
            let _ = e; // the exponentials stay in registers
            rows32::avx512::fold_row(self, row, l, colmax, colsum)
        }
        #[cfg(not(target_arch = "x86_64"))]
        match self.avx2().never {}
    }
}
