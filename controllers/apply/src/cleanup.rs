//! The metadata cleanup before apply (fluxcd/pkg/ssa `cleanupMetadata` and `patch.go`):
//! removing stale annotations and labels, and handing the fields of other managers
//! (`kubectl`, `before-first-apply`, the controller's own pre-SSA updates) to the owner's
//! Apply entry, so that a field dropped from the desired state is removed from the cluster.

use serde_json::{Map, Value, json};

use crate::meta::{annotations, labels};
use crate::options::{ApplyCleanupOptions, FieldManager};

/// The JSON pointer of `managedFields`.
const MANAGED_FIELDS_PATH: &str = "/metadata/managedFields";
/// The merge patch that cleans `existing` up, or `None` when nothing is to be removed or
/// taken over. (Flux sends the same changes as a JSON patch: `remove` operations for present
/// keys and a `replace` of `managedFields`; a merge patch with `null` values and the whole
/// list has the same effect.)
#[must_use]
pub fn cleanup_patch(existing: &Value, options: &ApplyCleanupOptions, owner_field: &str) -> Option<Value> {
    let mut metadata = Map::new();
    let removals = |present: &std::collections::BTreeMap<String, String>, keys: &[String]| {
        let map: Map<String, Value> =
            keys.iter().filter(|k| present.contains_key(*k)).map(|k| (k.clone(), Value::Null)).collect();
        (!map.is_empty()).then_some(Value::Object(map))
    };
    if let Some(m) = removals(&annotations(existing), &options.annotations) {
        metadata.insert("annotations".to_string(), m);
    }
    if let Some(m) = removals(&labels(existing), &options.labels) {
        metadata.insert("labels".to_string(), m);
    }
    if !options.field_managers.is_empty()
        && let Some(entries) = replace_field_managers(existing, &options.field_managers, owner_field)
    {
        metadata.insert("managedFields".to_string(), Value::Array(entries));
    }
    (!metadata.is_empty()).then(|| json!({ "metadata": metadata }))
}

/// ssa `PatchMigrateToVersion`: the `managedFields` with every entry's `apiVersion` set to
/// `api_version`, or `None` when all already have it.
#[must_use]
pub fn migrate_api_version(existing: &Value, api_version: &str) -> Option<Vec<Value>> {
    let entries = existing.pointer(MANAGED_FIELDS_PATH).and_then(Value::as_array)?;
    let mut changed = false;
    let migrated = entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e.get("apiVersion").and_then(Value::as_str) != Some(api_version)
                && let Some(o) = e.as_object_mut()
            {
                o.insert("apiVersion".to_string(), Value::String(api_version.to_string()));
                changed = true;
            }
            e
        })
        .collect();
    changed.then_some(migrated)
}

/// Whether a `managedFields` entry is one of `manager`'s (ssa `matchFieldManager`).
fn matches_manager(entry: &Value, manager: &FieldManager) -> bool {
    let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
    if field("operation") != manager.operation.as_str() || !field("subresource").is_empty() {
        return false;
    }
    if manager.exact_match { field("manager") == manager.name } else { field("manager").starts_with(&manager.name) }
}

