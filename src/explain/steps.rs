//! The walkthrough built from the [`Facts`]: a document of headings,
//! paragraphs, math and tables for the text and Markdown forms, and the same
//! steps as data for JSON. Both are built in one pass so they cannot drift.
//!
//! Figures are the core's; what is computed here is for reading only: the
//! dot products and norms written out from the vectors, the rounding, and
//! the sums of rounded terms that lead up to a figure of the core.
//!
//! Here is also decided, once for every language, which sentences are said:
//! for the layout, the origin and the figures, a field of the sentence
//! table is picked and said with `say!` (see `words.rs`); a language only
//! gives the templates.
//!
//! A formula is written once, from the pieces of [`Math`] (`Math::sim`,
//! `Math::term`, `Math::frac`, `Math::sum`, `Math::eq`, ...), each of which
//! knows its plain spelling for terminals and JSON and its TeX for Markdown;
//! the ones that sentences quote and steps name are in `formula`, and a
//! sentence gets one as an argument, as inline math ([`im`]).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::words::{Arg, Voice, say};
use super::{FLAT_TAU, Facts, HARD_MARGIN, Names, Origin, Pick, SweepRow, Vector};
use crate::layout::{Direction, LayoutKind};
use crate::loss::{Similarity, Term};
use crate::output::rounded;
use crate::report::{AnchorRecord, NegativesKind};

/// Marks an inline math span in a sentence: plain on a terminal and in
/// JSON, TeX in Markdown.
const MATH_OPEN: char = '\u{E000}';
const MATH_MID: char = '\u{E001}';
const MATH_CLOSE: char = '\u{E002}';

/// A piece of inline math inside a sentence.
pub fn im(m: &Math) -> String {
    format!("{MATH_OPEN}{}{MATH_MID}{}{MATH_CLOSE}", m.plain, m.tex)
}

/// A piece of a sentence: text, a code span (in backticks) or inline math.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span<'a> {
    Text(&'a str),
    Code(&'a str),
    Math { plain: &'a str, tex: &'a str },
}

/// Splits a sentence into text, code spans and inline math.
pub fn spans(s: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let next = rest.find(['`', MATH_OPEN]);
        match next {
            None => {
                out.push(Span::Text(rest));
                break;
            }
            Some(i) => {
                if i > 0 {
                    out.push(Span::Text(&rest[..i]));
                }
                let after = &rest[i..];
                if let Some(code) = after.strip_prefix('`') {
                    match code.find('`') {
                        Some(j) => {
                            out.push(Span::Code(&code[..j]));
                            rest = &code[j + 1..];
                        }
                        None => {
                            out.push(Span::Text(after));
                            break;
                        }
                    }
                } else {
                    let body = &after[MATH_OPEN.len_utf8()..];
                    let end = body.find(MATH_CLOSE).unwrap_or(body.len());
                    let (plain, tex) = body[..end]
                        .split_once(MATH_MID)
                        .unwrap_or((&body[..end], &body[..end]));
                    out.push(Span::Math { plain, tex });
                    rest = body.get(end + MATH_CLOSE.len_utf8()..).unwrap_or("");
                }
            }
        }
    }
    out
}

/// Formulas that the sentences quote and the steps name, each written once
/// in both spellings.
mod formula {
    use super::Math;

    /// ∂L/∂sim.
    pub fn gradient() -> Math {
        Math::new("∂L/∂sim", "\\partial L / \\partial\\, \\mathrm{sim}")
    }

    /// The gradient of a negative's similarity: p_k/τ.
    pub fn grad_negative() -> Math {
        Math::new("p_k/τ", "p_k/\\tau")
    }

    /// The gradient of the positive's similarity: (p − 1)/τ.
    pub fn grad_positive() -> Math {
        Math::new("(p − 1)/τ", "(p - 1)/\\tau")
    }

    /// (s_neg − s_pos)/τ.
    pub fn margin_over_tau() -> Math {
        Math::new(
            "(s_neg − s_pos)/τ",
            "(s_{\\text{neg}} - s_{\\text{pos}})/\\tau",
        )
    }

    /// I(x; y) ≥ log(K+1) − L.
    pub fn cpc_bound() -> Math {
        Math::new("I(x; y) ≥ log(K+1) − L", "I(x; y) \\ge \\log(K+1) - L")
    }

    /// log(K+1).
    pub fn log_k1() -> Math {
        Math::new("log(K+1)", "\\log(K+1)")
    }

    /// `log n = value`, with n a count or the letter n.
    pub fn log_n(n: &str, value: &str) -> Math {
        Math::new(format!("log {n} = {value}"), format!("\\log {n} = {value}"))
    }

    /// `log n − L = a − b = c`.
    pub fn cpc_figure(n: usize, log_n: &str, mean: &str, bound: &str) -> Math {
        Math::new(
            format!("log {n} − L = {log_n} − {mean} = {bound}"),
            format!("\\log {n} - L = {log_n} - {mean} = {bound}"),
        )
    }

    /// The cosine similarity of `a` and `b`: `a·b / (‖a‖ ‖b‖)`.
    pub fn cosine(a: &Math, b: &Math) -> Math {
        let norms = Math::join(&[Math::norm(a), Math::norm(b)], " ", " \\, ");
        Math::frac(&Math::dot(a, b), &norms, true)
    }

    /// The definition of a similarity: `sim(a, b) = a·b`, or the cosine.
    pub fn similarity(cosine: bool, a: &Math, b: &Math) -> Math {
        let value = if cosine {
            self::cosine(a, b)
        } else {
            Math::dot(a, b)
        };
        Math::eq(&[Math::sim(a, b), value])
    }

    /// `L = −log p`.
    pub fn loss() -> Math {
        Math::eq(&[Math::same("L"), Math::new("−log p", "-\\log p")])
    }

    /// `L = log(denominator) − log(numerator)`, in the given words.
    pub fn loss_from_logs(numerator: &str, denominator: &str) -> Math {
        Math::eq(&[
            Math::same("L"),
            Math::minus(
                &Math::log(&Math::text(denominator)),
                &Math::log(&Math::text(numerator)),
            ),
        ])
    }

    /// The log-sum-exp: `m + log Σ_k exp(logit_k − m)`.
    pub fn log_sum_exp() -> Math {
        Math::new(
            "m + log Σ_k exp(logit_k − m)",
            "m + \\log \\sum_k e^{\\text{logit}_k - m}",
        )
    }
}

/// A sentence as plain text: math in its plain spelling, code without
/// backticks.
pub fn plain(s: &str) -> String {
    spans(s)
        .into_iter()
        .map(|sp| match sp {
            Span::Text(t) | Span::Code(t) => t,
            Span::Math { plain, .. } => plain,
        })
        .collect()
}

/// A sentence as plain text whose inline math is kept on one line: the
/// spaces inside math become no-break spaces (U+00A0), which [`wrap`] does
/// not break at and the caller turns back into spaces.
///
/// [`wrap`]: super::text::wrap
pub fn plain_unbroken(s: &str) -> String {
    spans(s)
        .into_iter()
        .map(|sp| match sp {
            Span::Text(t) | Span::Code(t) => t.to_string(),
            Span::Math { plain, .. } => plain.replace(' ', "\u{a0}"),
        })
        .collect()
}

/// Significant digits of the figures shown.
pub const SIG: usize = 6;
/// Vectors up to this dimension are shown in full and their products
/// written out.
const WRITE_OUT_DIM: usize = 8;
/// Components shown at the start and the end of a longer vector.
const HEAD: usize = 4;
const TAIL: usize = 2;
/// Records listed in the batch table; past it, the explained record and the
/// highest losses.
const BATCH_LISTED: usize = 16;
/// Losses written out in the mean's sum.
const MEAN_WRITTEN: usize = 8;
/// Negatives named in the sentence on the heaviest ones.
const HEAVIEST_NAMED: usize = 3;

/// A piece of math in two spellings: plain Unicode for terminals and JSON,
/// TeX for Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Math {
    pub plain: String,
    pub tex: String,
}

impl Math {
    pub fn new(plain: impl Into<String>, tex: impl Into<String>) -> Math {
        Math {
            plain: plain.into(),
            tex: tex.into(),
        }
    }

    /// Text that reads the same in both spellings.
    pub fn same(s: impl Into<String>) -> Math {
        let s = s.into();
        Math {
            tex: s.clone(),
            plain: s,
        }
    }

    /// A figure rounded for reading.
    pub fn number(x: f64) -> Math {
        Math::figure(num(x))
    }

    /// A figure inside a product or a power: negative ones in brackets.
    pub fn factor(x: f64) -> Math {
        let m = Math::number(x);
        if x < 0.0 && m.plain != "0" {
            Math::new(format!("({})", m.plain), format!("({})", m.tex))
        } else {
            m
        }
    }

    // Formulas are built from the pieces below, each of which knows both
    // spellings, so that a formula is written once.

    /// Pieces side by side: `a` then `b`, in both spellings.
    pub fn cat(parts: &[&Math]) -> Math {
        Math {
            plain: parts.iter().map(|m| m.plain.as_str()).collect(),
            tex: parts.iter().map(|m| m.tex.as_str()).collect(),
        }
    }

    /// Pieces with a separator that is spelled differently in each.
    pub fn join(parts: &[Math], plain: &str, tex: &str) -> Math {
        Math {
            plain: parts
                .iter()
                .map(|m| m.plain.as_str())
                .collect::<Vec<_>>()
                .join(plain),
            tex: parts
                .iter()
                .map(|m| m.tex.as_str())
                .collect::<Vec<_>>()
                .join(tex),
        }
    }

    /// `a = b = c`.
    pub fn eq(parts: &[Math]) -> Math {
        Math::join(parts, " = ", " = ")
    }

    /// `= a = b`: an equation that continues the line above.
    pub fn cont(parts: &[Math]) -> Math {
        let m = Math::eq(parts);
        Math::new(format!("= {}", m.plain), format!("= {}", m.tex))
    }

    /// `a = b`, or `a ≈ b` when the figures do not agree to the last digit.
    pub fn equal(a: &Math, b: &Math, exact: bool) -> Math {
        if exact {
            Math::eq(&[a.clone(), b.clone()])
        } else {
            Math::join(&[a.clone(), b.clone()], " ≈ ", " \\approx ")
        }
    }

    /// `a − b`.
    pub fn minus(a: &Math, b: &Math) -> Math {
        Math::join(&[a.clone(), b.clone()], " − ", " - ")
    }

    /// Equations side by side: `a, b` on a line, `a,\quad b` in TeX.
    pub fn also(parts: &[Math]) -> Math {
        Math::join(parts, ", ", ",\\quad ")
    }

    /// A tuple: `(a, b, c)`.
    pub fn tuple(parts: &[Math]) -> Math {
        let m = Math::join(parts, ", ", ", ");
        Math::new(format!("({})", m.plain), format!("({})", m.tex))
    }

    /// `a + b + c`.
    pub fn sum_of(parts: &[Math]) -> Math {
        Math::join(parts, " + ", " + ")
    }

    /// A word inside math: `numerator`, `\text{numerator}`.
    pub fn text(s: &str) -> Math {
        Math::new(s, format!("\\text{{{s}}}"))
    }

