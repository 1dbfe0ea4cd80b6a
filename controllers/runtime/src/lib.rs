//! The reconcile runtime every Eddy controller uses: clients, work queue, conditions, events,
//! metrics, finalizers, leader election.
//!
//! - [`events`]: Kubernetes Events in the shape Flux's controllers write them (client-go's
//!   event correlator: deduplication, aggregation, spam filter) and the Flux notification
//!   pipeline (an in-process sink and the `--events-addr` HTTP forwarder).
//! - [`metrics`]: the Prometheus series of Flux (`gotk_*`) and controller-runtime
//!   (`controller_runtime_*`, `workqueue_*`, `leader_election_master_status`), rendered in the
//!   text exposition format.
//! - [`leader`]: leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//!   `leaderelection` with controller-runtime's (and Flux's) defaults.

pub mod events;
pub mod leader;
pub mod metrics;
