//! Per-anchor records and totals: what every output format writes, and the
//! schema of them all (each field documented here is documented in
//! `docs/json.md`).
//!
//! This is the one place the fields are listed. JSON and NDJSON are these
//! structs through serde; CSV and TSV are the same serde fields as columns,
//! in the same order, less those marked [`not_in_csv`] (see `output/csv.rs`);
//! the table and Markdown formats show the columns listed in
//! [`RECORD_COLUMNS`] and [`TERM_COLUMNS`], and the totals in sentences below
//! them (`output/table.rs`). So a new per-record figure or total is one
//! struct field with its doc line, plus one [`Column`] line if the tables
//! should show a record's figure.
//!
//! The totals are computed from the per-anchor records, never separately.

use serde::{Serialize, Serializer};

use crate::input::csv::DroppedColumn;
use crate::layout::{Direction, Layout, LayoutKind, MultiPositive};
use crate::loss::labels::PositiveTerm;
use crate::loss::{RecordStats, Similarity, Term, TermFrom, exp_or_none};

/// The totals of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Mean loss over records; in `--keys --symmetric`, the mean of both
    /// directions' means.
    pub loss: f64,
    /// The temperature.
    pub tau: f64,
    /// `cosine` or `dot`.
    pub similarity: Similarity,
    /// `two-view`, `pairs` or `keys`.
    pub layout: LayoutKind,
    /// Whether reversed records were added (`--symmetric`).
    pub symmetric: bool,
    /// Precision of the similarity products: `f32` or `f64`.
    pub precision: &'static str,
    /// Why float32 input was multiplied in float64 although `--precision`
    /// did not ask for it; absent otherwise (in CSV an empty cell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_note: Option<String>,
    /// Element type of the (first) input file.
    pub input_dtype: String,
    /// Number of records (anchor, positive).
    pub n_anchors: usize,
    /// Candidates per anchor (the terms of each denominator); with
    /// `--negatives`, those of the forward records, extra negatives
    /// included.
    pub n_candidates: usize,
    /// `shared` or `per-anchor`: the extra negatives (`--negatives`);
    /// absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negatives: Option<NegativesKind>,
    /// Extra negatives each forward anchor sees; absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_negatives: Option<usize>,
    /// Whether the layout's own candidates stay beside the extra negatives
    /// (false under `--no-in-batch`); absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_batch: Option<bool>,
    /// The decoupled loss (`--decoupled`): each denominator leaves its
    /// positive out; absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decoupled: bool,
    /// Embedding dimension.
    pub dimension: usize,
    /// Columns of text input left out (pandas' index); absent when none.
    /// In the CSV totals one cell, `FILE:COLUMN` for each, empty when none;
    /// the tables say it below the totals.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "not_in_csv")]
    pub dropped_columns: Vec<DroppedColumn>,
    /// Share of records whose positive ranks first.
    pub top1_accuracy: f64,
    /// Mean rank of the positive.
    pub mean_rank: f64,
    /// Retrieval and representation metrics of every record. In CSV, the
    /// columns [`metric_columns`] names, after the other totals.
    #[serde(serialize_with = "not_in_csv")]
    pub metrics: Metrics,
    /// Labels layout: how each anchor's positives are reduced, `supcon`
    /// (`loss` is the mean over anchors) or `pairwise` (`loss` is the mean
    /// over positive pairs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_positive: Option<MultiPositive>,
    /// Labels layout: the number of positive pairs (anchor, positive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_positive_pairs: Option<usize>,
    /// Labels layout with `pairwise`: the mean over anchors of each
    /// anchor's mean pair loss (`loss` is the mean over pairs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_mean_over_anchors: Option<f64>,
    /// Labels layout: anchors left out of every mean, having no positive
    /// (no other row has their label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_skipped: Option<usize>,
    /// Labels layout: the rows of those anchors, in increasing order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_anchors: Option<Vec<usize>>,
    /// Per-direction totals, in the keys layout only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directions: Option<Vec<DirectionSummary>>,
    /// The anchors `--anchor` chose, in increasing order, when the records
    /// written are theirs only; the totals above are still every record's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_anchors: Option<Vec<usize>>,
    /// With several temperatures (`--tau` as a list or range): the one of
    /// lowest mean loss (the first of equals), whose figures are `loss`,
    /// `tau` and every record; absent with one temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_tau: Option<f64>,
    /// The mean loss at `best_tau` (equal to `loss`); absent with one
    /// temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_loss: Option<f64>,
    /// The totals at each temperature of a sweep, in the order given; in
    /// CSV, each temperature's figures as columns suffixed with its tau
    /// (`loss_0.05`, `top1_accuracy_0.05`, ...). Absent with one temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Vec<SweepEntry>>,
}

