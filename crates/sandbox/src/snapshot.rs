//! The snapshot format that `plotward snapshot` writes: read here to seed an account, and
//! written by `GET /_sandbox/state`.
//!
//! These types are the sandbox's own, written from the format's documentation (format
//! version 1):
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "source": { "api_url": "https://plotly.example.com", "user": "alice", "taken_at": "2026-11-27T13:00:00Z" },
//!   "listing": { "foreign_skipped": 3, "unproven": { "counted": 120, "listed": 117 } },
//!   "files": [
//!     { "fid": "alice:3", "path": "reports", "filetype": "fold",
//!       "world_readable": false, "share_key_enabled": false }
//!   ]
//! }
//! ```
//!
//! `source` and `listing` are optional and mean nothing to the sandbox, but are checked as
//! plotward checks them, so a file one side accepts the other does too; fields neither knows
//! are ignored. A test in plotward seeds a sandbox from what `plotward snapshot` wrote and
//! compares the two readings (and their error messages), so they cannot drift apart.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SandboxError;

/// The snapshot format version read and written.
const FORMAT_VERSION: u32 = 1;

/// The largest snapshot read, in bytes: plotward's own limit for snapshots
/// (`limits::MAX_DATA_BYTES`; a snapshot of 1,000,000 files is about 150 MB).
const MAX_SNAPSHOT_BYTES: u64 = 1024 * 1024 * 1024;

/// The longest path accepted, in bytes, as in plotward (`limits::MAX_PATH_BYTES`).
const MAX_PATH_BYTES: usize = 4096;

/// A snapshot file as written. Named as in plotward, since serde's messages show the name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    format_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<Source>,
    #[serde(default, skip_serializing_if = "Listing::is_full")]
    listing: Listing,
    files: Vec<SnapshotFile>,
}

/// Where a snapshot was taken; informative only.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(expecting = "struct SnapshotSource")] // plotward's name, in serde's messages
struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    taken_at: Option<String>,
}

/// What the listing behind a snapshot could not vouch for; the sandbox seeds what is listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "struct Coverage")] // plotward's name, in serde's messages
struct Listing {
    #[serde(default, skip_serializing_if = "is_zero")]
    foreign_skipped: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    unplaced: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unproven: Option<CountMismatch>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CountMismatch {
    counted: usize,
    listed: usize,
}

impl Listing {
    fn is_full(&self) -> bool {
        *self == Listing::default()
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One file or folder of a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(expecting = "struct RemoteFile")] // plotward's name, in serde's messages
pub(crate) struct SnapshotFile {
    /// `owner:idlocal`; the owner's account gets the file under that id.
    pub(crate) fid: String,
    /// Folder names and the file name joined by `/`.
    pub(crate) path: String,
    /// The API file type, kept verbatim (`fold` for folders).
    pub(crate) filetype: String,
    #[serde(flatten)]
    pub(crate) flags: Flags,
}

/// The two sharing flags, as the API names them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Flags {
    pub(crate) world_readable: bool,
    pub(crate) share_key_enabled: bool,
}

impl Snapshot {
    /// Reads and validates a snapshot file, reading no more than the size limit: its files.
    pub(crate) fn load(path: &Path) -> Result<Vec<SnapshotFile>, SandboxError> {
        let text = read_bounded(path).map_err(|source| SandboxError::ReadSeed {
            path: path.to_owned(),
            source,
        })?;
        Snapshot::parse(&text, path)
    }

    /// Parses and validates snapshot JSON, `path` naming it in errors: its files.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<SnapshotFile>, SandboxError> {
        let snapshot: Snapshot =
            serde_json::from_str(text).map_err(|err| SandboxError::SeedSyntax {
                path: path.to_owned(),
                line: err.line(),
                column: err.column(),
                message: strip_position(&err.to_string()),
            })?;
        snapshot
            .validate()
            .map_err(|message| SandboxError::InvalidSeed {
                path: path.to_owned(),
                message,
            })?;
        Ok(snapshot.files)
    }

    /// A snapshot of `files`, sorted by path then fid as plotward sorts an inventory, with no
    /// source and a complete listing.
    pub(crate) fn of(mut files: Vec<SnapshotFile>) -> Snapshot {
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path).then_with(|| a.fid.cmp(&b.fid)));
        Snapshot {
            format_version: FORMAT_VERSION,
            source: None,
            listing: Listing::default(),
            files,
        }
    }

    /// Refuses what plotward refuses, in its words: another format version, malformed fids
    /// or paths, a fid twice, a file whose folder is not listed.
    fn validate(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "unsupported format_version {}; this plotward reads version {FORMAT_VERSION}",
                self.format_version
            ));
        }
        let mut fids = HashSet::with_capacity(self.files.len());
        for file in &self.files {
            check_fid(&file.fid)?;
            check_path(&file.path).map_err(|why| format!("file {}: {why}", file.fid))?;
            if !fids.insert(file.fid.as_str()) {
                return Err(format!("fid {} appears more than once", file.fid));
            }
        }
        let folders: HashSet<&str> = self
            .files
            .iter()
            .filter(|f| f.filetype == "fold")
            .map(|f| f.path.as_str())
            .collect();
        for file in &self.files {
            if let Some((folder, _)) = file.path.rsplit_once('/')
                && !folders.contains(folder)
            {
                return Err(format!(
                    "file {} is in folder {}, which the snapshot does not list; a snapshot \
                     lists every folder (\"filetype\": \"fold\"), because a folder's sharing \
                     reaches everything in it",
                    file.fid,
                    plotward_visible::escape(folder)
                ));
            }
        }
        Ok(())
    }
}

