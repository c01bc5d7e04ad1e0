//! The resolve step: the flags become a validated job, here and nowhere
//! else. Every usage check of `compute` and `explain` runs in
//! [`DataJob::for_compute`] and [`DataJob::for_explain`], before any file is
//! read; [`DataJob::load`] then reads the files and lays them out, and
//! [`crate::run`](mod@crate::run) runs the core over them.
//!
//! A new flag that changes the job: a field in `cli.rs`, its value in
//! [`DataJob::from_args`], its checks in `for_compute` or `for_explain`.

use std::path::Path;

use crate::cli::{
    ComputeArgs, DataArgs, DirectionArg, ExplainArgs, ObjectiveArgs, PrecisionArg, SimArg,
};
use crate::error::{Error, Result};
use crate::input::csv::{ColumnSpec, DroppedColumn};
use crate::input::{self, Embeddings, index};
use crate::layout::{Layout, MultiPositive};
use crate::loss::data::{Data, File, Policy};
use crate::loss::{DEFAULT_BLOCK, Settings, Similarity};

/// Where the data comes from and how it is laid out.
#[derive(Debug, Clone)]
pub struct DataJob {
    pub input: String,
    /// The second views' file, when the two views are in two files: the
    /// two-view layout over `input` and it stacked.
    pub second_view: Option<String>,
    pub pairs: Option<String>,
    pub keys: Option<String>,
    pub symmetric: bool,
    pub settings: Settings,
    /// Several temperatures (`--tau` as a list or a range), swept in one
    /// pass, in the order given; empty for the one temperature
    /// `settings.tau`. With a sweep, `settings.tau` is its first.
    pub taus: Vec<f64>,
    pub force_f64: bool,
    pub threads: Option<usize>,
    /// `--columns`: the embedding columns of text input.
    pub columns: Option<ColumnSpec>,
    /// `--labels`: one label per row; rows with equal labels are positives.
    pub labels: Option<String>,
    /// `--multi-positive`: the reduction of an anchor's positives.
    pub multi_positive: MultiPositive,
    /// Extra negatives and the loss over them (`compute` only).
    /// `--uniformity`: the uniformity also where it needs products of
    /// its own ([`crate::loss::Core::with_uniformity`]).
    pub uniformity: bool,
    pub objective: Objective,
}

/// What a record's denominator holds beyond the layout's candidates, and
/// whether its positive is one of its terms.
#[derive(Debug, Clone, Default)]
pub struct Objective {
    /// `--negatives FILE`: extra negatives, shared (2-D) or per anchor (3-D).
    pub negatives: Option<String>,
    /// `--no-in-batch`: the layout's candidates leave, but each positive.
    pub no_in_batch: bool,
    /// `--decoupled`: the positive leaves the denominator.
    pub decoupled: bool,
}

