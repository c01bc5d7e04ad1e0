//! What a file is, told from its first bytes (never from its name alone, so
//! standard input works too), and one-line messages for the formats infonce
//! recognises but does not read, each saying how to convert.
//!
//! Nothing here unpickles or otherwise runs what a file holds: a pickle is
//! recognised by its first two bytes and left alone.

use std::path::Path;

/// Bytes read from the start of a file to tell its format.
pub const HEAD_LEN: usize = 16;

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No bytes at all.
    Empty,
    /// `\x93NUMPY`.
    Npy,
    /// A zip archive: `.npz`, a PyTorch file, or some other zip.
    Zip,
    /// An 8-byte little-endian header length, then a JSON header.
    Safetensors,
    /// `PAR1`.
    Parquet,
    /// `\x89HDF\r\n\x1a\n`: h5py, Keras, MATLAB v7.3.
    Hdf5,
    /// `ARROW1`: an Arrow IPC file (Feather version 2).
    ArrowFile,
    /// A continuation marker `0xFFFFFFFF`: an Arrow IPC stream (what
    /// Hugging Face datasets keep in its cache as `.arrow`).
    ArrowStream,
    /// `torch.save`'s legacy format: a pickle of its magic number first.
    TorchLegacy,
    /// Any other pickle (protocol 2 to 5).
    Pickle,
    Gzip,
    Zstd,
    Xz,
    /// Anything else: read as text (CSV/TSV).
    Text,
}

/// torch.save's legacy format starts with a protocol-2 pickle of the
/// integer 0x1950a86a20f9469cfc6c.
const TORCH_LEGACY: &[u8] = &[
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
];

/// Largest safetensors header the format allows (100 MB).
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// Tells the format from the first [`HEAD_LEN`] bytes (fewer if the file is
/// shorter).
pub fn detect(head: &[u8]) -> Format {
    let starts = |m: &[u8]| head.starts_with(m);
    if head.is_empty() {
        Format::Empty
    } else if starts(crate::input::npy::MAGIC) {
        Format::Npy
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        Format::Zip
    } else if starts(b"PAR1") {
        Format::Parquet
    } else if starts(b"\x89HDF\r\n\x1a\n") {
        Format::Hdf5
    } else if starts(b"ARROW1") {
        Format::ArrowFile
    } else if starts(&[0xff; 4]) && head.len() >= 8 {
        Format::ArrowStream
    } else if starts(TORCH_LEGACY) {
        Format::TorchLegacy
    } else if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        Format::Pickle
    } else if starts(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Format::Xz
    } else if is_safetensors(head) {
        Format::Safetensors
    } else {
        Format::Text
    }
}

