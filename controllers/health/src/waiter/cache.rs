//! A watch-backed cache of the objects of one resource in one namespace (or of a
//! cluster-scoped resource), shared by every wait that needs it.
//!
//! The cache is filled by a `kube` watcher (list, then watch, relisting after errors with
//! backoff). Waits register interest in object names and are woken (a `Notify` permit, so no
//! wake-up is lost) when one of their objects changes or the cache (re)syncs.
//!
//! To keep memory bounded the objects are stored without `metadata.managedFields`, Secrets
//! without `data`/`stringData` (no health rule reads them, and secret values are then never
//! held by this crate), and as JSON text, parsed again by each lookup: a parsed
//! `serde_json::Value` takes several times the bytes of its JSON (a map node per object, a
//! heap string per key), and a cache may hold every object of a namespace for half an hour
//! while a wait looks at its few objects only when woken.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::Notify;

/// Waits interested in one object name: (registration id, its wake-up).
type Interested = Vec<(u64, Arc<Notify>)>;

/// An object as the cache keeps it: its JSON (see [`KindCache::stored`]).
type Stored = Arc<[u8]>;

/// The cached objects of one resource in one namespace.
pub(crate) struct KindCache {
    /// Resource and scope.
    resource: ApiResource,
    /// Objects by name, stripped (see the module docs).
    objects: RwLock<HashMap<String, Stored>>,
    /// Whether the first list completed.
    synced: AtomicBool,
    /// The watch's last error while not synced (reported as the objects' `Unknown` cause).
    last_error: Mutex<Option<String>>,
    /// Waits to wake, by object name.
    interest: Mutex<HashMap<String, Interested>>,
    /// Next registration id.
    next_id: AtomicU64,
    /// The highest `resourceVersion` the watch has delivered.
    revision: AtomicU64,
    /// The API of the watched objects (for fresh reads), set when the watch starts.
    api: Option<Api<DynamicObject>>,
    /// Since when no wait is registered (`None` while one is).
    idle_since: Mutex<Option<Instant>>,
    /// The watch task, ended when the cache is dropped.
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for KindCache {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

/// What a cache knows of one object.
pub(crate) enum Lookup {
    /// The first list has not completed; the watch's error if it failed.
    NotSynced(Option<String>),
    /// The object does not exist.
    Absent,
    /// The object.
    Present(Arc<Value>),
}

/// Removes a wait's interest when the wait ends (or is dropped).
pub(crate) struct Registration {
    cache: Arc<KindCache>,
    name: String,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut interest = self.cache.interest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = interest.get_mut(&self.name) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                interest.remove(&self.name);
            }
        }
        if interest.is_empty() {
            *self.cache.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }
}

