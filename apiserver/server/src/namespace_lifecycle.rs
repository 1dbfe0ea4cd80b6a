//! Admission that depends on the cluster Eddy extends: the `NamespaceLifecycle` plugin.
//!
//! Flux objects live in the cluster's namespaces, which Eddy does not store. In aggregated
//! mode a create in a namespace that does not exist, or that is terminating, is refused as
//! kube-apiserver's `NamespaceLifecycle` admission refuses it: 404 `namespaces "x" not found`,
//! or 403 with a `NamespaceTerminating` cause.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::status::{ApiError, Cause, Target};

/// A boxed future, for the object-safe admission trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Decides whether objects may be created in a namespace.
pub trait NamespaceLifecycle: Send + Sync + std::fmt::Debug {
    /// `Ok` when `namespace` exists and is not terminating.
    fn admit_create<'a>(&'a self, namespace: &'a str, target: &'a Target) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// The 404 kube-apiserver answers for a create in a namespace that does not exist.
#[must_use]
pub fn namespace_not_found(namespace: &str) -> ApiError {
    ApiError::not_found(Target { group: String::new(), resource: "namespaces".into(), name: namespace.into() })
}

/// The 403 kube-apiserver answers for a create in a terminating namespace.
#[must_use]
pub fn namespace_terminating(namespace: &str, target: &Target) -> ApiError {
    let why = format!("unable to create new content in namespace {namespace} because it is being terminated");
    let message = if target.name.is_empty() {
        format!("{} is forbidden: {why}", target.group_resource())
    } else {
        format!("{} {:?} is forbidden: {why}", target.group_resource(), target.name)
    };
    let mut e = ApiError::forbidden(message, Some(target.clone()));
    e.causes.push(Cause { reason: "NamespaceTerminating".into(), message: why, field: "metadata.namespace".into() });
    e
}

/// [`NamespaceLifecycle`] over the real cluster: a watch-fed cache of namespaces, with a live
/// lookup when the cache does not know a namespace yet (it may have just been created).
#[derive(Clone)]
pub struct ClusterNamespaces {
    api: Api<Namespace>,
    cache: Store<Namespace>,
}

impl std::fmt::Debug for ClusterNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNamespaces").field("cached", &self.cache.len()).finish()
    }
}

impl ClusterNamespaces {
    /// Starts watching the cluster's namespaces.
    #[must_use]
    pub fn start(client: kube::Client) -> Arc<Self> {
        let api = Api::<Namespace>::all(client);
        let (cache, writer) = reflector::store();
        let stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                if let Err(e) = item {
                    tracing::warn!(error = %e, "watching namespaces");
                }
            }
        });
        Arc::new(Self { api, cache })
    }
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

impl NamespaceLifecycle for ClusterNamespaces {
    fn admit_create<'a>(&'a self, namespace: &'a str, target: &'a Target) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let cached = self.cache.get(&ObjectRef::new(namespace));
            let ns = match cached {
                Some(ns) => Some((*ns).clone()),
                None => self
                    .api
                    .get_opt(namespace)
                    .await
                    .map_err(|e| ApiError::internal(format!("looking up namespace {namespace}: {e}")))?,
            };
            match ns {
                None => Err(namespace_not_found(namespace)),
                Some(ns) if terminating(&ns) => Err(namespace_terminating(namespace, target)),
                Some(_) => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_kube_shaped() {
        let nf = namespace_not_found("nope").to_status();
        assert_eq!(nf["code"], 404);
        assert_eq!(nf["message"], "namespaces \"nope\" not found");
        let t =
            Target { group: "source.toolkit.fluxcd.io".into(), resource: "gitrepositories".into(), name: "x".into() };
        let term = namespace_terminating("gone", &t).to_status();
        assert_eq!(term["code"], 403);
        assert_eq!(
            term["message"],
            "gitrepositories.source.toolkit.fluxcd.io \"x\" is forbidden: unable to create new content in namespace gone \
             because it is being terminated"
        );
        assert_eq!(term["details"]["causes"][0]["reason"], "NamespaceTerminating");
    }
}
