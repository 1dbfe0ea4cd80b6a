//! The Kustomization controller end to end: Eddy aggregated behind kube-apiserver with its
//! controllers, a real Git server on 127.0.0.1, objects applied to the real cluster (kwok runs
//! the pods), driven by kubectl and the real flux CLI.

use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually, json};
use eddy_test_git::{HttpGitServer, RepoBuilder};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

fn apply(c: &Cluster, yaml: &str) {
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], yaml).ok("kubectl apply");
}

fn get(c: &Cluster, kind: &str, ns: &str, name: &str) -> Option<Value> {
    let r = c.kubectl(&["get", kind, name, "-n", ns, "-o", "json", "--ignore-not-found"]);
    let text = r.ok(&format!("get {kind} {ns}/{name}"));
    (!text.trim().is_empty()).then(|| json(&text))
}

fn ks(c: &Cluster, ns: &str, name: &str) -> Value {
    get(c, "kustomizations.kustomize.toolkit.fluxcd.io", ns, name)
        .unwrap_or_else(|| panic!("kustomization {ns}/{name} missing"))
}

fn condition(obj: &Value, type_: &str) -> (String, String, String) {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default()
}

/// Waits until the Kustomization is Ready at its generation, with `revision` applied when given.
fn wait_ready(c: &Cluster, ns: &str, name: &str, revision: Option<&str>) -> Value {
    eventually(WAIT, || {
        let o = ks(c, ns, name);
        let ready =
            condition(&o, "Ready").0 == "True" && o["status"]["observedGeneration"] == o["metadata"]["generation"];
        let applied = revision.is_none_or(|r| o["status"]["lastAppliedRevision"] == r);
        (ready && applied).then_some(o)
    })
    .unwrap_or_else(|| panic!("{ns}/{name} not Ready within {WAIT:?}: {}", ks(c, ns, name)["status"]))
}

/// Waits until `Ready` has `reason` and returns the object.
fn wait_reason(c: &Cluster, ns: &str, name: &str, reason: &str) -> Value {
    eventually(WAIT, || {
        let o = ks(c, ns, name);
        (condition(&o, "Ready").1 == reason).then_some(o)
    })
    .unwrap_or_else(|| panic!("{ns}/{name}: Ready reason {reason} not reached: {}", ks(c, ns, name)["status"]))
}

fn git_repository(ns: &str, name: &str, url: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  interval: 1m\n  timeout: 20s\n  url: {url}\n  ref:\n    branch: main\n"
    )
}

fn kustomization(ns: &str, name: &str, source: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
         spec:\n  interval: 10m\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: {source}\n{extra}"
    )
}

fn deployment(name: &str, extra_pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n\
         \x20 template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n{extra_pod_spec}      containers:\n      - name: app\n        image: nginx:1.27\n"
    )
}

fn config_map(name: &str, key: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {key}: \"{value}\"\n")
}

struct Repo {
    _root: tempfile::TempDir,
    builder: RepoBuilder,
    http: HttpGitServer,
}

impl Repo {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let builder = RepoBuilder::init(root.path(), "repo.git").expect("repo");
        let http = HttpGitServer::start(root.path()).expect("http git server");
        Self { _root: root, builder, http }
    }

    fn url(&self) -> String {
        self.http.repo_url("repo.git")
    }

    fn write(&mut self, path: &str, contents: &str) -> &mut Self {
        self.builder.write(path, contents).expect("write");
        self
    }

    fn remove(&mut self, path: &str) -> &mut Self {
        self.builder.remove(path).expect("remove");
        self
    }

    /// Commits and pushes; returns Flux's revision string `main@sha1:<commit>`.
    fn commit(&mut self, message: &str) -> String {
        let commit = self.builder.commit(message).expect("commit");
        self.builder.push().expect("push");
        format!("main@sha1:{commit}")
    }
}

fn data(c: &Cluster, ns: &str, name: &str, key: &str) -> Option<String> {
    get(c, "configmap", ns, name).and_then(|o| o["data"][key].as_str().map(str::to_owned))
}

