//! Flux's post-build variable substitution (fluxcd/pkg/kustomize `SubstituteVariables`).
//!
//! Each resource is rendered as YAML, expanded with [`crate::envsubst`] and parsed back with
//! YAML 1.1 rules (Flux converts the result with `sigs.k8s.io/yaml`, which reads YAML 1.1: a
//! value substituted as `yes` becomes a boolean). Errors carry Flux's whole message, such as
//! `post build failed for 'ConfigMap.v1.[noGrp]/app': envsubst error: variable substitution
//! failed: variable not set (strict mode): "VAR"`; they never contain variable values.

use std::collections::BTreeMap;

use crate::envsubst::{self, EvalError};
use crate::yaml::{self, Value};
use crate::{Error, Resource};

/// The label or annotation that opts an object out.
pub const DISABLE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The value of [`DISABLE_KEY`] that opts out.
pub const DISABLED_VALUE: &str = "disabled";

/// What variable names must look like (Flux's regular expression, reported in errors).
pub const VAR_NAME_PATTERN: &str = "^[_[:alpha:]][_[:alpha:][:digit:]]*$";

/// Options of [`substitute_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubstituteOptions {
    /// An unset variable without a default operator is an error (kustomize-controller's
    /// `StrictPostBuildSubstitutions` feature gate).
    pub strict: bool,
    /// Substitute even when there are no variables, so defaults such as `${X:=v}` apply
    /// (`spec.postBuild.substituteStrategy: Always`); otherwise an empty variable set leaves
    /// every resource untouched, as Flux does.
    pub always: bool,
}

/// Substitutes `${VAR}`, `${VAR:=default}` and `${VAR:-default}` in each resource (rendered
/// as YAML, substituted, parsed again); `$${VAR}` becomes a literal `${VAR}`, a bare `$VAR` is
/// left alone; resources labelled or annotated `kustomize.toolkit.fluxcd.io/substitute:
/// disabled` are skipped. With `strict`, an unset variable without default is an error.
/// Newlines in values are removed, as Flux does when it loads them. With no variables at all
/// nothing is substituted (see [`SubstituteOptions::always`]).
///
/// # Errors
/// An unset variable in strict mode, or a result that no longer parses, naming the object.
pub fn substitute(resources: &mut [Resource], vars: &BTreeMap<String, String>, strict: bool) -> Result<(), Error> {
    substitute_with(resources, vars, SubstituteOptions { strict, always: false })
}

/// [`substitute`] with all of Flux's options.
///
/// # Errors
/// As [`substitute`]; also a variable name that does not match [`VAR_NAME_PATTERN`].
pub fn substitute_with(
    resources: &mut [Resource],
    vars: &BTreeMap<String, String>,
    options: SubstituteOptions,
) -> Result<(), Error> {
    if vars.is_empty() && !options.always {
        return Ok(());
    }
    let vars: BTreeMap<&str, String> = vars.iter().map(|(k, v)| (k.as_str(), v.replace('\n', ""))).collect();
    for r in resources.iter_mut() {
        if is_disabled(r) {
            continue;
        }
        let object = object_name(r);
        let fail = |message: String| Error::Substitute { object: object.clone(), message };
        if let Some(bad) = vars.keys().find(|k| !valid_name(k)) {
            return Err(fail(format!("envsubst error: '{bad}' var name is invalid, must match '{VAR_NAME_PATTERN}'")));
        }
        let text = yaml::emit_document(&Value::Map(r.obj.clone()))
            .map_err(|e| fail(format!("envsubst error: rendering: {}", e.message)))?;
        let lookup = |name: &str| match vars.get(name) {
            Some(v) => Some(v.clone()),
            None if options.strict => None,
            None => Some(String::new()),
        };
        let output = envsubst::eval(&text, &lookup).map_err(|e| {
            fail(match e {
                EvalError::Parse(p) => format!("envsubst error: variable substitution failed: {p}"),
                EvalError::NotSet(_) => format!("envsubst error: variable substitution failed: {e}"),
            })
        })?;
        let docs = yaml::parse_documents_v2(&output).map_err(|e| {
            fail(format!("envsubst error: YAMLToJSON: yaml: line {}: {}", e.line, without_quoted(&e.message)))
        })?;
        if let Some(v) = docs.first().and_then(unsupported_number) {
            return Err(fail(format!("envsubst error: YAMLToJSON: json: unsupported value: {v}")));
        }
        match docs.into_iter().next() {
            Some(Value::Map(m)) => r.obj = m,
            Some(other) => {
                return Err(fail(format!(
                    "UnmarshalJSON: the substituted object is a {}, not a mapping",
                    other.type_name()
                )));
            }
            None => return Err(fail("UnmarshalJSON: the substituted object is empty".to_string())),
        }
    }
    Ok(())
}

/// A parse error's message without the text it quotes (a substituted value may be a secret).
fn without_quoted(message: &str) -> String {
    message.split('"').step_by(2).collect::<Vec<_>>().join("…")
}

/// The first infinity or NaN in a document, as Go names it (JSON cannot hold them, so Flux's
/// conversion fails).
fn unsupported_number(v: &Value) -> Option<&'static str> {
    match v {
        Value::Scalar(s) if s.kind == yaml::Kind::Float => match s.text.to_ascii_lowercase().as_str() {
            ".inf" | "+.inf" => Some("+Inf"),
            "-.inf" => Some("-Inf"),
            ".nan" => Some("NaN"),
            _ => None,
        },
        Value::Scalar(_) => None,
        Value::Seq(items) => items.iter().find_map(unsupported_number),
        Value::Map(m) => m.iter().find_map(|(_, v)| unsupported_number(v)),
    }
}

/// Whether a resource opts out through its labels or annotations.
fn is_disabled(r: &Resource) -> bool {
    let off = |pairs: Vec<(String, String)>| pairs.iter().any(|(k, v)| k == DISABLE_KEY && v == DISABLED_VALUE);
    off(r.labels()) || off(r.annotations())
}

/// `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (ASCII classes, as Go's regexp has them).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// kustomize's `Gvk.String()` and the name, as Flux prints them: `Deployment.v1.apps/app`.
fn object_name(r: &Resource) -> String {
    let or = |s: &str, none: &str| if s.is_empty() { none.to_string() } else { s.to_string() };
    format!("{}.{}.{}/{}", or(r.kind(), "[noKind]"), or(r.version(), "[noVer]"), or(r.group(), "[noGrp]"), r.name())
}

#[cfg(test)]
mod tests;
