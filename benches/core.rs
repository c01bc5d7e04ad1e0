//! Criterion benchmark of the loss core (`Core::run`): the fused, tiled pass
//! over the two-view layout with cosine similarity, float32 input, tau 0.1.
//!
//! ```text
//! cargo bench --bench core                                   # R {1024, 4096} x d {64, 256}
//! INFONCE_BENCH_SIZES=large cargo bench --bench core          # R {8192, 16384} x d {64, 256}
//! INFONCE_BENCH_SIZES=8192x256,16384x512 cargo bench --bench core
//! RAYON_NUM_THREADS=1 cargo bench --bench core                # one thread
//! ```
//!
//! Data are seeded: item i is a random unit vector and its two views (rows i
//! and i + R/2) are the item plus 0.3 times noise of norm about 1, as
//! scripts/make_embeddings.py writes them (same recipe, different generator).
//! Throughput is given in "elements" = R * R * d multiply-adds of the full
//! similarity matrix, so figures compare across sizes (the pass computes
//! about half of them, using symmetry).

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use infonce::input::{Embeddings, Matrix, Values};
use infonce::layout::Layout;
use infonce::loss::{Core, DEFAULT_BLOCK, Settings, Similarity};

const SEED: u64 = 0x5eed_1ce5;
const NOISE: f64 = 0.3;

/// The tests' seeded generator (SplitMix64).
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

/// R x d float32 rows: rows i and i + R/2 are two noisy views of unit item i.
fn two_view(rows: usize, d: usize) -> Embeddings {
    assert!(rows >= 2 && rows.is_multiple_of(2), "R must be even");
    let n = rows / 2;
    let mut rng = Rng(SEED ^ ((rows as u64) << 20) ^ d as u64);
    let mut values = vec![0f32; rows * d];
    let noise = NOISE / (d as f64).sqrt();
    let mut item = vec![0f64; d];
    for i in 0..n {
        item.iter_mut().for_each(|x| *x = rng.normal());
        let norm = item.iter().map(|x| x * x).sum::<f64>().sqrt();
        for view in [i, i + n] {
            let row = &mut values[view * d..(view + 1) * d];
            for (v, &x) in row.iter_mut().zip(&item) {
                *v = (x / norm + noise * rng.normal()) as f32;
            }
        }
    }
    Embeddings {
        name: format!("bench_{rows}x{d}"),
        source_dtype: "float32".into(),
        values: Values::F32(Matrix::from_rows(rows, d, values)),
        first_line: None,
    }
}

/// Sizes from INFONCE_BENCH_SIZES: "large", or a list such as "8192x256,16384x64".
fn sizes() -> Vec<(usize, usize)> {
    let grid = |rs: &[usize], ds: &[usize]| {
        rs.iter()
            .flat_map(|&r| ds.iter().map(move |&d| (r, d)))
            .collect::<Vec<_>>()
    };
    match std::env::var("INFONCE_BENCH_SIZES") {
        Err(_) => grid(&[1024, 4096], &[64, 256]),
        Ok(s) if s.trim() == "large" => grid(&[8192, 16384], &[64, 256]),
        Ok(s) => s
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                let (r, d) = t
                    .trim()
                    .split_once(['x', 'X'])
                    .unwrap_or_else(|| panic!("INFONCE_BENCH_SIZES: {t:?} is not RxD"));
                let parse = |v: &str| {
                    v.parse::<usize>()
                        .unwrap_or_else(|_| panic!("INFONCE_BENCH_SIZES: bad number in {t:?}"))
                };
                (parse(r), parse(d))
            })
            .collect(),
    }
}

fn bench_core(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    for (rows, d) in sizes() {
        let emb = two_view(rows, d);
        let layout = Layout::two_view(&emb.name, rows).expect("even row count");
        let settings = Settings {
            tau: 0.1,
            similarity: Similarity::Cosine,
            block: DEFAULT_BLOCK,
            portable: false,
        };
        let core = Core::new(&layout, &emb, None, settings).expect("valid input");
        let work = (rows * rows * d) as u64;
        // About 3e9 multiply-adds per second per core: keep each size to a
        // few seconds, and give big ones the fewest samples criterion allows.
        let big = work >= 1 << 32;
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(if big { 500 } else { 1000 }));
        group.measurement_time(Duration::from_secs(if big { 8 } else { 3 }));
        group.sampling_mode(if big {
            SamplingMode::Flat
        } else {
            SamplingMode::Auto
        });
        group.throughput(Throughput::Elements(work));
        group.bench_with_input(
            BenchmarkId::new("two_view_cosine_f32", format!("R{rows}_d{d}")),
            &core,
            |b, core| b.iter(|| black_box(core.run(&|_| {}))),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_core);
criterion_main!(benches);
