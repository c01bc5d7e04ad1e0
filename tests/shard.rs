//! Sharded runs from the command line: `compute --shard K/N -o PART` run
//! through `xargs -P` (and GNU parallel where it is installed), then
//! `merge` in any order of the parts, must write the single run's output
//! byte for byte, in every format and layout; and every way a set of parts
//! can be wrong is refused with one line that names the part at fault.
//!
//! Own harness (libtest-mimic), so that the GNU parallel recipe is
//! reported as ignored where `parallel` is not installed.

#[macro_use]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Completion, Trial};
use support::{f32_npy, npy, pairs_npy, run};

fn main() {
    let tests = vec![
        always!(parts_merge_into_the_single_runs_bytes_in_every_format_and_layout),
        always!(the_xargs_recipe_gives_the_single_runs_bytes),
        needs!(
            has_gnu_parallel,
            the_gnu_parallel_recipe_gives_the_single_runs_bytes
        ),
        always!(a_missing_part_is_named),
        always!(a_part_given_twice_is_named),
        always!(a_part_of_another_run_is_named),
        always!(a_part_of_another_split_is_named),
        always!(a_damaged_or_cut_part_is_refused),
        always!(a_file_that_is_no_part_is_refused),
        always!(a_changed_input_is_refused),
        always!(inputs_named_otherwise_or_out_of_reach_are_named),
        always!(what_cannot_be_sharded_is_refused),
        always!(merge_never_replaces_a_part),
    ];
    libtest_mimic::run(&Arguments::from_args(), tests).exit();
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("infonce")
}

/// Rows of `n` items seen twice, `d` numbers each, from a fixed seed.
fn rows(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
    };
    let items: Vec<Vec<f32>> = (0..n).map(|_| (0..d).map(|_| next()).collect()).collect();
    let noisy = |v: &Vec<f32>, next: &mut dyn FnMut() -> f32| -> Vec<f32> {
        v.iter().map(|x| x + 0.3 * next()).collect()
    };
    let mut out: Vec<Vec<f32>> = items.iter().map(|v| noisy(v, &mut next)).collect();
    out.extend(
        items
            .iter()
            .map(|v| noisy(v, &mut next))
            .collect::<Vec<_>>(),
    );
    out
}

