//! Server-side printing: `meta.k8s.io` `Table` with the kind's printer columns, and
//! `PartialObjectMetadata` (the metadata-only view the garbage collector and namespace
//! controller read).

use eddy_api::ResourceInfo;
use serde_json::{Value, json};

use crate::registry::ServedResource;

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "Metadata" => Some(Self::Metadata),
            "None" => Some(Self::None),
            "Object" => Some(Self::Object),
            _ => None,
        }
    }
}

/// Seconds as kube prints ages: `45s`, `3m20s`, `5h`, `12d`, `2y30d`.
#[must_use]
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    let y = d / 365;
    let pair = |a: i64, au: &str, b: i64, bu: &str| if b == 0 { format!("{a}{au}") } else { format!("{a}{au}{b}{bu}") };
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        pair(m, "m", s % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        pair(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        pair(d, "d", h % 24, "h")
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        pair(y, "y", d % 365, "d")
    } else {
        format!("{y}y")
    }
}

/// The age of an RFC 3339 timestamp, or `<unknown>`.
fn age(ts: &Value) -> Value {
    match ts.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
        Some(t) => json!(human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())),
        None => json!("<unknown>"),
    }
}

/// The metadata-only view of an object, in `meta.k8s.io/{version}`.
#[must_use]
pub fn partial_metadata(obj: &Value, meta_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The metadata-only list.
#[must_use]
pub fn partial_metadata_list(items: &[Value], list_meta: Value, meta_version: &str) -> Value {
    let items: Vec<Value> = items.iter().map(|o| partial_metadata(o, meta_version)).collect();
    let mut list = json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "items": items,
    });
    list["metadata"] = list_meta;
    list
}

/// Column definitions: `Name`, then the printer columns of `version`.
pub(crate) fn columns(info: &ResourceInfo, version: &str) -> Vec<Value> {
    let mut cols = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name of the object, unique within its namespace.",
    })];
    for c in info.version(version).map(|v| v.printer_columns.as_slice()).unwrap_or_default() {
        cols.push(json!({"name": c.name, "type": c.type_, "format": "", "priority": c.priority, "description": ""}));
    }
    if cols.len() == 1 {
        cols.push(json!({
            "name": "Age", "type": "date", "format": "", "priority": 0,
            "description": "Time since the object was created.",
        }));
    }
    cols
}

fn cell(column: &Value, info: &ResourceInfo, version: &str, obj: &Value) -> Value {
    let name = column["name"].as_str().unwrap_or_default();
    if column["format"] == "name" {
        return obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
    }
    let printer = info.version(version).and_then(|v| v.printer_columns.iter().find(|c| c.name == name));
    let value = match printer {
        Some(c) => c.cell(obj),
        None => obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
    };
    let type_ = column["type"].as_str().unwrap_or_default();
    match (type_, &value) {
        (_, Value::Null) => Value::Null,
        ("date", v) => age(v),
        ("string", Value::String(_)) => value,
        ("string", v) => json!(v.to_string()),
        _ => value,
    }
}

/// A `Table` of `objects` of one kind in `version`.
#[must_use]
pub fn table(
    res: &ServedResource,
    objects: &[Value],
    list_meta: Value,
    meta_version: &str,
    include: IncludeObject,
) -> Value {
    let (info, version) = (res.info(), res.version);
    let cols = res.strategy.columns(version);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| cell(c, info, version, o)).collect();
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(o, meta_version),
                IncludeObject::Object => row["object"] = o.clone(),
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "columnDefinitions": cols,
        "rows": rows,
    });
    t["metadata"] = list_meta;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_kubectl() {
        let check = |s: i64, want: &str| assert_eq!(human_duration(s), want, "{s}");
        check(-5, "<invalid>");
        check(-1, "0s");
        check(0, "0s");
        check(119, "119s");
        check(120, "2m");
        check(200, "3m20s");
        check(600, "10m");
        check(179 * 60, "179m");
        check(3 * 3600, "3h");
        check(3 * 3600 + 60, "3h1m");
        check(30 * 3600, "30h");
        check(50 * 3600, "2d2h");
        check(10 * 86400, "10d");
        check(800 * 86400, "2y70d");
        check(3000 * 86400, "8y");
    }

    #[test]
    fn flux_columns_and_rows() {
        let res = crate::strategy::KindStrategies::build()
            .resource("source.toolkit.fluxcd.io", "v1", "gitrepositories")
            .unwrap_or_else(|| panic!("served"));
        let obj = json!({
            "metadata": {"name": "app", "namespace": "ns", "creationTimestamp": "2000-01-01T00:00:00Z"},
            "spec": {"url": "https://example.com/app"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "stored artifact"}]},
        });
        let t = table(&res, std::slice::from_ref(&obj), json!({"resourceVersion": "5"}), "v1", IncludeObject::Metadata);
        let names: Vec<&str> =
            t["columnDefinitions"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names[0], "Name");
        assert!(names.contains(&"URL") && names.contains(&"Ready") && names.contains(&"Age"), "{names:?}");
        let cells = &t["rows"][0]["cells"];
        let at = |n: &str| names.iter().position(|c| *c == n).map_or(Value::Null, |i| cells[i].clone());
        assert_eq!(at("Name"), "app");
        assert_eq!(at("URL"), "https://example.com/app");
        assert_eq!(at("Ready"), "True");
        assert!(at("Age").as_str().is_some_and(|a| a.ends_with('y')), "{}", at("Age"));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "ns");
        let none = table(&res, &[obj], json!({}), "v1", IncludeObject::None);
        assert!(none["rows"][0].get("object").is_none());
    }
}
