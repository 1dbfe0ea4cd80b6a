//! The controller driver against Eddy's real API, in process (memory store): what enqueues a
//! reconcile and what does not, one reconcile per object at a time, backoff, leadership, the
//! serial patcher, deletion through the finalizer, and related kinds through an index.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_api::kustomize::Kustomization;
use eddy_api::source::GitRepository;
use eddy_apiserver::{HttpOptions, Registry, router};
use eddy_controller_runtime::controller::{Config, NoObserver};
use eddy_controller_runtime::patch::{PatchOptions, SerialPatcher};
use eddy_controller_runtime::queue::Backoff;
use eddy_controller_runtime::{
    Controller, Decision, FluxApi, FluxObject, Informer, ObjectKey, Reconciler, conditions, finalizer,
};
use eddy_storage::memory::MemoryEngine;
use eddy_storage::{Store, StoreOptions};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::watch;

fn client() -> kube::Client {
    let store = Store::open(MemoryEngine::new(), StoreOptions::default()).expect("store");
    kube::Client::new(router(Registry::new(store), HttpOptions::default()), "default")
}

fn config(concurrency: usize) -> Config {
    Config {
        name: "gitrepository".into(),
        concurrency,
        backoff: Backoff { min: Duration::from_millis(50), max: Duration::from_millis(400) },
        observer: Arc::new(NoObserver),
    }
}

async fn create(api: &FluxApi<GitRepository>, name: &str) {
    create_labeled(api, name, json!({})).await;
}

async fn create_labeled(api: &FluxApi<GitRepository>, name: &str, labels: serde_json::Value) {
    let o = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"interval": "10m", "url": format!("https://example.com/{name}")},
    });
    let o: kube::api::DynamicObject = serde_json::from_value(o).expect("object");
    api.dynamic().create(&kube::api::PostParams::default(), &o).await.expect("create");
}

/// What the test reconciler saw.
#[derive(Default)]
struct Seen {
    calls: Vec<(ObjectKey, Instant)>,
    running: HashMap<ObjectKey, usize>,
    max_parallel_same_key: usize,
}

/// Marks the object Ready through the serial patcher, like a real reconciler; optionally
/// sleeps, fails, or removes the finalizer of a deleted object.
struct Recorder {
    client: kube::Client,
    seen: Arc<Mutex<Seen>>,
    sleep: Duration,
    fail: bool,
}

impl Reconciler<GitRepository> for Recorder {
    async fn reconcile(&self, obj: Arc<GitRepository>) -> Decision {
        let key = obj.key();
        {
            let mut s = self.seen.lock();
            s.calls.push((key.clone(), Instant::now()));
            let n = s.running.entry(key.clone()).or_default();
            *n += 1;
            let n = *n;
            s.max_parallel_same_key = s.max_parallel_same_key.max(n);
        }
        tokio::time::sleep(self.sleep).await;
        let mut o = (*obj).clone();
        let api = FluxApi::<GitRepository>::namespaced(self.client.clone(), &key.namespace);
        let mut patcher = SerialPatcher::new(api, &o, "test-controller").expect("patcher");
        let decision = if o.is_deleting() {
            finalizer::remove(&mut o);
            Decision::done()
        } else if self.fail {
            Decision::failed("boom")
        } else {
            conditions::mark_true(&mut o, "Ready", "Succeeded", "ok");
            Decision::after(Duration::from_secs(600))
        };
        if let Err(e) = patcher.patch(&mut o, PatchOptions { observed_generation: true }).await {
            assert!(e.is_not_found(), "patch: {e}");
        }
        *self.seen.lock().running.entry(key).or_default() -= 1;
        decision
    }
}

struct Running {
    seen: Arc<Mutex<Seen>>,
    api: FluxApi<GitRepository>,
    leader: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn calls(&self, name: &str) -> usize {
        self.seen.lock().calls.iter().filter(|(k, _)| k.name == name).count()
    }

