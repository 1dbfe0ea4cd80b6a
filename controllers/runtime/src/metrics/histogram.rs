//! Histograms and float cells, with upstream's bucket layouts.
//!
//! [`AtomicHistogram`] is for the per-controller and per-queue series that every worker
//! touches: lock-free, one atomic add per observation plus a compare-and-swap on the sum.
//! [`Histogram`] is the plain version for per-object series, which live behind a shard lock
//! anyway. A snapshot derives the count from the buckets, so buckets and count always agree
//! (the sum may trail by an observation in flight).

use std::sync::atomic::{AtomicU64, Ordering};

use super::text::HistogramSnapshot;

/// `gotk_reconcile_duration_seconds`: Go's `prometheus.ExponentialBucketsRange(10e-3, 1800,
/// 10)` as Go computes it (`math.Pow` differs from Rust's `powf` in the last bit, and the last
/// bound is 1799.9999999999986, not 1800).
pub const FLUX_DURATION_BUCKETS: [f64; 10] = [
    0.01,
    0.038_363_583_488_692_544,
    0.147_176_453_809_388_3,
    0.564_621_617_328_616_9,
    2.166_090_855_590_701,
    8.309_900_738_254_731,
    31.879_757_075_478_317,
    122.302_172_216_434_93,
    469.194_959_467_365_44,
    1_799.999_999_999_998_6,
];

/// `controller_runtime_reconcile_time_seconds` (controller-runtime's explicit list).
pub const RECONCILE_TIME_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
    1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0,
];

/// The workqueue duration histograms: `prometheus.ExponentialBuckets(10e-9, 10, 12)`, i.e.
/// repeated multiplication by 10 from 1e-8, with Go's (and IEEE's) rounding.
pub const WORKQUEUE_BUCKETS: [f64; 12] = [
    1e-08,
    1e-07,
    1e-06,
    9.999_999_999_999_999e-06,
    9.999_999_999_999_999e-05,
    0.001,
    0.01,
    0.1,
    1.0,
    10.0,
    100.0,
    1000.0,
];

/// The bucket an observation falls in: the first bound `>= v` (Go `sort.SearchFloat64s`), or
/// the overflow bucket.
fn bucket_of(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| *b < v)
}

fn snapshot(bounds: &[f64], per_bucket: impl Iterator<Item = u64>, sum: f64) -> HistogramSnapshot {
    let mut cumulative = Vec::with_capacity(bounds.len());
    let mut running = 0u64;
    for n in per_bucket {
        running = running.saturating_add(n);
        cumulative.push(running);
    }
    let count = cumulative.pop().unwrap_or(0); // the overflow bucket completes the count
    HistogramSnapshot { cumulative, count, sum }
}

/// A lock-free histogram.
#[derive(Debug)]
pub(crate) struct AtomicHistogram {
    bounds: &'static [f64],
    counts: Box<[AtomicU64]>,
    sum: AtomicF64,
}

impl AtomicHistogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: AtomicF64::new(0.0) }
    }

    pub(crate) fn observe(&self, v: f64) {
        self.counts[bucket_of(self.bounds, v)].fetch_add(1, Ordering::Relaxed);
        self.sum.add(v);
    }

    pub(crate) fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        snapshot(self.bounds, self.counts.iter().map(|c| c.load(Ordering::Relaxed)), self.sum.get())
    }
}

/// A histogram for use under a lock.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        Self { counts: vec![0; bounds.len() + 1], sum: 0.0 }
    }

    pub(crate) fn observe(&mut self, bounds: &[f64], v: f64) {
        if let Some(c) = self.counts.get_mut(bucket_of(bounds, v)) {
            *c += 1;
        }
        self.sum += v;
    }

    pub(crate) fn snapshot(&self, bounds: &[f64]) -> HistogramSnapshot {
        snapshot(bounds, self.counts.iter().copied(), self.sum)
    }
}

/// An `f64` that can be set and added to from any thread.
#[derive(Debug)]
pub(crate) struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub(crate) fn new(v: f64) -> Self {
        Self(AtomicU64::new(v.to_bits()))
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + delta).to_bits()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workqueue_buckets_are_repeated_multiplication() {
        let mut v = 10e-9;
        for b in WORKQUEUE_BUCKETS {
            assert_eq!(b.to_bits(), f64::to_bits(v));
            v *= 10.0;
        }
    }

    #[test]
    fn flux_buckets_are_close_to_the_formula() {
        // Same formula with Rust's powf: equal up to the last bits (the constants are Go's).
        let growth = (1800.0f64 / 0.01).powf(1.0 / 9.0);
        for (i, b) in FLUX_DURATION_BUCKETS.iter().enumerate() {
            let rust = 0.01 * growth.powi(i32::try_from(i).unwrap());
            assert!(((rust - b) / b).abs() < 1e-12, "{i}: {rust} vs {b}");
        }
    }

    #[test]
    fn observations_land_in_the_first_bucket_not_below() {
        let h = AtomicHistogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative, [2, 4]);
        assert_eq!(s.count, 5);
        assert!((s.sum - 8.0).abs() < 1e-9);
        let mut p = Histogram::new(&[1.0, 2.0]);
        p.observe(&[1.0, 2.0], 9.0);
        assert_eq!(p.snapshot(&[1.0, 2.0]).cumulative, [0, 0]);
        assert_eq!(p.snapshot(&[1.0, 2.0]).count, 1);
    }
}
