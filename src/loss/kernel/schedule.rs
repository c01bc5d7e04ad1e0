//! The schedule of the pass: row blocks handed to workers in order, the
//! tiles of each row block left to right, and the column partials merged in
//! row-block order whatever the threads did, so that a run gives the same
//! bits for any number of threads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::element::{Converted, Stored};
use super::fold::Buffers;
use super::multiply::PackedSides;
use super::{MAIN, Partial, Pass, Visible};
use crate::loss::exp::Lse;

/// The column partials of one column block, merged in row-block order as
/// they arrive; one that comes early waits for those before it.
struct ColumnMerge {
    acc: Vec<Lse>,
    /// The row block whose partial is merged next.
    next: usize,
    waiting: Vec<(usize, Option<Vec<Lse>>)>,
}

impl ColumnMerge {
    fn new(width: usize) -> Self {
        ColumnMerge {
            acc: vec![Lse::EMPTY; width],
            next: 0,
            waiting: Vec::new(),
        }
    }

    /// Row block `bi`'s partial (`None` where it had nothing for these columns).
    fn deliver(&mut self, bi: usize, part: Option<Vec<Lse>>) {
        self.waiting.push((bi, part));
        while let Some(k) = self.waiting.iter().position(|(b, _)| *b == self.next) {
            if let (_, Some(part)) = self.waiting.swap_remove(k) {
                for (a, x) in self.acc.iter_mut().zip(part) {
                    *a = a.merge(x);
                }
            }
            self.next += 1;
        }
    }

    fn finish(self) -> Vec<Lse> {
        assert!(self.waiting.is_empty(), "a column partial was never merged");
        self.acc
    }
}

/// Number of tiles [`Pass::run`] computes over `n_a` x `n_b` rows (for
/// progress bars).
pub fn tile_count(n_a: usize, n_b: usize, block: usize, one_file: bool) -> u64 {
    let nbi = n_a.div_ceil(block) as u64;
    let nbj = n_b.div_ceil(block) as u64;
    if one_file {
        nbi * (nbi + 1) / 2
    } else {
        nbi * nbj
    }
}

/// Number of tiles the extra candidate sides add to [`tile_count`]: each
/// `(rows, visible)` side against `n_a` anchors.
pub fn extra_tile_count(n_a: usize, block: usize, sides: &[(usize, Visible)]) -> u64 {
    sides
        .iter()
        .map(|&(rows, visible)| match visible {
            Visible::All | Visible::AllButSelf => {
                (n_a.div_ceil(block) * rows.div_ceil(block)) as u64
            }
            Visible::Block(m) => (n_a * m.div_ceil(block)) as u64,
            Visible::Positive => 0,
        })
        .sum()
}

/// How many workers the pass starts for `row_blocks` row blocks: one per
/// thread of the current pool, but never more than there are row blocks
/// (each worker takes whole row blocks).
pub fn workers(row_blocks: usize) -> usize {
    rayon::current_num_threads().min(row_blocks).max(1)
}

/// Where a tile lies and which folds it serves.
pub(super) struct Tile {
    pub(super) i0: usize,
    pub(super) i1: usize,
    pub(super) j0: usize,
    pub(super) j1: usize,
    /// On the diagonal of a one-file layout: each row meets itself.
    pub(super) diagonal: bool,
    pub(super) rows: bool,
    pub(super) cols: bool,
    /// The candidate side of its columns: [`MAIN`] or an extra one.
    pub(super) side: usize,
}

impl<S: Stored> Pass<'_, '_, S> {
    fn blocks(n: usize, block: usize) -> usize {
        n.div_ceil(block)
    }

