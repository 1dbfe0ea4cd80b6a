//! Compiling a `values.schema.json` document into validation nodes, as
//! santhosh-tekuri/jsonschema v6 (Helm v4.3.2's validator) reads it: each schema in the draft
//! of its resource (`resources.rs`), `$ref` siblings ignored before 2019-09, formats asserted
//! only before 2019-09 (always, for metaschemas), `$ref`s resolved within the document (JSON
//! pointers and anchors), regular expressions checked as Go's `regexp` checks them.

use std::collections::{BTreeMap, HashMap};

use super::SchemaError;
use super::json::Json;
use super::num::Dec;
use super::refs;
use super::resources::Resources;

/// `additionalProperties`/`additionalItems`: a boolean or a schema.
#[derive(Debug, Clone)]
pub enum Additional {
    /// `true` or `false`.
    Bool(bool),
    /// A schema node.
    Schema(usize),
}

/// `items` before 2020-12: one schema for all, or one per position.
#[derive(Debug, Clone)]
pub enum Items {
    /// One schema.
    One(usize),
    /// A tuple of schemas.
    Tuple(Vec<usize>),
}

/// A `dependencies` entry: required properties or a schema.
#[derive(Debug, Clone)]
pub enum Dependency {
    /// Property names.
    Props(Vec<String>),
    /// A schema node.
    Schema(usize),
}

/// A number keyword's value, with its literal.
#[derive(Debug, Clone)]
pub struct Number {
    /// The value.
    pub dec: Dec,
}

/// One compiled schema.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub(crate) draft: u32,
    pub(crate) boolean: Option<bool>,
    pub(crate) reference: Option<usize>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) constant: Option<Json>,
    pub(crate) enumeration: Option<Vec<Json>>,
    pub(crate) format: Option<String>,
    pub(crate) minimum: Option<Dec>,
    pub(crate) maximum: Option<Dec>,
    pub(crate) exclusive_minimum: Option<Dec>,
    pub(crate) exclusive_maximum: Option<Dec>,
    pub(crate) multiple_of: Option<Dec>,
    pub(crate) min_length: Option<i64>,
    pub(crate) max_length: Option<i64>,
    pub(crate) pattern: Option<(regex::Regex, String)>,
    pub(crate) min_items: Option<i64>,
    pub(crate) max_items: Option<i64>,
    pub(crate) unique_items: bool,
    pub(crate) min_properties: Option<i64>,
    pub(crate) max_properties: Option<i64>,
    pub(crate) required: Vec<String>,
    pub(crate) properties: BTreeMap<String, usize>,
    pub(crate) pattern_properties: Vec<(regex::Regex, usize)>,
    pub(crate) additional_properties: Option<Additional>,
    pub(crate) dependencies: Vec<(String, Dependency)>,
    pub(crate) property_names: Option<usize>,
    pub(crate) dependent_schemas: Vec<(String, usize)>,
    pub(crate) dependent_required: Vec<(String, Vec<String>)>,
    pub(crate) items: Option<Items>,
    pub(crate) additional_items: Option<Additional>,
    pub(crate) prefix_items: Vec<usize>,
    pub(crate) items2020: Option<usize>,
    pub(crate) contains: Option<usize>,
    pub(crate) min_contains: Option<i64>,
    pub(crate) max_contains: Option<i64>,
    pub(crate) not: Option<usize>,
    pub(crate) all_of: Vec<usize>,
    pub(crate) any_of: Vec<usize>,
    pub(crate) one_of: Vec<usize>,
    pub(crate) if_: Option<usize>,
    pub(crate) then_: Option<usize>,
    pub(crate) else_: Option<usize>,
    pub(crate) unevaluated_properties: Option<usize>,
    pub(crate) unevaluated_items: Option<usize>,
    /// The root of the resource (the document, or a subschema with `$id`) holding this node.
    pub(crate) resource: usize,
    /// `$recursiveAnchor: true` (2019-09).
    pub(crate) recursive_anchor: bool,
    /// `$recursiveRef`'s initial target (2019-09).
    pub(crate) recursive_ref: Option<usize>,
    /// `$dynamicAnchor` (2020-12).
    pub(crate) dynamic_anchor: Option<String>,
    /// `$dynamicRef`'s initial target and the anchor its fragment names, if any (2020-12).
    pub(crate) dynamic_ref: Option<(usize, Option<String>)>,
    /// On a resource root: the `$dynamicAnchor`s its resource declares (2020-12).
    pub(crate) dynamic_anchors: Vec<(String, usize)>,
    /// Items the schema evaluates by position (`prefixItems`, a tuple `items`), and whether it
    /// evaluates them all (`items`, `additionalItems`): what `unevaluatedItems` starts from.
    pub(crate) num_items_evaluated: usize,
    pub(crate) all_items_evaluated: bool,
}

