//! The generic registry: Kubernetes object semantics (metadata rules, admission, versions,
//! optimistic concurrency, two-phase delete) over [`eddy_storage::Store`], for every kind.
//!
//! Objects are stored as JSON in their kind's storage version, without `resourceVersion`:
//! the store's revision is the `resourceVersion`, set on every read. What differs per kind
//! lives in its [`KindStrategy`], assembled once per kind when the registry is built and shared
//! by every request; everything else is shared, as in k8s.io/apiserver's generic registry
//! store. Every write records `metadata.managedFields` through `eddy-ssa`,
//! which also performs server-side apply ([`Change::Apply`]).

use bytes::Bytes;
use std::sync::Arc;

use eddy_api::ResourceInfo;
use eddy_api::admission::{AdmissionError, FieldValidation};
use eddy_api::validation::FieldError;
use eddy_ssa::{ApplyError, Request};
use eddy_storage::{Key, KvEngine, ListOptions, Object, Preconditions, Prefix, Revision, Store};
use serde_json::{Map, Value, json};

use crate::admission::NamespaceLifecycle;
use crate::codec;
use crate::patch::{json_patch, merge_patch};
use crate::selector::Selectors;
use crate::status::{ApiError, Cause, Target};
use crate::strategy::{KindStrategies, KindStrategy};

/// A resource as addressed by a request: the kind's strategy and the version the client
/// speaks. Cheap to clone (the strategy is shared).
#[derive(Debug, Clone)]
pub struct Resource {
    /// Per-kind rules (and the kind's catalogue entry), shared by every request.
    pub strategy: Arc<KindStrategy>,
    /// The served version named in the URL.
    pub version: &'static str,
}

impl Resource {
    /// `version` of the kind of `strategy`; `None` when the kind does not serve it.
    #[must_use]
    pub fn new(strategy: &Arc<KindStrategy>, version: &str) -> Option<Self> {
        let v = strategy.info.version(version)?;
        Some(Self { strategy: Arc::clone(strategy), version: v.name })
    }

    /// The registry entry.
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
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<Resource> {
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
    pub fn decode(&self, res: &Resource, obj: &Object) -> Result<Value, ApiError> {
        decode_stored(res, &obj.value, obj.mod_revision)
    }

    /// `GET` one object (read on the blocking pool).
    ///
    /// # Errors
    /// 404 when missing.
    pub async fn get(&self, res: &Resource, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let (this, res, key) = (self.clone(), res.clone(), res.key(namespace, name));
        blocking(move || {
            let obj = this.store.get(&key).map_err(|e| ApiError::from_storage(&e, res.target(&key.name)))?;
            this.decode(&res, &obj)
        })
        .await
    }

    /// `GET` one object as JSON in the requested version (the stored bytes with
    /// `resourceVersion` spliced in when no conversion or new default applies), read on the
    /// blocking pool.
    ///
    /// # Errors
    /// 404 when missing.
    pub async fn get_json(&self, res: &Resource, namespace: &str, name: &str) -> Result<Bytes, ApiError> {
        let (this, res, key) = (self.clone(), res.clone(), res.key(namespace, name));
        blocking(move || {
            let obj = this.store.get(&key).map_err(|e| ApiError::from_storage(&e, res.target(&key.name)))?;
            codec::to_json(&res, &obj.value, obj.mod_revision)
        })
        .await
    }

    /// The stored object at `key` (`None` when missing), read on the blocking pool: the read
    /// half of every write.
    async fn current(&self, res: &Resource, key: &Key) -> Result<Option<Object>, ApiError> {
        let (store, res, key) = (self.store.clone(), res.clone(), key.clone());
        blocking(move || match store.get(&key) {
            Ok(o) => Ok(Some(o)),
            Err(eddy_storage::Error::NotFound) => Ok(None),
            Err(e) => Err(ApiError::from_storage(&e, res.target(&key.name))),
        })
        .await
    }

    /// One list page as of `revision` (newest when `None`), after `start_after`: the objects
    /// `keep` accepts, decoded. The scan and the decoding run on the blocking pool.
    ///
    /// # Errors
    /// 410 when `revision` is compacted, 504 when it is in the future.
    pub async fn list(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        keep: impl FnMut(&Value) -> bool + Send + 'static,
    ) -> Result<ListPage, ApiError> {
        let (this, res, namespace) = (self.clone(), res.clone(), namespace.map(str::to_owned));
        blocking(move || this.list_blocking(&res, namespace.as_deref(), revision, start_after, limit, keep)).await
    }

    fn list_blocking(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<ListPage, ApiError> {
        let (items, revision, next) = self.list_with(res, namespace, revision, start_after, limit, |obj| {
            let v = self.decode(res, obj)?;
            Ok(keep(&v).then_some(v))
        })?;
        Ok(ListPage { items, revision, next })
    }

    /// [`Registry::list`] without a limit, read [`LIST_PAGE`] objects at a time at one revision
    /// (`revision`, or the current one): each object `keep` accepts is turned into what the
    /// caller renders of it by `map` as soon as its page is decoded, so that no more than a page
    /// of decoded objects is held at once (a metadata-only list or watch of 100,000 objects
    /// keeps only what it renders of each). The whole scan runs on the blocking pool. Returns
    /// the rendered items and the revision.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn list_paged<T: Send + 'static>(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        mut keep: impl FnMut(&Value) -> bool + Send + 'static,
        mut map: impl FnMut(Value) -> T + Send + 'static,
    ) -> Result<(Vec<T>, Revision), ApiError> {
        let (this, res, namespace) = (self.clone(), res.clone(), namespace.map(str::to_owned));
        blocking(move || {
            let mut out = Vec::new();
            let mut revision = revision;
            let mut start_after = None;
            loop {
                let page =
                    this.list_blocking(&res, namespace.as_deref(), revision, start_after, Some(LIST_PAGE), &mut keep)?;
                revision = Some(page.revision);
                start_after = page.next;
                out.extend(page.items.into_iter().map(&mut map));
                if start_after.is_none() {
                    return Ok((out, page.revision));
                }
            }
        })
        .await
    }

    /// [`Registry::list`] with every item as JSON in the requested version, filtered by
    /// `selectors` on the stored bytes: a full list of objects stored in the requested
    /// version is a copy of their bytes (see [`codec`]). Runs on the blocking pool.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn list_json(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        selectors: &Arc<Selectors>,
    ) -> Result<JsonPage, ApiError> {
        let (this, res, namespace, selectors) =
            (self.clone(), res.clone(), namespace.map(str::to_owned), Arc::clone(selectors));
        blocking(move || {
            let (items, revision, next) =
                this.list_with(&res, namespace.as_deref(), revision, start_after, limit, |obj| {
                    if !selectors.matches_stored(obj)? {
                        return Ok(None);
                    }
                    codec::to_json(&res, &obj.value, obj.mod_revision).map(Some)
                })?;
            Ok(JsonPage { items, revision, next })
        })
        .await
    }

