//! Strategic merge patches and JSON 6902 patches.

use crate::Error;
use crate::yaml::{Kind, Map, Value};

/// How a list field is merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMerge {
    /// The patch list replaces the target list.
    Replace,
    /// Map elements are matched by these keys.
    Key(Vec<String>),
    /// Scalar elements are unioned.
    Scalars,
}

fn pod_spec_prefix(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" | "ReplicationController" => {
            &["spec", "template", "spec"]
        }
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// The merge strategy of the list at `path` (mapping keys only) in a
/// resource of `kind`, following the Kubernetes API's patch metadata.
fn key(keys: &[&str]) -> ListMerge {
    ListMerge::Key(keys.iter().map(|k| (*k).to_string()).collect())
}

/// What a merge needs to know about the patched resource's type.
pub struct MergeCtx<'a> {
    /// The resource kind (for the built-in Kubernetes types).
    pub kind: &'a str,
    /// A custom schema describing the type, from the `openapi` field.
    pub schema: Option<(&'a crate::openapi::Schema, String)>,
}

impl MergeCtx<'_> {
    fn list_merge(&self, path: &[String]) -> ListMerge {
        match &self.schema {
            Some((schema, def)) => schema.list_merge(def, path),
            None => list_merge(self.kind, path),
        }
    }
}

fn list_merge(kind: &str, path: &[String]) -> ListMerge {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let last = p.last().copied().unwrap_or_default();
    if last == "finalizers" && p.len() >= 2 && p[p.len() - 2] == "metadata" {
        return ListMerge::Scalars;
    }
    if last == "ownerReferences" && p.len() >= 2 && p[p.len() - 2] == "metadata" {
        return key(&["uid"]);
    }
    if let Some(prefix) = pod_spec_prefix(kind)
        && p.len() > prefix.len()
        && p[..prefix.len()] == *prefix
    {
        let rel = &p[prefix.len()..];
        return match rel {
            [
                "containers"
                | "initContainers"
                | "ephemeralContainers"
                | "volumes"
                | "imagePullSecrets"
                | "resourceClaims"
                | "schedulingGates",
            ] => key(&["name"]),
            ["hostAliases"] => key(&["ip"]),
            ["topologySpreadConstraints"] => key(&["topologyKey"]),
            ["containers" | "initContainers" | "ephemeralContainers", field] => match *field {
                "ports" => key(&["containerPort", "protocol"]),
                "env" => key(&["name"]),
                "volumeMounts" => key(&["mountPath"]),
                "volumeDevices" => key(&["devicePath"]),
                "resizePolicy" => key(&["resourceName"]),
                _ => ListMerge::Replace,
            },
            _ => ListMerge::Replace,
        };
    }
    match (kind, p.as_slice()) {
        ("Service", ["spec", "ports"]) => key(&["port", "protocol"]),
        ("MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration", ["webhooks"]) => key(&["name"]),
        _ => ListMerge::Replace,
    }
}

fn directive<'a>(m: &'a Map, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// Removes patch directives and nulls from a value being added wholesale.
fn clean(v: &Value) -> Option<Value> {
    match v {
        Value::Map(m) => {
            if directive(m, "$patch") == Some("delete") {
                return None;
            }
            let mut out = Map::new();
            for (k, val) in m.iter() {
                if k == "$patch" || val.is_null() {
                    continue;
                }
                if let Some(c) = clean(val) {
                    out.insert(k.clone(), c);
                }
            }
            Some(Value::Map(out))
        }
        Value::Seq(items) => Some(Value::Seq(
            items
                .iter()
                .filter(|i| !matches!(i, Value::Map(m) if directive(m, "$patch").is_some()))
                .filter_map(clean)
                .collect(),
        )),
        Value::Scalar(_) => Some(v.clone()),
    }
}

fn key_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Scalar(s)) if s.kind != Kind::Null => Some(s.text.clone()),
        _ => None,
    }
}

/// Applies a strategic merge patch to a resource object. Returns false when
/// the patch deletes the whole resource.
pub fn strategic_merge(kind: &MergeCtx<'_>, target: &mut Map, patch: &Map) -> Result<bool, Error> {
    match directive(patch, "$patch") {
        Some("delete") => return Ok(false),
        Some("replace") => {
            if let Some(Value::Map(c)) = clean(&Value::Map(patch.clone())) {
                *target = c;
            }
            return Ok(true);
        }
        _ => {}
    }
    merge_map(kind, &mut Vec::new(), target, patch)?;
    Ok(true)
}

