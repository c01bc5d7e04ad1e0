//! What the walkthrough says: one sentence table per language, filled in by
//! one renderer.
//!
//! `steps.rs` decides once which sentences to say (for the layout, the
//! origin, the figures) and names each by its field of [`Sentences`];
//! `lang_en.rs` and `lang_zh.rs` hold the templates, nothing else. A
//! template is text with named arguments, filled in by [`Voice::fill`]:
//!
//! - `{name}`: the argument as text; a list argument joined the language's
//!   way (`a, b and c` in English, `a、b、c` in Chinese).
//! - `{name|one|many}`: the form for a count of 1 or any other count, chosen
//!   by the argument `name` (a number, or a list by its length). The forms
//!   may hold arguments themselves: `{count|takes|the {count} of them take}`.
//! - `{name:ordinal}`: a count as an English ordinal (`3rd`); a language
//!   whose ordinals do not inflect writes `{name}`.
//! - `{+term}`: the other language's term, put in the language's `gloss`
//!   template, with the glossary (`--glossary`, `--lang en+zh`); nothing
//!   without it.
//!
//! How a language joins sentences, lists and glossary terms is in its
//! table too (`join_sentences`, `list_between`, `list_last`, `gloss`).
//!
//! Arguments are figures already rounded and names already formatted
//! (`z1`, `z[5]`, `q[3]`); a template never computes. An argument may hold
//! inline math made by [`im`](super::steps::im) (plain on a terminal, TeX in
//! Markdown), and a template may hold command names and flags in backticks.
//!
//! To add a sentence: add a field with a doc line (naming its arguments) to
//! the `table!` list below, give its template in `ENGLISH` (lang_en.rs) and
//! `CHINESE` (lang_zh.rs) (a table without it does not compile), and say it
//! where it belongs in `steps.rs` with `say!(w, field, name = value, ...)`.
//! The tests below check that every template is non-empty, well formed and
//! takes the same arguments in both languages.

use crate::cli::Lang;

/// Declares the sentence table: the struct, one `&'static str` template a
/// field, and the list of its fields for the tests.
macro_rules! table {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Every sentence and label of the walkthrough in one language: the
        /// templates, one a field.
        pub struct Sentences {
            $($(#[$doc])* pub $name: &'static str,)*
        }

        impl Sentences {
            /// Every template with its field's name.
            #[cfg(test)]
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($name), self.$name)),*]
            }
        }
    };
}