/// The totals of one temperature of a sweep, from the records at that
/// temperature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepEntry {
    /// The temperature; in CSV, the suffix of the other fields' column names.
    pub tau: f64,
    /// Mean loss, as the top-level `loss` would be at this tau.
    pub loss: f64,
    /// Share of records whose positive ranks first.
    pub top1_accuracy: f64,
    /// Mean reciprocal rank: the mean over records of 1 / rank.
    pub mrr: f64,
    /// Mean over records of p_positive.
    pub mean_p_positive: f64,
}

/// How the extra negatives are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NegativesKind {
    /// A 2-D file: one set seen by every forward anchor.
    Shared,
    /// A 3-D file (A, M, d): anchor a sees its own M.
    PerAnchor,
}

/// The extra negatives and the loss of a run, as the core has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Objective {
    /// The extra negatives: their kind and how many each forward anchor sees.
    pub negatives: Option<(NegativesKind, usize)>,
    pub in_batch: bool,
    pub decoupled: bool,
}

/// For `#[serde(serialize_with = "not_in_csv")]`: a field that CSV and TSV
/// leave out, while JSON and NDJSON write it as usual. The value goes to
/// serde as a newtype named [`NOT_IN_CSV`], which serde_json writes as the
/// value itself and the CSV writer as no column.
pub fn not_in_csv<T: Serialize + ?Sized, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_newtype_struct(NOT_IN_CSV, v)
}

/// The name [`not_in_csv`] gives its newtype.
pub const NOT_IN_CSV: &str = "infonce::NotInCsv";

/// Totals of one direction of the keys layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirectionSummary {
    /// `query_to_key` or `key_to_query`; in CSV, the suffix of the other
    /// fields' column names (`loss_query_to_key`).
    pub direction: Direction,
    /// Mean loss over this direction's records.
    pub loss: f64,
    /// Number of this direction's records.
    pub n_anchors: usize,
    /// Share of them whose positive ranks first.
    pub top1_accuracy: f64,
    /// Mean rank of their positives.
    pub mean_rank: f64,
    /// This direction's metrics; in CSV, the columns [`metric_columns`]
    /// names with the direction as suffix (`mrr_query_to_key`).
    #[serde(serialize_with = "not_in_csv")]
    pub metrics: Metrics,
}

/// The `--top-k` default.
pub const DEFAULT_TOP_K: &[u64] = &[1, 5, 10];

/// The share of records whose positive ranks k-th or better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TopK {
    pub k: u64,
    /// Share of records of rank at most `k`.
    pub accuracy: f64,
}

/// Retrieval and representation metrics over a set of records, each from
/// what the core found for them: ranks, losses and positive similarities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Top-k accuracy for each k of `--top-k`, in increasing order.
    pub top_k: Vec<TopK>,
    /// Mean reciprocal rank: the mean of 1 / rank.
    pub mrr: f64,
    /// Mean rank of the positive.
    pub mean_rank: f64,
    /// The mean of ln |C(a)| less the mean loss: CPC's lower bound on the
    /// mutual information of anchor and positive, in nats (meaningful only
    /// where the negatives are drawn independently of the anchor).
    pub cpc_bound_nats: f64,
    /// Wang & Isola's alignment: the mean of |x_a - x_p|^2 over the records,
    /// on L2-normalised rows (2 - 2 cos(a, p)).
    pub alignment: f64,
    /// Wang & Isola's uniformity of the rows, taken by the core in its pass
    /// (see `math.md`): in the totals of a run only (a direction's metrics
    /// have none), and absent where a view, the queries or the keys hold a
    /// single row (no pair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniformity: Option<f64>,
}

/// What [`Metrics`] needs of one record besides the record itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInputs {
    /// |C(a)|: the record's candidates.
    pub n_candidates: usize,
    /// |x_a - x_p|^2 of the L2-normalised rows: 2 - 2 cos(a, p).
    pub distance2: f64,
}

