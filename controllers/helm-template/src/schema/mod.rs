//! `values.schema.json` validation as Helm v4.3.2 performs it (`ValidateAgainstSchema` with
//! santhosh-tekuri/jsonschema v6): the chart's schema against its coalesced values, then each
//! enabled subchart's schema against its section, errors listed per chart in the library's
//! wording (`- at '/path': message`, nested causes indented). `unevaluatedProperties` and
//! `unevaluatedItems` see what the schema and its passing subschemas evaluated, as the library
//! tracks it (`uneval.rs`); `$recursiveRef` (2019-09) and `$dynamicRef` (2020-12) resolve
//! through the schemas passed on the way to the value (`apply.rs`). Drafts 4, 6 and 7 assert
//! every format the library knows, with its reasons: Go 1.26's `net/netip` and `net/url`
//! errors for `ipv6` and the URI formats (`url.rs`), `regexp/syntax` errors for `regex`
//! (`goregex.rs`); 2019-09 and 2020-12 treat formats as annotations, as Helm does.
//!
//! Not reproduced:
//! - `$ref`s to other documents (`http(s)`, `file` URLs that are not the chart's own schema
//!   or one of its `$id`s): Helm would try to load them; Eddy fails with
//!   [`SchemaError::UnsupportedRef`]. References resolve against the base URI of the
//!   referring schema's resource (`refs.rs`), to the document or to a subschema by its `$id`.
//! - Metaschema validation of the schema itself: Helm rejects a schema that breaks its
//!   metaschema (an invalid `pattern`, a `minLength` that is not a number, …) with a
//!   `is not valid against metaschema` report; Eddy fails with its own
//!   [`SchemaError`] where it cannot compile the schema, and otherwise validates with it.
//! - `pattern` and `patternProperties` match with the `regex` crate, not Go's `regexp`: the
//!   syntax both accept matches alike, but a pattern only one of them accepts differs.
//! - In the `regex` format, Go's size limits (`expression too large`, and `expression nests
//!   too deeply` for deep trees that are not group nesting): Eddy reports nesting beyond 1000
//!   groups only.
//! - `contentEncoding`/`contentMediaType`/`contentSchema` stay annotations (the library
//!   asserts them only when asked to, and Helm does not ask).
//! - Order where Go iterates a map: when several properties of one object (or several
//!   unevaluated items of one array) fail, Helm's order varies from run to run; Eddy's is by
//!   name (by position).

mod apply;
pub mod compile;
pub mod format;
mod goregex;
pub mod json;
pub mod num;
mod refs;
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
