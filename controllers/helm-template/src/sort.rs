//! Helm's `releaseutil.SortManifests`: rendered files split into documents, hooks (by the
//! `helm.sh/hook` annotation) separated from manifests, both sorted stably by kind in Helm's
//! install order.

use std::collections::BTreeMap;

use crate::value::Value;

/// Helm's install order of kinds.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// A manifest (a document that is not a hook).
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The template path it came from.
    pub name: String,
    /// The document.
    pub content: String,
    /// Its kind.
    pub kind: String,
}

/// A hook.
#[derive(Debug, Clone)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// The template path it came from.
    pub path: String,
    /// The document.
    pub manifest: String,
    /// Events (`test-success` is read as `test`).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight`.
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`.
    pub delete_policies: Vec<String>,
}

/// Helm's `SplitManifests`: documents in order (split on lines starting with `---`).
pub fn split_manifests(big: &str) -> Vec<String> {
    let trimmed = big.trim_start();
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in trimmed.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            docs.push(std::mem::take(&mut cur));
            cur.push_str(rest.trim_start_matches([' ', '\t']));
            continue;
        }
        cur.push_str(line);
    }
    docs.push(cur);
    docs.into_iter().filter(|d| !d.trim().is_empty()).map(|d| d.trim_start().to_string()).collect()
}

fn get(v: &Value, k: &str) -> Value {
    match v {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or_default(),
        _ => Value::Nil,
    }
}

fn get_str(v: &Value, k: &str) -> String {
    get(v, k).as_str().map(String::from).unwrap_or_default()
}

fn rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// Go's `lessByKind`.
fn less(a: &str, b: &str) -> bool {
    match (rank(a), rank(b)) {
        (None, None) => a < b,
        (None, Some(_)) => false,
        (Some(_), None) => true,
        (Some(x), Some(y)) => x < y,
    }
}

fn stable_sort<T>(v: &mut [T], kind: impl Fn(&T) -> &str) {
    v.sort_by(|x, y| {
        let (a, b) = (kind(x), kind(y));
        if less(a, b) {
            std::cmp::Ordering::Less
        } else if less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

/// Splits and sorts rendered files into hooks and manifests.
pub fn sort_manifests(files: &BTreeMap<String, String>) -> Result<(Vec<Hook>, Vec<Manifest>), String> {
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = crate::yaml::parse(&doc).map_err(|e| format!("YAML parse error on {path}: {e}"))?;
            if !matches!(head, Value::Map(_) | Value::Nil) {
                let kind = match head {
                    Value::List(_) => "array",
                    Value::Str(_) => "string",
                    Value::Bool(_) => "bool",
                    _ => "number",
                };
                return Err(format!(
                    "YAML parse error on {path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type util.SimpleHead"
                ));
            }
            let kind = get_str(&head, "kind");
            let meta = get(&head, "metadata");
            let annotations = get(&meta, "annotations");
            let hook_types = match &annotations {
                Value::Map(m) => m.borrow().get("helm.sh/hook").and_then(|v| v.as_str().map(String::from)),
                _ => None,
            };
            let Some(hook_types) = hook_types else {
                manifests.push(Manifest { name: path.clone(), content: doc, kind });
                continue;
            };
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                if !HOOK_EVENTS.contains(&t.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(if t == "test-success" { "test".to_string() } else { t });
            }
            if unknown {
                tracing::debug!(hook_types, "skipping unknown hooks");
                continue;
            }
            let weight = get_str(&annotations, "helm.sh/hook-weight").parse().unwrap_or(0);
            let delete_policies = get_str(&annotations, "helm.sh/hook-delete-policy")
                .split(',')
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect();
            hooks.push(Hook {
                name: get_str(&meta, "name"),
                kind,
                path: path.clone(),
                manifest: doc,
                events,
                weight,
                delete_policies,
            });
        }
    }
    stable_sort(&mut hooks, |h| &h.kind);
    stable_sort(&mut manifests, |m| &m.kind);
    Ok((hooks, manifests))
}
