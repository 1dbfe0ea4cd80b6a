//! Waiting: for a stage's objects to become ready (fluxcd/pkg/ssa `WaitForSet` with kstatus'
//! rules for the kinds Flux stages: CRDs established, others current), and for deleted
//! objects to be gone (`WaitForTermination`). Both poll with GET.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::changeset::{Action, ChangeSet};
use crate::error::{ApplyError, RequestError};
use crate::kubeapi;
use crate::manager::ResourceManager;
use crate::meta::is_crd;
use crate::objmeta::ObjMetadata;

/// Flux's interval between two looks at objects being deleted.
pub const TERMINATION_INTERVAL: Duration = Duration::from_secs(2);

/// An object's kstatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Ready.
    Current,
    /// Getting there.
    InProgress,
    /// Will not get there without a change.
    Failed,
    /// Being deleted.
    Terminating,
    /// Absent.
    NotFound,
    /// Could not be read.
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Current => "Current",
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        })
    }
}

/// The kstatus of an object, for the kinds Flux waits for between stages: terminating when
/// deleted; a CRD is current once `Established`, failed when its names are not accepted;
/// any other object is in progress while its `observedGeneration` lags or it is
/// `Reconciling`, failed when `Stalled`, current otherwise.
#[must_use]
pub fn status_of(obj: &Value) -> Status {
    if obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        return Status::Terminating;
    }
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let condition_status = |t: &str| {
        conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(t))
            .and_then(|c| c.get("status").and_then(Value::as_str))
    };
    if is_crd(obj) {
        for c in &conditions {
            let (t, s) = (c.get("type").and_then(Value::as_str), c.get("status").and_then(Value::as_str));
            let reason = c.get("reason").and_then(Value::as_str).unwrap_or_default();
            match (t, s) {
                (Some("NamesAccepted"), Some("False")) => return Status::Failed,
                (Some("Established"), Some("False")) if reason != "Installing" => return Status::Failed,
                (Some("Established"), Some("True")) => return Status::Current,
                _ => {}
            }
        }
        return Status::InProgress;
    }
    if let Some(observed) = obj.pointer("/status/observedGeneration").and_then(Value::as_i64) {
        let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or_default();
        if observed != generation {
            return Status::InProgress;
        }
    }
    if condition_status("Reconciling") == Some("True") {
        return Status::InProgress;
    }
    if condition_status("Stalled") == Some("True") {
        return Status::Failed;
    }
    Status::Current
}

