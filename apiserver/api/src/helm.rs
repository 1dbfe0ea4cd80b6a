//! `helm.toolkit.fluxcd.io`: HelmRelease, which installs and upgrades a Helm chart.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::meta::{
    CommonMetadata, Condition, CustomHealthCheck, DependencyReference, IgnoreRule, KubeConfigReference, KustomizeImage,
    LocalObjectReference, Patch, ResourceInventory, status_default,
};
use crate::resource::{AGE, READY, ResourceInfo, STATUS, VersionInfo, api_kind};
use crate::schema::api_struct;

/// The API group.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";

api_struct! {
    /// Which chart to release, with which values, and how to install, upgrade, test and roll back.
    @schema rule("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",
                 "either chart or chartRef must be set");
    pub struct HelmReleaseSpec {
        /// A chart template from which a HelmChart object is created.
        chart: Option<HelmChartTemplate>,
        /// A ready-made chart source (OCIRepository, HelmChart or ExternalArtifact).
        chart_ref: Option<CrossNamespaceSourceReference>,
        /// Labels and annotations stamped on every released object.
        common_metadata: Option<CommonMetadata>,
        /// HelmReleases that must be ready first.
        depends_on: Option<Vec<DependencyReference>>,
        /// How to detect and correct changes made to the cluster outside of Helm.
        drift_detection: Option<DriftDetection>,
        /// CEL health checks for custom kinds.
        health_check_exprs: Option<Vec<CustomHealthCheck>>,
        /// Install settings.
        install: Option<Install>,
        /// How often to reconcile.
        @req interval: String => duration(),
        /// Release into a remote cluster described by a kubeconfig.
        kube_config: Option<KubeConfigReference>,
        /// Release revisions Helm keeps; 5 when unset, 0 for unlimited.
        max_history: Option<i64>,
        /// Reuse one Kubernetes client for the whole reconciliation.
        persistent_client: Option<bool>,
        /// Whether post-renderers see hooks, and in which manifest set.
        post_render_strategy: Option<String> => one_of(&["nohooks", "combined", "separate"]),
        /// Post-renderers applied to the rendered manifests, in order.
        post_renderers: Option<Vec<PostRenderer>>,
        /// Helm release name; derived from namespace and name when unset.
        release_name: Option<String> => len(1, 53),
        /// Rollback settings.
        rollback: Option<Rollback>,
        /// Service account to impersonate.
        service_account_name: Option<String> => len(1, 253),
        /// Namespace for the Helm storage secrets.
        storage_namespace: Option<String> => len(1, 63),
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Namespace the release is installed into.
        target_namespace: Option<String> => len(1, 63),
        /// Helm test settings.
        test: Option<Test>,
        /// Default time limit for Helm actions.
        timeout: Option<String> => duration(),
        /// Uninstall settings.
        uninstall: Option<Uninstall>,
        /// Upgrade settings.
        upgrade: Option<Upgrade>,
        /// Inline chart values.
        values: Option<Value>,
        /// ConfigMaps and Secrets to read values from, merged before the inline values.
        values_from: Option<Vec<ValuesReference>>,
        /// How to wait for released objects to become ready.
        wait_strategy: Option<WaitStrategy>,
    }
}

api_struct! {
    /// Template of the HelmChart created for this release.
    pub struct HelmChartTemplate {
        /// Labels and annotations for the HelmChart.
        metadata: Option<CommonMetadata>,
        /// Spec of the HelmChart.
        @req spec: HelmChartTemplateSpec,
    }
}

api_struct! {
    /// The chart settings copied into the generated HelmChart.
    pub struct HelmChartTemplateSpec {
        /// Chart name or path.
        @req chart: String => len(1, 2048),
        /// Do not fail when a listed values file is missing.
        ignore_missing_values_files: Option<bool>,
        /// How often the HelmChart checks its source; the release interval when unset.
        interval: Option<String> => duration(),
        /// Whether a chart version or a source revision triggers a rebuild.
        reconcile_strategy: Option<String> => one_of(&["ChartVersion", "Revision"]).default_value("ChartVersion"),
        /// The source holding the chart.
        @req source_ref: CrossNamespaceObjectReference,
        /// Values files merged into the chart's values.yaml.
        values_files: Option<Vec<String>>,
        /// Verify the chart's OCI signature.
        verify: Option<HelmChartTemplateVerification>,
        /// Semver range of chart versions.
        version: Option<String> => default_value("*"),
    }
}

