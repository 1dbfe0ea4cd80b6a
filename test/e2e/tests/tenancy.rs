//! Multi-tenancy switches of the Kustomization controller that the shared test cluster's Eddy
//! does not run with, and applying to another cluster:
//!
//! - `--no-cross-namespace-refs` and `--default-service-account`, on an `eddy serve` of the
//!   test's own (standalone, its controllers applying to the test cluster through
//!   `--kubeconfig`, as in `leader.rs`): a Kustomization naming a source in another namespace
//!   is refused with kustomize-controller's AccessDenied, and one without
//!   `serviceAccountName` applies as the default account, so the API server's RBAC denies what
//!   that account may not do (seed §14: tenants).
//! - `spec.kubeConfig.secretRef`: the aggregated Eddy applies to a second cluster
//!   (`remote_cluster()`, another `hack/cluster` without Eddy) with the kubeconfig in a Secret,
//!   prunes there, and leaves the local cluster untouched.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy_e2e::{Cluster, StandaloneEddy, cluster, eventually, json, remote_cluster};
use eddy_test_git::{HttpGitServer, RepoBuilder};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("kubectl");
    if let Some(input) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn apply(kubeconfig: &Path, yaml: &str) {
    let (ok, _, err) = kubectl(kubeconfig, &["apply", "-f", "-"], Some(yaml));
    assert!(ok, "kubectl apply: {err}\n{yaml}");
}

fn get(kubeconfig: &Path, kind: &str, ns: &str, name: &str) -> Option<Value> {
    let (ok, out, err) = kubectl(
        kubeconfig,
        &["get", kind, name, "-n", ns, "-o", "json", "--ignore-not-found", "--show-managed-fields"],
        None,
    );
    assert!(ok, "get {kind} {ns}/{name}: {err}");
    (!out.trim().is_empty()).then(|| json(&out))
}

fn ready_condition(o: &Value) -> (String, String, String) {
    o["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("status"), s("reason"), s("message"))
        })
        .unwrap_or_default()
}

/// Waits until the Kustomization's Ready condition has `reason` for its generation (the
/// condition's `observedGeneration`: `status.observedGeneration` moves only on success, as in
/// kustomize-controller).
fn wait_reason(kubeconfig: &Path, ns: &str, name: &str, reason: &str) -> Value {
    let ks = || get(kubeconfig, "kustomizations.kustomize.toolkit.fluxcd.io", ns, name);
    eventually(WAIT, || {
        let o = ks()?;
        let ready = o["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?.clone();
        (ready["reason"] == reason && ready["observedGeneration"] == o["metadata"]["generation"]).then_some(o)
    })
    .unwrap_or_else(|| panic!("{ns}/{name}: Ready reason {reason} not reached: {:?}", ks()))
}

fn git_repository(ns: &str, url: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: repo\n  namespace: {ns}\n\
         spec:\n  interval: 1m\n  timeout: 20s\n  url: {url}\n  ref:\n    branch: main\n"
    )
}

fn kustomization(ns: &str, name: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  interval: 10m\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: repo\n{extra}"
    )
}

/// A ServiceAccount bound to the `admin` ClusterRole in its own namespace only.
fn admin_account(c: &Cluster, ns: &str, name: &str) {
    let _ = c
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\n---\n\
                 apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
                 roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: admin\nsubjects:\n\
                 - kind: ServiceAccount\n  name: {name}\n  namespace: {ns}\n"
            ),
        )
        .ok("service account RBAC");
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  owner: tenant\n")
}

