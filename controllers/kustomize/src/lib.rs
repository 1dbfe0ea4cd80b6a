//! # eddy-kustomize-controller — the Kustomization controller
//!
//! Flux's kustomize-controller on Eddy's runtime: fetch a source's artifact, build it with
//! Eddy's kustomize engine ([`eddy_kustomize`]), decrypt ([`eddy_sops`]), substitute
//! variables, apply it to the cluster with server-side apply ([`eddy_apply`]), prune what left
//! the source, and wait for health ([`eddy_health`]).
//!
//! - [`reconcile`]: the reconciler's entry, its checks before any work (CEL, source,
//!   dependencies) and Flux's closing status rules;
//! - [`run`]: one revision end to end (fetch, build, apply, inventory, prune, health);
//! - [`fetch`], [`build`], [`postbuild`], [`decryption`]: the steps' parts;
//! - [`source`], [`dependencies`], [`impersonation`], [`history`], [`finalize`];
//! - [`KustomizationController`]: wires the informers, the work queue and the reconciler; a
//!   source whose artifact changes enqueues the Kustomizations built from it.
//!
//! Flux objects are read and written through the API ([`eddy_controller_runtime::Clients::flux`]);
//! the applied objects, Secrets and ConfigMaps live in the real cluster.

pub mod build;
pub mod conditions;
pub mod decryption;
pub mod dependencies;
pub mod fetch;
mod finalize;
pub mod history;
pub mod impersonation;
pub mod postbuild;
pub mod reconcile;
pub mod run;
pub mod source;
mod workload_identity;

use std::future::Future;
use std::sync::Arc;

use eddy_api::kustomize::Kustomization;
use eddy_api::source::GitRepository;
use eddy_controller_runtime::controller::Config;
use eddy_controller_runtime::recorder::EventRecorder;
use eddy_controller_runtime::{Change, Clients, Controller, Informer, ObjectKey};
use tokio::sync::watch;

pub use impersonation::ClientFactory;
pub use reconcile::{CONTROLLER_NAME, KustomizationReconciler, Options};

/// The index of Kustomizations by source: `<Kind>/<namespace>/<name>`.
const SOURCE_INDEX: &str = "source";

/// Which Kustomizations this process reconciles.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Only this namespace; all when `None`.
    pub namespace: Option<String>,
    /// Only objects matching this label selector (sharding).
    pub label_selector: Option<String>,
}

/// Everything the Kustomization controller runs with.
pub struct KustomizationController {
    /// The Flux API and the cluster.
    pub clients: Clients,
    /// Builds the clients Kustomizations apply with.
    pub factory: ClientFactory,
    /// Where events go.
    pub recorder: Arc<dyn EventRecorder>,
    /// Reconciler settings.
    pub options: Options,
    /// Driver settings (workers, backoff, metrics).
    pub config: Config,
    /// Which objects.
    pub watch: WatchOptions,
}

fn source_index(k: &Kustomization) -> Vec<String> {
    let (ns, name) = source::source_key(k);
    vec![format!("{}/{ns}/{name}", k.spec.source_ref.kind)]
}

/// Whether a source change is one Kustomizations react to (Flux's
/// `SourceRevisionChangePredicate`): an artifact appeared or its revision changed.
fn revision_changed(change: &Change<GitRepository>) -> bool {
    let revision = |o: &Option<Arc<GitRepository>>| {
        o.as_ref().and_then(|r| r.status.as_ref()).and_then(|s| s.artifact.as_ref()).map(|a| a.revision.clone())
    };
    match (revision(&change.old), revision(&change.new)) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(a), Some(b)) => a != b,
    }
}

impl KustomizationController {
    /// Runs until `shutdown` resolves.
    pub async fn run(self, leader: watch::Receiver<bool>, shutdown: impl Future<Output = ()> + Send) {
        let Self { clients, factory, recorder, options, config, watch } = self;
        let mut informer: Informer<Kustomization> =
            Informer::new(clients.flux.clone(), watch.namespace.as_deref(), watch.label_selector.as_deref());
        informer.index(SOURCE_INDEX, source_index);
        let store = informer.store();
        let mut sources: Informer<GitRepository> =
            Informer::new(clients.flux.clone(), watch.namespace.as_deref(), None);
        let controller = Controller::new(&mut informer, config).watch_related(&mut sources, move |change| {
            if !revision_changed(change) {
                return Vec::new();
            }
            let key = change.key();
            let value = format!("{}/{}/{}", GitRepository::KIND, key.namespace, key.name);
            let revision = change
                .new
                .as_ref()
                .and_then(|r| r.status.as_ref())
                .and_then(|s| s.artifact.as_ref())
                .map(|a| a.revision.clone())
                .unwrap_or_default();
            // Skip Kustomizations that already attempted this revision and are Ready or busy.
            store
                .by_index(SOURCE_INDEX, &value)
                .into_iter()
                .filter(|k: &ObjectKey| {
                    store.get(k).is_none_or(|ks| {
                        let attempted = ks.status.as_ref().and_then(|s| s.last_attempted_revision.as_deref());
                        let settled = eddy_controller_runtime::conditions::is_ready(ks.as_ref())
                            || eddy_controller_runtime::conditions::is_reconciling(ks.as_ref());
                        !(settled && attempted == Some(revision.as_str()))
                    })
                })
                .collect()
        });
        let reconciler = Arc::new(KustomizationReconciler::new(clients, recorder, options, factory));
        let informer_task = tokio::spawn(informer.run());
        let sources_task = tokio::spawn(sources.run());
        controller.run(reconciler, leader, shutdown).await;
        informer_task.abort();
        sources_task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eddy_api::meta::Artifact;
    use eddy_api::source::{GitRepository, GitRepositoryStatus};

    use super::*;

    fn repo(revision: Option<&str>) -> Option<Arc<GitRepository>> {
        Some(Arc::new(GitRepository {
            status: Some(GitRepositoryStatus {
                artifact: revision.map(|rev| Artifact { revision: rev.into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    #[test]
    fn only_a_new_or_changed_artifact_enqueues() {
        let change = |old, new| Change { old, new };
        assert!(revision_changed(&change(repo(None), repo(Some("main@sha1:a")))));
        assert!(revision_changed(&change(None, repo(Some("main@sha1:a")))));
        assert!(revision_changed(&change(repo(Some("main@sha1:a")), repo(Some("main@sha1:b")))));
        assert!(!revision_changed(&change(repo(Some("main@sha1:a")), repo(Some("main@sha1:a")))));
        assert!(!revision_changed(&change(repo(Some("main@sha1:a")), repo(None))));
        assert!(!revision_changed(&change(repo(Some("main@sha1:a")), None)));
    }

    #[test]
    fn kustomizations_are_indexed_by_their_source() {
        let mut k = Kustomization::default();
        k.metadata.namespace = Some("apps".into());
        k.spec.source_ref.kind = "GitRepository".into();
        k.spec.source_ref.name = "fleet".into();
        assert_eq!(source_index(&k), vec!["GitRepository/apps/fleet".to_owned()]);
        k.spec.source_ref.namespace = Some("flux-system".into());
        assert_eq!(source_index(&k), vec!["GitRepository/flux-system/fleet".to_owned()]);
    }
}
