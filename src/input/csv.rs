//! Text tables: CSV, TSV and whitespace-separated numbers (what
//! `np.savetxt` and pandas' `to_csv` write), for embeddings and index files.
//!
//! Text is read line by line within fixed bounds, so that no stream, however
//! long or hostile, is read without end: a NUL byte (binary data) or a byte
//! that is not UTF-8 stops the reading at once, no line may be longer than
//! [`MAX_LINE_BYTES`], no text input longer than [`MAX_TEXT_BYTES`] and none
//! may hold more than [`MAX_TEXT_VALUES`] numbers.
//!
//! The first line that is neither blank nor a `#` comment sets the separator:
//! commas if it has any, else tabs if it has any, else runs of spaces (and
//! tabs). A later line that is separated otherwise is named as such. A cell
//! may be quoted (`"..."`, with `""` for a quote inside), but it cannot span
//! lines. That first line is a header, and skipped, when none of its cells is
//! a number, or when it is exactly `0,1,...,d-1` with three columns or more
//! (pandas' header of unnamed columns; `0` and `0,1` are read as a row, with
//! a warning), or when it is `,0,1,...` (the same after the index column's
//! empty cell, or after any other cell that is not a number). A header whose first cell is empty marks pandas' index
//! column, which is dropped when it holds integers. `--columns`
//! ([`ColumnSpec`]) picks the columns instead.
//!
//! Every error names the 1-based line and column, as an editor shows them.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values, io_reason};

/// The dtype reported for text input: it is parsed as float64.
pub const CSV_DTYPE: &str = "float64 (text)";

/// Largest text input read (1 GiB): past it, reading stops with an error
/// that suggests `.npy`, which is smaller and faster for that much data.
pub const MAX_TEXT_BYTES: u64 = 1 << 30;

/// Most values read from text (2^27: 1 GiB as float64), so that memory stays
/// bounded however short the numbers (`yes 1 |` writes two bytes a value).
pub const MAX_TEXT_VALUES: usize = 1 << 27;

/// Longest line of text input (4 MiB, about 160,000 numbers written with
/// `%.18e`): a longer line is not a row of embeddings.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// The delimiter a path's extension suggests: tab for `.tsv`/`.tab`, comma
/// for `.csv`. Only a hint: the first line decides (see the module docs).
pub fn delimiter_for(path: &str) -> Option<u8> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".tsv") || lower.ends_with(".tab") {
        Some(b'\t')
    } else if lower.ends_with(".csv") {
        Some(b',')
    } else {
        None
    }
}

/// What separates the cells of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Comma,
    Tab,
    /// Runs of spaces and tabs (`np.savetxt`'s default).
    Blanks,
}

impl Separator {
    fn plural(self) -> &'static str {
        match self {
            Separator::Comma => "commas",
            Separator::Tab => "tabs",
            Separator::Blanks => "spaces",
        }
    }
}

/// The separator of a table whose first significant line is `line`; `hint`
/// (from the file's extension) breaks the tie when it has both commas and
/// tabs.
pub fn sniff(line: &str, hint: Option<u8>) -> Separator {
    let (comma, tab) = (line.contains(','), line.contains('\t'));
    match (comma, tab, hint) {
        (true, true, Some(b'\t')) => Separator::Tab,
        (true, _, _) => Separator::Comma,
        (false, true, _) => Separator::Tab,
        _ if line.trim().contains([' ', '\t']) => Separator::Blanks,
        (_, _, Some(b'\t')) => Separator::Tab,
        _ => Separator::Comma,
    }
}

/// A column that was read but is not part of the embeddings, as reported in
/// the totals (`dropped_columns` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedColumn {
    /// The file, named as given.
    pub file: String,
    /// The column, 1-based.
    pub column: usize,
    /// Why: `index` (an integer column under an empty header cell, as pandas'
    /// `to_csv` writes its index).
    pub reason: &'static str,
}

// ---------------------------------------------------------------- --columns

/// One end of a column range: a 1-based number or a header name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnRef {
    Number(usize),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ColumnItem {
    One(ColumnRef),
    /// `A:B` (both included); an end left out is the first or last column.
    Range(Option<ColumnRef>, Option<ColumnRef>),
}

/// `--columns SPEC`: the embedding columns of a text file, as a
/// comma-separated list of columns and ranges. Columns are numbered from 1
/// (as error messages number them) or named by the header; a range `A:B`
/// includes both ends, `A:` runs to the last column and `:B` from the first.
/// `2:` drops a leading id column; `emb_0:emb_767` takes a block by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    text: String,
    items: Vec<ColumnItem>,
}