impl ResourceManager {
    /// Waits until every object of the change set is current (ssa `WaitForSet`), looking at
    /// them every `interval`; returns early when they are all current or failed.
    ///
    /// # Errors
    /// [`ApplyError::Timeout`] `timeout waiting for: [Kind/ns/name status: 'InProgress', …]`,
    /// or [`ApplyError::Failed`] `failed early due to stalled resources: […]`.
    pub async fn wait_for_set(&self, set: &ChangeSet, interval: Duration, timeout: Duration) -> Result<(), ApplyError> {
        if set.entries.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let mut statuses = Vec::with_capacity(set.entries.len());
            for e in &set.entries {
                statuses.push((e, self.look(&e.group_version, &e.object_metadata).await));
            }
            let all_current = statuses.iter().all(|(_, (s, _))| *s == Status::Current);
            if all_current {
                return Ok(());
            }
            let terminal = statuses.iter().all(|(_, (s, _))| matches!(s, Status::Current | Status::Failed));
            let timed_out = Instant::now() >= deadline;
            if terminal || timed_out {
                let errors: Vec<String> = statuses
                    .iter()
                    .filter(|(_, (s, _))| *s == Status::Failed || (timed_out && *s != Status::Current))
                    .map(|(e, (s, err))| match err {
                        Some(err) => format!("{} status: '{s}': {err}", e.object_metadata),
                        None => format!("{} status: '{s}'", e.object_metadata),
                    })
                    .collect();
                let list = errors.join(", ");
                return Err(if timed_out {
                    ApplyError::Timeout(format!("timeout waiting for: [{list}]"))
                } else {
                    ApplyError::Failed(format!("failed early due to stalled resources: [{list}]"))
                });
            }
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// One look at an object: its status and, when it could not be read, why.
    async fn look(&self, api_version: &str, id: &ObjMetadata) -> (Status, Option<RequestError>) {
        let mapping = match self.mapper.map(api_version, &id.kind).await {
            Ok(m) => m,
            Err(e) => return (Status::Unknown, Some(e)),
        };
        match kubeapi::get(&self.client, &mapping, &id.namespace, &id.name).await {
            Ok(obj) => (status_of(&obj), None),
            Err(e) if e.is_not_found() => (Status::NotFound, None),
            Err(e) => (Status::Unknown, Some(e)),
        }
    }

    /// Waits until every object in `objects` is gone.
    ///
    /// # Errors
    /// A timeout, listing the objects still present.
    pub async fn wait_for_termination(&self, objects: &[ObjMetadata], timeout: Duration) -> Result<(), ApplyError> {
        let mut targets = Vec::with_capacity(objects.len());
        for id in objects {
            match self.mapper.map_group_kind(&id.group, &id.kind).await {
                Ok(m) => targets.push((id, m)),
                // No such kind is served any more: no such object can exist.
                Err(RequestError::NoKindMatch { .. }) => {}
                Err(e) => return Err(ApplyError::Failed(format!("{id} termination check failed: {e}"))),
            }
        }
        self.wait_gone(targets, timeout).await
    }

    /// Waits until the objects a delete reported as deleted are gone (ssa
    /// `WaitForSetTermination`).
    ///
    /// # Errors
    /// A timeout, listing the objects still present.
    pub async fn wait_for_set_termination(&self, set: &ChangeSet, timeout: Duration) -> Result<(), ApplyError> {
        let mut targets = Vec::new();
        for e in set.entries.iter().filter(|e| e.action == Action::Deleted) {
            match self.mapper.map(&e.group_version, &e.object_metadata.kind).await {
                Ok(m) => targets.push((&e.object_metadata, m)),
                Err(RequestError::NoKindMatch { .. }) => {}
                Err(err) => return Err(ApplyError::Failed(format!("{} termination check failed: {err}", e.subject))),
            }
        }
        self.wait_gone(targets, timeout).await
    }

    /// Polls the objects every [`TERMINATION_INTERVAL`] until all are gone or the time is up.
    async fn wait_gone(
        &self,
        mut targets: Vec<(&ObjMetadata, crate::discovery::Mapping)>,
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut present = Vec::with_capacity(targets.len());
            for (id, mapping) in targets {
                match kubeapi::get(&self.client, &mapping, &id.namespace, &id.name).await {
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(ApplyError::Failed(format!("{id} termination check failed: {e}"))),
                    Ok(_) => present.push((id, mapping)),
                }
            }
            if present.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let list: Vec<String> = present
                    .iter()
                    .map(|(id, _)| format!("{id} termination timeout: context deadline exceeded"))
                    .collect();
                return Err(ApplyError::Timeout(list.join("; ")));
            }
            targets = present;
            tokio::time::sleep(TERMINATION_INTERVAL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn crd_status() {
        let crd = |conds: Value| json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {"conditions": conds}});
        assert_eq!(status_of(&crd(json!([]))), Status::InProgress);
        assert_eq!(status_of(&crd(json!([{"type": "Established", "status": "True"}]))), Status::Current);
        assert_eq!(
            status_of(&crd(json!([{"type": "Established", "status": "False", "reason": "Installing"}]))),
            Status::InProgress
        );
        assert_eq!(status_of(&crd(json!([{"type": "NamesAccepted", "status": "False"}]))), Status::Failed);
    }

    #[test]
    fn generic_status() {
        assert_eq!(
            status_of(&json!({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"}})),
            Status::Current
        );
        assert_eq!(
            status_of(&json!({"kind": "Namespace", "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}})),
            Status::Terminating
        );
        assert_eq!(
            status_of(&json!({"kind": "X", "metadata": {"generation": 2}, "status": {"observedGeneration": 1}})),
            Status::InProgress
        );
        assert_eq!(
            status_of(&json!({"kind": "X", "status": {"conditions": [{"type": "Stalled", "status": "True"}]}})),
            Status::Failed
        );
        assert_eq!(
            status_of(&json!({"kind": "X", "status": {"conditions": [{"type": "Reconciling", "status": "True"}]}})),
            Status::InProgress
        );
    }
}
