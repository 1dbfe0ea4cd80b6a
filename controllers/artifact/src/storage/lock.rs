//! Per-artifact locks, so that two reconciles never write the same artifact file at once.
//!
//! Flux takes a file lock (`<artifact>.lock`) because its storage could in principle be shared
//! by processes. Eddy's storage root belongs to one process: the controllers that write it and
//! the server that reads it run inside the same `eddy` process, and only the leader runs them.
//! So an in-process lock is enough, leaves no lock files behind after a crash, and costs no
//! system calls. Readers need no lock: files are replaced by an atomic rename.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Holds the lock of one artifact path until dropped.
#[derive(Debug)]
pub struct ArtifactLock {
    _guard: OwnedMutexGuard<()>,
}

/// The table of locks, keyed by artifact file path. Entries are weak, so a path nobody holds
/// or waits for costs nothing once the table is pruned.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    locks: Mutex<HashMap<PathBuf, Weak<AsyncMutex<()>>>>,
}

impl LockTable {
    fn mutex_for(&self, path: &Path) -> Arc<AsyncMutex<()>> {
        // A poisoned table only means another thread panicked while holding it; the map is
        // still consistent (every operation on it is a single insert or retain).
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = locks.get(path).and_then(Weak::upgrade) {
            return existing;
        }
        if locks.len() >= 1024 {
            locks.retain(|_, weak| weak.strong_count() > 0);
        }
        let mutex = Arc::new(AsyncMutex::new(()));
        locks.insert(path.to_path_buf(), Arc::downgrade(&mutex));
        mutex
    }

    /// Waits for and takes the lock of `path`.
    pub(crate) async fn lock(&self, path: &Path) -> ArtifactLock {
        ArtifactLock { _guard: self.mutex_for(path).lock_owned().await }
    }

    /// Takes the lock of `path` if it is free.
    pub(crate) fn try_lock(&self, path: &Path) -> Option<ArtifactLock> {
        self.mutex_for(path).try_lock_owned().ok().map(|guard| ArtifactLock { _guard: guard })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().map(|l| l.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_path() {
        let table = Arc::new(LockTable::default());
        let a = Path::new("/s/a.tar.gz");
        let held = table.lock(a).await;
        assert!(table.try_lock(a).is_none());
        assert!(table.try_lock(Path::new("/s/b.tar.gz")).is_some(), "other paths are independent");
        let t2 = Arc::clone(&table);
        let waiter = tokio::spawn(async move { t2.lock(Path::new("/s/a.tar.gz")).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a second locker waits");
        drop(held);
        let second = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        drop(second);
        assert!(table.try_lock(a).is_some());
    }

    #[tokio::test]
    async fn table_is_pruned() {
        let table = LockTable::default();
        for i in 0..2000 {
            drop(table.lock(Path::new(&format!("/s/{i}"))).await);
        }
        assert!(table.len() <= 1024);
    }
}
