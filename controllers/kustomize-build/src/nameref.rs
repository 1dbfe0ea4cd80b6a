//! Updating references to resources whose names changed (prefix, suffix,
//! hash), like kustomize's name reference transformer.

use std::collections::HashMap;
use std::sync::OnceLock;

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

/// What name-reference resolution needs to know about a resource.
struct Info {
    kind: String,
    name: String,
    orig_name: String,
    orig_namespace: String,
    namespace: String,
    cluster: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Info {
    fn of(r: &Resource) -> Self {
        Info {
            kind: r.kind().to_string(),
            name: r.name().to_string(),
            orig_name: r.orig.name.clone(),
            orig_namespace: r.orig.namespace.clone(),
            namespace: r.namespace().to_string(),
            cluster: r.is_cluster_scoped(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        }
    }
}

/// Resources indexed by (kind, any name they have had).
struct Index {
    infos: Vec<Info>,
    by_name: HashMap<(String, String), Vec<usize>>,
}

/// The new name of the referent `old` of kind `referent_kind`, if it was
/// renamed: candidates are filtered by namespace, then by overlay branch.
fn new_name(
    idx: &Index,
    referent_kind: &str,
    old: &str,
    referrer: &Info,
    referrer_ns: &str,
    explicit_ns: bool,
) -> Result<Option<(String, String)>, Error> {
    let Some(cands) = idx.by_name.get(&(referent_kind.to_string(), old.to_string())) else {
        return Ok(None);
    };
    // An explicit namespace next to the name (RBAC subjects) selects the referents by the
    // namespace they were declared in when any referent of the kind was declared there (so a
    // ServiceAccount declared without a namespace is `default`'s even after a namespace
    // transformer moved it), else by their current namespace — kustomize's
    // filterMapCandidatesByNamespace.
    let by_original = explicit_ns
        && idx
            .infos
            .iter()
            .any(|r| r.kind == referent_kind && !r.cluster && crate::resource::ns_eq(&r.orig_namespace, referrer_ns));
    let mut pick: Vec<&Info> = cands
        .iter()
        .map(|i| &idx.infos[*i])
        .filter(|r| {
            if by_original {
                !r.cluster && crate::resource::ns_eq(&r.orig_namespace, referrer_ns)
            } else if explicit_ns {
                r.cluster || crate::resource::ns_eq(&r.namespace, referrer_ns)
            } else {
                referrer.cluster || r.cluster || crate::resource::ns_eq(&r.namespace, referrer_ns)
            }
        })
        .collect();
    if pick.len() > 1 {
        // Like kustomize, prefer referents that went through the same
        // prefixes and suffixes as the referrer (same overlay branch).
        let same: Vec<&Info> = pick
            .iter()
            .copied()
            .filter(|r| r.prefixes == referrer.prefixes && r.suffixes == referrer.suffixes)
            .collect();
        if !same.is_empty() {
            pick = same;
        }
    }
    let mut names: Vec<&str> = pick.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    let found = |r: &Info| Some((r.name.clone(), r.namespace.clone()));
    match names.len() {
        0 => Ok(None),
        1 => Ok(found(pick[0])),
        _ => {
            // Prefer an exact current-name match, then the one whose original
            // name is the reference.
            if let Some(r) = pick.iter().find(|r| r.name == old) {
                return Ok(found(r));
            }
            let orig: Vec<&&Info> = pick.iter().filter(|r| r.orig_name == old).collect();
            if orig.len() == 1 {
                return Ok(found(orig[0]));
            }
            Err(Error::transform(format!(
                "found multiple possible referents for {referent_kind} {old:?}: {}",
                names.join(", ")
            )))
        }
    }
}

/// A reference path split into the holder path and the name field.
struct Compiled {
    referent: String,
    referrer: Option<String>,
    parents: Vec<String>,
    leaf: String,
    check_kind: bool,
}

fn compiled() -> &'static [Compiled] {
    static TABLE: OnceLock<Vec<Compiled>> = OnceLock::new();
    TABLE.get_or_init(|| {
        table()
            .into_iter()
            .filter_map(|rf| {
                let mut path = fieldspec::split_path(&rf.path);
                let leaf = path.pop()?;
                Some(Compiled {
                    referent: rf.referent.to_string(),
                    referrer: rf.referrer,
                    // kustomize does not check the kind of RBAC subjects.
                    check_kind: !rf.path.starts_with("subjects"),
                    parents: path,
                    leaf,
                })
            })
            .collect()
    })
}

/// An additional name reference from a `configurations` file.
#[derive(Debug, Clone)]
pub struct ExtraRef {
    /// Kind of the referenced resource.
    pub referent: String,
    /// Where the referring field is.
    pub spec: fieldspec::FieldSpec,
}

/// Rewrites references to renamed resources.
pub fn fix(resources: &mut [Resource], extra: &[ExtraRef]) -> Result<(), Error> {
    let mut owned: Vec<Compiled> = Vec::new();
    for e in extra {
        let mut parents = e.spec.path.clone();
        let Some(leaf) = parents.pop() else { continue };
        owned.push(Compiled {
            referent: e.referent.clone(),
            referrer: e.spec.kind.clone(),
            parents: parents.iter().map(|p| p.trim_end_matches("[]").to_string()).collect(),
            leaf,
            check_kind: false,
        });
    }
    let refs: Vec<&Compiled> = compiled().iter().chain(owned.iter()).collect();
    let mut idx = Index { infos: resources.iter().map(Info::of).collect(), by_name: HashMap::new() };
    for (i, r) in resources.iter().enumerate() {
        for n in &r.names {
            let e = idx.by_name.entry((idx.infos[i].kind.clone(), n.clone())).or_default();
            if !e.contains(&i) {
                e.push(i);
            }
        }
    }
    for (i, r) in resources.iter_mut().enumerate() {
        let me = &idx.infos[i];
        for rf in &refs {
            if rf.referrer.as_deref().is_some_and(|k| k != me.kind) {
                continue;
            }
            let mut root = Value::Map(std::mem::take(&mut r.obj));
            let mut result = Ok(());
            let _ = fieldspec::visit(&mut root, &rf.parents, false, &mut |holder: &mut Value| {
                let holders: Vec<&mut Value> = match holder {
                    Value::Seq(items) => items.iter_mut().collect(),
                    other => vec![other],
                };
                for h in holders {
                    let Some(m) = h.as_map_mut() else { continue };
                    // Sibling `kind` fields (roleRef, scaleTargetRef) must name
                    // the referent kind.
                    if let Some(k) = m.get("kind").and_then(Value::as_str).filter(|_| rf.check_kind)
                        && k != rf.referent
                    {
                        continue;
                    }
                    let explicit_ns = m.get("namespace").and_then(Value::as_str).is_some();
                    let scope_ns = m.get("namespace").and_then(Value::as_str).unwrap_or(&me.namespace).to_string();
                    let Some(old) = m.get(&rf.leaf).and_then(Value::as_str).map(str::to_string) else {
                        continue;
                    };
                    match new_name(&idx, &rf.referent, &old, me, &scope_ns, explicit_ns) {
                        Ok(Some((n, ns))) => {
                            if n != old {
                                m.insert(rf.leaf.clone(), Value::str(n));
                            }
                            // RBAC subjects also follow the referent's namespace.
                            if !rf.check_kind && !ns.is_empty() {
                                m.insert("namespace", Value::str(ns));
                            }
                        }
                        Ok(None) => {}
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
