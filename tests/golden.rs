//! Golden tests: `infonce compute` against values computed independently with numpy.
//!
//! Every `fixtures/expected/<case>.json` names an input file and the CLI arguments that
//! follow it; this test runs `infonce compute <input> <args...> --format json` from the
//! repository root and compares the report with the expected values. Cases whose input is
//! float32 or float16 run a second time with `--precision f64` appended.
//! The fixtures are written by `fixtures/make_fixtures.py` (see docs/golden.md).
//!
//! Tolerances. The expected values are float64 over the stored input values, so:
//! - float64 products (float64 or CSV/TSV input, or `--precision f64`): only the order of
//!   summation differs from numpy, so sims and log-space values (logit, log_numerator,
//!   log_denominator) must agree to 1e-12 absolute plus 1e-12 relative. The loss is a
//!   difference of log-space values, so its relative part is taken against the largest of
//!   |loss|, |log_numerator|, |log_denominator| (matters for `large_dot`, where logits are
//!   ~1000 and one ulp is ~1e-13).
//! - float32 products (float32/float16 input without `--precision f64`): a similarity
//!   carries about d * 2^-24 (< 1e-6 for d <= 16) of rounding and a logit that divided by
//!   tau, so sims get 1e-5 absolute, and logits, log-space values and losses get 1e-5 / tau
//!   absolute, each plus 1e-5 relative.
//! - p_positive = exp(-loss), so its relative error is the loss's absolute error: it gets
//!   the loss allowance as relative tolerance (at least 1e-5 for float32 products).
//! - numerator / denominator must be null exactly when exp(log_...) overflows float64
//!   (log > ln(f64::MAX) ~ 709.78; the fixtures keep every log value at least 1 away from
//!   that bound) and otherwise equal exp(expected log_...) to the log value's allowance,
//!   taken as a relative tolerance.
//! - anchor, positive, direction and rank are compared exactly, also for float32 products
//!   (near-ties are broken in float64; `twoview_f32` contains one, a cosine gap of ~1e-8).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// Number of expected files `fixtures/make_fixtures.py` writes.
const MIN_CASES: usize = 19;
/// Failures reported per case before the rest are summarised.
const MAX_REPORTED: usize = 25;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected_files() -> Vec<PathBuf> {
    let dir = root().join("fixtures").join("expected");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Absolute plus relative allowance: |got - expected| <= abs + rel * scale.
#[derive(Clone, Copy)]
struct Tol {
    abs: f64,
    rel: f64,
}

impl Tol {
    fn allowance(self, scale: f64) -> f64 {
        self.abs + self.rel * scale.abs()
    }
}

struct Tolerances {
    sim: Tol,
    log: Tol,
    /// Lower bound for the relative tolerance on p_positive, numerator and denominator.
    min_rel: f64,
}

fn tolerances(f32_products: bool, tau: f64) -> Tolerances {
    if f32_products {
        Tolerances {
            sim: Tol {
                abs: 1e-5,
                rel: 1e-5,
            },
            log: Tol {
                abs: 1e-5 / tau,
                rel: 1e-5,
            },
            min_rel: 1e-5,
        }
    } else {
        Tolerances {
            sim: Tol {
                abs: 1e-12,
                rel: 1e-12,
            },
            log: Tol {
                abs: 1e-12,
                rel: 1e-12,
            },
            min_rel: 1e-12,
        }
    }
}

/// Collects mismatches for one run of one case.
struct Report {
    case: String,
    failures: Vec<String>,
}

impl Report {
    fn fail(&mut self, at: &str, field: &str, msg: String) {
        self.failures
            .push(format!("{}: {at}, field `{field}`: {msg}", self.case));
    }

    /// |got - expected| <= allowed, with a readable message otherwise.
    fn close(&mut self, at: &str, field: &str, expected: f64, got: Option<f64>, allowed: f64) {
        match got {
            None => self.fail(at, field, format!("expected {expected:e}, got no number")),
            Some(g) => {
                let diff = (g - expected).abs();
                // A NaN difference fails too: it is not within any allowance.
                if diff.is_nan() || diff > allowed {
                    self.fail(
                        at,
                        field,
                        format!(
                            "expected {expected:e}, got {g:e}, difference {diff:e} \
                             (allowed {allowed:e})"
                        ),
                    );
                }
            }
        }
    }

    /// Relative comparison for linear-space values that may be tiny (p, numerator, denominator).
    fn close_rel(&mut self, at: &str, field: &str, expected: f64, got: Option<f64>, rel: f64) {
        let scale = got.map_or(expected, |g| g.abs().max(expected.abs()));
        self.close(at, field, expected, got, rel * scale + 1e-300);
    }

    fn equal<T: PartialEq + std::fmt::Debug>(
        &mut self,
        at: &str,
        field: &str,
        expected: T,
        got: T,
    ) {
        if expected != got {
            self.fail(at, field, format!("expected {expected:?}, got {got:?}"));
        }
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("expected file: `{key}` is not a number"))
}

fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .map(|i| args[i + 1].as_str())
}

