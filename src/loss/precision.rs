//! The precision policy: in which precision the similarity products of a run
//! are computed, and why.
//!
//! float64 input is multiplied in float64. float32 (and float16) input is
//! multiplied in float32, the fast path, unless that could make a figure
//! wrong: a dot product of d float32 terms is within `d * 2^-24 * |x||y|` of
//! the exact one, so a logit is within
//!
//! ```text
//! bound = d * 2^-24 * size / tau,   size = 1 (cosine) or max|x| * max|y| (dot)
//! ```
//!
//! When that bound exceeds [`F32_LOGIT_BOUND`], or a row's norm lies outside
//! [`F32_NORMS`] (its float32 products could overflow or underflow), or tau
//! is above [`F32_TAU_MAX`] (its logits would underflow float32), the
//! products are computed in float64 instead, and the report says why.

use super::Similarity;

/// Unit roundoff of float32 (2^-24).
pub const F32_UNIT_ROUNDOFF: f64 = 5.960_464_477_539_063e-8;

/// The largest error bound on a logit that float32 products may carry by
/// default: a loss or log-probability then moves by at most about this much
/// (0.01 in a loss near 1 is 1%). Above it, float64 products are used.
pub const F32_LOGIT_BOUND: f64 = 0.01;

/// Row norms whose products float32 holds without overflow or underflow
/// beyond the rounding the core allows for.
pub const F32_NORMS: (f64, f64) = (1e-18, 1e18);

/// The largest tau at which float32 products are used: above it, logits of
/// |s| / tau, and the products of rows near the ends of [`F32_NORMS`] scaled
/// by 1/tau, fall below float32's smallest normal number (1.2e-38) and lose
/// their order (a positive then ranked below itself).
pub const F32_TAU_MAX: f64 = 1e6;

/// What the input and the flags ask for.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// `--precision f64`.
    pub force_f64: bool,
    /// Either input file holds float64 values (CSV/TSV included).
    pub any_f64: bool,
    /// Embedding dimension.
    pub dimension: usize,
    pub tau: f64,
    pub similarity: Similarity,
    /// The largest non-zero row norm of each side (the same value twice in
    /// the one-file layouts), and whether every non-zero row norm lies
    /// within [`F32_NORMS`].
    pub largest_norms: (f64, f64),
    pub norms_fit_f32: bool,
}

/// The precision chosen for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Multiply in float64.
    pub f64_products: bool,
    /// Why float32 input is multiplied in float64 although not asked to:
    /// a clause that follows "because" in the report (`None` otherwise).
    pub note: Option<String>,
}

/// The error bound on a logit of float32 products of `req`'s rows: see the
/// module's documentation.
pub fn f32_logit_bound(req: &Request) -> f64 {
    let size = match req.similarity {
        Similarity::Cosine => 1.0,
        Similarity::Dot => req.largest_norms.0 * req.largest_norms.1,
    };
    req.dimension as f64 * F32_UNIT_ROUNDOFF * size / req.tau
}

/// Chooses the precision of the products.
pub fn choose(req: &Request) -> Choice {
    if req.force_f64 || req.any_f64 {
        return Choice {
            f64_products: true,
            note: None,
        };
    }
    if !req.norms_fit_f32 {
        return Choice {
            f64_products: true,
            note: Some(format!(
                "rows with norms outside [{:e}, {:e}] overflow float32 products",
                F32_NORMS.0, F32_NORMS.1
            )),
        };
    }
    if req.tau > F32_TAU_MAX {
        return Choice {
            f64_products: true,
            note: Some(format!(
                "float32 logits at tau {} (above {F32_TAU_MAX:e}) would fall below float32's range",
                short(req.tau)
            )),
        };
    }
    let bound = f32_logit_bound(req);
    if bound > F32_LOGIT_BOUND {
        return Choice {
            f64_products: true,
            note: Some(format!(
                "float32 products could move a logit by up to {} at tau {} (above {F32_LOGIT_BOUND})",
                two_digits(bound),
                short(req.tau)
            )),
        };
    }
    Choice {
        f64_products: false,
        note: None,
    }
}

/// A positive number with two significant digits (more when it is an
/// integer of more digits).
fn two_digits(x: f64) -> String {
    let decimals = (1 - x.log10().floor() as i64).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A number as Rust writes it, with an exponent when that is shorter
/// (`1e-9` rather than `0.000000001`).
fn short(x: f64) -> String {
    let plain = format!("{x}");
    let sci = format!("{x:e}");
    if sci.len() < plain.len() { sci } else { plain }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(d: usize, tau: f64, similarity: Similarity, norms: f64) -> Request {
        Request {
            force_f64: false,
            any_f64: false,
            dimension: d,
            tau,
            similarity,
            largest_norms: (norms, norms),
            norms_fit_f32: true,
        }
    }

    #[test]
    fn cosine_at_tau_001_keeps_float32_up_to_dimension_1677() {
        // d * 2^-24 / 0.01 <= 0.01  <=>  d <= 0.0001 * 2^24 = 1677.7
        for d in [128, 256, 512, 768, 1024, 1536, 1677] {
            let c = choose(&req(d, 0.01, Similarity::Cosine, 1.0));
            assert!(!c.f64_products, "d {d}");
            assert_eq!(c.note, None);
        }
        for d in [1678, 2048, 4096] {
            let c = choose(&req(d, 0.01, Similarity::Cosine, 1.0));
            assert!(c.f64_products, "d {d}");
            assert!(c.note.unwrap().contains("tau 0.01"));
        }
    }

    #[test]
    fn dot_bound_grows_with_the_norms() {
        // 64 * 2^-24 * 10 * 10 / 0.1 = 0.0038; with norms 20, 0.015.
        assert!(!choose(&req(64, 0.1, Similarity::Dot, 10.0)).f64_products);
        assert!(choose(&req(64, 0.1, Similarity::Dot, 20.0)).f64_products);
        let b = f32_logit_bound(&req(64, 0.1, Similarity::Dot, 10.0));
        assert!((b - 64.0 * 100.0 / 0.1 / 16_777_216.0).abs() < 1e-15, "{b}");
    }

    #[test]
    fn tiny_tau_switches_and_asked_precision_wins() {
        let c = choose(&req(3, 1e-9, Similarity::Cosine, 1.0));
        assert!(c.f64_products);
        assert_eq!(
            c.note.as_deref(),
            Some("float32 products could move a logit by up to 179 at tau 1e-9 (above 0.01)")
        );
        let forced = Request {
            force_f64: true,
            ..req(3, 0.1, Similarity::Cosine, 1.0)
        };
        assert_eq!(
            choose(&forced),
            Choice {
                f64_products: true,
                note: None
            }
        );
        let wide = Request {
            norms_fit_f32: false,
            ..req(3, 0.1, Similarity::Cosine, 1.0)
        };
        assert!(choose(&wide).note.unwrap().contains("1e18"));
    }

    #[test]
    fn bound_is_shown_with_two_digits() {
        assert_eq!(two_digits(0.0123), "0.012");
        assert_eq!(two_digits(5.96), "6.0");
        assert_eq!(two_digits(178.8), "179");
        assert_eq!(short(0.01), "0.01");
        assert_eq!(short(1e-9), "1e-9");
        assert_eq!(short(0.00001), "1e-5");
    }
}