#[test]
fn cross_namespace_refs_blocked_and_the_default_service_account_impersonated() {
    let c = cluster();
    let src = c.namespace("tn-src");
    let tenant = c.namespace("tn-tenant");
    let escape = format!("tenant-escape-{}", &tenant[tenant.len() - 6..]);
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "repo.git").expect("repo");
    repo.write("own/config.yaml", config_map("tenant-config")).expect("write");
    repo.write(
        "escape/role.yaml",
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {escape}\nrules:\n\
             - apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get]\n"
        ),
    )
    .expect("write");
    let _ = repo.commit("tenant").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    // The tenant's account may administer its namespace only.
    admin_account(c, &tenant, "flux-tenant");

    let work = tempfile::tempdir().expect("tempdir");
    let eddy = StandaloneEddy::start(
        work.path(),
        &c.kubeconfig,
        &[
            "--controllers",
            "gitrepository,kustomization",
            "--no-cross-namespace-refs",
            "--default-service-account",
            "flux-tenant",
        ],
    );
    let url = http.repo_url("repo.git");
    apply(&eddy.kubeconfig, &git_repository(&src, &url));
    apply(&eddy.kubeconfig, &git_repository(&tenant, &url));

    // A source in another namespace: refused before anything is fetched.
    apply(
        &eddy.kubeconfig,
        &kustomization(&tenant, "cross", "./own", &format!("  targetNamespace: {tenant}\n"))
            .replace("    name: repo\n", &format!("    name: repo\n    namespace: {src}\n")),
    );
    let o = wait_reason(&eddy.kubeconfig, &tenant, "cross", "AccessDenied");
    let (status, _, message) = ready_condition(&o);
    assert_eq!(status, "False");
    assert_eq!(
        message,
        format!("can't access 'GitRepository/{src}/repo', cross-namespace references have been blocked")
    );

    // No serviceAccountName: applied as flux-tenant, which may write its namespace...
    apply(&eddy.kubeconfig, &kustomization(&tenant, "own", "./own", &format!("  targetNamespace: {tenant}\n")));
    let _ = wait_reason(&eddy.kubeconfig, &tenant, "own", "ReconciliationSucceeded");
    let cm = get(&c.kubeconfig, "configmap", &tenant, "tenant-config").expect("the tenant's ConfigMap is applied");
    assert_eq!(cm["data"]["owner"], "tenant");
    // ...but not make a ClusterRole: the API server's denial names the impersonated account.
    apply(&eddy.kubeconfig, &kustomization(&tenant, "escape", "./escape", ""));
    let o = wait_reason(&eddy.kubeconfig, &tenant, "escape", "ReconciliationFailed");
    let message = ready_condition(&o).2;
    assert!(message.contains("forbidden"), "{message}");
    assert!(message.contains(&format!("system:serviceaccount:{tenant}:flux-tenant")), "{message}");
    assert!(get(&c.kubeconfig, "clusterrole", "", &escape).is_none(), "the tenant made a ClusterRole");
    let log = eddy.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn kube_config_secret_ref_applies_to_a_second_cluster() {
    let c = cluster();
    let remote = remote_cluster();
    let ns = c.namespace("ks-remote");
    let target = format!("remote-{}", &ns[ns.len() - 6..]);
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "repo.git").expect("repo");
    repo.write("app/ns.yaml", format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {target}\n"))
        .expect("write");
    repo.write("app/a.yaml", config_map("a").replace("name: a\n", &format!("name: a\n  namespace: {target}\n")))
        .expect("write");
    repo.write("app/b.yaml", config_map("b").replace("name: b\n", &format!("name: b\n  namespace: {target}\n")))
        .expect("write");
    let first = repo.commit("two ConfigMaps").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("http git server");

    // The remote cluster's admin kubeconfig, certificates inline, in a Secret (key `value`).
    let (ok, flat, err) = kubectl(&remote.kubeconfig, &["config", "view", "--raw", "--flatten", "--minify"], None);
    assert!(ok, "kubectl config view: {err}");
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "remote-kubeconfig", "namespace": ns.as_str()},
        "stringData": {"value": flat},
    });
    apply(&c.kubeconfig, &secret.to_string());
    apply(&c.kubeconfig, &git_repository(&ns, &http.repo_url("repo.git")));
    apply(
        &c.kubeconfig,
        &kustomization(&ns, "remote", "./app", "  kubeConfig:\n    secretRef:\n      name: remote-kubeconfig\n"),
    );
    let o = wait_reason(&c.kubeconfig, &ns, "remote", "ReconciliationSucceeded");
    assert_eq!(o["status"]["lastAppliedRevision"], format!("main@sha1:{first}"));
    for name in ["a", "b"] {
        let cm = get(&remote.kubeconfig, "configmap", &target, name)
            .unwrap_or_else(|| panic!("{name} not in the remote cluster"));
        assert_eq!(cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "remote");
        let managers: Vec<&str> = cm["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert!(managers.contains(&"kustomize-controller"), "{managers:?}");
    }
    assert!(get(&c.kubeconfig, "namespace", "", &target).is_none(), "applied to the local cluster too");

    // A file removed from Git is pruned in the remote cluster.
    repo.remove("app/b.yaml").expect("remove");
    let second = repo.commit("drop b").expect("commit");
    repo.push().expect("push");
    let _ = c
        .kubectl(&[
            "annotate",
            "--overwrite",
            "gitrepository",
            "repo",
            "-n",
            &ns,
            "reconcile.fluxcd.io/requestedAt=now",
        ])
        .ok("annotate");
    let pruned = eventually(WAIT, || {
        let o = get(&c.kubeconfig, "kustomizations.kustomize.toolkit.fluxcd.io", &ns, "remote")?;
        (o["status"]["lastAppliedRevision"] == format!("main@sha1:{second}")
            && get(&remote.kubeconfig, "configmap", &target, "b").is_none())
        .then_some(())
    });
    assert!(pruned.is_some(), "b was not pruned from the remote cluster");
    assert!(get(&remote.kubeconfig, "configmap", &target, "a").is_some());

    // Deleting the Kustomization prunes the remote objects (deletionPolicy MirrorPrune).
    let _ = c.kubectl(&["delete", "kustomization", "remote", "-n", &ns, "--wait=true", "--timeout=90s"]).ok("delete");
    let gone = eventually(WAIT, || {
        get(&remote.kubeconfig, "namespace", "", &target)
            .is_none_or(|o| o["metadata"]["deletionTimestamp"].is_string())
            .then_some(())
    });
    assert!(gone.is_some(), "the remote namespace was not pruned");
}

