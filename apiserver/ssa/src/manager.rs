//! kube-apiserver's field manager (`k8s.io/apimachinery/pkg/util/managedfields/internal`): the
//! layers around the structured merge, in kube's order.
//!
//! Apply: decode the live `managedFields` → check the applied type → (kubectl only) keep the
//! client-side-apply annotation in sync and, on conflicts, accept the ones the
//! `last-applied-configuration` explains → when the object has no managers yet, record its
//! existing fields for `before-first-apply` → identify the manager → merge, prune, detect
//! conflicts → strip metadata fields → stamp the time when the object changed → encode.
//!
//! Update (create, update, patch): take `managedFields` from the request (reset with `[{}]`;
//! `[]` is dropped by custom resources' ObjectMeta coercion) or else from the live object → stop tracking when an existing object has no managers
//! → record the fields the write changed for the manager (merged with its earlier entry, time
//! stamped only when it changed something) → strip metadata → cap `Update` entries at 10 by
//! merging the oldest into `ancient-changes` → encode.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::convert::{EddyConversion, KindTypes, VersionConverter};
use crate::fieldpath::{Path, PathElement, Set};
use crate::managed::{self, APPLY, Managed, ManagedFields, ManagerInfo, UPDATE, VersionedSet, manager_identifier};
use crate::updater::{Conflict, Updater, UpdaterError, check};
use crate::value::{go_json, go_quote};

/// The annotation `kubectl apply` (client-side) keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The manager whose applies upgrade client-side-apply objects.
pub const KUBECTL: &str = "kubectl";
/// The manager that gets an object's fields when it is first applied to without managers.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The bucket the oldest update managers are merged into.
pub const ANCIENT_CHANGES: &str = "ancient-changes";
/// How many `Update` entries an object keeps.
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// kube's total annotation size limit (the last-applied annotation is dropped above it).
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const CURRENT_OPERATION: &str = "current-operation";

/// Who writes, how, and when.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The `fieldManager` (kube derives one from the user agent for non-apply writes; an empty
    /// name becomes `unknown`).
    pub manager: &'a str,
    /// The `group/version` of the request; live and new objects are in this version.
    pub api_version: &'a str,
    /// `""` for the main resource, `"status"` for the status subresource.
    pub subresource: &'a str,
    /// The time to record (RFC 3339, UTC, seconds: `2026-01-01T00:00:00Z`).
    pub now: &'a str,
}

/// The result of an apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The merged object with its new `metadata.managedFields`, in the request's version, not
    /// yet defaulted, pruned or validated.
    pub object: Value,
    /// Whether the merge changed the object (apart from `managedFields`); kube only stamps the
    /// applier's time then.
    pub changed: bool,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change: 409 with [`Conflicts::status`].
    #[error("{}", .0.message())]
    Conflicts(Conflicts),
    /// The request is malformed: 400 with this message.
    #[error("{0}")]
    BadRequest(String),
    /// kube-apiserver answers these with a plain error (500, reason empty) carrying this
    /// message, e.g. `failed to create typed patch object (ns/name; g/v, Kind=K): .spec.x:
    /// field not declared in schema`.
    #[error("{0}")]
    Internal(String),
}

/// Why managedFields could not be computed for an update. kube-apiserver then removes the
/// object's `managedFields` (`UpdateNoErrors`); [`FieldManager::update_no_errors`] does that.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpdateError(pub String);

/// The conflicts of a refused apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

/// One `details.causes` entry of a conflict Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictCause {
    /// Always `FieldManagerConflict` (serialized as `reason`).
    pub reason: &'static str,
    /// `conflict with "manager" using group/version`.
    pub message: String,
    /// `.spec.field`.
    pub field: String,
}

/// How kube names a manager in conflict messages (`printManager`).
#[must_use]
pub fn print_manager(identifier: &str) -> String {
    let Some(info) = ManagerInfo::parse(identifier) else { return go_quote(identifier) };
    let mut s = go_quote(&info.manager);
    if !info.subresource.is_empty() {
        s = format!("{s} with subresource {}", go_quote(&info.subresource));
    }
    if info.operation == UPDATE {
        // Identifiers never carry a time, so kube never prints "at <time>".
        s = format!("{s} using {}", info.api_version);
    }
    s
}

