//! The per-object Flux series (fluxcd/pkg `runtime/metrics.Recorder`), kept in shards.
//!
//! Objects are spread over [`SHARDS`] maps by a hash of (kind, namespace, name), each behind
//! its own mutex, so concurrent reconciles of different objects rarely meet on a lock and a
//! scrape holds one shard at a time. Rendering copies each shard's entries out, then sorts
//! them as Go's registry does (by label values in label-name order).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::histogram::{FLUX_DURATION_BUCKETS, Histogram};
use super::text::{self, HistogramSnapshot};

/// How many shards the object series are spread over.
pub(crate) const SHARDS: usize = 64;

/// The condition statuses Flux writes a series for, in its order.
const STATUSES: [&str; 3] = ["True", "False", "Unknown"];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectSeries {
    duration: Option<Histogram>,
    /// Condition type → status.
    conditions: BTreeMap<String, String>,
    suspend: Option<bool>,
}

impl ObjectSeries {
    fn is_empty(&self) -> bool {
        self.duration.is_none() && self.conditions.is_empty() && self.suspend.is_none()
    }
}

/// The sharded store.
#[derive(Debug)]
pub(crate) struct Objects {
    shards: Box<[Mutex<HashMap<ObjectKey, ObjectSeries>>]>,
}

impl Objects {
    pub(crate) fn new() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, key: &ObjectKey) -> MutexGuard<'_, HashMap<ObjectKey, ObjectSeries>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let i = usize::try_from(h.finish() % SHARDS as u64).unwrap_or(0);
        self.shards[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, key: ObjectKey, f: impl FnOnce(&mut ObjectSeries)) {
        let mut shard = self.shard(&key);
        let series = shard.entry(key).or_default();
        f(series);
    }

    fn remove_if(&self, key: &ObjectKey, f: impl FnOnce(&mut ObjectSeries)) {
        let mut shard = self.shard(key);
        if let Some(series) = shard.get_mut(key) {
            f(series);
            if series.is_empty() {
                shard.remove(key);
            }
        }
    }

    pub(crate) fn observe_duration(&self, key: ObjectKey, seconds: f64) {
        self.update(key, |s| {
            s.duration
                .get_or_insert_with(|| Histogram::new(&FLUX_DURATION_BUCKETS))
                .observe(&FLUX_DURATION_BUCKETS, seconds);
        });
    }

    pub(crate) fn set_condition(&self, key: ObjectKey, condition_type: &str, status: &str) {
        self.update(key, |s| {
            s.conditions.insert(condition_type.to_owned(), status.to_owned());
        });
    }

    pub(crate) fn set_suspend(&self, key: ObjectKey, suspended: bool) {
        self.update(key, |s| s.suspend = Some(suspended));
    }

    pub(crate) fn delete_duration(&self, key: &ObjectKey) {
        self.remove_if(key, |s| s.duration = None);
    }

    pub(crate) fn delete_condition(&self, key: &ObjectKey, condition_type: &str) {
        self.remove_if(key, |s| {
            s.conditions.remove(condition_type);
        });
    }

    pub(crate) fn delete_suspend(&self, key: &ObjectKey) {
        self.remove_if(key, |s| s.suspend = None);
    }

    pub(crate) fn delete(&self, key: &ObjectKey) {
        self.shard(key).remove(key);
    }

    /// Every object's series, sorted by (kind, name, namespace).
    fn collect(&self) -> Vec<(ObjectKey, ObjectSeries)> {
        let mut all = Vec::new();
        for shard in &*self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(shard.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Appends the three families (condition, duration, suspend) to `families`, keyed by name.
    pub(crate) fn render(&self, families: &mut BTreeMap<&'static str, String>) {
        let all = self.collect();
        let mut durations = String::new();
        let mut conditions = Vec::new();
        let mut suspends = String::new();
        for (key, series) in &all {
            let labels =
                [("kind", key.kind.as_str()), ("name", key.name.as_str()), ("namespace", key.namespace.as_str())];
            if let Some(h) = &series.duration {
                let snap: HistogramSnapshot = h.snapshot(&FLUX_DURATION_BUCKETS);
                text::histogram(&mut durations, DURATION, &labels, &FLUX_DURATION_BUCKETS, &snap);
            }
            for (condition_type, status) in &series.conditions {
                for s in STATUSES {
                    conditions.push((key, s, condition_type.as_str(), if s == status { 1.0 } else { 0.0 }));
                }
            }
            if let Some(suspended) = series.suspend {
                text::sample(&mut suspends, SUSPEND, &labels, if suspended { 1.0 } else { 0.0 });
            }
        }
        // Label order: kind, name, namespace, status, type.
        conditions.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let mut condition_text = String::new();
        for (key, status, condition_type, value) in conditions {
            let labels = [
                ("kind", key.kind.as_str()),
                ("name", key.name.as_str()),
                ("namespace", key.namespace.as_str()),
                ("status", status),
                ("type", condition_type),
            ];
            text::sample(&mut condition_text, CONDITION, &labels, value);
        }
        for (name, help, kind, body) in [
            (CONDITION, CONDITION_HELP, "gauge", condition_text),
            (DURATION, DURATION_HELP, "histogram", durations),
            (SUSPEND, SUSPEND_HELP, "gauge", suspends),
        ] {
            if !body.is_empty() {
                let mut family = String::new();
                text::header(&mut family, name, help, kind);
                family.push_str(&body);
                families.insert(name, family);
            }
        }
    }
}

const CONDITION: &str = "gotk_reconcile_condition";
const CONDITION_HELP: &str = "The current condition status of a GitOps Toolkit resource reconciliation.";
const DURATION: &str = "gotk_reconcile_duration_seconds";
const DURATION_HELP: &str = "The duration in seconds of a GitOps Toolkit resource reconciliation.";
const SUSPEND: &str = "gotk_suspend_status";
const SUSPEND_HELP: &str = "The current suspend status of a GitOps Toolkit resource.";
