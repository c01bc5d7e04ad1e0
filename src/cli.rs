//! The command line: commands, flags and their help text (clap derive).
//!
//! Values are checked here so that a bad value is a usage error (exit 2);
//! turning flags into a job happens in [`crate::job`].

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::input::csv::ColumnSpec;
use crate::layout::MultiPositive;
use crate::output::Format;

/// InfoNCE contrastive loss over embedding files, with every number shown.
#[derive(Debug, Parser)]
#[command(name = "infonce", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the loss of every anchor, its softmax breakdown and the mean.
    ///
    /// For anchor a with positive p and candidates C(a) (every other row, or
    /// every key): loss = -log(exp(s(a,p)/tau) / sum over k in C(a) of
    /// exp(s(a,k)/tau)). The work is one pass over tiles of the similarity
    /// matrix, R^2 d multiply-adds for R rows of dimension d (half that in the
    /// one-file layouts, where the matrix is symmetric), spread over all cores.
    /// --terms writes all R^2 softmax terms and costs far more output.
    Compute(ComputeArgs),
    /// Walk through the computation step by step, for the tutorial's
    /// four-embedding example or for one anchor of your own data.
    ///
    /// Every figure is the one compute reports: the formula, the vectors and
    /// their similarities, each logit, exp term and gradient, the numerator,
    /// the denominator and their ratio, the positive's rank, the loss, the
    /// batch loss, and a table of the loss at tau = 0.05, 0.1, 0.5 and 1.
    /// Each of these costs one more pass of the core: every tau of the table,
    /// tau = 1000 (the loss's limit log n), and the same data with the
    /// strongest negative moved close to the positive (a hard negative).
    /// Where a term leaves float64's range the figures are given in log form.
    Explain(ExplainArgs),
    /// Put the parts of a sharded run together into its result.
    ///
    /// `infonce compute ... --shard K/N -o PART` computes part K of N of the
    /// pass; once all N parts exist, `infonce merge PART...` writes exactly
    /// what `infonce compute ...` without --shard writes, byte for byte, in
    /// every format. It reads the inputs again (from the paths the parts
    /// were given, so run it where they ran) and checks that they are the
    /// ones the parts were computed from; a missing, repeated, damaged or
    /// foreign part is refused and named.
    Merge(MergeArgs),
    /// Print a shell completion script.
    ///
    /// bash: `infonce completions bash > ~/.local/share/bash-completion/completions/infonce`;
    /// zsh: `infonce completions zsh > ~/.zfunc/_infonce` (with `~/.zfunc` in
    /// fpath); fish: `infonce completions fish > ~/.config/fish/completions/infonce.fish`;
    /// PowerShell: `infonce completions powershell >> $PROFILE`.
    Completions(CompletionsArgs),
    /// Print a manual page (roff): `infonce man | man -l -`, or
    /// `infonce man compute` for the page of `infonce compute`.
    Man(ManArgs),
}

/// Extra negatives and the loss over them, for `compute` and `explain`.
#[derive(Debug, Args)]
pub struct ObjectiveArgs {
    /// Extra negatives: rows that are candidates of every anchor and never
    /// positives, added to its in-batch candidates. A 2-D file (M, d), in
    /// any format EMB takes, is one set shared by every anchor (a MoCo
    /// queue; hard negatives stacked as kN x d). A 3-D array (A, M, d)
    /// (`.npy`, or an `.npz`/`.safetensors` member) gives anchor a its own
    /// M: A counts the rows of EMB (of both view files; with --keys, the
    /// queries). With --keys --symmetric the key-to-query records see none.
    #[arg(long, value_name = "FILE")]
    pub negatives: Option<PathBuf>,

    /// With --negatives: a record's candidates are its positive and the
    /// extra negatives only, no other row of the batch (MoCo,
    /// info-nce-pytorch's negative_keys).
    #[arg(long, requires = "negatives")]
    pub no_in_batch: bool,

    /// The decoupled loss (Yeh et al. 2022, lightly's DCLLoss): the positive
    /// leaves the denominator, loss = log(sum over the other candidates of
    /// exp(logit)) - logit, which can be negative. The record's denominator
    /// is that sum; p_positive stays numerator / (numerator + denominator).
    #[arg(long)]
    pub decoupled: bool,
}

