//! A capturing HTTP server on 127.0.0.1 for the tests: records every request and answers
//! with scripted status codes (then 200).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use parking_lot::Mutex;

/// One captured request.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Captured>>,
    script: Mutex<VecDeque<(u16, String)>>,
    notify: tokio::sync::Notify,
}

/// The server.
#[derive(Clone)]
pub struct Capture {
    pub url: String,
    inner: Arc<Inner>,
}

impl Capture {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(handle).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner }
    }

    /// Answers the next requests with these statuses and bodies.
    pub fn script(&self, answers: &[(u16, &str)]) {
        self.inner.script.lock().extend(answers.iter().map(|(s, b)| (*s, (*b).to_owned())));
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.inner.requests.lock().clone()
    }

    /// Waits (bounded by the test runtime) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        loop {
            let notified = self.inner.notify.notified();
            if self.inner.requests.lock().len() >= n {
                return self.requests();
            }
            tokio::time::timeout(std::time::Duration::from_secs(20), notified).await.expect("requests arrive");
        }
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> (StatusCode, String) {
    let (parts, body): (_, Body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default().to_vec();
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let (status, answer) = inner.script.lock().pop_front().unwrap_or((200, "{}".to_owned()));
    inner.requests.lock().push(Captured { method: parts.method.to_string(), path, headers: parts.headers, body });
    inner.notify.notify_waiters();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), answer)
}
