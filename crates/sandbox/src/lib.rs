//! The sandbox: a local stand-in for the Chart Studio REST API v2.
//!
//! It serves the endpoints the official Python client and the documented REST recipes use for
//! files, folders and sharing, with the same shapes (see `wire`), the same sharing semantics
//! (see `store`), optional faults (see [`FaultConfig`]), and an admin surface under
//! `/_sandbox/` that is not part of Chart Studio. It binds loopback addresses only.
//!
//! [`Sandbox::start`] runs it on a background thread (tests, the demo); [`serve`] runs it on
//! the caller's runtime until a shutdown signal (`plotward sandbox`).
//!
//! It is a crate of its own, depending on nothing of plotward's library: its wire types and
//! its reading of the snapshot format (`snapshot`) are written from the documentation, so a
//! wrong field name cannot hide on both sides of a shared struct, and axum stays out of the
//! CLI's library.

mod conn;
mod events;
mod faults;
mod journal;
mod routes;
mod seed;
mod snapshot;
mod store;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

pub use events::{Event, Events};
pub use faults::FaultConfig;
use faults::{Faults, RequestLog};
use routes::App;
pub use seed::{Seed, Snapshot, derived_key, generated_username};
pub use store::User;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen; must be a loopback address. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// The initial files.
    pub seed: Seed,
    /// Where to save the state after writes and load it from on start.
    pub state: Option<PathBuf>,
    /// Users and keys. Owners named by the seed that are not among them are added with fresh
    /// keys; with no user at all, `alice` is created.
    pub users: Vec<User>,
    /// The key scheme for users the seed adds (`--user-keys derived:SECRET`): with a secret,
    /// user `u`'s key is [`derived_key`]`(secret, u)`; without, a fresh random key.
    pub key_secret: Option<String>,
    /// Faults to inject.
    pub faults: FaultConfig,
    /// The web UI base for `web_url`; default: the sandbox's own address, where it serves
    /// those pages itself.
    pub web_domain: Option<String>,
    /// How long a connection may take to send a request's headers, from its first byte.
    pub header_timeout: Duration,
    /// How long a connection may sit idle (no request under way) before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Whether changing a folder's sharing passes the new flags to everything below it, as
    /// Chart Studio's web app does (default on; `PUT /_sandbox/faults` can override it).
    pub folder_cascade: bool,
    /// Where the running server's warnings (and, for [`Sandbox::start`], why it stopped) go;
    /// by default nowhere.
    pub events: Events,
}

/// The default [`Options::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`Options::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// The default [`Options::max_connections`]: far above the benchmarks' 64 keep-alive
/// connections, far below a default limit of 1,024 open files.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

impl Default for Options {
    fn default() -> Options {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Empty,
            state: None,
            users: Vec::new(),
            key_secret: None,
            faults: FaultConfig::default(),
            web_domain: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            folder_cascade: true,
            events: Events::default(),
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address is not loopback.
    #[error("the sandbox only listens on loopback addresses (127.0.0.0/8 or ::1), not {0}")]
    NotLoopback(SocketAddr),
    /// Something else listens there already.
    #[error(
        "cannot listen on {0}: the address is already in use (another sandbox?). Stop it, \
         choose another port, or use `--addr 127.0.0.1:0` to pick a free one (printed at start)"
    )]
    AddrInUse(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The seed snapshot could not be read.
    #[error("cannot read snapshot {path}: {source}")]
    ReadSeed {
        /// The `--seed` file.
        path: PathBuf,
        /// The I/O error, or why the file is not acceptable text (too large, not UTF-8).
        source: std::io::Error,
    },
    /// The seed snapshot's JSON is malformed or does not have the snapshot shape.
    #[error("{path}:{line}:{column}: invalid snapshot: {message}")]
    SeedSyntax {
        /// The `--seed` file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// `serde_json`'s message, without its own position suffix.
        message: String,
    },
    /// The seed snapshot is well-formed but says something impossible (a fid twice, a file
    /// whose folder is not listed, ...).
    #[error("{path}: invalid snapshot: {message}")]
    InvalidSeed {
        /// The `--seed` file.
        path: PathBuf,
        /// The first impossible thing found, with the fid or path it concerns.
        message: String,
    },
    /// The seed, state or settings are unusable.
    #[error("{0}")]
    Setup(String),
}

/// A started sandbox's address and users.
#[derive(Clone, Debug)]
pub struct Started {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every user, with keys.
    pub users: Vec<User>,
    /// How many files it holds, folders and trashed files aside.
    pub files: usize,
    /// How many folders it holds, trashed ones aside.
    pub folders: usize,
    /// Whether it started from an existing `--state` file (the seed then only serves
    /// `/_sandbox/reset`).
    pub resumed: bool,
}

