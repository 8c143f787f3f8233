//! The HTTP surface: the Chart Studio v2 endpoints, the auth/fault/log layer, and the admin
//! routes under `/_sandbox/`.

// axum handlers are async by contract, whether or not they await.
#![allow(clippy::unused_async)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::Events;
use super::faults::{FaultConfig, Faults, LoggedRequest, RequestLog};
use super::journal::{Journal, Op, Record};
use super::seed::{self, Seed};
use super::snapshot::{Flags, Snapshot, SnapshotFile};
use super::store::{Changes, ROOT, Reader, Scope, Store, User};
use super::wire::{self, ApiError, FileObject, FolderListing, Listing, Page, Urls, View, WebForm};

/// Everything the handlers share.
pub(crate) struct App {
    /// The accounts. Reads share the lock, so listing pages render on every core at once.
    pub store: RwLock<Store>,
    /// Fault settings and counters.
    pub faults: Mutex<Faults>,
    /// Recent API requests.
    pub log: Mutex<RequestLog>,
    /// The base of `web_url` and `embed_url`: `--web-domain`, else the sandbox's own address
    /// (never the request's `Host`, which the client controls).
    pub web_base: String,
    /// Whether a folder's sharing change passes to its contents, unless the faults settings
    /// say otherwise at run time (`--no-folder-cascade` turns it off at start).
    pub folder_cascade: bool,
    /// What `/_sandbox/reset` goes back to.
    pub seed: Seed,
    /// Woken after every successful write, for the state saver.
    pub dirty: Notify,
    /// `--state FILE`, where the state is saved.
    pub state: Option<PathBuf>,
    /// `FILE.journal`, with `--state`: every write is on disk before it is acknowledged.
    pub journal: Option<Journal>,
    /// How long a request's body may take to arrive (the header timeout).
    pub body_timeout: std::time::Duration,
    /// Held for a whole save (taken before the store's lock): saves run one at a time, each
    /// from the state as it is when it starts, so a save still running when the server stops
    /// can neither collide with the final one nor land after it with older state.
    pub saving: Mutex<()>,
    /// Where warnings go ([`Options::events`](crate::Options::events)).
    pub events: Events,
}

impl App {
    /// Locks the store for reading. A panic while holding the lock is a sandbox bug; the
    /// state is still usable, so the poison is ignored.
    pub(crate) fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the store for writing.
    pub(crate) fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether folder sharing changes cascade now: the run-time setting, else the start one.
    fn folder_cascade(&self) -> bool {
        self.faults()
            .config
            .folder_cascade
            .unwrap_or(self.folder_cascade)
    }

    fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The router: the API under `/v2`, the admin surface under `/_sandbox`.
pub(crate) fn router(app: Arc<App>) -> Router {
    let mut api = Router::new()
        .route("/v2/users/current", get(current_user))
        .route("/v2/files/lookup", get(lookup_file))
        .route("/v2/folders/lookup", get(lookup_folder))
        .route("/v2/folders", post(create_folders))
        .route(
            "/v2/folders/home",
            get(|ctx: Ctx| list_special(ctx, Special::Home)),
        )
        .route(
            "/v2/folders/all",
            get(|ctx: Ctx| list_special(ctx, Special::All)),
        )
        .route(
            "/v2/folders/shared",
            get(|ctx: Ctx| list_special(ctx, Special::Shared)),
        )
        .route(
            "/v2/folders/trashed",
            get(|ctx: Ctx| list_special(ctx, Special::Trashed)),
        )
        .route(
            "/v2/grids",
            post(|ctx: Ctx, body: Bytes| create(ctx, "grid", body)),
        )
        .route(
            "/v2/plots",
            post(|ctx: Ctx, body: Bytes| create(ctx, "plot", body)),
        )
        .route(
            "/v2/dashboards",
            post(|ctx: Ctx, body: Bytes| create(ctx, "dashboard", body)),
        )
        .route(
            "/v2/spectacle-presentations",
            post(|ctx: Ctx, body: Bytes| create(ctx, "spectacle_presentation", body)),
        )
        .route(
            "/v2/files/{fid}/path",
            get(|ctx: Ctx, Path(fid): Path<String>| file_path(ctx, fid)),
        )
        .route(
            "/v2/grids/{fid}/content",
            get(|ctx: Ctx, Path(fid): Path<String>| content(ctx, fid)),
        )
        .route(
            "/v2/plots/{fid}/content",
            get(|ctx: Ctx, Path(fid): Path<String>| content(ctx, fid)),
        )
        // The web app's URLs (`web_url`, `embed_url`, `.json`), so the links clients get open.
        // Static routes (`/v2/...`) take precedence over these two; other methods stay 404,
        // as on any unknown path.
        .route(
            "/{user}/{page}",
            get(|ctx: Ctx, Path(at): Path<(String, String)>| web_page(ctx, at, false))
                .fallback(|| async { ApiError::not_found() }),
        )
        .route(
            "/{user}/{page}/",
            get(|ctx: Ctx, Path(at): Path<(String, String)>| web_page(ctx, at, true))
                .fallback(|| async { ApiError::not_found() }),
        );
    for (resource, filetype) in RESOURCES {
        api = api
            .route(&format!("/v2/{resource}/{{fid}}"), detail_routes(filetype))
            .route(
                &format!("/v2/{resource}/{{fid}}/trash"),
                post(|ctx: Ctx, Path(fid): Path<String>| trash(ctx, fid)),
            )
            .route(
                &format!("/v2/{resource}/{{fid}}/restore"),
                post(|ctx: Ctx, Path(fid): Path<String>| restore(ctx, fid)),
            )
            .route(
                &format!("/v2/{resource}/{{fid}}/permanent_delete"),
                // The docs use DELETE; the Julia client uses POST. Accept both.
                post(|ctx: Ctx, Path(fid): Path<String>| permanent_delete(ctx, fid))
                    .delete(|ctx: Ctx, Path(fid): Path<String>| permanent_delete(ctx, fid)),
            );
    }
    let api = api
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(app.clone(), api_layer));
    let admin = Router::new()
        .route(
            "/_sandbox/requests",
            get(admin_requests).delete(admin_clear_requests),
        )
        .route("/_sandbox/state", get(admin_state))
        .route("/_sandbox/reset", post(admin_reset))
        .route("/_sandbox/faults", get(admin_faults).put(admin_set_faults))
        .route_layer(middleware::from_fn(admin_guard));
    admin
        .merge(api)
        .layer(middleware::from_fn_with_state(app.clone(), limit_body))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// The largest request body, as nginx's `client_max_body_size` in front of Chart Studio
/// (its value there is unknown; this is axum's default, kept as it was).
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Answers an oversized body as nginx does in front of Django: a plain-text 413, not the API's
/// JSON error, before authentication or faults. The body is read here whole, within the
/// header timeout: a client that trickles its body (one byte every few seconds) would
/// otherwise hold its connection, and its slot under the connection cap, for ever. Too slow
/// is a plain-text 408 and the connection is closed.
async fn limit_body(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let declared = header_str(request.headers(), header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let read =
        tokio::time::timeout(app.body_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            let mut response = plain_text(
                StatusCode::REQUEST_TIMEOUT,
                "408 Request Time-out: the body did not arrive in time\n".to_owned(),
            );
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return response;
        }
    };
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        response
    }
}

fn too_large() -> Response {
    plain_text(
        StatusCode::PAYLOAD_TOO_LARGE,
        "413 Request Entity Too Large\n".to_owned(),
    )
}

