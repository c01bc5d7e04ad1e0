//! Where the output goes: standard output (no `-o`, or `-o -`), a file
//! replaced atomically, or a device or FIFO written in place.
//!
//! A regular file, or a new one, is written to a temporary file beside it and
//! renamed over it only once everything has been written and synced, so a
//! failed run leaves an existing file as it was. The new file keeps the mode
//! of the file it replaces (and its owner, where the user may give files
//! away); a file that did not exist gets 0666 less the umask, as a shell's
//! `>` gives it. A symbolic link is followed link by link, each relative
//! target read from the link's own folder, and its final target is replaced
//! or created: the link stays a link. Character and block devices and FIFOs
//! are opened and written in place, as `>` does, so `-o /dev/null`,
//! `-o /dev/stdout` and `-o fifo` behave as in any Unix tool.
//!
//! [`Destination::resolve`] checks everything that can be checked without
//! writing, before the inputs are read: that the output is none of the input
//! files, that it is not a folder, that its folder exists and takes new files.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, reason};
use crate::output::Format;

/// Symbolic links followed before giving up, as Linux does.
const MAX_LINKS: usize = 40;

/// Prefix and suffix of the temporary file written beside the target.
const TEMP_PREFIX: &str = ".infonce-";
const TEMP_SUFFIX: &str = ".tmp";

/// The destination of a run's output, checked and ready to be written.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The name for messages: the path as given, or `standard output`.
    name: String,
    /// The path as given to `-o`; `None` for standard output.
    given: Option<PathBuf>,
}

/// How a path is written, decided from what is there now.
#[derive(Debug)]
enum Route {
    /// Our own standard output or standard error (`/dev/stdout`,
    /// `/proc/self/fd/1`, ...), written as if no `-o` had been given.
    Stdout,
    Stderr,
    /// A regular file or a new one: a temporary file beside `path` (the end
    /// of any chain of links) renamed over it. `old` is the file replaced.
    Replace {
        path: PathBuf,
        old: Option<Metadata>,
    },
    /// A device or FIFO (or another process's descriptor), opened in place.
    InPlace {
        path: PathBuf,
        meta: Option<Metadata>,
    },
}

impl Destination {
    /// Standard output.
    pub fn stdout() -> Destination {
        Destination {
            name: "standard output".into(),
            given: None,
        }
    }

