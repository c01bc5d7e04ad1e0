//! CSV and TSV: one row per record with the JSON field names as the header;
//! under `--terms`, one row per term ([`TermRow`]); under `--summary`, one row
//! of totals. TSV is the same writer with a tab for the delimiter.
//!
//! The columns are the serde fields of the structs in `report.rs`, in their
//! order, turned into cells by [`Flat`]: numbers as [`super::float`] writes
//! them, an overflowed linear-space value (`None`) as an empty cell, a field
//! serde skips as no column, a field marked [`report::not_in_csv`] as none
//! either. A list of structs, such as the keys layout's totals per direction,
//! becomes columns named after the first field of each item:
//! `loss_query_to_key`, `n_anchors_query_to_key`, ...; a list of scalars is
//! one cell, its items separated by spaces. The items of a sweep are named
//! after their temperatures as [`tau_names`] writes them (`loss_0.2`, not
//! `loss_0.19999999999999998`).
//!
//! The totals' `precision_note` and `dropped_columns`, which JSON leaves out
//! when there are none, are always columns here ([`ALWAYS_COLUMNS`]), empty
//! then: the header of `--summary` does not depend on the data.
//!
//! (The `csv` crate's `Writer::serialize` would take the same structs, but
//! writes numbers its own way, `9.0` and `0.0001` where this writes `9` and
//! `1e-4`, and has no form for the per-direction columns; what is left, the
//! quoting of a cell, is [`push_cell`].)

use std::fmt::{self, Display, Write as _};
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{Options, Terms, write_float};
use crate::report::{self, Report, TermRow};

pub fn write(
    report: &Report,
    terms: Option<&dyn Terms>,
    opts: Options,
    delimiter: u8,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut rows = Rows::new(out, delimiter);
    if opts.summary_only {
        if let Some(sweep) = &report.summary.sweep {
            let taus: Vec<f64> = sweep.iter().map(|e| e.tau).collect();
            rows.row.suffixes = taus
                .iter()
                .map(|&t| super::float(t))
                .zip(tau_names(&taus))
                .collect();
        }
        return rows.write_with(&report.summary, &summary_columns(&report.summary));
    }
    match terms {
        None => report.records.iter().try_for_each(|r| rows.write(r)),
        Some(src) => src.for_each(report, &mut |k, ts| {
            let r = &report.records[k];
            ts.iter().try_for_each(|t| rows.write(&TermRow::new(r, t)))
        }),
    }
}

/// The columns of the totals that are not serde fields: the metrics, the
/// whole batch's and then each direction's ([`report::metric_columns`]).
fn summary_columns(s: &report::Summary) -> Vec<(String, Option<f64>)> {
    let mut cols = report::metric_columns(&s.metrics, None);
    for d in s.directions.iter().flatten() {
        let suffix = match d.direction {
            crate::layout::Direction::QueryToKey => "query_to_key",
            crate::layout::Direction::KeyToQuery => "key_to_query",
        };
        cols.extend(report::metric_columns(&d.metrics, Some(suffix)));
    }
    cols
}

/// The totals that are a column even where JSON leaves them out (empty
/// then), so that the header of `--summary` is the same for every input of
/// one command line.
const ALWAYS_COLUMNS: [&str; 2] = ["precision_note", "dropped_columns"];

/// The temperatures of a sweep as the suffixes of its CSV columns: each tau
/// rounded to 15 significant digits when that leaves at most 6 (a tau given
/// literally, such as 0.1, or a log-spaced one that float arithmetic put a
/// hair off a round number: 0.19999999999999998 is 0.2); any other to 4
/// significant digits, or as many more as it takes for every name to be
/// distinct. Should two still coincide, each is the shortest text that
/// reads back to its float.
pub fn tau_names(taus: &[f64]) -> Vec<String> {
    for sig in 4..=17 {
        let names: Vec<String> = taus
            .iter()
            .map(|&t| {
                let clean = to_sig(t, 15);
                if significant_digits(&clean) <= 6 {
                    clean
                } else {
                    to_sig(t, sig)
                }
            })
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() == names.len() {
            return names;
        }
    }
    taus.iter().map(|&t| super::float(t)).collect()
}

/// `x` rounded to `sig` significant digits, written as [`super::float`]
/// writes a number (so without trailing zeros).
fn to_sig(x: f64, sig: usize) -> String {
    let rounded = format!("{x:.*e}", sig.saturating_sub(1));
    super::float(rounded.parse().unwrap_or(x))
}

/// How many significant digits a number as written holds.
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').len().max(1)
}

/// The rows of one output, the header first.
struct Rows<'w> {
    out: &'w mut dyn Write,
    header_written: bool,
    row: Row,
}

