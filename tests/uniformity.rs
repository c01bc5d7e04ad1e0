//! Wang & Isola's uniformity, taken by the core in its tiled pass, against a
//! naive float64 implementation of the paper's formula on random inputs:
//! every layout (two-view, pairs, labels, keys, keys symmetric), with and
//! without extra negatives (which never enter it) and in-batch candidates,
//! float64, float32 and float16 rows, cosine and dot similarity, tiles of
//! several sizes, the portable and the AVX2 code, one thread and several
//! (the same bits). Then the degenerate groups (a view of one row), zero
//! rows under dot similarity, and the figure as each output format
//! carries it.

mod common;

use assert_cmd::Command;
use common::{Rng, Rows, embeddings_f16, embeddings_f32, embeddings_f64, pairs};
use infonce::input::Embeddings;
use infonce::input::labels::{LabelValues, Labels};
use infonce::layout::{Layout, MultiPositive};
use infonce::loss::{Core, Negatives, Settings, Similarity};

/// The paper's U of one group of rows: log of the mean over pairs i < j of
/// exp(-2 |x_i - x_j|^2), the rows L2-normalised (a zero row stays zero, as
/// torch's `F.normalize` leaves it); the squared distance summed
/// coordinate by coordinate.
fn naive_u(rows: &[Vec<f64>]) -> f64 {
    let unit: Rows = rows
        .iter()
        .map(|r| {
            let n = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            r.iter()
                .map(|x| if n == 0.0 { 0.0 } else { x / n })
                .collect()
        })
        .collect();
    let (mut sum, mut pairs) = (0.0, 0u64);
    for i in 0..unit.len() {
        for j in i + 1..unit.len() {
            let d2: f64 = unit[i]
                .iter()
                .zip(&unit[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            sum += (-2.0 * d2).exp();
            pairs += 1;
        }
    }
    (sum / pairs as f64).ln()
}

/// The mean of the groups' U (two views, or queries and keys), or U of all
/// rows.
fn naive(groups: &[&[Vec<f64>]]) -> f64 {
    groups.iter().map(|g| naive_u(g)).sum::<f64>() / groups.len() as f64
}

/// Values on a grid of 1/128, so that float16 holds them exactly.
fn grid(rows: Rows) -> Rows {
    rows.into_iter()
        .map(|r| r.into_iter().map(|x| (x * 128.0).round() / 128.0).collect())
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Precision {
    F64,
    F32,
    F16,
}

fn embeddings(rows: &Rows, p: Precision) -> Embeddings {
    match p {
        Precision::F64 => embeddings_f64(rows),
        Precision::F32 => embeddings_f32(rows),
        Precision::F16 => embeddings_f16(rows),
    }
}

/// The core's uniformity at one thread and at three (the same bits).
fn found(core: &Core<'_>, what: &str) -> Option<f64> {
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| core.findings(&[0.1], &|_| {}).uniformity)
    };
    let one = on(1);
    assert_eq!(one.map(f64::to_bits), on(3).map(f64::to_bits), "{what}");
    one
}

/// Within 1e-12 relative of the reference in float64, 1e-6 in float32
/// products (their rounding, about d 2^-24 per cosine, reaches U four
/// times over: well below 1e-6 at these sizes).
fn close(got: Option<f64>, want: f64, p: Precision, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: no uniformity"));
    let rel = match p {
        Precision::F64 => 1e-12,
        _ => 1e-6,
    };
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{what}: {got} against the reference {want}"
    );
}

