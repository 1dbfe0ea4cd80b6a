//! eddy-apply against a real kube-apiserver: staged server-side apply with drift detection,
//! Flux's annotations, forced recreation, errors as Flux words them, prune and waiting for
//! termination, and applying as an impersonated ServiceAccount.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use eddy_apply::{Action, ApplyOptions, ChangeSet, DeleteOptions, ObjMetadata, Owner, ResourceManager};
use eddy_e2e::{Cluster, cluster, json};
use serde_json::{Value, json};

const GROUP: &str = "kustomize.toolkit.fluxcd.io";

async fn client(kubeconfig: &Path, impersonate: Option<&str>) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("client config");
    config.auth_info.impersonate = impersonate.map(str::to_string);
    kube::Client::try_from(config).expect("client")
}

async fn manager(c: &Cluster) -> ResourceManager {
    ResourceManager::new(
        client(&c.kubeconfig, None).await,
        Owner { field: "kustomize-controller".into(), group: GROUP.into() },
    )
}

/// The options kustomize-controller passes.
fn flux_options() -> ApplyOptions {
    let sel = |k: &str, v: &str| BTreeMap::from([(format!("{GROUP}/{k}"), v.to_string())]);
    let mut exclusion = sel("reconcile", "disabled");
    exclusion.extend(sel("ssa", "Ignore"));
    ApplyOptions {
        exclusion_selector: exclusion,
        if_not_present_selector: sel("ssa", "IfNotPresent"),
        force_selector: sel("force", "enabled"),
        wait_interval: Duration::from_millis(500),
        ..ApplyOptions::default()
    }
}

fn actions(set: &ChangeSet) -> Vec<(String, Action)> {
    set.entries.iter().map(|e| (e.subject.clone(), e.action)).collect()
}

fn cm(ns: &str, name: &str, data: Value) -> Value {
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}});
    obj["data"] = data;
    obj
}

/// Waits until the deployment controller has annotated a new Deployment with its revision
/// (a change racing with a dry-run would be reported as drift, in Flux too).
fn settle_deployment(c: &Cluster, ns: &str, name: &str) {
    let annotated = eddy_e2e::eventually(Duration::from_secs(60), || {
        let d = get(c, "deployment", ns, name);
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().map(|_| ())
    });
    assert!(annotated.is_some(), "the deployment controller did not annotate {ns}/{name}");
}

