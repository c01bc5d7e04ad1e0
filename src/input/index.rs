//! Index files: pairs of 0-based row numbers, as `.npy` (any integer dtype,
//! shape (P, 2)) or as CSV/TSV with two integer columns.
//!
//! Values are read as signed 64-bit integers so that a negative index is
//! reported as such rather than wrapped; range checks against the embedding
//! file happen in the layout, which knows the row counts.

use std::io::{BufRead, BufReader, Read};

use crate::error::{Error, Result};
use crate::input::{csv, display_name, io_reason, npy, open};

/// One line of a pairs file: where it stands in the file and its two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPair {
    pub a: i64,
    pub b: i64,
}

/// The pairs of an index file and how to name each one's place.
#[derive(Debug)]
pub struct Pairs {
    pub name: String,
    pub pairs: Vec<IndexPair>,
    /// For text files the 1-based line of each pair; empty for `.npy`.
    lines: Vec<usize>,
}

impl Pairs {
    /// Pairs made in memory (places are named as 0-based rows).
    pub fn from_pairs(name: &str, pairs: Vec<IndexPair>) -> Pairs {
        Pairs {
            name: name.to_string(),
            pairs,
            lines: Vec::new(),
        }
    }

    /// How pair `k` (0-based) is named in messages.
    pub fn place(&self, k: usize) -> String {
        match self.lines.get(k) {
            Some(l) => format!("line {l}"),
            None => format!("row {k}"),
        }
    }
}