    /// Runs the pass; `progress` is called with the number of tiles done.
    /// The main side's part, then the extra sides' merged into it: one
    /// [`Partial`] per temperature of the pass, in its order.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> Vec<Partial> {
        if self.main == Visible::Positive {
            // No tile of the main side: each record's positive is put back
            // on its own ([`Pass::stats`]).
            return self.run_extra(progress);
        }
        let main = self.run_main(progress);
        if self.extra.is_empty() {
            return main;
        }
        main.into_iter()
            .zip(self.run_extra(progress))
            .map(|(main, extra)| main.merge(extra))
            .collect()
    }

    /// One rank counter per record, for each temperature.
    fn counters(&self) -> Vec<Vec<AtomicU64>> {
        self.temps
            .iter()
            .map(|_| {
                (0..self.positive.len())
                    .map(|_| AtomicU64::new(0))
                    .collect()
            })
            .collect()
    }

    /// The part of the main side: row folds and, over the symmetric half or
    /// the key anchors, column folds.
    fn run_main(&self, progress: &(dyn Fn(u64) + Sync)) -> Vec<Partial> {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let n_t = self.temps.len();
        let above = self.counters();
        let width = |bj: usize| (n_b - bj * self.block).min(self.block);
        // Per column block, one merge per temperature.
        let merges: Vec<Mutex<Vec<ColumnMerge>>> = match self.col {
            Some(_) => (0..nbj)
                .map(|bj| Mutex::new((0..n_t).map(|_| ColumnMerge::new(width(bj))).collect()))
                .collect(),
            None => Vec::new(),
        };
        let rows: Vec<OnceLock<Vec<Vec<Lse>>>> = (0..nbi).map(|_| OnceLock::new()).collect();
        // Row blocks are taken in order, so column partials arrive nearly in
        // order and only a few wait for the ones before them.
        let next = AtomicUsize::new(0);
        let packed = self.packed();
        let packed = packed.as_ref();
        rayon::scope(|s| {
            for _ in 0..workers(nbi) {
                s.spawn(|_| {
                    loop {
                        let bi = next.fetch_add(1, Ordering::Relaxed);
                        if bi >= nbi {
                            break;
                        }
                        let own = self.row_block(bi, nbj, packed, &above, progress, &merges);
                        rows[bi].set(own).expect("each row block runs once");
                    }
                });
            }
        });
        let mut merged: Vec<Vec<Vec<Lse>>> = (0..n_t).map(|_| Vec::with_capacity(nbj)).collect();
        for m in merges {
            let per_temp = m.into_inner().expect("no worker panicked");
            for (t, m) in per_temp.into_iter().enumerate() {
                merged[t].push(m.finish());
            }
        }
        let mut rows: Vec<Vec<Vec<Lse>>> = rows
            .into_iter()
            .map(|r| r.into_inner().expect("every row block ran"))
            .collect();

        // A row's own tiles (left to right), then its column partials (top to
        // bottom): a fixed order whatever the threads did.
        merged
            .into_iter()
            .zip(above)
            .enumerate()
            .map(|(tt, (merged, above))| {
                let mut lse_a = Vec::with_capacity(n_a);
                for (bi, own) in rows.iter_mut().enumerate() {
                    let own = std::mem::take(&mut own[tt]);
                    match merged.get(bi).filter(|_| self.one_file) {
                        Some(cols) => lse_a.extend(own.iter().zip(cols).map(|(o, c)| o.merge(*c))),
                        None => lse_a.extend(own),
                    }
                }
                let lse_b = if self.one_file {
                    Vec::new()
                } else {
                    merged.into_iter().flatten().collect()
                };
                Partial {
                    lse_a,
                    lse_b,
                    above: above.into_iter().map(AtomicU64::into_inner).collect(),
                }
            })
            .collect()
    }

    /// The tiles of row block `bi`, each computed once and folded at every
    /// temperature while it is in cache. Returns the row partials per
    /// temperature.
    fn row_block(
        &self,
        bi: usize,
        nbj: usize,
        packed: Option<&PackedSides>,
        above: &[Vec<AtomicU64>],
        progress: &(dyn Fn(u64) + Sync),
        merges: &[Mutex<Vec<ColumnMerge>>],
    ) -> Vec<Vec<Lse>> {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut rows = vec![vec![Lse::EMPTY; i1 - i0]; self.temps.len()];
        // The tile's dot products, row-major.
        let mut g = vec![<S::Tile>::default(); b * b];
        let mut conv = Converted::new();
        let mut buf = Buffers::new(b);
        let rows_have_anchors = self.fwd.records.any_in(i0, i1);
        let first = if self.one_file { bi } else { 0 };
        for bj in first..nbj {
            let j0 = bj * b;
            let j1 = (j0 + b).min(self.b.m.nrows());
            let diagonal = self.one_file && bi == bj;
            let cols_have_anchors =
                !diagonal && self.col.as_ref().is_some_and(|c| c.records.any_in(j0, j1));
            let mut parts: Vec<Option<Vec<Lse>>> = vec![None; self.temps.len()];
            if rows_have_anchors || cols_have_anchors {
                let t = Tile {
                    i0,
                    i1,
                    j0,
                    j1,
                    diagonal,
                    rows: rows_have_anchors,
                    cols: cols_have_anchors,
                    side: MAIN,
                };
                self.product(&t, packed, &mut conv, &mut g);
                for (k, tp) in self.temps.iter().enumerate() {
                    let cols = self.fold_dispatch(tp, &t, &g, &mut buf, &mut rows[k], &above[k]);
                    if cols_have_anchors {
                        parts[k] = Some(cols);
                    }
                }
            }
            // Every row block above a column block (one file) or every row
            // block (keys) hands it a partial, empty or not, so its merge
            // knows when to move on.
            if !diagonal && let Some(m) = merges.get(bj) {
                let mut m = m.lock().expect("no worker panicked");
                for (m, part) in m.iter_mut().zip(parts) {
                    m.deliver(bi, part);
                }
            }
            progress(1);
        }
        rows
    }

    /// The part of the extra sides: row folds only, each row block's tiles
    /// side by side and, within a side, left to right (a fixed order).
    fn run_extra(&self, progress: &(dyn Fn(u64) + Sync)) -> Vec<Partial> {
        let n_a = self.a.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let above = self.counters();
        let rows: Vec<OnceLock<Vec<Vec<Lse>>>> = (0..nbi).map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        rayon::scope(|s| {
            for _ in 0..workers(nbi) {
                s.spawn(|_| {
                    loop {
                        let bi = next.fetch_add(1, Ordering::Relaxed);
                        if bi >= nbi {
                            break;
                        }
                        let own = self.extra_row_block(bi, &above, progress);
                        rows[bi].set(own).expect("each row block runs once");
                    }
                });
            }
        });
        let mut rows: Vec<Vec<Vec<Lse>>> = rows
            .into_iter()
            .map(|r| r.into_inner().expect("every row block ran"))
            .collect();
        above
            .into_iter()
            .enumerate()
            .map(|(tt, above)| Partial {
                lse_a: rows
                    .iter_mut()
                    .flat_map(|r| std::mem::take(&mut r[tt]))
                    .collect(),
                lse_b: Vec::new(),
                above: above.into_iter().map(AtomicU64::into_inner).collect(),
            })
            .collect()
    }

    fn extra_row_block(
        &self,
        bi: usize,
        above: &[Vec<AtomicU64>],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Vec<Vec<Lse>> {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut rows = vec![vec![Lse::EMPTY; i1 - i0]; self.temps.len()];
        let mut g = vec![<S::Tile>::default(); b * b];
        let mut conv = Converted::new();
        let mut buf = Buffers::new(b);
        let has_anchors = self.fwd.records.any_in(i0, i1);
        for (k, extra) in self.extra.iter().enumerate() {
            let side = MAIN + 1 + k;
            let mut tile = |(i0, i1): (usize, usize),
                            (j0, j1): (usize, usize),
                            at: usize,
                            rows: &mut [Vec<Lse>]| {
                if has_anchors && self.fwd.records.any_in(i0, i1) {
                    let t = Tile {
                        i0,
                        i1,
                        j0,
                        j1,
                        diagonal: false,
                        rows: true,
                        cols: false,
                        side,
                    };
                    self.product(&t, None, &mut conv, &mut g);
                    for (k, tp) in self.temps.iter().enumerate() {
                        self.fold_dispatch(tp, &t, &g, &mut buf, &mut rows[k][at..], &above[k]);
                    }
                }
                progress(1);
            };
            match extra.visible {
                Visible::All | Visible::AllButSelf => {
                    let n = extra.side.m.nrows();
                    for j0 in (0..n).step_by(b) {
                        tile((i0, i1), (j0, (j0 + b).min(n)), 0, &mut rows);
                    }
                }
                Visible::Positive => unreachable!("extra sides are files of negatives"),
                Visible::Block(m) => {
                    // Each anchor against its own block: one row at a time.
                    for i in i0..i1 {
                        for c0 in (0..m).step_by(b) {
                            let j = i * m;
                            tile((i, i + 1), (j + c0, j + (c0 + b).min(m)), i - i0, &mut rows);
                        }
                    }
                }
            }
        }
        rows
    }
}
