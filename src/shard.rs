//! Sharded runs: `compute --shard K/N -o PART` computes part K of N of the
//! pass and writes its partial sums to a part file; `merge` checks a set of
//! parts and hands their sums to the core, which puts them together into
//! the very findings of a single run ([`Core::sweep_from_parts`]).
//!
//! A part file (format version 1; docs/scale-out.md describes it) is:
//!
//! 1. the line `infonce part 1\n`;
//! 2. the header: its length in bytes (u64, little-endian) and JSON
//!    ([`Header`]): the part and the number of parts, the run's identity,
//!    the inputs' sizes and checksums, the arguments of `compute`, the
//!    temperatures, the units of the pass the part holds, the number of
//!    records;
//! 3. the rank counts: per temperature, per record, a u64;
//! 4. per unit, in the header's order: the lengths of its row and column
//!    segments (two u64), then per temperature each row segment's sums and
//!    per temperature each column segment's, a sum being its maximum and
//!    its scaled sum (two float64), then the unit's two sums of the
//!    uniformity's terms (two float64, one per group of rows: the views, or
//!    the queries and the keys; zero where the unit has none);
//! 5. the xxh3-64 checksum of everything before it (u64).
//!
//! Every number is little-endian. The run's identity is the xxh3-128
//! checksum of the program's version, every flag that changes the numbers
//! and the inputs' checksums: parts of different runs never mix.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use twox_hash::{XxHash3_64, XxHash3_128};

use crate::cli::ComputeArgs;
use crate::error::{Error, Result};
use crate::input::source::Source;
use crate::input::{display_name, release};
use crate::job::DataJob;
use crate::loss::exp::Lse;
use crate::loss::kernel::GROUPS;
use crate::loss::{Core, Findings, PartOut, Plan, Unit, UnitOut};

/// The first line of a part file.
const MAGIC: &[u8] = b"infonce part 1\n";
/// The format version this program writes and reads.
pub const VERSION: u32 = 1;
/// Most parts a run may be cut into.
pub const MAX_PARTS: usize = 1 << 20;

/// `--shard K/N`: part K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// Parses `K/N`, 1 <= K <= N <= [`MAX_PARTS`].
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let bad = || {
            format!(
                "'{s}' is not K/N: give the part K and the number of parts N as two whole \
                 numbers, 1 <= K <= N (as GNU parallel's {{#}} and Slurm's array index \
                 count, from 1), such as 3/8"
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        if n > MAX_PARTS {
            return Err(format!("'{s}': at most {MAX_PARTS} parts"));
        }
        Ok(Shard { k, n })
    }
}

/// An input file as the parts saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSum {
    /// The flag that names it (`EMB`, `--keys`, ...).
    pub flag: String,
    /// The file, as given.
    pub path: String,
    pub bytes: u64,
    /// xxh3-128 of its bytes, in hex.
    pub xxh3_128: String,
}

/// A unit of the pass, as the header lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum UnitId {
    // First: the untagged form tries the variants in order, and this one's
    // fields hold those of `Main`.
    Uniformity {
        uniformity: usize,
        rows: usize,
        cols: usize,
    },
    Main {
        rows: usize,
        cols: usize,
    },
    Extra {
        extra: usize,
    },
}

impl From<Unit> for UnitId {
    fn from(u: Unit) -> UnitId {
        match u {
            Unit::Main { rows, cols } => UnitId::Main { rows, cols },
            Unit::Extra { rows } => UnitId::Extra { extra: rows },
            Unit::Uniformity { side, rows, cols } => UnitId::Uniformity {
                uniformity: side,
                rows,
                cols,
            },
        }
    }
}

impl From<UnitId> for Unit {
    fn from(u: UnitId) -> Unit {
        match u {
            UnitId::Main { rows, cols } => Unit::Main { rows, cols },
            UnitId::Extra { extra } => Unit::Extra { rows: extra },
            UnitId::Uniformity {
                uniformity,
                rows,
                cols,
            } => Unit::Uniformity {
                side: uniformity,
                rows,
                cols,
            },
        }
    }
}

