//! Flux's own Job rule (fluxcd/pkg `runtime/statusreaders`), which kustomize-controller
//! registers in place of kstatus' for health checks: a Job is Current only once it has
//! completed, not while it runs.

use serde_json::Value;

use crate::fields::{conditions, int_field, string_field};
use crate::{HealthError, Status, StatusResult};

/// The status of a `batch/Job` as kustomize-controller's health checks judge it: Current
/// when suspended or complete, Failed on a `Failed` condition, otherwise InProgress. No
/// deletion or generation checks (Flux's reader runs only this function).
///
/// # Errors
/// [`HealthError::Evaluation`] when `status.conditions` has the wrong shape.
pub fn flux_job_status(obj: &Value) -> Result<StatusResult, HealthError> {
    if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Ok(StatusResult::current("Job is suspended"));
    }
    let parallelism = int_field(obj, &["spec", "parallelism"], 1);
    let completions = int_field(obj, &["spec", "completions"], parallelism);
    let active = int_field(obj, &["status", "active"], 0);
    let succeeded = int_field(obj, &["status", "succeeded"], 0);
    let failed = int_field(obj, &["status", "failed"], 0);
    let start = string_field(obj, &["status", "startTime"], "");
    for c in conditions(obj)? {
        match c.type_.as_str() {
            "Complete" if c.status == "True" => {
                return Ok(StatusResult::current(format!("Job Completed. succeeded: {succeeded}/{completions}")));
            }
            "Failed" if c.status == "True" => {
                return Ok(StatusResult::failed(format!("Job Failed. failed: {failed}/{completions}")));
            }
            _ => {}
        }
    }
    if start.is_empty() {
        return Ok(StatusResult::new(Status::InProgress, format!("Job not started. active: 0/{parallelism}")));
    }
    Ok(StatusResult::in_progress(format!("Job in progress. success:{succeeded}, active: {active}, failed: {failed}")))
}
