//! Writers: the report as bytes, one small module per format.
//!
//! Every writer reads the same [`Report`]; `--terms` adds a [`TermSource`]
//! that streams each record's terms from the core, one record at a time, so
//! no writer holds R x R values. [`destination`] puts the bytes where `-o`
//! says: standard output, a file replaced atomically, a device or a FIFO.

mod csv;
pub mod destination;
mod json;
mod table;
mod tsv;

use std::io::{self, Write};

use crate::loss::{Core, Term};
use crate::report::Report;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// The CSV output with tabs between the fields.
    Tsv,
    Ndjson,
    Markdown,
}

/// What to write besides the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Totals only, no per-record output.
    pub summary_only: bool,
    /// Tables list every record, however many.
    pub all_rows: bool,
}

/// Streams the terms of the report's records from the core.
pub struct TermSource<'a> {
    pub core: &'a Core<'a>,
    /// The core's record behind each of the report's records, when the
    /// report holds a selection of them (`--anchor`); `None` when it holds
    /// them all, in order.
    pub origin: Option<Vec<usize>>,
}

impl TermSource<'_> {
    /// Calls `each` with every record's index and terms, in record order.
    pub fn for_each(
        &self,
        report: &Report,
        each: &mut dyn FnMut(usize, &[Term]) -> io::Result<()>,
    ) -> io::Result<()> {
        let all: Vec<usize> = (0..report.records.len()).collect();
        self.for_each_of(report, &all, each)
    }

    /// Calls `each` with the index and terms of the report's records `which`,
    /// in that order.
    pub fn for_each_of(
        &self,
        report: &Report,
        which: &[usize],
        each: &mut dyn FnMut(usize, &[Term]) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(origin) = &self.origin else {
            let log_den = |k: usize| report.records[k].log_denominator;
            return self.core.terms(which, &log_den, each);
        };
        // The core numbers records its own way: map them there and back.
        let back: std::collections::HashMap<usize, usize> =
            which.iter().map(|&k| (origin[k], k)).collect();
        let core_records: Vec<usize> = which.iter().map(|&k| origin[k]).collect();
        let log_den = |c: usize| report.records[back[&c]].log_denominator;
        self.core
            .terms(&core_records, &log_den, &mut |c, t| each(back[&c], t))
    }
}

/// Writes `report` in `format` to `out`.
pub fn write(
    format: Format,
    report: &Report,
    terms: Option<&TermSource<'_>>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, terms, opts, out),
        Format::Ndjson => json::write_lines(report, terms, opts, out),
        Format::Csv => csv::write(report, terms, opts, out),
        Format::Tsv => tsv::write(report, terms, opts, out),
        Format::Table => table::write(report, terms, opts, table::Style::Plain, out),
        Format::Markdown => table::write(report, terms, opts, table::Style::Markdown, out),
    }
}

/// A float as text for CSV and tables: the shortest form that reads back to
/// the same value, with an exponent for very large or small magnitudes.
pub fn float(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || (1e-3..1e16).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A float rounded to `sig` significant digits for reading.
pub fn rounded(x: f64, sig: usize) -> String {
    let a = x.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e7).contains(&a) {
        return format!("{:.*e}", sig.saturating_sub(1), x);
    }
    let digits = a.log10().floor() as i64;
    let decimals = (sig as i64 - 1 - digits).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A linear-space value that may have overflowed: the number, or e^log.
pub fn linear(v: Option<f64>, log: f64, sig: usize) -> String {
    match v {
        Some(v) => rounded(v, sig),
        None => format!("e^{}", rounded(log, sig)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_round_trips_and_uses_exponents_at_the_ends() {
        assert_eq!(float(0.5), "0.5");
        assert_eq!(float(4.248354255291589e-18), "4.248354255291589e-18");
        assert_eq!(float(1e300), "1e300");
        assert_eq!(float(0.0), "0");
        for x in [0.1, 1.0 / 3.0, 8103.083927575384, 1e-7, -2.5e20] {
            assert_eq!(float(x).parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn rounded_keeps_significant_digits() {
        assert_eq!(rounded(8103.083927575384, 6), "8103.08");
        assert_eq!(rounded(0.0184572, 4), "0.01846");
        assert_eq!(rounded(4.25e-18, 3), "4.25e-18");
        assert_eq!(rounded(9.0, 6), "9.00000");
        assert_eq!(linear(None, 1234.5678, 6), "e^1234.57");
    }
}
