//! What the walkthrough says, as one method per sentence or label. Each
//! language implements it in one file (`lang_en.rs`, `lang_zh.rs`) holding
//! every sentence of that language, with the tutorial's Chinese terms.
//!
//! Arguments are figures already rounded for reading and names already
//! formatted (`z1`, `z[5]`, `q[3]`); a sentence never computes.

use super::Facts;
use crate::cli::Lang;
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

/// Every sentence and label of the walkthrough in one language.
pub trait Words {
    /// The language's code, as `--lang` takes it.
    fn code(&self) -> &'static str;

    // The title and the opening paragraphs.
    fn title(&self, f: &Facts) -> String;
    fn intro(&self, f: &Facts) -> Vec<String>;
    fn default_record(&self, n_records: usize) -> String;
    fn rounding(&self, sig: usize) -> String;

    // Section headings.
    fn h_formula(&self) -> String;
    fn h_similarities(&self) -> String;
    fn h_terms(&self) -> String;
    fn h_ratio(&self) -> String;
    fn h_loss(&self) -> String;
    fn h_batch(&self) -> String;
    fn h_temperature(&self) -> String;

    // 1. The formula and its symbols.
    fn formula_text(&self) -> String;
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
    fn sim_intro(&self, sim: Similarity) -> String;

    // 3. Logits and exp terms.
    fn terms_intro(&self, tau: &str) -> String;
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String;
    fn col_candidate(&self) -> String;
    fn col_share(&self) -> String;
    fn rest_label(&self, count: usize) -> String;
    fn rest_line(&self, count: usize, sum: &str, share: &str) -> String;
    fn positive_mark(&self, anchor: &str, positive: &str, log_form: bool) -> String;

    // 4. Numerator, denominator, ratio.
    fn word_numerator(&self) -> String;
    fn word_denominator(&self) -> String;
    fn numerator_text(&self, anchor: &str, positive: &str) -> String;
    fn denominator_text(&self, has_rest: bool) -> String;
    fn ratio_text(&self) -> String;
    fn overflow_text(&self, log_numerator: &str, log_denominator: &str) -> String;
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

    // 5. The loss.
    fn loss_text(&self) -> String;
    fn loss_logs_text(&self) -> String;
    fn loss_digits(&self) -> String;

    // 6. The batch.
    fn batch_intro(&self, f: &Facts) -> String;
    fn col_record(&self) -> String;
    fn col_anchor(&self) -> String;
    fn col_positive(&self) -> String;
    fn col_numerator(&self) -> String;
    fn col_denominator(&self) -> String;
    fn col_loss(&self) -> String;
    fn col_batch_loss(&self) -> String;
    fn batch_more(&self, shown_others: usize, more: usize) -> String;
    fn mean_text(&self, f: &Facts) -> String;
    fn mean_directions(&self, n_records: usize) -> String;

    // 7. The temperature.
    fn sweep_intro(&self, tau: &str, anchor: &str) -> String;
    fn sweep_lesson(&self) -> String;
}

/// The sentences of a language.
pub fn of(lang: Lang) -> &'static dyn Words {
    match lang {
        Lang::En => &super::lang_en::English,
        Lang::Zh => &super::lang_zh::Chinese,
    }
}
