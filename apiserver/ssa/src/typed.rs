//! Operations on values seen through a schema (structured-merge-diff's `typed` package):
//! validation, the set of fields of a value, merging an applied configuration into a live
//! object, comparing two objects field by field, removing fields, and the "named fields are
//! members" normalisation used when pruning.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::fieldpath::{PathElement, Set};
use crate::schema::{Kind, ListType, MapType, Scalar, Ty};
use crate::value::{equals, go_quote, go_value_sharp_v, go_value_v};

/// One problem found while walking a value with its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where (`.spec.list[name="a"]`), empty at the root.
    pub path: String,
    /// What.
    pub message: String,
}

/// Problems found while walking a value with its schema, printed as kube prints them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return write!(f, "{}", self.0[0]);
        }
        write!(f, "errors:")?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl ValidationErrors {
    fn one(message: String) -> Self {
        ValidationErrors(vec![ValidationError { path: String::new(), message }])
    }

    fn prefixed(mut self, prefix: &str) -> Self {
        for e in &mut self.0 {
            e.path = format!("{prefix}{}", e.path);
        }
        self
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }
}

/// How Go's `%T` names the type of an unstructured value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn validate_scalar(t: Scalar, v: Option<&Value>, prefix: &str) -> ValidationErrors {
    let Some(v) = v else { return ValidationErrors::default() };
    let ok = matches!(
        (t, v),
        (_, Value::Null)
            | (Scalar::Numeric, Value::Number(_))
            | (Scalar::String, Value::String(_))
            | (Scalar::Boolean, Value::Bool(_))
            | (Scalar::Untyped, Value::Number(_) | Value::String(_) | Value::Bool(_))
    );
    if ok {
        return ValidationErrors::default();
    }
    ValidationErrors::one(match t {
        Scalar::Numeric => format!("{prefix}expected numeric (int or float), got {}", go_type(v)),
        Scalar::String => format!("{prefix}expected string, got {}", go_value_sharp_v(v)),
        Scalar::Boolean => format!("{prefix}expected boolean, got {}", go_value_v(v)),
        Scalar::Untyped => format!("{prefix}expected any scalar, got {}", go_value_v(v)),
    })
}

/// The path element of an item of an associative list (`listItemToPathElement`).
pub(crate) fn list_item_element(list: &ListType<'_>, item: &Value) -> Result<PathElement, String> {
    if !list.associative {
        return Err("invalid indexing of non-associative list".to_owned());
    }
    if !list.keys.is_empty() {
        let m = match item {
            Value::Null => return Err("associative list with keys may not have a null element".to_owned()),
            Value::Object(m) => m,
            _ => return Err("associative list with keys may not have non-map elements".to_owned()),
        };
        let mut fields = Vec::new();
        for k in list.keys {
            if let Some(v) = m.get(k) {
                fields.push((k.clone(), v.clone()));
            } else if let Some(d) = list.elem.key_default(k) {
                fields.push((k.clone(), d.clone()));
            }
        }
        if fields.is_empty() {
            let keys: Vec<String> = list.keys.iter().map(|k| go_quote(k)).collect();
            return Err(format!(
                "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                keys.join(" ")
            ));
        }
        return Ok(PathElement::key(fields));
    }
    match item {
        Value::Object(_) => Err("associative list without keys has an element that's a map type".to_owned()),
        Value::Array(_) => Err("not supported: associative list with lists as elements".to_owned()),
        Value::Null => Err("associative list without keys has an element that's an explicit null".to_owned()),
        v => Ok(PathElement::Value(v.clone())),
    }
}

fn kind_of<'s>(ty: Option<Ty<'s>>, v: Option<&Value>) -> Kind<'s> {
    match ty {
        Some(t) => t.resolve().deduce(v).kind(),
        None => Kind::Invalid,
    }
}

/// Checks a value against its type (`TypedValue.Validate`); `allow_duplicates` accepts repeated
/// keys in associative lists (live objects), which applied configurations may not have.
pub(crate) fn validate(v: &Value, ty: Ty<'_>, allow_duplicates: bool) -> ValidationErrors {
    validate_node(v, Some(ty), allow_duplicates)
}

