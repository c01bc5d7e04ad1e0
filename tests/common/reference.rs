//! The naive float64 reference of the loss, shared by the tests and the fuzz
//! targets (included by path from `fuzz/`). It follows the seed's formula
//! term by term and uses nothing of the crate but its public types for the
//! layout: no constant, no function of it, no kernel.
//!
//! For a record with anchor a, positive p and candidates C(a), logits
//! l_k = s(a, k) / tau, and m the largest of them:
//!
//! ```text
//! log_denominator = m + ln( sum_k e^(l_k - m) )
//! loss            = ln( sum_k e^(l_k - l_p) )          (summed with its own maximum)
//! p_k             = e^(l_k - log_denominator)
//! ```
//!
//! Ranks are given as bounds: a candidate whose logit is above the
//! positive's by more than a rounding window counts, one below by more than
//! it does not, one within it may go either way, and an exact copy of the
//! positive's row never counts (the documented tie rule, restated here with
//! a window of its own, wider than the tool's).
#![allow(dead_code)]

use infonce::layout::Layout;
use infonce::loss::{RecordStats, Similarity, Term};

/// One term of a record's denominator, as the reference finds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefTerm {
    pub index: usize,
    pub sim: f64,
    pub logit: f64,
    pub p: f64,
}

/// What the reference computes for one record.
#[derive(Debug, Clone)]
pub struct Expected {
    pub anchor: usize,
    pub positive: usize,
    pub sim: f64,
    pub logit: f64,
    pub log_denominator: f64,
    pub loss: f64,
    /// The rank lies in `rank.0..=rank.1`; one value where no candidate is
    /// within rounding of the positive.
    pub rank: (u64, u64),
    /// Every candidate in row order.
    pub terms: Vec<RefTerm>,
    /// Largest |logit| among the candidates: the scale of their rounding.
    pub scale: f64,
    /// Largest |x||y| over the candidates (1 under cosine): the scale of a
    /// similarity's rounding.
    pub size: f64,
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

/// s(x, y) in float64.
pub fn similarity(x: &[f64], y: &[f64], s: Similarity) -> f64 {
    match s {
        Similarity::Dot => dot(x, y),
        Similarity::Cosine => dot(x, y) / (norm(x) * norm(y)),
    }
}

/// ln(sum e^x) over `xs`, shifted by their maximum (-inf when empty).
fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// One record: `anchor` against `cands` (leaving out row `skip`, the anchor
/// itself in the one-file layouts), with positive row `positive`.
pub fn record(
    anchor: &[f64],
    cands: &[Vec<f64>],
    skip: Option<usize>,
    positive: usize,
    s: Similarity,
    tau: f64,
) -> Expected {
    record_where(anchor, cands, |k| Some(k) != skip, positive, s, tau)
}

/// One record: `anchor` against the rows of `cands` that `seen` keeps, with
/// positive row `positive`.
pub fn record_where(
    anchor: &[f64],
    cands: &[Vec<f64>],
    seen: impl Fn(usize) -> bool,
    positive: usize,
    s: Similarity,
    tau: f64,
) -> Expected {
    let d = anchor.len() as f64;
    let size_of = |x: &[f64]| match s {
        Similarity::Cosine => 1.0,
        Similarity::Dot => norm(x),
    };
    let mut terms: Vec<RefTerm> = cands
        .iter()
        .enumerate()
        .filter(|&(k, _)| seen(k))
        .map(|(k, c)| {
            let sim = similarity(anchor, c, s);
            RefTerm {
                index: k,
                sim,
                logit: sim / tau,
                p: 0.0,
            }
        })
        .collect();
    let lp = terms
        .iter()
        .find(|t| t.index == positive)
        .expect("the positive is a candidate")
        .logit;
    let log_den = log_sum_exp(terms.iter().map(|t| t.logit));
    for t in terms.iter_mut() {
        t.p = (t.logit - log_den).exp();
    }
    // ln(1 + sum over the others of e^(l_k - l_p)): the positive's own term
    // is e^0 = 1, the others are summed with their maximum taken out.
    let others = log_sum_exp(
        terms
            .iter()
            .filter(|t| t.index != positive)
            .map(|t| t.logit - lp),
    );
    let loss = if others == f64::NEG_INFINITY {
        0.0
    } else if others > 0.0 {
        others + (-others).exp().ln_1p()
    } else {
        others.exp().ln_1p()
    };
    let size = terms
        .iter()
        .map(|t| size_of(anchor) * size_of(&cands[t.index]))
        .fold(0.0, f64::max);
    let (mut clear, mut near) = (0u64, 0u64);
    for t in terms.iter().filter(|t| t.index != positive) {
        if cands[t.index] == cands[positive] {
            continue; // an exact copy of the positive never outranks it
        }
        // Each logit is within about (d + 2) ulps of |x||y| / tau of the
        // exact one, in the tool as here; eight times that is near.
        let window =
            8.0 * (d + 2.0) * f64::EPSILON * size_of(anchor) * size_of(&cands[t.index]) / tau;
        if t.logit > lp + window {
            clear += 1;
        } else if t.logit >= lp - window {
            near += 1;
        }
    }
    Expected {
        anchor: 0,
        positive,
        sim: lp * tau,
        logit: lp,
        log_denominator: log_den,
        loss,
        rank: (1 + clear, 1 + clear + near),
        scale: terms.iter().map(|t| t.logit.abs()).fold(0.0, f64::max),
        size,
        terms,
    }
}

/// Every record of `layout`: candidates are the other rows (one-file
/// layouts) or the other file (keys layout).
pub fn reference(
    layout: &Layout,
    first: &[Vec<f64>],
    second: Option<&[Vec<f64>]>,
    s: Similarity,
    tau: f64,
) -> Vec<Expected> {
    layout
        .records
        .iter()
        .map(|r| {
            let (anchor, cands, skip) = match (second, r.backward) {
                (None, _) => (&first[r.anchor], first, Some(r.anchor)),
                (Some(k), false) => (&first[r.anchor], k, None),
                (Some(k), true) => (&k[r.anchor], first, None),
            };
            Expected {
                anchor: r.anchor,
                ..record(anchor, cands, skip, r.positive, s, tau)
            }
        })
        .collect()
}

/// `Ok` when `cond` holds, else the message `msg` makes.
fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

/// Checks every listed term against the reference (index and value) and the
/// softmax properties: each `p` in [0, 1], a record's `p` summing to 1, and
/// the positive's `p` equal to the record's `p_positive` within the
/// precision of the pass. `unit` is the unit roundoff of the pass's
/// products (2^-24 for float32, 2^-53 for float64).
pub fn check_terms(
    stats: &[RecordStats],
    terms: &[Vec<Term>],
    want: &[Expected],
    d: usize,
    tau: f64,
    unit: f64,
    what: &str,
) -> Result<(), String> {
    let eps = f64::EPSILON;
    let d = d as f64;
    if terms.len() != want.len() {
        return Err(format!(
            "{what}: {} records listed, {} expected",
            terms.len(),
            want.len()
        ));
    }
    for (k, ((ts, w), st)) in terms.iter().zip(want).zip(stats).enumerate() {
        let at = format!(
            "{what}: record {k} (anchor {}, positive {})",
            w.anchor, w.positive
        );
        let got_index: Vec<usize> = ts.iter().map(|t| t.index).collect();
        let want_index: Vec<usize> = w.terms.iter().map(|t| t.index).collect();
        ensure(got_index == want_index, || {
            format!("{at}: candidate indices {got_index:?}, expected {want_index:?}")
        })?;
        // Terms are computed in float64 from the stored values: each
        // similarity within about (d + 2) ulps of |x||y|, here and in the
        // reference; each logit that divided by tau.
        let sim_tol = 4.0 * (d + 2.0) * eps * w.size;
        let logit_tol = sim_tol / tau + 4.0 * eps * w.scale;
        let n = ts.len() as f64;
        let mut sum = 0.0;
        for (t, r) in ts.iter().zip(&w.terms) {
            ensure(
                (t.sim - r.sim).abs() <= sim_tol && (t.logit - r.logit).abs() <= logit_tol,
                || {
                    format!(
                        "{}: term {}: sim {} vs {}, logit {} vs {}",
                        at, t.index, t.sim, r.sim, t.logit, r.logit
                    )
                },
            )?;
            ensure((0.0..=1.0).contains(&t.p), || {
                format!("{}: term {}: p = {}", at, t.index, t.p)
            })?;
            // ln p carries the logit's error and the log-sum-exp's.
            let slack = 2.0 * logit_tol + 4.0 * (n + 2.0) * eps;
            // (Where the logits are not known to within ~700, neither is p.)
            let allowed = if slack < 700.0 {
                r.p * slack.exp_m1() + 1e-300
            } else {
                1.0
            };
            ensure((t.p - r.p).abs() <= allowed, || {
                format!(
                    "{}: term {}: p = {:e}, reference {:e} (allowed {:e})",
                    at, t.index, t.p, r.p, allowed
                )
            })?;
            sum += t.p;
        }
        ensure((sum - 1.0).abs() <= (n + 4.0) * eps, || {
            format!("{}: the p sum to {} ({:e} from 1)", at, sum, sum - 1.0)
        })?;
        // The record's figures come from the tiled pass, whose logits are
        // within 2 (d + 4) u |x||y| / tau of the exact ones, and whose
        // float32 exponentials (float32 products at tau >= 0.025 under
        // cosine) are within a relative 2e-7 of e^x; the positive's term and
        // the record agree within that plus the terms' own error.
        let pos = ts.iter().find(|t| t.index == w.positive).unwrap();
        let rec = st.finish().p_positive;
        let exp32 = if unit >= 2f64.powi(-24) { 2e-7 } else { 0.0 };
        let tol = 2.0 * (d + 4.0) * unit * w.size / tau + exp32 + logit_tol + 8.0 * (n + 2.0) * eps;
        let allowed = rec.max(pos.p) * (-(-tol).exp_m1()) + 1e-300;
        ensure((rec - pos.p).abs() <= allowed, || {
            format!(
                "{}: p_positive {:e} vs the positive's term {:e} (allowed {:e})",
                at, rec, pos.p, allowed
            )
        })?;
        ensure(st.logit == pos.logit, || {
            format!(
                "{at}: the positive's logit {} in the record, {} in the terms",
                st.logit, pos.logit
            )
        })?;
    }
    Ok(())
}

/// Extra negatives of a run, as the reference sees them: `rows`, shared by
/// every forward anchor or (`per_anchor` = Some(m)) rows `a m .. (a + 1) m`
/// for anchor a.
pub struct RefNegatives<'r> {
    pub rows: &'r [Vec<f64>],
    pub per_anchor: Option<usize>,
}

