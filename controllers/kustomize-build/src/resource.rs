//! Resources and their identities.

use std::fmt;

use crate::yaml::{Kind, Map, Value};

/// The identity of a resource: group, version, kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResId {
    /// API group ("" for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// metadata.namespace ("" when unset).
    pub namespace: String,
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = if self.group.is_empty() { String::new() } else { format!("{}/", self.group) };
        write!(f, "{g}{}, Kind={}, Name={}", self.version, self.kind, self.name)?;
        if !self.namespace.is_empty() {
            write!(f, ", Namespace={}", self.namespace)?;
        }
        Ok(())
    }
}

impl ResId {
    /// Same group, version and kind.
    #[must_use]
    pub fn same_gvk(&self, o: &ResId) -> bool {
        self.group == o.group && self.version == o.version && self.kind == o.kind
    }

    /// Same resource, treating an empty namespace like "default".
    #[must_use]
    pub fn same_as(&self, o: &ResId) -> bool {
        self.same_gvk(o) && self.name == o.name && ns_eq(&self.namespace, &o.namespace)
    }
}

/// Namespace equality where "" and "default" are the same.
#[must_use]
pub fn ns_eq(a: &str, b: &str) -> bool {
    let a = if a.is_empty() { "default" } else { a };
    let b = if b.is_empty() { "default" } else { b };
    a == b
}

/// How a generated resource combines with an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Not generated, or generated with behavior create.
    #[default]
    Create,
    /// Replace the existing resource.
    Replace,
    /// Merge into the existing resource.
    Merge,
}

/// One resource of a build.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub obj: Map,
    /// The identity it was loaded or generated with.
    pub orig: ResId,
    /// Every name the resource has had, oldest first (the current one last).
    pub names: Vec<String>,
    /// Every namespace the resource has had, oldest first.
    pub namespaces: Vec<String>,
    /// Whether a content hash must be appended to the name at the end.
    pub needs_hash: bool,
    /// Generator behavior.
    pub behavior: Behavior,
    /// Prefixes applied so far, outermost first (for name-reference updates).
    pub prefixes: Vec<String>,
    /// Suffixes applied so far.
    pub suffixes: Vec<String>,
    /// Where the resource came from, as kustomize's `originAnnotations`
    /// build metadata describes it.
    pub origin: Option<String>,
    /// Builtin transformers applied to the resource, as
    /// (kustomization file, transformer kind), oldest first.
    pub transformations: Vec<(String, String)>,
}

fn str_at<'a>(m: &'a Map, path: &[&str]) -> &'a str {
    let mut cur = m;
    for (i, p) in path.iter().enumerate() {
        match cur.get(p) {
            Some(Value::Map(next)) if i + 1 < path.len() => cur = next,
            Some(Value::Scalar(s)) if i + 1 == path.len() && s.kind != Kind::Null => {
                return &s.text;
            }
            _ => return "",
        }
    }
    ""
}

