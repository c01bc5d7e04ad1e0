//! Files into arrays: embeddings (`.npy` or CSV/TSV) and index files.
//!
//! The format is sniffed from the bytes (`.npy` files start with a magic
//! string), so `-` (standard input) works for either. Every data error names
//! the file and the place at fault: CSV places are 1-based lines and columns as
//! an editor shows them, `.npy` places are 0-based rows and columns as numpy
//! indexes them.
//!
//! `.npz`, `.safetensors` and Parquet files hold several arrays, one of which
//! `FILE:NAME` picks ([`source`]); [`sniff`] tells every format from its first
//! bytes, and names the ones infonce recognises but does not read.

mod container;
pub mod csv;
pub mod index;
pub mod labels;
pub mod npy;
pub mod npz;
pub mod parquet;
pub mod safetensors;
pub mod sniff;
pub mod source;

use std::fs::File;
use std::io::{BufReader, Read};

use half::f16;
use memmap2::Mmap;
use ndarray::{ArrayView1, ArrayView2, ShapeBuilder};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::loss::lanes;

/// Containers (`.safetensors`) at least this large are memory-mapped
/// instead of read. `.npy` files are mapped whatever their size when their
/// data can be used in place (little-endian floats): a map costs neither a
/// copy nor memory of its own, and a run (or a part of a sharded one)
/// reads only the pages it needs.
pub const MMAP_THRESHOLD: u64 = 256 << 20;

/// The bytes behind a matrix: read into memory, or mapped from the file.
pub enum Storage<T> {
    Owned(Vec<T>),
    Mapped {
        map: Mmap,
        offset: usize,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Storage<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped { map, offset, len } => {
                let bytes = &map[*offset..*offset + *len * std::mem::size_of::<T>()];
                bytemuck::cast_slice(bytes)
            }
        }
    }
}

/// Lets the kernel take back the pages of `map` over `len` bytes from `at`
/// (read again from the file, or the page cache, if touched once more): a
/// file read through once, to check or hash it, then holds no memory of
/// this process. A hint, so a failure changes nothing; elsewhere than on
/// Unix there is none to give.
pub(crate) fn release(map: &Mmap, at: usize, len: usize) {
    // SAFETY: the map is read-only and backed by its file: dropped pages
    // read back the same bytes.
    #[cfg(unix)]
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, len) };
    #[cfg(not(unix))]
    let _ = (map, at, len);
}

/// A dense rows x cols matrix in C (row-major) or Fortran (column-major) order.
pub struct Matrix<T> {
    storage: Storage<T>,
    rows: usize,
    cols: usize,
    fortran: bool,
}

impl<T: bytemuck::Pod> Matrix<T> {
    /// A row-major matrix from its values; `values.len()` must be `rows * cols`.
    pub fn from_rows(rows: usize, cols: usize, values: Vec<T>) -> Self {
        assert_eq!(
            values.len(),
            rows * cols,
            "matrix data does not fit its shape"
        );
        Matrix {
            storage: Storage::Owned(values),
            rows,
            cols,
            fortran: false,
        }
    }

