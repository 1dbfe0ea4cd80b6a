//! # eddy-source — the source controllers
//!
//! Flux's source-controller turns sources into *artifacts*: digested tarballs in a storage
//! directory, served over HTTP, that other controllers (Kustomization, HelmRelease) download.
//! This crate does the same on Eddy's runtime; GitRepository first.
//!
//! - [`gitrepository`]: the reconciler, step by step as upstream's, with Flux's conditions,
//!   reasons, events and revision strings;
//! - [`secrets`]: Secrets from the real cluster (credentials, proxies, trusted keys);
//! - [`GitRepositoryController`]: wires the informer, the work queue and the reconciler.
//!
//! Git itself is [`eddy_git`]; storage and the artifact server are [`eddy_artifact`]. Flux
//! objects are read and written through the API ([`eddy_controller_runtime::Clients::flux`]),
//! never through the store.

pub mod gitrepository;
pub mod secrets;

use std::future::Future;
use std::sync::Arc;

use eddy_api::source::GitRepository;
use eddy_artifact::storage::Storage;
use eddy_controller_runtime::controller::Config;
use eddy_controller_runtime::recorder::EventRecorder;
use eddy_controller_runtime::{Clients, Controller, Informer};
use tokio::sync::watch;

pub use gitrepository::{CONTROLLER_NAME, GitRepositoryReconciler, Options};

/// Which GitRepositories this process reconciles.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Only this namespace (`--watch-all-namespaces=false`); all when `None`.
    pub namespace: Option<String>,
    /// Only objects matching this label selector (`--watch-label-selector`, sharding).
    pub label_selector: Option<String>,
}

/// Everything the GitRepository controller runs with.
pub struct GitRepositoryController {
    /// The Flux API and the cluster.
    pub clients: Clients,
    /// Where artifacts go.
    pub storage: Storage,
    /// Where events go.
    pub recorder: Arc<dyn EventRecorder>,
    /// Reconciler settings.
    pub options: Options,
    /// Driver settings (workers, backoff, metrics).
    pub config: Config,
    /// Which objects.
    pub watch: WatchOptions,
}

impl GitRepositoryController {
    /// Runs until `shutdown` resolves: an informer over the Flux API, `config.concurrency`
    /// workers, reconciles gated by `leader`.
    pub async fn run(self, leader: watch::Receiver<bool>, shutdown: impl Future<Output = ()> + Send) {
        let Self { clients, storage, recorder, options, config, watch } = self;
        let mut informer: Informer<GitRepository> =
            Informer::new(clients.flux.clone(), watch.namespace.as_deref(), watch.label_selector.as_deref());
        let controller = Controller::new(&mut informer, config);
        let reconciler = Arc::new(GitRepositoryReconciler::new(clients, storage, recorder, informer.store(), options));
        let informer_task = tokio::spawn(informer.run());
        controller.run(reconciler, leader, shutdown).await;
        informer_task.abort();
    }
}
