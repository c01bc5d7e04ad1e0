//! Which rows are anchors, which are their positives, and which are their
//! candidates.
//!
//! Every layout reduces to a list of records `(anchor, positive, direction)`.
//! Forward records take their anchor from the first file (the embeddings or
//! the queries) and their candidates from the second side: in the one-file
//! layouts that is the same file less the anchor itself, in the keys layout
//! every key. Backward records (the key-to-query half of `--keys
//! --symmetric`) take their anchor from the keys and their candidates from the
//! queries. Positives are always among the candidates.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::input::index::Pairs;

/// The arrangement of anchors and positives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutKind {
    /// 2N rows; rows i and i+N are two views of item i (SimCLR's NT-Xent).
    TwoView,
    /// Explicit (anchor, positive) rows from a pairs file.
    Pairs,
    /// Queries in one file, keys in another, row i of each a pair.
    Keys,
}

impl LayoutKind {
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::TwoView => "two-view",
            LayoutKind::Pairs => "pairs",
            LayoutKind::Keys => "keys",
        }
    }
}

/// Which way a record of the keys layout points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    QueryToKey,
    KeyToQuery,
}

/// One anchor with one positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Row of the anchor in its own file.
    pub anchor: usize,
    /// Row of the positive in the candidates' file.
    pub positive: usize,
    /// True for key-to-query records (anchor is a key, candidates are queries).
    pub backward: bool,
}

/// The records of a job and what their candidates are.
#[derive(Debug, Clone)]
pub struct Layout {
    pub kind: LayoutKind,
    pub symmetric: bool,
    pub records: Vec<Record>,
    /// Rows of the first file (embeddings or queries).
    pub n_first: usize,
    /// Rows of the second file (keys); equal to `n_first` in one-file layouts.
    pub n_second: usize,
}

impl Layout {
    /// True when candidates come from the anchor's own file (less the anchor).
    pub fn one_file(&self) -> bool {
        self.kind != LayoutKind::Keys
    }

    /// The number of candidates every record of this direction has.
    pub fn n_candidates(&self, backward: bool) -> usize {
        match (self.one_file(), backward) {
            (true, _) => self.n_first - 1,
            (false, false) => self.n_second,
            (false, true) => self.n_first,
        }
    }

    /// The direction label of a record, where the layout has directions.
    pub fn direction(&self, r: &Record) -> Option<Direction> {
        match (self.kind, r.backward) {
            (LayoutKind::Keys, false) => Some(Direction::QueryToKey),
            (LayoutKind::Keys, true) => Some(Direction::KeyToQuery),
            _ => None,
        }
    }

    /// SimCLR's layout: rows i and i + N of a 2N-row file are positives.
    pub fn two_view(file: &str, rows: usize) -> Result<Layout> {
        if !rows.is_multiple_of(2) || rows < 2 {
            return Err(Error::data(
                file,
                format!(
                    "has {rows} rows, but the two-view layout needs an even number \
                     (rows i and i+N are the two views of item i); use --pairs or --keys for other layouts"
                ),
            ));
        }
        let n = rows / 2;
        let records = (0..rows)
            .map(|i| Record {
                anchor: i,
                positive: if i < n { i + n } else { i - n },
                backward: false,
            })
            .collect();
        Ok(Layout {
            kind: LayoutKind::TwoView,
            symmetric: false,
            records,
            n_first: rows,
            n_second: rows,
        })
    }

