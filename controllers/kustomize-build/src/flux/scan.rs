//! fluxcd/pkg/kustomize `scanManifests`: the resources of a generated kustomization.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::loader::KUSTOMIZATION_NAMES;
use crate::yaml::{Map, Value};

/// Walks `dir` in lexical order (as Go's `filepath.Walk`) and returns, as `./relative` paths,
/// every `.yaml`/`.yml` file (each must decode as Kubernetes objects, or the walk fails as
/// Flux's does) and every subdirectory holding a kustomization file (not entered).
pub(super) fn manifests(root: &Path, dir: &Path) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    walk(root, dir, dir, &mut found)?;
    Ok(found)
}

fn has_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_NAMES.iter().any(|n| dir.join(n).is_file())
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    format!("./{}", rel.to_string_lossy())
}

fn walk(root: &Path, base: &Path, dir: &Path, found: &mut Vec<String>) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    // Go sorts the names as byte strings.
    entries.sort_by(|a, b| {
        a.file_name().map(std::ffi::OsStr::as_encoded_bytes).cmp(&b.file_name().map(std::ffi::OsStr::as_encoded_bytes))
    });
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            if has_kustomization(&path) {
                found.push(relative(base, &path));
            } else {
                walk(root, base, &path, found)?;
            }
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("yaml" | "yml")) {
            continue;
        }
        // A symbolic link is read through, but only inside the root.
        let real = path.canonicalize().map_err(io(&path))?;
        if !real.starts_with(root) {
            return Err(Error::Restricted(format!(
                "path '{}' is not in or below '{}'",
                real.display(),
                root.display()
            )));
        }
        let text = std::fs::read_to_string(&real).map_err(io(&path))?;
        if let Err(reason) = decode(&text) {
            return Err(Error::Flux(format!("failed to decode Kubernetes YAML from {}: {reason}", path.display())));
        }
        found.push(relative(base, &path));
    }
    Ok(())
}

/// kustomize's resource factory check (`SliceFromBytes`): every document that is not empty
/// must carry metadata (kyaml's `GetMeta`), a kind and, unless it is a list, a name. The error
/// texts are kyaml's.
fn decode(text: &str) -> Result<(), String> {
    let docs = crate::yaml::parse_documents(text)
        .map_err(|e| format!("MalformedYAMLError: yaml: line {}: {}", e.line, e.message))?;
    for d in &docs {
        let m = match d {
            Value::Map(m) if m.is_empty() => continue,
            Value::Seq(s) if s.is_empty() => continue,
            Value::Scalar(_) if d.is_null() => continue,
            Value::Map(m) => m,
            _ => return Err("missing Resource metadata".to_string()),
        };
        if missing_metadata(m) {
            return Err("missing Resource metadata".to_string());
        }
        if str_field(m, "kind").is_empty() {
            return Err(format!("missing kind in object {}", resource_meta(m)));
        }
        if !str_field(m, "kind").ends_with("List") && meta_field(m, "name").is_empty() {
            return Err(format!("missing metadata.name in object {}", resource_meta(m)));
        }
    }
    Ok(())
}

/// A field kyaml counts as set: present and not null, `{}` or `[]`.
fn is_set(v: Option<&Value>) -> bool {
    match v {
        None => false,
        Some(Value::Map(m)) => !m.is_empty(),
        Some(Value::Seq(s)) => !s.is_empty(),
        Some(v) => !v.is_null(),
    }
}

/// kyaml's `ErrMissingMetadata`: no apiVersion, no kind and no name, namespace, labels or
/// annotations.
fn missing_metadata(m: &Map) -> bool {
    if is_set(m.get("apiVersion")) || is_set(m.get("kind")) {
        return false;
    }
    match m.get("metadata") {
        Some(Value::Map(meta)) => !["name", "namespace", "labels", "annotations"].iter().any(|k| is_set(meta.get(k))),
        _ => true,
    }
}

fn str_field<'a>(m: &'a Map, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn meta_field<'a>(m: &'a Map, key: &str) -> &'a str {
    match m.get("metadata") {
        Some(Value::Map(meta)) => str_field(meta, key),
        _ => "",
    }
}

/// kyaml's `ResourceMeta` printed as Go's `%v` does:
/// `{{apiVersion kind} {{name namespace} map[labels] map[annotations]}}`.
fn resource_meta(m: &Map) -> String {
    let go_map = |key: &str| {
        let mut pairs: Vec<String> = match m.get("metadata") {
            Some(Value::Map(meta)) => match meta.get(key) {
                Some(Value::Map(x)) => {
                    x.iter().map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default())).collect()
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        pairs.sort();
        format!("map[{}]", pairs.join(" "))
    };
    format!(
        "{{{{{} {}}} {{{{{} {}}} {} {}}}}}",
        str_field(m, "apiVersion"),
        str_field(m, "kind"),
        meta_field(m, "name"),
        meta_field(m, "namespace"),
        go_map("labels"),
        go_map("annotations")
    )
}
