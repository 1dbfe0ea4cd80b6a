//! What a schema left unevaluated of a value, as the library tracks it for
//! `unevaluatedProperties` and `unevaluatedItems`: the set starts with every property (or
//! every item past the positional ones) when the schema or its caller needs it, evaluated
//! entries are removed, and a passing subschema's set is intersected in.

use std::collections::BTreeSet;

use super::compile::Node;
use crate::value::Value;

/// The properties and item positions not evaluated yet.
#[derive(Debug, Default, Clone)]
pub(crate) struct Uneval {
    pub(crate) props: BTreeSet<String>,
    pub(crate) items: BTreeSet<usize>,
}

impl Uneval {
    /// `unevalFrom`: what `s` starts with for `v`; `caller_needs` when the calling schema
    /// still has something unevaluated.
    pub(crate) fn from(v: &Value, s: &Node, caller_needs: bool) -> Self {
        let mut u = Uneval::default();
        match v {
            Value::Map(m)
                if s.additional_properties.is_none() && (caller_needs || s.unevaluated_properties.is_some()) =>
            {
                u.props = m.borrow().keys().cloned().collect();
            }
            Value::List(l)
                if !s.all_items_evaluated
                    && (caller_needs || s.unevaluated_items.is_some())
                    && s.num_items_evaluated < l.len() =>
            {
                u.items = (s.num_items_evaluated..l.len()).collect();
            }
            _ => {}
        }
        u
    }

    /// Keeps only what `other` left unevaluated too.
    pub(crate) fn merge(&mut self, other: &Uneval) {
        self.props.retain(|p| other.props.contains(p));
        self.items.retain(|i| other.items.contains(i));
    }

    /// Nothing is left unevaluated.
    pub(crate) fn is_empty(&self) -> bool {
        self.props.is_empty() && self.items.is_empty()
    }
}
