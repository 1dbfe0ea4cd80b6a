//! The scenarios, each small: one feature or one failure path of the Kustomization controller.

use crate::scenario::{Expect, Ks, Scenario, Step};

fn cm(name: &str, data: &[(&str, &str)]) -> String {
    cm_meta(name, "", data)
}

/// A ConfigMap with extra metadata lines (indented by two spaces, under `metadata:`).
fn cm_meta(name: &str, meta: &str, data: &[(&str, &str)]) -> String {
    let namespace = if meta.contains("namespace:") { "" } else { "  namespace: {ns}\n" };
    let mut s = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{namespace}{meta}data:\n");
    for (k, v) in data {
        s.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    s
}

fn deployment(name: &str, pod_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {{ns}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n\
         \x20 template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n{pod_extra}      containers:\n      - name: app\n        image: nginx:1.27\n"
    )
}

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {{ns}}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n"
    )
}

fn kustomization_yaml(body: &str) -> String {
    format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n{body}")
}

fn one_cm() -> Vec<(&'static str, String)> {
    vec![("deploy/app.yaml", cm("app", &[("color", "blue")]))]
}

fn two_cms(second_meta: &str) -> Vec<(&'static str, String)> {
    vec![
        ("deploy/app.yaml", cm("app", &[("color", "blue")])),
        ("deploy/extra.yaml", cm_meta("extra", second_meta, &[("k", "v")])),
    ]
}

