//! Accepting and serving client connections: TLS, then HTTP/1.1 or HTTP/2 (by ALPN), with the
//! connection-level defences of [`Limits`]:
//!
//! - the TLS handshake and the first request's headers must arrive within the header-read
//!   timeout (Go's `ReadHeaderTimeout`, which kube-apiserver sets to 32 s); on HTTP/1.1 hyper
//!   applies it to every later request's headers as well, including the wait for the next one;
//! - a connection with no request in progress for the idle timeout is closed gracefully;
//! - an HTTP/2 connection may open at most `http2_max_streams_per_connection` streams.
//!
//! So a flood of clients that connect and then send nothing, or half a header, costs one
//! small task each for a bounded time and never delays anyone else's request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limits::Limits;

/// Socket options for an accepted connection: `TCP_NODELAY`, as Go's net package sets on every
/// TCP connection (kube-apiserver's included). Without it a response written in several pieces
/// (headers, then body chunks, or watch events) waits for the client's delayed ACK (Nagle's
/// algorithm): up to 40 ms per request, which was the p99 of one-namespace LISTs and most of a
/// paginated LIST's time.
pub(crate) fn configure_connection(tcp: &tokio::net::TcpStream, peer: SocketAddr) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "setting TCP_NODELAY");
    }
}

/// What a connection is doing: requests in progress, and when the last one started or ended.
struct Activity {
    active: AtomicUsize,
    /// `None` until the first request starts.
    last: Mutex<Option<Instant>>,
    /// Wakes the connection's idle timer when a request starts or ends.
    changed: tokio::sync::Notify,
}

/// Marks one request in progress until dropped (with its response body).
struct InProgress(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self { active: AtomicUsize::new(0), last: Mutex::new(None), changed: tokio::sync::Notify::new() })
    }

    fn begin(self: &Arc<Self>) -> InProgress {
        self.active.fetch_add(1, Ordering::AcqRel);
        *self.last.lock() = Some(Instant::now());
        self.changed.notify_one();
        InProgress(Arc::clone(self))
    }

    /// Whether a request ever started on this connection.
    fn started(&self) -> bool {
        self.last.lock().is_some()
    }

    /// When the connection may be closed for idleness if nothing happens before (`None`:
    /// a request is in progress).
    fn idle_deadline(&self, opened: Instant, limits: &Limits) -> Option<Instant> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match *self.last.lock() {
            Some(last) => last + limits.idle_timeout,
            // Nothing yet: the first request's headers are late.
            None => opened + limits.header_read_timeout,
        })
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        *self.0.last.lock() = Some(Instant::now());
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// Accepts connections until `stopped` changes, then waits for the open ones to close.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    // Connections are tracked so that shutdown waits for them: the last of them holds the
    // store open.
    let mut connections = tokio::task::JoinSet::new();
    let limits = Arc::new(limits);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection");
                    continue;
                }
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined
                    && e.is_panic()
                {
                    crate::panic::record_connection_panic();
                }
                continue;
            }
            _ = stopped.changed() => break,
        };
        configure_connection(&tcp, peer);
        let (tls, app, stopped, limits) = (tls.clone(), app.clone(), stopped.clone(), Arc::clone(&limits));
        connections.spawn(serve_connection(tcp, peer, tls, app, limits, stopped));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// One connection, from the TLS handshake to its end.
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    limits: Arc<Limits>,
    mut stopped: watch::Receiver<bool>,
) {
    let opened = Instant::now();
    let stream = tokio::select! {
        s = tokio::time::timeout(limits.header_read_timeout, tls.accept(tcp)) => match s {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = stopped.changed() => return,
    };
    // The connection's client certificates travel with each of its requests.
    let certs = crate::auth::PeerCertificates(Arc::new(
        stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default(),
    ));
    let activity = Activity::new();
    let tracked = Arc::clone(&activity);
    let service = tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(certs.clone());
        let in_progress = tracked.begin();
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, req).await?;
            Ok::<_, std::convert::Infallible>(hold_until_sent(response, in_progress))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper arms its header timer as soon as it waits for a request, so on a kept-alive
    // connection it is also the idle limit: it gets the idle timeout, as Go's server gives an
    // idle connection IdleTimeout (a client reusing a pooled connection after 32 s found it
    // closed under it). The first request's headers are bounded by `idle_deadline`.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout.max(limits.header_read_timeout));
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(limits.http2_max_streams_per_connection);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        // While a request is in progress, look again after an idle timeout.
        let deadline = activity.idle_deadline(opened, &limits).unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopped.changed() => return,
            () = activity.changed.notified() => {}
            () = tokio::time::sleep_until(deadline) => {
                let Some(idle_since) = activity.idle_deadline(opened, &limits) else { continue };
                if idle_since > Instant::now() {
                    continue;
                }
                if !activity.started() {
                    // The first request's headers are late (slowloris): no answer is owed.
                    tracing::debug!(%peer, "no request headers in time: closing the connection");
                    return;
                }
                if closing {
                    // A graceful close the client did not complete within a whole idle period.
                    tracing::debug!(%peer, "closing an idle connection");
                    return;
                }
                tracing::debug!(%peer, "idle connection: closing it gracefully");
                conn.as_mut().graceful_shutdown();
                closing = true;
                *activity.last.lock() = Some(Instant::now());
            }
        }
    }
}

/// Keeps `guard` alive until the response body is written or dropped.
pub(crate) fn hold_until_sent<G: Send + Sync + 'static>(response: Response, guard: G) -> Response {
    let (parts, body) = response.into_parts();
    let body = body.map_frame(move |frame| {
        let _held = &guard;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        assert!(!tcp.nodelay().unwrap(), "the platform default this guards against");
        configure_connection(&tcp, peer);
        assert!(tcp.nodelay().unwrap());
    }

    #[test]
    fn idleness_counts_from_the_last_request_and_never_during_one() {
        let limits = Limits::default();
        let opened = Instant::now();
        let activity = Activity::new();
        assert_eq!(activity.idle_deadline(opened, &limits), Some(opened + limits.header_read_timeout));
        let request = activity.begin();
        assert_eq!(activity.idle_deadline(opened, &limits), None, "a request is in progress");
        drop(request);
        let last = activity.last.lock().unwrap_or(opened);
        assert_eq!(activity.idle_deadline(opened, &limits), Some(last + limits.idle_timeout));
    }
}
