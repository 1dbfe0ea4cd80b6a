//! Connections to a remote: which transport, its credentials, TLS, proxy and time limit, and
//! how its failures become [`GitError`]s.
//!
//! - HTTP(S) goes through gix's blocking `reqwest` backend. The client is configured per
//!   operation (`configure_client`): rustls with the ring provider, the system roots plus the
//!   Secret's CA, an optional client certificate, the proxy, and a total timeout equal to the time
//!   left. Credentials are sent with every request (`configure_request`), as go-git does, also
//!   over plain `http`; gix's credential helpers are never consulted.
//! - SSH runs OpenSSH through [`SshSession`]; a SOCKS5 proxy is reached through a local relay
//!   ([`crate::socks`]).
//! - `file://` runs `git-upload-pack` locally.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use gix::bstr::ByteSlice;
use gix::protocol::transport::client::blocking_io::Transport;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::{AuthError, AuthOptions, Transport as Scheme};
use crate::cancel::Watchdog;
use crate::error::{GitError, redact_url, scrub};
use crate::proxy::{ProxyError, ProxyOptions, ProxyScheme};
use crate::socks::SocksRelay;
use crate::ssh::SshSession;

/// The `User-Agent` of every HTTP request.
pub(crate) const USER_AGENT: &str = concat!("git/eddy-", env!("CARGO_PKG_VERSION"));

/// A connection as gix hands it out, whatever the transport.
pub(crate) type Connection<'r, 'repo> = gix::remote::Connection<'r, 'static, 'repo, Box<dyn Transport + Send>>;

/// Everything needed to talk to one remote URL during one operation.
pub(crate) struct Target<'a> {
    /// The URL to give gix (HTTP user information removed; ssh possibly rewritten to a relay).
    pub(crate) url: String,
    /// The URL for messages.
    pub(crate) display: String,
    pub(crate) auth: &'a AuthOptions,
    pub(crate) proxy: Option<&'a ProxyOptions>,
    pub(crate) watchdog: &'a Watchdog,
    ssh: Option<SshSession>,
    _relay: Option<SocksRelay>,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("url", &self.display).finish_non_exhaustive()
    }
}

/// The scheme of a URL as this crate supports it.
pub(crate) fn scheme_of(url: &str) -> Result<Scheme, GitError> {
    let invalid = |reason: &str| GitError::InvalidUrl { url: redact_url(url), reason: reason.to_owned() };
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).ok_or_else(|| invalid("no scheme"))?;
    let parsed = gix::url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    let s = match scheme.as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        "ssh" => Scheme::Ssh,
        "file" => Scheme::File,
        other => return Err(invalid(&format!("unsupported scheme '{other}'"))),
    };
    if s != Scheme::File && parsed.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(s)
}

/// Removes `user[:password]@` from an HTTP URL (credentials travel in headers instead).
fn strip_userinfo(url: &str) -> String {
    redact_url(url)
}

impl<'a> Target<'a> {
    /// Prepares a target for `url`; validates the URL and combination of options.
    pub(crate) fn new(
        url: &str,
        auth: &'a AuthOptions,
        proxy: Option<&'a ProxyOptions>,
        watchdog: &'a Watchdog,
    ) -> Result<Self, GitError> {
        let scheme = scheme_of(url)?;
        let display = redact_url(url);
        if scheme.is_http() && auth.has_basic() && auth.has_bearer() {
            return Err(AuthError::BasicAndBearer.into());
        }
        let mut target = Self { url: url.to_owned(), display, auth, proxy, watchdog, ssh: None, _relay: None };
        match scheme {
            Scheme::Http | Scheme::Https => target.url = strip_userinfo(url),
            Scheme::Ssh => {
                auth.validate()?;
                let mut alias = None;
                if let Some(p) = proxy {
                    if p.scheme != ProxyScheme::Socks5 {
                        return Err(ProxyError::UnsupportedForSsh(p.url()).into());
                    }
                    let parsed = gix::url::parse(url)
                        .map_err(|e| GitError::InvalidUrl { url: target.display.clone(), reason: e.to_string() })?;
                    let host = parsed.host().unwrap_or_default().to_owned();
                    let port = parsed.port.unwrap_or(22);
                    let relay = SocksRelay::start(p, &host, port, watchdog)?;
                    alias = Some(if port == 22 { host.clone() } else { format!("[{host}]:{port}") });
                    let user = parsed.user().map(|u| format!("{u}@")).unwrap_or_default();
                    target.url = format!("ssh://{user}127.0.0.1:{}{}", relay.port(), parsed.path);
                    target._relay = Some(relay);
                }
                target.ssh = Some(SshSession::new(auth, watchdog, alias.as_deref())?);
            }
            Scheme::File => {
                let path = gix::url::parse(url)
                    .map_err(|e| GitError::InvalidUrl { url: target.display.clone(), reason: e.to_string() })?
                    .path;
                if !std::path::Path::new(&*path.to_str_lossy()).exists() {
                    return Err(GitError::RepositoryNotFound { url: target.display });
                }
            }
        }
        Ok(target)
    }

