//! [`HttpProxy`]: a forward HTTP proxy for tests of clients' proxy support.
//!
//! It understands both things a client asks a proxy for: `CONNECT host:port` (a tunnel,
//! used for `https://` URLs; the proxy answers 200 and then copies bytes both ways) and
//! absolute-form requests (`GET http://host:port/path`, used for `http://` URLs; the proxy
//! forwards the request over a new connection and streams the answer back). With
//! [`HttpProxy::with_basic_auth`] every request must carry a matching
//! `Proxy-Authorization: Basic …` header, or gets 407 with a `Proxy-Authenticate` challenge.
//!
//! The proxy only ever connects to the loopback interface: targets other than `localhost`,
//! `127.0.0.0/8` and `::1` are refused with 403, without any DNS lookup or connection, so a
//! misconfigured test cannot send traffic off the machine. Counters tell how many tunnels and
//! requests went through and to which targets.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::body::{ServerBody, full};
use crate::error::{Error, Result};
use crate::http::same_secret;
use crate::runtime::Background;

/// How long the proxy waits to connect to a target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A snapshot of an [`HttpProxy`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyCounts {
    /// Accepted client connections.
    pub connections: u64,
    /// Established `CONNECT` tunnels.
    pub tunnels: u64,
    /// Forwarded absolute-form requests.
    pub forwarded: u64,
    /// Requests answered 407 (missing or wrong proxy credentials).
    pub rejected_auth: u64,
    /// Requests refused because the target is not on the loopback interface (403) or is
    /// not a proxy request at all (400).
    pub refused: u64,
}

