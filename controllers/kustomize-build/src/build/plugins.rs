//! Generators and transformers configured as files (`generators:`, `transformers:`): the
//! builtin plugins kustomize runs in process; anything else is refused.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Loads builtin plugin configurations listed under `generators` or
/// `transformers`: files, inline YAML, or directories whose build output is
/// the configuration list.
pub(super) fn plugin_configs(cx: &mut Ctx, dir: &Path, entries: &[String]) -> Result<Vec<(PathBuf, Map)>, Error> {
    let mut out = Vec::new();
    for e in entries {
        if e.contains('\n') {
            for r in resources_from_text(e, &dir.join("<inline plugin>"))? {
                out.push((dir.to_path_buf(), r.obj));
            }
            continue;
        }
        let path = cx.loader.resolve(dir, e)?;
        if path.is_dir() {
            let mut sub = Vec::new();
            accumulate(cx, &path, false, &mut sub)?;
            out.extend(sub.into_iter().map(|r| (path.clone(), r.obj)));
        } else {
            let path = cx.loader.resolve_file(dir, e)?;
            for r in load_resource_file(cx, &path)? {
                out.push((path.clone(), r.obj));
            }
        }
    }
    Ok(out)
}

pub(super) fn plugin_kind(cfg: &Map) -> (&str, &str) {
    (
        cfg.get("apiVersion").and_then(Value::as_str).unwrap_or_default(),
        cfg.get("kind").and_then(Value::as_str).unwrap_or_default(),
    )
}

pub(super) fn unsupported_plugin(path: &Path, cfg: &Map) -> Error {
    let (api, kind) = plugin_kind(cfg);
    kerr(path, format!("plugin {api}/{kind} is not supported: only the builtin generators and transformers are"))
}

pub(super) fn run_generator(cx: &Ctx, dir: &Path, ra: &mut Vec<Resource>, path: &Path, cfg: &Map) -> Result<(), Error> {
    let secret = match plugin_kind(cfg) {
        ("builtin", "ConfigMapGenerator") => false,
        ("builtin", "SecretGenerator") => true,
        _ => return Err(unsupported_plugin(path, cfg)),
    };
    let args = crate::kustomization::parse_generator_config(path, cfg, secret)?;
    let r = generators::generate(&args, secret, None, dir, &cx.loader)?;
    absorb_generated(ra, r)
}

pub(super) fn string_pairs(cfg: &Map, key: &str) -> Vec<(String, String)> {
    cfg.get(key)
        .and_then(Value::as_map)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

pub(super) fn specs_of(path: &Path, cfg: &Map) -> Result<Vec<fieldspec::FieldSpec>, Error> {
    match cfg.get("fieldSpecs") {
        Some(v) => fieldspec::parse_list(v).map_err(|m| kerr(path, m)),
        None => Ok(Vec::new()),
    }
}

pub(super) fn run_transformer(
    cx: &Ctx,
    dir: &Path,
    ra: &mut Vec<Resource>,
    path: &Path,
    cfg: &Map,
) -> Result<(), Error> {
    let (api, kind) = plugin_kind(cfg);
    if api != "builtin" {
        return Err(unsupported_plugin(path, cfg));
    }
    let text = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match kind {
        "LabelTransformer" => {
            let specs = specs_of(path, cfg)?;
            let pairs = string_pairs(cfg, "labels");
            transformers::labels(ra, &[], &pairs, &specs, &[])
        }
        "AnnotationsTransformer" => {
            transformers::annotations(ra, &string_pairs(cfg, "annotations"), &specs_of(path, cfg)?)
        }
        "NamespaceTransformer" => {
            let ns = cfg
                .get("metadata")
                .and_then(|m| m.get_path(&["namespace"]))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !ns.is_empty() {
                transformers::namespace(ra, ns);
            }
            Ok(())
        }
        "PrefixSuffixTransformer" => {
            transformers::prefix_suffix(ra, &text("prefix"), &text("suffix"));
            Ok(())
        }
        "PrefixTransformer" => {
            transformers::prefix_suffix(ra, &text("prefix"), "");
            Ok(())
        }
        "SuffixTransformer" => {
            transformers::prefix_suffix(ra, "", &text("suffix"));
            Ok(())
        }
        "ImageTagTransformer" => {
            let it = cfg.get("imageTag").and_then(Value::as_map).cloned().unwrap_or_default();
            let get = |k: &str| it.get(k).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
            let spec = crate::kustomization::ImageSpec {
                name: get("name").unwrap_or_default(),
                new_name: get("newName"),
                new_tag: get("newTag"),
                digest: get("digest"),
            };
            transformers::images(ra, &[spec], &specs_of(path, cfg)?)
        }
        "ReplicaCountTransformer" => {
            let rep = cfg.get("replica").and_then(Value::as_map).cloned().unwrap_or_default();
            let name = rep.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let count = rep.get("count").and_then(Value::as_str).and_then(|c| c.parse().ok()).unwrap_or(0);
            transformers::replicas(ra, &[(name, count)])
        }
        "PatchTransformer" => {
            let spec = crate::kustomization::parse_patch_config(path, &Value::Map(cfg_without_meta(cfg)))?;
            apply_patch(cx, dir, ra, &spec, false)
        }
        "PatchJson6902Transformer" => {
            let mut body = cfg_without_meta(cfg);
            if let Some(op) = body.remove("jsonOp") {
                body.insert("patch", op);
            }
            let spec = crate::kustomization::parse_patch_config(path, &Value::Map(body))?;
            apply_patch(cx, dir, ra, &spec, true)
        }
        "PatchStrategicMergeTransformer" => {
            if let Some(Value::Seq(paths)) = cfg.get("paths") {
                for p in paths.iter().filter_map(Value::as_str) {
                    let t = load_patch_text(cx, dir, p)?;
                    apply_smp_docs(ra, &t, None, &PatchSpec::default(), dir, cx.schema.as_ref())?;
                }
            }
            if let Some(t) = cfg.get("patches").and_then(Value::as_str) {
                apply_smp_docs(ra, t, None, &PatchSpec::default(), dir, cx.schema.as_ref())?;
            }
            Ok(())
        }
        "ReplacementTransformer" => {
            let reps = cfg.get("replacements").and_then(Value::as_seq).cloned().unwrap_or_default();
            crate::replacements::apply(&cx.loader, dir, ra, &reps)
        }
        _ => Err(unsupported_plugin(path, cfg)),
    }
}

pub(super) fn cfg_without_meta(cfg: &Map) -> Map {
    cfg.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