impl MetricInputs {
    /// The inputs of a record of similarity `sim` between rows of norms
    /// `norm_a` and `norm_p`. Under dot similarity cos(a, p) is `sim` over
    /// the norms; under cosine `sim` is cos(a, p) already. A zero row
    /// normalises to zero, as torch's `F.normalize` leaves it (dot only:
    /// cosine refuses zero rows): |x_a - x_p|^2 is then the squared norm of
    /// the other row, 1 or 0.
    pub fn new(
        n_candidates: usize,
        sim: f64,
        similarity: Similarity,
        norm_a: f64,
        norm_p: f64,
    ) -> MetricInputs {
        let distance2 = match similarity {
            Similarity::Cosine => 2.0 - 2.0 * sim,
            Similarity::Dot if norm_a == 0.0 || norm_p == 0.0 => {
                f64::from(u8::from(norm_a > 0.0)) + f64::from(u8::from(norm_p > 0.0))
            }
            Similarity::Dot => 2.0 - 2.0 * (sim / norm_a / norm_p),
        };
        MetricInputs {
            n_candidates,
            // Rounding may take a cosine a little past +-1.
            distance2: distance2.clamp(0.0, 4.0),
        }
    }
}

/// Top-k accuracy of `records` for each k of `ks`.
fn top_k<'a>(records: impl Iterator<Item = &'a AnchorRecord> + Clone, ks: &[u64]) -> Vec<TopK> {
    ks.iter()
        .map(|&k| TopK {
            k,
            accuracy: mean(records.clone().map(|r| f64::from(u8::from(r.rank <= k)))),
        })
        .collect()
}

impl Metrics {
    /// The metrics of `records` (with their [`MetricInputs`]) for the top-k
    /// accuracies `ks` (sorted, each at least 1). A set without records has metrics of 0.
    pub fn of<'a>(
        records: impl Iterator<Item = (&'a AnchorRecord, MetricInputs)> + Clone,
        ks: &[u64],
    ) -> Metrics {
        let top_k = top_k(records.clone().map(|(r, _)| r), ks);
        let ln_c = mean(records.clone().map(|(_, m)| (m.n_candidates as f64).ln()));
        let loss = mean(records.clone().map(|(r, _)| r.loss));
        Metrics {
            top_k,
            mrr: mean(records.clone().map(|(r, _)| 1.0 / r.rank as f64)),
            mean_rank: mean(records.clone().map(|(r, _)| r.rank as f64)),
            cpc_bound_nats: ln_c - loss,
            alignment: mean(records.map(|(_, m)| m.distance2)),
            uniformity: None,
        }
    }
}

/// The columns CSV and TSV give the metrics of `m`, after the other totals:
/// `top1`, `top5`, ... (one per k), `mrr`, `cpc_bound_nats`, `alignment`,
/// and for the totals (no `suffix`) `uniformity`, empty (`None`) where it
/// was not taken; each name followed by `_` and `suffix` when there is one
/// (a direction).
/// (`mean_rank` is a column of the totals already.)
pub fn metric_columns(m: &Metrics, suffix: Option<&str>) -> Vec<(String, Option<f64>)> {
    let name = |n: String| match suffix {
        Some(s) => format!("{n}_{s}"),
        None => n,
    };
    let mut cols: Vec<(String, Option<f64>)> = m
        .top_k
        .iter()
        .map(|t| (name(format!("top{}", t.k)), Some(t.accuracy)))
        .collect();
    cols.push((name("mrr".into()), Some(m.mrr)));
    cols.push((name("cpc_bound_nats".into()), Some(m.cpc_bound_nats)));
    cols.push((name("alignment".into()), Some(m.alignment)));
    // The totals' uniformity is a column in every run, empty where it was
    // not taken, so that the header does not depend on the layout.
    if suffix.is_none() {
        cols.push((name("uniformity".into()), m.uniformity));
    }
    cols
}

