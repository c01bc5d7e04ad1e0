//! `infonce compute` end to end: every layout and format through the binary,
//! with the JSON parsed back and checked against the seed's figures.

use assert_cmd::Command;
use serde_json::Value;

fn infonce() -> Command {
    let mut c = Command::cargo_bin("infonce").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run_ok(args: &[&str]) -> String {
    let out = infonce().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{args:?} wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&run_ok(&a)).expect("compute --format json writes valid JSON")
}

#[test]
fn seed_example_numerator_is_exp_9() {
    let v = json(&["compute", "fixtures/seed.csv", "--tau", "0.1"]);
    let a0 = &v["anchors"][0];
    assert_eq!(a0["anchor"], 0);
    assert_eq!(a0["positive"], 2);
    let num = a0["numerator"].as_f64().unwrap();
    assert!((num - 8103.083927575384).abs() < 1e-9, "numerator {num}");
    assert_eq!(a0["rank"], 1);
    assert_eq!(v["layout"], "two-view");
    assert_eq!(v["n_anchors"], 4);
    assert_eq!(v["n_candidates"], 3);
    // The mean is the mean of the records.
    let mean: f64 = v["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["loss"].as_f64().unwrap())
        .sum::<f64>()
        / 4.0;
    assert!((v["loss"].as_f64().unwrap() - mean).abs() < 1e-15);
}

#[test]
fn npy_and_csv_of_the_same_values_agree() {
    let a = json(&["compute", "fixtures/seed.csv"]);
    let b = json(&["compute", "fixtures/seed.npy"]);
    assert_eq!(a["anchors"], b["anchors"]);
    assert_eq!(a["loss"], b["loss"]);
}

#[test]
fn stdin_is_sniffed_for_csv_and_npy() {
    for file in ["fixtures/seed.csv", "fixtures/seed.npy"] {
        let bytes =
            std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let out = infonce()
            .args(["compute", "-", "--format", "json"])
            .write_stdin(bytes)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["anchors"],
            json(&["compute", file])["anchors"],
            "{file} via stdin"
        );
    }
}

#[test]
fn every_format_carries_the_same_records() {
    let base = ["compute", "fixtures/twoview_f32.npy", "--tau", "0.2"];
    let v = json(&base);
    let n = v["anchors"].as_array().unwrap().len();
    assert_eq!(n, 48);

    let csv = run_ok(&[&base[..], &["--format", "csv"]].concat());
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "anchor,positive,sim,logit,numerator,log_numerator,denominator,log_denominator,loss,p_positive,rank"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), n);
    let first: Vec<&str> = rows[0].split(',').collect();
    let loss: f64 = first[8].parse().unwrap();
    assert_eq!(
        loss,
        v["anchors"][0]["loss"].as_f64().unwrap(),
        "CSV keeps every digit"
    );

    let nd = run_ok(&[&base[..], &["--format", "ndjson"]].concat());
    let mut recs: Vec<Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Records marked as such, then one line of totals.
    let totals = recs.pop().unwrap();
    assert_eq!(totals["type"], "totals");
    assert_eq!(totals["loss"], v["loss"]);
    assert_eq!(totals["n_anchors"], v["n_anchors"]);
    assert_eq!(recs.len(), n);
    for r in &mut recs {
        assert_eq!(r["type"], "record");
        r.as_object_mut().unwrap().remove("type");
    }
    assert_eq!(recs[5], v["anchors"][5]);

    let table = run_ok(&[&base[..], &["--format", "table"]].concat());
    assert!(
        table.contains("The 10 anchors with the highest loss (of 48"),
        "{table}"
    );
    assert!(table.contains("mean loss"), "{table}");
    let all = run_ok(&[&base[..], &["--format", "table", "--all"]].concat());
    assert_eq!(
        all.lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        n
    );

    let md = run_ok(&[&base[..], &["--format", "markdown"]].concat());
    assert!(md.lines().any(|l| l.starts_with("| anchor |")), "{md}");
    assert!(md.contains("| -----: |"), "{md}");
}

