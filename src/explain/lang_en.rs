//! Every sentence of the walkthrough in English; with the glossary
//! (`--lang en+zh` or `--glossary`) the tutorial's Chinese terms follow in
//! brackets where they are introduced.

use super::Pick;
use super::steps::{Math, im, quoted};
use super::words::{Arrangement, Named, Scene, Shape, SweepFacts, Words};
use crate::layout::Direction;
use crate::loss::Similarity;

pub struct English {
    pub glossary: bool,
}

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

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [a, b] => format!("{a} and {b}"),
        _ => format!(
            "{} and {}",
            items[..items.len() - 1].join(", "),
            items[items.len() - 1]
        ),
    }
}

impl English {
    /// The tutorial's Chinese term in brackets, with the glossary.
    fn g(&self, zh: &str) -> String {
        if self.glossary {
            format!(" ({zh})")
        } else {
            String::new()
        }
    }
}

impl Words for English {
    fn code(&self) -> &'static str {
        if self.glossary { "en+zh" } else { "en" }
    }

    fn title(&self, s: &Scene) -> String {
        if s.is_example() {
            format!(
                "InfoNCE, step by step: the tutorial's example, anchor {}",
                s.anchor
            )
        } else {
            format!("InfoNCE, step by step: anchor {} of `{}`", s.anchor, s.name)
        }
    }

    fn intro(&self, s: &Scene) -> Vec<String> {
        let (tau, anchor, positive) = (&s.tau, s.anchor, s.positive);
        let layout = match s.arrangement {
            Arrangement::Example => {
                return vec![
                    format!(
                        "The tutorial's example: four embeddings of dimension 4 in the two-view layout. \
                         z1 and z3 are two augmented views{} of one data point, z2 and z4 of another, \
                         so (z1, z3) and (z2, z4) are the positive pairs{}. \
                         Temperature τ = {tau}, {}.",
                        self.g("增强视图"),
                        self.g("正样本对"),
                        sim_name(s.similarity)
                    ),
                    format!(
                        "We follow anchor {anchor}: its positive is {positive}, and the other two \
                         embeddings are its negatives{}. Every figure comes from the same core \
                         as `infonce compute`.",
                        self.g("负样本")
                    ),
                ];
            }
            Arrangement::TwoView { half } => format!(
                "in the two-view layout: rows i and i+{half} are two augmented views{} of item i",
                self.g("增强视图")
            ),
            Arrangement::Pairs { file, symmetric } => format!(
                "with the pairs of `{file}`: each of its rows makes an anchor and its positive{}",
                if symmetric {
                    ", and each pair is also scored the other way"
                } else {
                    ""
                }
            ),
            Arrangement::Keys {
                file,
                rows,
                symmetric,
            } => format!(
                "as queries, with the {rows} keys of `{file}`: row i of each file is a pair{}",
                if symmetric {
                    "; the key-to-query records follow the query-to-key ones"
                } else {
                    ""
                }
            ),
        };
        let naming = match s.arrangement {
            Arrangement::Keys { .. } => {
                "q[i] names row i of the queries and k[i] row i of the keys"
            }
            _ => "z[i] names row i",
        };
        vec![
            format!(
                "`{}`: {} rows of dimension {}, {layout}. Temperature τ = {tau}, {}, {} products.",
                s.name,
                s.rows,
                s.dimension,
                sim_name(s.similarity),
                s.precision
            ),
            format!(
                "Anchor {anchor} (record {} of `infonce compute`) has positive {positive}; its \
                 denominator has {} ({}). {naming}. Every figure comes from the same core \
                 as `infonce compute`.",
                s.record,
                plural(s.n_terms, "term", "terms"),
                plural(s.n_terms - 1, "negative", "negatives"),
            ),
        ]
    }

    fn picked(&self, s: &Scene) -> Option<String> {
        let others: Vec<String> = s
            .others
            .iter()
            .map(|o| {
                let way = match o.direction {
                    Some(Direction::KeyToQuery) => ", `--direction key-to-query`",
                    Some(Direction::QueryToKey) => ", `--direction query-to-key`",
                    None => "",
                };
                format!(
                    "record {} ({} with positive {}{way})",
                    o.record, o.anchor, o.positive
                )
            })
            .collect();
        let tail = if others.is_empty() {
            String::new()
        } else {
            format!(
                " The row also anchors {}; `--positive J`, `--direction` or `--record K` picks another.",
                list(&others)
            )
        };
        match s.pick {
            Pick::Default => Some(format!(
                "No `--anchor` was given, so this is the first record; `--anchor I` explains row I.{tail}"
            )),
            Pick::Anchor if !others.is_empty() => Some(format!(
                "This is record {}, the first of the row's records.{tail}",
                s.record
            )),
            _ => None,
        }
    }

    fn rounding(&self, sig: usize) -> String {
        format!(
            "Figures are rounded to {sig} significant digits; the sums use the unrounded values. \
             So that one step can be checked against the next, a few figures keep more digits; \
             `--format json` has them all."
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
    fn h_classification(&self) -> String {
        "It is a classification".into()
    }
    fn h_gradient(&self) -> String {
        "Who gets pushed, and how hard".into()
    }
    fn h_hard(&self) -> String {
        "A hard negative".into()
    }
    fn h_batch(&self) -> String {
        "The other anchors and the batch loss".into()
    }
    fn h_temperature(&self) -> String {
        "What the temperature does".into()
    }
    fn h_name(&self) -> String {
        "Where the name comes from".into()
    }

    fn formula_text(&self) -> String {
        "The InfoNCE loss of anchor i: minus the log of the positive's share of the softmax over its candidates.".into()
    }
    fn numbering(&self, s: &Scene) -> String {
        let simclr = if s.two_view() {
            " SimCLR's paper numbers the two views of item k 2k−1 and 2k; this tool, like code \
             that stacks the two views' batches, pairs row i with row i+N."
        } else {
            ""
        };
        if s.one_based {
            format!(
                "Indices count from 1, as in the tutorial: z1 to z4 are rows 0 to 3 of \
                 `fixtures/seed.csv`, the numbers `infonce compute` prints and `--anchor` takes.{simclr}"
            )
        } else {
            format!(
                "Indices count from 0, as the file's rows, `infonce compute` and `--anchor` do.{simclr}"
            )
        }
    }
    fn sym_loss(&self) -> String {
        "the loss of anchor i".into()
    }
    fn sym_numerator(&self) -> String {
        format!(
            "numerator{}: the score of the positive pair; exp amplifies the similarity",
            self.g("分子")
        )
    }
    fn sym_denominator(&self, shape: Shape) -> String {
        let g = self.g("分母");
        match shape {
            Shape::Keys { .. } => {
                format!(
                    "denominator{g}: the sum over every candidate; the positive is one of its terms"
                )
            }
            _ => format!(
                "denominator{g}: the sum over every embedding but the anchor itself; the positive is one of its terms"
            ),
        }
    }
    fn sym_tau(&self) -> String {
        format!(
            "temperature{}: divides every similarity and so sets how sharp the distribution is",
            self.g("温度参数")
        )
    }
    fn sym_indicator(&self) -> String {
        format!(
            "indicator function{}: 1 when k ≠ i, else 0; it leaves the anchor out",
            self.g("指示函数")
        )
    }
    fn sym_sim(&self, sim: Similarity) -> String {
        let f = Math::new(
            "sim(u, v) = u·v / (‖u‖ ‖v‖)",
            "\\mathrm{sim}(u, v) = \\frac{u \\cdot v}{\\lVert u \\rVert \\, \\lVert v \\rVert}",
        );
        let d = Math::new("sim(u, v) = u·v", "\\mathrm{sim}(u, v) = u \\cdot v");
        match sim {
            Similarity::Cosine => {
                format!("cosine similarity{}: {}", self.g("余弦相似度"), im(&f))
            }
            Similarity::Dot => format!("dot product{}: {}", self.g("点积"), im(&d)),
        }
    }
    fn sym_positive(&self, shape: Shape) -> String {
        let g = self.g("正样本对");
        let zi = im(&Math::same("z_i"));
        match shape {
            Shape::TwoView => format!(
                "the positive of {zi}: together they are a positive pair{g}, two augmented views of one data point"
            ),
            Shape::Pairs => format!(
                "the positive of {zi}, from the pairs file: together they are a positive pair{g}"
            ),
            Shape::Keys { backward: false } => {
                format!("a query and its key, row i of each file: a positive pair{g}")
            }
            Shape::Keys { backward: true } => {
                format!("a key and its query, row i of each file: a positive pair{g}")
            }
        }
    }
    fn sym_negatives(&self) -> String {
        format!("negatives{}: every other candidate", self.g("负样本"))
    }
    fn sym_batch(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => format!(
                "the number of embeddings in the batch: N data points, two augmented views{} of each",
                self.g("增强视图")
            ),
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
    fn sim_intro(&self, sim: Similarity, written: &str, long: bool) -> String {
        let how = if long {
            format!(
                "the vectors are too long to write out: for the positive, {written}, the norms and the dot product are given"
            )
        } else {
            format!("written out for the positive, {written}")
        };
        match sim {
            Similarity::Cosine => format!(
                "Cosine similarity divides the dot product by the product of the two vectors' \
                 norms. The similarities are the program's; the products are for checking \
                 ({how}):"
            ),
            Similarity::Dot => {
                format!("The similarity is the plain dot product ({how}):")
            }
        }
    }
    fn sim_rest(&self) -> String {
        "The same for every candidate:".into()
    }

    fn terms_intro(&self, tau: &str) -> String {
        format!(
            "Each similarity divided by τ = {tau} is a logit (an unnormalized score); exp of the \
             logit is that candidate's term in the denominator, and its share is the term divided \
             by the denominator (the softmax probability)."
        )
    }
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String {
        if listed == 0 {
            return format!(
                "Only the positive is listed; the last line sums the {} (`--max-terms` sets how many are listed).",
                plural(negatives, "negative", "negatives")
            );
        }
        format!(
            "The positive comes first, then the {} strongest of {}; the last line sums the other {rest} \
             (`--max-terms` sets how many are listed).",
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
    fn mark_tie(&self) -> String {
        "tie".into()
    }
    fn mark_duplicate(&self) -> String {
        "duplicate".into()
    }
    fn positive_mark(&self, anchor: &str, positive: &str, log_form: bool) -> String {
        let m = if log_form {
            " m is the largest logit."
        } else {
            ""
        };
        format!(
            "* the positive: ({anchor}, {positive}) is the positive pair{}; the others are negatives{}.{m}",
            self.g("正样本对"),
            self.g("负样本")
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
            "The numerator{} is the term of the positive pair ({anchor}, {positive}), its score:",
            self.g("分子")
        )
    }
    fn denominator_text(&self, has_rest: bool) -> String {
        let g = self.g("分母");
        if has_rest {
            format!(
                "The denominator{g} adds up every term, the positive's included: the listed ones, then the rest."
            )
        } else {
            format!("The denominator{g} adds up every term, the positive's included:")
        }
    }
    fn denominator_note(&self) -> String {
        let quote = if self.glossary {
            " (“所有负样本对的相似度得分之和”)"
        } else {
            ""
        };
        format!(
            "The tutorial's heading calls the denominator the sum over all negative pairs{quote}; \
             its formula, and this tool, keep the positive in it. That is what makes the ratio a \
             probability: p is at most 1 and the loss at least 0."
        )
    }
    fn ratio_text(&self) -> String {
        "Their ratio is the probability the softmax gives the positive:".into()
    }
    fn overflow_text(&self, numerator: &str, denominator: &str) -> String {
        format!(
            "Here exp overflows: the numerator is {numerator} and the denominator {denominator}, \
             past the largest float64 (about e^709.78). So every figure is given in log form, as the core \
             computes it. The log of the numerator{} is the positive's logit:",
            self.g("分子")
        )
    }
    fn underflow_text(&self) -> String {
        format!(
            "Some terms are below the smallest float64 and would print as 0, so every figure is \
             given in log form, as the core computes it. The log of the numerator{} is the \
             positive's logit:",
            self.g("分子")
        )
    }
    fn lse_text(&self, max_logit: &str) -> String {
        format!(
            "The log of the denominator{} comes from log-sum-exp: subtract the largest logit, \
             m = {max_logit}, before exponentiating, then add m back. After the subtraction the \
             largest term is exactly 1, so the sum is at least 1 and its log is never log 0:",
            self.g("分母")
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
                "The negative with the largest share of the denominator is {}.",
                list[0]
            )
        } else {
            format!(
                "The negatives with the largest shares of the denominator: {}.",
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
    fn rank(&self, positive: &str, rank: u64, n: usize) -> String {
        if rank == 1 {
            format!(
                "The positive {positive} ranks 1st of {n} candidates: no negative scores above it."
            )
        } else {
            format!(
                "The positive {positive} ranks {} of {n} candidates: {} above it.",
                ordinal(rank),
                plural(rank as usize - 1, "negative scores", "negatives score")
            )
        }
    }
    fn outscored(&self, named: &[Named], count: usize, share: &str) -> String {
        let items: Vec<String> = named
            .iter()
            .map(|n| {
                format!(
                    "{} (share {}, similarity {} above the positive's)",
                    n.label, n.share, n.margin
                )
            })
            .collect();
        format!(
            "This anchor fails: {} {}, {} closer to the anchor than the positive is, and {} of the denominator.",
            if count == 1 {
                "the negative that outscores its positive,"
            } else {
                "the negatives that outscore its positive,"
            },
            list(&items),
            if count == 1 { "is" } else { "are" },
            if count == 1 {
                format!("takes {share}")
            } else {
                format!("the {count} of them take {share}")
            }
        )
    }
    fn ties(&self, labels: &[String], positive: &str) -> String {
        format!(
            "{} {} the positive {positive}'s similarity to the digits shown (marked tie).",
            list(labels),
            if labels.len() == 1 { "ties" } else { "tie" }
        )
    }
    fn duplicates(&self, labels: &[String], positive: &str) -> String {
        format!(
            "{} {} an exact copy of the positive {positive} (marked duplicate): a false negative, \
             which the loss pushes away from the anchor although it is the positive's equal.",
            list(labels),
            if labels.len() == 1 { "is" } else { "are each" }
        )
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

    fn classification_text(&self, n: usize, target: usize) -> String {
        format!(
            "The loss is the cross-entropy of a classification over {}, with the \
             positive as the label: in PyTorch, `F.cross_entropy(logits, target)` with the logits \
             above in candidate order and target = {target}. Keeping the positive in the \
             denominator is what keeps p ≤ 1 and the loss ≥ 0.",
            if n == 1 {
                "the 1 candidate".to_string()
            } else {
                format!("the {n} candidates")
            }
        )
    }
    fn bounds_text(&self, n: usize, log_n: &str, flat_tau: &str, flat_loss: &str) -> String {
        format!(
            "As τ grows, every logit goes to 0, every candidate gets the same share 1/{n}, and \
             the loss goes to {} (at τ = {flat_tau} the core gives {flat_loss}).",
            quoted::log_n(&n.to_string(), log_n)
        )
    }
    fn bound_low(&self, leads: bool) -> String {
        if leads {
            "As τ shrinks, the positive, which leads every negative, takes the whole denominator and the loss goes to 0.".into()
        } else {
            format!(
                "As τ shrinks, the loss does not go to 0: a negative scores at least as high as the positive, and the loss grows like {}.",
                quoted::margin_over_tau(false)
            )
        }
    }

    fn gradient_text(&self, positive: &str, g_pos: &str, top: Option<(&str, &str)>) -> String {
        let top = match top {
            Some((label, g)) => format!(
                " The strongest negative, {label}, is pushed away hardest ({g}); a negative with \
                 a share near 0 is hardly moved at all."
            ),
            None => String::new(),
        };
        format!(
            "The column ∂L/∂sim above is the gradient of the loss with respect to each similarity: \
             {} for a negative, {} for the positive. Gradient descent raises the \
             positive's similarity ({positive}: {g_pos}) and lowers each negative's in proportion \
             to its share.{top}",
            quoted::grad_negative(),
            quoted::grad_positive()
        )
    }
    fn col_gradient(&self) -> String {
        "∂L/∂sim".into()
    }

    fn hard_text(&self, label: &str, before: &str, after: &str, margin: &str) -> String {
        format!(
            "The same anchor with {label} moved closer, so that its similarity is {after} instead of \
             {before} ({margin} below the positive's); the other vectors are unchanged, and the core \
             runs again on the modified vectors:"
        )
    }
    fn hard_lesson(&self, label: &str, share: &str, loss_before: &str, loss_after: &str) -> String {
        format!(
            "As a hard negative, {label} takes {share} of the denominator, and the loss goes from \
             {loss_before} to {loss_after}: a negative that scores close to the positive is what \
             the loss mostly learns from."
        )
    }
    fn hard_already(&self, label: &str, sim: &str, positive_sim: &str) -> String {
        format!(
            "This anchor already has a hard negative: {label}, at similarity {sim} against the \
             positive's {positive_sim}."
        )
    }
    fn col_before(&self) -> String {
        "as given".into()
    }
    fn col_after(&self) -> String {
        "hard negative".into()
    }

    fn batch_intro(&self, s: &Scene) -> String {
        if s.is_example() {
            "The same steps for every anchor, each with its own positive (* marks the one above):"
                .into()
        } else {
            "The same steps give every record's loss (* marks the one above):".into()
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
    fn col_rank(&self) -> String {
        "rank".into()
    }
    fn col_batch_loss(&self) -> String {
        "batch loss".into()
    }
    fn batch_more(&self, shown_others: usize, more: usize) -> String {
        format!(
            "Listed: the explained record and the {shown_others} with the highest loss; {} not listed \
             (`infonce compute` lists them all).",
            plural(more, "record is", "records are")
        )
    }
    fn mean_text(&self, s: &Scene) -> String {
        let n = s.n_records;
        if s.two_view() {
            format!("The batch loss is the mean over all 2N = {n} anchors:")
        } else {
            format!("The batch loss is the mean over all R = {n} records:")
        }
    }
    fn mean_directions(&self, n_records: usize) -> String {
        format!(
            "The batch loss is the mean of the two directions' means (query to key, key to query), over {n_records} records:"
        )
    }

    fn sweep_intro(&self, tau: &str, anchor: &str) -> String {
        format!(
            "The same vectors, computed again at other temperatures: the loss and p of anchor \
             {anchor}, the share of its hardest negative, and the batch loss (* marks τ = {tau}, \
             the one used above):"
        )
    }
    fn col_hardest(&self, label: &str) -> String {
        format!("share of {label}")
    }
    fn sweep_lesson(&self, s: &SweepFacts) -> Vec<String> {
        let mut out = Vec::new();
        let mut first = format!(
            "From τ = {} to τ = {}, p went from {} to {} and the loss from {} to {}",
            s.tau_lo, s.tau_hi, s.p_lo, s.p_hi, s.loss_lo, s.loss_hi
        );
        match &s.hardest {
            Some((label, lo, hi)) => first.push_str(&format!(
                "; the share of {label}, the hardest negative, went from {lo} to {hi}."
            )),
            None => first.push('.'),
        }
        out.push(first);
        if let Some((lo, hi)) = &s.concentrates {
            out.push(format!(
                "As τ shrinks, the weight among the negatives concentrates on the hardest one: its \
                 part of the negatives' share is {lo} at τ = {} against {hi} at τ = {}.",
                s.tau_lo, s.tau_hi
            ));
        }
        if let Some((approx, loss)) = &s.outscored {
            out.push(format!(
                "A negative that outscores the positive makes {} at small τ: \
                 {approx} at τ = {}, where the loss is {loss}.",
                quoted::margin_over_tau(true),
                s.tau_lo
            ));
        }
        if s.zero_at_hi {
            out.push(format!(
                "Even at τ = {} the positive leads by so much that p rounds to 1 (the loss is {}): \
                 on these similarities the temperatures shown are all small. Only a far larger τ \
                 brings the loss towards its limit {}.",
                s.tau_hi,
                s.loss_hi,
                quoted::log_n("n", &s.log_n)
            ));
        } else {
            out.push(format!(
                "As τ grows, the terms grow alike and the loss approaches {}, where the \
                 positive is no more likely than any candidate.",
                quoted::log_n("n", &s.log_n)
            ));
        }
        out
    }

    fn name_text(&self, shape: Shape) -> String {
        let form = match shape {
            Shape::TwoView => {
                "With the two-view layout this is SimCLR's NT-Xent (normalized temperature-scaled cross-entropy): every other embedding of the batch is a negative."
            }
            _ => "This is the InfoNCE loss with the candidates of this layout as negatives.",
        };
        format!(
            "{form} The name InfoNCE comes from CPC (Contrastive Predictive Coding), where one \
             positive is scored against K negatives, and MoCo draws the K negatives from a queue. \
             In that setting, with the negatives drawn independently, the loss bounds the mutual \
             information between the two views: {}.",
            quoted::cpc_bound()
        )
    }
    fn cpc_text(&self, n: usize, log_n: &str, mean: &str, bound: &str) -> String {
        format!(
            "Here K+1 = {n} candidates: {} nats, with the batch loss as L. The bound can never \
             exceed {}, which is why InfoNCE needs many negatives to measure much information.",
            quoted::cpc_figure(n, log_n, mean, bound),
            quoted::log_k1()
        )
    }
}
