//! The fused tiled pass against the naive float64 reference in
//! `common/reference.rs`, over random inputs, tile sizes that cross every tile
//! edge, every layout and several thread counts; and every term `--terms`
//! lists (index and value) against the same reference, with the softmax
//! properties: each `p` in [0, 1], the `p` of a record summing to 1, and the
//! positive's `p` equal to the record's `p_positive` within the precision of
//! the pass.

mod common;

use common::{Rng, Rows, check_terms, embeddings_f16, embeddings_f32, embeddings_f64, reference};
use infonce::input::Embeddings;
use infonce::input::index::{IndexPair, Pairs};
use infonce::layout::Layout;
use infonce::loss::{Core, RecordStats, Settings, Similarity, Term};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn run(
    layout: &Layout,
    a: &Embeddings,
    b: Option<&Embeddings>,
    s: Similarity,
    tau: f64,
    block: usize,
    threads: usize,
) -> Vec<RecordStats> {
    run_with(layout, a, b, s, tau, block, threads, false)
}

/// [`run`], choosing between the hand-vectorized and the portable code.
#[allow(clippy::too_many_arguments)]
fn run_with(
    layout: &Layout,
    a: &Embeddings,
    b: Option<&Embeddings>,
    s: Similarity,
    tau: f64,
    block: usize,
    threads: usize,
    portable: bool,
) -> Vec<RecordStats> {
    let core = Core::new(
        layout,
        a,
        b,
        Settings {
            tau,
            similarity: s,
            block,
            portable,
        },
    )
    .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| core.run(&|_| {}))
}

/// Compares every record with the reference; `tol` bounds log-space error
/// relative to the size of the log-space values.
fn check(got: &[RecordStats], want: &[common::Expected], tol: f64, what: &str) {
    check_scaled(got, want, tol, true, what)
}

/// [`check`], with `tol` an absolute log-space bound unless `relative`.
fn check_scaled(
    got: &[RecordStats],
    want: &[common::Expected],
    tol: f64,
    relative: bool,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: record count");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let f = g.finish();
        let scale = if relative {
            1.0 + w.log_denominator.abs()
        } else {
            1.0
        };
        let err_den = (f.log_denominator - w.log_denominator).abs();
        let err_loss = (f.loss - w.loss).abs();
        let err_logit = (g.logit - w.logit).abs();
        assert!(
            err_den <= tol * scale
                && err_logit
                    <= if relative {
                        tol * (1.0 + w.logit.abs())
                    } else {
                        tol
                    },
            "{what}: record {k}: log_denominator {} vs {} (diff {err_den:e}), logit {} vs {} (diff {err_logit:e})",
            f.log_denominator,
            w.log_denominator,
            g.logit,
            w.logit
        );
        // Tiny losses are kept to their relative precision, large ones absolutely.
        assert!(
            err_loss <= 2.0 * tol * scale * w.loss.clamp(f64::MIN_POSITIVE, 1.0),
            "{what}: record {k}: loss {} vs {} (diff {err_loss:e})",
            f.loss,
            w.loss
        );
        assert!(
            f.loss.is_finite() && f.log_denominator.is_finite(),
            "{what}: record {k} not finite"
        );
        assert!(
            (w.rank.0..=w.rank.1).contains(&g.rank),
            "{what}: record {k}: rank {} outside the reference's {:?}",
            g.rank,
            w.rank
        );
    }
}

