//! The webhook server (`internal/server/receiver_server.go`, `receiver_handlers.go`):
//! `/hook/<digest>` finds the Receiver whose `status.webhookPath` is the request URI
//! (404 when none), refuses suspended or not-ready Receivers (503), validates the request
//! for the Receiver's type (a wrong or missing signature, token or ID token: 401; an event
//! not in `spec.events` or a body that does not decode: 400; GCR: the Google ID token,
//! [`super::gcr`]), then sets `reconcile.fluxcd.io/requestedAt` on each
//! selected object — by name, or every object with `matchLabels` for `*`, kept only when
//! the CEL `resourceFilter` and the resource's own `filter` accept it (`res`: the object's
//! metadata, `req`: the JSON body; `receiver_resource_filter.go`) — and answers 200,
//! or 500 when an object could not be annotated. Only POST is served (405 with `Allow: POST`
//! otherwise) and a body over 3 MiB gets 413. Upstream answers 400 to every validation
//! failure and serves every method; the issue's acceptance asks for 401 and 405, which tell a
//! webhook's sender more and change nothing for one that only checks for 2xx. At most [`MAX_IN_FLIGHT`] requests are handled at once;
//! up to [`MAX_WAITING`] more wait (at most [`WAIT_FOR_SLOT`]) for a slot, others get 503.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use eddy_api::notification::ReceiverResource;
use eddy_controller_runtime::object::RECONCILE_REQUEST_ANNOTATION;
use eddy_controller_runtime::{FluxObject, Store, conditions};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

use super::{CONTROLLER_NAME, WEBHOOK_PREFIX, gcr, read_token, validate};
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
    /// Where the keys of Google ID tokens are published (GCR receivers; [`gcr::GOOGLE_CERTS`]).
    pub google_certs_url: String,
    /// Requests being handled at once ([`MAX_IN_FLIGHT`] permits): a request waits up to
    /// [`WAIT_FOR_SLOT`] for one, with at most [`MAX_WAITING`] waiting, else gets 503 — a
    /// flood costs bounded memory and API calls.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Requests waiting for a slot.
    pub waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Reconcile requests to one object share patches.
    pub coalescer: Arc<super::coalesce::Coalescer>,
}

/// How many webhook requests are handled at once (upstream has no bound: Go's server starts a
/// goroutine per request).
pub const MAX_IN_FLIGHT: usize = 64;
/// How many more may wait for a slot (their bodies are not read yet); beyond, 503 at once.
pub const MAX_WAITING: usize = 1024;
/// How long a request waits for a slot before 503.
pub const WAIT_FOR_SLOT: std::time::Duration = std::time::Duration::from_secs(10);

impl ReceiverServer {
    /// The router: `/hook/*` handled, everything else 404.
    pub fn router(self) -> Router {
        Router::new().route("/hook/{*digest}", post(handle)).with_state(Arc::new(self))
    }

    fn find(&self, uri: &str) -> Option<Arc<ReceiverObject>> {
        self.receivers.by_index(WEBHOOK_PATH_INDEX, uri).into_iter().find_map(|k| self.receivers.get(&k))
    }

    /// Sets the annotation, coalesced with concurrent requests for the same object
    /// ([`super::coalesce`]), with a merge patch. The patch has no precondition, so a 409 (the
    /// store's "too many concurrent writes" under a flood on one object) is retried a few
    /// times, as kube-apiserver retries a patch internally.
    async fn annotate(&self, api: &Api<DynamicObject>, name: &str) -> Result<(), String> {
        let key = format!("{}/{name}", api.resource_url());
        self.coalescer.request(&key, || self.patch_requested_at(api, name)).await
    }

