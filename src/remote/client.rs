//! The HTTP client: authentication, timeouts, retries with backoff, concurrent listing.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use indicatif::ProgressBar;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;

use super::RemoteError;
use super::api::{self, FileFlags, ListPage, ListedFile, Unplaced};
use super::credentials::{Connection, TlsVerify};
use crate::inventory::{Flags, Inventory, Sharing};

/// How requests are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
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
}

/// What happened to one HTTP attempt, reported to callers that keep an audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based attempt number.
    pub number: u32,
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Whether another attempt follows.
    pub will_retry: bool,
    /// The server's message or the transport error, when it failed.
    pub message: Option<String>,
}

/// A listed account.
#[derive(Debug)]
pub struct Listing {
    /// The files, paths resolved.
    pub inventory: Inventory,
    /// Files left out because their folder was not listed.
    pub unplaced: Vec<Unplaced>,
    /// How many pages were fetched.
    pub pages: usize,
}

/// A Chart Studio API client for one user.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    username: String,
    retry: RetryPolicy,
    read_only: bool,
}

/// The `Plotly-Client-Platform` header: name and a plain dotted version, as the server wants.
pub fn platform() -> String {
    format!("plotward {}", env!("CARGO_PKG_VERSION"))
}

impl Client {
    /// Builds a client for a connection.
    pub fn new(connection: &Connection, retry: RetryPolicy) -> Result<Client, RemoteError> {
        let mut headers = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            connection.username,
            connection.api_key.expose()
        ));
        let mut auth = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
            RemoteError::Setup("the username or key has characters a header cannot hold".into())
        })?;
        // Marked sensitive so it is never printed by the HTTP stack's own debugging.
        auth.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(
            "plotly-client-platform",
            HeaderValue::from_str(&platform()).expect("ASCII version"),
        );
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(retry.timeout)
            .connect_timeout(retry.timeout.min(Duration::from_secs(10)))
            .user_agent(platform());
        builder = match &connection.tls {
            TlsVerify::System => builder,
            TlsVerify::Off => builder.tls_danger_accept_invalid_certs(true),
            TlsVerify::Bundle(path) => {
                let pem = std::fs::read(path).map_err(|err| {
                    RemoteError::Setup(format!("cannot read CA bundle {}: {err}", path.display()))
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                    RemoteError::Setup(format!("invalid CA bundle {}: {err}", path.display()))
                })?;
                if certs.is_empty() {
                    return Err(RemoteError::Setup(format!(
                        "CA bundle {} holds no certificate",
                        path.display()
                    )));
                }
                builder.tls_certs_only(certs)
            }
        };
        let http = builder
            .build()
            .map_err(|err| RemoteError::Setup(format!("cannot build the HTTP client: {err}")))?;
        Ok(Client {
            http,
            api_url: connection.api_url.clone(),
            username: connection.username.clone(),
            retry,
            read_only: false,
        })
    }

    /// A client that can only read: any other method fails before a byte is sent. `check`
    /// uses it, so a compliance gate can never change the account, whatever the code path.
    pub fn read_only(connection: &Connection, retry: RetryPolicy) -> Result<Client, RemoteError> {
        Ok(Client {
            read_only: true,
            ..Client::new(connection, retry)?
        })
    }

    /// The API base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The user.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Sends a request, retrying what is worth retrying, reporting each attempt.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        on_attempt: &mut (dyn FnMut(&Attempt) + Send),
    ) -> Result<bytes_body::Body, RemoteError> {
        if self.read_only && method != Method::GET {
            return Err(RemoteError::Setup(format!(
                "refused to send {method} {url}: this client is read-only"
            )));
        }
        let mut number = 0;
        loop {
            number += 1;
            let mut request = self.http.request(method.clone(), url);
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let wait = api::retry_after(
                        response
                            .headers()
                            .get(header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok()),
                    );
                    // Bytes, not text: JSON is parsed straight from them, which spares a
                    // lossy UTF-8 pass and a copy of every page.
                    let bytes = response.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        on_attempt(&Attempt {
                            number,
                            status: Some(status.as_u16()),
                            will_retry: false,
                            message: None,
                        });
                        return Ok(bytes_body::Body { status, bytes });
                    }
                    classify(&method, url, status, &String::from_utf8_lossy(&bytes), wait)
                }
                Err(err) => {
                    let message = transport_message(&err);
                    let error = RemoteError::Transport {
                        method: method.to_string(),
                        url: url.to_owned(),
                        message: message.clone(),
                    };
                    if is_transient(&message) {
                        Failure::Retry {
                            error,
                            retry_after: None,
                        }
                    } else {
                        Failure::Final(error)
                    }
                }
            };
            let (error, retry_after, retryable) = match failure {
                Failure::Retry { error, retry_after } => (error, retry_after, true),
                Failure::Final(error) => (error, None, false),
            };
            let will_retry = retryable && number <= self.retry.retries;
            on_attempt(&Attempt {
                number,
                status: error.status(),
                will_retry,
                message: Some(error.message()),
            });
            if !will_retry {
                return Err(error);
            }
            tokio::time::sleep(self.retry.wait(number, retry_after)).await;
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, RemoteError> {
        let body = self.send(Method::GET, url, None, &mut |_| {}).await?;
        body.parse(url)
    }

    /// Checks the credentials: `GET /v2/users/current`.
    pub async fn current_user(&self) -> Result<String, RemoteError> {
        #[derive(serde::Deserialize)]
        struct Me {
            username: String,
        }
        let me: Me = self.get_json(&api::current_user_url(&self.api_url)).await?;
        Ok(me.username)
    }

    /// Lists every file of the user. Once the first page tells how many there are, the other
    /// pages are fetched concurrently (page-number pagination allows it); without a count, or
    /// if the account changed while listing, it follows `next` one page at a time.
    pub async fn list(
        &self,
        parallelism: usize,
        progress: &ProgressBar,
    ) -> Result<Listing, RemoteError> {
        let first_url = api::list_url(&self.api_url, &self.username, 1);
        let first: ListPage = self.get_json(&first_url).await?;
        let per_page = first.children.results.len();
        let mut files = first.children.results;
        let mut pages = 1;
        if let (Some(count), Some(_)) = (first.children.count, &first.children.next) {
            let total_pages = count.div_ceil(per_page.max(1));
            progress.set_length(total_pages as u64);
            progress.inc(1);
            let rest = self
                .fetch_pages(2..=total_pages, parallelism, progress)
                .await?;
            pages += rest.len();
            files.extend(rest.into_iter().flatten());
            if distinct(&files) != count {
                // Pages shifted under us (files created or deleted meanwhile): list again the
                // slow, consistent way rather than plan from a partial picture.
                let (again, walked) = self
                    .follow_next(Vec::new(), Some(first_url), progress)
                    .await?;
                files = again;
                pages += walked;
            }
        } else {
            progress.inc(1);
            let (rest, walked) = self
                .follow_next(Vec::new(), first.children.next, progress)
                .await?;
            files.extend(rest);
            pages += walked;
        }
        progress.finish_and_clear();
        let (inventory, unplaced) = api::build_inventory(files).map_err(RemoteError::Listing)?;
        Ok(Listing {
            inventory,
            unplaced,
            pages,
        })
    }

    async fn fetch_pages(
        &self,
        numbers: std::ops::RangeInclusive<usize>,
        parallelism: usize,
        progress: &ProgressBar,
    ) -> Result<Vec<Vec<ListedFile>>, RemoteError> {
        let permits = Arc::new(Semaphore::new(parallelism.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for number in numbers {
            let client = self.clone();
            let permits = permits.clone();
            let progress = progress.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore stays open");
                let url = api::list_url(&client.api_url, &client.username, number);
                let page: ListPage = client.get_json(&url).await?;
                progress.inc(1);
                Ok::<_, RemoteError>((number, page.children.results))
            });
        }
        let mut pages = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let page = joined
                .map_err(|err| RemoteError::Setup(format!("listing task failed: {err}")))??;
            pages.push(page);
        }
        pages.sort_by_key(|(number, _)| *number);
        Ok(pages.into_iter().map(|(_, files)| files).collect())
    }

    async fn follow_next(
        &self,
        mut files: Vec<ListedFile>,
        mut next: Option<String>,
        progress: &ProgressBar,
    ) -> Result<(Vec<ListedFile>, usize), RemoteError> {
        let mut pages = 0;
        while let Some(url) = next {
            let page: ListPage = self.get_json(&url).await?;
            files.extend(page.children.results);
            next = page.children.next;
            pages += 1;
            progress.inc(1);
        }
        Ok((files, pages))
    }

    /// Reads a file's sharing flags.
    pub async fn flags(&self, fid: &str) -> Result<Flags, RemoteError> {
        let url = api::file_url(&self.api_url, fid);
        let file: FileFlags = self.get_json(&url).await?;
        file.flags().ok_or_else(|| RemoteError::Decode {
            url,
            message: "the response has no share_key_enabled".into(),
        })
    }

    /// Sets a file's sharing with one `PATCH` carrying both flags; returns the flags the
    /// response reports. Each attempt is reported to `on_attempt`.
    pub async fn set_sharing(
        &self,
        fid: &str,
        level: Sharing,
        on_attempt: &mut (dyn FnMut(&Attempt) + Send),
    ) -> Result<Option<Flags>, RemoteError> {
        let url = api::file_url(&self.api_url, fid);
        let body = api::sharing_body(level);
        let response = self
            .send(Method::PATCH, &url, Some(&body), on_attempt)
            .await?;
        let file: FileFlags = response.parse(&url)?;
        Ok(file.flags())
    }
}

