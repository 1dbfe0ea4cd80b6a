//! Turning a request path into an open file under the storage root, so that nothing outside
//! the root, no directory, no symlink and no temporary file can ever be served.
//!
//! The path is percent-decoded once (as Go's `URL.Path`); empty and `.` segments are dropped,
//! and a `..` segment, a backslash or a NUL anywhere refuses the request (Go cleans `..`
//! lexically at the root; refusing is simpler to trust and no artifact URL contains one). The
//! file is then opened component by component with `openat(2)` and `O_NOFOLLOW` from a
//! descriptor of the root, so a symlink anywhere on the way, even one swapped in while the
//! request runs, fails the open instead of being followed.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags, openat};

use crate::storage::is_temp_file_name;

/// Why a path cannot be served.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not a servable file: missing, a directory, a symlink, a temporary file, unsafe.
    NotFound,
    /// The path names a file but ends with `/` (Go redirects to the name without it).
    TrailingSlash(String),
    /// Opening failed for another reason.
    Io(io::Error),
}

/// The decoded, validated segments of a request path.
pub(crate) fn segments(raw_path: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    let decoded = percent_decode(raw_path.as_bytes())?;
    if decoded.contains(&b'\\') || decoded.contains(&0) {
        return None;
    }
    let trailing_slash = decoded.len() > 1 && decoded.ends_with(b"/");
    let mut out = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return None,
            s => out.push(s.to_vec()),
        }
    }
    Some((out, trailing_slash))
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hi = hex(*input.get(i + 1)?)?;
            let lo = hex(*input.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

fn not_found_or(e: rustix::io::Errno) -> Refusal {
    use rustix::io::Errno;
    match e {
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::ISDIR | Errno::NAMETOOLONG | Errno::ACCESS => {
            Refusal::NotFound
        }
        other => Refusal::Io(other.into()),
    }
}

/// Opens the regular file the request path names under `root`; also returns its (decoded)
/// file name.
pub(crate) fn open(root: &Path, raw_path: &str) -> Result<(File, String), Refusal> {
    let (segments, trailing_slash) = segments(raw_path).ok_or(Refusal::NotFound)?;
    let Some((last, dirs)) = segments.split_last() else {
        return Err(Refusal::NotFound); // the root is a directory
    };
    if segments.iter().any(|s| is_temp_file_name(s)) {
        return Err(Refusal::NotFound);
    }
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir: OwnedFd = openat(rustix::fs::CWD, root, dir_flags, Mode::empty()).map_err(not_found_or)?;
    for segment in dirs {
        dir = openat(&dir, segment.as_slice(), dir_flags, Mode::empty()).map_err(not_found_or)?;
    }
    // O_NONBLOCK so that opening a FIFO never waits for a writer.
    let file_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = openat(&dir, last.as_slice(), file_flags, Mode::empty()).map_err(not_found_or)?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(Refusal::Io)?;
    if !meta.is_file() {
        return Err(Refusal::NotFound);
    }
    if trailing_slash {
        return Err(Refusal::TrailingSlash(String::from_utf8_lossy(last).into_owned()));
    }
    Ok((file, String::from_utf8_lossy(last).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_decoded_once_and_unsafe_ones_refused() {
        let seg = |p: &str| {
            segments(p).map(|(s, _)| s.into_iter().map(|s| String::from_utf8(s).unwrap()).collect::<Vec<_>>())
        };
        assert_eq!(seg("/a/b.tar.gz"), Some(vec!["a".into(), "b.tar.gz".into()]));
        assert_eq!(seg("//a/./b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(seg("/a%20b"), Some(vec!["a b".into()]));
        assert_eq!(seg("/a%2Fb"), Some(vec!["a".into(), "b".into()]), "an encoded slash separates");
        assert_eq!(seg("/%252e%252e/x"), Some(vec!["%2e%2e".into(), "x".into()]), "decoded once");
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E%2Fetc",
            "/a\\..\\b",
            "/a%5cb",
            "/a%00b",
            "/%zz",
            "/%2",
        ] {
            assert!(segments(bad).is_none(), "{bad}");
        }
        assert_eq!(segments("/a/").map(|(_, t)| t), Some(true));
        assert_eq!(segments("/").map(|(_, t)| t), Some(false));
    }
}