/// A sandbox running on a background thread; dropping it shuts it down.
#[derive(Debug)]
pub struct Sandbox {
    started: Started,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a sandbox on its own thread and runtime, returning once it accepts connections.
    pub fn start(options: &Options) -> Result<Sandbox, SandboxError> {
        let listener = bind(options.addr)?;
        let (app, started) = prepare(options, &listener)?;
        let (send, receive) = oneshot::channel::<()>();
        let limits = conn::Limits::of(options);
        let events = options.events.clone();
        let thread = std::thread::Builder::new()
            .name("plotward-sandbox".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    let shutdown = async {
                        let _ = receive.await;
                    };
                    if let Err(err) = run(app, listener, limits, shutdown).await {
                        events.stopped(err);
                    }
                });
            })
            .map_err(|err| {
                SandboxError::Setup(format!("cannot start the sandbox thread: {err}"))
            })?;
        Ok(Sandbox {
            started,
            shutdown: Some(send),
            thread: Some(thread),
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.started.url
    }

    /// The users and their keys.
    pub fn users(&self) -> &[User] {
        &self.started.users
    }

    /// Stops the server and waits for it (and the final state save).
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(send) = self.shutdown.take() {
            let _ = send.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Serves on the current runtime until `shutdown` completes; prints nothing. `ready` is called
/// once the listener is bound, with the address and users.
pub async fn serve(
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&Started),
) -> Result<(), SandboxError> {
    let listener = bind(options.addr)?;
    let (app, started) = prepare(&options, &listener)?;
    ready(&started);
    run(app, listener, conn::Limits::of(&options), shutdown).await
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, SandboxError> {
    if !addr.ip().is_loopback() {
        return Err(SandboxError::NotLoopback(addr));
    }
    let listener = std::net::TcpListener::bind(addr).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            SandboxError::AddrInUse(addr)
        } else {
            SandboxError::Bind { addr, source }
        }
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| SandboxError::Bind { addr, source })?;
    Ok(listener)
}

/// Builds the shared state: from the saved state and its journal when there is one, else
/// from the seed. With `--state`, the result is saved and the journal emptied before serving.
fn prepare(
    options: &Options,
    listener: &std::net::TcpListener,
) -> Result<(Arc<App>, Started), SandboxError> {
    options.faults.validate().map_err(SandboxError::Setup)?;
    let resumed = options.state.as_ref().is_some_and(|path| path.exists());
    let (store, journal) = if let Some(path) = &options.state {
        recover(path, options)?
    } else {
        (seeded(options)?, None)
    };
    check_distinct_keys(store.users())?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: options.addr,
        source,
    })?;
    let live = || store.all_files().filter(|f| !f.deleted);
    let folders = live().filter(|f| f.filetype == "fold").count();
    let url = format!("http://{addr}");
    let started = Started {
        url: url.clone(),
        users: store.users().to_vec(),
        files: live().count() - folders,
        folders,
        resumed,
    };
    let app = Arc::new(App {
        store: std::sync::RwLock::new(store),
        faults: Mutex::new(Faults::new(options.faults.clone())),
        log: Mutex::new(RequestLog::default()),
        web_base: options
            .web_domain
            .as_deref()
            .map_or(url, |d| d.trim_end_matches('/').to_owned()),
        folder_cascade: options.folder_cascade,
        seed: options.seed.clone(),
        dirty: Notify::new(),
        state: options.state.clone(),
        journal,
        saving: Mutex::new(()),
        body_timeout: options.header_timeout,
        events: options.events.clone(),
    });
    Ok((app, started))
}

/// Loads `--state FILE` (or seeds it when it does not exist), replays the journal's records
/// newer than it, saves the result and opens an empty journal.
fn recover(
    path: &std::path::Path,
    options: &Options,
) -> Result<(store::Store, Option<journal::Journal>), SandboxError> {
    let journal_path = journal::path_for(path);
    let (mut store, mut last) = if path.exists() {
        let (store, last) = seed::load_state(path).map_err(SandboxError::Setup)?;
        check_users(&store, &options.users, path)?;
        (store, last)
    } else {
        if std::fs::metadata(&journal_path).is_ok_and(|m| m.len() > 0) {
            return Err(SandboxError::Setup(format!(
                "{} exists but its state file {} does not: the journal only makes sense on top \
                 of its state. Restore the state file, or move the journal aside to start afresh",
                journal_path.display(),
                path.display()
            )));
        }
        (seeded(options)?, 0)
    };
    for record in journal::read(&journal_path).map_err(SandboxError::Setup)? {
        if record.seq <= last {
            // Already folded into the state file before the journal could be truncated.
            continue;
        }
        routes::apply(&mut store, &record, Instant::now()).map_err(|err| {
            SandboxError::Setup(format!(
                "{}: record {} no longer applies to {} ({}); the journal does not belong to \
                 this state file. Move it aside to start from the state file alone",
                journal_path.display(),
                record.seq,
                path.display(),
                err.message
            ))
        })?;
        last = record.seq;
    }
    let shown = |err: std::io::Error, file: &std::path::Path| {
        SandboxError::Setup(format!("cannot write {}: {err}", file.display()))
    };
    seed::save_state(path, &seed::state_of(&store, last)).map_err(|err| shown(err, path))?;
    let journal =
        journal::Journal::create(&journal_path, last).map_err(|err| shown(err, &journal_path))?;
    Ok((store, Some(journal)))
}

