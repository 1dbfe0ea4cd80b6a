//! Safe extraction of an artifact tarball, for consumers (the Kustomization controller
//! downloads an artifact and unpacks it) and for GitRepository includes.
//!
//! It follows fluxcd/pkg `tar.Untar` as the fetcher calls it (with `WithSkipSymlinks`): the
//! declared sizes of all entries are added up and extraction stops with
//! [`ExtractError::TooLarge`] once they pass the limit (100 MiB by default, as
//! `DefaultMaxUntarSize`); files get the permission bits of their header (subject to the
//! umask) and the header's modification time (clamped to now); directories get theirs plus
//! `0700`. It is stricter than Flux where Flux is loose: a name with a `..` component, a `\`,
//! a NUL or a leading `/` is refused ([`ExtractError::InvalidName`]); symlinks, hard links,
//! devices, FIFOs and unknown entry types are skipped (Flux fails on devices and writes hard
//! links as empty files); and nothing is ever written through a symlink already present
//! under the destination.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, FileTimes};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::bufread::MultiGzDecoder;
use tar::EntryType;

/// The default limit on the sum of the entries' sizes (pkg `tar.DefaultMaxUntarSize`).
pub const DEFAULT_MAX_UNTAR_SIZE: u64 = 100 << 20;

/// Limits applied while extracting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// The most the entries' sizes may add up to; `None` for no limit.
    pub max_size: Option<u64>,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self { max_size: Some(DEFAULT_MAX_UNTAR_SIZE) }
    }
}

impl ExtractLimits {
    /// No limit (what `Storage.CopyToPath` uses for artifacts Eddy wrote itself).
    pub const UNLIMITED: Self = Self { max_size: None };
}

/// What an extraction wrote and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written.
    pub files: u64,
    /// Directory entries applied.
    pub dirs: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Names of entries skipped because of their type (links, devices, …).
    pub skipped: Vec<String>,
}

/// Why an extraction failed. Texts follow pkg `tar.Untar`'s where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The stream is not gzip.
    #[error("requires gzip-compressed body: {0}")]
    Gzip(#[source] io::Error),
    /// The tar (or gzip) stream is corrupt or truncated.
    #[error("tar error: {0}")]
    Tar(#[source] io::Error),
    /// The entries' sizes add up to more than the limit.
    #[error("tar {name:?} is bigger than max archive size of {max} bytes")]
    TooLarge {
        /// The entry that crossed the limit.
        name: String,
        /// The limit.
        max: u64,
    },
    /// An entry name is absolute, escapes the destination or is otherwise unsafe.
    #[error("tar contained invalid name error {name:?}")]
    InvalidName {
        /// The refused name.
        name: String,
    },
    /// The destination exists and is not a directory.
    #[error("dir '{}' must be a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A path under the destination is a symlink or a file where a directory is needed.
    #[error("refusing to extract through '{}': not a directory", .0.display())]
    UnsafePath(PathBuf),
    /// Writing the tree failed.
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

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ExtractError + 'a {
    move |source| ExtractError::Io { op, path: path.to_path_buf(), source }
}

/// Extracts the tar.gz read from `reader` into `dest` (created when missing).
///
/// # Errors
///
/// [`ExtractError`]; on error `dest` may hold part of the tree.
pub fn extract<R: Read>(reader: R, dest: &Path, limits: &ExtractLimits) -> Result<ExtractSummary, ExtractError> {
    let mut buffered = BufReader::new(reader);
    let head = buffered.fill_buf().map_err(ExtractError::Gzip)?;
    if !head.starts_with(&[0x1f, 0x8b]) {
        return Err(ExtractError::Gzip(io::Error::new(io::ErrorKind::InvalidData, "invalid gzip header")));
    }
    extract_tar(MultiGzDecoder::new(buffered), dest, limits)
}

/// Extracts an uncompressed tar stream (see [`extract`]).
///
/// # Errors
///
/// As [`extract`].
pub fn extract_tar<R: Read>(reader: R, dest: &Path, limits: &ExtractLimits) -> Result<ExtractSummary, ExtractError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(ExtractError::NotADirectory(dest.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o750).create(dest).map_err(io_err("mkdir", dest))?;
        }
        Err(e) => return Err(io_err("lstat", dest)(e)),
    }
    let mut out = Extractor { dest, made: HashSet::new(), summary: ExtractSummary::default(), now: SystemTime::now() };
    let mut archive = tar::Archive::new(reader);
    let mut processed: u64 = 0;
    for entry in archive.entries().map_err(ExtractError::Tar)? {
        let mut entry = entry.map_err(ExtractError::Tar)?;
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        processed = processed.saturating_add(entry.size());
        if let Some(max) = limits.max_size
            && processed > max
        {
            return Err(ExtractError::TooLarge { name, max });
        }
        let Some(components) = safe_components(&name_bytes) else {
            return Err(ExtractError::InvalidName { name });
        };
        let header = entry.header();
        let mode = header.mode().map_err(ExtractError::Tar)?;
        let mtime = header.mtime().map_err(ExtractError::Tar)?;
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => {
                if components.is_empty() {
                    return Err(ExtractError::InvalidName { name });
                }
                out.file(&components, mode, mtime, entry.size(), &mut entry)?;
            }
            EntryType::Directory => out.dir(&components, mode)?,
            _ => {
                tracing::debug!(entry = %name, "skipping tar entry that is not a file or directory");
                out.summary.skipped.push(name);
            }
        }
    }
    Ok(out.summary)
}

