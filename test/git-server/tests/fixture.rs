//! The fixture builder: modes, links, submodules, tags, reproducible IDs and signatures.

mod common;

use std::path::Path;

use common::{failed, git, git_cmd, git_ok, run};
use eddy_test_git::{HttpGitServer, RepoBuilder, SignatureFormat, SigningKeys};

fn build(root: &Path) -> (String, String, String) {
    let mut sub = RepoBuilder::init(root, "sub.git").unwrap();
    sub.write("sub.txt", "in the submodule\n").unwrap();
    let sub_commit = sub.commit("sub").unwrap();
    sub.push().unwrap();

    let mut repo = RepoBuilder::init(root, "repo.git").unwrap();
    repo.write("README.md", "# fixture\n").unwrap();
    repo.write_executable("bin/run.sh", "#!/bin/sh\necho run\n").unwrap();
    repo.symlink("link", "README.md").unwrap();
    repo.sourceignore("", "ignored/\n").unwrap();
    repo.write("ignored/file.txt", "ignored\n").unwrap();
    repo.submodule("sub", "../sub.git", &sub_commit).unwrap();
    let first = repo.commit("first").unwrap();
    repo.tag("v0.1.0").unwrap();
    let tag = repo.annotated_tag("v1.0.0", "release 1.0.0").unwrap();
    repo.branch("dev").unwrap();
    repo.write("dev.txt", "dev\n").unwrap();
    let dev = repo.commit("on dev").unwrap();
    repo.checkout("main").unwrap();
    repo.push().unwrap();
    (first, tag, dev)
}