    async fn wait_calls(&self, name: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.calls(name) < n {
            assert!(Instant::now() < deadline, "{name}: {} reconciles, expected {n}", self.calls(name));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("controller stops").expect("join");
    }
}

fn start(concurrency: usize, sleep: Duration, fail: bool, leading: bool) -> Running {
    start_sharded(concurrency, sleep, fail, leading, None)
}

fn start_sharded(concurrency: usize, sleep: Duration, fail: bool, leading: bool, selector: Option<&str>) -> Running {
    let client = client();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut informer: Informer<GitRepository> = Informer::new(client.clone(), None, selector);
    let controller = Controller::new(&mut informer, config(concurrency));
    let reconciler = Arc::new(Recorder { client: client.clone(), seen: Arc::clone(&seen), sleep, fail });
    let (leader, leader_rx) = watch::channel(leading);
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let informer_task = tokio::spawn(informer.run());
        controller
            .run(reconciler, leader_rx, async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await;
        informer_task.abort();
    });
    Running { seen, api: FluxApi::namespaced(client, "default"), leader, stop, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_generation_reconcile_requests_and_deletion_enqueue() {
    let r = start(2, Duration::ZERO, false, true);
    create(&r.api, "a").await;
    r.wait_calls("a", 1).await;
    // Our own status patch does not come back as a reconcile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.calls("a"), 1, "a status update must not re-enqueue");
    let o = r.api.get("a").await.expect("get");
    assert!(conditions::is_true(&o, "Ready"));
    assert_eq!(o.observed_generation(), Some(1));

    // A label change: no. A spec change: yes. A reconcile request: yes.
    r.api.merge_patch("a", &json!({"metadata": {"labels": {"x": "y"}}}), "test").await.expect("label");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(r.calls("a"), 1, "metadata-only changes do not reconcile");
    r.api.merge_patch("a", &json!({"spec": {"interval": "11m"}}), "test").await.expect("spec");
    r.wait_calls("a", 2).await;
    let req = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t1"}}});
    r.api.merge_patch("a", &req, "test").await.expect("request");
    r.wait_calls("a", 3).await;
    assert_eq!(r.api.get("a").await.expect("get").observed_generation(), Some(2));

    // Deletion with a finalizer reaches the reconciler, which lets the object go.
    r.api.merge_patch("a", &json!({"metadata": {"finalizers": ["finalizers.fluxcd.io"]}}), "test").await.expect("fin");
    r.api.dynamic().delete("a", &Default::default()).await.expect("delete");
    r.wait_calls("a", 4).await;
    let gone = async {
        while r.api.get_opt("a").await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gone).await.expect("the finalizer was removed");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_is_never_reconciled_twice_at_once() {
    let r = start(4, Duration::from_millis(150), false, true);
    create(&r.api, "busy").await;
    for i in 0..10 {
        r.api.merge_patch("busy", &json!({"spec": {"interval": format!("{}m", 20 + i)}}), "test").await.expect("spec");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    r.wait_calls("busy", 2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (max_parallel, n) = {
        let s = r.seen.lock();
        (s.max_parallel_same_key, s.calls.len())
    };
    assert_eq!(max_parallel, 1, "one object reconciled twice at once");
    // Ten quick changes collapse into a few reconciles, not ten.
    assert!((2..=6).contains(&n), "{n} reconciles for 11 changes");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_back_off_exponentially() {
    let r = start(1, Duration::ZERO, true, true);
    create(&r.api, "bad").await;
    r.wait_calls("bad", 5).await;
    let times: Vec<Instant> = r.seen.lock().calls.iter().map(|(_, t)| *t).collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 50, 100, 200, 400 ms (capped).
    for (gap, expected) in gaps.iter().zip([50u64, 100, 200, 400]) {
        let e = Duration::from_millis(expected);
        assert!(*gap >= e && *gap < e + Duration::from_millis(250), "gaps {gaps:?}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_leader_reconciles() {
    let r = start(2, Duration::ZERO, false, false);
    create(&r.api, "waiting").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.calls("waiting"), 0, "a follower must not reconcile");
    let _ = r.leader.send(true);
    r.wait_calls("waiting", 1).await;
    let _ = r.leader.send(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    r.api.merge_patch("waiting", &json!({"spec": {"interval": "12m"}}), "test").await.expect("spec");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.calls("waiting"), 1, "leadership lost: no more reconciles");
    let _ = r.leader.send(true);
    r.wait_calls("waiting", 2).await;
    r.stop().await;
}

/// A Kustomization controller that learns about new GitRepository revisions through an index.
struct CountKs(Arc<Mutex<Vec<String>>>);

impl Reconciler<Kustomization> for CountKs {
    async fn reconcile(&self, obj: Arc<Kustomization>) -> Decision {
        self.0.lock().push(obj.key().name.clone());
        Decision::done()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_change_enqueues_its_dependents_through_an_index() {
    let client = client();
    let mut sources: Informer<GitRepository> = Informer::new(client.clone(), None, None);
    let mut kss: Informer<Kustomization> = Informer::new(client.clone(), None, None);
    kss.index("source", |ks: &Kustomization| {
        let r = &ks.spec.source_ref;
        let ns = r.namespace.clone().or_else(|| ks.metadata.namespace.clone()).unwrap_or_default();
        vec![format!("{}/{ns}/{}", r.kind, r.name)]
    });
    let index = kss.store();
    let mut config = config(2);
    config.name = "kustomization".into();
    let controller = Controller::new(&mut kss, config).watch_related(&mut sources, move |change| {
        let revision = |o: &Option<Arc<GitRepository>>| {
            o.as_ref().and_then(|g| g.status.as_ref()?.artifact.as_ref().map(|a| a.revision.clone()))
        };
        if revision(&change.old) == revision(&change.new) {
            return Vec::new();
        }
        let key = change.key();
        index.by_index("source", &format!("GitRepository/{}/{}", key.namespace, key.name))
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (_leader, leader_rx) = watch::channel(true);
    let (stop, mut stop_rx) = watch::channel(false);
    let tasks = [tokio::spawn(sources.run()), tokio::spawn(kss.run())];
    let run = tokio::spawn(controller.run(Arc::new(CountKs(Arc::clone(&seen))), leader_rx, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    let gr = FluxApi::<GitRepository>::namespaced(client.clone(), "default");
    create(&gr, "app").await;
    let ks_api = FluxApi::<Kustomization>::namespaced(client.clone(), "default");
    for (name, source) in [("uses-app", "app"), ("uses-other", "other")] {
        let o = json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": source}},
        });
        let o: kube::api::DynamicObject = serde_json::from_value(o).expect("ks");
        ks_api.dynamic().create(&kube::api::PostParams::default(), &o).await.expect("create ks");
    }
    let wait = |n: usize| {
        let seen = Arc::clone(&seen);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.lock().len() < n {
                assert!(Instant::now() < deadline, "reconciles: {:?}", seen.lock());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait(2).await; // both created
    let artifact = json!({"status": {"artifact": {
        "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z", "path": "p", "revision": "main@sha1:1", "url": "http://x/p"}}});
    gr.merge_patch_status("app", &artifact, "test").await.expect("status");
    wait(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen_now = seen.lock().clone();
    assert_eq!(seen_now.len(), 3, "{seen_now:?}");
    assert_eq!(seen_now[2], "uses-app", "only the dependent is enqueued: {seen_now:?}");

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops").expect("join");
    for t in tasks {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_reconciles_only_the_objects_its_selector_matches() {
    // Flux's sharding: shard controllers select `sharding.fluxcd.io/key=<shard>`, the main one
    // everything without the key.
    for (selector, expected) in
        [("sharding.fluxcd.io/key=shard1", "in-shard1"), ("!sharding.fluxcd.io/key", "unsharded")]
    {
        let r = start_sharded(2, Duration::ZERO, false, true, Some(selector));
        create(&r.api, "unsharded").await;
        for (name, shard) in [("in-shard1", "shard1"), ("in-shard2", "shard2")] {
            create_labeled(&r.api, name, json!({"sharding.fluxcd.io/key": shard})).await;
        }
        r.wait_calls(expected, 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let names: Vec<String> = r.seen.lock().calls.iter().map(|(k, _)| k.name.clone()).collect();
        assert!(names.iter().all(|n| n == expected), "{selector}: {names:?}");
        r.stop().await;
    }
}

/// Works (counted), then waits for all of `waiters` to be waiting at once inside
/// [`eddy_controller_runtime::slot::released`]; panics once for objects named `panics`.
struct Waiting {
    working: Arc<std::sync::atomic::AtomicUsize>,
    max_working: Arc<std::sync::atomic::AtomicUsize>,
    all_waiting: Arc<tokio::sync::Barrier>,
    done: Arc<Mutex<Vec<String>>>,
    panicked: Arc<std::sync::atomic::AtomicBool>,
}

impl Waiting {
    async fn work(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.working.fetch_add(1, SeqCst) + 1;
        self.max_working.fetch_max(n, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.working.fetch_sub(1, SeqCst);
    }
}

impl Reconciler<GitRepository> for Waiting {
    async fn reconcile(&self, obj: Arc<GitRepository>) -> Decision {
        let name = obj.key().name;
        if name == "panics" && !self.panicked.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("the first reconcile of {name} panics");
        }
        self.work().await;
        if name != "panics" {
            // Completes only when every waiter is waiting at the same time: with one slot that
            // needs the slot to be given back during the wait.
            let _ = eddy_controller_runtime::slot::released(self.all_waiting.wait()).await;
        }
        self.work().await;
        self.done.lock().push(name);
        Decision::after(Duration::from_secs(600))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_released_wait_frees_the_slot_and_a_panic_is_retried() {
    use std::sync::atomic::Ordering::SeqCst;
    let client = client();
    let mut informer: Informer<GitRepository> = Informer::new(client.clone(), None, None);
    let controller = Controller::new(&mut informer, config(1));
    let reconciler = Arc::new(Waiting {
        working: Arc::default(),
        max_working: Arc::default(),
        all_waiting: Arc::new(tokio::sync::Barrier::new(3)),
        done: Arc::default(),
        panicked: Arc::default(),
    });
    let (stop, mut stop_rx) = watch::channel(false);
    let task = {
        let reconciler = Arc::clone(&reconciler);
        tokio::spawn(async move {
            let informer_task = tokio::spawn(informer.run());
            let leader = watch::channel(true).1;
            controller.run(reconciler, leader, async move { drop(stop_rx.wait_for(|s| *s).await) }).await;
            informer_task.abort();
        })
    };
    let api = FluxApi::<GitRepository>::namespaced(client, "default");
    for name in ["w1", "panics", "w2", "w3"] {
        create(&api, name).await;
    }
    let all_done = async {
        while reconciler.done.lock().len() < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), all_done)
        .await
        .unwrap_or_else(|_| panic!("not all reconciled with one slot: {:?}", reconciler.done.lock()));
    assert!(reconciler.panicked.load(SeqCst), "the panicking reconcile ran");
    assert_eq!(reconciler.max_working.load(SeqCst), 1, "work outside waits exceeded --concurrent=1");
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("controller stops").expect("join");
}

/// Waits (slot released) until told to go on, then records that it finished.
struct WaitsForSignal {
    go: Arc<tokio::sync::Notify>,
    waiting: Arc<tokio::sync::Notify>,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

impl Reconciler<GitRepository> for WaitsForSignal {
    async fn reconcile(&self, _obj: Arc<GitRepository>) -> Decision {
        eddy_controller_runtime::slot::released(async {
            self.waiting.notify_one();
            self.go.notified().await;
        })
        .await;
        self.finished.store(true, std::sync::atomic::Ordering::SeqCst);
        Decision::after(Duration::from_secs(600))
    }
}

/// A reconcile coming back from a released wait while nothing else is queued gets its slot
/// back: the dispatcher must not sit on the only slot while it waits for the next key (it
/// did, and the reconcile then waited for as long as the queue stayed empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_ending_while_the_queue_is_empty_gets_its_slot_back() {
    let client = client();
    let mut informer: Informer<GitRepository> = Informer::new(client.clone(), None, None);
    let controller = Controller::new(&mut informer, config(1));
    let reconciler = Arc::new(WaitsForSignal { go: Arc::default(), waiting: Arc::default(), finished: Arc::default() });
    let (stop, mut stop_rx) = watch::channel(false);
    let task = {
        let reconciler = Arc::clone(&reconciler);
        tokio::spawn(async move {
            let informer_task = tokio::spawn(informer.run());
            let leader = watch::channel(true).1;
            controller.run(reconciler, leader, async move { drop(stop_rx.wait_for(|s| *s).await) }).await;
            informer_task.abort();
        })
    };
    let api = FluxApi::<GitRepository>::namespaced(client, "default");
    create(&api, "only").await;
    tokio::time::timeout(Duration::from_secs(20), reconciler.waiting.notified()).await.expect("the reconcile waits");
    // Let the dispatcher go back to the (now empty) queue before the wait ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    reconciler.go.notify_one();
    let finished = async {
        while !reconciler.finished.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), finished)
        .await
        .expect("the reconcile took its slot back and finished with the queue empty");
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("controller stops").expect("join");
}
