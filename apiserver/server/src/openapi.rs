//! OpenAPI v3 documents (`/openapi/v3` and one per group-version) with the schemas of
//! `eddy-api` and complete operations, so `kubectl explain` and kubectl's query-parameter
//! checks (`fieldValidation`, `dryRun`, `fieldManager`) work, and an OpenAPI v2 (Swagger)
//! document for clients that still read `/openapi/v2` as JSON.

use eddy_api::ResourceInfo;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::discovery::groups;

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn param(name: &str, location: &str, description: &str, kind: &str) -> Value {
    let mut p = json!({"name": name, "in": location, "description": description, "schema": {"type": kind}});
    if location == "path" {
        p["required"] = json!(true);
    } else {
        p["schema"]["uniqueItems"] = json!(true);
    }
    p
}

fn query(name: &str, description: &str, kind: &str) -> Value {
    param(name, "query", description, kind)
}

fn write_params() -> Vec<Value> {
    vec![
        query("dryRun", "When All, the request runs every stage but persistence.", "string"),
        query("fieldManager", "Name of the actor making the change, recorded in managedFields.", "string"),
        query(
            "fieldValidation",
            "What to do about unknown or duplicate fields: Ignore, Warn (the default) or Strict.",
            "string",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "Ask for BOOKMARK events in a watch.", "boolean"),
        query("continue", "Token from a previous page of a paginated list.", "string"),
        query("fieldSelector", "Restricts the objects by fields (metadata.name, metadata.namespace).", "string"),
        query("labelSelector", "Restricts the objects by labels.", "string"),
        query("limit", "Most objects to return in one page.", "integer"),
        query("resourceVersion", "Which version of the collection to read or watch from.", "string"),
        query("resourceVersionMatch", "How resourceVersion applies to a list: Exact or NotOlderThan.", "string"),
        query("sendInitialEvents", "Start a watch with the current objects as ADDED events.", "boolean"),
        query("timeoutSeconds", "How long a list or watch may run.", "integer"),
        query("watch", "Stream changes instead of returning a list.", "boolean"),
    ]
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn content(schema: &Value, types: &[&str]) -> Value {
    let mut m = Map::new();
    for t in types {
        m.insert((*t).to_owned(), json!({"schema": schema}));
    }
    Value::Object(m)
}

/// The content types an object, list or Status answer comes in (kube-apiserver's for custom
/// resources, which have no protobuf).
const OBJECT_TYPES: &[&str] = &["application/json", "application/yaml"];

fn response(schema: &Value) -> Value {
    json!({"description": "OK", "content": content(schema, OBJECT_TYPES)})
}

/// A list's answer: the list as JSON or YAML, or (with `watch`) a stream of watch events.
fn list_response(list: &Value) -> Value {
    let mut r = response(list);
    r["content"]["application/json;stream=watch"] = json!({"schema": schema_ref(&format!("{META}.WatchEvent"))});
    json!({"200": r, "401": {"description": "Unauthorized"}})
}

#[allow(clippy::too_many_arguments)]
fn operation(
    id: &str,
    action: &str,
    info: &ResourceInfo,
    version: &str,
    description: &str,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
) -> Value {
    let mut op = json!({
        "description": description,
        "operationId": id,
        "tags": [format!("{}_{version}", info.group)],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": info.group, "version": version, "kind": info.kind},
    });
    op["responses"] = responses;
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(b) = body {
        op["requestBody"] = b;
    }
    op
}

fn op_id(verb: &str, info: &ResourceInfo, version: &str, suffix: &str) -> String {
    let group: String = info.group.split('.').next().unwrap_or_default().to_owned();
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
    };
    format!("{verb}{}{}{}{suffix}", cap(&group), cap(version), info.kind)
}

