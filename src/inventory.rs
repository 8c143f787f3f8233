//! The inventory: what the remote account holds.
//!
//! An [`Inventory`] is a flat list of [`RemoteFile`]s with their paths already resolved from the
//! folder tree. It comes from a live listing (the `remote` client) or from a snapshot file
//! ([`crate::snapshot`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A sharing level, ordered by exposure: `Private < Secret < Public`.
///
/// The derived `Ord` is the exposure order, so comparing two levels tells whether a change
/// restricts or exposes a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Sharing {
    /// Owner and collaborators only: `world_readable = false`, `share_key_enabled = false`.
    Private,
    /// Anyone holding the share-key link: `world_readable = false`, `share_key_enabled = true`.
    Secret,
    /// Anyone: `world_readable = true`.
    Public,
}

impl Sharing {
    /// Every level, in exposure order.
    pub(crate) const ALL: [Sharing; 3] = [Sharing::Private, Sharing::Secret, Sharing::Public];

    /// Reads the level from the two API flags.
    ///
    /// `world_readable` wins: a world-readable file is public whatever its share-key flag says,
    /// because anyone can open it without the key.
    pub(crate) fn from_flags(flags: Flags) -> Sharing {
        match (flags.world_readable, flags.share_key_enabled) {
            (true, _) => Sharing::Public,
            (false, true) => Sharing::Secret,
            (false, false) => Sharing::Private,
        }
    }

    /// The flags that express this level. Apply always sends both, so no stale share key
    /// survives a change.
    pub(crate) fn flags(self) -> Flags {
        Flags {
            world_readable: self == Sharing::Public,
            share_key_enabled: self == Sharing::Secret,
        }
    }

    /// The lowercase word used in policies, plans and output.
    pub(crate) fn as_str(self) -> &'static str {
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
#[serde(deny_unknown_fields)]
pub(crate) struct Flags {
    /// `true` for public files.
    pub world_readable: bool,
    /// `true` when the share-key link is on.
    pub share_key_enabled: bool,
}

/// A Chart Studio file type, as the API names it in `filetype`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum FileType {
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
    pub(crate) const KNOWN: [&'static str; 8] = [
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
    pub(crate) const COMMON: [FileType; 4] = [
        FileType::Plot,
        FileType::Grid,
        FileType::Dashboard,
        FileType::Presentation,
    ];

    /// Parses the API name of a file type; unknown names become [`FileType::Other`].
    pub(crate) fn from_api(name: &str) -> FileType {
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
    pub(crate) fn as_str(&self) -> &str {
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

/// One file of the remote account. Not a wire type: the snapshot format has its own
/// (`SnapshotFile`), so renaming a field here renames nothing in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteFile {
    /// The file id, `owner:idlocal` (`alice:42`).
    pub fid: String,
    /// Folder names and filename joined by `/`, no leading slash (`reports/q3/revenue`).
    pub path: String,
    /// The file type.
    pub filetype: FileType,
    /// The sharing flags as observed.
    pub flags: Flags,
}

impl RemoteFile {
    /// The sharing level the flags express.
    pub(crate) fn sharing(&self) -> Sharing {
        Sharing::from_flags(self.flags)
    }
}

/// What the listing behind an inventory could not vouch for. Every plan, check, snapshot and
/// export made from the inventory repeats it, so no output claims more than the listing
/// proved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Coverage {
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
#[serde(deny_unknown_fields)]
pub(crate) struct CountMismatch {
    /// What the server's `count` said.
    pub counted: usize,
    /// How many distinct items were listed.
    pub listed: usize,
}

impl Coverage {
    /// Whether there is nothing to say.
    pub(crate) fn is_full(&self) -> bool {
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
pub(crate) struct Inventory {
    files: Vec<RemoteFile>,
    coverage: Coverage,
}

impl Inventory {
    /// Builds an inventory, sorting the files by path then fid.
    pub(crate) fn new(mut files: Vec<RemoteFile>) -> Inventory {
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path).then_with(|| a.fid.cmp(&b.fid)));
        Inventory {
            files,
            coverage: Coverage::default(),
        }
    }

    /// The same inventory, with what its listing could not vouch for.
    #[must_use]
    pub(crate) fn with_coverage(mut self, coverage: Coverage) -> Inventory {
        self.coverage = coverage;
        self
    }

    /// What the listing behind this inventory could not vouch for.
    pub(crate) fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// The files, sorted by path then fid.
    pub(crate) fn files(&self) -> &[RemoteFile] {
        &self.files
    }

    /// The number of files, folders included.
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }
}

/// Why a path is not `/`-joined names of bounded length.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadPath {
    /// No name at all.
    #[error("path is empty")]
    Empty,
    /// Longer than [`crate::limits::MAX_PATH_BYTES`].
    #[error("path is longer than {} bytes", crate::limits::MAX_PATH_BYTES)]
    TooLong,
    /// A leading, trailing or doubled `/`.
    #[error("path {0:?} has an empty folder name (leading, trailing or doubled `/`)")]
    EmptyName(String),
}

/// Whether `name` can be a Chart Studio username: not empty, and no `:`, `/`, `?`, `#`, `%`,
/// `\`, whitespace or control characters (it is the owner part of every fid, and half of the
/// Basic credentials).
pub(crate) fn is_username(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && !matches!(c, ':' | '/' | '?' | '#' | '%' | '\\')
        })
}

/// Checks that a path is `/`-joined names with no leading, trailing or doubled slash, and at
/// most [`crate::limits::MAX_PATH_BYTES`] long.
pub(crate) fn check_path(path: &str) -> Result<(), BadPath> {
    if path.is_empty() {
        return Err(BadPath::Empty);
    }
    if path.len() > crate::limits::MAX_PATH_BYTES {
        return Err(BadPath::TooLong);
    }
    // A path has an empty name exactly when it starts or ends with `/` or holds `//`;
    // searched that way (memchr), not split, as it runs once per listed file.
    if path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return Err(BadPath::EmptyName(path.to_owned()));
    }
    Ok(())
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
    fn paths_are_checked() {
        assert!(check_path("a/b").is_ok());
        assert!(check_path("/a").is_err());
        assert!(check_path("a//b").is_err());
        assert!(check_path("a/").is_err());
    }
}
