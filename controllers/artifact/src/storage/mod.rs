//! The artifact storage: a directory tree of artifact files, one directory per object, as
//! fluxcd/pkg `artifact/storage` keeps it.
//!
//! Layout: `<root>/<kind lowercased>/<namespace>/<name>/<file>`, e.g.
//! `gitrepository/flux-system/app/<commit>.tar.gz`; the artifact's `path` is that relative
//! path and its `url` is `http://<advertised address>/<path>`. Files are written atomically
//! (`atomic.rs`), verified by re-hashing with the algorithm their digest names, collected by the
//! retention rules (`gc.rs`) and guarded by in-process locks (`lock.rs`).
//!
//! The methods do blocking file I/O: call them from `spawn_blocking` in async code. No path
//! built from an object's name or an artifact's `path` can leave the root: every segment must
//! be a plain name ([`crate::paths::is_plain_segment`]) and an existing symlink on the way is
//! refused.

mod atomic;
mod gc;
mod lock;

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eddy_api::meta::Artifact;

pub use atomic::{TEMP_PREFIX, is_temp_file_name};
pub use gc::GARBAGE_COUNT_LIMIT;
pub use lock::ArtifactLock;

use crate::archive::{self, ArchiveError, ArchiveFilter, IncludeError};
use crate::digest::{Digest, DigestAlgorithm, DigestError};
use crate::paths::is_plain_segment;

/// Default of `--artifact-retention-ttl`.
pub const DEFAULT_RETENTION_TTL: Duration = Duration::from_secs(60);
/// Default of `--artifact-retention-records`.
pub const DEFAULT_RETENTION_RECORDS: usize = 2;

/// How a [`Storage`] is set up (source-controller's storage flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// The directory artifacts are stored in (`--storage-path`); it must exist.
    pub root: PathBuf,
    /// `host:port` (or a URL prefix with a scheme) advertised in artifact URLs
    /// (`--storage-adv-addr`).
    pub advertised_address: String,
    /// The algorithm new artifacts are digested with (`--artifact-digest-algo`).
    pub digest_algorithm: DigestAlgorithm,
    /// Age past which non-current artifacts are collected (`--artifact-retention-ttl`).
    pub retention_ttl: Duration,
    /// How many artifacts (the current one included) a collection keeps
    /// (`--artifact-retention-records`).
    pub retention_records: usize,
}

impl StorageOptions {
    /// Options with Flux's defaults for the digest and retention.
    pub fn new(root: impl Into<PathBuf>, advertised_address: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            advertised_address: advertised_address.into(),
            digest_algorithm: DigestAlgorithm::default(),
            retention_ttl: DEFAULT_RETENTION_TTL,
            retention_records: DEFAULT_RETENTION_RECORDS,
        }
    }
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage root is missing or not a directory (Flux's text).
    #[error("invalid dir path: {}", .0.display())]
    InvalidRoot(PathBuf),
    /// A path segment or an artifact path is not a plain relative path.
    #[error("invalid artifact path '{0}'")]
    InvalidPath(String),
    /// Writing an archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Copying an include failed.
    #[error(transparent)]
    Include(#[from] IncludeError),
    /// Some garbage could not be deleted.
    #[error("failed to delete garbage files: {}", errors.join("; "))]
    GarbageCollection {
        /// Files that were deleted.
        deleted: Vec<PathBuf>,
        /// The failures.
        errors: Vec<String>,
    },
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

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io { op, path: path.to_path_buf(), source }
}

/// Why [`Storage::verify`] rejected an artifact.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The artifact records no digest (Flux's text).
    #[error("artifact has no digest")]
    NoDigest,
    /// The recorded digest does not parse.
    #[error("failed to parse artifact digest '{digest}': {source}")]
    InvalidDigest {
        /// The recorded digest.
        digest: String,
        /// Why it does not parse.
        #[source]
        source: DigestError,
    },
    /// The artifact's path is not a valid storage path.
    #[error("invalid artifact path '{0}'")]
    InvalidPath(String),
    /// There is no file for the artifact.
    #[error("artifact file '{}' is missing", .0.display())]
    Missing(PathBuf),
    /// The file's content does not have the recorded digest.
    #[error("computed digest '{actual}' doesn't match '{expected}'")]
    Mismatch {
        /// The recorded digest.
        expected: Digest,
        /// The digest of the stored file.
        actual: Digest,
    },
    /// Reading the file failed.
    #[error("failed to read artifact '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Artifact storage over a root directory. Cheap to clone; clones share the locks.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    hostname: String,
    algorithm: DigestAlgorithm,
    ttl: Duration,
    records: usize,
    locks: Arc<lock::LockTable>,
}

