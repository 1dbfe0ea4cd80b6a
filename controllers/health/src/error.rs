//! The crate's error type.

/// Why a health check failed or could not run.
///
/// The messages are the ones Flux prints (kustomize-controller puts them in the
/// Kustomization's `Ready`/`Healthy` conditions), so they are kept verbatim.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A CEL expression does not compile (or `healthCheckExprs` is invalid otherwise, e.g. a
    /// duplicate GroupKind). The message names the entry and the expression.
    #[error("{0}")]
    InvalidCel(String),
    /// An expression or the object could not be evaluated (a missing key, a result that is
    /// not a bool, a field of the wrong type).
    #[error("{0}")]
    Evaluation(String),
    /// Objects failed (fail-fast, or every object is either Current or Failed).
    #[error("{0}")]
    Failed(String),
    /// Objects were not Current in time.
    #[error("{0}")]
    Timeout(String),
}
