//! Eddy behind a real kube-apiserver: registration and discovery, kubectl and the flux CLI
//! through the aggregator, RBAC tenancy via SubjectAccessReview, forged identity headers,
//! namespace deletion and garbage collection by kube-controller-manager.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually, json, repo_root};

const GIT_REPO: &str = "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: NAME
  namespace: NS
spec:
  interval: 5m
  url: https://github.com/stefanprodan/podinfo
  ref:
    branch: master
";

fn git_repo(ns: &str, name: &str) -> String {
    GIT_REPO.replace("NAME", name).replace("NS", ns)
}

fn ensure_namespace(c: &Cluster, ns: &str) {
    let yaml = c.kubectl(&["create", "namespace", ns, "--dry-run=client", "-o", "yaml"]).ok("render namespace");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok("apply namespace");
}

#[test]
fn every_group_version_is_registered_and_discoverable() {
    let c = cluster();
    let services = json(
        &c.kubectl(&["get", "apiservices", "-l", "app.kubernetes.io/name=eddy", "-o", "json"]).ok("get apiservices"),
    );
    let mut registered = BTreeSet::new();
    for s in services["items"].as_array().expect("items") {
        let name = s["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let available = s["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
            .map(|c| c["status"].clone());
        assert_eq!(available, Some("True".into()), "{name}: {}", s["status"]);
        registered.insert(name);
    }
    let mut expected = BTreeSet::new();
    for info in eddy_api::registry() {
        for v in &info.versions {
            expected.insert(format!("{}.{}", v.name, info.group));
        }
    }
    assert_eq!(registered, expected);

    let apis = json(&c.kubectl(&["get", "--raw", "/apis"]).ok("get --raw /apis"));
    let listed: BTreeSet<String> = apis["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["versions"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["groupVersion"].as_str().map(str::to_owned))
        .collect();
    for gv in &expected {
        let (version, group) = gv.split_once('.').expect("version.group");
        assert!(listed.contains(&format!("{group}/{version}")), "{group}/{version} missing from /apis");
    }

    let resources = c.kubectl(&["api-resources", "-o", "wide"]).ok("api-resources");
    for info in eddy_api::registry() {
        let line = resources
            .lines()
            .find(|l| l.split_whitespace().next() == Some(info.plural) && l.contains(info.group))
            .unwrap_or_else(|| panic!("{} missing from api-resources:\n{resources}", info.plural));
        for short in info.short_names {
            assert!(line.split_whitespace().any(|w| w.split(',').any(|s| s == *short)), "{short} in {line}");
        }
        assert!(line.contains(info.kind), "{line}");
    }
}

#[test]
fn seed_examples_apply_through_kube_apiserver() {
    let c = cluster();
    let examples = repo_root().join("../shared/seed/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e}", examples.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for f in &files {
        let doc: serde_json::Value =
            serde_norway::from_str(&std::fs::read_to_string(f).expect("read example")).expect("yaml");
        if let Some(ns) = doc["metadata"]["namespace"].as_str() {
            ensure_namespace(c, ns);
        }
    }
    let mut refused = Vec::new();
    let mut accepted = 0;
    let mut expected = BTreeSet::new();
    for pass in 0..2 {
        for f in &files {
            let out = c.kubectl(&["apply", "--validate=false", "-f", &f.to_string_lossy()]);
            if out.ok {
                if pass == 0 {
                    accepted += 1;
                    let doc: serde_json::Value =
                        serde_norway::from_str(&std::fs::read_to_string(f).expect("read example")).expect("yaml");
                    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
                    let group = api_version.split('/').next().unwrap_or_default();
                    let kind = doc["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
                    expected.insert(format!("{kind}.{group}/{}", doc["metadata"]["name"].as_str().unwrap_or_default()));
                } else {
                    assert!(
                        out.stdout.contains(" unchanged") || out.stdout.contains(" configured"),
                        "{}: {}",
                        f.display(),
                        out.stdout
                    );
                }
            } else {
                assert!(
                    out.stderr.contains("is invalid") && out.stderr.contains("Required value"),
                    "{}: {}",
                    f.display(),
                    out.stderr
                );
                if pass == 0 {
                    refused.push(f.file_name().map(|n| n.to_string_lossy()[..8].to_owned()).unwrap_or_default());
                }
            }
        }
    }
    assert_eq!(refused, ["line0343", "line1826", "line1855", "line1869", "line2420"]);
    assert_eq!(accepted, 51);
    // Files naming the same object twice are "configured" on the second pass; the rest are
    // unchanged. Every object is there.
    let all = c.kubectl(&["get", "flux", "-A", "-o", "name"]).ok("get flux -A");
    let listed: BTreeSet<&str> = all.lines().collect();
    let missing: Vec<&String> = expected.iter().filter(|e| !listed.contains(e.as_str())).collect();
    assert!(missing.is_empty(), "missing from `kubectl get flux -A`: {missing:?}");
}

#[test]
fn kubectl_verbs_watch_and_explain_through_the_aggregator() {
    let c = cluster();
    let ns = c.namespace("e2e-verbs");
    // A watch started first sees the whole life of the object.
    let mut watch = Command::new("kubectl")
        .args([
            "get",
            "gitrepositories",
            "-n",
            &ns,
            "-w",
            "--output-watch-events",
            "-o",
            "custom-columns=E:.type,N:.object.metadata.name,I:.object.spec.interval",
            "--no-headers",
            "--request-timeout=60s",
        ])
        .env("KUBECONFIG", &c.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &git_repo(&ns, "app")).ok("apply");
    let _ = c
        .kubectl(&[
            "patch",
            "gitrepository",
            "app",
            "-n",
            &ns,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"interval":"10m"}}"#,
        ])
        .ok("patch merge");
    let _ = c
        .kubectl(&[
            "patch",
            "gitrepository",
            "app",
            "-n",
            &ns,
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/interval","value":"11m"}]"#,
        ])
        .ok("patch json");
    let _ = c.kubectl(&["label", "gitrepository", "app", "-n", &ns, "team=web"]).ok("label");
    assert_eq!(
        c.kubectl(&["get", "gitrepository", "app", "-n", &ns, "-o", "jsonpath={.spec.interval}"]).ok("get"),
        "11m"
    );
    let table = c.kubectl(&["get", "gitrepo", "-n", &ns]).ok("get table");
    assert!(table.contains("URL") && table.contains("https://github.com/stefanprodan/podinfo"), "{table}");
    let _ = c.kubectl(&["delete", "gitrepository", "app", "-n", &ns]).ok("delete");
    let mut events = Vec::new();
    let _ = eventually(Duration::from_secs(30), || {
        while let Ok(l) = rx.try_recv() {
            events.push(l.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        }
        events.iter().any(|e| e[0] == "DELETED").then_some(())
    });
    let _ = watch.kill();
    let _ = watch.wait();
    let kinds: Vec<&str> = events.iter().map(|e| e[0].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"ADDED"), "{events:?}");
    assert_eq!(kinds.last(), Some(&"DELETED"), "{events:?}");
    assert!(kinds.iter().filter(|k| **k == "MODIFIED").count() >= 3, "{events:?}");
    assert!(events.iter().any(|e| e[0] == "MODIFIED" && e[2] == "11m"), "{events:?}");

    let explained = c.kubectl(&["explain", "kustomization.spec.postBuild"]).ok("explain");
    assert!(explained.contains("substitute") && explained.contains("substituteFrom"), "{explained}");
    let explained = c.kubectl(&["explain", "gitrepositories.spec.ref.branch"]).ok("explain nested");
    assert!(explained.contains("FIELD: branch"), "{explained}");
}

#[test]
fn flux_cli_drives_eddy() {
    let c = cluster();
    let ns = c.namespace("e2e-flux");
    let exported = c
        .flux(&[
            "create",
            "source",
            "git",
            "podinfo",
            "-n",
            &ns,
            "--url=https://github.com/stefanprodan/podinfo",
            "--branch=master",
            "--interval=1m",
            "--export",
        ])
        .ok("flux create source git --export");
    assert!(exported.contains("kind: GitRepository"), "{exported}");
    let first = c.kubectl_stdin(&["apply", "-f", "-"], &exported).ok("kubectl apply");
    assert!(first.contains("created"), "{first}");
    let second = c.kubectl_stdin(&["apply", "-f", "-"], &exported).ok("kubectl apply again");
    assert!(second.contains("unchanged"), "{second}");

    let listed = c.flux(&["get", "sources", "git", "-A"]).ok("flux get sources git -A");
    assert!(listed.lines().any(|l| l.contains(ns.as_str()) && l.contains("podinfo")), "{listed}");
    let ks = c
        .flux(&[
            "create",
            "kustomization",
            "podinfo",
            "-n",
            &ns,
            "--source=GitRepository/podinfo",
            "--path=./kustomize",
            "--prune=true",
            "--interval=10m",
            "--export",
        ])
        .ok("flux create kustomization --export");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &ks).ok("kubectl apply kustomization");
    let listed = c.flux(&["get", "kustomizations", "-A"]).ok("flux get kustomizations -A");
    assert!(listed.lines().any(|l| l.contains(ns.as_str()) && l.contains("podinfo")), "{listed}");
    // Server-side apply of the CLI's output, twice: the second apply changes nothing.
    let again = c
        .flux(&[
            "create",
            "source",
            "git",
            "podinfo",
            "-n",
            &ns,
            "--url=https://github.com/stefanprodan/podinfo",
            "--branch=master",
            "--interval=1m",
            "--export",
        ])
        .ok("export");
    // The source controller writes the status meanwhile (the URL is unreachable here), so
    // the apply's own effect is read from the generation and kubectl's managedFields entry,
    // not from the resourceVersion.
    let applied = |c: &Cluster| {
        let o = json(
            &c.kubectl(&["get", "gitrepository", "podinfo", "-n", &ns, "-o", "json", "--show-managed-fields"])
                .ok("get"),
        );
        let kubectl = o["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["manager"] == "kubectl" && m["operation"] == "Apply")
            .cloned();
        (o["metadata"]["generation"].clone(), kubectl)
    };
    let _ = c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &again).ok("kubectl apply --server-side");
    let before = applied(c);
    assert!(before.1.is_some(), "kubectl's Apply entry in managedFields");
    std::thread::sleep(Duration::from_millis(1100));
    let out = c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &again).ok("kubectl apply --server-side again");
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(applied(c), before, "a repeated server-side apply must not write");

    let _ = c.flux(&["suspend", "source", "git", "podinfo", "-n", &ns]).ok("flux suspend");
    assert_eq!(
        c.kubectl(&["get", "gitrepository", "podinfo", "-n", &ns, "-o", "jsonpath={.spec.suspend}"]).ok("get"),
        "true"
    );
    // The URL cannot be reached from the test machine, so resume is not waited for; the
    // patch is what this test checks.
    let resumed = c.flux(&["resume", "source", "git", "podinfo", "-n", &ns, "--wait=false"]);
    assert!(resumed.ok, "flux resume: {} {}", resumed.stdout, resumed.stderr);
    // flux's merge patch drops `suspend` (Go's omitempty) rather than writing false.
    let suspend =
        c.kubectl(&["get", "gitrepository", "podinfo", "-n", &ns, "-o", "jsonpath={.spec.suspend}"]).ok("get");
    assert!(suspend.is_empty() || suspend == "false", "suspend after resume: {suspend:?}");

    let export = c.flux(&["export", "source", "git", "podinfo", "-n", &ns]).ok("flux export");
    let doc: serde_json::Value = serde_norway::from_str(&export).expect("export is YAML");
    assert_eq!(doc["spec"]["url"], "https://github.com/stefanprodan/podinfo");
    assert_eq!(doc["spec"]["ref"]["branch"], "master");
    assert!(doc["metadata"].get("uid").is_none() && doc.get("status").is_none(), "{export}");
}

