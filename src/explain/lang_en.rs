//! Every sentence of the walkthrough in English: the templates of
//! [`Sentences`] (see `words.rs` for how they are filled in). With the
//! glossary (`--lang en+zh` or `--glossary`) the tutorial's Chinese terms,
//! `{+...}`, follow in brackets where they are introduced.

use super::words::Sentences;

pub const ENGLISH: Sentences = Sentences {
    code: "en",
    code_glossary: "en+zh",
    join_sentences: "{first} {next}",
    list_between: ", ",
    list_last: " and ",
    gloss: " ({term})",
    sim_cosine: "cosine similarity",
    sim_dot: "dot-product similarity",
    precision_f32: "f32",
    precision_f64: "f64",

    title_example: "InfoNCE, step by step: the tutorial's example, anchor {anchor}",
    title_data: "InfoNCE, step by step: anchor {anchor} of `{name}`",
    intro_example: "The tutorial's example: four embeddings of dimension 4 in the two-view \
            layout. z1 and z3 are two augmented views{+增强视图} of one data point, z2 and z4 of \
            another, so (z1, z3) and (z2, z4) are the positive pairs{+正样本对}. \
            Temperature τ = {tau}, {similarity}.",
    intro_example_anchor: "We follow anchor {anchor}: its positive is {positive}, and the \
            other two embeddings are its negatives{+负样本}. Every figure comes from the same \
            core as `infonce compute`.",
    intro_data: "`{name}`: {rows} rows of dimension {dimension}, {layout}. Temperature \
            τ = {tau}, {similarity}, {precision} products.",
    layout_two_view: "in the two-view layout: rows i and i+{half} are two augmented \
            views{+增强视图} of item i",
    layout_pairs: "with the pairs of `{file}`: each of its rows makes an anchor and its \
            positive{both}",
    pairs_both: ", and each pair is also scored the other way",
    layout_keys: "as queries, with the {rows} keys of `{file}`: row i of each file is a \
            pair{both}",
    keys_both: "; the key-to-query records follow the query-to-key ones",
    naming_rows: "z[i] names row i",
    naming_keys: "q[i] names row i of the queries and k[i] row i of the keys",
    intro_record: "Anchor {anchor} (record {record} of `infonce compute`) has positive \
            {positive}; its denominator has {terms} {terms|term|terms} ({negatives} \
            {negatives|negative|negatives}). {naming}. Every figure comes from the same core \
            as `infonce compute`.",
    picked_default: "No `--anchor` was given, so this is the first record; `--anchor I` \
            explains row I.",
    picked_first: "This is record {record}, the first of the row's records.",
    also_anchors: "The row also anchors {others}; `--positive J`, `--direction` or \
            `--record K` picks another.",
    other_record: "record {record} ({anchor} with positive {positive}{way})",
    way_key_to_query: ", `--direction key-to-query`",
    way_query_to_key: ", `--direction query-to-key`",
    rounding: "Figures are rounded to {sig} significant digits; the sums use the unrounded \
            values. So that one step can be checked against the next, a few figures keep more \
            digits; `--format json` has them all.",

    h_formula: "The formula",
    h_similarities: "Similarities from the vectors",
    h_terms: "Logits and exp terms",
    h_ratio: "Numerator, denominator and their ratio",
    h_loss: "The loss",
    h_classification: "It is a classification",
    h_gradient: "Who gets pushed, and how hard",
    h_hard: "A hard negative",
    h_batch: "The other anchors and the batch loss",
    h_temperature: "What the temperature does",
    h_name: "Where the name comes from",

    formula_text: "The InfoNCE loss of anchor i: minus the log of the positive's share of \
            the softmax over its candidates.",
    formula_text_decoupled: "The decoupled loss of anchor i (`--decoupled`): minus the log \
            of the numerator over the negatives' terms alone, the positive's term left out of \
            the denominator.",
    numbering_one_based: "Indices count from 1, as in the tutorial: z1 to z4 are rows 0 to \
            3 of `fixtures/seed.csv`, the numbers `infonce compute` prints and `--anchor` takes.",
    numbering_zero_based: "Indices count from 0, as the file's rows, `infonce compute` and \
            `--anchor` do.",
    numbering_simclr: "SimCLR's paper numbers the two views of item k 2k−1 and 2k; this \
            tool, like code that stacks the two views' batches, pairs row i with row i+N.",
    sym_loss: "the loss of anchor i",
    sym_numerator: "numerator{+分子}: the score of the positive pair; exp amplifies the \
            similarity",
    sym_denominator_rows: "denominator{+分母}: the sum over every embedding but the anchor \
            itself{extra}; the positive is one of its terms",
    sym_denominator_keys: "denominator{+分母}: the sum over every candidate{extra}; the \
            positive is one of its terms",
    sym_denominator_rows_decoupled: "denominator{+分母}: the sum over every embedding but \
            the anchor itself and its positive{extra}; with `--decoupled` the positive's term is \
            left out",
    sym_denominator_keys_decoupled: "denominator{+分母}: the sum over every candidate but \
            the positive{extra}; with `--decoupled` the positive's term is left out",
    sym_denominator_no_in_batch: "denominator{+分母}: the positive's term and the extra \
            negatives' terms; with `--no-in-batch` no other row of the batch is a candidate",
    sym_denominator_negatives_only: "denominator{+分母}: the extra negatives' terms alone; \
            with `--no-in-batch` no other row of the batch is a candidate, and with \
            `--decoupled` the positive's term is left out",
    den_extra: ", then over the extra negatives",
    sym_tau: "temperature{+温度参数}: divides every similarity and so sets how sharp the \
            distribution is",
    sym_indicator: "indicator function{+指示函数}: 1 when k ≠ i, else 0; it leaves the \
            anchor out",
    sym_indicator_decoupled: "indicator function{+指示函数}: 1 when k is neither i nor j, \
            else 0; it leaves the anchor and its positive out",
    sym_indicator_keys_decoupled: "indicator function{+指示函数}: 1 when j ≠ i, else 0; it \
            leaves the positive out",
    sym_extra_shared: "the extra negatives of `--negatives`, neg[m] in the tables: its M \
            rows, shared by every anchor",
    sym_extra_per_anchor: "anchor {a}'s own extra negatives, neg[m] in the tables: entry \
            [{a}, m] of the 3-D `--negatives` file, M for each anchor",
    sym_cosine: "cosine similarity{+余弦相似度}: {formula}",
    sym_dot: "dot product{+点积}: {formula}",
    sym_positive_two_view: "the positive of {zi}: together they are a positive \
            pair{+正样本对}, two augmented views of one data point",
    sym_positive_pairs: "the positive of {zi}, from the pairs file: together they are a \
            positive pair{+正样本对}",
    sym_positive_query: "a query and its key, row i of each file: a positive pair{+正样本对}",
    sym_positive_key: "a key and its query, row i of each file: a positive pair{+正样本对}",
    sym_negatives: "negatives{+负样本}: every other candidate",
    sym_batch_two_view: "the number of embeddings in the batch: N data points, two \
            augmented views{+增强视图} of each",
    sym_batch_pairs: "the rows of the embeddings file",
    sym_batch_keys: "the rows of each file",

    which_all: "The anchor and its candidates",
    which_some: "The anchor and the candidates listed below",
    vectors_full: "{which}:",
    vectors_long: "{which} ({dim} components; the first four and the last two are shown):",
    sim_written: "written out for the positive, {written}",
    sim_long: "the vectors are too long to write out: for the positive, {written}, the \
            norms and the dot product are given",
    sim_cosine_intro: "Cosine similarity divides the dot product by the product of the two \
            vectors' norms. The similarities are the program's; the products are for checking \
            ({how}):",
    sim_dot_intro: "The similarity is the plain dot product ({how}):",
    sim_rest: "The same for every candidate:",

    terms_intro: "Each similarity divided by τ = {tau} is a logit (an unnormalized score); \
            exp of the logit is that candidate's term in the denominator, and its share is the \
            term divided by the denominator (the softmax probability).",
    terms_intro_decoupled: "Each similarity divided by τ = {tau} is a logit (an \
            unnormalized score); exp of the logit is that candidate's term: the positive's is \
            the numerator, the negatives' add up to the denominator, and a term's share is the \
            term divided by numerator + denominator (the softmax probability over every \
            candidate).",
    terms_positive_only: "Only the positive is listed; the last line sums the {negatives} \
            {negatives|negative|negatives} (`--max-terms` sets how many are listed).",
    terms_listed: "The positive comes first, then the {listed} strongest of {negatives} \
            {negatives|negative|negatives}; the last line sums the other {rest} (`--max-terms` \
            sets how many are listed).",
    col_candidate: "candidate",
    col_share: "share",
    rest_label: "… {count} more",
    rest_line: "… and {count} {count|more term|more terms} adding up to {sum} ({share} of \
            {whole})",
    mark_tie: "tie",
    mark_duplicate: "duplicate",
    mark_negatives: "from --negatives",
    objective_shared: "Besides the candidates of the batch, every anchor sees the {count} \
            extra {count|negative|negatives} of `--negatives` {file}, named neg[j] by their row \
            there.",
    objective_per_anchor: "Besides the candidates of the batch, the anchor sees its own {count} \
            extra {count|negative|negatives}, its block of the 3-D `--negatives` file {file}, \
            named neg[m] by their place in the block.",
    objective_no_in_batch: "With `--no-in-batch` the other rows of the batch are no \
            candidates: the positive and the extra negatives are all the terms.",
    objective_decoupled: "With `--decoupled` the positive leaves the denominator (the \
            decoupled loss): the loss is the log of the negatives' sum less the positive's \
            logit, negative where the positive outweighs all negatives together, and p stays \
            numerator / (numerator + that sum).",
    loss_text_decoupled: "The decoupled loss is the log of the denominator minus the log of \
            the numerator, negative when the numerator is the larger:",
    hard_extra: "The hardest negative, {label}, at similarity {sim} against the positive's \
            {positive_sim}, is a row of the `--negatives` file, which this walkthrough does not \
            move.",
    share_decoupled: "With --decoupled the shares are still those of the softmax over every \
            candidate (of numerator + denominator); the gradient is −1/τ for the positive and, \
            for a negative, its share of the negatives' sum over τ.",
    denominator_text_decoupled: "The denominator{+分母} of the decoupled loss adds up the \
            negatives' terms, the positive's left out:",
    ratio_text_decoupled: "The probability the softmax gives the positive divides the \
            numerator by the numerator plus that denominator:",
    positive_mark: "* the positive: ({anchor}, {positive}) is the positive pair{+正样本对}; \
            the others are negatives{+负样本}.",
    max_logit_mark: "m is the largest logit.",

    word_numerator: "numerator",
    word_denominator: "denominator",
    numerator_text: "The numerator{+分子} is the term of the positive pair ({anchor}, \
            {positive}), its score:",
    denominator_text: "The denominator{+分母} adds up every term, the positive's included:",
    denominator_text_rest: "The denominator{+分母} adds up every term, the positive's \
            included: the listed ones, then the rest.",
    denominator_note: "The tutorial's heading calls the denominator the sum over all \
            negative pairs{+“所有负样本对的相似度得分之和”}; its formula, and this tool, keep the \
            positive in it. That is what makes the ratio a probability: p is at most 1 and the \
            loss at least 0.",
    ratio_text: "Their ratio is the probability the softmax gives the positive:",
    overflow_text: "Here exp overflows: the numerator is {numerator} and the denominator \
            {denominator}, past the largest float64 (about e^709.78). So every figure is given \
            in log form, as the core computes it. The log of the numerator{+分子} is the \
            positive's logit:",
    underflow_text: "Some terms are below the smallest float64 and would print as 0, so \
            every figure is given in log form, as the core computes it. The log of the \
            numerator{+分子} is the positive's logit:",
    lse_text: "The log of the denominator{+分母} comes from log-sum-exp: subtract the \
            largest logit, m = {max_logit}, before exponentiating, then add m back. After the \
            subtraction the largest term is exactly 1, so the sum is at least 1 and its log is \
            never log 0:",
    lse_text_decoupled: "The log of the denominator{+分母} comes from log-sum-exp over the \
            negatives' terms: subtract the largest of their logits, m = {max_logit}, before \
            exponentiating, then add m back. After the subtraction the largest term is exactly \
            1, so the sum is at least 1 and its log is never log 0:",
    whole_denominator: "the denominator",
    whole_softmax: "numerator + denominator (the softmax over every candidate)",
    ratio_text_log: "The ratio, the probability the softmax gives the positive, is a \
            difference of logs:",
    heaviest_item: "{label} ({share})",
    heaviest_one: "The negative with the largest share of {whole} is {negative}.",
    heaviest_many: "The negatives with the largest shares of {whole}: {negatives}.",
    listed_together: "The {listed} listed negatives make up {share} of it together.",
    listed_together_rest: "The {listed} listed negatives make up {share} of it together, \
            the other {count} {rest}.",
    others_make: "The other {count} make up {share}.",
    rest_only: "The {count} negatives, none listed, make up {share} of {whole}.",
    no_negatives: "There are no negatives: the positive is the only candidate, so p = 1 and \
            the loss is 0.",
    rank_first: "The positive {positive} ranks 1st of {n} candidates: no negative scores \
            above it.",
    rank_below: "The positive {positive} ranks {rank:ordinal} of {n} candidates: {above} \
            {above|negative scores|negatives score} above it.",
    outscored_item: "{label} (share {share}, similarity {margin} above the positive's)",
    outscored: "This anchor fails: {count|the negative that outscores its positive,|the \
            negatives that outscore its positive,} {negatives}, {count|is|are} closer to the \
            anchor than the positive is, and {count|takes|the {count} of them take} {share} of \
            {whole}.",
    ties: "{ties} {ties|ties|tie} the positive {positive}'s similarity to the digits shown \
            (marked tie).",
    duplicates: "{copies} {copies|is|are each} an exact copy of the positive {positive} \
            (marked duplicate): a false negative, which the loss pushes away from the anchor \
            although it is the positive's equal.",

    loss_text: "The loss is minus the log of that ratio; a p close to 1 gives a loss close \
            to 0:",
    loss_logs_text: "The same figure as the log of the denominator minus the log of the \
            numerator:",
    loss_digits: "The difference of the two logs loses digits when the loss is this small \
            next to them; the core computes the loss as log(1 + Σ over negatives of \
            exp(logit_k − logit_positive)), which keeps them.",

    classification_text: "The loss is the cross-entropy of a classification over the {n} \
            {n|candidate|candidates}, with the positive as the label: in PyTorch, \
            `F.cross_entropy(logits, target)` with the logits above in candidate order and \
            target = {target}. Keeping the positive in the denominator is what keeps p ≤ 1 and \
            the loss ≥ 0.",
    bounds_text: "As τ grows, every logit goes to 0, every candidate gets the same share \
            1/{n}, and the loss goes to {limit} (at τ = {flat_tau} the core gives {flat_loss}).",
    bound_low_leads: "As τ shrinks, the positive, which leads every negative, takes the \
            whole denominator and the loss goes to 0.",
    bound_low_fails: "As τ shrinks, the loss does not go to 0: a negative scores at least \
            as high as the positive, and the loss grows like {margin}.",

    gradient_text: "The column ∂L/∂sim above is the gradient of the loss with respect to \
            each similarity: {grad_negative} for a negative, {grad_positive} for the positive. \
            Gradient descent raises the positive's similarity ({positive}: {g_pos}) and lowers \
            each negative's in proportion to its share.",
    gradient_top: "The strongest negative, {label}, is pushed away hardest ({g}); a negative \
            with a share near 0 is hardly moved at all.",

    hard_text: "The same anchor with {label} moved closer, so that its similarity is \
            {after} instead of {before} ({margin} below the positive's); the other vectors are \
            unchanged, and the core runs again on the modified vectors:",
    hard_lesson: "As a hard negative, {label} takes {share} of {whole}, and the loss \
            goes from {loss_before} to {loss_after}: a negative that scores close to the \
            positive is what the loss mostly learns from.",
    hard_already: "This anchor already has a hard negative: {label}, at similarity {sim} \
            against the positive's {positive_sim}.",
    col_before: "as given",
    col_after: "hard negative",

    batch_intro_example: "The same steps for every anchor, each with its own positive (* \
            marks the one above):",
    batch_intro_data: "The same steps give every record's loss (* marks the one above):",
    col_record: "record",
    col_anchor: "anchor",
    col_positive: "positive",
    col_numerator: "numerator",
    col_denominator: "denominator",
    col_loss: "loss",
    col_rank: "rank",
    col_batch_loss: "batch loss",
    batch_more: "Listed: the explained record and the {shown_others} with the highest loss; \
            {more} {more|record is|records are} not listed (`infonce compute` lists them all).",
    mean_two_view: "The batch loss is the mean over all 2N = {n} anchors:",
    mean_records: "The batch loss is the mean over all R = {n} records:",
    mean_directions: "The batch loss is the mean of the two directions' means (query to key, \
            key to query), over {n} records:",

    sweep_intro: "The same vectors, computed again at other temperatures: the loss and p of \
            anchor {anchor}, the share of its hardest negative, and the batch loss (* marks \
            τ = {tau}, the one used above):",
    col_hardest: "share of {label}",
    sweep_range: "From τ = {tau_lo} to τ = {tau_hi}, p went from {p_lo} to {p_hi} and the \
            loss from {loss_lo} to {loss_hi}.",
    sweep_range_hardest: "From τ = {tau_lo} to τ = {tau_hi}, p went from {p_lo} to {p_hi} \
            and the loss from {loss_lo} to {loss_hi}; the share of {label}, the hardest \
            negative, went from {lo} to {hi}.",
    sweep_concentrates: "As τ shrinks, the weight among the negatives concentrates on the \
            hardest one: its part of the negatives' share is {lo} at τ = {tau_lo} against {hi} \
            at τ = {tau_hi}.",
    sweep_outscored: "A negative that outscores the positive makes {margin} at small τ: \
            {approx} at τ = {tau_lo}, where the loss is {loss}.",
    sweep_zero_at_hi: "Even at τ = {tau_hi} the positive leads by so much that p rounds to 1 \
            (the loss is {loss_hi}): on these similarities the temperatures shown are all \
            small. Only a far larger τ brings the loss towards its limit {limit}.",
    sweep_limit: "As τ grows, the terms grow alike and the loss approaches {limit}, where \
            the positive is no more likely than any candidate.",

    name_two_view: "With the two-view layout this is SimCLR's NT-Xent (normalized \
            temperature-scaled cross-entropy): every other embedding of the batch is a negative.",
    name_other: "This is the InfoNCE loss with the candidates of this layout as negatives.",
    name_extra_in_batch: "With `--negatives` the extra rows are negatives beside the \
            candidates of the batch: over queries and keys, sentence-transformers' \
            MultipleNegativesRankingLoss with hard negatives.",
    name_extra_only: "With `--no-in-batch` the negatives are the extra rows alone: the InfoNCE \
            loss of MoCo with its queue, and of info-nce-pytorch with negative keys.",
    name_cpc: "The name InfoNCE comes from CPC (Contrastive Predictive Coding), where one \
            positive is scored against K negatives, and MoCo draws the K negatives from a \
            queue. In that setting, with the negatives drawn independently, the loss bounds the \
            mutual information between the two views: {bound}.",
    title_labels: "InfoNCE with several positives, step by step: anchor {anchor} of `{name}`",
    intro_labels: "`{name}`: {rows} rows of dimension {dimension}, with the labels of \
            `{labels}`: the positives{+正样本} of a row are the other rows of its label. \
            Temperature τ = {tau}, {similarity}, {precision} products.",
    intro_labels_anchor: "Anchor {anchor} (record {record} of `infonce compute`) has {count} \
            {count|positive|positives}, {positives}; its denominator has {terms} terms. Every \
            figure comes from the same core as `infonce compute`.",
    labels_skipped: "{count} {count|row has|rows have} no positive (no other row has \
            {count|its label|their label}) and {count|is|are} left out of every mean: {rows}.",
    reduction_supcon: "With `--multi-positive supcon`, the default (SupCon's L_out, \
            pytorch-metric-learning's SupConLoss), the anchor's loss is the mean over its \
            positives of log D(a) − l_p: one denominator over every candidate, the positives \
            included.",
    reduction_pairwise: "With `--multi-positive pairwise` (pytorch-metric-learning's \
            NTXentLoss with labels), each positive is scored on its own, the anchor's other \
            positives left out of its denominator; the batch loss is the mean over all positive \
            pairs.",
    picked_labels: "No `--anchor` was given, so this is the first anchor that has a positive; \
            `--anchor I` explains row I.",
    sym_positives: "the positives of anchor a: the other rows of its label",
    sym_d: "denominator{+分母}: the sum of exp(l_k) over every row but a, its positives \
            included{extra}; the shares below are of it",
    sym_n: "the sum of exp(l_k) over the candidates that are not positives of a",
    sym_logit: "the logit of candidate k: its similarity to a over the temperature{+温度参数}",
    labels_mark: "* a positive of {anchor}: a row with its label.",
    h_positives: "The positives' terms and the anchor's loss",
    supcon_terms_text: "Each positive's term is log D(a) − l_p, with log D(a) = {log_d}:",
    pairwise_terms_text: "Each pair's loss is −log( exp(l_p) / (exp(l_p) + N(a)) ), N(a) \
            being the sum over the candidates that are not positives, log N(a) = {log_n}:",
    supcon_mean_text: "The anchor's loss is the mean of the {count} terms:",
    pairwise_mean_text: "The record's loss is the mean of the anchor's {count} pair \
            {count|loss|losses}:",
    rank_labels_first: "Its nearest positive, {positive}, ranks 1st: no candidate that is \
            not a positive scores above it.",
    rank_labels: "Its nearest positive, {positive}, ranks {rank:ordinal}: {above} \
            {above|candidate that is not a positive scores|candidates that are not positives \
            score} above it.",
    col_positives: "positives",
    mean_supcon: "The batch loss is the mean over the {n} anchors that have a positive:",
    mean_pairwise: "The batch loss is the mean over all {pairs} positive pairs; the mean over \
            the {n} anchors of their own means, `loss_mean_over_anchors`, is {over_anchors}:",
    cpc_text: "Here K+1 = {n} candidates: {figure} nats, with the batch loss as L. The bound \
            can never exceed {limit}, which is why InfoNCE needs many negatives to measure much \
            information.",
};
