//! `.safetensors` files (Hugging Face): an 8-byte header length, a JSON
//! header naming each tensor's dtype, shape and byte range, then the data,
//! little-endian and row-major.
//!
//! The `safetensors` crate reads and validates the header (offsets that
//! overlap, leave gaps or run past the end are refused there). Embeddings may
//! be F16, BF16, F32 or F64; bfloat16 is widened to float32 on load, which is
//! exact. Large files are memory-mapped and used in place when the tensor's
//! data is aligned for its type, as large `.npy` files are.

use std::ops::Deref;

use ::safetensors::tensor::{Dtype, Metadata};
use ::safetensors::{SafeTensorError, SafeTensors};
use half::{bf16, f16};
use memmap2::Mmap;

use crate::error::{Error, Result};
use crate::input::index::{IndexPair, Pairs};
use crate::input::source::Source;
use crate::input::{Embeddings, Matrix, Values, read_elements};

/// The bytes of a whole file: read into memory, or mapped.
pub enum Buffer {
    Owned(Vec<u8>),
    Mapped(Mmap),
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped(m) => m,
        }
    }
}

/// Tensors listed by name in messages before the rest are counted.
const LISTED: usize = 8;

/// The parsed header: where the data starts and every tensor's entry.
struct Header {
    data_start: usize,
    meta: Metadata,
}

fn header(src: &Source, buf: &[u8]) -> Result<Header> {
    let (n, meta) = SafeTensors::read_metadata(buf).map_err(|e| {
        let reason = match e {
            SafeTensorError::InvalidHeaderLength => "the file ends inside the header".into(),
            SafeTensorError::MetadataIncompleteBuffer => {
                "the tensors' data does not end where the file ends".into()
            }
            e => e.to_string(),
        };
        Error::data(
            &src.file_name(),
            format!("is not a valid .safetensors file: {reason}"),
        )
    })?;
    Ok(Header {
        data_start: 8 + n,
        meta,
    })
}

impl Header {
    /// Tensor names in the order of their data.
    fn names(&self) -> Vec<String> {
        self.meta.offset_keys()
    }

    fn describe(&self) -> String {
        let names = self.names();
        let mut parts: Vec<String> = names
            .iter()
            .take(LISTED)
            .map(|n| {
                let info = self.meta.info(n).expect("listed names have entries");
                format!("{n} {:?} {}", info.shape, info.dtype)
            })
            .collect();
        if names.len() > LISTED {
            parts.push(format!("and {} more", names.len() - LISTED));
        }
        parts.join(", ")
    }

    /// The tensor `src` names, or the only one: its name, dtype, shape and
    /// byte range in the file.
    fn pick(&self, src: &Source) -> Result<(String, Dtype, Vec<usize>, usize, usize)> {
        let file = src.file_name();
        let names = self.names();
        let name = match &src.member {
            Some(m) => {
                if self.meta.info(m).is_none() {
                    return Err(Error::data(
                        &file,
                        format!(
                            "has no tensor '{}'; it holds {}",
                            crate::input::csv::truncate(m),
                            self.describe()
                        ),
                    ));
                }
                m.clone()
            }
            None => match names.len() {
                1 => names[0].clone(),
                0 => return Err(Error::data(&file, "holds no tensors")),
                n => {
                    return Err(Error::data(
                        &file,
                        format!(
                            "holds {n} tensors: {}; name one, as in {}",
                            self.describe(),
                            src.with_member(&names[0])
                        ),
                    ));
                }
            },
        };
        let info = self.meta.info(&name).expect("checked above");
        let (a, b) = info.data_offsets;
        Ok((
            name,
            info.dtype,
            info.shape.clone(),
            self.data_start + a,
            self.data_start + b,
        ))
    }
}

/// Reads the embeddings `src` names from the whole file in `buf`.
pub fn embeddings(src: &Source, buf: Buffer) -> Result<Embeddings> {
    array(src, buf, false).map(|(e, _)| e)
}

