//! Kustomization scenarios over several steps or objects: SOPS decryption (age, OpenPGP, a
//! wrong key; files encrypted by the real sops), impersonation, drift correction, the seed's
//! monorepo layout as a dependsOn chain of three, a health-check timeout with retries, a
//! missing dependency that appears, and a cross-namespace source.

use crate::scenario::{Encrypt, Expect, Ks, Scenario, Source, SourceExpect, Step};

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: {ns}\ndata:\n  color: blue\n  size: large\n";
const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: {ns}\ntype: Opaque\nstringData:\n  password: s3cr3t-value\n";
const AGE_KEYS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-keys\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
identity.agekey: {age_identity_b64}\n";
const WRONG_AGE_KEYS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-keys\n  namespace: {ns}\ntype: Opaque\ndata:\n  \
identity.agekey: {wrong_age_identity_b64}\n";
const PGP_KEYS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-keys\n  namespace: {ns}\ntype: Opaque\ndata:\n  private.asc: {pgp_secret_b64}\n";
const DECRYPT: &str = "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-keys\n";

/// A ServiceAccount `deployer` allowed everything on ConfigMaps of the namespace, nothing else.
const DEPLOYER: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: {ns}\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: configmaps\n  namespace: {ns}\nrules:\n\
- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [\"*\"]\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: {ns}\nroleRef:\n  \
apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: configmaps\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  \
namespace: {ns}\n";

fn sops(name: &'static str, how: Encrypt, keys: &str, expect: Expect) -> Scenario {
    Scenario::new(
        name,
        vec![("deploy/secret.yaml", SECRET.into()), ("deploy/app.yaml", CM.into())],
        Ks::app(DECRYPT).expect(expect),
    )
    .encrypt("deploy/secret.yaml", how)
    .pre(keys)
}

fn ks(name: &'static str, path: &'static str, extra: &str, expect: Expect) -> Ks {
    Ks { name, path, extra: extra.to_owned(), expect }
}

fn kustomization(body: &str) -> String {
    format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n{body}")
}

/// The seed's monorepo (§13.1), small: infrastructure controllers and configs, apps with a
/// base and a staging overlay.
fn monorepo() -> Vec<(&'static str, String)> {
    let cm = |name: &str| CM.replace("name: app", &format!("name: {name}"));
    vec![
        ("infrastructure/controllers/staging/controller.yaml", cm("controller")),
        ("infrastructure/configs/staging/issuer.yaml", cm("issuer")),
        (
            "apps/base/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 1\n  \
             selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    \
             spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        env:\n        - name: ENVIRONMENT\n          \
             value: ${ENVIRONMENT}\n"
                .into(),
        ),
        ("apps/base/kustomization.yaml", kustomization("resources:\n- web.yaml\n")),
        (
            "apps/staging/kustomization.yaml",
            kustomization(
                "resources:\n- ../base\npatches:\n- patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 2\n  \
                 target:\n    kind: Deployment\n    name: web\n",
            ),
        ),
    ]
}

/// Every multi-step Kustomization scenario, in a fixed order.
#[must_use]
pub fn all() -> Vec<Scenario> {
    vec![
        sops("sops-age", Encrypt::Age, AGE_KEYS, Expect::Ready).observe("{ns}_creds__Secret", "v1"),
        sops("sops-pgp", Encrypt::Pgp, PGP_KEYS, Expect::Ready).observe("{ns}_creds__Secret", "v1"),
        sops("sops-wrong-key", Encrypt::Age, WRONG_AGE_KEYS, Expect::Failed).observe("{ns}_creds__Secret", "v1"),
        Scenario::new(
            "impersonation-denied",
            vec![("deploy/app.yaml", CM.into()), ("deploy/secret.yaml", SECRET.into())],
            Ks::app("  serviceAccountName: deployer\n").expect(Expect::Failed),
        )
        .pre(DEPLOYER)
        .observe("{ns}_app__ConfigMap", "v1")
        .observe("{ns}_creds__Secret", "v1"),
        Scenario::new(
            "impersonation-allowed",
            vec![("deploy/app.yaml", CM.into())],
            Ks::app("  serviceAccountName: deployer\n"),
        )
        .pre(DEPLOYER),
        Scenario::new("drift-correction", vec![("deploy/app.yaml", CM.into())], Ks::app("")).step(Step::Drift {
            resource: "configmap",
            name: "app",
            patch: "{\"data\":{\"color\":\"red\",\"extra\":\"added\"}}",
            expect: Expect::Ready,
        }),
        Scenario::new(
            "monorepo-depends-on-chain",
            monorepo(),
            ks("infrastructure-controllers", "./infrastructure/controllers/staging", "  wait: true\n  timeout: 1m\n", Expect::Ready),
        )
        .and(ks(
            "infrastructure-configs",
            "./infrastructure/configs/staging",
            "  retryInterval: 5s\n  dependsOn:\n  - name: infrastructure-controllers\n",
            Expect::Ready,
        ))
        .and(ks(
            "apps",
            "./apps/staging",
            "  retryInterval: 5s\n  dependsOn:\n  - name: infrastructure-configs\n  postBuild:\n    substitute:\n      ENVIRONMENT: staging\n",
            Expect::Ready,
        )),
        Scenario::new(
            "health-timeout-retry",
            vec![(
                "deploy/web.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: stuck\n  namespace: {ns}\nspec:\n  replicas: 1\n  \
                 selector:\n    matchLabels:\n      app: stuck\n  template:\n    metadata:\n      labels:\n        app: stuck\n    \
                 spec:\n      nodeSelector:\n        no-such-node: \"true\"\n      containers:\n      - name: app\n        image: nginx:1.27\n"
                    .into(),
            )],
            Ks::app("  wait: true\n  timeout: 15s\n  retryInterval: 10s\n").expect(Expect::Reason("HealthCheckFailed")),
        ),
        Scenario::new(
            "depends-on-appears",
            vec![("base/base.yaml", CM.replace("name: app", "name: base")), ("deploy/app.yaml", CM.into())],
            Ks::app("  retryInterval: 5s\n  dependsOn:\n  - name: base\n").expect(Expect::Reason("DependencyNotReady")),
        )
        .step(Step::Create { ks: ks("base", "./base", "", Expect::Ready), expect: Expect::Ready }),
        Scenario::new(
            "cross-namespace-source",
            vec![("deploy/app.yaml", CM.into())],
            Ks::app("  sourceRef:\n    kind: GitRepository\n    name: shared\n    namespace: {ns}-src\n"),
        )
        .pre("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}-src\n")
        .source(Source { namespace: Some("{ns}-src"), ..Source::new("shared", "  ref:\n    branch: main\n", SourceExpect::Ready) })
        .namespace("{ns}-src"),
    ]
}
