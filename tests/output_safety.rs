//! Output is never lost, half-written or written over the wrong thing.
//!
//! `-o` replaces a regular file only when the run succeeds (a temporary file
//! beside it, renamed into place) and keeps its mode and owner; a new file
//! gets 0666 less the umask. Devices and FIFOs are written in place, so a
//! full device is an error and a null device stays a device. Symbolic links
//! are followed and stay links. An output that is one of the inputs is
//! refused before any work. `-o -` is standard output, and the extension of
//! `-o FILE` picks the format. A reader that closes the pipe early (`| head`)
//! ends the run quietly with exit 0.
//!
//! Device nodes are made with `mknod` inside a temporary folder, never taken
//! from the system's /dev. This file has its own harness (libtest-mimic;
//! `harness = false` in Cargo.toml) so that a test needing what the machine
//! lacks (the right to make device nodes or give files away, /dev/full,
//! /proc) is reported as ignored, with the reason, instead of passing
//! without checking anything.

#[macro_use]
mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Trial};
use support::{f64_npy, four_rows, run};

fn main() {
    let tests = vec![
        always!(a_failed_run_leaves_the_old_file_untouched),
        always!(a_folder_is_refused_and_leaves_no_temporary_file),
        always!(a_successful_run_writes_the_whole_output),
        always!(a_closed_pipe_ends_the_run_quietly),
        always!(a_shell_pipeline_into_head_succeeds),
        needs!(dev_full, a_full_disk_is_an_error),
        needs!(device_nodes, a_null_device_node_is_written_in_place),
        needs!(
            device_nodes,
            a_full_device_node_is_an_error_and_stays_a_device
        ),
        needs!(fifos, a_fifo_is_written_in_place),
        needs!(fifos, a_fifo_reader_that_stops_early_ends_the_run_quietly),
        needs!(descriptor_links, descriptor_links_write_to_the_open_file),
        needs!(descriptor_links, standard_input_as_the_output),
        always!(links_are_followed_from_their_own_folder_and_stay_links),
        always!(a_dangling_link_gets_its_target_created),
        always!(a_dangling_link_into_a_missing_folder_is_refused),
        always!(a_loop_of_links_is_refused),
        always!(a_socket_is_refused),
        always!(the_output_may_not_be_an_input),
        always!(the_output_is_checked_before_the_inputs_are_read),
        always!(new_files_get_0666_less_the_umask),
        always!(a_replaced_file_keeps_its_mode),
        needs!(chown, a_replaced_file_keeps_its_owner),
        always!(the_format_follows_the_extension),
        always!(tsv_is_the_csv_with_tabs),
        always!(dash_is_standard_output),
        needs!(
            proc_version,
            a_file_that_cannot_be_replaced_is_not_called_missing
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), tests).exit();
}

// ---- What some tests need, found at run time ----------------------------

/// Making a character device node (root, or CAP_MKNOD) on a file system
/// that lets it be opened (not mounted `nodev`).
fn device_nodes() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("probe");
    mknod(&node, 1, 3)?;
    fs::OpenOptions::new()
        .write(true)
        .open(&node)
        .map(drop)
        .map_err(|e| format!("needs device nodes that open (this folder's: {e})"))
}

fn fifos() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("probe"))
}

fn dev_full() -> Result<(), String> {
    fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .map(drop)
        .map_err(|e| format!("needs /dev/full ({e})"))
}

/// Giving a file to another user (root, or CAP_CHOWN).
fn chown() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("probe");
    fs::write(&f, "x").unwrap();
    std::os::unix::fs::chown(&f, Some(4321), Some(8765))
        .map_err(|e| format!("needs the right to give files away, as root ({e})"))
}

/// `/proc/self/fd/N` links, as on Linux.
fn descriptor_links() -> Result<(), String> {
    match fs::read_link("/proc/self/fd/1") {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("needs /proc/self/fd ({e})")),
    }
}

fn proc_version() -> Result<(), String> {
    if Path::new("/proc/version").is_file() {
        Ok(())
    } else {
        Err("needs /proc/version".into())
    }
}

