//! Label files: one label per row of the embeddings, integers or strings.
//!
//! - `.npy`: a 1-D array (or one column, shape (N, 1)) of any integer type,
//!   of floats that are whole numbers, or of numpy's Unicode strings (`<U8`,
//!   what `np.save(path, np.array(["cat", "dog"]))` writes).
//! - Text: one label per line, no header (a header cannot be told from a
//!   string label). Each line is trimmed of surrounding blanks. When every
//!   line is an integer the labels are integers (`7` and `07` are one
//!   label); when any is not, all are strings (`7` and `07` then differ).
//! - `FILE:COLUMN`: a column of a CSV/TSV file with a header (by name), of a
//!   Parquet file (integers or strings), or an integer array of an `.npz` or
//!   `.safetensors` file.
//!
//! Labels are only compared for equality, so they are turned into class
//! numbers at once, in order of first appearance.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use crate::error::{Error, Result};
use crate::input::source::Source;
use crate::input::{csv, display_name, io_reason, npy, npz, open, parquet, safetensors, sniff};

/// Most bytes of a text labels file (as for text embeddings).
const MAX_TEXT_BYTES: u64 = 1 << 30;

/// The values of a labels column as a reader finds them.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelValues {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

impl LabelValues {
    pub fn len(&self) -> usize {
        match self {
            LabelValues::Ints(v) => v.len(),
            LabelValues::Strings(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The labels of a file: one class number per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// The file (and `:COLUMN`) in messages.
    pub name: String,
    /// The class of each row: equal labels, equal classes.
    pub classes: Vec<usize>,
    /// Whether the labels were read as integers (else strings).
    pub integers: bool,
    /// For text files the 1-based line of each row is its row + 1.
    pub text: bool,
}

impl Labels {
    /// Labels from values, numbered in order of first appearance.
    pub fn from_values(name: &str, values: &LabelValues, text: bool) -> Labels {
        fn number<K: std::hash::Hash + Eq + Clone>(v: &[K]) -> Vec<usize> {
            let mut seen: HashMap<&K, usize> = HashMap::new();
            v.iter()
                .map(|k| {
                    let n = seen.len();
                    *seen.entry(k).or_insert(n)
                })
                .collect()
        }
        let (classes, integers) = match values {
            LabelValues::Ints(v) => (number(v), true),
            LabelValues::Strings(v) => (number(v), false),
        };
        Labels {
            name: name.to_string(),
            classes,
            integers,
            text,
        }
    }

    /// How row `k` (0-based) is named in messages.
    pub fn place(&self, k: usize) -> String {
        if self.text {
            format!("line {}", k + 1)
        } else {
            format!("row {k}")
        }
    }
}

/// Loads the labels `spec` names (`FILE` or `FILE:COLUMN`).
pub fn load_labels(spec: &str) -> Result<Labels> {
    let src = Source::resolve(spec)?;
    let path = src.path.as_str();
    let name = display_name(path);
    let mut reader = open(path)?;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::data(&name, io_reason(&e)))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(Error::data(
            &name,
            format!("holds more than {MAX_TEXT_BYTES} bytes (1 GiB), more than any labels file"),
        ));
    }
    let format = sniff::detect(&bytes);
    if let Some(m) = sniff::unreadable(format, path) {
        return Err(Error::data(&name, m));
    }
    let data_name = src.data_name();
    let values = match format {
        sniff::Format::Zip => {
            let member = npz::Npz::open(&src, Cursor::new(&bytes[..]))?.member(&src)?;
            npy_labels(&data_name, &member)?
        }
        sniff::Format::Safetensors => safetensors::labels(&src, &bytes)?,
        sniff::Format::Parquet => parquet::labels(&src, bytes::Bytes::from(bytes))?,
        sniff::Format::Npy => {
            src.no_member("a .npy file")?;
            npy_labels(&name, &bytes)?
        }
        _ if path.to_ascii_lowercase().ends_with(".npy") => {
            return Err(Error::data(
                &name,
                "not a .npy file (it does not start with \\x93NUMPY)",
            ));
        }
        _ => match &src.member {
            Some(column) => {
                let text = utf8(&name, &bytes)?;
                return csv_column(&data_name, path, text, column);
            }
            None => {
                let text = utf8(&name, &bytes)?;
                return text_labels(&name, text);
            }
        },
    };
    check_values(&data_name, &values, false)?;
    Ok(Labels::from_values(&data_name, &values, false))
}

/// The bytes as UTF-8 text, or an error naming the line of the first bad
/// byte.
fn utf8<'b>(name: &str, bytes: &'b [u8]) -> Result<&'b str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        Error::data(
            name,
            format!(
                "line {line}: byte {at} (0x{:02x}) is not UTF-8 text; labels are text, one per line, or .npy",
                bytes[at]
            ),
        )
    })
}

