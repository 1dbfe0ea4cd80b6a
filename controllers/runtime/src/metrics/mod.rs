//! Prometheus metrics with exactly the names, labels, help texts and buckets of Flux's
//! controllers, rendered in the text exposition format (0.0.4) for `/metrics`.
//!
//! Series and where upstream defines them:
//!
//! | family | labels | upstream |
//! |---|---|---|
//! | `gotk_reconcile_duration_seconds` (histogram, 10 buckets 10 ms..1800 s) | kind, name, namespace | fluxcd/pkg `runtime/metrics` |
//! | `gotk_reconcile_condition` (gauge, one series per status True/False/Unknown) | kind, name, namespace, type, status | same, deprecated |
//! | `gotk_suspend_status` (gauge) | kind, name, namespace | same, deprecated |
//! | `controller_runtime_reconcile_total` | controller, result | controller-runtime |
//! | `controller_runtime_reconcile_errors_total`, `_terminal_reconcile_errors_total`, `_reconcile_panics_total`, `_reconcile_timeouts_total` | controller | controller-runtime |
//! | `controller_runtime_reconcile_time_seconds` (histogram) | controller | controller-runtime |
//! | `controller_runtime_max_concurrent_reconciles`, `controller_runtime_active_workers` | controller | controller-runtime |
//! | `workqueue_depth` | controller, name, priority | controller-runtime (priority queue, the default since v0.23) |
//! | `workqueue_adds_total`, `_retries_total`, `_queue_duration_seconds`, `_work_duration_seconds`, `_unfinished_work_seconds`, `_longest_running_processor_seconds` | controller, name | controller-runtime |
//! | `leader_election_master_status` | name | controller-runtime |
//!
//! Flux's controllers stopped recording `gotk_reconcile_condition` and `gotk_suspend_status`
//! (fluxcd/flux2#5083, in favour of kube-state-metrics' `gotk_resource_info`): the families
//! are registered but stay empty, so a current Flux controller's `/metrics` does not show
//! them. [`Metrics::record_condition`] and [`Metrics::record_suspend`] exist for callers that
//! want them anyway; a family without series is not rendered, as Go's registry omits it.
//!
//! Cost: per-object series live in 64 shards (see `objects`); controller and queue handles
//! are atomics. Nothing on the reconcile path takes a registry-wide lock. Go's process and
//! runtime collectors (`process_*`, `go_*`) are not reproduced.

mod controller;
mod histogram;
mod objects;
mod text;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

pub use self::controller::{ActiveWorker, ControllerMetrics, QueueMetrics, ReconcileOutcome};
use self::controller::{ControllerSeries, QueueSeries};
pub use self::histogram::{FLUX_DURATION_BUCKETS, RECONCILE_TIME_BUCKETS, WORKQUEUE_BUCKETS};
use self::objects::{ObjectKey, Objects};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug)]
struct Registry {
    objects: Objects,
    controllers: RwLock<BTreeMap<String, Arc<ControllerSeries>>>,
    queues: RwLock<BTreeMap<String, Arc<QueueSeries>>>,
    leaders: Mutex<BTreeMap<String, f64>>,
}

/// The process's metrics registry; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Metrics(Arc<Registry>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn key(kind: &str, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey { kind: kind.to_owned(), name: name.to_owned(), namespace: namespace.to_owned() }
}