    /// Explicit pairs over the rows of one file; `symmetric` adds j -> i.
    pub fn pairs(emb_file: &str, rows: usize, pairs: &Pairs, symmetric: bool) -> Result<Layout> {
        if pairs.pairs.is_empty() {
            return Err(Error::data(&pairs.name, "holds no pairs"));
        }
        let mut forward = Vec::with_capacity(pairs.pairs.len());
        for (k, p) in pairs.pairs.iter().enumerate() {
            let check = |v: i64, which: &str| -> Result<usize> {
                if v < 0 {
                    return Err(Error::data(
                        &pairs.name,
                        format!("{}, {which} index {v} is negative", pairs.place(k)),
                    ));
                }
                if v as u64 >= rows as u64 {
                    return Err(Error::data(
                        &pairs.name,
                        format!(
                            "{}, {which} index {v} is out of range ({emb_file} has {rows} rows, 0-based)",
                            pairs.place(k)
                        ),
                    ));
                }
                Ok(v as usize)
            };
            let a = check(p.a, "anchor")?;
            let b = check(p.b, "positive")?;
            if a == b {
                return Err(Error::data(
                    &pairs.name,
                    format!(
                        "{}, pairs row {a} with itself (a row is never its own candidate)",
                        pairs.place(k)
                    ),
                ));
            }
            forward.push(Record {
                anchor: a,
                positive: b,
                backward: false,
            });
        }
        let mut records = forward.clone();
        if symmetric {
            records.extend(forward.iter().map(|r| Record {
                anchor: r.positive,
                positive: r.anchor,
                backward: false,
            }));
        }
        Ok(Layout {
            kind: LayoutKind::Pairs,
            symmetric,
            records,
            n_first: rows,
            n_second: rows,
        })
    }

    /// Queries and keys, row i of each a pair; `symmetric` adds key -> query.
    pub fn keys(
        query_file: &str,
        queries: usize,
        key_file: &str,
        keys: usize,
        symmetric: bool,
    ) -> Result<Layout> {
        if queries != keys {
            return Err(Error::data(
                key_file,
                format!(
                    "has {keys} rows but {query_file} has {queries}; row i of each file must be a pair"
                ),
            ));
        }
        let mut records: Vec<Record> = (0..queries)
            .map(|i| Record {
                anchor: i,
                positive: i,
                backward: false,
            })
            .collect();
        if symmetric {
            records.extend((0..keys).map(|i| Record {
                anchor: i,
                positive: i,
                backward: true,
            }));
        }
        Ok(Layout {
            kind: LayoutKind::Keys,
            symmetric,
            records,
            n_first: queries,
            n_second: keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::index::parse_pairs;

    #[test]
    fn two_view_pairs_i_with_i_plus_n() {
        let l = Layout::two_view("e.npy", 4).unwrap();
        let pos: Vec<usize> = l.records.iter().map(|r| r.positive).collect();
        assert_eq!(pos, vec![2, 3, 0, 1]);
        assert_eq!(l.n_candidates(false), 3);
        let e = Layout::two_view("e.npy", 5).unwrap_err();
        assert!(e.to_string().starts_with("e.npy: has 5 rows"), "{e}");
    }

    #[test]
    fn pairs_are_checked_against_the_rows() {
        let cases = [
            (
                "0,1\n1,5\n",
                "p.csv: line 2, positive index 5 is out of range (e.npy has 4 rows, 0-based)",
            ),
            ("0,1\n-1,2\n", "p.csv: line 2, anchor index -1 is negative"),
            (
                "0,1\n2,2\n",
                "p.csv: line 2, pairs row 2 with itself (a row is never its own candidate)",
            ),
        ];
        for (text, want) in cases {
            let p = parse_pairs("p.csv", "p.csv", text.as_bytes()).unwrap();
            let e = Layout::pairs("e.npy", 4, &p, false).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let p = parse_pairs("p.csv", "p.csv", b"0,1\n2,3\n").unwrap();
        let l = Layout::pairs("e.npy", 4, &p, true).unwrap();
        assert_eq!(l.records.len(), 4);
        assert_eq!((l.records[2].anchor, l.records[2].positive), (1, 0));
    }

    #[test]
    fn keys_need_equal_rows() {
        assert!(Layout::keys("q.npy", 3, "k.npy", 4, false).is_err());
        let l = Layout::keys("q.npy", 3, "k.npy", 3, true).unwrap();
        assert_eq!(l.records.len(), 6);
        assert_eq!(l.direction(&l.records[4]), Some(Direction::KeyToQuery));
        assert_eq!(l.n_candidates(true), 3);
    }
}