    /// A matrix read in place from `map`, its data starting at `offset`.
    fn mapped(map: Mmap, offset: usize, (rows, cols): (usize, usize), fortran: bool) -> Self {
        Matrix {
            storage: Storage::Mapped {
                map,
                offset,
                len: rows * cols,
            },
            rows,
            cols,
            fortran,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// True when the data lives in a memory map rather than the heap.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// Lets the kernel take back the pages of a mapped matrix that this
    /// process has read so far (they are read again from the file, or the
    /// page cache, when touched once more); nothing for one in memory.
    pub fn release_pages(&self) {
        self.release_rows(0, self.rows);
    }

    /// [`Matrix::release_pages`] for rows `r0..r1`. A column-major matrix
    /// spreads each row over the whole file: it is let go only when
    /// `r0..r1` is all of it.
    pub fn release_rows(&self, r0: usize, r1: usize) {
        if let Storage::Mapped { map, offset, .. } = &self.storage {
            let size = std::mem::size_of::<T>();
            let (at, len) = if self.fortran {
                if (r0, r1) != (0, self.rows) {
                    return;
                }
                (*offset, self.rows * self.cols * size)
            } else {
                (offset + r0 * self.cols * size, (r1 - r0) * self.cols * size)
            };
            release(map, at, len);
        }
    }

    /// The matrix as an ndarray view (strides follow the storage order).
    pub fn view(&self) -> ArrayView2<'_, T> {
        let s = self.storage.as_slice();
        let shape = (self.rows, self.cols);
        if self.fortran {
            ArrayView2::from_shape(shape.f(), s).expect("shape checked on load")
        } else {
            ArrayView2::from_shape(shape, s).expect("shape checked on load")
        }
    }
}

/// Embeddings as loaded: float16, float32 or float64 values, and what they
/// came from.
pub struct Embeddings {
    /// The name used in messages (the path as given, or `<stdin>`).
    pub name: String,
    /// The element type in the file (`float16`, `float32`, `float64`; CSV is `float64`).
    pub source_dtype: String,
    pub values: Values,
    /// For text files, the 1-based line that holds row 0, so that places
    /// can be named as an editor shows them.
    pub first_line: Option<usize>,
}

/// The values of an embedding matrix as stored. float16 is kept as it is
/// and converted to float32 as the pass reads it.
pub enum Values {
    F16(Matrix<f16>),
    F32(Matrix<f32>),
    F64(Matrix<f64>),
}

/// Evaluates `$body` with `$m` bound to the matrix, whatever its element type.
macro_rules! with_matrix {
    ($values:expr, $m:ident => $body:expr) => {
        match $values {
            Values::F16($m) => $body,
            Values::F32($m) => $body,
            Values::F64($m) => $body,
        }
    };
}

impl Embeddings {
    /// True when the values are read in place from a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        with_matrix!(&self.values, m => m.is_mapped())
    }

    /// [`Matrix::release_pages`].
    pub fn release_pages(&self) {
        with_matrix!(&self.values, m => m.release_pages())
    }

    pub fn rows(&self) -> usize {
        with_matrix!(&self.values, m => m.rows())
    }

    pub fn cols(&self) -> usize {
        with_matrix!(&self.values, m => m.cols())
    }

    /// Whether the values are float16.
    pub fn is_f16(&self) -> bool {
        matches!(self.values, Values::F16(_))
    }

    /// Converts the values to float64 (for `--precision f64`), exactly.
    pub fn into_f64(self) -> Embeddings {
        self.try_into_f64()
            .expect("the float64 copy fits in memory")
    }

    /// [`Embeddings::into_f64`], but an error rather than an abort when the
    /// float64 copy does not fit in memory.
    pub fn try_into_f64(self) -> Result<Embeddings> {
        let values = match &self.values {
            Values::F64(_) => return Ok(self),
            Values::F16(m) => Values::F64(self.widened(m, f64::from)?),
            Values::F32(m) => Values::F64(self.widened(m, f64::from)?),
        };
        Ok(Embeddings { values, ..self })
    }

    /// Converts float16 values to float32, exactly (for a keys file whose
    /// queries are float32); other values are kept.
    pub fn try_into_f32(self) -> Result<Embeddings> {
        let values = match &self.values {
            Values::F16(m) => Values::F32(self.widened(m, f32::from)?),
            _ => return Ok(self),
        };
        Ok(Embeddings { values, ..self })
    }

