//! The engine traits: the small key-value contract every storage engine implements.
//!
//! An engine knows nothing of objects, revisions or watches. It stores ordered byte keys,
//! applies a [`WriteBatch`] atomically (and durably when asked), and hands out consistent
//! point-in-time snapshots. Everything else — MVCC history, compare-and-swap, quotas,
//! watch — lives once, in [`crate::Store`], above any engine.
//!
//! Architecture invariant: this module (and the whole `eddy-storage` crate) has no transitive
//! dependency on RocksDB; concrete engines live in their own crates.

use std::path::Path;

/// An error raised by an engine: I/O, corruption, or an operation the engine cannot do.
#[derive(Debug, thiserror::Error)]
#[error("storage engine: {message}")]
pub struct EngineError {
    message: String,
}

impl EngineError {
    /// Wraps any displayable engine failure.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// One write in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Sets `key` to `value`.
    Put { key: Vec<u8>, value: Vec<u8> },
    /// Removes `key` (a no-op if it is absent).
    Delete { key: Vec<u8> },
    /// Removes every key in `[start, end)`.
    DeleteRange { start: Vec<u8>, end: Vec<u8> },
}

/// A list of writes applied all-or-nothing by [`KvEngine::write`], in order.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
    bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.bytes += key.len() + value.len();
        self.ops.push(WriteOp::Put { key, value });
    }

    /// Queues a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.bytes += key.len();
        self.ops.push(WriteOp::Delete { key });
    }

    /// Queues a range delete of `[start, end)`.
    pub fn delete_range(&mut self, start: Vec<u8>, end: Vec<u8>) {
        self.bytes += start.len() + end.len();
        self.ops.push(WriteOp::DeleteRange { start, end });
    }

    /// Queues every write of `later`, after those already queued.
    pub fn append(&mut self, mut later: WriteBatch) {
        self.bytes += later.bytes;
        self.ops.append(&mut later.ops);
    }

    /// The queued writes, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Approximate payload size in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.bytes
    }
}

/// Read access to a consistent view of the engine.
pub trait KvRead {
    /// The value stored at `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// Visits every pair with `start <= key < end` in ascending key order until `visit`
    /// returns `false`.
    fn scan(&self, start: &[u8], end: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError>;
}

/// Engine statistics reported by [`KvEngine::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Bytes the engine occupies on disk (0 for in-memory engines).
    pub disk_bytes: u64,
    /// Bytes held in memory by tables and caches, as far as the engine can tell.
    pub memory_bytes: u64,
}

/// An ordered, transactional key-value engine.
pub trait KvEngine: Send + Sync + 'static {
    /// A point-in-time view; writes made after it was taken are invisible through it.
    type Snapshot<'a>: KvRead
    where
        Self: 'a;

    /// Takes a consistent snapshot.
    fn snapshot(&self) -> Self::Snapshot<'_>;

    /// Applies `batch` atomically. With `sync`, returns only once the batch is durable
    /// (its write-ahead log record is on stable storage).
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<(), EngineError>;

    /// Writes a consistent copy of the whole engine to `dir` (which must not exist) while
    /// the engine stays online. The copy can be opened as an engine of the same kind.
    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError>;

    /// Current statistics.
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}
