//! Store reads never run on the async worker threads: a LIST held up inside the store (as a
//! scan of 100,000 objects would be) leaves the runtime free to answer a point GET.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use eddy_apiserver::{HttpOptions, Registry, router};
use eddy_storage::memory::MemoryEngine;
use eddy_storage::{EngineError, KvEngine, Store, StoreOptions, WriteBatch};
use http_body_util::BodyExt;
use support::{Api, GIT, git};
use tower::ServiceExt;

/// A one-shot gate: the first snapshot taken after [`Gate::arm`] waits until the gate opens.
#[derive(Default)]
struct Gate {
    armed: AtomicBool,
    /// Whether a snapshot is waiting at the gate.
    entered: (Mutex<bool>, Condvar),
    /// Whether the gate is open, and whether the watchdog had to open it.
    open: (Mutex<(bool, bool)>, Condvar),
}

impl Gate {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    fn pass(&self) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        *self.entered.0.lock().unwrap() = true;
        self.entered.1.notify_all();
        let mut open = self.open.0.lock().unwrap();
        while !open.0 {
            open = self.open.1.wait(open).unwrap();
        }
    }

    fn wait_entered(&self) {
        let mut entered = self.entered.0.lock().unwrap();
        while !*entered {
            entered = self.entered.1.wait(entered).unwrap();
        }
    }

    fn release(&self, by_watchdog: bool) {
        let mut open = self.open.0.lock().unwrap();
        if !open.0 {
            *open = (true, by_watchdog);
        }
        self.open.1.notify_all();
    }

    fn opened_by_watchdog(&self) -> bool {
        self.open.0.lock().unwrap().1
    }
}

/// The in-memory engine behind a [`Gate`].
struct Gated {
    inner: MemoryEngine,
    gate: Arc<Gate>,
}

impl KvEngine for Gated {
    type Snapshot<'a> = <MemoryEngine as KvEngine>::Snapshot<'a>;

    fn snapshot(&self) -> Self::Snapshot<'_> {
        self.gate.pass();
        self.inner.snapshot()
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<(), EngineError> {
        self.inner.write(batch, sync)
    }

    fn checkpoint(&self, dir: &std::path::Path) -> Result<(), EngineError> {
        self.inner.checkpoint(dir)
    }
}

async fn answer(router: axum::Router, path: String) -> (StatusCode, serde_json::Value) {
    let api = Api::new();
    let resp = router.oneshot(api.request(Method::GET, &path, &[], None)).await.unwrap_or_else(|e| match e {});
    let status = resp.status();
    let raw = resp.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    (status, serde_json::from_slice(&raw).unwrap_or_default())
}

/// One worker thread: were the LIST's scan on it, the GET could not be served until the scan
/// ended, and only the watchdog would end it.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_list_held_up_in_the_store_does_not_hold_up_a_get() {
    let gate = Arc::new(Gate::default());
    let engine = Gated { inner: MemoryEngine::new(), gate: Arc::clone(&gate) };
    let store = Store::open(engine, StoreOptions { sync: false, ..StoreOptions::default() }).expect("store");
    let router = router(Registry::new(store), HttpOptions::default());
    let api = Api::new();
    let body = serde_json::to_vec(&git("app")).expect("body");
    let created = router
        .clone()
        .oneshot(api.request(Method::POST, GIT, &[("content-type", "application/json")], Some(body)))
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(created.status(), StatusCode::CREATED);

    gate.arm();
    let list = tokio::spawn(answer(router.clone(), GIT.to_owned()));
    // The LIST is now inside the store (on whatever thread reads it).
    let waiting = Arc::clone(&gate);
    tokio::task::spawn_blocking(move || waiting.wait_entered()).await.expect("waited");
    let watchdog = Arc::clone(&gate);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        watchdog.release(true);
    });
    let (status, obj) = tokio::spawn(answer(router.clone(), format!("{GIT}/app"))).await.expect("get task");
    assert_eq!(status, StatusCode::OK, "{obj}");
    assert_eq!(obj["metadata"]["name"], "app");
    assert!(!gate.opened_by_watchdog(), "the GET was answered only once the LIST's scan was let go");

    gate.release(false);
    let (status, list) = list.await.expect("list task");
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
}
