//! The HTTP surface: routing of Kubernetes API paths, content negotiation, request bodies
//! and response rendering. Everything about objects is delegated to [`Registry`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use eddy_storage::KvEngine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::admission::NamespaceLifecycle;
use crate::discovery;
use crate::negotiate::{
    DiscoveryFormat, Encoding, ObjectFormat, decode_yaml, discovery_format, encode_yaml, object_negotiation,
    parse_accept, prefers_yaml,
};
use crate::query::{Continue, Query};
use crate::registry::{
    Change, DeleteOptions, ListPage, Registry, Resource, WriteOptions, Written, WrittenObject, parse_resource_version,
};
use crate::selector::Selectors;
use crate::status::{ApiError, Target};
use crate::table::{partial_metadata, partial_metadata_list, table};
use crate::watch::{self, WatchSpec, WatchStream, error_line};

mod list;
#[allow(clippy::wildcard_imports)]
use list::*;

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Default of [`HttpOptions::max_watches`]: far above what Flux's controllers open (a few per
/// kind), low enough that a client looping on watches cannot exhaust memory or tasks.
pub const DEFAULT_MAX_WATCHES: usize = 10_000;

/// Marks a request of an in-process caller ([`crate::Running::local`], Eddy's own
/// controllers): exempt from the cap on open watches, as kube's loopback client is from its
/// limits. Only the server inserts it; no client can.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loopback;

fn is_loopback(req: &Request) -> bool {
    req.extensions().get::<Loopback>().is_some()
}

/// Tunables of the HTTP layer.
#[derive(Clone)]
pub struct HttpOptions {
    /// Watch length when the client sets no `timeoutSeconds`.
    pub default_watch_timeout: Duration,
    /// Interval between `BOOKMARK` events.
    pub bookmark_interval: Duration,
    /// Namespace admission for creates (aggregated mode: the cluster's namespaces). `None`
    /// admits every namespace (standalone mode has no namespaces of its own).
    pub namespace_lifecycle: Option<Arc<dyn NamespaceLifecycle>>,
    /// More Prometheus text appended to `/metrics` (the in-process controllers' metrics).
    pub extra_metrics: Option<ExtraMetrics>,
    /// Watches open at a time (each holds a store watcher and a task); one more is answered
    /// 429 `TooManyRequests`. 0 means no limit. In-process callers of `Running::local` are
    /// exempt.
    pub max_watches: usize,
}

/// Renders metrics text (Prometheus exposition format 0.0.4) to append to `/metrics`.
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("default_watch_timeout", &self.default_watch_timeout)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("namespace_lifecycle", &self.namespace_lifecycle)
            .field("extra_metrics", &self.extra_metrics.is_some())
            .field("max_watches", &self.max_watches)
            .finish()
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            default_watch_timeout: Duration::from_secs(1800),
            bookmark_interval: Duration::from_secs(60),
            namespace_lifecycle: None,
            extra_metrics: None,
            max_watches: DEFAULT_MAX_WATCHES,
        }
    }
}

/// A precomputed discovery answer with its ETag.
struct Cached {
    body: Bytes,
    etag: String,
}

impl Cached {
    fn new(v: &Value) -> Self {
        let body = Bytes::from(v.to_string());
        let etag = format!("\"{:x}\"", Sha256::digest(&body));
        Self { body, etag }
    }
}

/// Everything the handlers share.
pub struct Shared<E: KvEngine> {
    registry: Registry<E>,
    options: HttpOptions,
    apis_v2: Cached,
    apis_v2beta1: Cached,
    api_v2: Cached,
    api_v2beta1: Cached,
    openapi: crate::openapi::Documents,
    metrics: crate::metrics::Metrics,
    /// Open watches (`None`: no limit).
    watches: Option<Arc<tokio::sync::Semaphore>>,
}

/// The API as a tower service (an axum [`axum::Router`]): what `serve` puts behind TLS, and
/// what in-process clients call directly.
///
/// A panic while answering a request is answered 500 (see [`crate::panic`]).
pub fn router<E: KvEngine>(registry: Registry<E>, options: HttpOptions) -> axum::Router {
    let watches = (options.max_watches > 0)
        .then(|| Arc::new(tokio::sync::Semaphore::new(options.max_watches.min(tokio::sync::Semaphore::MAX_PERMITS))));
    let registry = registry.with_namespace_lifecycle(options.namespace_lifecycle.clone());
    let shared = Arc::new(Shared {
        registry,
        options,
        apis_v2: Cached::new(&discovery::aggregated("v2")),
        apis_v2beta1: Cached::new(&discovery::aggregated("v2beta1")),
        api_v2: Cached::new(&discovery::aggregated_legacy("v2")),
        api_v2beta1: Cached::new(&discovery::aggregated_legacy("v2beta1")),
        openapi: crate::openapi::Documents::build(),
        metrics: crate::metrics::Metrics::default(),
        watches,
    });
    axum::Router::new().fallback(handle::<E>).with_state(shared).layer(crate::panic::CatchPanicLayer)
}