impl ColumnSpec {
    /// Parses a spec (for clap: a bad spec is a usage error).
    pub fn parse(s: &str) -> std::result::Result<ColumnSpec, String> {
        let one = |t: &str| -> std::result::Result<Option<ColumnRef>, String> {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            if t.bytes().all(|b| b.is_ascii_digit()) {
                return match t.parse::<usize>() {
                    Ok(0) => Err("columns are numbered from 1".into()),
                    Ok(n) => Ok(Some(ColumnRef::Number(n))),
                    Err(_) => Err(format!("column number {t} is too large")),
                };
            }
            Ok(Some(ColumnRef::Name(t.to_string())))
        };
        let mut items = Vec::new();
        for part in s.split(',') {
            if part.trim().is_empty() {
                return Err(format!(
                    "'{s}' has an empty item (write columns and ranges separated by commas, e.g. 2,5:9)"
                ));
            }
            items.push(match part.split_once(':') {
                Some((a, b)) => ColumnItem::Range(one(a)?, one(b)?),
                None => ColumnItem::One(one(part)?.expect("the part is not empty")),
            });
        }
        Ok(ColumnSpec {
            text: s.to_string(),
            items,
        })
    }

    /// The 0-based columns selected in a table of `ncols` columns whose
    /// header (if any) is `header`, in the order given.
    fn resolve(&self, file: &str, ncols: usize, header: Option<&Header>) -> Result<Vec<usize>> {
        let err = |msg: String| Error::data(file, format!("--columns {}: {msg}", self.text));
        let index = |r: &ColumnRef| -> Result<usize> {
            match r {
                ColumnRef::Number(n) if *n <= ncols => Ok(n - 1),
                ColumnRef::Number(n) => Err(err(format!(
                    "column {n} does not exist (the file has {ncols} columns)"
                ))),
                ColumnRef::Name(name) => {
                    let Some(h) = header else {
                        return Err(err(format!(
                            "names column '{}', but the file has no header line",
                            truncate(name)
                        )));
                    };
                    let mut found = h.cells.iter().enumerate().filter(|(_, c)| *c == name);
                    match (found.next(), found.next()) {
                        (Some((i, _)), None) => Ok(i),
                        (Some((i, _)), Some((j, _))) => Err(err(format!(
                            "the header (line {}) names columns {} and {} '{}'; use their numbers",
                            h.line,
                            i + 1,
                            j + 1,
                            truncate(name)
                        ))),
                        (None, _) => Err(err(format!(
                            "no column is named '{}' in the header (line {})",
                            truncate(name),
                            h.line
                        ))),
                    }
                }
            }
        };
        let mut out: Vec<usize> = Vec::new();
        let mut seen = vec![false; ncols];
        for item in &self.items {
            let (a, b) = match item {
                ColumnItem::One(r) => {
                    let i = index(r)?;
                    (i, i)
                }
                ColumnItem::Range(a, b) => {
                    let a = a.as_ref().map(&index).transpose()?.unwrap_or(0);
                    let b = b.as_ref().map(&index).transpose()?.unwrap_or(ncols - 1);
                    if a > b {
                        return Err(err(format!(
                            "the range from column {} to column {} runs backwards",
                            a + 1,
                            b + 1
                        )));
                    }
                    (a, b)
                }
            };
            for (c, seen) in seen.iter_mut().enumerate().take(b + 1).skip(a) {
                if std::mem::replace(seen, true) {
                    return Err(err(format!("column {} is selected twice", c + 1)));
                }
                out.push(c);
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

// ---------------------------------------------------------------- lines

/// One line of text, without its line break.
struct Line<'a> {
    /// 1-based line number.
    number: usize,
    text: &'a str,
}

/// Lines of a text stream, each checked for being text and for its length,
/// the stream for its total length.
struct Lines<'n, R> {
    name: &'n str,
    r: R,
    buf: Vec<u8>,
    number: usize,
    /// File offset of the next line's first byte.
    offset: u64,
    /// Most bytes read before the stream is refused.
    limit: u64,
}

impl<'n, R: BufRead> Lines<'n, R> {
    fn new(name: &'n str, r: R) -> Self {
        Lines {
            name,
            r,
            buf: Vec::new(),
            number: 0,
            offset: 0,
            limit: MAX_TEXT_BYTES,
        }
    }

    fn next(&mut self) -> Result<Option<Line<'_>>> {
        let name = self.name;
        self.buf.clear();
        let start = self.offset;
        let n = (&mut self.r)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| Error::data(name, io_reason(&e)))?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.offset += n as u64;
        let line = self.number;
        let b = &self.buf[..];
        if start == 0 && (b.starts_with(b"\xff\xfe") || b.starts_with(b"\xfe\xff")) {
            return Err(Error::data(
                name,
                format!(
                    "UTF-16 text (it starts with the byte-order mark {:02x} {:02x}); save it as UTF-8",
                    b[0], b[1]
                ),
            ));
        }
        // The first fault in the line: a NUL byte, or bytes that are not UTF-8.
        let nul = b.iter().position(|&c| c == 0);
        let checked = &b[..nul.unwrap_or(b.len())];
        let too_long = b.len() > MAX_LINE_BYTES && b.last() != Some(&b'\n');
        if let Err(e) = std::str::from_utf8(checked) {
            // A character cut by the length limit is the length's fault.
            if !(too_long && e.error_len().is_none()) {
                let at = e.valid_up_to();
                return Err(Error::data(
                    name,
                    format!(
                        "line {line}: not UTF-8 text (byte {} is 0x{:02x}); text input must be UTF-8 CSV, TSV or numbers separated by spaces",
                        start + at as u64,
                        b[at]
                    ),
                ));
            }
        }
        if let Some(at) = nul {
            return Err(Error::data(
                name,
                format!(
                    "line {line}: byte {} is NUL: binary data, not text (text input must be UTF-8 CSV, TSV or numbers separated by spaces)",
                    start + at as u64
                ),
            ));
        }
        if too_long {
            return Err(Error::data(
                name,
                format!(
                    "line {line} is longer than {MAX_LINE_BYTES} bytes, the most a line of text input may hold"
                ),
            ));
        }
        if self.offset > self.limit {
            return Err(too_large(name));
        }
        let mut text = std::str::from_utf8(b).expect("checked above");
        text = text.strip_suffix('\n').unwrap_or(text);
        text = text.strip_suffix('\r').unwrap_or(text);
        if start == 0 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text); // UTF-8 byte-order mark
        }
        Ok(Some(Line { number: line, text }))
    }
}

