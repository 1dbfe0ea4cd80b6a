//! Reading objects: metadata accessors, selectors over labels and annotations, the kinds
//! that make up Flux's apply stages, and Flux's apply order (fluxcd/pkg/ssa `utils`, `sort`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::objmeta::{ObjMetadata, group_of};

/// The kinds applied first, in order (fluxcd/pkg/ssa `ReconcileOrder.First`).
const ORDER_FIRST: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// The kinds applied last, in order (fluxcd/pkg/ssa `ReconcileOrder.Last`).
const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// A string field of an object, empty when absent.
#[must_use]
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// `apiVersion`.
#[must_use]
pub fn api_version(obj: &Value) -> &str {
    str_at(obj, "/apiVersion")
}

/// `kind`.
#[must_use]
pub fn kind(obj: &Value) -> &str {
    str_at(obj, "/kind")
}

/// `metadata.name`.
#[must_use]
pub fn name(obj: &Value) -> &str {
    str_at(obj, "/metadata/name")
}

/// `metadata.namespace`.
#[must_use]
pub fn namespace(obj: &Value) -> &str {
    str_at(obj, "/metadata/namespace")
}

/// `metadata.uid`.
#[must_use]
pub fn uid(obj: &Value) -> &str {
    str_at(obj, "/metadata/uid")
}

/// `metadata.resourceVersion`.
#[must_use]
pub fn resource_version(obj: &Value) -> &str {
    str_at(obj, "/metadata/resourceVersion")
}

/// A string map under `metadata` (labels or annotations); non-string values are ignored.
#[must_use]
pub fn string_map(obj: &Value, field: &str) -> BTreeMap<String, String> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default()
}

/// `metadata.labels`.
#[must_use]
pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj, "labels")
}

/// `metadata.annotations`.
#[must_use]
pub fn annotations(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj, "annotations")
}

/// The `metadata` object, created when missing. `None` when `obj` is not an object.
pub fn metadata_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let obj = obj.as_object_mut()?;
    let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

