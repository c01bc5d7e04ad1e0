//! Text and `.npy` inputs as users have them, read by the binary.
//!
//! - The files in `fixtures/inputs/` were written by pandas and numpy
//!   (`fixtures/make_text_inputs.py`); each case's expected report in
//!   `fixtures/inputs/expected.json` was computed in float64 from the values
//!   the same library reads back. The same matrix as `.npy` must also give
//!   the very same numbers.
//! - Endless and binary streams (a FIFO fed by a thread, standard input, the
//!   real `/dev/zero`) are refused within bounded time and memory.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{f64_npy, four_rows, run};

fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs")
}

fn json_of(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// `compute ARGS --format json` in fixtures/inputs: the report, and stderr.
fn compute(args: &[&str]) -> (Value, String) {
    let mut all = vec!["compute"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = run(&inputs(), &all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (json_of(&out, &format!("{all:?}")), stderr)
}

/// A run that must fail with exit 1 and one line on stderr; returns the line.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr.trim_end().to_string()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 + 1e-12 * want.abs()
}

/// Every file the script wrote gives the report numpy computed from what
/// pandas or numpy reads back from it.
#[test]
fn files_from_pandas_and_savetxt_give_the_reference_numbers() {
    let text = std::fs::read_to_string(inputs().join("expected.json")).unwrap();
    let cases: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert!(
        cases.len() >= 10,
        "expected.json lists {} cases",
        cases.len()
    );
    for (file, want) in &cases {
        let extra: Vec<&str> = want["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // Pairs cases name their embeddings first; the others are the file.
        let mut args: Vec<&str> = if extra.first() == Some(&"emb.npy") {
            Vec::new()
        } else {
            vec![file.as_str()]
        };
        args.extend(&extra);
        let (got, stderr) = compute(&args);
        assert!(stderr.is_empty(), "{file}: {stderr}");
        assert!(
            close(
                got["loss"].as_f64().unwrap(),
                want["loss"].as_f64().unwrap()
            ),
            "{file}: loss {} vs {}",
            got["loss"],
            want["loss"]
        );
        assert_eq!(got["dimension"], want["dimension"], "{file}");
        let dropped = got.get("dropped_columns").cloned();
        let want_dropped = want["dropped_columns"].clone();
        if want_dropped.as_array().unwrap().is_empty() {
            assert_eq!(dropped, None, "{file}: no column is dropped");
        } else {
            assert_eq!(dropped, Some(want_dropped), "{file}");
        }
        let records = got["anchors"].as_array().unwrap();
        assert_eq!(
            records.len(),
            want["losses"].as_array().unwrap().len(),
            "{file}"
        );
        for (k, r) in records.iter().enumerate() {
            assert_eq!(r["anchor"], want["anchors"][k], "{file} record {k}");
            assert_eq!(r["positive"], want["positives"][k], "{file} record {k}");
            assert_eq!(r["rank"], want["ranks"][k], "{file} record {k}");
            let (g, w) = (r["loss"].as_f64().unwrap(), want["losses"][k].as_f64());
            assert!(close(g, w.unwrap()), "{file} record {k}: {g} vs {w:?}");
        }
    }
}

/// Text that holds the matrix exactly (pandas' shortest round-trip digits,
/// savetxt's %.18e) gives the very numbers of the same matrix as `.npy`: the
/// pandas header is not a row, the index column is not a dimension.
#[test]
fn text_of_a_matrix_reads_as_its_npy() {
    let (npy, _) = compute(&["emb.npy"]);
    for args in [
        &["pandas_noindex.csv"][..],
        &["pandas_index.csv"],
        &["pandas_ids.csv", "--columns", "emb_0:emb_4"],
        &["pandas_ids.csv", "--columns", "2:"],
        &["pandas_ids.csv", "--columns", "2,3:6"],
        &["pandas_index.csv", "--columns", "2:6"],
        &["pandas_reloaded.csv", "--columns", "2:"],
        &["savetxt_default.txt"],
        &["savetxt_comma.csv"],
        &["savetxt_header.txt"],
    ] {
        let (text, _) = compute(args);
        assert_eq!(text["anchors"], npy["anchors"], "{args:?}");
        assert_eq!(text["loss"], npy["loss"], "{args:?}");
        assert_eq!(text["input_dtype"], "float64 (text)");
    }
    // --columns picks fewer dimensions when asked.
    let (three, _) = compute(&["pandas_ids.csv", "--columns", "emb_0:emb_2"]);
    assert_eq!(three["dimension"], 3);
    assert_ne!(three["loss"], npy["loss"]);
    // Standard input reads the same, its format sniffed from the bytes.
    for file in ["pandas_index.csv", "savetxt_default.txt", "emb.npy"] {
        let bytes = std::fs::read(inputs().join(file)).unwrap();
        let out = support::infonce(&inputs())
            .args(["compute", "-", "--format", "json"])
            .write_stdin(bytes)
            .output()
            .unwrap();
        let got = json_of(&out, file);
        assert_eq!(got["anchors"], npy["anchors"], "{file} on standard input");
    }
}

/// The dropped index column is named in the table footer, and `--columns`
/// keeps anything from being dropped.
#[test]
fn dropped_index_column_is_reported() {
    let out = run(&inputs(), &["compute", "pandas_index.csv"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("column 1 of pandas_index.csv left out: an integer index under an empty header cell, as pandas writes"),
        "{table}"
    );
    let (json, _) = compute(&["pandas_index.csv", "--columns", "2:"]);
    assert_eq!(json.get("dropped_columns"), None);
}

/// A forgotten id column is refused with a message that suggests --columns.
#[test]
fn id_column_suggests_columns() {
    let line = refused(&inputs(), &["compute", "pandas_ids.csv"]);
    assert_eq!(
        line,
        "error: pandas_ids.csv: line 1, column 1: the header names this column 'id', which is not a dimension of an embedding; choose the embedding columns with --columns (e.g. --columns 2:, or --columns 1: to keep every column)"
    );
    // pandas' name for a reloaded index is an id too.
    let line = refused(&inputs(), &["compute", "pandas_reloaded.csv"]);
    assert!(
        line.contains("the header names this column 'Unnamed: 0'") && line.contains("--columns 2:"),
        "{line}"
    );
    // Told to keep it, its strings are named (the user chose the columns).
    let line = refused(&inputs(), &["compute", "pandas_ids.csv", "--columns", "1:"]);
    assert_eq!(
        line,
        "error: pandas_ids.csv: line 2, column 1: 'img_000' is not a number"
    );
}

/// Whole numbers written as floats are pairs; anything else names astype(int).
/// Integer embeddings name astype(np.float32).
#[test]
fn integer_and_float_types_are_told_how_to_convert() {
    let line = refused(
        &inputs(),
        &["compute", "emb.npy", "--pairs", "pairs_half_int.npy"],
    );
    assert!(line.contains("4.5 is not a whole number"), "{line}");
    assert!(line.contains("p.astype(int)"), "{line}");
    let line = refused(&inputs(), &["compute", "int_emb.npy"]);
    assert!(line.ends_with("not int64 (convert them: np.save(path, z.astype(np.float32)))"));
}

/// A transposed matrix: the failing layout says so; a matrix whose columns
/// are unit vectors and rows not draws a warning that --quiet silences; the
/// same matrix the right way round draws none.
#[test]
fn transposed_matrices_are_pointed_out() {
    let line = refused(&inputs(), &["compute", "transposed.npy"]);
    assert!(
        line.ends_with(
            "(transposed.npy has 5 rows of dimension 8: if each column is an embedding, save z.T)"
        ),
        "{line}"
    );
    let out = run(
        &inputs(),
        &["compute", "unit_rows_transposed.npy", "--summary"],
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: unit_rows_transposed.npy: 16 rows of dimension 40 look transposed (its columns are unit vectors and its rows are not); each row must be one embedding: if each column is, save z.T\n"
    );
    let quiet = run(
        &inputs(),
        &["compute", "unit_rows_transposed.npy", "--summary", "-q"],
    );
    assert!(quiet.status.success() && quiet.stderr.is_empty());
    assert_eq!(quiet.stdout, out.stdout, "a warning changes no result");
    let (_, stderr) = compute(&["unit_rows.npy"]);
    assert!(stderr.is_empty(), "{stderr}");
    // Fewer rows than dimensions (at least 16 rows) under cosine, rows not
    // normalized: a warning too.
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Vec<f64>> = (0..16)
        .map(|r| {
            (0..20)
                .map(|c| ((r * 7 + c * 3) % 11) as f64 - 4.5)
                .collect()
        })
        .collect();
    std::fs::write(dir.path().join("w.npy"), f64_npy(&rows)).unwrap();
    let out = run(dir.path(), &["compute", "w.npy", "--summary"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("warning: w.npy: 16 rows of dimension 20 look transposed (it has fewer rows than dimensions)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = run(
        dir.path(),
        &["compute", "w.npy", "--summary", "--sim", "dot"],
    );
    assert!(dot.status.success() && dot.stderr.is_empty());
}

/// Runs the binary in `dir` with `args`, feeding standard input from
/// `stdin` on a thread until the binary stops reading; fails if it runs
/// longer than a minute.
fn run_fed(dir: &Path, args: &[&str], stdin: Option<fn() -> Vec<u8>>) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("infonce"));
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().unwrap();
    if let Some(make) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let block = make();
            // Ends when the reader is gone (a broken pipe).
            while pipe.write_all(&block).is_ok() {}
        });
    }
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("{args:?} still runs after a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A FIFO in `dir` fed with `block` over and over by a thread, until the
/// reader closes it.
fn endless_fifo(dir: &Path, name: &str, block: Vec<u8>) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success(), "mkfifo");
    let p = path.clone();
    std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
            while f.write_all(&block).is_ok() {}
        }
    });
    path
}