/// How one failed attempt is handled.
enum Failure {
    Retry {
        error: RemoteError,
        retry_after: Option<Duration>,
    },
    Final(RemoteError),
}

fn classify(
    method: &Method,
    url: &str,
    status: StatusCode,
    text: &str,
    wait: Option<Duration>,
) -> Failure {
    let message = api::error_message(text);
    let http = || RemoteError::Http {
        method: method.to_string(),
        url: url.to_owned(),
        status: status.as_u16(),
        message: message.clone(),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        if api::is_daily_quota(&message, wait) {
            return Failure::Final(RemoteError::Quota {
                message: message.clone(),
            });
        }
        return Failure::Retry {
            error: http(),
            retry_after: wait,
        };
    }
    if status.is_server_error() {
        return Failure::Retry {
            error: http(),
            retry_after: wait.filter(|w| *w <= api::LONGEST_WAIT),
        };
    }
    Failure::Final(http())
}

/// A transport error's message without the URL (which the caller adds) and with its causes.
fn transport_message(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Whether a transport failure may go away on its own. A refused certificate will not, and
/// retrying it only delays the error the user needs to see.
fn is_transient(message: &str) -> bool {
    !(message.contains("certificate") || message.contains("CertificateRequired"))
}

fn distinct(files: &[ListedFile]) -> usize {
    files
        .iter()
        .map(|f| f.fid.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

mod bytes_body {
    use reqwest::StatusCode;

    use super::RemoteError;

    /// A successful response's body.
    pub struct Body {
        pub status: StatusCode,
        pub bytes: bytes::Bytes,
    }

    impl Body {
        pub fn parse<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, RemoteError> {
            serde_json::from_slice(&self.bytes).map_err(|err| RemoteError::Decode {
                url: url.to_owned(),
                message: format!("unexpected response ({}): {err}", self.status.as_u16()),
            })
        }
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
    fn certificate_errors_are_not_retried() {
        assert!(!is_transient(
            "cannot connect: client error (Connect): invalid peer certificate: UnknownIssuer"
        ));
        assert!(is_transient(
            "cannot connect: tcp connect error: Connection refused (os error 111)"
        ));
        assert!(is_transient("timed out"));
    }

    #[test]
    fn statuses_are_classified() {
        let get = Method::GET;
        assert!(matches!(
            classify(&get, "u", StatusCode::BAD_GATEWAY, "", None),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            classify(&get, "u", StatusCode::NOT_FOUND, "", None),
            Failure::Final(RemoteError::Http { status: 404, .. })
        ));
        assert!(matches!(
            classify(
                &get,
                "u",
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"errors":[{"message":"slow down"}]}"#,
                Some(Duration::from_secs(1))
            ),
            Failure::Retry {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(matches!(
            classify(
                &get,
                "u",
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"errors":[{"message":"threshold of 100 ... per 24h period"}]}"#,
                None
            ),
            Failure::Final(RemoteError::Quota { .. })
        ));
    }
}
