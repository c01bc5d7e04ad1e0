//! Which product fills a tile: the packed AVX2 kernel where it applies,
//! `gemm` on the stored rows otherwise, float16 rows converted first.

use super::Pass;
use super::element::{Converted, Element, Stored};
use super::schedule::Tile;
use crate::loss::cpu::Avx2Fma;
use crate::loss::product::{self, Packed};

/// Both sides packed for the float32 AVX2 kernel: the rows of the tiles by
/// 6, their columns by 16.
pub(super) struct PackedSides {
    a: Packed,
    b: Packed,
    /// The proof that the kernel's instructions exist on this CPU.
    cpu: Avx2Fma,
}

impl<S: Stored> Pass<'_, '_, S> {
    /// Both sides packed for the float32 AVX2 kernel, where that kernel
    /// applies (see [`product`]).
    pub(super) fn packed(&self) -> Option<PackedSides> {
        let cpu = self.cpu?;
        if !<S::Tile>::IS_F32 || !product::packed_kernel_applies(cpu) {
            return None;
        }
        // Both sizes are checked before either side is packed.
        let a_len = Packed::len(self.a.m.dim(), self.block, product::ROWS)?;
        let b_len = Packed::len(self.b.m.dim(), self.block, product::COLS)?;
        if a_len.max(b_len).checked_mul(4)? >= product::PACK_LIMIT {
            return None;
        }
        Some(PackedSides {
            a: Packed::new(self.a.m, self.block, product::ROWS)?,
            b: Packed::new(self.b.m, self.block, product::COLS)?,
            cpu,
        })
    }

    /// Fills `g` with the dot products of rows i0..i1 of `a` with rows
    /// j0..j1 of the tile's candidate side, row-major. `packed` only for
    /// the main side.
    pub(super) fn product(
        &self,
        t: &Tile,
        packed: Option<&PackedSides>,
        conv: &mut Converted<S::Tile>,
        g: &mut [S::Tile],
    ) {
        #[cfg(target_arch = "x86_64")]
        if let (Some(p), Some(g)) = (packed, <S::Tile>::as_f32_mut(g)) {
            let rows = (t.i0 / self.block, t.i1 - t.i0);
            let cols = (t.j0 / self.block, t.j1 - t.j0);
            product::with_packed(p.cpu, &p.a, &p.b, rows, cols, g);
            return;
        }
        let _ = packed; // only x86-64 has a packed kernel (and a token)
        let cand = self.cand(t.side);
        match (S::as_tile(self.a.m), S::as_tile(cand.m)) {
            (Some(a), Some(b)) => product::with_gemm(a, b, (t.i0, t.i1), (t.j0, t.j1), g),
            _ => {
                // float16: the tile's rows converted (the row block's once),
                // then multiplied.
                let (a, b) = conv.tile(self.a.m, (t.i0, t.i1), cand.m, (t.j0, t.j1));
                product::with_gemm(a, b, (0, t.i1 - t.i0), (0, t.j1 - t.j0), g);
            }
        }
    }
}
