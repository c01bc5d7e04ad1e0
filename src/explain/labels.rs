//! `explain --labels`: one anchor and its several positives, step by step.
//!
//! Every figure is the core's, read from the anchor's record as `compute
//! --labels` reports it: its `positives`, the shared denominator, each
//! positive's similarity, logit and term of the loss (`positive_terms`),
//! the record's loss, and the candidates' terms from
//! [`Session::terms`](crate::run::Session::terms). What is written out here
//! (a mean of the listed terms, the log of a sum of listed terms) is for
//! reading, never in place of a figure of the core.

use serde::Serialize;
use serde_json::{Value, json};

use super::steps::{
    Block, Draft, Math, Row, Step, Table, Walkthrough, fig, lin, num, plain, share, with_from,
};
use super::words::{Arg, Voice, say};
use crate::cli::{ExplainArgs, ExplainFormat};
use crate::error::{Error, Result};
use crate::job::DataJob;
use crate::layout::MultiPositive;
use crate::loss::{Similarity, Term, TermFrom};
use crate::report::{AnchorRecord, NegativesKind, Report};
use crate::run::{Session, Silent};

/// The walkthrough of one anchor of the labels layout, in the asked form.
pub fn render(args: &ExplainArgs, voice: &Voice, color: bool) -> Result<String> {
    let job = DataJob::for_explain(args)?;
    let name = crate::input::display_name(args.input.as_deref().unwrap_or("-"));
    let labels = job.labels.clone().unwrap_or_default();
    let session = Session::open(job)?;
    let rows = session.loaded().layout.n_first;
    let current = session.run(session.settings(), &Silent)?;
    let report = &current.report;
    let k = pick(args, report, rows, &name, &labels)?;
    let rec = &report.records[k];
    let terms = session.terms(&current, rec.record)?;
    let facts = Facts {
        name: &name,
        labels: &labels,
        rows,
        report,
        k,
        terms: &terms,
        max_terms: args.max_terms,
        picked_first: args.anchor.is_none() && args.record.is_none(),
    };
    let walk = build(&facts, voice);
    Ok(match args.format {
        ExplainFormat::Text => super::text::render(&walk, color),
        ExplainFormat::Markdown => super::markdown::render(&walk),
        ExplainFormat::Json => json_of(&facts, &walk, voice.code()),
    })
}

/// The record `--record` or `--anchor` picks, or the first.
fn pick(
    args: &ExplainArgs,
    report: &Report,
    rows: usize,
    name: &str,
    labels: &str,
) -> Result<usize> {
    let n = report.records.len();
    if let Some(k) = args.record {
        if k >= n {
            return Err(Error::data(
                name,
                format!(
                    "--record {k} is out of range: the labels layout has {n} records, 0 to {}",
                    n - 1
                ),
            ));
        }
        return Ok(k);
    }
    let Some(i) = args.anchor else {
        return Ok(0);
    };
    if i >= rows {
        return Err(Error::data(
            name,
            format!(
                "--anchor {i} is out of range: the anchors are rows 0 to {} (the file has {rows} rows)",
                rows - 1
            ),
        ));
    }
    report
        .records
        .iter()
        .position(|r| r.anchor == i)
        .ok_or_else(|| {
            Error::data(
                labels,
                format!(
                    "--anchor {i}: row {i} has no positive (no other row has its label), so it is skipped"
                ),
            )
        })
}

/// What the walkthrough shows.
struct Facts<'a> {
    name: &'a str,
    labels: &'a str,
    rows: usize,
    report: &'a Report,
    /// The explained record.
    k: usize,
    /// Its candidates' terms, in candidate order.
    terms: &'a [Term],
    max_terms: usize,
    /// Neither `--anchor` nor `--record` was given.
    picked_first: bool,
}