fn paths_for(info: &ResourceInfo, version: &str, out: &mut Map<String, Value>) {
    let (g, plural) = (info.group, info.plural);
    let kind_schema = schema_ref(&eddy_api::openapi::schema_name(g, version, info.kind));
    let list_schema = schema_ref(&format!("{}List", eddy_api::openapi::schema_name(g, version, info.kind)));
    let status_schema = schema_ref(&format!("{META}.Status"));
    let patch_body = json!({"content": content(&json!({"type": "object"}), &[
        "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml",
    ]), "required": true});
    let body = json!({"content": content(&kind_schema, &["application/json"]), "required": true});
    // A delete may carry DeleteOptions (preconditions, propagationPolicy, dryRun) in its body,
    // which kubectl sends; kube-apiserver documents it with any content type.
    let delete_body = json!({"content": content(&schema_ref(&format!("{META}.DeleteOptions")), &["*/*"])});
    let ns = param("namespace", "path", "Namespace of the objects.", "string");
    let name = param("name", "path", "Name of the object.", "string");
    let ok = |s: &Value| json!({"200": response(s), "401": {"description": "Unauthorized"}});
    let created =
        json!({"200": response(&kind_schema), "201": response(&kind_schema), "401": {"description": "Unauthorized"}});

    out.insert(
        format!("/apis/{g}/{version}/{plural}"),
        json!({
            "get": operation(&op_id("list", info, version, "ForAllNamespaces"), "list", info, version,
                &format!("List or watch {} in all namespaces.", info.kind), list_params(), None, list_response(&list_schema)),
        }),
    );
    let mut collection_delete = list_params();
    collection_delete.push(query("dryRun", "When All, nothing is deleted.", "string"));
    collection_delete.push(query("propagationPolicy", "Orphan, Background or Foreground.", "string"));
    out.insert(
        format!("/apis/{g}/{version}/namespaces/{{namespace}}/{plural}"),
        json!({
            "parameters": [ns.clone()],
            "get": operation(&op_id("listNamespaced", info, version, ""), "list", info, version,
                &format!("List or watch {} in a namespace.", info.kind), list_params(), None, list_response(&list_schema)),
            "post": operation(&op_id("createNamespaced", info, version, ""), "post", info, version,
                &format!("Create a {}.", info.kind), write_params(), Some(body.clone()), created.clone()),
            "delete": operation(&op_id("deleteCollectionNamespaced", info, version, ""), "deletecollection", info, version,
                &format!("Delete a collection of {}.", info.kind), collection_delete, None, ok(&status_schema)),
        }),
    );
    let mut delete_params = vec![
        query("dryRun", "When All, nothing is deleted.", "string"),
        query("propagationPolicy", "Orphan, Background or Foreground.", "string"),
    ];
    delete_params.push(query("gracePeriodSeconds", "Ignored: Flux objects terminate at once.", "integer"));
    let mut patch_params = write_params();
    patch_params.push(query("force", "Take over conflicting fields in a server-side apply.", "boolean"));
    out.insert(
        format!("/apis/{g}/{version}/namespaces/{{namespace}}/{plural}/{{name}}"),
        json!({
            "parameters": [name.clone(), ns.clone()],
            "get": operation(&op_id("readNamespaced", info, version, ""), "get", info, version,
                &format!("Read a {}.", info.kind), vec![query("resourceVersion", "Read at least this version.", "string")], None, ok(&kind_schema)),
            "put": operation(&op_id("replaceNamespaced", info, version, ""), "put", info, version,
                &format!("Replace a {}.", info.kind), write_params(), Some(body.clone()), created.clone()),
            "patch": operation(&op_id("patchNamespaced", info, version, ""), "patch", info, version,
                &format!("Partially update a {}.", info.kind), patch_params.clone(), Some(patch_body.clone()), created.clone()),
            "delete": operation(&op_id("deleteNamespaced", info, version, ""), "delete", info, version,
                &format!("Delete a {}.", info.kind), delete_params, Some(delete_body), ok(&kind_schema)),
        }),
    );
    if info.version(version).is_some_and(|v| v.status_subresource) {
        out.insert(
            format!("/apis/{g}/{version}/namespaces/{{namespace}}/{plural}/{{name}}/status"),
            json!({
                "parameters": [name, ns],
                "get": operation(&op_id("readNamespaced", info, version, "Status"), "get", info, version,
                    &format!("Read the status of a {}.", info.kind), vec![], None, ok(&kind_schema)),
                "put": operation(&op_id("replaceNamespaced", info, version, "Status"), "put", info, version,
                    &format!("Replace the status of a {}.", info.kind), write_params(), Some(body), created.clone()),
                "patch": operation(&op_id("patchNamespaced", info, version, "Status"), "patch", info, version,
                    &format!("Partially update the status of a {}.", info.kind), patch_params, Some(patch_body), created),
            }),
        );
    }
}

fn status_schema() -> Value {
    json!({
        "description": "The outcome of a request that did not return an object, most often an error.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this object, as group/version."},
            "code": {"type": "integer", "format": "int32", "description": "HTTP status code."},
            "details": {"type": "object", "description": "Which object the status is about, and field causes.",
                        "x-kubernetes-preserve-unknown-fields": true},
            "kind": {"type": "string", "description": "The REST resource type of this object, in CamelCase."},
            "message": {"type": "string", "description": "What happened, for humans."},
            "metadata": {"allOf": [schema_ref(&format!("{META}.ListMeta"))], "default": {}, "description": "List metadata."},
            "reason": {"type": "string", "description": "Machine-readable reason, such as NotFound or Conflict."},
            "status": {"type": "string", "description": "Success or Failure."}
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}]
    })
}

