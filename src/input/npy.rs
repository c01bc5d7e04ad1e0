//! The `.npy` format: header parsing and typed data, read with every size
//! checked against the file before anything large is allocated.
//!
//! Format reference: a 6-byte magic `\x93NUMPY`, a version, a little-endian
//! header length (2 bytes in version 1, 4 bytes in versions 2 and 3), then a
//! Python dict literal such as `{'descr': '<f4', 'fortran_order': False,
//! 'shape': (8, 3), }` padded with spaces, then the raw data.

use std::io::Read;

use crate::error::{Error, Result};
use crate::input::csv::truncate;

/// The magic bytes every `.npy` file starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Largest header we accept; numpy itself writes a few hundred bytes.
const MAX_HEADER_LEN: usize = 1 << 20;

/// Element kinds the tool can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Float,
    Int,
    Uint,
    /// numpy's fixed-width Unicode strings (`<U8`): UTF-32 code points,
    /// `size / 4` of them, padded with NULs (labels only).
    Unicode,
}

/// A parsed `descr`: kind, byte size and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    pub kind: Kind,
    pub size: usize,
    pub big_endian: bool,
}

impl Dtype {
    /// The numpy name of the type, for messages and reports (`float32`).
    pub fn name(&self) -> String {
        let k = match self.kind {
            Kind::Float => "float",
            Kind::Int => "int",
            Kind::Uint => "uint",
            Kind::Unicode => return format!("<U{}", self.size / 4),
        };
        format!("{k}{}", self.size * 8)
    }
}

/// The parsed header of a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub dtype: Dtype,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Byte offset of the first data byte from the start of the file.
    pub data_offset: usize,
    /// Whether the header ends with a newline, as the format asks and every
    /// writer does; when not, its length field is likely wrong.
    pub newline_end: bool,
}

impl Header {
    /// Number of data bytes the shape needs, or an error if it overflows.
    pub fn data_len(&self, file: &str) -> Result<usize> {
        self.shape
            .iter()
            .try_fold(self.dtype.size, |acc, &n| acc.checked_mul(n))
            .ok_or_else(|| {
                Error::data(
                    file,
                    format!("header shape {:?} is too large to address", self.shape),
                )
            })
    }

    /// Checks that the file holds exactly the bytes the header promises.
    pub fn check_len(&self, file: &str, file_len: u64) -> Result<usize> {
        let need = self.data_len(file)?;
        let have = file_len.saturating_sub(self.data_offset as u64);
        if have != need as u64 {
            let hint = if self.newline_end {
                String::new()
            } else {
                format!(
                    " (the header does not end with a newline at byte {}, as numpy's headers do: is the header length field wrong?)",
                    self.data_offset - 1
                )
            };
            return Err(Error::data(
                file,
                format!(
                    "header shape {:?} of {} needs {need} data bytes but the file holds {have}{hint}",
                    self.shape,
                    self.dtype.name()
                ),
            ));
        }
        Ok(need)
    }
}

/// Reads and parses the header from the start of `r`, leaving `r` at the data.
pub fn read_header<R: Read>(file: &str, r: &mut R) -> Result<Header> {
    let mut pre = [0u8; 8];
    read_exact(file, r, &mut pre, "the .npy preamble")?;
    if &pre[..6] != MAGIC {
        return Err(Error::data(
            file,
            "not a .npy file (it does not start with \\x93NUMPY)",
        ));
    }
    let major = pre[6];
    let (len, prefix) = match major {
        1 => {
            let mut b = [0u8; 2];
            read_exact(file, r, &mut b, "the header length")?;
            (u16::from_le_bytes(b) as usize, 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            read_exact(file, r, &mut b, "the header length")?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        v => {
            return Err(Error::data(
                file,
                format!("unsupported .npy format version {v}"),
            ));
        }
    };
    if len > MAX_HEADER_LEN {
        return Err(Error::data(
            file,
            format!("header length {len} is larger than any .npy header"),
        ));
    }
    let mut text = vec![0u8; len];
    read_exact(file, r, &mut text, "the header")?;
    // Versions 1 and 2 are Latin-1, version 3 UTF-8; numpy writes ASCII, and
    // anything else can only stand inside a string.
    if major == 3
        && let Err(e) = std::str::from_utf8(&text)
    {
        return Err(Error::data(
            file,
            format!(
                "header is not UTF-8 text: byte {} is 0x{:02x}",
                prefix + e.valid_up_to(),
                text[e.valid_up_to()]
            ),
        ));
    }
    let (dtype, fortran_order, shape) =
        parse_dict(&text, prefix, major == 3).map_err(|m| Error::data(file, m))?;
    Ok(Header {
        dtype,
        fortran_order,
        shape,
        data_offset: prefix + len,
        newline_end: text.last() == Some(&b'\n'),
    })
}

/// Reads the data a checked header promises from a stream, no more: exactly
/// its bytes, then one more read to see that the stream ends there. Memory
/// grows with the bytes that arrive, so a header's claim costs nothing until
/// the data is there. `file_len` (a regular file's length) lets a short or
/// long file be refused before reading.
pub fn read_data<R: Read>(
    file: &str,
    h: &Header,
    r: &mut R,
    file_len: Option<u64>,
) -> Result<Vec<u8>> {
    let need = match file_len {
        Some(len) => h.check_len(file, len)?,
        None => h.data_len(file)?,
    };
    let mut data: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; need.clamp(1, 1 << 20)];
    while data.len() < need {
        let want = (need - data.len()).min(chunk.len());
        let n = match r.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::data(file, crate::input::io_reason(&e))),
        };
        data.try_reserve(n).map_err(|_| {
            Error::data(
                file,
                format!(
                    "holds more than {} bytes of data, more than can be held in memory",
                    data.len()
                ),
            )
        })?;
        data.extend_from_slice(&chunk[..n]);
    }
    let extra = loop {
        match r.read(&mut chunk[..1]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::data(file, crate::input::io_reason(&e))),
        }
    };
    if data.len() < need || extra > 0 {
        let holds = if extra > 0 {
            ", but more bytes follow them".to_string()
        } else {
            format!(" but the file holds {}", data.len())
        };
        return Err(Error::data(
            file,
            format!(
                "header shape {:?} of {} needs {need} data bytes{holds}",
                h.shape,
                h.dtype.name()
            ),
        ));
    }
    Ok(data)
}

