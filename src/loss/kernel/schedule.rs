//! The schedule of the pass: row blocks handed to workers in order, the
//! tiles of each row block left to right, and the column partials merged in
//! row-block order whatever the threads did, so that a run gives the same
//! bits for any number of threads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::element::{Converted, Stored};
use super::fold::Buffers;
use super::multiply::PackedSides;
use rayon::prelude::*;

use super::uniformity::{self, Sums};
use super::{MAIN, Partial, Pass, Visible};
use crate::loss::exp::Lse;

/// Blocks of a side are grouped into at most this many bands. A band is the
/// unit of the merge order: each anchor's sum over the candidates of one
/// band (its row segment) and the sum one band of anchors gives each
/// candidate (its column segment) start empty and are merged band by band
/// in a fixed order. A sharded run's parts are made of bands
/// ([`Unit`]), so the parts' segments merge into the very bits of a
/// single run, whatever the number of parts.
pub const MAX_BANDS: usize = 64;

/// Blocks per band of a side of `blocks` blocks.
pub fn band_width(blocks: usize) -> usize {
    blocks.div_ceil(MAX_BANDS).max(1)
}

/// The column partials of one column block, merged in row-block order as
/// they arrive (one that comes early waits for those before it): within a
/// band of row blocks into the band's segment, and the segments into the
/// column's sum band by band.
struct ColumnMerge {
    acc: Vec<Lse>,
    /// The segment of the band being merged.
    band: Vec<Lse>,
    /// Row blocks per band.
    per_band: usize,
    /// The last row block that hands this column block a partial.
    last: usize,
    /// The row block whose partial is merged next.
    next: usize,
    waiting: Vec<(usize, Option<Vec<Lse>>)>,
}

impl ColumnMerge {
    fn new(width: usize, per_band: usize, last: usize) -> Self {
        ColumnMerge {
            acc: vec![Lse::EMPTY; width],
            band: vec![Lse::EMPTY; width],
            per_band,
            last,
            next: 0,
            waiting: Vec::new(),
        }
    }

    /// Row block `bi`'s partial (`None` where it had nothing for these columns).
    fn deliver(&mut self, bi: usize, part: Option<Vec<Lse>>) {
        self.waiting.push((bi, part));
        while let Some(k) = self.waiting.iter().position(|(b, _)| *b == self.next) {
            let (_, part) = self.waiting.swap_remove(k);
            if self.next.is_multiple_of(self.per_band) {
                self.band.fill(Lse::EMPTY);
            }
            if let Some(part) = part {
                merge_into(&mut self.band, &part);
            }
            if (self.next + 1).is_multiple_of(self.per_band) || self.next == self.last {
                merge_into(&mut self.acc, &self.band);
            }
            self.next += 1;
        }
    }

    fn finish(self) -> Vec<Lse> {
        assert!(self.waiting.is_empty(), "a column partial was never merged");
        self.acc
    }
}

/// `acc[k] = acc[k].merge(part[k])` for each k.
fn merge_into(acc: &mut [Lse], part: &[Lse]) {
    for (a, x) in acc.iter_mut().zip(part) {
        *a = a.merge(*x);
    }
}

/// A piece of the pass's work, the unit a sharded run hands out: the tiles
/// of one band of anchor rows against one band of main-side columns, or one
/// band of anchor rows against every extra candidate side, or (for the
/// uniformity where the main tiles do not hold its pairs) one band of a
/// side's rows against one band of the same side's rows, on or above the
/// diagonal (`side` 0: the anchors' file, 1: the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Main {
        rows: usize,
        cols: usize,
    },
    Extra {
        rows: usize,
    },
    Uniformity {
        side: usize,
        rows: usize,
        cols: usize,
    },
}

/// What one [`Unit`] found, per temperature: each anchor row's segment of
/// the band (`rows`) and, where the pass has a column fold, each column's
/// segment from the band of rows (`cols`); and, whatever the temperature,
/// the sums of the uniformity's terms over its tiles' pairs, per group
/// (zero where it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitOut {
    pub rows: Vec<Vec<Lse>>,
    pub cols: Vec<Vec<Lse>>,
    pub uniformity: Sums,
}

