//! CSV: one row per record with the JSON field names as the header; under
//! `--terms`, one row per term; under `--summary`, one row of totals.
//! An overflowed linear-space value is an empty cell.

use std::io::{self, Write};

use super::{Options, TermSource, float};
use crate::report::Report;

fn opt(v: Option<f64>) -> String {
    v.map(float).unwrap_or_default()
}

pub fn write(
    report: &Report,
    terms: Option<&TermSource<'_>>,
    opts: Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = &report.summary;
    if opts.summary_only {
        let mut head = String::from(
            "loss,tau,similarity,layout,symmetric,precision,input_dtype,n_anchors,n_candidates,dimension,top1_accuracy,mean_rank",
        );
        let mut row = format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            float(s.loss),
            float(s.tau),
            s.similarity.name(),
            s.layout.name(),
            s.symmetric,
            s.precision,
            s.input_dtype,
            s.n_anchors,
            s.n_candidates,
            s.dimension,
            float(s.top1_accuracy),
            float(s.mean_rank)
        );
        // The keys layout's totals per direction, as columns named after the
        // direction, so the row stays one row of totals.
        for d in s.directions.iter().flatten() {
            let name = serde_plain(d.direction);
            for field in ["loss", "n_anchors", "top1_accuracy", "mean_rank"] {
                head.push_str(&format!(",{field}_{name}"));
            }
            row.push_str(&format!(
                ",{},{},{},{}",
                float(d.loss),
                d.n_anchors,
                float(d.top1_accuracy),
                float(d.mean_rank)
            ));
        }
        writeln!(out, "{head}")?;
        return writeln!(out, "{row}");
    }
    let directed = report.records.iter().any(|r| r.direction.is_some());
    let dir_of = |k: usize| match report.records[k].direction {
        Some(d) => format!("{},", serde_plain(d)),
        None => String::new(),
    };
    let dir_head = if directed { "direction," } else { "" };
    match terms {
        None => {
            writeln!(
                out,
                "anchor,positive,{dir_head}sim,logit,numerator,log_numerator,denominator,log_denominator,loss,p_positive,rank"
            )?;
            for (k, r) in report.records.iter().enumerate() {
                writeln!(
                    out,
                    "{},{},{}{},{},{},{},{},{},{},{},{}",
                    r.anchor,
                    r.positive,
                    dir_of(k),
                    float(r.sim),
                    float(r.logit),
                    opt(r.numerator),
                    float(r.log_numerator),
                    opt(r.denominator),
                    float(r.log_denominator),
                    float(r.loss),
                    float(r.p_positive),
                    r.rank
                )?;
            }
            Ok(())
        }
        Some(src) => {
            writeln!(
                out,
                "anchor,positive,{dir_head}index,is_positive,sim,logit,exp,p"
            )?;
            src.for_each(report, &mut |k, ts| {
                let r = &report.records[k];
                let d = dir_of(k);
                for t in ts {
                    writeln!(
                        out,
                        "{},{},{}{},{},{},{},{},{}",
                        r.anchor,
                        r.positive,
                        d,
                        t.index,
                        t.index == r.positive,
                        float(t.sim),
                        float(t.logit),
                        opt(t.exp),
                        float(t.p)
                    )?;
                }
                Ok(())
            })
        }
    }
}

/// A unit enum's serde name (`query_to_key`).
fn serde_plain<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}
