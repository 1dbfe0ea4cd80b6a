//! The controller driver: informer events → work queue → workers → reconciler → decision.
//!
//! As a Flux controller built on controller-runtime behaves:
//!
//! - **What enqueues.** A new or deleted object; an update that changes `metadata.generation`,
//!   the `reconcile.fluxcd.io/requestedAt` annotation, or sets `deletionTimestamp` (Flux's
//!   `GenerationChangedPredicate` or `ReconcileRequestedPredicate`). Status-only updates —
//!   mostly our own — do not. Related kinds enqueue through [`Controller::watch_related`]
//!   with a mapper (usually an index lookup), in the order the mapper returns.
//! - **Workers.** Up to `concurrency` reconciles (`--concurrent`) work at once, each on its
//!   own task holding a slot; a reconcile waiting on the outside world gives its slot back
//!   ([`crate::slot::released`]). The queue never hands out a key that is being reconciled.
//!   A reconcile that panics is logged and retried with backoff, as an error.
//! - **Decisions.** An error retries with the item's backoff; `After(d)` forgets the failures
//!   and requeues after `d`; `WithBackoff` requeues with backoff; `Never` forgets.
//! - **Leadership.** Workers take items only while the leadership signal is `true`; the cache
//!   and queue stay warm meanwhile, so a new leader starts at once. A signal whose sender is
//!   gone keeps its last value for good (`watch::channel(true).1` leads forever).
//! - **Observability.** A `tracing` span per reconcile (`controller`, `object`), and every
//!   reconcile, decision and queue movement reported to the [`ControllerObserver`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::informer::{Change, Informer, Store};
use crate::object::{FluxObject, ObjectKey};
use crate::queue::{Backoff, QueueObserver, WorkQueue};
use crate::result::{Decision, Requeue};
use crate::slot::Slot;

/// Reconciles objects of one kind.
pub trait Reconciler<T>: Send + Sync + 'static {
    /// Brings one object towards its desired state and says when to come back. `obj` is the
    /// latest cached version.
    fn reconcile(&self, obj: Arc<T>) -> impl Future<Output = Decision> + Send;
}

/// Receives what the driver does ([`MetricsObserver`] turns it into Flux's and
/// controller-runtime's metrics).
pub trait ControllerObserver: Send + Sync {
    /// The queue's observer for this controller.
    fn queue(&self, _controller: &str) -> Arc<dyn QueueObserver> {
        Arc::new(crate::queue::NoMetrics)
    }
    /// The controller starts with `_workers` workers.
    fn started(&self, _controller: &str, _workers: usize) {}
    /// A worker starts a reconcile; it is busy until the returned guard is dropped.
    fn busy(&self, _controller: &str) -> Box<dyn Send> {
        Box::new(())
    }
    /// One reconcile finished.
    fn reconciled(&self, _controller: &str, _kind: &str, _key: &ObjectKey, _took: Duration, _decision: &Decision) {}
    /// The object's `spec.suspend`, whenever it is seen.
    fn suspended(&self, _kind: &str, _key: &ObjectKey, _suspended: bool) {}
    /// The object is gone: drop its series.
    fn deleted(&self, _kind: &str, _key: &ObjectKey) {}
}

/// A [`ControllerObserver`] over [`crate::metrics::Metrics`].
#[derive(Debug, Clone)]
pub struct MetricsObserver {
    metrics: crate::metrics::Metrics,
    controllers: Arc<parking_lot::Mutex<std::collections::HashMap<String, crate::metrics::ControllerMetrics>>>,
}

impl MetricsObserver {
    /// Reports to `metrics`.
    #[must_use]
    pub fn new(metrics: crate::metrics::Metrics) -> Self {
        Self { metrics, controllers: Arc::default() }
    }

    fn controller(&self, name: &str) -> crate::metrics::ControllerMetrics {
        self.controllers.lock().entry(name.to_owned()).or_insert_with(|| self.metrics.controller(name, 1)).clone()
    }
}

impl ControllerObserver for MetricsObserver {
    fn queue(&self, controller: &str) -> Arc<dyn QueueObserver> {
        Arc::new(self.metrics.queue(controller))
    }
    fn started(&self, controller: &str, workers: usize) {
        self.controller(controller).set_max_concurrent(workers);
    }
    fn busy(&self, controller: &str) -> Box<dyn Send> {
        Box::new(self.controller(controller).worker())
    }
    fn reconciled(&self, controller: &str, kind: &str, key: &ObjectKey, took: Duration, decision: &Decision) {
        use crate::metrics::ReconcileOutcome;
        let outcome = match (&decision.error, decision.requeue) {
            (Some(_), _) => ReconcileOutcome::Error,
            (None, Requeue::After(_)) => ReconcileOutcome::RequeueAfter,
            (None, Requeue::WithBackoff) => ReconcileOutcome::Requeue,
            (None, Requeue::Never) => ReconcileOutcome::Success,
        };
        self.controller(controller).reconciled(outcome, took);
        self.metrics.record_duration(kind, &key.namespace, &key.name, took);
        // Deprecated upstream (kube-state-metrics' gotk_resource_info replaces them) but still
        // read by Flux's older Grafana dashboards.
        if let Some(conditions) = &decision.conditions {
            self.metrics.record_conditions(kind, &key.namespace, &key.name, conditions);
        }
    }
    fn suspended(&self, kind: &str, key: &ObjectKey, suspended: bool) {
        self.metrics.record_suspend(kind, &key.namespace, &key.name, suspended);
    }
    fn deleted(&self, kind: &str, key: &ObjectKey) {
        self.metrics.delete_object(kind, &key.namespace, &key.name);
    }
}