fn one_error_line(out: &Output, args: &[&str], want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert_eq!(stderr, format!("error: {want}\n"), "{args:?}");
}

const NUL: &str = "line 1: byte 0 is NUL: binary data, not text (text input must be UTF-8 CSV, TSV or numbers separated by spaces)";

/// Endless zeros as the embeddings, the pairs or the keys (a FIFO) and on
/// standard input: refused at the first byte, not read on.
#[test]
fn endless_zeros_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.npy"), f64_npy(&four_rows())).unwrap();
    let zeros = || vec![0u8; 1 << 16];
    for (i, flag) in ["", "--pairs", "--keys"].iter().enumerate() {
        let name = format!("zeros{i}");
        endless_fifo(dir.path(), &name, zeros());
        let args: Vec<&str> = if flag.is_empty() {
            vec!["compute", &name]
        } else {
            vec!["compute", "e.npy", flag, &name]
        };
        let out = run_fed(dir.path(), &args, None);
        one_error_line(&out, &args, &format!("{name}: {NUL}"));
    }
    let args = ["compute", "-"];
    let out = run_fed(dir.path(), &args, Some(zeros));
    one_error_line(&out, &args, &format!("<stdin>: {NUL}"));
    let args = ["compute", "e.npy", "--pairs", "-"];
    let out = run_fed(dir.path(), &args, Some(zeros));
    one_error_line(&out, &args, &format!("<stdin>: {NUL}"));
}