/// Every record of `layout` with extra negatives after its layout's
/// candidates (forward records only; the key-to-query records of the keys
/// layout see none), without the in-batch candidates but the positive when
/// `in_batch` is false, and of the decoupled loss when `decoupled`:
/// `log_denominator = ln sum_{k != p} e^(l_k)` and `loss = log_denominator -
/// l_p`. A term's index is that of the candidates followed by the negatives
/// (`n + j` for negative j of the anchor's set, n the main side's rows).
#[allow(clippy::too_many_arguments)]
pub fn reference_with(
    layout: &Layout,
    first: &[Vec<f64>],
    second: Option<&[Vec<f64>]>,
    negatives: Option<&RefNegatives<'_>>,
    in_batch: bool,
    decoupled: bool,
    s: Similarity,
    tau: f64,
) -> Vec<Expected> {
    layout
        .records
        .iter()
        .map(|r| {
            let (anchor, main, skip) = match (second, r.backward) {
                (None, _) => (&first[r.anchor], first, Some(r.anchor)),
                (Some(k), false) => (&first[r.anchor], k, None),
                (Some(k), true) => (&k[r.anchor], first, None),
            };
            let n = main.len();
            let mut cands: Vec<Vec<f64>> = main.to_vec();
            let mut seen_neg = 0..0;
            if let (Some(neg), false) = (negatives, r.backward) {
                cands.extend(neg.rows.iter().cloned());
                seen_neg = match neg.per_anchor {
                    None => n..n + neg.rows.len(),
                    Some(m) => n + r.anchor * m..n + (r.anchor + 1) * m,
                };
            }
            let main_seen =
                |k: usize| Some(k) != skip && (in_batch || r.backward || k == r.positive);
            let seen = |k: usize| {
                if k < n {
                    main_seen(k)
                } else {
                    seen_neg.contains(&k)
                }
            };
            let mut e = record_where(anchor, &cands, seen, r.positive, s, tau);
            if decoupled {
                let lp = e.logit;
                let others = log_sum_exp(
                    e.terms
                        .iter()
                        .filter(|t| t.index != r.positive)
                        .map(|t| t.logit),
                );
                e.log_denominator = others;
                e.loss = others - lp;
            }
            Expected {
                anchor: r.anchor,
                ..e
            }
        })
        .collect()
}

