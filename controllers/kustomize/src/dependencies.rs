//! `spec.dependsOn`: every dependency must be Ready at its current generation, and, when it
//! builds from the same source, have applied the revision this Kustomization is about to apply
//! (kustomize-controller's `checkDependencies`). A dependency with `readyExpr` is ready when
//! the CEL expression over `self` (this Kustomization) and `dep` (the dependency) is true; the
//! built-in check is then skipped unless the `AdditiveCELDependencyCheck` feature gate is on.

use eddy_api::kustomize::Kustomization;
use eddy_api::meta::Artifact;
use eddy_controller_runtime::FluxApi;
use eddy_controller_runtime::conditions;

use crate::source::{has_revision, source_key};

/// Why the dependencies are not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    /// Not (yet) ready: retried after `--requeue-dependency`.
    #[error("{0}")]
    NotReady(String),
    /// A `readyExpr` that does not compile: a configuration error, not retried.
    #[error("{0}")]
    InvalidExpression(String),
}

/// Checks the dependencies in order; the first that is not ready is the error.
///
/// # Errors
/// Flux's messages: `dependency 'ns/name' not found: …`, `… is not ready`, `… is not ready
/// according to readyExpr eval`, `… revision is not up to date` ([`DependencyError::NotReady`]);
/// `failed to evaluate dependency NAME: …` for an expression that does not compile
/// ([`DependencyError::InvalidExpression`]).
pub async fn check(
    flux: &kube::Client,
    obj: &Kustomization,
    artifact: &Artifact,
    additive_cel: bool,
) -> Result<(), DependencyError> {
    use DependencyError::NotReady;
    let own_ns = obj.metadata.namespace.clone().unwrap_or_default();
    let mut self_value = None;
    for dep in obj.spec.depends_on.iter().flatten() {
        let ns = dep.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| own_ns.clone());
        let key = format!("{ns}/{}", dep.name);
        let api = FluxApi::<Kustomization>::namespaced(flux.clone(), &ns);
        let found = match api.get(&dep.name).await {
            Ok(k) => k,
            Err(eddy_controller_runtime::ClientError::Api(kube::Error::Api(status))) => {
                return Err(NotReady(format!("dependency '{key}' not found: {}", status.message)));
            }
            Err(e) => return Err(NotReady(format!("dependency '{key}' not found: {e}"))),
        };
        if let Some(expr) = dep.ready_expr.as_deref().filter(|e| !e.is_empty()) {
            let compiled = eddy_health::BoolExpression::compile(expr, &["self", "dep"]).map_err(|e| {
                DependencyError::InvalidExpression(format!("failed to evaluate dependency {}: {e}", dep.name))
            })?;
            let this = self_value.get_or_insert_with(|| serde_json::to_value(obj).unwrap_or_default());
            let dep_value = serde_json::to_value(&found).unwrap_or_default();
            match compiled.evaluate(&[("self", this), ("dep", &dep_value)]) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(NotReady(format!("dependency '{key}' is not ready according to readyExpr eval")));
                }
                Err(e) => return Err(NotReady(e.to_string())),
            }
            if !additive_cel {
                continue;
            }
        }
        let observed = found.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(-1);
        let has_conditions = found.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| !c.is_empty());
        if !has_conditions
            || found.metadata.generation.unwrap_or(0) != observed
            || !conditions::is_true(&found, conditions::types::READY)
        {
            return Err(NotReady(format!("dependency '{key}' is not ready")));
        }
        let same_source =
            found.spec.source_ref.kind == obj.spec.source_ref.kind && source_key(&found) == source_key(obj);
        let applied = found.status.as_ref().and_then(|s| s.last_applied_revision.as_deref()).unwrap_or_default();
        if same_source && !has_revision(artifact, applied) {
            return Err(NotReady(format!("dependency '{key}' revision is not up to date")));
        }
    }
    Ok(())
}
