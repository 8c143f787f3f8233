//! The accept loop: at most `max_connections` connections at once, each closed when its
//! request headers take longer than the header timeout or when it sits idle longer than the
//! idle timeout, so half-open or abandoned connections cannot take the sandbox down.
//!
//! It also strips one trailing slash from the path before routing: Django REST framework
//! serves `/v2/files/alice:1/` as well as `/v2/files/alice:1`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The connection limits of [`super::Options`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    header_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
}

impl Limits {
    /// The limits an `Options` asks for (at least one connection, at least 1 ms).
    pub(crate) fn of(options: &super::Options) -> Limits {
        let at_least = |d: Duration| d.max(Duration::from_millis(1));
        Limits {
            header_timeout: at_least(options.header_timeout),
            idle_timeout: at_least(options.idle_timeout),
            max_connections: options.max_connections.clamp(1, Semaphore::MAX_PERMITS),
        }
    }
}

/// How long open connections get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

/// Accepts connections until `shutdown`, then lets the open ones finish (closing idle ones at
/// once) for at most [`DRAIN`].
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // Take a slot before accepting: past the cap, connections wait in the kernel's backlog
        // instead of costing a task and a file descriptor each.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors, or a connection reset before accept: wait a little
            // rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            router.clone(),
            limits,
            stopped.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, slots.acquire_many(all)).await;
}

/// Serves one connection until it ends, times out, or the server stops.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = Tracked {
        router: TowerToHyperService::new(router),
        activity: activity.clone(),
    };
    let served = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(served);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            () = tokio::time::sleep_until(activity.deadline(&limits)) => {
                if activity.expired(&limits) {
                    // Dropping the connection closes the socket.
                    return;
                }
            }
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                if activity.is_idle() {
                    return;
                }
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection is doing, for its timeouts.
#[derive(Debug)]
struct Activity {
    clock: Mutex<Clock>,
}

#[derive(Debug)]
struct Clock {
    /// Requests whose headers arrived and whose response is not done.
    in_flight: usize,
    /// When the last response was done (or the connection opened).
    idle_since: Instant,
    /// When the first byte of the next request arrived, while its headers are incomplete.
    head_since: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            clock: Mutex::new(Clock {
                in_flight: 0,
                idle_since: Instant::now(),
                head_since: None,
            }),
        }
    }

    fn clock(&self) -> MutexGuard<'_, Clock> {
        self.clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn on_read(&self) {
        let mut clock = self.clock();
        if clock.in_flight == 0 && clock.head_since.is_none() {
            clock.head_since = Some(Instant::now());
        }
    }

    fn begin(&self) {
        let mut clock = self.clock();
        clock.in_flight += 1;
        clock.head_since = None;
    }

    fn end(&self) {
        let mut clock = self.clock();
        clock.in_flight = clock.in_flight.saturating_sub(1);
        clock.idle_since = Instant::now();
        clock.head_since = None;
    }

    fn is_idle(&self) -> bool {
        let clock = self.clock();
        clock.in_flight == 0 && clock.head_since.is_none()
    }

    /// When to look again: the running timeout's end, or (while a request is served, which no
    /// timeout limits) after the shorter timeout.
    fn deadline(&self, limits: &Limits) -> Instant {
        let clock = self.clock();
        if clock.in_flight > 0 {
            return Instant::now() + limits.header_timeout.min(limits.idle_timeout);
        }
        match clock.head_since {
            Some(since) => since + limits.header_timeout,
            None => clock.idle_since + limits.idle_timeout,
        }
    }

    fn expired(&self, limits: &Limits) -> bool {
        let clock = self.clock();
        let now = Instant::now();
        clock.in_flight == 0
            && match clock.head_since {
                Some(since) => now >= since + limits.header_timeout,
                None => now >= clock.idle_since + limits.idle_timeout,
            }
    }
}

/// A socket that reports incoming bytes to its connection's [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router, counting requests in flight for the timeouts.
struct Tracked {
    router: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

/// Ends a request's "in flight" when dropped, even if the connection is dropped mid-request.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

type Served = Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Served;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Served {
        strip_trailing_slash(request.uri_mut());
        self.activity.begin();
        let in_flight = InFlight(self.activity.clone());
        let response = self.router.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}

/// `/v2/files/alice:1/` to `/v2/files/alice:1`, the query kept; `/` stays.
fn strip_trailing_slash(uri: &mut Uri) {
    let path = uri.path();
    let Some(trimmed) = path.strip_suffix('/').filter(|p| !p.is_empty()) else {
        return;
    };
    let rebuilt = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let Ok(path_and_query) = rebuilt.parse::<PathAndQuery>() else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(stripped) = Uri::from_parts(parts) {
        *uri = stripped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_slash_is_stripped_and_the_query_kept() {
        for (given, expected) in [
            ("/v2/files/alice:1/", "/v2/files/alice:1"),
            ("/v2/folders/all/?page=2", "/v2/folders/all?page=2"),
            ("/v2/folders/all", "/v2/folders/all"),
            ("/", "/"),
            ("/v2//", "/v2/"),
        ] {
            let mut uri: Uri = given.parse().unwrap();
            strip_trailing_slash(&mut uri);
            assert_eq!(uri.to_string(), expected, "{given}");
        }
    }
}