impl Conflicts {
    /// kube's message: `Apply failed with 1 conflict: conflict with "m" using g/v: .spec.x`, or
    /// for several, per manager (sorted by identifier) a `conflicts with ...:` line and `- path`
    /// lines.
    #[must_use]
    pub fn message(&self) -> String {
        if let [only] = self.0.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                print_manager(&only.manager),
                only.path
            );
        }
        let mut by_manager: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
        for c in &self.0 {
            by_manager.entry(&c.manager).or_default().push(&c.path);
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {}:", print_manager(m)));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }

    /// The `details.causes` (in the order of [`Conflicts::0`]: by manager identifier, then path;
    /// kube's order across managers is random).
    #[must_use]
    pub fn causes(&self) -> Vec<ConflictCause> {
        self.0
            .iter()
            .map(|c| ConflictCause {
                reason: "FieldManagerConflict",
                message: format!("conflict with {}", print_manager(&c.manager)),
                field: c.path.to_string(),
            })
            .collect()
    }

    /// The whole 409 `metav1.Status` body.
    #[must_use]
    pub fn status(&self) -> Value {
        let causes: Vec<Value> = self
            .causes()
            .into_iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": "Conflict",
            "details": {"causes": causes},
            "code": 409
        })
    }

    fn to_set(&self) -> Set {
        Set::from_paths(self.0.iter().map(|c| &c.path))
    }
}

/// Server-side apply and managedFields bookkeeping for one kind.
#[derive(Debug)]
pub struct FieldManager {
    types: KindTypes,
    status_subresource: bool,
}

fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let m = obj.as_object_mut()?;
    m.entry("metadata").or_insert_with(|| Value::Object(Map::new())).as_object_mut()
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    out
}

fn set_managed_fields(obj: &mut Value, managed: &Managed) {
    let Some(m) = meta_mut(obj) else { return };
    match managed::encode(managed) {
        Some(entries) => {
            m.insert("managedFields".to_owned(), managed::to_value(&entries));
        }
        None => {
            m.remove("managedFields");
        }
    }
}

/// Paths kube never records (`stripMetaManager`).
fn strip_set() -> Set {
    let mut s = Set::new();
    for p in ["apiVersion", "kind", "metadata"] {
        s.insert(&[PathElement::field(p)]);
    }
    for p in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[PathElement::field("metadata"), PathElement::field(p)]);
    }
    s
}

fn strip(managed: &mut ManagedFields, manager: &str) {
    if let Some(vs) = managed.get_mut(manager) {
        vs.set = vs.set.difference(&strip_set());
        if vs.set.is_empty() {
            managed.remove(manager);
        }
    }
}

impl FieldManager {
    /// A field manager over the given versions; `status_subresource` makes the main resource
    /// ignore `status` and the status subresource ignore `spec` (kube's reset fields for CRDs).
    #[must_use]
    pub fn new(types: KindTypes, status_subresource: bool) -> Self {
        FieldManager { types, status_subresource }
    }

    /// The field manager of a kind in Eddy's registry, converting with Eddy's conversion.
    #[must_use]
    pub fn for_resource(info: &eddy_api::ResourceInfo) -> Self {
        Self::for_resource_with(info, Box::new(EddyConversion))
    }

    /// Like [`FieldManager::for_resource`] with another converter.
    #[must_use]
    pub fn for_resource_with(info: &eddy_api::ResourceInfo, converter: Box<dyn VersionConverter>) -> Self {
        let versions = info.versions.iter().map(|v| (v.name, &v.schema));
        let status = info.versions.iter().any(|v| v.status_subresource);
        FieldManager::new(KindTypes::new(info.group, info.kind, versions, converter), status)
    }

    /// The kind's types.
    #[must_use]
    pub fn types(&self) -> &KindTypes {
        &self.types
    }

