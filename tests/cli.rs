//! The command line's manners: tau given as a temperature, an alias or a logit
//! scale, the hint for a missing command, two view files, `--anchor`, the
//! NDJSON totals line, CSV totals per direction, shell completions and the
//! manual pages. Numbers are checked against the naive float64 reference in
//! `tests/common`.

mod common;
mod support;

use std::fs;
use std::path::Path;

use infonce::layout::Layout;
use infonce::loss::Similarity;
use serde_json::Value;
use support::{f32_npy, f64_npy, npy, run, run_json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Runs `args` in `dir` and expects exit 0 and nothing on stderr.
fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{args:?}: status {:?}, stderr {}",
        out.status.code(),
        stderr(&out)
    );
    stdout(&out)
}

/// Eight rows of dimension 3 with no near-ties: two views of four items.
fn eight_rows() -> Vec<Vec<f64>> {
    vec![
        vec![1.0, 0.2, -0.3],
        vec![-0.4, 1.0, 0.1],
        vec![0.3, -0.2, 1.0],
        vec![0.7, 0.7, 0.05],
        vec![0.9, 0.35, -0.1],
        vec![-0.2, 0.8, 0.4],
        vec![0.1, 0.1, 0.9],
        vec![0.5, 0.9, -0.3],
    ]
}

/// Checks a JSON report's records against the float64 reference.
fn check_against_reference(v: &Value, rows: &[Vec<f64>], tau: f64, allowed: f64) {
    let layout = Layout::two_view("mem", rows.len()).unwrap();
    let want = common::reference(&layout, rows, None, Similarity::Cosine, tau);
    let got = v["anchors"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        let loss = g["loss"].as_f64().unwrap();
        assert!(
            (loss - w.loss).abs() <= allowed * w.loss.abs().max(1.0),
            "record {k}: loss {loss}, reference {}",
            w.loss
        );
        let ld = g["log_denominator"].as_f64().unwrap();
        assert!(
            (ld - w.log_denominator).abs() <= allowed * w.log_denominator.abs().max(1.0),
            "record {k}: log_denominator {ld}, reference {}",
            w.log_denominator
        );
        let rank = g["rank"].as_u64().unwrap();
        assert!(
            (w.rank.0..=w.rank.1).contains(&rank),
            "record {k}: rank {rank}, reference {:?}",
            w.rank
        );
    }
}

// ------------------------------------------------------------------ tau