table! {
    // The language itself.
    /// Its code, as `--lang` takes it.
    code,
    /// Its code with the glossary.
    code_glossary,
    /// Two sentences of one paragraph: `first`, `next`.
    join_sentences,
    /// Between the items of a list.
    list_between,
    /// Before the last item of a list with a conjunction.
    list_last,
    /// A glossary term, the other language's: `term`.
    gloss,

    // Words used inside other sentences.
    /// The similarities' names: cosine.
    sim_cosine,
    /// Dot product.
    sim_dot,
    /// The products' precision: float32.
    precision_f32,
    /// float64.
    precision_f64,

    // The title and the opening paragraphs.
    /// `anchor`.
    title_example,
    /// `anchor`, `name` (the file).
    title_data,
    /// `tau`, `similarity`.
    intro_example,
    /// `anchor`, `positive`.
    intro_example_anchor,
    /// `name`, `rows`, `dimension`, `layout` (one of the `layout_*`), `tau`,
    /// `similarity`, `precision`.
    intro_data,
    /// The two-view layout: `half`.
    layout_two_view,
    /// Pairs: `file`, `both` (`pairs_both` or empty).
    layout_pairs,
    /// With `--symmetric`.
    pairs_both,
    /// Keys: `rows`, `file`, `both` (`keys_both` or empty).
    layout_keys,
    /// With `--symmetric`.
    keys_both,
    /// How rows are named in one file.
    naming_rows,
    /// How queries and keys are named.
    naming_keys,
    /// `anchor`, `record`, `positive`, `terms`, `negatives` (counts),
    /// `naming` (one of the `naming_*`).
    intro_record,
    /// No `--anchor` was given.
    picked_default,
    /// `--anchor` picked the first of its row's records: `record`.
    picked_first,
    /// The row's other records: `others` (a list of `other_record`).
    also_anchors,
    /// `record`, `anchor`, `positive`, `way` (a `way_*` or empty).
    other_record,
    /// A key-to-query record.
    way_key_to_query,
    /// A query-to-key record.
    way_query_to_key,
    /// `sig`.
    rounding,

    // Section headings.
    /// 1.
    h_formula,
    /// 2.
    h_similarities,
    /// 3.
    h_terms,
    /// 4.
    h_ratio,
    /// 5.
    h_loss,
    /// 6.
    h_classification,
    /// 7.
    h_gradient,
    /// 8.
    h_hard,
    /// 9.
    h_batch,
    /// 10.
    h_temperature,
    /// 11.
    h_name,

    // 1. The formula and its symbols.
    /// What the formula says.
    formula_text,
    /// What the formula says, `--decoupled`.
    formula_text_decoupled,
    /// Indices of the example.
    numbering_one_based,
    /// Indices of a file.
    numbering_zero_based,
    /// After the numbering, in the two-view layout.
    numbering_simclr,
    /// L_i.
    sym_loss,
    /// The numerator.
    sym_numerator,
    /// The denominator over one file: `extra` (`den_extra` or empty).
    sym_denominator_rows,
    /// The denominator over the keys: `extra`.
    sym_denominator_keys,
    /// The same, `--decoupled`: `extra`.
    sym_denominator_rows_decoupled,
    sym_denominator_keys_decoupled,
    /// `--no-in-batch`: the positive and the extra negatives.
    sym_denominator_no_in_batch,
    /// `--no-in-batch --decoupled`: the extra negatives alone.
    sym_denominator_negatives_only,
    /// Inside a `sym_denominator_*`: the extra negatives' sum follows.
    den_extra,
    /// τ.
    sym_tau,
    /// The indicator function.
    sym_indicator,
    /// The indicator of the decoupled loss over one file.
    sym_indicator_decoupled,
    /// The indicator of the decoupled loss over the keys.
    sym_indicator_keys_decoupled,
    /// The extra negatives shared by every anchor.
    sym_extra_shared,
    /// The anchor's own extra negatives (a 3-D file): `a`, the anchor's
    /// index in the formula.
    sym_extra_per_anchor,
    /// sim, cosine: `formula`.
    sym_cosine,
    /// sim, dot product: `formula`.
    sym_dot,
    /// The positive, two views: `zi`.
    sym_positive_two_view,
    /// The positive, from a pairs file: `zi`.
    sym_positive_pairs,
    /// A query and its key.
    sym_positive_query,
    /// A key and its query.
    sym_positive_key,
    /// The negatives.
    sym_negatives,
    /// 2N.
    sym_batch_two_view,
    /// R.
    sym_batch_pairs,
    /// N.
    sym_batch_keys,

    // 2. Vectors and similarities.
    /// Every candidate is shown.
    which_all,
    /// Only some candidates are.
    which_some,
    /// `which`, every component shown.
    vectors_full,
    /// `which`, `dim`: only some components shown.
    vectors_long,
    /// `written` (the positive's similarity), written out.
    sim_written,
    /// `written`, too long to write out.
    sim_long,
    /// Cosine: `how` (a `sim_written` or `sim_long`).
    sim_cosine_intro,
    /// Dot product: `how`.
    sim_dot_intro,
    /// Before the table of the other candidates.
    sim_rest,

    // 3. Logits and exp terms.
    /// `tau`.
    terms_intro,
    /// `tau`, `--decoupled`.
    terms_intro_decoupled,
    /// `--max-terms 0`: `negatives`.
    terms_positive_only,
    /// `listed`, `negatives`, `rest`.
    terms_listed,
    /// Column heads.
    col_candidate,
    col_share,
    /// The first cell of the rest's line: `count`.
    rest_label,
    /// The rest: `count`, `sum`, `share`, `whole`.
    rest_line,
    /// Marks after a candidate's name.
    mark_tie,
    mark_duplicate,
    /// A candidate from the `--negatives` file.
    mark_negatives,
    /// The extra negatives shared by every anchor: `count`, `file`.
    objective_shared,
    /// The anchor's own extra negatives (a 3-D file): `count`, `file`.
    objective_per_anchor,
    /// `--no-in-batch`: no argument.
    objective_no_in_batch,
    /// `--decoupled`: no argument.
    objective_decoupled,
    /// The hardest negative is an extra one, not moved: `label`, `sim`,
    /// `positive_sim`.
    hard_extra,
    /// Below the table of terms, decoupled: no argument.
    share_decoupled,
    /// The decoupled loss from the logs: no argument.
    loss_text_decoupled,
    /// The decoupled denominator, before its sum: no argument.
    denominator_text_decoupled,
    /// The positive's probability of the decoupled loss: no argument.
    ratio_text_decoupled,
    /// Below the table: `anchor`, `positive`.
    positive_mark,
    /// After it, in log form.
    max_logit_mark,

    // 4. Numerator, denominator, ratio.
    /// Words inside math.
    word_numerator,
    word_denominator,
    /// `anchor`, `positive`.
    numerator_text,
    /// Every term listed.
    denominator_text,
    /// Some terms summed as the rest.
    denominator_text_rest,
    /// The tutorial's heading calls the denominator a sum over negatives.
    denominator_note,
    /// p.
    ratio_text,
    /// exp overflows: `numerator`, `denominator` (powers of e).
    overflow_text,
    /// A term underflows.
    underflow_text,
    /// `max_logit`.
    lse_text,
    /// `max_logit`, `--decoupled` (the largest of the negatives').
    lse_text_decoupled,
    /// What a share is of: the denominator.
    whole_denominator,
    /// `--decoupled`: numerator + denominator.
    whole_softmax,
    /// p in log form.
    ratio_text_log,
    /// A negative and its share: `label`, `share`.
    heaviest_item,
    /// The one heaviest negative: `negative` (a `heaviest_item`), `whole`
    /// (a `whole_*`).
    heaviest_one,
    /// The heaviest negatives: `negatives` (a list of `heaviest_item`),
    /// `whole`.
    heaviest_many,
    /// `listed`, `share`.
    listed_together,
    /// `listed`, `share`, `count`, `rest` (the rest's share).
    listed_together_rest,
    /// One negative listed, the others not: `count`, `share`.
    others_make,
    /// No negative listed: `count`, `share`, `whole`.
    rest_only,
    /// The positive is the only candidate.
    no_negatives,
    /// `positive`, `n`.
    rank_first,
    /// `positive`, `rank`, `n`, `above`.
    rank_below,
    /// A negative above the positive: `label`, `share`, `margin`.
    outscored_item,
    /// `negatives` (a list of `outscored_item`), `count`, `share`, `whole`.
    outscored,
    /// `ties` (a list), `positive`.
    ties,
    /// `copies` (a list), `positive`.
    duplicates,

    // 5. The loss.
    loss_text,
    loss_logs_text,
    /// The difference of the logs loses digits.
    loss_digits,

    // 6. A classification.
    /// `n`, `target`.
    classification_text,
    /// `n`, `limit` (log n), `flat_tau`, `flat_loss`.
    bounds_text,
    /// The positive leads every negative.
    bound_low_leads,
    /// It does not: `margin` (the formula).
    bound_low_fails,

    // 7. Gradients.
    /// `grad_negative`, `grad_positive` (formulas), `positive`, `g_pos`.
    gradient_text,
    /// After it: `label`, `g`.
    gradient_top,

    // 8. A hard negative.
    /// `label`, `before`, `after`, `margin`.
    hard_text,
    /// `label`, `share`, `whole`, `loss_before`, `loss_after`.
    hard_lesson,
    /// `label`, `sim`, `positive_sim`.
    hard_already,
    /// Column heads.
    col_before,
    col_after,

    // 9. The batch.
    batch_intro_example,
    batch_intro_data,
    /// Column heads.
    col_record,
    col_anchor,
    col_positive,
    col_numerator,
    col_denominator,
    col_loss,
    col_rank,
    col_batch_loss,
    /// `shown_others`, `more`.
    batch_more,
    /// Two views: `n`.
    mean_two_view,
    /// Other layouts: `n`.
    mean_records,
    /// Both directions: `n`.
    mean_directions,

    // 10. The temperature.
    /// `tau`, `anchor`.
    sweep_intro,
    /// A column head: `label`.
    col_hardest,
    /// `tau_lo`, `tau_hi`, `p_lo`, `p_hi`, `loss_lo`, `loss_hi`.
    sweep_range,
    /// The same with the hardest negative: and `label`, `lo`, `hi`.
    sweep_range_hardest,
    /// `lo`, `hi`, `tau_lo`, `tau_hi`.
    sweep_concentrates,
    /// `margin` (the formula), `approx`, `tau_lo`, `loss`.
    sweep_outscored,
    /// `tau_hi`, `loss_hi`, `limit` (the formula).
    sweep_zero_at_hi,
    /// `limit` (the formula).
    sweep_limit,

    // 11. The name.
    /// With the two-view layout.
    name_two_view,
    /// Other layouts.
    name_other,
    /// With `--negatives`, the batch's candidates kept.
    name_extra_in_batch,
    /// With `--negatives --no-in-batch`.
    name_extra_only,
    /// `bound` (the formula).
    name_cpc,
    /// `n`, `figure`, `limit` (formulas).
    cpc_text,

    // With --labels: one anchor and its several positives.
    /// `anchor`, `name`.
    title_labels,
    /// `name`, `rows`, `dimension`, `labels` (the file), `tau`,
    /// `similarity`, `precision`.
    intro_labels,
    /// `anchor`, `record`, `count`, `positives` (a list), `terms`.
    intro_labels_anchor,
    /// `count`, `rows` (a list): anchors without a positive.
    labels_skipped,
    /// The supcon reduction.
    reduction_supcon,
    /// The pairwise reduction.
    reduction_pairwise,
    /// No `--anchor`: the first anchor with a positive.
    picked_labels,
    /// P(a).
    sym_positives,
    /// D(a): `extra` (`den_extra` or empty).
    sym_d,
    /// N(a).
    sym_n,
    /// l_k.
    sym_logit,
    /// Below the terms' table: `anchor`.
    labels_mark,
    /// Section heading.
    h_positives,
    /// Supcon: `log_d` (a figure).
    supcon_terms_text,
    /// Pairwise: `log_n` (a figure).
    pairwise_terms_text,
    /// The anchor's loss, supcon: `count`.
    supcon_mean_text,
    /// The anchor's loss, pairwise: `count`.
    pairwise_mean_text,
    /// `positive`: ranked first.
    rank_labels_first,
    /// `positive`, `rank`, `above`.
    rank_labels,
    /// Column head: the number of positives.
    col_positives,
    /// The batch loss, supcon: `n`.
    mean_supcon,
    /// The batch loss, pairwise: `pairs`, `n`, `over_anchors`.
    mean_pairwise,
}

