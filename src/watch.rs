//! `watch` as facts and decisions, without I/O: the interval's bounds, what one cycle found and
//! may write (restrictions only), the backoff after failures, and when the loop counts as
//! healthy. `commands/watch.rs` runs the loop around these; `render/watch.rs` words the
//! [`Event`]s as log lines.

use std::time::{Duration, Instant};

use crate::apply::{Change, Stop, Tally};
use crate::inventory::{Coverage, FileType, Sharing};
use crate::plan::{Breach, Direction, Plan};
use crate::policy::{Guardrails, MAX_CHANGES_MIN_MANAGED};

/// The shortest interval: a cycle lists the whole account, so anything shorter only loads
/// the server.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval: a day. Drift left longer is not "continuous".
pub(crate) const MAX_INTERVAL: Duration = Duration::from_hours(24);

/// After failures the loop waits at most this many intervals.
pub(crate) const MAX_BACKOFF_INTERVALS: u32 = 4;

/// What `/healthz` allows on top of three waits between cycles: room for one long cycle (a
/// large listing, writes with retries).
pub(crate) const HEALTH_SLACK: Duration = Duration::from_mins(1);

/// An `--interval` that is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IntervalError {
    /// Not a duration (`30s`, `5m`, `1h`, `1h 30m`).
    #[error("`{0}` is not a duration (write it like 30s, 5m or 1h)")]
    NotADuration(String),
    /// Shorter than [`MIN_INTERVAL`].
    #[error("`{0}` is shorter than the shortest interval, 1s")]
    TooShort(String),
    /// Longer than [`MAX_INTERVAL`].
    #[error("`{0}` is longer than the longest interval, 24h")]
    TooLong(String),
    /// Not a whole number of seconds: cycles are timed and logged in whole seconds.
    #[error("`{0}` is not a whole number of seconds (write it like 2s or 1m30s)")]
    Fractional(String),
}

/// Parses an `--interval` (humantime's syntax: `30s`, `5m`, `1h`, `1h30m`), within
/// [`MIN_INTERVAL`] and [`MAX_INTERVAL`] and in whole seconds, since the log says the
/// interval in seconds and must not say `1s` for `1.5s`.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let shown = || plotward_visible::escape(text).into_owned();
    let interval =
        humantime::parse_duration(text.trim()).map_err(|_| IntervalError::NotADuration(shown()))?;
    if interval < MIN_INTERVAL {
        return Err(IntervalError::TooShort(shown()));
    }
    if interval > MAX_INTERVAL {
        return Err(IntervalError::TooLong(shown()));
    }
    if interval.subsec_nanos() != 0 {
        return Err(IntervalError::Fractional(shown()));
    }
    Ok(interval)
}

/// How long to wait before the next cycle of an account after `failures` cycles in a row
/// failed: the interval when the last one succeeded, then twice as long for each failure, up
/// to [`MAX_BACKOFF_INTERVALS`] intervals.
pub(crate) fn delay_after(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.min(31))
        .unwrap_or(u32::MAX)
        .min(MAX_BACKOFF_INTERVALS);
    interval.saturating_mul(factor)
}

/// Files (folders not counted) by the level the world sees now, and the changes pending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Files public, directly or through a folder.
    pub public: usize,
    /// Files open to a secret link (their own or a folder's) and not public.
    pub secret: usize,
    /// Files nobody else can open.
    pub private: usize,
    /// Changes that lower exposure (folders included).
    pub restrict: usize,
    /// Changes that raise exposure (folders included): `watch` never applies them.
    pub expose: usize,
}

impl Counts {
    /// The files at `level`.
    pub(crate) fn files(&self, level: Sharing) -> usize {
        match level {
            Sharing::Public => self.public,
            Sharing::Secret => self.secret,
            Sharing::Private => self.private,
        }
    }
}

/// Counts a plan's files by effective level, and its pending changes.
pub(crate) fn count(plan: &Plan<'_>) -> Counts {
    let summary = plan.summary();
    let mut counts = Counts {
        restrict: summary.restrict,
        expose: summary.expose,
        ..Counts::default()
    };
    for entry in plan
        .entries
        .iter()
        .filter(|e| e.file.filetype != FileType::Folder)
    {
        match entry.effective {
            Sharing::Public => counts.public += 1,
            Sharing::Secret => counts.secret += 1,
            Sharing::Private => counts.private += 1,
        }
    }
    counts
}

/// A plan's changes as `watch` treats them: restrictions it may write, exposures it only
/// reports.
#[derive(Debug, Default)]
pub(crate) struct Split {
    /// Changes that lower exposure.
    pub restrictions: Vec<Change>,
    /// Changes that would raise exposure: never written by `watch`, whatever the policy says.
    pub withheld: Vec<Change>,
}

/// Splits changes by direction.
pub(crate) fn split(changes: Vec<Change>) -> Split {
    let (restrictions, withheld) = changes
        .into_iter()
        .partition(|c| c.direction() == Direction::Restrict);
    Split {
        restrictions,
        withheld,
    }
}

