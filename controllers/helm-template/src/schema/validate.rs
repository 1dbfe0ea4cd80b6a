//! Validating values against compiled nodes, building the same tree of errors as
//! santhosh-tekuri/jsonschema v6: keywords in its order, a single error or a group per schema,
//! `$ref` failures wrapping their causes, `allOf`/`anyOf`/`oneOf` listing subschema errors.
//! Go iterates a map's properties in random order; Eddy goes in key order. Locations are Go
//! slices (`vloc.rs`). The same validator checks a schema against its metaschema, switching
//! metaschemas where a subschema of another draft begins (`MetaSwitch`).

use std::cmp::Ordering;

use super::compile::{Additional, Compiled, Dependency, Items, Node};
use super::format;
use super::json::Json;
use super::num::{self, Dec};
use super::uneval::Uneval;
pub use super::values::quote;
use super::values::{dec, display, equals, equals_json, type_name, type_of};
use super::vloc::Loc;
use crate::value::Value;

/// What a validation error is, as far as the output cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Several errors of one schema.
    Group,
    /// A `$ref` whose target failed.
    Reference,
    /// A keyword failed, with its message.
    Msg(String),
}

/// One validation error and its causes.
#[derive(Debug, Clone)]
pub struct VErr {
    /// Where in the values (JSON pointer tokens).
    pub loc: Vec<String>,
    /// What failed.
    pub kind: Kind,
    /// Nested errors.
    pub causes: Vec<VErr>,
    /// For `propertyNames` errors: the location slice itself, read when validation is over.
    pub(crate) live: Option<Loc>,
}

impl VErr {
    /// An error with causes.
    pub(super) fn new(loc: &Loc, kind: Kind, causes: Vec<VErr>) -> VErr {
        VErr { loc: loc.tokens(), kind, causes, live: None }
    }

    /// Reads the live locations, once validation is over.
    fn settle(&mut self) {
        if let Some(l) = self.live.take() {
            self.loc = l.tokens();
        }
        self.causes.iter_mut().for_each(VErr::settle);
    }
}

/// Scope chain: for `$ref` cycle detection (a node validating the same value twice) and for
/// resolving `$recursiveRef`/`$dynamicRef` through the schemas passed on the way.
pub(super) struct Scope<'a> {
    pub(super) node: usize,
    pub(super) vid: usize,
    pub(super) parent: Option<&'a Scope<'a>>,
    /// When validating a schema against its metaschema: the metaschema in force.
    pub(super) meta: usize,
}

/// Validates `v` against the root node; the errors as the library's top-level causes.
pub fn validate(c: &Compiled, v: &Value) -> Result<(), Vec<VErr>> {
    validate_at(c, 0, v, None)
}

/// Validates `v` against node `n`, switching metaschemas as `meta` says when given.
pub(crate) fn validate_at(c: &Compiled, n: usize, v: &Value, meta: Option<&MetaSwitch>) -> Result<(), Vec<VErr>> {
    let scope = Scope { node: n, vid: 0, parent: None, meta: n };
    let validator = Validator { c, meta };
    let mut causes = match validator.run(n, v, &Loc::default(), &scope, false) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind == Kind::Group => e.causes,
        Err(e) => vec![e],
    };
    causes.iter_mut().for_each(VErr::settle);
    Err(causes)
}

/// For validating a schema against its metaschema (the library's `handleMeta`): where the
/// metaschema meets a resource of the schema, that resource's draft's metaschema takes over.
pub(crate) struct MetaSwitch {
    /// The metaschema root node of each draft.
    pub(crate) roots: Vec<(u32, usize)>,
    /// The schema's resources (JSON pointers) and their drafts.
    pub(crate) resources: std::collections::HashMap<String, u32>,
}

pub(super) struct Validator<'c> {
    pub(super) c: &'c Compiled,
    pub(super) meta: Option<&'c MetaSwitch>,
}

