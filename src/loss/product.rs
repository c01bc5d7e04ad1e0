//! Tile products. The `gemm` crate multiplies every tile, with kernels
//! chosen at run time (AVX-512 where the CPU has it), except float32 tiles
//! on CPUs with AVX2 and FMA but no AVX-512: there a 6 x 16 kernel of our
//! own reads both sides from panels packed once per run (two copies of the
//! input: O(R d) memory), where `gemm` would repack a tile's operands for
//! every tile (docs/performance.md).

use ndarray::{ArrayView2, s};
use rayon::prelude::*;

use super::cpu::Avx2Fma;
use super::kernel::Element;

/// Columns per packed panel of the column side: two AVX2 vectors of
/// float32.
pub const COLS: usize = 16;
/// Rows per packed panel of the row side: the kernel's rows.
pub const ROWS: usize = 6;

/// A packed copy is made only under this size (bytes). A run makes two (the
/// rows of the tiles by 6, their columns by 16: in one-file layouts both of
/// the one file), so its copies stay under twice this. Larger inputs are
/// multiplied by `gemm` straight from their rows, memory-mapped where they
/// are `.npy` files. The choice depends on the sizes alone, never on how
/// the input was read: a part of a sharded run multiplies its tiles as a
/// single run does.
pub const PACK_LIMIT: usize = 256 << 20;

/// One side in panels of `width` rows, block by block: panel p of block b
/// holds rows b * block + width * p .. + width of the side (zeros past the
/// block's end) as d x width values, k-major, so that the kernel reads the
/// values of its rows for one k from one place.
pub struct Packed {
    data: Vec<f32>,
    d: usize,
    width: usize,
    /// Values per block: panels per block * width * d.
    stride: usize,
}

impl Packed {
    /// The number of values a packed copy of an (n, d) side holds, or
    /// `None` if it overflows.
    pub fn len((n, d): (usize, usize), block: usize, width: usize) -> Option<usize> {
        let per_block = block.min(n).div_ceil(width).checked_mul(width * d)?;
        n.div_ceil(block).checked_mul(per_block)
    }

    /// Packs `m` (float16 or float32: every value is exact as float32) for
    /// tiles of `block` rows in panels of `width` rows ([`ROWS`] for the row
    /// side, [`COLS`] for the column side), or `None` where the copy would
    /// exceed [`PACK_LIMIT`].
    pub fn new<S: Copy + Into<f64> + Sync>(
        m: ArrayView2<'_, S>,
        block: usize,
        width: usize,
    ) -> Option<Packed> {
        let (n, d) = m.dim();
        let total = Packed::len((n, d), block, width)?;
        if total.checked_mul(4)? >= PACK_LIMIT || total == 0 {
            return None;
        }
        let per_block = total / n.div_ceil(block);
        // Zeroed pages from the allocator, faulted in by the parallel writes
        // below (the padding stays zero).
        let mut data = vec![0f32; total];
        data.par_chunks_mut(per_block)
            .enumerate()
            .for_each(|(bk, chunk)| {
                let r0 = bk * block;
                let r1 = (r0 + block).min(n);
                for (p, panel) in chunk.chunks_mut(width * d).enumerate() {
                    let c0 = r0 + p * width;
                    for (c, lane) in (c0..r1.min(c0 + width)).zip(0..) {
                        for (k, &x) in m.row(c).iter().enumerate() {
                            panel[k * width + lane] = x.into() as f32;
                        }
                    }
                }
            });
        Some(Packed {
            data,
            d,
            width,
            stride: per_block,
        })
    }
}

/// Whether this CPU takes the packed float32 kernel (given the AVX2 token):
/// not where it has AVX-512, whose `gemm` kernels are faster.
pub fn packed_kernel_applies(cpu: Avx2Fma) -> bool {
    !cpu.has_avx512f()
}