    /// A row-major copy of `m` with every value converted by `f`; an error
    /// when the copy cannot be allocated.
    fn widened<S: bytemuck::Pod, T: bytemuck::Pod>(
        &self,
        m: &Matrix<S>,
        f: impl Fn(S) -> T,
    ) -> Result<Matrix<T>> {
        let (rows, cols) = (m.rows(), m.cols());
        let n = rows * cols;
        let mut out: Vec<T> = Vec::new();
        out.try_reserve_exact(n).map_err(|_| {
            Error::data(
                &self.name,
                format!(
                    "holds {n} values, which need {} bytes of memory as {}; \
                     that much cannot be allocated",
                    n.saturating_mul(std::mem::size_of::<T>()),
                    if std::mem::size_of::<T>() == 8 {
                        "float64"
                    } else {
                        "float32"
                    }
                ),
            )
        })?;
        // `iter` walks in logical (row-major) order whatever the storage.
        out.extend(m.view().iter().map(|&x| f(x)));
        Ok(Matrix::from_rows(rows, cols, out))
    }

    /// Refuses NaN and infinite values, naming the first one found.
    pub fn check_finite(&self) -> Result<()> {
        self.finite_norms(false).map(drop)
    }

    /// [`Embeddings::row_norms`], or the error of
    /// [`Embeddings::check_finite`]: both from one pass over the values.
    /// With `release`, the pages of a mapped file are let go as the pass
    /// goes ([`Matrix::release_rows`]): for a part of a sharded run, which
    /// then reads only the rows of its own tiles.
    pub fn finite_norms(&self, release: bool) -> Result<Vec<f64>> {
        self.norms_or_first_non_finite(release)
            .map_err(|(r, c, x)| {
                Error::data(
                    &self.name,
                    format!("{} at {}", x, self.place(r, c))
                        .replace("NaN at", "NaN (not a number) at"),
                )
            })
    }

    /// The row norms, or the first value that is NaN or infinite (row,
    /// column, value). A row's sum of squares is finite when all its values
    /// are (but for float64 values so large that it overflows): the values
    /// themselves are looked at only where it is not.
    pub fn norms_or_first_non_finite(
        &self,
        release: bool,
    ) -> std::result::Result<Vec<f64>, (usize, usize, f64)> {
        fn go<T: bytemuck::Pod + Into<f64> + Sync>(
            m: &Matrix<T>,
            release: bool,
        ) -> std::result::Result<Vec<f64>, (usize, usize, f64)> {
            let v = m.view();
            // Rows of about 8 MiB at a time, whose pages a mapped file then
            // lets go, if asked: reading every row then costs no memory of
            // its own.
            let step = ((8usize << 20) / (v.ncols() * std::mem::size_of::<T>()).max(1)).max(1);
            let mut norms: Vec<f64> = Vec::with_capacity(v.nrows());
            for r0 in (0..v.nrows()).step_by(step) {
                let r1 = (r0 + step).min(v.nrows());
                // NaN marks a row with a non-finite value: no other norm
                // is NaN.
                norms.par_extend((r0..r1).into_par_iter().map(|r| {
                    let row = v.row(r);
                    let ss = lanes::sum_squares(row);
                    if ss.is_finite() || lanes::all_finite(row) {
                        norm_given(row, ss)
                    } else {
                        f64::NAN
                    }
                }));
                if release {
                    m.release_rows(r0, r1);
                }
            }
            match norms.iter().position(|x| x.is_nan()) {
                None => Ok(norms),
                Some(r) => {
                    let finite = |x: &T| (*x).into().is_finite();
                    let (c, &x) = v
                        .row(r)
                        .iter()
                        .enumerate()
                        .find(|(_, x)| !finite(x))
                        .expect("a row whose norm is NaN holds a non-finite value");
                    Err((r, c, x.into()))
                }
            }
        }
        with_matrix!(&self.values, m => go(m, release))
    }

    /// The Euclidean norm of every row, computed without overflow or
    /// underflow whatever the magnitude of the values (0 for a zero row).
    pub fn row_norms(&self) -> Vec<f64> {
        fn norms<T: Copy + Into<f64> + Sync>(v: ArrayView2<'_, T>) -> Vec<f64> {
            (0..v.nrows())
                .into_par_iter()
                .map(|r| norm_given(v.row(r), lanes::sum_squares(v.row(r))))
                .collect()
        }
        with_matrix!(&self.values, m => norms(m.view()))
    }

