//! Container formats (`.npz`, `.safetensors`, Parquet) and the formats infonce
//! recognises but does not read, over the files in `fixtures/inputs/`.
//!
//! Those files were written by numpy, safetensors, pyarrow, h5py, pickle and
//! zipfile (`fixtures/make_container_inputs.py`), each holding the matrix of
//! an existing fixture, checked bit for bit by the script. So:
//! - the report of each container must match the expected report of that
//!   fixture in `fixtures/expected/` (computed independently with numpy), to
//!   the tolerances of `tests/golden.rs`;
//! - and must be byte for byte the report of the `.npy` fixture itself, since
//!   the values are the same.
//!
//! The bfloat16 file holds other values (float32 rounded to bfloat16); its
//! expected report was computed by the same numpy reference and lies beside it.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::infonce;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    infonce(root())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn run_stdin(args: &[&str], stdin: Vec<u8>) -> Output {
    infonce(root())
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("the binary runs")
}

/// Runs `compute ARGS --format json` and returns stdout; fails on an error.
fn report(args: &[&str]) -> Vec<u8> {
    let mut all = vec!["compute"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = run(&all);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{all:?}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn expected(path: &str) -> Value {
    let text = fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("`{k}` is not a number in {v}"))
}

/// Compares a report with an expected file: records in order, anchor,
/// positive and rank exactly, sims to `sim_tol`, log-space values and losses
/// to `log_tol` (each absolute plus the same relative part); returns the
/// mismatches.
fn compare(got: &Value, want: &Value, sim_tol: f64, log_tol: f64) -> Vec<String> {
    let mut bad = Vec::new();
    let close = |g: f64, w: f64, tol: f64| (g - w).abs() <= tol * (1.0 + w.abs());
    if !close(num(got, "loss"), num(want, "loss"), log_tol) {
        bad.push(format!("loss {} vs {}", got["loss"], want["loss"]));
    }
    let (g, w) = (
        got["anchors"].as_array().unwrap(),
        want["anchors"].as_array().unwrap(),
    );
    if g.len() != w.len() {
        bad.push(format!("{} records, want {}", g.len(), w.len()));
        return bad;
    }
    for (k, (g, w)) in g.iter().zip(w).enumerate() {
        for f in ["anchor", "positive", "rank"] {
            if g[f] != w[f] {
                bad.push(format!("record {k}: {f} {} vs {}", g[f], w[f]));
            }
        }
        if !close(num(g, "sim"), num(w, "sim"), sim_tol) {
            bad.push(format!("record {k}: sim {} vs {}", g["sim"], w["sim"]));
        }
        for f in ["logit", "log_numerator", "log_denominator", "loss"] {
            if !close(num(g, f), num(w, f), log_tol) {
                bad.push(format!("record {k}: {f} {} vs {}", g[f], w[f]));
            }
        }
    }
    bad
}

/// Tolerances of tests/golden.rs: float32 products get 1e-5 on sims and
/// 1e-5 / tau on log-space values; float64 products 1e-12.
fn tolerances(f32_products: bool, tau: f64) -> (f64, f64) {
    if f32_products {
        (1e-5, 1e-5 / tau)
    } else {
        (1e-12, 1e-12)
    }
}

/// A container run, the `.npy` run with the same values, and the expected
/// file of that `.npy` fixture.
struct Same {
    container: &'static [&'static str],
    npy: &'static [&'static str],
    expected: &'static str,
}

