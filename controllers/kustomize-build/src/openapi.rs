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
