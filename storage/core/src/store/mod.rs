//! [`Store`]: the versioned object store, generic over its engine.
//!
//! Two threads own every mutation, in a two-stage group commit. Callers send requests over a
//! channel to the **sequencer**, which validates each against the newest state (committed or
//! in flight), assigns consecutive revisions and stages the writes into the next batch. The
//! **committer** takes that batch the moment it is free, writes it as one [`crate::WriteBatch`] with
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
//!
//! # Files
//! - `handle.rs`: the cloneable [`Store`] handle, the requests it sends to the sequencer, and
//!   the reads that go straight to engine snapshots (get, watch, figures).
//! - `open.rs`: opening a store, recovering its bookkeeping and starting the writer.
//! - `list.rs`: consistent and paginated lists, also at a past revision.
//! - `sequencer.rs`: validation, revision assignment, staging, quotas and compaction.
//! - `commit.rs`: the batch being built, its hand-over to the committer, and the committer.

mod commit;
mod handle;
mod list;
mod open;
mod sequencer;

use std::time::Duration;

use crate::codec::Object;
use crate::engine::EngineStats;
use crate::key::Revision;

pub use handle::Store;
pub(crate) use handle::{Shared, read_meta};
pub use open::FIRST_REVISION;
pub(crate) use sequencer::ResourceName;

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
