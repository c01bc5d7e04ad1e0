//! `infonce compute`: the loss of every anchor, written in the chosen format.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ComputeArgs, FormatArg};
use crate::error::{Error, Result};
use crate::input::io_reason;
use crate::job::{DataJob, parent_dir};
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

    let format = format_of(args.format);
    let opts = Options {
        summary_only: args.summary,
        all_rows: args.all,
    };
    let source = TermSource { core: &core };
    let terms = args.terms.then_some(&source);
    match &args.output {
        None => {
            let stdout = io::stdout().lock();
            let mut w = BufWriter::new(stdout);
            output::write(format, &report, terms, opts, &mut w)
                .and_then(|()| w.flush())
                .map_err(|source| Error::Output {
                    what: "standard output".into(),
                    source,
                })
        }
        Some(path) => {
            let name = path.to_string_lossy().into_owned();
            let fail =
                |e: io::Error| Error::data(&name, format!("cannot write: {}", io_reason(&e)));
            let dir = parent_dir(path);
            if !dir.is_dir() {
                return Err(Error::data(
                    &name,
                    format!(
                        "cannot write: folder '{}' does not exist",
                        dir.to_string_lossy()
                    ),
                ));
            }
            let tmp = tempfile::Builder::new()
                .prefix(".infonce-")
                .suffix(".tmp")
                .tempfile_in(&dir)
                .map_err(fail)?;
            let mut w = BufWriter::new(tmp);
            output::write(format, &report, terms, opts, &mut w)
                .and_then(|()| w.flush())
                .map_err(fail)?;
            let tmp = w.into_inner().map_err(|e| fail(e.into_error()))?;
            tmp.as_file().sync_all().map_err(fail)?;
            tmp.persist(path).map_err(|e| fail(e.error))?;
            Ok(())
        }
    }
}
