//! # eddy-health — is an object ready?
//!
//! - [`compute`]: kstatus (sigs.k8s.io/cli-utils `kstatus/status.Compute`) for one object:
//!   built-in kinds by their own rules, everything else by its `Ready`/`Reconciling`/`Stalled`
//!   conditions and `observedGeneration`;
//! - [`CustomChecks`]: Flux's `healthCheckExprs` (CEL, evaluated inProgress → failed →
//!   current, as fluxcd/pkg/runtime/cel);
//! - [`Waiter`]: waits for a set of objects to become Current, learning of changes from
//!   watches (one shared watch per kind), not by polling.
//!
//! SKELETON: the public API below is agreed between the crates; bodies are being written.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// kstatus' statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Still being worked on.
    InProgress,
    /// Failed.
    Failed,
    /// Reconciled and ready.
    Current,
    /// Being deleted.
    Terminating,
    /// Does not exist.
    NotFound,
    /// Cannot tell.
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        })
    }
}

/// A status and kstatus' message for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResult {
    /// The status.
    pub status: Status,
    /// Why (kstatus' message, e.g. `Deployment is available. Replicas: 1`).
    pub message: String,
}

/// kstatus' `Compute` for one object.
///
/// # Errors
/// An object whose fields have the wrong types.
pub fn compute(obj: &Value) -> Result<StatusResult, HealthError> {
    let _ = obj;
    unimplemented!("skeleton")
}

/// One `healthCheckExprs` entry (Flux's `CustomHealthCheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckExpr {
    /// `apiVersion` of the objects it applies to.
    pub api_version: String,
    /// `kind` of the objects it applies to.
    pub kind: String,
    /// True when healthy.
    pub current: String,
    /// True while progressing.
    pub in_progress: Option<String>,
    /// True when failed.
    pub failed: Option<String>,
}

/// Compiled `healthCheckExprs`.
#[derive(Clone, Default)]
pub struct CustomChecks {
    _private: (),
}

impl CustomChecks {
    /// Compiles the expressions.
    ///
    /// # Errors
    /// [`HealthError::InvalidCel`] naming the expression that does not compile.
    pub fn compile(exprs: &[HealthCheckExpr]) -> Result<Self, HealthError> {
        let _ = exprs;
        unimplemented!("skeleton")
    }

    /// The status of `obj` by the expressions for its apiVersion and kind, or `None` when
    /// none applies (kstatus decides).
    ///
    /// # Errors
    /// An expression that fails to evaluate.
    pub fn evaluate(&self, obj: &Value) -> Option<Result<StatusResult, HealthError>> {
        let _ = obj;
        unimplemented!("skeleton")
    }
}

/// An object to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for Target {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// How to wait.
#[derive(Clone, Default)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Stop as soon as one object is Failed (Flux's `FailFast`).
    pub fail_fast: bool,
    /// Custom health checks (they replace kstatus for the kinds they name).
    pub checks: Option<Arc<CustomChecks>>,
}

/// Waits for objects to become Current, from watches shared by every wait.
#[derive(Clone)]
pub struct Waiter {
    client: kube::Client,
}

impl Waiter {
    /// A waiter reading the cluster through `client`.
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// Returns once every target is Current.
    ///
    /// # Errors
    /// [`HealthError::Timeout`] / [`HealthError::Failed`] with Flux's messages, e.g.
    /// `timeout waiting for: [Deployment/default/podinfo status: 'InProgress']`.
    pub async fn wait(&self, targets: &[Target], options: &WaitOptions) -> Result<(), HealthError> {
        let _ = (targets, options, &self.client);
        unimplemented!("skeleton")
    }
}

/// Why a health check failed or could not run.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A CEL expression does not compile.
    #[error("{0}")]
    InvalidCel(String),
    /// An expression or the object could not be evaluated.
    #[error("{0}")]
    Evaluation(String),
    /// Objects failed (fail-fast).
    #[error("{0}")]
    Failed(String),
    /// Objects were not Current in time.
    #[error("{0}")]
    Timeout(String),
}
