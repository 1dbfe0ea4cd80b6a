//! controller-runtime's per-controller and per-workqueue series
//! (`pkg/internal/controller/metrics`, `pkg/internal/metrics/workqueue.go`, and the priority
//! queue's `metrics.go`).
//!
//! A [`ControllerMetrics`] or [`QueueMetrics`] handle is made once per controller and kept by
//! the driver and the queue; every call on it is a few atomic operations, so workers never
//! contend on a registry lock. Only the queue depth, which is split by priority, takes a short
//! per-queue lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::histogram::{AtomicF64, AtomicHistogram, RECONCILE_TIME_BUCKETS, WORKQUEUE_BUCKETS};

/// How a reconcile ended, as controller-runtime counts it in
/// `controller_runtime_reconcile_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconcileOutcome {
    /// Done; forgotten by the queue (`success`).
    Success,
    /// Requeued with rate limiting (`requeue`).
    Requeue,
    /// Requeued after a delay (`requeue_after`).
    RequeueAfter,
    /// Failed and requeued with rate limiting (`error`).
    Error,
    /// Failed for good, not requeued: counted as `error` and in
    /// `controller_runtime_terminal_reconcile_errors_total`.
    TerminalError,
}

/// The `result` label values in the order controller-runtime initialises them.
const RESULTS: [&str; 4] = ["error", "requeue_after", "requeue", "success"];

impl ReconcileOutcome {
    fn result_index(self) -> usize {
        match self {
            Self::Error | Self::TerminalError => 0,
            Self::RequeueAfter => 1,
            Self::Requeue => 2,
            Self::Success => 3,
        }
    }
}

/// The series of one controller.
#[derive(Debug)]
pub(crate) struct ControllerSeries {
    pub(crate) name: String,
    pub(crate) total: [AtomicU64; 4],
    pub(crate) errors: AtomicU64,
    pub(crate) terminal_errors: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) time: AtomicHistogram,
    pub(crate) max_concurrent: AtomicF64,
    pub(crate) active: AtomicI64,
}

impl ControllerSeries {
    pub(crate) fn new(name: &str, max_concurrent: usize) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let max = max_concurrent as f64;
        Self {
            name: name.to_owned(),
            total: Default::default(),
            errors: AtomicU64::new(0),
            terminal_errors: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            time: AtomicHistogram::new(&RECONCILE_TIME_BUCKETS),
            max_concurrent: AtomicF64::new(max),
            active: AtomicI64::new(0),
        }
    }

    /// `(result label, count)` pairs.
    pub(crate) fn totals(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        RESULTS.iter().zip(&self.total).map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
    }
}

/// The handle a controller driver reports its reconciles through.
#[derive(Debug, Clone)]
pub struct ControllerMetrics(pub(crate) Arc<ControllerSeries>);

