//! The whole computation on an arbitrary `.npy` file: load, check, lay out
//! (two-view), compute. Whatever the file holds, a run either refuses it with
//! one line naming it, or reports finite figures that agree with a naive
//! float64 computation of the loss.
//!
//! Input: byte 0 picks the similarity (bit 0: dot) and tau (bits 1-2: 1e-4,
//! 0.1, 1, 1e4); the rest is the file.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;

use infonce::input::{Values, npy_embeddings};
use infonce::job::DataJob;
use infonce::run::compute_report;
use infonce::loss::{DEFAULT_BLOCK, Settings, Similarity};
use libfuzzer_sys::fuzz_target;

fn rows_of(bytes: &[u8]) -> Option<Vec<Vec<f64>>> {
    let e = npy_embeddings("f.npy", &mut &bytes[..], bytes.len() as u64).ok()?;
    let Values::F64(m) = e.into_f64().values else {
        unreachable!()
    };
    Some(m.view().rows().into_iter().map(|r| r.to_vec()).collect())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let cosine = pick & 1 == 0;
    let tau = [1e-4, 0.1, 1.0, 1e4][((pick >> 1) & 3) as usize];
    let mut file = tempfile::Builder::new().suffix(".npy").tempfile().unwrap();
    file.write_all(bytes).unwrap();
    let path = file.path().to_string_lossy().into_owned();
    let job = DataJob {
        input: path.clone(),
        second_view: None,
        pairs: None,
        keys: None,
        symmetric: false,
        settings: Settings {
            tau,
            similarity: if cosine {
                Similarity::Cosine
            } else {
                Similarity::Dot
            },
            block: DEFAULT_BLOCK,
            portable: false,
        },
        taus: Vec::new(),
        force_f64: true,
        threads: Some(1),
        columns: None,
        objective: Default::default(),
        labels: None,
        multi_positive: infonce::layout::MultiPositive::Supcon,
    };
    let report = match compute_report(&job) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            // A data error names the file; a usage error (tau too small for
            // cosine logits) names the flag. Neither carries "error: ",
            // which the binary prints once.
            let usage = matches!(e, infonce::error::Error::Usage(_));
            assert!(
                msg.starts_with(&format!("{path}: ")) || (usage && msg.starts_with("--tau ")),
                "{msg}"
            );
            assert!(!msg.contains('\n'), "{msg:?}");
            return;
        }
    };
    let rows = rows_of(bytes).expect("a file the job accepts decodes");
    let d = rows[0].len() as f64;
    assert!(report.summary.loss.is_finite());
    for r in &report.records {
        for (what, x) in [
            ("sim", r.sim),
            ("logit", r.logit),
            ("log_denominator", r.log_denominator),
            ("loss", r.loss),
            ("p_positive", r.p_positive),
        ] {
            assert!(x.is_finite(), "anchor {}: {what} = {x}", r.anchor);
        }
        assert!(r.loss >= 0.0 && (0.0..=1.0).contains(&r.p_positive));
        // Rank 1 up to the number of candidates, rows - 1.
        assert!(r.rank >= 1 && (r.rank as usize) < rows.len());
        let s = if cosine {
            Similarity::Cosine
        } else {
            Similarity::Dot
        };
        let w = common::record(&rows[r.anchor], &rows, Some(r.anchor), r.positive, s, tau);
        let (want, scale) = (w.loss, w.scale);
        let allowed = 16.0 * (d + 2.0) * f64::EPSILON * scale.max(1.0) + 1e-12 * want;
        assert!(
            (r.loss - want).abs() <= allowed,
            "anchor {}: loss {} vs naive {want} (allowed {allowed:e})",
            r.anchor,
            r.loss
        );
    }
});
