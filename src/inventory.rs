//! The inventory: what the remote account holds, and the snapshot file format that stores it.
//!
//! An [`Inventory`] is a flat list of [`RemoteFile`]s with their paths already resolved from the
//! folder tree. It comes from a live listing (the `remote` client) or from a snapshot file, whose
//! wire format is documented on [`Snapshot`] (in [`crate::wire::snapshot`]); reading one is
//! here.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wire::snapshot::{SNAPSHOT_FORMAT_VERSION, Snapshot, SnapshotSource};

/// A sharing level, ordered by exposure: `Private < Secret < Public`.
///
/// The derived `Ord` is the exposure order, so comparing two levels tells whether a change
/// restricts or exposes a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Owner and collaborators only: `world_readable = false`, `share_key_enabled = false`.
    Private,
    /// Anyone holding the share-key link: `world_readable = false`, `share_key_enabled = true`.
    Secret,
    /// Anyone: `world_readable = true`.
    Public,
}

impl Sharing {
    /// Every level, in exposure order.
    pub const ALL: [Sharing; 3] = [Sharing::Private, Sharing::Secret, Sharing::Public];

    /// Reads the level from the two API flags.
    ///
    /// `world_readable` wins: a world-readable file is public whatever its share-key flag says,
    /// because anyone can open it without the key.
    pub fn from_flags(flags: Flags) -> Sharing {
        match (flags.world_readable, flags.share_key_enabled) {
            (true, _) => Sharing::Public,
            (false, true) => Sharing::Secret,
            (false, false) => Sharing::Private,
        }
    }

    /// The flags that express this level. Apply always sends both, so no stale share key
    /// survives a change.
    pub fn flags(self) -> Flags {
        Flags {
            world_readable: self == Sharing::Public,
            share_key_enabled: self == Sharing::Secret,
        }
    }

    /// The lowercase word used in policies, plans and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Private => "private",
            Sharing::Secret => "secret",
            Sharing::Public => "public",
        }
    }
}

impl fmt::Display for Sharing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The two sharing flags of a Chart Studio file, exactly as the API reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    /// `true` for public files.
    pub world_readable: bool,
    /// `true` when the share-key link is on.
    pub share_key_enabled: bool,
}

/// A Chart Studio file type, as the API names it in `filetype`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileType {
    /// `plot`
    Plot,
    /// `grid`
    Grid,
    /// `dashboard`
    Dashboard,
    /// `spectacle_presentation`
    Presentation,
    /// `fold`: a folder.
    Folder,
    /// Any other type the server reports (`external_image`, `html_text`, ...), kept verbatim.
    Other(String),
}

impl FileType {
    /// The API names of the types plotward knows by name, for validation messages.
    pub const KNOWN: [&'static str; 8] = [
        "plot",
        "grid",
        "dashboard",
        "spectacle_presentation",
        "fold",
        "external_image",
        "html_text",
        "jupyter_notebook",
    ];

    /// The four types that hold content and that a policy manages by default.
    pub const COMMON: [FileType; 4] = [
        FileType::Plot,
        FileType::Grid,
        FileType::Dashboard,
        FileType::Presentation,
    ];

    /// Parses the API name of a file type; unknown names become [`FileType::Other`].
    pub fn from_api(name: &str) -> FileType {
        match name {
            "plot" => FileType::Plot,
            "grid" => FileType::Grid,
            "dashboard" => FileType::Dashboard,
            "spectacle_presentation" => FileType::Presentation,
            "fold" => FileType::Folder,
            other => FileType::Other(other.to_owned()),
        }
    }

    /// The API name (`plot`, `fold`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            FileType::Plot => "plot",
            FileType::Grid => "grid",
            FileType::Dashboard => "dashboard",
            FileType::Presentation => "spectacle_presentation",
            FileType::Folder => "fold",
            FileType::Other(name) => name,
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for FileType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FileType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(FileType::from_api(&name))
    }
}

/// One file of the remote account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFile {
    /// The file id, `owner:idlocal` (`alice:42`).
    pub fid: String,
    /// Folder names and filename joined by `/`, no leading slash (`reports/q3/revenue`).
    pub path: String,
    /// The file type.
    pub filetype: FileType,
    /// The sharing flags as observed.
    #[serde(flatten)]
    pub flags: Flags,
}

