//! The labels layout (several positives per anchor) against the naive
//! float64 reference in `common/reference.rs` (`labels_reference`), over
//! random rows and labels, both reductions, float64/float32/float16 input,
//! tile sizes that cross every tile edge and several thread counts; every
//! term `--terms` lists for an anchor; and the label files of each format as
//! a user writes them, through the binary.

mod common;
mod support;

use std::fs;

use common::{
    LabelAnchor, Rng, Rows, embeddings_f16, embeddings_f32, embeddings_f64, labels_reference,
};
use infonce::input::Embeddings;
use infonce::input::labels::{LabelValues, Labels};
use infonce::layout::{Layout, MultiPositive};
use infonce::loss::{Core, Settings, Similarity};
use infonce::report::{Context, Objective, Report};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;
use support::{f64_npy, npy, run, run_json};

/// The report of the labels layout over `e`, as `compute` builds it.
#[allow(clippy::too_many_arguments)]
fn report(
    e: &Embeddings,
    labels: &[i64],
    reduction: MultiPositive,
    s: Similarity,
    tau: f64,
    block: usize,
    threads: usize,
) -> (Report, Vec<Vec<infonce::loss::Term>>) {
    let l = Labels::from_values("mem.txt", &LabelValues::Ints(labels.to_vec()), true);
    let layout = Layout::labels("mem.npy", e.rows(), &l, reduction).unwrap();
    let settings = Settings {
        tau,
        similarity: s,
        block,
        portable: false,
    };
    let core = Core::new(&layout, e, None, settings).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let stats = pool.install(|| core.run(&|_| {}));
    let norms = e.row_norms();
    let report = Report::new(
        Context {
            layout: &layout,
            tau,
            similarity: s,
            precision: core.precision(),
            precision_note: None,
            input_dtype: String::new(),
            dimension: e.cols(),
            dropped_columns: Vec::new(),
            norms: (&norms, None),
            n_candidates: (core.n_candidates(false), core.n_candidates(true)),
            objective: Objective {
                negatives: None,
                in_batch: true,
                decoupled: false,
            },
        },
        &stats,
    );
    let mut terms = Vec::new();
    let which: Vec<usize> = report.records.iter().map(|r| r.record).collect();
    core.terms(&which, &mut |_, t| {
        terms.push(t.to_vec());
        Ok::<(), ()>(())
    })
    .unwrap();
    (report, terms)
}

