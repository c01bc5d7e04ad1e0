//! `infonce explain`: the computation of one anchor, step by step, in the
//! voice of a worked example: every intermediate figure is printed.
//!
//! Every figure comes from the core, exactly as `compute` reports it: the
//! record's figures from [`RecordStats::finish`](crate::loss::RecordStats::finish)
//! through the [`Report`], its terms from [`Core::terms`](crate::loss::Core::terms),
//! the batch loss from the report's summary, and each row of the temperature
//! table from another run of the same core, each run the one `compute` makes
//! ([`Session::run`]). This module only selects, rounds and arranges them;
//! the arithmetic it writes out itself (a dot product, a sum of rounded terms)
//! is there to be read, never in place of a figure of the core.
//!
//! Here the flags are resolved ([`DataJob::for_explain`]), the core is run
//! and its findings gathered into [`Facts`];
//! `steps.rs` selects once what to say for the layout, the origin and the
//! figures, and turns the facts into a document and the JSON steps, each
//! sentence a template of the language's sentence table (`lang_en.rs`,
//! `lang_zh.rs`) filled in by the one renderer of `words.rs`; `text.rs`,
//! `markdown.rs` and `json.rs` render them. With `--labels`, `labels.rs`
//! builds the shorter walkthrough of one anchor and all its positives from
//! the same pieces.

mod json;
mod labels;
mod lang_en;
mod lang_zh;
mod markdown;
mod steps;
mod text;
mod words;

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::cli::{DirectionArg, ExplainArgs, ExplainFormat};
use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values};
use crate::job::{DataJob, Loaded};
use crate::layout::{Direction, Layout};
use crate::loss::data::{Data, File, Policy};
use crate::loss::{Settings, Similarity, Term, TermFrom};
use crate::report::{AnchorRecord, Report};
use crate::run::{Session, Silent};

use steps::Math;

/// The tutorial's four embeddings z1..z4 (the rows of `fixtures/seed.csv`):
/// z1 and z3 are two views of one data point, z2 and z4 of another.
pub const EXAMPLE: [[f64; 4]; 4] = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.9, 0.3, 0.3, 0.1],
    [0.1, 0.7, 0.1, 0.7],
];

/// The temperatures of the table that shows what tau does (the walkthrough's
/// own tau is added when it is not among them).
pub const SWEEP_TAUS: [f64; 4] = [0.05, 0.1, 0.5, 1.0];

/// Where the data came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The tutorial's example, built in.
    Example,
    /// The user's files.
    Data {
        name: String,
        pairs: Option<String>,
        keys: Option<String>,
        /// The `--negatives` file.
        negatives: Option<String>,
    },
}

/// How the explained record was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Nothing was asked for: the first record.
    Default,
    /// `--anchor`, `--direction` or `--positive`.
    Anchor,
    /// `--record`.
    Record,
}

/// How rows are named: `z1`..`z4` in the example (1-based, as the tutorial
/// does), `z[i]` for rows of one file, `q[i]` and `k[i]` for queries and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Example,
    Rows,
    Keys,
}

impl Names {
    fn label(self, from_keys: bool, row: usize) -> Math {
        match self {
            Names::Example => Math::new(format!("z{}", row + 1), format!("z_{{{}}}", row + 1)),
            Names::Rows => Math::same(format!("z[{row}]")),
            Names::Keys => Math::same(format!("{}[{row}]", if from_keys { "k" } else { "q" })),
        }
    }

    /// The anchor of a record (a key-to-query record's anchor is a key).
    pub fn anchor(self, r: &AnchorRecord) -> Math {
        self.label(r.direction == Some(Direction::KeyToQuery), r.anchor)
    }

    /// A candidate of a record (a query-to-key record's candidates are keys).
    pub fn candidate(self, r: &AnchorRecord, row: usize) -> Math {
        self.label(r.direction == Some(Direction::QueryToKey), row)
    }

    /// A row of the `--negatives` file (for per-anchor negatives, the
    /// place among the anchor's own).
    pub fn negative(self, row: usize) -> Math {
        Math::same(format!("neg[{row}]"))
    }

    /// The name of a candidate as a term of the core names it.
    pub fn of_term(self, r: &AnchorRecord, t: &Term) -> Math {
        if from_negatives(t) {
            self.negative(t.index)
        } else {
            self.candidate(r, t.index)
        }
    }

