//! Output is never lost or half-written: `-o` replaces its file only when the
//! run succeeds (a temporary file beside it, renamed into place), and a
//! reader that closes the pipe early (`| head`) ends the run quietly with
//! exit 0.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command as Process, Stdio};

use support::{f64_npy, four_rows, run};

/// Names in `dir` that look like the tool's temporary files.
fn stray_temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".infonce-") || n.ends_with(".tmp"))
        .collect()
}

#[test]
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

#[test]
fn a_failed_rename_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("e.npy"), f64_npy(&four_rows())).unwrap();
    fs::create_dir(d.join("taken")).unwrap();
    fs::write(d.join("taken").join("inside"), "kept").unwrap();
    let out = run(d, &["compute", "e.npy", "-o", "taken"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        fs::read_to_string(d.join("taken").join("inside")).unwrap(),
        "kept"
    );
    assert_eq!(stray_temporaries(d), Vec::<String>::new());
}

#[test]
fn a_successful_run_writes_the_whole_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("e.npy"), f64_npy(&four_rows())).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    for format in ["json", "csv", "ndjson", "table", "markdown"] {
        for target in ["out.txt", "sub/out.txt"] {
            fs::write(
                d.join(target),
                "old contents that are longer than nothing\n",
            )
            .unwrap();
            let args = ["compute", "e.npy", "--terms", "--format", format];
            let to_stdout = run(d, &args);
            assert!(to_stdout.status.success());
            let mut with_o = args.to_vec();
            with_o.extend(["-o", target]);
            let out = run(d, &with_o);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.is_empty() && out.stderr.is_empty());
            assert_eq!(
                fs::read(d.join(target)).unwrap(),
                to_stdout.stdout,
                "{format} {target}"
            );
            assert_eq!(stray_temporaries(d), Vec::<String>::new());
            assert_eq!(stray_temporaries(&d.join("sub")), Vec::<String>::new());
        }
    }
    let written = fs::read(d.join("out.txt")).unwrap();
    assert!(written.ends_with(b"\n"));
}

/// 600 rows: `--terms` writes 359,400 lines, far more than a pipe holds.
fn big_file(dir: &Path) -> std::path::PathBuf {
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

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    big_file(dir.path());
    let bin = assert_cmd::cargo::cargo_bin("infonce");
    for format in ["csv", "ndjson", "json", "table", "markdown"] {
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
#[test]
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

/// A full disk is an error, not a quiet loss: exit 1 and one line.
#[test]
fn a_full_disk_is_an_error() {
    let Ok(full) = fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
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
    assert!(stderr.starts_with("error: standard output: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
