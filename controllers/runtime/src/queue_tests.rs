use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn queue() -> WorkQueue<&'static str> {
    WorkQueue::new(Backoff { min: Duration::from_millis(10), max: Duration::from_millis(80) }, Arc::new(NoMetrics))
}

#[tokio::test]
async fn duplicates_collapse_and_order_is_fifo() {
    let q = queue();
    q.add("a");
    q.add("b");
    q.add("a");
    assert_eq!(q.len(), 2);
    assert_eq!(q.get().await, Some("a"));
    assert_eq!(q.get().await, Some("b"));
}

#[tokio::test]
async fn an_item_in_progress_is_not_handed_out_twice() {
    let q = queue();
    q.add("a");
    let a = q.get().await.unwrap();
    q.add("a");
    q.add("a");
    assert_eq!(q.len(), 0, "dirty while processing, not queued");
    let second = tokio::time::timeout(Duration::from_millis(50), q.get()).await;
    assert!(second.is_err(), "must not hand out an item that is processing");
    q.done(&a);
    assert_eq!(q.len(), 1, "re-queued exactly once after done");
    assert_eq!(q.get().await, Some("a"));
    q.done(&"a");
    assert!(q.is_empty());
}

#[tokio::test(start_paused = true)]
async fn delays_keep_the_earliest_time() {
    let q = queue();
    let t0 = Instant::now();
    q.add_after("a", Duration::from_secs(60));
    q.add_after("a", Duration::from_secs(10));
    q.add_after("a", Duration::from_secs(30));
    assert_eq!(q.delayed_len(), 1);
    assert_eq!(q.get().await, Some("a"));
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn an_add_overrides_a_pending_delay() {
    let q = queue();
    q.add_after("a", Duration::from_secs(3600));
    q.add("a");
    assert_eq!(q.delayed_len(), 0);
    assert_eq!(q.get().await, Some("a"));
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let b = Backoff::default();
    assert_eq!(b.delay(0), Duration::from_millis(750));
    assert_eq!(b.delay(1), Duration::from_millis(1500));
    assert_eq!(b.delay(4), Duration::from_millis(12_000));
    assert_eq!(b.delay(20), Duration::from_secs(900));
    assert_eq!(b.delay(u32::MAX), Duration::from_secs(900));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_adds_back_off_per_item_until_forgotten() {
    let q = queue();
    for expected_ms in [10u64, 20, 40, 80, 80] {
        let t0 = Instant::now();
        q.add_rate_limited("a");
        let got = q.get().await;
        assert_eq!(got, Some("a"));
        assert_eq!(t0.elapsed(), Duration::from_millis(expected_ms));
        q.done(&"a");
    }
    assert_eq!(q.num_requeues(&"a"), 5);
    q.forget(&"a");
    assert_eq!(q.num_requeues(&"a"), 0);
}

#[tokio::test]
async fn shutdown_wakes_waiters() {
    let q = queue();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.get().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    q.shut_down();
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap(), None);
    q.add("x");
    assert!(q.is_empty());
}

#[tokio::test]
async fn many_workers_never_share_an_item() {
    let q: WorkQueue<u32> = WorkQueue::new(Backoff::default(), Arc::new(NoMetrics));
    let running: Arc<Mutex<HashSet<u32>>> = Arc::default();
    let processed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (q, running, processed) = (q.clone(), Arc::clone(&running), Arc::clone(&processed));
        workers.push(tokio::spawn(async move {
            while let Some(item) = q.get().await {
                assert!(running.lock().insert(item), "item {item} handed out twice");
                tokio::task::yield_now().await;
                running.lock().remove(&item);
                processed.fetch_add(1, Ordering::SeqCst);
                q.done(&item);
            }
        }));
    }
    for round in 0..50 {
        for item in 0..20 {
            q.add(item);
        }
        if round % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while !(q.is_empty() && q.in_progress().0 == 0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    q.shut_down();
    for w in workers {
        w.await.unwrap();
    }
    assert!(processed.load(Ordering::SeqCst) >= 20);
}

#[derive(Default)]
struct Counting {
    added: AtomicUsize,
    retried: AtomicUsize,
    finished: AtomicUsize,
}
impl QueueObserver for Counting {
    fn added(&self) {
        self.added.fetch_add(1, Ordering::SeqCst);
    }
    fn finished(&self, _: Duration) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
    fn retried(&self) {
        self.retried.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn observer_sees_adds_retries_and_work() {
    let obs = Arc::new(Counting::default());
    let q: WorkQueue<&str> = WorkQueue::new(Backoff::default(), Arc::clone(&obs) as Arc<dyn QueueObserver>);
    q.add("a");
    let a = q.get().await.unwrap();
    q.done(&a);
    q.add_rate_limited("a");
    let a = q.get().await.unwrap();
    q.done(&a);
    assert_eq!(obs.added.load(Ordering::SeqCst), 2, "a delayed item counts when it is queued");
    assert_eq!(obs.retried.load(Ordering::SeqCst), 1);
    assert_eq!(obs.finished.load(Ordering::SeqCst), 2);
}