fn tenant(c: &Cluster, ns: &str) -> PathBuf {
    ensure_namespace(c, ns);
    let rbac = format!(
        "apiVersion: v1
kind: ServiceAccount
metadata: {{name: dev, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: flux-dev, namespace: {ns}}}
rules:
- apiGroups: [source.toolkit.fluxcd.io, kustomize.toolkit.fluxcd.io, helm.toolkit.fluxcd.io]
  resources: ['*']
  verbs: [get, list, watch, create, update, patch, delete, deletecollection]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: flux-dev, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: flux-dev}}
subjects:
- {{kind: ServiceAccount, name: dev, namespace: {ns}}}
"
    );
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &rbac).ok("tenant RBAC");
    c.service_account_kubeconfig(ns, "dev")
}

#[test]
fn tenants_are_confined_to_their_namespace() {
    let c = cluster();
    let a = tenant(c, "team-a");
    let _b = tenant(c, "team-b");
    let user_a = "system:serviceaccount:team-a:dev";
    let name = format!("tenancy-{:06x}", rand::random::<u32>() & 0xff_ffff);

    // team-a's own namespace: every verb.
    let mut watch = Command::new("kubectl")
        .args([
            "get",
            "gitrepositories",
            "-n",
            "team-a",
            "-w",
            "--output-watch-events",
            "-o",
            "custom-columns=E:.type,NS:.object.metadata.namespace,N:.object.metadata.name",
            "--no-headers",
            "--request-timeout=40s",
        ])
        .env("KUBECONFIG", &a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch as team-a");
    std::thread::sleep(Duration::from_secs(2));
    let created = c.kubectl_as(&a, &["create", "-f", &write_tmp(c, &git_repo("team-a", &name))]).ok("team-a create");
    assert!(created.contains("created"), "{created}");
    let _ = c.kubectl_as(&a, &["get", "gitrepositories", "-n", "team-a"]).ok("team-a list");
    let _ = c
        .kubectl_as(
            &a,
            &["patch", "gitrepository", &name, "-n", "team-a", "--type", "merge", "-p", r#"{"spec":{"suspend":true}}"#],
        )
        .ok("team-a patch");
    // The admin writes in team-b while team-a watches.
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &git_repo("team-b", &name)).ok("admin create in team-b");
    let _ = c.kubectl_as(&a, &["delete", "gitrepository", &name, "-n", "team-a"]).ok("team-a delete");

    // team-b and the whole cluster are out of reach, with kube's wording.
    let denied = |args: &[&str], verbs: &[&str], scope: &str| {
        let err = c.kubectl_as(&a, args).fails(&args.join(" "));
        assert!(err.contains("is forbidden"), "{err}");
        assert!(
            verbs.iter().any(|verb| err.contains(&format!(
                "User \"{user_a}\" cannot {verb} resource \"gitrepositories\" in API group \"source.toolkit.fluxcd.io\" {scope}"
            ))),
            "expected one of {verbs:?} {scope} in {err}"
        );
    };
    let b = "in the namespace \"team-b\"";
    denied(&["get", "gitrepositories", "-n", "team-b"], &["list"], b);
    denied(&["get", "gitrepository", &name, "-n", "team-b"], &["get"], b);
    denied(&["get", "gitrepositories", "-A"], &["list"], "at the cluster scope");
    denied(&["create", "-f", &write_tmp(c, &git_repo("team-b", "intruder"))], &["create"], b);
    denied(&["delete", "gitrepository", &name, "-n", "team-b"], &["delete", "get"], b);
    denied(&["patch", "gitrepository", &name, "-n", "team-b", "--type", "merge", "-p", "{}"], &["patch", "get"], b);
    let watch_b = "/apis/source.toolkit.fluxcd.io/v1/namespaces/team-b/gitrepositories?watch=true&timeoutSeconds=2";
    denied(&["get", "--raw", watch_b], &["watch"], b);
    assert!(
        c.kubectl(&["get", "gitrepository", "intruder", "-n", "team-b"])
            .fails("intruder must not exist")
            .contains("NotFound")
    );

    // kubectl auth can-i agrees with what is enforced.
    let can = |args: &[&str]| c.kubectl_as(&a, &[&["auth", "can-i"], args].concat()).stdout.trim().to_owned();
    assert_eq!(can(&["create", "gitrepositories.source.toolkit.fluxcd.io", "-n", "team-a"]), "yes");
    assert_eq!(can(&["watch", "gitrepositories.source.toolkit.fluxcd.io", "-n", "team-a"]), "yes");
    assert_eq!(can(&["create", "gitrepositories.source.toolkit.fluxcd.io", "-n", "team-b"]), "no");
    assert_eq!(can(&["list", "gitrepositories.source.toolkit.fluxcd.io", "-A"]), "no");

    let _ = c.kubectl(&["delete", "gitrepository", &name, "-n", "team-b"]).ok("admin delete in team-b");
    std::thread::sleep(Duration::from_secs(1));
    let _ = watch.kill();
    let out = watch.wait_with_output().expect("watch output");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.lines().any(|l| l.starts_with("ADDED") && l.contains(&name)), "{seen}");
    assert!(seen.lines().any(|l| l.starts_with("DELETED") && l.contains(&name)), "{seen}");
    assert!(!seen.contains("team-b"), "team-a's watch showed team-b: {seen}");
}

