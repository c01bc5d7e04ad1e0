//! The fused, tiled pass: similarities are computed a tile at a time with a
//! matrix product and folded at once into a running log-sum-exp per anchor,
//! counting the candidates that score above each positive on the way. The
//! R x R similarity matrix never exists.
//!
//! In the one-file layouts the similarity matrix is symmetric, so only tiles
//! on or above the diagonal are computed; each serves the anchors of its rows
//! (a row fold) and of its columns (a column fold). Every partial sum is kept
//! per (anchor, tile) and merged in a fixed order, so the result is identical
//! for any number of threads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use ndarray::ArrayView2;

use super::exp::{Lse, exp, exp32, max_of, sum_lanes};
use super::product::{self, Packed};
use super::rows32;

/// An element type the pass can multiply: float32 or float64.
pub trait Element: bytemuck::Pod + Into<f64> + Send + Sync + Default + 'static {
    /// Unit roundoff of the type's arithmetic (2^-24 or 2^-53).
    const UNIT_ROUNDOFF: f64;
    const ONE: Self;
    const IS_F32: bool;
    /// The same tile seen as float32, when it is one.
    fn as_f32(tile: &[Self]) -> Option<&[f32]>;
    fn as_f32_mut(tile: &mut [Self]) -> Option<&mut [f32]>;
}

impl Element for f32 {
    const UNIT_ROUNDOFF: f64 = 5.960_464_477_539_063e-8;
    const ONE: f32 = 1.0;
    const IS_F32: bool = true;
    fn as_f32(tile: &[f32]) -> Option<&[f32]> {
        Some(tile)
    }
    fn as_f32_mut(tile: &mut [f32]) -> Option<&mut [f32]> {
        Some(tile)
    }
}

impl Element for f64 {
    const UNIT_ROUNDOFF: f64 = 1.110_223_024_625_156_5e-16;
    const ONE: f64 = 1.0;
    const IS_F32: bool = false;
    fn as_f32(_: &[f64]) -> Option<&[f32]> {
        None
    }
    fn as_f32_mut(_: &mut [f64]) -> Option<&mut [f32]> {
        None
    }
}

/// An element type embeddings are stored in: float16, float32 or float64.
/// Tiles are multiplied in `Tile`: float32 for float16 storage, whose rows
/// are converted as tiles are formed (never the whole matrix at once).
pub trait Stored: bytemuck::Pod + Into<f64> + Send + Sync + Default + 'static {
    type Tile: Element;
    /// The matrix as tile elements, where that needs no conversion.
    fn as_tile(m: ArrayView2<'_, Self>) -> Option<ArrayView2<'_, Self::Tile>>;
    /// One value as a tile element (exact: a widening or the identity).
    fn to_tile(self) -> Self::Tile;
}

impl Stored for half::f16 {
    type Tile = f32;
    fn as_tile(_: ArrayView2<'_, Self>) -> Option<ArrayView2<'_, f32>> {
        None
    }
    fn to_tile(self) -> f32 {
        self.to_f32()
    }
}

impl Stored for f32 {
    type Tile = f32;
    fn as_tile(m: ArrayView2<'_, f32>) -> Option<ArrayView2<'_, f32>> {
        Some(m)
    }
    fn to_tile(self) -> f32 {
        self
    }
}

impl Stored for f64 {
    type Tile = f64;
    fn as_tile(m: ArrayView2<'_, f64>) -> Option<ArrayView2<'_, f64>> {
        Some(m)
    }
    fn to_tile(self) -> f64 {
        self
    }
}

/// Scratch of one worker for rows converted to tile elements.
struct Converted<X> {
    /// The row block's rows, and which rows they are.
    a: Vec<X>,
    a_rows: Option<(usize, usize)>,
    /// The tile's column rows.
    b: Vec<X>,
}

/// Rows r0..r1 of `m` converted to tile elements into `out` (unless `held`
/// says `out` holds them already), as a view.
fn converted<'o, S: Stored>(
    m: ArrayView2<'_, S>,
    (r0, r1): (usize, usize),
    out: &'o mut Vec<S::Tile>,
    held: Option<&mut Option<(usize, usize)>>,
) -> ArrayView2<'o, S::Tile> {
    let fresh = match held {
        Some(h) if *h == Some((r0, r1)) => false,
        Some(h) => {
            *h = Some((r0, r1));
            true
        }
        None => true,
    };
    if fresh {
        out.clear();
        out.extend(
            m.slice(ndarray::s![r0..r1, ..])
                .iter()
                .map(|&x| x.to_tile()),
        );
    }
    ArrayView2::from_shape((r1 - r0, m.ncols()), &out[..]).expect("sized to the rows")
}

/// Rows in compressed form: `ids[start[r]..start[r + 1]]` belong to row r.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    start: Vec<usize>,
    ids: Vec<usize>,
}

