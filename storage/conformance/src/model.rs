//! A tiny reference model of the store's semantics, for property tests.

use std::collections::BTreeMap;

use bytes::Bytes;
use eddy_storage::{Error, Event, EventType, Key, KvEngine, Object, Preconditions, Prefix, Revision, Store};
use proptest::prelude::*;

/// One operation of a random sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create `(ns, name)`.
    Create(u8, u8, u8),
    /// Update; `Some(delta)` expects `current revision - delta` (0 = the right one).
    Update(u8, u8, u8, Option<u8>),
    /// Delete, optionally with a revision precondition off by `delta`.
    Delete(u8, u8, Option<u8>),
}

fn key_of(ns: u8, name: u8) -> Key {
    crate::key(&format!("ns{}", ns % 3), &format!("o{}", name % 6))
}

/// What an operation returned, comparably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeded at this revision.
    Ok(Revision),
    /// Failed with an error of this name.
    Err(&'static str),
}

fn err_name(e: &Error) -> &'static str {
    match e {
        Error::NotFound => "NotFound",
        Error::AlreadyExists => "AlreadyExists",
        Error::Conflict { .. } => "Conflict",
        Error::PreconditionFailed(_) => "PreconditionFailed",
        _ => "Other",
    }
}

/// Reference semantics in a map.
#[derive(Debug)]
pub struct Model {
    objects: BTreeMap<(String, String), Object>,
    revision: Revision,
    history: Vec<(EventType, Revision, String)>,
    events: Vec<Event>,
}

impl Default for Model {
    /// An empty store, at [`eddy_storage::FIRST_REVISION`].
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            revision: eddy_storage::FIRST_REVISION,
            history: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl Model {
    /// Records a successful put.
    pub fn put(&mut self, k: &Key, o: Object) {
        self.revision = o.mod_revision;
        self.objects.insert((k.namespace.clone(), k.name.clone()), o);
    }

    /// Records a successful delete.
    pub fn delete(&mut self, k: &Key, rev: Revision) {
        self.revision = rev;
        self.objects.remove(&(k.namespace.clone(), k.name.clone()));
    }

    /// The newest revision.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// Every event so far.
    pub fn history(&self) -> Vec<(EventType, Revision, String)> {
        self.history.clone()
    }

    /// Every event so far in full (objects before and after), with a commit time of 0.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    fn record(&mut self, kind: EventType, object: Option<Object>, prev: Option<Object>) {
        let name = object.as_ref().or(prev.as_ref()).map(|o| o.name.clone()).unwrap_or_default();
        self.history.push((kind, self.revision, name));
        self.events.push(Event { kind, revision: self.revision, object, prev, commit_unix_ms: 0 });
    }

    /// Objects under `prefix` (namespace filter only; the model holds one resource).
    pub fn list(&self, prefix: &Prefix) -> Vec<Object> {
        self.objects
            .values()
            .filter(|o| prefix.namespace.as_deref().is_none_or(|ns| ns == o.namespace))
            .cloned()
            .collect()
    }

    /// Applies `op` and returns what the store must answer.
    pub fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Create(ns, name, v) => {
                let k = key_of(*ns, *name);
                let id = (k.namespace.clone(), k.name.clone());
                if self.objects.contains_key(&id) {
                    return Outcome::Err("AlreadyExists");
                }
                self.revision += 1;
                let o = Object {
                    namespace: k.namespace.clone(),
                    name: k.name.clone(),
                    uid: format!("uid-{}", self.revision),
                    create_revision: self.revision,
                    mod_revision: self.revision,
                    value: Bytes::from(vec![*v; 3]),
                };
                self.objects.insert(id, o.clone());
                self.record(EventType::Added, Some(o), None);
                Outcome::Ok(self.revision)
            }
            Op::Update(ns, name, v, delta) => {
                let k = key_of(*ns, *name);
                let id = (k.namespace.clone(), k.name.clone());
                let Some(cur) = self.objects.get(&id) else { return Outcome::Err("NotFound") };
                if let Some(d) = delta
                    && *d != 0
                {
                    return Outcome::Err("Conflict");
                }
                self.revision += 1;
                let prev = cur.clone();
                let o = Object { mod_revision: self.revision, value: Bytes::from(vec![*v; 3]), ..cur.clone() };
                self.objects.insert(id, o.clone());
                self.record(EventType::Modified, Some(o), Some(prev));
                Outcome::Ok(self.revision)
            }
            Op::Delete(ns, name, delta) => {
                let k = key_of(*ns, *name);
                let id = (k.namespace.clone(), k.name.clone());
                if !self.objects.contains_key(&id) {
                    return Outcome::Err("NotFound");
                }
                if let Some(d) = delta
                    && *d != 0
                {
                    return Outcome::Err("PreconditionFailed");
                }
                self.revision += 1;
                let prev = self.objects.remove(&id);
                self.record(EventType::Deleted, None, prev);
                Outcome::Ok(self.revision)
            }
        }
    }
}

/// Runs `op` against the store.
pub async fn run<E: KvEngine>(s: &Store<E>, op: &Op) -> Outcome {
    let result = match op {
        Op::Create(ns, name, v) => {
            let uid = format!("uid-{}", s.current_revision() + 1);
            s.create(&key_of(*ns, *name), &uid, Bytes::from(vec![*v; 3])).await.map(|o| o.mod_revision)
        }
        Op::Update(ns, name, v, delta) => {
            let k = key_of(*ns, *name);
            let expected = match (delta, s.get(&k)) {
                (Some(d), Ok(cur)) => Some(cur.mod_revision.wrapping_sub(u64::from(*d))),
                (Some(_), Err(_)) => Some(0),
                (None, _) => None,
            };
            s.update(&k, Bytes::from(vec![*v; 3]), expected).await.map(|o| o.mod_revision)
        }
        Op::Delete(ns, name, delta) => {
            let k = key_of(*ns, *name);
            let revision = match (delta, s.get(&k)) {
                (Some(d), Ok(cur)) => Some(cur.mod_revision.wrapping_sub(u64::from(*d))),
                (Some(_), Err(_)) => Some(0),
                (None, _) => None,
            };
            s.delete(&k, Preconditions { uid: None, revision }).await.map(|d| d.revision)
        }
    };
    match result {
        Ok(r) => Outcome::Ok(r),
        Err(e) => Outcome::Err(err_name(&e)),
    }
}

/// A strategy for random operation sequences.
pub fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| Op::Create(a, b, c)),
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), proptest::option::of(0u8..2)).prop_map(|(a, b, c, d)| Op::Update(a, b, c, d)),
        2 => (any::<u8>(), any::<u8>(), proptest::option::of(0u8..2)).prop_map(|(a, b, d)| Op::Delete(a, b, d)),
    ];
    proptest::collection::vec(op, 1..max_len)
}
