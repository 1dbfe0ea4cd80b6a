//! Deleting a Kustomization (kustomize-controller's `finalize`): by `spec.deletionPolicy`,
//! prune the inventory (MirrorPrune follows `spec.prune`; Delete always; WaitForTermination
//! also waits for the objects to be gone; Orphan never), then drop the finalizer. A suspended
//! Kustomization deletes nothing; when the impersonated service account is gone, the objects
//! are left and an error event names them.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_api::kustomize::Kustomization;
use eddy_apply::DeleteOptions;

use crate::reconcile::{Flow, GROUP, KustomizationReconciler, retry_interval, timeout};
use crate::run::{change_set_text, inventory_objects, owner_labels};

impl KustomizationReconciler {
    pub(crate) async fn finalize(&self, obj: &mut Kustomization) -> Flow {
        let policy = obj.spec.deletion_policy.clone().unwrap_or_else(|| "MirrorPrune".to_owned());
        let prune = match policy.as_str() {
            "Delete" | "WaitForTermination" => true,
            "Orphan" => false,
            _ => obj.spec.prune,
        };
        let objects: Vec<_> = inventory_objects(obj).into_iter().map(|(m, _)| m).collect();
        let status = obj.status.clone().unwrap_or_default();
        let (revision, origin) = (
            status.last_applied_revision.clone().unwrap_or_default(),
            status.last_applied_origin_revision.clone().unwrap_or_default(),
        );
        if prune && !obj.spec.suspend.unwrap_or(false) && !objects.is_empty() {
            if self.factory.can_impersonate(obj).await {
                let client = match self.factory.client(obj).await {
                    Ok(c) => c,
                    Err(e) => return Flow::Backoff(e.to_string()),
                };
                let manager = self.factory.manager(obj, client, self.options.concurrent_ssa);
                let (name, ns) =
                    (obj.metadata.name.clone().unwrap_or_default(), obj.metadata.namespace.clone().unwrap_or_default());
                let options = DeleteOptions {
                    inclusions: owner_labels(&name, &ns),
                    exclusions: [(format!("{GROUP}/prune"), "disabled".to_owned())].into(),
                };
                match manager.delete_all(&objects, &options).await {
                    Err(e) => {
                        self.event(
                            obj,
                            &revision,
                            &origin,
                            true,
                            "pruning for deleted resource failed",
                            BTreeMap::new(),
                        );
                        return Flow::Backoff(e.to_string());
                    }
                    Ok(set) if !set.entries.is_empty() => {
                        self.event(obj, &revision, &origin, false, &change_set_text(&set), BTreeMap::new());
                        if policy == "WaitForTermination" {
                            let deleted: Vec<_> = set
                                .entries
                                .iter()
                                .filter(|e| e.action == eddy_apply::Action::Deleted)
                                .map(|e| e.object_metadata.clone())
                                .collect();
                            let wait = manager.wait_for_termination(&deleted, timeout(obj));
                            if let Err(e) = eddy_controller_runtime::slot::released(wait).await {
                                let msg = format!("waiting for termination of resources failed: {e}");
                                self.event(obj, &revision, &origin, true, &msg, BTreeMap::new());
                                return Flow::After(retry_interval(obj).min(Duration::from_secs(30)));
                            }
                        }
                    }
                    Ok(_) => {}
                }
            } else {
                let list = objects.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
                let msg = format!("unable to prune objects: \n{list}");
                tracing::error!("skipping pruning, failed to find account to impersonate");
                self.event(obj, &revision, &origin, true, &msg, BTreeMap::new());
            }
        }
        eddy_controller_runtime::finalizer::remove(obj);
        Flow::Done
    }
}
