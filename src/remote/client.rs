//! The HTTP client: authentication, timeouts, retries with backoff, concurrent listing, and
//! the defences against a server that lies or breaks: no redirects, URLs only from
//! [`ApiBase`], capped bodies, listings that must end and add up, and a breaker that stops
//! the run when the server stops answering.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use indicatif::ProgressBar;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::api::{
    self, ApiBase, Fid, FileFlags, Found, ListPage, ListedFile, LookupKind, Unplaced,
};
use super::credentials::{Connection, Source, Sources, TlsVerify};
use super::retry::{Breaker, RetryPolicy};
use super::trace::Failure as Cause;
use super::trace::{self, Exchange, Outcome};
use super::{RemoteError, Secrets};
use crate::inventory::{CountMismatch, Coverage, Flags, Inventory, RemoteFile, Sharing};

/// What happened to one HTTP attempt, reported to callers that keep an audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
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
pub(crate) struct Listing {
    /// The managed user's files, paths resolved, with what the listing could not vouch for.
    pub inventory: Inventory,
    /// Files left out because their folder was not listed.
    pub unplaced: Vec<Unplaced>,
    /// Fids of other users' files that the listing held; skipped, never managed.
    pub foreign: Vec<String>,
}

/// The default cap on one response body: a 10,000-item page of full file objects is about
/// 20 MiB, so this leaves room and still bounds memory at `parallelism` times the cap.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// How much of an error response is read for its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// A Chart Studio API client for one user.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    /// `Basic` credentials, sent with each request (not as a default header, so accounts can
    /// share one connection pool per server).
    auth: HeaderValue,
    /// Shared by every account of a run on this server: a permit is held for each attempt,
    /// so `--parallelism` bounds the requests in flight to the server, not per account.
    slots: Option<Arc<tokio::sync::Semaphore>>,
    base: ApiBase,
    username: String,
    /// Where the URL, user and key came from, for the messages of [`Client::check_credentials`].
    sources: Sources,
    retry: RetryPolicy,
    read_only: bool,
    max_response_bytes: usize,
    breaker: Arc<Breaker>,
    /// Set once the run is halted (an interrupt, a broken audit log): no attempt starts after.
    halt: Arc<OnceLock<String>>,
    /// Where each attempt is reported for `-v`, if anywhere.
    trace: Option<trace::Sink>,
    /// The key and the token made from it, taken out of every error this client returns.
    secrets: Arc<Secrets>,
}

