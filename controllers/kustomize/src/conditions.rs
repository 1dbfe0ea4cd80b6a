//! The Kustomization's conditions and reasons, as kustomize-controller and fluxcd/pkg
//! `apis/meta` name them.

pub use eddy_controller_runtime::conditions::types::{HEALTHY, READY, RECONCILING, STALLED};

/// Reasons a Kustomization's conditions carry.
pub mod reasons {
    /// The source or its artifact is missing, or downloading or extracting it failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// A cross-namespace reference was refused.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// The kustomization did not build (or decrypt, or substitute).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// Applying failed, or a client could not be built.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// Applied.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// Health checks failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A `healthCheckExprs` expression does not compile (a stall).
    pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";
    /// The temporary directory could not be created.
    pub const DIR_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// In progress.
    pub const PROGRESSING: &str = "Progressing";
    /// In progress after a failure.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// Health checks passed.
    pub const SUCCEEDED: &str = "Succeeded";
}

/// The conditions the Kustomization controller owns on its objects.
pub const OWNED: &[&str] = &[READY, RECONCILING, STALLED, HEALTHY];