    fn updater(&self, req: &Request<'_>) -> Updater<'_> {
        let mut ignore = BTreeMap::new();
        if self.status_subresource {
            let field = if req.subresource == "status" { "spec" } else { "status" };
            let mut s = Set::new();
            s.insert(&[PathElement::field(field)]);
            ignore.insert(req.api_version.to_owned(), s);
        }
        Updater { types: &self.types, ignore }
    }

    fn gvk(&self, api_version: &str) -> String {
        let (g, v) = eddy_api::split_api_version(api_version);
        format!("{g}/{v}, Kind={}", self.types.kind())
    }

    fn describe(&self, obj: &Value) -> String {
        let m = meta(obj);
        let s = |k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (g, v) = eddy_api::split_api_version(av);
        format!("{}/{}; {g}/{v}, Kind={kind}", s("namespace"), s("name"))
    }

    fn empty_object(&self, api_version: &str) -> Value {
        json!({"apiVersion": api_version, "kind": self.types.kind()})
    }

    /// Server-side apply of `config` by `req.manager` to `live` (`None` to create). `live` must
    /// be in the request's version (as the storage layer hands it to kube's handler).
    ///
    /// The result still has to have its status reset by the strategy and be validated (it is
    /// neither pruned nor defaulted: a `null` left for a non-nullable field is a validation
    /// error), then stored; kube-apiserver answers with the stored object read back through
    /// its codec, which is where defaults appear.
    ///
    /// # Errors
    /// [`ApplyError::Conflicts`] (409) unless `force`; [`ApplyError::BadRequest`] for a config
    /// of the wrong type or with `managedFields`; [`ApplyError::Internal`] for configs that do not
    /// fit the schema and undecodable live `managedFields`.
    pub fn apply(
        &self,
        live: Option<&Value>,
        config: &Value,
        req: &Request<'_>,
        force: bool,
    ) -> Result<Applied, ApplyError> {
        let live = live.cloned().unwrap_or_else(|| self.empty_object(req.api_version));
        let decoded = match managed::entries(meta(&live).and_then(|m| m.get("managedFields"))) {
            Ok(e) => managed::decode(&e.unwrap_or_default()),
            Err(e) => Err(e),
        };
        let managed = decoded.map_err(|e| ApplyError::Internal(format!("failed to decode managed fields: {e}")))?;
        // versionCheckManager
        let av = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
        if av != req.api_version || kind != self.types.kind() {
            let (g, v) = eddy_api::split_api_version(av);
            return Err(ApplyError::BadRequest(format!("invalid object type: {g}/{v}, Kind={kind}")));
        }
        let (mut object, managed, changed) = self.apply_last_applied_updater(&live, config, managed, req, force)?;
        set_managed_fields(&mut object, &managed);
        Ok(Applied { object, changed })
    }

    /// `lastAppliedUpdater`: after a kubectl apply, the client-side annotation mirrors the config.
    fn apply_last_applied_updater(
        &self,
        live: &Value,
        config: &Value,
        managed: Managed,
        req: &Request<'_>,
        force: bool,
    ) -> Result<(Value, Managed, bool), ApplyError> {
        let (mut object, managed, changed) = self.apply_last_applied_manager(live, config, managed, req, force)?;
        let has = meta(&object)
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(LAST_APPLIED))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if req.manager == KUBECTL && has {
            let value = build_last_applied(config);
            if let Some(ann) =
                meta_mut(&mut object).and_then(|m| m.get_mut("annotations")).and_then(Value::as_object_mut)
            {
                ann.insert(LAST_APPLIED.to_owned(), Value::from(value));
                let total: usize = ann.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
                if total > TOTAL_ANNOTATION_SIZE_LIMIT {
                    ann.remove(LAST_APPLIED);
                }
            }
        }
        Ok((object, managed, changed))
    }

