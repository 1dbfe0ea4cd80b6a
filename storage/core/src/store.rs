//! [`Store`]: the versioned object store, generic over its engine.
//!
//! Two threads own every mutation, in a two-stage group commit. Callers send requests over a
//! channel to the **sequencer**, which validates each against the newest state (committed or
//! in flight), assigns consecutive revisions and stages the writes into the next batch. The
//! **committer** takes that batch the moment it is free, writes it as one [`WriteBatch`] with
//! a single durable sync, then publishes its events to watchers and answers its callers.
//! While one batch syncs, everything that arrives is staged into the next, so each sync
//! carries all that queued up during the previous one. Reads never go through either thread:
//! they read engine snapshots, which carry the revision they reflect.
//!
//! # Guarantees
//! - Revisions are global, strictly increasing, and never reused — also across restarts,
//!   because the counter is written in the same batch as the data.
//! - A write is acknowledged only after its batch is durable (when `sync` is on, the default).
//! - Compare-and-swap, quotas and the size limit are checked by the writer, so they hold
//!   atomically with respect to every other write.
//! - A list reflects exactly one revision, also across pages.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::codec::{self, Event, EventType, Object};
use crate::engine::{EngineStats, KvEngine, KvRead, WriteBatch};
use crate::error::Error;
use crate::key::{self, Key, Prefix, Revision};
use crate::watch::{Hub, Watcher, history_revision};

/// Tuning and limits of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest object value accepted, in bytes. Default 1.5 MiB, etcd's request limit.
    pub max_object_bytes: usize,
    /// Quota applied to namespaces without one of their own. Default: unlimited.
    pub default_quota: Quota,
    /// How long history is kept for watch and paginated lists. Default 5 minutes.
    pub history_retention: Duration,
    /// How often the writer checks for history to compact. Default 10 seconds.
    pub compaction_interval: Duration,
    /// Most requests committed in one batch (one sync). Default 1024.
    pub max_batch: usize,
    /// Events buffered per watcher before it is cut off as lagging. Default 8192.
    pub watch_buffer: usize,
    /// Whether a write waits for the engine's durable sync. Default true; turn off only in
    /// tests that do not care about crashes.
    pub sync: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_object_bytes: 1536 * 1024,
            default_quota: Quota::UNLIMITED,
            history_retention: Duration::from_secs(300),
            compaction_interval: Duration::from_secs(10),
            max_batch: 1024,
            watch_buffer: 8192,
            sync: true,
        }
    }
}

/// Limits on one namespace's objects (across all resources). `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    /// Most objects.
    pub max_objects: Option<u64>,
    /// Most bytes of object values.
    pub max_bytes: Option<u64>,
}

impl Quota {
    /// No limit at all.
    pub const UNLIMITED: Quota = Quota { max_objects: None, max_bytes: None };
}

/// What one namespace currently holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Number of objects.
    pub objects: u64,
    /// Sum of object value sizes in bytes.
    pub bytes: u64,
}

/// Conditions a delete must meet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// The stored object's uid must equal this.
    pub uid: Option<String>,
    /// The stored object's revision must equal this.
    pub revision: Option<Revision>,
}

/// Options of [`Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// List the state as of exactly this revision (it must not be compacted). `None` lists
    /// the newest state.
    pub revision: Option<Revision>,
    /// Start strictly after this `(namespace, name)`: the continuation of a previous page.
    pub start_after: Option<(String, String)>,
    /// Return at most this many objects.
    pub limit: Option<usize>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// The objects, ordered by (namespace, name).
    pub objects: Vec<Object>,
    /// The revision the page reflects. Later pages must be asked for at this revision.
    pub revision: Revision,
    /// Whether more objects follow the last one returned.
    pub more: bool,
}

/// A deleted object and the revision of its deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The object as it was just before deletion.
    pub object: Object,
    /// The revision the deletion was committed at.
    pub revision: Revision,
}

/// Point-in-time figures about a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    /// Newest committed revision.
    pub revision: Revision,
    /// History at or below this revision is gone.
    pub compacted: Revision,
    /// Registered watchers.
    pub watchers: usize,
    /// Batches written to the engine since the store was opened, each with one durable sync
    /// (when `sync` is on): writes divided by this is the group-commit batch size.
    pub batches: u64,
    /// Engine figures.
    pub engine: EngineStats,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

enum Request {
    Create { key: Key, uid: String, value: Bytes, reply: Reply<Object> },
    Update { key: Key, value: Bytes, expected: Option<Revision>, reply: Reply<Object> },
    Delete { key: Key, preconditions: Preconditions, reply: Reply<Deleted> },
    SetQuota { namespace: String, quota: Option<Quota>, reply: Reply<()> },
    Compact { revision: Revision, reply: Option<Reply<Revision>> },
}

/// State shared by the store handles, the writer and watchers.
pub(crate) struct Shared<E> {
    pub(crate) engine: E,
    pub(crate) hub: Hub,
    pub(crate) options: StoreOptions,
    current: AtomicU64,
    compacted: AtomicU64,
    batches: AtomicU64,
    usage: Mutex<HashMap<String, Usage>>,
    quotas: Mutex<HashMap<String, Quota>>,
}

