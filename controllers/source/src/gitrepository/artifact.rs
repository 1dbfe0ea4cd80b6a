//! The artifact step (upstream's `reconcileArtifact`): archive the checkout unless the stored
//! artifact already is this revision with the same content settings.

use eddy_api::source::GitRepository;
use eddy_controller_runtime::conditions::{self, reasons as meta_reasons};
use eddy_controller_runtime::recorder::EventType;
use eddy_controller_runtime::{Outcome, ReconcileError};

use super::conditions::{ARTIFACT_IN_STORAGE, ARTIFACT_OUTDATED, STORAGE_OPERATION_FAILED, actions, reasons};
use super::content::{artifacts_differ, content_config_changed};
use super::source::go_io_error;
use super::{GitRepositoryReconciler, Run, Step};

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_artifact(&self, run: &mut Run<'_>) -> Step {
        let revision = run.revision();
        let hash = run.commit.as_ref().map(|c| c.hash().to_owned()).unwrap_or_default();
        let (ns, name) =
            (run.obj.metadata.namespace.clone().unwrap_or_default(), run.obj.metadata.name.clone().unwrap_or_default());
        let result = self.build_artifact(run, &ns, &name, &revision, &hash).await;
        // Whatever happened, an artifact of this revision with these settings is in storage.
        if up_to_date(run.obj, &revision, &run.includes) {
            conditions::delete(run.obj, ARTIFACT_OUTDATED);
            conditions::mark_true(
                run.obj,
                ARTIFACT_IN_STORAGE,
                meta_reasons::SUCCEEDED,
                format!("stored artifact for revision '{revision}'"),
            );
        }
        result
    }

    async fn build_artifact(&self, run: &mut Run<'_>, ns: &str, name: &str, revision: &str, hash: &str) -> Step {
        if up_to_date(run.obj, revision, &run.includes) {
            self.event(
                run.obj,
                EventType::Trace,
                reasons::ARTIFACT_UP_TO_DATE,
                actions::RECONCILE_ARTIFACT,
                &format!("artifact up-to-date with remote revision: '{revision}'"),
            );
            return (Outcome::Success, None);
        }
        let fail = |run: &mut Run<'_>, reason: &str, message: String| -> Step {
            let e = ReconcileError::generic(reason, message);
            conditions::mark_true(run.obj, STORAGE_OPERATION_FAILED, &e.reason, e.message.clone());
            (Outcome::Empty, Some(e))
        };
        match std::fs::metadata(&run.dir) {
            Err(e) => {
                let msg =
                    format!("failed to stat target artifact path: stat {}: {}", run.dir.display(), go_io_error(&e));
                return fail(run, reasons::STAT_OPERATION_FAILED, msg);
            }
            Ok(m) if !m.is_dir() => {
                let msg = format!("invalid target path: '{}' is not a directory", run.dir.display());
                return fail(run, reasons::INVALID_PATH, msg);
            }
            Ok(_) => {}
        }
        let mut artifact =
            match self.storage.new_artifact(GitRepository::KIND, ns, name, revision, &format!("{hash}.tar.gz")) {
                Ok(a) => a,
                Err(e) => {
                    return fail(
                        run,
                        reasons::DIR_CREATION_FAILED,
                        format!("failed to create artifact directory: {e}"),
                    );
                }
            };
        if let Err(e) = self.storage.mkdir_all(&artifact) {
            return fail(run, reasons::DIR_CREATION_FAILED, format!("failed to create artifact directory: {e}"));
        }
        let _lock = match self.storage.lock(&artifact).await {
            Ok(l) => l,
            Err(e) => {
                let e = ReconcileError::generic(reasons::FAILED, format!("failed to acquire lock for artifact: {e}"));
                return (Outcome::Empty, Some(e));
            }
        };
        let (storage, dir, ignore) = (self.storage.clone(), run.dir.clone(), run.obj.spec.ignore.clone());
        let built = tokio::task::spawn_blocking(move || {
            let matcher = eddy_artifact::sourceignore::gitrepository_matcher(&dir, ignore.as_deref()).map_err(|e| {
                (reasons::SOURCE_IGNORE_ERROR, format!("failed to load source ignore patterns from repository: {e}"))
            })?;
            storage.archive(&mut artifact, &dir, Some(&matcher)).map_err(|e| {
                (reasons::ARCHIVE_OPERATION_FAILED, format!("unable to archive artifact to storage: {e}"))
            })?;
            Ok::<_, (&str, String)>(artifact)
        })
        .await;
        let artifact = match built {
            Ok(Ok(a)) => a,
            Ok(Err((reasons::SOURCE_IGNORE_ERROR, msg))) => {
                // Upstream returns this one without a StorageOperationFailed condition.
                return (Outcome::Empty, Some(ReconcileError::generic(reasons::SOURCE_IGNORE_ERROR, msg)));
            }
            Ok(Err((reason, msg))) => return fail(run, reason, msg),
            Err(e) => {
                return fail(
                    run,
                    reasons::ARCHIVE_OPERATION_FAILED,
                    format!("unable to archive artifact to storage: {e}"),
                );
            }
        };
        let spec = run.obj.spec.clone();
        let status = run.obj.status.get_or_insert_with(Default::default);
        status.artifact = Some(artifact);
        // As upstream's omitempty fields: empty lists and `false` are left out.
        status.included_artifacts = Some(run.includes.clone()).filter(|i| !i.is_empty());
        status.observed_ignore = spec.ignore;
        status.observed_recurse_submodules = spec.recurse_submodules.filter(|r| *r);
        status.observed_include = spec.include;
        status.observed_sparse_checkout = spec.sparse_checkout;
        conditions::delete(run.obj, STORAGE_OPERATION_FAILED);
        (Outcome::Success, None)
    }
}

/// The stored artifact is this revision, built from the same includes and settings.
fn up_to_date(obj: &GitRepository, revision: &str, includes: &[eddy_api::meta::Artifact]) -> bool {
    let status = obj.status.as_ref();
    status.and_then(|s| s.artifact.as_ref()).is_some_and(|a| a.revision == revision)
        && !artifacts_differ(includes, status.and_then(|s| s.included_artifacts.as_deref()).unwrap_or_default())
        && !content_config_changed(obj, includes)
}