impl Csr {
    /// Groups `(row, value)` items by row, keeping their order within a row.
    pub fn build(rows: usize, items: impl Iterator<Item = (usize, usize)> + Clone) -> Csr {
        let mut start = vec![0usize; rows + 1];
        for (r, _) in items.clone() {
            start[r + 1] += 1;
        }
        for r in 0..rows {
            start[r + 1] += start[r];
        }
        let mut fill = start.clone();
        let mut ids = vec![0usize; start[rows]];
        for (r, v) in items {
            ids[fill[r]] = v;
            fill[r] += 1;
        }
        Csr { start, ids }
    }

    pub fn get(&self, r: usize) -> &[usize] {
        &self.ids[self.start[r]..self.start[r + 1]]
    }

    /// The same rows with each row's values sorted and deduplicated.
    pub fn sorted_unique(&self) -> Csr {
        let rows = self.start.len() - 1;
        let mut out = Csr {
            start: vec![0],
            ids: Vec::with_capacity(self.ids.len()),
        };
        for r in 0..rows {
            let mut v = self.get(r).to_vec();
            v.sort_unstable();
            v.dedup();
            out.ids.extend(v);
            out.start.push(out.ids.len());
        }
        out
    }

    fn any_in(&self, lo: usize, hi: usize) -> bool {
        self.start[lo] != self.start[hi]
    }
}

/// Sets `v[q - j0]` to `value` for each `q` of `at` inside `v`.
#[inline(always)]
fn mask(v: &mut [f64], at: &[usize], j0: usize, value: f64) {
    for &q in at {
        if let Some(x) = q.checked_sub(j0).and_then(|k| v.get_mut(k)) {
            *x = value;
        }
    }
}

/// Width of the tie window in units of (d + 2) float64 epsilons.
pub const TIE_ULPS: f64 = 2.0;

/// One file's rows with what the pass needs to know of each.
pub struct Side<'a, T> {
    pub m: ArrayView2<'a, T>,
    /// Multiplier that turns a dot product into the similarity: 1/|x| for
    /// cosine, 1 for dot.
    pub scale: Vec<f64>,
    /// |x| * scale: 1 for cosine, |x| for dot. Bounds the product's rounding.
    pub size: Vec<f64>,
    /// The rows are read in place from a memory-mapped file: the pass makes
    /// no packed copy of them.
    pub mapped: bool,
}

/// Anchors whose candidates lie on the other side of the tile.
pub struct Anchors {
    /// Record ids of each anchor row.
    pub records: Csr,
    /// Distinct positives of each anchor row (rows of the other side).
    pub positives: Csr,
    /// For each row of the other side, the anchors it is a positive of.
    pub reverse: Csr,
}

/// Everything the pass reads.
pub struct Pass<'p, 'a, T> {
    /// Rows of the tiles: anchors of forward records.
    pub a: &'p Side<'a, T>,
    /// Columns of the tiles: candidates of forward records. In one-file
    /// layouts this is the same side as `a`.
    pub b: &'p Side<'a, T>,
    pub one_file: bool,
    /// 1 / tau (infinite for a tau below 1/f64::MAX: see [`Pass::per_tau`]).
    pub inv_tau: f64,
    pub tau: f64,
    /// Tile logits are `(g * row_scale[i]) * col_scale[j]`, g the tile's
    /// dot product ([`Scaling`]).
    pub row_scale: Vec<f64>,
    pub col_scale: Vec<f64>,
    pub block: usize,
    /// Forward anchors (rows of `a`).
    pub fwd: Anchors,
    /// Anchors of the column fold: in one-file layouts the forward anchors
    /// again; in the keys layout the key-to-query anchors (rows of `b`).
    pub col: Option<Anchors>,
    /// Each record's positive: a row of `b` for forward records, of `a`
    /// for the column fold's.
    pub positive: Vec<usize>,
    /// Each record's positive similarity, from [`Pass::precise_sim`].
    pub positive_sim: Vec<f64>,
    /// Each record's positive logit, `positive_sim / tau` (as
    /// [`Pass::precise_logit`] computes it).
    pub positive_logit: Vec<f64>,
    /// A shift that serves every exponential when all logits are known to
    /// lie within 700 of it (cosine: |s| <= 1, so 1/tau when 2/tau <= 700);
    /// each exponential is then computed once for its row and its column.
    pub fixed_shift: Option<f64>,
    /// Float32 tiles may take their exponentials in float32: set when the
    /// fixed shift's span keeps every term a normal float32 (see
    /// [`fold32`](Pass::fold32)).
    pub exp32: bool,
    /// The hand-vectorized AVX2 + FMA code may run: the CPU has both and
    /// the caller did not ask for the portable code.
    pub avx2: bool,
}

/// What the pass found: per row of each side, the log-sum-exp over the
/// candidates that are neither the row itself nor one of its positives, and
/// per record the count of candidates scoring above its positive.
pub struct PassOut {
    pub lse_a: Vec<Lse>,
    pub lse_b: Vec<Lse>,
    pub above: Vec<u64>,
}

/// The column partials of one column block, merged in row-block order as
/// they arrive; one that comes early waits for those before it.
struct ColumnMerge {
    acc: Vec<Lse>,
    /// The row block whose partial is merged next.
    next: usize,
    waiting: Vec<(usize, Option<Vec<Lse>>)>,
}

