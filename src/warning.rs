//! Warnings: one line each on standard error, after `warning: `, unless the
//! user asked for quiet (`--quiet`). A warning never changes a result or the
//! exit code; it points at something the user probably did not mean.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences (or restores) every later warning of this process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether warnings are silenced.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Writes `warning: <msg>` as one line on standard error, unless quiet.
pub fn warn(msg: impl std::fmt::Display) {
    if is_quiet() {
        return;
    }
    // Not eprintln!, which panics when standard error is a closed pipe.
    let line = msg.to_string().replace(['\n', '\r'], " ");
    let _ = writeln!(std::io::stderr().lock(), "warning: {line}");
}