fn too_large(name: &str) -> Error {
    Error::data(
        name,
        format!(
            "text input larger than {MAX_TEXT_BYTES} bytes (1 GiB), the most read as text; save the embeddings as .npy (np.save)"
        ),
    )
}

/// Refuses a regular file larger than the text limit before reading it.
pub fn check_size(name: &str, path: &str) -> Result<()> {
    if path == "-" {
        return Ok(());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() > MAX_TEXT_BYTES => Err(too_large(name)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------- cells

enum SplitError {
    /// The quote that opens this 0-based cell is not closed on its line.
    Unclosed(usize),
    /// Text follows the closing quote of this cell.
    AfterQuote(usize),
}

/// Splits a line into trimmed cells.
fn split<'a>(
    line: &'a str,
    sep: Separator,
    out: &mut Vec<Cow<'a, str>>,
) -> std::result::Result<(), SplitError> {
    out.clear();
    let d = match sep {
        Separator::Blanks => {
            out.extend(line.split_ascii_whitespace().map(Cow::Borrowed));
            return Ok(());
        }
        Separator::Comma => b',',
        Separator::Tab => b'\t',
    };
    let b = line.as_bytes();
    let blank = |c: u8| c != d && (c == b' ' || c == b'\t' || c == b'\r');
    let mut i = 0;
    loop {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if b.get(i) == Some(&b'"') {
            let col = out.len();
            let start = i + 1;
            let (mut j, mut seg) = (start, start);
            let mut owned: Option<String> = None;
            loop {
                match b[j..].iter().position(|&c| c == b'"') {
                    None => return Err(SplitError::Unclosed(col)),
                    Some(k) => j += k,
                }
                if b.get(j + 1) == Some(&b'"') {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&line[seg..=j]);
                    j += 2;
                    seg = j;
                    continue;
                }
                break;
            }
            out.push(match owned {
                None => Cow::Borrowed(line[start..j].trim()),
                Some(mut s) => {
                    s.push_str(&line[seg..j]);
                    Cow::Owned(s.trim().to_string())
                }
            });
            i = j + 1;
            while i < b.len() && blank(b[i]) {
                i += 1;
            }
            if i < b.len() && b[i] != d {
                return Err(SplitError::AfterQuote(col));
            }
        } else {
            let end = b[i..]
                .iter()
                .position(|&c| c == d)
                .map_or(b.len(), |k| i + k);
            out.push(Cow::Borrowed(line[i..end].trim()));
            i = end;
        }
        if i >= b.len() {
            return Ok(());
        }
        i += 1; // the delimiter
        if i == b.len() {
            out.push(Cow::Borrowed(""));
            return Ok(());
        }
    }
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok()
}

/// The other separator that splits `cell` into two or more numbers, if any:
/// the sign of a line separated unlike the first.
fn other_separator(cell: &str, sep: Separator) -> Option<Separator> {
    let all_numbers = |parts: &mut dyn Iterator<Item = &str>| {
        let mut n = 0;
        for p in parts {
            if !is_number(p.trim()) {
                return false;
            }
            n += 1;
        }
        n >= 2
    };
    [Separator::Comma, Separator::Tab, Separator::Blanks]
        .into_iter()
        .filter(|&s| s != sep)
        .find(|&s| match s {
            Separator::Comma => all_numbers(&mut cell.split(',')),
            Separator::Tab => all_numbers(&mut cell.split('\t')),
            Separator::Blanks => all_numbers(&mut cell.split_ascii_whitespace()),
        })
}

// ---------------------------------------------------------------- tables

/// What a table holds, for its header rules and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Embeddings,
    Pairs,
}

/// A header line and where it is.
#[derive(Debug, Clone)]
struct Header {
    line: usize,
    cells: Vec<String>,
}

/// A parsed numeric table in row-major order.
pub struct Table<T> {
    pub rows: Vec<T>,
    pub n_rows: usize,
    /// Columns read into `rows` (after any selection).
    pub cols: usize,
    /// 1-based line number of the first data row.
    pub first_line: usize,
    /// Line number of every data row (blank and comment lines are skipped).
    pub lines: Vec<usize>,
    /// The 0-based file column of each column of `rows`.
    pub columns: Vec<usize>,
    /// Columns of the file left out on the tool's own judgement.
    pub dropped: Vec<DroppedColumn>,
}

