//! Joining untrusted relative paths under a root so that the result stays inside it.
//!
//! [`secure_join`] is cyphar/filepath-securejoin's `SecureJoin`, which Flux uses for
//! `spec.include[].toPath` and `fromPath` and for artifact paths: the unsafe path is walked one
//! component at a time as if the root were `/`: `..` never climbs above the root, and a
//! symlink met on the way is expanded *within* the root (an absolute target restarts at the
//! root), so the result names a location inside the root even when the tree (a Git checkout)
//! holds hostile symlinks. Missing components are taken as they are.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The most symlinks expanded before giving up (securejoin's limit).
const MAX_SYMLINKS: usize = 255;

/// Joins `unsafe_path` under `root`, resolving `..` lexically and symlinks scoped to `root`.
///
/// # Errors
///
/// An I/O error from `lstat`/`readlink` other than a missing component, or a loop of more than
/// 255 symlinks (`ELOOP`).
pub fn secure_join(root: &Path, unsafe_path: &str) -> io::Result<PathBuf> {
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut remaining: Vec<u8> = unsafe_path.as_bytes().to_vec();
    let mut links = 0;
    while !remaining.is_empty() {
        let (part, rest) = match remaining.iter().position(|&b| b == b'/') {
            Some(i) => (remaining[..i].to_vec(), remaining[i + 1..].to_vec()),
            None => (std::mem::take(&mut remaining), Vec::new()),
        };
        remaining = rest;
        match part.as_slice() {
            b"" | b"." => continue,
            b".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let full = join(root, current.iter().map(Vec::as_slice).chain([part.as_slice()]));
        let meta = match fs::symlink_metadata(&full) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if !meta.is_some_and(|m| m.file_type().is_symlink()) {
            current.push(part);
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(rustix::io::Errno::LOOP.into());
        }
        let target = fs::read_link(&full)?;
        let target = target.as_os_str().as_bytes();
        if target.starts_with(b"/") {
            current.clear();
        }
        let mut expanded = target.to_vec();
        expanded.push(b'/');
        expanded.extend_from_slice(&remaining);
        remaining = expanded;
    }
    Ok(join(root, current.iter().map(Vec::as_slice)))
}

fn join<'a>(root: &Path, parts: impl Iterator<Item = &'a [u8]>) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(OsStr::from_bytes(part));
    }
    path
}

/// Whether `segment` is a plain path segment: not empty, not `.` or `..`, without `/`, `\`
/// or NUL. Object names and artifact file names must be plain segments before they become
/// storage paths.
pub fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".." && !segment.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn dot_dot_never_leaves_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        assert_eq!(secure_join(root, "../../etc/passwd").unwrap(), root.join("etc/passwd"));
        assert_eq!(secure_join(root, "/abs/./x/../y").unwrap(), root.join("abs/y"));
        assert_eq!(secure_join(root, "").unwrap(), root);
        assert_eq!(secure_join(root, "..").unwrap(), root);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("real")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../tmp", root.join("rel")).unwrap();
        symlink("real", root.join("inside")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(secure_join(root, "abs/passwd").unwrap(), root.join("etc/passwd"));
        assert_eq!(secure_join(root, "rel/x").unwrap(), root.join("tmp/x"));
        assert_eq!(secure_join(root, "inside/x").unwrap(), root.join("real/x"));
        assert_eq!(
            secure_join(root, "loop/x").unwrap_err().raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
    }

    #[test]
    fn plain_segments() {
        assert!(is_plain_segment("flux-system"));
        assert!(is_plain_segment("abc.tar.gz"));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(!is_plain_segment(bad), "{bad:?}");
        }
    }
}
