//! Coalescing reconcile requests to one object: requests that arrive while a patch of the
//! same object is queued are answered by the next patch that starts after they arrived,
//! instead of each patching the object again. Every caller still gets "requested at or after
//! my request" (what `reconcile.fluxcd.io/requestedAt` promises), with one write per wave
//! instead of one per webhook: under a flood on one object the store's writes to it are
//! serialized, so this is what bounds the flood's cost.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

#[derive(Default)]
struct Slot {
    /// Held while a patch of the object runs.
    turn: tokio::sync::Mutex<()>,
    /// The highest request number a successful patch covered.
    covered: AtomicU64,
}

/// Per-object coalescing of reconcile requests.
#[derive(Default)]
pub struct Coalescer {
    next: AtomicU64,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Coalescer {
    /// Runs `patch` for `key` unless a patch that started after this call succeeds first.
    ///
    /// # Errors
    /// `patch`'s error (a failed patch covers nobody: the next waiter tries again).
    pub async fn request<F, Fut, E>(&self, key: &str, patch: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let ticket = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = Arc::clone(self.slots.lock().entry(key.to_owned()).or_default());
        let result = {
            let _turn = slot.turn.lock().await;
            if slot.covered.load(Ordering::SeqCst) >= ticket {
                Ok(())
            } else {
                // Every ticket issued so far arrived before this patch starts.
                let covers = self.next.load(Ordering::SeqCst);
                let r = patch().await;
                if r.is_ok() {
                    slot.covered.fetch_max(covers, Ordering::SeqCst);
                }
                r
            }
        };
        let mut slots = self.slots.lock();
        // The map's reference and ours: nobody else waits on this object.
        if Arc::strong_count(&slot) == 2 {
            slots.remove(key);
        }
        result
    }

    /// Objects with requests in flight (for tests and metrics).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.slots.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_patches() {
        let c = Arc::new(Coalescer::default());
        let patches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (c, patches) = (Arc::clone(&c), Arc::clone(&patches));
                tokio::spawn(async move {
                    c.request("ns/app", || async {
                        patches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Ok::<(), ()>(())
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = patches.load(Ordering::SeqCst);
        assert!((1..200).contains(&n), "{n} patches for 200 requests");
        assert_eq!(c.in_flight(), 0, "slots are dropped when idle");
    }

    #[tokio::test]
    async fn a_request_after_a_patch_patches_again_and_failures_cover_nobody() {
        let c = Coalescer::default();
        let patches = AtomicUsize::new(0);
        let ok = || async {
            patches.fetch_add(1, Ordering::SeqCst);
            Ok::<(), &str>(())
        };
        c.request("k", ok).await.unwrap();
        c.request("k", ok).await.unwrap();
        assert_eq!(patches.load(Ordering::SeqCst), 2, "sequential requests each patch");
        assert_eq!(c.request("k", || async { Err("conflict") }).await, Err("conflict"));
        c.request("k", ok).await.unwrap();
        assert_eq!(patches.load(Ordering::SeqCst), 3);
    }
}
