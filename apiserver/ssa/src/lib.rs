//! # eddy-ssa — Kubernetes server-side apply, in Rust
//!
//! A pure library (no I/O) implementing what kube-apiserver does for `PATCH` with
//! `application/apply-patch+yaml` and for `metadata.managedFields`, with the semantics of
//! `sigs.k8s.io/structured-merge-diff` and `k8s.io/apimachinery`'s managedfields package:
//!
//! - [`fieldpath`]: field paths and sets, and their `FieldsV1` encoding (byte-identical to
//!   kube's, keys in kube's order).
//! - [`schema`]: the structured-merge-diff view of an `eddy_api` schema (list types, map types,
//!   preserve-unknown-fields as deduced granular maps, `ObjectMeta` for `metadata`).
//! - [`typed`]: field sets of values, merge, compare, removal.
//! - [`managed`]: `managedFields` entries, manager identifiers, decode/encode.
//! - [`FieldManager::apply`] in [`manager`] (merge, conflicts, `force`, removal of
//!   fields no longer applied, status/spec reset fields, the kubectl client-side-apply upgrade)
//!   and [`FieldManager::update`] for every other write (`Update` managers, reset with `[{}]`,
//!   capping at 10 update managers into `ancient-changes`).
//! - [`convert`]: version skew through a [`convert::VersionConverter`] hook (object conversion
//!   to each manager's version, as kube does).
//!
//! ```
//! use eddy_ssa::{FieldManager, Request};
//! use serde_json::json;
//!
//! let info = eddy_api::find("source.toolkit.fluxcd.io", "GitRepository").unwrap();
//! let fm = FieldManager::for_resource(info);
//! let req = Request {
//!     manager: "flux", api_version: "source.toolkit.fluxcd.io/v1", subresource: "",
//!     now: "2026-01-01T00:00:00Z",
//! };
//! let config = json!({
//!     "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
//!     "metadata": {"name": "app", "namespace": "flux-system"},
//!     "spec": {"url": "https://github.com/org/app", "interval": "5m"}
//! });
//! let applied = fm.apply(None, &config, &req, false).unwrap();
//! assert_eq!(
//!     applied.object["metadata"]["managedFields"][0]["fieldsV1"],
//!     json!({"f:spec": {"f:interval": {}, "f:url": {}}})
//! );
//! ```

pub mod convert;
pub mod fieldpath;
pub mod managed;
pub mod manager;
pub mod schema;
pub mod typed;
mod updater;
pub mod value;

pub use convert::{ApiVersionOnly, ConvertError, EddyConversion, FieldRenames, KindTypes, Rename, VersionConverter};
pub use fieldpath::{Path, PathElement, Set};
pub use managed::ManagedFieldsEntry;
pub use manager::{Applied, ApplyError, ConflictCause, Conflicts, FieldManager, Request, UpdateError};
pub use updater::Conflict;
