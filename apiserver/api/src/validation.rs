//! Validation of unstructured objects against their schema, CEL rules and ObjectMeta rules,
//! with errors worded as kube-apiserver words them for custom resources.

use std::fmt;

use regex::Regex;
use serde_json::Value;

use crate::schema::{Schema, Type};

/// The kind of a field error, as in `k8s.io/apimachinery/pkg/util/validation/field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A required field is missing.
    Required,
    /// The value is malformed or breaks a rule.
    Invalid,
    /// The value has the wrong JSON type (printed like `Invalid`).
    TypeInvalid,
    /// The value is not one of the allowed ones.
    NotSupported,
    /// A string is longer than allowed.
    TooLong,
    /// A list has more items than allowed.
    TooMany,
    /// A list-map key appears twice.
    Duplicate,
    /// The field may not be set.
    Forbidden,
}

impl ErrorType {
    /// The text Kubernetes prints for the type.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Forbidden => "Forbidden",
        }
    }

    /// The `reason` used in a Status' `details.causes` (`FieldValueRequired`, ...).
    #[must_use]
    pub fn cause_reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
        }
    }
}

/// One validation failure.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What went wrong.
    pub error_type: ErrorType,
    /// JSON path of the field, e.g. `spec.include[0].repository`.
    pub field: String,
    /// The offending value, when the message shows one.
    pub bad_value: Option<Value>,
    /// Explanation appended to the message.
    pub detail: String,
}

impl FieldError {
    fn new(error_type: ErrorType, field: &str, bad_value: Option<Value>, detail: String) -> Self {
        FieldError { error_type, field: field.to_owned(), bad_value, detail }
    }
    /// A missing required field.
    #[must_use]
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Required, field, None, detail.to_owned())
    }
    /// An invalid value.
    #[must_use]
    pub fn invalid(field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value), detail.into())
    }
    /// A value of the wrong JSON type.
    #[must_use]
    pub fn type_invalid(field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::TypeInvalid, field, Some(value), detail.into())
    }
    /// The error kube-apiserver adds when schema errors kept CEL rules from running (its value is
    /// nil, printed `null`; checked against kube-apiserver v1.36.3).
    #[must_use]
    pub fn rules_not_checked() -> Self {
        Self::new(ErrorType::Invalid, "<nil>", Some(Value::Null), RULES_NOT_CHECKED.to_owned())
    }
    /// Whether this error keeps kube-apiserver from evaluating CEL rules.
    #[must_use]
    pub fn blocks_rules(&self) -> bool {
        matches!(
            self.error_type,
            ErrorType::Required
                | ErrorType::NotSupported
                | ErrorType::TooLong
                | ErrorType::TooMany
                | ErrorType::TypeInvalid
        )
    }
    /// A value outside an enum.
    #[must_use]
    pub fn not_supported(field: &str, value: Value, supported: &[Value]) -> Self {
        let list: Vec<String> = supported.iter().map(show_value).collect();
        Self::new(ErrorType::NotSupported, field, Some(value), format!("supported values: {}", list.join(", ")))
    }
    /// A string over its length limit.
    #[must_use]
    pub fn too_long(field: &str, value: Value, max: u64) -> Self {
        let detail = if max == 1 {
            "may not be more than 1 byte".to_owned()
        } else {
            format!("may not be more than {max} bytes")
        };
        Self::new(ErrorType::TooLong, field, Some(value), detail)
    }
    /// A list over its item limit.
    #[must_use]
    pub fn too_many(field: &str, actual: usize, max: u64) -> Self {
        Self::new(ErrorType::TooMany, field, Some(Value::from(actual)), format!("must have at most {max} items"))
    }
}

/// Formats a value the way Kubernetes field errors do: strings quoted, numbers and booleans
/// bare, other values as JSON.
fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.error_type.as_str())?;
        match self.error_type {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => {}
            _ => {
                if let Some(v) = &self.bad_value {
                    write!(f, ": {}", show_value(v))?;
                }
            }
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(t: Type, v: &Value) -> bool {
    match (t, v) {
        (Type::Object, Value::Object(_))
        | (Type::Array, Value::Array(_))
        | (Type::String, Value::String(_))
        | (Type::Boolean, Value::Bool(_))
        | (Type::Number, Value::Number(_)) => true,
        (Type::Integer, Value::Number(n)) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn date_time_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            .unwrap_or_else(|_| unreachable!("constant regex"))
    })
}

