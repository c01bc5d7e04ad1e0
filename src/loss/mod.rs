//! The numeric core: InfoNCE per record, from a layout and the loaded arrays.
//!
//! For a record with anchor a, positive p and candidate set C(a) (which never
//! holds a and always holds p), with logits l_k = s(a, k) / tau:
//!
//! ```text
//! loss = -log( exp(l_p) / sum_{k in C(a)} exp(l_k) )
//!      = log1p( sum_{k in C(a), k != p} exp(l_k - l_p) )
//! ```
//!
//! The second form keeps tiny losses that `log_denominator - log_numerator`
//! would round to zero. Everything is computed in log space; linear-space
//! values are derived at the end and reported only where they fit a float64.
//!
//! [`Core::run`] does the fused tiled pass once; [`Core::terms`] streams every
//! softmax term of chosen records for `--terms` and `explain`. Both read the
//! same prepared sides, so no caller does the math its own way.

pub mod cpu;
pub mod data;
pub mod exp;
pub mod kernel;
pub mod labels;
pub mod lanes;
pub mod precision;
pub mod product;
mod rows32;

use ndarray::ArrayView2;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values};
use crate::layout::Layout;
use exp::{log_add_exp, softplus};
pub use kernel::{MAX_BANDS, PartOut, Plan, Unit, UnitOut};
use kernel::{Pass, Purpose, Side, Stored, Visible};

/// How two embeddings are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    /// Dot product of the L2-normalized rows.
    Cosine,
    /// Plain dot product.
    Dot,
}

impl Similarity {
    pub fn name(self) -> &'static str {
        match self {
            Similarity::Cosine => "cosine",
            Similarity::Dot => "dot",
        }
    }
}

/// Default rows per tile side: a 256 x 256 tile of float64 logits is 512 KiB.
pub const DEFAULT_BLOCK: usize = 256;

/// What the core needs besides the data.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub tau: f64,
    pub similarity: Similarity,
    /// Rows per tile side (tests use small ones to cross tile edges).
    pub block: usize,
    /// Run the portable code even where the CPU has AVX2 and FMA (the tests
    /// check both against the same reference; they agree to the float32
    /// rounding).
    pub portable: bool,
}

/// Cosine logits lie in [-1/tau, 1/tau]; when that span is at most this, one
/// shift of 1/tau serves every exponential without underflow (e^-700 is a
/// normal float64), so each is computed once for its row and its column.
pub const FIXED_SHIFT_SPAN: f64 = 700.0;

/// With float32 products, the exponentials are taken in float32 too when
/// the fixed shift's span is at most this: every shifted logit then lies in
/// [-80, 0], where a float32 exponential is a normal number within a relative
/// 2e-7 of e^x. Wider spans (tau < 0.025) use the float64 exponential.
pub const EXP32_SPAN: f64 = 80.0;

/// The core's finding for one record, from which every reported figure of
/// that record is derived by [`RecordStats::finish`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordStats {
    /// s(a, p), summed in float64.
    pub sim: f64,
    /// s(a, p) / tau.
    pub logit: f64,
    /// log of the sum of exp(l_k) over the candidates other than p
    /// (-inf when p is the only candidate).
    pub log_others: f64,
    /// 1 + the number of candidates whose logit is strictly above p's (in
    /// the labels layout counted for each anchor's best positive only:
    /// see [`labels`]).
    pub rank: u64,
    /// The decoupled loss (`--decoupled`): the positive leaves the
    /// denominator ([`RecordStats::finish`]).
    pub decoupled: bool,
    /// log of the sum of exp(l_k) over the candidates that are none of the
    /// anchor's positives (-inf when there are none).
    pub log_negatives: f64,
}

/// What one pass finds: per temperature (in the order given), one finding
/// per record in record order; and, the same at every temperature, Wang &
/// Isola's uniformity of the rows (see [`kernel`]'s `uniformity`): `None`
/// where a group of rows (a view, the queries or the keys) holds a single
/// row and so no pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub stats: Vec<Vec<RecordStats>>,
    pub uniformity: Option<f64>,
}