    /// A warning when the matrix looks transposed (each column an embedding):
    /// its columns have unit norm and its rows do not, or, under cosine
    /// similarity, it has fewer rows than columns, at least 16 of them (the
    /// width of the smallest embedding models, which a transposed matrix has
    /// as rows), and its rows are not unit vectors (normalized rows are
    /// embeddings).
    pub fn transposed_warning(&self, cosine: bool) -> Option<String> {
        self.transposed_warning_given(&self.row_norms(), cosine)
    }

    /// [`Embeddings::transposed_warning`], given the row norms.
    pub fn transposed_warning_given(&self, row_norms: &[f64], cosine: bool) -> Option<String> {
        fn col_norms<T: Copy + Into<f64>>(v: ArrayView2<'_, T>) -> Vec<f64> {
            let mut ss = vec![0.0f64; v.ncols()];
            for row in v.rows() {
                for (s, &x) in ss.iter_mut().zip(row) {
                    let x: f64 = x.into();
                    *s += x * x;
                }
            }
            ss.into_iter().map(f64::sqrt).collect()
        }
        let (r, d) = (self.rows(), self.cols());
        if r < 2 || d < 2 {
            return None;
        }
        let unit = |n: &[f64]| n.iter().all(|&x| (x - 1.0).abs() < 1e-3);
        if unit(row_norms) {
            return None;
        }
        // Unit columns hold d in all: only then is the pass over columns run.
        let total: f64 = row_norms.iter().map(|n| n * n).sum();
        let cols_unit = (total - d as f64).abs() < 2e-3 * d as f64
            && unit(&with_matrix!(&self.values, m => col_norms(m.view())));
        let why = if cols_unit {
            "its columns are unit vectors and its rows are not"
        } else if cosine && r < d && r >= 16 {
            "it has fewer rows than dimensions"
        } else {
            return None;
        };
        Some(format!(
            "{}: {r} rows of dimension {d} look transposed ({why}); each row must be one embedding: if each column is, save z.T",
            self.name
        ))
    }

    /// How a 0-based row and column are named in messages about this file.
    pub fn place(&self, row: usize, col: usize) -> String {
        match self.first_line {
            Some(l) => format!("line {}, column {}", l + row, col + 1),
            None => format!("row {row}, column {col}"),
        }
    }

    /// How a 0-based row is named in messages about this file.
    pub fn row_place(&self, row: usize) -> String {
        match self.first_line {
            Some(l) => format!("line {} (row {row})", l + row),
            None => format!("row {row}"),
        }
    }
}

/// Opens a path for reading, `-` meaning standard input, with a clear error.
pub(crate) fn open(path: &str) -> Result<Box<dyn Read>> {
    if path == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = File::open(path).map_err(|e| Error::data(path, io_reason(&e)))?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::data(path, sniff::directory(path)));
    }
    Ok(Box::new(f))
}

/// A short reason for an I/O error, without Rust's "(os error N)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// The name used for standard input in messages.
pub fn display_name(path: &str) -> String {
    if path == "-" {
        "<stdin>".into()
    } else {
        path.to_string()
    }
}

/// Loads an embedding file (`.npy`, CSV or TSV, `.npz`, `.safetensors` or
/// Parquet; `FILE:NAME` picks an array or column, see [`source`]; `-` for
/// standard input).
pub fn load_embeddings(spec: &str) -> Result<Embeddings> {
    load_embeddings_with(spec, None).map(|(e, _)| e)
}

/// Loads an embedding file; `columns` (`--columns`) picks the columns of
/// text input. Also returns the columns of text input left out on the tool's
/// own judgement (a pandas index).
pub fn load_embeddings_with(
    spec: &str,
    columns: Option<&csv::ColumnSpec>,
) -> Result<(Embeddings, Vec<csv::DroppedColumn>)> {
    load_array(spec, columns, false).map(|(e, _, dropped)| (e, dropped))
}

