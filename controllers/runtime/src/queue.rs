//! The work queue: client-go's `workqueue` semantics, which controller-runtime (and so every
//! Flux controller) reconciles through.
//!
//! - **Never twice at once.** An item handed out by [`WorkQueue::get`] is *processing* until
//!   [`WorkQueue::done`]; adding it meanwhile marks it *dirty*, and `done` puts it back once.
//!   Adding an item already waiting is a no-op, so a burst of events is one reconcile.
//! - **Delays.** [`WorkQueue::add_after`] holds an item until its time; an earlier request for
//!   the same item wins over a later one.
//! - **Backoff.** [`WorkQueue::add_rate_limited`] waits `min · 2^failures`, capped at `max`
//!   (Flux's `--min-retry-delay` 750 ms and `--max-retry-delay` 15 min), per item;
//!   [`WorkQueue::forget`] resets the count after a success.
//! - **Metrics** go through [`QueueObserver`] (depth, adds, time in queue, work time,
//!   retries), so the queue knows nothing of Prometheus.
//!
//! Waiting uses tokio; the state sits behind one short-held mutex.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Flux's default `--min-retry-delay`.
pub const DEFAULT_MIN_RETRY_DELAY: Duration = Duration::from_millis(750);
/// Flux's default `--max-retry-delay`.
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

/// Receives the queue's measurements (the metrics module implements it).
///
/// The calls are client-go's queue metrics events: `added` when an item becomes pending (also
/// while it is processing; not for an item already pending), `started` when it is handed
/// out, `finished` when it is done, `retried` for every delayed add, and `unfinished`
/// periodically with the work in progress.
pub trait QueueObserver: Send + Sync {
    /// An item became pending.
    fn added(&self) {}
    /// An item was handed out after waiting `_queued` in the queue.
    fn started(&self, _queued: Duration) {}
    /// An item finished after `_worked`.
    fn finished(&self, _worked: Duration) {}
    /// An item was added with a delay (backoff or requeue-after).
    fn retried(&self) {}
    /// The summed age of the items being processed, and the oldest one's.
    fn unfinished(&self, _total: Duration, _longest: Duration) {}
}

impl QueueObserver for crate::metrics::QueueMetrics {
    fn added(&self) {
        self.add(0);
    }
    fn started(&self, queued: Duration) {
        self.get(0, queued);
    }
    fn finished(&self, worked: Duration) {
        self.done(worked);
    }
    fn retried(&self) {
        self.retry();
    }
    fn unfinished(&self, total: Duration, longest: Duration) {
        self.set_unfinished(total, longest);
    }
}

/// A no-op observer.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;
impl QueueObserver for NoMetrics {}

/// Per-item exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { min: DEFAULT_MIN_RETRY_DELAY, max: DEFAULT_MAX_RETRY_DELAY }
    }
}

impl Backoff {
    /// The delay after `failures` earlier failures.
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 2f64.powi(i32::try_from(failures.min(64)).unwrap_or(64));
        let secs = self.min.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max.as_secs_f64() { self.max } else { Duration::from_secs_f64(secs) }
    }
}

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashMap<K, Instant>,
    /// When each waiting item was added (for the time-in-queue metric).
    added_at: HashMap<K, Instant>,
    delayed: BTreeMap<(Instant, u64), K>,
    delayed_index: HashMap<K, (Instant, u64)>,
    failures: HashMap<K, u32>,
    seq: u64,
    shutting_down: bool,
}