/// Names that mark a column as something other than a dimension.
fn id_like(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    matches!(
        n.as_str(),
        "id" | "ids"
            | "index"
            | "idx"
            | "label"
            | "labels"
            | "class"
            | "target"
            | "key"
            | "name"
            | "row"
            | "uid"
            | "uuid"
    ) || n.starts_with("unnamed:")
}

/// A `--columns` value that keeps every column but the 0-based `c` of `n`,
/// and but column 1 when it is the pandas index the reader leaves out
/// (`index`): following the hint must not bring the index back as a
/// dimension.
fn all_but(c: usize, n: usize, index: bool) -> String {
    let kept = |skip_index: bool| -> Vec<usize> {
        (1..=n)
            .filter(|&k| k != c + 1 && !(skip_index && k == 1))
            .collect()
    };
    let mut kept = kept(index);
    if kept.is_empty() {
        kept = (1..=n).filter(|&k| k != c + 1).collect();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < kept.len() {
        let a = kept[i];
        while i + 1 < kept.len() && kept[i + 1] == kept[i] + 1 {
            i += 1;
        }
        let b = kept[i];
        i += 1;
        parts.push(match (a, b) {
            (1, b) => format!(":{b}"),
            (a, b) if b == n => format!("{a}:"),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}:{b}"),
        });
    }
    parts.join(",")
}

/// Parses delimited text from `r` with `parse` for each selected cell;
/// shared by embeddings and index files so that both report bad cells the
/// same way.
pub fn parse_table<T, R, F>(
    name: &str,
    r: R,
    kind: TableKind,
    hint: Option<u8>,
    columns: Option<&ColumnSpec>,
    parse: F,
) -> Result<Table<T>>
where
    R: BufRead,
    F: Fn(&str) -> Option<T>,
{
    let lines = Lines::new(name, r);
    parse_lines(name, lines, kind, hint, columns, parse, MAX_TEXT_VALUES)
}

