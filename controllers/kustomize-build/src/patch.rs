//! Strategic merge patches and JSON 6902 patches.

use crate::Error;
use crate::yaml::{Kind, Map, Value};

/// How a list field is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListMerge {
    /// The patch list replaces the target list.
    Replace,
    /// Map elements are matched by this key.
    Key(&'static str),
    /// Scalar elements are unioned.
    Scalars,
}

fn pod_spec_prefix(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// The merge strategy of the list at `path` (mapping keys only) in a
/// resource of `kind`, following the Kubernetes API's patch metadata.
fn list_merge(kind: &str, path: &[String]) -> ListMerge {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let last = p.last().copied().unwrap_or_default();
    if last == "finalizers" && p.len() >= 2 && p[p.len() - 2] == "metadata" {
        return ListMerge::Scalars;
    }
    if last == "ownerReferences" && p.len() >= 2 && p[p.len() - 2] == "metadata" {
        return ListMerge::Key("uid");
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
            ] => ListMerge::Key("name"),
            ["hostAliases"] => ListMerge::Key("ip"),
            ["topologySpreadConstraints"] => ListMerge::Key("topologyKey"),
            [
                "containers" | "initContainers" | "ephemeralContainers",
                field,
            ] => match *field {
                "ports" => ListMerge::Key("containerPort"),
                "env" => ListMerge::Key("name"),
                "volumeMounts" => ListMerge::Key("mountPath"),
                "volumeDevices" => ListMerge::Key("devicePath"),
                "resizePolicy" => ListMerge::Key("resourceName"),
                _ => ListMerge::Replace,
            },
            _ => ListMerge::Replace,
        };
    }
    match (kind, p.as_slice()) {
        ("Service", ["spec", "ports"]) => ListMerge::Key("port"),
        ("MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration", ["webhooks"]) => {
            ListMerge::Key("name")
        }
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
                if k.starts_with('$') {
                    continue;
                }
                if val.is_null() {
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
pub fn strategic_merge(kind: &str, target: &mut Map, patch: &Map) -> Result<bool, Error> {
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

fn merge_map(
    kind: &str,
    path: &mut Vec<String>,
    target: &mut Map,
    patch: &Map,
) -> Result<(), Error> {
    if let Some(Value::Seq(keep)) = patch.get("$retainKeys") {
        let keep: Vec<String> = keep
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        target.retain(|k, _| keep.iter().any(|x| x == k));
    }
    for (k, pv) in patch.iter() {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Seq(del)), Some(Value::Seq(items))) =
                (Some(pv), target.get_mut(field))
            {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
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
        let order = match patch.get(&format!("$setElementOrder/{k}")) {
            Some(Value::Seq(o)) => Some(o.clone()),
            _ => None,
        };
        match (target.get_mut(k), pv) {
            (Some(Value::Map(tm)), Value::Map(pm)) => merge_map(kind, path, tm, pm)?,
            (Some(Value::Seq(tl)), Value::Seq(pl)) => {
                let strategy = list_merge(kind, path);
                let merged = merge_list(kind, path, tl, pl, strategy, order.as_deref())?;
                *tl = merged;
            }
            (_, pv) => {
                if let Some(c) = clean(pv) {
                    let c = match (c, &order) {
                        (Value::Seq(items), Some(_)) => Value::Seq(items),
                        (c, _) => c,
                    };
                    target.insert(k.clone(), c);
                }
            }
        }
        path.pop();
    }
    Ok(())
}

fn merge_list(
    kind: &str,
    path: &mut Vec<String>,
    target: &[Value],
    patch: &[Value],
    strategy: ListMerge,
    order: Option<&[Value]>,
) -> Result<Vec<Value>, Error> {
    match strategy {
        ListMerge::Replace => {
            let list: Vec<Value> = patch
                .iter()
                .filter(|i| !matches!(i, Value::Map(m) if directive(m, "$patch").is_some()))
                .filter_map(clean)
                .collect();
            Ok(list)
        }
        ListMerge::Scalars => {
            let mut merged: Vec<Value> = target.to_vec();
            for p in patch {
                if !merged.contains(p) {
                    merged.push(p.clone());
                }
            }
            let ident = |v: &Value| key_text(Some(v));
            let in_patch = |v: &Value| patch.iter().any(|p| ident(p) == ident(v));
            let patch_items: Vec<Value> = merged.iter().filter(|v| in_patch(v)).cloned().collect();
            let server_only: Vec<Value> = merged.iter().filter(|v| !in_patch(v)).cloned().collect();
            let patch_order: Vec<Option<String>> =
                order.unwrap_or(patch).iter().map(ident).collect();
            let server_order: Vec<Option<String>> = target.iter().map(ident).collect();
            Ok(normalize(
                patch_items,
                server_only,
                &patch_order,
                &server_order,
                &ident,
            ))
        }
        ListMerge::Key(key) => {
            let mut original: Vec<Value> = target.to_vec();
            let ident = |v: &Value| v.as_map().and_then(|m| key_text(m.get(key)));
            // Special elements: deletions and whole-list replacement.
            let mut plain_patch: Vec<Value> = Vec::new();
            for p in patch {
                if let Value::Map(pm) = p {
                    match directive(pm, "$patch") {
                        Some("replace") => {
                            return Ok(patch
                                .iter()
                                .filter(|i| !matches!(i, Value::Map(m) if directive(m, "$patch").is_some()))
                                .filter_map(clean)
                                .collect());
                        }
                        Some("delete") => {
                            let id = ident(p);
                            original.retain(|o| ident(o) != id);
                            continue;
                        }
                        Some("merge") | None => {}
                        Some(other) => {
                            return Err(Error::transform(format!(
                                "unknown patch directive $patch: {other}"
                            )));
                        }
                    }
                }
                plain_patch.push(p.clone());
            }
            let server_order: Vec<Option<String>> = original.iter().map(ident).collect();
            let mut merged = original.clone();
            for p in &plain_patch {
                let Value::Map(pm) = p else {
                    return Err(Error::transform(format!(
                        "strategic merge patch: list {} expects mappings with key {key:?}",
                        path.join(".")
                    )));
                };
                let id = ident(p);
                if id.is_none() {
                    return Err(Error::transform(format!(
                        "strategic merge patch: an element of {} is missing its merge key {key:?}",
                        path.join(".")
                    )));
                }
                match merged.iter_mut().find(|o| ident(o) == id) {
                    Some(Value::Map(om)) => merge_map(kind, path, om, pm)?,
                    _ => {
                        if let Some(c) = clean(p) {
                            merged.push(c);
                        }
                    }
                }
            }
            let in_patch = |v: &Value| plain_patch.iter().any(|p| ident(p) == ident(v));
            let patch_items: Vec<Value> = merged.iter().filter(|v| in_patch(v)).cloned().collect();
            let server_only: Vec<Value> = merged.iter().filter(|v| !in_patch(v)).cloned().collect();
            let patch_order: Vec<Option<String>> = match order {
                Some(o) => o.iter().map(ident).collect(),
                None => plain_patch.iter().map(ident).collect(),
            };
            Ok(normalize(
                patch_items,
                server_only,
                &patch_order,
                &server_order,
                &ident,
            ))
        }
    }
}

/// Orders merged list items the way the Kubernetes strategic merge patch
/// does: patch items in patch order, interleaved with items only present on
/// the server so that both keep their relative order.
fn normalize(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Option<String>],
    server_order: &[Option<String>],
    ident: &dyn Fn(&Value) -> Option<String>,
) -> Vec<Value> {
    let index = |order: &[Option<String>], v: &Value| order.iter().position(|o| *o == ident(v));
    sort_by_order(&mut patch_items, |v| index(patch_order, v));
    sort_by_order(&mut server_only, |v| index(server_order, v));
    let (left, right) = (server_only, patch_items);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        if i >= left.len() {
            out.push(right[j].clone());
            j += 1;
        } else if j >= right.len() {
            out.push(left[i].clone());
            i += 1;
        } else {
            let li = index(server_order, &left[i]);
            let ri = index(server_order, &right[j]);
            match (li, ri) {
                (Some(a), Some(b)) if a < b => {
                    out.push(left[i].clone());
                    i += 1;
                }
                _ => {
                    out.push(right[j].clone());
                    j += 1;
                }
            }
        }
    }
    out
}

