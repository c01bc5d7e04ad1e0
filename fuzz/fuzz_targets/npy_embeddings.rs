//! The `.npy` embedding reader on arbitrary bytes: header and data.
//!
//! Beyond "returns Ok or Err, never panics", an accepted file must decode to
//! exactly the values an independent reading of its bytes gives, and a
//! refusal must be one line that names the file.

#![no_main]

use infonce::input::{Values, npy, npy_embeddings};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "f.npy";

/// Element (r, c) read straight from the bytes, widened to float64.
fn independent(bytes: &[u8], h: &npy::Header, rows: usize, cols: usize, r: usize, c: usize) -> f64 {
    let k = if h.fortran_order {
        c * rows + r
    } else {
        r * cols + c
    };
    let size = h.dtype.size;
    let mut b = bytes[h.data_offset + k * size..h.data_offset + (k + 1) * size].to_vec();
    if h.dtype.big_endian {
        b.reverse();
    }
    match size {
        2 => half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f64(),
        4 => f32::from_le_bytes(b.try_into().unwrap()) as f64,
        8 => f64::from_le_bytes(b.try_into().unwrap()),
        _ => unreachable!(),
    }
}

fn same(x: f64, y: f64) -> bool {
    x == y || (x.is_nan() && y.is_nan())
}

fuzz_target!(|data: &[u8]| {
    match npy_embeddings(NAME, &mut &data[..], data.len() as u64) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("f.npy: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
            assert_eq!(e.exit_code(), 1);
        }
        Ok(emb) => {
            let h = npy::read_header(NAME, &mut &data[..]).expect("accepted file has a header");
            assert_eq!(h.shape, vec![emb.rows(), emb.cols()]);
            assert!(emb.rows() > 0 && emb.cols() > 0);
            assert_eq!(h.data_offset + h.data_len(NAME).unwrap(), data.len());
            let (rows, cols) = (emb.rows(), emb.cols());
            let got = |r: usize, c: usize| -> f64 {
                match &emb.values {
                    Values::F16(m) => f64::from(m.view()[[r, c]]),
                    Values::F32(m) => m.view()[[r, c]] as f64,
                    Values::F64(m) => m.view()[[r, c]],
                }
            };
            for r in 0..rows {
                for c in 0..cols {
                    let want = independent(data, &h, rows, cols, r, c);
                    assert!(same(got(r, c), want), "({r}, {c}): {} vs {want}", got(r, c));
                }
            }
            let finite = emb.check_finite();
            let all_finite = (0..rows).all(|r| (0..cols).all(|c| got(r, c).is_finite()));
            assert_eq!(finite.is_ok(), all_finite);
            if let Err(e) = finite {
                assert!(!e.to_string().contains('\n'));
            }
            let wide = emb.into_f64();
            let Values::F64(m) = &wide.values else {
                panic!("into_f64 gave float32")
            };
            for r in 0..rows {
                for c in 0..cols {
                    let want = independent(data, &h, rows, cols, r, c);
                    assert!(same(m.view()[[r, c]], want));
                }
            }
        }
    }
});