/// Every figure of one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnchorRecord {
    /// Row of the anchor in its own file.
    pub anchor: usize,
    /// Row of the positive in the candidates' file (labels layout: the
    /// best of the anchor's positives, the one `rank` is about).
    pub positive: usize,
    /// Labels layout: every positive of the anchor, in row order (in CSV
    /// one cell, separated by spaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positives: Option<Vec<usize>>,
    /// `query_to_key` or `key_to_query`, in the keys layout only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// s(anchor, positive) (labels layout: the mean over the positives).
    pub sim: f64,
    /// s / tau.
    pub logit: f64,
    /// exp(logit); `null` when it overflows float64.
    pub numerator: Option<f64>,
    /// log of the numerator (equal to `logit`).
    pub log_numerator: f64,
    /// Sum of exp(logit) over all candidates; `null` when it overflows.
    pub denominator: Option<f64>,
    /// log of the denominator, always finite.
    pub log_denominator: f64,
    /// -log(numerator / denominator).
    pub loss: f64,
    /// numerator / denominator: the softmax probability of the positive.
    pub p_positive: f64,
    /// 1 + candidates scoring strictly above the positive (ties favour it;
    /// labels layout: the best positive, counting only candidates that are
    /// not positives).
    pub rank: u64,
    /// Labels layout: each positive's row, similarity, logit and term of
    /// the loss. Not in CSV (the positives' similarities and logits are in
    /// the `--terms` rows).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "not_in_csv")]
    pub positive_terms: Option<Vec<PositiveTerm>>,
    /// The core's record behind this one, whose terms `--terms` lists.
    #[serde(skip)]
    pub record: usize,
}

/// One softmax term as a row of its own, as CSV and TSV write the terms:
/// which record it belongs to, then the term (JSON nests the terms in their
/// record instead, as [`Term`]s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermRow {
    /// The record's anchor.
    pub anchor: usize,
    /// The record's positive.
    pub positive: usize,
    /// The record's direction, in the keys layout only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Row of the candidate in the candidates' file, or with `from` in
    /// the file it names.
    pub index: usize,
    /// `candidates` or `negatives`: the file `index` counts in; only in
    /// runs with `--negatives`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<TermFrom>,
    /// Whether the candidate is the record's positive (labels layout: one
    /// of the anchor's positives).
    pub is_positive: bool,
    /// s(anchor, candidate).
    pub sim: f64,
    /// s / tau.
    pub logit: f64,
    /// exp(logit); empty when it overflows float64.
    pub exp: Option<f64>,
    /// The softmax probability exp(logit) / denominator.
    pub p: f64,
}

impl TermRow {
    pub fn new(r: &AnchorRecord, t: &Term) -> TermRow {
        TermRow {
            anchor: r.anchor,
            positive: r.positive,
            direction: r.direction,
            index: t.index,
            from: t.from,
            // A negative is never the positive, whatever its index.
            is_positive: t.from != Some(TermFrom::Negatives)
                && match &r.positives {
                    Some(ps) => ps.binary_search(&t.index).is_ok(),
                    None => t.index == r.positive,
                },
            sim: t.sim,
            logit: t.logit,
            exp: t.exp,
            p: t.p,
        }
    }
}

/// A figure as the table formats show it; the writer rounds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// No value: a column whose every cell is absent is not shown.
    Absent,
    Int(u64),
    /// Rounded to 6 significant digits.
    Figure(f64),
    /// A linear-space value that may have overflowed (`None`), with its log:
    /// the number, or `e^log`.
    Linear(Option<f64>, f64),
    Text(&'static str),
    /// A row number, starred when the flag is set (the positive among terms).
    Marked(u64, bool),
}

/// A column of the table and Markdown formats: its header and its cell.
pub struct Column<T> {
    pub header: &'static str,
    pub cell: fn(&T) -> Cell,
}

const fn col<T>(header: &'static str, cell: fn(&T) -> Cell) -> Column<T> {
    Column { header, cell }
}

/// How the tables name a direction.
fn arrow(d: Direction) -> Cell {
    Cell::Text(match d {
        Direction::QueryToKey => "q->k",
        Direction::KeyToQuery => "k->q",
    })
}

