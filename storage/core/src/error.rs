//! The one error type every store operation returns.

use crate::engine::EngineError;
use crate::key::Revision;

/// What went wrong in a store operation. Each variant maps onto one Kubernetes answer; the
/// mapping lives in the API server, not here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key does not exist (404).
    #[error("not found")]
    NotFound,
    /// Create found the key already present (409 AlreadyExists).
    #[error("already exists")]
    AlreadyExists,
    /// A compare-and-swap saw a newer revision than expected (409 Conflict).
    #[error("revision conflict: expected {expected}, stored {actual}")]
    Conflict {
        /// The revision the caller expected.
        expected: Revision,
        /// The revision actually stored.
        actual: Revision,
    },
    /// A delete precondition (uid or revision) did not hold (409 Conflict).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The requested revision has been compacted away (410 Gone / Expired).
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The compacted revision: history at or below it is gone.
        compacted: Revision,
    },
    /// The requested revision is newer than any committed one (504 "too large resource version").
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The newest committed revision.
        current: Revision,
    },
    /// The object is larger than the per-object limit (413 / 422).
    #[error("object is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The object's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The namespace's quota would be exceeded (403 Forbidden, as ResourceQuota answers).
    #[error("namespace {namespace:?} quota exceeded: {what} would be {requested}, limit is {limit}")]
    QuotaExceeded {
        /// The namespace.
        namespace: String,
        /// `objects` or `bytes`.
        what: &'static str,
        /// The usage the write would reach.
        requested: u64,
        /// The quota.
        limit: u64,
    },
    /// A key component is malformed (contains NUL, or is empty where it must not be).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The store is shut down.
    #[error("the store is closed")]
    Closed,
    /// Stored bytes could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A guaranteed-update callback refused to produce a new value.
    #[error("update aborted: {0}")]
    Aborted(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Whether the operation may succeed if retried after re-reading (a lost race).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }
}

/// Why a watch ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The watcher fell too far behind and was cut off; resume from `last_revision`.
    #[error("watcher fell behind and was closed; resume from revision {last_revision}")]
    Lagged {
        /// The revision of the last event delivered (or the start revision).
        last_revision: Revision,
    },
    /// History needed to continue was compacted while catching up.
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        /// The revision the watch needed.
        requested: Revision,
        /// The compacted revision.
        compacted: Revision,
    },
    /// The store shut down.
    #[error("the store is closed")]
    Closed,
    /// Reading history failed.
    #[error("reading watch history: {0}")]
    Storage(String),
}
