//! Round trips between v1beta2 and v1 for every kind that has both, including the fields that
//! exist in only one of the versions.

use std::path::Path;

use eddy_api::conversion::{ANNOTATION_PREFIX, convert};
use serde_json::{Value, json};

fn validate(obj: &Value) -> Vec<String> {
    eddy_api::validation::validate_create(obj).iter().map(ToString::to_string).collect()
}

/// Converts to `to` and back, checking that the intermediate object is valid in `to` and the
/// final one equals the start. Returns the intermediate object.
fn round_trip(obj: &Value, to: &str) -> Value {
    let from =
        obj["apiVersion"].as_str().and_then(|a| a.rsplit_once('/')).map(|(_, v)| v.to_owned()).expect("apiVersion");
    let there = convert(obj.clone(), to).expect("convert there");
    assert!(there["apiVersion"].as_str().is_some_and(|a| a.ends_with(&format!("/{to}"))), "{there}");
    let errors = validate(&there);
    assert!(errors.is_empty(), "invalid after conversion to {to}: {errors:?}\n{there}");
    let back = convert(there.clone(), &from).expect("convert back");
    assert_eq!(&back, obj, "round trip through {to} changed the object");
    there
}

fn annotation(obj: &Value, version: &str) -> Option<Vec<Value>> {
    obj.pointer("/metadata/annotations")?
        .get(format!("{ANNOTATION_PREFIX}{version}"))?
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
}

fn git_v1() -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": "flux-system", "annotations": {"team": "a"}},
        "spec": {
            "interval": "1m",
            "url": "https://example.com/app.git",
            "provider": "azure",
            "serviceAccountName": "sa",
            "proxySecretRef": {"name": "proxy"},
            "sparseCheckout": ["deploy"],
            "timeout": "60s",
            "verify": {"mode": "TagAndHEAD", "secretRef": {"name": "pgp"}}
        },
        "status": {
            "observedGeneration": 2,
            "observedSparseCheckout": ["deploy"],
            "sourceVerificationMode": "TagAndHEAD"
        }
    })
}

#[test]
fn git_repository_v1_only_fields_survive_v1beta2() {
    let v1 = git_v1();
    let beta = round_trip(&v1, "v1beta2");
    // The v1beta2 object only knows mode "head"; the real mode is remembered.
    assert_eq!(beta["spec"]["verify"]["mode"], "head");
    assert!(beta["spec"].get("sparseCheckout").is_none());
    assert!(beta["status"].get("sourceVerificationMode").is_none());
    let stash = annotation(&beta, "v1").expect("annotation with v1 fields");
    let paths: Vec<&str> = stash.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            "/spec/provider",
            "/spec/serviceAccountName",
            "/spec/proxySecretRef",
            "/spec/sparseCheckout",
            "/spec/verify/mode",
            "/status/observedSparseCheckout",
            "/status/sourceVerificationMode",
        ]
    );
    assert_eq!(beta["metadata"]["annotations"]["team"], "a");
}

#[test]
fn git_repository_v1beta2_only_fields_survive_v1() {
    let beta = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
        "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": "flux-system"},
        "spec": {
            "interval": "1m",
            "url": "ssh://git@example.com/app.git",
            "gitImplementation": "libgit2",
            "accessFrom": {"namespaceSelectors": [{"matchLabels": {"team": "a"}}]},
            "verify": {"mode": "head", "secretRef": {"name": "pgp"}}
        },
        "status": {"url": "http://source/app.tar.gz", "contentConfigChecksum": "sha256:x"}
    });
    let v1 = round_trip(&beta, "v1");
    assert!(v1["spec"].get("gitImplementation").is_none());
    assert!(v1["spec"].get("accessFrom").is_none());
    assert_eq!(v1["spec"]["verify"]["mode"], "head");
    let stash = annotation(&v1, "v1beta2").expect("annotation with v1beta2 fields");
    let remembered = stash.iter().filter(|e| e.get("value").is_some()).count();
    assert_eq!(remembered, 4, "{stash:?}");
    // The object had no annotations: the map is marked as created by the conversion.
    assert!(stash.iter().any(|e| e["absent"] == true));
}

