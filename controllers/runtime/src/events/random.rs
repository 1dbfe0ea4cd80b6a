//! Randomness for jitter and identifiers, from the standard library alone.
//!
//! Each call hashes a process-wide counter and the clock with a fresh
//! [`RandomState`](std::collections::hash_map::RandomState), whose keys the standard library
//! seeds from the operating system. That is plenty for retry jitter, event names and leader
//! identities; nothing here is used for secrets.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random 64-bit number.
pub(crate) fn u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// A random number in `[0, 1)`.
pub(crate) fn unit_f64() -> f64 {
    // 53 random bits: every value is exactly representable.
    #[allow(clippy::cast_precision_loss)]
    let v = (u64() >> 11) as f64 / (1u64 << 53) as f64;
    v
}

/// A random version-4 UUID in its canonical text form.
pub(crate) fn uuid_v4() -> String {
    let hi = (u64() & !0xf000) | 0x4000; // version 4 in bits 12..16 of the time_hi field
    let lo = (u64() & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_distinct() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'), "{a}");
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "{a}");
    }

    #[test]
    fn unit_is_in_range_and_varies() {
        let values: Vec<f64> = (0..100).map(|_| unit_f64()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| (w[0] - w[1]).abs() > f64::EPSILON));
    }
}
