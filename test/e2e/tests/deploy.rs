//! `deploy/base`, the manifests that install Eddy in a cluster, checked against the real
//! control plane: kube-apiserver accepts every object (server-side dry run), the objects that
//! refer to each other agree (Service ↔ Deployment ↔ APIServices, ServiceAccount, volumes), and
//! the Deployment's container arguments start a working aggregated Eddy that answers its probes
//! and serves a request the way the aggregator sends it.
//!
//! The cluster's pods are kwok's fake ones, so the container itself cannot run here; its
//! arguments are run by the test instead, with the in-cluster parts swapped for local ones
//! (see [`deployment_arguments_start_an_aggregated_eddy`]).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eddy_binary, eventually, json, repo_root};
use serde_json::Value;

/// `deploy/base` rendered by kubectl's kustomize and dry-run applied on the server: the
/// objects as kube-apiserver would store them (defaults filled in).
fn dry_run_applied(c: &Cluster) -> Vec<Value> {
    let base = repo_root().join("deploy/base");
    let yaml = c.kubectl(&["kustomize", &base.to_string_lossy()]).ok("kubectl kustomize deploy/base");
    let out = c.kubectl_stdin(&["apply", "--dry-run=server", "-o", "json", "-f", "-"], &yaml).ok("dry-run apply");
    let list = json(&out);
    match list["kind"].as_str() {
        Some("List") => list["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![list],
    }
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "exactly one {kind} in deploy/base");
    found[0]
}

#[test]
fn deploy_base_is_accepted_and_consistent() {
    let c = cluster();
    let objects = dry_run_applied(c);
    let deployment = one(&objects, "Deployment");
    let service = one(&objects, "Service");
    let pod = &deployment["spec"]["template"];
    let ns = deployment["metadata"]["namespace"].as_str().expect("Deployment namespace");

    // The namespace, the ServiceAccount and the PersistentVolumeClaim the pod uses are installed.
    assert!(of_kind(&objects, "Namespace").iter().any(|n| n["metadata"]["name"] == ns), "namespace {ns}");
    let sa = pod["spec"]["serviceAccountName"].as_str().expect("serviceAccountName");
    assert!(
        of_kind(&objects, "ServiceAccount")
            .iter()
            .any(|s| s["metadata"]["name"] == sa && s["metadata"]["namespace"] == ns),
        "ServiceAccount {ns}/{sa}"
    );
    let volumes = pod["spec"]["volumes"].as_array().expect("volumes");
    for v in volumes {
        if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
            assert!(
                of_kind(&objects, "PersistentVolumeClaim").iter().any(|p| p["metadata"]["name"] == claim),
                "PersistentVolumeClaim {claim}"
            );
        }
    }
    // The serving certificate comes from the Secret the kustomization's comments name.
    assert!(volumes.iter().any(|v| v["secret"]["secretName"] == "eddy-serving-cert"), "{volumes:?}");

    // The delegated-auth bindings: system:auth-delegator cluster-wide and the
    // extension-apiserver-authentication-reader Role in kube-system, both for the ServiceAccount.
    let binds_sa = |b: &&&Value| {
        b["subjects"].as_array().is_some_and(|s| s.iter().any(|s| s["name"] == sa && s["namespace"] == ns))
    };
    assert!(
        of_kind(&objects, "ClusterRoleBinding")
            .iter()
            .filter(binds_sa)
            .any(|b| b["roleRef"]["name"] == "system:auth-delegator"),
        "auth-delegator binding"
    );
    assert!(
        of_kind(&objects, "RoleBinding").iter().filter(binds_sa).any(|b| b["metadata"]["namespace"] == "kube-system"
            && b["roleRef"]["name"] == "extension-apiserver-authentication-reader"),
        "authentication-reader binding"
    );

    // Service → pods: the selector matches the template's labels, the target port is a
    // container port.
    let labels = pod["metadata"]["labels"].as_object().expect("pod labels");
    for (k, v) in service["spec"]["selector"].as_object().expect("Service selector") {
        assert_eq!(labels.get(k), Some(v), "Service selector {k}={v}");
    }
    let container = &pod["spec"]["containers"][0];
    let container_ports = container["ports"].as_array().expect("container ports");
    let service_ports = service["spec"]["ports"].as_array().expect("Service ports");
    for p in service_ports {
        let target = &p["targetPort"];
        assert!(
            container_ports.iter().any(|cp| cp["name"] == *target || cp["containerPort"] == *target),
            "Service targetPort {target} is not a container port: {container_ports:?}"
        );
    }
    // The container listens where its ports and probes say.
    let args = container["args"].as_array().expect("args");
    let secure_port = flag(args, "secure-port").expect("--secure-port in the Deployment's args");
    let secure_port: u64 = secure_port.parse().expect("--secure-port is a number");
    assert!(container_ports.iter().any(|cp| cp["containerPort"] == secure_port), "port {secure_port}");

    // APIServices → Service: one per served group-version, each pointing at the Service's port.
    let mut expected = BTreeSet::new();
    for info in eddy_api::registry() {
        for v in &info.versions {
            expected.insert(format!("{}.{}", v.name, info.group));
        }
    }
    let apiservices = of_kind(&objects, "APIService");
    let names: BTreeSet<String> =
        apiservices.iter().filter_map(|a| a["metadata"]["name"].as_str().map(str::to_owned)).collect();
    assert_eq!(names, expected);
    for a in apiservices {
        let s = &a["spec"]["service"];
        assert_eq!(s["name"], service["metadata"]["name"], "{a}");
        assert_eq!(s["namespace"], service["metadata"]["namespace"], "{a}");
        assert!(service_ports.iter().any(|p| p["port"] == s["port"]), "{a}: port {} not on the Service", s["port"]);
    }
}

