//! Every sentence of the walkthrough in English, with the tutorial's Chinese
//! terms in brackets where they are introduced.

use super::words::{Shape, Words};
use super::{Facts, Origin};
use crate::layout::LayoutKind;
use crate::loss::Similarity;

pub struct English;

fn sim_name(sim: Similarity) -> &'static str {
    match sim {
        Similarity::Cosine => "cosine similarity",
        Similarity::Dot => "dot-product similarity",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

impl Words for English {
    fn code(&self) -> &'static str {
        "en"
    }

    fn title(&self, f: &Facts) -> String {
        match &f.origin {
            Origin::Example => "InfoNCE, step by step: the tutorial's example".into(),
            Origin::Data { name, .. } => {
                format!("InfoNCE, step by step: record {} of {name}", f.record)
            }
        }
    }

    fn intro(&self, f: &Facts) -> Vec<String> {
        let s = &f.report.summary;
        let tau = super::steps::num(s.tau);
        let anchor = &f.anchor.label.plain;
        let positive = &f.breakdown.positive().vector.label.plain;
        match &f.origin {
            Origin::Example => vec![
                format!(
                    "The tutorial's example: four embeddings of dimension 4 in the two-view layout. \
                     z1 and z3 are two augmented views (增强视图) of one data point, z2 and z4 of another, \
                     so (z1, z3) and (z2, z4) are the positive pairs (正样本对). \
                     Temperature τ = {tau}, {}.",
                    sim_name(s.similarity)
                ),
                format!(
                    "We follow anchor {anchor}: its positive is {positive}, and the other two \
                     embeddings are its negatives (负样本). Every figure comes from the same core \
                     as infonce compute."
                ),
            ],
            Origin::Data {
                name, pairs, keys, ..
            } => {
                let (rows, key_rows) = f.rows;
                let layout = match s.layout {
                    LayoutKind::TwoView => format!(
                        "in the two-view layout: rows i and i+{} are two augmented views (增强视图) of item i",
                        rows / 2
                    ),
                    LayoutKind::Pairs => format!(
                        "with the pairs of {}: each of its rows makes an anchor and its positive{}",
                        pairs.as_deref().unwrap_or("the pairs file"),
                        if s.symmetric {
                            ", and each pair is also scored the other way"
                        } else {
                            ""
                        }
                    ),
                    LayoutKind::Keys => format!(
                        "as queries, with the {key_rows} keys of {}: row i of each file is a pair{}",
                        keys.as_deref().unwrap_or("the keys file"),
                        if s.symmetric {
                            "; the key-to-query records follow the query-to-key ones"
                        } else {
                            ""
                        }
                    ),
                };
                let naming = match s.layout {
                    LayoutKind::Keys => {
                        "q[i] names row i of the queries and k[i] row i of the keys (0-based)"
                    }
                    _ => "z[i] names row i (0-based)",
                };
                vec![
                    format!(
                        "{name}: {rows} rows of dimension {}, {layout}. Temperature τ = {tau}, {}, {} products.",
                        s.dimension,
                        sim_name(s.similarity),
                        s.precision
                    ),
                    format!(
                        "Record {} has anchor {anchor} and positive {positive}; its denominator has {} \
                         ({}). {naming}. Every figure comes from the same core as infonce compute.",
                        f.record,
                        plural(f.breakdown.n, "term", "terms"),
                        plural(f.breakdown.n - 1, "negative", "negatives"),
                    ),
                ]
            }
        }
    }

    fn default_record(&self, n_records: usize) -> String {
        format!(
            "No --anchor was given, so this is record 0 of {n_records}; --anchor I explains record I."
        )
    }

    fn rounding(&self, sig: usize) -> String {
        format!(
            "Figures are rounded to {sig} significant digits; the sums use the unrounded values. \
             A step shows more digits where the next one needs them; --format json has them all."
        )
    }

    fn h_formula(&self) -> String {
        "The formula".into()
    }
    fn h_similarities(&self) -> String {
        "Similarities from the vectors".into()
    }
    fn h_terms(&self) -> String {
        "Logits and exp terms".into()
    }
    fn h_ratio(&self) -> String {
        "Numerator, denominator and their ratio".into()
    }
    fn h_loss(&self) -> String {
        "The loss".into()
    }
    fn h_batch(&self) -> String {
        "The other anchors and the batch loss".into()
    }
    fn h_temperature(&self) -> String {
        "What the temperature does".into()
    }

    fn formula_text(&self) -> String {
        "The InfoNCE loss of anchor i: minus the log of the positive's share of the softmax over its candidates.".into()
    }
    fn sym_loss(&self) -> String {
        "the loss of anchor i".into()
    }
    fn sym_numerator(&self) -> String {
        "numerator (分子): the score of the positive pair; exp amplifies the similarity".into()
    }
    fn sym_denominator(&self, shape: Shape) -> String {
        match shape {
            Shape::Keys { .. } => {
                "denominator (分母): the sum over every candidate; the positive is one of its terms"
                    .into()
            }
            _ => "denominator (分母): the sum over every embedding but the anchor itself; the positive is one of its terms".into(),
        }
    }
    fn sym_tau(&self) -> String {
        "temperature (温度参数): divides every similarity and so sets how sharp the distribution is"
            .into()
    }
    fn sym_indicator(&self) -> String {
        "indicator function (指示函数): 1 when k ≠ i, else 0; it leaves the anchor out".into()
    }
    fn sym_sim(&self, sim: Similarity) -> String {
        match sim {
            Similarity::Cosine => {
                "cosine similarity (余弦相似度): sim(u, v) = u·v / (‖u‖ ‖v‖)".into()
            }
            Similarity::Dot => "dot product (点积): sim(u, v) = u·v".into(),
        }
    }
    fn sym_positive(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => "the positive of z_i: together they are a positive pair (正样本对), two augmented views of one data point".into(),
            Shape::Pairs => "the positive of z_i, from the pairs file: together they are a positive pair (正样本对)".into(),
            Shape::Keys { .. } => "a query and its key, row i of each file: a positive pair (正样本对)".into(),
        }
    }
    fn sym_negatives(&self) -> String {
        "negatives (负样本): every other candidate".into()
    }
    fn sym_batch(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => {
                "the batch: N data points, two augmented views (增强视图) of each".into()
            }
            Shape::Pairs => "the rows of the embeddings file".into(),
            Shape::Keys { .. } => "the rows of each file".into(),
        }
    }

    fn vectors_intro(&self, dim: usize, full: bool, some: bool) -> String {
        let which = if some {
            "The anchor and the candidates listed below"
        } else {
            "The anchor and its candidates"
        };
        if full {
            format!("{which}:")
        } else {
            format!("{which} ({dim} components; the first four and the last two are shown):")
        }
    }
    fn sim_intro(&self, sim: Similarity) -> String {
        match sim {
            Similarity::Cosine => "Cosine similarity divides the dot product by the lengths of both vectors (figures shown are the core's; the dot products and lengths are written out for reading):".into(),
            Similarity::Dot => "The similarity is the plain dot product:".into(),
        }
    }

    fn terms_intro(&self, tau: &str) -> String {
        format!(
            "Each similarity divided by τ = {tau} is a logit; exp of the logit is that candidate's \
             term in the denominator, and its share is the term divided by the denominator \
             (the softmax probability)."
        )
    }
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String {
        if listed == 0 {
            return format!(
                "Only the positive is listed; the last line sums the {} (--max-terms sets how many are listed).",
                plural(negatives, "negative", "negatives")
            );
        }
        format!(
            "The positive comes first, then the {} strongest of {}; the last line sums the other {rest} \
             (--max-terms sets how many are listed).",
            listed,
            plural(negatives, "negative", "negatives")
        )
    }
    fn col_candidate(&self) -> String {
        "candidate".into()
    }
    fn col_share(&self) -> String {
        "share".into()
    }
    fn rest_label(&self, count: usize) -> String {
        format!("… {count} more")
    }
    fn rest_line(&self, count: usize, sum: &str, share: &str) -> String {
        format!(
            "… and {} adding up to {sum} ({share} of the denominator)",
            plural(count, "more term", "more terms")
        )
    }
    fn positive_mark(&self, anchor: &str, positive: &str, log_form: bool) -> String {
        let m = if log_form {
            " m is the largest logit."
        } else {
            ""
        };
        format!(
            "* the positive: ({anchor}, {positive}) is the positive pair (正样本对); the others are negatives (负样本).{m}"
        )
    }

    fn word_numerator(&self) -> String {
        "numerator".into()
    }
    fn word_denominator(&self) -> String {
        "denominator".into()
    }
    fn numerator_text(&self, anchor: &str, positive: &str) -> String {
        format!(
            "The numerator (分子) is the term of the positive pair ({anchor}, {positive}), its score:"
        )
    }
    fn denominator_text(&self, has_rest: bool) -> String {
        if has_rest {
            "The denominator (分母) adds up every term, the positive's included: the listed ones, then the rest.".into()
        } else {
            "The denominator (分母) adds up every term, the positive's included:".into()
        }
    }
    fn ratio_text(&self) -> String {
        "Their ratio is the probability the softmax gives the positive:".into()
    }
    fn overflow_text(&self, log_numerator: &str, log_denominator: &str) -> String {
        format!(
            "Here exp overflows: the numerator is e^{log_numerator} and the denominator e^{log_denominator}, \
             past the largest float64 (about e^709.78). So every figure is given in log form, as the core \
             computes it. The log of the numerator (分子) is the positive's logit:"
        )
    }
    fn lse_text(&self, max_logit: &str) -> String {
        format!(
            "The log of the denominator (分母) comes from log-sum-exp: subtract the largest logit, \
             m = {max_logit}, before exponentiating, so that no term exceeds 1, then add m back:"
        )
    }
    fn ratio_text_log(&self) -> String {
        "The ratio, the probability the softmax gives the positive, is a difference of logs:".into()
    }
    fn heaviest(
        &self,
        named: &[(String, String)],
        listed: usize,
        listed_share: &str,
        rest: Option<(usize, String)>,
    ) -> String {
        let list: Vec<String> = named.iter().map(|(l, s)| format!("{l} ({s})")).collect();
        let mut s = if named.len() == 1 {
            format!(
                "The negative that weighs most in the denominator is {}.",
                list[0]
            )
        } else {
            format!(
                "The negatives that weigh most in the denominator: {}.",
                list.join(", ")
            )
        };
        if listed > 1 {
            s.push_str(&format!(
                " The {listed} listed negatives make up {listed_share} of it together"
            ));
            match rest {
                Some((count, share)) => s.push_str(&format!(", the other {count} {share}.")),
                None => s.push('.'),
            }
        } else if let Some((count, share)) = rest {
            s.push_str(&format!(" The other {count} make up {share}."));
        }
        s
    }
    fn rest_only(&self, count: usize, share: &str) -> String {
        format!("The {count} negatives, none listed, make up {share} of the denominator.")
    }
    fn no_negatives(&self) -> String {
        "There are no negatives: the positive is the only candidate, so p = 1 and the loss is 0."
            .into()
    }

    fn loss_text(&self) -> String {
        "The loss is minus the log of that ratio; a p close to 1 gives a loss close to 0:".into()
    }
    fn loss_logs_text(&self) -> String {
        "The same figure as the log of the denominator minus the log of the numerator:".into()
    }
    fn loss_digits(&self) -> String {
        "The difference of the two logs loses digits when the loss is this small next to them; the core \
         computes the loss as log(1 + Σ over negatives of exp(logit_k − logit_positive)), which keeps them."
            .into()
    }

    fn batch_intro(&self, f: &Facts) -> String {
        match f.origin {
            Origin::Example => {
                "The same steps for every anchor, each with its own positive (* marks the one above):"
                    .into()
            }
            _ => "The same steps give every record's loss (* marks the one above):".into(),
        }
    }
    fn col_record(&self) -> String {
        "record".into()
    }
    fn col_anchor(&self) -> String {
        "anchor".into()
    }
    fn col_positive(&self) -> String {
        "positive".into()
    }
    fn col_numerator(&self) -> String {
        "numerator".into()
    }
    fn col_denominator(&self) -> String {
        "denominator".into()
    }
    fn col_loss(&self) -> String {
        "loss".into()
    }
    fn col_batch_loss(&self) -> String {
        "batch loss".into()
    }
    fn batch_more(&self, shown_others: usize, more: usize) -> String {
        format!(
            "Listed: the explained record and the {shown_others} with the highest loss; {} not listed \
             (infonce compute lists them all).",
            plural(more, "record is", "records are")
        )
    }
    fn mean_text(&self, f: &Facts) -> String {
        let n = f.report.records.len();
        match (&f.origin, f.report.summary.layout) {
            (Origin::Example, _) | (_, LayoutKind::TwoView) => {
                format!("The batch loss is the mean over all 2N = {n} anchors:")
            }
            _ => format!("The batch loss is the mean over all {n} records:"),
        }
    }
    fn mean_directions(&self, n_records: usize) -> String {
        format!(
            "The batch loss is the mean of the two directions' means (query to key, key to query), over {n_records} records:"
        )
    }

    fn sweep_intro(&self, tau: &str, anchor: &str) -> String {
        format!(
            "The same vectors through the core at other temperatures: the loss and p of anchor \
             {anchor}, and the batch loss (* marks τ = {tau}, the one used above):"
        )
    }
    fn sweep_lesson(&self) -> String {
        "A low τ sharpens the distribution: dividing by τ spreads the logits apart, so a positive \
         that leads gets p close to 1, while a negative that scores close to the positive (a hard \
         negative) takes a large share of the denominator and weighs most in the loss. A high τ \
         flattens it: the terms grow alike, and even a well-matched pair keeps a large loss."
            .into()
    }
}