/// [`embeddings`]; with `blocks`, a 3-D tensor (A, M, d) too, as its A M
/// rows (and M).
pub fn array(src: &Source, buf: Buffer, blocks: bool) -> Result<(Embeddings, Option<usize>)> {
    let h = header(src, &buf)?;
    let (_, dtype, shape, start, end) = h.pick(src)?;
    let name = src.data_name();
    let size = match dtype {
        Dtype::F16 | Dtype::BF16 => 2,
        Dtype::F32 => 4,
        Dtype::F64 => 8,
        other => {
            return Err(Error::data(
                &name,
                format!(
                    "embeddings must be F16, BF16, F32 or F64, not {other} \
                     (in PyTorch: t.float() before saving)"
                ),
            ));
        }
    };
    let (rows, cols, block) = match shape[..] {
        [r, c] if r > 0 && c > 0 => (r, c, None),
        [a, m, d] if blocks && a > 0 && m > 0 && d > 0 => (a * m, d, Some(m)),
        [_, _, _] if blocks => {
            return Err(Error::data(
                &name,
                format!("negatives have shape {shape:?}: no values"),
            ));
        }
        _ if blocks => {
            return Err(Error::data(
                &name,
                format!(
                    "negatives must be a 2-D tensor (M, dimension) shared by every anchor, \
                     or a 3-D tensor (A, M, dimension) of M per anchor, not shape {shape:?}"
                ),
            ));
        }
        [_, _] => {
            return Err(Error::data(
                &name,
                format!("embeddings have shape {shape:?}: no values"),
            ));
        }
        _ => {
            return Err(Error::data(
                &name,
                format!("embeddings must be a 2-D tensor (rows, dimension), not shape {shape:?}"),
            ));
        }
    };
    let n = rows * cols;
    // The header has been validated: the range holds exactly n values.
    debug_assert_eq!(end - start, n * size);
    let source_dtype = match dtype {
        Dtype::F16 => "float16",
        Dtype::BF16 => "bfloat16",
        Dtype::F32 => "float32",
        _ => "float64",
    };
    let values = match buf {
        Buffer::Mapped(map) if start % size == 0 && dtype != Dtype::BF16 => match dtype {
            Dtype::F16 => Values::F16(Matrix::mapped(map, start, (rows, cols), false)),
            Dtype::F32 => Values::F32(Matrix::mapped(map, start, (rows, cols), false)),
            _ => Values::F64(Matrix::mapped(map, start, (rows, cols), false)),
        },
        buf => {
            let data = &mut &buf[start..end];
            match dtype {
                Dtype::F16 => Values::F16(Matrix::from_rows(
                    rows,
                    cols,
                    read_elements(&name, data, n, 2, |b| {
                        f16::from_bits(u16::from_le_bytes([b[0], b[1]]))
                    })?,
                )),
                Dtype::BF16 => Values::F32(Matrix::from_rows(
                    rows,
                    cols,
                    read_elements(&name, data, n, 2, |b| {
                        bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()
                    })?,
                )),
                Dtype::F32 => Values::F32(Matrix::from_rows(
                    rows,
                    cols,
                    read_elements(&name, data, n, 4, |b| {
                        f32::from_le_bytes(b.try_into().expect("chunks of 4"))
                    })?,
                )),
                _ => Values::F64(Matrix::from_rows(
                    rows,
                    cols,
                    read_elements(&name, data, n, 8, |b| {
                        f64::from_le_bytes(b.try_into().expect("chunks of 8"))
                    })?,
                )),
            }
        }
    };
    Ok((
        Embeddings {
            name,
            source_dtype: source_dtype.into(),
            values,
            first_line: None,
        },
        block,
    ))
}

/// Reads the labels tensor `src` names: one integer per row, shape (N,) or
/// (N, 1).
pub fn labels(src: &Source, buf: &[u8]) -> Result<crate::input::labels::LabelValues> {
    let h = header(src, buf)?;
    let (_, dtype, shape, start, end) = h.pick(src)?;
    let name = src.data_name();
    let (size, signed) = match dtype {
        Dtype::I8 => (1, true),
        Dtype::U8 => (1, false),
        Dtype::I16 => (2, true),
        Dtype::U16 => (2, false),
        Dtype::I32 => (4, true),
        Dtype::U32 => (4, false),
        Dtype::I64 => (8, true),
        Dtype::U64 => (8, false),
        other => {
            return Err(Error::data(
                &name,
                format!("labels must be integers, not {other}"),
            ));
        }
    };
    let n = match shape[..] {
        [n] | [n, 1] => n,
        _ => {
            return Err(Error::data(
                &name,
                format!("labels must be a 1-D tensor, one label per row, not shape {shape:?}"),
            ));
        }
    };
    let data = &buf[start..end];
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(&data[k * size..(k + 1) * size]);
        let raw = u64::from_le_bytes(b);
        let v = if signed {
            ((raw << (64 - 8 * size)) as i64) >> (64 - 8 * size)
        } else {
            i64::try_from(raw)
                .map_err(|_| Error::data(&name, format!("row {k}: label {raw} is too large")))?
        };
        out.push(v);
    }
    Ok(crate::input::labels::LabelValues::Ints(out))
}

