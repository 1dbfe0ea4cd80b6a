//! Table-driven tests of every kstatus rule, messages included.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{compute, compute_at, flux_job_status};
use crate::Status::{self, Current, Failed, InProgress, Terminating};

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message})
}

fn deploy(spec: Value, status: Value) -> Value {
    let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": 1}});
    obj["spec"] = spec;
    obj["status"] = status;
    obj
}

fn check(cases: &[(&str, Value, Status, &str)]) {
    for (name, obj, status, message) in cases {
        let got = compute(obj).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((got.status, got.message.as_str()), (*status, *message), "{name}");
    }
}

#[test]
fn generic_properties() {
    let ready = json!([cond("Ready", "True", "Succeeded", "ok")]);
    check(&[
        (
            "deletion timestamp",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            Terminating,
            "Resource scheduled for deletion",
        ),
        (
            "generation not observed",
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "metadata": {"generation": 3}, "status": {"observedGeneration": 2, "conditions": ready}}),
            InProgress,
            "Kustomization generation is 3, but latest observed generation is 2",
        ),
        (
            "no observedGeneration: not checked",
            json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"generation": 3}}),
            Current,
            "Resource is current",
        ),
        (
            "Reconciling true",
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"generation": 1},
                   "status": {"observedGeneration": 1, "conditions": [
                       cond("Ready", "Unknown", "Progressing", "building"),
                       cond("Reconciling", "True", "Progressing", "reconciliation in progress")]}}),
            InProgress,
            "reconciliation in progress",
        ),
        (
            "Stalled true",
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"generation": 1},
                   "status": {"observedGeneration": 1, "conditions": [
                       cond("Ready", "False", "InvalidChartReference", "bad chart"),
                       cond("Stalled", "True", "InvalidChartReference", "bad chart ref")]}}),
            Failed,
            "bad chart ref",
        ),
        (
            "Ready true",
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"generation": 1},
                   "status": {"observedGeneration": 1, "conditions": ready}}),
            Current,
            "Resource is Ready",
        ),
        (
            "Ready false",
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "status": {"conditions": [cond("Ready", "False", "BuildFailed", "kustomize build failed")]}}),
            InProgress,
            "kustomize build failed",
        ),
        (
            "Ready unknown",
            json!({"apiVersion": "x/v1", "kind": "X", "status": {"conditions": [cond("Ready", "Unknown", "P", "working")]}}),
            InProgress,
            "working",
        ),
        ("no conditions", json!({"apiVersion": "x/v1", "kind": "X"}), Current, "Resource is current"),
        (
            "Reconciling false is ignored",
            json!({"apiVersion": "x/v1", "kind": "X", "status": {"conditions": [cond("Reconciling", "False", "", "")]}}),
            Current,
            "Resource is current",
        ),
        (
            "standard conditions win over kind rules",
            deploy(json!({"replicas": 1}), json!({"conditions": [cond("Stalled", "True", "R", "stuck")]})),
            Failed,
            "stuck",
        ),
    ]);
}

#[test]
fn deployments() {
    let ok = json!([cond("Progressing", "True", "NewReplicaSetAvailable", ""), cond("Available", "True", "", "")]);
    let counts = |r: i64, u: i64, rd: i64, a: i64| json!({"replicas": r, "updatedReplicas": u, "readyReplicas": rd, "availableReplicas": a, "conditions": ok});
    check(&[
        (
            "available",
            deploy(json!({"replicas": 2}), counts(2, 2, 2, 2)),
            Current,
            "Deployment is available. Replicas: 2",
        ),
        ("default replicas", deploy(json!({}), counts(1, 1, 1, 1)), Current, "Deployment is available. Replicas: 1"),
        ("too few replicas", deploy(json!({"replicas": 3}), counts(1, 1, 1, 1)), InProgress, "Replicas: 1/3"),
        ("too few updated", deploy(json!({"replicas": 2}), counts(2, 1, 2, 2)), InProgress, "Updated: 1/2"),
        ("extra pods", deploy(json!({"replicas": 1}), counts(3, 1, 1, 1)), InProgress, "Pending termination: 2"),
        ("too few available", deploy(json!({"replicas": 2}), counts(2, 2, 2, 1)), InProgress, "Available: 1/2"),
        (
            "too few ready",
            deploy(
                json!({"replicas": 2}),
                json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 2}),
            ),
            InProgress,
            "Ready: 1/2",
        ),
        (
            "deadline set, not progressing",
            deploy(
                json!({"replicas": 1, "progressDeadlineSeconds": 600}),
                json!({"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
            ),
            InProgress,
            "ReplicaSet not Available",
        ),
        (
            "no deadline, not available",
            deploy(
                json!({"replicas": 1}),
                json!({"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
            ),
            InProgress,
            "Deployment not Available",
        ),
        (
            "deadline exceeded",
            deploy(
                json!({"replicas": 1}),
                json!({"conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded", "x")]}),
            ),
            Failed,
            "Progress deadline exceeded",
        ),
        (
            "extensions group",
            json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "spec": {"replicas": 2}, "status": {}}),
            InProgress,
            "Replicas: 0/2",
        ),
    ]);
}