    /// The first index of the formulas: 1 for the tutorial's z1..z4, 0 for
    /// rows of a file.
    pub fn base(self) -> usize {
        match self {
            Names::Example => 1,
            _ => 0,
        }
    }
}

/// One embedding as shown: its name, its row and its values.
#[derive(Debug, Clone)]
pub struct Vector {
    pub label: Math,
    pub row: usize,
    pub values: Vec<f64>,
    /// A row of the `--negatives` file, not of the candidates' file.
    pub from_negatives: bool,
}

/// True for a term of an extra negative (`--negatives`).
pub fn from_negatives(t: &Term) -> bool {
    t.from == Some(TermFrom::Negatives)
}

/// True for the record's positive among its terms.
pub fn is_positive(t: &Term, r: &AnchorRecord) -> bool {
    t.index == r.positive && !from_negatives(t)
}

/// A term of the denominator that is listed one by one.
#[derive(Debug, Clone)]
pub struct Listed {
    pub term: Term,
    pub positive: bool,
    pub vector: Vector,
}

/// The terms that are not listed, summed in one line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rest {
    pub count: usize,
    /// The sum of their exp terms, when each of them fits a float64.
    pub exp_sum: Option<f64>,
    /// The log of that sum, written out from their logits (it is finite
    /// when the sum overflows).
    pub log_sum: f64,
    /// Their share of the denominator: the sum of their softmax terms.
    pub share: f64,
}

/// The record's denominator, term by term, as the core streamed it.
#[derive(Debug, Clone)]
pub struct Breakdown {
    /// Number of candidates (terms of the denominator).
    pub n: usize,
    /// The positive and the strongest negatives: in candidate order when all
    /// of them are listed, otherwise the positive first and the negatives
    /// strongest first.
    pub listed: Vec<Listed>,
    pub rest: Option<Rest>,
    /// The largest logit of all candidates: what log-sum-exp subtracts.
    pub max_logit: f64,
    /// The sum of the negatives' softmax terms.
    pub negatives_share: f64,
    /// Negatives whose similarity equals the positive's to the digits shown.
    pub ties: Vec<usize>,
    /// True when some term leaves float64's range (overflows to infinity or
    /// underflows to 0), so that every term is shown in log form.
    pub out_of_range: bool,
    /// The positive's place among the candidates in candidate order: the
    /// class label of the cross-entropy.
    pub target: usize,
    /// The negatives whose logit is above the positive's: how many, and
    /// their share of the denominator together.
    pub above: (usize, f64),
}

impl Breakdown {
    pub fn positive(&self) -> &Listed {
        self.listed
            .iter()
            .find(|l| l.positive)
            .expect("the positive is always listed")
    }

    /// The listed negatives, heaviest first.
    pub fn heaviest(&self) -> Vec<&Listed> {
        let mut neg: Vec<&Listed> = self.listed.iter().filter(|l| !l.positive).collect();
        neg.sort_by(|a, b| b.term.logit.total_cmp(&a.term.logit));
        neg
    }
}

/// One row of the temperature table: the same data through the core at `tau`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepRow {
    pub tau: f64,
    /// The explained record's loss and p_positive at this tau.
    pub loss: f64,
    pub p_positive: f64,
    /// The share of the hardest negative (the one of highest similarity) in
    /// the denominator, and in the negatives' part of it.
    pub hardest_p: Option<f64>,
    pub hardest_of_negatives: Option<f64>,
    /// The batch loss at this tau.
    pub mean_loss: f64,
    /// True for the walkthrough's own tau.
    pub current: bool,
}

/// The same record with its hardest negative moved closer to the anchor: a
/// core run on the modified vectors.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The negative moved, its row in the candidates' file.
    pub candidate: usize,
    pub label: Math,
    /// Its vector after the move.
    pub moved: Vec<f64>,
    /// Its term before and after.
    pub before: Term,
    pub after: Term,
    /// The record's figures on the modified vectors.
    pub record: AnchorRecord,
    /// The terms of the modified record when all are listed (in candidate
    /// order), for writing out the sum.
    pub terms: Option<Vec<Term>>,
}

