//! The in-place applicators of the validator: `$recursiveRef` and `$dynamicRef` resolved
//! through the schemas passed on the way to the value, `not`, `allOf`, `anyOf`, `oneOf`,
//! `if`/`then`/`else`, then `unevaluatedProperties` and `unevaluatedItems` over what is left.

use super::compile::Node;
use super::num;
use super::uneval::Uneval;
use super::validate::{Kind, Scope, VErr, Validator, err};
use super::vloc::Loc;
use crate::value::Value;

impl Validator<'_> {
    /// `resolveRecursiveAnchor`: the outermost schema passed whose resource has
    /// `$recursiveAnchor: true`, else `fallback`.
    fn recursive_anchor(&self, scope: &Scope<'_>, fallback: usize) -> usize {
        let mut target = fallback;
        let mut sc = Some(scope);
        while let Some(s) = sc {
            if self.node(self.node(s.node).resource).recursive_anchor {
                target = s.node;
            }
            sc = s.parent;
        }
        target
    }

    /// `resolveDynamicAnchor`: the outermost resource passed declaring `$dynamicAnchor: name`.
    fn dynamic_anchor(&self, scope: &Scope<'_>, name: &str, fallback: usize) -> usize {
        let mut target = fallback;
        let mut sc = Some(scope);
        while let Some(s) = sc {
            let res = self.node(self.node(s.node).resource);
            if let Some((_, n)) = res.dynamic_anchors.iter().find(|(a, _)| a == name) {
                target = *n;
            }
            sc = s.parent;
        }
        target
    }

    /// `validateRefs`: `$recursiveRef`, then `$dynamicRef`.
    pub(super) fn dynamic_refs(
        &self,
        s: &Node,
        v: &Value,
        loc: &Loc,
        scope: &Scope<'_>,
        errors: &mut Vec<VErr>,
        uneval: &mut Uneval,
    ) {
        if let Some(r) = s.recursive_ref {
            let target = if self.node(r).recursive_anchor { self.recursive_anchor(scope, r) } else { r };
            errors.extend(self.reference(target, v, loc, scope, uneval).err());
        }
        if let Some((r, anchor)) = &s.dynamic_ref {
            let mut target = *r;
            if let Some(a) = anchor
                && self.node(target).dynamic_anchor.as_deref() == Some(a.as_str())
            {
                target = self.dynamic_anchor(scope, a, target);
            }
            errors.extend(self.reference(target, v, loc, scope, uneval).err());
        }
    }

    /// `condValidate`.
    pub(super) fn conditions(
        &self,
        s: &Node,
        v: &Value,
        loc: &Loc,
        scope: &Scope<'_>,
        errors: &mut Vec<VErr>,
        uneval: &mut Uneval,
    ) {
        if let Some(n) = s.not
            && self.same(n, v, loc, scope, uneval).is_ok()
        {
            errors.push(err(loc, "'not' failed".into()));
        }
        let group = |msg: &str, causes: Vec<VErr>| VErr::new(loc, Kind::Msg(msg.into()), causes);
        if !s.all_of.is_empty() {
            let errs: Vec<VErr> = s.all_of.iter().filter_map(|&n| self.same(n, v, loc, scope, uneval).err()).collect();
            if !errs.is_empty() {
                errors.push(group("'allOf' failed", errs));
            }
        }
        if !s.any_of.is_empty() {
            let mut errs = Vec::new();
            let mut matched = false;
            for &n in &s.any_of {
                match self.same(n, v, loc, scope, uneval) {
                    Err(e) => errs.push(e),
                    Ok(()) => {
                        matched = true;
                        // Every subschema is tried while something is left unevaluated.
                        if uneval.is_empty() {
                            break;
                        }
                    }
                }
            }
            if !matched {
                errors.push(group("'anyOf' failed", errs));
            }
        }
        if !s.one_of.is_empty() {
            let mut errs = Vec::new();
            let mut matched: Option<usize> = None;
            for (i, &n) in s.one_of.iter().enumerate() {
                match (self.same(n, v, loc, scope, uneval), matched) {
                    (Err(e), None) => errs.push(e),
                    (Err(_), Some(_)) => {}
                    (Ok(()), None) => matched = Some(i),
                    (Ok(()), Some(first)) => {
                        errors.push(err(
                            loc,
                            format!(
                                "'oneOf' failed, subschemas {}, {} matched",
                                num::int(first as i64),
                                num::int(i as i64)
                            ),
                        ));
                        break;
                    }
                }
            }
            if matched.is_none() {
                errors.push(group("'oneOf' failed, none matched", errs));
            }
        }
        if let Some(i) = s.if_ {
            let branch = if self.same(i, v, loc, scope, uneval).is_ok() { s.then_ } else { s.else_ };
            if let Some(b) = branch {
                errors.extend(self.same(b, v, loc, scope, uneval).err());
            }
        }
    }

    /// `unevalValidate`: the properties and items nothing evaluated, against
    /// `unevaluatedProperties` and `unevaluatedItems`; after them everything is evaluated.
    pub(super) fn unevaluated(
        &self,
        s: &Node,
        v: &Value,
        loc: &Loc,
        scope: &Scope<'_>,
        errors: &mut Vec<VErr>,
        uneval: &mut Uneval,
    ) {
        if let (Some(u), Value::Map(m)) = (s.unevaluated_properties, v) {
            let m = m.borrow();
            for name in std::mem::take(&mut uneval.props) {
                if let Some(value) = m.get(&name) {
                    errors.extend(self.member(u, value, loc, name, scope).err());
                }
            }
        }
        if let (Some(u), Value::List(l)) = (s.unevaluated_items, v) {
            for i in std::mem::take(&mut uneval.items) {
                if let Some(item) = l.get(i) {
                    errors.extend(self.member(u, item, loc, i.to_string(), scope).err());
                }
            }
        }
    }
}
