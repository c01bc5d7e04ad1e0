//! A sharded pass: the plan's units cut into N parts, each part run on its
//! own, and the parts' findings put together must give the very bits of
//! the single pass, for any N, in every layout, with extra negatives,
//! without in-batch candidates and decoupled, in float64 and float32, at
//! several temperatures at once, and with bands of more than one block
//! (more blocks than the plan has bands). The uniformity of the rows,
//! summed per unit, must come out to the same bits too.

mod common;

use std::collections::HashMap;

use common::{Rng, Rows, embeddings_f32, embeddings_f64, pairs};
use infonce::input::Embeddings;
use infonce::layout::Layout;
use infonce::loss::{
    Core, Findings, MAX_BANDS, Negatives, RecordStats, Settings, Similarity, Unit, UnitOut,
};

fn bits(s: &RecordStats) -> (u64, u64, u64, u64, u64) {
    (
        s.sim.to_bits(),
        s.logit.to_bits(),
        s.log_others.to_bits(),
        s.rank,
        s.log_negatives.to_bits(),
    )
}

const TAUS: [f64; 3] = [0.1, 0.004, 2.0];

/// Runs `core` as `n` parts and puts them together; checks each unit is in
/// exactly one part.
fn sharded(core: &Core<'_>, n: usize) -> Findings {
    let plan = core.plan();
    let mut found: HashMap<Unit, UnitOut> = HashMap::new();
    let mut above: Option<Vec<Vec<u64>>> = None;
    // Parts in reverse order: the order they arrive in does not matter.
    for k in (1..=n).rev() {
        let (units, out) = core.run_part(&TAUS, |p| p.part(k, n), &|_| {});
        assert_eq!(units, plan.part(k, n));
        assert_eq!(out.units.len(), units.len());
        for (u, o) in out.units {
            assert!(found.insert(u, o).is_none(), "unit {u:?} in two parts");
        }
        above = Some(match above {
            None => out.above,
            Some(mut acc) => {
                for (a, b) in acc.iter_mut().zip(&out.above) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                }
                acc
            }
        });
    }
    assert_eq!(found.len(), plan.units().count(), "every unit in some part");
    core.sweep_from_parts(
        &TAUS,
        |p| {
            assert_eq!(p.units().count(), plan.units().count());
            Ok(above.unwrap())
        },
        |u| found.remove(&u).ok_or(format!("unit {u:?} missing")),
    )
    .unwrap()
}

fn check(core: &Core<'_>, what: &str) {
    let found = core.findings(&TAUS, &|_| {});
    assert_eq!(found.stats, core.sweep(&TAUS, &|_| {}), "{what}");
    let u = found.uniformity.expect("every group has pairs");
    assert!(u.is_finite() && (-8.0..=0.0).contains(&u), "{what}: {u}");
    let want = found.stats;
    for n in [1, 2, 3, 7] {
        let found = sharded(core, n);
        assert_eq!(
            found.uniformity.map(f64::to_bits),
            Some(u.to_bits()),
            "{what}, {n} parts: uniformity {:?} vs {u}",
            found.uniformity
        );
        let got = found.stats;
        assert_eq!(got.len(), want.len());
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len());
            for (k, (g, w)) in g.iter().zip(w).enumerate() {
                assert_eq!(
                    bits(g),
                    bits(w),
                    "{what}, {n} parts, tau {}, record {k}: {g:?} vs {w:?}",
                    TAUS[t]
                );
            }
        }
    }
}

