//! Drift ignore rules (fluxcd/pkg/ssa `DriftIgnoreRules`, a Kustomization's `spec.ignore`):
//! JSON pointers, optionally limited to the objects a selector matches, that are left out of
//! the drift comparison. When such a field did drift, the applied payload either drops it
//! (another Apply manager owns it) or carries the in-cluster value (the owner alone has it),
//! so the apply neither fights the other manager nor resets the value.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use crate::error::ApplyError;
use crate::meta::{annotations, api_version, kind, labels, name, namespace};
use crate::objmeta::{group_of, version_of};

/// Which objects a rule applies to; every non-empty field must match. Group, version, kind,
/// name and namespace are anchored regular expressions; the selectors use the label selector
/// syntax (`a=b,c!=d,e in (f,g),!h`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreSelector {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Over annotations.
    pub annotation_selector: String,
    /// Over labels.
    pub label_selector: String,
}

/// Paths to leave out of drift detection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRule {
    /// RFC 6901 JSON pointers (`/spec/replicas`).
    pub paths: Vec<String>,
    /// The objects the rule is for; all when `None`.
    pub selector: Option<IgnoreSelector>,
}

/// One requirement of a label selector.
#[derive(Debug, Clone)]
enum Requirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Requirement {
    fn matches(&self, map: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Exists(k) => map.contains_key(k),
            Requirement::NotExists(k) => !map.contains_key(k),
            Requirement::In(k, values) => map.get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => map.get(k).is_none_or(|v| !values.contains(v)),
        }
    }
}

/// Parses a label selector (`labels.Parse`'s syntax).
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    let set = |s: &str| -> Result<Vec<String>, String> {
        let inner = s
            .trim()
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| format!("expected a set in {s:?}"))?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
    };
    let mut out = Vec::new();
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let req = if let Some(key) = part.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotIn(k.trim().to_string(), vec![v.trim().to_string()])
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::In(k.trim().to_string(), vec![v.trim().to_string()])
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().to_string(), set(rest)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement::In(k.trim().to_string(), set(rest)?)
        } else if part.contains(char::is_whitespace) {
            return Err(format!("unable to parse requirement {part:?}"));
        } else {
            Requirement::Exists(part.to_string())
        };
        out.push(req);
    }
    Ok(out)
}

/// A compiled selector.
#[derive(Debug, Clone)]
struct CompiledSelector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

impl CompiledSelector {
    fn compile(s: &IgnoreSelector) -> Result<Self, ApplyError> {
        let re = |what: &str, p: &str| -> Result<Option<Regex>, ApplyError> {
            if p.is_empty() {
                return Ok(None);
            }
            Regex::new(&format!("^(?:{p})$"))
                .map(Some)
                .map_err(|e| ApplyError::Invalid(format!("invalid {what} regex: {e}")))
        };
        let sel = |what: &str, p: &str| {
            parse_selector(p).map_err(|e| ApplyError::Invalid(format!("invalid {what} selector: {e}")))
        };
        Ok(Self {
            group: re("group", &s.group)?,
            version: re("version", &s.version)?,
            kind: re("kind", &s.kind)?,
            name: re("name", &s.name)?,
            namespace: re("namespace", &s.namespace)?,
            labels: sel("label", &s.label_selector)?,
            annotations: sel("annotation", &s.annotation_selector)?,
        })
    }

    fn matches(&self, obj: &Value) -> bool {
        let ok = |re: &Option<Regex>, v: &str| re.as_ref().is_none_or(|r| r.is_match(v));
        let av = api_version(obj);
        ok(&self.namespace, namespace(obj))
            && ok(&self.name, name(obj))
            && ok(&self.group, group_of(av))
            && ok(&self.version, version_of(av))
            && ok(&self.kind, kind(obj))
            && {
                let l = labels(obj);
                self.labels.iter().all(|r| r.matches(&l))
            }
            && {
                let a = annotations(obj);
                self.annotations.iter().all(|r| r.matches(&a))
            }
    }
}

/// Compiled ignore rules.
#[derive(Debug, Clone, Default)]
pub struct CompiledIgnoreRules(Vec<(Option<CompiledSelector>, Vec<String>)>);

