//! The built-in transformers: namespace, name prefix/suffix, labels,
//! annotations, images and replicas.

use regex::Regex;

use crate::Error;
use crate::fieldspec::{self, FieldSpec};
use crate::kustomization::{ImageSpec, LabelSpec};
use crate::resource::Resource;
use crate::yaml::{Map, Value};

/// Sets the namespace of every namespaced resource.
pub fn namespace(resources: &mut [Resource], ns: &str) {
    for r in resources.iter_mut() {
        let kind = r.kind().to_string();
        if kind == "Namespace" {
            r.set_name(ns);
            continue;
        }
        if !r.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
            && let Some(Value::Seq(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects {
                let Some(m) = s.as_map_mut() else { continue };
                let is_sa = m.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
                let is_default = m.get("name").and_then(Value::as_str) == Some("default");
                if is_sa && is_default {
                    m.insert("namespace", Value::str(ns));
                }
            }
        }
    }
}

fn skips_prefix(r: &Resource) -> bool {
    matches!(r.kind(), "CustomResourceDefinition" | "Namespace")
        || (r.kind() == "APIService" && r.group() == "apiregistration.k8s.io")
}

/// Adds a prefix and suffix to resource names.
pub fn prefix_suffix(resources: &mut [Resource], prefix: &str, suffix: &str) {
    for r in resources.iter_mut() {
        if skips_prefix(r) {
            continue;
        }
        if !prefix.is_empty() {
            let n = format!("{prefix}{}", r.name());
            r.set_name(&n);
            r.prefixes.insert(0, prefix.to_string());
        }
        if !suffix.is_empty() {
            let n = format!("{}{suffix}", r.name());
            r.set_name(&n);
            r.suffixes.push(suffix.to_string());
        }
    }
}

fn set_pairs(pairs: &[(String, String)]) -> impl FnMut(&mut Value) -> Result<(), Error> + '_ {
    move |v: &mut Value| {
        if v.is_null() {
            *v = Value::Map(Map::new());
        }
        let Some(m) = v.as_map_mut() else {
            return Err(Error::transform(format!(
                "expected a mapping for labels or annotations, found a {}",
                v.type_name()
            )));
        };
        for (k, val) in pairs {
            m.insert(k.clone(), Value::str(val.clone()));
        }
        Ok(())
    }
}

/// Applies `labels` entries and `commonLabels`.
pub fn labels(
    resources: &mut [Resource],
    entries: &[LabelSpec],
    common: &[(String, String)],
    common_specs: &[FieldSpec],
    template_specs: &[FieldSpec],
) -> Result<(), Error> {
    for e in entries {
        if e.pairs.is_empty() {
            continue;
        }
        let mut specs = e.fields.clone();
        if e.include_selectors {
            specs.extend(common_specs.iter().cloned());
        } else {
            specs.push(FieldSpec::new(None, None, "metadata/labels", true));
            if e.include_templates {
                specs.extend(template_specs.iter().cloned());
            }
        }
        for r in resources.iter_mut() {
            fieldspec::apply_specs(r, &specs, &mut set_pairs(&e.pairs))?;
        }
    }
    if !common.is_empty() {
        for r in resources.iter_mut() {
            fieldspec::apply_specs(r, common_specs, &mut set_pairs(common))?;
        }
    }
    Ok(())
}

/// Applies `commonAnnotations`.
pub fn annotations(resources: &mut [Resource], pairs: &[(String, String)], specs: &[FieldSpec]) -> Result<(), Error> {
    if pairs.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        fieldspec::apply_specs(r, specs, &mut set_pairs(pairs))?;
    }
    Ok(())
}

/// Splits an image reference into name, tag and digest. Like kustomize, a
/// colon only starts the tag after the first slash (so registry ports stay
/// in the name).
fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|i| *i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (image[..a].to_string(), String::new(), image[a + 1..].to_string()),
        (Some(c), Some(a)) => (image[..c].to_string(), image[c + 1..a].to_string(), image[a + 1..].to_string()),
        (Some(c), None) => (image[..c].to_string(), image[c + 1..].to_string(), String::new()),
        (None, Some(_)) => (image.to_string(), String::new(), String::new()),
    }
}

fn update_image(value: &str, spec: &ImageSpec, matcher: &Regex) -> Option<String> {
    if !matcher.is_match(value) {
        return None;
    }
    let (mut name, mut tag, mut digest) = split_image(value);
    if let Some(n) = &spec.new_name {
        name.clone_from(n);
    }
    match (&spec.new_tag, &spec.digest) {
        (Some(t), Some(d)) => {
            tag.clone_from(t);
            digest.clone_from(d);
        }
        (Some(t), None) => {
            tag.clone_from(t);
            digest.clear();
        }
        (None, Some(d)) => {
            tag.clear();
            digest.clone_from(d);
        }
        (None, None) => {}
    }
    let mut out = name;
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(&digest);
    }
    Some(out)
}

fn walk_containers(v: &mut Value, spec: &ImageSpec, matcher: &Regex) {
    match v {
        Value::Map(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers")
                    && let Value::Seq(items) = child
                {
                    for c in items.iter_mut() {
                        let Some(cm) = c.as_map_mut() else { continue };
                        let Some(img) = cm.get("image").and_then(Value::as_str) else {
                            continue;
                        };
                        if let Some(new) = update_image(img, spec, matcher) {
                            cm.insert("image", Value::str(new));
                        }
                    }
                }
                walk_containers(child, spec, matcher);
            }
        }
        Value::Seq(items) => {
            for it in items {
                walk_containers(it, spec, matcher);
            }
        }
        Value::Scalar(_) => {}
    }
}

/// Applies `images` entries, to every container list and to the extra image
/// fields of `configurations`.
pub fn images(resources: &mut [Resource], specs: &[ImageSpec], extra: &[FieldSpec]) -> Result<(), Error> {
    for spec in specs {
        let matcher = Regex::new(&format!("^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$", spec.name))
            .map_err(|e| Error::transform(format!("invalid image name {:?}: {e}", spec.name)))?;
        for r in resources.iter_mut() {
            let mut root = Value::Map(std::mem::take(&mut r.obj));
            walk_containers(&mut root, spec, &matcher);
            if let Value::Map(m) = root {
                r.obj = m;
            }
            fieldspec::apply_specs(r, extra, &mut |v: &mut Value| {
                if let Some(new) = v.as_str().and_then(|img| update_image(img, spec, &matcher)) {
                    *v = Value::str(new);
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

const REPLICA_KINDS: [&str; 4] = ["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"];

/// Applies `replicas` entries.
pub fn replicas(resources: &mut [Resource], entries: &[(String, i64)]) -> Result<(), Error> {
    for (name, count) in entries {
        let mut found = false;
        for r in resources.iter_mut() {
            if !REPLICA_KINDS.contains(&r.kind()) {
                continue;
            }
            if !r.names.iter().any(|n| n == name) {
                continue;
            }
            found = true;
            r.obj.entry_map("spec").insert("replicas", Value::int(*count));
        }
        if !found {
            return Err(Error::transform(format!(
                "replicas: resource with name {name} does not match a Deployment, ReplicationController, ReplicaSet or StatefulSet"
            )));
        }
    }
    Ok(())
}