fn check_fid(fid: &str) -> Result<(), String> {
    match fid.rsplit_once(':') {
        Some((owner, id)) if !owner.is_empty() && id.parse::<i64>().is_ok() => Ok(()),
        _ => Err(format!("fid {fid:?} is not of the form owner:number")),
    }
}

/// `/`-joined names with no leading, trailing or doubled slash, at most [`MAX_PATH_BYTES`].
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path is empty".to_owned());
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!("path is longer than {MAX_PATH_BYTES} bytes"));
    }
    if path.split('/').any(str::is_empty) {
        return Err(format!(
            "path {path:?} has an empty folder name (leading, trailing or doubled `/`)"
        ));
    }
    Ok(())
}

/// `serde_json` appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Reads a UTF-8 file of at most [`MAX_SNAPSHOT_BYTES`], reading no more than that whatever
/// the file claims (a FIFO or a growing file included). Seeds, state files and journals are
/// all read through it, so no file the sandbox is pointed at can make it hold more.
pub(crate) fn read_bounded(path: &Path) -> io::Result<String> {
    String::from_utf8(read_bounded_bytes(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// [`read_bounded`] without the UTF-8 check, for the journal (whose torn tail may be cut
/// mid-character).
pub(crate) fn read_bounded_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} GiB (plotward reads at most that much)",
                MAX_SNAPSHOT_BYTES >> 30
            ),
        )
    };
    let file = std::fs::File::open(path)?;
    if file
        .metadata()
        .is_ok_and(|meta| meta.len() > MAX_SNAPSHOT_BYTES)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SNAPSHOT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SnapshotFile>, String> {
        Snapshot::parse(text, Path::new("s.json")).map_err(|err| err.to_string())
    }

    #[test]
    fn errors_name_the_position_or_the_file() {
        assert_eq!(
            parse("{\"format_version\": 1,\n \"files\": [{\"fid\": \"a:1\"}]}").unwrap_err(),
            "s.json:2:25: invalid snapshot: missing field `path`"
        );
        let dup = r#"{"format_version":1,"files":[
            {"fid":"a:1","path":"p","filetype":"plot","world_readable":true,"share_key_enabled":false},
            {"fid":"a:1","path":"q","filetype":"plot","world_readable":true,"share_key_enabled":false}]}"#;
        assert_eq!(
            parse(dup).unwrap_err(),
            "s.json: invalid snapshot: fid a:1 appears more than once"
        );
        assert!(
            parse(r#"{"format_version":2,"files":[]}"#)
                .unwrap_err()
                .contains("unsupported format_version 2")
        );
        let unlisted = r#"{"format_version":1,"files":[
            {"fid":"a:1","path":"x\u202e/p","filetype":"plot","world_readable":true,"share_key_enabled":false}]}"#;
        assert!(
            parse(unlisted)
                .unwrap_err()
                .contains("file a:1 is in folder x\\u{202e}, which the snapshot does not list"),
        );
    }

    #[test]
    fn paths_and_fids_are_checked() {
        assert!(check_path("a/b").is_ok());
        assert!(check_path("/a").is_err());
        assert!(check_path("a//b").is_err());
        assert!(check_path("a/").is_err());
        assert!(check_path(&"a".repeat(MAX_PATH_BYTES + 1)).is_err());
        assert!(check_fid("al.ice_-1:0").is_ok());
        assert!(check_fid("alice").is_err());
        assert!(check_fid(":3").is_err());
    }

    #[test]
    fn what_is_written_reads_back_sorted_without_source_or_listing() {
        let file = |fid: &str, path: &str, filetype: &str| SnapshotFile {
            fid: fid.to_owned(),
            path: path.to_owned(),
            filetype: filetype.to_owned(),
            flags: Flags {
                world_readable: false,
                share_key_enabled: true,
            },
        };
        let written = serde_json::to_string(&Snapshot::of(vec![
            file("a:2", "z/b", "plot"),
            file("a:1", "z", "fold"),
        ]))
        .unwrap();
        assert_eq!(
            written,
            r#"{"format_version":1,"files":[{"fid":"a:1","path":"z","filetype":"fold","world_readable":false,"share_key_enabled":true},{"fid":"a:2","path":"z/b","filetype":"plot","world_readable":false,"share_key_enabled":true}]}"#
        );
        assert_eq!(parse(&written).unwrap().len(), 2);
    }

    #[test]
    fn files_past_the_limit_or_not_text_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_bounded(&path).unwrap_err().to_string(),
            "it is not UTF-8 text"
        );
        let missing = Snapshot::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read snapshot "),
            "{missing}"
        );
    }
}