fn config() -> Config {
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x01AF_04CE),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// float64 input: every digit but the last few.
    #[test]
    fn two_view_f64_matches_reference(seed in any::<u64>(), n in 1usize..24, d in 1usize..9, block in 1usize..12, tau in 0.02f64..2.0, dot in any::<bool>(), threads in 1usize..4) {
        let rows = Rng(seed).two_view(n, d, 0.5);
        let s = if dot { Similarity::Dot } else { Similarity::Cosine };
        let layout = Layout::two_view("mem.npy", rows.len()).unwrap();
        let got = run(&layout, &embeddings_f64(&rows), None, s, tau, block, threads);
        check(&got, &reference(&layout, &rows, None, s, tau), 1e-12, "two-view f64");
    }

    /// float32 products: each logit within about d * 2^-24 / tau. Covers
    /// float32 exponentials (tau >= 0.025 under cosine), float64 ones with a
    /// fixed shift (smaller tau) and per-anchor shifts (dot), blocks that
    /// cross the packed kernel's 16-column panels and 6-row groups, and the
    /// portable code beside the hand-vectorized one.
    #[test]
    fn two_view_f32_matches_reference(seed in any::<u64>(), n in 1usize..40, d in 1usize..40, block in prop::sample::select(vec![1usize, 5, 6, 7, 15, 16, 17, 33, 256]), tau in prop::sample::select(vec![0.005, 0.02, 0.025, 0.1, 0.7]), dot in any::<bool>(), portable in any::<bool>()) {
        let rows: Rows = Rng(seed).two_view(n, d, 0.5).into_iter().map(|r| r.into_iter().map(|x| x as f32 as f64).collect()).collect();
        let s = if dot { Similarity::Dot } else { Similarity::Cosine };
        let layout = Layout::two_view("mem.npy", rows.len()).unwrap();
        let got = run_with(&layout, &embeddings_f32(&rows), None, s, tau, block, 2, portable);
        let want = reference(&layout, &rows, None, s, tau);
        // Dot logits scale with the rows' norms (about 1.5 at most here).
        let size = if dot { 2.5 } else { 1.0 };
        let tol = 4.0 * (d as f64 + 4.0) * 6e-8 * size / tau;
        check_scaled(&got, &want, tol, false, "two-view f32");
    }

    /// float16 storage: converted to float32 as tiles are formed (or as
    /// the packed kernel's panels are), then as float32.
    #[test]
    fn two_view_f16_matches_reference(seed in any::<u64>(), n in 1usize..30, d in 1usize..20, block in prop::sample::select(vec![1usize, 6, 7, 16, 17, 256]), portable in any::<bool>(), keys in any::<bool>()) {
        let rows: Rows = Rng(seed).two_view(n, d, 0.5).into_iter().map(|r| r.into_iter().map(|x| f64::from(half::f16::from_f64(x))).collect()).collect();
        let tol = 4.0 * (d as f64 + 4.0) * 6e-8 / 0.1;
        if keys {
            // Queries against keys: both sides converted.
            let (q, k) = rows.split_at(n);
            let (q, k) = (q.to_vec(), k.to_vec());
            let layout = Layout::keys("q.npy", n, "k.npy", n, true).unwrap();
            let got = run_with(&layout, &embeddings_f16(&q), Some(&embeddings_f16(&k)), Similarity::Cosine, 0.1, block, 2, portable);
            check_scaled(&got, &reference(&layout, &q, Some(&k), Similarity::Cosine, 0.1), tol, false, "keys f16");
        } else {
            let layout = Layout::two_view("mem.npy", rows.len()).unwrap();
            let got = run_with(&layout, &embeddings_f16(&rows), None, Similarity::Cosine, 0.1, block, 2, portable);
            check_scaled(&got, &reference(&layout, &rows, None, Similarity::Cosine, 0.1), tol, false, "two-view f16");
        }
    }

    /// Pairs with repeated anchors and the symmetric option.
    #[test]
    fn pairs_match_reference(seed in any::<u64>(), r in 2usize..30, p in 1usize..40, block in 1usize..9, symmetric in any::<bool>(), dot in any::<bool>()) {
        let s = if dot { Similarity::Dot } else { Similarity::Cosine };
        let mut rng = Rng(seed);
        let rows: Rows = (0..r).map(|_| (0..5).map(|_| rng.uniform()).collect()).collect();
        let pairs: Vec<IndexPair> = (0..p)
            .map(|_| {
                let a = rng.next_u64() % r as u64;
                let b = (a + 1 + rng.next_u64() % (r as u64 - 1)) % r as u64;
                IndexPair { a: a as i64, b: b as i64 }
            })
            .collect();
        let pairs = Pairs::from_pairs("p.csv", pairs);
        let layout = Layout::pairs("mem.npy", r, &pairs, symmetric).unwrap();
        let got = run(&layout, &embeddings_f64(&rows), None, s, 0.1, block, 2);
        check(&got, &reference(&layout, &rows, None, s, 0.1), 1e-12, "pairs");
    }

    /// float32 pairs: repeated anchors, shared positives and the symmetric
    /// option through the float32 fold's masks, hand-vectorized and portable.
    #[test]
    fn pairs_f32_match_reference(seed in any::<u64>(), r in 2usize..40, p in 1usize..60, d in 1usize..20, block in prop::sample::select(vec![1usize, 5, 6, 16, 17, 256]), symmetric in any::<bool>(), tau in prop::sample::select(vec![0.025, 0.1, 0.5]), portable in any::<bool>()) {
        let mut rng = Rng(seed);
        let rows: Rows = (0..r).map(|_| (0..d).map(|_| rng.uniform() as f32 as f64).collect()).collect();
        let pairs: Vec<IndexPair> = (0..p)
            .map(|_| {
                // Few distinct positives, so that several anchors share one.
                let a = rng.next_u64() % r as u64;
                let b = (a + 1 + rng.next_u64() % (r as u64 - 1).min(3)) % r as u64;
                IndexPair { a: a as i64, b: b as i64 }
            })
            .collect();
        let pairs = Pairs::from_pairs("p.csv", pairs);
        let layout = Layout::pairs("mem.npy", r, &pairs, symmetric).unwrap();
        let got = run_with(&layout, &embeddings_f32(&rows), None, Similarity::Cosine, tau, block, 2, portable);
        let tol = 4.0 * (d as f64 + 4.0) * 6e-8 / tau;
        check_scaled(&got, &reference(&layout, &rows, None, Similarity::Cosine, tau), tol, false, "pairs f32");
    }

    /// float32 queries against keys, both ways.
    #[test]
    fn keys_f32_match_reference(seed in any::<u64>(), n in 1usize..40, d in 1usize..20, block in prop::sample::select(vec![1usize, 6, 16, 17, 256]), symmetric in any::<bool>(), portable in any::<bool>()) {
        let mut rng = Rng(seed);
        let q: Rows = (0..n).map(|_| (0..d).map(|_| rng.uniform() as f32 as f64).collect()).collect();
        let k: Rows = q.iter().map(|row| row.iter().map(|x| (x + 0.3 * rng.uniform()) as f32 as f64).collect()).collect();
        let layout = Layout::keys("q.npy", n, "k.npy", n, symmetric).unwrap();
        let got = run_with(&layout, &embeddings_f32(&q), Some(&embeddings_f32(&k)), Similarity::Cosine, 0.1, block, 3, portable);
        let tol = 4.0 * (d as f64 + 4.0) * 6e-8 / 0.1;
        check_scaled(&got, &reference(&layout, &q, Some(&k[..]), Similarity::Cosine, 0.1), tol, false, "keys f32");
    }

    /// Queries against keys, one way and both ways.
    #[test]
    fn keys_match_reference(seed in any::<u64>(), n in 1usize..25, block in 1usize..9, symmetric in any::<bool>(), tau in prop::sample::select(vec![0.2, 0.001])) {
        let mut rng = Rng(seed);
        let q: Rows = (0..n).map(|_| (0..6).map(|_| rng.uniform()).collect()).collect();
        let k: Rows = q.iter().map(|row| row.iter().map(|x| x + 0.3 * rng.uniform()).collect()).collect();
        let layout = Layout::keys("q.npy", n, "k.npy", n, symmetric).unwrap();
        // tau 0.001 puts cosine logits 2000 apart: the per-anchor shift path.
        let got = run(&layout, &embeddings_f64(&q), Some(&embeddings_f64(&k)), Similarity::Cosine, tau, block, 3);
        check(&got, &reference(&layout, &q, Some(&k[..]), Similarity::Cosine, tau), 1e-12, "keys");
    }
}

