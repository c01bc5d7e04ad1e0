//! Flags resolved into a validated job, and the job run end to end:
//! load, lay out, compute, report. Nothing is written before all of it has
//! succeeded.

use std::path::Path;

use crate::cli::{DataArgs, PrecisionArg, SimArg};
use crate::error::{Error, Result};
use crate::input::csv::{ColumnSpec, DroppedColumn};
use crate::input::{self, Embeddings, Matrix, Values, index};
use crate::layout::Layout;
use crate::loss::precision::{self, F32_NORMS};
use crate::loss::{Core, DEFAULT_BLOCK, RecordStats, Settings, Similarity};
use crate::report::{Context, Report};

/// Where the data comes from and how it is laid out.
#[derive(Debug, Clone)]
pub struct DataJob {
    pub input: String,
    /// The second views' file, when the two views are in two files: the
    /// two-view layout over `input` and it stacked.
    pub second_view: Option<String>,
    pub pairs: Option<String>,
    pub keys: Option<String>,
    pub symmetric: bool,
    pub settings: Settings,
    pub force_f64: bool,
    pub threads: Option<usize>,
    /// `--columns`: the embedding columns of text input.
    pub columns: Option<ColumnSpec>,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl DataJob {
    pub fn from_args(input: String, a: &DataArgs) -> DataJob {
        DataJob {
            input,
            second_view: None,
            pairs: a.pairs.as_deref().map(path_str),
            keys: a.keys.as_deref().map(path_str),
            symmetric: a.symmetric,
            settings: Settings {
                tau: a.tau(),
                similarity: match a.sim {
                    SimArg::Cosine => Similarity::Cosine,
                    SimArg::Dot => Similarity::Dot,
                },
                block: a.block.map_or(DEFAULT_BLOCK, |b| b as usize),
                portable: false,
            },
            force_f64: a.precision == PrecisionArg::F64,
            threads: a.threads.map(|t| t as usize),
            columns: a.columns.clone(),
        }
    }

    /// Every file the job reads, with the flag that names it (`-` is
    /// standard input): an output may be none of them.
    pub fn inputs(&self) -> Vec<(&'static str, &str)> {
        let mut all = vec![("EMB", self.input.as_str())];
        all.extend(self.second_view.as_deref().map(|v| ("VIEW2", v)));
        all.extend(self.pairs.as_deref().map(|p| ("--pairs", p)));
        all.extend(self.keys.as_deref().map(|k| ("--keys", k)));
        all
    }

    /// Loads every file and builds the layout; all data errors surface here.
    pub fn load(&self) -> Result<Loaded> {
        let stdin = |p: &str| input::source::Source::reads_stdin(p);
        for (what, path) in [
            ("VIEW2", &self.second_view),
            ("--keys", &self.keys),
            ("--pairs", &self.pairs),
        ] {
            if stdin(&self.input) && path.as_deref().is_some_and(stdin) {
                return Err(Error::Usage(format!(
                    "error: only one of EMB and {what} can be standard input"
                )));
            }
        }
        let columns = self.columns.as_ref();
        let (mut first, mut dropped_columns) = input::load_embeddings_with(&self.input, columns)?;
        first.check_finite()?;
        if let Some(v) = &self.second_view {
            let (view2, dropped) = input::load_embeddings_with(v, columns)?;
            view2.check_finite()?;
            dropped_columns.extend(dropped);
            for e in [&first, &view2] {
                let cosine = self.settings.similarity == Similarity::Cosine;
                if let Some(w) = e.transposed_warning(cosine) {
                    crate::warning::warn(w);
                }
            }
            return self.stack_views(first, view2, dropped_columns);
        }
        let mut second = match &self.keys {
            Some(k) => {
                let (e, dropped) = input::load_embeddings_with(k, columns)?;
                e.check_finite()?;
                dropped_columns.extend(dropped);
                Some(e)
            }
            None => None,
        };
        let layout = (|| match (&self.pairs, &second) {
            (Some(p), _) => {
                let pairs = index::load_pairs(p)?;
                Layout::pairs(&first.name, first.rows(), &pairs, self.symmetric)
            }
            (None, Some(k)) => {
                Layout::keys(&first.name, first.rows(), &k.name, k.rows(), self.symmetric)
            }
            (None, None) => Layout::two_view(&first.name, first.rows()),
        })()
        .map_err(|e| transposed_hint(e, &first))?;
        for e in std::iter::once(&first).chain(&second) {
            let cosine = self.settings.similarity == Similarity::Cosine;
            if let Some(w) = e.transposed_warning(cosine) {
                crate::warning::warn(w);
            }
        }
        let input_dtype = first.source_dtype.clone();
        let norms = check_magnitudes(&first, second.as_ref(), self.settings, false)?;
        // One precision for both files: float64 if asked for or if either is,
        // or if float32 products of these rows would be too coarse or would
        // overflow or underflow (the core's precision policy).
        let any_f64 = matches!(first.values, Values::F64(_))
            || second
                .as_ref()
                .is_some_and(|s| matches!(s.values, Values::F64(_)));
        let choice = self.precision(&first, any_f64, &norms);
        if choice.f64_products {
            first = first.try_into_f64()?;
            second = second.map(Embeddings::try_into_f64).transpose()?;
        } else if second
            .as_ref()
            .is_some_and(|s| s.is_f16() != first.is_f16())
        {
            // float16 beside float32: both float32 (float16 alone stays as
            // it is and is converted tile by tile).
            first = first.try_into_f32()?;
            second = second.map(Embeddings::try_into_f32).transpose()?;
        }
        Ok(Loaded {
            first,
            second,
            layout,
            input_dtype,
            dropped_columns,
            precision_note: choice.note,
        })
    }

    /// The precision policy's choice for these files ([`precision::choose`]).
    fn precision(&self, first: &Embeddings, any_f64: bool, norms: &Norms) -> precision::Choice {
        precision::choose(&precision::Request {
            force_f64: self.force_f64,
            any_f64,
            dimension: first.cols(),
            tau: self.settings.tau,
            similarity: self.settings.similarity,
            largest_norms: norms.largest,
            norms_fit_f32: norms.fit_f32,
        })
    }

    /// The two-view layout over two files stacked: row i of `view1` and row
    /// i of `view2` (row N + i of the stack) are the two views of item i.
    /// Every check that names a row runs on each file before stacking, so
    /// messages name the file and its own row.
    fn stack_views(
        &self,
        view1: Embeddings,
        view2: Embeddings,
        dropped_columns: Vec<DroppedColumn>,
    ) -> Result<Loaded> {
        if view2.rows() != view1.rows() {
            return Err(Error::data(
                &view2.name,
                format!(
                    "has {} rows but {} has {}; row i of each view file must be a pair \
                     (the two views of item i)",
                    view2.rows(),
                    view1.name,
                    view1.rows()
                ),
            ));
        }
        if view2.cols() != view1.cols() {
            return Err(Error::data(
                &view2.name,
                format!(
                    "has dimension {} but {} has dimension {}",
                    view2.cols(),
                    view1.name,
                    view1.cols()
                ),
            ));
        }
        let norms = check_magnitudes(&view1, Some(&view2), self.settings, true)?;
        if self.settings.similarity == Similarity::Cosine {
            for e in [&view1, &view2] {
                if let Some(r) = e.row_norms().iter().position(|&n| n == 0.0) {
                    return Err(Error::data(
                        &e.name,
                        format!(
                            "{} is a zero vector; its cosine similarity is undefined \
                             (drop the row or use --sim dot)",
                            e.row_place(r)
                        ),
                    ));
                }
            }
        }
        let input_dtype = if view1.source_dtype == view2.source_dtype {
            view1.source_dtype.clone()
        } else {
            format!("{} + {}", view1.source_dtype, view2.source_dtype)
        };
        let is_f64 = |e: &Embeddings| matches!(e.values, Values::F64(_));
        let choice = self.precision(&view1, is_f64(&view1) || is_f64(&view2), &norms);
        let (view1, view2) = if choice.f64_products {
            (view1.try_into_f64()?, view2.try_into_f64()?)
        } else if view1.is_f16() != view2.is_f16() {
            (view1.try_into_f32()?, view2.try_into_f32()?)
        } else {
            (view1, view2)
        };
        let name = format!("{} + {}", view1.name, view2.name);
        let values = match (&view1.values, &view2.values) {
            (Values::F16(a), Values::F16(b)) => Values::F16(stack(&name, a, b)?),
            (Values::F32(a), Values::F32(b)) => Values::F32(stack(&name, a, b)?),
            (Values::F64(a), Values::F64(b)) => Values::F64(stack(&name, a, b)?),
            _ => unreachable!("both views converted to one element type"),
        };
        let rows = 2 * view1.rows();
        let layout = Layout::two_view(&name, rows)?;
        Ok(Loaded {
            first: Embeddings {
                name,
                source_dtype: input_dtype.clone(),
                values,
                first_line: None,
            },
            second: None,
            layout,
            input_dtype,
            dropped_columns,
            precision_note: choice.note,
        })
    }

    /// A rayon pool with the requested number of threads (default: one per
    /// core), but no more than the machine's cores nor than the input files
    /// can hold row blocks of work: the work is all computation, so a thread
    /// beyond either could only wait (and idle threads that look for work to
    /// steal from each other cost time of their own). The similarity pass
    /// then puts no more of them to work than there are row blocks.
    pub fn pool(&self) -> Result<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new();
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let wanted = self.threads.unwrap_or(cores).min(cores);
        let n = self.work_bound().map_or(wanted, |w| wanted.min(w));
        if self.threads.is_some() || n < wanted {
            b = b.num_threads(n);
        }
        b.build().map_err(|e| {
            Error::Usage(format!(
                "error: cannot start {} threads: {e}",
                self.threads.unwrap_or(0)
            ))
        })
    }