fn plain_text(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Refuses admin requests a web page could make: the admin routes read and reset the whole
/// state without credentials, so a DNS-rebinding page (Host: attacker.example resolving to
/// 127.0.0.1) or a cross-origin `fetch` must not reach them.
async fn admin_guard(request: Request, next: Next) -> Response {
    match admin_refusal(request.headers()) {
        Some(why) => plain_text(StatusCode::FORBIDDEN, why),
        None => next.run(request).await,
    }
}

/// Why an admin request is refused, if it is.
fn admin_refusal(headers: &HeaderMap) -> Option<String> {
    let host = header_str(headers, header::HOST.as_str()).unwrap_or("");
    if !is_loopback_host(host) {
        return Some(format!(
            "Refused: the sandbox's /_sandbox/ endpoints answer only requests addressed to a \
             loopback host (127.0.0.1, localhost or [::1], any port), not Host: {:?}. This \
             keeps web pages (DNS rebinding) away from them.\n",
            plotward_visible::escape(host)
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !is_loopback_origin(origin) {
            return Some(format!(
                "Refused: a cross-origin request (Origin: {:?}) to the sandbox's /_sandbox/ \
                 endpoints. Call them from a script or curl on this machine, not from a web \
                 page.\n",
                plotward_visible::escape(origin)
            ));
        }
    }
    if header_str(headers, "sec-fetch-site") == Some("cross-site") {
        return Some(
            "Refused: a cross-site request (Sec-Fetch-Site: cross-site) to the sandbox's \
             /_sandbox/ endpoints. Call them from a script or curl on this machine, not from a \
             web page.\n"
                .to_owned(),
        );
    }
    None
}

/// `127.x.y.z`, `localhost` or `[::1]`, with an optional port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, port))
                if port.is_empty() || port.strip_prefix(':').is_some_and(is_digits) =>
            {
                return ip
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|ip| ip.is_loopback());
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_digits(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `http(s)://` and a loopback host, nothing else (`null` is not loopback).
fn is_loopback_origin(origin: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !rest.contains('/') && is_loopback_host(rest))
}

/// `/v2/{resource}/{fid}` and the file type it holds (`None`: any).
const RESOURCES: [(&str, Option<&str>); 6] = [
    ("files", None),
    ("plots", Some("plot")),
    ("grids", Some("grid")),
    ("folders", Some("fold")),
    ("dashboards", Some("dashboard")),
    ("spectacle-presentations", Some("spectacle_presentation")),
];

fn detail_routes(filetype: Option<&'static str>) -> axum::routing::MethodRouter<Arc<App>> {
    let update =
        move |ctx: Ctx, Path(fid): Path<String>, body: Bytes| update_file(ctx, filetype, fid, body);
    let read = move |ctx: Ctx, Path(fid): Path<String>| async move {
        if filetype == Some("fold") {
            folder_detail(&ctx, &fid)
        } else {
            read_file(&ctx, filetype, &fid)
        }
    };
    let routes = get(read).put(update).patch(update);
    if filetype == Some("grid") {
        routes.delete(|ctx: Ctx, Path(fid): Path<String>| destroy(ctx, fid))
    } else {
        routes
    }
}

/// The authenticated caller, set by [`api_layer`].
#[derive(Clone, Debug)]
struct Caller(Option<String>);

/// What every handler needs: the app, the caller, URLs for links, the query and the clock.
struct Ctx {
    app: Arc<App>,
    caller: Option<String>,
    urls: Urls,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    now: Instant,
    wall: SystemTime,
}

impl FromRequestParts<Arc<App>> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Ctx, ApiError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller(None))
            .0;
        let host = header_str(&parts.headers, header::HOST.as_str()).unwrap_or("127.0.0.1");
        let api_base = format!("http://{host}");
        let query = parts.uri.query().unwrap_or("");
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|err| ApiError::bad_request(format!("Malformed query: {err}")))?;
        Ok(Ctx {
            app: app.clone(),
            caller,
            urls: Urls {
                web_base: app.web_base.clone(),
                api_base,
            },
            path: parts.uri.path().to_owned(),
            query,
            content_type: header_str(&parts.headers, header::CONTENT_TYPE.as_str())
                .map(str::to_owned),
            now: Instant::now(),
            wall: SystemTime::now(),
        })
    }
}

impl Ctx {
    fn caller(&self) -> Option<&str> {
        self.caller.as_deref()
    }

    /// The caller with the request's `share_key`, for reads others may make.
    fn reader(&self) -> Reader<'_> {
        Reader {
            caller: self.caller(),
            share_key: self.param("share_key"),
            now: self.now,
        }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, key: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn body(&self, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
        wire::parse_body(self.content_type.as_deref(), bytes)
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Serializes a response body.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => bytes_response(status, bytes),
        Err(_) => ApiError::server_error().into_response(),
    }
}

/// A response of JSON already written.
fn bytes_response(status: StatusCode, json: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// Authenticates, injects faults, runs the handler, logs the request, and wakes the saver
/// after successful writes.
async fn api_layer(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(redact_query);
    let platform = header_str(request.headers(), "plotly-client-platform").map(str::to_owned);
    let is_write = method != Method::GET && method != Method::HEAD;
    let caller = authenticate(&app, request.headers());
    let user = caller.as_ref().ok().cloned().flatten();
    let response = match caller {
        Err(err) => err.into_response(),
        Ok(caller) => {
            let latency = app.faults().config.latency_ms;
            if latency > 0 {
                tokio::time::sleep(Duration::from_millis(latency)).await;
            }
            let write_to = is_write.then_some(path.as_str());
            let admitted = app
                .faults()
                .admit(caller.as_deref(), write_to, Instant::now());
            if let Err(err) = admitted {
                err.into_response()
            } else {
                request.extensions_mut().insert(Caller(caller));
                next.run(request).await
            }
        }
    };
    let status = response.status();
    app.log().push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        status: status.as_u16(),
        user,
        client_platform: platform,
    });
    if is_write && status.is_success() {
        app.dirty.notify_one();
    }
    response
}