impl Metrics {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(Registry {
            objects: Objects::new(),
            controllers: RwLock::new(BTreeMap::new()),
            queues: RwLock::new(BTreeMap::new()),
            leaders: Mutex::new(BTreeMap::new()),
        }))
    }

    /// The handle of controller `name`, created with every series at zero (controller-
    /// runtime's `initMetrics`) and `max_concurrent` workers; a second call returns the same
    /// series with `max_concurrent` updated.
    #[must_use]
    pub fn controller(&self, name: &str, max_concurrent: usize) -> ControllerMetrics {
        let existing = self.0.controllers.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned();
        let series = existing.unwrap_or_else(|| {
            let mut map = self.0.controllers.write().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                map.entry(name.to_owned()).or_insert_with(|| Arc::new(ControllerSeries::new(name, max_concurrent))),
            )
        });
        let handle = ControllerMetrics(series);
        handle.set_max_concurrent(max_concurrent);
        handle
    }

    /// The handle of work queue `name` (the same on every call).
    #[must_use]
    pub fn queue(&self, name: &str) -> QueueMetrics {
        let existing = self.0.queues.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned();
        QueueMetrics(existing.unwrap_or_else(|| {
            let mut map = self.0.queues.write().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(name.to_owned()).or_insert_with(|| Arc::new(QueueSeries::new(name))))
        }))
    }

    /// Observes one reconcile of an object in `gotk_reconcile_duration_seconds`.
    pub fn record_duration(&self, kind: &str, namespace: &str, name: &str, took: Duration) {
        self.0.objects.observe_duration(key(kind, namespace, name), took.as_secs_f64());
    }

    /// Sets `gotk_reconcile_condition` for one condition: 1 for its status, 0 for the other
    /// two (all three 0 when the status is none of True, False, Unknown).
    pub fn record_condition(&self, kind: &str, namespace: &str, name: &str, condition: &eddy_api::meta::Condition) {
        self.0.objects.set_condition(key(kind, namespace, name), &condition.r#type, &condition.status);
    }

    /// [`record_condition`](Self::record_condition) for each condition.
    pub fn record_conditions(&self, kind: &str, namespace: &str, name: &str, conditions: &[eddy_api::meta::Condition]) {
        for c in conditions {
            self.record_condition(kind, namespace, name, c);
        }
    }

    /// Sets `gotk_suspend_status`.
    pub fn record_suspend(&self, kind: &str, namespace: &str, name: &str, suspended: bool) {
        self.0.objects.set_suspend(key(kind, namespace, name), suspended);
    }

    /// Deletes an object's `gotk_reconcile_duration_seconds` series (Flux does this when the
    /// reconcile of a deleted object finishes).
    pub fn delete_duration(&self, kind: &str, namespace: &str, name: &str) {
        self.0.objects.delete_duration(&key(kind, namespace, name));
    }

    /// Deletes the three `gotk_reconcile_condition` series of one condition type.
    pub fn delete_condition(&self, kind: &str, namespace: &str, name: &str, condition_type: &str) {
        self.0.objects.delete_condition(&key(kind, namespace, name), condition_type);
    }

    /// Deletes an object's `gotk_suspend_status` series.
    pub fn delete_suspend(&self, kind: &str, namespace: &str, name: &str) {
        self.0.objects.delete_suspend(&key(kind, namespace, name));
    }

    /// Deletes every `gotk_*` series of an object.
    pub fn delete_object(&self, kind: &str, namespace: &str, name: &str) {
        self.0.objects.delete(&key(kind, namespace, name));
    }

    /// Sets `leader_election_master_status{name}`: 1 while leading the lease `name`.
    pub fn set_leader(&self, name: &str, leading: bool) {
        let mut leaders = self.0.leaders.lock().unwrap_or_else(PoisonError::into_inner);
        leaders.insert(name.to_owned(), if leading { 1.0 } else { 0.0 });
    }

    /// Every series in the text exposition format, families sorted by name.
    #[must_use]
    pub fn render(&self) -> String {
        let mut families = BTreeMap::new();
        self.0.objects.render(&mut families);
        let controllers: Vec<_> =
            self.0.controllers.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        render_controllers(&controllers, &mut families);
        let queues: Vec<_> = self.0.queues.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        render_queues(&queues, &mut families);
        let leaders = self.0.leaders.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut body = String::new();
        for (name, value) in &leaders {
            text::sample(&mut body, LEADER, &[("name", name)], *value);
        }
        add_family(&mut families, LEADER, LEADER_HELP, "gauge", &body);
        families.into_values().collect()
    }
}

fn add_family(families: &mut BTreeMap<&'static str, String>, name: &'static str, help: &str, kind: &str, body: &str) {
    if body.is_empty() {
        return;
    }
    let mut family = String::new();
    text::header(&mut family, name, help, kind);
    family.push_str(body);
    families.insert(name, family);
}

