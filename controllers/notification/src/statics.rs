//! The reconcilers of the static kinds (`internal/controller/alert_controller.go`,
//! `provider_controller.go`). Alerts and Providers `v1beta3` have no status: the Alert
//! reconciler only removes the finalizer older notification-controllers put on Alerts
//! (recording a `Migration` event); the Provider reconciler keeps the finalizer on Providers
//! and removes it on deletion (upstream cleans its token cache then).

use std::sync::Arc;

use eddy_controller_runtime::client::FluxApi;
use eddy_controller_runtime::recorder::{EventRecorder, EventType, object_ref};
use eddy_controller_runtime::result::Decision;
use eddy_controller_runtime::{FluxObject, Reconciler, finalizer};
use serde_json::json;

use crate::objects::{AlertObject, ProviderObject};
use crate::receiver::CONTROLLER_NAME;

async fn patch_finalizers<T: FluxObject>(flux: &kube::Client, obj: &T) -> Result<(), String> {
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    let api: FluxApi<T> = FluxApi::namespaced(flux.clone(), &ns);
    let patch = json!({"metadata": {
        "finalizers": obj.meta().finalizers.clone().unwrap_or_default(),
        "resourceVersion": obj.meta().resource_version,
    }});
    match api.merge_patch(obj.meta().name.as_deref().unwrap_or_default(), &patch, CONTROLLER_NAME).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Migrates Alerts to static objects.
pub struct AlertReconciler {
    /// The Flux API.
    pub flux: kube::Client,
    /// Kubernetes events.
    pub recorder: Arc<dyn EventRecorder>,
}

impl Reconciler<AlertObject> for AlertReconciler {
    async fn reconcile(&self, cached: Arc<AlertObject>) -> Decision {
        if !cached.has_finalizer(eddy_controller_runtime::object::FINALIZER) {
            return Decision::done();
        }
        if cached.suspended() && !cached.is_deleting() {
            tracing::info!(alert = %cached.key(), "reconciliation is suspended for this object");
            return Decision::done();
        }
        let mut obj = (*cached).clone();
        finalizer::remove(&mut obj);
        if let Err(e) = patch_finalizers(&self.flux, &obj).await {
            return Decision::failed(e);
        }
        let msg = "removed finalizer from Alert to migrate to static Alert";
        tracing::info!(alert = %obj.key(), "{msg}");
        self.recorder.record(&object_ref(&obj), EventType::Normal, "Migration", "", msg, Default::default());
        Decision::done()
    }
}

/// Keeps the finalizer on Providers.
pub struct ProviderReconciler {
    /// The Flux API.
    pub flux: kube::Client,
}

impl Reconciler<ProviderObject> for ProviderReconciler {
    async fn reconcile(&self, cached: Arc<ProviderObject>) -> Decision {
        let mut obj = (*cached).clone();
        let changed = if obj.is_deleting() { finalizer::remove(&mut obj) } else { finalizer::add(&mut obj) };
        if changed && let Err(e) = patch_finalizers(&self.flux, &obj).await {
            return Decision::failed(e);
        }
        Decision::done()
    }
}