fn mknod(path: &Path, major: u32, minor: u32) -> Result<(), String> {
    let out = Process::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .output()
        .map_err(|e| format!("needs the mknod command ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "needs root to make device nodes ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn mkfifo(path: &Path) -> Result<(), String> {
    let out = Process::new("mkfifo")
        .arg(path)
        .output()
        .map_err(|e| format!("needs the mkfifo command ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mkfifo failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// ---- Helpers ---------------------------------------------------------------

/// Names in `dir` that look like the tool's temporary files.
fn stray_temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".infonce-") || n.ends_with(".tmp"))
        .collect()
}

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    all
}

/// A temporary folder holding the valid four-row `e.npy`.
fn folder_with_emb() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("e.npy"), f64_npy(&four_rows())).unwrap();
    dir
}

/// Runs `args` in `dir`, expects success and silence on stderr; returns stdout.
fn run_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = run(dir, args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{args:?}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Expects exit 1, empty stdout and exactly `want` as the one stderr line.
fn assert_error(out: &Output, want: &str, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}");
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {want}\n"),
        "{what}"
    );
}

/// The binary run in `dir` through `sh` with `umask` set first.
fn run_with_umask(dir: &Path, umask: &str, args: &[&str]) -> Output {
    Process::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(assert_cmd::cargo::cargo_bin("infonce"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

/// 600 rows: `--terms` writes 359,400 lines, far more than a pipe holds.
fn big_file(dir: &Path) -> PathBuf {
    let rows: Vec<Vec<f64>> = (0..600)
        .map(|i| {
            let t = i as f64;
            vec![
                (t * 0.37).sin(),
                (t * 0.11).cos(),
                (t * 0.05).sin() + 0.1,
                1.0,
            ]
        })
        .collect();
    let path = dir.join("big.npy");
    fs::write(&path, f64_npy(&rows)).unwrap();
    path
}

/// Reads all of `path` (a FIFO) on another thread.
fn read_in_background(path: PathBuf) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(fs::read(path));
    });
    rx
}

// ---- Replacing regular files -----------------------------------------------

fn a_failed_run_leaves_the_old_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = b"{\"previous\": \"report\"}\n".to_vec();
    let mut nan = four_rows();
    nan[3][1] = f64::NAN;
    fs::write(d.join("nan.npy"), f64_npy(&nan)).unwrap();
    fs::write(d.join("odd.npy"), f64_npy(&four_rows()[..3])).unwrap();
    fs::write(d.join("e.npy"), f64_npy(&four_rows())).unwrap();
    fs::write(d.join("bad_pairs.csv"), "0,1\n1,7\n").unwrap();
    let failing: [&[&str]; 5] = [
        &["compute", "nan.npy"],
        &["compute", "odd.npy"],
        &["compute", "missing.npy"],
        &["compute", "e.npy", "--pairs", "bad_pairs.csv"],
        &["compute", "e.npy", "--tau", "0"],
    ];
    for args in failing {
        for format in ["json", "csv", "table"] {
            fs::write(d.join("existing.json"), &old).unwrap();
            let mut all = args.to_vec();
            all.extend(["--format", format, "-o", "existing.json"]);
            let out = run(d, &all);
            assert!(!out.status.success(), "{all:?} succeeded");
            assert!(out.stdout.is_empty(), "{all:?}");
            assert_eq!(fs::read(d.join("existing.json")).unwrap(), old, "{all:?}");
            assert_eq!(stray_temporaries(d), Vec::<String>::new(), "{all:?}");
        }
    }
}

fn a_folder_is_refused_and_leaves_no_temporary_file() {
    let dir = folder_with_emb();
    let d = dir.path();
    fs::create_dir(d.join("taken")).unwrap();
    fs::write(d.join("taken").join("inside"), "kept").unwrap();
    for name in ["taken", "taken/", "taken/."] {
        let out = run(d, &["compute", "e.npy", "-o", name]);
        assert_error(
            &out,
            &format!("{name}: cannot write: is a folder, not a file"),
            name,
        );
        assert_eq!(
            fs::read_to_string(d.join("taken").join("inside")).unwrap(),
            "kept"
        );
        assert_eq!(names(&d.join("taken")), ["inside"]);
        assert_eq!(stray_temporaries(d), Vec::<String>::new());
    }
}

