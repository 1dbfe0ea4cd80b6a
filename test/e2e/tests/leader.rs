//! Leader election between two `eddy serve` processes: only the leader reconciles; when it is
//! killed, the other takes over within the lease duration. Each process is standalone with its
//! own store (the same GitRepository is created in both), sharing the cluster's Lease.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy_e2e::{StandaloneEddy, cluster, eventually, json};
use eddy_test_git::{HttpGitServer, RepoBuilder};

fn start(dir: &Path, cluster_kubeconfig: &Path, lease_ns: &str) -> StandaloneEddy {
    StandaloneEddy::start(
        dir,
        cluster_kubeconfig,
        &[
            "--enable-leader-election",
            "--leader-election-namespace",
            lease_ns,
            "--leader-election-lease-duration",
            "6s",
            "--leader-election-renew-deadline",
            "4s",
            "--leader-election-retry-period",
            "1s",
        ],
    )
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("kubectl");
    if let Some(input) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready(e: &StandaloneEddy) -> bool {
    let o = json(&kubectl(&e.kubeconfig, &["get", "gitrepository", "app", "-n", "default", "-o", "json"], None));
    o["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[test]
fn only_the_leader_reconciles_and_the_other_takes_over() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "app.git").expect("repo");
    repo.write("a.yaml", "a: 1\n").expect("write");
    repo.commit("one").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("server");
    let lease_ns = c.namespace("lease");
    let work = tempfile::tempdir().expect("tempdir");
    let a = start(&work.path().join("a"), &c.kubeconfig, &lease_ns);
    let b = start(&work.path().join("b"), &c.kubeconfig, &lease_ns);
    let gr = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: default\n\
         spec:\n  interval: 1m\n  url: {}\n  ref:\n    branch: main\n",
        http.repo_url("app.git")
    );
    kubectl(&a.kubeconfig, &["apply", "-f", "-"], Some(&gr));
    kubectl(&b.kubeconfig, &["apply", "-f", "-"], Some(&gr));

    // Exactly one of them reconciles.
    let leader_is_a = eventually(Duration::from_secs(60), || match (ready(&a), ready(&b)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        (true, true) => panic!("both processes reconciled: two leaders"),
        (false, false) => None,
    })
    .unwrap_or_else(|| panic!("no process reconciled:\nA: {}\nB: {}", log(&a.log), log(&b.log)));
    std::thread::sleep(Duration::from_secs(5));
    assert!(ready(&a) != ready(&b), "the follower reconciled while the leader lived");
    let lease = json(
        &c.kubectl(&["get", "lease", "eddy-controllers-leader-election", "-n", &lease_ns, "-o", "json"]).ok("lease"),
    );
    assert!(lease["spec"]["holderIdentity"].as_str().is_some_and(|h| !h.is_empty()), "{lease}");

    // kill -9 the leader: the follower takes over once the lease expires (6 s).
    let (mut leader, follower) = if leader_is_a { (a, b) } else { (b, a) };
    let killed = Instant::now();
    let _ = Command::new("kill").args(["-9", &leader.child.id().to_string()]).status();
    let _ = leader.child.wait();
    let took = eventually(Duration::from_secs(45), || ready(&follower).then(|| killed.elapsed()))
        .unwrap_or_else(|| panic!("the follower never took over:\n{}", log(&follower.log)));
    assert!(took < Duration::from_secs(30), "took over after {took:?}");
    let _ = c.kubectl(&["delete", "namespace", &lease_ns, "--wait=false"]);
}

fn log(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
