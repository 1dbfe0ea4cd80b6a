//! Decrypting generator inputs before the kustomize build (kustomize-controller's
//! `DecryptSources`).
//!
//! From the kustomization in a directory, and recursively from the directories it lists in
//! `resources` and `components`: every `secretGenerator` `files` entry (`key=path` or `path`;
//! the output format follows the key's extension) and `envs` entry (dotenv unless the name
//! says otherwise), and every `patches` entry with a local `path`. Each file that holds a SOPS
//! document is decrypted in place. As upstream, `configMapGenerator` inputs are not touched
//! (a secret does not belong in a ConfigMap), resources that are not local directories are
//! skipped, the MAC is not checked, and every path is resolved inside the root.

use std::collections::HashSet;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Component, Path, PathBuf};

use serde_norway::Value as Yaml;

use super::paths::{relative_to_root, secure_join, strip_root};
use super::{MARKERS, contains, format_for_key};
use crate::error::SourceError;
use crate::{Format, Keys, SopsError};

/// The largest file decrypted (kustomize-controller's `maxEncryptedFileSize`).
const MAX_FILE_SIZE: u64 = 5 << 20;

/// The names kustomize recognises for a kustomization file.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Decrypts, in place, the encrypted files that the kustomization at `dir` (and the
/// kustomizations it includes, recursively) feeds to `secretGenerator` (`envs`, `files`) and
/// `patches`, never reading or writing outside `root`.
///
/// # Errors
/// A file outside `root`, or a decryption failure naming the file.
pub fn decrypt_sources(root: &Path, dir: &Path, keys: &Keys) -> Result<(), SopsError> {
    let root_arg = root;
    let root = root.canonicalize().map_err(|source| SourceError::Io {
        op: "resolve root",
        path: root.to_path_buf(),
        source,
    })?;
    // An absolute `dir` may be spelled through the root as given or as resolved.
    let dir = match dir.strip_prefix(root_arg) {
        Ok(rel) if dir.is_absolute() => rel.to_path_buf(),
        _ => relative_to_root(&root, dir),
    };
    let mut walk = Walk { root: &root, keys, visited_dirs: HashSet::new(), decrypted: HashSet::new() };
    walk.kustomization(&dir, true)
}

struct Walk<'a> {
    root: &'a Path,
    keys: &'a Keys,
    visited_dirs: HashSet<PathBuf>,
    decrypted: HashSet<PathBuf>,
}

/// Why a directory was skipped instead of failing the walk: not there or not a directory
/// (a remote or file resource) is ignored below the top, an error at the top.
enum Skip {
    Ignore(SourceError),
    Fail(SopsError),
}

impl From<SopsError> for Skip {
    fn from(e: SopsError) -> Self {
        Skip::Fail(e)
    }
}

impl From<SourceError> for Skip {
    fn from(e: SourceError) -> Self {
        Skip::Fail(e.into())
    }
}