impl ColumnMerge {
    fn new(width: usize) -> Self {
        ColumnMerge {
            acc: vec![Lse::EMPTY; width],
            next: 0,
            waiting: Vec::new(),
        }
    }

    /// Row block `bi`'s partial (`None` where it had nothing for these columns).
    fn deliver(&mut self, bi: usize, part: Option<Vec<Lse>>) {
        self.waiting.push((bi, part));
        while let Some(k) = self.waiting.iter().position(|(b, _)| *b == self.next) {
            if let (_, Some(part)) = self.waiting.swap_remove(k) {
                for (a, x) in self.acc.iter_mut().zip(part) {
                    *a = a.merge(x);
                }
            }
            self.next += 1;
        }
    }

    fn finish(self) -> Vec<Lse> {
        assert!(self.waiting.is_empty(), "a column partial was never merged");
        self.acc
    }
}

/// Scratch space of one worker, reused across its tiles.
struct Buffers {
    /// One row of logits.
    l: Vec<f64>,
    /// One row of exponentials.
    e: Vec<f64>,
    /// Per column: the shift of its exponentials in this tile.
    colshift: Vec<f64>,
    /// Per column: the sum of its shifted exponentials in this tile.
    colsum: Vec<f64>,
    /// Per column: its maximum logit in this tile.
    colmax: Vec<f64>,
    saved: Vec<(usize, f64)>,
    /// Float32 counterparts of `l`, `e`, the column scales and `colmax`.
    l32: Vec<f32>,
    e32: Vec<f32>,
    cs32: Vec<f32>,
    colmax32: Vec<f32>,
    /// Entries masked in a float32 row: (column, logit, row's positive,
    /// column anchor's positive).
    masked: Vec<(usize, f32, bool, bool)>,
}

/// Both sides packed for the float32 AVX2 kernel: the rows of the tiles by
/// 6, their columns by 16.
struct PackedSides {
    a: Packed,
    b: Packed,
}

/// Number of tiles [`Pass::run`] computes over `n_a` x `n_b` rows (for
/// progress bars).
pub fn tile_count(n_a: usize, n_b: usize, block: usize, one_file: bool) -> u64 {
    let nbi = n_a.div_ceil(block) as u64;
    let nbj = n_b.div_ceil(block) as u64;
    if one_file {
        nbi * (nbi + 1) / 2
    } else {
        nbi * nbj
    }
}

/// How many workers the pass starts for `row_blocks` row blocks: one per
/// thread of the current pool, but never more than there are row blocks
/// (each worker takes whole row blocks).
pub fn workers(row_blocks: usize) -> usize {
    rayon::current_num_threads().min(row_blocks).max(1)
}

/// How a tile's dot product g of rows i (of `a`) and j (of `b`) becomes a
/// logit: `(g * row[i]) * col[j]`. Normally `row[i] = scale_i / tau` and
/// `col[j] = scale_j`. At a tau so small that `scale_i / tau` or
/// `g * scale_i / tau` could overflow (cosine rows far from unit norm at
/// tau 1e-298, or dot products at a tau below 1e-308), 1/tau is split
/// between the two, `1/sqrt(tau)` each: every intermediate then stays below
/// the logit's own bound (1e300) or the square root of its factors'.
pub struct Scaling {
    pub row: Vec<f64>,
    pub col: Vec<f64>,
}

impl Scaling {
    /// Intermediates above this count as overflowing.
    const LIMIT: f64 = 1e300;

    pub fn new<T>(a: &Side<'_, T>, b: &Side<'_, T>, tau: f64) -> Scaling {
        let inv_tau = 1.0 / tau;
        let max = |v: &[f64]| v.iter().fold(0.0f64, |m, &x| m.max(x));
        // |g * scale_i| <= |x_i| |y_j| scale_i = size_i |y_j|, and
        // |y_j| = size_j / scale_j.
        let largest_y = b
            .size
            .iter()
            .zip(&b.scale)
            .fold(0.0f64, |m, (&s, &c)| m.max(s / c));
        let row_max = max(&a.scale) * inv_tau;
        let g_row_max = max(&a.size) * largest_y * inv_tau;
        let (row_f, col_f) = if row_max <= Self::LIMIT && g_row_max <= Self::LIMIT {
            (inv_tau, 1.0)
        } else {
            let f = 1.0 / tau.sqrt();
            (f, f)
        };
        Scaling {
            row: a.scale.iter().map(|s| s * row_f).collect(),
            col: b.scale.iter().map(|s| s * col_f).collect(),
        }
    }
}

/// Where a tile lies and which folds it serves.
struct Tile {
    i0: usize,
    i1: usize,
    j0: usize,
    j1: usize,
    /// On the diagonal of a one-file layout: each row meets itself.
    diagonal: bool,
    rows: bool,
    cols: bool,
}

