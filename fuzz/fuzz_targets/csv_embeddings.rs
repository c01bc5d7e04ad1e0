//! The CSV/TSV embedding reader on arbitrary bytes. The first byte picks the
//! delimiter the path would give (none: sniffed, comma, tab); the rest is the
//! file. An accepted file is a non-empty matrix of finite values; a refusal
//! is one line that names the file.

#![no_main]

use infonce::input::{Values, csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let delimiter = match pick % 3 {
        0 => None,
        1 => Some(b','),
        _ => Some(b'\t'),
    };
    match csv::read_embeddings("f.csv", delimiter, text) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("f.csv: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
        Ok(emb) => {
            assert!(emb.rows() > 0 && emb.cols() > 0);
            let Values::F64(m) = &emb.values else {
                panic!("CSV gave float32")
            };
            assert_eq!(m.view().dim(), (emb.rows(), emb.cols()));
            assert!(m.view().iter().all(|x| x.is_finite()));
            assert!(emb.check_finite().is_ok());
            // Rows on consecutive lines are named by line: at least one line
            // per row before the last one. (Otherwise they are named as rows.)
            if let Some(first) = emb.first_line {
                assert!(first >= 1);
                let lines = text.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
                assert!(
                    first + emb.rows() - 1 <= lines,
                    "{first} + {} rows > {lines} lines",
                    emb.rows()
                );
            }
        }
    }
});