/// Neumaier-free plain mean: the reference's own.
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Compares a report with the reference; `tol` bounds log-space error
/// relative to the size of the log-space values.
#[allow(clippy::too_many_arguments)]
fn check(
    got: &Report,
    terms: &[Vec<infonce::loss::Term>],
    want: &[LabelAnchor],
    rows: usize,
    reduction: MultiPositive,
    tol: f64,
    what: &str,
) {
    let s = &got.summary;
    assert_eq!(
        got.records.len(),
        want.len(),
        "{what}: anchors with a positive"
    );
    let skipped: Vec<usize> = (0..rows)
        .filter(|a| !want.iter().any(|w| w.anchor == *a))
        .collect();
    assert_eq!(s.skipped_anchors.as_deref(), Some(&skipped[..]), "{what}");
    assert_eq!(s.n_skipped, Some(skipped.len()), "{what}");
    assert_eq!(s.multi_positive, Some(reduction), "{what}");
    let mut pair_losses = Vec::new();
    let mut anchor_losses = Vec::new();
    for ((r, w), ts) in got.records.iter().zip(want).zip(terms) {
        let at = format!("{what}: anchor {}", w.anchor);
        assert_eq!(r.anchor, w.anchor, "{at}");
        assert_eq!(r.positives.as_deref(), Some(&w.positives[..]), "{at}");
        let scale = 1.0 + w.scale;
        assert!(
            (r.log_denominator - w.log_denominator).abs() <= tol * scale,
            "{at}: log_denominator {} vs {}",
            r.log_denominator,
            w.log_denominator
        );
        let want_terms = match reduction {
            MultiPositive::Supcon => &w.supcon,
            MultiPositive::Pairwise => &w.pairwise,
        };
        let pt = r.positive_terms.as_ref().unwrap();
        assert_eq!(pt.len(), w.positives.len(), "{at}");
        for ((t, &p), (&wl, &ws)) in pt
            .iter()
            .zip(&w.positives)
            .zip(want_terms.iter().zip(&w.sims))
        {
            assert_eq!(t.index, p, "{at}");
            assert!(
                (t.sim - ws).abs() <= tol * (1.0 + ws.abs()),
                "{at}: sim of {p}: {} vs {ws}",
                t.sim
            );
            // Tiny terms to their relative precision, large ones absolutely.
            assert!(
                (t.loss - wl).abs()
                    <= 2.0 * tol * scale * wl.clamp(f64::MIN_POSITIVE, 1.0).max(tol),
                "{at}: term of {p}: {} vs {wl}",
                t.loss
            );
        }
        let wl = mean(want_terms);
        assert!(
            (r.loss - wl).abs() <= 2.0 * tol * scale * wl.clamp(tol, 1.0),
            "{at}: loss {} vs {wl}",
            r.loss
        );
        assert!(
            (w.rank.0..=w.rank.1).contains(&r.rank),
            "{at}: rank {} outside {:?}",
            r.rank,
            w.rank
        );
        // The best positive is one of those with the highest logit.
        let best = w
            .positives
            .iter()
            .position(|&p| p == r.positive)
            .expect("a positive");
        let top = w.sims.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            w.sims[best] >= top - tol * (1.0 + top.abs()),
            "{at}: best positive"
        );
        // --terms: every other row, the positives among them, the softmax
        // over the shared denominator.
        let idx: Vec<usize> = ts.iter().map(|t| t.index).collect();
        let others: Vec<usize> = (0..rows).filter(|&k| k != w.anchor).collect();
        assert_eq!(idx, others, "{at}: terms");
        let p_sum: f64 = ts
            .iter()
            .filter(|t| w.positives.contains(&t.index))
            .map(|t| t.p)
            .sum();
        let want_p: f64 = w.supcon.iter().map(|l| (-l).exp()).sum();
        assert!(
            (p_sum - want_p).abs() <= 1e-6 * (1.0 + want_p) + tol,
            "{at}: positives' p {p_sum} vs {want_p}"
        );
        pair_losses.extend(want_terms.iter().copied());
        anchor_losses.push(wl);
    }
    let (want_loss, over_anchors) = match reduction {
        MultiPositive::Supcon => (mean(&anchor_losses), None),
        MultiPositive::Pairwise => (mean(&pair_losses), Some(mean(&anchor_losses))),
    };
    let lscale = 1.0 + want.iter().map(|w| w.scale).fold(0.0, f64::max);
    assert!(
        (s.loss - want_loss).abs() <= tol * lscale,
        "{what}: loss {} vs {want_loss}",
        s.loss
    );
    assert_eq!(s.n_positive_pairs, Some(pair_losses.len()), "{what}");
    match (s.loss_mean_over_anchors, over_anchors) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= tol * lscale,
            "{what}: over anchors {g} vs {w}"
        ),
        (g, w) => assert_eq!(g.is_some(), w.is_some(), "{what}: loss_mean_over_anchors"),
    }
    let top1 = want.iter().filter(|w| w.rank.0 == 1).count();
    let top1_hi = want
        .iter()
        .filter(|w| w.rank.1 >= 1 && w.rank.0 <= 1)
        .count();
    let got_top1 = (s.top1_accuracy * want.len() as f64).round() as usize;
    assert!((top1..=top1_hi).contains(&got_top1), "{what}: top-1");
    // The metrics read the best positive's rank: MRR within the bounds the
    // reference's rank bounds give.
    let mrr_lo = mean(
        &want
            .iter()
            .map(|w| 1.0 / w.rank.1 as f64)
            .collect::<Vec<_>>(),
    );
    let mrr_hi = mean(
        &want
            .iter()
            .map(|w| 1.0 / w.rank.0 as f64)
            .collect::<Vec<_>>(),
    );
    let mrr = s.metrics.mrr;
    assert!(
        mrr >= mrr_lo - 1e-12 && mrr <= mrr_hi + 1e-12,
        "{what}: MRR {mrr} outside [{mrr_lo}, {mrr_hi}]"
    );
}

/// Random labels in 0..k with at least one pair and two labels; rows near
/// their label's centre, so that positives tend to rank high.
fn data(seed: u64, n: usize, d: usize, k: usize) -> (Rows, Vec<i64>) {
    let mut rng = Rng(seed);
    let centres = rng.rows(k, d);
    let mut labels: Vec<i64> = (0..n).map(|_| rng.below(k) as i64).collect();
    labels[0] = 0;
    labels[1] = 0;
    labels[2] = 1;
    let rows = labels
        .iter()
        .map(|&l| {
            centres[l as usize]
                .iter()
                .map(|c| c + 0.7 * rng.uniform())
                .collect()
        })
        .collect();
    (rows, labels)
}

