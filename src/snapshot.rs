//! Snapshot files: reading one (bounded, validated into an [`Inventory`]) and writing one
//! from an inventory. The document's serde types are [`crate::wire::snapshot`]; the rules a
//! path follows are [`crate::inventory::check_path`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::inventory::{BadPath, FileType, Inventory, RemoteFile, check_path};
use crate::wire::snapshot::{SNAPSHOT_FORMAT_VERSION, Snapshot, SnapshotFile, SnapshotSource};

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read snapshot {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The JSON is malformed or does not have the snapshot shape.
    #[error("{path}:{line}:{column}: invalid snapshot: {message}")]
    Syntax {
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// `serde_json`'s message, without its own position suffix.
        message: String,
    },
    /// The snapshot is well-formed but says something impossible.
    #[error("{path}: invalid snapshot: {problem}")]
    Invalid { path: PathBuf, problem: Impossible },
}

/// What a well-formed snapshot can say that no account holds.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Impossible {
    /// A format this build does not read.
    #[error(
        "unsupported format_version {0}; this plotward reads version {SNAPSHOT_FORMAT_VERSION}"
    )]
    FormatVersion(u32),
    /// A fid not of the form `owner:number`.
    #[error("fid {0:?} is not of the form owner:number")]
    Fid(String),
    /// A path no file can have.
    #[error("file {fid}: {problem}")]
    Path {
        fid: String,
        /// What is wrong with its path.
        problem: BadPath,
    },
    /// The same fid twice.
    #[error("fid {0} appears more than once")]
    Duplicate(String),
    /// A file whose folder is not listed, so what the world sees of it cannot be judged.
    #[error(
        "file {fid} is in folder {}, which the snapshot does not list; a snapshot lists every \
         folder (\"filetype\": \"fold\"), because a folder's sharing reaches everything in it",
        plotward_visible::escape(folder)
    )]
    MissingFolder {
        fid: String,
        /// The folder path no entry names.
        folder: String,
    },
}

/// Reads and validates a snapshot file into an inventory.
pub(crate) fn load(path: &Path) -> Result<Inventory, SnapshotError> {
    let text = crate::limits::read_text(path, crate::limits::MAX_DATA_BYTES).map_err(|source| {
        SnapshotError::Read {
            path: path.to_owned(),
            source,
        }
    })?;
    parse(&text, path)
}

/// Parses and validates snapshot JSON into an inventory; `path` only names the source in
/// errors.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Inventory, SnapshotError> {
    let snapshot: Snapshot = serde_json::from_str(text).map_err(|err| SnapshotError::Syntax {
        path: path.to_owned(),
        line: err.line(),
        column: err.column(),
        message: strip_position(&err.to_string()),
    })?;
    Inventory::try_from(snapshot).map_err(|problem| SnapshotError::Invalid {
        path: path.to_owned(),
        problem,
    })
}

/// A snapshot becomes an inventory only if some account could hold it: the format this build
/// reads, well-formed fids and paths, each fid once, every folder listed.
impl TryFrom<Snapshot> for Inventory {
    type Error = Impossible;

    fn try_from(snapshot: Snapshot) -> Result<Inventory, Impossible> {
        validate(&snapshot)?;
        let files = snapshot.files.into_iter().map(RemoteFile::from).collect();
        Ok(Inventory::new(files).with_coverage(snapshot.listing))
    }
}

/// Writing the snapshot document ([`crate::wire::snapshot`]) lives here, beside its reading.
impl Snapshot {
    /// The snapshot of an inventory, ready to write.
    pub(crate) fn from_inventory(
        inventory: &Inventory,
        source: Option<SnapshotSource>,
    ) -> Snapshot {
        Snapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            source,
            listing: inventory.coverage(),
            files: inventory.files().iter().map(SnapshotFile::from).collect(),
        }
    }
}

impl From<SnapshotFile> for RemoteFile {
    fn from(file: SnapshotFile) -> RemoteFile {
        RemoteFile {
            fid: file.fid,
            path: file.path,
            filetype: file.filetype,
            flags: file.flags,
        }
    }
}

impl From<&RemoteFile> for SnapshotFile {
    fn from(file: &RemoteFile) -> SnapshotFile {
        SnapshotFile {
            fid: file.fid.clone(),
            path: file.path.clone(),
            filetype: file.filetype.clone(),
            flags: file.flags,
        }
    }
}

