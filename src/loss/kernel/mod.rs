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
//! The pass runs over anchors x candidate sides. A side is a matrix and the
//! rows of it each anchor sees ([`Visible`]); the main side holds the
//! positives, and an anchor may have several (its distinct positives are
//! left out of its running sum and put back per record, so each record's
//! denominator holds its own positive only). Every layout is an instance:
//!
//! | layout | anchors | main side | extra sides |
//! |--------|---------|-----------|-------------|
//! | two-view (one file or two view files stacked) | every row | the same file, all but self | none |
//! | pairs (+ symmetric) | the rows named as anchors | the same file, all but self | none |
//! | keys | the queries | the keys, all | none |
//! | keys symmetric | also the keys (column fold) | the queries, all | none |
//! | extra negatives ([`Core::with_negatives`](crate::loss::Core::with_negatives)) | as the layout | as the layout | a file, all (shared) or a block per anchor |
//! | no in-batch candidates ([`Core::without_in_batch`](crate::loss::Core::without_in_batch)) | as the layout | each record's positive only ([`Visible::Positive`]) | as above |
//!
//! What the pass keeps per anchor and record is a [`Partial`], which merges
//! exactly with the part over other candidates: the extra sides' part is
//! merged into the main side's, and a temperature sweep or a sharded run
//! keeps one per temperature or per part.
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
mod uniformity;

pub use element::{Element, Stored};
pub use rank::TIE_ULPS;
pub use schedule::{
    MAX_BANDS, PartOut, Plan, Unit, UnitOut, band_width, extra_tile_count, tile_count,
    uniformity_tile_count, workers,
};
pub use uniformity::{GROUPS, Sums};

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
}

/// Which rows of a candidate side each anchor sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visible {
    /// Every row (the keys of the keys layout; a shared set of extra
    /// negatives such as a MoCo queue).
    All,
    /// Every row but the anchor's own (the one-file layouts: the side is
    /// the anchors' own file).
    AllButSelf,
    /// Rows `a * m .. (a + 1) * m` for anchor a: a block of its own (extra
    /// negatives given per anchor, an (A, m, d) array seen as (A m, d)).
    Block(usize),
    /// Each record's own positive, and nothing else (the main side under
    /// `--no-in-batch`: a record's other candidates are the extra
    /// negatives). The pass computes no tile of such a side.
    Positive,
}

/// The candidate sides of the pass, indexed as tiles name them: the main
/// side, that holds the positives, is [`MAIN`]; extra sides (negatives
/// only) follow from 1.
pub const MAIN: usize = 0;

/// An extra candidate side: rows that are candidates of the forward
/// anchors but never positives.
struct Extra<'p, 'a, T> {
    side: &'p Side<'a, T>,
    visible: Visible,
}

/// Anchors whose candidates lie on the other side of the tile.
pub struct Anchors {
    /// Record ids of each anchor row whose ranks the pass counts: all of
    /// them, but in the labels layout the best positive's record only.
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
    /// Columns of the tiles: candidates of forward records, and the side
    /// that holds their positives. In one-file layouts this is the same
    /// side as `a`, each anchor seeing all of it but itself
    /// ([`Visible::AllButSelf`]); in the keys layout every key
    /// ([`Visible::All`]), and in the other direction the key anchors see
    /// every query (the column fold).
    b: &'p Side<'a, T>,
    one_file: bool,
    /// What the forward anchors see of the main side: all of it
    /// ([`Visible::All`], [`Visible::AllButSelf`] in the one-file layouts)
    /// or their records' positives alone ([`Visible::Positive`]).
    main: Visible,
    /// Records' findings are of the decoupled loss ([`RecordStats::decoupled`](crate::loss::RecordStats::decoupled)).
    decoupled: bool,
    /// Further candidate sides of the forward anchors: negatives only,
    /// folded after the main side ([`MAIN`] + 1 onwards).
    extra: Vec<Extra<'p, 'a, T>>,
    /// What depends on the temperature, one per temperature of the pass:
    /// each tile's products are computed once and folded for every one.
    temps: Vec<Temp>,
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
    /// The token of AVX2 + FMA where the CPU has both and the caller did
    /// not ask for the portable code: the hand-vectorized code runs with it.
    cpu: Option<Avx2Fma>,
    /// What the uniformity of the rows needs ([`uniformity`]).
    uniform: uniformity::Uniform,
    /// The uniformity is wanted even where it needs products of its own
    /// ([`Pass::with_uniformity`]).
    uniform_wanted: bool,
    /// Whether the loss's own tiles hold the uniformity's pairs, found once.
    uniform_free: std::sync::OnceLock<bool>,
}

