//! Differential test of server-side apply: the scripted scenarios of `eddy-ssa`
//! (`apiserver/ssa/tests/scenarios/*.yaml`, format in `apiserver/ssa/README.md`) replayed over
//! HTTP against a real kube-apiserver serving the upstream Flux CRDs under renamed API groups.
//!
//! The scenario files state, after each step, the object, the managedFields entries or the
//! error. `eddy-ssa`'s own replay test holds its engine to them; this crate holds
//! kube-apiserver to them. Both passing means the engine and kube-apiserver agree step by step.
//!
//! - [`scenario`]: the scenario model shared with `eddy-ssa`'s own replay (crate
//!   `eddy-ssa-scenarios`): the file format, filling, normalising of answers, comparison, bless.
//! - [`rename`]: the translation between the Flux groups and the renamed groups (and between the
//!   scenario's `default` namespace and the fresh namespace each replay uses).
//! - [`crds`]: the reference CRDs, rewritten to the renamed groups, installed and awaited.
//! - [`replay`]: one scenario over HTTP through a `kube::Client`.
//! - [`cluster`]: the kubeconfig of the cluster to test against (given, or `hack/cluster up`).

pub mod cluster;
pub mod crds;
pub mod rename;
pub mod replay;
pub use eddy_ssa_scenarios as scenario;

/// Errors of the harness itself (not the answers under test, which are [`scenario::Outcome`]s).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error(transparent)]
    Scenario(#[from] scenario::Error),
    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),
    #[error("building a request: {0}")]
    Http(#[from] http::Error),
    #[error("cluster: {0}")]
    Cluster(String),
    #[error("{0}")]
    Api(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
