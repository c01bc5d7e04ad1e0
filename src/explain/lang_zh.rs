//! 讲解的全部中文句子，术语沿用教程《对比学习损失函数 - InfoNCE》
//! (Every sentence of the walkthrough in Chinese, in the tutorial's terms.)

use super::words::{Shape, Words};
use super::{Facts, Origin};
use crate::layout::LayoutKind;
use crate::loss::Similarity;

pub struct Chinese;

fn sim_name(sim: Similarity) -> &'static str {
    match sim {
        Similarity::Cosine => "余弦相似度",
        Similarity::Dot => "点积相似度",
    }
}

impl Words for Chinese {
    fn code(&self) -> &'static str {
        "zh"
    }

    fn title(&self, f: &Facts) -> String {
        match &f.origin {
            Origin::Example => "InfoNCE 逐步计算：教程中的例子".into(),
            Origin::Data { name, .. } => {
                format!("InfoNCE 逐步计算：{name} 的第 {} 条记录", f.record)
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
                    "教程中的例子：四个 4 维嵌入，按两视图排列。z1 和 z3 是同一个数据点的两个增强视图，\
                     z2 和 z4 是另一个数据点的，所以 (z1, z3) 和 (z2, z4) 是正样本对。\
                     温度参数 τ = {tau}，使用{}。",
                    sim_name(s.similarity)
                ),
                format!(
                    "下面跟随锚点 {anchor}：它的正样本是 {positive}，另外两个嵌入是它的负样本。\
                     所有数值都来自与 infonce compute 相同的计算核心。"
                ),
            ],
            Origin::Data {
                name, pairs, keys, ..
            } => {
                let (rows, key_rows) = f.rows;
                let layout = match s.layout {
                    LayoutKind::TwoView => format!(
                        "按两视图排列：第 i 行和第 i+{} 行是第 i 个数据点的两个增强视图",
                        rows / 2
                    ),
                    LayoutKind::Pairs => format!(
                        "正样本对来自 {}：它的每一行给出一个锚点及其正样本{}",
                        pairs.as_deref().unwrap_or("配对文件"),
                        if s.symmetric {
                            "，每一对也反过来计算一次"
                        } else {
                            ""
                        }
                    ),
                    LayoutKind::Keys => format!(
                        "作为查询，键来自 {}（{key_rows} 行）：两个文件的第 i 行是一对{}",
                        keys.as_deref().unwrap_or("键文件"),
                        if s.symmetric {
                            "；键到查询的记录排在查询到键的记录之后"
                        } else {
                            ""
                        }
                    ),
                };
                let naming = match s.layout {
                    LayoutKind::Keys => "q[i] 表示查询的第 i 行，k[i] 表示键的第 i 行（从 0 开始）",
                    _ => "z[i] 表示第 i 行（从 0 开始）",
                };
                vec![
                    format!(
                        "{name}：{rows} 行，维度 {}，{layout}。温度参数 τ = {tau}，使用{}，以 {} 计算乘积。",
                        s.dimension,
                        sim_name(s.similarity),
                        s.precision
                    ),
                    format!(
                        "第 {} 条记录的锚点是 {anchor}，正样本是 {positive}；分母共有 {} 项（{} 个负样本）。\
                         {naming}。所有数值都来自与 infonce compute 相同的计算核心。",
                        f.record,
                        f.breakdown.n,
                        f.breakdown.n - 1,
                    ),
                ]
            }
        }
    }

    fn default_record(&self, n_records: usize) -> String {
        format!(
            "没有给出 --anchor，所以这里讲解第 0 条记录（共 {n_records} 条）；--anchor I 讲解第 I 条。"
        )
    }

    fn rounding(&self, sig: usize) -> String {
        format!(
            "数值保留 {sig} 位有效数字；求和使用未经舍入的值。\
             某一步需要更多位数才能与下一步对上时会多写几位；--format json 给出全部位数。"
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
    fn h_batch(&self) -> String {
        "其他锚点与整批损失".into()
    }
    fn h_temperature(&self) -> String {
        "温度参数的作用".into()
    }

    fn formula_text(&self) -> String {
        "锚点 i 的 InfoNCE 损失：正样本在候选项 softmax 中所占比例的对数取负。".into()
    }
    fn sym_loss(&self) -> String {
        "锚点 i 的损失".into()
    }
    fn sym_numerator(&self) -> String {
        "分子：正样本对的得分；exp 放大相似度".into()
    }
    fn sym_denominator(&self, shape: Shape) -> String {
        match shape {
            Shape::Keys { .. } => "分母：对所有候选项求和；正样本也是其中一项".into(),
            _ => "分母：对除锚点自身以外的所有嵌入求和；正样本也是其中一项".into(),
        }
    }
    fn sym_tau(&self) -> String {
        "温度参数：每个相似度都除以它，从而控制分布的尖锐程度".into()
    }
    fn sym_indicator(&self) -> String {
        "指示函数：k ≠ i 时为 1，否则为 0；它排除锚点自身".into()
    }
    fn sym_sim(&self, sim: Similarity) -> String {
        match sim {
            Similarity::Cosine => "余弦相似度：sim(u, v) = u·v / (‖u‖ ‖v‖)".into(),
            Similarity::Dot => "点积：sim(u, v) = u·v".into(),
        }
    }
    fn sym_positive(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => "z_i 的正样本：二者构成正样本对，是同一个数据点的两个增强视图".into(),
            Shape::Pairs => "z_i 的正样本，由配对文件给出：二者构成正样本对".into(),
            Shape::Keys { .. } => "查询与它的键，即两个文件的第 i 行：一个正样本对".into(),
        }
    }
    fn sym_negatives(&self) -> String {
        "负样本：其余所有候选项".into()
    }
    fn sym_batch(&self, shape: Shape) -> String {
        match shape {
            Shape::TwoView => "整批数据：N 个数据点，每个有两个增强视图".into(),
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
    fn sim_intro(&self, sim: Similarity) -> String {
        match sim {
            Similarity::Cosine => "余弦相似度等于点积除以两个向量的长度（所示相似度取自计算核心；点积和长度写出来供阅读）：".into(),
            Similarity::Dot => "相似度就是点积：".into(),
        }
    }

    fn terms_intro(&self, tau: &str) -> String {
        format!(
            "每个相似度除以 τ = {tau} 得到 logit；logit 的指数就是该候选项在分母中的一项，\
             占比是这一项除以分母（即 softmax 概率）。"
        )
    }
    fn terms_listed(&self, listed: usize, negatives: usize, rest: usize) -> String {
        if listed == 0 {
            return format!(
                "只列出正样本；最后一行是全部 {negatives} 个负样本之和（--max-terms 设置列出的个数）。"
            );
        }
        format!(
            "先列出正样本，再列出 {negatives} 个负样本中最强的 {listed} 个；最后一行是其余 {rest} 项之和\
             （--max-terms 设置列出的个数）。"
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
        format!("分子是正样本对 ({anchor}, {positive}) 的那一项，也就是它的得分：")
    }
    fn denominator_text(&self, has_rest: bool) -> String {
        if has_rest {
            "分母把所有项加起来，包括正样本那一项：先是列出的各项，再是其余各项之和。".into()
        } else {
            "分母把所有项加起来，包括正样本那一项：".into()
        }
    }
    fn ratio_text(&self) -> String {
        "二者之比就是 softmax 给正样本的概率：".into()
    }
    fn overflow_text(&self, log_numerator: &str, log_denominator: &str) -> String {
        format!(
            "这里 exp 溢出了：分子是 e^{log_numerator}，分母是 e^{log_denominator}，\
             都超出了 float64 的最大值（约 e^709.78）。所以所有数值都以对数形式给出，\
             计算核心也正是这样计算的。分子的对数就是正样本的 logit："
        )
    }
    fn lse_text(&self, max_logit: &str) -> String {
        format!(
            "分母的对数用 log-sum-exp 计算：先减去最大的 logit m = {max_logit} 再取指数，\
             这样每一项都不超过 1，最后再把 m 加回来："
        )
    }
    fn ratio_text_log(&self) -> String {
        "二者之比，即 softmax 给正样本的概率，是两个对数之差：".into()
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
            format!("在分母中分量最重的负样本是 {}。", list[0])
        } else {
            format!("在分母中分量最重的负样本：{}。", list.join("、"))
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

    fn loss_text(&self) -> String {
        "损失是这个比值的对数取负；p 越接近 1，损失越接近 0：".into()
    }
    fn loss_logs_text(&self) -> String {
        "同一个数也等于分母的对数减去分子的对数：".into()
    }
    fn loss_digits(&self) -> String {
        "损失相对两个对数很小时，二者之差会丢失有效数字；计算核心用 \
         log(1 + Σ_负样本 exp(logit_k − logit_正样本)) 计算损失，从而保留这些位数。"
            .into()
    }

    fn batch_intro(&self, f: &Facts) -> String {
        match f.origin {
            Origin::Example => {
                "对每个锚点做同样的计算，各自配自己的正样本（* 标出上面讲解的那个）：".into()
            }
            _ => "同样的步骤给出每条记录的损失（* 标出上面讲解的那条）：".into(),
        }
    }
    fn col_record(&self) -> String {
        "记录".into()
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
    fn col_batch_loss(&self) -> String {
        "整批损失".into()
    }
    fn batch_more(&self, shown_others: usize, more: usize) -> String {
        format!(
            "表中列出讲解的记录和损失最高的 {shown_others} 条；另有 {more} 条未列出（infonce compute 会全部列出）。"
        )
    }
    fn mean_text(&self, f: &Facts) -> String {
        let n = f.report.records.len();
        match (&f.origin, f.report.summary.layout) {
            (Origin::Example, _) | (_, LayoutKind::TwoView) => {
                format!("整批损失是全部 2N = {n} 个锚点损失的平均值：")
            }
            _ => format!("整批损失是全部 {n} 条记录损失的平均值："),
        }
    }
    fn mean_directions(&self, n_records: usize) -> String {
        format!("整批损失是两个方向（查询到键、键到查询）各自平均值的平均，共 {n_records} 条记录：")
    }

    fn sweep_intro(&self, tau: &str, anchor: &str) -> String {
        format!(
            "同样的向量在其他温度参数下经过计算核心：锚点 {anchor} 的损失和 p，以及整批损失\
             （* 标出上面使用的 τ = {tau}）："
        )
    }
    fn sweep_lesson(&self) -> String {
        "τ 小，分布更尖锐：除以 τ 把 logit 拉开，领先的正样本的 p 接近 1；\
         而与正样本得分接近的负样本（困难负样本）会占据分母的很大份额，在损失中分量最重。\
         τ 大，分布更平缓：各项趋于相同，即使匹配良好的正样本对也保留较大的损失。"
            .into()
    }
}
