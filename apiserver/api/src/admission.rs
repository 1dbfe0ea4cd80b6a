//! The admission pipeline kube-apiserver runs for a custom resource write, in one call:
//! prune unknown fields (handled per `fieldValidation`), apply defaults, validate.

use std::str::FromStr;

use serde_json::Value;

use crate::validation::{FieldError, validate_create, validate_update};

/// The `fieldValidation` query parameter: what to do about unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (kube-apiserver's default).
    #[default]
    Warn,
    /// Reject the request.
    Strict,
}

/// An unknown `fieldValidation` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fieldValidation must be one of Ignore, Warn or Strict, not {0:?}")]
pub struct BadFieldValidation(pub String);

impl FromStr for FieldValidation {
    type Err = BadFieldValidation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Ignore" => Ok(FieldValidation::Ignore),
            "Warn" | "" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(BadFieldValidation(other.to_owned())),
        }
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdmissionError {
    /// The object names a kind or version Eddy does not serve.
    #[error("{api_version} {kind} is not served")]
    NotServed {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// Unknown fields under `fieldValidation=Strict` (HTTP 400 in kube-apiserver).
    #[error("strict decoding error: {}", .0.iter().map(|p| format!("unknown field {p:?}")).collect::<Vec<_>>().join(", "))]
    UnknownFields(Vec<String>),
    /// Validation failed (HTTP 422, reason Invalid).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<FieldError>),
}

fn prepare(obj: &mut Value, mode: FieldValidation) -> Result<Vec<String>, AdmissionError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    let (group, version) = crate::split_api_version(&api_version);
    let Some(info) = crate::find(group, &kind) else {
        return Err(AdmissionError::NotServed { api_version, kind });
    };
    let Some(v) = info.version(version) else {
        return Err(AdmissionError::NotServed { api_version, kind });
    };
    let pruned = crate::pruning::prune(&v.schema, obj);
    let mut warnings = Vec::new();
    if let Some(w) = v.deprecation_warning {
        warnings.push(w.to_owned());
    }
    match mode {
        FieldValidation::Strict if !pruned.is_empty() => return Err(AdmissionError::UnknownFields(pruned)),
        FieldValidation::Warn => warnings.extend(pruned.iter().map(|p| format!("unknown field {p:?}"))),
        _ => {}
    }
    crate::defaulting::default(&v.schema, obj);
    Ok(warnings)
}

/// Admits a new object in place: prunes, defaults and validates it. Returns the warnings to
/// send back (deprecated version, dropped fields under `Warn`).
///
/// # Errors
/// [`AdmissionError`] when the kind is not served, unknown fields are refused, or validation fails.
pub fn admit_create(obj: &mut Value, mode: FieldValidation) -> Result<Vec<String>, AdmissionError> {
    let warnings = prepare(obj, mode)?;
    let errors = validate_create(obj);
    if errors.is_empty() { Ok(warnings) } else { Err(AdmissionError::Invalid(errors)) }
}

/// Admits a replacement of `old` in place, like [`admit_create`] but with update validation
/// (immutable name and namespace, ratcheting of unchanged values).
///
/// # Errors
/// As [`admit_create`].
pub fn admit_update(new: &mut Value, old: &Value, mode: FieldValidation) -> Result<Vec<String>, AdmissionError> {
    let warnings = prepare(new, mode)?;
    let errors = validate_update(new, old);
    if errors.is_empty() { Ok(warnings) } else { Err(AdmissionError::Invalid(errors)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn git(version: &str) -> Value {
        json!({
            "apiVersion": format!("source.toolkit.fluxcd.io/{version}"), "kind": "GitRepository",
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"url": "https://x", "interval": "1m", "bogus": true}
        })
    }

    #[test]
    fn field_validation_modes() {
        let mut o = git("v1");
        assert_eq!(admit_create(&mut o, FieldValidation::Warn), Ok(vec![r#"unknown field "spec.bogus""#.to_owned()]));
        assert_eq!(o["spec"]["timeout"], "60s");
        assert!(o["spec"].get("bogus").is_none());

        let mut o = git("v1");
        assert_eq!(admit_create(&mut o, FieldValidation::Ignore), Ok(vec![]));

        let mut o = git("v1");
        let err = admit_create(&mut o, FieldValidation::Strict).unwrap_err();
        assert_eq!(err.to_string(), r#"strict decoding error: unknown field "spec.bogus""#);
    }

    #[test]
    fn deprecated_versions_warn_and_invalid_objects_fail() {
        let mut o = git("v1beta2");
        let warnings = admit_create(&mut o, FieldValidation::Ignore).unwrap_or_default();
        assert_eq!(warnings, ["v1beta2 GitRepository is deprecated, upgrade to v1"]);

        let mut bad = git("v1");
        bad["spec"]["interval"] = json!("soon");
        assert!(
            matches!(admit_create(&mut bad, FieldValidation::Ignore), Err(AdmissionError::Invalid(e)) if e.len() == 1)
        );

        let mut unknown = json!({"apiVersion": "source.toolkit.fluxcd.io/v3", "kind": "GitRepository"});
        assert!(matches!(admit_create(&mut unknown, FieldValidation::Warn), Err(AdmissionError::NotServed { .. })));
        assert_eq!("Strict".parse(), Ok(FieldValidation::Strict));
        assert!("strict".parse::<FieldValidation>().is_err());
    }

    #[test]
    fn updates_use_update_validation() {
        let mut old = git("v1");
        admit_create(&mut old, FieldValidation::Ignore).unwrap_or_default();
        let mut new = old.clone();
        new["metadata"]["name"] = json!("other");
        let err = admit_update(&mut new, &old, FieldValidation::Warn).unwrap_err();
        assert_eq!(err.to_string(), r#"metadata.name: Invalid value: "other": field is immutable"#);
    }
}
