//! Overload protection, as kube-apiserver's generic filters provide it:
//!
//! - [`with_max_in_flight`]: at most `--max-requests-inflight` read-only and
//!   `--max-mutating-requests-inflight` mutating requests at a time; one more is answered at
//!   once with 429 `TooManyRequests` and `Retry-After: 1` (kube's `WithMaxInFlightLimit`).
//!   Long-running requests (watches) count against neither limit; their number has its own cap
//!   ([`crate::HttpOptions::max_watches`]).
//! - [`with_request_timeout`]: a request that is not long-running gets `--request-timeout` to
//!   produce its answer, or 504 `Timeout` (kube's `WithTimeoutForNonLongRunningRequests`). The
//!   abandoned handler is cancelled; every store operation it awaited is atomic, so it leaves
//!   either all or nothing of that operation behind — as kube, the client cannot tell which.
//!
//! A request holds its in-flight slot until its answer's body is written, so a large streamed
//! LIST counts for as long as it is being sent. An admitted request's body is read whole (up to
//! the API's body limit) before it is handled, and a refused one's is drained: an answer given
//! before the client finished sending (a 400 for a bad query string, a 404, a 429) would
//! otherwise leave the rest of the body in the connection, where the HTTP/1.1 server read it as
//! the next request's head and closed the connection under a client still writing (found by
//! the schemathesis campaign). Go's server drains a handler's unread body the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection::hold_until_sent;
use crate::http::error_response;
use crate::status::ApiError;

/// Limits that keep the server answering under load and against slow or hostile clients.
/// The defaults are kube-apiserver's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Read-only requests (GET, LIST; not watches) served at a time; 0 means no limit.
    pub max_requests_inflight: usize,
    /// Mutating requests (POST, PUT, PATCH, DELETE) served at a time; 0 means no limit.
    pub max_mutating_requests_inflight: usize,
    /// Time a request that is not long-running gets to produce its answer.
    pub request_timeout: Duration,
    /// Time a client gets to finish its TLS handshake and send its first request's headers
    /// (a kept-alive HTTP/1.1 connection then waits [`Limits::idle_timeout`] for the next).
    pub header_read_timeout: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 streams (concurrent requests) a single connection may open.
    pub http2_max_streams_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            request_timeout: Duration::from_secs(60),
            // Go's `http.Server` fields as kube-apiserver sets them.
            header_read_timeout: Duration::from_secs(32),
            idle_timeout: Duration::from_secs(90),
            http2_max_streams_per_connection: 100,
        }
    }
}

/// How the limits see a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A watch: exempt from the in-flight limits and the request timeout.
    LongRunning,
    /// GET and HEAD.
    ReadOnly,
    /// Every other method.
    Mutating,
}

impl RequestKind {
    /// Classifies a request by method and query, as kube's `LongRunningRequestCheck` and the
    /// non-mutating verbs (get, list, watch) do.
    #[must_use]
    pub fn of(method: &Method, query: Option<&str>) -> Self {
        let read_only = method == Method::GET || method == Method::HEAD;
        let watch = || crate::query::Query::parse(query).is_ok_and(|q| q.flag("watch"));
        match (read_only, read_only && watch()) {
            (_, true) => Self::LongRunning,
            (true, false) => Self::ReadOnly,
            (false, _) => Self::Mutating,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::LongRunning => "longRunning",
            Self::ReadOnly => "readOnly",
            Self::Mutating => "mutating",
        }
    }
}

/// Counters of the overload protection, process-wide (as Prometheus' default registry is).
struct Counters {
    in_flight: [AtomicI64; 2],
    rejected: [AtomicU64; 2],
    timeouts: AtomicU64,
}

static COUNTERS: Counters = Counters {
    in_flight: [AtomicI64::new(0), AtomicI64::new(0)],
    rejected: [AtomicU64::new(0), AtomicU64::new(0)],
    timeouts: AtomicU64::new(0),
};

fn slot(kind: RequestKind) -> usize {
    usize::from(kind == RequestKind::Mutating)
}

/// Requests answered 429 by the in-flight limits so far: (read-only, mutating).
#[must_use]
pub fn rejected() -> (u64, u64) {
    (COUNTERS.rejected[0].load(Ordering::Relaxed), COUNTERS.rejected[1].load(Ordering::Relaxed))
}