/// Loads a file of extra negatives (`--negatives`): embeddings as
/// [`load_embeddings_with`] reads them, (M, d), or a 3-D array (A, M, d) of
/// an `.npy` file or an `.npz`/`.safetensors` member, returned as its A M
/// rows (row `a M + m` is entry `[a, m]`) with M.
pub fn load_negatives(
    spec: &str,
    columns: Option<&csv::ColumnSpec>,
) -> Result<(Embeddings, Option<usize>, Vec<csv::DroppedColumn>)> {
    load_array(spec, columns, true)
}

/// Loads an array; with `blocks`, a 3-D one (A, M, d) too, as its A M rows
/// (and M).
fn load_array(
    spec: &str,
    columns: Option<&csv::ColumnSpec>,
    blocks: bool,
) -> Result<(Embeddings, Option<usize>, Vec<csv::DroppedColumn>)> {
    let src = source::Source::resolve(spec)?;
    let path = src.path.as_str();
    let name = display_name(path);
    let mut reader = open(path)?;
    // Read the first bytes to tell the format.
    let mut head = Vec::with_capacity(sniff::HEAD_LEN);
    (&mut reader)
        .take(sniff::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::data(&name, io_reason(&e)))?;
    if let (Some(spec), Some(kind)) = (columns, container::kind(&head)) {
        return Err(Error::Usage(format!(
            "--columns {spec} picks columns of text input, but {name} is {kind}; \
             name the array or column after ':' instead"
        )));
    }
    if let Some((e, m)) = container::array(&src, &head, &mut reader, blocks)? {
        return Ok((e, m, Vec::new()));
    }
    if head.starts_with(npy::MAGIC) {
        if let Some(spec) = columns {
            return Err(Error::Usage(format!(
                "--columns {spec} picks columns of text input, but {name} is a .npy file"
            )));
        }
        let regular = path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file());
        if regular {
            drop(reader);
            return load_npy_blocks(path, 0, blocks).map(|(e, m)| (e, m, Vec::new()));
        }
        // Standard input or a pipe: read what the header promises, no more.
        let mut full = std::io::Cursor::new(head).chain(reader);
        return npy_stream(&name, &mut full, blocks).map(|(e, m)| (e, m, Vec::new()));
    }
    if path.to_ascii_lowercase().ends_with(".npy") {
        return Err(Error::data(
            &name,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    csv::check_size(&name, path)?;
    let full = std::io::Cursor::new(head).chain(reader);
    csv::read_text(&name, csv::delimiter_for(path), full, columns).map(|(e, d)| (e, None, d))
}

/// `.npy` embeddings from a stream: the header, exactly the data it
/// promises (memory grows as the bytes arrive, so a header's claim costs
/// nothing by itself), and then the end of the stream.
fn npy_stream<R: Read>(name: &str, r: &mut R, blocks: bool) -> Result<(Embeddings, Option<usize>)> {
    let mut header = npy::read_header(name, r)?;
    let fold = fold_blocks(name, &mut header, blocks)?;
    check_embedding_header(name, &header, NPY_CONVERT)?;
    let data = npy::read_data(name, &header, r, None)?;
    unfold(npy_data(name, &header, &mut &data[..])?, fold)
}

#[cfg(test)]
fn load_npy_file(path: &str, mmap_threshold: u64) -> Result<Embeddings> {
    load_npy_blocks(path, mmap_threshold, false).map(|(e, _)| e)
}

/// A 3-D array's shape, when [`fold_blocks`] folded it: (A, M, Fortran order).
type Folded = Option<(usize, usize, bool)>;

/// With `blocks`, a 3-D header (A, M, d) becomes the 2-D one of its A M
/// rows; any other rank but 2 is refused as negatives. Returns A, M and the
/// order of a folded header.
fn fold_blocks(name: &str, h: &mut npy::Header, blocks: bool) -> Result<Folded> {
    if !blocks || h.shape.len() == 2 {
        return Ok(None);
    }
    let [a, m, d] = h.shape[..] else {
        return Err(Error::data(
            name,
            format!(
                "negatives must be a 2-D array (M, dimension) shared by every anchor, or a \
                 3-D array (A, M, dimension) of M per anchor, not shape {:?}",
                h.shape
            ),
        ));
    };
    if a == 0 || m == 0 || d == 0 {
        return Err(Error::data(
            name,
            format!("negatives have shape {:?}: no values", h.shape),
        ));
    }
    h.data_len(name)?;
    h.shape = vec![a * m, d];
    Ok(Some((a, m, h.fortran_order)))
}

/// The rows of a folded 3-D array in the order `a M + m`, and M. A
/// Fortran-order array read as 2-D holds its rows in the order `a + A m`,
/// so they are copied into place.
fn unfold(e: Embeddings, fold: Folded) -> Result<(Embeddings, Option<usize>)> {
    let Some((a, m, fortran)) = fold else {
        return Ok((e, None));
    };
    if !fortran {
        return Ok((e, Some(m)));
    }
    fn reorder<T: bytemuck::Pod>(
        name: &str,
        x: &Matrix<T>,
        a: usize,
        m: usize,
    ) -> Result<Matrix<T>> {
        let v = x.view();
        let n = v.len();
        let mut out: Vec<T> = Vec::new();
        out.try_reserve_exact(n).map_err(|_| {
            Error::data(
                name,
                format!("holds {n} values; a copy of them cannot be allocated"),
            )
        })?;
        for r in 0..a * m {
            out.extend(v.row(r / m + a * (r % m)).iter().copied());
        }
        Ok(Matrix::from_rows(x.rows(), x.cols(), out))
    }
    let values = match &e.values {
        Values::F16(x) => Values::F16(reorder(&e.name, x, a, m)?),
        Values::F32(x) => Values::F32(reorder(&e.name, x, a, m)?),
        Values::F64(x) => Values::F64(reorder(&e.name, x, a, m)?),
    };
    Ok((Embeddings { values, ..e }, Some(m)))
}

fn load_npy_blocks(
    path: &str,
    mmap_threshold: u64,
    blocks: bool,
) -> Result<(Embeddings, Option<usize>)> {
    let file = File::open(path).map_err(|e| Error::data(path, io_reason(&e)))?;
    let len = file
        .metadata()
        .map_err(|e| Error::data(path, io_reason(&e)))?
        .len();
    let mut r = BufReader::new(&file);
    let mut header = npy::read_header(path, &mut r)?;
    let fold = fold_blocks(path, &mut header, blocks)?;
    check_embedding_header(path, &header, NPY_CONVERT)?;
    header.check_len(path, len)?;
    let native_float = header.dtype.kind == npy::Kind::Float
        && !header.dtype.big_endian
        && matches!(header.dtype.size, 2 | 4 | 8)
        && cfg!(target_endian = "little");
    if len >= mmap_threshold && native_float && header.data_offset % header.dtype.size == 0 {
        // SAFETY: the map is read-only; like every tool that maps its input we
        // assume the file is not truncated while we run.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::data(path, io_reason(&e)))?;
        if map.len() as u64 != len {
            return Err(Error::data(path, "changed size while being read"));
        }
        let (rows, cols) = (header.shape[0], header.shape[1]);
        let (offset, fortran) = (header.data_offset, header.fortran_order);
        let values = match header.dtype.size {
            2 => Values::F16(Matrix::mapped(map, offset, (rows, cols), fortran)),
            4 => Values::F32(Matrix::mapped(map, offset, (rows, cols), fortran)),
            _ => Values::F64(Matrix::mapped(map, offset, (rows, cols), fortran)),
        };
        return unfold(
            Embeddings {
                name: path.to_string(),
                source_dtype: header.dtype.name(),
                values,
                first_line: None,
            },
            fold,
        );
    }
    unfold(npy_data(path, &header, &mut r)?, fold)
}

/// The Euclidean norm of `row`, whose sum of squares is `ss`
/// ([`lanes::sum_squares`]). The plain sum is exact enough unless it left
/// float64's normal range (only float64 input can); then the row is scaled
/// by its largest value first.
fn norm_given<T: Copy + Into<f64>>(row: ArrayView1<'_, T>, ss: f64) -> f64 {
    if (1e-300..=1e300).contains(&ss) {
        return ss.sqrt();
    }
    let m = row.iter().fold(0.0f64, |m, &x| m.max(x.into().abs()));
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    // Divide (1/m overflows for the smallest m): every x/m is at most 1.
    let ss: f64 = row.iter().map(|&x| (x.into() / m).powi(2)).sum();
    m * ss.sqrt()
}

/// How to convert an `.npy` file of integers, for hints.
const NPY_CONVERT: &str = "np.save(path, z.astype(np.float32))";

/// Checks an `.npy` header for embeddings; `convert` says how to save
/// integers as floats, for the hint.
fn check_embedding_header(file: &str, h: &npy::Header, convert: &str) -> Result<()> {
    if h.dtype.kind != npy::Kind::Float {
        return Err(Error::data(
            file,
            format!(
                "embeddings must be float16, float32 or float64, not {} (convert them: {convert})",
                h.dtype.name()
            ),
        ));
    }
    if h.shape.len() != 2 {
        return Err(Error::data(
            file,
            format!(
                "embeddings must be a 2-D array (rows, dimension), not shape {:?}",
                h.shape
            ),
        ));
    }
    if h.shape[0] == 0 || h.shape[1] == 0 {
        return Err(Error::data(
            file,
            format!("embeddings have shape {:?}: no values", h.shape),
        ));
    }
    Ok(())
}

/// Parses `.npy` embeddings from a reader holding the whole file (`len` bytes).
pub fn npy_embeddings<R: Read>(name: &str, r: &mut R, len: u64) -> Result<Embeddings> {
    npy_embeddings_hinted(name, r, len, NPY_CONVERT)
}

/// [`npy_embeddings`], with `convert` saying how to save integers as
/// floats, for the hint (an `.npz` member converts differently).
pub(crate) fn npy_embeddings_hinted<R: Read>(
    name: &str,
    r: &mut R,
    len: u64,
    convert: &str,
) -> Result<Embeddings> {
    npy_blocks_hinted(name, r, len, convert, false).map(|(e, _)| e)
}

/// [`npy_embeddings_hinted`]; with `blocks`, a 3-D array (A, M, d) too, as
/// its A M rows (and M).
pub(crate) fn npy_blocks_hinted<R: Read>(
    name: &str,
    r: &mut R,
    len: u64,
    convert: &str,
    blocks: bool,
) -> Result<(Embeddings, Option<usize>)> {
    let mut header = npy::read_header(name, r)?;
    let fold = fold_blocks(name, &mut header, blocks)?;
    check_embedding_header(name, &header, convert)?;
    header.check_len(name, len)?;
    unfold(npy_data(name, &header, r)?, fold)
}

/// Elements decoded per read: the only buffer besides the result.
const CHUNK: usize = 65536;

/// Reads `n` elements of `size` bytes, decoding each with `decode`. The
/// result's memory is reserved up front (refused with an error, not an abort,
/// when it cannot be had), and filled chunk by chunk as the bytes arrive.
fn read_elements<T, R: Read>(
    name: &str,
    r: &mut R,
    n: usize,
    size: usize,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::data(
            name,
            format!(
                "holds {n} values, which need {} bytes of memory; that much cannot be allocated",
                n.saturating_mul(std::mem::size_of::<T>())
            ),
        )
    })?;
    let mut buf = vec![0u8; size * CHUNK.min(n)];
    while v.len() < n {
        let k = (n - v.len()).min(CHUNK);
        r.read_exact(&mut buf[..size * k]).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::UnexpectedEof => "file ends inside the data".to_string(),
                _ => io_reason(&e),
            };
            Error::data(name, reason)
        })?;
        v.extend(buf[..size * k].chunks_exact(size).map(&decode));
    }
    Ok(v)
}

