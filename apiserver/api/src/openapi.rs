//! The `components.schemas` part of the OpenAPI v3 document the server publishes for a
//! group-version (`/openapi/v3/apis/<group>/<version>`), which `kubectl explain` and
//! client-side tools read.
//!
//! As kube-apiserver does for custom resources, each kind is named after its reversed group
//! (`io.fluxcd.toolkit.source.v1.GitRepository`), carries `x-kubernetes-group-version-kind`,
//! has a `...List` companion, and refers to the standard `ObjectMeta`/`ListMeta` definitions,
//! which are included (described in our own words).

use serde_json::{Map, Value, json};

/// The OpenAPI name of a kind: reversed group, version, kind.
#[must_use]
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn meta_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{META}.{name}")})
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

/// The schemas of every kind served in `group`/`version`, their lists, and the metadata types
/// they refer to; `None` when nothing is served there.
#[must_use]
pub fn component_schemas(group: &str, version: &str) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for info in crate::registry().iter().filter(|i| i.group == group) {
        let Some(v) = info.version(version) else { continue };
        let name = schema_name(group, version, info.kind);
        let mut schema = v.schema.to_json();
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "metadata".to_owned(),
                json!({"allOf": [meta_ref("ObjectMeta")], "default": {},
                       "description": "Standard object metadata: name, namespace, labels, annotations and the fields the server maintains."}),
            );
        }
        if let Some(m) = schema.as_object_mut() {
            m.insert("x-kubernetes-group-version-kind".to_owned(), gvk(group, version, info.kind));
        }
        let list = json!({
            "description": format!("A list of {}.", info.kind),
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string", "description": "Versioned schema of this object, as group/version."},
                "items": {"type": "array", "description": "The objects.", "items": {"$ref": format!("#/components/schemas/{name}")}},
                "kind": {"type": "string", "description": "The REST resource type of this object, in CamelCase."},
                "metadata": {"allOf": [meta_ref("ListMeta")], "default": {},
                             "description": "List metadata: resource version and continuation token."}
            },
            "x-kubernetes-group-version-kind": gvk(group, version, info.list_kind),
        });
        out.insert(name.clone(), schema);
        out.insert(format!("{name}List"), list);
    }
    if out.is_empty() {
        return None;
    }
    for (name, schema) in meta_schemas() {
        out.insert(format!("{META}.{name}"), schema);
    }
    Some(out)
}

fn string(description: &str) -> Value {
    json!({"type": "string", "default": "", "description": description})
}

fn time(description: &str) -> Value {
    json!({"allOf": [meta_ref("Time")], "description": description})
}

fn int64(description: &str) -> Value {
    json!({"type": "integer", "format": "int64", "description": description})
}

fn string_map(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description})
}