/// Refuses empty string labels.
fn check_values(name: &str, values: &LabelValues, text: bool) -> Result<()> {
    if values.is_empty() {
        return Err(Error::data(name, "holds no labels"));
    }
    if let LabelValues::Strings(v) = values
        && let Some(k) = v.iter().position(|s| s.is_empty())
    {
        let place = if text {
            format!("line {}", k + 1)
        } else {
            format!("row {k}")
        };
        return Err(Error::data(
            name,
            format!("{place}: the label is empty (every row needs a label)"),
        ));
    }
    Ok(())
}

/// Parses a text file of one label per line (see the module's rule).
pub fn text_labels(name: &str, text: &str) -> Result<Labels> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A final line break ends the last line; it starts no empty one.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines: Vec<&str> = Vec::new();
    if !body.is_empty() || text.ends_with('\n') {
        for (k, line) in body.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.contains('\0') {
                return Err(Error::data(
                    name,
                    format!(
                        "line {}: holds a NUL byte; labels are text, one per line, or .npy",
                        k + 1
                    ),
                ));
            }
            lines.push(line.trim());
        }
    }
    let ints: Option<Vec<i64>> = lines.iter().map(|l| parse_int(l)).collect();
    let values = match ints {
        Some(v) => LabelValues::Ints(v),
        None => LabelValues::Strings(lines.iter().map(|l| l.to_string()).collect()),
    };
    check_values(name, &values, true)?;
    Ok(Labels::from_values(name, &values, true))
}

/// An integer label: optional sign, then ASCII digits (`07` is 7).
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The labels of an `.npy` file held whole in `bytes`.
fn npy_labels(name: &str, bytes: &[u8]) -> Result<LabelValues> {
    let mut r = bytes;
    let h = npy::read_header(name, &mut r)?;
    let n = match h.shape[..] {
        [n] | [n, 1] => n,
        _ => {
            return Err(Error::data(
                name,
                format!(
                    "labels must be a 1-D array, one label per row, not shape {:?}",
                    h.shape
                ),
            ));
        }
    };
    h.check_len(name, bytes.len() as u64)?;
    let data = &bytes[h.data_offset..];
    let size = h.dtype.size;
    let raw = |k: usize| -> u64 {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(&data[k * size..(k + 1) * size]);
        if h.dtype.big_endian {
            b[..size].reverse();
        }
        u64::from_le_bytes(b)
    };
    let ints = |f: &dyn Fn(usize) -> std::result::Result<i64, String>| {
        (0..n)
            .map(|k| f(k).map_err(|m| Error::data(name, format!("row {k}: {m}"))))
            .collect::<Result<Vec<i64>>>()
            .map(LabelValues::Ints)
    };
    match h.dtype.kind {
        npy::Kind::Int => ints(&|k| {
            let shift = 64 - 8 * size;
            Ok(((raw(k) << shift) as i64) >> shift)
        }),
        npy::Kind::Uint => {
            ints(&|k| i64::try_from(raw(k)).map_err(|_| format!("label {} is too large", raw(k))))
        }
        npy::Kind::Float => ints(&|k| {
            let b = raw(k);
            let x = match size {
                2 => f64::from(half::f16::from_bits(b as u16)),
                4 => f64::from(f32::from_bits(b as u32)),
                _ => f64::from_bits(b),
            };
            if x.fract() == 0.0 && x.abs() < 9.2e18 {
                Ok(x as i64)
            } else {
                Err(format!(
                    "label {x} is not a whole number (labels are integers or strings: \
                     np.save(path, labels.astype(int)))"
                ))
            }
        }),
        npy::Kind::Unicode => {
            let chars = size / 4;
            let mut out = Vec::with_capacity(n);
            for k in 0..n {
                let mut s = String::new();
                for c in 0..chars {
                    let at = k * size + 4 * c;
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&data[at..at + 4]);
                    let u = if h.dtype.big_endian {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    };
                    if u == 0 {
                        break;
                    }
                    let ch = char::from_u32(u).ok_or_else(|| {
                        Error::data(
                            name,
                            format!("row {k}: character {c} (0x{u:x}) is not a Unicode character"),
                        )
                    })?;
                    s.push(ch);
                }
                out.push(s);
            }
            Ok(LabelValues::Strings(out))
        }
    }
}

