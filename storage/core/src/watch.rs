//! Watch: live fan-out of committed events, plus catch-up from the retained history.
//!
//! # Expected flow
//! 1. [`crate::Store::watch`] registers a bounded channel with the [`Hub`] under the hub's
//!    lock and records the hub's last published revision, `registered_at`.
//! 2. The watcher first replays history `(from, registered_at]` from the engine, in chunks,
//!    filtered to its namespace.
//! 3. It then drains its channel, which holds exactly the events published after
//!    `registered_at`.
//!
//! History stores each value once (see `codec::encode_event`): an event carries the object
//! before the change in full, but the object after it only by reference. A replay finds that
//! value in the next event of the same key within the chunk it read (as its `prev`), else in
//! the current object if it is still that version, else through the `n/` row that points at
//! the write that replaced it — all from the chunk's one snapshot.
//!
//! # Guarantees
//! - Every event with a revision greater than `from` that matches the prefix is delivered
//!   once, in revision order, with no gap at the history/live boundary: the writer commits a
//!   batch to the engine *before* publishing it, so history read after registration contains
//!   everything up to `registered_at`, and the channel everything after it.
//! - A watcher only receives its resource's events (and, for a namespaced watch, only its
//!   namespace's): the hub indexes senders by resource and namespace, so other resources'
//!   traffic costs it nothing.
//! - Publishing never blocks. A watcher whose channel is full is cut off and ends with
//!   [`WatchError::Lagged`] after the events it already holds; it can resume from the last
//!   revision it saw.
//!
//! # Errors
//! - [`WatchError::Compacted`] when history the watcher still needs was compacted.
//! - [`WatchError::Closed`] when the store shuts down.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::codec::{self, Event};
use crate::engine::{KvEngine, KvRead};
use crate::error::WatchError;
use crate::key::{self, Prefix, Revision};
use crate::store::Shared;

/// How many history entries a watcher reads per engine snapshot while catching up. Tiny in
/// unit tests, so that replays cross chunk boundaries.
const HISTORY_CHUNK: usize = if cfg!(test) { 3 } else { 512 };

#[derive(Default)]
struct SenderState {
    lagged: AtomicBool,
}

struct WatchSender {
    tx: mpsc::Sender<Arc<Event>>,
    state: Arc<SenderState>,
}

impl WatchSender {
    /// Offers an event; `false` means this sender is finished (lagged or abandoned).
    fn offer(&self, ev: &Arc<Event>) -> bool {
        match self.tx.try_send(Arc::clone(ev)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.state.lagged.store(true, Ordering::Release);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Default)]
struct ResourceWatchers {
    all_namespaces: Vec<WatchSender>,
    by_namespace: HashMap<String, Vec<WatchSender>>,
}

#[derive(Default)]
struct HubState {
    last_revision: Revision,
    closed: bool,
    resources: HashMap<(String, String), ResourceWatchers>,
}

/// The live fan-out point. Only the writer publishes; watchers register.
#[derive(Default)]
pub(crate) struct Hub {
    state: Mutex<HubState>,
}

impl Hub {
    pub(crate) fn new(last_revision: Revision) -> Self {
        Self { state: Mutex::new(HubState { last_revision, ..HubState::default() }) }
    }

    /// Delivers one committed batch, in revision order. Called by the writer after the batch
    /// is durable.
    pub(crate) fn publish(&self, events: &[(crate::store::ResourceName, Arc<Event>)], last_revision: Revision) {
        let mut state = self.state.lock();
        for (resource, ev) in events {
            let Some(watchers) = state.resources.get_mut(&**resource) else { continue };
            watchers.all_namespaces.retain(|s| s.offer(ev));
            if let Some(senders) = watchers.by_namespace.get_mut(ev.namespace()) {
                senders.retain(|s| s.offer(ev));
                if senders.is_empty() {
                    watchers.by_namespace.remove(ev.namespace());
                }
            }
        }
        state.last_revision = last_revision;
    }