impl Resource {
    /// The object as JSON (for the apply step): scalars keep the types YAML resolved them to
    /// (integers, floats, booleans, nulls; timestamps as RFC 3339 strings; see
    /// [`crate::yaml::to_json`]).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        crate::yaml::map_to_json(&self.obj)
    }

    /// Wraps a freshly loaded object.
    #[must_use]
    pub fn new(obj: Map) -> Self {
        let mut r = Resource {
            obj,
            orig: ResId::default(),
            names: Vec::new(),
            namespaces: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            origin: None,
            transformations: Vec::new(),
        };
        r.orig = r.id();
        r.names.push(r.name().to_string());
        r.namespaces.push(r.namespace().to_string());
        r
    }

    /// The apiVersion.
    #[must_use]
    pub fn api_version(&self) -> &str {
        str_at(&self.obj, &["apiVersion"])
    }

    /// The API group.
    #[must_use]
    pub fn group(&self) -> &str {
        match self.api_version().split_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    /// The API version without group.
    #[must_use]
    pub fn version(&self) -> &str {
        match self.api_version().split_once('/') {
            Some((_, v)) => v,
            None => self.api_version(),
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> &str {
        str_at(&self.obj, &["kind"])
    }

    /// metadata.name.
    #[must_use]
    pub fn name(&self) -> &str {
        str_at(&self.obj, &["metadata", "name"])
    }

    /// metadata.namespace.
    #[must_use]
    pub fn namespace(&self) -> &str {
        str_at(&self.obj, &["metadata", "namespace"])
    }

    /// The current identity.
    #[must_use]
    pub fn id(&self) -> ResId {
        ResId {
            group: self.group().to_string(),
            version: self.version().to_string(),
            kind: self.kind().to_string(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// Sets metadata.name, remembering the previous one.
    pub fn set_name(&mut self, name: &str) {
        self.obj.entry_map("metadata").insert("name", Value::str(name));
        if self.names.last().map(String::as_str) != Some(name) {
            self.names.push(name.to_string());
        }
    }

    /// Sets metadata.namespace, remembering the previous one.
    pub fn set_namespace(&mut self, ns: &str) {
        self.obj.entry_map("metadata").insert("namespace", Value::str(ns));
        if self.namespaces.last().map(String::as_str) != Some(ns) {
            self.namespaces.push(ns.to_string());
        }
    }

    /// Labels as strings.
    #[must_use]
    pub fn labels(&self) -> Vec<(String, String)> {
        self.string_map(&["metadata", "labels"])
    }

    /// Annotations as strings.
    #[must_use]
    pub fn annotations(&self) -> Vec<(String, String)> {
        self.string_map(&["metadata", "annotations"])
    }

    fn string_map(&self, path: &[&str]) -> Vec<(String, String)> {
        let mut cur = &self.obj;
        for p in path {
            match cur.get(p) {
                Some(Value::Map(m)) => cur = m,
                _ => return Vec::new(),
            }
        }
        cur.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
    }

    /// Whether the kind is cluster-scoped.
    #[must_use]
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(self.group(), self.kind())
    }
}

/// Whether a built-in kind is cluster-scoped. Unknown kinds are namespaced.
#[must_use]
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    let _ = group;
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PriorityClass"
            | "APIService"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "CSIDriver"
            | "CSINode"
            | "VolumeAttachment"
            | "RuntimeClass"
            | "PodSecurityPolicy"
            | "ComponentStatus"
            | "CertificateSigningRequest"
            | "IngressClass"
            | "FlowSchema"
            | "PriorityLevelConfiguration"
            | "TokenReview"
            | "SelfSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "SubjectAccessReview"
    )
}

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

fn gvk_key(r: &ResId) -> String {
    let g = if r.group.is_empty() { "~G" } else { &r.group };
    let v = if r.version.is_empty() { "~V" } else { &r.version };
    let k = if r.kind.is_empty() { "~K" } else { &r.kind };
    format!("{g}_{v}_{k}")
}

fn id_key(r: &ResId) -> String {
    let ns = if r.namespace.is_empty() { "~X" } else { &r.namespace };
    let n = if r.name.is_empty() { "~N" } else { &r.name };
    format!("{}|{ns}|{n}", gvk_key(r))
}

/// Sorts resources in kustomize's legacy order.
pub fn legacy_sort(resources: &mut [Resource], first: Option<&[String]>, last: Option<&[String]>) {
    let first: Vec<&str> = match first {
        Some(f) => f.iter().map(String::as_str).collect(),
        None => ORDER_FIRST.to_vec(),
    };
    let last: Vec<&str> = match last {
        Some(l) => l.iter().map(String::as_str).collect(),
        None => ORDER_LAST.to_vec(),
    };
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| *k == kind) {
            return i64::try_from(i).unwrap_or(0) - i64::try_from(first.len()).unwrap_or(0);
        }
        if let Some(i) = last.iter().position(|k| *k == kind) {
            return 1 + i64::try_from(i).unwrap_or(0);
        }
        0
    };
    resources.sort_by(|a, b| {
        let (ia, ib) = (a.id(), b.id());
        let (ra, rb) = (rank(&ia.kind), rank(&ib.kind));
        if ra != rb {
            return ra.cmp(&rb);
        }
        let (ga, gb) = (gvk_key(&ia), gvk_key(&ib));
        if ga != gb {
            return ga.cmp(&gb);
        }
        id_key(&ia).cmp(&id_key(&ib))
    });
}
