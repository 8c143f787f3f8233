//! The JSON plan: what `plan --format json` prints and `plan --out FILE` saves for `apply`.
//!
//! These are wire types, separate from [`crate::plan`]'s internal ones, so the format changes
//! only on purpose. A test pins the schema with mirror structs that deny unknown fields.
//! [`crate::render::json::plan_file`] builds one from a plan.
//!
//! # Wire format (`format_version` 1)
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "policy": "policies/example.yaml",
//!   "policy_sha256": "9f2c…",
//!   "source": { "type": "snapshot", "path": "examples/inventory.json" },
//!   "summary": { "restrict": 2, "expose": 1, "unchanged": 57, "ignored": 12 },
//!   "changes": [
//!     {
//!       "fid": "alice:77", "path": "finance/payroll", "filetype": "grid",
//!       "action": "restrict", "from": "public", "to": "private",
//!       "observed": { "world_readable": true, "share_key_enabled": false },
//!       "rule": { "type": "rule", "index": 1, "pattern": "finance/**", "line": 7 }
//!     }
//!   ],
//!   "dead_rules": [ { "index": 5, "patterns": ["legacy/**"], "line": 21 } ],
//!   "guardrails": [ { "guardrail": "max_exposures", "message": "12 exposures exceed guardrails.max_exposures: 10" } ]
//! }
//! ```
//!
//! - `policy_sha256` is the SHA-256 of the policy file's text; `apply PLANFILE` refuses the
//!   plan unless the policy it is given (`-p`) has exactly this digest.
//! - `source.type` is `snapshot` (with `path`) or `api` (with `api_url` and `user`).
//! - `changes` are sorted by path, then fid. `action` is `restrict` (exposure goes down) or
//!   `expose` (it goes up). Levels are `public`, `private` or `secret`.
//! - `observed` holds the two flags as listed when planning; `apply` refuses the plan if a
//!   file no longer has them.
//! - `rule.type` is `rule` (with the 1-based `index`, the `pattern` that matched and the
//!   rule's `line` in the policy) or `default`.
//! - `through` (optional, on a change) names the folder that makes the file more exposed than
//!   its own flags and the level the world sees now: `{"folder": "reports", "level":
//!   "public"}`. It is for people (`plotward show` prints it); apply does not read it.
//! - `guardrails` lists the guardrails the plan breaks (empty when none); `apply` refuses such
//!   a plan unless `--force`.
//! - `listing` (optional) says what the live listing could not vouch for:
//!   `{"foreign_skipped": 3, "unplaced": 2, "unproven": {"counted": 120, "listed": 117}}`
//!   (each part absent when there is nothing to say).
//! - `targets` (format version 2 only) lists the `--target` globs a targeted plan is limited
//!   to: its changes, summary and guardrails cover only the paths they match. A targeted plan
//!   is written as `format_version` 2 so that a reader that knows only version 1 refuses it
//!   rather than apply it as a plan of the whole account; a plan of the whole account stays
//!   version 1 (no `targets`). This build reads both, and refuses a version 1 plan with
//!   `targets` and a version 2 plan without.
//! - Share keys never appear.

use serde::{Deserialize, Serialize};

use crate::inventory::{Coverage, FileType, Flags, Sharing};

/// The plan format version this build writes for a plan of the whole account.
pub(crate) const PLAN_FORMAT_VERSION: u32 = 1;

/// The plan format version this build writes for a targeted plan (`--target`): a reader that
/// knows only version 1 refuses it, so no older plotward applies it as a whole plan.
pub(crate) const PLAN_FORMAT_VERSION_TARGETED: u32 = 2;

