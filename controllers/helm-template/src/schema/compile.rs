//! Compiling a `values.schema.json` document into validation nodes, as
//! santhosh-tekuri/jsonschema v6 (Helm v4.3.2's validator) reads it: the draft from `$schema`
//! (2020-12 when absent), `$ref` siblings ignored before 2019-09, formats asserted only
//! before 2019-09, `$ref`s resolved within the document (JSON pointers and anchors).

use std::collections::{BTreeMap, HashMap};

use super::SchemaError;
use super::json::Json;
use super::num::Dec;
use super::refs;

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

/// A compiled schema document: node 0 is the root.
#[derive(Debug, Default)]
pub struct Compiled {
    pub(crate) nodes: Vec<Node>,
}

struct Compiler<'a> {
    root: &'a Json,
    draft: u32,
    nodes: Vec<Node>,
    by_ptr: HashMap<String, usize>,
    /// `(resource pointer, anchor)` → schema pointer.
    anchors: HashMap<(String, String), String>,
    /// Resource pointer → its `$dynamicAnchor` names and schema pointers.
    dynamic_anchors: HashMap<String, Vec<(String, String)>>,
    /// Pointers of the resource roots: the document and subschemas with an `$id` URL.
    resources: std::collections::BTreeSet<String>,
    /// Resource pointer → its absolute base URI.
    bases: HashMap<String, String>,
    /// Absolute URI → resource pointer.
    ids: HashMap<String, String>,
}

/// Compiles a schema document.
pub fn compile(root: &Json) -> Result<Compiled, SchemaError> {
    let draft = match root.get("$schema").and_then(Json::as_str) {
        None => 2020,
        Some(url) => draft_from_url(url).ok_or_else(|| SchemaError::UnsupportedMetaSchema(url.to_string()))?,
    };
    let mut c = Compiler {
        root,
        draft,
        nodes: Vec::new(),
        by_ptr: HashMap::new(),
        anchors: HashMap::new(),
        dynamic_anchors: HashMap::new(),
        resources: std::collections::BTreeSet::from([String::new()]),
        bases: HashMap::new(),
        ids: HashMap::from([(refs::DOCUMENT_URL.to_string(), String::new())]),
    };
    let root_id = c.id_of(root).map(|id| id.split_once('#').map_or(id, |(u, _)| u)).filter(|u| !u.is_empty());
    let base = root_id.map_or_else(|| refs::DOCUMENT_URL.to_string(), |u| refs::resolve(refs::DOCUMENT_URL, u));
    c.ids.insert(base.clone(), String::new());
    c.bases.insert(String::new(), base);
    c.collect_anchors(root, "", "");
    c.node("")?;
    Ok(Compiled { nodes: c.nodes })
}

fn draft_from_url(url: &str) -> Option<u32> {
    let (u, frag) = url.split_once('#').unwrap_or((url, ""));
    if !frag.is_empty() {
        return None;
    }
    let u = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://")).unwrap_or(u);
    Some(match u {
        "json-schema.org/schema" | "json-schema.org/draft/2020-12/schema" => 2020,
        "json-schema.org/draft/2019-09/schema" => 2019,
        "json-schema.org/draft-07/schema" => 7,
        "json-schema.org/draft-06/schema" => 6,
        "json-schema.org/draft-04/schema" => 4,
        _ => return None,
    })
}