    /// An upper bound on the blocks of work the input files can hold, from
    /// their sizes alone (`None` for standard input or a file that cannot be
    /// read, whose error comes when it is loaded): every value takes at least
    /// two bytes (float16, or a digit and a separator), so a file of B bytes
    /// holds at most B / 2 rows, pairs or records, and the pass at most
    /// B / 2 / block row blocks of them.
    fn work_bound(&self) -> Option<usize> {
        let mut bytes = 0u64;
        for (_, path) in self.inputs() {
            if path == "-" {
                return None;
            }
            bytes = bytes.saturating_add(std::fs::metadata(path).ok()?.len());
        }
        let rows = usize::try_from(bytes / 2).unwrap_or(usize::MAX);
        Some(rows.div_ceil(self.settings.block.max(1)).max(1))
    }
}

/// The rows of `a`, then the rows of `b`, as one row-major matrix; an error
/// rather than an abort when the copy does not fit in memory.
fn stack<T: bytemuck::Pod>(name: &str, a: &Matrix<T>, b: &Matrix<T>) -> Result<Matrix<T>> {
    let n = (a.rows() + b.rows()) * a.cols();
    let mut out: Vec<T> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| {
        Error::data(
            name,
            format!(
                "the two views hold {n} values, which need {} bytes of memory; \
                 that much cannot be allocated",
                n.saturating_mul(std::mem::size_of::<T>())
            ),
        )
    })?;
    // `iter` walks in logical (row-major) order whatever the storage.
    out.extend(a.view().iter().copied());
    out.extend(b.view().iter().copied());
    Ok(Matrix::from_rows(a.rows() + b.rows(), a.cols(), out))
}

