//! Submodules, signed objects, time limits and secret hygiene.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Fixture, files, git};
use eddy_git::{AuthOptions, CheckoutStrategy, CloneOptions, ErrorKind, GitError, clone, ls_remote};

fn auth(url: &str) -> AuthOptions {
    AuthOptions::anonymous(url).unwrap()
}

#[test]
fn submodules_are_checked_out_at_their_recorded_commits_recursively() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let leaf = Fixture::in_dir(tempfile::tempdir_in(&root).unwrap(), "leaf");
    let leaf_c = leaf.commit(&[("leaf.txt", "leaf v1\n")], "leaf 1");
    leaf.push();
    // mid (in the same directory as the superproject, so a relative URL works) has leaf by an
    // absolute URL.
    let shared = tempfile::tempdir_in(&root).unwrap();
    let mid = Fixture::in_dir(tempfile::tempdir_in(shared.path()).unwrap(), "mid");
    let mid_bare_parent = mid.bare.parent().unwrap().to_path_buf();
    git(&mid.work, &["submodule", "add", "-q", &leaf.url(), "libs/leaf"]);
    let mid_c = mid.commit(&[("mid.txt", "mid\n")], "mid with leaf");
    mid.push();
    // The superproject lives next to mid.git and uses a relative URL.
    let sup = Fixture::in_dir(tempfile::tempdir_in(&mid_bare_parent).unwrap(), "super");
    let sup_bare_in_parent = mid_bare_parent.join("super.git");
    std::fs::rename(&sup.bare, &sup_bare_in_parent).unwrap();
    git(&sup.work, &["remote", "set-url", "origin", sup_bare_in_parent.to_str().unwrap()]);
    git(&sup.work, &["submodule", "add", "-q", mid.bare.to_str().unwrap(), "vendor/mid"]);
    git(&sup.work, &["config", "-f", ".gitmodules", "submodule.vendor/mid.url", "../mid.git"]);
    sup.commit(&[("app.txt", "app\n")], "super with mid");
    git(&sup.work, &["push", "-q", "origin", "main"]);
    // Move the submodules on after recording: the clone must use the recorded commits.
    leaf.commit(&[("leaf.txt", "leaf v2\n")], "leaf 2");
    leaf.push();

    let url = format!("file://{}", sup_bare_in_parent.display());
    let dest = tempfile::tempdir().unwrap();
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
    opts.recurse_submodules = true;
    clone(dest.path(), &opts, &auth(&url)).unwrap();
    assert_eq!(
        files(dest.path()),
        [".gitmodules", "app.txt", "vendor/mid/.gitmodules", "vendor/mid/libs/leaf/leaf.txt", "vendor/mid/mid.txt"]
    );
    assert_eq!(std::fs::read_to_string(dest.path().join("vendor/mid/libs/leaf/leaf.txt")).unwrap(), "leaf v1\n");
    assert_eq!(git(&dest.path().join("vendor/mid"), &["rev-parse", "HEAD"]), mid_c);
    assert_eq!(git(&dest.path().join("vendor/mid/libs/leaf"), &["rev-parse", "HEAD"]), leaf_c);
    // Fetched by hash at depth 1: leaf's newer commit on its branch did not come along.
    assert_eq!(git(&dest.path().join("vendor/mid/libs/leaf"), &["rev-list", "--all", "--count"]), "1");

    // Without recursion the gitlink is an empty directory.
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &CloneOptions::new(&url, CheckoutStrategy::Branch("main".into())), &auth(&url)).unwrap();
    assert_eq!(files(dest.path()), [".gitmodules", "app.txt"]);
    assert!(dest.path().join("vendor/mid").is_dir());
}

#[test]
fn relative_submodule_urls_resolve_as_git_submodule_init() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("w");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    let cases = [
        ("https://host/org/parent.git", "../child.git"),
        ("https://host/org/parent.git", "./child"),
        ("https://host/org/parent.git/", "../../x/y.git"),
        ("ssh://git@host:2222/org/parent", "../child"),
        ("git@host:org/parent.git", "../child.git"),
        ("file:///srv/git/parent.git", "../a/b/"),
    ];
    for (parent, url) in cases {
        let _ = std::process::Command::new("git")
            .args(["-C", work.to_str().unwrap(), "remote", "remove", "origin"])
            .output();
        git(&work, &["remote", "add", "origin", parent]);
        std::fs::write(work.join(".gitmodules"), format!("[submodule \"s\"]\n\tpath = s\n\turl = {url}\n")).unwrap();
        git(&work, &["update-index", "--add", "--cacheinfo", &format!("160000,{},s", "1".repeat(40))]);
        git(&work, &["add", ".gitmodules"]);
        let _ = std::process::Command::new("git")
            .args(["-C", work.to_str().unwrap(), "config", "--unset", "submodule.s.url"])
            .output();
        git(&work, &["submodule", "init", "-q"]);
        let expected = git(&work, &["config", "submodule.s.url"]);
        assert_eq!(eddy_git::submodule::resolve_url(parent, url).unwrap(), expected, "{parent} + {url}");
    }
}