fn sort_by_order(items: &mut [Value], idx: impl Fn(&Value) -> Option<usize>) {
    // Items found in the order list are sorted among themselves; others keep
    // their relative position after them.
    let mut keyed: Vec<(usize, Option<usize>, Value)> = items
        .iter()
        .enumerate()
        .map(|(i, v)| (i, idx(v), v.clone()))
        .collect();
    keyed.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    for (slot, (_, _, v)) in items.iter_mut().zip(keyed) {
        *slot = v;
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
        return Err(Error::transform(
            "a JSON 6902 patch must be a list of operations",
        ));
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
        if !matches!(
            op.as_str(),
            "add" | "remove" | "replace" | "move" | "copy" | "test"
        ) {
            return Err(Error::transform(format!(
                "unexpected JSON 6902 operation {op:?}"
            )));
        }
        let value = m.get("value").cloned();
        if matches!(op.as_str(), "add" | "replace" | "test") && value.is_none() {
            return Err(Error::transform(format!(
                "JSON 6902 {op} operation at {path} needs a value"
            )));
        }
        ops.push(JsonOp {
            from: m.get("from").and_then(Value::as_str).map(str::to_string),
            op,
            path,
            value,
        });
    }
    Ok(ops)
}

fn pointer(path: &str) -> Result<Vec<String>, Error> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::transform(format!(
            "JSON pointer {path:?} must start with '/'"
        )));
    };
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn missing(path: &str) -> Error {
    Error::transform(format!(
        "JSON 6902 patch: path {path:?} does not exist in the resource"
    ))
}