fn is_safetensors(head: &[u8]) -> bool {
    if head.len() < 9 || head[8] != b'{' {
        return false;
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    // Text never has a length this small in its first 8 bytes, nor a NUL
    // byte: a length too large for the format (a damaged file) is still a
    // safetensors file, for its reader to refuse by name.
    (2..=MAX_SAFETENSORS_HEADER).contains(&n) || head[..8].contains(&0)
}

/// The file's path for a conversion hint (`FILE` for standard input), and
/// the same path with another extension.
fn names(path: &str, ext: &str) -> (String, String) {
    if path == "-" {
        return ("FILE".into(), format!("FILE.{ext}"));
    }
    let p = Path::new(path);
    let mut out = p.with_extension(ext);
    // `x.csv.gz` -> `x.csv`: keep what is left of a compound name.
    if out == p {
        out = p.with_extension(format!("{ext}.{ext}"));
    }
    (path.to_string(), out.to_string_lossy().into_owned())
}

/// `s` as a Python string literal: in single quotes, with `\\`, `'` and
/// control characters escaped, so a hint pastes into Python whatever the
/// path holds.
pub(crate) fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The message for a format infonce does not read, if `format` is one.
/// `path` is the file as given (`-` for standard input).
pub fn unreadable(format: Format, path: &str) -> Option<String> {
    let (file, npy) = names(path, "npy");
    let (_, parquet) = names(path, "parquet");
    let (file_py, npy_py, parquet_py) = (py_str(&file), py_str(&npy), py_str(&parquet));
    let torch = format!(
        "which infonce does not read (it holds pickled objects, and infonce never unpickles); \
         convert it in Python: np.save({npy_py}, torch.load({file_py}).float().numpy())"
    );
    let compressed = |what: &str, tool: &str| {
        format!(
            "is {what}-compressed, which infonce does not read; decompress it first ({tool} {file})"
        )
    };
    Some(match format {
        Format::Empty => "is empty (0 bytes)".into(),
        Format::Hdf5 => format!(
            "is an HDF5 file (h5py, Keras, MATLAB v7.3), which infonce does not read; convert a \
             dataset in Python: np.save({npy_py}, h5py.File({file_py})['NAME'][:])"
        ),
        Format::TorchLegacy => format!("is a PyTorch file (torch.save, legacy format), {torch}"),
        Format::Pickle => format!(
            "is a Python pickle, which infonce does not read (unpickling can run code); save the \
             array with np.save({npy_py}, array) instead"
        ),
        Format::ArrowFile => format!(
            "is an Arrow IPC file (Feather), which infonce does not read; convert it to Parquet \
             in Python: pyarrow.parquet.write_table(pyarrow.feather.read_table({file_py}), \
             {parquet_py})"
        ),
        Format::ArrowStream => format!(
            "is an Arrow IPC stream (as in a Hugging Face datasets cache), which infonce does not \
             read; convert it to Parquet in Python: \
             pyarrow.parquet.write_table(pyarrow.ipc.open_stream({file_py}).read_all(), \
             {parquet_py})"
        ),
        Format::Gzip => compressed("gzip", "gunzip -k"),
        Format::Zstd => compressed("zstd", "zstd -d"),
        Format::Xz => compressed("xz", "xz -dk"),
        _ => return None,
    })
}

/// The message for a zip archive that holds `torch.save`'s `data.pkl`.
pub fn torch_zip(path: &str) -> String {
    let (file, npy) = names(path, "npy");
    let (file_py, npy_py) = (py_str(&file), py_str(&npy));
    format!(
        "is a PyTorch file (torch.save), which infonce does not read (it holds pickled objects, \
         and infonce never unpickles); convert it in Python: \
         np.save({npy_py}, torch.load({file_py}).float().numpy())"
    )
}

/// The message for a folder given where a file is expected: says what the
/// folder looks like when it is a known kind, or names files in it that
/// could be meant.
pub fn directory(path: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("data.pkl") {
        return "is a directory, not a file: an unpacked PyTorch save (it holds data.pkl), which \
                infonce does not read; load it with torch and save the tensor with np.save"
            .into();
    }
    if has("dataset_info.json") && names.iter().any(|n| n.ends_with(".arrow")) {
        let (path_py, parquet_py) = (py_str(path), py_str(&format!("{path}.parquet")));
        return format!(
            "is a directory, not a file: a Hugging Face dataset saved with save_to_disk; write \
             it as Parquet in Python: datasets.load_from_disk({path_py}).to_parquet({parquet_py})"
        );
    }
    let readable: Vec<&String> = names
        .iter()
        .filter(|n| {
            let n = n.to_ascii_lowercase();
            [".npy", ".npz", ".safetensors", ".parquet", ".csv", ".tsv"]
                .iter()
                .any(|e| n.ends_with(e))
        })
        .collect();
    match readable.len() {
        0 => "is a directory, not a file".into(),
        n => {
            let shown: Vec<&str> = readable.iter().take(3).map(|s| s.as_str()).collect();
            let more = if n > 3 {
                format!(" and {} more", n - 3)
            } else {
                String::new()
            };
            format!(
                "is a directory, not a file (it holds {}{more}: name one)",
                shown.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_their_first_bytes() {
        let cases: &[(&[u8], Format)] = &[
            (b"", Format::Empty),
            (b"\x93NUMPY\x01\x00", Format::Npy),
            (b"PK\x03\x04\x14\x00", Format::Zip),
            (b"PAR1\x15\x04", Format::Parquet),
            (b"\x89HDF\r\n\x1a\n\x00", Format::Hdf5),
            (b"ARROW1\x00\x00", Format::ArrowFile),
            (b"\xff\xff\xff\xff\xa0\x00\x00\x00", Format::ArrowStream),
            (TORCH_LEGACY, Format::TorchLegacy),
            (b"\x80\x04\x95\x10", Format::Pickle),
            (b"\x1f\x8b\x08\x00", Format::Gzip),
            (b"\x28\xb5\x2f\xfd", Format::Zstd),
            (b"\xfd7zXZ\x00", Format::Xz),
            (
                b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\"",
                Format::Safetensors,
            ),
            // A header length past the format's limit: a damaged file.
            (
                b"\x00\x00\x00\x00\x00\x00\x00\x40{\"a\"",
                Format::Safetensors,
            ),
            (b"0.1,0.2\n0.3,0.4\n", Format::Text),
            // Eight digits and a brace are text, not a safetensors length.
            (b"12345678{,1\n", Format::Text),
            (b"\x80\x09", Format::Text),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head), *want, "{head:?}");
        }
    }

    #[test]
    fn hints_name_the_file_and_its_conversion() {
        let m = unreadable(Format::Hdf5, "data/emb.h5").unwrap();
        assert!(
            m.contains("np.save('data/emb.npy', h5py.File('data/emb.h5')['NAME'][:])"),
            "{m}"
        );
        let m = unreadable(Format::Gzip, "emb.csv.gz").unwrap();
        assert!(m.ends_with("(gunzip -k emb.csv.gz)"), "{m}");
        let m = torch_zip("-");
        assert!(m.contains("np.save('FILE.npy', torch.load('FILE')"), "{m}");
        assert!(unreadable(Format::Text, "e.csv").is_none());
        assert!(unreadable(Format::Zip, "e.npz").is_none());
    }

    #[test]
    fn hints_quote_paths_as_python_strings() {
        // A quote or backslash in the path is escaped, so the hint pastes
        // into Python as written.
        let m = torch_zip(r"it's\emb.pt");
        assert!(
            m.contains(r"np.save('it\'s\\emb.npy', torch.load('it\'s\\emb.pt').float().numpy())"),
            "{m}"
        );
        let m = unreadable(Format::ArrowFile, "a'b.feather").unwrap();
        assert!(
            m.contains(r"read_table('a\'b.feather'), 'a\'b.parquet')"),
            "{m}"
        );
        assert_eq!(py_str("a\tb\u{1}"), r"'a\tb\u0001'");
    }
}
