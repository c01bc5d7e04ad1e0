//! Parquet files with an embedding column: one list of floats per row, as
//! Hugging Face datasets (`list<float32>`), LanceDB and vector-store exports
//! (`fixed_size_list<float32>[d]`) write them; `list`, `large_list` and
//! `fixed_size_list` of float16, float32 or float64.
//!
//! Only the named column is read (`FILE.parquet:COLUMN`; a file with one list
//! column needs no name). Pairs come from two integer columns
//! (`--pairs FILE.parquet:anchor,positive`). Rows are 0-based, as pandas and
//! pyarrow number them; a null row, a null value or a row of another length
//! is an error naming the row. The reader is built with snappy, gzip and
//! zstd, the codecs pyarrow, pandas, polars and DuckDB write by default;
//! other codecs get a message saying how to rewrite the file.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, GenericListArray, OffsetSizeTrait};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::reader::ChunkReader;

use crate::error::{Error, Result};
use crate::input::index::{IndexPair, Pairs};
use crate::input::source::Source;
use crate::input::{Embeddings, Matrix, Values};

/// Columns listed in messages before the rest are counted.
const LISTED: usize = 8;

/// A short name of an Arrow type, as pyarrow prints it.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::LargeList(f) => format!("large_list<{}>", type_name(f.data_type())),
        DataType::FixedSizeList(f, n) => {
            format!("fixed_size_list<{}>[{n}]", type_name(f.data_type()))
        }
        other => other.to_string(),
    }
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    )
}

fn is_int(t: &DataType) -> bool {
    t.is_integer()
}

/// `name type` of the given fields, the first few of them.
fn describe<'a>(fields: impl ExactSizeIterator<Item = &'a Field>) -> String {
    let n = fields.len();
    let mut parts: Vec<String> = fields
        .take(LISTED)
        .map(|f| format!("{} {}", f.name(), type_name(f.data_type())))
        .collect();
    if n > LISTED {
        parts.push(format!("and {} more", n - LISTED));
    }
    if parts.is_empty() {
        "no columns".into()
    } else {
        parts.join(", ")
    }
}

/// The reader's message without its "Parquet error: " prefix.
fn reason(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.strip_prefix("Parquet error: ").unwrap_or(&s).to_string()
}

/// Runs `read` (one step of the Parquet reader), turning a panic into the
/// file's error: the parquet crate asserts on some damaged files (a data
/// page in dictionary encoding without a dictionary, say), and a damaged
/// file is bad input, not a bug. Such a panic prints nothing; any other
/// keeps the usual message.
fn guarded<R>(name: &str, read: impl FnOnce() -> Result<R>) -> Result<R> {
    use std::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind, set_hook, take_hook};
    thread_local! {
        static READING: Cell<bool> = const { Cell::new(false) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let usual = take_hook();
        set_hook(Box::new(move |info| {
            if !READING.with(Cell::get) {
                usual(info);
            }
        }));
    });
    READING.with(|r| r.set(true));
    let result = catch_unwind(AssertUnwindSafe(read));
    READING.with(|r| r.set(false));
    result.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::data(
            name,
            format!(
                "is not a readable Parquet file: its data is damaged (the reader stopped: '{}')",
                crate::input::csv::truncate(&why)
            ),
        ))
    })
}

/// An open Parquet file: its reader builder and Arrow schema.
struct File<T: ChunkReader + 'static> {
    name: String,
    builder: ParquetRecordBatchReaderBuilder<T>,
    schema: std::sync::Arc<Schema>,
}

fn open<T: ChunkReader + 'static>(src: &Source, reader: T) -> Result<File<T>> {
    let name = src.file_name();
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| {
        Error::data(
            &name,
            format!("is not a readable Parquet file: {}", reason(&e)),
        )
    })?;
    // The reader asserts (panics) on a column chunk whose start or size is
    // negative, as damaged metadata can say: refused here first.
    for (g, rg) in builder.metadata().row_groups().iter().enumerate() {
        for chunk in rg.columns() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            if start < 0 || chunk.compressed_size() < 0 {
                return Err(Error::data(
                    &name,
                    format!(
                        "is not a readable Parquet file: row group {g}, column '{}' has a negative offset or size (damaged metadata)",
                        crate::input::csv::truncate(&chunk.column_path().string())
                    ),
                ));
            }
        }
    }
    let schema = builder.schema().clone();
    Ok(File {
        name,
        builder,
        schema,
    })
}