impl Storage {
    /// Opens the storage at `options.root`, which must be an existing directory.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidRoot`] when it is not one.
    pub fn new(options: StorageOptions) -> Result<Self, StorageError> {
        let root = fs::canonicalize(&options.root)
            .ok()
            .filter(|r| r.is_dir())
            .ok_or_else(|| StorageError::InvalidRoot(options.root.clone()))?;
        Ok(Self {
            root,
            hostname: options.advertised_address,
            algorithm: options.digest_algorithm,
            ttl: options.retention_ttl,
            records: options.retention_records,
            locks: Arc::default(),
        })
    }

    /// The (canonical) storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The algorithm new artifacts are digested with.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The relative directory of an object's artifacts: `<kind lowercased>/<namespace>/<name>`.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidPath`] when a part is not a plain path segment.
    pub fn artifact_dir(kind: &str, namespace: &str, name: &str) -> Result<String, StorageError> {
        let kind = kind.to_lowercase();
        for segment in [kind.as_str(), namespace, name] {
            if !is_plain_segment(segment) {
                return Err(StorageError::InvalidPath(format!("{kind}/{namespace}/{name}")));
            }
        }
        Ok(format!("{kind}/{namespace}/{name}"))
    }

    /// A new artifact (pkg `NewArtifactFor`) for `file_name` in the object's directory, with
    /// its revision and URL set. Nothing is written.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidPath`] when a part is not a plain path segment.
    pub fn new_artifact(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        revision: &str,
        file_name: &str,
    ) -> Result<Artifact, StorageError> {
        let dir = Self::artifact_dir(kind, namespace, name)?;
        if !is_plain_segment(file_name) {
            return Err(StorageError::InvalidPath(format!("{dir}/{file_name}")));
        }
        let mut artifact =
            Artifact { path: format!("{dir}/{file_name}"), revision: revision.to_owned(), ..Artifact::default() };
        self.set_artifact_url(&mut artifact);
        Ok(artifact)
    }

    /// Sets the artifact's URL from its path and the advertised address (pkg
    /// `SetArtifactURL`): `http://<address>/<path>`, or `<address>/<path>` when the address
    /// already has an `http://` or `https://` scheme.
    pub fn set_artifact_url(&self, artifact: &mut Artifact) {
        if artifact.path.is_empty() {
            return;
        }
        let path = artifact.path.trim_start_matches('/');
        artifact.url = if self.hostname.starts_with("http://") || self.hostname.starts_with("https://") {
            format!("{}/{path}", self.hostname)
        } else {
            format!("http://{}/{path}", self.hostname)
        };
    }

