//! Leader election against a real kube-apiserver (hack/cluster), with two electors in one
//! process and short durations (lease 6 s, renew deadline 4 s, retry 0.5 s): long enough
//! that a loaded machine's slow requests do not cost a renewal, short enough to run fast.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestNamespace, client, config, eventually};
use eddy_controller_runtime::events::KubeRecorder;
use eddy_controller_runtime::leader::{LeaderElector, LeaseConfig};
use eddy_controller_runtime::metrics::Metrics;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

const LEASE: &str = "eddy-test-leader-election";

fn fast(namespace: &str, identity: &str) -> LeaseConfig {
    LeaseConfig {
        identity: identity.to_owned(),
        lease_duration: Duration::from_secs(6),
        renew_deadline: Duration::from_secs(4),
        retry_period: Duration::from_millis(500),
        ..LeaseConfig::new(namespace, LEASE)
    }
}

/// A running elector.
struct Candidate {
    identity: String,
    state: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Candidate {
    fn start(elector: LeaderElector) -> Self {
        let identity = elector.identity().to_owned();
        let state = elector.subscribe();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(elector.run(async move {
            let _ = stopped.await;
        }));
        Self { identity, state, stop: Some(stop), task }
    }

    fn leading(&self) -> bool {
        *self.state.borrow()
    }

    /// Shuts the elector down and waits for `run` to return.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("run returns after shutdown").unwrap();
    }
}

/// Fails the test if two candidates ever lead at the same time; checked at every change.
fn never_both(a: &Candidate, b: &Candidate) -> Arc<AtomicBool> {
    let violated = Arc::new(AtomicBool::new(false));
    let (mut ra, mut rb, v) = (a.state.clone(), b.state.clone(), Arc::clone(&violated));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = ra.changed() => if r.is_err() { return },
                r = rb.changed() => if r.is_err() { return },
            }
            if *ra.borrow() && *rb.borrow() {
                v.store(true, Ordering::SeqCst);
            }
        }
    });
    violated
}

async fn lease(client: &Client, namespace: &str) -> Option<Lease> {
    Api::<Lease>::namespaced(client.clone(), namespace).get_opt(LEASE).await.unwrap()
}

async fn holder(client: &Client, namespace: &str) -> String {
    lease(client, namespace).await.and_then(|l| l.spec).and_then(|s| s.holder_identity).unwrap_or_default()
}

async fn wait_leading(c: &Candidate, within: Duration, what: &str) {
    let state = c.state.clone();
    eventually(within, what, || {
        let state = state.clone();
        async move { (*state.borrow()).then_some(()) }
    })
    .await;
}

