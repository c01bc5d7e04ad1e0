//! The formats besides `.npy` and text: which reader a sniffed file goes to
//! (`.npz`, `.safetensors`, Parquet), and the one-line refusals of formats
//! infonce recognises but does not read (see [`super::sniff`]).
//!
//! A file on disk is opened again by the reader that needs it (zip and
//! Parquet readers seek; large `.safetensors` files are memory-mapped);
//! standard input, pipes and FIFOs are read whole first (at most
//! [`MAX_STREAM_BYTES`]).

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

/// Most bytes of a container read from standard input or a pipe, which is
/// held in memory whole (1 GiB, as for text): an endless stream after a
/// container's magic bytes is refused rather than read until memory runs
/// out. A file on disk is opened and read in place, whatever its size.
pub const MAX_STREAM_BYTES: u64 = 1 << 30;

/// Whether `src` is standard input or another file that is not a regular
/// one (a pipe, a FIFO, a device), so that reading it whole needs a bound.
fn is_stream(src: &Source) -> bool {
    src.path == "-" || !std::fs::metadata(&src.path).is_ok_and(|m| m.is_file())
}

/// The whole file: `head`, then the rest of `rest`; a stream at most
/// [`MAX_STREAM_BYTES`].
fn read_all(src: &Source, head: &[u8], rest: &mut dyn Read) -> Result<Vec<u8>> {
    let limit = is_stream(src).then_some(MAX_STREAM_BYTES);
    read_bounded(src, head, rest, limit)
}

/// `head` and the rest of `rest`, refused past `limit` bytes.
fn read_bounded(
    src: &Source,
    head: &[u8],
    rest: &mut dyn Read,
    limit: Option<u64>,
) -> Result<Vec<u8>> {
    let mut all = head.to_vec();
    let more = limit.map_or(u64::MAX, |l| (l + 1).saturating_sub(head.len() as u64));
    rest.take(more)
        .read_to_end(&mut all)
        .map_err(|e| Error::data(&src.file_name(), io_reason(&e)))?;
    match limit {
        Some(l) if all.len() as u64 > l => Err(Error::data(
            &src.file_name(),
            format!(
                "holds more than {l} bytes, the most read from standard input or a pipe \
                 (it is held in memory whole); name the file instead"
            ),
        )),
        _ => Ok(all),
    }
}

/// Loads embeddings from a container file, given its first bytes `head` and
/// a reader positioned after them. `Ok(None)` for `.npy` and text, which the
/// caller reads.
#[allow(dead_code)]
pub(crate) fn embeddings(
    src: &Source,
    head: &[u8],
    rest: &mut dyn Read,
) -> Result<Option<Embeddings>> {
    Ok(array(src, head, rest, false)?.map(|(e, _)| e))
}

/// [`embeddings`]; with `blocks`, a 3-D `.npz` or `.safetensors` array
/// (A, M, d) too, as its A M rows (and M).
pub(crate) fn array(
    src: &Source,
    head: &[u8],
    rest: &mut dyn Read,
    blocks: bool,
) -> Result<Option<(Embeddings, Option<usize>)>> {
    let format = sniff::detect(head);
    if !check(src, format)? {
        return Ok(None);
    }
    // Standard input, a pipe or a FIFO cannot be opened again or seeked:
    // read whole from the reader already open (bounded).
    let stdin = is_stream(src);
    let e = match format {
        Format::Zip if stdin => {
            npz::Npz::open(src, Cursor::new(read_all(src, head, rest)?))?.array(src, blocks)?
        }
        Format::Zip => npz::Npz::open(src, open_file(src)?)?.array(src, blocks)?,
        Format::Parquet if stdin => {
            let bytes = bytes::Bytes::from(read_all(src, head, rest)?);
            (parquet::embeddings(src, bytes)?, None)
        }
        Format::Parquet => (parquet::embeddings(src, open_file(src)?)?, None),
        _ if stdin => {
            let all = read_all(src, head, rest)?;
            safetensors::array(src, safetensors::Buffer::Owned(all), blocks)?
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
            safetensors::array(src, buf, blocks)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_read_whole_up_to_the_bound() {
        let src = Source::resolve("-").unwrap();
        let mut endless = std::io::repeat(0);
        let e = read_bounded(&src, b"PAR1", &mut endless, Some(100)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "<stdin>: holds more than 100 bytes, the most read from standard input or \
             a pipe (it is held in memory whole); name the file instead"
        );
        // Exactly the bound is read; the head counts towards it.
        let mut rest = &[7u8; 96][..];
        let all = read_bounded(&src, b"PAR1", &mut rest, Some(100)).unwrap();
        assert_eq!(all.len(), 100);
        assert_eq!(&all[..5], b"PAR1\x07");
        // Without a bound (a file on disk), everything.
        let mut rest = &[7u8; 500][..];
        assert_eq!(
            read_bounded(&src, b"PK", &mut rest, None).unwrap().len(),
            502
        );
        assert!(is_stream(&src));
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert!(!is_stream(&Source::resolve(manifest).unwrap()));
    }
}
