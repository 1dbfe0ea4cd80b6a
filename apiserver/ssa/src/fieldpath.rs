//! Field paths and sets of them, and their `FieldsV1` encoding (structured-merge-diff's
//! `fieldpath` package).
//!
//! A [`Set`] is a trie: `members` are the paths that end at this node, `children` hold the
//! longer paths. In `FieldsV1` every path element becomes a key (`f:name` for a field, `k:{json}`
//! for an item of a list keyed by fields, `v:json` for an item of a set, `i:N` for a list index),
//! and `"."` inside a child marks that the child is itself a member. Keys are written in the
//! order of [`PathElement`]'s `Ord` (field names, then keys, then values, then indexes), which
//! is the order kube-apiserver writes them in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::value::{compare, to_go_string, write_go_json, write_go_json_string};

/// One step of a [`Path`].
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of a map or struct: `.name`, `f:name`.
    Field(String),
    /// An item of an associative list, identified by its key fields (sorted by name):
    /// `[name="a"]`, `k:{"name":"a"}`.
    Key(Vec<(String, Value)>),
    /// An item of a set (associative list of scalars): `[="a"]`, `v:"a"`.
    Value(Value),
    /// A list position (only in deduced, non-associative contexts): `[0]`, `i:0`.
    Index(i64),
}

impl PathElement {
    /// A field element.
    #[must_use]
    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_owned())
    }

    /// A key element from name/value pairs (sorted here).
    #[must_use]
    pub fn key(fields: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        fields.sort_by(compare_field);
        PathElement::Key(fields)
    }

    fn variant_rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key of this element (`f:`, `k:`, `v:`, `i:`).
    #[must_use]
    pub fn to_fields_key(&self) -> String {
        let mut out = String::new();
        match self {
            PathElement::Field(name) => {
                out.push_str("f:");
                out.push_str(name);
            }
            PathElement::Key(fields) => {
                out.push_str("k:{");
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    // Field names are written by json-iterator without HTML escaping, values with.
                    write_go_json_string(&mut out, name, false);
                    out.push(':');
                    write_go_json(&mut out, v, true);
                }
                out.push('}');
            }
            PathElement::Value(v) => {
                out.push_str("v:");
                write_go_json(&mut out, v, true);
            }
            PathElement::Index(i) => {
                out.push_str("i:");
                out.push_str(&i.to_string());
            }
        }
        out
    }

    /// Parses a `FieldsV1` key. `Ok(None)` for an unknown element type, which kube skips.
    ///
    /// # Errors
    /// A malformed key.
    pub fn from_fields_key(s: &str) -> Result<Option<Self>, FieldsError> {
        let bad = |msg: String| FieldsError(msg);
        let b = s.as_bytes();
        if b.len() < 2 {
            return Err(bad(format!("key must be 2 characters long: {s}")));
        }
        if b[1] != b':' {
            return Err(bad(format!("missing colon: {s}")));
        }
        let rest = &s[2..];
        Ok(Some(match b[0] {
            b'f' => PathElement::Field(rest.to_owned()),
            b'v' => {
                let v: Value = serde_json::from_str(rest).map_err(|e| bad(format!("parsing {s}: {e}")))?;
                PathElement::Value(v)
            }
            b'k' => {
                let v: Value = serde_json::from_str(rest).map_err(|e| bad(format!("parsing {s}: {e}")))?;
                let Value::Object(m) = v else {
                    return Err(bad(format!("parsing {s}: expected an object")));
                };
                PathElement::key(m)
            }
            b'i' => PathElement::Index(rest.parse().map_err(|e| bad(format!("parsing {s}: {e}")))?),
            _ => return Ok(None),
        }))
    }
}