#[test]
fn helm_chart_bucket_oci_and_image_kinds_round_trip_both_ways() {
    let cases = [
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "HelmChart",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"chart": "podinfo", "interval": "5m", "valuesFile": "values-prod.yaml",
                     "accessFrom": {"namespaceSelectors": []},
                     "sourceRef": {"kind": "GitRepository", "name": "charts"}}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"chart": "podinfo", "interval": "5m", "valuesFiles": ["a.yaml", "b.yaml"],
                     "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                     "verify": {"provider": "cosign",
                                "matchOIDCIdentity": [{"issuer": "^https://x$", "subject": ".*"}]}}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
            "metadata": {"name": "b", "namespace": "n"},
            "spec": {"bucketName": "cfg", "endpoint": "s3.amazonaws.com", "interval": "5m",
                     "provider": "aws", "serviceAccountName": "sa"}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "Bucket",
            "metadata": {"name": "b", "namespace": "n"},
            "spec": {"bucketName": "cfg", "endpoint": "minio:9000", "interval": "5m",
                     "provider": "generic",
                     "accessFrom": {"namespaceSelectors": [{"matchLabels": {"a": "b"}}]}}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "o", "namespace": "n"},
            "spec": {"interval": "5m", "url": "oci://ghcr.io/org/app",
                     "verify": {"provider": "cosign", "trustedRootSecretRef": {"name": "root"}}}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "OCIRepository",
            "metadata": {"name": "o", "namespace": "n"},
            "spec": {"interval": "5m", "url": "oci://ghcr.io/org/app"},
            "status": {"contentConfigChecksum": "sha256:abc"}
        }),
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "h", "namespace": "n"},
            "spec": {"url": "oci://ghcr.io/charts", "type": "oci"}
        }),
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "i", "namespace": "n"},
            "spec": {"interval": "5m", "sourceRef": {"kind": "GitRepository", "name": "g"},
                     "git": {"commit": {"author": {"email": "bot@example.com"},
                                        "signingKey": {"secretRef": {"name": "k"}, "type": "ssh"}}}}
        }),
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImagePolicy",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"imageRepositoryRef": {"name": "r"}, "policy": {"semver": {"range": "1.x"}}}
        }),
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {"image": "ghcr.io/org/app", "interval": "5m"}
        }),
    ];
    for obj in cases {
        let version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let other = if version.ends_with("/v1") { "v1beta2" } else { "v1" };
        round_trip(&obj, other);
    }
}

#[test]
fn helm_chart_values_file_becomes_the_first_values_file_in_v1() {
    let beta = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "HelmChart",
        "metadata": {"name": "c", "namespace": "n"},
        "spec": {"chart": "podinfo", "interval": "5m", "valuesFile": "base.yaml",
                 "valuesFiles": ["prod.yaml"],
                 "sourceRef": {"kind": "GitRepository", "name": "charts"}}
    });
    let v1 = round_trip(&beta, "v1");
    assert_eq!(v1["spec"]["valuesFiles"], json!(["base.yaml", "prod.yaml"]));
    assert!(v1["spec"].get("valuesFile").is_none());

    // Without a list, the list is created, and removed again on the way back.
    let mut only_file = beta.clone();
    only_file["spec"].as_object_mut().map(|m| m.remove("valuesFiles"));
    let v1 = round_trip(&only_file, "v1");
    assert_eq!(v1["spec"]["valuesFiles"], json!(["base.yaml"]));

    // A change made through v1 wins over what the conversion remembered.
    let mut edited = convert(beta.clone(), "v1").expect("to v1");
    edited["spec"]["valuesFiles"] = json!(["base.yaml", "staging.yaml"]);
    let back = convert(edited, "v1beta2").expect("to v1beta2");
    assert_eq!(back["spec"]["valuesFiles"], json!(["base.yaml", "staging.yaml"]));
    assert_eq!(back["spec"]["valuesFile"], "base.yaml");
}

#[test]
fn enum_values_replaced_for_v1beta2_are_not_restored_over_later_edits() {
    let beta = convert(git_v1(), "v1beta2").expect("to v1beta2");
    assert_eq!(beta["spec"]["verify"]["mode"], "head");
    let mut removed = beta.clone();
    removed["spec"].as_object_mut().map(|m| m.remove("verify"));
    let v1 = convert(removed, "v1").expect("to v1");
    // The remembered mode has nowhere to go: verification was removed through v1beta2.
    assert!(v1["spec"].get("verify").is_none(), "{v1}");
}

#[test]
fn objects_without_version_specific_fields_carry_no_annotation() {
    let obj = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "h", "namespace": "n"},
        "spec": {"url": "https://charts.example.com", "interval": "10m"}
    });
    let beta = round_trip(&obj, "v1beta2");
    assert!(beta["metadata"].get("annotations").is_none(), "{beta}");
}

#[test]
fn every_seed_example_round_trips_through_every_served_version() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let mut obj: Value = serde_norway::from_str(&text).expect("yaml");
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let (group, version) = eddy_api::split_api_version(&api_version);
        let info = eddy_api::find(group, &kind).expect("served kind");
        let schema = &info.version(version).expect("served version").schema;
        eddy_api::pruning::prune(schema, &mut obj);
        eddy_api::defaulting::default(schema, &mut obj);
        if !validate(&obj).is_empty() {
            continue; // the guide's fragments
        }
        for v in &info.versions {
            if v.name != version {
                round_trip(&obj, v.name);
                count += 1;
            }
        }
    }
    assert!(count >= 10, "only {count} round trips");
}