/// The components of an entry name, or `None` when the name is unsafe. `.` and empty
/// components (`./a`, `a//b`, `dir/`) are dropped.
fn safe_components(name: &[u8]) -> Option<Vec<&[u8]>> {
    if name.is_empty() || name[0] == b'/' || name.contains(&b'\\') || name.contains(&0) {
        return None;
    }
    let mut components = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            _ => components.push(part),
        }
    }
    Some(components)
}

struct Extractor<'d> {
    dest: &'d Path,
    made: HashSet<PathBuf>,
    summary: ExtractSummary,
    now: SystemTime,
}

impl Extractor<'_> {
    /// Makes sure the directory `dest/components…` exists, creating missing parts with `mode`
    /// and refusing to pass through anything that is not a real directory.
    fn ensure_dir(&mut self, components: &[&[u8]], mode: u32) -> Result<PathBuf, ExtractError> {
        use std::os::unix::ffi::OsStrExt;
        let mut path = self.dest.to_path_buf();
        for component in components {
            path.push(std::ffi::OsStr::from_bytes(component));
            if self.made.contains(&path) {
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(ExtractError::UnsafePath(path)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    DirBuilder::new().mode(mode).create(&path).map_err(io_err("mkdir", &path))?;
                }
                Err(e) => return Err(io_err("lstat", &path)(e)),
            }
            self.made.insert(path.clone());
        }
        Ok(path)
    }

    fn dir(&mut self, components: &[&[u8]], mode: u32) -> Result<(), ExtractError> {
        self.ensure_dir(components, (mode & 0o777) | 0o700)?;
        self.summary.dirs += 1;
        Ok(())
    }

    fn file(
        &mut self,
        components: &[&[u8]],
        mode: u32,
        mtime: u64,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<(), ExtractError> {
        use std::os::unix::ffi::OsStrExt;
        let (last, parents) = components.split_last().ok_or_else(|| ExtractError::UnsafePath(self.dest.into()))?;
        let mut path = self.ensure_dir(parents, 0o750)?;
        path.push(std::ffi::OsStr::from_bytes(last));
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                let source = io::Error::new(io::ErrorKind::IsADirectory, "is a directory");
                return Err(io_err("open", &path)(source));
            }
            // A later entry replaces an earlier one; a symlink is removed, never followed.
            Ok(_) => fs::remove_file(&path).map_err(io_err("remove", &path))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("lstat", &path)(e)),
        }
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .mode(mode & 0o777)
            .open(&path)
            .map_err(io_err("create", &path))?;
        let written = io::copy(content, &mut file).map_err(ExtractError::Tar)?;
        if written != size {
            let source =
                io::Error::new(io::ErrorKind::UnexpectedEof, format!("only wrote {written} bytes; expected {size}"));
            return Err(ExtractError::Tar(source));
        }
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(mtime);
        let mtime = mtime.min(self.now);
        file.set_times(FileTimes::new().set_accessed(mtime).set_modified(mtime)).map_err(io_err("chtimes", &path))?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [&b""[..], b"/etc/passwd", b"../x", b"a/../../x", b"a/..", b"..", b"a\\b", b"a\0b"] {
            assert!(safe_components(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(safe_components(b"./a//b/"), Some(vec![&b"a"[..], b"b"]));
        assert_eq!(safe_components(b"."), Some(vec![]));
        assert_eq!(safe_components(b"..."), Some(vec![&b"..."[..]]));
    }
}
