//! 讲解的全部中文句子，术语沿用教程《对比学习损失函数 - InfoNCE》
//! (Every sentence of the walkthrough in Chinese, in the tutorial's terms:
//! the templates of [`Sentences`], filled in as `words.rs` says; with
//! `--glossary` the English terms, `{+...}`, follow in brackets.)

use super::words::Sentences;

pub const CHINESE: Sentences = Sentences {
    code: "zh",
    code_glossary: "zh",
    join_sentences: "{first}{next}",
    list_between: "、",
    list_last: "、",
    gloss: "（{term}）",
    sim_cosine: "余弦相似度",
    sim_dot: "点积相似度",
    precision_f32: "单精度（float32）",
    precision_f64: "双精度（float64）",

    title_example: "InfoNCE 逐步计算：教程中的例子，锚点 {anchor}",
    title_data: "InfoNCE 逐步计算：`{name}` 的锚点 {anchor}",
    intro_example: "教程中的例子：四个 4 维嵌入向量，按两视图布局排列（第 i 行与第 i+N 行互为正样本对）。\
            z1 和 z3 是同一个数据点的两个增强视图{+augmented views}，z2 和 z4 是另一个数据点的两个增强视图，\
            所以 (z1, z3) 和 (z2, z4) 是正样本对{+positive pairs}。温度参数{+temperature} τ = {tau}，\
            使用{similarity}。",
    intro_example_anchor: "下面以 {anchor} 为锚点逐步计算：它的正样本是 {positive}，\
            另外两个嵌入向量是它的负样本{+negatives}。\
            所有数值都与 `infonce compute` 的结果一致，出自同一段计算程序。",
    intro_data: "`{name}`：{rows} 行，维度 {dimension}，{layout}。温度参数 τ = {tau}，\
            使用{similarity}，乘法以{precision}进行。",
    layout_two_view: "按两视图布局排列（第 i 行与第 i+{half} 行互为正样本对，\
            是第 i 个数据点的两个增强视图）",
    layout_pairs: "正样本对由 `{file}` 给出：其中每一行给出一个锚点及其正样本{both}",
    pairs_both: "，每一对也反过来计算一次",
    layout_keys: "每行作为一个查询，键来自 `{file}`（{rows} 行）：两个文件的第 i 行构成一对{both}",
    keys_both: "；键到查询的记录排在查询到键的记录之后",
    naming_rows: "z[i] 表示第 i 行",
    naming_keys: "q[i] 表示查询文件的第 i 行，k[i] 表示键文件的第 i 行",
    intro_record: "锚点 {anchor}（即 `infonce compute` 输出中索引为 {record} 的记录，从 0 计）\
            的正样本是 {positive}；分母共有 {terms} 项（{negatives} 个负样本）。{naming}。\
            所有数值都与 `infonce compute` 的结果一致，出自同一段计算程序。",
    picked_default: "未指定 `--anchor`，因此这里讲解第一条记录；\
            用 `--anchor I` 可讲解第 I 行（从 0 计）。",
    picked_first: "这里讲解索引为 {record} 的记录，即这一行的第一条记录。",
    also_anchors: "这一行还是{others}的锚点；\
            可用 `--positive J`、`--direction` 或 `--record K` 选择其他记录。",
    other_record: "索引为 {record} 的记录（{anchor} 与正样本 {positive}{way}）",
    way_key_to_query: "，`--direction key-to-query`",
    way_query_to_key: "，`--direction query-to-key`",
    rounding: "数值保留 {sig} 位有效数字；求和使用未经舍入的值。\
            为使前后各步数值能相互核对，个别处多保留几位；`--format json` 给出全部位数。",

    h_formula: "公式",
    h_similarities: "由向量计算相似度",
    h_terms: "logit 与指数项",
    h_ratio: "分子、分母及其比值",
    h_loss: "损失",
    h_classification: "它其实是一个分类问题",
    h_gradient: "梯度：谁被推动，力度多大",
    h_hard: "困难负样本",
    h_batch: "其他锚点与整批损失",
    h_temperature: "温度参数的作用",
    h_name: "名称的由来",

    formula_text: "锚点 i 的 InfoNCE 损失：正样本在所有候选项的 softmax 分布中所占概率，\
            取对数再取负。",
    formula_text_decoupled: "锚点 i 的解耦损失（`--decoupled`）：分子除以仅由负样本各项组成的和，\
            取对数再取负；正样本那一项不在分母中。",
    numbering_one_based: "下标与教程一致，从 1 开始：z1 到 z4 即 `fixtures/seed.csv` 中索引为 0 到 3 的行，\
            也就是 `infonce compute` 输出和 `--anchor` 使用的编号。",
    numbering_zero_based: "下标从 0 开始，与文件中的行号、`infonce compute` 的输出和 `--anchor` 一致。",
    numbering_simclr: "SimCLR 论文把第 k 个数据点的两个视图编号为 2k−1 和 2k；\
            本工具则与常见代码的做法（把两个视图的批次上下拼接）一致，令第 i 行与第 i+N 行配对。",
    sym_loss: "锚点 i 的损失{+loss}",
    sym_numerator: "即分子{+numerator}，表示正样本对的得分；exp 起放大相似度的作用",
    sym_denominator_rows: "即分母{+denominator}，对除锚点自身以外的所有嵌入向量求和{extra}；\
            正样本也是其中一项",
    sym_denominator_keys: "即分母{+denominator}，对所有候选项求和{extra}；正样本也是其中一项",
    sym_denominator_rows_decoupled: "即分母{+denominator}，对除锚点自身及其正样本以外的\
            所有嵌入向量求和{extra}；使用 `--decoupled` 时不含正样本那一项",
    sym_denominator_keys_decoupled: "即分母{+denominator}，对除正样本以外的所有候选项求和\
            {extra}；使用 `--decoupled` 时不含正样本那一项",
    sym_denominator_no_in_batch: "即分母{+denominator}，正样本那一项加上额外负样本的各项；\
            使用 `--no-in-batch` 时批内其他行都不是候选",
    sym_denominator_negatives_only: "即分母{+denominator}，只有额外负样本的各项：\
            使用 `--no-in-batch` 时批内其他行都不是候选，使用 `--decoupled` 时不含正样本那一项",
    den_extra: "，再加上额外负样本",
    sym_tau: "温度参数{+temperature}，每个相似度都要除以它，从而控制分布的尖锐程度",
    sym_indicator: "指示函数{+indicator function}，k ≠ i 时为 1，否则为 0，用于排除锚点自身",
    sym_indicator_decoupled: "指示函数{+indicator function}，k 既不是 i 也不是 j 时为 1，\
            否则为 0，用于排除锚点自身及其正样本",
    sym_indicator_keys_decoupled: "指示函数{+indicator function}，j ≠ i 时为 1，否则为 0，\
            用于排除正样本",
    sym_extra_shared: "`--negatives` 中的额外负样本，表中记作 neg[m]：共 M 行，所有锚点共用",
    sym_extra_per_anchor: "锚点 {a} 自己的额外负样本，表中记作 neg[m]：\
            三维 `--negatives` 文件的第 [{a}, m] 项，每个锚点 M 个",
    sym_cosine: "余弦相似度{+cosine similarity}，{formula}",
    sym_dot: "点积{+dot product}，{formula}",
    sym_positive_two_view: "{zi} 的正样本：二者构成正样本对{+positive pair}，\
            是同一个数据点的两个增强视图",
    sym_positive_pairs: "{zi} 的正样本，由配对文件给出：二者构成正样本对{+positive pair}",
    sym_positive_query: "查询及其对应的键，即两个文件的第 i 行：构成正样本对{+positive pair}",
    sym_positive_key: "键及其对应的查询，即两个文件的第 i 行：构成正样本对{+positive pair}",
    sym_negatives: "负样本{+negatives}，即其余所有候选项",
    sym_batch_two_view: "批次中嵌入向量的总数：N 个数据点，每个有两个增强视图{+augmented views}",
    sym_batch_pairs: "嵌入文件的行数",
    sym_batch_keys: "每个文件的行数",

    which_all: "锚点和它的候选项",
    which_some: "锚点和下面列出的候选项",
    vectors_full: "{which}：",
    vectors_long: "{which}（{dim} 维，只显示前四个和最后两个分量）：",
    sim_written: "只展开 {written} 一项",
    sim_long: "向量太长，不再展开，只给出 {written} 的模长和点积",
    sim_cosine_intro: "余弦相似度等于点积除以两个向量模长的乘积\
            （相似度由程序算出，展开式仅供核对；{how}）：",
    sim_dot_intro: "相似度就是点积（{how}）：",
    sim_rest: "对每个候选项同样计算：",

    terms_intro: "每个相似度除以 τ = {tau} 得到 logit（未归一化的得分）；\
            logit 的指数就是该候选项在分母中的一项，这一项除以分母就是它的占比（即 softmax 概率）。",
    terms_intro_decoupled: "每个相似度除以 τ = {tau} 得到 logit（未归一化的得分）；\
            logit 的指数就是该候选项的一项：正样本那一项是分子，负样本各项相加是分母；\
            一项除以 分子 + 分母 就是它的占比（即对所有候选的 softmax 概率）。",
    terms_positive_only: "只列出正样本；最后一行是全部 {negatives} 个负样本之和\
            （`--max-terms` 设置列出的个数）。",
    terms_listed: "先列出正样本，再列出 {negatives} 个负样本中得分最高的 {listed} 个；\
            最后一行是其余 {rest} 项之和（`--max-terms` 设置列出的个数）。",
    col_candidate: "候选项",
    col_share: "占比",
    rest_label: "… 其余 {count} 项",
    rest_line: "… 其余 {count} 项之和为 {sum}（占{whole}的 {share}）",
    mark_tie: "并列",
    mark_duplicate: "重复",
    mark_negatives: "来自 --negatives",
    objective_shared: "除了批内的候选，每个锚点还会看到 `--negatives` {file} 中的 {count} \
            个额外负样本，按其在该文件中的行号记作 neg[j]。",
    objective_per_anchor: "除了批内的候选，该锚点还会看到自己的 {count} 个额外负样本，\
            即三维 `--negatives` 文件 {file} 中属于它的那一块，按其在块中的位置记作 neg[m]。",
    objective_no_in_batch: "使用 `--no-in-batch` 时，批内其他行不再是候选：\
            全部的项只有正样本和额外负样本。",
    objective_decoupled: "使用 `--decoupled` 时，正样本离开分母（解耦损失）：\
            损失等于负样本之和的对数减去正样本的 logit，当正样本超过所有负样本之和时为负；\
            p 仍是 分子 / (分子 + 该和)。",
    loss_text_decoupled: "解耦损失等于分母的对数减去分子的对数，分子较大时为负：",
    hard_extra: "最难的负样本 {label}（相似度 {sim}，正样本为 {positive_sim}）\
            是 `--negatives` 文件中的一行，本讲解不移动它。",
    share_decoupled: "使用 --decoupled 时，占比仍是对所有候选的 softmax（相对于 分子 + 分母）；\
            正样本的梯度是 −1/τ，负样本的梯度是它在负样本之和中的占比除以 τ。",
    denominator_text_decoupled: "解耦损失的分母{+denominator}只把负样本的项相加，不含正样本那一项：",
    ratio_text_decoupled: "softmax 分给正样本的概率是分子除以分子与该分母之和：",
    positive_mark: "* 正样本：({anchor}, {positive}) 是正样本对；其余都是负样本。",
    max_logit_mark: "m 是最大的 logit。",

    word_numerator: "分子",
    word_denominator: "分母",
    numerator_text: "分子是正样本对 ({anchor}, {positive}) 对应的那一项，即它的得分：",
    denominator_text: "分母是所有项之和，正样本那一项也包括在内：",
    denominator_text_rest: "分母是所有项之和，正样本那一项也包括在内：\
            先是列出的各项，再是其余各项之和。",
    denominator_note: "教程的小标题把分母称为“所有负样本对的相似度得分之和”，\
            但它给出的公式（以及本工具）都把正样本保留在分母中。\
            正因如此，这个比值才是一个概率：p 不超过 1，损失不小于 0。",
    ratio_text: "二者之比就是 softmax 分给正样本的概率：",
    overflow_text: "此处 exp 发生上溢：分子是 {numerator}，分母是 {denominator}，\
            都超出了 float64 的最大值（约 e^709.78）。因此所有数值都以对数形式给出，\
            程序内部也正是这样计算的。分子的对数就是正样本的 logit：",
    underflow_text: "有些项小于 float64 能表示的最小正数，直接写出会显示为 0，\
            因此所有数值都以对数形式给出，程序内部也正是这样计算的。分子的对数就是正样本的 logit：",
    lse_text: "分母的对数用 log-sum-exp 计算：先减去最大的 logit m = {max_logit} 再取指数，\
            最后再把 m 加回来。减去最大值之后，最大的一项恰好是 1，所以和至少为 1，不会出现 log 0：",
    lse_text_decoupled: "分母{+denominator}的对数用 log-sum-exp 对负样本各项计算：\
            先减去其中最大的 logit m = {max_logit} 再取指数，最后加回 m。减去之后最大的一项恰好为 1，\
            所以和至少为 1，其对数不会是 log 0：",
    whole_denominator: "分母",
    whole_softmax: "分子 + 分母（即对所有候选的 softmax）",
    ratio_text_log: "二者之比，即 softmax 分给正样本的概率，等于两个对数之差：",
    heaviest_item: "{label}（{share}）",
    heaviest_one: "在{whole}中占比最大的负样本是 {negative}。",
    heaviest_many: "在{whole}中占比最大的负样本依次是：{negatives}。",
    listed_together: "列出的 {listed} 个负样本合计占分母的 {share}。",
    listed_together_rest: "列出的 {listed} 个负样本合计占分母的 {share}，\
            其余 {count} 个占 {rest}。",
    others_make: "其余 {count} 个占 {share}。",
    rest_only: "{count} 个负样本都没有列出，合计占{whole}的 {share}。",
    no_negatives: "没有负样本：正样本是唯一的候选项，所以 p = 1，损失为 0。",
    rank_first: "正样本 {positive} 在 {n} 个候选项中排第 1：没有负样本的得分比它高。",
    rank_below: "正样本 {positive} 在 {n} 个候选项中排第 {rank}：\
            有 {above} 个负样本的得分比它高。",
    outscored_item: "{label}（占比 {share}，相似度比正样本高 {margin}）",
    outscored: "这个锚点没有学好：得分超过正样本的负样本 {negatives} 比正样本更接近锚点，\
            这 {count} 个负样本合计占{whole}的 {share}。",
    ties: "{ties} 与正样本 {positive} 的相似度在所示位数内相同（标为“并列”）。",
    duplicates: "{copies} 与正样本 {positive} 完全相同（标为“重复”）：这是假负样本，\
            它与正样本并无区别，损失却要把它推离锚点。",

    loss_text: "损失是这个比值取对数再取负；p 越接近 1，损失越接近 0：",
    loss_logs_text: "同一个数也等于分母的对数减去分子的对数：",
    loss_digits: "损失与两个对数相比很小时，二者相减会损失有效数字；程序按 \
            log(1 + Σ_负样本 exp(logit_k − logit_正样本)) 计算损失，从而保留这些位数。",

    classification_text: "这个损失就是一个 {n} 类分类问题的交叉熵，正样本就是正确类别：\
            在 PyTorch 中即 `F.cross_entropy(logits, target)`，logits 按候选项顺序排列，\
            target = {target}。正因为正样本留在分母中，才有 p ≤ 1、损失 ≥ 0。",
    bounds_text: "τ 越大，各个 logit 越趋近 0，每个候选项的占比都趋于 1/{n}，损失趋于 {limit}\
            （τ = {flat_tau} 时程序算得 {flat_loss}）。",
    bound_low_leads: "τ 越小，由于正样本领先于所有负样本，它在分母中的占比趋于 100%，损失趋于 0。",
    bound_low_fails: "τ 越小，损失并不趋于 0：有负样本的得分不低于正样本，损失约按 {margin} 增长。",

    gradient_text: "上表中 ∂L/∂sim 一列是损失对各个相似度的梯度：负样本为 {grad_negative}，\
            正样本为 {grad_positive}。梯度下降会提高正样本的相似度（{positive}：{g_pos}），\
            并按占比降低每个负样本的相似度。",
    gradient_top: "得分最高的负样本 {label} 被推开的力度最大（{g}）；\
            占比接近 0 的负样本几乎不受影响。",

    hard_text: "把 {label} 移近锚点，使它的相似度由 {before} 变为 {after}（比正样本低 {margin}），\
            其余向量不变，再用程序对修改后的向量重新计算：",
    hard_lesson: "成为困难负样本{+hard negative}后，{label} 占{whole}的 {share}，\
            损失由 {loss_before} 升至 {loss_after}：与正样本得分接近的负样本，正是损失最主要的学习信号。",
    hard_already: "这个锚点已经有一个困难负样本{+hard negative}：{label}，相似度为 {sim}，\
            正样本为 {positive_sim}。",
    col_before: "原数据",
    col_after: "困难负样本",

    batch_intro_example: "对每个锚点及其正样本做同样的计算（* 标出上面讲解的那个）：",
    batch_intro_data: "同样的步骤给出每条记录的损失（* 标出上面讲解的那条）：",
    col_record: "序号",
    col_anchor: "锚点",
    col_positive: "正样本",
    col_numerator: "分子",
    col_denominator: "分母",
    col_loss: "损失",
    col_rank: "排名",
    col_batch_loss: "整批损失",
    batch_more: "表中列出所讲解的记录和损失最高的 {shown_others} 条；另有 {more} 条未列出\
            （`infonce compute` 会全部列出）。",
    mean_two_view: "整批损失是全部 2N = {n} 个锚点损失的平均值：",
    mean_records: "整批损失是全部 R = {n} 条记录损失的平均值：",
    mean_directions: "整批损失是两个方向（查询到键、键到查询）各自平均值的平均，共 {n} 条记录：",

    sweep_intro: "用其他温度参数对同一组向量重新计算：锚点 {anchor} 的损失和 p、最难负样本的占比，\
            以及整批损失（* 标出上面使用的 τ = {tau}）：",
    col_hardest: "{label} 的占比",
    sweep_range: "τ 从 {tau_lo} 变到 {tau_hi}，p 从 {p_lo} 变为 {p_hi}，\
            损失从 {loss_lo} 变为 {loss_hi}。",
    sweep_range_hardest: "τ 从 {tau_lo} 变到 {tau_hi}，p 从 {p_lo} 变为 {p_hi}，\
            损失从 {loss_lo} 变为 {loss_hi}；最难负样本 {label} 的占比从 {lo} 变为 {hi}。",
    sweep_concentrates: "τ 越小，负样本之间的权重越集中到最难的那个上：\
            它在全部负样本的占比中所占的份额，τ = {tau_lo} 时为 {lo}，τ = {tau_hi} 时为 {hi}。",
    sweep_outscored: "负样本得分超过正样本时，τ 很小时 {margin}：\
            τ = {tau_lo} 时该式为 {approx}，损失为 {loss}。",
    sweep_zero_at_hi: "即使 τ = {tau_hi}，正样本也遥遥领先，p 舍入后为 1（损失为 {loss_hi}）：\
            对这些相似度而言，表中的温度都算小的，只有大得多的 τ 才会让损失接近其上限 {limit}。",
    sweep_limit: "τ 越大，各项越趋于相同，损失趋于 {limit}，相当于无法把正样本与其他候选项区分开。",

    name_two_view: "在两视图布局下，这就是 SimCLR 的 NT-Xent（归一化温度缩放交叉熵）：\
            批次中的其他嵌入向量都是负样本。",
    name_other: "这是以本布局的候选项为负样本的 InfoNCE 损失。",
    name_extra_in_batch: "使用 `--negatives` 时，额外的行与批内候选一起作为负样本：\
            在查询与键的布局下即 sentence-transformers 带困难负样本的 MultipleNegativesRankingLoss。",
    name_extra_only: "使用 `--no-in-batch` 时，负样本只有额外的行：即 MoCo 使用队列时的 InfoNCE 损失，\
            也是 info-nce-pytorch 使用 negative keys 时的损失。",
    name_cpc: "InfoNCE 这个名字来自 CPC（对比预测编码）：一个正样本与 K 个负样本相比较；\
            MoCo 则从队列中取 K 个负样本。在负样本独立抽取的这种设定下，\
            损失给出两个视图之间互信息的下界：{bound}。",
    title_labels: "多正样本的 InfoNCE 逐步计算：`{name}` 的锚点 {anchor}",
    intro_labels: "`{name}`：{rows} 行，维度 {dimension}，标签来自 `{labels}`：\
            一行的正样本{+positives}是与它标签相同的其他行。温度参数 τ = {tau}，使用{similarity}，乘法以{precision}进行。",
    intro_labels_anchor: "锚点 {anchor}（`infonce compute` 的第 {record} 条记录）有 {count} 个正样本：\
            {positives}；分母共 {terms} 项。每个数值都来自与 `infonce compute` 相同的计算核心。",
    labels_skipped: "{count} 行没有正样本（没有其他行与它标签相同），不计入任何平均：{rows}。",
    reduction_supcon: "使用默认的 `--multi-positive supcon`（SupCon 的 L_out，\
            即 pytorch-metric-learning 的 SupConLoss）时，锚点的损失是对其所有正样本 p 取 \
            log D(a) − l_p 的平均：所有候选共用一个分母，正样本也在其中。",
    reduction_pairwise: "使用 `--multi-positive pairwise`（pytorch-metric-learning 带标签的 \
            NTXentLoss）时，每个正样本单独计分，锚点的其他正样本不计入它的分母；\
            整批损失是所有正样本对的平均。",
    picked_labels: "没有给出 `--anchor`，因此这是第一个有正样本的锚点；`--anchor I` 讲解第 I 行。",
    sym_positives: "锚点 a 的正样本：与它标签相同的其他行",
    sym_d: "即分母{+denominator}，对除 a 以外的所有行求 exp(l_k) 之和，包括它的正样本{extra}；\
            下表的占比都相对于它",
    sym_n: "对不是 a 的正样本的候选求 exp(l_k) 之和",
    sym_logit: "候选 k 的 logit：它与 a 的相似度除以温度{+temperature}",
    labels_mark: "* {anchor} 的正样本：与它标签相同的行。",
    h_positives: "各正样本的项与锚点的损失",
    supcon_terms_text: "每个正样本的项是 log D(a) − l_p，其中 log D(a) = {log_d}：",
    pairwise_terms_text: "每个正样本对的损失是 −log( exp(l_p) / (exp(l_p) + N(a)) )，\
            其中 N(a) 是对非正样本候选的求和，log N(a) = {log_n}：",
    supcon_mean_text: "锚点的损失是这 {count} 项的平均：",
    pairwise_mean_text: "这条记录的损失是锚点 {count} 个正样本对损失的平均：",
    rank_labels_first: "最近的正样本 {positive} 排第 1：没有非正样本候选的得分比它高。",
    rank_labels: "最近的正样本 {positive} 排第 {rank}：有 {above} 个非正样本候选的得分比它高。",
    col_positives: "正样本数",
    mean_supcon: "整批损失是 {n} 个有正样本的锚点的平均：",
    mean_pairwise: "整批损失是全部 {pairs} 个正样本对的平均；{n} 个锚点各自平均后再平均\
            （`loss_mean_over_anchors`）为 {over_anchors}：",
    cpc_text: "这里 K+1 = {n} 个候选项，以整批损失作 L：{figure} 奈特。\
            这个下界永远不会超过 {limit}，所以 InfoNCE 需要大量负样本才能度量较多的信息。",
};
