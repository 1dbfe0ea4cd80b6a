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
        if let Err(e) = crate::build::resources_from_text(&text, &path) {
            let reason = decode_reason(&e, &path, &text);
            return Err(Error::Flux(format!("failed to decode Kubernetes YAML from {}: {reason}", path.display())));
        }
        found.push(relative(base, &path));
    }
    Ok(())
}

/// The reason without the path the build's errors start with (Flux names the file itself).
fn decode_reason(e: &Error, path: &Path, text: &str) -> String {
    match e {
        Error::Yaml { source, .. } => format!("yaml: {source}"),
        Error::Resource(m) if m.contains("missing its kind") => {
            format!("missing kind in object {}", first_offender(text, |m| str_field(m, "kind").is_empty()))
        }
        Error::Resource(m) if m.contains("missing metadata.name") => format!(
            "missing metadata.name in object {}",
            first_offender(text, |m| { !str_field(m, "kind").ends_with("List") && meta_field(m, "name").is_empty() })
        ),
        other => {
            let text = other.to_string();
            let prefix = format!("{}: ", path.display());
            text.strip_prefix(&prefix).map_or_else(|| text.clone(), str::to_string)
        }
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

/// kyaml's `ResourceMeta` of the first document `bad` holds for, printed as Go's `%v` does:
/// `{{apiVersion kind} {{name namespace} map[labels] map[annotations]}}`.
fn first_offender(text: &str, bad: impl Fn(&Map) -> bool) -> String {
    let docs = crate::yaml::parse_documents(text).unwrap_or_default();
    let Some(m) = docs.iter().filter_map(Value::as_map).find(|m| !m.is_empty() && bad(m)) else {
        return String::new();
    };
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
