//! A scripted hostile HTTP/1.1 server on loopback: std only, one thread per connection.
//!
//! Each request is recorded, then handed to a handler that returns a [`Reply`]: ordinary JSON or
//! text, a redirect, or an attack (endless bodies, a byte at a time, silence, a slammed door).
//! Every thread polls a shared stop flag at least every 100 ms, so [`Server::stop`] (also run on
//! drop) returns within about a second, whatever the client is doing.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How often blocked reads and writes wake up to look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// The longest a connection may sit idle, stall a write, or hang before its thread gives up.
const MAX_WAIT: Duration = Duration::from_mins(1);
/// Request heads longer than this close the connection.
const MAX_HEAD: usize = 64 * 1024;
/// Request bodies longer than this close the connection.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The chunk size of [`Reply::Huge`] and [`Reply::HugeChunked`] bodies.
const CHUNK: usize = 64 * 1024;
/// The path of plotward's credentials check, its first request to any server.
pub(crate) const CURRENT_USER: &str = "/v2/users/current";
/// How a [`Reply::Huge`] body starts: a listing page whose results never end.
const HUGE_PREFIX: &[u8] = br#"{"children":{"count":1,"next":null,"results":["#;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The request target as sent: path and query string, not decoded.
    pub target: String,
    /// Every header in order, names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` or chunked), empty when there is none.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The target before any `?`.
    pub(crate) fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The first value of a query parameter, percent-decoded (`+` is a space); a key without
    /// `=` has the empty value. Keys are compared after decoding.
    pub(crate) fn query(&self, key: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(name, _)| percent_decode(name) == key)
            .map(|(_, value)| percent_decode(value))
    }
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// This status and JSON body, with `Content-Type: application/json` and `Content-Length`.
    Json(u16, Value),
    /// This status and body as `text/plain; charset=utf-8`.
    Text(u16, String),
    /// This status (301, 302, 307 or 308) with a `Location` header and an empty body.
    Redirect(u16, String),
    /// A 200 JSON response with a `Content-Length` of `bytes`, streamed 64 KiB at a time: a
    /// listing page that opens its results and then is spaces forever. Not valid JSON. The
    /// connection closes afterwards (or as soon as the client hangs up).
    Huge {
        /// The body length.
        bytes: u64,
    },
    /// Like [`Reply::Huge`], but with `Transfer-Encoding: chunked` and no `Content-Length`.
    HugeChunked {
        /// The body length, not counting chunk framing.
        bytes: u64,
    },
    /// A 200 JSON response announcing `Content-Length: body.len()`, then one byte every
    /// `every`. The connection closes afterwards.
    Drip {
        /// The body, sent a byte at a time.
        body: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
    /// Nothing at all: the socket stays open until the server stops (at most 60 s).
    Hang,
    /// Close the connection without a response.
    Close,
    /// Like [`Reply::Json`], with extra response headers; made by [`Reply::with_header`].
    JsonWithHeaders(u16, Value, Vec<(String, String)>),
}

impl Reply {
    /// The same JSON reply with one more response header (`Retry-After`, ...). Panics for
    /// other replies: only JSON replies carry extra headers.
    #[must_use]
    pub(crate) fn with_header(self, name: &str, value: &str) -> Reply {
        let header = (name.to_owned(), value.to_owned());
        match self {
            Reply::Json(status, body) => Reply::JsonWithHeaders(status, body, vec![header]),
            Reply::JsonWithHeaders(status, body, mut headers) => {
                headers.push(header);
                Reply::JsonWithHeaders(status, body, headers)
            }
            other => panic!("with_header is for JSON replies, not {other:?}"),
        }
    }
}