fn a_successful_run_writes_the_whole_output() {
    let dir = folder_with_emb();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    for format in ["json", "csv", "tsv", "ndjson", "table", "markdown"] {
        for target in ["out.txt", "sub/out.txt"] {
            fs::write(
                d.join(target),
                "old contents that are longer than nothing\n",
            )
            .unwrap();
            let args = ["compute", "e.npy", "--terms", "--format", format];
            let to_stdout = run_ok(d, &args);
            let mut with_o = args.to_vec();
            with_o.extend(["-o", target]);
            assert!(run_ok(d, &with_o).is_empty());
            assert_eq!(
                fs::read(d.join(target)).unwrap(),
                to_stdout,
                "{format} {target}"
            );
            assert_eq!(stray_temporaries(d), Vec::<String>::new());
            assert_eq!(stray_temporaries(&d.join("sub")), Vec::<String>::new());
        }
    }
    let written = fs::read(d.join("out.txt")).unwrap();
    assert!(written.ends_with(b"\n"));
}

fn new_files_get_0666_less_the_umask() {
    let dir = folder_with_emb();
    let d = dir.path();
    for (umask, want) in [("022", 0o644), ("077", 0o600), ("027", 0o640), ("0", 0o666)] {
        let name = format!("new-{umask}.json");
        let out = run_with_umask(d, umask, &["compute", "e.npy", "-o", &name]);
        assert!(out.status.success(), "umask {umask}");
        assert_eq!(mode(&d.join(&name)), want, "umask {umask}");
        // Through a dangling link, the created target gets the same mode.
        let link = format!("link-{umask}");
        symlink(format!("target-{umask}"), d.join(&link)).unwrap();
        let out = run_with_umask(d, umask, &["compute", "e.npy", "-o", &link]);
        assert!(out.status.success(), "umask {umask}");
        assert_eq!(mode(&d.join(format!("target-{umask}"))), want);
    }
}

fn a_replaced_file_keeps_its_mode() {
    let dir = folder_with_emb();
    let d = dir.path();
    for (old, umask) in [
        (0o600, "022"),
        (0o644, "077"),
        (0o755, "022"),
        (0o604, "077"),
    ] {
        let f = d.join("kept.txt");
        fs::write(&f, "old\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(old)).unwrap();
        let out = run_with_umask(d, umask, &["compute", "e.npy", "-o", "kept.txt"]);
        assert!(out.status.success(), "{old:o}");
        assert_eq!(mode(&f), old, "mode {old:o}, umask {umask}");
        assert!(fs::read_to_string(&f).unwrap().starts_with("anchor"));
    }
}

fn a_replaced_file_keeps_its_owner() {
    let dir = folder_with_emb();
    let d = dir.path();
    let f = d.join("owned.csv");
    fs::write(&f, "old\n").unwrap();
    std::os::unix::fs::chown(&f, Some(4321), Some(8765)).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    run_ok(d, &["compute", "e.npy", "-o", "owned.csv"]);
    let m = fs::metadata(&f).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (4321, 8765, 0o640));
    assert!(fs::read_to_string(&f).unwrap().starts_with("anchor,"));
}

// ---- Devices and FIFOs -------------------------------------------------------

/// A full disk is an error, not a quiet loss: exit 1 and one line.
fn a_full_disk_is_an_error() {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    big_file(dir.path());
    let out = Process::new(assert_cmd::cargo::cargo_bin("infonce"))
        .args(["compute", "big.npy", "--format", "csv"])
        .current_dir(dir.path())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "error: standard output: cannot write: no space left on device\n"
    );
}