/// What the reference computes for one anchor of the labels layout.
#[derive(Debug, Clone)]
pub struct LabelAnchor {
    pub anchor: usize,
    /// The other rows with the anchor's label, in row order.
    pub positives: Vec<usize>,
    /// s(a, p) of each positive.
    pub sims: Vec<f64>,
    /// log of the sum of e^(l_k) over every other row.
    pub log_denominator: f64,
    /// SupCon's term of each positive: log_denominator - l_p.
    pub supcon: Vec<f64>,
    /// Each positive scored alone: -log(e^(l_p) / (e^(l_p) + sum over the
    /// rows of other labels of e^(l_k))).
    pub pairwise: Vec<f64>,
    /// Bounds of 1 + the rows of other labels above the best positive.
    pub rank: (u64, u64),
    /// Largest |logit| of the anchor: the scale of its rounding.
    pub scale: f64,
}

/// The labels layout, naively: for each row, its positives (other rows of
/// its label) and every other row as a candidate. Rows without a positive
/// are left out (the caller checks they are reported as skipped).
pub fn labels_reference<L: PartialEq>(
    rows: &[Vec<f64>],
    labels: &[L],
    s: Similarity,
    tau: f64,
) -> Vec<LabelAnchor> {
    labels_reference_with(rows, labels, |_| &[], s, tau)
}

