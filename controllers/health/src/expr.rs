//! One boolean CEL expression over named variables: fluxcd/pkg `runtime/cel` `NewExpression`
//! with `WithCompile()`, `WithOutputType(BoolType)` and `WithStructVariables(...)`, as
//! kustomize-controller compiles `dependsOn[].readyExpr` over `self` and `dep`.
//!
//! cel-go type-checks at compile time; the expression here is parsed, and what the check
//! would catch that users actually meet is checked on the syntax tree: a reference to a
//! variable that is not declared (`deps.status` for `dep.status`), and a literal result
//! that is not a bool. Other results that are not a bool fail at evaluation, as cel-go's
//! `EvaluateBoolean` does for dynamic values.

use cel::common::ast::{EntryExpr, Expr};
use serde_json::Value;

use crate::HealthError;
use crate::checks::{cel_go_wording, env, to_cel};

/// Names cel-go declares in every environment (type identifiers).
const BUILTIN_IDENTS: &[&str] =
    &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"];

/// A compiled boolean expression.
pub struct BoolExpression {
    source: String,
    program: cel::Program,
}

impl std::fmt::Debug for BoolExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoolExpression").field("source", &self.source).finish_non_exhaustive()
    }
}

impl BoolExpression {
    /// Compiles `source` with `variables` declared.
    ///
    /// # Errors
    /// [`HealthError::InvalidCel`] in fluxcd/pkg's words: `failed to parse the CEL expression
    /// '<expr>': <why>` (a syntax error, or an undeclared reference), or `CEL expression output
    /// type mismatch: expected bool, got <type>` for a literal of another type.
    pub fn compile(source: &str, variables: &[&str]) -> Result<Self, HealthError> {
        let parse_error =
            |why: String| HealthError::InvalidCel(format!("failed to parse the CEL expression '{source}': {why}"));
        let program = env().compile(source).map_err(|e| parse_error(e.to_string()))?;
        let mut bound: Vec<String> = variables.iter().map(|v| (*v).to_owned()).collect();
        bound.extend(BUILTIN_IDENTS.iter().map(|v| (*v).to_owned()));
        let mut free = Vec::new();
        free_variables(&program.expression().expr, &mut bound, &mut free);
        if let Some(name) = free.first() {
            return Err(parse_error(format!("undeclared reference to '{name}'")));
        }
        if let Expr::Literal(literal) = &program.expression().expr {
            let got = match literal {
                cel::common::ast::LiteralValue::Boolean(_) => None,
                cel::common::ast::LiteralValue::Int(_) => Some("int"),
                cel::common::ast::LiteralValue::UInt(_) => Some("uint"),
                cel::common::ast::LiteralValue::Double(_) => Some("double"),
                cel::common::ast::LiteralValue::String(_) => Some("string"),
                cel::common::ast::LiteralValue::Bytes(_) => Some("bytes"),
                cel::common::ast::LiteralValue::Null => Some("null_type"),
            };
            if let Some(got) = got {
                return Err(HealthError::InvalidCel(format!(
                    "CEL expression output type mismatch: expected bool, got {got}"
                )));
            }
        }
        Ok(Self { source: source.to_owned(), program })
    }