impl<S: Stored> Pass<'_, '_, S> {
    /// The similarity of row `i` of `a` and row `j` of `b`, summed in float64
    /// in index order. Positives and near-ties use it, so that equal rows give
    /// equal numbers.
    pub fn precise_sim(&self, i: usize, j: usize) -> f64 {
        let x = self.a.m.row(i);
        let y = self.b.m.row(j);
        let dot: f64 = x
            .iter()
            .zip(y.iter())
            .map(|(&p, &q)| Into::<f64>::into(p) * Into::<f64>::into(q))
            .sum();
        // One product of the two scales, so that s(i, j) == s(j, i) exactly.
        dot * (self.a.scale[i] * self.b.scale[j])
    }

    pub fn precise_logit(&self, i: usize, j: usize) -> f64 {
        self.precise_sim(i, j) / self.tau
    }

    /// Whether candidate j (of `b`) scores above a positive whose logit is
    /// `lp`, anchor i (of `a`). Logits closer than the float64 rounding bound
    /// of the similarity count as a tie, and ties favour the positive: two
    /// rows equal in exact arithmetic never outrank each other.
    fn scores_above(&self, i: usize, j: usize, lp: f64) -> bool {
        self.precise_logit(i, j) > lp + self.tie_window(self.a.size[i] * self.b.size[j])
    }

    /// The float64 rounding bound of a logit whose rows have `size` |x||y|
    /// (1 under cosine).
    fn tie_window(&self, size: f64) -> f64 {
        let d = self.a.m.ncols() as f64;
        self.per_tau(TIE_ULPS * (d + 2.0) * f64::EPSILON * size)
    }

    /// x / tau, as `x * inv_tau` (the form every window has always used)
    /// unless 1 / tau overflows.
    fn per_tau(&self, x: f64) -> f64 {
        if self.inv_tau.is_finite() {
            x * self.inv_tau
        } else {
            x / self.tau
        }
    }

    fn blocks(n: usize, block: usize) -> usize {
        n.div_ceil(block)
    }

