//! Worker slots: `--concurrent` bounds reconciles that *work*, not reconciles that *wait*.
//!
//! A Flux controller's worker is a goroutine that stays busy for the whole reconcile,
//! including a health wait of up to `spec.timeout` — with `--concurrent=4` and four
//! Kustomizations waiting for slow Deployments, every other Kustomization queues behind
//! them. Here a reconcile runs on its own task holding one of the controller's
//! `concurrency` slots, and a reconcile about to wait on something external (objects
//! becoming healthy, watched through shared watches) gives its slot back with
//! [`released`] and takes one again when the wait ends. Nothing else changes: the queue
//! still never hands out an object that is being reconciled, so one object is never
//! reconciled twice at once, and the CPU-bound parts of reconciles stay bounded by
//! `--concurrent`.
//!
//! Waits are bounded too, at [`WAITERS_PER_SLOT`] × `--concurrent`: a reconcile that finds
//! every waiting place taken waits holding its slot, as in Flux. Without the bound, 1,000
//! Kustomizations created at once all apply within seconds and all start their health waits
//! together; the cluster then brings their Deployments up at its own pace
//! (kube-controller-manager's API rate limit: about 5 Deployments/s on a default one), every
//! wait hits `spec.timeout` at the same moment, and all of them retry only after
//! `spec.retryInterval` — measured: 931 of 1,000 HealthCheckFailed, all Ready after 385 s
//! instead of 210 s with Flux-like workers.
//!
//! # Guarantees
//! - While a future passed to [`released`] runs, the reconcile does not count against
//!   `--concurrent` nor as an active worker (`controller_runtime_active_workers`).
//! - After [`released`] returns, the reconcile holds a slot again (it waits for one if all
//!   are taken), so the work after a wait is bounded as before.
//! - At most [`WAITERS_PER_SLOT`] × `--concurrent` reconciles wait without a slot at once;
//!   beyond that, [`released`] runs the future holding the slot.
//! - Outside a controller's reconcile (unit tests, other tasks) [`released`] just runs the
//!   future.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::controller::ControllerObserver;

/// Reconciles that may wait without a worker slot, per slot (`--concurrent`).
pub const WAITERS_PER_SLOT: usize = 4;

tokio::task_local! {
    static SLOT: Slot;
}

/// The slot a reconcile holds: its permit and its "active worker" guard.
pub(crate) struct Slot {
    semaphore: Arc<Semaphore>,
    waiters: Arc<Semaphore>,
    observer: Arc<dyn ControllerObserver>,
    controller: String,
    held: parking_lot::Mutex<Option<Held>>,
}

struct Held {
    _permit: OwnedSemaphorePermit,
    _busy: Box<dyn Send>,
}

impl Slot {
    /// A slot holding `permit`, reported busy to `observer` for `controller`; `waiters` bounds
    /// the reconciles waiting without a slot.
    pub(crate) fn new(
        semaphore: Arc<Semaphore>,
        waiters: Arc<Semaphore>,
        permit: OwnedSemaphorePermit,
        observer: Arc<dyn ControllerObserver>,
        controller: String,
    ) -> Self {
        let busy = observer.busy(&controller);
        Self {
            semaphore,
            waiters,
            observer,
            controller,
            held: parking_lot::Mutex::new(Some(Held { _permit: permit, _busy: busy })),
        }
    }

    /// Runs `fut` (a reconcile) with this slot available to [`released`].
    pub(crate) async fn scope<F: Future>(self, fut: F) -> F::Output {
        SLOT.scope(self, fut).await
    }
}

