//! A watched cache of one Flux kind, shared by every controller that needs it.
//!
//! An [`Informer`] lists and watches a kind (through `kube-runtime`'s watcher, which resumes
//! from the last resourceVersion, relists after `410 Gone` and backs off on errors), keeps the
//! typed objects in a [`Store`], and hands every change (old and new object) to its
//! subscribers: the kind's own controller, and controllers of *other* kinds that react to it
//! (a Kustomization controller subscribes to GitRepositories to learn about new revisions).
//!
//! A [`Store`] can carry **indexes** — a function from an object to index keys — so that a
//! change of one object finds its dependents without scanning (`source: GitRepository/ns/app`
//! → the Kustomizations referring to it), as controller-runtime's field indexers do.
//!
//! A relist replaces the store's contents atomically at `InitDone`: objects that vanished while
//! the watch was down are reported as deletions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::StreamExt as _;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt as _, watcher};
use parking_lot::RwLock;
use tokio::sync::{mpsc, watch};

use crate::client::FluxApi;
use crate::object::{FluxObject, ObjectKey, decode};

/// A change to one object: `(None, Some)` created, `(Some, Some)` updated, `(Some, None)`
/// deleted.
#[derive(Debug, Clone)]
pub struct Change<T> {
    /// The object before, if it existed.
    pub old: Option<Arc<T>>,
    /// The object after, if it still exists.
    pub new: Option<Arc<T>>,
}

impl<T: FluxObject> Change<T> {
    /// The key of the changed object.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        self.new.as_ref().or(self.old.as_ref()).map(|o| o.key()).unwrap_or_else(|| ObjectKey::new("", ""))
    }
}

type IndexFn<T> = Box<dyn Fn(&T) -> Vec<String> + Send + Sync>;

struct Index<T> {
    name: &'static str,
    func: IndexFn<T>,
    entries: HashMap<String, HashSet<ObjectKey>>,
}

struct Inner<T> {
    objects: HashMap<ObjectKey, Arc<T>>,
    indexes: Vec<Index<T>>,
}

/// The cached objects of one kind (cheap to clone; clones share the cache).
pub struct Store<T> {
    inner: Arc<RwLock<Inner<T>>>,
    synced: watch::Receiver<bool>,
}

impl<T> Clone for Store<T> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner), synced: self.synced.clone() }
    }
}

impl<T: FluxObject> Store<T> {
    /// The object with this key.
    #[must_use]
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<T>> {
        self.inner.read().objects.get(key).cloned()
    }

    /// Every cached object.
    #[must_use]
    pub fn list(&self) -> Vec<Arc<T>> {
        self.inner.read().objects.values().cloned().collect()
    }

    /// How many objects are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.read().objects.len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of the objects whose index `index` yields `value`.
    #[must_use]
    pub fn by_index(&self, index: &str, value: &str) -> Vec<ObjectKey> {
        let inner = self.inner.read();
        inner
            .indexes
            .iter()
            .find(|i| i.name == index)
            .and_then(|i| i.entries.get(value))
            .map(|set| {
                let mut v: Vec<ObjectKey> = set.iter().cloned().collect();
                v.sort();
                v
            })
            .unwrap_or_default()
    }

    /// Waits until the first complete list arrived.
    pub async fn wait_synced(&self) {
        let mut synced = self.synced.clone();
        let _ = synced.wait_for(|s| *s).await;
    }

    fn upsert(&self, obj: T) -> Change<T> {
        let key = obj.key();
        let new = Arc::new(obj);
        let mut inner = self.inner.write();
        let old = inner.objects.insert(key.clone(), Arc::clone(&new));
        let Inner { indexes, .. } = &mut *inner;
        for index in indexes.iter_mut() {
            if let Some(o) = &old {
                for v in (index.func)(o) {
                    remove_entry(&mut index.entries, &v, &key);
                }
            }
            for v in (index.func)(&new) {
                index.entries.entry(v).or_default().insert(key.clone());
            }
        }
        Change { old, new: Some(new) }
    }

    fn remove(&self, key: &ObjectKey) -> Option<Change<T>> {
        let mut inner = self.inner.write();
        let old = inner.objects.remove(key)?;
        for index in &mut inner.indexes {
            for v in (index.func)(&old) {
                remove_entry(&mut index.entries, &v, key);
            }
        }
        Some(Change { old: Some(old), new: None })
    }

