//! The command line: commands, flags and their help text (clap derive).
//!
//! Values are checked here so that a bad value is a usage error (exit 2);
//! turning flags into a job happens in [`crate::job`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// their similarities, each logit and exp term, the numerator, the
    /// denominator and their ratio, the loss, the batch loss, and a table of
    /// the loss at tau = 0.05, 0.1, 0.5 and 1 (one more pass of the core for
    /// each).
    /// Where exp overflows float64 the figures are given in log form.
    Explain(ExplainArgs),
}

/// Where the embeddings are and which rows are positives of which.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Pairs file: rows `i,j` (0-based) make anchor i with positive j; the
    /// candidates of i are every other row. `.npy` of shape (P, 2) or CSV.
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,

    /// Keys file: EMB holds queries and FILE keys, row i of each a pair; the
    /// candidates of query i are every key.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,

    /// Also score each pair the other way (j -> i; with --keys, every key
    /// against every query, as in CLIP's loss).
    #[arg(long, requires = "layout_file")]
    pub symmetric: bool,

    /// Temperature: logits are similarities divided by tau.
    #[arg(long, default_value_t = 0.1, value_parser = parse_tau, value_name = "T")]
    pub tau: f64,

    /// Similarity between embeddings.
    #[arg(long, value_enum, default_value_t = SimArg::Cosine)]
    pub sim: SimArg,

    /// Precision of the similarity products. `auto` multiplies float32 input
    /// in float32 (every sum is kept in float64); `f64` multiplies in float64.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
    pub precision: PrecisionArg,

    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Rows per tile side of the similarity pass (tuning and testing).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub block: Option<u32>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("layout_file").args(["pairs", "keys"]).multiple(false))]
pub struct ComputeArgs {
    /// Embeddings: `.npy` (2-D float16/32/64) or CSV/TSV; `-` reads standard
    /// input. By default rows i and i+N of a 2N-row file are the two views of
    /// item i (SimCLR).
    #[arg(value_name = "EMB")]
    pub input: String,

    #[command(flatten)]
    pub data: DataArgs,

    /// Output format [default: from the extension of -o FILE (.json, .csv,
    /// .tsv, .ndjson or .jsonl, .md or .markdown), else table].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<FormatArg>,

    /// Also write every softmax term of every anchor (index, sim, logit, exp, p).
    #[arg(long, conflicts_with = "summary")]
    pub terms: bool,

    /// Write only the totals, no per-anchor records.
    #[arg(long)]
    pub summary: bool,

    /// In the table formats, list every anchor even for large inputs.
    #[arg(long)]
    pub all: bool,

    /// Write to FILE instead of standard output (`-` is standard output).
    ///
    /// A regular file is replaced atomically: a failed run leaves it as it
    /// was, and it keeps its mode; a new file gets 0666 less the umask. A
    /// symbolic link is followed and its target replaced. Devices and FIFOs
    /// (/dev/null, /dev/stdout) are written in place. FILE may not be one of
    /// the input files. Without --format, its extension picks the format.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// No progress bar and no warnings.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("layout_file").args(["pairs", "keys"]).multiple(false))]
pub struct ExplainArgs {
    /// Embeddings to explain one anchor of; without it, the tutorial's
    /// built-in example of four embeddings.
    #[arg(value_name = "EMB")]
    pub input: Option<String>,

    #[command(flatten)]
    pub data: DataArgs,

    /// The record to explain (default 0): in the two-view layout row I, with
    /// --pairs the I-th pair (with --symmetric the reversed pairs follow), with
    /// --keys query I (with --symmetric the key-to-query records follow).
    #[arg(long, value_name = "I", requires = "input")]
    pub anchor: Option<usize>,

    /// Negatives listed one by one, the strongest first; the rest are summed
    /// in one line.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub max_terms: usize,

    /// Output form.
    #[arg(long, short = 'f', value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,

    /// Language of the walkthrough.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

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
pub enum FormatArg {
    /// Aligned columns and totals, for a terminal.
    Table,
    /// One JSON document.
    Json,
    /// One CSV row per anchor.
    Csv,
    /// The CSV rows with tabs between the fields.
    Tsv,
    /// One JSON object per line, per anchor.
    Ndjson,
    /// A Markdown table.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Zh,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tau_must_be_positive_and_finite() {
        assert_eq!(parse_tau("0.1"), Ok(0.1));
        for bad in ["0", "-1", "nan", "inf", "x", ""] {
            assert!(parse_tau(bad).is_err(), "{bad}");
        }
    }
}