/// Runs `fut` without holding a worker slot: the reconcile's slot goes back to the pool while
/// `fut` runs and is taken again (waiting for a free one) before this returns. Use it around
/// waits on the outside world that can last long (health checks up to `spec.timeout`), never
/// around CPU-bound work. See the module docs for the guarantees.
pub async fn released<F: Future>(fut: F) -> F::Output {
    let semaphore = SLOT.try_with(|slot| {
        // A waiting place first: without one, the wait keeps the slot.
        let waiting = Arc::clone(&slot.waiters).try_acquire_owned().ok()?;
        slot.held.lock().take().map(|held| (Arc::clone(&slot.semaphore), held, waiting))
    });
    let Ok(Some((semaphore, held, waiting))) = semaphore else {
        return fut.await;
    };
    drop(held);
    let out = fut.await;
    drop(waiting);
    // The semaphore is never closed; should it be, the reconcile finishes without a slot.
    if let Ok(permit) = semaphore.acquire_owned().await {
        let _ = SLOT.try_with(|slot| {
            let busy = slot.observer.busy(&slot.controller);
            *slot.held.lock() = Some(Held { _permit: permit, _busy: busy });
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::{Semaphore, oneshot};

    use super::{Slot, released};
    use crate::controller::NoObserver;

    fn slot(semaphore: &Arc<Semaphore>) -> Slot {
        slot_with_waiters(semaphore, &Arc::new(Semaphore::new(4)))
    }

    fn slot_with_waiters(semaphore: &Arc<Semaphore>, waiters: &Arc<Semaphore>) -> Slot {
        let permit = Arc::clone(semaphore).try_acquire_owned().expect("a free permit");
        Slot::new(Arc::clone(semaphore), Arc::clone(waiters), permit, Arc::new(NoObserver), "test".to_owned())
    }

    #[tokio::test]
    async fn a_released_wait_frees_the_slot_and_takes_it_back() {
        let semaphore = Arc::new(Semaphore::new(1));
        let (tx, rx) = oneshot::channel::<()>();
        let sem = Arc::clone(&semaphore);
        let task = tokio::spawn(slot(&semaphore).scope(async move {
            assert_eq!(sem.available_permits(), 0, "the reconcile holds the only slot");
            released(async move { rx.await.expect("released") }).await;
            assert_eq!(sem.available_permits(), 0, "the slot is held again after the wait");
        }));
        // While the reconcile waits, its slot is free for another one.
        let other = tokio::time::timeout(Duration::from_secs(10), Arc::clone(&semaphore).acquire_owned())
            .await
            .expect("the slot is free during the wait")
            .expect("open");
        drop(other);
        tx.send(()).expect("reconcile waiting");
        task.await.expect("reconcile finished");
        assert_eq!(semaphore.available_permits(), 1, "the slot is returned when the reconcile ends");
    }

    #[tokio::test]
    async fn after_the_wait_the_reconcile_queues_for_a_slot() {
        let semaphore = Arc::new(Semaphore::new(1));
        let (tx, rx) = oneshot::channel::<()>();
        let (after_tx, mut after_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(slot(&semaphore).scope(async move {
            released(async move { rx.await.expect("released") }).await;
            after_tx.send(()).expect("test listening");
        }));
        let other = tokio::time::timeout(Duration::from_secs(10), Arc::clone(&semaphore).acquire_owned())
            .await
            .expect("the slot is free during the wait")
            .expect("open");
        tx.send(()).expect("reconcile waiting");
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(after_rx.try_recv().is_err(), "the reconcile must wait for a slot before going on");
        drop(other);
        tokio::time::timeout(Duration::from_secs(10), after_rx).await.expect("went on").expect("sent");
        task.await.expect("finished");
    }

    #[tokio::test]
    async fn without_a_waiting_place_the_wait_keeps_the_slot() {
        let semaphore = Arc::new(Semaphore::new(1));
        let waiters = Arc::new(Semaphore::new(0));
        let (tx, rx) = oneshot::channel::<()>();
        let (waiting_tx, waiting_rx) = oneshot::channel::<()>();
        let sem = Arc::clone(&semaphore);
        let task = tokio::spawn(slot_with_waiters(&semaphore, &waiters).scope(async move {
            released(async move {
                assert_eq!(sem.available_permits(), 0, "no waiting place: the slot stays taken");
                waiting_tx.send(()).expect("test listening");
                rx.await.expect("released");
            })
            .await;
        }));
        waiting_rx.await.expect("the wait started");
        assert_eq!(semaphore.available_permits(), 0);
        tx.send(()).expect("reconcile waiting");
        task.await.expect("finished");
        assert_eq!(semaphore.available_permits(), 1);
        assert_eq!(waiters.available_permits(), 0);
    }

    #[tokio::test]
    async fn a_waiting_place_is_returned_after_the_wait() {
        let semaphore = Arc::new(Semaphore::new(1));
        let waiters = Arc::new(Semaphore::new(1));
        let w = Arc::clone(&waiters);
        tokio::spawn(slot_with_waiters(&semaphore, &waiters).scope(async move {
            released(async move { assert_eq!(w.available_permits(), 0, "the wait holds the place") }).await;
        }))
        .await
        .expect("finished");
        assert_eq!(waiters.available_permits(), 1);
    }

    #[tokio::test]
    async fn outside_a_reconcile_it_only_runs_the_future() {
        assert_eq!(released(async { 7 }).await, 7);
    }
}
