//! # eddy-apply — server-side apply of a set of objects, as fluxcd/pkg/ssa does it
//!
//! The Kustomization controller (and later the Helm controller) hands this crate the objects a
//! build produced; it applies them to a cluster in Flux's stages with server-side apply, reports
//! what changed, and deletes what left the set.
//!
//! - [`objmeta`]: inventory identities (cli-utils `ObjMetadata`) and subjects.
//! - [`changeset`]: what happened to each object.
//! - [`options`]: the owner and the apply / cleanup / delete options.
//! - [`discovery`]: apiVersion and kind to URL, cached per manager.
//! - [`normalize`], [`drift`], [`cleanup`], [`ignore`]: the pure steps of an apply.
//! - The [`ResourceManager`]'s apply (`apply.rs`), staged apply (`staged.rs`), delete
//!   (`delete.rs`) and waits (`wait.rs`).

mod apply;
pub mod changeset;
pub mod cleanup;
mod delete;
pub mod discovery;
pub mod drift;
mod error;
pub mod ignore;
mod kubeapi;
mod manager;
pub mod meta;
pub mod normalize;
pub mod objmeta;
pub mod options;
mod staged;
pub mod wait;

pub use changeset::{Action, ChangeSet, ChangeSetEntry, diff_inventory};
pub use error::{ApplyError, ObjectError, RequestError};
pub use ignore::{IgnoreRule, IgnoreSelector};
pub use manager::{DEFAULT_CONCURRENCY, ResourceManager, set_common_metadata};
pub use normalize::normalize_objects;
pub use objmeta::ObjMetadata;
pub use options::{
    ApplyCleanupOptions, ApplyOptions, DeleteOptions, FieldManager, GroupKind, ManagedFieldsOperation, Owner,
};