fn a_null_device_node_is_written_in_place() {
    let dir = folder_with_emb();
    let d = dir.path();
    let node = d.join("null");
    mknod(&node, 1, 3).unwrap();
    let before = fs::metadata(&node).unwrap();
    for format in ["json", "csv", "table"] {
        let out = run_ok(d, &["compute", "e.npy", "--format", format, "-o", "null"]);
        assert!(out.is_empty());
        let after = fs::symlink_metadata(&node).unwrap();
        assert!(after.file_type().is_char_device(), "{format}");
        assert_eq!(
            (after.rdev(), after.ino(), after.mode()),
            (before.rdev(), before.ino(), before.mode())
        );
        assert_eq!(names(d), ["e.npy", "null"]);
    }
}

fn a_full_device_node_is_an_error_and_stays_a_device() {
    let dir = folder_with_emb();
    let d = dir.path();
    big_file(d);
    let node = d.join("full");
    mknod(&node, 1, 7).unwrap();
    let before = fs::metadata(&node).unwrap();
    for input in ["e.npy", "big.npy"] {
        for format in ["json", "csv", "ndjson", "table"] {
            let what = format!("{input} {format}");
            let out = run(d, &["compute", input, "--format", format, "-o", "full"]);
            assert_error(&out, "full: cannot write: no space left on device", &what);
            let after = fs::symlink_metadata(&node).unwrap();
            assert!(after.file_type().is_char_device(), "{what}");
            assert_eq!((after.rdev(), after.ino()), (before.rdev(), before.ino()));
            assert_eq!(names(d), ["big.npy", "e.npy", "full"]);
        }
    }
}

fn a_fifo_is_written_in_place() {
    let dir = folder_with_emb();
    let d = dir.path();
    let fifo = d.join("fifo");
    mkfifo(&fifo).unwrap();
    for format in ["json", "csv", "table"] {
        let want = run_ok(d, &["compute", "e.npy", "--terms", "--format", format]);
        let got = read_in_background(fifo.clone());
        let out = run(
            d,
            &[
                "compute", "e.npy", "--terms", "--format", format, "-o", "fifo",
            ],
        );
        assert!(out.status.success() && out.stderr.is_empty(), "{format}");
        let got = got
            .recv_timeout(Duration::from_secs(60))
            .expect("the run wrote to the FIFO and closed it")
            .unwrap();
        assert_eq!(got, want, "{format}");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(names(d), ["e.npy", "fifo"]);
    }
}

