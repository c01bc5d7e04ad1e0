//! The loaded files made ready for the core: magnitudes checked, one
//! precision chosen by the precision policy ([`super::precision`]) and both
//! files converted to it, and every row norm computed once.
//!
//! The norms serve the magnitude checks, the precision policy and the
//! core's scaling of the rows alike ([`super::Core::prepare`]); converting
//! float16 or float32 values to a wider type is exact, so the norms of the
//! rows as loaded are the norms of the rows the core multiplies.

use super::Similarity;
use super::precision::{self, F32_NORMS};
use crate::error::{Error, Result};
use crate::input::{Embeddings, Matrix, Values};

/// Row norms whose products and squares float64 holds with every digit:
/// squared norms stay normal and finite, and so do the products of two rows.
const F64_NORMS: (f64, f64) = (1e-150, 1e150);
/// Largest logit accepted: differences of two logits and their log-sum-exp
/// stay far from float64's limit (1.8e308).
const MAX_LOGIT: f64 = 1e300;

/// What the precision policy is asked: the settings and `--precision f64`.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The temperature (of a sweep, the smallest).
    pub tau: f64,
    /// The largest temperature of a sweep (`tau` otherwise): float32
    /// products serve a sweep only if they serve each of its temperatures.
    pub tau_max: f64,
    pub similarity: Similarity,
    /// `--precision f64`.
    pub force_f64: bool,
}

/// A loaded file and its row norms, computed once here for the warnings,
/// the checks, the precision policy and the core.
pub struct File {
    embeddings: Embeddings,
    norms: Vec<f64>,
    /// Rows per block of a 3-D file (A, M, d) seen as A M rows: row r is
    /// entry `[r / M, r % M]` ([`File::blocks`]).
    block: Option<usize>,
}

impl File {
    pub fn new(embeddings: Embeddings) -> File {
        let norms = embeddings.row_norms();
        File {
            embeddings,
            norms,
            block: None,
        }
    }

    /// [`File::new`], refusing NaN and infinite values
    /// ([`Embeddings::check_finite`]) in the same pass as the norms; with
    /// `release`, letting a mapped file's pages go as they are read
    /// ([`Embeddings::finite_norms`]).
    pub fn checked(embeddings: Embeddings, release: bool) -> Result<File> {
        let norms = embeddings.finite_norms(release)?;
        Ok(File {
            embeddings,
            norms,
            block: None,
        })
    }

    /// A 3-D file (A, `m`, d) whose rows `a m .. (a + 1) m` are anchor a's
    /// own negatives; messages name its entries `[a, m]`. Refuses NaN and
    /// infinite values as [`File::checked`] does, naming the first by its
    /// index `[a, j, c]`.
    pub fn blocks(embeddings: Embeddings, m: usize, release: bool) -> Result<File> {
        let norms = embeddings
            .norms_or_first_non_finite(release)
            .map_err(|(r, c, x)| {
                let what = if x.is_nan() {
                    "NaN (not a number)".to_string()
                } else {
                    x.to_string()
                };
                Error::data(
                    &embeddings.name,
                    format!("{what} at [{}, {}, {c}]", r / m, r % m),
                )
            })?;
        Ok(File {
            embeddings,
            norms,
            block: Some(m),
        })
    }

    /// How row r is named in messages: `row r`, or `[a, m]` in a 3-D file.
    pub fn row_place(&self, r: usize) -> String {
        match self.block {
            Some(m) => format!("[{}, {}]", r / m, r % m),
            None => self.embeddings.row_place(r),
        }
    }

    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// The L2 norm of each row ([`Embeddings::row_norms`]).
    pub fn norms(&self) -> &[f64] {
        &self.norms
    }
}

/// The files of a run in the precision the core multiplies them in, with
/// their row norms.
pub struct Data {
    first: Embeddings,
    second: Option<Embeddings>,
    norms: Vec<f64>,
    second_norms: Option<Vec<f64>>,
    precision_note: Option<String>,
    /// Extra negatives (`--negatives`), in the same precision, and their
    /// rows per anchor when each anchor has its own.
    negatives: Option<(Embeddings, Option<usize>)>,
}

