//! Extreme but valid inputs through the binary, against a naive float64
//! reference written out below: tau 1e-4 and 1e4, dot products of size 1e6
//! and 1e200, duplicate rows, a single pair and dimension 1. Every figure
//! must be finite (numerator and denominator may be null where exp overflows
//! float64, as documented) and equal to the reference within the rounding of
//! float64 input.
//!
//! The reference, for anchor a with positive p, candidates C(a) (every row
//! but a) and logits l_k = s(a, k) / tau:
//!
//! ```text
//! loss = logsumexp_{k in C(a)} l_k - l_p
//!      = m + ln(e^-m + sum_{k != p} e^(l_k - l_p - m)),   m = max(0, max_{k != p} l_k - l_p)
//! ```
//!
//! The second line is how it is computed: shifting by the largest difference
//! keeps every exponential in range, and a loss far below one keeps its
//! digits because nothing is subtracted from a large log-sum.

mod support;

use std::fs;

use serde_json::Value;
use support::{f64_npy, run_json};

/// What the reference finds for one anchor.
struct Expected {
    anchor: usize,
    positive: usize,
    sim: f64,
    logit: f64,
    log_denominator: f64,
    loss: f64,
    /// 1 + candidates strictly above the positive; `None` when some
    /// candidate is so close to the positive that rounding decides.
    rank: Option<u64>,
    /// Largest |logit| among the candidates: the scale of the rounding.
    scale: f64,
}

fn sim(x: &[f64], y: &[f64], cosine: bool) -> f64 {
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    if cosine {
        let n = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
        dot / (n(x) * n(y))
    } else {
        dot
    }
}

fn reference(rows: &[Vec<f64>], pairs: &[(usize, usize)], cosine: bool, tau: f64) -> Vec<Expected> {
    let d = rows[0].len() as f64;
    pairs
        .iter()
        .map(|&(a, p)| {
            let logits: Vec<(usize, f64)> = (0..rows.len())
                .filter(|&k| k != a)
                .map(|k| (k, sim(&rows[a], &rows[k], cosine) / tau))
                .collect();
            let lp = sim(&rows[a], &rows[p], cosine) / tau;
            let diffs: Vec<f64> = logits
                .iter()
                .filter(|&&(k, _)| k != p)
                .map(|&(_, l)| l - lp)
                .collect();
            let m = diffs.iter().copied().fold(0.0, f64::max);
            let loss = m + ((-m).exp() + diffs.iter().map(|x| (x - m).exp()).sum::<f64>()).ln();
            let scale = logits.iter().map(|x| x.1.abs()).fold(lp.abs(), f64::max);
            // Rounding of a logit: about d + 2 ulps of the scale.
            let window = 4.0 * (d + 2.0) * f64::EPSILON * scale;
            let rank = if diffs.iter().any(|&x| x != 0.0 && x.abs() <= window) {
                None
            } else {
                Some(1 + diffs.iter().filter(|&&x| x > 0.0).count() as u64)
            };
            Expected {
                anchor: a,
                positive: p,
                sim: lp * tau,
                logit: lp,
                log_denominator: lp + loss,
                loss,
                rank,
                scale,
            }
        })
        .collect()
}

fn two_view(n_rows: usize) -> Vec<(usize, usize)> {
    let n = n_rows / 2;
    (0..n_rows).map(|i| (i, (i + n) % n_rows)).collect()
}

fn num(v: &Value, key: &str, at: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{at}: {key} is {} in {v}", v[key]));
    assert!(x.is_finite(), "{at}: {key} = {x}");
    x
}

/// Runs the case and compares every record with the reference.
fn check(case: &str, rows: &[Vec<f64>], pairs: Option<&[(usize, usize)]>, cosine: bool, tau: f64) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("e.npy"), f64_npy(rows)).unwrap();
    let tau_s = format!("{tau:e}");
    let mut args = vec![
        "compute",
        "e.npy",
        "--tau",
        &tau_s,
        "--sim",
        if cosine { "cosine" } else { "dot" },
    ];
    if tau >= 10.0 {
        // Meant: such a tau draws the warning that it looks like a logit scale.
        args.push("--quiet");
    }
    let owned_pairs;
    let pairs = match pairs {
        Some(p) => {
            let text: String = p.iter().map(|(a, b)| format!("{a},{b}\n")).collect();
            fs::write(dir.path().join("p.csv"), text).unwrap();
            args.extend(["--pairs", "p.csv"]);
            p
        }
        None => {
            owned_pairs = two_view(rows.len());
            &owned_pairs
        }
    };
    let report = run_json(dir.path(), &args);
    compare(
        case,
        &report,
        &reference(rows, pairs, cosine, tau),
        rows[0].len(),
    );
}

