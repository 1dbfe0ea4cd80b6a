//! Deduplication of events: notification-controller's `sethvargo/go-limiter` memory store with
//! one token per key and interval (`--rate-limit-interval`, default 5m). The first event with
//! a key passes; the same key again within its interval is refused (HTTP 429); the token is
//! back once the interval that started with the first event has elapsed. Entries idle for two
//! intervals are swept, so memory stays bounded by the distinct events of recent intervals.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Upstream's default `--rate-limit-interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// When the bucket was created: its intervals are counted from here.
    start: Instant,
    /// The interval index whose token was last taken.
    taken: u64,
}

/// A per-key limiter of one event per interval.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    buckets: HashMap<String, Bucket>,
    last_sweep: Instant,
}

impl Limiter {
    /// A limiter with `interval` (a zero interval lets everything through).
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self { interval, inner: Mutex::new(Inner { buckets: HashMap::new(), last_sweep: Instant::now() }) }
    }

    /// Takes the token of `key`: `true` when the event may pass.
    pub fn take(&self, key: &str) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if now.duration_since(inner.last_sweep) >= self.interval {
            let ttl = self.interval * 2;
            let interval = self.interval;
            inner.buckets.retain(|_, b| now.duration_since(taken_at(b, interval)) < ttl);
            inner.last_sweep = now;
        }
        let interval = self.interval;
        match inner.buckets.get_mut(key) {
            None => {
                inner.buckets.insert(key.to_owned(), Bucket { start: now, taken: 0 });
                true
            }
            Some(bucket) => {
                let tick = ticks(now.duration_since(bucket.start), interval);
                if tick > bucket.taken {
                    bucket.taken = tick;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// How many keys are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().buckets.len()
    }

    /// Whether no key is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn ticks(elapsed: Duration, interval: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos() / interval.as_nanos().max(1)).unwrap_or(u64::MAX)
}

fn taken_at(bucket: &Bucket, interval: Duration) -> Instant {
    let offset = interval.saturating_mul(u32::try_from(bucket.taken).unwrap_or(u32::MAX));
    bucket.start.checked_add(offset).unwrap_or(bucket.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_event_per_key_and_interval() {
        let l = Limiter::new(Duration::from_secs(60));
        assert!(l.take("a"));
        assert!(!l.take("a"));
        assert!(l.take("b"));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!l.take("a"));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(l.take("a"));
        assert!(!l.take("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_swept() {
        let l = Limiter::new(Duration::from_secs(10));
        for i in 0..100 {
            assert!(l.take(&format!("k{i}")));
        }
        assert_eq!(l.len(), 100);
        tokio::time::advance(Duration::from_secs(25)).await;
        assert!(l.take("fresh"));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn zero_interval_disables_limiting() {
        let l = Limiter::new(Duration::ZERO);
        assert!(l.take("a") && l.take("a"));
        assert!(l.is_empty());
    }
}