impl KindCache {
    /// Starts the watch of `resource` in `namespace` (`None`: all namespaces / cluster
    /// scope) on the current tokio runtime.
    pub(crate) fn start(client: kube::Client, resource: &ApiResource, namespace: Option<&str>) -> Arc<Self> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client, ns, resource),
            None => Api::all_with(client, resource),
        };
        let cache = Arc::new(Self::new(resource.clone(), Some(api.clone())));
        tracing::debug!(api_version = %resource.api_version, kind = %resource.kind, namespace = ?namespace, "starting health watch");
        let weak = Arc::downgrade(&cache);
        let task = tokio::spawn(run(weak, api));
        *cache.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        cache
    }

    /// An empty cache of `resource`, its watch not started.
    fn new(resource: ApiResource, api: Option<Api<DynamicObject>>) -> Self {
        Self {
            resource,
            objects: RwLock::new(HashMap::new()),
            synced: AtomicBool::new(false),
            last_error: Mutex::new(None),
            interest: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            revision: AtomicU64::new(0),
            api,
            idle_since: Mutex::new(Some(Instant::now())),
            task: Mutex::new(None),
        }
    }

    /// What the cache knows of the object `name`.
    pub(crate) fn lookup(&self, name: &str) -> Lookup {
        if !self.synced.load(Ordering::Acquire) {
            return Lookup::NotSynced(self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone());
        }
        let stored = self.objects.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned();
        match stored.map(|json| serde_json::from_slice::<Value>(&json)) {
            Some(Ok(obj)) => Lookup::Present(Arc::new(obj)),
            // Not expected (the cache wrote the JSON itself): reported as the object's Unknown cause.
            Some(Err(e)) => {
                Lookup::NotSynced(Some(format!("cached {} {name} does not parse: {e}", self.resource.kind)))
            }
            None => Lookup::Absent,
        }
    }

    /// Registers `notify` to be woken when the object `name` changes.
    pub(crate) fn register(self: &Arc<Self>, name: &str, notify: Arc<Notify>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut interest = self.interest.lock().unwrap_or_else(PoisonError::into_inner);
        interest.entry(name.to_owned()).or_default().push((id, notify));
        *self.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = None;
        drop(interest);
        Registration { cache: Arc::clone(self), name: name.to_owned(), id }
    }

    /// Whether the first list completed.
    pub(crate) fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The highest `resourceVersion` the watch has delivered.
    pub(crate) fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// A fresh (quorum) read of `name` and its `resourceVersion`, `None` when it does not
    /// exist or cannot be read. A wait that starts right after an apply reads its objects
    /// once this way, so that a watch lagging behind that apply cannot pass the old object
    /// off as the current one.
    pub(crate) async fn fresh(&self, name: &str) -> Option<(Arc<Value>, u64)> {
        let api = self.api.as_ref()?;
        match api.get_opt(name).await {
            Ok(Some(obj)) => {
                let rv = resource_version(&obj)?;
                let (_, value) = self.stripped(obj)?;
                Some((Arc::new(value), rv))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(kind = %self.resource.kind, %name, error = %e, "fresh read failed; using the watch");
                None
            }
        }
    }

    fn seen(&self, rv: Option<u64>) {
        if let Some(rv) = rv {
            self.revision.fetch_max(rv, Ordering::AcqRel);
        }
    }

    /// How long no wait has been registered, `None` while one is.
    pub(crate) fn idle_for(&self) -> Option<Duration> {
        self.idle_since.lock().unwrap_or_else(PoisonError::into_inner).map(|t| t.elapsed())
    }

    /// Wakes the waits interested in `name`.
    fn wake(&self, name: &str) {
        if let Some(list) = self.interest.lock().unwrap_or_else(PoisonError::into_inner).get(name) {
            for (_, n) in list {
                n.notify_one();
            }
        }
    }

    /// Wakes every registered wait.
    fn wake_all(&self) {
        for list in self.interest.lock().unwrap_or_else(PoisonError::into_inner).values() {
            for (_, n) in list {
                n.notify_one();
            }
        }
    }

    /// The stored form of a watched object (its name, `resourceVersion` and JSON): see
    /// [`KindCache::strip`].
    fn stored(&self, mut obj: DynamicObject) -> Option<(String, Option<u64>, Stored)> {
        let rv = resource_version(&obj);
        let name = self.strip(&mut obj)?;
        let json = serde_json::to_vec(&obj).ok()?;
        Some((name, rv, json.into()))
    }

    /// A watched object as health rules see it (see [`KindCache::strip`]).
    fn stripped(&self, mut obj: DynamicObject) -> Option<(String, Value)> {
        let name = self.strip(&mut obj)?;
        Some((name, serde_json::to_value(obj).ok()?))
    }

    /// Sets apiVersion and kind (lists omit them), drops the managed fields and a Secret's
    /// data; the object's name, `None` for an object without one.
    fn strip(&self, obj: &mut DynamicObject) -> Option<String> {
        let name = obj.metadata.name.clone()?;
        obj.types = Some(kube::core::TypeMeta {
            api_version: self.resource.api_version.clone(),
            kind: self.resource.kind.clone(),
        });
        obj.metadata.managed_fields = None;
        if self.resource.group.is_empty()
            && self.resource.kind == "Secret"
            && let Value::Object(map) = &mut obj.data
        {
            map.remove("data");
            map.remove("stringData");
        }
        Some(name)
    }

    fn apply(&self, obj: DynamicObject) {
        if let Some((name, rv, json)) = self.stored(obj) {
            self.seen(rv);
            self.objects.write().unwrap_or_else(PoisonError::into_inner).insert(name.clone(), json);
            self.wake(&name);
        }
    }

    fn delete(&self, obj: &DynamicObject) {
        self.seen(resource_version(obj));
        if let Some(name) = &obj.metadata.name {
            self.objects.write().unwrap_or_else(PoisonError::into_inner).remove(name);
            self.wake(name);
        }
    }

    fn replace(&self, buffer: HashMap<String, Stored>, highest_rv: Option<u64>) {
        self.seen(highest_rv);
        *self.objects.write().unwrap_or_else(PoisonError::into_inner) = buffer;
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.synced.store(true, Ordering::Release);
        self.wake_all();
    }

    fn failed(&self, error: String) {
        if !self.synced.load(Ordering::Acquire) {
            *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
            self.wake_all();
        }
    }
}

