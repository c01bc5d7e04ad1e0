//! `infonce compute`: the loss of every anchor, written in the chosen format.

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::ffi::OsString;

use crate::cli::{ComputeArgs, MergeArgs};
use crate::error::{Error, Result};
use crate::job::{DataJob, Loaded};
use crate::output::destination::Destination;
use crate::output::{self, Format, Options, TermSource, Terms};
use crate::report::{Report, Summary};
use crate::run::Session;
use crate::shard::PartSet;

/// How long the pass runs before a progress bar appears: about a second of
/// actual work, whatever the machine.
const PROGRESS_DELAY: Duration = Duration::from_secs(1);

/// A progress bar over the similarity tiles (the run sets their number),
/// hidden until [`show_bar`] draws it.
pub(crate) fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {percent:>3}% of the similarity tiles, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show_bar(bar: &ProgressBar) {
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
}

/// Waits until the work is done (`done` hangs up) or `delay` has passed,
/// whichever is first; in the second case calls `show` and returns true.
/// Elapsed time decides, not an estimate of the work, so a slow machine
/// gets its bar when a fast one would not need it.
fn show_after(done: &mpsc::Receiver<()>, delay: Duration, show: impl FnOnce()) -> bool {
    match done.recv_timeout(delay) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            show();
            true
        }
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => false,
    }
}

/// Runs `work`, with a progress bar drawn on standard error once it has run
/// for [`PROGRESS_DELAY`], when `wanted`.
pub(crate) fn with_progress<R>(bar: &ProgressBar, wanted: bool, work: impl FnOnce() -> R) -> R {
    if !wanted {
        return work();
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<()>();
        s.spawn(move || show_after(&rx, PROGRESS_DELAY, || show_bar(bar)));
        let result = work();
        drop(tx);
        result
    })
}

/// The line `compute` writes while it waits for a terminal to type its
/// standard input, if one of its inputs is `-` and standard input is one.
pub fn stdin_notice(inputs: &[Option<&str>], stdin_is_terminal: bool) -> Option<String> {
    (stdin_is_terminal && inputs.contains(&Some("-"))).then(|| {
        "infonce: waiting for standard input (a terminal): type or paste the rows, \
         then Ctrl-D; or name a file instead of '-'"
            .to_string()
    })
}

/// The records of `report` whose anchors are in `anchors`, in record order;
/// errors for an anchor out of range or one that anchors no record.
fn select(report: Report, anchors: &[usize], loaded: &Loaded, job: &DataJob) -> Result<Report> {
    let rows = loaded.layout.n_first;
    let file = &loaded.first().name;
    for &a in anchors {
        // Every row anchors a record in the two-view and keys layouts.
        if a >= rows {
            return Err(Error::data(
                file,
                format!(
                    "--anchor {a} is out of range: the anchors are rows 0 to {} ({} has {rows} rows)",
                    rows - 1,
                    if loaded.layout.kind == crate::layout::LayoutKind::TwoView
                        && job.second_view.is_some()
                    {
                        "the stack of the two view files"
                    } else {
                        "the file"
                    }
                ),
            ));
        }
        if !report.records.iter().any(|r| r.anchor == a)
            && let Some(labels) = &job.labels
        {
            return Err(Error::data(
                &crate::input::display_name(labels),
                format!(
                    "--anchor {a}: row {a} has no positive (no other row has its label), \
                     so it is skipped"
                ),
            ));
        }
        if !report.records.iter().any(|r| r.anchor == a) {
            let pairs = job
                .pairs
                .as_deref()
                .map_or_else(|| file.clone(), crate::input::display_name);
            return Err(Error::data(
                &pairs,
                format!("--anchor {a}: no pair has row {a} as its anchor"),
            ));
        }
    }
    let mut chosen = vec![false; rows];
    for &a in anchors {
        chosen[a] = true;
    }
    let records = report
        .records
        .iter()
        .filter(|r| chosen[r.anchor])
        .cloned()
        .collect();
    let summary = Summary {
        selected_anchors: Some((0..rows).filter(|&a| chosen[a]).collect()),
        ..report.summary
    };
    Ok(Report { summary, records })
}

/// Runs `compute` and writes its output; `raw` is compute's own
/// arguments as given (a part file of `--shard` keeps them).
pub fn run(args: &ComputeArgs, raw: &[OsString]) -> Result<()> {
    crate::warning::set_quiet(args.out.quiet);
    let job = DataJob::for_compute(args)?;
    if let Some(shard) = args.shard {
        return crate::shard::run_part(args, job, shard, raw);
    }
    deliver(args, job, &[], Session::open)
}

/// Runs `merge`: the result of the run whose parts `m` names, written as
/// `compute` without `--shard` writes it.
pub fn merge(m: &MergeArgs) -> Result<()> {
    crate::warning::set_quiet(m.out.quiet);
    let parts = PartSet::open(&m.parts)?;
    let mut args = parts.compute_args()?;
    args.shard = None;
    args.out = m.out.clone();
    args.data.threads = m.threads;
    let job = DataJob::for_compute(&args)?;
    parts.check_inputs(&args, &job)?;
    // Neither the result nor the picture may replace a part.
    let names: Vec<String> = m
        .parts
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let read: Vec<(&str, &str)> = names.iter().map(|p| ("PART", p.as_str())).collect();
    deliver(&args, job, &read, |job| {
        Ok(Session::open(job)?.with_parts(parts))
    })
}

