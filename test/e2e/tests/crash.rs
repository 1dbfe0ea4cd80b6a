//! kill -9 of Eddy while its GitRepository controller reconciles: after a restart every object
//! reaches Ready again, and no half-written artifact is ever served. Alone in its test binary:
//! it kills the cluster's Eddy, which the other e2e tests use.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy_e2e::{cluster, eddy_binary, eventually, json, repo_root};
use eddy_test_git::{HttpGitServer, RepoBuilder};
use serde_json::Value;

fn eddy_pid(dir: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pids/eddy.pid")).ok()?.trim().parse().ok()
}

/// Ready at the current generation, having handled the last reconcile request.
fn ready_at_revision(o: &Value) -> bool {
    let ready = o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready
        && o["status"]["observedGeneration"] == o["metadata"]["generation"]
        && o["status"]["lastHandledReconcileAt"] == o["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
}

#[test]
fn kill_9_during_reconciles_recovers_and_never_serves_partial_artifacts() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    // Five repositories with some weight, so archives take a moment.
    let mut repos = Vec::new();
    for r in 0..5 {
        let mut repo = RepoBuilder::init(root.path(), &format!("r{r}.git")).expect("repo");
        for f in 0..40 {
            let body: String =
                (0..2000).map(|i| char::from(b'a' + u8::try_from((i * 7 + f + r) % 26).unwrap_or(0))).collect();
            repo.write(&format!("dir{}/file{f}.yaml", f % 5), body).expect("write");
        }
        repo.commit("bulk").expect("commit");
        repo.push().expect("push");
        repos.push(repo);
    }
    let http = HttpGitServer::start(root.path()).expect("server");
    let ns = c.namespace("crash");
    let mut yaml = String::new();
    for i in 0..30 {
        yaml.push_str(&format!(
            "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: g{i}\n  namespace: {ns}\n\
             spec:\n  interval: 1m\n  url: {}\n  ref:\n    branch: main\n",
            http.repo_url(&format!("r{}.git", i % 5))
        ));
    }
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok("apply");

    // Kill Eddy three times while the objects are being reconciled, restarting it each time.
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(300 + 400 * round));
        let pid = eddy_pid(&c.dir).expect("eddy pid");
        let killed = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill");
        assert!(killed.success(), "kill -9 {pid}");
        let out = Command::new(repo_root().join("hack/cluster"))
            .args(["up", "--eddy"])
            .arg(eddy_binary())
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
            .expect("hack/cluster up");
        assert!(out.status.success(), "restarting eddy: {}", String::from_utf8_lossy(&out.stderr));
        // A push between kills gives the controller new work.
        let repo = &mut repos[usize::try_from(round).unwrap_or(0)];
        repo.write("round.txt", format!("{round}\n")).expect("write");
        repo.commit(&format!("round {round}")).expect("commit");
        repo.push().expect("push");
        let request = format!("reconcile.fluxcd.io/requestedAt=r{round}");
        let _ = c.kubectl(&["annotate", "gitrepository", "-n", &ns, "--all", "--overwrite", &request]);
    }

    let deadline = Instant::now() + Duration::from_secs(180);
    let list = eventually(Duration::from_secs(180), || {
        let list = json(&c.kubectl(&["get", "gitrepositories", "-n", &ns, "-o", "json"]).ok("get"));
        let items = list["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 30 && items.iter().all(ready_at_revision)).then_some(items)
    })
    .unwrap_or_else(|| {
        let list = c.kubectl(&["get", "gitrepositories", "-n", &ns]).ok("get");
        panic!("not every GitRepository is Ready again after the kills (waited until {deadline:?}):\n{list}")
    });

    // Every artifact, downloaded, matches its digest; the revisions are the repositories' heads.
    for o in &list {
        let artifact = &o["status"]["artifact"];
        let url = artifact["url"].as_str().expect("url");
        let out = Command::new("curl").args(["-sSf", "--max-time", "20", url]).output().expect("curl");
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
        let mut sum =
            Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sha256sum");
        std::io::Write::write_all(&mut sum.stdin.take().expect("stdin"), &out.stdout).expect("pipe");
        let hex = String::from_utf8_lossy(&sum.wait_with_output().expect("sha256sum").stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(artifact["digest"].as_str(), Some(format!("sha256:{hex}").as_str()), "{url}");
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        let i: usize = name.trim_start_matches('g').parse().expect("index");
        let head = repos[i % 5].rev_parse("HEAD").expect("head");
        assert_eq!(artifact["revision"].as_str(), Some(format!("main@sha1:{head}").as_str()), "{name}");
    }
    // Nothing half-written is left where the server could serve it.
    let storage = c.dir.join("eddy-data/artifacts/gitrepository").join(&ns);
    for entry in walk(&storage) {
        let file = entry.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_owned();
        assert!(file.ends_with(".tar.gz") || file.starts_with(".eddy-tmp-"), "unexpected file {}", entry.display());
    }
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