/// Reads the data of a checked header into typed storage (big-endian data
/// is swapped).
fn npy_data<R: Read>(name: &str, h: &npy::Header, r: &mut R) -> Result<Embeddings> {
    let (rows, cols) = (h.shape[0], h.shape[1]);
    let n = rows * cols;
    let be = h.dtype.big_endian;
    let f32s = |v| {
        Values::F32(Matrix {
            storage: Storage::Owned(v),
            rows,
            cols,
            fortran: h.fortran_order,
        })
    };
    let values = match h.dtype.size {
        2 => Values::F16(Matrix {
            storage: Storage::Owned(read_elements(name, r, n, 2, |b| {
                let b = [b[0], b[1]];
                f16::from_bits(if be {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                })
            })?),
            rows,
            cols,
            fortran: h.fortran_order,
        }),
        4 => f32s(read_elements(name, r, n, 4, |b| {
            let b = [b[0], b[1], b[2], b[3]];
            if be {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            }
        })?),
        8 => Values::F64(Matrix {
            storage: Storage::Owned(read_elements(name, r, n, 8, |b| {
                let b: [u8; 8] = b.try_into().expect("chunks of 8");
                if be {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }
            })?),
            rows,
            cols,
            fortran: h.fortran_order,
        }),
        _ => unreachable!("float sizes are checked when the header is parsed"),
    };
    Ok(Embeddings {
        name: name.to_string(),
        source_dtype: h.dtype.name(),
        values,
        first_line: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// Every value of `e`, row by row, widened to f64 (shared by the input
    /// modules' tests).
    pub(crate) fn values_f64(e: &Embeddings) -> Vec<f64> {
        match &e.values {
            Values::F16(m) => m.view().iter().map(|&x| f64::from(x)).collect(),
            Values::F32(m) => m.view().iter().map(|&x| x as f64).collect(),
            Values::F64(m) => m.view().iter().copied().collect(),
        }
    }

    #[test]
    fn row_norms_neither_overflow_nor_underflow() {
        let rows = [
            [3.0, 4.0],
            [0.0, 0.0],
            [3e200, 4e200],
            [3e-200, -4e-200],
            [5e-324, 0.0],
            [f64::MAX, f64::MAX],
        ];
        let e = Embeddings {
            name: "e.npy".into(),
            source_dtype: "float64".into(),
            values: Values::F64(Matrix::from_rows(6, 2, rows.concat())),
            first_line: None,
        };
        let n = e.row_norms();
        let want = [5.0, 0.0, 5e200, 5e-200, 5e-324, f64::MAX * 2f64.sqrt()];
        for (got, want) in n.iter().zip(want) {
            assert!(
                (got - want).abs() <= 1e-15 * want || got == &want,
                "{got:e} vs {want:e}"
            );
        }
    }

    #[test]
    fn mapped_files_read_the_same_values() {
        for name in [
            "twoview_f32.npy",
            "twoview_f64_fortran.npy",
            "seed.npy",
            "twoview_f16.npy",
        ] {
            let path = fixture(name);
            let mapped = load_npy_file(&path, 0).unwrap();
            let read = load_npy_file(&path, u64::MAX).unwrap();
            assert!(mapped.is_mapped(), "{name} is mapped");
            assert!(!read.is_mapped(), "{name} is read");
            assert_eq!(values_f64(&mapped), values_f64(&read), "{name}");
            assert_eq!((mapped.rows(), mapped.cols()), (read.rows(), read.cols()));
        }
        // float16 stays float16 in memory, mapped or read.
        assert!(
            load_npy_file(&fixture("twoview_f16.npy"), 0)
                .unwrap()
                .is_f16()
        );
    }
}
