//! A small model of the structural OpenAPI v3 schemas that Kubernetes uses for custom resources.
//!
//! Schemas are built in Rust with a fluent builder (`Schema::string().pattern(..)`) or derived from
//! the typed API structs through [`ApiSchema`]. The same model drives publication
//! ([`Schema::to_json`]), defaulting, pruning and validation.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value, json};

/// The `type` of a schema node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A JSON string.
    String,
    /// A JSON number without a fractional part.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
}

impl Type {
    /// The OpenAPI spelling of the type.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }
}

/// A CEL validation rule attached to a schema node (`x-kubernetes-validations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The CEL expression; `self` is the node the rule is attached to.
    pub rule: String,
    /// The message reported when the rule evaluates to false.
    pub message: String,
}

/// A regular expression from a schema, compiled once on first use.
#[derive(Debug)]
pub struct Pattern {
    source: String,
    compiled: OnceLock<Option<Regex>>,
}

impl Clone for Pattern {
    fn clone(&self) -> Self {
        Pattern::new(&self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    fn new(source: &str) -> Self {
        Pattern { source: source.to_owned(), compiled: OnceLock::new() }
    }

    /// The pattern as written in the schema.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `s` matches; a pattern that does not compile matches nothing.
    #[must_use]
    pub fn is_match(&self, s: &str) -> bool {
        self.compiled.get_or_init(|| Regex::new(&self.source).ok()).as_ref().is_some_and(|re| re.is_match(s))
    }
}

/// One node of a structural schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Human readable text, shown by `kubectl explain`.
    pub description: String,
    /// The JSON type; `None` only together with `preserve_unknown_fields` or `int_or_string`.
    pub type_: Option<Type>,
    /// A format such as `int64` or `date-time`.
    pub format: Option<String>,
    /// Named properties of an object.
    pub properties: BTreeMap<String, Schema>,
    /// Property names that must be present.
    pub required: Vec<String>,
    /// The schema of every element of an array.
    pub items: Option<Box<Schema>>,
    /// The schema of every value of a map-like object.
    pub additional_properties: Option<Box<Schema>>,
    /// Allowed values.
    pub enum_values: Vec<Value>,
    /// A regular expression strings must match.
    pub pattern: Option<Pattern>,
    /// The value set when the field is absent.
    pub default: Option<Value>,
    /// Inclusive lower bound for numbers.
    pub minimum: Option<i64>,
    /// Inclusive upper bound for numbers.
    pub maximum: Option<i64>,
    /// Minimum string length in characters.
    pub min_length: Option<u64>,
    /// Maximum string length in characters.
    pub max_length: Option<u64>,
    /// Minimum number of array items.
    pub min_items: Option<u64>,
    /// Maximum number of array items.
    pub max_items: Option<u64>,
    /// Whether `null` is an accepted value.
    pub nullable: bool,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown_fields: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `x-kubernetes-list-type` (`atomic`, `set` or `map`).
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type` (`atomic` or `granular`).
    pub map_type: Option<String>,
    /// `x-kubernetes-validations`.
    pub validations: Vec<Rule>,
}

/// A Go-style duration as accepted by most Flux interval fields.
pub const DURATION: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// A duration without hours, used for timeouts.
pub const TIMEOUT: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";

impl Schema {
    fn of(t: Type) -> Self {
        Schema { type_: Some(t), ..Schema::default() }
    }

    /// A string node.
    #[must_use]
    pub fn string() -> Self {
        Self::of(Type::String)
    }
    /// A boolean node.
    #[must_use]
    pub fn boolean() -> Self {
        Self::of(Type::Boolean)
    }
    /// An integer node.
    #[must_use]
    pub fn integer() -> Self {
        Self::of(Type::Integer)
    }
    /// A number node.
    #[must_use]
    pub fn number() -> Self {
        Self::of(Type::Number)
    }
    /// An object node without properties.
    #[must_use]
    pub fn object() -> Self {
        Self::of(Type::Object)
    }
    /// An array of `items`.
    #[must_use]
    pub fn array(items: Schema) -> Self {
        Schema { items: Some(Box::new(items)), ..Self::of(Type::Array) }
    }
    /// A map from strings to `values`.
    #[must_use]
    pub fn map(values: Schema) -> Self {
        Schema { additional_properties: Some(Box::new(values)), ..Self::of(Type::Object) }
    }
    /// A node that keeps any JSON value (`x-kubernetes-preserve-unknown-fields` without a type).
    #[must_use]
    pub fn any() -> Self {
        Schema { preserve_unknown_fields: true, ..Schema::default() }
    }

    /// Sets the description.
    #[must_use]
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.trim().to_owned();
        self
    }
    /// Adds a property.
    #[must_use]
    pub fn prop(mut self, name: &str, schema: Schema) -> Self {
        self.properties.insert(name.to_owned(), schema);
        self
    }
    /// Adds a property and marks it required.
    #[must_use]
    pub fn req_prop(mut self, name: &str, schema: Schema) -> Self {
        self.required.push(name.to_owned());
        self.prop(name, schema)
    }
    /// Removes a property (and its `required` entry).
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.properties.remove(name);
        self.required.retain(|r| r != name);
        self
    }
    /// Sets the required property names.
    #[must_use]
    pub fn required(mut self, names: &[&str]) -> Self {
        self.required = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets the format.
    #[must_use]
    pub fn format(mut self, format: &str) -> Self {
        self.format = Some(format.to_owned());
        self
    }
    /// Shorthand for `format("int64")`.
    #[must_use]
    pub fn int64(self) -> Self {
        self.format("int64")
    }
    /// Shorthand for `format("date-time")`.
    #[must_use]
    pub fn date_time(self) -> Self {
        self.format("date-time")
    }
    /// Restricts strings to the given values.
    #[must_use]
    pub fn one_of(mut self, values: &[&str]) -> Self {
        self.enum_values = values.iter().map(|v| Value::from(*v)).collect();
        self
    }
    /// Sets the pattern.
    #[must_use]
    pub fn pattern(mut self, re: &str) -> Self {
        self.pattern = Some(Pattern::new(re));
        self
    }
    /// Shorthand for the duration pattern used by interval fields.
    #[must_use]
    pub fn duration(self) -> Self {
        self.pattern(DURATION)
    }
    /// Shorthand for the duration pattern used by timeout fields (no hours).
    #[must_use]
    pub fn timeout(self) -> Self {
        self.pattern(TIMEOUT)
    }
    /// Sets the default value.
    #[must_use]
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }
    /// Sets the default from a JSON literal.
    #[must_use]
    pub fn default_json(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
    /// Sets the inclusive minimum.
    #[must_use]
    pub fn min(mut self, v: i64) -> Self {
        self.minimum = Some(v);
        self
    }
    /// Sets the inclusive maximum.
    #[must_use]
    pub fn max(mut self, v: i64) -> Self {
        self.maximum = Some(v);
        self
    }
    /// Sets minimum and maximum string length.
    #[must_use]
    pub fn len(mut self, min: u64, max: u64) -> Self {
        self.min_length = Some(min);
        self.max_length = Some(max);
        self
    }
    /// Sets the minimum string length.
    #[must_use]
    pub fn min_len(mut self, v: u64) -> Self {
        self.min_length = Some(v);
        self
    }
    /// Sets the maximum string length.
    #[must_use]
    pub fn max_len(mut self, v: u64) -> Self {
        self.max_length = Some(v);
        self
    }
    /// Sets the minimum number of items.
    #[must_use]
    pub fn min_items(mut self, v: u64) -> Self {
        self.min_items = Some(v);
        self
    }
    /// Sets the maximum number of items.
    #[must_use]
    pub fn max_items(mut self, v: u64) -> Self {
        self.max_items = Some(v);
        self
    }
    /// Marks the node nullable.
    #[must_use]
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }
    /// Keeps unknown fields below this node.
    #[must_use]
    pub fn preserve_unknown(mut self) -> Self {
        self.preserve_unknown_fields = true;
        self
    }
    /// Sets `x-kubernetes-list-type`.
    #[must_use]
    pub fn list_type(mut self, t: &str) -> Self {
        self.list_type = Some(t.to_owned());
        self
    }
    /// Sets `x-kubernetes-list-type: map` with the given keys.
    #[must_use]
    pub fn list_map(mut self, keys: &[&str]) -> Self {
        self.list_type = Some("map".to_owned());
        self.list_map_keys = keys.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets `x-kubernetes-map-type`.
    #[must_use]
    pub fn map_type(mut self, t: &str) -> Self {
        self.map_type = Some(t.to_owned());
        self
    }
    /// Adds a CEL rule.
    #[must_use]
    pub fn rule(mut self, rule: &str, message: &str) -> Self {
        self.validations.push(Rule { rule: rule.to_owned(), message: message.to_owned() });
        self
    }
    /// Replaces the schema of an existing property through `f`; unknown names are ignored.
    #[must_use]
    pub fn edit(mut self, name: &str, f: impl FnOnce(Schema) -> Schema) -> Self {
        if let Some(s) = self.properties.remove(name) {
            self.properties.insert(name.to_owned(), f(s));
        }
        self
    }
    /// Edits the item schema of an array node.
    #[must_use]
    pub fn edit_items(mut self, f: impl FnOnce(Schema) -> Schema) -> Self {
        if let Some(items) = self.items.take() {
            self.items = Some(Box::new(f(*items)));
        }
        self
    }
    /// Like [`Schema::edit`], following a dotted path (`[]` steps into array items).
    #[must_use]
    pub fn edit_path(self, path: &str, f: impl FnOnce(Schema) -> Schema) -> Self {
        fn go(mut s: Schema, steps: &[&str], f: Box<dyn FnOnce(Schema) -> Schema + '_>) -> Schema {
            match steps.split_first() {
                None => f(s),
                Some((&"[]", rest)) => {
                    if let Some(items) = s.items.take() {
                        s.items = Some(Box::new(go(*items, rest, f)));
                    }
                    s
                }
                Some((name, rest)) => {
                    if let Some(p) = s.properties.remove(*name) {
                        s.properties.insert((*name).to_owned(), go(p, rest, f));
                    }
                    s
                }
            }
        }
        let steps: Vec<&str> = path
            .split('.')
            .flat_map(|p| if let Some(name) = p.strip_suffix("[]") { vec![name, "[]"] } else { vec![p] })
            .filter(|p| !p.is_empty())
            .collect();
        go(self, &steps, Box::new(f))
    }

    /// Follows a dotted path of property names (`[]` for items, `{}` for map values).
    #[must_use]
    pub fn at(&self, path: &str) -> Option<&Schema> {
        let mut cur = self;
        for step in path.split('.').filter(|s| !s.is_empty()) {
            let (name, suffix) = match step.find(['[', '{']) {
                Some(i) => step.split_at(i),
                None => (step, ""),
            };
            if !name.is_empty() {
                cur = cur.properties.get(name)?;
            }
            let mut rest = suffix;
            while !rest.is_empty() {
                if let Some(r) = rest.strip_prefix("[]") {
                    cur = cur.items.as_deref()?;
                    rest = r;
                } else if let Some(r) = rest.strip_prefix("{}") {
                    cur = cur.additional_properties.as_deref()?;
                    rest = r;
                } else {
                    return None;
                }
            }
        }
        Some(cur)
    }

    /// The schema as OpenAPI v3 JSON, in the shape a CRD's `openAPIV3Schema` has.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(d) = &self.default {
            m.insert("default".into(), d.clone());
        }
        if !self.description.is_empty() {
            m.insert("description".into(), self.description.clone().into());
        }
        if !self.enum_values.is_empty() {
            m.insert("enum".into(), Value::Array(self.enum_values.clone()));
        }
        if let Some(f) = &self.format {
            m.insert("format".into(), f.clone().into());
        }
        if let Some(items) = &self.items {
            m.insert("items".into(), items.to_json());
        }
        if let Some(ap) = &self.additional_properties {
            m.insert("additionalProperties".into(), ap.to_json());
        }
        for (k, v) in [
            ("maxItems", self.max_items),
            ("maxLength", self.max_length),
            ("minItems", self.min_items),
            ("minLength", self.min_length),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.into());
            }
        }
        if let Some(v) = self.maximum {
            m.insert("maximum".into(), v.into());
        }
        if let Some(v) = self.minimum {
            m.insert("minimum".into(), v.into());
        }
        if self.nullable {
            m.insert("nullable".into(), true.into());
        }
        if let Some(p) = &self.pattern {
            m.insert("pattern".into(), p.as_str().into());
        }
        if !self.properties.is_empty() {
            let props: Map<String, Value> = self.properties.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
            m.insert("properties".into(), Value::Object(props));
        }
        if !self.required.is_empty() {
            let mut req = self.required.clone();
            req.sort();
            m.insert("required".into(), json!(req));
        }
        if let Some(t) = self.type_ {
            m.insert("type".into(), t.as_str().into());
        }
        if self.int_or_string {
            m.insert("x-kubernetes-int-or-string".into(), true.into());
        }
        if !self.list_map_keys.is_empty() {
            m.insert("x-kubernetes-list-map-keys".into(), json!(self.list_map_keys));
        }
        if let Some(t) = &self.list_type {
            m.insert("x-kubernetes-list-type".into(), t.clone().into());
        }
        if let Some(t) = &self.map_type {
            m.insert("x-kubernetes-map-type".into(), t.clone().into());
        }
        if self.preserve_unknown_fields {
            m.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        }
        if !self.validations.is_empty() {
            let rules: Vec<Value> =
                self.validations.iter().map(|r| json!({"message": r.message, "rule": r.rule})).collect();
            m.insert("x-kubernetes-validations".into(), Value::Array(rules));
        }
        Value::Object(m)
    }
}

/// Types that know their own schema. Implemented for the scalar types, containers and every
/// API struct (through the `api_struct!` macro).
pub trait ApiSchema {
    /// The schema of a value of this type.
    fn schema() -> Schema;
}

impl ApiSchema for String {
    fn schema() -> Schema {
        Schema::string()
    }
}
impl ApiSchema for bool {
    fn schema() -> Schema {
        Schema::boolean()
    }
}
impl ApiSchema for i64 {
    fn schema() -> Schema {
        Schema::integer()
    }
}
impl ApiSchema for i32 {
    fn schema() -> Schema {
        Schema::integer()
    }
}
impl ApiSchema for Value {
    fn schema() -> Schema {
        Schema::any()
    }
}
impl<T: ApiSchema> ApiSchema for Option<T> {
    fn schema() -> Schema {
        T::schema()
    }
}
impl<T: ApiSchema> ApiSchema for Vec<T> {
    fn schema() -> Schema {
        Schema::array(T::schema())
    }
}
impl<T: ApiSchema> ApiSchema for BTreeMap<String, T> {
    fn schema() -> Schema {
        Schema::map(T::schema())
    }
}

/// Turns a Rust field name into its JSON name (`secret_ref` → `secretRef`, `r#ref` → `ref`).
#[must_use]
pub fn camel_case(rust_name: &str) -> String {
    let name = rust_name.strip_prefix("r#").unwrap_or(rust_name);
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Joins doc-comment lines into one description.
#[must_use]
pub fn doc_text(lines: &[&str]) -> String {
    lines.iter().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n").trim().to_owned()
}

/// Whether serde should leave a field out of the serialized form: `None` options only.
pub trait SkipField {
    /// `true` when the value is absent.
    fn skip_field(&self) -> bool {
        false
    }
}
impl<T> SkipField for Option<T> {
    fn skip_field(&self) -> bool {
        self.is_none()
    }
}
impl SkipField for String {}
impl SkipField for bool {}
impl SkipField for i64 {}
impl SkipField for i32 {}
impl SkipField for Value {}
impl<T> SkipField for Vec<T> {}
impl<T> SkipField for BTreeMap<String, T> {}

/// Used by the generated serde attributes.
#[doc(hidden)]
pub fn skip_field<T: SkipField>(v: &T) -> bool {
    v.skip_field()
}

/// Declares an API struct: the Rust type (with serde) and its schema from one description.
///
/// Each field is written `/// docs` then optionally `@req` (required in the schema), the field
/// name, optionally `as "jsonName"` when camel-casing the Rust name is not right, the type, and
/// optionally `=> modifier(args).modifier(args)` calling [`Schema`] builder methods. Struct-level
/// modifiers go in `@schema modifier(args);` before `pub struct`.
macro_rules! api_struct {
    (
        $(#[doc = $sdoc:literal])*
        $(@schema $($sm:ident ( $($sa:expr),* )).+ ;)?
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $(@$flag:ident)?
                $field:ident $(as $json:literal)? : $ty:ty $(=> $($m:ident ( $($a:expr),* )).+ )?
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                $(#[serde(rename = $json)])?
                #[serde(default, skip_serializing_if = "crate::schema::skip_field")]
                pub $field: $ty,
            )*
        }

        impl crate::schema::SkipField for $name {}

        impl crate::schema::ApiSchema for $name {
            fn schema() -> crate::schema::Schema {
                #[allow(unused_mut)]
                let mut s = crate::schema::Schema::object()
                    .describe(&crate::schema::doc_text(&[$($sdoc),*]))
                    $($(.$sm($($sa),*))+)?;
                $(
                    let json_name = api_struct!(@name $field $($json)?);
                    let field_schema = <$ty as crate::schema::ApiSchema>::schema()
                        .describe(&crate::schema::doc_text(&[$($fdoc),*]))
                        $($(.$m($($a),*))+)?;
                    s = api_struct!(@add s, json_name, field_schema $(, $flag)?);
                )*
                s
            }
        }
    };
    (@name $field:ident) => { crate::schema::camel_case(stringify!($field)) };
    (@name $field:ident $json:literal) => { String::from($json) };
    (@add $s:ident, $n:ident, $f:ident) => { $s.prop(&$n, $f) };
    (@add $s:ident, $n:ident, $f:ident, req) => { $s.req_prop(&$n, $f) };
}
pub(crate) use api_struct;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_names() {
        assert_eq!(camel_case("secret_ref"), "secretRef");
        assert_eq!(camel_case("r#ref"), "ref");
        assert_eq!(camel_case("url"), "url");
    }

    #[test]
    fn at_follows_items_and_maps() {
        let s = Schema::object().prop("a", Schema::array(Schema::object().prop("b", Schema::map(Schema::string()))));
        assert_eq!(s.at("a[].b{}").and_then(|s| s.type_), Some(Type::String));
        assert!(s.at("a.b").is_none());
    }

    #[test]
    fn json_has_sorted_required_and_extensions() {
        let s = Schema::object()
            .req_prop("z", Schema::string())
            .req_prop("a", Schema::integer().int64().min(0))
            .rule("has(self.a)", "a is needed");
        let j = s.to_json();
        assert_eq!(j["required"], json!(["a", "z"]));
        assert_eq!(j["properties"]["a"]["format"], "int64");
        assert_eq!(j["x-kubernetes-validations"][0]["rule"], "has(self.a)");
    }
}