impl Walk<'_> {
    fn kustomization(&mut self, dir: &Path, top: bool) -> Result<(), SopsError> {
        match self.visit(dir) {
            Ok(()) => Ok(()),
            Err(Skip::Ignore(_)) if !top => Ok(()),
            Err(Skip::Ignore(e)) => Err(e.into()),
            Err(Skip::Fail(e)) => Err(e),
        }
    }

    fn visit(&mut self, dir: &Path) -> Result<(), Skip> {
        let abs = secure_join(self.root, &lexical_clean(dir))?;
        if !self.visited_dirs.insert(abs.clone()) {
            return Ok(());
        }
        let rel = strip_root(self.root, &abs);
        match std::fs::symlink_metadata(&abs) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(Skip::Ignore(SourceError::NotADirectory { path: rel })),
            Err(source) => return Err(Skip::Ignore(SourceError::Io { op: "lstat", path: rel, source })),
        }
        let kus = self.load_kustomization(&abs, &rel)?;
        let list = |v: Option<&Yaml>| -> Vec<String> {
            v.and_then(Yaml::as_sequence)
                .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        for generator in kus.get("secretGenerator").and_then(Yaml::as_sequence).into_iter().flatten() {
            for source in list(generator.get("files")) {
                let (key, path) = source.split_once('=').unwrap_or((&source, &source));
                self.decrypt_file(&rel, path, format_for_key(key))?;
            }
            for env in list(generator.get("envs")) {
                let format = match Format::from_path(Path::new(&env)) {
                    Format::Binary => Format::Dotenv,
                    f => f,
                };
                self.decrypt_file(&rel, &env, format)?;
            }
        }
        for patch in kus.get("patches").and_then(Yaml::as_sequence).into_iter().flatten() {
            let Some(path) = patch.get("path").and_then(Yaml::as_str) else { continue };
            if path.is_empty() || is_remote_url(path) {
                continue;
            }
            self.decrypt_file(&rel, path, Format::from_path(Path::new(path)))?;
        }
        let mut children = list(kus.get("resources"));
        children.extend(list(kus.get("components")));
        for child in children {
            let child = relative_to_root(self.root, Path::new(&child));
            let next = if Path::new(&child).is_absolute() { child } else { rel.join(child) };
            self.kustomization(&next, false)?;
        }
        Ok(())
    }

    fn load_kustomization(&self, abs: &Path, rel: &Path) -> Result<Yaml, SourceError> {
        let mut found = None;
        for name in KUSTOMIZATION_FILES {
            let path = abs.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    if found.is_some() {
                        return Err(SourceError::MultipleKustomizations { dir: rel.to_path_buf() });
                    }
                    found = Some(path);
                }
                Ok(_) => {
                    return Err(SourceError::Irregular { path: rel.join(name) });
                }
                Err(_) => {}
            }
        }
        let path = found.ok_or_else(|| SourceError::NoKustomization { dir: rel.to_path_buf() })?;
        let rel_file = strip_root(self.root, &path);
        let data =
            std::fs::read(&path).map_err(|source| SourceError::Io { op: "read", path: rel_file.clone(), source })?;
        let value: Yaml = serde_norway::from_slice(&data)
            .map_err(|e| SourceError::Kustomization { path: rel_file, reason: e.to_string() })?;
        Ok(if value.is_null() { Yaml::Mapping(serde_norway::Mapping::new()) } else { value })
    }

    /// Decrypts `source` (relative to the kustomization directory `dir`) if it holds a SOPS
    /// document of `format`, rewriting it in the same format.
    fn decrypt_file(&mut self, dir: &Path, source: &str, format: Format) -> Result<(), SopsError> {
        let source_path = relative_to_root(self.root, Path::new(source));
        let joined = if source_path.is_absolute() { source_path } else { dir.join(source_path) };
        let abs = secure_join(self.root, &lexical_clean(&joined))?;
        if self.decrypted.contains(&abs) {
            return Ok(());
        }
        let rel = strip_root(self.root, &abs);
        let meta = std::fs::symlink_metadata(&abs).map_err(|source| SourceError::Io {
            op: "lstat",
            path: rel.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(SourceError::Irregular { path: rel }.into());
        }
        let data = read_regular(&abs).map_err(|e| match e {
            ReadError::Io(source) => SourceError::Io { op: "read", path: rel.clone(), source },
            ReadError::Irregular => SourceError::Irregular { path: rel.clone() },
            ReadError::TooLarge(size) => SourceError::TooLarge { path: rel.clone(), size, limit: MAX_FILE_SIZE },
        })?;
        let marker = MARKERS.iter().find(|(f, _)| *f == if format == Format::Binary { Format::Json } else { format });
        if !marker.is_some_and(|(_, m)| contains(&data, m.as_bytes())) {
            return Ok(());
        }
        let out = crate::decrypt_with(&data, format, format, self.keys, false)
            .map_err(|e| SopsError::File { path: rel.clone(), source: Box::new(e) })?;
        write_file(&abs, &out).map_err(|source| SourceError::Io { op: "write", path: rel.clone(), source })?;
        tracing::debug!(file = %rel.display(), "decrypted generator source");
        self.decrypted.insert(abs);
        Ok(())
    }
}

enum ReadError {
    Io(std::io::Error),
    Irregular,
    TooLarge(u64),
}

/// Reads a regular file of at most [`MAX_FILE_SIZE`] bytes, never through a symlink (the
/// checks are made on the opened file, so a swap after the `lstat` cannot redirect the read).
fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    use std::io::Read as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::Irregular);
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut data).map_err(ReadError::Io)?;
    if data.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(data.len() as u64));
    }
    Ok(data)
}

/// Rewrites `path` (a regular file, checked by the caller) with mode 0600, never following a
/// symlink put in its place meanwhile.
fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// `filepath.Clean` on a relative path (`..` kept at the front; the root join clamps them).
fn lexical_clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// A URL with a scheme and a host (a remote patch).
fn is_remote_url(path: &str) -> bool {
    path.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
            && !rest.starts_with('/')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_lexically() {
        assert_eq!(lexical_clean(Path::new("a/b/../c/./d")), PathBuf::from("a/c/d"));
        assert_eq!(lexical_clean(Path::new("a/../../x")), PathBuf::from("../x"));
    }

    #[test]
    fn remote_urls() {
        assert!(is_remote_url("https://example.com/p.yaml"));
        assert!(!is_remote_url("patches/p.yaml"));
    }

    #[test]
    fn plain_sources_are_left_alone_and_missing_dirs_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("kustomization.yaml"),
            "resources: [missing, https://example.com/x]\nsecretGenerator:\n- name: s\n  envs: [a.env]\n  files: [k=b.txt]\n",
        )
        .unwrap();
        std::fs::write(root.join("a.env"), "A=1\n").unwrap();
        std::fs::write(root.join("b.txt"), "plain").unwrap();
        decrypt_sources(root, Path::new("."), &Keys::default()).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("b.txt")).unwrap(), "plain");
    }

    #[test]
    fn oversized_sources_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("kustomization.yaml"), "secretGenerator:\n- name: s\n  envs: [big.env]\n").unwrap();
        std::fs::write(root.join("big.env"), vec![b'x'; (MAX_FILE_SIZE + 1) as usize]).unwrap();
        let err = decrypt_sources(root, Path::new("."), &Keys::default()).unwrap_err();
        assert!(matches!(err, SopsError::Source(SourceError::TooLarge { .. })), "{err:?}");
    }

    #[test]
    fn symlinked_sources_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("kustomization.yaml"), "secretGenerator:\n- name: s\n  files: [link.txt]\n").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("link.txt")).unwrap();
        // The link resolves inside the root (root/etc/hostname), which does not exist.
        assert!(decrypt_sources(root, Path::new("."), &Keys::default()).is_err());
    }
}