fn config() -> Config {
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x001A_BE15),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn labels_f64_match_the_reference(seed in any::<u64>(), n in 3usize..40, d in 1usize..8, k in 2usize..7, block in 1usize..12, tau in 0.03f64..2.0, dot in any::<bool>(), pairwise in any::<bool>(), threads in 1usize..4) {
        let (rows, labels) = data(seed, n, d, k);
        let s = if dot { Similarity::Dot } else { Similarity::Cosine };
        let red = if pairwise { MultiPositive::Pairwise } else { MultiPositive::Supcon };
        let (got, terms) = report(&embeddings_f64(&rows), &labels, red, s, tau, block, threads);
        let want = labels_reference(&rows, &labels, s, tau);
        check(&got, &terms, &want, n, red, 1e-12, "labels f64");
    }

    /// float32 products: the tile logits are within about d 2^-24 / tau of
    /// the exact ones; everything the records report is recomputed in
    /// float64 but the running sums.
    #[test]
    fn labels_f32_match_the_reference(seed in any::<u64>(), n in 3usize..40, d in 1usize..8, k in 2usize..7, block in 1usize..12, tau in 0.05f64..2.0, pairwise in any::<bool>()) {
        let (rows, labels) = data(seed, n, d, k);
        let rows: Rows = rows.iter().map(|r| r.iter().map(|&x| x as f32 as f64).collect()).collect();
        let red = if pairwise { MultiPositive::Pairwise } else { MultiPositive::Supcon };
        let (got, terms) = report(&embeddings_f32(&rows), &labels, red, Similarity::Cosine, tau, block, 2);
        let want = labels_reference(&rows, &labels, Similarity::Cosine, tau);
        let tol = 4.0 * (d as f64 + 4.0) * 2f64.powi(-24) / tau + 1e-6;
        check(&got, &terms, &want, n, red, tol, "labels f32");
    }

    #[test]
    fn labels_f16_match_the_reference(seed in any::<u64>(), n in 3usize..30, d in 1usize..8, k in 2usize..5, tau in 0.05f64..2.0, pairwise in any::<bool>()) {
        let (rows, labels) = data(seed, n, d, k);
        let rows: Rows = rows.iter().map(|r| r.iter().map(|&x| f64::from(half::f16::from_f64(x))).collect()).collect();
        let red = if pairwise { MultiPositive::Pairwise } else { MultiPositive::Supcon };
        let (got, terms) = report(&embeddings_f16(&rows), &labels, red, Similarity::Dot, tau, 5, 1);
        let want = labels_reference(&rows, &labels, Similarity::Dot, tau);
        let size = rows.iter().map(|r| r.iter().map(|x| x * x).sum::<f64>()).fold(0.0, f64::max);
        let tol = 4.0 * (d as f64 + 4.0) * 2f64.powi(-24) * size / tau + 1e-6;
        check(&got, &terms, &want, n, red, tol, "labels f16");
    }
}

/// Two labels of one row each and a pair: supcon and pairwise agree where
/// every anchor has one positive, and equal the pairs layout's records.
#[test]
fn one_positive_each_is_the_pairs_layout() {
    let (rows, _) = data(7, 6, 3, 2);
    let labels = [0, 1, 0, 2, 2, 1];
    let e = embeddings_f64(&rows);
    let (sup, _) = report(
        &e,
        &labels,
        MultiPositive::Supcon,
        Similarity::Cosine,
        0.2,
        4,
        1,
    );
    let (pair, _) = report(
        &e,
        &labels,
        MultiPositive::Pairwise,
        Similarity::Cosine,
        0.2,
        4,
        1,
    );
    let pairs = infonce::input::index::Pairs::from_pairs(
        "p",
        [(0, 2), (1, 5), (2, 0), (3, 4), (4, 3), (5, 1)]
            .iter()
            .map(|&(a, b)| infonce::input::index::IndexPair { a, b })
            .collect(),
    );
    let layout = Layout::pairs("mem.npy", 6, &pairs, false).unwrap();
    let settings = Settings {
        tau: 0.2,
        similarity: Similarity::Cosine,
        block: 4,
        portable: false,
    };
    let stats = Core::new(&layout, &e, None, settings).unwrap().run(&|_| {});
    for (k, st) in stats.iter().enumerate() {
        let f = st.finish();
        assert_eq!(sup.records[k].loss, f.loss, "record {k}");
        assert_eq!(pair.records[k].loss, f.loss, "record {k}");
        assert_eq!(sup.records[k].log_denominator, f.log_denominator);
        assert_eq!(sup.records[k].rank, st.rank);
    }
    assert_eq!(sup.summary.loss, pair.summary.loss);
}

