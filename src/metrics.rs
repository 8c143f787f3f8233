//! `watch`'s metrics and the one HTTP server of the CLI: `/metrics` in the Prometheus text
//! format (version 0.0.4, encoded by the official `prometheus-client` crate) and `/healthz`.
//!
//! This is the only module of the CLI that knows axum (the sandbox crate has its own server):
//! an edge like `remote`, fed plain values by `commands/watch.rs`. It keeps no map of its own;
//! each metric family holds one series per label set, and every label set is bounded (the
//! accounts, three levels, two directions, a few results, the HTTP statuses), so memory stays
//! flat however many cycles run. Label values are escaped twice over: for control characters
//! by `plotward_visible::escape`, and for the format (`\`, `"`, newline) by the encoder.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::http::{StatusCode, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A gauge holding seconds (or a unix time) as a float.
type Seconds = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabel {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FilesLabels {
    account: String,
    sharing: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PendingLabels {
    account: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    account: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    account: String,
    method: String,
    status: String,
}

/// Every metric `watch` exports, registered once.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    files: Family<FilesLabels, Gauge>,
    pending: Family<PendingLabels, Gauge>,
    writes: Family<ResultLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    cycles: Family<ResultLabels, Counter>,
    last_success: Family<AccountLabel, Seconds>,
    cycle_seconds: Family<AccountLabel, Seconds>,
    failures: Family<AccountLabel, Gauge>,
    backoff: Family<AccountLabel, Seconds>,
    up: Family<AccountLabel, Gauge>,
}

/// A label value from outside (an account's name), made inert.
fn label(value: &str) -> String {
    plotward_visible::escape(value).into_owned()
}

/// A count as a gauge value; no account holds 2^63 files.
fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Registers every family (names and help texts are the metrics' documentation).
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            files: Family::default(),
            pending: Family::default(),
            writes: Family::default(),
            requests: Family::default(),
            cycles: Family::default(),
            last_success: Family::default(),
            cycle_seconds: Family::default(),
            failures: Family::default(),
            backoff: Family::default(),
            up: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "plotward_files",
            "Files (folders not counted) by the sharing the world sees, own or through a folder, as the last successful cycle listed them (its own writes show in the next cycle)",
            metrics.files.clone(),
        );
        registry.register(
            "plotward_pending_changes",
            "Changes the policy wants, by direction (restrict, expose), as of the last successful cycle; watch never applies an exposure",
            metrics.pending.clone(),
        );
        registry.register(
            "plotward_writes",
            "Writes by result: applied, failed, not_applied (the run stopped), settling (a secret link not yet readable), restored (put back below a folder), refused (max_changes)",
            metrics.writes.clone(),
        );
        registry.register(
            "plotward_api_requests",
            "HTTP attempts to the Chart Studio API by method and status code (or the network failure: timeout, dns, refused, tls, certificate, network)",
            metrics.requests.clone(),
        );
        registry.register(
            "plotward_cycles",
            "Cycles by result (ok, failed)",
            metrics.cycles.clone(),
        );
        registry.register(
            "plotward_last_success_timestamp_seconds",
            "Unix time the last successful cycle ended",
            metrics.last_success.clone(),
        );
        registry.register(
            "plotward_cycle_duration_seconds",
            "How long the last cycle took",
            metrics.cycle_seconds.clone(),
        );
        registry.register(
            "plotward_consecutive_failures",
            "Cycles failed in a row (0 after a success)",
            metrics.failures.clone(),
        );
        registry.register(
            "plotward_backoff_seconds",
            "How much longer than the interval the loop waits before the next cycle, after failures (0 when the last cycle succeeded)",
            metrics.backoff.clone(),
        );
        registry.register(
            "plotward_up",
            "1 when the last cycle succeeded, 0 when it failed",
            metrics.up.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Files at one effective level.
    pub(crate) fn set_files(&self, account: &str, sharing: &str, files: usize) {
        let labels = FilesLabels {
            account: label(account),
            sharing: sharing.to_owned(),
        };
        self.files.get_or_create(&labels).set(gauge_value(files));
    }

    /// Pending changes in one direction.
    pub(crate) fn set_pending(&self, account: &str, direction: &str, changes: usize) {
        let labels = PendingLabels {
            account: label(account),
            direction: direction.to_owned(),
        };
        self.pending
            .get_or_create(&labels)
            .set(gauge_value(changes));
    }

    /// Counts writes with one result.
    pub(crate) fn add_writes(&self, account: &str, result: &str, writes: usize) {
        let labels = ResultLabels {
            account: label(account),
            result: result.to_owned(),
        };
        // Created even at 0, so a scrape shows every result from the first cycle on.
        self.writes
            .get_or_create(&labels)
            .inc_by(u64::try_from(writes).unwrap_or(u64::MAX));
    }

    /// Counts one HTTP attempt.
    pub(crate) fn count_request(&self, account: &str, method: &str, status: &str) {
        let labels = RequestLabels {
            account: label(account),
            method: label(method),
            status: status.to_owned(),
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// Records a cycle that succeeded, ending at `unix_seconds`.
    pub(crate) fn cycle_succeeded(&self, account: &str, took: f64, unix_seconds: f64) {
        let labels = AccountLabel {
            account: label(account),
        };
        self.count_cycle(account, "ok");
        self.last_success.get_or_create(&labels).set(unix_seconds);
        self.cycle_seconds.get_or_create(&labels).set(took);
        self.failures.get_or_create(&labels).set(0);
        self.backoff.get_or_create(&labels).set(0.0);
        self.up.get_or_create(&labels).set(1);
    }

    /// Records a cycle that failed, the failures in a row, and the extra wait before the next.
    pub(crate) fn cycle_failed(&self, account: &str, took: f64, failures: u32, backoff: f64) {
        let labels = AccountLabel {
            account: label(account),
        };
        self.count_cycle(account, "failed");
        self.cycle_seconds.get_or_create(&labels).set(took);
        self.failures
            .get_or_create(&labels)
            .set(i64::from(failures));
        self.backoff.get_or_create(&labels).set(backoff);
        self.up.get_or_create(&labels).set(0);
    }

    fn count_cycle(&self, account: &str, result: &str) {
        let labels = ResultLabels {
            account: label(account),
            result: result.to_owned(),
        };
        self.cycles.get_or_create(&labels).inc();
    }

    /// The exposition, in the Prometheus text format 0.0.4.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// What `/healthz` asks: whether the loop is healthy, and a line saying why.
pub(crate) type HealthCheck = Arc<dyn Fn() -> (bool, String) + Send + Sync>;

/// Binds the metrics address; the error is the operating system's.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves `/metrics` and `/healthz` (GET only; anything else is 404 or 405) on `listener`
/// until the runtime ends.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: HealthCheck,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move { exposition(&metrics) }
            }),
        )
        .route(
            "/healthz",
            axum::routing::get(move || {
                let health = health.clone();
                async move {
                    let (ok, why) = health();
                    let status = if ok {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (
                        status,
                        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        why,
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await })
}

/// `/metrics`' answer: the text and its content type, or a 500 when encoding failed.
fn exposition(metrics: &Metrics) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    match metrics.encode() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "cannot encode the metrics\n".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family_with_escaped_labels() {
        let metrics = Metrics::new();
        metrics.set_files("alice", "public", 3);
        metrics.set_pending("al\"ice\u{1b}", "restrict", 2);
        metrics.add_writes("alice", "applied", 2);
        metrics.count_request("alice", "GET", "200");
        metrics.cycle_succeeded("alice", 0.25, 1_700_000_000.0);
        metrics.cycle_failed("bob", 1.5, 2, 4.0);
        let text = metrics.encode().unwrap();
        for line in [
            "plotward_files{account=\"alice\",sharing=\"public\"} 3",
            "plotward_pending_changes{account=\"al\\\"ice\\\\e\",direction=\"restrict\"} 2",
            "plotward_writes_total{account=\"alice\",result=\"applied\"} 2",
            "plotward_api_requests_total{account=\"alice\",method=\"GET\",status=\"200\"} 1",
            "plotward_cycles_total{account=\"alice\",result=\"ok\"} 1",
            "plotward_last_success_timestamp_seconds{account=\"alice\"} 1700000000.0",
            "plotward_consecutive_failures{account=\"bob\"} 2",
            "plotward_backoff_seconds{account=\"bob\"} 4.0",
            "plotward_up{account=\"alice\"} 1",
            "plotward_up{account=\"bob\"} 0",
            "# TYPE plotward_files gauge",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    }

    #[test]
    fn series_do_not_grow_with_cycles() {
        let metrics = Metrics::new();
        let record = || {
            metrics.set_files("alice", "private", 10);
            metrics.add_writes("alice", "applied", 1);
            metrics.cycle_succeeded("alice", 0.1, 1.0);
        };
        record();
        let once = metrics.encode().unwrap().lines().count();
        for _ in 0..100 {
            record();
        }
        assert_eq!(metrics.encode().unwrap().lines().count(), once);
        assert!(
            metrics
                .encode()
                .unwrap()
                .contains("plotward_writes_total{account=\"alice\",result=\"applied\"} 101")
        );
    }
}