#[test]
fn the_pass_gives_the_papers_uniformity_in_every_layout() {
    let mut rng = Rng(0x0_5EED_0011);
    let mut cases = 0;
    for (n, d, block) in [(9usize, 5usize, 4usize), (20, 7, 3), (13, 4, 64), (6, 3, 1)] {
        let rows = grid(rng.two_view(n, d, 0.5));
        let (q, k) = rows.split_at(n);
        let neg = grid(rng.rows(2 * n, d));
        let labels: Vec<i64> = (0..2 * n).map(|_| rng.below(n) as i64).collect();
        let ls = Labels::from_values("l.txt", &LabelValues::Ints(labels), true);
        let few_pairs = pairs(&mut rng, 2 * n, 3);
        // (name, layout, first file, keys, reference)
        let layouts: Vec<(&str, Layout, Rows, Option<Rows>, f64)> = vec![
            (
                "two-view",
                Layout::two_view("e", 2 * n).unwrap(),
                rows.clone(),
                None,
                naive(&[q, k]),
            ),
            (
                "pairs",
                Layout::pairs("e", 2 * n, &few_pairs, false).unwrap(),
                rows.clone(),
                None,
                naive(&[&rows]),
            ),
            (
                "pairs symmetric",
                Layout::pairs("e", 2 * n, &few_pairs, true).unwrap(),
                rows.clone(),
                None,
                naive(&[&rows]),
            ),
            (
                "labels",
                Layout::labels("e", 2 * n, &ls, MultiPositive::Supcon).unwrap(),
                rows.clone(),
                None,
                naive(&[&rows]),
            ),
            (
                "keys",
                Layout::keys("q", n, "k", n, false).unwrap(),
                q.to_vec(),
                Some(k.to_vec()),
                naive(&[q, k]),
            ),
            (
                "keys symmetric",
                Layout::keys("q", n, "k", n, true).unwrap(),
                q.to_vec(),
                Some(k.to_vec()),
                naive(&[q, k]),
            ),
        ];
        for (name, layout, first, second, want) in &layouts {
            for p in [Precision::F64, Precision::F32, Precision::F16] {
                let (a, b) = (
                    embeddings(first, p),
                    second.as_ref().map(|s| embeddings(s, p)),
                );
                let ne = embeddings(&neg[..first.len()].to_vec(), p);
                for similarity in [Similarity::Cosine, Similarity::Dot] {
                    for portable in [false, true] {
                        let settings = Settings {
                            tau: 0.1,
                            similarity,
                            block,
                            portable,
                        };
                        let what = format!(
                            "{name}, {n} items, d {d}, block {block}, {p:?}, {similarity:?}, \
                             portable {portable}"
                        );
                        // Asked for: the keys and pairs layouts take it from
                        // products of its own where needed.
                        let core = Core::new(layout, &a, b.as_ref(), settings)
                            .unwrap()
                            .with_uniformity(true);
                        let plain = found(&core, &what);
                        close(plain, *want, p, &what);
                        // Extra negatives do not enter it: the same bits.
                        let with_neg = Core::new(layout, &a, b.as_ref(), settings)
                            .unwrap()
                            .with_negatives(&ne, Negatives::Shared)
                            .unwrap()
                            .with_uniformity(true);
                        let got = found(&with_neg, &what);
                        assert_eq!(got.map(f64::to_bits), plain.map(f64::to_bits), "{what}");
                        // Without in-batch candidates the pass takes it from
                        // tiles of its own.
                        if !layout.records.iter().any(|r| r.backward) {
                            let alone = Core::new(layout, &a, b.as_ref(), settings)
                                .unwrap()
                                .with_negatives(&ne, Negatives::PerAnchor(1))
                                .unwrap()
                                .without_in_batch()
                                .unwrap()
                                .with_uniformity(true);
                            close(
                                found(&alone, &what),
                                *want,
                                p,
                                &format!("{what}, no in-batch"),
                            );
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 4 * 6 * 3 * 2 * 2);
}

#[test]
fn several_temperatures_share_one_uniformity() {
    let mut rng = Rng(0x0_5EED_0012);
    let rows = rng.two_view(17, 6, 0.3);
    let layout = Layout::two_view("e", 34).unwrap();
    let e = embeddings_f64(&rows);
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 5,
        portable: false,
    };
    let core = Core::new(&layout, &e, None, settings).unwrap();
    let one = core.findings(&[0.1], &|_| {});
    let many = core.findings(&[0.05, 0.1, 2.0], &|_| {});
    assert_eq!(
        one.uniformity.map(f64::to_bits),
        many.uniformity.map(f64::to_bits)
    );
    assert_eq!(one.stats[0], many.stats[1]);
    close(
        one.uniformity,
        naive(&[&rows[..17], &rows[17..]]),
        Precision::F64,
        "sweep",
    );
}

#[test]
fn a_group_of_one_row_has_no_uniformity() {
    let mut rng = Rng(0x0_5EED_0013);
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 4,
        portable: false,
    };
    // Two views of one item: no pair within a view.
    let rows = rng.two_view(1, 3, 0.3);
    let layout = Layout::two_view("e", 2).unwrap();
    let e = embeddings_f64(&rows);
    let core = Core::new(&layout, &e, None, settings).unwrap();
    assert_eq!(core.findings(&[0.1], &|_| {}).uniformity, None);
    // One query and one key.
    let layout = Layout::keys("q", 1, "k", 1, false).unwrap();
    let (q, k) = (
        embeddings_f64(&rows[..1].to_vec()),
        embeddings_f64(&rows[1..].to_vec()),
    );
    let core = Core::new(&layout, &q, Some(&k), settings)
        .unwrap()
        .with_uniformity(true);
    assert_eq!(core.findings(&[0.1], &|_| {}).uniformity, None);
}

/// Without `--uniformity` it is taken only where the loss's own tiles hold
/// its pairs, and no tile is added for it.
#[test]
fn unasked_the_uniformity_costs_no_product_of_its_own() {
    let mut rng = Rng(0x0_5EED_0015);
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 4,
        portable: false,
    };
    let n = 12;
    let rows = rng.two_view(n, 3, 0.3);
    let e = embeddings_f64(&rows);
    let tiles = |core: &Core<'_>| core.tile_count();
    let u = |core: &Core<'_>| core.findings(&[0.1], &|_| {}).uniformity;
    // Two-view: every block of rows holds anchors; free, always taken.
    let layout = Layout::two_view("e", 2 * n).unwrap();
    let core = Core::new(&layout, &e, None, settings).unwrap();
    let asked = Core::new(&layout, &e, None, settings)
        .unwrap()
        .with_uniformity(true);
    assert!(u(&core).is_some());
    assert_eq!(u(&core).map(f64::to_bits), u(&asked).map(f64::to_bits));
    assert_eq!(tiles(&core), tiles(&asked));
    // Keys: only when asked, and then with tiles of its own.
    let layout = Layout::keys("q", n, "k", n, false).unwrap();
    let (q, k) = (
        embeddings_f64(&rows[..n].to_vec()),
        embeddings_f64(&rows[n..].to_vec()),
    );
    let core = Core::new(&layout, &q, Some(&k), settings).unwrap();
    let asked = Core::new(&layout, &q, Some(&k), settings)
        .unwrap()
        .with_uniformity(true);
    assert_eq!(u(&core), None);
    assert!(u(&asked).is_some());
    assert!(tiles(&asked) > tiles(&core));
    // Pairs whose anchors all lie in the first block of 4 rows: the other
    // blocks' tiles hold no anchor, so only when asked.
    let pairs = infonce::input::index::Pairs::from_pairs(
        "p",
        [(0, 13), (1, 14), (2, 15)]
            .into_iter()
            .map(|(a, b)| infonce::input::index::IndexPair { a, b })
            .collect(),
    );
    let layout = Layout::pairs("e", 2 * n, &pairs, false).unwrap();
    let core = Core::new(&layout, &e, None, settings).unwrap();
    assert_eq!(u(&core), None);
    let asked = Core::new(&layout, &e, None, settings)
        .unwrap()
        .with_uniformity(true);
    assert!(u(&asked).is_some());
}

#[test]
fn zero_rows_under_dot_similarity_normalise_to_zero() {
    let mut rng = Rng(0x0_5EED_0014);
    let mut rows = rng.two_view(8, 4, 0.3);
    rows[2] = vec![0.0; 4];
    rows[5] = vec![0.0; 4];
    rows[11] = vec![0.0; 4];
    let layout = Layout::two_view("e", 16).unwrap();
    for block in [3, 16] {
        let settings = Settings {
            tau: 0.1,
            similarity: Similarity::Dot,
            block,
            portable: false,
        };
        let e = embeddings_f64(&rows);
        let core = Core::new(&layout, &e, None, settings).unwrap();
        let want = naive(&[&rows[..8], &rows[8..]]);
        close(found(&core, "zero rows"), want, Precision::F64, "zero rows");
    }
}

fn infonce(args: &[&str]) -> String {
    let out = Command::cargo_bin("infonce")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_format_carries_the_uniformity_of_the_totals() {
    let file = "fixtures/twoview_f32.npy";
    let json: serde_json::Value = serde_json::from_str(&infonce(&[
        "compute",
        file,
        "--format",
        "json",
        "--summary",
    ]))
    .unwrap();
    let u = json["metrics"]["uniformity"]
        .as_f64()
        .expect("metrics.uniformity");
    assert!((-8.0..0.0).contains(&u), "{u}");
    // NDJSON's totals line.
    let nd = infonce(&["compute", file, "--format", "ndjson"]);
    let totals: serde_json::Value = serde_json::from_str(nd.lines().last().unwrap()).unwrap();
    assert_eq!(totals["type"], "totals");
    assert_eq!(totals["metrics"]["uniformity"].as_f64(), Some(u));
    // CSV --summary: a column of its own.
    let csv = infonce(&["compute", file, "--format", "csv", "--summary"]);
    let mut lines = csv.lines();
    let (head, row) = (lines.next().unwrap(), lines.next().unwrap());
    let at = head
        .split(',')
        .position(|c| c == "uniformity")
        .expect("a column");
    assert_eq!(row.split(',').nth(at).unwrap().parse::<f64>().unwrap(), u);
    // The table: under the loss, with the other metrics.
    let table = infonce(&["compute", file]);
    let line = table
        .lines()
        .find(|l| l.contains("uniformity"))
        .expect("a line with the uniformity");
    assert!(line.contains("alignment"), "{line}");
    assert!(line.ends_with(&format!("uniformity {:.3}", u)), "{line}");
    // The keys layout: with --uniformity in the totals, and in no
    // direction's metrics; without it, nowhere (it would double the
    // products).
    let keys_args = [
        "compute",
        "fixtures/queries.npy",
        "--keys",
        "fixtures/keys.npy",
        "--symmetric",
        "--format",
        "json",
        "--summary",
    ];
    let plain: serde_json::Value = serde_json::from_str(&infonce(&keys_args)).unwrap();
    assert!(
        plain["metrics"].get("uniformity").is_none(),
        "{}",
        plain["metrics"]
    );
    let keys = infonce(&[&keys_args[..], &["--uniformity"]].concat());
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    assert!(keys["metrics"]["uniformity"].is_f64());
    for d in keys["directions"].as_array().unwrap() {
        assert!(d["metrics"].get("uniformity").is_none(), "{d}");
    }
}
