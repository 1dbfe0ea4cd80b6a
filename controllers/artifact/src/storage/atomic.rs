//! Atomic creation of artifact files.
//!
//! A new artifact is written to a temporary file in its final directory, flushed to disk,
//! renamed over the final name, and the directory is synced: a reader (the HTTP server, a
//! verifying reconcile) sees either the old file or the complete new one, never a partial one,
//! also after a crash. A crash between creating and renaming leaves a temporary file behind;
//! its name starts with [`TEMP_PREFIX`], which the server refuses to serve and which garbage
//! collection deletes once it is older than the retention TTL.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, DigestAlgorithm, DigestWriter};

/// The name prefix of temporary files in the storage.
pub const TEMP_PREFIX: &str = ".eddy-tmp-";

/// Whether a file name (one path segment) is a temporary file of the storage.
pub fn is_temp_file_name(name: &[u8]) -> bool {
    name.starts_with(TEMP_PREFIX.as_bytes())
}

/// A temporary file that becomes the artifact on [`AtomicFile::commit`] and is removed when
/// dropped uncommitted.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    temp: PathBuf,
    target: PathBuf,
    writer: Option<DigestWriter<BufWriter<File>>>,
}

/// What was written: the digest and size of the committed file.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
}

impl AtomicFile {
    /// Creates a fresh temporary file (mode 0600) next to `target`.
    pub(crate) fn create(target: &Path, algorithm: DigestAlgorithm) -> io::Result<Self> {
        let dir = target.parent().ok_or_else(|| io::Error::other("artifact path has no directory"))?;
        let base = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut last_err = None;
        for _ in 0..16 {
            let temp = dir.join(format!("{TEMP_PREFIX}{base}.{:016x}", rand::random::<u64>()));
            match File::options().write(true).create_new(true).mode(0o600).open(&temp) {
                Ok(file) => {
                    let writer = DigestWriter::new(BufWriter::with_capacity(64 * 1024, file), algorithm);
                    return Ok(Self { temp, target: target.to_path_buf(), writer: Some(writer) });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()))
    }

    /// The writer for the content.
    fn writer(&mut self) -> io::Result<&mut DigestWriter<BufWriter<File>>> {
        self.writer.as_mut().ok_or_else(|| io::Error::other("artifact file already committed"))
    }

    /// Flushes and syncs the temporary file, renames it over the target and syncs the
    /// directory.
    pub(crate) fn commit(mut self) -> io::Result<Written> {
        let writer = self.writer.take().ok_or_else(|| io::Error::other("artifact writer missing"))?;
        let (buffered, digest, size) = writer.finish();
        let file = buffered.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)?;
        if let Some(dir) = self.target.parent() {
            File::open(dir)?.sync_all()?;
        }
        // Renamed: nothing left to clean up.
        self.temp = PathBuf::new();
        Ok(Written { digest, size })
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.temp.as_os_str().is_empty() {
            return;
        }
        if let Err(e) = fs::remove_file(&self.temp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.temp.display(), error = %e, "failed to remove temporary artifact file");
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_files_are_removed_and_committed_ones_replace_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a.tar.gz");
        fs::write(&target, b"old").unwrap();
        let mut f = AtomicFile::create(&target, DigestAlgorithm::Sha256).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "the temporary file is gone");
        assert_eq!(fs::read(&target).unwrap(), b"old");

        let mut f = AtomicFile::create(&target, DigestAlgorithm::Sha256).unwrap();
        let temp_name = f.temp.file_name().unwrap().as_encoded_bytes().to_vec();
        assert!(is_temp_file_name(&temp_name));
        f.write_all(b"new").unwrap();
        let written = f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(written.size, 3);
        assert!(written.digest.verify_reader(&b"new"[..]).unwrap());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