#[test]
fn trees_tags_and_reproducible_ids() {
    let root = tempfile::tempdir().unwrap();
    let (first, tag, dev) = build(root.path());
    let bare = root.path().join("repo.git");

    let tree = git_ok(&bare, &["ls-tree", "-r", "main"]);
    let mode = |path: &str| {
        tree.lines()
            .find(|l| l.ends_with(&format!("\t{path}")))
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{path} not in {tree}"))
    };
    assert_eq!(mode("README.md"), "100644");
    assert_eq!(mode("bin/run.sh"), "100755");
    assert_eq!(mode("link"), "120000");
    assert_eq!(mode("sub"), "160000");
    assert_eq!(mode(".sourceignore"), "100644");
    assert_eq!(git_ok(&bare, &["cat-file", "-p", "main:link"]), "README.md");
    assert_eq!(git_ok(&bare, &["config", "--blob", "main:.gitmodules", "submodule.sub.url"]), "../sub.git");

    assert_eq!(git_ok(&bare, &["rev-parse", "main"]), first);
    assert_eq!(git_ok(&bare, &["rev-parse", "dev"]), dev);
    assert_eq!(git_ok(&bare, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(git_ok(&bare, &["cat-file", "-t", "v0.1.0"]), "commit");
    assert_eq!(git_ok(&bare, &["cat-file", "-t", "v1.0.0"]), "tag");
    assert_eq!(git_ok(&bare, &["rev-parse", "v1.0.0"]), tag);
    assert_eq!(git_ok(&bare, &["rev-parse", "v1.0.0^{commit}"]), first);
    let author = git_ok(&bare, &["log", "-1", "--format=%an <%ae> %at %cn <%ce> %ct", "main"]);
    assert_eq!(author, "Eddy Test <eddy-test@example.com> 1700000060 Eddy Test <eddy-test@example.com> 1700000060");

    // The same steps elsewhere give the same object IDs.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(build(again.path()), (first, tag, dev));
}

#[test]
fn submodules_resolve_relative_urls_over_http() {
    let root = tempfile::tempdir().unwrap();
    build(root.path());
    let server = HttpGitServer::start(root.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    git_ok(work.path(), &["clone", "--quiet", "--recurse-submodules", &server.repo_url("repo.git"), "clone"]);
    let sub = std::fs::read_to_string(work.path().join("clone/sub/sub.txt")).unwrap();
    assert_eq!(sub, "in the submodule\n");
}

#[test]
fn builder_rejects_paths_outside_the_work_tree() {
    let root = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::init(root.path(), "repo.git").unwrap();
    assert!(repo.write("../escape", "x").is_err());
    assert!(repo.write("/abs", "x").is_err());
    assert!(repo.write(".git/config", "x").is_err());
    assert!(RepoBuilder::init(root.path(), "repo.git").is_err(), "existing repository");
}

#[test]
fn deleting_refs_reaches_the_bare_repository() {
    let root = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::init(root.path(), "other.git").unwrap();
    repo.commit("one").unwrap();
    repo.tag("v1").unwrap();
    repo.branch("gone").unwrap();
    repo.checkout("main").unwrap();
    repo.push().unwrap();
    let refs = |bare: &Path| git_ok(bare, &["for-each-ref", "--format=%(refname)"]);
    assert_eq!(refs(repo.bare_path()), "refs/heads/gone\nrefs/heads/main\nrefs/tags/v1");
    repo.delete_branch("gone").unwrap().delete_tag("v1").unwrap();
    assert_eq!(refs(repo.bare_path()), "refs/heads/main");
}

fn verify(dir: &Path, keys: &SigningKeys, what: &str, rev: &str) -> std::process::Output {
    let mut cmd = git_cmd(dir);
    cmd.env("GNUPGHOME", keys.gnupghome());
    let config = keys.verify_config();
    let mut args: Vec<&str> = config.iter().map(String::as_str).collect();
    args.extend([what, rev]);
    run(cmd, &args)
}

#[test]
fn openpgp_and_ssh_signatures_verify() {
    let keys = SigningKeys::generate().unwrap();
    assert!(keys.openpgp_public_key().starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert!(keys.ssh_public_key().starts_with("ssh-ed25519 "));
    assert!(keys.allowed_signers_line().starts_with("eddy-test@example.com namespaces=\"git\" ssh-ed25519 "));

    let root = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::init(root.path(), "repo.git").unwrap();
    let unsigned = repo.commit("unsigned").unwrap();
    repo.annotated_tag("unsigned-tag", "unsigned").unwrap();
    let pgp = repo.commit_signed("openpgp", &keys, SignatureFormat::OpenPgp).unwrap();
    repo.signed_tag("pgp-tag", "openpgp tag", &keys, SignatureFormat::OpenPgp).unwrap();
    let ssh = repo.commit_signed("ssh", &keys, SignatureFormat::Ssh).unwrap();
    repo.signed_tag("ssh-tag", "ssh tag", &keys, SignatureFormat::Ssh).unwrap();
    repo.push().unwrap();
    let bare = repo.bare_path();

    let raw = git_ok(bare, &["cat-file", "commit", &pgp]);
    assert!(raw.contains("gpgsig -----BEGIN PGP SIGNATURE-----"), "{raw}");
    let raw = git_ok(bare, &["cat-file", "commit", &ssh]);
    assert!(raw.contains("gpgsig -----BEGIN SSH SIGNATURE-----"), "{raw}");

    for (rev, kind) in [(&pgp, "verify-commit"), (&ssh, "verify-commit")] {
        common::ok(&verify(bare, &keys, kind, rev), &[kind, rev]);
    }
    for tag in ["pgp-tag", "ssh-tag"] {
        common::ok(&verify(bare, &keys, "verify-tag", tag), &["verify-tag", tag]);
    }
    failed(&verify(bare, &keys, "verify-commit", &unsigned), "verify-commit of an unsigned commit");
    failed(&verify(bare, &keys, "verify-tag", "unsigned-tag"), "verify-tag of an unsigned tag");

    // Another key does not verify them.
    let other = SigningKeys::generate().unwrap();
    failed(&verify(bare, &other, "verify-commit", &pgp), "verify-commit with another OpenPGP key");
    failed(&verify(bare, &other, "verify-commit", &ssh), "verify-commit with another SSH key");
    let _ = git(bare, &["log", "-1"]);
}

#[test]
fn rsa_openpgp_keys_sign_too() {
    let keys = SigningKeys::generate_with(eddy_test_git::fixture::OpenPgpAlgorithm::Rsa3072).unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::init(root.path(), "repo.git").unwrap();
    let commit = repo.commit_signed("rsa", &keys, SignatureFormat::OpenPgp).unwrap();
    common::ok(&verify(repo.work_path(), &keys, "verify-commit", &commit), &["verify-commit"]);
    let mut cmd = git_cmd(repo.work_path());
    cmd.env("GNUPGHOME", keys.gnupghome());
    let shown = common::ok(&run(cmd, &["log", "-1", "--format=%G? %GF"]), &["log"]);
    assert_eq!(shown, format!("G {}", keys.openpgp_fingerprint()));
}
