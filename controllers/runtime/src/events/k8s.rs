//! The Kubernetes half of event recording: client-go's `tools/record` recorder and its
//! broadcaster's sink loop, as controller-runtime's `GetEventRecorderFor` uses them.
//!
//! [`KubeRecorder::event`] builds the `core/v1` Event at once (so its timestamps and name are
//! the moment of the call) and puts it on a bounded queue; it never waits. One background
//! task per recorder family (a recorder and the ones made with
//! [`KubeRecorder::for_component`] share it, as client-go's recorders share a broadcaster)
//! drains the queue in order through the [`EventCorrelator`] and writes each Event: a create,
//! or a strategic-merge patch when the correlator found an earlier identical Event (a patch
//! answered 404 becomes a create). An answer of the API server is final (client-go does not
//! retry a `StatusError`); a transport error or timeout is retried up to
//! [`WriterOptions::max_tries`] times, [`WriterOptions::retry_sleep`] apart, the first wait
//! randomised, as client-go's `recordToSink`. The task ends when the last recorder of its
//! family is dropped, after writing what was queued.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::correlator::{CorrelatorOptions, EventCorrelator};
use super::{EventType, ObjectRef, now, random};

/// How the background writer behaves; the defaults are client-go's.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    /// Events queued before new ones are dropped (client-go `maxQueuedEvents`: 1000).
    pub queue_capacity: usize,
    /// Attempts per Event before giving up (client-go `maxTriesPerEvent`: 12).
    pub max_tries: u32,
    /// Wait between attempts; the first wait is a random fraction of it (10 s).
    pub retry_sleep: Duration,
    /// Bound on each request to the API server (10 s).
    pub request_timeout: Duration,
    /// The correlator's tuning.
    pub correlator: CorrelatorOptions,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 1000,
            max_tries: 12,
            retry_sleep: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            correlator: CorrelatorOptions::default(),
        }
    }
}

/// Counters of what the writer did, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Events created.
    pub created: u64,
    /// Events written as a patch of an earlier Event.
    pub patched: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Events the spam filter dropped.
    pub filtered: u64,
    /// Events given up on: refused by the API server or out of attempts.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    created: AtomicU64,
    patched: AtomicU64,
    dropped: AtomicU64,
    filtered: AtomicU64,
    failed: AtomicU64,
}

enum Message {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
}

/// Records Kubernetes Events for one component, as client-go's `EventRecorder`.
#[derive(Clone)]
pub struct KubeRecorder {
    tx: mpsc::Sender<Message>,
    component: Arc<str>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for KubeRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeRecorder").field("component", &self.component).finish_non_exhaustive()
    }
}

impl KubeRecorder {
    /// A recorder writing to `cluster` with client-go's defaults.
    ///
    /// # Panics
    /// When called outside a Tokio runtime (the writer task is spawned here).
    #[must_use]
    pub fn new(cluster: Client, component: impl Into<String>) -> Self {
        Self::with_options(cluster, component, WriterOptions::default())
    }

    /// A recorder writing to `cluster` with the given writer options.
    ///
    /// # Panics
    /// When called outside a Tokio runtime (the writer task is spawned here).
    #[must_use]
    pub fn with_options(cluster: Client, component: impl Into<String>, options: WriterOptions) -> Self {
        Self::with_sink(KubeSink { client: cluster, timeout: options.request_timeout }, component, options)
    }

    fn with_sink<S: EventSink>(sink: S, component: impl Into<String>, options: WriterOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(run_writer(sink, rx, options, Arc::clone(&counters)));
        Self { tx, component: component.into().into(), counters }
    }

    /// A recorder for another component sharing this one's queue and writer (client-go's
    /// `broadcaster.NewRecorder` with another `EventSource`).
    #[must_use]
    pub fn for_component(&self, component: impl Into<String>) -> Self {
        Self { tx: self.tx.clone(), component: component.into().into(), counters: Arc::clone(&self.counters) }
    }

