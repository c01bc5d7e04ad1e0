//! From the pass's sums to each record's findings, and each record's terms.

use super::element::Stored;
use super::{Csr, Partial, Pass, Temp, Visible, precise_sim};
use crate::layout::{Layout, Record};
use crate::loss::exp::log_add_exp;
use crate::loss::{RecordStats, Term, TermFrom, TermSink, exp_or_none, softmax};

impl<S: Stored> Pass<'_, '_, S> {
    /// Runs the fused pass and returns, per temperature of the pass (in its
    /// order), one finding per record of `layout` (the layout the pass was
    /// built for), in record order.
    pub fn stats(&self, layout: &Layout, progress: &(dyn Fn(u64) + Sync)) -> Vec<Vec<RecordStats>> {
        self.stats_of(layout, self.run(progress))
    }

    /// The findings of the records of `layout` from the pass's parts, one
    /// per temperature in its order (from [`Pass::run`], or the parts of a
    /// sharded run put together by [`Pass::assemble`]).
    pub fn stats_of(&self, layout: &Layout, parts: Vec<Partial>) -> Vec<Vec<RecordStats>> {
        parts
            .into_iter()
            .zip(&self.temps)
            .map(|(out, tp)| self.stats_at(tp, layout, &out))
            .collect()
    }

    /// The findings of the records of `layout` at one temperature from the
    /// pass's part `out` at that temperature.
    fn stats_at(&self, tp: &Temp, layout: &Layout, out: &Partial) -> Vec<RecordStats> {
        let mut stats = vec![
            RecordStats {
                sim: 0.0,
                logit: 0.0,
                log_others: f64::NEG_INFINITY,
                rank: 0,
                log_negatives: f64::NEG_INFINITY,
                decoupled: self.decoupled,
            };
            layout.records.len()
        ];
        // Per direction, each anchor's records together.
        for (backward, lse) in [(false, &out.lse_a), (true, &out.lse_b)] {
            let rows = if backward {
                self.b.m.nrows()
            } else {
                self.a.m.nrows()
            };
            let items = layout
                .records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.backward == backward)
                .map(|(k, r)| (r.anchor, k));
            let by_anchor = Csr::build(rows, items);
            let mut distinct: Vec<(usize, f64)> = Vec::new();
            let (mut prefix, mut suffix) = (Vec::new(), Vec::new());
            let anchors = (0..rows)
                .map(|a| (a, by_anchor.get(a)))
                .filter(|(_, ks)| !ks.is_empty());
            for (a, ks) in anchors {
                // The pass left all of the anchor's distinct positives out
                // of its sum; each record puts back every one but its own,
                // as the log-sum-exp of those before it and those after it
                // (in row order): O(P) per anchor of P positives.
                distinct.clear();
                distinct.extend(
                    ks.iter()
                        .map(|&k| (layout.records[k].positive, tp.positive_logit[k])),
                );
                distinct.sort_unstable_by_key(|&(q, _)| q);
                distinct.dedup_by_key(|&mut (q, _)| q);
                let n = distinct.len();
                prefix.clear();
                prefix.push(lse[a].ln());
                for &(_, l) in &distinct {
                    let last = prefix[prefix.len() - 1];
                    prefix.push(log_add_exp(last, l));
                }
                suffix.clear();
                suffix.resize(n + 1, f64::NEG_INFINITY);
                for i in (0..n).rev() {
                    suffix[i] = log_add_exp(suffix[i + 1], distinct[i].1);
                }
                for &k in ks {
                    let r = &layout.records[k];
                    let i = distinct
                        .binary_search_by_key(&r.positive, |&(q, _)| q)
                        .expect("each record's positive is one of its anchor's");
                    // None is put back when the main side shows each record
                    // its own positive alone (--no-in-batch).
                    let log_others = if !backward && self.main == Visible::Positive {
                        prefix[0]
                    } else {
                        log_add_exp(prefix[i], suffix[i + 1])
                    };
                    stats[k] = RecordStats {
                        sim: self.positive_sim[k],
                        logit: tp.positive_logit[k],
                        log_others,
                        rank: 1 + out.above[k],
                        log_negatives: prefix[0],
                        decoupled: self.decoupled,
                    };
                }
            }
        }
        stats
    }

    /// Streams the terms of the given records of `layout`, in the given
    /// order (see [`Core::terms`](crate::loss::Core::terms)). The terms of
    /// extra negatives follow those of the main side, each marked with the
    /// file it comes from ([`TermFrom`]) and indexed within it: a row of a
    /// shared file, a place among the anchor's own negatives. The terms are
    /// those at the pass's first temperature.
    pub fn terms<E>(
        &self,
        layout: &Layout,
        records: &[usize],
        each: &mut TermSink<'_, E>,
    ) -> std::result::Result<(), E> {
        let tau = self.temps[0].tau;
        let mut terms = Vec::new();
        for &k in records {
            let r = &layout.records[k];
            terms.clear();
            let n_cand = if r.backward {
                self.a.m.nrows()
            } else {
                self.b.m.nrows()
            };
            let marked = (!self.extra.is_empty()).then_some(TermFrom::Candidates);
            let main = if r.backward || self.main != Visible::Positive {
                0..n_cand
            } else {
                r.positive..r.positive + 1
            };
            for c in main {
                if self.one_file && c == r.anchor {
                    continue;
                }
                let cand = Record { positive: c, ..*r };
                let sim = self.record_sim(&cand);
                let logit = sim / tau;
                terms.push(Term {
                    index: c,
                    from: marked,
                    sim,
                    logit,
                    exp: exp_or_none(logit),
                    p: 0.0,
                });
            }
            if !r.backward {
                // Extra negatives after the main side's candidates, side
                // after side, each indexed within its own file (a block's
                // negatives from 0).
                for extra in &self.extra {
                    let n = extra.side.m.nrows();
                    let (rows, first) = match extra.visible {
                        Visible::Block(m) => (r.anchor * m..(r.anchor + 1) * m, r.anchor * m),
                        _ => (0..n, 0),
                    };
                    for c in rows {
                        let sim = precise_sim(self.a, extra.side, r.anchor, c);
                        let logit = sim / tau;
                        terms.push(Term {
                            index: c - first,
                            from: Some(TermFrom::Negatives),
                            sim,
                            logit,
                            exp: exp_or_none(logit),
                            p: 0.0,
                        });
                    }
                }
            }
            softmax(&mut terms);
            each(k, &terms)?;
        }
        Ok(())
    }

    /// s(anchor, positive) of a record, in float64, whichever side its
    /// anchor is on.
    fn record_sim(&self, r: &Record) -> f64 {
        if r.backward {
            self.precise_sim(r.positive, r.anchor)
        } else {
            self.precise_sim(r.anchor, r.positive)
        }
    }
}