impl ControllerMetrics {
    /// The controller's name (the `controller` label).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Counts a finished reconcile and observes its duration (success or not).
    pub fn reconciled(&self, outcome: ReconcileOutcome, took: Duration) {
        let s = &self.0;
        s.total[outcome.result_index()].fetch_add(1, Ordering::Relaxed);
        match outcome {
            ReconcileOutcome::Error => {
                s.errors.fetch_add(1, Ordering::Relaxed);
            }
            ReconcileOutcome::TerminalError => {
                s.errors.fetch_add(1, Ordering::Relaxed);
                s.terminal_errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        s.time.observe(took.as_secs_f64());
    }

    /// Counts a reconcile that panicked (report its outcome as an error as well, as
    /// controller-runtime turns the panic into an error).
    pub fn panicked(&self) {
        self.0.panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reconcile cut off by the controller's reconcile timeout.
    pub fn timed_out(&self) {
        self.0.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets `controller_runtime_max_concurrent_reconciles`.
    pub fn set_max_concurrent(&self, workers: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.0.max_concurrent.set(workers as f64);
    }

    /// Marks a worker busy until the returned guard is dropped
    /// (`controller_runtime_active_workers`).
    #[must_use]
    pub fn worker(&self) -> ActiveWorker {
        self.0.active.fetch_add(1, Ordering::Relaxed);
        ActiveWorker(Arc::clone(&self.0))
    }
}

/// A busy worker; dropping it makes the worker idle again.
#[derive(Debug)]
pub struct ActiveWorker(Arc<ControllerSeries>);

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// controller-runtime's label for a priority, after 25 distinct priorities.
const PRIORITY_CARDINALITY_EXCEEDED: &str = "exceeded_cardinality_limit";
const MAX_PRIORITIES: usize = 25;

/// Queue depth by priority label.
#[derive(Debug, Default)]
pub(crate) struct Depth {
    pub(crate) by_label: BTreeMap<String, i64>,
    observed: BTreeSet<i32>,
    limit_reached: bool,
}

impl Depth {
    fn label(&mut self, priority: i32) -> String {
        if self.limit_reached {
            return PRIORITY_CARDINALITY_EXCEEDED.to_owned();
        }
        self.observed.insert(priority);
        if self.observed.len() > MAX_PRIORITIES {
            self.observed.clear();
            self.limit_reached = true;
            return PRIORITY_CARDINALITY_EXCEEDED.to_owned();
        }
        priority.to_string()
    }

    fn add(&mut self, priority: i32, delta: i64) {
        let label = self.label(priority);
        *self.by_label.entry(label).or_insert(0) += delta;
    }
}

/// The series of one work queue.
#[derive(Debug)]
pub(crate) struct QueueSeries {
    pub(crate) name: String,
    pub(crate) adds: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) latency: AtomicHistogram,
    pub(crate) work: AtomicHistogram,
    pub(crate) unfinished: AtomicF64,
    pub(crate) longest: AtomicF64,
    pub(crate) depth: Mutex<Depth>,
}

impl QueueSeries {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            adds: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            latency: AtomicHistogram::new(&WORKQUEUE_BUCKETS),
            work: AtomicHistogram::new(&WORKQUEUE_BUCKETS),
            unfinished: AtomicF64::new(0.0),
            longest: AtomicF64::new(0.0),
            depth: Mutex::new(Depth::default()),
        }
    }

    pub(crate) fn depth(&self) -> std::sync::MutexGuard<'_, Depth> {
        self.depth.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The handle a work queue reports through; both the `name` and `controller` labels are the
/// queue's name, as controller-runtime sets them.
#[derive(Debug, Clone)]
pub struct QueueMetrics(pub(crate) Arc<QueueSeries>);

impl QueueMetrics {
    /// The queue's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// An item was added with `priority` (0 unless the queue has priorities).
    pub fn add(&self, priority: i32) {
        self.0.adds.fetch_add(1, Ordering::Relaxed);
        self.0.depth().add(priority, 1);
    }

    /// An item of `priority` was handed to a worker after `waited` in the queue.
    pub fn get(&self, priority: i32, waited: Duration) {
        self.0.depth().add(priority, -1);
        self.0.latency.observe(waited.as_secs_f64());
    }

    /// A queued item's priority changed.
    pub fn priority_changed(&self, old: i32, new: i32) {
        let mut depth = self.0.depth();
        depth.add(old, -1);
        depth.add(new, 1);
    }

    /// A worker finished an item after `worked`.
    pub fn done(&self, worked: Duration) {
        self.0.work.observe(worked.as_secs_f64());
    }

    /// An item was added with a delay (rate-limited requeue or requeue-after).
    pub fn retry(&self) {
        self.0.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The work in progress: the summed age of the items being processed and the oldest
    /// one's (client-go refreshes these every 500 ms).
    pub fn set_unfinished(&self, total: Duration, longest: Duration) {
        self.0.unfinished.set(total.as_secs_f64());
        self.0.longest.set(longest.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_caps_priority_cardinality() {
        let mut d = Depth::default();
        for p in 0..25 {
            d.add(p, 1);
        }
        assert_eq!(d.by_label.len(), 25);
        d.add(100, 1);
        d.add(0, 1);
        assert_eq!(d.by_label.get(PRIORITY_CARDINALITY_EXCEEDED), Some(&2));
    }

    #[test]
    fn worker_guard_tracks_active_workers() {
        let c = ControllerMetrics(Arc::new(ControllerSeries::new("c", 2)));
        let a = c.worker();
        let b = c.worker();
        assert_eq!(c.0.active.load(Ordering::Relaxed), 2);
        drop(a);
        drop(b);
        assert_eq!(c.0.active.load(Ordering::Relaxed), 0);
    }
}
