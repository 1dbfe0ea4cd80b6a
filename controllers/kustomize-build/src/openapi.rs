//! Custom OpenAPI schemas (the kustomization `openapi` field) that describe
//! how lists of custom resources merge in strategic merge patches.

use std::collections::HashMap;

use crate::patch::ListMerge;
use crate::yaml::{Map, Value};

/// Definitions of a schema document, indexed by name and by GVK.
#[derive(Debug, Default)]
pub struct Schema {
    definitions: HashMap<String, Value>,
    by_gvk: HashMap<(String, String, String), String>,
}

impl Schema {
    /// Reads a schema document (`{"definitions": {...}}`).
    #[must_use]
    pub fn from_value(doc: &Value) -> Self {
        let mut s = Schema::default();
        let Some(defs) = doc.get_path(&["definitions"]).and_then(Value::as_map) else {
            return s;
        };
        for (name, def) in defs.iter() {
            s.definitions.insert(name.clone(), def.clone());
            if let Some(Value::Seq(gvks)) = def.as_map().and_then(|m| m.get("x-kubernetes-group-version-kind")) {
                for g in gvks {
                    let t = |k: &str| g.get_path(&[k]).and_then(Value::as_str).unwrap_or_default().to_string();
                    s.by_gvk.insert((t("group"), t("version"), t("kind")), name.clone());
                }
            }
        }
        s
    }

    /// The definition describing a group/version/kind, if any.
    #[must_use]
    pub fn definition_for(&self, group: &str, version: &str, kind: &str) -> Option<String> {
        self.by_gvk.get(&(group.to_string(), version.to_string(), kind.to_string())).cloned()
    }

    fn resolve<'a>(&'a self, mut v: &'a Value) -> Option<&'a Map> {
        for _ in 0..32 {
            let m = v.as_map()?;
            match m.get("$ref").and_then(Value::as_str) {
                Some(r) => v = self.definitions.get(r.strip_prefix("#/definitions/")?)?,
                None => return Some(m),
            }
        }
        None
    }

    /// The merge strategy of the list at `path` under definition `def`.
    #[must_use]
    pub fn list_merge(&self, def: &str, path: &[String]) -> ListMerge {
        let Some(mut cur) = self.definitions.get(def).and_then(|d| self.resolve(d)) else {
            return ListMerge::Replace;
        };
        for (i, seg) in path.iter().enumerate() {
            // Lists along the way are entered through their item schema.
            if cur.get("type").and_then(Value::as_str) == Some("array") {
                match cur.get("items").and_then(|it| self.resolve(it)) {
                    Some(items) => cur = items,
                    None => return ListMerge::Replace,
                }
            }
            let Some(prop) = cur.get("properties").and_then(|p| p.get_path(&[seg.as_str()])) else {
                return ListMerge::Replace;
            };
            let Some(prop) = self.resolve(prop) else { return ListMerge::Replace };
            if i + 1 == path.len() {
                let strategy = prop.get("x-kubernetes-patch-strategy").and_then(Value::as_str).unwrap_or_default();
                if !strategy.split(',').any(|s| s.trim() == "merge") {
                    return ListMerge::Replace;
                }
                return match prop.get("x-kubernetes-patch-merge-key").and_then(Value::as_str) {
                    Some(k) => ListMerge::Key(vec![k.to_string()]),
                    None => ListMerge::Scalars,
                };
            }
            cur = prop;
        }
        ListMerge::Replace
    }
}

/// Name references declared by a `crds` file: OpenAPI definitions keyed by
/// Go type name whose properties carry `x-kubernetes-object-ref-kind`.
#[must_use]
pub fn crd_name_refs(doc: &Value) -> Vec<crate::nameref::ExtraRef> {
    let mut out = Vec::new();
    let Some(defs) = doc.as_map() else { return out };
    let schema_of = |name: &str| defs.get(name).and_then(|d| d.get_path(&["Schema"]));
    for (name, def) in defs.iter() {
        let Some(kind) = name.rsplit('.').next() else { continue };
        let Some(schema) = def.get_path(&["Schema"]) else { continue };
        // Only top-level kinds (with apiVersion and kind properties) refer.
        let props = schema.get_path(&["properties"]).and_then(Value::as_map);
        if !props.is_some_and(|p| p.contains_key("kind") && p.contains_key("apiVersion")) {
            continue;
        }
        let mut stack: Vec<(Vec<String>, &Value, usize)> = vec![(Vec::new(), schema, 0)];
        while let Some((path, s, depth)) = stack.pop() {
            if depth > 16 {
                continue;
            }
            let Some(props) = s.get_path(&["properties"]).and_then(Value::as_map) else { continue };
            for (field, p) in props.iter() {
                let mut fpath = path.clone();
                fpath.push(field.clone());
                if let Some(referent) = p.get_path(&["x-kubernetes-object-ref-kind"]).and_then(Value::as_str) {
                    let mut spec_path = fpath.clone();
                    spec_path.push("name".to_string());
                    out.push(crate::nameref::ExtraRef {
                        referent: referent.to_string(),
                        spec: crate::fieldspec::FieldSpec {
                            group: None,
                            version: None,
                            kind: Some(kind.to_string()),
                            path: spec_path,
                            create: false,
                        },
                    });
                    continue;
                }
                if let Some(next) = p.get_path(&["$ref"]).and_then(Value::as_str).and_then(schema_of) {
                    stack.push((fpath, next, depth + 1));
                } else if p.get_path(&["properties"]).is_some() {
                    stack.push((fpath, p, depth + 1));
                }
            }
        }
    }
    out
}