/// [`labels_reference`] with extra negatives: `negatives(a)` are candidates
/// of anchor a beside the other rows, never positives.
pub fn labels_reference_with<'n, L: PartialEq>(
    rows: &[Vec<f64>],
    labels: &[L],
    negatives: impl Fn(usize) -> &'n [Vec<f64>],
    s: Similarity,
    tau: f64,
) -> Vec<LabelAnchor> {
    let d = rows[0].len() as f64;
    let size_of = |x: &[f64]| match s {
        Similarity::Cosine => 1.0,
        Similarity::Dot => norm(x),
    };
    let mut out = Vec::new();
    for a in 0..rows.len() {
        let positives: Vec<usize> = (0..rows.len())
            .filter(|&k| k != a && labels[k] == labels[a])
            .collect();
        if positives.is_empty() {
            continue;
        }
        let logit_of = |x: &Vec<f64>| similarity(&rows[a], x, s) / tau;
        let logit = |k: usize| logit_of(&rows[k]);
        // Every candidate's vector: the other rows, then the extra negatives.
        let extra = negatives(a);
        let others: Vec<&Vec<f64>> = (0..rows.len())
            .filter(|&k| k != a)
            .map(|k| &rows[k])
            .chain(extra.iter())
            .collect();
        let negs: Vec<&Vec<f64>> = (0..rows.len())
            .filter(|&k| k != a && !positives.contains(&k))
            .map(|k| &rows[k])
            .chain(extra.iter())
            .collect();
        let log_denominator = log_sum_exp(others.iter().map(|x| logit_of(x)));
        // ln(1 + sum over the rest of e^(l_k - l_p)), the rest summed with
        // their maximum taken out (as `record_where` does), so that tiny
        // terms keep their digits.
        let log1p_sum = |p: usize, rest: &[&Vec<f64>]| {
            let x = log_sum_exp(
                rest.iter()
                    .filter(|x| !std::ptr::eq(**x, &rows[p]))
                    .map(|x| logit_of(x) - logit(p)),
            );
            if x == f64::NEG_INFINITY {
                0.0
            } else if x > 0.0 {
                x + (-x).exp().ln_1p()
            } else {
                x.exp().ln_1p()
            }
        };
        let supcon = positives.iter().map(|&p| log1p_sum(p, &others)).collect();
        let pairwise = positives.iter().map(|&p| log1p_sum(p, &negs)).collect();
        let best = positives
            .iter()
            .copied()
            .max_by(|&x, &y| logit(x).total_cmp(&logit(y)))
            .unwrap();
        let lp = logit(best);
        let (mut clear, mut near) = (0u64, 0u64);
        for x in &negs {
            if positives.iter().any(|&p| **x == rows[p]) {
                continue; // an exact copy of a positive never outranks it
            }
            let window = 8.0 * (d + 2.0) * f64::EPSILON * size_of(&rows[a]) * size_of(x) / tau;
            if logit_of(x) > lp + window {
                clear += 1;
            } else if logit_of(x) >= lp - window {
                near += 1;
            }
        }
        out.push(LabelAnchor {
            anchor: a,
            sims: positives
                .iter()
                .map(|&p| similarity(&rows[a], &rows[p], s))
                .collect(),
            positives,
            log_denominator,
            supcon,
            pairwise,
            rank: (1 + clear, 1 + clear + near),
            scale: others.iter().map(|x| logit_of(x).abs()).fold(0.0, f64::max),
        });
    }
    out
}
