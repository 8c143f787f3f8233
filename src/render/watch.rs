//! The words of `watch`: each [`Event`] as one log line (text, or a JSON object), `/healthz`'s
//! answer, and the `status` label of an API request in the metrics.
//!
//! A line is composed from the facts with names as they are, then made inert: the text line
//! through `plotward_visible::escape`; the JSON line's strings from outside (the message,
//! paths, errors) through the same `escape`, so `jq -r .message` shows `\e` as the text log
//! does rather than obeying it, and the whole line through `escape_json` after serde as a
//! safety net. A file name cannot forge or garble a line in either.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::apply::Tally;
use crate::inventory::Coverage;
use crate::plan::Direction;
use crate::remote::trace::{Failure, Outcome};
use crate::watch::{CycleReport, Event, Health};
use crate::wire::log::{LogChange, LogCounts, LogLine, LogWrites};

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// `2026-01-02T03:04:05.678Z INFO  cycle: alice: ...`
    Text,
    /// One JSON object a line ([`LogLine`]).
    Json,
}

/// How much an event matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Each pending change: shown with `-v`.
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// How much an event matters: a cycle whose writes did not all succeed is a warning.
pub(crate) fn level(event: &Event<'_>) -> Level {
    match event {
        Event::Pending { .. } => Level::Debug,
        Event::Cycle(report) if cycle_incomplete(report) => Level::Warn,
        Event::Started { .. }
        | Event::Cycle(_)
        | Event::Reloaded { .. }
        | Event::Stopping { .. }
        | Event::ReadsAbandoned { .. }
        | Event::Stopped { .. } => Level::Info,
        Event::Refused { .. } | Event::ReloadFailed { .. } | Event::Warning { .. } => Level::Warn,
        Event::Failed { .. } => Level::Error,
    }
}

/// Whether the listing left something unjudged: files outside the folder tree, or a count
/// that never added up (other users' files, skipped, are expected on a shared server).
fn listing_incomplete(report: &CycleReport) -> bool {
    report.coverage.unplaced > 0 || report.coverage.unproven.is_some()
}

fn cycle_incomplete(report: &CycleReport) -> bool {
    listing_incomplete(report)
        || report.refused > 0
        || report.stopped.is_some()
        || report
            .tally
            .is_some_and(|t| t.failed + t.not_applied + t.unchecked > 0)
}

fn name(event: &Event<'_>) -> &'static str {
    match event {
        Event::Started { .. } => "started",
        Event::Cycle(_) => "cycle",
        Event::Pending { .. } => "pending",
        Event::Refused { .. } => "refused",
        Event::Failed { .. } => "cycle_failed",
        Event::Warning { .. } => "warning",
        Event::Reloaded { .. } => "reloaded",
        Event::ReloadFailed { .. } => "reload_failed",
        Event::Stopping { .. } => "stopping",
        Event::ReadsAbandoned { .. } => "reads_abandoned",
        Event::Stopped { .. } => "stopped",
    }
}

/// The first names of a list, and how many more: a start line for an organization of a
/// thousand accounts stays a line.
fn some_names(names: &[String]) -> String {
    const SHOWN: usize = 10;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{}, and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

/// One log line for `event` at `now`, newline included, with no raw control character.
pub(crate) fn line(format: LogFormat, event: &Event<'_>, now: SystemTime) -> String {
    let ts = humantime::format_rfc3339_millis(now).to_string();
    let level = level(event);
    let message = message(event);
    match format {
        LogFormat::Text => {
            let text = format!(
                "{ts} {:<5} {}: {message}",
                level.as_str().to_uppercase(),
                name(event)
            );
            format!("{}\n", plotward_visible::escape(&text))
        }
        LogFormat::Json => {
            let line = json_line(event, ts, level, &message);
            // Every field is a string, a number or a nested struct of them: this cannot fail,
            // and if it did the line would say so rather than vanish.
            let json = serde_json::to_string(&line)
                .unwrap_or_else(|err| format!("{{\"event\":\"log_error\",\"error\":\"{err}\"}}"));
            format!("{}\n", plotward_visible::escape_json(&json))
        }
    }
}

/// An event's JSON object: its words, and its facts as fields.
fn json_line<'a>(event: &Event<'a>, ts: String, level: Level, message: &str) -> LogLine<'a> {
    // As the text log shows them: `jq -r .message` must not print a raw escape sequence.
    let visible = plotward_visible::escape;
    let mut line = LogLine {
        ts,
        level: level.as_str(),
        event: name(event),
        message: visible(message).into_owned(),
        ..LogLine::default()
    };
    match event {
        Event::Cycle(report) => {
            let c = &report.counts;
            line.account = Some(&report.account);
            line.counts = Some(LogCounts {
                public: c.public,
                secret: c.secret,
                private: c.private,
                restrict: c.restrict,
                expose: c.expose,
            });
            line.writes = report.tally.map(|t| writes(t, report));
            line.listing = (report.coverage != Coverage::default()).then_some(report.coverage);
            line.duration_seconds = Some(report.took.as_secs_f64());
        }
        Event::Pending {
            account,
            change,
            withheld,
        } => {
            line.account = Some(account);
            line.change = Some(LogChange {
                fid: visible(&change.fid),
                path: visible(&change.path),
                from: change.from,
                to: change.to,
                direction: direction(change.direction()),
                withheld: *withheld,
            });
        }
        Event::Refused { account, .. } | Event::ReadsAbandoned { account } => {
            line.account = Some(account);
        }
        Event::Failed {
            account,
            error,
            failures,
            retry_in,
        } => {
            line.account = Some(account);
            line.error = Some(visible(error));
            line.failures = Some(*failures);
            line.retry_in_seconds = Some(retry_in.as_secs_f64());
        }
        Event::ReloadFailed { error, .. } => line.error = Some(visible(error)),
        Event::Started { .. }
        | Event::Warning { .. }
        | Event::Reloaded { .. }
        | Event::Stopping { .. }
        | Event::Stopped { .. } => {}
    }
    line
}