fn compare(case: &str, report: &Value, want: &[Expected], d: usize) {
    let got = report["anchors"].as_array().expect("anchors");
    assert_eq!(got.len(), want.len(), "{case}");
    let mut losses = Vec::new();
    for (g, w) in got.iter().zip(want) {
        let at = format!("{case}, anchor {}", w.anchor);
        assert_eq!(g["anchor"].as_u64(), Some(w.anchor as u64), "{at}");
        assert_eq!(g["positive"].as_u64(), Some(w.positive as u64), "{at}");
        // Each logit carries about (d + 2) ulps of the largest logit; the
        // loss is a sum of differences of logits, so it carries a few times that.
        let log_tol = 8.0 * (d as f64 + 2.0) * f64::EPSILON * w.scale.max(1.0);
        let close = |field: &str, want: f64, tol: f64| {
            let x = num(g, field, &at);
            let allowed = tol + 1e-13 * want.abs();
            assert!(
                (x - want).abs() <= allowed,
                "{at}: {field} = {x:e}, reference {want:e}, off by {:e} > {allowed:e}",
                (x - want).abs()
            );
        };
        close("sim", w.sim, log_tol * (w.sim / w.logit).abs().min(1.0));
        close("logit", w.logit, log_tol);
        close("log_numerator", w.logit, log_tol);
        close("log_denominator", w.log_denominator, log_tol);
        close("loss", w.loss, log_tol);
        close("p_positive", (-w.loss).exp(), log_tol);
        let loss = num(g, "loss", &at);
        assert!(loss >= 0.0, "{at}: loss {loss}");
        for field in ["numerator", "denominator"] {
            let v = &g[field];
            assert!(
                v.is_null() || v.as_f64().is_some_and(f64::is_finite),
                "{at}: {field} = {v}"
            );
        }
        if let Some(rank) = w.rank {
            assert_eq!(g["rank"].as_u64(), Some(rank), "{at}");
        }
        losses.push(loss);
    }
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    let top = num(report, "loss", case);
    assert!(
        (top - mean).abs() <= 1e-12 * mean.abs().max(1e-300) + f64::MIN_POSITIVE,
        "{case}: mean loss {top} vs {mean}"
    );
}

/// Eight rows of dimension 3 with well separated similarities.
fn rows8() -> Vec<Vec<f64>> {
    vec![
        vec![0.9, 0.1, -0.3],
        vec![-0.2, 0.8, 0.5],
        vec![0.4, -0.7, 0.2],
        vec![0.1, 0.3, 0.9],
        vec![0.85, 0.2, -0.25],
        vec![-0.1, 0.7, 0.6],
        vec![0.5, -0.6, 0.1],
        vec![-0.3, 0.2, 1.0],
    ]
}

#[test]
fn tiny_tau() {
    check("tau 1e-4, cosine", &rows8(), None, true, 1e-4);
    check("tau 1e-4, dot", &rows8(), None, false, 1e-4);
}

#[test]
fn huge_tau() {
    check("tau 1e4, cosine", &rows8(), None, true, 1e4);
    check("tau 1e4, dot", &rows8(), None, false, 1e4);
}

#[test]
fn huge_dot_products() {
    let scaled = |s: f64| -> Vec<Vec<f64>> {
        rows8()
            .into_iter()
            .map(|r| r.into_iter().map(|x| x * s).collect())
            .collect()
    };
    // Logits ~1e7: every exp overflows float64.
    check("dot products ~1e6", &scaled(1e3), None, false, 0.1);
    // Logits ~1e200, near the largest the tool accepts.
    check("dot products ~1e200", &scaled(1e100), None, false, 1.0);
    check(
        "cosine of rows of norm ~1e100",
        &scaled(1e100),
        None,
        true,
        0.1,
    );
}

#[test]
fn duplicate_rows() {
    // Row 0 appears three times: as itself, as its positive, and as a
    // negative of other anchors; row 3 equals row 1 (a tie with a positive).
    let mut rows = rows8();
    rows[4] = rows[0].clone();
    rows[2] = rows[0].clone();
    rows[5] = rows[1].clone();
    rows[3] = rows[1].clone();
    check("duplicates, cosine", &rows, None, true, 0.1);
    check("duplicates, dot", &rows, None, false, 0.1);
    check(
        "duplicates, pairs",
        &rows,
        Some(&[(0, 4), (1, 3), (2, 6)]),
        true,
        0.05,
    );
}

#[test]
fn a_single_pair() {
    let rows = vec![vec![0.3, -0.4, 1.2], vec![1.0, 0.1, 0.2]];
    // Two rows: each anchor's only candidate is its positive, so loss is 0.
    check("two rows, two-view", &rows, None, true, 0.1);
    check("two rows, pairs", &rows, Some(&[(0, 1)]), false, 0.5);
    // One pair among many rows.
    check(
        "one pair of eight rows",
        &rows8(),
        Some(&[(3, 7)]),
        true,
        0.1,
    );
}

#[test]
fn dimension_one() {
    let rows: Vec<Vec<f64>> = [2.0, -3.0, 0.5, 1.0, -0.25, 4.0]
        .iter()
        .map(|&x| vec![x])
        .collect();
    // Under cosine every similarity is +1 or -1: ties everywhere.
    check("dimension 1, cosine", &rows, None, true, 0.1);
    check("dimension 1, dot", &rows, None, false, 0.1);
    check("dimension 1, dot, tiny tau", &rows, None, false, 1e-4);
}