const SAME: &[Same] = &[
    // .npz: one unnamed array (arr_0), one named, float16 compressed,
    // Fortran order, and several arrays named on the command line.
    Same {
        container: &["fixtures/inputs/seed.npz"],
        npy: &["fixtures/seed.npy"],
        expected: "fixtures/expected/seed_npy.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f32.npz:embeddings"],
        npy: &["fixtures/twoview_f32.npy"],
        expected: "fixtures/expected/twoview_f32.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f16_compressed.npz"],
        npy: &["fixtures/twoview_f16.npy"],
        expected: "fixtures/expected/twoview_f16.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f64_fortran.npz", "--tau", "0.2"],
        npy: &["fixtures/twoview_f64_fortran.npy", "--tau", "0.2"],
        expected: "fixtures/expected/twoview_f64_fortran.json",
    },
    Same {
        container: &[
            "fixtures/inputs/queries_keys.npz:queries",
            "--keys",
            "fixtures/inputs/queries_keys.npz:keys",
            "--tau",
            "0.07",
        ],
        npy: &[
            "fixtures/queries.npy",
            "--keys",
            "fixtures/keys.npy",
            "--tau",
            "0.07",
        ],
        expected: "fixtures/expected/keys.json",
    },
    Same {
        container: &[
            "fixtures/inputs/pairs.npz:embeddings",
            "--pairs",
            "fixtures/inputs/pairs.npz:pairs",
            "--symmetric",
        ],
        npy: &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/pairs.npy",
            "--symmetric",
        ],
        expected: "fixtures/expected/pairs_npy_symmetric.json",
    },
    // .safetensors: F64, F32, F16, and several tensors.
    Same {
        container: &["fixtures/inputs/seed.safetensors"],
        npy: &["fixtures/seed.npy"],
        expected: "fixtures/expected/seed_npy.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f32.safetensors:embeddings"],
        npy: &["fixtures/twoview_f32.npy"],
        expected: "fixtures/expected/twoview_f32.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f16.safetensors"],
        npy: &["fixtures/twoview_f16.npy"],
        expected: "fixtures/expected/twoview_f16.json",
    },
    Same {
        container: &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs.safetensors",
        ],
        npy: &["fixtures/pairs_emb.npy", "--pairs", "fixtures/pairs.csv"],
        expected: "fixtures/expected/pairs_csv.json",
    },
    // Row numbers stored as floats, every one a whole number.
    Same {
        container: &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs_float.safetensors",
        ],
        npy: &["fixtures/pairs_emb.npy", "--pairs", "fixtures/pairs.csv"],
        expected: "fixtures/expected/pairs_csv.json",
    },
    Same {
        container: &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs_float.parquet:anchor,positive",
        ],
        npy: &["fixtures/pairs_emb.npy", "--pairs", "fixtures/pairs.csv"],
        expected: "fixtures/expected/pairs_csv.json",
    },
    Same {
        container: &[
            "fixtures/inputs/queries_keys.safetensors:queries",
            "--keys",
            "fixtures/inputs/queries_keys.safetensors:keys",
            "--tau",
            "0.07",
            "--symmetric",
        ],
        npy: &[
            "fixtures/queries.npy",
            "--keys",
            "fixtures/keys.npy",
            "--tau",
            "0.07",
            "--symmetric",
        ],
        expected: "fixtures/expected/keys_symmetric.json",
    },
    // Parquet: list (snappy), fixed-size list (zstd), float16 (gzip), large
    // list (uncompressed), two embedding columns of one file, pairs from
    // integer columns.
    Same {
        container: &["fixtures/inputs/twoview_f32_list.parquet"],
        npy: &["fixtures/twoview_f32.npy"],
        expected: "fixtures/expected/twoview_f32.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f32_fixed.parquet:vector"],
        npy: &["fixtures/twoview_f32.npy"],
        expected: "fixtures/expected/twoview_f32.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f32_row_groups.parquet"],
        npy: &["fixtures/twoview_f32.npy"],
        expected: "fixtures/expected/twoview_f32.json",
    },
    Same {
        container: &["fixtures/inputs/twoview_f16_list.parquet"],
        npy: &["fixtures/twoview_f16.npy"],
        expected: "fixtures/expected/twoview_f16.json",
    },
    Same {
        container: &["fixtures/inputs/seed_large_list.parquet:emb"],
        npy: &["fixtures/seed.npy"],
        expected: "fixtures/expected/seed_npy.json",
    },
    Same {
        container: &[
            "fixtures/inputs/queries_keys.parquet:query",
            "--keys",
            "fixtures/inputs/queries_keys.parquet:key",
            "--tau",
            "0.07",
        ],
        npy: &[
            "fixtures/queries.npy",
            "--keys",
            "fixtures/keys.npy",
            "--tau",
            "0.07",
        ],
        expected: "fixtures/expected/keys.json",
    },
    Same {
        container: &[
            "fixtures/inputs/pairs_emb.parquet",
            "--pairs",
            "fixtures/inputs/pairs.parquet:anchor,positive",
            "--symmetric",
        ],
        npy: &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/pairs.npy",
            "--symmetric",
        ],
        expected: "fixtures/expected/pairs_npy_symmetric.json",
    },
];