#[test]
fn summary_only_writes_totals() {
    let v = json(&["compute", "fixtures/seed.csv", "--summary"]);
    assert!(v.get("anchors").is_none());
    assert!(v["loss"].as_f64().unwrap() > 0.0);
    let csv = run_ok(&[
        "compute",
        "fixtures/seed.csv",
        "--summary",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.starts_with("loss,tau,"));
}

#[test]
fn terms_add_up_to_the_denominator() {
    for fmt in ["json", "ndjson"] {
        let out = run_ok(&[
            "compute",
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/pairs.csv",
            "--terms",
            "--format",
            fmt,
        ]);
        let records: Vec<Value> = if fmt == "json" {
            serde_json::from_str::<Value>(&out).unwrap()["anchors"]
                .as_array()
                .unwrap()
                .clone()
        } else {
            out.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|v| v["type"] == "record")
                .collect()
        };
        assert!(!records.is_empty());
        for r in &records {
            let terms = r["terms"].as_array().unwrap();
            assert_eq!(terms.len(), 29, "every row but the anchor");
            assert!(terms.iter().all(|t| t["index"] != r["anchor"]));
            let p_sum: f64 = terms.iter().map(|t| t["p"].as_f64().unwrap()).sum();
            assert!((p_sum - 1.0).abs() < 1e-12, "probabilities sum to {p_sum}");
            let exp_sum: f64 = terms.iter().map(|t| t["exp"].as_f64().unwrap()).sum();
            let den = r["denominator"].as_f64().unwrap();
            assert!((exp_sum - den).abs() <= 1e-12 * den, "{exp_sum} vs {den}");
            let pos = terms.iter().find(|t| t["index"] == r["positive"]).unwrap();
            assert_eq!(pos["logit"], r["logit"]);
        }
    }
    let csv = run_ok(&["compute", "fixtures/seed.csv", "--terms", "--format", "csv"]);
    assert_eq!(
        csv.lines().next().unwrap(),
        "anchor,positive,index,is_positive,sim,logit,exp,p"
    );
    assert_eq!(csv.lines().count(), 1 + 4 * 3);
}

#[test]
fn keys_symmetric_reports_both_directions() {
    let v = json(&[
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
        "--tau",
        "0.07",
    ]);
    let recs = v["anchors"].as_array().unwrap();
    assert_eq!(recs.len(), 50);
    assert_eq!(recs[0]["direction"], "query_to_key");
    assert_eq!(recs[25]["direction"], "key_to_query");
    let dirs = v["directions"].as_array().unwrap();
    let mean = (dirs[0]["loss"].as_f64().unwrap() + dirs[1]["loss"].as_f64().unwrap()) / 2.0;
    assert!((v["loss"].as_f64().unwrap() - mean).abs() < 1e-15);
    let csv = run_ok(&[
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--format",
        "csv",
    ]);
    assert!(csv.starts_with("anchor,positive,direction,sim,"));
}