/// A layout error about a matrix with fewer rows than columns says that the
/// matrix may be transposed.
fn transposed_hint(e: Error, first: &Embeddings) -> Error {
    match e {
        Error::Data(m) if first.rows() < first.cols() => Error::Data(format!(
            "{m} ({} has {} rows of dimension {}: if each column is an embedding, save z.T)",
            first.name,
            first.rows(),
            first.cols()
        )),
        e => e,
    }
}

/// Row norms whose products and squares float64 holds with every digit:
/// squared norms stay normal and finite, and so do the products of two rows.
const F64_NORMS: (f64, f64) = (1e-150, 1e150);
/// Largest logit accepted: differences of two logits and their log-sum-exp
/// stay far from float64's limit (1.8e308).
const MAX_LOGIT: f64 = 1e300;

/// What the precision policy needs to know of the row norms.
struct Norms {
    /// The largest row norm of the anchors' rows and of the candidates'
    /// (the same in the one-file layouts).
    largest: (f64, f64),
    /// Every non-zero row norm lies within [`F32_NORMS`].
    fit_f32: bool,
}

/// Refuses rows too large or too small for float64 similarities, and logits
/// that would overflow; returns what the precision policy needs.
/// `stacked`: the two files are one set of rows (two view files), so any
/// two rows meet, not only a row of each.
fn check_magnitudes(
    first: &Embeddings,
    second: Option<&Embeddings>,
    s: Settings,
    stacked: bool,
) -> Result<Norms> {
    let mut fits_f32 = true;
    // The largest norm of each file and the row that has it.
    let mut largest = Vec::new();
    for e in std::iter::once(first).chain(second) {
        let norms = e.row_norms();
        for (r, &n) in norms.iter().enumerate() {
            if n == 0.0 {
                continue; // a zero row is exact; cosine refuses it in the core
            }
            if n < F64_NORMS.0 || n > F64_NORMS.1 {
                let (way, fix) = if n < F64_NORMS.0 {
                    ("below", "up")
                } else {
                    ("above", "down")
                };
                return Err(Error::data(
                    &e.name,
                    format!(
                        "{} has norm {n:e}; similarities of rows with norms {way} {:e} \
                         cannot be computed in float64 (scale the embeddings {fix})",
                        e.row_place(r),
                        if n < F64_NORMS.0 {
                            F64_NORMS.0
                        } else {
                            F64_NORMS.1
                        }
                    ),
                ));
            }
            fits_f32 &= (F32_NORMS.0..=F32_NORMS.1).contains(&n);
        }
        let top =
            norms.iter().enumerate().fold(
                (0, 0.0f64),
                |best, (r, &n)| if n > best.1 { (r, n) } else { best },
            );
        largest.push(top);
    }
    let limit = match s.similarity {
        Similarity::Cosine => 1.0,
        Similarity::Dot if stacked => largest.iter().map(|l| l.1).fold(0.0, f64::max).powi(2),
        Similarity::Dot => largest[0].1 * largest.last().expect("one file at least").1,
    };
    if limit / s.tau > MAX_LOGIT {
        return Err(match s.similarity {
            Similarity::Cosine => Error::Usage(format!(
                "error: --tau {:e} is too small: logits of up to 1/tau overflow float64",
                s.tau
            )),
            Similarity::Dot => {
                let (file, (r, n)) = match second {
                    Some(k) if largest[1].1 > largest[0].1 => (k, largest[1]),
                    _ => (first, largest[0]),
                };
                Error::data(
                    &file.name,
                    format!(
                        "{} has norm {n:e}; dot products of up to {limit:e} divided by \
                         tau {:e} overflow float64 (raise --tau or scale the embeddings down)",
                        file.row_place(r),
                        s.tau
                    ),
                )
            }
        });
    }
    let largest = if stacked {
        let top = largest.iter().map(|l| l.1).fold(0.0, f64::max);
        (top, top)
    } else {
        (largest[0].1, largest.last().expect("one file at least").1)
    };
    Ok(Norms {
        largest,
        fit_f32: fits_f32,
    })
}

