//! # eddy-api — the Flux API types served by Eddy
//!
//! A pure library (no I/O) shared by the API server and the controllers:
//!
//! - **Typed structs** (serde) for every Flux kind in its storage version, one module per group:
//!   [`source`], [`kustomize`], [`helm`], [`notification`], [`image`], plus the shared [`meta`]
//!   types (conditions, references, artifacts, kubeconfig references, ...). [`typed::FluxObject`]
//!   decodes any served object (converted to storage first).
//! - **Schemas**: a structural OpenAPI v3 [`Schema`] for every served kind and version, built
//!   from those structs by the crate's `api_struct!` macro, whose doc comments become `kubectl explain`
//!   text. Older versions are derived from the storage version by small, documented edits.
//!   A test compares them path by path with the upstream Flux CRDs.
//! - **Registry**: [`registry()`] lists every kind ([`ResourceInfo`]: names, short names,
//!   categories, printer columns, versions with their schemas and deprecation warnings).
//! - **Admission**, driven by the schema on unstructured `serde_json::Value` objects as
//!   kube-apiserver does for custom resources: [`pruning::prune`] (returns the dropped paths for
//!   `fieldValidation`), [`defaulting::default`], [`validation::validate_create`] and
//!   [`validation::validate_update`] (kube-apiserver's wording, CEL rules through [`cel`],
//!   ObjectMeta rules in [`objectmeta`]); [`admission`] chains them per `fieldValidation` mode.
//! - **Conversion** between served versions, lossless through an annotation:
//!   [`conversion::convert`].
//! - **OpenAPI**: [`openapi::component_schemas`] gives the schemas to publish per group-version.
//! - **Label selectors** in their string form, one parser for the API server, the kustomize
//!   engine and the controllers: [`labels::Selector`].
//! - **Semantic rules** that Flux enforces at reconcile time beyond the schema: [`semantic`].
//!
//! ```
//! let mut obj = serde_json::json!({
//!     "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
//!     "metadata": {"name": "app", "namespace": "flux-system"},
//!     "spec": {"url": "https://github.com/org/app", "interval": "5m"}
//! });
//! let warnings = eddy_api::admission::admit_create(&mut obj, Default::default()).unwrap();
//! assert!(warnings.is_empty());
//! assert_eq!(obj["spec"]["timeout"], "60s");
//! ```

pub mod admission;
pub mod cel;
pub mod conversion;
pub mod defaulting;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod labels;
pub mod meta;
pub mod notification;
pub mod objectmeta;
pub mod openapi;
pub mod pruning;
pub mod resource;
pub mod schema;
pub mod semantic;
pub mod source;
pub mod typed;
pub mod validation;

use std::sync::OnceLock;

pub use resource::{PrinterColumn, ResourceInfo, VersionInfo};
pub use schema::Schema;

/// Every kind Eddy serves, with all its versions.
#[must_use]
pub fn registry() -> &'static [ResourceInfo] {
    static REGISTRY: OnceLock<Vec<ResourceInfo>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(source::resources());
        all.extend(kustomize::resources());
        all.extend(helm::resources());
        all.extend(notification::resources());
        all.extend(image::resources());
        all
    })
}

/// The registry entry of a kind in a group.
#[must_use]
pub fn find(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    registry().iter().find(|r| r.group == group && r.kind == kind)
}

/// The registry entry for a resource (plural) name in a group.
#[must_use]
pub fn find_plural(group: &str, plural: &str) -> Option<&'static ResourceInfo> {
    registry().iter().find(|r| r.group == group && r.plural == plural)
}

/// The schema of a kind in a given version.
#[must_use]
pub fn schema(group: &str, version: &str, kind: &str) -> Option<&'static Schema> {
    find(group, kind)?.version(version).map(|v| &v.schema)
}

/// Splits `group/version` (or a core `version`) into its parts.
#[must_use]
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