fn get(c: &Cluster, kind: &str, ns: &str, name: &str) -> Value {
    json(&c.kubectl(&["get", kind, name, "-n", ns, "-o", "json"]).ok("kubectl get"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_unchanged_configured_and_drift_corrected() {
    let c = cluster();
    let ns = c.namespace("apply-basic");
    let m = manager(c).await;
    let opts = flux_options();
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}});
    let mut objects = vec![deploy.clone(), cm(&ns, "settings", json!({"a": "1"}))];
    m.set_owner_labels(&mut objects, "app", "flux-system");

    // Many objects with bounded concurrency keep Flux's order.
    let many: Vec<Value> = (0..9).rev().map(|i| cm(&ns, &format!("many-{i}"), json!({"i": i.to_string()}))).collect();
    let set = m.clone().with_concurrency(3).apply_all_staged(many, &opts).await.expect("apply many");
    let names: Vec<String> = set.entries.iter().map(|e| e.object_metadata.name.clone()).collect();
    assert_eq!(names, (0..9).map(|i| format!("many-{i}")).collect::<Vec<_>>());
    assert!(set.entries.iter().all(|e| e.action == Action::Created));

    let set = m.apply_all_staged(objects.clone(), &opts).await.expect("first apply");
    assert_eq!(
        actions(&set),
        [(format!("ConfigMap/{ns}/settings"), Action::Created), (format!("Deployment/{ns}/web"), Action::Created)]
    );
    assert_eq!(set.entries[0].group_version, "v1");
    assert_eq!(set.entries[1].object_metadata.id(), format!("{ns}_web_apps_Deployment"));
    let live = get(c, "configmap", &ns, "settings");
    assert_eq!(live["metadata"]["labels"][format!("{GROUP}/name")], "app");
    let rv = live["metadata"]["resourceVersion"].clone();
    settle_deployment(c, &ns, "web");

    let set = m.apply_all_staged(objects.clone(), &opts).await.expect("second apply");
    assert!(set.entries.iter().all(|e| e.action == Action::Unchanged), "{set}");
    assert_eq!(get(c, "configmap", &ns, "settings")["metadata"]["resourceVersion"], rv, "no write when unchanged");

    objects[1]["data"]["a"] = json!("2");
    let set = m.apply_all_staged(objects.clone(), &opts).await.expect("changed apply");
    assert_eq!(set.to_map()[&format!("ConfigMap/{ns}/settings")], Action::Configured);
    assert_eq!(set.to_map()[&format!("Deployment/{ns}/web")], Action::Unchanged);

    // Another manager changes a field and adds one: both are reverted (the kubectl manager's
    // fields are taken over by the owner, so the added key is dropped).
    let _ = c
        .kubectl(&[
            "patch",
            "configmap",
            "settings",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            r#"{"data":{"a":"x","extra":"y"}}"#,
        ])
        .ok("kubectl patch");
    let set = m.apply_all_staged(objects.clone(), &opts).await.expect("drift apply");
    assert_eq!(set.to_map()[&format!("ConfigMap/{ns}/settings")], Action::Configured);
    let live = json(
        &c.kubectl(&["get", "configmap", "settings", "-n", &ns, "-o", "json", "--show-managed-fields"])
            .ok("kubectl get"),
    );
    assert_eq!(live["data"], json!({"a": "2"}));
    let managers: Vec<&str> =
        live["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|e| e["manager"].as_str()).collect();
    assert!(!managers.iter().any(|m| m.starts_with("kubectl")), "{managers:?}");

    // With `ssa: Merge`, other managers' fields are left alone.
    objects[1]["metadata"]["annotations"] = json!({format!("{GROUP}/ssa"): "Merge"});
    let _ = m.apply_all_staged(objects.clone(), &opts).await.expect("merge apply");
    let _ = c
        .kubectl(&["patch", "configmap", "settings", "-n", &ns, "--type=merge", "-p", r#"{"data":{"extra":"y"}}"#])
        .ok("kubectl patch");
    let set = m.apply_all_staged(objects.clone(), &opts).await.expect("merge apply again");
    assert_eq!(set.to_map()[&format!("ConfigMap/{ns}/settings")], Action::Unchanged);
    assert_eq!(get(c, "configmap", &ns, "settings")["data"]["extra"], "y");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_namespace_and_their_objects_in_one_apply() {
    let c = cluster();
    let suffix = format!("{:06x}", rand_suffix());
    let group = format!("e2e{suffix}.example.com");
    let ns = format!("apply-stage-{suffix}");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}});
    let widget = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns}, "spec": {"size": 3}});
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": format!("e2e-{suffix}")}, "value": 10});
    let m = manager(c).await;
    // Before its CRD exists the kind is unknown; the manager's discovery cache must not keep
    // that answer once the CRD is applied.
    let err = m.apply_all_staged(vec![widget.clone()], &flux_options()).await.unwrap_err().to_string();
    assert!(err.contains(&format!("no matches for kind \"Widget\" in version \"{group}/v1\"")), "{err}");
    let objects = vec![widget.clone(), cm(&ns, "in-new-ns", json!({})), pc, namespace, crd];
    let set = m.apply_all_staged(objects.clone(), &flux_options()).await.expect("staged apply");
    assert_eq!(
        actions(&set),
        [
            (format!("CustomResourceDefinition/widgets.{group}"), Action::Created),
            (format!("Namespace/{ns}"), Action::Created),
            (format!("PriorityClass/e2e-{suffix}"), Action::Created),
            (format!("ConfigMap/{ns}/in-new-ns"), Action::Created),
            (format!("Widget/{ns}/w"), Action::Created),
        ]
    );
    assert_eq!(set.entries[4].object_metadata.group, group);
    let set = m.apply_all_staged(objects, &flux_options()).await.expect("staged re-apply");
    assert!(set.entries.iter().all(|e| e.action == Action::Unchanged), "{set}");

    // Without the CRD, a custom object fails with the REST mapper's message.
    let unknown = json!({"apiVersion": format!("nope{suffix}.example.com/v1"), "kind": "Gadget",
        "metadata": {"name": "g", "namespace": ns}});
    let err = m.apply_all_staged(vec![unknown], &flux_options()).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "Gadget/{ns}/g dry-run failed: no matches for kind \"Gadget\" in version \"nope{suffix}.example.com/v1\""
        )
    );

    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
    let _ = c.kubectl(&["delete", "crd", &format!("widgets.{group}"), "--wait=false"]);
    let _ = c.kubectl(&["delete", "priorityclass", &format!("e2e-{suffix}"), "--wait=false"]);
}

