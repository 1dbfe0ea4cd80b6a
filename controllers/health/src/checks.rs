//! Flux's `healthCheckExprs` (fluxcd/pkg `runtime/cel`, as kustomize-controller uses it).
//!
//! - Entries are keyed by GroupKind: the version of `apiVersion` is ignored, and an entry
//!   without `kind` applies to every kind of its group (an exact GroupKind wins). Two entries
//!   for one key are an error.
//! - The expressions are parsed, not type-checked (CRDs need not have the usual top-level
//!   fields), so a result that is not a bool is an evaluation error.
//! - Variables are the object's top-level fields: `status.conditions.filter(...)`,
//!   `data.ready == 'true'`. A missing field is an evaluation error (cel-go's "no such key"),
//!   which a waiter reports as status `Unknown` with that error, as Flux's status reader does.
//! - Numbers are what apimachinery's JSON decoding gives Go: integers are `int`, others
//!   `double`; comparisons across numeric types work (cel-go's `CrossTypeNumericComparisons`).
//! - Before the expressions: an integer `status.observedGeneration` that differs from
//!   `metadata.generation` is InProgress. Then inProgress → failed → current; none true is
//!   InProgress. Flux's results carry no message, and neither do these.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::fields::nested_i64;
use crate::{HealthError, Status, StatusResult};

/// One `healthCheckExprs` entry (Flux's `CustomHealthCheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckExpr {
    /// `apiVersion` of the objects it applies to (only its group matters).
    pub api_version: String,
    /// `kind` of the objects it applies to; empty for every kind of the group.
    pub kind: String,
    /// True when healthy.
    pub current: String,
    /// True while progressing.
    pub in_progress: Option<String>,
    /// True when failed.
    pub failed: Option<String>,
}

/// A parsed expression and its source (for messages).
struct Expr {
    source: String,
    program: cel::Program,
}

/// The CEL environment of Flux's expressions: the standard library and macros, optional
/// types, the strings and encoders extensions; repeated map-literal keys keep the last one as
/// cel-go does.
pub(crate) fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib().with_optional_support(true);
        env.set_error_on_duplicate_map_keys(false);
        // The extensions only declare functions; failing to add one leaves it undeclared
        // (expressions using it then fail to evaluate) rather than failing every check.
        if let Err(e) = env.add_extension(cel::extensions::strings) {
            tracing::warn!(error = %e, "CEL strings extension unavailable");
        }
        if let Err(e) = env.add_extension(cel::extensions::encoders) {
            tracing::warn!(error = %e, "CEL encoders extension unavailable");
        }
        Arc::new(env)
    }))
}

impl Expr {
    fn parse(source: &str, which: &str) -> Result<Self, String> {
        env().compile(source).map(|program| Expr { source: source.to_owned(), program }).map_err(|e| {
            format!("failed to parse the expression {which}: failed to parse the CEL expression '{source}': {e}")
        })
    }

    fn evaluate(&self, ctx: &cel::Context<'_, '_>) -> Result<bool, HealthError> {
        match self.program.execute(ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(_) => {
                Err(HealthError::Evaluation(format!("failed to evaluate CEL expression as boolean: '{}'", self.source)))
            }
            Err(e) => Err(HealthError::Evaluation(format!(
                "failed to evaluate the CEL expression '{}': {}",
                self.source,
                cel_go_wording(&e)
            ))),
        }
    }
}

/// cel-go's words for the errors users meet most (they end up in Flux's messages).
pub(crate) fn cel_go_wording(e: &cel::ExecutionError) -> String {
    match e {
        cel::ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        cel::ExecutionError::UndeclaredReference(name) => format!("no such attribute(s): {name}"),
        cel::ExecutionError::IndexOutOfBounds(cel::Value::Int(i)) => format!("index out of bounds: {i}"),
        other => other.to_string(),
    }
}

/// The expressions of one GroupKind (fluxcd/pkg's `StatusEvaluator`).
struct Evaluator {
    current: Expr,
    failed: Option<Expr>,
    in_progress: Option<Expr>,
}