/// A folder with the inputs of every layout: `e.npy` (300 items, 600
/// rows), `v1.npy` and `v2.npy` (its two views), `q.npy` and `k.npy`,
/// `pairs.npy`, `labels.npy` and `neg.npy`; `e.csv` as text.
fn inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let n = 300;
    let r = rows(n, 8, 7);
    fs::write(p.join("e.npy"), f32_npy(&r)).unwrap();
    fs::write(p.join("v1.npy"), f32_npy(&r[..n])).unwrap();
    fs::write(p.join("v2.npy"), f32_npy(&r[n..])).unwrap();
    fs::write(p.join("q.npy"), f32_npy(&r[..n])).unwrap();
    fs::write(p.join("k.npy"), f32_npy(&r[n..])).unwrap();
    let pairs: Vec<(i64, i64)> = (0..n as i64)
        .map(|i| (i, (i * 7 + 3) % (2 * n as i64)))
        .filter(|(a, b)| a != b)
        .collect();
    fs::write(p.join("pairs.npy"), pairs_npy(&pairs)).unwrap();
    let labels: Vec<u8> = (0..2 * n as i64)
        .flat_map(|i| (i % 37).to_le_bytes())
        .collect();
    fs::write(p.join("labels.npy"), npy("<i8", false, &[2 * n], &labels)).unwrap();
    fs::write(p.join("neg.npy"), f32_npy(&rows(20, 8, 11))).unwrap();
    let csv: String = r
        .iter()
        .map(|row| {
            row.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    fs::write(p.join("e.csv"), csv).unwrap();
    dir
}

/// The layouts: compute's arguments without output flags. Blocks of 4
/// rows: 150 blocks, more than the plan's bands, so a band holds several.
const LAYOUTS: &[&[&str]] = &[
    &["e.npy", "--tau", "0.1", "--block", "4"],
    &[
        "v1.npy", "v2.npy", "--tau", "0.2", "--block", "4", "--sim", "dot",
    ],
    &[
        "e.npy",
        "--pairs",
        "pairs.npy",
        "--symmetric",
        "--block",
        "4",
    ],
    &["q.npy", "--keys", "k.npy", "--symmetric", "--block", "5"],
    &[
        "q.npy",
        "--keys",
        "k.npy",
        "--negatives",
        "neg.npy",
        "--block",
        "5",
    ],
    &["e.npy", "--labels", "labels.npy", "--block", "4"],
    &[
        "e.npy",
        "--negatives",
        "neg.npy",
        "--decoupled",
        "--block",
        "4",
    ],
    &[
        "e.csv",
        "--tau",
        "0.05,0.1,0.5",
        "--block",
        "4",
        "--precision",
        "f64",
    ],
];

/// Output flags whose outputs must match, each with the name of its file.
const OUTPUTS: &[&[&str]] = &[
    &[],
    &["-f", "json"],
    &["-f", "csv"],
    &["-f", "ndjson"],
    &["-f", "markdown"],
    &["-f", "json", "--summary"],
    &["-f", "csv", "--anchor", "3,17"],
];

fn ok(out: &std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: status {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

/// Runs the N parts of `layout` through `xargs -P 4` in `dir`, into
/// `sub/part-K.infonce`; returns the parts' paths, relative to `dir`.
fn xargs_parts(dir: &Path, layout: &[&str], n: usize, sub: &str) -> Vec<String> {
    fs::create_dir_all(dir.join(sub)).unwrap();
    let ks: String = (1..=n).map(|k| format!("{k}\n")).collect();
    let mut cmd = Command::new("xargs");
    cmd.current_dir(dir)
        .args(["-P", "4", "-I", "{}"])
        .arg(binary())
        .arg("compute")
        .args(layout)
        .args([
            "--shard",
            &format!("{{}}/{n}"),
            "-o",
            &format!("{sub}/part-{{}}.infonce"),
        ])
        .stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ks.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out, &format!("xargs over {layout:?}, {n} parts"));
    (1..=n).map(|k| format!("{sub}/part-{k}.infonce")).collect()
}

fn parts_merge_into_the_single_runs_bytes_in_every_format_and_layout() {
    let dir = inputs();
    let p = dir.path();
    for layout in LAYOUTS {
        let single: Vec<Vec<u8>> = OUTPUTS
            .iter()
            .map(|o| {
                let args: Vec<&str> = ["compute"]
                    .iter()
                    .chain(*layout)
                    .chain(*o)
                    .copied()
                    .collect();
                ok(&run(p, &args), &format!("{args:?}"))
            })
            .collect();
        for n in [1, 2, 3, 7] {
            let sub = format!("parts{n}");
            let mut parts = xargs_parts(p, layout, n, &sub);
            // Any order: reversed, and the middle one first.
            parts.reverse();
            let mid = parts.remove(n / 2);
            parts.insert(0, mid);
            for (o, want) in OUTPUTS.iter().zip(&single) {
                let args: Vec<&str> = ["merge"]
                    .into_iter()
                    .chain(parts.iter().map(String::as_str))
                    .chain(o.iter().copied())
                    .collect();
                let got = ok(&run(p, &args), &format!("{layout:?}: {args:?}"));
                assert!(
                    &got == want,
                    "{layout:?}, {n} parts, {o:?}: merge differs from the single run\n\
                     single:\n{}\nmerged:\n{}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&got)
                );
            }
            fs::remove_dir_all(p.join(&sub)).unwrap();
        }
    }
}

/// Runs a recipe script of scripts/scale-out with `N = 3` and checks its
/// merged result.
fn recipe(script: &str) {
    let dir = inputs();
    let p = dir.path();
    let layout = LAYOUTS[0];
    let want = ok(
        &run(p, &[&["compute"][..], layout, &["-f", "json"]].concat()),
        "single",
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/scale-out")
        .join(script);
    let out = Command::new("bash")
        .current_dir(p)
        .env("INFONCE", binary())
        .env("JOBS", "3")
        .arg(&script)
        .args(["3", "parts"])
        .args(layout)
        .output()
        .unwrap();
    ok(&out, &format!("{}", script.display()));
    let mut parts: Vec<String> = fs::read_dir(p.join("parts"))
        .unwrap()
        .map(|e| format!("parts/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 3, "{parts:?}");
    let args: Vec<&str> = ["merge", "-f", "json"]
        .into_iter()
        .chain(parts.iter().map(String::as_str))
        .collect();
    assert!(
        ok(&run(p, &args), "merge") == want,
        "{script:?}: merge differs"
    );
}

fn the_xargs_recipe_gives_the_single_runs_bytes() {
    recipe("run-xargs.sh");
}

fn has_gnu_parallel() -> Result<(), String> {
    let out = Command::new("parallel").arg("--version").output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("GNU parallel") => Ok(()),
        _ => Err("GNU parallel is not installed".into()),
    }
}

fn the_gnu_parallel_recipe_gives_the_single_runs_bytes() {
    recipe("run-parallel.sh");
}

/// A folder with the three parts of `e.npy` at tau 0.1.
fn three_parts() -> (tempfile::TempDir, Vec<String>) {
    let dir = inputs();
    let parts = xargs_parts(dir.path(), LAYOUTS[0], 3, "parts");
    (dir, parts)
}

/// Runs `args` in `dir`, expects failure with `code` and one line on
/// standard error holding each of `words`.
fn refused(dir: &Path, args: &[&str], code: i32, words: &[&str]) {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: wrote output");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: '{w}' not in: {err}");
    }
}

/// Runs `args` in `dir`, expects a usage error (exit 2) that says each of
/// `words`, and no part file `x` left behind (clap's own errors add a
/// usage line).
fn usage(dir: &Path, args: &[&str], words: &[&str]) {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: '{w}' not in: {err}");
    }
    assert!(
        !dir.join("x").exists(),
        "{args:?}: a part file is left behind"
    );
}

fn a_missing_part_is_named() {
    let (dir, parts) = three_parts();
    refused(
        dir.path(),
        &["merge", &parts[0], &parts[2]],
        2,
        &["part 2", "missing"],
    );
}

fn a_part_given_twice_is_named() {
    let (dir, parts) = three_parts();
    fs::copy(dir.path().join(&parts[1]), dir.path().join("copy.infonce")).unwrap();
    refused(
        dir.path(),
        &["merge", &parts[0], &parts[1], &parts[2], "copy.infonce"],
        2,
        &["part 2 of 3", "twice", "copy.infonce", &parts[1]],
    );
}

/// Computes one part with `args` (compute's, without output) into `file`
/// beside the three parts of `e.npy`, and checks that merge refuses it in
/// place of part 2, saying each of `words`.
fn a_foreign_part_is_named(args: &[&str], shard: &str, file: &str, words: &[&str]) {
    let (dir, parts) = three_parts();
    let p = dir.path();
    let one: Vec<&str> = ["compute"]
        .iter()
        .chain(args)
        .chain(&["--shard", shard, "-o", file])
        .copied()
        .collect();
    ok(&run(p, &one), file);
    refused(p, &["merge", &parts[0], file, &parts[2]], 1, words);
}

fn a_part_of_another_run_is_named() {
    // The same split at another temperature.
    a_foreign_part_is_named(
        &["e.npy", "--tau", "0.2", "--block", "4"],
        "2/3",
        "other.infonce",
        &["other.infonce", "another run", "--tau 0.2"],
    );
}

fn a_part_of_another_split_is_named() {
    a_foreign_part_is_named(
        LAYOUTS[0],
        "2/4",
        "four.infonce",
        &["four.infonce", "part 2 of 4"],
    );
}

fn a_damaged_or_cut_part_is_refused() {
    let (dir, parts) = three_parts();
    let p = dir.path();
    let bytes = fs::read(p.join(&parts[1])).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() - 100;
    flipped[at] ^= 1;
    fs::write(p.join("flipped.infonce"), &flipped).unwrap();
    refused(
        p,
        &["merge", &parts[0], "flipped.infonce", &parts[2]],
        1,
        &["flipped.infonce", "damaged"],
    );
    fs::write(p.join("cut.infonce"), &bytes[..bytes.len() / 2]).unwrap();
    refused(
        p,
        &["merge", &parts[0], "cut.infonce", &parts[2]],
        1,
        &["cut.infonce", "cut short"],
    );
}

fn a_file_that_is_no_part_is_refused() {
    let (dir, parts) = three_parts();
    refused(
        dir.path(),
        &["merge", &parts[0], "e.npy", &parts[2]],
        1,
        &["e.npy", "not a part file"],
    );
}

fn a_changed_input_is_refused() {
    let (dir, parts) = three_parts();
    let p = dir.path();
    // Same size, one number changed.
    let mut e = fs::read(p.join("e.npy")).unwrap();
    let last = e.len() - 1;
    e[last] ^= 0x10;
    fs::write(p.join("e.npy"), &e).unwrap();
    refused(
        p,
        &["merge", &parts[0], &parts[1], &parts[2]],
        1,
        &["e.npy", "not the file the parts read"],
    );
}

fn inputs_named_otherwise_or_out_of_reach_are_named() {
    // The same file as ./e.npy: another run (the names are in the output).
    a_foreign_part_is_named(
        &["./e.npy", "--tau", "0.1", "--block", "4"],
        "2/3",
        "dot.infonce",
        &[
            "dot.infonce",
            "names the same inputs differently",
            "./e.npy",
        ],
    );
    // Merge run where the inputs' relative paths lead nowhere.
    let (dir, parts) = three_parts();
    let p = dir.path();
    let away = p.join("away");
    fs::create_dir(&away).unwrap();
    let abs: Vec<String> = parts
        .iter()
        .map(|x| p.join(x).to_string_lossy().into_owned())
        .collect();
    refused(
        &away,
        &["merge", &abs[0], &abs[1], &abs[2]],
        1,
        &["e.npy", "no such file", "the folder"],
    );
}

fn what_cannot_be_sharded_is_refused() {
    let dir = inputs();
    let p = dir.path();
    let base = ["compute", "e.npy", "--tau", "0.1"];
    let with = |more: &[&'static str]| -> Vec<&str> { base.iter().chain(more).copied().collect() };
    usage(p, &with(&["--shard", "1/2"]), &["--output"]);
    refused(
        p,
        &with(&["--shard", "1/2", "-o", "-"]),
        2,
        &["standard output"],
    );
    usage(p, &with(&["--shard", "0/2", "-o", "x"]), &["K/N"]);
    usage(p, &with(&["--shard", "3/2", "-o", "x"]), &["K/N"]);
    usage(p, &with(&["--shard", "two", "-o", "x"]), &["K/N"]);
    usage(
        p,
        &with(&["--shard", "1/2", "-o", "x", "--terms"]),
        &["--terms"],
    );
    usage(
        p,
        &with(&["--shard", "1/2", "-o", "x", "-f", "json"]),
        &["--format"],
    );
    let before = fs::read(p.join("e.npy")).unwrap();
    let out = run(p, &with(&["--shard", "1/2", "-o", "e.npy"]));
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        fs::read(p.join("e.npy")).unwrap(),
        before,
        "the input is untouched"
    );
    let out = support::infonce(p)
        .args(["compute", "-", "--shard", "1/2", "-o", "x"])
        .write_stdin(fs::read(p.join("e.npy")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
    assert!(!p.join("x").exists(), "no part file is left behind");
}

fn merge_never_replaces_a_part() {
    let (dir, parts) = three_parts();
    let p = dir.path();
    let before = fs::read(p.join(&parts[0])).unwrap();
    let out = run(
        p,
        &["merge", &parts[0], &parts[1], &parts[2], "-o", &parts[0]],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("PART"), "{err}");
    assert_eq!(fs::read(p.join(&parts[0])).unwrap(), before);
}