/// `metadata.resourceVersion` as a number (etcd's revision; kube-apiserver's and Eddy's
/// resource versions are).
fn resource_version(obj: &DynamicObject) -> Option<u64> {
    obj.metadata.resource_version.as_deref()?.parse().ok()
}

/// The watch loop: runs until the cache is dropped.
async fn run(cache: Weak<KindCache>, api: Api<DynamicObject>) {
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut buffer: HashMap<String, Stored> = HashMap::new();
    let mut highest_rv = None;
    while let Some(event) = stream.next().await {
        let Some(cache) = cache.upgrade() else { return };
        match event {
            Ok(Event::Init) => {
                buffer.clear();
                highest_rv = None;
            }
            Ok(Event::InitApply(obj)) => {
                if let Some((name, rv, json)) = cache.stored(obj) {
                    highest_rv = highest_rv.max(rv);
                    buffer.insert(name, json);
                }
            }
            Ok(Event::InitDone) => cache.replace(std::mem::take(&mut buffer), highest_rv.take()),
            Ok(Event::Apply(obj)) => cache.apply(obj),
            Ok(Event::Delete(obj)) => cache.delete(&obj),
            Err(e) => {
                tracing::warn!(api_version = %cache.resource.api_version, kind = %cache.resource.kind, error = %e, "health watch failed; retrying");
                cache.failed(e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::api::GroupVersionKind;
    use serde_json::json;

    use super::*;

    fn object(resource: &ApiResource, name: &str, data: Value) -> DynamicObject {
        let mut obj = DynamicObject::new(name, resource).within("ns").data(data);
        obj.metadata.resource_version = Some(if name == "a" { "7" } else { "5" }.to_owned());
        obj.metadata.managed_fields = Some(vec![Default::default()]);
        obj.types = None; // as in list responses
        obj
    }

    #[tokio::test]
    async fn events_fill_the_cache_and_wake_interested_waits() {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        let cache = Arc::new(KindCache::new(resource.clone(), None));
        let notify = Arc::new(Notify::new());
        let registration = cache.register("a", Arc::clone(&notify));
        assert!(cache.idle_for().is_none());
        assert!(matches!(cache.lookup("a"), Lookup::NotSynced(None)));
        cache.failed("forbidden".to_owned());
        assert!(matches!(cache.lookup("a"), Lookup::NotSynced(Some(e)) if e == "forbidden"));
        notify.notified().await; // the failure woke the wait

        let (name, rv, json) = cache.stored(object(&resource, "a", json!({"data": {"k": "v"}}))).unwrap();
        cache.replace(HashMap::from([(name, json)]), rv);
        notify.notified().await; // the sync woke it
        let Lookup::Present(obj) = cache.lookup("a") else { panic!("a is listed") };
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(obj["data"]["k"], "v");
        assert!(obj["metadata"].get("managedFields").is_none());
        assert!(matches!(cache.lookup("b"), Lookup::Absent));

        cache.apply(object(&resource, "b", json!({})));
        assert!(matches!(cache.lookup("b"), Lookup::Present(_)));
        cache.delete(&object(&resource, "a", json!({})));
        notify.notified().await; // a's deletion woke it (b's change did not need to)
        assert!(matches!(cache.lookup("a"), Lookup::Absent));

        assert_eq!(cache.revision(), 7, "the highest resourceVersion delivered");

        drop(registration);
        assert!(cache.idle_for().is_some());
        assert!(cache.interest.lock().unwrap().is_empty());
    }

    #[test]
    fn secrets_are_stored_without_their_data() {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret"));
        let cache = KindCache::new(resource.clone(), None);
        let (_, value) = cache
            .stripped(object(
                &resource,
                "s",
                json!({"data": {"token": "c2VjcmV0"}, "stringData": {"a": "b"}, "type": "Opaque"}),
            ))
            .unwrap();
        assert!(value.get("data").is_none() && value.get("stringData").is_none());
        assert_eq!(value["type"], "Opaque");
    }
}