    /// Whether this target speaks HTTP(S).
    pub(crate) fn is_http(&self) -> bool {
        self.ssh.is_none() && scheme_of(&self.url).is_ok_and(Scheme::is_http)
    }

    /// Opens a connection for fetching through `remote` (whose URL is [`Target::url`]).
    pub(crate) fn connect<'r, 'repo>(&self, remote: &'r gix::Remote<'repo>) -> Result<Connection<'r, 'repo>, GitError> {
        self.watchdog.check(&self.display)?;
        let connection = if let Some(ssh) = &self.ssh {
            let url = gix::url::parse(self.url.as_str())
                .map_err(|e| GitError::InvalidUrl { url: self.display.clone(), reason: e.to_string() })?;
            let transport = gix::protocol::transport::client::blocking_io::ssh::connect(
                url,
                gix::protocol::transport::Protocol::V2,
                ssh.connect_options(),
                false,
            )
            .map_err(|e| self.transport_error_message(&e.to_string()))?;
            remote.to_connection_with_transport(Box::new(transport) as Box<dyn Transport + Send>)
        } else {
            let c = remote.connect(gix::remote::Direction::Fetch).map_err(|e| self.classify(&e))?;
            if scheme_of(&self.url)?.is_http() { c.with_transport_options(Box::new(self.http_options()?)) } else { c }
        };
        Ok(connection.with_credentials(|_| Ok(None)))
    }

    fn http_options(&self) -> Result<gix::protocol::transport::client::blocking_io::http::Options, GitError> {
        use gix::protocol::transport::client::blocking_io::http;
        let tls = tls_config(self.auth)?;
        let timeout = self.watchdog.remaining().max(Duration::from_millis(1));
        let proxy = self.proxy.cloned();
        let authorization = authorization_header(self.auth)?;
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(move |builder: reqwest::blocking::ClientBuilder| {
                let mut builder = builder
                    .use_preconfigured_tls(tls.clone())
                    .timeout(timeout)
                    .connect_timeout(timeout.min(Duration::from_secs(30)));
                if let Some(p) = &proxy {
                    let mut rp = reqwest::Proxy::all(p.url()).map_err(gix::Error::from_error)?;
                    if let Some(user) = &p.username {
                        rp = rp.basic_auth(user, p.password.as_deref().unwrap_or_default());
                    }
                    builder = builder.proxy(rp);
                }
                Ok(builder)
            })),
            configure_request: authorization.map(|value| -> Box<http::reqwest::ConfigureRequestFn> {
                Box::new(move |req: &mut reqwest::blocking::Request| {
                    req.headers_mut().insert(reqwest::header::AUTHORIZATION, value.clone());
                    Ok(())
                })
            }),
        };
        Ok(http::Options {
            backend: Some(Arc::new(Mutex::new(backend))),
            user_agent: Some(USER_AGENT.to_owned()),
            ..Default::default()
        })
    }

    fn transport_error_message(&self, message: &str) -> GitError {
        GitError::Transport { url: self.display.clone(), message: scrub(message, &self.auth.secrets()) }
    }

    /// Turns a gix failure while talking to the remote into a [`GitError`].
    pub(crate) fn classify(&self, err: &gix::Error) -> GitError {
        if let Some(e) = self.watchdog.interruption(&self.display) {
            return e;
        }
        if let Some(e) = self.ssh.as_ref().and_then(|s| s.explain_failure(&self.display)) {
            return e;
        }
        let mut messages: Vec<String> = Vec::new();
        for e in err.iter_errors() {
            let m = e.to_string();
            if !messages.iter().any(|seen| seen.contains(&m)) {
                messages.push(m);
            }
        }
        let message = scrub(&messages.join(": "), &self.auth.secrets());
        let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
        if err.is_unauthenticated() || has("HTTP status 401") || has("HTTP status 403") {
            let detail = if has("HTTP status 403") { "authorization failed" } else { "HTTP 401 Unauthorized" };
            return GitError::AuthenticationRefused { url: self.display.clone(), detail: detail.to_owned() };
        }
        if has("HTTP status 404") || has("does not appear to be a git repository") || has("valid git directory") {
            return GitError::RepositoryNotFound { url: self.display.clone() };
        }
        GitError::Transport { url: self.display.clone(), message }
    }
}

