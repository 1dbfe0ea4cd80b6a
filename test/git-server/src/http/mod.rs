//! [`HttpGitServer`]: Git's smart HTTP protocol on 127.0.0.1, served by `git http-backend`.
//!
//! The server is a small hyper HTTP/1.1 server (optionally behind rustls with a certificate
//! from a throwaway [`TestCa`]) that hands every request to `git http-backend` as a CGI
//! program over a root directory of bare repositories (the `cgi` module is the bridge). Clone,
//! fetch and push work with protocol v0, v1 and v2, with gzipped and chunked request bodies.
//!
//! Options (on [`HttpGitServerBuilder`]): HTTP basic authentication, a bearer token, TLS
//! (with or without required client certificates), a read-only mode, extra git configuration
//! for the served repositories, and a *hang* mode that accepts connections and never answers
//! (for client timeout tests). [`HttpGitServer::counts`] tells which Git services were asked
//! for, so a test can prove that a client did not fetch.
//!
//! The server runs on its own thread and runtime (so it serves plain and async tests alike); dropping it stops
//! it, kills every running http-backend and joins the thread, all within bounded time.

mod auth;
mod cgi;
mod counters;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use self::auth::same_secret;
use self::auth::{AuthConfig, AuthOutcome};
use self::cgi::Backend;
use self::counters::Counters;
pub use self::counters::RequestCounts;
use crate::body::ServerBody;
use crate::error::{Error, Result};
use crate::process::is_executable;
use crate::runtime::Background;
use crate::tls::{IssuedCert, TestCa};

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and starts an [`HttpGitServer`].
#[derive(Clone)]
#[must_use]
pub struct HttpGitServerBuilder {
    root: PathBuf,
    auth: AuthConfig,
    tls: bool,
    client_cert: bool,
    hang: bool,
    allow_push: bool,
    config: Vec<(String, String)>,
}

impl fmt::Debug for HttpGitServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpGitServerBuilder")
            .field("root", &self.root)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("client_cert", &self.client_cert)
            .field("hang", &self.hang)
            .field("allow_push", &self.allow_push)
            .field("config", &self.config)
            .finish()
    }
}

impl HttpGitServerBuilder {
    /// Requires HTTP basic authentication with these credentials (401 otherwise).
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth.basic = Some((username.into(), password.into()));
        self
    }

    /// Requires `Authorization: Bearer <token>` (401 otherwise). With [`Self::basic_auth`]
    /// too, either credential is accepted.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth.bearer = Some(token.into());
        self
    }

    /// Serves HTTPS with a certificate for `127.0.0.1`, `::1` and `localhost` issued by a new
    /// test CA ([`HttpGitServer::ca_pem`], [`HttpGitServer::ca_file`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Serves HTTPS (as [`Self::tls`]) and requires a client certificate issued by the test CA;
    /// one is issued for the tests ([`HttpGitServer::client_cert`]).
    pub fn mutual_tls(mut self) -> Self {
        self.tls = true;
        self.client_cert = true;
        self
    }

    /// Accepts connections and never answers (nor completes a TLS handshake).
    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    /// Refuses pushes (`http.receivepack=false`). By default pushes are accepted.
    pub fn read_only(mut self) -> Self {
        self.allow_push = false;
        self
    }

    /// Adds git configuration for the served repositories (for example
    /// `uploadpack.allowFilter`), as `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`.
    pub fn git_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.push((key.into(), value.into()));
        self
    }

    /// Binds a free port on 127.0.0.1 and starts serving.
    ///
    /// # Errors
    ///
    /// [`Error::ToolMissing`] without `git http-backend`, [`Error::Io`] when the root is not
    /// a directory or the port cannot be bound, certificate and TLS errors with
    /// [`Self::tls`].
    pub fn start(self) -> Result<HttpGitServer> {
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| Error::io(format!("opening the server root {}", self.root.display()), e))?;
        let program = http_backend()?;
        let listener =
            StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("binding 127.0.0.1:0", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("configuring the listener", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;

        let (tls, acceptor) = if self.tls {
            let ca = TestCa::generate()?;
            let server_cert = ca.issue_server()?;
            let config = ca.server_config(&server_cert, self.client_cert)?;
            let client = if self.client_cert { Some(ca.issue_client("eddy-test-client")?) } else { None };
            let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
            let ca_file = dir.path().join("ca.pem");
            std::fs::write(&ca_file, ca.ca_pem()).map_err(|e| Error::io("writing the CA file", e))?;
            let material = TlsMaterial { ca_pem: ca.ca_pem(), ca_file, client, _dir: dir };
            (Some(material), Some(TlsAcceptor::from(config)))
        } else {
            (None, None)
        };

        let counters = Arc::new(Counters::default());
        let ctx = Arc::new(Ctx {
            backend: Backend { program, root: root.clone(), allow_push: self.allow_push, config: self.config },
            auth: self.auth,
            hang: self.hang,
            acceptor,
            counters: Arc::clone(&counters),
        });
        let background = Background::spawn(&format!("git-http-{}", addr.port()), move |token, tracker| {
            accept_loop(listener, ctx, token, tracker)
        })?;
        let scheme = if self.tls { "https" } else { "http" };
        tracing::debug!(%addr, scheme, root = %root.display(), "test git HTTP server started");
        Ok(HttpGitServer { addr, scheme, root, counters, tls, background })
    }
}