const ENCRYPTED_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
password: ENC[AES256_GCM,data:cGFzc3dvcmQ=,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n\
sops:\n  age:\n  - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n    enc: |\n      \
-----BEGIN AGE ENCRYPTED FILE-----\n      YWdl\n      -----END AGE ENCRYPTED FILE-----\n  \
lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n  \
encrypted_regex: ^(data|stringData)$\n  version: 3.13.3\n";

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  \
name: widgets.g{run}.eddy.test\nspec:\n  group: g{run}.eddy.test\n  names:\n    kind: Widget\n    listKind: WidgetList\n    \
plural: widgets\n    singular: widget\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    \
schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            \
x-kubernetes-preserve-unknown-fields: true\n";

/// Every scenario, in a fixed order: the single-Kustomization ones, the GitRepository ones
/// ([`crate::scenarios_git`]) and the multi-step ones ([`crate::scenarios_flows`]).
#[must_use]
pub fn all() -> Vec<Scenario> {
    let mut all = kustomizations();
    all.extend(crate::scenarios_git::all());
    all.extend(crate::scenarios_flows::all());
    all
}

#[allow(clippy::too_many_lines)] // a table of data, one entry per scenario
fn kustomizations() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "generated",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "blue")])),
                ("deploy/web.yaml", service("web")),
                ("deploy/notes.txt", "not a manifest\n".into()),
                ("deploy/sub/kustomization.yaml", kustomization_yaml("resources:\n- sub.yaml\n")),
                ("deploy/sub/sub.yaml", cm("sub", &[("k", "v")])),
            ],
            Ks::app(""),
        ),
        Scenario::new(
            "existing-kustomization",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "blue")])),
                (
                    "deploy/kustomization.yaml",
                    kustomization_yaml(
                        "namespace: {ns}\nresources:\n- app.yaml\nconfigMapGenerator:\n- name: settings\n  literals:\n  - mode=fast\nlabels:\n- pairs:\n    tier: backend\n",
                    ),
                ),
            ],
            Ks::app(""),
        ),
        Scenario::new("target-namespace", one_cm(), Ks::app("  targetNamespace: {ns}-target\n"))
            .pre("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}-target\n")
            .namespace("{ns}-target"),
        Scenario::new(
            "name-prefix-suffix",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "blue")])),
                ("deploy/web.yaml", deployment("web", "      volumes:\n      - name: c\n        configMap:\n          name: app\n")),
                ("deploy/kustomization.yaml", kustomization_yaml("resources:\n- app.yaml\n- web.yaml\n")),
            ],
            Ks::app("  namePrefix: pre-\n  nameSuffix: -suf\n"),
        ),
        Scenario::new(
            "common-metadata",
            one_cm(),
            Ks::app("  commonMetadata:\n    labels:\n      team: gitops\n    annotations:\n      owner: platform\n"),
        ),
        Scenario::new(
            "patches-strategic",
            vec![("deploy/web.yaml", deployment("web", ""))],
            Ks::app(
                "  patches:\n  - patch: |\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: web\n        \
                 labels:\n          patched: \"yes\"\n      spec:\n        replicas: 2\n    target:\n      kind: Deployment\n",
            ),
        ),
        Scenario::new(
            "patches-json6902",
            two_cms(""),
            Ks::app(
                "  patches:\n  - patch: |\n      - op: add\n        path: /data/added\n        value: by-patch\n    \
                 target:\n      kind: ConfigMap\n      name: app\n",
            ),
        ),
        Scenario::new(
            "images",
            vec![("deploy/web.yaml", deployment("web", ""))],
            Ks::app("  images:\n  - name: nginx\n    newName: registry.example.com/nginx\n    newTag: \"1.28\"\n"),
        ),
        Scenario::new(
            "components",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "blue")])),
                ("deploy/kustomization.yaml", kustomization_yaml("resources:\n- app.yaml\n")),
                (
                    "comp/kustomization.yaml",
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |\n    \
                     - op: add\n      path: /data/component\n      value: \"on\"\n  target:\n    kind: ConfigMap\n"
                        .into(),
                ),
            ],
            Ks::app("  components:\n  - ../comp\n"),
        ),
        Scenario::new(
            "postbuild-inline",
            vec![(
                "deploy/app.yaml",
                cm("app", &[("color", "${color}"), ("size", "${size:=large}"), ("alt", "${alt:-small}"), ("raw", "$${color}"), ("bare", "$color")]),
            )],
            Ks::app("  postBuild:\n    substitute:\n      color: red\n"),
        ),
        Scenario::new("postbuild-configmap", vec![("deploy/app.yaml", cm("app", &[("color", "${color}"), ("shape", "${shape}")]))],
            Ks::app("  postBuild:\n    substitute:\n      shape: round\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n"))
        .pre("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\n  namespace: {ns}\ndata:\n  color: green\n  shape: square\n"),
        Scenario::new("postbuild-secret", vec![("deploy/app.yaml", cm("app", &[("color", "${color}")]))],
            Ks::app("  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n    - kind: Secret\n      name: secret-vars\n"))
        .pre("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\n  namespace: {ns}\ndata:\n  color: green\n---\n\
              apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-vars\n  namespace: {ns}\nstringData:\n  color: purple\n"),
        Scenario::new("postbuild-optional-missing", vec![("deploy/app.yaml", cm("app", &[("color", "${color:=green}")]))],
            Ks::app("  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: absent\n      optional: true\n")),
        Scenario::new("postbuild-required-missing", vec![("deploy/app.yaml", cm("app", &[("color", "${color:=green}")]))],
            Ks::app("  postBuild:\n    substituteFrom:\n    - kind: Secret\n      name: absent\n").expect(Expect::Failed)),
        Scenario::new("postbuild-unset-variable", vec![("deploy/app.yaml", cm("app", &[("color", "${unset}"), ("x", "a${unset}b")]))],
            Ks::app("  postBuild:\n    substitute:\n      other: value\n").expect(Expect::Failed)),
        Scenario::new(
            "substitute-disabled",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "${color}")])),
                ("deploy/raw.yaml", cm_meta("raw", "  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n", &[("color", "${color}")])),
            ],
            Ks::app("  postBuild:\n    substitute:\n      color: red\n"),
        ),
        Scenario::new("prune-on-removal", two_cms(""), Ks::app(""))
            .step(Step::Commit { write: vec![], remove: vec!["deploy/extra.yaml"], expect: Expect::Ready })
            .observe("{ns}_extra__ConfigMap", "v1"),
        Scenario::new("prune-disabled", two_cms("  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n"), Ks::app(""))
            .step(Step::Commit { write: vec![], remove: vec!["deploy/extra.yaml"], expect: Expect::Ready })
            .observe("{ns}_extra__ConfigMap", "v1"),
        Scenario::new(
            "ssa-if-not-present",
            vec![
                ("deploy/kept.yaml", cm_meta("kept", "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n", &[("v", "git")])),
                ("deploy/fresh.yaml", cm_meta("fresh", "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n", &[("v", "git")])),
            ],
            Ks::app(""),
        )
        .pre("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: {ns}\ndata:\n  v: cluster\n")
        .observe("{ns}_kept__ConfigMap", "v1"),
        Scenario::new(
            "ssa-ignore",
            vec![
                ("deploy/app.yaml", cm("app", &[("color", "blue")])),
                ("deploy/ignored.yaml", cm_meta("ignored", "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: Ignore\n", &[("v", "git")])),
            ],
            Ks::app(""),
        )
        .observe("{ns}_ignored__ConfigMap", "v1"),
        Scenario::new(
            "reconcile-disabled",
            vec![
                ("deploy/kept.yaml", cm_meta("kept", "  annotations:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n", &[("v", "git")])),
                ("deploy/fresh.yaml", cm_meta("fresh", "  annotations:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n", &[("v", "git")])),
            ],
            Ks::app(""),
        )
        .pre("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: {ns}\ndata:\n  v: cluster\n")
        .observe("{ns}_kept__ConfigMap", "v1")
        .observe("{ns}_fresh__ConfigMap", "v1"),
        Scenario::new(
            "force-immutable",
            vec![("deploy/app.yaml", format!("{}immutable: true\n", cm("app", &[("v", "1")])))],
            Ks::app("  force: true\n"),
        )
        .step(Step::Commit {
            write: vec![("deploy/app.yaml", format!("{}immutable: true\n", cm("app", &[("v", "2")])))],
            remove: vec![],
            expect: Expect::Ready,
        }),
        Scenario::new(
            "immutable-without-force",
            vec![("deploy/app.yaml", format!("{}immutable: true\n", cm("app", &[("v", "1")])))],
            Ks::app(""),
        )
        .step(Step::Commit {
            write: vec![("deploy/app.yaml", format!("{}immutable: true\n", cm("app", &[("v", "2")])))],
            remove: vec![],
            expect: Expect::Failed,
        }),
        Scenario::new(
            "wait-deployment",
            vec![("deploy/web.yaml", deployment("web", "")), ("deploy/svc.yaml", service("web"))],
            Ks::app("  wait: true\n  timeout: 1m\n"),
        ),
        Scenario::new(
            "health-checks",
            vec![("deploy/web.yaml", deployment("web", "")), ("deploy/app.yaml", cm("app", &[("k", "v")]))],
            Ks::app("  timeout: 1m\n  healthChecks:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: web\n    namespace: {ns}\n"),
        ),
        Scenario::new(
            "health-check-failing",
            vec![("deploy/web.yaml", deployment("stuck", "      nodeSelector:\n        no-such-node: \"true\"\n"))],
            Ks::app("  wait: true\n  timeout: 30s\n").expect(Expect::Reason("HealthCheckFailed")),
        ),
        Scenario::new(
            "health-cel-current",
            vec![("deploy/app.yaml", cm("app", &[("ready", "yes")]))],
            Ks::app(
                "  timeout: 1m\n  healthChecks:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: app\n    namespace: {ns}\n  \
                 healthCheckExprs:\n  - apiVersion: v1\n    kind: ConfigMap\n    current: \"data.ready == 'yes'\"\n    failed: \"data.ready == 'broken'\"\n",
            ),
        ),
        Scenario::new(
            "health-cel-invalid",
            vec![("deploy/app.yaml", cm("app", &[("ready", "yes")]))],
            Ks::app(
                "  timeout: 1m\n  healthChecks:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: app\n    namespace: {ns}\n  \
                 healthCheckExprs:\n  - apiVersion: v1\n    kind: ConfigMap\n    current: \"data.ready ==\"\n",
            )
            .expect(Expect::Failed),
        ),
        Scenario::new("depends-on-ready", vec![("base/base.yaml", cm("base", &[("k", "v")])), ("deploy/app.yaml", cm("app", &[("k", "v")]))],
            Ks { name: "base", path: "./base", extra: String::new(), expect: Expect::Ready })
        .and(Ks::app("  retryInterval: 5s\n  dependsOn:\n  - name: base\n")),
        Scenario::new("depends-on-missing", one_cm(),
            Ks::app("  dependsOn:\n  - name: absent\n").expect(Expect::Reason("DependencyNotReady"))),
        Scenario::new("missing-source", one_cm(),
            Ks::app("  sourceRef:\n    kind: GitRepository\n    name: absent\n").expect(Expect::Failed)),
        Scenario::new("missing-path", one_cm(),
            Ks { name: "app", path: "./nope", extra: String::new(), expect: Expect::Failed }),
        Scenario::new(
            "broken-kustomization",
            vec![("deploy/kustomization.yaml", kustomization_yaml("resources:\n- missing.yaml\n"))],
            Ks::app("").expect(Expect::Reason("BuildFailed")),
        ),
        Scenario::new(
            "sops-without-decryption",
            vec![("deploy/secret.yaml", ENCRYPTED_SECRET.into()), ("deploy/app.yaml", cm("app", &[("k", "v")]))],
            Ks::app("").expect(Expect::Failed),
        ),
        Scenario::new("deletion-mirror-prune", two_cms(""), Ks::app(""))
            .step(Step::Delete("app"))
            .observe("{ns}_app__ConfigMap", "v1")
            .observe("{ns}_extra__ConfigMap", "v1"),
        Scenario::new("deletion-policy-delete", two_cms(""), Ks::app("  prune: false\n  deletionPolicy: Delete\n"))
            .step(Step::Delete("app"))
            .observe("{ns}_app__ConfigMap", "v1")
            .observe("{ns}_extra__ConfigMap", "v1"),
        Scenario::new("deletion-policy-orphan", two_cms(""), Ks::app("  deletionPolicy: Orphan\n"))
            .step(Step::Delete("app"))
            .observe("{ns}_app__ConfigMap", "v1")
            .observe("{ns}_extra__ConfigMap", "v1"),
        Scenario::new("suspend", one_cm(), Ks::app("  suspend: true\n").expect(Expect::Suspended))
            .observe("{ns}_app__ConfigMap", "v1"),
        Scenario::new(
            "crd-and-custom-object",
            vec![
                ("deploy/crd.yaml", CRD.into()),
                ("deploy/widget.yaml", "apiVersion: g{run}.eddy.test/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: {ns}\nspec:\n  size: 3\n".into()),
            ],
            Ks::app(""),
        ),
        Scenario::new(
            "namespace-and-objects",
            vec![
                ("deploy/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}-app\n".into()),
                ("deploy/app.yaml", cm_meta("app", "  namespace: {ns}-app\n", &[("k", "v")])),
                (
                    "deploy/role.yaml",
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {ns}-reader\nrules:\n- apiGroups: [\"\"]\n  \
                     resources: [configmaps]\n  verbs: [get]\n"
                        .into(),
                ),
            ],
            Ks::app(""),
        )
        .namespace("{ns}-app"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_dns_labels_and_there_are_enough() {
        let all = all();
        assert!(all.len() >= 60, "{} scenarios", all.len());
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        for n in &names {
            assert!(
                n.len() <= 40 && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate scenario names");
    }

    fn parses(what: &str, text: &str) {
        let text = crate::scenario::fill(text, "ns1", "abc123");
        // The fixtures' placeholders (URLs, keys, commits) as plain words.
        let text =
            regex::Regex::new(r"\{[a-z_0-9]+(:[a-z0-9-]+)?\}").expect("regex").replace_all(&text, "x").into_owned();
        for doc in text.split("\n---\n") {
            let v: Result<serde_norway::Value, _> = serde_norway::from_str(doc);
            assert!(
                v.as_ref().is_ok_and(serde_norway::Value::is_mapping),
                "{what} is not a YAML mapping: {v:?}\n{doc}"
            );
        }
    }

    #[test]
    fn every_file_and_manifest_is_valid_yaml() {
        for s in all() {
            for (path, text) in &s.files {
                if path.ends_with(".yaml") {
                    parses(&format!("{}: {path}", s.name), text);
                }
            }
            for step in &s.steps {
                match step {
                    Step::Commit { write, .. } => {
                        for (path, text) in write.iter().filter(|(p, _)| p.ends_with(".yaml")) {
                            parses(&format!("{}: step {path}", s.name), text);
                        }
                    }
                    Step::Create { ks, .. } => parses(&format!("{}: step {}", s.name, ks.name), &ks.manifest("ns")),
                    Step::Drift { patch, .. } => {
                        assert!(serde_json::from_str::<serde_json::Value>(patch).is_ok(), "{}: patch", s.name);
                    }
                    Step::Delete(_) => {}
                }
            }
            for src in &s.sources {
                parses(&format!("{}: source {}", s.name, src.name), &src.manifest());
            }
            for (_, files) in &s.repos {
                for (path, text) in files {
                    if path.ends_with(".yaml") {
                        parses(&format!("{}: {path}", s.name), text);
                    }
                }
            }
            if !s.pre.is_empty() {
                parses(&format!("{}: pre", s.name), &s.pre);
            }
            for k in &s.kustomizations {
                parses(&format!("{}: {}", s.name, k.name), &k.manifest("ns"));
            }
        }
    }
}