    fn keys(&self) -> Vec<ObjectKey> {
        self.inner.read().objects.keys().cloned().collect()
    }
}

fn remove_entry(entries: &mut HashMap<String, HashSet<ObjectKey>>, value: &str, key: &ObjectKey) {
    if let Some(set) = entries.get_mut(value) {
        set.remove(key);
        if set.is_empty() {
            entries.remove(value);
        }
    }
}

/// Watches one kind into a [`Store`] and fans changes out to subscribers.
pub struct Informer<T> {
    api: FluxApi<T>,
    config: watcher::Config,
    store: Store<T>,
    synced_tx: watch::Sender<bool>,
    subscribers: Vec<mpsc::UnboundedSender<Change<T>>>,
}

impl<T: FluxObject> Informer<T> {
    /// An informer over `client`, for every namespace (or one), with an optional label
    /// selector (sharding: `--watch-label-selector`).
    #[must_use]
    pub fn new(client: kube::Client, namespace: Option<&str>, label_selector: Option<&str>) -> Self {
        let api = match namespace {
            Some(ns) => FluxApi::namespaced(client, ns),
            None => FluxApi::all(client),
        };
        let mut config = watcher::Config::default().any_semantic();
        if let Some(sel) = label_selector.filter(|s| !s.is_empty()) {
            config = config.labels(sel);
        }
        let (synced_tx, synced) = watch::channel(false);
        let store =
            Store { inner: Arc::new(RwLock::new(Inner { objects: HashMap::new(), indexes: Vec::new() })), synced };
        Self { api, config, store, synced_tx, subscribers: Vec::new() }
    }

    /// Adds an index to the store (before [`Informer::run`]).
    pub fn index(&mut self, name: &'static str, func: impl Fn(&T) -> Vec<String> + Send + Sync + 'static) {
        self.store.inner.write().indexes.push(Index { name, func: Box::new(func), entries: HashMap::new() });
    }

    /// The store this informer fills.
    #[must_use]
    pub fn store(&self) -> Store<T> {
        self.store.clone()
    }

    /// A stream of every change from now on (subscribe before [`Informer::run`] to see the
    /// initial list as creations).
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<Change<T>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(tx);
        rx
    }

    /// Runs until the watch stream ends (it does not, short of the runtime shutting down).
    pub async fn run(self) {
        let Self { api, config, store, synced_tx, mut subscribers } = self;
        let stream = watcher::watcher(api.dynamic().clone(), config).default_backoff();
        futures_util::pin_mut!(stream);
        let mut relist: Option<HashSet<ObjectKey>> = None;
        while let Some(event) = stream.next().await {
            let changes: Vec<Change<T>> = match event {
                Ok(watcher::Event::Init) => {
                    relist = Some(HashSet::new());
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(obj)) => {
                    let change = apply(&store, obj);
                    if let (Some(seen), Some(c)) = (relist.as_mut(), change.as_ref()) {
                        seen.insert(c.key());
                    }
                    change.into_iter().collect()
                }
                Ok(watcher::Event::InitDone) => {
                    let seen = relist.take().unwrap_or_default();
                    let gone: Vec<ObjectKey> = store.keys().into_iter().filter(|k| !seen.contains(k)).collect();
                    let changes = gone.iter().filter_map(|k| store.remove(k)).collect();
                    let _ = synced_tx.send(true);
                    changes
                }
                Ok(watcher::Event::Apply(obj)) => apply(&store, obj).into_iter().collect(),
                Ok(watcher::Event::Delete(obj)) => match decode::<T>(obj) {
                    Ok(o) => store.remove(&o.key()).into_iter().collect(),
                    Err(e) => {
                        tracing::warn!(kind = T::KIND, error = %e, "undecodable deleted object");
                        Vec::new()
                    }
                },
                Err(e) => {
                    tracing::warn!(kind = T::KIND, error = %e, "watch failed; retrying with backoff");
                    Vec::new()
                }
            };
            for change in changes {
                subscribers.retain(|s| s.send(change.clone()).is_ok());
            }
        }
    }
}

fn apply<T: FluxObject>(store: &Store<T>, obj: DynamicObject) -> Option<Change<T>> {
    match decode::<T>(obj) {
        Ok(o) => Some(store.upsert(o)),
        Err(e) => {
            tracing::warn!(kind = T::KIND, error = %e, "an object does not decode; ignored");
            None
        }
    }
}
