//! Per-kind strategies, as k8s.io/apiserver's generic `Store{CreateStrategy, UpdateStrategy,
//! TableConvertor, …}`: everything the generic registry does differently per kind, assembled
//! once per kind when the router is built ([`KindStrategies::build`]) and shared by every
//! request (`Arc`), so a write never looks its kind up again.
//!
//! Flux kinds differ only in their schemas and whether `status` is a subresource; the hooks
//! are where a kind with special rules would plug in.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_api::ResourceInfo;
use eddy_api::validation::{validate_create, validate_update};
use eddy_ssa::{ApiVersionOnly, FieldManager};
use serde_json::{Map, Value};

use crate::registry::ServedResource;
use crate::status::{ApiError, Target};

/// What one kind does differently: metadata rules on create and update, validation, the
/// storage codec's fingerprint, table columns and the server-side-apply field manager.
pub struct KindStrategy {
    /// The kind's entry in the catalogue of served kinds ([`eddy_api::registry`]).
    pub info: &'static ResourceInfo,
    status_subresource: bool,
    fingerprint: u64,
    field_manager: FieldManager,
    columns: HashMap<&'static str, Arc<[Value]>>,
}

impl std::fmt::Debug for KindStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindStrategy")
            .field("group", &self.info.group)
            .field("kind", &self.info.kind)
            .field("status_subresource", &self.status_subresource)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl KindStrategy {
    /// Assembles the strategy of one kind (the schema fingerprint, the field manager's type
    /// tables and the table columns are computed here, once).
    #[must_use]
    pub fn new(info: &'static ResourceInfo) -> Self {
        Self {
            info,
            status_subresource: info.storage_version().status_subresource,
            fingerprint: crate::storage_codec::fingerprint_of(info),
            // Objects are converted between versions as kube-apiserver does for the upstream
            // Flux CRDs (conversion strategy `None`: only `apiVersion` changes), not with
            // Eddy's conversion, so that `managedFields` across versions come out as kube's:
            // an object holding a field another manager's version does not declare cannot be
            // compared in that version, which fails an update (its `managedFields` are then
            // dropped) or an apply, as in kube.
            field_manager: FieldManager::for_resource_with(info, Box::new(ApiVersionOnly)),
            columns: info.versions.iter().map(|v| (v.name, Arc::from(crate::table::columns(info, v.name)))).collect(),
        }
    }

    /// The storage codec's fingerprint of the kind's storage version.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The server-side-apply field manager of the kind.
    #[must_use]
    pub fn field_manager(&self) -> &FieldManager {
        &self.field_manager
    }

    /// The `Table` columns of a served version (none for a version the kind does not serve).
    #[must_use]
    pub fn columns(&self, version: &str) -> &[Value] {
        self.columns.get(version).map_or(&[], |c| c)
    }

    /// Whether writes to the main resource ignore `status` (and `/status` writes ignore the rest).
    #[must_use]
    pub fn has_status_subresource(&self) -> bool {
        self.status_subresource
    }

    /// Clears what a client may not set on create.
    pub fn prepare_for_create(&self, obj: &mut Value) {
        if self.has_status_subresource()
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
    }

    /// Carries over what a write to the main resource may not change.
    pub fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if self.has_status_subresource() {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
    }

    /// Builds the object a `/status` write produces: the old object with the new status and
    /// the new `managedFields` (which recorded the status write).
    #[must_use]
    pub fn prepare_for_status_update(&self, new: &Value, old: &Value) -> Value {
        let mut out = old.clone();
        match new.get("status") {
            Some(s) => out["status"] = s.clone(),
            None => {
                if let Some(m) = out.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        match new.pointer("/metadata/managedFields") {
            Some(m) => crate::registry::meta_mut(&mut out).insert("managedFields".into(), m.clone()),
            None => crate::registry::meta_mut(&mut out).remove("managedFields"),
        };
        // resourceVersion is the precondition the client sent.
        if let Some(rv) = new.pointer("/metadata/resourceVersion") {
            out["metadata"]["resourceVersion"] = rv.clone();
        }
        out
    }

    /// Whether a change from `old` to `new` bumps `metadata.generation`: anything outside
    /// `metadata` and `status` changed.
    #[must_use]
    pub fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        let strip = |v: &Value| -> Map<String, Value> {
            let mut m = v.as_object().cloned().unwrap_or_default();
            for k in ["metadata", "status", "apiVersion", "kind"] {
                m.remove(k);
            }
            m
        };
        strip(new) != strip(old)
    }

    /// Validation of a new object (`old == None`) or of an update: 422 with one cause per error.
    ///
    /// # Errors
    /// 422 `Invalid` listing every error.
    pub fn validate(&self, target: &Target, new: &Value, old: Option<&Value>) -> Result<(), ApiError> {
        let errors = match old {
            None => validate_create(new),
            Some(o) => validate_update(new, o),
        };
        if errors.is_empty() { Ok(()) } else { Err(ApiError::invalid(target.clone(), self.info.kind, &errors)) }
    }
}

/// The strategies of every served kind, keyed by group and plural: built once per router.
#[derive(Debug)]
pub struct KindStrategies {
    kinds: Vec<Arc<KindStrategy>>,
}

impl KindStrategies {
    /// One strategy per kind of the catalogue.
    #[must_use]
    pub fn build() -> Self {
        Self { kinds: eddy_api::registry().iter().map(|i| Arc::new(KindStrategy::new(i))).collect() }
    }

    /// `group/version/plural` as served; `None` when not served.
    #[must_use]
    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<ServedResource> {
        ServedResource::new(self.get(group, plural)?, version)
    }

    /// The strategy of `group`/`plural`; `None` when not served.
    #[must_use]
    pub fn get(&self, group: &str, plural: &str) -> Option<&Arc<KindStrategy>> {
        self.kinds.iter().find(|k| k.info.group == group && k.info.plural == plural)
    }
}
