//! `infonce explain`: the computation of one anchor, step by step, in the
//! voice of a worked example: every intermediate figure is printed.
//!
//! Every figure comes from the core, exactly as `compute` reports it: the
//! record's figures from [`RecordStats::finish`](crate::loss::RecordStats::finish)
//! through the [`Report`], its terms from [`Core::terms`], the batch loss from
//! the report's summary, and each row of the temperature table from another
//! run of the same core. This module only selects, rounds and arranges them;
//! the arithmetic it writes out itself (a dot product, a sum of rounded terms)
//! is there to be read, never in place of a figure of the core.
//!
//! Here the core is run and its findings gathered into [`Facts`];
//! `steps.rs` turns them into a document and the JSON steps, with every
//! sentence taken from `lang_en.rs` or `lang_zh.rs`; `text.rs`, `markdown.rs`
//! and `json.rs` render them.

mod json;
mod lang_en;
mod lang_zh;
mod markdown;
mod steps;
mod text;
mod words;

use std::io::{self, IsTerminal, Write};

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values};
use crate::job::{DataJob, Loaded};
use crate::layout::{Direction, Layout};
use crate::loss::{Core, Settings, Term};
use crate::report::{AnchorRecord, Report};

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
    /// The user's files; `chosen` is false when `--anchor` was not given.
    Data {
        name: String,
        pairs: Option<String>,
        keys: Option<String>,
        chosen: bool,
    },
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
}

/// One embedding as shown: its name, its row and its values.
#[derive(Debug, Clone)]
pub struct Vector {
    pub label: Math,
    pub row: usize,
    pub values: Vec<f64>,
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    pub tau: f64,
    /// The explained record's loss and p_positive at this tau.
    pub loss: f64,
    pub p_positive: f64,
    /// The batch loss at this tau.
    pub mean_loss: f64,
    /// True for the walkthrough's own tau.
    pub current: bool,
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
    pub anchor: Vector,
    pub breakdown: Breakdown,
    pub sweep: Vec<SweepRow>,
}

impl Facts {
    pub fn record(&self) -> &AnchorRecord {
        &self.report.records[self.record]
    }

    pub fn is_example(&self) -> bool {
        matches!(self.origin, Origin::Example)
    }

    /// True when the numerator or the denominator overflows float64, so that
    /// the figures are given in log form.
    pub fn log_form(&self) -> bool {
        self.record().denominator.is_none()
    }
}

