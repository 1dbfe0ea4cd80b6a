//! kill -9 of `eddy serve` under concurrent HTTP writes, checked through the HTTP API only.
//!
//! Several clients create, replace, merge-patch and delete GitRepositories and Kustomizations
//! while the server is SIGKILLed at random moments and restarted on the same data directory;
//! two watches (one per resource) follow everything, resuming after each kill from the last
//! resourceVersion they saw. After every restart:
//! - every write answered 200/201 is there with the resourceVersion of its answer (or the one
//!   of a write whose answer the kill swallowed: such a write may or may not have landed, and
//!   only its own outcome is accepted), and deleted objects stay deleted;
//! - resourceVersions never go back: every list and write after the restart is past the
//!   newest one acknowledged before it;
//! - at the end, each watch delivered every acknowledged change, in order, exactly once.
//!
//! History stays long enough for the resumed watches: the server keeps it for 5 minutes by
//! age and the watches resume within seconds of each restart, so a 410 Expired would be a bug
//! here (the test fails on any ERROR event).
//!
//! Bounded: a fixed number of kills, a timeout on every phase. `EDDY_CRASH_SEED` replays the
//! choices of a run (kill times, operations); the seed is printed at the start and in every
//! failure.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::blocking::Client;
use serde_json::{Value, json};

const KILLS: usize = 24;
const CLIENTS: usize = 4;
const OBJECTS_PER_CLIENT: usize = 8;
const NAMESPACE: &str = "crash";
const SEQ: &str = "crash.eddy.dev/seq";
const PHASE: Duration = Duration::from_secs(60);

/// One of the two resources written.
struct Kind {
    group_version: &'static str,
    plural: &'static str,
    kind: &'static str,
    spec: fn() -> Value,
}

const KINDS: [Kind; 2] = [
    Kind {
        group_version: "source.toolkit.fluxcd.io/v1",
        plural: "gitrepositories",
        kind: "GitRepository",
        spec: || json!({"url": "https://github.com/stefanprodan/podinfo", "interval": "5m"}),
    },
    Kind {
        group_version: "kustomize.toolkit.fluxcd.io/v1",
        plural: "kustomizations",
        kind: "Kustomization",
        spec: || {
            json!({"interval": "10m", "prune": true, "path": "./kustomize",
                        "sourceRef": {"kind": "GitRepository", "name": "podinfo"}})
        },
    },
];

impl Kind {
    fn collection(&self) -> String {
        format!("/apis/{}/namespaces/{NAMESPACE}/{}", self.group_version, self.plural)
    }
}

struct Server(Child);

impl Server {
    fn start(data: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--secure-port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start eddy serve");
        Server(child)
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's address and admin credentials, read from its data directory.
#[derive(Clone)]
struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    fn new(data: &Path, port: u16, timeout: Option<Duration>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = std::fs::read(data.join("pki/ca.crt")).expect("CA certificate");
        let token = std::fs::read_to_string(data.join("token")).expect("admin token").trim().to_owned();
        let client = Client::builder()
            .tls_certs_merge([reqwest::Certificate::from_pem(&ca).expect("CA PEM")])
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .expect("HTTP client");
        Self { client, base: format!("https://127.0.0.1:{port}"), token }
    }

    /// Sends one request; `Err` when no answer arrived (the server died or is down).
    fn call(&self, method: reqwest::Method, path: &str, body: Option<(&str, Value)>) -> Result<(u16, Value), String> {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body.to_string());
        }
        let resp = req.send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.call(reqwest::Method::GET, path, None)
    }
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no rv: {obj}"))
}

fn seq_of(obj: &Value) -> u64 {
    obj["metadata"]["annotations"][SEQ].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no seq: {obj}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Present { rv: u64, seq: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Replace,
    Patch,
    Delete,
}

/// An acknowledged change, as the watch must deliver it.
#[derive(Debug, Clone, Copy)]
enum Acked {
    /// ADDED (`added`) or MODIFIED at exactly `rv`.
    Put { rv: u64, added: bool },
    /// DELETED, after the object's previous version.
    Deleted,
}

/// What the test knows of one object: its last acknowledged state, the write whose answer
/// a kill swallowed (its sequence number), and every acknowledged change.
struct Tracked {
    kind: usize,
    name: String,
    state: State,
    unanswered: Option<(Op, u64)>,
    acked: Vec<Acked>,
}

/// Totals for the report.
#[derive(Default)]
struct Figures {
    acked: AtomicU64,
    unanswered: AtomicU64,
    /// Newest resourceVersion acknowledged so far.
    max_rv: AtomicU64,
}

/// What the clients of one kill cycle share.
struct Cycle<'a> {
    api: &'a Api,
    stop: &'a AtomicBool,
    seqs: &'a AtomicU64,
    /// Every write answered in this cycle must be past this resourceVersion.
    floor: u64,
    figures: &'a Figures,
    seed: u64,
}

