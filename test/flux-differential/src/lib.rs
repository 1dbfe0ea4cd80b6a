//! The Flux differential: every scenario runs on Flux's own source-controller and
//! kustomize-controller v1.10.1 (the reference cluster of `hack/cluster --flux`) and on Eddy
//! (`hack/cluster --eddy`), from the same Git repositories, and the normalised observables
//! must agree:
//!
//! - a GitRepository's status: conditions, artifact revision, the artifact's files (paths,
//!   modes, contents, downloaded from each side), included artifacts, the `observed*` fields;
//! - the Kustomization's status: conditions (type, status, reason, message), inventory,
//!   `lastAppliedRevision` / `lastAttemptedRevision`, `observedGeneration` (current or
//!   behind), `history` without times and counters, and its finalizers;
//! - the applied objects: labels, annotations, spec/data, and the `managedFields` managers and
//!   operations;
//! - the Kubernetes Events' types, reasons and messages.
//!
//! Differences that are understood are listed in `known-differences.txt` (scenario, field,
//! why); the verdict fails on an unlisted difference and on a listed one that no longer
//! differs. The binary (`cargo run -p eddy-flux-differential`, driven by `hack/flux-diff`) is
//! the differential itself: it needs the Flux controllers built by `hack/build-controlplane
//! --flux`, which CI does not build, so CI runs only the unit tests of this crate (the
//! normaliser, the comparison, the verdict and the scenario table).

pub mod artifact;
pub mod diff;
pub mod error;
pub mod fixtures;
pub mod known;
pub mod kubectl;
pub mod normalise;
pub mod observe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scenarios;
pub mod scenarios_flows;
pub mod scenarios_git;
pub mod source;

pub use error::{Error, Result};