/// A counter or gauge family with the `controller` label only.
fn per_controller(
    families: &mut BTreeMap<&'static str, String>,
    controllers: &[Arc<ControllerSeries>],
    (name, help, kind): (&'static str, &str, &str),
    value: impl Fn(&ControllerSeries) -> f64,
) {
    let mut body = String::new();
    for c in controllers {
        text::sample(&mut body, name, &[("controller", &c.name)], value(c));
    }
    add_family(families, name, help, kind, &body);
}

#[allow(clippy::cast_precision_loss)]
fn count(c: &std::sync::atomic::AtomicU64) -> f64 {
    c.load(Ordering::Relaxed) as f64
}

#[allow(clippy::cast_precision_loss)]
fn render_controllers(controllers: &[Arc<ControllerSeries>], families: &mut BTreeMap<&'static str, String>) {
    per_controller(families, controllers, ACTIVE_WORKERS, |c| c.active.load(Ordering::Relaxed) as f64);
    per_controller(families, controllers, MAX_CONCURRENT, |c| c.max_concurrent.get());
    per_controller(families, controllers, ERRORS, |c| count(&c.errors));
    per_controller(families, controllers, TERMINAL_ERRORS, |c| count(&c.terminal_errors));
    per_controller(families, controllers, PANICS, |c| count(&c.panics));
    per_controller(families, controllers, TIMEOUTS, |c| count(&c.timeouts));
    let mut totals = Vec::new();
    let mut times = String::new();
    for c in controllers {
        for (result, n) in c.totals() {
            totals.push((c.name.as_str(), result, n));
        }
        // Created by the first observation, as controller-runtime's (initMetrics skips it).
        let snapshot = c.time.snapshot();
        if snapshot.count > 0 {
            text::histogram(&mut times, RECONCILE_TIME.0, &[("controller", &c.name)], c.time.bounds(), &snapshot);
        }
    }
    totals.sort_unstable();
    let mut body = String::new();
    for (controller, result, n) in totals {
        text::sample(&mut body, TOTAL.0, &[("controller", controller), ("result", result)], n as f64);
    }
    add_family(families, TOTAL.0, TOTAL.1, TOTAL.2, &body);
    add_family(families, RECONCILE_TIME.0, RECONCILE_TIME.1, RECONCILE_TIME.2, &times);
}

#[allow(clippy::cast_precision_loss)]
fn render_queues(queues: &[Arc<QueueSeries>], families: &mut BTreeMap<&'static str, String>) {
    let mut depth = String::new();
    let mut adds = String::new();
    let mut retries = String::new();
    let mut latency = String::new();
    let mut work = String::new();
    let mut unfinished = String::new();
    let mut longest = String::new();
    for q in queues {
        let labels = [("controller", q.name.as_str()), ("name", q.name.as_str())];
        let by_priority = q.depth().by_label.clone();
        for (priority, n) in &by_priority {
            let labels = [("controller", q.name.as_str()), ("name", q.name.as_str()), ("priority", priority.as_str())];
            text::sample(&mut depth, DEPTH.0, &labels, *n as f64);
        }
        text::sample(&mut adds, ADDS.0, &labels, count(&q.adds));
        text::sample(&mut retries, RETRIES.0, &labels, count(&q.retries));
        text::histogram(&mut latency, LATENCY.0, &labels, q.latency.bounds(), &q.latency.snapshot());
        text::histogram(&mut work, WORK.0, &labels, q.work.bounds(), &q.work.snapshot());
        text::sample(&mut unfinished, UNFINISHED.0, &labels, q.unfinished.get());
        text::sample(&mut longest, LONGEST.0, &labels, q.longest.get());
    }
    for ((name, help, kind), body) in [
        (DEPTH, depth),
        (ADDS, adds),
        (RETRIES, retries),
        (LATENCY, latency),
        (WORK, work),
        (UNFINISHED, unfinished),
        (LONGEST, longest),
    ] {
        add_family(families, name, help, kind, &body);
    }
}

type FamilyDesc = (&'static str, &'static str, &'static str);

const ACTIVE_WORKERS: FamilyDesc =
    ("controller_runtime_active_workers", "Number of currently used workers per controller", "gauge");
const MAX_CONCURRENT: FamilyDesc =
    ("controller_runtime_max_concurrent_reconciles", "Maximum number of concurrent reconciles per controller", "gauge");
const ERRORS: FamilyDesc =
    ("controller_runtime_reconcile_errors_total", "Total number of reconciliation errors per controller", "counter");
const TERMINAL_ERRORS: FamilyDesc = (
    "controller_runtime_terminal_reconcile_errors_total",
    "Total number of terminal reconciliation errors per controller",
    "counter",
);
const PANICS: FamilyDesc =
    ("controller_runtime_reconcile_panics_total", "Total number of reconciliation panics per controller", "counter");
const TIMEOUTS: FamilyDesc = (
    "controller_runtime_reconcile_timeouts_total",
    "Total number of reconciliation timeouts per controller",
    "counter",
);
const TOTAL: FamilyDesc =
    ("controller_runtime_reconcile_total", "Total number of reconciliations per controller", "counter");
const RECONCILE_TIME: FamilyDesc =
    ("controller_runtime_reconcile_time_seconds", "Length of time per reconciliation per controller", "histogram");
const DEPTH: FamilyDesc = ("workqueue_depth", "Current depth of workqueue by workqueue and priority", "gauge");
const ADDS: FamilyDesc = ("workqueue_adds_total", "Total number of adds handled by workqueue", "counter");
const RETRIES: FamilyDesc = (
    "workqueue_retries_total",
    "Total number of items added to the workqueue with a non-zero delay (rate-limited requeues, explicit RequeueAfter or AddAfter calls)",
    "counter",
);
const LATENCY: FamilyDesc = (
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    "histogram",
);
const WORK: FamilyDesc =
    ("workqueue_work_duration_seconds", "How long in seconds processing an item from workqueue takes.", "histogram");
const UNFINISHED: FamilyDesc = (
    "workqueue_unfinished_work_seconds",
    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    "gauge",
);
const LONGEST: FamilyDesc = (
    "workqueue_longest_running_processor_seconds",
    "How many seconds has the longest running processor for workqueue been running.",
    "gauge",
);
const LEADER: &str = "leader_election_master_status";
const LEADER_HELP: &str = "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.";
