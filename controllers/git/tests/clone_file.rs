//! Cloning `file://` repositories made with the git CLI: every checkout strategy, revision
//! strings, working trees, shallow depth, the no-change path, errors.

mod common;

use common::{Fixture, files, git};
use eddy_git::{AuthOptions, CheckoutStrategy, CloneOptions, CloneOutcome, ErrorKind, GitError, clone, ls_remote};
use std::time::Duration;

fn auth(url: &str) -> AuthOptions {
    AuthOptions::anonymous(url).unwrap()
}

fn run(url: &str, checkout: CheckoutStrategy) -> (tempfile::TempDir, Result<CloneOutcome, GitError>) {
    let dest = tempfile::tempdir().unwrap();
    let out = clone(dest.path(), &CloneOptions::new(url, checkout), &auth(url));
    (dest, out)
}

fn commit_count(dir: &std::path::Path) -> usize {
    git(dir, &["rev-list", "--count", "HEAD"]).parse().unwrap()
}

/// main: c1, c2; dev: d1 off c2; tags: v0.1.0 (light, c1), v1.0.0 (annotated, c2), v1.1.0
/// (annotated, d1), v2.0.0-rc.1 (light, d1).
fn standard() -> (Fixture, [String; 3]) {
    let f = Fixture::new("repo");
    let c1 = f.commit(&[("README.md", "one\n"), ("deploy/app.yaml", "kind: A\n")], "first commit");
    f.git(&["tag", "v0.1.0"]);
    let c2 = f.commit(&[("README.md", "two\n")], "second commit\n\nwith a body");
    f.git(&["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    f.git(&["checkout", "-q", "-b", "dev"]);
    let d1 = f.commit(&[("dev.txt", "dev\n")], "dev work");
    f.git(&["tag", "-a", "v1.1.0", "-m", "release 1.1.0"]);
    f.git(&["tag", "v2.0.0-rc.1"]);
    f.git(&["checkout", "-q", "main"]);
    f.push();
    (f, [c1, c2, d1])
}

#[test]
fn branch_clone_is_shallow_with_the_flux_revision() {
    let (f, [_, c2, d1]) = standard();
    let (dest, out) = run(&f.url(), CheckoutStrategy::Branch("main".into()));
    let out = out.unwrap();
    assert_eq!(out.revision(), format!("main@sha1:{c2}"));
    let commit = out.commit().unwrap();
    assert_eq!(commit.hash, c2);
    assert_eq!(commit.reference, "refs/heads/main");
    assert_eq!(commit.message, "second commit\n\nwith a body\n");
    assert_eq!(commit.short_message(), "second commit");
    assert_eq!(commit.author.name, "Test Author");
    assert_eq!(commit.committer.email, "committer@example.com");
    assert_eq!(commit.committer.time.seconds, 1_704_067_200);
    assert!(commit.signature.is_none());
    assert!(commit.referencing_tag.is_none());
    assert_eq!(files(dest.path()), ["README.md", "deploy/app.yaml"]);
    assert_eq!(std::fs::read_to_string(dest.path().join("README.md")).unwrap(), "two\n");
    assert_eq!(commit_count(dest.path()), 1, "branch clones are shallow");

    let (dest, out) = run(&f.url(), CheckoutStrategy::Branch("dev".into()));
    assert_eq!(out.unwrap().revision(), format!("dev@sha1:{d1}"));
    assert_eq!(files(dest.path()), ["README.md", "deploy/app.yaml", "dev.txt"]);
}

#[test]
fn tags_peel_to_their_commit_and_keep_the_tag_object() {
    let (f, [c1, c2, _]) = standard();
    let (dest, out) = run(&f.url(), CheckoutStrategy::Tag("v1.0.0".into()));
    let out = out.unwrap();
    assert_eq!(out.revision(), format!("v1.0.0@sha1:{c2}"));
    assert_eq!(commit_count(dest.path()), 1);
    let tag = out.commit().unwrap().referencing_tag.clone().unwrap();
    assert!(tag.is_annotated());
    assert_eq!(tag.name, "v1.0.0");
    assert_eq!(tag.message, "release 1.0.0\n");
    assert_eq!(tag.target, c2);
    assert_eq!(tag.hash.as_deref(), Some(f.git(&["rev-parse", "v1.0.0"]).as_str()));
    assert_eq!(tag.tagger.as_ref().unwrap().name, "Test Committer");
    assert_eq!(
        tag.signed_payload,
        std::process::Command::new("git")
            .args(["-C", f.bare.to_str().unwrap(), "cat-file", "tag", "v1.0.0"])
            .output()
            .unwrap()
            .stdout
    );

    let (_, out) = run(&f.url(), CheckoutStrategy::Tag("v0.1.0".into()));
    let out = out.unwrap();
    assert_eq!(out.revision(), format!("v0.1.0@sha1:{c1}"));
    let tag = out.commit().unwrap().referencing_tag.clone().unwrap();
    assert!(!tag.is_annotated());
    assert_eq!((tag.name.as_str(), tag.hash.as_deref()), ("v0.1.0", None));
}

#[test]
fn semver_picks_the_highest_matching_tag() {
    let (f, [c1, c2, d1]) = standard();
    for (range, tag, commit) in [
        (">=1.0.0", "v1.1.0", &d1),
        ("~1.0", "v1.0.0", &c2),
        ("<1.0.0", "v0.1.0", &c1),
        (">=1.0.0-0", "v2.0.0-rc.1", &d1),
        ("1.0.0 - 1.0.5 || ^0.1", "v1.0.0", &c2),
    ] {
        let (_, out) = run(&f.url(), CheckoutStrategy::SemVer(range.into()));
        let out = out.unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(out.revision(), format!("{tag}@sha1:{commit}"), "range {range}");
        assert_eq!(out.commit().unwrap().referencing_tag.as_ref().unwrap().name, tag);
    }
    let (_, out) = run(&f.url(), CheckoutStrategy::SemVer(">=3.0.0".into()));
    let e = out.unwrap_err();
    assert_eq!(e.to_string(), "no match found for semver: >=3.0.0");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let (_, out) = run(&f.url(), CheckoutStrategy::SemVer("not a range".into()));
    let e = out.unwrap_err();
    assert!(matches!(e, GitError::InvalidSemver(_)), "{e:?}");
    assert!(e.is_stalling());
    assert!(e.to_string().starts_with("semver parse error: improper constraint"), "{e}");
}

#[test]
fn ref_names_use_the_absolute_revision() {
    let (f, [_, c2, d1]) = standard();
    f.git(&["update-ref", "refs/pull/1/head", &d1]);
    git(&f.work, &["push", "-q", "origin", "refs/pull/1/head"]);
    for (name, commit) in
        [("refs/heads/main", &c2), ("refs/tags/v1.0.0", &c2), ("refs/tags/v1.0.0^{}", &c2), ("refs/pull/1/head", &d1)]
    {
        let (dest, out) = run(&f.url(), CheckoutStrategy::RefName(name.into()));
        let out = out.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.revision(), format!("{name}@sha1:{commit}"));
        assert_eq!(git(dest.path(), &["rev-parse", "HEAD"]), **commit);
    }
    let (_, out) = run(&f.url(), CheckoutStrategy::RefName("refs/heads/nope".into()));
    assert_eq!(out.unwrap_err().to_string(), "unable to resolve ref 'refs/heads/nope' to a specific commit");
    let (_, out) = run(&f.url(), CheckoutStrategy::RefName("refs/heads/main/".into()));
    assert!(matches!(out.unwrap_err(), GitError::InvalidReference { .. }));
}

#[test]
fn commits_fetch_full_history_and_name_the_revision_by_hash() {
    let (f, [c1, c2, d1]) = standard();
    let strategy = |commit: &str, branch: Option<&str>, name: Option<&str>| CheckoutStrategy::Commit {
        commit: commit.into(),
        branch: branch.map(Into::into),
        ref_name: name.map(Into::into),
    };
    let (dest, out) = run(&f.url(), strategy(&c1, None, None));
    assert_eq!(out.unwrap().revision(), format!("sha1:{c1}"));
    assert_eq!(std::fs::read_to_string(dest.path().join("README.md")).unwrap(), "one\n");
    let (dest, out) = run(&f.url(), strategy(&d1, Some("dev"), None));
    assert_eq!(out.unwrap().revision(), format!("dev@sha1:{d1}"));
    assert_eq!(commit_count(dest.path()), 3, "commit checkouts are not shallow (as go-git's cloneCommit)");
    let (_, out) = run(&f.url(), strategy(&c2, Some("main"), Some("refs/heads/main")));
    assert_eq!(out.unwrap().revision(), format!("refs/heads/main@sha1:{c2}"));
    // d1 is only on dev: not found when fetching main.
    let (_, out) = run(&f.url(), strategy(&d1, Some("main"), None));
    assert_eq!(out.unwrap_err().to_string(), format!("unable to resolve commit object for '{d1}': object not found"));
    let (_, out) = run(&f.url(), strategy("a-random-invalid-commit", None, None));
    assert_eq!(
        out.unwrap_err().to_string(),
        "unable to resolve commit object for 'a-random-invalid-commit': object not found"
    );
}

#[test]
fn missing_branches_and_tags_are_reported_as_flux_does() {
    let (f, _) = standard();
    let (_, out) = run(&f.url(), CheckoutStrategy::Branch("nope".into()));
    let e = out.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.to_string(), format!("unable to clone '{}': couldn't find remote ref \"refs/heads/nope\"", f.url()));
    let (_, out) = run(&f.url(), CheckoutStrategy::Tag("v9".into()));
    assert!(out.unwrap_err().to_string().ends_with("couldn't find remote ref \"refs/tags/v9\""));
    let (_, out) =
        run(&format!("file://{}/missing.git", f.tmp.path().display()), CheckoutStrategy::Branch("main".into()));
    assert_eq!(out.unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn an_empty_repository_is_reported() {
    let f = Fixture::new("empty");
    let (_, out) = run(&f.url(), CheckoutStrategy::Branch("main".into()));
    let e = out.unwrap_err();
    assert!(matches!(e, GitError::EmptyRepository), "{e:?}");
    assert_eq!(e.flux_reason(), "EmptyGitRepository");
}

#[test]
fn unchanged_remotes_are_not_fetched() {
    let (f, [_, c2, _]) = standard();
    let url = f.url();
    for (checkout, last) in [
        (CheckoutStrategy::Branch("main".into()), format!("main@sha1:{c2}")),
        (CheckoutStrategy::Branch("main".into()), format!("main/{c2}")),
        (CheckoutStrategy::Tag("v1.0.0".into()), format!("v1.0.0@sha1:{c2}")),
        (CheckoutStrategy::RefName("refs/heads/main".into()), format!("refs/heads/main@sha1:{c2}")),
    ] {
        let dest = tempfile::tempdir().unwrap();
        let target = dest.path().join("checkout");
        let mut opts = CloneOptions::new(&url, checkout.clone());
        opts.last_observed_revision = Some(last.clone());
        let out = clone(&target, &opts, &auth(&url)).unwrap();
        match &out {
            CloneOutcome::Unchanged { hash, .. } => assert_eq!(hash, &c2),
            CloneOutcome::Cloned { .. } => panic!("{checkout:?} with {last} fetched"),
        }
        assert!(out.commit().is_none());
        assert!(!target.exists(), "nothing written for {checkout:?}");
    }
    // A moved branch is fetched.
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
    opts.last_observed_revision = Some(format!("main@sha1:{}", "0".repeat(40)));
    let dest = tempfile::tempdir().unwrap();
    assert!(matches!(clone(dest.path(), &opts, &auth(&url)).unwrap(), CloneOutcome::Cloned { .. }));
    // Semver and commits always fetch.
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::SemVer("1.0.0".into()));
    opts.last_observed_revision = Some(format!("v1.0.0@sha1:{c2}"));
    let dest = tempfile::tempdir().unwrap();
    assert!(matches!(clone(dest.path(), &opts, &auth(&url)).unwrap(), CloneOutcome::Cloned { .. }));
}

#[test]
fn sparse_checkout_writes_only_the_prefixed_paths() {
    let f = Fixture::new("sparse");
    let c = f.commit(
        &[
            ("README.md", "root\n"),
            ("dir1.txt", "f\n"),
            ("dir1/a.yaml", "a\n"),
            ("dir1/sub/b.yaml", "b\n"),
            ("dir10/c.yaml", "c\n"),
            ("dir2/d.yaml", "d\n"),
            ("dir3/e.yaml", "e\n"),
        ],
        "tree",
    );
    f.push();
    let dest = tempfile::tempdir().unwrap();
    let mut opts = CloneOptions::new(f.url(), CheckoutStrategy::Branch("main".into()));
    opts.sparse_checkout = vec!["dir1".into(), "./dir2".into()];
    let out = clone(dest.path(), &opts, &auth(&f.url())).unwrap();
    assert_eq!(out.revision(), format!("main@sha1:{c}"));
    // go-git matches plain string prefixes: dir10 and the root file dir1.txt come along, other
    // root files do not (the same file set go-git v5.19.1 checks out for this tree).
    assert_eq!(files(dest.path()), ["dir1.txt", "dir1/a.yaml", "dir1/sub/b.yaml", "dir10/c.yaml", "dir2/d.yaml"]);
}

#[test]
fn ls_remote_lists_and_peels() {
    let (f, [_, c2, d1]) = standard();
    let refs = ls_remote(&f.url(), &auth(&f.url()), Duration::from_secs(30)).unwrap();
    let get = |n: &str| refs.iter().find(|r| r.name == n).unwrap_or_else(|| panic!("{n} in {refs:?}"));
    assert_eq!(get("refs/heads/main").target, c2);
    assert_eq!(get("refs/heads/dev").target, d1);
    assert_eq!(get("refs/tags/v1.0.0").peeled.as_deref(), Some(c2.as_str()));
    assert_eq!(get("HEAD").symbolic_target.as_deref(), Some("refs/heads/main"));
    assert_eq!(eddy_git::resolve_remote_ref(&refs, "refs/tags/v1.1.0"), Some(format!("refs/tags/v1.1.0@sha1:{d1}")));
}
