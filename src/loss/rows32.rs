//! The two row loops of the float32 fold, in a portable form and, on
//! x86-64, hand-vectorized with AVX2 and FMA (behind an
//! [`Avx2Fma`](super::cpu::Avx2Fma) token). The AVX2 form performs the
//! same operations in the same order as the portable one with fused
//! multiply-adds, so both give the same bits (tested below); it exists
//! because the compiler does not vectorize the mixed float32/float64 sums.

use super::cpu::Madd;
use super::exp::exp32;

/// Logits of one row, `l[j] = (g[j] * rs) * cs[j]`, folded into the column
/// maxima when given; returns the row's maximum.
#[inline(always)]
pub fn logits(g: &[f32], rs: f32, cs: &[f32], l: &mut [f32], colmax: Option<&mut [f32]>) -> f32 {
    for ((l, &g), &c) in l.iter_mut().zip(g).zip(cs) {
        *l = logit(g, rs, c);
    }
    if let Some(colmax) = colmax {
        for (m, &x) in colmax.iter_mut().zip(l.iter()) {
            *m = max(*m, x);
        }
    }
    let mut acc = [f32::NEG_INFINITY; 8];
    let mut chunks = l.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] = max(acc[k], c[k]);
        }
    }
    chunks
        .remainder()
        .iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &x| max(m, x))
}

/// The maximum of `l` (-inf when empty).
pub fn max_of(l: &[f32]) -> f32 {
    l.iter().fold(f32::NEG_INFINITY, |m, &x| max(m, x))
}

/// A float32 tile logit: the one expression every fold of a float32 tile uses.
#[inline(always)]
pub fn logit(g: f32, row_scale: f32, col_scale: f32) -> f32 {
    g * row_scale * col_scale
}

/// The larger of two numbers that are never NaN.
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// The float64 sum of exp32(x - shift) over `l`, in eight interleaved lanes
/// combined pairwise (a fixed order); with `colsum`, each exponential is
/// also added to its column's sum. `e` is scratch of `l`'s length.
#[inline(always)]
pub fn exp_sums<M: Madd>(l: &[f32], shift: f32, e: &mut [f32], colsum: Option<&mut [f64]>) -> f64 {
    for (e, &x) in e.iter_mut().zip(l) {
        *e = exp32::<M>(x - shift);
    }
    if let Some(colsum) = colsum {
        for (s, &e) in colsum.iter_mut().zip(e.iter()) {
            *s += e as f64;
        }
    }
    let mut acc = [0.0f64; 8];
    let mut chunks = e.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] += c[k] as f64;
        }
    }
    let tail = chunks.remainder().iter().fold(0.0, |s, &x| s + x as f64);
    combine(&acc) + tail
}

