//! The writers on hand-built reports, without the core or the binary.
//!
//! Each case is built from a few similarities by the plain formulas (the
//! log-sum-exp of the candidates' logits, the rank by counting), so the
//! figures hang together. The snapshots (`snapshots/`, reviewed by eye; after
//! an intended change, `INSTA_UPDATE=always cargo test --lib` rewrites them
//! and `git diff` shows what moved) pin every format's bytes; the other tests
//! read the machine formats back and compare each value with the report
//! through serde_json, a path that does not share the CSV writer's code.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::*;
use crate::input::csv::DroppedColumn;
use crate::layout::{Direction, LayoutKind};
use crate::loss::Similarity;
use crate::report::{AnchorRecord, DirectionSummary, Metrics, Summary, TermRow, TopK};

/// Hand-built terms, by record.
struct HandTerms(Vec<Vec<Term>>);

impl Terms for HandTerms {
    fn for_each_of(&self, _: &Report, which: &[usize], each: &mut EachTerms) -> io::Result<()> {
        which.iter().try_for_each(|&k| each(k, &self.0[k]))
    }
}

/// One record to build: anchor, positive, direction, and its candidates'
/// rows and similarities (the positive among them).
type Spec = (usize, usize, Option<Direction>, Vec<(usize, f64)>);

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// The metrics of some records by their plain formulas, with `ln_c` the log
/// of the candidates' count; the alignment as if each `sim` were a cosine.
fn metrics(rs: &[&AnchorRecord], ln_c: f64) -> Metrics {
    let share = |k: u64| mean(rs.iter().map(|r| if r.rank <= k { 1.0 } else { 0.0 }));
    Metrics {
        top_k: [1, 5, 10]
            .into_iter()
            .map(|k| TopK {
                k,
                accuracy: share(k),
            })
            .collect(),
        mrr: mean(rs.iter().map(|r| 1.0 / r.rank as f64)),
        mean_rank: mean(rs.iter().map(|r| r.rank as f64)),
        cpc_bound_nats: ln_c - mean(rs.iter().map(|r| r.loss)),
        alignment: mean(rs.iter().map(|r| (2.0 - 2.0 * r.sim).clamp(0.0, 4.0))),
        uniformity: None,
    }
}

/// Totals of some records: loss, count, top-1 accuracy, mean rank.
fn totals(rs: &[&AnchorRecord]) -> (f64, usize, f64, f64) {
    let top1 = |r: &&AnchorRecord| if r.rank == 1 { 1.0 } else { 0.0 };
    (
        mean(rs.iter().map(|r| r.loss)),
        rs.len(),
        mean(rs.iter().map(top1)),
        mean(rs.iter().map(|r| r.rank as f64)),
    )
}

