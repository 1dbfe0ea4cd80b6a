//! Label selectors in their string form (`app=web,tier in (a,b),!legacy`), parsed once for
//! every part of Eddy: the API server's `labelSelector` query parameter, the kustomize engine's
//! `labelSelector`/`annotationSelector` targets and the controllers' `--watch-label-selector`.
//!
//! The grammar and the checks are those of `k8s.io/apimachinery/pkg/labels.Parse`: terms joined
//! by commas (not inside parentheses), each `key`, `!key`, `key=value`, `key==value`,
//! `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>N` or `key<N`; keys must be
//! qualified names and values label values ([`crate::objectmeta`]), sets must not be empty, and
//! `>`/`<` take one integer. The empty selector matches everything.

use serde_json::Value;

use crate::objectmeta::{is_label_value, is_qualified_name};

/// Why a selector string could not be parsed; its text is what the API server answers (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (v1,v2)`.
    In(String, Vec<String>),
    /// `key notin (v1,v2)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
    /// `key>N`: the label's value is an integer greater than N.
    GreaterThan(String, i64),
    /// `key<N`: the label's value is an integer less than N.
    LessThan(String, i64),
}

impl Requirement {
    /// Whether the labels `get` looks up satisfy this requirement.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        match self {
            Self::Equals(k, v) => get(k) == Some(v.as_str()),
            Self::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Self::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Self::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Self::Exists(k) => get(k).is_some(),
            Self::DoesNotExist(k) => get(k).is_none(),
            Self::GreaterThan(k, n) => int(k).is_some_and(|v| v > *n),
            Self::LessThan(k, n) => int(k).is_some_and(|v| v < *n),
        }
    }
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    /// Parses a selector string; blank text is the selector that matches everything.
    ///
    /// # Errors
    /// [`ParseError`] naming the selector and what is wrong with it.
    pub fn parse(selector: &str) -> Result<Self, ParseError> {
        if selector.trim().is_empty() {
            return Ok(Self::default());
        }
        split_terms(selector)
            .into_iter()
            .map(|term| requirement(term.trim(), selector))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The requirements, in the order written.
    #[must_use]
    pub fn requirements(&self) -> &[Requirement] {
        &self.0
    }

    /// Whether nothing is required (every object matches).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the labels `get` looks up satisfy every requirement.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| r.matches(&get))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    /// Whether a list of `(key, value)` pairs satisfies every requirement.
    #[must_use]
    pub fn matches_pairs(&self, pairs: &[(String, String)]) -> bool {
        self.matches_with(|k| pairs.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.as_str()))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn requirement(term: &str, selector: &str) -> Result<Requirement, ParseError> {
    if term.is_empty() {
        return Err(ParseError(format!("unable to parse selector {selector:?}: empty term")));
    }
    let key = |k: &str| check_key(k.trim(), selector);
    let value = |v: &str| check_value(v.trim(), selector);
    Ok(if let Some(k) = term.strip_prefix('!') {
        Requirement::DoesNotExist(key(k)?)
    } else if let Some((k, v)) = term.split_once("!=") {
        Requirement::NotEquals(key(k)?, value(v)?)
    } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        Requirement::Equals(key(k)?, value(v)?)
    } else if let Some((k, rest)) = term.split_once(" notin ") {
        Requirement::NotIn(key(k)?, set(rest, selector)?)
    } else if let Some((k, rest)) = term.split_once(" in ") {
        Requirement::In(key(k)?, set(rest, selector)?)
    } else if let Some((k, n)) = term.split_once('>') {
        Requirement::GreaterThan(key(k)?, integer(n, selector)?)
    } else if let Some((k, n)) = term.split_once('<') {
        Requirement::LessThan(key(k)?, integer(n, selector)?)
    } else {
        Requirement::Exists(key(term)?)
    })
}

fn check_key(key: &str, selector: &str) -> Result<String, ParseError> {
    let problems = is_qualified_name(key);
    if key.is_empty() || !problems.is_empty() {
        return Err(ParseError(format!(
            "unable to parse requirement: invalid label key {key:?} in selector {selector:?}: {}",
            problems.join("; ")
        )));
    }
    Ok(key.to_owned())
}

fn check_value(value: &str, selector: &str) -> Result<String, ParseError> {
    let problems = is_label_value(value);
    if !problems.is_empty() {
        return Err(ParseError(format!(
            "unable to parse requirement: invalid label value {value:?} in selector {selector:?}: {}",
            problems.join("; ")
        )));
    }
    Ok(value.to_owned())
}

fn set(rest: &str, selector: &str) -> Result<Vec<String>, ParseError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| ParseError(format!("unable to parse selector {selector:?}: expected a (set)")))?;
    if inner.trim().is_empty() {
        return Err(ParseError(format!(
            "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty (selector {selector:?})"
        )));
    }
    inner.split(',').map(|v| check_value(v.trim(), selector)).collect()
}

fn integer(n: &str, selector: &str) -> Result<i64, ParseError> {
    let n = n.trim();
    n.parse().map_err(|_| {
        ParseError(format!(
            "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer, not {n:?} (selector {selector:?})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Value {
        let map: serde_json::Map<String, Value> = pairs.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        json!({"metadata": {"labels": map}})
    }

    #[test]
    fn every_operator_matches_as_apimachinery() {
        let obj = labels(&[("app", "web"), ("tier", "front"), ("rank", "7")]);
        for (sel, want) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("rank>5", true),
            ("rank<5", false),
            ("app>5", false),
            ("app=web,tier in (a,front),!legacy", true),
            ("app=web,tier=back", false),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches(&obj), want, "{sel}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_selector_named() {
        for sel in ["app=web,", "a b", "app in (x", "app in ()", "-bad=x", "app=bad value", "rank>x", "x=y=z"] {
            let err = Selector::parse(sel).unwrap_err();
            assert!(err.to_string().contains("unable to parse"), "{sel}: {err}");
        }
    }

    #[test]
    fn pairs_match_like_objects() {
        let sel = Selector::parse("app=web,!legacy").unwrap();
        assert!(sel.matches_pairs(&[("app".into(), "web".into())]));
        assert!(!sel.matches_pairs(&[("app".into(), "web".into()), ("legacy".into(), "1".into())]));
        assert_eq!(sel.requirements().len(), 2);
    }
}
