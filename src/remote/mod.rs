//! The remote Chart Studio account: credentials, the API as data (`api`), and the HTTP client
//! (`client`). Only this module knows reqwest.

pub(crate) mod api;
pub(crate) mod client;
pub(crate) mod credentials;
mod retry;
pub(crate) mod trace;

pub(crate) use client::{Attempt, Client, DEFAULT_MAX_RESPONSE_BYTES, Listing, Servers};
pub(crate) use credentials::{ApiKey, Connection, Sources, TlsVerify, server_identity};
pub(crate) use retry::RetryPolicy;

use crate::inventory::CountMismatch;

/// Why a request to the API failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteError {
    /// The client could not be set up (CA bundle, headers).
    #[error("{0}")]
    Setup(String),
    /// A request other than `GET` on a client made read-only (`plan`, `check`, `export`,
    /// `snapshot`); it was not sent.
    #[error("refused to send {method} {url}: this client is read-only")]
    ReadOnly { method: String, url: String },
    /// No response: connection refused, DNS, TLS, timeout.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        /// URL (never holds a secret).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Http {
        method: String,
        url: String,
        /// Status code.
        status: u16,
        message: String,
    },
    /// The daily quota is used up; waiting would take hours.
    #[error("the API's daily limit is reached: {message}")]
    Quota { message: String },
    /// The response was not what the API documents.
    #[error("{url}: {message}")]
    Decode {
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The listing cannot be turned into an inventory.
    #[error("cannot list the account: {0}")]
    Listing(String),
    /// The server redirected; plotward follows no redirect, so credentials stay home.
    #[error(
        "{method} {url}: the server answered {status} with a redirect to `{location}`; plotward \
         follows no redirects, so credentials only ever go to {origin}. If the API moved, \
         point --api-url at its new address"
    )]
    Redirect {
        method: String,
        url: String,
        /// The 3xx status.
        status: u16,
        /// Where it pointed (user info redacted).
        location: String,
        origin: String,
    },
    /// A response body passed the cap.
    #[error(
        "{url}: the response is larger than {} MiB; refusing to read it (raise \
         --max-response-mib if the server's pages are really this large)",
        limit.div_ceil(1024 * 1024)
    )]
    TooLarge {
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// A 5xx that asks for a longer wait than plotward's longest backoff.
    #[error(
        "the server is unavailable and asks to wait {seconds} s ({message}); plotward stops \
         rather than stall the run. Run it again later"
    )]
    Backoff {
        /// The wait asked for.
        seconds: u64,
        message: String,
    },
    /// The run was halted (an interrupt, a broken audit log); nothing more is sent.
    #[error("{0}")]
    Halted(String),
    /// The server stopped answering; nothing more is sent this run.
    #[error("{0}")]
    ServerDown(String),
    /// Listed items never added up to the server's `count`.
    #[error(
        "the account changed during listing; re-run. The server counts {} items but {} were \
         listed, twice. If this server's count never matches (some servers count trashed or \
         shared files), pass --accept-count-mismatch to go on; every output will then say the \
         listing was not proven complete",
        .0.counted,
        .0.listed
    )]
    CountMismatch(CountMismatch),
    /// A lookup answer that cannot be believed (another user's fid, another name, a file
    /// placed in another folder than asked).
    #[error("{0}")]
    Lookup(String),
    /// A request plotward will not send (a fid that is not the user's).
    #[error("refused: {0}")]
    Refused(String),
    /// The first request, `GET /v2/users/current`, was refused: the key, or the user it was
    /// sent with, is wrong. The server's own words are left out: they add nothing a user can
    /// act on, and a server that echoes the request would print the key.
    #[error(
        "the API key from {key_source} was rejected by {origin} ({status}) for the user \
         {user} from {user_source}: check that the key is current and belongs to that \
         user{}",
        fix_advice(key_source, WHICH_SOURCE_REJECTED)
    )]
    KeyRejected {
        /// Where the key came from (a policy's: the fix is in its `account:` block).
        key_source: Box<credentials::Source>,
        origin: String,
        /// 401 or 403.
        status: u16,
        user: String,
        /// Where the user came from.
        user_source: String,
    },
    /// The key works, but for another user than the configured one.
    #[error(
        "{origin} says the key belongs to {owner}, but {user_source} says {user} (the key is \
         from {key_source}): fix whichever is wrong{}",
        fix_advice(key_source, PRECEDENCE)
    )]
    WrongUser {
        /// The user the server named, escaped.
        owner: String,
        user: String,
        /// Where the user came from.
        user_source: String,
        /// Where the key came from.
        key_source: Box<credentials::Source>,
        origin: String,
    },
    /// `GET /v2/users/current` is not there: the URL is not a Chart Studio v2 API root.
    #[error(
        "{origin} answered 404 to GET /v2/users/current: the API URL (from {url_source}) is \
         probably not a Chart Studio v2 API root; on Chart Studio Enterprise it is usually the \
         server's own address, as in {example}"
    )]
    NotAnApi {
        origin: String,
        /// Where the URL came from.
        url_source: String,
        /// An example root.
        example: &'static str,
    },
}

