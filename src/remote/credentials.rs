//! Where the API URL, the username and the API key come from.
//!
//! Highest first: command-line flags (`--api-url`, `--user`, `--api-key-file`), the
//! environment (`PLOTLY_API_DOMAIN`, `PLOTLY_USERNAME`, `PLOTLY_API_KEY`), then Plotly's own
//! files in `$PLOTLY_DIR` or `~/.plotly` (`.credentials`: `username`, `api_key`; `.config`:
//! `plotly_api_domain`, `plotly_ssl_verification`). Each value is taken from the first source
//! that has it, and carries that [`Source`] with it, so an error can name which one to fix.
//! No flag takes the key itself, so it never shows in `ps` or shell history.
//!
//! There is no default API URL: the Chart Studio cloud (`https://api.plotly.com`) closed on
//! 2025-10-31, and the servers left are Chart Studio Enterprise installs, each at its own
//! address. Without one configured, every command that needs a server stops before sending
//! anything.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The example server address shown in hints (a reserved example domain, never a real one).
pub(crate) const EXAMPLE_API_URL: &str = "https://plotly.example.com";

/// Where a setting came from, so a message can name the one to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A command-line flag, such as `--api-url` or `--user`.
    Flag(&'static str),
    /// `--api-key-file PATH`.
    KeyFile(PathBuf),
    /// `PLOTWARD_API_KEY_FILE=PATH`, the variable of `--api-key-file`.
    KeyFileEnv(PathBuf),
    /// An environment variable, such as `PLOTLY_API_KEY`.
    Env(&'static str),
    /// One of Plotly's files (`.credentials` or `.config`), by its real path.
    File(PathBuf),
    /// Set by plotward itself, such as the demo's own sandbox.
    Builtin(&'static str),
    /// A policy's `account:` block, as `account.user in teams/a.yaml` (or where it names the
    /// key: `PLOTLY_KEY_FINANCE (account.api_key_env in teams/a.yaml)`).
    Policy(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) | Source::Env(name) | Source::Builtin(name) => f.write_str(name),
            Source::KeyFile(path) => write!(f, "--api-key-file {}", path.display()),
            Source::KeyFileEnv(path) => write!(f, "PLOTWARD_API_KEY_FILE={}", path.display()),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Policy(text) => f.write_str(text),
        }
    }
}

/// Where each value of a [`Connection`] came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sources {
    /// Of the API URL.
    pub api_url: Source,
    /// Of the username.
    pub username: Source,
    /// Of the API key.
    pub api_key: Source,
}

impl Sources {
    /// All three set by plotward itself (`what` says how, e.g. "the demo sandbox").
    pub(crate) fn builtin(what: &'static str) -> Sources {
        Sources {
            api_url: Source::Builtin(what),
            username: Source::Builtin(what),
            api_key: Source::Builtin(what),
        }
    }
}

/// An API key. It cannot be printed: `Debug` shows `(redacted)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub(crate) fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for building the `Authorization` header and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// How to check the server's TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TlsVerify {
    /// The platform's trusted roots.
    System,
    /// Only the CAs in this PEM bundle, as Python's `requests` does with `verify=path`.
    Bundle(PathBuf),
    /// No verification at all (`plotly_ssl_verification: false`); warned about on every run.
    Off,
}

/// Everything needed to talk to the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Connection {
    /// Base URL without a trailing slash (`https://plotly.example.com`).
    pub api_url: String,
    /// The user whose files are managed.
    pub username: String,
    /// Their key.
    pub api_key: ApiKey,
    /// TLS verification.
    pub tls: TlsVerify,
    /// Where the URL, the username and the key came from.
    pub sources: Sources,
}

/// What the command line said.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flags {
    /// `--api-url`
    pub api_url: Option<String>,
    /// `--user`
    pub user: Option<String>,
    /// `--api-key-file`
    pub api_key_file: Option<PathBuf>,
    /// `--ca-bundle`
    pub ca_bundle: Option<PathBuf>,
    /// `--allow-server`: servers a policy's `account.server` may name besides the configured
    /// one.
    pub allowed_servers: Vec<String>,
}

/// What the environment said.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    /// `PLOTLY_API_DOMAIN`
    pub api_domain: Option<String>,
    /// `PLOTLY_USERNAME`
    pub username: Option<String>,
    /// `PLOTLY_API_KEY`
    pub api_key: Option<String>,
    /// `PLOTWARD_API_KEY_FILE` (read by clap, as `--api-key-file`'s variable, and put here by
    /// `config`): below the flag, above `PLOTLY_API_KEY`.
    pub api_key_file: Option<PathBuf>,
    /// `PLOTLY_DIR`, or `~/.plotly` when unset.
    pub plotly_dir: Option<PathBuf>,
}

