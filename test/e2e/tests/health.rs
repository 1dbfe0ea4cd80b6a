//! `eddy-health`'s `Waiter` against the real control plane: waits learn of changes from
//! watches (kwok's fake node runs the pods), time out and fail fast with Flux's messages,
//! evaluate CEL health checks, resolve CRD-defined kinds through discovery, and share one
//! watch between concurrent waits.

use std::sync::Arc;
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually};
use eddy_health::{CustomChecks, HealthCheckExpr, HealthError, Target, WaitOptions, Waiter};
use kube::config::{KubeConfigOptions, Kubeconfig};

async fn waiter(c: &Cluster) -> Waiter {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = Kubeconfig::read_from(&c.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("kube config");
    Waiter::new(kube::Client::try_from(config).expect("kube client"))
}

fn target(api_version: &str, kind: &str, namespace: &str, name: &str) -> Target {
    Target {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn options(timeout_secs: u64) -> WaitOptions {
    WaitOptions { timeout: Duration::from_secs(timeout_secs), ..WaitOptions::default() }
}

/// Applies `yaml` from another thread after a short delay, so that it lands while the wait
/// is already running.
fn apply_later(c: &Cluster, yaml: String) -> std::thread::JoinHandle<()> {
    let c = c.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let _ = c.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok("kubectl apply");
    })
}

fn deployment(ns: &str, name: &str, replicas: u32, node_selector: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  replicas: {replicas}\n  \
         selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      \
         nodeSelector: {{{node_selector}}}\n      containers: [{{name: c, image: example.invalid/app:1}}]\n"
    )
}

fn configmap(ns: &str, name: &str, data: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{{data}}}\n")
}