/// Requests answered 504 by the request timeout so far.
#[must_use]
pub fn timeouts() -> u64 {
    COUNTERS.timeouts.load(Ordering::Relaxed)
}

/// The Prometheus text of the overload counters (and of the panic counter).
#[must_use]
pub fn render_metrics() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    out.push_str("# HELP apiserver_current_inflight_requests Requests being served, per request kind.\n");
    out.push_str("# TYPE apiserver_current_inflight_requests gauge\n");
    for kind in [RequestKind::ReadOnly, RequestKind::Mutating] {
        let n = COUNTERS.in_flight[slot(kind)].load(Ordering::Relaxed).max(0);
        let _ = writeln!(out, "apiserver_current_inflight_requests{{request_kind=\"{}\"}} {n}", kind.label());
    }
    out.push_str(
        "# HELP apiserver_request_terminations_total Requests the server refused or cut short in self-defense.\n",
    );
    out.push_str("# TYPE apiserver_request_terminations_total counter\n");
    let (read_only, mutating) = rejected();
    let _ = writeln!(out, "apiserver_request_terminations_total{{request_kind=\"readOnly\",code=\"429\"}} {read_only}");
    let _ = writeln!(out, "apiserver_request_terminations_total{{request_kind=\"mutating\",code=\"429\"}} {mutating}");
    let _ = writeln!(out, "apiserver_request_terminations_total{{code=\"504\"}} {}", timeouts());
    out.push_str("# HELP apiserver_request_panics_total Requests whose handling panicked (answered 500).\n");
    out.push_str("# TYPE apiserver_request_panics_total counter\n");
    let _ = writeln!(out, "apiserver_request_panics_total {}", crate::panic::panics());
    out
}

/// The 429 answer of a full in-flight limit (kube's words).
#[must_use]
pub fn too_many_requests() -> ApiError {
    ApiError {
        code: 429,
        reason: "TooManyRequests",
        message: "Too many requests, please try again later.".into(),
        target: None,
        causes: Vec::new(),
        retry_after: Some(1),
    }
}

/// The 504 answer of a request that ran out of time (kube's words).
#[must_use]
pub fn request_timed_out() -> ApiError {
    ApiError {
        code: 504,
        reason: "Timeout",
        message: "Timeout: request did not complete within the allotted timeout".into(),
        target: None,
        causes: Vec::new(),
        retry_after: None,
    }
}

/// One in-flight slot: the semaphore permit (when limited) and the gauge.
struct InFlight {
    kind: RequestKind,
    _permit: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    fn new(kind: RequestKind, permit: Option<OwnedSemaphorePermit>) -> Self {
        COUNTERS.in_flight[slot(kind)].fetch_add(1, Ordering::Relaxed);
        Self { kind, _permit: permit }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        COUNTERS.in_flight[slot(self.kind)].fetch_sub(1, Ordering::Relaxed);
    }
}