#[test]
fn the_gitops_loop_applies_prunes_corrects_drift_and_deletes() {
    let c = cluster();
    let ns = c.namespace("ks-loop");
    let mut repo = Repo::new();
    repo.write("deploy/config.yaml", &config_map("app-config", "color", "blue"))
        .write("deploy/web.yaml", &deployment("web", ""))
        .write(
            "deploy/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n",
        )
        .write("README.md", "not a manifest\n");
    let rev1 = repo.commit("first");
    apply(c, &git_repository(&ns, "repo", &repo.url()));
    apply(
        c,
        &kustomization(
            &ns,
            "app",
            "repo",
            "./deploy",
            &format!("  targetNamespace: {ns}\n  wait: true\n  timeout: 90s\n"),
        ),
    );
    let o = wait_ready(c, &ns, "app", Some(&rev1));
    assert_eq!(condition(&o, "Ready").2, format!("Applied revision: {rev1}"));
    assert_eq!(condition(&o, "Healthy").0, "True", "{}", o["status"]);
    assert_eq!(o["status"]["lastAttemptedRevision"], rev1.as_str());
    let mut ids: Vec<String> = o["status"]["inventory"]["entries"]
        .as_array()
        .expect("inventory")
        .iter()
        .map(|e| format!("{} {}", e["id"].as_str().unwrap_or_default(), e["v"].as_str().unwrap_or_default()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            format!("{ns}_app-config__ConfigMap v1"),
            format!("{ns}_web__Service v1"),
            format!("{ns}_web_apps_Deployment v1")
        ]
    );
    let cm = json(
        &c.kubectl(&["get", "configmap", "app-config", "-n", &ns, "-o", "json", "--show-managed-fields"]).ok("get cm"),
    );
    assert_eq!(cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "app");
    assert_eq!(cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"], ns.as_str());
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kustomize-controller"), "{managers:?}");
    let web = get(c, "deployment", &ns, "web").expect("deployment applied");
    assert_eq!(web["status"]["availableReplicas"], 1, "wait: true returned before the rollout: {}", web["status"]);
    let history = o["status"]["history"].as_array().expect("history");
    assert_eq!(history[0]["lastReconciledStatus"], "ReconciliationSucceeded");
    assert_eq!(history[0]["metadata"]["revision"], rev1.as_str());

    // A change in git is applied; a file removed from git is pruned.
    repo.write("deploy/config.yaml", &config_map("app-config", "color", "green")).remove("deploy/service.yaml");
    let rev2 = repo.commit("second");
    let _ = c
        .flux(&["reconcile", "kustomization", "app", "-n", &ns, "--with-source", "--timeout", "2m"])
        .ok("flux reconcile --with-source");
    let o = ks(c, &ns, "app");
    assert_eq!(o["status"]["lastAppliedRevision"], rev2.as_str(), "{}", o["status"]);
    assert_eq!(data(c, &ns, "app-config", "color").as_deref(), Some("green"));
    assert!(get(c, "service", &ns, "web").is_none(), "the removed Service was not pruned");
    assert_eq!(o["status"]["inventory"]["entries"].as_array().map(Vec::len), Some(2));

    // A manual change is reverted at the next reconcile.
    let _ = c
        .kubectl(&["patch", "configmap", "app-config", "-n", &ns, "--type=merge", "-p", r#"{"data":{"color":"red"}}"#])
        .ok("patch");
    assert_eq!(data(c, &ns, "app-config", "color").as_deref(), Some("red"));
    let _ = c.flux(&["reconcile", "kustomization", "app", "-n", &ns, "--timeout", "2m"]).ok("flux reconcile");
    assert_eq!(data(c, &ns, "app-config", "color").as_deref(), Some("green"), "drift was not corrected");

    // Suspend and resume.
    let _ = c.flux(&["suspend", "kustomization", "app", "-n", &ns]).ok("flux suspend");
    assert_eq!(ks(c, &ns, "app")["spec"]["suspend"], true);
    let _ = c.flux(&["resume", "kustomization", "app", "-n", &ns, "--timeout", "2m"]).ok("flux resume");
    let o = wait_ready(c, &ns, "app", Some(&rev2));
    assert_ne!(o["spec"]["suspend"], true);

    // Deleting the Kustomization prunes what it applied (prune: true, MirrorPrune).
    let _ = c.kubectl(&["delete", "kustomization", "app", "-n", &ns, "--wait=true", "--timeout=60s"]).ok("delete ks");
    let gone = eventually(WAIT, || get(c, "configmap", &ns, "app-config").is_none().then_some(()));
    assert!(gone.is_some(), "the ConfigMap survived its Kustomization's deletion");
    assert!(get(c, "deployment", &ns, "web").is_none(), "the Deployment survived its Kustomization's deletion");
}

#[test]
fn a_monorepo_chained_by_depends_on_becomes_ready() {
    let c = cluster();
    let ns = c.namespace("ks-mono");
    let mut repo = Repo::new();
    let kfile = |resources: &[&str], extra: &str| {
        let list: String = resources.iter().map(|r| format!("- {r}\n")).collect();
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n{list}{extra}"
        )
    };
    repo.write("infrastructure/controllers/base/ingress.yaml", &deployment("ingress-controller", ""))
        .write("infrastructure/controllers/base/kustomization.yaml", "resources:\n- ingress.yaml\n")
        .write("infrastructure/controllers/staging/kustomization.yaml", &kfile(&["../base"], ""))
        .write("infrastructure/configs/base/issuer.yaml", &config_map("cluster-issuer", "issuer", "letsencrypt"))
        .write("infrastructure/configs/base/kustomization.yaml", "resources:\n- issuer.yaml\n")
        .write("infrastructure/configs/staging/kustomization.yaml", &kfile(&["../base"], ""))
        .write("apps/base/webapp/deployment.yaml", &deployment("webapp", ""))
        .write("apps/base/webapp/config.yaml", &config_map("webapp-env", "ENVIRONMENT", "${ENVIRONMENT}"))
        .write("apps/base/webapp/kustomization.yaml", "resources:\n- deployment.yaml\n- config.yaml\n")
        .write(
            "apps/staging/kustomization.yaml",
            &kfile(
                &["../base/webapp"],
                "patches:\n- target:\n    kind: Deployment\n    name: webapp\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 2\n",
            ),
        );
    repo.write("gated/gated.yaml", &config_map("gated", "gate", "open"));
    let rev = repo.commit("fleet");
    apply(c, &git_repository(&ns, "fleet", &repo.url()));
    apply(
        c,
        &[
            kustomization(&ns, "infrastructure-controllers", "fleet", "./infrastructure/controllers/staging", "  retryInterval: 5s\n  wait: true\n  timeout: 90s\n"),
            kustomization(
                &ns,
                "infrastructure-configs",
                "fleet",
                "./infrastructure/configs/staging",
                "  retryInterval: 5s\n  dependsOn:\n  - name: infrastructure-controllers\n",
            ),
            kustomization(
                &ns,
                "apps",
                "fleet",
                "./apps/staging",
                "  retryInterval: 5s\n  wait: true\n  timeout: 90s\n  dependsOn:\n  - name: infrastructure-configs\n  postBuild:\n    substitute:\n      ENVIRONMENT: staging\n",
            ),
        ]
        .join("---\n"),
    );
    for name in ["infrastructure-controllers", "infrastructure-configs", "apps"] {
        let _ = wait_ready(c, &ns, name, Some(&rev));
    }
    let web = get(c, "deployment", &ns, "webapp").expect("webapp");
    assert_eq!(web["spec"]["replicas"], 2, "the staging overlay's patch");
    // `wait: true` passed when the Deployment was Current; kube-controller-manager can still
    // flip it back for a moment afterwards (seen in CI: Available=False a second after
    // Progressing=NewReplicaSetAvailable, its ReplicaSet synced from a stale pod cache), so
    // availability is awaited here rather than read once.
    let available = eventually(WAIT, || {
        let web = get(c, "deployment", &ns, "webapp")?;
        (web["status"]["availableReplicas"] == 2).then_some(())
    });
    assert!(
        available.is_some(),
        "webapp never available: {}",
        get(c, "deployment", &ns, "webapp").unwrap_or_default()["status"]
    );
    assert_eq!(data(c, &ns, "webapp-env", "ENVIRONMENT").as_deref(), Some("staging"));

    // A missing dependency holds the Kustomization back with a message naming it.
    apply(c, &kustomization(&ns, "orphan", "fleet", "./apps/staging", "  dependsOn:\n  - name: missing\n"));
    let o = wait_reason(c, &ns, "orphan", "DependencyNotReady");
    let msg = condition(&o, "Ready").2;
    assert!(msg.contains(&format!("dependency '{ns}/missing' not found")), "{msg}");

    // dependsOn[].readyExpr (CEL over self and dep) replaces the built-in check.
    let gate = "  targetNamespace: {ns}\n  retryInterval: 5s\n  dependsOn:\n  - name: infrastructure-configs\n    \
                readyExpr: self.metadata.annotations['app/version'] == dep.metadata.annotations['app/version']\n";
    let _ =
        c.kubectl(&["annotate", "-n", &ns, "kustomization/infrastructure-configs", "app/version=v1"]).ok("annotate");
    let gated = kustomization(&ns, "gated", "fleet", "./gated", &gate.replace("{ns}", &ns));
    apply(c, &gated.replace("  namespace: ", "  annotations:\n    app/version: v2\n  namespace: "));
    let o = wait_reason(c, &ns, "gated", "DependencyNotReady");
    let msg = condition(&o, "Ready").2;
    assert_eq!(msg, format!("dependency '{ns}/infrastructure-configs' is not ready according to readyExpr eval"));
    assert!(get(c, "configmap", &ns, "gated").is_none(), "applied before its dependency was ready");
    let _ = c
        .kubectl(&["annotate", "--overwrite", "-n", &ns, "kustomization/infrastructure-configs", "app/version=v2"])
        .ok("annotate");
    let _ = c.flux(&["reconcile", "kustomization", "gated", "-n", &ns]);
    let _ = wait_ready(c, &ns, "gated", Some(&rev));
    assert_eq!(data(c, &ns, "gated", "gate").as_deref(), Some("open"));

    // An expression that does not compile is a configuration error: Stalled, not retried.
    let bad = gate.replace("{ns}", &ns).replace("readyExpr: self.metadata", "readyExpr: deps.metadata");
    apply(c, &kustomization(&ns, "bad-expr", "fleet", "./gated", &bad));
    let o = wait_reason(c, &ns, "bad-expr", "InvalidCELExpression");
    let (_, _, msg) = condition(&o, "Ready");
    assert!(msg.starts_with("Reconciliation failed terminally due to configuration error: failed to evaluate dependency infrastructure-configs: failed to parse the CEL expression"), "{msg}");
    assert_eq!(condition(&o, "Stalled").0, "True", "{}", o["status"]);
}

#[test]
fn post_build_substitutes_from_inline_values_a_config_map_and_a_secret() {
    let c = cluster();
    let ns = c.namespace("ks-vars");
    let mut repo = Repo::new();
    repo.write(
        "app/vars.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\ndata:\n  inline: \"${INLINE}\"\n  from_cm: \"${FROM_CM}\"\n  from_secret: \"${FROM_SECRET}\"\n  overridden: \"${OVERRIDDEN}\"\n  defaulted: \"${UNSET:=fallback}\"\n  escaped: \"$${INLINE}\"\n  bare: \"$INLINE\"\n",
    )
    .write(
        "app/skipped.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: skipped\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  raw: \"${INLINE}\"\n",
    );
    let rev = repo.commit("vars");
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: {ns}\ndata:\n  FROM_CM: from-config-map\n  OVERRIDDEN: by-config-map\n\
             ---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secret-vars\n  namespace: {ns}\nstringData:\n  FROM_SECRET: from-secret\n  OVERRIDDEN: by-secret\n"
        ),
    );
    apply(c, &git_repository(&ns, "repo", &repo.url()));
    apply(
        c,
        &kustomization(
            &ns,
            "vars",
            "repo",
            "./app",
            &format!(
                "  targetNamespace: {ns}\n  postBuild:\n    substitute:\n      INLINE: inline-value\n    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-vars\n    - kind: Secret\n      name: cluster-secret-vars\n    - kind: ConfigMap\n      name: not-there\n      optional: true\n"
            ),
        ),
    );
    let _ = wait_ready(c, &ns, "vars", Some(&rev));
    let v = |k: &str| data(c, &ns, "vars", k);
    assert_eq!(v("inline").as_deref(), Some("inline-value"));
    assert_eq!(v("from_cm").as_deref(), Some("from-config-map"));
    assert_eq!(v("from_secret").as_deref(), Some("from-secret"));
    assert_eq!(v("overridden").as_deref(), Some("by-secret"), "later substituteFrom entries win");
    assert_eq!(v("defaulted").as_deref(), Some("fallback"));
    assert_eq!(v("escaped").as_deref(), Some("${INLINE}"));
    assert_eq!(v("bare").as_deref(), Some("$INLINE"));
    assert_eq!(data(c, &ns, "skipped", "raw").as_deref(), Some("${INLINE}"));
}

