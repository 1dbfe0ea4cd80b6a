//! kstatus (sigs.k8s.io/cli-utils `pkg/kstatus/status`): the status of one object.
//!
//! `compute` runs kstatus' steps in its order: the generic properties every object has
//! (deletion, observed generation, the standard `Reconciling`/`Stalled` conditions), then the
//! rules of the built-in kind when there is one (`workloads`, `core`), then a `Ready`
//! condition, else Current. Flux's own kinds (Kustomization, HelmRelease, GitRepository…)
//! have no kind rule: their `Reconciling`/`Stalled`/`Ready` conditions decide.

mod core;
mod job;
mod workloads;

use std::time::SystemTime;

use serde_json::Value;

pub use self::job::flux_job_status;
use crate::fields::{self, conditions};
use crate::{HealthError, StatusResult};

/// kstatus' `Compute` for one object.
///
/// # Errors
/// [`HealthError::Evaluation`] for an object whose fields have the wrong types (kstatus
/// returns an error there too; a status reader turns it into `Unknown`).
pub fn compute(obj: &Value) -> Result<StatusResult, HealthError> {
    compute_at(obj, SystemTime::now())
}

/// [`compute`] with the current time given (a Pod's scheduling grace period depends on it).
pub(crate) fn compute_at(obj: &Value, now: SystemTime) -> Result<StatusResult, HealthError> {
    if !obj.is_object() {
        return Err(HealthError::Evaluation("the object is not a JSON object".to_owned()));
    }
    if let Some(res) = generic(obj)? {
        return Ok(res);
    }
    let (group, kind) = group_kind(obj);
    if let Some(res) = legacy(group, kind, obj, now)? {
        return Ok(res);
    }
    if let Some(res) = ready_condition(obj)? {
        return Ok(res);
    }
    Ok(StatusResult::current("Resource is current"))
}

/// The API group (empty for core) and kind of an object.
pub(crate) fn group_kind(obj: &Value) -> (&str, &str) {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    (group, kind_of(obj))
}

/// `metadata.kind` as `u.GetKind()` returns it.
pub(crate) fn kind_of(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// The rules of a built-in kind (kstatus' `legacyTypes`), `None` for other kinds.
fn legacy(group: &str, kind: &str, obj: &Value, now: SystemTime) -> Result<Option<StatusResult>, HealthError> {
    let res = match (group, kind) {
        ("", "Service") => core::service(obj),
        ("", "Pod") => core::pod(obj, now)?,
        ("", "Secret" | "ConfigMap") | ("batch", "CronJob") => core::always_ready(),
        ("", "PersistentVolumeClaim") => core::pvc(obj),
        ("apps", "StatefulSet") => workloads::statefulset(obj),
        ("apps" | "extensions", "DaemonSet") => workloads::daemonset(obj)?,
        ("apps" | "extensions", "Deployment") => workloads::deployment(obj)?,
        ("apps" | "extensions", "ReplicaSet") => workloads::replicaset(obj)?,
        ("policy", "PodDisruptionBudget") => core::pdb(),
        ("batch", "Job") => core::job(obj)?,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => core::crd(obj)?,
        _ => return Ok(None),
    };
    Ok(Some(res))
}

/// kstatus' `checkGenericProperties`: deletion, generation, `Reconciling`/`Stalled`.
fn generic(obj: &Value) -> Result<Option<StatusResult>, HealthError> {
    let deletion = fields::nested_string(obj, &["metadata", "deletionTimestamp"])
        .map_err(|e| HealthError::Evaluation(format!("looking up metadata.deletionTimestamp from resource: {e}")))?;
    if deletion.is_some_and(|d| !d.is_empty()) {
        return Ok(Some(StatusResult::new(crate::Status::Terminating, "Resource scheduled for deletion")));
    }
    if let Some(res) = generation(obj)? {
        return Ok(Some(res));
    }
    for c in conditions(obj)? {
        if c.is("Reconciling", "True") {
            return Ok(Some(StatusResult::in_progress(c.message)));
        }
        if c.is("Stalled", "True") {
            return Ok(Some(StatusResult::failed(c.message)));
        }
    }
    Ok(None)
}

/// kstatus' `checkGeneration`: InProgress while `status.observedGeneration` (when present)
/// differs from `metadata.generation`.
fn generation(obj: &Value) -> Result<Option<StatusResult>, HealthError> {
    let Some(generation) = fields::nested_i64(obj, &["metadata", "generation"])
        .map_err(|e| HealthError::Evaluation(format!("looking up metadata.generation from resource: {e}")))?
    else {
        return Ok(None);
    };
    let observed = fields::nested_i64(obj, &["status", "observedGeneration"])
        .map_err(|e| HealthError::Evaluation(format!("looking up status.observedGeneration from resource: {e}")))?;
    match observed {
        Some(observed) if observed != generation => Ok(Some(StatusResult::in_progress(format!(
            "{} generation is {generation}, but latest observed generation is {observed}",
            kind_of(obj)
        )))),
        _ => Ok(None),
    }
}

/// kstatus' `checkReadyCondition`: the widely used (non-standard) `Ready` condition.
fn ready_condition(obj: &Value) -> Result<Option<StatusResult>, HealthError> {
    for c in conditions(obj)? {
        if c.type_ != "Ready" {
            continue;
        }
        match c.status.as_str() {
            "True" => return Ok(Some(StatusResult::current("Resource is Ready"))),
            "False" | "Unknown" => return Ok(Some(StatusResult::in_progress(c.message))),
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