impl Data {
    /// One file of embeddings, or queries and keys (`second`). Refuses rows
    /// whose similarities float64 cannot hold and logits that would
    /// overflow; then both files get the policy's precision.
    pub fn new(first: File, second: Option<File>, policy: Policy) -> Result<Data> {
        Data::with_negatives(first, second, None, policy)
    }

    /// [`Data::new`] with a file of extra negatives, which counts among
    /// the candidates in the checks and the precision policy and gets the
    /// precision of the others.
    pub fn with_negatives(
        first: File,
        second: Option<File>,
        negatives: Option<File>,
        policy: Policy,
    ) -> Result<Data> {
        let files: Vec<(&Embeddings, &[f64])> = std::iter::once(&first)
            .chain(&second)
            .map(|f| (&f.embeddings, &f.norms[..]))
            .collect();
        let fit = check_magnitudes(&files, policy, false, negatives.as_ref())?;
        let any_f64 = files.iter().any(|(e, _)| is_f64(e))
            || negatives.as_ref().is_some_and(|n| is_f64(&n.embeddings));
        let choice = choose(policy, first.embeddings.cols(), any_f64, &fit);
        let File {
            embeddings: first,
            norms,
            ..
        } = first;
        let (second, second_norms) = match second {
            Some(f) => (Some(f.embeddings), Some(f.norms)),
            None => (None, None),
        };
        let mixed_f16 = second
            .iter()
            .chain(negatives.as_ref().map(|n| &n.embeddings))
            .any(|s| s.is_f16() != first.is_f16());
        let (first, second) = if choice.f64_products {
            (
                first.try_into_f64()?,
                second.map(Embeddings::try_into_f64).transpose()?,
            )
        } else if mixed_f16 {
            // float16 beside float32: both float32 (float16 alone stays as
            // it is and is converted tile by tile).
            (
                first.try_into_f32()?,
                second.map(Embeddings::try_into_f32).transpose()?,
            )
        } else {
            (first, second)
        };
        Ok(Data {
            negatives: negatives
                .map(|n| converted(n, choice.f64_products, mixed_f16))
                .transpose()?,
            first,
            second,
            norms,
            second_norms,
            precision_note: choice.note,
        })
    }

    /// The rows of two view files as one file, `view1`'s rows then
    /// `view2`'s (the caller has checked that their shapes agree). Every
    /// check that names a row runs on each file before stacking, so
    /// messages name the file and its own row.
    pub fn stacked(view1: File, view2: File, policy: Policy) -> Result<Data> {
        Data::stacked_with_negatives(view1, view2, None, policy)
    }

