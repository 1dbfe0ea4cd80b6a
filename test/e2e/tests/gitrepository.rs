//! The GitRepository controller end to end: Eddy aggregated behind kube-apiserver with its
//! controllers, real Git servers on 127.0.0.1 (git http-backend over HTTP and HTTPS, OpenSSH
//! with git-shell), driven by kubectl and the real flux CLI.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually, json};
use eddy_test_git::{HttpGitServer, HttpProxy, RepoBuilder, SshGitServer, SshKeyPair, SshKeyType, StandardRepository};
use serde_json::Value;

const READY_WAIT: Duration = Duration::from_secs(90);

fn git_repo(ns: &str, name: &str, url: &str, extra: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  interval: 10m\n  timeout: 20s\n  url: {url}\n{extra}"
    )
}

fn apply(c: &Cluster, yaml: &str) {
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], yaml).ok("kubectl apply");
}

fn get(c: &Cluster, ns: &str, name: &str) -> Value {
    json(&c.kubectl(&["get", "gitrepository", name, "-n", ns, "-o", "json"]).ok("get gitrepository"))
}

fn condition(obj: &Value, type_: &str) -> Option<(String, String, String)> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_owned(),
            c["reason"].as_str().unwrap_or_default().to_owned(),
            c["message"].as_str().unwrap_or_default().to_owned(),
        )
    })
}

/// Waits until Ready=True at the current generation and returns the object.
fn wait_ready(c: &Cluster, ns: &str, name: &str) -> Value {
    eventually(READY_WAIT, || {
        let o = get(c, ns, name);
        let ready = condition(&o, "Ready").is_some_and(|(s, _, _)| s == "True");
        (ready && o["status"]["observedGeneration"] == o["metadata"]["generation"]).then_some(o)
    })
    .unwrap_or_else(|| panic!("{ns}/{name} not Ready within {READY_WAIT:?}: {}", get(c, ns, name)["status"]))
}

/// Waits until `pred` holds for the object's `Ready` condition and returns the object.
fn wait_for(c: &Cluster, ns: &str, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(READY_WAIT, || {
        let o = get(c, ns, name);
        pred(&o).then_some(o)
    })
    .unwrap_or_else(|| panic!("{ns}/{name}: {what} not reached: {}", get(c, ns, name)["status"]))
}

fn ready_reason(o: &Value) -> (String, String) {
    condition(o, "Ready").map(|(s, r, _)| (s, r)).unwrap_or_default()
}

/// Downloads the artifact, checks its digest, and lists its entries (`mode name`).
fn artifact_entries(o: &Value) -> BTreeMap<String, String> {
    let artifact = &o["status"]["artifact"];
    let url = artifact["url"].as_str().expect("artifact url");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.tar.gz");
    let out = Command::new("curl").args(["-sSf", "--max-time", "20", "-o"]).arg(&file).arg(url).output().expect("curl");
    assert!(out.status.success(), "downloading {url}: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&file).expect("read artifact");
    assert_eq!(artifact["size"].as_u64(), Some(bytes.len() as u64), "size");
    let sum = Command::new("sha256sum").arg(&file).output().expect("sha256sum");
    let hex = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap_or_default().to_owned();
    assert_eq!(artifact["digest"].as_str(), Some(format!("sha256:{hex}").as_str()), "digest of {url}");
    let list = Command::new("tar").args(["--numeric-owner", "-tvzf"]).arg(&file).output().expect("tar");
    assert!(list.status.success(), "tar -tvzf: {}", String::from_utf8_lossy(&list.stderr));
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.last().copied().unwrap_or_default().to_owned(), format!("{} {}", cols[0], cols[1]))
        })
        .collect()
}