/// deploy/'s ClusterRoles fold the Flux kinds into the built-in `view` and `edit` roles (through
/// kube-controller-manager's ClusterRole aggregation), so a RoleBinding to `view` reads them and
/// one to `edit` writes them, with no Eddy-specific role.
#[test]
fn built_in_view_and_edit_roles_cover_flux_kinds() {
    let c = cluster();
    let ns = "team-roles";
    ensure_namespace(c, ns);
    let mut rbac = String::new();
    for (user, role) in [("viewer", "view"), ("editor", "edit")] {
        rbac.push_str(&format!(
            "apiVersion: v1
kind: ServiceAccount
metadata: {{name: {user}, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {user}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}
subjects:
- {{kind: ServiceAccount, name: {user}, namespace: {ns}}}
---
"
        ));
    }
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &rbac).ok("role bindings");
    let viewer = c.service_account_kubeconfig(ns, "viewer");
    let editor = c.service_account_kubeconfig(ns, "editor");
    let can = |who: &PathBuf, verb: &str, resource: &str| {
        c.kubectl_as(who, &["auth", "can-i", verb, resource, "-n", ns]).stdout.trim().to_owned()
    };
    let kinds = [
        "gitrepositories.source.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "helmreleases.helm.toolkit.fluxcd.io",
        "alerts.notification.toolkit.fluxcd.io",
        "receivers.notification.toolkit.fluxcd.io",
        "imagepolicies.image.toolkit.fluxcd.io",
        "imageupdateautomations.image.toolkit.fluxcd.io",
    ];
    // The aggregation controller fills `view` and `edit` asynchronously after install.
    let aggregated = eventually(Duration::from_secs(30), || {
        kinds.iter().all(|k| can(&viewer, "watch", k) == "yes" && can(&editor, "delete", k) == "yes").then_some(())
    });
    assert!(aggregated.is_some(), "view/edit never covered every Flux kind");
    for k in kinds {
        assert_eq!(can(&viewer, "list", k), "yes", "view lists {k}");
        assert_eq!(can(&viewer, "create", k), "no", "view must not create {k}");
        assert_eq!(can(&editor, "create", k), "yes", "edit creates {k}");
    }
    assert_eq!(
        c.kubectl_as(&editor, &["auth", "can-i", "patch", kinds[2], "--subresource=status", "-n", ns]).stdout.trim(),
        "yes"
    );

    // What the roles grant is what Eddy enforces.
    let name = format!("roles-{:06x}", rand::random::<u32>() & 0xff_ffff);
    let file = write_tmp(c, &git_repo(ns, &name));
    let err = c.kubectl_as(&viewer, &["create", "-f", &file]).fails("view must not create");
    assert!(
        err.contains(&format!(
            "User \"system:serviceaccount:{ns}:viewer\" cannot create resource \"gitrepositories\" in API group \"source.toolkit.fluxcd.io\""
        )),
        "{err}"
    );
    let created = c.kubectl_as(&editor, &["create", "-f", &file]).ok("edit creates");
    assert!(created.contains("created"), "{created}");
    let listed = c.kubectl_as(&viewer, &["get", "gitrepositories", "-n", ns, "-o", "name"]).ok("view lists");
    assert!(listed.contains(&format!("gitrepository.source.toolkit.fluxcd.io/{name}")), "{listed}");
    let err = c.kubectl_as(&viewer, &["delete", "gitrepository", &name, "-n", ns]).fails("view must not delete");
    assert!(err.contains("cannot delete resource"), "{err}");
    let _ = c.kubectl_as(&editor, &["delete", "gitrepository", &name, "-n", ns]).ok("edit deletes");
    // Neither role reaches beyond its namespace.
    let err = c.kubectl_as(&editor, &["get", "kustomizations", "-A"]).fails("edit is namespaced");
    assert!(err.contains("at the cluster scope"), "{err}");
}