/// The JSON header of a part file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub program: String,
    pub part: usize,
    pub parts: usize,
    /// The run's identity (hex): parts of one run share it.
    pub run: String,
    pub inputs: Vec<InputSum>,
    /// The arguments of `compute`, as given.
    pub args: Vec<String>,
    /// The temperatures of the pass, in its order.
    pub taus: Vec<f64>,
    pub records: usize,
    units: Vec<UnitId>,
}

fn hex(x: u128) -> String {
    format!("{x:032x}")
}

/// Checksums of the files `job` reads.
fn input_sums(job: &DataJob) -> Result<Vec<InputSum>> {
    job.inputs()
        .into_iter()
        .map(|(flag, spec)| {
            let source = Source::resolve(spec)?;
            let name = display_name(&source.path);
            let mut f = File::open(&source.path).map_err(|e| io_err(&name, &e))?;
            let mut h = XxHash3_128::new();
            // Mapped where it can be: hashed in place, without a copy, and
            // its pages let go as it goes (the run maps the file on its own).
            // SAFETY: read-only, and the file is assumed not to be cut
            // while it is read, as every mapped input is.
            if let Ok(map) = unsafe { Mmap::map(&f) } {
                const CHUNK: usize = 8 << 20;
                for (k, chunk) in map.chunks(CHUNK).enumerate() {
                    h.write(chunk);
                    release(&map, k * CHUNK, chunk.len());
                }
                return Ok(InputSum {
                    flag: flag.to_string(),
                    path: source.path,
                    bytes: map.len() as u64,
                    xxh3_128: hex(h.finish_128()),
                });
            }
            let mut buf = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(&name, &e)),
                };
                h.write(&buf[..n]);
                bytes += n as u64;
            }
            Ok(InputSum {
                flag: flag.to_string(),
                path: source.path,
                bytes,
                xxh3_128: hex(h.finish_128()),
            })
        })
        .collect()
}

/// The flags of `args` that change the numbers, in a fixed form.
fn number_flags(args: &ComputeArgs) -> String {
    let mut data = args.data.clone();
    data.threads = None;
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\nuniformity {}",
        args.input, args.second, data, args.objective, args.uniformity
    )
}

/// A part's compute arguments without `--shard` and `-o` (and their
/// values), for messages.
fn number_args(args: &[String]) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        match a.as_str() {
            "--shard" | "-o" | "--output" => skip = true,
            a if a.starts_with("--shard=") || a.starts_with("--output=") => {}
            a if a.starts_with("-o") && a.len() > 2 => {}
            a => out.push(a),
        }
    }
    out.join(" ")
}

/// The identity of a run over `inputs` with `args`.
fn run_id(args: &ComputeArgs, inputs: &[InputSum]) -> String {
    let mut h = XxHash3_128::new();
    h.write(env!("CARGO_PKG_VERSION").as_bytes());
    h.write(b"\n");
    h.write(number_flags(args).as_bytes());
    for i in inputs {
        h.write(format!("\n{}\t{}\t{}", i.flag, i.bytes, i.xxh3_128).as_bytes());
    }
    hex(h.finish_128())
}

