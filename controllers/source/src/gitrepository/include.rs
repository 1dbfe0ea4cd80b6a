//! The include step (upstream's `reconcileInclude`): copy each included repository's
//! artifact (or a path of it) into the checkout.

use eddy_controller_runtime::conditions;
use eddy_controller_runtime::{Outcome, ReconcileError};

use super::conditions::{INCLUDE_UNAVAILABLE, STORAGE_OPERATION_FAILED, reasons};
use super::{GitRepositoryReconciler, Run, Step};

impl GitRepositoryReconciler {
    pub(super) async fn reconcile_include(&self, run: &mut Run<'_>) -> Step {
        let includes = run.obj.spec.include.clone().unwrap_or_default();
        for (i, incl) in includes.iter().enumerate() {
            let name = &incl.repository.name;
            let to = incl.to_path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| name.clone());
            let from = incl.from_path.clone().unwrap_or_default();
            let fail = |run: &mut Run<'_>, e: ReconcileError| -> Step {
                conditions::mark_true(run.obj, STORAGE_OPERATION_FAILED, &e.reason, e.message.clone());
                (Outcome::Empty, Some(e))
            };
            let to_path = match eddy_artifact::paths::secure_join(&run.dir, &to) {
                Ok(p) => p,
                Err(e) => {
                    let e = ReconcileError::generic(
                        reasons::ILLEGAL_PATH,
                        format!("path calculation for include '{name}' failed: {e}"),
                    );
                    return fail(run, e);
                }
            };
            let Some(artifact) = run.includes.get(i).cloned() else {
                let e = ReconcileError::generic(
                    reasons::COPY_FAILURE,
                    format!("failed to copy '{name}' include from {from} to {to}: no artifact"),
                );
                return fail(run, e);
            };
            let storage = self.storage.clone();
            let (from_c, to_c) = (from.clone(), to_path.clone());
            let copied = tokio::task::spawn_blocking(move || storage.copy_to_path(&artifact, &from_c, &to_c)).await;
            let err = match copied {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(err) = err {
                let e = ReconcileError::generic(
                    reasons::COPY_FAILURE,
                    format!("failed to copy '{name}' include from {from} to {to}: {err}"),
                );
                return fail(run, e);
            }
        }
        conditions::delete(run.obj, INCLUDE_UNAVAILABLE);
        (Outcome::Success, None)
    }
}
