//! The one error type of the tool and the exit code each kind maps to.
//!
//! Every message is a single line that names the file and the place at fault;
//! `main` prints it after `error: ` and exits with [`Error::exit_code`].

use std::fmt;
use std::io;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for bad data or a failure to read or write a file.
pub const EXIT_DATA: u8 = 1;
/// Exit status for a usage error (bad flag, bad value, conflicting flags).
pub const EXIT_USAGE: u8 = 2;
/// Exit status of a run whose mean loss is above `--fail-above`: the result
/// was written in full.
pub const EXIT_ABOVE: u8 = 3;

/// What went wrong, already phrased for the user.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or holds data the tool refuses.
    Data(String),
    /// The flags do not make a valid job.
    Usage(String),
    /// Writing the result failed (`what` names the destination); shown as
    /// `what: cannot write: reason`.
    Output { what: String, source: io::Error },
    /// The run succeeded and wrote its result, but the mean loss is above
    /// `--fail-above`: not a failure of the tool, so it is said after
    /// `infonce: ` rather than `error: `, and not under `--quiet`.
    Above(String),
}

impl Error {
    /// A data error about `file`: the message should name the place at fault.
    pub fn data(file: &str, msg: impl fmt::Display) -> Self {
        Error::Data(format!("{file}: {msg}"))
    }

    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Data(_) | Error::Output { .. } => EXIT_DATA,
            Error::Usage(_) => EXIT_USAGE,
            Error::Above(_) => EXIT_ABOVE,
        }
    }

    /// True when the output went to a pipe that the reader closed (`| head`):
    /// that is how a pipeline stops early, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output { source, .. } => is_broken_pipe(source),
            _ => false,
        }
    }
}

/// A broken pipe, also when a writer wrapped it in another error (as
/// `io::Error::other(serde_json_error)` does, hiding the kind).
fn is_broken_pipe(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return true;
    }
    let mut inner: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|x| x as _);
    while let Some(x) = inner {
        if let Some(io) = x.downcast_ref::<io::Error>() {
            return is_broken_pipe(io);
        }
        if let Some(j) = x.downcast_ref::<serde_json::Error>() {
            return j.io_error_kind() == Some(io::ErrorKind::BrokenPipe);
        }
        inner = x.source();
    }
    false
}

/// The kind of the innermost I/O error inside `e` (its own kind when it
/// wraps none): what a writer's `io::Error::other(...)` hides.
pub(crate) fn innermost_kind(e: &io::Error) -> io::ErrorKind {
    let mut inner: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|x| x as _);
    while let Some(x) = inner {
        if let Some(io) = x.downcast_ref::<io::Error>() {
            return innermost_kind(io);
        }
        if let Some(kind) = x
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind)
        {
            return kind;
        }
        inner = x.source();
    }
    e.kind()
}

/// The cause of a failed write in a few lowercase words, without the OS's
/// error number.
pub(crate) fn reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match innermost_kind(e) {
        K::NotFound => "no such file or folder".into(),
        K::PermissionDenied => "permission denied".into(),
        K::StorageFull => "no space left on device".into(),
        K::ReadOnlyFilesystem => "read-only file system".into(),
        K::IsADirectory => "is a folder, not a file".into(),
        K::NotADirectory => "part of the path is a file, not a folder".into(),
        K::FileTooLarge => "file too large".into(),
        _ => {
            let s = e.to_string();
            let s = s.find(" (os error").map_or(s.as_str(), |i| &s[..i]);
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_lowercase().chain(c).collect(),
                None => "unknown error".into(),
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages quote file names and bytes from the files; control
        // characters among them are escaped so that a message stays one line;
        // so are Unicode's line and paragraph separators, which editors,
        // Python's splitlines and JavaScript break lines at.
        let text = match self {
            Error::Data(m) | Error::Usage(m) | Error::Above(m) => m.clone(),
            Error::Output { what, source } => format!("{what}: cannot write: {}", reason(source)),
        };
        for c in text.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipes_are_found_inside_wrapped_errors() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        let out = |source| Error::Output {
            what: "standard output".into(),
            source,
        };
        assert!(out(pipe()).is_broken_pipe());
        assert!(out(io::Error::other(pipe())).is_broken_pipe());
        let json = serde_json::Error::io(pipe());
        assert!(out(io::Error::other(json)).is_broken_pipe());
        assert!(!out(io::Error::other("disk full")).is_broken_pipe());
        assert!(!out(io::Error::from(io::ErrorKind::StorageFull)).is_broken_pipe());
    }

    #[test]
    fn reasons_are_short_lowercase_words() {
        let full = io::Error::from_raw_os_error(28);
        assert_eq!(reason(&full), "no space left on device");
        assert_eq!(reason(&io::Error::other(full)), "no space left on device");
        let json = serde_json::Error::io(io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(reason(&io::Error::other(json)), "no space left on device");
        assert_eq!(
            reason(&io::Error::from_raw_os_error(30)),
            "read-only file system"
        );
        assert_eq!(reason(&io::Error::other("Odd thing")), "odd thing");
    }

    #[test]
    fn messages_are_one_line() {
        let e = Error::data("a\nb.npy", "unsupported dtype '<f\n\r\t\u{1b}'");
        assert_eq!(
            e.to_string(),
            "a\\nb.npy: unsupported dtype '<f\\n\\r\\t\\u{1b}'"
        );
    }
}
