//! `metadata.managedFields`: decoding, encoding and the manager identifiers kube-apiserver keys
//! them by.
//!
//! Entries are keyed by an *identifier*: the entry's JSON without `time`, `fieldsType` and
//! `fieldsV1`, and for `Apply` entries without `apiVersion` either (one entry per applier,
//! whatever version it applies with; one entry per updater *and* version).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fieldpath::{FieldsError, Set};
use crate::value::write_go_json_string;

/// `Apply` or `Update`.
pub const APPLY: &str = "Apply";
/// `Update`: every write that is not a server-side apply.
pub const UPDATE: &str = "Update";

/// One `metadata.managedFields` entry as it appears on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    /// Who.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manager: String,
    /// `Apply` or `Update`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// The `group/version` the fields are expressed in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// When the manager last changed the object (RFC 3339, seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Always `FieldsV1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fields_type: String,
    /// The field set.
    #[serde(default, rename = "fieldsV1", skip_serializing_if = "Option::is_none")]
    pub fields_v1: Option<Value>,
    /// `status` for writes through the status subresource.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// A manager's fields and the version they are expressed in (`fieldpath.VersionedSet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedSet {
    /// The fields.
    pub set: Set,
    /// `group/version`.
    pub api_version: String,
    /// Whether it comes from an apply.
    pub applied: bool,
}

/// Managers by identifier.
pub type ManagedFields = BTreeMap<String, VersionedSet>;

/// The decoded `managedFields`: field sets and times by manager identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed {
    /// Field sets.
    pub fields: ManagedFields,
    /// Times (absent for entries written without one).
    pub times: BTreeMap<String, String>,
}

/// A `managedFields` list kube-apiserver would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a list of entries.
    #[error("{0}")]
    Malformed(String),
    /// An entry is invalid.
    #[error("{0}")]
    Entry(String),
    /// A `fieldsV1` is malformed.
    #[error("error decoding set: {0}")]
    Fields(#[from] FieldsError),
}

/// The identifier of a manager (`BuildManagerIdentifier`): Go's JSON of the entry's `manager`,
/// `operation`, `apiVersion` (updaters only) and `subresource`.
#[must_use]
pub fn manager_identifier(manager: &str, operation: &str, api_version: &str, subresource: &str) -> String {
    let mut out = String::from("{");
    let mut first = true;
    let mut field = |name: &str, value: &str| {
        if value.is_empty() {
            return;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        write_go_json_string(&mut out, value, true);
    };
    field("manager", manager);
    field("operation", operation);
    if operation != APPLY {
        field("apiVersion", api_version);
    }
    field("subresource", subresource);
    out.push('}');
    out
}

/// The parts of an identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerInfo {
    /// Name.
    #[serde(default)]
    pub manager: String,
    /// `Apply` or `Update`.
    #[serde(default)]
    pub operation: String,
    /// Version (updaters only).
    #[serde(default)]
    pub api_version: String,
    /// Subresource.
    #[serde(default)]
    pub subresource: String,
}

impl ManagerInfo {
    /// Parses an identifier; `None` for strings that are not identifiers.
    #[must_use]
    pub fn parse(identifier: &str) -> Option<Self> {
        serde_json::from_str(identifier).ok()
    }
}

/// Reads the entries of a `metadata.managedFields` value (`None` when absent or null).
///
/// # Errors
/// When the value is not a list of entries.
pub fn entries(v: Option<&Value>) -> Result<Option<Vec<ManagedFieldsEntry>>, DecodeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| serde_json::from_value(i.clone()).map_err(|e| DecodeError::Malformed(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(DecodeError::Malformed(format!("managedFields must be a list, got {other}"))),
    }
}

/// Whether the client asks to reset managedFields: an empty list, or a list of one empty entry.
#[must_use]
pub fn is_reset(entries: &[ManagedFieldsEntry]) -> bool {
    match entries {
        [] => true,
        [only] => *only == ManagedFieldsEntry::default(),
        _ => false,
    }
}

/// Decodes entries (`DecodeManagedFields`).
///
/// # Errors
/// An entry kube-apiserver rejects (operation, apiVersion, fieldsType, malformed fields).
pub fn decode(entries: &[ManagedFieldsEntry]) -> Result<Managed, DecodeError> {
    let mut managed = Managed::default();
    for (i, e) in entries.iter().enumerate() {
        if e.operation != APPLY && e.operation != UPDATE {
            return Err(DecodeError::Entry("operation must be `Apply` or `Update`".to_owned()));
        }
        if e.api_version.is_empty() {
            return Err(DecodeError::Entry("apiVersion must not be empty".to_owned()));
        }
        match e.fields_type.as_str() {
            "FieldsV1" => {}
            "" => return Err(DecodeError::Entry(format!("missing fieldsType in managed fields entry {i}"))),
            other => {
                return Err(DecodeError::Entry(format!("invalid fieldsType {other:?} in managed fields entry {i}")));
            }
        }
        let id = manager_identifier(&e.manager, &e.operation, &e.api_version, &e.subresource);
        let set = match &e.fields_v1 {
            Some(v) => Set::from_fields_v1(v)?,
            None => Set::new(),
        };
        managed.fields.insert(
            id.clone(),
            VersionedSet { set, api_version: e.api_version.clone(), applied: e.operation == APPLY },
        );
        match &e.time {
            Some(t) => managed.times.insert(id, t.clone()),
            None => managed.times.remove(&id),
        };
    }
    Ok(managed)
}