fn a_fifo_reader_that_stops_early_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    big_file(d);
    let fifo = d.join("fifo");
    mkfifo(&fifo).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader_path = fifo.clone();
    thread::spawn(move || {
        let mut first = String::new();
        let mut r = BufReader::new(fs::File::open(reader_path).unwrap());
        r.read_line(&mut first).unwrap();
        let _ = tx.send(first); // the reader closes the FIFO here
    });
    let out = run(
        d,
        &[
            "compute", "big.npy", "--terms", "--format", "csv", "-o", "fifo",
        ],
    );
    let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(first.starts_with("anchor,positive,index,"), "{first}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// `/dev/stdout` leads to `/proc/self/fd/1`: the open standard output, which
/// is written as such (appending where the shell appends), never replaced.
fn descriptor_links_write_to_the_open_file() {
    let dir = folder_with_emb();
    let d = dir.path();
    symlink("/proc/self/fd/1", d.join("so")).unwrap();
    symlink("/dev/fd/2", d.join("se")).unwrap();
    let want = run_ok(d, &["compute", "e.npy", "--format", "csv"]);

    let out = run_ok(d, &["compute", "e.npy", "--format", "csv", "-o", "so"]);
    assert_eq!(out, want);

    let log = d.join("log.csv");
    fs::write(&log, "earlier line\n").unwrap();
    let append = fs::OpenOptions::new().append(true).open(&log).unwrap();
    let status = Process::new(assert_cmd::cargo::cargo_bin("infonce"))
        .args(["compute", "e.npy", "--format", "csv", "-o", "so"])
        .current_dir(d)
        .stdout(append)
        .status()
        .unwrap();
    assert!(status.success());
    let mut expected = b"earlier line\n".to_vec();
    expected.extend_from_slice(&want);
    assert_eq!(fs::read(&log).unwrap(), expected);

    let out = run(d, &["compute", "e.npy", "--format", "csv", "-o", "se"]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(out.stderr, want);
    for link in ["so", "se"] {
        assert!(fs::symlink_metadata(d.join(link)).unwrap().is_symlink());
    }
    assert_eq!(names(d), ["e.npy", "log.csv", "se", "so"]);
}

/// `-o /dev/stdin` (or `/dev/fd/0`, `/proc/self/fd/0`): the file standard
/// input is redirected from is refused when it is an input, as by any other
/// name (it was written over, exit 0); our own standard input's pipe is
/// refused (written, it filled and the run never ended); another file on
/// standard input is written as `>` would, truncated first.
fn standard_input_as_the_output() {
    let dir = folder_with_emb();
    let d = dir.path();
    let emb = fs::read(d.join("e.npy")).unwrap();
    let infonce = || {
        let mut c = Process::new(assert_cmd::cargo::cargo_bin("infonce"));
        c.current_dir(d);
        c
    };
    for output in ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"] {
        let out = infonce()
            .args(["compute", "-", "-o", output])
            .stdin(fs::File::open(d.join("e.npy")).unwrap())
            .output()
            .unwrap();
        let want =
            format!("{output}: cannot write: it is the same file as the input <stdin> (EMB)");
        assert_error(&out, &want, output);
        assert_eq!(fs::read(d.join("e.npy")).unwrap(), emb, "{output}");

        let mut child = infonce()
            .args(["compute", "-", "--terms", "-o", output])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let bytes = emb.clone();
        let feeder = thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &bytes);
        });
        let mut waited = Duration::ZERO;
        while child.try_wait().unwrap().is_none() {
            assert!(waited < Duration::from_secs(20), "{output}: still running");
            thread::sleep(Duration::from_millis(20));
            waited += Duration::from_millis(20);
        }
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        let want =
            format!("{output}: cannot write: it is standard input, a pipe that only infonce reads");
        assert_error(&out, &want, output);
    }
    // Another file on standard input: written whole, and nothing of it left.
    let want = run_ok(d, &["compute", "e.npy", "--format", "csv"]);
    fs::write(d.join("old.txt"), "x".repeat(100_000)).unwrap();
    let out = infonce()
        .args(["compute", "e.npy", "--format", "csv", "-o", "/dev/stdin"])
        .stdin(fs::File::open(d.join("old.txt")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(d.join("old.txt")).unwrap(), want);
}

// ---- Pipes ---------------------------------------------------------------------

fn a_closed_pipe_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    big_file(dir.path());
    let bin = assert_cmd::cargo::cargo_bin("infonce");
    for format in ["csv", "tsv", "ndjson", "json", "table", "markdown"] {
        let mut child = Process::new(&bin)
            .args(["compute", "big.npy", "--format", format, "--terms", "--all"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "{format}: no output");
        drop(stdout); // `head -1` exits: the read end closes
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{format}: stderr {stderr}");
        assert_eq!(stderr, "", "{format}");
    }
}

/// The same through a real shell pipeline, where the shell's `head` closes it.
fn a_shell_pipeline_into_head_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    big_file(dir.path());
    let bin = assert_cmd::cargo::cargo_bin("infonce");
    let out = Process::new("sh")
        .arg("-c")
        .arg("{ \"$0\" compute big.npy --format csv --terms 2>err.txt; echo $? >code.txt; } | head -1")
        .arg(&bin)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(fs::read_to_string(dir.path().join("err.txt")).unwrap(), "");
    assert_eq!(
        fs::read_to_string(dir.path().join("code.txt")).unwrap(),
        "0\n"
    );
}

// ---- Symbolic links ----------------------------------------------------------

