//! The request trace behind `-v`: one [`Exchange`] per HTTP attempt, as facts (the words are in
//! `render::trace`), and the proxy the environment makes reqwest use. Nothing here can carry a
//! header, a body or the key: an exchange holds the method, the path and query with secret
//! parameters redacted, the status or the kind of network failure, the time and the attempt.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::api::redact;

/// One HTTP attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// Path and query ([`target`]): secret parameters redacted, escaped.
    pub target: String,
    pub outcome: Outcome,
    /// From sending to the whole answer (or the failure).
    pub elapsed: Duration,
    /// 1-based attempt number of this request.
    pub attempt: u32,
    /// Whether another attempt follows.
    pub will_retry: bool,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server answered with this status (a redirect and an error included).
    Status(u16),
    /// The server answered this status, but its body passed the cap and was not read.
    TooLarge(u16),
    /// No (whole) answer.
    Failed(Failure),
}

/// Why an attempt got no answer, as the client names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `--timeout` passed.
    Timeout,
    /// The host name does not resolve.
    Dns,
    /// Nothing accepts connections there.
    Refused,
    /// The server does not speak TLS on that port.
    NotTls,
    /// The server's certificate was refused.
    Certificate,
    /// A reset, a closed connection, a protocol error.
    Other,
}

/// Where the trace goes: called from any task, so it is `Send + Sync`.
#[derive(Clone)]
pub(crate) struct Sink(Arc<dyn Fn(&Exchange) + Send + Sync>);

impl Sink {
    /// A sink calling `report` for each attempt.
    pub(crate) fn new(report: impl Fn(&Exchange) + Send + Sync + 'static) -> Sink {
        Sink(Arc::new(report))
    }

    /// Reports one attempt.
    pub(crate) fn report(&self, exchange: &Exchange) {
        (self.0)(exchange);
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// Query parameters whose values never appear in a trace, matched as parts of the name
/// (`share_key`, `api_key`, `token`, ...).
const SECRET_PARAMETERS: [&str; 5] = ["key", "token", "secret", "password", "auth"];

/// A URL's path and query as a trace shows it: the value of any parameter whose name holds
/// `key`, `token`, `secret`, `password` or `auth` replaced by `REDACTED`, the rest as sent
/// (percent-encoded), and escaped.
pub(crate) fn target(url: &Url) -> String {
    let mut shown = url.path().to_owned();
    if let Some(query) = url.query() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                let lower = name.to_ascii_lowercase();
                if SECRET_PARAMETERS
                    .iter()
                    .any(|secret| lower.contains(secret))
                {
                    format!("{name}=REDACTED")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    plotward_visible::escape(&shown).into_owned()
}

/// The proxy reqwest takes from the environment for the API origin, as `-v` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Proxy {
    /// The variable it came from (`HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, ...).
    pub variable: &'static str,
    /// Its value, user info redacted.
    pub url: String,
    /// `NO_PROXY` (or `no_proxy`), which may exempt the origin, as set.
    pub exempt: Option<String>,
}

/// The proxy variable reqwest takes for a request to `scheme`, read through `var` so it is
/// tested without touching the process environment. It mirrors reqwest's system proxy rules
/// (hyper-util's `Matcher::from_env`): for each of `HTTPS_PROXY`/`HTTP_PROXY`, `ALL_PROXY` and
/// `NO_PROXY`, the upper-case name if it is set (even empty), else the lower-case one; the
/// scheme's own variable unless empty, else `ALL_PROXY`; none at all under CGI
/// (`REQUEST_METHOD` set).
pub(crate) fn proxy_for(scheme: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<Proxy> {
    if var("REQUEST_METHOD").is_some() {
        return None;
    }
    let first = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|name| var(name).map(|value| (name, value)))
            .filter(|(_, value)| !value.trim().is_empty())
    };
    let own = if scheme == "https" {
        ["HTTPS_PROXY", "https_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy"]
    };
    let (variable, value) = first(own).or_else(|| first(["ALL_PROXY", "all_proxy"]))?;
    Some(Proxy {
        variable,
        url: redact(&value),
        exempt: first(["NO_PROXY", "no_proxy"]).map(|(_, value)| redact(&value)),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn secret_parameters_are_redacted_and_the_rest_kept() {
        let url = Url::parse(
            "https://h/v2/files/lookup?path=a%2Fb&share_key=KEY123&user=alice&API_KEY=k&t=1",
        )
        .unwrap();
        assert_eq!(
            target(&url),
            "/v2/files/lookup?path=a%2Fb&share_key=REDACTED&user=alice&API_KEY=REDACTED&t=1"
        );
        assert_eq!(
            target(&Url::parse("http://h:8/v2/users/current").unwrap()),
            "/v2/users/current"
        );
    }

    #[test]
    fn the_proxy_for_the_origins_scheme_is_found_with_its_password_hidden() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let vars = env(&[
            ("HTTP_PROXY", "http://plain:3128"),
            ("https_proxy", "http://user:pw@corp:3128"),
            ("no_proxy", "localhost,.internal"),
        ]);
        assert_eq!(
            proxy_for("https", &vars),
            Some(Proxy {
                variable: "https_proxy",
                url: "http://***@corp:3128".into(),
                exempt: Some("localhost,.internal".into()),
            })
        );
        assert_eq!(proxy_for("http", &vars).unwrap().variable, "HTTP_PROXY");
        let all = env(&[("HTTPS_PROXY", " "), ("ALL_PROXY", "socks5://s:1080")]);
        assert_eq!(proxy_for("https", &all).unwrap().variable, "ALL_PROXY");
        assert_eq!(proxy_for("https", &env(&[])), None);
        // An upper-case name that is set hides the lower-case one, even empty.
        let hidden = env(&[("HTTPS_PROXY", ""), ("https_proxy", "http://x:1")]);
        assert_eq!(proxy_for("https", &hidden), None);
        let cgi = env(&[("REQUEST_METHOD", "GET"), ("HTTPS_PROXY", "http://x:1")]);
        assert_eq!(proxy_for("https", &cgi), None);
    }

    proptest! {
        /// Whatever the query, a secret parameter's value never shows, and nothing shown is a
        /// control character.
        #[test]
        fn no_secret_value_or_control_character_is_shown(
            name in "[a-z_]{0,6}(share_key|api_key|token)[a-z_]{0,6}",
            value in "[A-Za-z0-9]{8,20}",
            other in "\\PC{0,20}",
        ) {
            let mut url = Url::parse("https://h/v2/x").unwrap();
            url.query_pairs_mut().append_pair("p", &other).append_pair(&name, &value);
            let shown = target(&url);
            prop_assert!(!shown.contains(&value), "{shown}");
            prop_assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
    }
}
