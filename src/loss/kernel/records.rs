//! From the pass's sums to each record's findings, and each record's terms.

use super::element::Stored;
use super::{Pass, Visible, precise_sim};
use crate::layout::{Layout, Record};
use crate::loss::exp::log_add_exp;
use crate::loss::{RecordStats, Term, TermFrom, TermSink, exp_or_none, softmax};

impl<S: Stored> Pass<'_, '_, S> {
    /// Runs the fused pass and returns one finding per record of `layout`
    /// (the layout the pass was built for), in record order.
    pub fn stats(&self, layout: &Layout, progress: &(dyn Fn(u64) + Sync)) -> Vec<RecordStats> {
        let out = self.run(progress);
        layout
            .records
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let (lse, anchors) = if r.backward {
                    (
                        out.lse_b[r.anchor],
                        self.col.as_ref().expect("backward records have anchors"),
                    )
                } else {
                    (out.lse_a[r.anchor], &self.fwd)
                };
                // The pass left all of the anchor's positives out of its sum;
                // put back every positive but this record's own (none when
                // the main side shows each record its own positive alone).
                let mut log_others = lse.ln();
                let put_back = if r.backward || self.main != Visible::Positive {
                    anchors.positives.get(r.anchor)
                } else {
                    &[]
                };
                for &q in put_back {
                    if q != r.positive {
                        let other = Record { positive: q, ..*r };
                        log_others = log_add_exp(log_others, self.record_logit(&other));
                    }
                }
                let logit = self.positive_logit[k];
                RecordStats {
                    sim: self.positive_sim[k],
                    logit,
                    log_others,
                    rank: 1 + out.above[k],
                    decoupled: self.decoupled,
                }
            })
            .collect()
    }

    /// Streams the terms of the given records of `layout`, in the given
    /// order (see [`Core::terms`](crate::loss::Core::terms)). The terms of
    /// extra negatives follow those of the main side, each marked with the
    /// file it comes from ([`TermFrom`]) and indexed within it: a row of a
    /// shared file, a place among the anchor's own negatives.
    pub fn terms<E>(
        &self,
        layout: &Layout,
        records: &[usize],
        each: &mut TermSink<'_, E>,
    ) -> std::result::Result<(), E> {
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
                let logit = sim / self.tau;
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
                        let logit = sim / self.tau;
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

    fn record_logit(&self, r: &Record) -> f64 {
        if r.backward {
            self.precise_logit(r.positive, r.anchor)
        } else {
            self.precise_logit(r.anchor, r.positive)
        }
    }
}
