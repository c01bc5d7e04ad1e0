//! The pairs reader (`.npy` or CSV/TSV) on arbitrary bytes, followed by the
//! layout's checks against an embedding file of a fuzzed row count.
//!
//! Input: byte 0 is the row count of the embedding file (0 to 255); byte 1
//! picks `--symmetric` (bit 0) and the file name (bits 1 and 2: `.csv`,
//! `.tsv`, no extension, `.npy`); the rest is the file. An accepted layout
//! only holds in-range, distinct anchor/positive rows; every refusal is one
//! line that names the file at fault.

#![no_main]

use infonce::input::index::parse_pairs;
use infonce::layout::Layout;
use libfuzzer_sys::fuzz_target;

fn check_message(msg: &str, names: &[&str]) {
    assert!(
        names.iter().any(|n| msg.starts_with(&format!("{n}: "))),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg:?}");
}

fuzz_target!(|data: &[u8]| {
    let [rows, flags, bytes @ ..] = data else {
        return;
    };
    let rows = *rows as usize;
    let symmetric = flags & 1 == 1;
    let path = ["p.csv", "p.tsv", "p", "p.npy"][((flags >> 1) & 3) as usize];
    let pairs = match parse_pairs(path, path, bytes) {
        Ok(p) => p,
        Err(e) => return check_message(&e.to_string(), &[path]),
    };
    assert_eq!(pairs.name, path);
    match Layout::pairs("e.npy", rows, &pairs, symmetric) {
        Err(e) => check_message(&e.to_string(), &[path, "e.npy"]),
        Ok(layout) => {
            let n = pairs.pairs.len();
            assert!(n > 0);
            assert_eq!(layout.records.len(), if symmetric { 2 * n } else { n });
            assert_eq!((layout.n_first, layout.n_second), (rows, rows));
            for (k, r) in layout.records.iter().enumerate() {
                assert!(r.anchor < rows && r.positive < rows);
                assert_ne!(r.anchor, r.positive);
                let p = pairs.pairs[k % n];
                let (a, b) = if k < n { (p.a, p.b) } else { (p.b, p.a) };
                assert_eq!((r.anchor as i64, r.positive as i64), (a, b));
            }
        }
    }
});