/// Sizes 1, tile - 1, tile, tile + 1 and several tiles, for 1 and many threads.
#[test]
fn tile_edges_and_threads() {
    let block = 8;
    for n_items in [1usize, 4, 7, 8, 9, 16, 17, 40] {
        // two-view rows are 2 * n_items; also cross edges with odd item counts.
        let rows = Rng(n_items as u64).two_view(n_items, 5, 0.4);
        let layout = Layout::two_view("mem.npy", rows.len()).unwrap();
        let want = reference(&layout, &rows, None, Similarity::Cosine, 0.1);
        let e = embeddings_f64(&rows);
        let one = run(&layout, &e, None, Similarity::Cosine, 0.1, block, 1);
        check(&one, &want, 1e-12, &format!("rows {}", rows.len()));
        for threads in [2, 3, 5] {
            let many = run(&layout, &e, None, Similarity::Cosine, 0.1, block, threads);
            assert_eq!(
                one,
                many,
                "rows {}: {threads} threads differ from 1",
                rows.len()
            );
        }
    }
}

/// The case from the docs: a positive logit of 40 against one negative at 0
/// has loss log(1 + e^-40) = 4.25e-18, which log_den - log_num rounds to 0.
#[test]
fn tiny_loss_is_kept() {
    // Two items, dot similarity: each anchor sees its positive at 40 and the
    // other item's views at 0.
    let rows: Rows = vec![
        vec![40f64.sqrt(), 0.0],
        vec![0.0, 40f64.sqrt()],
        vec![40f64.sqrt(), 0.0],
        vec![0.0, 40f64.sqrt()],
    ];
    let layout = Layout::two_view("mem.npy", 4).unwrap();
    let got = run(
        &layout,
        &embeddings_f64(&rows),
        None,
        Similarity::Dot,
        1.0,
        256,
        1,
    );
    for g in &got {
        let f = g.finish();
        // log(1 + 2 e^-40): two negatives at 0.
        let want = (2.0 * (-40f64).exp()).ln_1p();
        assert!(
            (f.loss - want).abs() <= 1e-13 * want,
            "loss {} vs {want}",
            f.loss
        );
        assert!(f.loss > 0.0);
        assert_eq!(
            f.log_denominator - f.log_numerator,
            0.0,
            "the naive form rounds to 0"
        );
    }
}