/// Refuses two users with one API key: the key is what a request signs in with, so the first
/// user would answer for both (`--user bob:K --user carol:K` signed carol's requests in as
/// bob). The key itself is never shown.
fn check_distinct_keys(users: &[User]) -> Result<(), SandboxError> {
    let mut seen = std::collections::HashMap::with_capacity(users.len());
    for user in users {
        if let Some(first) = seen.insert(user.api_key.as_str(), user.username.as_str()) {
            return Err(SandboxError::Setup(format!(
                "the users {first} and {} have the same API key: a key says who signs in, so \
                 each user needs its own",
                user.username
            )));
        }
    }
    Ok(())
}

/// The store for the seed and users of `options`.
fn seeded(options: &Options) -> Result<store::Store, SandboxError> {
    let mut store = seed::build(&options.seed, &options.users, options.key_secret.as_deref())
        .map_err(SandboxError::Setup)?;
    for user in &options.users {
        store.add_user(user.clone());
    }
    Ok(store)
}

/// A state file keeps its own users and keys; `--user` that disagrees is an error, not a
/// silent choice of one side.
fn check_users(
    store: &store::Store,
    users: &[User],
    path: &std::path::Path,
) -> Result<(), SandboxError> {
    let differences: Vec<String> = users
        .iter()
        .filter_map(
            |user| match store.users().iter().find(|u| u.username == user.username) {
                Some(saved) if saved.api_key == user.api_key => None,
                Some(_) => Some(format!("{} has another API key there", user.username)),
                None => Some(format!("{} is not a user there", user.username)),
            },
        )
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(SandboxError::Setup(format!(
        "--user disagrees with the state file {}: {}. The state file keeps its own users and \
         keys: drop --user to use them, or give another --state file to start afresh with \
         these users",
        path.display(),
        differences.join("; ")
    )))
}

async fn run(
    app: Arc<App>,
    listener: std::net::TcpListener,
    limits: conn::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|err| SandboxError::Setup(format!("cannot use the listener: {err}")))?;
    let saver = app
        .state
        .is_some()
        .then(|| tokio::spawn(save_loop(app.clone())));
    let router = routes::router(app.clone());
    conn::serve(listener, router, limits, shutdown).await;
    if let Some(saver) = saver {
        saver.abort();
    }
    save(&app).await
}

/// How long the saver waits after a write for more to come.
const SAVE_DELAY: Duration = Duration::from_millis(50);

/// Folds the journal into the state file shortly after each burst of writes.
async fn save_loop(app: Arc<App>) {
    loop {
        app.dirty.notified().await;
        // Coalesce a burst of writes into one save.
        tokio::time::sleep(SAVE_DELAY).await;
        if let Err(err) = save(&app).await {
            app.events.warn(err.to_string());
        }
    }
}

/// Saves the state (with `--state`) and empties the journal if no write came meanwhile.
async fn save(app: &Arc<App>) -> Result<(), SandboxError> {
    let Some(path) = app.state.clone() else {
        return Ok(());
    };
    let shown = path.display().to_string();
    let app = app.clone();
    tokio::task::spawn_blocking(move || save_now(&app, &path))
        .await
        .map_err(|err| SandboxError::Setup(format!("cannot save {shown}: {err}")))?
}

/// One whole save, on a blocking thread: the state as it is now, the state file, then the
/// journal emptied of what the file now holds.
fn save_now(app: &App, path: &std::path::Path) -> Result<(), SandboxError> {
    let _saving = app
        .saving
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (state, upto) = {
        let store = app.store();
        // Under the store's lock no record is appended: the state holds exactly `upto`.
        let upto = app.journal.as_ref().map_or(0, journal::Journal::last);
        (seed::state_of(&store, upto), upto)
    };
    seed::save_state(path, &state)
        .map_err(|err| SandboxError::Setup(format!("cannot save {}: {err}", path.display())))?;
    if let Some(journal) = &app.journal {
        journal
            .truncate_through(upto)
            .map_err(|err| SandboxError::Setup(format!("cannot truncate the journal: {err}")))?;
    }
    Ok(())
}
