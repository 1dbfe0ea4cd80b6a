//! The storage against the real file system: digests checked with coreutils, verification of
//! a corrupted file, retention on files with set modification times, crash leftovers,
//! extraction of hostile tarballs, and includes.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use eddy_api::meta::Artifact;
use eddy_artifact::archive::{ExtractError, ExtractLimits, extract};
use eddy_artifact::digest::DigestAlgorithm;
use eddy_artifact::paths::secure_join;
use eddy_artifact::sourceignore::gitrepository_matcher;
use eddy_artifact::storage::{Storage, StorageError, StorageOptions, VerifyError};

fn storage_with(root: &Path, algorithm: DigestAlgorithm) -> Storage {
    let mut options = StorageOptions::new(root, "source-controller.flux-system.svc.cluster.local.");
    options.digest_algorithm = algorithm;
    Storage::new(options).unwrap()
}

fn source_tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("deploy/base")).unwrap();
    fs::create_dir_all(r.join(".git")).unwrap();
    fs::write(r.join("deploy/base/app.yaml"), "kind: ConfigMap\n").unwrap();
    fs::write(r.join("deploy/kustomization.yaml"), "resources: [base]\n").unwrap();
    fs::write(r.join(".git/HEAD"), "ref\n").unwrap();
    fs::write(r.join("logo.png"), "png").unwrap();
    tmp
}

