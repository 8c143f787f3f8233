//! The remote Chart Studio account: credentials, the API as data (`api`), and the HTTP client
//! (`client`). Only this module knows reqwest.

pub mod api;
pub mod client;
pub mod credentials;

pub use client::{Attempt, Client, Listing, RetryPolicy};
pub use credentials::{ApiKey, Connection, TlsVerify};

/// Why a request to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The client could not be set up (CA bundle, headers).
    #[error("{0}")]
    Setup(String),
    /// No response: connection refused, DNS, TLS, timeout.
    #[error("{method} {url}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// URL (never holds a secret).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Http {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// Status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The daily quota is used up; waiting would take hours.
    #[error("the API's daily limit is reached: {message}")]
    Quota {
        /// The server's message.
        message: String,
    },
    /// The response was not what the API documents.
    #[error("{url}: {message}")]
    Decode {
        /// URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The listing cannot be turned into an inventory.
    #[error("cannot list the account: {0}")]
    Listing(String),
}

impl RemoteError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Http { status, .. } => Some(*status),
            RemoteError::Quota { .. } => Some(429),
            _ => None,
        }
    }

    /// The short message: the server's words or the transport error.
    pub fn message(&self) -> String {
        match self {
            RemoteError::Http { message, .. }
            | RemoteError::Quota { message }
            | RemoteError::Transport { message, .. }
            | RemoteError::Decode { message, .. }
            | RemoteError::Setup(message)
            | RemoteError::Listing(message) => message.clone(),
        }
    }
}
