//! `values.schema.json` validation as Helm v4.3.2 performs it (`ValidateAgainstSchema` with
//! santhosh-tekuri/jsonschema v6): the chart's schema against its coalesced values, then each
//! enabled subchart's schema against its section, errors listed per chart in the library's
//! wording (`- at '/path': message`, nested causes indented). `unevaluatedProperties` sees the
//! properties evaluated by the schema and by its passing subschemas, as the library tracks them.
//!
//! Not reproduced: loading schemas over `http(s)`/`file` `$ref`s, metaschema validation of
//! the schema itself, `unevaluatedItems`, `$dynamicRef`/
//! `$recursiveRef`, `contentEncoding`/`contentMediaType`, and the formats other than those in
//! `format.rs` (`ipv6`, `uri`, `regex`, … are treated as annotations, so a value Helm rejects
//! for them is accepted). Go iterates an object's properties in random order; where several
//! properties of one object fail, Helm's order varies from run to run and Eddy's is by name.

mod apply;
pub mod compile;
pub mod format;
mod goregex;
pub mod json;
pub mod num;
mod uneval;
mod unicode_names;
mod url;
pub mod validate;
mod values;

use crate::chart::Chart;
use crate::value::Value;
use validate::{Kind, VErr};

/// Why a schema could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// The schema is not JSON.
    #[error("{0}")]
    Syntax(#[from] json::JsonSyntaxError),
    /// `$schema` names a metaschema Eddy does not know.
    #[error("unsupported metaschema {0}")]
    UnsupportedMetaSchema(String),
    /// A `$ref` outside the document.
    #[error("unsupported $ref {0}: only references within values.schema.json are resolved")]
    UnsupportedRef(String),
    /// A `$ref` to nothing.
    #[error("cannot resolve $ref {0}")]
    UnresolvedRef(String),
    /// A `pattern` or `patternProperties` key is not a regular expression.
    #[error("invalid regex {0}")]
    InvalidRegex(String),
}

/// Validates `values` (the coalesced values of `chart`) as Helm does before rendering; the
/// error is Helm's whole message.
pub fn validate_chart(chart: &Chart, values: &Value) -> Result<(), String> {
    let mut out = String::new();
    check(chart, values, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!("values don't meet the specifications of the schema(s) in the following chart(s):\n{out}"))
    }
}

fn check(chart: &Chart, values: &Value, out: &mut String) {
    if let Some(schema) = &chart.schema {
        match validate_single(schema, values) {
            Ok(()) => {}
            Err(msg) => {
                out.push_str(&format!("{}:\n", chart.name()));
                out.push_str(&msg);
            }
        }
    }
    let Value::Map(m) = values else { return };
    for sub in &chart.dependencies {
        let raw = m.borrow().get(sub.name()).cloned();
        match raw {
            None | Some(Value::Nil) => {}
            Some(v @ Value::Map(_)) => check(sub, &v, out),
            Some(other) => out.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map), got {}\n",
                sub.name(),
                go_type(&other)
            )),
        }
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "[]interface {}",
        _ => "map[string]interface {}",
    }
}

/// One schema against one chart's values: the library's causes, one `- ` line each, ending
/// in a newline (`JSONSchemaValidationError`).
pub fn validate_single(schema: &[u8], values: &Value) -> Result<(), String> {
    let doc = json::parse(schema).map_err(|e| e.to_string())?;
    let compiled = compile::compile(&doc).map_err(|e| e.to_string())?;
    match validate::validate(&compiled, values) {
        Ok(()) => Ok(()),
        Err(causes) => {
            let mut s = String::new();
            for c in &causes {
                display(c, 1, &mut s);
            }
            let s = s.strip_prefix('\n').unwrap_or(&s).to_string();
            Err(s + "\n")
        }
    }
}

fn pointer(loc: &[String]) -> String {
    loc.iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect()
}

fn display(e: &VErr, mut indent: usize, out: &mut String) {
    let skip = e.kind == Kind::Reference && e.causes.len() == 1;
    if !skip {
        out.push('\n');
        for _ in 0..indent.saturating_sub(1) {
            out.push_str("  ");
        }
        out.push_str("- ");
        indent += 1;
        let msg = match &e.kind {
            Kind::Msg(m) => m.as_str(),
            Kind::Group | Kind::Reference => "validation failed",
        };
        out.push_str(&format!("at {}: {msg}", validate::quote(&pointer(&e.loc))));
    }
    for c in &e.causes {
        display(c, indent, out);
    }
}
