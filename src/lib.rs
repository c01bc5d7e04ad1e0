//! infonce: the InfoNCE contrastive loss over embedding files, with the full
//! softmax breakdown of every anchor.
//!
//! Data flows one way: arguments ([`cli`]) become a validated job ([`job`],
//! every usage check); files are loaded ([`input`]) and laid out into
//! records ([`layout`]); one run ([`run`](mod@run)) has the core ([`loss`], which
//! also decides the precision) compute them in one tiled pass; the findings
//! become a report ([`report`]) that a writer ([`output`]) or the
//! walkthrough ([`explain`]) turns into text.
//!
//! The library does all the work, so it can be used without the binary:
//!
//! ```
//! use infonce::job::DataJob;
//! use infonce::run::compute_report;
//! use infonce::loss::{DEFAULT_BLOCK, Settings, Similarity};
//!
//! let job = DataJob {
//!     input: format!("{}/fixtures/seed.csv", env!("CARGO_MANIFEST_DIR")),
//!     second_view: None,
//!     pairs: None,
//!     keys: None,
//!     symmetric: false,
//!     settings: Settings { tau: 0.1, similarity: Similarity::Cosine, block: DEFAULT_BLOCK, portable: false },
//!     taus: Vec::new(),
//!     force_f64: false,
//!     threads: Some(1),
//!     columns: None,
//!     objective: Default::default(),
//!     uniformity: false,
//!     labels: None,
//!     multi_positive: infonce::layout::MultiPositive::Supcon,
//! };
//! let report = compute_report(&job)?;
//! // The tutorial's numerator: exp(sim(z1, z3) / tau) = exp(0.9 / 0.1) = exp(9).
//! let numerator = report.records[0].numerator.unwrap();
//! assert!((numerator - 8103.083927575384).abs() < 1e-9);
//! assert_eq!(report.summary.n_anchors, 4);
//! # Ok::<(), infonce::error::Error>(())
//! ```

// Every unsafe block says why it is sound (`// SAFETY: ...`).
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod cli;
pub mod compute;
pub mod error;
pub mod explain;
pub mod input;
pub mod job;
pub mod layout;
pub mod loss;
pub mod output;
pub mod report;
pub mod run;
pub mod shard;
pub mod warning;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{EXIT_OK, EXIT_USAGE, Error};

/// Runs the tool on `args` (the first being the program name) and returns the
/// exit code. Errors are printed to standard error as one line.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(stdin_members(&args)) {
        Ok(c) => c,
        Err(mut e) => {
            command_hint(&mut e, &args);
            // Help and version go to stdout with status 0; the rest are
            // usage errors. A closed pipe while printing help is not an error.
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let data = match &cli.command {
        Command::Compute(a) => {
            warning::set_quiet(a.out.quiet);
            Some(&a.data)
        }
        Command::Merge(a) => {
            warning::set_quiet(a.out.quiet);
            None
        }
        Command::Explain(a) => {
            warning::set_quiet(a.quiet);
            Some(&a.data)
        }
        Command::Completions(_) | Command::Man(_) => None,
    };
    if let Some(w) = data.and_then(cli::tau_warning) {
        warning::warn(w);
    }
    let result = match &cli.command {
        Command::Compute(a) => compute::run(a, args.get(2..).unwrap_or_default()),
        Command::Merge(a) => compute::merge(a),
        Command::Explain(a) => explain::run(a),
        Command::Completions(a) => print_to_stdout(|w| {
            cli::write_completions(a.shell, w);
            Ok(())
        }),
        Command::Man(a) => print_to_stdout(|w| cli::write_man_page(a.command.as_deref(), w)),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) if e.is_broken_pipe() => EXIT_OK,
        Err(e) => {
            report_error(&e);
            e.exit_code()
        }
    }
}

