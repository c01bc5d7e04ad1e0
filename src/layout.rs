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
use crate::input::labels::Labels;

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
    /// One label per row: the positives of a row are the other rows with
    /// its label (several per anchor; SupCon).
    Labels,
}

impl LayoutKind {
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::TwoView => "two-view",
            LayoutKind::Pairs => "pairs",
            LayoutKind::Keys => "keys",
            LayoutKind::Labels => "labels",
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

/// How the losses of an anchor's several positives are reduced
/// (`--multi-positive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MultiPositive {
    /// SupCon's L_out: per anchor, the mean over its positives p of
    /// log_denominator - s(a,p)/tau, one denominator over every candidate;
    /// the batch loss is the mean over anchors.
    Supcon,
    /// Each positive scored on its own, the other positives left out of its
    /// denominator; the batch loss is the mean over all positive pairs.
    Pairwise,
}

/// The most positive pairs (anchor, positive) a labels layout may hold: the
/// pass keeps about 200 bytes per pair (its record, its figures and its
/// place in the output), so this bounds it near 1.7 GB.
pub const MAX_LABEL_PAIRS: usize = 1 << 23;

/// What the labels layout adds to its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelInfo {
    /// The reduction of each anchor's positives.
    pub reduction: MultiPositive,
    /// Rows whose label no other row has: anchors without a positive, left
    /// out of every mean.
    pub skipped: Vec<usize>,
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
    /// In the labels layout, the reduction and the skipped anchors. Its
    /// records are grouped by anchor, in row order, each anchor's positives
    /// in row order.
    pub labels: Option<LabelInfo>,
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
            labels: None,
        })
    }

    /// One label per row of `emb_file`: the positives of each row are the
    /// other rows with its label, its candidates every other row.
    pub fn labels(
        emb_file: &str,
        rows: usize,
        labels: &Labels,
        reduction: MultiPositive,
    ) -> Result<Layout> {
        let n = labels.classes.len();
        if n != rows {
            // One line too many in a text file: most likely a header, as
            // pandas' to_csv writes one.
            let hint = if labels.text && n == rows + 1 {
                " (is line 1 a header? a labels text file has none: remove it, or name \
                 the column of a CSV file as FILE:NAME)"
            } else {
                ""
            };
            return Err(Error::data(
                &labels.name,
                format!(
                    "holds {n} labels but {emb_file} has {rows} rows; give one label per row{hint}"
                ),
            ));
        }
        let classes = labels.classes.iter().max().map_or(0, |&m| m + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for (row, &c) in labels.classes.iter().enumerate() {
            members[c].push(row);
        }
        let pairs: u128 = members
            .iter()
            .map(|m| (m.len() as u128) * (m.len().saturating_sub(1) as u128))
            .sum();
        if pairs > MAX_LABEL_PAIRS as u128 {
            return Err(Error::data(
                &labels.name,
                format!(
                    "makes {pairs} positive pairs (each row with every other row of its label), \
                     more than the {MAX_LABEL_PAIRS} one pass holds; use fewer rows or finer labels"
                ),
            ));
        }
        if pairs == 0 {
            return Err(Error::data(
                &labels.name,
                format!(
                    "gives every one of its {n} labels to a single row: no anchor has a positive \
                     (rows with equal labels are positives of each other)"
                ),
            ));
        }
        if classes == 1 {
            return Err(Error::data(
                &labels.name,
                format!(
                    "gives all {n} rows one label: no anchor has a negative (every other row \
                     is a positive), so the loss is not defined"
                ),
            ));
        }
        let mut records = Vec::with_capacity(pairs as usize);
        let mut skipped = Vec::new();
        for (a, &c) in labels.classes.iter().enumerate() {
            let same = &members[c];
            if same.len() == 1 {
                skipped.push(a);
            }
            records.extend(same.iter().filter(|&&p| p != a).map(|&p| Record {
                anchor: a,
                positive: p,
                backward: false,
            }));
        }
        Ok(Layout {
            kind: LayoutKind::Labels,
            symmetric: false,
            records,
            n_first: rows,
            n_second: rows,
            labels: Some(LabelInfo { reduction, skipped }),
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
            labels: None,
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
            labels: None,
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
    fn labels_make_every_same_label_pair_and_skip_lone_rows() {
        use crate::input::labels::text_labels;
        let l = text_labels("l.txt", "a\nb\na\nc\na\n").unwrap();
        let lay = Layout::labels("e.npy", 5, &l, MultiPositive::Supcon).unwrap();
        let pairs: Vec<(usize, usize)> =
            lay.records.iter().map(|r| (r.anchor, r.positive)).collect();
        assert_eq!(pairs, vec![(0, 2), (0, 4), (2, 0), (2, 4), (4, 0), (4, 2)]);
        assert_eq!(lay.labels.unwrap().skipped, vec![1, 3]);
        assert_eq!(
            Layout::labels("e.npy", 6, &l, MultiPositive::Supcon)
                .unwrap_err()
                .to_string(),
            "l.txt: holds 5 labels but e.npy has 6 rows; give one label per row"
        );
        let lone = text_labels("l.txt", "1\n2\n3\n").unwrap();
        let e = Layout::labels("e.npy", 3, &lone, MultiPositive::Supcon).unwrap_err();
        assert!(e.to_string().contains("no anchor has a positive"), "{e}");
        let one = text_labels("l.txt", "1\n01\n1\n").unwrap();
        let e = Layout::labels("e.npy", 3, &one, MultiPositive::Pairwise).unwrap_err();
        assert!(e.to_string().contains("no anchor has a negative"), "{e}");
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