    /// τ.
    pub fn tau() -> Math {
        Math::new("τ", "\\tau")
    }

    /// `a / b` on a line, `\frac{a}{b}` in TeX; `paren` brackets a plain
    /// denominator that is a product.
    pub fn frac(a: &Math, b: &Math, paren: bool) -> Math {
        let den = if paren {
            format!("({})", b.plain)
        } else {
            b.plain.clone()
        };
        Math::new(
            format!("{} / {den}", a.plain),
            format!("\\frac{{{}}}{{{}}}", a.tex, b.tex),
        )
    }

    /// `(a) / b` on a line (a sum over something), `\frac{a}{b}` in TeX.
    pub fn frac_of_sum(a: &Math, b: &Math) -> Math {
        Math::new(
            format!("({}) / {}", a.plain, b.plain),
            format!("\\frac{{{}}}{{{}}}", a.tex, b.tex),
        )
    }

    /// `sim(a, b)`.
    pub fn sim(a: &Math, b: &Math) -> Math {
        Math::new(
            format!("sim({}, {})", a.plain, b.plain),
            format!("\\mathrm{{sim}}({}, {})", a.tex, b.tex),
        )
    }

    /// `x/τ`.
    pub fn over_tau(x: &Math) -> Math {
        Math::new(format!("{}/τ", x.plain), format!("{}/\\tau", x.tex))
    }

    /// `exp(x)`.
    pub fn exp(x: &Math) -> Math {
        Math::new(format!("exp({})", x.plain), format!("\\exp({})", x.tex))
    }

    /// `exp(sim(a, b)/τ)`: a term of the denominator.
    pub fn term(a: &Math, b: &Math) -> Math {
        Math::exp(&Math::over_tau(&Math::sim(a, b)))
    }

    /// `log(x)`.
    pub fn log(x: &Math) -> Math {
        Math::new(format!("log({})", x.plain), format!("\\log({})", x.tex))
    }

    /// `e^x` of a figure already rounded: `exp(9)` on a line, `e^{9}` in TeX.
    pub fn exp_figure(x: &Math) -> Math {
        Math::new(format!("exp({})", x.plain), format!("e^{{{}}}", x.tex))
    }

    /// `a·b`.
    pub fn dot(a: &Math, b: &Math) -> Math {
        Math::new(
            format!("{}·{}", a.plain, b.plain),
            format!("{} \\cdot {}", a.tex, b.tex),
        )
    }

    /// `a×b`; `spaced` writes `a × b` on a line.
    pub fn times(a: &Math, b: &Math, spaced: bool) -> Math {
        let op = if spaced { " × " } else { "×" };
        Math::new(
            format!("{}{op}{}", a.plain, b.plain),
            format!("{} \\times {}", a.tex, b.tex),
        )
    }

    /// `‖a‖`.
    pub fn norm(a: &Math) -> Math {
        Math::new(
            format!("‖{}‖", a.plain),
            format!("\\lVert {} \\rVert", a.tex),
        )
    }

    /// `Σ_{sub} body`; `sup`, the upper bound, is written in the plain
    /// subscript by the caller (`k=1..2N`) and as a superscript in TeX.
    pub fn sum(sub: &Math, sup: Option<&str>, body: &Math) -> Math {
        let sup = sup.map_or(String::new(), |hi| format!("^{{{hi}}}"));
        Math::new(
            format!("Σ_{{{}}} {}", sub.plain, body.plain),
            format!("\\sum_{{{}}}{sup} {}", sub.tex, body.tex),
        )
    }

    /// A figure already written as text (`1.5e-7`, `e^1000`, `12.5%`).
    pub fn figure(s: String) -> Math {
        let tex = if s.ends_with('%') && !s.contains('e') {
            s.clone()
        } else {
            tex_num(&s)
        };
        Math { tex, plain: s }
    }
}

/// One part of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    Para(String),
    /// A side remark (dim on a terminal).
    Note(String),
    /// Display math, one equation a line.
    Math(Vec<Math>),
    /// Symbols and what they stand for.
    Legend(Vec<(Math, String)>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub head: Vec<Math>,
    pub rows: Vec<Row>,
}

/// A table row; `marked` rows (the positive, the explained record, the
/// current tau) are emphasised and their first cell gets a `*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Math>,
    pub marked: bool,
}

/// One step as data: what is computed, from what, and the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What the step computes: `formula`, `vector`, `similarity`, `logit`,
    /// `exp`, `rest`, `log_sum_exp`, `numerator`, `denominator`,
    /// `p_positive`, `loss`, `loss_from_logs`, `heaviest_negative`,
    /// `record_loss`, `mean_loss`, `temperature`; with `--labels`,
    /// `positive_term` and `rank`.
    pub name: &'static str,
    /// The formula in plain Unicode.
    pub formula: String,
    pub inputs: Map<String, Value>,
    /// The result, with every digit; `null` when it overflows float64.
    pub value: Value,
    /// The natural log of the result, where the result may overflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_value: Option<f64>,
    /// The step in words, or filled in with the rounded figures.
    pub text: String,
}

/// The whole walkthrough in both shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Walkthrough {
    pub doc: Vec<Block>,
    pub steps: Vec<Step>,
}

/// A walkthrough being written (the InfoNCE one here, the labels one in
/// `labels.rs`): its blocks and steps so far, and its sections' count.
pub(super) struct Draft {
    pub doc: Vec<Block>,
    pub steps: Vec<Step>,
    section: usize,
}

impl Draft {
    pub fn new() -> Draft {
        Draft {
            doc: Vec::new(),
            steps: Vec::new(),
            section: 0,
        }
    }

    /// A numbered section heading.
    pub fn heading(&mut self, title: String) {
        self.section += 1;
        self.doc
            .push(Block::Heading(format!("{}. {title}", self.section)));
    }

    pub fn para(&mut self, s: String) {
        self.doc.push(Block::Para(s));
    }

    /// A step of the JSON output; `text` is rendered plain.
    pub fn step(
        &mut self,
        name: &'static str,
        formula: impl Into<String>,
        inputs: Value,
        value: Value,
        log_value: Option<f64>,
        text: impl AsRef<str>,
    ) {
        self.steps.push(Step {
            name,
            formula: formula.into(),
            inputs: obj(inputs),
            value,
            log_value,
            text: plain(text.as_ref()),
        });
    }

    pub fn done(self) -> Walkthrough {
        Walkthrough {
            doc: self.doc,
            steps: self.steps,
        }
    }
}

/// A figure rounded to [`SIG`] significant digits, trailing zeros dropped.
pub fn num(x: f64) -> String {
    trim(&rounded(x, SIG))
}

fn num_sig(x: f64, sig: usize) -> String {
    trim(&rounded(x, sig))
}

/// Drops trailing zeros of the mantissa: `9.00000` -> `9`, `1.50000e-7` -> `1.5e-7`.
fn trim(s: &str) -> String {
    let (mant, exp) = match s.find('e') {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    format!("{mant}{exp}")
}

/// A figure's TeX: `1.5e-7` -> `1.5 \times 10^{-7}`, `e^1000` -> `e^{1000}`,
/// `e^(1.7629e7)` -> `e^{1.7629 \times 10^{7}}`.
fn tex_num(s: &str) -> String {
    if let Some(pc) = s.strip_suffix('%') {
        return format!("{}\\%", tex_num(pc));
    }
    if let Some(rest) = s.strip_prefix("e^") {
        let rest = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(rest);
        return format!("e^{{{}}}", tex_num(rest));
    }
    match s.split_once('e') {
        Some((m, e)) => format!("{m} \\times 10^{{{e}}}"),
        None => s.to_string(),
    }
}

/// e^x written out: `e^1000`, or `e^(1.7629e7)` when x is in scientific
/// notation itself.
pub(super) fn e_pow(x: f64) -> String {
    let s = num(x);
    if s.contains('e') {
        format!("e^({s})")
    } else {
        format!("e^{s}")
    }
}

/// A value that may have left float64's range: the number, or e^log when
/// it overflowed or underflowed to 0.
pub(super) fn lin(v: Option<f64>, log: f64) -> String {
    match v {
        Some(v) if v != 0.0 || log == f64::NEG_INFINITY => num(v),
        _ => e_pow(log),
    }
}

/// The log of the sum the softmax shares are of: the denominator, or under
/// `--decoupled` numerator + denominator, `log_numerator − log p` (where p
/// underflows, the loss is so large that `−log p` equals it in float64).
fn log_total(r: &AnchorRecord, decoupled: bool) -> f64 {
    match decoupled {
        false => r.log_denominator,
        true if r.p_positive > 0.0 => r.log_numerator - r.p_positive.ln(),
        true => r.log_numerator + r.loss,
    }
}

/// p, or e^-loss where p underflows to 0.
fn p_figure(p: f64, loss: f64) -> Math {
    Math::figure(lin(Some(p), -loss))
}

/// A share of the denominator as a percentage, or e^log_p where it
/// underflows to 0.
pub(super) fn share(p: f64, log_p: f64) -> String {
    if p > 0.0 || log_p == f64::NEG_INFINITY {
        pct(p)
    } else {
        e_pow(log_p)
    }
}

/// A figure for a sentence: as it is, or as inline math when it is a
/// power of e or in scientific notation (so that Markdown shows it as math).
pub(super) fn fig(s: String) -> String {
    if s.contains('e') {
        im(&Math::figure(s))
    } else {
        s
    }
}

/// A share as a percentage.
pub(super) fn pct(p: f64) -> String {
    format!("{}%", num(p * 100.0))
}

/// p with as many digits as it takes for -log of the shown value to give
/// the shown loss (p close to 1 needs more than [`SIG`]).
fn p_for_loss(p: f64, loss: f64) -> String {
    let want = num(loss);
    (SIG..=17)
        .map(|sig| num_sig(p, sig))
        .find(|s| s.parse::<f64>().is_ok_and(|v| num(-v.ln()) == want))
        .unwrap_or_else(|| num_sig(p, 17))
}

/// log(denominator) and log(numerator) with as many decimals as it takes for
/// their difference to give the shown loss; false when no number of
/// decimals does (a tiny loss next to large logs).
fn logs_for_loss(log_d: f64, log_n: f64, loss: f64) -> (String, String, bool) {
    let want = num(loss);
    let big = log_d.abs().max(log_n.abs()).max(1.0);
    let first = (SIG as i64 - 1 - big.log10().floor() as i64).max(0) as usize;
    let show = |dec: usize| (format!("{log_d:.dec$}"), format!("{log_n:.dec$}"));
    for dec in first..=17 {
        let (a, b) = show(dec);
        let diff = a.parse::<f64>().unwrap_or(f64::NAN) - b.parse::<f64>().unwrap_or(f64::NAN);
        if num(diff) == want {
            return (a, b, true);
        }
    }
    let (a, b) = show(first);
    (a, b, false)
}

/// A step's inputs with the file of its candidate, `from` as the core marks
/// the term (only in runs with `--negatives`).
pub(super) fn with_from(mut v: Value, t: &Term) -> Value {
    if let (Some(from), Value::Object(m)) = (t.from, &mut v) {
        m.insert("from".into(), json!(from));
    }
    v
}

pub(super) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("steps' inputs are objects"),
    }
}