/// The columns of the records' table, in order.
pub const RECORD_COLUMNS: &[Column<AnchorRecord>] = &[
    col("anchor", |r| Cell::Int(r.anchor as u64)),
    col("positive", |r| Cell::Int(r.positive as u64)),
    col("positives", |r| {
        r.positives
            .as_ref()
            .map_or(Cell::Absent, |p| Cell::Int(p.len() as u64))
    }),
    col("dir", |r| r.direction.map_or(Cell::Absent, arrow)),
    col("sim", |r| Cell::Figure(r.sim)),
    col("logit", |r| Cell::Figure(r.logit)),
    col("numerator", |r| Cell::Linear(r.numerator, r.log_numerator)),
    col("denominator", |r| {
        Cell::Linear(r.denominator, r.log_denominator)
    }),
    col("p_positive", |r| Cell::Figure(r.p_positive)),
    col("loss", |r| Cell::Figure(r.loss)),
    col("rank", |r| Cell::Int(r.rank)),
];

/// The columns of a record's table of terms, in order.
pub const TERM_COLUMNS: &[Column<TermRow>] = &[
    col("from", |t| match t.from {
        None => Cell::Absent,
        Some(TermFrom::Candidates) => Cell::Text("candidates"),
        Some(TermFrom::Negatives) => Cell::Text("negatives"),
    }),
    col("index", |t| Cell::Marked(t.index as u64, t.is_positive)),
    col("sim", |t| Cell::Figure(t.sim)),
    col("logit", |t| Cell::Figure(t.logit)),
    col("exp", |t| Cell::Linear(t.exp, t.logit)),
    col("p", |t| Cell::Figure(t.p)),
];

/// A whole run's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub summary: Summary,
    pub records: Vec<AnchorRecord>,
}

/// What the summary needs besides the records.
pub struct Context<'a> {
    pub layout: &'a Layout,
    pub tau: f64,
    pub similarity: Similarity,
    pub precision: &'static str,
    pub precision_note: Option<String>,
    pub input_dtype: String,
    pub dimension: usize,
    pub dropped_columns: Vec<DroppedColumn>,
    /// The row norms of the first file and of the keys (for the cosine of
    /// each record under dot similarity).
    pub norms: (&'a [f64], Option<&'a [f64]>),
    /// Candidates of a forward and of a backward record (extra negatives
    /// and `--no-in-batch` included).
    pub n_candidates: (usize, usize),
    pub objective: Objective,
}

/// Neumaier's compensated mean: the mean of many losses to the last digit.
fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut comp, mut n) = (0.0f64, 0.0f64, 0usize);
    for x in xs {
        let t = sum + x;
        comp += if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
        sum = t;
        n += 1;
    }
    if n == 0 { 0.0 } else { (sum + comp) / n as f64 }
}

fn totals<'a>(recs: impl Iterator<Item = &'a AnchorRecord> + Clone) -> (f64, usize, f64, f64) {
    let n = recs.clone().count();
    let loss = mean(recs.clone().map(|r| r.loss));
    let top1 = mean(recs.clone().map(|r| if r.rank == 1 { 1.0 } else { 0.0 }));
    let rank = mean(recs.map(|r| r.rank as f64));
    (loss, n, top1, rank)
}