struct Handle<E> {
    shared: Arc<Shared<E>>,
    tx: Mutex<Option<Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl<E> Drop for Handle<E> {
    fn drop(&mut self) {
        self.tx.lock().take();
        if let Some(writer) = self.writer.lock().take() {
            let _ = writer.join();
        }
    }
}

/// The versioned object store. Cheap to clone; the store shuts down when the last clone is
/// dropped (watchers then end with [`crate::WatchError::Closed`]).
pub struct Store<E: KvEngine> {
    handle: Arc<Handle<E>>,
}

impl<E: KvEngine> Clone for Store<E> {
    fn clone(&self) -> Self {
        Self { handle: Arc::clone(&self.handle) }
    }
}

pub(crate) fn read_meta(snapshot: &impl KvRead, name: &[u8]) -> Result<u64, Error> {
    match snapshot.get(name)? {
        Some(bytes) => codec::decode_u64(&bytes),
        None => Ok(0),
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl<E: KvEngine> Store<E> {
    /// Opens a store over `engine`, recovering the revision counter, compaction point,
    /// quotas, usage and the history time index, and starts the writer thread.
    pub fn open(engine: E, options: StoreOptions) -> Result<Self, Error> {
        let snapshot = engine.snapshot();
        let current = read_meta(&snapshot, key::META_REVISION)?;
        let compacted = read_meta(&snapshot, key::META_COMPACTED)?;
        let mut usage = HashMap::new();
        let mut quotas = HashMap::new();
        let mut resources: HashMap<String, HashMap<String, ResourceName>> = HashMap::new();
        let mut times = VecDeque::new();
        let mut failure = None;
        snapshot.scan(b"u", b"v", &mut |k, v| {
            match codec::decode_u64_pair(v) {
                Ok((objects, bytes)) => {
                    usage.insert(String::from_utf8_lossy(&k[1..]).into_owned(), Usage { objects, bytes });
                }
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        snapshot.scan(b"q", b"r", &mut |k, v| {
            match codec::decode_u64_pair(v) {
                Ok((objects, bytes)) => {
                    let quota = Quota {
                        max_objects: (objects != u64::MAX).then_some(objects),
                        max_bytes: (bytes != u64::MAX).then_some(bytes),
                    };
                    quotas.insert(String::from_utf8_lossy(&k[1..]).into_owned(), quota);
                }
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        snapshot.scan(b"r", b"s", &mut |k, _| {
            if let Some(r) = key::parse_resource_marker(k) {
                resources.entry(r.0.clone()).or_default().insert(r.1.clone(), Arc::new(r));
            }
            true
        })?;
        snapshot.scan(b"t", b"u", &mut |k, v| {
            match codec::decode_u64(v) {
                Ok(rev) => times.push_back((history_revision(k), rev)),
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        drop(snapshot);

        let shared = Arc::new(Shared {
            engine,
            hub: Hub::new(current),
            options,
            current: AtomicU64::new(current),
            compacted: AtomicU64::new(compacted),
            batches: AtomicU64::new(0),
            usage: Mutex::new(usage),
            quotas: Mutex::new(quotas),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            shared: Arc::clone(&shared),
            rx,
            resources,
            times,
            pending: HashMap::new(),
            usage: shared.usage.lock().clone(),
            quotas: shared.quotas.lock().clone(),
            rev: current,
            compacted,
            committed: current,
        };
        let thread = std::thread::Builder::new()
            .name("eddy-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Engine(crate::EngineError::new(format!("spawning writer: {e}"))))?;
        Ok(Self { handle: Arc::new(Handle { shared, tx: Mutex::new(Some(tx)), writer: Mutex::new(Some(thread)) }) })
    }

    fn shared(&self) -> &Arc<Shared<E>> {
        &self.handle.shared
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        {
            let tx = self.handle.tx.lock();
            let tx = tx.as_ref().ok_or(Error::Closed)?;
            tx.send(make(reply)).map_err(|_| Error::Closed)?;
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    fn check_size(&self, value: &Bytes) -> Result<(), Error> {
        let limit = self.shared().options.max_object_bytes;
        if value.len() > limit {
            return Err(Error::TooLarge { size: value.len(), limit });
        }
        Ok(())
    }

    /// Creates `key` with `value`. Fails with [`Error::AlreadyExists`] if it exists.
    pub async fn create(&self, key: &Key, uid: &str, value: Bytes) -> Result<Object, Error> {
        key.validate()?;
        self.check_size(&value)?;
        let (key, uid) = (key.clone(), uid.to_owned());
        self.call(|reply| Request::Create { key, uid, value, reply }).await
    }

    /// Replaces the value of `key`. With `expected`, only if the stored revision equals it
    /// ([`Error::Conflict`] otherwise).
    pub async fn update(&self, key: &Key, value: Bytes, expected: Option<Revision>) -> Result<Object, Error> {
        key.validate()?;
        self.check_size(&value)?;
        let key = key.clone();
        self.call(|reply| Request::Update { key, value, expected, reply }).await
    }

    /// Deletes `key` if `preconditions` hold.
    pub async fn delete(&self, key: &Key, preconditions: Preconditions) -> Result<Deleted, Error> {
        key.validate()?;
        let key = key.clone();
        self.call(|reply| Request::Delete { key, preconditions, reply }).await
    }

    /// Read-modify-write retried on conflict: reads `key`, asks `update` for the new value
    /// and writes it if nobody wrote in between, else starts over. An `update` that returns
    /// the current bytes unchanged writes nothing and returns the current object.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the key does not exist; whatever `update` returns.
    pub async fn guaranteed_update<F>(&self, key: &Key, mut update: F) -> Result<Object, Error>
    where
        F: FnMut(&Object) -> Result<Bytes, Error>,
    {
        loop {
            let current = self.get(key)?;
            let value = update(&current)?;
            if value == current.value {
                return Ok(current);
            }
            match self.update(key, value, Some(current.mod_revision)).await {
                Err(e) if e.is_conflict() => {}
                other => return other,
            }
        }
    }

    /// Reads the newest state of `key`.
    pub fn get(&self, key: &Key) -> Result<Object, Error> {
        key.validate()?;
        let snapshot = self.shared().engine.snapshot();
        match snapshot.get(&key.encode())? {
            Some(bytes) => codec::decode_object(&key.namespace, &key.name, &bytes),
            None => Err(Error::NotFound),
        }
    }

    /// Lists the objects under `prefix` from one consistent snapshot, in (namespace, name)
    /// order. With `options.revision`, lists the state as of that revision, rebuilt from the
    /// retained history; [`Error::Compacted`] if that history is gone.
    pub fn list(&self, prefix: &Prefix, options: &ListOptions) -> Result<ListResult, Error> {
        prefix.validate()?;
        let snapshot = self.shared().engine.snapshot();
        let current = read_meta(&snapshot, key::META_REVISION)?;
        let at = match options.revision {
            None => current,
            Some(r) if r > current => return Err(Error::FutureRevision { requested: r, current }),
            Some(r) => {
                let compacted = read_meta(&snapshot, key::META_COMPACTED)?;
                if r < compacted {
                    return Err(Error::Compacted { requested: r, compacted });
                }
                r
            }
        };
        let (range_start, range_end) = prefix.object_range();
        let after = options.start_after.as_ref();
        let start = match after {
            Some((ns, name)) => {
                let mut k = prefix.object_key(ns, name);
                k.push(0);
                k.max(range_start.clone())
            }
            None => range_start.clone(),
        };
        let want = options.limit.map_or(usize::MAX, |l| l.saturating_add(1));

        // Keys changed after `at`: their state as of `at` is the `prev` of their first later
        // event (None when they were created later).
        let mut changed: BTreeMap<(String, String), Option<Object>> = BTreeMap::new();
        if at < current {
            let hstart = key::history_key(&prefix.group, &prefix.resource, at + 1);
            let hend = key::history_key(&prefix.group, &prefix.resource, current.saturating_add(1));
            let mut failure = None;
            snapshot.scan(&hstart, &hend, &mut |k, v| {
                match codec::event_key(v) {
                    Ok((ns, name)) => {
                        let selected = prefix.matches_namespace(ns)
                            && after.is_none_or(|(a_ns, a_name)| (ns, name) > (a_ns.as_str(), a_name.as_str()));
                        if selected && !changed.contains_key(&(ns.to_owned(), name.to_owned())) {
                            match codec::decode_event(history_revision(k), v) {
                                Ok(stored) => {
                                    changed.insert((ns.to_owned(), name.to_owned()), stored.event.prev);
                                }
                                Err(e) => failure = Some(e),
                            }
                        }
                    }
                    Err(e) => failure = Some(e),
                }
                failure.is_none()
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
        }

        let prefix_len = key::resource_prefix(b'o', &prefix.group, &prefix.resource).len();
        let mut objects = Vec::new();
        let mut pending = changed.into_iter().peekable();
        let mut failure = None;
        snapshot.scan(&start, &range_end, &mut |k, v| {
            let Some((ns, name)) = key::split_object_key(k, prefix_len) else {
                failure = Some(Error::Corrupt("malformed object key".into()));
                return false;
            };
            // Emit historical states of keys that sort before this one.
            while let Some(((pns, pname), _)) = pending.peek() {
                if (pns.as_str(), pname.as_str()) >= (ns, name) {
                    break;
                }
                if let Some((_, Some(obj))) = pending.next() {
                    objects.push(obj);
                }
                if objects.len() >= want {
                    return false;
                }
            }
            if let Some(((pns, pname), _)) = pending.peek()
                && (pns.as_str(), pname.as_str()) == (ns, name)
            {
                if let Some((_, Some(obj))) = pending.next() {
                    objects.push(obj);
                }
            } else {
                match codec::decode_object(ns, name, v) {
                    Ok(obj) if obj.mod_revision <= at => objects.push(obj),
                    Ok(_) => {}
                    Err(e) => {
                        failure = Some(e);
                        return false;
                    }
                }
            }
            objects.len() < want
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if objects.len() < want {
            for (_, obj) in pending {
                if let Some(obj) = obj {
                    objects.push(obj);
                }
                if objects.len() >= want {
                    break;
                }
            }
        }
        let more = objects.len() >= want && options.limit.is_some();
        if more {
            objects.truncate(want - 1);
        }
        Ok(ListResult { objects, revision: at, more })
    }

    /// Watches `prefix` for every change committed after revision `from`.
    ///
    /// # Errors
    /// [`Error::Compacted`] if history after `from` is no longer complete.
    pub fn watch(&self, prefix: &Prefix, from: Revision) -> Result<Watcher<E>, Error> {
        prefix.validate()?;
        let compacted = self.shared().compacted.load(Ordering::Acquire);
        if from < compacted {
            return Err(Error::Compacted { requested: from, compacted });
        }
        Watcher::start(Arc::clone(self.shared()), prefix.clone(), from)
    }

    /// The newest committed revision.
    pub fn current_revision(&self) -> Revision {
        self.shared().current.load(Ordering::Acquire)
    }

    /// History at or below this revision has been compacted.
    pub fn compacted_revision(&self) -> Revision {
        self.shared().compacted.load(Ordering::Acquire)
    }

    /// Compacts history at and below `revision` now (background compaction does this on its
    /// own by age). Returns the resulting compacted revision.
    pub async fn compact(&self, revision: Revision) -> Result<Revision, Error> {
        self.call(|reply| Request::Compact { revision, reply: Some(reply) }).await
    }

    /// Sets (or with `None`, clears) the quota of `namespace`.
    pub async fn set_quota(&self, namespace: &str, quota: Option<Quota>) -> Result<(), Error> {
        let namespace = namespace.to_owned();
        self.call(|reply| Request::SetQuota { namespace, quota, reply }).await
    }

    /// The quota in force for `namespace`.
    pub fn quota(&self, namespace: &str) -> Quota {
        self.shared().quotas.lock().get(namespace).copied().unwrap_or(self.shared().options.default_quota)
    }

    /// What `namespace` currently holds.
    pub fn usage(&self, namespace: &str) -> Usage {
        self.shared().usage.lock().get(namespace).copied().unwrap_or_default()
    }

    /// Writes a consistent online backup to `dir` (which must not exist). Open it with the
    /// engine's own open function to restore.
    pub fn backup(&self, dir: &Path) -> Result<(), Error> {
        Ok(self.shared().engine.checkpoint(dir)?)
    }

    /// Current figures.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            revision: self.current_revision(),
            compacted: self.compacted_revision(),
            watchers: self.shared().hub.watcher_count(),
            batches: self.shared().batches.load(Ordering::Relaxed),
            engine: self.shared().engine.stats(),
        }
    }
}

/// The sequencer: validates every request against the newest state (committed or still in
/// flight), assigns revisions and stages the writes. It owns all mutable bookkeeping.
///
/// Group commit in two stages, handing over through a [`Pipeline`]: while the [`committer`]
/// makes one batch durable, the sequencer stages every request that arrives into the next
/// one, which the committer takes the moment it is free. So each sync carries everything that
/// queued up during the previous one (never a trickle of small batches), the CPU work of the
/// next batch overlaps the current sync, and no thread hand-off sits between two syncs.
struct Writer<E> {
    shared: Arc<Shared<E>>,
    rx: Receiver<Request>,
    /// Resources that have history (for compaction).
    resources: HashMap<String, HashMap<String, ResourceName>>,
    /// `(bucket_start_unix_ms, revision)`: the last revision committed in each time bucket.
    times: VecDeque<(u64, Revision)>,
    /// Objects written by batches not yet known committed: key → (revision, state).
    pending: HashMap<Vec<u8>, Arc<Event>>,
    /// Authoritative per-namespace usage, including in-flight batches.
    usage: HashMap<String, Usage>,
    /// Authoritative quotas, including in-flight batches.
    quotas: HashMap<String, Quota>,
    /// Last revision assigned (committed or in flight).
    rev: Revision,
    /// Last compaction point assigned.
    compacted: Revision,
    /// Newest revision known durable.
    committed: Revision,
}

/// `(group, resource)`, shared by every event of that resource.
pub(crate) type ResourceName = Arc<(String, String)>;

/// Width of one time-index bucket. History is compacted bucket by bucket, so it is kept for
/// at least the retention window and at most one bucket longer.
const TIME_BUCKET_MS: u64 = 100;

enum Outcome {
    Object(Reply<Object>, Result<Object, Error>),
    Deleted(Reply<Deleted>, Result<Deleted, Error>),
    Unit(Reply<()>, Result<(), Error>),
    Compacted(Reply<Revision>, Result<Revision, Error>),
}

impl Outcome {
    fn send(self) {
        match self {
            Outcome::Object(reply, r) => drop(reply.send(r)),
            Outcome::Deleted(reply, r) => drop(reply.send(r)),
            Outcome::Unit(reply, r) => drop(reply.send(r)),
            Outcome::Compacted(reply, r) => drop(reply.send(r)),
        }
    }

    /// Answers with `err` unless the request had already failed on its own.
    fn fail(self, err: &str) {
        let engine = || Error::Engine(crate::EngineError::new(err.to_owned()));
        match self {
            Outcome::Object(reply, r) => drop(reply.send(Err(r.err().unwrap_or_else(engine)))),
            Outcome::Deleted(reply, r) => drop(reply.send(Err(r.err().unwrap_or_else(engine)))),
            Outcome::Unit(reply, r) => drop(reply.send(Err(r.err().unwrap_or_else(engine)))),
            Outcome::Compacted(reply, r) => drop(reply.send(Err(r.err().unwrap_or_else(engine)))),
        }
    }
}

/// A batch being filled: validated, sequenced writes and everything needed to commit them.
/// Self-contained, so that the committer can close it without asking the sequencer.
struct Building {
    wb: WriteBatch,
    /// The last revision assigned before this batch.
    start_rev: Revision,
    /// The last revision assigned in this batch.
    last_rev: Revision,
    requests: usize,
    /// Namespaces written, with their usage after this batch.
    usage: HashMap<String, Usage>,
    /// Time-index buckets written, with the last revision of each.
    times: Vec<(u64, Revision)>,
    quotas: Vec<(String, Option<Quota>)>,
    events: Vec<(ResourceName, Arc<Event>)>,
    outcomes: Vec<Outcome>,
    compacted: Option<Revision>,
}

impl Building {
    fn new(rev: Revision) -> Self {
        Self {
            wb: WriteBatch::new(),
            start_rev: rev,
            last_rev: rev,
            requests: 0,
            usage: HashMap::new(),
            times: Vec::new(),
            quotas: Vec::new(),
            events: Vec::new(),
            outcomes: Vec::new(),
            compacted: None,
        }
    }

    /// Appends `later`, staged after everything in `self`.
    fn append(&mut self, later: Building) {
        self.wb.append(later.wb);
        self.last_rev = later.last_rev;
        self.requests += later.requests;
        self.usage.extend(later.usage);
        for (bucket, rev) in later.times {
            match self.times.last_mut() {
                Some((b, r)) if *b == bucket => *r = rev,
                _ => self.times.push((bucket, rev)),
            }
        }
        self.quotas.extend(later.quotas);
        self.events.extend(later.events);
        self.outcomes.extend(later.outcomes);
        if later.compacted.is_some() {
            self.compacted = later.compacted;
        }
    }

    /// Closes the batch: adds the revision counter, usage and time index.
    fn finish(self) -> Commit {
        let Building { mut wb, start_rev, last_rev, usage, times, quotas, events, outcomes, compacted, .. } = self;
        if last_rev != start_rev {
            wb.put(key::META_REVISION.to_vec(), last_rev.to_be_bytes().to_vec());
        }
        for (ns, u) in &usage {
            wb.put(key::usage_key(ns), codec::encode_u64_pair(u.objects, u.bytes));
        }
        for (bucket, rev) in times {
            wb.put(key::time_key(bucket), rev.to_be_bytes().to_vec());
        }
        Commit { batch: wb, revision: last_rev, events, outcomes, usage, quotas, compacted }
    }
}

/// One closed batch, as the committer writes it.
struct Commit {
    batch: WriteBatch,
    /// The revision the store reaches once this batch is durable.
    revision: Revision,
    events: Vec<(ResourceName, Arc<Event>)>,
    outcomes: Vec<Outcome>,
    usage: HashMap<String, Usage>,
    quotas: Vec<(String, Option<Quota>)>,
    compacted: Option<Revision>,
}

/// The hand-over point between sequencer and committer: at most one batch waits in it, and
/// the sequencer keeps appending to that batch until the committer takes it.
struct Pipeline {
    state: Mutex<PipelineState>,
    /// Signalled when the waiting batch grew, or the sequencer stopped.
    staged: Condvar,
    /// Signalled when the committer took the waiting batch.
    taken: Condvar,
}

struct PipelineState {
    next: Option<Building>,
    /// The sequencer has stopped: the committer commits what is left and ends.
    closed: bool,
    /// The committer has ended (only by a panic while the sequencer runs): whatever is
    /// handed over now is dropped, so its callers see [`Error::Closed`] instead of waiting.
    committer_gone: bool,
}

/// Marks the committer gone when its thread ends, also by unwinding.
struct CommitterGone<'a>(&'a Pipeline);

impl Drop for CommitterGone<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.committer_gone = true;
        state.next = None;
        self.0.taken.notify_all();
    }
}

/// Marks the sequencer stopped when it ends, also by unwinding, so that the committer
/// commits what is left and ends instead of waiting for more.
struct SequencerGone<'a>(&'a Pipeline);

impl Drop for SequencerGone<'_> {
    fn drop(&mut self) {
        self.0.state.lock().closed = true;
        self.0.staged.notify_one();
    }
}

/// Makes batches durable, in order, then publishes their events and answers their callers.
/// It takes the waiting batch the moment it is free: never waiting for more keeps the disk
/// busy. (Waiting for the callers just answered to write again would merge the two groups a
/// closed loop of callers settles into — one being synced while the other refills — into one
/// twice as large, but measured on a loaded 2-core machine the wait cost more than the larger
/// syncs gained.)
///
/// After an engine write fails, the store is failed: that batch and every later one are
/// answered with the error (batches prepared after it may depend on its writes), as RocksDB
/// itself turns read-only after a write error. Restarting recovers the last durable state.
fn committer<E: KvEngine>(shared: &Shared<E>, pipeline: &Pipeline) {
    let _gone = CommitterGone(pipeline);
    let mut failure: Option<String> = None;
    loop {
        let building = {
            let mut state = pipeline.state.lock();
            loop {
                if let Some(b) = state.next.take() {
                    break Some(b);
                }
                if state.closed {
                    break None;
                }
                pipeline.staged.wait(&mut state);
            }
        };
        let Some(building) = building else { break };
        pipeline.taken.notify_one();
        let commit = building.finish();
        if let Some(err) = &failure {
            commit.outcomes.into_iter().for_each(|o| o.fail(err));
            continue;
        }
        let result = if commit.batch.is_empty() {
            Ok(())
        } else {
            let written = shared.engine.write(&commit.batch, shared.options.sync);
            if written.is_ok() {
                shared.batches.fetch_add(1, Ordering::Relaxed);
            }
            written
        };
        match result {
            Ok(()) => {
                shared.usage.lock().extend(commit.usage);
                {
                    let mut stored = shared.quotas.lock();
                    for (ns, q) in commit.quotas {
                        match q {
                            Some(q) => stored.insert(ns, q),
                            None => stored.remove(&ns),
                        };
                    }
                }
                if let Some(c) = commit.compacted {
                    shared.compacted.store(c, Ordering::Release);
                }
                if commit.revision > shared.current.load(Ordering::Acquire) {
                    // Before answering: once a caller holds its answer, the sequencer can
                    // already see that the write is durable (explicit compactions rely on it).
                    shared.current.store(commit.revision, Ordering::Release);
                    shared.hub.publish(&commit.events, commit.revision);
                }
                commit.outcomes.into_iter().for_each(Outcome::send);
            }
            Err(e) => {
                tracing::error!(error = %e, "committing a write batch failed; the store is now failed");
                let msg = format!("{e} (the store refuses writes until it is reopened)");
                commit.outcomes.into_iter().for_each(|o| o.fail(&msg));
                failure = Some(msg);
            }
        }
    }
}

impl<E: KvEngine> Writer<E> {
    fn run(mut self) {
        let pipeline = Arc::new(Pipeline {
            state: Mutex::new(PipelineState { next: None, closed: false, committer_gone: false }),
            staged: Condvar::new(),
            taken: Condvar::new(),
        });
        let shared = Arc::clone(&self.shared);
        let committer_pipeline = Arc::clone(&pipeline);
        let committer_thread = std::thread::Builder::new()
            .name("eddy-store-commit".into())
            .spawn(move || committer(&shared, &committer_pipeline));
        let Ok(committer_thread) = committer_thread else {
            tracing::error!("could not start the commit thread");
            self.shared.hub.close();
            return;
        };
        let interval = self.shared.options.compaction_interval.max(Duration::from_millis(10));
        let mut next_compaction = Instant::now() + interval;
        let sequencer_gone = SequencerGone(&pipeline);
        loop {
            let wait = next_compaction.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(first) => self.sequence(&pipeline, first),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_compaction {
                self.absorb_committed();
                let mut b = Building::new(self.rev);
                self.compact_by_age(&mut b);
                if b.compacted.is_some() {
                    self.hand_over(&pipeline, b);
                }
                next_compaction = Instant::now() + interval;
            }
        }
        drop(sequencer_gone);
        let _ = committer_thread.join();
        self.shared.hub.close();
    }

    /// Validates `first` and whatever else is queued, in chunks that fit the waiting batch,
    /// and hands them over.
    fn sequence(&mut self, pipeline: &Pipeline, first: Request) {
        let max_batch = self.shared.options.max_batch.max(1);
        let mut first = Some(first);
        loop {
            // A full batch waits for the committer; requests meanwhile wait in the channel.
            let room = {
                let mut state = pipeline.state.lock();
                loop {
                    let room = max_batch.saturating_sub(state.next.as_ref().map_or(0, |b| b.requests));
                    if room > 0 || state.committer_gone {
                        break room.max(1);
                    }
                    pipeline.taken.wait(&mut state);
                }
            };
            let mut batch = Vec::new();
            batch.extend(first.take());
            while batch.len() < room {
                match self.rx.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            let more = batch.len() == room;
            self.absorb_committed();
            let mut b = Building::new(self.rev);
            self.add(&mut b, batch);
            self.hand_over(pipeline, b);
            if !more {
                return;
            }
        }
    }

    /// Appends `b` to the waiting batch (or makes it the waiting batch) and wakes the
    /// committer.
    fn hand_over(&self, pipeline: &Pipeline, b: Building) {
        let mut state = pipeline.state.lock();
        if state.committer_gone {
            return;
        }
        match &mut state.next {
            Some(waiting) => waiting.append(b),
            None => state.next = Some(b),
        }
        pipeline.staged.notify_one();
    }

    /// Forgets in-flight state that the engine now holds.
    fn absorb_committed(&mut self) {
        let rev = self.shared.current.load(Ordering::Acquire);
        if rev > self.committed {
            self.committed = rev;
            self.pending.retain(|_, ev| ev.revision > rev);
        }
    }

    fn compact_by_age(&mut self, b: &mut Building) {
        let cutoff = now_unix_ms().saturating_sub(self.shared.options.history_retention.as_millis() as u64);
        let target = self.times.iter().take_while(|(ms, _)| *ms + TIME_BUCKET_MS <= cutoff).last().map(|(_, rev)| *rev);
        if let Some(target) = target
            && let Some(point) = self.compaction(&mut b.wb, target)
        {
            b.compacted = Some(point);
        }
    }

    /// Adds to `wb` the writes that compact history at and below `target` (clamped to what
    /// is durable: compaction never removes history of a batch still in flight). Returns the
    /// new compaction point, or `None` when there is nothing to do.
    fn compaction(&mut self, wb: &mut WriteBatch, target: Revision) -> Option<Revision> {
        let target = target.min(self.committed);
        if target <= self.compacted {
            return None;
        }
        for (group, resource) in self.resources.values().flat_map(HashMap::values).map(|r| &**r) {
            wb.delete_range(key::history_key(group, resource, 0), key::history_key(group, resource, target + 1));
            wb.delete_range(key::successor_key(group, resource, 0), key::successor_key(group, resource, target + 1));
        }
        let mut dropped_times = 0;
        for (ms, rev) in &self.times {
            if *rev > target {
                break;
            }
            wb.delete(key::time_key(*ms));
            dropped_times += 1;
        }
        self.times.drain(..dropped_times);
        wb.put(key::META_COMPACTED.to_vec(), target.to_be_bytes().to_vec());
        self.compacted = target;
        tracing::debug!(revision = target, "compacting history");
        Some(target)
    }

    fn lookup(&self, snapshot: &impl KvRead, key: &Key, ek: &[u8]) -> Result<Option<Object>, Error> {
        if let Some(ev) = self.pending.get(ek) {
            return Ok(ev.object.clone());
        }
        match snapshot.get(ek)? {
            Some(bytes) => Ok(Some(codec::decode_object(&key.namespace, &key.name, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Records the usage of `ns` after a write, and that this batch touched it.
    fn set_usage(&mut self, ns: &str, after: Usage, touched: &mut HashSet<String>) {
        match self.usage.get_mut(ns) {
            Some(u) => *u = after,
            None => {
                self.usage.insert(ns.to_owned(), after);
            }
        }
        if !touched.contains(ns) {
            touched.insert(ns.to_owned());
        }
    }

    fn usage_of(&self, ns: &str) -> Usage {
        self.usage.get(ns).copied().unwrap_or_default()
    }

    fn quota_of(&self, ns: &str) -> Quota {
        self.quotas.get(ns).copied().unwrap_or(self.shared.options.default_quota)
    }

    fn check_quota(&self, ns: &str, after: Usage, before: Usage) -> Result<(), Error> {
        let quota = self.quota_of(ns);
        if let Some(max) = quota.max_objects
            && after.objects > max
            && after.objects > before.objects
        {
            return Err(Error::QuotaExceeded {
                namespace: ns.to_owned(),
                what: "objects",
                requested: after.objects,
                limit: max,
            });
        }
        if let Some(max) = quota.max_bytes
            && after.bytes > max
            && after.bytes > before.bytes
        {
            return Err(Error::QuotaExceeded {
                namespace: ns.to_owned(),
                what: "bytes",
                requested: after.bytes,
                limit: max,
            });
        }
        Ok(())
    }

    /// Validates `batch` against the newest state, assigns revisions and stages its writes
    /// into `b`.
    fn add(&mut self, b: &mut Building, batch: Vec<Request>) {
        let shared = Arc::clone(&self.shared);
        let snapshot = shared.engine.snapshot();
        let commit_ms = now_unix_ms();
        let mut touched_ns: HashSet<String> = HashSet::new();
        b.requests += batch.len();
        let Building { wb, quotas: quota_updates, events, outcomes, compacted, .. } = b;

        for req in batch {
            match req {
                Request::Create { key, uid, value, reply } => {
                    let ek = key.encode();
                    let result = (|| {
                        if self.lookup(&snapshot, &key, &ek)?.is_some() {
                            return Err(Error::AlreadyExists);
                        }
                        let before = self.usage_of(&key.namespace);
                        let after = Usage { objects: before.objects + 1, bytes: before.bytes + value.len() as u64 };
                        self.check_quota(&key.namespace, after, before)?;
                        Ok(after)
                    })();
                    let result = result.map(|after| {
                        self.rev += 1;
                        let obj = Object {
                            namespace: key.namespace.clone(),
                            name: key.name.clone(),
                            uid,
                            create_revision: self.rev,
                            mod_revision: self.rev,
                            value,
                        };
                        let ev = Event {
                            kind: EventType::Added,
                            revision: self.rev,
                            object: Some(obj.clone()),
                            prev: None,
                            commit_unix_ms: commit_ms,
                        };
                        self.set_usage(&key.namespace, after, &mut touched_ns);
                        self.stage(wb, &key, ek, Some(&obj), ev, events);
                        obj
                    });
                    outcomes.push(Outcome::Object(reply, result));
                }
                Request::Update { key, value, expected, reply } => {
                    let ek = key.encode();
                    let result = (|| {
                        let current = self.lookup(&snapshot, &key, &ek)?.ok_or(Error::NotFound)?;
                        if let Some(expected) = expected
                            && expected != current.mod_revision
                        {
                            return Err(Error::Conflict { expected, actual: current.mod_revision });
                        }
                        let before = self.usage_of(&key.namespace);
                        let after = Usage {
                            objects: before.objects,
                            bytes: (before.bytes + value.len() as u64).saturating_sub(current.value.len() as u64),
                        };
                        self.check_quota(&key.namespace, after, before)?;
                        Ok((current, after))
                    })();
                    let result = result.map(|(prev, after)| {
                        self.rev += 1;
                        let obj = Object { mod_revision: self.rev, value, ..prev.clone() };
                        let ev = Event {
                            kind: EventType::Modified,
                            revision: self.rev,
                            object: Some(obj.clone()),
                            prev: Some(prev),
                            commit_unix_ms: commit_ms,
                        };
                        self.set_usage(&key.namespace, after, &mut touched_ns);
                        self.stage(wb, &key, ek, Some(&obj), ev, events);
                        obj
                    });
                    outcomes.push(Outcome::Object(reply, result));
                }
                Request::Delete { key, preconditions, reply } => {
                    let ek = key.encode();
                    let result = (|| {
                        let current = self.lookup(&snapshot, &key, &ek)?.ok_or(Error::NotFound)?;
                        if let Some(uid) = &preconditions.uid
                            && *uid != current.uid
                        {
                            return Err(Error::PreconditionFailed(format!(
                                "uid in precondition: {uid}, uid in object: {}",
                                current.uid
                            )));
                        }
                        if let Some(r) = preconditions.revision
                            && r != current.mod_revision
                        {
                            return Err(Error::PreconditionFailed(format!(
                                "revision in precondition: {r}, revision in object: {}",
                                current.mod_revision
                            )));
                        }
                        Ok(current)
                    })();
                    let result = result.map(|prev| {
                        self.rev += 1;
                        let before = self.usage_of(&key.namespace);
                        let after = Usage {
                            objects: before.objects.saturating_sub(1),
                            bytes: before.bytes.saturating_sub(prev.value.len() as u64),
                        };
                        let ev = Event {
                            kind: EventType::Deleted,
                            revision: self.rev,
                            object: None,
                            prev: Some(prev.clone()),
                            commit_unix_ms: commit_ms,
                        };
                        self.set_usage(&key.namespace, after, &mut touched_ns);
                        self.stage(wb, &key, ek, None, ev, events);
                        Deleted { object: prev, revision: self.rev }
                    });
                    outcomes.push(Outcome::Deleted(reply, result));
                }
                Request::SetQuota { namespace, quota, reply } => {
                    match quota {
                        Some(q) => {
                            wb.put(
                                key::quota_key(&namespace),
                                codec::encode_u64_pair(
                                    q.max_objects.unwrap_or(u64::MAX),
                                    q.max_bytes.unwrap_or(u64::MAX),
                                ),
                            );
                            self.quotas.insert(namespace.clone(), q);
                        }
                        None => {
                            wb.delete(key::quota_key(&namespace));
                            self.quotas.remove(&namespace);
                        }
                    }
                    quota_updates.push((namespace, quota));
                    outcomes.push(Outcome::Unit(reply, Ok(())));
                }
                Request::Compact { revision, reply } => {
                    // Compaction needs the writes before it durable; it goes into this batch
                    // only up to what is committed, which is all it may remove anyway.
                    if let Some(point) = self.compaction(wb, revision) {
                        *compacted = Some(point);
                    }
                    if let Some(reply) = reply {
                        outcomes.push(Outcome::Compacted(reply, Ok(self.compacted)));
                    }
                }
            }
        }
        drop(snapshot);
        for ns in touched_ns {
            let u = self.usage_of(&ns);
            b.usage.insert(ns, u);
        }
        if self.rev != b.last_rev {
            b.last_rev = self.rev;
            // A clock that stepped back does not reorder the time index.
            let bucket = commit_ms - commit_ms % TIME_BUCKET_MS;
            let bucket = match self.times.back_mut() {
                Some((ms, last)) if *ms >= bucket => {
                    *last = self.rev;
                    *ms
                }
                _ => {
                    self.times.push_back((bucket, self.rev));
                    bucket
                }
            };
            match b.times.last_mut() {
                Some((ms, last)) if *ms == bucket => *last = self.rev,
                _ => b.times.push((bucket, self.rev)),
            }
        }
    }

    /// Adds one object write and its history event to the batch.
    fn stage(
        &mut self,
        wb: &mut WriteBatch,
        key: &Key,
        encoded_key: Vec<u8>,
        object: Option<&Object>,
        event: Event,
        events: &mut Vec<(ResourceName, Arc<Event>)>,
    ) {
        match object {
            Some(obj) => wb.put(encoded_key.clone(), codec::encode_object(obj)),
            None => wb.delete(encoded_key.clone()),
        }
        wb.put(key::history_key(&key.group, &key.resource, event.revision), codec::encode_event(&event));
        // The event stores the previous version's value; point that version's own event at it
        // (unless that event is compacted already, or being compacted).
        if let Some(prev) = &event.prev
            && prev.mod_revision > self.compacted
        {
            wb.put(
                key::successor_key(&key.group, &key.resource, prev.mod_revision),
                event.revision.to_be_bytes().to_vec(),
            );
        }
        let known = self.resources.get(key.group.as_str()).and_then(|r| r.get(key.resource.as_str()));
        let resource = match known {
            Some(r) => Arc::clone(r),
            None => {
                wb.put(key::resource_marker_key(&key.group, &key.resource), Vec::new());
                let r = Arc::new((key.group.clone(), key.resource.clone()));
                self.resources.entry(key.group.clone()).or_default().insert(key.resource.clone(), Arc::clone(&r));
                r
            }
        };
        let event = Arc::new(event);
        self.pending.insert(encoded_key, Arc::clone(&event));
        events.push((resource, event));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::engine::EngineError;
    use crate::memory::MemoryEngine;

    /// A memory engine whose writes start failing on demand, like a full or broken disk.
    #[derive(Default)]
    struct FlakyEngine {
        inner: MemoryEngine,
        broken: AtomicBool,
    }

    impl KvEngine for FlakyEngine {
        type Snapshot<'a> = <MemoryEngine as KvEngine>::Snapshot<'a>;
        fn snapshot(&self) -> Self::Snapshot<'_> {
            self.inner.snapshot()
        }
        fn write(&self, batch: &WriteBatch, sync: bool) -> Result<(), EngineError> {
            if self.broken.load(Ordering::Acquire) {
                return Err(EngineError::new("no space left on device"));
            }
            self.inner.write(batch, sync)
        }
        fn checkpoint(&self, dir: &Path) -> Result<(), EngineError> {
            self.inner.checkpoint(dir)
        }
    }

    #[tokio::test]
    async fn a_failed_write_fails_the_store_but_keeps_reads() {
        let s = Store::open(FlakyEngine::default(), StoreOptions::default()).unwrap();
        let k = Key::new("g", "r", "ns", "a");
        s.create(&k, "u", Bytes::from_static(b"1")).await.unwrap();
        s.shared().engine.broken.store(true, Ordering::Release);
        let err = s.update(&k, Bytes::from_static(b"2"), None).await.unwrap_err();
        assert!(matches!(err, Error::Engine(_)), "{err}");
        // Nothing of the failed write is visible, and the revision did not move.
        assert_eq!(&s.get(&k).unwrap().value[..], b"1");
        assert_eq!(s.current_revision(), 1);
        // Later writes are refused even once the engine works again: they were sequenced on
        // top of the failed batch's state. A reopen recovers.
        s.shared().engine.broken.store(false, Ordering::Release);
        let err = s.create(&Key::new("g", "r", "ns", "b"), "u", Bytes::from_static(b"x")).await.unwrap_err();
        assert!(err.to_string().contains("refuses writes until it is reopened"), "{err}");
        // Requests that fail on their own still say why.
        assert!(matches!(s.create(&k, "u", Bytes::from_static(b"x")).await, Err(Error::AlreadyExists)));
    }
}
