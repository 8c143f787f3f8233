//! `watch --log-format json`: one JSON object a line on stderr, per event (documented in the
//! README's watch section).
//!
//! Serialize-only, built in `render/watch.rs`. Text from outside (names, messages, errors)
//! is shown as the text log shows it, through `plotward_visible::escape`, so `jq -r` prints
//! `\x1b`, not an escape sequence; the line as a whole goes through
//! `plotward_visible::escape_json` too. Fields that do not apply to an event are left out.

use std::borrow::Cow;

use serde::Serialize;

use crate::inventory::{Coverage, Sharing};

/// `{"ts","level","event","account"?, ...}`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct LogLine<'a> {
    /// RFC 3339, milliseconds, UTC.
    pub ts: String,
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// `started`, `warning`, `cycle`, `pending`, `refused`, `cycle_failed`, `reloaded`,
    /// `reload_failed`, `stopping`, `stopped`.
    pub event: &'static str,
    /// The user whose files the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    /// The event in words, as the text format says it.
    pub message: String,
    /// A cycle's counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<LogCounts>,
    /// What a cycle's listing could not vouch for; absent when it vouched for everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Coverage>,
    /// A cycle's writes, when any ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes: Option<LogWrites>,
    /// A pending change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<LogChange<'a>>,
    /// How long the cycle took, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Failed cycles in a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// Seconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_seconds: Option<f64>,
    /// What went wrong, one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
}

/// Files by effective sharing, and the changes pending.
#[derive(Debug, Serialize)]
pub(crate) struct LogCounts {
    pub public: usize,
    pub secret: usize,
    pub private: usize,
    /// Changes that lower exposure.
    pub restrict: usize,
    /// Changes that raise exposure (never applied by `watch`).
    pub expose: usize,
}

/// What a cycle's writes did.
#[derive(Debug, Serialize)]
pub(crate) struct LogWrites {
    pub applied: usize,
    pub failed: usize,
    pub not_applied: usize,
    pub settling: usize,
    pub restored: usize,
    /// Files below restricted folders that read lower than the cycle's listing showed them
    /// and were left there: watch never raises a file.
    pub left: usize,
    /// Restrictions `max_changes` refused.
    pub refused: usize,
    /// Why the writes stopped early, if they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The first write that failed, `PATH: WHY`, if any did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
}

/// One pending change.
#[derive(Debug, Serialize)]
pub(crate) struct LogChange<'a> {
    pub fid: Cow<'a, str>,
    pub path: Cow<'a, str>,
    pub from: Sharing,
    pub to: Sharing,
    /// `restrict` or `expose`.
    pub direction: &'static str,
    /// Whether `watch` will not write it (an exposure, or any change without
    /// `--auto-restrict`).
    pub withheld: bool,
}
