//! Updating references to resources whose names changed (prefix, suffix,
//! hash), like kustomize's name reference transformer.

use crate::Error;
use crate::fieldspec;
use crate::resource::Resource;
use crate::yaml::Value;

const POD_KINDS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("PodTemplate", "template/spec"),
];

/// One kind of reference: fields of `referrer` kinds naming a `referent`.
struct Ref {
    referent: &'static str,
    referrer: Option<String>,
    path: String,
}

fn table() -> Vec<Ref> {
    let mut t = Vec::new();
    let mut add = |referent: &'static str, referrer: Option<&str>, path: &str| {
        t.push(Ref { referent, referrer: referrer.map(str::to_string), path: path.to_string() });
    };
    for (kind, pod) in POD_KINDS {
        for c in ["containers", "initContainers", "ephemeralContainers"] {
            add("ConfigMap", Some(kind), &format!("{pod}/{c}/env/valueFrom/configMapKeyRef/name"));
            add("ConfigMap", Some(kind), &format!("{pod}/{c}/envFrom/configMapRef/name"));
            add("Secret", Some(kind), &format!("{pod}/{c}/env/valueFrom/secretKeyRef/name"));
            add("Secret", Some(kind), &format!("{pod}/{c}/envFrom/secretRef/name"));
        }
        add("ConfigMap", Some(kind), &format!("{pod}/volumes/configMap/name"));
        add("ConfigMap", Some(kind), &format!("{pod}/volumes/projected/sources/configMap/name"));
        add("Secret", Some(kind), &format!("{pod}/volumes/secret/secretName"));
        add("Secret", Some(kind), &format!("{pod}/volumes/projected/sources/secret/name"));
        add("Secret", Some(kind), &format!("{pod}/imagePullSecrets/name"));
        add("Secret", Some(kind), &format!("{pod}/volumes/csi/nodePublishSecretRef/name"));
        add("ServiceAccount", Some(kind), &format!("{pod}/serviceAccountName"));
        add("ServiceAccount", Some(kind), &format!("{pod}/serviceAccount"));
        add("PersistentVolumeClaim", Some(kind), &format!("{pod}/volumes/persistentVolumeClaim/claimName"));
        add("PriorityClass", Some(kind), &format!("{pod}/priorityClassName"));
    }
    for k in ["Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"] {
        add(k, Some("HorizontalPodAutoscaler"), "spec/scaleTargetRef/name");
    }
    add("Service", Some("StatefulSet"), "spec/serviceName");
    add("Service", Some("Ingress"), "spec/rules/http/paths/backend/serviceName");
    add("Service", Some("Ingress"), "spec/backend/serviceName");
    add("Service", Some("Ingress"), "spec/rules/http/paths/backend/service/name");
    add("Service", Some("Ingress"), "spec/defaultBackend/service/name");
    add("Service", Some("APIService"), "spec/service/name");
    add("Service", Some("MutatingWebhookConfiguration"), "webhooks/clientConfig/service/name");
    add("Service", Some("ValidatingWebhookConfiguration"), "webhooks/clientConfig/service/name");
    add("Secret", Some("Ingress"), "spec/tls/secretName");
    add("Secret", Some("ServiceAccount"), "imagePullSecrets/name");
    add("Secret", Some("ServiceAccount"), "secrets/name");
    add("Secret", Some("StorageClass"), "parameters/secretName");
    add("IngressClass", Some("Ingress"), "spec/ingressClassName");
    add("Role", Some("RoleBinding"), "roleRef/name");
    add("ClusterRole", Some("RoleBinding"), "roleRef/name");
    add("ClusterRole", Some("ClusterRoleBinding"), "roleRef/name");
    add("ServiceAccount", Some("RoleBinding"), "subjects/name");
    add("ServiceAccount", Some("ClusterRoleBinding"), "subjects/name");
    add("PersistentVolume", Some("PersistentVolumeClaim"), "spec/volumeName");
    add("StorageClass", Some("PersistentVolumeClaim"), "spec/storageClassName");
    add("StorageClass", Some("PersistentVolume"), "spec/storageClassName");
    add("StorageClass", Some("StatefulSet"), "spec/volumeClaimTemplates/spec/storageClassName");
    t
}

