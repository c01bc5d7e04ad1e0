//! Shared by the integration tests: the naive float64 reference of the loss
//! (`reference.rs`), the seeded generator (`rng.rs`) and small builders for
//! in-memory inputs.
#![allow(dead_code)]

mod reference;
mod rng;

#[allow(unused_imports)]
pub use reference::{
    Expected, LabelAnchor, RefNegatives, RefTerm, check_terms, labels_reference,
    labels_reference_with, record, record_where, reference, reference_with, similarity,
};
#[allow(unused_imports)]
pub use rng::{Rng, Rows};

use infonce::input::index::{IndexPair, Pairs};
use infonce::input::{Embeddings, Matrix, Values};

pub fn embeddings_f64(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float64".into(),
        values: Values::F64(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

pub fn embeddings_f32(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<f32> = rows.iter().flatten().map(|&x| x as f32).collect();
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float32".into(),
        values: Values::F32(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

/// float16 embeddings; every value must be exact in float16.
pub fn embeddings_f16(rows: &Rows) -> Embeddings {
    let d = rows[0].len();
    let flat: Vec<half::f16> = rows
        .iter()
        .flatten()
        .map(|&x| half::f16::from_f64(x))
        .collect();
    assert!(
        flat.iter()
            .zip(rows.iter().flatten())
            .all(|(h, &x)| f64::from(*h) == x)
    );
    Embeddings {
        name: "mem.npy".into(),
        source_dtype: "float16".into(),
        values: Values::F16(Matrix::from_rows(rows.len(), d, flat)),
        first_line: None,
    }
}

/// Pairs over `r` rows in which anchors repeat (several positives each):
/// every third pair reuses the anchor of the one before.
pub fn pairs(rng: &mut Rng, r: usize, p: usize) -> Pairs {
    let list = (0..p)
        .map(|k| {
            let a = if k % 3 == 2 {
                (k - 1) % r
            } else {
                rng.below(r)
            };
            let b = (a + 1 + rng.below(r - 1)) % r;
            IndexPair {
                a: a as i64,
                b: b as i64,
            }
        })
        .collect();
    Pairs::from_pairs("p.csv", list)
}