/// The part of a pass that depends on the temperature. A pass holds one per
/// temperature (a sweep holds several), and folds each tile for every one
/// while the tile is in cache; each is exactly the state a pass at that
/// temperature alone would hold, so each temperature's figures are those of
/// its own pass, to the bit.
pub struct Temp {
    /// 1 / tau (infinite for a tau below 1/f64::MAX: see [`Temp::per_tau`]).
    inv_tau: f64,
    tau: f64,
    /// Tile logits are `(g * row_scale[i]) * col_scale[j]`, g the tile's
    /// dot product ([`Scaling`]).
    row_scale: Vec<f64>,
    col_scale: Vec<f64>,
    /// The column factors of each extra candidate side.
    extra_scale: Vec<Vec<f64>>,
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
}

impl Temp {
    /// The state of a pass at `tau` over sides `a`, `b` and `extra`, for
    /// records whose positive similarities are `positive_sim`.
    fn new<'s, T>(
        a: &Side<'s, T>,
        b: &Side<'s, T>,
        extra: &[&Side<'s, T>],
        similarity: Similarity,
        positive_sim: &[f64],
        tau: f64,
    ) -> Temp {
        let fixed_shift = (similarity == Similarity::Cosine && 2.0 / tau <= FIXED_SHIFT_SPAN)
            .then_some(1.0 / tau);
        let scaling = Scaling::new(a, b, extra, tau);
        Temp {
            inv_tau: 1.0 / tau,
            tau,
            row_scale: scaling.row,
            col_scale: scaling.col,
            extra_scale: scaling.extra,
            positive_logit: positive_sim.iter().map(|s| s / tau).collect(),
            fixed_shift,
            exp32: fixed_shift.is_some() && 2.0 / tau <= EXP32_SPAN,
        }
    }

    /// The temperature.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// x / tau, as `x * inv_tau` (the form every window has always used)
    /// unless 1 / tau overflows.
    pub(super) fn per_tau(&self, x: f64) -> f64 {
        if self.inv_tau.is_finite() {
            x * self.inv_tau
        } else {
            x / self.tau
        }
    }

    /// The tile logits' column factors of candidate side `side` ([`MAIN`]
    /// or an extra one).
    #[inline(always)]
    fn col(&self, side: usize) -> &[f64] {
        if side == MAIN {
            &self.col_scale
        } else {
            &self.extra_scale[side - 1]
        }
    }
}

/// What a pass found over part or all of the anchors x candidates grid,
/// per anchor and per record: the state a temperature sweep keeps per
/// temperature and a sharded run stores per part.
///
/// Per anchor (a row of either side), the running log-sum-exp over the
/// candidates seen that are neither the anchor itself nor one of its
/// positives; per record, the count of those candidates scoring above its
/// positive. The positives' own logits are fixed per record and kept by the
/// pass. Two parts over disjoint candidates merge into the part over both
/// with [`Partial::merge`]: counts add exactly, and log-sum-exps combine
/// without approximation (as their sums of exponentials, to float64
/// rounding); the merge order decides the last bits, so callers fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// Per row of `a`, the anchors of forward records.
    pub lse_a: Vec<Lse>,
    /// Per row of `b` (keys layout: key-to-query anchors); empty where the
    /// part has none.
    pub lse_b: Vec<Lse>,
    /// Per record.
    pub above: Vec<u64>,
}