    /// [`Data::stacked`] with a file of extra negatives (see
    /// [`Data::with_negatives`]).
    pub fn stacked_with_negatives(
        view1: File,
        view2: File,
        negatives: Option<File>,
        policy: Policy,
    ) -> Result<Data> {
        let File {
            embeddings: view1,
            norms: norms1,
            ..
        } = view1;
        let File {
            embeddings: view2,
            norms: norms2,
            ..
        } = view2;
        let files = [(&view1, &norms1[..]), (&view2, &norms2[..])];
        let fit = check_magnitudes(&files, policy, true, negatives.as_ref())?;
        if policy.similarity == Similarity::Cosine {
            for (e, norms) in files {
                if let Some(r) = norms.iter().position(|&n| n == 0.0) {
                    return Err(zero_row(e, r));
                }
            }
        }
        let any_f64 = is_f64(&view1)
            || is_f64(&view2)
            || negatives.as_ref().is_some_and(|n| is_f64(&n.embeddings));
        let choice = choose(policy, view1.cols(), any_f64, &fit);
        let mixed_f16 = view1.is_f16() != view2.is_f16()
            || negatives
                .as_ref()
                .is_some_and(|n| n.embeddings.is_f16() != view1.is_f16());
        let negatives = negatives
            .map(|n| converted(n, choice.f64_products, mixed_f16))
            .transpose()?;
        let (view1, view2) = if choice.f64_products {
            (view1.try_into_f64()?, view2.try_into_f64()?)
        } else if mixed_f16 {
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
        let source_dtype = if view1.source_dtype == view2.source_dtype {
            view1.source_dtype.clone()
        } else {
            format!("{} + {}", view1.source_dtype, view2.source_dtype)
        };
        Ok(Data {
            first: Embeddings {
                name,
                source_dtype,
                values,
                first_line: None,
            },
            second: None,
            norms: [norms1, norms2].concat(),
            second_norms: None,
            precision_note: choice.note,
            negatives,
        })
    }

    /// Values built in memory, taken in their own precision with no checks
    /// (explain's built-in example, and its copies of the data with a row
    /// moved, which keep the precision note of the data they copy).
    pub fn built(
        first: Embeddings,
        second: Option<Embeddings>,
        precision_note: Option<String>,
    ) -> Data {
        let norms = first.row_norms();
        let second_norms = second.as_ref().map(Embeddings::row_norms);
        Data {
            first,
            second,
            norms,
            second_norms,
            precision_note,
            negatives: None,
        }
    }

    /// The embeddings (the queries in the keys layout; the two view files
    /// stacked).
    pub fn first(&self) -> &Embeddings {
        &self.first
    }

    /// The keys of the keys layout.
    pub fn second(&self) -> Option<&Embeddings> {
        self.second.as_ref()
    }

    /// The row norms of [`Data::first`] and of [`Data::second`].
    pub fn norms(&self) -> (&[f64], Option<&[f64]>) {
        (&self.norms, self.second_norms.as_deref())
    }

    /// Why float32 input is multiplied in float64 although not asked to.
    pub fn precision_note(&self) -> Option<&str> {
        self.precision_note.as_deref()
    }

    /// Releases the pages of every mapped file read so far
    /// ([`Embeddings::release_pages`]): after the checks that read every
    /// row, a part of a sharded run keeps in memory only the rows its
    /// tiles read.
    pub fn release_pages(&self) {
        self.first.release_pages();
        self.second.iter().for_each(Embeddings::release_pages);
        self.negatives.iter().for_each(|(e, _)| e.release_pages());
    }

    /// The extra negatives (`--negatives`) in the precision of the others,
    /// with their rows per anchor when each anchor has its own block.
    pub fn negatives(&self) -> Option<(&Embeddings, Option<usize>)> {
        self.negatives.as_ref().map(|(e, m)| (e, *m))
    }
}

/// A file of negatives in the precision the policy chose for the others:
/// float64, float32 beside float32 (or float16 beside float32), or as it is.
fn converted(n: File, f64_products: bool, mixed_f16: bool) -> Result<(Embeddings, Option<usize>)> {
    let block = n.block;
    let e = if f64_products {
        n.embeddings.try_into_f64()?
    } else if mixed_f16 {
        n.embeddings.try_into_f32()?
    } else {
        n.embeddings
    };
    Ok((e, block))
}

fn is_f64(e: &Embeddings) -> bool {
    matches!(e.values, Values::F64(_))
}

/// The error for a zero row under cosine similarity.
pub(crate) fn zero_row(e: &Embeddings, row: usize) -> Error {
    Error::data(
        &e.name,
        format!(
            "{} is a zero vector; its cosine similarity is undefined (drop the row or use --sim dot)",
            e.row_place(row)
        ),
    )
}

/// The precision policy's choice ([`precision::choose`]): float64 if asked
/// for or if either file is, or if float32 products of these rows would be
/// too coarse or would overflow or underflow.
fn choose(policy: Policy, dimension: usize, any_f64: bool, fit: &Fit) -> precision::Choice {
    let at = |tau: f64| {
        precision::choose(&precision::Request {
            force_f64: policy.force_f64,
            any_f64,
            dimension,
            tau,
            similarity: policy.similarity,
            largest_norms: fit.largest,
            norms_fit_f32: fit.fit_f32,
        })
    };
    // The smallest tau asks most of float32 products' precision, the
    // largest most of their range (see `precision::choose`).
    let choice = at(policy.tau);
    if choice.f64_products || policy.tau_max == policy.tau {
        return choice;
    }
    at(policy.tau_max)
}

/// What the precision policy needs to know of the row norms.
struct Fit {
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
/// `negatives`: extra candidates of the anchors of the first file.
fn check_magnitudes(
    files: &[(&Embeddings, &[f64])],
    p: Policy,
    stacked: bool,
    negatives: Option<&File>,
) -> Result<Fit> {
    let mut fits_f32 = true;
    // The largest norm of each file and the row that has it.
    let mut largest = Vec::new();
    let place = |k: usize, r: usize| match negatives {
        Some(n) if k == files.len() => n.row_place(r),
        _ => files[k].0.row_place(r),
    };
    let all = files
        .iter()
        .copied()
        .chain(negatives.map(|n| (&n.embeddings, &n.norms[..])));
    for (k, (e, norms)) in all.enumerate() {
        for (r, &n) in norms.iter().enumerate() {
            if n == 0.0 {
                if k == files.len() && p.similarity == Similarity::Cosine {
                    return Err(Error::data(
                        &e.name,
                        format!(
                            "{} is a zero vector; its cosine similarity is undefined \
                             (drop the row or use --sim dot)",
                            place(k, r)
                        ),
                    ));
                }
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
                        place(k, r),
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
    // The negatives' largest norm, apart: they are candidates only.
    let neg_top = negatives.map(|_| largest.pop().expect("the negatives' entry"));
    let anchors_top = if stacked {
        largest.iter().map(|l| l.1).fold(0.0, f64::max)
    } else {
        largest[0].1
    };
    let limit = match p.similarity {
        Similarity::Cosine => 1.0,
        Similarity::Dot if stacked => largest.iter().map(|l| l.1).fold(0.0, f64::max).powi(2),
        Similarity::Dot => largest[0].1 * largest.last().expect("one file at least").1,
    };
    if let (Some((r, n)), Some(neg)) = (neg_top, negatives)
        && p.similarity == Similarity::Dot
        && anchors_top * n / p.tau > MAX_LOGIT
    {
        return Err(Error::data(
            &neg.embeddings.name,
            format!(
                "{} has norm {n:e}; dot products of up to {:e} divided by \
                 tau {:e} overflow float64 (raise --tau or scale the embeddings down)",
                neg.row_place(r),
                anchors_top * n,
                p.tau
            ),
        ));
    }
    if limit / p.tau > MAX_LOGIT {
        return Err(match p.similarity {
            // The one check on a flag alone that needs the data (explain's
            // built-in example included).
            Similarity::Cosine => Error::Usage(format!(
                "--tau {:e} is too small: logits of up to 1/tau overflow float64",
                p.tau
            )),
            Similarity::Dot => {
                let (file, (r, n)) = match files.get(1) {
                    Some(&(k, _)) if largest[1].1 > largest[0].1 => (k, largest[1]),
                    _ => (files[0].0, largest[0]),
                };
                Error::data(
                    &file.name,
                    format!(
                        "{} has norm {n:e}; dot products of up to {limit:e} divided by \
                         tau {:e} overflow float64 (raise --tau or scale the embeddings down)",
                        file.row_place(r),
                        p.tau
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
    // The negatives are candidates of the anchors: they count on that side.
    let largest = (largest.0, largest.1.max(neg_top.map_or(0.0, |t| t.1)));
    Ok(Fit {
        largest,
        fit_f32: fits_f32,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(name: &str, rows: usize, cols: usize, v: Vec<f32>) -> Embeddings {
        Embeddings {
            name: name.into(),
            source_dtype: "float32".into(),
            values: Values::F32(Matrix::from_rows(rows, cols, v)),
            first_line: None,
        }
    }

    const COSINE: Policy = Policy {
        tau: 0.1,
        tau_max: 0.1,
        similarity: Similarity::Cosine,
        force_f64: false,
    };

    #[test]
    fn stacked_norms_are_each_files_norms_in_turn() {
        let a = emb("a.npy", 2, 2, vec![3.0, 4.0, 1.0, 0.0]);
        let b = emb("b.npy", 2, 2, vec![0.0, 2.0, 6.0, 8.0]);
        let data = Data::stacked(File::new(a), File::new(b), COSINE).unwrap();
        assert_eq!(data.first().name, "a.npy + b.npy");
        assert_eq!(data.norms(), (&[5.0, 1.0, 2.0, 10.0][..], None));
        // The norms are those of the stacked rows as the core reads them.
        assert_eq!(data.first().row_norms(), data.norms().0);
    }

    #[test]
    fn a_zero_view_row_is_named_in_its_own_file() {
        let a = emb("a.npy", 2, 2, vec![3.0, 4.0, 1.0, 0.0]);
        let b = emb("b.npy", 2, 2, vec![0.0, 2.0, 0.0, 0.0]);
        let e = Data::stacked(File::new(a), File::new(b), COSINE)
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("b.npy: row 1 is a zero vector"), "{e}");
    }

    /// Rows of a seeded pseudo-random walk (no two alike, none zero).
    fn rows(name: &str, rows: usize, cols: usize, seed: u64) -> Embeddings {
        let mut x = seed;
        let v = (0..rows * cols)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        emb(name, rows, cols, v)
    }

    #[test]
    fn the_core_on_cached_norms_finds_what_it_finds_on_its_own() {
        use crate::layout::Layout;
        use crate::loss::{Core, Settings};
        for similarity in [Similarity::Cosine, Similarity::Dot] {
            let settings = Settings {
                tau: 0.2,
                similarity,
                block: 3,
                portable: false,
            };
            let policy = Policy {
                tau: 0.2,
                tau_max: 0.2,
                similarity,
                force_f64: false,
            };
            // Queries and keys.
            let (q, k) = (rows("q.npy", 7, 5, 1), rows("k.npy", 7, 5, 2));
            let layout = Layout::keys("q.npy", 7, "k.npy", 7, true).unwrap();
            let data = Data::new(File::new(q), Some(File::new(k)), policy).unwrap();
            let cached = Core::prepare(&layout, &data, settings).unwrap();
            let own = Core::new(&layout, data.first(), data.second(), settings).unwrap();
            assert_eq!(cached.run(&|_| {}), own.run(&|_| {}), "{similarity:?}");
            // Two view files stacked.
            let (a, b) = (rows("a.npy", 6, 4, 3), rows("b.npy", 6, 4, 4));
            let data = Data::stacked(File::new(a), File::new(b), policy).unwrap();
            let layout = Layout::two_view(&data.first().name, 12).unwrap();
            let cached = Core::prepare(&layout, &data, settings).unwrap();
            let own = Core::new(&layout, data.first(), None, settings).unwrap();
            assert_eq!(cached.run(&|_| {}), own.run(&|_| {}), "{similarity:?}");
        }
    }

    #[test]
    fn the_policy_converts_both_files_and_keeps_the_norms() {
        let q = emb("q.npy", 1, 2, vec![3.0, 4.0]);
        let k = emb("k.npy", 1, 2, vec![0.0, 2.0]);
        let forced = Policy {
            force_f64: true,
            ..COSINE
        };
        let data = Data::new(File::new(q), Some(File::new(k)), forced).unwrap();
        assert!(is_f64(data.first()) && data.second().is_some_and(is_f64));
        assert_eq!(data.norms(), (&[5.0][..], Some(&[2.0][..])));
        assert_eq!(data.precision_note(), None);
    }
}