fn validate_node(v: &Value, ty: Option<Ty<'_>>, dups: bool) -> ValidationErrors {
    match kind_of(ty, Some(v)) {
        Kind::Scalar(t) => validate_scalar(t, Some(v), ""),
        Kind::List(l) => {
            let items = match v {
                Value::Null => return ValidationErrors::default(),
                Value::Array(items) => items,
                other => return ValidationErrors::one(format!("expected list, got {}", go_value_v(other))),
            };
            let mut errs = ValidationErrors::default();
            let mut seen: Vec<PathElement> = Vec::new();
            for (i, child) in items.iter().enumerate() {
                let pe = if l.associative {
                    match list_item_element(&l, child) {
                        Ok(pe) => pe,
                        Err(e) => {
                            errs.0.push(ValidationError { path: String::new(), message: format!("element {i}: {e}") });
                            return errs;
                        }
                    }
                } else {
                    PathElement::Index(i as i64)
                };
                if l.associative {
                    if seen.contains(&pe) && !dups {
                        errs.0.push(ValidationError {
                            path: String::new(),
                            message: format!("duplicate entries for key {pe}"),
                        });
                    }
                    seen.push(pe.clone());
                }
                errs.extend(validate_node(child, Some(l.elem), dups).prefixed(&pe.to_string()));
            }
            errs
        }
        Kind::Map(m) => {
            let obj = match v {
                Value::Null => return ValidationErrors::default(),
                Value::Object(obj) => obj,
                other => return ValidationErrors::one(format!("expected map, got {}", go_value_v(other))),
            };
            let mut errs = ValidationErrors::default();
            for (k, val) in obj {
                let prefix = PathElement::Field(k.clone()).to_string();
                let Some(t) = m.value_type(k) else {
                    errs.extend(ValidationErrors::one("field not declared in schema".to_owned()).prefixed(&prefix));
                    break;
                };
                errs.extend(validate_node(val, Some(t), dups).prefixed(&prefix));
            }
            errs
        }
        Kind::Invalid => ValidationErrors::one("schema error: invalid atom: inlined".to_owned()),
    }
}

/// The set of fields of a value (`TypedValue.ToFieldSet`).
pub(crate) fn field_set(v: &Value, ty: Ty<'_>) -> Set {
    let mut set = Set::new();
    field_set_node(v, Some(ty), &mut Vec::new(), &mut set);
    set
}