#[test]
fn a_negative_tau_gets_the_real_message() {
    for (flag, value, want) in [
        (
            "--tau",
            "-0.07",
            "tau must be finite and greater than 0, got -0.07",
        ),
        (
            "--temperature",
            "-1",
            "tau must be finite and greater than 0",
        ),
        (
            "--logit-scale",
            "-100",
            "the logit scale must be finite and greater than 0, got -100",
        ),
        (
            "--logit-scale",
            "0",
            "the logit scale must be finite and greater than 0, got 0",
        ),
        ("--logit-scale", "1e-320", "tau = 1/1e-320 overflows"),
    ] {
        let out = run(root(), &["compute", "fixtures/seed.csv", flag, value]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(out.stdout.is_empty());
        assert!(err.contains(want), "{flag} {value}: {err}");
        assert!(!err.contains("unexpected argument"), "{err}");
    }
}

#[test]
fn temperature_is_another_name_for_tau() {
    let a = run_json(root(), &["compute", "fixtures/seed.csv", "--tau", "0.5"]);
    let b = run_json(
        root(),
        &["compute", "fixtures/seed.csv", "--temperature", "0.5"],
    );
    assert_eq!(a, b);
    assert_eq!(b["tau"], 0.5);
    let out = run(
        root(),
        &[
            "compute",
            "fixtures/seed.csv",
            "--tau",
            "0.5",
            "--temperature",
            "0.5",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "one tau only: {}", stderr(&out));
}

#[test]
fn logit_scale_is_the_inverse_of_tau() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("e.npy"), f64_npy(&eight_rows())).unwrap();
    let v = run_json(d, &["compute", "e.npy", "--logit-scale", "20"]);
    assert_eq!(v["tau"].as_f64(), Some(0.05));
    check_against_reference(&v, &eight_rows(), 0.05, 1e-12);
    let by_tau = run_json(d, &["compute", "e.npy", "--tau", "0.05"]);
    assert_eq!(v, by_tau);

    let out = run(
        d,
        &["compute", "e.npy", "--logit-scale", "100", "--tau", "0.1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'--logit-scale <S>' cannot be used with '--tau <T>'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_tau_that_looks_like_a_logit_scale_draws_one_warning() {
    let args = ["compute", "fixtures/seed.csv", "--tau", "20"];
    let out = run(root(), &args);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        "warning: --tau 20 looks like a logit scale, not a temperature (logits are \
         similarities divided by tau); if it is CLIP's logit_scale.exp(), use \
         --logit-scale 20 (tau 0.05)\n"
    );
    // The warning changes nothing else, and --quiet silences it.
    let quiet = run(root(), &[&args[..], &["--quiet"]].concat());
    assert!(quiet.status.success() && quiet.stderr.is_empty());
    assert_eq!(quiet.stdout, out.stdout);

    let scale = run(
        root(),
        &["compute", "fixtures/seed.csv", "--logit-scale", "0.07"],
    );
    assert!(scale.status.success());
    let err = stderr(&scale);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("warning: --logit-scale 0.07 makes tau 14.29; 0.07")
            && err.contains("looks like a temperature")
            && err.contains("--tau 0.07"),
        "{err}"
    );

    // Just below the line: no warning.
    run_ok(root(), &["compute", "fixtures/seed.csv", "--tau", "9.99"]);

    // A sweep that reaches 10: one warning for the sweep.
    let sweep = run(
        root(),
        &["compute", "fixtures/seed.csv", "--tau", "0.1:20:3"],
    );
    assert!(sweep.status.success());
    assert_eq!(
        stderr(&sweep),
        "warning: --tau reaches 20, which looks like a logit scale, not a temperature \
         (logits are similarities divided by tau; a logit scale S is tau 1/S)\n"
    );

    // explain warns too, and has --quiet.
    let ex = run(root(), &["explain", "--tau", "20"]);
    assert!(ex.status.success());
    assert!(
        stderr(&ex).starts_with("warning: --tau 20 looks like a logit scale"),
        "{}",
        stderr(&ex)
    );
    let ex_quiet = run(root(), &["explain", "--tau", "20", "-q"]);
    assert!(ex_quiet.status.success() && ex_quiet.stderr.is_empty());
    assert_eq!(ex_quiet.stdout, ex.stdout);
}

// ------------------------------------------------------- missing command

