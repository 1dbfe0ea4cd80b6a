//! # eddy-apply — server-side apply of a set of objects, as fluxcd/pkg/ssa does it
//!
//! The Kustomization controller (and later the Helm controller) hands this crate the objects a
//! build produced; it applies them to a cluster in Flux's stages with server-side apply, reports
//! what changed, and deletes what left the set.
//!
//! SKELETON: the public API below is agreed between the crates; bodies are being written.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// An object's identity in an inventory: group, kind, namespace and name (cli-utils'
/// `ObjMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjMetadata {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl ObjMetadata {
    /// The identity of an object (apiVersion, kind and metadata are read).
    ///
    /// # Errors
    /// A missing kind or name.
    pub fn of(obj: &Value) -> Result<Self, ApplyError> {
        let _ = obj;
        unimplemented!("skeleton")
    }

    /// The inventory id: `<namespace>_<name>_<group>_<kind>`, `:` in names written `__`.
    #[must_use]
    pub fn id(&self) -> String {
        unimplemented!("skeleton")
    }

    /// Parses an inventory id.
    ///
    /// # Errors
    /// A malformed id.
    pub fn parse(id: &str) -> Result<Self, ApplyError> {
        let _ = id;
        unimplemented!("skeleton")
    }
}

impl fmt::Display for ObjMetadata {
    /// Flux's `FmtObjMetadata`: `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What applying or deleting did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object already matched.
    Unchanged,
    /// The object was deleted.
    Deleted,
    /// The object was left alone (excluded by an annotation, `IfNotPresent`, …).
    Skipped,
    /// Not determined.
    Unknown,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
            Action::Unknown => "unknown",
        })
    }
}

/// One object's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// Its identity.
    pub object_metadata: ObjMetadata,
    /// Its `apiVersion` (the inventory's `v` is the version part).
    pub group_version: String,
    /// `Kind/namespace/name`.
    pub subject: String,
    /// What happened.
    pub action: Action,
}

/// The results of an apply or delete, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// One entry per object.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// Subject → action, as Flux's `ToMap` (for events and logs).
    #[must_use]
    pub fn to_map(&self) -> BTreeMap<String, Action> {
        self.entries.iter().map(|e| (e.subject.clone(), e.action)).collect()
    }
}

/// Who owns the applied objects: the field manager and the owner labels' group
/// (`<group>/name`, `<group>/namespace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Field manager, e.g. `kustomize-controller`.
    pub field: String,
    /// Label group, e.g. `kustomize.toolkit.fluxcd.io`.
    pub group: String,
}

/// How to apply (fluxcd/pkg/ssa `ApplyOptions`; see the field docs for the Kustomization
/// annotations each one serves).
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Recreate objects whose immutable fields changed (`spec.force`).
    pub force: bool,
    /// Objects with these annotations are recreated on immutable-field errors
    /// (`kustomize.toolkit.fluxcd.io/force: enabled`).
    pub force_selector: BTreeMap<String, String>,
    /// Objects with these annotations or labels are skipped
    /// (`kustomize.toolkit.fluxcd.io/reconcile: disabled`).
    pub exclusion_selector: BTreeMap<String, String>,
    /// Objects with these annotations are only created, never updated
    /// (`kustomize.toolkit.fluxcd.io/ssa: IfNotPresent`).
    pub if_not_present_selector: BTreeMap<String, String>,
    /// How long to wait for the CRDs, Namespaces and ClusterRoles (and `*Class` kinds) of a
    /// stage to be ready before the next stage; zero for Flux's default (`wait_timeout` 60 s,
    /// interval 2 s).
    pub wait_timeout: Duration,
}

/// How to delete (fluxcd/pkg/ssa `DeleteOptions`).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Only objects carrying all these labels are deleted (the owner labels).
    pub inclusions: BTreeMap<String, String>,
    /// Objects with any of these annotations or labels are kept
    /// (`kustomize.toolkit.fluxcd.io/prune: disabled`).
    pub exclusions: BTreeMap<String, String>,
}

/// Applies and deletes sets of objects in one cluster as one owner.
#[derive(Clone)]
pub struct ResourceManager {
    client: kube::Client,
    owner: Owner,
}

impl ResourceManager {
    /// A manager applying through `client` (possibly impersonating) as `owner`.
    #[must_use]
    pub fn new(client: kube::Client, owner: Owner) -> Self {
        Self { client, owner }
    }

    /// Sets the owner labels `<group>/name` and `<group>/namespace` on every object.
    pub fn set_owner_labels(&self, objects: &mut [Value], name: &str, namespace: &str) {
        let _ = (objects, name, namespace, &self.client, &self.owner);
        unimplemented!("skeleton")
    }

    /// Applies `objects` in Flux's stages: CRDs, Namespaces and ClusterRoles (applied, then
    /// waited for), then kinds ending in `Class` (applied, waited for), then the rest. Each
    /// object is dry-run applied and diffed first; only drifted objects are applied.
    ///
    /// # Errors
    /// The first stage that fails, with every failing object's message.
    pub async fn apply_all_staged(&self, objects: Vec<Value>, options: &ApplyOptions) -> Result<ChangeSet, ApplyError> {
        let _ = (objects, options);
        unimplemented!("skeleton")
    }

    /// Deletes `objects` (background propagation), skipping those that are gone, lack the
    /// inclusion labels or carry an exclusion.
    ///
    /// # Errors
    /// Every deletion that failed, joined.
    pub async fn delete_all(&self, objects: &[ObjMetadata], options: &DeleteOptions) -> Result<ChangeSet, ApplyError> {
        let _ = (objects, options);
        unimplemented!("skeleton")
    }

    /// Waits until every object in `objects` is gone.
    ///
    /// # Errors
    /// A timeout, listing the objects still present.
    pub async fn wait_for_termination(&self, objects: &[ObjMetadata], timeout: Duration) -> Result<(), ApplyError> {
        let _ = (objects, timeout);
        unimplemented!("skeleton")
    }
}

/// Objects in `old` that are not in `new` (what to prune), in `old`'s order.
#[must_use]
pub fn diff_inventory(old: &[ObjMetadata], new: &[ObjMetadata]) -> Vec<ObjMetadata> {
    old.iter().filter(|o| !new.contains(o)).cloned().collect()
}

/// Why an apply or delete failed. The `Display` texts follow fluxcd/pkg/ssa's messages, since
/// they become the Kustomization's `Ready` message.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An object is malformed (no kind, no name, bad id).
    #[error("{0}")]
    Invalid(String),
    /// Applying or deleting failed; the message names each failing object.
    #[error("{0}")]
    Failed(String),
    /// Waiting timed out.
    #[error("{0}")]
    Timeout(String),
}