/// A writer that keeps the xxh3-64 checksum of what passes through.
struct Summed<W> {
    inner: W,
    h: XxHash3_64,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.h.write(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn put_u64(w: &mut impl Write, x: u64) -> io::Result<()> {
    w.write_all(&x.to_le_bytes())
}

fn put_lse(w: &mut impl Write, v: &[Lse]) -> io::Result<()> {
    for x in v {
        w.write_all(&x.max.to_le_bytes())?;
        w.write_all(&x.sum.to_le_bytes())?;
    }
    Ok(())
}

/// Writes a part file.
fn write_part(w: &mut dyn Write, header: &Header, out: &PartOut) -> io::Result<()> {
    // Buffered before the checksum, which then takes large pieces at once.
    let mut w = BufWriter::with_capacity(
        1 << 20,
        Summed {
            inner: BufWriter::new(w),
            h: XxHash3_64::with_seed(0),
        },
    );
    w.write_all(MAGIC)?;
    let json = serde_json::to_vec(header).map_err(io::Error::other)?;
    put_u64(&mut w, json.len() as u64)?;
    w.write_all(&json)?;
    for per_temp in &out.above {
        for &c in per_temp {
            put_u64(&mut w, c)?;
        }
    }
    for (_, u) in &out.units {
        let rows = u.rows.first().map_or(0, Vec::len);
        let cols = u.cols.first().map_or(0, Vec::len);
        put_u64(&mut w, rows as u64)?;
        put_u64(&mut w, cols as u64)?;
        for r in &u.rows {
            put_lse(&mut w, r)?;
        }
        for c in &u.cols {
            put_lse(&mut w, c)?;
        }
        for s in u.uniformity {
            w.write_all(&s.to_le_bytes())?;
        }
    }
    let summed = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    let sum = summed.h.finish();
    let mut inner = summed.inner;
    put_u64(&mut inner, sum)?;
    inner.flush()
}

/// `compute --shard K/N -o PART`: runs part K of N of the job's pass and
/// writes the part file. `raw` is compute's own arguments, as given.
pub fn run_part(args: &ComputeArgs, job: DataJob, shard: Shard, raw: &[OsString]) -> Result<()> {
    use crate::output::destination::Destination;
    for (flag, spec) in job.inputs() {
        if Source::reads_stdin(spec) {
            return Err(Error::Usage(format!(
                "--shard: {flag} is standard input, which merge cannot read again: \
                 save it to a file and name the file"
            )));
        }
    }
    let dest = Destination::resolve(args.out.output.as_deref(), &job.inputs())?;
    if dest.is_stdout() {
        return Err(Error::Usage(
            "--shard writes a part file: give -o PART a file name, not standard output".into(),
        ));
    }
    let raw: Vec<String> = raw
        .iter()
        .map(|a| {
            a.to_str().map(str::to_string).ok_or_else(|| {
                Error::Usage(format!(
                    "--shard: the argument {} is not UTF-8, and a part file keeps its \
                     arguments as text; rename the file",
                    a.to_string_lossy()
                ))
            })
        })
        .collect::<Result<_>>()?;
    // Loaded first: a missing or bad input gets the error a single run
    // gives.
    let session = crate::run::Session::open_part(job)?;
    // What the checks did not let go (files mapped column-major).
    session.loaded().data.release_pages();
    let inputs = input_sums(session.job())?;
    let run = run_id(args, &inputs);
    let taus = session.taus();
    let core = session.prepared()?;
    let bar = crate::compute::progress_bar();
    let pick = |plan: &Plan| {
        let units = plan.part(shard.k, shard.n);
        bar.set_length(plan.tiles(&units));
        units
    };
    let wanted = !args.out.quiet && io::IsTerminal::is_terminal(&io::stderr());
    let (units, out) = crate::compute::with_progress(&bar, wanted, || {
        session.install(|| core.run_part(&taus, pick, &|n| bar.inc(n)))
    });
    bar.finish_and_clear();
    let header = Header {
        program: format!("infonce {}", env!("CARGO_PKG_VERSION")),
        part: shard.k,
        parts: shard.n,
        run,
        inputs,
        args: raw,
        taus,
        records: out.above.first().map_or(0, Vec::len),
        units: units.iter().map(|&u| u.into()).collect(),
    };
    dest.write(|w| write_part(w, &header, &out))
}

/// A part file, checked and indexed.
struct Part {
    path: PathBuf,
    header: Header,
    /// Where each unit's bytes start, and how many they are.
    offsets: Vec<(Unit, (u64, u64))>,
    /// Where the rank counts start.
    counts_at: u64,
}

/// A file that could not be opened or read.
fn io_err(file: &str, e: &io::Error) -> Error {
    Error::data(file, format!("cannot read: {e}"))
}

fn name(p: &Path) -> String {
    display_name(&p.to_string_lossy())
}

/// Bytes of a part file (all of it, mapped, or one unit's, read) taken in
/// order, knowing where it is.
struct Cursor<'m> {
    b: &'m [u8],
    at: usize,
    file: &'m str,
}

impl<'m> Cursor<'m> {
    fn new(b: &'m [u8], file: &'m str) -> Cursor<'m> {
        Cursor { b, at: 0, file }
    }

