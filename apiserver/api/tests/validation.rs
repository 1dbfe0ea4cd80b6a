//! Admission of whole objects: pruning, defaulting and validation messages, data-driven with one
//! `check` helper (input object, expected pruned paths, expected messages).

use eddy_api::validation::{validate_create, validate_update};
use serde_json::{Value, json};

fn admit(mut obj: Value) -> (Value, Vec<String>, Vec<String>) {
    let (group, version) = {
        let a = obj["apiVersion"].as_str().unwrap_or_default();
        let (g, v) = eddy_api::split_api_version(a);
        (g.to_owned(), v.to_owned())
    };
    let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
    let mut pruned = Vec::new();
    if let Some(schema) = eddy_api::schema(&group, &version, &kind) {
        pruned = eddy_api::pruning::prune(schema, &mut obj);
        eddy_api::defaulting::default(schema, &mut obj);
    }
    let errors = validate_create(&obj).iter().map(ToString::to_string).collect();
    (obj, pruned, errors)
}

fn check(obj: Value, pruned: &[&str], errors: &[&str]) {
    let shown = obj.to_string();
    let (_, got_pruned, got_errors) = admit(obj);
    assert_eq!(got_pruned, pruned, "pruned paths of {shown}");
    assert_eq!(got_errors, errors, "errors of {shown}");
}

fn meta() -> Value {
    json!({"name": "x", "namespace": "flux-system"})
}

fn obj(api_version: &str, kind: &str, spec: Value) -> Value {
    let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": meta()});
    o["spec"] = spec;
    o
}

const SRC: &str = "source.toolkit.fluxcd.io/v1";

/// Added by kube-apiserver when a blocking schema error keeps it from running a kind's CEL rules.
const NOT_CHECKED: &str = r#"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#;

#[test]
fn schema_errors_use_kube_apiserver_wording() {
    check(obj(SRC, "HelmRepository", json!({})), &[], &["spec.url: Required value"]);
    check(
        obj(SRC, "HelmRepository", json!({"url": "https://x", "type": "x"})),
        &[],
        &[r#"spec.type: Unsupported value: "x": supported values: "default", "oci""#],
    );
    check(
        obj(SRC, "GitRepository", json!({"url": "https://x", "interval": "5 minutes"})),
        &[],
        &[
            r#"spec.interval: Invalid value: "5 minutes": spec.interval in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'"#,
        ],
    );
    check(
        obj(SRC, "GitRepository", json!({"url": "ftp://x", "interval": "1m30s", "suspend": "yes"})),
        &[],
        &[
            r#"spec.url: Invalid value: "ftp://x": spec.url in body should match '^(http|https|ssh)://.*$'"#,
            r#"spec.suspend: Invalid value: "string": spec.suspend in body must be of type boolean: "string""#,
            NOT_CHECKED,
        ],
    );
    check(
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            json!({"interval": "5m", "releaseName": "r".repeat(54),
                   "chartRef": {"kind": "OCIRepository", "name": "podinfo"}}),
        ),
        &[],
        &["spec.releaseName: Too long: may not be more than 53 bytes", NOT_CHECKED],
    );
    check(
        obj(
            "image.toolkit.fluxcd.io/v1",
            "ImageRepository",
            json!({"image": "ghcr.io/a/b", "interval": "1h",
                   "exclusionList": (0..26).map(|i| format!("^{i}$")).collect::<Vec<_>>()}),
        ),
        &[],
        &["spec.exclusionList: Too many: 26: must have at most 25 items"],
    );
    check(
        obj(
            "notification.toolkit.fluxcd.io/v1",
            "Receiver",
            json!({"type": "generic-oidc", "resources": [{"kind": "GitRepository", "name": "a"}],
                   "oidcProviders": [
                       {"issuerURL": "https://a", "validations": [{"expression": "true", "message": "m"}]},
                       {"issuerURL": "https://a", "validations": []}]}),
        ),
        &[],
        &[
            r#"spec.oidcProviders[1].validations: Invalid value: 0: spec.oidcProviders[1].validations in body should have at least 1 items"#,
            r#"spec.oidcProviders[1]: Duplicate value: {"issuerURL":"https://a"}"#,
        ],
    );
}

