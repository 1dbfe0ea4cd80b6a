//! ObjectMeta rules kube-apiserver applies to custom resources: names, namespaces, label and
//! annotation syntax, and the total annotation size.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::validation::FieldError;

/// The largest total size of all annotation keys and values, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn full(re: &'static str, cell: &'static OnceLock<Regex>) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&format!("^{re}$")).unwrap_or_else(|_| unreachable!("constant regex")))
}

fn label_re() -> &'static Regex {
    static C: OnceLock<Regex> = OnceLock::new();
    full(DNS1123_LABEL, &C)
}
fn subdomain_re() -> &'static Regex {
    static C: OnceLock<Regex> = OnceLock::new();
    full(DNS1123_SUBDOMAIN, &C)
}
fn qualified_re() -> &'static Regex {
    static C: OnceLock<Regex> = OnceLock::new();
    full(QUALIFIED_NAME, &C)
}
fn label_value_re() -> &'static Regex {
    static C: OnceLock<Regex> = OnceLock::new();
    full(LABEL_VALUE, &C)
}

fn max_len_msg(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// Problems with a DNS-1123 subdomain (object names), in Kubernetes' words.
#[must_use]
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(max_len_msg(253));
    }
    if !subdomain_re().is_match(s) {
        out.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"
        ));
    }
    out
}

/// Problems with a DNS-1123 label (namespace names), in Kubernetes' words.
#[must_use]
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len_msg(63));
    }
    if !label_re().is_match(s) {
        out.push(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"
        ));
    }
    out
}

/// Problems with a qualified name (label and annotation keys), in Kubernetes' words.
#[must_use]
pub fn is_qualified_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".to_owned());
            } else {
                out.extend(is_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            out.push(format!(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return out;
        }
    };
    if name.is_empty() {
        out.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        out.push(format!("name part {}", max_len_msg(63)));
    }
    if !name.is_empty() && !qualified_re().is_match(name) {
        out.push(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}')"
        ));
    }
    out
}

/// Problems with a label value, in Kubernetes' words.
#[must_use]
pub fn is_label_value(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len_msg(63));
    }
    if !label_value_re().is_match(s) {
        out.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
        ));
    }
    out
}

fn string_map<'a>(meta: &'a Value, field: &str, errors: &mut Vec<FieldError>) -> Vec<(&'a String, &'a str)> {
    let path = format!("metadata.{field}");
    match meta.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| match v.as_str() {
                Some(s) => Some((k, s)),
                None => {
                    errors.push(FieldError::invalid(&format!("{path}.{k}"), v.clone(), "must be a string"));
                    None
                }
            })
            .collect(),
        Some(other) => {
            errors.push(FieldError::invalid(&path, other.clone(), "must be a map of strings"));
            Vec::new()
        }
    }
}

/// Validates the metadata of a namespaced custom resource.
pub fn validate(meta: &Value, errors: &mut Vec<FieldError>) {
    let name = meta.get("name").and_then(Value::as_str).filter(|s| !s.is_empty());
    let generate_name = meta.get("generateName").and_then(Value::as_str).filter(|s| !s.is_empty());
    match (name, generate_name) {
        (Some(n), _) => {
            for m in is_dns1123_subdomain(n) {
                errors.push(FieldError::invalid("metadata.name", Value::from(n), m));
            }
        }
        (None, Some(g)) => {
            // A generated name gets a random suffix, so a trailing dash is fine.
            let masked = g.strip_suffix('-').map_or_else(|| g.to_owned(), |s| format!("{s}a"));
            for m in is_dns1123_subdomain(&masked) {
                errors.push(FieldError::invalid("metadata.generateName", Value::from(g), m));
            }
        }
        (None, None) => errors.push(FieldError::required("metadata.name", "name or generateName is required")),
    }
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
        && !ns.is_empty()
    {
        for m in is_dns1123_label(ns) {
            errors.push(FieldError::invalid("metadata.namespace", Value::from(ns), m));
        }
    }
    for (k, v) in string_map(meta, "labels", errors) {
        for m in is_qualified_name(k) {
            errors.push(FieldError::invalid("metadata.labels", Value::from(k.as_str()), m));
        }
        for m in is_label_value(v) {
            errors.push(FieldError::invalid("metadata.labels", Value::from(v), m));
        }
    }
    let mut total = 0usize;
    for (k, v) in string_map(meta, "annotations", errors) {
        for m in is_qualified_name(&k.to_lowercase()) {
            errors.push(FieldError::invalid("metadata.annotations", Value::from(k.as_str()), m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long("metadata.annotations", Value::from(""), TOTAL_ANNOTATION_SIZE_LIMIT as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(meta: &Value, expected: &[&str]) {
        let mut errs = Vec::new();
        validate(meta, &mut errs);
        let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(got, expected, "{meta}");
    }

    #[test]
    fn names() {
        check(&json!({"name": "web-app.v1"}), &[]);
        check(&json!({"generateName": "web-"}), &[]);
        check(&json!({}), &["metadata.name: Required value: name or generateName is required"]);
        check(
            &json!({"name": "Web"}),
            &[
                r#"metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            ],
        );
        check(
            &json!({"name": "a", "namespace": "a.b"}),
            &[
                r#"metadata.namespace: Invalid value: "a.b": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
            ],
        );
    }

    #[test]
    fn labels_and_annotations() {
        check(&json!({"name": "a", "labels": {"sharding.fluxcd.io/key": "shard1", "app": ""}}), &[]);
        let mut errs = Vec::new();
        validate(&json!({"name": "a", "labels": {"a/b/c": "x", "ok": "-bad"}, "annotations": {"/x": "1"}}), &mut errs);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["metadata.labels", "metadata.labels", "metadata.annotations"]);
        assert!(errs[2].detail.starts_with("prefix part must be non-empty"));
    }

    #[test]
    fn annotation_size_limit() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        check(
            &json!({"name": "a", "annotations": {"k": big}}),
            &["metadata.annotations: Too long: may not be more than 262144 bytes"],
        );
        let fits = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1);
        check(&json!({"name": "a", "annotations": {"k": fits}}), &[]);
    }
}