    /// Registers a sender and returns the last published revision.
    fn register(&self, prefix: &Prefix, sender: WatchSender) -> Option<Revision> {
        let mut state = self.state.lock();
        if state.closed {
            return None;
        }
        let watchers = state.resources.entry((prefix.group.clone(), prefix.resource.clone())).or_default();
        match &prefix.namespace {
            None => watchers.all_namespaces.push(sender),
            Some(ns) => watchers.by_namespace.entry(ns.clone()).or_default().push(sender),
        }
        Some(state.last_revision)
    }

    /// Drops every sender: watchers see the end of their stream.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.resources.clear();
    }

    /// Number of registered watchers (for statistics).
    pub(crate) fn watcher_count(&self) -> usize {
        let state = self.state.lock();
        state
            .resources
            .values()
            .map(|w| w.all_namespaces.len() + w.by_namespace.values().map(Vec::len).sum::<usize>())
            .sum()
    }
}

/// A stream of events for one [`Prefix`], starting after a revision.
///
/// Obtain one from [`crate::Store::watch`]; read it with [`Watcher::next`] (async) or
/// [`Watcher::blocking_next`].
pub struct Watcher<E: KvEngine> {
    shared: Arc<Shared<E>>,
    prefix: Prefix,
    /// Revision of the last event delivered (initially the start revision).
    last: Revision,
    /// History has been scanned up to and including this revision.
    scanned: Revision,
    /// History covers `(from, history_until]`; the channel covers what follows.
    history_until: Revision,
    buffer: VecDeque<Arc<Event>>,
    rx: mpsc::Receiver<Arc<Event>>,
    state: Arc<SenderState>,
    finished: bool,
}

impl<E: KvEngine> Watcher<E> {
    pub(crate) fn start(shared: Arc<Shared<E>>, prefix: Prefix, from: Revision) -> Result<Self, crate::Error> {
        let (tx, rx) = mpsc::channel(shared.options.watch_buffer.max(1));
        let state = Arc::new(SenderState::default());
        let registered_at =
            shared.hub.register(&prefix, WatchSender { tx, state: Arc::clone(&state) }).ok_or(crate::Error::Closed)?;
        Ok(Self {
            shared,
            prefix,
            last: from,
            scanned: from,
            history_until: registered_at,
            buffer: VecDeque::new(),
            rx,
            state,
            finished: false,
        })
    }

    /// The revision of the last event delivered, or the start revision if none was.
    pub fn last_revision(&self) -> Revision {
        self.last
    }

    /// The next event; `None` once the stream has ended (after an error was returned).
    pub async fn next(&mut self) -> Option<Result<Arc<Event>, WatchError>> {
        loop {
            if let Some(step) = self.step_buffered() {
                return step;
            }
            let received = self.rx.recv().await;
            if let Some(step) = self.on_received(received) {
                return step;
            }
        }
    }

    /// Like [`Watcher::next`], for threads outside an async runtime.
    pub fn blocking_next(&mut self) -> Option<Result<Arc<Event>, WatchError>> {
        loop {
            if let Some(step) = self.step_buffered() {
                return step;
            }
            let received = self.rx.blocking_recv();
            if let Some(step) = self.on_received(received) {
                return step;
            }
        }
    }

