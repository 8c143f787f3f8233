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
/// file claims (a FIFO or a growing file included).
pub(crate) fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    read_open(std::fs::File::open(path)?, limit)
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