/// The query with any `share_key` value replaced, so the request log never holds a key.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("share_key", _)) => "share_key=(redacted)".to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Reads Basic credentials from `plotly-authorization` (preferred, as behind a proxy) or
/// `authorization`; a bearer token is accepted as an API key. No header: anonymous.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = header_str(headers, "plotly-authorization")
        .or_else(|| header_str(headers, header::AUTHORIZATION.as_str()))
    else {
        return Ok(None);
    };
    let store = app.store();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return store.authenticate_token(token.trim()).map(Some);
    }
    let encoded = value.strip_prefix("Basic ").ok_or_else(ApiError::bad_key)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::bad_key())?;
    let text = String::from_utf8(decoded).map_err(|_| ApiError::bad_key())?;
    let (username, key) = text.split_once(':').ok_or_else(ApiError::bad_key)?;
    store.authenticate(username, key).map(Some)
}

async fn current_user(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.caller().ok_or_else(ApiError::unauthenticated)?;
    Ok(json_response(StatusCode::OK, &json!({ "username": user })))
}

/// How a handler answers with a file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// 200 with the file object, as a read sees it.
    Read,
    /// 200 with the file object as written.
    Updated,
    /// 201 with `{"file": object}`.
    Created,
}

/// Renders one stored file for the caller. A write's own response shows a newly enabled share
/// key at once, as upstream does; only later reads may miss it (the eventual-consistency
/// fault).
fn file_response(ctx: &Ctx, owner: &str, id: i64, reply: Reply) -> Response {
    let store = ctx.app.store();
    let Some(file) = store.get(owner, id) else {
        return ApiError::not_found().into_response();
    };
    let view = if ctx.caller() == Some(owner) {
        View::Owner
    } else {
        View::Reader
    };
    let visible = reply != Reply::Read || file.share_key_visible(ctx.now);
    let object = FileObject::new(file, view, &ctx.urls, visible);
    match reply {
        Reply::Created => json_response(StatusCode::CREATED, &json!({ "file": object })),
        Reply::Read | Reply::Updated => json_response(StatusCode::OK, &object),
    }
}

fn read_file(ctx: &Ctx, filetype: Option<&str>, fid: &str) -> Result<Response, ApiError> {
    let store = ctx.app.store();
    let (file, view) = store.read(ctx.caller(), fid, ctx.param("share_key"), ctx.now)?;
    if filetype.is_some_and(|t| t != file.filetype) {
        return Err(ApiError::not_found());
    }
    let visible = file.share_key_visible(ctx.now);
    Ok(json_response(
        StatusCode::OK,
        &FileObject::new(file, view, &ctx.urls, visible),
    ))
}

async fn content(ctx: Ctx, fid: String) -> Result<Response, ApiError> {
    let store = ctx.app.store();
    let (file, _) = store.read(ctx.caller(), &fid, ctx.param("share_key"), ctx.now)?;
    let body = file.content.clone().unwrap_or_else(|| json!({}));
    Ok(json_response(StatusCode::OK, &body))
}

/// Serves a file's web URL under the same rules as the API: readable when the file or a
/// folder above it is public, with a matching `?share_key=`, or to its owner; 404 otherwise.
async fn web_page(
    ctx: Ctx,
    (user, page): (String, String),
    slash: bool,
) -> Result<Response, ApiError> {
    let (fid, form) = wire::web_target(&user, &page, slash).ok_or_else(ApiError::not_found)?;
    let store = ctx.app.store();
    let (file, _) = store.read(ctx.caller(), &fid, ctx.param("share_key"), ctx.now)?;
    Ok(match form {
        WebForm::Json => json_response(StatusCode::OK, file.content.as_ref().unwrap_or(&json!({}))),
        WebForm::Page => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            ],
            wire::web_page(file),
        )
            .into_response(),
    })
}

