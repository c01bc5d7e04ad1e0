//! Wang & Isola's uniformity, taken in the tiled pass:
//!
//! ```text
//! U(X) = log( mean over pairs i < j of exp(-2 |x_i - x_j|^2) )
//!      = log( mean over pairs i < j of exp(4 cos(i, j) - 4) )
//! ```
//!
//! on L2-normalised rows (|x_i - x_j|^2 = 2 - 2 cos). Each tile's dot
//! products g become cosines `g * s_i * s_j` with `s = 1/|x|` right after the
//! tile's product, and the terms of the pairs that count are summed in
//! float64, one exponential per pair. A term lies in [e^-8, 1], so no shift
//! is needed; the distance is taken as at least 0 (rounding may take a
//! cosine a little past 1). A zero row (dot similarity only: cosine
//! refuses them) normalises to zero, as torch's `F.normalize` leaves it:
//! its distance to a row is that row's squared norm, 1 or 0.
//!
//! Which pairs count, in groups of rows:
//!
//! | layout | groups | U |
//! |--------|--------|---|
//! | two-view | view 1 (rows below N), view 2 | the mean of the views' U: cross-view pairs are left out, as in Wang & Isola's code |
//! | pairs, labels | every row | U of all rows |
//! | keys | the queries, the keys | the mean of U(queries) and U(keys) |
//!
//! Extra negatives never enter it. In the one-file layouts the pass's own
//! tiles (those on or above the diagonal) hold every pair; the keys layout,
//! and any layout without in-batch candidates, computes the upper half of
//! each group's own product as units of its own ([`Unit::Uniformity`]).
//!
//! The sums follow the pass's merge order: a tile's sum row by row, a row
//! block's tiles of one column band left to right, the row blocks of a
//! unit top to bottom, the units in plan order (see [`unit_sum`] and
//! [`Uniform::finish`]); so a sharded run gives the very bits of a single
//! run.
//!
//! [`Unit::Uniformity`]: super::Unit::Uniformity

use rayon::prelude::*;

use super::element::{Converted, Element, Stored};
use super::schedule::band_width;
use super::{Pass, Side, Unit, Visible};
use crate::loss::cpu::{Avx2Fma, Fused, Madd, Portable};
use crate::loss::exp::{exp, sum_lanes};
use crate::loss::product;

/// Groups of rows whose pairs count (two views, or queries and keys).
pub const GROUPS: usize = 2;

/// Per group, a sum of `exp(4 cos - 4)` over pairs.
pub type Sums = [f64; GROUPS];

/// Per row of a side: `2 / |x|` and 2, or both 0 for a zero row, so that
/// `(g * u_i) * u_j - w_i - w_j = -2 |x_i - x_j|^2` of the normalised rows.
pub(super) struct Weights {
    u: Vec<f64>,
    w: Vec<f64>,
}

impl Weights {
    /// From a side's `scale` and `size`: `scale / size = 1 / |x|` under both
    /// similarities (cosine: 1/|x| over 1; dot: 1 over |x|).
    pub(super) fn of<T>(side: &Side<'_, T>) -> Weights {
        let (u, w) = side
            .scale
            .iter()
            .zip(&side.size)
            .map(|(&scale, &size)| {
                let inv = scale / size;
                if size == 0.0 || !inv.is_finite() {
                    (0.0, 0.0)
                } else {
                    (2.0 * inv, 2.0)
                }
            })
            .unzip();
        Weights { u, w }
    }
}

/// What the pass needs to take the uniformity.
pub(super) struct Uniform {
    /// Weights of the rows of the anchors' side and, in the keys layout,
    /// of the keys.
    pub(super) a: Weights,
    pub(super) b: Option<Weights>,
    /// Two-view layout: rows below this are view 1, the others view 2.
    pub(super) split: Option<usize>,
    /// Pairs per group, and how many groups count.
    pub(super) pairs: [u64; GROUPS],
    pub(super) groups: usize,
}

/// Pairs i < j of `n` rows.
fn pairs_of(n: usize) -> u64 {
    let n = n as u64;
    n * n.saturating_sub(1) / 2
}