/// Where the embeddings are and which rows are positives of which.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Pairs file: rows `i,j` (0-based) make anchor i with positive j; the
    /// candidates of i are every other row. `.npy` of shape (P, 2) or text;
    /// whole numbers written as floats (np.savetxt's default) are accepted.
    /// Also an integer array of an `.npz`/`.safetensors` (`FILE:NAME`), or
    /// two integer columns of a Parquet file (`FILE.parquet:anchor,positive`).
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,

    /// Keys file: EMB holds queries and FILE keys, row i of each a pair; the
    /// candidates of query i are every key. Any format EMB takes
    /// (`--keys clip.parquet:text` with `clip.parquet:image` as EMB).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,

    /// Labels file: one label per row of EMB, integers or strings; the
    /// positives of a row are all other rows with its label, its candidates
    /// every other row (SupCon; rows whose label no other row has are
    /// skipped and listed). `.npy` (integers, or numpy strings `<U..`), a
    /// text file of one label per line with no header (if every line is an
    /// integer they are integers, so `7` and `07` are one label; otherwise
    /// all are strings), or a column: `FILE.csv:NAME` (by its header
    /// name), a Parquet column, an integer array of an `.npz` or
    /// `.safetensors` file. At most 2^23 positive pairs. With compute's
    /// --negatives the extra rows are candidates of every anchor, never
    /// positives (SupCon with a queue); --no-in-batch and --decoupled, losses
    /// of one positive per anchor, are refused. explain walks through one
    /// anchor and each of its positives' terms.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pairs", "keys", "symmetric"])]
    pub labels: Option<PathBuf>,

    /// With --labels, how an anchor's several positives make its loss.
    /// `supcon`: SupCon's L_out, the mean over its positives p of
    /// log(denominator) - s(a,p)/tau, one denominator over every candidate;
    /// the loss is the mean over anchors (pytorch-metric-learning's
    /// SupConLoss). `pairwise`: each positive scored on its own, the other
    /// positives left out of its denominator; the loss is the mean over
    /// positive pairs (NTXentLoss with labels), and the totals also give
    /// the mean over anchors.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = MultiPositive::Supcon, requires = "labels")]
    pub multi_positive: MultiPositive,

    /// Also score each pair the other way (j -> i; with --keys, every key
    /// against every query, as in CLIP's loss).
    #[arg(long, requires = "layout_file")]
    pub symmetric: bool,

    /// Temperature: logits are similarities divided by tau. Values of 10 or
    /// more draw a warning: they look like a logit scale (see --logit-scale).
    /// In compute, several temperatures sweep them in one pass (each tile's
    /// products are computed once and folded at every tau): a list `0.05,0.1,0.2`, or
    /// `LO:HI:N`, N values spaced evenly on a log scale from LO to HI, both
    /// included (`0.01:1:8`). A sweep reports each tau's loss, top-1
    /// accuracy, MRR and mean p_positive, and the best (lowest-loss) tau,
    /// whose figures are the loss and records reported.
    #[arg(
        long,
        visible_alias = "temperature",
        default_value = "0.1",
        value_parser = parse_taus,
        value_name = "T",
        allow_negative_numbers = true
    )]
    pub tau: Taus,

    /// Logit scale S instead of --tau: tau = 1/S. CLIP stores it as a log
    /// (`logit_scale`); give its exponential, `logit_scale.exp()`, e.g. 100.
    #[arg(
        long,
        value_name = "S",
        value_parser = parse_logit_scale,
        conflicts_with = "tau",
        allow_negative_numbers = true
    )]
    pub logit_scale: Option<f64>,

    /// Similarity between embeddings.
    #[arg(long, value_enum, default_value_t = SimArg::Cosine)]
    pub sim: SimArg,

    /// Precision of the similarity products. `auto` multiplies float32 input
    /// in float32 (every sum is kept in float64), unless the error bound of
    /// float32 products on a logit, d * 2^-24 / tau under cosine, exceeds
    /// 0.01: then in float64, and the report says why. `f64` multiplies in
    /// float64.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
    pub precision: PrecisionArg,

    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend
    /// on it. No more threads are started than there are cores, or blocks of
    /// 256 rows in the input (judged from the files' sizes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u32>,

    /// Columns of text input (CSV, TSV, whitespace) that hold the embeddings:
    /// 1-based numbers or header names, and ranges A:B that include both
    /// ends: `2:` (all but the first), `2,5:9`, `emb_0:emb_767`. Without it
    /// every column is read but pandas' index column.
    #[arg(long, value_name = "SPEC", value_parser = ColumnSpec::parse)]
    pub columns: Option<ColumnSpec>,

    /// Rows per tile side of the similarity pass (tuning and testing).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub block: Option<u32>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("layout_file").args(["pairs", "keys"]).multiple(false))]