/// The fields of a create or update body that the sandbox keeps.
fn changes(body: &Map<String, Value>, filetype: Option<&str>) -> Result<Changes, ApiError> {
    let mut changes = Changes {
        filename: wire::string_field(body, "filename")?,
        parent: wire::int_field(body, "parent")?,
        parent_path: wire::string_field(body, "parent_path")?,
        world_readable: wire::bool_field(body, "world_readable")?,
        share_key_enabled: wire::bool_field(body, "share_key_enabled")?,
        ..Changes::default()
    };
    match filetype {
        Some("plot") => changes.content = body.get("figure").cloned(),
        Some("grid") => {
            if let Some(data) = body.get("data") {
                changes.cols = Some(grid_columns(data)?);
                changes.content = Some(data.clone());
            }
        }
        _ => changes.content = body.get("content").cloned(),
    }
    Ok(changes)
}

/// Gives each column of `{"cols": {name: {data, order}}}` a uid, in `order`.
fn grid_columns(data: &Value) -> Result<Vec<Value>, ApiError> {
    let cols = data
        .get("cols")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid("data", "Grid data needs a `cols` object."))?;
    let mut named: Vec<(i64, &String)> = cols
        .iter()
        .map(|(name, col)| (col.get("order").and_then(Value::as_i64).unwrap_or(0), name))
        .collect();
    named.sort();
    Ok(named
        .into_iter()
        .map(|(_, name)| {
            let uid: String = std::iter::repeat_with(|| fastrand::char('a'..='f'))
                .take(6)
                .collect();
            json!({ "name": name, "uid": uid })
        })
        .collect())
}

/// What a write did: the file to answer with, and whether it newly enabled a share key.
pub(crate) struct Applied {
    target: Option<(String, i64)>,
    enabled: bool,
}

impl Applied {
    fn file((owner, id): (String, i64)) -> Applied {
        Applied {
            target: Some((owner, id)),
            enabled: false,
        }
    }

    fn target(&self) -> Result<(&str, i64), ApiError> {
        self.target
            .as_ref()
            .map(|(owner, id)| (owner.as_str(), *id))
            .ok_or_else(ApiError::server_error)
    }
}

/// Carries out one write on the store: live from a handler, or replayed from the journal on
/// start. The random generator is seeded from the record first, so a replay creates the same
/// share keys and column uids; ids and times come from the state and the record.
pub(crate) fn apply(store: &mut Store, record: &Record, now: Instant) -> Result<Applied, ApiError> {
    let caller = record.caller.as_deref();
    let wall = record.wall;
    fastrand::seed(record.rng);
    match &record.op {
        Op::Update {
            filetype,
            fid,
            body,
            cascade,
        } => {
            let (file, _) = store.read(caller, fid, None, now)?;
            if filetype.as_ref().is_some_and(|t| *t != file.filetype) {
                return Err(ApiError::not_found());
            }
            let changes = changes(body, Some(file.filetype.clone().as_str()))?;
            let (owner, id, enabled) = store.update(caller, fid, changes, now, wall, *cascade)?;
            Ok(Applied {
                target: Some((owner, id)),
                enabled,
            })
        }
        Op::Create { filetype, body } => {
            let changes = changes(body, Some(filetype))?;
            store
                .create(caller, filetype, changes, wall)
                .map(Applied::file)
        }
        Op::Mkdirs { body } => {
            let path = wire::string_field(body, "path")?
                .ok_or_else(|| ApiError::invalid("path", "This field is required."))?;
            let parent = wire::int_field(body, "parent")?;
            store.mkdirs(caller, &path, parent, wall).map(Applied::file)
        }
        Op::Trash { fid } => store.trash(caller, fid, now).map(Applied::file),
        Op::Restore { fid } => store.restore(caller, fid, now).map(Applied::file),
        Op::PermanentDelete { fid } => {
            store.permanent_delete(caller, fid, now)?;
            Ok(Applied {
                target: None,
                enabled: false,
            })
        }
        Op::Destroy { fid } => {
            store.destroy(caller, fid, now)?;
            Ok(Applied {
                target: None,
                enabled: false,
            })
        }
    }
}

