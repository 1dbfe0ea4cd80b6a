//! Writing a directory as Flux's artifact tarball (pkg `Storage.Archive`).
//!
//! The walk is Go's `filepath.Walk`: the root first, then depth first with the names of each
//! directory in byte order. Every directory (the root as `.`) and regular file gets an entry
//! named by its path relative to the root, without a trailing `/`; symlinks, devices, FIFOs
//! and sockets are left out. Headers carry nothing of the machine: uid/gid 0, no user or group
//! name, zero times, and modes 0750 for directories, 0700 for files with any execute bit and
//! 0600 for other files. So the same tree always gives the same bytes.
//!
//! A filter excludes entries, as Flux's `ArchiveFileFilter` does. Like Flux, an excluded
//! directory is still walked, because a later negated pattern may include something inside
//! it (`config/` then `!config/keep.yaml` keeps `config/keep.yaml` without a `config` entry);
//! only when the filter guarantees that nothing below an excluded directory can be included
//! ([`ArchiveFilter::prunes_excluded_dirs`]) is the directory skipped, which gives the same
//! archive without reading, say, a whole `.git`.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::header::{EntryKind, TarWriter};
use crate::sourceignore::Matcher;

/// Mode of directories in an artifact.
pub const DIR_MODE: u32 = 0o750;
/// Mode of files with any execute bit.
pub const EXE_FILE_MODE: u32 = 0o700;
/// Mode of other files.
pub const FILE_MODE: u32 = 0o600;

/// Decides which entries an archive leaves out.
pub trait ArchiveFilter {
    /// Whether the entry at `path` (components relative to the root; empty for the root
    /// itself) is left out.
    fn is_excluded(&self, path: &[&[u8]], is_dir: bool) -> bool;

    /// Whether nothing below an excluded directory can be included, so the walk may skip it.
    fn prunes_excluded_dirs(&self) -> bool {
        false
    }
}

impl ArchiveFilter for Matcher {
    fn is_excluded(&self, path: &[&[u8]], is_dir: bool) -> bool {
        Matcher::is_excluded(self, path, is_dir)
    }

    fn prunes_excluded_dirs(&self) -> bool {
        !self.has_inclusions()
    }
}

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The directory to archive does not exist or is not a directory (Flux's text).
    #[error("invalid dir path: {}", .0.display())]
    InvalidDir(PathBuf),
    /// A file changed size while it was archived.
    #[error("file '{}' changed while it was archived", .0.display())]
    Changed(PathBuf),
    /// Reading the tree or writing the archive failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io { path: path.to_path_buf(), source }
}

/// Writes the tar.gz of `dir` to `out` (Go's gzip default level) and returns `out`.
///
/// # Errors
///
/// [`ArchiveError`] when `dir` is not a directory, a file changes while read, or I/O fails.
pub fn write_tar_gz<W: Write>(dir: &Path, filter: Option<&dyn ArchiveFilter>, out: W) -> Result<W, ArchiveError> {
    let gz = GzEncoder::new(out, Compression::default());
    let gz = write_tar(dir, filter, gz)?;
    gz.finish().map_err(io_err(dir))
}

/// Writes the uncompressed tar of `dir` to `out` (the stream inside an artifact's gzip).
///
/// # Errors
///
/// As [`write_tar_gz`].
pub fn write_tar<W: Write>(dir: &Path, filter: Option<&dyn ArchiveFilter>, out: W) -> Result<W, ArchiveError> {
    // Flux checks the directory with stat (following a symlink), then walks from lstat.
    if !fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(ArchiveError::InvalidDir(dir.to_path_buf()));
    }
    let root_meta = fs::symlink_metadata(dir).map_err(io_err(dir))?;
    let mut walker = Walker { tar: TarWriter::new(out), filter, buf: vec![0; 64 * 1024], components: Vec::new() };
    walker.visit(dir, &root_meta)?;
    walker.tar.finish().map_err(io_err(dir))
}

struct Walker<'f, W> {
    tar: TarWriter<W>,
    filter: Option<&'f dyn ArchiveFilter>,
    buf: Vec<u8>,
    components: Vec<Vec<u8>>,
}

impl<W: Write> Walker<'_, W> {
    fn visit(&mut self, path: &Path, meta: &Metadata) -> Result<(), ArchiveError> {
        let file_type = meta.file_type();
        let is_dir = file_type.is_dir();
        if !is_dir && !file_type.is_file() {
            return Ok(()); // symlinks, devices, FIFOs, sockets
        }
        let excluded = self.filter.is_some_and(|f| {
            let components: Vec<&[u8]> = self.components.iter().map(Vec::as_slice).collect();
            f.is_excluded(&components, is_dir)
        });
        if !excluded {
            let name = if self.components.is_empty() { b".".to_vec() } else { self.components.join(&b'/') };
            if is_dir {
                self.tar.write_header(&name, EntryKind::Dir, DIR_MODE, 0).map_err(io_err(path))?;
            } else {
                let mode = if meta.permissions().mode() & 0o111 != 0 { EXE_FILE_MODE } else { FILE_MODE };
                self.tar.write_header(&name, EntryKind::File, mode, meta.len()).map_err(io_err(path))?;
                self.copy_file(path, meta.len())?;
            }
        }
        if !is_dir || (excluded && self.filter.is_some_and(ArchiveFilter::prunes_excluded_dirs)) {
            return Ok(());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(io_err(path))? {
            names.push(entry.map_err(io_err(path))?.file_name());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let child = path.join(&name);
            let meta = fs::symlink_metadata(&child).map_err(io_err(&child))?;
            self.components.push(name.as_bytes().to_vec());
            let result = self.visit(&child, &meta);
            self.components.pop();
            result?;
        }
        Ok(())
    }

    /// Copies exactly `size` bytes of the file at `path`; a file that shrank or grew since it
    /// was stat'ed fails the archive, as Go's tar writer does.
    fn copy_file(&mut self, path: &Path, size: u64) -> Result<(), ArchiveError> {
        let mut file = File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(io_err(path))?;
        let mut remaining = size;
        while remaining > 0 {
            let want = usize::try_from(remaining).unwrap_or(usize::MAX).min(self.buf.len());
            let n = file.read(&mut self.buf[..want]).map_err(io_err(path))?;
            if n == 0 {
                return Err(ArchiveError::Changed(path.to_path_buf()));
            }
            self.tar.write_content(&self.buf[..n]).map_err(io_err(path))?;
            remaining -= n as u64;
        }
        if file.read(&mut self.buf[..1]).map_err(io_err(path))? != 0 {
            return Err(ArchiveError::Changed(path.to_path_buf()));
        }
        self.tar.pad(size).map_err(io_err(path))
    }
}