/// Writes to `objects` (this client's own) until a request goes unanswered or `stop`.
fn client(cycle: &Cycle<'_>, objects: &mut [Tracked], rng: &mut StdRng) {
    let Cycle { api, stop, seqs, floor, figures, seed } = *cycle;
    while !stop.load(Ordering::Acquire) {
        let i = rng.random_range(0..objects.len());
        let o = &mut objects[i];
        let kind = &KINDS[o.kind];
        let seq = seqs.fetch_add(1, Ordering::Relaxed);
        let item = format!("{}/{}", kind.collection(), o.name);
        let (op, result) = match o.state {
            State::Absent => {
                let body = json!({"apiVersion": kind.group_version, "kind": kind.kind,
                    "metadata": {"name": o.name, "namespace": NAMESPACE, "annotations": {SEQ: seq.to_string()}},
                    "spec": (kind.spec)()});
                (Op::Create, api.call(reqwest::Method::POST, &kind.collection(), Some(("application/json", body))))
            }
            State::Present { rv, .. } => match rng.random_range(0..10) {
                0..4 => {
                    let body = json!({"apiVersion": kind.group_version, "kind": kind.kind,
                        "metadata": {"name": o.name, "namespace": NAMESPACE, "resourceVersion": rv.to_string(),
                                     "annotations": {SEQ: seq.to_string()}},
                        "spec": (kind.spec)()});
                    (Op::Replace, api.call(reqwest::Method::PUT, &item, Some(("application/json", body))))
                }
                4..8 => {
                    let body = json!({"metadata": {"annotations": {SEQ: seq.to_string()}}});
                    (Op::Patch, api.call(reqwest::Method::PATCH, &item, Some(("application/merge-patch+json", body))))
                }
                _ => (Op::Delete, api.call(reqwest::Method::DELETE, &item, None)),
            },
        };
        let Ok((status, body)) = result else {
            o.unanswered = Some((op, seq));
            figures.unanswered.fetch_add(1, Ordering::Relaxed);
            return;
        };
        assert!(matches!(status, 200 | 201), "seed {seed}: {op:?} {item} answered {status}: {body}");
        figures.acked.fetch_add(1, Ordering::Relaxed);
        if op == Op::Delete {
            o.state = State::Absent;
            o.acked.push(Acked::Deleted);
            continue;
        }
        let rv = rv_of(&body);
        assert!(rv > floor, "seed {seed}: {op:?} {item} answered rv {rv}, not past {floor} acknowledged before");
        assert_eq!(seq_of(&body), seq, "seed {seed}: {op:?} {item} answered another version");
        if let State::Present { rv: before, .. } = o.state {
            assert!(rv > before, "seed {seed}: {item} went from rv {before} to {rv}");
        }
        o.state = State::Present { rv, seq };
        o.acked.push(Acked::Put { rv, added: op == Op::Create });
        figures.max_rv.fetch_max(rv, Ordering::Relaxed);
    }
}

/// After a restart: each object is as acknowledged, or as its unanswered write left it.
/// Returns how many unanswered writes landed.
fn verify(api: &Api, objects: &mut [Tracked], floor: u64, seed: u64) -> u64 {
    let mut landed = 0;
    for o in objects {
        let item = format!("{}/{}", KINDS[o.kind].collection(), o.name);
        let (status, body) = api.get(&item).unwrap_or_else(|e| panic!("seed {seed}: GET {item}: {e}"));
        let seen = match status {
            200 => State::Present { rv: rv_of(&body), seq: seq_of(&body) },
            404 => State::Absent,
            s => panic!("seed {seed}: GET {item} answered {s}: {body}"),
        };
        landed += match (o.unanswered.take(), o.state, seen) {
            (_, a, b) if a == b => 0,
            (Some((Op::Delete, _)), State::Present { .. }, State::Absent) => 1,
            (Some((Op::Create | Op::Replace | Op::Patch, seq)), before, State::Present { rv, seq: s }) if s == seq => {
                assert!(rv > floor, "seed {seed}: {item} landed at rv {rv}, not past {floor}");
                if let State::Present { rv: b, .. } = before {
                    assert!(rv > b, "seed {seed}: {item} went back from rv {b} to {rv}");
                }
                1
            }
            (unanswered, expected, seen) => panic!(
                "seed {seed}: after restart {item} is {seen:?}, acknowledged {expected:?} (unanswered write: {unanswered:?})"
            ),
        };
        o.state = seen;
    }
    landed
}

