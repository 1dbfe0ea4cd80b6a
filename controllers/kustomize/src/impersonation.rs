//! The cluster client a Kustomization applies with (fluxcd/pkg `runtime/client`'s
//! `Impersonator`): the controller's own identity, a service account impersonated as
//! `system:serviceaccount:<namespace>:<name>` (`spec.serviceAccountName`, else
//! `--default-service-account`), and, with `spec.kubeConfig.secretRef`, a remote cluster from a
//! kubeconfig in a Secret, or with `spec.kubeConfig.configMapRef` one reached with workload
//! identity ([`crate::workload_identity`]); impersonating there too when a service account is
//! named.
//!
//! Impersonated clients are cached per identity: one connection pool per tenant, not one per
//! reconcile.

use std::collections::HashMap;

use eddy_api::kustomize::Kustomization;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::Api;
use parking_lot::Mutex;

/// Builds and caches clients.
pub struct ClientFactory {
    base: kube::Config,
    default_client: kube::Client,
    default_service_account: Option<String>,
    cache: Mutex<HashMap<String, kube::Client>>,
    managers: Mutex<HashMap<String, eddy_apply::ResourceManager>>,
    object_level_workload_identity: bool,
}

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientBuildError(pub String);

impl ClientFactory {
    /// A factory deriving clients from `base` (the controller's identity); `default_client`
    /// is the client built from it.
    #[must_use]
    pub fn new(base: kube::Config, default_client: kube::Client, default_service_account: Option<String>) -> Self {
        Self {
            base,
            default_client,
            default_service_account,
            cache: Mutex::new(HashMap::new()),
            managers: Mutex::new(HashMap::new()),
            object_level_workload_identity: false,
        }
    }

    /// Allows `spec.kubeConfig.configMapRef` ConfigMaps to name a service account of the
    /// Kustomization's namespace (the `ObjectLevelWorkloadIdentity` feature gate).
    #[must_use]
    pub fn with_object_level_workload_identity(mut self, enabled: bool) -> Self {
        self.object_level_workload_identity = enabled;
        self
    }

    /// The service account a Kustomization acts as, if any.
    #[must_use]
    pub fn service_account(&self, obj: &Kustomization) -> Option<String> {
        obj.spec
            .service_account_name
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.default_service_account.clone().filter(|s| !s.is_empty()))
    }

    fn username(&self, obj: &Kustomization) -> Option<String> {
        let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
        self.service_account(obj).map(|sa| format!("system:serviceaccount:{ns}:{sa}"))
    }

    /// The client for `obj`.
    ///
    /// # Errors
    /// An unreadable kubeconfig Secret or an unusable configuration.
    pub async fn client(&self, obj: &Kustomization) -> Result<kube::Client, ClientBuildError> {
        let user = self.username(obj);
        if let Some(reference) = obj.spec.kube_config.as_ref().and_then(|k| k.secret_ref.as_ref()) {
            let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
            let mut config = self.remote_config(ns, &reference.name, reference.key.as_deref()).await?;
            config.auth_info.impersonate = user;
            return kube::Client::try_from(config).map_err(|e| ClientBuildError(e.to_string()));
        }
        if let Some(reference) = obj.spec.kube_config.as_ref().and_then(|k| k.config_map_ref.as_ref()) {
            let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
            let mut config = crate::workload_identity::remote_config(
                &self.default_client,
                ns,
                &reference.name,
                self.object_level_workload_identity,
            )
            .await?;
            config.auth_info.impersonate = user;
            return kube::Client::try_from(config).map_err(|e| ClientBuildError(e.to_string()));
        }
        let Some(user) = user else { return Ok(self.default_client.clone()) };
        if let Some(c) = self.cache.lock().get(&user) {
            return Ok(c.clone());
        }
        let mut config = self.base.clone();
        config.auth_info.impersonate = Some(user.clone());
        let client = kube::Client::try_from(config).map_err(|e| ClientBuildError(e.to_string()))?;
        self.cache.lock().insert(user, client.clone());
        Ok(client)
    }

    /// The apply manager for `obj`'s identity, reusing the discovery cache of earlier
    /// reconciles with the same identity (a remote cluster gets a fresh one each time).
    #[must_use]
    pub fn manager(
        &self,
        obj: &Kustomization,
        client: kube::Client,
        concurrency: usize,
    ) -> eddy_apply::ResourceManager {
        let owner = crate::run::owner();
        if obj.spec.kube_config.as_ref().is_some_and(|k| k.secret_ref.is_some() || k.config_map_ref.is_some()) {
            return eddy_apply::ResourceManager::new(client, owner).with_concurrency(concurrency);
        }
        let user = self.username(obj).unwrap_or_default();
        self.managers
            .lock()
            .entry(user)
            .or_insert_with(|| eddy_apply::ResourceManager::new(client, owner).with_concurrency(concurrency))
            .clone()
    }

    /// Whether the identity `obj` acts as exists (Flux's `CanImpersonate`): no service
    /// account, or one that exists.
    pub async fn can_impersonate(&self, obj: &Kustomization) -> bool {
        let Some(sa) = self.service_account(obj) else { return true };
        let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
        let api: Api<ServiceAccount> = Api::namespaced(self.default_client.clone(), ns);
        matches!(api.get_opt(&sa).await, Ok(Some(_)))
    }

    async fn remote_config(&self, ns: &str, name: &str, key: Option<&str>) -> Result<kube::Config, ClientBuildError> {
        let api: Api<Secret> = Api::namespaced(self.default_client.clone(), ns);
        let secret = api.get(name).await.map_err(|e| {
            ClientBuildError(format!(
                "failed to get kubeconfig secret '{ns}/{name}': {}",
                crate::postbuild::api_message(&e)
            ))
        })?;
        let data = secret.data.unwrap_or_default();
        let keys: Vec<&str> = match key {
            Some(k) if !k.is_empty() => vec![k],
            _ => vec!["value", "value.yaml"],
        };
        let Some(bytes) = keys.iter().find_map(|k| data.get(*k)) else {
            return Err(ClientBuildError(format!(
                "KubeConfig secret '{ns}/{name}' does not contain a '{}' key with a kubeconfig",
                keys.join("' or '")
            )));
        };
        let text = String::from_utf8_lossy(&bytes.0);
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)
            .map_err(|e| ClientBuildError(format!("failed to parse kubeconfig in secret '{ns}/{name}': {e}")))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| ClientBuildError(format!("failed to load kubeconfig in secret '{ns}/{name}': {e}")))
    }
}