/// Runs `explain` and writes the walkthrough.
pub fn run(args: &ExplainArgs) -> Result<()> {
    let facts = gather(args)?;
    let words = words::of(args.lang);
    let walk = steps::build(&facts, words);
    let out = match args.format {
        ExplainFormat::Text => text::render(&walk, color_wanted()),
        ExplainFormat::Markdown => markdown::render(&walk),
        ExplainFormat::Json => json::render(&facts, &walk, words.code()),
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

/// The tutorial's example as loaded data: one float64 file, two views.
fn example_data() -> Result<Loaded> {
    let name = "the built-in example";
    let values: Vec<f64> = EXAMPLE.iter().flatten().copied().collect();
    let first = Embeddings {
        name: name.into(),
        source_dtype: "float64".into(),
        values: Values::F64(Matrix::from_rows(EXAMPLE.len(), EXAMPLE[0].len(), values)),
        first_line: None,
    };
    let layout = Layout::two_view(name, EXAMPLE.len())?;
    Ok(Loaded {
        first,
        second: None,
        layout,
        input_dtype: "float64".into(),
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

/// One run of the core over the loaded data, as `compute` does it.
fn pass<'l>(
    loaded: &'l Loaded,
    pool: &rayon::ThreadPool,
    settings: Settings,
) -> Result<(Core<'l>, Report)> {
    let core = pool.install(|| loaded.core(settings))?;
    let stats = pool.install(|| core.run(&|_| {}));
    let report = loaded.report(&core, settings, &stats);
    Ok((core, report))
}

/// Loads the data (or builds the example), runs the core and gathers the
/// explained record, its terms and the temperature table.
fn gather(args: &ExplainArgs) -> Result<Facts> {
    let data = &args.data;
    let (job, origin) = match &args.input {
        Some(input) => {
            let job = DataJob::from_args(input.clone(), data);
            let origin = Origin::Data {
                name: crate::input::display_name(input),
                pairs: job.pairs.clone(),
                keys: job.keys.clone(),
                chosen: args.anchor.is_some(),
            };
            (job, origin)
        }
        None => {
            if data.pairs.is_some() || data.keys.is_some() {
                return Err(Error::Usage(
                    "error: --pairs and --keys describe a file: give EMB too (without it, explain shows the built-in example)".into(),
                ));
            }
            (DataJob::from_args(String::new(), data), Origin::Example)
        }
    };
    let pool = job.pool()?;
    let loaded = match origin {
        Origin::Example => example_data()?,
        Origin::Data { .. } => pool.install(|| job.load())?,
    };
    let n_records = loaded.layout.records.len();
    let record = args.anchor.unwrap_or(0);
    if record >= n_records {
        return Err(Error::data(
            &loaded.first.name,
            format!(
                "--anchor {record} is out of range: the {} layout has {n_records} records, 0 to {}",
                loaded.layout.kind.name(),
                n_records - 1
            ),
        ));
    }
    let names = match (&origin, loaded.second.is_some()) {
        (Origin::Example, _) => Names::Example,
        (_, true) => Names::Keys,
        (_, false) => Names::Rows,
    };
    let settings = job.settings;
    let (core, report) = pass(&loaded, &pool, settings)?;
    let rec = &report.records[record];
    let backward = rec.direction == Some(Direction::KeyToQuery);
    // The anchor's file and the candidates' file.
    let keys = loaded.second.as_ref();
    let (anchor_file, cand_file) = match (keys, backward) {
        (Some(k), true) => (k, &loaded.first),
        (Some(k), false) => (&loaded.first, k),
        (None, _) => (&loaded.first, &loaded.first),
    };
    let anchor = Vector {
        label: names.anchor(rec),
        row: rec.anchor,
        values: row_of(anchor_file, rec.anchor),
    };

    let mut breakdown = None;
    let log_den = |k: usize| report.records[k].log_denominator;
    core.terms(&[record], &log_den, &mut |_, terms| {
        breakdown = Some(select(terms, rec.positive, args.max_terms, |t| Listed {
            term: *t,
            positive: t.index == rec.positive,
            vector: Vector {
                label: names.candidate(rec, t.index),
                row: t.index,
                values: row_of(cand_file, t.index),
            },
        }));
        Ok::<(), Error>(())
    })?;
    let breakdown = breakdown.expect("the core streams the requested record");

    let mut taus: Vec<f64> = SWEEP_TAUS.to_vec();
    if !taus.contains(&settings.tau) {
        taus.push(settings.tau);
        taus.sort_by(f64::total_cmp);
    }
    let mut sweep = Vec::with_capacity(taus.len());
    for tau in taus {
        let other = if tau == settings.tau {
            None
        } else {
            Some(pass(&loaded, &pool, Settings { tau, ..settings })?.1)
        };
        let r = other.as_ref().unwrap_or(&report);
        sweep.push(SweepRow {
            tau,
            loss: r.records[record].loss,
            p_positive: r.records[record].p_positive,
            mean_loss: r.summary.loss,
            current: tau == settings.tau,
        });
    }

    Ok(Facts {
        origin,
        names,
        rows: (loaded.layout.n_first, loaded.layout.n_second),
        record,
        anchor,
        breakdown,
        sweep,
        report,
    })
}

/// Picks the terms listed one by one: all of them when the negatives number
/// at most `max_neg`, otherwise the positive and the `max_neg` strongest
/// negatives, the rest summed.
fn select(
    terms: &[Term],
    positive: usize,
    max_neg: usize,
    list: impl Fn(&Term) -> Listed,
) -> Breakdown {
    let max_logit = terms
        .iter()
        .map(|t| t.logit)
        .fold(f64::NEG_INFINITY, f64::max);
    let n = terms.len();
    if n <= max_neg + 1 {
        return Breakdown {
            n,
            listed: terms.iter().map(&list).collect(),
            rest: None,
            max_logit,
        };
    }
    let mut neg: Vec<&Term> = terms.iter().filter(|t| t.index != positive).collect();
    // Strongest first; equal logits in candidate order.
    neg.sort_by(|a, b| b.logit.total_cmp(&a.logit).then(a.index.cmp(&b.index)));
    let pos = terms
        .iter()
        .find(|t| t.index == positive)
        .expect("the positive is a candidate");
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
    Breakdown {
        n,
        listed,
        rest: Some(rest),
        max_logit,
    }
}