impl Partial {
    /// The part over the candidates of both. `other` may leave `lse_b`
    /// empty (a part that saw no candidates of those anchors).
    pub fn merge(mut self, other: Partial) -> Partial {
        fn both(mine: &mut Vec<Lse>, theirs: Vec<Lse>) {
            if mine.is_empty() {
                *mine = theirs;
            } else if !theirs.is_empty() {
                assert_eq!(mine.len(), theirs.len(), "parts of one pass");
                for (m, t) in mine.iter_mut().zip(theirs) {
                    *m = m.merge(t);
                }
            }
        }
        both(&mut self.lse_a, other.lse_a);
        both(&mut self.lse_b, other.lse_b);
        assert_eq!(self.above.len(), other.above.len(), "parts of one pass");
        for (m, t) in self.above.iter_mut().zip(other.above) {
            *m += t;
        }
        self
    }
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
    /// The column factors of each extra candidate side.
    pub extra: Vec<Vec<f64>>,
}

impl Scaling {
    /// Intermediates above this count as overflowing.
    const LIMIT: f64 = 1e300;
    /// 1/tau below this (tau above 1e100) is split between rows and columns.
    const SMALL: f64 = 1e-100;

    pub fn new<'s, T>(
        a: &Side<'s, T>,
        b: &Side<'s, T>,
        extra: &[&Side<'s, T>],
        tau: f64,
    ) -> Scaling {
        let inv_tau = 1.0 / tau;
        let max = |v: &[f64]| v.iter().fold(0.0f64, |m, &x| m.max(x));
        // |g * scale_i| <= |x_i| |y_j| scale_i = size_i |y_j|, and
        // |y_j| = size_j / scale_j.
        let largest_y = std::iter::once(b)
            .chain(extra.iter().copied())
            .flat_map(|c| c.size.iter().zip(&c.scale))
            .fold(0.0f64, |m, (&s, &c)| m.max(s / c));
        let row_max = max(&a.scale) * inv_tau;
        let g_row_max = max(&a.size) * largest_y * inv_tau;
        // A huge tau splits too: row scales of 1/(|x| tau) would take the
        // products of rows far below unit norm under float64's smallest
        // normal number, and every tile logit to 0 (ranks then compare
        // zeros with the positive's own logit).
        let (row_f, col_f) =
            if row_max <= Self::LIMIT && g_row_max <= Self::LIMIT && inv_tau >= Self::SMALL {
                (inv_tau, 1.0)
            } else {
                let f = 1.0 / tau.sqrt();
                (f, f)
            };
        Scaling {
            row: a.scale.iter().map(|s| s * row_f).collect(),
            col: b.scale.iter().map(|s| s * col_f).collect(),
            extra: extra
                .iter()
                .map(|c| c.scale.iter().map(|s| s * col_f).collect())
                .collect(),
        }
    }
}

/// What a pass is built for: the fused pass needs every record's positive
/// similarity, a listing of terms does not, and a part of a sharded run
/// needs those of the records its units rank only
/// ([`Pass::positives_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Terms,
    Part,
}