/// The label files a user writes, through the binary: text (strings and
/// integers), `.npy` (integers and numpy strings), a CSV column, each giving
/// the same report for the same grouping; `7` and `07` one label in a text
/// file of integers, two in a text file of strings.
#[test]
fn label_files_of_every_format_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (rows, labels) = data(11, 10, 3, 3);
    fs::write(p.join("e.npy"), f64_npy(&rows)).unwrap();
    let names = ["cat", "dog", "bird"];
    let text: String = labels
        .iter()
        .map(|&l| format!("{}\n", names[l as usize]))
        .collect();
    fs::write(p.join("l.txt"), &text).unwrap();
    let ints: String = labels.iter().map(|&l| format!("{l:02}\n")).collect();
    fs::write(p.join("i.txt"), &ints).unwrap();
    let i64s: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    fs::write(p.join("l.npy"), npy("<i8", false, &[labels.len()], &i64s)).unwrap();
    // numpy's '<U4': four UTF-32 code units per label, NUL-padded.
    let utf32: Vec<u8> = labels
        .iter()
        .flat_map(|&l| {
            let mut s: Vec<u32> = names[l as usize].chars().map(|c| c as u32).collect();
            s.resize(4, 0);
            s.into_iter().flat_map(u32::to_le_bytes)
        })
        .collect();
    fs::write(p.join("u.npy"), npy("<U4", false, &[labels.len()], &utf32)).unwrap();
    let csv: String = std::iter::once("id,label\n".to_string())
        .chain(
            labels
                .iter()
                .enumerate()
                .map(|(k, &l)| format!("{k},\"{}, x\"\n", names[l as usize])),
        )
        .collect();
    fs::write(p.join("l.csv"), csv).unwrap();
    let base = run_json(p, &["compute", "e.npy", "--labels", "l.txt"]);
    assert_eq!(base["layout"], "labels");
    for spec in ["i.txt", "l.npy", "u.npy", "l.csv:label"] {
        let r = run_json(p, &["compute", "e.npy", "--labels", spec]);
        assert_eq!(r["anchors"], base["anchors"], "{spec}");
        assert_eq!(r["loss"], base["loss"], "{spec}");
    }
    // The id column: every row its own label, no positive anywhere.
    let out = run(p, &["compute", "e.npy", "--labels", "l.csv:id"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    // The integer rule: 7 and 07 one label among integers, two among strings.
    let four = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]];
    let four: Vec<Vec<f64>> = four.iter().map(|r| r.to_vec()).collect();
    fs::write(p.join("f.npy"), f64_npy(&four)).unwrap();
    fs::write(p.join("n.txt"), "7\n07\n8\n8\n").unwrap();
    fs::write(p.join("s.txt"), "7\n07\nx\nx\n").unwrap();
    let n = run_json(p, &["compute", "f.npy", "--labels", "n.txt"]);
    assert_eq!(n["n_anchors"], 4);
    let s = run_json(p, &["compute", "f.npy", "--labels", "s.txt"]);
    assert_eq!(s["n_anchors"], 2);
    assert_eq!(s["skipped_anchors"], serde_json::json!([0, 1]));
}

