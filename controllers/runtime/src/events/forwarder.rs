//! The `--events-addr` forwarder: Flux events POSTed as JSON to notification-controller (or
//! any receiver), off the reconcile path.
//!
//! Flux posts from the reconcile itself with a go-retryablehttp client (5 s timeout per
//! attempt, `ErrorPropagatedRetryPolicy` except that 429 is never retried: notification-
//! controller answers 429 to a duplicate). Eddy applies the same policy in background tasks:
//! [`Forwarder::send`] queues the event (a bounded queue; full → dropped and counted) and a
//! dispatcher posts up to [`ForwarderOptions::concurrency`] events at a time. Per event:
//!
//! - transport errors are retried, except invalid certificates and too many redirects;
//! - 5xx answers are retried, except 501;
//! - any other answer (2xx, 3xx, 4xx including 429, 501) ends the attempts;
//! - at most 1 + [`ForwarderOptions::retry_max`] attempts, waiting `retry_wait_min × 2^n`
//!   (capped at `retry_wait_max`) between them, or the `Retry-After` of a 503/429 answer
//!   (capped at ten minutes).
//!
//! The address may carry credentials: they never appear in logs, errors or `Debug`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{StatusCode, Url};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::FluxEvent;

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Tuning of the forwarder; the defaults are Flux's (go-retryablehttp's, 5 s timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderOptions {
    /// Bound on each attempt, connection included (5 s).
    pub timeout: Duration,
    /// Retries after the first attempt (4).
    pub retry_max: u32,
    /// First wait between attempts (1 s).
    pub retry_wait_min: Duration,
    /// Longest wait between attempts (30 s).
    pub retry_wait_max: Duration,
    /// Events queued before new ones are dropped (1000).
    pub queue_capacity: usize,
    /// Events posted at the same time (4).
    pub concurrency: usize,
}

impl Default for ForwarderOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retry_max: 4,
            retry_wait_min: Duration::from_secs(1),
            retry_wait_max: Duration::from_secs(30),
            queue_capacity: 1000,
            concurrency: 4,
        }
    }
}

/// Why a forwarder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    /// The events address is not an absolute http(s) URL.
    #[error("invalid events address: {reason}")]
    InvalidAddress {
        /// What is wrong with it (never the address itself, which may carry credentials).
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the events HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Counters of what the forwarder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderStats {
    /// Events the receiver accepted (a 2xx or 3xx answer).
    pub delivered: u64,
    /// Events the receiver refused for good (4xx, including 429 duplicates, and 501).
    pub refused: u64,
    /// Events given up on after transport errors or 5xx answers.
    pub failed: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

enum Message {
    Event(Box<FluxEvent>),
    Flush(oneshot::Sender<()>),
}

/// Posts Flux events to an HTTP receiver in the background.
#[derive(Clone)]
pub struct Forwarder {
    tx: mpsc::Sender<Message>,
    counters: Arc<Counters>,
    redacted: Arc<str>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").field("address", &self.redacted).finish_non_exhaustive()
    }
}

/// The URL with any password replaced by `xxxxx`, as go-retryablehttp's `redactURL`.
fn redact(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("xxxxx"));
    }
    url.to_string()
}

impl Forwarder {
    /// A forwarder to `address` with Flux's defaults.
    ///
    /// # Errors
    /// When the address is not an absolute http(s) URL or the HTTP client cannot be built.
    ///
    /// # Panics
    /// When called outside a Tokio runtime (the dispatcher task is spawned here).
    pub fn new(address: &str) -> Result<Self, ForwarderError> {
        Self::with_options(address, ForwarderOptions::default())
    }

    /// A forwarder to `address` with the given options.
    ///
    /// # Errors
    /// When the address is not an absolute http(s) URL or the HTTP client cannot be built.
    ///
    /// # Panics
    /// When called outside a Tokio runtime (the dispatcher task is spawned here).
    pub fn with_options(address: &str, options: ForwarderOptions) -> Result<Self, ForwarderError> {
        let url = Url::parse(address).map_err(|e| ForwarderError::InvalidAddress { reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ForwarderError::InvalidAddress { reason: format!("unsupported scheme {:?}", url.scheme()) });
        }
        // Eddy uses ring everywhere; an already installed provider is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(options.timeout).build().map_err(ForwarderError::Client)?;
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let redacted: Arc<str> = redact(&url).into();
        let lane = Lane { client, url, options, counters: Arc::clone(&counters), redacted: Arc::clone(&redacted) };
        tokio::spawn(lane.dispatch(rx));
        Ok(Self { tx, counters, redacted })
    }