fn writes(tally: Tally, report: &CycleReport) -> LogWrites {
    LogWrites {
        applied: tally.restricted + tally.exposed,
        failed: tally.failed,
        not_applied: tally.not_applied + tally.unchecked,
        settling: tally.settling,
        restored: tally.restored,
        left: tally.left,
        refused: report.refused,
        stopped: report
            .stopped
            .as_ref()
            .map(|why| plotward_visible::escape(&why.to_string()).into_owned()),
        first_failure: report.first_failure.as_ref().map(|first| {
            let words = match first.status {
                Some(status) => format!("{}: HTTP {status}: {}", first.path, first.failure),
                None => format!("{}: {}", first.path, first.failure),
            };
            plotward_visible::escape(&words).into_owned()
        }),
    }
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Restrict => "restrict",
        Direction::Expose => "expose",
    }
}

/// A duration as a person reads it: `4s`, `5m`, `1h 30m`.
fn duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(1))).to_string()
}

/// The event in words (names as they are; [`line`] makes the whole line inert).
fn message(event: &Event<'_>) -> String {
    match event {
        Event::Started {
            accounts,
            interval,
            auto_restrict,
            metrics,
            policy,
        } => {
            let writes = if *auto_restrict {
                "restrictions applied, exposures only reported"
            } else {
                "read-only, changes only reported"
            };
            let metrics = metrics.map_or_else(
                || "metrics off".to_owned(),
                |addr| format!("metrics on http://{addr}/metrics"),
            );
            format!(
                "watching {} ({}) under {policy} every {}; {writes}; {metrics}",
                plural(accounts.len(), "account"),
                some_names(accounts),
                duration(*interval)
            )
        }
        Event::Cycle(report) => cycle(report),
        Event::Pending {
            account,
            change,
            withheld,
        } => format!(
            "{account}: {} {} ({}) {} -> {}{}",
            direction(change.direction()),
            change.path,
            change.fid,
            change.from,
            change.to,
            if *withheld { ", not applied" } else { "" }
        ),
        Event::Refused {
            account,
            breach,
            policy,
        } => format!(
            "{account}: no write this cycle: {} (in {policy})",
            super::text::breach(breach)
        ),
        Event::Failed {
            account,
            error,
            failures,
            retry_in,
        } => format!(
            "{account}: cycle failed ({} in a row), next attempt in {}: {error}",
            failures,
            duration(*retry_in)
        ),
        Event::Warning { text } => (*text).to_owned(),
        Event::Reloaded { policy, rules } => {
            format!(
                "{policy} read again on SIGHUP: {} in force",
                plural(*rules, "rule")
            )
        }
        Event::ReloadFailed { policy, error } => format!(
            "{policy} read again on SIGHUP is not valid; the policy read before stays in force: {error}"
        ),
        Event::Stopping { signal } => format!(
            "{signal} received: reads in flight are abandoned, writes in flight finish, no new write starts, then watch exits"
        ),
        Event::ReadsAbandoned { account } => format!(
            "{account}: stopped while reading; the requests in flight were abandoned, nothing was written"
        ),
        Event::Stopped { cycles } => format!("watch ends after {}", plural(*cycles, "cycle")),
    }
}