/// Everything the walkthrough shows, as the core found it.
pub struct Facts {
    pub origin: Origin,
    pub names: Names,
    pub report: Report,
    /// Rows of the first file (embeddings or queries) and of the keys.
    pub rows: (usize, usize),
    /// The explained record's index.
    pub record: usize,
    /// How it was picked, and the other records of the same anchor row.
    pub pick: Pick,
    pub others: Vec<usize>,
    pub anchor: Vector,
    pub breakdown: Breakdown,
    pub sweep: Vec<SweepRow>,
    /// Candidates that are exact copies of the positive (false negatives).
    pub duplicates: Vec<usize>,
    /// The hard-negative variant, where the hardest negative's similarity is
    /// below the positive's by more than [`HARD_MARGIN`].
    pub variant: Option<Variant>,
    /// The loss at a temperature large enough to show the upper limit.
    pub flat: Option<(f64, f64)>,
}

/// How far below the positive's similarity the hard-negative variant puts
/// the hardest negative.
pub const HARD_MARGIN: f64 = 0.1;

/// The temperature at which the loss shows its limit log(n).
pub const FLAT_TAU: f64 = 1000.0;

impl Facts {
    pub fn record(&self) -> &AnchorRecord {
        &self.report.records[self.record]
    }

    pub fn is_example(&self) -> bool {
        matches!(self.origin, Origin::Example)
    }

    /// True when the numerator or the denominator overflows float64, or a
    /// term underflows, so that the figures are given in log form.
    pub fn log_form(&self) -> bool {
        self.record().denominator.is_none() || self.breakdown.out_of_range
    }
}

/// Runs `explain` and writes the walkthrough.
pub fn run(args: &ExplainArgs) -> Result<()> {
    let voice = words::of(args.lang, args.glossary);
    let out = if args.data.labels.is_some() {
        // One anchor with several positives: a walkthrough of its own.
        labels::render(args, &voice, color_wanted())?
    } else {
        let facts = gather(args)?;
        let walk = steps::build(&facts, &voice);
        match args.format {
            ExplainFormat::Text => text::render(&walk, color_wanted()),
            ExplainFormat::Markdown => markdown::render(&walk),
            ExplainFormat::Json => json::render(&facts, &walk, voice.code()),
        }
    };
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Output {
            what: "standard output".into(),
            source,
        })
}

/// Colour only on a terminal, and never when NO_COLOR is set to something.
fn color_wanted() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The tutorial's example as loaded data: one float64 file, two views,
/// under the checks a file gets (a tau too small for its logits is refused,
/// not explained in NaN).
fn example_data(settings: Settings) -> Result<Loaded> {
    let name = "the built-in example";
    let values: Vec<f64> = EXAMPLE.iter().flatten().copied().collect();
    let first = Embeddings {
        name: name.into(),
        source_dtype: "float64".into(),
        values: Values::F64(Matrix::from_rows(EXAMPLE.len(), EXAMPLE[0].len(), values)),
        first_line: None,
    };
    let layout = Layout::two_view(name, EXAMPLE.len())?;
    let policy = Policy {
        tau: settings.tau,
        tau_max: settings.tau,
        similarity: settings.similarity,
        force_f64: false,
    };
    Ok(Loaded {
        data: Data::new(File::new(first), None, policy)?,
        layout,
        input_dtype: "float64".into(),
        dropped_columns: Vec::new(),
    })
}

/// A row of a file as float64, for showing.
fn row_of(e: &Embeddings, row: usize) -> Vec<f64> {
    match &e.values {
        Values::F16(m) => m.view().row(row).iter().map(|&x| f64::from(x)).collect(),
        Values::F32(m) => m.view().row(row).iter().map(|&x| x as f64).collect(),
        Values::F64(m) => m.view().row(row).to_vec(),
    }
}

