//! The check result: what `check --format json` prints.
//!
//! Wire types only, pinned by the integration tests' mirror structs;
//! [`crate::render::json::check`] builds one from a check report.

use serde::{Deserialize, Serialize};

use crate::inventory::{Coverage, FileType, Sharing};
use crate::wire::plan::{DeadPatternJson, DeadRuleJson, RuleJson, Source};

/// The check format version.
pub(crate) const CHECK_FORMAT_VERSION: u32 = 1;

/// `check --format json`:
/// `{format_version, policy, source, compliant, summary: {files, violations, drift,
/// never_public}, violations: [{fid, path, filetype, kind, now, wanted?, rule?, message}]}`.
/// `kind` is `drift` (with `wanted` and `rule`) or `never_public`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckJson {
    /// Always [`CHECK_FORMAT_VERSION`].
    pub format_version: u32,
    pub policy: String,
    /// Where the inventory came from.
    pub source: Source,
    /// Whether nothing is wrong in the whole account: always `false` for a targeted check
    /// (`targets`), which cannot vouch for the rest.
    pub compliant: bool,
    /// The `--target` globs the check was limited to; absent for the whole account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub summary: CheckSummaryJson,
    /// Every violation, by path.
    pub violations: Vec<ViolationJson>,
    /// Rules that decided no file (they protect nothing).
    pub dead_rules: Vec<DeadRuleJson>,
    /// Patterns that match no file; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_patterns: Vec<DeadPatternJson>,
    /// What the listing could not vouch for; absent when it was complete.
    #[serde(default, skip_serializing_if = "Coverage::is_full")]
    pub listing: Coverage,
}

/// Counts of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckSummaryJson {
    /// Files judged.
    pub files: usize,
    /// All violations.
    pub violations: usize,
    /// Drifted files.
    pub drift: usize,
    /// Public `never_public` files.
    pub never_public: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ViolationJson {
    pub fid: String,
    pub path: String,
    pub filetype: FileType,
    /// `drift` or `never_public`.
    pub kind: String,
    /// Sharing now.
    pub now: Sharing,
    /// What the policy wants (drift only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted: Option<Sharing>,
    /// What decided it (drift only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleJson>,
    /// The folder through which the file is more exposed than its own flags, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// The violation in words, as the text report says it (`public, the policy wants private
    /// (rule 1 "finance/**")`).
    pub message: String,
}