/// Applies a write under the store's lock and, with `--state`, waits until its journal record
/// is on disk: the response is sent only for a write that survives a crash.
async fn write(ctx: &Ctx, op: Op) -> Result<Applied, ApiError> {
    let (applied, seq) = {
        let mut store = ctx.app.store_mut();
        let record = Record {
            seq: 0,
            caller: ctx.caller.clone(),
            wall: ctx.wall,
            rng: fastrand::u64(..),
            op,
        };
        let applied = apply(&mut store, &record, ctx.now)?;
        if let Some((owner, id)) = &applied.target
            && applied.enabled
            && ctx.app.faults().flaky_share_key()
        {
            let window = ctx.app.faults().config.flaky_window();
            store.hide_share_key(owner, *id, ctx.now + window);
        }
        // Appended under the lock, so the journal's order is the order of the changes.
        let seq = ctx.app.journal.as_ref().map(|j| j.append(record));
        (applied, seq)
    };
    if let (Some(journal), Some(seq)) = (&ctx.app.journal, seq) {
        journal.commit(seq).await.map_err(|err| {
            ctx.app.events.warn(err);
            ApiError::server_error()
        })?;
    }
    Ok(applied)
}

async fn update_file(
    ctx: Ctx,
    filetype: Option<&'static str>,
    fid: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = ctx.body(&body)?;
    let op = Op::Update {
        filetype: filetype.map(str::to_owned),
        fid,
        body,
        cascade: ctx.app.folder_cascade(),
    };
    let applied = write(&ctx, op).await?;
    let (owner, id) = applied.target()?;
    Ok(file_response(&ctx, owner, id, Reply::Updated))
}

async fn create(ctx: Ctx, filetype: &'static str, body: Bytes) -> Result<Response, ApiError> {
    let body = ctx.body(&body)?;
    check_create_body(filetype, &body)?;
    let op = Op::Create {
        filetype: filetype.to_owned(),
        body,
    };
    let applied = write(&ctx, op).await?;
    let (owner, id) = applied.target()?;
    Ok(file_response(&ctx, owner, id, Reply::Created))
}

/// Refuses a create body without what the official client always sends (chart-studio 1.1.0):
/// a plot needs a `figure` object (a bare data array or `{}` is a 400 upstream); a grid its
/// `filename` and `data` with `cols`; a dashboard or presentation its `filename` and `content`,
/// the JSON text of the object (`json.dumps(dashboard)`).
fn check_create_body(filetype: &str, body: &Map<String, Value>) -> Result<(), ApiError> {
    let required = |field: &'static str| {
        body.get(field)
            .filter(|v| !v.is_null())
            .ok_or_else(|| ApiError::invalid(field, format!("`{field}`: this field is required.")))
    };
    match filetype {
        "plot" => {
            if !required("figure")?.is_object() {
                return Err(ApiError::invalid(
                    "figure",
                    "`figure` must be an object, e.g. {\"data\": [...], \"layout\": {...}}.",
                ));
            }
        }
        "grid" => {
            wire::string_field(body, "filename")?;
            required("filename")?;
            grid_columns(required("data")?)?;
        }
        _ => {
            wire::string_field(body, "filename")?;
            required("filename")?;
            let content = required("content")?;
            let is_json_object = content
                .as_str()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .is_some_and(|v| v.is_object());
            if !is_json_object {
                return Err(ApiError::invalid(
                    "content",
                    "`content` must be the JSON text of an object.",
                ));
            }
        }
    }
    Ok(())
}

async fn create_folders(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = ctx.body(&body)?;
    let applied = write(&ctx, Op::Mkdirs { body }).await?;
    let (owner, id) = applied.target()?;
    Ok(file_response(&ctx, owner, id, Reply::Created))
}

async fn trash(ctx: Ctx, fid: String) -> Result<Response, ApiError> {
    let applied = write(&ctx, Op::Trash { fid }).await?;
    let (owner, id) = applied.target()?;
    Ok(file_response(&ctx, owner, id, Reply::Read))
}

async fn restore(ctx: Ctx, fid: String) -> Result<Response, ApiError> {
    let applied = write(&ctx, Op::Restore { fid }).await?;
    let (owner, id) = applied.target()?;
    Ok(file_response(&ctx, owner, id, Reply::Read))
}