/// The work queue (cheap to clone; clones share the queue).
pub struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    notify: Arc<Notify>,
    backoff: Backoff,
    observer: Arc<dyn QueueObserver>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            state: Arc::clone(&self.state),
            notify: Arc::clone(&self.notify),
            backoff: self.backoff,
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue.
    #[must_use]
    pub fn new(backoff: Backoff, observer: Arc<dyn QueueObserver>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashMap::new(),
                added_at: HashMap::new(),
                delayed: BTreeMap::new(),
                delayed_index: HashMap::new(),
                failures: HashMap::new(),
                seq: 0,
                shutting_down: false,
            })),
            notify: Arc::new(Notify::new()),
            backoff,
            observer,
        }
    }

    /// Queues an item now (see the module docs for duplicates and items in progress).
    pub fn add(&self, item: K) {
        let mut s = self.state.lock();
        if s.shutting_down {
            return;
        }
        if let Some(at) = s.delayed_index.remove(&item) {
            s.delayed.remove(&at);
        }
        if !s.dirty.insert(item.clone()) {
            return;
        }
        self.observer.added();
        s.added_at.insert(item.clone(), Instant::now());
        if s.processing.contains_key(&item) {
            return;
        }
        s.queue.push_back(item);
        drop(s);
        self.notify.notify_waiters();
    }

    /// Queues an item after `delay`; an earlier pending time for the same item is kept.
    pub fn add_after(&self, item: K, delay: Duration) {
        if delay.is_zero() {
            self.add(item);
            return;
        }
        let at = Instant::now() + delay;
        self.observer.retried();
        let mut s = self.state.lock();
        if s.shutting_down || s.dirty.contains(&item) {
            return;
        }
        if let Some(&(existing, seq)) = s.delayed_index.get(&item) {
            if existing <= at {
                return;
            }
            s.delayed.remove(&(existing, seq));
        }
        s.seq += 1;
        let key = (at, s.seq);
        s.delayed.insert(key, item.clone());
        s.delayed_index.insert(item, key);
        drop(s);
        self.notify.notify_waiters();
    }

    /// Queues an item after its backoff delay and counts the failure.
    pub fn add_rate_limited(&self, item: K) {
        let delay = {
            let mut s = self.state.lock();
            let n = s.failures.entry(item.clone()).or_insert(0);
            let delay = self.backoff.delay(*n);
            *n = n.saturating_add(1);
            delay
        };
        self.add_after(item, delay);
    }

    /// Forgets an item's failures (after a success).
    pub fn forget(&self, item: &K) {
        self.state.lock().failures.remove(item);
    }

    /// How many times the item failed since it was last forgotten.
    #[must_use]
    pub fn num_requeues(&self, item: &K) -> u32 {
        self.state.lock().failures.get(item).copied().unwrap_or(0)
    }

    /// Waits for the next item; `None` once the queue shuts down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_delay = {
                let mut s = self.state.lock();
                if s.shutting_down {
                    return None;
                }
                self.promote_due(&mut s);
                if let Some(item) = s.queue.pop_front() {
                    s.dirty.remove(&item);
                    let now = Instant::now();
                    let queued = s.added_at.remove(&item).map_or(Duration::ZERO, |t| now - t);
                    s.processing.insert(item.clone(), now);
                    self.observer.started(queued);
                    return Some(item);
                }
                s.delayed.keys().next().map(|(at, _)| *at)
            };
            match next_delay {
                Some(at) => {
                    tokio::select! {
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks an item done; if it was added meanwhile it is queued again.
    pub fn done(&self, item: &K) {
        let mut s = self.state.lock();
        if let Some(started) = s.processing.remove(item) {
            self.observer.finished(started.elapsed());
        }
        if s.dirty.contains(item) && !s.shutting_down {
            s.queue.push_back(item.clone());
            drop(s);
            self.notify.notify_waiters();
        }
    }

    /// Items waiting now (not delayed, not processing).
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Whether nothing waits now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items waiting for their delay.
    #[must_use]
    pub fn delayed_len(&self) -> usize {
        self.state.lock().delayed.len()
    }

    /// How many items are processing, and for how long the longest has been.
    #[must_use]
    pub fn in_progress(&self) -> (usize, Duration) {
        let s = self.state.lock();
        let longest = s.processing.values().map(Instant::elapsed).max().unwrap_or_default();
        (s.processing.len(), longest)
    }

    /// Reports the work in progress to the observer (client-go does it every 500 ms).
    pub fn report_unfinished(&self) {
        let (total, longest) = {
            let s = self.state.lock();
            let ages: Vec<Duration> = s.processing.values().map(Instant::elapsed).collect();
            (ages.iter().sum(), ages.iter().max().copied().unwrap_or_default())
        };
        self.observer.unfinished(total, longest);
    }

    /// Stops the queue: `get` returns `None`, adds are ignored, queued items are dropped.
    pub fn shut_down(&self) {
        let mut s = self.state.lock();
        s.shutting_down = true;
        s.queue.clear();
        s.dirty.clear();
        s.delayed.clear();
        s.delayed_index.clear();
        drop(s);
        self.notify.notify_waiters();
    }

    fn promote_due(&self, s: &mut State<K>) {
        let now = Instant::now();
        while let Some((&(at, seq), _)) = s.delayed.first_key_value() {
            if at > now {
                break;
            }
            let Some(item) = s.delayed.remove(&(at, seq)) else { break };
            s.delayed_index.remove(&item);
            if s.dirty.insert(item.clone()) {
                self.observer.added();
                s.added_at.insert(item.clone(), now);
                if !s.processing.contains_key(&item) {
                    s.queue.push_back(item);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