impl Env {
    /// The path of one of Plotly's files (`.credentials`, `.config`), as read: under
    /// `PLOTLY_DIR` when set, else under the home directory; `~/.plotly/NAME` when neither is
    /// known, since that is where Plotly's client would look.
    pub(crate) fn plotly_file(&self, name: &str) -> PathBuf {
        self.plotly_dir
            .as_ref()
            .map_or_else(|| Path::new("~/.plotly").join(name), |dir| dir.join(name))
    }
}

impl Env {
    /// Reads the process environment; empty variables count as unset.
    pub(crate) fn from_process() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Env {
            api_domain: var("PLOTLY_API_DOMAIN"),
            username: var("PLOTLY_USERNAME"),
            api_key: var("PLOTLY_API_KEY"),
            // clap reads it, as the variable of `--api-key-file`; `config` moves it here.
            api_key_file: None,
            plotly_dir: var("PLOTLY_DIR")
                .map(PathBuf::from)
                .or_else(|| std::env::home_dir().map(|home| home.join(".plotly"))),
        }
    }
}

/// The parts of `~/.plotly/.credentials` and `.config` plotward reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlotlyFiles {
    /// `.credentials` `username`
    pub username: Option<String>,
    /// `.credentials` `api_key`
    pub api_key: Option<String>,
    /// `.config` `plotly_api_domain`
    pub api_domain: Option<String>,
    /// `.config` `plotly_ssl_verification`
    pub tls: Option<TlsVerify>,
}

#[derive(Deserialize)]
struct CredentialsFile {
    username: Option<String>,
    api_key: Option<String>,
}

#[derive(Deserialize)]
struct ConfigFile {
    plotly_api_domain: Option<String>,
    plotly_ssl_verification: Option<serde_json::Value>,
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CredentialsError {
    /// Something required is nowhere to be found.
    #[error("no {what} found: {hint}")]
    Missing {
        /// What is missing.
        what: &'static str,
        /// Where it may be given, with the real paths of Plotly's files.
        hint: String,
    },
    /// No API URL anywhere: there is no default since the Chart Studio cloud closed.
    #[error(
        "no API URL configured. The Chart Studio cloud closed on 2025-10-31, so plotward has no \
         default server; point it at your Chart Studio Enterprise server: pass --api-url \
         {EXAMPLE_API_URL}, set PLOTLY_API_DOMAIN={EXAMPLE_API_URL}, or put \
         \"plotly_api_domain\": \"{EXAMPLE_API_URL}\" in {}",
        config.display()
    )]
    NoApiUrl {
        /// The `.config` file that was read.
        config: PathBuf,
    },
    /// A file could not be read or parsed.
    #[error("cannot read {path}: {message}")]
    File { path: PathBuf, message: String },
    /// The key file a policy's `account:` block names could not be read, or is empty: the
    /// message names the block's field and the policy, where the fix is.
    #[error("cannot read {from}: {message}")]
    AccountKeyFile {
        /// `PATH (account.api_key_file in POLICY)`.
        from: Source,
        message: String,
    },
    /// The username cannot be a Chart Studio username.
    #[error(
        "invalid username `{name}`: Chart Studio usernames hold no `:`, `/`, `?`, `#`, `%`, `\\`, spaces or control characters"
    )]
    Username {
        /// The name as given, control characters escaped.
        name: String,
    },
    /// A policy names a server the operator did not: its key would go there.
    #[error(
        "{policy} names the server {server} (account.server), which is not the configured \
         server ({configured}): a policy cannot send a key to a server the operator did not \
         name. If it is yours, allow it with --allow-server {server}"
    )]
    ServerNotAllowed {
        policy: String,
        server: String,
        /// The configured server and the allowed ones, or "none configured".
        configured: String,
    },
    /// A key file that is not a regular file: a FIFO would block the open forever and a
    /// device may never end, so neither is opened or read.
    #[error(
        "{from} is not a regular file (a FIFO, a device or a folder); put the key in a plain file"
    )]
    NotAFile {
        /// Where the file was named (`--api-key-file PATH`, `PATH (account.api_key_file in
        /// POLICY)`).
        from: Source,
    },
    /// What was read cannot be an API key (a whole environment, a PEM file): it is neither
    /// sent nor shown.
    #[error(
        "the key read from {from} does not look like an API key: {fault} (the key is not shown)"
    )]
    NotAKey {
        /// Where the key was read.
        from: Source,
        /// The rule it breaks.
        fault: KeyFault,
    },
    /// The API URL is unusable.
    #[error("invalid API URL `{url}`: {message}")]
    Url {
        /// The URL as given.
        url: String,
        message: String,
    },
}