/// `max_changes` as `watch` applies it: against the writes the cycle would make (its
/// restrictions; exposures are never written), out of the files the plan manages. A breach
/// refuses every write of the cycle, as `apply` refuses the whole plan.
pub(crate) fn refuse_too_many(
    guardrails: &Guardrails,
    restrictions: usize,
    managed: usize,
) -> Option<Breach> {
    let limit = guardrails.max_changes?;
    (managed >= MAX_CHANGES_MIN_MANAGED && restrictions > limit.allowed(managed)).then_some(
        Breach::MaxChanges {
            changes: restrictions,
            managed,
            limit,
        },
    )
}

/// What `/healthz` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// No cycle has ended yet.
    Starting,
    /// The last cycle (successful or not) ended within the allowed time.
    Fresh,
    /// The last cycle ended this long ago, past the allowed time: the loop is stuck.
    Stale(Duration),
}

impl Health {
    /// Whether `/healthz` answers 200.
    pub(crate) fn is_ok(self) -> bool {
        self == Health::Fresh
    }
}

/// How long after a cycle ends the loop may go without ending another before it counts as
/// stuck: three times the longer of the interval and the wait it chose, plus
/// [`HEALTH_SLACK`].
pub(crate) fn stale_after(interval: Duration, delay: Duration) -> Duration {
    interval
        .max(delay)
        .saturating_mul(3)
        .saturating_add(HEALTH_SLACK)
}

/// Judges the loop's health from when its last cycle ended. A failing server does not make
/// it unhealthy (restarting plotward would not mend the server; `plotward_up` shows it): only
/// a loop that stopped ending cycles does.
pub(crate) fn health(last_end: Option<Instant>, now: Instant, stale_after: Duration) -> Health {
    match last_end {
        None => Health::Starting,
        Some(end) => {
            let age = now.saturating_duration_since(end);
            if age > stale_after {
                Health::Stale(age)
            } else {
                Health::Fresh
            }
        }
    }
}

/// What one successful cycle of one account found and did.
#[derive(Debug)]
pub(crate) struct CycleReport {
    /// The account's user.
    pub account: String,
    pub counts: Counts,
    /// What the writes did, when any ran (`--auto-restrict`).
    pub tally: Option<Tally>,
    /// Restrictions not written because `max_changes` refused the cycle's writes.
    pub refused: usize,
    /// Why the writes stopped early (quota, a dead server, an interrupt), if they did.
    pub stopped: Option<Stop>,
    /// The first write that failed: its path and why (the server's message, or the
    /// transport's), so a cycle that counts failures also says what they were.
    pub first_failure: Option<crate::apply::FirstFailure>,
    /// What the listing could not vouch for (other users' files skipped, files outside the
    /// folder tree, a count that never added up).
    pub coverage: Coverage,
    /// How long the cycle took.
    pub took: Duration,
}