impl<T: ChunkReader + 'static> File<T> {
    /// The index of the top-level column called `c`.
    fn column(&self, c: &str) -> Result<usize> {
        self.schema
            .fields()
            .iter()
            .position(|f| f.name() == c)
            .ok_or_else(|| {
                Error::data(
                    &self.name,
                    format!(
                        "has no column '{}'; it holds {}",
                        crate::input::csv::truncate(c),
                        describe(self.schema.fields().iter().map(|f| f.as_ref()))
                    ),
                )
            })
    }

    /// Refuses codecs this build does not decompress, before reading.
    fn check_codecs(&self, columns: &[usize]) -> Result<()> {
        let meta = self.builder.metadata();
        for rg in meta.row_groups() {
            for chunk in rg.columns() {
                let top = &chunk.column_path().parts()[0];
                let wanted = columns.iter().any(|&i| self.schema.field(i).name() == top);
                let codec = match chunk.compression() {
                    Compression::UNCOMPRESSED
                    | Compression::SNAPPY
                    | Compression::GZIP(_)
                    | Compression::ZSTD(_) => continue,
                    Compression::BROTLI(_) => "brotli",
                    Compression::LZ4 | Compression::LZ4_RAW => "lz4",
                    Compression::LZO => "lzo",
                };
                if wanted {
                    return Err(Error::data(
                        &self.name,
                        format!(
                            "column '{top}' is compressed with {codec}, which infonce does not \
                             read (it reads snappy, gzip, zstd and uncompressed Parquet); rewrite \
                             it with pyarrow.parquet.write_table(table, path, compression='zstd')"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The batches of the top-level columns `columns`, in schema order.
    fn batches(
        self,
        columns: &[usize],
    ) -> Result<impl Iterator<Item = Result<arrow_array::RecordBatch>> + use<T>> {
        self.check_codecs(columns)?;
        let name = self.name.clone();
        let mask = ProjectionMask::roots(self.builder.parquet_schema(), columns.iter().copied());
        let reader = self
            .builder
            .with_projection(mask)
            .build()
            .map_err(|e| Error::data(&name, format!("cannot read: {}", reason(&e))))?;
        let mut reader = reader;
        Ok(std::iter::from_fn(move || {
            guarded(&name, || {
                reader
                    .next()
                    .transpose()
                    .map_err(|e| Error::data(&name, format!("cannot read: {}", reason(&e))))
            })
            .transpose()
        }))
    }

    fn rows(&self) -> usize {
        usize::try_from(self.builder.metadata().file_metadata().num_rows()).unwrap_or(0)
    }
}

/// Reads the embedding column `src` names, or the only list column.
pub fn embeddings<T: ChunkReader + 'static>(src: &Source, reader: T) -> Result<Embeddings> {
    let file = open(src, reader)?;
    let fields = file.schema.fields();
    let col = match &src.member {
        Some(m) => file.column(m)?,
        None => {
            let lists: Vec<usize> = (0..fields.len())
                .filter(|&i| is_list(fields[i].data_type()))
                .collect();
            match lists[..] {
                [i] => i,
                [] => {
                    return Err(Error::data(
                        &file.name,
                        format!(
                            "has no list column to read embeddings from (it holds {}); \
                             embeddings are one list of floats per row",
                            describe(fields.iter().map(|f| f.as_ref()))
                        ),
                    ));
                }
                _ => {
                    return Err(Error::data(
                        &file.name,
                        format!(
                            "holds {} list columns: {}; name one, as in {}",
                            lists.len(),
                            describe(lists.iter().map(|&i| fields[i].as_ref())),
                            src.with_member(fields[lists[0]].name())
                        ),
                    ));
                }
            }
        }
    };
    let field = fields[col].clone();
    let name = src.data_name();
    let item = match field.data_type() {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().clone()
        }
        other => {
            return Err(Error::data(
                &name,
                format!(
                    "column '{}' is {}, not a list; embeddings are one list of floats per row",
                    field.name(),
                    type_name(other)
                ),
            ));
        }
    };
    let rows = file.rows();
    let batches = file.batches(&[col])?;
    let (values, source_dtype) = match item {
        DataType::Float16 => {
            let (r, c, v) = read_lists::<Float16Type>(&name, batches, rows)?;
            (Values::F16(Matrix::from_rows(r, c, v)), "float16")
        }
        DataType::Float32 => {
            let (r, c, v) = read_lists::<Float32Type>(&name, batches, rows)?;
            (Values::F32(Matrix::from_rows(r, c, v)), "float32")
        }
        DataType::Float64 => {
            let (r, c, v) = read_lists::<Float64Type>(&name, batches, rows)?;
            (Values::F64(Matrix::from_rows(r, c, v)), "float64")
        }
        _ => {
            let hint = if is_int(&item) {
                " (convert: astype(np.float32))"
            } else {
                ""
            };
            return Err(Error::data(
                &name,
                format!(
                    "embeddings must be lists of float16, float32 or float64, not {}{hint}",
                    type_name(field.data_type())
                ),
            ));
        }
    };
    Ok(Embeddings {
        name,
        source_dtype: source_dtype.into(),
        values,
        first_line: None,
    })
}

/// The rows of one list column as a row-major matrix: (rows, dim, values).
fn read_lists<P: ArrowPrimitiveType>(
    name: &str,
    batches: impl Iterator<Item = Result<arrow_array::RecordBatch>>,
    total_rows: usize,
) -> Result<(usize, usize, Vec<P::Native>)> {
    let mut out: Vec<P::Native> = Vec::new();
    let mut dim: Option<usize> = None;
    let mut row = 0usize;
    for batch in batches {
        let batch = batch?;
        let col = batch.column(0);
        match col.data_type() {
            DataType::List(_) => append_variable::<i32, P>(
                name,
                row,
                col.as_list::<i32>(),
                &mut dim,
                total_rows,
                &mut out,
            )?,
            DataType::LargeList(_) => append_variable::<i64, P>(
                name,
                row,
                col.as_list::<i64>(),
                &mut dim,
                total_rows,
                &mut out,
            )?,
            _ => {
                let l = col.as_fixed_size_list();
                let n = l.value_length() as usize;
                let range = |i: usize| (l.value_offset_at(i), l.value_offset_at(i) + n);
                append::<P>(
                    name,
                    row,
                    l,
                    range,
                    l.values(),
                    &mut dim,
                    total_rows,
                    &mut out,
                )?;
            }
        }
        row += col.len();
    }
    match dim {
        Some(d) => Ok((row, d, out)),
        None => Err(Error::data(name, "holds no rows")),
    }
}

/// Appends the rows of one batch of a `list` or `large_list` column (32- or
/// 64-bit offsets), checking each.
fn append_variable<O: OffsetSizeTrait, P: ArrowPrimitiveType>(
    name: &str,
    first_row: usize,
    lists: &GenericListArray<O>,
    dim: &mut Option<usize>,
    total_rows: usize,
    out: &mut Vec<P::Native>,
) -> Result<()> {
    let o = lists.value_offsets();
    let range = |i: usize| (o[i].as_usize(), o[i + 1].as_usize());
    append::<P>(
        name,
        first_row,
        lists,
        range,
        lists.values(),
        dim,
        total_rows,
        out,
    )
}

/// Appends the rows of one batch of a list column, checking each.
#[allow(clippy::too_many_arguments)]
fn append<P: ArrowPrimitiveType>(
    name: &str,
    first_row: usize,
    lists: &dyn Array,
    range: impl Fn(usize) -> (usize, usize),
    values: &ArrayRef,
    dim: &mut Option<usize>,
    total_rows: usize,
    out: &mut Vec<P::Native>,
) -> Result<()> {
    let values = values
        .as_primitive_opt::<P>()
        .ok_or_else(|| Error::data(name, "list values are not of the column's declared type"))?;
    let data = values.values();
    for i in 0..lists.len() {
        let row = first_row + i;
        if lists.is_null(i) {
            return Err(Error::data(
                name,
                format!("row {row} is null (every row needs an embedding)"),
            ));
        }
        let (a, b) = range(i);
        let len = b - a;
        match *dim {
            None if len == 0 => {
                return Err(Error::data(name, format!("row {row} is an empty list")));
            }
            None => {
                *dim = Some(len);
                let n = total_rows.saturating_mul(len);
                out.try_reserve_exact(n).map_err(|_| {
                    Error::data(
                        name,
                        format!(
                            "holds {n} values, which need {} bytes of memory; that much cannot \
                             be allocated",
                            n.saturating_mul(std::mem::size_of::<P::Native>())
                        ),
                    )
                })?;
            }
            Some(d) if d != len => {
                return Err(Error::data(
                    name,
                    format!(
                        "row {row} has {len} values but row 0 has {d} \
                         (every embedding needs the same dimension)"
                    ),
                ));
            }
            Some(_) => {}
        }
        if values.null_count() > 0
            && let Some(j) = (a..b).find(|&j| values.is_null(j))
        {
            return Err(Error::data(
                name,
                format!("row {row}, element {} is null", j - a),
            ));
        }
        out.extend_from_slice(&data[a..b]);
    }
    Ok(())
}

/// Reads pairs from two integer columns: `FILE:anchor,positive`, or the
/// two columns of a file that has exactly two, both numbers.
pub fn pairs<T: ChunkReader + 'static>(src: &Source, reader: T) -> Result<Pairs> {
    let file = open(src, reader)?;
    let fields = file.schema.fields().clone();
    let numeric: Vec<usize> = (0..fields.len())
        .filter(|&i| {
            let t = fields[i].data_type();
            is_int(t) || t.is_floating()
        })
        .collect();
    let cols: [usize; 2] = match &src.member {
        Some(m) => match m.split(',').collect::<Vec<_>>()[..] {
            [a, b] => [file.column(a.trim())?, file.column(b.trim())?],
            _ => {
                return Err(Error::data(
                    &file.name,
                    format!(
                        "':{}' must name two integer columns, anchor and positive, as in {}",
                        crate::input::csv::truncate(m),
                        src.with_member("a,b")
                    ),
                ));
            }
        },
        None if fields.len() == 2 && numeric.len() == 2 => [0, 1],
        None => {
            return Err(Error::data(
                &file.name,
                format!(
                    "name the anchor and positive columns, as in {} (it holds {})",
                    src.with_member("anchor,positive"),
                    describe(fields.iter().map(|f| f.as_ref()))
                ),
            ));
        }
    };
    let name = src.data_name();
    for &c in &cols {
        let t = fields[c].data_type();
        if !is_int(t) && !t.is_floating() {
            return Err(Error::data(
                &name,
                format!(
                    "index columns must hold integers, not {} (column '{}')",
                    type_name(t),
                    fields[c].name()
                ),
            ));
        }
    }
    let names = [
        fields[cols[0]].name().clone(),
        fields[cols[1]].name().clone(),
    ];
    let mut sorted = cols;
    sorted.sort_unstable();
    let mut out: Vec<IndexPair> = Vec::new();
    let mut row = 0usize;
    for batch in file.batches(&sorted)? {
        let batch = batch?;
        let a = batch.column_by_name(&names[0]).expect("projected");
        let b = batch.column_by_name(&names[1]).expect("projected");
        let a = ints_of(&name, &names[0], "anchor", a, row)?;
        let b = ints_of(&name, &names[1], "positive", b, row)?;
        out.try_reserve(a.len())
            .map_err(|_| Error::data(&name, "holds more pairs than can be held in memory"))?;
        out.extend(a.iter().zip(&b).map(|(&a, &b)| IndexPair { a, b }));
        row += batch.num_rows();
    }
    Ok(Pairs::from_pairs(&name, out))
}

/// Reads the labels column `src` names: integers or strings, one per row.
pub fn labels<T: ChunkReader + 'static>(
    src: &Source,
    reader: T,
) -> Result<crate::input::labels::LabelValues> {
    use crate::input::labels::LabelValues;
    let file = open(src, reader)?;
    let fields = file.schema.fields().clone();
    let c = match &src.member {
        Some(m) => file.column(m.trim())?,
        None if fields.len() == 1 => 0,
        None => {
            return Err(Error::data(
                &file.name,
                format!(
                    "name the labels column, as in {} (it holds {})",
                    src.with_member("label"),
                    describe(fields.iter().map(|f| f.as_ref()))
                ),
            ));
        }
    };
    let name = src.data_name();
    let col = fields[c].name().clone();
    let t = fields[c].data_type().clone();
    let strings = matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    if !is_int(&t) && !strings {
        return Err(Error::data(
            &name,
            format!(
                "labels must be integers or strings, not {} (column '{col}')",
                type_name(&t)
            ),
        ));
    }
    let (mut ints, mut texts) = (Vec::new(), Vec::new());
    let mut row = 0usize;
    for batch in file.batches(&[c])? {
        let batch = batch?;
        let a = batch.column_by_name(&col).expect("projected");
        if strings {
            if let Some(i) = (0..a.len()).find(|&i| a.is_null(i)) {
                return Err(Error::data(
                    &name,
                    format!("row {}, column '{col}' is null", row + i),
                ));
            }
            match a.data_type() {
                DataType::Utf8 => texts.extend(
                    a.as_string::<i32>()
                        .iter()
                        .map(|s| s.unwrap_or("").to_string()),
                ),
                DataType::LargeUtf8 => texts.extend(
                    a.as_string::<i64>()
                        .iter()
                        .map(|s| s.unwrap_or("").to_string()),
                ),
                _ => texts.extend(
                    a.as_string_view()
                        .iter()
                        .map(|s| s.unwrap_or("").to_string()),
                ),
            }
        } else {
            ints.extend(ints_of(&name, &col, "label", a, row)?);
        }
        row += batch.num_rows();
    }
    Ok(if strings {
        LabelValues::Strings(texts)
    } else {
        LabelValues::Ints(ints)
    })
}

/// The values of an integer column as i64; nulls and uint64 values beyond
/// i64 are errors naming the row. A float column is accepted when every
/// value is a whole number (row numbers written as floats).
fn ints_of(name: &str, col: &str, which: &str, a: &ArrayRef, first_row: usize) -> Result<Vec<i64>> {
    if let Some(i) = (0..a.len()).find(|&i| a.is_null(i)) {
        return Err(Error::data(
            name,
            format!("row {}, column '{col}' is null", first_row + i),
        ));
    }
    fn widen<P: ArrowPrimitiveType>(a: &ArrayRef) -> Vec<i128>
    where
        P::Native: Into<i128>,
    {
        a.as_primitive::<P>()
            .values()
            .iter()
            .map(|&v| v.into())
            .collect()
    }
    fn floats<P: ArrowPrimitiveType>(a: &ArrayRef) -> Vec<f64>
    where
        P::Native: Into<f64>,
    {
        a.as_primitive::<P>()
            .values()
            .iter()
            .map(|&v| v.into())
            .collect()
    }
    let float = match a.data_type() {
        DataType::Float16 => Some(floats::<Float16Type>(a)),
        DataType::Float32 => Some(floats::<Float32Type>(a)),
        DataType::Float64 => Some(floats::<Float64Type>(a)),
        _ => None,
    };
    if let Some(xs) = float {
        return xs
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                // Whole and within i64: the cast is exact.
                if x.fract() == 0.0 && x.abs() < 9.2e18 {
                    Ok(x as i64)
                } else {
                    Err(Error::data(
                        name,
                        format!(
                            "row {}, {}",
                            first_row + i,
                            crate::input::index::float_index_reason(which, x, "astype(int)")
                        ),
                    ))
                }
            })
            .collect();
    }
    let wide = match a.data_type() {
        DataType::Int8 => widen::<Int8Type>(a),
        DataType::Int16 => widen::<Int16Type>(a),
        DataType::Int32 => widen::<Int32Type>(a),
        DataType::Int64 => widen::<Int64Type>(a),
        DataType::UInt8 => widen::<UInt8Type>(a),
        DataType::UInt16 => widen::<UInt16Type>(a),
        DataType::UInt32 => widen::<UInt32Type>(a),
        DataType::UInt64 => widen::<UInt64Type>(a),
        other => {
            return Err(Error::data(
                name,
                format!("index columns must hold integers, not {}", type_name(other)),
            ));
        }
    };
    wide.into_iter()
        .enumerate()
        .map(|(i, v)| {
            i64::try_from(v).map_err(|_| {
                Error::data(
                    name,
                    format!(
                        "row {}, {which} index {v} is out of range (too large for any file)",
                        first_row + i
                    ),
                )
            })
        })
        .collect()
}