/// The semaphores of the two in-flight limits.
struct Gates {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl Gates {
    fn admit(&self, kind: RequestKind) -> Result<InFlight, ApiError> {
        let gate = match kind {
            RequestKind::ReadOnly => &self.read_only,
            RequestKind::Mutating => &self.mutating,
            RequestKind::LongRunning => &None,
        };
        let permit = match gate {
            Some(semaphore) => Some(Arc::clone(semaphore).try_acquire_owned().map_err(|_| {
                COUNTERS.rejected[slot(kind)].fetch_add(1, Ordering::Relaxed);
                too_many_requests()
            })?),
            None => None,
        };
        Ok(InFlight::new(kind, permit))
    }
}

/// Whether the authenticated user of `req` is in `system:masters`.
fn is_privileged(req: &Request) -> bool {
    req.extensions().get::<crate::auth::UserInfo>().is_some_and(|u| u.groups.iter().any(|g| g == "system:masters"))
}

/// The request with its whole body read (up to [`crate::http::MAX_BODY_BYTES`]), so that no
/// answer leaves unread body bytes in the connection; 413 when the body is larger.
async fn buffered(req: Request) -> Result<Request, axum::response::Response> {
    use axum::body::HttpBody as _;
    if req.body().is_end_stream() {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, crate::http::MAX_BODY_BYTES).await {
        Ok(bytes) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Err(_) => Err(error_response(&ApiError::too_large(format!(
            "the request body is larger than {} bytes",
            crate::http::MAX_BODY_BYTES
        )))),
    }
}

/// Wraps `app` in the two in-flight limits of `limits` (watches exempt; so is a
/// `system:masters` user when the limit is full, as in kube-apiserver).
pub fn with_max_in_flight(app: axum::Router, limits: &Limits) -> axum::Router {
    let semaphore = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS))));
    let gates = Arc::new(Gates {
        read_only: semaphore(limits.max_requests_inflight),
        mutating: semaphore(limits.max_mutating_requests_inflight),
    });
    app.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let gates = Arc::clone(&gates);
        async move {
            let kind = RequestKind::of(req.method(), req.uri().query());
            if kind == RequestKind::LongRunning {
                return next.run(req).await;
            }
            match gates.admit(kind) {
                Ok(in_flight) => match buffered(req).await {
                    Ok(req) => hold_until_sent(next.run(req).await, in_flight),
                    Err(answer) => answer,
                },
                // As kube: a system:masters user (a cluster's super-admin, in aggregated mode)
                // is always answered.
                Err(_) if is_privileged(&req) => match buffered(req).await {
                    Ok(req) => next.run(req).await,
                    Err(answer) => answer,
                },
                Err(e) => {
                    tracing::debug!(method = %req.method(), path = %req.uri().path(), "too many requests in flight");
                    crate::auth::drain(req).await;
                    error_response(&e)
                }
            }
        }
    }))
}

/// The `timeout` query parameter (a Go duration), as kube's `WithRequestDeadline` reads it.
fn requested_timeout(query: Option<&str>) -> Result<Option<Duration>, ApiError> {
    // A malformed query string is the router's to report.
    let Ok(query) = crate::query::Query::parse(query) else { return Ok(None) };
    match query.get("timeout") {
        None => Ok(None),
        Some(t) => crate::duration::parse_go_duration(t)
            .map(Some)
            .map_err(|_| ApiError::bad_request("invalid timeout specified in the request URL")),
    }
}