fn coreutils_digest(tool: &str, file: &Path) -> String {
    let out = Command::new(tool).arg(file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

#[test]
fn archive_digest_matches_coreutils_for_every_algorithm() {
    let tree = source_tree();
    for (algorithm, tool) in [
        (DigestAlgorithm::Sha256, Some("sha256sum")),
        (DigestAlgorithm::Sha384, Some("sha384sum")),
        (DigestAlgorithm::Sha512, Some("sha512sum")),
        (DigestAlgorithm::Blake3, None),
    ] {
        let root = tempfile::tempdir().unwrap();
        let s = storage_with(root.path(), algorithm);
        let mut a = s.new_artifact("GitRepository", "flux-system", "app", "main@sha1:0123", "0123.tar.gz").unwrap();
        let matcher = gitrepository_matcher(tree.path(), None).unwrap();
        s.archive(&mut a, tree.path(), Some(&matcher)).unwrap();
        let file = s.local_path(&a).unwrap();
        assert_eq!(file, s.root().join("gitrepository/flux-system/app/0123.tar.gz"));
        let bytes = fs::read(&file).unwrap();
        assert_eq!(a.size, Some(bytes.len() as i64));
        let hex = match tool {
            Some(tool) => coreutils_digest(tool, &file),
            None => blake3::hash(&bytes).to_hex().to_string(),
        };
        assert_eq!(a.digest, format!("{}:{hex}", algorithm.name()));
        assert!(a.last_update_time.ends_with('Z') && a.last_update_time.len() == 20, "{}", a.last_update_time);
        s.verify(&a).unwrap();
        // The default filter left out .git and the image.
        let mut names = Vec::new();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for entry in tar.entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, [".", "deploy", "deploy/base", "deploy/base/app.yaml", "deploy/kustomization.yaml"]);
    }
}

#[test]
fn verify_detects_a_flipped_byte() {
    let tree = source_tree();
    let root = tempfile::tempdir().unwrap();
    let s = storage_with(root.path(), DigestAlgorithm::Sha256);
    let mut a = s.new_artifact("GitRepository", "ns", "app", "r", "c.tar.gz").unwrap();
    s.archive(&mut a, tree.path(), None).unwrap();
    s.verify(&a).unwrap();
    let path = s.local_path(&a).unwrap();
    let mut f = fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(20)).unwrap();
    let mut b = [0u8];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(20)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
    drop(f);
    match s.verify(&a) {
        Err(VerifyError::Mismatch { expected, actual }) => {
            assert_eq!(expected.to_string(), a.digest);
            assert_eq!(actual.to_string(), format!("sha256:{}", coreutils_digest("sha256sum", &path)));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn verify_uses_the_algorithm_of_the_recorded_digest() {
    let tree = source_tree();
    let root = tempfile::tempdir().unwrap();
    let mut a = storage_with(root.path(), DigestAlgorithm::Blake3)
        .new_artifact("GitRepository", "ns", "app", "r", "c.tar.gz")
        .unwrap();
    storage_with(root.path(), DigestAlgorithm::Blake3).archive(&mut a, tree.path(), None).unwrap();
    // The flag changed since: the stored blake3 digest still verifies.
    storage_with(root.path(), DigestAlgorithm::Sha512).verify(&a).unwrap();
}

/// Sets the modification time of `rel` in the object directory of `a` to `age` ago.
fn aged(s: &Storage, a: &Artifact, name: &str, now: SystemTime, age: u64) -> std::path::PathBuf {
    let dir = s.local_path(a).unwrap().parent().unwrap().to_path_buf();
    let path = dir.join(name);
    File::create(&path).unwrap().set_modified(now - Duration::from_secs(age)).unwrap();
    path
}

#[test]
fn garbage_collection_applies_ttl_then_records() {
    let root = tempfile::tempdir().unwrap();
    let mut options = StorageOptions::new(root.path(), "h");
    options.retention_ttl = Duration::from_secs(60);
    options.retention_records = 2;
    let s = Storage::new(options).unwrap();
    let now = SystemTime::now();
    let mut current = s.new_artifact("GitRepository", "ns", "app", "r", "cur.tar.gz").unwrap();
    s.copy_from(&mut current, &mut &b"current"[..]).unwrap();
    let expired = aged(&s, &current, "expired.tar.gz", now, 3600);
    let young_old = aged(&s, &current, "young-old.tar.gz", now, 30);
    let young_new = aged(&s, &current, "young-new.tar.gz", now, 10);
    // Another object's files are never touched.
    let mut other = s.new_artifact("GitRepository", "ns", "other", "r", "x.tar.gz").unwrap();
    s.copy_from(&mut other, &mut &b"x"[..]).unwrap();
    aged(&s, &other, "ancient.tar.gz", now, 7200);

    let mut deleted = s.garbage_collect(&current, now).unwrap();
    deleted.sort();
    // TTL removes `expired`; then the oldest young file goes, leaving the current one and the
    // newest (records = 2, the current file counted). Upstream's double count stops here.
    assert_eq!(deleted, vec![expired, young_old]);
    assert!(young_new.exists() && s.exists(&current));
    assert!(s.local_path(&other).unwrap().parent().unwrap().join("ancient.tar.gz").exists());
    // A second collection finds nothing more.
    assert!(s.garbage_collect(&current, now).unwrap().is_empty());
    // Later, past the TTL, the young one goes too.
    let later = now + Duration::from_secs(120);
    assert_eq!(s.garbage_collect(&current, later).unwrap(), vec![young_new]);
}

#[test]
fn crash_leftovers_are_collected_and_writes_are_atomic() {
    let root = tempfile::tempdir().unwrap();
    let s = storage_with(root.path(), DigestAlgorithm::Sha256);
    let now = SystemTime::now();
    let mut a = s.new_artifact("OCIRepository", "ns", "app", "r", "a.tar.gz").unwrap();
    s.copy_from(&mut a, &mut &b"v1"[..]).unwrap();
    // What a kill -9 between create and rename leaves behind.
    let stale = aged(&s, &a, ".eddy-tmp-a.tar.gz.deadbeef", now, 600);
    let fresh = aged(&s, &a, ".eddy-tmp-a.tar.gz.feedface", now, 1);
    assert_eq!(s.garbage_collect(&a, now).unwrap(), vec![stale]);
    assert!(fresh.exists(), "a temporary file younger than the TTL may be in use");

    // A failing write leaves neither a temporary file nor a changed artifact.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("source broke"));
            }
            self.0 -= 1;
            buf[0] = b'x';
            Ok(1)
        }
    }
    let before = a.clone();
    let err = s.copy_from(&mut a, &mut Failing(3)).unwrap_err();
    assert!(matches!(err, StorageError::Io { op: "write", .. }), "{err}");
    assert_eq!(a, before);
    assert_eq!(fs::read(s.local_path(&a).unwrap()).unwrap(), b"v1");
    let dir = s.local_path(&a).unwrap().parent().unwrap().to_path_buf();
    let mut left: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, [".eddy-tmp-a.tar.gz.feedface", "a.tar.gz"]);
}