/// The server's TLS material.
struct TlsMaterial {
    ca_pem: String,
    ca_file: PathBuf,
    client: Option<IssuedCert>,
    _dir: tempfile::TempDir,
}

/// A smart-HTTP Git server on 127.0.0.1 (see the [module docs](self)).
pub struct HttpGitServer {
    addr: SocketAddr,
    scheme: &'static str,
    root: PathBuf,
    counters: Arc<Counters>,
    tls: Option<TlsMaterial>,
    background: Background,
}

impl fmt::Debug for HttpGitServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpGitServer").field("url", &self.url()).field("root", &self.root).finish_non_exhaustive()
    }
}

impl HttpGitServer {
    /// A builder for a server over `root`, a directory of bare repositories. The served
    /// repositories allow what hosted Git services do: `uploadpack.allowFilter` (partial
    /// clones) and `uploadpack.allowReachableSHA1InWant` (fetching a commit by ID).
    pub fn builder(root: impl Into<PathBuf>) -> HttpGitServerBuilder {
        HttpGitServerBuilder {
            root: root.into(),
            auth: AuthConfig::default(),
            tls: false,
            client_cert: false,
            hang: false,
            allow_push: true,
            config: vec![
                ("uploadpack.allowFilter".to_owned(), "true".to_owned()),
                ("uploadpack.allowReachableSHA1InWant".to_owned(), "true".to_owned()),
            ],
        }
    }

    /// Starts a plain HTTP server over `root` with no authentication and pushes allowed.
    ///
    /// # Errors
    ///
    /// As [`HttpGitServerBuilder::start`].
    pub fn start(root: impl Into<PathBuf>) -> Result<Self> {
        Self::builder(root).start()
    }

    /// The address the server listens on (127.0.0.1 and a port picked at start).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The base URL with the host name `localhost` (also in the TLS certificate).
    #[must_use]
    pub fn localhost_url(&self) -> String {
        format!("{}://localhost:{}", self.scheme, self.addr.port())
    }

    /// The URL of the repository at `name` under the root (for example `repo.git`).
    #[must_use]
    pub fn repo_url(&self, name: &str) -> String {
        format!("{}/{}", self.url(), name.trim_start_matches('/'))
    }

    /// The directory of bare repositories served.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The test CA's certificate (PEM) when serving HTTPS.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// A file holding [`Self::ca_pem`] (for `GIT_SSL_CAINFO`), when serving HTTPS.
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// The client certificate the server accepts, with [`HttpGitServerBuilder::mutual_tls`].
    #[must_use]
    pub fn client_cert(&self) -> Option<&IssuedCert> {
        self.tls.as_ref().and_then(|t| t.client.as_ref())
    }