/// The rule a would-be API key breaks; a key is at most [`MAX_KEY_BYTES`] printable ASCII
/// characters with no whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyFault {
    /// Longer than [`MAX_KEY_BYTES`].
    #[error("it is longer than 128 bytes")]
    TooLong,
    /// Whitespace inside it: several lines or words.
    #[error("it holds whitespace (more than one word or line)")]
    Whitespace,
    /// A control character.
    #[error("it holds a control character")]
    Control,
    /// A character outside ASCII.
    #[error("it holds a character outside ASCII")]
    NonAscii,
}

/// The longest API key accepted, in bytes: Chart Studio keys are a few dozen characters.
const MAX_KEY_BYTES: usize = 128;

/// Checks a key read from `from`, trimmed: at most [`MAX_KEY_BYTES`] of printable ASCII and
/// no whitespace, so a file or variable holding something else is never sent as the key.
pub(crate) fn check_key(key: &str, from: &Source) -> Result<String, CredentialsError> {
    let key = key.trim();
    let fault = if key.len() > MAX_KEY_BYTES {
        Some(KeyFault::TooLong)
    } else if key.chars().any(char::is_whitespace) {
        Some(KeyFault::Whitespace)
    } else if key.chars().any(char::is_control) {
        Some(KeyFault::Control)
    } else if !key.is_ascii() {
        Some(KeyFault::NonAscii)
    } else {
        None
    };
    match fault {
        Some(fault) => Err(CredentialsError::NotAKey {
            from: from.clone(),
            fault,
        }),
        None => Ok(key.to_owned()),
    }
}