#[inline(always)]
fn combine(acc: &[f64; 8]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! AVX2 + FMA forms of the loops above: callable only with an
    //! [`Avx2Fma`] token, the proof that the CPU has both features.

    use std::arch::x86_64::*;

    use super::{combine, logit, max};
    use crate::loss::cpu::{Avx2Fma, Fused};
    use crate::loss::exp::{
        EXP32_FLOOR, EXP32_LN2_HI, EXP32_LN2_LO, EXP32_SHIFTER, EXP32_TAYLOR, exp32,
    };

    /// [`super::logits`] in AVX2; `g`, `cs` and `colmax` (when given) are
    /// at least as long as `l` (checked).
    #[inline]
    pub fn logits(
        cpu: Avx2Fma,
        g: &[f32],
        rs: f32,
        cs: &[f32],
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
    ) -> f32 {
        let _ = cpu;
        // SAFETY: the token exists only where the CPU has AVX2 and FMA.
        unsafe { logits_avx2(g, rs, cs, l, colmax) }
    }

    /// [`super::exp_sums`] with fused multiply-adds, in AVX2, without
    /// scratch; `colsum` (when given) is at least as long as `l` (checked).
    #[inline]
    pub fn exp_sums(cpu: Avx2Fma, l: &[f32], shift: f32, colsum: Option<&mut [f64]>) -> f64 {
        let _ = cpu;
        // SAFETY: the token exists only where the CPU has AVX2 and FMA.
        unsafe { exp_sums_avx2(l, shift, colsum) }
    }

    #[target_feature(enable = "avx2,fma")]
    fn logits_avx2(
        g: &[f32],
        rs: f32,
        cs: &[f32],
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
    ) -> f32 {
        let n = l.len();
        assert!(g.len() >= n && cs.len() >= n);
        let body = n - n % 8;
        let vrs = _mm256_set1_ps(rs);
        let mut vmax = _mm256_set1_ps(f32::NEG_INFINITY);
        let cm = colmax.map(|c| {
            assert!(c.len() >= n);
            c.as_mut_ptr()
        });
        let mut j = 0;
        while j < body {
            // SAFETY: j + 8 <= body <= n and every slice holds n elements.
            unsafe {
                let x = _mm256_mul_ps(
                    _mm256_mul_ps(_mm256_loadu_ps(g.as_ptr().add(j)), vrs),
                    _mm256_loadu_ps(cs.as_ptr().add(j)),
                );
                _mm256_storeu_ps(l.as_mut_ptr().add(j), x);
                // max(a, b) with b winning only when greater: vmaxps(x, m)
                // returns its second operand unless the first is greater.
                vmax = _mm256_max_ps(x, vmax);
                if let Some(cm) = cm {
                    let m = _mm256_loadu_ps(cm.add(j));
                    _mm256_storeu_ps(cm.add(j), _mm256_max_ps(x, m));
                }
            }
            j += 8;
        }
        for j in body..n {
            l[j] = logit(g[j], rs, cs[j]);
            if let Some(cm) = cm {
                // SAFETY: j < n <= the column maxima's length.
                unsafe { *cm.add(j) = max(*cm.add(j), l[j]) };
            }
        }
        let mut acc = [0f32; 8];
        // SAFETY: acc holds 8 floats.
        unsafe { _mm256_storeu_ps(acc.as_mut_ptr(), vmax) };
        l[body..]
            .iter()
            .chain(acc.iter())
            .fold(f32::NEG_INFINITY, |m, &x| max(m, x))
    }

    /// exp32::<Fused> on eight lanes, operation for operation.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let c = |k: usize| _mm256_set1_ps(EXP32_TAYLOR[k]);
        let floor = _mm256_set1_ps(EXP32_FLOOR);
        let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, floor);
        // vmaxps returns its second operand unless the first is greater:
        // the floor where x is below it, as in exp32.
        let xc = _mm256_max_ps(x, floor);
        let shifter = _mm256_set1_ps(EXP32_SHIFTER);
        let t = _mm256_fmadd_ps(xc, _mm256_set1_ps(std::f32::consts::LOG2_E), shifter);
        let k = _mm256_sub_ps(t, shifter);
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EXP32_LN2_HI), xc);
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EXP32_LN2_LO), r);
        let r2 = _mm256_mul_ps(r, r);
        let r4 = _mm256_mul_ps(r2, r2);
        let p01 = _mm256_fmadd_ps(r, c(1), c(0));
        let p23 = _mm256_fmadd_ps(r, c(3), c(2));
        let p45 = _mm256_fmadd_ps(r, c(5), c(4));
        let p67 = _mm256_fmadd_ps(r, c(7), c(6));
        let p03 = _mm256_fmadd_ps(p23, r2, p01);
        let p47 = _mm256_fmadd_ps(p67, r2, p45);
        let p = _mm256_fmadd_ps(p47, r4, p03);
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_castps_si256(t),
            _mm256_set1_epi32(127),
        ));
        let v = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
        _mm256_andnot_ps(under, v)
    }

    #[target_feature(enable = "avx2,fma")]
    fn exp_sums_avx2(l: &[f32], shift: f32, colsum: Option<&mut [f64]>) -> f64 {
        let n = l.len();
        let body = n - n % 8;
        let cs = colsum.map(|c| {
            assert!(c.len() >= n);
            c.as_mut_ptr()
        });
        let vshift = _mm256_set1_ps(shift);
        let mut lo = _mm256_setzero_pd();
        let mut hi = _mm256_setzero_pd();
        // Four vectors at a time where possible: the exponential is one long
        // chain of dependent operations, and four independent chains keep
        // the floating-point units busy. Each lane still adds its elements
        // in index order.
        let mut add = |j: usize, e: __m256| {
            let e_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
            let e_hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(e));
            lo = _mm256_add_pd(lo, e_lo);
            hi = _mm256_add_pd(hi, e_hi);
            if let Some(cs) = cs {
                // SAFETY: j + 8 <= n, the length of colsum.
                unsafe {
                    let p = cs.add(j);
                    _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), e_lo));
                    _mm256_storeu_pd(p.add(4), _mm256_add_pd(_mm256_loadu_pd(p.add(4)), e_hi));
                }
            }
        };
        // SAFETY: (the loads) j + 8 <= body <= n, the length of l.
        let load = |j: usize| unsafe { _mm256_sub_ps(_mm256_loadu_ps(l.as_ptr().add(j)), vshift) };
        let mut j = 0;
        while j + 32 <= body {
            let e0 = exp8(load(j));
            let e1 = exp8(load(j + 8));
            let e2 = exp8(load(j + 16));
            let e3 = exp8(load(j + 24));
            add(j, e0);
            add(j + 8, e1);
            add(j + 16, e2);
            add(j + 24, e3);
            j += 32;
        }
        while j < body {
            add(j, exp8(load(j)));
            j += 8;
        }
        let mut acc = [0f64; 8];
        // SAFETY: acc holds 8 doubles.
        unsafe {
            _mm256_storeu_pd(acc.as_mut_ptr(), lo);
            _mm256_storeu_pd(acc.as_mut_ptr().add(4), hi);
        }
        let mut tail = 0.0;
        for (j, &x) in l.iter().enumerate().skip(body) {
            let e = exp32::<Fused>(x - shift) as f64;
            tail += e;
            if let Some(cs) = cs {
                // SAFETY: j < n <= the column sums' length.
                unsafe { *cs.add(j) += e };
            }
        }
        combine(&acc) + tail
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::loss::cpu::{Avx2Fma, Fused};

    /// Deterministic values in [lo, hi), with a few -inf (masked entries).
    fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|k| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if k % 29 == 3 {
                    f32::NEG_INFINITY
                } else {
                    lo + (hi - lo) * ((s >> 8) as f32 / (1u32 << 24) as f32)
                }
            })
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(infonce_test_avx2),
        ignore = "the AVX2 rows need a CPU with AVX2 and FMA"
    )]
    fn avx2_rows_give_the_portable_bits() {
        let cpu = Avx2Fma::detect()
            .expect("built on a CPU with AVX2 and FMA, run on one without: rebuild here");
        for n in [0, 1, 7, 8, 9, 31, 256] {
            let g = values(n, 1, -300.0, 300.0);
            let g: Vec<f32> = g
                .iter()
                .map(|x| if x.is_finite() { *x } else { 0.5 })
                .collect();
            let cs = values(n, 2, 0.001, 0.01);
            let cs: Vec<f32> = cs
                .iter()
                .map(|x| if x.is_finite() { *x } else { 0.004 })
                .collect();
            let (mut l1, mut l2) = (vec![0f32; n], vec![0f32; n]);
            let (mut m1, mut m2) = (values(n, 3, -3.0, 3.0), values(n, 3, -3.0, 3.0));
            let r1 = logits(&g, 10.0, &cs, &mut l1, Some(&mut m1));
            let r2 = avx2::logits(cpu, &g, 10.0, &cs, &mut l2, Some(&mut m2));
            assert_eq!(r1.to_bits(), r2.to_bits(), "row max, n = {n}");
            assert_eq!(l1, l2, "logits, n = {n}");
            assert_eq!(m1, m2, "column maxima, n = {n}");

            let l = values(n, 4, -80.5, 0.01);
            let mut e = vec![0f32; n];
            let (mut c1, mut c2) = (vec![0.25f64; n], vec![0.25f64; n]);
            let s1 = exp_sums::<Fused>(&l, 0.0, &mut e, Some(&mut c1));
            let s2 = avx2::exp_sums(cpu, &l, 0.0, Some(&mut c2));
            assert_eq!(s1.to_bits(), s2.to_bits(), "row sum, n = {n}");
            assert_eq!(c1, c2, "column sums, n = {n}");
            let s3 = avx2::exp_sums(cpu, &l, 0.0, None);
            assert_eq!(s1.to_bits(), s3.to_bits(), "row sum alone, n = {n}");
            if n > 0 {
                let direct: f64 = l.iter().map(|&x| (x as f64).exp()).sum();
                assert!((s1 - direct).abs() <= 2e-7 * direct, "{s1} vs {direct}");
            }
        }
    }
}
