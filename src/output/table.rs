//! Tables for a terminal (aligned columns) and for Markdown (pipe tables),
//! drawn by one renderer. Figures are rounded for reading; the machine
//! formats carry every digit.

use std::io::{self, Write};

use super::{Options, Terms, linear, rounded};
use crate::report::{
    Cell, Column, Metrics, RECORD_COLUMNS, Report, SweepEntry, TERM_COLUMNS, TermRow,
};

/// Up to this many records, a table lists them all; past it, the worst ones.
pub const FULL_TABLE_LIMIT: usize = 32;
/// How many of the worst records a large table lists.
pub const WORST_SHOWN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Markdown,
}

fn render(
    headers: &[&str],
    rows: &[Vec<String>],
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut width: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut dyn Write| -> io::Result<()> {
        let parts: Vec<String> = cells
            .zip(&width)
            .map(|(c, &w)| format!("{c:>w$}"))
            .collect();
        match style {
            Style::Plain => writeln!(out, "{}", parts.join("  ").trim_end()),
            Style::Markdown => writeln!(out, "| {} |", parts.join(" | ")),
        }
    };
    line(&mut headers.iter().copied(), out)?;
    match style {
        Style::Plain => {
            let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
            writeln!(out, "{}", rule.join("  "))?;
        }
        Style::Markdown => {
            let rule: Vec<String> = width
                .iter()
                .map(|&w| format!("{}:", "-".repeat(w.max(2) - 1)))
                .collect();
            writeln!(out, "| {} |", rule.join(" | "))?;
        }
    }
    for r in rows {
        line(&mut r.iter().map(String::as_str), out)?;
    }
    Ok(())
}

/// `word` with an `s` unless `n` is 1 ("1 anchor", "2 anchors").
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// The top-k accuracies of `m` but top-1 (which the tables give first), as
/// `, top-5 90.00%, top-10 100.0%`.
fn other_top_k(m: &Metrics) -> String {
    m.top_k
        .iter()
        .filter(|t| t.k != 1)
        .map(|t| format!(", top-{} {}%", t.k, rounded(100.0 * t.accuracy, 4)))
        .collect()
}

/// A cell as the tables show it: figures to 6 significant digits.
fn text(cell: Cell) -> String {
    match cell {
        Cell::Absent => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::Figure(x) => rounded(x, 6),
        Cell::Linear(v, log) => linear(v, log, 6),
        Cell::Text(s) => s.to_string(),
        Cell::Marked(n, true) => format!("{n}*"),
        Cell::Marked(n, false) => n.to_string(),
    }
}

/// The columns that have a value in one of `all`, and the rows `shown` in
/// them: the table's headers and cells.
fn columns<'r, T: 'r>(
    list: &[Column<T>],
    all: impl Iterator<Item = &'r T> + Clone,
    shown: impl Iterator<Item = &'r T>,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let present: Vec<&Column<T>> = list
        .iter()
        .filter(|c| all.clone().any(|r| (c.cell)(r) != Cell::Absent))
        .collect();
    let headers = present.iter().map(|c| c.header).collect();
    let rows = shown
        .map(|r| present.iter().map(|c| text((c.cell)(r))).collect())
        .collect();
    (headers, rows)
}

/// A table of terms for each of the records `which`.
fn write_terms(
    report: &Report,
    src: &dyn Terms,
    which: &[usize],
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    src.for_each_of(report, which, &mut |k, ts| {
        let r = &report.records[k];
        let dir = match r.direction {
            Some(crate::layout::Direction::QueryToKey) => ", query -> key",
            Some(crate::layout::Direction::KeyToQuery) => ", key -> query",
            None => "",
        };
        writeln!(
            out,
            "Terms of anchor {} (positive {}, marked *{dir}):",
            r.anchor, r.positive
        )?;
        if style == Style::Markdown {
            writeln!(out)?;
        }
        let terms: Vec<TermRow> = ts.iter().map(|t| TermRow::new(r, t)).collect();
        let (headers, rows) = columns(TERM_COLUMNS, terms.iter(), terms.iter());
        render(&headers, &rows, style, out)?;
        writeln!(out)
    })
}