    /// `lastAppliedManager`: kubectl's first server-side apply over a client-side-applied object
    /// takes the fields its last-applied configuration already set, without conflicts.
    fn apply_last_applied_manager(
        &self,
        live: &Value,
        config: &Value,
        managed: Managed,
        req: &Request<'_>,
        force: bool,
    ) -> Result<(Value, Managed, bool), ApplyError> {
        let first = self.apply_skip_non_applied(live, config, managed.clone(), req, force);
        if req.manager != KUBECTL {
            return first;
        }
        let Err(ApplyError::Conflicts(conflicts)) = &first else { return first };
        let Ok(allowed) = self.allowed_conflicts_from_last_applied(live, req) else { return first };
        if !conflicts.to_set().difference(&allowed).is_empty() {
            let rest = conflicts.0.iter().filter(|c| !allowed.has(&c.path.0)).cloned().collect();
            return Err(ApplyError::Conflicts(Conflicts(rest)));
        }
        self.apply_skip_non_applied(live, config, managed, req, true)
    }

    fn allowed_conflicts_from_last_applied(&self, live: &Value, req: &Request<'_>) -> Result<Set, String> {
        let text = meta(live)
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(LAST_APPLIED))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("no last applied annotation")?;
        let ty = self.types.object_type(req.api_version).ok_or("no type")?;
        check(live, ty, false).map_err(|e| e.to_string())?;
        let last: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if last.get("apiVersion").and_then(Value::as_str) != Some(req.api_version) {
            return Err("expected version of last applied to match live object".to_owned());
        }
        check(&last, ty, false).map_err(|e| e.to_string())?;
        let set = crate::typed::field_set(&last, ty.ty());
        let c = crate::typed::compare(&last, live, ty.ty()).map_err(|e| e.to_string())?;
        Ok(set.difference(&c.modified).difference(&c.added).difference(&c.removed))
    }

    /// `skipNonAppliedManager`: an object without managers gets a `before-first-apply` entry
    /// owning its current fields before the first apply.
    fn apply_skip_non_applied(
        &self,
        live: &Value,
        config: &Value,
        mut managed: Managed,
        req: &Request<'_>,
        force: bool,
    ) -> Result<(Value, Managed, bool), ApplyError> {
        if managed.fields.is_empty() {
            let empty = json!({"apiVersion": config.get("apiVersion"), "kind": config.get("kind")});
            let before = Request { manager: BEFORE_FIRST_APPLY, ..*req };
            managed = self
                .update_cap(&empty, live, managed, &before)
                .map_err(|e| ApplyError::Internal(format!("failed to create manager for existing fields: {e}")))?;
        }
        self.apply_structured(live, config, managed, req, force)
    }

    /// buildManagerInfo → managedFieldsUpdater → stripMeta → structuredMerge for an apply.
    fn apply_structured(
        &self,
        live: &Value,
        config: &Value,
        mut managed: Managed,
        req: &Request<'_>,
        force: bool,
    ) -> Result<(Value, Managed, bool), ApplyError> {
        let manager = if req.manager.is_empty() { "unknown" } else { req.manager };
        let id = manager_identifier(manager, APPLY, req.api_version, req.subresource);
        if meta(config).and_then(|m| m.get("managedFields")).is_some_and(Value::is_array) {
            return Err(ApplyError::BadRequest("metadata.managedFields must be nil".to_owned()));
        }
        let ty = self
            .types
            .object_type(req.api_version)
            .ok_or_else(|| ApplyError::BadRequest(format!("invalid object type: {}", self.gvk(req.api_version))))?;
        check(live, ty, true).map_err(|e| {
            ApplyError::Internal(format!("failed to create typed live object ({}): {e}", self.describe(live)))
        })?;
        check(config, ty, false).map_err(|e| {
            ApplyError::Internal(format!("failed to create typed patch object ({}): {e}", self.describe(config)))
        })?;
        let updater = self.updater(req);
        let merged = match updater.apply(live, config, req.api_version, &mut managed.fields, &id, force) {
            Ok(m) => m,
            Err(UpdaterError::Conflicts(c)) => return Err(ApplyError::Conflicts(Conflicts(c))),
            Err(UpdaterError::Other(e)) => return Err(ApplyError::Internal(e)),
        };
        strip(&mut managed.fields, &id);
        let changed = merged.is_some();
        let object = match merged {
            Some(obj) => {
                managed.times.insert(id, req.now.to_owned());
                obj
            }
            None => without_managed_fields(live),
        };
        Ok((object, managed, changed))
    }

    /// Records a non-apply write (create when `live` is `None`, update, patch; status writes
    /// with `req.subresource == "status"`): `new` with its `metadata.managedFields` computed
    /// (or removed when nothing is tracked). `live` and `new` are in the request's version and
    /// `new` is final (defaulted; for the main resource before the strategy resets status).
    ///
    /// # Errors
    /// When the objects do not fit the schema (also in the version of another manager they are
    /// converted to); kube-apiserver then removes `managedFields`
    /// ([`FieldManager::update_no_errors`]).
    pub fn update(&self, live: Option<&Value>, new: &Value, req: &Request<'_>) -> Result<Value, UpdateError> {
        self.update_owned(live, new.clone(), req).map_err(|(e, _)| e)
    }

    /// [`FieldManager::update`] taking `new` by value, so that it is not copied.
    ///
    /// # Errors
    /// As [`FieldManager::update`], with `new` given back without `managedFields`.
    pub fn update_owned(
        &self,
        live: Option<&Value>,
        mut new: Value,
        req: &Request<'_>,
    ) -> Result<Value, (UpdateError, Value)> {
        let empty;
        let live = match live {
            Some(l) => l,
            None => {
                empty = self.empty_object(req.api_version);
                &empty
            }
        };
        let managed = decode_live_or_new(live, &new, !req.subresource.is_empty());
        if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        // skipNonAppliedManager: an existing object without managers stays untracked.
        let uid = meta(live).and_then(|m| m.get("uid")).and_then(Value::as_str).unwrap_or_default();
        if managed.fields.is_empty() && !uid.is_empty() {
            return Ok(new);
        }
        match self.update_cap(live, &new, managed, req) {
            Ok(managed) => {
                set_managed_fields(&mut new, &managed);
                Ok(new)
            }
            Err(e) => Err((UpdateError(e), new)),
        }
    }

    /// [`FieldManager::update`], or when it fails `new` without `managedFields` (kube-apiserver's
    /// `UpdateNoErrors` removes them "so that we can't have garbage in it"; the object stays
    /// untracked until the next apply, which then sees `before-first-apply`).
    #[must_use]
    pub fn update_no_errors(&self, live: Option<&Value>, new: &Value, req: &Request<'_>) -> Value {
        self.update_no_errors_owned(live, new.clone(), req)
    }

    /// [`FieldManager::update_no_errors`] taking `new` by value, so that it is not copied.
    #[must_use]
    pub fn update_no_errors_owned(&self, live: Option<&Value>, new: Value, req: &Request<'_>) -> Value {
        self.update_owned(live, new, req).unwrap_or_else(|(_, new)| new)
    }

    /// capManagers → buildManagerInfo → managedFieldsUpdater → stripMeta → structuredMerge.
    fn update_cap(
        &self,
        live: &Value,
        new: &Value,
        mut managed: Managed,
        req: &Request<'_>,
    ) -> Result<Managed, String> {
        let manager = if req.manager.is_empty() { "unknown" } else { req.manager };
        let id = manager_identifier(manager, UPDATE, req.api_version, req.subresource);
        let ty = self.types.object_type(req.api_version).ok_or_else(|| format!("no schema for {}", req.api_version))?;
        check(new, ty, true)
            .map_err(|e| format!("failed to convert new object ({}) to smd typed: {e}", self.describe(new)))?;
        check(live, ty, true)
            .map_err(|e| format!("failed to convert live object ({}) to smd typed: {e}", self.describe(live)))?;
        let updater = self.updater(req);
        updater
            .update_op(live, new, req.api_version, &mut managed.fields, CURRENT_OPERATION)
            .map_err(|e| format!("failed to update ManagedFields ({}): {e}", self.describe(new)))?;
        strip(&mut managed.fields, CURRENT_OPERATION);
        if let Some(vs) = managed.fields.remove(CURRENT_OPERATION) {
            let merged = match managed.fields.get(&id) {
                Some(prev) => VersionedSet { set: vs.set.union(&prev.set), ..vs },
                None => vs,
            };
            managed.fields.insert(id.clone(), merged);
            managed.times.insert(id, req.now.to_owned());
        }
        cap_update_managers(&mut managed, MAX_UPDATE_MANAGERS);
        Ok(managed)
    }
}