/// One watch event: type, name, resourceVersion.
type Seen = (String, String, u64);

/// Follows one resource from `from`, resuming from the last resourceVersion seen whenever the
/// stream ends, until `done`. Any ERROR event (such as 410 Expired) or a resourceVersion that
/// does not move forward is recorded as a failure.
fn watch(api: &Api, kind: &Kind, from: u64, done: &AtomicBool, seen: &Mutex<Vec<Seen>>, failures: &Mutex<Vec<String>>) {
    let mut last = from;
    while !done.load(Ordering::Acquire) {
        let url = format!("{}{}?watch=true&resourceVersion={last}", api.base, kind.collection());
        let Ok(resp) = api.client.get(url).bearer_auth(&api.token).send() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if resp.status() != 200 {
            failures.lock().unwrap().push(format!("watch {} from {last}: {}", kind.plural, resp.status()));
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                failures.lock().unwrap().push(format!("watch {}: not JSON: {line}", kind.plural));
                break;
            };
            let kind_of = event["type"].as_str().unwrap_or_default().to_owned();
            if kind_of == "ERROR" || kind_of == "BOOKMARK" {
                failures.lock().unwrap().push(format!("watch {} from {last}: {event}", kind.plural));
                continue;
            }
            let rv = rv_of(&event["object"]);
            if rv <= last {
                failures.lock().unwrap().push(format!("watch {}: rv {rv} after {last} ({kind_of})", kind.plural));
            }
            last = last.max(rv);
            let name = event["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            seen.lock().unwrap().push((kind_of, name, rv));
        }
    }
}

/// Every acknowledged change of `o` is among its watch events, in order; unacknowledged
/// events (writes whose answer a kill swallowed) may come between.
fn delivered(o: &Tracked, events: &[(String, u64)], seed: u64) {
    let mut at = 0;
    for change in &o.acked {
        let found = events[at..].iter().position(|(t, rv)| match change {
            Acked::Put { rv: want, added } => rv == want && t == if *added { "ADDED" } else { "MODIFIED" },
            Acked::Deleted => t == "DELETED",
        });
        let Some(i) = found else {
            panic!("seed {seed}: {}/{}: the watch missed {change:?}; events {events:?}", KINDS[o.kind].plural, o.name)
        };
        at += i + 1;
    }
}