fn build(tau: f64, layout: LayoutKind, symmetric: bool, specs: Vec<Spec>) -> (Report, HandTerms) {
    let mut records = Vec::new();
    let mut terms: Vec<Vec<Term>> = Vec::new();
    for (anchor, positive, direction, cands) in specs {
        let logits: Vec<f64> = cands.iter().map(|&(_, s)| s / tau).collect();
        let log_den = log_sum_exp(&logits);
        let sim = cands.iter().find(|c| c.0 == positive).expect("positive").1;
        let logit = sim / tau;
        records.push(AnchorRecord {
            anchor,
            positive,
            direction,
            sim,
            logit,
            numerator: finite(logit.exp()),
            log_numerator: logit,
            denominator: finite(log_den.exp()),
            log_denominator: log_den,
            loss: log_den - logit,
            p_positive: (logit - log_den).exp(),
            rank: 1 + cands.iter().filter(|c| c.1 > sim).count() as u64,
            positives: None,
            positive_terms: None,
            record: records.len(),
        });
        terms.push(
            cands
                .iter()
                .zip(&logits)
                .map(|(&(index, sim), &logit)| Term {
                    index,
                    from: None,
                    sim,
                    logit,
                    exp: finite(logit.exp()),
                    p: (logit - log_den).exp(),
                })
                .collect(),
        );
    }
    let ln_c = (terms[0].len() as f64).ln();
    let all: Vec<&AnchorRecord> = records.iter().collect();
    let (mut loss, n_anchors, top1_accuracy, mean_rank) = totals(&all);
    let directions = (layout == LayoutKind::Keys).then(|| {
        [Direction::QueryToKey, Direction::KeyToQuery]
            .into_iter()
            .filter_map(|d| {
                let of_d: Vec<&AnchorRecord> =
                    records.iter().filter(|r| r.direction == Some(d)).collect();
                let (loss, n_anchors, top1_accuracy, mean_rank) = totals(&of_d);
                (n_anchors > 0).then_some(DirectionSummary {
                    direction: d,
                    loss,
                    n_anchors,
                    top1_accuracy,
                    mean_rank,
                    metrics: metrics(&of_d, ln_c),
                })
            })
            .collect::<Vec<_>>()
    });
    if let Some(ds) = &directions {
        loss = mean(ds.iter().map(|d| d.loss));
    }
    let n_candidates = terms[0].len();
    let summary = Summary {
        loss,
        tau,
        similarity: if layout == LayoutKind::Keys {
            Similarity::Dot
        } else {
            Similarity::Cosine
        },
        layout,
        symmetric,
        precision: "f64",
        precision_note: None,
        input_dtype: "float64 (text)".into(),
        n_anchors,
        n_candidates,
        negatives: None,
        n_negatives: None,
        in_batch: None,
        decoupled: false,
        dimension: 4,
        dropped_columns: Vec::new(),
        top1_accuracy,
        mean_rank,
        metrics: metrics(&all, ln_c),
        multi_positive: None,
        n_positive_pairs: None,
        loss_mean_over_anchors: None,
        n_skipped: None,
        skipped_anchors: None,
        directions,
        selected_anchors: None,
        best_tau: None,
        best_loss: None,
        sweep: None,
    };
    (Report { summary, records }, HandTerms(terms))
}

/// Four rows, rows i and i+2 the two views of item i, with the tutorial's
/// similarities.
fn two_view() -> (Report, HandTerms) {
    let s = [
        [1.0, 0.2, 0.9, 0.1],
        [0.2, 1.0, 0.3, 0.8],
        [0.9, 0.3, 1.0, 0.25],
        [0.1, 0.8, 0.25, 1.0],
    ];
    let specs = (0..4)
        .map(|a| {
            let cands = (0..4).filter(|&k| k != a).map(|k| (k, s[a][k])).collect();
            (a, (a + 2) % 4, None, cands)
        })
        .collect();
    let (mut report, terms) = build(0.1, LayoutKind::TwoView, false, specs);
    // As if read from pandas' `to_csv` with its index.
    report.summary.dropped_columns = vec![DroppedColumn {
        file: "views.csv".into(),
        column: 1,
        reason: "index",
    }];
    (report, terms)
}

/// Two queries and two keys scored both ways with dot products so large at
/// tau = 0.01 that some exp terms overflow float64; query 1 ranks its
/// positive second.
fn keys_symmetric() -> (Report, HandTerms) {
    let s = [[8.0, 1.0], [7.6, 7.5]];
    let (forward, backward) = (Some(Direction::QueryToKey), Some(Direction::KeyToQuery));
    let specs = [forward, backward]
        .into_iter()
        .flat_map(|d| (0..2).map(move |a| (a, d)))
        .map(|(a, d)| {
            // Query a against every key, or key a against every query.
            let sim = |c: usize| if d == forward { s[a][c] } else { s[c][a] };
            (a, a, d, (0..2).map(|c| (c, sim(c))).collect())
        })
        .collect();
    build(0.01, LayoutKind::Keys, true, specs)
}