/// Compares the linear-space value `field` with exp(expected_log): null iff it overflows.
fn check_exp(report: &mut Report, at: &str, field: &str, got: &Value, expected_log: f64, rel: f64) {
    let ln_max = f64::MAX.ln();
    if expected_log > ln_max {
        if !got[field].is_null() {
            report.fail(
                at,
                field,
                format!(
                    "log is {expected_log} > {ln_max}, expected null, got {}",
                    got[field]
                ),
            );
        }
    } else if got[field].is_null() {
        report.fail(
            at,
            field,
            format!("log is {expected_log} <= {ln_max}, expected a number, got null"),
        );
    } else {
        report.close_rel(at, field, expected_log.exp(), got[field].as_f64(), rel);
    }
}

/// Runs one case (optionally with `--precision f64`) and returns its mismatches.
fn run_case(name: &str, expected: &Value, force_f64: bool) -> Vec<String> {
    let input = expected["input"].as_str().expect("expected file: `input`");
    let args: Vec<String> = expected["args"]
        .as_array()
        .expect("expected file: `args`")
        .iter()
        .map(|a| {
            a.as_str()
                .expect("expected file: `args` holds strings")
                .to_owned()
        })
        .collect();
    let dtype = expected["input_dtype"]
        .as_str()
        .expect("expected file: `input_dtype`");
    // Two view files of different types read as "float16 + float32".
    let f32_products = dtype
        .split(" + ")
        .all(|d| matches!(d, "float32" | "float16"))
        && !force_f64;
    let tau: f64 = arg_after(&args, "--tau")
        .expect("expected file: no --tau")
        .parse()
        .unwrap();
    let tol = tolerances(f32_products, tau);

    let mut cli_args = vec!["compute".to_owned(), input.to_owned()];
    cli_args.extend(args.iter().cloned());
    cli_args.extend(["--format".to_owned(), "json".to_owned()]);
    if force_f64 {
        cli_args.extend(["--precision".to_owned(), "f64".to_owned()]);
    }
    let mut report = Report {
        case: format!("{name} [infonce {}]", cli_args.join(" ")),
        failures: Vec::new(),
    };

    let output = Command::cargo_bin("infonce")
        .expect("infonce binary")
        .current_dir(root())
        .args(&cli_args)
        .output()
        .expect("running infonce");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        report.fail(
            "run",
            "exit status",
            format!("{}; stderr: {}", output.status, stderr.trim()),
        );
        return report.failures;
    }
    let got: Value = match serde_json::from_slice(&output.stdout) {
        Ok(v) => v,
        Err(e) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let head: String = stdout.chars().take(400).collect();
            report.fail("run", "stdout", format!("not JSON ({e}): {head}"));
            return report.failures;
        }
    };

    // Report-level fields.
    let exp_anchors = expected["anchors"]
        .as_array()
        .expect("expected file: `anchors`");
    let n = exp_anchors.len();
    let symmetric = args.iter().any(|a| a == "--symmetric");
    let layout = if args.iter().any(|a| a == "--labels") {
        "labels"
    } else if args.iter().any(|a| a == "--pairs") {
        "pairs"
    } else if args.iter().any(|a| a == "--keys") {
        "keys"
    } else {
        "two-view"
    };
    let similarity = arg_after(&args, "--sim").unwrap_or("cosine");
    let precision = if f32_products { "f32" } else { "f64" };
    report.equal("report", "tau", Some(tau), got["tau"].as_f64());
    report.equal(
        "report",
        "similarity",
        Some(similarity),
        got["similarity"].as_str(),
    );
    report.equal("report", "layout", Some(layout), got["layout"].as_str());
    report.equal(
        "report",
        "precision",
        Some(precision),
        got["precision"].as_str(),
    );
    report.equal(
        "report",
        "n_anchors",
        Some(n as u64),
        got["n_anchors"].as_u64(),
    );
    // Cases with extra negatives or without the in-batch candidates record theirs.
    let recorded = expected["n_candidates"].as_u64().map(|c| c as usize);
    let n_candidates = match (layout, symmetric) {
        _ if recorded.is_some() => recorded,
        ("two-view", _) => Some(n - 1),
        ("keys", false) => Some(n),
        ("keys", true) => Some(n / 2),
        _ => None, // pairs: rows - 1, not recorded in the expected file
    };
    if let Some(c) = n_candidates {
        report.equal(
            "report",
            "n_candidates",
            Some(c as u64),
            got["n_candidates"].as_u64(),
        );
    }
    let loss_scale = |r: &Value| {
        [
            num(r, "loss"),
            num(r, "log_numerator"),
            num(r, "log_denominator"),
        ]
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()))
    };
    let mean_scale = exp_anchors.iter().map(loss_scale).fold(0.0_f64, f64::max);
    report.close(
        "report",
        "loss",
        num(expected, "loss"),
        got["loss"].as_f64(),
        tol.log.allowance(mean_scale),
    );
    let exact = Tol {
        abs: 1e-12,
        rel: 1e-12,
    };
    for field in ["top1_accuracy", "mean_rank"] {
        let e = num(expected, field);
        report.close("report", field, e, got[field].as_f64(), exact.allowance(e));
    }
    // The labels layout's totals.
    for field in ["n_skipped", "skipped_anchors", "n_positive_pairs"] {
        if !expected[field].is_null() {
            report.equal("report", field, &expected[field], &got[field]);
        }
    }
    if !expected["loss_mean_over_anchors"].is_null() {
        report.close(
            "report",
            "loss_mean_over_anchors",
            num(expected, "loss_mean_over_anchors"),
            got["loss_mean_over_anchors"].as_f64(),
            tol.log.allowance(mean_scale),
        );
    }

    // Per-anchor records, in order.
    let Some(got_anchors) = got["anchors"].as_array() else {
        report.fail("report", "anchors", "missing or not an array".to_owned());
        return report.failures;
    };
    report.equal("report", "anchors.len()", n, got_anchors.len());
    for (idx, (e, g)) in exp_anchors.iter().zip(got_anchors).enumerate() {
        let at = format!("record #{idx} (anchor {})", e["anchor"]);
        let at = at.as_str();
        for field in ["anchor", "positive", "rank"] {
            report.equal(at, field, e[field].as_u64(), g[field].as_u64());
        }
        match e["direction"].as_str() {
            Some(d) => report.equal(at, "direction", Some(d), g["direction"].as_str()),
            None if g["direction"].is_null() => {}
            None => report.fail(
                at,
                "direction",
                format!("expected none, got {}", g["direction"]),
            ),
        }
        let sim = num(e, "sim");
        report.close(at, "sim", sim, g["sim"].as_f64(), tol.sim.allowance(sim));
        // The labels layout: every positive and its term of the loss.
        if let Some(terms) = e["positive_terms"].as_array() {
            report.equal(at, "positives", &e["positives"], &g["positives"]);
            let got_terms = g["positive_terms"].as_array().cloned().unwrap_or_default();
            report.equal(at, "positive_terms.len()", terms.len(), got_terms.len());
            for (t, gt) in terms.iter().zip(&got_terms) {
                let at = format!("{at}, positive {}", t["index"]);
                report.equal(&at, "index", t["index"].as_u64(), gt["index"].as_u64());
                let sim = num(t, "sim");
                report.close(&at, "sim", sim, gt["sim"].as_f64(), tol.sim.allowance(sim));
                let logit = num(t, "logit");
                report.close(
                    &at,
                    "logit",
                    logit,
                    gt["logit"].as_f64(),
                    tol.log.allowance(logit),
                );
                let scale = logit.abs().max(num(e, "log_denominator").abs());
                let loss = num(t, "loss");
                report.close(
                    &at,
                    "loss",
                    loss,
                    gt["loss"].as_f64(),
                    tol.log.allowance(scale),
                );
            }
        }
        for field in ["logit", "log_numerator", "log_denominator"] {
            let v = num(e, field);
            report.close(at, field, v, g[field].as_f64(), tol.log.allowance(v));
        }
        let loss_allowed = tol.log.allowance(loss_scale(e));
        report.close(at, "loss", num(e, "loss"), g["loss"].as_f64(), loss_allowed);
        let p_rel = loss_allowed.max(tol.min_rel);
        report.close_rel(
            at,
            "p_positive",
            num(e, "p_positive"),
            g["p_positive"].as_f64(),
            p_rel,
        );
        for (field, log_field) in [
            ("numerator", "log_numerator"),
            ("denominator", "log_denominator"),
        ] {
            let log = num(e, log_field);
            let rel = tol.log.allowance(log).exp_m1().max(tol.min_rel);
            check_exp(&mut report, at, field, g, log, rel);
        }
    }
    report.failures
}

