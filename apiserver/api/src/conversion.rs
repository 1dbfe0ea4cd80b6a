//! Conversion of unstructured objects between the served versions of a kind.
//!
//! Flux's versions of one kind differ only by a few fields, so conversion is driven by the
//! target version's schema:
//!
//! 1. `apiVersion` is rewritten, and the one field whose meaning moves between versions is
//!    carried over: a v1beta2 HelmChart's `spec.valuesFile` (merged before `spec.valuesFiles`)
//!    becomes the first entry of v1's `spec.valuesFiles`.
//! 2. Fields the target version does not declare are removed and remembered, and string values
//!    the target's enum does not allow are replaced by the target's default (or its first allowed
//!    value) and remembered too.
//! 3. Whatever an earlier conversion remembered for the target version is put back.
//! 4. What was remembered in step 2 is stored, as JSON, in the annotation
//!    `conversion.eddy.fluxcd.io/<source version>`, so a later conversion back restores it
//!    (with a marker when the annotation map itself had to be created, so it is removed again).
//!    Values the conversion itself wrote (a replaced enum value, the merged `valuesFiles`) are
//!    only put back while the field still holds what the conversion wrote: a change made through
//!    the other version in the meantime wins over the remembered value.
//!
//! This is how Kubernetes keeps round trips lossless for its own types (e.g. the
//! `autoscaling/v2` annotations on `v1` objects): converting v1 → v1beta2 → v1, or
//! v1beta2 → v1 → v1beta2, gives back the original object. Conversion never applies defaults;
//! the server does that after converting, as kube-apiserver does.

use serde_json::{Map, Value};

use crate::schema::Schema;

const ANNOTATIONS_POINTER: &str = "/metadata/annotations";

/// Prefix of the annotations holding fields a version could not represent.
pub const ANNOTATION_PREFIX: &str = "conversion.eddy.fluxcd.io/";

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// `apiVersion` or `kind` is missing or not a string.
    #[error("object has no apiVersion or kind")]
    MissingTypeInfo,
    /// The kind is not served in the group.
    #[error("kind {kind} is not served in group {group}")]
    UnknownKind {
        /// API group.
        group: String,
        /// Kind.
        kind: String,
    },
    /// The version is not served for the kind.
    #[error("version {version} of {kind} is not served")]
    UnknownVersion {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
    },
}

/// One remembered value: a JSON pointer and what was there.
fn remembered(pointer: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert("path".to_owned(), Value::from(pointer));
    m.insert("value".to_owned(), value);
    Value::Object(m)
}

/// A value to put back (or, with `None`, a field to remove again) only if the field still holds
/// `guard`, i.e. nobody changed what the conversion wrote there.
fn remembered_if(pointer: &str, value: Option<Value>, guard: Value) -> Value {
    let mut m = Map::new();
    m.insert("path".to_owned(), Value::from(pointer));
    match value {
        Some(v) => m.insert("value".to_owned(), v),
        None => m.insert("absent".to_owned(), Value::Bool(true)),
    };
    m.insert("if".to_owned(), guard);
    Value::Object(m)
}

/// v1beta2 HelmChart's `spec.valuesFile` is merged before `spec.valuesFiles`; v1 only has the
/// list, so the file goes first in it. The original list is remembered, guarded by the new one.
fn fold_values_file(obj: &mut Value, stash: &mut Vec<Value>) {
    let Some(file) = obj.pointer("/spec/valuesFile").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return;
    };
    let file = Value::from(file);
    let original = obj.pointer("/spec/valuesFiles").cloned();
    let mut files = match &original {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return,
    };
    if files.contains(&file) {
        return;
    }
    files.insert(0, file);
    let produced = Value::Array(files);
    stash.push(remembered_if("/spec/valuesFiles", original, produced.clone()));
    obj["spec"]["valuesFiles"] = produced;
}

/// Converts `obj` to `to_version` of its kind.
///
/// # Errors
/// [`ConversionError`] when the object's kind or either version is not served.
pub fn convert(mut obj: Value, to_version: &str) -> Result<Value, ConversionError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).ok_or(ConversionError::MissingTypeInfo)?.to_owned();
    let kind = obj.get("kind").and_then(Value::as_str).ok_or(ConversionError::MissingTypeInfo)?.to_owned();
    let (group, from_version) = crate::split_api_version(&api_version);
    let info = crate::find(group, &kind)
        .ok_or_else(|| ConversionError::UnknownKind { group: group.to_owned(), kind: kind.clone() })?;
    let unknown = |v: &str| ConversionError::UnknownVersion { kind: kind.clone(), version: v.to_owned() };
    info.version(from_version).ok_or_else(|| unknown(from_version))?;
    let target = info.version(to_version).ok_or_else(|| unknown(to_version))?;
    if from_version == to_version {
        return Ok(obj);
    }
    let from_version = from_version.to_owned();
    obj["apiVersion"] = Value::from(info.api_version(to_version));

    let restore = take_annotation(&mut obj, &format!("{ANNOTATION_PREFIX}{to_version}"));

    let mut stash = Vec::new();
    if kind == "HelmChart" && from_version == "v1beta2" && to_version == "v1" {
        fold_values_file(&mut obj, &mut stash);
    }
    if let Value::Object(map) = &mut obj {
        for (k, v) in map.iter_mut() {
            if k == "metadata" {
                continue;
            }
            match target.schema.properties.get(k) {
                Some(s) => take_unknown(s, v, &format!("/{}", escape(k)), &mut stash),
                None => stash.push(remembered(&format!("/{}", escape(k)), v.clone())),
            }
        }
        map.retain(|k, _| k == "metadata" || target.schema.properties.contains_key(k));
    }

    for entry in restore {
        let Some(path) = entry.get("path").and_then(Value::as_str) else {
            continue;
        };
        if let Some(guard) = entry.get("if")
            && obj.pointer(path) != Some(guard)
        {
            continue;
        }
        if let Some(value) = entry.get("value") {
            set_pointer(&mut obj, path, value.clone());
        } else if entry.get("absent") == Some(&Value::Bool(true)) {
            // The annotation map goes only if nothing else was added to it meanwhile.
            let keep =
                path == ANNOTATIONS_POINTER && !matches!(obj.pointer(path), Some(Value::Object(m)) if m.is_empty());
            if !keep {
                remove_pointer(&mut obj, path);
            }
        }
    }

    if !stash.is_empty() {
        let key = format!("{ANNOTATION_PREFIX}{from_version}");
        let meta = obj.as_object_mut().map(|m| m.entry("metadata").or_insert_with(|| Value::Object(Map::new())));
        if let Some(Value::Object(meta)) = meta {
            if !meta.contains_key("annotations") {
                // Remember that the map is ours, so that the way back removes it again.
                let mut marker = Map::new();
                marker.insert("path".to_owned(), Value::from(ANNOTATIONS_POINTER));
                marker.insert("absent".to_owned(), Value::Bool(true));
                stash.push(Value::Object(marker));
            }
            let text = Value::Array(stash).to_string();
            let ann = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(ann) = ann {
                ann.insert(key, Value::from(text));
            }
        }
    }
    Ok(obj)
}

