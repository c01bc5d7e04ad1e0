//! One run: load -> core -> report, for every command that computes.
//!
//! A [`Session`] holds a resolved job's thread pool and its loaded data;
//! [`Session::run`] prepares the core, makes the pass and builds the report.
//! `compute` runs it once and writes the report; `explain` runs it at its
//! own tau, at each tau of its table and on its modified copies of the data
//! ([`Session::run_on`]). A new command that runs the core opens a session
//! and calls `run`; nothing else of the pipeline needs writing again.

use crate::error::{Error, Result};
use crate::job::{DataJob, Loaded};
use crate::loss::{Core, Findings, Settings, Term};
use crate::report::{Context, NegativesKind, Objective, Report};
use crate::shard::PartSet;

/// Told how far the pass has got, in similarity tiles.
pub trait Progress: Sync {
    /// The pass is about to compute `tiles` tiles.
    fn start(&self, _tiles: u64) {}
    /// `tiles` more tiles are done.
    fn advance(&self, _tiles: u64) {}
}

/// No progress shown.
pub struct Silent;

impl Progress for Silent {}

impl Progress for indicatif::ProgressBar {
    fn start(&self, tiles: u64) {
        self.set_length(tiles);
    }

    fn advance(&self, tiles: u64) {
        self.inc(tiles);
    }
}

/// A job's thread pool and loaded data, ready for runs of the core.
pub struct Session {
    job: DataJob,
    pool: rayon::ThreadPool,
    loaded: Loaded,
    /// The parts of a sharded run, whose sums the job's run puts together
    /// instead of running the pass (`merge`).
    parts: Option<PartSet>,
}

/// A finished run: the prepared core (for the terms) and the report.
pub struct Finished<'l> {
    pub core: Core<'l>,
    pub report: Report,
}

impl Session {
    /// Starts the job's pool and loads its files on it (every parallel step,
    /// loading included, runs on the pool `--threads` sets).
    pub fn open(job: DataJob) -> Result<Session> {
        Session::loaded_by(job, DataJob::load)
    }

    /// [`Session::open`] for a part of a sharded run
    /// ([`DataJob::load_for_part`]).
    pub fn open_part(job: DataJob) -> Result<Session> {
        Session::loaded_by(job, DataJob::load_for_part)
    }

    fn loaded_by(job: DataJob, load: fn(&DataJob) -> Result<Loaded>) -> Result<Session> {
        let pool = job.pool()?;
        let loaded = pool.install(|| load(&job))?;
        Ok(Session {
            job,
            pool,
            loaded,
            parts: None,
        })
    }

    /// A session over data built in memory (explain's built-in example).
    pub fn over(job: DataJob, loaded: Loaded) -> Result<Session> {
        let pool = job.pool()?;
        Ok(Session {
            job,
            pool,
            loaded,
            parts: None,
        })
    }

    /// The session whose job's run puts `parts` together instead of
    /// running the pass.
    pub fn with_parts(self, parts: PartSet) -> Session {
        Session {
            parts: Some(parts),
            ..self
        }
    }

    /// Runs `f` on the session's pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// The temperatures of the job's pass, in order: its sweep, or its
    /// one temperature.
    pub fn taus(&self) -> Vec<f64> {
        if self.job.taus.len() < 2 {
            vec![self.job.settings.tau]
        } else {
            self.job.taus.clone()
        }
    }