#[test]
fn archive_then_extract_round_trips_and_include_copies_a_sub_path() {
    let tree = source_tree();
    let root = tempfile::tempdir().unwrap();
    let s = storage_with(root.path(), DigestAlgorithm::Sha256);
    let mut a = s.new_artifact("GitRepository", "ns", "lib", "r", "c.tar.gz").unwrap();
    s.archive(&mut a, tree.path(), None).unwrap();

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("x");
    let summary = extract(File::open(s.local_path(&a).unwrap()).unwrap(), &dest, &ExtractLimits::default()).unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(fs::read_to_string(dest.join("deploy/base/app.yaml")).unwrap(), "kind: ConfigMap\n");
    let meta = fs::metadata(dest.join("deploy/base/app.yaml")).unwrap();
    assert_eq!(meta.modified().unwrap(), SystemTime::UNIX_EPOCH, "Flux's untar sets the header time");

    // spec.include: fromPath deploy -> toPath vendor/lib in another checkout.
    let checkout = source_tree();
    let to = secure_join(checkout.path(), "vendor/lib").unwrap();
    s.copy_to_path(&a, "deploy", &to).unwrap();
    assert_eq!(fs::read_to_string(to.join("base/app.yaml")).unwrap(), "kind: ConfigMap\n");
    assert!(to.join("kustomization.yaml").exists());
    let leftovers: Vec<_> =
        fs::read_dir(checkout.path().join("vendor")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["lib"], "the scratch directory is gone");
    // `..` in fromPath cannot leave the artifact: it resolves to the artifact's root.
    let to_root = secure_join(checkout.path(), "whole").unwrap();
    s.copy_to_path(&a, "../../..", &to_root).unwrap();
    assert!(to_root.join("deploy/kustomization.yaml").exists());
    // A missing fromPath and an existing destination directory are errors, as in Flux.
    let err = s.copy_to_path(&a, "nope", &checkout.path().join("n")).unwrap_err();
    assert!(err.to_string().contains("cannot stat 'nope'"), "{err}");
    let err = s.copy_to_path(&a, "deploy", &checkout.path().join("deploy")).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

/// A tar.gz with the given raw entries: (name, type flag, content).
fn hostile(entries: &[(&[u8], u8, &[u8])], link: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (name, kind, content) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = *kind;
        h[157..157 + link.len()].copy_from_slice(link);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        raw.extend_from_slice(&h);
        raw.extend_from_slice(content);
        raw.resize(raw.len().div_ceil(512) * 512, 0);
    }
    raw.resize(raw.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap()
}

#[test]
fn extraction_refuses_escapes_and_skips_links_and_devices() {
    let outside = tempfile::tempdir().unwrap();
    for name in [&b"../escape"[..], b"a/../../escape", b"/abs/escape", b"a\\..\\b", b".."] {
        let dest = tempfile::tempdir().unwrap();
        let err =
            extract(&hostile(&[(name, b'0', b"x")], b"")[..], dest.path(), &ExtractLimits::default()).unwrap_err();
        assert!(matches!(err, ExtractError::InvalidName { .. }), "{}: {err}", String::from_utf8_lossy(name));
    }
    let dest = tempfile::tempdir().unwrap();
    let target = outside.path().join("owned");
    let link_target = target.to_str().unwrap().as_bytes().to_vec();
    let archive = hostile(
        &[
            (b"link", b'2', b""),
            (b"hard", b'1', b""),
            (b"dev", b'3', b""),
            (b"fifo", b'6', b""),
            (b"ok.yaml", b'0', b"fine"),
        ],
        &link_target,
    );
    let summary = extract(&archive[..], dest.path(), &ExtractLimits::default()).unwrap();
    assert_eq!(summary.skipped, ["link", "hard", "dev", "fifo"]);
    assert_eq!(summary.files, 1);
    assert!(!target.exists());
    let mut left: Vec<String> =
        fs::read_dir(dest.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["ok.yaml"]);

    // A symlink already in the destination is never written through.
    let dest = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dest.path().join("sub")).unwrap();
    let err =
        extract(&hostile(&[(b"sub/x", b'0', b"x")], b"")[..], dest.path(), &ExtractLimits::default()).unwrap_err();
    assert!(matches!(err, ExtractError::UnsafePath(_)), "{err}");
    std::os::unix::fs::symlink(outside.path().join("f"), dest.path().join("f")).unwrap();
    extract(&hostile(&[(b"f", b'0', b"new")], b"")[..], dest.path(), &ExtractLimits::default()).unwrap();
    assert!(!outside.path().join("f").exists(), "the symlink was replaced, not followed");
    assert_eq!(fs::read(dest.path().join("f")).unwrap(), b"new");
}

#[test]
fn extraction_enforces_the_size_limit() {
    let big = vec![b'x'; 4096];
    let archive = hostile(&[(b"a", b'0', &big[..2048]), (b"b", b'0', &big)], b"");
    let dest = tempfile::tempdir().unwrap();
    let err = extract(&archive[..], dest.path(), &ExtractLimits { max_size: Some(4096) }).unwrap_err();
    match &err {
        ExtractError::TooLarge { name, max } => assert_eq!((name.as_str(), *max), ("b", 4096)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(err.to_string(), "tar \"b\" is bigger than max archive size of 4096 bytes");
    assert!(!dest.path().join("b").exists(), "the entry past the limit is not written");
    let dest = tempfile::tempdir().unwrap();
    extract(&archive[..], dest.path(), &ExtractLimits { max_size: Some(6144) }).unwrap();
    extract(&archive[..], tempfile::tempdir().unwrap().path(), &ExtractLimits::UNLIMITED).unwrap();
    let err = extract(&b"not gzip"[..], dest.path(), &ExtractLimits::default()).unwrap_err();
    assert!(matches!(err, ExtractError::Gzip(_)), "{err}");
    // A truncated stream is an error, not a short file.
    let err = extract(&archive[..archive.len() / 2], tempfile::tempdir().unwrap().path(), &ExtractLimits::UNLIMITED);
    assert!(err.is_err());
}