/// None of `secrets` appears in the namespace's GitRepositories, its events or Eddy's log.
fn assert_not_leaked(c: &Cluster, ns: &str, secrets: &[&str]) {
    let everything = format!(
        "{}{}{}",
        c.kubectl(&["get", "gitrepositories", "-n", ns, "-o", "yaml"]).ok("get"),
        c.kubectl(&["get", "events", "-n", ns, "-o", "yaml"]).ok("events"),
        std::fs::read_to_string(c.dir.join("logs/eddy.log")).unwrap_or_default()
    );
    for secret in secrets {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

struct Fixture {
    _root: tempfile::TempDir,
    repo: StandardRepository,
    http: HttpGitServer,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    Fixture { _root: root, repo, http }
}

#[test]
fn every_reference_type_reaches_ready_with_fluxs_revision() {
    let c = cluster();
    let f = fixture();
    let ns = c.namespace("git-refs");
    let url = f.http.repo_url("repo.git");
    let main = f.repo.branch("main").expect("main").commit.clone();
    let dev = f.repo.branch("dev").expect("dev").commit.clone();
    let v100 = f.repo.tag("v1.0.0").expect("v1.0.0").commit.clone();
    let v110 = f.repo.tag("v1.1.0").expect("v1.1.0").commit.clone();
    let cases: Vec<(&str, String, String)> = vec![
        ("branch", "  ref:\n    branch: main\n".into(), format!("main@sha1:{main}")),
        ("tag", "  ref:\n    tag: v1.0.0\n".into(), format!("v1.0.0@sha1:{v100}")),
        ("semver", "  ref:\n    semver: \">=1.0.0 <2.0.0\"\n".into(), format!("v1.1.0@sha1:{v110}")),
        ("name", "  ref:\n    name: refs/heads/dev\n".into(), format!("refs/heads/dev@sha1:{dev}")),
        ("commit", format!("  ref:\n    commit: {v100}\n"), format!("sha1:{v100}")),
        ("commit-branch", format!("  ref:\n    branch: main\n    commit: {main}\n"), format!("main@sha1:{main}")),
    ];
    for (name, r, _) in &cases {
        apply(c, &git_repo(&ns, name, &url, r));
    }
    // A v1beta2 object is reconciled through conversion like any other.
    let v1beta2 = git_repo(&ns, "beta", &url, "  ref:\n    branch: dev\n").replace("/v1\n", "/v1beta2\n");
    assert!(v1beta2.contains("source.toolkit.fluxcd.io/v1beta2"));
    apply(c, &v1beta2);
    // No ref at all means the branch `master`, which this repository does not have.
    apply(c, &git_repo(&ns, "no-ref", &url, ""));
    for (name, _, revision) in &cases {
        let o = wait_ready(c, &ns, name);
        assert_eq!(o["status"]["artifact"]["revision"].as_str(), Some(revision.as_str()), "{name}");
        let (_, reason, message) = condition(&o, "Ready").expect("Ready");
        assert_eq!(reason, "Succeeded", "{name}");
        assert_eq!(message, format!("stored artifact for revision '{revision}'"), "{name}");
        assert_eq!(condition(&o, "ArtifactInStorage").map(|c| c.0), Some("True".into()), "{name}");
        assert!(o["metadata"]["finalizers"].as_array().is_some_and(|f| f.contains(&"finalizers.fluxcd.io".into())));
        let path = o["status"]["artifact"]["path"].as_str().unwrap_or_default();
        let commit = revision.rsplit(':').next().unwrap_or_default();
        assert_eq!(path, format!("gitrepository/{ns}/{name}/{commit}.tar.gz"));
    }
    let beta = wait_ready(c, &ns, "beta");
    assert_eq!(beta["status"]["artifact"]["revision"], format!("dev@sha1:{dev}"));
    let no_ref = wait_for(c, &ns, "no-ref", "Ready=False", |o| ready_reason(o).0 == "False");
    let (_, reason, msg) = condition(&no_ref, "FetchFailed").expect("FetchFailed");
    assert_eq!(reason, "GitOperationFailed");
    assert!(msg.contains("refs/heads/master"), "{msg}");

    // The artifact of the tag: digest and size as advertised, Flux's tarball layout (the
    // default ignore rules and the repository's .sourceignore applied).
    let entries = artifact_entries(&get(c, &ns, "tag"));
    assert_eq!(entries.get(".").map(String::as_str), Some("drwxr-x--- 0/0"), "{entries:?}");
    assert_eq!(entries.get("bin/run.sh").map(String::as_str), Some("-rwx------ 0/0"), "{entries:?}");
    assert_eq!(entries.get("version.txt").map(String::as_str), Some("-rw------- 0/0"), "{entries:?}");
    assert!(entries.contains_key("deploy/configmap.yaml"), "{entries:?}");
    assert!(!entries.keys().any(|k| k.starts_with("ignored")), "the .sourceignore'd directory: {entries:?}");
    assert!(!entries.contains_key("link"), "symlinks are left out: {entries:?}");
    assert!(!entries.keys().any(|k| k == ".gitmodules" || k.starts_with(".git/")), "{entries:?}");

    // flux get sources git shows revision (abbreviated to 8 hex digits, as the CLI prints it)
    // and readiness.
    let listed = c.flux(&["get", "sources", "git", "-n", &ns]).ok("flux get sources git");
    for (name, _, revision) in &cases {
        let line = listed
            .lines()
            .find(|l| l.split('\t').next().map(str::trim) == Some(*name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{listed}"));
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let short = &revision[..revision.find("sha1:").map_or(revision.len(), |i| (i + 13).min(revision.len()))];
        assert_eq!(cells.get(1).copied(), Some(short), "{line}");
        assert_eq!(cells.get(3).copied(), Some("True"), "{line}");
    }
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn a_push_and_flux_reconcile_give_a_new_artifact_and_an_event() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "app.git").expect("repo");
    repo.write("app.yaml", "a: 1\n").expect("write");
    let first = repo.commit("first commit").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("server");
    let ns = c.namespace("git-push");
    apply(c, &git_repo(&ns, "app", &http.repo_url("app.git"), "  ref:\n    branch: main\n"));
    let o = wait_ready(c, &ns, "app");
    assert_eq!(o["status"]["artifact"]["revision"], format!("main@sha1:{first}"));

    repo.write("app.yaml", "a: 2\n").expect("write");
    let second = repo.commit("second commit changes a").expect("commit");
    repo.push().expect("push");
    // The interval is 10m: only the reconcile request brings the new commit in.
    let _ = c.flux(&["reconcile", "source", "git", "app", "-n", &ns, "--timeout=60s"]).ok("flux reconcile source git");
    let o = get(c, &ns, "app");
    assert_eq!(o["status"]["artifact"]["revision"], format!("main@sha1:{second}"), "{}", o["status"]);
    assert!(o["status"]["lastHandledReconcileAt"].is_string());
    let entries = artifact_entries(&o);
    assert!(entries.contains_key("app.yaml"));

    // The NewArtifact event, through kubectl and the flux CLI.
    let events = eventually(Duration::from_secs(20), || {
        let out = c.kubectl(&["events", "-n", &ns, "--for", "gitrepository/app"]).ok("kubectl events");
        out.contains("stored artifact for commit 'second commit changes a'").then_some(out)
    })
    .expect("the NewArtifact event in kubectl events");
    assert!(events.contains("NewArtifact"), "{events}");
    let flux_events = c.flux(&["events", "-n", &ns, "--for", "GitRepository/app"]).ok("flux events");
    assert!(flux_events.contains("NewArtifact"), "{flux_events}");
    let event_list = json(&c.kubectl(&["get", "events", "-n", &ns, "-o", "json"]).ok("get events"));
    let new_artifact = event_list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["reason"] == "NewArtifact" && e["message"].as_str().is_some_and(|m| m.contains("second commit")))
        .expect("NewArtifact event");
    assert_eq!(new_artifact["source"]["component"], "source-controller");
    assert_eq!(
        new_artifact["metadata"]["annotations"]["source.toolkit.fluxcd.io/revision"],
        format!("main@sha1:{second}")
    );
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn credentials_failures_and_stalls_are_reported_without_leaking_secrets() {
    let c = cluster();
    let f = fixture();
    let root = f.http.root().to_path_buf();
    let authed = HttpGitServer::builder(&root).basic_auth("git-user", "s3cr3t-pa55word").start().expect("server");
    let ns = c.namespace("git-auth");
    let url = authed.repo_url("repo.git");
    let secret = |name: &str, password: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\nstringData:\n  username: git-user\n  password: {password}\n"
        )
    };
    apply(c, &secret("good", "s3cr3t-pa55word"));
    apply(c, &secret("bad", "wr0ng-pa55word"));
    let with_secret = |name: &str| format!("  ref:\n    branch: main\n  secretRef:\n    name: {name}\n");
    apply(c, &git_repo(&ns, "good", &url, &with_secret("good")));
    apply(c, &git_repo(&ns, "bad", &url, &with_secret("bad")));
    apply(c, &git_repo(&ns, "missing", &url, &with_secret("nope")));
    apply(c, &git_repo(&ns, "unreachable", "http://127.0.0.1:9/repo.git", "  ref:\n    branch: main\n"));
    apply(c, &git_repo(&ns, "badsemver", &f.http.repo_url("repo.git"), "  ref:\n    semver: \"not a range\"\n"));

    wait_ready(c, &ns, "good");
    let bad = wait_for(c, &ns, "bad", "Ready=False", |o| ready_reason(o).0 == "False");
    assert_eq!(ready_reason(&bad), ("False".into(), "AuthenticationFailed".into()), "{}", bad["status"]);
    let (_, _, msg) = condition(&bad, "FetchFailed").expect("FetchFailed");
    assert!(msg.contains("authentication"), "{msg}");
    let missing = wait_for(c, &ns, "missing", "Ready=False", |o| ready_reason(o).0 == "False");
    let (_, reason, msg) = condition(&missing, "Ready").expect("Ready");
    assert_eq!(reason, "AuthenticationFailed");
    assert!(msg.contains(&format!("failed to get secret '{ns}/nope'")) && msg.contains("not found"), "{msg}");
    let unreachable = wait_for(c, &ns, "unreachable", "Ready=False", |o| ready_reason(o).0 == "False");
    assert_eq!(ready_reason(&unreachable).1, "GitOperationFailed", "{}", unreachable["status"]);
    let stalled = wait_for(c, &ns, "badsemver", "Stalled", |o| condition(o, "Stalled").is_some_and(|s| s.0 == "True"));
    assert_eq!(ready_reason(&stalled).0, "False");
    assert!(condition(&stalled, "Reconciling").is_none(), "a stall is not a retry loop: {}", stalled["status"]);
    assert_eq!(stalled["status"]["observedGeneration"], stalled["metadata"]["generation"]);

    // Retries back off: the bad one is not fetched in a tight loop.
    let before = authed.counts().unauthorized;
    std::thread::sleep(Duration::from_secs(3));
    let during = authed.counts().unauthorized - before;
    assert!(during <= 6, "{during} refused requests in 3 s: no backoff");

    // No password in status, events or Eddy's log.
    assert_not_leaked(c, &ns, &["s3cr3t-pa55word", "wr0ng-pa55word"]);
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn ssh_with_known_hosts_and_unknown_host_keys_refused() {
    let c = cluster();
    let f = fixture();
    let key = SshKeyPair::generate(SshKeyType::Ed25519).expect("key");
    let sshd = SshGitServer::start(f.http.root(), [key.public_key()]).expect("sshd");
    let ns = c.namespace("git-ssh");
    let url = sshd.repo_url("repo.git");
    let other = SshGitServer::start(f.http.root(), [key.public_key()]).expect("second sshd");
    let secret = |name: &str, known_hosts: &str| {
        let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\nstringData:\n  identity: |\n{}  known_hosts: |\n{}",
            indent(key.private_key()),
            indent(known_hosts)
        )
    };
    apply(c, &secret("ssh", &sshd.known_hosts_line()));
    // Another server's host key under this server's address: refused.
    let wrong = {
        let (host, _) =
            sshd.known_hosts_line().split_once(' ').map(|(h, k)| (h.to_owned(), k.to_owned())).expect("line");
        let (_, key) =
            other.known_hosts_line().split_once(' ').map(|(h, k)| (h.to_owned(), k.to_owned())).expect("line");
        format!("{host} {key}")
    };
    apply(c, &secret("wrong", &wrong));
    let r = "  ref:\n    branch: dev\n  secretRef:\n    name: ";
    apply(c, &git_repo(&ns, "ssh", &url, &format!("{r}ssh\n")));
    apply(c, &git_repo(&ns, "wrong", &url, &format!("{r}wrong\n")));
    let o = wait_ready(c, &ns, "ssh");
    let dev = f.repo.branch("dev").expect("dev").commit.clone();
    assert_eq!(o["status"]["artifact"]["revision"], format!("dev@sha1:{dev}"));
    let w = wait_for(c, &ns, "wrong", "Ready=False", |o| ready_reason(o).0 == "False");
    let (_, _, msg) = condition(&w, "FetchFailed").expect("FetchFailed");
    assert!(msg.contains("knownhosts"), "{msg}");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn signatures_are_verified_in_process() {
    let c = cluster();
    let f = fixture();
    let ns = c.namespace("git-verify");
    let url = f.http.repo_url("repo.git");
    let key = f.repo.keys.openpgp_public_key().lines().map(|l| format!("    {l}\n")).collect::<String>();
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: keys\n  namespace: {ns}\nstringData:\n  author.asc: |\n{key}"
        ),
    );
    let verify =
        |r: &str, mode: &str| format!("  ref:\n{r}  verify:\n    mode: {mode}\n    secretRef:\n      name: keys\n");
    apply(c, &git_repo(&ns, "signed", &url, &verify("    branch: dev\n", "HEAD")));
    apply(c, &git_repo(&ns, "unsigned", &url, &verify("    branch: main\n", "HEAD")));
    apply(c, &git_repo(&ns, "signed-tag", &url, &verify("    tag: v1.1.0\n", "TagAndHEAD")));
    let o = wait_ready(c, &ns, "signed");
    let (status, reason, message) = condition(&o, "SourceVerified").expect("SourceVerified");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Succeeded"));
    assert!(message.starts_with("verified signature of\n\t- commit '"), "{message}");
    assert_eq!(o["status"]["sourceVerificationMode"], "HEAD");
    let t = wait_ready(c, &ns, "signed-tag");
    let (_, _, message) = condition(&t, "SourceVerified").expect("SourceVerified");
    assert!(message.contains("- tag 'v1.1.0@") && message.contains("- commit '"), "{message}");
    let u = wait_for(c, &ns, "unsigned", "Ready=False", |o| ready_reason(o).0 == "False");
    assert_eq!(ready_reason(&u).1, "InvalidCommitSignature", "{}", u["status"]);
    assert_eq!(condition(&u, "SourceVerified").map(|c| c.0), Some("False".into()));
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn suspend_resume_and_delete_remove_artifacts() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "s.git").expect("repo");
    repo.write("a.txt", "1\n").expect("write");
    repo.commit("one").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("server");
    let ns = c.namespace("git-suspend");
    apply(c, &git_repo(&ns, "s", &http.repo_url("s.git"), "  ref:\n    branch: main\n"));
    let o = wait_ready(c, &ns, "s");
    let url = o["status"]["artifact"]["url"].as_str().expect("url").to_owned();

    let _ = c.flux(&["suspend", "source", "git", "s", "-n", &ns]).ok("flux suspend");
    repo.write("a.txt", "2\n").expect("write");
    let second = repo.commit("two").expect("commit");
    repo.push().expect("push");
    http.reset_counts();
    let _ = c.kubectl(&[
        "annotate",
        "gitrepository",
        "s",
        "-n",
        &ns,
        "--overwrite",
        "reconcile.fluxcd.io/requestedAt=now1",
    ]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(http.counts().requests, 0, "a suspended object is not fetched");
    let _ = c.flux(&["resume", "source", "git", "s", "-n", &ns, "--timeout=60s"]).ok("flux resume");
    let o = wait_for(c, &ns, "s", "the new revision", |o| {
        o["status"]["artifact"]["revision"].as_str().is_some_and(|r| r.ends_with(&second))
    });
    assert_eq!(ready_reason(&o).0, "True");

    let _ = c.kubectl(&["delete", "gitrepository", "s", "-n", &ns, "--timeout=60s"]).ok("delete");
    let status =
        Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &url]).output().expect("curl");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "404", "the artifact is gone with its object");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn includes_submodules_sparse_checkout_and_https_with_a_ca() {
    let c = cluster();
    let f = fixture();
    let tls = HttpGitServer::builder(f.http.root()).tls().start().expect("https server");
    let ns = c.namespace("git-content");
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ca\n  namespace: {ns}\nstringData:\n  ca.crt: |\n{}",
            indent(tls.ca_pem().expect("ca"))
        ),
    );
    let https = tls.repo_url("repo.git");
    apply(c, &git_repo(&ns, "https", &https, "  ref:\n    branch: main\n  secretRef:\n    name: ca\n"));
    apply(c, &git_repo(&ns, "no-ca", &https, "  ref:\n    branch: main\n"));
    let url = f.http.repo_url("repo.git");
    apply(c, &git_repo(&ns, "subs", &url, "  ref:\n    branch: main\n  recurseSubmodules: true\n"));
    apply(c, &git_repo(&ns, "sparse", &url, "  ref:\n    branch: main\n  sparseCheckout:\n  - deploy\n"));
    // An include of a repository that does not exist yet: IncludeUnavailable, then Ready.
    let include = "  ref:\n    branch: main\n  include:\n  - repository:\n      name: lib\n    fromPath: deploy\n    toPath: vendor/lib\n";
    apply(c, &git_repo(&ns, "app", &url, include));
    let waiting = wait_for(c, &ns, "app", "IncludeUnavailable", |o| {
        condition(o, "IncludeUnavailable").is_some_and(|s| s.0 == "True")
    });
    assert_eq!(condition(&waiting, "IncludeUnavailable").map(|c| c.1), Some("NotFound".into()));
    apply(c, &git_repo(&ns, "lib", &url, "  ref:\n    tag: v1.0.0\n"));
    // The include is retried after --requeue-dependency (30 s); a reconcile request is sooner.
    wait_ready(c, &ns, "lib");
    let _ = c.kubectl(&[
        "annotate",
        "gitrepository",
        "app",
        "-n",
        &ns,
        "--overwrite",
        "reconcile.fluxcd.io/requestedAt=now",
    ]);
    let app = wait_ready(c, &ns, "app");
    let entries = artifact_entries(&app);
    assert!(entries.contains_key("vendor/lib/configmap.yaml"), "{entries:?}");
    assert_eq!(app["status"]["includedArtifacts"].as_array().map(Vec::len), Some(1), "{}", app["status"]);
    assert_eq!(app["status"]["observedInclude"][0]["toPath"], "vendor/lib");

    let o = wait_ready(c, &ns, "https");
    assert!(o["status"]["artifact"]["revision"].as_str().is_some_and(|r| r.starts_with("main@sha1:")));
    let no_ca = wait_for(c, &ns, "no-ca", "Ready=False", |o| ready_reason(o).0 == "False");
    assert_eq!(ready_reason(&no_ca).1, "GitOperationFailed", "{}", no_ca["status"]);

    let subs = wait_ready(c, &ns, "subs");
    assert!(artifact_entries(&subs).contains_key("sub/sub.txt"), "the submodule is checked out");
    assert_eq!(subs["status"]["observedRecurseSubmodules"], true);
    let sparse = wait_ready(c, &ns, "sparse");
    let entries = artifact_entries(&sparse);
    assert!(entries.contains_key("deploy/configmap.yaml") && !entries.contains_key("README.md"), "{entries:?}");
    assert_eq!(sparse["status"]["observedSparseCheckout"], serde_json::json!(["deploy"]));
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn unchanged_remotes_are_not_fetched_and_a_damaged_artifact_is_rebuilt() {
    let c = cluster();
    let f = fixture();
    let ns = c.namespace("git-steady");
    apply(c, &git_repo(&ns, "steady", &f.http.repo_url("repo.git"), "  ref:\n    branch: main\n"));
    let o = wait_ready(c, &ns, "steady");
    let digest = o["status"]["artifact"]["digest"].clone();

    // A reconcile request with nothing new: an ls-remote, no fetch, no new artifact.
    f.http.reset_counts();
    let _ = c.kubectl(&[
        "annotate",
        "gitrepository",
        "steady",
        "-n",
        &ns,
        "--overwrite",
        "reconcile.fluxcd.io/requestedAt=a",
    ]);
    let o = wait_for(c, &ns, "steady", "the request handled", |o| o["status"]["lastHandledReconcileAt"] == "a");
    assert_eq!(f.http.counts().fetches, 0, "{:?}", f.http.counts());
    assert!(f.http.counts().ls_refs + f.http.counts().upload_pack_info_refs > 0, "the remote was asked");
    assert_eq!(o["status"]["artifact"]["digest"], digest);
    assert_eq!(ready_reason(&o).0, "True");

    // Damage the stored file: the next reconcile notices, warns and rebuilds it.
    let path = o["status"]["artifact"]["path"].as_str().expect("path");
    let file = c.dir.join("eddy-data/artifacts").join(path);
    std::fs::write(&file, b"not the artifact").expect("damage the artifact");
    let _ = c.kubectl(&[
        "annotate",
        "gitrepository",
        "steady",
        "-n",
        &ns,
        "--overwrite",
        "reconcile.fluxcd.io/requestedAt=b",
    ]);
    let o = wait_for(c, &ns, "steady", "the request handled", |o| o["status"]["lastHandledReconcileAt"] == "b");
    assert_eq!(ready_reason(&o).0, "True");
    assert!(f.http.counts().fetches > 0, "the artifact had to be rebuilt from a clone");
    let _ = artifact_entries(&o); // the served file matches the new digest
    let warned = eventually(Duration::from_secs(20), || {
        let e = c.kubectl(&["get", "events", "-n", &ns, "-o", "json"]).ok("events");
        e.contains("ArtifactVerificationFailed").then_some(e)
    });
    assert!(warned.is_some(), "no ArtifactVerificationFailed event");

    // The controllers' metrics are on Eddy's /metrics (client certificate of the cluster admin).
    let pki = c.dir.join("pki");
    let metrics = Command::new("curl")
        .args(["-sSf", "--max-time", "10", "--cacert"])
        .arg(pki.join("eddy-ca.crt"))
        .arg("--cert")
        .arg(pki.join("admin.crt"))
        .arg("--key")
        .arg(pki.join("admin.key"))
        .arg(format!("https://127.0.0.1:{}/metrics", c.eddy_port))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.status.success(), "{}", String::from_utf8_lossy(&metrics.stderr));
    for series in [
        format!("gotk_reconcile_duration_seconds_count{{kind=\"GitRepository\",name=\"steady\",namespace=\"{ns}\"}}"),
        "controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"requeue_after\"}".to_owned(),
        "workqueue_adds_total{controller=\"gitrepository\",name=\"gitrepository\"}".to_owned(),
    ] {
        assert!(text.contains(&series), "{series} missing from /metrics");
    }
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn proxy_secret_ref_routes_git_through_an_authenticating_proxy() {
    let c = cluster();
    let f = fixture();
    let proxy = HttpProxy::with_basic_auth("proxy-user", "pr0xy-pa55word").expect("proxy");
    let ns = c.namespace("git-proxy");
    let url = f.http.repo_url("repo.git");
    let secret = |name: &str, password: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\nstringData:\n  \
             address: {}\n  username: proxy-user\n  password: {password}\n",
            proxy.url()
        )
    };
    apply(c, &secret("proxy", "pr0xy-pa55word"));
    apply(c, &secret("proxy-wrong", "n0t-the-pa55word"));
    let with_proxy = |name: &str| format!("  ref:\n    branch: main\n  proxySecretRef:\n    name: {name}\n");
    apply(c, &git_repo(&ns, "proxied", &url, &with_proxy("proxy")));
    apply(c, &git_repo(&ns, "wrong", &url, &with_proxy("proxy-wrong")));
    apply(c, &git_repo(&ns, "missing", &url, &with_proxy("nope")));

    let o = wait_ready(c, &ns, "proxied");
    let main = f.repo.branch("main").expect("main").commit.clone();
    assert_eq!(o["status"]["artifact"]["revision"], format!("main@sha1:{main}"));
    assert!(proxy.counts().proxied() > 0, "nothing went through the proxy: {:?}", proxy.counts());
    assert!(proxy.targets().iter().all(|t| t.contains("127.0.0.1")), "{:?}", proxy.targets());

    let wrong = wait_for(c, &ns, "wrong", "Ready=False", |o| ready_reason(o).0 == "False");
    assert!(proxy.counts().rejected_auth > 0, "{:?}", proxy.counts());
    assert!(wrong["status"]["artifact"].is_null(), "{}", wrong["status"]);
    let missing = wait_for(c, &ns, "missing", "Ready=False", |o| ready_reason(o).0 == "False");
    let (_, reason, msg) = condition(&missing, "Ready").expect("Ready");
    assert_eq!(reason, "AuthenticationFailed");
    assert!(msg.contains(&format!("failed to get secret '{ns}/nope'")), "{msg}");

    assert_not_leaked(c, &ns, &["pr0xy-pa55word", "n0t-the-pa55word"]);
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