    /// Runs the pass; `progress` is called with the number of tiles done.
    pub fn run(&self, progress: &(dyn Fn(u64) + Sync)) -> PassOut {
        let n_a = self.a.m.nrows();
        let n_b = self.b.m.nrows();
        let nbi = Self::blocks(n_a, self.block);
        let nbj = Self::blocks(n_b, self.block);
        let above: Vec<AtomicU64> = (0..self.positive_logit.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        let width = |bj: usize| (n_b - bj * self.block).min(self.block);
        let merges: Vec<Mutex<ColumnMerge>> = match self.col {
            Some(_) => (0..nbj)
                .map(|bj| Mutex::new(ColumnMerge::new(width(bj))))
                .collect(),
            None => Vec::new(),
        };
        let rows: Vec<OnceLock<Vec<Lse>>> = (0..nbi).map(|_| OnceLock::new()).collect();
        // Row blocks are taken in order, so column partials arrive nearly in
        // order and only a few wait for the ones before them.
        let next = AtomicUsize::new(0);
        let packed = self.packed();
        let packed = packed.as_ref();
        rayon::scope(|s| {
            for _ in 0..workers(nbi) {
                s.spawn(|_| {
                    loop {
                        let bi = next.fetch_add(1, Ordering::Relaxed);
                        if bi >= nbi {
                            break;
                        }
                        let own = self.row_block(bi, nbj, packed, &above, progress, &merges);
                        rows[bi].set(own).expect("each row block runs once");
                    }
                });
            }
        });
        let merged: Vec<Vec<Lse>> = merges
            .into_iter()
            .map(|m| m.into_inner().expect("no worker panicked").finish())
            .collect();

        // A row's own tiles (left to right), then its column partials (top to
        // bottom): a fixed order whatever the threads did.
        let mut lse_a = Vec::with_capacity(n_a);
        for (bi, own) in rows.into_iter().enumerate() {
            let own = own.into_inner().expect("every row block ran");
            match merged.get(bi).filter(|_| self.one_file) {
                Some(cols) => lse_a.extend(own.iter().zip(cols).map(|(o, c)| o.merge(*c))),
                None => lse_a.extend(own),
            }
        }
        let lse_b = if self.one_file {
            Vec::new()
        } else {
            merged.into_iter().flatten().collect()
        };
        PassOut {
            lse_a,
            lse_b,
            above: above.into_iter().map(AtomicU64::into_inner).collect(),
        }
    }

    fn row_block(
        &self,
        bi: usize,
        nbj: usize,
        packed: Option<&PackedSides>,
        above: &[AtomicU64],
        progress: &(dyn Fn(u64) + Sync),
        merges: &[Mutex<ColumnMerge>],
    ) -> Vec<Lse> {
        let b = self.block;
        let i0 = bi * b;
        let i1 = (i0 + b).min(self.a.m.nrows());
        let mut rows = vec![Lse::EMPTY; i1 - i0];
        // The tile's dot products, row-major.
        let mut g = vec![<S::Tile>::default(); b * b];
        let mut conv = Converted {
            a: Vec::new(),
            a_rows: None,
            b: Vec::new(),
        };
        let mut buf = Buffers {
            l: vec![0.0; b],
            e: vec![0.0; b],
            colshift: vec![0.0; b],
            colsum: vec![0.0; b],
            colmax: vec![0.0; b],
            saved: Vec::new(),
            l32: vec![0.0; b],
            e32: vec![0.0; b],
            cs32: vec![0.0; b],
            colmax32: vec![0.0; b],
            masked: Vec::new(),
        };
        let rows_have_anchors = self.fwd.records.any_in(i0, i1);
        let first = if self.one_file { bi } else { 0 };
        for bj in first..nbj {
            let j0 = bj * b;
            let j1 = (j0 + b).min(self.b.m.nrows());
            let diagonal = self.one_file && bi == bj;
            let cols_have_anchors =
                !diagonal && self.col.as_ref().is_some_and(|c| c.records.any_in(j0, j1));
            let mut part = None;
            if rows_have_anchors || cols_have_anchors {
                let t = Tile {
                    i0,
                    i1,
                    j0,
                    j1,
                    diagonal,
                    rows: rows_have_anchors,
                    cols: cols_have_anchors,
                };
                self.product(&t, packed, &mut conv, &mut g);
                let cols = self.fold_dispatch(&t, &g, &mut buf, &mut rows, above);
                if cols_have_anchors {
                    part = Some(cols);
                }
            }
            // Every row block above a column block (one file) or every row
            // block (keys) hands it a partial, empty or not, so its merge
            // knows when to move on.
            if !diagonal && let Some(m) = merges.get(bj) {
                m.lock().expect("no worker panicked").deliver(bi, part);
            }
            progress(1);
        }
        rows
    }

    /// Both sides packed for the float32 AVX2 kernel, where that kernel
    /// applies (see [`product`]).
    fn packed(&self) -> Option<PackedSides> {
        if !self.avx2
            || !<S::Tile>::IS_F32
            || self.a.mapped
            || self.b.mapped
            || !product::packed_kernel_applies()
        {
            return None;
        }
        // Both sizes are checked before either side is packed.
        let a_len = Packed::len(self.a.m.dim(), self.block, product::ROWS)?;
        let b_len = Packed::len(self.b.m.dim(), self.block, product::COLS)?;
        if a_len.max(b_len).checked_mul(4)? > product::PACK_LIMIT {
            return None;
        }
        Some(PackedSides {
            a: Packed::new(self.a.m, self.block, product::ROWS)?,
            b: Packed::new(self.b.m, self.block, product::COLS)?,
        })
    }

    /// Fills `g` with the dot products of rows i0..i1 of `a` with rows
    /// j0..j1 of `b`, row-major.
    fn product(
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
            // SAFETY: `packed` exists only where the CPU has AVX2 and FMA.
            unsafe { product::with_packed(&p.a, &p.b, rows, cols, g) };
            return;
        }
        let _ = packed; // only x86-64 has a packed kernel
        match (S::as_tile(self.a.m), S::as_tile(self.b.m)) {
            (Some(a), Some(b)) => product::with_gemm(a, b, (t.i0, t.i1), (t.j0, t.j1), g),
            _ => {
                // float16: the tile's rows converted (the row block's once),
                // then multiplied.
                let a = converted(self.a.m, (t.i0, t.i1), &mut conv.a, Some(&mut conv.a_rows));
                let b = converted(self.b.m, (t.j0, t.j1), &mut conv.b, None);
                product::with_gemm(a, b, (0, t.i1 - t.i0), (0, t.j1 - t.j0), g);
            }
        }
    }