/// The formats the validator asserts (the others are annotations only).
const FORMATS: &[&str] = &[
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
    "duration",
    "period",
    "json-pointer",
    "relative-json-pointer",
    "date",
    "time",
    "date-time",
    "uri",
    "iri",
    "uri-reference",
    "iri-reference",
    "uri-template",
    "semver",
    "regex",
];

/// A compiled schema document: node 0 is the first entry compiled (the root, for
/// [`compile`]).
#[derive(Debug, Default)]
pub struct Compiled {
    pub(crate) nodes: Vec<Node>,
}

/// Called with the pointer of each schema before it is compiled; its error ends compiling.
pub(crate) type Ensure<'e> = dyn FnMut(&str) -> Result<(), SchemaError> + 'e;

struct Compiler<'a, 'e> {
    root: &'a Json,
    res: &'a Resources,
    ensure: &'a mut Ensure<'e>,
    /// Assert every format the validator knows, whatever the draft (as for metaschemas).
    assert_format: bool,
    nodes: Vec<Node>,
    by_ptr: HashMap<String, usize>,
}

/// Compiles a schema document.
pub fn compile(root: &Json) -> Result<Compiled, SchemaError> {
    let res = Resources::collect(root, refs::DOCUMENT_URL)?;
    Ok(compile_entries(root, &res, &[""], false, &mut |_| Ok(()))?.0)
}

/// Compiles the schemas at `entries` (pointers into `root`, whose resources are `res`) and
/// what they reach, calling `ensure` before each; their node indices, in order.
pub(crate) fn compile_entries(
    root: &Json,
    res: &Resources,
    entries: &[&str],
    assert_format: bool,
    ensure: &mut Ensure<'_>,
) -> Result<(Compiled, Vec<usize>), SchemaError> {
    let mut c = Compiler { root, res, ensure, assert_format, nodes: Vec::new(), by_ptr: HashMap::new() };
    let idx = entries.iter().map(|e| c.node(e)).collect::<Result<Vec<_>, _>>()?;
    Ok((Compiled { nodes: c.nodes }, idx))
}

