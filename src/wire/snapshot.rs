//! The snapshot: an inventory saved as JSON. Wire types only; reading one (bounded, validated)
//! into an inventory and writing one from an inventory are in [`crate::snapshot`].

use serde::{Deserialize, Serialize};

use crate::inventory::{Coverage, FileType, Flags};

/// The snapshot format version this build reads and writes.
pub(crate) const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// A snapshot: an inventory saved as JSON, for offline plans, tests and sandbox seeds.
///
/// # Wire format (`format_version` 1)
///
/// ```json
/// {
///   "format_version": 1,
///   "source": { "api_url": "https://plotly.example.com", "user": "alice", "taken_at": "2026-11-27T13:00:00Z" },
///   "files": [
///     { "fid": "alice:3", "path": "reports", "filetype": "fold",
///       "world_readable": false, "share_key_enabled": false },
///     { "fid": "alice:42", "path": "reports/q3/revenue", "filetype": "plot",
///       "world_readable": false, "share_key_enabled": true }
///   ]
/// }
/// ```
///
/// - `source` is optional and informative: where and when the snapshot was taken.
/// - `files` lists folders (`"filetype": "fold"`) as well as files, so that a sandbox seeded
///   from the snapshot can rebuild the folder tree, and so that a file is judged by its
///   folders' sharing too. Every file's folder must be listed. A file's owner is the part of its fid
///   before the colon.
/// - `listing` (optional) says what the live listing could not vouch for:
///   `{"foreign_skipped": 3, "unplaced": 2, "unproven": {"counted": 120, "listed": 117}}`
///   (each part absent when there is nothing to say). Plans and checks made from the snapshot
///   repeat it.
/// - Share keys are never stored: a snapshot says whether a link exists, not what it is.
/// - Readers ignore fields they do not know, so later versions may add fields; a change that
///   breaks readers bumps `format_version`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// Always [`SNAPSHOT_FORMAT_VERSION`].
    pub format_version: u32,
    /// Where the snapshot came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SnapshotSource>,
    /// What the listing could not vouch for; absent when it was complete.
    #[serde(default, skip_serializing_if = "Coverage::is_full")]
    pub listing: Coverage,
    /// Every file and folder.
    pub files: Vec<SnapshotFile>,
}

/// One file or folder of a snapshot. Its own type, not [`crate::inventory::RemoteFile`], so
/// that renaming a domain field cannot rename a snapshot field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// serde's messages name the struct ("expected struct RemoteFile"), and snapshot errors quote
// them: the words stay as they were when this was the domain type.
#[serde(expecting = "struct RemoteFile")]
pub(crate) struct SnapshotFile {
    /// `owner:number` (`alice:42`).
    pub fid: String,
    /// Folder names and filename joined by `/`, no leading slash.
    pub path: String,
    /// The API's file type (`plot`, `fold`, ...).
    pub filetype: FileType,
    /// `world_readable` and `share_key_enabled`, flattened: they sit beside `fid`, as in the
    /// API's file objects.
    #[serde(flatten)]
    pub flags: Flags,
}

/// Where a snapshot was taken.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotSource {
    /// The API base URL the files were listed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The user whose files these are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the listing was taken (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
}
