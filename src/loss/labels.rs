//! Several positives per anchor (the labels layout): each anchor's records,
//! one per positive, reduced to the anchor's figures.
//!
//! For anchor a with positives P(a), candidates C(a) (every row but a) and
//! logits l_k = s(a, k) / tau, with D(a) = sum over C(a) of exp(l_k) and
//! N(a) = sum over the candidates that are not positives:
//!
//! ```text
//! supcon:   loss_a = mean over p in P(a) of [ log D(a) - l_p ]
//!                  = mean over p of log1p( sum_{k in C(a), k != p} e^(l_k - l_p) )
//! pairwise: loss_(a,p) = log( (e^(l_p) + N(a)) / e^(l_p) ) = softplus(log N(a) - l_p)
//!           loss_a = mean over p of loss_(a,p)
//! ```
//!
//! The supcon term of a positive is the loss of its record as every layout
//! computes it (its denominator holds every candidate), so it keeps tiny
//! losses to full precision. The batch loss is the mean over anchors
//! (supcon) or over positive pairs (pairwise); the report computes both
//! from these figures.

use serde::Serialize;

use crate::layout::{Layout, MultiPositive};
use crate::loss::RecordStats;
use crate::loss::exp::softplus;

/// One positive of an anchor and its term of the anchor's loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PositiveTerm {
    /// Row of the positive.
    pub index: usize,
    /// s(anchor, positive).
    pub sim: f64,
    /// s / tau.
    pub logit: f64,
    /// Its term: log_denominator - logit (supcon), or its own loss with the
    /// other positives left out of the denominator (pairwise).
    pub loss: f64,
}

/// The figures of one anchor with one or more positives.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorStats {
    pub anchor: usize,
    /// The record of its best positive (highest similarity, so highest
    /// logit at every temperature; the first in row order among equals): its rank is the anchor's, its terms the
    /// anchor's candidates.
    pub best: usize,
    /// Mean of the positives' similarities and logits.
    pub sim: f64,
    pub logit: f64,
    /// log D(a): over every candidate, the positives included.
    pub log_denominator: f64,
    /// The anchor's loss under the reduction.
    pub loss: f64,
    /// 1 + the candidates that are not positives scoring above the best
    /// positive.
    pub rank: u64,
    /// Every positive, in row order.
    pub terms: Vec<PositiveTerm>,
}

/// Among records `ks`, the one whose positive has the highest similarity
/// `sim` (the first of equals): the record the pass ranks and the report's
/// `positive`. Similarity rather than logit, so that it is the same record
/// at every temperature of a sweep (two similarities 1 ulp apart can give
/// equal logits at one tau and not at another).
pub fn best_record(ks: &[usize], sim: &[f64]) -> usize {
    let mut best = ks[0];
    for &k in &ks[1..] {
        if sim[k] > sim[best] {
            best = k;
        }
    }
    best
}

/// The figures of every anchor of a labels layout, in row order, from the
/// pass's findings (one per record).
pub fn anchors(
    layout: &Layout,
    stats: &[RecordStats],
    reduction: MultiPositive,
) -> Vec<AnchorStats> {
    let sims: Vec<f64> = stats.iter().map(|s| s.sim).collect();
    let mut out = Vec::new();
    let mut start = 0;
    let records = &layout.records;
    while start < records.len() {
        let a = records[start].anchor;
        let mut end = start;
        while end < records.len() && records[end].anchor == a {
            end += 1;
        }
        let ks: Vec<usize> = (start..end).collect();
        let best = best_record(&ks, &sims);
        let terms: Vec<PositiveTerm> = ks
            .iter()
            .map(|&k| {
                let s = &stats[k];
                PositiveTerm {
                    index: records[k].positive,
                    sim: s.sim,
                    logit: s.logit,
                    loss: match reduction {
                        MultiPositive::Supcon => s.finish().loss,
                        MultiPositive::Pairwise => softplus(s.log_negatives - s.logit),
                    },
                }
            })
            .collect();
        let n = terms.len() as f64;
        out.push(AnchorStats {
            anchor: a,
            best,
            sim: terms.iter().map(|t| t.sim).sum::<f64>() / n,
            logit: terms.iter().map(|t| t.logit).sum::<f64>() / n,
            log_denominator: stats[best].finish().log_denominator,
            loss: terms.iter().map(|t| t.loss).sum::<f64>() / n,
            rank: stats[best].rank,
            terms,
        });
        start = end;
    }
    out
}