pub struct ComputeArgs {
    /// Embeddings: `.npy` (2-D float16/32/64) or text (CSV, TSV or numbers
    /// separated by spaces, as np.savetxt writes; `#` lines are comments; a
    /// header of names, or pandas' 0,1,...,d-1, is skipped; at most 1 GiB
    /// and 2^27 numbers, 4 MiB a line); `-` reads standard input. By default rows i and i+N of a
    /// 2N-row file are the two views of item i (SimCLR).
    /// Also `.npz`, `.safetensors` (F16/BF16/F32/F64) and Parquet (one list
    /// of floats per row): `FILE:NAME` picks the array, tensor or column,
    /// unless the file holds only one, and `-:NAME` one of standard input
    /// (`infonce compute -:emb < emb.npz`). The format is told from the
    /// bytes; PyTorch, HDF5 and Arrow files are named, with how to convert
    /// them.
    #[arg(value_name = "EMB")]
    pub input: String,

    /// The second views, when the two views are in two files: row i of EMB
    /// and row i of VIEW2 are the two views of item i, and every row of both
    /// files is a candidate (the two-view layout over the files stacked; in
    /// the output, row i of VIEW2 is row N+i). Not for queries and keys:
    /// those take --keys.
    #[arg(value_name = "VIEW2", conflicts_with_all = ["pairs", "keys", "labels"])]
    pub second: Option<String>,

    /// Files past the second, refused with a pointer to --keys and --pairs.
    #[arg(value_name = "MORE", hide = true)]
    pub extra: Vec<String>,

    #[command(flatten)]
    pub data: DataArgs,

    #[command(flatten)]
    pub objective: ObjectiveArgs,

    /// Also write every softmax term of every anchor (index, sim, logit, exp,
    /// p); in the table formats, of the anchors the table lists.
    #[arg(long, conflicts_with = "summary")]
    pub terms: bool,

    /// Also take Wang & Isola's uniformity (`metrics.uniformity`) where it
    /// needs products of its own: with --keys (the queries' and the keys'
    /// own, as many as the loss's: about twice the work), --no-in-batch,
    /// or pairs that leave a block of 256 rows without an anchor. Without
    /// it the uniformity is taken where the loss's own tiles hold its
    /// pairs (two-view, labels, pairs over every row), at the cost of one
    /// exponential per pair, and left out elsewhere.
    #[arg(long)]
    pub uniformity: bool,

    #[command(flatten)]
    pub out: OutputArgs,

    /// Compute part K of N of the work (K = 1..N) and write its partial
    /// sums to -o PART, a part file for `infonce merge`, instead of the
    /// result. The parts split the tiles of the pass about evenly; any
    /// machine can run any part, in any order, and `merge` puts a complete
    /// set together into the very output of a single run. Output flags
    /// (--format, --summary, --plot, ...) go to `merge`.
    #[arg(
        long,
        value_name = "K/N",
        value_parser = crate::shard::Shard::parse,
        requires = "output",
        conflicts_with_all = ["terms", "format", "summary", "all", "anchor", "plot", "fail_above", "top_k"]
    )]
    pub shard: Option<crate::shard::Shard>,
}