fn is_micro_time(s: &str) -> bool {
    // 2026-01-02T15:04:05.123456Z
    s.len() == 27 && s.as_bytes()[19] == b'.' && s[20..26].bytes().all(|b| b.is_ascii_digit()) && s.ends_with('Z')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_leads_and_hands_over_on_shutdown() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-leader").await;
    let recorder = KubeRecorder::new(client.clone(), "eddy");
    let (ma, mb) = (Metrics::new(), Metrics::new());
    let a = LeaderElector::new(client.clone(), fast(&ns.name, "candidate-a"))
        .unwrap()
        .with_recorder(&recorder)
        .with_metrics(ma.clone());
    let b = LeaderElector::new(client.clone(), fast(&ns.name, "candidate-b"))
        .unwrap()
        .with_recorder(&recorder)
        .with_metrics(mb.clone());
    let (a, b) = (Candidate::start(a), Candidate::start(b));
    let violated = never_both(&a, &b);

    eventually(Duration::from_secs(10), "a leader", || async { (a.leading() || b.leading()).then_some(()) }).await;
    let (leader, follower, leader_metrics) = if a.leading() { (a, b, ma) } else { (b, a, mb) };
    let first = lease(&client, &ns.name).await.unwrap().spec.unwrap();
    assert_eq!(first.holder_identity.as_deref(), Some(leader.identity.as_str()));
    assert_eq!(first.lease_duration_seconds, Some(6));
    assert_eq!(first.lease_transitions, Some(0));
    // Leadership is stable over several lease durations, and the leader keeps renewing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(leader.leading() && !follower.leading());
    let later = lease(&client, &ns.name).await.unwrap();
    let spec = later.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(leader.identity.as_str()));
    assert_eq!(spec.acquire_time, first.acquire_time);
    assert!(spec.renew_time.as_ref().unwrap().0 > first.renew_time.as_ref().unwrap().0);
    let raw = serde_json::to_value(&spec).unwrap();
    assert!(is_micro_time(raw["renewTime"].as_str().unwrap()), "{raw}");
    assert!(is_micro_time(raw["acquireTime"].as_str().unwrap()), "{raw}");
    assert!(leader_metrics.render().contains(&format!("leader_election_master_status{{name=\"{LEASE}\"}} 1\n")));

    // Shutting the leader down releases the lease: the follower takes over well within the
    // lease duration.
    let (old, new) = (leader.identity.clone(), follower.identity.clone());
    leader.stop().await;
    assert!(leader_metrics.render().contains(&format!("leader_election_master_status{{name=\"{LEASE}\"}} 0\n")));
    wait_leading(&follower, Duration::from_secs(6), "the follower to take over").await;
    let spec = lease(&client, &ns.name).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(new.as_str()));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(6));
    follower.stop().await;
    assert!(!violated.load(Ordering::SeqCst), "two candidates led at once");
    assert_eq!(holder(&client, &ns.name).await, "", "released on shutdown");

    // The Events controller-runtime's lease lock records.
    assert!(recorder.flush(Duration::from_secs(30)).await);
    let events = Api::<Event>::namespaced(client.clone(), &ns.name).list(&ListParams::default()).await.unwrap().items;
    let messages: Vec<String> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("LeaderElection"))
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Lease") && e.involved_object.name.as_deref() == Some(LEASE)
        })
        .filter_map(|e| e.message.clone())
        .collect();
    for m in [format!("{old} became leader"), format!("{old} stopped leading"), format!("{new} became leader")] {
        assert!(messages.contains(&m), "{m:?} not in {messages:?}");
    }
    let became = events.iter().find(|e| e.message.as_deref() == Some(&format!("{new} became leader"))).unwrap();
    assert_eq!(became.source.as_ref().and_then(|s| s.component.as_deref()), Some(new.as_str()));
    assert_eq!(became.involved_object.api_version.as_deref(), Some("coordination.k8s.io/v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_leader_is_replaced_once_its_lease_expires() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-leader-crash").await;
    let a = Candidate::start(LeaderElector::new(client.clone(), fast(&ns.name, "crashing")).unwrap());
    wait_leading(&a, Duration::from_secs(10), "the first candidate to lead").await;
    let b = Candidate::start(LeaderElector::new(client.clone(), fast(&ns.name, "survivor")).unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!b.leading());
    // A crash: no release, no more renewals.
    a.task.abort();
    // The survivor saw the lease renewed less than ~1.1 s before the crash, so it may not
    // take it for at least the rest of the 6 s lease duration...
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!b.leading(), "the lease was taken before it expired");
    // ...and takes it soon after.
    wait_leading(&b, Duration::from_secs(8), "the survivor to take over").await;
    let spec = lease(&client, &ns.name).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("survivor"));
    assert_eq!(spec.lease_transitions, Some(1));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_steps_down_at_once_and_competes_again() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-leader-taken").await;
    let a = Candidate::start(LeaderElector::new(client.clone(), fast(&ns.name, "holder")).unwrap());
    wait_leading(&a, Duration::from_secs(10), "the candidate to lead").await;
    let api = Api::<Lease>::namespaced(client.clone(), &ns.name);
    // Overwrite the holder (retrying when a renewal slips in between the read and the write).
    for attempt in 0.. {
        let mut taken = api.get(LEASE).await.unwrap();
        if let Some(spec) = taken.spec.as_mut() {
            spec.holder_identity = Some("intruder".into());
        }
        match api.replace(LEASE, &PostParams::default(), &taken).await {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.is_conflict() && attempt < 10 => {}
            Err(e) => panic!("overwriting the lease: {e}"),
        }
    }
    // Well before the 4 s renew deadline: the next renewal sees the new holder.
    let state = a.state.clone();
    eventually(Duration::from_secs(2), "the holder to step down", || {
        let state = state.clone();
        async move { (!*state.borrow()).then_some(()) }
    })
    .await;
    // The intruder never renews: after the lease duration the candidate takes the lease back.
    wait_leading(&a, Duration::from_secs(12), "the candidate to lead again").await;
    let spec = lease(&client, &ns.name).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("holder"));
    assert_eq!(spec.lease_transitions, Some(1));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_lease_is_recreated_by_its_leader() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-leader-deleted").await;
    let a = Candidate::start(LeaderElector::new(client.clone(), fast(&ns.name, "holder")).unwrap());
    wait_leading(&a, Duration::from_secs(10), "the candidate to lead").await;
    let flipped = Arc::new(AtomicBool::new(false));
    let (mut watch_state, f) = (a.state.clone(), Arc::clone(&flipped));
    tokio::spawn(async move {
        while watch_state.changed().await.is_ok() {
            if !*watch_state.borrow() {
                f.store(true, Ordering::SeqCst);
            }
        }
    });
    let uid = lease(&client, &ns.name).await.unwrap().metadata.uid;
    Api::<Lease>::namespaced(client.clone(), &ns.name).delete(LEASE, &DeleteParams::default()).await.unwrap();
    let recreated = eventually(Duration::from_secs(5), "the lease to be recreated", || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { lease(&client, &ns).await.filter(|l| l.metadata.uid.is_some()) }
    })
    .await;
    assert_ne!(recreated.metadata.uid, uid);
    assert_eq!(recreated.spec.unwrap().holder_identity.as_deref(), Some("holder"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.leading() && !flipped.load(Ordering::SeqCst), "client-go keeps leading through a re-create");
    a.stop().await;
}