/// The arguments with every `-:NAME` (a named array on standard input) put
/// where clap takes it as a value, not as an unknown flag: after an option
/// that takes a value it becomes that option's `=VALUE` (`--keys -:k` is
/// `--keys=-:k`); in place of a file it moves, with the other files in
/// their order, after a `--`. Arguments without such a word are unchanged.
fn stdin_members(args: &[OsString]) -> Vec<OsString> {
    use clap::CommandFactory;
    let is_member = |a: &OsString| a.to_str().is_some_and(|a| a.starts_with("-:"));
    let cmd = Cli::command();
    let sub = args
        .get(1)
        .and_then(|a| a.to_str())
        .and_then(|a| cmd.find_subcommand(a));
    let Some(sub) = sub else {
        return args.to_vec();
    };
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    if !args[..end].iter().skip(2).any(is_member) {
        return args.to_vec();
    }
    // Does `flag` (as written, without `=`) take a value from the next word?
    let takes_value = |flag: &str| {
        let arg = if let Some(long) = flag.strip_prefix("--") {
            sub.get_arguments().find(|a| a.get_long() == Some(long))
        } else {
            let short = flag.chars().last();
            sub.get_arguments()
                .find(|a| a.get_short().is_some() && a.get_short() == short)
        };
        arg.is_some_and(|a| a.get_action().takes_values())
    };
    let mut flags: Vec<OsString> = args[..2].to_vec();
    let mut files: Vec<OsString> = Vec::new();
    let mut value_of: Option<usize> = None;
    for a in &args[2..end] {
        if let Some(i) = value_of.take() {
            if is_member(a) {
                let mut joined = flags[i].clone();
                joined.push("=");
                joined.push(a);
                flags[i] = joined;
            } else {
                flags.push(a.clone());
            }
            continue;
        }
        match a.to_str() {
            Some(t) if t.starts_with("-:") => files.push(a.clone()),
            Some(t) if t.starts_with('-') && t != "-" => {
                if !t.contains('=') && takes_value(t) {
                    value_of = Some(flags.len());
                }
                flags.push(a.clone());
            }
            _ => files.push(a.clone()),
        }
    }
    let has_member_file = files.iter().any(is_member);
    if has_member_file {
        flags.push("--".into());
        flags.extend(files);
        flags.extend(args[end..].iter().skip(1).cloned());
    } else {
        // Only option values moved: the files stay where they were.
        return merge_values_only(args, end, &takes_value, &is_member);
    }
    flags
}

/// `args` with each `-:NAME` after an option that takes a value joined to
/// it as `=-:NAME`, every other word in place.
fn merge_values_only(
    args: &[OsString],
    end: usize,
    takes_value: &dyn Fn(&str) -> bool,
    is_member: &dyn Fn(&OsString) -> bool,
) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let mut value_of: Option<usize> = None;
    for (k, a) in args.iter().enumerate() {
        if let Some(i) = value_of.take() {
            if is_member(a) {
                out[i].push("=");
                out[i].push(a);
                continue;
            }
        } else if (2..end).contains(&k)
            && a.to_str().is_some_and(|t| {
                t.starts_with('-') && t != "-" && !t.contains('=') && takes_value(t)
            })
        {
            value_of = Some(out.len());
        }
        out.push(a.clone());
    }
    out
}

/// Runs `f` on a buffered standard output and flushes it.
fn print_to_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Error> {
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    f(&mut w)
        .and_then(|()| w.flush())
        .map_err(|source| Error::Output {
            what: "standard output".into(),
            source,
        })
}

/// A first argument that is no command (a file, or a flag of `compute`)
/// gets the hint to put `compute` before it; a word close to a command keeps
/// clap's own suggestion.
fn command_hint(e: &mut clap::Error, args: &[OsString]) {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let cmd = Cli::command();
    let first_is_command = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a == "help" || cmd.find_subcommand(a).is_some());
    if first_is_command {
        return;
    }
    let hint_fits = match e.kind() {
        ErrorKind::InvalidSubcommand => e.get(ContextKind::SuggestedSubcommand).is_none(),
        ErrorKind::UnknownArgument => match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(flag)) => is_compute_flag(&cmd, flag),
            _ => false,
        },
        _ => false,
    };
    if !hint_fits {
        return;
    }
    let words: Vec<String> = args.iter().skip(1).map(|a| shell_word(a)).collect();
    let hint = format!(
        "commands come first; to compute the loss: infonce compute {}",
        words.join(" ")
    );
    e.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![hint.into()]),
    );
}

/// Whether `flag` (`--tau`, `--tau=0.1`, `-f`) is a flag of `compute`.
fn is_compute_flag(cmd: &clap::Command, flag: &str) -> bool {
    let Some(compute) = cmd.find_subcommand("compute") else {
        return false;
    };
    let name = flag.split('=').next().unwrap_or(flag);
    compute.get_arguments().any(|a| {
        if let Some(long) = name.strip_prefix("--") {
            a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|al| al.contains(&long))
        } else if let Some(short) = name.strip_prefix('-') {
            let mut cs = short.chars();
            matches!((cs.next(), cs.next()), (Some(c), None) if a.get_short() == Some(c))
        } else {
            false
        }
    })
}

/// An argument as it would be typed in a POSIX shell.
fn shell_word(a: &std::ffi::OsStr) -> String {
    let s = a.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Prints `e` as one line after `error: ` (messages carry no prefix of
/// their own).
fn report_error(e: &Error) {
    let prefix = match e {
        Error::Above(_) if warning::is_quiet() => return,
        Error::Above(_) => "infonce",
        _ => "error",
    };
    // Not eprintln!, which panics when standard error is a closed pipe.
    let _ = writeln!(std::io::stderr().lock(), "{prefix}: {e}");
}
