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
use crate::loss::{Core, Settings, Term};
use crate::report::Report;

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
        let pool = job.pool()?;
        let loaded = pool.install(|| job.load())?;
        Ok(Session { job, pool, loaded })
    }

    /// A session over data built in memory (explain's built-in example).
    pub fn over(job: DataJob, loaded: Loaded) -> Result<Session> {
        let pool = job.pool()?;
        Ok(Session { job, pool, loaded })
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

    /// One run of the core over other data (a modified copy of the
    /// session's), on the session's pool.
    pub fn run_on<'l>(
        &self,
        loaded: &'l Loaded,
        settings: Settings,
        progress: &dyn Progress,
    ) -> Result<Finished<'l>> {
        let core = self.pool.install(|| loaded.core(settings))?;
        progress.start(core.tile_count());
        let stats = self.pool.install(|| core.run(&|n| progress.advance(n)));
        let report = loaded.report(&core, settings, &stats);
        Ok(Finished { core, report })
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
    Ok(session.run(job.settings, &Silent)?.report)
}
