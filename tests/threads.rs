//! `--threads`: bounded on the command line, and never more threads started
//! than there are cores, nor put to work than there are row blocks. A large
//! count once made a six-row input run for minutes (idle threads looking for
//! work to steal from each other); now it changes nothing but the bound.

mod support;

use std::fs;
use std::time::Duration;

use clap::Parser;
use infonce::cli::{Cli, Command, MAX_THREADS};
use infonce::job::DataJob;
use support::{f64_npy, infonce};

/// Six rows of dimension 4: one row block of work.
fn six_rows() -> Vec<Vec<f64>> {
    (0..6)
        .map(|i| (0..4).map(|j| ((i * 4 + j) as f64 * 0.7).sin()).collect())
        .collect()
}

#[test]
fn counts_above_the_limit_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("e.npy"), f64_npy(&six_rows())).unwrap();
    for n in ["1025", "2000", "4294967295", "4294967296", "0"] {
        for cmd in ["compute", "explain"] {
            let out = infonce(dir.path())
                .args([cmd, "e.npy", "--threads", n])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{cmd} --threads {n}");
            assert!(out.stdout.is_empty(), "{cmd} --threads {n}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("--threads"), "{cmd} --threads {n}: {err}");
        }
    }
    assert_eq!(MAX_THREADS, 1024, "docs/errors.md and the help name 1024");
}

/// 2000 threads on a 6 x 4 input once ran past 60 s. The largest
/// count accepted must give the same bytes as one thread, at once (the
/// timeout is generous for a busy machine; the run takes milliseconds).
#[test]
fn the_largest_count_on_a_tiny_input_is_quick_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("e.npy"), f64_npy(&six_rows())).unwrap();
    let limit = MAX_THREADS.to_string();
    for cmd in [
        &["compute", "e.npy", "--format", "json", "--terms"][..],
        &["explain", "e.npy", "--anchor", "2"][..],
    ] {
        let one = infonce(dir.path())
            .args(cmd)
            .args(["--threads", "1"])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert!(one.status.success(), "{cmd:?}");
        let many = infonce(dir.path())
            .args(cmd)
            .args(["--threads", &limit])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert!(
            many.status.success(),
            "{cmd:?} --threads {limit}: {:?}",
            many.status
        );
        assert_eq!(one.stdout, many.stdout, "{cmd:?}");
    }
}

/// The job `infonce compute e.npy ARGS...` resolves to.
fn job(args: &[&str]) -> DataJob {
    let mut all = vec!["infonce", "compute", "e.npy"];
    all.extend(args);
    match Cli::try_parse_from(all).unwrap().command {
        Command::Compute(c) => DataJob::from_args(c.input.clone(), &c.data),
        _ => unreachable!("a compute command"),
    }
}

/// The pool never holds more threads than the machine has cores, nor than
/// the input can hold row blocks of work.
#[test]
fn the_pool_is_capped_by_the_cores_and_the_work() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let limit = MAX_THREADS.to_string();
    // No such file: nothing known of the work (its error comes on loading).
    let many = job(&["--threads", &limit]).pool().unwrap();
    assert_eq!(many.current_num_threads(), cores);
    let one = job(&["--threads", "1"]).pool().unwrap();
    assert_eq!(one.current_num_threads(), 1);
    // Six rows: one row block, one thread, whatever is asked.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.npy");
    fs::write(&path, f64_npy(&six_rows())).unwrap();
    let mut small = job(&["--threads", &limit]);
    small.input = path.to_string_lossy().into_owned();
    assert_eq!(small.pool().unwrap().current_num_threads(), 1);
    small.threads = None;
    assert_eq!(small.pool().unwrap().current_num_threads(), 1);
    // With 1-row blocks, six rows (in 320 bytes, at most 160) may use every core.
    small.settings.block = 1;
    assert_eq!(small.pool().unwrap().current_num_threads(), cores);
    // A FIFO (bash's `<(command)`) has size 0, which says nothing of its work.
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let mut piped = job(&[]);
    piped.input = fifo.to_string_lossy().into_owned();
    assert_eq!(piped.pool().unwrap().current_num_threads(), cores);
}

/// The pass puts no more workers to work than there are row blocks.
#[test]
fn the_pass_starts_no_more_workers_than_row_blocks() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .unwrap();
    pool.install(|| {
        assert_eq!(infonce::loss::kernel::workers(1), 1);
        assert_eq!(infonce::loss::kernel::workers(3), 3);
        assert_eq!(infonce::loss::kernel::workers(100), 8);
    });
}