/// ssa `PatchReplaceFieldsManagers`: the new `managedFields` in which every entry of the
/// listed managers is merged into the owner's Apply entry (or becomes it, when there is
/// none); `None` when no entry matched.
#[must_use]
pub fn replace_field_managers(existing: &Value, managers: &[FieldManager], owner_field: &str) -> Option<Vec<Value>> {
    let entries = existing.pointer(MANAGED_FIELDS_PATH).and_then(Value::as_array)?;
    let is_owner_apply = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(owner_field)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    // As Flux: the last Apply entry of the owner is the one merged into.
    let owner_index = entries.iter().rposition(is_owner_apply);
    let mut owner_entry: Option<Value> = owner_index.map(|i| entries[i].clone());
    let mut kept = Vec::with_capacity(entries.len());
    let mut edited = false;
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) == owner_index {
            continue;
        }
        if !managers.iter().any(|m| matches_manager(entry, m)) {
            kept.push(entry.clone());
            continue;
        }
        edited = true;
        match owner_entry.as_mut() {
            None => {
                let mut taken = entry.clone();
                if let Some(o) = taken.as_object_mut() {
                    o.insert("manager".to_string(), Value::String(owner_field.to_string()));
                    o.insert("operation".to_string(), Value::String("Apply".to_string()));
                }
                owner_entry = Some(taken);
            }
            Some(owner) => {
                if let Some(fields) = entry.get("fieldsV1") {
                    match owner.get_mut("fieldsV1") {
                        Some(into) => union_fields(into, fields),
                        None => {
                            if let Some(o) = owner.as_object_mut() {
                                o.insert("fieldsV1".to_string(), fields.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    if !edited {
        return None;
    }
    kept.extend(owner_entry);
    Some(kept)
}

/// The union of two `FieldsV1` sets, into `into`: a field set is a tree of objects keyed by
/// path elements (`f:`, `k:`, `v:`, `i:`, and `.` for the node itself), so the union is the
/// recursive union of the keys.
pub fn union_fields(into: &mut Value, other: &Value) {
    let (Some(into), Some(other)) = (into.as_object_mut(), other.as_object()) else {
        return;
    };
    for (k, v) in other {
        match into.get_mut(k) {
            Some(existing) => union_fields(existing, v),
            None => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
    sort_keys(into);
}

/// Sorts an object's keys (the order the API server serialises a field set in).
fn sort_keys(map: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    map.extend(entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::ManagedFieldsOperation;

    fn entry(manager: &str, op: &str, fields: &Value) -> Value {
        json!({"manager": manager, "operation": op, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn flux() -> ApplyCleanupOptions {
        ApplyCleanupOptions::flux_default("kustomize-controller", "kustomize.toolkit.fluxcd.io")
    }

    #[test]
    fn nothing_to_clean() {
        let obj = json!({"metadata": {"annotations": {"a": "b"}, "managedFields": [
            entry("kustomize-controller", "Apply", &json!({"f:data": {"f:a": {}}})),
            entry("kube-controller-manager", "Update", &json!({"f:status": {}})),
        ]}});
        assert_eq!(cleanup_patch(&obj, &flux(), "kustomize-controller"), None);
        assert_eq!(cleanup_patch(&json!({}), &flux(), "kustomize-controller"), None);
    }

    #[test]
    fn annotations_and_labels_are_removed() {
        let obj = json!({"metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "x"},
            "labels": {"fluxcd.io/sync-gc-mark": "y"}}});
        let patch = cleanup_patch(&obj, &flux(), "kustomize-controller").unwrap();
        assert_eq!(
            patch,
            json!({"metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": null},
                "labels": {"fluxcd.io/sync-gc-mark": null}}})
        );
    }

    #[test]
    fn kubectl_fields_are_merged_into_the_owner_entry() {
        let obj = json!({"metadata": {"managedFields": [
            entry("kubectl-client-side-apply", "Update", &json!({"f:data": {"f:b": {}}, "f:metadata": {"f:annotations": {".": {}}}})),
            entry("kustomize-controller", "Apply", &json!({"f:data": {"f:a": {}}})),
            entry("kubectl-edit", "Update", &json!({"f:data": {"f:c": {}}})),
            entry("kubectl", "Update", &json!({"f:x": {}})),
            entry("kube-controller-manager", "Update", &json!({"f:status": {}})),
            json!({"manager": "kubectl-edit", "operation": "Update", "subresource": "status", "fieldsV1": {}}),
        ]}});
        let entries = replace_field_managers(&obj, &flux().field_managers, "kustomize-controller").unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["manager"], "kube-controller-manager");
        assert_eq!(entries[1]["subresource"], "status");
        let owner = &entries[2];
        assert_eq!(owner["manager"], "kustomize-controller");
        assert_eq!(owner["operation"], "Apply");
        assert_eq!(
            owner["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}, "f:metadata": {"f:annotations": {".": {}}}, "f:x": {}})
        );
    }

    #[test]
    fn first_matching_entry_becomes_the_owner_entry() {
        let obj = json!({"metadata": {"managedFields": [
            entry("before-first-apply", "Update", &json!({"f:a": {}})),
            entry("kubectl", "Apply", &json!({"f:b": {}})),
        ]}});
        let entries = replace_field_managers(&obj, &flux().field_managers, "kustomize-controller").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["manager"], "kustomize-controller");
        assert_eq!(entries[0]["operation"], "Apply");
        assert_eq!(entries[0]["fieldsV1"], json!({"f:a": {}, "f:b": {}}));
    }

    #[test]
    fn api_versions_are_migrated() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "a", "apiVersion": "example.com/v1beta1"},
            {"manager": "b", "apiVersion": "example.com/v1"}]}});
        let entries = migrate_api_version(&obj, "example.com/v1").unwrap();
        assert!(entries.iter().all(|e| e["apiVersion"] == "example.com/v1"));
        assert_eq!(entries[1]["manager"], "b");
        assert_eq!(migrate_api_version(&json!({"metadata": {"managedFields": entries}}), "example.com/v1"), None);
        assert_eq!(migrate_api_version(&json!({}), "v1"), None);
    }

    #[test]
    fn exact_match_and_operation_are_respected() {
        let obj = json!({"metadata": {"managedFields": [entry("kubectl-edit", "Update", &json!({}))]}});
        let exact =
            [FieldManager { name: "kubectl".into(), exact_match: true, operation: ManagedFieldsOperation::Update }];
        assert_eq!(replace_field_managers(&obj, &exact, "o"), None);
        let apply =
            [FieldManager { name: "kubectl".into(), exact_match: false, operation: ManagedFieldsOperation::Apply }];
        assert_eq!(replace_field_managers(&obj, &apply, "o"), None);
    }
}