/// The arrangement a formula is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One file, rows i and i+N are the two views of item i.
    TwoView,
    /// One file, positives from a pairs file.
    Pairs,
    /// Queries and keys; `backward` for a key-to-query record.
    Keys { backward: bool },
}

/// Which terms a record's denominator holds: the flags as the core applied
/// them to the record.
#[derive(Debug, Clone, Copy)]
struct DenominatorKind {
    /// Extra negatives the record sees (`--negatives`).
    extra: Option<NegativesKind>,
    /// The layout's own candidates stay (no `--no-in-batch`).
    in_batch: bool,
    /// The positive's term leaves the denominator (`--decoupled`).
    decoupled: bool,
}

/// The symbol of an extra negative in a formula: `n_m` for a shared file,
/// `n_{i,m}` for anchor `i`'s own.
fn extra_symbol(kind: NegativesKind, anchor: &str) -> Math {
    match kind {
        NegativesKind::Shared => Math::same("n_m"),
        NegativesKind::PerAnchor => Math::same(format!("n_{{{anchor},m}}")),
    }
}

/// Builds the walkthrough.
pub fn build(facts: &Facts, voice: &Voice) -> Walkthrough {
    let mut b = Builder {
        f: facts,
        w: voice,
        out: Draft::new(),
    };
    b.intro();
    b.formula();
    b.similarities();
    b.terms();
    b.ratio();
    b.loss();
    // The decoupled loss is no cross-entropy over the candidates, its
    // gradient text and the CPC bound are those of InfoNCE: not said.
    let decoupled = facts.report.summary.decoupled;
    if !decoupled {
        b.classification();
        b.gradient();
    }
    b.hard_negative();
    b.batch();
    b.temperature();
    if !decoupled {
        b.name();
    }
    b.out.done()
}

struct Builder<'a> {
    f: &'a Facts,
    w: &'a Voice,
    out: Draft,
}