/// The real /dev/zero, as a user would try it.
#[test]
fn dev_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.npy"), f64_npy(&four_rows())).unwrap();
    for args in [
        &["compute", "/dev/zero"][..],
        &["compute", "e.npy", "--pairs", "/dev/zero"],
        &["compute", "e.npy", "--keys", "/dev/zero"],
    ] {
        let out = run_fed(dir.path(), args, None);
        one_error_line(&out, args, &format!("/dev/zero: {NUL}"));
    }
}

/// An endless line of numbers stops at the line limit; endless text that is
/// not a table stops at its first bad line; a `.npy` header followed by
/// endless data stops where the header's data ends.
#[test]
fn endless_text_and_data_stop_early() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["compute", "-"];
    let out = run_fed(dir.path(), &args, Some(|| b"1,".repeat(1 << 15)));
    one_error_line(
        &out,
        &args,
        "<stdin>: line 1 is longer than 4194304 bytes, the most a line of text input may hold",
    );
    let out = run_fed(dir.path(), &args, Some(|| b"y\n".repeat(1 << 15)));
    one_error_line(
        &out,
        &args,
        "<stdin>: line 2, column 1: 'y' is not a number",
    );
    endless_fifo(dir.path(), "data.npy", {
        let mut b = f64_npy(&four_rows());
        b.extend(vec![0u8; 1 << 16]);
        b
    });
    let args = ["compute", "data.npy"];
    let out = run_fed(dir.path(), &args, None);
    one_error_line(
        &out,
        &args,
        "data.npy: header shape [4, 2] of float64 needs 64 data bytes, but more bytes follow them",
    );
}