    fn go(&mut self, to: u64) -> Result<()> {
        self.at = usize::try_from(to)
            .ok()
            .filter(|&t| t <= self.b.len())
            .ok_or_else(|| Error::data(self.file, "holds an offset past its end"))?;
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> Result<&'m [u8]> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                Error::data(
                    self.file,
                    "ends early: a part file cut short (copy it again)",
                )
            })?;
        let out = &self.b[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// `n` little-endian u64 values.
    fn u64s(&mut self, n: u64) -> Result<impl Iterator<Item = u64> + 'm> {
        let b = self.bytes(n.saturating_mul(8))?;
        Ok(b.chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))))
    }

    /// `n` sums (maximum, scaled sum).
    fn sums(&mut self, n: u64) -> Result<Vec<Lse>> {
        let b = self.bytes(n.saturating_mul(16))?;
        Ok(b.chunks_exact(16)
            .map(|p| Lse {
                max: f64::from_le_bytes(p[..8].try_into().expect("8 bytes")),
                sum: f64::from_le_bytes(p[8..].try_into().expect("8 bytes")),
            })
            .collect())
    }
}

/// `len` bytes of `f` from `at`.
fn read_at(f: &mut File, at: u64, len: u64, file: &str) -> Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| Error::data(file, "holds a length out of range"))?;
    let mut buf = vec![0u8; len];
    f.seek(SeekFrom::Start(at)).map_err(|e| io_err(file, &e))?;
    f.read_exact(&mut buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::data(file, "ends early: a part file cut short (copy it again)")
        } else {
            io_err(file, &e)
        }
    })?;
    Ok(buf)
}

/// Maps a part file (read-only).
fn map_part(path: &Path, file: &str) -> Result<Mmap> {
    let f = File::open(path).map_err(|e| io_err(file, &e))?;
    // SAFETY: read-only; a part is assumed not to be rewritten while merge
    // reads it, as every mapped input is.
    unsafe { Mmap::map(&f) }.map_err(|e| io_err(file, &e))
}

impl Part {
    /// Opens and checks one part file: its first line, its checksum, its
    /// header; indexes its units.
    fn open(path: &Path) -> Result<Part> {
        let file = name(path);
        let map = map_part(path, &file)?;
        let len = map.len() as u64;
        let mut r = Cursor::new(&map, &file);
        let short = (len as usize) < MAGIC.len() + 16;
        let magic = &map[..MAGIC.len().min(map.len())];
        if short || magic != MAGIC {
            let shown = String::from_utf8_lossy(magic).trim_end().to_string();
            if magic.starts_with(b"infonce part ") {
                return Err(Error::data(
                    &file,
                    format!(
                        "is a part file of format '{shown}', which this infonce {} does not \
                         read (it reads format {VERSION}); merge with the infonce that wrote it",
                        env!("CARGO_PKG_VERSION")
                    ),
                ));
            }
            return Err(Error::data(
                &file,
                "is not a part file of infonce (it does not begin with 'infonce part'); \
                 parts are written by 'infonce compute ... --shard K/N -o PART'",
            ));
        }
        // The checksum first: a damaged file says so before anything else.
        let (body, sum) = map.split_at(map.len() - 8);
        if u64::from_le_bytes(sum.try_into().expect("8 bytes"))
            != twox_hash::XxHash3_64::oneshot(body)
        {
            return Err(Error::data(
                &file,
                "is damaged or cut short: its checksum does not match its contents \
                 (compute the part again)",
            ));
        }
        // Read again unit by unit when the parts are put together: its
        // pages need not stay in this process's memory.
        release(&map, 0, map.len());
        r.go(MAGIC.len() as u64)?;
        let hlen = r.u64()?;
        if hlen > len {
            return Err(Error::data(&file, "has a header longer than the file"));
        }
        let json = r.bytes(hlen)?;
        let header: Header = serde_json::from_slice(json)
            .map_err(|e| Error::data(&file, format!("has a header that does not parse: {e}")))?;
        let program = format!("infonce {}", env!("CARGO_PKG_VERSION"));
        if header.program != program {
            return Err(Error::data(
                &file,
                format!(
                    "was written by {}, and this is {program}: merge the parts with the \
                     program that computed them",
                    header.program
                ),
            ));
        }
        // The units' offsets, walking their lengths.
        let n_t = header.taus.len() as u64;
        let counts_at = MAGIC.len() as u64 + 8 + hlen;
        let mut at = n_t
            .checked_mul(header.records as u64 * 8)
            .and_then(|n| n.checked_add(counts_at))
            .ok_or_else(|| Error::data(&file, "holds fewer sums than its header lists"))?;
        let mut offsets = Vec::with_capacity(header.units.len());
        for &u in &header.units {
            if at > len - 8 - 16 {
                return Err(Error::data(&file, "holds fewer sums than its header lists"));
            }
            r.go(at)?;
            let rows = r.u64()?;
            let cols = r.u64()?;
            let end = rows
                .checked_add(cols)
                .and_then(|n| n.checked_mul(n_t * 16))
                .and_then(|n| n.checked_add(at + 16 + 8 * GROUPS as u64))
                .filter(|&end| end <= len - 8)
                .ok_or_else(|| Error::data(&file, "holds fewer sums than its header lists"))?;
            offsets.push((u.into(), (at, end - at)));
            at = end;
        }
        if at != len - 8 {
            return Err(Error::data(&file, "holds more bytes than its header lists"));
        }
        Ok(Part {
            path: path.to_path_buf(),
            header,
            offsets,
            counts_at,
        })
    }
}