/// What a part of a sharded pass found: its units' segments, in plan
/// order, and the rank counts of its tiles per temperature and record.
#[derive(Debug, Clone, PartialEq)]
pub struct PartOut {
    pub units: Vec<(Unit, UnitOut)>,
    pub above: Vec<Vec<u64>>,
}

/// The units of a pass in their merge order (main units row band by row
/// band, each row band's column bands left to right; then the extra
/// units; then the uniformity's own units, side by side, in the order of
/// the main units), each with its number of tiles.
#[derive(Debug, Clone)]
pub struct Plan {
    units: Vec<(Unit, u64)>,
}

impl Plan {
    pub fn units(&self) -> impl Iterator<Item = Unit> + '_ {
        self.units.iter().map(|&(u, _)| u)
    }

    /// The units of part `k` of `n` (1-based), in plan order. The units
    /// are laid along a Z-order curve over (row band, column band) and the
    /// curve is cut into `n` runs of about equal numbers of tiles (a unit
    /// belongs to the run in which its first tile falls): a part holds a
    /// compact patch of the grid, so it reads few bands of rows, where a
    /// run of the plan's own order would span every column band. Parts
    /// past the work are empty.
    pub fn part(&self, k: usize, n: usize) -> Vec<Unit> {
        self.owners(n)
            .into_iter()
            .zip(&self.units)
            .filter(|&(at, _)| at + 1 == k)
            .map(|(_, &(u, _))| u)
            .collect()
    }

    /// Every part's units, [`Plan::part`] for k = 1..=n at once.
    pub fn parts(&self, n: usize) -> Vec<Vec<Unit>> {
        let mut out = vec![Vec::new(); n];
        for (at, &(u, _)) in self.owners(n).into_iter().zip(&self.units) {
            out[at].push(u);
        }
        out
    }

    /// The part (0-based) of each unit, in plan order.
    fn owners(&self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.units.len()).collect();
        order.sort_by_key(|&i| locality(self.units[i].0));
        let total: u64 = self.units.iter().map(|&(_, w)| w).sum();
        let mut before = 0u64;
        let mut owner = vec![0; self.units.len()];
        for i in order {
            if total > 0 {
                owner[i] = (u128::from(before) * n as u128 / u128::from(total)) as usize;
            }
            before += self.units[i].1;
        }
        owner
    }

    /// Tiles of the units `units` (for progress bars).
    pub fn tiles(&self, units: &[Unit]) -> u64 {
        let wanted: std::collections::HashSet<&Unit> = units.iter().collect();
        self.units
            .iter()
            .filter(|(u, _)| wanted.contains(u))
            .map(|&(_, w)| w)
            .sum()
    }
}

