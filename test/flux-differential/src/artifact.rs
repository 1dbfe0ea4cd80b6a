//! A GitRepository's artifact, as a comparable listing: downloaded from the side's artifact
//! URL (`curl`, both artifact servers listen on 127.0.0.1) and read as a gzipped tarball.
//! Every entry becomes `{path, kind, mode, text | link}`; the archive's digest, times and
//! owners are not compared (each side packs at its own time).

use std::io::Read as _;
use std::process::Command;

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Largest file content kept as text; longer files are summarised by their size.
const MAX_TEXT: u64 = 64 * 1024;

/// Downloads `url` (bounded to 30 s).
///
/// # Errors
/// curl cannot run or the server does not answer 2xx.
pub fn download(url: &str) -> Result<Vec<u8>> {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "30", "--noproxy", "*", url])
        .output()
        .map_err(|source| Error::Spawn { program: "curl".into(), source })?;
    if !out.status.success() {
        return Err(Error::Tool {
            what: "curl (artifact download)",
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        });
    }
    Ok(out.stdout)
}

/// The entries of a `.tar.gz`, sorted by path; a malformed archive lists what could be read
/// and then an `{"error": …}` entry.
#[must_use]
pub fn listing(targz: &[u8]) -> Value {
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(targz));
    let iter = match archive.entries() {
        Ok(i) => i,
        Err(e) => return json!([{"error": e.to_string()}]),
    };
    for entry in iter {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                entries.push(json!({"path": "~", "error": e.to_string()}));
                break;
            }
        };
        let header = entry.header().clone();
        let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let path = path.trim_start_matches("./").to_owned();
        let kind = header.entry_type();
        let mode = header.mode().map(|m| format!("{:o}", m & 0o7777)).unwrap_or_default();
        let mut e = json!({"path": path, "kind": kind_name(kind), "mode": mode});
        if kind.is_symlink() {
            e["link"] = json!(entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()));
        } else if kind.is_file() {
            let size = header.size().unwrap_or_default();
            if size <= MAX_TEXT {
                let mut buf = Vec::new();
                if entry.read_to_end(&mut buf).is_ok() {
                    e["text"] = json!(String::from_utf8_lossy(&buf));
                }
            } else {
                e["size"] = json!(size);
            }
        }
        entries.push(e);
    }
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Value::Array(entries)
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    if kind.is_dir() {
        "dir"
    } else if kind.is_symlink() {
        "symlink"
    } else if kind.is_hard_link() {
        "hardlink"
    } else if kind.is_file() {
        "file"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let raw = b.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).expect("gzip");
        gz.finish().expect("gzip")
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    }

    #[test]
    fn lists_files_modes_texts_and_links_sorted() {
        let gz = targz(|b| {
            file(b, "z.txt", 0o644, b"zed\n");
            file(b, "bin/run.sh", 0o100_755, b"#!/bin/sh\n");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "link", "z.txt").expect("link");
        });
        let l = listing(&gz);
        assert_eq!(
            l,
            json!([
                {"path": "bin/run.sh", "kind": "file", "mode": "755", "text": "#!/bin/sh\n"},
                {"path": "link", "kind": "symlink", "mode": "777", "link": "z.txt"},
                {"path": "z.txt", "kind": "file", "mode": "644", "text": "zed\n"}
            ])
        );
    }

    #[test]
    fn garbage_is_an_error_entry_not_a_panic() {
        let l = listing(b"not a tarball");
        assert!(l.to_string().contains("error"), "{l}");
    }
}
