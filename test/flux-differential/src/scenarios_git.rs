//! GitRepository scenarios: references (branch, tag, annotated tag, semver, commit, name),
//! ignore rules, includes, submodules, basic auth, verification of OpenPGP signatures, sparse
//! checkout, suspension, a push followed by `requestedAt`, and the failure paths (missing
//! branch, unknown tag, unreachable host, wrong password, wrong key).

use crate::scenario::{Expect, GitOp, Scenario, Source, SourceExpect, Step};

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  color: blue\n";

/// The first commit of most scenarios: a manifest, a README, docs and a version file.
fn tree() -> Vec<(&'static str, String)> {
    vec![
        ("README.md", "# demo\n".into()),
        ("version.txt", "first\n".into()),
        ("deploy/app.yaml", CM.into()),
        ("docs/guide.md", "guide\n".into()),
    ]
}

/// A second commit with an executable and a symbolic link (labelled `c2`), then a branch
/// `dev` with its own commit (labelled `dev`), back on `main`.
fn history() -> Vec<GitOp> {
    vec![
        GitOp::Executable("bin/run.sh", "#!/bin/sh\necho run\n".into()),
        GitOp::Symlink("link", "README.md"),
        GitOp::Write("version.txt", "c2\n".into()),
        GitOp::Commit("c2"),
        GitOp::Branch("dev"),
        GitOp::Write("version.txt", "dev\n".into()),
        GitOp::Commit("dev"),
        GitOp::Checkout("main"),
    ]
}

/// Tags over three commits: `v0.1.0` (lightweight, on `first`), `v1.0.0` (annotated, on
/// `r1`), `v1.1.0` (lightweight, on `r2`), `v2.0.0-rc.1` (annotated, on `r3`).
fn tags() -> Vec<GitOp> {
    vec![
        GitOp::Tag("v0.1.0"),
        GitOp::Write("version.txt", "1.0.0\n".into()),
        GitOp::Commit("r1"),
        GitOp::AnnotatedTag("v1.0.0"),
        GitOp::Write("version.txt", "1.1.0\n".into()),
        GitOp::Commit("r2"),
        GitOp::Tag("v1.1.0"),
        GitOp::Write("version.txt", "2.0.0-rc.1\n".into()),
        GitOp::Commit("r3"),
        GitOp::AnnotatedTag("v2.0.0-rc.1"),
    ]
}

fn ready(name: &'static str, extra: &'static str) -> Source {
    Source::new(name, extra, SourceExpect::Ready)
}

fn failed(extra: &'static str) -> Source {
    Source::new("repo", extra, SourceExpect::Failed)
}

const MAIN: &str = "  ref:\n    branch: main\n";

const CREDS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
username: {git_user_b64}\n  password: {git_password_b64}\n";
/// The password is `wrong` (base64 `d3Jvbmc=`).
const WRONG_CREDS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
username: {git_user_b64}\n  password: d3Jvbmc=\n";
const PGP_KEYS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pgp\n  namespace: {ns}\ntype: Opaque\ndata:\n  author.asc: {pgp_public_b64}\n";
const WRONG_PGP_KEYS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pgp\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
author.asc: {wrong_pgp_public_b64}\n";

/// A signed commit on `main` (labelled `signed`) tagged `v1.1.0` with a signed tag.
fn signed() -> Vec<GitOp> {
    vec![GitOp::Write("version.txt", "signed\n".into()), GitOp::CommitSigned("signed"), GitOp::SignedTag("v1.1.0")]
}