impl Builder<'_> {
    /// A step's text: the last paragraph and the line that follows it.
    fn told(&self, line: &str) -> String {
        match self.out.doc.iter().rev().find_map(|b| match b {
            Block::Para(p) => Some(p),
            _ => None,
        }) {
            Some(p) => format!("{} {line}", plain(p)),
            None => line.to_string(),
        }
    }

    fn math(&mut self, lines: Vec<Math>) {
        self.out.doc.push(Block::Math(lines));
    }

    fn shape(&self) -> Shape {
        let f = self.f;
        match f.report.summary.layout {
            LayoutKind::TwoView => Shape::TwoView,
            LayoutKind::Pairs | LayoutKind::Labels => Shape::Pairs,
            LayoutKind::Keys => Shape::Keys {
                backward: f.record().direction == Some(Direction::KeyToQuery),
            },
        }
    }

    fn tau(&self) -> String {
        num(self.f.report.summary.tau)
    }

    fn similarity(&self) -> Similarity {
        self.f.report.summary.similarity
    }

    /// A candidate's name with its marks (tie, duplicate).
    fn marked_label(&self, v: &Vector) -> Math {
        let (f, w) = (self.f, self.w);
        let (index, label) = (v.row, &v.label);
        let mut marks = Vec::new();
        if v.from_negatives {
            marks.push(say!(w, mark_negatives));
        } else if f.breakdown.ties.contains(&index) && !f.duplicates.contains(&index) {
            marks.push(say!(w, mark_tie));
        }
        if !v.from_negatives && f.duplicates.contains(&index) {
            marks.push(say!(w, mark_duplicate));
        }
        if marks.is_empty() {
            label.clone()
        } else {
            let m = marks.join(", ");
            Math::new(
                format!("{} ({m})", label.plain),
                format!("{} \\ \\text{{({m})}}", label.tex),
            )
        }
    }

    /// The similarity's name.
    fn similarity_name(&self) -> String {
        match self.similarity() {
            Similarity::Cosine => say!(self.w, sim_cosine),
            Similarity::Dot => say!(self.w, sim_dot),
        }
    }

    /// What `--negatives`, `--no-in-batch` and `--decoupled` change, as
    /// the report has it.
    fn objective(&mut self) {
        let (f, w) = (self.f, self.w);
        let s = &f.report.summary;
        let file = match &f.origin {
            Origin::Data { negatives, .. } => negatives.clone().unwrap_or_default(),
            Origin::Example => String::new(),
        };
        let mut said = Vec::new();
        let record_sees = f.record().direction != Some(Direction::KeyToQuery);
        match (s.negatives, s.n_negatives) {
            (Some(NegativesKind::Shared), Some(m)) if record_sees => {
                said.push(say!(w, objective_shared, count = m, file = &file));
            }
            (Some(NegativesKind::PerAnchor), Some(m)) if record_sees => {
                said.push(say!(w, objective_per_anchor, count = m, file = &file));
            }
            _ => {}
        }
        if s.in_batch == Some(false) {
            said.push(say!(w, objective_no_in_batch));
        }
        if s.decoupled {
            said.push(say!(w, objective_decoupled));
        }
        if !said.is_empty() {
            self.out.para(w.sentences(&said));
        }
    }

    /// The title and the opening paragraphs: the data, the settings and
    /// the record.
    fn intro(&mut self) {
        let (f, w) = (self.f, self.w);
        let s = &f.report.summary;
        let anchor = &f.anchor.label.plain;
        let positive = &f.breakdown.positive().vector.label.plain;
        let (tau, similarity) = (self.tau(), self.similarity_name());
        match &f.origin {
            Origin::Example => {
                self.out
                    .doc
                    .push(Block::Title(say!(w, title_example, anchor = anchor)));
                self.out
                    .para(say!(w, intro_example, tau = &tau, similarity = similarity));
                self.out.para(say!(
                    w,
                    intro_example_anchor,
                    anchor = anchor,
                    positive = positive
                ));
            }
            Origin::Data {
                name, pairs, keys, ..
            } => {
                self.out.doc.push(Block::Title(say!(
                    w,
                    title_data,
                    anchor = anchor,
                    name = name
                )));
                let both = |text: String| if s.symmetric { text } else { String::new() };
                let layout = match s.layout {
                    LayoutKind::TwoView => say!(w, layout_two_view, half = f.rows.0 / 2),
                    LayoutKind::Pairs | LayoutKind::Labels => say!(
                        w,
                        layout_pairs,
                        file = pairs.as_deref().unwrap_or("the pairs file"),
                        both = both(say!(w, pairs_both)),
                    ),
                    LayoutKind::Keys => say!(
                        w,
                        layout_keys,
                        file = keys.as_deref().unwrap_or("the keys file"),
                        rows = f.rows.1,
                        both = both(say!(w, keys_both)),
                    ),
                };
                let precision = match s.precision {
                    "f32" => say!(w, precision_f32),
                    _ => say!(w, precision_f64),
                };
                self.out.para(say!(
                    w,
                    intro_data,
                    name = name,
                    rows = f.rows.0,
                    dimension = s.dimension,
                    layout = layout,
                    tau = &tau,
                    similarity = similarity,
                    precision = precision,
                ));
                let naming = match s.layout {
                    LayoutKind::Keys => say!(w, naming_keys),
                    _ => say!(w, naming_rows),
                };
                self.out.para(say!(
                    w,
                    intro_record,
                    anchor = anchor,
                    record = f.record,
                    positive = positive,
                    terms = f.breakdown.n,
                    negatives = f.breakdown.n - 1,
                    naming = naming,
                ));
            }
        }
        self.objective();
        if let Some(p) = self.picked() {
            self.out.para(p);
        }
        self.out.doc.push(Block::Note(say!(w, rounding, sig = SIG)));
    }

    /// Which record was taken, and which others the same row anchors.
    fn picked(&self) -> Option<String> {
        let (f, w) = (self.f, self.w);
        let recs = &f.report.records;
        let others: Vec<String> = f
            .others
            .iter()
            .map(|&k| {
                let r = &recs[k];
                let way = match r.direction {
                    Some(Direction::KeyToQuery) => say!(w, way_key_to_query),
                    Some(Direction::QueryToKey) => say!(w, way_query_to_key),
                    None => String::new(),
                };
                say!(
                    w,
                    other_record,
                    record = k,
                    anchor = f.names.anchor(r).plain,
                    positive = f.names.candidate(r, r.positive).plain,
                    way = way,
                )
            })
            .collect();
        let has_others = !others.is_empty();
        let tail = if has_others {
            say!(w, also_anchors, others = Arg::List(others))
        } else {
            String::new()
        };
        match f.pick {
            Pick::Default => Some(w.sentences(&[say!(w, picked_default), tail])),
            Pick::Anchor if has_others => {
                Some(w.sentences(&[say!(w, picked_first, record = f.record), tail]))
            }
            _ => None,
        }
    }

    /// The range of an index in the formulas: `k=1..2N` or `k=0..2N−1`.
    fn range(&self, bound: &str) -> (String, String, String) {
        let base = self.f.names.base();
        if base == 1 {
            ("1".into(), bound.into(), bound.into())
        } else {
            ("0".into(), format!("{bound}−1"), format!("{bound}-1"))
        }
    }

    /// Which terms the record's denominator holds, as the report has it.
    fn denominator_kind(&self) -> DenominatorKind {
        let f = self.f;
        let s = &f.report.summary;
        // The key-to-query records of `--symmetric` see no extra negative.
        let sees = f.record().direction != Some(Direction::KeyToQuery);
        DenominatorKind {
            extra: s.negatives.filter(|_| sees),
            in_batch: s.in_batch != Some(false),
            decoupled: s.decoupled,
        }
    }

    /// What a share of the terms' table is of: the denominator, or under
    /// `--decoupled` the numerator and the denominator together.
    fn whole(&self) -> String {
        if self.f.report.summary.decoupled {
            say!(self.w, whole_softmax)
        } else {
            say!(self.w, whole_denominator)
        }
    }

    fn formula(&mut self) {
        let w = self.w;
        let shape = self.shape();
        let kind = self.denominator_kind();
        self.out.heading(say!(w, h_formula));
        let (a, p, k, bound) = match shape {
            Shape::TwoView => ("z", "z", "z", "2N"),
            Shape::Pairs => ("z", "z", "z", "R"),
            Shape::Keys { backward: false } => ("q", "k", "k", "N"),
            Shape::Keys { backward: true } => ("k", "q", "q", "N"),
        };
        let (lo, hi_plain, hi_tex) = self.range(bound);
        let one_file = !matches!(shape, Shape::Keys { .. });
        let (pi, ki) = if one_file { ("j", "k") } else { ("i", "j") };
        let ai = Math::same(format!("{a}_i"));
        let numerator = Math::term(&ai, &Math::same(format!("{p}_{pi}")));
        let term_k = Math::term(&ai, &Math::same(format!("{k}_{ki}")));
        let range = Math::new(format!("{ki}={lo}..{hi_plain}"), format!("{ki}={lo}"));
        // The in-batch candidates: every row but the anchor (and but the
        // positive, decoupled); without them the positive's term alone, or
        // nothing, decoupled.
        let indicator = match (one_file, kind.decoupled) {
            (true, false) => Some(Math::new(
                format!("1[{ki}≠i]"),
                format!("\\mathbf{{1}}_{{[{ki} \\neq i]}}"),
            )),
            (true, true) => Some(Math::new(
                format!("1[{ki}≠i, {pi}]"),
                format!("\\mathbf{{1}}_{{[{ki} \\neq i,\\, {pi}]}}"),
            )),
            (false, true) => Some(Math::new(
                format!("1[{ki}≠i]"),
                format!("\\mathbf{{1}}_{{[{ki} \\neq i]}}"),
            )),
            (false, false) => None,
        };
        let mut parts = Vec::new();
        if kind.in_batch {
            let body = match &indicator {
                Some(ind) => Math::join(&[ind.clone(), term_k], " · ", " "),
                None => term_k,
            };
            parts.push(Math::sum(&range, Some(&hi_tex), &body));
        } else if !kind.decoupled {
            parts.push(numerator.clone());
        }
        let extra = kind.extra.map(|k| {
            let n = extra_symbol(k, "i");
            let m_range = Math::new("m=0..M−1", "m=0");
            (Math::sum(&m_range, Some("M-1"), &Math::term(&ai, &n)), n, k)
        });
        if let Some((sum_m, ..)) = &extra {
            parts.push(sum_m.clone());
        }
        let sum = Math::sum_of(&parts);
        // On a line, a denominator of several sums is bracketed.
        let sum_plain = if parts.len() > 1 {
            format!("({})", sum.plain)
        } else {
            sum.plain.clone()
        };
        let formula = Math::new(
            format!("L_i = −log( {} / {sum_plain} )", numerator.plain),
            format!("L_i = -\\log {}", Math::frac(&numerator, &sum, false).tex),
        );
        self.math(vec![formula.clone()]);
        let more = if extra.is_some() {
            say!(w, den_extra)
        } else {
            String::new()
        };
        let denominator_text = match (kind.in_batch, kind.decoupled, one_file) {
            (true, false, true) => say!(w, sym_denominator_rows, extra = &more),
            (true, false, false) => say!(w, sym_denominator_keys, extra = &more),
            (true, true, true) => say!(w, sym_denominator_rows_decoupled, extra = &more),
            (true, true, false) => say!(w, sym_denominator_keys_decoupled, extra = &more),
            (false, false, _) => say!(w, sym_denominator_no_in_batch),
            (false, true, _) => say!(w, sym_denominator_negatives_only),
        };
        let mut legend = vec![
            (Math::same("L_i"), say!(w, sym_loss)),
            (numerator, say!(w, sym_numerator)),
            (sum, denominator_text),
            (Math::tau(), say!(w, sym_tau)),
        ];
        if let Some(ind) = indicator.filter(|_| kind.in_batch) {
            let text = match (one_file, kind.decoupled) {
                (true, true) => say!(w, sym_indicator_decoupled),
                (false, true) => say!(w, sym_indicator_keys_decoupled),
                _ => say!(w, sym_indicator),
            };
            legend.push((ind, text));
        }
        let (u, v) = (Math::same("u"), Math::same("v"));
        let sim = match self.similarity() {
            Similarity::Cosine => say!(
                w,
                sym_cosine,
                formula = im(&formula::similarity(true, &u, &v))
            ),
            Similarity::Dot => say!(
                w,
                sym_dot,
                formula = im(&formula::similarity(false, &u, &v))
            ),
        };
        legend.push((Math::new("sim", "\\mathrm{sim}"), sim));
        let positive = if one_file {
            Math::same(format!("{p}_{pi}"))
        } else {
            Math::same(format!("{a}_i, {p}_i"))
        };
        let zi = im(&Math::same("z_i"));
        let positive_text = match shape {
            Shape::TwoView => say!(w, sym_positive_two_view, zi = &zi),
            Shape::Pairs => say!(w, sym_positive_pairs, zi = &zi),
            Shape::Keys { backward: false } => say!(w, sym_positive_query),
            Shape::Keys { backward: true } => say!(w, sym_positive_key),
        };
        legend.push((positive, positive_text));
        if let Some((_, n, k)) = extra {
            let text = match k {
                NegativesKind::Shared => say!(w, sym_extra_shared),
                NegativesKind::PerAnchor => say!(w, sym_extra_per_anchor, a = "i"),
            };
            legend.push((n, text));
        }
        let negatives = if one_file {
            Math::new(
                format!("{k}_{ki}, {ki} ≠ i, {pi}"),
                format!("{k}_{ki}, {ki} \\neq i, {pi}"),
            )
        } else {
            Math::new(
                format!("{k}_{ki}, {ki} ≠ i"),
                format!("{k}_{ki}, {ki} \\neq i"),
            )
        };
        // Without the in-batch candidates the extra negatives are all the
        // negatives, as their own line says.
        if kind.in_batch {
            legend.push((negatives, say!(w, sym_negatives)));
        }
        let batch = match shape {
            Shape::TwoView => say!(w, sym_batch_two_view),
            Shape::Pairs => say!(w, sym_batch_pairs),
            Shape::Keys { .. } => say!(w, sym_batch_keys),
        };
        legend.push((Math::same(bound), batch));
        self.out.doc.push(Block::Legend(legend));
        let numbering = if self.f.names == Names::Example {
            say!(w, numbering_one_based)
        } else {
            say!(w, numbering_zero_based)
        };
        let simclr = if shape == Shape::TwoView {
            say!(w, numbering_simclr)
        } else {
            String::new()
        };
        self.out.para(w.sentences(&[numbering, simclr]));
        let s = &self.f.report.summary;
        self.out.step(
            "formula",
            formula.plain,
            json!({
                "tau": s.tau,
                "similarity": s.similarity,
                "layout": s.layout,
                "n_candidates": self.f.breakdown.n,
                "first_index": self.f.names.base(),
            }),
            Value::Null,
            None,
            if kind.decoupled {
                say!(w, formula_text_decoupled)
            } else {
                say!(w, formula_text)
            },
        );
    }

    /// A vector as `(1, 0, 0.5)`, or its first and last components.
    fn vector_math(v: &Vector) -> Math {
        let d = v.values.len();
        let parts: Vec<String> = if d <= WRITE_OUT_DIM {
            v.values.iter().map(|&x| num(x)).collect()
        } else {
            let mut p: Vec<String> = v.values[..HEAD].iter().map(|&x| num(x)).collect();
            p.push("…".into());
            p.extend(v.values[d - TAIL..].iter().map(|&x| num(x)));
            p
        };
        let tex: Vec<String> = parts
            .iter()
            .map(|s| {
                if s == "…" {
                    "\\ldots".into()
                } else {
                    tex_num(s)
                }
            })
            .collect();
        Math::new(
            format!("{} = ({})", v.label.plain, parts.join(", ")),
            format!("{} = ({})", v.label.tex, tex.join(", ")),
        )
    }

    /// `a·b = 1×0.9 + 0×0.3 = 0.9` (written out for short vectors).
    fn dot_math(a: &Vector, b: &Vector, dot: f64) -> Math {
        let lhs = Math::dot(&a.label, &b.label);
        let value = Math::number(dot);
        if a.values.len() <= WRITE_OUT_DIM {
            let products: Vec<Math> = a
                .values
                .iter()
                .zip(&b.values)
                .map(|(&x, &y)| Math::times(&Math::factor(x), &Math::factor(y), false))
                .collect();
            Math::eq(&[lhs, Math::sum_of(&products), value])
        } else {
            Math::eq(&[lhs, value])
        }
    }

    /// `‖a‖ = √(1² + 0²) = 1`.
    fn norm_math(a: &Vector, norm: f64) -> Math {
        let lhs = Math::norm(&a.label);
        let value = Math::number(norm);
        if a.values.len() > WRITE_OUT_DIM {
            return Math::eq(&[lhs, value]);
        }
        let sum_sq = a.values.iter().map(|x| x * x).sum::<f64>();
        let squares: Vec<Math> = a
            .values
            .iter()
            .map(|&x| {
                let m = Math::factor(x);
                Math::new(format!("{}²", m.plain), format!("{}^2", m.tex))
            })
            .collect();
        let squares = Math::sum_of(&squares);
        let s = Math::number(sum_sq);
        Math::eq(&[
            lhs,
            Math::new(
                format!("√({})", squares.plain),
                format!("\\sqrt{{{}}}", squares.tex),
            ),
            Math::new(format!("√{}", s.plain), format!("\\sqrt{{{}}}", s.tex)),
            value,
        ])
    }

    fn similarities(&mut self) {
        let (f, w) = (self.f, self.w);
        self.out.heading(say!(w, h_similarities));
        let d = f.anchor.values.len();
        let long = d > WRITE_OUT_DIM;
        let which = if f.breakdown.rest.is_some() {
            say!(w, which_some)
        } else {
            say!(w, which_all)
        };
        self.out.para(if long {
            say!(w, vectors_long, which = which, dim = d)
        } else {
            say!(w, vectors_full, which = which)
        });
        let vectors: Vec<&Vector> = std::iter::once(&f.anchor)
            .chain(f.breakdown.listed.iter().map(|l| &l.vector))
            .collect();
        let shown: Vec<Math> = vectors.iter().map(|v| Self::vector_math(v)).collect();
        for (v, m) in vectors.iter().zip(&shown) {
            self.out.step(
                "vector",
                v.label.plain.clone(),
                json!({ "label": v.label.plain, "row": v.row }),
                json!(v.values),
                None,
                m.plain.clone(),
            );
        }
        self.math(shown);
        let sim = self.similarity();
        let a = &f.anchor;
        let pos = f.breakdown.positive();
        let written = Math::sim(&a.label, &pos.vector.label);
        let how = if long {
            say!(w, sim_long, written = &written.plain)
        } else {
            say!(w, sim_written, written = &written.plain)
        };
        self.out.para(match sim {
            Similarity::Cosine => say!(w, sim_cosine_intro, how = how),
            Similarity::Dot => say!(w, sim_dot_intro, how = how),
        });
        let norm = |v: &Vector| v.values.iter().map(|x| x * x).sum::<f64>().sqrt();
        let dot_of = |c: &Vector| -> f64 {
            // The dot product in index order in float64, as written out.
            a.values.iter().zip(&c.values).map(|(x, y)| x * y).sum()
        };
        let norm_a = norm(a);
        // The positive's product written out in full, once.
        {
            let c = &pos.vector;
            let (dot, norm_c) = (dot_of(c), norm(c));
            let value = Math::number(pos.term.sim);
            let mut lines = Vec::new();
            if sim == Similarity::Cosine {
                lines.push(Self::norm_math(a, norm_a));
                lines.push(Self::norm_math(c, norm_c));
            }
            lines.push(Self::dot_math(a, c, dot));
            if sim == Similarity::Cosine {
                let (dm, na, nc) = (
                    Math::number(dot),
                    Math::number(norm_a),
                    Math::number(norm_c),
                );
                let ratio = Math::frac(&dm, &Math::times(&na, &nc, true), true);
                lines.push(Math::eq(&[written.clone(), ratio, value]));
            } else {
                lines.push(Math::eq(&[written.clone(), value]));
            }
            self.math(lines);
        }
        // The rest as results.
        let mut head = vec![Math::same(say!(w, col_candidate))];
        if sim == Similarity::Cosine {
            let c = Math::same("c");
            head.push(Math::dot(&a.label, &c));
            head.push(Math::norm(&c));
        }
        head.push(Math::sim(&a.label, &Math::same("c")));
        let mut rows = Vec::new();
        for l in &f.breakdown.listed {
            let c = &l.vector;
            let (dot, norm_c) = (dot_of(c), norm(c));
            let lhs = Math::sim(&a.label, &c.label);
            let mut cells = vec![self.marked_label(c)];
            let cosine = sim == Similarity::Cosine;
            let inputs = if cosine {
                cells.push(Math::number(dot));
                cells.push(Math::number(norm_c));
                with_from(
                    json!({
                        "candidate": c.row,
                        "label": c.label.plain,
                        "dot": dot,
                        "norm_anchor": norm_a,
                        "norm_candidate": norm_c,
                    }),
                    &l.term,
                )
            } else {
                with_from(
                    json!({ "candidate": c.row, "label": c.label.plain, "dot": dot }),
                    &l.term,
                )
            };
            let formula = formula::similarity(cosine, &a.label, &c.label).plain;
            cells.push(Math::number(l.term.sim));
            rows.push(Row {
                cells,
                marked: l.positive,
            });
            let text = format!("{} = {}", lhs.plain, num(l.term.sim));
            self.out
                .step("similarity", formula, inputs, json!(l.term.sim), None, text);
        }
        self.out.para(say!(w, sim_rest));
        self.out.doc.push(Block::Table(Table { head, rows }));
    }

    fn terms(&mut self) {
        let (f, w) = (self.f, self.w);
        let log_form = f.log_form();
        let bd = &f.breakdown;
        let r = f.record();
        let tau = f.report.summary.tau;
        let m = bd.max_logit;
        self.out.heading(say!(w, h_terms));
        self.out.para(if f.report.summary.decoupled {
            say!(w, terms_intro_decoupled, tau = self.tau())
        } else {
            say!(w, terms_intro, tau = self.tau())
        });
        if let Some(rest) = &bd.rest {
            let listed = bd.listed.len() - 1;
            self.out.para(if listed == 0 {
                say!(w, terms_positive_only, negatives = bd.n - 1)
            } else {
                say!(
                    w,
                    terms_listed,
                    listed = listed,
                    negatives = bd.n - 1,
                    rest = rest.count,
                )
            });
        }
        let mut head = vec![
            Math::same(say!(w, col_candidate)),
            Math::new("sim", "\\mathrm{sim}"),
            Math::new("logit = sim/τ", "\\text{logit} = \\mathrm{sim}/\\tau"),
            Math::new("exp(logit)", "e^{\\text{logit}}"),
        ];
        if log_form {
            head.push(Math::new("exp(logit − m)", "e^{\\text{logit} - m}"));
        }
        head.push(Math::same(say!(w, col_share)));
        head.push(formula::gradient());
        let mut rows = Vec::new();
        for l in &bd.listed {
            let t = &l.term;
            // Decoupled: L = log(sum of the negatives' terms) − logit, so
            // the positive's gradient is −1/τ and a negative's its share of
            // the negatives' sum over τ.
            let grad = match (l.positive, f.report.summary.decoupled) {
                (true, false) => -bd.negatives_share / tau,
                (false, false) => t.p / tau,
                (true, true) => -1.0 / tau,
                (false, true) => t.p / bd.negatives_share / tau,
            };
            let mut cells = vec![
                self.marked_label(&l.vector),
                Math::number(t.sim),
                Math::number(t.logit),
                Math::figure(lin(t.exp, t.logit)),
            ];
            if log_form {
                let x = t.logit - m;
                cells.push(Math::figure(lin(Some(x.exp()), x)));
            }
            cells.push(Math::figure(share(
                t.p,
                t.logit - log_total(r, self.f.report.summary.decoupled),
            )));
            cells.push(Math::number(grad));
            rows.push(Row {
                cells,
                marked: l.positive,
            });
            let c = &l.vector.label.plain;
            let sim = Math::sim(&f.anchor.label, &l.vector.label).plain;
            self.out.step(
                "logit",
                Math::over_tau(&Math::sim(&f.anchor.label, &l.vector.label)).plain,
                with_from(json!({ "candidate": t.index, "label": c, "positive": l.positive, "sim": t.sim, "tau": tau }), t),
                json!(t.logit),
                None,
                format!("{sim}/τ = {} / {} = {}", num(t.sim), self.tau(), num(t.logit)),
            );
            self.out.step(
                "exp",
                Math::term(&f.anchor.label, &l.vector.label).plain,
                with_from(json!({ "candidate": t.index, "label": c, "positive": l.positive, "logit": t.logit, "p": t.p }), t),
                json!(t.exp),
                Some(t.logit),
                format!("exp({}) = {}", num(t.logit), lin(t.exp, t.logit)),
            );
            self.out.step(
                "gradient",
                Math::eq(&[
                    formula::gradient(),
                    match (l.positive, f.report.summary.decoupled) {
                        (true, false) => formula::grad_positive(),
                        (false, false) => formula::grad_negative(),
                        (true, true) => Math::new("−1/τ", "-1/\\tau"),
                        (false, true) => Math::new("q_k/τ", "q_k/\\tau"),
                    },
                ])
                .plain,
                with_from(json!({ "candidate": t.index, "label": c, "positive": l.positive, "p": t.p, "tau": tau }), t),
                json!(grad),
                None,
                format!("∂L/∂{sim} = {}", num(grad)),
            );
        }
        if let Some(rest) = &bd.rest {
            let rest_sum = lin(rest.exp_sum, rest.log_sum);
            let rest_share = share(
                rest.share,
                rest.log_sum - log_total(r, self.f.report.summary.decoupled),
            );
            let line = say!(
                w,
                rest_line,
                count = rest.count,
                sum = &rest_sum,
                share = &rest_share,
                whole = self.whole(),
            );
            let mut cells = vec![
                Math::same(say!(w, rest_label, count = rest.count)),
                Math::same(""),
                Math::same(""),
                Math::figure(rest_sum.clone()),
            ];
            if log_form {
                let x = rest.log_sum - m;
                cells.push(Math::figure(lin(Some(x.exp()), x)));
            }
            cells.push(Math::figure(rest_share));
            cells.push(Math::number(rest.share / tau));
            rows.push(Row {
                cells,
                marked: false,
            });
            self.out.step(
                "rest",
                "Σ_{k not listed} exp(logit_k)",
                json!({ "count": rest.count, "share": rest.share }),
                json!(rest.exp_sum),
                Some(rest.log_sum),
                line,
            );
        }
        self.out.doc.push(Block::Table(Table { head, rows }));
        let pos = bd.positive();
        let mark = say!(
            w,
            positive_mark,
            anchor = &f.anchor.label.plain,
            positive = &pos.vector.label.plain,
        );
        let m = if log_form {
            say!(w, max_logit_mark)
        } else {
            String::new()
        };
        let shares = if f.report.summary.decoupled {
            say!(w, share_decoupled)
        } else {
            String::new()
        };
        self.out
            .doc
            .push(Block::Note(w.sentences(&[mark, m, shares])));
    }

    fn ratio(&mut self) {
        let (f, w) = (self.f, self.w);
        let r = f.record();
        let bd = &f.breakdown;
        let pos = bd.positive();
        let pl = &pos.vector.label;
        let al = &f.anchor.label;
        self.out.heading(say!(w, h_ratio));
        let numerator = Math::term(al, pl);
        // The candidates' index and symbol, as in the formula; a sum over one
        // file leaves the anchor out.
        // The terms as the formula has them: the in-batch candidates (but
        // the positive, decoupled), or the positive alone without them; then
        // the extra negatives.
        let kind = self.denominator_kind();
        let i = f.anchor.row + f.names.base();
        let j = pos.vector.row + f.names.base();
        let mut sums = Vec::new();
        if kind.in_batch {
            let (sub, cs) = match (self.shape(), kind.decoupled) {
                (Shape::Keys { backward }, false) => {
                    (Math::same("j"), if backward { "q_j" } else { "k_j" })
                }
                (Shape::Keys { backward }, true) => (
                    Math::new(format!("j≠{j}"), format!("j \\neq {j}")),
                    if backward { "q_j" } else { "k_j" },
                ),
                (_, false) => (Math::new(format!("k≠{i}"), format!("k \\neq {i}")), "z_k"),
                (_, true) => (
                    Math::new(format!("k≠{i}, {j}"), format!("k \\neq {i}, {j}")),
                    "z_k",
                ),
            };
            sums.push(Math::sum(&sub, None, &Math::term(al, &Math::same(cs))));
        } else if !kind.decoupled {
            sums.push(numerator.clone());
        }
        if let Some(k) = kind.extra {
            let n = extra_symbol(k, &f.anchor.row.to_string());
            sums.push(Math::sum(&Math::same("m"), None, &Math::term(al, &n)));
        }
        let denominator = Math::sum_of(&sums);
        let denominator_formula = denominator.plain.clone();
        let decoupled = kind.decoupled;
        if !f.log_form() {
            let (n, d) = (
                r.numerator.expect("not in log form"),
                r.denominator.expect("not in log form"),
            );
            let (nm, dm, pm) = (Math::number(n), Math::number(d), Math::number(r.p_positive));
            let logit = Math::number(r.logit);
            self.out.para(say!(
                w,
                numerator_text,
                anchor = &al.plain,
                positive = &pl.plain
            ));
            let line = Math::eq(&[numerator.clone(), Math::exp_figure(&logit), nm.clone()]);
            self.math(vec![line.clone()]);
            self.out.step(
                "numerator",
                numerator.plain.clone(),
                json!({ "logit": r.logit }),
                json!(n),
                Some(r.log_numerator),
                self.told(&line.plain),
            );
            // The decoupled denominator leaves the positive out.
            let mut parts: Vec<Math> = bd
                .listed
                .iter()
                .filter(|l| !(decoupled && l.positive))
                .map(|l| Math::figure(lin(l.term.exp, l.term.logit)))
                .collect();
            if let Some(rest) = &bd.rest {
                parts.push(Math::figure(lin(rest.exp_sum, rest.log_sum)));
            }
            self.out.para(if decoupled {
                say!(w, denominator_text_decoupled)
            } else if bd.rest.is_some() {
                say!(w, denominator_text_rest)
            } else {
                say!(w, denominator_text)
            });
            let line = Math::eq(&[denominator, Math::sum_of(&parts), dm.clone()]);
            self.math(vec![line.clone()]);
            let mut terms: Vec<Value> = bd
                .listed
                .iter()
                .filter(|l| !(decoupled && l.positive))
                .map(|l| json!(l.term.exp))
                .collect();
            if let Some(rest) = &bd.rest {
                terms.push(json!(rest.exp_sum));
            }
            self.out.step(
                "denominator",
                denominator_formula,
                json!({ "terms": terms }),
                json!(d),
                Some(r.log_denominator),
                self.told(&line.plain),
            );
            let line = if decoupled {
                self.out.para(say!(w, ratio_text_decoupled));
                let ratio = Math::new(
                    format!("{} / ({} + {})", nm.plain, nm.plain, dm.plain),
                    format!("\\frac{{{}}}{{{} + {}}}", nm.tex, nm.tex, dm.tex),
                );
                Math::eq(&[Math::same("p"), ratio, pm])
            } else {
                self.out.doc.push(Block::Note(say!(w, denominator_note)));
                self.out.para(say!(w, ratio_text));
                Math::eq(&[Math::same("p"), Math::frac(&nm, &dm, false), pm])
            };
            self.math(vec![line.clone()]);
            self.out.step(
                "p_positive",
                Math::eq(&[
                    Math::same("p"),
                    Math::frac(&Math::text("numerator"), &Math::text("denominator"), false),
                ])
                .plain,
                json!({ "numerator": n, "denominator": d }),
                json!(r.p_positive),
                None,
                self.told(&line.plain),
            );
        } else {
            let m = bd.max_logit;
            let mm = Math::number(m);
            let (wn, wd) = (say!(w, word_numerator), say!(w, word_denominator));
            if r.denominator.is_none() {
                self.out.para(say!(
                    w,
                    overflow_text,
                    numerator = fig(e_pow(r.log_numerator)),
                    denominator = fig(e_pow(r.log_denominator)),
                ));
            } else {
                self.out.para(say!(w, underflow_text));
            }
            let logit = Math::number(r.logit);
            let ln_line = Math::eq(&[
                Math::log(&Math::text(&wn)),
                Math::over_tau(&Math::sim(al, pl)),
                logit,
            ]);
            self.math(vec![ln_line.clone()]);
            self.out.step(
                "numerator",
                numerator.plain.clone(),
                json!({ "logit": r.logit }),
                json!(r.numerator),
                Some(r.log_numerator),
                self.told(&ln_line.plain),
            );
            // Decoupled: the sum is over the negatives, and m the largest
            // of their logits (the listed negatives are the strongest; with
            // none listed, the rest's sum is the one term).
            let (m, mm) = if decoupled {
                let m = bd
                    .listed
                    .iter()
                    .filter(|l| !l.positive)
                    .map(|l| l.term.logit)
                    .fold(f64::NEG_INFINITY, f64::max);
                let m = match &bd.rest {
                    Some(rest) if m == f64::NEG_INFINITY => rest.log_sum,
                    _ => m,
                };
                (m, Math::number(m))
            } else {
                (m, mm)
            };
            self.out.para(if decoupled {
                say!(w, lse_text_decoupled, max_logit = &mm.plain)
            } else {
                say!(w, lse_text, max_logit = &mm.plain)
            });
            // exp(logit − m) of each listed term and of the rest: written
            // out for reading; the largest is exactly 1.
            let mut shifted: Vec<f64> = bd
                .listed
                .iter()
                .filter(|l| !(decoupled && l.positive))
                .map(|l| l.term.logit - m)
                .collect();
            if let Some(rest) = &bd.rest {
                shifted.push(rest.log_sum - m);
            }
            let total: f64 = shifted.iter().map(|x| x.exp()).sum();
            let parts: Vec<Math> = shifted
                .iter()
                .map(|&x| Math::figure(lin(Some(x.exp()), x)))
                .collect();
            let (tm, ld) = (Math::number(total), Math::number(r.log_denominator));
            let plus_log = |x: &Math| Math::sum_of(&[mm.clone(), Math::log(x)]);
            let lines = vec![
                Math::eq(&[Math::log(&Math::text(&wd)), formula::log_sum_exp()]),
                Math::cont(&[plus_log(&Math::sum_of(&parts))]),
                Math::cont(&[plus_log(&tm), ld]),
            ];
            self.math(lines.clone());
            let shifted_exp: Vec<f64> = shifted.iter().map(|x| x.exp()).collect();
            self.out.step(
                "log_sum_exp",
                Math::eq(&[
                    Math::log(&Math::text("denominator")),
                    formula::log_sum_exp(),
                ])
                .plain,
                json!({ "max_logit": m, "shifted_logits": shifted, "shifted_terms": shifted_exp, "shifted_sum": total }),
                json!(r.log_denominator),
                None,
                self.told(&format!("{} {}", lines[1].plain, lines[2].plain)),
            );
            self.out.step(
                "denominator",
                denominator_formula,
                json!({ "log_sum_exp": r.log_denominator }),
                json!(r.denominator),
                Some(r.log_denominator),
                format!("{wd} = {}", e_pow(r.log_denominator)),
            );
            if decoupled {
                // p = numerator / (numerator + denominator), from the logs.
                self.out.para(say!(w, ratio_text_decoupled));
                let (en, ed) = (
                    Math::figure(e_pow(r.log_numerator)),
                    Math::figure(e_pow(r.log_denominator)),
                );
                let ratio = Math::new(
                    format!("{} / ({} + {})", en.plain, en.plain, ed.plain),
                    format!("\\frac{{{}}}{{{} + {}}}", en.tex, en.tex, ed.tex),
                );
                let pm = Math::figure(lin(
                    Some(r.p_positive),
                    -log_total(r, self.f.report.summary.decoupled) + r.log_numerator,
                ));
                let line = Math::eq(&[Math::same("p"), ratio, pm]);
                self.math(vec![line.clone()]);
                self.out.step(
                    "p_positive",
                    "p = numerator / (numerator + denominator)",
                    json!({ "log_numerator": r.log_numerator, "log_denominator": r.log_denominator }),
                    json!(r.p_positive),
                    None,
                    self.told(&line.plain),
                );
            } else {
                self.out.doc.push(Block::Note(say!(w, denominator_note)));
                self.out.para(say!(w, ratio_text_log));
                let (lp, pm) = (Math::number(-r.loss), p_figure(r.p_positive, r.loss));
                let (sd, sn, exact) = logs_for_loss(r.log_denominator, r.log_numerator, r.loss);
                let p = Math::same("p");
                let difference = Math::minus(&Math::figure(sn), &Math::figure(sd));
                let lines = vec![
                    Math::equal(
                        &Math::eq(&[Math::new("log p", "\\log p"), difference]),
                        &lp,
                        exact,
                    ),
                    Math::eq(&[p, pm]),
                ];
                self.math(lines.clone());
                self.out.step(
                    "p_positive",
                    "p = exp(log numerator − log denominator)",
                    json!({ "log_numerator": r.log_numerator, "log_denominator": r.log_denominator }),
                    json!(r.p_positive),
                    Some(-r.loss),
                    self.told(&format!("{}; {}", lines[0].plain, lines[1].plain)),
                );
            }
        }
        // Which negatives weigh most: their shares of the denominator, or
        // decoupled of numerator + denominator (`log_all`).
        let log_all = log_total(r, self.f.report.summary.decoupled);
        let whole = self.whole();
        let heaviest = bd.heaviest();
        let share_of = |l: &super::Listed| fig(share(l.term.p, l.term.logit - log_all));
        let named: Vec<(String, String)> = heaviest
            .iter()
            .take(HEAVIEST_NAMED)
            .map(|l| (l.vector.label.plain.clone(), share_of(l)))
            .collect();
        let rest_share = bd
            .rest
            .as_ref()
            .map(|rest| (rest.count, fig(share(rest.share, rest.log_sum - log_all))));
        if let Some(top) = heaviest.first() {
            let listed_share: f64 = heaviest.iter().map(|l| l.term.p).sum();
            let listed_log = {
                let top_l = heaviest[0].term.logit;
                top_l
                    + heaviest
                        .iter()
                        .map(|l| (l.term.logit - top_l).exp())
                        .sum::<f64>()
                        .ln()
                    - log_all
            };
            let items: Vec<String> = named
                .iter()
                .map(|(label, share)| say!(w, heaviest_item, label = label, share = share))
                .collect();
            let mut parts = vec![if items.len() == 1 {
                say!(w, heaviest_one, negative = &items[0], whole = &whole)
            } else {
                say!(
                    w,
                    heaviest_many,
                    negatives = Arg::Series(items),
                    whole = &whole
                )
            }];
            let listed = heaviest.len();
            let together = fig(share(listed_share, listed_log));
            match rest_share {
                Some((count, rest)) if listed > 1 => parts.push(say!(
                    w,
                    listed_together_rest,
                    listed = listed,
                    share = together,
                    count = count,
                    rest = rest,
                )),
                None if listed > 1 => {
                    parts.push(say!(w, listed_together, listed = listed, share = together))
                }
                Some((count, rest)) => {
                    parts.push(say!(w, others_make, count = count, share = rest))
                }
                None => {}
            }
            let sentence = w.sentences(&parts);
            self.out.para(sentence.clone());
            self.out.step(
                "heaviest_negative",
                "exp(logit_k) / denominator",
                with_from(json!({ "candidate": top.term.index, "label": top.vector.label.plain, "exp": top.term.exp, "logit": top.term.logit }), &top.term),
                json!(top.term.p),
                None,
                sentence,
            );
        } else if let Some((count, share)) = rest_share {
            self.out.para(say!(
                w,
                rest_only,
                count = count,
                share = share,
                whole = &whole
            ));
        } else {
            self.out.para(say!(w, no_negatives));
        }
        // Where the positive ranks, and why it fails when it does.
        let mut why = vec![if r.rank == 1 {
            say!(w, rank_first, positive = &pl.plain, n = bd.n)
        } else {
            say!(
                w,
                rank_below,
                positive = &pl.plain,
                rank = r.rank,
                n = bd.n,
                above = r.rank - 1,
            )
        }];
        if bd.above.0 > 0 {
            let named: Vec<String> = heaviest
                .iter()
                .filter(|l| l.term.logit > pos.term.logit)
                .take(HEAVIEST_NAMED)
                .map(|l| {
                    say!(
                        w,
                        outscored_item,
                        label = &l.vector.label.plain,
                        share = share_of(l),
                        margin = num(l.term.sim - pos.term.sim),
                    )
                })
                .collect();
            why.push(say!(
                w,
                outscored,
                negatives = Arg::List(named),
                count = bd.above.0,
                share = fig(pct(bd.above.1)),
                whole = &whole,
            ));
        }
        let label_of = |k: usize| f.names.candidate(r, k).plain;
        let ties: Vec<String> = bd
            .ties
            .iter()
            .filter(|k| !f.duplicates.contains(k))
            .map(|&k| label_of(k))
            .collect();
        if !ties.is_empty() {
            why.push(say!(w, ties, ties = Arg::List(ties), positive = &pl.plain));
        }
        if !f.duplicates.is_empty() {
            let dups: Vec<String> = f.duplicates.iter().map(|&k| label_of(k)).collect();
            why.push(say!(
                w,
                duplicates,
                copies = Arg::List(dups),
                positive = &pl.plain
            ));
        }
        let text = why.join(" ");
        self.out.step(
            "rank",
            "1 + #{negatives k: logit_k > logit_positive}",
            json!({
                "n_candidates": bd.n,
                "above": bd.above.0,
                "above_share": bd.above.1,
                "ties": bd.ties,
                "duplicates": f.duplicates,
            }),
            json!(r.rank),
            None,
            text.clone(),
        );
        self.out.para(text);
    }

    fn loss(&mut self) {
        let (f, w) = (self.f, self.w);
        let r = f.record();
        self.out.heading(say!(w, h_loss));
        self.out.para(if f.report.summary.decoupled {
            say!(w, loss_text_decoupled)
        } else {
            say!(w, loss_text)
        });
        let loss = Math::number(r.loss);
        let neg = |m: &Math| Math::new(format!("−{}", m.plain), format!("-{}", m.tex));
        let minus_log_p = if r.p_positive == 1.0 {
            neg(&Math::new("log 1", "\\log 1"))
        } else if r.p_positive > 0.0 && !f.log_form() {
            neg(&Math::log(&Math::figure(p_for_loss(r.p_positive, r.loss))))
        } else {
            neg(&Math::factor(-r.loss))
        };
        // The decoupled loss is not −log p: only its form from the logs.
        if !f.report.summary.decoupled {
            let line = Math::eq(&[formula::loss(), minus_log_p, loss.clone()]);
            self.math(vec![line.clone()]);
            self.out.step(
                "loss",
                formula::loss().plain,
                json!({ "p_positive": r.p_positive }),
                json!(r.loss),
                None,
                self.told(&line.plain),
            );
            self.out.para(say!(w, loss_logs_text));
        }
        let (ld, ln, exact) = logs_for_loss(r.log_denominator, r.log_numerator, r.loss);
        let (wn, wd) = (say!(w, word_numerator), say!(w, word_denominator));
        let line = Math::equal(
            &Math::eq(&[
                formula::loss_from_logs(&wn, &wd),
                Math::minus(&Math::figure(ld), &Math::figure(ln)),
            ]),
            &loss,
            exact,
        );
        self.math(vec![line.clone()]);
        self.out.step(
            "loss_from_logs",
            formula::loss_from_logs("numerator", "denominator").plain,
            json!({ "log_denominator": r.log_denominator, "log_numerator": r.log_numerator }),
            json!(r.loss),
            None,
            self.told(&line.plain),
        );
        if !exact {
            self.out.doc.push(Block::Note(say!(w, loss_digits)));
        }
    }

    fn classification(&mut self) {
        let (f, w) = (self.f, self.w);
        let bd = &f.breakdown;
        let r = f.record();
        self.out.heading(say!(w, h_classification));
        let text = say!(w, classification_text, n = bd.n, target = bd.target);
        self.out.para(text.clone());
        if bd.rest.is_none() {
            // Every logit, in candidate order: the input of cross_entropy.
            let logits: Vec<Math> = bd
                .listed
                .iter()
                .map(|l| Math::number(l.term.logit))
                .collect();
            self.math(vec![Math::also(&[
                Math::eq(&[Math::text("logits"), Math::tuple(&logits)]),
                Math::eq(&[Math::text("target"), Math::same(bd.target.to_string())]),
                Math::eq(&[Math::same("L"), Math::number(r.loss)]),
            ])]);
        }
        self.out.step(
            "cross_entropy",
            "L = cross_entropy(logits, target)",
            json!({ "n_candidates": bd.n, "target": bd.target }),
            json!(r.loss),
            None,
            text,
        );
        let log_n = (bd.n as f64).ln();
        let (flat_loss, flat_mean) = f.flat.unwrap_or((f64::NAN, f64::NAN));
        let leads = r.rank == 1 && bd.ties.is_empty() && f.duplicates.is_empty();
        let first = say!(
            w,
            bounds_text,
            n = bd.n,
            limit = im(&formula::log_n(&bd.n.to_string(), &num(log_n))),
            flat_tau = num(FLAT_TAU),
            flat_loss = num(flat_loss),
        );
        let low = if leads {
            say!(w, bound_low_leads)
        } else {
            say!(w, bound_low_fails, margin = im(&formula::margin_over_tau()))
        };
        let text = w.sentences(&[first, low]);
        self.out.para(text.clone());
        self.out.step(
            "limits",
            "L → log n as τ → ∞; L → 0 as τ → 0 when the positive leads",
            json!({
                "n_candidates": bd.n,
                "log_n": log_n,
                "flat_tau": FLAT_TAU,
                "loss_at_flat_tau": flat_loss,
                "mean_loss_at_flat_tau": flat_mean,
                "positive_leads": leads,
            }),
            json!(log_n),
            None,
            text,
        );
    }

    fn gradient(&mut self) {
        let (f, w) = (self.f, self.w);
        let bd = &f.breakdown;
        let tau = f.report.summary.tau;
        self.out.heading(say!(w, h_gradient));
        let pos = bd.positive();
        let g_pos = num(-bd.negatives_share / tau);
        let heaviest = bd.heaviest();
        let top = heaviest.first().map_or(String::new(), |l| {
            say!(
                w,
                gradient_top,
                label = &l.vector.label.plain,
                g = num(l.term.p / tau)
            )
        });
        let text = say!(
            w,
            gradient_text,
            grad_negative = im(&formula::grad_negative()),
            grad_positive = im(&formula::grad_positive()),
            positive = &pos.vector.label.plain,
            g_pos = g_pos,
        );
        self.out.para(w.sentences(&[text, top]));
    }

    fn hard_negative(&mut self) {
        let (f, w) = (self.f, self.w);
        let r = f.record();
        let pos = f.breakdown.positive();
        self.out.heading(say!(w, h_hard));
        let Some(v) = &f.variant else {
            match f.breakdown.heaviest().first() {
                // An extra negative is not moved: the variant is left out.
                Some(top) if top.vector.from_negatives && top.term.sim < r.sim - HARD_MARGIN => {
                    self.out.para(say!(
                        w,
                        hard_extra,
                        label = &top.vector.label.plain,
                        sim = num(top.term.sim),
                        positive_sim = num(pos.term.sim),
                    ))
                }
                Some(top) => self.out.para(say!(
                    w,
                    hard_already,
                    label = &top.vector.label.plain,
                    sim = num(top.term.sim),
                    positive_sim = num(pos.term.sim),
                )),
                None => self.out.para(say!(w, no_negatives)),
            }
            return;
        };
        let vr = &v.record;
        self.out.para(say!(
            w,
            hard_text,
            label = &v.label.plain,
            before = num(v.before.sim),
            after = num(v.after.sim),
            margin = num(HARD_MARGIN),
        ));
        let sim = Math::sim(&f.anchor.label, &v.label);
        let exp_of = Math::exp(&Math::over_tau(&sim));
        let row = |label: Math, a: Math, b: Math| Row {
            cells: vec![label, a, b],
            marked: false,
        };
        let head = vec![
            Math::same(""),
            Math::same(say!(w, col_before)),
            Math::same(say!(w, col_after)),
        ];
        let rows = vec![
            row(
                sim.clone(),
                Math::number(v.before.sim),
                Math::number(v.after.sim),
            ),
            row(
                exp_of,
                Math::figure(lin(v.before.exp, v.before.logit)),
                Math::figure(lin(v.after.exp, v.after.logit)),
            ),
            row(
                Math::same(say!(w, col_denominator)),
                Math::figure(lin(r.denominator, r.log_denominator)),
                Math::figure(lin(vr.denominator, vr.log_denominator)),
            ),
            row(
                Math::same(say!(w, col_hardest, label = &v.label.plain)),
                Math::figure(share(
                    v.before.p,
                    v.before.logit - log_total(r, self.f.report.summary.decoupled),
                )),
                Math::figure(share(
                    v.after.p,
                    v.after.logit - log_total(vr, self.f.report.summary.decoupled),
                )),
            ),
            row(
                Math::same("p"),
                p_figure(r.p_positive, r.loss),
                p_figure(vr.p_positive, vr.loss),
            ),
            row(
                Math::same(say!(w, col_loss)),
                Math::number(r.loss),
                Math::number(vr.loss),
            ),
        ];
        self.out.doc.push(Block::Table(Table { head, rows }));
        if let (Some(terms), Some(d)) = (&v.terms, vr.denominator) {
            let parts: Vec<Math> = terms
                .iter()
                .map(|t| Math::figure(lin(t.exp, t.logit)))
                .collect();
            let (pm, lm) = (Math::number(vr.p_positive), Math::number(vr.loss));
            let (nm, dm) = (
                Math::number(vr.numerator.unwrap_or(f64::NAN)),
                Math::number(d),
            );
            self.math(vec![
                Math::eq(&[Math::sum_of(&parts), dm.clone()]),
                Math::also(&[
                    Math::eq(&[Math::same("p"), Math::frac(&nm, &dm, false), pm]),
                    Math::eq(&[Math::same("L"), lm]),
                ]),
            ]);
        }
        let lesson = say!(
            w,
            hard_lesson,
            label = &v.label.plain,
            share = share(
                v.after.p,
                v.after.logit - log_total(vr, self.f.report.summary.decoupled)
            ),
            whole = self.whole(),
            loss_before = num(r.loss),
            loss_after = num(vr.loss),
        );
        self.out.para(lesson.clone());
        self.out.step(
            "hard_negative",
            "the record again with sim(anchor, hardest negative) = sim(anchor, positive) − 0.1",
            json!({
                "candidate": v.candidate,
                "label": v.label.plain,
                "margin": HARD_MARGIN,
                "before": v.before,
                "after": v.after,
                "denominator_before": r.denominator,
                "log_denominator_before": r.log_denominator,
                "denominator_after": vr.denominator,
                "log_denominator_after": vr.log_denominator,
                "p_positive_before": r.p_positive,
                "p_positive_after": vr.p_positive,
                "loss_before": r.loss,
                "vector_after": v.moved,
            }),
            json!(vr.loss),
            None,
            lesson,
        );
    }

    fn batch(&mut self) {
        let (f, w) = (self.f, self.w);
        let s = &f.report.summary;
        let recs = &f.report.records;
        self.out.heading(say!(w, h_batch));
        self.out.para(if f.is_example() {
            say!(w, batch_intro_example)
        } else {
            say!(w, batch_intro_data)
        });
        let shown: Vec<usize> = if recs.len() <= BATCH_LISTED {
            (0..recs.len()).collect()
        } else {
            let mut by_loss: Vec<usize> = (0..recs.len()).filter(|&k| k != f.record).collect();
            by_loss.sort_by(|&a, &b| recs[b].loss.total_cmp(&recs[a].loss).then(a.cmp(&b)));
            let mut shown = vec![f.record];
            shown.extend(by_loss.into_iter().take(BATCH_LISTED - 1));
            shown
        };
        let head = vec![
            Math::same(say!(w, col_record)),
            Math::same(say!(w, col_anchor)),
            Math::same(say!(w, col_positive)),
            Math::same(say!(w, col_numerator)),
            Math::same(say!(w, col_denominator)),
            Math::same("p"),
            Math::same(say!(w, col_loss)),
            Math::same(say!(w, col_rank)),
        ];
        let rows = shown
            .iter()
            .map(|&k| {
                let r = &recs[k];
                Row {
                    cells: vec![
                        Math::same(k.to_string()),
                        f.names.anchor(r),
                        f.names.candidate(r, r.positive),
                        Math::figure(lin(r.numerator, r.log_numerator)),
                        Math::figure(lin(r.denominator, r.log_denominator)),
                        p_figure(r.p_positive, r.loss),
                        Math::number(r.loss),
                        Math::same(r.rank.to_string()),
                    ],
                    marked: k == f.record,
                }
            })
            .collect();
        self.out.doc.push(Block::Table(Table { head, rows }));
        if shown.len() < recs.len() {
            self.out.para(say!(
                w,
                batch_more,
                shown_others = shown.len() - 1,
                more = recs.len() - shown.len(),
            ));
        }
        for &k in &shown {
            let r: &AnchorRecord = &recs[k];
            self.out.step(
                "record_loss",
                formula::loss_from_logs("numerator", "denominator").plain,
                json!({
                    "record": k,
                    "anchor": f.names.anchor(r).plain,
                    "positive": f.names.candidate(r, r.positive).plain,
                    "numerator": r.numerator,
                    "denominator": r.denominator,
                    "p_positive": r.p_positive,
                    "rank": r.rank,
                }),
                json!(r.loss),
                None,
                format!(
                    "{} → {}: {}",
                    f.names.anchor(r).plain,
                    f.names.candidate(r, r.positive).plain,
                    num(r.loss)
                ),
            );
        }
        let n = recs.len();
        let mean = Math::number(s.loss);
        let (count, idx, sym) = match s.layout {
            LayoutKind::TwoView => ("2N", "i", "L_i"),
            LayoutKind::Pairs | LayoutKind::Labels => ("R", "r", "L_r"),
            LayoutKind::Keys => ("N", "i", "L_i"),
        };
        let (lo, hi_plain, hi_tex) = self.range(count);
        let range = Math::new(format!("{idx}={lo}..{hi_plain}"), format!("{idx}={lo}"));
        let general = Math::eq(&[
            Math::same("L"),
            Math::join(
                &[
                    Math::new(format!("(1/{count})"), format!("\\frac{{1}}{{{count}}}")),
                    Math::sum(&range, Some(&hi_tex), &Math::same(sym)),
                ],
                " ",
                " ",
            ),
        ]);
        let line = match &s.directions {
            Some(ds) if ds.len() == 2 => {
                self.out.para(say!(w, mean_directions, n = n));
                let (a, b) = (Math::number(ds[0].loss), Math::number(ds[1].loss));
                let two = Math::same("2");
                Math::eq(&[
                    Math::same("L"),
                    Math::frac_of_sum(
                        &Math::new("L_q→k + L_k→q", "L_{q \\to k} + L_{k \\to q}"),
                        &two,
                    ),
                    Math::frac_of_sum(&Math::sum_of(&[a, b]), &two),
                    mean,
                ])
            }
            _ => {
                self.out.para(if s.layout == LayoutKind::TwoView {
                    say!(w, mean_two_view, n = n)
                } else {
                    say!(w, mean_records, n = n)
                });
                if n <= MEAN_WRITTEN {
                    let parts: Vec<Math> = recs.iter().map(|r| Math::number(r.loss)).collect();
                    Math::eq(&[
                        general.clone(),
                        Math::frac_of_sum(&Math::sum_of(&parts), &Math::same(n.to_string())),
                        mean,
                    ])
                } else {
                    Math::eq(&[general.clone(), mean])
                }
            }
        };
        self.math(vec![line.clone()]);
        self.out.step(
            "mean_loss",
            general.plain.clone(),
            json!({ "n_records": n }),
            json!(s.loss),
            None,
            self.told(&line.plain),
        );
    }

    fn temperature(&mut self) {
        let (f, w) = (self.f, self.w);
        self.out.heading(say!(w, h_temperature));
        let al = &f.anchor.label.plain;
        self.out
            .para(say!(w, sweep_intro, tau = self.tau(), anchor = al));
        let hardest = f
            .breakdown
            .heaviest()
            .first()
            .map(|l| l.vector.label.plain.clone());
        let mut head = vec![
            Math::tau(),
            Math::same(format!("{} ({al})", say!(w, col_loss))),
            Math::same(format!("p ({al})")),
        ];
        if let Some(h) = &hardest {
            head.push(Math::same(say!(w, col_hardest, label = h)));
        }
        head.push(Math::same(say!(w, col_batch_loss)));
        let rows = f
            .sweep
            .iter()
            .map(|s: &SweepRow| {
                let mut cells = vec![
                    Math::number(s.tau),
                    Math::number(s.loss),
                    p_figure(s.p_positive, s.loss),
                ];
                if hardest.is_some() {
                    cells.push(Math::same(s.hardest_p.map_or(String::new(), pct)));
                }
                cells.push(Math::number(s.mean_loss));
                Row {
                    cells,
                    marked: s.current,
                }
            })
            .collect();
        self.out.doc.push(Block::Table(Table { head, rows }));
        for s in &f.sweep {
            self.out.step(
                "temperature",
                "L(τ), p(τ), batch L(τ)",
                json!({ "tau": s.tau }),
                json!({
                    "loss": s.loss,
                    "p_positive": s.p_positive,
                    "mean_loss": s.mean_loss,
                    "hardest_negative_p": s.hardest_p,
                    "hardest_share_of_negatives": s.hardest_of_negatives,
                }),
                None,
                format!(
                    "τ = {}: L = {}, p = {}, batch L = {}",
                    num(s.tau),
                    num(s.loss),
                    num(s.p_positive),
                    num(s.mean_loss)
                ),
            );
        }
        let (Some(lo), Some(hi)) = (f.sweep.first(), f.sweep.last()) else {
            return;
        };
        let pos = f.breakdown.positive();
        let top = f.breakdown.heaviest().first().map(|l| l.term);
        let (tau_lo, tau_hi) = (num(lo.tau), num(hi.tau));
        let (p_lo, p_hi) = (
            p_figure(lo.p_positive, lo.loss).plain,
            p_figure(hi.p_positive, hi.loss).plain,
        );
        let (loss_lo, loss_hi) = (num(lo.loss), num(hi.loss));
        let limit = im(&formula::log_n("n", &num((f.breakdown.n as f64).ln())));
        let mut args = vec![
            ("tau_lo", Arg::from(&tau_lo)),
            ("tau_hi", Arg::from(&tau_hi)),
            ("p_lo", Arg::from(p_lo)),
            ("p_hi", Arg::from(&p_hi)),
            ("loss_lo", Arg::from(&loss_lo)),
            ("loss_hi", Arg::from(&loss_hi)),
        ];
        let range = match (&hardest, lo.hardest_p, hi.hardest_p) {
            (Some(h), Some(a), Some(b)) => {
                args.extend([
                    ("label", Arg::from(h)),
                    ("lo", Arg::from(pct(a))),
                    ("hi", Arg::from(pct(b))),
                ]);
                w.text().sweep_range_hardest
            }
            _ => w.text().sweep_range,
        };
        self.out.para(w.fill(range, &args));
        // The weight concentrates on the hardest negative as tau shrinks.
        match (lo.hardest_of_negatives, hi.hardest_of_negatives) {
            (Some(a), Some(b)) if a > b && pct(a) != pct(b) => self.out.para(say!(
                w,
                sweep_concentrates,
                lo = pct(a),
                hi = pct(b),
                tau_lo = &tau_lo,
                tau_hi = &tau_hi,
            )),
            _ => {}
        }
        // A negative above the positive: the loss grows like the margin over tau.
        if let Some(t) = top.filter(|t| t.sim > pos.term.sim) {
            self.out.para(say!(
                w,
                sweep_outscored,
                margin = im(&Math::equal(
                    &Math::same("L"),
                    &formula::margin_over_tau(),
                    false
                )),
                approx = num((t.sim - pos.term.sim) / lo.tau),
                tau_lo = &tau_lo,
                loss = &loss_lo,
            ));
        }
        // The limits below are InfoNCE's.
        if f.report.summary.decoupled {
            return;
        }
        self.out.para(if p_hi == "1" {
            say!(
                w,
                sweep_zero_at_hi,
                tau_hi = &tau_hi,
                loss_hi = &loss_hi,
                limit = &limit
            )
        } else {
            say!(w, sweep_limit, limit = &limit)
        });
    }

    fn name(&mut self) {
        let (f, w) = (self.f, self.w);
        self.out.heading(say!(w, h_name));
        let kind = self.denominator_kind();
        let form = match (kind.extra, kind.in_batch) {
            (Some(_), true) => say!(w, name_extra_in_batch),
            (Some(_), false) => say!(w, name_extra_only),
            (None, _) if self.shape() == Shape::TwoView => say!(w, name_two_view),
            (None, _) => say!(w, name_other),
        };
        let cpc = say!(w, name_cpc, bound = im(&formula::cpc_bound()));
        self.out.para(w.sentences(&[form, cpc]));
        let n = f.breakdown.n;
        let log_n = (n as f64).ln();
        let mean = f.report.summary.loss;
        let bound = log_n - mean;
        let text = say!(
            w,
            cpc_text,
            n = n,
            figure = im(&formula::cpc_figure(
                n,
                &num(log_n),
                &num(mean),
                &num(bound)
            )),
            limit = im(&formula::log_k1()),
        );
        self.out.para(text.clone());
        self.out.step(
            "mutual_information_bound",
            formula::cpc_bound().plain,
            json!({ "k_plus_1": n, "log_k_plus_1": log_n, "mean_loss": mean }),
            json!(bound),
            None,
            text,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(num(8103.083927575384), "8103.08");
        assert_eq!(num(9.0), "9");
        assert_eq!(num(0.10000000000000003), "0.1");
        assert_eq!(num(1.5e-7), "1.5e-7");
        assert_eq!(num(0.0), "0");
        assert_eq!(tex_num("1.5e-7"), "1.5 \\times 10^{-7}");
        assert_eq!(tex_num("e^1000"), "e^{1000}");
        assert_eq!(tex_num("2.5e-6%"), "2.5 \\times 10^{-6}\\%");
        assert_eq!(lin(None, 1000.0), "e^1000");
        assert_eq!(pct(0.000335308763954), "0.0335309%");
    }

    #[test]
    fn powers_of_e_in_scientific_notation_keep_their_exponent_apart() {
        assert_eq!(lin(None, 1.7629e7), "e^(1.7629e7)");
        assert_eq!(tex_num("e^(1.7629e7)"), "e^{1.7629 \\times 10^{7}}");
        // An underflowed term is shown by its log, never as 0.
        assert_eq!(lin(Some(0.0), -2.09e7), "e^(-2.09e7)");
        assert_eq!(share(0.0, -59156.3), "e^-59156.3");
        assert_eq!(share(0.5, 0.5f64.ln()), "50%");
    }

    #[test]
    fn sentences_carry_code_and_math() {
        let s = format!(
            "Use `--anchor 2` for {} now",
            im(&Math::new("z_i", "z_{i}"))
        );
        assert_eq!(plain(&s), "Use --anchor 2 for z_i now");
        assert_eq!(
            spans(&s),
            vec![
                Span::Text("Use "),
                Span::Code("--anchor 2"),
                Span::Text(" for "),
                Span::Math {
                    plain: "z_i",
                    tex: "z_{i}"
                },
                Span::Text(" now"),
            ]
        );
    }

    #[test]
    fn loss_is_consistent_with_the_shown_p_and_logs() {
        let (p, loss) = (0.999541338035342, 0.0004587671822310155);
        assert_eq!(p_for_loss(p, loss), "0.999541338");
        let (d, n, exact) = logs_for_loss(9.00045876718223, 9.0, loss);
        assert_eq!(
            (d.as_str(), n.as_str(), exact),
            ("9.000458767", "9.000000000", true)
        );
    }
}
