//! CEL expressions as fluxcd/pkg `runtime/cel` compiles them for notification-controller:
//! `NewExpression(expr, WithCompile(), WithOutputType(...), WithStructVariables(...))`, then
//! `EvaluateString` (`spec.commitStatusExpr` over `event`, `alert`, `provider`) or
//! `EvaluateBoolean` (Receiver `resourceFilter` and `resources[].filter` over `res`, `req`).
//!
//! cel-go type-checks at compile time. Here the expression is parsed, references to
//! variables that are not declared are refused as the checker refuses them, and a literal
//! result of the wrong type is a type mismatch; any other result of the wrong type fails
//! at evaluation (`failed to evaluate CEL expression as string: '<expr>'`). cel-go also
//! refuses at compile time an expression whose static type is `dyn` (a bare field of a
//! struct variable, say); Eddy accepts it when it evaluates to the right type.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
use serde_json::Value;

/// Names cel-go declares in every environment (type identifiers).
const TYPE_IDENTS: &[&str] = &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"];

/// A CEL failure, in fluxcd/pkg's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// The expression does not parse, or references an undeclared variable.
    #[error("failed to parse the CEL expression '{expr}': {why}")]
    Parse {
        /// The expression.
        expr: String,
        /// Why.
        why: String,
    },
    /// A literal result of another type than expected.
    #[error("CEL expression output type mismatch: expected {expected}, got {got}")]
    OutputType {
        /// The expected type.
        expected: &'static str,
        /// The literal's type.
        got: &'static str,
    },
    /// Evaluation failed (a missing key, a bad operand).
    #[error("failed to evaluate the CEL expression '{expr}': {why}")]
    Evaluate {
        /// The expression.
        expr: String,
        /// Why.
        why: String,
    },
    /// The result is not of the expected type.
    #[error("failed to evaluate CEL expression as {expected}: '{expr}'")]
    ResultType {
        /// The expression.
        expr: String,
        /// `string` or `boolean`.
        expected: &'static str,
    },
}

/// The result type an expression must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `types.StringType`.
    String,
    /// `types.BoolType`.
    Bool,
    /// Any type (no `WithOutputType`).
    Dyn,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Bool => "bool",
            Self::Dyn => "dyn",
        }
    }
}

fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib().with_optional_support(true);
        env.set_error_on_duplicate_map_keys(false);
        // An extension that fails to register leaves its functions undeclared: expressions
        // using them fail, the others work.
        if let Err(e) = env.add_extension(cel::extensions::strings) {
            tracing::warn!(error = %e, "CEL strings extension unavailable");
        }
        if let Err(e) = env.add_extension(cel::extensions::encoders) {
            tracing::warn!(error = %e, "CEL encoders extension unavailable");
        }
        Arc::new(env)
    }))
}

/// A compiled expression.
pub struct Expression {
    source: String,
    output: Output,
    program: cel::Program,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expression").field("source", &self.source).field("output", &self.output).finish()
    }
}

impl Expression {
    /// Compiles `source` with `variables` declared (as `google.protobuf.Struct`).
    ///
    /// # Errors
    /// [`CelError::Parse`] or [`CelError::OutputType`].
    pub fn compile(source: &str, variables: &[&str], output: Output) -> Result<Self, CelError> {
        let parse = |why: String| CelError::Parse { expr: source.to_owned(), why };
        let program = env().compile(source).map_err(|e| parse(e.to_string()))?;
        let mut scope: Vec<String> = variables.iter().chain(TYPE_IDENTS).map(|v| (*v).to_owned()).collect();
        let mut free = Vec::new();
        undeclared(&program.expression().expr, &mut scope, &mut free);
        if let Some(name) = free.first() {
            return Err(parse(format!("undeclared reference to '{name}'")));
        }
        if let Expr::Literal(lit) = &program.expression().expr {
            let got = match lit {
                LiteralValue::Boolean(_) => "bool",
                LiteralValue::Int(_) => "int",
                LiteralValue::UInt(_) => "uint",
                LiteralValue::Double(_) => "double",
                LiteralValue::String(_) => "string",
                LiteralValue::Bytes(_) => "bytes",
                LiteralValue::Null => "null_type",
            };
            if output != Output::Dyn && got != output.name() {
                return Err(CelError::OutputType { expected: output.name(), got });
            }
        }
        Ok(Self { source: source.to_owned(), output, program })
    }

    fn run(&self, vars: &[(&str, &Value)]) -> Result<cel::Value, CelError> {
        let mut ctx = cel::Context::with_env(env());
        for (name, value) in vars {
            ctx.add_variable_from_value((*name).to_owned(), to_cel(value));
        }
        self.program.execute(&ctx).map_err(|e| CelError::Evaluate { expr: self.source.clone(), why: wording(&e) })
    }

    /// `EvaluateString`.
    ///
    /// # Errors
    /// [`CelError::Evaluate`] or [`CelError::ResultType`].
    pub fn evaluate_string(&self, vars: &[(&str, &Value)]) -> Result<String, CelError> {
        match self.run(vars)? {
            cel::Value::String(s) => Ok(s.as_ref().clone()),
            _ => Err(CelError::ResultType { expr: self.source.clone(), expected: "string" }),
        }
    }

    /// `EvaluateBoolean`.
    ///
    /// # Errors
    /// [`CelError::Evaluate`] or [`CelError::ResultType`].
    pub fn evaluate_bool(&self, vars: &[(&str, &Value)]) -> Result<bool, CelError> {
        match self.run(vars)? {
            cel::Value::Bool(b) => Ok(b),
            _ => Err(CelError::ResultType { expr: self.source.clone(), expected: "boolean" }),
        }
    }
}

