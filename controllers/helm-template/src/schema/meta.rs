//! Validating a schema document against its metaschema before it is used, as the library does
//! when Helm compiles `values.schema.json`: the document's draft (from `$schema`, 2020-12 when
//! absent) picks the metaschema, every format the validator knows is asserted (the library
//! compiles the metaschemas with format assertion on; `regex` is Go's `regexp`), and where a
//! subschema is a resource of another draft, that draft's metaschema takes over. Failing
//! documents give the library's `SchemaValidationError`.
//!
//! The metaschemas are the standard ones published by json-schema.org (`metaschemas/`, see
//! its README), with the changes the library's embedded copies make to them, applied here:
//! draft 4 types `$ref` as a string and asserts `$schema` as a URI; draft 6 has no `examples`
//! keyword and leaves `patternProperties` keys unchecked (its copy predates both).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::SchemaError;
use super::compile::{Compiled, compile_entries, lookup};
use super::json::{self, Json};
use super::refs;
use super::resources::Resources;
use super::subschemas::Walked;
use super::validate::{MetaSwitch, validate_at};
use super::values::quote;
use crate::template::format::go_quote;
use crate::value::Value;

/// The metaschema documents: where each sits in the combined document, and its text.
const DOCUMENTS: &[(&str, &str)] = &[
    ("d4", include_str!("metaschemas/draft-04.json")),
    ("d6", include_str!("metaschemas/draft-06.json")),
    ("d7", include_str!("metaschemas/draft-07.json")),
    ("d2019", include_str!("metaschemas/draft/2019-09/schema.json")),
    ("d2019-core", include_str!("metaschemas/draft/2019-09/meta/core.json")),
    ("d2019-applicator", include_str!("metaschemas/draft/2019-09/meta/applicator.json")),
    ("d2019-validation", include_str!("metaschemas/draft/2019-09/meta/validation.json")),
    ("d2019-meta-data", include_str!("metaschemas/draft/2019-09/meta/meta-data.json")),
    ("d2019-format", include_str!("metaschemas/draft/2019-09/meta/format.json")),
    ("d2019-content", include_str!("metaschemas/draft/2019-09/meta/content.json")),
    ("d2020", include_str!("metaschemas/draft/2020-12/schema.json")),
    ("d2020-core", include_str!("metaschemas/draft/2020-12/meta/core.json")),
    ("d2020-applicator", include_str!("metaschemas/draft/2020-12/meta/applicator.json")),
    ("d2020-unevaluated", include_str!("metaschemas/draft/2020-12/meta/unevaluated.json")),
    ("d2020-validation", include_str!("metaschemas/draft/2020-12/meta/validation.json")),
    ("d2020-meta-data", include_str!("metaschemas/draft/2020-12/meta/meta-data.json")),
    ("d2020-format-annotation", include_str!("metaschemas/draft/2020-12/meta/format-annotation.json")),
    ("d2020-content", include_str!("metaschemas/draft/2020-12/meta/content.json")),
];

/// Each draft: its metaschema's place in the combined document and its URL.
const DRAFTS: &[(u32, &str, &str)] = &[
    (4, "/$defs/d4", "http://json-schema.org/draft-04/schema"),
    (6, "/$defs/d6", "http://json-schema.org/draft-06/schema"),
    (7, "/$defs/d7", "http://json-schema.org/draft-07/schema"),
    (2019, "/$defs/d2019", "https://json-schema.org/draft/2019-09/schema"),
    (2020, "/$defs/d2020", "https://json-schema.org/draft/2020-12/schema"),
];

/// The compiled metaschemas and each draft's root node.
struct Metas {
    compiled: Compiled,
    roots: Vec<(u32, usize)>,
}

/// Why the metaschemas could not be prepared (a defect of this crate, tested against).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the embedded metaschema {name} is broken: {reason}")]
pub struct MetaschemaError {
    name: String,
    reason: String,
}