pub fn write(
    report: &Report,
    terms: Option<&dyn Terms>,
    opts: Options,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = &report.summary;
    if !opts.summary_only {
        let n = report.records.len();
        let selected = s.selected_anchors.is_some();
        let mut shown: Vec<usize> = (0..n).collect();
        if n > FULL_TABLE_LIMIT && !opts.all_rows {
            shown.sort_by(|&a, &b| report.records[b].loss.total_cmp(&report.records[a].loss));
            shown.truncate(WORST_SHOWN);
        }
        let totals = format!("the totals below are those of all {}", s.n_anchors);
        if shown.len() < n {
            let of = if selected {
                format!("of the {n} records of the anchors chosen by --anchor; {totals}")
            } else {
                format!("of {n}")
            };
            writeln!(
                out,
                "The {} anchors with the highest loss ({of}; --all lists every one, --format csv or json gives every digit):",
                shown.len()
            )?;
        } else if selected {
            let records = if n == 1 { "record" } else { "records" };
            writeln!(
                out,
                "The anchors chosen by --anchor ({n} {records}; {totals}):"
            )?;
        }
        if style == Style::Markdown && (shown.len() < n || selected) {
            writeln!(out)?;
        }
        let (headers, rows) = columns(
            RECORD_COLUMNS,
            report.records.iter(),
            shown.iter().map(|&k| &report.records[k]),
        );
        render(&headers, &rows, style, out)?;
        writeln!(out)?;
        // Terms of the records the table shows, in the table's order.
        if let Some(src) = terms {
            write_terms(report, src, &shown, style, out)?;
        }
    }
    let bullet = if style == Style::Markdown { "- " } else { "" };
    writeln!(
        out,
        "{bullet}mean loss {} over {} {} ({} {} each)",
        rounded(s.loss, 6),
        s.n_anchors,
        plural(s.n_anchors, "anchor"),
        s.n_candidates,
        plural(s.n_candidates, "candidate")
    )?;
    writeln!(
        out,
        "{bullet}top-1 accuracy {}%{}, MRR {}, mean rank {}",
        rounded(100.0 * s.top1_accuracy, 4),
        other_top_k(&s.metrics),
        rounded(s.metrics.mrr, 4),
        rounded(s.mean_rank, 4)
    )?;
    writeln!(
        out,
        "{bullet}CPC bound {} nats (mean ln |C| less the mean loss), alignment {}{}",
        rounded(s.metrics.cpc_bound_nats, 4),
        rounded(s.metrics.alignment, 4),
        s.metrics
            .uniformity
            .map_or(String::new(), |u| format!(", uniformity {}", rounded(u, 4)))
    )?;
    if let Some(how) = s.multi_positive {
        let pairs = s.n_positive_pairs.unwrap_or(0);
        let what = match how {
            crate::layout::MultiPositive::Supcon => {
                "supcon: the loss is the mean over anchors".to_string()
            }
            crate::layout::MultiPositive::Pairwise => format!(
                "pairwise: the loss is the mean over positive pairs; over anchors {}",
                rounded(s.loss_mean_over_anchors.unwrap_or(f64::NAN), 6)
            ),
        };
        writeln!(
            out,
            "{bullet}{pairs} positive {}, {what}",
            plural(pairs, "pair")
        )?;
        if let Some(skipped) = s.skipped_anchors.as_ref().filter(|v| !v.is_empty()) {
            let shown: Vec<String> = skipped.iter().take(10).map(|a| a.to_string()).collect();
            let more = if skipped.len() > 10 {
                format!(" and {} more", skipped.len() - 10)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{bullet}{} {} without a positive skipped: {}{more}",
                skipped.len(),
                plural(skipped.len(), "anchor"),
                shown.join(", ")
            )?;
        }
    }
    if let Some(ds) = &s.directions {
        for d in ds {
            let name = match d.direction {
                crate::layout::Direction::QueryToKey => "query -> key",
                crate::layout::Direction::KeyToQuery => "key -> query",
            };
            writeln!(
                out,
                "{bullet}{name}: loss {}, top-1 accuracy {}%{}, MRR {}",
                rounded(d.loss, 6),
                rounded(100.0 * d.top1_accuracy, 4),
                other_top_k(&d.metrics),
                rounded(d.metrics.mrr, 4)
            )?;
        }
    }
    for d in &s.dropped_columns {
        writeln!(
            out,
            "{bullet}column {} of {} left out: an integer index under an empty header cell, as pandas writes (--columns picks columns)",
            d.column, d.file
        )?;
    }
    writeln!(
        out,
        "{bullet}tau {}{}, {} similarity, {} layout{}, {} products, dimension {}",
        s.tau,
        if s.sweep.is_some() {
            " (the lowest loss of the sweep below)"
        } else {
            ""
        },
        s.similarity.name(),
        s.layout.name(),
        if s.symmetric { " (symmetric)" } else { "" },
        s.precision,
        s.dimension
    )?;
    if let Some(note) = &s.precision_note {
        writeln!(out, "{bullet}f64 products chosen because {note}")?;
    }
    if let (Some(kind), Some(m)) = (s.negatives, s.n_negatives) {
        let whose = match kind {
            crate::report::NegativesKind::Shared => "shared by every anchor",
            crate::report::NegativesKind::PerAnchor => "of each anchor's own",
        };
        let batch = if s.in_batch == Some(false) {
            "no in-batch candidates but the positive (--no-in-batch)"
        } else {
            "beside the in-batch candidates"
        };
        writeln!(
            out,
            "{bullet}{m} extra {} {whose} (--negatives), {batch}",
            plural(m, "negative")
        )?;
    }
    if s.decoupled {
        writeln!(
            out,
            "{bullet}decoupled loss: each denominator leaves out its positive, so a loss can be negative"
        )?;
    }
    if let Some(sweep) = &s.sweep {
        write_sweep(sweep, s.best_tau, style, out)?;
    }
    Ok(())
}

/// A temperature to 6 significant digits without trailing zeros (a range's
/// 0.20000000000000004 is 0.2, 0.0632455532033676 is 0.0632456).
fn short(tau: f64) -> String {
    let r = rounded(tau, 6);
    if r.contains('.') && !r.contains('e') {
        r.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        r
    }
}

/// The totals at each temperature of a sweep, the best one starred.
fn write_sweep(
    sweep: &[SweepEntry],
    best: Option<f64>,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Temperature sweep ({} temperatures in one pass; * the lowest loss):",
        sweep.len()
    )?;
    if style == Style::Markdown {
        writeln!(out)?;
    }
    let rows: Vec<Vec<String>> = sweep
        .iter()
        .map(|e| {
            let star = if Some(e.tau) == best { "*" } else { "" };
            vec![
                format!("{}{star}", short(e.tau)),
                rounded(e.loss, 6),
                format!("{}%", rounded(100.0 * e.top1_accuracy, 4)),
                rounded(e.mrr, 6),
                rounded(e.mean_p_positive, 6),
            ]
        })
        .collect();
    render(
        &["tau", "loss", "top-1", "mrr", "mean p_positive"],
        &rows,
        style,
        out,
    )
}