/// `Authorization` for the options: bearer token or basic credentials.
pub(crate) fn authorization_header(auth: &AuthOptions) -> Result<Option<reqwest::header::HeaderValue>, GitError> {
    let value = if auth.has_bearer() {
        format!("Bearer {}", auth.bearer_token)
    } else if auth.has_basic() {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.username, auth.password))
        )
    } else {
        return Ok(None);
    };
    let mut v = reqwest::header::HeaderValue::from_str(&value)
        .map_err(|_| AuthError::InvalidTls("credentials contain characters not allowed in an HTTP header".into()))?;
    v.set_sensitive(true);
    Ok(Some(v))
}

fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let result = rustls_native_certs::load_native_certs();
        for e in &result.errors {
            tracing::debug!(error = %e, "could not load some system certificates");
        }
        result.certs
    })
}

/// The TLS client configuration: system roots plus the Secret's CA (as go-git appends the CA
/// bundle to the system pool), and the client certificate if any.
pub(crate) fn tls_config(auth: &AuthOptions) -> Result<rustls::ClientConfig, GitError> {
    if auth.ca.is_empty() && (auth.client_cert.is_empty() || auth.client_key.is_empty()) {
        // The common case, built once: a configuration parses every system root.
        static DEFAULT: OnceLock<rustls::ClientConfig> = OnceLock::new();
        if let Some(config) = DEFAULT.get() {
            return Ok(config.clone());
        }
        let config = build_tls_config(auth)?;
        return Ok(DEFAULT.get_or_init(|| config).clone());
    }
    build_tls_config(auth)
}

fn build_tls_config(auth: &AuthOptions) -> Result<rustls::ClientConfig, GitError> {
    let invalid = |m: String| GitError::Auth(AuthError::InvalidTls(m));
    let mut roots = rustls::RootCertStore::empty();
    let _ = roots.add_parsable_certificates(native_roots().iter().cloned());
    if !auth.ca.is_empty() {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&auth.ca) {
            let cert = cert.map_err(|e| invalid(format!("cannot read the CA certificates: {e}")))?;
            roots.add(cert).map_err(|e| invalid(format!("cannot use a CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(invalid("no CA certificate found in the CA bundle".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots);
    if auth.client_cert.is_empty() || auth.client_key.is_empty() {
        return Ok(builder.with_no_client_auth());
    }
    let chain = CertificateDer::pem_slice_iter(&auth.client_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("cannot read the client certificate: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(&auth.client_key).map_err(|_| invalid("cannot read the client key".into()))?;
    builder.with_client_auth_cert(chain, key).map_err(|e| invalid(format!("cannot use the client certificate: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_encoded_as_rfc7617() {
        let mut auth = AuthOptions::empty(Scheme::Https, "h".into());
        auth.username = "user".into();
        auth.password = "pass".into();
        let v = authorization_header(&auth).unwrap().unwrap();
        assert_eq!(v.to_str().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(v.is_sensitive());
    }

    #[test]
    fn urls_are_checked() {
        assert!(matches!(scheme_of("ftp://h/r"), Err(GitError::InvalidUrl { .. })));
        assert!(matches!(scheme_of("https:///r"), Err(GitError::InvalidUrl { .. })));
        assert_eq!(scheme_of("https://h/r").unwrap(), Scheme::Https);
        assert_eq!(scheme_of("file:///tmp/r").unwrap(), Scheme::File);
    }
}