impl<'p, 'a, S: Stored> Pass<'p, 'a, S> {
    /// The pass over `a`'s anchors and `b`'s candidates (`a`'s own in the
    /// one-file layouts), for the records of `layout`, with `extra`
    /// candidate sides of the forward anchors (negatives only); with
    /// [`Purpose::Run`] it also computes every record's positive similarity
    /// (in parallel, on the caller's pool). The pass folds every tile at
    /// each temperature of `taus` (`settings.tau` is not read).
    pub fn new(
        a: &'p Side<'a, S>,
        b: Option<&'p Side<'a, S>>,
        extra: &'p [(Side<'a, S>, Visible)],
        layout: &Layout,
        settings: &Settings,
        taus: &[f64],
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
        // The labels layout picks each anchor's best positive by their
        // similarities: a part needs them all there.
        let all = purpose == Purpose::Run || (purpose == Purpose::Part && layout.labels.is_some());
        let positive_sim: Vec<f64> = match purpose {
            _ if all => records
                .par_iter()
                .map(|r| {
                    let b = b.unwrap_or(a);
                    if r.backward {
                        precise_sim(a, b, r.positive, r.anchor)
                    } else {
                        precise_sim(a, b, r.anchor, r.positive)
                    }
                })
                .collect(),
            Purpose::Part => vec![f64::NAN; records.len()],
            _ => Vec::new(),
        };
        // In the labels layout only the best positive of each anchor is
        // ranked (its rank is the anchor's): ranking every positive would
        // cost a pass over the candidates per positive pair. The best is
        // the one of highest similarity, so that it is the same at every
        // temperature of a sweep.
        let ranked: Vec<(usize, usize, usize)> = if layout.labels.is_some() && all {
            fwd.chunk_by(|x, y| x.0 == y.0)
                .map(|run| {
                    let ks: Vec<usize> = run.iter().map(|&(_, _, k)| k).collect();
                    let best = crate::loss::labels::best_record(&ks, &positive_sim);
                    *run.iter()
                        .find(|&&(_, _, k)| k == best)
                        .expect("one of the run")
                })
                .collect()
        } else {
            fwd.clone()
        };
        let anchors = |rows: usize,
                       other: usize,
                       ranked: &[(usize, usize, usize)],
                       list: &[(usize, usize, usize)]| {
            let records = Csr::build(rows, ranked.iter().map(|&(a, _, k)| (a, k)));
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
            Some(anchors(n_a, n_a, &ranked, &fwd))
        } else if bwd.is_empty() {
            None
        } else {
            Some(anchors(n_b, n_a, &bwd, &bwd))
        };
        let extra_sides: Vec<&Side<'a, S>> = extra.iter().map(|(side, _)| side).collect();
        let temps = taus
            .iter()
            .map(|&tau| Temp::new(a, b, &extra_sides, settings.similarity, &positive_sim, tau))
            .collect();
        let extra = extra
            .iter()
            .map(|(side, visible)| Extra {
                side,
                visible: *visible,
            })
            .collect();
        Pass {
            a,
            b,
            one_file,
            main: if one_file {
                Visible::AllButSelf
            } else {
                Visible::All
            },
            decoupled: false,
            extra,
            temps,
            block: settings.block.max(1),
            fwd: anchors(n_a, n_b, &ranked, &fwd),
            col,
            positive: records.iter().map(|r| r.positive).collect(),
            positive_sim,
            uniform_wanted: false,
            uniform_free: std::sync::OnceLock::new(),
            uniform: uniformity::Uniform::new(
                a,
                (!one_file).then_some(b),
                (layout.kind == crate::layout::LayoutKind::TwoView).then_some(n_a / 2),
            ),
            cpu: if settings.portable {
                None
            } else {
                Avx2Fma::detect()
            },
        }
    }

    /// The same pass without the main side's candidates but each record's
    /// positive (`in_batch` false: [`Visible::Positive`]), and with the
    /// decoupled loss's findings (`decoupled`).
    pub fn with_objective(mut self, in_batch: bool, decoupled: bool) -> Self {
        if !in_batch {
            self.main = Visible::Positive;
        }
        self.decoupled = decoupled;
        self
    }

    /// Takes the uniformity also where it needs products the loss does not
    /// (see [`Pass::uniform_on`]).
    pub fn with_uniformity(mut self, wanted: bool) -> Self {
        self.uniform_wanted = wanted;
        self
    }

    /// The similarity of row `i` of `a` and row `j` of `b`, summed in float64
    /// in a fixed order. Positives and near-ties use it, so that equal rows
    /// give equal numbers.
    pub fn precise_sim(&self, i: usize, j: usize) -> f64 {
        precise_sim(self.a, self.b, i, j)
    }

    pub fn precise_logit(&self, tp: &Temp, i: usize, j: usize) -> f64 {
        self.precise_sim(i, j) / tp.tau
    }

    /// The temperatures of the pass, in the order it was given them.
    pub fn temps(&self) -> &[Temp] {
        &self.temps
    }

    /// Candidate side `side` ([`MAIN`] or an extra one).
    #[inline(always)]
    fn cand(&self, side: usize) -> &Side<'a, S> {
        if side == MAIN {
            self.b
        } else {
            self.extra[side - 1].side
        }
    }
}

/// The similarity of row `i` of `a` and row `j` of `b`, summed in float64 in
/// a fixed order ([`crate::loss::lanes`]).
fn precise_sim<S: Stored>(a: &Side<'_, S>, b: &Side<'_, S>, i: usize, j: usize) -> f64 {
    let dot = crate::loss::lanes::dot(a.m.row(i), b.m.row(j));
    // One product of the two scales, so that s(i, j) == s(j, i) exactly.
    dot * (a.scale[i] * b.scale[j])
}
