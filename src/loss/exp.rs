//! Exponentials and log-sum-exp pieces for the tiled pass.
//!
//! `exp` is a branch-free float64 exponential for arguments at most a little
//! above zero (the pass always subtracts a shift first), written so that the
//! compiler vectorizes it. Its relative error is below 3e-16 with and without
//! fused multiply-adds (checked against the standard library below).
//! `exp32` is its float32 counterpart for float32 tiles (relative error
//! below 2e-7), whose constants the AVX2 form in `rows32` shares.

use super::cpu::Madd;

/// Below this, `exp` is under 1e-307 and contributes nothing next to the term
/// equal to 1 that every shifted sum holds; it is flushed to zero.
const EXP_FLOOR: f64 = -708.0;

/// e^x for x <= ~700, vectorizable; e^x of -inf and of x < -708 is 0. `M`
/// says how a * b + c is computed ([`Fused`](super::cpu::Fused) only for
/// code compiled with the `fma` target feature, where it is one instruction).
#[inline(always)]
pub fn exp<M: Madd>(x: f64) -> f64 {
    let madd = M::f64;
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that k * LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let under = x < EXP_FLOOR;
    let xc = if under { EXP_FLOOR } else { x };
    let t = xc * LOG2E + SHIFTER;
    let k = t - SHIFTER;
    let r = madd(-k, LN2_LO, madd(-k, LN2_HI, xc));
    // Taylor series of e^r on |r| <= ln2/2: the degree-13 remainder is < 5e-18.
    let mut p = 1.0 / 6_227_020_800.0;
    p = madd(p, r, 1.0 / 479_001_600.0);
    p = madd(p, r, 1.0 / 39_916_800.0);
    p = madd(p, r, 1.0 / 3_628_800.0);
    p = madd(p, r, 1.0 / 362_880.0);
    p = madd(p, r, 1.0 / 40_320.0);
    p = madd(p, r, 1.0 / 5_040.0);
    p = madd(p, r, 1.0 / 720.0);
    p = madd(p, r, 1.0 / 120.0);
    p = madd(p, r, 1.0 / 24.0);
    p = madd(p, r, 1.0 / 6.0);
    p = madd(p, r, 0.5);
    p = madd(p, r, 1.0);
    p = madd(p, r, 1.0);
    // 2^k from the integer in t's low bits: (k + 1023) << 52.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    if under { 0.0 } else { p * scale }
}

/// Below this, e^x leaves the normal float32 range; `exp32` flushes it to zero.
pub(crate) const EXP32_FLOOR: f32 = -87.0;
/// 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
pub(crate) const EXP32_SHIFTER: f32 = 12_582_912.0;
/// ln 2 split so that k * LN2_HI is exact for the |k| < 2^8 used here.
pub(crate) const EXP32_LN2_HI: f32 = 355.0 / 512.0;
pub(crate) const EXP32_LN2_LO: f32 = -2.121_944_4e-4;
/// Taylor coefficients 1/n! of e^r, n = 0..7: on |r| <= ln2/2 the
/// remainder is below 7.5e-9.
pub(crate) const EXP32_TAYLOR: [f32; 8] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
];

/// e^x in float32 for x <= ~88, vectorizable; e^-inf and e^x for x < -87 are
/// 0. Relative error below 2e-7 with and without fused multiply-adds
/// (checked against the float64 exponential below): the pass uses it for
/// float32 tiles, whose products carry errors hundreds of times larger.
#[inline(always)]
pub fn exp32<M: Madd>(x: f32) -> f32 {
    let madd = M::f32;
    const C: [f32; 8] = EXP32_TAYLOR;
    let under = x < EXP32_FLOOR;
    let xc = if under { EXP32_FLOOR } else { x };
    let t = madd(xc, std::f32::consts::LOG2_E, EXP32_SHIFTER);
    let k = t - EXP32_SHIFTER;
    let r = madd(-k, EXP32_LN2_LO, madd(-k, EXP32_LN2_HI, xc));
    // The polynomial by Estrin's scheme: a short chain of dependent
    // operations, so that several exponentials overlap in the pipeline.
    let r2 = r * r;
    let r4 = r2 * r2;
    let p01 = madd(r, C[1], C[0]);
    let p23 = madd(r, C[3], C[2]);
    let p45 = madd(r, C[5], C[4]);
    let p67 = madd(r, C[7], C[6]);
    let p03 = madd(p23, r2, p01);
    let p47 = madd(p67, r2, p45);
    let p = madd(p47, r4, p03);
    // 2^k from the integer in t's low bits: (k + 127) << 23.
    let scale = f32::from_bits(t.to_bits().wrapping_add(127) << 23);
    if under { 0.0 } else { p * scale }
}

/// A running log-sum-exp: the sum of e^(x - max) and that max.
/// An empty sum has `max = -inf` and `sum = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lse {
    pub max: f64,
    pub sum: f64,
}

impl Lse {
    pub const EMPTY: Lse = Lse {
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };

    /// Merges two partial sums; the order of merges is fixed by the caller,
    /// which keeps results identical for any number of threads.
    #[inline]
    pub fn merge(self, o: Lse) -> Lse {
        if o.sum == 0.0 {
            return self;
        }
        if self.sum == 0.0 {
            return o;
        }
        // Equal shifts (every fold under a fixed shift): the factor below
        // would be e^0 = 1 exactly, so the plain sum has the same bits
        // without calling exp.
        if self.max == o.max {
            return Lse {
                max: self.max,
                sum: self.sum + o.sum,
            };
        }
        if self.max >= o.max {
            Lse {
                max: self.max,
                sum: self.sum + o.sum * (o.max - self.max).exp(),
            }
        } else {
            Lse {
                max: o.max,
                sum: self.sum * (self.max - o.max).exp() + o.sum,
            }
        }
    }

