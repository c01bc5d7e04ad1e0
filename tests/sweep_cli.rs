//! `compute --tau` with several temperatures, as a user runs it: every
//! temperature's totals equal those of a run at that temperature alone (to
//! the last bit: the JSON numbers are the shortest forms that read back to
//! the same float64), the best temperature is the one of lowest loss, and
//! the records, the totals and the terms are that temperature's. One
//! temperature writes no sweep fields.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{run, run_json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The mean of `f` over the records of a JSON report.
fn mean_of(report: &Value, f: impl Fn(&Value) -> f64) -> f64 {
    let recs = report["anchors"].as_array().unwrap();
    recs.iter().map(f).sum::<f64>() / recs.len() as f64
}

/// Checks a sweep's report against separate runs at each of its
/// temperatures; returns the best tau.
fn check_sweep(args: &[&str], tau_arg: &str, taus: &[f64]) -> f64 {
    let swept = run_json(root(), &[args, &["--tau", tau_arg]].concat());
    let sweep = swept["sweep"].as_array().expect("a sweep list");
    assert_eq!(sweep.len(), taus.len(), "{args:?}");
    let mut best = (f64::INFINITY, 0.0);
    for (entry, &tau) in sweep.iter().zip(taus) {
        assert_eq!(entry["tau"].as_f64(), Some(tau));
        let t = tau.to_string();
        let alone = run_json(root(), &[args, &["--tau", &t]].concat());
        assert!(alone.get("sweep").is_none() && alone.get("best_tau").is_none());
        // The same bits as the run alone.
        assert_eq!(entry["loss"], alone["loss"], "{args:?} tau {tau}");
        assert_eq!(entry["top1_accuracy"], alone["top1_accuracy"]);
        // MRR and mean p_positive from the records of the run alone (the
        // sums may round differently: within a few ulps).
        let mrr = mean_of(&alone, |r| 1.0 / r["rank"].as_f64().unwrap());
        let mean_p = mean_of(&alone, |r| r["p_positive"].as_f64().unwrap());
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs().max(1.0);
        assert!(
            close(entry["mrr"].as_f64().unwrap(), mrr),
            "{entry} vs {mrr}"
        );
        assert!(
            close(entry["mean_p_positive"].as_f64().unwrap(), mean_p),
            "{entry} vs {mean_p}"
        );
        let loss = entry["loss"].as_f64().unwrap();
        if loss < best.0 {
            best = (loss, tau);
        }
    }
    let (best_loss, best_tau) = best;
    assert_eq!(swept["best_tau"].as_f64(), Some(best_tau), "{args:?}");
    assert_eq!(swept["best_loss"].as_f64(), Some(best_loss));
    assert_eq!(swept["loss"].as_f64(), Some(best_loss));
    assert_eq!(swept["tau"].as_f64(), Some(best_tau));
    // The records are those of a run at the best tau alone.
    let alone = run_json(root(), &[args, &["--tau", &best_tau.to_string()]].concat());
    assert_eq!(swept["anchors"], alone["anchors"], "{args:?}");
    assert_eq!(swept["metrics"], alone["metrics"], "{args:?}");
    best_tau
}

#[test]
fn every_temperature_of_a_sweep_is_its_own_run_and_the_best_is_reported() {
    let taus = [0.05, 0.1, 0.2, 0.5];
    for args in [
        &["compute", "fixtures/twoview_f32.npy"][..],
        &["compute", "fixtures/twoview_f32.npy", "--sim", "dot"],
        &[
            "compute",
            "fixtures/queries.npy",
            "--keys",
            "fixtures/keys.npy",
            "--symmetric",
        ],
        &[
            "compute",
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/pairs.csv",
        ],
        &["compute", "fixtures/seed.csv"],
        // Extra negatives, without in-batch candidates, the decoupled loss.
        &[
            "compute",
            "fixtures/neg_views.npy",
            "--negatives",
            "fixtures/neg_shared.npy",
        ],
        &[
            "compute",
            "fixtures/neg_queries.npy",
            "--keys",
            "fixtures/neg_keys.npy",
            "--negatives",
            "fixtures/neg_per_anchor.npy",
            "--no-in-batch",
        ],
        &[
            "compute",
            "fixtures/neg_views.npy",
            "--negatives",
            "fixtures/neg_shared.npy",
            "--decoupled",
        ],
        &["compute", "fixtures/neg_views.npy", "--decoupled"],
        // Several positives per anchor, both reductions.
        &[
            "compute",
            "fixtures/labels_emb.npy",
            "--labels",
            "fixtures/labels.npy",
        ],
        &[
            "compute",
            "fixtures/labels_emb.npy",
            "--labels",
            "fixtures/labels.npy",
            "--multi-positive",
            "pairwise",
        ],
    ] {
        check_sweep(args, "0.05,0.1,0.2,0.5", &taus);
    }
    // A range: 0.01, 0.1, 1 (as numpy.geomspace(0.01, 1, 3)).
    check_sweep(
        &["compute", "fixtures/twoview_f32.npy"],
        "0.01:1:3",
        &[0.01, 0.1, 1.0],
    );
}