    /// Reads pages from the store until `limit` items are kept (filtering happens after the
    /// store's page, as kube-apiserver does over etcd) or nothing is left.
    fn list_with<T>(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        mut item: impl FnMut(&Object) -> Result<Option<T>, ApiError>,
    ) -> Result<Page<T>, ApiError> {
        let mut items = Vec::new();
        let mut options = ListOptions { revision, start_after, limit };
        loop {
            let page = self
                .store
                .list(&res.prefix(namespace), &options)
                .map_err(|e| ApiError::from_storage(&e, res.target("")))?;
            let last = page.objects.last().map(|o| (o.namespace.clone(), o.name.clone()));
            for obj in &page.objects {
                if let Some(v) = item(obj)? {
                    items.push(v);
                }
                if limit.is_some_and(|l| items.len() >= l) {
                    let next_key = (obj.namespace.clone(), obj.name.clone());
                    let more_here =
                        page.objects.last().is_some_and(|o| (&o.namespace, &o.name) != (&next_key.0, &next_key.1));
                    let next = (more_here || page.more).then_some(next_key);
                    return Ok((items, page.revision, next));
                }
            }
            match (page.more, last) {
                (true, Some(last)) => {
                    options.revision = Some(page.revision);
                    options.start_after = Some(last);
                }
                _ => return Ok((items, page.revision, None)),
            }
        }
    }

    /// `POST`: creates an object in `namespace`.
    ///
    /// # Errors
    /// 400 for a body that does not fit the URL, 409 if the name is taken, 422 when invalid.
    pub async fn create(
        &self,
        res: &Resource,
        namespace: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type(res, &mut obj)?;
        check_namespace(res, namespace, &mut obj)?;
        let target = res.target(meta_str(&obj, "name").unwrap_or_default());
        let decoded = decode_request(res, &mut obj, opts.field_validation, &target)?;
        let now = now_timestamp();
        let api_version = res.api_version();
        let obj = res.strategy.field_manager().update_no_errors_owned(
            None,
            obj,
            &ssa_request(opts, &api_version, false, &now),
        );
        self.finish_create(res, namespace, obj, opts, decoded, true).await.map_err(WriteFailure::into_api)
    }