api_struct! {
    /// A chart source for a chart template.
    pub struct CrossNamespaceObjectReference {
        /// API version of the source.
        api_version: Option<String>,
        /// Kind of the source.
        @req kind: String => one_of(&["HelmRepository", "GitRepository", "Bucket"]),
        /// Name of the source.
        @req name: String => len(1, 253),
        /// Namespace of the source.
        namespace: Option<String> => len(1, 63),
    }
}

api_struct! {
    /// A ready-made chart source.
    pub struct CrossNamespaceSourceReference {
        /// API version of the source.
        api_version: Option<String>,
        /// Kind of the source.
        @req kind: String => one_of(&["OCIRepository", "HelmChart", "ExternalArtifact"]),
        /// Name of the source.
        @req name: String => len(1, 253),
        /// Namespace of the source.
        namespace: Option<String> => len(1, 63),
    }
}

api_struct! {
    /// Signature verification of the chart.
    pub struct HelmChartTemplateVerification {
        /// Signing tool.
        @req provider: String => one_of(&["cosign", "notation"]).default_value("cosign"),
        /// Secret with the trusted keys.
        secret_ref: Option<LocalObjectReference>,
    }
}

api_struct! {
    /// Drift detection settings.
    pub struct DriftDetection {
        /// Fields to ignore when comparing.
        ignore: Option<Vec<IgnoreRule>>,
        /// Correct drift, only warn about it, or do nothing.
        mode: Option<String> => one_of(&["enabled", "warn", "disabled"]),
    }
}

api_struct! {
    /// How a failed action is retried or remediated.
    @schema rule("!has(self.retryInterval) || self.name != 'RemediateOnFailure'",
                 ".retryInterval cannot be set when .name is 'RemediateOnFailure'");
    pub struct InstallStrategy {
        /// Strategy name.
        @req name: String => one_of(&["RemediateOnFailure", "RetryOnFailure"]),
        /// Wait between retries.
        retry_interval: Option<String> => duration(),
    }
}

api_struct! {
    /// How a failed upgrade is retried or remediated.
    @schema rule("!has(self.retryInterval) || self.name == 'RetryOnFailure'",
                 ".retryInterval can only be set when .name is 'RetryOnFailure'");
    pub struct UpgradeStrategy {
        /// Strategy name.
        @req name: String => one_of(&["RemediateOnFailure", "RetryOnFailure"]),
        /// Wait between retries.
        retry_interval: Option<String> => duration(),
    }
}

api_struct! {
    /// What to do when an install fails.
    pub struct InstallRemediation {
        /// Do not treat failed tests as a failed install.
        ignore_test_failures: Option<bool>,
        /// Remediate the last attempt when retries run out.
        remediate_last_failure: Option<bool>,
        /// Retries before giving up; negative for unlimited.
        retries: Option<i64>,
    }
}

api_struct! {
    /// What to do when an upgrade fails.
    pub struct UpgradeRemediation {
        /// Do not treat failed tests as a failed upgrade.
        ignore_test_failures: Option<bool>,
        /// Remediate the last attempt when retries run out.
        remediate_last_failure: Option<bool>,
        /// Retries before giving up; negative for unlimited.
        retries: Option<i64>,
        /// Roll back or uninstall on failure.
        strategy: Option<String> => one_of(&["rollback", "uninstall"]),
    }
}

api_struct! {
    /// Helm install settings.
    pub struct Install {
        /// CRD policy for the chart's crds/ directory.
        crds: Option<String> => one_of(&["Skip", "Create", "CreateReplace"]),
        /// Create the target namespace if missing.
        create_namespace: Option<bool>,
        /// Skip hooks.
        disable_hooks: Option<bool>,
        /// Skip OpenAPI validation of the manifests.
        disable_open_api_validation as "disableOpenAPIValidation": Option<bool>,
        /// Skip JSON schema validation of the values.
        disable_schema_validation: Option<bool>,
        /// Do not adopt existing objects.
        disable_take_ownership: Option<bool>,
        /// Do not wait for readiness.
        disable_wait: Option<bool>,
        /// Do not wait for jobs to complete.
        disable_wait_for_jobs: Option<bool>,
        /// Remediation on failure.
        remediation: Option<InstallRemediation>,
        /// Reuse the name of a deleted release.
        replace: Option<bool>,
        /// Apply with server-side apply.
        server_side_apply: Option<bool>,
        /// Do not install CRDs (deprecated, use crds).
        skip_crds as "skipCRDs": Option<bool>,
        /// Retry or remediation strategy.
        strategy: Option<InstallStrategy>,
        /// Time limit for the install.
        timeout: Option<String> => duration(),
    }
}