#[test]
fn terms_of_a_sweep_are_those_of_the_best_temperature() {
    let base = ["compute", "fixtures/seed.csv", "--terms", "--anchor", "1"];
    let swept = run_json(root(), &[&base[..], &["--tau", "0.5,2,0.05"]].concat());
    let best = swept["best_tau"].as_f64().unwrap().to_string();
    let alone = run_json(root(), &[&base[..], &["--tau", &best]].concat());
    assert!(
        swept["anchors"][0]["terms"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(swept["anchors"], alone["anchors"]);
}

#[test]
fn one_temperature_writes_no_sweep_fields() {
    let one = run(
        root(),
        &[
            "compute",
            "fixtures/seed.csv",
            "--tau",
            "0.2",
            "--format",
            "json",
        ],
    );
    let alias = run(
        root(),
        &[
            "compute",
            "fixtures/seed.csv",
            "--temperature",
            "0.2",
            "--format",
            "json",
        ],
    );
    assert!(one.status.success());
    assert_eq!(one.stdout, alias.stdout);
    let text = String::from_utf8(one.stdout).unwrap();
    for field in ["sweep", "best_tau", "best_loss"] {
        assert!(!text.contains(field), "{field} in {text}");
    }
}

#[test]
fn csv_ndjson_and_table_carry_the_sweep() {
    let args = ["compute", "fixtures/seed.csv", "--tau", "0.1,1"];
    let json = run_json(root(), &args);
    let csv = run(
        root(),
        &[&args[..], &["--format", "csv", "--summary"]].concat(),
    );
    assert!(csv.status.success());
    let csv = String::from_utf8(csv.stdout).unwrap();
    let mut lines = csv.lines();
    let (header, row) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(lines.next().is_none());
    let cols: Vec<&str> = header.split(',').collect();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cols.len(), cells.len());
    let cell = |name: &str| {
        let k = cols
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("{name} in {header}"));
        cells[k].parse::<f64>().unwrap()
    };
    // serde_json's own float parsing may land an ulp away from the
    // correctly rounded value that Rust's parse gives the CSV cell.
    let same = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * b.abs();
    for (k, tau) in ["0.1", "1"].iter().enumerate() {
        let e = &json["sweep"][k];
        for field in ["loss", "mrr", "top1_accuracy", "mean_p_positive"] {
            let (got, want) = (cell(&format!("{field}_{tau}")), e[field].as_f64().unwrap());
            assert!(same(got, want), "{field}_{tau}: {got} vs {want}");
        }
    }
    assert!(same(cell("best_tau"), json["best_tau"].as_f64().unwrap()));
    assert!(same(cell("best_loss"), json["best_loss"].as_f64().unwrap()));

    let nd = run(root(), &[&args[..], &["--format", "ndjson"]].concat());
    let last: Value = serde_json::from_str(
        String::from_utf8(nd.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["type"], "totals");
    assert_eq!(last["sweep"], json["sweep"]);
    assert_eq!(last["best_tau"], json["best_tau"]);

    let table = run(root(), &args);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("Temperature sweep (2 temperatures in one pass"),
        "{table}"
    );
    let best = json["best_tau"].as_f64().unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{best}*"))),
        "{table}"
    );
    assert!(
        table.contains("(the lowest loss of the sweep below)"),
        "{table}"
    );
}

/// With several temperatures `--plot` draws the mean loss against tau, the
/// best one marked; with one, the histogram of the losses.
#[test]
fn plot_of_a_sweep_is_loss_against_tau() {
    let dir = std::env::temp_dir().join(format!("infonce-sweep-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("sweep.svg");
    let svg_arg = svg.to_str().unwrap();
    let args = [
        "compute",
        "fixtures/seed.csv",
        "--summary",
        "--plot",
        svg_arg,
    ];
    let json = run_json(root(), &[&args[..], &["--tau", "0.05,0.5,2"]].concat());
    let best = json["best_tau"].as_f64().unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Mean loss against temperature"), "{text}");
    assert!(text.contains(&format!("best: tau {best}")), "{text}");
    assert!(text.contains("3 temperatures in one pass"));
    let one = run(root(), &[&args[..], &["--tau", "0.5"]].concat());
    assert!(one.status.success());
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Loss per anchor"), "{text}");
    assert!(!text.contains("Mean loss against temperature"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each temperature's CSV columns are named after the tau as a user writes
/// it: a log-spaced 0.19999999999999998 is `0.2`, a tau given literally
/// keeps its digits, and a log-spaced one between round numbers keeps as
/// many as it takes to tell it apart (4 at least).
#[test]
fn csv_sweep_columns_name_each_tau_as_written() {
    for (tau_arg, names) in [
        ("0.05:0.8:5", &["0.05", "0.1", "0.2", "0.4", "0.8"][..]),
        ("0.1,0.12345,1", &["0.1", "0.12345", "1"][..]),
        ("0.01:1:5", &["0.01", "0.03162", "0.1", "0.3162", "1"][..]),
        ("0.5:0.5001:3", &["0.5", "0.50005", "0.5001"][..]),
    ] {
        let args = [
            "compute",
            "fixtures/seed.csv",
            "--summary",
            "--tau",
            tau_arg,
        ];
        let json = run_json(root(), &args);
        let out = run(root(), &[&args[..], &["--format", "csv"]].concat());
        assert!(out.status.success());
        let csv = String::from_utf8(out.stdout).unwrap();
        let mut lines = csv.lines();
        let (header, row) = (lines.next().unwrap(), lines.next().unwrap());
        let cols: Vec<&str> = header.split(',').collect();
        let cells: Vec<&str> = row.split(',').collect();
        let sweep = json["sweep"].as_array().unwrap();
        assert_eq!(sweep.len(), names.len());
        for (e, name) in sweep.iter().zip(names) {
            let tau = e["tau"].as_f64().unwrap();
            let read: f64 = name.parse().unwrap();
            assert!(
                (read - tau).abs() <= 1e-3 * tau,
                "{tau_arg}: {name} names tau {tau}"
            );
            let k = cols
                .iter()
                .position(|c| *c == format!("loss_{name}"))
                .unwrap_or_else(|| panic!("{tau_arg}: no loss_{name} in {header}"));
            let got: f64 = cells[k].parse().unwrap();
            let want = e["loss"].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
                "loss_{name}: {got} vs {want}"
            );
        }
    }
}