/// Exact duplicates of the positive tie with it, and ties favour the positive.
#[test]
fn duplicate_rows_tie_in_favour_of_the_positive() {
    let mut rng = Rng(7);
    let mut rows = rng.two_view(6, 16, 0.2);
    // Make row 5 an exact copy of row 6 (row 0's positive is 6).
    rows[5] = rows[6].clone();
    rows[0] = rows[6].clone();
    for f32_input in [false, true] {
        let layout = Layout::two_view("mem.npy", rows.len()).unwrap();
        let e = if f32_input {
            embeddings_f32(&rows)
        } else {
            embeddings_f64(&rows)
        };
        let got = run(&layout, &e, None, Similarity::Cosine, 0.05, 4, 2);
        assert_eq!(
            got[0].rank, 1,
            "f32 {f32_input}: duplicate must not outrank the positive"
        );
    }
}

// ---------------------------------------------------------------------------
// Terms

/// The element type of a generated input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Elem {
    F16,
    F32,
    F64,
}

impl Elem {
    /// The values as stored: rounded to the element type.
    fn round(self, rows: Rows) -> Rows {
        let r = |x: f64| match self {
            Elem::F16 => f64::from(half::f16::from_f64(x)),
            Elem::F32 => x as f32 as f64,
            Elem::F64 => x,
        };
        rows.into_iter()
            .map(|row| row.into_iter().map(r).collect())
            .collect()
    }

    fn embeddings(self, rows: &Rows) -> Embeddings {
        match self {
            Elem::F16 => embeddings_f16(rows),
            Elem::F32 => embeddings_f32(rows),
            Elem::F64 => embeddings_f64(rows),
        }
    }