/// Where and how the result is written: flags of `compute` and `merge`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format [default: from the extension of -o FILE (.json, .csv,
    /// .tsv, .ndjson or .jsonl, .md or .markdown), else table].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,

    /// Write only the totals, no per-anchor records.
    #[arg(long)]
    pub summary: bool,

    /// In the table formats, list every anchor even for large inputs.
    #[arg(long)]
    pub all: bool,

    /// Write only the records of these anchors (rows of the anchor's file,
    /// the numbers of the `anchor` column; comma-separated), in every
    /// format. The totals stay those of the whole batch. With --terms, a
    /// way to see the terms of a few anchors of a big batch.
    #[arg(
        long,
        value_name = "I[,J...]",
        value_delimiter = ',',
        conflicts_with = "summary"
    )]
    pub anchor: Option<Vec<usize>>,

    /// Write to FILE instead of standard output (`-` is standard output).
    ///
    /// A regular file is replaced atomically: a failed run leaves it as it
    /// was, and it keeps its mode; a new file gets 0666 less the umask. A
    /// symbolic link is followed and its target replaced. Devices and FIFOs
    /// (/dev/null, /dev/stdout) are written in place. FILE may not be one of
    /// the input files. Without --format, its extension picks the format.
    /// `-:NAME`, an array of standard input to the inputs, is refused
    /// (`./-:NAME` is a file of that name).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// No progress bar (drawn on a terminal once the pass has run for a
    /// second), no warnings, no notice that standard input is awaited, no
    /// line about --fail-above (its exit code still says it).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// The k of the top-k accuracies in the totals (`metrics.top_k`): the
    /// share of records whose positive ranks k-th or better. Whole numbers
    /// of at least 1, comma-separated, each once; written in increasing
    /// order.
    #[arg(
        long,
        value_name = "K[,K...]",
        value_delimiter = ',',
        default_value = "1,5,10",
        value_parser = parse_top_k
    )]
    pub top_k: Vec<u64>,

    /// Exit with code 3 when the mean loss is above X, after the whole
    /// result has been written (a gate for CI jobs and shell pipelines);
    /// a line on standard error says the loss and X, unless --quiet.
    #[arg(long, value_name = "X", value_parser = parse_fail_above, allow_negative_numbers = true)]
    pub fail_above: Option<f64>,

    /// Also draw a histogram of the per-anchor losses, with the mean and
    /// ln |C| (the loss of a model that scores every candidate alike)
    /// marked, as an SVG file; with several temperatures (--tau A,B,... or
    /// LO:HI:N), the mean loss against tau on a log axis with the best tau
    /// marked instead. Written as -o writes a file (replaced atomically,
    /// never one of the inputs), after the result.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// `infonce merge`'s arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The part files (`compute --shard K/N -o PART`), all N of one run, in
    /// any order.
    #[arg(value_name = "PART", required = true)]
    pub parts: Vec<std::path::PathBuf>,

    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u32>,

    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("layout_file").args(["pairs", "keys"]).multiple(false))]
pub struct ExplainArgs {
    /// Embeddings to explain one anchor of, in any form compute takes (`-`
    /// and `-:NAME` read standard input); without it, the tutorial's
    /// built-in example of four embeddings.
    #[arg(value_name = "EMB")]
    pub input: Option<String>,

    #[command(flatten)]
    pub data: DataArgs,

    #[command(flatten)]
    pub objective: ObjectiveArgs,

    /// Explain the anchor in row I of its file (0-based): the number
    /// `compute` prints in its `anchor` column, in every layout, and for the
    /// built-in example (row 0 is z1). When row I anchors several records,
    /// the first is explained and the others are listed.
    #[arg(long, value_name = "I")]
    pub anchor: Option<usize>,

    /// With `--keys --symmetric`: explain the query-to-key record of the row
    /// (the query against every key) or the key-to-query one.
    #[arg(long, value_enum, value_name = "WAY", conflicts_with = "record")]
    pub direction: Option<DirectionArg>,

    /// Explain the record whose positive is row J of the candidates' file
    /// (when a row anchors several pairs; with --labels an anchor's one
    /// record holds all its positives, so it is refused).
    #[arg(long, value_name = "J", conflicts_with = "record")]
    pub positive: Option<usize>,

    /// Explain record K, in the order `compute` writes them (with --pairs
    /// the K-th pair, the reversed pairs of --symmetric after them; with
    /// --keys --symmetric the key-to-query records after the query-to-key
    /// ones).
    #[arg(long, value_name = "K", conflicts_with = "anchor")]
    pub record: Option<usize>,

    /// Negatives listed one by one, the strongest first; the rest are summed
    /// in one line.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub max_terms: usize,

