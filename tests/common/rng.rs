//! The one seeded generator of the tests, the benchmarks and the fuzz
//! targets (SplitMix64), so that any failure can be replayed from its seed
//! and no extra crate is needed to make seeded data. Included by path from
//! `benches/` and `fuzz/`.
#![allow(dead_code)]

/// Row-major rows as float64.
pub type Rows = Vec<Vec<f64>>;

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, a fixed
/// increment and a mixing function.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Uniform in (0, 1].
    pub fn unit_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit_open(), self.unit_open());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A `rows` x `cols` matrix uniform in [-1, 1).
    pub fn rows(&mut self, rows: usize, cols: usize) -> Rows {
        (0..rows)
            .map(|_| (0..cols).map(|_| self.uniform()).collect())
            .collect()
    }

    /// Two views of `n` items of dimension `d`: item + `noise` * uniform.
    pub fn two_view(&mut self, n: usize, d: usize, noise: f64) -> Rows {
        let items = self.rows(n, d);
        let mut rows = Vec::with_capacity(2 * n);
        for _ in 0..2 {
            for it in &items {
                rows.push(it.iter().map(|x| x + noise * self.uniform()).collect());
            }
        }
        rows
    }
}