    /// Like [`Watcher::next`] but never waits: `None` when nothing is ready yet.
    pub fn try_next(&mut self) -> Option<Result<Arc<Event>, WatchError>> {
        loop {
            if let Some(step) = self.step_buffered() {
                return step;
            }
            match self.rx.try_recv() {
                Ok(ev) => {
                    if let Some(step) = self.on_received(Some(ev)) {
                        return step;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return self.on_received(None).flatten(),
            }
        }
    }

    /// Serves history until the history phase is over. `Some(step)` is an answer; `None`
    /// means "read the live channel".
    fn step_buffered(&mut self) -> Option<Option<Result<Arc<Event>, WatchError>>> {
        if self.finished {
            return Some(None);
        }
        loop {
            if let Some(ev) = self.buffer.pop_front() {
                self.last = ev.revision;
                return Some(Some(Ok(ev)));
            }
            if self.scanned >= self.history_until {
                return None;
            }
            if let Err(e) = self.load_history() {
                self.finished = true;
                return Some(Some(Err(e)));
            }
        }
    }

    fn on_received(&mut self, received: Option<Arc<Event>>) -> Option<Option<Result<Arc<Event>, WatchError>>> {
        match received {
            Some(ev) => {
                if ev.revision <= self.last {
                    return None;
                }
                self.last = ev.revision;
                Some(Some(Ok(ev)))
            }
            None => {
                self.finished = true;
                let err = if self.state.lagged.load(Ordering::Acquire) {
                    WatchError::Lagged { last_revision: self.last }
                } else {
                    WatchError::Closed
                };
                Some(Some(Err(err)))
            }
        }
    }

    /// Reads the next chunk of history `(scanned, history_until]` from one snapshot.
    fn load_history(&mut self) -> Result<(), WatchError> {
        let snapshot = self.shared.engine.snapshot();
        let storage = |e: crate::Error| WatchError::Storage(e.to_string());
        let compacted = crate::store::read_meta(&snapshot, key::META_COMPACTED).map_err(storage)?;
        if compacted > self.scanned {
            return Err(WatchError::Compacted { requested: self.scanned, compacted });
        }
        let (group, resource) = (&self.prefix.group, &self.prefix.resource);
        let start = key::history_key(group, resource, self.scanned + 1);
        let end = key::history_key(group, resource, self.history_until.saturating_add(1));
        let mut seen = 0usize;
        let mut last_rev = self.scanned;
        let mut failure = None;
        let prefix = &self.prefix;
        let mut chunk: Vec<Event> = Vec::new();
        // Events whose object value is not stored with them, by key: the key's next event in
        // this chunk carries it as `prev`.
        let mut unresolved: HashMap<(String, String), usize> = HashMap::new();
        snapshot
            .scan(&start, &end, &mut |k, v| {
                let rev = history_revision(k);
                last_rev = rev;
                seen += 1;
                match codec::event_namespace(v) {
                    Ok(ns) if prefix.matches_namespace(ns) => match codec::decode_event(rev, v) {
                        Ok(stored) => {
                            let ev = stored.event;
                            let id = (ev.namespace().to_owned(), ev.name().to_owned());
                            if let Some(i) = unresolved.remove(&id) {
                                match (&mut chunk[i].object, &ev.prev) {
                                    (Some(obj), Some(prev)) if prev.mod_revision == obj.mod_revision => {
                                        obj.value = prev.value.clone();
                                    }
                                    _ => {
                                        failure = Some(crate::Error::Corrupt(format!(
                                            "history: the event after revision {} of {}/{} does not replace it",
                                            chunk[i].revision, id.0, id.1
                                        )));
                                    }
                                }
                            }
                            if stored.needs_value {
                                unresolved.insert(id, chunk.len());
                            }
                            chunk.push(ev);
                        }
                        Err(e) => failure = Some(e),
                    },
                    Ok(_) => {}
                    Err(e) => failure = Some(e),
                }
                failure.is_none() && seen < HISTORY_CHUNK
            })
            .map_err(|e| WatchError::Storage(e.to_string()))?;
        if let Some(e) = failure {
            return Err(storage(e));
        }
        // The rest were last changed in this chunk: their value is the current object's, or
        // the `prev` of a later write outside the chunk.
        for ((ns, name), i) in unresolved {
            let ev = &mut chunk[i];
            let value = object_value_at(&snapshot, group, resource, &ns, &name, ev.revision).map_err(storage)?;
            if let Some(obj) = &mut ev.object {
                obj.value = value;
            }
        }
        self.buffer.extend(chunk.into_iter().map(Arc::new));
        self.scanned = if seen < HISTORY_CHUNK { self.history_until } else { last_rev };
        Ok(())
    }
}

/// The value of the object version written at `revision` (whose event is retained in the
/// history `snapshot` holds): the current object's if it is still that version, else the
/// `prev` of the write that replaced it, found through its `n/` row.
pub(crate) fn object_value_at(
    snapshot: &impl KvRead,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
    revision: Revision,
) -> Result<Bytes, crate::Error> {
    let missing =
        || crate::Error::Corrupt(format!("history: value of {namespace}/{name} at revision {revision} is missing"));
    let object_key = Prefix::resource(group, resource).object_key(namespace, name);
    if let Some(bytes) = snapshot.get(&object_key)? {
        let current = codec::decode_object(namespace, name, &bytes)?;
        if current.mod_revision == revision {
            return Ok(current.value);
        }
    }
    let next = snapshot.get(&key::successor_key(group, resource, revision))?.ok_or_else(missing)?;
    let next = codec::decode_u64(&next)?;
    let bytes = snapshot.get(&key::history_key(group, resource, next))?.ok_or_else(missing)?;
    match codec::decode_event(next, &bytes)?.event.prev {
        Some(prev) if prev.mod_revision == revision && prev.namespace == namespace && prev.name == name => {
            Ok(prev.value)
        }
        _ => Err(missing()),
    }
}

/// The revision in the last 8 bytes of a history key.
pub(crate) fn history_revision(key: &[u8]) -> Revision {
    let tail: [u8; 8] = key[key.len().saturating_sub(8)..].try_into().unwrap_or([0; 8]);
    u64::from_be_bytes(tail)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::memory::MemoryEngine;
    use crate::{Event, Key, Preconditions, Prefix, Store, StoreOptions};

    fn drain(w: &mut super::Watcher<MemoryEngine>) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(ev) = w.try_next() {
            out.push(Event::clone(&ev.unwrap()));
        }
        out
    }

    /// A replay from any retained revision delivers exactly the events a live watcher got,
    /// values included, wherever each value is kept by now: in the current object, in the
    /// next event of the same chunk, or in a later write found through its successor row.
    #[tokio::test]
    async fn replay_from_every_revision_equals_the_live_stream() {
        let s = Store::open(MemoryEngine::new(), StoreOptions { sync: false, ..StoreOptions::default() }).unwrap();
        let all = Prefix::resource("g", "r");
        let mut live = s.watch(&all, 0).unwrap();
        let k = |ns: &str, n: &str| Key::new("g", "r", ns, n);
        let v = |i: u32| Bytes::from(format!("value-{i}"));
        let mut i = 0;
        let mut next = || {
            i += 1;
            v(i)
        };
        s.create(&k("a", "x"), "u1", next()).await.unwrap();
        s.create(&k("b", "y"), "u2", next()).await.unwrap();
        for _ in 0..4 {
            s.update(&k("a", "x"), next(), None).await.unwrap();
        }
        s.create(&Key::new("g", "other", "a", "x"), "u3", next()).await.unwrap();
        s.delete(&k("a", "x"), Preconditions::default()).await.unwrap();
        s.create(&k("a", "x"), "u4", next()).await.unwrap();
        for _ in 0..3 {
            s.update(&k("b", "y"), next(), None).await.unwrap();
            s.update(&k("a", "x"), next(), None).await.unwrap();
        }
        s.delete(&k("b", "y"), Preconditions::default()).await.unwrap();
        s.create(&k("b", "z"), "u5", next()).await.unwrap();
        let expected = drain(&mut live);
        let current = s.current_revision();
        assert_eq!(expected.len() as u64, current - crate::FIRST_REVISION - 1, "every write but the other resource's");

        let check = |from: u64, ns: Option<&str>| {
            let prefix = match ns {
                Some(ns) => Prefix::namespaced("g", "r", ns),
                None => all.clone(),
            };
            let mut w = s.watch(&prefix, from).unwrap();
            let got = drain(&mut w);
            let want: Vec<Event> = expected
                .iter()
                .filter(|e| e.revision > from && ns.is_none_or(|ns| e.namespace() == ns))
                .cloned()
                .collect();
            assert_eq!(got, want, "replay from {from} in {ns:?}");
        };
        for from in 0..=current {
            check(from, None);
            check(from, Some("a"));
        }
        // After compaction, replays from what is retained are still exact.
        s.compact(7).await.unwrap();
        for from in 7..=current {
            check(from, None);
            check(from, Some("b"));
        }
    }
}
