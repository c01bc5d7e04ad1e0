//! `infonce compute` against the libraries it claims to equal.
//!
//! `fixtures/peers/expected.json` holds, per case, the values one peer library
//! returned (PyTorch, open_clip, pytorch-metric-learning, info-nce-pytorch,
//! lightly, sentence-transformers, torchmetrics, Wang & Isola's reference
//! functions) on the small `.npy` inputs beside it, with the `infonce`
//! arguments that must reproduce them. `fixtures/peers/make_peer_values.py`
//! wrote it once; this test needs no Python (docs/peers.md).
//!
//! Every peer ran twice on the stored float32 values:
//! - in float32, as it is used in training. `infonce` runs with its default
//!   precision (float32 products). A float32 logit carries the products'
//!   rounding, about d * 2^-24 / tau, plus its own rounding, |logit| * 2^-24,
//!   in the peer and in `infonce` alike; over all cases the peer's float32
//!   values lie within 1.4e-7 / tau of its float64 ones. So a loss may differ
//!   by 2e-6 / tau plus 1e-5 relative. Figures without a temperature
//!   (accuracy, MRR, alignment, uniformity, computed in float32 by the peer)
//!   get 1e-6 plus 1e-5 relative.
//! - in float64 on the same values, where the library takes float64 input.
//!   `infonce` runs with `--precision f64`; only the order of summation
//!   differs, so 1e-12 / tau plus 1e-11 relative.
//!
//! Cases that need a flag `infonce` does not have yet name it in `requires`.
//! They run once their requirement is listed in [`AVAILABLE`]; until then
//! [`PENDING`] names it, and `pending_requirements_are_still_missing` fails as
//! soon as the binary accepts it, so no case waits unnoticed.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// Requirements of cases that `infonce` meets: the cases run.
const AVAILABLE: &[&str] = &[
    "--top-k",
    "metrics",
    "--negatives",
    "--no-in-batch",
    "--decoupled",
    "--labels",
    "--multi-positive",
    "uniformity",
];

/// Requirements `infonce` does not meet yet: a flag of `compute`,
/// `metrics` for the `metrics` object of the JSON totals, or `uniformity`
/// for its `uniformity` field.
const PENDING: &[&str] = &[];

/// Cases that must run today: those the flags in [`AVAILABLE`] allow.
const MIN_RUNNING: usize = 36;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected() -> Value {
    let path = root().join("fixtures/peers/expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn cases(all: &Value) -> &Vec<Value> {
    all["cases"].as_array().expect("expected.json: `cases`")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

fn requires(case: &Value) -> Vec<String> {
    strings(&case["requires"])
}

fn runs_today(case: &Value) -> bool {
    requires(case)
        .iter()
        .all(|r| AVAILABLE.contains(&r.as_str()))
}

/// The temperature the arguments give (`--tau` or `--logit-scale`), default 0.1.
fn tau(args: &[String]) -> f64 {
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].parse::<f64>().expect("a number"))
    };
    after("--tau")
        .or_else(|| after("--logit-scale").map(|s| 1.0 / s))
        .unwrap_or(0.1)
}