/// An argument of a template.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Count(u64),
    /// Items joined with a conjunction: `a, b and c`.
    List(Vec<String>),
    /// Items joined without one: `a, b, c`.
    Series(Vec<String>),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Count(n as u64)
    }
}

impl From<u64> for Arg {
    fn from(n: u64) -> Arg {
        Arg::Count(n)
    }
}

/// Says a sentence of the table: `say!(w, field, name = value, ...)`.
macro_rules! say {
    ($w:expr, $key:ident $(, $name:ident = $value:expr)* $(,)?) => {
        $w.fill(
            $w.text().$key,
            &[$((stringify!($name), $crate::explain::words::Arg::from($value))),*],
        )
    };
}
pub(crate) use say;

/// A language as spoken: its table, with or without the glossary.
pub struct Voice {
    text: &'static Sentences,
    glossary: bool,
}

/// The voice of `--lang`; `glossary` adds the other language's terms.
pub fn of(lang: Lang, glossary: bool) -> Voice {
    let (text, glossary) = match lang {
        Lang::En => (&super::lang_en::ENGLISH, glossary),
        Lang::EnZh => (&super::lang_en::ENGLISH, true),
        Lang::Zh => (&super::lang_zh::CHINESE, glossary),
    };
    Voice { text, glossary }
}

