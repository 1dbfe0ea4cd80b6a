//! The standard repository: refs, contents, submodule over HTTP, signatures.

mod common;

use std::path::Path;

use common::{failed, git_cmd, git_ok, ok, run};
use eddy_test_git::{HttpGitServer, SignatureFormat, SigningKeys, StandardRepository, standard_repository};

fn verify(dir: &Path, keys: &SigningKeys, what: &str, rev: &str) -> std::process::Output {
    let mut cmd = git_cmd(dir);
    cmd.env("GNUPGHOME", keys.gnupghome());
    let config = keys.verify_config();
    let mut args: Vec<&str> = config.iter().map(String::as_str).collect();
    args.extend([what, rev]);
    run(cmd, &args)
}

#[test]
fn refs_and_signatures() {
    let root = tempfile::tempdir().unwrap();
    let std_repo = standard_repository(root.path()).unwrap();
    let bare = &std_repo.path;
    assert_eq!(bare, &root.path().canonicalize().unwrap().join(StandardRepository::NAME));
    assert_eq!(git_ok(bare, &["symbolic-ref", "HEAD"]), "refs/heads/main");

    let refs = git_ok(bare, &["for-each-ref", "--format=%(refname)"]);
    let mut refs: Vec<&str> = refs.lines().collect();
    refs.sort_unstable();
    assert_eq!(
        refs,
        [
            "refs/heads/dev",
            "refs/heads/main",
            "refs/heads/ssh-signed",
            "refs/tags/v0.1.0",
            "refs/tags/v1.0.0",
            "refs/tags/v1.1.0",
            "refs/tags/v2.0.0-rc.1"
        ]
    );
    for branch in &std_repo.branches {
        assert_eq!(git_ok(bare, &["rev-parse", branch.name]), branch.commit, "{}", branch.name);
        let out = verify(bare, &std_repo.keys, "verify-commit", &branch.commit);
        assert_eq!(out.status.success(), branch.signature.is_some(), "verify-commit {}: {out:?}", branch.name);
    }
    for tag in &std_repo.tags {
        assert_eq!(git_ok(bare, &["rev-parse", &format!("refs/tags/{}", tag.name)]), tag.object, "{}", tag.name);
        assert_eq!(git_ok(bare, &["rev-parse", &format!("{}^{{commit}}", tag.name)]), tag.commit, "{}", tag.name);
        let kind = git_ok(bare, &["cat-file", "-t", tag.name]);
        assert_eq!(kind, if tag.annotated { "tag" } else { "commit" }, "{}", tag.name);
        if tag.annotated {
            let out = verify(bare, &std_repo.keys, "verify-tag", tag.name);
            assert_eq!(out.status.success(), tag.signature.is_some(), "verify-tag {}: {out:?}", tag.name);
        }
    }
    let raw = git_ok(bare, &["cat-file", "tag", "v1.1.0"]);
    assert!(raw.contains("-----BEGIN PGP SIGNATURE-----"), "{raw}");
    let raw = git_ok(bare, &["cat-file", "tag", "v2.0.0-rc.1"]);
    assert!(raw.contains("-----BEGIN SSH SIGNATURE-----"), "{raw}");
    assert_eq!(std_repo.tag("v1.1.0").unwrap().signature, Some(SignatureFormat::OpenPgp));
    assert_eq!(std_repo.branch("main").unwrap().signature, None);
    failed(&verify(bare, &std_repo.keys, "verify-commit", &std_repo.branch("main").unwrap().commit), "unsigned HEAD");

    // The unsigned commits are the same on every run.
    let again = tempfile::tempdir().unwrap();
    let other = standard_repository(again.path()).unwrap();
    assert_eq!(other.initial, std_repo.initial);
    assert_eq!(other.with_submodule, std_repo.with_submodule);
    assert_eq!(other.branch("main"), std_repo.branch("main"));
    assert_eq!(other.tag("v1.0.0"), std_repo.tag("v1.0.0"));
    assert_ne!(other.branch("dev"), std_repo.branch("dev"), "signed with other keys");
}

#[test]
fn contents_over_http_with_the_submodule() {
    let root = tempfile::tempdir().unwrap();
    let std_repo = standard_repository(root.path()).unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url(StandardRepository::NAME);
    let work = tempfile::tempdir().unwrap();

    for (rev, version) in
        [("main", "main"), ("dev", "1.1.0"), ("ssh-signed", "2.0.0-rc.1"), ("v0.1.0", "0.1.0"), ("v1.0.0", "1.0.0")]
    {
        let dest = format!("clone-{rev}");
        let args = ["clone", "--quiet", "--recurse-submodules", "--branch", rev, url.as_str(), dest.as_str()];
        ok(&run(git_cmd(work.path()), &args), &args);
        let dir = work.path().join(&dest);
        assert_eq!(std::fs::read_to_string(dir.join("version.txt")).unwrap(), format!("{version}\n"), "{rev}");
        if rev != "v0.1.0" {
            assert_eq!(std::fs::read_to_string(dir.join("sub/sub.txt")).unwrap(), "submodule\n", "{rev}");
        }
    }
    let main = work.path().join("clone-main");
    assert_eq!(git_ok(&main, &["rev-parse", "HEAD"]), std_repo.branch("main").unwrap().commit);
    assert_eq!(std::fs::read_link(main.join("link")).unwrap(), Path::new("README.md"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(main.join("bin/run.sh")).unwrap().permissions());
    assert_eq!(mode & 0o111, 0o111, "bin/run.sh is executable");
    assert_eq!(std::fs::read_to_string(main.join(".sourceignore")).unwrap().lines().last(), Some("ignored/"));
    assert!(main.join("ignored/ignored.txt").is_file());
    assert!(std::fs::read_to_string(main.join("deploy/configmap.yaml")).unwrap().contains("kind: ConfigMap"));
    assert_eq!(git_ok(&main, &["config", "--file", ".gitmodules", "submodule.sub.url"]), "../sub.git");
}