/// How a rejected key's message ends when the key is not a policy's.
const WHICH_SOURCE_REJECTED: &str = ", and which source each value comes from \
(flags beat the environment, which beats Plotly's files)";

/// How a wrong user's message ends when the key is not a policy's.
const PRECEDENCE: &str = " (flags beat the environment, which beats Plotly's files)";

/// Where a rejected key or a wrong user is fixed, to end a message: `otherwise` (which of the
/// flags, the environment and Plotly's files wins) unless the key comes from a policy's
/// `account:` block, where the user and the key are fixed instead.
fn fix_advice(key_source: &credentials::Source, otherwise: &str) -> String {
    match key_source {
        credentials::Source::Policy(from) => {
            // `NAME (account.api_key_env in POLICY)`, as `config::account_key` writes it.
            let policy = ["(account.api_key_env in ", "(account.api_key_file in "]
                .iter()
                .filter_map(|field| from.rsplit_once(field))
                .map(|(_, rest)| rest.strip_suffix(')').unwrap_or(rest))
                .next()
                .unwrap_or("the policy");
            format!(
                "; the user and the key come from the `account:` block of {policy} \
                 (account.user, and account.api_key_env or account.api_key_file): fix them there"
            )
        }
        _ => otherwise.to_owned(),
    }
}

/// Values no message may show (the API key, the Authorization token made from it). Values
/// shorter than [`Secrets::SHORTEST`] are not looked for: taking every `a` out of a message
/// would hide more than it protects, and no real key is that short.
#[derive(Debug, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    const SHORTEST: usize = 6;

    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        Secrets(
            values
                .into_iter()
                .filter(|v| v.chars().count() >= Self::SHORTEST)
                .collect(),
        )
    }

    /// Replaces every occurrence of a secret in `text` with `[REDACTED]`.
    pub(crate) fn scrub(&self, text: &mut String) {
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), "[REDACTED]");
            }
        }
    }
}

impl RemoteError {
    /// The same error with every secret taken out of what the server said (its messages, a
    /// redirect's target, the user it names); plotward's own words hold none.
    #[must_use]
    pub(crate) fn scrubbed(mut self, secrets: &Secrets) -> RemoteError {
        match &mut self {
            RemoteError::Transport { message, .. }
            | RemoteError::Http { message, .. }
            | RemoteError::Quota { message }
            | RemoteError::Decode { message, .. }
            | RemoteError::Backoff { message, .. }
            | RemoteError::Redirect {
                location: message, ..
            }
            | RemoteError::WrongUser { owner: message, .. }
            | RemoteError::Listing(message)
            | RemoteError::Lookup(message)
            | RemoteError::ServerDown(message) => secrets.scrub(message),
            _ => {}
        }
        self
    }

    /// The HTTP status, when the server answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Http { status, .. } => Some(*status),
            RemoteError::Quota { .. } => Some(429),
            RemoteError::Backoff { .. } => Some(503),
            _ => None,
        }
    }

    /// The short message: the server's words or the transport error.
    pub(crate) fn message(&self) -> String {
        match self {
            RemoteError::Http { message, .. }
            | RemoteError::Quota { message }
            | RemoteError::Transport { message, .. }
            | RemoteError::Decode { message, .. }
            | RemoteError::Setup(message)
            | RemoteError::Listing(message)
            | RemoteError::Lookup(message)
            | RemoteError::ServerDown(message)
            | RemoteError::Halted(message)
            | RemoteError::Refused(message) => message.clone(),
            other => other.to_string(),
        }
    }
}