fn format_ok(format: &str, v: &Value) -> bool {
    match (format, v) {
        ("date-time", Value::String(s)) => date_time_re().is_match(s),
        ("int32", Value::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        _ => true,
    }
}

/// The message kube-apiserver adds when schema errors keep it from evaluating CEL rules.
pub const RULES_NOT_CHECKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// Validates `value` against `schema` (types, required, enums, patterns, formats, bounds,
/// list-map keys) and then, unless a blocking schema error was found, the CEL rules, appending
/// errors under `path`.
///
/// As in kube-apiserver, errors of type Required, NotSupported, TooLong, TooMany and
/// TypeInvalid block the CEL rules (their cost and typing assumptions no longer hold); a
/// `<nil>` error then says that some rules were not checked.
pub fn validate_value(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let start = errors.len();
    validate_schema(schema, value, path, errors);
    if errors[start..].iter().any(FieldError::blocks_rules) {
        if has_rules(schema) {
            errors.push(FieldError::rules_not_checked());
        }
    } else {
        validate_rules_tree(schema, value, path, errors);
    }
}

/// Whether `schema` or any node below it carries CEL rules.
#[must_use]
pub fn has_rules(schema: &Schema) -> bool {
    !schema.validations.is_empty()
        || schema.properties.values().any(has_rules)
        || schema.items.as_deref().is_some_and(has_rules)
        || schema.additional_properties.as_deref().is_some_and(has_rules)
}

/// Evaluates the CEL rules of `schema` and of every schema node below it.
pub fn validate_rules_tree(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    validate_rules_tree_with_old(schema, value, None, path, errors);
}

/// Like [`validate_rules_tree`], with the previous value of the node for transition rules
/// (`oldSelf`). Old values are correlated by field name in objects and by key in list-maps;
/// elsewhere transition rules are skipped, as in kube-apiserver.
pub fn validate_rules_tree_with_old(
    schema: &Schema,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    validate_rules(schema, value, old, path, errors);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = join(path, k);
                let old_child = old.and_then(|o| o.get(k));
                if let Some(s) = schema.properties.get(k) {
                    validate_rules_tree_with_old(s, v, old_child, &child, errors);
                } else if let Some(ap) = &schema.additional_properties {
                    validate_rules_tree_with_old(ap, v, old_child, &child, errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                let old_items = old.and_then(Value::as_array);
                for (i, v) in items.iter().enumerate() {
                    let old_item = match (schema.list_type.as_deref(), old_items) {
                        (Some("map"), Some(olds)) if !schema.list_map_keys.is_empty() => {
                            olds.iter().find(|o| schema.list_map_keys.iter().all(|k| o.get(k) == v.get(k)))
                        }
                        _ => None,
                    };
                    validate_rules_tree_with_old(item_schema, v, old_item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// Validates `value` against the structural part of `schema`, without CEL rules.
pub fn validate_schema(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if value.is_null() {
        if !schema.nullable && schema.type_.is_some() {
            let t = schema.type_.map_or("", Type::as_str);
            errors.push(FieldError::type_invalid(
                path,
                Value::from("null"),
                format!("{path} in body must be of type {t}: \"null\""),
            ));
        }
        return;
    }
    if let Some(t) = schema.type_
        && !type_matches(t, value)
    {
        let actual = json_type_name(value);
        errors.push(FieldError::type_invalid(
            path,
            Value::from(actual),
            format!("{path} in body must be of type {}: \"{actual}\"", t.as_str()),
        ));
        return;
    }
    if schema.type_.is_none() && schema.int_or_string && !type_matches(Type::Integer, value) && !value.is_string() {
        let actual = json_type_name(value);
        errors.push(FieldError::type_invalid(
            path,
            Value::from(actual),
            format!("{path} in body must be of type integer or string: \"{actual}\""),
        ));
        return;
    }
    if !schema.enum_values.is_empty() && !schema.enum_values.contains(value) {
        errors.push(FieldError::not_supported(path, value.clone(), &schema.enum_values));
    }
    if let Some(f) = &schema.format
        && !format_ok(f, value)
    {
        errors.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body must be of type {f}: {}", show_value(value)),
        ));
    }
    match value {
        Value::String(s) => validate_string(schema, s, value, path, errors),
        Value::Number(n) => {
            if let (Some(min), Some(x)) = (schema.minimum, n.as_f64()) {
                #[allow(clippy::cast_precision_loss)]
                if x < min as f64 {
                    errors.push(FieldError::invalid(
                        path,
                        value.clone(),
                        format!("{path} in body should be greater than or equal to {min}"),
                    ));
                }
            }
            if let (Some(max), Some(x)) = (schema.maximum, n.as_f64()) {
                #[allow(clippy::cast_precision_loss)]
                if x > max as f64 {
                    errors.push(FieldError::invalid(
                        path,
                        value.clone(),
                        format!("{path} in body should be less than or equal to {max}"),
                    ));
                }
            }
        }
        Value::Array(items) => validate_array(schema, items, path, errors),
        Value::Object(map) => {
            for name in &schema.required {
                if !map.contains_key(name) {
                    errors.push(FieldError::required(&join(path, name), ""));
                }
            }
            for (k, v) in map {
                let child = join(path, k);
                if let Some(s) = schema.properties.get(k) {
                    validate_schema(s, v, &child, errors);
                } else if let Some(ap) = &schema.additional_properties {
                    validate_schema(ap, v, &child, errors);
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn validate_string(schema: &Schema, s: &str, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let chars = s.chars().count() as u64;
    if let Some(max) = schema.max_length
        && chars > max
    {
        errors.push(FieldError::too_long(path, value.clone(), max));
    }
    if let Some(min) = schema.min_length
        && chars < min
    {
        errors.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some(p) = &schema.pattern
        && !p.is_match(s)
    {
        errors.push(FieldError::invalid(path, value.clone(), format!("{path} in body should match '{}'", p.as_str())));
    }
}

fn validate_array(schema: &Schema, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    if let Some(max) = schema.max_items
        && items.len() as u64 > max
    {
        errors.push(FieldError::too_many(path, items.len(), max));
    }
    if let Some(min) = schema.min_items
        && (items.len() as u64) < min
    {
        errors.push(FieldError::invalid(
            path,
            Value::from(items.len()),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(item_schema) = &schema.items {
        for (i, v) in items.iter().enumerate() {
            validate_schema(item_schema, v, &format!("{path}[{i}]"), errors);
        }
    }
    match schema.list_type.as_deref() {
        Some("map") if !schema.list_map_keys.is_empty() => {
            let mut seen: Vec<Vec<&Value>> = Vec::new();
            for (i, v) in items.iter().enumerate() {
                let key: Vec<&Value> = schema.list_map_keys.iter().map(|k| v.get(k).unwrap_or(&Value::Null)).collect();
                if seen.contains(&key) {
                    let shown: serde_json::Map<String, Value> =
                        schema.list_map_keys.iter().zip(&key).map(|(k, v)| (k.clone(), (*v).clone())).collect();
                    errors.push(FieldError::new(
                        ErrorType::Duplicate,
                        &format!("{path}[{i}]"),
                        Some(Value::Object(shown)),
                        String::new(),
                    ));
                } else {
                    seen.push(key);
                }
            }
        }
        Some("set") => {
            for (i, v) in items.iter().enumerate() {
                if items[..i].contains(v) {
                    errors.push(FieldError::new(
                        ErrorType::Duplicate,
                        &format!("{path}[{i}]"),
                        Some(v.clone()),
                        String::new(),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn validate_rules(schema: &Schema, value: &Value, old: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    for rule in &schema.validations {
        let transition = crate::cel::is_transition_rule(&rule.rule);
        if transition && old.is_none() {
            continue;
        }
        let shown = Value::from(json_type_name(value));
        match crate::cel::evaluate_transition(&rule.rule, value, if transition { old } else { None }) {
            Ok(true) => {}
            Ok(false) => errors.push(FieldError::invalid(path, shown, rule.message.clone())),
            Err(e) => errors.push(FieldError::invalid(path, shown, format!("{e} evaluating rule: {}", rule.rule))),
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// Why an object could not be matched to a served kind.
fn type_errors(obj: &Value) -> Result<&'static Schema, Vec<FieldError>> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str);
    let kind = obj.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        let mut errs = Vec::new();
        if api_version.is_none() {
            errs.push(FieldError::required("apiVersion", ""));
        }
        if kind.is_none() {
            errs.push(FieldError::required("kind", ""));
        }
        return Err(errs);
    };
    let (group, version) = crate::split_api_version(api_version);
    let Some(info) = crate::find(group, kind) else {
        return Err(vec![FieldError::invalid(
            "kind",
            Value::from(kind),
            format!("no kind {kind:?} is served in group {group:?}"),
        )]);
    };
    info.version(version).map(|v| &v.schema).ok_or_else(|| {
        let served: Vec<Value> = info.versions.iter().map(|v| Value::from(info.api_version(v.name))).collect();
        vec![FieldError::not_supported("apiVersion", Value::from(api_version), &served)]
    })
}

/// Validates a new object: ObjectMeta rules, the schema of its kind and version, and CEL rules.
/// The object is expected to be pruned and defaulted already.
#[must_use]
pub fn validate_create(obj: &Value) -> Vec<FieldError> {
    validate_object(obj, None)
}

/// Validates an update: everything [`validate_create`] checks, plus immutability of name and
/// namespace. Errors about values left unchanged since `old` are not reported (except missing
/// required fields), following kube-apiserver's validation ratcheting, so that objects stored
/// before a schema tightened can still be updated elsewhere.
#[must_use]
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_object(new, Some(old));
    for field in ["name", "namespace"] {
        let n = new.pointer(&format!("/metadata/{field}"));
        let o = old.pointer(&format!("/metadata/{field}"));
        if o.is_some() && n != o {
            errors.push(FieldError::invalid(
                &format!("metadata.{field}"),
                n.cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    }
    errors
}

fn validate_object(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let schema = match type_errors(obj) {
        Ok(s) => s,
        Err(errs) => return errs,
    };
    let ratcheted = |e: &FieldError| match old {
        Some(old) => {
            e.error_type != ErrorType::Required && !e.field.starts_with("metadata") && unchanged(obj, old, &e.field)
        }
        None => false,
    };
    let mut errors = Vec::new();
    match obj.get("metadata") {
        Some(meta @ Value::Object(_)) => crate::objectmeta::validate(meta, &mut errors),
        _ => errors.push(FieldError::required("metadata.name", "name or generateName is required")),
    }
    let mut checked = Vec::new();
    if let Value::Object(map) = obj {
        for (k, v) in map {
            if k == "metadata" {
                continue;
            }
            if let Some(s) = schema.properties.get(k) {
                validate_schema(s, v, k, &mut errors);
                checked.push((s, v, k));
            }
        }
    }
    errors.retain(|e| !ratcheted(e));
    if errors.iter().any(FieldError::blocks_rules) {
        // kube-apiserver only says so when the kind has rules at all.
        if has_rules(schema) {
            errors.push(FieldError::rules_not_checked());
        }
    } else {
        let mut rule_errors = Vec::new();
        for (s, v, k) in checked {
            validate_rules_tree_with_old(s, v, old.and_then(|o| o.get(k)), k, &mut rule_errors);
        }
        rule_errors.retain(|e| !ratcheted(e));
        errors.extend(rule_errors);
    }
    errors
}

/// Whether the node at a field path (`a.b[0].c`) is present and equal in both objects.
fn unchanged(new: &Value, old: &Value, path: &str) -> bool {
    let (Some(a), Some(b)) = (lookup(new, path), lookup(old, path)) else {
        return false;
    };
    a == b
}

/// Finds the value at a field path such as `spec.include[0].repository`.
#[must_use]
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx: usize = r[..end].parse().ok()?;
            cur = cur.get(idx)?;
            rest = &r[end + 1..];
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_use_kube_apiserver_wording() {
        let cases: Vec<(FieldError, &str)> = vec![
            (FieldError::required("spec.url", ""), "spec.url: Required value"),
            (
                FieldError::not_supported("spec.type", json!("x"), &[json!("default"), json!("oci")]),
                r#"spec.type: Unsupported value: "x": supported values: "default", "oci""#,
            ),
            (
                FieldError::too_long("spec.releaseName", json!("a"), 53),
                "spec.releaseName: Too long: may not be more than 53 bytes",
            ),
            (
                FieldError::too_many("spec.exclusionList", 26, 25),
                "spec.exclusionList: Too many: 26: must have at most 25 items",
            ),
            (
                FieldError::invalid("spec", json!("object"), "either chart or chartRef must be set"),
                r#"spec: Invalid value: "object": either chart or chartRef must be set"#,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn schema_checks() {
        let s = Schema::object()
            .req_prop("interval", Schema::string().duration())
            .prop("n", Schema::integer().min(0))
            .prop("b", Schema::boolean())
            .prop("t", Schema::string().date_time())
            .rule("self.interval != ''", "interval must not be empty");
        let mut errs = Vec::new();
        validate_value(&s, &json!({"interval": "5x", "n": -1, "b": "yes", "t": "yesterday"}), "spec", &mut errs);
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                r#"spec.interval: Invalid value: "5x": spec.interval in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'"#,
                "spec.n: Invalid value: -1: spec.n in body should be greater than or equal to 0",
                r#"spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string""#,
                r#"spec.t: Invalid value: "yesterday": spec.t in body must be of type date-time: "yesterday""#,
                r#"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
            ]
        );
    }

    #[test]
    fn rules_run_only_without_blocking_errors() {
        let with_rule = Schema::object()
            .prop("a", Schema::string().one_of(&["x"]))
            .prop("b", Schema::string().pattern("^b$"))
            .rule("has(self.a)", "a is needed");
        let run = |v: Value| {
            let mut errs = Vec::new();
            validate_value(&with_rule, &v, "spec", &mut errs);
            errs.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        // A pattern error does not block the rules.
        assert_eq!(
            run(json!({"b": "c"})),
            [
                "spec.b: Invalid value: \"c\": spec.b in body should match '^b$'",
                "spec: Invalid value: \"object\": a is needed",
            ]
        );
        // An unsupported value does.
        assert_eq!(
            run(json!({"a": "y"})).last().map(String::as_str),
            Some(&*format!("<nil>: Invalid value: null: {RULES_NOT_CHECKED}"))
        );
        // Without rules there is nothing to report as unchecked.
        let mut errs = Vec::new();
        validate_value(
            &Schema::object().prop("a", Schema::string().one_of(&["x"])),
            &json!({"a": "y"}),
            "spec",
            &mut errs,
        );
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn int_or_string_and_nullable() {
        let s = Schema::object()
            .prop("port", Schema { int_or_string: true, ..Schema::default() })
            .prop("n", Schema::string().nullable());
        for (v, n) in [
            (json!({"port": 80}), 0),
            (json!({"port": "http"}), 0),
            (json!({"port": true}), 1),
            (json!({"n": null}), 0),
        ] {
            let mut errs = Vec::new();
            validate_value(&s, &v, "spec", &mut errs);
            assert_eq!(errs.len(), n, "{v}: {errs:?}");
        }
        let mut errs = Vec::new();
        validate_value(&Schema::object().prop("s", Schema::string()), &json!({"s": null}), "spec", &mut errs);
        assert_eq!(
            errs[0].to_string(),
            r#"spec.s: Invalid value: "null": spec.s in body must be of type string: "null""#
        );
    }

    #[test]
    fn transition_rules_run_on_update_only() {
        let s = Schema::object()
            .prop("immutable", Schema::string().rule("self == oldSelf", "immutable is immutable"))
            .prop(
                "list",
                Schema::array(
                    Schema::object()
                        .prop("k", Schema::string())
                        .prop("v", Schema::string().rule("self == oldSelf", "v is immutable")),
                )
                .list_map(&["k"]),
            );
        let run = |new: &Value, old: Option<&Value>| {
            let mut errs = Vec::new();
            validate_rules_tree_with_old(&s, new, old, "spec", &mut errs);
            errs.iter().map(|e| e.field.clone()).collect::<Vec<_>>()
        };
        let old = json!({"immutable": "a", "list": [{"k": "x", "v": "1"}]});
        assert!(run(&json!({"immutable": "b"}), None).is_empty(), "skipped on create");
        assert!(run(&old, Some(&old)).is_empty());
        let changed = json!({"immutable": "b", "list": [{"k": "y", "v": "9"}, {"k": "x", "v": "2"}]});
        assert_eq!(run(&changed, Some(&old)), ["spec.immutable", "spec.list[1].v"]);
    }

    #[test]
    fn list_map_keys_must_be_unique() {
        let s = Schema::array(Schema::object().prop("k", Schema::string())).list_map(&["k"]);
        let mut errs = Vec::new();
        validate_value(&s, &json!([{"k": "a"}, {"k": "a"}]), "l", &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].error_type, ErrorType::Duplicate);
        assert_eq!(errs[0].field, "l[1]");
    }

    #[test]
    fn lookup_follows_indexes() {
        let v = json!({"a": {"b": [{"c": 1}]}});
        assert_eq!(lookup(&v, "a.b[0].c"), Some(&json!(1)));
        assert_eq!(lookup(&v, "a.b[1].c"), None);
    }
}
