use super::*;
use std::time::UNIX_EPOCH;

fn storage(root: &Path, adv: &str) -> Storage {
    Storage::new(StorageOptions::new(root, adv)).unwrap()
}

#[test]
fn new_artifact_paths_and_urls_follow_flux() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storage(tmp.path(), "source-controller.flux-system.svc.cluster.local.");
    let a = s.new_artifact("GitRepository", "flux-system", "app", "main@sha1:abc", "abc.tar.gz").unwrap();
    assert_eq!(a.path, "gitrepository/flux-system/app/abc.tar.gz");
    assert_eq!(
        a.url,
        "http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/app/abc.tar.gz"
    );
    assert_eq!(a.revision, "main@sha1:abc");
    assert!(a.digest.is_empty() && a.size.is_none());
    let s = storage(tmp.path(), "https://artifacts.example");
    let a = s.new_artifact("OCIRepository", "ns", "n", "r", "f.tgz").unwrap();
    assert_eq!(a.url, "https://artifacts.example/ocirepository/ns/n/f.tgz");
}

#[test]
fn no_name_can_escape_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storage(tmp.path(), "h");
    for (kind, ns, name, file) in [
        ("GitRepository", "..", "x", "f"),
        ("GitRepository", "ns", "../..", "f"),
        ("GitRepository", "ns", "a/b", "f"),
        ("GitRepository", "ns", "n", ".."),
        ("GitRepository", "ns", "n", "a/../../f"),
        ("", "ns", "n", "f"),
        ("GitRepository", "ns", "n\0", "f"),
    ] {
        assert!(
            matches!(s.new_artifact(kind, ns, name, "r", file), Err(StorageError::InvalidPath(_))),
            "{ns}/{name}/{file}"
        );
    }
    for path in ["", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\..\\b"] {
        let a = Artifact { path: path.into(), ..Artifact::default() };
        assert!(matches!(s.local_path(&a), Err(StorageError::InvalidPath(_))), "{path:?}");
    }
    // A symlink planted in the tree is refused, not followed.
    std::os::unix::fs::symlink("/etc", tmp.path().join("evil")).unwrap();
    let a = Artifact { path: "evil/passwd".into(), ..Artifact::default() };
    assert!(matches!(s.local_path(&a), Err(StorageError::InvalidPath(_))));
    assert!(!s.exists(&a));
}

#[test]
fn invalid_root_is_refused_with_fluxs_text() {
    let err = Storage::new(StorageOptions::new("/nonexistent/eddy", "h")).unwrap_err();
    assert_eq!(err.to_string(), "invalid dir path: /nonexistent/eddy");
}

#[test]
fn rfc3339_formats_utc_seconds() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_999)), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)), "2099-12-31T23:59:59Z");
    assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
}

#[test]
fn copy_from_records_digest_size_and_time_and_verify_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut options = StorageOptions::new(tmp.path(), "h");
    options.digest_algorithm = DigestAlgorithm::Sha512;
    let s = Storage::new(options).unwrap();
    let mut a = s.new_artifact("Bucket", "ns", "b", "rev", "index.tar.gz").unwrap();
    s.copy_from(&mut a, &mut &b"hello"[..]).unwrap();
    assert!(a.digest.starts_with("sha512:"));
    assert_eq!(a.size, Some(5));
    assert_eq!(a.last_update_time.len(), "2026-01-01T00:00:00Z".len());
    assert!(s.exists(&a));
    s.verify(&a).unwrap();

    let mut wrong = a.clone();
    wrong.digest = DigestAlgorithm::Sha256.digest_reader(&b"other"[..]).unwrap().to_string();
    match s.verify(&wrong) {
        Err(VerifyError::Mismatch { expected, actual }) => {
            assert_eq!(expected.to_string(), wrong.digest);
            assert_eq!(actual, DigestAlgorithm::Sha256.digest_reader(&b"hello"[..]).unwrap(), "re-hashed with sha256");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let mut none = a.clone();
    none.digest.clear();
    assert!(matches!(s.verify(&none), Err(VerifyError::NoDigest)));
    let mut bad = a.clone();
    bad.digest = "sha256:xyz".into();
    assert!(matches!(s.verify(&bad), Err(VerifyError::InvalidDigest { .. })));
    s.remove(&a).unwrap();
    assert!(matches!(s.verify(&a), Err(VerifyError::Missing(_))));
}

#[test]
fn remove_all_deletes_the_object_directory_only() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storage(tmp.path(), "h");
    let mut a = s.new_artifact("GitRepository", "ns", "a", "r", "1.tar.gz").unwrap();
    let mut b = s.new_artifact("GitRepository", "ns", "b", "r", "1.tar.gz").unwrap();
    s.copy_from(&mut a, &mut &b"a"[..]).unwrap();
    s.copy_from(&mut b, &mut &b"b"[..]).unwrap();
    let removed = s.remove_all("GitRepository", "ns", "a").unwrap();
    assert_eq!(removed, Some(s.root().join("gitrepository/ns/a")));
    assert!(!s.exists(&a) && s.exists(&b));
    assert_eq!(s.remove_all("GitRepository", "ns", "a").unwrap(), None);
}

#[tokio::test]
async fn lock_is_per_artifact_and_shared_by_clones() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storage(tmp.path(), "h");
    let a = s.new_artifact("GitRepository", "ns", "a", "r", "1.tar.gz").unwrap();
    let b = s.new_artifact("GitRepository", "ns", "a", "r", "2.tar.gz").unwrap();
    let held = s.lock(&a).await.unwrap();
    assert!(s.clone().try_lock(&a).unwrap().is_none());
    assert!(s.try_lock(&b).unwrap().is_some());
    drop(held);
    assert!(s.try_lock(&a).unwrap().is_some());
}
