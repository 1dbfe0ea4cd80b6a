//! The event endpoint (`internal/server/event_server.go`): Flux controllers running elsewhere
//! POST their events here (`--events-addr`). Every path and method is served by the one
//! handler, as upstream's `ServeMux` on `/`: a body over 3 MiB → 413, malformed JSON → 400, a
//! duplicate within the rate-limit interval → 429, otherwise 202 once the event is queued
//! (503 when the queue is full).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;

use crate::dispatch::{Dispatcher, Resolver, Submitted};

/// Largest body accepted (`maxRequestSizeBytes`).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The router of the event endpoint.
pub fn router<R: Resolver>(dispatcher: Dispatcher<R>) -> Router {
    Router::new().fallback(handle::<R>).with_state(dispatcher)
}

async fn handle<R: Resolver>(State(dispatcher): State<Dispatcher<R>>, body: Body) -> StatusCode {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        tracing::error!("reading the request body failed: request body exceeds the maximum size of {MAX_BODY} bytes");
        dispatcher.metrics().event("malformed");
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let event = match crate::event::decode(&bytes) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "decoding the request body failed");
            dispatcher.metrics().event("malformed");
            return StatusCode::BAD_REQUEST;
        }
    };
    match dispatcher.submit(event) {
        Submitted::Accepted => StatusCode::ACCEPTED,
        Submitted::Duplicate => StatusCode::TOO_MANY_REQUESTS,
        Submitted::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves `router` on `listener` until `shutdown` resolves.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
