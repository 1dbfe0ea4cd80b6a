//! Comparing two normalised observations field by field.

use std::collections::BTreeMap;

use serde_json::Value;

/// One field whose normalised value differs between Flux and Eddy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field's path, e.g. `kustomizations.app.conditions[Ready].message`.
    pub path: String,
    /// Flux's value (JSON; `<absent>` when the field is missing).
    pub flux: String,
    /// Eddy's value (JSON; `<absent>` when the field is missing).
    pub eddy: String,
}

/// Flattens a value into leaf paths. Array elements that are objects with a `type` (conditions),
/// an `id` (inventory entries), a `path` (artifact entries) or a `reason` (events) are keyed by it, so one extra element does
/// not shift every later index; other arrays are compared as whole values. `null`, `{}` and
/// `[]` count as absent.
#[must_use]
pub fn flatten(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

fn element_key(e: &Value) -> Option<String> {
    let o = e.as_object()?;
    if let Some(Value::String(t)) = o.get("type")
        && let Some(Value::String(r)) = o.get("reason")
        && let Some(Value::String(m)) = o.get("message")
        && !o.contains_key("status")
    {
        // An event: the triple is the identity.
        return Some(format!("{t}/{r}: {m}"));
    }
    for k in ["type", "id", "path"] {
        if let Some(Value::String(s)) = o.get(k) {
            return Some(s.clone());
        }
    }
    None
}

fn walk(v: &Value, prefix: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                walk(x, join(&prefix, k), out);
            }
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(|e| element_key(e).is_some()) => {
            for e in a {
                let key = element_key(e).unwrap_or_default();
                walk(e, format!("{prefix}[{key}]"), out);
            }
        }
        // Null, `{}` and `[]` say the same as an absent field.
        Value::Null => {}
        Value::Object(m) if m.is_empty() => {}
        Value::Array(a) if a.is_empty() => {}
        other => {
            out.insert(prefix, other.to_string());
        }
    }
}

/// The fields whose values differ (a field present on one side only included).
#[must_use]
pub fn compare(flux: &Value, eddy: &Value) -> Vec<Difference> {
    let f = flatten(flux);
    let e = flatten(eddy);
    let mut keys: Vec<&String> = f.keys().chain(e.keys()).collect();
    keys.sort();
    keys.dedup();
    let absent = || "<absent>".to_owned();
    keys.into_iter()
        .filter(|k| f.get(*k) != e.get(*k))
        .map(|k| Difference {
            path: k.clone(),
            flux: f.get(k).cloned().unwrap_or_else(absent),
            eddy: e.get(k).cloned().unwrap_or_else(absent),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_values_have_no_difference() {
        let v = json!({"a": {"b": [1, 2]}, "c": "x"});
        assert!(compare(&v, &v).is_empty());
    }

    #[test]
    fn conditions_are_keyed_by_type() {
        let flux = json!({"conditions": [{"type": "Healthy", "status": "True"}, {"type": "Ready", "status": "True"}]});
        let eddy = json!({"conditions": [{"type": "Ready", "status": "False"}]});
        let d = compare(&flux, &eddy);
        assert_eq!(
            d,
            vec![
                Difference {
                    path: "conditions[Healthy].status".into(),
                    flux: "\"True\"".into(),
                    eddy: "<absent>".into()
                },
                Difference {
                    path: "conditions[Healthy].type".into(),
                    flux: "\"Healthy\"".into(),
                    eddy: "<absent>".into()
                },
                Difference {
                    path: "conditions[Ready].status".into(),
                    flux: "\"True\"".into(),
                    eddy: "\"False\"".into()
                },
            ]
        );
    }

    #[test]
    fn events_are_keyed_by_their_triple() {
        let ev = |r: &str| json!({"type": "Normal", "reason": r, "message": "m"});
        let d = compare(&json!({"events": [ev("A"), ev("B")]}), &json!({"events": [ev("B")]}));
        assert!(d.iter().all(|x| x.path.starts_with("events[Normal/A: m]")), "{d:?}");
        assert!(!d.is_empty());
    }

    #[test]
    fn null_equals_absent() {
        assert!(compare(&json!({"a": null}), &json!({})).is_empty());
    }

    #[test]
    fn plain_arrays_compare_whole() {
        let d = compare(&json!({"a": [1, 2]}), &json!({"a": [2, 1]}));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "a");
    }
}
