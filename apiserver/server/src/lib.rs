//! Kubernetes API machinery over HTTP for Eddy.
//!
//! This crate is the only one that knows wire formats. It serves every Flux kind of the
//! catalogue [`eddy_api::registry()`] (not to be confused with this crate's [`Registry`], the
//! generic store that serves them) from an [`eddy_storage::Store`] the way kube-apiserver serves
//! custom resources:
//!
//! - [`http::router`]: the API as a tower service — health, `/version`, discovery (legacy and
//!   aggregated v2/v2beta1 with ETag, 406 otherwise), OpenAPI v3 (index and per
//!   group-version) and v2 (JSON), get / list / watch / create / update / patch (JSON, merge
//!   and server-side apply) / delete / deletecollection, the status subresource, JSON and
//!   YAML bodies and answers, Table and PartialObjectMetadata output;
//! - [`registry`]: the generic registry store (metadata rules, request decoding through
//!   `eddy-api`, conversion, optimistic concurrency, two-phase delete, server-side apply and
//!   `managedFields` through `eddy-ssa`) with one [`strategy::KindStrategy`] per kind, assembled
//!   once when the registry is built; its reads run on the blocking pool, creates go through
//!   [`namespace_lifecycle`] admission, and typed storage conflicts drive its retries;
//! - [`storage_codec`]: the storage codec — canonical stored bytes, so reads in the storage
//!   version copy bytes instead of decoding objects;
//! - [`namespace_lifecycle`]: kube's `NamespaceLifecycle` admission over the cluster's
//!   namespaces (aggregated mode);
//! - [`watch`]: chunked watch streams with selectors, bookmarks and streaming lists;
//! - [`status`]: every error as a `metav1.Status` with reason, code and field causes;
//! - [`limits`], [`panic`]: overload protection (in-flight limits, request timeout,
//!   connection timeouts, HTTP/2 stream limit, watch cap) and the catch-panic layer;
//! - [`serve`]: TLS (rustls, HTTP/1.1 and HTTP/2), bearer-token authentication and the
//!   standalone data directory (RocksDB store, self-signed CA and certificate, admin token,
//!   kubeconfig).
//!
//! Running the standalone server (what `eddy serve` does):
//!
//! ```no_run
//! # async fn run() -> Result<(), eddy_apiserver::serve::Error> {
//! let mut config = eddy_apiserver::ServeConfig::new("/var/lib/eddy");
//! config.secure_port = 6443;
//! eddy_apiserver::serve(config).await // until Ctrl-C; `serve_until` takes any future
//! # }
//! ```

pub mod auth;
mod connection;
pub mod discovery;
pub mod duration;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod namespace_lifecycle;
pub mod negotiate;
pub mod openapi;
pub mod panic;
pub mod patch;
pub mod query;
pub mod registry;
pub mod selector;
pub mod serve;
pub mod status;
pub mod storage_codec;
pub mod strategy;
pub mod table;
pub mod watch;

pub use http::{HttpOptions, router};
pub use limits::Limits;
pub use registry::Registry;
pub use serve::{Running, ServeConfig, start_with_store};
#[cfg(feature = "rocksdb")]
pub use serve::{serve, serve_until, start};
pub use status::ApiError;