    /// The core over the job's data with the job's objective, as its run
    /// prepares it.
    pub fn prepared(&self) -> Result<Core<'_>> {
        Ok(self.core_on(&self.loaded, self.job.settings)?.0)
    }

    /// The core over `loaded` with the job's objective.
    fn core_on<'l>(&self, loaded: &'l Loaded, settings: Settings) -> Result<(Core<'l>, Objective)> {
        let core = self
            .pool
            .install(|| Core::prepare(&loaded.layout, &loaded.data, settings))?;
        let (core, objective) = self.objective(core, loaded)?;
        Ok((core.with_uniformity(self.job.uniformity), objective))
    }

    /// The findings of `core`'s pass at `taus`: run, or put together from
    /// the session's parts.
    fn findings(&self, core: &Core<'_>, taus: &[f64], progress: &dyn Progress) -> Result<Findings> {
        match &self.parts {
            Some(parts) => self.pool.install(|| parts.findings(core, taus)),
            None => {
                progress.start(core.tile_count());
                Ok(self
                    .pool
                    .install(|| core.findings(taus, &|n| progress.advance(n))))
            }
        }
    }

    pub fn job(&self) -> &DataJob {
        &self.job
    }

    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// The job's settings.
    pub fn settings(&self) -> Settings {
        self.job.settings
    }

    /// One run of the core over the session's data with `settings`.
    pub fn run(&self, settings: Settings, progress: &dyn Progress) -> Result<Finished<'_>> {
        self.run_on(&self.loaded, settings, progress)
    }

    /// The job's run: one temperature, or its sweep in one pass (the
    /// report of the best temperature, with the sweep's totals; the core
    /// then lists the terms of that temperature).
    pub fn run_job(&self, progress: &dyn Progress) -> Result<Finished<'_>> {
        let taus = &self.job.taus;
        if taus.len() < 2 {
            return self.run(self.job.settings, progress);
        }
        let (mut finished, reports) =
            self.sweep_on(&self.loaded, self.job.settings, taus, progress)?;
        let (report, best) = Report::of_sweep(reports);
        finished.core.set_tau(taus[best]);
        finished.report = report;
        Ok(finished)
    }

    /// One pass of the core over `loaded` at every temperature of `taus`
    /// (each tile's products computed once): the prepared core (at
    /// `settings.tau`) with the report at `taus[0]`, and the report at each
    /// temperature, in order. Each report is the one a run at its
    /// temperature alone gives, to the bit.
    pub fn sweep_on<'l>(
        &self,
        loaded: &'l Loaded,
        settings: Settings,
        taus: &[f64],
        progress: &dyn Progress,
    ) -> Result<(Finished<'l>, Vec<Report>)> {
        let (core, objective) = self.core_on(loaded, settings)?;
        let found = self.findings(&core, taus, progress)?;
        let reports: Vec<Report> = taus
            .iter()
            .zip(&found.stats)
            .map(|(&tau, stats)| {
                let mut r = Report::new(self.context(loaded, &core, tau, objective), stats);
                r.set_uniformity(found.uniformity);
                r
            })
            .collect();
        let report = reports[0].clone();
        Ok((Finished { core, report }, reports))
    }

    /// What a report needs besides the records, for a run at `tau`.
    fn context<'l>(
        &self,
        loaded: &'l Loaded,
        core: &Core<'_>,
        tau: f64,
        objective: Objective,
    ) -> Context<'l> {
        Context {
            layout: &loaded.layout,
            tau,
            similarity: core.similarity(),
            precision: core.precision(),
            precision_note: loaded.data.precision_note().map(str::to_string),
            input_dtype: loaded.input_dtype.clone(),
            dimension: loaded.first().cols(),
            dropped_columns: loaded.dropped_columns.clone(),
            norms: loaded.data.norms(),
            n_candidates: (core.n_candidates(false), core.n_candidates(true)),
            objective,
        }
    }

    /// One run of the core over other data (a modified copy of the
    /// session's), on the session's pool.
    pub fn run_on<'l>(
        &self,
        loaded: &'l Loaded,
        settings: Settings,
        progress: &dyn Progress,
    ) -> Result<Finished<'l>> {
        let (core, objective) = self.core_on(loaded, settings)?;
        let mut found = self.findings(&core, &[settings.tau], progress)?;
        let stats = found.stats.pop().expect("one temperature");
        let mut report = Report::new(self.context(loaded, &core, settings.tau, objective), &stats);
        report.set_uniformity(found.uniformity);
        Ok(Finished { core, report })
    }

    /// The core with the job's objective (`--no-in-batch`, `--decoupled`;
    /// the negatives came with the data), and the objective as the report
    /// describes it.
    fn objective<'l>(&self, core: Core<'l>, loaded: &'l Loaded) -> Result<(Core<'l>, Objective)> {
        let job = &self.job.objective;
        let mut core = core;
        if job.no_in_batch {
            core = core.without_in_batch()?;
        }
        if job.decoupled {
            let layout = &loaded.layout;
            let lonely = layout
                .records
                .iter()
                .find(|r| core.n_candidates(r.backward) < 2);
            if let Some(r) = lonely {
                return Err(Error::data(
                    &loaded.first().name,
                    format!(
                        "--decoupled needs a negative beside every positive, but in the {} \
                         layout of {} rows anchor {} has its positive as its only candidate \
                         (its loss would be log 0); add --negatives",
                        layout.kind.name(),
                        if r.backward {
                            layout.n_second
                        } else {
                            layout.n_first
                        },
                        r.anchor
                    ),
                ));
            }
            core = core.decoupled();
        }
        let negatives = loaded.data.negatives().map(|(_, block)| {
            let kind = match block {
                Some(_) => NegativesKind::PerAnchor,
                None => NegativesKind::Shared,
            };
            (kind, core.n_negatives())
        });
        Ok((
            core,
            Objective {
                negatives,
                in_batch: !job.no_in_batch,
                decoupled: job.decoupled,
            },
        ))
    }

    /// Every term of one record of a finished run, as the core streams them.
    pub fn terms(&self, finished: &Finished<'_>, record: usize) -> Result<Vec<Term>> {
        let mut all = Vec::new();
        self.pool.install(|| {
            finished.core.terms(&[record], &mut |_, terms| {
                all = terms.to_vec();
                Ok::<(), Error>(())
            })
        })?;
        Ok(all)
    }
}