/// The value of `--name=value` or `--name value` in a container's args.
fn flag(args: &[Value], name: &str) -> Option<String> {
    let args: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
    let long = format!("--{name}");
    args.iter().enumerate().find_map(|(i, a)| match a.split_once('=') {
        Some((k, v)) if k == long => Some(v.to_owned()),
        None if *a == long => args.get(i + 1).map(|v| (*v).to_owned()),
        _ => None,
    })
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Runs the Deployment's container arguments with the binary the tests built. What the pod
/// gets from the cluster is swapped for local equivalents, and nothing else:
/// - `--data-dir` and the TLS files point into a temporary directory (the Secret's `tls.crt` and
///   `tls.key` are the test cluster's Eddy serving pair, for `eddy.eddy-system.svc`);
/// - `--bind-address` is 127.0.0.1 (tests bind loopback only) and `--secure-port` a free port,
///   as is the artifact server's `--storage-addr`;
/// - `--kubeconfig` holds a token of the same ServiceAccount, standing in for the in-cluster
///   credentials a pod would mount.
///
/// Every other argument is passed as written, so an argument `eddy serve` does not take fails
/// the test.
#[test]
fn deployment_arguments_start_an_aggregated_eddy() {
    let c = cluster();
    let objects = dry_run_applied(c);
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let sa = pod["serviceAccountName"].as_str().expect("serviceAccountName");
    let ns = deployment["metadata"]["namespace"].as_str().expect("namespace");
    let args: Vec<String> =
        container["args"].as_array().expect("args").iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    assert_eq!(args.first().map(String::as_str), Some("serve"), "{args:?}");

    let tmp = c.dir.join(format!("e2e-deploy-{:06x}", rand::random::<u32>() & 0xff_ffff));
    let tls = tmp.join("tls");
    std::fs::create_dir_all(&tls).expect("tmp dir");
    let pki = c.dir.join("pki");
    std::fs::copy(pki.join("eddy.crt"), tls.join("tls.crt")).expect("tls.crt");
    std::fs::copy(pki.join("eddy.key"), tls.join("tls.key")).expect("tls.key");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let local = |name: &str, value: &str| -> Option<String> {
        Some(match name {
            "data-dir" => tmp.join("data").to_string_lossy().into_owned(),
            "bind-address" => "127.0.0.1".to_owned(),
            "secure-port" => port.to_string(),
            "storage-addr" => "127.0.0.1:0".to_owned(),
            "tls-cert-file" | "tls-private-key-file" => {
                let file = Path::new(value).file_name().expect("a file name");
                tls.join(file).to_string_lossy().into_owned()
            }
            _ => return None,
        })
    };
    let mut run = Vec::new();
    for a in &args {
        match a.strip_prefix("--").and_then(|kv| kv.split_once('=')) {
            Some((name, value)) => match local(name, value) {
                Some(v) => run.push(format!("--{name}={v}")),
                None => run.push(a.clone()),
            },
            None => run.push(a.clone()),
        }
    }
    // A pod needs each of these set (the defaults bind loopback and write to the working
    // directory); they are swapped above only when written as `--flag=value`.
    let missing: Vec<&str> = ["data-dir", "bind-address", "secure-port", "tls-cert-file", "tls-private-key-file"]
        .into_iter()
        .filter(|f| !args.iter().any(|a| a.starts_with(&format!("--{f}="))))
        .collect();
    assert!(missing.is_empty(), "the Deployment does not set {missing:?} (as --flag=value): {args:?}");
    let kubeconfig = c.service_account_kubeconfig(ns, sa);
    run.push(format!("--kubeconfig={}", kubeconfig.display()));

    let log = std::fs::File::create(tmp.join("eddy.log")).expect("log file");
    let child = Command::new(eddy_binary())
        .args(&run)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("starting eddy");
    let mut eddy = Running(child);

    // The probes, as the kubelet sends them: HTTPS, no credentials.
    let ca = pki.join("eddy-ca.crt").to_string_lossy().into_owned();
    let probe = |kind: &str| {
        let p = &container[kind]["httpGet"];
        assert_eq!(p["scheme"], "HTTPS", "{kind}");
        let path = p["path"].as_str().expect("probe path").to_owned();
        format!("https://127.0.0.1:{port}{path}")
    };
    let readiness = probe("readinessProbe");
    let ready = eventually(Duration::from_secs(90), || {
        if let Ok(Some(status)) = eddy.0.try_wait() {
            let log = std::fs::read_to_string(tmp.join("eddy.log")).unwrap_or_default();
            panic!("eddy exited with {status} on the Deployment's arguments {run:?}:\n{log}");
        }
        (curl(&["--cacert", &ca, &readiness]).0 == 200).then_some(())
    });
    let log = || std::fs::read_to_string(tmp.join("eddy.log")).unwrap_or_default();
    assert!(ready.is_some(), "readiness probe {readiness} never answered 200; log:\n{}", log());
    let (code, body) = curl(&["--cacert", &ca, &probe("livenessProbe")]);
    assert_eq!(code, 200, "liveness probe: {body}");

    // A request as the aggregator sends it: the front proxy's client certificate and identity
    // headers, authorized by SubjectAccessReview through the ServiceAccount's delegation.
    let (crt, key) = (pki.join("front-proxy-client.crt"), pki.join("front-proxy-client.key"));
    let (crt, key) = (crt.to_string_lossy(), key.to_string_lossy());
    let url = format!("https://127.0.0.1:{port}/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories");
    let proxied = |user: &str, group: &str| {
        let (u, g) = (format!("X-Remote-User: {user}"), format!("X-Remote-Group: {group}"));
        curl(&["--cacert", &ca, "--cert", &crt, "--key", &key, "-H", &u, "-H", &g, &url])
    };
    let (code, body) = proxied("e2e-deploy-admin", "system:masters");
    assert_eq!(code, 200, "{body}\nlog:\n{}", log());
    assert_eq!(json(&body)["items"], serde_json::json!([]));
    let (code, body) = proxied("e2e-deploy-nobody", "system:authenticated");
    assert_eq!(code, 403, "{body}");
    assert_eq!(json(&body)["reason"], "Forbidden");

    let _ = eddy.0.kill();
    let _ = eddy.0.wait();
    let _ = std::fs::remove_dir_all(&tmp);
}