impl Evaluator {
    fn new(e: &HealthCheckExpr) -> Result<Self, String> {
        if e.current.is_empty() {
            return Err("expression Current not specified".to_owned());
        }
        let current = Expr::parse(&e.current, "Current")?;
        let optional = |s: &Option<String>, which: &str| match s.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => Expr::parse(s, which).map(Some),
        };
        let failed = optional(&e.failed, "Failed")?;
        let in_progress = optional(&e.in_progress, "InProgress")?;
        Ok(Self { current, failed, in_progress })
    }

    fn evaluate(&self, obj: &Value) -> Result<StatusResult, HealthError> {
        if let Ok(Some(observed)) = nested_i64(obj, &["status", "observedGeneration"])
            && let Ok(Some(generation)) = nested_i64(obj, &["metadata", "generation"])
            && observed != generation
        {
            return Ok(StatusResult::in_progress(""));
        }
        // The object's top-level fields are the variables.
        let mut ctx = cel::Context::with_env(env());
        if let Value::Object(map) = obj {
            for (name, value) in map {
                ctx.add_variable_from_value(name.clone(), to_cel(value));
            }
        }
        let order = [
            (self.in_progress.as_ref(), Status::InProgress),
            (self.failed.as_ref(), Status::Failed),
            (Some(&self.current), Status::Current),
        ];
        for (expr, status) in order {
            let Some(expr) = expr else { continue };
            if expr.evaluate(&ctx)? {
                return Ok(StatusResult::new(status, ""));
            }
        }
        Ok(StatusResult::in_progress(""))
    }
}

/// A JSON value as Go's unstructured decoding hands it to cel-go: integers are `int`
/// (beyond int64, `double`), other numbers `double`.
pub(crate) fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<cel::objects::Key, cel::Value> =
                m.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// The API group of an `apiVersion` as apimachinery's `ParseGroupVersion` reads it.
fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((group, version)) if !version.contains('/') => group,
        _ => "",
    }
}

/// `Kind.group` as apimachinery's `GroupKind.String()` prints it.
fn fmt_group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") }
}

/// Compiled `healthCheckExprs`.
#[derive(Clone, Default)]
pub struct CustomChecks {
    /// Evaluators by (group, kind); kind empty for a whole group.
    evaluators: Arc<HashMap<(String, String), Evaluator>>,
}

impl CustomChecks {
    /// Compiles the expressions.
    ///
    /// # Errors
    /// [`HealthError::InvalidCel`] naming the entry and the expression that does not
    /// compile, a missing `current`, or a GroupKind given twice, in fluxcd/pkg's words.
    pub fn compile(exprs: &[HealthCheckExpr]) -> Result<Self, HealthError> {
        let mut evaluators = HashMap::with_capacity(exprs.len());
        for (i, e) in exprs.iter().enumerate() {
            let key = (group_of(&e.api_version).to_owned(), e.kind.clone());
            if evaluators.contains_key(&key) {
                return Err(HealthError::InvalidCel(format!(
                    "duplicate custom health check for GroupKind {} at healthchecks[{i}]",
                    fmt_group_kind(&key.0, &key.1)
                )));
            }
            let evaluator = Evaluator::new(e).map_err(|msg| {
                HealthError::InvalidCel(format!(
                    "failed to create custom status evaluator for healthchecks[{i}]: {msg}"
                ))
            })?;
            evaluators.insert(key, evaluator);
        }
        Ok(Self { evaluators: Arc::new(evaluators) })
    }

    /// Whether no expressions were given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.evaluators.is_empty()
    }

    /// Whether an entry applies to objects of `api_version` and `kind`.
    #[must_use]
    pub fn applies_to(&self, api_version: &str, kind: &str) -> bool {
        self.evaluator(group_of(api_version), kind).is_some()
    }

    fn evaluator(&self, group: &str, kind: &str) -> Option<&Evaluator> {
        if self.evaluators.is_empty() {
            return None;
        }
        self.evaluators
            .get(&(group.to_owned(), kind.to_owned()))
            .or_else(|| self.evaluators.get(&(group.to_owned(), String::new())))
    }

    /// The status of `obj` by the expressions for its apiVersion and kind, or `None` when
    /// none applies (kstatus decides).
    ///
    /// # Errors
    /// [`HealthError::Evaluation`] when an expression fails to evaluate (e.g. a missing key)
    /// or does not give a bool.
    pub fn evaluate(&self, obj: &Value) -> Option<Result<StatusResult, HealthError>> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let evaluator = self.evaluator(group_of(api_version), kind)?;
        Some(evaluator.evaluate(obj))
    }
}

impl std::fmt::Debug for CustomChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<String> = self.evaluators.keys().map(|(g, k)| fmt_group_kind(g, k)).collect();
        keys.sort();
        f.debug_struct("CustomChecks").field("group_kinds", &keys).finish()
    }
}

#[cfg(test)]
mod tests;