/// A `.npy` file through a pipe (a FIFO, as `<(...)` gives) is read like
/// the file itself.
#[test]
fn npy_through_a_pipe_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = f64_npy(&four_rows());
    std::fs::write(dir.path().join("e.npy"), &bytes).unwrap();
    let fifo = dir.path().join("pipe.npy");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        f.write_all(&bytes).unwrap();
    });
    let piped = run_fed(
        dir.path(),
        &["compute", "pipe.npy", "--format", "json"],
        None,
    );
    writer.join().unwrap();
    let file = run(dir.path(), &["compute", "e.npy", "--format", "json"]);
    assert_eq!(
        json_of(&piped, "pipe")["anchors"],
        json_of(&file, "file")["anchors"]
    );
}

/// A text file larger than the limit is refused before it is read (a sparse
/// file: no disk is used).
#[test]
fn text_larger_than_the_limit_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(dir.path().join("big.csv")).unwrap();
    f.set_len((1 << 30) + 1).unwrap();
    let start = Instant::now();
    let line = refused(dir.path(), &["compute", "big.csv"]);
    assert_eq!(
        line,
        "error: big.csv: text input larger than 1073741824 bytes (1 GiB), the most read as text; save the embeddings as .npy (np.save)"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "it read the file"
    );
}

/// `--columns` applies to both files of the keys layout, and a `.npy` file
/// beside it is a usage error.
#[test]
fn columns_apply_to_queries_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let rows = four_rows();
    let text = |prefix: &str| {
        let mut s = String::from("name,a,b\n");
        for (i, r) in rows.iter().enumerate() {
            s.push_str(&format!("{prefix}{i},{},{}\n", r[0], r[1]));
        }
        s
    };
    std::fs::write(dir.path().join("q.csv"), text("q")).unwrap();
    std::fs::write(dir.path().join("k.csv"), text("k")).unwrap();
    std::fs::write(dir.path().join("e.npy"), f64_npy(&rows)).unwrap();
    let json = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        json_of(&run(dir.path(), &all), "keys")
    };
    let text_run = json(&["compute", "q.csv", "--keys", "k.csv", "--columns", "a:b"]);
    let npy_run = json(&["compute", "e.npy", "--keys", "e.npy"]);
    assert_eq!(text_run["anchors"], npy_run["anchors"]);
    let out = run(
        dir.path(),
        &["compute", "q.csv", "--keys", "e.npy", "--columns", "2:"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --columns 2: picks columns of text input, but e.npy is a .npy file\n"
    );
}

