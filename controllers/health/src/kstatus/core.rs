//! kstatus' rules for the other built-in kinds: Pod, PersistentVolumeClaim, Service,
//! PodDisruptionBudget, Job, CustomResourceDefinition, and the always-ready ones (Secret,
//! ConfigMap, CronJob) (cli-utils `core.go`).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::fields::{bool_field, conditions, int_field, string_field};
use crate::{HealthError, StatusResult};

/// How long a Pod may stay unscheduled before it counts as unschedulable (kstatus'
/// `ScheduleWindow`).
pub(crate) const SCHEDULE_WINDOW: Duration = Duration::from_secs(15);

/// Secret, ConfigMap, CronJob.
pub(super) fn always_ready() -> StatusResult {
    StatusResult::current("Resource is always ready")
}

/// PersistentVolumeClaim: Current once Bound.
pub(super) fn pvc(obj: &Value) -> StatusResult {
    let phase = string_field(obj, &["status", "phase"], "unknown");
    if phase == "Bound" {
        StatusResult::current("PVC is Bound")
    } else {
        StatusResult::in_progress(format!("PVC is not Bound. phase: {phase}"))
    }
}

/// PodDisruptionBudget: Current once the generic checks pass (observed generation).
pub(super) fn pdb() -> StatusResult {
    StatusResult::current("AllowedDisruptions has been computed.")
}

/// Service: a LoadBalancer needs its cluster IP.
pub(super) fn service(obj: &Value) -> StatusResult {
    let type_ = string_field(obj, &["spec", "type"], "ClusterIP");
    if type_ == "LoadBalancer" && string_field(obj, &["spec", "clusterIP"], "").is_empty() {
        return StatusResult::in_progress("ClusterIP not set. Service type: LoadBalancer");
    }
    StatusResult::current("Service is ready")
}

/// Whether `creationTimestamp` is within the schedule window before `now`. A missing or
/// unparsable timestamp is Go's zero time: long ago.
fn created_within_window(obj: &Value, now: SystemTime) -> bool {
    let Some(created) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    else {
        return false;
    };
    let created = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(created.timestamp()).unwrap_or(0))
        + Duration::from_nanos(u64::from(created.timestamp_subsec_nanos()));
    now.checked_sub(SCHEDULE_WINDOW).is_some_and(|edge| edge < created)
}

/// The names of containers waiting in `CrashLoopBackOff`; an error when
/// `status.containerStatuses` is not a list.
fn crash_looping(obj: &Value) -> Result<Vec<String>, HealthError> {
    let statuses = match obj.pointer("/status/containerStatuses") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(HealthError::Evaluation(
                ".status.containerStatuses accessor error: expected []interface {}".to_owned(),
            ));
        }
    };
    Ok(statuses
        .iter()
        .filter(|cs| cs.pointer("/state/waiting/reason").and_then(Value::as_str) == Some("CrashLoopBackOff"))
        .filter_map(|cs| cs.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Pod: by phase; a running Pod is Current once Ready, Failed when a container crash-loops;
/// a pending one Failed when unschedulable for longer than the schedule window.
pub(super) fn pod(obj: &Value, now: SystemTime) -> Result<StatusResult, HealthError> {
    let conds = conditions(obj)?;
    let phase = string_field(obj, &["status", "phase"], "");
    Ok(match phase {
        "Succeeded" => StatusResult::current("Pod has completed successfully"),
        "Failed" => StatusResult::current("Pod has completed, but not successfully"),
        "Running" => {
            if conds.iter().any(|c| c.is("Ready", "True")) {
                return Ok(StatusResult::current("Pod is Ready"));
            }
            let looping = crash_looping(obj)?;
            if looping.is_empty() {
                StatusResult::in_progress("Pod is running but is not Ready")
            } else {
                StatusResult::failed(format!("Containers in CrashLoop state: {}", looping.join(",")))
            }
        }
        "Pending" => {
            let unschedulable =
                conds.iter().find(|c| c.is("PodScheduled", "False")).is_some_and(|c| c.reason == "Unschedulable");
            if !unschedulable {
                StatusResult::in_progress("Pod is in the Pending phase")
            } else if created_within_window(obj, now) {
                StatusResult::in_progress("Pod has not been scheduled")
            } else {
                StatusResult::failed("Pod could not be scheduled")
            }
        }
        "" => StatusResult::in_progress("Pod phase not available"),
        other => return Err(HealthError::Evaluation(format!("unknown phase {other}"))),
    })
}

/// Job (kstatus' rule): Current once started or completed, Failed on a `Failed` condition.
/// kustomize-controller judges Jobs by Flux's own rule instead, see
/// [`flux_job_status`](crate::flux_job_status).
pub(super) fn job(obj: &Value) -> Result<StatusResult, HealthError> {
    let parallelism = int_field(obj, &["spec", "parallelism"], 1);
    let completions = int_field(obj, &["spec", "completions"], parallelism);
    let succeeded = int_field(obj, &["status", "succeeded"], 0);
    let active = int_field(obj, &["status", "active"], 0);
    let failed = int_field(obj, &["status", "failed"], 0);
    let start = string_field(obj, &["status", "startTime"], "");
    let suspended = bool_field(obj, &["spec", "suspend"], false);
    for c in conditions(obj)? {
        match c.type_.as_str() {
            "Complete" if c.status == "True" => {
                return Ok(StatusResult::current(format!("Job Completed. succeeded: {succeeded}/{completions}")));
            }
            "Failed" if c.status == "True" => {
                return Ok(StatusResult::failed(format!("Job Failed. failed: {failed}/{completions}")));
            }
            "Suspended" if c.status == "True" && suspended => {
                return Ok(StatusResult::current("Job is suspended"));
            }
            _ => {}
        }
    }
    if start.is_empty() {
        return Ok(StatusResult::in_progress("Job not started"));
    }
    Ok(StatusResult::current(format!("Job in progress. success:{succeeded}, active: {active}, failed: {failed}")))
}

/// CustomResourceDefinition: Current once Established; Failed when its names are not
/// accepted or it is not established for another reason than installing.
pub(super) fn crd(obj: &Value) -> Result<StatusResult, HealthError> {
    for c in conditions(obj)? {
        if c.is("NamesAccepted", "False") {
            return Ok(StatusResult::failed(c.message));
        }
        if c.type_ == "Established" {
            if c.status == "False" && c.reason != "Installing" {
                return Ok(StatusResult::failed(c.message));
            }
            if c.status == "True" {
                return Ok(StatusResult::current("CRD is established"));
            }
        }
    }
    Ok(StatusResult::in_progress("Install in progress"))
}
