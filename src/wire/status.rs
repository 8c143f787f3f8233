//! What `status --format json` prints.
//!
//! Wire types only, pinned by the integration tests' mirror structs;
//! `render::json::status_json` builds one from `status`'s rows.

use serde::{Deserialize, Serialize};

use crate::inventory::{FileType, Sharing};
use crate::wire::plan::{RuleJson, Source};

/// The status format version.
pub(crate) const STATUS_FORMAT_VERSION: u32 = 1;

/// `status --format json`: `{format_version, policy, source, judged_from, compliant, files:
/// [{path, found, fid?, filetype?, sharing?, effective?, through?, wanted?, rule?, compliant?,
/// plan?, to?, restricts_folder?, message}]}`, the files in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusJson {
    /// Always [`STATUS_FORMAT_VERSION`].
    pub format_version: u32,
    pub policy: String,
    /// Where the files were read.
    pub source: Source,
    /// `lookup` (each file and the folders above it), `listing` (the whole account, for a
    /// folder or a file whose plan depends on other files) or `snapshot`.
    pub judged_from: String,
    /// Whether every given path is a file that complies.
    pub compliant: bool,
    /// One entry per given path (per file, should a snapshot hold a path twice).
    pub files: Vec<StatusFileJson>,
}

/// One given path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusFileJson {
    pub path: String,
    /// Whether a file is there; the other fields but `message` are absent when not.
    pub found: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetype: Option<FileType>,
    /// The level its own flags say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
    /// The level the world sees (more than `sharing` through a folder above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<Sharing>,
    /// The folder that makes it more exposed than its own flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// What the policy wants the world to see; absent when unmanaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted: Option<Sharing>,
    /// The rule (or `default`) that decided it; absent for a folder no rule names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleJson>,
    /// Whether `check` finds nothing wrong with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliant: Option<bool>,
    /// What `plan` does to its own flags: `ignore`, `keep`, `restrict` or `expose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The level `plan` sets (with `restrict` or `expose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Sharing>,
    /// The folder `plan` restricts because it exposes this file more than the policy wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricts_folder: Option<String>,
    /// The verdict in words, as the text report says it.
    pub message: String,
}
