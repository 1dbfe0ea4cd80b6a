//! The places the library knows to hold subschemas, per draft, and the set of places it has
//! walked through them from the document root. Compiling a schema anywhere else (a `$ref`
//! to `#/$defs/x` in draft 7, or under a keyword no draft defines) makes the library check
//! that schema against its metaschema first, as it checked the document.

use std::collections::HashSet;

use super::json::Json;
use super::resources::Resources;

/// How a keyword holds subschemas.
#[derive(Clone, Copy)]
enum Shape {
    /// The value is one.
    One,
    /// Each member of an object value is one.
    Members,
    /// Each item of an array value is one.
    Items,
}

/// `(first draft, keyword, shape)`: where each draft (and the later ones) holds subschemas.
const PATHS: &[(u32, &str, Shape)] = &[
    (4, "definitions", Shape::Members),
    (4, "not", Shape::One),
    (4, "allOf", Shape::Items),
    (4, "anyOf", Shape::Items),
    (4, "oneOf", Shape::Items),
    (4, "properties", Shape::Members),
    (4, "additionalProperties", Shape::One),
    (4, "patternProperties", Shape::Members),
    (4, "items", Shape::One),
    (4, "items", Shape::Items),
    (4, "additionalItems", Shape::One),
    (4, "dependencies", Shape::Members),
    (6, "propertyNames", Shape::One),
    (6, "contains", Shape::One),
    (7, "if", Shape::One),
    (7, "then", Shape::One),
    (7, "else", Shape::One),
    (2019, "$defs", Shape::Members),
    (2019, "dependentSchemas", Shape::Members),
    (2019, "unevaluatedProperties", Shape::One),
    (2019, "unevaluatedItems", Shape::One),
    (2019, "contentSchema", Shape::One),
    (2020, "prefixItems", Shape::Items),
];

fn escape(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointers of the places walked so far.
#[derive(Debug, Default)]
pub(crate) struct Walked(HashSet<String>);

impl Walked {
    /// Whether the place at `ptr` was walked.
    pub(crate) fn contains(&self, ptr: &str) -> bool {
        self.0.contains(ptr)
    }

    /// Walks the schema `j` at `ptr` and the subschemas its draft knows in it.
    pub(crate) fn walk(&mut self, j: &Json, res: &Resources, ptr: &str) {
        if !self.0.insert(ptr.to_string()) {
            return;
        }
        let Json::Obj(_) = j else { return };
        let draft = res.draft_at(ptr);
        for (first, keyword, shape) in PATHS {
            if *first > draft {
                continue;
            }
            let Some(v) = j.get(keyword) else { continue };
            let at = format!("{ptr}/{}", escape(keyword));
            match (shape, v) {
                (Shape::One, _) => self.walk(v, res, &at),
                (Shape::Members, Json::Obj(m)) => {
                    for (k, sub) in m {
                        self.walk(sub, res, &format!("{at}/{}", escape(k)));
                    }
                }
                (Shape::Items, Json::Arr(a)) => {
                    for (i, sub) in a.iter().enumerate() {
                        self.walk(sub, res, &format!("{at}/{i}"));
                    }
                }
                _ => {}
            }
        }
    }
}
