//! Serving the API: TLS (rustls) with HTTP/1.1 and HTTP/2, bearer-token authentication, and
//! the standalone defaults of `eddy serve` — a data directory holding the RocksDB store, a
//! self-signed CA and serving certificate, an admin token and a ready kubeconfig.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use eddy_storage::{KvEngine, Store, StoreOptions};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::{HttpOptions, error_response, router};
use crate::limits::{with_max_in_flight, with_request_timeout};
use crate::registry::Registry;
use crate::status::ApiError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file of the data directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("opening the store in {path}: {source}")]
    Store {
        /// The store directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: eddy_storage::Error,
    },
    /// A certificate could not be generated, read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The cluster to delegate to (aggregated mode) could not be reached or configured.
    #[error("aggregated mode: {0}")]
    Cluster(String),
    /// The listening socket could not be opened.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// What `eddy serve` needs to run. [`ServeConfig::new`] gives the standalone defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where the store, credentials and kubeconfig live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub bind_address: IpAddr,
    /// Port to listen on (0 picks a free one; [`Running::addr`] tells which).
    pub secure_port: u16,
    /// Serving certificate chain (PEM). Without it, a self-signed one is made in the data dir.
    pub tls_cert_file: Option<PathBuf>,
    /// Private key of the serving certificate (PEM).
    pub tls_key_file: Option<PathBuf>,
    /// File holding the admin bearer token. Without it, one is generated in the data dir.
    pub token_file: Option<PathBuf>,
    /// Store tuning.
    pub store: StoreOptions,
    /// HTTP tuning.
    pub http: HttpOptions,
    /// Overload protection and connection timeouts (kube-apiserver's defaults).
    pub limits: crate::limits::Limits,
    /// Aggregated mode: serve behind a kube-apiserver, which authenticates (front proxy,
    /// client certificates, TokenReview) and authorizes (SubjectAccessReview) every request
    /// and owns the namespaces. `None`: standalone, with the admin token.
    pub aggregated: Option<AggregatedConfig>,
}

/// How to reach the cluster Eddy extends.
#[derive(Debug, Clone, Default)]
pub struct AggregatedConfig {
    /// Kubeconfig of Eddy's identity in the cluster; `None` uses the in-cluster service
    /// account (or `$KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait at start for `kube-system/extension-apiserver-authentication`.
    pub startup_wait: std::time::Duration,
}

impl AggregatedConfig {
    /// Aggregated mode with Eddy's identity from `kubeconfig`.
    #[must_use]
    pub fn new(kubeconfig: Option<PathBuf>) -> Self {
        Self { kubeconfig, startup_wait: std::time::Duration::from_secs(60) }
    }

    /// A client of the cluster with Eddy's identity (the kubeconfig, or the in-cluster
    /// service account).
    ///
    /// # Errors
    /// [`Error::Cluster`] when no configuration is found or it cannot be used.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        let config = self.config().await?;
        kube::Client::try_from(config).map_err(|e| Error::Cluster(e.to_string()))
    }

    /// The configuration [`Self::client`] is built from (controllers derive impersonating
    /// clients from it).
    ///
    /// # Errors
    /// An unreadable kubeconfig, or no cluster to infer.
    pub async fn config(&self) -> Result<kube::Config, Error> {
        let cluster = |e: &dyn std::fmt::Display| Error::Cluster(e.to_string());
        Ok(match &self.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::Cluster(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|e| Error::Cluster(format!("{}: {e}", path.display())))?
            }
            None => kube::Config::infer().await.map_err(|e| cluster(&e))?,
        })
    }
}

impl ServeConfig {
    /// Standalone defaults: listen on 127.0.0.1:6443 with everything in `data_dir`.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure_port: 6443,
            tls_cert_file: None,
            tls_key_file: None,
            token_file: None,
            store: StoreOptions::default(),
            http: HttpOptions::default(),
            limits: crate::limits::Limits::default(),
            aggregated: None,
        }
    }

    /// Path of the kubeconfig written on start.
    #[must_use]
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    }
    Ok(())
}

/// The credentials a running server uses.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// PEM of the serving certificate chain.
    pub cert_pem: String,
    /// PEM of its private key.
    pub key_pem: String,
    /// PEM of the CA clients should trust (the self-signed CA, or the chain's last certificate).
    pub ca_pem: String,
    /// The admin bearer token.
    pub token: String,
}

