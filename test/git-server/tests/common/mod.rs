//! Helpers shared by the integration tests: the git CLI, isolated and bounded in time.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use eddy_test_git::RepoBuilder;
use eddy_test_git::process::output_with_timeout;

/// The bound of one git command in a test.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A git command isolated from the machine's configuration and from any prompt.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS", "/bin/false")
        .env("GIT_AUTHOR_NAME", "Tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "Tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .env_remove("GIT_SSL_CAINFO")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    cmd
}

/// Runs `cmd` with `args` within [`TIMEOUT`].
pub fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args);
    output_with_timeout(&mut cmd, None, TIMEOUT).expect("git finished in time")
}

/// Runs git in `dir` with `args`.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    run(git_cmd(dir), args)
}

/// Runs git in `dir` and asserts success; returns trimmed stdout.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    ok(&git(dir, args), args)
}

/// Asserts `out` succeeded; returns trimmed stdout.
pub fn ok(out: &Output, what: &[&str]) -> String {
    assert!(
        out.status.success(),
        "git {what:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Asserts `out` failed; returns its stderr.
pub fn failed(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what} unexpectedly succeeded: {stderr}");
    stderr
}

/// A bare repository `<root>/<name>` with one commit on `main` holding `hello.txt`; returns
/// the builder and the commit.
pub fn simple_repo(root: &Path, name: &str) -> (RepoBuilder, String) {
    let mut repo = RepoBuilder::init(root, name).expect("init");
    repo.write("hello.txt", "hello\n").expect("write");
    let commit = repo.commit("first").expect("commit");
    repo.push().expect("push");
    (repo, commit)
}

/// The commit `rev` points to in the bare repository `bare`.
pub fn bare_rev(bare: &Path, rev: &str) -> String {
    git_ok(bare, &["rev-parse", rev])
}
