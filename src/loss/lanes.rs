//! Sums over a row in float64, in eight lanes: lane l adds the terms of
//! index l, l + 8, l + 16, ... in index order, and the lanes are then added
//! pairwise, ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). The order is
//! fixed by the indices alone, so a row gives the same bits however it is
//! stored (contiguous or strided) and on every CPU; and eight independent
//! sums let the compiler use vector instructions where one running sum
//! would wait on each addition in turn. Every row norm, positive
//! similarity and finiteness check of the program goes through here.

use ndarray::ArrayView1;

/// Lanes of each sum.
const LANES: usize = 8;

fn combine(l: [f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// The sum of `f(x, y)` over the pairs of `x` and `y` (of equal length).
#[inline(always)]
fn pairs<T: Copy>(x: ArrayView1<'_, T>, y: ArrayView1<'_, T>, f: impl Fn(T, T) -> f64) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = [0.0f64; LANES];
    match (x.as_slice(), y.as_slice()) {
        (Some(x), Some(y)) => {
            let (xc, xr) = x.as_chunks::<LANES>();
            let (yc, yr) = y.as_chunks::<LANES>();
            for (a, b) in xc.iter().zip(yc) {
                for l in 0..LANES {
                    acc[l] += f(a[l], b[l]);
                }
            }
            for (l, (&a, &b)) in xr.iter().zip(yr).enumerate() {
                acc[l] += f(a, b);
            }
        }
        _ => {
            for (k, (&a, &b)) in x.iter().zip(y.iter()).enumerate() {
                acc[k % LANES] += f(a, b);
            }
        }
    }
    combine(acc)
}

/// The dot product of `x` and `y` in float64.
pub fn dot<T: Copy + Into<f64>>(x: ArrayView1<'_, T>, y: ArrayView1<'_, T>) -> f64 {
    pairs(x, y, |a, b| a.into() * b.into())
}

/// The sum of the squares of `x` in float64.
pub fn sum_squares<T: Copy + Into<f64>>(x: ArrayView1<'_, T>) -> f64 {
    pairs(x, x, |a, _| {
        let v: f64 = a.into();
        v * v
    })
}

/// True when every value of `x` is finite: `v * 0` is 0 for a finite `v`
/// and NaN for NaN and the infinities, so the row's sum of them is 0
/// exactly when all are finite. No early exit: the whole row is read, at
/// vector speed.
pub fn all_finite<T: Copy + Into<f64>>(x: ArrayView1<'_, T>) -> bool {
    pairs(x, x, |a, _| a.into() * 0.0) == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, s};

    /// The lanes' order written out one term at a time.
    fn by_hand(x: &[f64], y: &[f64]) -> f64 {
        let mut l = [0.0; LANES];
        for k in 0..x.len() {
            l[k % LANES] += x[k] * y[k];
        }
        combine(l)
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn contiguous_and_strided_rows_sum_in_the_same_order() {
        for n in [0, 1, 7, 8, 9, 16, 31, 256, 257] {
            let x = values(n, 1);
            let y = values(n, 2);
            let want = by_hand(&x, &y);
            let cx = Array1::from(x.clone());
            let cy = Array1::from(y.clone());
            assert_eq!(
                dot(cx.view(), cy.view()).to_bits(),
                want.to_bits(),
                "n = {n}"
            );
            // The same values as a column of a row-major matrix: strided.
            let mut m = Array2::<f64>::zeros((n, 2));
            m.column_mut(0).assign(&cx);
            m.column_mut(1).assign(&cy);
            let (sx, sy) = (m.slice(s![.., 0]), m.slice(s![.., 1]));
            assert!(n < 2 || sx.as_slice().is_none());
            assert_eq!(dot(sx, sy).to_bits(), want.to_bits(), "n = {n}");
            let ss = by_hand(&x, &x);
            assert_eq!(sum_squares(cx.view()).to_bits(), ss.to_bits());
            assert_eq!(sum_squares(sx).to_bits(), ss.to_bits());
        }
    }

    #[test]
    fn the_sum_is_as_close_as_the_plain_one() {
        let x = values(1000, 3);
        let y = values(1000, 4);
        let plain: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        let got = dot(Array1::from(x).view(), Array1::from(y).view());
        assert!((got - plain).abs() <= 1e-13, "{got} vs {plain}");
    }

    #[test]
    fn a_single_non_finite_value_anywhere_is_found() {
        for n in [1, 5, 8, 13, 64] {
            for at in 0..n {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut x = vec![1.5f32; n];
                    assert!(all_finite(Array1::from(x.clone()).view()));
                    x[at] = bad;
                    assert!(!all_finite(Array1::from(x).view()), "n {n} at {at} {bad}");
                }
            }
        }
        let big = Array1::from(vec![f64::MAX, -f64::MAX, 0.0]);
        assert!(all_finite(big.view()));
    }
}