/// A plan as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanFile {
    /// [`PLAN_FORMAT_VERSION`], or [`PLAN_FORMAT_VERSION_TARGETED`] with `targets`.
    pub format_version: u32,
    /// The policy file the plan was made from.
    pub policy: String,
    /// SHA-256 of that policy's text; `apply` refuses the plan under any other policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
    /// Where the inventory came from.
    pub source: Source,
    pub summary: SummaryJson,
    /// The changes, by path then fid.
    pub changes: Vec<ChangeJson>,
    /// Rules that decided no file.
    pub dead_rules: Vec<DeadRuleJson>,
    /// Patterns (of live rules, or `never_public`) that match no file; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_patterns: Vec<DeadPatternJson>,
    /// Guardrails the plan breaks; `apply` refuses the plan unless forced.
    pub guardrails: Vec<BreachJson>,
    /// What the listing could not vouch for; absent when it was complete.
    #[serde(default, skip_serializing_if = "Coverage::is_full")]
    pub listing: Coverage,
    /// The folders the plan changes, with what lies below each; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<FolderChangeJson>,
    /// The `--target` globs the plan is limited to (format version 2 only); absent for a plan
    /// of the whole account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

/// A broken guardrail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreachJson {
    /// The setting: `never_public`, `max_changes` or `max_exposures`.
    pub guardrail: String,
    pub message: String,
}

/// Where the planned inventory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum Source {
    /// A snapshot file.
    Snapshot {
        /// Its path as given.
        path: String,
    },
    /// A live account.
    Api {
        /// The API base URL.
        api_url: String,
        /// The user whose files were listed.
        user: String,
    },
}

/// The counts of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SummaryJson {
    /// Changes that lower exposure.
    pub restrict: usize,
    /// Changes that raise exposure.
    pub expose: usize,
    /// Managed files already compliant.
    pub unchanged: usize,
    pub ignored: usize,
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeJson {
    pub fid: String,
    pub path: String,
    pub filetype: FileType,
    /// `restrict` or `expose`.
    pub action: DirectionJson,
    pub from: Sharing,
    pub to: Sharing,
    /// Flags observed when planning.
    pub observed: Flags,
    /// What decided it (for a folder restricted for its contents: what decided the file
    /// below that requires it).
    pub rule: RuleJson,
    /// For a folder restricted for its contents: the file below that requires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<RequiredByJson>,
    /// When a folder above makes the file more exposed than its own flags: that folder and
    /// the level the world sees now. Shown in every format; apply does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<ThroughJson>,
}

/// The folder that makes a file more exposed than its own flags, and the level it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThroughJson {
    /// The folder's path.
    pub folder: String,
    /// The level the world sees the file at now.
    pub level: Sharing,
}

/// The file below a folder that requires the folder's restriction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequiredByJson {
    pub fid: String,
    pub path: String,
    /// The level it wants.
    pub wants: Sharing,
}

/// A folder the plan changes, and what lies below it: a server that cascades folder changes
/// may reset those files, which apply then restores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FolderChangeJson {
    pub fid: String,
    pub path: String,
    pub from: Sharing,
    pub to: Sharing,
    /// Files and folders below it.
    pub files_below: usize,
    /// Of those, the ones with a secret link (which may get a new key).
    pub secret_below: usize,
}

/// `restrict` or `expose`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DirectionJson {
    /// Lowers exposure.
    Restrict,
    /// Raises exposure.
    Expose,
}

/// What decided a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum RuleJson {
    /// A rule of the policy decided, through one of its patterns.
    Rule {
        /// 1-based rule number.
        index: usize,
        /// The pattern that matched.
        pattern: String,
        /// The rule's line in the policy.
        line: u64,
    },
    /// The policy's default. A struct variant with no field, not a unit one: only then does
    /// `deny_unknown_fields` refuse `{"type": "default", "extra": 1}` (serde does not check a
    /// unit variant's other keys in an internally tagged enum).
    Default {},
}

/// A rule that decided no file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadRuleJson {
    /// 1-based rule number.
    pub index: usize,
    /// Its patterns, as written in the policy.
    pub patterns: Vec<String>,
    /// Its line in the policy.
    pub line: u64,
}

/// A pattern that matches no file: `{"rule": 2, "pattern": "hrr/**", "line": 5}`, `rule`
/// absent for a `never_public` glob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadPatternJson {
    /// The rule (1-based); absent for `guardrails.never_public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    pub pattern: String,
    /// The line of the pattern in the policy.
    pub line: u64,
}