#[test]
fn statefulsets_replicasets_daemonsets() {
    let sts = |spec: Value, status: Value| json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": spec, "status": status});
    let full = |r: i64, rd: i64, c: i64, u: i64| json!({"replicas": r, "readyReplicas": rd, "currentReplicas": c, "updatedReplicas": u, "currentRevision": "a", "updateRevision": "a"});
    let rs = |spec: Value, status: Value| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": spec, "status": status});
    let ds = |status: Value| json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1}, "status": status});
    check(&[
        (
            "sts ondelete",
            sts(json!({"updateStrategy": {"type": "OnDelete"}}), json!({})),
            Current,
            "StatefulSet is using the ondelete update strategy",
        ),
        ("sts too few", sts(json!({"replicas": 2}), full(1, 1, 1, 1)), InProgress, "Replicas: 1/2"),
        ("sts not ready", sts(json!({"replicas": 2}), full(2, 1, 2, 2)), InProgress, "Ready: 1/2"),
        ("sts extra", sts(json!({"replicas": 1}), full(2, 2, 2, 2)), InProgress, "Pending termination: 1"),
        (
            "sts partition rolling",
            sts(json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}}), full(3, 3, 3, 1)),
            InProgress,
            "updated: 1/2",
        ),
        (
            "sts partition done",
            sts(json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}}), full(3, 3, 3, 2)),
            Current,
            "Partition rollout complete. updated: 2",
        ),
        ("sts less current", sts(json!({"replicas": 2}), full(2, 2, 1, 2)), InProgress, "current: 1/2"),
        (
            "sts revision mismatch",
            sts(
                json!({"replicas": 1}),
                json!({"replicas": 1, "readyReplicas": 1, "currentReplicas": 1, "currentRevision": "a", "updateRevision": "b"}),
            ),
            InProgress,
            "Waiting for updated revision to match current",
        ),
        (
            "sts ok",
            sts(json!({"replicas": 2}), full(2, 2, 2, 2)),
            Current,
            "All replicas scheduled as expected. Replicas: 2",
        ),
        (
            "rs failure",
            rs(json!({}), json!({"conditions": [cond("ReplicaFailure", "True", "FailedCreate", "quota")]})),
            InProgress,
            "Replica Failure condition. Check Pods",
        ),
        ("rs labelled", rs(json!({"replicas": 2}), json!({"fullyLabeledReplicas": 1})), InProgress, "Labelled: 1/2"),
        (
            "rs available",
            rs(json!({"replicas": 2}), json!({"fullyLabeledReplicas": 2, "availableReplicas": 1})),
            InProgress,
            "Available: 1/2",
        ),
        (
            "rs ready",
            rs(json!({"replicas": 2}), json!({"fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 1})),
            InProgress,
            "Ready: 1/2",
        ),
        (
            "rs extra",
            rs(
                json!({"replicas": 1}),
                json!({"replicas": 2, "fullyLabeledReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}),
            ),
            InProgress,
            "Pending termination: 1",
        ),
        (
            "rs ok",
            rs(
                json!({"replicas": 1}),
                json!({"replicas": 1, "fullyLabeledReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}),
            ),
            Current,
            "ReplicaSet is available. Replicas: 1",
        ),
        (
            "ds no generation",
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "status": {"observedGeneration": 1}}),
            InProgress,
            "DaemonSet metadata.generation not found",
        ),
        ("ds no observed generation", ds(json!({})), InProgress, "DaemonSet status.observedGeneration not found"),
        ("ds no desired", ds(json!({"observedGeneration": 1})), InProgress, "Missing .status.desiredNumberScheduled"),
        (
            "ds current",
            ds(json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 1})),
            InProgress,
            "Current: 1/2",
        ),
        (
            "ds updated",
            ds(
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 1}),
            ),
            InProgress,
            "Updated: 1/2",
        ),
        (
            "ds available",
            ds(
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 0}),
            ),
            InProgress,
            "Available: 0/2",
        ),
        (
            "ds ready",
            ds(
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 1}),
            ),
            InProgress,
            "Ready: 1/2",
        ),
        (
            "ds ok",
            ds(
                json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 2}),
            ),
            Current,
            "All replicas scheduled as expected. Replicas: 2",
        ),
    ]);
}

