//! A small test kind covering every list and map type, and helpers.
#![allow(dead_code)]

use eddy_api::Schema;
use eddy_ssa::{ApplyError, FieldManager, FieldRenames, KindTypes, Rename, Request};
use serde_json::{Value, json};

pub const GROUP: &str = "test.eddy.io";
pub const V1: &str = "test.eddy.io/v1";
pub const V1BETA1: &str = "test.eddy.io/v1beta1";

fn spec(beta: bool) -> Schema {
    let port = Schema::object()
        .req_prop("name", Schema::string())
        .prop("port", Schema::integer())
        .prop("protocol", Schema::string().default_value("TCP"));
    let endpoint = Schema::object()
        .req_prop("port", Schema::integer())
        .prop("protocol", Schema::string().default_value("TCP"))
        .prop("host", Schema::string());
    let s = Schema::object()
        .prop("replicas", Schema::integer())
        .prop("image", Schema::string())
        .prop("suspend", Schema::boolean())
        .prop("tags", Schema::array(Schema::string()))
        .prop("aliases", Schema::array(Schema::string()).list_type("set"))
        .prop("ports", Schema::array(port).list_map(&["name"]))
        .prop("endpoints", Schema::array(endpoint).list_map(&["port", "protocol"]))
        .prop("env", Schema::map(Schema::string()))
        .prop("selector", Schema::object().prop("matchLabels", Schema::map(Schema::string())).map_type("atomic"))
        .prop(
            "template",
            Schema::object().prop("a", Schema::string()).prop("b", Schema::object().prop("c", Schema::string())),
        )
        .prop("values", Schema::any());
    if beta { s.without("image").prop("imageRef", Schema::string()) } else { s }
}

fn object(beta: bool) -> Schema {
    Schema::object()
        .prop("apiVersion", Schema::string())
        .prop("kind", Schema::string())
        .prop("metadata", Schema::object())
        .prop("spec", spec(beta))
        .prop(
            "status",
            Schema::object().prop("phase", Schema::string()).prop("observedGeneration", Schema::integer()).prop(
                "conditions",
                Schema::array(Schema::object().prop("type", Schema::string()).prop("status", Schema::string())),
            ),
        )
}

pub fn schemas() -> (Schema, Schema) {
    (object(false), object(true))
}

/// The Widget kind: v1 and v1beta1 (`spec.imageRef` there is v1's `spec.image`).
pub fn widget_manager(status_subresource: bool) -> FieldManager {
    let (v1, v1beta1) = schemas();
    let v1 = Box::leak(Box::new(v1));
    let v1beta1 = Box::leak(Box::new(v1beta1));
    let renames = FieldRenames::new(vec![Rename {
        from_version: V1BETA1.into(),
        from: vec!["spec".into(), "imageRef".into()],
        to_version: V1.into(),
        to: vec!["spec".into(), "image".into()],
    }]);
    let types = KindTypes::new(GROUP, "Widget", [("v1", &*v1), ("v1beta1", &*v1beta1)], Box::new(renames));
    FieldManager::new(types, status_subresource)
}

pub fn req<'a>(manager: &'a str, now: &'a str) -> Request<'a> {
    Request { manager, api_version: V1, subresource: "", now }
}

pub fn widget(spec: Value) -> Value {
    let mut obj = json!({"apiVersion": V1, "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}});
    obj["spec"] = spec;
    obj
}

/// Applies and "stores" (adds a uid as the server would).
pub fn apply(
    fm: &FieldManager,
    live: Option<&Value>,
    config: &Value,
    r: &Request<'_>,
    force: bool,
) -> Result<Value, ApplyError> {
    let mut obj = fm.apply(live, config, r, force)?.object;
    stored(&mut obj);
    Ok(obj)
}

pub fn update(fm: &FieldManager, live: Option<&Value>, new: &Value, r: &Request<'_>) -> Value {
    let mut obj = fm.update(live, new, r).expect("update");
    stored(&mut obj);
    obj
}

pub fn stored(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.entry("uid").or_insert_with(|| json!("uid-1"));
    }
}

/// The fields of one manager (by name and operation).
pub fn fields_of(obj: &Value, manager: &str, operation: &str) -> Option<Value> {
    entry_of(obj, manager, operation).map(|e| e["fieldsV1"].clone())
}

pub fn entry_of(obj: &Value, manager: &str, operation: &str) -> Option<Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .cloned()
}

pub fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let sub = e.get("subresource").and_then(Value::as_str).map(|s| format!("/{s}")).unwrap_or_default();
                    format!("{}:{}{sub}", e["manager"].as_str().unwrap_or(""), e["operation"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn without_meta(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
    }
    o
}