    /// log of the sum; -inf for an empty sum.
    pub fn ln(self) -> f64 {
        if self.sum == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.max + self.sum.ln()
        }
    }
}

/// The maximum of a slice (-inf when empty).
#[inline(always)]
pub fn max_of(xs: &[f64]) -> f64 {
    let mut acc = [f64::NEG_INFINITY; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] = acc[k].max(c[k]);
        }
    }
    let mut m = f64::NEG_INFINITY;
    for &x in chunks.remainder().iter().chain(acc.iter()) {
        if x > m {
            m = x;
        }
    }
    m
}

/// A sum in eight interleaved lanes, combined pairwise: a fixed order that
/// vectorizes.
#[inline(always)]
pub fn sum_lanes(xs: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let tail: f64 = chunks.remainder().iter().sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// log(e^a + e^b) without overflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// log(1 + e^x), accurate for very negative x (where it is about e^x).
pub fn softplus(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        0.0
    } else if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::cpu::{Fused, Portable};

    fn exp_nonpos(x: f64) -> f64 {
        let plain = exp::<Portable>(x);
        let fused = exp::<Fused>(x);
        assert!(
            plain == fused || ((plain - fused) / plain).abs() < 3e-16,
            "exp({x}) variants"
        );
        plain
    }

    /// A slice's partial sum, the way the fold builds one.
    fn lse_of(xs: &[f64]) -> Lse {
        let max = max_of(xs);
        if max == f64::NEG_INFINITY {
            return Lse::EMPTY;
        }
        let e: Vec<f64> = xs.iter().map(|&x| exp_nonpos(x - max)).collect();
        Lse {
            max,
            sum: sum_lanes(&e),
        }
    }

    #[test]
    fn exp_matches_std_within_3e_16() {
        let mut worst = 0.0f64;
        let mut x: f64 = -707.9;
        while x <= 1.0 {
            let want = x.exp();
            let got = exp_nonpos(x);
            let rel = ((got - want) / want).abs();
            worst = worst.max(rel);
            assert!(rel < 3e-16, "exp({x}): got {got}, want {want}, rel {rel}");
            x += 0.000_731;
        }
        assert!(worst > 0.0, "the comparison must have run");
        for x in [0.0, -0.0, -1e-300, 1e-12, -0.5 * std::f64::consts::LN_2] {
            assert!(((exp_nonpos(x) - x.exp()) / x.exp()).abs() < 3e-16);
        }
    }

    #[test]
    fn exp32_matches_f64_within_2e_7() {
        let mut worst = 0.0f64;
        let mut x: f32 = -86.99;
        while x <= 1.0 {
            let want = (x as f64).exp();
            for got in [exp32::<Portable>(x), exp32::<Fused>(x)] {
                let rel = ((got as f64 - want) / want).abs();
                worst = worst.max(rel);
                assert!(rel < 2e-7, "exp32({x}): got {got}, want {want}, rel {rel}");
            }
            x += 0.000_613;
        }
        assert!(worst > 1e-8, "the comparison must have run: {worst}");
        assert_eq!(exp32::<Portable>(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp32::<Fused>(-87.5), 0.0);
        assert_eq!(exp32::<Portable>(0.0), 1.0);
    }

    #[test]
    fn exp_flushes_below_floor() {
        assert_eq!(exp_nonpos(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpos(-709.0), 0.0);
        assert_eq!(exp_nonpos(-1e300), 0.0);
    }

    #[test]
    fn lse_merge_equals_direct_sum() {
        let xs: Vec<f64> = (0..37).map(|i| (i as f64 * 0.37).sin() * 30.0).collect();
        let direct = lse_of(&xs).ln();
        let merged = lse_of(&xs[..10])
            .merge(lse_of(&xs[10..11]))
            .merge(Lse::EMPTY)
            .merge(lse_of(&xs[11..]))
            .ln();
        let naive = xs.iter().map(|x| x.exp()).sum::<f64>().ln();
        assert!((direct - naive).abs() < 1e-13, "{direct} vs {naive}");
        assert!((merged - naive).abs() < 1e-13, "{merged} vs {naive}");
        assert_eq!(lse_of(&[f64::NEG_INFINITY]).ln(), f64::NEG_INFINITY);
    }

    #[test]
    fn lse_merge_of_equal_maxima_is_the_general_merge() {
        for (a, b) in [(1.5, 2.25), (1e-300, 3.0), (0.1, 0.2), (7.0, 1e-17)] {
            for max in [-3.5, 0.0, 10.0, 300.0] {
                let merged = Lse { max, sum: a }.merge(Lse { max, sum: b });
                // What the unequal branch computes, with exp(0) = 1.
                let general = a + b * (max - max).exp();
                assert_eq!(merged.max, max);
                assert_eq!(merged.sum.to_bits(), general.to_bits(), "{a} + {b}");
            }
        }
    }

    #[test]
    fn softplus_keeps_tiny_values() {
        // log(1 + e^-40) = 4.248354255291589e-18
        let got = softplus(-40.0);
        assert!((got - 4.248_354_255_291_589e-18).abs() < 1e-32, "{got}");
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
        assert!((softplus(800.0) - 800.0).abs() < 1e-12);
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
    }
}
