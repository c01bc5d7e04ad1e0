//! Hostile bytes into the readers: never a panic, never a large allocation
//! that the file does not justify, and every refusal one line naming the file.
//!
//! - `smoke_*`: a short, seeded stand-in for the fuzz targets in `fuzz/`
//!   (random bytes, mutated fixture files and generated `.npy` headers).
//! - `regression_*`: every input the fuzz targets found, kept as a test.
//! - `huge_*`: headers that claim more data than the file holds, shapes whose
//!   size overflows, and data that would need more memory than there is, run
//!   through the binary under a 1 GiB address-space limit.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command as Process;

use infonce::error::Error;
use infonce::input::index::parse_pairs;
use infonce::input::{csv, npy_embeddings};
use infonce::layout::Layout;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use support::{f64_npy, four_rows, npy};

/// An error must be one line that starts with one of `names`.
fn check_error(e: &Error, names: &[&str]) {
    let msg = e.to_string();
    assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg:?}");
    assert!(
        names.iter().any(|n| msg.starts_with(&format!("{n}: "))),
        "{msg:?} does not name {names:?}"
    );
}

fn read_npy(bytes: &[u8]) {
    match npy_embeddings("f.npy", &mut &bytes[..], bytes.len() as u64) {
        Ok(e) => {
            assert!(e.rows() > 0 && e.cols() > 0);
            if let Err(err) = e.check_finite() {
                check_error(&err, &["f.npy"]);
            }
            let _ = e.into_f64();
        }
        Err(e) => check_error(&e, &["f.npy"]),
    }
}

fn read_csv(bytes: &[u8], delimiter: Option<u8>) {
    match csv::read_embeddings("f.csv", delimiter, bytes) {
        Ok(e) => {
            assert!(e.rows() > 0 && e.cols() > 0);
            assert!(e.check_finite().is_ok());
        }
        Err(e) => check_error(&e, &["f.csv"]),
    }
}

fn read_pairs(bytes: &[u8], path: &str, rows: usize, symmetric: bool) {
    match parse_pairs(path, path, bytes) {
        Ok(p) => match Layout::pairs("e.npy", rows, &p, symmetric) {
            Ok(l) => {
                assert!(
                    l.records
                        .iter()
                        .all(|r| r.anchor < rows && r.positive < rows)
                );
                assert!(l.records.iter().all(|r| r.anchor != r.positive));
            }
            Err(e) => check_error(&e, &[path, "e.npy"]),
        },
        Err(e) => check_error(&e, &[path]),
    }
}

/// Every reader on the same bytes.
fn read_all(bytes: &[u8]) {
    read_npy(bytes);
    read_csv(bytes, None);
    read_csv(bytes, Some(b'\t'));
    for path in ["p.csv", "p.npy", "p"] {
        read_pairs(bytes, path, 40, true);
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    // With the files pandas and np.savetxt wrote (headers, index columns).
    let mut out: Vec<Vec<u8>> = fs::read_dir(&dir)
        .unwrap()
        .chain(fs::read_dir(dir.join("inputs")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "npy" || x == "csv" || x == "tsv" || x == "txt")
        })
        .map(|p| fs::read(p).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 5, "fixtures are missing");
    out
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Pieces of `.npy` headers, valid and not.
fn header_strategy() -> impl Strategy<Value = Vec<u8>> {
    let descr = prop::sample::select(vec![
        "<f2", "<f4", "<f8", ">f2", ">f4", ">f8", "=f8", "|f4", "<i8", "|u1", ">u8", "<c8", "|O",
        "<U3", "|b1", "f4", "<f", "<é4", "<f+4", "<f16", "",
    ]);
    let dim = prop_oneof![
        0usize..6,
        Just(usize::MAX),
        Just(1 << 31),
        Just(1 << 62),
        any::<usize>()
    ];
    let shape = prop::collection::vec(dim, 0..4);
    (
        descr,
        any::<bool>(),
        shape,
        prop::collection::vec(any::<u8>(), 0..200),
        0u8..4,
    )
        .prop_map(|(descr, fortran, shape, data, version)| {
            let mut b = npy(descr, fortran, &shape, &data);
            if version > 1 {
                // Versions 2 and 3 have a 4-byte header length.
                let len = u16::from_le_bytes([b[8], b[9]]) as u32;
                b[6] = version;
                b.splice(8..10, len.to_le_bytes());
            }
            b
        })
}

proptest! {
    #![proptest_config(config(1500, 0x1f0_2026))]

    #[test]
    fn smoke_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        read_all(&bytes);
        // And behind the magic, so that the header parser sees them.
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        read_npy(&b);
        read_pairs(&b, "p.npy", 40, false);
    }

    #[test]
    fn smoke_mutated_fixtures(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let all = fixtures();
        let mut b = pick.get(&all).clone();
        for (at, byte) in edits {
            let i = at.index(b.len());
            b[i] = byte;
        }
        if truncate {
            b.truncate(cut.index(b.len() + 1));
        }
        read_all(&b);
    }

    #[test]
    fn smoke_generated_headers(b in header_strategy()) {
        read_npy(&b);
        read_pairs(&b, "p.npy", 40, true);
    }
}

