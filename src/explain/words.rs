//! What the walkthrough says, as one method per sentence or label. Each
//! language implements it in one file (`lang_en.rs`, `lang_zh.rs`) holding
//! every sentence of that language, with the tutorial's Chinese terms.
//!
//! Arguments are figures already rounded for reading and names already
//! formatted (`z1`, `z[5]`, `q[3]`); a sentence never computes. A sentence
//! may hold inline math made by [`im`](super::steps::im) (plain on a
//! terminal, TeX in Markdown) and command names and flags in backticks.

use super::Pick;
use crate::cli::Lang;
use crate::layout::Direction;
use crate::loss::Similarity;

/// The arrangement a formula is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One file, rows i and i+N are the two views of item i.
    TwoView,
    /// One file, positives from a pairs file.
    Pairs,
    /// Queries and keys; `backward` for a key-to-query record.
    Keys { backward: bool },
}

/// How the data is laid out, selected once from the facts so that each
/// language only fills in its sentences.
pub enum Arrangement<'a> {
    /// The tutorial's four embeddings, built in.
    Example,
    /// One file, rows i and i+half the two views of item i.
    TwoView { half: usize },
    /// One file, positives from a pairs file.
    Pairs { file: &'a str, symmetric: bool },
    /// Queries, and keys from another file.
    Keys {
        file: &'a str,
        rows: usize,
        symmetric: bool,
    },
}

/// What the opening paragraphs tell: the data, the settings and the record.
pub struct Scene<'a> {
    pub arrangement: Arrangement<'a>,
    /// The embeddings file (the user's data only).
    pub name: &'a str,
    pub rows: usize,
    pub dimension: usize,
    pub tau: String,
    pub similarity: Similarity,
    pub precision: &'a str,
    pub anchor: &'a str,
    pub positive: &'a str,
    /// The explained record's index and its number of terms.
    pub record: usize,
    pub n_terms: usize,
    pub n_records: usize,
    /// True when the formulas count from 1, as the tutorial does.
    pub one_based: bool,
    /// How the record was picked, and the other records of its anchor row.
    pub pick: Pick,
    pub others: Vec<Other>,
}

impl Scene<'_> {
    /// True for the two-view layout, the example's included.
    pub fn two_view(&self) -> bool {
        matches!(
            self.arrangement,
            Arrangement::Example | Arrangement::TwoView { .. }
        )
    }

    pub fn is_example(&self) -> bool {
        matches!(self.arrangement, Arrangement::Example)
    }
}

/// Another record of the explained anchor's row.
pub struct Other {
    pub record: usize,
    pub anchor: String,
    pub positive: String,
    pub direction: Option<Direction>,
}

/// A negative named in a sentence: its name, its share of the denominator
/// and how far its similarity is above the positive's.
pub struct Named {
    pub label: String,
    pub share: String,
    pub margin: String,
}

/// What the temperature table shows, for the sentences after it.
pub struct SweepFacts {
    /// Lowest and highest tau of the table.
    pub tau_lo: String,
    pub tau_hi: String,
    pub p_lo: String,
    pub p_hi: String,
    pub loss_lo: String,
    pub loss_hi: String,
    /// The hardest negative and its share at the two ends.
    pub hardest: Option<(String, String, String)>,
    /// Its part of the negatives' share at the two ends, when it grows as
    /// tau shrinks (the weight concentrates on it).
    pub concentrates: Option<(String, String)>,
    /// When the hardest negative outscores the positive: (s_neg − s_pos)/τ
    /// at the lowest tau and the loss there.
    pub outscored: Option<(String, String)>,
    /// True when p rounds to 1 at the highest tau.
    pub zero_at_hi: bool,
    /// log of the number of candidates, the limit as tau grows.
    pub log_n: String,
}

/// Every sentence and label of the walkthrough in one language.
pub trait Words {
    /// The language's code, as `--lang` takes it.
    fn code(&self) -> &'static str;

    // The title and the opening paragraphs.
    fn title(&self, s: &Scene) -> String;
    fn intro(&self, s: &Scene) -> Vec<String>;
    /// Which record was taken and which others the same row anchors.
    fn picked(&self, s: &Scene) -> Option<String>;
    fn rounding(&self, sig: usize) -> String;

    // Section headings.
    fn h_formula(&self) -> String;
    fn h_similarities(&self) -> String;
    fn h_terms(&self) -> String;
    fn h_ratio(&self) -> String;
    fn h_loss(&self) -> String;
    fn h_classification(&self) -> String;
    fn h_gradient(&self) -> String;
    fn h_hard(&self) -> String;
    fn h_batch(&self) -> String;
    fn h_temperature(&self) -> String;
    fn h_name(&self) -> String;

    // 1. The formula and its symbols.
    fn formula_text(&self) -> String;
    /// Which numbering the indices follow.
    fn numbering(&self, s: &Scene) -> String;
    fn sym_loss(&self) -> String;
    fn sym_numerator(&self) -> String;
    fn sym_denominator(&self, shape: Shape) -> String;
    fn sym_tau(&self) -> String;
    fn sym_indicator(&self) -> String;
    fn sym_sim(&self, sim: Similarity) -> String;
    fn sym_positive(&self, shape: Shape) -> String;
    fn sym_negatives(&self) -> String;
    fn sym_batch(&self, shape: Shape) -> String;

