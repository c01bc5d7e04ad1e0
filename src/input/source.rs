//! `FILE:NAME`: a file, and the array or column to take from it.
//!
//! `.npz`, `.safetensors` and Parquet files hold several named arrays or
//! columns; `FILE:NAME` picks one (`--pairs FILE.parquet:a,b` two). The rule
//! never breaks a path that contains `:`:
//!
//! 1. if the whole argument names an existing file or folder (or is `-`), it
//!    is that file, with no name;
//! 2. otherwise it is split at a `:` whose left part names an existing file
//!    (or is `-`, standard input), trying the last `:` first, so that the file
//!    is the longest such prefix and the name may itself contain `:`;
//! 3. otherwise it is taken whole (and reported as missing).

use std::path::Path;

use crate::error::{Error, Result};
use crate::input::display_name;

/// What a command-line argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file to open (`-` for standard input).
    pub path: String,
    /// The array or column(s) after `:`, if the argument named any.
    pub member: Option<String>,
}

impl Source {
    /// Splits `spec` by the rule above.
    pub fn resolve(spec: &str) -> Result<Source> {
        let whole = Source {
            path: spec.to_string(),
            member: None,
        };
        if spec == "-" || Path::new(spec).exists() {
            return Ok(whole);
        }
        for (i, _) in spec.rmatch_indices(':') {
            let (path, name) = (&spec[..i], &spec[i + 1..]);
            // Any file but a folder: a FIFO or `/dev/fd/N` (bash's
            // `<(command)`) names its array too.
            if path != "-" && !Path::new(path).metadata().is_ok_and(|m| !m.is_dir()) {
                continue;
            }
            if name.is_empty() {
                return Err(Error::data(
                    &display_name(path),
                    "nothing follows ':'; give the name of an array or column after it",
                ));
            }
            return Ok(Source {
                path: path.to_string(),
                member: Some(name.to_string()),
            });
        }
        Ok(whole)
    }

    /// Whether `spec` reads standard input (`-` or `-:NAME`).
    pub fn reads_stdin(spec: &str) -> bool {
        Source::resolve(spec).is_ok_and(|s| s.path == "-")
    }

    /// The file's name in messages (`<stdin>` for `-`).
    pub fn file_name(&self) -> String {
        display_name(&self.path)
    }

    /// The name of the data in messages: the file, and `:NAME` if one was
    /// given.
    pub fn data_name(&self) -> String {
        match &self.member {
            Some(m) => format!("{}:{m}", self.file_name()),
            None => self.file_name(),
        }
    }

    /// How to name `member` of this file on the command line (`-:NAME` for
    /// standard input), for hints.
    pub fn with_member(&self, member: &str) -> String {
        format!("{}:{member}", self.path)
    }

    /// Refuses a name after `:` for a file that holds one array (`.npy`,
    /// CSV/TSV); `kind` says what the file is.
    pub fn no_member(&self, kind: &str) -> Result<()> {
        match &self.member {
            None => Ok(()),
            Some(m) => Err(Error::data(
                &self.file_name(),
                format!(
                    "{kind} holds one array, so ':{m}' names nothing in it \
                     (names pick arrays in .npz, .safetensors and Parquet files)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, member: Option<&str>) -> Source {
        Source {
            path: path.into(),
            member: member.map(Into::into),
        }
    }

    #[test]
    fn paths_with_colons_are_never_split_when_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        std::fs::write(p("a.npz"), b"x").unwrap();
        std::fs::write(p("run:3.npy"), b"x").unwrap();
        std::fs::write(p("a.npz:emb"), b"x").unwrap();
        // The whole argument exists: it is the file, even with a ':' in it.
        assert_eq!(
            Source::resolve(&p("run:3.npy")).unwrap(),
            src(&p("run:3.npy"), None)
        );
        assert_eq!(
            Source::resolve(&p("a.npz:emb")).unwrap(),
            src(&p("a.npz:emb"), None)
        );
        // Otherwise the longest existing file before a ':'; the name keeps its ':'.
        assert_eq!(
            Source::resolve(&p("a.npz:keys")).unwrap(),
            src(&p("a.npz"), Some("keys"))
        );
        assert_eq!(
            Source::resolve(&p("a.npz:x:y")).unwrap(),
            src(&p("a.npz"), Some("x:y"))
        );
        assert_eq!(
            Source::resolve(&p("a.npz:emb:z")).unwrap(),
            src(&p("a.npz:emb"), Some("z"))
        );
        // Nothing exists: taken whole, and reported missing when opened.
        assert_eq!(
            Source::resolve(&p("b.npz:x")).unwrap(),
            src(&p("b.npz:x"), None)
        );
        // Standard input.
        assert_eq!(Source::resolve("-").unwrap(), src("-", None));
        assert_eq!(Source::resolve("-:emb").unwrap(), src("-", Some("emb")));
        let e = Source::resolve(&p("a.npz:")).unwrap_err();
        assert!(e.to_string().contains("nothing follows ':'"), "{e}");
    }
}