/// The first thing `snapshot` says that no account holds, if any.
fn validate(snapshot: &Snapshot) -> Result<(), Impossible> {
    if snapshot.format_version != SNAPSHOT_FORMAT_VERSION {
        return Err(Impossible::FormatVersion(snapshot.format_version));
    }
    let mut fids = HashSet::with_capacity(snapshot.files.len());
    for file in &snapshot.files {
        check_fid(&file.fid)?;
        check_path(&file.path).map_err(|problem| Impossible::Path {
            fid: file.fid.clone(),
            problem,
        })?;
        if !fids.insert(file.fid.as_str()) {
            return Err(Impossible::Duplicate(file.fid.clone()));
        }
    }
    // A folder's sharing reaches its contents, so a file whose folder is missing could
    // not be judged by what the world sees of it.
    let folders: HashSet<&str> = snapshot
        .files
        .iter()
        .filter(|f| f.filetype == FileType::Folder)
        .map(|f| f.path.as_str())
        .collect();
    for file in &snapshot.files {
        if let Some((folder, _)) = file.path.rsplit_once('/')
            && !folders.contains(folder)
        {
            return Err(Impossible::MissingFolder {
                fid: file.fid.clone(),
                folder: folder.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks the `owner:idlocal` shape of a fid.
fn check_fid(fid: &str) -> Result<(), Impossible> {
    match fid.rsplit_once(':') {
        Some((owner, id)) if !owner.is_empty() && id.parse::<i64>().is_ok() => Ok(()),
        _ => Err(Impossible::Fid(fid.to_owned())),
    }
}

/// `serde_json` appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_and_sorts() {
        let text = r#"{"format_version":1,"files":[
            {"fid":"a:2","path":"z/b","filetype":"plot","world_readable":true,"share_key_enabled":false},
            {"fid":"a:1","path":"z","filetype":"fold","world_readable":false,"share_key_enabled":false},
            {"fid":"a:3","path":"x","filetype":"html_text","world_readable":false,"share_key_enabled":true,"extra":1}
        ]}"#;
        let inventory = parse(text, Path::new("s.json")).unwrap();
        let paths: Vec<_> = inventory.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["x", "z", "z/b"]);
        assert_eq!(
            inventory.files()[0].filetype,
            FileType::Other("html_text".into())
        );
        let written = serde_json::to_string(&Snapshot::from_inventory(&inventory, None)).unwrap();
        assert_eq!(parse(&written, Path::new("s.json")).unwrap(), inventory);
    }

    #[test]
    fn snapshots_are_written_in_the_pinned_shape() {
        let file = RemoteFile {
            fid: "a:1".into(),
            path: "p".into(),
            filetype: FileType::Plot,
            flags: crate::inventory::Sharing::Secret.flags(),
        };
        let inventory = Inventory::new(vec![file]).with_coverage(crate::inventory::Coverage {
            unplaced: 2,
            ..crate::inventory::Coverage::default()
        });
        let source = SnapshotSource {
            api_url: Some("https://x".into()),
            ..SnapshotSource::default()
        };
        let written =
            serde_json::to_string(&Snapshot::from_inventory(&inventory, Some(source))).unwrap();
        assert_eq!(
            written,
            r#"{"format_version":1,"source":{"api_url":"https://x"},"listing":{"unplaced":2},"files":[{"fid":"a:1","path":"p","filetype":"plot","world_readable":false,"share_key_enabled":true}]}"#
        );
    }

    #[test]
    fn snapshot_errors_name_the_position_or_the_file() {
        let err = parse(
            "{\"format_version\": 1,\n \"files\": [{\"fid\": \"a:1\"}]}",
            Path::new("s.json"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json:2:25: invalid snapshot: missing field `path`"
        );
        let dup = r#"{"format_version":1,"files":[
            {"fid":"a:1","path":"p","filetype":"plot","world_readable":true,"share_key_enabled":false},
            {"fid":"a:1","path":"q","filetype":"plot","world_readable":true,"share_key_enabled":false}]}"#;
        let err = parse(dup, Path::new("s.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json: invalid snapshot: fid a:1 appears more than once"
        );
        let err = parse(r#"{"format_version":1,"files":[3]}"#, Path::new("s.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json:1:30: invalid snapshot: invalid type: integer `3`, expected struct RemoteFile"
        );
        let err = parse(r#"{"format_version":2,"files":[]}"#, Path::new("s.json")).unwrap_err();
        assert!(err.to_string().contains("unsupported format_version 2"));
    }

    #[test]
    fn fids_are_checked() {
        assert!(check_fid("al.ice_-1:0").is_ok());
        assert!(check_fid("alice").is_err());
        assert!(check_fid(":3").is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No text makes the snapshot reader panic, and whatever it accepts has valid paths
        /// and unique fids.
        #[test]
        fn any_text_is_a_snapshot_or_an_error(text in "\\PC{0,300}") {
            let _ = parse(&text, Path::new("s.json"));
        }

        #[test]
        fn near_valid_snapshots_hold_only_valid_files(
            files in prop::collection::vec(("[a-z]{0,3}:-?[0-9]{0,3}", "\\PC{0,12}", any::<bool>()), 0..8)
        ) {
            let files: Vec<serde_json::Value> = files
                .iter()
                .map(|(fid, path, public)| serde_json::json!({"fid": fid, "path": path,
                    "filetype": "plot", "world_readable": public, "share_key_enabled": false}))
                .collect();
            let text = serde_json::json!({"format_version": 1, "files": files}).to_string();
            if let Ok(inventory) = parse(&text, Path::new("s.json")) {
                let mut fids = HashSet::new();
                for file in inventory.files() {
                    prop_assert!(check_path(&file.path).is_ok());
                    prop_assert!(fids.insert(file.fid.clone()));
                }
            }
        }
    }
}