/// An observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl ControllerObserver for NoObserver {}

/// How a controller runs.
#[derive(Clone)]
pub struct Config {
    /// The controller's name: queue and metrics label (`gitrepository`, as controller-runtime
    /// names it after the kind).
    pub name: String,
    /// Parallel reconciles (`--concurrent`).
    pub concurrency: usize,
    /// Retry backoff (`--min-retry-delay`, `--max-retry-delay`).
    pub backoff: Backoff,
    /// Where measurements go.
    pub observer: Arc<dyn ControllerObserver>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Starts the task that feeds one related kind's changes into the queue.
type RelatedStarter = Box<dyn FnOnce(WorkQueue<ObjectKey>) -> tokio::task::JoinHandle<()> + Send>;

/// A controller for kind `T`, fed by an [`Informer`] of `T` and by related informers.
pub struct Controller<T> {
    config: Config,
    store: Store<T>,
    own: mpsc::UnboundedReceiver<Change<T>>,
    related: Vec<RelatedStarter>,
    queue: WorkQueue<ObjectKey>,
}

impl<T: FluxObject> Controller<T> {
    /// A controller over the objects of `informer` (subscribes to it; run the informer too).
    pub fn new(informer: &mut Informer<T>, config: Config) -> Self {
        let queue = WorkQueue::new(config.backoff, config.observer.queue(&config.name));
        Self { store: informer.store(), own: informer.subscribe(), related: Vec::new(), queue, config }
    }

    /// The queue (to enqueue from elsewhere, e.g. a webhook receiver).
    #[must_use]
    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// Enqueues objects of `T` when objects of another kind change: `map` sees each change
    /// of the related kind and returns the keys to reconcile, in order (dependencies first).
    #[must_use]
    pub fn watch_related<U: FluxObject>(
        mut self,
        related: &mut Informer<U>,
        map: impl Fn(&Change<U>) -> Vec<ObjectKey> + Send + 'static,
    ) -> Self {
        let mut rx = related.subscribe();
        self.related.push(Box::new(move |queue| {
            tokio::spawn(async move {
                while let Some(change) = rx.recv().await {
                    for key in map(&change) {
                        queue.add(key);
                    }
                }
            })
        }));
        self
    }

    /// Runs the controller until `shutdown` resolves: the event pump, the related watches and
    /// `concurrency` workers. Returns once every worker has finished its current reconcile.
    pub async fn run<R: Reconciler<T>>(
        self,
        reconciler: Arc<R>,
        leader: watch::Receiver<bool>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let Self { config, store, mut own, related, queue } = self;
        let pump = {
            let (queue, observer) = (queue.clone(), Arc::clone(&config.observer));
            tokio::spawn(async move {
                while let Some(change) = own.recv().await {
                    match &change.new {
                        Some(new) => observer.suspended(T::KIND, &new.key(), new.suspended()),
                        None => observer.deleted(T::KIND, &change.key()),
                    }
                    if should_enqueue(&change) {
                        queue.add(change.key());
                    }
                }
            })
        };
        let related: Vec<_> = related.into_iter().map(|start| start(queue.clone())).collect();
        let concurrency = config.concurrency.max(1);
        config.observer.started(&config.name, concurrency);
        let unfinished = {
            let queue = queue.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    queue.report_unfinished();
                }
            })
        };
        let dispatcher = Dispatcher {
            slots: Arc::new(Semaphore::new(concurrency)),
            waiters: Arc::new(Semaphore::new(concurrency.saturating_mul(crate::slot::WAITERS_PER_SLOT))),
            config,
            store,
            queue: queue.clone(),
            reconciler,
            leader,
            running: TaskTracker::new(),
        };
        let dispatching = tokio::spawn(dispatcher.run());
        shutdown.await;
        queue.shut_down();
        unfinished.abort();
        let _ = dispatching.await;
        pump.abort();
        for r in related {
            r.abort();
        }
    }
}

/// Flux's predicates for its own kind (see the module docs).
#[must_use]
pub fn should_enqueue<T: FluxObject>(change: &Change<T>) -> bool {
    match (&change.old, &change.new) {
        (Some(old), Some(new)) => {
            old.generation() != new.generation()
                || (new.reconcile_request().is_some() && old.reconcile_request() != new.reconcile_request())
                || (new.is_deleting() && !old.is_deleting())
        }
        _ => true,
    }
}

