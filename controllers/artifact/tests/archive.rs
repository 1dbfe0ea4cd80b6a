//! Archives of a real tree, read back with the `tar` crate and the system `tar`, and compared
//! byte for byte with Go's `archive/tar` writing the same tree the way Flux does
//! (`hack/flux-archive`).

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use eddy_artifact::archive::{ArchiveFilter, write_tar, write_tar_gz};
use eddy_artifact::sourceignore::{Matcher, Pattern, default_matcher};

const LONG_DIR: &str = "a-directory-with-a-rather-long-name-to-push-the-path-past-one-hundred-bytes";

fn write(root: &Path, rel: &str, content: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A tree with directories, executables, symlinks in and out of the tree, an empty directory,
/// a FIFO, long and non-ASCII names, and files under directories a filter ignores.
fn tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    write(r, "apps/deploy.yaml", b"kind: Deployment\n", 0o644);
    write(r, "apps/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write(r, "apps/group-exec", b"x", 0o610);
    write(r, "z.yaml", &vec![b'z'; 1500], 0o664);
    write(r, ".git/HEAD", b"ref: refs/heads/main\n", 0o644);
    write(r, ".git/objects/ab/cdef", b"blob", 0o444);
    write(r, "config/keep.yaml", b"keep", 0o600);
    write(r, "config/drop.yaml", b"drop", 0o600);
    write(r, "ünïcode.yaml", b"u", 0o644);
    write(r, &format!("{LONG_DIR}/{LONG_DIR}/file.yaml"), b"long", 0o644);
    write(r, &format!("{}.yaml", "n".repeat(120)), b"single long name", 0o644);
    fs::create_dir_all(r.join("empty/nested")).unwrap();
    symlink("apps/deploy.yaml", r.join("link-in")).unwrap();
    symlink("/etc/passwd", r.join("link-out")).unwrap();
    symlink("apps", r.join("dir-link")).unwrap();
    let fifo = r.join("apps/fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    tmp
}

fn tar_gz(dir: &Path, filter: Option<&dyn ArchiveFilter>) -> Vec<u8> {
    write_tar_gz(dir, filter, Vec::new()).unwrap()
}

#[derive(Debug, PartialEq)]
struct Entry {
    name: String,
    kind: char,
    mode: u32,
    size: u64,
}

fn read_back(archive: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.uid().unwrap(), 0);
        assert_eq!(h.gid().unwrap(), 0);
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        let kind = if h.entry_type().is_dir() {
            'd'
        } else if h.entry_type().is_file() {
            'f'
        } else {
            '?'
        };
        let (mode, size) = (h.mode().unwrap(), entry.size());
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content.len() as u64, size);
        out.push(Entry { name, kind, mode, size });
    }
    out
}

fn e(name: &str, kind: char, mode: u32, size: u64) -> Entry {
    Entry { name: name.to_owned(), kind, mode, size }
}

fn expected_unfiltered() -> Vec<Entry> {
    let long1 = LONG_DIR.to_owned();
    let long2 = format!("{LONG_DIR}/{LONG_DIR}");
    vec![
        e(".", 'd', 0o750, 0),
        e(".git", 'd', 0o750, 0),
        e(".git/HEAD", 'f', 0o600, 21),
        e(".git/objects", 'd', 0o750, 0),
        e(".git/objects/ab", 'd', 0o750, 0),
        e(".git/objects/ab/cdef", 'f', 0o600, 4),
        e(&long1, 'd', 0o750, 0),
        e(&long2, 'd', 0o750, 0),
        e(&format!("{long2}/file.yaml"), 'f', 0o600, 4),
        e("apps", 'd', 0o750, 0),
        e("apps/deploy.yaml", 'f', 0o600, 17),
        e("apps/group-exec", 'f', 0o700, 1),
        e("apps/run.sh", 'f', 0o700, 18),
        e("config", 'd', 0o750, 0),
        e("config/drop.yaml", 'f', 0o600, 4),
        e("config/keep.yaml", 'f', 0o600, 4),
        e("empty", 'd', 0o750, 0),
        e("empty/nested", 'd', 0o750, 0),
        e(&format!("{}.yaml", "n".repeat(120)), 'f', 0o600, 16),
        e("z.yaml", 'f', 0o600, 1500),
        e("ünïcode.yaml", 'f', 0o600, 1),
    ]
}

#[test]
fn archive_lists_dirs_and_files_in_walk_order_with_flux_headers() {
    let tree = tree();
    let archive = tar_gz(tree.path(), None);
    assert_eq!(read_back(&archive), expected_unfiltered());
}