impl CompiledIgnoreRules {
    /// Compiles rules.
    ///
    /// # Errors
    /// [`ApplyError::Invalid`] for a bad regular expression or selector.
    pub fn compile(rules: &[IgnoreRule]) -> Result<Self, ApplyError> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let sel = r.selector.as_ref().map(CompiledSelector::compile).transpose()?;
            out.push((sel, r.paths.clone()));
        }
        Ok(Self(out))
    }

    /// Whether there are no rules.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The paths of the rules whose selector matches `obj`.
    #[must_use]
    pub fn paths_for(&self, obj: &Value) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(sel, _)| sel.as_ref().is_none_or(|s| s.matches(obj)))
            .flat_map(|(_, paths)| paths.iter().map(String::as_str))
            .collect()
    }
}

/// The unescaped segments of a JSON pointer.
fn segments(pointer: &str) -> Vec<String> {
    pointer.trim_start_matches('/').split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// Removes the value at `pointer`, if present.
pub fn remove_path(obj: &mut Value, pointer: &str) {
    let segs = segments(pointer);
    let Some((last, parents)) = segs.split_last() else { return };
    let mut node = obj;
    for s in parents {
        node = match node {
            Value::Object(m) => match m.get_mut(s) {
                Some(v) => v,
                None => return,
            },
            Value::Array(a) => match s.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match node {
        Value::Object(m) => {
            m.remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// A copy of `obj` without the paths.
#[must_use]
pub fn without_paths(obj: &Value, paths: &[&str]) -> Value {
    let mut copy = obj.clone();
    for p in paths {
        remove_path(&mut copy, p);
    }
    copy
}

/// What to do with a drifted ignored path in the payload.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftFix {
    /// Drop it: another Apply manager owns it.
    Strip(String),
    /// Send the in-cluster value (`null` when absent): the owner alone has it.
    Adopt(String, Value),
}

/// The fixes for the ignored paths whose values differ between the in-cluster object and
/// the dry-run result (ssa `computeDriftedPaths`; selectors are matched against the dry-run
/// result).
#[must_use]
pub fn drift_fixes(existing: &Value, dry_run: &Value, rules: &CompiledIgnoreRules, owner_field: &str) -> Vec<DriftFix> {
    let mut fixes = Vec::new();
    for path in rules.paths_for(dry_run) {
        let (a, b) = (existing.pointer(path), dry_run.pointer(path));
        if a == b {
            continue;
        }
        if owned_by_other_apply_manager(existing, path, owner_field) {
            fixes.push(DriftFix::Strip(path.to_string()));
        } else {
            fixes.push(DriftFix::Adopt(path.to_string(), a.cloned().unwrap_or(Value::Null)));
        }
    }
    fixes
}

/// Applies fixes to a payload: strips first, then adopts (only where the payload has the
/// path).
pub fn apply_fixes(payload: &mut Value, fixes: &[DriftFix]) {
    for f in fixes {
        if let DriftFix::Strip(p) = f {
            remove_path(payload, p);
        }
    }
    for f in fixes {
        if let DriftFix::Adopt(p, v) = f
            && let Some(slot) = payload.pointer_mut(p)
        {
            *slot = v.clone();
        }
    }
}

/// Whether an Apply manager other than the owner has the field at `pointer` in its
/// `fieldsV1` (array indexes resolved to the `k:` key matching the item).
fn owned_by_other_apply_manager(obj: &Value, pointer: &str, owner_field: &str) -> bool {
    let entries: Vec<(&str, &Value)> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|e| e.get("operation").and_then(Value::as_str) == Some("Apply"))
                .filter(|e| e.get("subresource").and_then(Value::as_str).is_none_or(str::is_empty))
                .filter_map(|e| Some((e.get("manager").and_then(Value::as_str)?, e.get("fieldsV1")?)))
                .collect()
        })
        .unwrap_or_default();
    let Some(path) = fields_path(obj, pointer, &entries) else { return false };
    entries.iter().filter(|(m, _)| *m != owner_field).any(|(_, fields)| {
        let mut node = *fields;
        for seg in &path {
            match node.get(seg) {
                Some(next) => node = next,
                None => return false,
            }
        }
        !path.is_empty()
    })
}

/// The `fieldsV1` path of a JSON pointer: `f:<field>` per field, and for an array index the
/// `k:{…}` key (found in any entry at that level) whose fields equal the item's.
fn fields_path(obj: &Value, pointer: &str, entries: &[(&str, &Value)]) -> Option<Vec<String>> {
    let mut path: Vec<String> = Vec::new();
    let mut node = obj;
    for seg in segments(pointer) {
        if let (Ok(i), Some(items)) = (seg.parse::<usize>(), node.as_array()) {
            let item = items.get(i)?;
            let key = entries.iter().find_map(|(_, fields)| {
                let mut at = *fields;
                for p in &path {
                    at = at.get(p)?;
                }
                at.as_object()?
                    .keys()
                    .find(|k| {
                        k.strip_prefix("k:")
                            .and_then(|j| serde_json::from_str::<serde_json::Map<String, Value>>(j).ok())
                            .is_some_and(|kv| kv.iter().all(|(k, v)| item.get(k) == Some(v)))
                    })
                    .cloned()
            })?;
            path.push(key);
            node = item;
        } else {
            node = node.get(&seg).unwrap_or(&Value::Null);
            path.push(format!("f:{seg}"));
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(paths: &[&str], selector: Option<IgnoreSelector>) -> CompiledIgnoreRules {
        CompiledIgnoreRules::compile(&[IgnoreRule { paths: paths.iter().map(ToString::to_string).collect(), selector }])
            .unwrap()
    }

    #[test]
    fn selectors_match_by_regex_and_labels() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web-1", "namespace": "prod", "labels": {"tier": "front"}}});
        let sel = |s: IgnoreSelector| rules(&["/spec/replicas"], Some(s)).paths_for(&obj).len();
        assert_eq!(sel(IgnoreSelector { kind: "Deploy.*".into(), ..Default::default() }), 1);
        assert_eq!(sel(IgnoreSelector { kind: "Deploy".into(), ..Default::default() }), 0);
        assert_eq!(sel(IgnoreSelector { name: "web-[0-9]".into(), group: "apps".into(), ..Default::default() }), 1);
        assert_eq!(sel(IgnoreSelector { label_selector: "tier in (front,back)".into(), ..Default::default() }), 1);
        assert_eq!(sel(IgnoreSelector { label_selector: "tier!=front".into(), ..Default::default() }), 0);
        assert_eq!(sel(IgnoreSelector { label_selector: "!tier".into(), ..Default::default() }), 0);
        assert_eq!(sel(IgnoreSelector { annotation_selector: "x".into(), ..Default::default() }), 0);
        assert_eq!(rules(&["/a"], None).paths_for(&obj), ["/a"]);
        let bad =
            IgnoreRule { paths: vec![], selector: Some(IgnoreSelector { kind: "(".into(), ..Default::default() }) };
        assert!(CompiledIgnoreRules::compile(&[bad]).is_err());
    }

    #[test]
    fn paths_are_removed_when_present() {
        let mut obj = json!({"spec": {"replicas": 3, "list": [1, 2], "a~b/c": 1}});
        remove_path(&mut obj, "/spec/replicas");
        remove_path(&mut obj, "/spec/missing/deep");
        remove_path(&mut obj, "/spec/list/0");
        remove_path(&mut obj, "/spec/a~0b~1c");
        assert_eq!(obj, json!({"spec": {"list": [2]}}));
    }

    #[test]
    fn drifted_fields_are_stripped_or_adopted_by_owner() {
        let existing = json!({"metadata": {"managedFields": [
            {"manager": "kustomize-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}, "f:paused": {}}}},
            {"manager": "hpa", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"app\"}": {"f:image": {}}}}}}}}]},
            "spec": {"replicas": 5, "paused": true, "template": {"spec": {"containers": [{"name": "app", "image": "b"}]}}}});
        let dry = json!({"spec": {"replicas": 1, "paused": false, "template": {"spec": {"containers": [{"name": "app", "image": "a"}]}}}});
        let r =
            rules(&["/spec/replicas", "/spec/paused", "/spec/template/spec/containers/0/image", "/spec/same"], None);
        let fixes = drift_fixes(&existing, &dry, &r, "kustomize-controller");
        assert_eq!(
            fixes,
            vec![
                DriftFix::Strip("/spec/replicas".into()),
                DriftFix::Adopt("/spec/paused".into(), json!(true)),
                DriftFix::Strip("/spec/template/spec/containers/0/image".into()),
            ]
        );
        let mut payload = dry.clone();
        apply_fixes(&mut payload, &fixes);
        assert_eq!(payload, json!({"spec": {"paused": true, "template": {"spec": {"containers": [{"name": "app"}]}}}}));
        assert_eq!(
            without_paths(&existing, &["/spec/replicas", "/metadata"]),
            json!({"spec": {"paused": true,
            "template": {"spec": {"containers": [{"name": "app", "image": "b"}]}}}})
        );
    }
}