#[test]
fn core_kinds() {
    let pvc = |phase: Value| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}});
    let svc = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": spec});
    let job =
        |spec: Value, status: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "spec": spec, "status": status});
    let crd = |conds: Value| json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {"conditions": conds}});
    check(&[
        ("secret", json!({"apiVersion": "v1", "kind": "Secret"}), Current, "Resource is always ready"),
        ("configmap", json!({"apiVersion": "v1", "kind": "ConfigMap"}), Current, "Resource is always ready"),
        ("cronjob", json!({"apiVersion": "batch/v1", "kind": "CronJob"}), Current, "Resource is always ready"),
        ("pvc bound", pvc(json!("Bound")), Current, "PVC is Bound"),
        ("pvc pending", pvc(json!("Pending")), InProgress, "PVC is not Bound. phase: Pending"),
        (
            "pvc no phase",
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim"}),
            InProgress,
            "PVC is not Bound. phase: unknown",
        ),
        ("svc clusterip", svc(json!({})), Current, "Service is ready"),
        (
            "svc lb without ip",
            svc(json!({"type": "LoadBalancer"})),
            InProgress,
            "ClusterIP not set. Service type: LoadBalancer",
        ),
        ("svc lb", svc(json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"})), Current, "Service is ready"),
        (
            "pdb",
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"generation": 2}, "status": {"observedGeneration": 2}}),
            Current,
            "AllowedDisruptions has been computed.",
        ),
        (
            "pdb not observed",
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"generation": 2}, "status": {"observedGeneration": 1}}),
            InProgress,
            "PodDisruptionBudget generation is 2, but latest observed generation is 1",
        ),
        (
            "job complete",
            job(json!({"completions": 2}), json!({"succeeded": 2, "conditions": [cond("Complete", "True", "", "")]})),
            Current,
            "Job Completed. succeeded: 2/2",
        ),
        (
            "job failed",
            job(json!({}), json!({"failed": 1, "conditions": [cond("Failed", "True", "BackoffLimitExceeded", "")]})),
            Failed,
            "Job Failed. failed: 1/1",
        ),
        (
            "job suspended",
            job(json!({"suspend": true}), json!({"conditions": [cond("Suspended", "True", "", "")]})),
            Current,
            "Job is suspended",
        ),
        ("job not started", job(json!({}), json!({})), InProgress, "Job not started"),
        (
            "job running",
            job(json!({}), json!({"startTime": "2024-01-01T00:00:00Z", "active": 1})),
            Current,
            "Job in progress. success:0, active: 1, failed: 0",
        ),
        ("crd established", crd(json!([cond("Established", "True", "", "")])), Current, "CRD is established"),
        (
            "crd installing",
            crd(json!([cond("Established", "False", "Installing", "x")])),
            InProgress,
            "Install in progress",
        ),
        ("crd names", crd(json!([cond("NamesAccepted", "False", "Conflict", "name taken")])), Failed, "name taken"),
        ("crd not established", crd(json!([cond("Established", "False", "Other", "broken")])), Failed, "broken"),
    ]);
}

