//! Eddy's versioned object store.
//!
//! Eddy keeps every Flux object here rather than in the cluster's etcd. The store offers the
//! semantics kube-apiserver relies on from etcd:
//!
//! - keys `(group, resource, namespace, name)` → opaque object bytes;
//! - one global, strictly increasing [`Revision`] taken by every committed write (the API
//!   server's `resourceVersion`);
//! - create, get, compare-and-swap update, delete with preconditions, and
//!   [`Store::guaranteed_update`];
//! - consistent and paginated lists, also at a past revision;
//! - gap-free, exactly-once [`Watcher`]s from any retained revision;
//! - compaction of history older than a retention window, per-namespace quotas, a
//!   per-object size limit, and online backups.
//!
//! The store is generic over a [`KvEngine`]: the RocksDB engine lives in
//! `eddy-storage-rocksdb`; [`memory::MemoryEngine`] is here for fast tests of the layers
//! above. One conformance suite (`eddy-storage-conformance`) runs against both.
//!
//! Architecture invariant: this crate knows keys, bytes and revisions — never HTTP, JSON or
//! Kubernetes kinds — and has no transitive dependency on RocksDB.

mod codec;
mod engine;
mod error;
mod key;
pub mod memory;
mod store;
mod watch;

pub use codec::{Event, EventType, Object};
pub use engine::{EngineError, EngineStats, KvEngine, KvRead, WriteBatch, WriteOp};
pub use error::{Error, WatchError};
pub use key::{Key, Prefix, Revision};
pub use store::{
    Deleted, FIRST_REVISION, ListOptions, ListResult, Preconditions, Quota, Store, StoreOptions, StoreStats, Usage,
};
pub use watch::Watcher;