#[test]
fn system_tar_reads_the_same_listing() {
    let tree = tree();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.tar.gz");
    fs::write(&file, tar_gz(tree.path(), None)).unwrap();
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(&file)
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = listing.lines().map(|l| l.split_whitespace().take(5).collect()).collect();
    let expected = expected_unfiltered();
    assert_eq!(lines.len(), expected.len(), "{listing}");
    for (fields, want) in lines.iter().zip(&expected) {
        let perms = match (want.kind, want.mode) {
            ('d', 0o750) => "drwxr-x---",
            ('f', 0o700) => "-rwx------",
            ('f', 0o600) => "-rw-------",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(fields[0], perms, "{fields:?}");
        assert_eq!(fields[1], "0/0");
        assert_eq!(fields[2], want.size.to_string());
        assert_eq!(fields[3], "1970-01-01");
        assert_eq!(fields[4], "00:00");
    }
    let names: Vec<&str> = listing.lines().map(|l| l.split_once(" 00:00 ").unwrap().1).collect();
    let want: Vec<&str> = expected.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, want);
}

#[test]
fn same_tree_same_bytes_whatever_the_times_and_owners() {
    let tree = tree();
    let first = tar_gz(tree.path(), None);
    assert_eq!(first, tar_gz(tree.path(), None));
    let old = SystemTime::now() - Duration::from_secs(86_400 * 400);
    for rel in ["apps/deploy.yaml", "z.yaml", "apps"] {
        let f = fs::File::open(tree.path().join(rel)).unwrap();
        f.set_modified(old).unwrap();
    }
    std::os::unix::fs::chown(tree.path().join("z.yaml"), Some(4242), Some(4242)).unwrap();
    assert_eq!(first, tar_gz(tree.path(), None), "times and owners do not reach the archive");
}

fn go_oracle(dir: &Path, gzip: bool) -> Vec<u8> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let go = ["go", "/usr/local/go/bin/go"]
        .into_iter()
        .map(PathBuf::from)
        .find(|g| Command::new(g).arg("version").output().is_ok_and(|o| o.status.success()))
        .expect("Go is needed for the reference archive (hack/flux-archive)");
    let mut cmd = Command::new(go);
    cmd.arg("-C").arg(workspace.join("hack/flux-archive")).arg("run").arg(".");
    if gzip {
        cmd.arg("-gzip");
    }
    let out = cmd.arg(dir).env("GOTOOLCHAIN", "local").env("GOFLAGS", "-mod=mod").output().unwrap();
    assert!(out.status.success(), "flux-archive: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn tar_stream_is_byte_for_byte_gos() {
    let tree = tree();
    let ours = write_tar(tree.path(), None, Vec::new()).unwrap();
    let theirs = go_oracle(tree.path(), false);
    assert_eq!(ours.len(), theirs.len());
    if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        panic!("first difference at byte {i} (block {}, offset {})", i / 512, i % 512);
    }
    // The gzip layer: the same header (no name, zero time, unknown OS), and it decompresses to
    // the same stream.
    let gz = tar_gz(tree.path(), None);
    assert_eq!(gz[..10], go_oracle(tree.path(), true)[..10]);
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut inflated).unwrap();
    assert_eq!(inflated, theirs);
}

fn names(archive: &[u8]) -> Vec<String> {
    read_back(archive).into_iter().map(|e| e.name).collect()
}

#[test]
fn filters_skip_entries_but_negations_reach_into_excluded_directories() {
    let tree = tree();
    let root: &[&str] = &[];
    let patterns = vec![Pattern::parse(b"config/", root), Pattern::parse(b"!config/keep.yaml", root)];
    let matcher = default_matcher(patterns, root);
    let got = names(&tar_gz(tree.path(), Some(&matcher)));
    assert!(got.contains(&"config/keep.yaml".to_owned()), "re-included below an excluded dir: {got:?}");
    assert!(!got.contains(&"config".to_owned()) && !got.contains(&"config/drop.yaml".to_owned()));
    assert!(!got.iter().any(|n| n.starts_with(".git")), "{got:?}");
    assert!(!got.contains(&"apps/deploy.yaml".to_owned()) || got.contains(&"apps".to_owned()));

    // Without negations an excluded directory is pruned: same result as walking it.
    let plain = Matcher::new(vec![Pattern::parse(b".git/", root), Pattern::parse(b"*.sh", root)]);
    assert!(plain.prunes_excluded_dirs());
    let got = names(&tar_gz(tree.path(), Some(&plain)));
    assert_eq!(got.first().map(String::as_str), Some("."));
    assert!(!got.iter().any(|n| n.starts_with(".git") || n.ends_with(".sh")), "{got:?}");
    assert!(got.contains(&"apps/deploy.yaml".to_owned()));
}

#[test]
fn invalid_dir_is_refused_with_fluxs_message() {
    let err = write_tar_gz(Path::new("/nonexistent/dir"), None, Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "invalid dir path: /nonexistent/dir");
}
