//! CPU features as types. Code that needs AVX2 and FMA takes an [`Avx2Fma`]
//! token, and the only way to get one is [`Avx2Fma::detect`], which checks
//! the CPU at run time: where a function holds a token, the instructions it
//! runs exist. Where they do not (other CPUs, other architectures), the
//! portable code runs, written so that the compiler vectorizes it.
//!
//! Two arithmetic forms of the same formulas exist, and the choice changes
//! the last bits of a result: [`Portable`] rounds a * b + c twice, [`Fused`]
//! once (a fused multiply-add). A run takes one form for all of its work
//! whatever the threads, so its bits do not depend on them.

/// How `a * b + c` is computed.
pub trait Madd: Copy {
    fn f64(a: f64, b: f64, c: f64) -> f64;
    fn f32(a: f32, b: f32, c: f32) -> f32;
}

/// The portable code: `a * b + c` rounded twice, no CPU feature needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

/// Fused multiply-adds (`mul_add`): one rounding. Correct on every CPU; a
/// single instruction only in code compiled for FMA, which is where the
/// pass uses it (under an [`Avx2Fma`] token).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fused;

impl Madd for Portable {
    #[inline(always)]
    fn f64(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
    #[inline(always)]
    fn f32(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

impl Madd for Fused {
    #[inline(always)]
    fn f64(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn f32(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Proof that the CPU has AVX2 and FMA: made only by [`Avx2Fma::detect`].
/// On other architectures the type has no value at all.
#[derive(Debug, Clone, Copy)]
pub struct Avx2Fma {
    #[cfg(target_arch = "x86_64")]
    _checked: (),
    #[cfg(not(target_arch = "x86_64"))]
    pub(crate) never: std::convert::Infallible,
}

impl Avx2Fma {
    /// A token where the CPU has AVX2 and FMA (the checks are cached by the
    /// standard library: two loads).
    #[inline]
    pub fn detect() -> Option<Avx2Fma> {
        #[cfg(target_arch = "x86_64")]
        {
            (std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"))
            .then_some(Avx2Fma { _checked: () })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// The token of AVX-512 (foundation) where the CPU also has it.
    #[inline]
    pub fn avx512(self) -> Option<Avx512> {
        self.has_avx512f().then_some(Avx512 { _avx2: self })
    }

    /// Whether the CPU also has AVX-512 (where `gemm` picks kernels of its
    /// own that outrun the packed AVX2 one).
    pub fn has_avx512f(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            match self.never {}
        }
    }
}

/// Proof that the CPU has AVX-512 (foundation) besides AVX2 and FMA: made
/// only by [`Avx2Fma::avx512`]. The float32 row loops run sixteen lanes
/// wide with it, with the very bits of their eight-lane AVX2 form.
#[derive(Debug, Clone, Copy)]
pub struct Avx512 {
    _avx2: Avx2Fma,
}

impl Avx512 {
    /// A token where the CPU has AVX-512F, AVX2 and FMA.
    #[inline]
    pub fn detect() -> Option<Avx512> {
        Avx2Fma::detect().and_then(Avx2Fma::avx512)
    }

    /// The AVX2 + FMA token it implies.
    #[inline]
    pub fn avx2(self) -> Avx2Fma {
        self._avx2
    }
}