    /// Unit roundoff of the pass's products.
    fn unit_roundoff(self) -> f64 {
        match self {
            Elem::F16 | Elem::F32 => 2f64.powi(-24),
            Elem::F64 => 2f64.powi(-53),
        }
    }
}

/// A generated problem: the layout kind, the files and the record list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    TwoView,
    Pairs { symmetric: bool },
    Keys { symmetric: bool },
}

struct Problem {
    layout: Layout,
    first: Rows,
    second: Option<Rows>,
}

/// Random rows (with some exact duplicates, so that ties occur) laid out as
/// `kind`.
fn problem(kind: Kind, elem: Elem, seed: u64, n: usize, d: usize, duplicates: bool) -> Problem {
    let mut rng = Rng(seed);
    let mut first = elem.round(rng.two_view(n, d, 0.4));
    if duplicates && first.len() > 2 {
        let (a, b) = (rng.below(first.len()), rng.below(first.len()));
        first[a] = first[b].clone();
    }
    let r = first.len();
    match kind {
        Kind::TwoView => Problem {
            layout: Layout::two_view("mem.npy", r).unwrap(),
            first,
            second: None,
        },
        Kind::Pairs { symmetric } => {
            let pairs: Vec<IndexPair> = (0..r + rng.below(r))
                .map(|_| {
                    // Few distinct positives: anchors with several of them.
                    let a = rng.below(r);
                    let b = (a + 1 + rng.below((r - 1).min(3))) % r;
                    IndexPair {
                        a: a as i64,
                        b: b as i64,
                    }
                })
                .collect();
            let pairs = Pairs::from_pairs("p.csv", pairs);
            Problem {
                layout: Layout::pairs("mem.npy", r, &pairs, symmetric).unwrap(),
                first,
                second: None,
            }
        }
        Kind::Keys { symmetric } => {
            let (q, k) = first.split_at(n);
            Problem {
                layout: Layout::keys("q.npy", n, "k.npy", n, symmetric).unwrap(),
                first: q.to_vec(),
                second: Some(k.to_vec()),
            }
        }
    }
}

/// Runs the pass and lists every record's terms.
fn stats_and_terms(
    p: &Problem,
    elem: Elem,
    settings: Settings,
    threads: usize,
) -> (Vec<RecordStats>, Vec<Vec<Term>>) {
    let a = elem.embeddings(&p.first);
    let b = p.second.as_ref().map(|k| elem.embeddings(k));
    let core = Core::new(&p.layout, &a, b.as_ref(), settings).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let stats = pool.install(|| core.run(&|_| {}));
    let all: Vec<usize> = (0..p.layout.records.len()).collect();
    let mut terms = vec![Vec::new(); all.len()];
    core.terms(&all, &mut |k, ts| {
        terms[k] = ts.to_vec();
        Ok::<(), ()>(())
    })
    .unwrap();
    (stats, terms)
}

fn kinds() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::TwoView),
        any::<bool>().prop_map(|symmetric| Kind::Pairs { symmetric }),
        any::<bool>().prop_map(|symmetric| Kind::Keys { symmetric }),
    ]
}

fn elems() -> impl Strategy<Value = Elem> {
    prop_oneof![Just(Elem::F16), Just(Elem::F32), Just(Elem::F64)]
}