    async fn patch_requested_at(&self, api: &Api<DynamicObject>, name: &str) -> Result<(), String> {
        const ATTEMPTS: u32 = 5;
        let pp = PatchParams { field_manager: Some(CONTROLLER_NAME.to_owned()), ..PatchParams::default() };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let patch = json!({"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: request_reconcile_value()}}});
            match api.patch(name, &pp, &Patch::Merge(&patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 && attempt < ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// The GCR receiver: the ID token checked against Google's keys, the push unwrapped.
    async fn validate_gcr(
        &self,
        receiver: &ReceiverObject,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<(Vec<u8>, String), String> {
        let ns = receiver.key().namespace.clone();
        let secret = receiver.object.spec.secret_ref.as_ref().ok_or("secretRef is required for GCR receivers")?;
        let data = super::read_secret(&self.cluster, &ns, &secret.name).await?;
        let field = |k: &str| {
            data.get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| format!("invalid secret data: required field '{k}' for GCR receiver"))
        };
        let (email, audience) = (field("email")?, field("audience")?);
        let jwks = gcr::google_keys(&self.google_certs_url).await?;
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        gcr::check_token(bearer, &jwks, &email, &audience, now).map_err(|e| e.to_string())?;
        gcr::unwrap_payload(body).map_err(|e| e.to_string())
    }

    /// `notifyResource`: annotates the object unless a filter refuses it.
    async fn notify(
        &self,
        api: &Api<DynamicObject>,
        filters: &Filters<'_>,
        kind: &str,
        api_version: &str,
        meta: &kube::core::ObjectMeta,
        receiver: &str,
    ) -> Result<(), String> {
        let name = meta.name.clone().unwrap_or_default();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let res = json!({"apiVersion": api_version, "kind": kind, "metadata": meta});
        if !filters.accept(&res)? {
            tracing::debug!(
                receiver,
                "resource '{kind}/{name}.{namespace}' NOT annotated because CEL expression returned false"
            );
            return Ok(());
        }
        self.annotate(api, &name)
            .await
            .map_err(|e| format!("failed to annotate resource: '{kind}/{name}.{namespace}': {e}"))?;
        tracing::info!(receiver, "resource '{kind}/{name}.{namespace}' annotated");
        Ok(())
    }

    /// `requestReconciliation` for one resource.
    async fn request(
        &self,
        resource: &ReceiverResource,
        default_ns: &str,
        receiver: &str,
        filters: &Filters<'_>,
    ) -> Result<(), String> {
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
                self.notify(&api, filters, &resource.kind, api_version, &item.metadata, receiver).await?;
            }
            return Ok(());
        }
        if filters.exprs.is_empty() {
            self.annotate(&api, &resource.name).await.map_err(|e| {
                format!("unable to annotate {} \"{namespace}/{}\" error: {e}", resource.kind, resource.name)
            })?;
            tracing::info!(receiver, "resource '{}/{}.{namespace}' annotated", resource.kind, resource.name);
            return Ok(());
        }
        // notifySingleResource: the filters need the object's metadata.
        let meta = api
            .get_metadata(&resource.name)
            .await
            .map_err(|e| format!("unable to read {} \"{namespace}/{}\" error: {e}", resource.kind, resource.name))?;
        self.notify(&api, filters, &resource.kind, api_version, &meta.metadata, receiver).await
    }
}

/// The CEL filters of one resource (the Receiver's `resourceFilter`, then the resource's
/// own `filter`: all must accept) and the request body they see as `req`.
pub(crate) struct Filters<'a> {
    exprs: Vec<crate::cel::Expression>,
    req: &'a serde_json::Value,
    /// The verified OIDC claims (generic-oidc receivers).
    claims: Option<&'a serde_json::Value>,
}

impl Filters<'_> {
    /// `allResourceFilters`: whether every filter accepts `res` (the object's
    /// `PartialObjectMetadata`); the first error wins.
    fn accept(&self, res: &serde_json::Value) -> Result<bool, String> {
        for expr in &self.exprs {
            let mut vars = vec![("res", res), ("req", self.req)];
            if let Some(c) = self.claims {
                vars.push(("claims", c));
            }
            if !expr.evaluate_bool(&vars).map_err(|e| e.to_string())? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `newFilterExpression`: `res` and `req`, and `claims` for generic-oidc receivers.
fn compile_filter(expr: &str, with_claims: bool) -> Result<crate::cel::Expression, crate::cel::CelError> {
    let vars: &[&str] = if with_claims { &["res", "req", "claims"] } else { &["res", "req"] };
    crate::cel::Expression::compile(expr, vars, crate::cel::Output::Bool)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|f| !f.is_empty())
}

/// The reconciler's check of `resourceFilter` and `resources[].filter`
/// (`ValidateResourceFilter`), with upstream's messages.
///
/// # Errors
/// The message for the first invalid expression.
pub fn validate_filters(spec: &eddy_api::notification::ReceiverSpec) -> Result<(), String> {
    let with_claims = spec.r#type == "generic-oidc";
    if let Some(f) = non_empty(&spec.resource_filter) {
        compile_filter(f, with_claims).map_err(|e| format!("invalid resourceFilter expression: {e}"))?;
    }
    for (i, r) in spec.resources.iter().enumerate() {
        if let Some(f) = non_empty(&r.filter) {
            compile_filter(f, with_claims).map_err(|e| {
                format!("invalid filter expression for resources[{i}] (kind={:?}, name={:?}): {e}", r.kind, r.name)
            })?;
        }
    }
    Ok(())
}

/// `isJSONContent`: one of the comma-separated media types is `application/json` (parsing
/// stops at the first malformed one).
fn is_json_content(headers: &axum::http::HeaderMap) -> bool {
    let value = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for part in value.split(',') {
        let media = part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let valid = media.split_once('/').is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
        if !valid {
            return false;
        }
        if media == "application/json" {
            return true;
        }
    }
    false
}

/// `newResourceFilterEvaluator` + `newResourceFilters`: the body as `req` (JSON object, or
/// `{}` when the request is not JSON) and each resource's compiled filters.
fn build_filters(
    spec: &eddy_api::notification::ReceiverSpec,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    with_claims: bool,
) -> Result<(serde_json::Value, Vec<Vec<crate::cel::Expression>>), String> {
    let any =
        non_empty(&spec.resource_filter).is_some() || spec.resources.iter().any(|r| non_empty(&r.filter).is_some());
    if !any {
        return Ok((serde_json::Value::Null, spec.resources.iter().map(|_| Vec::new()).collect()));
    }
    let req = if is_json_content(headers) {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => return Err("failed to parse request body as JSON: not a JSON object".into()),
            Err(e) => return Err(format!("failed to parse request body as JSON: {e}")),
        }
    } else {
        json!({})
    };
    let mut all = Vec::with_capacity(spec.resources.len());
    for r in &spec.resources {
        let mut exprs = Vec::new();
        for f in [non_empty(&spec.resource_filter), non_empty(&r.filter)].into_iter().flatten() {
            exprs.push(compile_filter(f, with_claims).map_err(|e| e.to_string())?);
        }
        all.push(exprs);
    }
    Ok((req, all))
}

async fn handle(State(server): State<Arc<ReceiverServer>>, request: Request) -> StatusCode {
    // Wait a little for a slot (webhook senders rarely retry), but never with more than
    // MAX_WAITING requests queued: beyond, 503 at once.
    let permit = if server.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < MAX_WAITING {
        tokio::time::timeout(WAIT_FOR_SLOT, Arc::clone(&server.in_flight).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    server.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let Some(_permit) = permit else {
        tracing::warn!("too many webhook requests in flight: answering 503");
        server.metrics.webhook(StatusCode::SERVICE_UNAVAILABLE.as_u16());
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let code = handle_inner(&server, request).await;
    server.metrics.webhook(code.as_u16());
    code
}

/// The answer to a request that failed validation: 401 when its credentials (signature,
/// token) are wrong or missing, 400 otherwise.
fn refusal(e: &super::validate::ValidateError) -> StatusCode {
    use super::validate::ValidateError;
    match e {
        ValidateError::Signature(_) | ValidateError::Token(_) => StatusCode::UNAUTHORIZED,
        ValidateError::Event(..) | ValidateError::Payload(_) | ValidateError::Unsupported(_) => StatusCode::BAD_REQUEST,
    }
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
    let mut claims = None;
    let validated = if r.spec.r#type == "gcr" {
        server.validate_gcr(&receiver, &parts.headers, &body).await.map_err(|e| (StatusCode::UNAUTHORIZED, e))
    } else if r.spec.r#type == "generic-oidc" {
        let authorization = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        match crate::http::client(&crate::http::Transport::default()) {
            Ok(client) => tokio::time::timeout(
                std::time::Duration::from_secs(30),
                super::oidc::authenticate(&client, &r.spec, authorization, now),
            )
            .await
            .unwrap_or_else(|_| Err("failed to verify OIDC token: the issuer did not answer within 30s".into()))
            .map_err(|e| (StatusCode::UNAUTHORIZED, e))
            .map(|c| {
                let line =
                    format!("handling generic-oidc request for subject {:?}", c["sub"].as_str().unwrap_or_default());
                claims = Some(c);
                (body.to_vec(), line)
            }),
            Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        }
    } else {
        validate(&r.spec.r#type, &token, &events, &parts.headers, &body)
            .map(|what| (body.to_vec(), what))
            .map_err(|e| (refusal(&e), e.to_string()))
    };
    let body = match validated {
        Ok((body, what)) => {
            tracing::info!(receiver = %key, "{what}");
            body
        }
        Err((code, e)) => {
            tracing::error!(receiver = %key, error = %e, "unable to validate payload");
            return code;
        }
    };
    let (req, mut filters) = match build_filters(&r.spec, &parts.headers, &body, claims.is_some()) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(receiver = %key, error = %e, "unable to create resource filters");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    let mut failed = false;
    for (i, resource) in r.spec.resources.iter().enumerate() {
        let exprs = filters.get_mut(i).map(std::mem::take).unwrap_or_default();
        let f = Filters { exprs, req: &req, claims: claims.as_ref() };
        if let Err(e) = server.request(resource, &ns, &key.to_string(), &f).await {
            tracing::error!(receiver = %key, kind = %resource.kind, name = %resource.name, error = %e, "unable to request reconciliation");
            failed = true;
        }
    }
    if failed { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use eddy_api::notification::{Receiver, ReceiverResource};

    use super::*;

    fn receiver(top: Option<&str>, per: &[Option<&str>]) -> Receiver {
        let mut r = Receiver::new("r", "ns");
        r.spec.resource_filter = top.map(str::to_owned);
        r.spec.resources = per
            .iter()
            .enumerate()
            .map(|(i, f)| ReceiverResource {
                kind: "GitRepository".into(),
                name: format!("repo-{i}"),
                filter: f.map(str::to_owned),
                ..ReceiverResource::default()
            })
            .collect();
        r
    }

    fn json_headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", ct.parse().unwrap());
        h
    }

    // receiver_resource_filter.go: the top-level filter and each resource's own filter stack;
    // `req` is the JSON body (or {} when not JSON); a body that is not JSON fails.
    #[test]
    fn filters_stack_and_see_the_request() {
        let r = receiver(Some("req.ref == 'refs/heads/main'"), &[None, Some("res.metadata.labels.team == 'a'")]);
        let body = br#"{"ref":"refs/heads/main"}"#;
        let (req, filters) =
            build_filters(&r.spec, &json_headers("application/json; charset=utf-8"), body, false).unwrap();
        assert_eq!(filters.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        let team = |t: &str| json!({"apiVersion": "v1", "kind": "GitRepository", "metadata": {"name": "x", "labels": {"team": t}}});
        let mut it = filters.into_iter();
        let first = Filters { exprs: it.next().unwrap(), req: &req, claims: None };
        let second = Filters { exprs: it.next().unwrap(), req: &req, claims: None };
        assert!(first.accept(&team("b")).unwrap());
        assert!(second.accept(&team("a")).unwrap());
        assert!(!second.accept(&team("b")).unwrap());

        let (req, filters) =
            build_filters(&r.spec, &json_headers("application/json"), br#"{"ref":"refs/heads/dev"}"#, false).unwrap();
        let f = Filters { exprs: filters.into_iter().next().unwrap(), req: &req, claims: None };
        assert!(!f.accept(&team("a")).unwrap());

        // Not JSON: req is {} and a reference to a missing key is an evaluation error.
        let (req, filters) = build_filters(&r.spec, &json_headers("text/plain"), b"ref=main", false).unwrap();
        assert_eq!(req, json!({}));
        let f = Filters { exprs: filters.into_iter().next().unwrap(), req: &req, claims: None };
        let err = f.accept(&team("a")).unwrap_err();
        assert!(err.contains("no such key: ref"), "{err}");

        let err = build_filters(&r.spec, &json_headers("application/json"), b"{nope", false).unwrap_err();
        assert!(err.starts_with("failed to parse request body as JSON"), "{err}");
        // No filter at all: the body is not read.
        let (_, filters) = build_filters(&receiver(None, &[None]).spec, &HeaderMap::new(), b"{nope", false).unwrap();
        assert!(filters[0].is_empty());
    }

    // receiver_controller.go reconcile: invalid expressions, upstream's messages.
    #[test]
    fn invalid_filters_are_named() {
        let err = validate_filters(&receiver(Some("foo == 1"), &[]).spec).unwrap_err();
        assert_eq!(
            err,
            "invalid resourceFilter expression: failed to parse the CEL expression 'foo == 1': undeclared reference to 'foo'"
        );
        let err = validate_filters(&receiver(None, &[None, Some("'x'")]).spec).unwrap_err();
        assert_eq!(
            err,
            "invalid filter expression for resources[1] (kind=\"GitRepository\", name=\"repo-1\"): CEL expression output type mismatch: expected bool, got string"
        );
        validate_filters(&receiver(Some("res.metadata.name == 'x'"), &[Some("has(req.ref)")]).spec).unwrap();
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content(&json_headers("application/json")));
        assert!(is_json_content(&json_headers("text/plain, application/json")));
        assert!(!is_json_content(&json_headers("text/plain")));
        assert!(!is_json_content(&json_headers("garbage, application/json")));
        assert!(!is_json_content(&HeaderMap::new()));
    }
}
