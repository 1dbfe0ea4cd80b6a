//! Label and field selectors of list and watch requests.
//!
//! Label selectors support every operator of `k8s.io/apimachinery/pkg/labels`: `=`, `==`,
//! `!=`, `in`, `notin`, existence (`key`) and non-existence (`!key`). Field selectors support
//! `metadata.name` and `metadata.namespace` with `=`, `==` and `!=`, as kube-apiserver does for
//! custom resources.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn check_key(key: &str, selector: &str) -> Result<String, ApiError> {
    let problems = eddy_api::objectmeta::is_qualified_name(key);
    if key.is_empty() || !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "unable to parse requirement: invalid label key {key:?} in selector {selector:?}: {}",
            problems.join("; ")
        )));
    }
    Ok(key.to_owned())
}

fn check_value(value: &str, selector: &str) -> Result<String, ApiError> {
    let problems = eddy_api::objectmeta::is_label_value(value);
    if !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "unable to parse requirement: invalid label value {value:?} in selector {selector:?}: {}",
            problems.join("; ")
        )));
    }
    Ok(value.to_owned())
}

fn parse_set(rest: &str, selector: &str) -> Result<Vec<String>, ApiError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| ApiError::bad_request(format!("unable to parse selector {selector:?}: expected a (set)")))?;
    inner.split(',').map(|v| check_value(v.trim(), selector)).collect()
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    ///
    /// # Errors
    /// 400 for a malformed selector.
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if selector.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for term in split_terms(selector) {
            let term = term.trim();
            if term.is_empty() {
                return Err(ApiError::bad_request(format!("unable to parse selector {selector:?}: empty term")));
            }
            let req = if let Some(key) = term.strip_prefix('!') {
                Requirement::DoesNotExist(check_key(key.trim(), selector)?)
            } else if let Some((k, v)) = term.split_once("!=") {
                Requirement::NotEquals(check_key(k.trim(), selector)?, check_value(v.trim(), selector)?)
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                Requirement::Equals(check_key(k.trim(), selector)?, check_value(v.trim(), selector)?)
            } else if let Some((k, rest)) = term.split_once(" notin ") {
                Requirement::NotIn(check_key(k.trim(), selector)?, parse_set(rest, selector)?)
            } else if let Some((k, rest)) = term.split_once(" in ") {
                Requirement::In(check_key(k.trim(), selector)?, parse_set(rest, selector)?)
            } else {
                Requirement::Exists(check_key(term, selector)?)
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    /// Whether nothing is required (every object matches).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the labels `get` looks up satisfy every requirement.
    #[must_use]
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector over `metadata.name` and `metadata.namespace`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter.
    ///
    /// # Errors
    /// 400 for a malformed selector or an unsupported field.
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        if selector.trim().is_empty() {
            return Ok(Self(terms));
        }
        for term in selector.split(',') {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: {selector:?}; can't understand {term:?}"
                )));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace") {
                return Err(ApiError::bad_request(format!(
                    "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                )));
            }
            terms.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self(terms))
    }

    /// Whether an object satisfies every term.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = match field.as_str() {
                "metadata.name" => obj.pointer("/metadata/name"),
                _ => obj.pointer("/metadata/namespace"),
            }
            .and_then(Value::as_str)
            .unwrap_or_default();
            (actual == value) == *equal
        })
    }

    /// Whether an object with this namespace and name satisfies every term.
    #[must_use]
    pub fn matches_meta(&self, namespace: &str, name: &str) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = if field == "metadata.name" { name } else { namespace };
            (actual == value) == *equal
        })
    }

    /// The name an equality term requires, which lets a list read one key.
    #[must_use]
    pub fn exact_name(&self) -> Option<&str> {
        self.0.iter().find(|(f, eq, _)| f == "metadata.name" && *eq).map(|(_, _, v)| v.as_str())
    }
}

/// A list's or watch's label and field selectors together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selectors {
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Selectors {
    /// Whether a decoded object passes both selectors.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    /// Whether a stored object passes both selectors, reading only its labels (and those only
    /// when a label selector is set).
    ///
    /// # Errors
    /// 500 when the stored bytes are not JSON.
    pub fn matches_stored(&self, obj: &eddy_storage::Object) -> Result<bool, ApiError> {
        if !self.fields.matches_meta(&obj.namespace, &obj.name) {
            return Ok(false);
        }
        if self.labels.is_empty() {
            return Ok(true);
        }
        let labels = crate::storage_codec::labels(&obj.value)?;
        Ok(self.labels.matches_with(|k| labels.get(k).map(AsRef::as_ref)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web", "tier": "front", "team.example.com/owner": "a"}}})
    }

    #[test]
    fn label_selectors() {
        let o = obj();
        let check = |sel: &str, want: bool| {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&o), want, "{sel}");
        };
        check("", true);
        check("app=web", true);
        check("app==web", true);
        check("app!=web", false);
        check("app!=db", true);
        check("missing!=x", true);
        check("app in (web, db)", true);
        check("app in (db)", false);
        check("app notin (db)", true);
        check("missing notin (db)", true);
        check("tier", true);
        check("!tier", false);
        check("!missing", true);
        check("app=web,tier in (front,back),team.example.com/owner", true);
        check("app=web,tier=back", false);
        for bad in ["app=web,", "a b c=d", "app in web", "=x", "app=-x"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn field_selectors() {
        let o = obj();
        let check = |sel: &str, want: bool| {
            let s = FieldSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&o), want, "{sel}");
        };
        check("", true);
        check("metadata.name=web", true);
        check("metadata.name==web", true);
        check("metadata.name!=web", false);
        check("metadata.namespace=apps,metadata.name=web", true);
        check("metadata.namespace=other", false);
        assert_eq!(
            FieldSelector::parse("metadata.name=web").ok().and_then(|s| s.exact_name().map(str::to_owned)),
            Some("web".into())
        );
        assert!(FieldSelector::parse("spec.url=x").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