    /// The destination of `-o PATH` (`None` or `-`: standard output), checked
    /// before any work: refused when it is a folder, when its folder is
    /// missing or takes no new files, and when it is the same file (same
    /// device and inode) as one of `inputs`, given as (flag, path) pairs with
    /// `-` for standard input. `-:NAME`, which names an array of standard
    /// input on the input side, is refused as a usage error rather than
    /// written as a file of that name (`./-:NAME` is one).
    pub fn resolve(output: Option<&Path>, inputs: &[(&str, &str)]) -> Result<Destination> {
        let given = match output {
            None => return Ok(Destination::stdout()),
            Some(p) if p.as_os_str() == "-" => return Ok(Destination::stdout()),
            Some(p) => p,
        };
        let name = given.to_string_lossy().into_owned();
        if name.starts_with("-:") {
            return Err(Error::Usage(format!(
                "{name} names an array of standard input (-:NAME), not a place to write: \
                 - writes to standard output, ./{name} a file of that name"
            )));
        }
        let route = inspect(&name, given)?;
        let out_meta = match &route {
            Route::Replace { old, .. } => old.as_ref(),
            Route::InPlace { meta, .. } => meta.as_ref(),
            Route::Stdout | Route::Stderr => None,
        };
        if let Some(out) = out_meta.filter(|m| !sys::is_stream(m)) {
            for &(flag, path) in inputs {
                if input_metadata(path).is_some_and(|m| sys::same_file(&m, out)) {
                    let input = if path == "-" { "<stdin>" } else { path };
                    return Err(Error::data(
                        &name,
                        format!("cannot write: it is the same file as the input {input} ({flag})"),
                    ));
                }
            }
        }
        if let Route::Replace { path, .. } = &route {
            // A temporary file made and removed at once: a folder that takes
            // no new files is found now, not after the work.
            temporary_beside(&name, path, false)?;
        }
        Ok(Destination {
            name,
            given: Some(given.to_path_buf()),
        })
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the output goes to standard output (no `-o`, or `-o -`).
    pub fn is_stdout(&self) -> bool {
        self.given.is_none()
    }

    /// The format the file name asks for by its extension (`.json`, `.csv`,
    /// `.tsv`, `.ndjson`/`.jsonl`, `.md`/`.markdown`, in any case); `None`
    /// for standard output and other extensions. The name is the one given,
    /// not the target of a link.
    pub fn format_from_extension(&self) -> Option<Format> {
        let ext = self.given.as_ref()?.extension()?.to_str()?;
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "tsv" => Some(Format::Tsv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "md" | "markdown" => Some(Format::Markdown),
            _ => None,
        }
    }

    /// Writes the output through `body` and puts it in place: a file is
    /// replaced only when `body` and every write succeeded. A reader that
    /// closes a pipe or FIFO early gives an error that
    /// [`Error::is_broken_pipe`] recognises.
    pub fn write(&self, body: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        let route = match &self.given {
            None => Route::Stdout,
            // Looked at again: the path may have changed during the work.
            Some(given) => inspect(&self.name, given)?,
        };
        match route {
            Route::Stdout => self.stream(io::stdout().lock(), body),
            Route::Stderr => self.stream(io::stderr().lock(), body),
            Route::InPlace { path, meta } => {
                // A regular file open on a descriptor (`-o /dev/fd/3`) is
                // truncated, as `>` would, so no tail of it is left behind.
                let file = OpenOptions::new()
                    .write(true)
                    .truncate(meta.is_some_and(|m| m.is_file()))
                    .open(&path)
                    .map_err(|e| self.cannot_write(e))?;
                self.stream(file, body)
            }
            Route::Replace { path, old } => self.replace(&path, old.as_ref(), body),
        }
    }

    fn stream(
        &self,
        out: impl Write,
        body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        let mut w = BufWriter::new(out);
        body(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| self.cannot_write(e))
    }

    fn replace(
        &self,
        path: &Path,
        old: Option<&Metadata>,
        body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        let fail = |e: io::Error| self.cannot_write(e);
        let tmp = temporary_beside(&self.name, path, old.is_some())?;
        let mut w = BufWriter::new(tmp);
        body(&mut w).and_then(|()| w.flush()).map_err(fail)?;
        let tmp = w.into_inner().map_err(|e| fail(e.into_error()))?;
        if let Some(old) = old {
            sys::keep_owner_and_mode(tmp.as_file(), old).map_err(fail)?;
        }
        tmp.as_file().sync_all().map_err(fail)?;
        // On failure the temporary file is removed when `PersistError` drops.
        tmp.persist(path).map_err(|e| fail(e.error))?;
        // The rename itself made durable; a folder that cannot be synced
        // (some network file systems) still holds the complete file.
        if let Ok(dir) = File::open(parent_dir(path)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// A failed write (a closed pipe stays recognisable, so that `| head`
    /// ends the run quietly).
    fn cannot_write(&self, source: io::Error) -> Error {
        Error::Output {
            what: self.name.clone(),
            source,
        }
    }
}

/// The folder a file is written in: the path's parent, or `.`.
pub fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `sub/`, `.`, `..`, `sub/.`: the name of a folder, whatever is there.
fn names_folder(p: &Path) -> bool {
    let bytes = p.as_os_str().as_encoded_bytes();
    bytes.ends_with(b"/") || bytes.ends_with(b"/.") || p.file_name().is_none()
}

/// Decides how `given` is written, from what is on disk now.
fn inspect(name: &str, given: &Path) -> Result<Route> {
    let refuse = |msg: String| Error::data(name, format!("cannot write: {msg}"));
    if name.is_empty() {
        return Err(refuse("the file name is empty".into()));
    }
    if names_folder(given) {
        return Err(refuse(if given.is_dir() {
            "is a folder, not a file".into()
        } else {
            "a name ending in '/' names a folder, not a file".into()
        }));
    }
    let mut path = given.to_path_buf();
    let mut links = 0;
    let meta = loop {
        if let Some(fd) = sys::descriptor_link(&path) {
            return match fd {
                1 => Ok(Route::Stdout),
                2 => Ok(Route::Stderr),
                _ => {
                    // The open file it names, so that an input reached this
                    // way (`-o /dev/stdin < e.npy`) is refused as by any other
                    // name. Our own standard input's pipe is read by nothing
                    // but this process: written, it would fill and never drain.
                    let meta = fs::metadata(&path).ok();
                    if fd == 0 && meta.as_ref().is_some_and(sys::is_fifo) {
                        Err(refuse(
                            "it is standard input, a pipe that only infonce reads".into(),
                        ))
                    } else {
                        Ok(Route::InPlace { path, meta })
                    }
                }
            };
        }
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(refuse("too many levels of symbolic links".into()));
                }
                let to = fs::read_link(&path).map_err(|e| refuse(reason(&e)))?;
                // A relative target is read from the link's own folder.
                path = match path.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
                if names_folder(&path) {
                    return Err(refuse(format!(
                        "it links to '{}', which names a folder",
                        path.display()
                    )));
                }
            }
            Ok(m) => break Some(m),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                break None;
            }
            Err(e) => return Err(refuse(reason(&e))),
        }
    };
    let Some(meta) = meta else {
        let dir = parent_dir(&path);
        return match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(Route::Replace { path, old: None }),
            Ok(_) => Err(refuse(format!("'{}' is not a folder", dir.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(refuse(format!("folder '{}' does not exist", dir.display())))
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => Err(refuse(format!(
                "folder '{}' does not exist (part of its path is a file)",
                dir.display()
            ))),
            Err(e) => Err(refuse(reason(&e))),
        };
    };
    let kind = meta.file_type();
    if kind.is_file() {
        Ok(Route::Replace {
            path,
            old: Some(meta),
        })
    } else if kind.is_dir() {
        Err(refuse("is a folder, not a file".into()))
    } else if sys::is_device_or_fifo(&meta) {
        Ok(Route::InPlace {
            path,
            meta: Some(meta),
        })
    } else {
        Err(refuse(format!(
            "is a {}, not a file, device or FIFO",
            sys::kind_name(&meta)
        )))
    }
}

/// A new temporary file beside `path`; `private` gives it mode 0600 (it
/// takes the replaced file's mode once written), otherwise 0666 less the
/// umask.
fn temporary_beside(name: &str, path: &Path, private: bool) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    let mut b = tempfile::Builder::new();
    b.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    sys::set_new_mode(&mut b, private);
    b.tempfile_in(&dir).map_err(|e| {
        let why = match e.kind() {
            // The folder is there (it was checked): its file system (/proc,
            // /sys) makes no new files.
            io::ErrorKind::NotFound if dir.is_dir() => {
                "its file system does not allow new files".into()
            }
            _ => reason(&e),
        };
        Error::data(
            name,
            format!(
                "cannot write: cannot create a file in folder '{}' ({why})",
                dir.display()
            ),
        )
    })
}