/// `decodeLiveOrNew`: the request's `managedFields` unless absent, empty or undecodable (then
/// the live object's); `[{}]` resets them. Subresources always use the live ones.
///
/// For custom resources an empty list never reaches kube's field manager: decoding coerces
/// `metadata` through `metav1.ObjectMeta`, whose `managedFields` is `omitempty`, so `[]` is
/// dropped and counts as absent (the live entries stay). Only `[{}]` resets.
fn decode_live_or_new(live: &Value, new: &Value, ignore_request: bool) -> Managed {
    let decode_of = |obj: &Value| {
        managed::entries(meta(obj).and_then(|m| m.get("managedFields")))
            .and_then(|e| managed::decode(&e.unwrap_or_default()))
    };
    let live_managed = || decode_of(live).unwrap_or_default();
    if ignore_request {
        return live_managed();
    }
    let raw = managed::entries(meta(new).and_then(|m| m.get("managedFields")));
    if let Ok(Some(entries)) = &raw
        && !entries.is_empty()
        && managed::is_reset(entries)
    {
        return Managed::default();
    }
    match raw.and_then(|e| managed::decode(&e.unwrap_or_default())) {
        Ok(m) if !m.fields.is_empty() => m,
        _ => live_managed(),
    }
}

/// `capManagersManager`: merges the oldest `Update` entries into one `ancient-changes` entry per
/// version until at most `max` remain.
fn cap_update_managers(managed: &mut Managed, max: usize) {
    let mut updaters: Vec<String> =
        managed.fields.iter().filter(|(_, vs)| !vs.applied).map(|(k, _)| k.clone()).collect();
    if updaters.len() <= max {
        return;
    }
    let secs = |m: &Managed, id: &str| managed::unix_seconds(m.times.get(id).map(String::as_str));
    updaters.sort_by(|a, b| secs(managed, a).cmp(&secs(managed, b)).then_with(|| a.cmp(b)));
    let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
    let mut length = updaters.len();
    for manager in &updaters {
        if length <= max {
            break;
        }
        let Some(vs) = managed.fields.get(manager).cloned() else { continue };
        let time = managed.times.get(manager).cloned();
        let version = vs.api_version.clone();
        let bucket = manager_identifier(ANCIENT_CHANGES, UPDATE, &version, "");
        if let Some(first) = first_of_version.get(&version) {
            if !managed.fields.contains_key(&bucket)
                && let Some(s) = managed.fields.remove(first)
            {
                managed.fields.insert(bucket.clone(), s);
            }
            let existing = managed.fields.get(&bucket).map(|b| b.set.clone()).unwrap_or_default();
            managed.fields.insert(
                bucket.clone(),
                VersionedSet { set: vs.set.union(&existing), api_version: version, applied: false },
            );
            managed.fields.remove(manager);
            length -= 1;
            match time {
                Some(t) => managed.times.insert(bucket, t),
                None => managed.times.remove(&bucket),
            };
        } else {
            first_of_version.insert(version, manager.clone());
        }
    }
}

/// The last-applied annotation kubectl would write for `config`: Go's JSON of the config
/// without the annotation, and a newline.
fn build_last_applied(config: &Value) -> String {
    let mut obj = config.clone();
    if let Some(ann) = obj.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        ann.remove(LAST_APPLIED);
    }
    let mut s = go_json(&obj);
    s.push('\n');
    s
}