/// A complete set of parts of one run.
pub struct PartSet {
    parts: Vec<Part>,
}

impl PartSet {
    /// Opens and checks the parts: one run, each part once, none missing.
    pub fn open(paths: &[PathBuf]) -> Result<PartSet> {
        let mut parts: Vec<Part> = paths.iter().map(|p| Part::open(p)).collect::<Result<_>>()?;
        let first = &parts[0];
        let (run, n) = (first.header.run.clone(), first.header.parts);
        for p in &parts[1..] {
            if p.header.run != run {
                let (mine, theirs) = (number_args(&p.header.args), number_args(&first.header.args));
                let sums = |h: &Header| -> Vec<(u64, String)> {
                    h.inputs
                        .iter()
                        .map(|i| (i.bytes, i.xxh3_128.clone()))
                        .collect()
                };
                let paths = |h: &Header| -> Vec<String> {
                    h.inputs.iter().map(|i| i.path.clone()).collect::<Vec<_>>()
                };
                let why = if sums(&p.header) == sums(&first.header)
                    && paths(&p.header) != paths(&first.header)
                {
                    format!(
                        "it names the same inputs differently ({}, against {}; the names \
                         are part of the output)",
                        paths(&p.header).join(" "),
                        paths(&first.header).join(" ")
                    )
                } else if p.header.inputs != first.header.inputs {
                    "its inputs differ (other files, or the files changed between the runs)"
                        .to_string()
                } else if mine != theirs {
                    format!("its arguments differ ({mine}, against {theirs})")
                } else {
                    "the flags that change the numbers differ".to_string()
                };
                return Err(Error::data(
                    &name(&p.path),
                    format!("is a part of another run than {}: {why}", name(&first.path)),
                ));
            }
            if p.header.parts != n {
                return Err(Error::data(
                    &name(&p.path),
                    format!(
                        "is part {} of {}, but {} is part {} of {n}: give the parts of one \
                         split",
                        p.header.part,
                        p.header.parts,
                        name(&first.path),
                        first.header.part
                    ),
                ));
            }
        }
        parts.sort_by_key(|p| p.header.part);
        for w in parts.windows(2) {
            if w[0].header.part == w[1].header.part {
                return Err(Error::Usage(format!(
                    "part {} of {n} is given twice: {} and {}",
                    w[0].header.part,
                    name(&w[0].path),
                    name(&w[1].path)
                )));
            }
        }
        let missing: Vec<usize> = (1..=n)
            .filter(|k| parts.binary_search_by_key(k, |p| p.header.part).is_err())
            .collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().take(10).map(usize::to_string).collect();
            return Err(Error::Usage(format!(
                "{} of {n} parts missing: part{} {}{}; merge needs all {n}",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                list.join(", "),
                if missing.len() > 10 { ", ..." } else { "" }
            )));
        }
        Ok(PartSet { parts })
    }

    /// The header of part 1.
    pub fn header(&self) -> &Header {
        &self.parts[0].header
    }

    /// The arguments of `compute` the parts ran with.
    pub fn compute_args(&self) -> Result<ComputeArgs> {
        use clap::Parser;
        let h = self.header();
        let argv = ["infonce", "compute"]
            .into_iter()
            .map(str::to_string)
            .chain(h.args.iter().cloned());
        match crate::cli::Cli::try_parse_from(argv) {
            Ok(crate::cli::Cli {
                command: crate::cli::Command::Compute(a),
            }) => Ok(a),
            _ => Err(Error::data(
                &name(&self.parts[0].path),
                "holds arguments that do not parse as those of compute",
            )),
        }
    }

    /// Checks that `job` (built from the parts' arguments) reads the files
    /// the parts read, unchanged, and that its flags are theirs.
    pub fn check_inputs(&self, args: &ComputeArgs, job: &DataJob) -> Result<()> {
        for i in &self.header().inputs {
            if !Path::new(&i.path).exists() {
                return Err(Error::data(
                    &display_name(&i.path),
                    format!(
                        "no such file: the parts read {} as {} (a path relative to the folder \
                         they ran in); run merge there, or where the same path names the \
                         same file",
                        i.path, i.flag
                    ),
                ));
            }
        }
        let now = input_sums(job)?;
        for (was, is) in self.header().inputs.iter().zip(&now) {
            if was != is {
                return Err(Error::data(
                    &display_name(&is.path),
                    format!(
                        "is not the file the parts read as {} ({} bytes then, {} now{}): \
                         merge where the parts ran, with the files they read",
                        was.flag,
                        was.bytes,
                        is.bytes,
                        if was.bytes == is.bytes {
                            ", and other contents"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        if run_id(args, &now) != self.header().run {
            return Err(Error::data(
                &name(&self.parts[0].path),
                "does not match its own arguments and inputs",
            ));
        }
        Ok(())
    }

    /// The findings of the core at `taus` from the parts' sums. Checks
    /// that the parts hold the units the core's plan gives them.
    pub fn findings(&self, core: &Core<'_>, taus: &[f64]) -> Result<Findings> {
        let n = self.parts.len();
        let at: HashMap<Unit, (usize, (u64, u64))> = self
            .parts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.offsets.iter().map(move |&(u, o)| (u, (i, o))))
            .collect();
        let n_t = taus.len();
        let records = self.header().records;
        let mut above = vec![vec![0u64; records]; n_t];
        let files: Vec<String> = self.parts.iter().map(|p| name(&p.path)).collect();
        let mut readers: Vec<File> = Vec::with_capacity(n);
        for (p, file) in self.parts.iter().zip(&files) {
            let mut f = File::open(&p.path).map_err(|e| io_err(file, &e))?;
            let counts = n_t as u64 * records as u64 * 8;
            let buf = read_at(&mut f, p.counts_at, counts, file)?;
            let mut r = Cursor::new(&buf, file);
            for per_temp in &mut above {
                for (c, x) in per_temp.iter_mut().zip(r.u64s(records as u64)?) {
                    *c += x;
                }
            }
            readers.push(f);
        }
        let check = |plan: &Plan| {
            let wanted = plan.parts(n);
            for p in &self.parts {
                let want = &wanted[p.header.part - 1];
                let has: Vec<Unit> = p.offsets.iter().map(|&(u, _)| u).collect();
                let same_taus = p.header.taus.len() == taus.len()
                    && p.header
                        .taus
                        .iter()
                        .zip(taus)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                if *want != has || !same_taus {
                    return Err(Error::data(
                        &name(&p.path),
                        "does not hold the work its header says it does (written by another \
                         build of the program?)",
                    ));
                }
            }
            Ok(above)
        };
        core.sweep_from_parts(taus, check, |u| {
            let &(i, offset) = at.get(&u).expect("every unit of the plan is in a part");
            let file = &files[i];
            let (offset, len) = offset;
            let buf = read_at(&mut readers[i], offset, len, file)?;
            let mut r = Cursor::new(&buf, file);
            let rows = r.u64()?;
            let cols = r.u64()?;
            let rows = (0..n_t).map(|_| r.sums(rows)).collect::<Result<_>>()?;
            let cols = (0..n_t).map(|_| r.sums(cols)).collect::<Result<_>>()?;
            let mut uniformity = [0.0; GROUPS];
            for (s, x) in uniformity.iter_mut().zip(r.u64s(GROUPS as u64)?) {
                *s = f64::from_bits(x);
            }
            Ok(UnitOut {
                rows,
                cols,
                uniformity,
            })
        })
    }
}
