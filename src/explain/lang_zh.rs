//! 讲解的全部中文句子，术语沿用教程《对比学习损失函数 - InfoNCE》
//! (Every sentence of the walkthrough in Chinese, in the tutorial's terms;
//! with `--glossary` the English terms follow in brackets.)

use super::Pick;
use super::steps::{Math, im, quoted};
use super::words::{Arrangement, Named, Scene, Shape, SweepFacts, Words};
use crate::layout::Direction;
use crate::loss::Similarity;

pub struct Chinese {
    pub glossary: bool,
}

fn sim_name(sim: Similarity) -> &'static str {
    match sim {
        Similarity::Cosine => "余弦相似度",
        Similarity::Dot => "点积相似度",
    }
}

fn precision(p: &str) -> &'static str {
    match p {
        "f32" => "单精度（float32）",
        _ => "双精度（float64）",
    }
}

impl Chinese {
    /// The English term in brackets, with the glossary.
    fn g(&self, en: &str) -> String {
        if self.glossary {
            format!("（{en}）")
        } else {
            String::new()
        }
    }
}

impl Words for Chinese {
    fn code(&self) -> &'static str {
        "zh"
    }

    fn title(&self, s: &Scene) -> String {
        if s.is_example() {
            format!("InfoNCE 逐步计算：教程中的例子，锚点 {}", s.anchor)
        } else {
            format!("InfoNCE 逐步计算：`{}` 的锚点 {}", s.name, s.anchor)
        }
    }

    fn intro(&self, s: &Scene) -> Vec<String> {
        let (tau, anchor, positive) = (&s.tau, s.anchor, s.positive);
        let layout = match s.arrangement {
            Arrangement::Example => {
                return vec![
                    format!(
                        "教程中的例子：四个 4 维嵌入向量，按两视图布局排列（第 i 行与第 i+N 行互为正样本对）。\
                         z1 和 z3 是同一个数据点的两个增强视图{}，z2 和 z4 是另一个数据点的两个增强视图，\
                         所以 (z1, z3) 和 (z2, z4) 是正样本对{}。温度参数{} τ = {tau}，使用{}。",
                        self.g("augmented views"),
                        self.g("positive pairs"),
                        self.g("temperature"),
                        sim_name(s.similarity)
                    ),
                    format!(
                        "下面以 {anchor} 为锚点逐步计算：它的正样本是 {positive}，另外两个嵌入向量是它的负样本{}。\
                         所有数值都与 `infonce compute` 的结果一致，出自同一段计算程序。",
                        self.g("negatives")
                    ),
                ];
            }
            Arrangement::TwoView { half } => format!(
                "按两视图布局排列（第 i 行与第 i+{half} 行互为正样本对，是第 i 个数据点的两个增强视图）"
            ),
            Arrangement::Pairs { file, symmetric } => format!(
                "正样本对由 `{file}` 给出：其中每一行给出一个锚点及其正样本{}",
                if symmetric {
                    "，每一对也反过来计算一次"
                } else {
                    ""
                }
            ),
            Arrangement::Keys {
                file,
                rows,
                symmetric,
            } => format!(
                "每行作为一个查询，键来自 `{file}`（{rows} 行）：两个文件的第 i 行构成一对{}",
                if symmetric {
                    "；键到查询的记录排在查询到键的记录之后"
                } else {
                    ""
                }
            ),
        };
        let naming = match s.arrangement {
            Arrangement::Keys { .. } => "q[i] 表示查询文件的第 i 行，k[i] 表示键文件的第 i 行",
            _ => "z[i] 表示第 i 行",
        };
        vec![
            format!(
                "`{}`：{} 行，维度 {}，{layout}。温度参数 τ = {tau}，使用{}，乘法以{}进行。",
                s.name,
                s.rows,
                s.dimension,
                sim_name(s.similarity),
                precision(s.precision)
            ),
            format!(
                "锚点 {anchor}（即 `infonce compute` 输出中索引为 {} 的记录，从 0 计）的正样本是 \
                 {positive}；分母共有 {} 项（{} 个负样本）。{naming}。\
                 所有数值都与 `infonce compute` 的结果一致，出自同一段计算程序。",
                s.record,
                s.n_terms,
                s.n_terms - 1,
            ),
        ]
    }

    fn picked(&self, s: &Scene) -> Option<String> {
        let others: Vec<String> = s
            .others
            .iter()
            .map(|o| {
                let way = match o.direction {
                    Some(Direction::KeyToQuery) => "，`--direction key-to-query`",
                    Some(Direction::QueryToKey) => "，`--direction query-to-key`",
                    None => "",
                };
                format!(
                    "索引为 {} 的记录（{} 与正样本 {}{way}）",
                    o.record, o.anchor, o.positive
                )
            })
            .collect();
        let tail = if others.is_empty() {
            String::new()
        } else {
            format!(
                "这一行还是{}的锚点；可用 `--positive J`、`--direction` 或 `--record K` 选择其他记录。",
                others.join("、")
            )
        };
        match s.pick {
            Pick::Default => Some(format!(
                "未指定 `--anchor`，因此这里讲解第一条记录；用 `--anchor I` 可讲解第 I 行（从 0 计）。{tail}"
            )),
            Pick::Anchor if !others.is_empty() => Some(format!(
                "这里讲解索引为 {} 的记录，即这一行的第一条记录。{tail}",
                s.record
            )),
            _ => None,
        }
    }

    fn rounding(&self, sig: usize) -> String {
        format!(
            "数值保留 {sig} 位有效数字；求和使用未经舍入的值。\
             为使前后各步数值能相互核对，个别处多保留几位；`--format json` 给出全部位数。"
        )
    }

    fn h_formula(&self) -> String {
        "公式".into()
    }
    fn h_similarities(&self) -> String {
        "由向量计算相似度".into()
    }
    fn h_terms(&self) -> String {
        "logit 与指数项".into()
    }
    fn h_ratio(&self) -> String {
        "分子、分母及其比值".into()
    }
    fn h_loss(&self) -> String {
        "损失".into()
    }
    fn h_classification(&self) -> String {
        "它其实是一个分类问题".into()
    }
    fn h_gradient(&self) -> String {
        "梯度：谁被推动，力度多大".into()
    }
    fn h_hard(&self) -> String {
        "困难负样本".into()
    }
    fn h_batch(&self) -> String {
        "其他锚点与整批损失".into()
    }
    fn h_temperature(&self) -> String {
        "温度参数的作用".into()
    }
    fn h_name(&self) -> String {
        "名称的由来".into()
    }

    fn formula_text(&self) -> String {
        "锚点 i 的 InfoNCE 损失：正样本在所有候选项的 softmax 分布中所占概率，取对数再取负。".into()
    }
    fn numbering(&self, s: &Scene) -> String {
        let simclr = if s.two_view() {
            "SimCLR 论文把第 k 个数据点的两个视图编号为 2k−1 和 2k；本工具则与常见代码的做法（把两个视图的批次上下拼接）一致，\
             令第 i 行与第 i+N 行配对。"
        } else {
            ""
        };
        if s.one_based {
            format!(
                "下标与教程一致，从 1 开始：z1 到 z4 即 `fixtures/seed.csv` 中索引为 0 到 3 的行，\
                 也就是 `infonce compute` 输出和 `--anchor` 使用的编号。{simclr}"
            )
        } else {
            format!(
                "下标从 0 开始，与文件中的行号、`infonce compute` 的输出和 `--anchor` 一致。{simclr}"
            )
        }
    }
    fn sym_loss(&self) -> String {
        format!("锚点 i 的损失{}", self.g("loss"))
    }
    fn sym_numerator(&self) -> String {
        format!(
            "即分子{}，表示正样本对的得分；exp 起放大相似度的作用",
            self.g("numerator")
        )
    }
    fn sym_denominator(&self, shape: Shape) -> String {
        let g = self.g("denominator");
        match shape {
            Shape::Keys { .. } => format!("即分母{g}，对所有候选项求和；正样本也是其中一项"),
            _ => format!("即分母{g}，对除锚点自身以外的所有嵌入向量求和；正样本也是其中一项"),
        }
    }
    fn sym_tau(&self) -> String {
        format!(
            "温度参数{}，每个相似度都要除以它，从而控制分布的尖锐程度",
            self.g("temperature")
        )
    }
    fn sym_indicator(&self) -> String {
        format!(
            "指示函数{}，k ≠ i 时为 1，否则为 0，用于排除锚点自身",
            self.g("indicator function")
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
                format!("余弦相似度{}，{}", self.g("cosine similarity"), im(&f))
            }
            Similarity::Dot => format!("点积{}，{}", self.g("dot product"), im(&d)),
        }
    }
    fn sym_positive(&self, shape: Shape) -> String {
        let g = self.g("positive pair");
        let zi = im(&Math::same("z_i"));
        match shape {
            Shape::TwoView => {
                format!("{zi} 的正样本：二者构成正样本对{g}，是同一个数据点的两个增强视图")
            }
            Shape::Pairs => format!("{zi} 的正样本，由配对文件给出：二者构成正样本对{g}"),
            Shape::Keys { backward: false } => {
                format!("查询及其对应的键，即两个文件的第 i 行：构成正样本对{g}")
            }
            Shape::Keys { backward: true } => {
                format!("键及其对应的查询，即两个文件的第 i 行：构成正样本对{g}")
            }
        }
    }
    fn sym_negatives(&self) -> String {
        format!("负样本{}，即其余所有候选项", self.g("negatives"))
    }
    fn sym_batch(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => format!(
                "批次中嵌入向量的总数：N 个数据点，每个有两个增强视图{}",
                self.g("augmented views")
            ),
            Shape::Pairs => "嵌入文件的行数".into(),
            Shape::Keys { .. } => "每个文件的行数".into(),
        }
    }

    fn vectors_intro(&self, dim: usize, full: bool, some: bool) -> String {
        let which = if some {
            "锚点和下面列出的候选项"
        } else {
            "锚点和它的候选项"
        };
        if full {
            format!("{which}：")
        } else {
            format!("{which}（{dim} 维，只显示前四个和最后两个分量）：")
        }
    }
    fn sim_intro(&self, sim: Similarity, written: &str, long: bool) -> String {
        let how = if long {
            format!("向量太长，不再展开，只给出 {written} 的模长和点积")
        } else {
            format!("只展开 {written} 一项")
        };
        match sim {
            Similarity::Cosine => format!(
                "余弦相似度等于点积除以两个向量模长的乘积（相似度由程序算出，展开式仅供核对；{how}）："
            ),
            Similarity::Dot => format!("相似度就是点积（{how}）："),
        }
    }
    fn sim_rest(&self) -> String {
        "对每个候选项同样计算：".into()
    }

    fn terms_intro(&self, tau: &str) -> String {
        format!(
            "每个相似度除以 τ = {tau} 得到 logit（未归一化的得分）；logit 的指数就是该候选项在分母中的一项，\
             这一项除以分母就是它的占比（即 softmax 概率）。"
        )
    }
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String {
        if listed == 0 {
            return format!(
                "只列出正样本；最后一行是全部 {negatives} 个负样本之和（`--max-terms` 设置列出的个数）。"
            );
        }
        format!(
            "先列出正样本，再列出 {negatives} 个负样本中得分最高的 {listed} 个；最后一行是其余 {rest} 项之和\
             （`--max-terms` 设置列出的个数）。"
        )
    }
    fn col_candidate(&self) -> String {
        "候选项".into()
    }
    fn col_share(&self) -> String {
        "占比".into()
    }
    fn rest_label(&self, count: usize) -> String {
        format!("… 其余 {count} 项")
    }
    fn rest_line(&self, count: usize, sum: &str, share: &str) -> String {
        format!("… 其余 {count} 项之和为 {sum}（占分母的 {share}）")
    }
    fn mark_tie(&self) -> String {
        "并列".into()
    }
    fn mark_duplicate(&self) -> String {
        "重复".into()
    }
    fn positive_mark(&self, anchor: &str, positive: &str, log_form: bool) -> String {
        let m = if log_form {
            "m 是最大的 logit。"
        } else {
            ""
        };
        format!("* 正样本：({anchor}, {positive}) 是正样本对；其余都是负样本。{m}")
    }

    fn word_numerator(&self) -> String {
        "分子".into()
    }
    fn word_denominator(&self) -> String {
        "分母".into()
    }
    fn numerator_text(&self, anchor: &str, positive: &str) -> String {
        format!("分子是正样本对 ({anchor}, {positive}) 对应的那一项，即它的得分：")
    }
    fn denominator_text(&self, has_rest: bool) -> String {
        if has_rest {
            "分母是所有项之和，正样本那一项也包括在内：先是列出的各项，再是其余各项之和。".into()
        } else {
            "分母是所有项之和，正样本那一项也包括在内：".into()
        }
    }
    fn denominator_note(&self) -> String {
        "教程的小标题把分母称为“所有负样本对的相似度得分之和”，但它给出的公式（以及本工具）\
         都把正样本保留在分母中。正因如此，这个比值才是一个概率：p 不超过 1，损失不小于 0。"
            .into()
    }
    fn ratio_text(&self) -> String {
        "二者之比就是 softmax 分给正样本的概率：".into()
    }
    fn overflow_text(&self, numerator: &str, denominator: &str) -> String {
        format!(
            "此处 exp 发生上溢：分子是 {numerator}，分母是 {denominator}，\
             都超出了 float64 的最大值（约 e^709.78）。因此所有数值都以对数形式给出，\
             程序内部也正是这样计算的。分子的对数就是正样本的 logit："
        )
    }
    fn underflow_text(&self) -> String {
        "有些项小于 float64 能表示的最小正数，直接写出会显示为 0，因此所有数值都以对数形式给出，\
         程序内部也正是这样计算的。分子的对数就是正样本的 logit："
            .into()
    }
    fn lse_text(&self, max_logit: &str) -> String {
        format!(
            "分母的对数用 log-sum-exp 计算：先减去最大的 logit m = {max_logit} 再取指数，最后再把 m 加回来。\
             减去最大值之后，最大的一项恰好是 1，所以和至少为 1，不会出现 log 0："
        )
    }
    fn ratio_text_log(&self) -> String {
        "二者之比，即 softmax 分给正样本的概率，等于两个对数之差：".into()
    }
    fn heaviest(
        &self,
        named: &[(String, String)],
        listed: usize,
        listed_share: &str,
        rest: Option<(usize, String)>,
    ) -> String {
        let list: Vec<String> = named.iter().map(|(l, s)| format!("{l}（{s}）")).collect();
        let mut s = if named.len() == 1 {
            format!("在分母中占比最大的负样本是 {}。", list[0])
        } else {
            format!("在分母中占比最大的负样本依次是：{}。", list.join("、"))
        };
        if listed > 1 {
            s.push_str(&format!(
                "列出的 {listed} 个负样本合计占分母的 {listed_share}"
            ));
            match rest {
                Some((count, share)) => s.push_str(&format!("，其余 {count} 个占 {share}。")),
                None => s.push('。'),
            }
        } else if let Some((count, share)) = rest {
            s.push_str(&format!("其余 {count} 个占 {share}。"));
        }
        s
    }
    fn rest_only(&self, count: usize, share: &str) -> String {
        format!("{count} 个负样本都没有列出，合计占分母的 {share}。")
    }
    fn no_negatives(&self) -> String {
        "没有负样本：正样本是唯一的候选项，所以 p = 1，损失为 0。".into()
    }
    fn rank(&self, positive: &str, rank: u64, n: usize) -> String {
        if rank == 1 {
            format!("正样本 {positive} 在 {n} 个候选项中排第 1：没有负样本的得分比它高。")
        } else {
            format!(
                "正样本 {positive} 在 {n} 个候选项中排第 {rank}：有 {} 个负样本的得分比它高。",
                rank - 1
            )
        }
    }
    fn outscored(&self, named: &[Named], count: usize, share: &str) -> String {
        let items: Vec<String> = named
            .iter()
            .map(|n| {
                format!(
                    "{}（占比 {}，相似度比正样本高 {}）",
                    n.label, n.share, n.margin
                )
            })
            .collect();
        format!(
            "这个锚点没有学好：得分超过正样本的负样本 {} 比正样本更接近锚点，这 {count} 个负样本合计占分母的 {share}。",
            items.join("、")
        )
    }
    fn ties(&self, labels: &[String], positive: &str) -> String {
        format!(
            "{} 与正样本 {positive} 的相似度在所示位数内相同（标为“并列”）。",
            labels.join("、")
        )
    }
    fn duplicates(&self, labels: &[String], positive: &str) -> String {
        format!(
            "{} 与正样本 {positive} 完全相同（标为“重复”）：这是假负样本，它与正样本并无区别，损失却要把它推离锚点。",
            labels.join("、")
        )
    }

    fn loss_text(&self) -> String {
        "损失是这个比值取对数再取负；p 越接近 1，损失越接近 0：".into()
    }
    fn loss_logs_text(&self) -> String {
        "同一个数也等于分母的对数减去分子的对数：".into()
    }
    fn loss_digits(&self) -> String {
        "损失与两个对数相比很小时，二者相减会损失有效数字；程序按 \
         log(1 + Σ_负样本 exp(logit_k − logit_正样本)) 计算损失，从而保留这些位数。"
            .into()
    }

    fn classification_text(&self, n: usize, target: usize) -> String {
        format!(
            "这个损失就是一个 {n} 类分类问题的交叉熵，正样本就是正确类别：在 PyTorch 中即 \
             `F.cross_entropy(logits, target)`，logits 按候选项顺序排列，target = {target}。\
             正因为正样本留在分母中，才有 p ≤ 1、损失 ≥ 0。"
        )
    }
    fn bounds_text(&self, n: usize, log_n: &str, flat_tau: &str, flat_loss: &str) -> String {
        format!(
            "τ 越大，各个 logit 越趋近 0，每个候选项的占比都趋于 1/{n}，损失趋于 {}\
             （τ = {flat_tau} 时程序算得 {flat_loss}）。",
            quoted::log_n(&n.to_string(), log_n)
        )
    }
    fn bound_low(&self, leads: bool) -> String {
        if leads {
            "τ 越小，由于正样本领先于所有负样本，它在分母中的占比趋于 100%，损失趋于 0。".into()
        } else {
            format!(
                "τ 越小，损失并不趋于 0：有负样本的得分不低于正样本，损失约按 {} 增长。",
                quoted::margin_over_tau(false)
            )
        }
    }

    fn gradient_text(&self, positive: &str, g_pos: &str, top: Option<(&str, &str)>) -> String {
        let top = match top {
            Some((label, g)) => format!(
                "得分最高的负样本 {label} 被推开的力度最大（{g}）；占比接近 0 的负样本几乎不受影响。"
            ),
            None => String::new(),
        };
        format!(
            "上表中 ∂L/∂sim 一列是损失对各个相似度的梯度：负样本为 {}，正样本为 {}。\
             梯度下降会提高正样本的相似度（{positive}：{g_pos}），并按占比降低每个负样本的相似度。{top}",
            quoted::grad_negative(),
            quoted::grad_positive()
        )
    }
    fn col_gradient(&self) -> String {
        "∂L/∂sim".into()
    }

    fn hard_text(&self, label: &str, before: &str, after: &str, margin: &str) -> String {
        format!(
            "把 {label} 移近锚点，使它的相似度由 {before} 变为 {after}（比正样本低 {margin}），\
             其余向量不变，再用程序对修改后的向量重新计算："
        )
    }
    fn hard_lesson(&self, label: &str, share: &str, loss_before: &str, loss_after: &str) -> String {
        format!(
            "成为困难负样本{}后，{label} 占分母的 {share}，损失由 {loss_before} 升至 {loss_after}：\
             与正样本得分接近的负样本，正是损失最主要的学习信号。",
            self.g("hard negative")
        )
    }
    fn hard_already(&self, label: &str, sim: &str, positive_sim: &str) -> String {
        format!(
            "这个锚点已经有一个困难负样本{}：{label}，相似度为 {sim}，正样本为 {positive_sim}。",
            self.g("hard negative")
        )
    }
    fn col_before(&self) -> String {
        "原数据".into()
    }
    fn col_after(&self) -> String {
        "困难负样本".into()
    }

    fn batch_intro(&self, s: &Scene) -> String {
        if s.is_example() {
            "对每个锚点及其正样本做同样的计算（* 标出上面讲解的那个）：".into()
        } else {
            "同样的步骤给出每条记录的损失（* 标出上面讲解的那条）：".into()
        }
    }
    fn col_record(&self) -> String {
        "序号".into()
    }
    fn col_anchor(&self) -> String {
        "锚点".into()
    }
    fn col_positive(&self) -> String {
        "正样本".into()
    }
    fn col_numerator(&self) -> String {
        "分子".into()
    }
    fn col_denominator(&self) -> String {
        "分母".into()
    }
    fn col_loss(&self) -> String {
        "损失".into()
    }
    fn col_rank(&self) -> String {
        "排名".into()
    }
    fn col_batch_loss(&self) -> String {
        "整批损失".into()
    }
    fn batch_more(&self, shown_others: usize, more: usize) -> String {
        format!(
            "表中列出所讲解的记录和损失最高的 {shown_others} 条；另有 {more} 条未列出（`infonce compute` 会全部列出）。"
        )
    }
    fn mean_text(&self, s: &Scene) -> String {
        let n = s.n_records;
        if s.two_view() {
            format!("整批损失是全部 2N = {n} 个锚点损失的平均值：")
        } else {
            format!("整批损失是全部 R = {n} 条记录损失的平均值：")
        }
    }
    fn mean_directions(&self, n_records: usize) -> String {
        format!("整批损失是两个方向（查询到键、键到查询）各自平均值的平均，共 {n_records} 条记录：")
    }

    fn sweep_intro(&self, tau: &str, anchor: &str) -> String {
        format!(
            "用其他温度参数对同一组向量重新计算：锚点 {anchor} 的损失和 p、最难负样本的占比，以及整批损失\
             （* 标出上面使用的 τ = {tau}）："
        )
    }
    fn col_hardest(&self, label: &str) -> String {
        format!("{label} 的占比")
    }
    fn sweep_lesson(&self, s: &SweepFacts) -> Vec<String> {
        let mut out = Vec::new();
        let mut first = format!(
            "τ 从 {} 变到 {}，p 从 {} 变为 {}，损失从 {} 变为 {}",
            s.tau_lo, s.tau_hi, s.p_lo, s.p_hi, s.loss_lo, s.loss_hi
        );
        match &s.hardest {
            Some((label, lo, hi)) => {
                first.push_str(&format!("；最难负样本 {label} 的占比从 {lo} 变为 {hi}。"))
            }
            None => first.push('。'),
        }
        out.push(first);
        if let Some((lo, hi)) = &s.concentrates {
            out.push(format!(
                "τ 越小，负样本之间的权重越集中到最难的那个上：它在全部负样本的占比中所占的份额，\
                 τ = {} 时为 {lo}，τ = {} 时为 {hi}。",
                s.tau_lo, s.tau_hi
            ));
        }
        if let Some((approx, loss)) = &s.outscored {
            out.push(format!(
                "负样本得分超过正样本时，τ 很小时 {}：τ = {} 时该式为 {approx}，损失为 {loss}。",
                quoted::margin_over_tau(true),
                s.tau_lo
            ));
        }
        if s.zero_at_hi {
            out.push(format!(
                "即使 τ = {}，正样本也遥遥领先，p 舍入后为 1（损失为 {}）：对这些相似度而言，表中的温度都算小的，\
                 只有大得多的 τ 才会让损失接近其上限 {}。",
                s.tau_hi,
                s.loss_hi,
                quoted::log_n("n", &s.log_n)
            ));
        } else {
            out.push(format!(
                "τ 越大，各项越趋于相同，损失趋于 {}，相当于无法把正样本与其他候选项区分开。",
                quoted::log_n("n", &s.log_n)
            ));
        }
        out
    }

    fn name_text(&self, shape: Shape) -> String {
        let form = match shape {
            Shape::TwoView => {
                "在两视图布局下，这就是 SimCLR 的 NT-Xent（归一化温度缩放交叉熵）：批次中的其他嵌入向量都是负样本。"
            }
            _ => "这是以本布局的候选项为负样本的 InfoNCE 损失。",
        };
        format!(
            "{form}InfoNCE 这个名字来自 CPC（对比预测编码）：一个正样本与 K 个负样本相比较；\
             MoCo 则从队列中取 K 个负样本。在负样本独立抽取的这种设定下，损失给出两个视图之间互信息的下界：\
             {}。",
            quoted::cpc_bound()
        )
    }
    fn cpc_text(&self, n: usize, log_n: &str, mean: &str, bound: &str) -> String {
        format!(
            "这里 K+1 = {n} 个候选项，以整批损失作 L：{} 奈特。\
             这个下界永远不会超过 {}，所以 InfoNCE 需要大量负样本才能度量较多的信息。",
            quoted::cpc_figure(n, log_n, mean, bound),
            quoted::log_k1()
        )
    }
}