/// Converts an object to the storage version of its kind.
///
/// # Errors
/// As [`convert`].
pub fn convert_to_storage(obj: Value) -> Result<Value, ConversionError> {
    let (group, kind) = match (obj.get("apiVersion"), obj.get("kind")) {
        (Some(Value::String(a)), Some(Value::String(k))) => (crate::split_api_version(a).0.to_owned(), k.clone()),
        _ => return Err(ConversionError::MissingTypeInfo),
    };
    let info = crate::find(&group, &kind).ok_or(ConversionError::UnknownKind { group, kind })?;
    convert(obj, info.storage_version().name)
}

/// Removes and parses a conversion annotation; a malformed one is dropped.
fn take_annotation(obj: &mut Value, key: &str) -> Vec<Value> {
    let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") else {
        return Vec::new();
    };
    let Some(raw) = ann.remove(key) else {
        return Vec::new();
    };
    raw.as_str().and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok()).unwrap_or_default()
}

/// Removes what `schema` does not declare below `value`, and replaces values outside the
/// target's enums, recording the originals in `stash`.
fn take_unknown(schema: &Schema, value: &mut Value, pointer: &str, stash: &mut Vec<Value>) {
    if !schema.enum_values.is_empty() && value.is_string() && !schema.enum_values.contains(value) {
        if let Some(replacement) = schema.default.clone().or_else(|| schema.enum_values.first().cloned()) {
            stash.push(remembered_if(pointer, Some(value.clone()), replacement.clone()));
            *value = replacement;
        }
        return;
    }
    match value {
        Value::Object(map) => {
            if schema.preserve_unknown_fields || schema.type_.is_none() {
                return;
            }
            if let Some(ap) = &schema.additional_properties {
                for (k, v) in map.iter_mut() {
                    take_unknown(ap, v, &format!("{pointer}/{}", escape(k)), stash);
                }
                return;
            }
            let mut keep = Map::new();
            for (k, mut v) in std::mem::take(map) {
                let p = format!("{pointer}/{}", escape(&k));
                match schema.properties.get(&k) {
                    Some(s) => {
                        take_unknown(s, &mut v, &p, stash);
                        keep.insert(k, v);
                    }
                    None => stash.push(remembered(&p, v)),
                }
            }
            *map = keep;
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, v) in items.iter_mut().enumerate() {
                    take_unknown(item_schema, v, &format!("{pointer}/{i}"), stash);
                }
            }
        }
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Removes the value at a JSON pointer, if there is one.
fn remove_pointer(root: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let parent_value = if parent.is_empty() { Some(root) } else { root.pointer_mut(parent) };
    match parent_value {
        Some(Value::Object(m)) => {
            m.remove(&unescape(last));
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Sets the value at a JSON pointer when its parent exists (an object, or an array long enough).
fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let parent_value = if parent.is_empty() { Some(root) } else { root.pointer_mut(parent) };
    match parent_value {
        Some(Value::Object(m)) => {
            m.insert(unescape(last), value);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a[i] = value;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_version_is_identity_and_unknown_versions_fail() {
        let o = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository"});
        assert_eq!(convert(o.clone(), "v1"), Ok(o.clone()));
        assert!(matches!(convert(o.clone(), "v9"), Err(ConversionError::UnknownVersion { .. })));
        assert_eq!(convert(json!({"kind": "GitRepository"}), "v1"), Err(ConversionError::MissingTypeInfo));
        let unknown = json!({"apiVersion": "x.io/v1", "kind": "Nope"});
        assert!(matches!(convert(unknown, "v1"), Err(ConversionError::UnknownKind { .. })));
    }

    #[test]
    fn pointer_escaping_round_trips() {
        let mut v = json!({"a": {}});
        set_pointer(&mut v, &format!("/a/{}", escape("x/y~z")), json!(1));
        assert_eq!(v, json!({"a": {"x/y~z": 1}}));
    }
}
