//! The committer and its hand-over point with the sequencer: batches made durable in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::{Condvar, Mutex};

use super::handle::{Reply, Shared};
use super::sequencer::ResourceName;
use super::{Deleted, Quota, Usage};
use crate::codec::{self, Event, Object};
use crate::engine::{KvEngine, WriteBatch};
use crate::error::Error;
use crate::key::{self, Revision};

pub(super) enum Outcome {
    Object(Reply<Object>, Result<Object, Error>),
    Deleted(Reply<Deleted>, Result<Deleted, Error>),
    Unit(Reply<()>, Result<(), Error>),
    Compacted(Reply<Revision>, Result<Revision, Error>),
}

impl Outcome {
    pub(super) fn send(self) {
        match self {
            Outcome::Object(reply, r) => drop(reply.send(r)),
            Outcome::Deleted(reply, r) => drop(reply.send(r)),
            Outcome::Unit(reply, r) => drop(reply.send(r)),
            Outcome::Compacted(reply, r) => drop(reply.send(r)),
        }
    }

    /// Answers with `err` unless the request had already failed on its own.
    pub(super) fn fail(self, err: &str) {
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
pub(super) struct Building {
    pub(super) wb: WriteBatch,
    /// The last revision assigned before this batch.
    pub(super) start_rev: Revision,
    /// The last revision assigned in this batch.
    pub(super) last_rev: Revision,
    pub(super) requests: usize,
    /// Namespaces written, with their usage after this batch.
    pub(super) usage: HashMap<String, Usage>,
    /// Time-index buckets written, with the last revision of each.
    pub(super) times: Vec<(u64, Revision)>,
    pub(super) quotas: Vec<(String, Option<Quota>)>,
    pub(super) events: Vec<(ResourceName, Arc<Event>)>,
    pub(super) outcomes: Vec<Outcome>,
    pub(super) compacted: Option<Revision>,
}

impl Building {
    pub(super) fn new(rev: Revision) -> Self {
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
    pub(super) fn append(&mut self, later: Building) {
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
pub(super) struct Pipeline {
    pub(super) state: Mutex<PipelineState>,
    /// Signalled when the waiting batch grew, or the sequencer stopped.
    pub(super) staged: Condvar,
    /// Signalled when the committer took the waiting batch.
    pub(super) taken: Condvar,
}

pub(super) struct PipelineState {
    pub(super) next: Option<Building>,
    /// The sequencer has stopped: the committer commits what is left and ends.
    pub(super) closed: bool,
    /// The committer has ended (only by a panic while the sequencer runs): whatever is
    /// handed over now is dropped, so its callers see [`Error::Closed`] instead of waiting.
    pub(super) committer_gone: bool,
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
pub(super) struct SequencerGone<'a>(pub(super) &'a Pipeline);

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
pub(super) fn committer<E: KvEngine>(shared: &Shared<E>, pipeline: &Pipeline) {
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