fn write_tmp(c: &Cluster, text: &str) -> String {
    let path = c.dir.join(format!("e2e-{:08x}.yaml", rand::random::<u32>()));
    std::fs::write(&path, text).expect("write manifest");
    path.to_string_lossy().into_owned()
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

#[test]
fn forged_identity_headers_are_refused() {
    let c = cluster();
    let ns = c.namespace("e2e-forged");
    let pki = c.dir.join("pki");
    let eddy = format!("https://127.0.0.1:{}", c.eddy_port);
    let ca = pki.join("eddy-ca.crt").to_string_lossy().into_owned();
    let url = format!("{eddy}/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/gitrepositories");
    let body = serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "forged"}, "spec": {"interval": "1m", "url": "https://example.com/x"},
    })
    .to_string();
    let forged = ["-H", "X-Remote-User: system:admin", "-H", "X-Remote-Group: system:masters"];
    let (admin_crt, admin_key) = (pki.join("admin.crt"), pki.join("admin.key"));
    let (admin_crt, admin_key) = (admin_crt.to_string_lossy(), admin_key.to_string_lossy());
    // No client certificate; then the cluster's admin certificate, which is a valid client
    // certificate but not the front proxy's.
    for cert in [vec![], vec!["--cert", &admin_crt, "--key", &admin_key]] {
        let mut get = vec!["--cacert", &ca];
        get.extend_from_slice(&cert);
        get.extend_from_slice(&forged);
        get.push(&url);
        let (code, text) = curl(&get);
        assert_eq!(code, 401, "{text}");
        let status = json(&text);
        assert_eq!(status["reason"], "Unauthorized");
        let mut post = vec!["--cacert", &ca, "-X", "POST", "-H", "Content-Type: application/json", "--data", &body];
        post.extend_from_slice(&cert);
        post.extend_from_slice(&forged);
        post.push(&url);
        let (code, text) = curl(&post);
        assert_eq!(code, 401, "{text}");
    }
    // Without forged headers the admin certificate (system:masters) is a user of its own.
    let (code, text) = curl(&["--cacert", &ca, "--cert", &admin_crt, "--key", &admin_key, &url]);
    assert_eq!(code, 200, "{text}");
    assert_eq!(json(&text)["items"], serde_json::json!([]), "nothing was written");
    // And nobody at all gets nothing.
    let (code, _) = curl(&["--cacert", &ca, &url]);
    assert_eq!(code, 401);
    let missing = c.kubectl(&["get", "gitrepository", "forged", "-n", &ns]).fails("forged object");
    assert!(missing.contains("NotFound"), "{missing}");
}