async fn handle<E: KvEngine>(State(shared): State<Arc<Shared<E>>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let watch = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let started = std::time::Instant::now();
    // Errors are negotiated like objects: YAML when the client asked for YAML.
    let yaml_errors = prefers_yaml(&accept(req.headers()));
    let result = dispatch(&shared, req).await;
    let response = result.unwrap_or_else(|e| {
        if yaml_errors {
            with_retry_after(object_response(e.status_code(), &e.to_status(), Encoding::Yaml), &e)
        } else {
            error_response(&e)
        }
    });
    let code = response.status().as_u16();
    if path != "/metrics" {
        let (verb, group, resource) = crate::metrics::verb(method.as_str(), &path, watch);
        shared.metrics.observe(verb, &group, &resource, code, started.elapsed());
    }
    tracing::debug!(%method, %path, status = code, "request");
    response
}

/// Renders an error as a `Status` answer.
#[must_use]
pub fn error_response(e: &ApiError) -> Response {
    with_retry_after(json_response(e.status_code(), &e.to_status()), e)
}

fn with_retry_after(mut r: Response, e: &ApiError) -> Response {
    if let Some(s) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An object (or list, or Status) in the negotiated encoding.
fn object_response(status: StatusCode, body: &Value, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Json => json_response(status, body),
        Encoding::Yaml => bytes_response(status, Bytes::from(encode_yaml(body)), encoding.content_type()),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    bytes_response(status, Bytes::from(body.to_string()), "application/json")
}

fn bytes_response(status: StatusCode, body: Bytes, content_type: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

fn accept(headers: &HeaderMap) -> Vec<crate::negotiate::MediaRange> {
    parse_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

async fn dispatch<E: KvEngine>(shared: &Shared<E>, req: Request) -> Result<Response, ApiError> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = Query::parse(req.uri().query())?;
    match segments.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => {
            only_get(req.method(), &path)?;
            Ok(bytes_response(StatusCode::OK, Bytes::from_static(b"ok"), "text/plain; charset=utf-8"))
        }
        ["metrics"] => {
            only_get(req.method(), &path)?;
            let stats = shared.registry.store().stats();
            #[allow(clippy::cast_precision_loss)]
            let extra = [
                ("eddy_store_revision", "Newest committed revision.", stats.revision as f64),
                (
                    "eddy_store_compacted_revision",
                    "History at or below this revision is compacted.",
                    stats.compacted as f64,
                ),
                ("eddy_store_watchers", "Open watchers.", stats.watchers as f64),
            ];
            let mut text = shared.metrics.render(&extra);
            text.push_str(&crate::limits::render_metrics());
            if let Some(more) = &shared.options.extra_metrics {
                text.push_str(&more());
            }
            Ok(bytes_response(StatusCode::OK, Bytes::from(text), "text/plain; version=0.0.4"))
        }
        ["version"] => {
            only_get(req.method(), &path)?;
            Ok(json_response(StatusCode::OK, &version_info()))
        }
        ["api"] => {
            only_get(req.method(), &path)?;
            discovery_root(shared, req.headers(), &discovery::api_versions(), true)
        }
        ["apis"] => {
            only_get(req.method(), &path)?;
            discovery_root(shared, req.headers(), &discovery::api_group_list(), false)
        }
        ["openapi", "v3"] => {
            only_get(req.method(), &path)?;
            Ok(published(req.headers(), &shared.openapi.v3_index))
        }
        ["openapi", "v3", rest @ ..] => {
            only_get(req.method(), &path)?;
            let doc = shared.openapi.v3_for(&rest.join("/")).ok_or_else(|| ApiError::path_not_found(&path))?;
            Ok(published(req.headers(), doc))
        }
        ["openapi", "v2"] => {
            only_get(req.method(), &path)?;
            if discovery_format(&accept(req.headers())).is_none() {
                return Err(ApiError::not_acceptable("the OpenAPI v2 document is served as application/json only"));
            }
            Ok(published(req.headers(), &shared.openapi.v2))
        }
        ["apis", group] => {
            only_get(req.method(), &path)?;
            let doc = discovery::api_group(group).ok_or_else(|| ApiError::path_not_found(&path))?;
            plain_json(req.headers(), &doc)
        }
        ["apis", group, version] => {
            only_get(req.method(), &path)?;
            let doc = discovery::api_resource_list(group, version).ok_or_else(|| ApiError::path_not_found(&path))?;
            plain_json(req.headers(), &doc)
        }
        ["apis", group, version, plural] => {
            let res =
                shared.registry.resource(group, version, plural).ok_or_else(|| ApiError::path_not_found(&path))?;
            match *req.method() {
                Method::GET => list_or_watch(shared, &res, None, &query, req.headers(), is_loopback(&req)).await,
                _ => Err(ApiError::method_not_allowed(format!(
                    "{} is not supported on all namespaces of {}",
                    req.method(),
                    res.info().plural
                ))),
            }
        }
        ["apis", group, version, "namespaces", ns, plural, rest @ ..] => {
            let res =
                shared.registry.resource(group, version, plural).ok_or_else(|| ApiError::path_not_found(&path))?;
            let (ns, rest) = ((*ns).to_owned(), rest.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            match rest.as_slice() {
                [] => collection(shared, &res, &ns, &query, req).await,
                [name] => object(shared, &res, &ns, name, false, &query, req).await,
                [name, sub] if sub == "status" && res.strategy.has_status_subresource() => {
                    object(shared, &res, &ns, name, true, &query, req).await
                }
                _ => Err(ApiError::path_not_found(&path)),
            }
        }
        _ => Err(ApiError::path_not_found(&path)),
    }
}

/// A published document, answered 304 when the client has it already.
fn published(headers: &HeaderMap, doc: &crate::openapi::Published) -> Response {
    let etag = format!("\"{}\"", doc.hash);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes_response(StatusCode::OK, doc.body.clone(), "application/json")
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn only_get(method: &Method, path: &str) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(format!("{method} is not supported on {path}")))
    }
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-eddy.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// A document only served as plain JSON: 406 for anything else.
fn plain_json(headers: &HeaderMap, doc: &Value) -> Result<Response, ApiError> {
    match discovery_format(&accept(headers)) {
        Some(DiscoveryFormat::Legacy) => Ok(json_response(StatusCode::OK, doc)),
        _ => Err(ApiError::not_acceptable("only application/json is served here")),
    }
}

fn discovery_root<E: KvEngine>(
    shared: &Shared<E>,
    headers: &HeaderMap,
    legacy: &Value,
    core: bool,
) -> Result<Response, ApiError> {
    let format = discovery_format(&accept(headers)).ok_or_else(|| {
        ApiError::not_acceptable(
            "only application/json and the aggregated discovery types apidiscovery.k8s.io v2 and v2beta1 are served",
        )
    })?;
    let cached = match (format, core) {
        (DiscoveryFormat::Legacy, _) => {
            let mut r = json_response(StatusCode::OK, legacy);
            r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
            return Ok(r);
        }
        (DiscoveryFormat::AggregatedV2, false) => &shared.apis_v2,
        (DiscoveryFormat::AggregatedV2Beta1, false) => &shared.apis_v2beta1,
        (DiscoveryFormat::AggregatedV2, true) => &shared.api_v2,
        (DiscoveryFormat::AggregatedV2Beta1, true) => &shared.api_v2beta1,
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == cached.etag));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes_response(StatusCode::OK, cached.body.clone(), format.content_type())
    };
    if let Ok(v) = HeaderValue::from_str(&cached.etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(r)
}