impl ProxyCounts {
    /// Tunnels plus forwarded requests: everything that went through the proxy.
    #[must_use]
    pub fn proxied(&self) -> u64 {
        self.tunnels + self.forwarded
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    tunnels: AtomicU64,
    forwarded: AtomicU64,
    rejected_auth: AtomicU64,
    refused: AtomicU64,
    targets: parking_lot::Mutex<Vec<String>>,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A forward proxy on 127.0.0.1 (see the [module docs](self)).
pub struct HttpProxy {
    addr: SocketAddr,
    credentials: Option<(String, String)>,
    counters: Arc<Counters>,
    background: Background,
}

impl fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProxy")
            .field("addr", &self.addr)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl HttpProxy {
    /// Starts a proxy without authentication.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when no port can be bound.
    pub fn start() -> Result<Self> {
        Self::start_inner(None)
    }

    /// Starts a proxy that requires `Proxy-Authorization: Basic` with these credentials.
    ///
    /// # Errors
    ///
    /// As [`Self::start`].
    pub fn with_basic_auth(username: impl Into<String>, password: impl Into<String>) -> Result<Self> {
        Self::start_inner(Some((username.into(), password.into())))
    }

    fn start_inner(credentials: Option<(String, String)>) -> Result<Self> {
        let listener =
            StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("binding 127.0.0.1:0", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("configuring the listener", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
        let counters = Arc::new(Counters::default());
        let ctx = Arc::new(Ctx {
            expected: credentials.as_ref().map(|(u, p)| format!("{u}:{p}")),
            counters: Arc::clone(&counters),
        });
        let background = Background::spawn(&format!("proxy-{}", addr.port()), move |token, tracker| {
            accept_loop(listener, ctx, token, tracker)
        })?;
        tracing::debug!(%addr, "test proxy started");
        Ok(Self { addr, credentials, counters, background })
    }

    /// The proxy's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (for `http.proxy`, `HTTPS_PROXY`, ...).
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT` when the proxy requires authentication. Holds the
    /// password: do not log it.
    #[must_use]
    pub fn url_with_credentials(&self) -> Option<String> {
        self.credentials.as_ref().map(|(u, p)| format!("http://{u}:{p}@{}", self.addr))
    }

    /// The counters so far.
    #[must_use]
    pub fn counts(&self) -> ProxyCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counters;
        ProxyCounts {
            connections: get(&c.connections),
            tunnels: get(&c.tunnels),
            forwarded: get(&c.forwarded),
            rejected_auth: get(&c.rejected_auth),
            refused: get(&c.refused),
        }
    }

    /// The `host:port` of every tunnel and forwarded request, in order.
    #[must_use]
    pub fn targets(&self) -> Vec<String> {
        self.counters.targets.lock().clone()
    }

    /// Stops the proxy and cuts every tunnel. Also done on drop.
    pub fn stop(mut self) {
        self.background.stop();
    }
}

struct Ctx {
    /// `user:password` when authentication is required.
    expected: Option<String>,
    counters: Arc<Counters>,
}

async fn accept_loop(listener: StdTcpListener, ctx: Arc<Ctx>, token: CancellationToken, tracker: TaskTracker) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "test proxy: cannot register the listener");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        bump(&ctx.counters.connections);
        let _ = stream.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        let conn_token = token.clone();
        let conn_tracker = tracker.clone();
        tracker.spawn(async move {
            let service_token = conn_token.clone();
            let service = service_fn(move |req| {
                let ctx = Arc::clone(&ctx);
                let token = service_token.clone();
                let tracker = conn_tracker.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &ctx, token, &tracker).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
            tokio::select! {
                result = conn => if let Err(e) = result {
                    tracing::debug!(error = %e, "test proxy: connection error");
                },
                () = conn_token.cancelled() => {}
            }
        });
    }
}

fn answer(code: StatusCode, text: &'static str) -> Response<ServerBody> {
    let mut response = Response::new(full(text));
    *response.status_mut() = code;
    response
}

async fn handle(
    req: Request<Incoming>,
    ctx: &Ctx,
    token: CancellationToken,
    tracker: &TaskTracker,
) -> Response<ServerBody> {
    if let Some(expected) = &ctx.expected {
        let given = req
            .headers()
            .get("proxy-authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .unwrap_or_default();
        if !same_secret(&given, expected.as_bytes()) {
            bump(&ctx.counters.rejected_auth);
            let mut response = answer(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "proxy authentication required\n");
            response
                .headers_mut()
                .insert("proxy-authenticate", HeaderValue::from_static("Basic realm=\"eddy-test-proxy\""));
            return response;
        }
    }
    let Some(authority) = req.uri().authority().cloned() else {
        bump(&ctx.counters.refused);
        return answer(StatusCode::BAD_REQUEST, "not a proxy request\n");
    };
    let default_port = if req.uri().scheme_str() == Some("https") { 443 } else { 80 };
    let port = authority.port_u16().unwrap_or(default_port);
    let Some(ip) = loopback(authority.host()) else {
        bump(&ctx.counters.refused);
        return answer(StatusCode::FORBIDDEN, "this test proxy only connects to the loopback interface\n");
    };
    let target = SocketAddr::new(ip, port);
    let Ok(Ok(upstream)) = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await else {
        return answer(StatusCode::BAD_GATEWAY, "cannot connect to the target\n");
    };
    ctx.counters.targets.lock().push(format!("{}:{port}", authority.host()));
    if req.method() == Method::CONNECT {
        bump(&ctx.counters.tunnels);
        tracker.spawn(tunnel(req, upstream, token));
        return answer(StatusCode::OK, "");
    }
    bump(&ctx.counters.forwarded);
    forward(req, upstream, token, tracker).await
}

/// Copies bytes both ways between the upgraded client connection and the target.
async fn tunnel(req: Request<Incoming>, mut upstream: TcpStream, token: CancellationToken) {
    let upgraded = tokio::select! {
        upgraded = hyper::upgrade::on(req) => upgraded,
        () = token.cancelled() => return,
    };
    let Ok(upgraded) = upgraded else { return };
    let mut client = TokioIo::new(upgraded);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        () = token.cancelled() => {}
    }
}

/// Sends an absolute-form request to the target in origin form and streams the answer back.
async fn forward(
    mut req: Request<Incoming>,
    upstream: TcpStream,
    token: CancellationToken,
    tracker: &TaskTracker,
) -> Response<ServerBody> {
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await else {
        return answer(StatusCode::BAD_GATEWAY, "handshake with the target failed\n");
    };
    tracker.spawn(async move {
        tokio::select! {
            _ = conn => {}
            () = token.cancelled() => {}
        }
    });
    let authority = req.uri().authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let Ok(uri) = path.parse::<Uri>() else {
        return answer(StatusCode::BAD_REQUEST, "bad request target\n");
    };
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    headers.remove("proxy-authorization");
    headers.remove("proxy-connection");
    if !headers.contains_key(HOST)
        && let Ok(host) = HeaderValue::from_str(&authority)
    {
        headers.insert(HOST, host);
    }
    match sender.send_request(req).await {
        Ok(response) => response.map(|body| body.map_err(std::io::Error::other).boxed()),
        Err(_) => answer(StatusCode::BAD_GATEWAY, "the target did not answer\n"),
    }
}

/// The loopback address `host` names, without DNS: `localhost`, 127.0.0.0/8 or ::1.
fn loopback(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    ip.is_loopback().then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::loopback;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback("127.0.0.1").is_some());
        assert!(loopback("127.1.2.3").is_some());
        assert!(loopback("localhost").is_some());
        assert!(loopback("[::1]").is_some());
        assert!(loopback("192.0.2.1").is_none());
        assert!(loopback("example.invalid").is_none());
        assert!(loopback("10.0.0.1").is_none());
    }
}
