//! Label and field selectors of list and watch requests.
//!
//! Label selectors are parsed by [`eddy_api::labels`] (every operator of
//! `k8s.io/apimachinery/pkg/labels`). Field selectors support
//! `metadata.name` and `metadata.namespace` with `=`, `==` and `!=`, as kube-apiserver does for
//! custom resources.

use serde_json::Value;

use crate::status::ApiError;

/// A parsed label selector (the one parser of the workspace, in the types crate); the empty
/// selector matches everything.
pub use eddy_api::labels::Selector as LabelSelector;

/// Parses the `labelSelector` query parameter.
///
/// # Errors
/// 400 for a malformed selector, in apimachinery's words.
pub fn parse_label_selector(selector: &str) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(selector).map_err(|e| ApiError::bad_request(e.to_string()))
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