impl Uniform {
    /// Over anchors' side `a` and, in the keys layout, the keys `b`;
    /// `split` is N in the two-view layout.
    pub(super) fn new<T>(a: &Side<'_, T>, b: Option<&Side<'_, T>>, split: Option<usize>) -> Self {
        let n_a = a.m.nrows();
        let (pairs, groups) = match (b, split) {
            (Some(b), _) => ([pairs_of(n_a), pairs_of(b.m.nrows())], 2),
            (None, Some(n)) => ([pairs_of(n), pairs_of(n_a - n)], 2),
            (None, None) => ([pairs_of(n_a), 0], 1),
        };
        Uniform {
            a: Weights::of(a),
            b: b.map(Weights::of),
            split,
            pairs,
            groups,
        }
    }

    /// The weights of side `side` (0: the anchors' side, 1: the keys).
    pub(super) fn weights(&self, side: usize) -> &Weights {
        match side {
            0 => &self.a,
            _ => self.b.as_ref().expect("the keys layout has keys"),
        }
    }

    /// U from the pass's sums: the mean over the groups of the log of each
    /// group's mean term; `None` where a group has no pair (a view or a
    /// file of one row).
    pub(super) fn finish(&self, sums: Sums) -> Option<f64> {
        let groups = &self.pairs[..self.groups];
        if groups.contains(&0) {
            return None;
        }
        let total: f64 = groups
            .iter()
            .zip(sums)
            .map(|(&n, s)| (s / n as f64).ln())
            .sum();
        Some(total / self.groups as f64)
    }

    /// The sum of the terms of tile rows `i0..i1` x columns `j0..j1` of one
    /// side's rows against themselves (`side`: 0 or 1, its group in the
    /// keys layout; in the one-file layouts the group is the view), from
    /// the tile's dot products `g` (row-major, `j1 - j0` columns). Counted
    /// are the pairs i < j (the tile lies on or above the diagonal) within
    /// one group.
    pub(super) fn tile_sum<X: Element>(
        &self,
        cpu: Option<Avx2Fma>,
        side: usize,
        (i0, i1): (usize, usize),
        (j0, j1): (usize, usize),
        g: &[X],
    ) -> Sums {
        match cpu {
            Some(cpu) => self.tile_sum_avx2(cpu, side, (i0, i1), (j0, j1), g),
            None => self.tile_sum_any::<Portable, X>(side, (i0, i1), (j0, j1), g),
        }
    }