/// `out -> sub/l2`, `sub/l2 -> l3`, `sub/l3 -> final.json`: every relative
/// target is read from its link's folder, so the report lands in
/// `sub/final.json` (read from the working folder instead, it would land in
/// `l3` or `final.json` there).
fn links_are_followed_from_their_own_folder_and_stay_links() {
    let dir = folder_with_emb();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    symlink("sub/l2", d.join("out")).unwrap();
    symlink("l3", d.join("sub/l2")).unwrap();
    symlink("final.json", d.join("sub/l3")).unwrap();
    fs::write(d.join("sub/final.json"), "old\n").unwrap();
    fs::set_permissions(d.join("sub/final.json"), fs::Permissions::from_mode(0o640)).unwrap();
    let want = run_ok(d, &["compute", "e.npy", "--format", "json"]);
    for _ in 0..2 {
        run_ok(d, &["compute", "e.npy", "--format", "json", "-o", "out"]);
        assert_eq!(fs::read(d.join("sub/final.json")).unwrap(), want);
        assert_eq!(mode(&d.join("sub/final.json")), 0o640);
        for (link, to) in [
            ("out", "sub/l2"),
            ("sub/l2", "l3"),
            ("sub/l3", "final.json"),
        ] {
            assert_eq!(fs::read_link(d.join(link)).unwrap(), Path::new(to));
        }
        assert_eq!(names(d), ["e.npy", "out", "sub"]);
        assert_eq!(names(&d.join("sub")), ["final.json", "l2", "l3"]);
    }
    // An absolute target too.
    let abs = d.join("abs");
    symlink(d.join("sub/abs-target.csv"), &abs).unwrap();
    run_ok(d, &["compute", "e.npy", "-o", abs.to_str().unwrap()]);
    assert!(fs::symlink_metadata(&abs).unwrap().is_symlink());
    assert!(
        fs::read_to_string(d.join("sub/abs-target.csv"))
            .unwrap()
            .starts_with("anchor  positive")
    );
}