impl Report {
    /// Builds the report from the core's findings, one per layout record.
    pub fn new(ctx: Context<'_>, stats: &[RecordStats]) -> Report {
        let layout = ctx.layout;
        if let Some(info) = &layout.labels {
            return Report::labels(ctx, stats, info.reduction, &info.skipped);
        }
        let (first_norms, second_norms) = ctx.norms;
        let mut inputs = Vec::with_capacity(stats.len());
        let records: Vec<AnchorRecord> = layout
            .records
            .iter()
            .zip(stats)
            .enumerate()
            .map(|(k, (r, s))| {
                let f = s.finish();
                // The anchor's file and the candidates' file.
                let (of_anchor, of_candidates) = match (second_norms, r.backward) {
                    (Some(keys), true) => (keys, first_norms),
                    (Some(keys), false) => (first_norms, keys),
                    (None, _) => (first_norms, first_norms),
                };
                let norm = |n: &[f64], row: usize| n.get(row).copied().unwrap_or(f64::NAN);
                inputs.push(MetricInputs::new(
                    if r.backward {
                        ctx.n_candidates.1
                    } else {
                        ctx.n_candidates.0
                    },
                    s.sim,
                    ctx.similarity,
                    norm(of_anchor, r.anchor),
                    norm(of_candidates, r.positive),
                ));
                AnchorRecord {
                    anchor: r.anchor,
                    positive: r.positive,
                    direction: layout.direction(r),
                    sim: s.sim,
                    logit: s.logit,
                    numerator: f.numerator,
                    log_numerator: f.log_numerator,
                    denominator: f.denominator,
                    log_denominator: f.log_denominator,
                    loss: f.loss,
                    p_positive: f.p_positive,
                    rank: s.rank,
                    positives: None,
                    positive_terms: None,
                    record: k,
                }
            })
            .collect();
        let with_inputs = || records.iter().zip(inputs.iter().copied());
        let (mut loss, n, top1, rank) = totals(records.iter());
        let directions = (layout.kind == LayoutKind::Keys).then(|| {
            [Direction::QueryToKey, Direction::KeyToQuery]
                .into_iter()
                .filter_map(|d| {
                    let of_d = records.iter().filter(move |r| r.direction == Some(d));
                    let (loss, n, top1, rank) = totals(of_d);
                    let metrics = Metrics::of(
                        with_inputs().filter(move |(r, _)| r.direction == Some(d)),
                        DEFAULT_TOP_K,
                    );
                    (n > 0).then_some(DirectionSummary {
                        direction: d,
                        loss,
                        n_anchors: n,
                        top1_accuracy: top1,
                        mean_rank: rank,
                        metrics,
                    })
                })
                .collect::<Vec<_>>()
        });
        if let Some(ds) = &directions {
            loss = mean(ds.iter().map(|d| d.loss));
        }
        let metrics = Metrics::of(with_inputs(), DEFAULT_TOP_K);
        Report {
            summary: Summary {
                loss,
                tau: ctx.tau,
                similarity: ctx.similarity,
                layout: layout.kind,
                symmetric: layout.symmetric,
                precision: ctx.precision,
                precision_note: ctx.precision_note,
                input_dtype: ctx.input_dtype,
                n_anchors: n,
                n_candidates: ctx.n_candidates.0,
                negatives: ctx.objective.negatives.map(|(k, _)| k),
                n_negatives: ctx.objective.negatives.map(|(_, m)| m),
                in_batch: ctx.objective.negatives.map(|_| ctx.objective.in_batch),
                decoupled: ctx.objective.decoupled,
                dimension: ctx.dimension,
                dropped_columns: ctx.dropped_columns,
                top1_accuracy: top1,
                mean_rank: rank,
                metrics,
                multi_positive: None,
                n_positive_pairs: None,
                loss_mean_over_anchors: None,
                n_skipped: None,
                skipped_anchors: None,
                directions,
                selected_anchors: None,
                best_tau: None,
                best_loss: None,
                sweep: None,
            },
            records,
        }
    }