/// A ConfigMap for `spec.kubeConfig.configMapRef` (fluxcd/pkg's keys).
fn workload_identity_config(
    ns: &str,
    name: &str,
    provider: &str,
    c: &Cluster,
    service_account: Option<&str>,
) -> String {
    let ca = std::fs::read_to_string(c.dir.join("pki/ca.crt")).expect("cluster CA");
    let mut data = serde_json::json!({
        "provider": provider,
        "address": c.server,
        "ca.crt": ca,
        // kube-apiserver's audience (hack/cluster: --service-account-issuer).
        "audiences": "https://kubernetes.default.svc.cluster.local\n",
    });
    if let Some(sa) = service_account {
        data["serviceAccountName"] = sa.into();
    }
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data})
        .to_string()
}

#[test]
fn kube_config_config_map_ref_with_the_generic_workload_identity() {
    let c = cluster();
    let ns = c.namespace("ks-wi");
    let escape = format!("wi-escape-{}", &ns[ns.len() - 6..]);
    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "repo.git").expect("repo");
    repo.write("own/config.yaml", config_map("wi-config")).expect("write");
    repo.write(
        "escape/role.yaml",
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {escape}\nrules:\n\
             - apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get]\n"
        ),
    )
    .expect("write");
    let _ = repo.commit("workload identity").expect("commit");
    repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    admin_account(c, &ns, "flux-wi");
    for (name, provider, sa) in
        [("wi", "generic", Some("flux-wi")), ("controller", "generic", None), ("cloud", "aws", Some("flux-wi"))]
    {
        apply(&c.kubeconfig, &workload_identity_config(&ns, name, provider, c, sa));
    }
    let remote = |cm: &str| format!("  targetNamespace: {ns}\n  kubeConfig:\n    configMapRef:\n      name: {cm}\n");

    // The shared cluster's Eddy runs without the ObjectLevelWorkloadIdentity gate: refused as in Flux.
    apply(&c.kubeconfig, &git_repository(&ns, &http.repo_url("repo.git")));
    apply(&c.kubeconfig, &kustomization(&ns, "gated", "./own", &remote("wi")));
    let o = wait_reason(&c.kubeconfig, &ns, "gated", "ReconciliationFailed");
    let message = ready_condition(&o).2;
    assert!(message.contains("ObjectLevelWorkloadIdentity feature gate is not enabled"), "{message}");
    let _ = c.kubectl(&["delete", "kustomization", "gated", "-n", &ns, "--wait=true", "--timeout=60s"]).ok("delete");

    // An Eddy of its own with the gate: the service account's token, its rights.
    let work = tempfile::tempdir().expect("tempdir");
    let eddy = StandaloneEddy::start(
        work.path(),
        &c.kubeconfig,
        &["--controllers", "gitrepository,kustomization", "--feature-gates", "ObjectLevelWorkloadIdentity=true"],
    );
    apply(&eddy.kubeconfig, &git_repository(&ns, &http.repo_url("repo.git")));
    apply(&eddy.kubeconfig, &kustomization(&ns, "own", "./own", &remote("wi")));
    let _ = wait_reason(&eddy.kubeconfig, &ns, "own", "ReconciliationSucceeded");
    assert!(get(&c.kubeconfig, "configmap", &ns, "wi-config").is_some(), "wi-config not applied");
    apply(
        &eddy.kubeconfig,
        &kustomization(&ns, "escape", "./escape", &remote("wi").replace(&format!("  targetNamespace: {ns}\n"), "")),
    );
    let o = wait_reason(&eddy.kubeconfig, &ns, "escape", "ReconciliationFailed");
    let message = ready_condition(&o).2;
    assert!(
        message.contains("forbidden") && message.contains(&format!("system:serviceaccount:{ns}:flux-wi")),
        "{message}"
    );
    assert!(get(&c.kubeconfig, "clusterrole", "", &escape).is_none(), "the account made a ClusterRole");

    // No serviceAccountName: the controller's own account, which Eddy outside a pod does not have.
    apply(&eddy.kubeconfig, &kustomization(&ns, "controller", "./own", &remote("controller")));
    let o = wait_reason(&eddy.kubeconfig, &ns, "controller", "ReconciliationFailed");
    let message = ready_condition(&o).2;
    assert!(message.contains("failed to read service account token file"), "{message}");
    // A cloud provider: refused by name.
    apply(&eddy.kubeconfig, &kustomization(&ns, "cloud", "./own", &remote("cloud")));
    let o = wait_reason(&eddy.kubeconfig, &ns, "cloud", "ReconciliationFailed");
    let message = ready_condition(&o).2;
    assert!(message.contains("provider 'aws' is not supported by Eddy"), "{message}");
}
