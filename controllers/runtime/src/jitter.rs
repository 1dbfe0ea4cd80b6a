//! Requeue jitter, as fluxcd/pkg `runtime/jitter`: every periodic requeue is spread by up to
//! ±`percent` of the interval (Flux's `--interval-jitter-percentage`, default 5), so objects
//! created together do not reconcile in lockstep forever.

use std::time::Duration;

use rand::Rng as _;

/// Flux's default `--interval-jitter-percentage`.
pub const DEFAULT_PERCENT: u8 = 5;

/// Spreads intervals by up to ±`percent` %.
#[derive(Debug, Clone, Copy)]
pub struct Jitter {
    fraction: f64,
}

impl Default for Jitter {
    fn default() -> Self {
        Self::percent(DEFAULT_PERCENT)
    }
}

impl Jitter {
    /// Jitter of ±`percent` % (0 or ≥ 100 disables it, as upstream).
    #[must_use]
    pub fn percent(percent: u8) -> Self {
        let fraction = if percent == 0 || percent >= 100 { 0.0 } else { f64::from(percent) / 100.0 };
        Self { fraction }
    }

    /// `interval` scaled by a random factor in `[1 - p, 1 + p)`.
    #[must_use]
    pub fn apply(&self, interval: Duration) -> Duration {
        if self.fraction == 0.0 {
            return interval;
        }
        let factor = 1.0 + self.fraction * (2.0 * rand::rng().random::<f64>() - 1.0);
        interval.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_bounds_and_varies() {
        let j = Jitter::default();
        let base = Duration::from_secs(60);
        let samples: Vec<Duration> = (0..500).map(|_| j.apply(base)).collect();
        assert!(samples.iter().all(|d| *d >= Duration::from_secs(57) && *d <= Duration::from_secs(63)));
        let distinct: std::collections::BTreeSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "jitter should spread values");
    }

    #[test]
    fn zero_disables() {
        assert_eq!(Jitter::percent(0).apply(Duration::from_secs(10)), Duration::from_secs(10));
        assert_eq!(Jitter::percent(100).apply(Duration::from_secs(10)), Duration::from_secs(10));
    }
}