fn member<'j>(j: &'j mut Json, key: &str) -> Option<&'j mut Json> {
    match j {
        Json::Obj(m) => m.iter_mut().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn set(j: &mut Json, key: &str, v: Json) {
    if let Json::Obj(m) = j {
        m.retain(|(k, _)| k != key);
        m.push((key.to_string(), v));
    }
}

fn remove(j: &mut Json, key: &str) {
    if let Json::Obj(m) = j {
        m.retain(|(k, _)| k != key);
    }
}

/// The library's changes to the published metaschemas (see the module documentation).
fn as_the_library_has_it(name: &str, doc: &mut Json) {
    let Some(props) = member(doc, "properties") else { return };
    match name {
        "d4" => {
            set(props, "$ref", Json::Obj(vec![("type".into(), Json::Str("string".into()))]));
            if let Some(s) = member(props, "$schema") {
                set(s, "format", Json::Str("uri".into()));
            }
        }
        "d6" => {
            remove(props, "examples");
            if let Some(pp) = member(props, "patternProperties") {
                remove(pp, "propertyNames");
            }
        }
        _ => {}
    }
}

fn build() -> Result<Metas, MetaschemaError> {
    let broken = |name: &str, reason: String| MetaschemaError { name: name.to_string(), reason };
    let mut defs = Vec::new();
    for (name, text) in DOCUMENTS {
        let mut doc = json::parse(text.as_bytes()).map_err(|e| broken(name, e.to_string()))?;
        as_the_library_has_it(name, &mut doc);
        defs.push((name.to_string(), doc));
    }
    let root = Json::Obj(vec![("$defs".into(), Json::Obj(defs))]);
    let res = Resources::collect(&root, "urn:eddy:metaschemas").map_err(|e| broken("set", e.to_string()))?;
    let entries: Vec<&str> = DRAFTS.iter().map(|(_, p, _)| *p).collect();
    let (compiled, nodes) =
        compile_entries(&root, &res, &entries, true, &mut |_| Ok(())).map_err(|e| broken("set", e.to_string()))?;
    let roots = DRAFTS.iter().zip(nodes).map(|((d, _, _), n)| (*d, n)).collect();
    Ok(Metas { compiled, roots })
}

fn metas() -> Result<&'static Metas, MetaschemaError> {
    static METAS: OnceLock<Result<Metas, MetaschemaError>> = OnceLock::new();
    METAS.get_or_init(build).as_ref().map_err(Clone::clone)
}

/// A schema document as the validator's instance: numbers as Go would type them.
fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Num(t) => match t.parse::<i64>() {
            Ok(i) => Value::Int(i),
            // A literal beyond float64 stays a number (the library keeps its text).
            Err(_) => Value::Float(t.parse::<f64>().unwrap_or(0.0).clamp(f64::MIN, f64::MAX)),
        },
        Json::Str(s) => Value::str(s.as_str()),
        Json::Arr(a) => Value::list(a.iter().map(to_value).collect()),
        Json::Obj(m) => Value::map(m.iter().map(|(k, v)| (k.clone(), to_value(v))).collect::<BTreeMap<_, _>>()),
    }
}

/// Checks the schema at `ptr` in `doc` (with resources `res`) against the metaschema of its
/// draft; the library's error when it does not conform: `"<url>#<ptr>" is not valid against
/// metaschema: jsonschema validation failed with '<metaschema>#'` and the causes, one `- at`
/// line each (locations relative to the schema checked).
pub(crate) fn check(doc: &Json, res: &Resources, ptr: &str) -> Result<(), SchemaError> {
    let metas = metas().map_err(|e| SchemaError::Metaschema(e.to_string()))?;
    let Some(schema) = lookup(doc, ptr) else { return Ok(()) };
    let draft = res.draft_at(ptr);
    let Some(&(_, root)) = metas.roots.iter().find(|(d, _)| *d == draft) else { return Ok(()) };
    let switch = MetaSwitch {
        roots: metas.roots.clone(),
        resources: res.list.iter().map(|(p, r)| (p.clone(), r.draft)).collect(),
    };
    let causes = match validate_at(&metas.compiled, root, &to_value(schema), Some(&switch)) {
        Ok(()) => return Ok(()),
        Err(causes) => causes,
    };
    let url = DRAFTS.iter().find(|(d, _, _)| *d == draft).map_or("", |(_, _, u)| u);
    let mut out = format!(
        "{} is not valid against metaschema: jsonschema validation failed with {}",
        go_quote(&format!("{}#{}", refs::DOCUMENT_URL, refs::encode_pointer(ptr))),
        quote(&format!("{url}#"))
    );
    for c in &causes {
        super::display(c, 1, &mut out);
    }
    Err(SchemaError::Metaschema(out))
}

/// Before the schema at `ptr` is compiled: unless the library walked there from the document
/// root (or from a place checked before), it checks it against its metaschema.
pub(crate) fn ensure(doc: &Json, res: &Resources, walked: &mut Walked, ptr: &str) -> Result<(), SchemaError> {
    if walked.contains(ptr) {
        return Ok(());
    }
    check(doc, res, ptr)?;
    if let Some(schema) = lookup(doc, ptr) {
        walked.walk(schema, res, ptr);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metaschemas_compile_and_accept_themselves() {
        let m = metas().expect("metaschemas");
        assert_eq!(m.roots.len(), DRAFTS.len());
        for (name, text) in DOCUMENTS {
            let doc = json::parse(text.as_bytes()).expect("metaschema JSON");
            let res = Resources::collect(&doc, "urn:test").expect("resources");
            assert!(check(&doc, &res, "").is_ok(), "{name}");
        }
    }
}