#[test]
fn creating_in_a_missing_namespace_is_refused() {
    let c = cluster();
    let err = c
        .kubectl_stdin(&["create", "-f", "-"], &git_repo("no-such-namespace-e2e", "x"))
        .fails("create in a missing namespace");
    assert!(err.contains("namespaces \"no-such-namespace-e2e\" not found"), "{err}");
}

#[test]
fn namespace_deletion_removes_flux_objects() {
    let c = cluster();
    let ns = c.namespace("e2e-nsdel");
    for name in ["one", "two", "three"] {
        let _ = c.kubectl_stdin(&["apply", "-f", "-"], &git_repo(&ns, name)).ok("create");
    }
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=true", "--timeout=120s"]).ok("delete namespace");
    let gone = c.kubectl(&["get", "namespace", &ns]).fails("namespace must be gone");
    assert!(gone.contains("NotFound"), "{gone}");
    let left = c.kubectl(&["get", "gitrepositories", "-A", "-o", "jsonpath={.items[*].metadata.namespace}"]).ok("list");
    assert!(!left.split_whitespace().any(|n| n == ns.as_str()), "objects left in {ns}: {left}");
    // A create in the deleted namespace is refused again.
    let err = c.kubectl_stdin(&["create", "-f", "-"], &git_repo(&ns, "late")).fails("create after deletion");
    assert!(err.contains("not found") || err.contains("being terminated"), "{err}");
}

