//! The sandbox: a local stand-in for the Chart Studio REST API v2.
//!
//! It serves the endpoints the official Python client and the documented REST recipes use for
//! files, folders and sharing, with the same shapes (see `wire`), the same sharing semantics
//! (see `store`), optional faults (see `faults`), and an admin surface under `/_sandbox/` that
//! is not part of Chart Studio. It binds loopback addresses only.
//!
//! [`Sandbox::start`] runs it on a background thread (tests, the demo); [`serve`] runs it on
//! the caller's runtime until a shutdown signal (`plotward sandbox`).

pub mod faults;
mod routes;
pub mod seed;
pub mod store;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

pub use faults::FaultConfig;
use faults::{Faults, RequestLog};
use routes::App;
pub use seed::Seed;
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
    /// Users and keys; missing ones are created (see [`seed::build`]).
    pub users: Vec<User>,
    /// Faults to inject.
    pub faults: FaultConfig,
    /// The web UI base for `web_url`; default: the sandbox's own address, where it serves
    /// those pages itself.
    pub web_domain: Option<String>,
    /// Whether changing a folder's sharing passes the new flags to everything below it, as
    /// Chart Studio's web app does (default on; `PUT /_sandbox/faults` can override it).
    pub folder_cascade: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::Empty,
            state: None,
            users: Vec::new(),
            faults: FaultConfig::default(),
            web_domain: None,
            folder_cascade: true,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address is not loopback.
    #[error("the sandbox only listens on loopback addresses (127.0.0.0/8 or ::1), not {0}")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
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
        let state = options.state.clone();
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
                    if let Err(err) = run(app, listener, state, shutdown).await {
                        eprintln!("sandbox stopped: {err}");
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
    run(app, listener, options.state, shutdown).await
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, SandboxError> {
    if !addr.ip().is_loopback() {
        return Err(SandboxError::NotLoopback(addr));
    }
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| SandboxError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| SandboxError::Bind { addr, source })?;
    Ok(listener)
}

/// Builds the shared state: from the saved state when there is one, else from the seed.
fn prepare(
    options: &Options,
    listener: &std::net::TcpListener,
) -> Result<(Arc<App>, Started), SandboxError> {
    options.faults.validate().map_err(SandboxError::Setup)?;
    let mut store = match &options.state {
        Some(path) if path.exists() => seed::load_state(path).map_err(SandboxError::Setup)?,
        _ => seed::build(&options.seed, &options.users).map_err(SandboxError::Setup)?,
    };
    for user in &options.users {
        store.add_user(user.clone());
    }
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
    });
    if options.state.is_some() {
        // Save at once, so a state file exists from the start.
        app.dirty.notify_one();
    }
    Ok((app, started))
}

async fn run(
    app: Arc<App>,
    listener: std::net::TcpListener,
    state: Option<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|err| SandboxError::Setup(format!("cannot use the listener: {err}")))?;
    let saver = state
        .clone()
        .map(|path| tokio::spawn(save_loop(app.clone(), path)));
    let router = routes::router(app.clone());
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|err| SandboxError::Setup(format!("server error: {err}")));
    if let Some(saver) = saver {
        saver.abort();
    }
    if let Some(path) = state {
        save(&app, path).await?;
    }
    served
}

/// Saves the state shortly after each burst of writes.
async fn save_loop(app: Arc<App>, path: PathBuf) {
    loop {
        app.dirty.notified().await;
        // Coalesce a burst of writes into one save.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(err) = save(&app, path.clone()).await {
            eprintln!("warning: {err}");
        }
    }
}

async fn save(app: &Arc<App>, path: PathBuf) -> Result<(), SandboxError> {
    let state = {
        let store = app.store();
        seed::StateFile {
            sandbox_state_version: 1,
            users: store.users().to_vec(),
            files: store.all_files().cloned().collect(),
        }
    };
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || seed::save_state(&path, &state))
        .await
        .map_err(|err| SandboxError::Setup(format!("cannot save {shown}: {err}")))?
        .map_err(|err| SandboxError::Setup(format!("cannot save {shown}: {err}")))
}
