//! What the Kustomization benchmark stores and creates: the repositories' content (one app
//! directory templated with post-build variables, as Flux's own benchmark), and the bodies of
//! the GitRepositories, Kustomizations and the impersonated service account.

use eddy_test_git::RepoBuilder;
use serde_json::{Value, json};

/// The path every Kustomization builds.
pub const PATH: &str = "./deploy";

/// The name of repository `r` and of its GitRepository.
#[must_use]
pub fn repo_name(r: usize) -> String {
    format!("repo-{r:02}")
}

/// Kustomization `i`'s name and the repository it builds.
#[must_use]
pub fn kustomization_of(i: usize, repos: usize) -> (String, usize) {
    (format!("app-{i:04}"), i % repos.max(1))
}

/// The CPU request of release `release` (the upgrade run changes it, as Flux's benchmark does).
#[must_use]
pub fn cpu_request(release: usize) -> String {
    format!("{}m", 10 + release)
}

/// Release `release` of repository `r`: a kustomization of a ServiceAccount, a Service, a
/// Deployment with 0 replicas and an Ingress, all named `${app}` (post-build substitution).
///
/// # Errors
/// Writing to the work tree fails.
pub fn fill(b: &mut RepoBuilder, r: usize, release: usize) -> anyhow::Result<()> {
    b.write(
        "README.md",
        format!("# {}\n\nOne app, deployed once per Kustomization (post-build `app`).\n", repo_name(r)),
    )?;
    b.write(
        "deploy/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n\
         - serviceaccount.yaml\n- service.yaml\n- deployment.yaml\n- ingress.yaml\n",
    )?;
    b.write(
        "deploy/serviceaccount.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${app}\n  labels:\n    app: ${app}\n",
    )?;
    b.write(
        "deploy/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ${app}\n  labels:\n    app: ${app}\nspec:\n  \
         selector:\n    app: ${app}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 9898\n",
    )?;
    b.write(
        "deploy/deployment.yaml",
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${{app}}\n  labels:\n    app: ${{app}}\nspec:\n  \
             replicas: 0\n  selector:\n    matchLabels:\n      app: ${{app}}\n  template:\n    metadata:\n      \
             labels:\n        app: ${{app}}\n    spec:\n      serviceAccountName: ${{app}}\n      containers:\n      \
             - name: app\n        image: ghcr.io/stefanprodan/podinfo:6.9.0\n        ports:\n        \
             - containerPort: 9898\n        resources:\n          requests:\n            cpu: {}\n            \
             memory: 32Mi\n",
            cpu_request(release)
        ),
    )?;
    b.write(
        "deploy/ingress.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ${app}\n  labels:\n    app: ${app}\n\
         spec:\n  rules:\n  - host: ${app}.bench.example.com\n    http:\n      paths:\n      - path: /\n        \
         pathType: Prefix\n        backend:\n          service:\n            name: ${app}\n            port:\n              \
         number: 80\n",
    )?;
    Ok(())
}

/// A GitRepository for repository `r` at `url`.
#[must_use]
pub fn git_repository(ns: &str, r: usize, url: &str, interval: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": repo_name(r), "namespace": ns},
        "spec": {"interval": interval, "url": url, "ref": {"branch": "main"}, "timeout": "60s"},
    })
}

/// Kustomization `i`: prune, wait, timeout 1m, post-build `app` = its name, applied into `ns`;
/// impersonating `service_account` when given.
#[must_use]
pub fn kustomization(ns: &str, i: usize, repos: usize, interval: &str, service_account: Option<&str>) -> Value {
    let (name, r) = kustomization_of(i, repos);
    let mut spec = json!({
        "interval": interval,
        "path": PATH,
        "prune": true,
        "wait": true,
        "timeout": "1m",
        "targetNamespace": ns,
        "sourceRef": {"kind": "GitRepository", "name": repo_name(r)},
        "postBuild": {"substitute": {"app": name}},
    });
    if let Some(sa) = service_account {
        spec["serviceAccountName"] = json!(sa);
    }
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

/// The service account Kustomizations impersonate and its binding to `cluster-admin` in `ns`
/// (what Flux's benchmark gives its `flux` account), as (collection path, body) pairs.
#[must_use]
pub fn service_account(ns: &str, name: &str) -> Vec<(String, Value)> {
    vec![
        (
            format!("/api/v1/namespaces/{ns}/serviceaccounts"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}),
        ),
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": format!("{name}-admin"), "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kustomizations_spread_over_the_repositories_with_their_own_app_name() {
        let ks = kustomization("bench", 13, 10, "5m", None);
        assert_eq!(ks["metadata"]["name"], "app-0013");
        assert_eq!(ks["spec"]["sourceRef"]["name"], "repo-03");
        assert_eq!(ks["spec"]["postBuild"]["substitute"]["app"], "app-0013");
        assert_eq!(ks["spec"]["wait"], true);
        assert_eq!(ks["spec"]["prune"], true);
        assert!(ks["spec"].get("serviceAccountName").is_none());
        let ks = kustomization("bench", 0, 10, "5m", Some("flux"));
        assert_eq!(ks["spec"]["serviceAccountName"], "flux");
        assert_eq!(kustomization_of(5, 0).1, 0, "no division by zero");
    }

    #[test]
    fn a_release_changes_the_deployment_and_every_name_is_substituted() {
        let root = tempfile::tempdir().unwrap();
        let mut b = RepoBuilder::init(root.path(), "r.git").unwrap();
        fill(&mut b, 0, 0).unwrap();
        let first = std::fs::read_to_string(b.work_path().join("deploy/deployment.yaml")).unwrap();
        fill(&mut b, 0, 1).unwrap();
        let second = std::fs::read_to_string(b.work_path().join("deploy/deployment.yaml")).unwrap();
        assert_ne!(first, second);
        assert!(second.contains("cpu: 11m"), "{second}");
        assert!(second.contains("name: ${app}"), "{second}");
        let ingress = std::fs::read_to_string(b.work_path().join("deploy/ingress.yaml")).unwrap();
        assert!(ingress.contains("name: ${app}") && !ingress.contains("${{"), "{ingress}");
    }
}