impl Facts<'_> {
    fn record(&self) -> &AnchorRecord {
        &self.report.records[self.k]
    }

    fn positives(&self) -> &[usize] {
        self.record().positives.as_deref().unwrap_or_default()
    }

    fn is_positive(&self, t: &Term) -> bool {
        t.from != Some(TermFrom::Negatives) && self.positives().contains(&t.index)
    }

    fn pairwise(&self) -> bool {
        self.report.summary.multi_positive == Some(MultiPositive::Pairwise)
    }
}

/// A candidate's name: `z[k]`, or `neg[m]` for an extra negative.
fn label(t: &Term) -> String {
    if t.from == Some(TermFrom::Negatives) {
        format!("neg[{}]", t.index)
    } else {
        format!("z[{}]", t.index)
    }
}

/// log of the sum of exp(logit) over `logits`, the largest subtracted
/// first (written out for reading).
fn log_sum(logits: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = logits.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + logits.map(|l| (l - m).exp()).sum::<f64>().ln()
}

fn build(f: &Facts, w: &Voice) -> Walkthrough {
    let mut b = Draft::new();
    let s = &f.report.summary;
    let r = f.record();
    let anchor = format!("z[{}]", r.anchor);
    let tau = num(s.tau);

    // The title and the opening paragraphs.
    b.doc.push(Block::Title(say!(
        w,
        title_labels,
        anchor = &anchor,
        name = f.name
    )));
    let similarity = match s.similarity {
        Similarity::Cosine => say!(w, sim_cosine),
        Similarity::Dot => say!(w, sim_dot),
    };
    let precision = match s.precision {
        "f32" => say!(w, precision_f32),
        _ => say!(w, precision_f64),
    };
    b.para(say!(
        w,
        intro_labels,
        name = f.name,
        rows = f.rows,
        dimension = s.dimension,
        labels = f.labels,
        tau = &tau,
        similarity = similarity,
        precision = precision,
    ));
    let named: Vec<String> = f.positives().iter().map(|p| format!("z[{p}]")).collect();
    b.para(say!(
        w,
        intro_labels_anchor,
        anchor = &anchor,
        record = f.k,
        count = named.len(),
        positives = Arg::List(named.clone()),
        terms = f.terms.len(),
    ));
    let reduction = if f.pairwise() {
        say!(w, reduction_pairwise)
    } else {
        say!(w, reduction_supcon)
    };
    let mut said = vec![reduction.clone()];
    if let Some(skipped) = s.skipped_anchors.as_ref().filter(|v| !v.is_empty()) {
        let rows: Vec<String> = skipped.iter().map(|a| format!("z[{a}]")).collect();
        said.push(say!(
            w,
            labels_skipped,
            count = rows.len(),
            rows = Arg::List(rows)
        ));
    }
    b.para(w.sentences(&said));
    if f.picked_first {
        b.para(say!(w, picked_labels));
    }
    b.doc
        .push(Block::Note(say!(w, rounding, sig = super::steps::SIG)));

    // 1. The formula.
    b.heading(say!(w, h_formula));
    // The extra negatives' sum, when there are some: candidates of every
    // anchor, never positives.
    let extra = s.negatives.map(|kind| {
        let n = match kind {
            NegativesKind::Shared => "n_m",
            NegativesKind::PerAnchor => "n_{a,m}",
        };
        (
            Math::new(
                format!(" + Σ_{{m=0..M−1}} exp(sim(z_a, {n})/τ)"),
                format!(" + \\sum_{{m=0}}^{{M-1}} e^{{\\mathrm{{sim}}(z_a, {n})/\\tau}}"),
            ),
            Math::same(n),
            kind,
        )
    });
    let more = extra.as_ref().map_or(Math::same(""), |e| e.0.clone());
    let formula = if f.pairwise() {
        Math::new(
            format!(
                "L_(a,p) = −log( exp(l_p) / (exp(l_p) + N(a)) ),  N(a) = Σ_{{k ∉ P(a), k≠a}} exp(l_k){}",
                more.plain
            ),
            format!(
                "L_{{(a,p)}} = -\\log \\frac{{e^{{l_p}}}}{{e^{{l_p}} + N(a)}}, \\quad N(a) = \\sum_{{k \\notin P(a),\\, k \\neq a}} e^{{l_k}}{}",
                more.tex
            ),
        )
    } else {
        Math::new(
            format!(
                "L_a = (1/|P(a)|) Σ_{{p ∈ P(a)}} ( log D(a) − l_p ),  D(a) = Σ_{{k≠a}} exp(l_k){}",
                more.plain
            ),
            format!(
                "L_a = \\frac{{1}}{{|P(a)|}} \\sum_{{p \\in P(a)}} \\left( \\log D(a) - l_p \\right), \\quad D(a) = \\sum_{{k \\neq a}} e^{{l_k}}{}",
                more.tex
            ),
        )
    };
    b.doc.push(Block::Math(vec![formula.clone()]));
    let mut legend = vec![
        (Math::new("P(a)", "P(a)"), say!(w, sym_positives)),
        (Math::new("l_k", "l_k"), say!(w, sym_logit)),
    ];
    let with_extra = if extra.is_some() {
        say!(w, den_extra)
    } else {
        String::new()
    };
    legend.push((Math::same("D(a)"), say!(w, sym_d, extra = with_extra)));
    if f.pairwise() {
        legend.push((Math::same("N(a)"), say!(w, sym_n)));
    }
    if let Some((_, n, kind)) = extra {
        let text = match kind {
            NegativesKind::Shared => say!(w, sym_extra_shared),
            NegativesKind::PerAnchor => say!(w, sym_extra_per_anchor, a = "a"),
        };
        legend.push((n, text));
    }
    b.doc.push(Block::Legend(legend));
    b.step(
        "formula",
        &formula.plain,
        json!({ "tau": s.tau, "similarity": s.similarity, "layout": s.layout, "multi_positive": s.multi_positive, "n_candidates": f.terms.len() }),
        Value::Null,
        None,
        &reduction,
    );

    // 2. The candidates' terms: every positive, then the strongest of the
    // others, the rest summed.
    b.heading(say!(w, h_terms));
    b.para(say!(w, terms_intro, tau = &tau));
    let mut others: Vec<&Term> = f.terms.iter().filter(|t| !f.is_positive(t)).collect();
    others.sort_by(|a, c| c.logit.total_cmp(&a.logit));
    let listed_others = others.len().min(f.max_terms);
    let mut listed: Vec<&Term> = f.terms.iter().filter(|t| f.is_positive(t)).collect();
    listed.extend(&others[..listed_others]);
    let head = vec![
        Math::same(say!(w, col_candidate)),
        Math::new("sim", "\\mathrm{sim}"),
        Math::new("logit = sim/τ", "\\text{logit} = \\mathrm{sim}/\\tau"),
        Math::new("exp(logit)", "e^{\\text{logit}}"),
        Math::same(say!(w, col_share)),
    ];
    let mut rows = Vec::new();
    for t in &listed {
        rows.push(Row {
            cells: vec![
                Math::same(label(t)),
                Math::number(t.sim),
                Math::number(t.logit),
                Math::figure(lin(t.exp, t.logit)),
                Math::figure(share(t.p, t.logit - r.log_denominator)),
            ],
            marked: f.is_positive(t),
        });
        b.step(
            "exp",
            format!("exp(sim({anchor}, {})/τ)", label(t)),
            with_from(
                json!({ "candidate": t.index, "positive": f.is_positive(t), "sim": t.sim, "logit": t.logit, "p": t.p }),
                t,
            ),
            json!(t.exp),
            None,
            format!("exp({}) = {}", num(t.logit), lin(t.exp, t.logit)),
        );
    }
    let rest = &others[listed_others..];
    if !rest.is_empty() {
        let log_rest = log_sum(rest.iter().map(|t| t.logit));
        let p_rest: f64 = rest.iter().map(|t| t.p).sum();
        let exp_rest = rest.iter().map(|t| t.exp).sum::<Option<f64>>();
        rows.push(Row {
            cells: vec![
                Math::same(say!(w, rest_label, count = rest.len())),
                Math::same(""),
                Math::same(""),
                Math::figure(lin(exp_rest.filter(|x| x.is_finite()), log_rest)),
                Math::figure(share(p_rest, log_rest - r.log_denominator)),
            ],
            marked: false,
        });
    }
    b.doc.push(Block::Table(Table { head, rows }));
    b.doc
        .push(Block::Note(say!(w, labels_mark, anchor = &anchor)));

    // 3. Each positive's term, and the anchor's loss.
    b.heading(say!(w, h_positives));
    let pos_terms = r.positive_terms.as_deref().unwrap_or_default();
    let log_n = log_sum(others.iter().map(|t| t.logit));
    b.para(if f.pairwise() {
        say!(w, pairwise_terms_text, log_n = fig(num(log_n)))
    } else {
        say!(w, supcon_terms_text, log_d = fig(num(r.log_denominator)))
    });
    let term_head = if f.pairwise() {
        Math::new("L_(a,p)", "L_{(a,p)}")
    } else {
        Math::new("log D(a) − l_p", "\\log D(a) - l_p")
    };
    let head = vec![
        Math::same(say!(w, col_positive)),
        Math::new("sim", "\\mathrm{sim}"),
        Math::new("l_p", "l_{p}"),
        term_head,
    ];
    let rows: Vec<Row> = pos_terms
        .iter()
        .map(|p| Row {
            cells: vec![
                Math::same(format!("z[{}]", p.index)),
                Math::number(p.sim),
                Math::number(p.logit),
                Math::number(p.loss),
            ],
            marked: false,
        })
        .collect();
    b.doc.push(Block::Table(Table { head, rows }));
    for p in pos_terms {
        let written = if f.pairwise() {
            format!(
                "L_(a,p) = log(1 + exp({} − {})) = {}",
                num(log_n),
                num(p.logit),
                num(p.loss)
            )
        } else {
            format!(
                "log D(a) − l_p = {} − {} = {}",
                num(r.log_denominator),
                num(p.logit),
                num(p.loss)
            )
        };
        b.step(
            "positive_term",
            if f.pairwise() {
                "L_(a,p) = −log( exp(l_p) / (exp(l_p) + N(a)) )"
            } else {
                "log D(a) − l_p"
            },
            json!({ "positive": p.index, "sim": p.sim, "logit": p.logit, "log_denominator": r.log_denominator, "log_negatives": log_n }),
            json!(p.loss),
            None,
            &written,
        );
    }
    let count = pos_terms.len();
    let parts: Vec<Math> = pos_terms.iter().map(|p| Math::factor(p.loss)).collect();
    let mean = Math::new(
        format!(
            "L_a = (1/{count}) ({}) = {}",
            Math::sum_of(&parts).plain,
            num(r.loss)
        ),
        format!(
            "L_a = \\frac{{1}}{{{count}}} \\left( {} \\right) = {}",
            Math::sum_of(&parts).tex,
            Math::number(r.loss).tex
        ),
    );
    let text = if f.pairwise() {
        say!(w, pairwise_mean_text, count = count)
    } else {
        say!(w, supcon_mean_text, count = count)
    };
    b.para(text.clone());
    b.doc.push(Block::Math(vec![mean.clone()]));
    b.step(
        "loss",
        "mean over the positives",
        json!({ "terms": pos_terms.iter().map(|p| p.loss).collect::<Vec<_>>() }),
        json!(r.loss),
        None,
        format!("{} {}", plain(&text), mean.plain),
    );
    let best = format!("z[{}]", r.positive);
    let rank = if r.rank == 1 {
        say!(w, rank_labels_first, positive = &best)
    } else {
        say!(
            w,
            rank_labels,
            positive = &best,
            rank = r.rank,
            above = r.rank - 1
        )
    };
    b.para(rank.clone());
    b.step(
        "rank",
        "1 + #{candidates not positives: logit_k > logit of the nearest positive}",
        json!({ "positive": r.positive }),
        json!(r.rank),
        None,
        &rank,
    );

    // 4. The batch.
    b.heading(say!(w, h_batch));
    b.para(say!(w, batch_intro_data));
    let head = vec![
        Math::same(say!(w, col_record)),
        Math::same(say!(w, col_anchor)),
        Math::same(say!(w, col_positives)),
        Math::same(say!(w, col_loss)),
    ];
    let mut order: Vec<usize> = (0..f.report.records.len()).collect();
    const LISTED: usize = 16;
    if order.len() > LISTED {
        order.sort_by(|&a, &c| {
            let rs = &f.report.records;
            (c == f.k)
                .cmp(&(a == f.k))
                .then(rs[c].loss.total_cmp(&rs[a].loss))
        });
        order.truncate(LISTED);
        order.sort_unstable();
    }
    let rows: Vec<Row> = order
        .iter()
        .map(|&k| {
            let rk = &f.report.records[k];
            Row {
                cells: vec![
                    Math::same(k.to_string()),
                    Math::same(format!("z[{}]", rk.anchor)),
                    Math::same(rk.positives.as_ref().map_or(1, Vec::len).to_string()),
                    Math::number(rk.loss),
                ],
                marked: k == f.k,
            }
        })
        .collect();
    b.doc.push(Block::Table(Table { head, rows }));
    let n = f.report.records.len();
    if n > order.len() {
        b.para(say!(
            w,
            batch_more,
            shown_others = order.len() - 1,
            more = n - order.len()
        ));
    }
    let (text, line) = if f.pairwise() {
        let pairs = s.n_positive_pairs.unwrap_or(0);
        (
            say!(
                w,
                mean_pairwise,
                pairs = pairs,
                n = n,
                over_anchors = num(s.loss_mean_over_anchors.unwrap_or(f64::NAN))
            ),
            Math::new(
                format!("L = (1/{pairs}) Σ_(a,p) L_(a,p) = {}", num(s.loss)),
                format!(
                    "L = \\frac{{1}}{{{pairs}}} \\sum_{{(a,p)}} L_{{(a,p)}} = {}",
                    Math::number(s.loss).tex
                ),
            ),
        )
    } else {
        (
            say!(w, mean_supcon, n = n),
            Math::new(
                format!("L = (1/{n}) Σ_a L_a = {}", num(s.loss)),
                format!(
                    "L = \\frac{{1}}{{{n}}} \\sum_a L_a = {}",
                    Math::number(s.loss).tex
                ),
            ),
        )
    };
    b.para(text.clone());
    b.doc.push(Block::Math(vec![line.clone()]));
    b.step(
        "mean_loss",
        &line.plain,
        json!({ "n_anchors": n, "n_positive_pairs": s.n_positive_pairs }),
        json!(s.loss),
        None,
        format!("{} {}", plain(&text), line.plain),
    );
    b.done()
}

#[derive(Serialize)]
struct Document<'a> {
    example: bool,
    input: &'a str,
    labels: &'a str,
    lang: &'static str,
    tau: f64,
    similarity: Similarity,
    multi_positive: Option<MultiPositive>,
    precision: &'static str,
    record_index: usize,
    /// The explained record, field for field as `compute` reports it.
    record: &'a AnchorRecord,
    /// Every candidate's term, in candidate order, as `compute --terms`
    /// reports them.
    terms: &'a [Term],
    mean_loss: f64,
    steps: &'a [Step],
}

fn json_of(f: &Facts, walk: &Walkthrough, lang: &'static str) -> String {
    let s = &f.report.summary;
    let doc = Document {
        example: false,
        input: f.name,
        labels: f.labels,
        lang,
        tau: s.tau,
        similarity: s.similarity,
        multi_positive: s.multi_positive,
        precision: s.precision,
        record_index: f.k,
        record: f.record(),
        terms: f.terms,
        mean_loss: s.loss,
        steps: &walk.steps,
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("the walkthrough serializes");
    out.push('\n');
    out
}
