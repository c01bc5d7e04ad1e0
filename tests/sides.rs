//! The core's candidate sides beyond the layouts' own: a file of extra
//! negatives shared by every anchor, and negatives given per anchor (a block
//! of rows each), against the naive float64 reference in
//! `common/reference.rs`: each record's candidates are its layout's plus the
//! negatives it sees, listed after them. Tile sizes cross every tile edge,
//! and anchors with several positives (repeated anchors of a pairs file) are
//! included. Every listed term (index and value) is checked too.

mod common;

use common::{
    Expected, Rng, Rows, check_terms, embeddings_f32, embeddings_f64, pairs, record_where,
    reference,
};
use infonce::input::Embeddings;
use infonce::layout::Layout;
use infonce::loss::{Core, Negatives, RecordStats, Settings, Similarity, Term, TermFrom};

/// Which negatives a case adds.
#[derive(Clone, Copy, Debug)]
enum Extra {
    Shared,
    PerAnchor(usize),
}

/// The reference of every record: the layout's candidates, then the
/// negatives the record's anchor sees (forward records only).
fn expected(
    layout: &Layout,
    first: &Rows,
    second: Option<&Rows>,
    neg: &Rows,
    extra: Extra,
    s: Similarity,
    tau: f64,
) -> Vec<Expected> {
    let plain = reference(layout, first, second.map(|k| &k[..]), s, tau);
    layout
        .records
        .iter()
        .zip(plain)
        .map(|(r, plain)| {
            if r.backward {
                return plain;
            }
            let main = second.unwrap_or(first);
            let n = main.len();
            let mut cands = main.clone();
            cands.extend(neg.iter().cloned());
            let one_file = second.is_none();
            let seen = |k: usize| {
                if k < n {
                    !(one_file && k == r.anchor)
                } else {
                    match extra {
                        Extra::Shared => true,
                        Extra::PerAnchor(m) => {
                            (r.anchor * m..(r.anchor + 1) * m).contains(&(k - n))
                        }
                    }
                }
            };
            Expected {
                anchor: r.anchor,
                ..record_where(&first[r.anchor], &cands, seen, r.positive, s, tau)
            }
        })
        .collect()
}

