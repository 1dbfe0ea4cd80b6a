//! The generic registry: Kubernetes object semantics (metadata rules, admission, versions,
//! optimistic concurrency, two-phase delete) over [`eddy_storage::Store`], for every kind.
//!
//! Objects are stored as JSON in their kind's storage version, without `resourceVersion`:
//! the store's revision is the `resourceVersion`, set on every read. What differs per kind
//! lives in its [`KindStrategy`], assembled once; everything else is shared, as in
//! k8s.io/apiserver's generic registry store. Every write records `metadata.managedFields`
//! through `eddy-ssa`, which also performs server-side apply ([`Change::Apply`]).
//!
//! - [`read`]: GET and the list scans, all on the blocking pool;
//! - [`write`]: create, update, patches and apply — NamespaceLifecycle admission at the moment
//!   of creation, typed storage conflicts driving the retries;
//! - [`delete`]: delete and deletecollection (finalizers, two-phase delete);
//! - [`request`]: what kube-apiserver's decoder does to a request body (pruning, defaulting);
//! - [`rules`]: the revision a list or a watch starts at.

use std::sync::Arc;

use bytes::Bytes;
use eddy_api::ResourceInfo;
use eddy_api::admission::FieldValidation;
use eddy_storage::{Key, KvEngine, Object, Prefix, Revision, Store};
use serde_json::{Map, Value};

use crate::namespace_lifecycle::NamespaceLifecycle;
use crate::status::{ApiError, Target};
use crate::storage_codec;
use crate::strategy::{KindStrategies, KindStrategy};

pub mod delete;
pub mod read;
pub mod request;
pub mod rules;
pub mod write;

pub use write::Change;

/// A resource as addressed by a request: the kind's strategy and the version the client
/// speaks. Cheap to clone (the strategy is shared).
#[derive(Debug, Clone)]
pub struct ServedResource {
    /// Per-kind rules (and the kind's catalogue entry), shared by every request.
    pub strategy: Arc<KindStrategy>,
    /// The served version named in the URL.
    pub version: &'static str,
}

impl ServedResource {
    /// `version` of the kind of `strategy`; `None` when the kind does not serve it.
    #[must_use]
    pub fn new(strategy: &Arc<KindStrategy>, version: &str) -> Option<Self> {
        let v = strategy.info.version(version)?;
        Some(Self { strategy: Arc::clone(strategy), version: v.name })
    }

    /// The kind's entry in the catalogue of served kinds.
    #[must_use]
    pub fn info(&self) -> &'static ResourceInfo {
        self.strategy.info
    }

    /// `group/version` the client speaks.
    #[must_use]
    pub fn api_version(&self) -> String {
        self.info().api_version(self.version)
    }

    /// The error target for an object name.
    #[must_use]
    pub fn target(&self, name: &str) -> Target {
        Target { group: self.info().group.to_owned(), resource: self.info().plural.to_owned(), name: name.to_owned() }
    }

    fn key(&self, namespace: &str, name: &str) -> Key {
        Key::new(self.info().group, self.info().plural, namespace, name)
    }

    /// The store prefix of this resource, optionally within one namespace.
    #[must_use]
    pub fn prefix(&self, namespace: Option<&str>) -> Prefix {
        match namespace {
            Some(ns) => Prefix::namespaced(self.info().group, self.info().plural, ns),
            None => Prefix::resource(self.info().group, self.info().plural),
        }
    }
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run every step but persistence.
    pub dry_run: bool,
    /// What to do about unknown fields.
    pub field_validation: FieldValidation,
    /// Who writes, for `managedFields`.
    pub field_manager: String,
}

/// Options of a delete (`DeleteOptions`).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `propagationPolicy`: `Orphan` and `Foreground` add their finalizer.
    pub propagation_policy: Option<String>,
}

/// A list page.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// The objects (in the requested version, with `resourceVersion`).
    pub items: Vec<Value>,
    /// The revision the list reflects.
    pub revision: Revision,
    /// Where the next page starts, when there is one.
    pub next: Option<(String, String)>,
}

/// Objects decoded at a time by [`Registry::list_paged`].
pub const LIST_PAGE: usize = 500;

/// Items read by one list call, the revision they reflect and where the next page starts.
type Page<T> = (Vec<T>, Revision, Option<(String, String)>);

