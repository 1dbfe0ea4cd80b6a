//! Patches: loading their text, strategic-merge and JSON 6902 application to the accumulated
//! resources.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn load_patch_text(cx: &Ctx, dir: &Path, entry: &str) -> Result<String, Error> {
    if !entry.contains('\n') {
        if let Ok(path) = cx.loader.resolve_file(dir, entry)
            && path.is_file()
        {
            return cx.loader.read_text(&path);
        }
        if !entry.contains(':') {
            // Surface the real reason (missing file, restriction).
            let path = cx.loader.resolve_file(dir, entry)?;
            return cx.loader.read_text(&path);
        }
    }
    Ok(entry.to_string())
}

pub(super) fn apply_patch(
    cx: &Ctx,
    dir: &Path,
    ra: &mut Vec<Resource>,
    p: &PatchSpec,
    json_only: bool,
) -> Result<(), Error> {
    let text = match (&p.path, &p.patch) {
        (Some(path), None) => {
            let file = cx.loader.resolve_file(dir, path)?;
            cx.loader.read_text(&file)?
        }
        (None, Some(t)) => t.clone(),
        (Some(_), Some(_)) => {
            return Err(kerr(dir, "a patch must set either path or patch, not both"));
        }
        (None, None) => return Err(kerr(dir, "a patch must set path or patch")),
    };
    let docs = yaml::parse_documents(&text)
        .map_err(|source| Error::Yaml { path: dir.join(p.path.as_deref().unwrap_or("<inline patch>")), source })?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    let is_json = docs.len() == 1 && matches!(docs[0], Value::Seq(_));
    if is_json || json_only {
        if docs.len() != 1 {
            return Err(kerr(dir, "a JSON 6902 patch must be a single list of operations"));
        }
        // kustomize reads JSON patches with YAML 1.1 rules (yes/on are
        // booleans, 012 is octal).
        let docs = yaml::parse_documents_v2(&text)
            .map_err(|source| Error::Yaml { path: dir.join(p.path.as_deref().unwrap_or("<inline patch>")), source })?;
        let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
        let ops = patch::parse_json_patch(&docs[0])?;
        if ops.is_empty() {
            return Err(kerr(dir, "JSON 6902 patch appears to be empty"));
        }
        let Some(target) = &p.target else {
            return Err(kerr(dir, "must specify a target for JSON 6902 patch"));
        };
        let sel = Selector::new(target)?;
        for r in ra.iter_mut().filter(|r| sel.matches(r)) {
            patch::apply_json_patch(&mut r.obj, &ops)?;
        }
        return Ok(());
    }
    apply_smp_docs(ra, &text, p.target.as_ref(), p, dir, cx.schema.as_ref())
}

pub(super) fn apply_smp_docs(
    ra: &mut Vec<Resource>,
    text: &str,
    target: Option<&crate::kustomization::Target>,
    spec: &PatchSpec,
    dir: &Path,
    schema: Option<&crate::openapi::Schema>,
) -> Result<(), Error> {
    let patches = resources_from_text(text, &dir.join("<patch>")).or_else(|e| {
        // Patches with a target may omit apiVersion/kind/name.
        if target.is_some() { raw_maps(text, dir) } else { Err(e) }
    })?;
    for pr in patches {
        let indices: Vec<usize> = if let Some(t) = target {
            let sel = Selector::new(t)?;
            ra.iter().enumerate().filter(|(_, r)| sel.matches(r)).map(|(i, _)| i).collect()
        } else {
            let pid = pr.id();
            let found: Vec<usize> = ra
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.kind() == pid.kind
                        && r.group() == pid.group
                        && r.names.contains(&pid.name)
                        && r.namespaces.iter().any(|n| ns_eq(n, &pid.namespace))
                })
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                return Err(Error::transform(format!(
                    "no resource matches strategic merge patch \"{pid}\": failed to find unique target for patch"
                )));
            }
            if found.len() > 1 {
                return Err(Error::transform(format!("multiple resources match strategic merge patch \"{pid}\"")));
            }
            found
        };
        let mut deleted = Vec::new();
        for i in indices {
            let r = &mut ra[i];
            let (name, ns, kind) = (r.name().to_string(), r.namespace().to_string(), r.kind().to_string());
            let api_version = r.api_version().to_string();
            let def = schema.and_then(|sc| sc.definition_for(r.group(), r.version(), &kind).map(|d| (sc, d)));
            let mcx = patch::MergeCtx { kind: &kind, schema: def };
            let keep = patch::strategic_merge(&mcx, &mut r.obj, &pr.obj)?;
            if !keep {
                deleted.push(i);
                continue;
            }
            if !spec.allow_kind_change {
                r.obj.insert("kind", Value::str(&kind));
                r.obj.insert("apiVersion", Value::str(&api_version));
            }
            if spec.allow_name_change {
                let n = r.name().to_string();
                r.set_name(&n);
            } else {
                r.obj.entry_map("metadata").insert("name", Value::str(&name));
            }
            if ns.is_empty() {
                if let Some(Value::Map(meta)) = r.obj.get_mut("metadata") {
                    meta.remove("namespace");
                }
            } else {
                r.obj.entry_map("metadata").insert("namespace", Value::str(&ns));
            }
        }
        for i in deleted.into_iter().rev() {
            ra.remove(i);
        }
    }
    Ok(())
}

pub(super) fn raw_maps(text: &str, dir: &Path) -> Result<Vec<Resource>, Error> {
    let docs = yaml::parse_documents(text).map_err(|source| Error::Yaml { path: dir.join("<patch>"), source })?;
    let mut out = Vec::new();
    for d in docs {
        match d {
            Value::Map(m) => out.push(Resource::new(m)),
            v if v.is_null() => {}
            other => {
                return Err(Error::transform(format!(
                    "a strategic merge patch must be a mapping, got a {}",
                    other.type_name()
                )));
            }
        }
    }
    Ok(out)
}