#[test]
fn containers_give_the_numbers_of_the_same_matrix() {
    let mut failures = Vec::new();
    for case in SAME {
        let want = expected(case.expected);
        let args: Vec<&str> = want["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // The expected file's flags, less its file arguments, must be the
        // ones this case passes: the case checks what the file checks.
        let tau: f64 = args[args.iter().position(|a| *a == "--tau").unwrap() + 1]
            .parse()
            .unwrap();
        let symmetric = args.contains(&"--symmetric");
        assert_eq!(
            symmetric,
            case.npy.contains(&"--symmetric"),
            "{}",
            case.expected
        );
        assert_eq!(want["input"].as_str().unwrap(), case.npy[0]);
        let f32_products = matches!(want["input_dtype"].as_str(), Some("float32" | "float16"));
        let mut extra = vec![];
        if !case.container.contains(&"--tau") {
            extra.extend([
                "--tau",
                args[args.iter().position(|a| *a == "--tau").unwrap() + 1],
            ]);
        }
        for force_f64 in [false, true] {
            let mut c: Vec<&str> = case.container.to_vec();
            let mut n: Vec<&str> = case.npy.to_vec();
            c.extend(&extra);
            n.extend(&extra);
            if force_f64 {
                c.extend(["--precision", "f64"]);
                n.extend(["--precision", "f64"]);
            }
            let got = report(&c);
            if got != report(&n) {
                failures.push(format!("{c:?}: report differs from that of {n:?}"));
            }
            let got: Value = serde_json::from_slice(&got).unwrap();
            let (s, l) = tolerances(f32_products && !force_f64, tau);
            for m in compare(&got, &want, s, l) {
                failures.push(format!("{c:?} against {}: {m}", case.expected));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bfloat16_safetensors_match_the_numpy_reference() {
    let want = expected("fixtures/inputs/twoview_bf16.expected.json");
    let file = want["input"].as_str().unwrap();
    for (precision, f32_products) in [("auto", true), ("f64", false)] {
        let got: Value =
            serde_json::from_slice(&report(&[file, "--tau", "0.1", "--precision", precision]))
                .unwrap();
        assert_eq!(got["input_dtype"], "bfloat16");
        let (s, l) = tolerances(f32_products, 0.1);
        let bad = compare(&got, &want, s, l);
        assert!(bad.is_empty(), "{precision}: {}", bad.join("\n"));
    }
}

/// A pipe or FIFO named as a file (`<(cat x.npz)` in bash) reads like
/// standard input: neither opened again nor seeked.
#[test]
fn containers_through_a_fifo_read_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let keys: &[&str] = &["--keys", "fixtures/queries.npy"];
    for (file, name, npy, more) in [
        ("seed.npz", "", "fixtures/seed.npy", &[][..]),
        ("seed.safetensors", "", "fixtures/seed.npy", &[]),
        ("seed_large_list.parquet", "", "fixtures/seed.npy", &[]),
        ("queries_keys.npz", ":keys", "fixtures/keys.npy", keys),
    ] {
        let fifo = dir.path().join(format!("fifo-{file}"));
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo");
        let bytes = fs::read(root().join("fixtures/inputs").join(file)).unwrap();
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            // The reader may refuse early and close its end: not an error here.
            let mut f = fs::OpenOptions::new().write(true).open(&path).unwrap();
            let _ = f.write_all(&bytes);
        });
        let fifo_arg = format!("{}{name}", fifo.to_string_lossy());
        // A reader that opened the FIFO twice would wait for a writer
        // forever: a time limit makes that a failure.
        let out = infonce(root())
            .args(["compute", &fifo_arg, "--format", "json"])
            .args(more)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        writer.join().unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = report(&[&[npy][..], more].concat());
        assert_eq!(out.stdout, want, "{file}{name} through a FIFO");
    }
}

#[test]
fn a_named_array_of_standard_input_needs_no_double_dash() {
    let npz = || fs::read(root().join("fixtures/inputs/queries_keys.npz")).unwrap();
    let want = report(&["fixtures/queries.npy", "--keys", "fixtures/keys.npy"]);
    let forms: [&[&str]; 4] = [
        // `-:NAME` as EMB, before and after the flags.
        &[
            "compute",
            "-:queries",
            "--keys",
            "fixtures/keys.npy",
            "--format",
            "json",
        ],
        &[
            "compute",
            "--format",
            "json",
            "--keys",
            "fixtures/keys.npy",
            "-:queries",
        ],
        // As an option's value, with a space.
        &[
            "compute",
            "fixtures/queries.npy",
            "--keys",
            "-:keys",
            "--format",
            "json",
        ],
        // After `--`, as before.
        &[
            "compute",
            "--keys",
            "fixtures/keys.npy",
            "--format",
            "json",
            "--",
            "-:queries",
        ],
    ];
    for args in forms {
        let out = run_stdin(args, npz());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, want, "{args:?}");
    }
    // The order of files is kept: `-:NAME` as VIEW2 is the second views.
    let want = report(&["fixtures/queries.npy", "fixtures/keys.npy"]);
    let out = run_stdin(
        &[
            "compute",
            "fixtures/queries.npy",
            "-:keys",
            "--format",
            "json",
        ],
        npz(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want);
    let out = run_stdin(
        &[
            "compute",
            "-:queries",
            "fixtures/keys.npy",
            "--format",
            "json",
        ],
        npz(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want);
    // A flag clap does not know is still refused as one.
    let out = run_stdin(&["compute", "-:queries", "--no-such-flag"], npz());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--no-such-flag'"));
}

#[test]
fn standard_input_is_sniffed_for_every_container() {
    for (file, npy) in [
        ("seed.npz", "fixtures/seed.npy"),
        ("seed.safetensors", "fixtures/seed.npy"),
        ("seed_large_list.parquet", "fixtures/seed.npy"),
        ("twoview_f16_compressed.npz", "fixtures/twoview_f16.npy"),
    ] {
        let bytes = fs::read(root().join("fixtures/inputs").join(file)).unwrap();
        let out = run_stdin(&["compute", "-", "--format", "json"], bytes);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, report(&[npy]), "{file} on standard input");
    }
    // A name after `-:`, and keys from standard input.
    let npz = fs::read(root().join("fixtures/inputs/queries_keys.npz")).unwrap();
    let want = report(&["fixtures/queries.npy", "--keys", "fixtures/keys.npy"]);
    let out = run_stdin(
        &[
            "compute",
            "fixtures/inputs/queries_keys.npz:queries",
            "--keys=-:keys",
            "--format",
            "json",
        ],
        npz,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want);
    // Both from standard input: refused as for `-`.
    let npz = fs::read(root().join("fixtures/inputs/queries_keys.npz")).unwrap();
    let out = run_stdin(&["compute", "--keys=-:keys", "--", "-:queries"], npz);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: only one of EMB and --keys can be standard input\n"
    );
    // Pairs from standard input.
    let pq = fs::read(root().join("fixtures/inputs/pairs.parquet")).unwrap();
    let out = run_stdin(
        &[
            "compute",
            "fixtures/pairs_emb.npy",
            "--pairs",
            "-",
            "--format",
            "json",
        ],
        pq,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        report(&["fixtures/pairs_emb.npy", "--pairs", "fixtures/pairs.npy"])
    );
}

#[test]
fn a_colon_in_a_path_is_never_split_off() {
    let dir = tempfile::tempdir().unwrap();
    let npz = root().join("fixtures/inputs/seed.npz");
    fs::copy(&npz, dir.path().join("run:1.npz")).unwrap();
    fs::copy(&npz, dir.path().join("seed.npz:arr_0")).unwrap();
    fs::copy(
        root().join("fixtures/seed.npy"),
        dir.path().join("seed.npy"),
    )
    .unwrap();
    let want = support::run(dir.path(), &["compute", "seed.npy", "--format", "json"]).stdout;
    for arg in ["run:1.npz", "run:1.npz:arr_0", "seed.npz:arr_0"] {
        let out = support::run(dir.path(), &["compute", arg, "--format", "json"]);
        assert!(
            out.status.success(),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, want, "{arg}");
    }
}

/// `compute ARGS` (from the repository root, optionally with standard
/// input) must fail with exit 1, nothing on stdout, and exactly this line.
struct Refusal {
    args: &'static [&'static str],
    stdin: Option<&'static str>,
    want: &'static str,
}