#[test]
fn a_file_without_a_command_gets_a_hint() {
    let out = run(root(), &["fixtures/seed.csv", "--tau", "0.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("tip: commands come first; to compute the loss: infonce compute fixtures/seed.csv --tau 0.2"),
        "{err}"
    );
    // A flag of compute first: the same hint.
    let out = run(root(), &["--tau", "0.2", "fixtures/seed.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("infonce compute --tau 0.2 fixtures/seed.csv"),
        "{}",
        stderr(&out)
    );
    // An unknown flag gets no such hint.
    let out = run(root(), &["--frobnicate", "fixtures/seed.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !stderr(&out).contains("infonce compute"),
        "{}",
        stderr(&out)
    );
    // A word close to a command keeps clap's own suggestion instead.
    let out = run(root(), &["compte", "fixtures/seed.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("'compute'"), "{err}");
    assert!(!err.contains("commands come first"), "{err}");
}

// ------------------------------------------------------- two view files

/// Writes `a.npy` (rows 0..4) and `b.npy` (rows 4..8) of [`eight_rows`], and
/// the whole as `ab.npy`.
fn view_files(d: &Path) {
    let rows = eight_rows();
    fs::write(d.join("a.npy"), f64_npy(&rows[..4])).unwrap();
    fs::write(d.join("b.npy"), f64_npy(&rows[4..])).unwrap();
    fs::write(d.join("ab.npy"), f64_npy(&rows)).unwrap();
}

#[test]
fn two_view_files_are_the_two_view_layout_over_both_stacked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    view_files(d);
    let two = run_json(d, &["compute", "a.npy", "b.npy"]);
    check_against_reference(&two, &eight_rows(), 0.1, 1e-12);
    assert_eq!(two["layout"], "two-view");
    assert_eq!(two["n_anchors"], 8);
    assert_eq!(
        two["n_candidates"], 7,
        "every row of both files but the anchor"
    );
    // Row i of the second file is row N + i: anchor 5 is b.npy's row 1.
    let a5 = &two["anchors"][5];
    assert_eq!(
        (a5["anchor"].as_u64(), a5["positive"].as_u64()),
        (Some(5), Some(1))
    );
    let one = run_json(d, &["compute", "ab.npy"]);
    assert_eq!(two["anchors"], one["anchors"]);
    assert_eq!(two["loss"], one["loss"]);
}

#[test]
fn two_view_files_of_float16_and_float32_are_computed_in_float32() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Values exact in float16 (multiples of 1/64 below 2).
    let rows: Vec<Vec<f64>> = eight_rows()
        .into_iter()
        .map(|r| r.into_iter().map(|x| (x * 64.0).round() / 64.0).collect())
        .collect();
    let f16: Vec<u8> = rows[..4]
        .iter()
        .flatten()
        .flat_map(|&x| half::f16::from_f64(x).to_le_bytes())
        .collect();
    fs::write(d.join("a16.npy"), npy("<f2", false, &[4, 3], &f16)).unwrap();
    let f32_rows = |r: &[Vec<f64>]| -> Vec<Vec<f32>> {
        r.iter()
            .map(|r| r.iter().map(|&x| x as f32).collect())
            .collect()
    };
    fs::write(d.join("b32.npy"), f32_npy(&f32_rows(&rows[4..]))).unwrap();
    fs::write(d.join("ab32.npy"), f32_npy(&f32_rows(&rows))).unwrap();
    let two = run_json(d, &["compute", "a16.npy", "b32.npy"]);
    assert_eq!(two["input_dtype"], "float16 + float32");
    assert_eq!(two["precision"], "f32");
    let one = run_json(d, &["compute", "ab32.npy"]);
    assert_eq!(two["anchors"], one["anchors"], "float16 widens exactly");
    check_against_reference(&two, &rows, 0.1, 1e-5);
}

#[test]
fn two_view_file_errors_name_the_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    view_files(d);
    let rows = eight_rows();
    fs::write(d.join("short.npy"), f64_npy(&rows[..3])).unwrap();
    fs::write(
        d.join("wide.npy"),
        f64_npy(&vec![vec![1.0, 0.0, 0.0, 1.0]; 4]),
    )
    .unwrap();
    let mut zero = rows[4..].to_vec();
    zero[1] = vec![0.0; 3];
    fs::write(d.join("zero.npy"), f64_npy(&zero)).unwrap();
    let mut nan = rows[4..].to_vec();
    nan[2][1] = f64::NAN;
    fs::write(d.join("nan.npy"), f64_npy(&nan)).unwrap();
    for (args, code, want) in [
        (
            &["compute", "a.npy", "short.npy"][..],
            1,
            "error: short.npy: has 3 rows but a.npy has 4; row i of each view file must be a pair (the two views of item i)",
        ),
        (
            &["compute", "a.npy", "wide.npy"][..],
            1,
            "error: wide.npy: has dimension 4 but a.npy has dimension 3",
        ),
        (
            &["compute", "a.npy", "zero.npy"][..],
            1,
            "error: zero.npy: row 1 is a zero vector; its cosine similarity is undefined (drop the row or use --sim dot)",
        ),
        (
            &["compute", "a.npy", "nan.npy"][..],
            1,
            "error: nan.npy: NaN (not a number) at row 2, column 1",
        ),
        (
            &["compute", "a.npy", "b.npy", "ab.npy"][..],
            2,
            "error: unexpected third file 'ab.npy': compute takes EMB, or the two views EMB VIEW2; for queries and keys use 'EMB --keys KEYS', for pairs of rows 'EMB --pairs PAIRS'",
        ),
    ] {
        let out = run(d, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), format!("{want}\n"), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // Queries and keys are another layout: two files and --keys conflict.
    let out = run(d, &["compute", "a.npy", "b.npy", "--keys", "b.npy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    // The second view file is an input: -o may not replace it.
    let before = fs::read(d.join("b.npy")).unwrap();
    let out = run(d, &["compute", "a.npy", "b.npy", "-o", "b.npy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("(VIEW2)"), "{}", stderr(&out));
    assert_eq!(fs::read(d.join("b.npy")).unwrap(), before);
    // A zero vector is fine under --sim dot, in either file.
    run_ok(d, &["compute", "a.npy", "zero.npy", "--sim", "dot"]);
}

#[test]
fn one_view_file_can_be_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    view_files(d);
    let out = support::infonce(d)
        .args(["compute", "a.npy", "-", "--format", "json"])
        .write_stdin(f64_npy(&eight_rows()[4..]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_against_reference(&v, &eight_rows(), 0.1, 1e-12);
}

// ------------------------------------------------------- NDJSON and CSV totals

#[test]
fn ndjson_records_then_one_totals_line() {
    let args = [
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
    ];
    let doc = run_json(root(), &args);
    for extra in [&[][..], &["--terms"][..]] {
        let nd = run_ok(
            root(),
            &[&args[..], extra, &["--format", "ndjson"]].concat(),
        );
        let lines: Vec<Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (totals, records) = lines.split_last().unwrap();
        assert_eq!(records.len(), 50);
        assert!(records.iter().all(|r| r["type"] == "record"));
        assert_eq!(totals["type"], "totals");
        // The totals line is the JSON document's top level, `type` added.
        let mut want = doc.as_object().unwrap().clone();
        want.remove("anchors");
        want.insert("type".into(), "totals".into());
        assert_eq!(totals.as_object().unwrap(), &want);
    }
    let summary = run_ok(
        root(),
        &[&args[..], &["--format", "ndjson", "--summary"]].concat(),
    );
    assert_eq!(summary.lines().count(), 1);
    let v: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(v["type"], "totals");
    assert_eq!(v["loss"], doc["loss"]);
}

/// A CSV header and one row as a map from column name to cell.
fn csv_totals(text: &str) -> Vec<(String, String)> {
    let mut lines = text.lines();
    let head = lines.next().unwrap().split(',');
    let row = lines.next().unwrap().split(',');
    assert_eq!(lines.next(), None, "one row of totals");
    head.zip(row)
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

#[test]
fn csv_summary_keeps_the_totals_of_each_direction() {
    let args = [
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
    ];
    let doc = run_json(root(), &args);
    let csv = run_ok(
        root(),
        &[&args[..], &["--summary", "--format", "csv"]].concat(),
    );
    let cells = csv_totals(&csv);
    let cell = |name: &str| -> f64 {
        cells
            .iter()
            .find(|(h, _)| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {csv}"))
            .1
            .parse()
            .unwrap()
    };
    assert_eq!(Some(cell("loss")), doc["loss"].as_f64());
    for d in doc["directions"].as_array().unwrap() {
        let name = d["direction"].as_str().unwrap();
        for field in ["loss", "n_anchors", "top1_accuracy", "mean_rank"] {
            assert_eq!(
                Some(cell(&format!("{field}_{name}"))),
                d[field].as_f64(),
                "{field}_{name}"
            );
        }
    }
    // The overall loss is the mean of the two directions' losses.
    let mean = (cell("loss_query_to_key") + cell("loss_key_to_query")) / 2.0;
    assert!((cell("loss") - mean).abs() <= 1e-15 * mean);
    // Layouts without directions have no such columns.
    let plain = run_ok(
        root(),
        &[
            "compute",
            "fixtures/seed.csv",
            "--summary",
            "--format",
            "csv",
        ],
    );
    assert!(!plain.contains("query_to_key"), "{plain}");
}

// ------------------------------------------------------- --anchor

#[test]
fn anchor_restricts_the_records_of_every_format() {
    // Anchor 2 has two pairs in this file; row 28 one.
    let base = [
        "compute",
        "fixtures/pairs_emb.npy",
        "--pairs",
        "fixtures/pairs.csv",
    ];
    let full = run_json(root(), &base);
    let chosen: Vec<Value> = full["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["anchor"] == 2 || r["anchor"] == 28)
        .cloned()
        .collect();
    assert_eq!(chosen.len(), 3);
    let sel = [&base[..], &["--anchor", "28,2"]].concat();
    let part = run_json(root(), &sel);
    assert_eq!(
        part["anchors"].as_array().unwrap(),
        &chosen,
        "in record order"
    );
    // The totals stay those of the whole batch.
    for key in ["loss", "n_anchors", "top1_accuracy", "mean_rank"] {
        assert_eq!(part[key], full[key], "{key}");
    }
    // ... and say which anchors the records are of.
    assert_eq!(part["selected_anchors"], serde_json::json!([2, 28]));
    assert!(full.get("selected_anchors").is_none());

    let nd = run_ok(root(), &[&sel[..], &["--format", "ndjson"]].concat());
    let lines: Vec<Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["loss"], full["loss"]);
    assert_eq!(lines[3]["selected_anchors"], serde_json::json!([2, 28]));

    let csv = run_ok(root(), &[&sel[..], &["--format", "csv"]].concat());
    let anchors: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let want: Vec<String> = chosen.iter().map(|r| r["anchor"].to_string()).collect();
    assert_eq!(anchors, want);

    for format in ["table", "markdown"] {
        let t = run_ok(root(), &[&sel[..], &["--format", format]].concat());
        assert!(
            t.contains(
                "The anchors chosen by --anchor (3 records; the totals below are those of all 20)"
            ),
            "{t}"
        );
        let rows = t
            .lines()
            .filter(|l| {
                l.trim_start_matches(['|', ' '])
                    .starts_with(|c: char| c.is_ascii_digit())
            })
            .count();
        assert_eq!(rows, 3, "{t}");
    }

    // --terms for the chosen anchors only.
    let terms = run_json(root(), &[&sel[..], &["--terms"]].concat());
    let recs = terms["anchors"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    for r in recs {
        let ts = r["terms"].as_array().unwrap();
        assert_eq!(ts.len(), 29);
        let p: f64 = ts.iter().map(|t| t["p"].as_f64().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-12);
        let pos = ts.iter().find(|t| t["index"] == r["positive"]).unwrap();
        assert_eq!(pos["logit"], r["logit"]);
    }
}

#[test]
fn anchor_counts_rows_of_both_view_files_and_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    view_files(d);
    let v = run_json(d, &["compute", "a.npy", "b.npy", "--anchor", "6"]);
    let recs = v["anchors"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0]["anchor"].as_u64(), recs[0]["positive"].as_u64()),
        (Some(6), Some(2))
    );

    let v = run_json(
        root(),
        &[
            "compute",
            "fixtures/queries.npy",
            "--keys",
            "fixtures/keys.npy",
            "--symmetric",
            "--anchor",
            "3",
        ],
    );
    let dirs: Vec<&str> = v["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["direction"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, ["query_to_key", "key_to_query"]);

    // The terms of the chosen records are those of the same records in the
    // whole batch (the selection maps back to the right records).
    let keys = [
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
        "--terms",
    ];
    let all = run_json(root(), &keys);
    let part = run_json(root(), &[&keys[..], &["--anchor", "3,17"]].concat());
    let want: Vec<&Value> = all["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["anchor"] == 3 || r["anchor"] == 17)
        .collect();
    let got: Vec<&Value> = part["anchors"].as_array().unwrap().iter().collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got, want);
}

#[test]
fn anchor_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    view_files(d);
    fs::write(d.join("p.csv"), "0,1\n2,3\n").unwrap();
    for (args, code, want) in [
        (
            &["compute", "ab.npy", "--anchor", "8"][..],
            1,
            Some(
                "error: ab.npy: --anchor 8 is out of range: the anchors are rows 0 to 7 (the file has 8 rows)\n",
            ),
        ),
        (
            &["compute", "a.npy", "b.npy", "--anchor", "1,8"][..],
            1,
            Some(
                "error: a.npy + b.npy: --anchor 8 is out of range: the anchors are rows 0 to 7 (the stack of the two view files has 8 rows)\n",
            ),
        ),
        (
            &["compute", "ab.npy", "--pairs", "p.csv", "--anchor", "1"][..],
            1,
            Some("error: p.csv: --anchor 1: no pair has row 1 as its anchor\n"),
        ),
        (&["compute", "ab.npy", "--anchor", "x"][..], 2, None),
        (&["compute", "ab.npy", "--anchor", "-1"][..], 2, None),
        (
            &["compute", "ab.npy", "--anchor", "1", "--summary"][..],
            2,
            None,
        ),
    ] {
        let out = run(d, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        if let Some(want) = want {
            assert_eq!(stderr(&out), want, "{args:?}");
        }
    }
}

#[test]
fn table_terms_follow_the_rows_the_table_shows() {
    // 48 records: the table shows the 10 with the highest loss.
    let args = ["compute", "fixtures/twoview_f32.npy", "--terms"];
    let t = run_ok(root(), &args);
    let listed: Vec<String> = t
        .lines()
        .skip_while(|l| !l.starts_with("anchor"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 10, "{t}");
    let termed: Vec<String> = t
        .lines()
        .filter_map(|l| l.strip_prefix("Terms of anchor "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(termed, listed);
    // --all: every record and its terms.
    let all = run_ok(root(), &[&args[..], &["--all"]].concat());
    assert_eq!(all.matches("Terms of anchor ").count(), 48);
}

// ------------------------------------------------------- completions and man

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run_ok(root(), &["completions", shell]);
        for word in ["compute", "explain", "logit-scale", "anchor"] {
            assert!(out.contains(word), "{shell}: no {word}");
        }
    }
    let out = run(root(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn manual_pages_in_docs_are_current() {
    let dir = root().join("docs/man");
    let bless = std::env::var_os("INFONCE_WRITE_MAN").is_some();
    for (file, command) in infonce::cli::man_pages() {
        let mut args = vec!["man"];
        args.extend(command.as_deref());
        let page = run_ok(root(), &args);
        assert!(page.contains(".TH infonce"), "{file}: not roff");
        let path = dir.join(&file);
        if bless {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &page).unwrap();
        }
        let stored = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == page,
            "docs/man/{file} is not what `infonce {}` prints; rewrite the pages with \
             `INFONCE_WRITE_MAN=1 cargo test --test cli manual_pages`",
            args.join(" ")
        );
    }
    let compute = fs::read_to_string(dir.join("infonce-compute.1")).unwrap();
    for flag in ["logit\\-scale", "anchor", "VIEW2"] {
        assert!(compute.contains(flag), "the compute page lacks {flag}");
    }
}

#[test]
fn table_footer_counts_one_anchor_in_the_singular() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("q.npy"), f64_npy(&[vec![1.0, 0.5]])).unwrap();
    fs::write(dir.path().join("k.npy"), f64_npy(&[vec![0.3, 1.0]])).unwrap();
    let one = run_ok(dir.path(), &["compute", "q.npy", "--keys", "k.npy"]);
    assert!(
        one.contains(" over 1 anchor (1 candidate each)"),
        "footer: {one}"
    );
    let rows = eight_rows();
    fs::write(dir.path().join("e.npy"), f64_npy(&rows)).unwrap();
    let many = run_ok(dir.path(), &["compute", "e.npy", "--format", "markdown"]);
    assert!(
        many.contains("- mean loss ") && many.contains(" over 8 anchors (7 candidates each)"),
        "footer: {many}"
    );
}
