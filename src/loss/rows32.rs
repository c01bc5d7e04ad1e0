//! The row loop of the float32 fold: one row of a tile turned into its
//! logits, its maximum, the column maxima, and its exponentials summed into
//! the row's sum and the columns' sums, in one sweep over the row.
//!
//! Three forms give the same result: a portable one, and on x86-64 one
//! hand-vectorized with AVX2 and FMA (eight lanes, behind an
//! [`Avx2Fma`](super::cpu::Avx2Fma) token) and one with AVX-512 (sixteen
//! lanes, behind an [`Avx512`](super::cpu::Avx512) token). Both vector forms
//! perform the same operations in the same order as the portable one with
//! fused multiply-adds, so all three give the same bits (tested below): every
//! lane computes its element alone, and the row sum is kept in eight float64
//! lanes whatever the width, each adding its elements in index order. They
//! exist because the compiler does not vectorize the mixed float32/float64
//! sums.

use super::cpu::Madd;
use super::exp::exp32;

/// One row of a float32 tile, as the fold sees it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The row's dot products, one per column.
    pub g: &'a [f32],
    /// The row's factor of the logits.
    pub rs: f32,
    /// The columns' factors of the logits.
    pub cs: &'a [f32],
    /// The shift of every exponential.
    pub shift: f32,
    /// The column where the row meets itself (a diagonal tile): its logit
    /// is -inf, out of the maxima and the sums.
    pub own: Option<usize>,
    /// Columns whose exponentials stay out of both sums, in increasing
    /// order (checked); their logits and the maxima keep them.
    pub masked: &'a [usize],
}