/// Computes the report of a data job without any output (for tests, fuzz
/// targets and library users).
pub fn compute_report(job: &DataJob) -> Result<Report> {
    let session = Session::open(job.clone())?;
    Ok(session.run_job(&Silent)?.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Embeddings, Matrix, Values};
    use crate::layout::Layout;
    use crate::loss::data::Data;
    use crate::loss::{Similarity, exp_or_none};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts the tiles announced and the tiles done.
    #[derive(Default)]
    struct Count {
        started: AtomicU64,
        done: AtomicU64,
    }

    impl Progress for Count {
        fn start(&self, tiles: u64) {
            self.started.fetch_add(tiles, Ordering::Relaxed);
        }
        fn advance(&self, tiles: u64) {
            self.done.fetch_add(tiles, Ordering::Relaxed);
        }
    }

    /// A session over `rows` rows of dimension 3, two views, in memory.
    fn session(rows: usize, tau: f64, block: usize) -> Session {
        let values: Vec<f64> = (0..rows * 3)
            .map(|i| ((i * 7 + 3) % 11) as f64 - 5.0)
            .collect();
        let first = Embeddings {
            name: "e.npy".into(),
            source_dtype: "float64".into(),
            values: Values::F64(Matrix::from_rows(rows, 3, values)),
            first_line: None,
        };
        let job = DataJob {
            input: String::new(),
            second_view: None,
            pairs: None,
            keys: None,
            symmetric: false,
            settings: Settings {
                tau,
                similarity: Similarity::Dot,
                block,
                portable: false,
            },
            taus: Vec::new(),
            force_f64: false,
            threads: Some(1),
            columns: None,
            objective: Default::default(),
            uniformity: false,
            labels: None,
            multi_positive: crate::layout::MultiPositive::Supcon,
        };
        let loaded = Loaded {
            layout: Layout::two_view("e.npy", rows).unwrap(),
            data: Data::built(first, None, None),
            input_dtype: "float64".into(),
            dropped_columns: Vec::new(),
        };
        Session::over(job, loaded).unwrap()
    }

    #[test]
    fn a_run_announces_its_tiles_and_reports_every_one_done() {
        let s = session(12, 0.5, 4);
        let count = Count::default();
        let done = s.run(s.settings(), &count).unwrap();
        let started = count.started.load(Ordering::Relaxed);
        // 12 rows in blocks of 4: the 6 tiles on and above the diagonal of a
        // 3 x 3 grid (the one-file matrix is symmetric).
        assert_eq!(started, 6);
        assert_eq!(count.done.load(Ordering::Relaxed), started);
        assert_eq!(done.report.records.len(), 12);
    }

    #[test]
    fn runs_at_another_tau_and_their_terms_agree_with_their_reports() {
        let s = session(8, 1.0, 3);
        for tau in [0.25, 1.0, 4.0] {
            let done = s
                .run(
                    Settings {
                        tau,
                        ..s.settings()
                    },
                    &Silent,
                )
                .unwrap();
            assert_eq!(done.report.summary.tau, tau);
            let rec = &done.report.records[5];
            let terms = s.terms(&done, 5).unwrap();
            // Every other row is a candidate of row 5, the positive among them.
            assert_eq!(terms.len(), 7);
            let positive = terms.iter().find(|t| t.index == rec.positive).unwrap();
            assert_eq!(positive.logit, rec.logit);
            // The terms' own denominator is the record's.
            let denominator: f64 = terms.iter().map(|t| exp_or_none(t.logit).unwrap()).sum();
            let want = rec.denominator.unwrap();
            assert!((denominator - want).abs() <= 1e-12 * want, "tau {tau}");
        }
    }
}