    /// The file of an artifact under the root.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidPath`] when the path is not plain segments under the root, or an
    /// existing component of it is a symlink or not a directory.
    pub fn local_path(&self, artifact: &Artifact) -> Result<PathBuf, StorageError> {
        let rel = &artifact.path;
        let segments: Vec<&str> = rel.split('/').collect();
        if rel.is_empty() || !segments.iter().all(|s| is_plain_segment(s)) {
            return Err(StorageError::InvalidPath(rel.clone()));
        }
        let mut path = self.root.clone();
        for (i, segment) in segments.iter().enumerate() {
            path.push(segment);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(StorageError::InvalidPath(rel.clone())),
                Ok(meta) if i + 1 < segments.len() && !meta.is_dir() => {
                    return Err(StorageError::InvalidPath(rel.clone()));
                }
                // Missing components are fine: the file may be about to be written.
                Ok(_) | Err(_) => {}
            }
        }
        Ok(path)
    }

    /// Whether the artifact's file exists as a regular file (pkg `ArtifactExist`).
    pub fn exists(&self, artifact: &Artifact) -> bool {
        self.local_path(artifact).ok().and_then(|p| fs::symlink_metadata(p).ok()).is_some_and(|m| m.is_file())
    }

    /// Creates the artifact's directory (mode 0700, as pkg `MkdirAll`).
    ///
    /// # Errors
    ///
    /// An invalid path or the I/O error.
    pub fn mkdir_all(&self, artifact: &Artifact) -> Result<PathBuf, StorageError> {
        let path = self.local_path(artifact)?;
        let dir = path.parent().unwrap_or(&self.root);
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_err("mkdir", dir))?;
        Ok(path)
    }

    /// Archives `dir` as the artifact's tar.gz, atomically, then sets its digest, size and
    /// last update time (pkg `Archive`).
    ///
    /// # Errors
    ///
    /// [`StorageError`]; on error nothing is left in the storage and the artifact is unchanged.
    pub fn archive(
        &self,
        artifact: &mut Artifact,
        dir: &Path,
        filter: Option<&dyn ArchiveFilter>,
    ) -> Result<(), StorageError> {
        if !fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(ArchiveError::InvalidDir(dir.to_path_buf()).into());
        }
        let dir = std::path::absolute(dir).map_err(io_err("resolve", dir))?;
        let target = self.mkdir_all(artifact)?;
        let mut file = atomic::AtomicFile::create(&target, self.algorithm).map_err(io_err("create", &target))?;
        archive::write_tar_gz(&dir, filter, &mut file)?;
        let written = file.commit().map_err(io_err("commit", &target))?;
        Self::record(artifact, &written);
        Ok(())
    }

    /// Stores what `reader` yields as the artifact's file, atomically, then sets its digest,
    /// size and last update time (pkg `Copy`, for sources that download a file).
    ///
    /// # Errors
    ///
    /// [`StorageError`]; on error nothing is left in the storage and the artifact is unchanged.
    pub fn copy_from(&self, artifact: &mut Artifact, reader: &mut dyn Read) -> Result<(), StorageError> {
        let target = self.mkdir_all(artifact)?;
        let mut file = atomic::AtomicFile::create(&target, self.algorithm).map_err(io_err("create", &target))?;
        io::copy(reader, &mut file).map_err(io_err("write", &target))?;
        let written = file.commit().map_err(io_err("commit", &target))?;
        Self::record(artifact, &written);
        Ok(())
    }

    /// [`Storage::copy_from`] with the content of the file at `path` (pkg `CopyFromPath`).
    ///
    /// # Errors
    ///
    /// As [`Storage::copy_from`], or the error opening `path`.
    pub fn copy_from_path(&self, artifact: &mut Artifact, path: &Path) -> Result<(), StorageError> {
        let mut file = fs::File::open(path).map_err(io_err("open", path))?;
        self.copy_from(artifact, &mut file)
    }

    fn record(artifact: &mut Artifact, written: &atomic::Written) {
        artifact.digest = written.digest.to_string();
        artifact.size = Some(i64::try_from(written.size).unwrap_or(i64::MAX));
        artifact.last_update_time = rfc3339(SystemTime::now());
    }

    /// Re-hashes the stored file with the algorithm its recorded digest names (pkg
    /// `VerifyArtifact`).
    ///
    /// # Errors
    ///
    /// [`VerifyError`] saying what is wrong.
    pub fn verify(&self, artifact: &Artifact) -> Result<(), VerifyError> {
        if artifact.digest.is_empty() {
            return Err(VerifyError::NoDigest);
        }
        let expected = Digest::parse(&artifact.digest)
            .map_err(|source| VerifyError::InvalidDigest { digest: artifact.digest.clone(), source })?;
        let path = self.local_path(artifact).map_err(|_| VerifyError::InvalidPath(artifact.path.clone()))?;
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(VerifyError::Missing(path)),
            Err(source) => return Err(VerifyError::Io { path, source }),
        };
        let actual = expected
            .algorithm()
            .digest_reader(io::BufReader::with_capacity(64 * 1024, file))
            .map_err(|source| VerifyError::Io { path: path.clone(), source })?;
        if actual == expected { Ok(()) } else { Err(VerifyError::Mismatch { expected, actual }) }
    }

    /// Waits for and takes the in-process lock of the artifact's file (see `lock.rs` for why a
    /// process-local lock suffices).
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidPath`] for an invalid artifact path.
    pub async fn lock(&self, artifact: &Artifact) -> Result<ArtifactLock, StorageError> {
        let path = self.local_path(artifact)?;
        Ok(self.locks.lock(&path).await)
    }

    /// Takes the artifact's lock if it is free.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidPath`] for an invalid artifact path.
    pub fn try_lock(&self, artifact: &Artifact) -> Result<Option<ArtifactLock>, StorageError> {
        let path = self.local_path(artifact)?;
        Ok(self.locks.try_lock(&path))
    }

    /// Deletes the artifact's file (pkg `Remove`).
    ///
    /// # Errors
    ///
    /// An invalid path or the I/O error (also when the file is missing).
    pub fn remove(&self, artifact: &Artifact) -> Result<(), StorageError> {
        let path = self.local_path(artifact)?;
        fs::remove_file(&path).map_err(io_err("remove", &path))
    }

    /// Deletes an object's whole directory, on the object's deletion (pkg `RemoveAll`).
    /// Returns the directory when it existed.
    ///
    /// # Errors
    ///
    /// An invalid kind/namespace/name or the I/O error.
    pub fn remove_all(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<PathBuf>, StorageError> {
        let rel = Self::artifact_dir(kind, namespace, name)?;
        let dir = self.local_path(&Artifact { path: rel, ..Artifact::default() })?;
        match fs::symlink_metadata(&dir) {
            Ok(_) => {
                fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
                Ok(Some(dir))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("lstat", &dir)(e)),
        }
    }

    /// Applies the retention rules to the directory of `current` (pkg `GarbageCollect`) as of
    /// `now`, and returns the files deleted.
    ///
    /// # Errors
    ///
    /// The walk's errors, or [`StorageError::GarbageCollection`] with what was deleted anyway.
    pub fn garbage_collect(&self, current: &Artifact, now: SystemTime) -> Result<Vec<PathBuf>, StorageError> {
        let path = self.local_path(current)?;
        let dir = path.parent().unwrap_or(&self.root);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let garbage = gc::garbage_files(dir, &path, self.records, self.ttl, now)
            .map_err(|e| StorageError::GarbageCollection { deleted: Vec::new(), errors: vec![e] })?;
        gc::delete(garbage).map_err(|(deleted, errors)| StorageError::GarbageCollection { deleted, errors })
    }

    /// Copies `from_path` of the stored artifact to `to_path` (pkg `CopyToPath`, for
    /// GitRepository includes). `to_path` should come from [`crate::paths::secure_join`].
    ///
    /// # Errors
    ///
    /// An invalid artifact path or the [`IncludeError`].
    pub fn copy_to_path(&self, artifact: &Artifact, from_path: &str, to_path: &Path) -> Result<(), StorageError> {
        let archive = self.local_path(artifact)?;
        archive::copy_to_path(&archive, from_path, to_path)?;
        Ok(())
    }
}

/// Formats `time` as RFC 3339 in UTC with whole seconds, as `metav1.Time` serialises.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests;
