//! Ranks: how many candidates score above each record's positive, counted
//! from the tile logits where clear and rechecked in float64 where a
//! candidate is within rounding of the positive (ties favour the positive).

use std::sync::atomic::{AtomicU64, Ordering};

use super::element::{Element, Stored};
use super::schedule::Tile;
use super::{Anchors, MAIN, Pass, Temp, precise_sim};
use crate::loss::exp::max_of;

/// Width of the tie window in units of (d + 2) float64 epsilons.
pub const TIE_ULPS: f64 = 2.0;

impl<S: Stored> Pass<'_, '_, S> {
    /// Whether candidate j (of candidate side `side`) scores above a
    /// positive whose logit is `lp`, anchor i (of `a`). Logits closer than
    /// the float64 rounding bound of the similarity count as a tie, and ties
    /// favour the positive: two rows equal in exact arithmetic never outrank
    /// each other.
    pub(super) fn scores_above(&self, tp: &Temp, side: usize, i: usize, j: usize, lp: f64) -> bool {
        let cand = self.cand(side);
        precise_sim(self.a, cand, i, j) / tp.tau
            > lp + self.tie_window(tp, self.a.size[i] * cand.size[j])
    }

    /// The float64 rounding bound of a logit whose rows have `size` |x||y|
    /// (1 under cosine).
    fn tie_window(&self, tp: &Temp, size: f64) -> f64 {
        let d = self.a.m.ncols() as f64;
        tp.per_tau(TIE_ULPS * (d + 2.0) * f64::EPSILON * size)
    }

    /// Rank counts of row i's records from its tile logits `l`: only a row
    /// whose maximum reaches the positive needs counting.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn row_ranks<X: Copy + Into<f64>>(
        &self,
        tp: &Temp,
        t: &Tile,
        i: usize,
        records: &[usize],
        l: &[X],
        row_max: f64,
        tol: f64,
        above: &[AtomicU64],
    ) {
        for &r in records {
            let lp = tp.positive_logit[r];
            if row_max >= lp - tol {
                let n = self.count_above(l, lp, tol, |jj| {
                    // The positive never scores above itself.
                    (t.side != MAIN || t.j0 + jj != self.positive[r])
                        && self.scores_above(tp, t.side, i, t.j0 + jj, lp)
                });
                if n > 0 {
                    above[r].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// Rank counts of the column records, down the columns whose maximum
    /// (`colmax(jj)`) reaches their positive (in a trained model, few or
    /// none); `logit(ii, jj)` recomputes a tile logit as the row fold did.
    #[inline(always)]
    pub(super) fn column_ranks(
        &self,
        tp: &Temp,
        t: &Tile,
        col: &Anchors,
        colmax: impl Fn(usize) -> f64,
        logit: impl Fn(usize, usize) -> f64,
        above: &[AtomicU64],
    ) {
        let d = self.a.m.ncols() as f64;
        let size_i = max_of(&self.a.size[t.i0..t.i1]).max(0.0);
        for jj in 0..t.j1 - t.j0 {
            let j = t.j0 + jj;
            for &r in col.records.get(j) {
                let lp = tp.positive_logit[r];
                let tol = self.window(tp, d, size_i * self.b.size[j]);
                if colmax(jj) < lp - tol {
                    continue;
                }
                let mut n = 0;
                for ii in 0..t.i1 - t.i0 {
                    let x = logit(ii, jj);
                    if x > lp + tol
                        || (x >= lp - tol
                            && t.i0 + ii != self.positive[r]
                            && self.scores_above(tp, MAIN, t.i0 + ii, j, lp))
                    {
                        n += 1;
                    }
                }
                if n > 0 {
                    above[r].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// How many logits of `l` are above a positive at `lp`: clear cases by
    /// comparison, near-ties within `tol` by `recheck`.
    #[inline(always)]
    pub(super) fn count_above<X: Copy + Into<f64>>(
        &self,
        l: &[X],
        lp: f64,
        tol: f64,
        recheck: impl Fn(usize) -> bool,
    ) -> u64 {
        let (hi, lo) = (lp + tol, lp - tol);
        let mut n_above = 0u64;
        let mut n_near = 0u64;
        for &x in l {
            let x: f64 = x.into();
            n_above += (x > hi) as u64;
            n_near += ((x >= lo) & (x <= hi)) as u64;
        }
        if n_near > 0 {
            for (jj, &x) in l.iter().enumerate() {
                let x: f64 = x.into();
                if x >= lo && x <= hi && recheck(jj) {
                    n_above += 1;
                }
            }
        }
        n_above
    }

    /// The product's rounding bound plus the tie window: a tile logit outside
    /// lp +- this is decided without a float64 recheck. A dot product of d
    /// terms is within d u |x||y| of the exact one; the scaling to a logit
    /// adds at most 4 u (four roundings in float32 tiles); twice (d + 4) u
    /// covers both with room to spare.
    pub(super) fn window(&self, tp: &Temp, d: f64, size: f64) -> f64 {
        tp.per_tau(2.0 * (d + 4.0) * <S::Tile>::UNIT_ROUNDOFF * size)
            + 2.0 * self.tie_window(tp, size)
    }
}