    /// The component (`source.component`, `reportingComponent`) of this recorder's Events.
    #[must_use]
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Queues an Event about `object`; never waits. A trace is recorded as `Normal`.
    /// `annotations` become the Event's annotations.
    pub fn event(
        &self,
        object: &ObjectRef,
        event_type: EventType,
        reason: &str,
        message: &str,
        annotations: BTreeMap<String, String>,
    ) {
        let event = make_event(object, &self.component, event_type, reason, message, annotations);
        tracing::debug!(
            object.kind = %object.kind, object.namespace = %object.namespace, object.name = %object.name,
            r#type = event_type.kube_type(), reason, message, "event"
        );
        if self.tx.try_send(Message::Event(Box::new(event))).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(reason, "unable to record event: too many queued events, dropped event");
        }
    }

    /// Waits until every Event queued before this call has been written or given up on;
    /// `false` when `timeout` passed first.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let flush = async { self.tx.send(Message::Flush(done)).await.is_ok() && wait.await.is_ok() };
        tokio::time::timeout(timeout, flush).await.unwrap_or(false)
    }

    /// What the writer has done so far (shared by every recorder of the family).
    #[must_use]
    pub fn stats(&self) -> EventStats {
        let c = &self.counters;
        EventStats {
            created: c.created.load(Ordering::Relaxed),
            patched: c.patched.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            filtered: c.filtered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

/// client-go's `GenerateEventName`: `<name>.<hex unix nanos>`, or a UUID when that is not a
/// valid DNS subdomain.
fn event_name(object_name: &str, unix_nanos: i128) -> String {
    let name = format!("{object_name}.{unix_nanos:x}");
    if is_dns_subdomain(&name) { name } else { random::uuid_v4() }
}

fn is_dns_subdomain(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && name.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// client-go `makeEvent` plus the source and reporting fields `generateEvent` sets.
fn make_event(
    object: &ObjectRef,
    component: &str,
    event_type: EventType,
    reason: &str,
    message: &str,
    annotations: BTreeMap<String, String>,
) -> Event {
    let t = now();
    let namespace = if object.namespace.is_empty() { "default".to_owned() } else { object.namespace.clone() };
    Event {
        metadata: ObjectMeta {
            name: Some(event_name(&object.name, t.as_nanosecond())),
            namespace: Some(namespace),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        involved_object: object.to_object_reference(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        first_timestamp: Some(Time(t)),
        last_timestamp: Some(Time(t)),
        count: Some(1),
        type_: Some(event_type.kube_type().to_owned()),
        source: Some(EventSource { component: Some(component.to_owned()), host: None }),
        // controller-runtime's recorder has no host, so the reporting instance stays empty.
        reporting_component: Some(component.to_owned()),
        reporting_instance: None,
        ..Event::default()
    }
}

/// Why a write failed, sorted by what client-go does next.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// 404: a patch falls back to a create.
    NotFound,
    /// Any other answer of the API server, or a request that could not be built: final.
    Rejected(String),
    /// Transport error or timeout: retried.
    Transport(String),
}

/// Where Events are written; the API server, or a fake in unit tests.
pub(crate) trait EventSink: Send + Sync + 'static {
    fn create(&self, event: &Event) -> impl Future<Output = Result<Event, SinkError>> + Send;
    fn patch(&self, event: &Event, patch: &Value) -> impl Future<Output = Result<Event, SinkError>> + Send;
}

struct KubeSink {
    client: Client,
    timeout: Duration,
}

impl KubeSink {
    fn api(&self, event: &Event) -> Api<Event> {
        Api::namespaced(self.client.clone(), event.metadata.namespace.as_deref().unwrap_or("default"))
    }
}

fn classify(result: Result<Result<Event, kube::Error>, tokio::time::error::Elapsed>) -> Result<Event, SinkError> {
    match result {
        Err(_) => Err(SinkError::Transport("request timed out".into())),
        Ok(Ok(event)) => Ok(event),
        Ok(Err(kube::Error::Api(status))) if status.is_not_found() => Err(SinkError::NotFound),
        Ok(Err(kube::Error::Api(status))) => Err(SinkError::Rejected(status.to_string())),
        Ok(Err(e @ (kube::Error::BuildRequest(_) | kube::Error::SerdeError(_) | kube::Error::HttpError(_)))) => {
            Err(SinkError::Rejected(e.to_string()))
        }
        Ok(Err(e)) => Err(SinkError::Transport(e.to_string())),
    }
}

impl EventSink for KubeSink {
    async fn create(&self, event: &Event) -> Result<Event, SinkError> {
        classify(tokio::time::timeout(self.timeout, self.api(event).create(&PostParams::default(), event)).await)
    }

    async fn patch(&self, event: &Event, patch: &Value) -> Result<Event, SinkError> {
        let name = event.metadata.name.as_deref().unwrap_or_default();
        let (api, params, patch) = (self.api(event), PatchParams::default(), Patch::Strategic(patch));
        classify(tokio::time::timeout(self.timeout, api.patch(name, &params, &patch)).await)
    }
}

async fn run_writer<S: EventSink>(
    sink: S,
    mut rx: mpsc::Receiver<Message>,
    options: WriterOptions,
    counters: Arc<Counters>,
) {
    let mut correlator = EventCorrelator::new(options.correlator.clone());
    while let Some(message) = rx.recv().await {
        match message {
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Event(event) => record_to_sink(&sink, &mut correlator, *event, &options, &counters).await,
        }
    }
}

/// client-go `recordToSink`.
async fn record_to_sink<S: EventSink>(
    sink: &S,
    correlator: &mut EventCorrelator,
    event: Event,
    options: &WriterOptions,
    counters: &Counters,
) {
    let Some(correlated) = correlator.correlate(event, now()) else {
        counters.filtered.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut tries = 0;
    loop {
        if record_event(sink, correlator, &correlated.event, correlated.patch.as_ref(), counters).await {
            return;
        }
        tries += 1;
        if tries >= options.max_tries {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(reason = ?correlated.event.reason, "unable to write event (retry limit exceeded!)");
            return;
        }
        let delay = if tries == 1 { options.retry_sleep.mul_f64(random::unit_f64()) } else { options.retry_sleep };
        tokio::time::sleep(delay).await;
    }
}

/// client-go `recordEvent`: `true` when done (written or refused for good).
async fn record_event<S: EventSink>(
    sink: &S,
    correlator: &mut EventCorrelator,
    event: &Event,
    patch: Option<&Value>,
    counters: &Counters,
) -> bool {
    let update = event.count.unwrap_or(0) > 1;
    let mut result = Err(SinkError::NotFound);
    if let (true, Some(patch)) = (update, patch) {
        result = sink.patch(event, patch).await;
    }
    let created = matches!(result, Err(SinkError::NotFound));
    if created {
        let mut fresh = event.clone();
        fresh.metadata.resource_version = None;
        result = sink.create(&fresh).await;
    }
    match result {
        Ok(written) => {
            correlator.update_state(&written);
            let counter = if created { &counters.created } else { &counters.patched };
            counter.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(SinkError::NotFound) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(reason = ?event.reason, "server rejected event (will not retry!): not found");
            true
        }
        Err(SinkError::Rejected(why)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(reason = ?event.reason, error = %why, "server rejected event (will not retry!)");
            true
        }
        Err(SinkError::Transport(why)) => {
            tracing::warn!(reason = ?event.reason, error = %why, "unable to write event (may retry after sleeping)");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A sink failing with transport errors a given number of times, recording calls.
    struct Flaky {
        failures_left: Mutex<u32>,
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl EventSink for Flaky {
        async fn create(&self, event: &Event) -> Result<Event, SinkError> {
            self.calls.lock().unwrap().push(format!("create {}", event.count.unwrap_or(0)));
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(SinkError::Transport("connection refused".into()));
            }
            let mut written = event.clone();
            written.metadata.resource_version = Some("1".into());
            Ok(written)
        }

        async fn patch(&self, event: &Event, patch: &Value) -> Result<Event, SinkError> {
            self.calls.lock().unwrap().push(format!("patch {patch}"));
            if event.metadata.name.as_deref() == Some("gone") {
                return Err(SinkError::NotFound);
            }
            Ok(event.clone())
        }
    }

    fn options() -> WriterOptions {
        WriterOptions { retry_sleep: Duration::from_millis(5), max_tries: 3, ..WriterOptions::default() }
    }

    fn object() -> ObjectRef {
        ObjectRef::new("source.toolkit.fluxcd.io/v1", "GitRepository", "ns", "app")
    }

    #[tokio::test]
    async fn transport_errors_are_retried_until_the_limit() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Flaky { failures_left: Mutex::new(2), calls: Arc::clone(&calls) };
        let rec = KubeRecorder::with_sink(sink, "source-controller", options());
        rec.event(&object(), EventType::Normal, "R", "m", BTreeMap::new());
        assert!(rec.flush(Duration::from_secs(5)).await);
        assert_eq!(calls.lock().unwrap().len(), 3, "two failures then success");
        assert_eq!(rec.stats(), EventStats { created: 1, ..EventStats::default() });

        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Flaky { failures_left: Mutex::new(10), calls: Arc::clone(&calls) };
        let rec = KubeRecorder::with_sink(sink, "source-controller", options());
        rec.event(&object(), EventType::Normal, "R", "m", BTreeMap::new());
        assert!(rec.flush(Duration::from_secs(5)).await);
        assert_eq!(calls.lock().unwrap().len(), 3, "max_tries attempts");
        assert_eq!(rec.stats().failed, 1);
    }

    #[tokio::test]
    async fn duplicates_are_patched_and_a_full_queue_drops() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Flaky { failures_left: Mutex::new(0), calls: Arc::clone(&calls) };
        let rec = KubeRecorder::with_sink(sink, "c", WriterOptions { queue_capacity: 2, ..options() });
        rec.event(&object(), EventType::Warning, "R", "m", BTreeMap::new());
        rec.event(&object(), EventType::Warning, "R", "m", BTreeMap::new());
        for _ in 0..50 {
            rec.event(&object(), EventType::Warning, "R", "m", BTreeMap::new());
        }
        assert!(rec.flush(Duration::from_secs(5)).await);
        let stats = rec.stats();
        assert!(stats.dropped >= 40, "{stats:?}");
        assert_eq!(stats.created, 1, "{stats:?}");
        assert!(stats.patched >= 1, "{stats:?}");
        let calls = calls.lock().unwrap();
        assert!(calls[1].starts_with(r#"patch {"count":2,"lastTimestamp":"#), "{calls:?}");
    }

    #[test]
    fn event_shape_and_names() {
        let mut annotations = BTreeMap::new();
        annotations.insert("source.toolkit.fluxcd.io/revision".to_owned(), "main@sha1:abc".to_owned());
        let obj = object().with_uid("u").with_resource_version("7");
        let e = make_event(&obj, "source-controller", EventType::Trace, "ArtifactUpToDate", "m", annotations);
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.source.as_ref().and_then(|s| s.component.as_deref()), Some("source-controller"));
        assert_eq!(e.reporting_component.as_deref(), Some("source-controller"));
        assert_eq!(e.reporting_instance, None);
        assert_eq!(e.count, Some(1));
        assert_eq!(e.first_timestamp, e.last_timestamp);
        assert_eq!(e.involved_object.resource_version.as_deref(), Some("7"));
        let name = e.metadata.name.unwrap();
        let (prefix, hex) = name.split_once('.').unwrap();
        assert_eq!(prefix, "app");
        assert!(i128::from_str_radix(hex, 16).is_ok(), "{name}");
        assert!(e.metadata.annotations.is_some());

        let cluster = ObjectRef::new("v1", "Node", "", "n1");
        let e = make_event(&cluster, "c", EventType::Normal, "R", "m", BTreeMap::new());
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(e.metadata.annotations, None);
        assert_eq!(event_name("Upper", 255).len(), 36, "an invalid name becomes a UUID");
        assert_eq!(event_name("a", 255), "a.ff");
    }
}
