//! Shared checkouts ([`eddy_git::CheckoutCache`]) against a real smart-HTTP server: identical
//! clones fetch once, each still gets the commit and tree a clone of its own would give, a
//! push is noticed, and concurrent identical clones are coalesced.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use eddy_git::{AuthOptions, CheckoutCache, CheckoutStrategy, CloneOptions, CloneOutcome, clone};
use eddy_test_git::fixture::RepoBuilder;
use eddy_test_git::{HttpGitServer, standard_repository};

fn opts(url: &str, strategy: CheckoutStrategy, cache: Option<&CheckoutCache>) -> CloneOptions {
    let mut o = CloneOptions::new(url, strategy);
    o.timeout = Duration::from_secs(30);
    o.cache = cache.cloned();
    o
}

/// Every file (path → contents, `->target` for links) under `dir`, `.git` directories (the
/// repository's, a submodule's) left out: artifacts never contain them.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if entry.file_name() == ".git" {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                out.insert(rel, format!("->{}", std::fs::read_link(&path).unwrap().display()));
            } else if kind.is_dir() {
                walk(root, &path, out);
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = entry.metadata().unwrap().permissions().mode() & 0o111;
                out.insert(rel, format!("{mode:o}:{}", String::from_utf8_lossy(&std::fs::read(&path).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn identical_clones_fetch_once_and_get_the_same_commit_and_tree() {
    let root = tempfile::tempdir().unwrap();
    let repo = standard_repository(root.path()).unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url("repo.git");
    let auth = AuthOptions::anonymous(&url).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CheckoutCache::new(cache_dir.path().join("c"), 8).unwrap();

    for (strategy, with_submodules) in [
        (CheckoutStrategy::Branch("main".into()), true),
        (CheckoutStrategy::Tag("v1.0.0".into()), false),
        (CheckoutStrategy::Tag("v1.1.0".into()), false),
    ] {
        // What a clone of its own gives.
        let own = tempfile::tempdir().unwrap();
        let mut o = opts(&url, strategy.clone(), None);
        o.recurse_submodules = with_submodules;
        let expected = clone(own.path(), &o, &auth).unwrap();

        server.reset_counts();
        let mut o = opts(&url, strategy.clone(), Some(&cache));
        o.recurse_submodules = with_submodules;
        let first = tempfile::tempdir().unwrap();
        assert_eq!(clone(first.path(), &o, &auth).unwrap(), expected);
        assert_eq!(tree(first.path()), tree(own.path()));
        let fetched = server.counts().fetches;
        assert!(fetched >= 1, "{strategy:?}");

        let second = tempfile::tempdir().unwrap();
        let out = clone(&second.path().join("x"), &o, &auth).unwrap();
        assert_eq!(out, expected, "{strategy:?}");
        assert_eq!(tree(&second.path().join("x")), tree(own.path()));
        let counts = server.counts();
        assert_eq!(counts.fetches, fetched, "{strategy:?} fetched again: {counts:?}");
    }
    let main = &repo.branch("main").unwrap().commit;
    let tag = repo.tag("v1.1.0").unwrap();
    let o = opts(&url, CheckoutStrategy::Tag("v1.1.0".into()), Some(&cache));
    let out = clone(tempfile::tempdir().unwrap().path(), &o, &auth).unwrap();
    assert_eq!(out.revision(), format!("v1.1.0@sha1:{}", tag.commit));
    let referencing = out.commit().unwrap().referencing_tag.as_ref().unwrap();
    assert_eq!(referencing.hash.as_deref(), Some(tag.object.as_str()));

    // Other settings are another clone: without submodules, main is fetched again.
    server.reset_counts();
    let o = opts(&url, CheckoutStrategy::Branch("main".into()), Some(&cache));
    let dir = tempfile::tempdir().unwrap();
    let out = clone(dir.path(), &o, &auth).unwrap();
    assert_eq!(out.revision(), format!("main@sha1:{main}"));
    assert_eq!(server.counts().fetches, 1);
    assert!(!dir.path().join("sub/sub.txt").exists());
}

#[test]
fn a_push_is_fetched_and_concurrent_clones_are_coalesced() {
    let root = tempfile::tempdir().unwrap();
    let mut repo = RepoBuilder::init(root.path(), "app.git").unwrap();
    repo.write("app.yaml", "v: 1\n").unwrap();
    let first = repo.commit("first").unwrap();
    repo.push().unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url("app.git");
    let auth = AuthOptions::anonymous(&url).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CheckoutCache::new(cache_dir.path(), 4).unwrap();
    let o = opts(&url, CheckoutStrategy::Branch("main".into()), Some(&cache));

    let clones = |n: usize| -> Vec<CloneOutcome> {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (o, auth) = (o.clone(), auth.clone());
                std::thread::spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let out = clone(dir.path(), &o, &auth).unwrap();
                    (out, std::fs::read_to_string(dir.path().join("app.yaml")).unwrap())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (out, content) = h.join().unwrap();
                let expected = if out.hash() == first { "v: 1\n" } else { "v: 2\n" };
                assert_eq!(content, expected);
                out
            })
            .collect()
    };

    let outs = clones(6);
    assert!(outs.iter().all(|o| o.revision() == format!("main@sha1:{first}")));
    assert_eq!(server.counts().fetches, 1, "{:?}", server.counts());

    repo.write("app.yaml", "v: 2\n").unwrap();
    let second = repo.commit("second").unwrap();
    repo.push().unwrap();
    server.reset_counts();
    let outs = clones(3);
    assert!(outs.iter().all(|o| o.revision() == format!("main@sha1:{second}")));
    assert_eq!(server.counts().fetches, 1, "{:?}", server.counts());
}
