//! CSV and TSV embeddings: numeric cells, an optional header line.
//!
//! A first line whose every cell is not a number is a header; any other
//! non-numeric cell, an empty cell, a non-finite value or a row whose length
//! differs from the first is an error naming its line and column.

use std::io::Read;

use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values, io_reason};

/// The dtype reported for text input: it is parsed as float64.
pub const CSV_DTYPE: &str = "float64 (text)";

/// The delimiter for a path: tab for `.tsv`/`.tab`, otherwise sniffed later.
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

/// Reads the whole text into memory, then parses it as a numeric table.
pub fn read_embeddings<R: Read>(name: &str, delimiter: Option<u8>, mut r: R) -> Result<Embeddings> {
    let mut text = Vec::new();
    r.read_to_end(&mut text)
        .map_err(|e| Error::data(name, io_reason(&e)))?;
    let delimiter = delimiter.unwrap_or_else(|| sniff(&text));
    let table = parse_table(name, &text, delimiter, |s| s.parse::<f64>().ok())?;
    for (i, row) in table.rows.chunks(table.cols.max(1)).enumerate() {
        if let Some(c) = row.iter().position(|x| !x.is_finite()) {
            return Err(Error::data(
                name,
                format!(
                    "{} at line {}, column {} (values must be finite)",
                    row[c],
                    table.first_line + i,
                    c + 1
                ),
            ));
        }
    }
    Ok(Embeddings {
        name: name.to_string(),
        source_dtype: CSV_DTYPE.to_string(),
        values: Values::F64(Matrix::from_rows(table.n_rows, table.cols, table.rows)),
        first_line: Some(table.first_line),
    })
}

/// Tab when the first line has tabs and no commas, otherwise comma.
pub fn sniff(text: &[u8]) -> u8 {
    let first = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    if first.contains(&b'\t') && !first.contains(&b',') {
        b'\t'
    } else {
        b','
    }
}

/// A parsed numeric table in row-major order.
pub struct Table<T> {
    pub rows: Vec<T>,
    pub n_rows: usize,
    pub cols: usize,
    /// 1-based line number of the first data row.
    pub first_line: usize,
    /// Line number of every data row (blank lines are skipped).
    pub lines: Vec<usize>,
}

/// Parses delimited text with `parse` for each cell; shared by embeddings and
/// index files so that both report bad cells the same way.
pub fn parse_table<T, F>(name: &str, text: &[u8], delimiter: u8, parse: F) -> Result<Table<T>>
where
    F: Fn(&str) -> Option<T>,
{
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .trim(::csv::Trim::All)
        .from_reader(text);
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut cols = None;
    let mut header_seen = false;
    let mut record = ::csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(Error::data(
                    name,
                    format!("line {line}: not valid text (it must be UTF-8 CSV)"),
                ));
            }
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.len() == 1 && record[0].is_empty() {
            continue; // blank line
        }
        let parsed: Vec<Option<T>> = record.iter().map(&parse).collect();
        let is_number = |cell: &str| cell.parse::<f64>().is_ok();
        if !header_seen && lines.is_empty() && !record.iter().any(is_number) {
            // The header: the first line, every cell non-numeric. A second
            // such line is an error, not a header to skip quietly.
            header_seen = true;
            continue;
        }
        if let Some(c) = parsed.iter().position(Option::is_none) {
            let cell = &record[c];
            let what = if cell.is_empty() {
                "empty cell".to_string()
            } else if is_number(cell) {
                // Only index files parse cells as something narrower.
                format!("'{}' is not an integer", truncate(cell))
            } else {
                format!("'{}' is not a number", truncate(cell))
            };
            return Err(Error::data(
                name,
                format!("line {line}, column {}: {what}", c + 1),
            ));
        }
        let n = parsed.len();
        match cols {
            None => cols = Some(n),
            Some(k) if k != n => {
                return Err(Error::data(
                    name,
                    format!("line {line}: has {n} columns but line {} has {k}", lines[0]),
                ));
            }
            _ => {}
        }
        // Growing by reservations that can fail: a text too large for memory
        // is refused, not ended by an abort.
        if out.try_reserve(n).is_err() || lines.try_reserve(1).is_err() {
            return Err(Error::data(
                name,
                format!("line {line}: out of memory after {} rows", lines.len()),
            ));
        }
        out.extend(parsed.into_iter().map(|x| x.expect("checked above")));
        lines.push(line);
    }
    let Some(cols) = cols else {
        return Err(Error::data(name, "holds no data rows"));
    };
    Ok(Table {
        n_rows: lines.len(),
        rows: out,
        cols,
        first_line: lines[0],
        lines,
    })
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

    #[test]
    fn header_and_values() {
        let e = load("a,b\n1,2\n3,4.5\n").unwrap();
        assert_eq!((e.rows(), e.cols()), (2, 2));
        assert_eq!(e.first_line, Some(2));
        let Values::F64(m) = &e.values else { panic!() };
        assert_eq!(m.view()[[1, 1]], 4.5);
    }

    #[test]
    fn tabs_are_sniffed() {
        let e = load("1\t2\t3\n4\t5\t6\n").unwrap();
        assert_eq!(e.cols(), 3);
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            ("1,2\n3\n", "t.csv: line 2: has 1 columns but line 1 has 2"),
            ("1,2\n3,x\n", "t.csv: line 2, column 2: 'x' is not a number"),
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
                "t.csv: line 2, column 1: 'c' is not a number",
            ),
        ];
        for (text, want) in cases {
            let got = match load(text) {
                Ok(_) => "ok".to_string(),
                Err(e) => e.to_string(),
            };
            assert_eq!(got, want, "input {text:?}");
        }
    }
}