/// The HTTP client for a server: no redirects, timeouts, TLS as configured, no proxy for
/// plain http (loopback only). It holds no credentials.
fn build_http(
    base: &ApiBase,
    tls: &TlsVerify,
    retry: RetryPolicy,
) -> Result<reqwest::Client, RemoteError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "plotly-client-platform",
        HeaderValue::from_str(&platform()).expect("ASCII version"),
    );
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(retry.timeout)
        .connect_timeout(retry.timeout.min(Duration::from_secs(10)))
        .user_agent(platform());
    if base.is_http() {
        // Plain http is allowed only to a loopback server; a proxy between would read the
        // Authorization header in clear text, so such requests always go direct.
        builder = builder.no_proxy();
    }
    builder = match tls {
        TlsVerify::System => builder,
        TlsVerify::Off => builder.tls_danger_accept_invalid_certs(true),
        TlsVerify::Bundle(path) => {
            let pem =
                crate::limits::read_text(path, crate::limits::MAX_POLICY_BYTES).map_err(|err| {
                    RemoteError::Setup(format!("cannot read CA bundle {}: {err}", path.display()))
                })?;
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|err| {
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
    let http = builder.build().map_err(|err| {
        let why = causes(&err);
        RemoteError::Setup(match tls {
            TlsVerify::Bundle(path) => format!(
                "cannot use the CA bundle {} (it must hold PEM certificates): {why}",
                path.display()
            ),
            _ => format!("cannot build the HTTP client: {why}"),
        })
    })?;
    Ok(http)
}

/// What the accounts of one run share per server (origin and TLS setting): one connection
/// pool, and `slots` permits, so `--parallelism` is the number of requests in flight to a
/// server across every account, however many accounts run at once.
#[derive(Debug)]
pub(crate) struct Servers {
    slots: usize,
    shared: std::sync::Mutex<std::collections::HashMap<(String, TlsVerify), Shared>>,
}

/// One server's pool, slots and dead-server breaker: a server that stopped answering is
/// taken for dead once for every account on it, not once per account.
#[derive(Clone, Debug)]
struct Shared {
    http: reqwest::Client,
    slots: Arc<tokio::sync::Semaphore>,
    breaker: Arc<Breaker>,
}

impl Servers {
    /// Servers that each take at most `slots` requests at once.
    pub(crate) fn new(slots: usize) -> Servers {
        Servers {
            slots: slots.max(1),
            shared: std::sync::Mutex::default(),
        }
    }

    /// The pool, slots and breaker of `base`'s server, made on first use.
    fn get(
        &self,
        base: &ApiBase,
        tls: &TlsVerify,
        retry: RetryPolicy,
    ) -> Result<Shared, RemoteError> {
        let mut shared = self
            .shared
            .lock()
            .map_err(|_| RemoteError::Setup("the shared client table is poisoned".into()))?;
        let key = (base.origin(), tls.clone());
        if let Some(found) = shared.get(&key) {
            return Ok(found.clone());
        }
        let made = Shared {
            http: build_http(base, tls, retry)?,
            slots: Arc::new(tokio::sync::Semaphore::new(self.slots)),
            breaker: Arc::new(Breaker::default()),
        };
        shared.insert(key, made.clone());
        Ok(made)
    }
}

/// An error and its causes, `: `-joined, so "builder error" says what went wrong beneath it.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `Plotly-Client-Platform` header: name and a plain dotted version, as the server wants.
pub(crate) fn platform() -> String {
    format!("plotward {}", env!("CARGO_PKG_VERSION"))
}

impl Client {
    /// Builds a client for a connection. It follows no redirect: credentials go to the
    /// configured origin and nowhere else.
    pub(crate) fn new(connection: &Connection, retry: RetryPolicy) -> Result<Client, RemoteError> {
        let base = ApiBase::parse(&connection.api_url).map_err(RemoteError::Setup)?;
        let http = build_http(&base, &connection.tls, retry)?;
        Client::with_http(connection, retry, base, http)
    }

    /// A client for one account of a run over several: it shares the server's connection pool,
    /// request slots and dead-server breaker (`servers`) with the other accounts on the same
    /// server.
    pub(crate) fn shared(
        connection: &Connection,
        retry: RetryPolicy,
        servers: &Servers,
    ) -> Result<Client, RemoteError> {
        let base = ApiBase::parse(&connection.api_url).map_err(RemoteError::Setup)?;
        let shared = servers.get(&base, &connection.tls, retry)?;
        let mut client = Client::with_http(connection, retry, base, shared.http)?;
        client.slots = Some(shared.slots);
        client.breaker = shared.breaker;
        Ok(client)
    }

    /// A client on `http` (which carries no credentials: the header is added per request).
    fn with_http(
        connection: &Connection,
        retry: RetryPolicy,
        base: ApiBase,
        http: reqwest::Client,
    ) -> Result<Client, RemoteError> {
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
        Ok(Client {
            http,
            auth,
            slots: None,
            base,
            username: connection.username.clone(),
            sources: connection.sources.clone(),
            retry,
            read_only: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            breaker: Arc::new(Breaker::default()),
            halt: Arc::new(OnceLock::new()),
            trace: None,
            secrets: Arc::new(Secrets::new([
                connection.api_key.expose().to_owned(),
                token.clone(),
            ])),
        })
    }

    /// A client that can only read: any other method fails before a byte is sent. `plan`,
    /// `check`, `export` and `snapshot` use it, so they can never change the account,
    /// whatever the code path.
    pub(crate) fn read_only(
        connection: &Connection,
        retry: RetryPolicy,
    ) -> Result<Client, RemoteError> {
        Ok(Client {
            read_only: true,
            ..Client::new(connection, retry)?
        })
    }

    /// The same client, made read-only (as [`Client::read_only`]).
    #[must_use]
    pub(crate) fn into_read_only(mut self) -> Client {
        self.read_only = true;
        self
    }

    /// The same client with another cap on response bodies (at least 1 KiB).
    #[must_use]
    pub(crate) fn with_max_response_bytes(mut self, bytes: usize) -> Client {
        self.max_response_bytes = bytes.max(1024);
        self
    }

    /// The same client, reporting every HTTP attempt to `sink` (`-v`).
    #[must_use]
    pub(crate) fn with_trace(mut self, sink: trace::Sink) -> Client {
        self.trace = Some(sink);
        self
    }

    /// Halts this client and every clone of it: no attempt (retries included) starts after
    /// this; attempts already sent finish. The first reason given is kept.
    pub(crate) fn halt(&self, reason: String) {
        let _ = self.halt.set(reason);
    }

    /// The API base URL, as configured.
    pub(crate) fn api_url(&self) -> String {
        self.base.to_string()
    }

    /// The user.
    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// Sends a request, retrying what is worth retrying, reporting each attempt. Stops at
    /// once, sending nothing, when the server has been taken for dead.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        on_attempt: &mut (dyn FnMut(&Attempt) + Send),
    ) -> Result<Body, RemoteError> {
        if self.read_only && method != Method::GET {
            return Err(RemoteError::ReadOnly {
                method: method.to_string(),
                url: url.to_string(),
            });
        }
        let began = tokio::time::Instant::now();
        let mut number = 0;
        loop {
            number += 1;
            self.may_start()?;
            // The server's slot is held for the attempt only, not through a retry's wait.
            let permit = match &self.slots {
                Some(slots) => Some(Arc::clone(slots).acquire_owned().await.map_err(|_| {
                    RemoteError::Setup("the server's request slots were closed".into())
                })?),
                None => None,
            };
            let sent = tokio::time::Instant::now();
            let result = self.attempt(&method, url, body).await;
            drop(permit);
            let failure = match result {
                Ok(response) => {
                    self.report(
                        &method,
                        url,
                        Outcome::Status(response.status.as_u16()),
                        sent,
                        number,
                        false,
                    );
                    self.breaker.answered();
                    on_attempt(&Attempt {
                        number,
                        status: Some(response.status.as_u16()),
                        will_retry: false,
                        message: None,
                    });
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            let next = self.after_failure(number, began.elapsed(), &failure);
            self.report(
                &method,
                url,
                failure.outcome(),
                sent,
                number,
                matches!(next, Next::Retry(_)),
            );
            // The audit log keeps this message: never with the key a server echoed in it.
            let mut message = failure.error.message();
            self.secrets.scrub(&mut message);
            on_attempt(&Attempt {
                number,
                status: match next {
                    Next::ServerDown(_) => None,
                    _ => failure.error.status(),
                },
                will_retry: matches!(next, Next::Retry(_)),
                message: Some(message),
            });
            match next {
                Next::Retry(wait) => tokio::time::sleep(wait).await,
                Next::GiveUp => return Err(failure.error),
                Next::ServerDown(why) => return Err(RemoteError::ServerDown(why)),
            }
        }
    }

    /// Reports one attempt to the trace sink, if there is one.
    fn report(
        &self,
        method: &Method,
        url: &Url,
        outcome: Outcome,
        sent: tokio::time::Instant,
        attempt: u32,
        will_retry: bool,
    ) {
        if let Some(sink) = &self.trace {
            // A `next` link the server wrote may carry the key under any name.
            let mut target = trace::target(url);
            self.secrets.scrub(&mut target);
            sink.report(&Exchange {
                method: method.to_string(),
                target,
                outcome,
                elapsed: sent.elapsed(),
                attempt,
                will_retry,
            });
        }
    }

    /// Whether a new attempt may start: not once the run is halted or the server taken for
    /// dead.
    fn may_start(&self) -> Result<(), RemoteError> {
        if let Some(why) = self.halt.get() {
            return Err(RemoteError::Halted(why.clone()));
        }
        if let Some(why) = self.breaker.why_open() {
            return Err(RemoteError::ServerDown(why.clone()));
        }
        Ok(())
    }

    /// What follows a failed attempt: the breaker counts attempts the server did not answer,
    /// and the retry policy decides the rest.
    fn after_failure(&self, number: u32, elapsed: Duration, failure: &Failure) -> Next {
        // The breaker may be shared with other accounts, whose errors quote its reason: it
        // gets the message with this account's key taken out.
        let mut last = failure.error.message();
        self.secrets.scrub(&mut last);
        if failure.answered {
            self.breaker.answered();
        } else if self.breaker.missed(&self.base.origin(), &last) {
            return Next::ServerDown(self.breaker.why_open().cloned().unwrap_or_default());
        }
        if !failure.retryable {
            return Next::GiveUp;
        }
        self.retry
            .next_wait(number, elapsed, failure.retry_after)
            .map_or(Next::GiveUp, Next::Retry)
    }

    /// One attempt: the response with its whole body (within the cap), or how it failed.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Body, Failure> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(header::AUTHORIZATION, self.auth.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| Failure::transport(method, url, &err, ""))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|v| api::redact(&String::from_utf8_lossy(v.as_bytes())))
                .unwrap_or_default();
            return Err(Failure::fatal(RemoteError::Redirect {
                method: method.to_string(),
                url: url.to_string(),
                status: status.as_u16(),
                location,
                origin: self.base.origin(),
            }));
        }
        if !status.is_success() {
            let wait = api::retry_after(
                response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let text = read_prefix(response, ERROR_BODY_BYTES).await;
            return Err(classify(
                method,
                url,
                status,
                &text,
                wait,
                self.retry.max_backoff,
            ));
        }
        let bytes = read_capped(response, self.max_response_bytes)
            .await
            .map_err(|err| match err {
                BodyError::TooLarge => Failure::fatal(RemoteError::TooLarge {
                    url: url.to_string(),
                    limit: self.max_response_bytes,
                }),
                BodyError::Transport(err) => {
                    Failure::transport(method, url, &err, " while reading the response")
                }
            })?;
        Ok(Body { status, bytes })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, RemoteError> {
        let body = self.send(Method::GET, url, None, &mut |_| {}).await?;
        body.parse(url)
    }

    /// The user the key belongs to, as `GET /v2/users/current` names it. The answer is read
    /// with a small cap and checked by [`api::current_username`] before it is believed.
    pub(crate) async fn current_user(&self) -> Result<String, RemoteError> {
        let url = self.base.current_user_url();
        let capped = self
            .clone()
            .with_max_response_bytes(api::MAX_CURRENT_USER_BYTES.min(self.max_response_bytes));
        let not_chart_studio = |message: &str| RemoteError::Decode {
            url: url.to_string(),
            message: format!(
                "this is not a Chart Studio answer to the credentials check: {message}"
            ),
        };
        let body = match capped.send(Method::GET, &url, None, &mut |_| {}).await {
            Ok(body) => body,
            Err(RemoteError::TooLarge { limit, .. }) => {
                return Err(not_chart_studio(&format!(
                    "it is larger than {} KiB",
                    limit / 1024
                )));
            }
            Err(other) => return Err(other),
        };
        api::current_username(&body.bytes).map_err(|message| not_chart_studio(&message))
    }

    /// Checks the URL, the key and the user with one read before anything else is sent:
    /// `GET /v2/users/current` must answer with the configured user. Every failure names the
    /// source of the value to fix (flag, environment variable or file).
    pub(crate) async fn check_credentials(&self) -> Result<(), RemoteError> {
        self.scrub(self.check_credentials_raw().await)
    }

    async fn check_credentials_raw(&self) -> Result<(), RemoteError> {
        let sources = &self.sources;
        let owner = match self.current_user().await {
            Ok(owner) => owner,
            Err(RemoteError::Http {
                status: status @ (401 | 403),
                ..
            }) => {
                return Err(RemoteError::KeyRejected {
                    key_source: Box::new(sources.api_key.clone()),
                    origin: self.base.origin(),
                    status,
                    user: self.username.clone(),
                    user_source: sources.username.to_string(),
                });
            }
            Err(RemoteError::Http { status: 404, .. }) => {
                return Err(RemoteError::NotAnApi {
                    origin: self.base.origin(),
                    url_source: sources.api_url.to_string(),
                    example: super::credentials::EXAMPLE_API_URL,
                });
            }
            Err(RemoteError::Transport {
                method,
                url,
                message,
            }) if sources.api_url != Source::Flag("--api-url") => {
                return Err(RemoteError::Transport {
                    method,
                    url,
                    message: format!("{message} (the API URL is from {})", sources.api_url),
                });
            }
            Err(other) => return Err(other),
        };
        if owner != self.username {
            return Err(RemoteError::WrongUser {
                owner,
                user: self.username.clone(),
                user_source: sources.username.to_string(),
                key_source: Box::new(sources.api_key.clone()),
                origin: self.base.origin(),
            });
        }
        Ok(())
    }

    /// Lists every file of the user, and proves the listing complete: the distinct items
    /// listed must equal the server's `count`. The first pass fetches pages by number,
    /// `parallelism` at a time; if the pages do not fit together, or the count does not
    /// match, the account is listed once more by following `next`. A second mismatch is an
    /// error, unless `accept_count_mismatch`, in which case the inventory says so.
    pub(crate) async fn list(
        &self,
        parallelism: usize,
        progress: &ProgressBar,
        accept_count_mismatch: bool,
    ) -> Result<Listing, RemoteError> {
        self.scrub(
            self.list_raw(parallelism, progress, accept_count_mismatch)
                .await,
        )
    }

    async fn list_raw(
        &self,
        parallelism: usize,
        progress: &ProgressBar,
        accept_count_mismatch: bool,
    ) -> Result<Listing, RemoteError> {
        let mut by_number = true;
        let (files, unproven) = loop {
            let pass = self.list_pass(parallelism, progress, by_number).await?;
            let listed = api::distinct(&pass.files, &self.username);
            if listed == pass.count {
                break (pass.files, None);
            }
            if by_number {
                // Pages shifted under us, or the pages did not fit: once more, the slow and
                // consistent way.
                by_number = false;
                continue;
            }
            let mismatch = CountMismatch {
                counted: pass.count,
                listed,
            };
            if !accept_count_mismatch {
                return Err(RemoteError::CountMismatch(mismatch));
            }
            break (pass.files, Some(mismatch));
        };
        progress.finish_and_clear();
        let built = api::build_inventory(files, &self.username).map_err(RemoteError::Listing)?;
        let coverage = Coverage {
            foreign_skipped: built.foreign.len(),
            unplaced: built.unplaced.len(),
            unproven,
        };
        Ok(Listing {
            inventory: built.inventory.with_coverage(coverage),
            unplaced: built.unplaced,
            foreign: built.foreign,
        })
    }

    /// One pass over the listing: the first page, then the rest by number (when `by_number`
    /// and the pages fit together) or by following `next`.
    async fn list_pass(
        &self,
        parallelism: usize,
        progress: &ProgressBar,
        by_number: bool,
    ) -> Result<Pass, RemoteError> {
        let first_url = self.base.list_url(&self.username, 1, api::PAGE_SIZE);
        let first = self.get_page(&first_url).await?;
        let count = api::check_count(first.children.count).map_err(listing_error)?;
        let per_page = first.children.results.len();
        api::check_page_size(count, per_page, first.children.next.is_some())
            .map_err(listing_error)?;
        progress.set_length(api::page_budget(count, per_page) as u64);
        progress.set_position(1);
        let numbers = api::numbered_pages(count, per_page).filter(|_| by_number);
        if let Some(numbers) = numbers.filter(|_| first.children.next.is_some()) {
            progress.set_length(*numbers.end() as u64);
            if let Some(rest) = self
                .fetch_numbered(numbers.clone(), per_page, parallelism, progress)
                .await?
            {
                // One allocation of the exact size, not a doubling vector moved ~17 times.
                let total = first.children.results.len() + rest.iter().map(Vec::len).sum::<usize>();
                let mut files = Vec::with_capacity(total);
                files.extend(first.children.results);
                files.extend(rest.into_iter().flatten());
                return Ok(Pass { files, count });
            }
        }
        let mut walk = api::Walk::new(first_url.clone(), count, per_page);
        walk.add_fids(
            &first_url,
            first.children.results.iter().map(|f| f.fid.as_str()),
        )
        .map_err(listing_error)?;
        let mut files = first.children.results;
        let mut next = first.children.next;
        while let Some(link) = next {
            let url = self
                .base
                .accept_link(&link, &first_url)
                .map_err(|err| RemoteError::Listing(err.to_string()))?;
            walk.step(&url).map_err(listing_error)?;
            let page = self.get_page(&url).await?;
            walk.add_items(page.children.results.len())
                .map_err(listing_error)?;
            walk.add_fids(&url, page.children.results.iter().map(|f| f.fid.as_str()))
                .map_err(listing_error)?;
            files.extend(page.children.results);
            next = page.children.next;
            progress.inc(1);
        }
        Ok(Pass { files, count })
    }

    /// Fetches pages by number, at most `parallelism` in flight (a task is started only when
    /// another ends, however many pages there are). `None` when the pages do not fit
    /// together (a page past the end, or one of another size), so the caller follows `next`.
    async fn fetch_numbered(
        &self,
        numbers: std::ops::RangeInclusive<usize>,
        per_page: usize,
        parallelism: usize,
        progress: &ProgressBar,
    ) -> Result<Option<Vec<Vec<ListedFile>>>, RemoteError> {
        let last = *numbers.end();
        let mut numbers = numbers;
        let mut tasks = tokio::task::JoinSet::new();
        let spawn = |tasks: &mut tokio::task::JoinSet<_>, number: usize| {
            let client = self.clone();
            tasks.spawn(async move {
                let url = client
                    .base
                    .list_url(&client.username, number, api::PAGE_SIZE);
                (number, client.get_page(&url).await)
            });
        };
        for number in numbers.by_ref().take(parallelism.max(1)) {
            spawn(&mut tasks, number);
        }
        let mut pages = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (number, page) =
                joined.map_err(|err| RemoteError::Setup(format!("listing task failed: {err}")))?;
            let results = match page {
                Ok(page) => page.children.results,
                Err(err) if err.status() == Some(404) => return Ok(None),
                Err(err) => return Err(err),
            };
            let fits = if number == last {
                (1..=per_page).contains(&results.len())
            } else {
                results.len() == per_page
            };
            if !fits {
                return Ok(None);
            }
            pages.push((number, results));
            progress.inc(1);
            if let Some(number) = numbers.next() {
                spawn(&mut tasks, number);
            }
        }
        pages.sort_by_key(|(number, _)| *number);
        Ok(Some(pages.into_iter().map(|(_, files)| files).collect()))
    }

    /// One listing page, every item's fields within their size limits, so a server cannot
    /// pile up memory across pages with huge names.
    async fn get_page(&self, url: &Url) -> Result<ListPage, RemoteError> {
        let body = self.send(Method::GET, url, None, &mut |_| {}).await?;
        let status = body.status.as_u16();
        let bytes = body.bytes;
        let page = api::parse_page(&bytes).map_err(|message| RemoteError::Decode {
            url: url.to_string(),
            message: format!("unexpected response ({status}): {message}"),
        })?;
        api::check_items(&page.children.results).map_err(RemoteError::Listing)?;
        Ok(page)
    }

    /// Looks one path of the user up: `None` when the server answers 404 (or the file is in
    /// the trash). The answer is read with a small cap and checked by [`api::parse_lookup`]:
    /// the user's own fid, the name asked for, a known file type, both flags.
    pub(crate) async fn lookup(
        &self,
        kind: LookupKind,
        path: &str,
    ) -> Result<Option<Found>, RemoteError> {
        let url = self.base.lookup_url(kind, path, &self.username);
        let capped = self
            .clone()
            .with_max_response_bytes(api::MAX_LOOKUP_BYTES.min(self.max_response_bytes));
        let body = match capped.send(Method::GET, &url, None, &mut |_| {}).await {
            Ok(body) => body,
            Err(RemoteError::Http { status: 404, .. }) => return Ok(None),
            // One file's answer has a fixed cap: --max-response-mib, which the generic
            // message suggests, does not raise it.
            Err(RemoteError::TooLarge { limit, .. }) => {
                return Err(RemoteError::Lookup(format!(
                    "the answer for `{}` is larger than {} KiB, too large for one file; \
                     refusing to read it",
                    api::redact(path),
                    limit / 1024
                )));
            }
            Err(other) => return Err(other),
        };
        api::parse_lookup(&body.bytes, &self.username, path, kind).map_err(RemoteError::Lookup)
    }

    /// The files at `paths` (those the server has) and every folder above them, as an
    /// inventory, without listing the account: one lookup per path and per folder (each
    /// folder once). Each answer is checked against the one below it: a file's `parent` must
    /// be the folder found at its folder path, and a top-level folder's the root, so the
    /// server cannot place a file elsewhere than asked.
    pub(crate) async fn locate(&self, paths: &[String]) -> Result<Inventory, RemoteError> {
        self.scrub(self.locate_raw(paths).await)
    }

    async fn locate_raw(&self, paths: &[String]) -> Result<Inventory, RemoteError> {
        let mut found = std::collections::BTreeMap::<String, Found>::new();
        for path in paths {
            if found.contains_key(path) {
                continue;
            }
            // A path the server has no file at is left out: `status` reports it as missing.
            if let Some(file) = self.lookup(LookupKind::File, path).await? {
                self.place(path, file, &mut found).await?;
            }
        }
        // One file has one path: a server naming the same fid at two paths is lying.
        let mut paths_of = std::collections::HashMap::new();
        for (path, file) in &found {
            if let Some(other) = paths_of.insert(file.fid.as_str(), path.as_str()) {
                return Err(RemoteError::Lookup(format!(
                    "the server gives {} for both `{}` and `{}`; refusing to judge either",
                    file.fid,
                    api::redact(other),
                    api::redact(path)
                )));
            }
        }
        drop(paths_of);
        let files = found
            .into_iter()
            .map(|(path, file)| RemoteFile {
                fid: file.fid,
                path,
                filetype: file.filetype,
                flags: file.flags,
            })
            .collect();
        Ok(Inventory::new(files))
    }

    /// Records `file`, found at `path`, and looks up the folders above it until one already
    /// recorded (or the root), checking that each is the parent the one below names.
    async fn place(
        &self,
        path: &str,
        file: Found,
        found: &mut std::collections::BTreeMap<String, Found>,
    ) -> Result<(), RemoteError> {
        let mut path = path.to_owned();
        let mut child = file;
        loop {
            let Some((folder_path, _)) = path.rsplit_once('/') else {
                if child.parent != -1 {
                    return Err(RemoteError::Lookup(format!(
                        "the server puts `{}` ({}) in folder {}, but it was looked up at the \
                         top level; refusing to judge it",
                        api::redact(&path),
                        child.fid,
                        child.parent
                    )));
                }
                found.insert(path, child);
                return Ok(());
            };
            let folder_path = folder_path.to_owned();
            let known = found.get(&folder_path).cloned();
            let recorded = known.is_some();
            let folder = match known {
                Some(folder) => folder,
                None => self
                    .lookup(LookupKind::Folder, &folder_path)
                    .await?
                    .ok_or_else(|| {
                        RemoteError::Lookup(format!(
                            "the server found `{}` but not its folder `{}`; refusing to judge it",
                            api::redact(&path),
                            api::redact(&folder_path)
                        ))
                    })?,
            };
            if child.parent != folder.idlocal
                || folder.filetype != crate::inventory::FileType::Folder
            {
                return Err(RemoteError::Lookup(format!(
                    "the server puts `{}` ({}) in folder {}, but the folder `{}` is {}; \
                     refusing to judge it",
                    api::redact(&path),
                    child.fid,
                    child.parent,
                    api::redact(&folder_path),
                    folder.fid
                )));
            }
            found.insert(std::mem::replace(&mut path, folder_path.clone()), child);
            if recorded {
                return Ok(());
            }
            child = folder;
        }
    }

    /// Reads a file's sharing flags.
    pub(crate) async fn flags(&self, fid: &str) -> Result<Flags, RemoteError> {
        self.scrub(self.flags_raw(fid).await)
    }

    async fn flags_raw(&self, fid: &str) -> Result<Flags, RemoteError> {
        let url = self.file_url(fid)?;
        let file: FileFlags = self.get_json(&url).await?;
        file.flags().ok_or_else(|| RemoteError::Decode {
            url: url.to_string(),
            message: "the response has no share_key_enabled".into(),
        })
    }

    /// Sets a file's sharing with one `PATCH` carrying both flags; returns the flags the
    /// response reports. Each attempt is reported to `on_attempt`.
    pub(crate) async fn set_sharing(
        &self,
        fid: &str,
        level: Sharing,
        on_attempt: &mut (dyn FnMut(&Attempt) + Send),
    ) -> Result<Option<Flags>, RemoteError> {
        self.scrub(self.set_sharing_raw(fid, level, on_attempt).await)
    }

    async fn set_sharing_raw(
        &self,
        fid: &str,
        level: Sharing,
        on_attempt: &mut (dyn FnMut(&Attempt) + Send),
    ) -> Result<Option<Flags>, RemoteError> {
        let url = self.file_url(fid)?;
        let body = api::sharing_body(level);
        let response = self
            .send(Method::PATCH, &url, Some(&body), on_attempt)
            .await?;
        let file: FileFlags = response.parse(&url)?;
        Ok(file.flags())
    }

    /// The result with the key and its token taken out of the error, if any: a server can
    /// echo either in an error body, a redirect or a field that a message then quotes.
    fn scrub<T>(&self, result: Result<T, RemoteError>) -> Result<T, RemoteError> {
        result.map_err(|err| err.scrubbed(&self.secrets))
    }

    /// The URL of one of the user's files; any other fid is refused before anything is sent.
    fn file_url(&self, fid: &str) -> Result<Url, RemoteError> {
        let fid = Fid::parse(fid, &self.username).map_err(RemoteError::Refused)?;
        Ok(self.base.file_url(&fid))
    }
}

/// What one listing pass collected.
struct Pass {
    files: Vec<ListedFile>,
    count: usize,
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(listing_error)`
fn listing_error(err: api::PagingError) -> RemoteError {
    RemoteError::Listing(err.to_string())
}

/// What follows a failed attempt.
#[derive(Debug)]
enum Next {
    /// Another attempt, after this wait.
    Retry(Duration),
    /// This failure is the answer.
    GiveUp,
    /// The breaker opened: the server is taken for dead, for every request of the run.
    ServerDown(String),
}

/// How one failed attempt is handled.
struct Failure {
    error: RemoteError,
    retryable: bool,
    retry_after: Option<Duration>,
    /// Whether the server answered at all (for the dead-server breaker).
    answered: bool,
    /// Why there was no answer, for a transport failure.
    cause: Option<Cause>,
}

impl Failure {
    /// The attempt as the trace reports it: the status the server answered, or why none came.
    fn outcome(&self) -> Outcome {
        if let Some(cause) = self.cause {
            return Outcome::Failed(cause);
        }
        match &self.error {
            RemoteError::Redirect { status, .. } => Outcome::Status(*status),
            RemoteError::TooLarge { .. } => Outcome::TooLarge(200),
            other => other
                .status()
                .map_or(Outcome::Failed(trace::Failure::Other), Outcome::Status),
        }
    }

    /// An answer that retrying will not change.
    fn fatal(error: RemoteError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
            answered: true,
            cause: None,
        }
    }

    /// No (whole) answer: refused, reset, DNS, TLS or a timeout, named as such.
    fn transport(method: &Method, url: &Url, err: &reqwest::Error, during: &str) -> Failure {
        let cause = Cause::of(err);
        Failure {
            retryable: cause.is_transient(),
            error: RemoteError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                message: transport_message(cause, url, err, during),
            },
            retry_after: None,
            answered: false,
            cause: Some(cause),
        }
    }
}

/// What stopped a request that got no answer, read from the error's causes, so the message
/// says what to do instead of repeating the HTTP stack's chain of errors. It is the type `-v`
/// reports ([`trace::Failure`]), so the trace and the message cannot name a failure
/// differently.
impl Cause {
    fn of(err: &reqwest::Error) -> Cause {
        if err.is_timeout() {
            return Cause::Timeout;
        }
        let mut source = std::error::Error::source(err);
        let mut found = Cause::Other;
        while let Some(cause) = source {
            let text = cause.to_string();
            let io_kind = cause
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind);
            if text.starts_with("dns error") || text.contains("failed to lookup address") {
                return Cause::Dns;
            }
            if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
                return Cause::Refused;
            }
            if text.contains("InvalidContentType") || text.contains("corrupt message") {
                return Cause::NotTls;
            }
            if text.contains("certificate") || text.contains("CertificateRequired") {
                found = Cause::Certificate;
            }
            source = cause.source();
        }
        found
    }

    /// Whether it may go away on its own. A name that does not resolve, a server that does not
    /// speak TLS or a refused certificate will not, and retrying only delays the message.
    fn is_transient(self) -> bool {
        matches!(self, Cause::Timeout | Cause::Refused | Cause::Other)
    }
}

/// What a failed response means: retry (after how long), or stop. A 5xx asking to wait longer
/// than `max_wait` stops the run like the daily quota, rather than stall every change.
fn classify(
    method: &Method,
    url: &Url,
    status: StatusCode,
    text: &str,
    wait: Option<Duration>,
    max_wait: Duration,
) -> Failure {
    let message = api::error_message(text);
    let http = || RemoteError::Http {
        method: method.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        message: message.clone(),
    };
    let retry = |retry_after| Failure {
        error: http(),
        retryable: true,
        retry_after,
        answered: true,
        cause: None,
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        if api::is_daily_quota(&message, wait) {
            return Failure::fatal(RemoteError::Quota {
                message: message.clone(),
            });
        }
        return retry(wait);
    }
    if status.is_server_error() {
        if let Some(asked) = wait.filter(|w| *w > max_wait) {
            return Failure::fatal(RemoteError::Backoff {
                seconds: asked.as_secs(),
                message: message.clone(),
            });
        }
        return retry(wait);
    }
    Failure::fatal(http())
}

/// A transport error's message without the URL (which the caller adds): what happened and
/// what to check. Only the deepest cause of the HTTP stack's chain is kept, for the cases
/// plotward cannot name itself.
fn transport_message(cause: Cause, url: &Url, err: &reqwest::Error, during: &str) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or_default();
    let message = match cause {
        Cause::Timeout => format!("timed out{during} (--timeout)"),
        Cause::Dns => format!("cannot resolve host {host}: check --api-url"),
        Cause::Refused => format!(
            "nothing listens at {host}:{port}: check the host and port in --api-url, and that \
             the server is running"
        ),
        Cause::NotTls => {
            let hint = if super::credentials::is_loopback(host) {
                format!("; try http://{host}:{port}")
            } else {
                String::new()
            };
            format!(
                "the server at {host}:{port} does not speak TLS on that port; maybe it serves \
                 plain http, which plotward allows only on loopback hosts{hint}"
            )
        }
        Cause::Certificate => format!(
            "the server's TLS certificate was refused: {}; if your server uses a company CA, \
             pass --ca-bundle",
            deepest_cause(err)
        ),
        Cause::Other if err.is_connect() => format!("cannot connect: {}", deepest_cause(err)),
        Cause::Other => format!("the connection failed{during}: {}", deepest_cause(err)),
    };
    plotward_visible::escape(&message).into_owned()
}

/// The last error in the chain, the one that says what actually failed.
fn deepest_cause(err: &reqwest::Error) -> String {
    let mut deepest: &dyn std::error::Error = err;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}

/// Why a body could not be read whole.
enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body chunk by chunk, refusing it as soon as it would pass `limit` bytes: a hostile
/// or broken server cannot make plotward buffer more than the cap.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    let declared = response.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// Up to `limit` bytes of an error body, as text; whatever arrived if reading fails.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A successful response's body.
struct Body {
    status: StatusCode,
    bytes: Bytes,
}

impl Body {
    fn parse<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, RemoteError> {
        serde_json::from_slice(&self.bytes).map_err(|err| RemoteError::Decode {
            url: url.to_string(),
            message: format!(
                "unexpected response ({}): {}",
                self.status.as_u16(),
                plotward_visible::escape(&err.to_string())
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_causes_that_may_pass_are_retried() {
        assert!(Cause::Timeout.is_transient());
        assert!(Cause::Refused.is_transient());
        assert!(Cause::Other.is_transient());
        assert!(!Cause::Dns.is_transient());
        assert!(!Cause::NotTls.is_transient());
        assert!(!Cause::Certificate.is_transient());
    }

    #[test]
    fn a_read_only_client_refuses_writes_before_sending() {
        let connection = Connection {
            // Nothing listens on port 9 (discard); the refusal comes before any connection.
            api_url: "http://127.0.0.1:9".into(),
            username: "alice".into(),
            api_key: crate::remote::ApiKey::new("k"),
            tls: TlsVerify::System,
            sources: Sources::builtin("a test"),
        };
        let client = Client::read_only(&connection, RetryPolicy::default()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut attempts = 0;
        let err = runtime
            .block_on(client.set_sharing("alice:1", Sharing::Public, &mut |_| attempts += 1))
            .unwrap_err();
        assert!(matches!(err, RemoteError::ReadOnly { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "refused to send PATCH http://127.0.0.1:9/v2/files/alice:1: this client is read-only"
        );
        assert_eq!(err.message(), err.to_string());
        assert_eq!(attempts, 0, "nothing was sent");
    }

    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn statuses_are_classified() {
        let get = Method::GET;
        let url = Url::parse("http://127.0.0.1/v2/files/a:1").unwrap();
        let retried = |f: &Failure| f.retryable && f.answered;
        assert!(retried(&classify(
            &get,
            &url,
            StatusCode::BAD_GATEWAY,
            "",
            None,
            MAX
        )));
        let not_found = classify(&get, &url, StatusCode::NOT_FOUND, "", None, MAX);
        assert!(!not_found.retryable);
        assert!(matches!(
            not_found.error,
            RemoteError::Http { status: 404, .. }
        ));
        let throttled = classify(
            &get,
            &url,
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errors":[{"message":"slow down"}]}"#,
            Some(Duration::from_secs(1)),
            MAX,
        );
        assert!(retried(&throttled) && throttled.retry_after.is_some());
        let quota = classify(
            &get,
            &url,
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errors":[{"message":"threshold of 100 ... per 24h period"}]}"#,
            None,
            MAX,
        );
        assert!(!quota.retryable);
        assert!(matches!(quota.error, RemoteError::Quota { .. }));
        let busy = classify(
            &get,
            &url,
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            Some(Duration::from_mins(2)),
            MAX,
        );
        assert!(matches!(
            busy.error,
            RemoteError::Backoff { seconds: 120, .. }
        ));
        assert!(!busy.retryable);
        let brief = classify(
            &get,
            &url,
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            Some(Duration::from_secs(2)),
            MAX,
        );
        assert!(brief.retryable && brief.retry_after == Some(Duration::from_secs(2)));
    }
}
