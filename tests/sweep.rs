//! The temperature sweep of the core: one pass that computes each tile's
//! products once and folds them at every temperature must give, for each
//! temperature, the very bits of a separate pass at that temperature alone,
//! in every layout (extra negatives included), under both similarities, in
//! float64, float32 (hand-vectorized and portable) and float16, across tile
//! edges, and at temperatures that take each branch of the fold (a fixed
//! shift with float32 exponentials, a fixed shift with float64 ones, a shift
//! per row and column, and 1/tau split between rows and columns). The sweep
//! is also checked against the naive float64 reference at each temperature.

mod common;

use common::{
    Expected, Rng, Rows, embeddings_f16, embeddings_f32, embeddings_f64, pairs, reference,
};
use infonce::input::Embeddings;
use infonce::layout::Layout;
use infonce::loss::{Core, Negatives, RecordStats, Settings, Similarity};

/// Temperatures that take every branch of the fold: 1/tau split (1e120),
/// float32 exponentials under a fixed shift (2/tau <= 80), float64 ones
/// under a fixed shift (2/tau <= 700), a shift per row and column (beyond),
/// listed out of order.
const TAUS: [f64; 6] = [0.1, 1e120, 0.004, 1.0, 0.02, 0.0027];

/// The element type a case runs in.
#[derive(Clone, Copy, Debug)]
enum Elem {
    F64,
    F32,
    F16,
}

/// The bits of a finding, so that equal means identical (0.0 and -0.0, or
/// two NaNs, would compare otherwise).
fn bits(s: &RecordStats) -> (u64, u64, u64, u64) {
    (
        s.sim.to_bits(),
        s.logit.to_bits(),
        s.log_others.to_bits(),
        s.rank,
    )
}

/// Values exact in float16 (multiples of 1/64 in [-1, 1]), so that every
/// element type holds the same rows.
fn exact(rows: Rows) -> Rows {
    rows.into_iter()
        .map(|r| r.into_iter().map(|x| (x * 64.0).round() / 64.0).collect())
        .collect()
}

fn embeddings(rows: &Rows, e: Elem) -> Embeddings {
    match e {
        Elem::F64 => embeddings_f64(rows),
        Elem::F32 => embeddings_f32(rows),
        Elem::F16 => embeddings_f16(rows),
    }
}

/// Layout `kind` (two-view, pairs symmetric, keys, keys symmetric) over
/// `n` items of dimension `d` (values exact in float16): the layout, the
/// rows of its first file and those of its keys.
fn case(rng: &mut Rng, kind: usize, n: usize, d: usize) -> (Layout, Rows, Option<Rows>) {
    let rows = exact(rng.two_view(n, d, 0.4));
    let (q, k) = rows.split_at(n);
    let (q, k): (Rows, Rows) = (q.to_vec(), k.to_vec());
    match kind {
        0 => (Layout::two_view("e", 2 * n).unwrap(), rows, None),
        1 => {
            let p = pairs(rng, 2 * n, 15);
            (Layout::pairs("e", 2 * n, &p, true).unwrap(), rows, None)
        }
        2 => (Layout::keys("q", n, "k", n, false).unwrap(), q, Some(k)),
        _ => (Layout::keys("q", n, "k", n, true).unwrap(), q, Some(k)),
    }
}

/// The core with the objective `(in batch, decoupled)`.
fn with_objective(core: Core<'_>, (in_batch, decoupled): (bool, bool)) -> Core<'_> {
    let core = if in_batch {
        core
    } else {
        core.without_in_batch().unwrap()
    };
    if decoupled { core.decoupled() } else { core }
}

/// The core over the case, at `tau`.
fn core<'a>(
    layout: &'a Layout,
    a: &'a Embeddings,
    b: Option<&'a Embeddings>,
    neg: Option<(&'a Embeddings, Negatives)>,
    settings: Settings,
) -> Core<'a> {
    let core = Core::new(layout, a, b, settings).unwrap();
    match neg {
        Some((n, how)) => core.with_negatives(n, how).unwrap(),
        None => core,
    }
}

