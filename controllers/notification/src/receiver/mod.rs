//! Receivers: the reconciler that gives each Receiver its webhook path
//! (`internal/controller/receiver_controller.go`) and the webhook server that validates
//! requests and asks the selected objects to reconcile (`internal/server/receiver_handlers.go`).

pub mod coalesce;
pub mod gcr;
pub mod jwt;
pub mod oidc;
pub mod server;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use eddy_controller_runtime::client::FluxApi;
use eddy_controller_runtime::conditions;
use eddy_controller_runtime::recorder::{EventRecorder, EventType, object_ref};
use eddy_controller_runtime::result::Decision;
use eddy_controller_runtime::{FluxObject, Reconciler, finalizer};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::json;
use sha2::{Digest as _, Sha256};

pub use self::server::{ReceiverServer, request_reconcile_value};
pub use self::validate::{ValidateError, validate};
use crate::event::hex;
use crate::objects::ReceiverObject;

/// The field manager and reporting controller (upstream's controller name).
pub const CONTROLLER_NAME: &str = "notification-controller";

/// The prefix of every webhook path (`ReceiverWebhookPath`).
pub const WEBHOOK_PREFIX: &str = "/hook/";

/// `Receiver.GetWebhookPath`: `/hook/` + hex sha256 of token, name and namespace.
#[must_use]
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    format!("{WEBHOOK_PREFIX}{}", hex(&Sha256::digest(format!("{token}{name}{namespace}").as_bytes())))
}

/// Reads the `token` of a Receiver's Secret (`ReceiverReconciler.token`).
///
/// # Errors
/// The message upstream gives for a missing Secret or key; never the token.
pub async fn read_token(cluster: &kube::Client, namespace: &str, name: &str) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(cluster.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(s)) => s
            .data
            .as_ref()
            .and_then(|d| d.get("token"))
            .map(|t| String::from_utf8_lossy(&t.0).into_owned())
            .ok_or_else(|| format!("invalid '{namespace}/{name}' secret data: required fields 'token'")),
        Ok(None) => {
            Err(format!("unable to read token from secret '{namespace}/{name}' error: secrets \"{name}\" not found"))
        }
        Err(e) => Err(format!("unable to read token from secret '{namespace}/{name}' error: {e}")),
    }
}

/// Reads a Receiver's Secret as text by key (the GCR receiver's `email` and `audience`).
///
/// # Errors
/// The message for a missing or unreadable Secret; never its values.
pub async fn read_secret(
    cluster: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let api: Api<Secret> = Api::namespaced(cluster.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(s)) => Ok(s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect()),
        Ok(None) => Err(format!("unable to read secret '{namespace}/{name}': secrets \"{name}\" not found")),
        Err(e) => Err(format!("unable to read secret '{namespace}/{name}': {e}")),
    }
}

/// The Receiver reconciler.
pub struct ReceiverReconciler {
    /// The Flux API.
    pub flux: kube::Client,
    /// The cluster (Secrets).
    pub cluster: kube::Client,
    /// Kubernetes events.
    pub recorder: Arc<dyn EventRecorder>,
}

