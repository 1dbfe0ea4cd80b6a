//! # eddy-controller-runtime — what every Eddy controller is built on
//!
//! The Flux controllers are controller-runtime programs with fluxcd/pkg's conventions on top.
//! This crate is that foundation for Eddy's controllers, one concept per module:
//!
//! - [`client`]: the two clients — Flux kinds through Eddy's API (in process), and the real
//!   cluster — and typed access to Flux objects ([`client::FluxApi`]).
//! - [`object`]: the Flux kinds as the runtime sees them ([`object::FluxObject`]), the
//!   finalizer and reconcile-request annotation names.
//! - [`informer`]: a watched, indexed cache of one kind, shared by the controllers that need
//!   it.
//! - [`queue`]: the work queue (never one object twice at once, delays, per-object backoff).
//! - [`controller`]: the driver: which changes enqueue, workers, leadership gating, decisions.
//! - [`slot`]: `--concurrent` bounds reconciles that work, not those waiting on the world.
//! - [`conditions`]: fluxcd/pkg `runtime/conditions` semantics (Ready / Reconciling / Stalled).
//! - [`result`] and [`summarize`]: **the one place** that turns a reconcile's outcome into
//!   conditions, `observedGeneration` and a requeue decision.
//! - [`patch`]: serial status patches from what the server last saw.
//! - [`finalizer`], [`jitter`], [`duration`]: Flux's finalizer, requeue jitter, Go durations.
//! - [`recorder`]: the seam reconcilers record events through; [`events`] writes them as
//!   Kubernetes Events the way Flux's controllers do (client-go's correlator: deduplication,
//!   aggregation, spam filter) and feeds the Flux notification pipeline (an in-process sink
//!   and the `--events-addr` forwarder).
//! - [`metrics`]: the Prometheus series of Flux (`gotk_*`) and controller-runtime
//!   (`controller_runtime_*`, `workqueue_*`, `leader_election_master_status`).
//! - [`leader`]: leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//!   `leaderelection` with Flux's defaults.
//!
//! Controllers depend on this crate, the types crate (`eddy-api`) and `kube` only — never on
//! the store or the API server — so they could run out of process unchanged.

pub mod client;
pub mod conditions;
pub mod controller;
pub mod duration;
pub mod events;
pub mod finalizer;
pub mod informer;
pub mod jitter;
pub mod leader;
pub mod metrics;
pub mod object;
pub mod patch;
pub mod queue;
pub mod recorder;
pub mod result;
pub mod slot;
pub mod summarize;

pub use client::{ClientError, Clients, FluxApi};
pub use controller::{Controller, ControllerObserver, Reconciler};
pub use informer::{Change, Informer, Store};
pub use object::{FluxObject, ObjectKey};
pub use result::{Decision, Outcome, ReconcileError, Requeue};