#[test]
fn parts_put_together_give_the_bits_of_one_pass() {
    let mut rng = Rng(0x5A4D_0001);
    let mut cases = 0;
    // 70 items, 140 rows in blocks of 2: 70 blocks, more than the plan's
    // bands, so bands hold two blocks; and blocks of 3 across odd edges.
    for (n, block) in [(70usize, 2usize), (11, 3)] {
        let d = 5;
        let rows = rng.two_view(n, d, 0.4);
        let (q, k) = rows.split_at(n);
        let (q, k): (Rows, Rows) = (q.to_vec(), k.to_vec());
        for layout_kind in 0..5 {
            let (layout, first, second) = match layout_kind {
                0 => (Layout::two_view("e", 2 * n).unwrap(), rows.clone(), None),
                1 => {
                    let p = pairs(&mut rng, 2 * n, n + 3);
                    (
                        Layout::pairs("e", 2 * n, &p, false).unwrap(),
                        rows.clone(),
                        None,
                    )
                }
                2 => {
                    let p = pairs(&mut rng, 2 * n, n + 3);
                    (
                        Layout::pairs("e", 2 * n, &p, true).unwrap(),
                        rows.clone(),
                        None,
                    )
                }
                3 => (
                    Layout::keys("q", n, "k", n, false).unwrap(),
                    q.clone(),
                    Some(k.clone()),
                ),
                _ => (
                    Layout::keys("q", n, "k", n, true).unwrap(),
                    q.clone(),
                    Some(k.clone()),
                ),
            };
            for negatives in [None, Some(Negatives::Shared), Some(Negatives::PerAnchor(2))] {
                let n_neg = match negatives {
                    Some(Negatives::PerAnchor(m)) => first.len() * m,
                    _ => 7,
                };
                let neg = rng.rows(n_neg, d);
                // (in batch, decoupled); without in-batch candidates only
                // with negatives.
                let objectives: &[(bool, bool)] = if negatives.is_some() {
                    &[(true, false), (false, false), (true, true)]
                } else {
                    &[(true, false), (true, true)]
                };
                for &(in_batch, decoupled) in objectives {
                    for (f32s, similarity) in [(false, Similarity::Cosine), (true, Similarity::Dot)]
                    {
                        let emb = |r: &Rows| -> Embeddings {
                            if f32s {
                                embeddings_f32(r)
                            } else {
                                embeddings_f64(r)
                            }
                        };
                        let (a, b, ne) = (emb(&first), second.as_ref().map(emb), emb(&neg));
                        let settings = Settings {
                            tau: TAUS[0],
                            similarity,
                            block,
                            portable: false,
                        };
                        let mut core = Core::new(&layout, &a, b.as_ref(), settings).unwrap();
                        if let Some(how) = negatives {
                            core = core.with_negatives(&ne, how).unwrap();
                        }
                        if !in_batch {
                            // Refused for the keys' symmetric layout.
                            match core.without_in_batch() {
                                Ok(c) => core = c,
                                Err(_) if layout_kind == 4 => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                        if decoupled {
                            core = core.decoupled();
                        }
                        // The uniformity's own units too, where it needs them.
                        core = core.with_uniformity(true);
                        let what = format!(
                            "{n} items, block {block}, layout {layout_kind}, {negatives:?}, \
                             in batch {in_batch}, decoupled {decoupled}, {similarity:?}, f32 {f32s}"
                        );
                        check(&core, &what);
                        cases += 1;
                    }
                }
            }
        }
    }
    // Without in-batch candidates is refused for keys symmetric.
    assert_eq!(cases, 2 * (5 * (2 + 3 + 3) - 2) * 2);
}

#[test]
fn the_plan_has_at_most_the_bands_it_says_and_balances_its_parts() {
    let mut rng = Rng(0x5A4D_0002);
    let n = 300;
    let rows = rng.two_view(n, 3, 0.4);
    let layout = Layout::two_view("e", 2 * n).unwrap();
    let a = embeddings_f64(&rows);
    let settings = Settings {
        tau: 0.1,
        similarity: Similarity::Cosine,
        block: 1,
        portable: false,
    };
    let core = Core::new(&layout, &a, None, settings).unwrap();
    let plan = core.plan();
    // 600 blocks in bands of 10: 60 bands, the triangle of 60 x 61 / 2
    // units.
    assert!(600usize.div_ceil(10) <= MAX_BANDS);
    assert_eq!(plan.units().count(), 60 * 61 / 2);
    let total = plan.tiles(&plan.units().collect::<Vec<_>>());
    assert_eq!(total, core.tile_count());
    for parts in [2, 5, 13] {
        let sizes: Vec<u64> = (1..=parts)
            .map(|k| plan.tiles(&plan.part(k, parts)))
            .collect();
        assert_eq!(sizes.iter().sum::<u64>(), total);
        let ideal = total as f64 / parts as f64;
        for s in &sizes {
            // No part is more than one unit (at most 10 x 10 tiles) off.
            assert!(
                (*s as f64 - ideal).abs() <= 100.0,
                "{parts} parts: {sizes:?}"
            );
        }
    }
    // A part is a patch of the grid: cut into 16, the parts read 16 to 36
    // of the 60 bands of rows (as anchors or as candidates), 452 in all
    // (28 a part), where runs of the plan's own order with the same work
    // read 15 to 60, 673 in all (42 a part; docs/scale-out.md quotes
    // both). Each part's units come in plan order.
    let bands_of = |units: &[Unit]| {
        let mut bands = std::collections::BTreeSet::new();
        for u in units {
            match *u {
                Unit::Main { rows, cols } => {
                    bands.insert(rows);
                    bands.insert(cols);
                }
                other => panic!("only main units here: {other:?}"),
            }
        }
        bands.len()
    };
    let order: Vec<Unit> = plan.units().collect();
    let mut runs = vec![Vec::new(); 16];
    let mut before = 0;
    for u in &order {
        runs[(before * 16 / total) as usize].push(*u);
        before += plan.tiles(&[*u]);
    }
    assert_eq!(runs.iter().map(|r| bands_of(r)).sum::<usize>(), 673);
    let mut read = 0;
    for k in 1..=16 {
        let units = plan.part(k, 16);
        let bands = bands_of(&units);
        assert!(bands <= 36, "part {k}: {bands} bands");
        read += bands;
        let at: Vec<usize> = units
            .iter()
            .map(|u| order.iter().position(|v| v == u).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "part {k}: {at:?}");
    }
    assert_eq!(read, 452);
}