    /// The create half of every write: strategy, server metadata, validation, storage.
    async fn finish_create(
        &self,
        res: &Resource,
        namespace: &str,
        mut obj: Value,
        opts: &WriteOptions,
        decoded: Decoded,
        allow_generate_name: bool,
    ) -> Result<Written, WriteFailure> {
        let Decoded { warnings, defaults } = decoded;
        // NamespaceLifecycle admission, as kube-apiserver runs it for a create: POST, and an
        // apply that finds no object.
        if let Some(namespaces) = &self.namespaces {
            let name = meta_str(&obj, "name").unwrap_or_default();
            namespaces.admit_create(namespace, &res.target(name)).await?;
        }
        res.strategy.prepare_for_create(&mut obj);
        {
            let meta = meta_mut(&mut obj);
            for k in ["resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
                meta.remove(k);
            }
            meta.insert("generation".into(), json!(1));
            meta.insert("creationTimestamp".into(), json!(now_timestamp()));
        }
        let generate =
            meta_str(&obj, "generateName").filter(|g| allow_generate_name && !g.is_empty()).map(str::to_owned);
        let needs_name = meta_str(&obj, "name").is_none_or(str::is_empty);
        if let (Some(prefix), true) = (&generate, needs_name) {
            meta_mut(&mut obj).insert("name".into(), json!(generated_name(prefix)));
        }
        let target_name = meta_str(&obj, "name").unwrap_or_default().to_owned();
        res.strategy.validate(&res.target(&target_name), &obj, None)?;
        defaults.drop_unstorable(res, &mut obj);
        let uid = uuid::Uuid::new_v4().to_string();
        meta_mut(&mut obj).insert("uid".into(), json!(uid));
        // A generated name is retried a few times when it happens to be taken.
        let attempts = if generate.is_some() && needs_name { 8 } else { 1 };
        for attempt in 0..attempts {
            if attempt > 0
                && let Some(prefix) = &generate
            {
                meta_mut(&mut obj).insert("name".into(), json!(generated_name(prefix)));
            }
            let name = meta_str(&obj, "name").unwrap_or_default().to_owned();
            // The object is needed again only for another generated name or a dry run.
            let stored = if attempts == 1 && !opts.dry_run {
                codec::encode_owned(&res.strategy, std::mem::take(&mut obj))?
            } else {
                codec::encode(&res.strategy, &obj)?
            };
            if opts.dry_run {
                if self.current(res, &res.key(namespace, &name)).await?.is_some() {
                    if attempt + 1 < attempts {
                        continue;
                    }
                    return Err(WriteFailure::Storage(eddy_storage::Error::AlreadyExists, res.target(&name)));
                }
                return Ok(Written {
                    object: WrittenObject::Value(through_codec(res, &obj)?),
                    warnings,
                    created: true,
                });
            }
            match self.store.create(&res.key(namespace, &name), &uid, stored).await {
                Ok(o) => {
                    let object = WrittenObject::Json(codec::to_json(res, &o.value, o.mod_revision)?);
                    return Ok(Written { object, warnings, created: true });
                }
                Err(eddy_storage::Error::AlreadyExists) if attempt + 1 < attempts => {}
                Err(e) => return Err(WriteFailure::Storage(e, res.target(&name))),
            }
        }
        Err(ApiError::internal("no free generated name").into())
    }

    /// `PUT` on the object (`status == false`) or its status subresource.
    ///
    /// # Errors
    /// 404 when missing, 409 on a stale `resourceVersion` or uid, 422 when invalid.
    pub async fn update(
        &self,
        res: &Resource,
        namespace: &str,
        name: &str,
        obj: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        self.write(res, namespace, name, status, Change::Replace(&obj), opts).await
    }

