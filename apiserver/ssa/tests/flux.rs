//! Server-side apply on real Flux kinds, with Eddy's registry schemas and conversion.

use eddy_ssa::{ApplyError, FieldManager, Request};
use serde_json::{Value, json};

fn fm(group: &str, kind: &str) -> FieldManager {
    FieldManager::for_resource(eddy_api::find(group, kind).expect("kind"))
}

fn req<'a>(manager: &'a str, api_version: &'a str, now: &'a str) -> Request<'a> {
    Request { manager, api_version, subresource: "", now }
}

fn fields(obj: &Value, manager: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

/// What `flux create source git podinfo --url=... --branch=master --export` prints.
fn flux_export() -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": "flux-system"},
        "spec": {"interval": "1m0s", "ref": {"branch": "master"}, "url": "https://github.com/stefanprodan/podinfo"}
    })
}

#[test]
fn flux_export_applied_twice_is_unchanged() {
    let fm = fm("source.toolkit.fluxcd.io", "GitRepository");
    let r = req("kubectl", "source.toolkit.fluxcd.io/v1", "2026-01-01T00:00:01Z");
    let mut first = fm.apply(None, &flux_export(), &r, false).unwrap().object;
    eddy_api::admission::admit_create(&mut first, Default::default()).unwrap();
    first["metadata"]["uid"] = json!("u");
    assert_eq!(
        fields(&first, "kubectl"),
        json!({"f:spec": {"f:interval": {}, "f:ref": {"f:branch": {}}, "f:url": {}}})
    );
    let r2 = req("kubectl", "source.toolkit.fluxcd.io/v1", "2026-01-01T00:00:02Z");
    let second = fm.apply(Some(&first), &flux_export(), &r2, false).unwrap();
    assert!(!second.changed);
    assert_eq!(second.object, first);
}

#[test]
fn two_managers_conflict_and_force_takes_over() {
    let fm = fm("source.toolkit.fluxcd.io", "GitRepository");
    let v1 = "source.toolkit.fluxcd.io/v1";
    let first = fm.apply(None, &flux_export(), &req("kubectl", v1, "2026-01-01T00:00:01Z"), false).unwrap().object;
    let mut other = flux_export();
    other["spec"] = json!({"ref": {"branch": "main"}});
    let err = fm.apply(Some(&first), &other, &req("flux", v1, "2026-01-01T00:00:02Z"), false).unwrap_err();
    let ApplyError::Conflicts(c) = err else { panic!("expected conflicts") };
    assert_eq!(c.message(), r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.ref.branch"#);
    let forced = fm.apply(Some(&first), &other, &req("flux", v1, "2026-01-01T00:00:02Z"), true).unwrap().object;
    assert_eq!(forced["spec"]["ref"], json!({"branch": "main"}));
    assert_eq!(fields(&forced, "flux"), json!({"f:spec": {"f:ref": {"f:branch": {}}}}));
}

#[test]
fn helmrelease_values_are_deduced_granular_maps() {
    let fm = fm("helm.toolkit.fluxcd.io", "HelmRelease");
    let v2 = "helm.toolkit.fluxcd.io/v2";
    let hr = |values: Value| {
        json!({"apiVersion": v2, "kind": "HelmRelease", "metadata": {"name": "podinfo", "namespace": "default"},
            "spec": {"interval": "5m", "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                "values": values}})
    };
    let a = fm
        .apply(
            None,
            &hr(json!({"ingress": {"enabled": true, "hosts": [{"host": "a"}]}})),
            &req("a", v2, "2026-01-01T00:00:01Z"),
            false,
        )
        .unwrap()
        .object;
    assert_eq!(fields(&a, "a")["f:spec"]["f:values"], json!({"f:ingress": {".": {}, "f:enabled": {}, "f:hosts": {}}}));
    let mut b_cfg = hr(json!({"ingress": {"className": "nginx"}}));
    b_cfg["spec"].as_object_mut().unwrap().retain(|k, _| k == "values");
    let b = fm.apply(Some(&a), &b_cfg, &req("b", v2, "2026-01-01T00:00:02Z"), false).unwrap().object;
    assert_eq!(
        b["spec"]["values"]["ingress"],
        json!({"className": "nginx", "enabled": true, "hosts": [{"host": "a"}]})
    );
}

#[test]
fn receiver_oidc_providers_are_keyed_by_issuer() {
    let fm = fm("notification.toolkit.fluxcd.io", "Receiver");
    let v1 = "notification.toolkit.fluxcd.io/v1";
    let p = |url: &str| json!({"issuerURL": url, "validations": [{"expression": "true", "message": "m"}]});
    let cfg = json!({"apiVersion": v1, "kind": "Receiver", "metadata": {"name": "r", "namespace": "default"},
        "spec": {"type": "generic-oidc", "resources": [{"kind": "GitRepository", "name": "app"}], "oidcProviders": [p("https://a")]}});
    let obj = fm.apply(None, &cfg, &req("a", v1, "2026-01-01T00:00:01Z"), false).unwrap().object;
    assert_eq!(
        fields(&obj, "a")["f:spec"]["f:oidcProviders"],
        json!({"k:{\"issuerURL\":\"https://a\"}": {".": {}, "f:issuerURL": {}, "f:validations": {}}})
    );
}

#[test]
fn appliers_in_an_older_version_conflict_in_their_version() {
    let fm = fm("source.toolkit.fluxcd.io", "GitRepository");
    let beta = "source.toolkit.fluxcd.io/v1beta2";
    let mut cfg = flux_export();
    cfg["apiVersion"] = json!(beta);
    let obj = fm.apply(None, &cfg, &req("old", beta, "2026-01-01T00:00:01Z"), false).unwrap().object;
    let live_v1 = eddy_api::conversion::convert(obj, "v1").unwrap();
    let mut new_cfg = flux_export();
    new_cfg["spec"] = json!({"url": "https://example.com/other"});
    let err = fm
        .apply(Some(&live_v1), &new_cfg, &req("new", "source.toolkit.fluxcd.io/v1", "2026-01-01T00:00:02Z"), false)
        .unwrap_err();
    assert_eq!(err.to_string(), r#"Apply failed with 1 conflict: conflict with "old": .spec.url"#);
}
