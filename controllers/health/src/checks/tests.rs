//! Table-driven tests of the CEL health checks.

use serde_json::{Value, json};

use super::{CustomChecks, HealthCheckExpr};
use crate::{HealthError, Status};

fn entry(
    api_version: &str,
    kind: &str,
    current: &str,
    in_progress: Option<&str>,
    failed: Option<&str>,
) -> HealthCheckExpr {
    HealthCheckExpr {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        current: current.to_owned(),
        in_progress: in_progress.map(str::to_owned),
        failed: failed.map(str::to_owned),
    }
}

fn cm(data: Value) -> Value {
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}});
    obj["data"] = data;
    obj
}

fn sealed(generation: i64, observed: Value, conditions: Value) -> Value {
    let mut obj =
        json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"generation": generation}});
    obj["status"] = json!({});
    obj["status"]["observedGeneration"] = observed;
    obj["status"]["conditions"] = conditions;
    obj
}

#[test]
fn statuses_in_flux_order() {
    let checks = CustomChecks::compile(&[entry(
        "bitnami.com/v1alpha1",
        "SealedSecret",
        "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
        Some("status.conditions.exists(e, e.type == 'Synced' && e.status == 'Unknown')"),
        Some("status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')"),
    )])
    .unwrap();
    let synced = |s: &str| json!([{"type": "Synced", "status": s}]);
    let cases = [
        ("current", sealed(1, json!(1), synced("True")), Status::Current),
        ("failed", sealed(1, json!(1), synced("False")), Status::Failed),
        ("in progress first", sealed(1, json!(1), synced("Unknown")), Status::InProgress),
        ("generation not observed", sealed(2, json!(1), synced("True")), Status::InProgress),
        ("string observedGeneration skips the check", sealed(2, json!("1"), synced("True")), Status::Current),
        // With no Synced condition, `all` is vacuously true for failed (checked before current).
        ("no conditions", sealed(1, json!(1), json!([])), Status::Failed),
    ];
    for (name, obj, want) in cases {
        let got = checks.evaluate(&obj).expect("applies").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.status, want, "{name}");
        assert_eq!(got.message, "", "{name}");
    }
}

#[test]
fn none_true_is_in_progress() {
    let checks = CustomChecks::compile(&[entry("v1", "ConfigMap", "data.ready == 'true'", None, None)]).unwrap();
    for (data, want) in [(json!({"ready": "true"}), Status::Current), (json!({"ready": "false"}), Status::InProgress)] {
        assert_eq!(checks.evaluate(&cm(data)).unwrap().unwrap().status, want);
    }
}

#[test]
fn matching_by_group_kind() {
    let checks = CustomChecks::compile(&[
        entry("example.com/v1", "", "true", None, None),
        entry("example.com/v2", "Special", "false", None, None),
    ])
    .unwrap();
    let obj = |api: &str, kind: &str| json!({"apiVersion": api, "kind": kind});
    // The version is ignored; an exact kind wins over the group-wide entry.
    assert_eq!(checks.evaluate(&obj("example.com/v1beta1", "Other")).unwrap().unwrap().status, Status::Current);
    assert_eq!(checks.evaluate(&obj("example.com/v1", "Special")).unwrap().unwrap().status, Status::InProgress);
    assert!(checks.evaluate(&obj("other.com/v1", "Other")).is_none());
    assert!(checks.evaluate(&obj("v1", "ConfigMap")).is_none());
    assert!(checks.applies_to("example.com/v9", "Anything"));
    assert!(!checks.applies_to("apps/v1", "Deployment"));
    assert!(CustomChecks::default().evaluate(&obj("v1", "ConfigMap")).is_none());
    assert!(CustomChecks::default().is_empty());
}

#[test]
fn compile_errors_in_flux_words() {
    let cases: [(Vec<HealthCheckExpr>, &str); 4] = [
        (
            vec![entry("v1", "ConfigMap", "data.ready ==", None, None)],
            "failed to create custom status evaluator for healthchecks[0]: failed to parse the expression Current: failed to parse the CEL expression 'data.ready =='",
        ),
        (
            vec![entry("v1", "Secret", "true", None, None), entry("v1", "ConfigMap", "true", None, Some("(("))],
            "failed to create custom status evaluator for healthchecks[1]: failed to parse the expression Failed: failed to parse the CEL expression '(('",
        ),
        (
            vec![entry("v1", "ConfigMap", "", Some("true"), None)],
            "failed to create custom status evaluator for healthchecks[0]: expression Current not specified",
        ),
        (
            vec![
                entry("apps/v1", "Deployment", "true", None, None),
                entry("apps/v2", "Deployment", "true", None, None),
            ],
            "duplicate custom health check for GroupKind Deployment.apps at healthchecks[1]",
        ),
    ];
    for (exprs, prefix) in cases {
        match CustomChecks::compile(&exprs) {
            Err(HealthError::InvalidCel(msg)) => assert!(msg.starts_with(prefix), "{msg} !~ {prefix}"),
            Err(other) => panic!("{prefix}: {other:?}"),
            Ok(_) => panic!("{prefix}: compiled"),
        }
    }
    let err = CustomChecks::compile(&[entry("v1", "ConfigMap", "x", Some("a +"), None)]).err().unwrap().to_string();
    assert!(err.contains("the expression InProgress") && err.contains("'a +'"), "{err}");
}

#[test]
fn evaluation_errors() {
    let checks = CustomChecks::compile(&[
        entry("v1", "ConfigMap", "data.ready == 'true'", None, None),
        entry("v1", "Secret", "data", None, None),
    ])
    .unwrap();
    let err = |obj: &Value| match checks.evaluate(obj).unwrap() {
        Err(HealthError::Evaluation(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(err(&cm(json!({}))), "failed to evaluate the CEL expression 'data.ready == 'true'': no such key: ready");
    assert_eq!(
        err(&json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        "failed to evaluate the CEL expression 'data.ready == 'true'': no such attribute(s): data"
    );
    let checks =
        CustomChecks::compile(&[entry("v1", "Pod", "status.conditions[1].status == 'True'", None, None)]).unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"conditions": [{"status": "True"}]}});
    match checks.evaluate(&pod) {
        Some(Err(HealthError::Evaluation(m))) => assert_eq!(
            m,
            "failed to evaluate the CEL expression 'status.conditions[1].status == 'True'': index out of bounds: 1"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err(&json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "b"}})),
        "failed to evaluate CEL expression as boolean: 'data'"
    );
}

#[test]
fn numbers_compare_across_types() {
    let checks = CustomChecks::compile(&[entry(
        "example.com/v1",
        "Thing",
        "status.replicas == 2 && status.ratio > 0.5 && status.replicas > 1.5 && status.ratio < 1 && status.replicas / 2 == 1",
        None,
        None,
    )])
    .unwrap();
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Thing", "status": {"replicas": 2, "ratio": 0.75}});
    assert_eq!(checks.evaluate(&obj).unwrap().unwrap().status, Status::Current);
}

#[test]
fn extensions_and_macros() {
    let checks = CustomChecks::compile(&[entry(
        "v1",
        "ConfigMap",
        "has(data.mode) && data.mode.lowerAscii() == 'ready' && size(data) == 1 && data.mode.startsWith('R')",
        None,
        None,
    )])
    .unwrap();
    assert_eq!(checks.evaluate(&cm(json!({"mode": "Ready"}))).unwrap().unwrap().status, Status::Current);
    assert_eq!(checks.evaluate(&cm(json!({"other": "x"}))).unwrap().unwrap().status, Status::InProgress);
}