fn compare_field(a: &(String, Value), b: &(String, Value)) -> Ordering {
    a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| compare(&a.1, &b.1))
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.as_bytes().cmp(b.as_bytes()),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let c = compare_field(x, y);
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.variant_rank().cmp(&other.variant_rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", to_go_string(v))).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", to_go_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A sequence of path elements, printed as kube prints conflicting fields (`.spec.list[name="a"].x`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names.
    #[must_use]
    pub fn fields(names: &[&str]) -> Self {
        Path(names.iter().map(|n| PathElement::field(n)).collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

/// A malformed `FieldsV1` document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldsError(pub String);

/// A set of field paths (structured-merge-diff's `fieldpath.Set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// The empty set.
    #[must_use]
    pub fn new() -> Self {
        Set::default()
    }

    /// A set of the given paths.
    #[must_use]
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Self {
        let mut s = Set::new();
        for p in paths {
            s.insert(&p.0);
        }
        s
    }

    /// Adds a path (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut cur = self;
        for pe in parents {
            cur = cur.children.entry(pe.clone()).or_default();
        }
        cur.members.insert(last.clone());
    }

    /// Whether a path is in the set.
    #[must_use]
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((last, parents)) = path.split_last() else { return false };
        let mut cur = self;
        for pe in parents {
            match cur.children.get(pe) {
                Some(c) => cur = c,
                None => return false,
            }
        }
        cur.members.contains(last)
    }

    /// Whether the set holds no path.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Number of paths.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(Set::len).sum::<usize>()
    }

    /// The paths below `pe` (without the prefix), or the empty set.
    #[must_use]
    pub fn with_prefix(&self, pe: &PathElement) -> Set {
        self.children.get(pe).cloned().unwrap_or_default()
    }

    pub(crate) fn members(&self) -> &BTreeSet<PathElement> {
        &self.members
    }

    pub(crate) fn children(&self) -> &BTreeMap<PathElement, Set> {
        &self.children
    }

    pub(crate) fn from_parts(members: BTreeSet<PathElement>, children: BTreeMap<PathElement, Set>) -> Self {
        Set { members, children }
    }

    /// Paths in either set.
    #[must_use]
    pub fn union(&self, other: &Set) -> Set {
        let members = self.members.union(&other.members).cloned().collect();
        let mut children = self.children.clone();
        for (pe, s) in &other.children {
            match children.get_mut(pe) {
                Some(mine) => *mine = mine.union(s),
                None => {
                    children.insert(pe.clone(), s.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Paths in both sets.
    #[must_use]
    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let i = s.intersection(o);
                if !i.is_empty() {
                    children.insert(pe.clone(), i);
                }
            }
        }
        Set { members, children }
    }

    /// Paths of `self` not in `other` (a member of `other` does not remove longer paths).
    #[must_use]
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            match other.children.get(pe) {
                Some(o) => {
                    let d = s.difference(o);
                    if !d.is_empty() {
                        children.insert(pe.clone(), d);
                    }
                }
                None => {
                    children.insert(pe.clone(), s.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Like [`Set::difference`], but a member of `other` also removes every longer path below it.
    #[must_use]
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            match other.children.get(pe) {
                Some(o) => {
                    let d = s.recursive_difference(o);
                    if !d.is_empty() {
                        children.insert(pe.clone(), d);
                    }
                }
                None => {
                    children.insert(pe.clone(), s.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Every path, in kube's iteration order (members of a node before its children).
    #[must_use]
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(Path(p));
        }
        for (pe, s) in &self.children {
            prefix.push(pe.clone());
            s.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The set as a `FieldsV1` JSON object, keys in kube's order.
    #[must_use]
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !(self.members.is_empty() && self.children.is_empty()) {
            out.insert(".".to_owned(), Value::Object(Map::new()));
        }
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            let next = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(m), Some((c, _))) => (*m).cmp(*c),
            };
            match next {
                Ordering::Less => {
                    let m = members.next().unwrap_or_else(|| unreachable!());
                    out.insert(m.to_fields_key(), Value::Object(Map::new()));
                }
                Ordering::Greater => {
                    let (c, s) = children.next().unwrap_or_else(|| unreachable!());
                    out.insert(c.to_fields_key(), Value::Object(s.emit(false)));
                }
                Ordering::Equal => {
                    members.next();
                    let (c, s) = children.next().unwrap_or_else(|| unreachable!());
                    out.insert(c.to_fields_key(), Value::Object(s.emit(true)));
                }
            }
        }
        out
    }

    /// The set as `FieldsV1` JSON text, byte for byte as kube-apiserver writes it.
    #[must_use]
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::new();
        write_fields(&mut out, &self.emit(false));
        out
    }

    /// Parses a `FieldsV1` object.
    ///
    /// # Errors
    /// A value that is not an object of objects, or a malformed key.
    pub fn from_fields_v1(v: &Value) -> Result<Set, FieldsError> {
        let (children, _) = read_fields(v)?;
        Ok(children.unwrap_or_default())
    }
}

fn write_fields(out: &mut String, m: &Map<String, Value>) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_go_json_string(out, k, false);
        out.push(':');
        match v {
            Value::Object(c) => write_fields(out, c),
            other => write_go_json(out, other, false),
        }
    }
    out.push('}');
}

/// Reads one node: its children (if any) and whether it is a member itself.
fn read_fields(v: &Value) -> Result<(Option<Set>, bool), FieldsError> {
    let Value::Object(m) = v else {
        return Err(FieldsError(format!("expected an object in FieldsV1, got {v}")));
    };
    let mut children: Option<Set> = None;
    let mut is_member = false;
    for (k, child) in m {
        if k == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::from_fields_key(k)? else { continue };
        let (grandchildren, child_is_member) = read_fields(child)?;
        if child_is_member {
            children.get_or_insert_with(Set::new).members.insert(pe.clone());
        }
        if let Some(g) = grandchildren {
            let c = children.get_or_insert_with(Set::new);
            match c.children.get_mut(&pe) {
                Some(existing) => *existing = existing.union(&g),
                None => {
                    c.children.insert(pe, g);
                }
            }
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}

impl fmt::Display for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<String> = self.paths().iter().map(ToString::to_string).collect();
        write!(f, "{}", paths.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(elems: Vec<PathElement>) -> Path {
        Path(elems)
    }

    #[test]
    fn fields_v1_round_trip_and_order() {
        let text = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:list":{"k:{\"name\":\"a\",\"port\":80}":{".":{},"f:name":{}},"v:\"x\"":{}},"f:url":{}}}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let s = Set::from_fields_v1(&v).unwrap();
        assert_eq!(s.to_fields_v1_string(), text);
        assert_eq!(s.to_fields_v1(), v);
        assert!(s.has(&p(vec![PathElement::field("metadata"), PathElement::field("labels")]).0));
        assert_eq!(s.len(), 6);
        let printed: Vec<String> = s.paths().iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.url",
                ".spec.list[name=\"a\",port=80]",
                ".spec.list[=\"x\"]",
                ".spec.list[name=\"a\",port=80].name",
            ]
        );
    }

    #[test]
    fn keys_sort_fields_before_keys_before_values_before_indexes() {
        let mut s = Set::new();
        s.insert(&[PathElement::Index(0)]);
        s.insert(&[PathElement::Value(json!("a"))]);
        s.insert(&[PathElement::key([("name".to_owned(), json!("z"))])]);
        s.insert(&[PathElement::field("b")]);
        s.insert(&[PathElement::field("B")]);
        assert_eq!(s.to_fields_v1_string(), r#"{"f:B":{},"f:b":{},"k:{\"name\":\"z\"}":{},"v:\"a\"":{},"i:0":{}}"#);
    }

    #[test]
    fn set_algebra() {
        let spec = PathElement::field("spec");
        let a = PathElement::field("a");
        let b = PathElement::field("b");
        let mut x = Set::new();
        x.insert(std::slice::from_ref(&spec));
        x.insert(&[spec.clone(), a.clone()]);
        let mut y = Set::new();
        y.insert(&[spec.clone(), b.clone()]);
        y.insert(&[spec.clone(), a.clone()]);
        assert_eq!(x.intersection(&y).paths(), vec![p(vec![spec.clone(), a.clone()])]);
        assert_eq!(x.difference(&y).paths(), vec![p(vec![spec.clone()])]);
        let mut only_spec = Set::new();
        only_spec.insert(std::slice::from_ref(&spec));
        assert!(y.recursive_difference(&only_spec).is_empty());
        assert_eq!(y.difference(&only_spec), y);
        assert_eq!(x.union(&y).len(), 3);
    }

    #[test]
    fn bad_keys() {
        assert!(Set::from_fields_v1(&json!({"f": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"fx": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"i:x": {}})).is_err());
        // Unknown element types are skipped, as kube does.
        assert!(Set::from_fields_v1(&json!({"x:foo": {}})).unwrap().is_empty());
        assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
    }
}