fn cel(api_version: &str, kind: &str, current: &str, failed: Option<&str>) -> Arc<CustomChecks> {
    let exprs = [HealthCheckExpr {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        current: current.to_owned(),
        in_progress: None,
        failed: failed.map(str::to_owned),
    }];
    Arc::new(CustomChecks::compile(&exprs).expect("expressions compile"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_succeeds_when_objects_become_ready_after_it_started() {
    let c = cluster();
    let ns = c.namespace("health-ready");
    let w = waiter(c).await;
    let targets = [target("apps/v1", "Deployment", &ns, "web"), target("v1", "ConfigMap", &ns, "settings")];
    let yaml = format!("{}---\n{}", deployment(&ns, "web", 2, "type: kwok"), configmap(&ns, "settings", "a: b"));
    let applier = apply_later(c, yaml);
    w.wait(&targets, &options(120)).await.expect("both become Current");
    applier.join().expect("applier");
    let ready = c.kubectl(&["get", "deployment", "web", "-n", &ns, "-o", "jsonpath={.status.readyReplicas}"]).ok("get");
    assert_eq!(ready, "2");

    // An update whose pods cannot be scheduled, waited for at once on the running watch: the
    // rolled-out previous generation must not count as Current.
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &deployment(&ns, "web", 2, "type: no-such-node")).ok("apply update");
    let err = w.wait(&targets[..1], &options(3)).await.expect_err("the update cannot roll out");
    assert_eq!(err.to_string(), format!("timeout waiting for: [Deployment/{ns}/web status: 'InProgress']"));
    assert_eq!(w.watch_count(), 2, "one watch per kind in {ns}, reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_and_missing_objects_time_out_with_fluxs_message() {
    let c = cluster();
    let ns = c.namespace("health-timeout");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &deployment(&ns, "stuck", 1, "type: no-such-node")).ok("apply");
    let w = waiter(c).await;
    // The GitRepository kind is Eddy's, served through the aggregator: discovered and watched
    // like any other.
    let targets = [
        target("apps/v1", "Deployment", &ns, "stuck"),
        target("v1", "Service", &ns, "absent"),
        target("source.toolkit.fluxcd.io/v1", "GitRepository", &ns, "absent"),
    ];
    let err = w.wait(&targets, &options(4)).await.expect_err("cannot become ready");
    match err {
        HealthError::Timeout(msg) => assert_eq!(
            msg,
            format!(
                "timeout waiting for: [Deployment/{ns}/stuck status: 'InProgress', Service/{ns}/absent status: 'NotFound', \
                 GitRepository/{ns}/absent status: 'NotFound']"
            )
        ),
        other => panic!("not a timeout: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_check_flips_after_an_update() {
    let c = cluster();
    let ns = c.namespace("health-cel");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &configmap(&ns, "gate", "ready: 'false'")).ok("apply");
    let w = waiter(c).await;
    let opts = WaitOptions { checks: Some(cel("v1", "ConfigMap", "data.ready == 'true'", None)), ..options(60) };
    let targets = [target("v1", "ConfigMap", &ns, "gate")];
    // Not Current yet: a short wait times out.
    let err = w
        .wait(&targets, &WaitOptions { timeout: Duration::from_secs(2), ..opts.clone() })
        .await
        .expect_err("not ready");
    assert_eq!(err.to_string(), format!("timeout waiting for: [ConfigMap/{ns}/gate status: 'InProgress']"));
    let applier = apply_later(c, configmap(&ns, "gate", "ready: 'true'"));
    w.wait(&targets, &opts).await.expect("Current after the update");
    applier.join().expect("applier");
    // A missing key is an evaluation error: Unknown, with cel's reason.
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &configmap(&ns, "other", "x: z")).ok("apply");
    let err = w
        .wait(&[target("v1", "ConfigMap", &ns, "other")], &WaitOptions { timeout: Duration::from_secs(2), ..opts })
        .await;
    let msg = err.expect_err("no such key").to_string();
    assert_eq!(
        msg,
        format!(
            "timeout waiting for: [ConfigMap/{ns}/other status: 'Unknown': failed to evaluate the CEL expression \
             'data.ready == 'true'': no such key: ready]"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_stops_at_the_first_failed_object() {
    let c = cluster();
    let ns = c.namespace("health-failfast");
    let yaml =
        format!("{}---\n{}", configmap(&ns, "broken", "state: failed"), configmap(&ns, "pending", "state: working"));
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok("apply");
    let w = waiter(c).await;
    let checks = cel("v1", "ConfigMap", "data.state == 'ok'", Some("data.state == 'failed'"));
    let targets = [target("v1", "ConfigMap", &ns, "pending"), target("v1", "ConfigMap", &ns, "broken")];
    let opts = WaitOptions { fail_fast: true, checks: Some(checks), ..options(300) };
    let err = w.wait(&targets, &opts).await.expect_err("fails fast");
    match err {
        HealthError::Failed(msg) => {
            assert_eq!(msg, format!("failed early due to stalled resources: [ConfigMap/{ns}/broken status: 'Failed']"));
        }
        other => panic!("not a fail-fast error: {other:?}"),
    }
}

/// Patches the status of Widget `w`, retrying while kube-apiserver's handler of the new CRD
/// still answers NotFound (it can, for a moment after the CRD is established).
fn patch_status(c: &Cluster, ns: &str, patch: &str) {
    // Fully qualified: every run of this test defines its own group with a Widget kind.
    let resource = format!("widgets.{ns}.e2e.eddy.dev");
    let args = ["patch", &resource, "w", "-n", ns, "--subresource=status", "--type=merge", "-p", patch];
    let patched = eventually(Duration::from_secs(30), || c.kubectl(&args).ok.then_some(()));
    assert!(patched.is_some(), "patching the status of widget {ns}/w: {}", c.kubectl(&args).stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_defined_kinds_are_resolved_through_discovery() {
    let c = cluster();
    let ns = c.namespace("health-crd");
    let group = format!("{ns}.e2e.eddy.dev");
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: widgets.{group}}}\nspec:\n  \
         group: {group}\n  scope: Namespaced\n  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}\n  \
         versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources: {{status: {{}}}}\n    \
         schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
    );
    let w = waiter(c).await;
    // Before the CRD exists the kind is unknown to discovery, as to Flux's RESTMapper.
    let err =
        w.wait(&[target(&format!("{group}/v1"), "Widget", &ns, "w")], &options(2)).await.expect_err("unknown kind");
    assert_eq!(
        err.to_string(),
        format!(
            "timeout waiting for: [Widget/{ns}/w status: 'Unknown': no matches for kind \"Widget\" in version \"{group}/v1\"]"
        )
    );
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &crd).ok("apply CRD");
    w.wait(
        &[target("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", &format!("widgets.{group}"))],
        &options(60),
    )
    .await
    .expect("CRD established");
    let widget =
        format!("apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w, namespace: {ns}}}\nspec: {{size: 1}}\n");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &widget).ok("apply Widget");
    patch_status(
        c,
        &ns,
        r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"False","reason":"Progressing","message":"warming up"}]}}"#,
    );
    let targets = [target(&format!("{group}/v1"), "Widget", &ns, "w")];
    let err = w.wait(&targets, &options(2)).await.expect_err("not ready yet");
    assert_eq!(err.to_string(), format!("timeout waiting for: [Widget/{ns}/w status: 'InProgress']"));
    let c2 = c.clone();
    let ns2 = ns.to_string();
    let patcher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        patch_status(
            &c2,
            &ns2,
            r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"ok"}]}}"#,
        );
    });
    w.wait(&targets, &options(60)).await.expect("Ready=True is Current");
    patcher.join().expect("patcher");
    let _ = c.kubectl(&["delete", "crd", &format!("widgets.{group}"), "--wait=false"]).ok("delete CRD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_waits_share_one_watch() {
    let c = cluster();
    let ns = c.namespace("health-shared");
    let w = waiter(c).await;
    let checks = cel("v1", "ConfigMap", "data.ready == 'true'", None);
    let opts = WaitOptions { checks: Some(checks), ..options(60) };
    let first = [target("v1", "ConfigMap", &ns, "one")];
    let second = [target("v1", "ConfigMap", &ns, "two")];
    let yaml = format!("{}---\n{}", configmap(&ns, "one", "ready: 'true'"), configmap(&ns, "two", "ready: 'true'"));
    let applier = apply_later(c, yaml);
    let other = w.clone();
    let (a, b) = tokio::join!(w.wait(&first, &opts), other.wait(&second, &opts));
    applier.join().expect("applier");
    a.expect("first wait");
    b.expect("second wait");
    assert_eq!(w.watch_count(), 1, "one watch of ConfigMaps in {ns} for both waits");
    // A later wait in the same namespace reuses it too.
    w.wait(&first, &opts).await.expect("third wait");
    assert_eq!(w.watch_count(), 1);
}

