//! Writes: create, `PUT`, the patches and server-side apply, in kube-apiserver's order for
//! custom resources. NamespaceLifecycle admission runs at the moment of creation; a storage
//! conflict stays typed ([`eddy_storage::Error`]) until the retry loop has decided whether to
//! start over.

use eddy_api::validation::FieldError;
use eddy_ssa::{ApplyError, Request};
use eddy_storage::{Key, KvEngine, Object, Preconditions, Revision};
use serde_json::{Map, Value, json};

use super::request::{Decoded, decode_request};
use super::{
    Registry, ServedResource, WriteOptions, Written, WrittenObject, finalizers, generated_name, is_deleting, meta_mut,
    meta_str, now_timestamp, parse_resource_version,
};
use crate::patch::{json_patch, merge_patch};
use crate::status::{ApiError, Cause, Target};
use crate::storage_codec;

impl<E: KvEngine> Registry<E> {
    /// `POST`: creates an object in `namespace`.
    ///
    /// # Errors
    /// 400 for a body that does not fit the URL, 409 if the name is taken, 422 when invalid.
    pub async fn create(
        &self,
        res: &ServedResource,
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
        res: &ServedResource,
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
                storage_codec::encode_owned(&res.strategy, std::mem::take(&mut obj))?
            } else {
                storage_codec::encode(&res.strategy, &obj)?
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
                    let object = WrittenObject::Json(storage_codec::to_json(res, &o.value, o.mod_revision)?);
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
        res: &ServedResource,
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
        res: &ServedResource,
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
        res: &ServedResource,
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
        let stored = storage_codec::encode_owned(&res.strategy, new)?;
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
        let object = WrittenObject::Json(storage_codec::to_json(res, &written.value, written.mod_revision)?);
        Ok(Written { object, warnings, created: false })
    }
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

/// A write's answer as the storage codec would hand it back (for dry runs, which store
/// nothing): encoded in the storage version and decoded again, keeping `resourceVersion`.
fn through_codec(res: &ServedResource, obj: &Value) -> Result<Value, ApiError> {
    let mut v = storage_codec::decode(res, &storage_codec::encode(&res.strategy, obj)?)?;
    if let Some(rv) = obj.pointer("/metadata/resourceVersion").cloned() {
        meta_mut(&mut v).insert("resourceVersion".into(), rv);
    }
    Ok(v)
}

/// Checks (or fills in) `apiVersion` and `kind` against the URL.
fn check_type(res: &ServedResource, obj: &mut Value) -> Result<(), ApiError> {
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
fn check_namespace(res: &ServedResource, namespace: &str, obj: &mut Value) -> Result<(), ApiError> {
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
        let failure = WriteFailure::Storage(
            eddy_storage::Error::Conflict { expected: 1, actual: 2 },
            crate::registry::request::tests::git("v1").target("a"),
        );
        let e = failure.into_api();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
    }
}