    // 2. Vectors and similarities.
    /// `full`: every component is shown; `some`: only some candidates are.
    fn vectors_intro(&self, dim: usize, full: bool, some: bool) -> String;
    /// `written`: the candidate whose product is written out in full.
    fn sim_intro(&self, sim: Similarity, written: &str, long: bool) -> String;
    fn sim_rest(&self) -> String;

    // 3. Logits and exp terms.
    fn terms_intro(&self, tau: &str) -> String;
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String;
    fn col_candidate(&self) -> String;
    fn col_share(&self) -> String;
    fn rest_label(&self, count: usize) -> String;
    fn rest_line(&self, count: usize, sum: &str, share: &str) -> String;
    fn mark_tie(&self) -> String;
    fn mark_duplicate(&self) -> String;
    fn positive_mark(&self, anchor: &str, positive: &str, log_form: bool) -> String;

    // 4. Numerator, denominator, ratio.
    fn word_numerator(&self) -> String;
    fn word_denominator(&self) -> String;
    fn numerator_text(&self, anchor: &str, positive: &str) -> String;
    fn denominator_text(&self, has_rest: bool) -> String;
    /// The tutorial's heading calls the denominator a sum over negatives.
    fn denominator_note(&self) -> String;
    fn ratio_text(&self) -> String;
    fn overflow_text(&self, numerator: &str, denominator: &str) -> String;
    fn underflow_text(&self) -> String;
    fn lse_text(&self, max_logit: &str) -> String;
    fn ratio_text_log(&self) -> String;
    /// `named`: the heaviest negatives and their shares; `listed`: how many
    /// negatives are listed, `listed_share` their share together; `rest`:
    /// the count and share of the terms not listed.
    fn heaviest(
        &self,
        named: &[(String, String)],
        listed: usize,
        listed_share: &str,
        rest: Option<(usize, String)>,
    ) -> String;
    fn rest_only(&self, count: usize, share: &str) -> String;
    fn no_negatives(&self) -> String;
    /// The positive's rank among the candidates (1 is the top).
    fn rank(&self, positive: &str, rank: u64, n: usize) -> String;
    /// The negatives that outscore the positive, and their share together.
    fn outscored(&self, named: &[Named], count: usize, share: &str) -> String;
    fn ties(&self, labels: &[String], positive: &str) -> String;
    fn duplicates(&self, labels: &[String], positive: &str) -> String;

    // 5. The loss.
    fn loss_text(&self) -> String;
    fn loss_logs_text(&self) -> String;
    fn loss_digits(&self) -> String;

    // 6. A classification.
    fn classification_text(&self, n: usize, target: usize) -> String;
    fn bounds_text(&self, n: usize, log_n: &str, flat_tau: &str, flat_loss: &str) -> String;
    fn bound_low(&self, leads: bool) -> String;

    // 7. Gradients.
    fn gradient_text(&self, positive: &str, g_pos: &str, top: Option<(&str, &str)>) -> String;
    fn col_gradient(&self) -> String;

    // 8. A hard negative.
    fn hard_text(&self, label: &str, before: &str, after: &str, margin: &str) -> String;
    fn hard_lesson(&self, label: &str, share: &str, loss_before: &str, loss_after: &str) -> String;
    fn hard_already(&self, label: &str, sim: &str, positive_sim: &str) -> String;
    fn col_before(&self) -> String;
    fn col_after(&self) -> String;

    // 9. The batch.
    fn batch_intro(&self, s: &Scene) -> String;
    fn col_record(&self) -> String;
    fn col_anchor(&self) -> String;
    fn col_positive(&self) -> String;
    fn col_numerator(&self) -> String;
    fn col_denominator(&self) -> String;
    fn col_loss(&self) -> String;
    fn col_rank(&self) -> String;
    fn col_batch_loss(&self) -> String;
    fn batch_more(&self, shown_others: usize, more: usize) -> String;
    fn mean_text(&self, s: &Scene) -> String;
    fn mean_directions(&self, n_records: usize) -> String;

    // 10. The temperature.
    fn sweep_intro(&self, tau: &str, anchor: &str) -> String;
    fn col_hardest(&self, label: &str) -> String;
    fn sweep_lesson(&self, s: &SweepFacts) -> Vec<String>;

    // 11. The name.
    fn name_text(&self, shape: Shape) -> String;
    fn cpc_text(&self, n: usize, log_n: &str, mean: &str, bound: &str) -> String;
}

/// The sentences of a language; `glossary` adds the other language's terms.
pub fn of(lang: Lang, glossary: bool) -> Box<dyn Words> {
    match lang {
        Lang::En => Box::new(super::lang_en::English { glossary }),
        Lang::EnZh => Box::new(super::lang_en::English { glossary: true }),
        Lang::Zh => Box::new(super::lang_zh::Chinese { glossary }),
    }
}