fn field_set_node(v: &Value, ty: Option<Ty<'_>>, path: &mut Vec<PathElement>, set: &mut Set) {
    match kind_of(ty, Some(v)) {
        Kind::Scalar(_) => set.insert(path),
        Kind::List(l) => {
            if !l.associative {
                set.insert(path);
                return;
            }
            let Value::Array(items) = v else { return };
            let pes: Vec<Option<PathElement>> = items.iter().map(|i| list_item_element(&l, i).ok()).collect();
            let mut seen: Vec<&PathElement> = Vec::new();
            let mut duplicates: Vec<&PathElement> = Vec::new();
            for pe in pes.iter().flatten() {
                if seen.contains(&pe) {
                    if !duplicates.contains(&pe) {
                        path.push(pe.clone());
                        set.insert(path);
                        path.pop();
                        duplicates.push(pe);
                    }
                } else {
                    seen.push(pe);
                }
            }
            for (child, pe) in items.iter().zip(&pes) {
                let Some(pe) = pe else { continue };
                if duplicates.contains(&pe) {
                    continue;
                }
                path.push(pe.clone());
                field_set_node(child, Some(l.elem), path, set);
                set.insert(path);
                path.pop();
            }
        }
        Kind::Map(m) => {
            if m.atomic {
                set.insert(path);
                return;
            }
            let Value::Object(obj) = v else { return };
            for (k, val) in obj {
                path.push(PathElement::Field(k.clone()));
                field_set_node(val, m.value_type(k), path, set);
                let empty_map = matches!(val, Value::Object(o) if o.is_empty());
                if val.is_null() || empty_map || !m.is_field(k) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Kind::Invalid => {}
    }
}

/// Where merging failed.
pub(crate) type MergeResult = Result<Option<Value>, ValidationErrors>;

/// Merges `rhs` (an applied configuration) into `lhs` (the live object): `TypedValue.Merge`.
/// The result is `None` when nothing is left (kube's nil value).
pub(crate) fn merge(lhs: &Value, rhs: &Value, ty: Ty<'_>) -> Result<Value, ValidationErrors> {
    Ok(merge_node(Some(lhs), Some(rhs), Some(ty), "")?.unwrap_or(Value::Null))
}

fn merge_node(lhs: Option<&Value>, rhs: Option<&Value>, ty: Option<Ty<'_>>, prefix: &str) -> MergeResult {
    let Some(t) = ty else {
        return Err(
            ValidationErrors::one("schema error: no type found matching: inlined type".to_owned()).prefixed(prefix)
        );
    };
    let atom = t.resolve();
    let al = atom.deduce(lhs);
    let ar = atom.deduce(rhs);
    let out = if rhs.is_none() {
        merge_kind(al.kind(), lhs, rhs)
    } else if lhs.is_none() || al.same(&ar) {
        merge_kind(ar.kind(), lhs, rhs)
    } else {
        // kube walks both atoms; only the right-hand one produces the output.
        let first = merge_kind(al.kind(), lhs, rhs);
        let second = merge_kind(ar.kind(), lhs, rhs);
        match (first, second) {
            (Err(mut a), Err(b)) => {
                a.extend(b);
                Err(a)
            }
            (Err(a), Ok(_)) => Err(a),
            (Ok(_), second) => second,
        }
    };
    out.map_err(|e| e.prefixed(prefix))
}

fn keep_rhs(lhs: Option<&Value>, rhs: Option<&Value>) -> Option<Value> {
    rhs.or(lhs).cloned()
}

fn as_list(v: Option<&Value>) -> Option<&Vec<Value>> {
    match v {
        Some(Value::Array(a)) => Some(a),
        _ => None,
    }
}

fn as_map(v: Option<&Value>) -> Option<&Map<String, Value>> {
    match v {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn merge_kind(kind: Kind<'_>, lhs: Option<&Value>, rhs: Option<&Value>) -> MergeResult {
    match kind {
        Kind::Scalar(t) => {
            let mut le = validate_scalar(t, lhs, "lhs: ");
            let re = validate_scalar(t, rhs, "rhs: ");
            if !le.is_empty() && !re.is_empty() {
                le.extend(re);
                return Err(le);
            }
            Ok(keep_rhs(lhs, rhs))
        }
        Kind::List(l) => {
            let (ll, rl) = (as_list(lhs), as_list(rhs));
            let empty = ll.is_none_or(Vec::is_empty) && rl.is_none_or(Vec::is_empty);
            if !l.associative || empty {
                return Ok(keep_rhs(lhs, rhs));
            }
            merge_list(&l, ll.map_or(&[][..], Vec::as_slice), rl.map_or(&[][..], Vec::as_slice))
        }
        Kind::Map(m) => {
            let (lm, rm) = (as_map(lhs), as_map(rhs));
            let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
            if m.atomic || empty {
                return Ok(keep_rhs(lhs, rhs));
            }
            merge_map(&m, lm, rm)
        }
        Kind::Invalid => Err(ValidationErrors::one("schema error: invalid atom: inlined".to_owned())),
    }
}

fn merge_map(m: &MapType<'_>, lhs: Option<&Map<String, Value>>, rhs: Option<&Map<String, Value>>) -> MergeResult {
    let mut keys: Vec<&String> =
        lhs.into_iter().flat_map(Map::keys).chain(rhs.into_iter().flat_map(Map::keys)).collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    let mut errs = ValidationErrors::default();
    for k in keys {
        let prefix = PathElement::Field(k.clone()).to_string();
        match merge_node(lhs.and_then(|l| l.get(k)), rhs.and_then(|r| r.get(k)), m.value_type(k), &prefix) {
            Ok(Some(v)) => {
                out.insert(k.clone(), v);
            }
            Ok(None) => {}
            Err(e) => errs.extend(e),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(if out.is_empty() { None } else { Some(Value::Object(out)) })
}

/// Path elements of a list's items; with `allow_duplicates` a repeated key maps to `null`.
fn index_list(
    l: &ListType<'_>,
    items: &[Value],
    allow_duplicates: bool,
) -> Result<(Vec<PathElement>, BTreeMap<PathElement, Value>), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut pes = Vec::with_capacity(items.len());
    let mut observed: BTreeMap<PathElement, Value> = BTreeMap::new();
    for (i, child) in items.iter().enumerate() {
        let pe = match list_item_element(l, child) {
            Ok(pe) => pe,
            Err(e) => {
                errs.0.push(ValidationError { path: String::new(), message: format!("element {i}: {e}") });
                continue;
            }
        };
        if observed.contains_key(&pe) {
            if !allow_duplicates {
                errs.0
                    .push(ValidationError { path: String::new(), message: format!("duplicate entries for key {pe}") });
                continue;
            }
            observed.insert(pe.clone(), Value::Null);
        } else {
            observed.insert(pe.clone(), child.clone());
        }
        pes.push(pe);
    }
    if errs.is_empty() { Ok((pes, observed)) } else { Err(errs) }
}

/// Merges the items of two associative lists, keeping the live order and placing new items
/// where the applied order puts them (`mergingWalker.visitListItems`).
fn merge_list(l: &ListType<'_>, lhs: &[Value], rhs: &[Value]) -> MergeResult {
    let (rhs_pes, observed_rhs) = index_list(l, rhs, false)?;
    let (lhs_pes, observed_lhs) = index_list(l, lhs, true)?;
    let mut shared: std::collections::VecDeque<&PathElement> =
        rhs_pes.iter().filter(|pe| observed_lhs.contains_key(*pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: Vec<&PathElement> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    let item = |pe: &PathElement, lc: Option<&Value>, rc: Option<&Value>| -> Option<Value> {
        // Errors of single items are dropped by kube (a shadowed variable); keep the same.
        merge_node(lc, rc, Some(l.elem), &pe.to_string()).ok().flatten()
    };
    let (mut li, mut ri) = (0usize, 0usize);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li];
            if *pe == rhs_pes[ri] {
                merged_rhs.push(pe);
                if let Some(v) = item(pe, observed_lhs.get(pe), observed_rhs.get(pe)) {
                    out.push(v);
                }
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let pe = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                if let Some(v) = item(pe, Some(&lhs[li]), None) {
                    out.push(v);
                }
                li += 1;
                continue;
            } else if merged_rhs.contains(&pe) {
                li += 1;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri];
            merged_rhs.push(pe);
            if let Some(v) = item(pe, observed_lhs.get(pe), observed_rhs.get(pe)) {
                out.push(v);
            }
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(Value::Array(out)) })
}

/// Fields added, modified and removed between two objects (`typed.Comparison`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Fields only in the old object.
    pub removed: Set,
    /// Fields whose value changed.
    pub modified: Set,
    /// Fields only in the new object.
    pub added: Set,
}

impl Comparison {
    /// Drops `exclude` and everything below its members from all three sets.
    pub(crate) fn exclude(&mut self, exclude: Option<&Set>) {
        if let Some(x) = exclude.filter(|x| !x.is_empty()) {
            self.removed = self.removed.recursive_difference(x);
            self.modified = self.modified.recursive_difference(x);
            self.added = self.added.recursive_difference(x);
        }
    }
}

/// Compares two objects of the same type (`TypedValue.Compare`).
pub(crate) fn compare(lhs: &Value, rhs: &Value, ty: Ty<'_>) -> Result<Comparison, ValidationErrors> {
    let mut c = Comparison::default();
    compare_node(Some(lhs), Some(rhs), Some(ty), &mut Vec::new(), &mut c)?;
    Ok(c)
}

fn compare_node(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Option<Ty<'_>>,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), ValidationErrors> {
    let Some(t) = ty else {
        return Err(ValidationErrors::one("schema error: no type found matching: inlined type".to_owned()));
    };
    let atom = t.resolve();
    let al = atom.deduce(lhs);
    let ar = atom.deduce(rhs);
    let mut in_leaf = false;
    let result = if rhs.is_none() {
        compare_kind(al.kind(), lhs, rhs, path, c, &mut in_leaf)
    } else if lhs.is_none() || al.same(&ar) {
        compare_kind(ar.kind(), lhs, rhs, path, c, &mut in_leaf)
    } else {
        let mut other_leaf = false;
        let first = compare_kind(al.kind(), lhs, rhs, path, c, &mut other_leaf);
        let second = compare_kind(ar.kind(), lhs, rhs, path, c, &mut in_leaf);
        match (first, second) {
            (Err(mut a), Err(b)) => {
                a.extend(b);
                Err(a)
            }
            (Err(a), Ok(())) | (Ok(()), Err(a)) => Err(a),
            (Ok(()), Ok(())) => Ok(()),
        }
    };
    if !in_leaf {
        if lhs.is_none() {
            c.added.insert(path);
        } else if rhs.is_none() {
            c.removed.insert(path);
        }
    }
    result.map_err(|e| e.prefixed(&path.last().map(ToString::to_string).unwrap_or_default()))
}

fn compare_leaf(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &[PathElement],
    c: &mut Comparison,
    in_leaf: &mut bool,
) {
    if *in_leaf {
        return;
    }
    *in_leaf = true;
    match (lhs, rhs) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(l), Some(r)) if !equals(r, l) => c.modified.insert(path),
        _ => {}
    }
}

fn compare_kind(
    kind: Kind<'_>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
    in_leaf: &mut bool,
) -> Result<(), ValidationErrors> {
    match kind {
        Kind::Scalar(t) => {
            let mut le = validate_scalar(t, lhs, "lhs: ");
            let re = validate_scalar(t, rhs, "rhs: ");
            if !le.is_empty() && !re.is_empty() {
                le.extend(re);
                return Err(le);
            }
            compare_leaf(lhs, rhs, path, c, in_leaf);
            Ok(())
        }
        Kind::List(l) => {
            let (ll, rl) = (as_list(lhs), as_list(rhs));
            let empty = ll.is_none_or(Vec::is_empty) && rl.is_none_or(Vec::is_empty);
            if !l.associative || empty {
                compare_leaf(lhs, rhs, path, c, in_leaf);
                return Ok(());
            }
            compare_list(&l, ll.map_or(&[][..], Vec::as_slice), rl.map_or(&[][..], Vec::as_slice), path, c)
        }
        Kind::Map(m) => {
            let (lm, rm) = (as_map(lhs), as_map(rhs));
            let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
            if m.atomic || empty {
                compare_leaf(lhs, rhs, path, c, in_leaf);
                return Ok(());
            }
            let mut keys: Vec<&String> =
                lm.into_iter().flat_map(Map::keys).chain(rm.into_iter().flat_map(Map::keys)).collect();
            keys.sort();
            keys.dedup();
            let mut errs = ValidationErrors::default();
            for k in keys {
                path.push(PathElement::Field(k.clone()));
                if let Err(e) =
                    compare_node(lm.and_then(|x| x.get(k)), rm.and_then(|x| x.get(k)), m.value_type(k), path, c)
                {
                    errs.extend(e);
                }
                path.pop();
            }
            if errs.is_empty() { Ok(()) } else { Err(errs) }
        }
        Kind::Invalid => Err(ValidationErrors::one("schema error: invalid atom: inlined".to_owned())),
    }
}

fn compare_list(
    l: &ListType<'_>,
    lhs: &[Value],
    rhs: &[Value],
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut all: Vec<PathElement> = Vec::new();
    let mut lvals: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    let mut rvals: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    for (i, child) in lhs.iter().enumerate() {
        match list_item_element(l, child) {
            Ok(pe) => {
                let e = lvals.entry(pe.clone()).or_default();
                if e.is_empty() {
                    all.push(pe);
                }
                e.push(child);
            }
            Err(e) => errs.0.push(ValidationError { path: String::new(), message: format!("element {i}: {e}") }),
        }
    }
    for (i, child) in rhs.iter().enumerate() {
        match list_item_element(l, child) {
            Ok(pe) => {
                let e = rvals.entry(pe.clone()).or_default();
                if e.is_empty() && !lvals.contains_key(&pe) {
                    all.push(pe.clone());
                }
                e.push(child);
            }
            Err(e) => errs.0.push(ValidationError { path: String::new(), message: format!("element {i}: {e}") }),
        }
    }
    for pe in all {
        let ll = lvals.get(&pe).map_or(&[][..], Vec::as_slice);
        let rl = rvals.get(&pe).map_or(&[][..], Vec::as_slice);
        path.push(pe);
        let r = match (ll.len(), rl.len()) {
            (0, 0) => {
                path.pop();
                break;
            }
            (l0, r0) if l0 <= 1 && r0 <= 1 => {
                compare_node(ll.first().copied(), rl.first().copied(), Some(l.elem), path, c)
            }
            (l0, r0) if l0 >= 2 && r0 >= 2 => {
                if ll.len() != rl.len() || ll.iter().zip(rl).any(|(a, b)| !equals(a, b)) {
                    c.modified.insert(path);
                }
                Ok(())
            }
            (l0, r0) if l0 >= 2 => {
                let r = if r0 > 0 { compare_node(None, Some(rl[0]), Some(l.elem), path, c) } else { Ok(()) };
                c.removed.insert(path);
                r
            }
            (l0, _) => {
                let r = if l0 > 0 { compare_node(Some(ll[0]), None, Some(l.elem), path, c) } else { Ok(()) };
                c.added.insert(path);
                r
            }
        };
        path.pop();
        if let Err(e) = r {
            errs.extend(e);
        }
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Removes the fields in `to_remove` from a value (`TypedValue.RemoveItems`). Containers left
/// empty by the removal become `null`, as in kube.
pub(crate) fn remove_items(v: &Value, to_remove: &Set, ty: Ty<'_>) -> Value {
    remove_node(v, to_remove, Some(ty))
}

fn remove_node(v: &Value, to_remove: &Set, ty: Option<Ty<'_>>) -> Value {
    match kind_of(ty, Some(v)) {
        Kind::Scalar(_) => v.clone(),
        Kind::List(l) => {
            let Value::Array(items) = v else { return Value::Null };
            if items.is_empty() || !l.associative {
                return Value::Null;
            }
            let mut out = Vec::new();
            for item in items {
                let pe = list_item_element(&l, item).ok();
                let mut item = item.clone();
                if let Some(pe) = &pe {
                    if to_remove.has(std::slice::from_ref(pe)) {
                        continue;
                    }
                    let sub = to_remove.with_prefix(pe);
                    if !sub.is_empty() {
                        item = remove_node(&item, &sub, Some(l.elem));
                    }
                }
                out.push(item);
            }
            if out.is_empty() { Value::Null } else { Value::Array(out) }
        }
        Kind::Map(m) => {
            let Value::Object(obj) = v else { return Value::Null };
            if obj.is_empty() || m.atomic {
                return Value::Null;
            }
            let mut out = Map::new();
            for (k, val) in obj {
                let pe = PathElement::Field(k.clone());
                if to_remove.has(std::slice::from_ref(&pe)) {
                    continue;
                }
                let sub = to_remove.with_prefix(&pe);
                let val = if sub.is_empty() { val.clone() } else { remove_node(val, &sub, m.value_type(k)) };
                out.insert(k.clone(), val);
            }
            if out.is_empty() { Value::Null } else { Value::Object(out) }
        }
        Kind::Invalid => Value::Null,
    }
}

/// Makes every declared struct field that has children in the set a member too
/// (`Set.EnsureNamedFieldsAreMembers`), so that removing it removes the whole field.
pub(crate) fn ensure_named_fields_are_members(set: &Set, ty: Ty<'_>) -> Set {
    ensure_node(set, Some(ty))
}

fn ensure_node(set: &Set, ty: Option<Ty<'_>>) -> Set {
    let atom = ty.map(Ty::resolve).unwrap_or_default();
    let mut members = set.members().clone();
    let mut children = BTreeMap::new();
    for (pe, child) in set.children() {
        let child_ty = match (pe, atom.map, atom.list) {
            (PathElement::Field(name), Some(m), _) => {
                if m.is_field(name) {
                    members.insert(pe.clone());
                }
                m.value_type(name)
            }
            (PathElement::Key(_), _, Some(l)) => Some(l.elem),
            _ => None,
        };
        children.insert(pe.clone(), ensure_node(child, child_ty));
    }
    Set::from_parts(members, children)
}