impl Voice {
    /// The language's code, as `--lang` takes it.
    pub fn code(&self) -> &'static str {
        if self.glossary {
            self.text.code_glossary
        } else {
            self.text.code
        }
    }

    pub fn text(&self) -> &'static Sentences {
        self.text
    }

    /// Sentences of one paragraph, joined the language's way; empty ones
    /// are left out.
    pub fn sentences(&self, parts: &[String]) -> String {
        let mut parts = parts.iter().filter(|p| !p.is_empty());
        let first = parts.next().cloned().unwrap_or_default();
        parts.fold(first, |first, next| {
            say!(self, join_sentences, first = first, next = next)
        })
    }

    /// A template filled in with its arguments.
    pub fn fill(&self, template: &str, args: &[(&str, Arg)]) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let body = &rest[open + 1..];
            let close = closing(body);
            self.directive(&body[..close], args, &mut out);
            rest = body.get(close + 1..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }

    /// One `{...}` of a template, its braces taken off.
    fn directive(&self, d: &str, args: &[(&str, Arg)], out: &mut String) {
        if let Some(term) = d.strip_prefix('+') {
            if self.glossary {
                out.push_str(&say!(self, gloss, term = term));
            }
            return;
        }
        let forms = split_forms(d);
        let (name, format) = match forms[0].split_once(':') {
            Some((name, format)) => (name, Some(format)),
            None => (forms[0], None),
        };
        let Some(arg) = args.iter().find(|(n, _)| *n == name).map(|(_, a)| a) else {
            debug_assert!(false, "no argument {name} for the template");
            out.push('{');
            out.push_str(d);
            out.push('}');
            return;
        };
        if let [_, one, many] = forms[..] {
            let n = match arg {
                Arg::Count(n) => *n,
                Arg::List(items) | Arg::Series(items) => items.len() as u64,
                Arg::Text(_) => {
                    debug_assert!(false, "{name} chooses a form but is no count");
                    0
                }
            };
            out.push_str(&self.fill(if n == 1 { one } else { many }, args));
            return;
        }
        match (arg, format) {
            (Arg::Count(n), Some("ordinal")) => out.push_str(&english_ordinal(*n)),
            (Arg::Text(s), _) => out.push_str(s),
            (Arg::Count(n), _) => out.push_str(&n.to_string()),
            (Arg::List(items), _) => out.push_str(&self.list(items)),
            (Arg::Series(items), _) => out.push_str(&items.join(self.text.list_between)),
        }
    }

    /// Items joined with the language's conjunction.
    fn list(&self, items: &[String]) -> String {
        match items {
            [] => String::new(),
            [a] => a.clone(),
            [init @ .., z] => format!(
                "{}{}{z}",
                init.join(self.text.list_between),
                self.text.list_last
            ),
        }
    }
}