impl ReceiverReconciler {
    async fn patch_status(&self, obj: &ReceiverObject) -> Result<(), String> {
        let ns = obj.meta().namespace.clone().unwrap_or_default();
        let api: FluxApi<ReceiverObject> = FluxApi::namespaced(self.flux.clone(), &ns);
        let status = serde_json::to_value(&obj.object.status).unwrap_or_default();
        api.merge_patch_status(
            obj.meta().name.as_deref().unwrap_or_default(),
            &json!({"status": status}),
            CONTROLLER_NAME,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn patch_finalizers(&self, obj: &ReceiverObject) -> Result<(), String> {
        let ns = obj.meta().namespace.clone().unwrap_or_default();
        let api: FluxApi<ReceiverObject> = FluxApi::namespaced(self.flux.clone(), &ns);
        let patch = json!({"metadata": {"finalizers": obj.meta().finalizers.clone().unwrap_or_default(), "resourceVersion": obj.meta().resource_version}});
        match api.merge_patch(obj.meta().name.as_deref().unwrap_or_default(), &patch, CONTROLLER_NAME).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Marks the Receiver failed for good (`markTerminal`).
    fn mark_terminal(&self, obj: &mut ReceiverObject, reason: &str, message: &str) {
        let msg = format!("Reconciliation failed terminally due to configuration error: {message}");
        conditions::mark_false(obj, "Ready", reason, msg.clone());
        conditions::mark_stalled(obj, reason, msg.clone());
        let generation = obj.generation();
        obj.set_observed_generation(generation);
        tracing::error!(receiver = %obj.key(), "{msg}");
        self.recorder.record(&object_ref(&*obj), EventType::Warning, reason, "", &msg, Default::default());
    }

    async fn run(&self, obj: &mut ReceiverObject) -> Result<Option<Duration>, String> {
        let spec = &obj.object.spec;
        if let Err(message) = server::validate_filters(spec) {
            self.mark_terminal(obj, "InvalidCELExpression", &message);
            return Ok(None);
        }
        if let Err((reason, message)) = oidc::validate_spec(spec) {
            self.mark_terminal(obj, reason, &message);
            return Ok(None);
        }
        let secret = spec.secret_ref.as_ref().map(|r| r.name.clone());
        conditions::mark_reconciling(obj, "Progressing", "Reconciliation in progress");
        let ns = obj.meta().namespace.clone().unwrap_or_default();
        let name = obj.meta().name.clone().unwrap_or_default();
        // generic-oidc receivers have no Secret: the path comes from the name and namespace.
        let token = match secret {
            None => Ok(String::new()),
            Some(secret) => read_token(&self.cluster, &ns, &secret).await,
        };
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                conditions::mark_false(obj, "Ready", "TokenNotFound", e.clone());
                obj.object.status.get_or_insert_with(Default::default).webhook_path = None;
                return Err(e);
            }
        };
        let path = webhook_path(&token, &name, &ns);
        let msg = format!("Receiver initialized for path: {path}");
        conditions::mark_true(obj, "Ready", "Succeeded", msg.clone());
        let status = obj.object.status.get_or_insert_with(Default::default);
        if status.webhook_path.as_deref() != Some(path.as_str()) {
            status.webhook_path = Some(path);
            tracing::info!(receiver = %obj.key(), "{msg}");
        }
        Ok(obj.interval())
    }
}

impl Reconciler<ReceiverObject> for ReceiverReconciler {
    async fn reconcile(&self, cached: Arc<ReceiverObject>) -> Decision {
        let mut obj = (*cached).clone();
        if obj.is_deleting() {
            if finalizer::remove(&mut obj)
                && let Err(e) = self.patch_finalizers(&obj).await
            {
                return Decision::failed(e);
            }
            return Decision::done();
        }
        if finalizer::add(&mut obj) {
            return match self.patch_finalizers(&obj).await {
                Ok(()) => Decision::after(Duration::ZERO),
                Err(e) => Decision::failed(e),
            };
        }
        if obj.suspended() {
            tracing::info!(receiver = %obj.key(), "Reconciliation is suspended for this object");
            return Decision::done();
        }
        let result = self.run(&mut obj).await;
        // The patch (`ReceiverReconciler.patch`).
        if let Some(v) = obj.reconcile_request().map(str::to_owned) {
            obj.set_last_handled_reconcile_at(v);
        }
        if conditions::is_true(&obj, "Ready") {
            conditions::delete(&mut obj, "Reconciling");
            let generation = obj.generation();
            obj.set_observed_generation(generation);
        }
        if conditions::is_false(&obj, "Ready")
            && let Some(mut rc) = conditions::get(&obj, "Reconciling").cloned()
        {
            rc.reason = "ProgressingWithRetry".into();
            conditions::set(&mut obj, rc);
        }
        if let Err(e) = self.patch_status(&obj).await {
            return Decision::failed(e);
        }
        match result {
            Ok(requeue) => {
                if conditions::is_ready(&obj) {
                    let interval = requeue.unwrap_or(Duration::from_secs(600));
                    let msg = format!(
                        "Reconciliation finished, next run in {}",
                        eddy_controller_runtime::duration::format(interval)
                    );
                    self.recorder.record(
                        &object_ref(&obj),
                        EventType::Normal,
                        "Succeeded",
                        "",
                        &msg,
                        Default::default(),
                    );
                    Decision::after(interval)
                } else {
                    Decision::done()
                }
            }
            Err(e) => {
                self.recorder.record(&object_ref(&obj), EventType::Warning, "Failed", "", &e, Default::default());
                Decision::failed(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // api/v1/receiver_types.go GetWebhookPath: sha256(token+name+namespace).
    #[test]
    fn webhook_path_is_fluxs() {
        let p = webhook_path("token", "receiver", "flux-system");
        let expected = hex(&Sha256::digest(b"tokenreceiverflux-system"));
        assert_eq!(p, format!("/hook/{expected}"));
        assert_eq!(p.len(), "/hook/".len() + 64);
    }
}
