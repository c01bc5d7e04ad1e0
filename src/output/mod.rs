//! Writers: the report as bytes, one small module per format.
//!
//! Every writer reads the same [`Report`], whose fields `report.rs` lists
//! once for all formats; `--terms` adds a [`Terms`] source that streams each
//! record's terms from the core, one record at a time, so no writer holds
//! R x R values. [`destination`] puts the bytes where `-o` says: standard
//! output, a file replaced atomically, a device or a FIFO.
//!
//! A new format is a variant of [`Format`] (its doc comment is its `--help`
//! line), a module beside this one and its arm in [`write`].

mod csv;
pub mod destination;
mod json;
pub mod plot;
mod table;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use crate::loss::{Core, Term};
use crate::report::Report;

/// The output formats: the values of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns and totals, for a terminal.
    Table,
    /// One JSON document.
    Json,
    /// One CSV row per anchor.
    Csv,
    /// The CSV rows with tabs between the fields.
    Tsv,
    /// One JSON object per line: each record ("type": "record"), then the
    /// totals ("type": "totals").
    Ndjson,
    /// A Markdown table.
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

/// Receives the index of one of the report's records and its terms.
pub type EachTerms<'f> = dyn FnMut(usize, &[Term]) -> io::Result<()> + 'f;

/// The terms of a report's records, streamed one record at a time.
pub trait Terms {
    /// Calls `each` with the index and terms of the report's records `which`,
    /// in that order.
    fn for_each_of(&self, report: &Report, which: &[usize], each: &mut EachTerms)
    -> io::Result<()>;

    /// Calls `each` with every record's index and terms, in record order.
    fn for_each(&self, report: &Report, each: &mut EachTerms) -> io::Result<()> {
        let all: Vec<usize> = (0..report.records.len()).collect();
        self.for_each_of(report, &all, each)
    }
}

/// Streams the terms of the report's records from the core.
pub struct TermSource<'a> {
    pub core: &'a Core<'a>,
}

impl Terms for TermSource<'_> {
    fn for_each_of(
        &self,
        report: &Report,
        which: &[usize],
        each: &mut EachTerms,
    ) -> io::Result<()> {
        // The core numbers records its own way (a selection of anchors, one
        // report record per anchor of the labels layout): map them there
        // and back.
        let core_records: Vec<usize> = which.iter().map(|&k| report.records[k].record).collect();
        let back: std::collections::HashMap<usize, usize> = which
            .iter()
            .map(|&k| (report.records[k].record, k))
            .collect();
        self.core
            .terms(&core_records, &mut |c, t| each(back[&c], t))
    }
}

/// Writes `report` in `format` to `out`.
pub fn write(
    format: Format,
    report: &Report,
    terms: Option<&dyn Terms>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, terms, opts, out),
        Format::Ndjson => json::write_lines(report, terms, opts, out),
        Format::Csv => csv::write(report, terms, opts, b',', out),
        Format::Tsv => csv::write(report, terms, opts, b'\t', out),
        Format::Table => table::write(report, terms, opts, table::Style::Plain, out),
        Format::Markdown => table::write(report, terms, opts, table::Style::Markdown, out),
    }
}

/// A float as text for CSV and tables: the shortest form that reads back to
/// the same value, with an exponent for very large or small magnitudes.
pub fn float(x: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, x);
    s
}

/// Appends [`float`]`(x)` to `s`.
pub fn write_float(s: &mut String, x: f64) {
    use std::fmt::Write;
    let a = x.abs();
    // Writing to a String cannot fail.
    let _ = if a == 0.0 || (1e-3..1e16).contains(&a) {
        write!(s, "{x}")
    } else {
        write!(s, "{x:e}")
    };
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