/// The standard metadata definitions the kinds refer to.
fn meta_schemas() -> Vec<(&'static str, Value)> {
    let object_meta = json!({
        "description": "Metadata every persisted object carries.",
        "type": "object",
        "properties": {
            "annotations": string_map("Free-form key/value pairs for tools and humans; not usable in selectors."),
            "creationTimestamp": time("When the server created the object; set by the server, read-only."),
            "deletionGracePeriodSeconds": int64("Seconds the object may take to terminate once deletion was requested; read-only."),
            "deletionTimestamp": time("When deletion was requested; the object goes away once its finalizers are done. Read-only."),
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set",
                            "description": "Names of the parties that must clean up before the object is deleted."},
            "generateName": string("Prefix from which the server invents a unique name when name is empty."),
            "generation": int64("Sequence number of the desired state, bumped by the server on every spec change; read-only."),
            "labels": string_map("Identifying key/value pairs, usable in selectors."),
            "managedFields": {"type": "array", "items": meta_ref("ManagedFieldsEntry"),
                              "description": "Which manager owns which fields, for server-side apply."},
            "name": string("Name of the object, unique in its namespace; cannot be changed."),
            "namespace": string("Namespace of the object; cannot be changed."),
            "ownerReferences": {"type": "array", "items": meta_ref("OwnerReference"),
                                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
                                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge",
                                "description": "Objects this one depends on; it is garbage-collected when they are gone."},
            "resourceVersion": string("Opaque version for optimistic concurrency and watches; set by the server."),
            "selfLink": string("Deprecated; always empty."),
            "uid": string("Unique id assigned by the server at creation; read-only.")
        }
    });
    let list_meta = json!({
        "description": "Metadata of a list response.",
        "type": "object",
        "properties": {
            "continue": string("Token to fetch the next page of a paginated list."),
            "remainingItemCount": int64("Estimate of the items left after this page, when known."),
            "resourceVersion": string("Version of the collection at the time of the list."),
            "selfLink": string("Deprecated; always empty.")
        }
    });
    let owner = json!({
        "description": "A reference to an owning object in the same namespace.",
        "type": "object",
        "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {
            "apiVersion": string("API version of the owner."),
            "blockOwnerDeletion": {"type": "boolean", "description": "Whether the owner waits for this object to be deleted in foreground deletion."},
            "controller": {"type": "boolean", "description": "Whether the owner is the managing controller."},
            "kind": string("Kind of the owner."),
            "name": string("Name of the owner."),
            "uid": string("UID of the owner.")
        },
        "x-kubernetes-map-type": "atomic"
    });
    let managed = json!({
        "description": "The fields one manager set through one operation.",
        "type": "object",
        "properties": {
            "apiVersion": string("Version the fields are expressed in."),
            "fieldsType": string("Format of fieldsV1; always FieldsV1."),
            "fieldsV1": {"allOf": [meta_ref("FieldsV1")], "description": "The set of fields, as a trie."},
            "manager": string("Name of the manager."),
            "operation": string("Apply or Update."),
            "subresource": string("Subresource the write went to, if any."),
            "time": time("When the fields were last changed.")
        }
    });
    vec![
        ("ObjectMeta", object_meta),
        ("ListMeta", list_meta),
        ("OwnerReference", owner),
        ("ManagedFieldsEntry", managed),
        ("FieldsV1", json!({"description": "A set of fields encoded as a JSON trie.", "type": "object"})),
        (
            "Time",
            json!({"description": "An RFC 3339 timestamp with second precision.", "type": "string", "format": "date-time"}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r.trim_start_matches("#/components/schemas/").to_owned());
                }
                m.values().for_each(|c| refs(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }

    #[test]
    fn names_follow_kube_apiserver() {
        assert_eq!(
            schema_name("source.toolkit.fluxcd.io", "v1", "GitRepository"),
            "io.fluxcd.toolkit.source.v1.GitRepository"
        );
    }

    #[test]
    fn every_group_version_document_is_self_contained() {
        let mut seen = 0;
        for info in crate::registry() {
            for v in &info.versions {
                let schemas = component_schemas(info.group, v.name).unwrap_or_default();
                let name = schema_name(info.group, v.name, info.kind);
                let kind = &schemas[&name];
                assert_eq!(kind["x-kubernetes-group-version-kind"][0]["kind"], info.kind);
                assert_eq!(
                    kind["properties"]["metadata"]["allOf"][0]["$ref"],
                    format!("#/components/schemas/{META}.ObjectMeta")
                );
                assert_eq!(
                    schemas[&format!("{name}List")]["x-kubernetes-group-version-kind"][0]["kind"],
                    info.list_kind
                );
                let mut all = Vec::new();
                refs(&Value::Object(schemas.clone()), &mut all);
                for r in all {
                    assert!(schemas.contains_key(&r), "{name}: dangling $ref {r}");
                }
                seen += 1;
            }
        }
        assert_eq!(seen, 22);
        assert!(component_schemas("source.toolkit.fluxcd.io", "v9").is_none());
    }
}
