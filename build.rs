//! Facts about the machine the tests are built on, for the few tests that
//! cannot run everywhere: `cfg(infonce_test_avx2)` where the CPU has AVX2
//! and FMA, `cfg(infonce_test_avx512)` where it also has AVX-512F,
//! `cfg(infonce_test_root)` where the build runs as root. Such a test
//! is marked `ignore` with its reason where it cannot run, so that `cargo
//! test` reports it as ignored rather than as passed; and where it is not
//! ignored it checks the fact again at run time and fails loudly if the
//! build's facts were wrong (a build moved to another machine or user).
//! Nothing in the library depends on these settings.

use std::env;
use std::fs;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(infonce_test_avx2)");
    println!("cargo::rustc-check-cfg=cfg(infonce_test_avx512)");
    println!("cargo::rustc-check-cfg=cfg(infonce_test_root)");
    let native = env::var("TARGET").ok() == env::var("HOST").ok();
    if native && has_avx2_fma() {
        println!("cargo::rustc-cfg=infonce_test_avx2");
        if has_avx512f() {
            println!("cargo::rustc-cfg=infonce_test_avx512");
        }
    }
    if native && is_root() {
        println!("cargo::rustc-cfg=infonce_test_root");
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2_fma() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn has_avx512f() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512f() -> bool {
    false
}

/// Whether this process runs with user id 0 (from `/proc/self/status`,
/// where there is one).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