/// 40 records of a pairs layout with 5 candidates each, more records than
/// a table lists.
fn many() -> (Report, HandTerms) {
    let specs = (0..40)
        .map(|a| {
            // The positive a + 1 pulled down by a little more for each
            // anchor, so no two losses tie.
            let s = |k: usize| {
                let pull = if k == a + 1 { 0.01 * a as f64 } else { 0.0 };
                ((a * 7 + k * 13) % 17) as f64 / 17.0 - pull
            };
            let cands = (a + 1..a + 6).map(|k| (k, s(k))).collect();
            (a, a + 1, None, cands)
        })
        .collect();
    build(0.5, LayoutKind::Pairs, false, specs)
}

/// Keeps the records of `anchors`, as `--anchor` does.
fn select(report: &Report, terms: &HandTerms, anchors: &[usize]) -> (Report, HandTerms) {
    let keep: Vec<usize> = (0..report.records.len())
        .filter(|&k| anchors.contains(&report.records[k].anchor))
        .collect();
    let mut summary = report.summary.clone();
    summary.selected_anchors = Some(anchors.to_vec());
    let records = keep.iter().map(|&k| report.records[k].clone()).collect();
    let terms = keep.iter().map(|&k| terms.0[k].clone()).collect();
    (Report { summary, records }, HandTerms(terms))
}

/// Every format, in the order of `--help`: a new one is in every snapshot.
fn formats() -> &'static [Format] {
    <Format as clap::ValueEnum>::value_variants()
}

fn opts(summary_only: bool) -> Options {
    Options {
        summary_only,
        all_rows: false,
    }
}