/// The loaded files and their layout.
pub struct Loaded {
    pub first: Embeddings,
    pub second: Option<Embeddings>,
    pub layout: Layout,
    pub input_dtype: String,
    /// Columns of text input left out (a pandas index).
    pub dropped_columns: Vec<DroppedColumn>,
    /// Why float32 input is multiplied in float64 although not asked to.
    pub precision_note: Option<String>,
}

impl Loaded {
    pub fn core(&self, settings: Settings) -> Result<Core<'_>> {
        Core::new(&self.layout, &self.first, self.second.as_ref(), settings)
    }

    /// The report of a finished run.
    pub fn report(&self, core: &Core<'_>, settings: Settings, stats: &[RecordStats]) -> Report {
        Report::new(
            Context {
                layout: &self.layout,
                tau: settings.tau,
                similarity: settings.similarity,
                precision: core.precision(),
                precision_note: self.precision_note.clone(),
                input_dtype: self.input_dtype.clone(),
                dimension: self.first.cols(),
                dropped_columns: self.dropped_columns.clone(),
            },
            stats,
        )
    }
}

/// Computes the report of a data job without any output (for tests and explain).
pub fn compute_report(job: &DataJob) -> Result<Report> {
    let pool = job.pool()?;
    let loaded = pool.install(|| job.load())?;
    let core = pool.install(|| loaded.core(job.settings))?;
    let stats = pool.install(|| core.run(&|_| {}));
    Ok(loaded.report(&core, job.settings, &stats))
}
