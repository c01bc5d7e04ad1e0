//! Element types: what embeddings are stored in and what tiles are
//! multiplied in, and the scratch that converts float16 rows to float32 as
//! tiles are formed.

use ndarray::ArrayView2;

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
pub(super) struct Converted<X> {
    /// The row block's rows, and which rows they are.
    a: Vec<X>,
    a_rows: Option<(usize, usize)>,
    /// The tile's column rows.
    b: Vec<X>,
}

impl<X> Converted<X> {
    pub(super) fn new() -> Converted<X> {
        Converted {
            a: Vec::new(),
            a_rows: None,
            b: Vec::new(),
        }
    }

    /// Rows `rows` of `a` and `cols` of `b`, a tile's two sides, converted
    /// (the rows once per row block: the block's tiles share them).
    pub(super) fn tile<S: Stored<Tile = X>>(
        &mut self,
        a: ArrayView2<'_, S>,
        rows: (usize, usize),
        b: ArrayView2<'_, S>,
        cols: (usize, usize),
    ) -> (ArrayView2<'_, X>, ArrayView2<'_, X>) {
        (
            converted(a, rows, &mut self.a, Some(&mut self.a_rows)),
            converted(b, cols, &mut self.b, None),
        )
    }
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
