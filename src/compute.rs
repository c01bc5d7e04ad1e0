//! `infonce compute`: the loss of every anchor, written in the chosen format.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ComputeArgs, FormatArg};
use crate::error::Result;
use crate::job::DataJob;
use crate::output::destination::Destination;
use crate::output::{self, Format, Options, TermSource};

/// Work (R x R' x d multiply-adds) above which a progress bar is worth
/// drawing: about a second on two cores of the machine docs/performance.md
/// describes (0.008 ns per multiply-add there), two on one.
const PROGRESS_WORK: f64 = 1.2e11;

fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Csv => Format::Csv,
        FormatArg::Tsv => Format::Tsv,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Markdown => Format::Markdown,
    }
}

fn progress_bar(tiles: u64, work: f64, quiet: bool) -> ProgressBar {
    if quiet || work < PROGRESS_WORK || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(tiles), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {percent:>3}% of the similarity tiles, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `compute` and writes its output.
pub fn run(args: &ComputeArgs) -> Result<()> {
    crate::warning::set_quiet(args.quiet);
    let job = DataJob::from_args(args.input.clone(), &args.data);
    // The output is checked before any work: an input is never overwritten.
    let dest = Destination::resolve(args.output.as_deref(), &job.inputs())?;
    // Every parallel step, loading included, runs on the pool --threads sets.
    let pool = job.pool()?;
    let loaded = pool.install(|| job.load())?;
    let core = pool.install(|| loaded.core(job.settings))?;
    let rows = loaded.layout.n_first as f64;
    let work = rows * loaded.layout.n_second as f64 * loaded.first.cols() as f64;
    let bar = progress_bar(core.tile_count(), work, args.quiet);
    let stats = pool.install(|| core.run(&|n| bar.inc(n)));
    bar.finish_and_clear();
    let report = loaded.report(&core, job.settings, &stats);

    // An explicit --format wins; then the extension of -o FILE; then table.
    let format = args
        .format
        .map(format_of)
        .or_else(|| dest.format_from_extension())
        .unwrap_or(Format::Table);
    let opts = Options {
        summary_only: args.summary,
        all_rows: args.all,
    };
    let source = TermSource { core: &core };
    let terms = args.terms.then_some(&source);
    dest.write(|w| output::write(format, &report, terms, opts, w))
}