/// pandas' header of two unnamed columns, `0,1`, is also a valid 2-D row:
/// it is read as one, with a warning that names the line when the next row
/// holds fractions (pandas' first row of data); --quiet silences it. In a
/// pairs file it is a pair, without a word: no row tells the two apart.
#[test]
fn a_first_line_0_1_is_a_row() {
    let (json, stderr) = compute(&["emb.npy", "--pairs", "pairs_pandas_noindex.csv"]);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(json["n_anchors"], 6, "the line is a pair");
    assert_eq!(json["anchors"][0]["positive"], 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.csv"), "0,1\n0.5,0.25\n1,0\n1,1\n").unwrap();
    std::fs::write(dir.path().join("i.csv"), "0,1\n1,0\n1,1\n1,2\n").unwrap();
    let out = run(dir.path(), &["compute", "e.csv", "--summary"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: e.csv: line 1 (0,1) is read as a row, but pandas writes the same line as the header of unnamed columns (to_csv with index=False); if it is that header, delete it (a header of names, such as anchor,positive, is always skipped)\n"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("over 4 anchors"));
    let quiet = run(dir.path(), &["compute", "e.csv", "--summary", "-q"]);
    assert!(quiet.status.success() && quiet.stderr.is_empty());
    assert_eq!(quiet.stdout, out.stdout);
    // Integers after it: rows like it, no warning.
    let out = run(dir.path(), &["compute", "i.csv", "--summary"]);
    assert!(out.status.success() && out.stderr.is_empty());
}

mod round_trip {
    //! Random matrices written in every style the reader accepts (separator,
    //! header, pandas index, comments, quotes, CRLF, number format) read back
    //! as exactly the values written.
    use infonce::input::Values;
    use infonce::input::csv::{DroppedColumn, read_text};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    #[derive(Debug, Clone, Copy)]
    enum Head {
        None,
        Names,
        PandasInts,
        PandasIndex,
    }

    fn style() -> impl Strategy<Value = (usize, Head, bool, bool, bool, usize)> {
        (
            0usize..4,
            prop_oneof![
                Just(Head::None),
                Just(Head::Names),
                Just(Head::PandasInts),
                Just(Head::PandasIndex)
            ],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0usize..3,
        )
    }

    proptest! {
        #![proptest_config(Config {
            cases: 300,
            rng_seed: RngSeed::Fixed(7),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn written_values_read_back_exactly(
            rows in 1usize..6,
            cols in 3usize..7,
            seed in prop::collection::vec(-1e6f64..1e6, 36),
            (sep, head, crlf, comments, quotes, fmt) in style(),
        ) {
            let sep = [",", "\t", " ", "   "][sep];
            let eol = if crlf { "\r\n" } else { "\n" };
            let quotes = quotes && (sep == "," || sep == "\t");
            let number = |x: f64| match fmt {
                0 => format!("{x:?}"),
                1 => format!("{x:e}"),
                _ => format!("{x:.17e}"),
            };
            let values: Vec<f64> = (0..rows * cols).map(|k| seed[k % 36] / (1 + k) as f64).collect();
            let index = matches!(head, Head::PandasIndex) && sep != " " && sep != "   ";
            let mut text = String::new();
            if comments {
                text.push_str(&format!("# written by a test{eol}"));
            }
            match head {
                Head::None => {}
                Head::Names => {
                    let names: Vec<String> = (0..cols).map(|c| format!("e{c}")).collect();
                    text.push_str(&names.join(sep));
                    text.push_str(eol);
                }
                Head::PandasInts | Head::PandasIndex => {
                    let names: Vec<String> = (0..cols).map(|c| c.to_string()).collect();
                    if index {
                        text.push_str(sep);
                    }
                    text.push_str(&names.join(sep));
                    text.push_str(eol);
                }
            }
            for r in 0..rows {
                let mut cells: Vec<String> = values[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&x| if quotes { format!("\"{}\"", number(x)) } else { number(x) })
                    .collect();
                if index {
                    cells.insert(0, r.to_string());
                }
                text.push_str(&cells.join(sep));
                text.push_str(eol);
                if comments && r == 0 {
                    text.push_str(&format!("  # between rows{eol}{eol}"));
                }
            }
            let hint = if sep == "\t" { Some(b'\t') } else { None };
            let (e, dropped) = read_text("r.csv", hint, text.as_bytes(), None)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let Values::F64(m) = &e.values else { panic!("text is float64") };
            prop_assert_eq!((e.rows(), e.cols()), (rows, cols));
            let got: Vec<f64> = m.view().iter().copied().collect();
            prop_assert_eq!(got, values);
            let want: Vec<DroppedColumn> = if index {
                vec![DroppedColumn { file: "r.csv".into(), column: 1, reason: "index" }]
            } else {
                Vec::new()
            };
            prop_assert_eq!(dropped, want);
        }
    }
}