const fn r(args: &'static [&'static str], want: &'static str) -> Refusal {
    Refusal {
        args,
        stdin: None,
        want,
    }
}

const REFUSALS: &[Refusal] = &[
    // Names.
    r(
        &["fixtures/inputs/queries_keys.npz"],
        "fixtures/inputs/queries_keys.npz: holds 2 arrays: queries (25, 12) float32, keys (25, 12) float32; name one, as in fixtures/inputs/queries_keys.npz:queries",
    ),
    r(
        &["fixtures/inputs/queries_keys.npz:query"],
        "fixtures/inputs/queries_keys.npz: has no array 'query'; it holds queries (25, 12) float32, keys (25, 12) float32",
    ),
    r(
        &["fixtures/inputs/queries_keys.safetensors"],
        "fixtures/inputs/queries_keys.safetensors: holds 3 tensors: keys [25, 12] F32, queries [25, 12] F32, temperature [1] F32; name one, as in fixtures/inputs/queries_keys.safetensors:keys",
    ),
    r(
        &["fixtures/inputs/queries_keys.safetensors:key"],
        "fixtures/inputs/queries_keys.safetensors: has no tensor 'key'; it holds keys [25, 12] F32, queries [25, 12] F32, temperature [1] F32",
    ),
    r(
        &["fixtures/inputs/pairs.safetensors"],
        "fixtures/inputs/pairs.safetensors: embeddings must be F16, BF16, F32 or F64, not I32 (in PyTorch: t.float() before saving)",
    ),
    r(
        &["fixtures/inputs/no_rows.safetensors"],
        "fixtures/inputs/no_rows.safetensors: embeddings have shape [0, 3]: no values",
    ),
    r(
        &["fixtures/inputs/empty_list.parquet"],
        "fixtures/inputs/empty_list.parquet: row 0 is an empty list",
    ),
    r(
        &["fixtures/inputs/queries_keys.safetensors:temperature"],
        "fixtures/inputs/queries_keys.safetensors:temperature: embeddings must be a 2-D tensor (rows, dimension), not shape [1]",
    ),
    r(
        &["fixtures/inputs/queries_keys.parquet"],
        "fixtures/inputs/queries_keys.parquet: holds 2 list columns: query list<float32>, key fixed_size_list<float32>[12]; name one, as in fixtures/inputs/queries_keys.parquet:query",
    ),
    r(
        &["fixtures/inputs/queries_keys.parquet:queries"],
        "fixtures/inputs/queries_keys.parquet: has no column 'queries'; it holds query list<float32>, key fixed_size_list<float32>[12], caption_id int64",
    ),
    r(
        &["fixtures/inputs/queries_keys.parquet:caption_id"],
        "fixtures/inputs/queries_keys.parquet:caption_id: column 'caption_id' is int64, not a list; embeddings are one list of floats per row",
    ),
    r(
        &["fixtures/inputs/no_list.parquet"],
        "fixtures/inputs/no_list.parquet: has no list column to read embeddings from (it holds x float64, label string); embeddings are one list of floats per row",
    ),
    r(
        &["fixtures/seed.npy:emb"],
        "fixtures/seed.npy: a .npy file holds one array, so ':emb' names nothing in it (names pick arrays in .npz, .safetensors and Parquet files)",
    ),
    r(
        &["fixtures/seed.csv:0"],
        "fixtures/seed.csv: a text file holds one array, so ':0' names nothing in it (names pick arrays in .npz, .safetensors and Parquet files)",
    ),
    r(
        &["fixtures/inputs/seed.npz:"],
        "fixtures/inputs/seed.npz: nothing follows ':'; give the name of an array or column after it",
    ),
    // Parquet rows.
    r(
        &["fixtures/inputs/ragged.parquet"],
        "fixtures/inputs/ragged.parquet: row 3 has 3 values but row 0 has 2 (every embedding needs the same dimension)",
    ),
    r(
        &["fixtures/inputs/null_row.parquet"],
        "fixtures/inputs/null_row.parquet: row 2 is null (every row needs an embedding)",
    ),
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs_fraction.parquet",
        ],
        "fixtures/inputs/pairs_fraction.parquet: row 1, positive index 2.5 is not a whole number (pairs are row numbers: save them as integers, e.g. astype(int))",
    ),
    r(
        &["fixtures/inputs/late_null.parquet"],
        "fixtures/inputs/late_null.parquet: row 2500 is null (every row needs an embedding)",
    ),
    r(
        &["fixtures/inputs/null_value.parquet:emb"],
        "fixtures/inputs/null_value.parquet:emb: row 3, element 1 is null",
    ),
    r(
        &["fixtures/inputs/pairs.npz:pairs"],
        "fixtures/inputs/pairs.npz:pairs: embeddings must be float16, float32 or float64, not int32 (convert them: np.save('pairs.npy', np.load(path)['pairs'].astype(np.float32)))",
    ),
    r(
        &["fixtures/inputs/int_list.parquet"],
        "fixtures/inputs/int_list.parquet: embeddings must be lists of float16, float32 or float64, not list<int64> (convert: astype(np.float32))",
    ),
    r(
        &["fixtures/inputs/seed_brotli.parquet"],
        "fixtures/inputs/seed_brotli.parquet: column 'emb' is compressed with brotli, which infonce does not read (it reads snappy, gzip, zstd and uncompressed Parquet); rewrite it with pyarrow.parquet.write_table(table, path, compression='zstd')",
    ),
    // Pairs.
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs_null.parquet:anchor,positive",
        ],
        "fixtures/inputs/pairs_null.parquet:anchor,positive: row 1, column 'anchor' is null",
    ),
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs.parquet:anchor",
        ],
        "fixtures/inputs/pairs.parquet: ':anchor' must name two integer columns, anchor and positive, as in fixtures/inputs/pairs.parquet:a,b",
    ),
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/queries_keys.parquet",
        ],
        "fixtures/inputs/queries_keys.parquet: name the anchor and positive columns, as in fixtures/inputs/queries_keys.parquet:anchor,positive (it holds query list<float32>, key fixed_size_list<float32>[12], caption_id int64)",
    ),
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/queries_keys.parquet:query,caption_id",
        ],
        "fixtures/inputs/queries_keys.parquet:query,caption_id: index columns must hold integers, not list<float32> (column 'query')",
    ),
    r(
        &[
            "fixtures/pairs_emb.npy",
            "--pairs",
            "fixtures/inputs/pairs.npz:embeddings",
        ],
        "fixtures/inputs/pairs.npz:embeddings: a pairs array must have shape (P, 2), not [30, 6]",
    ),
    r(
        &[
            "fixtures/seed.npy",
            "--pairs",
            "fixtures/inputs/pairs.parquet",
        ],
        "fixtures/inputs/pairs.parquet: row 0, anchor index 21 is out of range (fixtures/seed.npy has 4 rows, 0-based)",
    ),
    // Formats it does not read, by their bytes whatever their names.
    r(
        &["fixtures/inputs/model.pt"],
        "fixtures/inputs/model.pt: is a PyTorch file (torch.save), which infonce does not read (it holds pickled objects, and infonce never unpickles); convert it in Python: np.save('fixtures/inputs/model.npy', torch.load('fixtures/inputs/model.pt').float().numpy())",
    ),
    r(
        &["fixtures/inputs/legacy.pt"],
        "fixtures/inputs/legacy.pt: is a PyTorch file (torch.save, legacy format), which infonce does not read (it holds pickled objects, and infonce never unpickles); convert it in Python: np.save('fixtures/inputs/legacy.npy', torch.load('fixtures/inputs/legacy.pt').float().numpy())",
    ),
    r(
        &["fixtures/inputs/emb.pkl"],
        "fixtures/inputs/emb.pkl: is a Python pickle, which infonce does not read (unpickling can run code); save the array with np.save('fixtures/inputs/emb.npy', array) instead",
    ),
    r(
        &["fixtures/inputs/emb.h5"],
        "fixtures/inputs/emb.h5: is an HDF5 file (h5py, Keras, MATLAB v7.3), which infonce does not read; convert a dataset in Python: np.save('fixtures/inputs/emb.npy', h5py.File('fixtures/inputs/emb.h5')['NAME'][:])",
    ),
    r(
        &["fixtures/inputs/emb.feather"],
        "fixtures/inputs/emb.feather: is an Arrow IPC file (Feather), which infonce does not read; convert it to Parquet in Python: pyarrow.parquet.write_table(pyarrow.feather.read_table('fixtures/inputs/emb.feather'), 'fixtures/inputs/emb.parquet')",
    ),
    r(
        &["fixtures/inputs/emb.arrow"],
        "fixtures/inputs/emb.arrow: is an Arrow IPC stream (as in a Hugging Face datasets cache), which infonce does not read; convert it to Parquet in Python: pyarrow.parquet.write_table(pyarrow.ipc.open_stream('fixtures/inputs/emb.arrow').read_all(), 'fixtures/inputs/emb.parquet')",
    ),
    r(
        &["fixtures/inputs/notes.zip"],
        "fixtures/inputs/notes.zip: is a zip archive with no .npy arrays in it (it holds readme.txt, data/table.csv), not an .npz file",
    ),
    r(
        &["fixtures/inputs/seed.csv.gz"],
        "fixtures/inputs/seed.csv.gz: is gzip-compressed, which infonce does not read; decompress it first (gunzip -k fixtures/inputs/seed.csv.gz)",
    ),
    r(
        &["fixtures/seed.npy", "--keys", "fixtures/inputs/emb.h5"],
        "fixtures/inputs/emb.h5: is an HDF5 file (h5py, Keras, MATLAB v7.3), which infonce does not read; convert a dataset in Python: np.save('fixtures/inputs/emb.npy', h5py.File('fixtures/inputs/emb.h5')['NAME'][:])",
    ),
    r(
        &["fixtures/seed.npy", "--pairs", "fixtures/inputs/model.pt"],
        "fixtures/inputs/model.pt: is a PyTorch file (torch.save), which infonce does not read (it holds pickled objects, and infonce never unpickles); convert it in Python: np.save('fixtures/inputs/model.npy', torch.load('fixtures/inputs/model.pt').float().numpy())",
    ),
    // Standard input.
    Refusal {
        args: &["-"],
        stdin: Some("fixtures/inputs/legacy.pt"),
        want: "<stdin>: is a PyTorch file (torch.save, legacy format), which infonce does not read (it holds pickled objects, and infonce never unpickles); convert it in Python: np.save('FILE.npy', torch.load('FILE').float().numpy())",
    },
    Refusal {
        args: &["-"],
        stdin: Some("fixtures/inputs/emb.h5"),
        want: "<stdin>: is an HDF5 file (h5py, Keras, MATLAB v7.3), which infonce does not read; convert a dataset in Python: np.save('FILE.npy', h5py.File('FILE')['NAME'][:])",
    },
    Refusal {
        args: &["-"],
        stdin: Some("fixtures/inputs/queries_keys.npz"),
        want: "<stdin>: holds 2 arrays: queries (25, 12) float32, keys (25, 12) float32; name one, as in -:queries",
    },
];