fn read_exact<R: Read>(file: &str, r: &mut R, buf: &mut [u8], what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::data(file, format!("file ends inside {what}")),
        _ => Error::data(file, e),
    })
}

/// Parses the header dict. Keys may come in any order; all three are required.
/// `base` is the file offset of the header's first byte, so that places are
/// named as file offsets; `utf8` says how strings are decoded (else Latin-1).
fn parse_dict(
    text: &[u8],
    base: usize,
    utf8: bool,
) -> std::result::Result<(Dtype, bool, Vec<usize>), String> {
    let mut p = Parser {
        s: text,
        i: 0,
        base,
        utf8,
        last_non_ascii: None,
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.ws();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => {
                let d = p.string()?;
                descr = Some(parse_descr(&d).map_err(|m| m + &p.non_ascii_note())?);
            }
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => {
                return Err(format!(
                    "header has an unknown key '{}'{}",
                    truncate(other),
                    p.non_ascii_note()
                ));
            }
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    // Only padding may follow the dict: spaces and the closing newline.
    p.ws();
    if let Some(&b) = p.s.get(p.i) {
        return Err(format!(
            "malformed header: byte {} (0x{b:02x}) follows the closing '}}'; is the header length (bytes 8-{}, {}) too large?",
            p.at(),
            if base == 10 { 9 } else { 11 },
            p.s.len()
        ));
    }
    let descr = descr.ok_or("header has no 'descr'")?;
    let fortran = fortran.ok_or("header has no 'fortran_order'")?;
    let shape = shape.ok_or("header has no 'shape'")?;
    Ok((descr, fortran, shape))
}

fn parse_descr(d: &str) -> std::result::Result<Dtype, String> {
    let b = d.as_bytes();
    let unsupported = || format!("unsupported dtype '{}'", truncate(d));
    if b.len() < 3 {
        return Err(unsupported());
    }
    let big_endian = match b[0] {
        b'<' | b'|' => false,
        b'=' => cfg!(target_endian = "big"),
        b'>' => true,
        _ => return Err(unsupported()),
    };
    // Byte 1 may start a multi-byte character: slice the bytes, not the str.
    let size: usize = std::str::from_utf8(&b[2..])
        .ok()
        .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(unsupported)?;
    if b[1] == b'U' && b[0] != b'|' && size >= 1 {
        // UTF-32 code units of the byte order given.
        return size
            .checked_mul(4)
            .map(|bytes| Dtype {
                kind: Kind::Unicode,
                size: bytes,
                big_endian,
            })
            .ok_or_else(unsupported);
    }
    let kind = match (b[1], size) {
        (b'f', 2 | 4 | 8) => Kind::Float,
        (b'i', 1 | 2 | 4 | 8) => Kind::Int,
        (b'u', 1 | 2 | 4 | 8) => Kind::Uint,
        _ => {
            return Err(format!(
                "{} (expected float16/32/64 or an integer type)",
                unsupported()
            ));
        }
    };
    Ok(Dtype {
        kind,
        size,
        big_endian: big_endian && size > 1,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// File offset of `s[0]`.
    base: usize,
    utf8: bool,
    /// The first byte that is not ASCII in the last string read, and where.
    last_non_ascii: Option<(usize, u8)>,
}

impl Parser<'_> {
    /// The file offset of the current byte.
    fn at(&self) -> usize {
        self.base + self.i
    }
    /// What is wrong at the current byte, for a message: a byte that is not
    /// text is named by its value.
    fn found(&self) -> String {
        match self.s.get(self.i) {
            None => " (the header ends there)".into(),
            Some(&b) if !(0x20..0x7f).contains(&b) && b != b'\n' => {
                format!(" (found byte 0x{b:02x})")
            }
            Some(_) => String::new(),
        }
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{}' at byte {}{}",
                c as char,
                self.at(),
                self.found()
            ))
        }
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        let q = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}{}",
                    self.at(),
                    self.found()
                ));
            }
        };
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(format!(
                "malformed header: the string at byte {} is not closed",
                self.base + start - 1
            ));
        }
        let bytes = &self.s[start..self.i];
        let out = if self.utf8 {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            bytes.iter().map(|&b| b as char).collect() // Latin-1
        };
        self.last_non_ascii = bytes
            .iter()
            .position(|b| !b.is_ascii())
            .map(|k| (self.base + start + k, bytes[k]));
        self.i += 1;
        Ok(out)
    }

    /// For a message about the string just read: where it holds a byte that
    /// is not ASCII (numpy writes ASCII headers), if it does.
    fn non_ascii_note(&self) -> String {
        match self.last_non_ascii {
            Some((at, b)) => format!(" (byte {at} is 0x{b:02x}, not ASCII)"),
            None => String::new(),
        }
    }
    fn boolean(&mut self) -> std::result::Result<bool, String> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Ok(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Ok(false)
        } else {
            Err(format!(
                "malformed header: expected True or False at byte {}{}",
                self.at(),
                self.found()
            ))
        }
    }
    fn tuple(&mut self) -> std::result::Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(out);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            if start == self.i {
                return Err(format!(
                    "malformed header: bad shape entry at byte {}{}",
                    self.at(),
                    self.found()
                ));
            }
            let n = std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|t| t.parse::<usize>().ok())
                .ok_or_else(|| "header shape entry is too large".to_string())?;
            // numpy writes Python ints; tolerate a trailing 'L' from Python 2.
            self.eat(b'L');
            out.push(n);
            if out.len() > 32 {
                return Err("header shape has more than 32 dimensions".into());
            }
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        v.extend_from_slice(dict.as_bytes());
        v
    }

    #[test]
    fn parses_numpy_header() {
        let b = header_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3), }   \n");
        let h = read_header("x.npy", &mut &b[..]).unwrap();
        assert_eq!(h.shape, vec![8, 3]);
        assert!(!h.fortran_order);
        assert_eq!(h.dtype.kind, Kind::Float);
        assert_eq!(h.dtype.size, 4);
        assert_eq!(h.data_offset, b.len());
    }

    #[test]
    fn parses_keys_in_any_order_and_one_dim_tuple() {
        let b = header_bytes("{'shape': (5,), 'fortran_order': True, 'descr': '>i8'}");
        let h = read_header("x.npy", &mut &b[..]).unwrap();
        assert_eq!(h.shape, vec![5]);
        assert!(h.fortran_order);
        assert!(h.dtype.big_endian);
    }

    #[test]
    fn refuses_bad_headers() {
        for dict in [
            "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }",
            "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }",
            "{'descr': '<f4', 'fortran_order': False, }",
            "{'descr': '<f4', 'fortran_order': maybe, 'shape': (2, 2), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }",
            "{'descr': '<f4'",
        ] {
            let b = header_bytes(dict);
            let e = read_header("x.npy", &mut &b[..]).unwrap_err();
            assert!(e.to_string().starts_with("x.npy: "), "{e}");
        }
        let e = read_header("x.npy", &mut &b"\x93NUMP"[..]).unwrap_err();
        assert!(e.to_string().contains("ends inside"), "{e}");
    }

    #[test]
    fn unicode_strings_are_read_for_labels() {
        let b = header_bytes("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }");
        let h = read_header("x.npy", &mut &b[..]).unwrap();
        assert_eq!(h.dtype.kind, Kind::Unicode);
        assert_eq!(h.dtype.size, 12);
        assert_eq!(h.dtype.name(), "<U3");
        assert_eq!(h.data_len("x.npy").unwrap(), 24);
        assert!(parse_descr("|U3").is_err());
    }

    #[test]
    fn shape_overflow_is_an_error_not_a_panic() {
        let h = Header {
            dtype: parse_descr("<f8").unwrap(),
            fortran_order: false,
            shape: vec![usize::MAX / 2, 3],
            data_offset: 128,
            newline_end: true,
        };
        assert!(h.data_len("x.npy").is_err());
        assert!(h.check_len("x.npy", 1000).is_err());
    }
}