#[test]
fn cel_rules_are_evaluated_after_defaulting() {
    // Bucket's rules read spec.provider, which only exists once the default is applied.
    check(obj(SRC, "Bucket", json!({"bucketName": "b", "endpoint": "e", "interval": "1m"})), &[], &[]);
    check(
        obj(
            SRC,
            "Bucket",
            json!({"bucketName": "b", "endpoint": "e", "interval": "1m",
                   "serviceAccountName": "sa"}),
        ),
        &[],
        &[r#"spec: Invalid value: "object": ServiceAccountName is not supported for the 'generic' Bucket provider"#],
    );
    check(
        obj(
            SRC,
            "Bucket",
            json!({"bucketName": "b", "endpoint": "e", "interval": "1m", "provider": "aws",
                   "sts": {"provider": "ldap", "endpoint": "https://sts"}}),
        ),
        &[],
        &[r#"spec: Invalid value: "object": 'aws' is the only supported STS provider for the 'aws' Bucket provider"#],
    );
    check(
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            json!({"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "a"},
                   "upgrade": {"strategy": {"name": "RemediateOnFailure", "retryInterval": "1m"}},
                   "kubeConfig": {}}),
        ),
        &[],
        &[
            r#"spec.upgrade.strategy: Invalid value: "object": .retryInterval can only be set when .name is 'RetryOnFailure'"#,
            r#"spec.kubeConfig: Invalid value: "object": exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"#,
        ],
    );
    check(
        obj("notification.toolkit.fluxcd.io/v1beta3", "Provider", json!({"type": "slack", "commitStatusExpr": "'x'"})),
        &[],
        &[
            r#"spec: Invalid value: "object": spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types"#,
        ],
    );
}

#[test]
fn unknown_fields_are_pruned_and_reported() {
    check(
        obj(
            SRC,
            "GitRepository",
            json!({"url": "https://x", "interval": "1m", "branch": "main",
                   "ref": {"branch": "main", "sha": "abc"}}),
        ),
        &["spec.branch", "spec.ref.sha"],
        &[],
    );
    let mut o = obj(SRC, "GitRepository", json!({"url": "https://x", "interval": "1m"}));
    o["metadata"]["labelz"] = json!({"a": "b"});
    o["extra"] = json!(1);
    check(o, &["extra", "metadata.labelz"], &[]);
}

#[test]
fn defaults_fill_nested_objects() {
    let (o, _, errors) = admit(obj(
        "image.toolkit.fluxcd.io/v1",
        "ImageUpdateAutomation",
        json!({"interval": "5m", "sourceRef": {"name": "g"}}),
    ));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(o["spec"]["sourceRef"]["kind"], "GitRepository");
    assert_eq!(o["spec"]["update"], json!({"strategy": "Setters"}));
    let (o, _, _) = admit(obj(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        json!({"interval": "5m", "chart": {"spec": {"chart": "nginx",
               "sourceRef": {"kind": "HelmRepository", "name": "bitnami"}, "verify": {}}}}),
    ));
    assert_eq!(o["spec"]["chart"]["spec"]["version"], "*");
    assert_eq!(o["spec"]["chart"]["spec"]["reconcileStrategy"], "ChartVersion");
    assert_eq!(o["spec"]["chart"]["spec"]["verify"]["provider"], "cosign");
}

#[test]
fn object_meta_and_type_errors() {
    let mut o = obj(SRC, "HelmRepository", json!({"url": "https://x"}));
    o["metadata"] = json!({"name": "Bad_Name", "labels": {"app": "-x-"}});
    let (_, _, errors) = admit(o);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with(r#"metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#));
    assert!(errors[1].starts_with(r#"metadata.labels: Invalid value: "-x-": a valid label must be"#));

    check(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v9", "kind": "GitRepository", "metadata": meta()}),
        &[],
        &[
            r#"apiVersion: Unsupported value: "source.toolkit.fluxcd.io/v9": supported values: "source.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1beta2""#,
        ],
    );
    check(json!({"metadata": meta()}), &[], &["apiVersion: Required value", "kind: Required value"]);
}

#[test]
fn updates_check_immutability_and_ratchet_unchanged_values() {
    // An object stored before a rule tightened: its bad interval is unchanged, so an update
    // touching something else is allowed; changing it to another bad value is not.
    let old = obj(SRC, "GitRepository", json!({"url": "https://x", "interval": "5 min"}));
    let mut new = old.clone();
    new["spec"]["suspend"] = json!(true);
    assert!(validate_update(&new, &old).is_empty());
    new["spec"]["interval"] = json!("6 min");
    assert_eq!(validate_update(&new, &old).len(), 1);

    let mut renamed = old.clone();
    renamed["spec"]["interval"] = json!("1m");
    renamed["metadata"]["name"] = json!("y");
    let errs: Vec<String> = validate_update(&renamed, &old).iter().map(ToString::to_string).collect();
    assert_eq!(errs, [r#"metadata.name: Invalid value: "y": field is immutable"#]);
}