    /// The receiver's address, any password redacted.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.redacted
    }

    /// Queues `event` for delivery; never waits.
    pub fn send(&self, event: FluxEvent) {
        if self.tx.try_send(Message::Event(Box::new(event))).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(address = %self.redacted, "unable to forward event: too many queued events, dropped event");
        }
    }

    /// Waits until every event queued before this call has been delivered or given up on;
    /// `false` when `timeout` passed first.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let flush = async { self.tx.send(Message::Flush(done)).await.is_ok() && wait.await.is_ok() };
        tokio::time::timeout(timeout, flush).await.unwrap_or(false)
    }

    /// What the forwarder has done so far.
    #[must_use]
    pub fn stats(&self) -> ForwarderStats {
        let c = &self.counters;
        ForwarderStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The background side: the client and where it posts.
#[derive(Clone)]
struct Lane {
    client: reqwest::Client,
    url: Url,
    options: ForwarderOptions,
    counters: Arc<Counters>,
    redacted: Arc<str>,
}

/// What one attempt says about the next.
enum Attempt {
    Done(StatusCode),
    Retry { why: String, retry_after: Option<Duration> },
    Fail(String),
}

impl Lane {
    async fn dispatch(self, mut rx: mpsc::Receiver<Message>) {
        let lanes = u32::try_from(self.options.concurrency.max(1)).unwrap_or(u32::MAX);
        let permits = Arc::new(Semaphore::new(lanes as usize));
        while let Some(message) = rx.recv().await {
            match message {
                Message::Event(event) => {
                    let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
                    let lane = self.clone();
                    tokio::spawn(async move {
                        lane.deliver(&event).await;
                        drop(permit);
                    });
                }
                Message::Flush(done) => {
                    // Every permit free means nothing is in flight.
                    if let Ok(all) = permits.acquire_many(lanes).await {
                        drop(all);
                    }
                    let _ = done.send(());
                }
            }
        }
    }

    async fn deliver(&self, event: &FluxEvent) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "failed to marshal event into json");
                return;
            }
        };
        let mut attempt = 0;
        loop {
            let (why, retry_after) = match self.attempt(body.clone()).await {
                Attempt::Done(status) if status.is_success() || status.is_redirection() => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Attempt::Done(status) => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(address = %self.redacted, %status, reason = %event.reason, "event receiver refused the event");
                    return;
                }
                Attempt::Fail(why) => {
                    self.give_up(attempt + 1, &why);
                    return;
                }
                Attempt::Retry { why, retry_after } => (why, retry_after),
            };
            if attempt >= self.options.retry_max {
                self.give_up(attempt + 1, &why);
                return;
            }
            let wait = retry_after.unwrap_or_else(|| backoff(&self.options, attempt)).min(MAX_RETRY_AFTER);
            tracing::debug!(address = %self.redacted, ?wait, remaining = self.options.retry_max - attempt, "retrying event");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn give_up(&self, attempts: u32, why: &str) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            error = %format!("POST {} giving up after {attempts} attempt(s): {why}", self.redacted),
            "unable to record event"
        );
    }

    async fn attempt(&self, body: Vec<u8>) -> Attempt {
        let request = self.client.post(self.url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json");
        match request.body(body).send().await {
            Err(e) => {
                // reqwest's error text may hold the URL: strip it.
                let retry = retryable(&e);
                let why = e.without_url().to_string();
                if retry { Attempt::Retry { why, retry_after: None } } else { Attempt::Fail(why) }
            }
            Ok(response) => {
                let status = response.status();
                if status == StatusCode::TOO_MANY_REQUESTS {
                    // notification-controller's answer to a duplicate: not retried.
                    return Attempt::Done(status);
                }
                if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
                    let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE)
                        .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
                        .flatten()
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    return Attempt::Retry { why: format!("unexpected HTTP status {status}"), retry_after };
                }
                Attempt::Done(status)
            }
        }
    }
}

/// go-retryablehttp `DefaultBackoff` without a `Retry-After`: `min × 2^attempt`, capped.
fn backoff(options: &ForwarderOptions, attempt: u32) -> Duration {
    let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
    options.retry_wait_min.checked_mul(factor).map_or(options.retry_wait_max, |d| d.min(options.retry_wait_max))
}

/// A `Retry-After` value: delay seconds or an HTTP date (a past date means now).
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<i64>() {
        return u64::try_from(seconds).ok().map(Duration::from_secs);
    }
    let date = k8s_openapi::jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value.trim()).ok()?;
    let until = date.as_nanosecond() - super::now().as_nanosecond();
    Some(Duration::from_nanos(u64::try_from(until.max(0)).unwrap_or(u64::MAX)))
}

/// go-retryablehttp's `baseRetryPolicy` for transport errors: everything but redirects,
/// malformed requests and untrusted certificates.
fn retryable(e: &reqwest::Error) -> bool {
    if e.is_builder() || e.is_redirect() {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return false;
        }
        source = err.source();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = ForwarderOptions::default();
        let waits: Vec<u64> = (0..7).map(|a| backoff(&o, a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(&o, 64), o.retry_wait_max);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        let url = Url::parse("https://user:s3cret@receiver.example/hook").unwrap();
        assert_eq!(redact(&url), "https://user:xxxxx@receiver.example/hook");
    }

    #[tokio::test]
    async fn bad_addresses_are_refused_without_echoing_them() {
        let err = Forwarder::new("not a url with s3cret").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = Forwarder::new("ftp://user:s3cret@host/").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let ok = Forwarder::new("http://user:s3cret@127.0.0.1:9/").unwrap();
        assert!(!format!("{ok:?}").contains("s3cret"));
    }
}
