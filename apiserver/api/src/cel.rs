//! Evaluation of `x-kubernetes-validations` rules with the `cel` crate.
//!
//! The rules are evaluated the way kube-apiserver does for custom resources: `self` is bound to
//! the schema node that carries the rule (after defaulting), absent optional fields are absent
//! map keys (so `has(self.x)` is false), and a rule must evaluate to a boolean.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

/// Compiled programs by rule text. The rules come from the schemas, a small fixed set; the cap
/// keeps arbitrary callers from growing it without bound.
const CACHE_LIMIT: usize = 1024;

struct Compiled {
    program: cel::Program,
    transition: bool,
}

fn compiled(rule: &str) -> Result<Arc<Compiled>, CelError> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Some(c) = cache.read().ok().and_then(|m| m.get(rule).cloned()) {
        return Ok(c);
    }
    let program = cel::Program::compile(rule).map_err(|e| CelError::Compile(e.to_string()))?;
    let transition = program.references().has_variable("oldSelf");
    let c = Arc::new(Compiled { program, transition });
    if let Ok(mut m) = cache.write()
        && m.len() < CACHE_LIMIT
    {
        m.insert(rule.to_owned(), Arc::clone(&c));
    }
    Ok(c)
}

/// Why a rule could not give a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// The rule does not parse.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// The rule failed at run time (e.g. a missing key).
    #[error("{0}")]
    Eval(String),
    /// The rule returned something other than a boolean.
    #[error("rule did not evaluate to a boolean: {0}")]
    NotBool(String),
    /// The value could not be handed to the CEL engine.
    #[error("cannot convert value: {0}")]
    Convert(String),
}

/// Evaluates `rule` with `self` bound to `value`.
///
/// # Errors
/// [`CelError`] when the rule does not compile, fails at run time or is not boolean.
pub fn evaluate(rule: &str, value: &Value) -> Result<bool, CelError> {
    evaluate_transition(rule, value, None)
}

/// Evaluates `rule` with `self` bound to `value` and, for transition rules on update,
/// `oldSelf` bound to the previous value of the same node.
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_transition(rule: &str, value: &Value, old: Option<&Value>) -> Result<bool, CelError> {
    let compiled = compiled(rule)?;
    let mut ctx = cel::Context::default();
    let self_value = cel::to_value(value).map_err(|e| CelError::Convert(e.to_string()))?;
    ctx.add_variable_from_value("self", self_value);
    if let Some(old) = old {
        let old_value = cel::to_value(old).map_err(|e| CelError::Convert(e.to_string()))?;
        ctx.add_variable_from_value("oldSelf", old_value);
    }
    match compiled.program.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(CelError::NotBool(format!("{other:?}"))),
        Err(cel::ExecutionError::NoSuchKey(key)) => {
            // cel-go's wording, which kube-apiserver's messages carry.
            Err(CelError::Eval(format!("no such key: {key}")))
        }
        Err(e) => Err(CelError::Eval(e.to_string())),
    }
}

/// Whether a rule compares against the previous value (a transition rule). Such rules are
/// skipped on create and where no previous value can be correlated, as in kube-apiserver.
#[must_use]
pub fn is_transition_rule(rule: &str) -> bool {
    compiled(rule).is_ok_and(|c| c.transition)
}

/// Checks that a rule compiles, without evaluating it.
///
/// # Errors
/// [`CelError::Compile`] when it does not.
pub fn compile_check(rule: &str) -> Result<(), CelError> {
    cel::Program::compile(rule).map(|_| ()).map_err(|e| CelError::Compile(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: &str, value: &Value, expected: Result<bool, ()>) {
        let got = evaluate(rule, value).map_err(|_| ());
        assert_eq!(got, expected, "{rule} on {value}");
    }

    #[test]
    fn rules_of_the_kinds_flux_uses() {
        let hr = "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))";
        check(hr, &json!({"chart": {}}), Ok(true));
        check(hr, &json!({"chartRef": {}}), Ok(true));
        check(hr, &json!({}), Ok(false));
        check(hr, &json!({"chart": {}, "chartRef": {}}), Ok(false));
        let rx = "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)";
        check(rx, &json!({"type": "generic-oidc", "oidcProviders": []}), Ok(false));
        check(rx, &json!({"type": "generic-oidc", "oidcProviders": [{}]}), Ok(true));
        check(rx, &json!({"type": "github"}), Ok(true));
        let nested = "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)";
        check(nested, &json!({"sts": {"provider": "aws", "secretRef": {}}}), Ok(false));
        check(nested, &json!({"sts": {"provider": "ldap", "secretRef": {}}}), Ok(true));
    }

    #[test]
    fn missing_keys_are_reported_in_cel_go_words() {
        assert_eq!(
            evaluate("self.provider == 'aws'", &json!({})),
            Err(CelError::Eval("no such key: provider".to_owned()))
        );
    }

    #[test]
    fn transition_rules_see_the_old_value() {
        let rule = "self == oldSelf";
        assert!(is_transition_rule(rule));
        assert!(!is_transition_rule("has(self.a)"));
        assert_eq!(evaluate_transition(rule, &json!("a"), Some(&json!("a"))), Ok(true));
        assert_eq!(evaluate_transition(rule, &json!("b"), Some(&json!("a"))), Ok(false));
        assert!(evaluate(rule, &json!("a")).is_err());
    }

    #[test]
    fn missing_key_and_bad_rules_are_errors() {
        check("self.provider == 'aws'", &json!({}), Err(()));
        check("self.x ==", &json!({}), Err(()));
        check("'a'", &json!({}), Err(()));
    }
}