/// One thing the loop reports, as facts; `render::watch` words it as a text or JSON line.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// The loop starts.
    Started {
        accounts: &'a [String],
        interval: Duration,
        auto_restrict: bool,
        /// Where `/metrics` and `/healthz` are served, if anywhere.
        metrics: Option<std::net::SocketAddr>,
        policy: &'a str,
    },
    /// A cycle ended.
    Cycle(&'a CycleReport),
    /// A change the cycle found (debug: with `-v`). `withheld` when `watch` will not write it
    /// (an exposure, or a restriction without `--auto-restrict`).
    Pending {
        account: &'a str,
        change: &'a Change,
        withheld: bool,
    },
    /// `max_changes` refused the cycle's writes.
    Refused {
        account: &'a str,
        breach: &'a Breach,
        policy: &'a str,
    },
    /// A cycle failed; the next attempt waits `retry_in`.
    Failed {
        account: &'a str,
        /// The error, one line (already scrubbed of credentials by the client).
        error: &'a str,
        failures: u32,
        retry_in: Duration,
    },
    /// A warning from before the loop (the policy's, TLS checks off), in its usual words.
    Warning { text: &'a str },
    /// SIGHUP: the policy was read again and is in force.
    Reloaded { policy: &'a str, rules: usize },
    /// SIGHUP: the policy could not be read again; the one in force stays.
    ReloadFailed { policy: &'a str, error: &'a str },
    /// A stop signal arrived: reads in flight are abandoned, writes in flight finish, no new
    /// one starts.
    Stopping { signal: &'a str },
    /// A stop came while an account's cycle was still reading (credentials, listing): the
    /// requests were dropped, and nothing was written.
    ReadsAbandoned { account: &'a str },
    /// The loop ended.
    Stopped { cycles: usize },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn intervals_read_like_durations_within_a_second_and_a_day() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_mins(5)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_hours(1)));
        assert_eq!(parse_interval("1h 30m"), Ok(Duration::from_mins(90)));
        assert_eq!(parse_interval("24h"), Ok(MAX_INTERVAL));
        assert_eq!(
            parse_interval("500ms"),
            Err(IntervalError::TooShort("500ms".into()))
        );
        assert_eq!(
            parse_interval("25h"),
            Err(IntervalError::TooLong("25h".into()))
        );
        assert_eq!(
            parse_interval("5"),
            Err(IntervalError::NotADuration("5".into()))
        );
        assert_eq!(
            parse_interval("\u{1b}[2J"),
            Err(IntervalError::NotADuration("\\e[2J".into())),
            "what was typed is shown inertly"
        );
    }

    #[test]
    fn intervals_with_a_fraction_of_a_second_are_refused() {
        for text in ["1.5s", "1500ms", "2s 1ns", "1m 0.5s"] {
            assert_eq!(
                parse_interval(text),
                Err(IntervalError::Fractional(text.into())),
                "{text}"
            );
        }
        assert_eq!(parse_interval("1000ms"), Ok(Duration::from_secs(1)));
    }

    proptest! {
        /// Any text either parses to an interval within the bounds or is refused with a
        /// message free of control characters; never a panic.
        #[test]
        fn any_text_is_an_interval_in_bounds_or_a_clean_refusal(text in ".{0,24}") {
            match parse_interval(&text) {
                Ok(interval) => prop_assert!((MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)),
                Err(err) => prop_assert!(!err.to_string().chars().any(char::is_control)),
            }
        }

        /// Any number of seconds with a unit reads back as that many seconds when in bounds.
        #[test]
        fn seconds_read_back(secs in 0u64..200_000) {
            let parsed = parse_interval(&format!("{secs}s"));
            let duration = Duration::from_secs(secs);
            if (MIN_INTERVAL..=MAX_INTERVAL).contains(&duration) {
                prop_assert_eq!(parsed, Ok(duration));
            } else {
                prop_assert!(parsed.is_err());
            }
        }
    }

    #[test]
    fn backoff_doubles_from_the_interval_and_stops_at_four_intervals() {
        let interval = Duration::from_mins(1);
        let waits: Vec<u64> = (0..6)
            .map(|failures| delay_after(interval, failures).as_secs())
            .collect();
        assert_eq!(waits, [60, 120, 240, 240, 240, 240]);
        assert_eq!(
            delay_after(MAX_INTERVAL, u32::MAX),
            MAX_INTERVAL * MAX_BACKOFF_INTERVALS
        );
    }

    #[test]
    fn health_is_fresh_only_between_the_first_cycle_and_the_deadline() {
        let start = Instant::now();
        let allowed = stale_after(Duration::from_secs(10), Duration::from_secs(40));
        assert_eq!(allowed, Duration::from_mins(3));
        assert_eq!(health(None, start, allowed), Health::Starting);
        assert!(!Health::Starting.is_ok());
        let later = start + Duration::from_mins(3);
        assert_eq!(health(Some(start), later, allowed), Health::Fresh);
        let too_late = later + Duration::from_secs(1);
        assert_eq!(
            health(Some(start), too_late, allowed),
            Health::Stale(Duration::from_secs(181))
        );
        assert!(!health(Some(start), too_late, allowed).is_ok());
    }

    fn policy(text: &str) -> crate::policy::Policy {
        crate::policy::Policy::parse(text, "p.yaml").unwrap()
    }

    #[test]
    fn max_changes_counts_the_restrictions_the_cycle_would_write() {
        let limited = policy("version: 1\ndefault: private\nguardrails:\n  max_changes: 2\n");
        assert_eq!(refuse_too_many(&limited.guardrails, 2, 50), None);
        assert!(matches!(
            refuse_too_many(&limited.guardrails, 3, 50),
            Some(Breach::MaxChanges {
                changes: 3,
                managed: 50,
                ..
            })
        ));
        // Below the managed-files floor, as in plan and apply.
        assert_eq!(refuse_too_many(&limited.guardrails, 3, 5), None);
        let open = policy("version: 1\ndefault: private\n");
        assert_eq!(refuse_too_many(&open.guardrails, 1000, 1000), None);
    }

    #[test]
    fn exposures_are_withheld_and_restrictions_kept() {
        let change = |to| Change::plot("alice:1", "a", Sharing::Secret, to);
        let Split {
            restrictions,
            withheld,
        } = split(vec![change(Sharing::Public), change(Sharing::Private)]);
        assert_eq!(restrictions, [change(Sharing::Private)]);
        assert_eq!(withheld, [change(Sharing::Public)]);
    }

    #[test]
    fn counts_follow_effective_levels_and_leave_folders_out() {
        let inventory = crate::inventory::Inventory::new(
            [
                ("alice:1", "open", FileType::Folder, true),
                ("alice:2", "open/chart", FileType::Plot, false),
                ("alice:3", "closed", FileType::Plot, false),
            ]
            .into_iter()
            .map(
                |(fid, path, filetype, public)| crate::inventory::RemoteFile {
                    fid: fid.into(),
                    path: path.into(),
                    filetype,
                    flags: crate::inventory::Flags {
                        world_readable: public,
                        share_key_enabled: false,
                    },
                },
            )
            .collect(),
        );
        let plan = crate::plan::diff(&policy("version: 1\ndefault: private\n"), &inventory);
        let counts = count(&plan);
        assert_eq!((counts.public, counts.secret, counts.private), (1, 0, 1));
        assert_eq!(counts.files(Sharing::Public), 1);
        assert_eq!((counts.restrict, counts.expose), (1, 0));
    }
}