#[test]
fn failures_carry_fluxs_reasons_and_actionable_messages() {
    let c = cluster();
    let ns = c.namespace("ks-fail");
    let mut repo = Repo::new();
    repo.write("broken/kustomization.yaml", "resources:\n- missing.yaml\n")
        .write("stuck/web.yaml", &deployment("stuck", "      nodeSelector:\n        no-such-node: \"true\"\n"));
    let _ = repo.commit("failures");
    apply(c, &git_repository(&ns, "repo", &repo.url()));
    apply(c, &kustomization(&ns, "broken", "repo", "./broken", &format!("  targetNamespace: {ns}\n")));
    apply(c, &kustomization(&ns, "nopath", "repo", "./not/there", &format!("  targetNamespace: {ns}\n")));
    apply(
        c,
        &kustomization(
            &ns,
            "stuck",
            "repo",
            "./stuck",
            &format!("  targetNamespace: {ns}\n  wait: true\n  timeout: 30s\n"),
        ),
    );
    apply(c, &kustomization(&ns, "nosource", "absent", "./", ""));

    let o = wait_reason(c, &ns, "broken", "BuildFailed");
    let msg = condition(&o, "Ready").2;
    assert!(msg.contains("missing.yaml"), "{msg}");
    assert_eq!(condition(&o, "Reconciling").1, "ProgressingWithRetry", "{}", o["status"]);

    let o = wait_reason(c, &ns, "nopath", "ArtifactFailed");
    assert!(condition(&o, "Ready").2.contains("kustomization path not found"), "{}", o["status"]);

    let o = wait_reason(c, &ns, "stuck", "HealthCheckFailed");
    let msg = condition(&o, "Ready").2;
    assert!(msg.contains(&format!("Deployment/{ns}/stuck")), "{msg}");
    assert_eq!(condition(&o, "Healthy").1, "HealthCheckFailed");

    let o = wait_reason(c, &ns, "nosource", "ArtifactFailed");
    assert!(condition(&o, "Ready").2.contains("not found"), "{}", o["status"]);
}