fn written(format: Format, r: &Report, terms: Option<&HandTerms>, o: Options) -> String {
    let mut out = Vec::new();
    let terms = terms.map(|t| t as &dyn Terms);
    write(format, r, terms, o, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

/// Every format's output, one after the other, for one snapshot.
fn every_format(r: &Report, terms: Option<&HandTerms>, o: Options) -> String {
    let mut all = String::new();
    for &f in formats() {
        let name = clap::ValueEnum::to_possible_value(&f).expect("a name");
        all += &format!("=== {}\n{}", name.get_name(), written(f, r, terms, o));
    }
    all
}

#[test]
fn snapshots_two_view() {
    let (r, t) = two_view();
    insta::assert_snapshot!("two_view", every_format(&r, None, opts(false)));
    insta::assert_snapshot!("two_view_terms", every_format(&r, Some(&t), opts(false)));
    insta::assert_snapshot!("two_view_summary", every_format(&r, None, opts(true)));
}

#[test]
fn snapshots_keys_symmetric_with_overflow() {
    let (r, t) = keys_symmetric();
    assert!(r.records.iter().any(|r| r.numerator.is_none()));
    assert!(t.0.iter().flatten().any(|t| t.exp.is_none()));
    insta::assert_snapshot!("keys_symmetric", every_format(&r, None, opts(false)));
    insta::assert_snapshot!(
        "keys_symmetric_terms",
        every_format(&r, Some(&t), opts(false))
    );
    insta::assert_snapshot!("keys_symmetric_summary", every_format(&r, None, opts(true)));
}

#[test]
fn snapshots_selection() {
    let (r, t) = keys_symmetric();
    let (r, t) = select(&r, &t, &[1]);
    insta::assert_snapshot!("keys_selected", every_format(&r, Some(&t), opts(false)));
}

#[test]
fn one_chosen_record_is_named_in_the_singular() {
    let (r, t) = two_view();
    let (r, _) = select(&r, &t, &[0]);
    assert_eq!(r.records.len(), 1);
    let table = written(Format::Table, &r, None, opts(false));
    assert!(
        table.starts_with("The anchors chosen by --anchor (1 record; the totals"),
        "{table}"
    );
}

#[test]
fn snapshots_large_tables() {
    let (r, t) = many();
    let tables: String = [Format::Table, Format::Markdown]
        .into_iter()
        .map(|f| written(f, &r, Some(&t), opts(false)))
        .collect();
    insta::assert_snapshot!("many_tables", tables);
}

/// The keys of a JSON object, in the order written.
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

fn keys_of<T: serde::Serialize>(v: &T) -> Vec<String> {
    let json = serde_json::to_string(v).unwrap();
    serde_json::from_str::<Keys>(&json).unwrap().0
}

/// A CSV (or TSV) output as its header and rows. No cell of a report holds
/// a quote (checked), so none is quoted, and splitting at the delimiter
/// gives the cells.
fn read_table(text: &str, delimiter: char) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(!text.contains('"'), "a quoted cell: {text}");
    assert!(text.ends_with('\n'));
    let mut lines = text
        .lines()
        .map(|l| l.split(delimiter).map(String::from).collect::<Vec<_>>());
    let head = lines.next().expect("a header");
    let rows: Vec<Vec<String>> = lines.collect();
    assert!(rows.iter().all(|r| r.len() == head.len()), "{text}");
    (head, rows)
}

/// A cell against the JSON value of the same field: numbers read back to
/// the same float64, `null` is an empty cell, strings and bools as written.
fn same(cell: &str, v: &Value, what: &str) {
    match v {
        Value::Null => assert_eq!(cell, "", "{what}"),
        Value::Number(n) => {
            let x: f64 = cell.parse().unwrap_or_else(|_| panic!("{what}: {cell}"));
            assert_eq!(x, n.as_f64().unwrap(), "{what}: {cell}");
        }
        Value::String(s) => assert_eq!(cell, s, "{what}"),
        Value::Bool(b) => assert_eq!(cell, b.to_string(), "{what}"),
        _ => panic!("{what}: no cell for {v}"),
    }
}

/// Checks CSV rows against the JSON form of `values`, column by column.
fn rows_match<T: serde::Serialize>(head: &[String], rows: &[Vec<String>], values: &[T]) {
    assert_eq!(rows.len(), values.len());
    assert_eq!(head, keys_of(&values[0]), "columns are the JSON fields");
    for (k, (row, v)) in rows.iter().zip(values).enumerate() {
        let json = serde_json::to_value(v).unwrap();
        for (name, cell) in head.iter().zip(row) {
            same(cell, &json[name], &format!("row {k}, {name}"));
        }
    }
}

#[test]
fn csv_and_tsv_cells_are_the_json_fields() {
    for (r, t) in [two_view(), keys_symmetric(), many()] {
        let csv = written(Format::Csv, &r, None, opts(false));
        let tsv = written(Format::Tsv, &r, None, opts(false));
        let (head, rows) = read_table(&csv, ',');
        rows_match(&head, &rows, &r.records);
        assert_eq!(read_table(&tsv, '\t'), (head, rows));
        assert!(!tsv.contains(','));

        let csv = written(Format::Csv, &r, Some(&t), opts(false));
        let (head, rows) = read_table(&csv, ',');
        let term_rows: Vec<TermRow> = r
            .records
            .iter()
            .zip(&t.0)
            .flat_map(|(rec, ts)| ts.iter().map(|t| TermRow::new(rec, t)))
            .collect();
        rows_match(&head, &rows, &term_rows);
        let tsv = written(Format::Tsv, &r, Some(&t), opts(false));
        assert_eq!(read_table(&tsv, '\t'), (head, rows));
    }
}

#[test]
fn csv_totals_are_the_json_totals_with_one_column_per_direction_figure() {
    assert!(!two_view().0.summary.dropped_columns.is_empty());
    for (r, _) in [two_view(), keys_symmetric()] {
        let (head, rows) = read_table(&written(Format::Csv, &r, None, opts(true)), ',');
        assert_eq!(rows.len(), 1);
        let json = serde_json::to_value(&r.summary).unwrap();
        let mut expected = Vec::new();
        // The metrics' columns come last, the whole batch's and then each
        // direction's, their names flattened (`top5`, `mrr_key_to_query`).
        let mut metrics = Vec::new();
        let mut flatten = |m: &Value, suffix: &str| {
            for t in m["top_k"].as_array().unwrap() {
                let name = format!("top{}{suffix}", t["k"]);
                metrics.push((name, t["accuracy"].clone()));
            }
            for field in ["mrr", "cpc_bound_nats", "alignment"] {
                metrics.push((format!("{field}{suffix}"), m[field].clone()));
            }
            // The totals' uniformity: a column in every run, empty where
            // JSON leaves it out.
            if suffix.is_empty() {
                let u = match &m["uniformity"] {
                    Value::Null => Value::String(String::new()),
                    v => v.clone(),
                };
                metrics.push(("uniformity".to_string(), u));
            }
        };
        flatten(&json["metrics"], "");
        for d in json["directions"].as_array().into_iter().flatten() {
            flatten(
                &d["metrics"],
                &format!("_{}", d["direction"].as_str().unwrap()),
            );
        }
        // precision_note and dropped_columns are columns also where JSON
        // leaves them out: empty cells then.
        let mut keys = keys_of(&r.summary);
        for (key, after) in [
            ("precision_note", "precision"),
            ("dropped_columns", "dimension"),
        ] {
            if !keys.iter().any(|k| k == key) {
                let at = keys.iter().position(|k| k == after).unwrap() + 1;
                keys.insert(at, key.to_string());
            }
        }
        for key in keys {
            match &json[&key] {
                // Each column left out as FILE:COLUMN, separated by spaces.
                _ if key == "dropped_columns" => {
                    let cell: Vec<String> = json[&key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|d| format!("{}:{}", d["file"].as_str().unwrap(), d["column"]))
                        .collect();
                    expected.push((key, Value::String(cell.join(" "))));
                }
                Value::Null if key == "precision_note" => {
                    expected.push((key, Value::String(String::new())))
                }
                // The metrics are flattened above.
                _ if key == "metrics" => {}
                Value::Array(ds) => {
                    for d in ds {
                        let name = d["direction"].as_str().unwrap();
                        for field in ["loss", "n_anchors", "top1_accuracy", "mean_rank"] {
                            expected.push((format!("{field}_{name}"), d[field].clone()));
                        }
                    }
                }
                v => expected.push((key, v.clone())),
            }
        }
        expected.extend(metrics);
        let names: Vec<&String> = expected.iter().map(|e| &e.0).collect();
        assert_eq!(head.iter().collect::<Vec<_>>(), names);
        for ((name, v), cell) in expected.iter().zip(&rows[0]) {
            same(cell, v, name);
        }
    }
}

#[test]
fn json_and_ndjson_read_back_to_the_report() {
    let (r, t) = keys_symmetric();
    let (r, t) = select(&r, &t, &[1]);
    // serde_json reads some floats one ulp off (without its
    // `float_roundtrip` feature): the expected values are read from text too.
    let reread = |v: Value| serde_json::from_str::<Value>(&v.to_string()).unwrap();
    let summary = reread(serde_json::to_value(&r.summary).unwrap());
    let with_terms = |k: usize| {
        let mut rec = serde_json::to_value(&r.records[k]).unwrap();
        rec["terms"] = serde_json::to_value(&t.0[k]).unwrap();
        reread(rec)
    };

    let doc: Value =
        serde_json::from_str(&written(Format::Json, &r, Some(&t), opts(false))).unwrap();
    let Value::Object(mut top) = doc else {
        panic!("not an object")
    };
    let anchors = top.remove("anchors").expect("anchors");
    assert_eq!(Value::Object(top), summary);
    let expected: Vec<Value> = (0..r.records.len()).map(with_terms).collect();
    assert_eq!(anchors, Value::Array(expected));

    let text = written(Format::Ndjson, &r, Some(&t), opts(false));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), r.records.len() + 1);
    for (k, line) in lines.iter().enumerate() {
        let mut line = line.clone();
        let kind = line.as_object_mut().unwrap().remove("type").unwrap();
        if k < r.records.len() {
            assert_eq!(kind, "record");
            assert_eq!(line, with_terms(k));
        } else {
            assert_eq!(kind, "totals");
            assert_eq!(line, summary);
        }
    }
    let text = written(Format::Ndjson, &r, None, opts(true));
    assert_eq!(text.lines().count(), 1);
}

