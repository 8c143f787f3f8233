//! Fault injection for testing clients (all off by default), and the request log.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::wire::ApiError;

/// The faults the sandbox can inject. Settable at start and at run time through
/// `PUT /_sandbox/faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fixed delay before every API request is handled.
    pub latency_ms: u64,
    /// Fraction (0 to 1) of API requests answered with a 500.
    pub fail_rate: f64,
    /// API requests allowed per second in all; the rest get 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Writes (non-GET requests) allowed per user per 24 hours; the rest get the daily 429.
    pub daily_write_limit: Option<u64>,
    /// Fraction (0 to 1) of share-key enables that read back as disabled for a while.
    pub flaky_share_keys: f64,
    /// How long such a share key stays hidden, in milliseconds (default 2000).
    pub flaky_share_key_ms: Option<u64>,
    /// Writes to these fids always fail with a 500, to test per-file failure handling.
    pub fail_writes_to: Vec<String>,
    /// Not a fault but a switch tests flip at run time: whether a folder's sharing change
    /// passes to its contents. `None` keeps the start setting (`--no-folder-cascade`).
    pub folder_cascade: Option<bool>,
}

impl FaultConfig {
    /// Checks the fractions and limits.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("fail_rate", self.fail_rate),
            ("flaky_share_keys", self.flaky_share_keys),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("{name} must be between 0 and 1, got {value}"));
            }
        }
        if self.rate_limit == Some(0) {
            return Err("rate_limit must be at least 1 request per second".to_owned());
        }
        Ok(())
    }

    /// How long a flaky share key stays hidden.
    pub(crate) fn flaky_window(&self) -> Duration {
        Duration::from_millis(self.flaky_share_key_ms.unwrap_or(2000))
    }
}

/// Fault settings plus the counters that enforce the limits.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub config: FaultConfig,
    second: Option<(Instant, u32)>,
    daily: HashMap<String, (Instant, u64)>,
}

const DAY: Duration = Duration::from_hours(24);

impl Faults {
    /// Faults with these settings and fresh counters.
    pub(crate) fn new(config: FaultConfig) -> Faults {
        Faults {
            config,
            ..Faults::default()
        }
    }

    /// Replaces the settings and resets the counters.
    pub(crate) fn reconfigure(&mut self, config: FaultConfig) {
        *self = Faults::new(config);
    }

    /// Decides whether a request is throttled, over quota or failed, before it runs.
    pub(crate) fn admit(
        &mut self,
        user: Option<&str>,
        write_to: Option<&str>,
        now: Instant,
    ) -> Result<(), ApiError> {
        self.check_rate(now)?;
        if let Some(path) = write_to {
            self.check_daily(user, now)?;
            let targeted = path
                .split('/')
                .any(|segment| self.config.fail_writes_to.iter().any(|fid| fid == segment));
            if targeted {
                return Err(ApiError::server_error());
            }
        }
        if self.config.fail_rate > 0.0 && fastrand::f64() < self.config.fail_rate {
            return Err(ApiError::server_error());
        }
        Ok(())
    }

    fn check_rate(&mut self, now: Instant) -> Result<(), ApiError> {
        let Some(limit) = self.config.rate_limit else {
            return Ok(());
        };
        let window = match self.second {
            Some((start, count)) if now.duration_since(start) < Duration::from_secs(1) => {
                (start, count)
            }
            _ => (now, 0),
        };
        if window.1 >= limit {
            self.second = Some(window);
            return Err(ApiError::throttled(1));
        }
        self.second = Some((window.0, window.1 + 1));
        Ok(())
    }

    fn check_daily(&mut self, user: Option<&str>, now: Instant) -> Result<(), ApiError> {
        let (Some(limit), Some(user)) = (self.config.daily_write_limit, user) else {
            return Ok(());
        };
        let entry = self.daily.entry(user.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= DAY {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = DAY
                .saturating_sub(now.duration_since(entry.0))
                .as_secs()
                .max(1);
            return Err(ApiError::daily_limit(limit, left));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Whether this share-key enable should read back as disabled for a while.
    pub(crate) fn flaky_share_key(&self) -> bool {
        self.config.flaky_share_keys > 0.0 && fastrand::f64() < self.config.flaky_share_keys
    }
}

/// One API request as the sandbox saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggedRequest {
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub status: u16,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// The `Plotly-Client-Platform` header, if any.
    pub client_platform: Option<String>,
}

/// The most recent API requests, oldest first, bounded so a long run cannot exhaust memory.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: VecDeque<LoggedRequest>,
    dropped: u64,
}

/// How many requests the log keeps.
pub(crate) const LOG_CAPACITY: usize = 200_000;

impl RequestLog {
    /// Appends a request, dropping the oldest past [`LOG_CAPACITY`].
    pub(crate) fn push(&mut self, entry: LoggedRequest) {
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(entry);
    }

    /// The kept requests, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &LoggedRequest> {
        self.entries.iter()
    }

    /// How many old requests were dropped.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets every request.
    pub(crate) fn clear(&mut self) {
        *self = RequestLog::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_n_per_second() {
        let mut faults = Faults::new(FaultConfig {
            rate_limit: Some(2),
            ..FaultConfig::default()
        });
        let t0 = Instant::now();
        assert!(faults.admit(None, None, t0).is_ok());
        assert!(faults.admit(None, None, t0).is_ok());
        let err = faults.admit(None, None, t0).unwrap_err();
        assert_eq!((err.status.as_u16(), err.retry_after), (429, Some(1)));
        assert!(
            faults
                .admit(None, None, t0 + Duration::from_millis(1001))
                .is_ok()
        );
    }

    #[test]
    fn daily_limit_counts_writes_per_user() {
        let mut faults = Faults::new(FaultConfig {
            daily_write_limit: Some(1),
            ..FaultConfig::default()
        });
        let t0 = Instant::now();
        assert!(faults.admit(Some("a"), Some("/x"), t0).is_ok());
        assert!(
            faults.admit(Some("a"), None, t0).is_ok(),
            "reads are not limited"
        );
        assert!(
            faults.admit(Some("b"), Some("/x"), t0).is_ok(),
            "each user has a quota"
        );
        let err = faults.admit(Some("a"), Some("/x"), t0).unwrap_err();
        assert!(
            err.message.contains("threshold of 1 combined"),
            "{}",
            err.message
        );
        assert!(err.retry_after.unwrap() > 3600);
    }

    #[test]
    fn fail_rate_one_always_fails_and_zero_never() {
        let mut faults = Faults::new(FaultConfig {
            fail_rate: 1.0,
            ..FaultConfig::default()
        });
        let err = faults.admit(None, None, Instant::now()).unwrap_err();
        assert_eq!(err.message, "Uh oh, an error occurred on the server.");
        let mut faults = Faults::default();
        assert!((0..100).all(|_| faults.admit(None, Some("/x"), Instant::now()).is_ok()));
    }

    #[test]
    fn writes_to_named_files_fail() {
        let mut faults = Faults::new(FaultConfig {
            fail_writes_to: vec!["a:7".into()],
            ..FaultConfig::default()
        });
        let now = Instant::now();
        assert!(faults.admit(Some("a"), Some("/v2/files/a:7"), now).is_err());
        assert!(faults.admit(Some("a"), Some("/v2/files/a:70"), now).is_ok());
        assert!(
            faults.admit(Some("a"), None, now).is_ok(),
            "reads of it work"
        );
    }

    #[test]
    fn invalid_settings_are_refused() {
        let bad = FaultConfig {
            fail_rate: 1.5,
            ..FaultConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