/// Column `column` of a CSV or TSV file with a header line: its cells, as
/// integers if every one is (the text rule), else as strings.
fn csv_column(name: &str, path: &str, text: &str, column: &str) -> Result<Labels> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = match csv::delimiter_for(path) {
        Some(d) => d,
        None => {
            let first = text.lines().next().unwrap_or("");
            if first.contains('\t') && !first.contains(',') {
                b'\t'
            } else {
                b','
            }
        }
    };
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(Error::data(
            name,
            "is empty: no header line names the columns",
        ));
    };
    let names =
        split_cells(header, delimiter).map_err(|m| Error::data(name, format!("line 1: {m}")))?;
    let Some(c) = names.iter().position(|n| n == column) else {
        let listed: Vec<String> = names.iter().take(8).map(|n| format!("'{n}'")).collect();
        return Err(Error::data(
            name,
            format!(
                "has no column '{}' in its header line (it has {})",
                csv::truncate(column),
                listed.join(", ")
            ),
        ));
    };
    let mut cells = Vec::new();
    for (k, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let row = split_cells(line, delimiter)
            .map_err(|m| Error::data(name, format!("line {}: {m}", k + 1)))?;
        let cell = row.into_iter().nth(c).ok_or_else(|| {
            Error::data(
                name,
                format!("line {}: has no column {} ('{column}')", k + 1, c + 1),
            )
        })?;
        if cell.is_empty() {
            return Err(Error::data(
                name,
                format!(
                    "line {}: the label in column '{column}' is empty (every row needs a label)",
                    k + 1
                ),
            ));
        }
        cells.push(cell);
    }
    let ints: Option<Vec<i64>> = cells.iter().map(|l| parse_int(l)).collect();
    let values = match ints {
        Some(v) => LabelValues::Ints(v),
        None => LabelValues::Strings(cells),
    };
    check_values(name, &values, false)?;
    Ok(Labels::from_values(name, &values, false))
}

/// The trimmed cells of one CSV line; a quoted cell may hold the delimiter
/// and doubled quotes.
fn split_cells(line: &str, d: u8) -> std::result::Result<Vec<String>, String> {
    let d = char::from(d);
    let mut out = Vec::new();
    let mut chars = line.strip_suffix('\r').unwrap_or(line).chars().peekable();
    loop {
        while chars.peek().is_some_and(|&c| c == ' ' && c != d) {
            chars.next();
        }
        let mut cell = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "cell {} opens a quote it does not close",
                            out.len() + 1
                        ));
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    Some('"') => break,
                    Some(c) => cell.push(c),
                }
            }
            while chars.peek().is_some_and(|&c| c != d) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == d {
                    break;
                }
                cell.push(c);
                chars.next();
            }
        }
        out.push(cell.trim().to_string());
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_labels_are_integers_when_every_line_is_one() {
        let l = text_labels("l.txt", "7\n07\n3\n+7\n").unwrap();
        assert!(l.integers);
        assert_eq!(l.classes, vec![0, 0, 1, 0]);
        let l = text_labels("l.txt", "7\n07\ncat\n 7 \r\n").unwrap();
        assert!(!l.integers);
        assert_eq!(l.classes, vec![0, 1, 2, 0]);
    }

    #[test]
    fn empty_labels_name_their_line() {
        let e = text_labels("l.txt", "a\n\nb\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "l.txt: line 2: the label is empty (every row needs a label)"
        );
        let e = text_labels("l.txt", "").unwrap_err();
        assert_eq!(e.to_string(), "l.txt: holds no labels");
    }

    #[test]
    fn csv_columns_by_name_with_quotes() {
        let text = "id,label\n0,\"a, b\"\n1,c\n2,\"a, b\"\n";
        let l = csv_column("f.csv:label", "f.csv", text, "label").unwrap();
        assert_eq!(l.classes, vec![0, 1, 0]);
        let l = csv_column("f.csv:id", "f.csv", text, "id").unwrap();
        assert!(l.integers);
        let e = csv_column("f.csv:x", "f.csv", text, "x").unwrap_err();
        assert!(e.to_string().contains("has no column 'x'"), "{e}");
    }
}
