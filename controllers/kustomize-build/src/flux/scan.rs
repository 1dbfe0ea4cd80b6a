//! fluxcd/pkg/kustomize `scanManifests`: the resources of a generated kustomization.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::loader::KUSTOMIZATION_NAMES;

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
            return Err(Error::Flux(format!(
                "failed to decode Kubernetes YAML from {}: {}",
                path.display(),
                decode_reason(&e, &path)
            )));
        }
        found.push(relative(base, &path));
    }
    Ok(())
}

/// The reason without the path the build's errors start with (Flux names the file itself).
fn decode_reason(e: &Error, path: &Path) -> String {
    match e {
        Error::Yaml { source, .. } => format!("yaml: {source}"),
        Error::Resource(m) if m.contains("missing its kind") => "missing kind in object".to_string(),
        Error::Resource(m) if m.contains("missing metadata.name") => "missing metadata.name in object".to_string(),
        other => {
            let text = other.to_string();
            let prefix = format!("{}: ", path.display());
            text.strip_prefix(&prefix).map_or_else(|| text.clone(), str::to_string)
        }
    }
}
