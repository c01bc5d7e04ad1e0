//! Extreme but valid inputs through the binary, against the naive float64
//! reference of `common/reference.rs`: tau 1e-4 and 1e4, dot products of
//! size 1e6 and 1e200, duplicate rows, a single pair and dimension 1; and
//! the inputs that once gave wrong numbers with exit 0: `--terms`
//! probabilities above 1 at a tiny tau or from float32 input, and float32
//! products at a tau so small that their rounding swamps the loss. Every
//! figure must be finite (numerator and denominator may be null where exp
//! overflows float64, as documented) and equal to the reference within the
//! rounding of float64 input.

mod common;
mod support;

use std::fs;

use common::Expected;
use infonce::loss::Similarity;
use serde_json::Value;
use support::{f32_npy, f64_npy, run, run_json};

fn reference(rows: &[Vec<f64>], pairs: &[(usize, usize)], cosine: bool, tau: f64) -> Vec<Expected> {
    let s = if cosine {
        Similarity::Cosine
    } else {
        Similarity::Dot
    };
    pairs
        .iter()
        .map(|&(a, p)| Expected {
            anchor: a,
            ..common::record(&rows[a], rows, Some(a), p, s, tau)
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
        let rank = g["rank"].as_u64().expect("rank");
        assert!(
            (w.rank.0..=w.rank.1).contains(&rank),
            "{at}: rank {rank} outside the reference's {:?}",
            w.rank
        );
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

/// The smallest tau accepted, with rows far from unit norm: scaling a dot
/// product by 1/|x| and 1/tau before 1/|y| overflowed float64 (a loss of
/// `null` with exit 0); dot products at a tau below 1e-308, where 1/tau
/// itself overflows, did the same.
#[test]
fn smallest_tau_with_rows_far_from_unit_norm() {
    let scaled = |s: f64| -> Vec<Vec<f64>> {
        rows8()
            .into_iter()
            .map(|r| r.into_iter().map(|x| x * s).collect())
            .collect()
    };
    check(
        "cosine, norms ~1e-20, tau 5e-299",
        &scaled(1e-20),
        None,
        true,
        5e-299,
    );
    check(
        "cosine, norms ~1e20, tau 5e-299",
        &scaled(1e20),
        None,
        true,
        5e-299,
    );
    check(
        "cosine, norms ~1e-149, tau 1e-300",
        &scaled(1e-149),
        None,
        true,
        1e-300,
    );
    check(
        "dot, norms ~1e-149, tau 1e-310",
        &scaled(1e-149),
        None,
        false,
        1e-310,
    );
    check(
        "dot, norms ~1e-100, tau 1e-250",
        &scaled(1e-100),
        None,
        false,
        1e-250,
    );
}

/// A huge tau with rows far below unit norm: scaling each row by
/// 1/(|x| tau) took the tile's products below float64's smallest normal
/// number, every tile logit became 0, and a positive of negative
/// similarity ranked below all its candidates and itself (rank 8 of 7
/// candidates) with exit 0.
#[test]
fn huge_tau_with_rows_far_below_unit_norm() {
    let scaled = |s: f64| -> Vec<Vec<f64>> {
        rows8()
            .into_iter()
            .map(|r| r.into_iter().map(|x| x * s).collect())
            .collect()
    };
    check(
        "cosine, norms ~1e-30, tau 1e300",
        &scaled(1e-30),
        None,
        true,
        1e300,
    );
    check(
        "cosine, norms ~1e-30, tau 1e250",
        &scaled(1e-30),
        None,
        true,
        1e250,
    );
    check(
        "cosine, norms ~1e-140, tau 1e120",
        &scaled(1e-140),
        None,
        true,
        1e120,
    );
}

/// float32 input at a huge tau: its float32 tile logits (|s| / tau) fell
/// below float32's range, every one became 0, and a positive of negative
/// similarity ranked below all its candidates and itself (rank 6 of 5
/// candidates) with exit 0. Above tau 1e6 float32 input is multiplied in
/// float64, and the report says why.
#[test]
fn huge_tau_with_float32_input() {
    let rows: Vec<Vec<f64>> = [1.0, -3.0, -3.0, 3.0, 3.0, 2.0]
        .iter()
        .map(|&x| vec![x])
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let rows32: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| r.iter().map(|&x| x as f32).collect())
        .collect();
    fs::write(dir.path().join("e.npy"), f32_npy(&rows32)).unwrap();
    for tau in [1e7, 1e50, 1e300] {
        let tau_s = format!("{tau:e}");
        let report = run_json(
            dir.path(),
            &["compute", "e.npy", "--tau", &tau_s, "--quiet"],
        );
        assert_eq!(report["precision"], "f64", "tau {tau_s}");
        let note = report["precision_note"].as_str().unwrap_or_default();
        assert!(
            note.contains("below float32's range"),
            "tau {tau_s}: {note}"
        );
        compare(
            &format!("float32, tau {tau_s}"),
            &report,
            &reference(&rows, &two_view(rows.len()), true, tau),
            1,
        );
    }
    // At tau 1e6 float32 products are still used (their figures carry
    // float32 rounding), with the reference's ranks.
    let report = run_json(dir.path(), &["compute", "e.npy", "--tau", "1e6", "--quiet"]);
    assert_eq!(report["precision"], "f32");
    let want = reference(&rows, &two_view(rows.len()), true, 1e6);
    for (g, w) in report["anchors"].as_array().unwrap().iter().zip(&want) {
        let rank = g["rank"].as_u64().unwrap();
        assert!(
            (w.rank.0..=w.rank.1).contains(&rank),
            "tau 1e6, anchor {}: rank {rank}, reference {:?}",
            w.anchor,
            w.rank
        );
    }
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

// ---------------------------------------------------------------------------
// Wrong numbers with exit 0, as found from outside

/// Runs `args` in `dir`, expects success, and returns stdout and stderr.
fn ok(dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `--terms` as CSV and JSON: every `p` is a number in [0, 1], each record's
/// `p` sum to 1 within float64 rounding, and the positive's `p` equals the
/// record's `p_positive` within `log_tol` in log space.
fn check_terms_output(dir: &std::path::Path, args: &[&str], log_tol: f64) {
    let mut csv_args = args.to_vec();
    csv_args.extend(["--terms", "--format", "csv"]);
    let (csv, _) = ok(dir, &csv_args);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (p_col, pos_col) = (col("p"), col("is_positive"));
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let p: f64 = cells[p_col]
            .parse()
            .unwrap_or_else(|_| panic!("{args:?}: p is {:?} in {line}", cells[p_col]));
        assert!((0.0..=1.0).contains(&p), "{args:?}: p = {p} in {line}");
        assert!(["true", "false"].contains(&cells[pos_col]));
        rows += 1;
    }
    assert!(rows > 0, "{args:?}: no terms");

    let mut json_args = args.to_vec();
    json_args.push("--terms");
    let report = run_json(dir, &json_args);
    for rec in report["anchors"].as_array().unwrap() {
        let terms = rec["terms"].as_array().unwrap();
        let n = terms.len() as f64;
        let ps: Vec<f64> = terms
            .iter()
            .map(|t| t["p"].as_f64().unwrap_or_else(|| panic!("{args:?}: {t}")))
            .collect();
        assert!(
            ps.iter().all(|p| (0.0..=1.0).contains(p)),
            "{args:?}: {rec}"
        );
        let sum: f64 = ps.iter().sum();
        assert!(
            (sum - 1.0).abs() <= (n + 4.0) * f64::EPSILON,
            "{args:?}: the p sum to {sum} in {rec}"
        );
        let positive = rec["positive"].as_u64().unwrap();
        let term = terms
            .iter()
            .find(|t| t["index"].as_u64() == Some(positive))
            .unwrap();
        let (p_rec, p_term) = (
            rec["p_positive"].as_f64().unwrap(),
            term["p"].as_f64().unwrap(),
        );
        let allowed = p_rec.max(p_term) * -(-log_tol).exp_m1() + 1e-300;
        assert!(
            (p_rec - p_term).abs() <= allowed,
            "{args:?}: p_positive {p_rec:e} vs the positive's term {p_term:e} in {rec}"
        );
    }
}

/// At tau 1e-20 the strongest candidate's `p` was `inf` (`null` in JSON):
/// the record's log-denominator came out one ulp below that candidate's
/// logit. Also in the keys layout and with float64 `.npy` input.
#[test]
fn terms_at_a_tiny_tau_stay_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        vec![-0.7, 0.2, -0.9],
        vec![-0.9, 0.0, -0.1],
        vec![0.8, 0.3, 0.0],
        vec![-0.0, -0.5, -1.0],
    ];
    fs::write(
        dir.path().join("m.csv"),
        "-0.7,0.2,-0.9\n-0.9,0,-0.1\n0.8,0.3,0\n-0,-0.5,-1\n",
    )
    .unwrap();
    fs::write(dir.path().join("m.npy"), f64_npy(&rows)).unwrap();
    fs::write(dir.path().join("k.npy"), f64_npy(&rows)).unwrap();
    // At tau 1e-20 a logit is known to about 1e5: p_positive and the
    // positive's p agree only as far as that goes (both are 0 or 1 here).
    for args in [
        &["compute", "m.csv", "--tau", "1e-20"][..],
        &["compute", "m.npy", "--tau", "1e-20"][..],
        &["compute", "m.csv", "--tau", "1e-20", "--keys", "k.npy"][..],
        &[
            "compute",
            "m.npy",
            "--tau",
            "1e-20",
            "--keys",
            "k.npy",
            "--symmetric",
        ][..],
    ] {
        check_terms_output(dir.path(), args, 1e-9);
    }
}

/// float32 input: the terms were recomputed in float64 but divided by the
/// float32 pass's denominator, giving p = 1.0000010490409 (1.0105 at tau
/// 1e-5, 7.3e146 on the rows scaled by 30 at tau 1e-10).
#[test]
fn float32_terms_are_a_softmax_consistent_with_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Vec<f32>> = vec![
        vec![-0.3, 0.0],
        vec![0.3, 3.0],
        vec![1.8, 0.7],
        vec![2.9, -1.7],
    ];
    let scaled: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| r.iter().map(|x| x * 30.0).collect())
        .collect();
    fs::write(dir.path().join("f4.npy"), f32_npy(&rows)).unwrap();
    fs::write(dir.path().join("x30.npy"), f32_npy(&scaled)).unwrap();
    // float32 products at tau 1 (d = 2, norms up to 3.4): logits within
    // 2 * 2^-24 * 11.6 / 1 = 1.4e-6 of float64's.
    check_terms_output(
        dir.path(),
        &["compute", "f4.npy", "--sim", "dot", "--tau", "1"],
        3e-6,
    );
    check_terms_output(dir.path(), &["compute", "f4.npy", "--sim", "dot"], 3e-5);
    // Smaller tau: float64 products (the bound passes 0.01), every digit.
    for args in [
        &["compute", "f4.npy", "--sim", "dot", "--tau", "1e-5"][..],
        &["compute", "x30.npy", "--tau", "1e-10"][..],
        &["compute", "x30.npy", "--sim", "dot", "--tau", "1e-10"][..],
    ] {
        check_terms_output(dir.path(), args, 1e-9);
    }
}