/// Reads the pairs tensor `src` names: shape (P, 2), an integer dtype.
pub fn pairs(src: &Source, buf: &[u8]) -> Result<Pairs> {
    let h = header(src, buf)?;
    let (_, dtype, shape, start, end) = h.pick(src)?;
    let name = src.data_name();
    let float = match dtype {
        Dtype::F16 | Dtype::BF16 => Some(2),
        Dtype::F32 => Some(4),
        Dtype::F64 => Some(8),
        _ => None,
    };
    let (size, signed) = match dtype {
        _ if float.is_some() => (float.unwrap_or(8), true),
        Dtype::I8 => (1, true),
        Dtype::U8 => (1, false),
        Dtype::I16 => (2, true),
        Dtype::U16 => (2, false),
        Dtype::I32 => (4, true),
        Dtype::U32 => (4, false),
        Dtype::I64 => (8, true),
        Dtype::U64 => (8, false),
        other => {
            return Err(Error::data(
                &name,
                format!("index files must hold integers, not {other}"),
            ));
        }
    };
    if shape.len() != 2 || shape[1] != 2 {
        return Err(Error::data(
            &name,
            format!("a pairs array must have shape (P, 2), not {shape:?}"),
        ));
    }
    let data = &buf[start..end];
    // An integer, or a float that is not a whole number.
    let value = |k: usize| -> std::result::Result<i128, f64> {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(&data[k * size..(k + 1) * size]);
        let raw = u64::from_le_bytes(b);
        if float.is_some() {
            let x = match dtype {
                Dtype::F16 => f16::from_bits(raw as u16).to_f64(),
                Dtype::BF16 => bf16::from_bits(raw as u16).to_f64(),
                Dtype::F32 => f32::from_bits(raw as u32) as f64,
                _ => f64::from_bits(raw),
            };
            // Whole and within i64: the cast is exact.
            return if x.fract() == 0.0 && x.abs() < 9.2e18 {
                Ok(x as i128)
            } else {
                Err(x)
            };
        }
        Ok(if signed {
            // Sign-extend from the dtype's width.
            (((raw << (64 - 8 * size)) as i64) >> (64 - 8 * size)) as i128
        } else {
            raw as i128
        })
    };
    let mut out = Vec::new();
    out.try_reserve_exact(shape[0]).map_err(|_| {
        Error::data(
            &name,
            format!("holds {} pairs, more than can be held in memory", shape[0]),
        )
    })?;
    for row in 0..shape[0] {
        let mut ab = [0i64; 2];
        for (col, slot) in ab.iter_mut().enumerate() {
            let which = ["anchor", "positive"][col];
            let v = value(row * 2 + col).map_err(|x| {
                Error::data(
                    &name,
                    format!(
                        "row {row}, {}",
                        crate::input::index::float_index_reason(which, x, "p.astype(int)")
                    ),
                )
            })?;
            *slot = i64::try_from(v).map_err(|_| {
                Error::data(
                    &name,
                    format!(
                        "row {row}, {which} index {v} is out of range (too large for any file)"
                    ),
                )
            })?;
        }
        out.push(IndexPair { a: ab[0], b: ab[1] });
    }
    Ok(Pairs::from_pairs(&name, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::values_f64;

    fn fixture(name: &str) -> String {
        format!("{}/fixtures/inputs/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn mapped_files_read_the_same_values_in_place() {
        for (name, in_place) in [
            ("twoview_f32.safetensors", true),
            ("twoview_f16.safetensors", true),
            ("seed.safetensors", true),
            // bfloat16 is widened, so never used in place.
            ("twoview_bf16.safetensors", false),
        ] {
            let path = fixture(name);
            let src = Source {
                path: path.clone(),
                member: None,
            };
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: a read-only map of a fixture nothing writes meanwhile.
            let map = unsafe { Mmap::map(&file) }.unwrap();
            let mapped = embeddings(&src, Buffer::Mapped(map)).unwrap();
            let read = embeddings(&src, Buffer::Owned(std::fs::read(&path).unwrap())).unwrap();
            assert_eq!(mapped.is_mapped(), in_place, "{name}");
            assert!(!read.is_mapped());
            assert_eq!(values_f64(&mapped), values_f64(&read), "{name}");
            assert_eq!(mapped.source_dtype, read.source_dtype);
        }
    }

    #[test]
    fn unaligned_tensors_are_copied_not_mapped() {
        // A one-byte tensor first puts the float32 data at an odd offset.
        let mut text = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[1,17]}}"#.to_vec();
        while !text.len().is_multiple_of(8) {
            text.push(b' ');
        }
        let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
        bytes.extend(&text);
        bytes.push(7);
        for x in [1.0f32, 0.5, -0.5, 2.0] {
            bytes.extend(x.to_le_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let src = Source {
            path: path.to_string_lossy().into_owned(),
            member: Some("b".into()),
        };
        // SAFETY: a read-only map of the test's own file, written above.
        let map = unsafe { Mmap::map(&std::fs::File::open(&path).unwrap()) }.unwrap();
        let e = embeddings(&src, Buffer::Mapped(map)).unwrap();
        assert!(!e.is_mapped());
        assert_eq!(values_f64(&e), vec![1.0, 0.5, -0.5, 2.0]);
    }
}