fn escape(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

/// Compiles a `pattern` or `patternProperties` regular expression; the library's error when
/// Go's `regexp` rejects it (the keyword's location in the document, the `regexp/syntax`
/// error), or the `regex` crate's when only that rejects it.
fn regex(pat: &str, ptr: &str, keyword: &str) -> Result<regex::Regex, SchemaError> {
    let reason = match super::goregex::check(pat) {
        Err(go) => go,
        Ok(()) => match regex::Regex::new(pat) {
            Ok(re) => return Ok(re),
            Err(e) => format!("not supported by Eddy's regex engine: {e}"),
        },
    };
    let at = format!("{}#{}", refs::DOCUMENT_URL, refs::encode_pointer(&format!("{ptr}/{}", escape(keyword))));
    Err(SchemaError::InvalidRegex { regex: pat.to_string(), at, reason })
}

/// The value at JSON pointer `ptr` in `root`.
pub(crate) fn lookup<'j>(root: &'j Json, ptr: &str) -> Option<&'j Json> {
    let mut cur = root;
    if ptr.is_empty() {
        return Some(cur);
    }
    for tok in ptr.strip_prefix('/')?.split('/') {
        let tok = tok.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Json::Obj(_) => cur.get(&tok)?,
            Json::Arr(a) => a.get(tok.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

impl Compiler<'_, '_> {
    fn node(&mut self, ptr: &str) -> Result<usize, SchemaError> {
        if let Some(&i) = self.by_ptr.get(ptr) {
            return Ok(i);
        }
        let json = lookup(self.root, ptr).ok_or_else(|| SchemaError::UnresolvedRef(format!("#{ptr}")))?;
        (self.ensure)(ptr)?;
        let idx = self.nodes.len();
        self.nodes.push(Node::default());
        self.by_ptr.insert(ptr.to_string(), idx);
        let mut node = self.build(json, ptr)?;
        if self.res.resource_of(ptr) == ptr {
            node.resource = idx;
        }
        self.nodes[idx] = node;
        Ok(idx)
    }

    fn sub(&mut self, ptr: &str, key: &str) -> Result<Option<usize>, SchemaError> {
        match lookup(self.root, ptr).and_then(|j| j.get(key)) {
            Some(_) => Ok(Some(self.node(&format!("{ptr}/{}", escape(key)))?)),
            None => Ok(None),
        }
    }

    fn sub_arr(&mut self, obj: &Json, ptr: &str, key: &str) -> Result<Vec<usize>, SchemaError> {
        let n = match obj.get(key) {
            Some(Json::Arr(a)) => a.len(),
            _ => 0,
        };
        (0..n).map(|i| self.node(&format!("{ptr}/{}/{i}", escape(key)))).collect()
    }

    fn sub_map(&mut self, obj: &Json, ptr: &str, key: &str) -> Result<Vec<(String, usize)>, SchemaError> {
        let keys: Vec<String> = match obj.get(key) {
            Some(Json::Obj(m)) => m.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        };
        keys.into_iter()
            .map(|k| {
                let i = self.node(&format!("{ptr}/{}/{}", escape(key), escape(&k)))?;
                Ok((k, i))
            })
            .collect()
    }

    fn additional(&mut self, obj: &Json, ptr: &str, key: &str) -> Result<Option<Additional>, SchemaError> {
        Ok(match obj.get(key) {
            None => None,
            Some(Json::Bool(b)) => Some(Additional::Bool(*b)),
            Some(_) => self.sub(ptr, key)?.map(Additional::Schema),
        })
    }

    fn build(&mut self, json: &Json, ptr: &str) -> Result<Node, SchemaError> {
        let draft = self.res.draft_at(ptr);
        let mut n = Node { draft, ..Node::default() };
        let obj = match json {
            Json::Bool(b) => {
                n.boolean = Some(*b);
                return Ok(n);
            }
            Json::Obj(_) => json,
            _ => return Ok(n),
        };
        let int = |k: &str| match obj.get(k) {
            Some(Json::Num(t)) => t.parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64),
            _ => None,
        };
        let num = |k: &str| match obj.get(k) {
            Some(Json::Num(t)) => Dec::parse(t),
            _ => None,
        };
        let strings = |k: &str| match obj.get(k) {
            Some(Json::Arr(a)) => a.iter().filter_map(Json::as_str).map(String::from).collect(),
            _ => Vec::new(),
        };
        let res_ptr = self.res.resource_of(ptr).to_string();
        if res_ptr == ptr {
            for (name, p) in self.res.dynamic_anchors(ptr) {
                n.dynamic_anchors.push((name, self.node(&p)?));
            }
        } else {
            n.resource = self.node(&res_ptr)?;
        }
        if let Some(Json::Str(r)) = obj.get("$ref") {
            let (target, _) = self.res.resolve(r, ptr)?;
            n.reference = Some(self.node(&target)?);
            if draft < 2019 {
                return Ok(n);
            }
        }
        n.all_of = self.sub_arr(obj, ptr, "allOf")?;
        n.any_of = self.sub_arr(obj, ptr, "anyOf")?;
        n.one_of = self.sub_arr(obj, ptr, "oneOf")?;
        n.not = self.sub(ptr, "not")?;
        if draft < 2020 {
            match obj.get("items") {
                Some(Json::Arr(_)) => {
                    n.items = Some(Items::Tuple(self.sub_arr(obj, ptr, "items")?));
                    n.additional_items = self.additional(obj, ptr, "additionalItems")?;
                }
                Some(_) => n.items = self.sub(ptr, "items")?.map(Items::One),
                None => {}
            }
        }
        n.properties = self.sub_map(obj, ptr, "properties")?.into_iter().collect();
        for (pat, i) in self.sub_map(obj, ptr, "patternProperties")? {
            n.pattern_properties.push((regex(&pat, ptr, "patternProperties")?, i));
        }
        n.additional_properties = self.additional(obj, ptr, "additionalProperties")?;
        if let Some(Json::Obj(deps)) = obj.get("dependencies") {
            for (k, v) in deps {
                let d = match v {
                    Json::Arr(a) => Dependency::Props(a.iter().filter_map(Json::as_str).map(String::from).collect()),
                    _ => Dependency::Schema(self.node(&format!("{ptr}/dependencies/{}", escape(k)))?),
                };
                n.dependencies.push((k.clone(), d));
            }
        }
        n.types = match obj.get("type") {
            Some(Json::Str(t)) => types(&[t.as_str()]),
            Some(Json::Arr(a)) => types(&a.iter().filter_map(Json::as_str).collect::<Vec<_>>()),
            _ => Vec::new(),
        };
        if let Some(Json::Arr(a)) = obj.get("enum") {
            n.enumeration = Some(a.clone());
        }
        n.multiple_of = num("multipleOf");
        n.maximum = num("maximum");
        n.minimum = num("minimum");
        if obj.get("exclusiveMaximum") == Some(&Json::Bool(true)) {
            n.exclusive_maximum = n.maximum.take();
        } else {
            n.exclusive_maximum = num("exclusiveMaximum");
        }
        if obj.get("exclusiveMinimum") == Some(&Json::Bool(true)) {
            n.exclusive_minimum = n.minimum.take();
        } else {
            n.exclusive_minimum = num("exclusiveMinimum");
        }
        n.min_length = int("minLength");
        n.max_length = int("maxLength");
        if let Some(Json::Str(p)) = obj.get("pattern") {
            n.pattern = Some((regex(p, ptr, "pattern")?, p.clone()));
        }
        n.min_items = int("minItems");
        n.max_items = int("maxItems");
        n.unique_items = obj.get("uniqueItems") == Some(&Json::Bool(true));
        n.min_properties = int("minProperties");
        n.max_properties = int("maxProperties");
        n.required = strings("required");
        if (draft < 2019 || self.assert_format)
            && let Some(Json::Str(f)) = obj.get("format")
            && FORMATS.contains(&f.as_str())
        {
            n.format = Some(f.clone());
        }
        if draft >= 6 {
            n.constant = obj.get("const").cloned();
            n.contains = self.sub(ptr, "contains")?;
            n.property_names = self.sub(ptr, "propertyNames")?;
        }
        if draft >= 7 {
            n.if_ = self.sub(ptr, "if")?;
            n.then_ = self.sub(ptr, "then")?;
            n.else_ = self.sub(ptr, "else")?;
        }
        if draft >= 2019 {
            n.dependent_schemas = self.sub_map(obj, ptr, "dependentSchemas")?;
            if let Some(Json::Obj(m)) = obj.get("dependentRequired") {
                for (k, v) in m {
                    let props = match v {
                        Json::Arr(a) => a.iter().filter_map(Json::as_str).map(String::from).collect(),
                        _ => Vec::new(),
                    };
                    n.dependent_required.push((k.clone(), props));
                }
            }
            n.min_contains = int("minContains");
            n.unevaluated_properties = self.sub(ptr, "unevaluatedProperties")?;
            n.unevaluated_items = self.sub(ptr, "unevaluatedItems")?;
            n.max_contains = int("maxContains");
        }
        if draft >= 2019 {
            if let Some(Json::Str(r)) = obj.get("$recursiveRef") {
                let (target, _) = self.res.resolve(r, ptr)?;
                n.recursive_ref = Some(self.node(&target)?);
            }
            n.recursive_anchor = obj.get("$recursiveAnchor") == Some(&Json::Bool(true));
        }
        if draft >= 2020 {
            if let Some(Json::Str(r)) = obj.get("$dynamicRef") {
                let (target, anchor) = self.res.resolve(r, ptr)?;
                n.dynamic_ref = Some((self.node(&target)?, anchor));
            }
            n.dynamic_anchor = obj.get("$dynamicAnchor").and_then(Json::as_str).map(String::from);
            n.prefix_items = self.sub_arr(obj, ptr, "prefixItems")?;
            n.items2020 = self.sub(ptr, "items")?;
            n.all_items_evaluated = n.items2020.is_some();
            n.num_items_evaluated = n.prefix_items.len();
        } else {
            n.all_items_evaluated = n.additional_items.is_some() || matches!(n.items, Some(Items::One(_)));
            if let Some(Items::Tuple(t)) = &n.items {
                n.num_items_evaluated = t.len();
            }
        }
        Ok(n)
    }
}

/// The `type` names in the validator's fixed order.
fn types(names: &[&str]) -> Vec<&'static str> {
    ["null", "boolean", "number", "integer", "string", "array", "object"]
        .into_iter()
        .filter(|t| names.contains(t))
        .collect()
}