/// Loads the configured credentials, creating the missing ones in the data directory.
///
/// # Errors
/// When files cannot be read or written, or a certificate cannot be generated.
pub fn credentials(config: &ServeConfig) -> Result<Credentials, Error> {
    let pki = config.data_dir.join("pki");
    std::fs::create_dir_all(&pki).map_err(io_err(&pki))?;
    let (cert_pem, key_pem, ca_pem) = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(c), Some(k)) => {
            let cert = std::fs::read_to_string(c).map_err(io_err(c))?;
            let key = std::fs::read_to_string(k).map_err(io_err(k))?;
            // Without a CA of our own, clients are pointed at the last certificate of the chain.
            let last = cert.rfind("-----BEGIN CERTIFICATE-----").map_or(cert.as_str(), |i| &cert[i..]).to_owned();
            (cert, key, last)
        }
        (None, None) => self_signed(&pki)?,
        _ => return Err(Error::Tls("a TLS certificate file needs its key file, and the other way round".into())),
    };
    let token = match &config.token_file {
        Some(f) => std::fs::read_to_string(f).map_err(io_err(f))?.trim().to_owned(),
        None => {
            let f = config.data_dir.join("token");
            if f.exists() {
                std::fs::read_to_string(&f).map_err(io_err(&f))?.trim().to_owned()
            } else {
                let bytes: [u8; 32] = rand::random();
                let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                write_private(&f, t.as_bytes())?;
                t
            }
        }
    };
    if token.is_empty() {
        return Err(Error::Tls("the admin token is empty".into()));
    }
    Ok(Credentials { cert_pem, key_pem, ca_pem, token })
}

/// A CA and a serving certificate for localhost, made once and kept in `pki`.
fn self_signed(pki: &Path) -> Result<(String, String, String), Error> {
    let (crt, key, ca) = (pki.join("serving.crt"), pki.join("serving.key"), pki.join("ca.crt"));
    if crt.exists() && key.exists() && ca.exists() {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(io_err(p));
        return Ok((read(&crt)?, read(&key)?, read(&ca)?));
    }
    let tls = |e: rcgen::Error| Error::Tls(e.to_string());
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "eddy-ca");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    ca_params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let ca_key = rcgen::KeyPair::generate().map_err(tls)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;

    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let mut params = rcgen::CertificateParams::new(names).map_err(tls)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "eddy");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let leaf_key = rcgen::KeyPair::generate().map_err(tls)?;
    let leaf = params.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(tls)?;

    let (cert_pem, key_pem, ca_pem) = (leaf.pem(), leaf_key.serialize_pem(), ca_cert.pem());
    write_private(&pki.join("ca.key"), ca_key.serialize_pem().as_bytes())?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&crt, &cert_pem).map_err(io_err(&crt))?;
    std::fs::write(&ca, &ca_pem).map_err(io_err(&ca))?;
    Ok((cert_pem, key_pem, ca_pem))
}

/// The kubeconfig that reaches the server at `addr` as the admin.
#[must_use]
pub fn kubeconfig(addr: SocketAddr, creds: &Credentials) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let ca = base64::engine::general_purpose::STANDARD.encode(&creds.ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eddy\n  cluster:\n    server: https://{host}:{port}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: eddy-admin\n  user:\n    token: {token}\ncontexts:\n\
         - name: eddy\n  context:\n    cluster: eddy\n    user: eddy-admin\n    namespace: default\n\
         current-context: eddy\n",
        port = addr.port(),
        token = creds.token,
    )
}

