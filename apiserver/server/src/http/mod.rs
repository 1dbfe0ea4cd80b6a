//! The HTTP surface: routing of Kubernetes API paths, content negotiation, request bodies
//! and response rendering. Everything about objects — and the API's rules for the revision a
//! read starts at — is delegated to [`Registry`].
//!
//! Here: the router and path dispatch; `discovery_docs` (discovery and OpenAPI answers),
//! `request` (request parsing), `render` (answers and errors), `objects` (collection and object
//! handlers), `list` (list bodies, streamed lists, watches).

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

use crate::discovery;
use crate::namespace_lifecycle::NamespaceLifecycle;
use crate::negotiate::{
    DiscoveryFormat, Encoding, ObjectFormat, decode_yaml, discovery_format, encode_yaml, object_negotiation,
    parse_accept, prefers_yaml,
};
use crate::query::{Continue, Query};
use crate::registry::{
    Change, DeleteOptions, ListPage, Registry, ServedResource, WriteOptions, Written, WrittenObject,
    parse_resource_version,
};
use crate::selector::Selectors;
use crate::status::{ApiError, Target};
use crate::table::{partial_metadata, partial_metadata_list, table};
use crate::watch::{self, WatchSpec, WatchStream, error_line};

mod discovery_docs;
mod list;
mod objects;
mod render;
mod request;
pub use render::error_response;
pub use request::manager_from_user_agent;
#[allow(clippy::wildcard_imports)]
use {discovery_docs::*, list::*, objects::*, render::*, request::*};

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

/// Everything the handlers share.
pub struct HttpState<E: KvEngine> {
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
    let shared = Arc::new(HttpState {
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

async fn handle<E: KvEngine>(State(shared): State<Arc<HttpState<E>>>, req: Request) -> Response {
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

async fn dispatch<E: KvEngine>(shared: &HttpState<E>, req: Request) -> Result<Response, ApiError> {
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
                (
                    "eddy_store_engine_memory_bytes",
                    "Memory the storage engine holds: its memtables and its block cache.",
                    stats.engine.memory_bytes as f64,
                ),
                ("eddy_store_engine_disk_bytes", "Size of the storage engine's files.", stats.engine.disk_bytes as f64),
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

fn only_get(method: &Method, path: &str) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(format!("{method} is not supported on {path}")))
    }
}