    fn tile_sum_avx2<X: Element>(
        &self,
        cpu: Avx2Fma,
        side: usize,
        rows: (usize, usize),
        cols: (usize, usize),
        g: &[X],
    ) -> Sums {
        #[cfg(target_arch = "x86_64")]
        {
            let _ = cpu;
            #[target_feature(enable = "avx2,fma")]
            fn compiled<X: Element>(
                u: &Uniform,
                side: usize,
                rows: (usize, usize),
                cols: (usize, usize),
                g: &[X],
            ) -> Sums {
                u.tile_sum_any::<Fused, X>(side, rows, cols, g)
            }
            // SAFETY: the token exists only where the CPU has AVX2 and FMA.
            unsafe { compiled(self, side, rows, cols, g) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        match cpu.never {}
    }

    #[inline(always)]
    fn tile_sum_any<M: Madd, X: Element>(
        &self,
        side: usize,
        (i0, i1): (usize, usize),
        (j0, j1): (usize, usize),
        g: &[X],
    ) -> Sums {
        let wt = self.weights(side);
        let width = j1 - j0;
        let mut sums = [0.0; GROUPS];
        let mut e = Vec::with_capacity(width);
        for i in i0..i1 {
            let (mut lo, mut hi) = (j0.max(i + 1), j1);
            let group = match (side, self.split) {
                (0, Some(n)) if i < n => {
                    hi = hi.min(n);
                    0
                }
                (0, Some(n)) => {
                    lo = lo.max(n);
                    1
                }
                (s, _) => s,
            };
            if lo >= hi {
                continue;
            }
            let r = (i - i0) * width;
            let row = &g[r + lo - j0..r + hi - j0];
            let (u, w) = (&wt.u[lo..hi], &wt.w[lo..hi]);
            sums[group] += row_sum::<M, X>(row, wt.u[i], wt.w[i], u, w, &mut e);
        }
        sums
    }
}

impl<'p, 'a, S: Stored> Pass<'p, 'a, S> {
    /// The main side's tiles hold the uniformity's pairs: a one-file layout
    /// with its in-batch candidates (the tiles on or above the diagonal).
    pub(super) fn uniform_in_main(&self) -> bool {
        self.one_file && self.main != Visible::Positive && self.uniform_on()
    }

    /// Whether the pass takes the uniformity: always where the loss's own
    /// tiles are every tile it needs (a one-file layout with in-batch
    /// candidates whose every block of rows holds an anchor), else only
    /// when asked ([`Pass::with_uniformity`]): the keys layout, a run
    /// without in-batch candidates, or pairs that leave a block of rows
    /// without an anchor would pay products of its own (up to as many as
    /// the loss's).
    pub(super) fn uniform_on(&self) -> bool {
        let free = *self.uniform_free.get_or_init(|| {
            let n = self.a.m.nrows();
            self.one_file
                && self.main != Visible::Positive
                && (0..n.div_ceil(self.block)).all(|bi| {
                    let i0 = bi * self.block;
                    self.fwd.records.any_in(i0, (i0 + self.block).min(n))
                })
        });
        free || self.uniform_wanted
    }

    /// The sides whose uniformity takes units of its own (0: the anchors'
    /// file, 1: the keys).
    pub(super) fn uniform_sides(&self) -> Vec<usize> {
        if !self.uniform_on() {
            return Vec::new();
        }
        match (self.uniform_in_main(), self.one_file) {
            (true, _) => Vec::new(),
            (false, true) => vec![0],
            (false, false) => vec![0, 1],
        }
    }

    /// Rows of side `side` (0: `a`, 1: `b`).
    pub(super) fn side_rows(&self, side: usize) -> usize {
        self.own_side(side).m.nrows()
    }

    fn own_side(&self, side: usize) -> &'p Side<'a, S> {
        if side == 0 { self.a } else { self.b }
    }

    /// The sums of uniformity unit `unit` ([`Unit::Uniformity`]): its row
    /// blocks side by side, each block's tiles left to right.
    pub(super) fn uniformity_unit(&self, unit: Unit, progress: &(dyn Fn(u64) + Sync)) -> Sums {
        let Unit::Uniformity { side, rows, cols } = unit else {
            unreachable!("a unit of the uniformity")
        };
        let n = self.side_rows(side);
        let nb = n.div_ceil(self.block);
        let g = band_width(nb);
        let (bj0, bj1) = (cols * g, ((cols + 1) * g).min(nb));
        let blocks: Vec<Sums> = (rows * g..((rows + 1) * g).min(nb))
            .into_par_iter()
            .map(|bi| {
                let m = self.own_side(side).m;
                let mut conv = Converted::new();
                let mut tile = vec![<S::Tile>::default(); self.block * self.block];
                let mut sums = [0.0; GROUPS];
                let span = |b: usize| (b * self.block, ((b + 1) * self.block).min(n));
                for bj in bj0.max(bi)..bj1 {
                    let (ri, rj) = (span(bi), span(bj));
                    let t = &mut tile[..(ri.1 - ri.0) * (rj.1 - rj.0)];
                    match S::as_tile(m) {
                        Some(x) => product::with_gemm(x, x, ri, rj, t),
                        None => {
                            let (x, y) = conv.tile(m, ri, m, rj);
                            product::with_gemm(x, y, (0, ri.1 - ri.0), (0, rj.1 - rj.0), t);
                        }
                    }
                    add(&mut sums, self.uniform.tile_sum(self.cpu, side, ri, rj, t));
                    progress(1);
                }
                sums
            })
            .collect();
        unit_sum(blocks.into_iter())
    }
}

/// The sum of `exp(min((g_j * ui) * u_j - wi - w_j, 0))` over a row: the
/// terms into `e` in one plain loop (which the compiler vectorizes), then
/// summed in eight lanes added pairwise ([`sum_lanes`], a fixed order).
#[inline(always)]
fn row_sum<M: Madd, X: Element>(
    g: &[X],
    ui: f64,
    wi: f64,
    u: &[f64],
    w: &[f64],
    e: &mut Vec<f64>,
) -> f64 {
    e.clear();
    e.resize(g.len(), 0.0);
    for (((e, &g), &u), &w) in e.iter_mut().zip(g).zip(u).zip(w) {
        let x: f64 = g.into();
        let a = (x * ui) * u - wi - w;
        *e = exp::<M>(if a > 0.0 { 0.0 } else { a });
    }
    sum_lanes(e)
}

/// A unit's sums from its row blocks' sums, in row-block order: the form
/// both the single run and a part take, so that they agree to the bit.
pub(super) fn unit_sum(blocks: impl Iterator<Item = Sums>) -> Sums {
    let mut acc = [0.0; GROUPS];
    for b in blocks {
        add(&mut acc, b);
    }
    acc
}

/// `acc += x`, group by group.
pub(super) fn add(acc: &mut Sums, x: Sums) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a += x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The naive sum over a tile: cosines in float64, std's exponential.
    fn naive(
        m: &Array2<f64>,
        split: Option<usize>,
        rows: (usize, usize),
        cols: (usize, usize),
    ) -> Sums {
        let mut s = [0.0; GROUPS];
        let norm = |i: usize| m.row(i).dot(&m.row(i)).sqrt();
        for i in rows.0..rows.1 {
            for j in cols.0.max(i + 1)..cols.1 {
                let gi = split.map_or(0, |n| usize::from(i >= n));
                let gj = split.map_or(0, |n| usize::from(j >= n));
                if gi != gj {
                    continue;
                }
                let cos = m.row(i).dot(&m.row(j)) / (norm(i) * norm(j));
                s[gi] += (4.0 * cos - 4.0).exp();
            }
        }
        s
    }

    #[test]
    fn a_tile_sums_the_pairs_of_one_view_above_the_diagonal() {
        let (n, d) = (11, 3);
        let m = Array2::from_shape_fn((n, d), |(i, k)| ((i * 7 + k * 3) % 5) as f64 - 1.7);
        let norms: Vec<f64> = (0..n).map(|i| m.row(i).dot(&m.row(i)).sqrt()).collect();
        for similarity_dot in [false, true] {
            let side = Side {
                m: m.view(),
                scale: norms
                    .iter()
                    .map(|x| if similarity_dot { 1.0 } else { 1.0 / x })
                    .collect(),
                size: norms
                    .iter()
                    .map(|&x| if similarity_dot { x } else { 1.0 })
                    .collect(),
            };
            for split in [None, Some(5)] {
                let u = Uniform::new(&side, None, split);
                for (rows, cols) in [((0, 4), (0, 4)), ((0, 4), (4, 11)), ((4, 8), (4, 11))] {
                    let mut g = Vec::new();
                    for i in rows.0..rows.1 {
                        for j in cols.0..cols.1 {
                            g.push(m.row(i).dot(&m.row(j)));
                        }
                    }
                    let want = naive(&m, split, rows, cols);
                    for cpu in [None, Avx2Fma::detect()] {
                        let got = u.tile_sum(cpu, 0, rows, cols, &g);
                        for (g, w) in got.iter().zip(want) {
                            assert!(
                                (g - w).abs() <= 1e-14 * w.abs().max(1.0),
                                "{got:?} {want:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_group_of_one_row_has_no_uniformity() {
        let m = Array2::from_shape_fn((2, 2), |(i, k)| (i + k) as f64 + 1.0);
        let side = Side {
            m: m.view(),
            scale: vec![1.0; 2],
            size: vec![1.0; 2],
        };
        assert_eq!(Uniform::new(&side, None, Some(1)).finish([1.0, 1.0]), None);
        let u = Uniform::new(&side, None, None);
        assert_eq!(u.pairs, [1, 0]);
        assert_eq!(u.finish([0.5, 0.0]), Some(0.5f64.ln()));
    }
}