/// Every figure reported for a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub numerator: Option<f64>,
    pub log_numerator: f64,
    pub denominator: Option<f64>,
    pub log_denominator: f64,
    pub loss: f64,
    pub p_positive: f64,
}

/// `Some(e^x)` when it is finite, `None` when it overflows float64.
pub fn exp_or_none(x: f64) -> Option<f64> {
    let v = x.exp();
    v.is_finite().then_some(v)
}

impl RecordStats {
    /// Derives the reported figures from the log-space findings.
    ///
    /// InfoNCE: the denominator holds the positive and the others, and
    /// `loss = log(1 + sum_others / numerator)`. Decoupled (Yeh et al.
    /// 2022): the denominator is the others' sum alone and
    /// `loss = log(sum_others) - logit`, which is negative where the
    /// positive outweighs them all. `p_positive` is
    /// `numerator / (numerator + sum_others)` in both, a probability.
    pub fn finish(&self) -> Figures {
        let coupled = softplus(self.log_others - self.logit);
        let (log_denominator, loss) = if self.decoupled {
            (self.log_others, self.log_others - self.logit)
        } else {
            (log_add_exp(self.log_others, self.logit), coupled)
        };
        Figures {
            numerator: exp_or_none(self.logit),
            log_numerator: self.logit,
            denominator: exp_or_none(log_denominator),
            log_denominator,
            loss,
            p_positive: (-coupled).exp(),
        }
    }
}

/// Which candidates a term belongs to, when a run has extra negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TermFrom {
    /// The layout's own candidates (the in-batch ones): `index` is a row of
    /// the candidates' file.
    Candidates,
    /// The `--negatives` file: `index` is its row (shared negatives), or
    /// the negative's place `m` among the anchor's own (entry `[a, m]` of
    /// an (A, M, d) file).
    Negatives,
}

/// One term of a record's denominator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Term {
    /// Row of the candidate in its file: the candidates' file, or with
    /// `from` the negatives' (see [`TermFrom`]).
    pub index: usize,
    /// Which file `index` counts in; present only in runs with extra
    /// negatives ([`Core::with_negatives`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<TermFrom>,
    pub sim: f64,
    pub logit: f64,
    /// exp(logit); `null` when it overflows float64.
    pub exp: Option<f64>,
    /// The softmax probability exp(logit) / denominator, the denominator
    /// being the sum over the listed terms ([`softmax`]).
    pub p: f64,
}

/// Receives a record's index and its terms; an error stops the stream.
pub type TermSink<'f, E> = dyn FnMut(usize, &[Term]) -> std::result::Result<(), E> + 'f;

/// The prepared problem: both sides scaled and indexed, in the precision of
/// the input.
pub struct Core<'a> {
    layout: &'a Layout,
    settings: Settings,
    inner: Inner<'a>,
    /// The layout's own candidates stay beside the extra negatives
    /// (cleared by [`Core::without_in_batch`]).
    in_batch: bool,
    /// The decoupled loss ([`Core::decoupled`]).
    decoupled: bool,
    /// The uniformity also where it needs products of its own
    /// ([`Core::with_uniformity`]).
    uniformity: bool,
}