#[test]
fn signed_commits_and_tags_expose_the_exact_signed_bytes() {
    let f = Fixture::new("signed");
    let key = f.tmp.path().join("signing_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let sign = ["-c", "gpg.format=ssh", "-c"];
    let signing_key = format!("user.signingkey={}", key.display());
    std::fs::write(f.work.join("a.txt"), "a\n").unwrap();
    f.git(&["add", "-A"]);
    let mut args: Vec<&str> = sign.to_vec();
    args.extend([signing_key.as_str(), "commit", "-q", "-S", "-m", "signed commit"]);
    f.git(&args);
    let mut args: Vec<&str> = sign.to_vec();
    args.extend([signing_key.as_str(), "tag", "-s", "v1.0.0", "-m", "signed tag"]);
    f.git(&args);
    f.push();

    let dest = tempfile::tempdir().unwrap();
    let out = clone(dest.path(), &CloneOptions::new(f.url(), CheckoutStrategy::Tag("v1.0.0".into())), &auth(&f.url()))
        .unwrap();
    let commit = out.commit().unwrap();
    let tag = commit.referencing_tag.as_ref().unwrap();
    let allowed = f.tmp.path().join("allowed_signers");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(&allowed, format!("signer {public}")).unwrap();
    for (signature, payload) in [
        (commit.signature.as_deref().unwrap(), &commit.signed_payload),
        (tag.signature.as_deref().unwrap(), &tag.signed_payload),
    ] {
        assert!(signature.starts_with("-----BEGIN SSH SIGNATURE-----"), "{signature}");
        let sig_file = f.tmp.path().join("sig");
        std::fs::write(&sig_file, signature).unwrap();
        let mut child = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "git", "-I", "signer", "-f"])
            .arg(&allowed)
            .arg("-s")
            .arg(&sig_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(payload).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "ssh-keygen -Y verify: {}", String::from_utf8_lossy(&out.stderr));
        // One byte changed: the signature no longer verifies (the check can fail).
        let mut tampered = payload.clone();
        tampered[0] ^= 1;
        let mut child = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "git", "-I", "signer", "-f"])
            .arg(&allowed)
            .arg("-s")
            .arg(&sig_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&tampered).unwrap();
        assert!(!child.wait().unwrap().success());
    }
    assert_eq!(tag.message, "signed tag\n");
    assert!(!String::from_utf8_lossy(&commit.signed_payload).contains("gpgsig"));
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok((c, _)) = listener.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let url = format!("http://127.0.0.1:{port}/repo.git");
    let dest = tempfile::tempdir().unwrap();
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
    opts.timeout = Duration::from_secs(2);
    let start = Instant::now();
    let e = clone(dest.path(), &opts, &auth(&url)).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let start = Instant::now();
    let e = ls_remote(&url, &auth(&url), Duration::from_secs(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(6));
    drop(held);
}

#[test]
fn credentials_never_appear_in_errors() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data: BTreeMap<String, Vec<u8>> =
        [("username".to_owned(), b"alice".to_vec()), ("password".to_owned(), b"pa55-w0rd-xyz".to_vec())].into();
    for url in
        [format!("http://alice:url-secret-123@127.0.0.1:{port}/repo.git"), format!("https://127.0.0.1:{port}/repo.git")]
    {
        let auth = AuthOptions::from_secret(&url, &data).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
        opts.timeout = Duration::from_secs(10);
        let e = clone(dest.path(), &opts, &auth).unwrap_err();
        let shown = format!("{e} {e:?} {auth:?}");
        for secret in ["pa55-w0rd-xyz", "url-secret-123"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    }
    let token: BTreeMap<String, Vec<u8>> = [("bearerToken".to_owned(), b"tok-en-456".to_vec())].into();
    let url = format!("http://user:pw-in-url-789@127.0.0.1:{port}/r.git");
    let auth = AuthOptions::from_secret(&url, &token).unwrap();
    let e = clone(
        tempfile::tempdir().unwrap().path(),
        &CloneOptions::new(&url, CheckoutStrategy::Branch("m".into())),
        &auth,
    )
    .unwrap_err();
    assert!(matches!(e, GitError::Auth(eddy_git::AuthError::BasicAndBearer)), "{e:?}");
    let shown = format!("{e} {e:?} {auth:?}");
    assert!(!shown.contains("tok-en-456") && !shown.contains("pw-in-url-789"), "{shown}");
}
