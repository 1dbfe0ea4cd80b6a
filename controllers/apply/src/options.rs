//! The owner of applied objects and the options of apply and delete (fluxcd/pkg/ssa
//! `Owner`, `ApplyOptions`, `ApplyCleanupOptions`, `DeleteOptions`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Flux's default time to wait for a stage's definitions (`DefaultApplyOptions`).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Flux's default interval between two looks at a stage's definitions.
pub const DEFAULT_WAIT_INTERVAL: Duration = Duration::from_secs(2);

/// Who owns the applied objects: the field manager and the owner labels' group
/// (`<group>/name`, `<group>/namespace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Field manager, e.g. `kustomize-controller`.
    pub field: String,
    /// Label group, e.g. `kustomize.toolkit.fluxcd.io`.
    pub group: String,
}

/// A kind with its API group (the `--custom-stage-kinds` entries).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKind {
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
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
    /// The interval between two looks at a stage's objects (and at an object deleted to be
    /// recreated); zero for Flux's 2 s.
    pub wait_interval: Duration,
    /// What to remove from in-cluster objects before applying. `None` is kustomize-controller's
    /// cleanup for this manager's owner ([`ApplyCleanupOptions::flux_default`]);
    /// `Some(ApplyCleanupOptions::default())` removes nothing.
    pub cleanup: Option<ApplyCleanupOptions>,
    /// Kinds applied in a stage of their own after the `*Class` kinds and before the rest
    /// (`--custom-stage-kinds`).
    pub custom_stage_kinds: BTreeSet<GroupKind>,
    /// Rewrite the `apiVersion` of every `managedFields` entry of an existing object to the
    /// applied object's before applying (kustomize-controller's `MigrateAPIVersion` feature:
    /// entries of an older CRD version can otherwise fail the apply).
    pub migrate_api_version: bool,
    /// Fields left out of drift detection (a Kustomization's `spec.ignore`).
    pub drift_ignore_rules: Vec<crate::ignore::IgnoreRule>,
}

impl ApplyOptions {
    /// The stage wait timeout, defaulted.
    #[must_use]
    pub fn effective_wait_timeout(&self) -> Duration {
        if self.wait_timeout.is_zero() { DEFAULT_WAIT_TIMEOUT } else { self.wait_timeout }
    }

    /// The stage wait interval, defaulted.
    #[must_use]
    pub fn effective_wait_interval(&self) -> Duration {
        if self.wait_interval.is_zero() { DEFAULT_WAIT_INTERVAL } else { self.wait_interval }
    }
}

/// A `managedFields` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManagedFieldsOperation {
    /// `Apply` (server-side apply).
    Apply,
    /// `Update` (create, update, patch).
    Update,
}

impl ManagedFieldsOperation {
    /// The wire value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedFieldsOperation::Apply => "Apply",
            ManagedFieldsOperation::Update => "Update",
        }
    }
}

/// A field manager whose `managedFields` entries are taken over (fluxcd/pkg/ssa
/// `FieldManager`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldManager {
    /// The manager's name; a prefix unless `exact_match`.
    pub name: String,
    /// Match the name exactly instead of as a prefix.
    pub exact_match: bool,
    /// The operation of the entries to take over.
    pub operation: ManagedFieldsOperation,
}

/// What to remove from in-cluster objects before applying (fluxcd/pkg/ssa
/// `ApplyCleanupOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyCleanupOptions {
    /// Annotation keys to remove.
    pub annotations: Vec<String>,
    /// Label keys to remove.
    pub labels: Vec<String>,
    /// Managers whose `managedFields` entries are merged into the owner's Apply entry, so
    /// that fields they set are owned (and removed when dropped) by the owner.
    pub field_managers: Vec<FieldManager>,
    /// Objects (desired or in-cluster) with any of these annotations or labels are not
    /// cleaned up (`kustomize.toolkit.fluxcd.io/ssa: Merge`).
    pub exclusions: BTreeMap<String, String>,
}

impl ApplyCleanupOptions {
    /// kustomize-controller's cleanup for a controller named `controller` whose owner label
    /// group is `group`: the `kubectl.kubernetes.io/last-applied-configuration` annotation and
    /// Flux v1's checksum annotations and GC label are removed; the entries of `kubectl*`
    /// (Apply and Update), `before-first-apply` (Update) and the controller's own Update
    /// entries are taken over; objects annotated `<group>/ssa: Merge` are left alone.
    #[must_use]
    pub fn flux_default(controller: &str, group: &str) -> Self {
        let manager = |name: &str, operation| FieldManager { name: name.to_string(), exact_match: false, operation };
        Self {
            annotations: vec![
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "kustomize.toolkit.fluxcd.io/checksum".to_string(),
                "fluxcd.io/sync-checksum".to_string(),
            ],
            labels: vec!["fluxcd.io/sync-gc-mark".to_string()],
            field_managers: vec![
                manager("kubectl", ManagedFieldsOperation::Apply),
                manager("kubectl", ManagedFieldsOperation::Update),
                manager("before-first-apply", ManagedFieldsOperation::Update),
                manager(controller, ManagedFieldsOperation::Update),
            ],
            exclusions: BTreeMap::from([(format!("{group}/ssa"), "Merge".to_string())]),
        }
    }
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
