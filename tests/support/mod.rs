//! Shared by `errors.rs`, `edge_values.rs`, `hostile_input.rs`,
//! `output_safety.rs` and `shard.rs`: `.npy` files written byte by byte, and the binary run
//! in a folder of its own.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

/// A libtest-mimic trial of `$f` that runs everywhere (the test files
/// with their own harness).
#[allow(unused_macros)]
macro_rules! always {
    ($f:ident) => {
        Trial::test(stringify!($f), || {
            $f();
            Ok(())
        })
    };
}

/// A trial that runs only where `$need` finds what it needs, and is
/// reported as ignored, with the reason, elsewhere.
#[allow(unused_macros)]
macro_rules! needs {
    ($need:ident, $f:ident) => {
        Trial::ignorable_test(stringify!($f), || match $need() {
            Err(why) => Ok(Completion::ignored_with(why)),
            Ok(()) => {
                $f();
                Ok(Completion::Completed)
            }
        })
    };
}

/// A version 1.0 `.npy` file: magic, header dict padded with spaces to a
/// multiple of 64 bytes and ended by a newline, then `data` as given.
pub fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Row-major float64 rows as a little-endian `<f8` file.
pub fn f64_npy(rows: &[Vec<f64>]) -> Vec<u8> {
    let data: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    npy("<f8", false, &[rows.len(), rows[0].len()], &data)
}

/// Row-major rows as a little-endian `<f4` file.
pub fn f32_npy(rows: &[Vec<f32>]) -> Vec<u8> {
    let data: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    npy("<f4", false, &[rows.len(), rows[0].len()], &data)
}

/// Pairs as an `<i8` array of shape (P, 2).
pub fn pairs_npy(pairs: &[(i64, i64)]) -> Vec<u8> {
    let data: Vec<u8> = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .flat_map(|x| x.to_le_bytes())
        .collect();
    npy("<i8", false, &[pairs.len(), 2], &data)
}

/// Four 2-D rows that make a valid two-view file.
pub fn four_rows() -> Vec<Vec<f64>> {
    vec![
        vec![1.0, 0.5],
        vec![-0.5, 1.0],
        vec![0.8, 0.6],
        vec![0.1, -1.0],
    ]
}

/// The binary, run in `dir`.
pub fn infonce(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("infonce").expect("the binary builds");
    c.current_dir(dir);
    c
}

/// Runs `args` in `dir` and returns the output, whatever the status.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    infonce(dir).args(args).output().expect("the binary runs")
}

/// Runs `args` in `dir`, expects success and silence on stderr, and parses
/// the JSON report on stdout.
pub fn run_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = run(dir, &all);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{all:?}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}
