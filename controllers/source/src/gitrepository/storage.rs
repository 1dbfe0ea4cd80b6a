//! The storage step (upstream's `reconcileStorage`): collect old artifacts, make sure the
//! current one is still there and intact, and say so in the status when it is not.

use std::time::SystemTime;

use eddy_api::source::GitRepository;
use eddy_controller_runtime::conditions::{self, reasons as meta_reasons};
use eddy_controller_runtime::recorder::EventType;
use eddy_controller_runtime::summarize::progressive_status;
use eddy_controller_runtime::{Outcome, ReconcileError};

use super::conditions::{ARTIFACT_IN_STORAGE, actions, reasons};
use super::{GitRepositoryReconciler, Run, Step};

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_storage(&self, run: &mut Run<'_>) -> Step {
        self.garbage_collect(run.obj).await;
        let mut missing = false;
        if let Some(artifact) = run.obj.status.as_ref().and_then(|s| s.artifact.clone()) {
            if !self.storage.exists(&artifact) {
                missing = true;
            } else if let Err(e) = self.storage.verify(&artifact) {
                self.event(
                    run.obj,
                    EventType::Warning,
                    reasons::ARTIFACT_VERIFICATION_FAILED,
                    actions::RECONCILE_STORAGE,
                    &format!("failed to verify integrity of artifact: {e}"),
                );
                if let Err(e) = self.storage.remove(&artifact) {
                    return (
                        Outcome::Empty,
                        Some(ReconcileError::other(format!("failed to remove artifact after digest mismatch: {e}"))),
                    );
                }
                missing = true;
            }
            if missing && let Some(s) = run.obj.status.as_mut() {
                s.artifact = None;
            }
            run.fetch_afresh = missing;
        }
        let has_artifact = run.obj.status.as_ref().is_some_and(|s| s.artifact.is_some());
        if !has_artifact {
            let msg = if missing { "building artifact: disappeared from storage" } else { "building artifact" };
            progressive_status(true, run.obj, meta_reasons::PROGRESSING, msg);
            conditions::delete(run.obj, ARTIFACT_IN_STORAGE);
            if let Err(e) = run.patch().await {
                return (Outcome::Empty, Some(e));
            }
            return (Outcome::Success, None);
        }
        // The advertised address may have changed since the artifact was stored.
        if let Some(a) = run.obj.status.as_mut().and_then(|s| s.artifact.as_mut()) {
            self.storage.set_artifact_url(a);
        }
        (Outcome::Success, None)
    }

    /// Upstream's `garbageCollect` for a live object: keep the retention window of files
    /// next to the current artifact. Failures are logged, never fatal (as upstream ignores
    /// them in the storage step).
    async fn garbage_collect(&self, obj: &GitRepository) {
        let Some(current) = obj.status.as_ref().and_then(|s| s.artifact.clone()) else { return };
        let storage = self.storage.clone();
        let collected = tokio::task::spawn_blocking(move || storage.garbage_collect(&current, SystemTime::now())).await;
        match collected {
            Ok(Ok(deleted)) if !deleted.is_empty() => self.event(
                obj,
                EventType::Trace,
                reasons::GARBAGE_COLLECTION_SUCCEEDED,
                actions::GARBAGE_COLLECT,
                &format!("garbage collected {} artifacts", deleted.len()),
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "garbage collection of artifacts failed"),
            Err(e) => tracing::warn!(error = %e, "garbage collection task failed"),
        }
    }
}