/// [`parse_table`] over checked lines, reading at most `max_values` values.
fn parse_lines<T, R, F>(
    name: &str,
    mut lines: Lines<'_, R>,
    kind: TableKind,
    hint: Option<u8>,
    columns: Option<&ColumnSpec>,
    parse: F,
    max_values: usize,
) -> Result<Table<T>>
where
    R: BufRead,
    F: Fn(&str) -> Option<T>,
{
    let mut sep: Option<(Separator, usize)> = None;
    let mut header: Option<Header> = None;
    // Set by the first data row: the column count, the line that set it,
    // the selected columns and whether column 1 is an index to drop.
    let mut shape: Option<(usize, usize, Vec<usize>, bool)> = None;
    let mut dropped = Vec::new();
    let mut out: Vec<T> = Vec::new();
    let mut row_lines: Vec<usize> = Vec::new();
    // A first row that pandas would write as its header.
    let mut ambiguous: Option<(usize, String)> = None;
    while let Some(Line { number: line, text }) = lines.next()? {
        // Lines end with \n or \r\n; a \r left inside one is a file whose
        // lines end with \r alone (classic Mac OS), read as one long line.
        if text.contains('\r') {
            return Err(Error::data(
                name,
                format!(
                    "line {line} holds a carriage return (\\r) that does not end it: lines must \
                     end with \\n or \\r\\n, not \\r alone"
                ),
            ));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue; // blank line or comment
        }
        let (s, s_line) = *sep.get_or_insert_with(|| (sniff(text, hint), line));
        let mut cells_here: Vec<Cow<'_, str>> = Vec::new();
        split(text, s, &mut cells_here).map_err(|e| {
            let (c, what) = match e {
                SplitError::Unclosed(c) => (
                    c,
                    "the quote (\") that opens this cell is not closed on this line (a cell cannot span lines)",
                ),
                SplitError::AfterQuote(c) => (c, "text follows the closing quote (\") of this cell"),
            };
            Error::data(name, format!("line {line}, column {}: {what}", c + 1))
        })?;
        let mismatch = |other: Separator| {
            let what = if line == s_line {
                format!(
                    "line {line} mixes {} and {} as separators",
                    s.plural(),
                    other.plural()
                )
            } else {
                format!(
                    "line {line} is separated by {}, but line {s_line} by {}",
                    other.plural(),
                    s.plural()
                )
            };
            Error::data(name, format!("{what}; use one separator throughout"))
        };
        if shape.is_none() && header.is_none() {
            let ints_from = |k: usize| {
                cells_here.len() > k
                    && cells_here[k..]
                        .iter()
                        .enumerate()
                        .all(|(i, c)| c.as_ref() == i.to_string())
            };
            let words = !cells_here.iter().any(|c| is_number(c));
            // pandas' header of unnamed columns; with one or two columns the
            // same line is a plausible row (a 1-D or 2-D point), read as such
            // with a warning below. In a pairs file `0,1` is a pair: no row
            // tells it from pandas' header (pairs of anchor 0 are common).
            let pandas = ints_from(0) && cells_here.len() >= 3 && kind == TableKind::Embeddings;
            if ints_from(0) && cells_here.len() <= 2 && kind == TableKind::Embeddings {
                ambiguous = Some((line, text.trim().to_string()));
            }
            // The same after a first cell that is not a number: empty (the
            // index), `Unnamed: 0` (a reloaded index) or an id column's name;
            // or after both (`,id,0,1,...`: to_csv with its index of a frame
            // with an id column).
            let pandas_index = !is_number(&cells_here[0])
                && (ints_from(1) || (ints_from(2) && !is_number(&cells_here[1])));
            if words || pandas || pandas_index {
                header = Some(Header {
                    line,
                    cells: cells_here.iter().map(|c| c.to_string()).collect(),
                });
                continue;
            }
        }
        let (ncols, set_by, selected, index) = match &shape {
            Some(s) => s,
            None => {
                let ncols = header.as_ref().map_or(cells_here.len(), |h| h.cells.len());
                let set_by = header.as_ref().map_or(line, |h| h.line);
                let index = columns.is_none()
                    && ncols >= 2
                    && header.as_ref().is_some_and(|h| h.cells[0].is_empty());
                let selected = match columns {
                    Some(spec) => spec.resolve(name, ncols, header.as_ref())?,
                    None => (usize::from(index)..ncols).collect(),
                };
                if index {
                    dropped.push(DroppedColumn {
                        file: name.to_string(),
                        column: 1,
                        reason: "index",
                    });
                }
                if let (Some(h), None, TableKind::Embeddings, 2..) = (&header, columns, kind, ncols)
                    && let Some(c) = selected.iter().copied().find(|&c| id_like(&h.cells[c]))
                {
                    return Err(Error::data(
                        name,
                        format!(
                            "line {}, column {}: the header names this column '{}', which is not a dimension of an embedding; choose the embedding columns with --columns (e.g. --columns {}, or --columns 1: to keep every column)",
                            h.line,
                            c + 1,
                            truncate(&h.cells[c]),
                            all_but(c, ncols, index)
                        ),
                    ));
                }
                shape.insert((ncols, set_by, selected, index))
            }
        };
        if cells_here.len() != *ncols {
            if let Some(o) = cells_here.iter().find_map(|c| other_separator(c, s)) {
                return Err(mismatch(o));
            }
            return Err(Error::data(
                name,
                format!(
                    "line {line}: has {} columns but line {set_by} has {ncols}",
                    cells_here.len()
                ),
            ));
        }
        if *index && cells_here[0].parse::<i64>().is_err() {
            return Err(Error::data(
                name,
                format!(
                    "line {line}, column 1: '{}' is not an integer, but the column's header cell is empty, as pandas writes its index; choose the columns with --columns",
                    truncate(&cells_here[0])
                ),
            ));
        }
        if out.len() + selected.len() > max_values {
            return Err(Error::data(
                name,
                format!(
                    "line {line}: more than {max_values} values, the most read from text; save the embeddings as .npy (np.save)"
                ),
            ));
        }
        // Growing by reservations that can fail: a text too large for memory
        // is refused, not ended by an abort.
        if out.try_reserve(selected.len()).is_err() || row_lines.try_reserve(1).is_err() {
            return Err(Error::data(
                name,
                format!("line {line}: out of memory after {} rows", row_lines.len()),
            ));
        }
        for &c in selected {
            let cell = cells_here[c].as_ref();
            match parse(cell) {
                Some(v) => out.push(v),
                None => {
                    if let Some(o) = other_separator(cell, s) {
                        return Err(mismatch(o));
                    }
                    let what = if cell.is_empty() {
                        "empty cell".to_string()
                    } else if is_number(cell)
                        && cell
                            .parse::<f64>()
                            .is_ok_and(|x| x.is_finite() && x.fract() == 0.0)
                    {
                        // A whole number an index file could not take: beyond
                        // i64, so beyond any file's rows.
                        format!(
                            "'{}' is out of range (too large for any file)",
                            truncate(cell)
                        )
                    } else if is_number(cell) {
                        // Only index files parse cells as something narrower.
                        format!(
                            "'{}' is not an integer (pairs are row numbers: write them from an integer array, e.g. p.astype(int))",
                            truncate(cell)
                        )
                    } else {
                        let named = header
                            .as_ref()
                            .filter(|h| !h.cells[c].is_empty() && columns.is_none() && *ncols > 1);
                        match named {
                            Some(h) => format!(
                                "'{}' is not a number (the header calls this column '{}'; choose the embedding columns with --columns, e.g. --columns {})",
                                truncate(cell),
                                truncate(&h.cells[c]),
                                all_but(c, *ncols, *index)
                            ),
                            None if cell.contains(';') => format!(
                                "'{}' is not a number (semicolons separate cells here, as in CSV with decimal commas: write the file with commas between cells and decimal points, e.g. to_csv(path, sep=',', decimal='.'))",
                                truncate(cell)
                            ),
                            None => format!("'{}' is not a number", truncate(cell)),
                        }
                    };
                    return Err(Error::data(
                        name,
                        format!("line {line}, column {}: {what}", c + 1),
                    ));
                }
            }
        }
        if row_lines.len() == 1 && ambiguous.is_some() {
            // The second row says whether the first looks like a header: it
            // holds fractions where the first held integers.
            let value = |c: usize| cells_here[c].parse::<f64>().unwrap_or(0.0);
            let like_header = selected.iter().any(|&c| value(c).fract() != 0.0);
            if !like_header {
                ambiguous = None;
            }
        }
        row_lines.push(line);
    }
    let Some((_, _, selected, _)) = shape else {
        return Err(Error::data(name, "holds no data rows"));
    };
    // Alone, the line cannot be a header (the file would hold no rows).
    if let Some((line, text)) = ambiguous.filter(|_| row_lines.len() > 1) {
        crate::warning::warn(format!(
            "{name}: line {line} ({}) is read as a row, but pandas writes the same line as the header of unnamed columns (to_csv with index=False); if it is that header, delete it (a header of names, such as anchor,positive, is always skipped)",
            truncate(&text)
        ));
    }
    Ok(Table {
        n_rows: row_lines.len(),
        rows: out,
        cols: selected.len(),
        first_line: row_lines[0],
        lines: row_lines,
        columns: selected,
        dropped,
    })
}

