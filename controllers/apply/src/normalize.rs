//! Normalisation of objects before they are applied and compared (fluxcd/pkg/ssa
//! `normalize` and `utils.RemoveCABundleFromCRD`).
//!
//! Flux round-trips built-in kinds through their Go types; what that changes and matters to
//! the API server is reproduced here: port protocols default to `TCP` in pod templates and
//! Services, a Secret's `stringData` is folded into `data`, `metadata.creationTimestamp` is
//! nulled and `status` dropped (but for CRDs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::meta::{api_version, is_crd, is_secret, kind};

/// Normalises objects as kustomize-controller does before applying them
/// (`normalize.UnstructuredList`). Idempotent.
pub fn normalize_objects(objects: &mut [Value]) {
    for obj in objects {
        normalize_object(obj);
    }
}

/// Normalises one object (`normalize.Unstructured`).
pub fn normalize_object(obj: &mut Value) {
    let is_rbac_role =
        api_version(obj) == "rbac.authorization.k8s.io/v1" && matches!(kind(obj), "Role" | "ClusterRole");
    if is_rbac_role {
        return;
    }
    let group_version = api_version(obj).to_string();
    match (group_version.as_str(), kind(obj)) {
        ("v1", "Pod") => default_container_protocols(obj.pointer_mut("/spec")),
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch/v1", "Job") => {
            default_container_protocols(obj.pointer_mut("/spec/template/spec"));
        }
        ("batch/v1", "CronJob") => default_container_protocols(obj.pointer_mut("/spec/jobTemplate/spec/template/spec")),
        ("v1", "Service") => default_protocols(obj.pointer_mut("/spec/ports")),
        _ if is_secret(obj) => fold_string_data(obj),
        _ => {}
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("creationTimestamp".to_string(), Value::Null);
    }
    if !is_crd(obj)
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    remove_invalid_ca_bundle(obj);
}

/// Sets `protocol: TCP` on the container ports of a pod spec that have none.
fn default_container_protocols(pod_spec: Option<&mut Value>) {
    let Some(containers) = pod_spec.and_then(|s| s.get_mut("containers")).and_then(Value::as_array_mut) else {
        return;
    };
    for c in containers {
        default_protocols(c.get_mut("ports"));
    }
}

/// Sets `protocol: TCP` on the ports of a list that have none.
fn default_protocols(ports: Option<&mut Value>) {
    let Some(ports) = ports.and_then(Value::as_array_mut) else { return };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        let missing = port.get("protocol").and_then(Value::as_str).is_none_or(str::is_empty);
        if missing {
            port.insert("protocol".to_string(), Value::String("TCP".to_string()));
        }
    }
}

/// Moves a Secret's `stringData` into `data` (base64), as the API server would.
fn fold_string_data(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    let Some(Value::Object(string_data)) = o.remove("stringData") else { return };
    if string_data.is_empty() {
        return;
    }
    let data = o.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            data.insert(k, Value::String(STANDARD.encode(text)));
        }
    }
}

/// Removes a CRD's conversion webhook `caBundle` when it holds no PEM certificate (Kubernetes
/// 1.31+ rejects such CRDs).
pub fn remove_invalid_ca_bundle(obj: &mut Value) {
    if !is_crd(obj) {
        return;
    }
    let Some(client_config) = obj.pointer_mut("/spec/conversion/webhook/clientConfig").and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(bundle) = client_config.get("caBundle").and_then(Value::as_str) else { return };
    if bundle.is_empty() {
        return;
    }
    let valid = STANDARD.decode(bundle).is_ok_and(|pem| has_pem_certificate(&pem));
    if !valid {
        client_config.remove("caBundle");
    }
}

/// Whether the bytes hold at least one PEM `CERTIFICATE` block whose body is base64.
fn has_pem_certificate(pem: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(pem) else { return false };
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else { return false };
        let body: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if !body.is_empty() && STANDARD.decode(body).is_ok() {
            return true;
        }
        rest = &after[end + END.len()..];
    }
    false
}

/// Prepares an object for the drift comparison (ssa `prepareObjectForDiff`): without
/// `metadata` and `status`, and with a HorizontalPodAutoscaler's duplicate and typeless
/// metrics removed (`normalize.DryRunUnstructured`).
#[must_use]
pub fn for_diff(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(o) = copy.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    if kind(obj) == "HorizontalPodAutoscaler"
        && let Some(metrics) = copy.pointer_mut("/spec/metrics").and_then(Value::as_array_mut)
    {
        let mut kept: Vec<Value> = Vec::with_capacity(metrics.len());
        for m in metrics.drain(..) {
            let typed = m.get("type").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
            if typed && !kept.contains(&m) {
                kept.push(m);
            }
        }
        *metrics = kept;
    }
    copy
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn protocols_default_to_tcp() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}}},
            "status": {"replicas": 1}});
        normalize_object(&mut d);
        assert_eq!(d.pointer("/spec/template/spec/containers/0/ports/0/protocol"), Some(&json!("TCP")));
        assert_eq!(d.pointer("/spec/template/spec/containers/0/ports/1/protocol"), Some(&json!("UDP")));
        assert_eq!(d.pointer("/metadata/creationTimestamp"), Some(&Value::Null));
        assert!(d.get("status").is_none());
        let mut s = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        normalize_object(&mut s);
        assert_eq!(s.pointer("/spec/ports/0/protocol"), Some(&json!("TCP")));
        let mut cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1}]}]}}}}}});
        normalize_object(&mut cj);
        assert_eq!(
            cj.pointer("/spec/jobTemplate/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );
    }

    #[test]
    fn secrets_fold_string_data() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "YQ==", "b": "b2xk"}, "stringData": {"b": "new", "c": "c"}});
        normalize_object(&mut s);
        assert!(s.get("stringData").is_none());
        assert_eq!(s["data"], json!({"a": "YQ==", "b": "bmV3", "c": "Yw=="}));
    }

    #[test]
    fn crds_keep_status_and_lose_bad_ca_bundles() {
        let mut crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "x"}, "status": {"a": 1},
            "spec": {"conversion": {"webhook": {"clientConfig": {"caBundle": "bm90IGEgY2VydA=="}}}}});
        normalize_object(&mut crd);
        assert!(crd.get("status").is_some());
        assert!(crd.pointer("/spec/conversion/webhook/clientConfig/caBundle").is_none());
        let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
        let mut good = crd.clone();
        good["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = json!(STANDARD.encode(pem));
        normalize_object(&mut good);
        assert!(good.pointer("/spec/conversion/webhook/clientConfig/caBundle").is_some());
    }

    #[test]
    fn roles_are_left_alone() {
        let mut r = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}, "status": {}});
        let before = r.clone();
        normalize_object(&mut r);
        assert_eq!(r, before);
    }

    #[test]
    fn diff_copies_drop_metadata_status_and_duplicate_metrics() {
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "status": {}, "spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu"}},
            {"type": "Resource", "resource": {"name": "cpu"}}, {"resource": {"name": "memory"}}]}});
        let d = for_diff(&hpa);
        assert!(d.get("metadata").is_none() && d.get("status").is_none());
        assert_eq!(d.pointer("/spec/metrics").and_then(Value::as_array).map(Vec::len), Some(1));
    }
}