/// Runs `infonce <args> --format json` from the repository root.
fn run(args: &[String]) -> Result<Value, String> {
    let output = Command::cargo_bin("infonce")
        .expect("infonce binary")
        .current_dir(root())
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("running infonce");
    if !output.status.success() {
        return Err(format!(
            "{}; stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("stdout is not JSON: {e}"))
}

/// |got - expected| <= abs + rel * |expected|.
#[derive(Clone, Copy, Debug)]
struct Tol {
    abs: f64,
    rel: f64,
}

impl Tol {
    fn check(self, expected: f64, got: Option<f64>) -> Result<(), String> {
        let Some(got) = got else {
            return Err(format!("expected {expected:e}, got no number"));
        };
        let diff = (got - expected).abs();
        let allowed = self.abs + self.rel * expected.abs();
        // A NaN difference fails too.
        if diff.is_nan() || diff > allowed {
            return Err(format!(
                "expected {expected:e}, got {got:e}, difference {diff:e} (allowed {allowed:e})"
            ));
        }
        Ok(())
    }
}

/// Tolerances of one run: for losses, and for figures without a temperature.
struct Tols {
    loss: Tol,
    plain: Tol,
}

fn tolerances(f32_peer: bool, tau: f64) -> Tols {
    if f32_peer {
        Tols {
            loss: Tol {
                abs: 2e-6 / tau,
                rel: 1e-5,
            },
            plain: Tol {
                abs: 1e-6,
                rel: 1e-5,
            },
        }
    } else {
        Tols {
            loss: Tol {
                abs: 1e-12 / tau,
                rel: 1e-11,
            },
            plain: Tol {
                abs: 1e-12,
                rel: 1e-11,
            },
        }
    }
}

/// Whether a totals pointer names a figure without a temperature in it.
fn is_plain(pointer: &str) -> bool {
    pointer.starts_with("/metrics/")
        || pointer == "/top1_accuracy"
        || pointer == "/n_skipped"
        || pointer.starts_with("/skipped_anchors/")
}

/// The loss of the report's record an expected record names: by `anchor`,
/// and `positive` and `direction` where given; with `positive_term`, the loss
/// of that positive's term of the anchor's record (the labels layout).
fn record_loss(report: &Value, want: &Value) -> Result<Option<f64>, String> {
    let anchors = report["anchors"]
        .as_array()
        .ok_or("the report has no `anchors`")?;
    let matches: Vec<&Value> = anchors
        .iter()
        .filter(|r| {
            ["anchor", "positive", "direction"]
                .iter()
                .all(|k| want.get(*k).is_none_or(|w| r.get(*k) == Some(w)))
        })
        .collect();
    let [record] = matches[..] else {
        return Err(format!("{} records match, not one", matches.len()));
    };
    match want.get("positive_term") {
        None => Ok(record["loss"].as_f64()),
        Some(index) => {
            let terms = record["positive_terms"]
                .as_array()
                .ok_or("the record has no `positive_terms`")?;
            let found: Vec<&Value> = terms.iter().filter(|t| &t["index"] == index).collect();
            let [term] = found[..] else {
                return Err(format!("{} positive terms have index {index}", found.len()));
            };
            Ok(term["loss"].as_f64())
        }
    }
}

/// Compares one run with one precision's expected values; returns failures.
fn compare(name: &str, args: &[String], expected: &Value, tols: &Tols) -> Vec<String> {
    let at = format!("{name} [infonce {}]", args.join(" "));
    let report = match run(args) {
        Ok(r) => r,
        Err(e) => return vec![format!("{at}: {e}")],
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for t in expected["totals"].as_array().expect("`totals`") {
        let pointer = t["pointer"].as_str().expect("`pointer`");
        let tol = if is_plain(pointer) {
            tols.plain
        } else {
            tols.loss
        };
        let want = t["value"].as_f64().expect("`value`");
        if let Err(e) = tol.check(want, report.pointer(pointer).and_then(Value::as_f64)) {
            failures.push(format!("{at}: {pointer}: {e}"));
        }
        checked += 1;
    }
    for want in expected["records"].as_array().expect("`records`") {
        let loss = want["loss"].as_f64().expect("`loss`");
        let result = record_loss(&report, want).and_then(|got| tols.loss.check(loss, got));
        if let Err(e) = result {
            failures.push(format!("{at}: record {want}: {e}"));
        }
        checked += 1;
    }
    assert!(checked > 0, "{at}: nothing to compare");
    failures
}

#[test]
fn peer_values_are_reproduced() {
    let all = expected();
    let mut failures = Vec::new();
    let mut ran = Vec::new();
    for case in cases(&all) {
        if !runs_today(case) {
            continue;
        }
        let name = case["name"].as_str().expect("`name`");
        let args = strings(&case["args"]);
        let tau = tau(&args);
        failures.extend(compare(
            name,
            &args,
            &case["float32"],
            &tolerances(true, tau),
        ));
        if !case["float64"].is_null() {
            let mut f64_args = args.clone();
            f64_args.extend(["--precision".to_owned(), "f64".to_owned()]);
            failures.extend(compare(
                name,
                &f64_args,
                &case["float64"],
                &tolerances(false, tau),
            ));
        }
        ran.push(name);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        ran.len() >= MIN_RUNNING,
        "only {} cases ran: {ran:?}",
        ran.len()
    );
}

/// Every requirement is known, as available or as pending, so no case is
/// left out by a misspelt name.
#[test]
fn every_requirement_is_available_or_pending() {
    let all = expected();
    let mut unknown = BTreeSet::new();
    for case in cases(&all) {
        for r in requires(case) {
            if !AVAILABLE.contains(&r.as_str()) && !PENDING.contains(&r.as_str()) {
                unknown.insert(format!("{} requires {r}", case["name"]));
            }
        }
    }
    assert!(unknown.is_empty(), "unknown requirements: {unknown:?}");
    for r in AVAILABLE {
        assert!(!PENDING.contains(r), "{r} is both available and pending");
    }
}

/// A pending requirement that `infonce` meets fails here: move it to
/// [`AVAILABLE`] so that its cases run.
#[test]
fn pending_requirements_are_still_missing() {
    let help = Command::cargo_bin("infonce")
        .expect("infonce binary")
        .args(["compute", "--help"])
        .output()
        .expect("running infonce");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let mut landed = Vec::new();
    for r in PENDING {
        let met = if r.starts_with("--") {
            help.split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                .any(|word| word == *r)
        } else {
            let report = run(&["compute".into(), "fixtures/peers/twoview.npy".into()])
                .expect("a run without flags");
            match *r {
                "metrics" => report.get("metrics").is_some(),
                "uniformity" => report.pointer("/metrics/uniformity").is_some(),
                _ => panic!("{r}: a pending requirement of no known kind"),
            }
        };
        if met {
            landed.push(*r);
        }
    }
    assert!(
        landed.is_empty(),
        "infonce now has {landed:?}: move them from PENDING to AVAILABLE in tests/peers.rs"
    );
}

/// The cases waiting for a requirement, named on every run (`--nocapture`
/// shows them), and the inputs of every case present.
#[test]
fn cases_name_their_inputs_and_peer() {
    let all = expected();
    let mut waiting = Vec::new();
    for case in cases(&all) {
        let name = case["name"].as_str().expect("`name`");
        assert!(case["peer"].is_string(), "{name}: no peer");
        assert!(case["call"].is_string(), "{name}: no call");
        let args = strings(&case["args"]);
        assert_eq!(args[0], "compute", "{name}");
        for a in args.iter().filter(|a| a.starts_with("fixtures/")) {
            assert!(root().join(a).is_file(), "{name}: {a} is missing");
        }
        if !runs_today(case) {
            waiting.push(format!("{name} (requires {})", requires(case).join(", ")));
        }
    }
    assert!(all["versions"]["torch"].is_string());
    eprintln!("peer cases waiting for a feature: {}", waiting.len());
    for w in &waiting {
        eprintln!("  {w}");
    }
}