/// Rows one float32 ulp apart under cosine at tau 1e-9: float32 products
/// gave a loss of 3.4e-7 (or 41, or 50, by dimension) where the answer is
/// ln 3 = 1.0986. The error bound of float32 products passes 0.01, so the
/// products are float64, and the report says why.
#[test]
fn float32_products_too_coarse_for_tau_switch_to_float64() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = common::Rng(9);
    for d in [2usize, 3, 8, 64, 256] {
        let base: Vec<f32> = (0..d).map(|_| rng.uniform() as f32).collect();
        let rows: Vec<Vec<f32>> = (0..4)
            .map(|i| {
                let mut r = base.clone();
                let j = i % d;
                r[j] = f32::from_bits(r[j].to_bits() + 1);
                r
            })
            .collect();
        fs::write(dir.path().join("u.npy"), f32_npy(&rows)).unwrap();
        let wide: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&x| x as f64).collect())
            .collect();
        let want = reference(&wide, &two_view(4), true, 1e-9);
        let report = run_json(dir.path(), &["compute", "u.npy", "--tau", "1e-9"]);
        assert_eq!(report["precision"], "f64", "d {d}");
        let note = report["precision_note"].as_str().unwrap();
        assert!(
            note.starts_with("float32 products could move a logit by up to ")
                && note.ends_with("(above 0.01)"),
            "{note}"
        );
        compare(&format!("one ulp apart, d {d}"), &report, &want, d);
        // Each logit of 1e9 is known to about 1e-6 in float64: the loss is
        // ln 3 to that, where float32 products were off by a factor.
        let loss = report["loss"].as_f64().unwrap();
        assert!((loss - 3f64.ln()).abs() < 1e-4, "d {d}: {loss}");
        let forced = run_json(
            dir.path(),
            &["compute", "u.npy", "--tau", "1e-9", "--precision", "f64"],
        );
        assert_eq!(forced["loss"], report["loss"], "d {d}");
        assert!(forced.get("precision_note").is_none(), "asked for: no note");
        // The same rows as two view files: the same rule.
        fs::write(dir.path().join("v1.npy"), f32_npy(&rows[..2])).unwrap();
        fs::write(dir.path().join("v2.npy"), f32_npy(&rows[2..])).unwrap();
        let views = run_json(
            dir.path(),
            &["compute", "v1.npy", "v2.npy", "--tau", "1e-9"],
        );
        assert_eq!(views["precision"], "f64", "d {d}: two view files");
        assert_eq!(views["loss"], report["loss"], "d {d}: two view files");
        let (table, err) = ok(dir.path(), &["compute", "u.npy", "--tau", "1e-9"]);
        assert!(err.is_empty(), "{err}");
        assert!(
            table
                .lines()
                .any(|l| l == format!("f64 products chosen because {note}")),
            "{table}"
        );
    }
}

/// The rule at tau 0.01 (CLIP's usual value) under cosine: float32 products
/// up to dimension 1677, where d * 2^-24 / 0.01 <= 0.01; float64 from 1678.
#[test]
fn float32_bound_at_tau_001_follows_the_dimension() {
    let dir = tempfile::tempdir().unwrap();
    for (d, precision) in [(1677usize, "f32"), (1678, "f64")] {
        let rows: Vec<Vec<f32>> = (0..4)
            .map(|i| (0..d).map(|j| (((i * 7 + j) % 13) as f32) - 6.0).collect())
            .collect();
        fs::write(dir.path().join("e.npy"), f32_npy(&rows)).unwrap();
        let report = run_json(
            dir.path(),
            &["compute", "e.npy", "--tau", "0.01", "--summary"],
        );
        assert_eq!(report["precision"], precision, "d {d}");
        assert_eq!(
            report.get("precision_note").is_some(),
            precision == "f64",
            "d {d}"
        );
    }
}