impl Expression {
    /// `Evaluate`: the result as JSON (maps with string keys; bytes as base64, as Go's
    /// `json.Marshal` of a `[]byte`).
    ///
    /// # Errors
    /// [`CelError::Evaluate`].
    pub fn evaluate_json(&self, vars: &[(&str, &Value)]) -> Result<Value, CelError> {
        Ok(from_cel(&self.run(vars)?))
    }
}

fn from_cel(v: &cel::Value) -> Value {
    use base64::Engine as _;
    match v {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        cel::Value::String(s) => Value::String(s.as_ref().clone()),
        cel::Value::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref())),
        cel::Value::List(l) => Value::Array(l.iter().map(from_cel).collect()),
        cel::Value::Map(m) => Value::Object(
            m.map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => s.as_ref().clone(),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => u.to_string(),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    (key, from_cel(v))
                })
                .collect(),
        ),
        other => Value::String(format!("{other:?}")),
    }
}

/// cel-go's wording of the common evaluation errors.
fn wording(e: &cel::ExecutionError) -> String {
    match e {
        cel::ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        cel::ExecutionError::UndeclaredReference(name) => format!("no such attribute(s): {name}"),
        other => other.to_string(),
    }
}

/// JSON as cel-go sees a `google.protobuf.Struct` built from Go's unstructured maps.
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            n.as_i64().map_or_else(|| cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)), cel::Value::Int)
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<cel::objects::Key, cel::Value> =
                m.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// Identifiers of `expr` bound neither by `scope` nor by an enclosing comprehension, in the
/// order met.
fn undeclared(expr: &Expr, scope: &mut Vec<String>, out: &mut Vec<String>) {
    if let Expr::Ident(name) = expr {
        if !name.starts_with('@') && !scope.contains(name) && !out.contains(name) {
            out.push(name.clone());
        }
        return;
    }
    let mut walk = |e: &Expr, scope: &mut Vec<String>| undeclared(e, scope, out);
    match expr {
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        Expr::Select(s) => walk(&s.operand.expr, scope),
        Expr::Call(call) => {
            for e in call.target.iter().map(|t| &t.expr).chain(call.args.iter().map(|a| &a.expr)) {
                walk(e, scope);
            }
        }
        Expr::List(list) => {
            for e in &list.elements {
                walk(&e.expr, scope);
            }
        }
        Expr::Map(m) => entries(&m.entries, scope, out),
        Expr::Struct(s) => entries(&s.entries, scope, out),
        Expr::Comprehension(c) => {
            walk(&c.iter_range.expr, scope);
            walk(&c.accu_init.expr, scope);
            let depth = scope.len();
            scope.push(c.accu_var.clone());
            scope.push(c.iter_var.clone());
            scope.extend(c.iter_var2.clone());
            for e in [&c.loop_cond.expr, &c.loop_step.expr, &c.result.expr] {
                walk(e, scope);
            }
            scope.truncate(depth);
        }
    }
}

fn entries(list: &[cel::common::ast::IdedEntryExpr], scope: &mut Vec<String>, out: &mut Vec<String>) {
    for entry in list {
        match &entry.expr {
            EntryExpr::StructField(f) => undeclared(&f.value.expr, scope, out),
            EntryExpr::MapEntry(e) => {
                undeclared(&e.key.expr, scope, out);
                undeclared(&e.value.expr, scope, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // fluxcd/pkg runtime/cel expression.go: compile errors, output types, evaluation errors.
    #[test]
    fn compile_and_evaluate_as_fluxcd_pkg() {
        let e = Expression::compile(
            "event.involvedObject.kind + '/' + provider.metadata.uid",
            &["event", "provider"],
            Output::String,
        )
        .unwrap();
        let event = json!({"involvedObject": {"kind": "Kustomization"}});
        let provider = json!({"metadata": {"uid": "u-1"}});
        assert_eq!(e.evaluate_string(&[("event", &event), ("provider", &provider)]).unwrap(), "Kustomization/u-1");

        let err = Expression::compile("foo.bar == 'x'", &["res", "req"], Output::Bool).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to parse the CEL expression 'foo.bar == 'x'': undeclared reference to 'foo'"
        );
        assert!(matches!(Expression::compile("res.(", &["res"], Output::Bool), Err(CelError::Parse { .. })));
        let err = Expression::compile("'text'", &["res"], Output::Bool).unwrap_err();
        assert_eq!(err.to_string(), "CEL expression output type mismatch: expected bool, got string");
        // Comprehension variables are bound.
        Expression::compile("res.metadata.labels.exists(k, k == 'app')", &["res"], Output::Bool).unwrap();

        let e = Expression::compile("res.metadata.name", &["res"], Output::Bool).unwrap();
        let res = json!({"metadata": {"name": "n"}});
        let err = e.evaluate_bool(&[("res", &res)]).unwrap_err();
        assert_eq!(err.to_string(), "failed to evaluate CEL expression as boolean: 'res.metadata.name'");
        let e = Expression::compile("res.metadata.missing == 'x'", &["res"], Output::Bool).unwrap();
        let err = e.evaluate_bool(&[("res", &res)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to evaluate the CEL expression 'res.metadata.missing == 'x'': no such key: missing"
        );
        let e = Expression::compile("size(res.metadata.name)", &["res"], Output::String).unwrap();
        let err = e.evaluate_string(&[("res", &res)]).unwrap_err();
        assert_eq!(err.to_string(), "failed to evaluate CEL expression as string: 'size(res.metadata.name)'");
    }
}