/// Opens the job's session with `open` and writes its result as `args`
/// ask.
fn deliver(
    args: &ComputeArgs,
    job: DataJob,
    read: &[(&str, &str)],
    open: impl FnOnce(DataJob) -> Result<Session>,
) -> Result<()> {
    // The output is checked before any work: an input is never overwritten.
    let inputs: Vec<(&str, &str)> = job
        .inputs()
        .into_iter()
        .chain(read.iter().copied())
        .collect();
    let dest = Destination::resolve(args.out.output.as_deref(), &inputs)?;
    let plot = plot_destination(args, &dest, &inputs)?;
    let top_k = crate::job::top_k(args)?;
    let paths = [
        Some(job.input.as_str()),
        job.second_view.as_deref(),
        job.keys.as_deref(),
        job.pairs.as_deref(),
    ];
    if !args.out.quiet
        && let Some(notice) = stdin_notice(&paths, io::stdin().is_terminal())
    {
        // Not eprintln!, which panics when standard error is a closed pipe.
        let _ = writeln!(io::stderr().lock(), "{notice}");
    }
    let session = open(job)?;
    let bar = progress_bar();
    let wanted = !args.out.quiet && io::stderr().is_terminal();
    let done = with_progress(&bar, wanted, || session.run_job(&bar))?;
    bar.finish_and_clear();
    let mut report = done.report;
    report.set_top_k(&top_k);
    // Drawn before anything is written: a picture that cannot be drawn
    // leaves no output behind. Every record is drawn, whatever --anchor
    // chooses to write.
    let picture = match &plot {
        Some(_) => Some(
            output::plot::picture(&report, &session.loaded().first().name)
                .map_err(|e| Error::Data(format!("--plot: cannot draw the picture: {e}")))?,
        ),
        None => None,
    };
    let loss = report.summary.loss;
    let report = match &args.out.anchor {
        Some(anchors) => select(report, anchors, session.loaded(), session.job())?,
        None => report,
    };

    // An explicit --format wins; then the extension of -o FILE; then table.
    let format = args
        .out
        .format
        .or_else(|| dest.format_from_extension())
        .unwrap_or(Format::Table);
    let opts = Options {
        summary_only: args.out.summary,
        all_rows: args.out.all,
    };
    let source = TermSource { core: &done.core };
    let terms = args.terms.then_some(&source as &dyn Terms);
    // A reader that closed the pipe early stopped the pipeline, which is no
    // failure (exit 0): the picture and the gate still follow.
    match dest.write(|w| output::write(format, &report, terms, opts, w)) {
        Err(e) if !e.is_broken_pipe() => return Err(e),
        _ => {}
    }
    if let (Some(plot), Some(svg)) = (&plot, &picture) {
        plot.write(|w| w.write_all(svg.as_bytes()))?;
    }
    match args.out.fail_above {
        Some(x) if loss > x => Err(Error::Above(format!(
            "mean loss {} is above --fail-above {x}",
            crate::output::float(loss)
        ))),
        _ => Ok(()),
    }
}

/// The destination of `--plot`, checked as `-o`'s is: never an input, and
/// neither the result's file nor, with the result there, standard output.
fn plot_destination(
    args: &ComputeArgs,
    dest: &Destination,
    inputs: &[(&str, &str)],
) -> Result<Option<Destination>> {
    let Some(path) = args.out.plot.as_deref() else {
        return Ok(None);
    };
    let plot = Destination::resolve(Some(path), inputs)?;
    if plot.is_stdout() && dest.is_stdout() {
        return Err(Error::Usage(
            "--plot - would write the picture to standard output, where the result goes: \
             give the result -o FILE, or the picture a file"
                .into(),
        ));
    }
    // The same name, or two names of one existing file.
    let same = |o: &std::path::Path| {
        o == path
            || std::fs::canonicalize(o)
                .ok()
                .is_some_and(|c| std::fs::canonicalize(path).ok() == Some(c))
    };
    if !plot.is_stdout() && !dest.is_stdout() && args.out.output.as_deref().is_some_and(same) {
        return Err(Error::Usage(format!(
            "--plot {} names the file -o writes the result to: give them two files",
            plot.name()
        )));
    }
    Ok(Some(plot))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn the_bar_waits_for_the_delay_and_not_for_work_that_ends_first() {
        // Work that ends at once: no bar, and no waiting for the delay.
        let (tx, rx) = mpsc::channel::<()>();
        drop(tx);
        let shown = Cell::new(false);
        let start = std::time::Instant::now();
        assert!(!show_after(&rx, Duration::from_secs(30), || shown.set(true)));
        assert!(!shown.get());
        assert!(start.elapsed() < Duration::from_secs(10));

        // Work still running when the delay has passed: the bar.
        let (tx, rx) = mpsc::channel::<()>();
        let start = std::time::Instant::now();
        assert!(show_after(&rx, Duration::from_millis(50), || shown.set(true)));
        assert!(shown.get());
        assert!(start.elapsed() >= Duration::from_millis(50));
        drop(tx);
    }

    #[test]
    fn the_stdin_notice_needs_a_terminal_and_a_dash() {
        let dash = [Some("e.npy"), None, Some("-"), None];
        assert!(stdin_notice(&dash, true).is_some());
        assert!(stdin_notice(&dash, false).is_none());
        assert!(stdin_notice(&[Some("e.npy"), Some("k.npy")], true).is_none());
    }
}
