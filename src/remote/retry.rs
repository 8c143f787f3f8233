//! How a request is retried: the policy (how many times, how long to wait, never past
//! [`api::LONGEST_WAIT`]) and the breaker that takes a server for dead. Both are pure and
//! synchronous; `client::send` runs attempts and asks them what follows each failure.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::api;

/// How requests are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt, for 5xx, throttling 429s and network errors.
    pub retries: u32,
    /// The first backoff; each retry doubles it (with full jitter), up to `max_backoff`.
    pub backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): full jitter over an exponential cap,
    /// and never less than the server's `Retry-After`.
    fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self
            .backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let jittered = exponential.mul_f64(fastrand::f64());
        retry_after.map_or(jittered, |floor| floor.max(jittered))
    }

    /// The wait before the attempt after attempt `number`, if another may start: within the
    /// retries, and starting no later than [`api::LONGEST_WAIT`] after the first began
    /// (`elapsed` ago), whatever the server says in `Retry-After`.
    pub(crate) fn next_wait(
        &self,
        number: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let wait = self.wait(number, retry_after);
        may_retry(number, self.retries, elapsed, wait).then_some(wait)
    }
}

/// Whether attempt `number` may be followed by another after `wait`: within the retries, and
/// starting no later than [`api::LONGEST_WAIT`] after the first attempt began.
fn may_retry(number: u32, retries: u32, elapsed: Duration, wait: Duration) -> bool {
    number <= retries && elapsed + wait <= api::LONGEST_WAIT
}

/// Consecutive requests without any answer (refused, reset, DNS, TLS, timed out) after which
/// the server is taken for dead: no further request is sent in this run.
pub(crate) const DEAD_AFTER: u32 = 10;

/// Counts requests in a row that got no answer; once [`DEAD_AFTER`] is reached it stays open,
/// so every clone of the client stops sending at once.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    misses: AtomicU32,
    open: OnceLock<String>,
}

impl Breaker {
    /// Why the server is taken for dead, once it is.
    pub(crate) fn why_open(&self) -> Option<&String> {
        self.open.get()
    }

    pub(crate) fn answered(&self) {
        self.misses.store(0, Ordering::SeqCst);
    }

    /// Counts a request without an answer; true once the breaker opens.
    pub(crate) fn missed(&self, origin: &str, last: &str) -> bool {
        let misses = self.misses.fetch_add(1, Ordering::SeqCst) + 1;
        if misses >= DEAD_AFTER {
            let _ = self.open.set(format!(
                "the server at {origin} stopped answering: {DEAD_AFTER} requests in a row got no \
                 response (last: {last})"
            ));
        }
        self.open.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy {
            retries: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            timeout: Duration::from_secs(1),
        };
        for retry in 1..10 {
            let cap =
                Duration::from_millis(100 * (1 << (retry - 1))).min(Duration::from_millis(400));
            assert!(policy.wait(retry, None) <= cap);
        }
        assert!(policy.wait(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
    }

    #[test]
    fn no_retry_starts_more_than_two_minutes_after_the_first_attempt() {
        let second = Duration::from_secs(1);
        assert!(may_retry(1, 5, Duration::ZERO, second));
        assert!(!may_retry(6, 5, Duration::ZERO, second), "retries run out");
        // Attempts that hung for 30 s each: the fifth would start past two minutes.
        assert!(may_retry(
            4,
            5,
            Duration::from_secs(90),
            Duration::from_secs(29)
        ));
        assert!(!may_retry(
            4,
            5,
            Duration::from_secs(119),
            Duration::from_secs(2)
        ));
        assert!(!may_retry(1, 5, Duration::ZERO, Duration::from_secs(121)));
    }

    #[test]
    fn next_wait_combines_the_backoff_the_retry_count_and_the_deadline() {
        let policy = RetryPolicy {
            retries: 2,
            ..RetryPolicy::default()
        };
        let floor = Duration::from_secs(3);
        assert!(policy.next_wait(1, Duration::ZERO, Some(floor)) >= Some(floor));
        assert!(policy.next_wait(2, Duration::ZERO, None).is_some());
        assert_eq!(
            policy.next_wait(3, Duration::ZERO, None),
            None,
            "retries run out"
        );
        assert_eq!(
            policy.next_wait(1, Duration::ZERO, Some(api::LONGEST_WAIT * 2)),
            None,
            "a Retry-After past the deadline ends the request now"
        );
    }

    #[test]
    fn the_breaker_opens_after_enough_misses_in_a_row_only() {
        let breaker = Breaker::default();
        for _ in 1..DEAD_AFTER {
            assert!(!breaker.missed("https://h", "refused"));
        }
        breaker.answered();
        for _ in 1..DEAD_AFTER {
            assert!(!breaker.missed("https://h", "refused"));
        }
        assert!(breaker.missed("https://h", "refused"));
        assert!(
            breaker
                .why_open()
                .unwrap()
                .contains("https://h stopped answering")
        );
        breaker.answered();
        assert!(breaker.why_open().is_some(), "an open breaker stays open");
    }
}