/// Every GitRepository scenario, in a fixed order.
#[must_use]
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario::git("git-branch", tree(), ready("repo", MAIN)).history(history()),
        Scenario::git("git-branch-other", tree(), ready("repo", "  ref:\n    branch: dev\n")).history(history()),
        Scenario::git("git-default-ref", tree(), ready("repo", "")).history(history()),
        Scenario::git("git-tag", tree(), ready("repo", "  ref:\n    tag: v0.1.0\n")).history(tags()),
        Scenario::git("git-annotated-tag", tree(), ready("repo", "  ref:\n    tag: v1.0.0\n")).history(tags()),
        Scenario::git("git-semver", tree(), ready("repo", "  ref:\n    semver: \">=1.0.0 <2.0.0\"\n"))
            .history(tags()),
        Scenario::git("git-semver-prerelease", tree(), ready("repo", "  ref:\n    semver: \">=2.0.0-0\"\n"))
            .history(tags()),
        Scenario::git("git-commit-pin", tree(), ready("repo", "  ref:\n    commit: {commit:c2}\n")).history(history()),
        Scenario::git(
            "git-branch-and-commit",
            tree(),
            ready("repo", "  ref:\n    branch: main\n    commit: {commit:first}\n"),
        )
        .history(history()),
        Scenario::git("git-ref-name-head", tree(), ready("repo", "  ref:\n    name: refs/heads/dev\n")).history(history()),
        Scenario::git("git-ref-name-tag", tree(), ready("repo", "  ref:\n    name: refs/tags/v1.0.0\n")).history(tags()),
        Scenario::git(
            "git-ignore",
            vec![
                ("README.md", "# demo\n".into()),
                (".sourceignore", "*.txt\n!keep.txt\n".into()),
                ("notes.txt", "ignored\n".into()),
                ("keep.txt", "kept\n".into()),
                ("deploy/app.yaml", CM.into()),
                ("deploy/.sourceignore", "scratch/\n".into()),
                ("deploy/scratch/x.yaml", CM.into()),
                ("docs/guide.md", "guide\n".into()),
                ("img/logo.png", "not really a png\n".into()),
            ],
            ready("repo", "  ref:\n    branch: main\n  ignore: |\n    docs/\n    !docs/keep.md\n"),
        ),
        Scenario::git("git-include", tree(), ready("lib", MAIN).url("{git}/{repo}-lib.git"))
            .repo(
                "lib",
                vec![("deploy/lib.yaml", CM.replace("name: app", "name: lib")), ("other/x.txt", "other\n".into())],
            )
            .source(ready(
                "repo",
                "  ref:\n    branch: main\n  include:\n  - repository:\n      name: lib\n    fromPath: deploy\n    toPath: vendor/lib\n",
            )),
        Scenario::git(
            "git-include-missing",
            tree(),
            Source::new("repo", "  ref:\n    branch: main\n  include:\n  - repository:\n      name: absent\n", SourceExpect::Failed),
        ),
        Scenario::git("git-submodules", tree(), ready("repo", "  ref:\n    branch: main\n  recurseSubmodules: true\n"))
            .repo("sub", vec![("sub.txt", "submodule\n".into())])
            .history(vec![GitOp::Submodule("sub", "sub"), GitOp::Commit("c2")]),
        Scenario::git("git-submodules-off", tree(), ready("repo", MAIN))
            .repo("sub", vec![("sub.txt", "submodule\n".into())])
            .history(vec![GitOp::Submodule("sub", "sub"), GitOp::Commit("c2")]),
        Scenario::git(
            "git-basic-auth",
            tree(),
            ready("repo", "  ref:\n    branch: main\n  secretRef:\n    name: creds\n").url("{auth_git}/{repo}.git"),
        )
        .pre(CREDS),
        Scenario::git(
            "git-basic-auth-wrong",
            tree(),
            failed("  ref:\n    branch: main\n  secretRef:\n    name: creds\n").url("{auth_git}/{repo}.git"),
        )
        .pre(WRONG_CREDS),
        Scenario::git("git-auth-without-secret", tree(), failed(MAIN).url("{auth_git}/{repo}.git")),
        Scenario::git("git-missing-secret", tree(), failed("  ref:\n    branch: main\n  secretRef:\n    name: absent\n")),
        Scenario::git("git-missing-branch", tree(), failed("  ref:\n    branch: nope\n")),
        Scenario::git("git-unknown-tag", tree(), failed("  ref:\n    tag: v9.9.9\n")).history(tags()),
        Scenario::git("git-unreachable", tree(), failed(MAIN).url("http://127.0.0.1:1/{repo}.git")),
        Scenario::git("git-repository-not-found", tree(), failed(MAIN).url("{git}/absent-{repo}.git")),
        Scenario::git("git-push-requested", tree(), ready("repo", MAIN)).history(history()).step(Step::Commit {
            write: vec![("deploy/app.yaml", CM.replace("blue", "green"))],
            remove: vec!["docs/guide.md"],
            expect: Expect::Ready,
        }),
        Scenario::git("git-suspend", tree(), Source::new("repo", "  suspend: true\n  ref:\n    branch: main\n", SourceExpect::Suspended))
            .step(Step::Commit { write: vec![("version.txt", "later\n".into())], remove: vec![], expect: Expect::Ready }),
        Scenario::git(
            "git-verify-head",
            tree(),
            ready("repo", "  ref:\n    branch: main\n  verify:\n    mode: HEAD\n    secretRef:\n      name: pgp\n"),
        )
        .pre(PGP_KEYS)
        .history(signed()),
        Scenario::git(
            "git-verify-wrong-key",
            tree(),
            failed("  ref:\n    branch: main\n  verify:\n    mode: HEAD\n    secretRef:\n      name: pgp\n"),
        )
        .pre(WRONG_PGP_KEYS)
        .history(signed()),
        Scenario::git(
            "git-verify-unsigned",
            tree(),
            failed("  ref:\n    branch: main\n  verify:\n    mode: HEAD\n    secretRef:\n      name: pgp\n"),
        )
        .pre(PGP_KEYS),
        Scenario::git(
            "git-verify-tag",
            tree(),
            ready("repo", "  ref:\n    tag: v1.1.0\n  verify:\n    mode: Tag\n    secretRef:\n      name: pgp\n"),
        )
        .pre(PGP_KEYS)
        .history(signed()),
        Scenario::git(
            "git-verify-tag-and-head",
            tree(),
            ready("repo", "  ref:\n    tag: v1.1.0\n  verify:\n    mode: TagAndHEAD\n    secretRef:\n      name: pgp\n"),
        )
        .pre(PGP_KEYS)
        .history(signed()),
        Scenario::git("git-sparse-checkout", tree(), ready("repo", "  ref:\n    branch: main\n  sparseCheckout:\n  - deploy\n"))
            .history(history()),
    ]
}
