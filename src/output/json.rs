//! JSON (one document) and NDJSON (one record a line). Field names are the
//! same in both and documented in `docs/json.md`.

use std::io::{self, Write};

use serde::Serialize;

use super::{Options, Terms};
use crate::loss::Term;
use crate::report::{AnchorRecord, Report};

#[derive(Serialize)]
struct WithTerms<'a> {
    #[serde(flatten)]
    record: &'a AnchorRecord,
    terms: &'a [Term],
}

/// One NDJSON line: `type` (`record` or `totals`) first, then the fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

fn line<T: Serialize>(kind: &'static str, body: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Line { kind, body }).map_err(json_err)?;
    writeln!(out)
}

/// serde_json's error as an I/O error, keeping the kind of an underlying
/// I/O failure (a closed pipe stays a closed pipe).
fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::from(e)
}

/// One JSON document: the summary's fields, then `anchors` with one record a line.
pub fn write(
    report: &Report,
    terms: Option<&dyn Terms>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    let head = serde_json::to_string(&report.summary).map_err(json_err)?;
    if opts.summary_only {
        return writeln!(out, "{head}");
    }
    // The summary object without its closing brace, then the records.
    write!(out, "{},\"anchors\":[", &head[..head.len() - 1])?;
    let mut first = true;
    let mut sep = |out: &mut dyn Write| -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        Ok(())
    };
    match terms {
        None => {
            for r in &report.records {
                sep(out)?;
                serde_json::to_writer(&mut *out, r).map_err(json_err)?;
            }
        }
        Some(src) => src.for_each(report, &mut |k, t| {
            sep(out)?;
            let rec = WithTerms {
                record: &report.records[k],
                terms: t,
            };
            serde_json::to_writer(&mut *out, &rec).map_err(json_err)
        })?,
    }
    writeln!(out, "\n]}}")
}

/// NDJSON: one record a line (with its terms under `--terms`), marked
/// `"type":"record"`, then one line of totals marked `"type":"totals"`; under
/// `--summary`, the totals line alone.
pub fn write_lines(
    report: &Report,
    terms: Option<&dyn Terms>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    if !opts.summary_only {
        match terms {
            None => {
                for r in &report.records {
                    line("record", r, out)?;
                }
            }
            Some(src) => src.for_each(report, &mut |k, t| {
                let rec = WithTerms {
                    record: &report.records[k],
                    terms: t,
                };
                line("record", &rec, out)
            })?,
        }
    }
    line("totals", &report.summary, out)
}
