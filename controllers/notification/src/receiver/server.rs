//! The webhook server (`internal/server/receiver_server.go`, `receiver_handlers.go`):
//! `/hook/<digest>` finds the Receiver whose `status.webhookPath` is the request URI
//! (404 when none), refuses suspended or not-ready Receivers (503), validates the request
//! for the Receiver's type (400), then sets `reconcile.fluxcd.io/requestedAt` on each
//! selected object — by name, or every object with `matchLabels` for `*` — and answers 200,
//! or 500 when an object could not be annotated. Like upstream it serves every method and
//! answers a body over 3 MiB with 413.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::any;
use eddy_api::notification::ReceiverResource;
use eddy_controller_runtime::object::RECONCILE_REQUEST_ANNOTATION;
use eddy_controller_runtime::{FluxObject, Store, conditions};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

use super::{CONTROLLER_NAME, WEBHOOK_PREFIX, read_token, validate};
use crate::metrics::Metrics;
use crate::objects::ReceiverObject;
use crate::server::MAX_BODY;

/// The informer index of Receivers by `status.webhookPath`.
pub const WEBHOOK_PATH_INDEX: &str = ".metadata.webhookPath";

/// Default API versions of the kinds a Receiver may name without one
/// (`defaultFluxAPIVersions`).
fn default_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Bucket" | "HelmChart" | "HelmRepository" | "GitRepository" | "OCIRepository" => "source.toolkit.fluxcd.io/v1",
        "ImageRepository" => "image.toolkit.fluxcd.io/v1",
        "ArtifactGenerator" => "source.extensions.fluxcd.io/v1beta1",
        _ => return None,
    })
}

/// The annotation value, as Go's `metav1.Now().String()` renders (without the monotonic
/// clock reading): `2006-01-02 15:04:05.999999999 +0000 UTC`.
#[must_use]
pub fn request_reconcile_value() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    format!("{} +0000 UTC", now.strftime("%Y-%m-%d %H:%M:%S%.f"))
}

/// The webhook server's state.
#[derive(Clone)]
pub struct ReceiverServer {
    /// Receivers, indexed by [`WEBHOOK_PATH_INDEX`].
    pub receivers: Store<ReceiverObject>,
    /// The Flux API (Eddy's kinds).
    pub flux: kube::Client,
    /// The cluster (Secrets; kinds Eddy does not serve).
    pub cluster: kube::Client,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// Request counters.
    pub metrics: Metrics,
}

impl ReceiverServer {
    /// The router: `/hook/*` handled, everything else 404.
    pub fn router(self) -> Router {
        Router::new().route("/hook/{*digest}", any(handle)).with_state(Arc::new(self))
    }

    fn find(&self, uri: &str) -> Option<Arc<ReceiverObject>> {
        self.receivers.by_index(WEBHOOK_PATH_INDEX, uri).into_iter().find_map(|k| self.receivers.get(&k))
    }

    async fn annotate(&self, api: &Api<DynamicObject>, name: &str) -> Result<(), String> {
        let patch = json!({"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: request_reconcile_value()}}});
        let pp = PatchParams { field_manager: Some(CONTROLLER_NAME.to_owned()), ..PatchParams::default() };
        api.patch(name, &pp, &Patch::Merge(&patch)).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// `requestReconciliation` for one resource.
    async fn request(&self, resource: &ReceiverResource, default_ns: &str, receiver: &str) -> Result<(), String> {
        let namespace = match resource.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) if self.no_cross_namespace_refs && ns != default_ns => {
                return Err("cross-namespace references are not allowed".into());
            }
            Some(ns) => ns,
            None => default_ns,
        };
        let api_version = match resource.api_version.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => default_api_version(&resource.kind)
                .ok_or_else(|| format!("apiVersion must be specified for kind {:?}", resource.kind))?,
        };
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let info = eddy_api::find(group, &resource.kind);
        let plural = info.map(|i| i.plural.to_owned()).unwrap_or_else(|| format!("{}s", resource.kind.to_lowercase()));
        let client = if info.is_some() { &self.flux } else { &self.cluster };
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &resource.kind), &plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
        if resource.name == "*" {
            let labels =
                resource.match_labels.as_ref().ok_or("matchLabels field not set when using wildcard '*' as name")?;
            let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let list = api
                .list_metadata(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| format!("failed listing resources in namespace {namespace:?} by matching labels: {e}"))?;
            if list.items.is_empty() {
                tracing::error!(receiver, kind = %resource.kind, namespace, "no resources found with matching labels");
                return Ok(());
            }
            for item in list.items {
                let name = item.metadata.name.unwrap_or_default();
                self.annotate(&api, &name)
                    .await
                    .map_err(|e| format!("failed to annotate resource: '{}/{name}.{namespace}': {e}", resource.kind))?;
                tracing::info!(receiver, "resource '{}/{name}.{namespace}' annotated", resource.kind);
            }
            return Ok(());
        }
        self.annotate(&api, &resource.name).await.map_err(|e| {
            format!("unable to annotate {} \"{namespace}/{}\" error: {e}", resource.kind, resource.name)
        })?;
        tracing::info!(receiver, "resource '{}/{}.{namespace}' annotated", resource.kind, resource.name);
        Ok(())
    }
}

async fn handle(State(server): State<Arc<ReceiverServer>>, request: Request) -> StatusCode {
    let code = handle_inner(&server, request).await;
    server.metrics.webhook(code.as_u16());
    code
}

async fn handle_inner(server: &ReceiverServer, request: Request) -> StatusCode {
    let uri = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let digest = uri.strip_prefix(WEBHOOK_PREFIX).unwrap_or_default().to_owned();
    tracing::info!("handling request: {digest}");
    let (parts, body): (_, Body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        tracing::error!("reading the request body failed: request body exceeds the maximum size of {MAX_BODY} bytes");
        return StatusCode::PAYLOAD_TOO_LARGE;
    };
    let Some(receiver) = server.find(&uri) else {
        return StatusCode::NOT_FOUND;
    };
    let key = receiver.key();
    let r = &receiver.object;
    if receiver.suspended() || !conditions::is_ready(receiver.as_ref()) {
        let why = if receiver.suspended() { "receiver is suspended" } else { "receiver is not ready" };
        tracing::error!(receiver = %key, "unable to process request: {why}");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let ns = key.namespace.clone();
    let token = match &r.spec.secret_ref {
        Some(s) => match read_token(&server.cluster, &ns, &s.name).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(receiver = %key, error = %e, "unable to validate payload");
                return StatusCode::BAD_REQUEST;
            }
        },
        None => String::new(),
    };
    let events = r.spec.events.clone().unwrap_or_default();
    match validate(&r.spec.r#type, &token, &events, &parts.headers, &body) {
        Ok(what) => tracing::info!(receiver = %key, "{what}"),
        Err(e) => {
            tracing::error!(receiver = %key, error = %e, "unable to validate payload");
            return StatusCode::BAD_REQUEST;
        }
    }
    let mut failed = false;
    for resource in &r.spec.resources {
        if let Err(e) = server.request(resource, &ns, &key.to_string()).await {
            tracing::error!(receiver = %key, kind = %resource.kind, name = %resource.name, error = %e, "unable to request reconciliation");
            failed = true;
        }
    }
    if failed { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}