/// Seconds since the epoch of an RFC 3339 UTC time (0 when it does not parse), for ordering.
#[must_use]
pub fn unix_seconds(t: Option<&str>) -> i64 {
    fn parse(t: &str) -> Option<i64> {
        let b = t.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        // Days from civil (Howard Hinnant's algorithm).
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let mut secs = days * 86_400 + h * 3600 + mi * 60 + s;
        // A numeric zone offset.
        let rest = t.get(19..)?;
        let rest = rest.strip_prefix('.').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
        if let Some(off) = rest.strip_prefix('+').or_else(|| rest.strip_prefix('-')) {
            let sign = if rest.starts_with('+') { -1 } else { 1 };
            let oh: i64 = off.get(0..2)?.parse().ok()?;
            let om: i64 = off.get(3..5)?.parse().ok()?;
            secs += sign * (oh * 3600 + om * 60);
        }
        Some(secs)
    }
    t.and_then(parse).unwrap_or(0)
}

/// Encodes managers into `managedFields` entries in kube's order (`Apply` before `Update`, then
/// by time, manager, apiVersion, subresource). `None` when there are none.
#[must_use]
pub fn encode(managed: &Managed) -> Option<Vec<ManagedFieldsEntry>> {
    if managed.fields.is_empty() {
        return None;
    }
    let mut out: Vec<ManagedFieldsEntry> = managed
        .fields
        .iter()
        .map(|(id, vs)| {
            let info = ManagerInfo::parse(id).unwrap_or_default();
            ManagedFieldsEntry {
                manager: info.manager,
                operation: if vs.applied { APPLY.to_owned() } else { info.operation },
                api_version: vs.api_version.clone(),
                time: managed.times.get(id).cloned(),
                fields_type: "FieldsV1".to_owned(),
                fields_v1: Some(vs.set.to_fields_v1()),
                subresource: info.subresource,
            }
        })
        .collect();
    out.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| unix_seconds(p.time.as_deref()).cmp(&unix_seconds(q.time.as_deref())))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    Some(out)
}

/// Entries as the JSON list stored in `metadata.managedFields`.
#[must_use]
pub fn to_value(entries: &[ManagedFieldsEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut m = Map::new();
                let mut put = |k: &str, v: &str| {
                    if !v.is_empty() {
                        m.insert(k.to_owned(), Value::from(v));
                    }
                };
                put("manager", &e.manager);
                put("operation", &e.operation);
                put("apiVersion", &e.api_version);
                if let Some(t) = &e.time {
                    m.insert("time".to_owned(), Value::from(t.as_str()));
                }
                if !e.fields_type.is_empty() {
                    m.insert("fieldsType".to_owned(), Value::from(e.fields_type.as_str()));
                }
                if let Some(f) = &e.fields_v1 {
                    m.insert("fieldsV1".to_owned(), f.clone());
                }
                if !e.subresource.is_empty() {
                    m.insert("subresource".to_owned(), Value::from(e.subresource.as_str()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_like_kube() {
        assert_eq!(manager_identifier("kubectl", "Apply", "v1", ""), r#"{"manager":"kubectl","operation":"Apply"}"#);
        assert_eq!(
            manager_identifier("c<x>", "Update", "g/v1", "status"),
            r#"{"manager":"c\u003cx\u003e","operation":"Update","apiVersion":"g/v1","subresource":"status"}"#
        );
        let info = ManagerInfo::parse(&manager_identifier("c<x>", "Update", "g/v1", "status")).unwrap();
        assert_eq!(info.manager, "c<x>");
    }

    #[test]
    fn decode_encode_round_trip_and_order() {
        let v = json!([
            {"manager": "b", "operation": "Update", "apiVersion": "g/v1", "time": "2026-01-01T00:00:02Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:a": {}}}},
            {"manager": "a", "operation": "Update", "apiVersion": "g/v1", "time": "2026-01-01T00:00:02Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:b": {}}}, "subresource": "status"},
            {"manager": "z", "operation": "Apply", "apiVersion": "g/v1", "time": "2026-01-01T00:00:09Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:c": {}}}}
        ]);
        let es = entries(Some(&v)).unwrap().unwrap();
        let m = decode(&es).unwrap();
        let out = to_value(&encode(&m).unwrap());
        let managers: Vec<&str> = out.as_array().unwrap().iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(managers, ["z", "a", "b"]);
        assert_eq!(out[1], v[1]);
    }

    #[test]
    fn invalid_entries() {
        let e = |v: Value| decode(&entries(Some(&json!([v]))).unwrap().unwrap()).unwrap_err().to_string();
        assert_eq!(
            e(json!({"manager": "a", "operation": "Patch", "apiVersion": "v1"})),
            "operation must be `Apply` or `Update`"
        );
        assert_eq!(e(json!({"manager": "a", "operation": "Apply"})), "apiVersion must not be empty");
        assert_eq!(
            e(json!({"manager": "a", "operation": "Apply", "apiVersion": "v1"})),
            "missing fieldsType in managed fields entry 0"
        );
        assert!(is_reset(&[]));
        assert!(is_reset(&[ManagedFieldsEntry::default()]));
        assert!(!is_reset(&[ManagedFieldsEntry { manager: "x".into(), ..Default::default() }]));
    }

    #[test]
    fn times() {
        assert_eq!(unix_seconds(Some("1970-01-01T00:00:10Z")), 10);
        assert_eq!(unix_seconds(Some("2026-01-01T00:00:00Z")), 1_767_225_600);
        assert_eq!(unix_seconds(Some("1970-01-01T01:00:10+01:00")), 10);
        assert_eq!(unix_seconds(Some("garbage")), 0);
    }
}