    /// A write to one named object (or its status): `PUT`, the patches and server-side apply,
    /// in kube-apiserver's order for custom resources. The new object is computed from the
    /// live one (decoded in the request's version); `managedFields` are recorded by
    /// `eddy-ssa` before the strategy and validation run. Patches that do not pin a
    /// `resourceVersion` are recomputed when another write got in between; apply creates
    /// the object when it is missing (the caller runs namespace admission first).
    ///
    /// # Errors
    /// 404 when missing (apply: only for `/status`), 400 for bodies that do not fit the URL,
    /// 409 on a stale `resourceVersion`, a uid mismatch or apply conflicts, 422 when invalid,
    /// 500 (with an empty reason) for apply configurations that do not fit the schema.
    pub async fn write(
        &self,
        res: &Resource,
        namespace: &str,
        name: &str,
        status: bool,
        change: Change<'_>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let target = res.target(name);
        let key = res.key(namespace, name);
        let fm = res.strategy.field_manager();
        let api_version = res.api_version();
        // A PUT body is checked against the URL before anything is read.
        let body = match change {
            Change::Replace(body) => {
                let mut obj = body.clone();
                check_type(res, &mut obj)?;
                check_namespace(res, namespace, &mut obj)?;
                match meta_str(&obj, "name") {
                    Some(n) if n == name => {}
                    Some(n) if !n.is_empty() => {
                        return Err(ApiError::bad_request(format!(
                            "the name of the object ({n}) does not match the name on the URL ({name})"
                        )));
                    }
                    _ => {
                        meta_mut(&mut obj).insert("name".into(), json!(name));
                    }
                }
                obj
            }
            _ => Value::Null,
        };
        for _ in 0..16 {
            let current = self.current(res, &key).await?;
            let live = current.as_ref().map(|c| self.decode(res, c)).transpose()?;
            let now = now_timestamp();
            let req = ssa_request(opts, &api_version, status, &now);
            let mut decoded = Decoded::default();
            // Whether a conflict with a concurrent write may be resolved by starting over.
            let mut retry = false;
            let new = match change {
                Change::Replace(_) => {
                    let Some(live) = &live else { return Err(ApiError::not_found(target)) };
                    let mut obj = body.clone();
                    decoded = decode_request(res, &mut obj, opts.field_validation, &target)?;
                    fm.update_no_errors_owned(Some(live), obj, &req)
                }
                Change::MergePatch(patch) | Change::JsonPatch(patch) => {
                    let Some(live) = &live else { return Err(ApiError::not_found(target)) };
                    let mut obj = if let Change::MergePatch(_) = change {
                        let mut v = live.clone();
                        merge_patch(&mut v, patch);
                        v
                    } else {
                        json_patch(live, patch)?
                    };
                    // The patch applies to the newest object; it is retried when someone wrote
                    // in between, unless the patch itself pins a resourceVersion.
                    let live_rv = live.pointer("/metadata/resourceVersion");
                    match obj.pointer("/metadata/resourceVersion") {
                        None | Some(Value::Null) => {
                            if let Some(rv) = live_rv.cloned() {
                                meta_mut(&mut obj).insert("resourceVersion".into(), rv);
                            }
                            retry = true;
                        }
                        Some(rv) => retry = Some(rv) == live_rv,
                    }
                    check_type(res, &mut obj)?;
                    check_namespace(res, namespace, &mut obj)?;
                    decoded = decode_request(res, &mut obj, opts.field_validation, &target)?;
                    fm.update_no_errors_owned(Some(live), obj, &req)
                }
                Change::Apply { config, force } => {
                    if status && live.is_none() {
                        return Err(ApiError::not_found(target));
                    }
                    // The merged object is not decoded again (no pruning, no defaulting): it goes
                    // to the strategy and validation as it is; defaults show when it is read.
                    let applied = fm.apply(live.as_ref(), config, &req, force).map_err(apply_error)?;
                    let mut obj = applied.object;
                    if let Some(v) = res.info().version(res.version) {
                        decoded.warnings.extend(v.deprecation_warning.map(str::to_owned));
                    }
                    retry = config.pointer("/metadata/resourceVersion").is_none_or(Value::is_null);
                    if live.is_none() {
                        if let Some(uid) = meta_str(&obj, "uid").filter(|u| !u.is_empty()) {
                            return Err(ApiError::conflict(
                                target,
                                &format!(
                                    "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
                                ),
                            ));
                        }
                        let meta = meta_mut(&mut obj);
                        for k in
                            ["creationTimestamp", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"]
                        {
                            meta.remove(k);
                        }
                    }
                    check_namespace(res, namespace, &mut obj)?;
                    check_name(&obj, name)?;
                    obj
                }
            };
            let uid_precondition = matches!(change, Change::Replace(_));
            let result = match (&current, &live) {
                (Some(current), Some(old)) => {
                    // Nothing the client sent pins a revision: the write is against the object
                    // just read.
                    let expected = retry.then_some(current.mod_revision);
                    let update = Update { current, old, status, uid_precondition, expected };
                    self.finish_update(res, &key, update, new, opts, decoded).await
                }
                _ => self.finish_create(res, namespace, new, opts, decoded, false).await,
            };
            match result {
                // A concurrent write got in between: start over from the newest object.
                Err(WriteFailure::Storage(e, _)) if retry && e.is_race() => {}
                other => return other.map_err(WriteFailure::into_api),
            }
        }
        Err(ApiError::conflict(target, "too many concurrent writes; please retry"))
    }

    /// The update half of every write: preconditions, strategy, validation, storage.
    async fn finish_update(
        &self,
        res: &Resource,
        key: &Key,
        update: Update<'_>,
        mut new: Value,
        opts: &WriteOptions,
        decoded: Decoded,
    ) -> Result<Written, WriteFailure> {
        let Update { current, old, status, uid_precondition, expected } = update;
        let Decoded { warnings, defaults } = decoded;
        let target = res.target(&current.name);
        // The revision the client sent (a PUT body, a patch or apply configuration that pins
        // one) is parsed here; otherwise the write is against the revision just read.
        let expected = match (expected, meta_str(&new, "resourceVersion").filter(|s| !s.is_empty())) {
            (Some(r), _) => r,
            (None, Some(rv)) => parse_resource_version(rv)?,
            (None, None) => {
                return Err(ApiError::invalid(
                    target,
                    res.info().kind,
                    &[FieldError::invalid("metadata.resourceVersion", json!("0x0"), "must be specified for an update")],
                )
                .into());
            }
        };
        if current.mod_revision != expected {
            let conflict = eddy_storage::Error::Conflict { expected, actual: current.mod_revision };
            return Err(WriteFailure::Storage(conflict, target));
        }
        if let Some(uid) = meta_str(&new, "uid").filter(|u| !u.is_empty())
            && uid != current.uid
        {
            // A PUT's uid is a precondition; a patched or applied uid is an immutable field.
            if uid_precondition {
                return Err(ApiError::conflict(
                    target,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", current.uid),
                )
                .into());
            }
            let e = FieldError::invalid("metadata.uid", json!(uid), "field is immutable");
            return Err(ApiError::invalid(target, res.info().kind, &[e]).into());
        }
        if status {
            new = res.strategy.prepare_for_status_update(&new, old);
        } else {
            res.strategy.prepare_for_update(&mut new, old);
            // Metadata the server owns is carried over.
            let old_meta = old.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
            let meta = meta_mut(&mut new);
            for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
                match old_meta.get(k) {
                    Some(v) => meta.insert(k.into(), v.clone()),
                    None => meta.remove(k),
                };
            }
        }
        res.strategy.validate(&target, &new, Some(old))?;
        if res.strategy.spec_changed(&new, old) {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
        defaults.drop_unstorable(res, &mut new);
        // A write that changes nothing but managedFields timestamps is no write at all
        // (kube's IgnoreManagedFieldsTimestampsTransformer). Objects are compared as clients
        // read them (in the request's version, defaulted), so that defaults missing from the
        // stored bytes do not turn a no-op into a write.
        if equal_but_managed_fields_times(&new, old) {
            return Ok(Written { object: WrittenObject::Value(old.clone()), warnings, created: false });
        }
        if opts.dry_run {
            return Ok(Written { object: WrittenObject::Value(through_codec(res, &new)?), warnings, created: false });
        }
        // Metadata is stored as it is, so whether the write removed the last finalizer of an
        // object being deleted is read before `new` is encoded.
        let finalized = is_deleting(&new) && finalizers(&new).is_empty();
        let stored = codec::encode_owned(&res.strategy, new)?;
        let written = self
            .store
            .update(key, stored, Some(expected))
            .await
            .map_err(|e| WriteFailure::Storage(e, target.clone()))?;
        // The last finalizer of an object being deleted is gone: delete it now.
        if finalized {
            let pre = Preconditions { uid: None, revision: Some(written.mod_revision) };
            match self.store.delete(key, pre).await {
                Ok(_) | Err(eddy_storage::Error::NotFound) => {}
                // The object was written again since: the write itself stands.
                Err(e) => return Err(ApiError::from_storage(&e, target).into()),
            }
        }
        let object = WrittenObject::Json(codec::to_json(res, &written.value, written.mod_revision)?);
        Ok(Written { object, warnings, created: false })
    }

    /// `DELETE`: removes the object, or marks it deleting while finalizers remain. Returns
    /// the object as deleted or as marked.
    ///
    /// # Errors
    /// 404 when missing, 409 when a precondition fails.
    pub async fn delete(
        &self,
        res: &Resource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let target = res.target(name);
        let key = res.key(namespace, name);
        loop {
            let Some(current) = self.current(res, &key).await? else {
                return Err(ApiError::not_found(target));
            };
            if let Some(uid) = &opts.uid
                && *uid != current.uid
            {
                return Err(ApiError::conflict(
                    target,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", current.uid),
                ));
            }
            if let Some(rv) = &opts.resource_version
                && parse_resource_version(rv)? != current.mod_revision
            {
                return Err(ApiError::conflict(
                    target,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        current.mod_revision
                    ),
                ));
            }
            let mut obj = self.decode(res, &current)?;
            let mut fins = finalizers(&obj);
            match opts.propagation_policy.as_deref() {
                Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
                Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                    fins.push("foregroundDeletion".into());
                }
                Some("Orphan" | "Foreground" | "Background") | None => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!("unsupported propagationPolicy {other:?}")));
                }
            }
            if fins.is_empty() {
                if opts.dry_run {
                    return Ok(obj);
                }
                let pre = Preconditions { uid: None, revision: Some(current.mod_revision) };
                match self.store.delete(&key, pre).await {
                    Ok(_) => return Ok(obj),
                    Err(eddy_storage::Error::PreconditionFailed(_) | eddy_storage::Error::Conflict { .. }) => continue,
                    Err(e) => return Err(ApiError::from_storage(&e, target)),
                }
            }
            if is_deleting(&obj) && fins == finalizers(&obj) {
                return Ok(obj);
            }
            {
                let meta = meta_mut(&mut obj);
                meta.insert("finalizers".into(), json!(fins));
                if !meta.contains_key("deletionTimestamp") {
                    meta.insert("deletionTimestamp".into(), json!(now_timestamp()));
                    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
                    // As kube-apiserver's markAsDeleting: the first deletion bumps a set
                    // generation, so controllers that watch for generation changes (every
                    // Flux controller) see the deletion and run their finalizers.
                    if let Some(g) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g > 0) {
                        meta.insert("generation".into(), json!(g + 1));
                    }
                }
            }
            if opts.dry_run {
                return Ok(obj);
            }
            match self.store.update(&key, codec::encode(&res.strategy, &obj)?, Some(current.mod_revision)).await {
                Ok(o) => return self.decode(res, &o),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(ApiError::from_storage(&e, target)),
            }
        }
    }
}