/// Loads a pairs file, reading a stream (standard input, a pipe) no further
/// than its `.npy` header promises or the text limits allow. `FILE:NAME`
/// picks an array or columns of a container file (see
/// [`crate::input::source`]).
pub fn load_pairs(spec: &str) -> Result<Pairs> {
    let src = crate::input::source::Source::resolve(spec)?;
    let path = src.path.as_str();
    let name = display_name(path);
    let mut reader = open(path)?;
    let mut head = Vec::with_capacity(crate::input::sniff::HEAD_LEN);
    (&mut reader)
        .take(crate::input::sniff::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::data(&name, io_reason(&e)))?;
    if let Some(p) = crate::input::container::pairs(&src, &head, &mut reader)? {
        return Ok(p);
    }
    let mut full = std::io::Cursor::new(head.clone()).chain(reader);
    if head.starts_with(npy::MAGIC) {
        let h = npy::read_header(&name, &mut full)?;
        check_pairs_header(&name, &h)?;
        let data = npy::read_data(&name, &h, &mut full, regular_len(path))?;
        return npy_pairs(&name, &h, &data);
    }
    if path.to_ascii_lowercase().ends_with(".npy") {
        return Err(Error::data(
            &name,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    csv::check_size(&name, path)?;
    text_pairs(&name, path, BufReader::new(full))
}

/// The length of a regular file (`None` for standard input, pipes, devices).
fn regular_len(path: &str) -> Option<u64> {
    if path == "-" {
        return None;
    }
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Parses a pairs file from its bytes (`path` only hints at the delimiter).
pub fn parse_pairs(name: &str, path: &str, bytes: &[u8]) -> Result<Pairs> {
    if bytes.starts_with(npy::MAGIC) {
        let mut r = bytes;
        let h = npy::read_header(name, &mut r)?;
        check_pairs_header(name, &h)?;
        h.check_len(name, bytes.len() as u64)?;
        return npy_pairs(name, &h, &bytes[h.data_offset..]);
    }
    if path.to_ascii_lowercase().ends_with(".npy") {
        return Err(Error::data(
            name,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    text_pairs(name, path, bytes)
}

fn text_pairs<R: BufRead>(name: &str, path: &str, r: R) -> Result<Pairs> {
    let table = csv::parse_table(
        name,
        r,
        csv::TableKind::Pairs,
        csv::delimiter_for(path),
        None,
        parse_index,
    )?;
    if table.cols != 2 {
        return Err(Error::data(
            name,
            format!(
                "line {}: a pairs file needs 2 columns (anchor, positive), found {}",
                table.first_line, table.cols
            ),
        ));
    }
    let pairs = table
        .rows
        .chunks_exact(2)
        .map(|c| IndexPair { a: c[0], b: c[1] })
        .collect();
    Ok(Pairs {
        name: name.to_string(),
        pairs,
        lines: table.lines,
    })
}

/// An index cell: an integer, or a number with an integer value (as
/// `np.savetxt` writes integers by default: `3.000000000000000000e+00`).
fn parse_index(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| {
        let x = s.parse::<f64>().ok()?;
        whole(x)
    })
}

/// Why a float `x` read as the `which` index of a pair is not a row number:
/// a whole number too large for any file is out of range (said in exponent
/// form, not in 300 digits); anything else is not a whole number, and `how`
/// says how to save pairs as integers.
pub(crate) fn float_index_reason(which: &str, x: f64, how: &str) -> String {
    if x.is_finite() && x.fract() == 0.0 {
        format!("{which} index {x:e} is out of range (too large for any file)")
    } else {
        format!(
            "{which} index {x} is not a whole number (pairs are row numbers: save them as \
             integers, e.g. {how})"
        )
    }
}

/// `x` as an i64 when it is a whole number that fits.
fn whole(x: f64) -> Option<i64> {
    // 2^63 is exact in float64; every whole float below it in size fits.
    (x.fract() == 0.0 && x.abs() < 2f64.powi(63)).then_some(x as i64)
}

fn check_pairs_header(name: &str, h: &npy::Header) -> Result<()> {
    if h.dtype.kind == npy::Kind::Unicode {
        return Err(Error::data(
            name,
            format!(
                "a pairs array must hold integers, not strings ({})",
                h.dtype.name()
            ),
        ));
    }
    if h.shape.len() != 2 || h.shape[1] != 2 {
        return Err(Error::data(
            name,
            format!("a pairs array must have shape (P, 2), not {:?}", h.shape),
        ));
    }
    Ok(())
}

/// The pairs of a checked header from its data bytes. Integer arrays of any
/// width, and float arrays whose every value is a whole number.
fn npy_pairs(name: &str, h: &npy::Header, data: &[u8]) -> Result<Pairs> {
    let size = h.dtype.size;
    let value = |k: usize| -> std::result::Result<i128, f64> {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(&data[k * size..(k + 1) * size]);
        if h.dtype.big_endian {
            b[..size].reverse();
        }
        let raw = u64::from_le_bytes(b);
        match (h.dtype.kind, size) {
            // Sign-extend from the dtype's width.
            (npy::Kind::Int, _) => {
                Ok((((raw << (64 - 8 * size)) as i64) >> (64 - 8 * size)) as i128)
            }
            (npy::Kind::Uint, _) => Ok(raw as i128),
            (npy::Kind::Float, 2) => {
                let x = f64::from(half::f16::from_bits(raw as u16));
                whole(x).map(i128::from).ok_or(x)
            }
            (npy::Kind::Float, 4) => {
                let x = f64::from(f32::from_bits(raw as u32));
                whole(x).map(i128::from).ok_or(x)
            }
            (npy::Kind::Float, _) => {
                let x = f64::from_bits(raw);
                whole(x).map(i128::from).ok_or(x)
            }
            // Refused by the header check.
            (npy::Kind::Unicode, _) => Err(f64::NAN),
        }
    };
    let p = h.shape[0];
    let at = |row: usize, col: usize| -> Result<i64> {
        let which = ["anchor", "positive"][col];
        let v = if h.fortran_order {
            value(col * p + row)
        } else {
            value(row * 2 + col)
        };
        let v = v.map_err(|x| {
            Error::data(
                name,
                format!(
                    "row {row}, {}",
                    float_index_reason(which, x, "np.save(path, p.astype(int))")
                ),
            )
        })?;
        // Only uint64 holds values beyond i64; no file has that many rows.
        i64::try_from(v).map_err(|_| {
            Error::data(
                name,
                format!("row {row}, {which} index {v} is out of range (too large for any file)"),
            )
        })
    };
    // 16 bytes per pair of a file that may hold 2 per pair: reserve first.
    let mut pairs = Vec::new();
    pairs.try_reserve_exact(p).map_err(|_| {
        Error::data(
            name,
            format!("holds {p} pairs, more than can be held in memory"),
        )
    })?;
    for k in 0..p {
        pairs.push(IndexPair {
            a: at(k, 0)?,
            b: at(k, 1)?,
        });
    }
    Ok(Pairs {
        name: name.to_string(),
        pairs,
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_pairs_with_header() {
        let p = parse_pairs("p.csv", "p.csv", b"anchor,positive\n0,1\n2,3\n").unwrap();
        assert_eq!(
            p.pairs,
            vec![IndexPair { a: 0, b: 1 }, IndexPair { a: 2, b: 3 }]
        );
        assert_eq!(p.place(1), "line 3");
    }

    #[test]
    fn csv_pairs_errors() {
        let e = parse_pairs("p.csv", "p.csv", b"0,1\n2,1.5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.csv: line 2, column 2: '1.5' is not an integer (pairs are row numbers: write them from an integer array, e.g. p.astype(int))"
        );
        // Whole numbers beyond any file's rows are out of range, not "not an
        // integer".
        for (text, cell) in [
            (&b"0,1\n1e300,0\n"[..], "1e300"),
            (b"0,1\n0,99999999999999999999\n", "99999999999999999999"),
        ] {
            let e = parse_pairs("p.csv", "p.csv", text).unwrap_err();
            let col = if cell == "1e300" { 1 } else { 2 };
            assert_eq!(
                e.to_string(),
                format!(
                    "p.csv: line 2, column {col}: '{cell}' is out of range (too large for any file)"
                )
            );
        }
        // Whole numbers written as floats are row numbers; a first line of
        // numbers is data, not a header to skip.
        let p = parse_pairs("p.csv", "p.csv", b"0.0,1.0\n2,3e0\n").unwrap();
        assert_eq!(
            p.pairs,
            vec![IndexPair { a: 0, b: 1 }, IndexPair { a: 2, b: 3 }]
        );
        let p = parse_pairs(
            "p.txt",
            "p.txt",
            b"0.000000000000000000e+00 4.000000000000000000e+00\n",
        )
        .unwrap();
        assert_eq!(p.pairs, vec![IndexPair { a: 0, b: 4 }]);
        let e = parse_pairs("p.csv", "p.csv", b"0,1,2\n").unwrap_err();
        assert!(e.to_string().contains("needs 2 columns"), "{e}");
    }

    #[test]
    fn npy_int8_is_sign_extended() {
        let dict = "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 2), }";
        let mut b = npy::MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend_from_slice(&[0, 1, 0xff, 3]);
        let p = parse_pairs("p.npy", "p.npy", &b).unwrap();
        assert_eq!(p.pairs[1], IndexPair { a: -1, b: 3 });
        assert_eq!(p.place(1), "row 1");
    }

    #[test]
    fn float_pairs_too_large_are_out_of_range_not_fractions() {
        let npy_f8 = |values: [f64; 4]| {
            let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
            let mut b = npy::MAGIC.to_vec();
            b.extend_from_slice(&[1, 0]);
            b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
            b.extend_from_slice(dict.as_bytes());
            b.extend(values.iter().flat_map(|x| x.to_le_bytes()));
            b
        };
        let e = parse_pairs("p.npy", "p.npy", &npy_f8([0.0, 1.0, 2.0, 1e300])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.npy: row 1, positive index 1e300 is out of range (too large for any file)"
        );
        let e = parse_pairs("p.npy", "p.npy", &npy_f8([0.0, 1.0, 2.5, 3.0])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.npy: row 1, anchor index 2.5 is not a whole number (pairs are row numbers: save \
             them as integers, e.g. np.save(path, p.astype(int)))"
        );
        let e = parse_pairs("p.npy", "p.npy", &npy_f8([f64::NAN, 1.0, 2.0, 3.0])).unwrap_err();
        assert!(
            e.to_string()
                .contains("anchor index NaN is not a whole number"),
            "{e}"
        );
    }
}
