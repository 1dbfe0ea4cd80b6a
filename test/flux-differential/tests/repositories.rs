//! Every scenario's repositories build (history, tags, signatures, submodules, sops-encrypted
//! files) without a cluster: what the differential pushes before it creates anything.

use std::path::PathBuf;
use std::process::Command;

use eddy_flux_differential::fixtures::{Context, Fixtures};
use eddy_flux_differential::run::build_repositories;
use eddy_flux_differential::scenarios;
use eddy_test_git::HttpGitServer;

/// The real sops, built by `hack/build-sops` (the test fails, never skips, without it).
fn sops() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-sops");
    let out = Command::new(&script).output().expect("run hack/build-sops");
    assert!(out.status.success(), "hack/build-sops failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn every_scenario_repository_builds_and_encrypts_and_labels_its_commits() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = HttpGitServer::start(root.path()).expect("git server");
    let fixtures = Fixtures::new(root.path(), server.url(), sops()).expect("fixtures");
    for s in scenarios::all() {
        let mut cx = Context { ns: format!("{}-t", s.name), run: "t".into(), repo: s.name.into(), commits: Vec::new() };
        let repo =
            build_repositories(&fixtures, root.path(), &s, &mut cx).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let bare = root.path().join(format!("{}.git", s.name));
        assert!(cx.commits.iter().any(|(l, _)| l == "first"), "{}", s.name);
        for (label, id) in cx.commits.iter().filter(|(l, _)| !s.repos.iter().any(|(r, _)| r == l)) {
            assert!(!git(&bare, &["cat-file", "-t", id]).is_empty(), "{}: {label}", s.name);
        }
        for (path, _) in &s.encrypt {
            let text = git(&bare, &["show", &format!("main:{path}")]);
            assert!(text.contains("sops:") && text.contains("ENC["), "{}: {path} not encrypted", s.name);
            assert!(!text.contains("s3cr3t-value"), "{}: {path} holds the plaintext", s.name);
        }
        drop(repo);
    }
    // The signed tag verifies with the run's key and the submodule is a gitlink.
    let bare = root.path().join("git-verify-tag.git");
    assert_eq!(git(&bare, &["cat-file", "-t", "v1.1.0"]), "tag");
    let tree = git(&root.path().join("git-submodules.git"), &["ls-tree", "main"]);
    assert!(tree.contains("160000 commit"), "{tree}");
    // Placeholders are all filled in the files pushed.
    let readme = git(&root.path().join("sops-age.git"), &["show", "main:deploy/app.yaml"]);
    assert!(readme.contains("namespace: sops-age-t"), "{readme}");
}
