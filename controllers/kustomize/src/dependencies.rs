//! `spec.dependsOn`: every dependency must be Ready at its current generation, and, when it
//! builds from the same source, have applied the revision this Kustomization is about to apply
//! (kustomize-controller's `checkDependencies`).

use eddy_api::kustomize::Kustomization;
use eddy_api::meta::Artifact;
use eddy_controller_runtime::FluxApi;
use eddy_controller_runtime::conditions;

use crate::source::{has_revision, source_key};

/// Checks the dependencies in order; the first that is not ready is the error.
///
/// # Errors
/// Flux's messages: `dependency 'ns/name' not found: …`, `… is not ready`, `… revision is not
/// up to date`.
pub async fn check(flux: &kube::Client, obj: &Kustomization, artifact: &Artifact) -> Result<(), String> {
    let own_ns = obj.metadata.namespace.clone().unwrap_or_default();
    for dep in obj.spec.depends_on.iter().flatten() {
        let ns = dep.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| own_ns.clone());
        let key = format!("{ns}/{}", dep.name);
        let api = FluxApi::<Kustomization>::namespaced(flux.clone(), &ns);
        let found = match api.get(&dep.name).await {
            Ok(k) => k,
            Err(eddy_controller_runtime::ClientError::Api(kube::Error::Api(status))) => {
                return Err(format!("dependency '{key}' not found: {}", status.message));
            }
            Err(e) => return Err(format!("dependency '{key}' not found: {e}")),
        };
        let observed = found.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(-1);
        let has_conditions = found.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| !c.is_empty());
        if !has_conditions
            || found.metadata.generation.unwrap_or(0) != observed
            || !conditions::is_true(&found, conditions::types::READY)
        {
            return Err(format!("dependency '{key}' is not ready"));
        }
        let same_source =
            found.spec.source_ref.kind == obj.spec.source_ref.kind && source_key(&found) == source_key(obj);
        let applied = found.status.as_ref().and_then(|s| s.last_applied_revision.as_deref()).unwrap_or_default();
        if same_source && !has_revision(artifact, applied) {
            return Err(format!("dependency '{key}' revision is not up to date"));
        }
    }
    Ok(())
}