impl<'w> Rows<'w> {
    fn new(out: &'w mut dyn Write, delimiter: u8) -> Rows<'w> {
        let row = Row {
            delimiter: char::from(delimiter),
            ..Row::default()
        };
        Rows {
            out,
            header_written: false,
            row,
        }
    }

    /// Writes `value` as one row, after the header its columns make if it
    /// is the first.
    fn write<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.write_with(value, &[])
    }

    /// Writes `value` as one row, then the named figures `more` as columns
    /// after its own.
    fn write_with<T: Serialize>(
        &mut self,
        value: &T,
        more: &[(String, Option<f64>)],
    ) -> io::Result<()> {
        let row = &mut self.row;
        row.line.clear();
        row.cells = 0;
        row.names = (!self.header_written).then(String::new);
        value.serialize(Flat::Row(row)).map_err(io::Error::other)?;
        for (name, x) in more {
            row.scratch.clear();
            if let Some(x) = x {
                write_float(&mut row.scratch, *x);
            }
            row.push(name, None);
        }
        if let Some(mut names) = row.names.take() {
            names.push('\n');
            self.out.write_all(names.as_bytes())?;
            self.header_written = true;
        }
        row.line.push('\n');
        self.out.write_all(row.line.as_bytes())
    }
}

/// One row in the making.
#[derive(Default)]
struct Row {
    delimiter: char,
    /// The cells so far, delimited.
    line: String,
    cells: usize,
    /// The header line, made while `Some`.
    names: Option<String>,
    /// The cell being made.
    scratch: String,
    /// Names for the suffixes of list items: a sweep's taus as written,
    /// and as named in the columns.
    suffixes: Vec<(String, String)>,
}

impl Row {
    /// Adds the cell `scratch` holds, in the column `name` (`name_suffix`).
    fn push(&mut self, name: &str, suffix: Option<&str>) {
        if self.cells > 0 {
            self.line.push(self.delimiter);
        }
        push_cell(&mut self.line, &self.scratch, self.delimiter);
        if let Some(names) = &mut self.names {
            if self.cells > 0 {
                names.push(self.delimiter);
            }
            let name = match suffix {
                Some(s) => format!("{name}_{s}"),
                None => name.to_string(),
            };
            push_cell(names, &name, self.delimiter);
        }
        self.cells += 1;
    }
}

