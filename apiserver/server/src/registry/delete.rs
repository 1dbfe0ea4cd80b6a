//! Deletes: `DELETE` of one object (preconditions, finalizers and propagation policy, the
//! two-phase delete) and deletecollection.

use eddy_storage::{KvEngine, Preconditions};
use serde_json::{Value, json};

use super::{
    DeleteOptions, ListPage, Registry, ServedResource, finalizers, is_deleting, meta_mut, now_timestamp,
    parse_resource_version,
};
use crate::status::ApiError;
use crate::storage_codec;

impl<E: KvEngine> Registry<E> {
    /// `DELETE`: removes the object, or marks it deleting while finalizers remain. Returns
    /// the object as deleted or as marked.
    ///
    /// # Errors
    /// 404 when missing, 409 when a precondition fails.
    pub async fn delete(
        &self,
        res: &ServedResource,
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
            match self.store.update(&key, storage_codec::encode(&res.strategy, &obj)?, Some(current.mod_revision)).await
            {
                Ok(o) => return self.decode(res, &o),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(ApiError::from_storage(&e, target)),
            }
        }
    }

    /// deletecollection in `namespace`: every object `keep` accepts is deleted as by
    /// [`Registry::delete`], one after the other as kube-apiserver does (an object deleted in
    /// the meantime is skipped). Returns the objects as deleted or marked, at the revision
    /// reached.
    ///
    /// # Errors
    /// The first error other than 404 of a delete.
    pub async fn delete_collection(
        &self,
        res: &ServedResource,
        namespace: &str,
        keep: impl FnMut(&Value) -> bool + Send + 'static,
        opts: &DeleteOptions,
    ) -> Result<ListPage, ApiError> {
        let page = self.list(res, Some(namespace), None, None, None, keep).await?;
        let mut deleted = Vec::new();
        for obj in &page.items {
            let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            match self.delete(res, namespace, name, opts).await {
                Ok(o) => deleted.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ListPage { items: deleted, revision: self.store.current_revision(), next: None })
    }
}