fn rand_suffix() -> u32 {
    rand::random::<u32>() & 0xff_ffff
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_present_ignore_and_reconcile_disabled() {
    let c = cluster();
    let ns = c.namespace("apply-annot");
    let m = manager(c).await;
    let opts = flux_options();
    let annotated = |name: &str, key: &str, value: &str, data: &str| {
        let mut o = cm(&ns, name, json!({"a": data}));
        o["metadata"]["annotations"] = json!({format!("{GROUP}/{key}"): value});
        o
    };
    let first = vec![
        annotated("once", "ssa", "IfNotPresent", "1"),
        annotated("ignored", "ssa", "Ignore", "1"),
        annotated("disabled", "reconcile", "disabled", "1"),
    ];
    let set = m.apply_all_staged(first, &opts).await.expect("apply");
    let map = set.to_map();
    assert_eq!(map[&format!("ConfigMap/{ns}/once")], Action::Created);
    assert_eq!(map[&format!("ConfigMap/{ns}/ignored")], Action::Skipped);
    assert_eq!(map[&format!("ConfigMap/{ns}/disabled")], Action::Skipped);
    assert!(!c.kubectl(&["get", "configmap", "ignored", "-n", &ns]).ok);

    let second = vec![annotated("once", "ssa", "IfNotPresent", "2")];
    let set = m.apply_all_staged(second, &opts).await.expect("apply again");
    assert_eq!(set.entries[0].action, Action::Skipped);
    assert_eq!(get(c, "configmap", &ns, "once")["data"]["a"], "1");

    // An in-cluster object annotated `reconcile: disabled` is left alone too.
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &cm(&ns, "manual", json!({"a": "mine"})).to_string()).ok("create");
    let _ = c
        .kubectl(&["annotate", "configmap", "manual", "-n", &ns, &format!("{GROUP}/reconcile=Disabled")])
        .ok("annotate");
    let set = m.apply_all_staged(vec![cm(&ns, "manual", json!({"a": "flux"}))], &opts).await.expect("apply");
    assert_eq!(set.entries[0].action, Action::Skipped);
    assert_eq!(get(c, "configmap", &ns, "manual")["data"]["a"], "mine");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_changes_fail_unless_forced() {
    let c = cluster();
    let ns = c.namespace("apply-force");
    let m = manager(c).await;
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": ns},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": image}]}}}})
    };
    let opts = flux_options();
    m.apply_all_staged(vec![job("busybox:1")], &opts).await.expect("create job");
    let uid = get(c, "job", &ns, "once")["metadata"]["uid"].clone();

    let err = m.apply_all_staged(vec![job("busybox:2")], &opts).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("Job/{ns}/once dry-run failed (Invalid): ")), "{err}");
    assert!(err.contains("field is immutable"), "{err}");

    let mut forced = job("busybox:2");
    forced["metadata"]["annotations"] = json!({format!("{GROUP}/force"): "enabled"});
    let set = m.apply_all_staged(vec![forced], &opts).await.expect("forced by annotation");
    assert_eq!(set.entries[0].action, Action::Created);
    let live = get(c, "job", &ns, "once");
    assert_ne!(live["metadata"]["uid"], uid);
    assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:2");

    let force_all = ApplyOptions { force: true, ..flux_options() };
    let set = m.apply_all_staged(vec![job("busybox:3")], &force_all).await.expect("forced by spec.force");
    assert_eq!(set.entries[0].action, Action::Created);

    // A Service's cluster IP cannot change (an Invalid answer, as Flux treats it: immutable).
    let service = |cluster_ip: Option<&str>| {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": ns},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}});
        if let Some(ip) = cluster_ip {
            svc["spec"]["clusterIP"] = json!(ip);
        }
        svc
    };
    m.apply_all_staged(vec![service(None)], &opts).await.expect("create service");
    let err = m.apply_all_staged(vec![service(Some("None"))], &opts).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("Service/{ns}/svc dry-run failed (Invalid): ")), "{err}");
    let set = m.apply_all_staged(vec![service(Some("None"))], &force_all).await.expect("recreate service");
    assert_eq!(set.entries[0].action, Action::Created);
    assert_eq!(get(c, "service", &ns, "svc")["spec"]["clusterIP"], "None");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_named() {
    let c = cluster();
    let ns = c.namespace("apply-invalid");
    let m = manager(c).await;
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken", "namespace": ns},
        "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let good = cm(&ns, "fine", json!({}));
    let err = m.apply_all_staged(vec![good, bad.clone()], &flux_options()).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("Deployment/{ns}/broken dry-run failed (Invalid): ")), "{err}");
    assert!(err.contains("spec.replicas"), "{err}");
    assert!(!c.kubectl(&["get", "configmap", "fine", "-n", &ns]).ok, "nothing of a failed stage is applied");

    // The partial form reports what earlier stages applied.
    let extra_ns = format!("{ns}-extra");
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": extra_ns}});
    let (set, err) = m.apply_all_staged_partial(vec![bad, namespace], &flux_options()).await;
    assert!(err.is_some());
    assert_eq!(actions(&set), [(format!("Namespace/{extra_ns}"), Action::Created)]);
    let _ = c.kubectl(&["delete", "namespace", &extra_ns, "--wait=false"]);

    let err = m.apply_all_staged(vec![cm("", "nowhere", json!({}))], &flux_options()).await.unwrap_err().to_string();
    assert!(err.starts_with("ConfigMap/nowhere namespace not specified: "), "{err}");
    let err =
        m.apply_all_staged(vec![cm("missing-ns-e2e", "x", json!({}))], &flux_options()).await.unwrap_err().to_string();
    assert!(err.starts_with("ConfigMap/missing-ns-e2e/x not found: "), "{err}");
    let err =
        m.apply_all_staged(vec![json!({"apiVersion": "v1", "kind": "ConfigMap"})], &flux_options()).await.unwrap_err();
    assert!(matches!(err, eddy_apply::ApplyError::Invalid(_)), "{err}");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_all_and_wait_for_termination() {
    let c = cluster();
    let ns = c.namespace("apply-prune");
    let m = manager(c).await;
    let mut objects = vec![
        cm(&ns, "owned", json!({})),
        cm(&ns, "kept", json!({})),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns}, "stringData": {"k": "v"}}),
    ];
    objects[1]["metadata"]["annotations"] = json!({format!("{GROUP}/prune"): "disabled"});
    m.set_owner_labels(&mut objects, "app", &ns);
    m.apply_all_staged(objects, &flux_options()).await.expect("apply");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &cm(&ns, "foreign", json!({})).to_string()).ok("create foreign");

    let id = |kind: &str, name: &str| ObjMetadata {
        namespace: ns.to_string(),
        name: name.into(),
        group: String::new(),
        kind: kind.into(),
    };
    let targets = [
        id("ConfigMap", "owned"),
        id("ConfigMap", "kept"),
        id("ConfigMap", "foreign"),
        id("ConfigMap", "gone"),
        id("Secret", "s"),
    ];
    let options = DeleteOptions {
        inclusions: m.owner_labels("app", &ns),
        exclusions: BTreeMap::from([(format!("{GROUP}/prune"), "disabled".to_string())]),
    };
    let set = m.delete_all(&targets, &options).await.expect("delete");
    assert_eq!(
        actions(&set),
        [
            (format!("Secret/{ns}/s"), Action::Deleted),
            (format!("ConfigMap/{ns}/owned"), Action::Deleted),
            (format!("ConfigMap/{ns}/kept"), Action::Skipped),
            (format!("ConfigMap/{ns}/gone"), Action::Deleted),
            (format!("ConfigMap/{ns}/foreign"), Action::Skipped),
        ]
    );
    assert_eq!(set.entries[0].group_version, "v1");
    m.wait_for_termination(&targets[..1], Duration::from_secs(30)).await.expect("owned is gone");
    m.wait_for_set_termination(&set, Duration::from_secs(30)).await.expect("deleted ones are gone");
    assert!(c.kubectl(&["get", "configmap", "kept", "-n", &ns]).ok);

    // An object held by a finalizer outlives the timeout; the error names it.
    let mut held = cm(&ns, "held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    m.apply_all_staged(vec![held], &flux_options()).await.expect("apply held");
    let _ = m.delete_all(&[id("ConfigMap", "held")], &DeleteOptions::default()).await.expect("delete held");
    let err = m.wait_for_termination(&[id("ConfigMap", "held")], Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, eddy_apply::ApplyError::Timeout(_)), "{err}");
    assert!(err.to_string().contains(&format!("ConfigMap/{ns}/held termination timeout")), "{err}");
    let _ = c
        .kubectl(&[
            "patch",
            "configmap",
            "held",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .ok("unhold");
    m.wait_for_termination(&[id("ConfigMap", "held")], Duration::from_secs(30)).await.expect("held is gone");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonated_service_account_without_rbac_is_forbidden() {
    let c = cluster();
    let ns = c.namespace("apply-sa");
    let _ = c.kubectl(&["create", "serviceaccount", "tenant", "-n", &ns]).ok("create sa");
    let sa = format!("system:serviceaccount:{ns}:tenant");
    let m = ResourceManager::new(
        client(&c.kubeconfig, Some(&sa)).await,
        Owner { field: "kustomize-controller".into(), group: GROUP.into() },
    );
    let err = m.apply_all_staged(vec![cm(&ns, "denied", json!({}))], &flux_options()).await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("ConfigMap/{ns}/denied dry-run failed (Forbidden): ")), "{err}");
    assert!(err.contains(&format!("User \"{sa}\" cannot patch resource \"configmaps\"")), "{err}");

    // Granted edit in its namespace, the same apply succeeds.
    let _ = c
        .kubectl(&[
            "create",
            "rolebinding",
            "tenant-edit",
            "-n",
            &ns,
            "--clusterrole=edit",
            &format!("--serviceaccount={ns}:tenant"),
        ])
        .ok("rolebinding");
    // The authorizer sees the binding through its informer, a moment later.
    let mut attempts = 0;
    let set = loop {
        match m.apply_all_staged(vec![cm(&ns, "denied", json!({}))], &flux_options()).await {
            Ok(set) => break set,
            Err(e) if attempts < 60 && e.to_string().contains("(Forbidden)") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("apply as tenant: {e}"),
        }
    };
    assert_eq!(set.entries[0].action, Action::Created);
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_fields_owned_by_another_manager_are_left_alone() {
    let c = cluster();
    let ns = c.namespace("apply-ignore");
    let m = manager(c).await;
    let deploy = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}}}})
    };
    let scale_to_3 = || {
        let partial = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 3}});
        let _ = c
            .kubectl_stdin(
                &["apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", "-"],
                &partial.to_string(),
            )
            .ok("scale with another apply manager");
    };
    let replicas = || get(c, "deployment", &ns, "web")["spec"]["replicas"].clone();
    m.apply_all_staged(vec![deploy("a")], &flux_options()).await.expect("create");
    settle_deployment(c, &ns, "web");

    // Without an ignore rule the other manager's change is drift, and reverted.
    scale_to_3();
    let set = m.apply_all_staged(vec![deploy("a")], &flux_options()).await.expect("revert");
    assert_eq!(set.entries[0].action, Action::Configured);
    assert_eq!(replicas(), 1);

    let ignoring = ApplyOptions {
        drift_ignore_rules: vec![eddy_apply::IgnoreRule {
            paths: vec!["/spec/replicas".into()],
            selector: Some(eddy_apply::IgnoreSelector { kind: "Deployment".into(), ..Default::default() }),
        }],
        ..flux_options()
    };
    scale_to_3();
    let set = m.apply_all_staged(vec![deploy("a")], &ignoring).await.expect("ignored");
    assert_eq!(set.entries[0].action, Action::Unchanged);
    assert_eq!(replicas(), 3);
    // A real change is applied without taking the ignored field back.
    let set = m.apply_all_staged(vec![deploy("b")], &ignoring).await.expect("change image");
    assert_eq!(set.entries[0].action, Action::Configured);
    let live = get(c, "deployment", &ns, "web");
    assert_eq!(live["spec"]["replicas"], 3);
    assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["image"], "b");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_fields_migrate_to_the_applied_version() {
    let c = cluster();
    let ns = c.namespace("apply-migrate");
    let group = format!("e2emig{:06x}.example.com", rand_suffix());
    let version = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage, "schema": {"openAPIV3Schema": {"type": "object",
            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}})
    };
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gizmos.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
            "versions": [version("v1beta1", false), version("v1", true)]}});
    let gizmo = |v: &str, size: i64| json!({"apiVersion": format!("{group}/{v}"), "kind": "Gizmo", "metadata": {"name": "g", "namespace": ns}, "spec": {"size": size}});
    let m = manager(c).await;
    m.apply_all_staged(vec![crd, gizmo("v1beta1", 1)], &flux_options()).await.expect("apply v1beta1");
    let options = ApplyOptions { migrate_api_version: true, ..flux_options() };
    let set = m.apply_all_staged(vec![gizmo("v1", 1)], &options).await.expect("apply v1");
    assert_eq!(set.entries[0].action, Action::Configured, "the migration is a change");
    let live = json(
        &c.kubectl(&["get", &format!("gizmos.{group}"), "g", "-n", &ns, "-o", "json", "--show-managed-fields"])
            .ok("get gizmo"),
    );
    let versions: Vec<&str> =
        live["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|e| e["apiVersion"].as_str()).collect();
    assert!(!versions.is_empty() && versions.iter().all(|v| *v == format!("{group}/v1")), "{versions:?}");
    let set = m.apply_all_staged(vec![gizmo("v1", 1)], &options).await.expect("apply v1 again");
    assert_eq!(set.entries[0].action, Action::Unchanged);
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
    let _ = c.kubectl(&["delete", "crd", &format!("gizmos.{group}"), "--wait=false"]);
}