impl RemoteFile {
    /// The sharing level the flags express.
    pub fn sharing(&self) -> Sharing {
        Sharing::from_flags(self.flags)
    }
}

/// What the listing behind an inventory could not vouch for. Every plan, check, snapshot and
/// export made from the inventory repeats it, so no output claims more than the listing
/// proved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Files of other users that the listing held and plotward skipped.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub foreign_skipped: usize,
    /// The user's files left out because their folder is not in the listing: never judged,
    /// so `check` cannot call the account compliant while there are any.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unplaced: usize,
    /// Set when the server's `count` never matched the items listed and the user chose to go
    /// on (`--accept-count-mismatch`): the listing is not proven complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unproven: Option<CountMismatch>,
}

/// A listing whose item count differs from the server's `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountMismatch {
    /// What the server's `count` said.
    pub counted: usize,
    /// How many distinct items were listed.
    pub listed: usize,
}

impl Coverage {
    /// Whether there is nothing to say.
    pub fn is_full(&self) -> bool {
        *self == Coverage::default()
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Every file of an account, sorted by path then fid so that everything built from it is
/// deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    files: Vec<RemoteFile>,
    coverage: Coverage,
}

impl Inventory {
    /// Builds an inventory, sorting the files by path then fid.
    pub fn new(mut files: Vec<RemoteFile>) -> Inventory {
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path).then_with(|| a.fid.cmp(&b.fid)));
        Inventory {
            files,
            coverage: Coverage::default(),
        }
    }

    /// The same inventory, with what its listing could not vouch for.
    #[must_use]
    pub fn with_coverage(mut self, coverage: Coverage) -> Inventory {
        self.coverage = coverage;
        self
    }

    /// What the listing behind this inventory could not vouch for.
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// The files, sorted by path then fid.
    pub fn files(&self) -> &[RemoteFile] {
        &self.files
    }

    /// The number of files, folders included.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the account holds no file at all.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
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
pub enum Impossible {
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
        crate::visible::escape(folder)
    )]
    MissingFolder {
        fid: String,
        /// The folder path no entry names.
        folder: String,
    },
}

/// Why a path is not `/`-joined names of bounded length.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    /// No name at all.
    #[error("path is empty")]
    Empty,
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    /// A leading, trailing or doubled `/`.
    #[error("path {0:?} has an empty folder name (leading, trailing or doubled `/`)")]
    EmptyName(String),
}