/// Whether `deletionTimestamp` is set.
#[must_use]
pub fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Why a write step failed: a storage error kept typed, so that the retry loop of
/// [`Registry::write`] can tell a lost race (a conflict, a create that found the name taken)
/// from every other answer, or a finished API error.
#[derive(Debug)]
enum WriteFailure {
    /// The store refused the write of the object named by the target.
    Storage(eddy_storage::Error, Target),
    /// Any other answer.
    Api(ApiError),
}

impl From<ApiError> for WriteFailure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl WriteFailure {
    /// The answer to the client.
    fn into_api(self) -> ApiError {
        match self {
            Self::Storage(e, target) => ApiError::from_storage(&e, target),
            Self::Api(e) => e,
        }
    }
}

/// Storage errors a write that pinned no revision resolves by starting over.
trait Race {
    fn is_race(&self) -> bool;
}

impl Race for eddy_storage::Error {
    fn is_race(&self) -> bool {
        matches!(self, Self::Conflict { .. } | Self::AlreadyExists)
    }
}

/// The object an update starts from and its preconditions.
struct Update<'a> {
    /// The stored object.
    current: &'a Object,
    /// It decoded in the request's version.
    old: &'a Value,
    /// A write to the status subresource.
    status: bool,
    /// Whether `metadata.uid` is a precondition (PUT) rather than an immutable field.
    uid_precondition: bool,
    /// The revision to write against when the client pinned none.
    expected: Option<Revision>,
}