/// The header and data rows of a plain table at the top of `text`.
fn table_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let words = |l: &str| l.split_whitespace().map(String::from).collect();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("anchor"));
    let head = words(lines.next().unwrap());
    let rows = lines
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(words)
        .collect();
    (head, rows)
}

#[test]
fn tables_show_the_direction_only_in_the_keys_layout() {
    let (head, _) = table_rows(&written(Format::Table, &two_view().0, None, opts(false)));
    assert!(!head.iter().any(|h| h == "dir"));
    let (head, rows) = table_rows(&written(
        Format::Table,
        &keys_symmetric().0,
        None,
        opts(false),
    ));
    assert_eq!(head[2], "dir");
    let dirs: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(dirs, ["q->k", "q->k", "k->q", "k->q"]);
}

#[test]
fn large_tables_list_the_worst_records_unless_all_are_asked_for() {
    let (r, _) = many();
    let (head, rows) = table_rows(&written(Format::Table, &r, None, opts(false)));
    let loss = head.iter().position(|h| h == "loss").unwrap();
    let anchor = head.iter().position(|h| h == "anchor").unwrap();
    let mut worst: Vec<&AnchorRecord> = r.records.iter().collect();
    worst.sort_by(|a, b| b.loss.total_cmp(&a.loss));
    let listed: Vec<usize> = rows
        .iter()
        .map(|row| row[anchor].parse().unwrap())
        .collect();
    let expected: Vec<usize> = worst[..10].iter().map(|r| r.anchor).collect();
    assert_eq!(listed, expected);
    for row in &rows {
        let rec = &r.records[row[anchor].parse::<usize>().unwrap()];
        assert_eq!(row[loss], rounded(rec.loss, 6));
    }

    let all = Options {
        summary_only: false,
        all_rows: true,
    };
    let (_, rows) = table_rows(&written(Format::Table, &r, None, all));
    let listed: Vec<usize> = rows
        .iter()
        .map(|row| row[anchor].parse().unwrap())
        .collect();
    assert_eq!(listed, (0..40).collect::<Vec<_>>());
}

