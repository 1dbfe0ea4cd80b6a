//! The [`Store`] handle: the write requests it sends to the sequencer, and its reads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::{Deleted, Preconditions, Quota, StoreOptions, StoreStats, Usage};
use crate::codec::{self, Object};
use crate::engine::{KvEngine, KvRead};
use crate::error::Error;
use crate::key::{Key, Prefix, Revision};
use crate::watch::{Hub, Watcher};

pub(super) type Reply<T> = oneshot::Sender<Result<T, Error>>;

pub(super) enum Request {
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
    pub(crate) current: AtomicU64,
    pub(crate) compacted: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) usage: Mutex<HashMap<String, Usage>>,
    pub(crate) quotas: Mutex<HashMap<String, Quota>>,
}

pub(super) struct Handle<E> {
    pub(super) shared: Arc<Shared<E>>,
    pub(super) tx: Mutex<Option<Sender<Request>>>,
    pub(super) writer: Mutex<Option<JoinHandle<()>>>,
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
    pub(super) handle: Arc<Handle<E>>,
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

impl<E: KvEngine> Store<E> {
    pub(super) fn shared(&self) -> &Arc<Shared<E>> {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::engine::{EngineError, WriteBatch};
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
        let created = s.create(&k, "u", Bytes::from_static(b"1")).await.unwrap();
        s.shared().engine.broken.store(true, Ordering::Release);
        let err = s.update(&k, Bytes::from_static(b"2"), None).await.unwrap_err();
        assert!(matches!(err, Error::Engine(_)), "{err}");
        // Nothing of the failed write is visible, and the revision did not move.
        assert_eq!(&s.get(&k).unwrap().value[..], b"1");
        assert_eq!(s.current_revision(), created.mod_revision);
        // Later writes are refused even once the engine works again: they were sequenced on
        // top of the failed batch's state. A reopen recovers.
        s.shared().engine.broken.store(false, Ordering::Release);
        let err = s.create(&Key::new("g", "r", "ns", "b"), "u", Bytes::from_static(b"x")).await.unwrap_err();
        assert!(err.to_string().contains("refuses writes until it is reopened"), "{err}");
        // Requests that fail on their own still say why.
        assert!(matches!(s.create(&k, "u", Bytes::from_static(b"x")).await, Err(Error::AlreadyExists)));
    }
}
