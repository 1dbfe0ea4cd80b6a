//! Copying part of an artifact into a directory: GitRepository `spec.include` (pkg
//! `Storage.CopyToPath`).
//!
//! The whole artifact is extracted into a scratch directory, `from_path` is resolved inside it
//! with [`secure_join`], and the result is renamed to `to_path`. Flux extracts into the system
//! temporary directory and copies when the rename crosses file systems; here the scratch
//! directory is made next to `to_path`, so the rename never crosses one. As with Go's
//! `os.Rename`, an existing directory at `to_path` is an error (an existing file is replaced).

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::extract::{ExtractError, ExtractLimits, extract};
use crate::paths::secure_join;

/// Why an include could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum IncludeError {
    /// The artifact could not be extracted.
    #[error("failed to extract artifact: {0}")]
    Extract(#[from] ExtractError),
    /// `from_path` does not exist in the artifact.
    #[error("cannot stat '{0}' in artifact: no such file or directory")]
    NotFound(String),
    /// `to_path` is an existing directory.
    #[error("cannot copy to '{}': destination already exists", .0.display())]
    DestinationExists(PathBuf),
    /// A file system operation failed.
    #[error("{op} '{}': {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IncludeError + 'a {
    move |source| IncludeError::Io { op, path: path.to_path_buf(), source }
}

/// Extracts the artifact file `archive`, then moves its `from_path` (a path inside the
/// artifact; `..` and symlinks cannot leave it) to `to_path` (which the caller has already
/// joined securely under its own root).
///
/// # Errors
///
/// [`IncludeError`]; the scratch directory is removed in every case.
pub fn copy_to_path(archive: &Path, from_path: &str, to_path: &Path) -> Result<(), IncludeError> {
    let parent = to_path.parent().unwrap_or(Path::new("/"));
    DirBuilder::new().recursive(true).mode(0o777).create(parent).map_err(io_err("mkdir", parent))?;
    let scratch = scratch_dir(parent)?;
    let result = copy_via(archive, from_path, to_path, &scratch);
    if let Err(e) = fs::remove_dir_all(&scratch) {
        tracing::warn!(path = %scratch.display(), error = %e, "failed to remove include scratch directory");
    }
    result
}

fn copy_via(archive: &Path, from_path: &str, to_path: &Path, scratch: &Path) -> Result<(), IncludeError> {
    let file = File::open(archive).map_err(io_err("open", archive))?;
    let unpack = scratch.join("unpack");
    extract(io::BufReader::new(file), &unpack, &ExtractLimits::UNLIMITED)?;
    let from = secure_join(&unpack, from_path).map_err(io_err("resolve", &unpack))?;
    if fs::symlink_metadata(&from).is_err() {
        return Err(IncludeError::NotFound(from_path.to_owned()));
    }
    if fs::symlink_metadata(to_path).is_ok_and(|m| m.is_dir()) {
        return Err(IncludeError::DestinationExists(to_path.to_path_buf()));
    }
    fs::rename(&from, to_path).map_err(io_err("rename", to_path))
}

/// Creates a fresh private directory in `parent`.
fn scratch_dir(parent: &Path) -> Result<PathBuf, IncludeError> {
    let mut last = None;
    for _ in 0..16 {
        let path = parent.join(format!(".eddy-include-{:016x}", rand::random::<u64>()));
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((path, e)),
            Err(e) => return Err(io_err("mkdir", &path)(e)),
        }
    }
    let (path, e) = last.unwrap_or_else(|| (parent.to_path_buf(), io::ErrorKind::AlreadyExists.into()));
    Err(io_err("mkdir", &path)(e))
}
