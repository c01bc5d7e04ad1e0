//! The totals' `metrics`, `--fail-above` and `--plot`, through the binary.
//!
//! The metrics are checked against figures computed here from the same rows:
//! ranks by counting the candidates whose similarity beats the positive's
//! (the naive reference of `common/`, which also gives each loss and the
//! candidates' count), top-k and MRR from those ranks, the alignment from
//! the rows' own cosines, the uniformity from the rows' pairwise distances.
//! Nothing of the crate's arithmetic is used.

mod common;
mod support;

use std::fs;
use std::path::Path;

use common::{Expected, Rng, Rows, reference, similarity};
use infonce::input::index::{IndexPair, Pairs};
use infonce::layout::{Layout, LayoutKind};
use infonce::loss::Similarity;
use serde_json::Value;
use support::{f64_npy, run, run_json};

/// A record as the reference found it, with its anchor's and positive's rows.
type Found<'a> = (&'a Expected, &'a [f64], &'a [f64]);

/// The metrics of some records, by their definitions.
fn expected_metrics(records: &[Found], ks: &[u64]) -> Value {
    let n = records.len() as f64;
    let rank = |e: &Expected| {
        assert_eq!(e.rank.0, e.rank.1, "a tie within rounding: pick other data");
        e.rank.0
    };
    let mean = |f: &dyn Fn(&Found) -> f64| records.iter().map(f).sum::<f64>() / n;
    let top_k: Vec<Value> = ks
        .iter()
        .map(|&k| {
            let hits = records.iter().filter(|r| rank(r.0) <= k).count();
            serde_json::json!({"k": k, "accuracy": hits as f64 / n})
        })
        .collect();
    serde_json::json!({
        "top_k": top_k,
        "mrr": mean(&|r| 1.0 / rank(r.0) as f64),
        "mean_rank": mean(&|r| rank(r.0) as f64),
        "cpc_bound_nats": mean(&|r| (r.0.terms.len() as f64).ln()) - mean(&|r| r.0.loss),
        "alignment": mean(&|r| {
            let cos = similarity(r.1, r.2, Similarity::Cosine);
            2.0 - 2.0 * cos
        }),
    })
}

/// Wang & Isola's uniformity of one group of rows, by its definition: the
/// log of the mean over pairs i < j of exp(-2 |x_i - x_j|^2) on the
/// normalised rows.
fn uniformity_of(rows: &[Vec<f64>]) -> f64 {
    let unit: Rows = rows
        .iter()
        .map(|r| {
            let n = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            r.iter().map(|x| x / n).collect()
        })
        .collect();
    let (mut sum, mut n) = (0.0, 0.0);
    for i in 0..unit.len() {
        for j in i + 1..unit.len() {
            let d2: f64 = unit[i]
                .iter()
                .zip(&unit[j])
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            sum += (-2.0 * d2).exp();
            n += 1.0;
        }
    }
    (sum / n).ln()
}

/// The uniformity of the totals: the mean of the two views' (two-view
/// layout) or of the queries' and keys' (keys layout), else of all rows.
fn uniformity(layout: &Layout, first: &Rows, second: Option<&Rows>) -> f64 {
    match (second, layout.kind) {
        (Some(keys), _) => (uniformity_of(first) + uniformity_of(keys)) / 2.0,
        (None, LayoutKind::TwoView) => {
            let (a, b) = first.split_at(first.len() / 2);
            (uniformity_of(a) + uniformity_of(b)) / 2.0
        }
        (None, _) => uniformity_of(first),
    }
}