/// Reads text embeddings with the columns `columns` selects (all but a
/// pandas index column without it), and the columns left out.
pub fn read_text<R: Read>(
    name: &str,
    delimiter: Option<u8>,
    r: R,
    columns: Option<&ColumnSpec>,
) -> Result<(Embeddings, Vec<DroppedColumn>)> {
    let table = parse_table(
        name,
        BufReader::with_capacity(1 << 16, r),
        TableKind::Embeddings,
        delimiter,
        columns,
        |s| s.parse::<f64>().ok(),
    )?;
    let width = table.cols.max(1);
    if let Some(k) = table.rows.iter().position(|x| !x.is_finite()) {
        let (i, c) = (k / width, k % width);
        return Err(Error::data(
            name,
            format!(
                "{} at line {}, column {} (values must be finite)",
                table.rows[k],
                table.lines[i],
                table.columns[c] + 1
            ),
        ));
    }
    // Places are named by line and column only where rows are consecutive
    // lines and columns those of the file; otherwise as 0-based rows.
    let consecutive = table.lines.windows(2).all(|w| w[1] == w[0] + 1)
        && table.columns.iter().enumerate().all(|(i, &c)| i == c);
    Ok((
        Embeddings {
            name: name.to_string(),
            source_dtype: CSV_DTYPE.to_string(),
            values: Values::F64(Matrix::from_rows(table.n_rows, table.cols, table.rows)),
            first_line: consecutive.then_some(table.first_line),
        },
        table.dropped,
    ))
}

/// Reads text embeddings, every column (but a pandas index column).
pub fn read_embeddings<R: Read>(name: &str, delimiter: Option<u8>, r: R) -> Result<Embeddings> {
    read_text(name, delimiter, r, None).map(|(e, _)| e)
}