/// Reading and writing the snapshot document ([`crate::wire::snapshot`]) lives here, beside
/// the rules every path and fid of an inventory follows.
impl Snapshot {
    /// Wraps an inventory for writing.
    pub fn from_inventory(inventory: &Inventory, source: Option<SnapshotSource>) -> Snapshot {
        Snapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            source,
            listing: inventory.coverage(),
            files: inventory.files().to_vec(),
        }
    }

    /// Reads and validates a snapshot file.
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let text =
            crate::limits::read_text(path, crate::limits::MAX_DATA_BYTES).map_err(|source| {
                SnapshotError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Snapshot::parse(&text, path)
    }

    /// Parses and validates snapshot JSON; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Snapshot, SnapshotError> {
        let snapshot: Snapshot =
            serde_json::from_str(text).map_err(|err| SnapshotError::Syntax {
                path: path.to_owned(),
                line: err.line(),
                column: err.column(),
                message: strip_position(&err.to_string()),
            })?;
        snapshot
            .validate()
            .map_err(|problem| SnapshotError::Invalid {
                path: path.to_owned(),
                problem,
            })?;
        Ok(snapshot)
    }

    /// The files as an inventory.
    pub fn into_inventory(self) -> Inventory {
        Inventory::new(self.files).with_coverage(self.listing)
    }

    fn validate(&self) -> Result<(), Impossible> {
        if self.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(Impossible::FormatVersion(self.format_version));
        }
        let mut fids = HashSet::with_capacity(self.files.len());
        for file in &self.files {
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
        let folders: HashSet<&str> = self
            .files
            .iter()
            .filter(|f| f.filetype == FileType::Folder)
            .map(|f| f.path.as_str())
            .collect();
        for file in &self.files {
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
}

/// Checks the `owner:idlocal` shape of a fid.
fn check_fid(fid: &str) -> Result<(), Impossible> {
    match fid.rsplit_once(':') {
        Some((owner, id)) if !owner.is_empty() && id.parse::<i64>().is_ok() => Ok(()),
        _ => Err(Impossible::Fid(fid.to_owned())),
    }
}

/// The longest path plotward accepts, in bytes: far above any real one, and a bound on what a
/// listing or snapshot can make plotward hold per file.
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// Checks that a path is `/`-joined names with no leading, trailing or doubled slash, and at
/// most [`MAX_PATH_BYTES`] long.
pub(crate) fn check_path(path: &str) -> Result<(), BadPath> {
    if path.is_empty() {
        return Err(BadPath::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(BadPath::TooLong);
    }
    if path.split('/').any(str::is_empty) {
        return Err(BadPath::EmptyName(path.to_owned()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(world_readable: bool, share_key_enabled: bool) -> Flags {
        Flags {
            world_readable,
            share_key_enabled,
        }
    }

    #[test]
    fn sharing_follows_the_documented_flag_mapping() {
        assert_eq!(Sharing::from_flags(flags(true, false)), Sharing::Public);
        assert_eq!(Sharing::from_flags(flags(true, true)), Sharing::Public);
        assert_eq!(Sharing::from_flags(flags(false, true)), Sharing::Secret);
        assert_eq!(Sharing::from_flags(flags(false, false)), Sharing::Private);
        for level in Sharing::ALL {
            assert_eq!(Sharing::from_flags(level.flags()), level);
        }
    }

    #[test]
    fn exposure_order_is_private_secret_public() {
        assert!(Sharing::Private < Sharing::Secret);
        assert!(Sharing::Secret < Sharing::Public);
    }

    #[test]
    fn snapshot_round_trips_and_sorts() {
        let text = r#"{"format_version":1,"files":[
            {"fid":"a:2","path":"z/b","filetype":"plot","world_readable":true,"share_key_enabled":false},
            {"fid":"a:1","path":"z","filetype":"fold","world_readable":false,"share_key_enabled":false},
            {"fid":"a:3","path":"x","filetype":"html_text","world_readable":false,"share_key_enabled":true,"extra":1}
        ]}"#;
        let inventory = Snapshot::parse(text, Path::new("s.json"))
            .unwrap()
            .into_inventory();
        let paths: Vec<_> = inventory.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["x", "z", "z/b"]);
        assert_eq!(
            inventory.files()[0].filetype,
            FileType::Other("html_text".into())
        );
        let written = serde_json::to_string(&Snapshot::from_inventory(&inventory, None)).unwrap();
        let again = Snapshot::parse(&written, Path::new("s.json")).unwrap();
        assert_eq!(again.into_inventory(), inventory);
    }

    #[test]
    fn snapshot_errors_name_the_position_or_the_file() {
        let err = Snapshot::parse(
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
        let err = Snapshot::parse(dup, Path::new("s.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json: invalid snapshot: fid a:1 appears more than once"
        );
        let err =
            Snapshot::parse(r#"{"format_version":2,"files":[]}"#, Path::new("s.json")).unwrap_err();
        assert!(err.to_string().contains("unsupported format_version 2"));
    }

    #[test]
    fn paths_and_fids_are_checked() {
        assert!(check_path("a/b").is_ok());
        assert!(check_path("/a").is_err());
        assert!(check_path("a//b").is_err());
        assert!(check_path("a/").is_err());
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
            let _ = Snapshot::parse(&text, Path::new("s.json"));
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
            if let Ok(snapshot) = Snapshot::parse(&text, Path::new("s.json")) {
                let mut fids = HashSet::new();
                for file in &snapshot.files {
                    prop_assert!(check_path(&file.path).is_ok());
                    prop_assert!(fids.insert(file.fid.clone()));
                }
            }
        }
    }
}