/// Runs the core with the negatives; returns the findings and the terms of
/// every record.
#[allow(clippy::too_many_arguments)]
fn run(
    layout: &Layout,
    a: &Embeddings,
    b: Option<&Embeddings>,
    neg: &Embeddings,
    extra: Extra,
    s: Similarity,
    tau: f64,
    block: usize,
    portable: bool,
) -> (Vec<RecordStats>, Vec<Vec<Term>>, u64) {
    let settings = Settings {
        tau,
        similarity: s,
        block,
        portable,
    };
    let negatives = match extra {
        Extra::Shared => Negatives::Shared,
        Extra::PerAnchor(m) => Negatives::PerAnchor(m),
    };
    let core = Core::new(layout, a, b, settings)
        .unwrap()
        .with_negatives(neg, negatives)
        .unwrap();
    let ticks = std::sync::atomic::AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let stats = pool.install(|| {
        core.run(&|n| {
            ticks.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
    });
    assert_eq!(
        ticks.into_inner(),
        core.tile_count(),
        "progress ticks once per tile"
    );
    let all: Vec<usize> = (0..layout.records.len()).collect();
    let mut terms = Vec::new();
    // The reference numbers the negatives on past the main side's rows; the
    // core indexes them within their own file (the anchor's block, per
    // anchor) and marks them.
    let n_main = b.map_or(a.rows(), Embeddings::rows);
    core.terms::<()>(&all, &mut |k, t| {
        let first = match extra {
            Extra::Shared => 0,
            Extra::PerAnchor(m) => layout.records[k].anchor * m,
        };
        terms.push(
            t.iter()
                .map(|t| match t.from {
                    Some(TermFrom::Negatives) => Term {
                        index: n_main + first + t.index,
                        ..*t
                    },
                    _ => *t,
                })
                .collect(),
        );
        Ok(())
    })
    .unwrap();
    (stats, terms, core.tile_count())
}

/// Each record's findings against the reference: log-space figures within
/// `tol` (relative to their size), the rank within the reference's bounds.
fn check(got: &[RecordStats], want: &[Expected], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: record count");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let f = g.finish();
        let scale = 1.0 + w.log_denominator.abs();
        assert!(
            (f.log_denominator - w.log_denominator).abs() <= tol * scale,
            "{what}: record {k}: log_denominator {} vs {}",
            f.log_denominator,
            w.log_denominator
        );
        assert!(
            (g.logit - w.logit).abs() <= tol * (1.0 + w.logit.abs()),
            "{what}: record {k}: logit {} vs {}",
            g.logit,
            w.logit
        );
        assert!(
            (f.loss - w.loss).abs() <= 2.0 * tol * scale * w.loss.clamp(f64::MIN_POSITIVE, 1.0),
            "{what}: record {k}: loss {} vs {}",
            f.loss,
            w.loss
        );
        assert!(
            (w.rank.0..=w.rank.1).contains(&g.rank),
            "{what}: record {k}: rank {} outside the reference's {:?}",
            g.rank,
            w.rank
        );
    }
}

#[test]
fn extra_negatives_match_the_reference_in_every_layout() {
    let mut rng = Rng(0x51DE_5EED);
    let mut cases = 0;
    for layout_kind in 0..4 {
        for extra in [Extra::Shared, Extra::PerAnchor(1), Extra::PerAnchor(5)] {
            for (block, dot) in [(1, false), (4, true), (7, false), (256, true)] {
                let (n, d) = (9, 6);
                let rows = rng.two_view(n, d, 0.4);
                let (q, k) = rows.split_at(n);
                let (q, k): (Rows, Rows) = (q.to_vec(), k.to_vec());
                let (layout, first, second) = match layout_kind {
                    0 => (Layout::two_view("e", 2 * n).unwrap(), rows.clone(), None),
                    1 => {
                        let p = pairs(&mut rng, 2 * n, 14);
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
                let n_neg = match extra {
                    Extra::Shared => 11,
                    Extra::PerAnchor(m) => anchors * m,
                };
                let mut neg = rng.rows(n_neg, d);
                // An exact copy of the first record's positive among the
                // negatives it sees: a tie, which never outranks the positive.
                let r0 = layout.records[0];
                let copy = match extra {
                    Extra::Shared => 0,
                    Extra::PerAnchor(m) => r0.anchor * m,
                };
                neg[copy] = second.as_ref().unwrap_or(&first)[r0.positive].clone();
                let s = if dot {
                    Similarity::Dot
                } else {
                    Similarity::Cosine
                };
                let tau = 0.1;
                let want = expected(&layout, &first, second.as_ref(), &neg, extra, s, tau);
                let what = format!("layout {layout_kind}, {extra:?}, block {block}, {s:?}");

                // float64: every digit but the last few.
                let (a, b) = (embeddings_f64(&first), second.as_ref().map(embeddings_f64));
                let (stats, terms, _) = run(
                    &layout,
                    &a,
                    b.as_ref(),
                    &embeddings_f64(&neg),
                    extra,
                    s,
                    tau,
                    block,
                    false,
                );
                check(&stats, &want, 1e-12, &format!("{what}, f64"));
                check_terms(&stats, &terms, &want, d, tau, f64::EPSILON / 2.0, &what)
                    .unwrap_or_else(|e| panic!("{e}"));

                // float32 products, hand-vectorized and portable: within the
                // float32 rounding of each logit.
                let as_f32 = |r: &Rows| -> Rows {
                    r.iter()
                        .map(|x| x.iter().map(|&v| v as f32 as f64).collect())
                        .collect()
                };
                let (first32, neg32) = (as_f32(&first), as_f32(&neg));
                let second32 = second.as_ref().map(as_f32);
                let want32 = expected(&layout, &first32, second32.as_ref(), &neg32, extra, s, tau);
                let size = if dot { 6.0 } else { 1.0 };
                let tol = 4.0 * (d as f64 + 4.0) * 6e-8 * size / tau;
                for portable in [false, true] {
                    let (stats, _, _) = run(
                        &layout,
                        &embeddings_f32(&first32),
                        second32.as_ref().map(embeddings_f32).as_ref(),
                        &embeddings_f32(&neg32),
                        extra,
                        s,
                        tau,
                        block,
                        portable,
                    );
                    check(
                        &stats,
                        &want32,
                        tol,
                        &format!("{what}, f32, portable {portable}"),
                    );
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 48);
}

/// The negatives change the numbers: without them the same records give
/// other denominators (the test above would pass vacuously otherwise).
#[test]
fn negatives_enter_the_denominator() {
    let rows = Rng(3).two_view(4, 5, 0.3);
    let neg = Rng(4).rows(6, 5);
    let layout = Layout::two_view("e", 8).unwrap();
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 3,
        portable: false,
    };
    let (a, n) = (embeddings_f64(&rows), embeddings_f64(&neg));
    let plain = Core::new(&layout, &a, None, settings).unwrap().run(&|_| {});
    let with = Core::new(&layout, &a, None, settings)
        .unwrap()
        .with_negatives(&n, Negatives::Shared)
        .unwrap()
        .run(&|_| {});
    for (p, w) in plain.iter().zip(&with) {
        assert_eq!(p.logit, w.logit);
        assert!(w.log_others > p.log_others, "{w:?} vs {p:?}");
    }
}

#[test]
fn negatives_that_do_not_fit_are_refused() {
    let rows = Rng(5).two_view(3, 4, 0.3);
    let layout = Layout::two_view("e", 6).unwrap();
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 256,
        portable: false,
    };
    let a = embeddings_f64(&rows);
    let core = || Core::new(&layout, &a, None, settings).unwrap();
    let mut wide = embeddings_f64(&Rng(6).rows(4, 5));
    wide.name = "n.npy".into();
    let e = core()
        .with_negatives(&wide, Negatives::Shared)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "n.npy: has dimension 5 but the anchors have dimension 4"
    );
    let mut short = embeddings_f64(&Rng(6).rows(10, 4));
    short.name = "n.npy".into();
    let e = core()
        .with_negatives(&short, Negatives::PerAnchor(2))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "n.npy: has 10 rows, but 6 anchors with 2 negatives each need 12"
    );
    let mut other = embeddings_f32(&Rng(6).rows(4, 4));
    other.name = "n.npy".into();
    let e = core()
        .with_negatives(&other, Negatives::Shared)
        .err()
        .unwrap();
    assert!(
        e.to_string().starts_with("n.npy: holds float32 values"),
        "{e}"
    );
}