/// `g` (row-major, bj columns) = rows i0..i1 of `a` times rows j0..j1 of
/// `b`, transposed, with the `gemm` crate.
pub fn with_gemm<T: Element>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
    g: &mut [T],
) {
    let (bi, bj) = (i1 - i0, j1 - j0);
    let d = a.ncols();
    let a = a.slice(s![i0..i1, ..]);
    let c = b.slice(s![j0..j1, ..]);
    assert!(g.len() >= bi * bj && c.ncols() == d);
    let (ars, acs) = (a.strides()[0], a.strides()[1]);
    let (crs, ccs) = (c.strides()[0], c.strides()[1]);
    // SAFETY: the pointers and strides come from ndarray views of bi x d
    // and bj x d elements; the destination holds bi x bj elements laid out
    // row-major with row stride bj (checked above).
    unsafe {
        gemm::gemm(
            bi,
            bj,
            d,
            g.as_mut_ptr(),
            1,
            bj as isize,
            false,
            a.as_ptr(),
            acs,
            ars,
            c.as_ptr(),
            crs,
            ccs,
            T::default(),
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `g` (row-major, `width` columns) = the `height` rows of row block `bi`
/// of `a` (packed by [`ROWS`]) times the `width` rows of column block `bj`
/// of `b` (packed by [`COLS`]), transposed.
///
/// The `cpu` token is the proof that the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub fn with_packed(
    cpu: Avx2Fma,
    a: &Packed,
    b: &Packed,
    rows: (usize, usize),
    cols: (usize, usize),
    g: &mut [f32],
) {
    let _ = cpu;
    // SAFETY: the token exists only where the CPU has AVX2 and FMA.
    unsafe { with_packed_avx2(a, b, rows, cols, g) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_packed_avx2(
    a: &Packed,
    b: &Packed,
    (bi, height): (usize, usize),
    (bj, width): (usize, usize),
    g: &mut [f32],
) {
    let d = a.d;
    assert!(a.width == ROWS && b.width == COLS && b.d == d);
    assert!(g.len() >= height * width);
    let a_block = &a.data[bi * a.stride..][..height.div_ceil(ROWS) * ROWS * d];
    let b_block = &b.data[bj * b.stride..][..width.div_ceil(COLS) * COLS * d];
    // A column panel (16 KiB at d = 256) stays in L1 while the row
    // panels (6 KiB each) stream past it.
    for (q, b_panel) in b_block.chunks_exact(COLS * d).enumerate() {
        let c0 = q * COLS;
        let cols = (width - c0).min(COLS);
        for (p, a_panel) in a_block.chunks_exact(ROWS * d).enumerate() {
            let r0 = p * ROWS;
            let out = &mut g[r0 * width + c0..];
            match (height - r0).min(ROWS) {
                1 => kernel::<1>(a_panel, b_panel, out, width, cols),
                2 => kernel::<2>(a_panel, b_panel, out, width, cols),
                3 => kernel::<3>(a_panel, b_panel, out, width, cols),
                4 => kernel::<4>(a_panel, b_panel, out, width, cols),
                5 => kernel::<5>(a_panel, b_panel, out, width, cols),
                _ => kernel::<6>(a_panel, b_panel, out, width, cols),
            }
        }
    }
}

/// The first MR rows of a row panel (`a[k * 6 + r]`) times a column panel
/// (`b[k * 16 + c]`): MR x 16 dot products, each summed over k in order
/// with fused multiply-adds, into `out` (row stride `ld`), of which the
/// first `cols` columns are written.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn kernel<const MR: usize>(a: &[f32], b: &[f32], out: &mut [f32], ld: usize, cols: usize) {
    use std::arch::x86_64::*;

    let d = b.len() / COLS;
    assert!(MR <= ROWS && a.len() == d * ROWS && b.len() == d * COLS);
    assert!(cols <= COLS && out.len() >= (MR - 1) * ld + cols);
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (a, b) = (a.as_ptr(), b.as_ptr());
    for k in 0..d {
        // SAFETY: k < d; a holds 6 d values and b 16 d (asserted above).
        unsafe {
            let b0 = _mm256_loadu_ps(b.add(k * COLS));
            let b1 = _mm256_loadu_ps(b.add(k * COLS + 8));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(k * ROWS + r));
                acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let dst = &mut out[r * ld..];
        if cols == COLS {
            // SAFETY: dst holds at least 16 values (asserted above).
            unsafe {
                _mm256_storeu_ps(dst.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(dst.as_mut_ptr().add(8), acc[1]);
            }
        } else {
            let mut tmp = [0f32; COLS];
            // SAFETY: tmp holds 16 values.
            unsafe {
                _mm256_storeu_ps(tmp.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), acc[1]);
            }
            dst[..cols].copy_from_slice(&tmp[..cols]);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The packed kernel against float64 dot products, within the float32
    /// rounding bound, for shapes that cross every panel and row-group edge.
    #[test]
    #[cfg_attr(
        not(infonce_test_avx2),
        ignore = "the packed kernel needs a CPU with AVX2 and FMA"
    )]
    fn packed_kernel_matches_float64_products() {
        let cpu = Avx2Fma::detect()
            .expect("built on a CPU with AVX2 and FMA, run on one without: rebuild here");
        let mut s = 7u64;
        let mut next = move || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        for (n, d, block) in [
            (1, 1, 1),
            (7, 3, 5),
            (33, 17, 16),
            (40, 9, 17),
            (70, 40, 256),
        ] {
            let m = Array2::from_shape_fn((n, d), |_| next());
            // A column-major copy: packing reads any layout.
            let mt = m.t().as_standard_layout().into_owned().reversed_axes();
            assert!(mt.t().is_standard_layout() && mt == m);
            let rows = Packed::new(mt.view(), block, ROWS).expect("small");
            let cols = Packed::new(mt.view(), block, COLS).expect("small");
            let nb = n.div_ceil(block);
            for (bi, bj) in (0..nb).flat_map(|bi| (0..nb).map(move |bj| (bi, bj))) {
                let (j0, j1) = (bj * block, ((bj + 1) * block).min(n));
                let (i0, i1) = (bi * block, ((bi + 1) * block).min(n));
                {
                    let w = j1 - j0;
                    let mut g = vec![f32::NAN; (i1 - i0) * w];
                    with_packed(cpu, &rows, &cols, (bi, i1 - i0), (bj, w), &mut g);
                    for i in i0..i1 {
                        for j in j0..j1 {
                            let want: f64 =
                                (0..d).map(|k| m[[i, k]] as f64 * m[[j, k]] as f64).sum();
                            let size: f64 =
                                (0..d).map(|k| (m[[i, k]] * m[[j, k]]).abs() as f64).sum();
                            let got = g[(i - i0) * w + (j - j0)] as f64;
                            assert!(
                                (got - want).abs() <= (d as f64 + 1.0) * 6e-8 * size,
                                "n {n} d {d} block {block}: ({i}, {j}) {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