proptest! {
    #![proptest_config(config())]

    /// Every layout, float16/32/64, cosine and dot, tau from 1e-30 to 1000:
    /// every listed term (index and value) matches the reference, each `p`
    /// lies in [0, 1], they sum to 1, and the positive's `p` is the record's
    /// `p_positive` within the precision of the pass.
    #[test]
    fn terms_match_reference_and_are_a_softmax(seed in any::<u64>(), kind in kinds(), elem in elems(), n in 1usize..14, d in 1usize..12, block in prop::sample::select(vec![1usize, 5, 16, 17, 256]), log_tau in -30.0f64..3.0, dot in any::<bool>(), duplicates in any::<bool>(), portable in any::<bool>()) {
        let n = if matches!(kind, Kind::Pairs { .. }) { n.max(2) } else { n };
        let p = problem(kind, elem, seed, n, d, duplicates);
        let tau = 10f64.powf(log_tau);
        let s = if dot { Similarity::Dot } else { Similarity::Cosine };
        let settings = Settings { tau, similarity: s, block, portable };
        let (stats, terms) = stats_and_terms(&p, elem, settings, 2);
        let want = reference(&p.layout, &p.first, p.second.as_deref(), s, tau);
        check_terms(&stats, &terms, &want, d, tau, elem.unit_roundoff(), &format!("{kind:?} {elem:?} {s:?} tau {tau:e}")).map_err(TestCaseError::fail)?;
    }
}

/// The inputs that once gave `--terms` probabilities above 1, at the core: a tiny
/// tau on float64 text values (two-view and keys), and float32 dot products
/// whose terms were once normalised by the float32 pass's denominator.
#[test]
fn terms_that_were_above_one_stay_a_softmax() {
    let m: Rows = vec![
        vec![-0.7, 0.2, -0.9],
        vec![-0.9, 0.0, -0.1],
        vec![0.8, 0.3, 0.0],
        vec![-0.0, -0.5, -1.0],
    ];
    let f4: Rows = vec![
        vec![-0.3, 0.0],
        vec![0.3, 3.0],
        vec![1.8, 0.7],
        vec![2.9, -1.7],
    ];
    let scaled: Rows = f4
        .iter()
        .map(|r| r.iter().map(|x| x * 30.0).collect())
        .collect();
    let cases: [(&str, &Rows, Elem, Kind, Similarity, f64); 7] = [
        (
            "m.csv, tau 1e-20",
            &m,
            Elem::F64,
            Kind::TwoView,
            Similarity::Cosine,
            1e-20,
        ),
        (
            "m.csv as keys, tau 1e-20",
            &m,
            Elem::F64,
            Kind::Keys { symmetric: true },
            Similarity::Cosine,
            1e-20,
        ),
        (
            "f4, dot, tau 0.1",
            &f4,
            Elem::F32,
            Kind::TwoView,
            Similarity::Dot,
            0.1,
        ),
        (
            "f4, dot, tau 1",
            &f4,
            Elem::F32,
            Kind::TwoView,
            Similarity::Dot,
            1.0,
        ),
        (
            "f4, dot, tau 1e-5",
            &f4,
            Elem::F32,
            Kind::TwoView,
            Similarity::Dot,
            1e-5,
        ),
        (
            "f4 x30, cosine, tau 1e-10",
            &scaled,
            Elem::F32,
            Kind::TwoView,
            Similarity::Cosine,
            1e-10,
        ),
        (
            "f4 x30, dot, tau 1e-10",
            &scaled,
            Elem::F32,
            Kind::TwoView,
            Similarity::Dot,
            1e-10,
        ),
    ];
    for (what, rows, elem, kind, s, tau) in cases {
        let rows = elem.round(rows.clone());
        let p = match kind {
            Kind::Keys { symmetric } => Problem {
                layout: Layout::keys("q", 2, "k", 2, symmetric).unwrap(),
                first: rows[..2].to_vec(),
                second: Some(rows[2..].to_vec()),
            },
            _ => Problem {
                layout: Layout::two_view("mem.npy", rows.len()).unwrap(),
                first: rows,
                second: None,
            },
        };
        let settings = Settings {
            tau,
            similarity: s,
            block: 256,
            portable: false,
        };
        let (stats, terms) = stats_and_terms(&p, elem, settings, 1);
        let want = reference(&p.layout, &p.first, p.second.as_deref(), s, tau);
        let d = p.first[0].len();
        check_terms(&stats, &terms, &want, d, tau, elem.unit_roundoff(), what).unwrap();
        for ts in &terms {
            let top = ts.iter().map(|t| t.p).fold(0.0, f64::max);
            assert!(top > 0.0 && top <= 1.0, "{what}: {ts:?}");
        }
    }
}
