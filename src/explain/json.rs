//! The walkthrough as data: the explained record exactly as `compute --format
//! json` writes it, its listed terms, and the steps, every number with all
//! its digits.

use serde::Serialize;

use super::steps::{Step, Walkthrough};
use super::{Facts, Origin, Rest};
use crate::layout::LayoutKind;
use crate::loss::{Similarity, Term};
use crate::report::AnchorRecord;

#[derive(Serialize)]
struct Document<'a> {
    /// True for the tutorial's built-in example.
    example: bool,
    /// The embeddings file, absent for the example.
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    lang: &'static str,
    tau: f64,
    similarity: Similarity,
    layout: LayoutKind,
    symmetric: bool,
    precision: &'static str,
    /// Index of the explained record.
    record_index: usize,
    /// The explained record, field for field as `compute` reports it.
    record: &'a AnchorRecord,
    /// The listed terms, as `compute --terms` reports them.
    terms: Vec<Term>,
    /// The terms not listed, summed.
    rest: Option<RestOut>,
    /// The batch loss.
    mean_loss: f64,
    steps: &'a [Step],
}

#[derive(Serialize)]
struct RestOut {
    count: usize,
    exp_sum: Option<f64>,
    log_sum: f64,
    share: f64,
}

impl From<&Rest> for RestOut {
    fn from(r: &Rest) -> RestOut {
        RestOut {
            count: r.count,
            exp_sum: r.exp_sum,
            log_sum: r.log_sum,
            share: r.share,
        }
    }
}

/// Renders the walkthrough as one pretty-printed JSON document.
pub fn render(f: &Facts, walk: &Walkthrough, lang: &'static str) -> String {
    let s = &f.report.summary;
    let doc = Document {
        example: f.is_example(),
        input: match &f.origin {
            Origin::Data { name, .. } => Some(name),
            Origin::Example => None,
        },
        lang,
        tau: s.tau,
        similarity: s.similarity,
        layout: s.layout,
        symmetric: s.symmetric,
        precision: s.precision,
        record_index: f.record,
        record: f.record(),
        terms: f.breakdown.listed.iter().map(|l| l.term).collect(),
        rest: f.breakdown.rest.as_ref().map(RestOut::from),
        mean_loss: s.loss,
        steps: &walk.steps,
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("the walkthrough serializes");
    out.push('\n');
    out
}