/// A TCP relay to the API server that can be cut.
struct Relay {
    addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let t = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                t.lock().unwrap().push(relay);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// Closes the listener and every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_steps_down_by_the_renew_deadline() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-leader-cut").await;
    let mut relayed = config().await;
    let target: SocketAddr =
        format!("{}:{}", relayed.cluster_url.host().unwrap(), relayed.cluster_url.port_u16().unwrap()).parse().unwrap();
    let relay = Relay::start(target).await;
    relayed.cluster_url = format!("https://{}", relay.addr).parse().unwrap();
    let a =
        Candidate::start(LeaderElector::new(Client::try_from(relayed).unwrap(), fast(&ns.name, "isolated")).unwrap());
    wait_leading(&a, Duration::from_secs(10), "the relayed candidate to lead").await;
    let b = Candidate::start(LeaderElector::new(client.clone(), fast(&ns.name, "connected")).unwrap());
    let violated = never_both(&a, &b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    relay.cut();
    // Renewals now fail: within the renew deadline (plus a retry period) it gives up.
    let state = a.state.clone();
    eventually(Duration::from_secs(6), "the isolated leader to step down", || {
        let state = state.clone();
        async move { (!*state.borrow()).then_some(()) }
    })
    .await;
    assert_eq!(holder(&client, &ns.name).await, "isolated", "nobody else took the lease yet");
    wait_leading(&b, Duration::from_secs(8), "the connected candidate to take over").await;
    assert!(!violated.load(Ordering::SeqCst), "two candidates led at once");
    b.stop().await;
    a.task.abort();
}