fn merge_map(kind: &MergeCtx<'_>, path: &mut Vec<String>, target: &mut Map, patch: &Map) -> Result<(), Error> {
    for (k, pv) in patch.iter() {
        if k == "$patch" {
            continue;
        }
        if pv.is_null() {
            target.remove(k);
            continue;
        }
        if let Value::Map(pm) = pv {
            match directive(pm, "$patch") {
                Some("delete") => {
                    target.remove(k);
                    continue;
                }
                Some("replace") => {
                    if let Some(c) = clean(pv) {
                        target.insert(k.clone(), c);
                    }
                    continue;
                }
                _ => {}
            }
        }
        path.push(k.clone());
        match (target.get_mut(k), pv) {
            (Some(Value::Map(tm)), Value::Map(pm)) => merge_map(kind, path, tm, pm)?,
            (Some(Value::Seq(tl)), Value::Seq(pl)) => {
                let strategy = kind.list_merge(path);
                let merged = merge_list(kind, path, tl, pl, strategy)?;
                *tl = merged;
            }
            (_, pv) => {
                if let Some(c) = clean(pv) {
                    target.insert(k.clone(), c);
                }
            }
        }
        path.pop();
    }
    Ok(())
}

fn is_directive_item(v: &Value) -> bool {
    matches!(v, Value::Map(m) if m.contains_key("$patch"))
}

fn without_directives(patch: &[Value]) -> Vec<Value> {
    patch
        .iter()
        .filter(|i| !matches!(i, Value::Map(m) if directive(m, "$patch").is_some_and(|d| d != "merge")))
        .filter_map(clean)
        .collect()
}

/// Merges a list. Elements of the patch come first, in patch order, followed
/// by the target's remaining elements in their original order.
fn merge_list(
    kind: &MergeCtx<'_>,
    path: &mut Vec<String>,
    target: &[Value],
    patch: &[Value],
    strategy: ListMerge,
) -> Result<Vec<Value>, Error> {
    let replace = patch.iter().any(|i| matches!(i, Value::Map(m) if directive(m, "$patch") == Some("replace")));
    if replace || strategy == ListMerge::Replace {
        return Ok(without_directives(patch));
    }
    match strategy {
        ListMerge::Replace => Ok(without_directives(patch)),
        ListMerge::Scalars => {
            let mut out: Vec<Value> = Vec::new();
            for p in patch.iter().filter(|p| !is_directive_item(p)) {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            for t in target {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
            Ok(out)
        }
        ListMerge::Key(keys) => {
            let key = keys[0].as_str();
            let ident = |v: &Value| {
                let m = v.as_map()?;
                key_text(m.get(key))?;
                Some(
                    keys.iter()
                        .map(|k| key_text(m.get(k.as_str())).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\u{0}"),
                )
            };
            // With composite keys (ports: number and protocol), kustomize
            // ignores a patch element whose number matches an existing
            // element while only one of the two sets a secondary key.
            let conflicts = |p: &Value| {
                let (Some(pm), true) = (p.as_map(), keys.len() > 1) else { return false };
                target.iter().filter_map(Value::as_map).any(|dm| {
                    key_text(dm.get(key)).is_some()
                        && key_text(dm.get(key)) == key_text(pm.get(key))
                        && keys[1..]
                            .iter()
                            .any(|k| key_text(dm.get(k.as_str())).is_some() != key_text(pm.get(k.as_str())).is_some())
                })
            };
            let mut rest: Vec<Value> = target.to_vec();
            let mut out: Vec<Value> = Vec::new();
            for p in patch.iter().filter(|p| !conflicts(p)) {
                let Value::Map(pm) = p else {
                    return Err(Error::transform(format!(
                        "strategic merge patch: list {} expects mappings with key {key:?}",
                        path.join(".")
                    )));
                };
                let id = ident(p);
                match directive(pm, "$patch") {
                    Some("delete") => {
                        rest.retain(|o| ident(o) != id);
                        continue;
                    }
                    Some("merge") | None => {}
                    Some(other) => {
                        return Err(Error::transform(format!("unknown patch directive $patch: {other}")));
                    }
                }
                if id.is_none() {
                    return Err(Error::transform(format!(
                        "strategic merge patch: an element of {} is missing its merge key {key:?}",
                        path.join(".")
                    )));
                }
                if let Some(pos) = rest.iter().position(|o| ident(o) == id) {
                    let mut existing = rest.remove(pos);
                    if let Value::Map(om) = &mut existing {
                        merge_map(kind, path, om, pm)?;
                    }
                    out.push(existing);
                } else if let Some(Value::Map(om)) = out.iter_mut().find(|o| ident(o) == id) {
                    merge_map(kind, path, om, pm)?;
                } else if let Some(c) = clean(p) {
                    out.push(c);
                }
            }
            out.extend(rest);
            Ok(out)
        }
    }
}

/// One JSON 6902 operation.
#[derive(Debug, Clone)]
pub struct JsonOp {
    op: String,
    path: String,
    from: Option<String>,
    value: Option<Value>,
}

/// Parses a JSON 6902 patch document (YAML or JSON list of operations).
pub fn parse_json_patch(doc: &Value) -> Result<Vec<JsonOp>, Error> {
    let Some(items) = doc.as_seq() else {
        return Err(Error::transform("a JSON 6902 patch must be a list of operations"));
    };
    let mut ops = Vec::new();
    for it in items {
        let Some(m) = it.as_map() else {
            return Err(Error::transform("a JSON 6902 operation must be a mapping"));
        };
        let op = m
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::transform("JSON 6902 operation without \"op\""))?
            .to_string();
        let path = m
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::transform(format!("JSON 6902 {op} operation without \"path\"")))?
            .to_string();
        if !matches!(op.as_str(), "add" | "remove" | "replace" | "move" | "copy" | "test") {
            return Err(Error::transform(format!("unexpected JSON 6902 operation {op:?}")));
        }
        let value = m.get("value").cloned();
        if matches!(op.as_str(), "add" | "replace" | "test") && value.is_none() {
            return Err(Error::transform(format!("JSON 6902 {op} operation at {path} needs a value")));
        }
        ops.push(JsonOp { from: m.get("from").and_then(Value::as_str).map(str::to_string), op, path, value });
    }
    Ok(ops)
}

fn pointer(path: &str) -> Result<Vec<String>, Error> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::transform(format!("JSON pointer {path:?} must start with '/'")));
    };
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn missing(path: &str) -> Error {
    Error::transform(format!("JSON 6902 patch: path {path:?} does not exist in the resource"))
}