#[test]
fn overflowing_linear_values_are_null_never_inf() {
    let out = run_ok(&[
        "compute",
        "fixtures/large_dot.npy",
        "--sim",
        "dot",
        "--tau",
        "1",
        "--format",
        "json",
    ]);
    assert!(!out.contains("inf") && !out.contains("NaN"), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let nulls = v["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["denominator"].is_null())
        .count();
    assert!(nulls > 0, "the fixture overflows float64");
    let table = run_ok(&[
        "compute",
        "fixtures/large_dot.npy",
        "--sim",
        "dot",
        "--tau",
        "1",
    ]);
    assert!(table.contains("e^"), "log form in the table: {table}");
    assert!(!table.contains("inf") && !table.contains("NaN"));
}

#[test]
fn threads_and_tiles_do_not_change_a_bit() {
    // A hidden flag shrinks the tiles so that several cross every edge.
    let args = [
        "compute",
        "fixtures/twoview_f32.npy",
        "--terms",
        "--format",
        "json",
        "--block",
        "7",
    ];
    let one = run_ok(&[&args[..], &["--threads", "1"]].concat());
    for t in ["2", "3", "8"] {
        assert_eq!(
            one,
            run_ok(&[&args[..], &["--threads", t]].concat()),
            "threads {t}"
        );
    }
    let keys = [
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
        "--format",
        "json",
        "--block",
        "4",
    ];
    assert_eq!(
        run_ok(&[&keys[..], &["--threads", "1"]].concat()),
        run_ok(&[&keys[..], &["--threads", "4"]].concat())
    );
}

#[test]
fn output_file_holds_what_stdout_would() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let p = path.to_str().unwrap();
    let out = infonce()
        .args(["compute", "fixtures/seed.csv", "--format", "json", "-o", p])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        run_ok(&["compute", "fixtures/seed.csv", "--format", "json"])
    );
}

#[test]
fn precision_f64_is_reported() {
    let v = json(&["compute", "fixtures/twoview_f32.npy"]);
    assert_eq!(v["precision"], "f32");
    assert_eq!(v["input_dtype"], "float32");
    let w = json(&["compute", "fixtures/twoview_f32.npy", "--precision", "f64"]);
    assert_eq!(w["precision"], "f64");
    let (a, b) = (v["loss"].as_f64().unwrap(), w["loss"].as_f64().unwrap());
    assert!((a - b).abs() < 1e-5 && a != b, "{a} vs {b}");
}

/// The header and the one row of `--summary --format csv`, as pairs.
fn csv_totals(args: &[&str]) -> (String, Vec<(String, String)>) {
    let text = run_ok(&[args, &["--summary", "--format", "csv"]].concat());
    let mut lines = text.lines();
    let (header, row) = (lines.next().unwrap(), lines.next().unwrap());
    // The cells of these runs hold no comma, so no quotes.
    let cells = header
        .split(',')
        .map(str::to_string)
        .zip(row.split(',').map(str::to_string))
        .collect();
    (header.to_string(), cells)
}

fn cell<'a>(cells: &'a [(String, String)], name: &str) -> &'a str {
    &cells
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .1
}

#[test]
fn csv_totals_have_the_same_columns_whatever_the_data() {
    // pandas' to_csv with and without its index: the index column is left
    // out of one, and the header says so in the same place for both.
    let with = "fixtures/inputs/pandas_index.csv";
    let (h1, c1) = csv_totals(&["compute", with]);
    let (h2, c2) = csv_totals(&["compute", "fixtures/inputs/pandas_noindex.csv"]);
    assert_eq!(h1, h2);
    let dropped = &json(&["compute", with, "--summary"])["dropped_columns"];
    assert_eq!(dropped[0]["column"], 1, "{dropped}");
    assert_eq!(cell(&c1, "dropped_columns"), format!("{with}:1"));
    assert_eq!(cell(&c2, "dropped_columns"), "");

    // float32 products too coarse for the tau: the note is a cell of the
    // column that is there, empty, without it.
    let data = ["compute", "fixtures/twoview_f32.npy", "--tau"];
    let (h1, c1) = csv_totals(&[&data[..], &["0.1"]].concat());
    let (h2, c2) = csv_totals(&[&data[..], &["1e-6"]].concat());
    assert_eq!(h1, h2);
    assert_eq!(cell(&c1, "precision_note"), "");
    let note = json(&[&data[..], &["1e-6", "--summary"]].concat())["precision_note"].clone();
    assert!(note.is_string(), "the run needs float64 products: {note}");
    assert_eq!(cell(&c2, "precision_note"), note.as_str().unwrap());
    // JSON keeps leaving them out when there are none.
    let v = json(&[&data[..], &["0.1", "--summary"]].concat());
    assert!(v.get("precision_note").is_none() && v.get("dropped_columns").is_none());
}
