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
    /// The main side's part, then the extra sides' merged into it.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> Partial {
        if self.main == Visible::Positive {
            // No tile of the main side: each record's positive is put back
            // on its own ([`Pass::stats`]).
            return self.run_extra(progress);
        }
        let main = self.run_main(progress);
        if self.extra.is_empty() {
            return main;
        }
        main.merge(self.run_extra(progress))
    }

    /// The part of the main side: row folds and, over the symmetric half or
    /// the key anchors, column folds.
    fn run_main(&self, progress: &(dyn Fn(u64) + Sync)) -> Partial {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let above: Vec<AtomicU64> = (0..self.positive_logit.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        let width = |bj: usize| (n_b - bj * self.block).min(self.block);
        let merges: Vec<Mutex<ColumnMerge>> = match self.col {
            Some(_) => (0..nbj)
                .map(|bj| Mutex::new(ColumnMerge::new(width(bj))))
                .collect(),
            None => Vec::new(),
        };
        let rows: Vec<OnceLock<Vec<Lse>>> = (0..nbi).map(|_| OnceLock::new()).collect();
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
        let merged: Vec<Vec<Lse>> = merges
            .into_iter()
            .map(|m| m.into_inner().expect("no worker panicked").finish())
            .collect();

        // A row's own tiles (left to right), then its column partials (top to
        // bottom): a fixed order whatever the threads did.
        let mut lse_a = Vec::with_capacity(n_a);
        for (bi, own) in rows.into_iter().enumerate() {
            let own = own.into_inner().expect("every row block ran");
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
    }

    fn row_block(
        &self,
        bi: usize,
        nbj: usize,
        packed: Option<&PackedSides>,
        above: &[AtomicU64],
        progress: &(dyn Fn(u64) + Sync),
        merges: &[Mutex<ColumnMerge>],
    ) -> Vec<Lse> {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut rows = vec![Lse::EMPTY; i1 - i0];
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
            let mut part = None;
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
                let cols = self.fold_dispatch(&t, &g, &mut buf, &mut rows, above);
                if cols_have_anchors {
                    part = Some(cols);
                }
            }
            // Every row block above a column block (one file) or every row
            // block (keys) hands it a partial, empty or not, so its merge
            // knows when to move on.
            if !diagonal && let Some(m) = merges.get(bj) {
                m.lock().expect("no worker panicked").deliver(bi, part);
            }
            progress(1);
        }
        rows
    }

    /// The part of the extra sides: row folds only, each row block's tiles
    /// side by side and, within a side, left to right (a fixed order).
    fn run_extra(&self, progress: &(dyn Fn(u64) + Sync)) -> Partial {
        let n_a = self.a.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let above: Vec<AtomicU64> = (0..self.positive_logit.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        let rows: Vec<OnceLock<Vec<Lse>>> = (0..nbi).map(|_| OnceLock::new()).collect();
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
        Partial {
            lse_a: rows
                .into_iter()
                .flat_map(|r| r.into_inner().expect("every row block ran"))
                .collect(),
            lse_b: Vec::new(),
            above: above.into_iter().map(AtomicU64::into_inner).collect(),
        }
    }

    fn extra_row_block(
        &self,
        bi: usize,
        above: &[AtomicU64],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Vec<Lse> {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut rows = vec![Lse::EMPTY; i1 - i0];
        let mut g = vec![<S::Tile>::default(); b * b];
        let mut conv = Converted::new();
        let mut buf = Buffers::new(b);
        let has_anchors = self.fwd.records.any_in(i0, i1);
        for (k, extra) in self.extra.iter().enumerate() {
            let side = MAIN + 1 + k;
            let mut tile =
                |(i0, i1): (usize, usize), (j0, j1): (usize, usize), rows: &mut [Lse]| {
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
                        self.fold_dispatch(&t, &g, &mut buf, rows, above);
                    }
                    progress(1);
                };
            match extra.visible {
                Visible::All | Visible::AllButSelf => {
                    let n = extra.side.m.nrows();
                    for j0 in (0..n).step_by(b) {
                        tile((i0, i1), (j0, (j0 + b).min(n)), &mut rows);
                    }
                }
                Visible::Positive => unreachable!("extra sides are files of negatives"),
                Visible::Block(m) => {
                    // Each anchor against its own block: one row at a time.
                    for i in i0..i1 {
                        for c0 in (0..m).step_by(b) {
                            let j = i * m;
                            tile(
                                (i, i + 1),
                                (j + c0, j + (c0 + b).min(m)),
                                &mut rows[i - i0..],
                            );
                        }
                    }
                }
            }
        }
        rows
    }
}