/// Every output format carries the labels records: CSV with the positives as
/// one cell and the terms with each positive marked, NDJSON with the
/// positive terms, the table readable.
#[test]
fn labels_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (rows, labels) = data(5, 8, 3, 2);
    fs::write(p.join("e.npy"), f64_npy(&rows)).unwrap();
    let text: String = labels.iter().map(|l| format!("{l}\n")).collect();
    fs::write(p.join("l.txt"), text).unwrap();
    let json = run_json(p, &["compute", "e.npy", "--labels", "l.txt"]);
    let first = &json["anchors"][0];
    let positives: Vec<String> = first["positives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();

    let out = run(p, &["compute", "e.npy", "--labels", "l.txt", "-f", "csv"]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "positives")
        .expect("positives column");
    assert!(!header.contains(&"positive_terms"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[col], positives.join(" "));

    let out = run(
        p,
        &[
            "compute", "e.npy", "--labels", "l.txt", "-f", "csv", "--terms", "--anchor", "0",
        ],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (i, pos) = (
        header.iter().position(|h| *h == "index").unwrap(),
        header.iter().position(|h| *h == "is_positive").unwrap(),
    );
    let marked: Vec<String> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[pos] == "true")
        .map(|c| c[i].to_string())
        .collect();
    assert_eq!(marked, positives);

    let out = run(
        p,
        &["compute", "e.npy", "--labels", "l.txt", "-f", "ndjson"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rec: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(rec["positive_terms"], first["positive_terms"]);
    let totals: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(totals["multi_positive"], "supcon");

    let out = run(p, &["compute", "e.npy", "--labels", "l.txt"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("positives"), "{table}");
}

/// A labels file whose pairs exceed the pass's limit is refused before any
/// work, naming the count and the limit.
#[test]
fn too_many_positive_pairs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let n = 4100;
    let rows: Vec<Vec<f64>> = (0..n).map(|k| vec![1.0, k as f64]).collect();
    fs::write(p.join("e.npy"), f64_npy(&rows)).unwrap();
    let text: String = (0..n).map(|k| format!("{}\n", k % 2)).collect();
    fs::write(p.join("l.txt"), text).unwrap();
    let out = run(p, &["compute", "e.npy", "--labels", "l.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: l.txt: makes 8400900 positive pairs (each row with every other row of its \
         label), more than the 8388608 one pass holds; use fewer rows or finer labels\n"
    );
}

proptest! {
    #![proptest_config(Config { cases: 256, ..config() })]

    /// Any bytes as a labels file, raw or behind an `.npy` header of any
    /// dtype and shape: labels or a one-line error, never a panic.
    #[test]
    fn hostile_label_files_are_errors_not_panics(
        descr in prop::sample::select(vec!["<i8", "|u1", ">i4", "<f8", "<U3", ">U2", "<U0", "|O", "<c8"]),
        shape in prop::collection::vec(0usize..6, 0..3),
        data in prop::collection::vec(any::<u8>(), 0..120),
        raw in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if raw { "l.txt" } else { "l.npy" });
        let bytes = if raw { data } else { npy(descr, false, &shape, &data) };
        fs::write(&path, bytes).unwrap();
        let path = path.to_string_lossy().into_owned();
        match infonce::input::labels::load_labels(&path) {
            Ok(l) => prop_assert!(!l.classes.is_empty()),
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
}

/// Extra negatives (`--negatives`, shared 2-D or per anchor 3-D) are
/// candidates of every anchor beside the other rows and never positives:
/// SupCon's denominator and the pairwise negatives both gain them. Checked
/// against the reference with the same extra rows, through the binary, in
/// JSON and in CSV terms (where no negative is marked a positive).
#[test]
fn labels_with_extra_negatives_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (rows, labels) = data(11, 12, 5, 3);
    let n = rows.len();
    let mut rng = Rng(12);
    let shared = rng.rows(6, 5);
    let per = rng.rows(n * 3, 5);
    fs::write(p.join("e.npy"), f64_npy(&rows)).unwrap();
    fs::write(p.join("shared.npy"), f64_npy(&shared)).unwrap();
    let bytes: Vec<u8> = per.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    fs::write(p.join("per.npy"), npy("<f8", false, &[n, 3, 5], &bytes)).unwrap();
    let text: String = labels.iter().map(|l| format!("{l}\n")).collect();
    fs::write(p.join("l.txt"), text).unwrap();
    let tau = 0.2;
    for (file, m, kind) in [("shared.npy", 6, "shared"), ("per.npy", 3, "per-anchor")] {
        let negatives = |a: usize| -> &[Vec<f64>] {
            if m == 6 {
                &shared
            } else {
                &per[a * 3..(a + 1) * 3]
            }
        };
        for (s, sim) in [(Similarity::Cosine, "cosine"), (Similarity::Dot, "dot")] {
            let want = common::labels_reference_with(&rows, &labels, negatives, s, tau);
            for (reduction, name) in [
                (MultiPositive::Supcon, "supcon"),
                (MultiPositive::Pairwise, "pairwise"),
            ] {
                let what = format!("{file} {sim} {name}");
                let json = run_json(
                    p,
                    &[
                        "compute",
                        "e.npy",
                        "--labels",
                        "l.txt",
                        "--negatives",
                        file,
                        "--multi-positive",
                        name,
                        "--sim",
                        sim,
                        "--tau",
                        "0.2",
                    ],
                );
                let totals = &json;
                assert_eq!(totals["negatives"], kind, "{what}");
                assert_eq!(totals["n_negatives"], m, "{what}");
                assert_eq!(totals["n_candidates"], n - 1 + m, "{what}");
                let got = json["anchors"].as_array().unwrap();
                assert_eq!(got.len(), want.len(), "{what}");
                let mut pair_losses = Vec::new();
                let mut anchor_losses = Vec::new();
                for (r, w) in got.iter().zip(&want) {
                    let at = format!("{what}: anchor {}", w.anchor);
                    assert_eq!(r["anchor"], w.anchor, "{at}");
                    let tol = 1e-12 * (1.0 + w.scale);
                    let ld = r["log_denominator"].as_f64().unwrap();
                    assert!(
                        (ld - w.log_denominator).abs() <= tol,
                        "{at}: {ld} vs {}",
                        w.log_denominator
                    );
                    let want_terms = match reduction {
                        MultiPositive::Supcon => &w.supcon,
                        MultiPositive::Pairwise => &w.pairwise,
                    };
                    let pt = r["positive_terms"].as_array().unwrap();
                    assert_eq!(pt.len(), w.positives.len(), "{at}");
                    for ((t, &q), &wl) in pt.iter().zip(&w.positives).zip(want_terms) {
                        assert_eq!(t["index"], q, "{at}");
                        let l = t["loss"].as_f64().unwrap();
                        assert!((l - wl).abs() <= tol, "{at}: positive {q}: {l} vs {wl}");
                        pair_losses.push(wl);
                    }
                    let al = mean(want_terms);
                    let l = r["loss"].as_f64().unwrap();
                    assert!((l - al).abs() <= tol, "{at}: loss {l} vs {al}");
                    anchor_losses.push(al);
                    let rank = r["rank"].as_u64().unwrap();
                    assert!(w.rank.0 <= rank && rank <= w.rank.1, "{at}: rank {rank}");
                }
                let loss = match reduction {
                    MultiPositive::Supcon => mean(&anchor_losses),
                    MultiPositive::Pairwise => mean(&pair_losses),
                };
                let got = totals["loss"].as_f64().unwrap();
                assert!(
                    (got - loss).abs() <= 1e-11 * (1.0 + loss.abs()),
                    "{what}: {got} vs {loss}"
                );
            }
        }
        // The terms of anchor 0 in CSV: its positives marked, no negative.
        let out = run(
            p,
            &[
                "compute",
                "e.npy",
                "--labels",
                "l.txt",
                "--negatives",
                file,
                "-f",
                "csv",
                "--terms",
                "--anchor",
                "0",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = String::from_utf8(out.stdout).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (i, from, pos) = (col("index"), col("from"), col("is_positive"));
        let cells: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(cells.len(), n - 1 + m, "{file}");
        let marked: Vec<usize> = cells
            .iter()
            .filter(|c| c[pos] == "true")
            .map(|c| {
                assert_eq!(c[from], "candidates", "{file}: a negative marked positive");
                c[i].parse().unwrap()
            })
            .collect();
        let want =
            common::labels_reference_with(&rows, &labels, negatives, Similarity::Cosine, tau);
        let a0 = want
            .iter()
            .find(|w| w.anchor == 0)
            .expect("anchor 0 has a positive");
        assert_eq!(marked, a0.positives, "{file}");
        assert_eq!(
            cells.iter().filter(|c| c[from] == "negatives").count(),
            m,
            "{file}"
        );
    }
}

/// `--no-in-batch` and `--decoupled` name losses of one positive per anchor:
/// with `--labels` they are refused as usage errors.
#[test]
fn labels_refuse_no_in_batch_and_decoupled() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (rows, labels) = data(13, 8, 3, 2);
    fs::write(p.join("e.npy"), f64_npy(&rows)).unwrap();
    fs::write(p.join("n.npy"), f64_npy(&rows)).unwrap();
    let text: String = labels.iter().map(|l| format!("{l}\n")).collect();
    fs::write(p.join("l.txt"), text).unwrap();
    for flag in ["--no-in-batch", "--decoupled"] {
        let out = run(
            p,
            &[
                "compute",
                "e.npy",
                "--labels",
                "l.txt",
                "--negatives",
                "n.npy",
                flag,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(out.stdout.is_empty(), "{flag}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{flag} cannot be used with --labels")),
            "{err}"
        );
    }
}