/// `got` equals `want` within a relative 1e-12 (numbers) or exactly.
fn close(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) if w.is_f64() || g.is_f64() => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{at}: {g} vs {w}"
            );
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: lengths");
            for (k, (g, w)) in g.iter().zip(w).enumerate() {
                close(g, w, &format!("{at}[{k}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let keys = |m: &serde_json::Map<String, Value>| {
                let mut k: Vec<String> = m.keys().cloned().collect();
                k.sort();
                k
            };
            assert_eq!(keys(g), keys(w), "{at}: fields");
            for (k, w) in w {
                close(&g[k], w, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// Rows whose norms vary from 0.5 to 4, so that dot similarity and cosine
/// rank differently.
fn scaled(rng: &mut Rng, rows: Rows) -> Rows {
    rows.into_iter()
        .map(|r| {
            let s = 0.5 + 3.5 * rng.uniform().abs();
            r.into_iter().map(|x| x * s).collect()
        })
        .collect()
}

/// One file's worth of metrics checks: `args` after `compute`, the layout
/// the run uses, and the rows of its files.
fn check(
    dir: &Path,
    args: &[&str],
    layout: &Layout,
    first: &Rows,
    second: Option<&Rows>,
    sim: Similarity,
    ks: &[u64],
) {
    let v = run_json(dir, args);
    let want = reference(layout, first, second.map(|s| &s[..]), sim, 0.1);
    let rows_of = |k: usize| {
        let r = &layout.records[k];
        match (second, r.backward) {
            (None, _) => (&first[r.anchor][..], &first[r.positive][..]),
            (Some(keys), false) => (&first[r.anchor][..], &keys[r.positive][..]),
            (Some(keys), true) => (&keys[r.anchor][..], &first[r.positive][..]),
        }
    };
    let all: Vec<Found> = want
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let (a, p) = rows_of(k);
            (e, a, p)
        })
        .collect();
    // The totals' metrics also hold the uniformity of the rows; a
    // direction's do not.
    let mut totals = expected_metrics(&all, ks);
    totals["uniformity"] = uniformity(layout, first, second).into();
    close(&v["metrics"], &totals, &format!("{args:?} metrics"));
    // The older fields stay, and agree.
    assert_eq!(v["mean_rank"], v["metrics"]["mean_rank"]);
    if let Some(ds) = v["directions"].as_array() {
        assert_eq!(ds.len(), 2);
        for (d, backward) in ds.iter().zip([false, true]) {
            let of_d: Vec<_> = all
                .iter()
                .zip(&layout.records)
                .filter(|(_, r)| r.backward == backward)
                .map(|(e, _)| *e)
                .collect();
            close(
                &d["metrics"],
                &expected_metrics(&of_d, ks),
                &format!("{args:?} {}", d["direction"]),
            );
        }
    }
}

#[test]
fn metrics_match_ranks_losses_and_cosines_counted_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(0x6d65_7472_6963);
    // Two views of 12 items, noisy enough that some positives rank low.
    let views = rng.two_view(12, 6, 0.9);
    fs::write(d.join("v.npy"), f64_npy(&views)).unwrap();
    let two_view = Layout::two_view("v.npy", 24).unwrap();
    let ks = [1, 3, 30];
    let top = ["--top-k", "30,1,3"];
    for (sim, name) in [(Similarity::Cosine, "cosine"), (Similarity::Dot, "dot")] {
        let mut args = vec!["compute", "v.npy", "--sim", name];
        args.extend(top);
        check(d, &args, &two_view, &views, None, sim, &ks);
    }
    // Unnormalised rows under dot: the alignment still uses cosines.
    let base = rng.two_view(12, 6, 0.9);
    let wide = scaled(&mut rng, base);
    fs::write(d.join("w.npy"), f64_npy(&wide)).unwrap();
    let args = ["compute", "w.npy", "--sim", "dot", "--top-k", "1,3,30"];
    check(d, &args, &two_view, &wide, None, Similarity::Dot, &ks);

    // Pairs, both ways: an anchor of several pairs has several records.
    let rows = rng.rows(10, 5);
    fs::write(d.join("e.npy"), f64_npy(&rows)).unwrap();
    let pairs = [(0, 1), (0, 2), (3, 4), (5, 9), (8, 7), (6, 2)];
    let text: String = pairs.iter().map(|(a, b)| format!("{a},{b}\n")).collect();
    fs::write(d.join("p.csv"), text).unwrap();
    let index = Pairs::from_pairs(
        "p.csv",
        pairs.iter().map(|&(a, b)| IndexPair { a, b }).collect(),
    );
    let layout = Layout::pairs("e.npy", 10, &index, true).unwrap();
    let args = [
        "compute",
        "e.npy",
        "--pairs",
        "p.csv",
        "--symmetric",
        "--top-k",
        "1,3,30",
    ];
    check(d, &args, &layout, &rows, None, Similarity::Cosine, &ks);

    // Queries and keys, both ways, each direction's metrics its own.
    let base = rng.rows(9, 4);
    let queries = scaled(&mut rng, base);
    let keys: Rows = queries
        .iter()
        .map(|q| q.iter().map(|x| x + 0.8 * rng.uniform()).collect())
        .collect();
    fs::write(d.join("q.npy"), f64_npy(&queries)).unwrap();
    fs::write(d.join("k.npy"), f64_npy(&keys)).unwrap();
    let layout = Layout::keys("q.npy", 9, "k.npy", 9, true).unwrap();
    for (sim, name) in [(Similarity::Cosine, "cosine"), (Similarity::Dot, "dot")] {
        let args = [
            "compute",
            "q.npy",
            "--keys",
            "k.npy",
            "--symmetric",
            "--sim",
            name,
            "--top-k",
            "1,3,30",
            // The queries' and keys' own products: taken only when asked.
            "--uniformity",
        ];
        check(d, &args, &layout, &queries, Some(&keys), sim, &ks);
    }
}

#[test]
fn the_default_top_k_is_1_5_10_and_csv_flattens_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(17);
    fs::write(d.join("v.npy"), f64_npy(&rng.two_view(8, 4, 1.0))).unwrap();
    let v = run_json(d, &["compute", "v.npy"]);
    let ks: Vec<u64> = v["metrics"]["top_k"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["k"].as_u64().unwrap())
        .collect();
    assert_eq!(ks, [1, 5, 10]);
    assert_eq!(v["metrics"]["top_k"][0]["accuracy"], v["top1_accuracy"]);

    let out = run(d, &["compute", "v.npy", "--summary", "--format", "csv"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cell = |name: &str| {
        let k = head.iter().position(|h| *h == name).expect(name);
        row[k].parse::<f64>().unwrap()
    };
    let m = &v["metrics"];
    for (k, t) in [1, 5, 10].iter().zip(m["top_k"].as_array().unwrap()) {
        assert_eq!(cell(&format!("top{k}")), t["accuracy"].as_f64().unwrap());
    }
    for name in ["mrr", "cpc_bound_nats", "alignment"] {
        assert_eq!(cell(name), m[name].as_f64().unwrap(), "{name}");
    }
}

/// `compute e.npy ... --format json -o out.json` plus `extra`: its exit
/// code, stderr, and the file written.
fn gated(dir: &Path, extra: &[&str]) -> (Option<i32>, String, Value) {
    let mut args = vec!["compute", "v.npy", "--format", "json", "-o", "out.json"];
    args.extend(extra);
    let out = run(dir, &args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let text = fs::read_to_string(dir.join("out.json")).unwrap();
    fs::remove_file(dir.join("out.json")).unwrap();
    let v = serde_json::from_str(&text).expect("the whole result was written");
    (out.status.code(), stderr, v)
}

#[test]
fn fail_above_exits_3_after_writing_the_whole_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(5);
    fs::write(d.join("v.npy"), f64_npy(&rng.two_view(6, 4, 1.0))).unwrap();
    let (code, stderr, plain) = gated(d, &[]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let loss = plain["loss"].as_f64().unwrap();
    assert!(loss > 0.0);
    // The shortest form of the loss reads back to the same float64.
    let exact = loss.to_string();
    let below = (loss * 0.99).to_string();
    let above = (loss * 1.01).to_string();

    let (code, stderr, v) = gated(d, &["--fail-above", &below]);
    assert_eq!(code, Some(3));
    assert_eq!(
        stderr,
        format!("infonce: mean loss {loss} is above --fail-above {below}\n")
    );
    assert_eq!(v, plain, "the result is the same as without the gate");

    for x in [exact.as_str(), above.as_str(), "inf"] {
        let (code, stderr, v) = gated(d, &["--fail-above", x]);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "--fail-above {x}");
        assert_eq!(v, plain);
    }
    // --quiet keeps the code and drops the line.
    let (code, stderr, _) = gated(d, &["--fail-above=-inf", "-q"]);
    assert_eq!((code, stderr.as_str()), (Some(3), ""));

    // On standard output too, the whole document comes first.
    let out = run(
        d,
        &[
            "compute",
            "v.npy",
            "--format",
            "ndjson",
            "--fail-above",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "totals");
    assert_eq!(text.lines().count(), 13);
}

#[test]
fn the_plot_is_an_svg_histogram_with_its_marks_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(11);
    fs::write(d.join("v.npy"), f64_npy(&rng.two_view(50, 8, 1.2))).unwrap();
    let out = run(
        d,
        &[
            "compute", "v.npy", "--tau", "0.2", "--plot", "loss.svg", "-o", "r.json",
        ],
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let svg = fs::read_to_string(d.join("loss.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for label in [
        "Loss per anchor: v.npy, tau 0.2",
        "loss of the anchor (nats)",
        "anchors",
        "100 anchors",
        &format!(
            "mean loss {}",
            infonce::output::rounded(v["loss"].as_f64().unwrap(), 4)
        ),
        "chance: ln |C| = ln 99 = 4.595",
    ] {
        assert!(svg.contains(label), "the picture lacks {label:?}");
    }
    // Every element opened is closed: well-formed, as far as tags go.
    let opened = svg.matches("<text").count();
    assert_eq!(opened, svg.matches("</text>").count());
    assert!(opened >= 6);
    // The bars: one filled rectangle per non-empty bin, never more than
    // the anchors.
    let bars = svg.matches("<rect").count();
    assert!((2..=100).contains(&bars), "{bars} rectangles");
}

#[test]
#[cfg(target_os = "linux")]
fn a_failed_run_leaves_the_plot_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rows = Rng(3).two_view(4, 3, 0.5);
    fs::write(d.join("good.npy"), f64_npy(&rows)).unwrap();
    rows[2][1] = f64::NAN;
    fs::write(d.join("bad.npy"), f64_npy(&rows)).unwrap();
    fs::write(d.join("loss.svg"), "old picture").unwrap();
    // Bad data: found after the plot's destination was checked.
    let out = run(d, &["compute", "bad.npy", "--plot", "loss.svg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // An output refused before the work.
    let out = run(
        d,
        &[
            "compute", "good.npy", "--plot", "loss.svg", "-o", "good.npy",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // A result that fails as it is written: the picture, written after it,
    // is not.
    let out = run(
        d,
        &[
            "compute",
            "good.npy",
            "--plot",
            "loss.svg",
            "-o",
            "/dev/full",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: /dev/full: cannot write: no space left on device\n"
    );
    assert_eq!(
        fs::read_to_string(d.join("loss.svg")).unwrap(),
        "old picture"
    );
    let left: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // And a good run replaces it.
    let out = run(d, &["compute", "good.npy", "--plot", "loss.svg", "-q"]);
    assert!(out.status.success());
    assert!(
        fs::read_to_string(d.join("loss.svg"))
            .unwrap()
            .starts_with("<svg")
    );
}

#[test]
fn the_gate_holds_when_the_reader_closes_the_pipe_early() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("v.npy"), f64_npy(&Rng(9).two_view(200, 4, 1.0))).unwrap();
    // Far more terms than a pipe holds, to a reader that is already gone.
    let mut child = Command::new(env!("CARGO_BIN_EXE_infonce"))
        .current_dir(d)
        .args([
            "compute",
            "v.npy",
            "--terms",
            "--fail-above",
            "0",
            "--plot",
            "l.svg",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.starts_with("infonce: mean loss "), "{stderr}");
    assert!(
        fs::read_to_string(d.join("l.svg"))
            .unwrap()
            .starts_with("<svg")
    );
}

/// The `y` of the SVG `<text>` element whose content is `label`.
fn text_y(svg: &str, label: &str) -> f64 {
    let at = svg
        .find(&format!(">\n{label}\n</text>"))
        .unwrap_or_else(|| panic!("no text {label:?} in the picture"));
    let open = svg[..at].rfind("<text").expect("a text element");
    let y = &svg[open..at];
    let y = &y[y.find(" y=\"").expect("a y attribute") + 4..];
    y[..y.find('"').unwrap()].parse().expect("a number")
}

/// The centres and radii of the SVG's circles.
fn circles(svg: &str) -> Vec<(f64, f64)> {
    let attr = |tag: &str, name: &str| -> f64 {
        let a = &tag[tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3..];
        a[..a.find('"').unwrap()].parse().unwrap()
    };
    svg.match_indices("<circle")
        .map(|(i, _)| {
            let tag = &svg[i..i + svg[i..].find("/>").unwrap()];
            (attr(tag, "cy"), attr(tag, "r"))
        })
        .collect()
}

#[test]
fn the_legend_is_drawn_under_the_axes_never_over_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(5);
    fs::write(d.join("v.npy"), f64_npy(&rng.two_view(40, 8, 1.0))).unwrap();
    // The sweep: the curve rises to the upper right, where a legend in the
    // chart's corner would sit on it.
    let sweep = [
        "compute",
        "v.npy",
        "--tau",
        "0.05:0.8:5",
        "--plot",
        "s.svg",
        "-o",
        "s.json",
    ];
    let hist = ["compute", "v.npy", "--plot", "h.svg", "-o", "h.json"];
    for (args, picture, axis, entries) in [
        (
            &sweep[..],
            "s.svg",
            "tau (log scale)",
            &["5 temperatures in one pass"][..],
        ),
        (
            &hist[..],
            "h.svg",
            "loss of the anchor (nats)",
            &["80 anchors"][..],
        ),
    ] {
        let out = run(d, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let svg = fs::read_to_string(d.join(picture)).unwrap();
        let below = text_y(&svg, axis);
        for entry in entries {
            let y = text_y(&svg, entry);
            assert!(
                y > below,
                "{picture}: the legend entry {entry:?} at y {y} is not under the axis label at y {below}"
            );
            // Every point of the curve is above the legend.
            for (cy, r) in circles(&svg) {
                if cy > below {
                    continue; // the legend's own ring
                }
                assert!(
                    cy + r < y,
                    "{picture}: a point at y {cy} reaches the legend at y {y}"
                );
            }
        }
    }
}