#[test]
fn golden_fixtures_are_present() {
    let files = expected_files();
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} files in fixtures/expected, found {}; \
         run `python3 fixtures/make_fixtures.py`",
        files.len()
    );
    for file in &files {
        let expected: Value = serde_json::from_str(&fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let input = expected["input"].as_str().expect("`input`");
        assert!(
            root().join(input).is_file(),
            "{}: missing input {input}",
            file.display()
        );
        for arg in expected["args"].as_array().expect("`args`") {
            let arg = arg.as_str().expect("`args` holds strings");
            if arg.starts_with("fixtures/") {
                assert!(
                    root().join(arg).is_file(),
                    "{}: missing {arg}",
                    file.display()
                );
            }
        }
        assert!(
            !expected["anchors"]
                .as_array()
                .expect("`anchors`")
                .is_empty()
        );
    }
}

#[test]
fn cli_matches_golden_fixtures() {
    let files = expected_files();
    assert!(
        files.len() >= MIN_CASES,
        "only {} golden cases found",
        files.len()
    );
    let mut failures = Vec::new();
    let (mut runs, mut f64_reruns) = (0, 0);
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let expected: Value = serde_json::from_str(&fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let low_precision = expected["input_dtype"]
            .as_str()
            .is_some_and(|d| d.split(" + ").all(|d| matches!(d, "float32" | "float16")));
        for force_f64 in [false, true] {
            if force_f64 && !low_precision {
                continue;
            }
            let mut found = run_case(&name, &expected, force_f64);
            runs += 1;
            f64_reruns += usize::from(force_f64);
            if found.len() > MAX_REPORTED {
                let more = found.len() - MAX_REPORTED;
                found.truncate(MAX_REPORTED);
                found.push(format!("{name}: ... and {more} more mismatches"));
            }
            failures.extend(found);
        }
    }
    assert!(
        f64_reruns >= 1,
        "no float32/float16 case was rerun with --precision f64"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches over {runs} runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