/// Waits until `server` answers a list; returns the list's resourceVersion.
fn wait_ready(api: &Api, server: &mut Server, seed: u64) -> u64 {
    let deadline = Instant::now() + PHASE;
    loop {
        if let Ok((200, list)) = api.get(&KINDS[0].collection()) {
            return rv_of(&list);
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("seed {seed}: eddy serve exited with {status} while starting");
        }
        assert!(Instant::now() < deadline, "seed {seed}: the server did not come back within {PHASE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_and_watches_resume_without_gaps() {
    let seed = std::env::var("EDDY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    eprintln!("crash_http seed {seed} (EDDY_CRASH_SEED={seed} replays its choices: kill times, operations)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let mut server = Server::start(&data, port);
    let deadline = Instant::now() + PHASE;
    while !data.join("kubeconfig").exists() {
        assert!(Instant::now() < deadline, "seed {seed}: no kubeconfig in {}", data.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    let api = Api::new(&data, port, Some(Duration::from_secs(20)));
    let watch_api = Api::new(&data, port, None);
    let start_rv = wait_ready(&api, &mut server, seed);

    let mut objects: Vec<Vec<Tracked>> = (0..CLIENTS)
        .map(|c| {
            (0..OBJECTS_PER_CLIENT)
                .map(|i| Tracked {
                    kind: (c + i) % KINDS.len(),
                    name: format!("c{c}-o{i}"),
                    state: State::Absent,
                    unanswered: None,
                    acked: Vec::new(),
                })
                .collect()
        })
        .collect();
    let figures = Figures::default();
    let seqs = AtomicU64::new(1);
    let done = Arc::new(AtomicBool::new(false));
    let seen: Vec<Arc<Mutex<Vec<Seen>>>> = KINDS.iter().map(|_| Arc::default()).collect();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let watchers: Vec<_> = (0..KINDS.len())
        .map(|k| {
            let (api, done, seen, failures) = (watch_api.clone(), done.clone(), seen[k].clone(), failures.clone());
            std::thread::spawn(move || watch(&api, &KINDS[k], start_rv, &done, &seen, &failures))
        })
        .collect();

    let mut floor = start_rv;
    let mut landed = 0;
    for cycle in 0..KILLS {
        let stop = AtomicBool::new(false);
        let run_for = Duration::from_millis(rng.random_range(50..1500));
        let client_seeds: Vec<u64> = (0..CLIENTS).map(|_| rng.random()).collect();
        let shared = Cycle { api: &api, stop: &stop, seqs: &seqs, floor, figures: &figures, seed };
        std::thread::scope(|s| {
            for (objs, cs) in objects.iter_mut().zip(&client_seeds) {
                let shared = &shared;
                s.spawn(move || client(shared, objs, &mut StdRng::seed_from_u64(*cs)));
            }
            std::thread::sleep(run_for);
            server.kill();
            stop.store(true, Ordering::Release);
        });
        server = Server::start(&data, port);
        let listed = wait_ready(&api, &mut server, seed);
        let acked = figures.max_rv.load(Ordering::Relaxed);
        assert!(
            listed >= acked,
            "seed {seed}: after kill {cycle} the list is at rv {listed}, {acked} was acknowledged"
        );
        for objs in &mut objects {
            landed += verify(&api, objs, floor, seed);
        }
        floor = listed;
    }

    // Catch the watches up: a sentinel written now is delivered after everything before it.
    for (k, kind) in KINDS.iter().enumerate() {
        let body = json!({"apiVersion": kind.group_version, "kind": kind.kind,
            "metadata": {"name": "sentinel", "namespace": NAMESPACE}, "spec": (kind.spec)()});
        let (status, obj) =
            api.call(reqwest::Method::POST, &kind.collection(), Some(("application/json", body))).unwrap();
        assert_eq!(status, 201, "seed {seed}: sentinel: {obj}");
        let rv = rv_of(&obj);
        let deadline = Instant::now() + PHASE;
        while !seen[k].lock().unwrap().iter().any(|(_, name, r)| name == "sentinel" && *r == rv) {
            assert!(Instant::now() < deadline, "seed {seed}: the {} watch did not catch up", kind.plural);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    done.store(true, Ordering::Release);
    server.kill();
    for w in watchers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "seed {seed}: watch failures: {failures:#?}");

    let mut per_object: BTreeMap<(usize, String), Vec<(String, u64)>> = BTreeMap::new();
    let mut events = 0;
    for (k, seen) in seen.iter().enumerate() {
        for (t, name, rv) in seen.lock().unwrap().iter() {
            per_object.entry((k, name.clone())).or_default().push((t.clone(), *rv));
            events += 1;
        }
    }
    let mut checked = 0;
    for o in objects.iter().flatten() {
        let events = per_object.get(&(o.kind, o.name.clone())).map_or(&[][..], Vec::as_slice);
        delivered(o, events, seed);
        checked += o.acked.len();
    }
    let acked = figures.acked.load(Ordering::Relaxed);
    let unanswered = figures.unanswered.load(Ordering::Relaxed);
    // No phantom or duplicate events: one per acknowledged write, unanswered write that
    // landed, and sentinel.
    assert_eq!(
        events,
        acked + landed + KINDS.len() as u64,
        "seed {seed}: watch events for {acked} acknowledged writes and {landed} unanswered ones that landed"
    );
    assert!(acked >= KILLS as u64 * 5, "seed {seed}: only {acked} writes were acknowledged");
    eprintln!(
        "crash_http: {KILLS} kills, {acked} writes acknowledged ({checked} checked through the watches), \
         {unanswered} unanswered at a kill ({landed} of them landed), {events} watch events, final rv {floor}"
    );
}