/// How a write to one named object computes the new object from the live one.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// `PUT`: the request body replaces the object.
    Replace(&'a Value),
    /// `PATCH` with `application/merge-patch+json`.
    MergePatch(&'a Value),
    /// `PATCH` with `application/json-patch+json`.
    JsonPatch(&'a Value),
    /// `PATCH` with `application/apply-patch+yaml`: server-side apply of `config`.
    Apply {
        /// The apply configuration (the decoded body).
        config: &'a Value,
        /// `force=true`: take over conflicting fields.
        force: bool,
    },
}

fn ssa_request<'a>(opts: &'a WriteOptions, api_version: &'a str, status: bool, now: &'a str) -> Request<'a> {
    Request { manager: &opts.field_manager, api_version, subresource: if status { "status" } else { "" }, now }
}

/// The answer to a failed apply.
fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(c) => ApiError::field_manager_conflicts(
            c.message(),
            c.causes().into_iter().map(|c| Cause { reason: c.reason.to_owned(), message: c.message, field: c.field }),
        ),
        ApplyError::BadRequest(m) => ApiError::bad_request(m),
        ApplyError::Internal(m) => ApiError::unknown(500, m),
    }
}

/// A request body after [`decode_request`]: the warnings to send and the defaults it got.
#[derive(Debug, Default)]
struct Decoded {
    /// `Warning` headers (deprecated version, unknown fields under `fieldValidation=Warn`).
    warnings: Vec<String>,
    /// The values defaulting added to the body.
    defaults: RequestDefaults,
}

/// What kube-apiserver's decoder does to a custom resource in a request body: drop unknown
/// fields (refused under `fieldValidation=Strict`, warned about under `Warn`) and non-nullable
/// nulls, then apply defaults. Validation comes later, after the strategy.
fn decode_request(
    res: &Resource,
    obj: &mut Value,
    mode: FieldValidation,
    target: &Target,
) -> Result<Decoded, ApiError> {
    let Some(v) = res.info().version(res.version) else {
        return Err(ApiError::internal(format!("{} is not served", res.api_version())));
    };
    let pruned = eddy_api::pruning::prune(&v.schema, obj);
    let mut warnings: Vec<String> = v.deprecation_warning.map(str::to_owned).into_iter().collect();
    match mode {
        FieldValidation::Strict if !pruned.is_empty() => {
            let e = AdmissionError::UnknownFields(pruned);
            return Err(ApiError::from_admission(&e, target.clone(), res.info().kind));
        }
        FieldValidation::Warn => warnings.extend(pruned.iter().map(|p| format!("unknown field {p:?}"))),
        _ => {}
    }
    // Only a request in another version than the storage version can get defaults that are
    // not stored (see `RequestDefaults`); in the storage version the body is not copied.
    if res.version == res.info().storage_version().name {
        eddy_api::defaulting::default(&v.schema, obj);
        return Ok(Decoded { warnings, defaults: RequestDefaults::default() });
    }
    let sent = obj.clone();
    eddy_api::defaulting::default(&v.schema, obj);
    Ok(Decoded { warnings, defaults: RequestDefaults::added(&sent, obj) })
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn value_at<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn value_at_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}

/// The values defaulting put into a request body that the client did not send: each one a
/// field of an object (its parent's path, its name) and the default it got.
///
/// kube-apiserver decodes a custom resource in the request's version and defaults it with that
/// version's schema, then stores it converted to the storage version and pruned there, so a
/// default the storage version does not declare is lost: a GitRepository stored as v1 and
/// patched through v1beta2 gets v1beta2's `gitImplementation: go-git` for the field manager,
/// strategy and validation, but never stores or shows it. Eddy's conversion would remember the
/// field in its conversion annotation (it keeps what clients wrote in another version), so these
/// defaults are dropped before the object is converted: only what the client sent is
/// remembered.
#[derive(Debug, Clone, Default)]
struct RequestDefaults(Vec<(Vec<Step>, String, Value)>);