fn parent_mut<'a>(root: &'a mut Value, toks: &[String], path: &str) -> Result<&'a mut Value, Error> {
    let mut cur = root;
    for t in toks {
        cur = match cur {
            Value::Map(m) => m.get_mut(t).ok_or_else(|| missing(path))?,
            Value::Seq(items) => {
                let i: usize = t.parse().map_err(|_| missing(path))?;
                items.get_mut(i).ok_or_else(|| missing(path))?
            }
            Value::Scalar(_) => return Err(missing(path)),
        };
    }
    Ok(cur)
}

fn get_at(root: &Value, path: &str) -> Result<Value, Error> {
    let toks = pointer(path)?;
    let mut cur = root;
    for t in &toks {
        cur = match cur {
            Value::Map(m) => m.get(t).ok_or_else(|| missing(path))?,
            Value::Seq(items) => {
                let i: usize = t.parse().map_err(|_| missing(path))?;
                items.get(i).ok_or_else(|| missing(path))?
            }
            Value::Scalar(_) => return Err(missing(path)),
        };
    }
    Ok(cur.clone())
}

fn add_at(root: &mut Value, path: &str, value: Value) -> Result<(), Error> {
    let toks = pointer(path)?;
    let Some((last, parents)) = toks.split_last() else {
        *root = value;
        return Ok(());
    };
    match parent_mut(root, parents, path)? {
        Value::Map(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| missing(path))?;
            if i > items.len() {
                return Err(Error::transform(format!("JSON 6902 patch: index out of range in {path:?}")));
            }
            items.insert(i, value);
            Ok(())
        }
        Value::Scalar(_) => Err(missing(path)),
    }
}

fn remove_at(root: &mut Value, path: &str) -> Result<Value, Error> {
    let toks = pointer(path)?;
    let Some((last, parents)) = toks.split_last() else {
        return Err(Error::transform("JSON 6902 patch: cannot remove the whole document"));
    };
    match parent_mut(root, parents, path)? {
        Value::Map(m) => m.remove(last).ok_or_else(|| missing(path)),
        Value::Seq(items) => {
            let i: usize = last.parse().map_err(|_| missing(path))?;
            if i >= items.len() {
                return Err(missing(path));
            }
            Ok(items.remove(i))
        }
        Value::Scalar(_) => Err(missing(path)),
    }
}

/// Applies JSON 6902 operations to an object.
pub fn apply_json_patch(obj: &mut Map, ops: &[JsonOp]) -> Result<(), Error> {
    let mut root = Value::Map(std::mem::take(obj));
    let res = (|| {
        for op in ops {
            match op.op.as_str() {
                "add" => add_at(&mut root, &op.path, op.value.clone().unwrap_or_else(Value::null))?,
                "remove" => {
                    remove_at(&mut root, &op.path)?;
                }
                "replace" => {
                    remove_at(&mut root, &op.path)?;
                    add_at(&mut root, &op.path, op.value.clone().unwrap_or_else(Value::null))?;
                }
                "move" => {
                    let from = op.from.as_deref().ok_or_else(|| Error::transform("move needs \"from\""))?;
                    let v = remove_at(&mut root, from)?;
                    add_at(&mut root, &op.path, v)?;
                }
                "copy" => {
                    let from = op.from.as_deref().ok_or_else(|| Error::transform("copy needs \"from\""))?;
                    let v = get_at(&root, from)?;
                    add_at(&mut root, &op.path, v)?;
                }
                "test" => {
                    let v = get_at(&root, &op.path)?;
                    if Some(&v) != op.value.as_ref() {
                        return Err(Error::transform(format!("JSON 6902 test failed at {}", op.path)));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    match root {
        Value::Map(m) => *obj = m,
        _ => {
            return Err(Error::transform("JSON 6902 patch replaced the resource with a non-object"));
        }
    }
    res
}
