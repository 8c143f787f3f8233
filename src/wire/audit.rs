//! The audit log's line: what `apply --audit-log FILE` appends, one JSON object a line, per
//! write attempt (documented in the README's apply section).
//!
//! Serialize-only: plotward writes the log and never reads it back. `apply`'s `AuditLog`
//! builds each line from the step of a write as it happens.

use serde::Serialize;

use crate::inventory::Sharing;

/// `{"time","fid","path","from","to","attempt","outcome","status","message"?,"user"?,"server"?}`.
#[derive(Debug, Serialize)]
pub(crate) struct AuditLine<'a> {
    /// RFC 3339, milliseconds, UTC.
    pub time: String,
    pub fid: &'a str,
    pub path: &'a str,
    pub from: Sharing,
    pub to: Sharing,
    /// Which attempt (retries included) the line is about.
    pub attempt: u32,
    pub outcome: AuditOutcome,
    /// The HTTP status of the attempt, if the server answered.
    pub status: Option<u16>,
    /// Why, for the steps that have a reason: the server's message or plotward's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The account's user, in a run over several accounts (absent for one account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// The account's API base URL, in a run over several accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<&'a str>,
}

/// The step of a write a line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuditOutcome {
    /// Recorded before the write is sent.
    Started,
    /// Written and verified.
    Applied,
    /// An attempt failed and another follows.
    Retrying,
    /// The last attempt failed.
    Failed,
    /// Accepted, but the file does not read back as planned (yet).
    Unverified,
    /// A secret link written but not readable before `--share-key-timeout`.
    Settling,
    /// The run stopped before the write (or its next attempt) was sent.
    #[serde(rename = "not_sent")]
    NotSent,
}
