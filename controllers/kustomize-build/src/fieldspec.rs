//! Field specifications: which fields of which kinds a transformer touches.

use crate::Error;
use crate::resource::Resource;
use crate::yaml::{Kind, Map, Value};

/// A path into resources of some kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Group constraint (None matches any group).
    pub group: Option<String>,
    /// Version constraint.
    pub version: Option<String>,
    /// Kind constraint.
    pub kind: Option<String>,
    /// Path segments; a trailing `[]` on a segment marks a list.
    pub path: Vec<String>,
    /// Whether missing fields are created.
    pub create: bool,
}

impl FieldSpec {
    /// A spec from a compact description.
    #[must_use]
    pub fn new(group: Option<&str>, kind: Option<&str>, path: &str, create: bool) -> Self {
        FieldSpec {
            group: group.map(str::to_string),
            version: None,
            kind: kind.map(str::to_string),
            path: split_path(path),
            create,
        }
    }

    /// Whether the spec applies to a resource.
    #[must_use]
    pub fn applies_to(&self, r: &Resource) -> bool {
        if let Some(k) = &self.kind
            && k != r.kind()
        {
            return false;
        }
        if let Some(g) = &self.group
            && g != r.group()
        {
            return false;
        }
        if let Some(v) = &self.version
            && v != r.version()
        {
            return false;
        }
        true
    }
}

/// Splits a slash-separated field path, honouring `[...]` filters that may
/// contain slashes.
#[must_use]
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '/' if depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a list of field specs (`fields:` or a configuration file section).
pub fn parse_list(v: &Value) -> Result<Vec<FieldSpec>, String> {
    let Some(items) = v.as_seq() else {
        if v.is_null() {
            return Ok(Vec::new());
        }
        return Err("field specs must be a list".into());
    };
    items.iter().map(parse_one).collect()
}

fn parse_one(v: &Value) -> Result<FieldSpec, String> {
    let m = v.as_map().ok_or("a field spec must be a mapping")?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
    let path = s("path").ok_or("a field spec needs a path")?;
    let create = matches!(m.get("create"), Some(Value::Scalar(x)) if x.kind == Kind::Bool && x.text.eq_ignore_ascii_case("true"));
    Ok(FieldSpec { group: s("group"), version: s("version"), kind: s("kind"), path: split_path(&path), create })
}

/// Calls `f` on every node the path reaches in `v`, creating missing mappings
/// along the way when `create` is set. The final node may be null when it was
/// just created.
pub fn visit(
    v: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    let Some((seg, rest)) = path.split_first() else {
        return f(v);
    };
    if let Value::Seq(items) = v {
        for it in items {
            visit(it, path, create, f)?;
        }
        return Ok(());
    }
    let (key, is_list) = match seg.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (seg.as_str(), false),
    };
    if v.is_null() && create {
        *v = Value::Map(Map::new());
    }
    let Value::Map(m) = v else {
        return Ok(());
    };
    if !m.contains_key(key) {
        if !create || is_list {
            return Ok(());
        }
        m.insert(key, Value::null());
    }
    let Some(child) = m.get_mut(key) else {
        return Ok(());
    };
    if child.is_null() && !rest.is_empty() {
        if !create {
            return Ok(());
        }
        *child = Value::Map(Map::new());
    }
    visit(child, rest, create, f)
}

/// Applies `f` to every field the specs select in the resource.
pub fn apply_specs(
    r: &mut Resource,
    specs: &[FieldSpec],
    f: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    let matching: Vec<&FieldSpec> = specs.iter().filter(|s| s.applies_to(r)).collect();
    let mut seen: Vec<&Vec<String>> = Vec::new();
    for s in matching {
        if seen.contains(&&s.path) {
            continue;
        }
        seen.push(&s.path);
        let mut root = Value::Map(std::mem::take(&mut r.obj));
        let res = visit(&mut root, &s.path, s.create, f);
        if let Value::Map(m) = root {
            r.obj = m;
        }
        res?;
    }
    Ok(())
}

const WORKLOADS: &[&str] = &["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController"];

/// Field specs of `commonLabels` (labels with selectors).
#[must_use]
pub fn common_label_specs() -> Vec<FieldSpec> {
    let mut v = vec![
        FieldSpec::new(None, None, "metadata/labels", true),
        FieldSpec::new(None, Some("Service"), "spec/selector", true),
        FieldSpec::new(None, Some("ReplicationController"), "spec/selector", true),
        FieldSpec::new(None, Some("ReplicationController"), "spec/template/metadata/labels", true),
    ];
    for k in ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"] {
        v.push(FieldSpec::new(None, Some(k), "spec/selector/matchLabels", true));
        v.push(FieldSpec::new(None, Some(k), "spec/template/metadata/labels", true));
    }
    for k in ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"] {
        affinity_specs(&mut v, k, "spec/template/spec");
    }
    v.push(FieldSpec::new(None, Some("StatefulSet"), "spec/volumeClaimTemplates[]/metadata/labels", true));
    v.push(FieldSpec::new(None, Some("Job"), "spec/selector/matchLabels", false));
    v.push(FieldSpec::new(None, Some("Job"), "spec/template/metadata/labels", true));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/spec/selector/matchLabels", false));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/metadata/labels", true));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/spec/template/metadata/labels", true));
    affinity_specs(&mut v, "CronJob", "spec/jobTemplate/spec/template/spec");
    v.push(FieldSpec::new(None, Some("PodDisruptionBudget"), "spec/selector/matchLabels", false));
    v.push(FieldSpec::new(None, Some("NetworkPolicy"), "spec/podSelector/matchLabels", false));
    v.push(FieldSpec::new(None, Some("NetworkPolicy"), "spec/ingress/from/podSelector/matchLabels", false));
    v.push(FieldSpec::new(None, Some("NetworkPolicy"), "spec/egress/to/podSelector/matchLabels", false));
    v
}

fn affinity_specs(v: &mut Vec<FieldSpec>, kind: &str, pod: &str) {
    for aff in ["podAffinity", "podAntiAffinity"] {
        v.push(FieldSpec::new(
            None,
            Some(kind),
            &format!("{pod}/affinity/{aff}/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels"),
            false,
        ));
        v.push(FieldSpec::new(
            None,
            Some(kind),
            &format!("{pod}/affinity/{aff}/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels"),
            false,
        ));
    }
    v.push(FieldSpec::new(
        None,
        Some(kind),
        &format!("{pod}/topologySpreadConstraints/labelSelector/matchLabels"),
        false,
    ));
}

/// Field specs of `labels` with `includeTemplates` but no selectors.
#[must_use]
pub fn template_label_specs() -> Vec<FieldSpec> {
    let mut v = vec![FieldSpec::new(None, None, "metadata/labels", true)];
    for k in WORKLOADS {
        v.push(FieldSpec::new(None, Some(k), "spec/template/metadata/labels", true));
    }
    v.push(FieldSpec::new(None, Some("StatefulSet"), "spec/volumeClaimTemplates[]/metadata/labels", true));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/metadata/labels", true));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/spec/template/metadata/labels", true));
    v
}

/// Field specs of `commonAnnotations`.
#[must_use]
pub fn annotation_specs() -> Vec<FieldSpec> {
    let mut v = vec![FieldSpec::new(None, None, "metadata/annotations", true)];
    for k in WORKLOADS {
        v.push(FieldSpec::new(None, Some(k), "spec/template/metadata/annotations", true));
    }
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/metadata/annotations", true));
    v.push(FieldSpec::new(None, Some("CronJob"), "spec/jobTemplate/spec/template/metadata/annotations", true));
    v
}