/// Folds one row: logits `l[j] = (g[j] * rs) * cs[j]` (-inf at `own`) into
/// `l` and into the column maxima when given, and the float64 sum of
/// `exp32(l[j] - shift)` over the columns not masked, in eight interleaved
/// lanes combined pairwise (a fixed order), each exponential also added to
/// its column's sum when given. Returns the row's maximum logit and the
/// sum. `e` is scratch of `l`'s length; `g`, `cs` and the column slices are
/// at least as long as `l`, and the column maxima and sums come together
/// or not at all (checked).
#[inline(always)]
pub fn fold_row<M: Madd>(
    row: Row<'_>,
    l: &mut [f32],
    e: &mut [f32],
    colmax: Option<&mut [f32]>,
    colsum: Option<&mut [f64]>,
) -> (f32, f64) {
    check(&row, l.len());
    assert_eq!(
        colmax.is_some(),
        colsum.is_some(),
        "column maxima and sums come together"
    );
    for ((l, &g), &c) in l.iter_mut().zip(row.g).zip(row.cs) {
        *l = logit(g, row.rs, c);
    }
    if let Some(k) = row.own {
        l[k] = f32::NEG_INFINITY;
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
    let row_max = chunks
        .remainder()
        .iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &x| max(m, x));

    for (e, &x) in e.iter_mut().zip(l.iter()) {
        *e = exp32::<M>(x - row.shift);
    }
    for &k in row.masked {
        e[k] = 0.0;
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
    (row_max, combine(&acc) + tail)
}

/// The slices of `row` cover `n` columns, and its masked columns are
/// increasing and inside them: what every form relies on.
#[inline(always)]
fn check(row: &Row<'_>, n: usize) {
    assert!(
        row.g.len() >= n && row.cs.len() >= n,
        "a row of {n} columns"
    );
    assert!(
        row.masked.windows(2).all(|w| w[0] < w[1]) && row.masked.last().is_none_or(|&k| k < n),
        "masked columns increasing and inside the row"
    );
    assert!(row.own.is_none_or(|k| k < n), "own column inside the row");
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

#[inline(always)]
fn combine(acc: &[f64; 8]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(target_arch = "x86_64")]
mod simd {
    //! What both vector forms share: raw views of the optional slices and
    //! the scalar columns past the last full vector.

    use super::{Row, logit, max};
    use crate::loss::cpu::Fused;
    use crate::loss::exp::exp32;

    /// The column slices as pointers, checked to cover `n` columns: both
    /// or neither (the vector loops are built for one case or the other).
    pub(super) fn columns(
        n: usize,
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> Option<(*mut f32, *mut f64)> {
        match (colmax, colsum) {
            (Some(m), Some(s)) => {
                assert!(m.len() >= n && s.len() >= n, "columns of {n} columns");
                Some((m.as_mut_ptr(), s.as_mut_ptr()))
            }
            (None, None) => None,
            _ => panic!("column maxima and sums come together"),
        }
    }

    /// Columns `from..l.len()` one at a time, as the portable form computes
    /// them; `p` is the index of the first masked column not yet passed.
    /// Returns their maximum logit and the sum of their exponentials in
    /// index order.
    ///
    /// # Safety
    /// The column pointers, when given, point to at least `l.len()`
    /// elements, and the row was checked for `l.len()` columns.
    #[inline(always)]
    pub(super) unsafe fn tail(
        row: &Row<'_>,
        l: &mut [f32],
        from: usize,
        mut p: usize,
        cols: Option<(*mut f32, *mut f64)>,
    ) -> (f32, f64) {
        let mut row_max = f32::NEG_INFINITY;
        let mut sum = 0.0;
        for (j, l) in l.iter_mut().enumerate().skip(from) {
            let x = if row.own == Some(j) {
                f32::NEG_INFINITY
            } else {
                logit(row.g[j], row.rs, row.cs[j])
            };
            *l = x;
            row_max = max(row_max, x);
            let e = if row.masked.get(p) == Some(&j) {
                p += 1;
                0.0
            } else {
                exp32::<Fused>(x - row.shift) as f64
            };
            sum += e;
            if let Some((cm, cs)) = cols {
                // SAFETY: j < the row's length, which the caller's slices cover.
                unsafe {
                    *cm.add(j) = max(*cm.add(j), x);
                    *cs.add(j) += e;
                }
            }
        }
        (row_max, sum)
    }

    /// The columns of a row whose lanes change: its own (-inf) and the
    /// masked ones (exponential 0), met in increasing order. A vector of
    /// columns holding neither costs one comparison.
    pub(super) struct Specials<'a> {
        own: usize,
        masked: &'a [usize],
        /// The first masked column not yet passed.
        pub(super) p: usize,
        /// The first own or masked column not yet passed (usize::MAX when none).
        next: usize,
    }

    impl<'a> Specials<'a> {
        #[inline(always)]
        pub(super) fn new(row: &Row<'a>) -> Self {
            let own = row.own.unwrap_or(usize::MAX);
            let first = row.masked.first().copied().unwrap_or(usize::MAX);
            Specials {
                own,
                masked: row.masked,
                p: 0,
                next: own.min(first),
            }
        }

        /// The bits of the own column and of the masked columns in
        /// `[j, j + width)`, moving past them; vectors are asked in order.
        #[inline(always)]
        pub(super) fn bits(&mut self, j: usize, width: usize) -> (u32, u32) {
            if self.next >= j + width {
                return (0, 0);
            }
            self.some(j, width)
        }

        #[cold]
        fn some(&mut self, j: usize, width: usize) -> (u32, u32) {
            let end = j + width;
            let own = if (j..end).contains(&self.own) {
                1 << (self.own - j)
            } else {
                0
            };
            let mut out = 0;
            while let Some(&k) = self.masked.get(self.p).filter(|&&k| k < end) {
                out |= 1 << (k - j);
                self.p += 1;
            }
            let own_next = if self.own >= end {
                self.own
            } else {
                usize::MAX
            };
            let masked_next = self.masked.get(self.p).copied().unwrap_or(usize::MAX);
            self.next = own_next.min(masked_next);
            (own, out)
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    //! The AVX2 + FMA form of [`fold_row`](super::fold_row): callable only
    //! with an [`Avx2Fma`] token, the proof that the CPU has both features.

    use std::arch::x86_64::*;

    use super::simd::{Specials, columns, tail};
    use super::{Row, check, combine, max};
    use crate::loss::cpu::Avx2Fma;
    use crate::loss::exp::{EXP32_FLOOR, EXP32_LN2_HI, EXP32_LN2_LO, EXP32_SHIFTER, EXP32_TAYLOR};

    /// [`super::fold_row`] in AVX2 with fused multiply-adds, without
    /// scratch: the exponentials stay in registers.
    #[inline]
    pub fn fold_row(
        cpu: Avx2Fma,
        row: Row<'_>,
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        let _ = cpu;
        // SAFETY: the token exists only where the CPU has AVX2 and FMA.
        unsafe { fold_row_avx2(row, l, colmax, colsum) }
    }

    /// exp32::<Fused> on eight lanes, operation for operation where x is
    /// at least the floor, and 0 below it. exp32 clamps x to the floor
    /// first, which changes nothing above it; below it, the lanes compute
    /// garbage (NaN for -inf) that the final mask turns into 0, as exp32
    /// does, so the clamp is left out.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let c = |k: usize| _mm256_set1_ps(EXP32_TAYLOR[k]);
        let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP32_FLOOR));
        let xc = x;
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
    fn fold_row_avx2(
        row: Row<'_>,
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        let n = l.len();
        check(&row, n);
        let cols = columns(n, colmax, colsum);
        // SAFETY: the row was checked and the pointers cover n columns.
        unsafe {
            match cols {
                Some((cm, cs)) => body::<true>(&row, l, cm, cs),
                None => body::<false>(&row, l, std::ptr::null_mut(), std::ptr::null_mut()),
            }
        }
    }

    /// The loop of [`fold_row_avx2`], built with (`COLS`) or without the
    /// column maxima and sums.
    ///
    /// # Safety
    /// The row was checked for `l.len()` columns, and with `COLS` the
    /// pointers cover as many.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn body<const COLS: bool>(
        row: &Row<'_>,
        l: &mut [f32],
        cm: *mut f32,
        cs: *mut f64,
    ) -> (f32, f64) {
        let n = l.len();
        let body = n - n % 8;
        let (g, c) = (row.g.as_ptr(), row.cs.as_ptr());
        let vrs = _mm256_set1_ps(row.rs);
        let vshift = _mm256_set1_ps(row.shift);
        let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
        // Lane k of a mask is set where bit k of `bits` is.
        let pow2 = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let lanes = |bits: u32| {
            let b = _mm256_and_si256(_mm256_set1_epi32(bits as i32), pow2);
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, pow2))
        };
        let mut special = Specials::new(row);
        let mut vmax = ninf;
        let mut lo = _mm256_setzero_pd();
        let mut hi = _mm256_setzero_pd();
        let mut j = 0;
        while j < body {
            // SAFETY: j + 8 <= body <= n, and every slice and pointer covers
            // n columns.
            unsafe {
                let mut x = _mm256_mul_ps(
                    _mm256_mul_ps(_mm256_loadu_ps(g.add(j)), vrs),
                    _mm256_loadu_ps(c.add(j)),
                );
                let (own, out) = special.bits(j, 8);
                if own != 0 {
                    x = _mm256_blendv_ps(x, ninf, lanes(own));
                }
                _mm256_storeu_ps(l.as_mut_ptr().add(j), x);
                // max(a, b) with b winning only when greater: vmaxps(x, m)
                // returns its second operand unless the first is greater.
                vmax = _mm256_max_ps(x, vmax);
                if COLS {
                    let m = _mm256_loadu_ps(cm.add(j));
                    _mm256_storeu_ps(cm.add(j), _mm256_max_ps(x, m));
                }
                let mut e = exp8(_mm256_sub_ps(x, vshift));
                if out != 0 {
                    e = _mm256_andnot_ps(lanes(out), e);
                }
                let e_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
                let e_hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(e));
                lo = _mm256_add_pd(lo, e_lo);
                hi = _mm256_add_pd(hi, e_hi);
                if COLS {
                    let s = cs.add(j);
                    _mm256_storeu_pd(s, _mm256_add_pd(_mm256_loadu_pd(s), e_lo));
                    _mm256_storeu_pd(s.add(4), _mm256_add_pd(_mm256_loadu_pd(s.add(4)), e_hi));
                }
            }
            j += 8;
        }
        let cols = COLS.then_some((cm, cs));
        // SAFETY: the caller's promise.
        let (tail_max, tail) = unsafe { tail(row, l, body, special.p, cols) };
        let mut m = [0f32; 8];
        let mut acc = [0f64; 8];
        // SAFETY: m holds 8 floats, acc 8 doubles.
        unsafe {
            _mm256_storeu_ps(m.as_mut_ptr(), vmax);
            _mm256_storeu_pd(acc.as_mut_ptr(), lo);
            _mm256_storeu_pd(acc.as_mut_ptr().add(4), hi);
        }
        let row_max = m.iter().fold(tail_max, |a, &x| max(a, x));
        (row_max, combine(&acc) + tail)
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    //! The AVX-512 form of [`fold_row`](super::fold_row), sixteen lanes at a
    //! time: callable only with an [`Avx512`] token. Each lane computes what
    //! the same lane of the AVX2 form computes, and the row sum stays in
    //! eight float64 lanes (a vector of sixteen exponentials adds its first
    //! eight, then its last eight), so the bits are the AVX2 form's.

    use std::arch::x86_64::*;

    use super::simd::{Specials, columns, tail};
    use super::{Row, check, combine, max};
    use crate::loss::cpu::Avx512;
    use crate::loss::exp::{EXP32_FLOOR, EXP32_LN2_HI, EXP32_LN2_LO, EXP32_SHIFTER, EXP32_TAYLOR};

    /// [`super::fold_row`] in AVX-512 with fused multiply-adds, without
    /// scratch.
    #[inline]
    pub fn fold_row(
        cpu: Avx512,
        row: Row<'_>,
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        let _ = cpu;
        // SAFETY: the token exists only where the CPU has AVX-512F, AVX2
        // and FMA.
        unsafe { fold_row_avx512(row, l, colmax, colsum) }
    }

    /// exp32::<Fused> on sixteen lanes of `keep` (the others are 0), as
    /// the AVX2 form's `exp8` computes it: operation for operation where x
    /// is at least the floor, and 0 below it (without the clamp).
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn exp16(x: __m512, keep: __mmask16) -> __m512 {
        let c = |k: usize| _mm512_set1_ps(EXP32_TAYLOR[k]);
        let under = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(EXP32_FLOOR));
        let xc = x;
        let shifter = _mm512_set1_ps(EXP32_SHIFTER);
        let t = _mm512_fmadd_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E), shifter);
        let k = _mm512_sub_ps(t, shifter);
        let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EXP32_LN2_HI), xc);
        let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EXP32_LN2_LO), r);
        let r2 = _mm512_mul_ps(r, r);
        let r4 = _mm512_mul_ps(r2, r2);
        let p01 = _mm512_fmadd_ps(r, c(1), c(0));
        let p23 = _mm512_fmadd_ps(r, c(3), c(2));
        let p45 = _mm512_fmadd_ps(r, c(5), c(4));
        let p67 = _mm512_fmadd_ps(r, c(7), c(6));
        let p03 = _mm512_fmadd_ps(p23, r2, p01);
        let p47 = _mm512_fmadd_ps(p67, r2, p45);
        let p = _mm512_fmadd_ps(p47, r4, p03);
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_castps_si512(t),
            _mm512_set1_epi32(127),
        ));
        _mm512_maskz_mul_ps(keep & !under, p, _mm512_castsi512_ps(bits))
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    fn fold_row_avx512(
        row: Row<'_>,
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        let n = l.len();
        check(&row, n);
        let cols = columns(n, colmax, colsum);
        // SAFETY: the row was checked and the pointers cover n columns.
        unsafe {
            match cols {
                Some((cm, cs)) => body::<true>(&row, l, cm, cs),
                None => body::<false>(&row, l, std::ptr::null_mut(), std::ptr::null_mut()),
            }
        }
    }

    /// The loop of [`fold_row_avx512`], built with (`COLS`) or without the
    /// column maxima and sums: vectors of sixteen columns, then one of
    /// eight, then single columns.
    ///
    /// # Safety
    /// The row was checked for `l.len()` columns, and with `COLS` the
    /// pointers cover as many.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn body<const COLS: bool>(
        row: &Row<'_>,
        l: &mut [f32],
        cm: *mut f32,
        cs: *mut f64,
    ) -> (f32, f64) {
        let n = l.len();
        let body = n - n % 8;
        let (g, c) = (row.g.as_ptr(), row.cs.as_ptr());
        let vrs = _mm512_set1_ps(row.rs);
        let vshift = _mm512_set1_ps(row.shift);
        let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut special = Specials::new(row);
        let mut vmax = ninf;
        let mut acc = _mm512_setzero_pd();
        // The first `width` lanes (16 or 8) of columns j.., all of them
        // valid (`valid` masks the others).
        let mut chunk = |j: usize, width: usize, valid: __mmask16| {
            // SAFETY: j + width <= body <= n, every slice and pointer covers
            // n columns, and the loads and stores are masked to the first
            // `width` lanes.
            unsafe {
                let x = _mm512_mul_ps(
                    _mm512_mul_ps(_mm512_maskz_loadu_ps(valid, g.add(j)), vrs),
                    _mm512_maskz_loadu_ps(valid, c.add(j)),
                );
                let (own, out) = special.bits(j, width);
                let x = if own != 0 {
                    _mm512_mask_blend_ps(own as __mmask16, x, ninf)
                } else {
                    x
                };
                _mm512_mask_storeu_ps(l.as_mut_ptr().add(j), valid, x);
                // max(a, b) with b winning only when greater, as in AVX2.
                vmax = _mm512_mask_max_ps(vmax, valid, x, vmax);
                if COLS {
                    let m = _mm512_maskz_loadu_ps(valid, cm.add(j));
                    _mm512_mask_storeu_ps(cm.add(j), valid, _mm512_max_ps(x, m));
                }
                let e = exp16(_mm512_sub_ps(x, vshift), valid & !(out as __mmask16));
                let e_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(e));
                acc = _mm512_add_pd(acc, e_lo);
                if COLS {
                    let s = cs.add(j);
                    _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), e_lo));
                }
                if width == 16 {
                    let e_hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                        _mm512_castps_pd(e),
                    )));
                    acc = _mm512_add_pd(acc, e_hi);
                    if COLS {
                        let s = cs.add(j + 8);
                        _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), e_hi));
                    }
                }
            }
        };
        let mut j = 0;
        while j + 16 <= body {
            chunk(j, 16, 0xffff);
            j += 16;
        }
        if j < body {
            chunk(j, 8, 0x00ff);
        }
        let cols = COLS.then_some((cm, cs));
        // SAFETY: the caller's promise.
        let (tail_max, tail) = unsafe { tail(row, l, body, special.p, cols) };
        let mut m = [0f32; 16];
        let mut lanes = [0f64; 8];
        // SAFETY: m holds 16 floats, lanes 8 doubles.
        unsafe {
            _mm512_storeu_ps(m.as_mut_ptr(), vmax);
            _mm512_storeu_pd(lanes.as_mut_ptr(), acc);
        }
        let row_max = m.iter().fold(tail_max, |a, &x| max(a, x));
        (row_max, combine(&lanes) + tail)
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::loss::cpu::{Avx2Fma, Avx512, Fused, Portable};

    /// Deterministic values in [lo, hi).
    fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                lo + (hi - lo) * ((s >> 8) as f32 / (1u32 << 24) as f32)
            })
            .collect()
    }

    /// What a form of the row fold returns and leaves behind: the row's
    /// maximum and sum, the logits, the column maxima and sums.
    type Out = (f32, f64, Vec<f32>, Vec<f32>, Vec<f64>);

    /// A row: its length, own column, masked columns, whether it has column
    /// slices, and its shift.
    type Case = (usize, Option<usize>, Vec<usize>, bool, f32);

    /// The rows every form is run on: lengths around the vector widths,
    /// with and without the row's own column, masked columns and the column
    /// slices. The logits span what a float32 fold meets at tau 0.025
    /// (|logit| <= 40) under its shift of 40; a shift of 60 also takes some
    /// below the exponential's floor (-87), where every form gives 0.
    fn cases() -> Vec<Case> {
        let mut out = Vec::new();
        for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 40, 256] {
            let own = [None, Some(0), Some(n / 2), n.checked_sub(1)];
            let masked = [
                vec![],
                (0..n).step_by(3).collect(),
                (0..n).filter(|k| k % 16 == 7 || k + 1 == n).collect(),
            ];
            for own in own.iter().copied().filter(|o| n > 0 || o.is_none()) {
                for m in &masked {
                    for columns in [true, false] {
                        for shift in [40.0, 60.0] {
                            out.push((n, own, m.clone(), columns, shift));
                        }
                    }
                }
            }
        }
        out
    }

    /// Runs `form` on a case.
    fn run(
        (n, own, masked, columns, shift): &Case,
        form: impl Fn(Row<'_>, &mut [f32], Option<&mut [f32]>, Option<&mut [f64]>) -> (f32, f64),
    ) -> Out {
        let n = *n;
        let g = values(n, 1, -1.0, 1.0);
        let cs = values(n, 2, 0.9, 1.1);
        let row = Row {
            g: &g,
            rs: 36.0,
            cs: &cs,
            shift: *shift,
            own: *own,
            masked,
        };
        let mut l = vec![f32::NAN; n];
        let mut colmax = values(n, 3, -30.0, 30.0);
        let mut colsum: Vec<f64> = values(n, 4, 0.0, 2.0).iter().map(|&x| x as f64).collect();
        let (m, s) = form(
            row,
            &mut l,
            columns.then_some(&mut colmax[..]),
            columns.then_some(&mut colsum[..]),
        );
        (m, s, l, colmax, colsum)
    }

    fn bits(o: &Out) -> (u32, u64, Vec<u32>, Vec<u32>, Vec<u64>) {
        (
            o.0.to_bits(),
            o.1.to_bits(),
            o.2.iter().map(|x| x.to_bits()).collect(),
            o.3.iter().map(|x| x.to_bits()).collect(),
            o.4.iter().map(|x| x.to_bits()).collect(),
        )
    }

    fn portable<M: Madd>(
        row: Row<'_>,
        l: &mut [f32],
        colmax: Option<&mut [f32]>,
        colsum: Option<&mut [f64]>,
    ) -> (f32, f64) {
        let mut e = vec![0f32; l.len()];
        fold_row::<M>(row, l, &mut e, colmax, colsum)
    }

    /// Checks a form's output against the float64 reference: each logit
    /// within float32 rounding of `g * rs * cs`, the maxima exact over the
    /// logits, each sum within 2e-7 (the exponential's bound) of the float64
    /// exponentials of the shifted logits.
    fn check_reference(case: &Case, out: &Out) {
        let (n, own, masked, columns, shift) = case;
        let before = run(case, |_, _, _, _| (0.0, 0.0));
        let g = values(*n, 1, -1.0, 1.0);
        let cs = values(*n, 2, 0.9, 1.1);
        let (row_max, sum, l, colmax, colsum) = out;
        let mut want_max = f32::NEG_INFINITY;
        let mut want_sum = 0.0f64;
        for j in 0..*n {
            let exact = g[j] as f64 * 36.0 * cs[j] as f64;
            if *own == Some(j) {
                assert_eq!(l[j], f32::NEG_INFINITY, "own column {j} of {case:?}");
            } else {
                assert!(
                    (l[j] as f64 - exact).abs() <= 4e-7 * exact.abs(),
                    "logit {j} of {case:?}"
                );
            }
            want_max = want_max.max(l[j]);
            // The shifted logit as every form computes it (in float32).
            let e = if masked.contains(&j) || *own == Some(j) || l[j] - shift < -87.0 {
                0.0
            } else {
                ((l[j] - shift) as f64).exp()
            };
            want_sum += e;
            if *columns {
                assert_eq!(
                    colmax[j],
                    before.3[j].max(l[j]),
                    "column max {j} of {case:?}"
                );
                // The column sum before is below 2: the addition rounds by
                // at most 2.3e-16.
                let added = colsum[j] - before.4[j];
                assert!(
                    (added - e).abs() <= 2e-7 * e + 2.3e-16,
                    "column sum {j} of {case:?}"
                );
            } else {
                assert_eq!(colmax[j], before.3[j]);
                assert_eq!(colsum[j], before.4[j]);
            }
        }
        assert_eq!(*row_max, want_max, "row max of {case:?}");
        assert!(
            (sum - want_sum).abs() <= 2e-7 * want_sum,
            "row sum of {case:?}: {sum} vs {want_sum}"
        );
    }

    #[test]
    fn the_portable_forms_match_the_reference() {
        for case in cases() {
            check_reference(&case, &run(&case, portable::<Portable>));
            check_reference(&case, &run(&case, portable::<Fused>));
        }
    }

    #[test]
    #[cfg_attr(
        not(infonce_test_avx2),
        ignore = "the AVX2 form needs a CPU with AVX2 and FMA"
    )]
    fn the_avx2_form_gives_the_portable_fused_bits() {
        let cpu = Avx2Fma::detect()
            .expect("built on a CPU with AVX2 and FMA, run on one without: rebuild here");
        for case in cases() {
            let want = run(&case, portable::<Fused>);
            let got = run(&case, |r, l, m, s| avx2::fold_row(cpu, r, l, m, s));
            check_reference(&case, &got);
            assert_eq!(bits(&got), bits(&want), "{case:?}");
        }
    }

    #[test]
    #[cfg_attr(
        not(infonce_test_avx512),
        ignore = "the AVX-512 form needs a CPU with AVX-512F, AVX2 and FMA"
    )]
    fn the_avx512_form_gives_the_portable_fused_bits() {
        let cpu = Avx512::detect()
            .expect("built on a CPU with AVX-512F, run on one without: rebuild here");
        for case in cases() {
            let want = run(&case, portable::<Fused>);
            let got = run(&case, |r, l, m, s| avx512::fold_row(cpu, r, l, m, s));
            check_reference(&case, &got);
            assert_eq!(bits(&got), bits(&want), "{case:?}");
        }
    }

    #[test]
    #[should_panic(expected = "masked columns increasing")]
    fn masked_columns_out_of_order_are_refused() {
        let g = [0.5f32; 4];
        let row = Row {
            g: &g,
            rs: 1.0,
            cs: &g,
            shift: 1.0,
            own: None,
            masked: &[2, 1],
        };
        let (mut l, mut e) = ([0f32; 4], [0f32; 4]);
        fold_row::<Portable>(row, &mut l, &mut e, None, None);
    }
}