enum Inner<'a> {
    F16(Prepared<'a, half::f16>),
    F32(Prepared<'a, f32>),
    F64(Prepared<'a, f64>),
}

/// Evaluates `$body` with `$p` bound to the prepared sides, whatever their
/// element type.
macro_rules! with_prepared {
    ($inner:expr, $p:ident => $body:expr) => {
        match $inner {
            Inner::F16($p) => $body,
            Inner::F32($p) => $body,
            Inner::F64($p) => $body,
        }
    };
}

struct Prepared<'a, T> {
    a: Side<'a, T>,
    b: Option<Side<'a, T>>,
    /// Extra candidate sides of the forward anchors (negatives only).
    extra: Vec<(Side<'a, T>, Visible)>,
}

/// Which extra negatives each anchor sees ([`Core::with_negatives`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negatives {
    /// Every row of the file, for every anchor: one shared set (a MoCo
    /// queue, hard negatives stacked for the whole batch).
    Shared,
    /// Anchor a sees rows `a * m .. (a + 1) * m`: `m` negatives of its own
    /// (an (A, m, d) array seen as (A m, d) rows, A the rows of the
    /// anchors' file).
    PerAnchor(usize),
}

fn side<'a, T: Stored>(
    e: &Embeddings,
    norms: &[f64],
    m: ArrayView2<'a, T>,
    sim: Similarity,
) -> Result<Side<'a, T>> {
    let mut scale = Vec::with_capacity(m.nrows());
    let mut size = Vec::with_capacity(m.nrows());
    for (i, &norm) in norms.iter().enumerate() {
        match sim {
            Similarity::Cosine => {
                if norm == 0.0 {
                    return Err(data::zero_row(e, i));
                }
                scale.push(1.0 / norm);
                size.push(1.0);
            }
            Similarity::Dot => {
                scale.push(1.0);
                size.push(norm);
            }
        }
    }
    Ok(Side { m, scale, size })
}

/// One file's embeddings and its row norms.
type File<'a, 'n> = (&'a Embeddings, &'n [f64]);

/// Both sides of one element type, prepared.
fn prepare<'a, S: Stored>(
    first: File<'a, '_>,
    a: &'a Matrix<S>,
    second: Option<(File<'a, '_>, &'a Matrix<S>)>,
    sim: Similarity,
) -> Result<Prepared<'a, S>> {
    Ok(Prepared {
        a: side(first.0, first.1, a.view(), sim)?,
        b: second
            .map(|((e, n), m)| side(e, n, m.view(), sim))
            .transpose()?,
        extra: Vec::new(),
    })
}