#[test]
fn a_sweep_gives_each_temperature_the_bits_of_its_own_pass() {
    let mut rng = Rng(0x5EE9_0001);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut cases = 0;
    for layout_kind in 0..4 {
        for negatives in [None, Some(Negatives::Shared), Some(Negatives::PerAnchor(3))] {
            for (block, dot) in [(4, false), (7, true), (256, false), (256, true)] {
                let (n, d) = (10, 6);
                let (layout, first, second) = case(&mut rng, layout_kind, n, d);
                let n_neg = match negatives {
                    Some(Negatives::PerAnchor(m)) => first.len() * m,
                    _ => 9,
                };
                let mut neg = exact(rng.rows(n_neg, d));
                // A tie with the first record's positive: the rank's
                // float64 recheck runs at every temperature.
                neg[0] = second.as_ref().unwrap_or(&first)[layout.records[0].positive].clone();
                let similarity = if dot {
                    Similarity::Dot
                } else {
                    Similarity::Cosine
                };
                for elem in [Elem::F64, Elem::F32, Elem::F16] {
                    let a = embeddings(&first, elem);
                    let b = second.as_ref().map(|k| embeddings(k, elem));
                    let ne = embeddings(&neg, elem);
                    let neg_of = negatives.map(|how| (&ne, how));
                    for portable in [false, true] {
                        let settings = Settings {
                            tau: 0.5,
                            similarity,
                            block,
                            portable,
                        };
                        let what = format!(
                            "layout {layout_kind}, {negatives:?}, block {block}, {similarity:?}, {elem:?}, portable {portable}"
                        );
                        let swept = core(&layout, &a, b.as_ref(), neg_of, settings);
                        let ticks = std::sync::atomic::AtomicU64::new(0);
                        let all = pool.install(|| {
                            swept.sweep(&TAUS, &|t| {
                                ticks.fetch_add(t, std::sync::atomic::Ordering::Relaxed);
                            })
                        });
                        assert_eq!(
                            ticks.into_inner(),
                            swept.tile_count(),
                            "{what}: one tick per tile, not per temperature"
                        );
                        assert_eq!(all.len(), TAUS.len(), "{what}");
                        for (&tau, got) in TAUS.iter().zip(&all) {
                            let alone = core(
                                &layout,
                                &a,
                                b.as_ref(),
                                neg_of,
                                Settings { tau, ..settings },
                            );
                            let want = pool.install(|| alone.run(&|_| {}));
                            assert_eq!(got.len(), want.len(), "{what}, tau {tau}");
                            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                                assert_eq!(
                                    bits(g),
                                    bits(w),
                                    "{what}, tau {tau}, record {k}: {g:?} vs {w:?}"
                                );
                            }
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 4 * 3 * 4 * 3 * 2);
}

/// The sweep's figures at each temperature against the naive float64
/// reference (no extra negatives: `sides.rs` checks those at one tau).
#[test]
fn a_sweep_matches_the_reference_at_every_temperature() {
    let mut rng = Rng(0x5EE9_0002);
    let taus = [0.03, 0.1, 0.7, 2.0];
    for layout_kind in 0..3 {
        for dot in [false, true] {
            let (n, d) = (12, 5);
            let rows = rng.two_view(n, d, 0.5);
            let (q, k) = rows.split_at(n);
            let (q, k): (Rows, Rows) = (q.to_vec(), k.to_vec());
            let (layout, first, second) = match layout_kind {
                0 => (Layout::two_view("e", 2 * n).unwrap(), rows.clone(), None),
                1 => (Layout::keys("q", n, "k", n, false).unwrap(), q, Some(k)),
                _ => (Layout::keys("q", n, "k", n, true).unwrap(), q, Some(k)),
            };
            let similarity = if dot {
                Similarity::Dot
            } else {
                Similarity::Cosine
            };
            let a = embeddings_f64(&first);
            let b = second.as_ref().map(embeddings_f64);
            let settings = Settings {
                tau: 0.1,
                similarity,
                block: 5,
                portable: false,
            };
            let c = core(&layout, &a, b.as_ref(), None, settings);
            let all = c.sweep(&taus, &|_| {});
            for (&tau, got) in taus.iter().zip(&all) {
                let want: Vec<Expected> =
                    reference(&layout, &first, second.as_deref(), similarity, tau);
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    let f = g.finish();
                    let what =
                        format!("layout {layout_kind}, {similarity:?}, tau {tau}, record {k}");
                    let scale = 1.0 + w.log_denominator.abs();
                    assert!(
                        (f.log_denominator - w.log_denominator).abs() <= 1e-12 * scale,
                        "{what}: log_denominator {} vs {}",
                        f.log_denominator,
                        w.log_denominator
                    );
                    assert!(
                        (f.loss - w.loss).abs() <= 1e-12 * scale,
                        "{what}: loss {} vs {}",
                        f.loss,
                        w.loss
                    );
                    assert!(
                        (w.rank.0..=w.rank.1).contains(&g.rank),
                        "{what}: rank {} outside {:?}",
                        g.rank,
                        w.rank
                    );
                }
            }
        }
    }
}

/// No temperature, no pass; the single-temperature run is the sweep of one.
#[test]
fn an_empty_sweep_is_empty_and_a_run_is_a_sweep_of_one() {
    let mut rng = Rng(0x5EE9_0003);
    let rows = rng.two_view(6, 4, 0.3);
    let layout = Layout::two_view("e", 12).unwrap();
    let a = embeddings_f32(&rows);
    let settings = Settings {
        tau: 0.2,
        similarity: Similarity::Cosine,
        block: 3,
        portable: false,
    };
    let c = core(&layout, &a, None, None, settings);
    assert!(c.sweep(&[], &|_| {}).is_empty());
    let one = c.sweep(&[0.2], &|_| {});
    let run = c.run(&|_| {});
    assert_eq!(
        one[0].iter().map(bits).collect::<Vec<_>>(),
        run.iter().map(bits).collect::<Vec<_>>()
    );
}

/// `--no-in-batch` and `--decoupled` in a sweep: the main side shown to
/// each record as its positive alone, the positive left out of the
/// denominator, or both, must give each temperature the bits of its own
/// pass too, losses included.
#[test]
fn a_sweep_without_in_batch_candidates_or_decoupled_gives_the_bits_of_its_own_pass() {
    let mut rng = Rng(0x5EE9_0004);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    // (in batch, decoupled)
    let objectives = [(false, false), (true, true), (false, true)];
    let mut cases = 0;
    for layout_kind in 0..4 {
        for negatives in [None, Some(Negatives::Shared), Some(Negatives::PerAnchor(3))] {
            for (block, dot) in [(4, false), (256, true)] {
                let (n, d) = (10, 6);
                let (layout, first, second) = case(&mut rng, layout_kind, n, d);
                let n_neg = match negatives {
                    Some(Negatives::PerAnchor(m)) => first.len() * m,
                    _ => 9,
                };
                let neg = exact(rng.rows(n_neg, d));
                let similarity = if dot {
                    Similarity::Dot
                } else {
                    Similarity::Cosine
                };
                for objective in objectives {
                    // Without in-batch candidates a record needs extra
                    // negatives, and the key-to-query records see none.
                    if !objective.0 && (negatives.is_none() || layout_kind == 3) {
                        continue;
                    }
                    for elem in [Elem::F64, Elem::F32] {
                        let a = embeddings(&first, elem);
                        let b = second.as_ref().map(|k| embeddings(k, elem));
                        let ne = embeddings(&neg, elem);
                        let neg_of = negatives.map(|how| (&ne, how));
                        for portable in [false, true] {
                            let settings = Settings {
                                tau: 0.5,
                                similarity,
                                block,
                                portable,
                            };
                            let what = format!(
                                "layout {layout_kind}, {negatives:?}, {objective:?}, block {block}, {similarity:?}, {elem:?}, portable {portable}"
                            );
                            let swept = with_objective(
                                core(&layout, &a, b.as_ref(), neg_of, settings),
                                objective,
                            );
                            let all = pool.install(|| swept.sweep(&TAUS, &|_| {}));
                            assert_eq!(all.len(), TAUS.len(), "{what}");
                            for (&tau, got) in TAUS.iter().zip(&all) {
                                let alone = with_objective(
                                    core(
                                        &layout,
                                        &a,
                                        b.as_ref(),
                                        neg_of,
                                        Settings { tau, ..settings },
                                    ),
                                    objective,
                                );
                                let want = pool.install(|| alone.run(&|_| {}));
                                assert_eq!(got.len(), want.len(), "{what}, tau {tau}");
                                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                                    assert_eq!(g.decoupled, objective.1, "{what}, record {k}");
                                    assert_eq!(
                                        (bits(g), g.finish().loss.to_bits()),
                                        (bits(w), w.finish().loss.to_bits()),
                                        "{what}, tau {tau}, record {k}: {g:?} vs {w:?}"
                                    );
                                }
                            }
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    // Per layout: 2 blocks x 2 elements x 2 codes = 8 runs per objective;
    // decoupled alone in all 4 layouts x 3 negatives; the two without
    // in-batch candidates in layouts 0-2 with the 2 kinds of negatives.
    assert_eq!(cases, 8 * (4 * 3 + 2 * 3 * 2));
}