/// Runs the binary under a 1 GiB address-space limit, so that any allocation
/// of the size a header claims fails loudly instead of quietly succeeding.
fn run_limited(dir: &Path, args: &[&str], stdin: Option<&Path>) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("infonce");
    let mut script = String::from("ulimit -v 1048576 && exec \"$0\" \"$@\"");
    if let Some(f) = stdin {
        script.push_str(&format!(" < '{}'", f.display()));
    }
    Process::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

fn assert_refused(out: &std::process::Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr, format!("error: {want}\n"));
}

/// Headers that claim terabytes in a file of a few hundred bytes are refused
/// by comparing with the file's length, before anything is allocated.
#[test]
fn huge_claims_are_refused_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let claims: [(&str, &str, &[usize], &str); 5] = [
        (
            "e.npy",
            "<f4",
            &[1 << 40, 1 << 10],
            "e.npy: header shape [1099511627776, 1024] of float32 needs 4503599627370496 data bytes but the file holds 16",
        ),
        (
            "e.npy",
            ">f8",
            &[1 << 32, 1 << 32],
            "e.npy: header shape [4294967296, 4294967296] is too large to address",
        ),
        (
            "e.npy",
            "<f2",
            &[usize::MAX, 2],
            "e.npy: header shape [18446744073709551615, 2] is too large to address",
        ),
        (
            "p.npy",
            "<i8",
            &[1 << 40, 2],
            "p.npy: header shape [1099511627776, 2] of int64 needs 17592186044416 data bytes but the file holds 16",
        ),
        (
            "p.npy",
            "|u1",
            &[usize::MAX / 2 + 1, 2],
            "p.npy: header shape [9223372036854775808, 2] is too large to address",
        ),
    ];
    fs::write(dir.path().join("ok.npy"), f64_npy(&four_rows())).unwrap();
    for (name, descr, shape, want) in claims {
        fs::write(dir.path().join(name), npy(descr, false, shape, &[0; 16])).unwrap();
        let args: Vec<&str> = if name == "e.npy" {
            vec!["compute", "e.npy"]
        } else {
            vec!["compute", "ok.npy", "--pairs", "p.npy"]
        };
        assert_refused(&run_limited(dir.path(), &args, None), want);
        // The same bytes on standard input.
        if name == "e.npy" {
            let out = run_limited(dir.path(), &["compute", "-"], Some(&dir.path().join(name)));
            assert_refused(&out, &want.replacen("e.npy", "<stdin>", 1));
        }
        // And the in-process readers.
        let bytes = fs::read(dir.path().join(name)).unwrap();
        if name == "e.npy" {
            let e = npy_embeddings("e.npy", &mut &bytes[..], bytes.len() as u64)
                .err()
                .unwrap();
            assert_eq!(e.to_string(), want);
        } else {
            let e = parse_pairs("p.npy", "p.npy", &bytes).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
    }
}

/// A file that does hold what its header says, but more than memory allows:
/// a sparse 64 GiB big-endian float32 file (big-endian, so it is copied
/// rather than mapped) is refused with an error when the memory cannot be
/// reserved, not killed by an out-of-memory abort.
#[test]
fn huge_data_that_does_not_fit_in_memory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.npy");
    let (rows, cols) = (1usize << 24, 1usize << 10);
    let header = npy(">f4", false, &[rows, cols], &[]);
    fs::write(&path, &header).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    // A sparse file costs no disk; a file system without them fails here
    // rather than passing without having run.
    f.set_len((header.len() + rows * cols * 4) as u64)
        .expect("a sparse 64 GiB file in the temporary folder");
    drop(f);
    let out = run_limited(dir.path(), &["compute", "e.npy"], None);
    assert_refused(
        &out,
        "e.npy: holds 17179869184 values, which need 68719476736 bytes of memory; that much cannot be allocated",
    );
}

