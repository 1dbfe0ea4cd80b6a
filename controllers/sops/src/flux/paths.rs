//! Paths confined to a root, as kustomize-controller resolves them with
//! `filepath-securejoin`: the root acts as `/`, `..` stops at it and symlinks are resolved
//! inside it (an absolute or escaping target is re-rooted), so no path ever leaves the root.

use std::path::{Component, Path, PathBuf};

use crate::error::SourceError;

/// How many symlinks one resolution may follow.
const MAX_LINKS: usize = 255;

/// Joins `unsafe_path` (relative to `root`, or absolute meaning inside `root`) onto `root`,
/// resolving symlinks inside it. `root` must be canonical.
pub(crate) fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf, SourceError> {
    let mut pending: Vec<String> = components(unsafe_path);
    pending.reverse();
    let mut current: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = current.clone();
        candidate.push(part);
        let full = join(root, &candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(SourceError::Escapes { path: unsafe_path.to_path_buf() });
                }
                let target = std::fs::read_link(&full).map_err(|source| SourceError::Io {
                    op: "readlink",
                    path: strip_root(root, &full),
                    source,
                })?;
                if target.is_absolute() {
                    current.clear();
                }
                let mut parts = components(&target);
                parts.reverse();
                pending.extend(parts);
            }
            _ => current = candidate,
        }
    }
    Ok(join(root, &current))
}

fn components(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

/// `path` relative to `root` for messages (`.` for the root itself).
pub(crate) fn strip_root(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// An absolute path inside `root` made relative to it; relative paths are kept.
pub(crate) fn relative_to_root(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.strip_prefix(root).map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_and_links_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("a")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("a/abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("a/up")).unwrap();
        assert_eq!(secure_join(&root, Path::new("../../x")).unwrap(), root.join("x"));
        assert_eq!(secure_join(&root, Path::new("a/abs/passwd")).unwrap(), root.join("etc/passwd"));
        assert_eq!(secure_join(&root, Path::new("a/up/etc")).unwrap(), root.join("etc"));
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(secure_join(&root, Path::new("loop")).is_err());
    }
}