/// A dangling link's target is created; the format comes from the name given
/// (`report.json`), not from the target's.
fn a_dangling_link_gets_its_target_created() {
    let dir = folder_with_emb();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    symlink("sub/target.txt", d.join("report.json")).unwrap();
    run_ok(d, &["compute", "e.npy", "-o", "report.json"]);
    let text = fs::read_to_string(d.join("sub/target.txt")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON, from the link's name");
    assert_eq!(v["n_anchors"], 4);
    assert!(
        fs::symlink_metadata(d.join("report.json"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(names(&d.join("sub")), ["target.txt"]);
}

fn a_dangling_link_into_a_missing_folder_is_refused() {
    let dir = folder_with_emb();
    let d = dir.path();
    symlink("nowhere/x.json", d.join("bad.json")).unwrap();
    let out = run(d, &["compute", "e.npy", "-o", "bad.json"]);
    assert_error(
        &out,
        "bad.json: cannot write: folder 'nowhere' does not exist",
        "dangling",
    );
    assert_eq!(
        fs::read_link(d.join("bad.json")).unwrap(),
        Path::new("nowhere/x.json")
    );
    assert_eq!(names(d), ["bad.json", "e.npy"]);
}

fn a_loop_of_links_is_refused() {
    let dir = folder_with_emb();
    let d = dir.path();
    symlink("b", d.join("a")).unwrap();
    symlink("a", d.join("b")).unwrap();
    symlink("self", d.join("self")).unwrap();
    for name in ["a", "self"] {
        let out = run(d, &["compute", "e.npy", "-o", name]);
        assert_error(
            &out,
            &format!("{name}: cannot write: too many levels of symbolic links"),
            name,
        );
    }
    assert_eq!(names(d), ["a", "b", "e.npy", "self"]);
}

fn a_socket_is_refused() {
    let dir = folder_with_emb();
    let d = dir.path();
    let _listener = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    let out = run(d, &["compute", "e.npy", "-o", "sock"]);
    assert_error(
        &out,
        "sock: cannot write: is a socket, not a file, device or FIFO",
        "socket",
    );
    assert!(
        fs::symlink_metadata(d.join("sock"))
            .unwrap()
            .file_type()
            .is_socket()
    );
}

// ---- Inputs are never outputs --------------------------------------------------

/// For each input flag, every other name of the input file is refused with
/// one line naming both, and the input stays as it was. The runs would
/// otherwise fail on a later input (a missing pairs file, a NaN), so the
/// message shows the check comes before any file is read.
fn the_output_may_not_be_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut nan = four_rows();
    nan[0][0] = f64::NAN;
    let emb = f64_npy(&four_rows());
    fs::write(d.join("e.npy"), &emb).unwrap();
    fs::write(d.join("nan.npy"), f64_npy(&nan)).unwrap();
    fs::write(d.join("p.csv"), "0,1\n2,3\n").unwrap();
    fs::write(d.join("k.npy"), &emb).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    let cases: [(&str, &str, Vec<&str>); 3] = [
        (
            "e.npy",
            "EMB",
            vec!["compute", "e.npy", "--pairs", "missing.csv"],
        ),
        (
            "p.csv",
            "--pairs",
            vec!["compute", "nan.npy", "--pairs", "p.csv"],
        ),
        (
            "k.npy",
            "--keys",
            vec!["compute", "nan.npy", "--keys", "k.npy"],
        ),
    ];
    for (file, flag, args) in cases {
        let before = fs::read(d.join(file)).unwrap();
        fs::hard_link(d.join(file), d.join("hard")).unwrap();
        symlink(file, d.join("soft")).unwrap();
        symlink(format!("../{file}"), d.join("sub/soft")).unwrap();
        let absolute = d.join(file).to_string_lossy().into_owned();
        let dotted = format!("sub/../{file}");
        let dot = format!("./{file}");
        let others = [file, &dot, &dotted, &absolute, "hard", "soft", "sub/soft"];
        for output in others {
            for format in [None, Some("json")] {
                let mut all = args.clone();
                all.extend(["-o", output]);
                all.extend(format.map(|f| ["--format", f]).into_iter().flatten());
                let out = run(d, &all);
                let want = format!(
                    "{output}: cannot write: it is the same file as the input {file} ({flag})"
                );
                assert_error(&out, &want, &format!("{all:?}"));
                assert_eq!(fs::read(d.join(file)).unwrap(), before, "{all:?}");
            }
        }
        fs::remove_file(d.join("hard")).unwrap();
        fs::remove_file(d.join("soft")).unwrap();
        fs::remove_file(d.join("sub/soft")).unwrap();
        assert_eq!(stray_temporaries(d), Vec::<String>::new());
    }
    // Standard input redirected from the file.
    let out = Process::new(assert_cmd::cargo::cargo_bin("infonce"))
        .args(["compute", "-", "-o", "e.npy"])
        .current_dir(d)
        .stdin(fs::File::open(d.join("e.npy")).unwrap())
        .output()
        .unwrap();
    assert_error(
        &out,
        "e.npy: cannot write: it is the same file as the input <stdin> (EMB)",
        "stdin",
    );
    assert_eq!(fs::read(d.join("e.npy")).unwrap(), emb);
    // A copy is another file: written.
    fs::write(d.join("copy.npy"), &emb).unwrap();
    run_ok(d, &["compute", "e.npy", "-o", "copy.npy"]);
    assert!(
        fs::read_to_string(d.join("copy.npy"))
            .unwrap()
            .starts_with("anchor")
    );
}

/// Every check of `-o` that needs no writing comes before the inputs are
/// read: a bad output is reported even when an input is bad too.
fn the_output_is_checked_before_the_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut nan = four_rows();
    nan[2][1] = f64::NAN;
    fs::write(d.join("nan.npy"), f64_npy(&nan)).unwrap();
    fs::create_dir(d.join("d")).unwrap();
    let cases = [
        ("d", "d: cannot write: is a folder, not a file"),
        (
            "missing/out.json",
            "missing/out.json: cannot write: folder 'missing' does not exist",
        ),
        (
            "new/",
            "new/: cannot write: a name ending in '/' names a folder, not a file",
        ),
    ];
    for (output, want) in cases {
        let out = run(d, &["compute", "nan.npy", "-o", output]);
        assert_error(&out, want, output);
    }
}

// ---- Formats and standard output -------------------------------------------------

fn the_format_follows_the_extension() {
    let dir = folder_with_emb();
    let d = dir.path();
    let cases = [
        ("out.json", "json"),
        ("OUT.JSON", "json"),
        ("out.csv", "csv"),
        ("out.tsv", "tsv"),
        ("out.ndjson", "ndjson"),
        ("out.jsonl", "ndjson"),
        ("out.md", "markdown"),
        ("out.markdown", "markdown"),
        ("out.txt", "table"),
        ("out", "table"),
        ("out.json.bak", "table"),
    ];
    for summary in [false, true] {
        for (name, format) in cases {
            let mut args = vec!["compute", "e.npy"];
            if summary {
                args.push("--summary");
            }
            let want = run_ok(d, &[&args[..], &["--format", format]].concat());
            run_ok(d, &[&args[..], &["-o", name]].concat());
            assert_eq!(fs::read(d.join(name)).unwrap(), want, "{name} {summary}");
        }
    }
    // An explicit --format wins over the extension.
    let csv = run_ok(d, &["compute", "e.npy", "--format", "csv"]);
    run_ok(d, &["compute", "e.npy", "-o", "x.json", "--format", "csv"]);
    assert_eq!(fs::read(d.join("x.json")).unwrap(), csv);
    run_ok(d, &["compute", "e.npy", "-o", "y.csv", "-f", "table"]);
    assert_eq!(
        fs::read(d.join("y.csv")).unwrap(),
        run_ok(d, &["compute", "e.npy"])
    );
}

/// TSV holds the CSV's fields, tab-separated, in every shape of the output.
fn tsv_is_the_csv_with_tabs() {
    let dir = folder_with_emb();
    let d = dir.path();
    fs::write(d.join("k.npy"), f64_npy(&four_rows())).unwrap();
    let shapes: [&[&str]; 4] = [
        &["compute", "e.npy"],
        &["compute", "e.npy", "--terms"],
        &["compute", "e.npy", "--summary"],
        &[
            "compute",
            "e.npy",
            "--keys",
            "k.npy",
            "--symmetric",
            "--terms",
        ],
    ];
    for args in shapes {
        let csv = String::from_utf8(run_ok(d, &[args, &["--format", "csv"]].concat())).unwrap();
        let tsv = String::from_utf8(run_ok(d, &[args, &["--format", "tsv"]].concat())).unwrap();
        assert!(!csv.contains(['"', '\t']), "{args:?}: fields are plain");
        let csv_fields: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        let tsv_fields: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
        assert!(
            csv_fields.len() >= 2 && csv_fields[0].len() >= 3,
            "{args:?}"
        );
        assert_eq!(tsv_fields, csv_fields, "{args:?}");
        assert!(!tsv.contains(','), "{args:?}");
    }
}

fn dash_is_standard_output() {
    let dir = folder_with_emb();
    let d = dir.path();
    for format in [None, Some("json"), Some("csv")] {
        let fmt: Vec<&str> = format.map(|f| vec!["--format", f]).unwrap_or_default();
        let want = run_ok(d, &[&["compute", "e.npy"][..], &fmt].concat());
        let got = run_ok(d, &[&["compute", "e.npy", "-o", "-"][..], &fmt].concat());
        assert_eq!(got, want, "{format:?}");
        assert!(!want.is_empty());
    }
    assert_eq!(names(d), ["e.npy"], "no file named '-'");
}

/// `/proc/version` exists but its folder takes no new file to replace it
/// with: the message says so, not "no such file".
fn a_file_that_cannot_be_replaced_is_not_called_missing() {
    let dir = folder_with_emb();
    let out = run(dir.path(), &["compute", "e.npy", "-o", "/proc/version"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: /proc/version: cannot write: cannot create a file in folder '/proc' ("
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("no such file"), "{stderr}");
}