/// `s` cut to 24 characters for quoting in a message.
pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() > 24 {
        format!("{}...", s.chars().take(24).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Embeddings> {
        read_embeddings("t.csv", None, text.as_bytes())
    }

    fn message(text: &str) -> String {
        match load(text) {
            Ok(e) => format!("ok {}x{}", e.rows(), e.cols()),
            Err(e) => e.to_string(),
        }
    }

    fn values(e: &Embeddings) -> Vec<f64> {
        let Values::F64(m) = &e.values else { panic!() };
        m.view().iter().copied().collect()
    }

    #[test]
    fn header_and_values() {
        let e = load("a,b\n1,2\n3,4.5\n").unwrap();
        assert_eq!((e.rows(), e.cols()), (2, 2));
        assert_eq!(e.first_line, Some(2));
        let Values::F64(m) = &e.values else { panic!() };
        assert_eq!(m.view()[[1, 1]], 4.5);
    }

    #[test]
    fn separators_are_sniffed() {
        assert_eq!(load("1\t2\t3\n4\t5\t6\n").unwrap().cols(), 3);
        let e = load("# a b\n1.0e+00 2.0e+00  3\n  4 5\t6\n").unwrap();
        assert_eq!(values(&e), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(e.first_line, Some(2));
        // CRLF line ends and a UTF-8 byte-order mark.
        let e = load("\u{feff}a,b\r\n1,2\r\n3,4\r\n").unwrap();
        assert_eq!(values(&e), [1.0, 2.0, 3.0, 4.0]);
        // Quoted cells, a quote inside one.
        let e = load("\"a,\"\"b\",c\n\"1\",2\n").unwrap();
        assert_eq!(values(&e), [1.0, 2.0]);
    }

    #[test]
    fn pandas_headers_and_index() {
        let e = load("0,1,2\n0.5,1,2\n3,4,5\n").unwrap();
        assert_eq!((e.rows(), e.cols()), (2, 3));
        let (e, dropped) = read_text("t.csv", None, &b",0,1\n0,0.5,1\n1,3,4\n"[..], None).unwrap();
        assert_eq!(values(&e), [0.5, 1.0, 3.0, 4.0]);
        assert_eq!(
            dropped,
            [DroppedColumn {
                file: "t.csv".into(),
                column: 1,
                reason: "index"
            }]
        );
        // Dropped columns: places are rows, not lines and columns.
        assert_eq!(e.first_line, None);
        // pandas' header after a reloaded index's name: a header, and the
        // column is refused as an id.
        let e = load("Unnamed: 0,0,1\n0,0.5,1\n1,3,4\n").err().unwrap();
        assert!(
            e.to_string().contains("names this column 'Unnamed: 0'"),
            "{e}"
        );
        let spec = ColumnSpec::parse("2:").unwrap();
        let text = &b"Unnamed: 0,0,1\n0,0.5,1\n1,3,4\n"[..];
        let (e, _) = read_text("t.csv", None, text, Some(&spec)).unwrap();
        assert_eq!(values(&e), [0.5, 1.0, 3.0, 4.0]);
        // Integers that are not 0..d-1 are data.
        assert_eq!(load("1,2,3\n4,5,6\n").unwrap().rows(), 2);
    }

    #[test]
    fn columns_select_by_number_and_name() {
        let text = b"id,e0,e1,e2\nx,1,2,3\ny,4,5,6\n";
        let spec = |s| ColumnSpec::parse(s).unwrap();
        for (s, want) in [
            ("2:", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ("e0:e1", vec![1.0, 2.0, 4.0, 5.0]),
            ("4,2", vec![3.0, 1.0, 6.0, 4.0]),
            (":3,4:4", vec![]),
        ] {
            let got = read_text("t.csv", None, &text[..], Some(&spec(s)));
            match got {
                Ok((e, d)) => {
                    assert_eq!(values(&e), want, "{s}");
                    assert!(d.is_empty());
                }
                Err(e) => assert_eq!(
                    e.to_string(),
                    "t.csv: line 2, column 1: 'x' is not a number",
                    "{s}"
                ),
            }
        }
        for (s, want) in [
            (
                "2:9",
                "t.csv: --columns 2:9: column 9 does not exist (the file has 4 columns)",
            ),
            (
                "e9",
                "t.csv: --columns e9: no column is named 'e9' in the header (line 1)",
            ),
            (
                "3:2",
                "t.csv: --columns 3:2: the range from column 3 to column 2 runs backwards",
            ),
            ("2,2", "t.csv: --columns 2,2: column 2 is selected twice"),
        ] {
            let e = read_text("t.csv", None, &text[..], Some(&spec(s)))
                .err()
                .unwrap();
            assert_eq!(e.to_string(), want);
        }
        assert!(ColumnSpec::parse("0:3").is_err());
        assert!(ColumnSpec::parse("1,,2").is_err());
    }

    #[test]
    fn columns_hints_leave_out_the_pandas_index() {
        assert_eq!(all_but(0, 5, false), "2:");
        assert_eq!(all_but(4, 5, false), ":4");
        assert_eq!(all_but(2, 5, false), ":2,4:");
        assert_eq!(all_but(2, 6, true), "2,4:");
        assert_eq!(all_but(1, 6, true), "3:");
        assert_eq!(all_but(5, 6, true), "2:5");
        assert_eq!(all_but(3, 4, true), "2:3");
        // pandas' to_csv with its index, and a bad cell in column 3: the
        // hint's columns are those the reader would take, less column 3.
        let text = &b",0,1,2,3\n0,1,x,2,3\n1,4,5,6,7\n"[..];
        let e = read_text("t.csv", None, text, None).err().unwrap();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2, column 3: 'x' is not a number (the header calls this column '1'; \
             choose the embedding columns with --columns, e.g. --columns 2,4:)"
        );
        let spec = ColumnSpec::parse("2,4:").unwrap();
        let fixed = &b",0,1,2,3\n0,1,9,2,3\n1,4,5,6,7\n"[..];
        let (e, _) = read_text("t.csv", None, fixed, Some(&spec)).unwrap();
        assert_eq!(e.cols(), 3);
        // An id column after pandas' index, under names or under pandas'
        // own column numbers.
        for text in [
            ",id,a,b\n0,7,0.5,1\n1,8,3,4\n",
            ",id,0,1\n0,7,0.5,1\n1,8,3,4\n",
        ] {
            let e = read_text("t.csv", None, text.as_bytes(), None)
                .err()
                .unwrap();
            assert_eq!(
                e.to_string(),
                "t.csv: line 1, column 2: the header names this column 'id', which is not a \
                 dimension of an embedding; choose the embedding columns with --columns (e.g. \
                 --columns 3:, or --columns 1: to keep every column)",
                "{text}"
            );
        }
        let spec = ColumnSpec::parse("3:").unwrap();
        let text = &b",id,0,1\n0,7,0.5,1\n1,8,3,4\n"[..];
        let (e, _) = read_text("t.csv", None, text, Some(&spec)).unwrap();
        assert_eq!((e.rows(), e.cols()), (2, 2));
        // One column: the second cell the rule looks at is not there.
        assert!(read_text("t.csv", None, &b"x\n1\n2\n"[..], None).is_ok());
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            ("1,2\n3\n", "t.csv: line 2: has 1 columns but line 1 has 2"),
            ("1,2\n3,x\n", "t.csv: line 2, column 2: 'x' is not a number"),
            (
                "1,2\r3,4\r5,6\r",
                "t.csv: line 1 holds a carriage return (\\r) that does not end it: lines must end with \\n or \\r\\n, not \\r alone",
            ),
            (
                "# from a Mac\r1,2\r3,4\r",
                "t.csv: line 1 holds a carriage return (\\r) that does not end it: lines must end with \\n or \\r\\n, not \\r alone",
            ),
            ("1,2\n3,\n", "t.csv: line 2, column 2: empty cell"),
            (
                "1,2\n3,nan\n",
                "t.csv: NaN at line 2, column 2 (values must be finite)",
            ),
            (
                "1,2\n3,-inf\n",
                "t.csv: -inf at line 2, column 2 (values must be finite)",
            ),
            ("a,b\n", "t.csv: holds no data rows"),
            ("", "t.csv: holds no data rows"),
            ("a,1\n", "t.csv: line 1, column 1: 'a' is not a number"),
            (
                "a,b\nc,d\n1,2\n",
                "t.csv: line 2, column 1: 'c' is not a number (the header calls this column 'a'; choose the embedding columns with --columns, e.g. --columns 2:)",
            ),
            (
                "\"1,2,3\n1,2,3\n4,5,6\n",
                "t.csv: line 1, column 1: the quote (\") that opens this cell is not closed on this line (a cell cannot span lines)",
            ),
            (
                "1\t2\t3\n1,2,3\n4,5,6\n",
                "t.csv: line 2 is separated by commas, but line 1 by tabs; use one separator throughout",
            ),
            (
                "a\tb\n1,2\n",
                "t.csv: line 2 is separated by commas, but line 1 by tabs; use one separator throughout",
            ),
            (
                "1,2\n3 4\n",
                "t.csv: line 2 is separated by spaces, but line 1 by commas; use one separator throughout",
            ),
            (
                "id,a,b\n0,1,2\n",
                "t.csv: line 1, column 1: the header names this column 'id', which is not a dimension of an embedding; choose the embedding columns with --columns (e.g. --columns 2:, or --columns 1: to keep every column)",
            ),
            (
                ",a,b\n0.5,1,2\n",
                "t.csv: line 2, column 1: '0.5' is not an integer, but the column's header cell is empty, as pandas writes its index; choose the columns with --columns",
            ),
            (
                "1,2\n\"3\"x,4\n",
                "t.csv: line 2, column 1: text follows the closing quote (\") of this cell",
            ),
            (
                "1\t2,3\n",
                "t.csv: line 1 mixes commas and tabs as separators; use one separator throughout",
            ),
            (
                "1,5;2,5\n",
                "t.csv: line 1, column 2: '5;2' is not a number (semicolons separate cells here, as in CSV with decimal commas: write the file with commas between cells and decimal points, e.g. to_csv(path, sep=',', decimal='.'))",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(message(text), want, "input {text:?}");
        }
    }

    #[test]
    fn binary_and_endless_streams_are_refused_early() {
        let e = load("1,2\n3,\u{0}4\n").err().unwrap();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2: byte 6 is NUL: binary data, not text (text input must be UTF-8 CSV, TSV or numbers separated by spaces)"
        );
        let e = read_embeddings("t.csv", None, &b"1,2\n\xe93,4\n"[..])
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("t.csv: line 2: not UTF-8 text (byte 4 is 0xe9)"),
            "{e}"
        );
        // A line without end: refused after MAX_LINE_BYTES, not read on.
        let endless = std::io::repeat(b'1');
        let e = read_embeddings("t.csv", None, endless).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "t.csv: line 1 is longer than {MAX_LINE_BYTES} bytes, the most a line of text input may hold"
            )
        );
        // Endless valid rows: refused once past the limit (MAX_TEXT_BYTES in
        // use; a small one here).
        let mut lines = Lines::new("t.csv", &b"1,2\n"[..]);
        assert_eq!(lines.next().unwrap().unwrap().text, "1,2");
        struct Rows;
        impl Read for Rows {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = b"1,2\n"[i % 4];
                }
                Ok(buf.len() / 4 * 4)
            }
        }
        let mut lines = Lines::new("t.csv", BufReader::new(Rows));
        lines.limit = 100_000;
        let mut n = 0;
        let e = loop {
            match lines.next() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("an endless stream ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 25_000);
        assert!(
            e.to_string().contains("larger than 1073741824 bytes"),
            "{e}"
        );
        // Endless rows of short numbers: refused at the value limit.
        let lines = Lines::new("t.csv", BufReader::new(Rows));
        let e = parse_lines(
            "t.csv",
            lines,
            TableKind::Embeddings,
            None,
            None,
            |s| s.parse::<f64>().ok(),
            1000,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "t.csv: line 501: more than 1000 values, the most read from text; save the embeddings as .npy (np.save)"
        );
    }
}
