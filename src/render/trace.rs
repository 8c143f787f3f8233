//! The words of `-v`: one line per HTTP attempt, and where requests go (direct or through a
//! proxy). Each line starts `http:` so a log can be filtered, and holds nothing but what
//! `remote::trace` gives it: never a header, a body or a secret.

use std::time::Duration;

use crate::remote::trace::{Exchange, Failure, Outcome, Proxy};

/// `http: GET /v2/folders/all?user=alice&page=1&page_size=500 -> 500 in 3 ms (attempt 1,
/// retrying)`; the attempt is named from the second on, or when a retry follows.
pub(crate) fn exchange(exchange: &Exchange) -> String {
    let outcome = match exchange.outcome {
        Outcome::Status(status) => status.to_string(),
        Outcome::TooLarge(status) => format!("{status}, body over the size cap (not read)"),
        Outcome::Failed(failure) => failure_words(failure).to_owned(),
    };
    let attempt = match (exchange.attempt, exchange.will_retry) {
        (n, true) => format!(" (attempt {n}, retrying)"),
        (1, false) => String::new(),
        (n, false) => format!(" (attempt {n})"),
    };
    format!(
        "http: {} {} -> {outcome} in {}{attempt}",
        exchange.method,
        exchange.target,
        millis(exchange.elapsed)
    )
}

fn failure_words(failure: Failure) -> &'static str {
    match failure {
        Failure::Timeout => "timed out",
        Failure::Dns => "DNS error",
        Failure::Refused => "connection refused",
        Failure::NotTls => "not TLS",
        Failure::Certificate => "certificate refused",
        Failure::Other => "connection failed",
    }
}

fn millis(elapsed: Duration) -> String {
    format!("{} ms", elapsed.as_millis())
}

/// The first `-v` line: the origin, and the proxy the environment puts in front of it.
pub(crate) fn connection(origin: &str, proxy: Option<&Proxy>) -> String {
    let plain = origin.starts_with("http:");
    let origin = plotward_visible::escape(origin);
    match proxy {
        None if plain => format!(
            "http: requests go to {origin} directly (plain http, to loopback only, never goes \
             through a proxy)"
        ),
        None => format!(
            "http: requests go to {origin} directly (no HTTPS_PROXY, HTTP_PROXY or ALL_PROXY set)"
        ),
        Some(proxy) => {
            let unless = proxy.exempt.as_deref().map_or(String::new(), |list| {
                format!(", unless NO_PROXY ({list}) exempts it")
            });
            format!(
                "http: requests go to {origin} through the proxy {} (from {}){unless}",
                proxy.url, proxy.variable
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: Outcome, attempt: u32, will_retry: bool) -> String {
        exchange(&Exchange {
            method: "GET".into(),
            target: "/v2/folders/all?user=alice&page=1".into(),
            outcome,
            elapsed: Duration::from_millis(12),
            attempt,
            will_retry,
        })
    }

    #[test]
    fn each_attempt_is_one_line_with_its_status_time_and_retry() {
        assert_eq!(
            attempt(Outcome::Status(200), 1, false),
            "http: GET /v2/folders/all?user=alice&page=1 -> 200 in 12 ms"
        );
        assert_eq!(
            attempt(Outcome::Status(500), 1, true),
            "http: GET /v2/folders/all?user=alice&page=1 -> 500 in 12 ms (attempt 1, retrying)"
        );
        assert_eq!(
            attempt(Outcome::Failed(Failure::Timeout), 3, false),
            "http: GET /v2/folders/all?user=alice&page=1 -> timed out in 12 ms (attempt 3)"
        );
        assert!(attempt(Outcome::TooLarge(200), 1, false).contains("over the size cap"));
    }

    #[test]
    fn the_connection_line_names_the_proxy_and_its_variable() {
        assert_eq!(
            connection("https://plotly.example.com", None),
            "http: requests go to https://plotly.example.com directly (no HTTPS_PROXY, \
             HTTP_PROXY or ALL_PROXY set)"
        );
        let proxy = Proxy {
            variable: "HTTPS_PROXY",
            url: "http://***@corp:3128".into(),
            exempt: Some("localhost".into()),
        };
        assert_eq!(
            connection("https://p.example.com", Some(&proxy)),
            "http: requests go to https://p.example.com through the proxy http://***@corp:3128 \
             (from HTTPS_PROXY), unless NO_PROXY (localhost) exempts it"
        );
    }
}