/// A copy of `e` with row `row` replaced (float16 is widened to float32,
/// which is what the core multiplies it in).
fn with_row(e: &Embeddings, row: usize, values: &[f64]) -> Embeddings {
    let (rows, cols) = (e.rows(), e.cols());
    let values = match &e.values {
        Values::F64(m) => {
            let mut v: Vec<f64> = m.view().iter().copied().collect();
            v[row * cols..(row + 1) * cols].copy_from_slice(values);
            Values::F64(Matrix::from_rows(rows, cols, v))
        }
        Values::F32(_) | Values::F16(_) => {
            let mut v: Vec<f32> = match &e.values {
                Values::F32(m) => m.view().iter().copied().collect(),
                Values::F16(m) => m.view().iter().map(|&x| f32::from(x)).collect(),
                Values::F64(_) => unreachable!("handled above"),
            };
            for (d, &x) in v[row * cols..(row + 1) * cols].iter_mut().zip(values) {
                *d = x as f32;
            }
            Values::F32(Matrix::from_rows(rows, cols, v))
        }
    };
    Embeddings {
        name: e.name.clone(),
        source_dtype: e.source_dtype.clone(),
        values,
        first_line: e.first_line,
    }
}

/// The records `--anchor`, `--direction`, `--positive` and `--record` pick:
/// the explained one first, then the others of the same anchor row.
fn pick_records(args: &ExplainArgs, loaded: &Loaded) -> Result<(Pick, Vec<usize>)> {
    let layout = &loaded.layout;
    let records = &layout.records;
    let file = &loaded.first().name;
    if let Some(k) = args.record {
        if k >= records.len() {
            return Err(Error::data(
                file,
                format!(
                    "--record {k} is out of range: the {} layout has {} records, 0 to {}",
                    layout.kind.name(),
                    records.len(),
                    records.len() - 1
                ),
            ));
        }
        return Ok((Pick::Record, vec![k]));
    }
    // The job checked that --direction comes with --keys (and --symmetric
    // for key-to-query).
    let backward = args.direction.map(|d| d == DirectionArg::KeyToQuery);
    // The anchor's file: the keys for key-to-query records.
    let anchor_file = match (backward, loaded.second()) {
        (Some(true), Some(k)) => k,
        _ => loaded.first(),
    };
    if let Some(i) = args.anchor {
        let rows = anchor_file.rows();
        if i >= rows {
            return Err(Error::data(
                &anchor_file.name,
                format!(
                    "--anchor {i} is out of range: the anchors are rows 0 to {} (the file has {rows} rows)",
                    rows - 1
                ),
            ));
        }
    }
    let found: Vec<usize> = (0..records.len())
        .filter(|&k| {
            let r = &records[k];
            args.anchor.is_none_or(|i| r.anchor == i)
                && backward.is_none_or(|b| r.backward == b)
                && args.positive.is_none_or(|j| r.positive == j)
        })
        .collect();
    if found.is_empty() {
        let what = match (args.anchor, args.positive) {
            (Some(i), Some(j)) => {
                // Each row once: both directions of --symmetric, or a pair
                // listed twice, give the same positive again.
                let mut of_row: Vec<usize> = records
                    .iter()
                    .filter(|r| r.anchor == i && backward.is_none_or(|b| r.backward == b))
                    .map(|r| r.positive)
                    .collect();
                of_row.sort_unstable();
                of_row.dedup();
                match of_row[..] {
                    [] => format!("--anchor {i}: no pair has row {i} as its anchor"),
                    [p] => format!("--positive {j}: the positive of row {i} is row {p}"),
                    _ => format!(
                        "--positive {j}: the positives of row {i} are rows {}",
                        of_row
                            .iter()
                            .map(usize::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            (Some(i), None) => format!("--anchor {i}: no pair has row {i} as its anchor"),
            (None, Some(j)) => format!("--positive {j}: no record has row {j} as its positive"),
            (None, None) => "no record goes that way".into(),
        };
        // The pairs file says which rows are anchors.
        let name = match (&args.data.pairs, layout.kind) {
            (Some(p), crate::layout::LayoutKind::Pairs) => {
                crate::input::display_name(&p.to_string_lossy())
            }
            _ => file.clone(),
        };
        return Err(Error::data(&name, what));
    }
    let pick = if args.anchor.is_some() || args.direction.is_some() || args.positive.is_some() {
        Pick::Anchor
    } else {
        Pick::Default
    };
    if pick == Pick::Default {
        // The first record, and the other records of its anchor row.
        let first = records[0];
        let same: Vec<usize> = (0..records.len())
            .filter(|&k| records[k].anchor == first.anchor && records[k].backward == first.backward)
            .collect();
        return Ok((pick, same));
    }
    // With --anchor in the keys layout, the same row of the other file is
    // another anchor: list it as well.
    let mut found = found;
    if backward.is_none() && args.anchor.is_some() && !layout.one_file() {
        found.sort_by_key(|&k| records[k].backward);
    }
    Ok((pick, found))
}

/// Loads the data (or builds the example), runs the core and gathers the
/// explained record, its terms, the temperature table and the variants.
fn gather(args: &ExplainArgs) -> Result<Facts> {
    let job = DataJob::for_explain(args)?;
    let (session, origin) = match &args.input {
        Some(input) => {
            let origin = Origin::Data {
                name: crate::input::display_name(input),
                pairs: job.pairs.clone(),
                keys: job.keys.clone(),
                negatives: job.objective.negatives.clone(),
            };
            (Session::open(job)?, origin)
        }
        None => {
            let example = example_data(job.settings)?;
            (Session::over(job, example)?, Origin::Example)
        }
    };
    let loaded = session.loaded();
    let (pick, picked) = pick_records(args, loaded)?;
    let record = picked[0];
    let others = picked[1..].to_vec();
    let names = match (&origin, loaded.second().is_some()) {
        (Origin::Example, _) => Names::Example,
        (_, true) => Names::Keys,
        (_, false) => Names::Rows,
    };
    let settings = session.settings();
    let current = session.run(settings, &Silent)?;
    let report = &current.report;
    let rec = report.records[record].clone();
    let backward = rec.direction == Some(Direction::KeyToQuery);
    // The anchor's file and the candidates' file.
    let keys = loaded.second();
    let (anchor_file, cand_file) = match (keys, backward) {
        (Some(k), true) => (k, loaded.first()),
        (Some(k), false) => (loaded.first(), k),
        (None, _) => (loaded.first(), loaded.first()),
    };
    let anchor = Vector {
        label: names.anchor(&rec),
        row: rec.anchor,
        values: row_of(anchor_file, rec.anchor),
        from_negatives: false,
    };
    // The extra negatives' file, and the first row of the anchor's own.
    let negatives = loaded.data.negatives();
    let values_of = |t: &Term| match (from_negatives(t), negatives) {
        (true, Some((e, block))) => row_of(e, block.map_or(0, |m| rec.anchor * m) + t.index),
        _ => row_of(cand_file, t.index),
    };

    let all = session.terms(&current, record)?;
    let breakdown = select(&all, &rec, args.max_terms, |t| Listed {
        term: *t,
        positive: is_positive(t, &rec),
        vector: Vector {
            label: names.of_term(&rec, t),
            row: t.index,
            values: values_of(t),
            from_negatives: from_negatives(t),
        },
    });
    // The hardest negative: the one of highest similarity (in candidate
    // order on ties: the extra negatives come last).
    let hardest = all
        .iter()
        .enumerate()
        .filter(|(_, t)| !is_positive(t, &rec))
        .max_by(|(i, a), (j, b)| a.logit.total_cmp(&b.logit).then(j.cmp(i)))
        .map(|(_, t)| (t.index, t.from));
    let same = |h: (usize, Option<TermFrom>), t: &Term| (t.index, t.from) == h;

    // Exact copies of the positive among the other candidates of the
    // candidates' file.
    let positive_row = row_of(cand_file, rec.positive);
    let duplicates: Vec<usize> = all
        .iter()
        .filter(|t| !from_negatives(t) && !is_positive(t, &rec))
        .map(|t| t.index)
        .filter(|&k| row_of(cand_file, k) == positive_row)
        .collect();

    let mut taus: Vec<f64> = SWEEP_TAUS.to_vec();
    if !taus.contains(&settings.tau) {
        taus.push(settings.tau);
        taus.sort_by(f64::total_cmp);
    }
    // Every tau of the table and the flat one, in one pass of the core.
    let mut all_taus = taus.clone();
    all_taus.push(FLAT_TAU);
    let (mut swept, reports) = session.sweep_on(loaded, settings, &all_taus, &Silent)?;
    let mut sweep = Vec::with_capacity(taus.len());
    for (&tau, r) in taus.iter().zip(&reports) {
        let terms = if tau == settings.tau {
            all.clone()
        } else {
            swept.core.set_tau(tau);
            session.terms(&swept, record)?
        };
        let neg_total: f64 = terms
            .iter()
            .filter(|t| !is_positive(t, &rec))
            .map(|t| t.p)
            .sum();
        let hard = hardest.and_then(|h| terms.iter().find(|t| same(h, t)));
        sweep.push(SweepRow {
            tau,
            loss: r.records[record].loss,
            p_positive: r.records[record].p_positive,
            hardest_p: hard.map(|t| t.p),
            hardest_of_negatives: hard.filter(|_| neg_total > 0.0).map(|t| t.p / neg_total),
            mean_loss: r.summary.loss,
            current: tau == settings.tau,
        });
    }
    // The upper limit log(n) shows at a very high temperature.
    let flat = {
        let r = reports.last().expect("the flat tau was swept");
        Some((r.records[record].loss, r.summary.loss))
    };

    // The variant moves a row of the candidates' file; an extra negative is
    // not moved.
    let variant = match hardest.filter(|&(_, from)| from != Some(TermFrom::Negatives)) {
        Some((h, _)) => hard_variant(&session, &rec, record, &all, h, &names, backward)?,
        None => None,
    };

    Ok(Facts {
        origin,
        names,
        rows: (loaded.layout.n_first, loaded.layout.n_second),
        record,
        pick,
        others,
        anchor,
        breakdown,
        sweep,
        duplicates,
        variant,
        flat,
        report: current.report,
    })
}

/// The record again, on vectors where the hardest negative `h` is moved so
/// that its similarity to the anchor is the positive's less
/// [`HARD_MARGIN`]; `None` when it is already that close or closer.
#[allow(clippy::too_many_arguments)]
fn hard_variant(
    session: &Session,
    rec: &AnchorRecord,
    record: usize,
    all: &[Term],
    h: usize,
    names: &Names,
    backward: bool,
) -> Result<Option<Variant>> {
    let before = *all
        .iter()
        .find(|t| t.index == h && !from_negatives(t))
        .expect("h is a candidate");
    let target = rec.sim - HARD_MARGIN;
    if before.sim >= target {
        return Ok(None);
    }
    let (loaded, settings) = (session.loaded(), session.settings());
    let keys = loaded.second();
    let (anchor_file, cand_file) = match (keys, backward) {
        (Some(k), true) => (k, loaded.first()),
        (Some(k), false) => (loaded.first(), k),
        (None, _) => (loaded.first(), loaded.first()),
    };
    let a = row_of(anchor_file, rec.anchor);
    let v = row_of(cand_file, h);
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    let aa = dot(&a, &a);
    let moved: Vec<f64> = match settings.similarity {
        Similarity::Dot => {
            // v + c·a changes the dot product by c·|a|² and nothing else.
            if aa == 0.0 {
                return Ok(None);
            }
            let c = (target - dot(&a, &v)) / aa;
            v.iter().zip(&a).map(|(x, y)| x + c * y).collect()
        }
        Similarity::Cosine => {
            if target < -1.0 {
                return Ok(None);
            }
            // target·â + √(1 − target²)·û, where û is the part of v
            // orthogonal to the anchor (any other direction if v has none).
            let na = aa.sqrt();
            let ahat: Vec<f64> = a.iter().map(|x| x / na).collect();
            let along = dot(&v, &ahat);
            let mut u: Vec<f64> = v.iter().zip(&ahat).map(|(x, y)| x - along * y).collect();
            let mut nu = dot(&u, &u).sqrt();
            if nu <= 1e-12 * dot(&v, &v).sqrt() {
                // v is parallel to the anchor: take the axis least along it.
                let k = (0..ahat.len())
                    .min_by(|&i, &j| ahat[i].abs().total_cmp(&ahat[j].abs()))
                    .unwrap_or(0);
                u = ahat.iter().map(|y| -ahat[k] * y).collect();
                u[k] += 1.0;
                nu = dot(&u, &u).sqrt();
                if nu == 0.0 {
                    return Ok(None);
                }
            }
            let scale = dot(&v, &v).sqrt();
            let s = (1.0 - target * target).max(0.0).sqrt();
            ahat.iter()
                .zip(&u)
                .map(|(x, y)| scale * (target * x + s * y / nu))
                .collect()
        }
    };
    // The modified data: in the one-file layouts the row is also an anchor
    // of its own record, which does not change the explained one.
    let first = loaded.first();
    let first = if keys.is_none() || backward {
        with_row(first, h, &moved[..])
    } else {
        with_row(first, 0, &row_of(first, 0))
    };
    let second = keys.map(|k| {
        if backward {
            with_row(k, 0, &row_of(k, 0))
        } else {
            with_row(k, h, &moved)
        }
    });
    let note = loaded.data.precision_note().map(str::to_string);
    let modified = Loaded {
        data: Data::built(first, second, note),
        layout: loaded.layout.clone(),
        input_dtype: loaded.input_dtype.clone(),
        dropped_columns: loaded.dropped_columns.clone(),
    };
    let done = session.run_on(&modified, settings, &Silent)?;
    let terms = session.terms(&done, record)?;
    let report = done.report;
    let after = *terms
        .iter()
        .find(|t| t.index == h && !from_negatives(t))
        .expect("h is a candidate");
    Ok(Some(Variant {
        candidate: h,
        label: names.candidate(rec, h),
        moved,
        before,
        after,
        record: report.records[record].clone(),
        terms: (terms.len() <= 8).then_some(terms),
    }))
}

/// Picks the terms listed one by one: all of them when the negatives number
/// at most `max_neg`, otherwise the positive and the `max_neg` strongest
/// negatives, the rest summed.
fn select(
    terms: &[Term],
    rec: &AnchorRecord,
    max_neg: usize,
    list: impl Fn(&Term) -> Listed,
) -> Breakdown {
    let max_logit = terms
        .iter()
        .map(|t| t.logit)
        .fold(f64::NEG_INFINITY, f64::max);
    let n = terms.len();
    let pos = terms
        .iter()
        .find(|t| is_positive(t, rec))
        .expect("the positive is a candidate");
    let shown = steps::num(pos.sim);
    let ties: Vec<usize> = terms
        .iter()
        .filter(|t| !from_negatives(t) && !is_positive(t, rec) && steps::num(t.sim) == shown)
        .map(|t| t.index)
        .collect();
    let negatives_share = terms
        .iter()
        .filter(|t| !is_positive(t, rec))
        .map(|t| t.p)
        .sum();
    let out_of_range = terms
        .iter()
        .any(|t| t.exp.is_none_or(|e| e == 0.0) || t.p == 0.0);
    let target = terms
        .iter()
        .position(|t| is_positive(t, rec))
        .expect("the positive is a candidate");
    let above_terms = terms
        .iter()
        .filter(|t| !is_positive(t, rec) && t.logit > pos.logit);
    let above = (
        above_terms.clone().count(),
        above_terms.map(|t| t.p).sum::<f64>(),
    );
    let (listed, rest) = if n <= max_neg.saturating_add(1) {
        (terms.iter().map(&list).collect(), None)
    } else {
        let mut neg: Vec<&Term> = terms.iter().filter(|t| !is_positive(t, rec)).collect();
        // Strongest first; equal logits in candidate order.
        neg.sort_by(|a, b| {
            b.logit
                .total_cmp(&a.logit)
                .then(from_negatives(a).cmp(&from_negatives(b)))
                .then(a.index.cmp(&b.index))
        });
        let mut listed = vec![list(pos)];
        listed.extend(neg[..max_neg].iter().map(|t| list(t)));
        let others = &neg[max_neg..];
        let exp_sum = others
            .iter()
            .map(|t| t.exp)
            .sum::<Option<f64>>()
            .filter(|s| s.is_finite());
        // The largest of them is subtracted first, so the sum is at least 1.
        let top = others[0].logit;
        let rest = Rest {
            count: others.len(),
            exp_sum,
            log_sum: top
                + others
                    .iter()
                    .map(|t| (t.logit - top).exp())
                    .sum::<f64>()
                    .ln(),
            share: others.iter().map(|t| t.p).sum(),
        };
        (listed, Some(rest))
    };
    Breakdown {
        n,
        listed,
        rest,
        max_logit,
        negatives_share,
        ties,
        out_of_range,
        target,
        above,
    }
}