fn delete_options_schema() -> Value {
    json!({
        "description": "Options of a delete.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this object, as group/version."},
            "dryRun": {"type": "array", "items": {"type": "string", "default": ""},
                       "description": "All: run every stage but persistence."},
            "gracePeriodSeconds": {"type": "integer", "format": "int64",
                                   "description": "Ignored: Flux objects terminate at once."},
            "kind": {"type": "string", "description": "The REST resource type of this object, in CamelCase."},
            "preconditions": {"allOf": [schema_ref(&format!("{META}.Preconditions"))],
                              "description": "Must hold for the delete to happen."},
            "propagationPolicy": {"type": "string", "description": "Orphan, Background or Foreground."}
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "DeleteOptions", "version": "v1"}]
    })
}

fn preconditions_schema() -> Value {
    json!({
        "description": "Conditions that must hold before a delete.",
        "type": "object",
        "properties": {
            "resourceVersion": {"type": "string", "description": "The object's resourceVersion must be this."},
            "uid": {"type": "string", "description": "The object's uid must be this."}
        }
    })
}

fn watch_event_schema() -> Value {
    json!({
        "description": "One event of a watch stream.",
        "type": "object",
        "required": ["type", "object"],
        "properties": {
            "object": {"type": "object", "x-kubernetes-embedded-resource": true,
                       "x-kubernetes-preserve-unknown-fields": true,
                       "description": "The object (ADDED, MODIFIED, DELETED), a bookmark, or a Status (ERROR)."},
            "type": {"type": "string", "default": "", "description": "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."}
        }
    })
}

