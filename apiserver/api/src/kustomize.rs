//! `kustomize.toolkit.fluxcd.io`: Kustomization, which builds and applies manifests from a source.

use std::collections::BTreeMap;

use crate::meta::{
    CommonMetadata, Condition, CustomHealthCheck, DependencyReference, IgnoreRule, KubeConfigReference, KustomizeImage,
    LocalObjectReference, Patch, ResourceInventory, status_default,
};
use crate::resource::{AGE, READY, ResourceInfo, STATUS, VersionInfo, api_kind};
use crate::schema::api_struct;

/// The API group.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

api_struct! {
    /// What to build from which source, and how to apply, prune and health-check it.
    pub struct KustomizationSpec {
        /// Metadata fields kustomize adds to the built objects.
        build_metadata: Option<Vec<String>> => edit_items(|s| s.one_of(&["originAnnotations", "transformerAnnotations"])),
        /// Labels and annotations stamped on every applied object.
        common_metadata: Option<CommonMetadata>,
        /// Kustomize components to include, relative to the path.
        components: Option<Vec<String>>,
        /// How to decrypt encrypted manifests.
        decryption: Option<Decryption>,
        /// What happens to applied objects when the Kustomization is deleted.
        deletion_policy: Option<String> => one_of(&["MirrorPrune", "Delete", "WaitForTermination", "Orphan"]),
        /// Kustomizations that must be ready first.
        depends_on: Option<Vec<DependencyReference>>,
        /// Recreate objects whose immutable fields changed.
        force: Option<bool> => default_value(false),
        /// CEL health checks for custom kinds.
        health_check_exprs: Option<Vec<CustomHealthCheck>>,
        /// Objects whose health gates readiness.
        health_checks: Option<Vec<NamespacedObjectKindReference>>,
        /// Fields to leave alone when applying.
        ignore: Option<Vec<IgnoreRule>>,
        /// Do not fail when a listed component is missing.
        ignore_missing_components: Option<bool>,
        /// Image overrides.
        images: Option<Vec<KustomizeImage>>,
        /// How often to rebuild and reapply.
        @req interval: String => duration(),
        /// Apply to a remote cluster described by a kubeconfig.
        kube_config: Option<KubeConfigReference>,
        /// Prefix for the names of all objects.
        name_prefix: Option<String> => len(1, 200),
        /// Suffix for the names of all objects.
        name_suffix: Option<String> => len(1, 200),
        /// Patches applied to the built objects.
        patches: Option<Vec<Patch>>,
        /// Directory inside the artifact holding the kustomization; the root when unset.
        path: Option<String>,
        /// Variable substitution after the build.
        post_build: Option<PostBuild>,
        /// Delete objects that disappeared from the source.
        @req prune: bool,
        /// How long to wait before retrying a failed reconciliation; the interval when unset.
        retry_interval: Option<String> => duration(),
        /// Service account to impersonate when applying.
        service_account_name: Option<String>,
        /// The source whose artifact is built.
        @req source_ref: CrossNamespaceSourceReference,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Namespace set on all namespaced objects.
        target_namespace: Option<String> => len(1, 63),
        /// Time limit for building, applying and health checks.
        timeout: Option<String> => duration(),
        /// Wait for all applied objects to become ready.
        wait: Option<bool>,
    }
}

api_struct! {
    /// Decryption settings for SOPS-encrypted manifests.
    pub struct Decryption {
        /// Decryption tool.
        @req provider: String => one_of(&["sops"]),
        /// Secret holding the private keys.
        secret_ref: Option<LocalObjectReference>,
        /// Service account used to reach cloud key services.
        service_account_name: Option<String>,
    }
}

api_struct! {
    /// An object of any kind to health-check.
    pub struct NamespacedObjectKindReference {
        /// API version of the object.
        api_version: Option<String>,
        /// Kind of the object.
        @req kind: String,
        /// Name of the object.
        @req name: String,
        /// Namespace of the object.
        namespace: Option<String>,
    }
}

api_struct! {
    /// A source that produces an artifact, possibly in another namespace.
    pub struct CrossNamespaceSourceReference {
        /// API version of the source.
        api_version: Option<String>,
        /// Kind of the source.
        @req kind: String => one_of(&["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"]),
        /// Name of the source.
        @req name: String,
        /// Namespace of the source; the Kustomization's own when unset.
        namespace: Option<String>,
    }
}

api_struct! {
    /// Variable substitution in the built manifests.
    pub struct PostBuild {
        /// Variables and their values.
        substitute: Option<BTreeMap<String, String>>,
        /// ConfigMaps and Secrets providing more variables.
        substitute_from: Option<Vec<SubstituteReference>>,
        /// Substitute only in objects that opt in, or always.
        substitute_strategy: Option<String> => one_of(&["WithVariables", "Always"]),
    }
}

api_struct! {
    /// A ConfigMap or Secret whose data provides substitution variables.
    pub struct SubstituteReference {
        /// Secret or ConfigMap.
        @req kind: String => one_of(&["Secret", "ConfigMap"]),
        /// Name of the object.
        @req name: String => len(1, 253),
        /// Do not fail when the object is missing.
        optional: Option<bool> => default_value(false),
    }
}

api_struct! {
    /// One entry of the reconciliation history.
    pub struct Snapshot {
        /// Digest of the applied content.
        @req digest: String,
        /// First time this content was applied.
        @req first_reconciled: String => date_time(),
        /// Last time this content was applied.
        @req last_reconciled: String => date_time(),
        /// How long the last reconciliation took.
        @req last_reconciled_duration: String,
        /// Outcome of the last reconciliation.
        @req last_reconciled_status: String,
        /// Extra facts such as the source revision.
        metadata: Option<BTreeMap<String, String>>,
        /// How many times this content was applied.
        @req total_reconciliations: i64 => int64(),
    }
}

api_struct! {
    /// What the Kustomization controller last observed.
    pub struct KustomizationStatus {
        /// Conditions such as Ready and Healthy.
        conditions: Option<Vec<Condition>>,
        /// Recent reconciliations, newest first.
        history: Option<Vec<Snapshot>>,
        /// Objects applied by the last successful reconciliation.
        inventory: Option<ResourceInventory>,
        /// Origin revision of the last applied source.
        last_applied_origin_revision: Option<String>,
        /// Revision of the last applied source.
        last_applied_revision: Option<String>,
        /// Revision of the last attempted source.
        last_attempted_revision: Option<String>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
    }
}

api_kind! {
    /// Builds a kustomization from a source artifact and applies it to a cluster.
    Kustomization { group: "kustomize.toolkit.fluxcd.io", version: "v1", spec: KustomizationSpec,
        status: KustomizationStatus, status_default: status_default() }
}

pub(crate) fn resources() -> Vec<ResourceInfo> {
    vec![ResourceInfo {
        group: GROUP,
        kind: "Kustomization",
        list_kind: "KustomizationList",
        plural: "kustomizations",
        singular: "kustomization",
        short_names: &["ks"],
        categories: &["all", "fluxcd", "fluxcd-appliers"],
        namespaced: true,
        versions: vec![VersionInfo {
            name: "v1",
            storage: true,
            deprecated: false,
            deprecation_warning: None,
            status_subresource: true,
            printer_columns: vec![AGE, READY, STATUS],
            schema: Kustomization::schema(),
        }],
    }]
}