api_struct! {
    /// Helm upgrade settings.
    pub struct Upgrade {
        /// What to do when the chart name changes.
        chart_name_change_strategy: Option<String> => one_of(&["InPlaceUpdate", "Reinstall"]),
        /// Delete new objects when the upgrade fails.
        cleanup_on_fail: Option<bool>,
        /// CRD policy for the chart's crds/ directory.
        crds: Option<String> => one_of(&["Skip", "Create", "CreateReplace"]),
        /// Skip hooks.
        disable_hooks: Option<bool>,
        /// Skip OpenAPI validation of the manifests.
        disable_open_api_validation as "disableOpenAPIValidation": Option<bool>,
        /// Skip JSON schema validation of the values.
        disable_schema_validation: Option<bool>,
        /// Do not adopt existing objects.
        disable_take_ownership: Option<bool>,
        /// Do not wait for readiness.
        disable_wait: Option<bool>,
        /// Do not wait for jobs to complete.
        disable_wait_for_jobs: Option<bool>,
        /// Replace objects when patching fails.
        force: Option<bool>,
        /// Keep the values of the previous release.
        preserve_values: Option<bool>,
        /// Remediation on failure.
        remediation: Option<UpgradeRemediation>,
        /// Server-side apply policy.
        server_side_apply: Option<String> => one_of(&["enabled", "disabled", "auto"]),
        /// Retry or remediation strategy.
        strategy: Option<UpgradeStrategy>,
        /// Time limit for the upgrade.
        timeout: Option<String> => duration(),
    }
}

api_struct! {
    /// Helm test settings.
    pub struct Test {
        /// Run tests after install and upgrade.
        enable: Option<bool>,
        /// Which tests to run or skip.
        filters: Option<Vec<TestFilter>>,
        /// Do not fail the release when tests fail.
        ignore_failures: Option<bool>,
        /// Time limit for the tests.
        timeout: Option<String> => duration(),
    }
}

api_struct! {
    /// Selects a Helm test by name.
    pub struct TestFilter {
        /// Skip instead of run.
        exclude: Option<bool>,
        /// Test name.
        @req name: String => len(1, 253),
    }
}

api_struct! {
    /// Helm rollback settings.
    pub struct Rollback {
        /// Delete new objects when the rollback fails.
        cleanup_on_fail: Option<bool>,
        /// Skip hooks.
        disable_hooks: Option<bool>,
        /// Do not wait for readiness.
        disable_wait: Option<bool>,
        /// Do not wait for jobs to complete.
        disable_wait_for_jobs: Option<bool>,
        /// Replace objects when patching fails.
        force: Option<bool>,
        /// Restart pods.
        recreate: Option<bool>,
        /// Server-side apply policy.
        server_side_apply: Option<String> => one_of(&["enabled", "disabled", "auto"]),
        /// Time limit for the rollback.
        timeout: Option<String> => duration(),
    }
}

api_struct! {
    /// Helm uninstall settings.
    pub struct Uninstall {
        /// How dependents are deleted.
        deletion_propagation: Option<String> => one_of(&["background", "foreground", "orphan"]).default_value("background"),
        /// Skip hooks.
        disable_hooks: Option<bool>,
        /// Do not wait for deletion.
        disable_wait: Option<bool>,
        /// Keep the release history.
        keep_history: Option<bool>,
        /// Time limit for the uninstall.
        timeout: Option<String> => duration(),
    }
}