/// Where a unit lies on the Z-order curve that cuts a plan into parts
/// ([`Plan::part`]): its group (the loss's units, then each side's
/// uniformity units), then its (row band, column band) with their bits
/// interleaved. An extra unit reads its row band alone of the main side,
/// and lies on the diagonal.
fn locality(u: Unit) -> (usize, u64) {
    fn spread(x: usize) -> u64 {
        // The 32 low bits of x at the even bit positions.
        let mut x = x as u64 & 0xFFFF_FFFF;
        x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
        x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
        x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        (x | (x << 1)) & 0x5555_5555_5555_5555
    }
    let (group, rows, cols) = match u {
        Unit::Main { rows, cols } => (0, rows, cols),
        Unit::Extra { rows } => (0, rows, rows),
        Unit::Uniformity { side, rows, cols } => (1 + side, rows, cols),
    };
    (group, spread(rows) << 1 | spread(cols))
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

/// Number of tiles on or above the diagonal of a side of `n` rows against
/// itself: the uniformity's own units of that side.
pub fn uniformity_tile_count(n: usize, block: usize) -> u64 {
    let nb = n.div_ceil(block) as u64;
    nb * (nb + 1) / 2
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

/// A worker's buffers, reused across its tiles.
struct Scratch<T> {
    /// The tile's dot products, row-major.
    g: Vec<T>,
    conv: Converted<T>,
    buf: Buffers,
}

impl<T: Default + Clone> Scratch<T> {
    fn new(b: usize) -> Self {
        Scratch {
            g: vec![T::default(); b * b],
            conv: Converted::new(),
            buf: Buffers::new(b),
        }
    }
}

impl<S: Stored> Pass<'_, '_, S> {
    fn blocks(n: usize, block: usize) -> usize {
        n.div_ceil(block)
    }

    /// Runs the pass; `progress` is called with the number of tiles done.
    /// The main side's part, then the extra sides' merged into it: one
    /// [`Partial`] per temperature of the pass, in its order.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> Vec<Partial> {
        self.run_with_uniformity(progress).0
    }

    /// [`Pass::run`], and the uniformity of the rows
    /// ([`uniformity`](super::uniformity); `None` where a group of rows has
    /// no pair).
    pub fn run_with_uniformity(
        &self,
        progress: &(dyn Fn(u64) + Sync),
    ) -> (Vec<Partial>, Option<f64>) {
        // Per row block and column band, the uniformity's sums of its tiles.
        let mut by_block: Vec<Vec<Sums>> = Vec::new();
        let parts = if self.main == Visible::Positive {
            // No tile of the main side: each record's positive is put back
            // on its own ([`Pass::stats`]).
            self.run_extra(progress)
        } else {
            let (main, sums) = self.run_main(progress);
            by_block = sums;
            if self.extra.is_empty() {
                main
            } else {
                main.into_iter()
                    .zip(self.run_extra(progress))
                    .map(|(main, extra)| main.merge(extra))
                    .collect()
            }
        };
        let plan = self.plan();
        let own: Vec<Unit> = plan
            .units()
            .filter(|u| matches!(u, Unit::Uniformity { .. }))
            .collect();
        let own: Vec<Sums> = own
            .par_iter()
            .map(|&u| self.uniformity_unit(u, progress))
            .collect();
        let mut own = own.into_iter();
        let gi = band_width(Self::blocks(self.a.m.nrows(), self.block));
        let n_bi = Self::blocks(self.a.m.nrows(), self.block);
        let mut total = [0.0; uniformity::GROUPS];
        for u in plan.units() {
            let sums = match u {
                Unit::Main { rows, cols } => uniformity::unit_sum(
                    (rows * gi..((rows + 1) * gi).min(n_bi)).map(|bi| by_block[bi][cols]),
                ),
                Unit::Extra { .. } => continue,
                Unit::Uniformity { .. } => own.next().expect("one sum per unit"),
            };
            uniformity::add(&mut total, sums);
        }
        (
            parts,
            self.uniform_on()
                .then(|| self.uniform.finish(total))
                .flatten(),
        )
    }

    /// The uniformity of the rows from the sums of every unit, added in
    /// plan order ([`Pass::assemble`] takes them from the parts).
    fn uniformity_of(&self, sums: impl Iterator<Item = (Unit, Sums)>) -> Option<f64> {
        let mut total = [0.0; uniformity::GROUPS];
        for (u, s) in sums {
            if !matches!(u, Unit::Extra { .. }) {
                uniformity::add(&mut total, s);
            }
        }
        self.uniform_on()
            .then(|| self.uniform.finish(total))
            .flatten()
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
    fn run_main(&self, progress: &(dyn Fn(u64) + Sync)) -> (Vec<Partial>, Vec<Vec<Sums>>) {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let n_t = self.temps.len();
        let above = self.counters();
        let width = |bj: usize| (n_b - bj * self.block).min(self.block);
        let per_band = band_width(nbi);
        // The last row block that hands column block bj a partial.
        let last = |bj: usize| {
            if self.one_file {
                bj.saturating_sub(1)
            } else {
                nbi - 1
            }
        };
        // Per column block, one merge per temperature.
        let merges: Vec<Mutex<Vec<ColumnMerge>>> = match self.col {
            Some(_) => (0..nbj)
                .map(|bj| {
                    Mutex::new(
                        (0..n_t)
                            .map(|_| ColumnMerge::new(width(bj), per_band, last(bj)))
                            .collect(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        type Found = (Vec<Vec<Lse>>, Vec<Sums>);
        let rows: Vec<OnceLock<Found>> = (0..nbi).map(|_| OnceLock::new()).collect();
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
        let (mut rows, sums): (Vec<Vec<Vec<Lse>>>, Vec<Vec<Sums>>) = rows
            .into_iter()
            .map(|r| r.into_inner().expect("every row block ran"))
            .unzip();
        let parts = merged
            .into_iter()
            .zip(above)
            .enumerate()
            .map(|(tt, (merged, above))| {
                let own: Vec<Lse> = rows
                    .iter_mut()
                    .flat_map(|r| std::mem::take(&mut r[tt]))
                    .collect();
                let cols = (!merged.is_empty()).then(|| merged.into_iter().flatten().collect());
                self.main_partial(
                    own,
                    cols,
                    above.into_iter().map(AtomicU64::into_inner).collect(),
                )
            })
            .collect();
        (parts, sums)
    }

    /// The main side's part from each anchor row's merged row segments
    /// (`own`) and, with a column fold, each column's merged column
    /// segments (`cols`): a row's own tiles, then its column partials, a
    /// fixed order whatever the threads or parts did.
    fn main_partial(&self, own: Vec<Lse>, cols: Option<Vec<Lse>>, above: Vec<u64>) -> Partial {
        match cols {
            Some(cols) if self.one_file => Partial {
                lse_a: own.iter().zip(&cols).map(|(o, c)| o.merge(*c)).collect(),
                lse_b: Vec::new(),
                above,
            },
            Some(cols) => Partial {
                lse_a: own,
                lse_b: cols,
                above,
            },
            None => Partial {
                lse_a: own,
                lse_b: Vec::new(),
                above,
            },
        }
    }

    /// The tiles of row block `bi`, each computed once and folded at every
    /// temperature while it is in cache; a row's sums start anew at each
    /// band of columns and are merged band by band. Returns the row
    /// partials per temperature, and the uniformity's sums of the block's
    /// tiles per band of columns.
    fn row_block(
        &self,
        bi: usize,
        nbj: usize,
        packed: Option<&PackedSides>,
        above: &[Vec<AtomicU64>],
        progress: &(dyn Fn(u64) + Sync),
        merges: &[Mutex<Vec<ColumnMerge>>],
    ) -> (Vec<Vec<Lse>>, Vec<Sums>) {
        let (i0, i1) = self.span(bi, self.a.m.nrows());
        let mut rows = vec![vec![Lse::EMPTY; i1 - i0]; self.temps.len()];
        let mut seg = rows.clone();
        let mut work = Scratch::new(self.block);
        let per_band = band_width(nbj);
        let mut sums = vec![[0.0; uniformity::GROUPS]; nbj.div_ceil(per_band)];
        let first = if self.one_file { bi } else { 0 };
        for bj in first..nbj {
            if bj == first || bj.is_multiple_of(per_band) {
                seg.iter_mut().for_each(|s| s.fill(Lse::EMPTY));
            }
            let usum = &mut sums[bj / per_band];
            let parts = self.tile_at(bi, bj, packed, &mut work, &mut seg, above, usum);
            // Every row block above a column block (one file) or every row
            // block (keys) hands it a partial, empty or not, so its merge
            // knows when to move on.
            if !(self.one_file && bi == bj)
                && let Some(m) = merges.get(bj)
            {
                let mut m = m.lock().expect("no worker panicked");
                for (m, part) in m.iter_mut().zip(parts) {
                    m.deliver(bi, part);
                }
            }
            if (bj + 1).is_multiple_of(per_band) || bj + 1 == nbj {
                for (r, s) in rows.iter_mut().zip(&seg) {
                    merge_into(r, s);
                }
            }
            progress(1);
        }
        (rows, sums)
    }

    /// Rows `bi * block ..` of a side of `n` rows: one block's span.
    fn span(&self, bi: usize, n: usize) -> (usize, usize) {
        let i0 = bi * self.block;
        (i0, (i0 + self.block).min(n))
    }

    /// Tile (`bi`, `bj`) of the main side, folded into `seg` (the rows'
    /// sums) at every temperature; returns its column partial per
    /// temperature where its columns hold anchors of the column fold. In
    /// the one-file layouts, also adds the uniformity's terms of its pairs
    /// to `usum`.
    #[allow(clippy::too_many_arguments)]
    fn tile_at(
        &self,
        bi: usize,
        bj: usize,
        packed: Option<&PackedSides>,
        work: &mut Scratch<S::Tile>,
        seg: &mut [Vec<Lse>],
        above: &[Vec<AtomicU64>],
        usum: &mut Sums,
    ) -> Vec<Option<Vec<Lse>>> {
        let (i0, i1) = self.span(bi, self.a.m.nrows());
        let (j0, j1) = self.span(bj, self.b.m.nrows());
        let diagonal = self.one_file && bi == bj;
        let rows = self.fwd.records.any_in(i0, i1);
        let cols = !diagonal && self.col.as_ref().is_some_and(|c| c.records.any_in(j0, j1));
        let uniform = self.uniform_in_main();
        let mut parts: Vec<Option<Vec<Lse>>> = vec![None; self.temps.len()];
        if rows || cols || uniform {
            let t = Tile {
                i0,
                i1,
                j0,
                j1,
                diagonal,
                rows,
                cols,
                side: MAIN,
            };
            self.product(&t, packed, &mut work.conv, &mut work.g);
            if uniform {
                let g = &work.g[..(i1 - i0) * (j1 - j0)];
                let s = self.uniform.tile_sum(self.cpu, 0, (i0, i1), (j0, j1), g);
                uniformity::add(usum, s);
            }
            if !(rows || cols) {
                return parts;
            }
            for (k, tp) in self.temps.iter().enumerate() {
                let c = self.fold_dispatch(tp, &t, &work.g, &mut work.buf, &mut seg[k], &above[k]);
                if cols {
                    parts[k] = Some(c);
                }
            }
        }
        parts
    }

    /// The pass's units in merge order, each with its number of tiles.
    pub fn plan(&self) -> Plan {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let (gi, gj) = (band_width(nbi), band_width(nbj));
        let mut units = Vec::new();
        if self.main != Visible::Positive {
            for bi_band in 0..nbi.div_ceil(gi) {
                let first = if self.one_file { bi_band } else { 0 };
                for bj_band in first..nbj.div_ceil(gj) {
                    let tiles = (bi_band * gi..((bi_band + 1) * gi).min(nbi))
                        .map(|bi| {
                            let lo = bj_band * gj;
                            let hi = ((bj_band + 1) * gj).min(nbj);
                            let lo = if self.one_file { lo.max(bi) } else { lo };
                            hi.saturating_sub(lo) as u64
                        })
                        .sum();
                    units.push((
                        Unit::Main {
                            rows: bi_band,
                            cols: bj_band,
                        },
                        tiles,
                    ));
                }
            }
        }
        if !self.extra.is_empty() {
            let sides: Vec<(usize, Visible)> = self
                .extra
                .iter()
                .map(|e| (e.side.m.nrows(), e.visible))
                .collect();
            for band in 0..nbi.div_ceil(gi) {
                let (r0, _) = self.span(band * gi, n_a);
                let (_, r1) = self.span(((band + 1) * gi).min(nbi) - 1, n_a);
                let tiles = extra_tile_count(r1 - r0, self.block, &sides);
                units.push((Unit::Extra { rows: band }, tiles));
            }
        }
        for side in self.uniform_sides() {
            let nb = Self::blocks(self.side_rows(side), self.block);
            let g = band_width(nb);
            for bi_band in 0..nb.div_ceil(g) {
                for bj_band in bi_band..nb.div_ceil(g) {
                    let tiles = (bi_band * g..((bi_band + 1) * g).min(nb))
                        .map(|bi| {
                            let lo = (bj_band * g).max(bi);
                            let hi = ((bj_band + 1) * g).min(nb);
                            hi.saturating_sub(lo) as u64
                        })
                        .sum();
                    let unit = Unit::Uniformity {
                        side,
                        rows: bi_band,
                        cols: bj_band,
                    };
                    units.push((unit, tiles));
                }
            }
        }
        Plan { units }
    }

    /// Rows (or columns) of band `band` of a side of `n` rows.
    fn band_rows(&self, band: usize, n: usize) -> (usize, usize) {
        let blocks = Self::blocks(n, self.block);
        let g = band_width(blocks);
        let lo = (band * g * self.block).min(n);
        let hi = ((band + 1) * g * self.block).min(n);
        (lo, hi)
    }

    /// Takes the positive similarities of the records that `units` rank
    /// (built with [`Purpose::Part`], the pass has none yet, but in the
    /// labels layout): the records whose anchors lie in the units' bands of
    /// rows, and in their bands of columns where the pass folds columns. A
    /// part reads the rows of its own bands and those records' positives,
    /// not every row of the inputs.
    pub fn positives_for(&mut self, units: &[Unit]) {
        if !self.positive_sim.iter().any(|x| x.is_nan()) {
            return;
        }
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let mut rows_a = vec![false; n_a];
        let mut rows_b = vec![false; if self.one_file { 0 } else { n_b }];
        fn mark(rows: &mut [bool], (lo, hi): (usize, usize)) {
            rows[lo..hi].iter_mut().for_each(|x| *x = true);
        }
        for &u in units {
            match u {
                Unit::Main { rows, cols } => {
                    mark(&mut rows_a, self.band_rows(rows, n_a));
                    if self.one_file {
                        mark(&mut rows_a, self.band_rows(cols, n_a));
                    } else {
                        mark(&mut rows_b, self.band_rows(cols, n_b));
                    }
                }
                Unit::Extra { rows } => mark(&mut rows_a, self.band_rows(rows, n_a)),
                Unit::Uniformity { .. } => {}
            }
        }
        // (record, row of a, row of b) of each record to take.
        let mut wanted: Vec<(usize, usize, usize)> = Vec::new();
        for (r, _) in rows_a.iter().enumerate().filter(|(_, x)| **x) {
            wanted.extend(
                self.fwd
                    .records
                    .get(r)
                    .iter()
                    .map(|&k| (k, r, self.positive[k])),
            );
        }
        if let Some(col) = self.col.as_ref().filter(|_| !self.one_file) {
            for (r, _) in rows_b.iter().enumerate().filter(|(_, x)| **x) {
                wanted.extend(col.records.get(r).iter().map(|&k| (k, self.positive[k], r)));
            }
        }
        let sims: Vec<f64> = wanted
            .par_iter()
            .map(|&(_, i, j)| self.precise_sim(i, j))
            .collect();
        for (&(k, _, _), &s) in wanted.iter().zip(&sims) {
            self.positive_sim[k] = s;
            for t in &mut self.temps {
                t.positive_logit[k] = s / t.tau;
            }
        }
    }

    /// Runs the units `units` of the pass (a part of a sharded run). The
    /// units run side by side, as the row blocks of a single run do: a
    /// unit's findings depend on its own tiles alone, and the rank counts
    /// are sums of whole numbers, so the order they finish in changes no
    /// bit.
    pub fn run_part(&self, units: &[Unit], progress: &(dyn Fn(u64) + Sync)) -> PartOut {
        let above = self.counters();
        let packed = self.packed();
        let packed = packed.as_ref();
        // Tile buffers outlive the units (each row block of a unit would
        // otherwise map and zero fresh pages for its own).
        let pool = Mutex::new(Vec::new());
        let outs: Vec<UnitOut> = units
            .par_iter()
            .map(|&u| match u {
                Unit::Main { rows, cols } => {
                    self.main_unit(rows, cols, packed, &pool, &above, progress)
                }
                Unit::Extra { rows } => self.extra_unit(rows, &above, progress),
                Unit::Uniformity { .. } => UnitOut {
                    rows: vec![Vec::new(); self.temps.len()],
                    cols: Vec::new(),
                    uniformity: self.uniformity_unit(u, progress),
                },
            })
            .collect();
        PartOut {
            units: units.iter().copied().zip(outs).collect(),
            above: above
                .into_iter()
                .map(|a| a.into_iter().map(AtomicU64::into_inner).collect())
                .collect(),
        }
    }

    /// Main unit (`band_i`, `band_j`): each anchor row's segment over the
    /// columns of band `band_j` and, with a column fold, each column's
    /// segment over the rows of band `band_i`, as [`Pass::run_main`]
    /// merges them.
    fn main_unit(
        &self,
        band_i: usize,
        band_j: usize,
        packed: Option<&PackedSides>,
        pool: &Mutex<Vec<Scratch<S::Tile>>>,
        above: &[Vec<AtomicU64>],
        progress: &(dyn Fn(u64) + Sync),
    ) -> UnitOut {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let gi = band_width(Self::blocks(n_a, self.block));
        let gj = band_width(Self::blocks(n_b, self.block));
        let (bi0, bi1) = (
            band_i * gi,
            ((band_i + 1) * gi).min(Self::blocks(n_a, self.block)),
        );
        let (bj0, bj1) = (
            band_j * gj,
            ((band_j + 1) * gj).min(Self::blocks(n_b, self.block)),
        );
        let n_t = self.temps.len();
        // Each row block of the band on its own: its rows' segments and its
        // tiles' column partials, by column block.
        type Block = (Vec<Vec<Lse>>, Vec<Vec<Option<Vec<Lse>>>>, Sums);
        let blocks: Vec<Block> = (bi0..bi1)
            .into_par_iter()
            .map(|bi| {
                let (i0, i1) = self.span(bi, n_a);
                let mut seg = vec![vec![Lse::EMPTY; i1 - i0]; n_t];
                let taken = pool.lock().expect("no worker panics").pop();
                let mut work = taken.unwrap_or_else(|| Scratch::new(self.block));
                let first = if self.one_file { bj0.max(bi) } else { bj0 };
                let mut usum = [0.0; uniformity::GROUPS];
                let cols = (first..bj1)
                    .map(|bj| {
                        let parts =
                            self.tile_at(bi, bj, packed, &mut work, &mut seg, above, &mut usum);
                        progress(1);
                        (bj, parts)
                    })
                    .collect::<Vec<_>>();
                pool.lock().expect("no worker panics").push(work);
                // By column block of the band, None where this row block
                // hands it nothing.
                let mut by_col = vec![vec![None; n_t]; bj1 - bj0];
                for (bj, parts) in cols {
                    if !(self.one_file && bi == bj) {
                        by_col[bj - bj0] = parts;
                    }
                }
                (seg, by_col, usum)
            })
            .collect();
        let uniformity = uniformity::unit_sum(blocks.iter().map(|&(_, _, s)| s));
        let mut rows: Vec<Vec<Lse>> = vec![Vec::new(); n_t];
        for (seg, _, _) in &blocks {
            for (r, s) in rows.iter_mut().zip(seg) {
                r.extend_from_slice(s);
            }
        }
        let cols = match self.col {
            None => Vec::new(),
            Some(_) => {
                let (c0, c1) = self.band_rows(band_j, n_b);
                let mut cols = vec![vec![Lse::EMPTY; c1 - c0]; n_t];
                for (_, by_col, _) in &blocks {
                    for (k, per_temp) in by_col.iter().enumerate() {
                        let at = (bj0 + k) * self.block - c0;
                        for (c, part) in cols.iter_mut().zip(per_temp) {
                            if let Some(part) = part {
                                merge_into(&mut c[at..], part);
                            }
                        }
                    }
                }
                cols
            }
        };
        UnitOut {
            rows,
            cols,
            uniformity,
        }
    }

    /// Extra unit `band`: each anchor row of the band over every extra
    /// side, as [`Pass::run_extra`] folds it.
    fn extra_unit(
        &self,
        band: usize,
        above: &[Vec<AtomicU64>],
        progress: &(dyn Fn(u64) + Sync),
    ) -> UnitOut {
        let n_a = self.a.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let g = band_width(nbi);
        let blocks: Vec<Vec<Vec<Lse>>> = (band * g..((band + 1) * g).min(nbi))
            .into_par_iter()
            .map(|bi| self.extra_row_block(bi, above, progress))
            .collect();
        let mut rows: Vec<Vec<Lse>> = vec![Vec::new(); self.temps.len()];
        for b in blocks {
            for (r, s) in rows.iter_mut().zip(b) {
                r.extend(s);
            }
        }
        UnitOut {
            rows,
            cols: Vec::new(),
            uniformity: [0.0; uniformity::GROUPS],
        }
    }

    /// The pass's part per temperature from every unit's findings, taken in
    /// plan order from `next`, and the rank counts summed over the parts;
    /// and the uniformity from the units' sums: the very bits
    /// [`Pass::run_with_uniformity`] gives.
    pub fn assemble<E>(
        &self,
        plan: &Plan,
        mut next: impl FnMut(Unit) -> Result<UnitOut, E>,
        above: Vec<Vec<u64>>,
    ) -> Result<(Vec<Partial>, Option<f64>), E> {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let n_t = self.temps.len();
        let mut own = vec![vec![Lse::EMPTY; n_a]; n_t];
        let mut cols = vec![vec![Lse::EMPTY; if self.col.is_some() { n_b } else { 0 }]; n_t];
        let mut extra = vec![vec![Lse::EMPTY; n_a]; n_t];
        let mut sums = Vec::new();
        for u in plan.units() {
            let out = next(u)?;
            sums.push((u, out.uniformity));
            match u {
                Unit::Main { rows, cols: band_j } => {
                    let (r0, _) = self.band_rows(rows, n_a);
                    for (acc, seg) in own.iter_mut().zip(&out.rows) {
                        merge_into(&mut acc[r0..], seg);
                    }
                    if self.col.is_some() {
                        let (c0, _) = self.band_rows(band_j, n_b);
                        for (acc, seg) in cols.iter_mut().zip(&out.cols) {
                            merge_into(&mut acc[c0..], seg);
                        }
                    }
                }
                Unit::Extra { rows } => {
                    let (r0, _) = self.band_rows(rows, n_a);
                    for (acc, seg) in extra.iter_mut().zip(&out.rows) {
                        acc[r0..r0 + seg.len()].copy_from_slice(seg);
                    }
                }
                Unit::Uniformity { .. } => {}
            }
        }
        let uniformity = self.uniformity_of(sums.into_iter());
        let n_records = self.positive.len();
        let parts = own
            .into_iter()
            .zip(cols)
            .zip(extra)
            .zip(above)
            .map(|(((own, cols), extra), above)| {
                let extra = Partial {
                    lse_a: extra,
                    lse_b: Vec::new(),
                    above: vec![0; n_records],
                };
                if self.main == Visible::Positive {
                    return Partial { above, ..extra };
                }
                let main = self.main_partial(own, self.col.is_some().then_some(cols), above);
                if self.extra.is_empty() {
                    main
                } else {
                    main.merge(extra)
                }
            })
            .collect();
        Ok((parts, uniformity))
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