async fn permanent_delete(ctx: Ctx, fid: String) -> Result<StatusCode, ApiError> {
    write(&ctx, Op::PermanentDelete { fid }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn destroy(ctx: Ctx, fid: String) -> Result<StatusCode, ApiError> {
    write(&ctx, Op::Destroy { fid }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/files/{fid}/path`: `{"path": "/folder/name"}`, for the owner only (the Julia
/// client's `file_path`; the key `path` is UNCONFIRMED upstream).
async fn file_path(ctx: Ctx, fid: String) -> Result<Response, ApiError> {
    let caller = ctx.caller().ok_or_else(ApiError::unauthenticated)?;
    let store = ctx.app.store();
    let (file, view) = store.read(Some(caller), &fid, None, ctx.now)?;
    if view != View::Owner {
        return Err(ApiError::forbidden());
    }
    let path = store
        .path_of(&file.owner, file.id)
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "path": format!("/{path}") }),
    ))
}

async fn lookup_file(ctx: Ctx) -> Result<Response, ApiError> {
    lookup(&ctx, false)
}

async fn lookup_folder(ctx: Ctx) -> Result<Response, ApiError> {
    lookup(&ctx, true)
}

/// `GET /v2/{files,folders}/lookup?path=&parent=&user=&exists=`.
fn lookup(ctx: &Ctx, folders_only: bool) -> Result<Response, ApiError> {
    let path = ctx
        .param("path")
        .ok_or_else(|| ApiError::invalid("path", "This field is required."))?;
    let parent = match ctx.param("parent") {
        Some(text) => Some(
            text.parse()
                .map_err(|_| ApiError::invalid("parent", "A valid integer is required."))?,
        ),
        None => None,
    };
    let exists = matches!(ctx.param("exists"), Some("true" | "True" | "1"));
    let store = ctx.app.store();
    let found = store
        .lookup(ctx.caller(), ctx.param("user"), path, parent, ctx.now)
        .and_then(|(file, view)| {
            if folders_only && file.filetype != "fold" {
                Err(ApiError::not_found())
            } else {
                Ok((file, view))
            }
        });
    match (found, exists) {
        (Ok(_), true) => Ok(json_response(StatusCode::OK, &json!({ "exists": true }))),
        (Err(err), true) if err.status == StatusCode::NOT_FOUND => {
            Ok(json_response(StatusCode::OK, &json!({ "exists": false })))
        }
        (Ok((file, view)), false) => {
            let visible = file.share_key_visible(ctx.now);
            Ok(json_response(
                StatusCode::OK,
                &FileObject::new(file, view, &ctx.urls, visible),
            ))
        }
        (Err(err), _) => Err(err),
    }
}

/// The special folders of `/v2/folders/...`.
#[derive(Clone, Copy)]
enum Special {
    Home,
    All,
    Shared,
    Trashed,
}

/// The default and largest page sizes. Chart Studio's are undocumented; these are generous
/// enough for the documented `page_size=500` and bounded so one page cannot be huge.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 10_000;

async fn list_special(ctx: Ctx, special: Special) -> Result<Response, ApiError> {
    let owner = match special {
        Special::Trashed | Special::Shared => ctx.caller().ok_or_else(ApiError::unauthenticated)?,
        Special::Home | Special::All => ctx
            .param("user")
            .or(ctx.caller())
            .ok_or_else(ApiError::not_found)?,
    }
    .to_owned();
    let scope = match special {
        Special::Home => Scope::Children(ROOT),
        Special::All | Special::Shared => Scope::All,
        Special::Trashed => Scope::Trashed,
    };
    let store = ctx.app.store();
    let ids = if matches!(special, Special::Shared) {
        // Collaborators are not modelled: nothing is ever shared with anyone.
        Arc::from(Vec::new())
    } else {
        store.list(
            ctx.reader(),
            &owner,
            &scope,
            &ctx.params("filetype"),
            ctx.param("order_by"),
        )?
    };
    let children = page(&ctx, &store, &owner, &ids)?;
    let listing = Listing {
        fid: format!("{owner}:{ROOT}"),
        filename: "",
        filetype: "fold",
        owner: &owner,
        children,
    };
    Ok(bytes_response(StatusCode::OK, listing.to_json()))
}

fn folder_detail(ctx: &Ctx, fid: &str) -> Result<Response, ApiError> {
    let store = ctx.app.store();
    let (owner, id) = store.folder(ctx.reader(), fid)?;
    let ids = store.list(
        ctx.reader(),
        &owner,
        &Scope::Children(id),
        &ctx.params("filetype"),
        ctx.param("order_by"),
    )?;
    let store = &*store;
    let children = page(ctx, store, &owner, &ids)?;
    if id == ROOT {
        let listing = Listing {
            fid: fid.to_owned(),
            filename: "",
            filetype: "fold",
            owner: &owner,
            children,
        };
        return Ok(bytes_response(StatusCode::OK, listing.to_json()));
    }
    let folder = store.get(&owner, id).ok_or_else(ApiError::not_found)?;
    let view = if ctx.caller() == Some(owner.as_str()) {
        View::Owner
    } else {
        View::Reader
    };
    let folder = FileObject::new(folder, view, &ctx.urls, folder.share_key_visible(ctx.now));
    Ok(bytes_response(
        StatusCode::OK,
        FolderListing { folder, children }.to_json(),
    ))
}

/// One page of a listing, from `page` and `page_size`; a page out of range is a 404.
fn page<'s>(
    ctx: &'s Ctx,
    store: &'s Store,
    owner: &str,
    ids: &[i64],
) -> Result<Page<'s>, ApiError> {
    let number = parse_positive(ctx.param("page"), 1, "page")?;
    let size =
        parse_positive(ctx.param("page_size"), DEFAULT_PAGE_SIZE, "page_size")?.min(MAX_PAGE_SIZE);
    let pages = ids.len().div_ceil(size).max(1);
    if number > pages {
        return Err(ApiError::invalid_page());
    }
    let start = (number - 1) * size;
    let results = ids[start..ids.len().min(start + size)]
        .iter()
        .filter_map(|&id| store.get(owner, id))
        .map(|file| {
            let view = if ctx.caller() == Some(owner) {
                View::Owner
            } else {
                View::Reader
            };
            FileObject::new(file, view, &ctx.urls, file.share_key_visible(ctx.now))
        })
        .collect();
    let url = format!("{}{}", ctx.urls.api_base, ctx.path);
    Ok(Page::new(
        &url,
        &ctx.query,
        ids.len(),
        number,
        pages,
        results,
    ))
}

fn parse_positive(
    value: Option<&str>,
    default: usize,
    field: &'static str,
) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::invalid(field, "A positive integer is required.")),
    }
}

async fn admin_requests(State(app): State<Arc<App>>) -> Response {
    let log = app.log();
    let entries: Vec<&LoggedRequest> = log.entries().collect();
    json_response(
        StatusCode::OK,
        &json!({ "requests": entries, "dropped": log.dropped() }),
    )
}

async fn admin_clear_requests(State(app): State<Arc<App>>) -> StatusCode {
    app.log().clear();
    StatusCode::NO_CONTENT
}

/// Every file not in the trash, in the snapshot format, so tests can compare states.
async fn admin_state(State(app): State<Arc<App>>) -> Response {
    let store = app.store();
    let files: Vec<SnapshotFile> = store
        .all_files()
        .filter(|f| !f.deleted)
        .filter_map(|f| {
            Some(SnapshotFile {
                fid: format!("{}:{}", f.owner, f.id),
                path: store.path_of(&f.owner, f.id)?,
                filetype: f.filetype.clone(),
                flags: Flags {
                    world_readable: f.world_readable,
                    share_key_enabled: f.share_key_enabled,
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &Snapshot::of(files))
}

async fn admin_reset(State(app): State<Arc<App>>) -> Result<StatusCode, ApiError> {
    let users: Vec<User> = app.store().users().to_vec();
    // Every owner the seed names is among the store's users already, keys and all, so no
    // key is made here and the key scheme is not needed.
    let fresh = seed::build(&app.seed, &users, None).map_err(ApiError::bad_request)?;
    {
        let _saving = app
            .saving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut store = app.store_mut();
        *store = fresh;
        // The reset is not journaled: it is saved before any later write can land on it, so
        // a replay never applies post-reset writes to the pre-reset state.
        if let Some(path) = &app.state {
            let upto = app.journal.as_ref().map_or(0, Journal::last);
            seed::save_state(path, &seed::state_of(&store, upto)).map_err(|err| {
                app.events
                    .warn(format!("cannot save {}: {err}", path.display()));
                ApiError::server_error()
            })?;
            if let Some(journal) = &app.journal
                && let Err(err) = journal.truncate_through(upto)
            {
                app.events
                    .warn(format!("cannot truncate the journal: {err}"));
            }
        }
    }
    app.log().clear();
    let config = app.faults().config.clone();
    app.faults().reconfigure(config);
    Ok(StatusCode::NO_CONTENT)
}

async fn admin_faults(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, &app.faults().config)
}

async fn admin_set_faults(
    State(app): State<Arc<App>>,
    Json(config): Json<FaultConfig>,
) -> Result<Response, ApiError> {
    config.validate().map_err(ApiError::bad_request)?;
    app.faults().reconfigure(config.clone());
    Ok(json_response(StatusCode::OK, &config))
}
