//! # eddy-api — the Flux API types served by Eddy
//!
//! A pure library (no I/O) shared by the API server and the controllers. It holds:
//!
//! - typed Rust structs (serde) for every Flux kind in its storage version, per group:
//!   [`source`], [`kustomize`], [`helm`], [`notification`], [`image`], with the shared
//!   [`meta`] types;
//! - a structural OpenAPI v3 [`schema`](schema::Schema) for every served kind and version,
//!   built from those structs (their doc comments become `kubectl explain` text);
//! - the [`registry`] of kinds (names, short names, categories, printer columns, versions);
//! - schema-driven [`defaulting`], [`pruning`] and [`validation`] (with CEL rules through
//!   [`cel`](crate::cel)) working on unstructured `serde_json::Value` objects, as kube-apiserver
//!   does for custom resources;
//! - [`conversion`] between served versions, lossless through an annotation;
//! - [`semantic`] checks that Flux applies at reconcile time beyond the schema.
//!
//! Entry points: [`registry()`], [`find()`], [`schema()`], [`defaulting::default`],
//! [`pruning::prune`], [`validation::validate_create`], [`validation::validate_update`],
//! [`conversion::convert`].

pub mod cel;
pub mod conversion;
pub mod defaulting;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod objectmeta;
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