/// `alice: 12 files (1 public, 0 secret, 11 private); pending: 1 restrict, 2 expose; ...`
fn cycle(report: &CycleReport) -> String {
    let c = &report.counts;
    let mut text = format!(
        "{}: {} ({} public, {} secret, {} private); pending: {} restrict, {} expose",
        report.account,
        plural(c.public + c.secret + c.private, "file"),
        c.public,
        c.secret,
        c.private,
        c.restrict,
        c.expose
    );
    if c.expose > 0 {
        text.push_str(" (never applied by watch)");
    }
    if let Some(tally) = report.tally {
        let w = writes(tally, report);
        let _ = write!(
            text,
            "; writes: {} applied, {} failed, {} not applied, {} refused",
            w.applied, w.failed, w.not_applied, w.refused
        );
        if w.settling > 0 {
            let _ = write!(text, ", {} settling", w.settling);
        }
        if w.restored > 0 {
            let _ = write!(text, ", {} put back below folders", w.restored);
        }
        if w.left > 0 {
            let _ = write!(
                text,
                ", {} left below folders lower than listed (never raised; the next cycle \
                 judges {})",
                w.left,
                if w.left == 1 { "it" } else { "them" }
            );
        }
        if let Some(stopped) = &w.stopped {
            let _ = write!(text, " (stopped: {stopped})");
        }
        if let Some(failure) = &w.first_failure {
            let _ = write!(text, "; first failed write: {failure}");
        }
    }
    let coverage = &report.coverage;
    if coverage.unplaced > 0 {
        let _ = write!(
            text,
            "; {} outside the listed folders, not judged",
            plural(coverage.unplaced, "file")
        );
    }
    if let Some(mismatch) = coverage.unproven {
        let _ = write!(
            text,
            "; listing not proven complete (the server counted {}, {} listed)",
            mismatch.counted, mismatch.listed
        );
    }
    if coverage.foreign_skipped > 0 {
        let _ = write!(
            text,
            "; {} of other users skipped",
            plural(coverage.foreign_skipped, "file")
        );
    }
    let _ = write!(text, "; took {:.2}s", report.took.as_secs_f64());
    text
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `/healthz`'s body, one line.
pub(crate) fn health(health: Health, stale_after: Duration) -> String {
    match health {
        Health::Starting => "starting: no cycle has ended yet\n".to_owned(),
        Health::Fresh => format!(
            "ok: the last cycle ended less than {} ago\n",
            duration(stale_after)
        ),
        Health::Stale(age) => format!(
            "stale: no cycle has ended for {} (allowed: {})\n",
            duration(age),
            duration(stale_after)
        ),
    }
}

/// The `status` label of an HTTP attempt in `plotward_api_requests_total`: the code, or the
/// kind of network failure.
pub(crate) fn status_label(outcome: Outcome) -> Cow<'static, str> {
    match outcome {
        Outcome::Status(code) | Outcome::TooLarge(code) => Cow::Owned(code.to_string()),
        Outcome::Failed(failure) => Cow::Borrowed(match failure {
            Failure::Timeout => "timeout",
            Failure::Dns => "dns",
            Failure::Refused => "refused",
            Failure::NotTls => "tls",
            Failure::Certificate => "certificate",
            Failure::Other => "network",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Change;
    use crate::inventory::Sharing;
    use crate::watch::Counts;
    use proptest::prelude::*;

    fn report(account: &str) -> CycleReport {
        CycleReport {
            account: account.to_owned(),
            counts: Counts {
                public: 1,
                secret: 0,
                private: 11,
                restrict: 1,
                expose: 2,
            },
            tally: Some(Tally {
                restricted: 1,
                ..Tally::default()
            }),
            refused: 0,
            stopped: None,
            first_failure: None,
            coverage: Coverage::default(),
            took: Duration::from_millis(210),
        }
    }

    const EPOCH: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn a_cycle_reads_as_one_text_line_with_its_counts() {
        let line = line(LogFormat::Text, &Event::Cycle(&report("alice")), EPOCH);
        assert_eq!(
            line,
            "1970-01-01T00:00:00.000Z INFO  cycle: alice: 12 files (1 public, 0 secret, 11 \
             private); pending: 1 restrict, 2 expose (never applied by watch); writes: 1 \
             applied, 0 failed, 0 not applied, 0 refused; took 0.21s\n"
        );
    }

    #[test]
    fn a_cycle_is_one_json_object_with_its_facts() {
        let line = line(LogFormat::Json, &Event::Cycle(&report("alice")), EPOCH);
        assert_eq!(line.matches('\n').count(), 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], "cycle");
        assert_eq!(value["level"], "info");
        assert_eq!(value["account"], "alice");
        assert_eq!(value["counts"]["expose"], 2);
        assert_eq!(value["writes"]["applied"], 1);
        assert_eq!(value["ts"], "1970-01-01T00:00:00.000Z");
        assert!(value.get("error").is_none());
    }

    /// A cycle whose writes failed says what the first failure was, in both formats, its
    /// server text shown inertly.
    #[test]
    fn a_cycle_with_failed_writes_names_the_first_and_why() {
        let failed = CycleReport {
            tally: Some(Tally {
                failed: 2,
                ..Tally::default()
            }),
            first_failure: Some(crate::apply::FirstFailure {
                path: "team/plot\u{1b}[2J".to_owned(),
                status: Some(500),
                failure: crate::apply::Failure::Write("quota \u{202e}exceeded".to_owned()),
            }),
            ..report("alice")
        };
        let text = line(LogFormat::Text, &Event::Cycle(&failed), EPOCH);
        assert!(text.contains(" WARN  cycle: "), "{text}");
        assert!(
            text.contains(
                "; first failed write: team/plot\\e[2J: HTTP 500: quota \\u{202e}exceeded"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &Event::Cycle(&failed), EPOCH)).unwrap();
        assert_eq!(json["writes"]["failed"], 2);
        assert!(
            json["writes"]["first_failure"]
                .as_str()
                .unwrap()
                .ends_with(": HTTP 500: quota \\u{202e}exceeded"),
            "{json}"
        );
        let clean = line(LogFormat::Json, &Event::Cycle(&report("alice")), EPOCH);
        assert!(!clean.contains("first_failure"), "{clean}");
    }

    #[test]
    fn a_listing_that_left_files_unjudged_makes_the_cycle_a_warning() {
        let partial = CycleReport {
            coverage: Coverage {
                foreign_skipped: 2,
                unplaced: 1,
                unproven: None,
            },
            ..report("alice")
        };
        let text = line(LogFormat::Text, &Event::Cycle(&partial), EPOCH);
        assert!(text.contains(" WARN  cycle: "), "{text}");
        assert!(
            text.contains(
                "; 1 file outside the listed folders, not judged; 2 files of other users skipped;"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &Event::Cycle(&partial), EPOCH)).unwrap();
        assert_eq!(json["listing"]["unplaced"], 1);
        assert_eq!(json["level"], "warn");
        let clean = line(LogFormat::Json, &Event::Cycle(&report("alice")), EPOCH);
        assert!(!clean.contains("\"listing\""), "{clean}");
    }

    #[test]
    fn a_pending_change_names_the_file_and_whether_it_is_withheld() {
        let change = Change::plot("alice:7", "public/demo", Sharing::Private, Sharing::Public);
        let event = Event::Pending {
            account: "alice",
            change: &change,
            withheld: true,
        };
        assert_eq!(level(&event), Level::Debug);
        let text = line(LogFormat::Text, &event, EPOCH);
        assert!(
            text.ends_with(
                "pending: alice: expose public/demo (alice:7) private -> public, not applied\n"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &event, EPOCH)).unwrap();
        assert_eq!(json["change"]["direction"], "expose");
        assert_eq!(json["change"]["withheld"], true);
    }

    #[test]
    fn a_failure_is_an_error_with_its_backoff() {
        let event = Event::Failed {
            account: "alice",
            error: "the server answered 500",
            failures: 2,
            retry_in: Duration::from_secs(4),
        };
        assert_eq!(level(&event), Level::Error);
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &event, EPOCH)).unwrap();
        assert_eq!(json["failures"], 2);
        assert_eq!(json["retry_in_seconds"], 4.0);
        assert_eq!(json["error"], "the server answered 500");
    }

    #[test]
    fn health_says_why() {
        let allowed = Duration::from_secs(63);
        assert!(health(Health::Fresh, allowed).starts_with("ok: "));
        assert_eq!(
            health(Health::Stale(Duration::from_secs(70)), allowed),
            "stale: no cycle has ended for 1m 10s (allowed: 1m 3s)\n"
        );
        assert_eq!(status_label(Outcome::Status(503)), "503");
        assert_eq!(status_label(Outcome::Failed(Failure::Refused)), "refused");
    }

    #[test]
    fn json_log_fields_show_names_escaped_as_the_text_log_does() {
        let name = "a\u{1b}[31mb\u{7}c\u{202e}d\u{200b}e";
        let change = Change::plot("alice:1", name, Sharing::Public, Sharing::Private);
        let pending = Event::Pending {
            account: "alice",
            change: &change,
            withheld: true,
        };
        let failed = Event::Failed {
            account: "alice",
            error: name,
            failures: 1,
            retry_in: Duration::from_secs(2),
        };
        let shown = "a\\e[31mb\\u{7}c\\u{202e}d\\u{200b}e";
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &pending, EPOCH)).unwrap();
        // Decoded, as `jq -r` prints them: visible escapes, no raw control.
        let path = json["change"]["path"].as_str().unwrap();
        let message = json["message"].as_str().unwrap();
        assert_eq!(path, plotward_visible::escape(name));
        assert!(message.contains(path), "{message}");
        assert!(!message.chars().any(plotward_visible::needs_escape));
        let text = line(LogFormat::Text, &pending, EPOCH);
        assert!(text.contains(path), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&line(LogFormat::Json, &failed, EPOCH)).unwrap();
        assert_eq!(json["error"], plotward_visible::escape(name).as_ref());
        assert!(
            !json["message"]
                .as_str()
                .unwrap()
                .chars()
                .any(plotward_visible::needs_escape)
        );
        assert_eq!(
            path, shown,
            "ESC, BEL, U+202E and U+200B each shown as an escape"
        );
    }

    proptest! {
        /// Whatever the names hold, every event is exactly one line without a raw control
        /// character, in both formats, and the JSON line parses.
        #[test]
        fn no_name_can_break_a_line(account in "\\PC{0,8}[\\x00-\\x1f\\x7f\\u{202e}]?\\PC{0,8}",
                                    path in ".{0,16}", error in ".{0,16}") {
            let change = Change::plot("alice:1", &path, Sharing::Public, Sharing::Private);
            let failed = Event::Failed {
                account: &account, error: &error, failures: 1, retry_in: Duration::from_secs(2),
            };
            let pending = Event::Pending { account: &account, change: &change, withheld: false };
            let cycle = report(&account);
            for event in [failed, pending, Event::Cycle(&cycle)] {
                for format in [LogFormat::Text, LogFormat::Json] {
                    let out = line(format, &event, EPOCH);
                    prop_assert!(out.ends_with('\n'));
                    let body = &out[..out.len() - 1];
                    prop_assert!(!body.chars().any(plotward_visible::needs_escape), "{:?}", out);
                    if format == LogFormat::Json {
                        prop_assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
                    }
                }
            }
        }
    }

    #[test]
    fn a_start_line_names_ten_accounts_and_counts_the_rest() {
        let names: Vec<String> = (1..=12).map(|i| format!("u{i}")).collect();
        assert_eq!(some_names(&names[..3]), "u1, u2, u3");
        assert_eq!(
            some_names(&names),
            "u1, u2, u3, u4, u5, u6, u7, u8, u9, u10, and 2 more"
        );
    }
}
