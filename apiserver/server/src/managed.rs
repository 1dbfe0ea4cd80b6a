//! `metadata.managedFields` for `Update` operations: which manager last set which fields.
//!
//! Field sets use kube's `FieldsV1` trie (`{"f:spec": {".": {}, "f:url": {}}}`). Lists are
//! treated as atomic leaves. A write by a manager takes ownership of every field whose value
//! it changed or added (other managers lose those fields), removed fields leave every set,
//! and entries left empty disappear. Server-side apply (`Apply` entries with conflicts) is
//! the job of the server-side-apply engine; its entries pass through untouched.

use serde_json::{Map, Value, json};

/// One path in an object: its `f:` keys in order. A trailing `"."` marks the map itself.
type Path = Vec<String>;

/// Metadata fields a manager can own; the rest are the server's.
const OWNABLE_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences", "generateName"];

fn collect(v: &Value, prefix: &mut Path, out: &mut Vec<Path>) {
    match v {
        Value::Object(m) => {
            if !prefix.is_empty() {
                let mut p = prefix.clone();
                p.push(".".into());
                out.push(p);
            }
            for (k, child) in m {
                prefix.push(format!("f:{k}"));
                collect(child, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

/// Every path of the parts of `obj` a manager may own (for a `/status` write only `status`,
/// otherwise everything but `status`, type information and server-owned metadata).
fn paths(obj: &Value, status: bool, status_subresource: bool) -> Vec<Path> {
    let mut out = Vec::new();
    let Some(m) = obj.as_object() else { return out };
    for (k, v) in m {
        let keep = match k.as_str() {
            "apiVersion" | "kind" => false,
            "status" => status || !status_subresource,
            _ => !status,
        };
        if !keep {
            continue;
        }
        if k == "metadata" {
            let Some(meta) = v.as_object() else { continue };
            let mut owned = Map::new();
            for f in OWNABLE_METADATA {
                if let Some(x) = meta.get(*f) {
                    owned.insert((*f).to_owned(), x.clone());
                }
            }
            if !owned.is_empty() {
                collect(&Value::Object(owned), &mut vec!["f:metadata".into()], &mut out);
                out.retain(|p| p.as_slice() != ["f:metadata", "."]);
            }
            continue;
        }
        collect(v, &mut vec![format!("f:{k}")], &mut out);
    }
    out
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for step in path {
        cur = cur.get(step.strip_prefix("f:").unwrap_or(step))?;
    }
    Some(cur)
}

fn to_trie(paths: &[Path]) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for step in p {
            let next = cur.entry(step.clone()).or_insert_with(|| json!({}));
            let Value::Object(m) = next else { break };
            cur = m;
        }
    }
    Value::Object(root)
}

fn from_trie(trie: &Value, prefix: &mut Path, out: &mut Vec<Path>) {
    let Some(m) = trie.as_object() else { return };
    if m.is_empty() && !prefix.is_empty() {
        out.push(prefix.clone());
        return;
    }
    for (k, v) in m {
        prefix.push(k.clone());
        from_trie(v, prefix, out);
        prefix.pop();
    }
}

/// Who made a write.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    /// The `fieldManager` (or one derived from the user agent).
    pub manager: &'a str,
    /// `group/version` the write was expressed in.
    pub api_version: &'a str,
    /// Whether it went to the status subresource.
    pub status: bool,
    /// Whether the kind has a status subresource at all.
    pub status_subresource: bool,
    /// The write's timestamp.
    pub time: &'a str,
}

/// Computes the `managedFields` of `new` after `writer` changed `old` into it (`old` is
/// `None` on create).
#[must_use]
pub fn update(old: Option<&Value>, new: &Value, writer: &Writer<'_>) -> Value {
    let sub = writer.status_subresource;
    let new_paths = paths(new, writer.status, sub);
    let all_new: Vec<Path> = {
        let mut all = paths(new, false, false);
        all.extend(paths(new, true, sub));
        all
    };
    let changed: Vec<Path> = new_paths
        .iter()
        .filter(|p| match (old, p.split_last()) {
            (None, _) => true,
            // A map is a change of its own only when it is new.
            (Some(o), Some((last, parent))) if last == "." => !value_at(o, parent).is_some_and(Value::is_object),
            (Some(o), _) => value_at(o, p) != value_at(new, p),
        })
        .cloned()
        .collect();
    let subresource = if writer.status { "status" } else { "" };
    let existing =
        old.and_then(|o| o.pointer("/metadata/managedFields")).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut entries = Vec::new();
    let mut mine: Vec<Path> = Vec::new();
    for e in existing {
        let is_mine = e["manager"] == writer.manager
            && e["operation"] == "Update"
            && e.get("subresource").and_then(Value::as_str).unwrap_or_default() == subresource;
        let mut set = Vec::new();
        from_trie(&e["fieldsV1"], &mut Vec::new(), &mut set);
        // Fields gone from the object leave every set.
        set.retain(|p| all_new.contains(p));
        if is_mine {
            mine = set;
            continue;
        }
        if e["operation"] == "Update" {
            set.retain(|p| !changed.contains(p));
        }
        if set.is_empty() {
            continue;
        }
        let mut e = e.clone();
        e["fieldsV1"] = to_trie(&set);
        entries.push(e);
    }
    for p in changed {
        if !mine.contains(&p) {
            mine.push(p);
        }
    }
    if !mine.is_empty() {
        mine.sort();
        let mut entry = json!({
            "manager": writer.manager,
            "operation": "Update",
            "apiVersion": writer.api_version,
            "time": writer.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_trie(&mine),
        });
        if writer.status {
            entry["subresource"] = json!("status");
        }
        entries.push(entry);
    }
    Value::Array(entries)
}

/// The manager name kube-apiserver derives from a `User-Agent`: its part before the first `/`.
#[must_use]
pub fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let name = ua.split('/').next().unwrap_or_default().trim();
    let name: String = name.chars().take(128).collect();
    if name.is_empty() { "unknown".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer<'a>(manager: &'a str, status: bool) -> Writer<'a> {
        Writer {
            manager,
            api_version: "source.toolkit.fluxcd.io/v1",
            status,
            status_subresource: true,
            time: "2026-01-01T00:00:00Z",
        }
    }

    #[test]
    fn create_owns_everything_but_server_fields_and_status() {
        let new = json!({
            "apiVersion": "x/v1", "kind": "K",
            "metadata": {"name": "a", "uid": "u", "labels": {"app": "a"}},
            "spec": {"url": "u", "ref": {"branch": "main"}, "list": [1, 2]},
            "status": {"ready": true}
        });
        let mf = update(None, &new, &writer("kubectl", false));
        assert_eq!(mf.as_array().map(Vec::len), Some(1));
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                   "f:spec": {".": {}, "f:list": {}, "f:ref": {".": {}, "f:branch": {}}, "f:url": {}}})
        );
        assert_eq!(mf[0]["operation"], "Update");
        assert!(mf[0].get("subresource").is_none());
    }

    #[test]
    fn ownership_moves_to_the_last_writer_of_a_field() {
        let v1 = json!({"metadata": {}, "spec": {"url": "u", "interval": "1m"}});
        let mut v1m = v1.clone();
        v1m["metadata"]["managedFields"] = update(None, &v1, &writer("alice", false));
        let v2 = json!({"metadata": {"managedFields": v1m["metadata"]["managedFields"].clone()}, "spec": {"url": "u", "interval": "5m"}});
        let mf = update(Some(&v1m), &v2, &writer("bob", false));
        let by =
            |m: &str| mf.as_array().into_iter().flatten().find(|e| e["manager"] == m).map(|e| e["fieldsV1"].clone());
        assert_eq!(by("alice"), Some(json!({"f:spec": {".": {}, "f:url": {}}})));
        assert_eq!(by("bob"), Some(json!({"f:spec": {"f:interval": {}}})));

        // A status write is its own entry and leaves spec owners alone.
        let mut v2m = v2.clone();
        v2m["metadata"]["managedFields"] = mf.clone();
        let v3 = json!({"metadata": {}, "spec": {"url": "u", "interval": "5m"}, "status": {"ready": true}});
        let mf3 = update(Some(&v2m), &v3, &writer("controller", true));
        assert_eq!(mf3.as_array().map(Vec::len), Some(3));
        let status =
            mf3.as_array().into_iter().flatten().find(|e| e["manager"] == "controller").cloned().unwrap_or_default();
        assert_eq!(status["subresource"], "status");
        assert_eq!(status["fieldsV1"], json!({"f:status": {".": {}, "f:ready": {}}}));

        // Removing a field drops it from its owner; an emptied entry disappears.
        let mut v3m = v3.clone();
        v3m["metadata"]["managedFields"] = mf3;
        let v4 = json!({"metadata": {}, "spec": {"url": "u"}, "status": {"ready": true}});
        let mf4 = update(Some(&v3m), &v4, &writer("alice", false));
        assert!(mf4.as_array().into_iter().flatten().all(|e| e["manager"] != "bob"), "{mf4}");
    }

    #[test]
    fn managers_from_user_agents() {
        assert_eq!(
            manager_from_user_agent(Some("kubectl-client-side-apply/v1.32.4 (linux/amd64) kubernetes/abc")),
            "kubectl-client-side-apply"
        );
        assert_eq!(manager_from_user_agent(None), "unknown");
    }
}
