//! Delivering one request the way notification-controller's `postMessage` does
//! (`internal/notifier/client.go`): a POST through go-retryablehttp with 4 retries, waits from
//! 2 s doubling to 30 s (a 429/503 `Retry-After` wins), retries on transport errors, 429 and
//! 5xx but 501; any 2xx is success. The provider's timeout bounds the whole delivery (the
//! caller wraps it), proxies and TLS come from the Provider.
//!
//! Errors never carry the URL (a Slack or Teams webhook URL is itself a secret) nor a body
//! sent; a response body is quoted (bounded) as upstream does.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

/// How many bytes of an error response are quoted.
const MAX_ERROR_BODY: usize = 4096;

/// The retry policy (go-retryablehttp as notification-controller configures it).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt (upstream: 4).
    pub retries: u32,
    /// First wait (upstream: 2 s).
    pub min_wait: Duration,
    /// Longest wait (upstream: 30 s).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 4, min_wait: Duration::from_secs(2), max_wait: Duration::from_secs(30) }
    }
}

/// Transport settings of a Provider.
#[derive(Clone, Default)]
pub struct Transport {
    /// HTTP(S) proxy URL.
    pub proxy: Option<String>,
    /// PEM CA certificates trusted in addition to the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key (mTLS).
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .field("ca", &self.ca_pem.is_some())
            .field("client_cert", &self.client_pem.is_some())
            .finish()
    }
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client could not be built (bad proxy URL, unusable certificates).
    #[error("unable to configure the HTTP client: {0}")]
    Client(String),
    /// The address is not a valid URL.
    #[error("invalid address: {0}")]
    Address(String),
    /// A header name or value is not valid HTTP.
    #[error("invalid header {0:?}")]
    Header(String),
    /// The endpoint answered with a non-success status that is not retried.
    #[error("request failed with status code {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Retries were exhausted.
    #[error("giving up after {attempts} attempt(s){}", .last.as_deref().map(|l| format!(": {l}")).unwrap_or_default())]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Option<String>,
    },
    /// The response was not what the provider's API promises.
    #[error("{0}")]
    Response(String),
}

/// One request to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method (POST for nearly every provider).
    pub method: Method,
    /// The URL.
    pub url: String,
    /// Headers (Content-Type included).
    pub headers: Vec<(String, String)>,
    /// Basic authentication.
    pub basic_auth: Option<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A JSON POST of `body` (bytes as Go's encoder writes them).
    #[must_use]
    pub fn json(url: &str, body: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            url: url.to_owned(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            basic_auth: None,
            body: crate::event::go_json_bytes(body),
        }
    }

    /// Adds (replaces) a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// Clients kept for reuse (connection pools, TLS set-up), by a digest of their transport.
const CLIENT_CACHE_SIZE: usize = 64;

fn transport_key(t: &Transport) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [
        t.proxy.as_deref().map(str::as_bytes),
        t.ca_pem.as_deref(),
        t.client_pem.as_ref().map(|(c, _)| c.as_slice()),
        t.client_pem.as_ref().map(|(_, k)| k.as_slice()),
    ] {
        match part {
            Some(p) => {
                h.update([1]);
                h.update((p.len() as u64).to_le_bytes());
                h.update(p);
            }
            None => h.update([0]),
        }
    }
    h.finalize().into()
}

/// The client for a transport: a cached one (keyed by a digest, never by the secrets
/// themselves), or a new one. At most [`CLIENT_CACHE_SIZE`] are kept.
///
/// # Errors
/// [`HttpError::Client`] for a bad proxy or certificates.
pub fn client(transport: &Transport) -> Result<reqwest::Client, HttpError> {
    static CACHE: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<[u8; 32], reqwest::Client>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = transport_key(transport);
    if let Some(c) = cache.lock().get(&key) {
        return Ok(c.clone());
    }
    let c = build_client(transport)?;
    let mut cache = cache.lock();
    if cache.len() >= CLIENT_CACHE_SIZE {
        cache.clear();
    }
    cache.insert(key, c.clone());
    Ok(c)
}

fn build_client(transport: &Transport) -> Result<reqwest::Client, HttpError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10));
    if let Some(proxy) = transport.proxy.as_deref().filter(|p| !p.is_empty()) {
        let p = reqwest::Proxy::all(proxy).map_err(|_| HttpError::Client("unable to parse proxy URL".into()))?;
        b = b.proxy(p);
    } else {
        b = b.no_proxy();
    }
    if let Some(ca) = &transport.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(ca)
            .map_err(|_| HttpError::Client("failed to parse CA certificate".into()))?;
        b = b.tls_certs_merge(certs);
    }
    if let Some((cert, key)) = &transport.client_pem {
        let mut pem = cert.clone();
        pem.push(b'\n');
        pem.extend_from_slice(key);
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|_| HttpError::Client("failed to parse client certificate and key".into()))?;
        b = b.identity(id);
    }
    b.build().map_err(|e| HttpError::Client(e.without_url().to_string()))
}

/// Sends `req` with retries; `accept` decides about a 2xx answer (most providers accept any).
///
/// # Errors
/// [`HttpError`].
pub async fn send(client: &reqwest::Client, req: &Request, policy: RetryPolicy) -> Result<Response, HttpError> {
    let url = reqwest::Url::parse(&req.url).map_err(|e| HttpError::Address(e.to_string()))?;
    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| HttpError::Header(k.clone()))?;
        let value = HeaderValue::from_str(v).map_err(|_| HttpError::Header(k.clone()))?;
        headers.insert(name, value);
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut r = client.request(req.method.clone(), url.clone()).headers(headers.clone()).body(req.body.clone());
        if let Some((u, p)) = &req.basic_auth {
            r = r.basic_auth(u, Some(p));
        }
        let (retry_after, last) = match r.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                if status.is_success() {
                    return Ok(Response { status: status.as_u16(), body });
                }
                if !retryable_status(status) {
                    return Err(HttpError::Status { status: status.as_u16(), body: quote(&body) });
                }
                let wait = matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
                    .then_some(retry_after)
                    .flatten();
                (wait, format!("status code {}", status.as_u16()))
            }
            Err(e) => {
                if e.is_builder() || e.is_redirect() {
                    return Err(HttpError::Client(e.without_url().to_string()));
                }
                (None, e.without_url().to_string())
            }
        };
        if attempt > policy.retries {
            return Err(HttpError::GaveUp { attempts: attempt, last: Some(last) });
        }
        let backoff = policy.min_wait.saturating_mul(2u32.saturating_pow(attempt - 1)).min(policy.max_wait);
        tracing::debug!(attempt, reason = %last, "retrying notification request");
        tokio::time::sleep(retry_after.unwrap_or(backoff)).await;
    }
}

fn retryable_status(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || (s.is_server_error() && s != StatusCode::NOT_IMPLEMENTED)
}

fn quote(body: &[u8]) -> String {
    let end = body.len().min(MAX_ERROR_BODY);
    String::from_utf8_lossy(&body[..end]).into_owned()
}