fn tls_config(
    creds: &Credentials,
    client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(creds.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Tls(format!("reading the certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no certificate in the certificate file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(creds.key_pem.as_bytes())
        .map_err(|e| Error::Tls(format!("reading the private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match client_verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Compares in time independent of where the inputs differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Wraps `app` so every non-health request must carry `Authorization: Bearer <token>`.
pub fn with_bearer_token(app: axum::Router, token: String) -> axum::Router {
    let token = Arc::new(token);
    app.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let token = Arc::clone(&token);
        async move {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if crate::auth::is_public(req.uri().path())
                || given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes()))
            {
                next.run(req).await
            } else {
                crate::auth::drain(req).await;
                let mut r: Response = error_response(&ApiError {
                    code: 401,
                    reason: "Unauthorized",
                    message: "Unauthorized".into(),
                    target: None,
                    causes: Vec::new(),
                    retry_after: None,
                });
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
        }
    }))
}

/// A started server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The credentials in use.
    pub credentials: Credentials,
    /// Where the admin kubeconfig was written (standalone mode only).
    pub kubeconfig: Option<PathBuf>,
    /// The API as an in-process `tower::Service`, without authentication: what Eddy's own
    /// controllers call through a `kube::Client` (no socket, same semantics as any client,
    /// admission included). Never expose it on a socket.
    pub local: axum::Router,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, closes open ones and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(feature = "rocksdb")]
/// Opens the store in `data_dir/store`, prepares credentials, binds, writes the kubeconfig
/// and starts serving in the background.
///
/// # Errors
/// See [`Error`].
pub async fn start(config: ServeConfig) -> Result<Running, Error> {
    std::fs::create_dir_all(&config.data_dir).map_err(io_err(&config.data_dir))?;
    let store_dir = config.data_dir.join("store");
    let store = eddy_storage_rocksdb::open_store(&store_dir, config.store.clone())
        .map_err(|source| Error::Store { path: store_dir.clone(), source })?;
    start_with_store(config, store).await
}

/// Like [`start`] over a store the caller opened (any engine).
///
/// # Errors
/// See [`Error`].
pub async fn start_with_store<E: KvEngine>(config: ServeConfig, store: Store<E>) -> Result<Running, Error> {
    std::fs::create_dir_all(&config.data_dir).map_err(io_err(&config.data_dir))?;
    let credentials = credentials(&config)?;
    let mut http = config.http.clone();
    let limits = &config.limits;
    let (app, local, verifier): (
        axum::Router,
        axum::Router,
        Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ) = match &config.aggregated {
        None => {
            let api = router(Registry::new(store), http);
            let app = with_bearer_token(with_max_in_flight(api.clone(), limits), credentials.token.clone());
            (app, api, None)
        }
        Some(aggregated) => {
            let client = aggregated.client().await?;
            let verifier = Arc::new(crate::auth::x509::DynamicClientVerifier::new());
            let delegated =
                crate::auth::Delegated::start(client.clone(), Arc::clone(&verifier), aggregated.startup_wait)
                    .await
                    .map_err(Error::Cluster)?;
            http.namespace_lifecycle = Some(crate::namespace_lifecycle::ClusterNamespaces::start(client));
            let api = router(Registry::new(store), http);
            let app = crate::auth::with_delegated_auth(with_max_in_flight(api.clone(), limits), delegated);
            (app, api, Some(verifier as Arc<dyn rustls::server::danger::ClientCertVerifier>))
        }
    };
    // As kube-apiserver's filter chain: panic recovery outermost, then the request timeout
    // (which also bounds authentication), authentication, and the in-flight limits, so
    // unauthenticated requests never take a slot. `local` (in-process callers, Eddy's own
    // controllers) is exempt from the limits, as kube's loopback client (system:masters) is.
    let app = with_request_timeout(app, limits.request_timeout).layer(crate::panic::CatchPanicLayer);
    let local = local.layer(axum::middleware::map_request(|mut req: Request| async move {
        req.extensions_mut().insert(crate::http::Loopback);
        req
    }));
    let tls = tokio_rustls::TlsAcceptor::from(tls_config(&credentials, verifier)?);
    let addr = SocketAddr::new(config.bind_address, config.secure_port);
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
    let kubeconfig = if config.aggregated.is_none() {
        let path = config.kubeconfig_path();
        write_private(&path, kubeconfig(addr, &credentials).as_bytes())?;
        Some(path)
    } else {
        None
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(crate::connection::accept_loop(listener, tls, app, config.limits.clone(), stopped));
    match &kubeconfig {
        Some(k) => tracing::info!(%addr, kubeconfig = %k.display(), "serving the Flux API (standalone)"),
        None => tracing::info!(%addr, "serving the Flux API (aggregated)"),
    }
    Ok(Running { addr, credentials, kubeconfig, local, stop, task })
}

#[cfg(feature = "rocksdb")]
/// Runs `eddy serve` until `shutdown` completes.
///
/// # Errors
/// See [`Error`].
pub async fn serve_until(config: ServeConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), Error> {
    let running = start(config).await?;
    shutdown.await;
    running.shutdown().await;
    Ok(())
}

#[cfg(feature = "rocksdb")]
/// Runs `eddy serve` until Ctrl-C or SIGTERM.
///
/// # Errors
/// See [`Error`].
pub async fn serve(config: ServeConfig) -> Result<(), Error> {
    serve_until(config, async {
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    })
    .await
}