#[test]
fn pods() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200); // 2024-01-01T00:00:00Z
    let pod = |created: &str, status: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": created}, "status": status});
    let old = "2023-12-31T23:00:00Z";
    let unsched = json!([cond("PodScheduled", "False", "Unschedulable", "0/1 nodes")]);
    let cases = [
        ("succeeded", pod(old, json!({"phase": "Succeeded"})), Current, "Pod has completed successfully"),
        ("failed", pod(old, json!({"phase": "Failed"})), Current, "Pod has completed, but not successfully"),
        (
            "ready",
            pod(old, json!({"phase": "Running", "conditions": [cond("Ready", "True", "", "")]})),
            Current,
            "Pod is Ready",
        ),
        ("running", pod(old, json!({"phase": "Running"})), InProgress, "Pod is running but is not Ready"),
        (
            "crash looping",
            pod(
                old,
                json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "b", "state": {"running": {}}},
                {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            ),
            Failed,
            "Containers in CrashLoop state: a,c",
        ),
        ("pending", pod(old, json!({"phase": "Pending"})), InProgress, "Pod is in the Pending phase"),
        (
            "unschedulable, recent",
            pod("2023-12-31T23:59:55Z", json!({"phase": "Pending", "conditions": unsched})),
            InProgress,
            "Pod has not been scheduled",
        ),
        (
            "unschedulable, old",
            pod(old, json!({"phase": "Pending", "conditions": unsched})),
            Failed,
            "Pod could not be scheduled",
        ),
        ("no phase", pod(old, json!({})), InProgress, "Pod phase not available"),
    ];
    for (name, obj, status, message) in cases {
        let got = compute_at(&obj, now).unwrap();
        assert_eq!((got.status, got.message.as_str()), (status, message), "{name}");
    }
    assert!(compute_at(&pod(old, json!({"phase": "Weird"})), now).is_err());
}

#[test]
fn wrong_types_are_errors_not_panics() {
    for obj in [
        json!({"apiVersion": "v1", "kind": "X", "metadata": {"deletionTimestamp": 5}}),
        json!({"apiVersion": "v1", "kind": "X", "metadata": {"generation": "1"}}),
        json!({"apiVersion": "v1", "kind": "X", "metadata": {"generation": 1}, "status": {"observedGeneration": 1.5}}),
        json!({"apiVersion": "v1", "kind": "X", "status": {"conditions": "Ready"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {"conditions": [7]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running", "containerStatuses": {}}}),
    ] {
        assert!(compute(&obj).is_err(), "{obj}");
    }
    // Lenient fields of the wrong type fall back to their defaults.
    let got = compute(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "3"}})).unwrap();
    assert_eq!(got.message, "Replicas: 0/1");
    assert!(compute(&json!(null)).is_err());
    assert!(compute(&json!([])).is_err());
}

#[test]
fn flux_job_rule() {
    let job =
        |spec: Value, status: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "spec": spec, "status": status});
    let cases = [
        ("suspended", job(json!({"suspend": true}), json!({})), Current, "Job is suspended"),
        (
            "complete",
            job(json!({"completions": 3}), json!({"succeeded": 3, "conditions": [cond("Complete", "True", "", "")]})),
            Current,
            "Job Completed. succeeded: 3/3",
        ),
        (
            "failed",
            job(json!({}), json!({"failed": 2, "conditions": [cond("Failed", "True", "BackoffLimitExceeded", "")]})),
            Failed,
            "Job Failed. failed: 2/1",
        ),
        ("not started", job(json!({"parallelism": 2}), json!({})), InProgress, "Job not started. active: 0/2"),
        (
            "running is not Current",
            job(json!({}), json!({"startTime": "2024-01-01T00:00:00Z", "active": 1})),
            InProgress,
            "Job in progress. success:0, active: 1, failed: 0",
        ),
    ];
    for (name, obj, status, message) in cases {
        let got = flux_job_status(&obj).unwrap();
        assert_eq!((got.status, got.message.as_str()), (status, message), "{name}");
    }
}
