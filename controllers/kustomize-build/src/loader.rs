//! Filesystem access with Flux-like restrictions.

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// The file names kustomize accepts for a kustomization, in lookup order.
pub const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Reads files below a boundary directory.
#[derive(Debug, Clone)]
pub struct Loader {
    boundary: PathBuf,
    root_only: bool,
}

/// Whether a reference names a remote location rather than a local path.
pub fn is_remote(reference: &str) -> bool {
    let lower = reference.to_ascii_lowercase();
    lower.contains("://")
        || lower.starts_with("git@")
        || lower.starts_with("github.com/")
        || lower.starts_with("gitlab.com/")
        || lower.starts_with("bitbucket.org/")
        || lower.contains("?ref=")
}

impl Loader {
    /// A loader confined to `boundary`.
    pub fn new(boundary: &Path, restrictions: crate::LoadRestrictions) -> Result<Self, Error> {
        let boundary = boundary.canonicalize().map_err(|source| Error::Io { path: boundary.to_path_buf(), source })?;
        Ok(Self { boundary, root_only: restrictions == crate::LoadRestrictions::RootOnly })
    }

    /// Resolves `reference` relative to `dir`, following symlinks, and checks
    /// that the result stays inside the boundary.
    pub fn resolve(&self, dir: &Path, reference: &str) -> Result<PathBuf, Error> {
        if is_remote(reference) {
            return Err(Error::Remote(reference.to_string()));
        }
        if reference.is_empty() {
            return Err(Error::Kustomization {
                path: dir.to_path_buf(),
                message: "empty path in kustomization".into(),
            });
        }
        let joined = normalize(&dir.join(reference));
        // Refuse lexically escaping paths even if they do not exist.
        if !joined.starts_with(&self.boundary) {
            return Err(Error::Restricted(format!(
                "'{}' is not in or below '{}'",
                joined.display(),
                self.boundary.display()
            )));
        }
        let real = joined.canonicalize().map_err(|source| Error::Io { path: joined.clone(), source })?;
        if !real.starts_with(&self.boundary) {
            return Err(Error::Restricted(format!(
                "'{}' resolves to '{}', which is not in or below '{}'",
                joined.display(),
                real.display(),
                self.boundary.display()
            )));
        }
        Ok(real)
    }

    /// Resolves a file that must lie within the kustomization directory
    /// `dir` (kustomize's root-only load restriction).
    pub fn resolve_file(&self, dir: &Path, reference: &str) -> Result<PathBuf, Error> {
        let real = self.resolve(dir, reference)?;
        if self.root_only && !real.starts_with(dir) {
            return Err(Error::Restricted(format!("file '{}' is not in or below '{}'", real.display(), dir.display())));
        }
        Ok(real)
    }

    /// Reads a file as bytes.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, Error> {
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
    }

    /// Reads a file as UTF-8 text.
    pub fn read_text(&self, path: &Path) -> Result<String, Error> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|_| Error::Resource(format!("{}: not valid UTF-8", path.display())))
    }

    /// Finds the kustomization file of a directory.
    pub fn kustomization_file(&self, dir: &Path) -> Result<PathBuf, Error> {
        let found: Vec<PathBuf> = KUSTOMIZATION_NAMES.iter().map(|n| dir.join(n)).filter(|p| p.is_file()).collect();
        match found.len() {
            0 => Err(Error::Kustomization {
                path: dir.to_path_buf(),
                message: "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory".into(),
            }),
            1 => {
                let p = found.into_iter().next().unwrap_or_default();
                let real = p.canonicalize().map_err(|source| Error::Io { path: p.clone(), source })?;
                if !real.starts_with(&self.boundary) {
                    return Err(Error::Restricted(format!(
                        "'{}' resolves outside '{}'",
                        p.display(),
                        self.boundary.display()
                    )));
                }
                Ok(p)
            }
            _ => Err(Error::Kustomization {
                path: dir.to_path_buf(),
                message: "found multiple kustomization files; keep only one of 'kustomization.yaml', 'kustomization.yml', 'Kustomization'".into(),
            }),
        }
    }
}

/// Removes `.` and `..` components without touching the filesystem.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