/// Where the `{...}` that starts before `s` closes: the index of its `}`
/// (braces inside it nest), or the end of `s`.
fn closing(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

/// The `|`-separated parts of a directive, outside nested braces.
fn split_forms(d: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in d.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => {
                parts.push(&d[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&d[start..]);
    parts
}

/// Ordinals, for `{name:ordinal}`, as English writes them: 1st, 2nd,
/// 3rd, 4th, 11th, 21st. (A language that does not inflect them uses
/// `{name}`; one that inflects them otherwise adds its rule here.)
fn english_ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The argument names a template uses, and whether it is well formed
    /// (every brace closed, every form choice with two forms).
    fn names(template: &str) -> Result<BTreeSet<String>, String> {
        let mut out = BTreeSet::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!("a stray }} in {template:?}"));
            }
            let body = &rest[open + 1..];
            let close = closing(body);
            if close == body.len() {
                return Err(format!("an unclosed {{ in {template:?}"));
            }
            let d = &body[..close];
            if !d.starts_with('+') {
                let forms = split_forms(d);
                if forms.len() != 1 && forms.len() != 3 {
                    return Err(format!("{{{d}}} needs a name and two forms"));
                }
                let name = forms[0].split(':').next().unwrap_or("");
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("{{{d}}} has no argument name"));
                }
                out.insert(name.to_string());
                for form in &forms[1..] {
                    out.extend(names(form)?);
                }
            }
            rest = &body[close + 1..];
        }
        Ok(out)
    }

    #[test]
    fn every_sentence_is_said_in_every_language_with_the_same_arguments() {
        let en = super::super::lang_en::ENGLISH.all();
        let zh = super::super::lang_zh::CHINESE.all();
        assert_eq!(en.len(), zh.len());
        for ((key, e), (_, z)) in en.iter().zip(&zh) {
            assert!(!e.trim().is_empty(), "{key} has no English text");
            assert!(!z.trim().is_empty(), "{key} has no Chinese text");
            let (ne, nz) = (names(e), names(z));
            assert!(ne.is_ok(), "{key} in English: {ne:?}");
            assert!(nz.is_ok(), "{key} in Chinese: {nz:?}");
            assert_eq!(ne, nz, "{key} takes other arguments in the two languages");
        }
    }

    #[test]
    fn templates_fill_in_counts_lists_and_the_glossary() {
        let w = of(Lang::En, false);
        let t = "{n} {n|term|terms}, the {k:ordinal}; {items} and {s}{+术语}.";
        let args = |n: usize| {
            [
                ("n", Arg::from(n)),
                ("k", Arg::from(22usize)),
                ("items", Arg::List(vec!["a".into(), "b".into(), "c".into()])),
                ("s", Arg::Series(vec!["x".into(), "y".into()])),
            ]
        };
        assert_eq!(
            w.fill(t, &args(1)),
            "1 term, the 22nd; a, b and c and x, y."
        );
        assert_eq!(
            of(Lang::EnZh, false).fill(t, &args(2)),
            "2 terms, the 22nd; a, b and c and x, y (术语)."
        );
        let zh = of(Lang::Zh, true);
        assert_eq!(
            zh.fill("{items}{s}{+term}", &args(2)),
            "a、b、cx、y（term）"
        );
        // A form may hold arguments of its own.
        let nested = "{n|takes|the {n} of them take}";
        assert_eq!(w.fill(nested, &[("n", Arg::from(1usize))]), "takes");
        assert_eq!(
            w.fill(nested, &[("n", Arg::from(3usize))]),
            "the 3 of them take"
        );
        // A list chooses its form by its length.
        let one = [("l", Arg::List(vec!["z1".into()]))];
        assert_eq!(w.fill("{l} {l|ties|tie}", &one), "z1 ties");
    }

    #[test]
    fn english_ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 102, 111]
            .iter()
            .map(|&n| english_ordinal(n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd", "111th"
            ]
        );
    }

    #[test]
    fn sentences_join_the_language_way() {
        let parts = ["A.".to_string(), String::new(), "B.".to_string()];
        assert_eq!(of(Lang::En, false).sentences(&parts), "A. B.");
        assert_eq!(of(Lang::Zh, false).sentences(&parts), "A.B.");
    }
}