async fn read_bytes(req: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))
}

/// Reads a JSON body (`null` when empty).
async fn read_body(req: Request) -> Result<Value, ApiError> {
    let bytes = read_bytes(req).await?;
    decode_body(&bytes, BodyType::Json)
}

/// The media types of object bodies (`POST`, `PUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyType {
    Json,
    Yaml,
}

fn decode_body(bytes: &[u8], kind: BodyType) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    match kind {
        BodyType::Json => serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}"))),
        BodyType::Yaml => {
            let value = decode_yaml(bytes)
                .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?;
            within_nesting(value)
        }
    }
}

/// Refuses a YAML document nested deeper than JSON can be read back (the YAML decoder allows
/// one level more than the JSON one): stored, it would become an object nobody can read.
fn within_nesting(value: Value) -> Result<Value, ApiError> {
    let depth = crate::patch::nesting(&value);
    if depth > crate::patch::MAX_NESTING {
        return Err(ApiError::bad_request(format!(
            "the request body is nested {depth} levels deep, more than the limit of {}",
            crate::patch::MAX_NESTING
        )));
    }
    Ok(value)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The body type of a create or update: JSON or YAML, as kube-apiserver reads custom resources.
fn body_type(headers: &HeaderMap) -> Result<BodyType, ApiError> {
    match content_type(headers).as_str() {
        "" | "application/json" | "*/*" => Ok(BodyType::Json),
        "application/yaml" => Ok(BodyType::Yaml),
        _ => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        )),
    }
}

fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let field_manager = match query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) if m.chars().count() > 128 => {
            return Err(ApiError::bad_request("fieldManager must be at most 128 characters long"));
        }
        Some(m) => m.to_owned(),
        None => manager_from_user_agent(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())),
    };
    Ok(WriteOptions { dry_run: query.dry_run()?, field_validation: query.field_validation()?, field_manager })
}

/// The manager kube-apiserver records for a non-apply write without `fieldManager`: the user
/// agent's part before the first `/`, printable characters only, at most 128 bytes (the field
/// manager turns an empty one into `unknown`).
#[must_use]
pub fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    let prefix = user_agent.unwrap_or_default().split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// kube's `ValidatePatchOptions`: `fieldManager` is required for apply, `force` only allowed
/// there (422 about `PatchOptions`, as kube-apiserver answers).
fn validate_patch_options(query: &Query, apply: bool) -> Result<(), ApiError> {
    use eddy_api::validation::{ErrorType, FieldError};
    let manager = query.get("fieldManager").unwrap_or_default();
    let mut errors = Vec::new();
    if !apply && query.get("force").is_some() {
        errors.push(FieldError {
            error_type: ErrorType::Forbidden,
            field: "force".into(),
            bad_value: None,
            detail: "may not be specified for non-apply patch".into(),
        });
    }
    if apply && manager.is_empty() {
        errors.push(FieldError::required("fieldManager", "is required for apply patch"));
    }
    if manager.len() > 128 {
        errors.push(FieldError::too_long("fieldManager", json!(manager), 128));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let target = Target { group: "meta.k8s.io".into(), resource: "PatchOptions".into(), name: String::new() };
    Err(ApiError::invalid(target, "PatchOptions", &errors))
}

/// Renders one object in the negotiated shape.
fn render_object(res: &Resource, obj: &Value, format: ObjectFormat, query: &Query) -> Result<Value, ApiError> {
    Ok(match format {
        ObjectFormat::Object => obj.clone(),
        ObjectFormat::PartialMetadata(v) => partial_metadata(obj, v),
        ObjectFormat::Table(v) => {
            let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
            table(res, std::slice::from_ref(obj), json!({"resourceVersion": rv}), v, query.include_object()?)
        }
    })
}

/// The answer to a write: the codec's JSON as it is for a plain JSON object, else rendered.
fn written_response(
    res: &Resource,
    code: StatusCode,
    written: &Written,
    format: ObjectFormat,
    encoding: Encoding,
    query: &Query,
) -> Result<Response, ApiError> {
    if let (WrittenObject::Json(json), ObjectFormat::Object, Encoding::Json) = (&written.object, format, encoding) {
        return Ok(bytes_response(code, json.clone(), "application/json"));
    }
    let object = written.object.value()?;
    let rendered = render_object(res, &object, format, query)?;
    Ok(object_response(code, &rendered, encoding))
}

fn negotiate_objects(headers: &HeaderMap) -> Result<(ObjectFormat, Encoding), ApiError> {
    object_negotiation(&accept(headers)).ok_or_else(|| {
        ApiError::not_acceptable(
            "only application/json (also as Table or PartialObjectMetadata, meta.k8s.io v1 and v1beta1) \
             and application/yaml are served",
        )
    })
}

async fn collection<E: KvEngine>(
    shared: &Shared<E>,
    res: &Resource,
    namespace: &str,
    query: &Query,
    req: Request,
) -> Result<Response, ApiError> {
    match *req.method() {
        Method::GET => list_or_watch(shared, res, Some(namespace), query, req.headers(), is_loopback(&req)).await,
        Method::POST => {
            let body_type = body_type(req.headers())?;
            let (format, encoding) = negotiate_objects(req.headers())?;
            let opts = write_options(query, req.headers())?;
            let body = decode_body(&read_bytes(req).await?, body_type)?;
            let written = shared.registry.create(res, namespace, body, &opts).await?;
            Ok(with_warnings(
                written_response(res, StatusCode::CREATED, &written, format, encoding, query)?,
                &written.warnings,
            ))
        }
        Method::DELETE => {
            let selectors = Selectors { labels: query.label_selector()?, fields: query.field_selector()? };
            let opts = delete_options(query, &Value::Null)?;
            let page =
                shared.registry.list(res, Some(namespace), None, None, None, move |o| selectors.matches(o)).await?;
            let mut deleted = Vec::new();
            for obj in &page.items {
                let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                match shared.registry.delete(res, namespace, name, &opts).await {
                    Ok(o) => deleted.push(o),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            let list = list_body(
                res,
                &ListPage { items: deleted, revision: shared.registry.store().current_revision(), next: None },
            );
            Ok(json_response(StatusCode::OK, &list))
        }
        _ => Err(ApiError::method_not_allowed(format!("{} is not supported on a collection", req.method()))),
    }
}

fn delete_options(query: &Query, body: &Value) -> Result<DeleteOptions, ApiError> {
    if !body.is_null() && !body.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    let dry_run_body = body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    let policy = body.get("propagationPolicy").and_then(Value::as_str).or_else(|| query.get("propagationPolicy"));
    Ok(DeleteOptions {
        dry_run: query.dry_run()? || dry_run_body,
        uid: body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_owned),
        resource_version: body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_owned),
        propagation_policy: policy.map(str::to_owned),
    })
}

#[allow(clippy::too_many_arguments)]
async fn object<E: KvEngine>(
    shared: &Shared<E>,
    res: &Resource,
    namespace: &str,
    name: &str,
    status: bool,
    query: &Query,
    req: Request,
) -> Result<Response, ApiError> {
    let (format, encoding) = negotiate_objects(req.headers())?;
    match *req.method() {
        Method::GET => {
            if let Some(rv) = query.get("resourceVersion").filter(|r| !r.is_empty() && *r != "0") {
                let n = parse_resource_version(rv)?;
                let current = shared.registry.store().current_revision();
                if n > current {
                    return Err(ApiError::too_large_resource_version(n, current));
                }
            }
            if matches!(format, ObjectFormat::Object) && encoding == Encoding::Json {
                let body = shared.registry.get_json(res, namespace, name).await?;
                return Ok(bytes_response(StatusCode::OK, body, "application/json"));
            }
            let obj = shared.registry.get(res, namespace, name).await?;
            Ok(object_response(StatusCode::OK, &render_object(res, &obj, format, query)?, encoding))
        }
        Method::PUT => {
            let body_type = body_type(req.headers())?;
            let opts = write_options(query, req.headers())?;
            let body = decode_body(&read_bytes(req).await?, body_type)?;
            let written = shared.registry.update(res, namespace, name, body, status, &opts).await?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_warnings(written_response(res, code, &written, format, encoding, query)?, &written.warnings))
        }
        Method::PATCH => {
            let kind = patch_kind(&content_type(req.headers()))?;
            validate_patch_options(query, kind == PatchKind::Apply)?;
            let mut opts = write_options(query, req.headers())?;
            let bytes = read_bytes(req).await?;
            let body = match kind {
                PatchKind::Apply => {
                    let config = within_nesting(
                        decode_yaml(&bytes).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
                    )?;
                    if !config.is_object() && !config.is_null() {
                        return Err(ApiError::bad_request(
                            "error decoding YAML: an apply configuration must be an object",
                        ));
                    }
                    // An apply is recorded under its fieldManager only (never the user agent).
                    opts.field_manager = query.get("fieldManager").unwrap_or_default().to_owned();
                    config
                }
                _ => decode_body(&bytes, BodyType::Json)?,
            };
            let change = match kind {
                PatchKind::Merge => {
                    if !body.is_object() {
                        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                    }
                    Change::MergePatch(&body)
                }
                PatchKind::Json => Change::JsonPatch(&body),
                // Create-on-apply goes through the same namespace admission as a POST, inside
                // the write.
                PatchKind::Apply => Change::Apply { config: &body, force: query.flag("force") },
            };
            let written = shared.registry.write(res, namespace, name, status, change, &opts).await?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_warnings(written_response(res, code, &written, format, encoding, query)?, &written.warnings))
        }
        Method::DELETE if !status => {
            let body = read_body(req).await?;
            let del = delete_options(query, &body)?;
            let obj = shared.registry.delete(res, namespace, name, &del).await?;
            Ok(object_response(StatusCode::OK, &render_object(res, &obj, format, query)?, encoding))
        }
        _ => Err(ApiError::method_not_allowed(format!("{} is not supported here", req.method()))),
    }
}

/// The patch types served for custom resources (kube-apiserver serves no strategic merge
/// patch for them; CBOR apply bodies are not implemented).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Merge,
    Json,
    Apply,
}

fn patch_kind(content_type: &str) -> Result<PatchKind, ApiError> {
    match content_type {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        _ => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )),
    }
}