#[test]
fn every_refusal_is_one_line_naming_the_file() {
    let mut failures = Vec::new();
    for c in REFUSALS {
        let mut args = vec!["compute"];
        args.extend(c.args);
        let out = match c.stdin {
            Some(f) => run_stdin(&args, fs::read(root().join(f)).unwrap()),
            None => run(&args),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = format!("error: {}\n", c.want);
        if out.status.code() != Some(1) || !out.stdout.is_empty() || stderr != want {
            failures.push(format!(
                "{args:?}: exit {:?}, stdout {} bytes, stderr {stderr:?}, want {want:?}",
                out.status.code(),
                out.stdout.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn empty_files_and_standard_input_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["e.csv", "e.npz", "e.parquet", "e.safetensors"] {
        fs::write(dir.path().join(name), b"").unwrap();
        let out = support::run(dir.path(), &["compute", name]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {name}: is empty (0 bytes)\n")
        );
    }
    let out = run_stdin(&["compute", "-"], Vec::new());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: <stdin>: is empty (0 bytes)\n"
    );
}

#[test]
fn damaged_containers_are_errors_not_panics() {
    // Every prefix of each container, each with a byte flipped, and random
    // bytes behind each container's magic (seeded): never a panic or an
    // abort, and an error is one line naming the file. (A flipped data byte
    // of a .safetensors or Parquet file may give other numbers: neither
    // format has a checksum that the writers here fill in.)
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random_bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (seed >> 56) as u8
            })
            .collect()
    };
    let header = br#"{"e":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let mut random: Vec<(&str, Vec<u8>)> = Vec::new();
    for k in 0..30 {
        let tail = random_bytes(7 * k);
        random.push(("r.parquet", [b"PAR1", &tail[..], b"PAR1"].concat()));
        random.push(("r.npz", [b"PK\x03\x04", &tail[..]].concat()));
        let mut h = header.to_vec();
        for (i, b) in random_bytes(2).into_iter().enumerate() {
            let at = (b as usize * 7 + i) % h.len();
            h[at] = b;
        }
        let st = [&(h.len() as u64).to_le_bytes()[..], &h, &[0u8; 16]].concat();
        random.push(("r.safetensors", st));
    }
    for (name, b) in random {
        fs::write(dir.path().join(name), &b).unwrap();
        let out = support::run(dir.path(), &["compute", name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("panicked"),
            "{name} {b:?}: {:?} {stderr}",
            out.status.code()
        );
    }
    for name in [
        "seed.npz",
        "twoview_f16_compressed.npz",
        "seed.safetensors",
        "seed_large_list.parquet",
        "twoview_f32_list.parquet",
    ] {
        let bytes = fs::read(root().join("fixtures/inputs").join(name)).unwrap();
        let step = (bytes.len() / 40).max(1);
        let mut variants: Vec<Vec<u8>> = (0..bytes.len())
            .step_by(step)
            .map(|n| bytes[..n].to_vec())
            .collect();
        for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 5] {
            let mut b = bytes.clone();
            b[at] ^= 0x5a;
            variants.push(b);
        }
        for (k, b) in variants.into_iter().enumerate() {
            let path = dir.path().join(name);
            fs::write(&path, &b).unwrap();
            let out = support::run(dir.path(), &["compute", name, "--format", "json"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("panicked"),
                "{name} variant {k}: {:?} {stderr}",
                out.status.code()
            );
            if out.status.code() == Some(1) {
                assert!(
                    stderr.starts_with(&format!("error: {name}")) && stderr.lines().count() == 1,
                    "{name} variant {k}: {stderr}"
                );
            }
        }
    }
}

#[test]
fn damaged_files_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let read = |n: &str| fs::read(root().join("fixtures/inputs").join(n)).unwrap();
    let npz = read("seed.npz");
    // One data byte of the stored member changed: the CRC-32 catches it.
    let mut flipped = npz.clone();
    let data = npz.windows(6).position(|w| w == b"\x93NUMPY").unwrap() + 128 + 8;
    flipped[data] ^= 0x5a;
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "x.npz",
            flipped,
            "x.npz: is damaged: its data does not match the archive's CRC-32 checksum",
        ),
        (
            "t.npz",
            npz[..100].to_vec(),
            "t.npz: is not a readable zip archive (.npz): invalid Zip archive: Could not find EOCD",
        ),
        (
            "t.safetensors",
            read("seed.safetensors")[..30].to_vec(),
            "t.safetensors: is not a valid .safetensors file: the file ends inside the header",
        ),
        (
            "t.parquet",
            read("seed_large_list.parquet")[..300].to_vec(),
            "t.parquet: is not a readable Parquet file: Invalid Parquet file. Corrupt footer",
        ),
    ];
    for (name, bytes, want) in files {
        fs::write(dir.path().join(name), bytes).unwrap();
        let out = support::run(dir.path(), &["compute", name]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {want}\n")
        );
    }
}

#[test]
fn folders_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    fs::create_dir(&d).unwrap();
    for f in [
        "dataset_info.json",
        "state.json",
        "data-00000-of-00001.arrow",
    ] {
        fs::write(d.join(f), b"{}").unwrap();
    }
    let e = dir.path().join("e");
    fs::create_dir(&e).unwrap();
    for f in [
        "b.parquet",
        "a.npy",
        "notes.txt",
        "c.npz",
        "d.safetensors",
        "e.csv",
    ] {
        fs::write(e.join(f), b"").unwrap();
    }
    let out = support::run(dir.path(), &["compute", "e"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: e: is a directory, not a file (it holds a.npy, b.parquet, c.npz and 2 more: name one)\n"
    );
    let out = support::run(dir.path(), &["compute", "d"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: d: is a directory, not a file: a Hugging Face dataset saved with save_to_disk; \
         write it as Parquet in Python: datasets.load_from_disk('d').to_parquet('d.parquet')\n"
    );
}