fn parent_mut<'a>(
    root: &'a mut Value,
    toks: &[String],
    path: &str,
) -> Result<&'a mut Value, Error> {
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
                return Err(Error::transform(format!(
                    "JSON 6902 patch: index out of range in {path:?}"
                )));
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
        return Err(Error::transform(
            "JSON 6902 patch: cannot remove the whole document",
        ));
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
                "add" => add_at(
                    &mut root,
                    &op.path,
                    op.value.clone().unwrap_or_else(Value::null),
                )?,
                "remove" => {
                    remove_at(&mut root, &op.path)?;
                }
                "replace" => {
                    remove_at(&mut root, &op.path)?;
                    add_at(
                        &mut root,
                        &op.path,
                        op.value.clone().unwrap_or_else(Value::null),
                    )?;
                }
                "move" => {
                    let from = op
                        .from
                        .as_deref()
                        .ok_or_else(|| Error::transform("move needs \"from\""))?;
                    let v = remove_at(&mut root, from)?;
                    add_at(&mut root, &op.path, v)?;
                }
                "copy" => {
                    let from = op
                        .from
                        .as_deref()
                        .ok_or_else(|| Error::transform("copy needs \"from\""))?;
                    let v = get_at(&root, from)?;
                    add_at(&mut root, &op.path, v)?;
                }
                "test" => {
                    let v = get_at(&root, &op.path)?;
                    if Some(&v) != op.value.as_ref() {
                        return Err(Error::transform(format!(
                            "JSON 6902 test failed at {}",
                            op.path
                        )));
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
            return Err(Error::transform(
                "JSON 6902 patch replaced the resource with a non-object",
            ));
        }
    }
    res
}