/// Resolves when the leadership signal turns `false`; never, once its sender is gone while
/// leading (a closed channel does not change again, and polling it would spin).
async fn leadership_lost(leader: &mut watch::Receiver<bool>) {
    if leader.wait_for(|l| !*l).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Hands queued keys to reconciles, each on its own task holding one of `slots`.
struct Dispatcher<T, R> {
    slots: Arc<Semaphore>,
    waiters: Arc<Semaphore>,
    config: Config,
    store: Store<T>,
    queue: WorkQueue<ObjectKey>,
    reconciler: Arc<R>,
    leader: watch::Receiver<bool>,
    running: TaskTracker,
}

impl<T: FluxObject, R: Reconciler<T>> Dispatcher<T, R> {
    /// Dispatches until the queue shuts down, then waits for the running reconciles.
    async fn run(mut self) {
        loop {
            if self.leader.wait_for(|l| *l).await.is_err() {
                break;
            }
            // The key first, then a slot. The other way round the dispatcher would sit on a
            // slot while the queue is empty, and a reconcile coming back from a released wait
            // (`slot::released`) would wait for it until some other key is queued — with
            // nothing else due, until the next interval.
            let key = tokio::select! {
                k = self.queue.get() => match k { Some(k) => k, None => break },
                () = leadership_lost(&mut self.leader) => continue,
            };
            let permit = tokio::select! {
                p = Arc::clone(&self.slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => {
                        self.queue.done(&key);
                        break;
                    }
                },
                () = leadership_lost(&mut self.leader) => {
                    // Back to the queue, for when this replica leads again.
                    self.queue.add(key.clone());
                    self.queue.done(&key);
                    continue;
                }
            };
            let Some(obj) = self.store.get(&key) else {
                // Deleted: nothing to reconcile (the finalizer already ran, or there was none).
                self.queue.forget(&key);
                self.queue.done(&key);
                continue;
            };
            let slot = Slot::new(
                Arc::clone(&self.slots),
                Arc::clone(&self.waiters),
                permit,
                Arc::clone(&self.config.observer),
                self.config.name.clone(),
            );
            let one = ReconcileOne {
                config: self.config.clone(),
                queue: self.queue.clone(),
                reconciler: Arc::clone(&self.reconciler),
            };
            self.running.spawn(slot.scope(one.run(key, obj)));
        }
        self.running.close();
        self.running.wait().await;
    }
}

/// One reconcile of one key, and what its decision does to the queue.
struct ReconcileOne<R> {
    config: Config,
    queue: WorkQueue<ObjectKey>,
    reconciler: Arc<R>,
}

impl<R> ReconcileOne<R> {
    async fn run<T: FluxObject>(self, key: ObjectKey, obj: Arc<T>)
    where
        R: Reconciler<T>,
    {
        let span = tracing::info_span!("reconcile", controller = %self.config.name, object = %key);
        let start = Instant::now();
        let reconcile = AssertUnwindSafe(self.reconciler.reconcile(obj)).catch_unwind().instrument(span.clone());
        let decision = reconcile.await.unwrap_or_else(|panic| {
            let what = panic_message(panic.as_ref());
            Decision::failed(format!("reconciler panicked: {what}"))
        });
        let took = start.elapsed();
        self.config.observer.reconciled(&self.config.name, T::KIND, &key, took, &decision);
        match (&decision.error, decision.requeue) {
            (Some(e), _) => {
                span.in_scope(|| tracing::error!(error = %e, "reconciliation failed"));
                self.queue.add_rate_limited(key.clone());
            }
            (None, Requeue::After(d)) => {
                self.queue.forget(&key);
                self.queue.add_after(key.clone(), d);
            }
            (None, Requeue::WithBackoff) => self.queue.add_rate_limited(key.clone()),
            (None, Requeue::Never) => self.queue.forget(&key),
        }
        self.queue.done(&key);
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

#[cfg(test)]
mod leadership_tests {
    use std::time::Duration;

    use tokio::sync::watch;

    use super::leadership_lost;

    #[tokio::test(start_paused = true)]
    async fn a_closed_signal_that_leads_never_reports_a_loss() {
        let mut rx = watch::channel(true).1;
        let lost = tokio::time::timeout(Duration::from_secs(3600), leadership_lost(&mut rx)).await;
        assert!(lost.is_err(), "a dropped sender while leading must not look like a lost leadership");
    }

    #[tokio::test(start_paused = true)]
    async fn a_loss_is_reported() {
        let (tx, mut rx) = watch::channel(true);
        let waiter = tokio::spawn(async move { leadership_lost(&mut rx).await });
        tx.send(false).unwrap();
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("loss reported").unwrap();
    }
}