/// A list page as JSON.
#[derive(Debug, Clone)]
pub struct JsonPage {
    /// Each object as JSON (in the requested version, with `resourceVersion`).
    pub items: Vec<Bytes>,
    /// The revision the list reflects.
    pub revision: Revision,
    /// Where the next page starts, when there is one.
    pub next: Option<(String, String)>,
}

/// A successful write: the object and the warnings to send.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored (in the requested version).
    pub object: WrittenObject,
    /// `Warning` headers.
    pub warnings: Vec<String>,
    /// Whether the write created the object (201) rather than changed it.
    pub created: bool,
}

/// The object a write answers with: decoded, or as the JSON bytes the storage codec renders
/// from what was stored (no decode when the request's version is the storage version).
#[derive(Debug, Clone)]
pub enum WrittenObject {
    /// A decoded object.
    Value(Value),
    /// The object as JSON, `resourceVersion` included.
    Json(Bytes),
}

impl WrittenObject {
    /// The object as a value (parsed when only its JSON is kept).
    ///
    /// # Errors
    /// 500 when the JSON does not parse (it was rendered by the codec, so it always does).
    pub fn value(&self) -> Result<std::borrow::Cow<'_, Value>, ApiError> {
        match self {
            Self::Value(v) => Ok(std::borrow::Cow::Borrowed(v)),
            Self::Json(b) => serde_json::from_slice(b)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| ApiError::internal(format!("decoding a written object: {e}"))),
        }
    }
}

/// Now, as Kubernetes prints timestamps (RFC 3339, seconds, UTC).
#[must_use]
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A name for `generateName`: the prefix plus five characters of kube's alphabet.
fn generated_name(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    // The whole name must stay within 253 characters.
    let keep = prefix.len().min(253 - 5);
    let mut cut = keep;
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &prefix[..cut])
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The `metadata` map of an object, created when missing. A non-object value (which callers
/// never pass) is replaced by an empty object rather than panicking on indexing.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        // Both were just made objects.
        _ => unreachable!("metadata is an object"),
    }
}

/// Parses a `resourceVersion` string.
///
/// # Errors
/// 400 when it is not a revision number.
pub fn parse_resource_version(rv: &str) -> Result<Revision, ApiError> {
    rv.parse::<Revision>().map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))
}

/// Runs `read` (store reads, decoding) on tokio's blocking pool, never on an async worker:
/// a scan of 100,000 objects must not hold up the small requests the workers serve. A panic
/// in `read` is resumed here, so the catch-panic layer answers it as any other.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(read).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ApiError::internal("a store read was cancelled (the server is shutting down)")),
    }
}

/// The Kubernetes object semantics over one store.
pub struct Registry<E: KvEngine> {
    store: Store<E>,
    kinds: Arc<KindStrategies>,
    namespaces: Option<Arc<dyn NamespaceLifecycle>>,
}

impl<E: KvEngine> Clone for Registry<E> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), kinds: Arc::clone(&self.kinds), namespaces: self.namespaces.clone() }
    }
}

impl<E: KvEngine> Registry<E> {
    /// A registry over `store`, with the strategy of every served kind assembled once.
    pub fn new(store: Store<E>) -> Self {
        Self { store, kinds: Arc::new(KindStrategies::build()), namespaces: None }
    }

    /// This registry with namespace admission for every create (aggregated mode: the
    /// cluster's namespaces); `None` admits every namespace.
    #[must_use]
    pub fn with_namespace_lifecycle(mut self, namespaces: Option<Arc<dyn NamespaceLifecycle>>) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// `group/version/plural` as served; `None` when not served.
    #[must_use]
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<ServedResource> {
        self.kinds.resource(group, version, plural)
    }

    /// The underlying store.
    pub fn store(&self) -> &Store<E> {
        &self.store
    }

    /// Decodes a stored object into `version`, with `resourceVersion` set.
    ///
    /// # Errors
    /// 500 when the stored bytes are not a valid object.
    pub fn decode(&self, res: &ServedResource, obj: &Object) -> Result<Value, ApiError> {
        decode_stored(res, &obj.value, obj.mod_revision)
    }
}

/// Whether `deletionTimestamp` is set.
#[must_use]
pub fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Decodes stored bytes into the resource's requested version with `resourceVersion` set.
///
/// # Errors
/// 500 when the stored bytes are not a valid object of the kind.
pub fn decode_stored(res: &ServedResource, bytes: &[u8], revision: Revision) -> Result<Value, ApiError> {
    storage_codec::decode_at(res, bytes, revision)
}
