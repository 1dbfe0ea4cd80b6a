//! Translation between what the scenarios say and what the cluster under test serves.
//!
//! The reference CRDs are installed under renamed groups so they do not clash with Eddy's own
//! (`source.toolkit.fluxcd.io` → `source.ssa-reference.eddy.test` for the current CRDs,
//! `source.ssa-legacy.eddy.test` for the legacy ones), and every scenario runs in a fresh
//! namespace instead of `default`. Requests are translated on the way out, answers on the way
//! back, so they can be compared with the scenario's expectations as written. The renamed
//! groups and the namespaces are unique strings, so translating back is exact.

use serde_json::{Map, Value};

use crate::scenario::{CrdSet, NAMESPACE};

/// The suffix every Flux group has.
pub const FLUX_SUFFIX: &str = ".toolkit.fluxcd.io";

/// The renamed group of a Flux group for a CRD set: `source.toolkit.fluxcd.io` →
/// `source.ssa-reference.eddy.test` (current) or `source.ssa-legacy.eddy.test` (legacy).
pub fn renamed_group(group: &str, set: CrdSet) -> String {
    let prefix = group.strip_suffix(FLUX_SUFFIX).unwrap_or(group);
    match set {
        CrdSet::Current => format!("{prefix}.ssa-reference.eddy.test"),
        CrdSet::Legacy => format!("{prefix}.ssa-legacy.eddy.test"),
    }
}

/// Both directions of the translation for one replay.
#[derive(Debug, Clone)]
pub struct Translation {
    /// (as in the scenarios, as served) group pairs; empty when the target serves the Flux groups.
    groups: Vec<(String, String)>,
    /// The namespace the replay uses instead of `default`.
    namespace: String,
    /// (as in the scenario, as served) owner uids: owner references must name objects that
    /// exist, or the garbage collector deletes the dependent while the scenario runs.
    uids: Vec<(String, String)>,
}

impl Translation {
    /// `groups`: the Flux groups to rename (none for a target that serves them, such as Eddy).
    pub fn new(groups: &[&str], set: Option<CrdSet>, namespace: &str) -> Translation {
        let groups = match set {
            Some(set) => groups.iter().map(|g| ((*g).to_owned(), renamed_group(g, set))).collect(),
            None => Vec::new(),
        };
        Translation { groups, namespace: namespace.to_owned(), uids: Vec::new() }
    }

    /// Also translates owner uids (scenario uid, uid of the real owner).
    #[must_use]
    pub fn with_uids(mut self, uids: Vec<(String, String)>) -> Translation {
        self.uids = uids;
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A group as the target serves it.
    pub fn group_out(&self, group: &str) -> String {
        self.groups.iter().find(|(from, _)| from == group).map_or_else(|| group.to_owned(), |(_, to)| to.clone())
    }

    /// A request body: groups renamed in every string (apiVersions, the last-applied
    /// annotation), `metadata.namespace` `default` → the replay's namespace, and the namespace in
    /// last-applied annotations (`"namespace":"default"`).
    pub fn outbound(&self, v: &Value) -> Value {
        let from_ns = format!("\"namespace\":\"{NAMESPACE}\"");
        let to_ns = format!("\"namespace\":\"{}\"", self.namespace);
        let mut out = map_strings(
            v,
            &|s| {
                let mut s = s.to_owned();
                for (from, to) in &self.groups {
                    s = s.replace(from.as_str(), to);
                }
                s.replace(&from_ns, &to_ns)
            },
            &str::to_owned,
        );
        if let Some(ns) = out.pointer_mut("/metadata/namespace")
            && ns == NAMESPACE
        {
            *ns = Value::String(self.namespace.clone());
        }
        if let Some(refs) = out.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
            for r in refs {
                if let Some(uid) = r.get_mut("uid")
                    && let Some((_, real)) = self.uids.iter().find(|(fake, _)| uid == fake)
                {
                    *uid = Value::String(real.clone());
                }
            }
        }
        out
    }

    /// An answer: renamed groups back to the Flux groups, the replay's namespace back to
    /// `default` and real owner uids back to the scenario's, in every string (owner uids also in
    /// map keys: `k:{"uid":"..."}` of managedFields).
    pub fn inbound(&self, v: &Value) -> Value {
        map_strings(v, &|s| self.inbound_str(s), &|k| self.inbound_key(k))
    }

    pub fn inbound_str(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (from, to) in &self.groups {
            s = s.replace(to.as_str(), from);
        }
        self.inbound_key(&s.replace(&self.namespace, NAMESPACE))
    }

    fn inbound_key(&self, k: &str) -> String {
        let mut k = k.to_owned();
        for (fake, real) in &self.uids {
            k = k.replace(real.as_str(), fake);
        }
        k
    }
}

/// `v` with `f` applied to every string value and `key` to every map key.
fn map_strings(v: &Value, f: &dyn Fn(&str) -> String, key: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f, key)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (key(k), map_strings(x, f, key))).collect::<Map<_, _>>())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trip() {
        let t = Translation::new(&["source.toolkit.fluxcd.io"], Some(CrdSet::Current), "ssa-001-abc");
        let obj = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "metadata": {"name": "app", "namespace": "default", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration":
                    "{\"apiVersion\":\"source.toolkit.fluxcd.io/v1\",\"metadata\":{\"name\":\"app\",\"namespace\":\"default\"}}\n"
            }},
            "spec": {"url": "https://default.example"}
        });
        let out = t.outbound(&obj);
        assert_eq!(out["apiVersion"], "source.ssa-reference.eddy.test/v1");
        assert_eq!(out["metadata"]["namespace"], "ssa-001-abc");
        let ann = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str();
        assert!(ann.is_some_and(|a| a.contains("\"namespace\":\"ssa-001-abc\"") && a.contains("ssa-reference")));
        assert_eq!(out["spec"]["url"], "https://default.example");
        assert_eq!(t.inbound(&out), obj);
        assert_eq!(
            t.inbound_str("failed (ssa-001-abc/app; source.ssa-reference.eddy.test/v1, Kind=GitRepository)"),
            "failed (default/app; source.toolkit.fluxcd.io/v1, Kind=GitRepository)"
        );
    }

    #[test]
    fn owner_uids_are_translated() {
        let t = Translation::new(&[], None, "ns1").with_uids(vec![("u1".into(), "0f2c-real".into())]);
        let out = t.outbound(&json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "u1"}]}}));
        assert_eq!(out["metadata"]["ownerReferences"][0], json!({"uid": "0f2c-real", "name": "u1"}));
        let back = t.inbound(&json!({"f:metadata": {"k:{\"uid\":\"0f2c-real\"}": {}}, "m": "[uid=\"0f2c-real\"]"}));
        assert_eq!(back, json!({"f:metadata": {"k:{\"uid\":\"u1\"}": {}}, "m": "[uid=\"u1\"]"}));
    }

    #[test]
    fn legacy_groups_are_distinct() {
        assert_eq!(renamed_group("helm.toolkit.fluxcd.io", CrdSet::Current), "helm.ssa-reference.eddy.test");
        assert_eq!(renamed_group("source.toolkit.fluxcd.io", CrdSet::Legacy), "source.ssa-legacy.eddy.test");
    }
}