impl<'a> Core<'a> {
    /// Prepares the core over `data`, whose precision the policy chose and
    /// whose row norms it holds.
    pub fn prepare(
        layout: &'a Layout,
        data: &'a data::Data,
        settings: Settings,
    ) -> Result<Core<'a>> {
        let (norms, second_norms) = data.norms();
        let second = data.second().zip(second_norms);
        let core = Core::build(layout, (data.first(), norms), second, settings)?;
        match data.negatives() {
            None => Ok(core),
            Some((file, None)) => core.with_negatives(file, Negatives::Shared),
            Some((file, Some(m))) => core.with_negatives(file, Negatives::PerAnchor(m)),
        }
    }

    /// Prepares the core. `second` is the keys file of the keys layout. Both
    /// files must hold the same precision (the caller converts; the
    /// program's runs go through [`data::Data`] and [`Core::prepare`]).
    pub fn new(
        layout: &'a Layout,
        first: &'a Embeddings,
        second: Option<&'a Embeddings>,
        settings: Settings,
    ) -> Result<Core<'a>> {
        let norms = first.row_norms();
        let second_norms = second.map(Embeddings::row_norms);
        let second = second.zip(second_norms.as_deref());
        Core::build(layout, (first, &norms), second, settings)
    }

    fn build(
        layout: &'a Layout,
        first: File<'a, '_>,
        second: Option<File<'a, '_>>,
        settings: Settings,
    ) -> Result<Core<'a>> {
        let (f, _) = first;
        if let Some((k, _)) = second
            && k.cols() != f.cols()
        {
            return Err(Error::data(
                &k.name,
                format!(
                    "has dimension {} but {} has dimension {}",
                    k.cols(),
                    f.name,
                    f.cols()
                ),
            ));
        }
        let sim = settings.similarity;
        let inner = match (&f.values, second.map(|s| (s, &s.0.values))) {
            (Values::F16(a), None) => Inner::F16(prepare(first, a, None, sim)?),
            (Values::F16(a), Some((k, Values::F16(b)))) => {
                Inner::F16(prepare(first, a, Some((k, b)), sim)?)
            }
            (Values::F32(a), None) => Inner::F32(prepare(first, a, None, sim)?),
            (Values::F32(a), Some((k, Values::F32(b)))) => {
                Inner::F32(prepare(first, a, Some((k, b)), sim)?)
            }
            (Values::F64(a), None) => Inner::F64(prepare(first, a, None, sim)?),
            (Values::F64(a), Some((k, Values::F64(b)))) => {
                Inner::F64(prepare(first, a, Some((k, b)), sim)?)
            }
            _ => unreachable!("the job converts both files to one precision"),
        };
        Ok(Core {
            layout,
            settings,
            inner,
            in_batch: true,
            decoupled: false,
            uniformity: false,
        })
    }

    /// Adds a file of extra negatives: rows that are candidates of every
    /// forward anchor (every anchor in the one-file layouts, the queries in
    /// the keys layout) and never positives, seen as `negatives` says. The
    /// file must hold the precision of the others.
    pub fn with_negatives(
        mut self,
        file: &'a Embeddings,
        negatives: Negatives,
    ) -> Result<Core<'a>> {
        let (n_a, d) = with_prepared!(&self.inner, p => (p.a.m.nrows(), p.a.m.ncols()));
        if file.cols() != d {
            return Err(Error::data(
                &file.name,
                format!(
                    "has dimension {} but the anchors have dimension {d}",
                    file.cols()
                ),
            ));
        }
        let visible = match negatives {
            Negatives::Shared => Visible::All,
            Negatives::PerAnchor(m) => {
                if n_a.checked_mul(m) != Some(file.rows()) || m == 0 {
                    return Err(Error::data(
                        &file.name,
                        format!(
                            "has {} rows, but {n_a} anchors with {m} negatives each need {}",
                            file.rows(),
                            n_a.saturating_mul(m)
                        ),
                    ));
                }
                Visible::Block(m)
            }
        };
        let sim = self.settings.similarity;
        let norms = file.row_norms();
        match (&mut self.inner, &file.values) {
            (Inner::F16(p), Values::F16(m)) => {
                p.extra.push((side(file, &norms, m.view(), sim)?, visible))
            }
            (Inner::F32(p), Values::F32(m)) => {
                p.extra.push((side(file, &norms, m.view(), sim)?, visible))
            }
            (Inner::F64(p), Values::F64(m)) => {
                p.extra.push((side(file, &norms, m.view(), sim)?, visible))
            }
            _ => {
                return Err(Error::data(
                    &file.name,
                    format!(
                        "holds {} values, another precision than the anchors' (convert it first)",
                        file.source_dtype
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// Leaves out the layout's own candidates of the forward anchors but
    /// each record's positive (`--no-in-batch`): a record's candidates are
    /// its positive and the extra negatives its anchor sees (MoCo,
    /// info-nce-pytorch). The pass then computes no tile of the main side.
    /// Needs extra negatives; the key-to-query records of `--keys
    /// --symmetric` see none, so they are refused too (each would have its
    /// positive alone).
    pub fn without_in_batch(mut self) -> Result<Core<'a>> {
        let extra = with_prepared!(&self.inner, p => p.extra.len());
        if extra == 0 {
            return Err(Error::Usage(
                "--no-in-batch needs --negatives: without in-batch candidates and extra \
                 negatives a record's positive is its only candidate"
                    .into(),
            ));
        }
        if self.layout.records.iter().any(|r| r.backward) {
            return Err(Error::Usage(
                "--no-in-batch cannot be used with --keys --symmetric: the key-to-query \
                 records see no extra negatives, so each would keep its positive alone"
                    .into(),
            ));
        }
        self.in_batch = false;
        Ok(self)
    }

    /// Takes Wang & Isola's uniformity also where it needs products of its
    /// own (`--uniformity`): the keys layout (the queries' and the keys'
    /// own products, as many as the loss's), a run without in-batch
    /// candidates, or pairs that leave a block of rows without an anchor.
    /// Without it the uniformity is taken only where it is free.
    pub fn with_uniformity(mut self, wanted: bool) -> Core<'a> {
        self.uniformity = wanted;
        self
    }

    /// The decoupled loss (`--decoupled`; Yeh et al. 2022): each record's
    /// denominator leaves its positive out ([`RecordStats::finish`]).
    pub fn decoupled(mut self) -> Core<'a> {
        self.decoupled = true;
        self
    }

    /// The number of candidates of a record of the given direction: the
    /// layout's (or, without the in-batch ones, the positive alone) plus
    /// the extra negatives its anchor sees (forward records only).
    pub fn n_candidates(&self, backward: bool) -> usize {
        let layout = if self.in_batch || backward {
            self.layout.n_candidates(backward)
        } else {
            1
        };
        if backward {
            return layout;
        }
        layout + self.n_negatives()
    }

    /// The extra negatives each forward anchor sees (0 without any).
    pub fn n_negatives(&self) -> usize {
        with_prepared!(&self.inner, p => p.extra.iter().map(|(s, v)| match v {
            Visible::Block(m) => *m,
            _ => s.m.nrows(),
        }).sum())
    }

    /// How the core compares embeddings.
    pub fn similarity(&self) -> Similarity {
        self.settings.similarity
    }

    /// The precision products are computed in: "f32" or "f64".
    pub fn precision(&self) -> &'static str {
        match self.inner {
            Inner::F16(_) | Inner::F32(_) => "f32",
            Inner::F64(_) => "f64",
        }
    }

    /// Number of tiles the pass computes (for progress bars).
    pub fn tile_count(&self) -> u64 {
        let (n_a, n_b, extra) = with_prepared!(&self.inner, p => (
            p.a.m.nrows(),
            p.b.as_ref().map(|b| b.m.nrows()),
            p.extra.iter().map(|(s, v)| (s.m.nrows(), *v)).collect::<Vec<_>>(),
        ));
        let block = self.settings.block.max(1);
        let one_file = self.layout.one_file();
        let main = if self.in_batch {
            kernel::tile_count(n_a, n_b.unwrap_or(n_a), block, one_file)
        } else {
            0
        };
        // The uniformity's own tiles, where the main ones do not hold its
        // pairs.
        let uniformity = if (self.in_batch && one_file) || !self.uniformity {
            0
        } else {
            kernel::uniformity_tile_count(n_a, block)
                + n_b.map_or(0, |n| kernel::uniformity_tile_count(n, block))
        };
        main + kernel::extra_tile_count(n_a, block, &extra) + uniformity
    }

    /// Runs the fused pass and returns one finding per record, in record order.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> Vec<RecordStats> {
        let mut all = self.sweep(&[self.settings.tau], progress);
        all.pop().expect("one temperature")
    }

    /// Runs the fused pass once for every temperature of `taus`: each tile's
    /// products are computed once and folded at each temperature. Returns,
    /// per temperature in the order given, one finding per record in record
    /// order, each the very bits [`Core::run`] gives at that temperature
    /// alone (the state of each temperature is that of its own pass, and
    /// its sums are merged in the same fixed order).
    pub fn sweep(&self, taus: &[f64], progress: &(dyn Fn(u64) + Sync)) -> Vec<Vec<RecordStats>> {
        self.findings(taus, progress).stats
    }

    /// [`Core::sweep`], with the uniformity of the rows taken in the same
    /// pass ([`Findings`]).
    pub fn findings(&self, taus: &[f64], progress: &(dyn Fn(u64) + Sync)) -> Findings {
        if taus.is_empty() {
            return Findings {
                stats: Vec::new(),
                uniformity: None,
            };
        }
        with_prepared!(&self.inner, p => {
            let pass = self.pass(p, taus, Purpose::Run);
            let (parts, uniformity) = pass.run_with_uniformity(progress);
            Findings {
                stats: pass.stats_of(self.layout, parts),
                uniformity,
            }
        })
    }

    /// The units of the pass in merge order, each with its tiles: what a
    /// sharded run cuts into parts ([`Plan::part`]).
    pub fn plan(&self) -> Plan {
        with_prepared!(&self.inner, p => self.pass(p, &[self.settings.tau], Purpose::Terms).plan())
    }

    /// Runs the units `pick` chooses from the plan at every temperature of
    /// `taus` (one part of a sharded run; one pass is built for both);
    /// `progress` is called with the number of tiles done. Returns the
    /// units and their sums.
    pub fn run_part(
        &self,
        taus: &[f64],
        pick: impl FnOnce(&Plan) -> Vec<Unit>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> (Vec<Unit>, PartOut) {
        with_prepared!(&self.inner, p => {
            let mut pass = self.pass(p, taus, Purpose::Part);
            let units = pick(&pass.plan());
            pass.positives_for(&units);
            let out = pass.run_part(&units, progress);
            (units, out)
        })
    }

    /// The findings [`Core::findings`] gives, from the parts of a sharded
    /// run: `check` sees the plan first (and may refuse the parts), then
    /// `next` hands over each unit's findings in the plan's order, and
    /// `above` is the parts' rank counts summed, per temperature and
    /// record. The same bits as [`Core::findings`], whatever the parts.
    pub fn sweep_from_parts<E>(
        &self,
        taus: &[f64],
        check: impl FnOnce(&Plan) -> std::result::Result<Vec<Vec<u64>>, E>,
        next: impl FnMut(Unit) -> std::result::Result<UnitOut, E>,
    ) -> std::result::Result<Findings, E> {
        with_prepared!(&self.inner, p => {
            let pass = self.pass(p, taus, Purpose::Run);
            let plan = pass.plan();
            let above = check(&plan)?;
            let (parts, uniformity) = pass.assemble(&plan, next, above)?;
            Ok(Findings {
                stats: pass.stats_of(self.layout, parts),
                uniformity,
            })
        })
    }

    /// The temperature [`Core::terms`] and [`Core::run`] use.
    pub fn tau(&self) -> f64 {
        self.settings.tau
    }

    /// Sets the temperature [`Core::terms`] and [`Core::run`] use (after a
    /// sweep, the terms of its best temperature).
    pub fn set_tau(&mut self, tau: f64) {
        self.settings.tau = tau;
    }

    /// Streams the terms of the given records, in the given order: `each` gets
    /// the record's index and its terms in candidate order. Each term's `p` is
    /// normalised by the log-sum-exp of the very logits listed (see
    /// [`softmax`]), so every `p` lies in [0, 1] and they sum to 1 whatever
    /// the precision of the pass.
    pub fn terms<E>(
        &self,
        records: &[usize],
        each: &mut TermSink<'_, E>,
    ) -> std::result::Result<(), E> {
        let tau = [self.settings.tau];
        with_prepared!(&self.inner, p => self.pass(p, &tau, Purpose::Terms).terms(self.layout, records, each))
    }

    fn pass<'s, T: Stored>(
        &'s self,
        p: &'s Prepared<'a, T>,
        taus: &[f64],
        purpose: Purpose,
    ) -> Pass<'s, 'a, T> {
        Pass::new(
            &p.a,
            p.b.as_ref(),
            &p.extra,
            self.layout,
            &self.settings,
            taus,
            purpose,
        )
        .with_objective(self.in_batch, self.decoupled)
        .with_uniformity(self.uniformity)
    }
}

/// Sets every term's `p` to `exp(logit) / sum_k exp(logit_k)` over the
/// listed terms, computed as `exp(logit - m) / (1 + rest)` with `m` the
/// largest logit and `rest` the sum of `exp(logit_k - m)` over the others:
/// the log-sum-exp `m + log1p(rest)` is never below its largest term. A
/// numerator at most 1 over a divisor at least 1 keeps every `p` in [0, 1]
/// by construction (also where `m + log1p(rest)` would round to `m`), and
/// the `p` sum to 1 up to float64 rounding: within `(n + 2) 2^-53` for n
/// terms.
pub fn softmax(terms: &mut [Term]) {
    let Some(top) = (0..terms.len()).max_by(|&a, &b| terms[a].logit.total_cmp(&terms[b].logit))
    else {
        return;
    };
    let m = terms[top].logit;
    let rest: f64 = terms
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != top)
        .map(|(_, t)| (t.logit - m).exp())
        .sum();
    let z = 1.0 + rest;
    for (k, t) in terms.iter_mut().enumerate() {
        t.p = if k == top {
            1.0 / z
        } else {
            (t.logit - m).exp() / z
        };
    }
}