/// Appends `cell` to `line` as CSV writes a field: in double quotes, with
/// its quotes doubled, when it holds the delimiter, a quote or a line break;
/// as it is otherwise.
fn push_cell(line: &mut String, cell: &str, delimiter: char) {
    if cell.contains([delimiter, '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

/// A value of a type that has no place in a row: a bug, never bad input.
#[derive(Debug)]
struct Unflat(String);

impl Display for Unflat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no CSV form: {}", self.0)
    }
}

impl std::error::Error for Unflat {}

impl ser::Error for Unflat {
    fn custom<T: Display>(msg: T) -> Self {
        Unflat(msg.to_string())
    }
}

fn unflat<T>(what: &str) -> Result<T, Unflat> {
    Err(Unflat(what.to_string()))
}

/// A serde serializer that turns a struct into the cells of one row; what
/// each value becomes depends on where it is.
enum Flat<'a> {
    /// The whole row: a struct, each field a column.
    Row(&'a mut Row),
    /// The value of the column `name`, with the suffix of a list item.
    Column(&'a mut Row, &'static str, Option<&'a str>),
    /// An item of a list: a scalar joins the list's one cell, a struct
    /// makes columns named after its first field.
    Item(&'a mut Row, &'a mut Joined),
    /// A scalar as text: the first field of a struct in a list.
    Text(&'a mut String),
}

impl Flat<'_> {
    fn scalar(self, text: impl FnOnce(&mut String)) -> Result<(), Unflat> {
        match self {
            Flat::Row(_) => unflat("a row must be a struct"),
            Flat::Column(row, name, suffix) => {
                row.scratch.clear();
                text(&mut row.scratch);
                row.push(name, suffix);
                Ok(())
            }
            Flat::Item(_, joined) => {
                if joined.any {
                    joined.cell.push(' ');
                }
                text(&mut joined.cell);
                joined.any = true;
                Ok(())
            }
            Flat::Text(s) => {
                text(s);
                Ok(())
            }
        }
    }

    fn display(self, v: impl Display) -> Result<(), Unflat> {
        self.scalar(|s| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{v}");
        })
    }
}

/// The fields of a struct being made into cells.
enum Fields<'a> {
    /// The row's own fields: each a column.
    Row(&'a mut Row),
    /// A list item's: the first names the columns of the others.
    Item(&'a mut Row, Option<String>),
}

/// A list being made into cells.
struct Items<'a> {
    row: &'a mut Row,
    name: &'static str,
    scalars: Joined,
}

/// The scalars of a list, as one cell.
#[derive(Default)]
struct Joined {
    /// Space-separated.
    cell: String,
    /// Whether there was one.
    any: bool,
}

impl<'a> ser::Serializer for Flat<'a> {
    type Ok = ();
    type Error = Unflat;
    type SerializeSeq = Items<'a>;
    type SerializeTuple = Impossible<(), Unflat>;
    type SerializeTupleStruct = Impossible<(), Unflat>;
    type SerializeTupleVariant = Impossible<(), Unflat>;
    type SerializeMap = Impossible<(), Unflat>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Impossible<(), Unflat>;

    fn serialize_bool(self, v: bool) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Unflat> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unflat> {
        self.scalar(|s| write_float(s, v))
    }
    fn serialize_char(self, v: char) -> Result<(), Unflat> {
        self.display(v)
    }
    fn serialize_str(self, v: &str) -> Result<(), Unflat> {
        self.scalar(|s| s.push_str(v))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unflat> {
        unflat("bytes")
    }
    /// An empty cell.
    fn serialize_none(self) -> Result<(), Unflat> {
        self.scalar(|_| ())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Unflat> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unflat> {
        self.scalar(|_| ())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unflat> {
        self.scalar(|_| ())
    }
    /// The variant's serde name (`query_to_key`, `two-view`).
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unflat> {
        self.serialize_str(variant)
    }
    /// A field marked [`report::not_in_csv`] has no column; any other
    /// newtype is its value.
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<(), Unflat> {
        match self {
            Flat::Column(..) if name == report::NOT_IN_CSV => Ok(()),
            _ => v.serialize(self),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unflat> {
        unflat("an enum variant with a value")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Items<'a>, Unflat> {
        match self {
            Flat::Column(row, name, None) => Ok(Items {
                row,
                name,
                scalars: Joined::default(),
            }),
            _ => unflat("a list that is not a field of the row"),
        }
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unflat> {
        unflat("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unflat> {
        unflat("a tuple struct")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unflat> {
        unflat("a tuple variant")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unflat> {
        unflat("a map")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>, Unflat> {
        match self {
            Flat::Row(row) => Ok(Fields::Row(row)),
            Flat::Item(row, _) => Ok(Fields::Item(row, None)),
            _ => unflat("a struct inside a field"),
        }
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unflat> {
        unflat("a struct variant")
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Unflat;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), Unflat> {
        match self {
            Fields::Row(row) if name == "dropped_columns" => {
                row.scratch = dropped_cell(v)?;
                row.push(name, None);
                Ok(())
            }
            Fields::Row(row) => v.serialize(Flat::Column(row, name, None)),
            Fields::Item(row, Some(key)) => v.serialize(Flat::Column(row, name, Some(key))),
            Fields::Item(row, key @ None) => {
                let mut text = String::new();
                v.serialize(Flat::Text(&mut text))?;
                *key = Some(match row.suffixes.iter().find(|(raw, _)| *raw == text) {
                    Some((_, name)) => name.clone(),
                    None => text,
                });
                Ok(())
            }
        }
    }

    fn skip_field(&mut self, name: &'static str) -> Result<(), Unflat> {
        if let Fields::Row(row) = self
            && ALWAYS_COLUMNS.contains(&name)
        {
            row.scratch.clear();
            row.push(name, None);
        }
        Ok(())
    }

    fn end(self) -> Result<(), Unflat> {
        Ok(())
    }
}

/// The `dropped_columns` of the totals as one cell: each column left out as
/// `FILE:COLUMN` (1-based), separated by spaces; the JSON value read back,
/// since the field is none of CSV's (it goes through [`report::not_in_csv`]).
fn dropped_cell<T: Serialize + ?Sized>(v: &T) -> Result<String, Unflat> {
    let value = serde_json::to_value(v).map_err(|e| Unflat(e.to_string()))?;
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(items
        .iter()
        .map(|d| match (d["file"].as_str(), d["column"].as_u64()) {
            (Some(file), Some(column)) => Ok(format!("{file}:{column}")),
            _ => unflat("a dropped column without its file and number"),
        })
        .collect::<Result<Vec<_>, _>>()?
        .join(" "))
}

impl ser::SerializeSeq for Items<'_> {
    type Ok = ();
    type Error = Unflat;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unflat> {
        v.serialize(Flat::Item(self.row, &mut self.scalars))
    }

    fn end(self) -> Result<(), Unflat> {
        if self.scalars.any {
            self.row.scratch = self.scalars.cell;
            self.row.push(self.name, None);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of<T: Serialize>(rows: &[T]) -> io::Result<String> {
        let mut out = Vec::new();
        let mut w = Rows::new(&mut out, b',');
        rows.iter().try_for_each(|r| w.write(r))?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[derive(Serialize)]
    struct Part {
        name: &'static str,
        x: f64,
        n: u32,
    }

    #[derive(Serialize)]
    struct Whole {
        a: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        none: Option<f64>,
        list: Vec<usize>,
        parts: Vec<Part>,
        text: &'static str,
    }

    #[test]
    fn fields_lists_and_keyed_items_become_columns() {
        let whole = Whole {
            a: 1e-4,
            skipped: None,
            none: None,
            list: vec![3, 1, 2],
            parts: vec![
                Part {
                    name: "p",
                    x: 9.0,
                    n: 1,
                },
                Part {
                    name: "q",
                    x: 0.5,
                    n: 2,
                },
            ],
            text: "a, \"b\"",
        };
        assert_eq!(
            csv_of(&[whole]).unwrap(),
            "a,none,list,x_p,n_p,x_q,n_q,text\n1e-4,,3 1 2,9,1,0.5,2,\"a, \"\"b\"\"\"\n"
        );
    }

    #[test]
    fn cells_are_quoted_when_they_hold_the_delimiter_a_quote_or_a_line_break() {
        let mut line = String::new();
        for cell in ["plain", "a,b", "tab\there", "say \"hi\"", "two\nlines"] {
            push_cell(&mut line, cell, '\t');
            line.push('|');
        }
        assert_eq!(
            line,
            "plain|a,b|\"tab\there\"|\"say \"\"hi\"\"\"|\"two\nlines\"|"
        );
    }

    #[test]
    fn a_field_marked_not_in_csv_has_no_column_and_is_in_json() {
        #[derive(Serialize)]
        struct Marked {
            a: u8,
            #[serde(serialize_with = "report::not_in_csv")]
            parts: Vec<Part>,
            b: u8,
        }
        let marked = Marked {
            a: 1,
            parts: vec![Part {
                name: "p",
                x: 1.0,
                n: 1,
            }],
            b: 2,
        };
        assert_eq!(csv_of(&[&marked]).unwrap(), "a,b\n1,2\n");
        assert_eq!(
            serde_json::to_string(&marked).unwrap(),
            r#"{"a":1,"parts":[{"name":"p","x":1.0,"n":1}],"b":2}"#
        );
    }

    #[test]
    fn taus_are_named_as_written_and_told_apart() {
        let names = |taus: &[f64]| tau_names(taus);
        // Log-spaced, a hair off round numbers.
        assert_eq!(
            names(&[0.05, 0.1, 0.19999999999999998, 0.3999999999999999, 0.8]),
            ["0.05", "0.1", "0.2", "0.4", "0.8"]
        );
        // Given literally: as given.
        assert_eq!(names(&[0.1, 0.12345, 2.0]), ["0.1", "0.12345", "2"]);
        assert_eq!(names(&[1e-5, 3e-5]), ["1e-5", "3e-5"]);
        // Between round numbers: 4 significant digits, more where two would
        // coincide.
        let third = (0.01f64 * 10.0).sqrt();
        assert_eq!(names(&[0.01, third, 10.0]), ["0.01", "0.3162", "10"]);
        let mid = (0.5f64 * 0.5001).sqrt();
        assert_eq!(names(&[0.5, mid, 0.5001]), ["0.5", "0.50005", "0.5001"]);
        // Two floats an ulp apart keep every digit.
        let next = f64::from_bits(0.1f64.to_bits() + 1);
        assert_eq!(names(&[0.1, next]), ["0.1", "0.10000000000000002"]);
    }

    #[test]
    fn the_header_comes_once() {
        let parts = [
            Part {
                name: "p",
                x: 1.0,
                n: 1,
            },
            Part {
                name: "q",
                x: 2.0,
                n: 2,
            },
        ];
        assert_eq!(csv_of(&parts).unwrap(), "name,x,n\np,1,1\nq,2,2\n");
    }

    #[test]
    fn a_value_with_no_cell_form_is_an_error_not_a_panic() {
        #[derive(Serialize)]
        struct Nested {
            inner: Part,
        }
        let nested = Nested {
            inner: Part {
                name: "p",
                x: 1.0,
                n: 1,
            },
        };
        let err = csv_of(&[nested]).unwrap_err();
        assert!(err.to_string().contains("no CSV form"), "{err}");
        assert!(csv_of(&[1.0f64]).is_err());
    }
}