/// A running scripted server; stops on drop.
pub(crate) struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// The handler as stored.
type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// What the acceptor and the connection threads share.
struct Shared {
    stop: AtomicBool,
    requests: Mutex<Vec<Request>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    handler: Box<Handler>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Server {
    /// Binds `ip:0` (`ip` must be a loopback address such as `127.0.0.1` or `127.0.0.2`) and
    /// serves each connection on its own thread, recording every request and then calling
    /// `handler` for it. Connections are kept alive until the client closes them, sends
    /// `Connection: close`, or a reply other than `Json`, `Text` or `Redirect` ends them.
    /// Panics if the address is not loopback or cannot be bound.
    pub(crate) fn start(
        ip: &str,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let parsed: IpAddr = ip.parse().expect("an IP address");
        assert!(parsed.is_loopback(), "{ip} is not a loopback address");
        let listener = TcpListener::bind((parsed, 0)).expect("bind the hostile server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            handler: Box::new(handler),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("hostile-accept-{addr}"))
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn the acceptor")
        };
        Server {
            addr,
            shared,
            acceptor: Mutex::new(Some(acceptor)),
        }
    }

    /// Like [`Server::start`], but `GET /v2/users/current` answers `{"username": "alice"}`,
    /// so plotward's credentials check passes as alice and `handler` scripts the rest. The
    /// check is recorded like any request.
    pub(crate) fn api(
        ip: &str,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::start(ip, move |request| {
            if request.path() == CURRENT_USER {
                Reply::Json(200, json!({"username": "alice"}))
            } else {
                handler(request)
            }
        })
    }

    /// The requests after plotward's credentials check, asserting that the check came first.
    #[track_caller]
    pub(crate) fn requests_after_check(&self) -> Vec<Request> {
        let mut requests = self.requests();
        assert_eq!(
            requests.first().map(Request::path),
            Some(CURRENT_USER),
            "the credentials check comes first"
        );
        requests.remove(0);
        requests
    }

    /// The base URL, `http://IP:PORT`, without a trailing slash.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order (recorded before the handler ran).
    pub(crate) fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Stops accepting and waits for every connection thread to end (about 100 ms, at most
    /// about a second), whatever the reply in progress. Idempotent; also run on drop.
    pub(crate) fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let acceptor = lock(&self.acceptor).take();
        if let Some(acceptor) = acceptor {
            // A panic in the server threads was already reported; the test sees its effects.
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listing page as the API sends it for a folder: `{"fid":"alice:-1", ..., "children":
/// {"count", "next", "previous": null, "results"}}`.
pub(crate) fn page(count: usize, next: Option<String>, results: Vec<Value>) -> Value {
    json!({
        "fid": "alice:-1",
        "filename": "",
        "filetype": "fold",
        "children": {
            "count": count,
            "next": Value::from(next),
            "previous": null,
            "results": Value::Array(results),
        },
    })
}

/// A file as its owner sees it; the owner is the part of `fid` before `:`.
pub(crate) fn file(
    fid: &str,
    name: &str,
    filetype: &str,
    parent: i64,
    world_readable: bool,
) -> Value {
    let owner = fid.split_once(':').map_or(fid, |(owner, _)| owner);
    json!({
        "fid": fid,
        "filename": name,
        "filetype": filetype,
        "parent": parent,
        "world_readable": world_readable,
        "share_key_enabled": false,
        "deleted": false,
        "owner": owner,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, peer)) => {
                let worker = {
                    let shared = Arc::clone(shared);
                    thread::Builder::new()
                        .name(format!("hostile-conn-{peer}"))
                        .spawn(move || serve(stream, &shared))
                };
                let mut connections = lock(&shared.connections);
                connections.retain(|connection| !connection.is_finished());
                if let Ok(worker) = worker {
                    connections.push(worker);
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Serves one connection until EOF, `Connection: close`, a closing reply, an error or stop.
fn serve(stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(POLL)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        shared,
    };
    while let Some((request, keep_alive)) = conn.read_request() {
        lock(&shared.requests).push(request.clone());
        let reply = (shared.handler)(&request);
        let head_only = request.method.eq_ignore_ascii_case("HEAD");
        if !conn.respond(reply, keep_alive, head_only) || !keep_alive {
            break;
        }
    }
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
}

struct Conn<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    shared: &'a Shared,
}

impl Conn<'_> {
    /// Reads more bytes into the buffer; false on EOF, error, stop or a long idle.
    fn fill(&mut self) -> bool {
        let started = Instant::now();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shared.stopping() || started.elapsed() > MAX_WAIT {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(error) if is_timeout(&error) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Takes everything up to and including the first `pattern`, reading as needed.
    fn take_through(&mut self, pattern: &[u8], limit: usize) -> Option<Vec<u8>> {
        let mut searched: usize = 0;
        loop {
            let from = searched.saturating_sub(pattern.len());
            if let Some(at) = find(&self.buf[from..], pattern) {
                let end = from + at + pattern.len();
                return Some(self.buf.drain(..end).collect());
            }
            if self.buf.len() > limit {
                return None;
            }
            searched = self.buf.len();
            if !self.fill() {
                return None;
            }
        }
    }

    /// Takes exactly `n` bytes, reading as needed.
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// The next request and whether the connection may stay open after it; `None` ends the
    /// connection (EOF, stop, or anything unparseable).
    fn read_request(&mut self) -> Option<(Request, bool)> {
        // Tolerate blank lines before a request line, as RFC 9112 asks.
        loop {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if !self.buf.is_empty() && self.buf != b"\r" {
                break;
            }
            if !self.fill() {
                return None;
            }
        }
        let head = self.take_through(b"\r\n\r\n", MAX_HEAD)?;
        let head = String::from_utf8(head).ok()?;
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split_whitespace();
        let method = request_line.next()?.to_owned();
        let target = request_line.next()?.to_owned();
        let version = request_line.next().unwrap_or("HTTP/1.0").to_owned();
        let mut headers = Vec::new();
        for line in lines.filter(|line| !line.is_empty()) {
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut request = Request {
            method,
            target,
            headers,
            body: Vec::new(),
        };
        let chunked = request
            .header("transfer-encoding")
            .is_some_and(|value| has_token(value, "chunked"));
        if chunked {
            request.body = self.read_chunked()?;
        } else if let Some(length) = request.header("content-length") {
            let length: usize = length.parse().ok()?;
            if length > MAX_BODY {
                return None;
            }
            request.body = self.take(length)?;
        }
        let connection = request.header("connection").unwrap_or("");
        let keep_alive = if version.eq_ignore_ascii_case("HTTP/1.1") {
            !has_token(connection, "close")
        } else {
            has_token(connection, "keep-alive")
        };
        Some((request, keep_alive))
    }

    fn read_chunked(&mut self) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.take_through(b"\r\n", MAX_HEAD)?;
            let line = std::str::from_utf8(&line).ok()?.trim_end();
            let size = line.split(';').next()?.trim();
            let size = usize::from_str_radix(size, 16).ok()?;
            if size == 0 {
                // Trailers, up to the blank line.
                while self.take_through(b"\r\n", MAX_HEAD)?.len() > 2 {}
                return Some(body);
            }
            if body.len() + size > MAX_BODY {
                return None;
            }
            body.extend(self.take(size)?);
            if self.take(2)? != b"\r\n" {
                return None;
            }
        }
    }

    /// Writes all of `data`, waiting out a slow reader; false on error, stop or a long stall.
    fn write_all(&mut self, mut data: &[u8]) -> bool {
        let mut progress = Instant::now();
        while !data.is_empty() {
            if self.shared.stopping() || progress.elapsed() > MAX_WAIT {
                return false;
            }
            match self.stream.write(data) {
                Ok(0) => return false,
                Ok(n) => {
                    data = &data[n..];
                    progress = Instant::now();
                }
                Err(error) if is_timeout(&error) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Sends a reply; false when the connection must close.
    fn respond(&mut self, reply: Reply, keep_alive: bool, head_only: bool) -> bool {
        let connection = if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        match reply {
            Reply::Json(status, value) => {
                let body = serde_json::to_vec(&value).expect("JSON serialises");
                self.simple(status, "application/json", connection, &body, head_only)
            }
            Reply::JsonWithHeaders(status, value, headers) => {
                let body = serde_json::to_vec(&value).expect("JSON serialises");
                let extra = headers
                    .iter()
                    .fold(String::new(), |mut extra, (name, value)| {
                        let _ = write!(extra, "{name}: {value}\r\n");
                        extra
                    });
                let connection = format!("{extra}{connection}");
                self.simple(status, "application/json", &connection, &body, head_only)
            }
            Reply::Text(status, text) => self.simple(
                status,
                "text/plain; charset=utf-8",
                connection,
                text.as_bytes(),
                head_only,
            ),
            Reply::Redirect(status, location) => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nLocation: {location}\r\nContent-Length: 0\r\n\
                     {connection}\r\n",
                    reason(status)
                );
                self.write_all(head.as_bytes())
            }
            Reply::Huge { bytes } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {bytes}\r\nConnection: close\r\n\r\n"
                );
                if self.write_all(head.as_bytes()) && !head_only {
                    self.huge(bytes, false);
                }
                false
            }
            Reply::HugeChunked { bytes } => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                            Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                if self.write_all(head.as_bytes()) && !head_only {
                    self.huge(bytes, true);
                }
                false
            }
            Reply::Drip { body, every } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if self.write_all(head.as_bytes()) && !head_only {
                    for byte in body {
                        if !self.pause(every) || !self.write_all(&[byte]) {
                            break;
                        }
                    }
                }
                false
            }
            Reply::Hang => {
                self.pause(MAX_WAIT);
                false
            }
            Reply::Close => false,
        }
    }

    fn simple(
        &mut self,
        status: u16,
        content_type: &str,
        connection: &str,
        body: &[u8],
        head_only: bool,
    ) -> bool {
        let mut message = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             {connection}\r\n",
            reason(status),
            body.len()
        )
        .into_bytes();
        if !head_only {
            message.extend_from_slice(body);
        }
        self.write_all(&message)
    }

    /// Streams a huge body without holding it: the prefix, then spaces.
    fn huge(&mut self, bytes: u64, chunked: bool) {
        let mut chunk = vec![b' '; CHUNK];
        let prefix = HUGE_PREFIX.len().min(CHUNK);
        chunk[..prefix].copy_from_slice(&HUGE_PREFIX[..prefix]);
        let mut remaining = bytes;
        let mut first = true;
        while remaining > 0 {
            let n = usize::try_from(remaining).map_or(CHUNK, |left| left.min(CHUNK));
            let data = &chunk[..n];
            let sent = if chunked {
                let mut framed = format!("{n:x}\r\n").into_bytes();
                framed.extend_from_slice(data);
                framed.extend_from_slice(b"\r\n");
                self.write_all(&framed)
            } else {
                self.write_all(data)
            };
            if !sent {
                return;
            }
            remaining -= u64::try_from(n).expect("a chunk length fits in u64");
            if first {
                chunk[..prefix].fill(b' ');
                first = false;
            }
        }
        if chunked {
            self.write_all(b"0\r\n\r\n");
        }
    }

    /// Sleeps for `wait` in short steps; false if the server stopped meanwhile.
    fn pause(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait.min(MAX_WAIT);
        loop {
            if self.shared.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            thread::sleep((until - now).min(Duration::from_millis(10)));
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && hex_pair(bytes[i + 1], bytes[i + 2]).is_some() => {
                out.extend(hex_pair(bytes[i + 1], bytes[i + 2]));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    let value = digit(high)? * 16 + digit(low)?;
    u8::try_from(value).ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::{Reply, Server, file, page};
    use reqwest::blocking::Client;
    use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
    use serde_json::{Value, json};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    fn client() -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client")
    }

    /// Stops the server and checks every thread ended promptly.
    fn stop_promptly(server: &Server) {
        let started = Instant::now();
        server.stop();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "stop took {took:?}");
    }

    #[test]
    fn hostile_json_round_trip_records_the_request() {
        let server = Server::start("127.0.0.1", |request| {
            let listing = page(
                1,
                Some("next-page".to_owned()),
                vec![file("alice:7", "plot", "plot", -1, true)],
            );
            Reply::Json(
                201,
                json!({"path": request.path(), "q": request.query("a b"), "listing": listing}),
            )
        });
        assert_eq!(server.url(), format!("http://{}", server.addr()));
        let response = client()
            .post(format!(
                "{}/v2/files/x?a%20b=c%26d&a%20b=second&flag",
                server.url()
            ))
            .header("X-Test", "yes")
            .json(&json!({"hello": "world"}))
            .send()
            .expect("response");
        assert_eq!(response.status().as_u16(), 201);
        assert_eq!(
            response.headers()[CONTENT_TYPE].to_str().ok(),
            Some("application/json")
        );
        let body: Value = response.json().expect("JSON body");
        assert_eq!(body["path"], "/v2/files/x");
        assert_eq!(body["q"], "c&d");
        assert_eq!(body["listing"]["children"]["next"], "next-page");
        assert_eq!(body["listing"]["children"]["results"][0]["owner"], "alice");
        assert_eq!(body["listing"]["children"]["results"][0]["parent"], -1);

        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/v2/files/x?a%20b=c%26d&a%20b=second&flag");
        assert_eq!(request.query("flag").as_deref(), Some(""));
        assert_eq!(request.query("missing"), None);
        assert_eq!(request.header("x-test"), Some("yes"));
        assert_eq!(request.header("CONTENT-TYPE"), Some("application/json"));
        assert!(
            request
                .headers
                .iter()
                .all(|(name, _)| name == &name.to_ascii_lowercase())
        );
        let sent: Value = serde_json::from_slice(&request.body).expect("recorded JSON");
        assert_eq!(sent, json!({"hello": "world"}));
        stop_promptly(&server);
    }

    #[test]
    fn hostile_redirect_is_a_3xx_with_location_when_not_followed() {
        let server = Server::start("127.0.0.1", |request| match request.path() {
            "/from" => Reply::Redirect(307, "http://127.0.0.1:9/elsewhere".to_owned()),
            _ => Reply::Text(404, "nope".to_owned()),
        });
        let response = client()
            .get(format!("{}/from", server.url()))
            .send()
            .expect("response");
        assert_eq!(response.status().as_u16(), 307);
        assert_eq!(
            response.headers()[LOCATION].to_str().ok(),
            Some("http://127.0.0.1:9/elsewhere")
        );
        let other = client()
            .get(format!("{}/other", server.url()))
            .send()
            .expect("response");
        assert_eq!(other.status().as_u16(), 404);
        assert_eq!(other.text().expect("text"), "nope");
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn hostile_huge_bodies_can_be_abandoned_mid_stream() {
        let server = Server::start("127.0.0.1", |request| {
            if request.path() == "/chunked" {
                Reply::HugeChunked { bytes: 50_000_000 }
            } else {
                Reply::Huge { bytes: 50_000_000 }
            }
        });
        for path in ["/plain", "/chunked"] {
            let mut response = client()
                .get(format!("{}{path}", server.url()))
                .send()
                .expect("response");
            assert_eq!(response.status().as_u16(), 200);
            let length = response.headers().get(CONTENT_LENGTH).cloned();
            let encoding = response.headers().get(TRANSFER_ENCODING).cloned();
            if path == "/plain" {
                assert_eq!(
                    length.as_ref().and_then(|v| v.to_str().ok()),
                    Some("50000000")
                );
            } else {
                assert_eq!((length, encoding.is_some()), (None, true));
            }
            let mut start = vec![0u8; 1 << 20];
            response.read_exact(&mut start).expect("first megabyte");
            assert!(start.starts_with(br#"{"children":{"count":1,"next":null,"results":["#));
            assert!(start[100..].iter().all(|&b| b == b' '));
        }
        stop_promptly(&server);
    }

    #[test]
    fn hostile_huge_small_body_is_complete() {
        let server = Server::start("127.0.0.1", |_| Reply::HugeChunked { bytes: 100_000 });
        let body = client()
            .get(server.url())
            .send()
            .and_then(reqwest::blocking::Response::bytes)
            .expect("whole body");
        assert_eq!(body.len(), 100_000);
    }

    #[test]
    fn hostile_close_is_a_client_error_after_the_request_was_recorded() {
        let server = Server::start("127.0.0.1", |_| Reply::Close);
        let result = client()
            .get(format!("{}/v2/users/current", server.url()))
            .send();
        assert!(result.is_err(), "{result:?}");
        let requests = server.requests();
        assert!(!requests.is_empty());
        assert_eq!(requests[0].path(), "/v2/users/current");
    }

    #[test]
    fn hostile_hang_and_drip_stop_promptly() {
        let server = Server::start("127.0.0.1", |request| match request.path() {
            "/hang" => Reply::Hang,
            "/drip" => Reply::Drip {
                body: b"{\"ok\":true}".to_vec(),
                every: Duration::from_millis(5),
            },
            _ => Reply::Drip {
                body: b"{}".to_vec(),
                every: Duration::from_secs(30),
            },
        });
        let dripped = client()
            .get(format!("{}/drip", server.url()))
            .send()
            .and_then(reqwest::blocking::Response::text)
            .expect("dripped body");
        assert_eq!(dripped, "{\"ok\":true}");

        let impatient = Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .expect("client");
        let hung = impatient.get(format!("{}/hang", server.url())).send();
        assert!(hung.is_err_and(|error| error.is_timeout()));

        // Leave a hanging and a slow-drip connection open, then stop underneath them.
        let mut raw_hang = TcpStream::connect(server.addr()).expect("connect");
        raw_hang
            .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let mut raw_slow = TcpStream::connect(server.addr()).expect("connect");
        raw_slow
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.requests().len() < 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(server.requests().len(), 4);
        stop_promptly(&server);
        let mut rest = Vec::new();
        raw_hang.read_to_end(&mut rest).expect("closed cleanly");
        assert!(rest.is_empty());
    }

    #[test]
    fn hostile_keep_alive_and_connection_close_on_one_socket() {
        let server = Server::start("127.0.0.1", |request| {
            Reply::Text(200, String::from_utf8_lossy(&request.body).into_owned())
        });
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(
                b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst\
                  POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                  3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n\
                  GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .expect("send");
        let mut replies = String::new();
        stream
            .read_to_string(&mut replies)
            .expect("read until close");
        assert_eq!(replies.matches("HTTP/1.1 200 OK").count(), 3, "{replies}");
        assert!(replies.contains("\r\n\r\nfirst"));
        assert!(replies.contains("\r\n\r\nsecond"));
        assert!(replies.ends_with("Connection: close\r\n\r\n"), "{replies}");
        let bodies: Vec<_> = server.requests().into_iter().map(|r| r.body).collect();
        assert_eq!(bodies, [b"first".to_vec(), b"second".to_vec(), Vec::new()]);
    }

    #[test]
    fn hostile_server_on_127_0_0_2() {
        let server = Server::start("127.0.0.2", |_| Reply::Json(200, json!({"ok": true})));
        assert!(server.url().starts_with("http://127.0.0.2:"));
        let body: Value = client()
            .get(server.url())
            .send()
            .and_then(reqwest::blocking::Response::json)
            .expect("response");
        assert_eq!(body, json!({"ok": true}));
        assert_eq!(
            server.requests()[0].header("host"),
            Some(&*server.addr().to_string())
        );
    }
}
