//! `.npz` files (`np.savez`, `np.savez_compressed`): a zip archive of `.npy`
//! members, one per array, named `NAME.npy`.
//!
//! The `zip` crate finds each member and inflates it; the member's bytes go
//! through the same `.npy` parser as a plain `.npy` file, so every dtype it
//! reads (float16 included, which ndarray-npy's `NpzReader` cannot read), big
//! endian and Fortran order work alike and errors read the same.
//!
//! A zip without `.npy` members is told apart: a PyTorch file (`data.pkl`
//! inside) or some other archive, each with its own message.

use std::io::{Read, Seek};

use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::input::index::{self, Pairs};
use crate::input::source::Source;
use crate::input::{Embeddings, npy, npy_blocks_hinted, sniff};

/// Arrays listed by name in messages before the rest are counted.
const LISTED: usize = 8;

/// An open `.npz` archive and the arrays in it, in the archive's order.
pub struct Npz<R: Read + Seek> {
    file: String,
    zip: ZipArchive<R>,
    /// Array names (member names without `.npy`) and their member indices.
    arrays: Vec<(String, usize)>,
}

fn zip_reason(e: &ZipError) -> String {
    match e {
        ZipError::Io(io) => crate::input::io_reason(io),
        ZipError::CompressionMethodNotSupported(m) => format!(
            "uses zip compression method {m}, which infonce does not read \
             (np.savez and np.savez_compressed write ones it does)"
        ),
        other => other.to_string(),
    }
}

impl<R: Read + Seek> Npz<R> {
    /// Opens the archive of `src` (already sniffed as a zip). A zip that
    /// holds no `.npy` member is refused with what it holds instead.
    pub fn open(src: &Source, reader: R) -> Result<Npz<R>> {
        let file = src.file_name();
        let zip = ZipArchive::new(reader).map_err(|e| {
            Error::data(
                &file,
                format!("is not a readable zip archive (.npz): {}", zip_reason(&e)),
            )
        })?;
        let names: Vec<String> = (0..zip.len())
            .map(|i| match zip.name_for_index(i) {
                Some(Ok(n)) => n.into_owned(),
                _ => String::new(),
            })
            .collect();
        let arrays: Vec<(String, usize)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.strip_suffix(".npy").map(|a| (a.to_string(), i)))
            .collect();
        if arrays.is_empty() {
            if names
                .iter()
                .any(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
            {
                return Err(Error::data(&file, sniff::torch_zip(&src.path)));
            }
            let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
            let more = if names.len() > 4 {
                format!(" and {} more", names.len() - 4)
            } else {
                String::new()
            };
            let holds = if names.is_empty() {
                "nothing".to_string()
            } else {
                format!("{}{more}", shown.join(", "))
            };
            return Err(Error::data(
                &file,
                format!(
                    "is a zip archive with no .npy arrays in it (it holds {holds}), not an .npz file"
                ),
            ));
        }
        Ok(Npz { file, zip, arrays })
    }

    /// The arrays' names, in the archive's order.
    pub fn names(&self) -> Vec<&str> {
        self.arrays.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// `name (rows, cols) dtype` for each array, read from the members'
    /// headers, the first few of them.
    fn describe(&mut self) -> String {
        let mut parts = Vec::new();
        for k in 0..self.arrays.len().min(LISTED) {
            let (name, i) = self.arrays[k].clone();
            let what = match self.zip.by_index(i) {
                Ok(mut m) => match npy::read_header(&name, &mut m) {
                    Ok(h) => format!("{name} {} {}", shape(&h.shape), h.dtype.name()),
                    Err(_) => format!("{name} (unreadable)"),
                },
                Err(_) => format!("{name} (unreadable)"),
            };
            parts.push(what);
        }
        if self.arrays.len() > LISTED {
            parts.push(format!("and {} more", self.arrays.len() - LISTED));
        }
        parts.join(", ")
    }

    /// The member index of the array `src` names, or of the only array.
    fn pick(&mut self, src: &Source) -> Result<usize> {
        let n = self.arrays.len();
        match &src.member {
            Some(m) => match self.arrays.iter().find(|(a, _)| a == m) {
                Some(&(_, i)) => Ok(i),
                None => {
                    let holds = self.describe();
                    Err(Error::data(
                        &self.file,
                        format!(
                            "has no array '{}'; it holds {holds}",
                            crate::input::csv::truncate(m)
                        ),
                    ))
                }
            },
            None if n == 1 => Ok(self.arrays[0].1),
            None => {
                let example = src.with_member(&self.arrays[0].0);
                let holds = self.describe();
                Err(Error::data(
                    &self.file,
                    format!("holds {n} arrays: {holds}; name one, as in {example}"),
                ))
            }
        }
    }

    /// Reads the embeddings `src` names.
    pub fn embeddings(&mut self, src: &Source) -> Result<Embeddings> {
        self.array(src, false).map(|(e, _)| e)
    }

    /// Reads the array `src` names; with `blocks`, a 3-D one (A, M, d) too,
    /// as its A M rows (and M).
    pub fn array(&mut self, src: &Source, blocks: bool) -> Result<(Embeddings, Option<usize>)> {
        let i = self.pick(src)?;
        let name = src.data_name();
        let mut member = self
            .zip
            .by_index(i)
            .map_err(|e| Error::data(&name, zip_reason(&e)))?;
        let len = member.size();
        // An integer member is converted to its own .npy file.
        let array = sniff::py_str(&self.arrays[i].0);
        let out = sniff::py_str(&format!("{}.npy", self.arrays[i].0));
        let convert = format!("np.save({out}, np.load(path)[{array}].astype(np.float32))");
        let e = npy_blocks_hinted(&name, &mut member, len, &convert, blocks)?;
        // Reading to the end makes the zip reader check the member's CRC-32,
        // so damaged data is an error rather than different numbers.
        std::io::copy(&mut member, &mut std::io::sink()).map_err(|e| {
            let reason = match e.to_string() {
                s if s.contains("checksum") => {
                    "is damaged: its data does not match the archive's CRC-32 checksum".into()
                }
                _ => crate::input::io_reason(&e),
            };
            Error::data(&name, reason)
        })?;
        Ok(e)
    }

    /// The bytes of the member `src` names (an `.npy` file), read whole:
    /// for small arrays such as labels.
    pub fn member(&mut self, src: &Source) -> Result<Vec<u8>> {
        let i = self.pick(src)?;
        let name = src.data_name();
        let mut member = self
            .zip
            .by_index(i)
            .map_err(|e| Error::data(&name, zip_reason(&e)))?;
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| Error::data(&name, crate::input::io_reason(&e)))?;
        Ok(bytes)
    }

    /// Reads the pairs array `src` names: shape (P, 2), integers.
    pub fn pairs(&mut self, src: &Source) -> Result<Pairs> {
        let i = self.pick(src)?;
        let name = src.data_name();
        let mut member = self
            .zip
            .by_index(i)
            .map_err(|e| Error::data(&name, zip_reason(&e)))?;
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| Error::data(&name, crate::input::io_reason(&e)))?;
        index::parse_pairs(&name, "member.npy", &bytes)
    }
}

/// A shape as numpy prints it: `(25, 12)`, `(5,)`.
fn shape(s: &[usize]) -> String {
    match s {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            s.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