    /// Output form.
    #[arg(long, short = 'f', value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,

    /// Language of the walkthrough. `en+zh` is English with the tutorial's
    /// Chinese terms in brackets where they are introduced.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,

    /// Add the other language's terms in brackets where they are introduced
    /// (the Chinese ones to English, as `--lang en+zh` does; the English ones
    /// to Chinese).
    #[arg(long)]
    pub glossary: bool,

    /// No warnings.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Which way a record of `--keys --symmetric` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// The query is the anchor, the keys its candidates.
    QueryToKey,
    /// The key is the anchor, the queries its candidates.
    KeyToQuery,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`infonce-compute(1)`,
    /// `infonce-explain(1)`); without it, the page of `infonce` itself.
    #[arg(value_name = "COMMAND", value_parser = ["compute", "merge", "explain", "completions", "man"])]
    pub command: Option<String>,
}

/// The largest `--threads` accepted: far more than any machine's cores, and
/// small enough that a typo such as `--threads 10000000` is an error rather
/// than an attempt to start millions of threads.
pub const MAX_THREADS: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimArg {
    /// Dot product of L2-normalized rows.
    Cosine,
    /// Plain dot product.
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    Auto,
    F64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// Chinese, in the tutorial's terms.
    Zh,
    /// English with the tutorial's Chinese terms in brackets.
    #[value(name = "en+zh")]
    EnZh,
}

/// The temperatures `--tau` gives: one, or the several of a sweep, in the
/// order given (a range from LO up to HI).
#[derive(Debug, Clone, PartialEq)]
pub struct Taus(pub Vec<f64>);

/// The most temperatures one sweep takes: each costs a fold of every tile
/// and a copy of every record's findings.
pub const MAX_TAUS: usize = 100;

impl DataArgs {
    /// The temperature: `--tau` (the first of a sweep), or the inverse of
    /// `--logit-scale`.
    pub fn tau(&self) -> f64 {
        self.logit_scale.map_or(self.tau.0[0], |s| 1.0 / s)
    }

    /// Every temperature: the one of [`DataArgs::tau`], or the sweep's.
    pub fn taus(&self) -> Vec<f64> {
        match self.logit_scale {
            Some(s) => vec![1.0 / s],
            None => self.tau.0.clone(),
        }
    }
}

/// A tau this large is more likely a logit scale given where a temperature
/// belongs (CLIP learns a scale near 100, a temperature near 0.01).
pub const TAU_LOOKS_LIKE_SCALE: f64 = 10.0;

/// The warning a tau of [`TAU_LOOKS_LIKE_SCALE`] or more draws, if any.
pub fn tau_warning(a: &DataArgs) -> Option<String> {
    let taus = a.taus();
    if taus.len() > 1 {
        let top = taus.iter().copied().fold(0.0, f64::max);
        return (top >= TAU_LOOKS_LIKE_SCALE).then(|| {
            format!(
                "--tau reaches {top}, which looks like a logit scale, not a temperature \
                 (logits are similarities divided by tau; a logit scale S is tau 1/S)"
            )
        });
    }
    let tau = a.tau();
    if tau < TAU_LOOKS_LIKE_SCALE {
        return None;
    }
    Some(match a.logit_scale {
        Some(s) => format!(
            "--logit-scale {s} makes tau {}; {s} looks like a temperature, not a \
             logit scale (if it is one, use --tau {s})",
            short(tau)
        ),
        None => format!(
            "--tau {tau} looks like a logit scale, not a temperature (logits are \
             similarities divided by tau); if it is CLIP's logit_scale.exp(), use \
             --logit-scale {tau} (tau {})",
            short(1.0 / tau)
        ),
    })
}

/// Writes the completion script for `shell`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "infonce", out);
}

/// Writes the manual page of `infonce`, or of one of its commands.
pub fn write_man_page(command: Option<&str>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building gives every command its full name (`infonce-compute`).
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| std::io::Error::other(format!("no command '{name}'")))?,
    };
    clap_mangen::Man::new(page).render(out)
}

/// The names of the manual pages [`write_man_page`] writes, with the command
/// each is for (`None`: `infonce` itself).
pub fn man_pages() -> Vec<(String, Option<String>)> {
    let mut pages = vec![("infonce.1".to_string(), None)];
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name().to_string();
        pages.push((format!("infonce-{name}.1"), Some(name)));
    }
    pages
}

