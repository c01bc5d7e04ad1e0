//! The formats besides `.npy` and text: which reader a sniffed file goes to
//! (`.npz`, `.safetensors`, Parquet), and the one-line refusals of formats
//! infonce recognises but does not read (see [`super::sniff`]).
//!
//! A file on disk is opened again by the reader that needs it (zip and
//! Parquet readers seek; large `.safetensors` files are memory-mapped);
//! standard input is read whole first.

use std::fs::File;
use std::io::{Cursor, Read};

use memmap2::Mmap;

use crate::error::{Error, Result};
use crate::input::index::Pairs;
use crate::input::sniff::{self, Format};
use crate::input::source::Source;
use crate::input::{Embeddings, MMAP_THRESHOLD, io_reason, npz, parquet, safetensors};

/// Refuses what infonce cannot read, and a `:NAME` on a file that holds one
/// array; true when `format` is a container this module reads.
fn check(src: &Source, format: Format) -> Result<bool> {
    if let Some(m) = sniff::unreadable(format, &src.path) {
        return Err(Error::data(&src.file_name(), m));
    }
    match format {
        Format::Zip | Format::Safetensors | Format::Parquet => Ok(true),
        Format::Npy => src.no_member("a .npy file").map(|_| false),
        _ => src.no_member("a text file").map(|_| false),
    }
}

/// What container a file is, told from its first bytes, for messages
/// (`an .npz file`); `None` for other formats.
pub(crate) fn kind(head: &[u8]) -> Option<&'static str> {
    match sniff::detect(head) {
        Format::Zip => Some("a zip (.npz) file"),
        Format::Safetensors => Some("a .safetensors file"),
        Format::Parquet => Some("a Parquet file"),
        _ => None,
    }
}

fn open_file(src: &Source) -> Result<File> {
    File::open(&src.path).map_err(|e| Error::data(&src.file_name(), io_reason(&e)))
}

/// The whole file: `head`, then the rest of `rest`.
fn read_all(src: &Source, head: &[u8], rest: &mut dyn Read) -> Result<Vec<u8>> {
    let mut all = head.to_vec();
    rest.read_to_end(&mut all)
        .map_err(|e| Error::data(&src.file_name(), io_reason(&e)))?;
    Ok(all)
}

/// Loads embeddings from a container file, given its first bytes `head` and
/// a reader positioned after them. `Ok(None)` for `.npy` and text, which the
/// caller reads.
pub(crate) fn embeddings(
    src: &Source,
    head: &[u8],
    rest: &mut dyn Read,
) -> Result<Option<Embeddings>> {
    let format = sniff::detect(head);
    if !check(src, format)? {
        return Ok(None);
    }
    let stdin = src.path == "-";
    let e = match format {
        Format::Zip if stdin => {
            npz::Npz::open(src, Cursor::new(read_all(src, head, rest)?))?.embeddings(src)?
        }
        Format::Zip => npz::Npz::open(src, open_file(src)?)?.embeddings(src)?,
        Format::Parquet if stdin => {
            let bytes = bytes::Bytes::from(read_all(src, head, rest)?);
            parquet::embeddings(src, bytes)?
        }
        Format::Parquet => parquet::embeddings(src, open_file(src)?)?,
        _ if stdin => {
            let all = read_all(src, head, rest)?;
            safetensors::embeddings(src, safetensors::Buffer::Owned(all))?
        }
        _ => {
            let f = open_file(src)?;
            let len = f
                .metadata()
                .map_err(|e| Error::data(&src.file_name(), io_reason(&e)))?
                .len();
            let buf = if len >= MMAP_THRESHOLD {
                // SAFETY: the map is read-only; like every tool that maps its
                // input we assume the file is not truncated while we run.
                let map = unsafe { Mmap::map(&f) }
                    .map_err(|e| Error::data(&src.file_name(), io_reason(&e)))?;
                safetensors::Buffer::Mapped(map)
            } else {
                let mut v = Vec::new();
                (&f).read_to_end(&mut v)
                    .map_err(|e| Error::data(&src.file_name(), io_reason(&e)))?;
                safetensors::Buffer::Owned(v)
            };
            safetensors::embeddings(src, buf)?
        }
    };
    Ok(Some(e))
}

/// Loads pairs from a container file, given its first bytes `head` and a
/// reader positioned after them. `Ok(None)` for `.npy` and text, which the
/// caller reads.
pub(crate) fn pairs(src: &Source, head: &[u8], rest: &mut dyn Read) -> Result<Option<Pairs>> {
    let format = sniff::detect(head);
    if !check(src, format)? {
        return Ok(None);
    }
    // Pairs files are small: read the whole file.
    let bytes = read_all(src, head, rest)?;
    let p = match format {
        Format::Zip => npz::Npz::open(src, Cursor::new(&bytes[..]))?.pairs(src)?,
        Format::Parquet => parquet::pairs(src, bytes::Bytes::from(bytes))?,
        _ => safetensors::pairs(src, &bytes)?,
    };
    Ok(Some(p))
}