/// What an input path refers to: standard input's file for `-`; for a path
/// that does not exist but holds a `:`, the part before the last one (as in
/// `FILE.npz:NAME`).
fn input_metadata(path: &str) -> Option<Metadata> {
    if path == "-" {
        return sys::stdin_metadata();
    }
    fs::metadata(path).ok().or_else(|| {
        path.rsplit_once(':')
            .and_then(|(file, _)| fs::metadata(file).ok())
    })
}

#[cfg(unix)]
mod sys {
    use std::fs::{File, Metadata, Permissions};
    use std::io;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    pub fn same_file(a: &Metadata, b: &Metadata) -> bool {
        a.dev() == b.dev() && a.ino() == b.ino()
    }

    /// Character devices and FIFOs are streams: reading one and writing it
    /// (a terminal, say) destroys nothing.
    pub fn is_stream(m: &Metadata) -> bool {
        let t = m.file_type();
        t.is_char_device() || t.is_fifo()
    }

    pub fn is_fifo(m: &Metadata) -> bool {
        m.file_type().is_fifo()
    }

    pub fn is_device_or_fifo(m: &Metadata) -> bool {
        let t = m.file_type();
        t.is_char_device() || t.is_block_device() || t.is_fifo()
    }

    pub fn kind_name(m: &Metadata) -> &'static str {
        if m.file_type().is_socket() {
            "socket"
        } else {
            "special file"
        }
    }

    /// `N` when `path` is a descriptor link: `/dev/fd/N`,
    /// `/proc/self/fd/N`, `/proc/thread-self/fd/N` or `/proc/PID/fd/N` of
    /// this process (`/dev/stdout` leads to one). Such a link names an open
    /// file, not a path to replace.
    pub fn descriptor_link(path: &Path) -> Option<u32> {
        let n: u32 = path.file_name()?.to_str()?.parse().ok()?;
        let dir = path.parent()?.to_str()?;
        let own = format!("/proc/{}/fd", std::process::id());
        matches!(dir, "/dev/fd" | "/proc/self/fd" | "/proc/thread-self/fd")
            .then_some(n)
            .or((dir == own).then_some(n))
    }

    pub fn stdin_metadata() -> Option<Metadata> {
        let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
        File::from(fd).metadata().ok()
    }

    pub fn set_new_mode(b: &mut tempfile::Builder, private: bool) {
        // The OS takes the umask off the mode given at creation.
        b.permissions(Permissions::from_mode(if private { 0o600 } else { 0o666 }));
    }

    /// Gives the new file the owner and mode of the one it replaces. Only
    /// root may give a file to another user; others keep the file as theirs,
    /// with the old group where they belong to it.
    pub fn keep_owner_and_mode(f: &File, old: &Metadata) -> io::Result<()> {
        // Owner first: a change of owner clears set-user-ID bits, which the
        // mode then restores.
        if std::os::unix::fs::fchown(f, Some(old.uid()), Some(old.gid())).is_err() {
            let _ = std::os::unix::fs::fchown(f, None, Some(old.gid()));
        }
        f.set_permissions(Permissions::from_mode(old.mode() & 0o7777))
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs::{File, Metadata};
    use std::io;
    use std::path::Path;

    pub fn same_file(_: &Metadata, _: &Metadata) -> bool {
        false
    }
    pub fn is_stream(_: &Metadata) -> bool {
        false
    }
    pub fn is_fifo(_: &Metadata) -> bool {
        false
    }

    pub fn is_device_or_fifo(_: &Metadata) -> bool {
        false
    }
    pub fn kind_name(_: &Metadata) -> &'static str {
        "special file"
    }
    pub fn descriptor_link(_: &Path) -> Option<u32> {
        None
    }
    pub fn stdin_metadata() -> Option<Metadata> {
        None
    }
    pub fn set_new_mode(_: &mut tempfile::Builder, _: bool) {}
    pub fn keep_owner_and_mode(f: &File, old: &Metadata) -> io::Result<()> {
        f.set_permissions(old.permissions())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(name: &str) -> Destination {
        Destination {
            name: name.into(),
            given: Some(name.into()),
        }
    }

    #[test]
    fn formats_follow_the_extension_and_unknown_ones_give_none() {
        let cases = [
            ("out.json", Some(Format::Json)),
            ("a/b.JSON", Some(Format::Json)),
            ("out.csv", Some(Format::Csv)),
            ("out.tsv", Some(Format::Tsv)),
            ("out.ndjson", Some(Format::Ndjson)),
            ("out.jsonl", Some(Format::Ndjson)),
            ("out.md", Some(Format::Markdown)),
            ("out.markdown", Some(Format::Markdown)),
            ("out.txt", None),
            ("out", None),
            (".json", None),
            ("out.json.bak", None),
        ];
        for (name, want) in cases {
            assert_eq!(dest(name).format_from_extension(), want, "{name}");
        }
        assert_eq!(Destination::stdout().format_from_extension(), None);
    }

    #[test]
    fn dash_and_nothing_are_standard_output() {
        for arg in [None, Some(Path::new("-"))] {
            let d = Destination::resolve(arg, &[("EMB", "-")]).unwrap();
            assert!(d.is_stdout());
            assert_eq!(d.name(), "standard output");
        }
        assert!(!dest("x").is_stdout());
    }

    #[test]
    fn parent_dir_is_dot_for_bare_names() {
        assert_eq!(parent_dir(Path::new("out.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/out.json")), PathBuf::from("a"));
        assert_eq!(parent_dir(Path::new("/out.json")), PathBuf::from("/"));
    }

    #[cfg(unix)]
    #[test]
    fn an_input_named_with_a_suffix_is_matched_by_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e.npz");
        fs::write(&file, b"x").unwrap();
        let with_name = format!("{}:arr_0", file.display());
        let a = input_metadata(&with_name).expect("the file before ':'");
        let b = fs::metadata(&file).unwrap();
        assert!(sys::same_file(&a, &b));
        assert!(input_metadata(&format!("{}:x", dir.path().join("none").display())).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn descriptor_links_are_recognised() {
        let own = format!("/proc/{}/fd/1", std::process::id());
        assert_eq!(sys::descriptor_link(Path::new("/proc/self/fd/1")), Some(1));
        assert_eq!(sys::descriptor_link(Path::new("/dev/fd/2")), Some(2));
        assert_eq!(sys::descriptor_link(Path::new(&own)), Some(1));
        assert_eq!(sys::descriptor_link(Path::new("/proc/1/fd/1")), None);
        assert_eq!(sys::descriptor_link(Path::new("fd/1")), None);
        assert_eq!(sys::descriptor_link(Path::new("/dev/stdout")), None);
    }

    #[test]
    fn folders_and_missing_folders_are_refused_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("file"), b"x").unwrap();
        let msg = |p: PathBuf| {
            let name = p.to_string_lossy().into_owned();
            inspect(&name, &p).unwrap_err().to_string()
        };
        let slash = format!("{}/", d.join("sub").display());
        assert!(msg(PathBuf::from(&slash)).ends_with("cannot write: is a folder, not a file"));
        assert!(msg(d.join("sub")).ends_with("cannot write: is a folder, not a file"));
        let missing = msg(d.join("none").join("out.json"));
        assert!(missing.ends_with("/none' does not exist"), "{missing}");
        let under_file = msg(d.join("file").join("out.json"));
        assert!(
            under_file.ends_with("/file' is not a folder"),
            "{under_file}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_from_their_own_folder_and_loops_refused() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        symlink("sub/l2", d.join("l1")).unwrap();
        symlink("final.json", d.join("sub/l2")).unwrap();
        match inspect("l1", &d.join("l1")).unwrap() {
            Route::Replace { path, old: None } => assert_eq!(path, d.join("sub/final.json")),
            other => panic!("{other:?}"),
        }
        symlink("sub/", d.join("to_folder")).unwrap();
        let e = inspect("to_folder", &d.join("to_folder"))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("/sub/', which names a folder"), "{e}");
        symlink("b", d.join("a")).unwrap();
        symlink("a", d.join("b")).unwrap();
        let e = inspect("a", &d.join("a")).unwrap_err().to_string();
        assert_eq!(e, "a: cannot write: too many levels of symbolic links");
    }
}