/// tau must be a finite number above zero.
fn parse_tau(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !t.is_finite() || t <= 0.0 {
        return Err(format!("tau must be finite and greater than 0, got {s}"));
    }
    Ok(t)
}

/// A k of `--top-k`: a whole number of at least 1.
fn parse_top_k(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("k must be at least 1 (top-1 is the share ranked first)".into()),
        Ok(k) => Ok(k),
        Err(_) => Err(format!("'{s}' is not a whole number of at least 1")),
    }
}

/// The threshold of `--fail-above`: any number but NaN (infinity never
/// fails, minus infinity always does).
fn parse_fail_above(s: &str) -> Result<f64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if x.is_nan() {
        return Err("the threshold must be a number, got NaN".into());
    }
    Ok(x)
}

/// `--tau`: one temperature, a list `A,B,...`, or `LO:HI:N`, N values
/// spaced evenly on a log scale with both ends exact.
fn parse_taus(s: &str) -> Result<Taus, String> {
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let [lo, hi, n] = parts[..] else {
            return Err(format!(
                "'{s}' is not a range: give LO:HI:N (N temperatures from LO to HI), \
                 or a list A,B,..."
            ));
        };
        let (lo, hi) = (parse_tau(lo)?, parse_tau(hi)?);
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("the N of LO:HI:N must be a whole number, got '{n}'"))?;
        if !(2..=MAX_TAUS).contains(&n) {
            return Err(format!(
                "the N of LO:HI:N must be from 2 to {MAX_TAUS} (one temperature is --tau T), got {n}"
            ));
        }
        if lo >= hi {
            return Err(format!(
                "the range {s} must go up: LO ({lo}) must be below HI ({hi})"
            ));
        }
        // As numpy.geomspace: powers of ten, so that a range of decades
        // gives round numbers (0.01:1:3 is 0.01, 0.1, 1).
        let (a, b) = (lo.log10(), hi.log10());
        let step = (b - a) / (n - 1) as f64;
        let mut taus: Vec<f64> = (0..n).map(|k| 10f64.powf(a + step * k as f64)).collect();
        taus[0] = lo;
        taus[n - 1] = hi;
        return Ok(Taus(taus));
    }
    let taus = s.split(',').map(parse_tau).collect::<Result<Vec<_>, _>>()?;
    if taus.len() > MAX_TAUS {
        return Err(format!(
            "--tau lists {} temperatures; at most {MAX_TAUS}",
            taus.len()
        ));
    }
    for (k, t) in taus.iter().enumerate() {
        if taus[..k].contains(t) {
            return Err(format!("--tau lists {t} twice"));
        }
    }
    Ok(Taus(taus))
}