/// Wraps `app` so that a request that is not long-running gets `timeout` to produce its
/// answer (the headers; a streamed body is not cut), else 504. A client may shorten it with
/// the `timeout` query parameter, as kube-apiserver allows.
pub fn with_request_timeout(app: axum::Router, timeout: Duration) -> axum::Router {
    app.layer(axum::middleware::from_fn(move |req: Request, next: Next| async move {
        if RequestKind::of(req.method(), req.uri().query()) == RequestKind::LongRunning {
            return next.run(req).await;
        }
        let timeout = match requested_timeout(req.uri().query()) {
            // A client may ask for less time, never for more (0: no wish of its own).
            Ok(Some(asked)) if !asked.is_zero() && asked < timeout => asked,
            Ok(_) => timeout,
            Err(e) => return error_response(&e),
        };
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(response) => response,
            Err(_) => {
                COUNTERS.timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%method, %path, ?timeout, "request timed out");
                error_response(&request_timed_out())
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_as_kube_does() {
        let kind = |m: Method, q: Option<&str>| RequestKind::of(&m, q);
        assert_eq!(kind(Method::GET, None), RequestKind::ReadOnly);
        assert_eq!(kind(Method::HEAD, Some("limit=5")), RequestKind::ReadOnly);
        assert_eq!(kind(Method::GET, Some("watch=true")), RequestKind::LongRunning);
        assert_eq!(kind(Method::GET, Some("labelSelector=a&watch=1")), RequestKind::LongRunning);
        assert_eq!(kind(Method::GET, Some("watch=false")), RequestKind::ReadOnly);
        assert_eq!(kind(Method::POST, Some("watch=true")), RequestKind::Mutating);
        assert_eq!(kind(Method::DELETE, None), RequestKind::Mutating);
        assert_eq!(kind(Method::PATCH, None), RequestKind::Mutating);
    }

    #[test]
    fn a_full_gate_rejects_with_429_and_frees_its_slot_when_done() {
        let gates = Gates { read_only: Some(Arc::new(Semaphore::new(1))), mutating: None };
        let held = gates.admit(RequestKind::ReadOnly);
        assert!(held.is_ok());
        let rejected = gates.admit(RequestKind::ReadOnly).err();
        assert_eq!(
            rejected.as_ref().map(|e| (e.code, e.reason, e.retry_after)),
            Some((429, "TooManyRequests", Some(1)))
        );
        assert!(gates.admit(RequestKind::Mutating).is_ok(), "no mutating limit");
        drop(held);
        assert!(gates.admit(RequestKind::ReadOnly).is_ok());
    }

    /// A router whose requests with `hold` in the query wait until `release` is notified,
    /// telling `started` when they do.
    fn holding_router(
        started: tokio::sync::mpsc::UnboundedSender<()>,
        release: Arc<tokio::sync::Notify>,
    ) -> axum::Router {
        axum::Router::new().fallback(move |req: Request| {
            let (started, release) = (started.clone(), Arc::clone(&release));
            async move {
                if req.uri().query().is_some_and(|q| q.contains("hold")) {
                    let _ = started.send(());
                    release.notified().await;
                }
                "ok"
            }
        })
    }

    async fn code(app: &axum::Router, uri: &str) -> u16 {
        let req = Request::get(uri).body(axum::body::Body::empty()).unwrap_or_default();
        let Ok(answer) = tower::ServiceExt::oneshot(app.clone(), req).await;
        answer.status().as_u16()
    }

    #[tokio::test]
    async fn watches_pass_a_full_read_limit_and_slots_return() {
        let (started, mut held) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Notify::new());
        let limits = Limits { max_requests_inflight: 1, ..Limits::default() };
        let app = with_max_in_flight(holding_router(started, Arc::clone(&release)), &limits);
        let holder = tokio::spawn({
            let app = app.clone();
            async move { code(&app, "/?hold").await }
        });
        assert_eq!(held.recv().await, Some(()));
        assert_eq!(code(&app, "/").await, 429);
        assert_eq!(code(&app, "/?watch=true").await, 200, "watches are exempt");
        let mut admin = Request::get("/").body(axum::body::Body::empty()).unwrap_or_default();
        admin.extensions_mut().insert(crate::auth::UserInfo {
            name: "admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            extra: std::collections::BTreeMap::new(),
        });
        let Ok(answer) = tower::ServiceExt::oneshot(app.clone(), admin).await;
        assert_eq!(answer.status().as_u16(), 200, "system:masters is always answered");
        release.notify_one();
        assert_eq!(holder.await.ok(), Some(200));
        assert_eq!(code(&app, "/").await, 200, "the slot came back");
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_504_and_quick_ones_pass() {
        let (started, _held) = tokio::sync::mpsc::unbounded_channel();
        let app = with_request_timeout(
            holding_router(started, Arc::new(tokio::sync::Notify::new())),
            Duration::from_millis(50),
        );
        let before = timeouts();
        assert_eq!(code(&app, "/?hold").await, 504);
        assert!(timeouts() > before);
        assert_eq!(code(&app, "/").await, 200);
        assert_eq!(code(&app, "/?timeout=1ms&hold").await, 504, "a client may ask for less time");
        assert_eq!(code(&app, "/?timeout=0&hold").await, 504, "0 is the server's timeout");
        assert_eq!(code(&app, "/?timeout=soon").await, 400);
        assert_eq!(code(&app, "/?timeout=1h").await, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn watches_are_not_timed_out() {
        let (started, mut held) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Notify::new());
        let app = with_request_timeout(holding_router(started, Arc::clone(&release)), Duration::from_secs(1));
        let watch = tokio::spawn({
            let app = app.clone();
            async move { code(&app, "/?watch=true&hold").await }
        });
        assert_eq!(held.recv().await, Some(()));
        // Paused time jumps ahead: a timed request would have been answered 504 by now.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!watch.is_finished(), "the watch is still being served");
        release.notify_one();
        assert_eq!(watch.await.ok(), Some(200));
    }

    #[test]
    fn metrics_text_names_kube_metrics() {
        let text = render_metrics();
        assert!(text.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"}"));
        assert!(text.contains("apiserver_request_panics_total "));
    }
}
