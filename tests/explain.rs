//! `infonce explain`: the walkthrough's committed text, and its figures
//! against `compute`'s.
//!
//! - golden files: the built-in example in every form and language, under
//!   `tests/golden/explain/`. After a deliberate change, regenerate them with
//!   `INFONCE_BLESS=1 cargo test --test explain` and review the diff.
//! - figures: for seeded random inputs in every layout, `explain --format json`
//!   must report exactly the numbers `compute --format json --terms` does (both
//!   read the same core, so equality is exact, not within a tolerance).
//! - errors, `--max-terms`, and overflow into log form.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::Rng;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `infonce` with colour off, run from the repository root.
fn infonce() -> Command {
    let mut c = Command::cargo_bin("infonce").expect("the binary builds");
    c.env("NO_COLOR", "1").current_dir(root());
    c
}

/// Runs `infonce args...`, expecting success, and returns standard output.
fn stdout_of(args: &[&str]) -> String {
    let out = infonce().args(args).output().expect("infonce runs");
    assert!(
        out.status.success(),
        "infonce {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

fn json_of(args: &[&str]) -> Value {
    let text = stdout_of(args);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("infonce {} wrote bad JSON: {e}", args.join(" ")))
}

// ---------------------------------------------------------------------------
// Golden files

fn golden_dir() -> PathBuf {
    root().join("tests").join("golden").join("explain")
}

#[test]
fn built_in_example_matches_golden_files() {
    let bless = std::env::var_os("INFONCE_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (format, ext) in [("text", "txt"), ("markdown", "md"), ("json", "json")] {
        for lang in ["en", "zh"] {
            let got = stdout_of(&["explain", "--format", format, "--lang", lang]);
            let path = golden_dir().join(format!("{format}_{lang}.{ext}"));
            if bless {
                fs::create_dir_all(golden_dir()).unwrap();
                fs::write(&path, &got).unwrap();
                continue;
            }
            let want = fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read {}: {e} (INFONCE_BLESS=1 writes it)",
                    path.display()
                )
            });
            if got != want {
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(g, w)| g != w)
                    .unwrap_or(got.lines().count().min(want.lines().count()));
                failures.push(format!(
                    "{}: differs from line {}:\n  got:  {:?}\n  want: {:?}",
                    path.display(),
                    line + 1,
                    got.lines().nth(line).unwrap_or("<end>"),
                    want.lines().nth(line).unwrap_or("<end>"),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(after a deliberate change: INFONCE_BLESS=1 cargo test --test explain)",
        failures.join("\n")
    );
}

#[test]
fn docs_show_the_current_walkthrough() {
    let doc = fs::read_to_string(root().join("docs").join("explain.md")).unwrap();
    let text = fs::read_to_string(golden_dir().join("text_en.txt")).unwrap();
    assert!(
        doc.contains(&format!("```text\n{text}```")),
        "docs/explain.md must show the output of `infonce explain` as in tests/golden/explain/text_en.txt"
    );
}

#[test]
fn built_in_example_is_fixtures_seed_csv() {
    // The example is the tutorial's: z1..z4 are the rows of fixtures/seed.csv,
    // and sim(z1, z3) = 0.9 gives the numerator exp(9).
    let ex = json_of(&["explain", "--format", "json"]);
    let compute = json_of(&[
        "compute",
        "fixtures/seed.csv",
        "--format",
        "json",
        "--terms",
    ]);
    assert_same_figures(&ex, &compute, 0);
    assert_eq!(ex["record"]["sim"], 0.9);
    assert_eq!(ex["record"]["numerator"].as_f64(), Some(9f64.exp()));
    let text = stdout_of(&["explain"]);
    for want in [
        "exp(sim(z1, z3)/τ) = exp(9) = 8103.08",
        "Σ_{k≠1} exp(sim(z1, z_k)/τ) = 1 + 8103.08 + 2.71828 = 8106.8",
        "p = 8103.08 / 8106.8 = 0.999541",
        "L = −log p = −log(0.999541338) = 0.000458767",
        "L = (1/2N) Σ_{i=1..2N} L_i = (0.000458767 + 0.019045 + 0.00917448 + 0.0509458) / 4 = 0.019906",
        "Figures are rounded to 6 significant digits; the sums use the unrounded values.",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colour when NO_COLOR is set");
}

// ---------------------------------------------------------------------------
// Figures equal compute's

/// A `rows` x `cols` matrix uniform in [-1, 1) from the shared seeded
/// generator, so that a failure can be replayed.
fn matrix(rng: &mut Rng, rows: usize, cols: usize) -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_fn((rows, cols), |_| rng.uniform())
}

fn write_csv(path: &Path, m: &ndarray::Array2<f64>) {
    let mut s = String::new();
    for row in m.rows() {
        let cells: Vec<String> = row.iter().map(|x| format!("{x}")).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    fs::write(path, s).unwrap();
}

/// Checks every figure of explain's record `k` against compute's.
fn assert_same_figures(ex: &Value, compute: &Value, k: usize) {
    let at = |what: &str| format!("record {k}, {what}");
    let mut want = compute["anchors"][k].clone();
    let want_terms = want
        .as_object_mut()
        .unwrap()
        .remove("terms")
        .expect("compute --terms writes terms");
    let rec = &ex["record"];
    assert_eq!(ex["record_index"], k, "{}", at("index"));
    assert_eq!(rec, &want, "{}", at("record"));
    assert_eq!(ex["mean_loss"], compute["loss"], "{}", at("mean loss"));

    // Every listed term is compute's term of the same candidate.
    let want_terms = want_terms.as_array().unwrap();
    let terms = ex["terms"].as_array().unwrap();
    for t in terms {
        let w = want_terms
            .iter()
            .find(|w| w["index"] == t["index"] && w["from"] == t["from"])
            .unwrap_or_else(|| panic!("{}: candidate {} not in compute", at("terms"), t["index"]));
        assert_eq!(t, w, "{}", at("term"));
    }
    let rest = ex["rest"]["count"].as_u64().unwrap_or(0) as usize;
    assert_eq!(terms.len() + rest, want_terms.len(), "{}", at("term count"));

    // The steps carry the same numbers.
    let steps = ex["steps"].as_array().unwrap();
    let step = |name: &str| -> &Value {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{}: no step {name}", at("steps")))
    };
    // The decoupled loss is no −log p: its loss step is the one from the logs.
    let decoupled = compute["decoupled"] == true;
    for (name, field, want) in [
        ("numerator", "value", &rec["numerator"]),
        ("numerator", "log_value", &rec["log_numerator"]),
        ("denominator", "value", &rec["denominator"]),
        ("denominator", "log_value", &rec["log_denominator"]),
        ("p_positive", "value", &rec["p_positive"]),
        ("loss", "value", &rec["loss"]),
        ("loss_from_logs", "value", &rec["loss"]),
        ("mean_loss", "value", &compute["loss"]),
    ] {
        if decoupled && name == "loss" {
            assert!(
                steps.iter().all(|s| s["name"] != "loss"),
                "{}",
                at("no −log p step")
            );
            continue;
        }
        assert_eq!(
            &step(name)[field],
            want,
            "{}",
            at(&format!("{name} {field}"))
        );
    }
    for s in steps {
        let name = s["name"].as_str().unwrap();
        let field = match name {
            "similarity" => "sim",
            "logit" => "logit",
            "exp" => "exp",
            _ => continue,
        };
        let w = want_terms
            .iter()
            .find(|w| w["index"] == s["inputs"]["candidate"] && w["from"] == s["inputs"]["from"])
            .unwrap_or_else(|| panic!("{}: step {name} of an unknown candidate", at("steps")));
        assert_eq!(s["value"], w[field], "{}", at(name));
    }
    let current = steps
        .iter()
        .find(|s| s["name"] == "temperature" && s["inputs"]["tau"] == ex["tau"])
        .expect("the temperature table has the walkthrough's own tau");
    for (field, want) in [
        ("loss", &rec["loss"]),
        ("p_positive", &rec["p_positive"]),
        ("mean_loss", &compute["loss"]),
    ] {
        assert_eq!(
            &current["value"][field],
            want,
            "{}",
            at(&format!("sweep {field}"))
        );
    }
}

/// Runs explain for `records` and compute once, with the same data flags.
fn check_case(name: &str, data: &[&str], records: &[usize]) {
    let mut compute_args = vec!["compute"];
    compute_args.extend_from_slice(data);
    compute_args.extend(["--format", "json", "--terms"]);
    let compute = json_of(&compute_args);
    let n = compute["anchors"].as_array().unwrap().len();
    for &k in records.iter().filter(|&&k| k < n) {
        let k_text = k.to_string();
        let mut args = vec!["explain"];
        args.extend_from_slice(data);
        args.extend([
            "--format",
            "json",
            "--record",
            &k_text,
            "--max-terms",
            "1000",
        ]);
        let ex = json_of(&args);
        assert_eq!(ex["rest"], Value::Null, "{name}: every term listed");
        assert_same_figures(&ex, &compute, k);
    }
}

#[test]
fn explain_reports_exactly_the_figures_of_compute() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    for seed in [1u64, 2, 3] {
        let mut rng = Rng(seed);

        // Two views, CSV (float64), cosine.
        let rows = 2 * (3 + seed as usize);
        write_csv(
            dir.path().join("tv.csv").as_path(),
            &matrix(&mut rng, rows, 5),
        );
        check_case("two-view csv", &[&p("tv.csv")], &[0, rows / 2, rows - 1]);

        // Two views, float32 .npy, dot product at another tau.
        let m32 = matrix(&mut rng, 10, 7).mapv(|x| (3.0 * x) as f32);
        ndarray_npy::write_npy(dir.path().join("tv32.npy"), &m32).unwrap();
        check_case(
            "two-view f32 dot",
            &[&p("tv32.npy"), "--sim", "dot", "--tau", "0.7"],
            &[1, 9],
        );

        // Pairs, both ways.
        write_csv(dir.path().join("pe.csv").as_path(), &matrix(&mut rng, 9, 4));
        let pairs: String = (0..4)
            .map(|i| format!("{},{}\n", (2 * i + seed as usize) % 9, (2 * i + 5) % 9))
            .filter(|l| {
                let (a, b) = l.trim().split_once(',').unwrap();
                a != b
            })
            .collect();
        fs::write(dir.path().join("pairs.csv"), pairs).unwrap();
        check_case(
            "pairs symmetric",
            &[&p("pe.csv"), "--pairs", &p("pairs.csv"), "--symmetric"],
            &[0, 2, 5, 7],
        );

        // Queries and keys, both ways.
        ndarray_npy::write_npy(dir.path().join("q.npy"), &matrix(&mut rng, 6, 3)).unwrap();
        ndarray_npy::write_npy(dir.path().join("k.npy"), &matrix(&mut rng, 6, 3)).unwrap();
        check_case(
            "keys symmetric",
            &[
                &p("q.npy"),
                "--keys",
                &p("k.npy"),
                "--symmetric",
                "--tau",
                "0.07",
            ],
            &[0, 5, 6, 11],
        );
    }
}

#[test]
fn temperature_table_rows_are_runs_of_compute() {
    let ex = json_of(&["explain", "--format", "json"]);
    for s in ex["steps"].as_array().unwrap() {
        if s["name"] != "temperature" {
            continue;
        }
        let tau = s["inputs"]["tau"].as_f64().unwrap().to_string();
        let c = json_of(&[
            "compute",
            "fixtures/seed.csv",
            "--tau",
            &tau,
            "--format",
            "json",
        ]);
        assert_eq!(s["value"]["loss"], c["anchors"][0]["loss"], "tau {tau}");
        assert_eq!(
            s["value"]["p_positive"], c["anchors"][0]["p_positive"],
            "tau {tau}"
        );
        assert_eq!(s["value"]["mean_loss"], c["loss"], "tau {tau}");
    }
}

// ---------------------------------------------------------------------------
// Errors, --max-terms, overflow

#[test]
fn out_of_range_anchor_is_a_data_error() {
    let out = infonce()
        .args(["explain", "fixtures/seed.csv", "--anchor", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(
        err.contains("--anchor 4") && err.contains("0 to 3"),
        "{err:?}"
    );
}

/// A tau too small for float64 logits is refused for the built-in example
/// as for a file: the example once ran with it and printed NaN everywhere,
/// with exit 0.
#[test]
fn built_in_example_refuses_a_tau_too_small() {
    let file = infonce()
        .args(["explain", "fixtures/seed.csv", "--tau", "5e-324"])
        .output()
        .unwrap();
    for extra in [&[][..], &["--format", "json"][..]] {
        let out = infonce()
            .args([&["explain", "--tau", "5e-324"][..], extra].concat())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert_eq!(out.stderr, file.stderr, "the same line as for the file");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.contains("--tau 5e-324 is too small"), "{err:?}");
    }
    // The smallest tau it takes still gives finite figures.
    let ex = json_of(&["explain", "--tau", "1e-300", "--format", "json"]);
    assert!(
        ex["record"]["loss"].as_f64().is_some_and(f64::is_finite),
        "{}",
        ex["record"]
    );
}

#[test]
fn without_anchor_record_0_is_explained_and_said_so() {
    let text = stdout_of(&["explain", "fixtures/seed.csv"]);
    assert!(
        text.contains("No --anchor was given, so this is the first record"),
        "{text}"
    );
    let ex = json_of(&["explain", "fixtures/seed.csv", "--format", "json"]);
    assert_eq!(ex["record_index"], 0);
}

#[test]
fn max_terms_lists_the_strongest_and_sums_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("e.csv");
    write_csv(&emb, &matrix(&mut Rng(7), 40, 6));
    let emb = emb.to_string_lossy().into_owned();
    let data = [emb.as_str(), "--anchor", "3", "--max-terms", "4"];

    let text = stdout_of(&[&["explain"], &data[..]].concat());
    assert_eq!(
        text.matches("… 34 more").count(),
        1,
        "one line sums the rest, once:\n{text}"
    );

    let ex = json_of(&[&["explain"], &data[..], &["--format", "json"]].concat());
    let compute = json_of(&["compute", &emb, "--format", "json", "--terms"]);
    let all = compute["anchors"][3]["terms"].as_array().unwrap();
    let positive = &compute["anchors"][3]["positive"];
    let listed = ex["terms"].as_array().unwrap();
    assert_eq!(listed.len(), 5, "the positive and 4 negatives");
    assert_eq!(&listed[0]["index"], positive, "the positive comes first");
    assert_eq!(ex["rest"]["count"], 34);
    // The listed negatives are the strongest, strongest first.
    let logit = |t: &Value| t["logit"].as_f64().unwrap();
    for w in listed[1..].windows(2) {
        assert!(logit(&w[0]) >= logit(&w[1]));
    }
    let weakest_listed = logit(&listed[4]);
    let unlisted: Vec<&Value> = all
        .iter()
        .filter(|t| !listed.iter().any(|l| l["index"] == t["index"]))
        .collect();
    assert_eq!(unlisted.len(), 34);
    assert!(unlisted.iter().all(|t| logit(t) <= weakest_listed));
    // The rest line sums exactly the unlisted terms (to rounding).
    let sum: f64 = unlisted.iter().map(|t| t["exp"].as_f64().unwrap()).sum();
    let share: f64 = unlisted.iter().map(|t| t["p"].as_f64().unwrap()).sum();
    let rest_sum = ex["rest"]["exp_sum"].as_f64().unwrap();
    let rest_share = ex["rest"]["share"].as_f64().unwrap();
    assert!((rest_sum - sum).abs() <= 1e-12 * sum, "{rest_sum} vs {sum}");
    assert!(
        (rest_share - share).abs() <= 1e-12,
        "{rest_share} vs {share}"
    );
}

/// `--max-terms` at the largest number it takes lists every term: one more
/// than it (the positive) once wrapped to 0 and the walkthrough panicked.
#[test]
fn max_terms_at_its_largest_lists_every_term() {
    for data in [
        &[][..],
        &["fixtures/queries.npy", "--keys", "fixtures/keys.npy"][..],
    ] {
        let args = [
            &["explain"][..],
            data,
            &["--max-terms", "18446744073709551615", "--format", "json"],
        ]
        .concat();
        let ex = json_of(&args);
        let listed = ex["terms"].as_array().expect("terms");
        let n = ex["steps"][0]["inputs"]["n_candidates"].as_u64().unwrap();
        assert_eq!(listed.len() as u64, n, "{}", args.join(" "));
        assert!(ex["rest"].is_null(), "nothing left to sum: {}", ex["rest"]);
    }
}

#[test]
fn overflow_is_explained_in_log_form() {
    // Dot products near 100 over tau = 1e-3 give logits near 1e5: exp
    // overflows float64 (above e^709.78) for every term.
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("big.npy");
    let m = matrix(&mut Rng(11), 8, 4).mapv(|x| 5.0 + 5.0 * x);
    ndarray_npy::write_npy(&emb, &m).unwrap();
    let emb = emb.to_string_lossy().into_owned();
    let data = [
        "explain",
        emb.as_str(),
        "--sim",
        "dot",
        "--tau",
        "1e-3",
        "--anchor",
        "2",
        "--max-terms",
        "3",
    ];
    for lang in ["en", "zh"] {
        for format in ["text", "markdown", "json"] {
            let out = stdout_of(&[&data[..], &["--format", format, "--lang", lang]].concat());
            let lower = out.to_lowercase();
            let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
            assert!(
                !words.contains(&"inf") && !words.contains(&"nan") && !words.contains(&"infinity"),
                "{format}/{lang} shows inf or NaN:\n{out}"
            );
            if format != "json" {
                assert!(out.contains("log-sum-exp"), "{format}/{lang}:\n{out}");
                assert!(out.contains("e^"), "{format}/{lang}:\n{out}");
            }
        }
    }
    let ex = json_of(&[&data[..], &["--format", "json"]].concat());
    let rec = &ex["record"];
    assert_eq!(rec["denominator"], Value::Null, "the case must overflow");
    let steps = ex["steps"].as_array().unwrap();
    let lse = steps.iter().find(|s| s["name"] == "log_sum_exp").unwrap();
    assert_eq!(lse["value"], rec["log_denominator"]);
    let max = lse["inputs"]["max_logit"].as_f64().unwrap();
    let all = json_of(&[
        "compute", &emb, "--sim", "dot", "--tau", "1e-3", "--format", "json", "--terms",
    ]);
    let top = all["anchors"][2]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["logit"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(max, top, "log-sum-exp subtracts the actual largest logit");
    assert_same_figures(&ex, &all, 2);
}

#[test]
fn pairs_without_a_file_is_a_usage_error() {
    let out = infonce()
        .args(["explain", "--pairs", "fixtures/pairs.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
}

// ---------------------------------------------------------------------------
// Picking the record: --anchor is a row, --direction, --positive, --record

/// Text with its wrapped lines joined again (with spaces for English,
/// without for Chinese), so that a sentence can be searched for whole.
fn flat(text: &str, sep: &str) -> String {
    text.lines().collect::<Vec<_>>().join(sep)
}

/// Runs `infonce args...`, expecting failure, and returns (code, stderr).
fn failure_of(args: &[&str]) -> (Option<i32>, String) {
    let out = infonce().args(args).output().unwrap();
    assert!(out.stdout.is_empty(), "no output on failure");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn anchor_is_a_row_of_the_anchors_file_in_every_layout() {
    // The example takes --anchor too: row 2 is z3.
    let ex = json_of(&["explain", "--anchor", "2", "--format", "json"]);
    assert_eq!(ex["record"]["anchor"], 2);
    assert_eq!(ex["record_index"], 2);
    assert!(
        stdout_of(&["explain", "--anchor", "2"])
            .starts_with("InfoNCE, step by step: the tutorial's example, anchor z3\n")
    );

    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    write_csv(
        dir.path().join("e.csv").as_path(),
        &matrix(&mut Rng(5), 6, 3),
    );
    fs::write(dir.path().join("p.csv"), "1,2\n0,1\n0,2\n3,0\n").unwrap();
    let (e, pairs) = (p("e.csv"), p("p.csv"));
    let data = [e.as_str(), "--pairs", pairs.as_str(), "--symmetric"];
    let run =
        |extra: &[&str]| json_of(&[&["explain"], &data[..], extra, &["--format", "json"]].concat());
    // Row 0 anchors pairs 1 and 2, and the reversed pair of (3, 0): record 7.
    let first = run(&["--anchor", "0"]);
    assert_eq!(first["record_index"], 1);
    assert_eq!(first["record"]["anchor"], 0);
    let text = flat(
        &stdout_of(&[&["explain"], &data[..], &["--anchor", "0"]].concat()),
        " ",
    );
    assert!(
        text.contains("record 2 (z[0] with positive z[2])")
            && text.contains("record 7 (z[0] with positive z[3])"),
        "the other records of the row are listed:\n{text}"
    );
    assert_eq!(
        run(&["--anchor", "0", "--positive", "3"])["record_index"],
        7
    );
    assert_eq!(run(&["--record", "7"])["record"]["anchor"], 0);
    let (code, err) = failure_of(&[&["explain"], &data[..], &["--anchor", "5"]].concat());
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--anchor 5: no pair has row 5 as its anchor"),
        "{err}"
    );
    let (code, err) = failure_of(
        &[
            &["explain"],
            &data[..],
            &["--anchor", "0", "--positive", "4"],
        ]
        .concat(),
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--positive 4: the positives of row 0 are rows 1, 2, 3"),
        "{err}"
    );
    let (code, err) = failure_of(&[&["explain"], &data[..], &["--anchor", "6"]].concat());
    assert_eq!(code, Some(1));
    assert!(err.contains("--anchor 6 is out of range"), "{err}");

    // Queries and keys, both ways.
    ndarray_npy::write_npy(dir.path().join("q.npy"), &matrix(&mut Rng(6), 4, 3)).unwrap();
    ndarray_npy::write_npy(dir.path().join("k.npy"), &matrix(&mut Rng(7), 4, 3)).unwrap();
    let (q, k) = (p("q.npy"), p("k.npy"));
    let keys = [q.as_str(), "--keys", k.as_str(), "--symmetric"];
    let run =
        |extra: &[&str]| json_of(&[&["explain"], &keys[..], extra, &["--format", "json"]].concat());
    assert_eq!(run(&["--anchor", "1"])["record_index"], 1);
    let back = run(&["--anchor", "1", "--direction", "key-to-query"]);
    assert_eq!(back["record_index"], 5);
    assert_eq!(back["record"]["direction"], "key_to_query");
    assert_eq!(back["record"]["anchor"], 1);
    let text = flat(
        &stdout_of(&[&["explain"], &keys[..], &["--anchor", "1"]].concat()),
        " ",
    );
    assert!(text.contains("--direction key-to-query"), "{text}");
    // The key-to-query legend names the key first.
    let text = stdout_of(&[&["explain"], &keys[..], &["--record", "5"]].concat());
    assert!(text.contains("a key and its query"), "{text}");
    assert!(!text.contains("a query and its key"), "{text}");

    let (code, _) = failure_of(&["explain", &e, "--direction", "key-to-query"]);
    assert_eq!(code, Some(2), "--direction needs --keys");
    let (code, _) = failure_of(&["explain", &e, "--anchor", "0", "--record", "1"]);
    assert_eq!(code, Some(2), "--anchor and --record conflict");
}

#[test]
fn english_has_no_chinese_unless_asked() {
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let en = stdout_of(&["explain"]);
    assert!(!cjk(&en), "English text with Chinese glosses:\n{en}");
    let both = stdout_of(&["explain", "--lang", "en+zh"]);
    assert!(both.contains("numerator (分子)"), "{both}");
    assert_eq!(stdout_of(&["explain", "--glossary"]), both);
    let zh = stdout_of(&["explain", "--lang", "zh", "--glossary"]);
    assert!(zh.contains("分子（numerator）"), "{zh}");
}

// ---------------------------------------------------------------------------
// The sections past the tutorial: their figures are the core's

#[test]
fn hard_negative_is_a_run_of_compute_on_the_moved_vectors() {
    let ex = json_of(&["explain", "--format", "json"]);
    let step = ex["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "hard_negative")
        .expect("the example has a hard-negative variant");
    let inputs = &step["inputs"];
    assert_eq!(inputs["candidate"], 3, "z4 is the strongest negative of z1");
    // The moved vector through compute gives the same record.
    let moved: Vec<f64> = inputs["vector_after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut rows = explain_example_rows();
    rows[3] = moved;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hard.csv");
    let text: String = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|x| format!("{x:?}")).collect();
            cells.join(",") + "\n"
        })
        .collect();
    fs::write(&path, text).unwrap();
    let c = json_of(&[
        "compute",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--terms",
    ]);
    let rec = &c["anchors"][0];
    assert_eq!(step["value"], rec["loss"]);
    assert_eq!(inputs["denominator_after"], rec["denominator"]);
    assert_eq!(inputs["p_positive_after"], rec["p_positive"]);
    assert_eq!(inputs["after"]["sim"], rec["terms"][2]["sim"]);
    // The tutorial's figures: sim 0.8, denominator 1 + 8103.08 + 2980.96.
    let close = |v: &Value, want: f64, tol: f64| (v.as_f64().unwrap() - want).abs() < tol;
    assert!(close(&inputs["after"]["sim"], 0.8, 1e-12), "{inputs}");
    assert!(
        close(&inputs["denominator_after"], 11085.0, 0.05),
        "{inputs}"
    );
    assert!(close(&inputs["p_positive_after"], 0.731, 5e-4), "{inputs}");
    assert!(close(&step["value"], 0.313, 5e-4), "{step}");
}

/// The tutorial's four embeddings, as `fixtures/seed.csv` holds them.
fn explain_example_rows() -> Vec<Vec<f64>> {
    fs::read_to_string(root().join("fixtures").join("seed.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(|x| x.trim().parse().unwrap()).collect())
        .collect()
}

#[test]
fn gradients_are_the_shares_over_tau() {
    let ex = json_of(&["explain", "--format", "json"]);
    let c = json_of(&[
        "compute",
        "fixtures/seed.csv",
        "--format",
        "json",
        "--terms",
    ]);
    let terms = c["anchors"][0]["terms"].as_array().unwrap();
    let positive = &c["anchors"][0]["positive"];
    let tau = 0.1;
    let neg_p: f64 = terms
        .iter()
        .filter(|t| &t["index"] != positive)
        .map(|t| t["p"].as_f64().unwrap())
        .sum();
    let mut seen = 0;
    for s in ex["steps"].as_array().unwrap() {
        if s["name"] != "gradient" {
            continue;
        }
        seen += 1;
        let t = terms
            .iter()
            .find(|t| t["index"] == s["inputs"]["candidate"])
            .unwrap();
        let want = if &t["index"] == positive {
            -neg_p / tau
        } else {
            t["p"].as_f64().unwrap() / tau
        };
        let got = s["value"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
    }
    assert_eq!(seen, 3);
}

#[test]
fn temperature_commentary_follows_the_table() {
    let dir = tempfile::tempdir().unwrap();
    // A negative (row 1) closer to anchor 0 than its positive (row 2):
    // cos 0.9507 against 0.8.
    let hard = dir.path().join("hard.csv");
    fs::write(&hard, "1,0,0\n0.95,0.31,0\n0.8,0.6,0\n0,0,1\n").unwrap();
    let text = flat(&stdout_of(&["explain", hard.to_str().unwrap()]), " ");
    assert!(
        text.contains("A negative that outscores the positive makes L ≈ (s_neg − s_pos)/τ"),
        "{text}"
    );
    assert!(text.contains("ranks 2nd of 3 candidates"), "{text}");
    assert!(text.contains("This anchor fails"), "{text}");
    assert!(!text.contains("Even at τ"), "{text}");
    assert!(
        text.contains("This anchor already has a hard negative"),
        "{text}"
    );
    // The rule's figure is the table's: (s_neg − s_pos)/0.05 next to the loss.
    let ex = json_of(&["explain", hard.to_str().unwrap(), "--format", "json"]);
    let terms = ex["terms"].as_array().unwrap();
    let s = |i: usize| {
        terms.iter().find(|t| t["index"] == i).unwrap()["sim"]
            .as_f64()
            .unwrap()
    };
    let approx = (s(1) - s(2)) / 0.05;
    let at_005 = ex["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "temperature" && st["inputs"]["tau"] == 0.05)
        .unwrap()["value"]["loss"]
        .as_f64()
        .unwrap();
    assert!(
        (at_005 - approx).abs() < 0.1 * approx,
        "{at_005} vs {approx}"
    );

    // Dot products in the hundreds: the loss is 0 even at tau = 1.
    let big = dir.path().join("big.csv");
    fs::write(&big, "30,0\n0,30\n30,0.1\n0.1,30\n").unwrap();
    let text = flat(
        &stdout_of(&["explain", big.to_str().unwrap(), "--sim", "dot"]),
        " ",
    );
    assert!(
        text.contains("Even at τ = 1 the positive leads by so much that p rounds to 1"),
        "{text}"
    );
    assert!(!text.contains("the terms grow alike"), "{text}");
    assert!(!text.contains("outscores the positive makes"), "{text}");
    let text = flat(
        &stdout_of(&[
            "explain",
            big.to_str().unwrap(),
            "--sim",
            "dot",
            "--lang",
            "zh",
        ]),
        "",
    );
    assert!(text.contains("即使 τ = 1，正样本也遥遥领先"), "{text}");
}

#[test]
fn duplicates_of_the_positive_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.csv");
    // Row 2 is an exact copy of row 3, the positive of anchor 0.
    fs::write(
        &path,
        "1,0,0\n0,1,0\n0.8,0.6,0\n0.8,0.6,0\n0,0,1\n0.5,0.5,0.5\n",
    )
    .unwrap();
    let text = flat(
        &stdout_of(&["explain", path.to_str().unwrap(), "--anchor", "0"]),
        " ",
    );
    assert!(text.contains("z[2] (duplicate)"), "{text}");
    assert!(text.contains("false negative"), "{text}");
}

#[test]
fn hard_negative_moves_the_candidates_file_in_the_keys_layout() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let (q, k) = (matrix(&mut Rng(21), 6, 16), matrix(&mut Rng(22), 6, 16));
    // Make each query close to its key, so that no negative is already hard.
    let k = &q * 3.0 + &k * 0.1;
    ndarray_npy::write_npy(p("q.npy"), &q).unwrap();
    ndarray_npy::write_npy(p("k.npy"), &k).unwrap();
    for (record, backward) in [(2usize, false), (8, true)] {
        let ex = json_of(&[
            "explain",
            &p("q.npy"),
            "--keys",
            &p("k.npy"),
            "--symmetric",
            "--record",
            &record.to_string(),
            "--format",
            "json",
        ]);
        let step = ex["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "hard_negative")
            .unwrap_or_else(|| panic!("record {record}: no hard-negative variant"));
        let h = step["inputs"]["candidate"].as_u64().unwrap() as usize;
        let moved: Vec<f64> = step["inputs"]["vector_after"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // The candidates of a key-to-query record are the queries.
        let (mut q2, mut k2) = (q.clone(), k.clone());
        let target = if backward { &mut q2 } else { &mut k2 };
        for (d, x) in target.row_mut(h).iter_mut().zip(&moved) {
            *d = *x;
        }
        ndarray_npy::write_npy(p("q2.npy"), &q2).unwrap();
        ndarray_npy::write_npy(p("k2.npy"), &k2).unwrap();
        let c = json_of(&[
            "compute",
            &p("q2.npy"),
            "--keys",
            &p("k2.npy"),
            "--symmetric",
            "--format",
            "json",
        ]);
        let rec = &c["anchors"][record];
        assert_eq!(step["value"], rec["loss"], "record {record}");
        assert_eq!(
            step["inputs"]["p_positive_after"], rec["p_positive"],
            "record {record}"
        );
        // The moved negative sits 0.1 below the positive.
        let after = step["inputs"]["after"]["sim"].as_f64().unwrap();
        let pos = rec["sim"].as_f64().unwrap();
        assert!(
            (pos - 0.1 - after).abs() < 1e-12,
            "record {record}: {after} vs {pos}"
        );
    }
}

// ---------------------------------------------------------------------------
// Extra negatives, no in-batch candidates, the decoupled loss

/// The three cases of `--negatives`, `--no-in-batch` and `--decoupled` kept
/// as golden files: name, data flags.
const OBJECTIVE_CASES: [(&str, &[&str]); 3] = [
    (
        "negatives",
        &[
            "fixtures/neg_queries.npy",
            "--keys",
            "fixtures/neg_keys.npy",
            "--negatives",
            "fixtures/neg_shared.npy",
        ],
    ),
    (
        "no_in_batch",
        &[
            "fixtures/neg_views.npy",
            "--negatives",
            "fixtures/neg_shared.npy",
            "--no-in-batch",
        ],
    ),
    (
        "decoupled",
        &[
            "fixtures/neg_queries.npy",
            "--keys",
            "fixtures/neg_keys.npy",
            "--negatives",
            "fixtures/neg_per_anchor.npy",
            "--decoupled",
        ],
    ),
];

#[test]
fn objective_cases_match_golden_files() {
    let bless = std::env::var_os("INFONCE_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (case, data) in OBJECTIVE_CASES {
        for (format, ext) in [("text", "txt"), ("markdown", "md"), ("json", "json")] {
            for lang in ["en", "zh"] {
                let mut args = vec!["explain"];
                args.extend_from_slice(data);
                args.extend(["--format", format, "--lang", lang]);
                let got = stdout_of(&args);
                let path = golden_dir().join(format!("{case}_{format}_{lang}.{ext}"));
                if bless {
                    fs::write(&path, &got).unwrap();
                    continue;
                }
                let want = fs::read_to_string(&path).unwrap_or_else(|e| {
                    panic!(
                        "cannot read {}: {e} (INFONCE_BLESS=1 writes it)",
                        path.display()
                    )
                });
                if let Some(line) = got
                    .lines()
                    .zip(want.lines())
                    .position(|(g, w)| g != w)
                    .or((got.lines().count() != want.lines().count())
                        .then(|| got.lines().count().min(want.lines().count())))
                {
                    failures.push(format!(
                        "{}: differs from line {}:\n  got:  {:?}\n  want: {:?}",
                        path.display(),
                        line + 1,
                        got.lines().nth(line).unwrap_or("<end>"),
                        want.lines().nth(line).unwrap_or("<end>"),
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(after a deliberate change: INFONCE_BLESS=1 cargo test --test explain objective_cases)",
        failures.join("\n")
    );
}

#[test]
fn explain_with_negatives_reports_exactly_the_figures_of_compute() {
    let shared = ["--negatives", "fixtures/neg_shared.npy"];
    let own = ["--negatives", "fixtures/neg_per_anchor.npy"];
    let keys = [
        "fixtures/neg_queries.npy",
        "--keys",
        "fixtures/neg_keys.npy",
    ];
    let views = ["fixtures/neg_views.npy"];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("keys shared", [&keys[..], &shared].concat()),
        ("keys per anchor", [&keys[..], &own].concat()),
        ("views shared", [&views[..], &shared].concat()),
        (
            "views no in-batch",
            [&views[..], &shared, &["--no-in-batch"]].concat(),
        ),
        (
            "views decoupled",
            [&views[..], &shared, &["--decoupled"]].concat(),
        ),
        (
            "keys per anchor, no in-batch, decoupled",
            [
                &keys[..],
                &own,
                &["--no-in-batch", "--decoupled", "--sim", "dot"],
            ]
            .concat(),
        ),
        ("seed decoupled", vec!["fixtures/seed.csv", "--decoupled"]),
    ];
    for (name, data) in &cases {
        check_case(name, data, &[0, 3, 9, 15]);
    }
}

/// The explained record's terms in candidate order, from explain's JSON.
fn listed_terms(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.extend(["--format", "json", "--max-terms", "1000"]);
    json_of(&all)["terms"].as_array().unwrap().clone()
}

#[test]
fn negatives_are_candidates_marked_with_their_file() {
    let keys = [
        "fixtures/neg_queries.npy",
        "--keys",
        "fixtures/neg_keys.npy",
    ];
    // 10 keys and the 7 shared negatives.
    let terms = listed_terms(&[&keys[..], &["--negatives", "fixtures/neg_shared.npy"]].concat());
    let from = |t: &Value| t["from"].as_str().unwrap().to_string();
    assert_eq!(terms.len(), 17);
    assert_eq!(terms.iter().filter(|t| from(t) == "negatives").count(), 7);
    // Without the batch: the positive and the negatives.
    let terms = listed_terms(
        &[
            &keys[..],
            &[
                "--negatives",
                "fixtures/neg_shared.npy",
                "--no-in-batch",
                "--anchor",
                "4",
            ],
        ]
        .concat(),
    );
    let batch: Vec<&Value> = terms.iter().filter(|t| from(t) == "candidates").collect();
    assert_eq!((terms.len(), batch.len()), (8, 1));
    assert_eq!(
        batch[0]["index"], 4,
        "the one in-batch candidate is the positive"
    );

    // The text names them neg[j] and marks them.
    let text = stdout_of(
        &[&keys[..], &["--negatives", "fixtures/neg_per_anchor.npy"]]
            .concat()
            .iter()
            .fold(vec!["explain"], |mut v, a| {
                v.push(a);
                v
            }),
    );
    assert!(text.contains("neg[3] (from --negatives)"), "{text}");
    assert!(text.contains("its own 4 extra negatives"), "{text}");
}

#[test]
fn decoupled_walkthrough_leaves_the_positive_out_of_the_denominator() {
    let ex = json_of(&[
        "explain",
        "fixtures/neg_queries.npy",
        "--keys",
        "fixtures/neg_keys.npy",
        "--negatives",
        "fixtures/neg_shared.npy",
        "--decoupled",
        "--anchor",
        "7",
        "--format",
        "json",
        "--max-terms",
        "1000",
    ]);
    let rec = &ex["record"];
    let f = |v: &Value| v.as_f64().unwrap();
    // Record 7's positive outweighs its negatives: a negative loss.
    assert!(f(&rec["loss"]) < 0.0, "{rec}");
    let steps = ex["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    // The denominator's written terms are the negatives' alone.
    let written = step("denominator")["inputs"]["terms"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(written + 1, ex["terms"].as_array().unwrap().len());
    // The positive's gradient is -1/tau, a negative's its share of the
    // negatives' sum over tau.
    let terms = ex["terms"].as_array().unwrap();
    let neg_sum: f64 = terms
        .iter()
        .filter(|t| !(t["index"] == 7 && t["from"] == "candidates"))
        .map(|t| f(&t["p"]))
        .sum();
    for s in steps.iter().filter(|s| s["name"] == "gradient") {
        let g = f(&s["value"]);
        let want = if s["inputs"]["positive"] == true {
            -1.0 / 0.1
        } else {
            f(&s["inputs"]["p"]) / neg_sum / 0.1
        };
        assert!((g - want).abs() <= 1e-12 * want.abs().max(1.0), "{s}");
    }
    // No cross-entropy and no CPC bound: they are InfoNCE's.
    for gone in ["cross_entropy", "mutual_information_bound", "loss"] {
        assert!(steps.iter().all(|s| s["name"] != gone), "{gone}");
    }
}

/// The formula step (section 1) and the denominator step (section 4) of
/// explain's JSON, in plain spelling, and the Markdown of the formula.
fn formulas_of(data: &[&str]) -> (String, String, String) {
    let mut args = vec!["explain"];
    args.extend_from_slice(data);
    let mut json = args.clone();
    json.extend(["--format", "json"]);
    let ex = json_of(&json);
    let steps = ex["steps"].as_array().unwrap();
    let formula = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))["formula"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut md = args;
    md.extend(["--format", "markdown"]);
    let md = stdout_of(&md);
    let display = md
        .lines()
        .find(|l| l.starts_with("$$L_i"))
        .expect("the formula is a display line")
        .to_string();
    (formula("formula"), formula("denominator"), display)
}

#[test]
fn the_formula_holds_the_terms_the_core_sums() {
    let keys = [
        "fixtures/neg_queries.npy",
        "--keys",
        "fixtures/neg_keys.npy",
    ];
    let views = ["fixtures/neg_views.npy"];
    let shared = ["--negatives", "fixtures/neg_shared.npy"];
    let own = ["--negatives", "fixtures/neg_per_anchor.npy"];
    // name, data flags, then what the formula's denominator must and must
    // not hold (plain spelling), and the same for section 4's sum.
    type Case<'a> = (&'a str, Vec<&'a str>, &'a [&'a str], &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            "views",
            views.to_vec(),
            &["1[k≠i] · exp(sim(z_i, z_k)/τ)"],
            &["n_m", "1[k≠i, j]"],
        ),
        (
            "views shared",
            [&views[..], &shared].concat(),
            &["(Σ_{k=0..2N−1} 1[k≠i] · exp(sim(z_i, z_k)/τ) + Σ_{m=0..M−1} exp(sim(z_i, n_m)/τ))"],
            &["1[k≠i, j]"],
        ),
        (
            "keys per anchor",
            [&keys[..], &own].concat(),
            &["(Σ_{j=0..N−1} exp(sim(q_i, k_j)/τ) + Σ_{m=0..M−1} exp(sim(q_i, n_{i,m})/τ))"],
            &["1[j≠i]"],
        ),
        (
            "views shared, decoupled",
            [&views[..], &shared, &["--decoupled"]].concat(),
            &["Σ_{k=0..2N−1} 1[k≠i, j] · exp(sim(z_i, z_k)/τ) + Σ_{m=0..M−1}"],
            &["1[k≠i] ·"],
        ),
        (
            "keys decoupled",
            [&keys[..], &["--decoupled"]].concat(),
            &["/ Σ_{j=0..N−1} 1[j≠i] · exp(sim(q_i, k_j)/τ) )"],
            &["n_m", "n_{i,m}"],
        ),
        (
            "views shared, no in-batch",
            [&views[..], &shared, &["--no-in-batch"]].concat(),
            &["/ (exp(sim(z_i, z_j)/τ) + Σ_{m=0..M−1} exp(sim(z_i, n_m)/τ)) )"],
            &["z_k", "1["],
        ),
        (
            "keys per anchor, no in-batch, decoupled",
            [&keys[..], &own, &["--no-in-batch", "--decoupled"]].concat(),
            &["/ Σ_{m=0..M−1} exp(sim(q_i, n_{i,m})/τ) )"],
            &["k_j", "1["],
        ),
    ];
    for (name, data, holds, lacks) in &cases {
        let (formula, _, _) = formulas_of(data);
        for h in *holds {
            assert!(formula.contains(h), "{name}: {formula:?} lacks {h:?}");
        }
        for l in *lacks {
            assert!(!formula.contains(l), "{name}: {formula:?} holds {l:?}");
        }
    }

    // Section 4 writes the record's own sum the same way, and the
    // Markdown's TeX says what the plain formula says.
    let (_, sum, md) = formulas_of(&[&views[..], &shared, &["--decoupled"]].concat());
    assert_eq!(
        sum,
        "Σ_{k≠0, 8} exp(sim(z[0], z_k)/τ) + Σ_{m} exp(sim(z[0], n_m)/τ)"
    );
    assert!(
        md.contains(
            "\\mathbf{1}_{[k \\neq i,\\, j]} \\exp(\\mathrm{sim}(z_i, z_k)/\\tau) + \\sum_{m=0}^{M-1} \\exp(\\mathrm{sim}(z_i, n_m)/\\tau)}"
        ),
        "{md}"
    );
    let (_, sum, md) = formulas_of(&[&keys[..], &own, &["--no-in-batch"]].concat());
    assert_eq!(
        sum,
        "exp(sim(q[0], k[0])/τ) + Σ_{m} exp(sim(q[0], n_{0,m})/τ)"
    );
    assert!(
        md.contains("\\sum_{m=0}^{M-1} \\exp(\\mathrm{sim}(q_i, n_{i,m})/\\tau)}"),
        "{md}"
    );
}

/// The percentage a sentence gives after `label (`.
fn share_after(text: &str, label: &str) -> f64 {
    let at = text
        .find(&format!("{label} ("))
        .unwrap_or_else(|| panic!("{label} not in {text:?}"));
    let rest = &text[at + label.len() + 2..];
    rest[..rest.find('%').expect("a percentage")]
        .parse()
        .expect("a number")
}

#[test]
fn decoupled_shares_say_what_they_are_shares_of() {
    let keys = [
        "fixtures/neg_queries.npy",
        "--keys",
        "fixtures/neg_keys.npy",
        "--negatives",
        "fixtures/neg_shared.npy",
        "--format",
        "json",
    ];
    for decoupled in [false, true] {
        let mut args = vec!["explain"];
        args.extend_from_slice(&keys);
        if decoupled {
            args.push("--decoupled");
        }
        let ex = json_of(&args);
        let rec = &ex["record"];
        let f = |v: &Value| v.as_f64().unwrap();
        let steps = ex["steps"].as_array().unwrap();
        let heaviest = steps
            .iter()
            .find(|s| s["name"] == "heaviest_negative")
            .unwrap();
        let text = heaviest["text"].as_str().unwrap();
        let label = heaviest["inputs"]["label"].as_str().unwrap();
        let exp = f(&heaviest["inputs"]["exp"]);
        // The share quoted is of the sum the sentence names.
        let (whole, of) = if decoupled {
            (
                f(&rec["numerator"]) + f(&rec["denominator"]),
                "numerator + denominator",
            )
        } else {
            (f(&rec["denominator"]), "of the denominator")
        };
        assert!(text.contains(of), "{text}");
        let quoted = share_after(text, label);
        let want = 100.0 * exp / whole;
        assert!(
            (quoted - want).abs() <= 1e-5 * want,
            "decoupled {decoupled}: {label} quoted {quoted}%, its share of {of} is {want}%"
        );
        if decoupled {
            assert!(!text.contains("of the denominator"), "{text}");
            // Of the decoupled denominator alone it would be more.
            assert!(100.0 * exp / f(&rec["denominator"]) > quoted * 1.01);
        }
    }
}

#[test]
fn decoupled_log_form_sums_the_negatives_alone() {
    // Dot products at tau 1e-3 overflow: anchor 0's positive (row 2) has
    // logit 1000, its negatives 0 and 500, so the decoupled loss is -500.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    fs::write(&path, "1,0\n0,1\n1,0\n0.5,0.5\n").unwrap();
    let path = path.to_string_lossy().into_owned();
    let data = [
        path.as_str(),
        "--sim",
        "dot",
        "--tau",
        "1e-3",
        "--decoupled",
    ];
    let mut args = vec!["explain"];
    args.extend_from_slice(&data);
    args.extend(["--format", "json"]);
    let ex = json_of(&args);
    let rec = &ex["record"];
    let f = |v: &Value| v.as_f64().unwrap();
    assert!((f(&rec["loss"]) + 500.0).abs() < 1e-9, "{rec}");
    let steps = ex["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    // m + log of the shifted sum is the core's log denominator: the
    // positive's term is not in it.
    let lse = step("log_sum_exp");
    let written = f(&lse["inputs"]["max_logit"]) + f(&lse["inputs"]["shifted_sum"]).ln();
    let want = f(&rec["log_denominator"]);
    assert!(
        (written - want).abs() <= 1e-12 * want.abs(),
        "{written} written, {want} computed"
    );
    assert_eq!(lse["inputs"]["shifted_logits"].as_array().unwrap().len(), 2);
    // p is numerator / (numerator + denominator), no difference of logs.
    let p = step("p_positive");
    assert_eq!(p["formula"], "p = numerator / (numerator + denominator)");
    let text = stdout_of(&data.iter().fold(vec!["explain"], |mut v, a| {
        v.push(a);
        v
    }));
    assert!(!text.contains("log p ="), "{text}");
    assert!(!text.contains("keep the\npositive in it"), "{text}");
    assert!(!text.contains("keep the positive in it"), "{text}");
}

// ---------------------------------------------------------------------------
// Several positives: --labels

#[test]
fn labels_walkthrough_reads_every_figure_from_compute() {
    let data = ["fixtures/labels_emb.npy", "--labels", "fixtures/labels.npy"];
    for how in ["supcon", "pairwise"] {
        for anchor in [0usize, 2, 11] {
            let a = anchor.to_string();
            let flags = [&data[..], &["--multi-positive", how, "--anchor", &a]].concat();
            let compute =
                json_of(&[&["compute"][..], &flags, &["--format", "json", "--terms"]].concat());
            let ex = json_of(
                &[
                    &["explain"][..],
                    &flags,
                    &["--format", "json", "--lang", "zh"],
                ]
                .concat(),
            );
            let at = format!("{how}, anchor {anchor}");
            let mut want = compute["anchors"][0].clone();
            let want_terms = want.as_object_mut().unwrap().remove("terms").unwrap();
            assert_eq!(ex["record"], want, "{at}: the record");
            assert_eq!(ex["terms"], want_terms, "{at}: the terms");
            assert_eq!(ex["mean_loss"], compute["loss"], "{at}: the batch loss");
            let steps = ex["steps"].as_array().unwrap();
            let f = |v: &Value| v.as_f64().unwrap();
            // Each positive's term is the core's, and the written-out
            // arithmetic gives it again.
            let terms: Vec<&Value> = steps
                .iter()
                .filter(|s| s["name"] == "positive_term")
                .collect();
            let positive_terms = want["positive_terms"].as_array().unwrap();
            assert_eq!(terms.len(), positive_terms.len(), "{at}");
            for (s, p) in terms.iter().zip(positive_terms) {
                assert_eq!(s["value"], p["loss"], "{at}");
                let l = f(&s["inputs"]["logit"]);
                let written = if how == "supcon" {
                    f(&s["inputs"]["log_denominator"]) - l
                } else {
                    // log(1 + N/e^l), N the candidates that are no positives.
                    (f(&s["inputs"]["log_negatives"]) - l).exp().ln_1p()
                };
                let got = f(&p["loss"]);
                assert!(
                    (written - got).abs() <= 1e-9 * got.abs().max(1.0),
                    "{at}: {written} written, {got} computed"
                );
            }
            // The anchor's loss is the mean of its terms.
            let loss = steps.iter().find(|s| s["name"] == "loss").unwrap();
            assert_eq!(loss["value"], want["loss"], "{at}");
            let mean = positive_terms.iter().map(|p| f(&p["loss"])).sum::<f64>()
                / positive_terms.len() as f64;
            assert!((mean - f(&want["loss"])).abs() <= 1e-12, "{at}");
            // The positives are marked among the candidates.
            let text = stdout_of(&[&["explain"][..], &flags, &["--max-terms", "100"]].concat());
            for p in want["positives"].as_array().unwrap() {
                assert!(
                    text.contains(&format!("\n  z[{p}] *")),
                    "{at}: z[{p}] unmarked\n{text}"
                );
            }
        }
    }
}

#[test]
fn labels_walkthrough_says_the_reduction_and_the_skipped_rows() {
    let data = [
        "explain",
        "fixtures/labels_emb.npy",
        "--labels",
        "fixtures/labels.npy",
    ];
    let supcon = stdout_of(&data);
    let compute = json_of(&[
        "compute",
        "fixtures/labels_emb.npy",
        "--labels",
        "fixtures/labels.npy",
        "--summary",
        "--format",
        "json",
    ]);
    let skipped: Vec<String> = compute["skipped_anchors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("z[{a}]"))
        .collect();
    assert!(!skipped.is_empty());
    let flat = supcon.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("SupConLoss"), "{flat}");
    assert!(flat.contains(&skipped.join(" and ")), "{flat}");
    assert!(
        flat.contains("L_a = (1/|P(a)|) Σ_{p ∈ P(a)} ( log D(a) − l_p )"),
        "{flat}"
    );
    let pairwise = stdout_of(&[&data[..], &["--multi-positive", "pairwise"]].concat());
    let flat = pairwise.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("NTXentLoss with labels"), "{flat}");
    assert!(
        flat.contains("L_(a,p) = −log( exp(l_p) / (exp(l_p) + N(a)) )"),
        "{flat}"
    );
    let compute = json_of(&[
        "compute",
        "fixtures/labels_emb.npy",
        "--labels",
        "fixtures/labels.npy",
        "--summary",
        "--multi-positive",
        "pairwise",
        "--format",
        "json",
    ]);
    let pairs = compute["n_positive_pairs"].as_u64().unwrap();
    assert!(
        flat.contains(&format!("mean over all {pairs} positive pairs")),
        "{flat}"
    );
}