/// A number to 4 significant digits without trailing zeros (0.05, 0.06993).
fn short(x: f64) -> String {
    let s = crate::output::rounded(x, 4);
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A logit scale must be a finite number above zero whose inverse is a
/// finite temperature.
fn parse_logit_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "the logit scale must be finite and greater than 0, got {s}"
        ));
    }
    if !(1.0 / v).is_finite() {
        return Err(format!(
            "the logit scale {s} is too small: tau = 1/{s} overflows"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tau_lists_and_ranges() {
        let taus = |s: &str| parse_taus(s).map(|t| t.0);
        assert_eq!(taus("0.1"), Ok(vec![0.1]));
        assert_eq!(taus("0.05,0.1, 0.2"), Ok(vec![0.05, 0.1, 0.2]));
        assert_eq!(taus("0.01:1:3"), Ok(vec![0.01, 0.1, 1.0]));
        let r = taus("0.02:0.5:8").unwrap();
        assert_eq!(r.len(), 8);
        assert_eq!((r[0], r[7]), (0.02, 0.5));
        // Evenly spaced on a log scale: a constant ratio of (0.5/0.02)^(1/7).
        let ratio = (0.5f64 / 0.02).powf(1.0 / 7.0);
        for w in r.windows(2) {
            assert!((w[1] / w[0] - ratio).abs() < 1e-12, "{r:?}");
        }
        for (bad, why) in [
            ("0.1:0.01:3", "must go up"),
            ("0.1:0.1:3", "must go up"),
            ("0.01:1:1", "from 2 to 100"),
            ("0.01:1:101", "from 2 to 100"),
            ("0.01:1:x", "whole number"),
            ("0.01:1", "not a range"),
            ("0.01:1:3:4", "not a range"),
            ("0:1:3", "greater than 0"),
            ("0.1,,0.2", "not a number"),
            ("0.1,-0.2", "greater than 0"),
            ("0.1,0.2,0.1", "lists 0.1 twice"),
        ] {
            let e = taus(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let many: Vec<String> = (1..=101).map(|k| format!("{}", k as f64 / 10.0)).collect();
        assert!(taus(&many.join(",")).unwrap_err().contains("at most 100"));
        let w = tau_warning(&data(&["--tau", "0.1:20:4"])).unwrap();
        assert!(w.contains("reaches 20"), "{w}");
        assert_eq!(tau_warning(&data(&["--tau", "0.1:9:4"])), None);
        assert_eq!(data(&["--tau", "0.2,0.1"]).taus(), vec![0.2, 0.1]);
        assert_eq!(data(&["--logit-scale", "50"]).taus(), vec![0.02]);
    }

    #[test]
    fn tau_must_be_positive_and_finite() {
        assert_eq!(parse_tau("0.1"), Ok(0.1));
        for bad in ["0", "-1", "nan", "inf", "x", ""] {
            assert!(parse_tau(bad).is_err(), "{bad}");
        }
    }

    fn data(args: &[&str]) -> DataArgs {
        let mut all = vec!["infonce", "compute", "e.npy"];
        all.extend(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Compute(c) => c.data,
            _ => unreachable!(),
        }
    }

    #[test]
    fn logit_scale_sets_tau_and_large_taus_draw_a_warning() {
        assert_eq!(data(&[]).tau(), 0.1);
        assert_eq!(data(&["--logit-scale", "100"]).tau(), 0.01);
        assert_eq!(data(&["--temperature", "0.07"]).tau(), 0.07);
        assert_eq!(tau_warning(&data(&["--tau", "9.99"])), None);
        let w = tau_warning(&data(&["--tau", "14.3"])).unwrap();
        assert!(w.contains("--logit-scale 14.3 (tau 0.06993)"), "{w}");
        let w = tau_warning(&data(&["--logit-scale", "0.07"])).unwrap();
        assert!(w.contains("use --tau 0.07"), "{w}");
        assert_eq!(tau_warning(&data(&["--logit-scale", "14.3"])), None);
    }

    fn compute(args: &[&str]) -> Result<ComputeArgs, clap::Error> {
        let mut all = vec!["infonce", "compute", "e.npy"];
        all.extend(args);
        Cli::try_parse_from(all).map(|c| match c.command {
            Command::Compute(c) => c,
            _ => unreachable!(),
        })
    }

    #[test]
    fn top_k_defaults_to_1_5_10_and_takes_whole_numbers_of_at_least_1() {
        assert_eq!(compute(&[]).unwrap().out.top_k, [1, 5, 10]);
        assert_eq!(compute(&["--top-k", "3,1"]).unwrap().out.top_k, [3, 1]);
        for bad in ["0", "1,0", "x", "1.5", "1,,2"] {
            let e = compute(&["--top-k", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
        // Taken for a flag, and refused as one.
        assert!(compute(&["--top-k", "-1"]).is_err());
    }

    #[test]
    fn fail_above_takes_any_number_but_nan() {
        assert_eq!(
            compute(&["--fail-above", "1.5"]).unwrap().out.fail_above,
            Some(1.5)
        );
        assert_eq!(
            compute(&["--fail-above", "-2"]).unwrap().out.fail_above,
            Some(-2.0)
        );
        assert_eq!(compute(&[]).unwrap().out.fail_above, None);
        for bad in ["nan", "NaN", "x", ""] {
            assert!(compute(&["--fail-above", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_numbers_drop_trailing_zeros() {
        assert_eq!(short(0.05), "0.05");
        assert_eq!(short(1.0 / 14.3), "0.06993");
        assert_eq!(short(1e-6), "1.000e-6");
        assert_eq!(short(2.0), "2");
    }
}
