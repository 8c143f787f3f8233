//! Output files: written whole or not at all, and never over something that is not a file.
//!
//! `--out`, `snapshot -o` and `export -o` write through [`write_atomically`]: a temporary file
//! in the target's directory, flushed to disk, then renamed over the target, so a reader (or a
//! crash) never sees half a plan. A symlink is followed and its target replaced (the link
//! stays); a directory, FIFO, socket or device is refused, so `--out /dev/full` cannot turn a
//! device into a file.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, NotRegular, OutFileError};

/// Whether an output path means standard output (`-`).
pub(super) fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `bytes` to `path` atomically, keeping an existing file's permissions.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |source: io::Error| Error::WriteFile {
        path: path.to_owned(),
        source,
    };
    let target = regular_target(path)?;
    let dir = folder_of(&target).to_owned();
    let mut builder = tempfile::Builder::new();
    builder.prefix(".plotward-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A new file gets 0666 less the umask, as `fs::write` would; a replaced one keeps its mode.
        let mode = fs::metadata(&target).map_or(0o666, |meta| meta.permissions().mode() & 0o7777);
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    let mut file = builder
        .tempfile_in(&dir)
        .map_err(|err| fail(without_temp_path(err)))?;
    file.write_all(bytes)
        .map_err(|err| fail(without_temp_path(err)))?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(&target).map_err(|err| fail(err.error))?;
    // The rename itself reaches the disk only when the directory is synced.
    if let Ok(dir) = fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Refuses, before anything is read or sent, an output file that [`write_atomically`] would
/// refuse or could not create: a directory, a stream, anything under `/dev` or `/proc`, or a
/// file in a folder that does not exist. A plan of an organization is minutes of requests;
/// it should not end in "cannot write ./". What only the write can tell (a full disk,
/// permissions) is still found then.
pub(crate) fn refuse_unwritable(path: &Path) -> Result<(), Error> {
    let target = regular_target(path)?;
    let missing = match fs::metadata(folder_of(&target)) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => io::Error::new(
            io::ErrorKind::NotADirectory,
            "its folder is not a directory",
        ),
        Err(err) => err,
    };
    Err(Error::WriteFile {
        path: path.to_owned(),
        source: missing,
    })
}

/// tempfile's errors name its random temporary file (`... at path "dir/.plotward-x1Y2.tmp"`);
/// the message names the file the user asked for, so only the cause is kept.
fn without_temp_path(err: io::Error) -> io::Error {
    let message = err.to_string();
    match message.rfind(" at path \"") {
        Some(at) if err.get_ref().is_some() => io::Error::new(err.kind(), &message[..at]),
        _ => err,
    }
}

/// The file to replace: `path`, or the file a symlink at `path` leads to. Anything that
/// exists and is not a regular file is refused ([`OutFileError`]), and so is anything under
/// `/dev` or `/proc`.
fn regular_target(path: &Path) -> Result<PathBuf, Error> {
    let refuse = |refusal: OutFileError| Error::OutFile {
        path: path.to_owned(),
        refusal,
    };
    let fail = |source: io::Error| Error::WriteFile {
        path: path.to_owned(),
        source,
    };
    let link = fs::read_link(path).ok().map(|target| match path.parent() {
        Some(parent) if target.is_relative() => parent.join(target),
        _ => target,
    });
    if under_dev_or_proc(path) || link.as_deref().is_some_and(under_dev_or_proc) {
        return Err(refuse(OutFileError::Special));
    }
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|err| refuse(OutFileError::UnresolvedLink(err)))?
        }
        Ok(_) => path.to_owned(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(path.to_owned()),
        Err(err) => return Err(fail(err)),
    };
    match fs::metadata(&target) {
        Ok(meta) if meta.is_file() => Ok(target),
        Ok(meta) => Err(refuse(OutFileError::NotRegular(classify(meta.file_type())))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(target),
        Err(err) => Err(fail(err)),
    }
}

/// Whether the directory holding `path` is (after links) under `/dev` or `/proc`.
fn under_dev_or_proc(path: &Path) -> bool {
    crate::limits::resolves_under_dev_or_proc(folder_of(path))
}

/// The folder holding `path`: its parent, or `.` for a bare name.
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What a file that is not a regular file is.
fn classify(kind: fs::FileType) -> NotRegular {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return NotRegular::Fifo;
        }
        if kind.is_socket() {
            return NotRegular::Socket;
        }
        if kind.is_char_device() || kind.is_block_device() {
            return NotRegular::Device;
        }
    }
    if kind.is_dir() {
        NotRegular::Directory
    } else {
        NotRegular::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_replaced_whole_and_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write_atomically(&path, b"one").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            write_atomically(&path, b"two").unwrap();
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o640
            );
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn streams_under_dev_and_proc_are_refused_even_through_a_link() {
        let err = write_atomically(Path::new("/dev/stderr"), b"x").unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutFile {
                    refusal: OutFileError::Special,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cannot write /dev/stderr: it is under /dev or /proc; plotward writes regular files \
             only (use `-` for stdout)"
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("log");
        std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
        let err = write_atomically(&link, b"x").unwrap_err().to_string();
        assert!(err.contains("under /dev or /proc"), "{err}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(dir.path(), b"x").unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutFile {
                    refusal: OutFileError::NotRegular(NotRegular::Directory),
                    ..
                }
            ),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains("a directory, not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_are_refused_with_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("plan.json");
        std::os::unix::fs::symlink(dir.path().join("gone/plan.json"), &link).unwrap();
        let err = write_atomically(&link, b"x").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot write {}: it is a symlink whose target cannot be resolved (No such file \
                 or directory (os error 2))",
                link.display()
            )
        );
        assert!(!dir.path().join("gone").exists(), "nothing was written");
    }
}