fn job(ns: &str, name: &str, extra_spec: &str, node_selector: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  {extra_spec}\n  backoffLimit: 0\n  \
         template:\n    spec:\n      restartPolicy: Never\n      nodeSelector: {{{node_selector}}}\n      \
         containers: [{{name: c, image: example.invalid/job:1}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_current_once_complete_and_a_failed_job_stops_the_wait() {
    let c = cluster();
    let ns = c.namespace("health-jobs");
    let w = waiter(c).await;
    // kwok completes the pods of Jobs: Flux's rule holds the wait until the Job is Complete.
    let applier = apply_later(c, job(&ns, "migrate", "completions: 1", "type: kwok"));
    w.wait(&[target("batch/v1", "Job", &ns, "migrate")], &options(120)).await.expect("the Job completes");
    let complete = c
        .kubectl(&[
            "get",
            "job",
            "migrate",
            "-n",
            &ns,
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Complete")].status}"#,
        ])
        .ok("get job");
    assert_eq!(complete, "True");
    applier.join().expect("applier");

    // A Job whose pod cannot be scheduled fails at its deadline; without fail-fast the wait
    // still stops early once only Current and Failed objects are left.
    let _ = c
        .kubectl_stdin(&["apply", "-f", "-"], &job(&ns, "doomed", "activeDeadlineSeconds: 1", "type: no-such-node"))
        .ok("apply");
    let targets = [target("batch/v1", "Job", &ns, "migrate"), target("batch/v1", "Job", &ns, "doomed")];
    let err = w.wait(&targets, &options(120)).await.expect_err("the Job fails");
    match err {
        HealthError::Failed(msg) => {
            assert_eq!(msg, format!("failed early due to stalled resources: [Job/{ns}/doomed status: 'Failed']"));
        }
        other => panic!("not failed early: {other:?}"),
    }
}