    /// The expression as written.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `vars` (JSON objects as Go's unstructured maps).
    ///
    /// # Errors
    /// [`HealthError::Evaluation`]: `failed to evaluate the CEL expression '<expr>': <why>` (a
    /// missing key, say), or `failed to evaluate CEL expression as boolean: '<expr>'`.
    pub fn evaluate(&self, vars: &[(&str, &Value)]) -> Result<bool, HealthError> {
        let mut ctx = cel::Context::with_env(env());
        for (name, value) in vars {
            ctx.add_variable_from_value((*name).to_owned(), to_cel(value));
        }
        match self.program.execute(&ctx) {
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

/// Collects the identifiers of `expr` not bound by `bound` (declared variables, enclosing
/// comprehension variables) into `free`, in the order met.
fn free_variables(expr: &Expr, bound: &mut Vec<String>, free: &mut Vec<String>) {
    match expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.iter().any(|b| b == name) && !free.contains(name) {
                free.push(name.clone());
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_variables(&target.expr, bound, free);
            }
            for arg in &call.args {
                free_variables(&arg.expr, bound, free);
            }
        }
        Expr::Comprehension(comp) => {
            free_variables(&comp.iter_range.expr, bound, free);
            free_variables(&comp.accu_init.expr, bound, free);
            let depth = bound.len();
            bound.push(comp.accu_var.clone());
            free_variables(&comp.result.expr, bound, free);
            bound.push(comp.iter_var.clone());
            bound.extend(comp.iter_var2.clone());
            free_variables(&comp.loop_cond.expr, bound, free);
            free_variables(&comp.loop_step.expr, bound, free);
            bound.truncate(depth);
        }
        Expr::List(list) => {
            for e in &list.elements {
                free_variables(&e.expr, bound, free);
            }
        }
        Expr::Map(map) => entries(&map.entries, bound, free),
        Expr::Struct(s) => entries(&s.entries, bound, free),
        Expr::Select(select) => free_variables(&select.operand.expr, bound, free),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entries(entries: &[cel::common::ast::IdedEntryExpr], bound: &mut Vec<String>, free: &mut Vec<String>) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::StructField(field) => free_variables(&field.value.expr, bound, free),
            EntryExpr::MapEntry(e) => {
                free_variables(&e.key.expr, bound, free);
                free_variables(&e.value.expr, bound, free);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::BoolExpression;
    use crate::HealthError;

    fn compile(source: &str) -> Result<BoolExpression, HealthError> {
        BoolExpression::compile(source, &["self", "dep"])
    }

    #[test]
    fn evaluates_over_the_declared_variables() {
        let e = compile("self.metadata.annotations['app/version'] == dep.metadata.annotations['app/version']").unwrap();
        let a = json!({"metadata": {"annotations": {"app/version": "v1"}}});
        let b = json!({"metadata": {"annotations": {"app/version": "v2"}}});
        assert!(e.evaluate(&[("self", &a), ("dep", &a)]).unwrap());
        assert!(!e.evaluate(&[("self", &a), ("dep", &b)]).unwrap());
    }

    #[test]
    fn comprehension_variables_are_bound() {
        let e = compile("dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')").unwrap();
        let dep = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(e.evaluate(&[("self", &json!({})), ("dep", &dep)]).unwrap());
        let e =
            compile("dep.status.conditions.all(c, c.status == 'True') && [1, 2].map(x, x * 2).size() == 2").unwrap();
        assert!(e.evaluate(&[("self", &json!({})), ("dep", &dep)]).unwrap());
    }

    #[test]
    fn an_undeclared_reference_does_not_compile() {
        let err = compile("self.generation == deps.generation").unwrap_err();
        assert!(matches!(err, HealthError::InvalidCel(_)));
        assert_eq!(
            err.to_string(),
            "failed to parse the CEL expression 'self.generation == deps.generation': undeclared reference to 'deps'"
        );
        // A comprehension variable is not visible outside its macro.
        let err = compile("dep.status.conditions.exists(c, true) && c.type == 'x'").unwrap_err();
        assert!(err.to_string().contains("undeclared reference to 'c'"), "{err}");
    }

    #[test]
    fn syntax_errors_and_non_bool_literals_do_not_compile() {
        let err = compile("self.metadata.name ==").unwrap_err();
        assert!(err.to_string().starts_with("failed to parse the CEL expression 'self.metadata.name =='"), "{err}");
        let err = compile("'yes'").unwrap_err();
        assert_eq!(err.to_string(), "CEL expression output type mismatch: expected bool, got string");
    }

    #[test]
    fn evaluation_errors_are_cel_go_words() {
        let e = compile("dep.status.ready").unwrap();
        let err = e.evaluate(&[("self", &json!({})), ("dep", &json!({"status": {}}))]).unwrap_err();
        assert_eq!(err.to_string(), "failed to evaluate the CEL expression 'dep.status.ready': no such key: ready");
        let e = compile("dep.metadata.name").unwrap();
        let err = e.evaluate(&[("self", &json!({})), ("dep", &json!({"metadata": {"name": "a"}}))]).unwrap_err();
        assert_eq!(err.to_string(), "failed to evaluate CEL expression as boolean: 'dep.metadata.name'");
    }
}