    /// The report of the labels layout: one record per anchor with a
    /// positive ([`crate::loss::labels`] reduces its records). Its metrics
    /// read each anchor's record: the rank of its best positive, its loss,
    /// and for the alignment the mean over its positives.
    fn labels(
        ctx: Context<'_>,
        stats: &[RecordStats],
        reduction: MultiPositive,
        skipped: &[usize],
    ) -> Report {
        let layout = ctx.layout;
        let (norms, _) = ctx.norms;
        let norm = |row: usize| norms.get(row).copied().unwrap_or(f64::NAN);
        let n_candidates = ctx.n_candidates.0;
        let anchors = crate::loss::labels::anchors(layout, stats, reduction);
        let mut inputs = Vec::with_capacity(anchors.len());
        let records: Vec<AnchorRecord> = anchors
            .into_iter()
            .map(|a| {
                let distance2 = mean(a.terms.iter().map(|t| {
                    MetricInputs::new(
                        n_candidates,
                        t.sim,
                        ctx.similarity,
                        norm(a.anchor),
                        norm(t.index),
                    )
                    .distance2
                }));
                inputs.push(MetricInputs {
                    n_candidates,
                    distance2,
                });
                let log_numerator = a.log_denominator - a.loss;
                AnchorRecord {
                    anchor: a.anchor,
                    positive: layout.records[a.best].positive,
                    positives: Some(a.terms.iter().map(|t| t.index).collect()),
                    direction: None,
                    sim: a.sim,
                    logit: a.logit,
                    numerator: exp_or_none(log_numerator),
                    log_numerator,
                    denominator: exp_or_none(a.log_denominator),
                    log_denominator: a.log_denominator,
                    loss: a.loss,
                    p_positive: (-a.loss).exp(),
                    rank: a.rank,
                    positive_terms: Some(a.terms),
                    record: a.best,
                }
            })
            .collect();
        let (anchor_mean, n, top1, rank) = totals(records.iter());
        let pair_losses = || {
            records
                .iter()
                .flat_map(|r| r.positive_terms.iter().flatten().map(|t| t.loss))
        };
        let n_pairs = pair_losses().count();
        let (loss, over_anchors) = match reduction {
            MultiPositive::Supcon => (anchor_mean, None),
            MultiPositive::Pairwise => (mean(pair_losses()), Some(anchor_mean)),
        };
        let metrics = Metrics::of(records.iter().zip(inputs.iter().copied()), DEFAULT_TOP_K);
        Report {
            summary: Summary {
                loss,
                tau: ctx.tau,
                similarity: ctx.similarity,
                layout: layout.kind,
                symmetric: false,
                precision: ctx.precision,
                precision_note: ctx.precision_note,
                input_dtype: ctx.input_dtype,
                n_anchors: n,
                n_candidates,
                negatives: ctx.objective.negatives.map(|(k, _)| k),
                n_negatives: ctx.objective.negatives.map(|(_, m)| m),
                in_batch: ctx.objective.negatives.map(|_| ctx.objective.in_batch),
                decoupled: ctx.objective.decoupled,
                dimension: ctx.dimension,
                dropped_columns: ctx.dropped_columns,
                top1_accuracy: top1,
                mean_rank: rank,
                metrics,
                multi_positive: Some(reduction),
                n_positive_pairs: Some(n_pairs),
                loss_mean_over_anchors: over_anchors,
                n_skipped: Some(skipped.len()),
                skipped_anchors: Some(skipped.to_vec()),
                directions: None,
                selected_anchors: None,
                best_tau: None,
                best_loss: None,
                sweep: None,
            },
            records,
        }
    }

    /// Sets the top-k accuracies of the totals to those of `ks` (sorted,
    /// each at least 1), over every record of the report: call it before
    /// the report is cut down to some records.
    pub fn set_top_k(&mut self, ks: &[u64]) {
        let s = &mut self.summary;
        s.metrics.top_k = top_k(self.records.iter(), ks);
        for d in s.directions.iter_mut().flatten() {
            let dir = Some(d.direction);
            d.metrics.top_k = top_k(self.records.iter().filter(|r| r.direction == dir), ks);
        }
    }

    /// Sets the uniformity of the totals (the core's, from the same pass as
    /// the records: [`crate::loss::Findings`]).
    pub fn set_uniformity(&mut self, uniformity: Option<f64>) {
        self.summary.metrics.uniformity = uniformity;
    }

    /// This report's totals as one temperature of a sweep.
    pub fn sweep_entry(&self) -> SweepEntry {
        let recs = &self.records;
        SweepEntry {
            tau: self.summary.tau,
            loss: self.summary.loss,
            top1_accuracy: self.summary.top1_accuracy,
            mrr: mean(recs.iter().map(|r| 1.0 / r.rank as f64)),
            mean_p_positive: mean(recs.iter().map(|r| r.p_positive)),
        }
    }

    /// The report of a sweep from the reports at each of its temperatures
    /// (at least two, in the order swept): that of the lowest mean loss
    /// (the first of equals), with every temperature's totals in `sweep`.
    /// Returns it and the index of its temperature.
    pub fn of_sweep(reports: Vec<Report>) -> (Report, usize) {
        let sweep: Vec<SweepEntry> = reports.iter().map(Report::sweep_entry).collect();
        let best = (0..sweep.len())
            .min_by(|&a, &b| sweep[a].loss.total_cmp(&sweep[b].loss))
            .expect("a sweep has temperatures");
        let mut report = reports.into_iter().nth(best).expect("in range");
        report.summary.best_tau = Some(sweep[best].tau);
        report.summary.best_loss = Some(sweep[best].loss);
        report.summary.sweep = Some(sweep);
        (report, best)
    }
}

#[cfg(test)]
mod tests {
    use super::mean;

    #[test]
    fn compensated_mean_keeps_small_terms() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(mean(xs.into_iter()), 0.5);
        assert_eq!(mean(std::iter::empty()), 0.0);
    }
}