impl Objective {
    /// The objective of `--negatives`, `--no-in-batch` and `--decoupled`.
    fn of(args: &ObjectiveArgs, data: &DataArgs) -> Result<Objective> {
        if args.no_in_batch && data.symmetric && data.keys.is_some() {
            return Err(Error::Usage(
                "--no-in-batch cannot be used with --keys --symmetric: the key-to-query \
                 records see no extra negatives, so each would keep its positive alone"
                    .into(),
            ));
        }
        if data.labels.is_some() {
            // Several positives per anchor: which of them would stay as the
            // only in-batch candidate, or leave the denominator, is no one
            // loss; SupCon and NT-Xent define neither.
            for (flag, given) in [
                ("--no-in-batch", args.no_in_batch),
                ("--decoupled", args.decoupled),
            ] {
                if given {
                    return Err(Error::Usage(format!(
                        "{flag} cannot be used with --labels: an anchor of the labels \
                         layout has several positives, and the loss that flag names is \
                         defined for one positive per anchor (--negatives can be used \
                         with --labels)"
                    )));
                }
            }
        }
        Ok(Objective {
            negatives: args.negatives.as_deref().map(path_str),
            no_in_batch: args.no_in_batch,
            decoupled: args.decoupled,
        })
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl DataJob {
    pub fn from_args(input: String, a: &DataArgs) -> DataJob {
        DataJob {
            input,
            second_view: None,
            pairs: a.pairs.as_deref().map(path_str),
            keys: a.keys.as_deref().map(path_str),
            symmetric: a.symmetric,
            settings: Settings {
                tau: a.tau(),
                similarity: match a.sim {
                    SimArg::Cosine => Similarity::Cosine,
                    SimArg::Dot => Similarity::Dot,
                },
                block: a.block.map_or(DEFAULT_BLOCK, |b| b as usize),
                portable: false,
            },
            taus: match a.taus() {
                t if t.len() > 1 => t,
                _ => Vec::new(),
            },
            force_f64: a.precision == PrecisionArg::F64,
            threads: a.threads.map(|t| t as usize),
            columns: a.columns.clone(),
            objective: Objective::default(),
            uniformity: false,
            labels: a.labels.as_deref().map(path_str),
            multi_positive: a.multi_positive,
        }
    }

    /// `compute`'s flags, checked: one or two embedding files.
    pub fn for_compute(args: &ComputeArgs) -> Result<DataJob> {
        if let Some(third) = args.extra.first() {
            return Err(Error::Usage(format!(
                "unexpected third file '{third}': compute takes EMB, or the two views \
                 EMB VIEW2; for queries and keys use 'EMB --keys KEYS', for pairs of rows \
                 'EMB --pairs PAIRS'"
            )));
        }
        top_k(args)?;
        let mut job = DataJob::from_args(args.input.clone(), &args.data);
        job.second_view = args.second.clone();
        job.objective = Objective::of(&args.objective, &args.data)?;
        job.uniformity = args.uniformity;
        job.check()?;
        Ok(job)
    }

    /// `explain`'s flags, checked. Without EMB the job's input is empty:
    /// explain then shows the built-in example.
    pub fn for_explain(args: &ExplainArgs) -> Result<DataJob> {
        let data = &args.data;
        if args.input.is_none() && (data.pairs.is_some() || data.keys.is_some()) {
            return Err(Error::Usage(
                "--pairs and --keys describe a file: give EMB too (without it, explain shows the built-in example)".into(),
            ));
        }
        if let Some(d) = args.direction {
            if data.keys.is_none() {
                return Err(Error::Usage(
                    "--direction applies to --keys only (queries against keys, and keys against queries with --symmetric)".into(),
                ));
            }
            if d == DirectionArg::KeyToQuery && !data.symmetric {
                return Err(Error::Usage(
                    "--direction key-to-query needs --symmetric (without it every record is query-to-key)".into(),
                ));
            }
        }
        if data.labels.is_some() && args.input.is_none() {
            return Err(Error::Usage(
                "--labels gives the rows of a file their labels: give EMB too (without it, explain shows the built-in example)".into(),
            ));
        }
        if data.labels.is_some() && args.positive.is_some() {
            return Err(Error::Usage(
                "--positive picks one record of an anchor; with --labels the anchor's one record holds every positive: give --anchor I".into(),
            ));
        }
        if data.taus().len() > 1 {
            return Err(Error::Usage(
                "explain takes one --tau: its table of temperatures already shows the loss at several (compute --tau sweeps a list or range)".into(),
            ));
        }
        if args.input.is_none() && args.objective.negatives.is_some() {
            return Err(Error::Usage(
                "--negatives extends the candidates of a file: give EMB too (without it, explain shows the built-in example)".into(),
            ));
        }
        let mut job = DataJob::from_args(args.input.clone().unwrap_or_default(), data);
        job.objective = Objective::of(&args.objective, data)?;
        job.check()?;
        Ok(job)
    }

    /// The checks every job passes: at most one file is standard input
    /// (`-`, or `-:NAME` of a container).
    fn check(&self) -> Result<()> {
        let stdin = |p: &str| input::source::Source::reads_stdin(p);
        for (what, path) in [
            ("VIEW2", &self.second_view),
            ("--keys", &self.keys),
            ("--pairs", &self.pairs),
            ("--negatives", &self.objective.negatives),
            ("--labels", &self.labels),
        ] {
            if stdin(&self.input) && path.as_deref().is_some_and(stdin) {
                return Err(Error::Usage(format!(
                    "only one of EMB and {what} can be standard input"
                )));
            }
        }
        Ok(())
    }

    /// Every temperature of the job: the sweep's, or `settings.tau`.
    pub fn temperatures(&self) -> Vec<f64> {
        if self.taus.is_empty() {
            vec![self.settings.tau]
        } else {
            self.taus.clone()
        }
    }

    /// The precision policy's inputs.
    fn policy(&self) -> Policy {
        let taus = self.temperatures();
        Policy {
            tau: taus.iter().copied().fold(f64::INFINITY, f64::min),
            tau_max: taus.iter().copied().fold(0.0, f64::max),
            similarity: self.settings.similarity,
            force_f64: self.force_f64,
        }
    }

    /// Every file the job reads, with the flag that names it (`-` is
    /// standard input): an output may be none of them.
    pub fn inputs(&self) -> Vec<(&'static str, &str)> {
        let mut all = vec![("EMB", self.input.as_str())];
        all.extend(self.second_view.as_deref().map(|v| ("VIEW2", v)));
        all.extend(self.pairs.as_deref().map(|p| ("--pairs", p)));
        all.extend(self.keys.as_deref().map(|k| ("--keys", k)));
        all.extend(
            self.objective
                .negatives
                .as_deref()
                .map(|n| ("--negatives", n)),
        );
        all.extend(self.labels.as_deref().map(|l| ("--labels", l)));
        all
    }

    /// Loads every file and builds the layout; all data errors surface here.
    /// The precision policy and the magnitude checks are the core's
    /// ([`Data`]).
    pub fn load(&self) -> Result<Loaded> {
        self.load_with(false)
    }

    /// [`DataJob::load`] for a part of a sharded run: the checks that read
    /// every row let the pages of mapped files go as they go, so that the
    /// part keeps in memory only the rows its tiles read.
    pub fn load_for_part(&self) -> Result<Loaded> {
        self.load_with(true)
    }

    fn load_with(&self, release: bool) -> Result<Loaded> {
        self.check()?;
        let columns = self.columns.as_ref();
        let (first, mut dropped_columns) = input::load_embeddings_with(&self.input, columns)?;
        let first = File::checked(first, release)?;
        let cosine = self.settings.similarity == Similarity::Cosine;
        let warn = |f: &File| {
            if let Some(w) = f.embeddings().transposed_warning_given(f.norms(), cosine) {
                crate::warning::warn(w);
            }
        };
        if let Some(v) = &self.second_view {
            let (view2, dropped) = input::load_embeddings_with(v, columns)?;
            let view2 = File::checked(view2, release)?;
            dropped_columns.extend(dropped);
            let view1 = first;
            warn(&view1);
            warn(&view2);
            let negatives =
                self.load_negatives(view1.embeddings(), 2, release, &mut dropped_columns)?;
            return self.stack_views(view1, view2, negatives, dropped_columns);
        }
        let second = match &self.keys {
            Some(k) => {
                let (e, dropped) = input::load_embeddings_with(k, columns)?;
                let e = File::checked(e, release)?;
                dropped_columns.extend(dropped);
                Some(e)
            }
            None => None,
        };
        let (e, k) = (first.embeddings(), second.as_ref().map(File::embeddings));
        let layout = (|| match (&self.pairs, k) {
            _ if self.labels.is_some() => {
                let spec = self.labels.as_deref().unwrap_or_default();
                let labels = crate::input::labels::load_labels(spec)?;
                Layout::labels(&e.name, e.rows(), &labels, self.multi_positive)
            }
            (Some(p), _) => {
                let pairs = index::load_pairs(p)?;
                Layout::pairs(&e.name, e.rows(), &pairs, self.symmetric)
            }
            (None, Some(k)) => Layout::keys(&e.name, e.rows(), &k.name, k.rows(), self.symmetric),
            (None, None) => Layout::two_view(&e.name, e.rows()),
        })()
        .map_err(|err| transposed_hint(err, e))?;
        let input_dtype = e.source_dtype.clone();
        warn(&first);
        second.iter().for_each(warn);
        let negatives =
            self.load_negatives(first.embeddings(), 1, release, &mut dropped_columns)?;
        Ok(Loaded {
            data: Data::with_negatives(first, second, negatives, self.policy())?,
            layout,
            input_dtype,
            dropped_columns,
        })
    }

    /// The `--negatives` file, checked against the anchors' file `anchors`
    /// (`views` of it stacked, with two view files): its dimension, and for
    /// a 3-D file one block of negatives per anchor row.
    fn load_negatives(
        &self,
        anchors: &Embeddings,
        views: usize,
        release: bool,
        dropped_columns: &mut Vec<DroppedColumn>,
    ) -> Result<Option<File>> {
        let Some(spec) = &self.objective.negatives else {
            return Ok(None);
        };
        let (e, block, dropped) = input::load_negatives(spec, self.columns.as_ref())?;
        dropped_columns.extend(dropped);
        let d = anchors.cols();
        let a = anchors.rows() * views;
        let shape = match block {
            Some(m) => format!("({}, {m}, {})", e.rows() / m, e.cols()),
            None => format!("({}, {})", e.rows(), e.cols()),
        };
        let whose = match (views, &self.keys) {
            (2, _) => format!(
                "the rows of both view files ({} + {})",
                anchors.rows(),
                anchors.rows()
            ),
            (_, Some(_)) => format!("the queries, the rows of {}", anchors.name),
            _ => format!("the rows of {}", anchors.name),
        };
        if e.cols() != d {
            return Err(Error::data(
                &e.name,
                format!(
                    "has shape {shape}, negatives of dimension {} but {} has dimension {d}",
                    e.cols(),
                    anchors.name
                ),
            ));
        }
        if let Some(m) = block {
            if e.rows() / m != a {
                return Err(Error::data(
                    &e.name,
                    format!(
                        "has shape {shape}, but per-anchor negatives need shape ({a}, M, {d}): \
                         its first dimension counts the anchors, {whose}"
                    ),
                ));
            }
            return Ok(Some(File::blocks(e, m, release)?));
        }
        Ok(Some(File::checked(e, release)?))
    }

    /// The two-view layout over two files stacked: row i of `view1` and row
    /// i of `view2` (row N + i of the stack) are the two views of item i.
    fn stack_views(
        &self,
        view1: File,
        view2: File,
        negatives: Option<File>,
        dropped_columns: Vec<DroppedColumn>,
    ) -> Result<Loaded> {
        let (a, b) = (view1.embeddings(), view2.embeddings());
        if b.rows() != a.rows() {
            return Err(Error::data(
                &b.name,
                format!(
                    "has {} rows but {} has {}; row i of each view file must be a pair \
                     (the two views of item i)",
                    b.rows(),
                    a.name,
                    a.rows()
                ),
            ));
        }
        if b.cols() != a.cols() {
            return Err(Error::data(
                &b.name,
                format!(
                    "has dimension {} but {} has dimension {}",
                    b.cols(),
                    a.name,
                    a.cols()
                ),
            ));
        }
        let data = Data::stacked_with_negatives(view1, view2, negatives, self.policy())?;
        let stacked = data.first();
        let layout = Layout::two_view(&stacked.name, stacked.rows())?;
        Ok(Loaded {
            input_dtype: stacked.source_dtype.clone(),
            data,
            layout,
            dropped_columns,
        })
    }

    /// A rayon pool with the requested number of threads (default: one per
    /// core), but no more than the machine's cores nor than the input files
    /// can hold row blocks of work: the work is all computation, so a thread
    /// beyond either could only wait (and idle threads that look for work to
    /// steal from each other cost time of their own). The similarity pass
    /// then puts no more of them to work than there are row blocks.
    pub fn pool(&self) -> Result<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new();
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let wanted = self.threads.unwrap_or(cores).min(cores);
        let n = self.work_bound().map_or(wanted, |w| wanted.min(w));
        if self.threads.is_some() || n < wanted {
            b = b.num_threads(n);
        }
        b.build().map_err(|e| {
            Error::Usage(format!(
                "cannot start {} threads: {e}",
                self.threads.unwrap_or(0)
            ))
        })
    }

    /// An upper bound on the blocks of work the input files can hold, from
    /// their sizes alone (`None` for standard input, a pipe or FIFO, or a
    /// file that cannot be read, whose error comes when it is loaded): every value takes at least
    /// two bytes (float16, or a digit and a separator), so a file of B bytes
    /// holds at most B / 2 rows, pairs or records, and the pass at most
    /// B / 2 / block row blocks of them.
    fn work_bound(&self) -> Option<usize> {
        let mut bytes = 0u64;
        for (_, path) in self.inputs() {
            if path == "-" {
                return None;
            }
            // A FIFO or `/dev/fd/N` has no size to judge from.
            let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
            bytes = bytes.saturating_add(meta.len());
        }
        let rows = usize::try_from(bytes / 2).unwrap_or(usize::MAX);
        Some(rows.div_ceil(self.settings.block.max(1)).max(1))
    }
}

/// `--top-k`'s values in increasing order; each k may be given once.
pub fn top_k(args: &ComputeArgs) -> Result<Vec<u64>> {
    let mut ks = args.out.top_k.clone();
    ks.sort_unstable();
    if let Some(k) = ks.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Usage(format!(
            "--top-k lists {} twice: give each k once",
            k[0]
        )));
    }
    Ok(ks)
}

/// A layout error about a matrix with fewer rows than columns says that the
/// matrix may be transposed.
fn transposed_hint(e: Error, first: &Embeddings) -> Error {
    match e {
        Error::Data(m) if first.rows() < first.cols() => Error::Data(format!(
            "{m} ({} has {} rows of dimension {}: if each column is an embedding, save z.T)",
            first.name,
            first.rows(),
            first.cols()
        )),
        e => e,
    }
}

/// The loaded files and their layout.
pub struct Loaded {
    /// The files in the precision the core multiplies them in, with their
    /// row norms.
    pub data: Data,
    pub layout: Layout,
    pub input_dtype: String,
    /// Columns of text input left out (a pandas index).
    pub dropped_columns: Vec<DroppedColumn>,
}

impl Loaded {
    /// The embeddings (the queries in the keys layout).
    pub fn first(&self) -> &Embeddings {
        self.data.first()
    }

    /// The keys of the keys layout.
    pub fn second(&self) -> Option<&Embeddings> {
        self.data.second()
    }
}