#[test]
fn the_json_page_names_every_field() {
    let page = include_str!("../../docs/json.md");
    let (r, t) = keys_symmetric();
    let (r, _) = select(&r, &t, &[1]);
    let directions = r.summary.directions.as_ref().unwrap();
    let fields = [
        keys_of(&r.summary),
        keys_of(&r.records[0]),
        keys_of(&directions[0]),
    ];
    for key in fields.iter().flatten() {
        assert!(
            page.contains(&format!("`{key}`")),
            "docs/json.md lacks `{key}`"
        );
    }
    // The terms' CSV columns, as the page spells them.
    let documented = "`anchor,positive,[direction,]index,is_positive,sim,logit,exp,p`";
    for (r, t) in [two_view(), keys_symmetric()] {
        let csv = written(Format::Csv, &r, Some(&t), opts(false));
        let head = csv.lines().next().unwrap();
        let spelled = if r.records[0].direction.is_some() {
            documented.replace(['[', ']'], "")
        } else {
            documented.replace("[direction,]", "")
        };
        assert_eq!(format!("`{head}`"), spelled);
    }
}

#[test]
fn format_names_are_the_flag_values() {
    let names: Vec<String> = formats()
        .iter()
        .map(|f| {
            let v = clap::ValueEnum::to_possible_value(f).unwrap();
            v.get_name().to_string()
        })
        .collect();
    assert_eq!(names, ["table", "json", "csv", "tsv", "ndjson", "markdown"]);
}

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