/// A CSV file has no header to lie about its size: what it holds is bounded
/// by its text. A long line of many columns is read, not refused.
#[test]
fn huge_csv_lines_are_read() {
    let mut text = String::new();
    for r in 0..4 {
        let row: Vec<String> = (0..20_000)
            .map(|c| ((r * 7 + c) % 13).to_string())
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let e = csv::read_embeddings("f.csv", None, text.as_bytes()).unwrap();
    assert_eq!((e.rows(), e.cols()), (4, 20_000));
}

// Inputs the fuzz targets found (see fuzz/README.md), and their neighbours.

/// fuzz npy_embeddings, crash-ebd0566c: a dtype string with newlines. The
/// message quoted it, so the error was more than one line. Control
/// characters in messages are now escaped.
#[test]
fn regression_npy_dtype_with_newlines() {
    let b: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a'<i8'\x0a\x0a\x0a\x0a184467448', \x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a'<i8'\x0a\x0a\x0a\x0a18446744073709551615\x0a'<f2'\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a, \x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\xb1\xff\xff\xff\x0a\x0a\x0a\x0a\x0a\x0a'fortran_order': \x5cru1'cPff\xbf\xa2\x92_ff";
    let e = npy_embeddings("f.npy", &mut &b[..], b.len() as u64)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "f.npy: unsupported dtype '<f\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n'"
    );
}

/// fuzz csv_embeddings, crash-e3f09771: a quoted cell holding a newline,
/// echoed in the message. A cell no longer spans lines: the quote is named.
#[test]
fn regression_csv_cell_with_newline() {
    let text = b"\"10,.0,0.0.9,0.1,00\n0\".9,,0.7\n";
    let e = csv::read_embeddings("f.csv", Some(b','), &text[..])
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "f.csv: line 1, column 1: the quote (\") that opens this cell is not closed on this line (a cell cannot span lines)"
    );
}

/// A cell holding Unicode's line separator (U+2028), as a file whose line
/// ends were rewritten by a JavaScript tool holds: quoted into the message,
/// it broke the line for editors and Python's `splitlines`. It is escaped
/// now, as are U+2029 and the control characters.
#[test]
fn regression_line_separator_in_a_cell() {
    for sep in ['\u{2028}', '\u{2029}', '\u{85}'] {
        let text = format!("1.0{sep}3.0,2.0\n0.5,0.25\n");
        let e = csv::read_embeddings("f.csv", Some(b','), text.as_bytes())
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains(sep), "{e:?}");
        assert!(e.starts_with("f.csv: line 1, column 1: '1.0\\u{"), "{e:?}");
    }
}

/// A Parquet file whose footer gives a column chunk a negative offset (made
/// by `scripts/hostile.py --only container --case 442 --seed 41`: pyarrow's
/// file with bytes flipped): the parquet crate asserts on it, and the run
/// ended in a panic (exit 101). The metadata is checked first now.
#[test]
fn regression_parquet_negative_column_offset() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs");
    for args in [
        &["compute", "damaged_offset.parquet:emb"][..],
        &["compute", "damaged_offset.parquet"][..],
        &["compute", "-"][..],
    ] {
        let mut cmd = Process::new(assert_cmd::cargo::cargo_bin("infonce"));
        cmd.args(args).current_dir(&dir);
        if args[1] == "-" {
            cmd.stdin(fs::File::open(dir.join("damaged_offset.parquet")).unwrap());
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(
                "is not a readable Parquet file: row group 3, column 'emb.list.element' has a \
                 negative offset or size (damaged metadata)"
            ),
            "{args:?}: {err}"
        );
    }
}

/// A Parquet file whose data page says dictionary encoding where the reader
/// has no dictionary (made by `scripts/hostile.py --only damaged --case 5372
/// --seed 62`: pyarrow's file with bytes flipped): the parquet crate panics
/// while decoding it, and the run ended in a panic (exit 101). A panic of
/// the Parquet reader is the file's error now, one line, and prints nothing
/// else.
#[test]
fn regression_parquet_dictionary_page_missing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/inputs");
    for args in [
        &["compute", "damaged_dictionary.parquet:emb"][..],
        &["compute", "damaged_dictionary.parquet", "--terms"][..],
        &["compute", "-"][..],
    ] {
        let mut cmd = Process::new(assert_cmd::cargo::cargo_bin("infonce"));
        cmd.args(args).current_dir(&dir);
        if args[1] == "-" {
            cmd.stdin(fs::File::open(dir.join("damaged_dictionary.parquet")).unwrap());
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("is not a readable Parquet file: its data is damaged (the reader stopped: 'Decoder for dict should ...')"),
            "{args:?}: {err}"
        );
    }
}

/// A dtype whose second byte starts a multi-byte character: slicing the
/// string at byte 2 panicked.
#[test]
fn regression_dtype_with_multibyte_character() {
    for descr in ["<é4", "<\u{1F600}", "|ü1"] {
        let b = npy(descr, false, &[2, 2], &[0; 16]);
        let e = npy_embeddings("f.npy", &mut &b[..], b.len() as u64)
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("f.npy: unsupported dtype '"),
            "{e}"
        );
    }
}