#[test]
fn a_tenant_cannot_apply_outside_its_rights() {
    let c = cluster();
    let ns = c.namespace("ks-tenant");
    let mut repo = Repo::new();
    repo.write("own/config.yaml", &config_map("tenant-config", "ok", "yes"))
        .write(
            "escape/role.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: tenant-escape\nrules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get]\n",
        )
        .write("other/config.yaml", &config_map("elsewhere", "ok", "no"));
    let _ = repo.commit("tenant");
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: tenant\n  namespace: {ns}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: tenant-admin\n  namespace: {ns}\n\
             roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: admin\nsubjects:\n- kind: ServiceAccount\n  name: tenant\n  namespace: {ns}\n"
        ),
    );
    apply(c, &git_repository(&ns, "repo", &repo.url()));
    let tenant = "  serviceAccountName: tenant\n";
    apply(c, &kustomization(&ns, "own", "repo", "./own", &format!("  targetNamespace: {ns}\n{tenant}")));
    apply(c, &kustomization(&ns, "escape", "repo", "./escape", tenant));
    apply(c, &kustomization(&ns, "other", "repo", "./other", &format!("  targetNamespace: default\n{tenant}")));
    let _ = wait_ready(c, &ns, "own", None);
    assert_eq!(data(c, &ns, "tenant-config", "ok").as_deref(), Some("yes"));
    for name in ["escape", "other"] {
        let o = wait_reason(c, &ns, name, "ReconciliationFailed");
        let msg = condition(&o, "Ready").2;
        assert!(msg.contains("forbidden"), "{name}: {msg}");
        assert!(msg.contains(&format!("system:serviceaccount:{ns}:tenant")), "{name}: {msg}");
    }
    assert!(get(c, "clusterrole", "", "tenant-escape").is_none());
    assert!(get(c, "configmap", "default", "elsewhere").is_none());
}
