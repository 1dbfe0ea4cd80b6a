//! Reading fields of an unstructured object the way kstatus does with apimachinery's
//! `unstructured` helpers: lenient getters that fall back to a default, strict ones that
//! report a field of the wrong type, and the `status.conditions` list.

use serde_json::Value;

use crate::HealthError;

/// Go's `%T` of a JSON value as apimachinery's unstructured decoding produces it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `NestedFieldNoCopy`: the value at `path`, `Ok(None)` when a key is missing, an error when
/// an intermediate value is not a map.
fn nested<'a>(obj: &'a Value, path: &[&str]) -> Result<Option<&'a Value>, String> {
    let mut cur = obj;
    for (i, key) in path.iter().enumerate() {
        match cur {
            Value::Object(map) => match map.get(*key) {
                Some(v) => cur = v,
                None => return Ok(None),
            },
            other => {
                return Err(format!(
                    "{} accessor error: {} is of the type {}, expected map[string]interface{{}}",
                    path[..i].join("."),
                    short(other),
                    go_type(other)
                ));
            }
        }
    }
    Ok(Some(cur))
}

/// A short rendering of a value for an error message (never a whole object).
fn short(v: &Value) -> String {
    match v {
        Value::Array(_) => "[...]".to_owned(),
        Value::Object(_) => "map[...]".to_owned(),
        Value::Null => "<nil>".to_owned(),
        Value::String(s) if s.len() > 64 => format!("{}...", s.chars().take(64).collect::<String>()),
        other => other.to_string(),
    }
}

/// kstatus' `GetIntField`: an integer at `path`, or `default` when missing or not an integer.
pub(crate) fn int_field(obj: &Value, path: &[&str], default: i64) -> i64 {
    match nested(obj, path) {
        Ok(Some(v)) => v.as_i64().unwrap_or(default),
        _ => default,
    }
}

/// kstatus' `GetStringField`: a string at `path`, or `default`.
pub(crate) fn string_field<'a>(obj: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    match nested(obj, path) {
        Ok(Some(Value::String(s))) => s,
        _ => default,
    }
}

/// kstatus' `GetBoolField`: a bool at `path`, or `default`.
pub(crate) fn bool_field(obj: &Value, path: &[&str], default: bool) -> bool {
    match nested(obj, path) {
        Ok(Some(Value::Bool(b))) => *b,
        _ => default,
    }
}

/// `unstructured.NestedInt64`: `Ok(None)` when missing, an error when of another type.
pub(crate) fn nested_i64(obj: &Value, path: &[&str]) -> Result<Option<i64>, String> {
    match nested(obj, path)? {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            format!("{} accessor error: {} is of the type {}, expected int64", path.join("."), short(v), go_type(v))
        }),
    }
}

/// `unstructured.NestedString`: `Ok(None)` when missing, an error when of another type.
pub(crate) fn nested_string<'a>(obj: &'a Value, path: &[&str]) -> Result<Option<&'a str>, String> {
    match nested(obj, path)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!(
            "{} accessor error: {} is of the type {}, expected string",
            path.join("."),
            short(v),
            go_type(v)
        )),
    }
}

/// One entry of `status.conditions` (kstatus' `BasicCondition`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Condition {
    /// `type`.
    pub(crate) type_: String,
    /// `status` (`True`, `False`, `Unknown`).
    pub(crate) status: String,
    /// `reason`.
    pub(crate) reason: String,
    /// `message`.
    pub(crate) message: String,
}

impl Condition {
    /// Whether this is a condition of `type_` with `status`.
    pub(crate) fn is(&self, type_: &str, status: &str) -> bool {
        self.type_ == type_ && self.status == status
    }
}

fn condition_string(entry: &serde_json::Map<String, Value>, key: &str) -> Result<String, HealthError> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(HealthError::Evaluation(format!(
            "status.conditions[].{key}: {} is of the type {}, expected string",
            short(v),
            go_type(v)
        ))),
    }
}

/// kstatus' `GetObjectWithConditions`: the conditions, or an error when `status`,
/// `status.conditions` or one of its entries has the wrong shape (as apimachinery's
/// `FromUnstructured` refuses them).
pub(crate) fn conditions(obj: &Value) -> Result<Vec<Condition>, HealthError> {
    let status = match obj.get("status") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(s)) => s,
        Some(v) => {
            return Err(HealthError::Evaluation(format!(
                "status: {} is of the type {}, expected map[string]interface{{}}",
                short(v),
                go_type(v)
            )));
        }
    };
    let list = match status.get("conditions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(l)) => l,
        Some(v) => {
            return Err(HealthError::Evaluation(format!(
                "status.conditions: {} is of the type {}, expected []interface{{}}",
                short(v),
                go_type(v)
            )));
        }
    };
    list.iter()
        .map(|item| match item {
            Value::Null => Ok(Condition::default()),
            Value::Object(entry) => Ok(Condition {
                type_: condition_string(entry, "type")?,
                status: condition_string(entry, "status")?,
                reason: condition_string(entry, "reason")?,
                message: condition_string(entry, "message")?,
            }),
            v => Err(HealthError::Evaluation(format!(
                "status.conditions[]: {} is of the type {}, expected map[string]interface{{}}",
                short(v),
                go_type(v)
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lenient_getters_fall_back_to_defaults() {
        let obj = json!({"spec": {"replicas": 3, "f": 1.5, "s": "x", "b": true}, "status": "oops"});
        assert_eq!(int_field(&obj, &["spec", "replicas"], 1), 3);
        assert_eq!(int_field(&obj, &["spec", "f"], 1), 1);
        assert_eq!(int_field(&obj, &["spec", "missing"], 7), 7);
        assert_eq!(int_field(&obj, &["status", "replicas"], 0), 0);
        assert_eq!(string_field(&obj, &["spec", "s"], "d"), "x");
        assert_eq!(string_field(&obj, &["spec", "replicas"], "d"), "d");
        assert!(bool_field(&obj, &["spec", "b"], false));
        assert!(!bool_field(&obj, &["spec", "s"], false));
    }

    #[test]
    fn strict_getters_report_wrong_types() {
        let obj = json!({"metadata": {"generation": "2", "name": 3}, "status": null});
        assert!(nested_i64(&obj, &["metadata", "generation"]).is_err());
        assert_eq!(nested_i64(&obj, &["metadata", "missing"]), Ok(None));
        assert!(nested_i64(&obj, &["status", "observedGeneration"]).is_err());
        assert!(nested_string(&obj, &["metadata", "name"]).is_err());
    }

    #[test]
    fn conditions_are_parsed_and_bad_shapes_refused() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "R"}, null]}});
        let c = conditions(&obj).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].is("Ready", "True"));
        assert_eq!(c[0].reason, "R");
        assert!(conditions(&json!({})).unwrap().is_empty());
        assert!(conditions(&json!({"status": "x"})).is_err());
        assert!(conditions(&json!({"status": {"conditions": {}}})).is_err());
        assert!(conditions(&json!({"status": {"conditions": [1]}})).is_err());
        assert!(conditions(&json!({"status": {"conditions": [{"type": 1}]}})).is_err());
    }
}