/// The OpenAPI v3 document of a group-version, or `None` when it is not served.
#[must_use]
pub fn v3_document(group: &str, version: &str) -> Option<Value> {
    let mut schemas = eddy_api::openapi::component_schemas(group, version)?;
    schemas.insert(format!("{META}.Status"), status_schema());
    schemas.insert(format!("{META}.DeleteOptions"), delete_options_schema());
    schemas.insert(format!("{META}.Preconditions"), preconditions_schema());
    schemas.insert(format!("{META}.WatchEvent"), watch_event_schema());
    let mut paths = Map::new();
    for info in eddy_api::registry().iter().filter(|i| i.group == group && i.version(version).is_some()) {
        paths_for(info, version, &mut paths);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Eddy", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A document and its content hash (the `hash` query parameter and ETag clients cache by).
#[derive(Debug, Clone)]
pub struct Published {
    /// The JSON body.
    pub body: bytes::Bytes,
    /// Hex SHA-256 of the body.
    pub hash: String,
}

impl Published {
    fn new(v: &Value) -> Self {
        let body = bytes::Bytes::from(v.to_string());
        let hash = format!("{:X}", Sha256::digest(&body));
        Self { body, hash }
    }
}

/// Every OpenAPI document the server publishes, computed once.
#[derive(Debug, Clone)]
pub struct Documents {
    /// `(group/version, document)` pairs for `/openapi/v3/apis/<group>/<version>`.
    pub v3: Vec<(String, Published)>,
    /// The `/openapi/v3` index.
    pub v3_index: Published,
    /// The `/openapi/v2` document.
    pub v2: Published,
}

impl Documents {
    /// Builds all documents from the registry.
    #[must_use]
    pub fn build() -> Self {
        let mut v3 = Vec::new();
        let mut index = Map::new();
        let mut v2_paths = Map::new();
        let mut v2_defs = Map::new();
        for (group, versions) in groups() {
            for version in versions {
                let Some(doc) = v3_document(group, version) else { continue };
                let published = Published::new(&doc);
                let gv = format!("apis/{group}/{version}");
                index.insert(
                    gv.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", published.hash)}),
                );
                if let Some(p) = doc["paths"].as_object() {
                    v2_paths.extend(p.iter().map(|(k, v)| (k.clone(), to_v2(v))));
                }
                if let Some(s) = doc["components"]["schemas"].as_object() {
                    v2_defs.extend(s.iter().map(|(k, v)| (k.clone(), to_v2(v))));
                }
                v3.push((gv, published));
            }
        }
        let v2 = json!({
            "swagger": "2.0",
            "info": {"title": "Eddy", "version": env!("CARGO_PKG_VERSION")},
            "paths": v2_paths,
            "definitions": v2_defs,
        });
        Self { v3, v3_index: Published::new(&json!({"paths": index})), v2: Published::new(&v2) }
    }

    /// The v3 document of `apis/<group>/<version>`.
    #[must_use]
    pub fn v3_for(&self, gv: &str) -> Option<&Published> {
        self.v3.iter().find(|(k, _)| k == gv).map(|(_, d)| d)
    }
}

/// Rewrites a v3 fragment into Swagger 2.0 terms: `$ref`s into `#/definitions/`, request
/// bodies into `body` parameters, `content` into `schema`.
fn to_v2(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                match k.as_str() {
                    "$ref" => {
                        let r = val.as_str().unwrap_or_default().replace("#/components/schemas/", "#/definitions/");
                        out.insert(k.clone(), json!(r));
                    }
                    "requestBody" => {
                        let schema = val["content"]
                            .as_object()
                            .and_then(|c| c.values().next())
                            .map_or(json!({}), |c| c["schema"].clone());
                        let body = json!({"name": "body", "in": "body", "required": true, "schema": to_v2(&schema)});
                        let params = out.entry("parameters").or_insert_with(|| json!([]));
                        if let Some(a) = params.as_array_mut() {
                            a.push(body);
                        }
                    }
                    "parameters" => {
                        let converted: Vec<Value> = val
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| {
                                let mut p = to_v2(p);
                                if let Some(s) = p.as_object_mut().and_then(|o| o.remove("schema"))
                                    && let Some(o) = p.as_object_mut()
                                {
                                    if let Some(t) = s.get("type") {
                                        o.insert("type".into(), t.clone());
                                    }
                                    if let Some(u) = s.get("uniqueItems") {
                                        o.insert("uniqueItems".into(), u.clone());
                                    }
                                }
                                p
                            })
                            .collect();
                        let params = out.entry("parameters").or_insert_with(|| json!([]));
                        if let Some(a) = params.as_array_mut() {
                            a.splice(0..0, converted);
                        }
                    }
                    "content" if m.contains_key("description") && !m.contains_key("type") => {
                        if let Some(s) = val.as_object().and_then(|c| c.values().next()) {
                            out.insert("schema".into(), to_v2(&s["schema"]));
                        }
                    }
                    _ => {
                        out.insert(k.clone(), to_v2(val));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v2).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_declare_query_parameters_for_kubectl() {
        let doc = v3_document("source.toolkit.fluxcd.io", "v1").unwrap_or_default();
        let path = &doc["paths"]["/apis/source.toolkit.fluxcd.io/v1/namespaces/{namespace}/gitrepositories/{name}"];
        let patch = &path["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "GitRepository");
        let names: Vec<&str> =
            patch["parameters"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        for p in ["fieldValidation", "dryRun", "fieldManager"] {
            assert!(names.contains(&p), "{p} missing from {names:?}");
        }
        assert!(doc["components"]["schemas"]["io.fluxcd.toolkit.source.v1.GitRepository"].is_object());
        // As kube-apiserver's: a list answers JSON, YAML or a watch stream; a delete reads
        // DeleteOptions from its body.
        let list =
            &doc["paths"]["/apis/source.toolkit.fluxcd.io/v1/gitrepositories"]["get"]["responses"]["200"]["content"];
        let types: Vec<&String> = list.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(types, ["application/json", "application/yaml", "application/json;stream=watch"]);
        assert_eq!(
            path["delete"]["requestBody"]["content"]["*/*"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
        );
        assert!(
            doc["paths"]["/apis/source.toolkit.fluxcd.io/v1/namespaces/{namespace}/gitrepositories/{name}/status"]
                .is_object()
        );
    }

    #[test]
    fn references_resolve_in_v3_and_v2() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        out.push(r.to_owned());
                    }
                    m.values().for_each(|c| refs(c, out));
                }
                Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
                _ => {}
            }
        }
        let docs = Documents::build();
        assert_eq!(
            docs.v3.len(),
            eddy_api::registry()
                .iter()
                .flat_map(|i| i.versions.iter().map(move |v| (i.group, v.name)))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
        for (gv, d) in &docs.v3 {
            let doc: Value = serde_json::from_slice(&d.body).unwrap_or_default();
            let mut all = Vec::new();
            refs(&doc, &mut all);
            for r in all {
                let name = r.trim_start_matches("#/components/schemas/");
                assert!(doc["components"]["schemas"].get(name).is_some(), "{gv}: dangling {r}");
            }
        }
        let v2: Value = serde_json::from_slice(&docs.v2.body).unwrap_or_default();
        let mut all = Vec::new();
        refs(&v2, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.strip_prefix("#/definitions/").unwrap_or_else(|| panic!("v2 ref {r}"));
            assert!(v2["definitions"].get(name).is_some(), "dangling {r}");
        }
        let index: Value = serde_json::from_slice(&docs.v3_index.body).unwrap_or_default();
        let url = index["paths"]["apis/source.toolkit.fluxcd.io/v1"]["serverRelativeURL"].as_str().unwrap_or_default();
        assert!(url.starts_with("/openapi/v3/apis/source.toolkit.fluxcd.io/v1?hash="));
    }
}
