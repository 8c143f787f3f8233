//! The sizes plotward accepts from files, so no input can take unbounded memory or time.
//! Each is documented in the README; going past one is a clear error, never a crash.

use std::io::{self, Read};
use std::path::Path;

/// The largest policy or policy-test file, in bytes. An `export` of a 100,000-file account
/// with scattered levels is about 2.6 MB, so there is room for ten times that.
pub(crate) const MAX_POLICY_BYTES: u64 = 32 * 1024 * 1024;

/// The longest path plotward accepts, in bytes: far above any real one, and a bound on what a
/// listing or snapshot can make plotward hold per file.
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// The longest glob, in characters: a path of [`MAX_PATH_BYTES`] with every
/// character escaped, as `export` may write it.
pub(crate) const MAX_GLOB_CHARS: usize = 2 * MAX_PATH_BYTES + 8;

/// The largest snapshot or saved plan, in bytes (a snapshot of 1,000,000 files is about
/// 150 MB).
pub(crate) const MAX_DATA_BYTES: u64 = 1024 * 1024 * 1024;

/// Reads a UTF-8 text file of at most `limit` bytes, reading no more than that whatever the
/// file claims (a growing file included). Only a regular file outside `/dev` and `/proc` is
/// read: opening a FIFO waits for a writer, maybe forever (a policy, a snapshot or a saved
/// plan that is a FIFO hung every command), and `/proc/self/environ` behind a symlinked
/// policy would be read as one, its keys quoted in the error.
pub(crate) fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    let refused = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {what}; plotward reads regular files only"),
        )
    };
    if resolves_under_dev_or_proc(path) {
        return Err(refused("under /dev or /proc"));
    }
    let file = open_without_waiting(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_dir() {
        return Err(refused("a directory"));
    }
    if !kind.is_file() {
        return Err(refused("not a regular file (a FIFO, a socket or a device)"));
    }
    read_open(file, limit)
}

/// Whether `path`, links followed, is under `/dev` or `/proc` (streams and the kernel's
/// views, `/proc/self/environ` among them): never read as an input nor written as an output.
pub(crate) fn resolves_under_dev_or_proc(path: &Path) -> bool {
    std::fs::canonicalize(path)
        .is_ok_and(|real| real.starts_with("/dev") || real.starts_with("/proc"))
}

/// Opens `path` for reading without ever blocking in `open` (`O_NONBLOCK`: a FIFO or a device
/// put there after the caller's check opens at once instead of waiting for a writer), and
/// gives the file back only if the opened handle is a regular file (`fstat`), where the flag
/// changes nothing about reading. `None` for anything else.
pub(crate) fn open_regular(path: &Path) -> io::Result<Option<std::fs::File>> {
    let file = open_without_waiting(path)?;
    Ok(file.metadata()?.is_file().then_some(file))
}

/// Opens `path` for reading with `O_NONBLOCK`, so a FIFO opens at once instead of waiting
/// for a writer; the caller checks what the handle is (`fstat`) before reading.
fn open_without_waiting(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    // Elsewhere no FIFO blocks an open the same way; the check on the handle still holds.
    options.open(path)
}

/// Reads an opened UTF-8 text file of at most `limit` bytes, as [`read_text`] does.
pub(crate) fn read_open(file: std::fs::File, limit: u64) -> io::Result<String> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} (plotward reads at most that much)",
                shown(limit)
            ),
        )
    };
    if file.metadata().is_ok_and(|meta| meta.len() > limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// `1 MiB`, `1 GiB`.
fn shown(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else if bytes < 1 << 20 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO swapped in after the path was checked: the open returns at once (a plain open
    /// would wait for a writer) and the handle is refused as not a regular file.
    #[cfg(unix)]
    #[test]
    fn a_fifo_swapped_in_after_the_check_neither_blocks_the_open_nor_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo");
        let (sent, opened) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || sent.send(open_regular(&path).map(|f| f.is_none())));
        let result = opened.recv_timeout(std::time::Duration::from_secs(20));
        if result.is_err() {
            // Unblock the stuck open before failing, so the test ends.
            drop(std::fs::OpenOptions::new().write(true).open(&fifo));
        }
        assert!(
            matches!(result, Ok(Ok(true))),
            "the open blocked or the FIFO was taken for a file: {result:?}"
        );
        let regular = dir.path().join("key");
        std::fs::write(&regular, "k").unwrap();
        assert!(open_regular(&regular).unwrap().is_some());
    }

    #[test]
    fn files_past_their_limit_are_refused_before_being_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "x".repeat(2 * 1024 * 1024 + 1)).unwrap();
        let err = read_text(&path, 2 * 1024 * 1024)
            .map(|text| text.len())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "it is larger than 2 MiB (plotward reads at most that much)"
        );
        assert_eq!(
            read_text(&path, 4096)
                .map(|text| text.len())
                .unwrap_err()
                .to_string(),
            "it is larger than 4 KiB (plotward reads at most that much)"
        );
        std::fs::write(&path, "version: 1\n").unwrap();
        assert_eq!(read_text(&path, MAX_POLICY_BYTES).unwrap(), "version: 1\n");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read_text(&path, MAX_POLICY_BYTES).is_err());
    }
}
