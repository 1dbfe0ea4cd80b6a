//! Repositories made with the git CLI for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git with a fixed identity and no user or system configuration; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, "2024-01-01T00:00:00Z")
}

/// As [`git`], with the author and committer date `date`.
pub fn git_at(dir: &Path, args: &[&str], date: &str) -> String {
    let home = dir.parent().unwrap_or(dir);
    let out = Command::new("git")
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .args(["-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main", "-c", "tag.gpgSign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare "remote" repository and a working clone to build its history.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub bare: PathBuf,
}

impl Fixture {
    /// An empty bare repository `name.git` and a working directory pushing to it.
    pub fn new(name: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        Self::in_dir(tmp, name)
    }

    /// As [`Fixture::new`], in an existing temporary directory.
    pub fn in_dir(tmp: tempfile::TempDir, name: &str) -> Self {
        let bare = tmp.path().join(format!("{name}.git"));
        let work = tmp.path().join(format!("{name}-work"));
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(&bare, &["init", "--bare", "-q"]);
        git(&work, &["init", "-q"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Self { tmp, work, bare }
    }

    /// The `file://` URL of the bare repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Writes `files` (path, content), commits everything with `message` and returns the hash.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        self.commit_at(files, message, "2024-01-01T00:00:00Z")
    }

    /// As [`Fixture::commit`] at `date`.
    pub fn commit_at(&self, files: &[(&str, &str)], message: &str, date: &str) -> String {
        for (path, content) in files {
            let p = self.work.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        git_at(&self.work, &["add", "-A"], date);
        git_at(&self.work, &["commit", "-q", "--allow-empty", "-m", message], date);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Runs git in the working directory.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Pushes every branch and tag.
    pub fn push(&self) {
        git(&self.work, &["push", "-q", "--force", "origin", "--all"]);
        git(&self.work, &["push", "-q", "--force", "origin", "--tags"]);
    }
}

/// Every file under `dir` (relative paths, `/`-separated), ignoring `.git`.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
