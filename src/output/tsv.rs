//! TSV: the CSV writer's output with tabs between the fields, for
//! spreadsheets and `cut`, `awk -F'\t'` and `pandas.read_csv(sep="\t")`.
//!
//! Every CSV field the writer emits is a number, a name or a bool, so no
//! field holds a comma or a tab; a quoted field, should one appear, is
//! passed through whole.

use std::io::{self, Write};

use super::{Options, TermSource, csv};
use crate::report::Report;

pub fn write(
    report: &Report,
    terms: Option<&TermSource<'_>>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut tabs = Tabs {
        out,
        quoted: false,
        buf: Vec::new(),
    };
    csv::write(report, terms, opts, &mut tabs)
}

/// Turns the commas between CSV fields into tabs on the way through.
struct Tabs<'a> {
    out: &'a mut dyn Write,
    /// Inside a quoted field (CSV's `""` escape toggles twice).
    quoted: bool,
    buf: Vec<u8>,
}

impl Write for Tabs<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.clear();
        self.buf.extend(bytes.iter().map(|&b| {
            if b == b'"' {
                self.quoted = !self.quoted;
            }
            if b == b',' && !self.quoted { b'\t' } else { b }
        }));
        self.out.write_all(&self.buf)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_between_fields_become_tabs_and_quoted_ones_stay() {
        let mut out = Vec::new();
        let mut t = Tabs {
            out: &mut out,
            quoted: false,
            buf: Vec::new(),
        };
        t.write_all(b"anchor,positive,sim\n0,2,0.9\n").unwrap();
        t.write_all(b"1,\"a,\"\"b\"\"\",3\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "anchor\tpositive\tsim\n0\t2\t0.9\n1\t\"a,\"\"b\"\"\"\t3\n"
        );
    }
}