#[test]
fn garbage_collector_follows_owner_references() {
    let c = cluster();
    let ns = c.namespace("e2e-gc");
    // A core object owns a Flux object.
    let _ = c.kubectl(&["create", "configmap", "owner", "-n", &ns]).ok("create configmap");
    let cm_uid = c.kubectl(&["get", "configmap", "owner", "-n", &ns, "-o", "jsonpath={.metadata.uid}"]).ok("uid");
    let dependent = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: owned\n  namespace: {ns}\n  \
         ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {cm_uid}\n\
         spec:\n  interval: 5m\n  url: https://example.com/owned\n"
    );
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &dependent).ok("create owned GitRepository");
    let _ = c.kubectl(&["delete", "configmap", "owner", "-n", &ns]).ok("delete owner");
    let collected = eventually(Duration::from_secs(90), || {
        let r = c.kubectl(&["get", "gitrepository", "owned", "-n", &ns]);
        (!r.ok && r.stderr.contains("NotFound")).then_some(())
    });
    assert!(collected.is_some(), "the GitRepository owned by a deleted ConfigMap was not collected");

    // A Flux object owns a core object.
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &git_repo(&ns, "parent")).ok("create parent");
    let uid = c.kubectl(&["get", "gitrepository", "parent", "-n", &ns, "-o", "jsonpath={.metadata.uid}"]).ok("uid");
    let child = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child\n  namespace: {ns}\n  ownerReferences:\n  - apiVersion: source.toolkit.fluxcd.io/v1\n    kind: GitRepository\n    name: parent\n    uid: {uid}\n"
    );
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &child).ok("create child");
    let _ = c.kubectl(&["delete", "gitrepository", "parent", "-n", &ns]).ok("delete parent");
    let collected = eventually(Duration::from_secs(90), || {
        let r = c.kubectl(&["get", "configmap", "child", "-n", &ns]);
        (!r.ok && r.stderr.contains("NotFound")).then_some(())
    });
    assert!(collected.is_some(), "the ConfigMap owned by a deleted GitRepository was not collected");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]).ok("cleanup");
}