/// Adds `entries` to the string map `metadata.<field>` (creating it), overwriting keys.
pub fn merge_string_map(obj: &mut Value, field: &str, entries: &BTreeMap<String, String>) {
    if entries.is_empty() {
        return;
    }
    let Some(meta) = metadata_mut(obj) else { return };
    let map = meta.entry(field).or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    if let Some(map) = map.as_object_mut() {
        for (k, v) in entries {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

/// fluxcd/pkg/ssa `AnyInMetadata`: whether a label or annotation has one of the keys with
/// a non-empty value equal to the selector's, ignoring case.
#[must_use]
pub fn any_in_metadata(obj: &Value, selector: &BTreeMap<String, String>) -> bool {
    if selector.is_empty() {
        return false;
    }
    let labels = labels(obj);
    let annotations = annotations(obj);
    selector.iter().any(|(key, want)| {
        let matches = |map: &BTreeMap<String, String>| {
            map.get(key).is_some_and(|v| !v.is_empty() && v.to_lowercase() == want.to_lowercase())
        };
        matches(&labels) || matches(&annotations)
    })
}

/// Whether every selector entry is a label of the object (a `matchLabels` selector).
#[must_use]
pub fn has_all_labels(obj: &Value, selector: &BTreeMap<String, String>) -> bool {
    let labels = labels(obj);
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A `CustomResourceDefinition` of `apiextensions.k8s.io`.
#[must_use]
pub fn is_crd(obj: &Value) -> bool {
    kind(obj).eq_ignore_ascii_case("customresourcedefinition") && api_version(obj).starts_with("apiextensions.k8s.io/")
}

/// A core `Namespace`.
#[must_use]
pub fn is_namespace(obj: &Value) -> bool {
    kind(obj).eq_ignore_ascii_case("namespace") && api_version(obj) == "v1"
}

/// An RBAC `ClusterRole`.
#[must_use]
pub fn is_cluster_role(obj: &Value) -> bool {
    kind(obj).eq_ignore_ascii_case("clusterrole") && api_version(obj).starts_with("rbac.authorization.k8s.io/")
}

/// A core `Secret`.
#[must_use]
pub fn is_secret(obj: &Value) -> bool {
    kind(obj).eq_ignore_ascii_case("secret") && api_version(obj) == "v1"
}

/// The first stage: CRDs, Namespaces and ClusterRoles (`IsClusterDefinition`).
#[must_use]
pub fn is_cluster_definition(obj: &Value) -> bool {
    is_crd(obj) || is_namespace(obj) || is_cluster_role(obj)
}

/// The second stage: kinds ending in `Class` (`IsClassDefinition`).
#[must_use]
pub fn is_class_definition(obj: &Value) -> bool {
    kind(obj).ends_with("Class")
}

/// A kind's place in Flux's order: negative for the first kinds, positive for the last,
/// zero for the others.
fn kind_index(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - ORDER_FIRST.len() as i64;
    }
    if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        return i as i64 + 1;
    }
    0
}

/// Flux's apply order of two identities: by kind order, then group, kind, namespace, name.
#[must_use]
pub fn compare(a: &ObjMetadata, b: &ObjMetadata) -> Ordering {
    if a.group != b.group || a.kind != b.kind {
        return kind_index(&a.kind)
            .cmp(&kind_index(&b.kind))
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.kind.cmp(&b.kind));
    }
    a.namespace.cmp(&b.namespace).then_with(|| a.name.cmp(&b.name))
}

/// Sorts objects in Flux's apply order (stable).
pub fn sort_objects(objects: &mut [Value]) {
    objects.sort_by_cached_key(|o| {
        let m = ObjMetadata::of_lenient(o);
        (kind_index(&m.kind), m.group.clone(), m.kind.clone(), m.namespace.clone(), m.name.clone())
    });
}

/// The group of an object's `apiVersion`.
#[must_use]
pub fn group(obj: &Value) -> &str {
    group_of(api_version(obj))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_match_labels_or_annotations_ignoring_case() {
        let obj = json!({"metadata": {"labels": {"a": "Disabled"}, "annotations": {"b": "IfNotPresent", "c": ""}}});
        let sel = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(any_in_metadata(&obj, &sel("a", "disabled")));
        assert!(any_in_metadata(&obj, &sel("b", "ifnotpresent")));
        assert!(!any_in_metadata(&obj, &sel("b", "Ignore")));
        assert!(!any_in_metadata(&obj, &sel("c", "")));
        assert!(!any_in_metadata(&obj, &BTreeMap::new()));
        assert!(has_all_labels(&obj, &sel("a", "Disabled")));
        assert!(!has_all_labels(&obj, &sel("a", "disabled")));
        assert!(has_all_labels(&obj, &BTreeMap::new()));
    }

    #[test]
    fn stage_kinds() {
        let o = |v: &str, k: &str| json!({"apiVersion": v, "kind": k});
        assert!(is_cluster_definition(&o("apiextensions.k8s.io/v1", "CustomResourceDefinition")));
        assert!(is_cluster_definition(&o("v1", "Namespace")));
        assert!(is_cluster_definition(&o("rbac.authorization.k8s.io/v1", "ClusterRole")));
        assert!(!is_cluster_definition(&o("example.com/v1", "Namespace")));
        assert!(!is_cluster_definition(&o("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")));
        assert!(is_class_definition(&o("storage.k8s.io/v1", "StorageClass")));
        assert!(!is_class_definition(&o("v1", "ConfigMap")));
    }

    #[test]
    fn objects_sort_in_flux_order() {
        let o = |v: &str, k: &str, ns: &str, n: &str| json!({"apiVersion": v, "kind": k, "metadata": {"name": n, "namespace": ns}});
        let mut objs = vec![
            o("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook"),
            o("apps/v1", "Deployment", "b", "web"),
            o("example.com/v1", "Foo", "a", "x"),
            o("v1", "ConfigMap", "b", "z"),
            o("v1", "ConfigMap", "a", "z"),
            o("v1", "Namespace", "", "a"),
            o("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "foos.example.com"),
        ];
        sort_objects(&mut objs);
        let order: Vec<String> = objs.iter().map(|o| ObjMetadata::of_lenient(o).to_string()).collect();
        assert_eq!(
            order,
            [
                "CustomResourceDefinition/foos.example.com",
                "Namespace/a",
                "ConfigMap/a/z",
                "ConfigMap/b/z",
                "Deployment/b/web",
                "Foo/a/x",
                "ValidatingWebhookConfiguration/hook",
            ]
        );
        let ids: Vec<ObjMetadata> = objs.iter().map(ObjMetadata::of_lenient).collect();
        for w in ids.windows(2) {
            assert_eq!(compare(&w[0], &w[1]), Ordering::Less);
        }
    }

    #[test]
    fn string_maps_merge() {
        let mut obj = json!({"metadata": {"labels": {"a": "1"}}});
        merge_string_map(&mut obj, "labels", &BTreeMap::from([("b".to_string(), "2".to_string())]));
        assert_eq!(labels(&obj).len(), 2);
        let mut bare = json!({});
        merge_string_map(&mut bare, "annotations", &BTreeMap::from([("x".to_string(), "y".to_string())]));
        assert_eq!(annotations(&bare).get("x").map(String::as_str), Some("y"));
    }
}
