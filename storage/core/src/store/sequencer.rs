//! The sequencer: validates requests, assigns revisions, stages batches and compacts history.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::{Condvar, Mutex};

use super::commit::{Building, Outcome, Pipeline, PipelineState, SequencerGone, committer};
use super::handle::{Request, Shared};
use super::{Deleted, Quota, Usage};
use crate::codec::{self, Event, EventType, Object};
use crate::engine::{KvEngine, KvRead, WriteBatch};
use crate::error::Error;
use crate::key::{self, Key, Revision};

/// The sequencer: validates every request against the newest state (committed or still in
/// flight), assigns revisions and stages the writes. It owns all mutable bookkeeping.
///
/// Group commit in two stages, handing over through a [`Pipeline`]: while the [`committer`]
/// makes one batch durable, the sequencer stages every request that arrives into the next
/// one, which the committer takes the moment it is free. So each sync carries everything that
/// queued up during the previous one (never a trickle of small batches), the CPU work of the
/// next batch overlaps the current sync, and no thread hand-off sits between two syncs.
pub(super) struct Writer<E> {
    pub(super) shared: Arc<Shared<E>>,
    pub(super) rx: Receiver<Request>,
    /// Resources that have history (for compaction).
    pub(super) resources: HashMap<String, HashMap<String, ResourceName>>,
    /// `(bucket_start_unix_ms, revision)`: the last revision committed in each time bucket.
    pub(super) times: VecDeque<(u64, Revision)>,
    /// Objects written by batches not yet known committed: key → (revision, state).
    pub(super) pending: HashMap<Vec<u8>, Arc<Event>>,
    /// Authoritative per-namespace usage, including in-flight batches.
    pub(super) usage: HashMap<String, Usage>,
    /// Authoritative quotas, including in-flight batches.
    pub(super) quotas: HashMap<String, Quota>,
    /// Last revision assigned (committed or in flight).
    pub(super) rev: Revision,
    /// Last compaction point assigned.
    pub(super) compacted: Revision,
    /// Newest revision known durable.
    pub(super) committed: Revision,
}

/// `(group, resource)`, shared by every event of that resource.
pub(crate) type ResourceName = Arc<(String, String)>;

/// Width of one time-index bucket. History is compacted bucket by bucket, so it is kept for
/// at least the retention window and at most one bucket longer.
const TIME_BUCKET_MS: u64 = 100;

fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl<E: KvEngine> Writer<E> {
    pub(super) fn run(mut self) {
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
