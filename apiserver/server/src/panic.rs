//! The last line of defence: a panic while answering one request becomes a 500 `Status`
//! (reason `InternalError`), an error log line and a count in `apiserver_request_panics_total`,
//! instead of silently ending the task that serves the connection (and every request
//! multiplexed on it).
//!
//! kube-apiserver's `WithPanicRecovery` filter does the same (with a plain-text body); it has
//! no panic metric, so the counter is Eddy's, named after its request metrics.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::http::{Method, Request};
use axum::response::Response;
use futures_util::FutureExt as _;

use crate::http::error_response;
use crate::status::ApiError;

/// Requests that panicked, in this process.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// How many requests panicked in this process so far (`apiserver_request_panics_total`).
#[must_use]
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Counts and logs a panic that escaped a connection's task (a response body that panicked
/// while being written, after the [`CatchPanic`] layer had returned its answer).
pub fn record_connection_panic() {
    PANICS.fetch_add(1, Ordering::Relaxed);
    tracing::error!("a connection's task panicked; the connection was closed");
}

/// The answer to a request that panicked (kube-apiserver's wording).
fn panicked(method: &Method, path: &str, payload: &(dyn std::any::Any + Send)) -> Response {
    PANICS.fetch_add(1, Ordering::Relaxed);
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    // Bounded: a panic message may quote input.
    let what: String = what.chars().take(256).collect();
    tracing::error!(%method, %path, panic = %what, "the API server panicked while answering a request");
    error_response(&ApiError::internal("This request caused apiserver to panic. Look in the logs for details."))
}

/// The [`tower::Layer`] that wraps a service in [`CatchPanic`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> tower::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// A service that answers 500 when `inner` panics, either when called or while its future runs.
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S> CatchPanic<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> tower::Service<Request<B>> for CatchPanic<S>
where
    S: tower::Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(future) => Box::pin(async move {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(answer) => answer,
                    Err(payload) => Ok(panicked(&method, &path, payload.as_ref())),
                }
            }),
            Err(payload) => {
                let answer = panicked(&method, &path, payload.as_ref());
                Box::pin(async move { Ok(answer) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    async fn status_of(answer: Response) -> serde_json::Value {
        let bytes = answer.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_panicking_future_becomes_a_500_status_and_is_counted() {
        let before = panics();
        let svc = CatchPanic::new(tower::service_fn(|req: Request<Body>| async move {
            if req.uri().path() == "/boom" {
                panic!("boom");
            }
            Ok::<_, Infallible>(Response::new(Body::from("fine")))
        }));
        let boom = svc.clone().oneshot(Request::get("/boom").body(Body::empty()).unwrap_or_default()).await;
        let Ok(boom) = boom;
        assert_eq!(boom.status().as_u16(), 500);
        let status = status_of(boom).await;
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "InternalError");
        assert_eq!(status["code"], 500);
        assert!(panics() > before, "the panic is counted");

        let Ok(fine) = svc.oneshot(Request::get("/fine").body(Body::empty()).unwrap_or_default()).await;
        assert_eq!(fine.status().as_u16(), 200, "the service still answers after a panic");
    }

    #[derive(Clone)]
    struct PanicsWhenCalled;

    impl tower::Service<Request<Body>> for PanicsWhenCalled {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            panic!("synchronous boom")
        }
    }

    #[tokio::test]
    async fn a_service_that_panics_when_called_becomes_a_500() {
        let svc = tower::Layer::layer(&CatchPanicLayer, PanicsWhenCalled);
        let Ok(answer) = svc.oneshot(Request::get("/").body(Body::empty()).unwrap_or_default()).await;
        assert_eq!(answer.status().as_u16(), 500);
        assert_eq!(status_of(answer).await["reason"], "InternalError");
    }
}