/// The referents whose name history contains `old`, filtered by namespace.
fn new_name(
    resources: &[Resource],
    referent_kind: &str,
    old: &str,
    referrer: &Resource,
    referrer_ns: &str,
) -> Result<Option<String>, Error> {
    let referrer_cluster = referrer.is_cluster_scoped();
    let candidates: Vec<&Resource> =
        resources.iter().filter(|r| r.kind() == referent_kind && r.names.iter().any(|n| n == old)).collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let in_scope: Vec<&Resource> = candidates
        .iter()
        .copied()
        .filter(|r| referrer_cluster || r.is_cluster_scoped() || crate::resource::ns_eq(r.namespace(), referrer_ns))
        .collect();
    let mut pick: Vec<&Resource> = in_scope;
    if pick.len() > 1 {
        // Like kustomize, prefer referents that went through the same
        // prefixes and suffixes as the referrer (same overlay branch).
        let same: Vec<&Resource> = pick
            .iter()
            .copied()
            .filter(|r| r.prefixes == referrer.prefixes && r.suffixes == referrer.suffixes)
            .collect();
        if !same.is_empty() {
            pick = same;
        }
    }
    let mut names: Vec<&str> = pick.iter().map(|r| r.name()).collect();
    names.dedup();
    match names.len() {
        0 => Ok(None),
        1 => Ok(Some(names[0].to_string())),
        _ => {
            // Prefer an exact current-name match, then the one whose original
            // name is the reference.
            if names.contains(&old) {
                return Ok(Some(old.to_string()));
            }
            let orig: Vec<&&Resource> = pick.iter().filter(|r| r.orig.name == old).collect();
            if orig.len() == 1 {
                return Ok(Some(orig[0].name().to_string()));
            }
            Err(Error::transform(format!(
                "found multiple possible referents for {referent_kind} {old:?}: {}",
                names.join(", ")
            )))
        }
    }
}

/// Rewrites references to renamed resources.
pub fn fix(resources: &mut [Resource]) -> Result<(), Error> {
    let refs = table();
    let snapshot: Vec<Resource> = resources.to_vec();
    for r in resources.iter_mut() {
        let ns = r.namespace().to_string();
        let me = r.clone();
        for rf in &refs {
            if rf.referrer.as_deref().is_some_and(|k| k != r.kind()) {
                continue;
            }
            let path = fieldspec::split_path(&rf.path);
            let Some((leaf, parents)) = path.split_last() else {
                continue;
            };
            let mut root = Value::Map(std::mem::take(&mut r.obj));
            let mut result = Ok(());
            let leaf = leaf.clone();
            let _ = fieldspec::visit(&mut root, parents, false, &mut |holder: &mut Value| {
                let holders: Vec<&mut Value> = match holder {
                    Value::Seq(items) => items.iter_mut().collect(),
                    other => vec![other],
                };
                for h in holders {
                    let Some(m) = h.as_map_mut() else { continue };
                    // Sibling `kind` fields (roleRef, subjects, scaleTargetRef)
                    // must name the referent kind.
                    // kustomize does not check the kind of RBAC subjects.
                    let check_kind = !rf.path.starts_with("subjects");
                    if let Some(k) = m.get("kind").and_then(Value::as_str).filter(|_| check_kind)
                        && k != rf.referent
                    {
                        continue;
                    }
                    let scope_ns =
                        m.get("namespace").and_then(Value::as_str).map_or_else(|| ns.clone(), str::to_string);
                    let Some(old) = m.get(&leaf).and_then(Value::as_str).map(str::to_string) else {
                        continue;
                    };
                    match new_name(&snapshot, rf.referent, &old, &me, &scope_ns) {
                        Ok(Some(n)) if n != old => m.insert(leaf.clone(), Value::str(n)),
                        Ok(_) => {}
                        Err(e) => result = Err(e),
                    }
                }
                Ok(())
            });
            if let Value::Map(m) = root {
                r.obj = m;
            }
            result?;
        }
    }
    Ok(())
}