    /// Runs the fold compiled for AVX2 and FMA where the CPU has them (and
    /// `avx2` allows it), and a portable build elsewhere. The choice does not
    /// depend on the threads, so a run gives the same bits for any number.
    fn fold_dispatch(
        &self,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        #[cfg(target_arch = "x86_64")]
        if self.avx2
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above (the
            // checks are cached: two loads).
            return unsafe { self.fold_avx2(t, g, buf, rows, above) };
        }
        self.fold_any::<false>(t, g, buf, rows, above)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold_avx2(
        &self,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        self.fold_any::<true>(t, g, buf, rows, above)
    }

    /// The float32 fold where it applies, the general one otherwise.
    #[inline(always)]
    fn fold_any<const FMA: bool>(
        &self,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        if self.exp32
            && let (Some(shift), Some(g)) = (self.fixed_shift, <S::Tile>::as_f32(g))
        {
            return self.fold32::<FMA>(t, g, shift as f32, buf, rows, above);
        }
        self.fold::<FMA>(t, g, buf, rows, above)
    }

    /// Folds one tile, a row at a time: the row's logits, its rank counts
    /// and those of the columns, its exponentials into the row's partial sum
    /// and into the columns' sums. Everything a row needs stays in L1.
    #[inline(always)]
    fn fold<const FMA: bool>(
        &self,
        t: &Tile,
        g: &[S::Tile],
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        let bj = t.j1 - t.j0;
        let d = self.a.m.ncols() as f64;
        let col_scale = &self.col_scale[t.j0..t.j1];
        let col = self.col.as_ref().filter(|_| t.cols);
        let Buffers {
            l,
            e,
            colshift,
            colsum,
            colmax,
            saved,
            ..
        } = buf;
        let (l, e) = (&mut l[..bj], &mut e[..bj]);
        let (colshift, colsum, colmax) =
            (&mut colshift[..bj], &mut colsum[..bj], &mut colmax[..bj]);

        if let Some(col) = col {
            if self.fixed_shift.is_none() {
                self.column_shifts(t, col, g, l, colshift);
            }
            colsum.fill(0.0);
            colmax.fill(f64::NEG_INFINITY);
        }
        let size_j = max_of(&self.b.size[t.j0..t.j1]).max(0.0);
        for (ii, acc) in rows.iter_mut().enumerate().take(t.i1 - t.i0) {
            let i = t.i0 + ii;
            self.logit_row(t, ii, g, col_scale, l);
            let row_recs = if t.rows { self.fwd.records.get(i) } else { &[] };

            let tol = self.window(d, self.a.size[i] * size_j);
            self.row_ranks(t, i, row_recs, l, max_of(l), tol, above);
            // The columns' maxima, to find the few columns that need counting.
            if col.is_some() {
                for (m, &x) in colmax.iter_mut().zip(l.iter()) {
                    *m = m.max(x);
                }
            }

            // The row's partial sum, without its positives, then the
            // columns' sums, without the entries where row i is the column
            // anchor's positive. With a fixed shift one exponential serves both.
            match self.fixed_shift {
                Some(shift) => {
                    for (ex, &x) in e.iter_mut().zip(l.iter()) {
                        *ex = exp::<FMA>(x - shift);
                    }
                    if !row_recs.is_empty() {
                        let sum = self.sum_without(e, self.fwd.positives.get(i), t.j0, saved);
                        *acc = acc.merge(Lse { max: shift, sum });
                    }
                    if let Some(col) = col {
                        mask(e, col.reverse.get(i), t.j0, 0.0);
                        for (s, &ex) in colsum.iter_mut().zip(e.iter()) {
                            *s += ex;
                        }
                    }
                }
                None => {
                    if !row_recs.is_empty() {
                        saved.clear();
                        for &q in self.fwd.positives.get(i) {
                            if (t.j0..t.j1).contains(&q) {
                                saved.push((q - t.j0, l[q - t.j0]));
                                l[q - t.j0] = f64::NEG_INFINITY;
                            }
                        }
                        let shift = max_of(l);
                        if shift > f64::NEG_INFINITY {
                            for (ex, &x) in e.iter_mut().zip(l.iter()) {
                                *ex = exp::<FMA>(x - shift);
                            }
                            *acc = acc.merge(Lse {
                                max: shift,
                                sum: sum_lanes(e),
                            });
                        }
                        for &(k, v) in saved.iter() {
                            l[k] = v;
                        }
                    }
                    if let Some(col) = col {
                        mask(l, col.reverse.get(i), t.j0, f64::NEG_INFINITY);
                        for ((s, &x), &m) in colsum.iter_mut().zip(l.iter()).zip(colshift.iter()) {
                            *s += exp::<FMA>(x - m);
                        }
                    }
                }
            }
        }

        let Some(col) = col else {
            return Vec::new();
        };
        self.column_ranks(
            t,
            col,
            |jj| colmax[jj],
            |ii, jj| {
                // The same expression as `logit_row`, so the same bits.
                let rs = self.row_scale[t.i0 + ii];
                Into::<f64>::into(g[ii * bj + jj]) * rs * col_scale[jj]
            },
            above,
        );
        colshift
            .iter()
            .zip(colsum.iter())
            .map(|(&m, &sum)| {
                let max = self.fixed_shift.unwrap_or(m);
                if sum == 0.0 {
                    Lse::EMPTY
                } else {
                    Lse { max, sum }
                }
            })
            .collect()
    }

    /// The fold of a float32 tile under a fixed shift, all in float32 lanes
    /// but the sums: logits are `(g * rs) * cs` with `rs = scale_i / tau` and
    /// `cs = scale_j` rounded to float32, exponentials come from [`exp32`]
    /// and are summed in float64. Both roundings stay far inside the float32
    /// product's own error, and the logits' inside the window that sends
    /// near-ties to the float64 recheck. The caller sets `exp32` only when
    /// 2/tau <= 80, so every shifted logit is above -80 (minus the product's
    /// rounding) and no term underflows the float32 floor of -87.
    #[inline(always)]
    fn fold32<const FMA: bool>(
        &self,
        t: &Tile,
        g: &[f32],
        shift: f32,
        buf: &mut Buffers,
        rows: &mut [Lse],
        above: &[AtomicU64],
    ) -> Vec<Lse> {
        let bj = t.j1 - t.j0;
        let d = self.a.m.ncols() as f64;
        let col = self.col.as_ref().filter(|_| t.cols);
        let Buffers {
            colsum,
            l32,
            e32,
            cs32,
            colmax32,
            masked,
            ..
        } = buf;
        let (l, e, cs, colsum, colmax) = (
            &mut l32[..bj],
            &mut e32[..bj],
            &mut cs32[..bj],
            &mut colsum[..bj],
            &mut colmax32[..bj],
        );
        for (c, &s) in cs.iter_mut().zip(&self.col_scale[t.j0..t.j1]) {
            *c = s as f32;
        }
        if col.is_some() {
            colsum.fill(0.0);
            colmax.fill(f32::NEG_INFINITY);
        }
        let size_j = max_of(&self.b.size[t.j0..t.j1]).max(0.0);
        for (ii, acc) in rows.iter_mut().enumerate().take(t.i1 - t.i0) {
            let i = t.i0 + ii;
            let rs = self.row_scale[i] as f32;
            let grow = &g[ii * bj..(ii + 1) * bj];
            let mut row_max =
                row_logits::<FMA>(grow, rs, cs, l, col.is_some().then_some(&mut *colmax)) as f64;
            if t.diagonal {
                // The row meets itself: masked, and the maximum taken again
                // without it (diagonal tiles have no column fold).
                l[ii] = f32::NEG_INFINITY;
                row_max = rows32::max_of(l) as f64;
            }
            let row_recs = if t.rows { self.fwd.records.get(i) } else { &[] };
            let tol = self.window(d, self.a.size[i] * size_j);
            self.row_ranks(t, i, row_recs, l, row_max, tol, above);

            // Mask the row's positives (left out of its own sum) and the
            // entries where row i is the column anchor's positive (left out
            // of the column sums); add back to each sum what only the other
            // leaves out.
            masked.clear();
            let positives = if row_recs.is_empty() {
                &[][..]
            } else {
                self.fwd.positives.get(i)
            };
            let reverse = col.map_or(&[][..], |c| c.reverse.get(i));
            for (&q, row_side) in positives
                .iter()
                .map(|q| (q, true))
                .chain(reverse.iter().map(|q| (q, false)))
            {
                let Some(k) = q.checked_sub(t.j0).filter(|&k| k < bj) else {
                    continue;
                };
                match masked.iter_mut().find(|m| m.0 == k) {
                    Some(m) => {
                        m.2 |= row_side;
                        m.3 |= !row_side;
                    }
                    None => {
                        masked.push((k, l[k], row_side, !row_side));
                        l[k] = f32::NEG_INFINITY;
                    }
                }
            }
            let mut sum = row_exp_sums::<FMA>(l, shift, e, col.is_some().then_some(&mut *colsum));
            for &(k, x, row_side, col_side) in masked.iter() {
                let ex = exp32::<FMA>(x - shift) as f64;
                if !row_side {
                    sum += ex;
                }
                if !col_side && col.is_some() {
                    colsum[k] += ex;
                }
            }
            if !row_recs.is_empty() {
                *acc = acc.merge(Lse {
                    max: shift as f64,
                    sum,
                });
            }
        }

        let Some(col) = col else {
            return Vec::new();
        };
        self.column_ranks(
            t,
            col,
            |jj| colmax[jj] as f64,
            |ii, jj| {
                // The same expression as the row's logits, so the same bits.
                let rs = self.row_scale[t.i0 + ii] as f32;
                rows32::logit(g[ii * bj + jj], rs, cs[jj]) as f64
            },
            above,
        );
        colsum
            .iter()
            .map(|&sum| {
                if sum == 0.0 {
                    Lse::EMPTY
                } else {
                    Lse {
                        max: shift as f64,
                        sum,
                    }
                }
            })
            .collect()
    }

    /// The sum of `e` leaving out the entries at `skip` (indices of the
    /// whole side, offset by `j0`), which are restored afterwards.
    #[inline(always)]
    fn sum_without(
        &self,
        e: &mut [f64],
        skip: &[usize],
        j0: usize,
        saved: &mut Vec<(usize, f64)>,
    ) -> f64 {
        saved.clear();
        for &q in skip {
            if let Some(v) = q.checked_sub(j0).and_then(|k| e.get_mut(k)) {
                saved.push((q - j0, *v));
                *v = 0.0;
            }
        }
        let sum = sum_lanes(e);
        for &(k, v) in saved.iter() {
            e[k] = v;
        }
        sum
    }

    /// Row ii of the tile's logits into `l`; the anchor itself is -inf.
    #[inline(always)]
    fn logit_row(&self, t: &Tile, ii: usize, g: &[S::Tile], col_scale: &[f64], l: &mut [f64]) {
        let bj = l.len();
        let rs = self.row_scale[t.i0 + ii];
        let grow = &g[ii * bj..(ii + 1) * bj];
        for ((l, &g), &cs) in l.iter_mut().zip(grow).zip(col_scale) {
            *l = Into::<f64>::into(g) * rs * cs;
        }
        if t.diagonal {
            l[ii] = f64::NEG_INFINITY;
        }
    }

    /// Rank counts of row i's records from its tile logits `l`: only a row
    /// whose maximum reaches the positive needs counting.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn row_ranks<X: Copy + Into<f64>>(
        &self,
        t: &Tile,
        i: usize,
        records: &[usize],
        l: &[X],
        row_max: f64,
        tol: f64,
        above: &[AtomicU64],
    ) {
        for &r in records {
            let lp = self.positive_logit[r];
            if row_max >= lp - tol {
                let n = self.count_above(l, lp, tol, |jj| {
                    // The positive never scores above itself.
                    t.j0 + jj != self.positive[r] && self.scores_above(i, t.j0 + jj, lp)
                });
                if n > 0 {
                    above[r].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// Rank counts of the column records, down the columns whose maximum
    /// (`colmax(jj)`) reaches their positive (in a trained model, few or
    /// none); `logit(ii, jj)` recomputes a tile logit as the row fold did.
    #[inline(always)]
    fn column_ranks(
        &self,
        t: &Tile,
        col: &Anchors,
        colmax: impl Fn(usize) -> f64,
        logit: impl Fn(usize, usize) -> f64,
        above: &[AtomicU64],
    ) {
        let d = self.a.m.ncols() as f64;
        let size_i = max_of(&self.a.size[t.i0..t.i1]).max(0.0);
        for jj in 0..t.j1 - t.j0 {
            let j = t.j0 + jj;
            for &r in col.records.get(j) {
                let lp = self.positive_logit[r];
                let tol = self.window(d, size_i * self.b.size[j]);
                if colmax(jj) < lp - tol {
                    continue;
                }
                let mut n = 0;
                for ii in 0..t.i1 - t.i0 {
                    let x = logit(ii, jj);
                    if x > lp + tol
                        || (x >= lp - tol
                            && t.i0 + ii != self.positive[r]
                            && self.scores_above(t.i0 + ii, j, lp))
                    {
                        n += 1;
                    }
                }
                if n > 0 {
                    above[r].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// How many logits of `l` are above a positive at `lp`: clear cases by
    /// comparison, near-ties within `tol` by `recheck`.
    #[inline(always)]
    fn count_above<X: Copy + Into<f64>>(
        &self,
        l: &[X],
        lp: f64,
        tol: f64,
        recheck: impl Fn(usize) -> bool,
    ) -> u64 {
        let (hi, lo) = (lp + tol, lp - tol);
        let mut n_above = 0u64;
        let mut n_near = 0u64;
        for &x in l {
            let x: f64 = x.into();
            n_above += (x > hi) as u64;
            n_near += ((x >= lo) & (x <= hi)) as u64;
        }
        if n_near > 0 {
            for (jj, &x) in l.iter().enumerate() {
                let x: f64 = x.into();
                if x >= lo && x <= hi && recheck(jj) {
                    n_above += 1;
                }
            }
        }
        n_above
    }

    /// Without a fixed shift, each column's shift is its maximum over the
    /// tile, leaving out the entries the column fold masks.
    #[inline(always)]
    fn column_shifts(
        &self,
        t: &Tile,
        col: &Anchors,
        g: &[S::Tile],
        l: &mut [f64],
        colshift: &mut [f64],
    ) {
        colshift.fill(f64::NEG_INFINITY);
        let col_scale = &self.col_scale[t.j0..t.j1];
        for ii in 0..t.i1 - t.i0 {
            self.logit_row(t, ii, g, col_scale, l);
            mask(l, col.reverse.get(t.i0 + ii), t.j0, f64::NEG_INFINITY);
            for (m, &x) in colshift.iter_mut().zip(l.iter()) {
                *m = m.max(x);
            }
        }
        // An all-masked column keeps -inf; shift it by 0 so exp gives 0.
        for m in colshift.iter_mut() {
            if *m == f64::NEG_INFINITY {
                *m = 0.0;
            }
        }
    }

    /// The product's rounding bound plus the tie window: a tile logit outside
    /// lp +- this is decided without a float64 recheck. A dot product of d
    /// terms is within d u |x||y| of the exact one; the scaling to a logit
    /// adds at most 4 u (four roundings in float32 tiles); twice (d + 4) u
    /// covers both with room to spare.
    fn window(&self, d: f64, size: f64) -> f64 {
        self.per_tau(2.0 * (d + 4.0) * <S::Tile>::UNIT_ROUNDOFF * size)
            + 2.0 * self.tie_window(size)
    }
}

/// The logits of one float32 row ([`rows32::logits`]); with `FMA`, the AVX2
/// form.
#[inline(always)]
fn row_logits<const FMA: bool>(
    g: &[f32],
    rs: f32,
    cs: &[f32],
    l: &mut [f32],
    colmax: Option<&mut [f32]>,
) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: `FMA` is true only in the fold compiled for AVX2 and FMA,
        // which runs after checking that the CPU has both.
        return unsafe { rows32::avx2::logits(g, rs, cs, l, colmax) };
    }
    rows32::logits(g, rs, cs, l, colmax)
}

/// The exponential sums of one float32 row ([`rows32::exp_sums`]); with
/// `FMA`, the AVX2 form.
#[inline(always)]
fn row_exp_sums<const FMA: bool>(
    l: &[f32],
    shift: f32,
    e: &mut [f32],
    colsum: Option<&mut [f64]>,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: as in `row_logits`.
        return unsafe { rows32::avx2::exp_sums(l, shift, colsum) };
    }
    rows32::exp_sums::<FMA>(l, shift, e, colsum)
}
