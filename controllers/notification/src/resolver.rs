//! The pipeline's view of the cluster: Alerts and Providers from informer caches of Eddy's
//! API, Secrets from the real cluster, involved objects' labels from whichever serves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_api::notification::Provider;
use eddy_controller_runtime::events::FluxEvent;
use eddy_controller_runtime::{ObjectKey, Store};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};

use crate::config::SecretData;
use crate::dispatch::{LookupError, Resolver};
use crate::objects::{AlertObject, ProviderObject};

/// A [`Resolver`] over informer stores and clients.
#[derive(Clone)]
pub struct KubeResolver {
    /// Alerts.
    pub alerts: Store<AlertObject>,
    /// Providers.
    pub providers: Store<ProviderObject>,
    /// The Flux API.
    pub flux: kube::Client,
    /// The cluster.
    pub cluster: kube::Client,
}

impl Resolver for KubeResolver {
    fn alerts(&self) -> Vec<Arc<AlertObject>> {
        self.alerts.list()
    }

    async fn provider(&self, namespace: &str, name: &str) -> Result<Option<Provider>, LookupError> {
        Ok(self.providers.get(&ObjectKey::new(namespace, name)).map(|p| p.object.clone()))
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<SecretData>, LookupError> {
        let api: Api<Secret> = Api::namespaced(self.cluster.clone(), namespace);
        let secret = api.get_opt(name).await.map_err(|e| LookupError(e.to_string()))?;
        Ok(secret.map(|s| {
            let mut data: SecretData = s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
            for (k, v) in s.string_data.unwrap_or_default() {
                data.insert(k, v.into_bytes());
            }
            data
        }))
    }

    async fn labels(&self, event: &FluxEvent) -> Option<BTreeMap<String, String>> {
        let o = &event.involved_object;
        let api_version = o.api_version.as_deref()?;
        let kind = o.kind.as_deref()?;
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let info = eddy_api::find(group, kind);
        let plural = info.map_or_else(|| format!("{}s", kind.to_lowercase()), |i| i.plural.to_owned());
        let client = if info.is_some() { &self.flux } else { &self.cluster };
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), o.namespace.as_deref()?, &ar);
        match api.get_metadata(o.name.as_deref()?).await {
            Ok(m) => Some(m.metadata.labels.unwrap_or_default()),
            Err(e) => {
                tracing::error!(error = %e, "error getting the involved object");
                None
            }
        }
    }
}
