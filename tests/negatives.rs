//! Extra negatives (`--negatives`, shared or per anchor), without the
//! in-batch candidates (`--no-in-batch`) and the decoupled loss
//! (`--decoupled`), against the naive float64 reference
//! (`common::reference_with`) in every layout, in float64 and float32, over
//! tile sizes that cross every tile edge; then the command line in every
//! output format on the fixtures `fixtures/make_fixtures.py` writes (whose
//! numbers `tests/golden.rs` checks against numpy), and its refusals.

mod common;
mod support;

use common::{
    Expected, RefNegatives, Rng, Rows, check_terms, embeddings_f32, embeddings_f64, pairs,
    reference_with,
};
use infonce::input::Embeddings;
use infonce::layout::Layout;
use infonce::loss::{Core, Negatives, RecordStats, Settings, Similarity, Term, TermFrom};
use serde_json::Value;

/// One configuration of the core.
#[derive(Clone, Copy, Debug)]
struct Case {
    per_anchor: Option<usize>,
    in_batch: bool,
    decoupled: bool,
    sim: Similarity,
    block: usize,
}

/// Runs the core; returns the findings and every record's terms, indexed
/// as the reference indexes them (negatives after the main side's rows).
fn run(
    layout: &Layout,
    a: &Embeddings,
    b: Option<&Embeddings>,
    neg: &Embeddings,
    c: Case,
    tau: f64,
) -> (Vec<RecordStats>, Vec<Vec<Term>>) {
    let settings = Settings {
        tau,
        similarity: c.sim,
        block: c.block,
        portable: false,
    };
    let negatives = match c.per_anchor {
        None => Negatives::Shared,
        Some(m) => Negatives::PerAnchor(m),
    };
    let mut core = Core::new(layout, a, b, settings)
        .unwrap()
        .with_negatives(neg, negatives)
        .unwrap();
    if !c.in_batch {
        core = core.without_in_batch().unwrap();
    }
    if c.decoupled {
        core = core.decoupled();
    }
    let ticks = std::sync::atomic::AtomicU64::new(0);
    let stats = core.run(&|n| {
        ticks.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(
        ticks.into_inner(),
        core.tile_count(),
        "{c:?}: progress ticks"
    );
    let n_main = b.map_or(a.rows(), Embeddings::rows);
    let all: Vec<usize> = (0..layout.records.len()).collect();
    let mut terms = Vec::new();
    core.terms::<()>(&all, &mut |k, t| {
        let r = &layout.records[k];
        let first = c.per_anchor.map_or(0, |m| r.anchor * m);
        terms.push(
            t.iter()
                .map(|t| match t.from {
                    Some(TermFrom::Negatives) => Term {
                        index: n_main + first + t.index,
                        ..*t
                    },
                    Some(TermFrom::Candidates) => *t,
                    None => panic!("{c:?}: a term without its file in a run with negatives"),
                })
                .collect(),
        );
        Ok(())
    })
    .unwrap();
    (stats, terms)
}

/// The findings against the reference: log-space figures within `tol`
/// (relative to their size), the rank within the reference's bounds, and
/// p_positive the positive's softmax probability over all its candidates.
fn check(got: &[RecordStats], want: &[Expected], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: record count");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let f = g.finish();
        let scale = 1.0 + w.log_denominator.abs() + w.logit.abs();
        let at = format!("{what}: record {k} (anchor {})", w.anchor);
        assert!(
            (f.log_denominator - w.log_denominator).abs() <= tol * scale,
            "{at}: log_denominator {} vs {}",
            f.log_denominator,
            w.log_denominator
        );
        assert!(
            (f.loss - w.loss).abs() <= 2.0 * tol * scale,
            "{at}: loss {} vs {}",
            f.loss,
            w.loss
        );
        let p = w.terms.iter().find(|t| t.index == w.positive).unwrap().p;
        assert!(
            (f.p_positive - p).abs() <= 2.0 * tol * scale * p.max(1e-300),
            "{at}: p_positive {} vs {}",
            f.p_positive,
            p
        );
        assert!(
            (w.rank.0..=w.rank.1).contains(&g.rank),
            "{at}: rank {} outside {:?}",
            g.rank,
            w.rank
        );
    }
}

#[test]
fn every_layout_and_objective_matches_the_reference() {
    let mut rng = Rng(0x0E6A_71FE);
    let mut cases = 0;
    for layout_kind in 0..4 {
        for per_anchor in [None, Some(1), Some(4)] {
            for (in_batch, decoupled) in
                [(true, false), (false, false), (true, true), (false, true)]
            {
                if !in_batch && layout_kind == 3 {
                    continue; // refused: key-to-query records see no negatives
                }
                for (block, sim, f32) in [
                    (1, Similarity::Cosine, false),
                    (3, Similarity::Dot, true),
                    (5, Similarity::Cosine, true),
                    (256, Similarity::Dot, false),
                ] {
                    let (n, d, tau) = (7, 5, 0.3);
                    let rows = rng.two_view(n, d, 0.4);
                    let (q, k): (Rows, Rows) = (rows[..n].to_vec(), rows[n..].to_vec());
                    let (layout, first, second) = match layout_kind {
                        0 => (Layout::two_view("e", 2 * n).unwrap(), rows.clone(), None),
                        1 => {
                            let p = pairs(&mut rng, 2 * n, 11);
                            (
                                Layout::pairs("e", 2 * n, &p, true).unwrap(),
                                rows.clone(),
                                None,
                            )
                        }
                        2 => (Layout::keys("q", n, "k", n, false).unwrap(), q, Some(k)),
                        _ => (Layout::keys("q", n, "k", n, true).unwrap(), q, Some(k)),
                    };
                    let anchors = first.len();
                    let neg = rng.rows(per_anchor.map_or(6, |m| anchors * m), d);
                    let c = Case {
                        per_anchor,
                        in_batch,
                        decoupled,
                        sim,
                        block,
                    };
                    // float32 runs take the values as float32 stores them.
                    let round = |r: &Rows| -> Rows {
                        r.iter()
                            .map(|x| {
                                x.iter()
                                    .map(|&v| if f32 { v as f32 as f64 } else { v })
                                    .collect()
                            })
                            .collect()
                    };
                    let (first, second, neg) =
                        (round(&first), second.as_ref().map(round), round(&neg));
                    let make = |r: &Rows| {
                        if f32 {
                            embeddings_f32(r)
                        } else {
                            embeddings_f64(r)
                        }
                    };
                    let (a, b, nf) = (make(&first), second.as_ref().map(make), make(&neg));
                    let want = reference_with(
                        &layout,
                        &first,
                        second.as_deref(),
                        Some(&RefNegatives {
                            rows: &neg,
                            per_anchor,
                        }),
                        in_batch,
                        decoupled,
                        sim,
                        tau,
                    );
                    let (stats, terms) = run(&layout, &a, b.as_ref(), &nf, c, tau);
                    let what = format!("layout {layout_kind}, float32 {f32}, {c:?}");
                    let (tol, unit) = if f32 {
                        (1e-4, 2f64.powi(-24))
                    } else {
                        (1e-12, 2f64.powi(-53))
                    };
                    check(&stats, &want, tol, &what);
                    if !decoupled {
                        check_terms(&stats, &terms, &want, d, tau, unit, &what).unwrap();
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 4 * 3 * 4 * 4 - 3 * 2 * 4);
}

/// The decoupled loss is negative where the positive outweighs all the
/// others, and equals the coupled one less log(1 + others/numerator) plus
/// log(others/numerator): loss_dcl = loss_infonce + ln(1 - p_positive).
#[test]
fn decoupled_and_coupled_differ_by_log_one_minus_p() {
    let mut rng = Rng(7);
    let rows = rng.two_view(6, 4, 0.1);
    let layout = Layout::two_view("e", 12).unwrap();
    let e = embeddings_f64(&rows);
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 4,
        portable: false,
    };
    let coupled = Core::new(&layout, &e, None, settings).unwrap().run(&|_| {});
    let decoupled = Core::new(&layout, &e, None, settings)
        .unwrap()
        .decoupled()
        .run(&|_| {});
    let mut negative = 0;
    for (c, d) in coupled.iter().zip(&decoupled) {
        let (c, d) = (c.finish(), d.finish());
        let want = c.loss + (-c.p_positive).ln_1p();
        assert!(
            (d.loss - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "{} vs {want}",
            d.loss
        );
        assert_eq!(c.p_positive, d.p_positive);
        assert!(d.log_denominator < d.log_numerator || d.loss >= 0.0);
        negative += (d.loss < 0.0) as usize;
    }
    assert!(negative > 0, "close views give negative decoupled losses");
}

fn fixture(name: &str) -> String {
    format!("fixtures/{name}")
}

fn cli(args: &[&str]) -> std::process::Output {
    support::infonce(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .unwrap()
}

/// Every output format writes the same records, with the negatives' terms
/// marked by the file they come from.
#[test]
fn every_format_writes_the_negatives_terms() {
    let (q, k, per) = (
        fixture("neg_queries.npy"),
        fixture("neg_keys.npy"),
        fixture("neg_per_anchor.npy"),
    );
    let base = [
        "compute",
        &q,
        "--keys",
        &k,
        "--negatives",
        &per,
        "--no-in-batch",
        "--sim",
        "dot",
        "--tau",
        "2",
        "--terms",
    ];
    let json: Value = {
        let out = cli(&[&base[..], &["-f", "json"]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(json["negatives"], "per-anchor");
    assert_eq!(json["n_negatives"], 4);
    assert_eq!(json["in_batch"], false);
    assert_eq!(json["n_candidates"], 5);
    let records = json["anchors"].as_array().unwrap();
    assert_eq!(records.len(), 10);
    for r in records {
        let terms = r["terms"].as_array().unwrap();
        // The positive, then the anchor's own four negatives, numbered 0 to 3.
        let got: Vec<(String, u64)> = terms
            .iter()
            .map(|t| {
                (
                    t["from"].as_str().unwrap().to_string(),
                    t["index"].as_u64().unwrap(),
                )
            })
            .collect();
        let a = r["anchor"].as_u64().unwrap();
        let mut want = vec![("candidates".to_string(), a)];
        want.extend((0..4).map(|m| ("negatives".to_string(), m)));
        assert_eq!(got, want);
    }
    // NDJSON: the same records, line by line.
    let out = cli(&[&base[..], &["-f", "ndjson"]].concat());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (line, r) in lines.iter().zip(records) {
        assert_eq!(line["loss"], r["loss"]);
        assert_eq!(line["terms"], r["terms"]);
    }
    assert_eq!(lines.last().unwrap()["n_negatives"], 4);
    // CSV and TSV: one row per term, with a `from` column; only the
    // candidate that is the positive is marked, never a negative of the
    // same index.
    for (format, sep) in [("csv", ','), ("tsv", '\t')] {
        let out = cli(&[&base[..], &["-f", format]].concat());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(sep).collect();
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (from, index, pos, p) = (col("from"), col("index"), col("is_positive"), col("p"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(sep).collect()).collect();
        assert_eq!(rows.len(), 50, "{format}");
        for (row, t) in rows
            .iter()
            .zip(records.iter().flat_map(|r| r["terms"].as_array().unwrap()))
        {
            assert_eq!(row[from], t["from"].as_str().unwrap(), "{format}");
            assert_eq!(
                row[index].parse::<u64>().unwrap(),
                t["index"].as_u64().unwrap()
            );
            assert_eq!(row[pos] == "true", t["from"] == "candidates", "{format}");
            // (serde_json reads a number back within an ulp or two.)
            let (got, want) = (row[p].parse::<f64>().unwrap(), t["p"].as_f64().unwrap());
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want,
                "{format}: {got} vs {want}"
            );
        }
    }
    // The table and Markdown: the `from` column and the footer's line.
    for format in ["table", "markdown"] {
        let out = cli(&[&base[..], &["-f", format]].concat());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("negatives"), "{format}: {text}");
        assert!(
            text.contains("4 extra negatives of each anchor's own (--negatives), no in-batch candidates but the positive (--no-in-batch)"),
            "{format}: {text}"
        );
    }
}

/// The decoupled loss in the machine formats and the table's footer.
#[test]
fn decoupled_runs_say_so() {
    let v = fixture("neg_views.npy");
    let out = cli(&["compute", &v, "--decoupled", "-f", "json", "--summary"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decoupled"], true);
    assert!(json.get("negatives").is_none() && json.get("in_batch").is_none());
    let plain: Value =
        serde_json::from_slice(&cli(&["compute", &v, "-f", "json", "--summary"]).stdout).unwrap();
    assert!(plain.get("decoupled").is_none(), "absent unless asked for");
    let out = cli(&["compute", &v, "--decoupled"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("decoupled loss: each denominator leaves out its positive"),
        "{text}"
    );
}

/// Refusals: one line each, naming the file, its shape and what was expected.
#[test]
fn mismatched_negatives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let emb = support::f64_npy(&support::four_rows());
    std::fs::write(p("e.npy"), &emb).unwrap();
    // (3, 2, 2): three blocks for four anchors.
    let three: Vec<u8> = (0..12)
        .flat_map(|i| (1.0 + i as f64).to_le_bytes())
        .collect();
    std::fs::write(p("n3.npy"), support::npy("<f8", false, &[3, 2, 2], &three)).unwrap();
    // (2, 3): another dimension.
    let wide: Vec<u8> = (0..6)
        .flat_map(|i| (1.0 + i as f64).to_le_bytes())
        .collect();
    std::fs::write(p("w.npy"), support::npy("<f8", false, &[2, 3], &wide)).unwrap();
    // (1, 1, 1, 2): four dimensions.
    std::fs::write(
        p("n4.npy"),
        support::npy("<f8", false, &[1, 1, 1, 2], &wide[..16]),
    )
    .unwrap();
    // A NaN in a 3-D file is named by its index.
    let mut nan: Vec<f64> = (0..16).map(|i| 1.0 + i as f64).collect();
    nan[13] = f64::NAN;
    let nan: Vec<u8> = nan.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(p("nan.npy"), support::npy("<f8", false, &[4, 2, 2], &nan)).unwrap();
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["--negatives", "n3.npy"],
            1,
            "n3.npy: has shape (3, 2, 2), but per-anchor negatives need shape (4, M, 2): its first dimension counts the anchors, the rows of e.npy",
        ),
        (
            &["--negatives", "w.npy"],
            1,
            "w.npy: has shape (2, 3), negatives of dimension 3 but e.npy has dimension 2",
        ),
        (
            &["--negatives", "n4.npy"],
            1,
            "n4.npy: negatives must be a 2-D array (M, dimension) shared by every anchor, or a 3-D array (A, M, dimension) of M per anchor, not shape [1, 1, 1, 2]",
        ),
        (
            &["--negatives", "nan.npy"],
            1,
            "nan.npy: NaN (not a number) at [3, 0, 1]",
        ),
        (
            &[
                "--keys",
                "e.npy",
                "--symmetric",
                "--negatives",
                "w.npy",
                "--no-in-batch",
            ],
            2,
            "--no-in-batch cannot be used with --keys --symmetric: the key-to-query records see no extra negatives, so each would keep its positive alone",
        ),
        (
            &["--keys", "k1.npy", "--decoupled"],
            1,
            "e1.npy: --decoupled needs a negative beside every positive, but in the keys layout of 1 rows anchor 0 has its positive as its only candidate (its loss would be log 0); add --negatives",
        ),
    ];
    std::fs::write(p("e1.npy"), support::f64_npy(&[vec![1.0, 0.0]])).unwrap();
    std::fs::write(p("k1.npy"), support::f64_npy(&[vec![1.0, 1.0]])).unwrap();
    for (args, code, want) in cases {
        let first = if args[1] == "k1.npy" {
            "e1.npy"
        } else {
            "e.npy"
        };
        let out = support::infonce(dir.path())
            .args(["compute", first])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {want}\n"),
            "{args:?}"
        );
    }
    // --no-in-batch alone is clap's usage error.
    let out = support::infonce(dir.path())
        .args(["compute", "e.npy", "--no-in-batch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