pub(super) fn err(loc: &Loc, msg: String) -> VErr {
    VErr { loc: loc.tokens(), kind: Kind::Msg(msg), causes: Vec::new(), live: None }
}

fn joined(names: &[String]) -> String {
    names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ")
}

impl Validator<'_> {
    pub(super) fn node(&self, i: usize) -> &Node {
        &self.c.nodes[i]
    }

    /// `validateSelf`: the same value against another node; what it evaluates counts for
    /// `uneval` when it passes.
    pub(super) fn same(
        &self,
        n: usize,
        v: &Value,
        loc: &Loc,
        scope: &Scope<'_>,
        uneval: &mut Uneval,
    ) -> Result<(), VErr> {
        let (target, meta) = self.switch(n, scope.meta, loc);
        let child = Scope { node: n, vid: scope.vid, parent: Some(scope), meta };
        let sub = self.run(target, v, loc, &child, !uneval.is_empty())?;
        uneval.merge(&sub);
        Ok(())
    }

    /// `validateVal`: a member or item against a node.
    pub(super) fn member(&self, n: usize, v: &Value, loc: &Loc, tok: String, scope: &Scope<'_>) -> Result<(), VErr> {
        let loc = loc.push(tok);
        let (target, meta) = self.switch(n, scope.meta, &loc);
        let child = Scope { node: n, vid: scope.vid + 1, parent: Some(scope), meta };
        self.run(target, v, &loc, &child, false).map(|_| ())
    }

    /// `validateRef`: a `$ref`, `$recursiveRef` or `$dynamicRef` target, its failure wrapping
    /// the target's errors.
    pub(super) fn reference(
        &self,
        n: usize,
        v: &Value,
        loc: &Loc,
        scope: &Scope<'_>,
        uneval: &mut Uneval,
    ) -> Result<(), VErr> {
        self.same(n, v, loc, scope, uneval).map_err(|e| {
            let causes = if e.kind == Kind::Group { e.causes } else { vec![e] };
            VErr::new(loc, Kind::Reference, causes)
        })
    }

    /// `handleMeta`: the node to run and the metaschema in force when entering node `n` at
    /// `loc`. Entering the metaschema in force where the schema has a resource switches to
    /// that resource's draft's metaschema.
    fn switch(&self, n: usize, meta: usize, loc: &Loc) -> (usize, usize) {
        let Some(m) = self.meta else { return (n, meta) };
        if n != meta {
            return (n, meta);
        }
        let ptr: String =
            loc.tokens().iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect();
        match m.resources.get(&ptr).and_then(|d| m.roots.iter().find(|(rd, _)| rd == d)) {
            Some(&(_, root)) => (root, root),
            None => (n, meta),
        }
    }

    fn run(&self, n: usize, v: &Value, loc: &Loc, scope: &Scope<'_>, caller_needs: bool) -> Result<Uneval, VErr> {
        let s = self.node(n);
        let mut uneval = Uneval::from(v, s, caller_needs);
        if let Some(b) = s.boolean {
            return if b { Ok(uneval) } else { Err(err(loc, "false schema".into())) };
        }
        let mut p = scope.parent;
        while let Some(sc) = p {
            if sc.vid != scope.vid {
                break;
            }
            if sc.node == scope.node {
                return Err(err(loc, "reference cycle".into()));
            }
            p = sc.parent;
        }
        let Some(t) = type_of(v) else {
            return Err(err(loc, format!("invalid jsonType {}", type_name(v))));
        };
        if !s.types.is_empty() {
            let ok = s.types.contains(&t)
                || (s.types.contains(&"integer") && t == "number" && dec(v).is_some_and(|d| d.is_int()));
            if !ok {
                return Err(err(loc, format!("got {t}, want {}", s.types.join(" or "))));
            }
        }
        if let Some(c) = &s.constant
            && !equals_json(v, c)
        {
            let msg = match c {
                Json::Arr(_) | Json::Obj(_) => "'const' failed".to_string(),
                _ => format!("value must be {}", display(c)),
            };
            return Err(err(loc, msg));
        }
        if let Some(e) = &s.enumeration
            && !e.iter().any(|j| equals_json(v, j))
        {
            let msg = if e.iter().any(|j| matches!(j, Json::Arr(_) | Json::Obj(_))) {
                "'enum' failed".to_string()
            } else if e.len() == 1 {
                format!("value must be {}", display(&e[0]))
            } else {
                format!("value must be one of {}", e.iter().map(display).collect::<Vec<_>>().join(", "))
            };
            return Err(err(loc, msg));
        }
        if let (Some(f), Value::Str(text)) = (&s.format, v)
            && let Err(why) = format::check(f, text)
        {
            return Err(err(loc, format!("{} is not valid {f}: {why}", quote(text))));
        }
        let mut errors = Vec::new();
        if let Some(r) = s.reference {
            let res = self.reference(r, v, loc, scope, &mut uneval);
            if s.draft < 2019 {
                return res.map(|()| uneval);
            }
            errors.extend(res.err());
        }
        match v {
            Value::Map(m) => self.object(s, &m.borrow(), loc, scope, &mut errors, &mut uneval),
            Value::List(l) => self.array(s, l, loc, scope, &mut errors, &mut uneval),
            Value::Str(text) => self.string(s, text, loc, &mut errors),
            Value::Int(_) | Value::Int64(_) | Value::Float(_) => self.number(s, v, loc, &mut errors),
            _ => {}
        }
        if s.draft >= 2019 {
            self.dynamic_refs(s, v, loc, scope, &mut errors, &mut uneval);
        }
        self.conditions(s, v, loc, scope, &mut errors, &mut uneval);
        if s.draft >= 2019 {
            self.unevaluated(s, v, loc, scope, &mut errors, &mut uneval);
        }
        match errors.len() {
            0 => Ok(uneval),
            1 => Err(errors.remove(0)),
            _ => Err(VErr::new(loc, Kind::Group, errors)),
        }
    }

    fn object(
        &self,
        s: &Node,
        obj: &std::collections::BTreeMap<String, Value>,
        loc: &Loc,
        scope: &Scope<'_>,
        errors: &mut Vec<VErr>,
        uneval: &mut Uneval,
    ) {
        let missing =
            |req: &[String]| -> Vec<String> { req.iter().filter(|r| !obj.contains_key(*r)).cloned().collect() };
        if let Some(min) = s.min_properties
            && (obj.len() as i64) < min
        {
            errors.push(err(loc, format!("minProperties: got {}, want {}", num::int(obj.len() as i64), num::int(min))));
        }
        if let Some(max) = s.max_properties
            && (obj.len() as i64) > max
        {
            errors.push(err(loc, format!("maxProperties: got {}, want {}", num::int(obj.len() as i64), num::int(max))));
        }
        let m = missing(&s.required);
        if !m.is_empty() {
            let msg = if m.len() == 1 {
                format!("missing property {}", quote(&m[0]))
            } else {
                format!("missing properties {}", joined(&m))
            };
            errors.push(err(loc, msg));
        }
        for (prop, dep) in &s.dependencies {
            if !obj.contains_key(prop) {
                continue;
            }
            match dep {
                Dependency::Props(req) => {
                    let m = missing(req);
                    if !m.is_empty() {
                        errors.push(err(loc, format!("properties {} required, if {} exists", joined(&m), quote(prop))));
                    }
                }
                Dependency::Schema(d) => {
                    errors.extend(self.same(*d, &Value::Map(map_rc(obj)), loc, scope, uneval).err());
                }
            }
        }
        let mut additional = Vec::new();
        for (name, value) in obj {
            let mut evaluated = false;
            if let Some(&p) = s.properties.get(name) {
                evaluated = true;
                errors.extend(self.member(p, value, loc, name.clone(), scope).err());
            }
            for (re, p) in &s.pattern_properties {
                if re.is_match(name) {
                    evaluated = true;
                    errors.extend(self.member(*p, value, loc, name.clone(), scope).err());
                }
            }
            if !evaluated {
                match &s.additional_properties {
                    Some(Additional::Bool(false)) => additional.push(name.clone()),
                    Some(Additional::Schema(a)) => {
                        errors.extend(self.member(*a, value, loc, name.clone(), scope).err());
                    }
                    _ => {}
                }
                evaluated = s.additional_properties.is_some();
            }
            if evaluated {
                uneval.props.remove(name);
            }
        }
        if !additional.is_empty() {
            errors.push(err(loc, format!("additional properties {} not allowed", joined(&additional))));
        }
        if let Some(pn) = s.property_names {
            for name in obj.keys() {
                let top = Scope { node: pn, vid: 0, parent: None, meta: scope.meta };
                if let Err(e) = self.run(pn, &Value::str(name.as_str()), &Loc::default(), &top, false) {
                    let causes = if e.kind == Kind::Group { e.causes } else { vec![e] };
                    let kind = Kind::Msg(format!("invalid propertyName {}", quote(name)));
                    // The library keeps this validator's location slice itself, not a copy.
                    errors.push(VErr { live: Some(loc.clone()), ..VErr::new(loc, kind, causes) });
                }
            }
        }
        for (prop, d) in &s.dependent_schemas {
            if obj.contains_key(prop) {
                errors.extend(self.same(*d, &Value::Map(map_rc(obj)), loc, scope, uneval).err());
            }
        }
        for (prop, req) in &s.dependent_required {
            if obj.contains_key(prop) {
                let m = missing(req);
                if !m.is_empty() {
                    errors.push(err(loc, format!("properties {} required, if {} exists", joined(&m), quote(prop))));
                }
            }
        }
    }

    fn array(
        &self,
        s: &Node,
        arr: &[Value],
        loc: &Loc,
        scope: &Scope<'_>,
        errors: &mut Vec<VErr>,
        uneval: &mut Uneval,
    ) {
        let len = arr.len() as i64;
        if let Some(min) = s.min_items
            && len < min
        {
            errors.push(err(loc, format!("minItems: got {}, want {}", num::int(len), num::int(min))));
        }
        if let Some(max) = s.max_items
            && len > max
        {
            errors.push(err(loc, format!("maxItems: got {}, want {}", num::int(len), num::int(max))));
        }
        if s.unique_items && arr.len() > 1 {
            'outer: for i in 1..arr.len() {
                for j in 0..i {
                    if equals(&arr[i], &arr[j]) {
                        errors.push(err(
                            loc,
                            format!("items at {} and {} are equal", num::int(j as i64), num::int(i as i64)),
                        ));
                        break 'outer;
                    }
                }
            }
        }
        if s.draft < 2020 {
            let mut evaluated = 0;
            match &s.items {
                Some(Items::One(it)) => {
                    for (i, item) in arr.iter().enumerate() {
                        errors.extend(self.member(*it, item, loc, i.to_string(), scope).err());
                    }
                    evaluated = arr.len();
                }
                Some(Items::Tuple(its)) => {
                    evaluated = its.len().min(arr.len());
                    for (i, item) in arr[..evaluated].iter().enumerate() {
                        errors.extend(self.member(its[i], item, loc, i.to_string(), scope).err());
                    }
                }
                None => {}
            }
            match &s.additional_items {
                Some(Additional::Bool(false)) if evaluated != arr.len() => errors.push(err(
                    loc,
                    format!("last {} additionalItem(s) not allowed", num::int((arr.len() - evaluated) as i64)),
                )),
                Some(Additional::Schema(a)) => {
                    for (i, item) in arr[evaluated..].iter().enumerate() {
                        errors.extend(self.member(*a, item, loc, (evaluated + i).to_string(), scope).err());
                    }
                }
                _ => {}
            }
        } else {
            let evaluated = s.prefix_items.len().min(arr.len());
            for (i, item) in arr[..evaluated].iter().enumerate() {
                errors.extend(self.member(s.prefix_items[i], item, loc, i.to_string(), scope).err());
            }
            if let Some(it) = s.items2020 {
                for (i, item) in arr[evaluated..].iter().enumerate() {
                    errors.extend(self.member(it, item, loc, (evaluated + i).to_string(), scope).err());
                }
            }
        }
        if let Some(c) = s.contains {
            let mut errs = Vec::new();
            let mut matched = Vec::new();
            for (i, item) in arr.iter().enumerate() {
                match self.member(c, item, loc, i.to_string(), scope) {
                    Err(e) => errs.push(e),
                    Ok(()) => {
                        matched.push(i);
                        if s.draft >= 2020 {
                            uneval.items.remove(&i);
                        }
                    }
                }
            }
            let list = matched.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
            if let Some(min) = s.min_contains {
                if (matched.len() as i64) < min {
                    let msg = if matched.is_empty() {
                        format!("min {} items required to match contains schema, but none matched", num::int(min))
                    } else {
                        format!(
                            "min {} items required to match contains schema, but matched {} items at {list}",
                            num::int(min),
                            num::int(matched.len() as i64)
                        )
                    };
                    errors.push(VErr::new(loc, Kind::Msg(msg), errs));
                }
            } else if matched.is_empty() {
                errors.push(VErr::new(loc, Kind::Msg("no items match contains schema".into()), errs));
            }
            if let Some(max) = s.max_contains
                && (matched.len() as i64) > max
            {
                errors.push(err(
                    loc,
                    format!(
                        "max {} items required to match contains schema, but matched {} items at {list}",
                        num::int(max),
                        num::int(matched.len() as i64)
                    ),
                ));
            }
        }
    }

    fn string(&self, s: &Node, text: &str, loc: &Loc, errors: &mut Vec<VErr>) {
        let len = text.chars().count() as i64;
        if let Some(min) = s.min_length
            && len < min
        {
            errors.push(err(loc, format!("minLength: got {}, want {}", num::int(len), num::int(min))));
        }
        if let Some(max) = s.max_length
            && len > max
        {
            errors.push(err(loc, format!("maxLength: got {}, want {}", num::int(len), num::int(max))));
        }
        if let Some((re, src)) = &s.pattern
            && !re.is_match(text)
        {
            errors.push(err(loc, format!("{} does not match pattern {}", quote(text), quote(src))));
        }
    }

    fn number(&self, s: &Node, v: &Value, loc: &Loc, errors: &mut Vec<VErr>) {
        let Some(d) = dec(v) else { return };
        type Check<'a> = (&'a Option<Dec>, &'static str, fn(Ordering) -> bool);
        let checks: [Check<'_>; 4] = [
            (&s.minimum, "minimum", |o| o == Ordering::Less),
            (&s.maximum, "maximum", |o| o == Ordering::Greater),
            (&s.exclusive_minimum, "exclusiveMinimum", |o| o != Ordering::Greater),
            (&s.exclusive_maximum, "exclusiveMaximum", |o| o != Ordering::Less),
        ];
        for (bound, name, fails) in checks {
            if let Some(b) = bound
                && fails(d.compare(b))
            {
                errors.push(err(loc, format!("{name}: got {}, want {}", num::float(d.f), num::float(b.f))));
            }
        }
        if let Some(m) = &s.multiple_of
            && !d.is_multiple_of(m)
        {
            errors.push(err(loc, format!("multipleOf: got {}, want {}", num::float(d.f), num::float(m.f))));
        }
    }
}

fn map_rc(obj: &std::collections::BTreeMap<String, Value>) -> crate::value::Map {
    std::rc::Rc::new(std::cell::RefCell::new(obj.clone()))
}