impl PlotlyFiles {
    /// Reads `.credentials` and `.config` from a Plotly directory. Missing files are empty,
    /// as `chart_studio` treats them; unreadable or malformed ones are errors.
    pub(crate) fn load(dir: &Path) -> Result<PlotlyFiles, CredentialsError> {
        let credentials: Option<CredentialsFile> = read_json(&dir.join(".credentials"))?;
        let config: Option<ConfigFile> = read_json(&dir.join(".config"))?;
        let (username, api_key) = credentials.map_or((None, None), |c| (c.username, c.api_key));
        let (api_domain, tls) = match config {
            Some(config) => (
                config.plotly_api_domain,
                config.plotly_ssl_verification.and_then(tls_setting),
            ),
            None => (None, None),
        };
        Ok(PlotlyFiles {
            username: non_empty(username),
            api_key: non_empty(api_key),
            api_domain: non_empty(api_domain),
            tls,
        })
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, CredentialsError> {
    // Bounded, and never a FIFO: `~/.plotly/.credentials` is read by every command.
    let text = match crate::limits::read_text(path, crate::limits::MAX_POLICY_BYTES) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(CredentialsError::File {
                path: path.to_owned(),
                message: err.to_string(),
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| CredentialsError::File {
            path: path.to_owned(),
            message: format!("invalid JSON: {err}"),
        })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// `plotly_ssl_verification`: a boolean, or a string naming a CA bundle (as `requests` takes
/// it).
fn tls_setting(value: serde_json::Value) -> Option<TlsVerify> {
    match value {
        serde_json::Value::Bool(true) => Some(TlsVerify::System),
        serde_json::Value::Bool(false) => Some(TlsVerify::Off),
        serde_json::Value::String(path) if !path.is_empty() => {
            Some(TlsVerify::Bundle(PathBuf::from(path)))
        }
        _ => None,
    }
}

/// The first value present, highest source first, with its source.
fn first<const N: usize>(candidates: [(Option<&String>, Source); N]) -> Option<(String, Source)> {
    candidates
        .into_iter()
        .find_map(|(value, source)| value.map(|v| (v.clone(), source)))
}

/// Resolves the connection from the three sources, each value with where it came from.
/// `read_key_file` reads `--api-key-file`. Nothing is defaulted: a missing URL, user or key is
/// an error that says where to set it.
pub(crate) fn resolve(
    flags: &Flags,
    env: &Env,
    files: &PlotlyFiles,
    read_key_file: impl FnOnce(&Path) -> Result<String, CredentialsError>,
) -> Result<Connection, CredentialsError> {
    let credentials = env.plotly_file(".credentials");
    let (api_url, api_url_source) = resolve_url(flags, env, files)?;
    let (username, username_source) = first([
        (flags.user.as_ref(), Source::Flag("--user")),
        (env.username.as_ref(), Source::Env("PLOTLY_USERNAME")),
        (files.username.as_ref(), Source::File(credentials.clone())),
    ])
    .ok_or_else(|| CredentialsError::Missing {
        what: "username",
        hint: format!(
            "pass --user, set PLOTLY_USERNAME, or put `username` in {}",
            credentials.display()
        ),
    })?;
    check_username(&username)?;
    let key_file = (flags.api_key_file.as_ref())
        .map(|path| (path, Source::KeyFile(path.clone())))
        .or_else(|| {
            (env.api_key_file.as_ref()).map(|path| (path, Source::KeyFileEnv(path.clone())))
        });
    let (api_key, api_key_source) = match key_file {
        Some((path, source)) => (read_key_file(path)?, source),
        None => first([
            (env.api_key.as_ref(), Source::Env("PLOTLY_API_KEY")),
            (files.api_key.as_ref(), Source::File(credentials.clone())),
        ])
        .ok_or_else(|| CredentialsError::Missing {
            what: "API key",
            hint: format!(
                "pass --api-key-file, set PLOTLY_API_KEY, or put `api_key` in {}",
                credentials.display()
            ),
        })?,
    };
    let api_key = check_key(&api_key, &api_key_source)?;
    Ok(Connection {
        api_url,
        username,
        api_key: ApiKey::new(api_key),
        tls: tls(flags, files),
        sources: Sources {
            api_url: api_url_source,
            username: username_source,
            api_key: api_key_source,
        },
    })
}

/// The API URL from the first source that has one, checked, with its source.
pub(crate) fn resolve_url(
    flags: &Flags,
    env: &Env,
    files: &PlotlyFiles,
) -> Result<(String, Source), CredentialsError> {
    let config = env.plotly_file(".config");
    let (api_url, api_url_source) = first([
        (flags.api_url.as_ref(), Source::Flag("--api-url")),
        (env.api_domain.as_ref(), Source::Env("PLOTLY_API_DOMAIN")),
        (files.api_domain.as_ref(), Source::File(config.clone())),
    ])
    .ok_or(CredentialsError::NoApiUrl { config })?;
    let api_url = check_url(&api_url).map_err(|err| match err {
        // Say where the bad URL came from: it may not be the flag the user is looking at.
        CredentialsError::Url { url, message } if api_url_source != Source::Flag("--api-url") => {
            CredentialsError::Url {
                url,
                message: format!("{message} (the API URL is from {api_url_source})"),
            }
        }
        other => other,
    })?;
    Ok((api_url, api_url_source))
}

/// TLS verification: `--ca-bundle`, else Plotly's `.config`, else the system's roots.
fn tls(flags: &Flags, files: &PlotlyFiles) -> TlsVerify {
    match &flags.ca_bundle {
        Some(path) => TlsVerify::Bundle(path.clone()),
        None => files.tls.clone().unwrap_or(TlsVerify::System),
    }
}

/// An account a policy names (`account:`): its user, its server if it gives one, and its key
/// as already read from the variable or file the policy names, with that source.
pub(crate) struct Named<'a> {
    /// `account.user`.
    pub user: &'a str,
    /// `account.server`; `None` falls back to `--api-url`, `PLOTLY_API_DOMAIN`, `.config`.
    pub server: Option<&'a str>,
    /// The key and where it was read.
    pub key: (String, Source),
    /// The policy file, for the sources named in messages.
    pub policy: &'a str,
}

/// The connection of an account a policy names: the user and key are the policy's (never a
/// flag's or Plotly's files'), the server the policy's or else the usual sources'.
pub(crate) fn resolve_named(
    named: Named<'_>,
    flags: &Flags,
    env: &Env,
    files: &PlotlyFiles,
) -> Result<Connection, CredentialsError> {
    let (api_url, api_url_source) = match named.server {
        Some(server) => (
            allowed_server(server, named.policy, flags, env, files)?,
            Source::Policy(format!("account.server in {}", named.policy)),
        ),
        None => resolve_url(flags, env, files)?,
    };
    check_username(named.user)?;
    let (key, key_source) = named.key;
    Ok(Connection {
        api_url,
        username: named.user.to_owned(),
        api_key: ApiKey::new(key.trim()),
        tls: tls(flags, files),
        sources: Sources {
            api_url: api_url_source,
            username: Source::Policy(format!("account.user in {}", named.policy)),
            api_key: key_source,
        },
    })
}

/// The server a policy names, checked as `--api-url` is and admitted only when it is the
/// configured server (flag, `PLOTLY_API_DOMAIN` or Plotly's `.config`) or one given with
/// `--allow-server`: the key of the account goes there, and a policy is text anyone who edits
/// the repository can change.
fn allowed_server(
    server: &str,
    policy: &str,
    flags: &Flags,
    env: &Env,
    files: &PlotlyFiles,
) -> Result<String, CredentialsError> {
    let url = check_url(server)?;
    let configured = resolve_url(flags, env, files).ok().map(|(url, _)| url);
    let mut allowed = Vec::with_capacity(flags.allowed_servers.len() + 1);
    allowed.extend(configured);
    for extra in &flags.allowed_servers {
        allowed.push(check_url(extra)?);
    }
    if allowed.contains(&url) {
        return Ok(url);
    }
    Err(CredentialsError::ServerNotAllowed {
        policy: policy.to_owned(),
        server: url,
        configured: if allowed.is_empty() {
            "none is configured".to_owned()
        } else {
            allowed.join(", ")
        },
    })
}

/// The most an account's key file may hold: a key is a few dozen characters, so anything
/// larger is not a key file (and is not read whole).
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Reads the key file a policy names (`account.api_key_file`, named in errors as `from`): a
/// regular file of at most [`MAX_KEY_FILE_BYTES`], trimmed, not empty, passing [`check_key`].
pub(crate) fn read_account_key_file(
    path: &Path,
    from: &Source,
) -> Result<String, CredentialsError> {
    let text = read_key_text(path, from)?;
    let key = check_key(&text, from)?;
    if key.is_empty() {
        return Err(key_file_error(path, from, "the file is empty".to_owned()));
    }
    Ok(key)
}

/// Checks a username: it is the owner part of every fid plotward accepts and half of the
/// Basic credentials, so `:`, `/`, whitespace and control characters are refused.
fn check_username(name: &str) -> Result<(), CredentialsError> {
    if super::api::is_username(name) {
        Ok(())
    } else {
        Err(CredentialsError::Username {
            name: super::api::redact(name),
        })
    }
}

/// Reads a key file named by `from`: refuses anything but a regular file before opening it
/// (opening a FIFO blocks until a writer comes, maybe forever) and again on the opened
/// handle ([`crate::limits::open_regular`], which cannot block if a FIFO is swapped in
/// between), then reads
/// at most [`MAX_KEY_FILE_BYTES`].
fn read_key_text(path: &Path, from: &Source) -> Result<String, CredentialsError> {
    let file_error = |err: std::io::Error| key_file_error(path, from, err.to_string());
    let not_a_file = || CredentialsError::NotAFile { from: from.clone() };
    if !std::fs::metadata(path).map_err(file_error)?.is_file() {
        return Err(not_a_file());
    }
    let file = crate::limits::open_regular(path)
        .map_err(file_error)?
        .ok_or_else(not_a_file)?;
    crate::limits::read_open(file, MAX_KEY_FILE_BYTES).map_err(file_error)
}

/// A key file's error, naming the file as the user gave it: the path for `--api-key-file`, the
/// path with the policy's `account.api_key_file` for a policy's key.
fn key_file_error(path: &Path, from: &Source, message: String) -> CredentialsError {
    match from {
        Source::Policy(_) => CredentialsError::AccountKeyFile {
            from: from.clone(),
            message,
        },
        _ => CredentialsError::File {
            path: path.to_owned(),
            message,
        },
    }
}

/// Reads an API key file (`--api-key-file`): a regular file whose only content is the key,
/// surrounding whitespace ignored; [`resolve`] checks the key itself.
pub(crate) fn read_key_file(path: &Path) -> Result<String, CredentialsError> {
    let text = read_key_text(path, &Source::KeyFile(path.to_owned()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(CredentialsError::File {
            path: path.to_owned(),
            message: "the file is empty".to_owned(),
        });
    }
    Ok(key.to_owned())
}

/// Checks the API URL: http(s), a host, no user info, and plain http only for loopback
/// hosts, since the key travels in every request. Errors show the URL with any user info
/// replaced by `***`.
pub(crate) fn check_url(url: &str) -> Result<String, CredentialsError> {
    let fail = |message: &str| CredentialsError::Url {
        url: super::api::redact(url.trim()),
        message: message.to_owned(),
    };
    // `plotly.example.com` would parse as a relative URL, and `localhost:9889` as a URL of
    // the scheme `localhost`: either way the fix is the same, so say it.
    if !url.contains("://") {
        // A loopback host is the sandbox or a tunnel, which speak plain http.
        let host = url.trim().split(['/', '?', '#']).next().unwrap_or_default();
        let host = match host.find(']') {
            Some(end) if host.starts_with('[') => &host[..=end],
            _ => host.rsplit_once(':').map_or(host, |(host, _)| host),
        };
        let scheme = if is_loopback(host) { "http" } else { "https" };
        return Err(fail(&format!(
            "it has no scheme; the URL needs {scheme}://, as in `{}`",
            super::api::redact(&format!("{scheme}://{}", url.trim()))
        )));
    }
    let base = super::api::ApiBase::parse(url).map_err(|message| fail(&message))?;
    if base.is_http() && !is_loopback(base.host()) {
        return Err(fail(
            "plain http is refused except on loopback hosts; the API key would travel unencrypted, use https",
        ));
    }
    Ok(base.to_string())
}

/// Whether a URL host is `localhost` or a loopback address (`127.0.0.0/8`, `[::1]`).
pub(crate) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// What makes two API URLs the same server, for refusing two policies of one account:
/// scheme, host in lower case (a trailing dot dropped), port (the scheme's default made
/// explicit) and path without its trailing slash; `localhost`, `127.0.0.1` and `[::1]` are one
/// host (the one machine, however it is named). No name is resolved: two DNS names of one
/// server stay two. A URL that does not parse (never one [`check_url`] passed) is its own key.
pub(crate) fn server_identity(api_url: &str) -> String {
    let Ok(url) = reqwest::Url::parse(api_url.trim()) else {
        return api_url.trim().to_owned();
    };
    // The parser already writes a name in lower case and an address in its one form.
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host = match host.as_str() {
        "localhost" | "127.0.0.1" | "[::1]" => "localhost".to_owned(),
        _ => host,
    };
    let port = url
        .port_or_known_default()
        .map_or(String::new(), |port| format!(":{port}"));
    let path = url.path().trim_end_matches('/');
    format!("{}://{host}{port}{path}", url.scheme())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_however_its_url_is_written() {
        let same = |a: &str, b: &str| server_identity(a) == server_identity(b);
        assert!(same("http://localhost:8624", "http://127.0.0.1:8624"));
        assert!(same("http://127.0.0.1:8624/", "http://[::1]:8624"));
        assert!(same("http://LOCALHOST:8624", "http://localhost.:8624"));
        assert!(same(
            "https://Plotly.Example.com",
            "https://plotly.example.com:443/"
        ));
        assert!(same(
            "https://plotly.example.com/api/",
            "https://plotly.example.com/api"
        ));
        assert!(same("http://localhost", "http://127.0.0.1:80"));
        // Different servers stay different: port, scheme, path, another loopback address, and
        // another name (never resolved).
        assert!(!same("http://localhost:8624", "http://localhost:8625"));
        assert!(!same("http://localhost:443", "https://localhost:443"));
        assert!(!same(
            "https://plotly.example.com/a",
            "https://plotly.example.com/b"
        ));
        assert!(!same("http://127.0.0.1:8624", "http://127.0.0.2:8624"));
        assert!(!same(
            "https://plotly.example.com",
            "https://charts.example.com"
        ));
    }

    fn no_file(_: &Path) -> Result<String, CredentialsError> {
        panic!("no key file expected")
    }

    fn full_env() -> Env {
        Env {
            api_domain: Some("https://env.example".into()),
            username: Some("env-user".into()),
            api_key: Some("env-key".into()),
            api_key_file: None,
            plotly_dir: None,
        }
    }

    fn full_files() -> PlotlyFiles {
        PlotlyFiles {
            username: Some("file-user".into()),
            api_key: Some("file-key".into()),
            api_domain: Some("https://file.example".into()),
            tls: Some(TlsVerify::Off),
        }
    }

    #[test]
    fn flags_beat_env_beat_files() {
        let flags = Flags {
            api_url: Some("https://flag.example/".into()),
            user: Some("flag-user".into()),
            api_key_file: Some("key.txt".into()),
            ca_bundle: None,
            allowed_servers: Vec::new(),
        };
        let c = resolve(&flags, &full_env(), &full_files(), |_| {
            Ok("flag-key\n".into())
        })
        .unwrap();
        assert_eq!(
            (c.api_url.as_str(), c.username.as_str(), c.api_key.expose()),
            ("https://flag.example", "flag-user", "flag-key")
        );
        let c = resolve(&Flags::default(), &full_env(), &full_files(), no_file).unwrap();
        assert_eq!(
            (c.api_url.as_str(), c.username.as_str(), c.api_key.expose()),
            ("https://env.example", "env-user", "env-key")
        );
        let c = resolve(&Flags::default(), &Env::default(), &full_files(), no_file).unwrap();
        assert_eq!(
            (c.api_url.as_str(), c.username.as_str(), c.api_key.expose()),
            ("https://file.example", "file-user", "file-key")
        );
        assert_eq!(c.tls, TlsVerify::Off);
    }

    #[test]
    fn each_value_comes_from_its_own_best_source() {
        let env = Env {
            username: Some("env-user".into()),
            ..Env::default()
        };
        let c = resolve(&Flags::default(), &env, &full_files(), no_file).unwrap();
        assert_eq!(
            (c.username.as_str(), c.api_key.expose()),
            ("env-user", "file-key")
        );
    }

    /// `--api-key-file` beats its variable, which beats `PLOTLY_API_KEY` (the variable stands
    /// in for the flag); each named as such.
    #[test]
    fn the_key_file_variable_sits_between_the_flag_and_the_key_variable() {
        let env = Env {
            api_key_file: Some("/env/key".into()),
            ..full_env()
        };
        let read = |path: &Path| Ok(format!("key-of-{}", path.display()));
        let c = resolve(&Flags::default(), &env, &full_files(), read).unwrap();
        assert_eq!(c.api_key.expose(), "key-of-/env/key");
        assert_eq!(c.sources.api_key, Source::KeyFileEnv("/env/key".into()));
        assert_eq!(
            c.sources.api_key.to_string(),
            "PLOTWARD_API_KEY_FILE=/env/key"
        );
        let flags = Flags {
            api_key_file: Some("/flag/key".into()),
            ..Flags::default()
        };
        let c = resolve(&flags, &env, &full_files(), read).unwrap();
        assert_eq!(c.api_key.expose(), "key-of-/flag/key");
        assert_eq!(c.sources.api_key, Source::KeyFile("/flag/key".into()));
    }

    #[test]
    fn each_value_carries_its_source() {
        let env = Env {
            plotly_dir: Some("/cfg/plotly".into()),
            ..full_env()
        };
        let flags = Flags {
            user: Some("flag-user".into()),
            api_key_file: Some("/run/key.txt".into()),
            ..Flags::default()
        };
        let c = resolve(&flags, &env, &full_files(), |_| Ok("k".into())).unwrap();
        assert_eq!(
            c.sources,
            Sources {
                api_url: Source::Env("PLOTLY_API_DOMAIN"),
                username: Source::Flag("--user"),
                api_key: Source::KeyFile("/run/key.txt".into()),
            }
        );
        assert_eq!(c.sources.api_key.to_string(), "--api-key-file /run/key.txt");
        let c = resolve(
            &Flags::default(),
            &Env {
                plotly_dir: Some("/cfg/plotly".into()),
                ..Env::default()
            },
            &full_files(),
            no_file,
        )
        .unwrap();
        assert_eq!(
            c.sources,
            Sources {
                api_url: Source::File("/cfg/plotly/.config".into()),
                username: Source::File("/cfg/plotly/.credentials".into()),
                api_key: Source::File("/cfg/plotly/.credentials".into()),
            }
        );
        assert_eq!(c.sources.username.to_string(), "/cfg/plotly/.credentials");
    }

    #[test]
    fn there_is_no_default_api_url() {
        let files = PlotlyFiles {
            username: Some("u".into()),
            api_key: Some("k".into()),
            ..PlotlyFiles::default()
        };
        let env = Env {
            plotly_dir: Some("/cfg/plotly".into()),
            ..Env::default()
        };
        let err = resolve(&Flags::default(), &env, &files, no_file)
            .unwrap_err()
            .to_string();
        for needle in [
            "no API URL configured",
            "closed on 2025-10-31",
            "--api-url https://plotly.example.com",
            "PLOTLY_API_DOMAIN=",
            "\"plotly_api_domain\": \"https://plotly.example.com\" in /cfg/plotly/.config",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from {err}");
        }
        let flags = Flags {
            api_url: Some("https://plotly.acme.com".into()),
            ..Flags::default()
        };
        let c = resolve(&flags, &env, &files, no_file).unwrap();
        assert_eq!(c.tls, TlsVerify::System);
    }

    #[test]
    fn missing_values_name_the_real_plotly_files() {
        let flags = Flags {
            api_url: Some("https://plotly.acme.com".into()),
            ..Flags::default()
        };
        let env = Env {
            plotly_dir: Some("/elsewhere/plotly".into()),
            ..Env::default()
        };
        let err = resolve(&flags, &env, &PlotlyFiles::default(), no_file)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no username found: pass --user, set PLOTLY_USERNAME, or put `username` in \
             /elsewhere/plotly/.credentials"
        );
        let env = Env {
            username: Some("u".into()),
            ..env
        };
        let err = resolve(&flags, &env, &PlotlyFiles::default(), no_file)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("`api_key` in /elsewhere/plotly/.credentials"),
            "{err}"
        );
        assert_eq!(
            Env::default().plotly_file(".credentials"),
            Path::new("~/.plotly/.credentials")
        );
    }

    #[test]
    fn a_url_without_a_scheme_gets_the_corrected_url() {
        for (given, corrected) in [
            (
                "plotly.example.com",
                "needs https://, as in `https://plotly.example.com`",
            ),
            (
                " plotly.example.com:8443/ ",
                "needs https://, as in `https://plotly.example.com:8443/`",
            ),
            // Loopback hosts (the sandbox) speak plain http.
            (
                "localhost:9889",
                "needs http://, as in `http://localhost:9889`",
            ),
            (
                "127.0.0.1:9889",
                "needs http://, as in `http://127.0.0.1:9889`",
            ),
            (
                "[::1]:9889/v2",
                "needs http://, as in `http://[::1]:9889/v2`",
            ),
        ] {
            let err = check_url(given).unwrap_err().to_string();
            assert!(err.contains(corrected), "{err}");
        }
        let err = check_url("bob:hunter2@plotly.example.com")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn http_is_refused_except_on_loopback() {
        assert!(check_url("http://127.0.0.1:9889").is_ok());
        assert!(check_url("http://localhost:9889/").is_ok());
        assert!(check_url("http://[::1]:9889").is_ok());
        assert_eq!(
            check_url("https://plotly.acme.com/").unwrap(),
            "https://plotly.acme.com"
        );
        let err = check_url("http://plotly.acme.com").unwrap_err().to_string();
        assert!(err.contains("plain http is refused"), "{err}");
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https://plotly.example.com/v2").is_err());
    }

    #[test]
    fn user_info_in_the_url_is_refused_without_echoing_it() {
        for url in [
            "https://bob:hunter2@plotly.acme.com",
            "https://hunter2@plotly.acme.com/",
            "http://bob:hunter2@127.0.0.1:9889",
            "https://bob:hunter2@plotly.acme.com/v2?x=1",
        ] {
            let err = check_url(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("***@"), "{err}");
        }
        let err = check_url("https://bob:hunter2@plotly.acme.com")
            .unwrap_err()
            .to_string();
        assert!(err.contains("user name or password"), "{err}");
    }

    #[test]
    fn usernames_that_would_break_fids_or_basic_auth_are_refused() {
        for name in ["al:ice", "al ice", "a/b", "x\u{1b}[2J", "a%2f"] {
            let flags = Flags {
                user: Some(name.into()),
                ..Flags::default()
            };
            let err = resolve(&flags, &full_env(), &full_files(), no_file).unwrap_err();
            assert!(err.to_string().starts_with("invalid username"), "{err}");
            assert!(!err.to_string().contains('\u{1b}'), "{err}");
        }
        let flags = Flags {
            user: Some("al.ice_-1".into()),
            ..Flags::default()
        };
        assert!(resolve(&flags, &full_env(), &full_files(), no_file).is_ok());
    }

    /// What cannot be an API key (an environment's worth of variables, a PEM file, a key with a
    /// space) is refused from every source, naming the source and the rule, never the value.
    #[test]
    fn what_cannot_be_a_key_is_refused_without_showing_it() {
        for (key, fault) in [
            (
                "-----BEGIN KEY-----\nSECRETbody\n-----END KEY-----",
                KeyFault::Whitespace,
            ),
            ("SECRET more", KeyFault::Whitespace),
            ("SECRET\u{0}PATH=/bin", KeyFault::Control),
            ("SECRETé", KeyFault::NonAscii),
            (&"SECRET".repeat(30), KeyFault::TooLong),
        ] {
            let env = Env {
                api_key: Some(key.to_owned()),
                ..full_env()
            };
            let err = resolve(&Flags::default(), &env, &full_files(), no_file).unwrap_err();
            assert!(
                matches!(&err, CredentialsError::NotAKey { fault: f, .. } if *f == fault),
                "{err:?}"
            );
            let shown = err.to_string();
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(
                shown.starts_with("the key read from PLOTLY_API_KEY does not look like an API key"),
                "{shown}"
            );
        }
        assert_eq!(
            check_key(" k3y-_.X \n", &Source::Env("K")).unwrap(),
            "k3y-_.X"
        );
    }

    /// A key file that is not a regular file is refused before it is opened, so a FIFO never
    /// blocks; a file holding two lines is read but refused as a key.
    #[test]
    fn key_files_must_be_regular_files_holding_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let from = Source::Policy("dir (account.api_key_file in a.yaml)".into());
        let err = read_account_key_file(dir.path(), &from)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("account.api_key_file in a.yaml) is not a regular file"),
            "{err}"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            let err = read_key_file(&fifo).unwrap_err().to_string();
            assert!(err.contains("is not a regular file"), "{err}");
        }
        let two = dir.path().join("two");
        std::fs::write(&two, "SECRETa\nSECRETb\n").unwrap();
        let err = read_account_key_file(&two, &from).unwrap_err().to_string();
        assert!(err.contains("does not look like an API key"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn keys_never_print() {
        let key = ApiKey::new("s3cr3t");
        assert_eq!(format!("{key:?}"), "(redacted)");
        let c = Connection {
            api_url: "https://x".into(),
            username: "u".into(),
            api_key: key,
            tls: TlsVerify::System,
            sources: Sources::builtin("a test"),
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn plotly_files_are_read_like_chart_studio_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            PlotlyFiles::load(dir.path()).unwrap(),
            PlotlyFiles::default()
        );
        std::fs::write(
            dir.path().join(".credentials"),
            r#"{"username": "alice", "api_key": "k", "stream_ids": []}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".config"),
            r#"{"plotly_api_domain": "https://plotly.acme.com", "plotly_ssl_verification": "/etc/acme-ca.pem"}"#,
        )
        .unwrap();
        let files = PlotlyFiles::load(dir.path()).unwrap();
        assert_eq!(files.username.as_deref(), Some("alice"));
        assert_eq!(
            files.tls,
            Some(TlsVerify::Bundle("/etc/acme-ca.pem".into()))
        );
        std::fs::write(dir.path().join(".config"), "{not json").unwrap();
        assert!(PlotlyFiles::load(dir.path()).is_err());
    }
}
