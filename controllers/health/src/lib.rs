//! # eddy-health — is an object ready?
//!
//! - [`compute`]: kstatus (sigs.k8s.io/cli-utils `kstatus/status.Compute`) for one object:
//!   built-in kinds by their own rules, everything else by its `Ready`/`Reconciling`/`Stalled`
//!   conditions and `observedGeneration`; [`flux_job_status`] is Flux's stricter Job rule;
//! - [`CustomChecks`]: Flux's `healthCheckExprs` (CEL, evaluated inProgress → failed →
//!   current, as fluxcd/pkg/runtime/cel); [`BoolExpression`]: one boolean CEL expression over
//!   named variables (`dependsOn[].readyExpr`);
//! - [`Waiter`]: waits for a set of objects to become Current, learning of changes from
//!   watches (one shared watch per kind and namespace), not by polling.

mod checks;
mod error;
mod expr;
mod fields;
mod kstatus;
mod status;
mod waiter;

pub use checks::{CustomChecks, HealthCheckExpr};
pub use error::HealthError;
pub use expr::BoolExpression;
pub use kstatus::{compute, flux_job_status};
pub use status::{Status, StatusResult};
pub use waiter::{Target, WaitOptions, Waiter};
