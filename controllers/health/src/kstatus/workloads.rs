//! kstatus' rules for the workload controllers' kinds: Deployment, StatefulSet, DaemonSet,
//! ReplicaSet (cli-utils `core.go`).

use serde_json::Value;

use super::kind_of;
use crate::fields::{self, conditions, int_field, string_field};
use crate::{HealthError, StatusResult};

/// The Go controller's "no deadline" value of `progressDeadlineSeconds`.
const MAX_INT32: i64 = i32::MAX as i64;

/// Deployment: replica counts, then the `Progressing`/`Available` conditions; Failed once the
/// progress deadline is exceeded.
pub(super) fn deployment(obj: &Value) -> Result<StatusResult, HealthError> {
    let mut progressing = int_field(obj, &["spec", "progressDeadlineSeconds"], MAX_INT32) == MAX_INT32;
    let mut available = false;
    for c in conditions(obj)? {
        match c.type_.as_str() {
            "Progressing" => {
                if c.reason == "ProgressDeadlineExceeded" {
                    return Ok(StatusResult::failed("Progress deadline exceeded"));
                }
                if c.status == "True" && c.reason == "NewReplicaSetAvailable" {
                    progressing = true;
                }
            }
            "Available" if c.status == "True" => available = true,
            _ => {}
        }
    }
    let spec = int_field(obj, &["spec", "replicas"], 1);
    let replicas = int_field(obj, &["status", "replicas"], 0);
    let updated = int_field(obj, &["status", "updatedReplicas"], 0);
    let ready = int_field(obj, &["status", "readyReplicas"], 0);
    let avail = int_field(obj, &["status", "availableReplicas"], 0);
    Ok(if spec > replicas {
        StatusResult::in_progress(format!("Replicas: {replicas}/{spec}"))
    } else if spec > updated {
        StatusResult::in_progress(format!("Updated: {updated}/{spec}"))
    } else if replicas > spec {
        StatusResult::in_progress(format!("Pending termination: {}", replicas - spec))
    } else if updated > avail {
        StatusResult::in_progress(format!("Available: {avail}/{updated}"))
    } else if spec > ready {
        StatusResult::in_progress(format!("Ready: {ready}/{spec}"))
    } else if !progressing {
        StatusResult::in_progress("ReplicaSet not Available")
    } else if !available {
        StatusResult::in_progress("Deployment not Available")
    } else {
        StatusResult::current(format!("Deployment is available. Replicas: {replicas}"))
    })
}

/// StatefulSet: its controller sets no conditions, so replica counts, the partition and the
/// revisions decide; an `OnDelete` update strategy is user managed (always Current).
pub(super) fn statefulset(obj: &Value) -> StatusResult {
    if string_field(obj, &["spec", "updateStrategy", "type"], "") == "OnDelete" {
        return StatusResult::current("StatefulSet is using the ondelete update strategy");
    }
    let spec = int_field(obj, &["spec", "replicas"], 1);
    let ready = int_field(obj, &["status", "readyReplicas"], 0);
    let current = int_field(obj, &["status", "currentReplicas"], 0);
    let updated = int_field(obj, &["status", "updatedReplicas"], 0);
    let replicas = int_field(obj, &["status", "replicas"], 0);
    let partition = int_field(obj, &["spec", "updateStrategy", "rollingUpdate", "partition"], -1);
    if spec > replicas {
        return StatusResult::in_progress(format!("Replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return StatusResult::in_progress(format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return StatusResult::in_progress(format!("Pending termination: {}", replicas - spec));
    }
    if partition != -1 {
        if updated < spec - partition {
            return StatusResult::in_progress(format!("updated: {updated}/{}", spec - partition));
        }
        return StatusResult::current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec > current {
        return StatusResult::in_progress(format!("current: {current}/{spec}"));
    }
    let current_revision = string_field(obj, &["status", "currentRevision"], "");
    let update_revision = string_field(obj, &["status", "updateRevision"], "");
    if current_revision != update_revision {
        return StatusResult::in_progress("Waiting for updated revision to match current");
    }
    StatusResult::current(format!("All replicas scheduled as expected. Replicas: {replicas}"))
}

/// ReplicaSet: a `ReplicaFailure` condition, then replica counts.
pub(super) fn replicaset(obj: &Value) -> Result<StatusResult, HealthError> {
    if conditions(obj)?.iter().any(|c| c.is("ReplicaFailure", "True")) {
        return Ok(StatusResult::in_progress("Replica Failure condition. Check Pods"));
    }
    let spec = int_field(obj, &["spec", "replicas"], 1);
    let replicas = int_field(obj, &["status", "replicas"], 0);
    let ready = int_field(obj, &["status", "readyReplicas"], 0);
    let avail = int_field(obj, &["status", "availableReplicas"], 0);
    let labelled = int_field(obj, &["status", "fullyLabeledReplicas"], 0);
    Ok(if spec > labelled {
        StatusResult::in_progress(format!("Labelled: {labelled}/{spec}"))
    } else if spec > avail {
        StatusResult::in_progress(format!("Available: {avail}/{spec}"))
    } else if spec > ready {
        StatusResult::in_progress(format!("Ready: {ready}/{spec}"))
    } else if replicas > spec {
        StatusResult::in_progress(format!("Pending termination: {}", replicas - spec))
    } else {
        StatusResult::current(format!("ReplicaSet is available. Replicas: {replicas}"))
    })
}

/// DaemonSet: generation and observed generation must be set (the controller always sets
/// them once it acted), then the scheduled/updated/available/ready counts.
pub(super) fn daemonset(obj: &Value) -> Result<StatusResult, HealthError> {
    let generation = fields::nested_i64(obj, &["metadata", "generation"])
        .map_err(|e| HealthError::Evaluation(format!("looking up metadata.generation from resource: {e}")))?;
    if generation.is_none() {
        return Ok(StatusResult::in_progress(format!("{} metadata.generation not found", kind_of(obj))));
    }
    let observed = fields::nested_i64(obj, &["status", "observedGeneration"])
        .map_err(|e| HealthError::Evaluation(format!("looking up status.observedGeneration from resource: {e}")))?;
    if observed.is_none() {
        return Ok(StatusResult::in_progress(format!("{} status.observedGeneration not found", kind_of(obj))));
    }
    let desired = int_field(obj, &["status", "desiredNumberScheduled"], -1);
    let current = int_field(obj, &["status", "currentNumberScheduled"], 0);
    let updated = int_field(obj, &["status", "updatedNumberScheduled"], 0);
    let avail = int_field(obj, &["status", "numberAvailable"], 0);
    let ready = int_field(obj, &["status", "numberReady"], 0);
    Ok(if desired == -1 {
        StatusResult::in_progress("Missing .status.desiredNumberScheduled")
    } else if desired > current {
        StatusResult::in_progress(format!("Current: {current}/{desired}"))
    } else if desired > updated {
        StatusResult::in_progress(format!("Updated: {updated}/{desired}"))
    } else if desired > avail {
        StatusResult::in_progress(format!("Available: {avail}/{desired}"))
    } else if desired > ready {
        StatusResult::in_progress(format!("Ready: {ready}/{desired}"))
    } else {
        StatusResult::current(format!("All replicas scheduled as expected. Replicas: {desired}"))
    })
}
