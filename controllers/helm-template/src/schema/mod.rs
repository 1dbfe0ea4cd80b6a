//! `values.schema.json` validation as Helm v4.3.2 performs it (`ValidateAgainstSchema` with
//! santhosh-tekuri/jsonschema v6): the chart's schema against its coalesced values, then each
//! enabled subchart's schema against its section, errors listed per chart in the library's
//! wording (`- at '/path': message`, nested causes indented). Before a schema is used, it is
//! validated against its metaschema (`meta.rs`, the standard metaschemas in `metaschemas/`):
//! a schema that breaks it fails with the library's `is not valid against metaschema` report,
//! which Helm prints as it is (no trailing newline, so a following chart's name runs on).
//! Subschemas that are resources (`$id`) of another draft (their own `$schema`) follow that
//! draft (`resources.rs`). `unevaluatedProperties` and `unevaluatedItems` see what the schema
//! and its passing subschemas evaluated, as the library tracks it (`uneval.rs`);
//! `$recursiveRef` (2019-09) and `$dynamicRef` (2020-12) resolve through the schemas passed on
//! the way to the value (`apply.rs`). Drafts 4, 6 and 7 assert every format the library knows,
//! with its reasons: Go 1.26's `net/netip` and `net/url` errors for `ipv6` and the URI formats
//! (`url.rs`), `regexp/syntax` errors for `regex` (`goregex.rs`); 2019-09 and 2020-12 treat
//! formats as annotations, as Helm does (metaschemas assert them all). Error locations are
//! kept as the library keeps them, Go slices sharing one array (`vloc.rs`), so a
//! `propertyNames` error shows the location a later sibling wrote.
//!
//! Not reproduced:
//! - `$ref`s to other documents (`http(s)`, `file` URLs that are not the chart's own schema
//!   or one of its `$id`s): Helm would try to load them; Eddy fails with
//!   [`SchemaError::UnsupportedRef`]. References resolve against the base URI of the
//!   referring schema's resource (`refs.rs`), to the document or to a subschema by its `$id`.
//!   Likewise a subschema's `$schema` naming no known draft: Helm would load it as a
//!   metaschema; Eddy ignores it (the subschema stays in its resource's draft).
//! - Which of several broken places Helm reports: a schema compiled from a place the library
//!   does not walk from the root (`#/$defs/x` in draft 7, `#/x/y` under an unknown keyword)
//!   is checked against the metaschema first (`subschemas.rs`), as Helm does; when several
//!   such places break it, or several `patternProperties` keys of drafts 4 and 6 are not
//!   regular expressions, Helm reports the first in its breadth-first compile order, Eddy in
//!   its depth-first one.
//! - Which subschemas are walked for `$id`s and anchors: the library follows the keywords
//!   that hold subschemas; Eddy looks everywhere but in `enum` and `const` (an `$id` inside
//!   `default` or `examples` makes a resource for Eddy only).
//! - Numbers in a schema are read as `float64` (or `int64`) when it is checked against its
//!   metaschema, where the library keeps their exact text: a `minLength` of
//!   `1.00000000000000000001` passes as an integer for Eddy only.
//! - `pattern` and `patternProperties` match with the `regex` crate, not Go's `regexp`: the
//!   syntax both accept matches alike, but a pattern only one of them accepts differs (Go
//!   rejecting it is reproduced: the metaschema's `regex` format, or for drafts 4 and 6, whose
//!   metaschemas do not check `patternProperties` keys, the library's `invalid regex` error).
//! - In the `regex` format, Go's size limits (`expression too large`, and `expression nests
//!   too deeply` for deep trees that are not group nesting): Eddy reports nesting beyond 1000
//!   groups only.
//! - `contentEncoding`/`contentMediaType`/`contentSchema` stay annotations (the library
//!   asserts them only when asked to, and Helm does not ask).
//! - Order where Go iterates a map: when several properties of one object (or several
//!   unevaluated items of one array) fail, Helm's order varies from run to run; Eddy's is by
//!   name (by position). This holds for a schema's keywords checked against its metaschema
//!   too: errors of one vocabulary's keywords in one object come in random order in Helm, and
//!   so does the location a `propertyNames` error shows when a sibling keyword is checked
//!   after it by the same metaschema (drafts 4, 6 and 7 check all keywords in one loop).
//! - Reference cycles: Helm names both keyword locations (`both … and … resolve to …`);
//!   Eddy says `reference cycle`.

mod apply;
pub mod compile;
pub mod format;
mod goregex;
pub mod json;
mod meta;
pub mod num;
mod refs;
mod resources;
mod subschemas;
mod uneval;
mod unicode_names;
mod url;
pub mod validate;
mod values;
mod vloc;

use crate::chart::Chart;
use crate::template::format::go_quote;
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
    /// The schema (or a subschema compiled from a place the library does not walk) breaks
    /// its metaschema: the library's report.
    #[error("{0}")]
    Metaschema(String),
    /// A `$ref` outside the document.
    #[error("unsupported $ref {0}: only references within values.schema.json are resolved")]
    UnsupportedRef(String),
    /// A `$ref` to nothing.
    #[error("cannot resolve $ref {0}")]
    UnresolvedRef(String),
    /// A `pattern` or `patternProperties` key is not a regular expression (`at` is the
    /// keyword's URL, `reason` Go's error).
    #[error("invalid regex {} at {}: {reason}", go_quote(regex), go_quote(at))]
    InvalidRegex {
        /// The expression.
        regex: String,
        /// Where: the document URL and the keyword's JSON pointer.
        at: String,
        /// Why.
        reason: String,
    },
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
/// in a newline (`JSONSchemaValidationError`). A schema that cannot be used (not JSON, breaking
/// its metaschema, not compiling) gives the library's error as it is, without the newline.
pub fn validate_single(schema: &[u8], values: &Value) -> Result<(), String> {
    let doc = json::parse(schema).map_err(|e| e.to_string())?;
    let res = resources::Resources::collect(&doc, refs::DOCUMENT_URL).map_err(|e| e.to_string())?;
    meta::check(&doc, &res, "").map_err(|e| e.to_string())?;
    let mut walked = subschemas::Walked::default();
    walked.walk(&doc, &res, "");
    let mut ensure = |ptr: &str| meta::ensure(&doc, &res, &mut walked, ptr);
    let compiled = compile::compile_entries(&doc, &res, &[""], false, &mut ensure).map_err(|e| e.to_string())?.0;
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

/// One error and its causes, each on a new `- at` line indented by depth (references with a
/// single cause are skipped, as the library prints them).
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
