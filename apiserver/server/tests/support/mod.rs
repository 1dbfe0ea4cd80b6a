//! A test client that calls the API router in process.

#![allow(dead_code)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use eddy_apiserver::{HttpOptions, Registry, router};
use eddy_storage::memory::MemoryEngine;
use eddy_storage::{Store, StoreOptions};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status code, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, code: u16) -> Self {
        assert_eq!(self.status.as_u16(), code, "unexpected answer: {}", self.body);
        self
    }

    pub fn rv(&self) -> String {
        self.body["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned()
    }
}

/// The API over a fresh in-memory store.
pub struct Api {
    pub router: axum::Router,
    pub store: Store<MemoryEngine>,
}

impl Api {
    pub fn new() -> Self {
        Self::with_options(HttpOptions::default())
    }

    pub fn with_options(options: HttpOptions) -> Self {
        let store = Store::open(MemoryEngine::new(), StoreOptions { sync: false, ..StoreOptions::default() })
            .unwrap_or_else(|e| panic!("opening the store: {e}"));
        Self { router: router(Registry::new(store.clone()), options), store }
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Request<Body> {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.map_or_else(Body::empty, Body::from)).unwrap_or_else(|e| panic!("request: {e}"))
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer { status, headers, body, raw }
    }

    pub async fn call(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if bytes.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            all.push(("content-type", "application/json"));
        }
        self.send(self.request(method, path, &all, bytes)).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PUT, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Answer {
        self.call(Method::PATCH, path, &[("content-type", content_type)], Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// Opens a watch and returns a reader of its events.
    pub async fn watch(&self, path: &str, headers: &[(&str, &str)]) -> Events {
        let resp = self
            .router
            .clone()
            .oneshot(self.request(Method::GET, path, headers, None))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), StatusCode::OK);
        Events { body: resp.into_body(), buf: Vec::new(), frames: 0 }
    }
}

/// The event stream of a watch.
pub struct Events {
    body: Body,
    buf: Vec<u8>,
    /// Data frames (chunks) received so far.
    pub frames: usize,
}

impl Events {
    /// The next event, or `None` when the stream ends or nothing arrives within two seconds.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return serde_json::from_slice(&line).ok();
            }
            let frame = tokio::time::timeout(Duration::from_secs(2), self.body.frame()).await.ok()??.ok()?;
            if let Ok(data) = frame.into_data() {
                self.frames += 1;
                self.buf.extend_from_slice(&data);
            }
        }
    }

    /// The next event's type and object name.
    pub async fn next_summary(&mut self) -> Option<(String, String)> {
        let ev = self.next().await?;
        let name = ev["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        Some((ev["type"].as_str().unwrap_or_default().to_owned(), name))
    }
}

pub const GIT: &str = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories";

pub fn git(name: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"url": "https://github.com/org/app", "interval": "5m"},
    })
}