impl RequestDefaults {
    /// The fields `after` (defaulted) has and `before` (as sent) lacks or has as `null`.
    fn added(before: &Value, after: &Value) -> Self {
        fn walk(before: &Value, after: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, String, Value)>) {
            match (before, after) {
                (Value::Object(b), Value::Object(a)) => {
                    for (k, v) in a {
                        match b.get(k) {
                            None | Some(Value::Null) if !v.is_null() => out.push((path.clone(), k.clone(), v.clone())),
                            Some(bv) => {
                                path.push(Step::Key(k.clone()));
                                walk(bv, v, path, out);
                                path.pop();
                            }
                            None => {}
                        }
                    }
                }
                (Value::Array(b), Value::Array(a)) => {
                    for (i, (bv, v)) in b.iter().zip(a).enumerate() {
                        path.push(Step::Index(i));
                        walk(bv, v, path, out);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(before, after, &mut Vec::new(), &mut out);
        Self(out)
    }

    /// Reduces each default `obj` (in the request's version) still holds to what the storage
    /// version's schema keeps of it, removing it when that is nothing. Nothing changes when the
    /// request's version is the storage version.
    fn drop_unstorable(&self, res: &Resource, obj: &mut Value) {
        let storage = res.info().storage_version();
        if self.0.is_empty() || storage.name == res.version {
            return;
        }
        // kube's way to the storage version for the Flux CRDs (conversion strategy None, then
        // pruning), to see what survives of each default.
        let mut stored = obj.clone();
        eddy_api::pruning::prune(&storage.schema, &mut stored);
        for (parent, field, value) in &self.0 {
            if value_at(obj, parent).and_then(|p| p.get(field)) != Some(value) {
                continue;
            }
            let kept = value_at(&stored, parent).and_then(|p| p.get(field)).cloned();
            if let Some(Value::Object(p)) = value_at_mut(obj, parent) {
                match kept {
                    Some(k) => p.insert(field.clone(), k),
                    None => p.remove(field),
                };
            }
        }
    }
}

/// kube's `checkName` for patches: the object's name must be the URL's.
fn check_name(obj: &Value, name: &str) -> Result<(), ApiError> {
    match meta_str(obj, "name").filter(|n| !n.is_empty()) {
        None => Err(ApiError::bad_request(format!(
            "the name of the object ({name} based on URL) was undeterminable: name must be provided"
        ))),
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        Some(_) => Ok(()),
    }
}

fn equal_but_managed_fields_times(a: &Value, b: &Value) -> bool {
    /// Equal objects, keys in any order, each leaving out `skip`.
    fn equal_without(a: &Map<String, Value>, b: &Map<String, Value>, skip: &str) -> bool {
        let count = |m: &Map<String, Value>| m.len() - usize::from(m.contains_key(skip));
        count(a) == count(b) && a.iter().filter(|(k, _)| *k != skip).all(|(k, v)| b.get(k) == Some(v))
    }
    let (Value::Object(a), Value::Object(b)) = (a, b) else { return a == b };
    if !equal_without(a, b, "metadata") {
        return false;
    }
    match (a.get("metadata"), b.get("metadata")) {
        (Some(Value::Object(ma)), Some(Value::Object(mb))) => {
            if !equal_without(ma, mb, "managedFields") {
                return false;
            }
            match (ma.get("managedFields"), mb.get("managedFields")) {
                (Some(Value::Array(ea)), Some(Value::Array(eb))) => {
                    ea.len() == eb.len()
                        && ea.iter().zip(eb).all(|(x, y)| match (x, y) {
                            (Value::Object(x), Value::Object(y)) => equal_without(x, y, "time"),
                            _ => x == y,
                        })
                }
                (x, y) => x == y,
            }
        }
        (x, y) => x == y,
    }
}

/// Decodes stored bytes into the resource's requested version with `resourceVersion` set.
///
/// # Errors
/// 500 when the stored bytes are not a valid object of the kind.
pub fn decode_stored(res: &Resource, bytes: &[u8], revision: Revision) -> Result<Value, ApiError> {
    codec::decode_at(res, bytes, revision)
}

/// A write's answer as the storage codec would hand it back (for dry runs, which store
/// nothing): encoded in the storage version and decoded again, keeping `resourceVersion`.
fn through_codec(res: &Resource, obj: &Value) -> Result<Value, ApiError> {
    let mut v = codec::decode(res, &codec::encode(&res.strategy, obj)?)?;
    if let Some(rv) = obj.pointer("/metadata/resourceVersion").cloned() {
        meta_mut(&mut v).insert("resourceVersion".into(), rv);
    }
    Ok(v)
}

/// Checks (or fills in) `apiVersion` and `kind` against the URL.
fn check_type(res: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    };
    let api_version = res.api_version();
    let kind = res.info().kind;
    match m.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            m.insert("apiVersion".into(), json!(api_version));
        }
        Some(a) if a == api_version => {}
        Some(a) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({a}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match m.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            m.insert("kind".into(), json!(kind));
        }
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            )));
        }
    }
    Ok(())
}