fn escape(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

fn lookup<'j>(root: &'j Json, ptr: &str) -> Option<&'j Json> {
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

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Compiler<'_> {
    /// The schema's `$id` (`id` in draft 4), unless a sibling `$ref` hides it (before 2019-09).
    fn id_of<'j>(&self, j: &'j Json) -> Option<&'j str> {
        if self.draft < 2019 && j.get("$ref").is_some() {
            return None;
        }
        j.get(if self.draft == 4 { "id" } else { "$id" }).and_then(Json::as_str)
    }

    fn collect_anchors(&mut self, j: &Json, ptr: &str, res: &str) {
        let mut res = res.to_string();
        match j {
            Json::Obj(members) => {
                let id = self.id_of(j).map(|id| id.split_once('#').unwrap_or((id, "")));
                if let Some((u, _)) = id
                    && !u.is_empty()
                    && !ptr.is_empty()
                {
                    let base = self.bases.get(&res).cloned().unwrap_or_default();
                    let abs = refs::resolve(&base, u);
                    res = ptr.to_string();
                    self.resources.insert(res.clone());
                    self.ids.entry(abs.clone()).or_insert_with(|| res.clone());
                    self.bases.insert(res.clone(), abs);
                }
                let anchor = |a: &str| (res.clone(), a.to_string());
                if self.draft >= 2019 {
                    if let Some(a) = j.get("$anchor").and_then(Json::as_str) {
                        self.anchors.insert(anchor(a), ptr.to_string());
                    }
                    if self.draft >= 2020
                        && let Some(a) = j.get("$dynamicAnchor").and_then(Json::as_str)
                    {
                        self.anchors.insert(anchor(a), ptr.to_string());
                        self.dynamic_anchors.entry(res.clone()).or_default().push((a.to_string(), ptr.to_string()));
                    }
                } else if let Some((_, a)) = id
                    && !a.is_empty()
                    && !a.starts_with('/')
                {
                    self.anchors.insert(anchor(a), ptr.to_string());
                }
                for (k, v) in members {
                    if k != "enum" && k != "const" {
                        self.collect_anchors(v, &format!("{ptr}/{}", escape(k)), &res);
                    }
                }
            }
            Json::Arr(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.collect_anchors(v, &format!("{ptr}/{i}"), &res);
                }
            }
            _ => {}
        }
    }

    /// The pointer of the resource holding the schema at `ptr`.
    fn resource_of(&self, ptr: &str) -> String {
        let mut p = ptr;
        loop {
            if self.resources.contains(p) {
                return p.to_string();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return String::new(),
            }
        }
    }

    /// A reference's target pointer, and the anchor its fragment names (if it names one).
    /// The reference resolves against the base URI of the resource holding `from`; it must
    /// name the document or one of its resources (`$id`s), and its fragment resolves within
    /// that resource.
    fn resolve(&self, reference: &str, from: &str) -> Result<(String, Option<String>), SchemaError> {
        let (u, frag) = reference.split_once('#').unwrap_or((reference, ""));
        let mut res = self.resource_of(from);
        if !u.is_empty() {
            let base = self.bases.get(&res).map_or(refs::DOCUMENT_URL, String::as_str);
            let abs = refs::resolve(base, u);
            res = self.ids.get(&abs).cloned().ok_or_else(|| SchemaError::UnsupportedRef(reference.to_string()))?;
        }
        let frag = percent_decode(frag);
        if frag.is_empty() || frag.starts_with('/') {
            return Ok((format!("{res}{frag}"), None));
        }
        match self.anchors.get(&(res, frag.clone())) {
            Some(p) => Ok((p.clone(), Some(frag))),
            None => Err(SchemaError::UnresolvedRef(reference.to_string())),
        }
    }

    fn node(&mut self, ptr: &str) -> Result<usize, SchemaError> {
        if let Some(&i) = self.by_ptr.get(ptr) {
            return Ok(i);
        }
        let json = lookup(self.root, ptr).ok_or_else(|| SchemaError::UnresolvedRef(format!("#{ptr}")))?;
        let idx = self.nodes.len();
        self.nodes.push(Node::default());
        self.by_ptr.insert(ptr.to_string(), idx);
        let mut node = self.build(json, ptr)?;
        if self.resource_of(ptr) == ptr {
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
        let mut n = Node { draft: self.draft, ..Node::default() };
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
        let res_ptr = self.resource_of(ptr);
        if res_ptr == ptr {
            for (name, p) in self.dynamic_anchors.get(ptr).cloned().unwrap_or_default() {
                n.dynamic_anchors.push((name, self.node(&p)?));
            }
        } else {
            n.resource = self.node(&res_ptr)?;
        }
        if let Some(Json::Str(r)) = obj.get("$ref") {
            let (target, _) = self.resolve(r, ptr)?;
            n.reference = Some(self.node(&target)?);
            if self.draft < 2019 {
                return Ok(n);
            }
        }
        n.all_of = self.sub_arr(obj, ptr, "allOf")?;
        n.any_of = self.sub_arr(obj, ptr, "anyOf")?;
        n.one_of = self.sub_arr(obj, ptr, "oneOf")?;
        n.not = self.sub(ptr, "not")?;
        if self.draft < 2020 {
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
            let re = regex::Regex::new(&pat).map_err(|_| SchemaError::InvalidRegex(pat.clone()))?;
            n.pattern_properties.push((re, i));
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
            let re = regex::Regex::new(p).map_err(|_| SchemaError::InvalidRegex(p.clone()))?;
            n.pattern = Some((re, p.clone()));
        }
        n.min_items = int("minItems");
        n.max_items = int("maxItems");
        n.unique_items = obj.get("uniqueItems") == Some(&Json::Bool(true));
        n.min_properties = int("minProperties");
        n.max_properties = int("maxProperties");
        n.required = strings("required");
        if self.draft < 2019
            && let Some(Json::Str(f)) = obj.get("format")
            && FORMATS.contains(&f.as_str())
        {
            n.format = Some(f.clone());
        }
        if self.draft >= 6 {
            n.constant = obj.get("const").cloned();
            n.contains = self.sub(ptr, "contains")?;
            n.property_names = self.sub(ptr, "propertyNames")?;
        }
        if self.draft >= 7 {
            n.if_ = self.sub(ptr, "if")?;
            n.then_ = self.sub(ptr, "then")?;
            n.else_ = self.sub(ptr, "else")?;
        }
        if self.draft >= 2019 {
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
        if self.draft >= 2019 {
            if let Some(Json::Str(r)) = obj.get("$recursiveRef") {
                let (target, _) = self.resolve(r, ptr)?;
                n.recursive_ref = Some(self.node(&target)?);
            }
            n.recursive_anchor = obj.get("$recursiveAnchor") == Some(&Json::Bool(true));
        }
        if self.draft >= 2020 {
            if let Some(Json::Str(r)) = obj.get("$dynamicRef") {
                let (target, anchor) = self.resolve(r, ptr)?;
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