api_struct! {
    /// A ConfigMap or Secret key holding chart values.
    pub struct ValuesReference {
        /// Secret or ConfigMap.
        @req kind: String => one_of(&["Secret", "ConfigMap"]),
        /// Use the value as a literal string at the target path.
        literal: Option<bool>,
        /// Name of the object.
        @req name: String => len(1, 253),
        /// Do not fail when the object or key is missing.
        optional: Option<bool>,
        /// Where to put the value in the values tree.
        target_path: Option<String> => max_len(250).pattern(r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$"),
        /// Key in the object's data; values.yaml when unset.
        values_key: Option<String> => max_len(253).pattern(r"^[\-._a-zA-Z0-9]+$"),
    }
}

api_struct! {
    /// How to wait for readiness.
    pub struct WaitStrategy {
        /// Status poller or Helm's legacy waiter.
        @req name: String => one_of(&["poller", "legacy"]),
    }
}

api_struct! {
    /// A post-renderer.
    pub struct PostRenderer {
        /// Kustomize patches and image overrides.
        kustomize: Option<KustomizePostRenderer>,
    }
}

api_struct! {
    /// Kustomize applied to rendered manifests.
    pub struct KustomizePostRenderer {
        /// Image overrides.
        images: Option<Vec<KustomizeImage>>,
        /// Patches.
        patches: Option<Vec<Patch>>,
    }
}

api_struct! {
    /// Progress of one test hook.
    pub struct TestHookStatus {
        /// When the hook completed.
        last_completed: Option<String> => date_time(),
        /// When the hook started.
        last_started: Option<String> => date_time(),
        /// Hook phase.
        phase: Option<String>,
    }
}

api_struct! {
    /// One release revision in the history.
    pub struct ReleaseSnapshot {
        /// Helm action that produced it.
        action: Option<String>,
        /// API version of the snapshot format.
        api_version: Option<String>,
        /// Chart app version.
        app_version: Option<String>,
        /// Chart name.
        @req chart_name: String,
        /// Chart version.
        @req chart_version: String,
        /// Digest of the values.
        @req config_digest: String,
        /// When it was deleted.
        deleted: Option<String> => date_time(),
        /// Digest of the release.
        @req digest: String,
        /// When it was first deployed.
        @req first_deployed: String => date_time(),
        /// When it was last deployed.
        @req last_deployed: String => date_time(),
        /// Release name.
        @req name: String,
        /// Release namespace.
        @req namespace: String,
        /// Digest of the OCI chart artifact.
        oci_digest: Option<String>,
        /// Helm status.
        @req status: String,
        /// Test hooks and their progress.
        test_hooks: Option<BTreeMap<String, TestHookStatus>>,
        /// Release revision.
        @req version: i64,
    }
}

api_struct! {
    /// What the helm controller last observed.
    pub struct HelmReleaseStatus {
        /// Conditions such as Ready and Released.
        conditions: Option<Vec<Condition>>,
        /// Failures since the last success.
        failures: Option<i64> => int64(),
        /// `<namespace>/<name>` of the generated HelmChart.
        helm_chart: Option<String>,
        /// Recent releases, newest first.
        history: Option<Vec<ReleaseSnapshot>>,
        /// Install failures since the last success.
        install_failures: Option<i64> => int64(),
        /// Objects of the release.
        inventory: Option<ResourceInventory>,
        /// Values digest of the last attempt.
        last_attempted_config_digest: Option<String>,
        /// Generation of the last attempt.
        last_attempted_generation: Option<i64> => int64(),
        /// Action of the last attempt.
        last_attempted_release_action: Option<String> => one_of(&["install", "upgrade"]),
        /// Duration of the last attempt.
        last_attempted_release_action_duration: Option<String>,
        /// Chart revision of the last attempt.
        last_attempted_revision: Option<String>,
        /// Chart digest of the last attempt.
        last_attempted_revision_digest: Option<String>,
        /// Values checksum of the last attempt (legacy).
        last_attempted_values_checksum: Option<String>,
        /// Value of the force annotation last acted on.
        last_handled_force_at: Option<String>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Value of the reset annotation last acted on.
        last_handled_reset_at: Option<String>,
        /// Revision of the last release (legacy).
        last_release_revision: Option<i64>,
        /// Digest of the common metadata last applied.
        observed_common_metadata_digest: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Digest of the post-renderers last applied.
        observed_post_renderers_digest: Option<String>,
        /// Namespace of the Helm storage.
        storage_namespace: Option<String> => len(1, 63),
        /// Upgrade failures since the last success.
        upgrade_failures: Option<i64> => int64(),
    }
}

api_kind! {
    /// A Helm release that Flux installs, upgrades, tests and rolls back.
    HelmRelease { group: "helm.toolkit.fluxcd.io", version: "v2", spec: HelmReleaseSpec,
        status: HelmReleaseStatus, status_default: status_default() }
}

pub(crate) fn resources() -> Vec<ResourceInfo> {
    vec![ResourceInfo {
        group: GROUP,
        kind: "HelmRelease",
        list_kind: "HelmReleaseList",
        plural: "helmreleases",
        singular: "helmrelease",
        short_names: &["hr"],
        categories: &["all", "fluxcd", "fluxcd-appliers"],
        namespaced: true,
        versions: vec![VersionInfo {
            name: "v2",
            storage: true,
            deprecated: false,
            deprecation_warning: None,
            status_subresource: true,
            printer_columns: vec![AGE, READY, STATUS],
            schema: HelmRelease::schema(),
        }],
    }]
}