/// Checks (or fills in) `metadata.namespace` against the URL.
fn check_namespace(res: &Resource, namespace: &str, obj: &mut Value) -> Result<(), ApiError> {
    if !res.info().namespaced {
        return Ok(());
    }
    match meta_str(obj, "namespace") {
        Some(ns) if !ns.is_empty() && ns != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta_mut(obj).insert("namespace".into(), json!(namespace));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(version: &str) -> Resource {
        KindStrategies::build().resource("source.toolkit.fluxcd.io", version, "gitrepositories").expect("served")
    }

    #[test]
    fn writes_differing_only_in_managed_fields_times_are_equal() {
        let a = json!({"spec": {"x": 1}, "metadata": {"name": "a", "managedFields": [
            {"manager": "m", "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}}]}});
        let mut b = json!({"metadata": {"managedFields": [
            {"fieldsV1": {"f:spec": {}}, "manager": "m", "time": "2026-12-01T00:00:00Z"}], "name": "a"}, "spec": {"x": 1}});
        assert!(equal_but_managed_fields_times(&a, &b));
        b["metadata"]["managedFields"][0]["manager"] = json!("n");
        assert!(!equal_but_managed_fields_times(&a, &b));
        let mut c = a.clone();
        c["spec"]["x"] = json!(2);
        assert!(!equal_but_managed_fields_times(&a, &c));
        let mut d = a.clone();
        d["metadata"]["labels"] = json!({"l": "v"});
        assert!(!equal_but_managed_fields_times(&a, &d));
        let mut e = a.clone();
        e["metadata"].as_object_mut().unwrap().remove("managedFields");
        assert!(!equal_but_managed_fields_times(&a, &e));
        e["status"] = json!({});
        assert!(!equal_but_managed_fields_times(&e, &a));
    }

    #[test]
    fn only_lost_races_are_retried() {
        assert!(eddy_storage::Error::Conflict { expected: 1, actual: 2 }.is_race());
        assert!(eddy_storage::Error::AlreadyExists.is_race());
        assert!(!eddy_storage::Error::NotFound.is_race());
        assert!(!eddy_storage::Error::PreconditionFailed("uid".into()).is_race());
        let failure =
            WriteFailure::Storage(eddy_storage::Error::Conflict { expected: 1, actual: 2 }, git("v1").target("a"));
        let e = failure.into_api();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
    }

    #[test]
    fn request_defaults_are_the_fields_defaulting_added() {
        let before = json!({"spec": {"a": 1, "n": null, "list": [{"x": 1}, {}]}});
        let after = json!({"spec": {"a": 1, "n": 2, "d": {"e": 3}, "list": [{"x": 1}, {"y": 4}]}, "status": {}});
        let added = RequestDefaults::added(&before, &after).0;
        let key = |k: &str| Step::Key(k.to_owned());
        assert_eq!(
            added,
            vec![
                (vec![key("spec")], "n".to_owned(), json!(2)),
                (vec![key("spec")], "d".to_owned(), json!({"e": 3})),
                (vec![key("spec"), key("list"), Step::Index(1)], "y".to_owned(), json!(4)),
                (vec![], "status".to_owned(), json!({})),
            ]
        );
    }

    #[test]
    fn v1beta2_defaults_the_storage_version_lacks_are_not_stored() {
        let app = |version: &str| {
            json!({
                "apiVersion": format!("source.toolkit.fluxcd.io/{version}"), "kind": "GitRepository",
                "metadata": {"name": "app", "namespace": "default"},
                "spec": {"url": "https://github.com/org/app", "interval": "5m"}
            })
        };
        let beta = git("v1beta2");
        let mut obj = app("v1beta2");
        let decoded = decode_request(&beta, &mut obj, FieldValidation::Ignore, &beta.target("app")).expect("decoded");
        // The field manager, strategy and validation see the request version's defaults...
        assert_eq!(obj["spec"]["gitImplementation"], "go-git");
        assert_eq!(obj["spec"]["timeout"], "60s");
        // ...but only what v1 declares is stored (and nothing is left for Eddy's conversion to
        // remember in an annotation).
        decoded.defaults.drop_unstorable(&beta, &mut obj);
        assert_eq!(obj["spec"], json!({"url": "https://github.com/org/app", "interval": "5m", "timeout": "60s"}));
        let stored = crate::codec::decode(&git("v1"), &crate::codec::encode(&beta.strategy, &obj).expect("stored"))
            .expect("decoded");
        assert_eq!(stored["metadata"].get("annotations"), None, "{stored}");

        // A value the client sent is kept, also when it equals the default.
        let mut sent = obj.clone();
        sent["spec"]["gitImplementation"] = json!("go-git");
        let decoded = decode_request(&beta, &mut sent, FieldValidation::Ignore, &beta.target("app")).expect("decoded");
        decoded.defaults.drop_unstorable(&beta, &mut sent);
        assert_eq!(sent["spec"]["gitImplementation"], "go-git");

        // In the storage version every default is stored.
        let v1 = git("v1");
        let mut obj = app("v1");
        let decoded = decode_request(&v1, &mut obj, FieldValidation::Ignore, &v1.target("app")).expect("decoded");
        let defaulted = obj.clone();
        decoded.defaults.drop_unstorable(&v1, &mut obj);
        assert_eq!(obj, defaulted);
    }
}