    /// The request counters so far.
    #[must_use]
    pub fn counts(&self) -> RequestCounts {
        self.counters.snapshot()
    }

    /// Sets the request counters back to zero.
    pub fn reset_counts(&self) {
        self.counters.reset();
    }

    /// Stops the server: no new connections, running requests are cut off and their
    /// http-backend processes killed. Also done on drop.
    pub fn stop(mut self) {
        self.background.stop();
    }

    /// Whether the server is still running (not stopped).
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.background.token().is_cancelled()
    }
}

/// Finds `git-http-backend` in git's exec path.
fn http_backend() -> Result<PathBuf> {
    let mut candidates = vec![PathBuf::from("/usr/lib/git-core/git-http-backend")];
    if let Ok(out) = std::process::Command::new("git").arg("--exec-path").output()
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        candidates.insert(0, Path::new(&dir).join("git-http-backend"));
    }
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or_else(|| Error::ToolMissing { tool: "git-http-backend", path: "git --exec-path".to_owned() })
}

/// What every connection needs.
struct Ctx {
    backend: Backend,
    auth: AuthConfig,
    hang: bool,
    acceptor: Option<TlsAcceptor>,
    counters: Arc<Counters>,
}

async fn accept_loop(listener: StdTcpListener, ctx: Arc<Ctx>, token: CancellationToken, tracker: TaskTracker) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "test git HTTP server: cannot register the listener");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                Counters::bump(&ctx.counters.connections);
                let conn = connection(stream, peer, Arc::clone(&ctx), token.clone(), tracker.clone());
                tracker.spawn(conn);
            }
            Err(e) => {
                tracing::warn!(error = %e, "test git HTTP server: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    token: CancellationToken,
    tracker: TaskTracker,
) {
    if ctx.hang {
        // Hold the connection open, say nothing, until the server stops.
        let _stream = stream;
        token.cancelled().await;
        return;
    }
    let _ = stream.set_nodelay(true);
    match &ctx.acceptor {
        None => serve_http(TokioIo::new(stream), peer, ctx, token, tracker).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                () = token.cancelled() => return,
                h = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => h,
            };
            match handshake {
                Ok(Ok(tls)) => serve_http(TokioIo::new(tls), peer, ctx, token, tracker).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "test git HTTP server: TLS handshake failed"),
                Err(_) => tracing::debug!("test git HTTP server: TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<I>(io: I, peer: SocketAddr, ctx: Arc<Ctx>, token: CancellationToken, tracker: TaskTracker)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service_token = token.clone();
    let service = service_fn(move |req| {
        let ctx = Arc::clone(&ctx);
        let token = service_token.clone();
        let tracker = tracker.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(req, peer, &ctx, token, &tracker).await) }
    });
    let conn = http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "test git HTTP server: connection error");
            }
            return;
        }
        () = token.cancelled() => {}
    }
    // Stopping: the request in flight sees the same token, kills and reaps its http-backend
    // and answers at once; give it that moment instead of dropping it (which would leave the
    // reaping to whichever runtime comes next).
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    ctx: &Ctx,
    token: CancellationToken,
    tracker: &TaskTracker,
) -> Response<ServerBody> {
    Counters::bump(&ctx.counters.requests);
    let user = match ctx.auth.check(req.headers()) {
        AuthOutcome::Open => None,
        AuthOutcome::User(user) => Some(user),
        AuthOutcome::Denied => {
            Counters::bump(&ctx.counters.unauthorized);
            let mut response = cgi::status(StatusCode::UNAUTHORIZED, "authentication required\n");
            let mut headers = HeaderMap::new();
            auth::add_challenges(&ctx.auth, &mut headers);
            response.headers_mut().extend(headers);
            return response;
        }
    };
    cgi::serve(&ctx.backend, req, user, peer, Arc::clone(&ctx.counters), token, tracker).await
}
