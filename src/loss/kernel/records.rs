//! From the pass's sums to each record's findings, and each record's terms.

use super::element::Stored;
use super::{Pass, Visible, precise_sim};
use crate::layout::{Layout, Record};
use crate::loss::exp::log_add_exp;
use crate::loss::{RecordStats, Term, TermSink, exp_or_none, softmax};

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
                // put back every positive but this record's own.
                let mut log_others = lse.ln();
                for &q in anchors.positives.get(r.anchor) {
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
                }
            })
            .collect()
    }

    /// Streams the terms of the given records of `layout`, in the given
    /// order (see [`Core::terms`](crate::loss::Core::terms)). The terms of
    /// extra negatives follow those of the main side, numbered on past its
    /// rows.
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
            for c in 0..n_cand {
                if self.one_file && c == r.anchor {
                    continue;
                }
                let cand = Record { positive: c, ..*r };
                let sim = self.record_sim(&cand);
                let logit = sim / self.tau;
                terms.push(Term {
                    index: c,
                    sim,
                    logit,
                    exp: exp_or_none(logit),
                    p: 0.0,
                });
            }
            if !r.backward {
                // Extra negatives after the main side's candidates, numbered
                // on past its rows, side after side.
                let mut offset = n_cand;
                for extra in &self.extra {
                    let n = extra.side.m.nrows();
                    let rows = match extra.visible {
                        Visible::All | Visible::AllButSelf => 0..n,
                        Visible::Block(m) => r.anchor * m..(r.anchor + 1) * m,
                    };
                    for c in rows {
                        let sim = precise_sim(self.a, extra.side, r.anchor, c);
                        let logit = sim / self.tau;
                        terms.push(Term {
                            index: offset + c,
                            sim,
                            logit,
                            exp: exp_or_none(logit),
                            p: 0.0,
                        });
                    }
                    offset += n;
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
