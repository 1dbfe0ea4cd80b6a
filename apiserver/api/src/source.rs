//! `source.toolkit.fluxcd.io`: where Flux gets content from (Git, Helm, OCI, buckets).
//!
//! The typed structs describe v1, the storage version. The v1beta2 schemas are derived from the
//! v1 ones by [`v1beta2_schema`], which applies the few differences between the two versions.

use crate::meta::{AccessFrom, Artifact, Condition, LocalObjectReference, OidcIdentityMatch, status_default};
use crate::resource::{AGE, READY, ResourceInfo, STATUS, VersionInfo, api_kind, col};
use crate::schema::Schema;
use crate::schema::api_struct;

/// The API group.
pub const GROUP: &str = "source.toolkit.fluxcd.io";

// ---------------------------------------------------------------- GitRepository

api_struct! {
    /// Which Git repository to fetch, which reference to follow and how to authenticate.
    @schema rule("!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))",
                 "serviceAccountName can only be set when provider is 'azure' or 'aws'");
    pub struct GitRepositorySpec {
        /// Extra ignore patterns in .gitignore syntax, replacing the built-in defaults.
        ignore: Option<String>,
        /// Other GitRepositories whose artifacts are copied into this one's.
        include: Option<Vec<GitRepositoryInclude>>,
        /// How often to look for new commits.
        @req interval: String => duration(),
        /// Cloud identity provider used to authenticate; `generic` when unset.
        provider: Option<String> => one_of(&["generic", "aws", "azure", "github"]),
        /// Secret with the proxy address and credentials for reaching the Git server.
        proxy_secret_ref: Option<LocalObjectReference>,
        /// Also clone the submodules of the repository.
        recurse_submodules: Option<bool>,
        /// The branch, tag, semver range, ref name or commit to follow; `master` when unset.
        r#ref: Option<GitRepositoryRef>,
        /// Secret with HTTPS (username/password or bearer token) or SSH (identity, known_hosts)
        /// credentials.
        secret_ref: Option<LocalObjectReference>,
        /// Kubernetes service account used for workload identity with the aws and azure providers.
        service_account_name: Option<String>,
        /// Directories to check out; the whole tree when unset.
        sparse_checkout: Option<Vec<String>>,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Time limit for Git operations.
        timeout: Option<String> => timeout().default_value("60s"),
        /// Repository address (http, https or ssh).
        @req url: String => pattern("^(http|https|ssh)://.*$"),
        /// Verify commit or tag signatures against the given keys.
        verify: Option<GitRepositoryVerification>,
    }
}

api_struct! {
    /// Copies the artifact of another GitRepository into this one.
    pub struct GitRepositoryInclude {
        /// Path inside the included artifact to copy; its root when unset.
        from_path: Option<String>,
        /// The GitRepository to include.
        @req repository: LocalObjectReference,
        /// Destination path; the included repository's name when unset.
        to_path: Option<String>,
    }
}

api_struct! {
    /// A Git reference. When several are set the most specific wins: commit, then name, then
    /// semver, then tag, then branch (see [`GitRepositoryRef::effective`]).
    pub struct GitRepositoryRef {
        /// Branch to follow.
        branch: Option<String>,
        /// Exact commit SHA; may be combined with branch for a shallow clone.
        commit: Option<String>,
        /// Full reference name such as `refs/heads/main` or `refs/pull/1/head`.
        name: Option<String>,
        /// Semantic version range matched against tags.
        semver: Option<String>,
        /// Tag to check out.
        tag: Option<String>,
    }
}

/// The one reference Flux acts on after applying the precedence rules of [`GitRepositoryRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveGitRef<'a> {
    /// A commit, possibly reached through a branch.
    Commit {
        /// The commit SHA.
        commit: &'a str,
        /// The branch to shallow-clone, if given.
        branch: Option<&'a str>,
    },
    /// A full reference name.
    Name(&'a str),
    /// The highest tag in a semver range.
    Semver(&'a str),
    /// A tag.
    Tag(&'a str),
    /// A branch (`master` when nothing at all is set).
    Branch(&'a str),
}

impl GitRepositoryRef {
    /// Applies Flux's precedence: commit > name > semver > tag > branch > `master`.
    /// Empty strings count as unset, as in Flux.
    #[must_use]
    pub fn effective(&self) -> EffectiveGitRef<'_> {
        fn set(v: Option<&String>) -> Option<&str> {
            v.map(String::as_str).filter(|s| !s.is_empty())
        }
        if let Some(commit) = set(self.commit.as_ref()) {
            EffectiveGitRef::Commit { commit, branch: set(self.branch.as_ref()) }
        } else if let Some(n) = set(self.name.as_ref()) {
            EffectiveGitRef::Name(n)
        } else if let Some(s) = set(self.semver.as_ref()) {
            EffectiveGitRef::Semver(s)
        } else if let Some(t) = set(self.tag.as_ref()) {
            EffectiveGitRef::Tag(t)
        } else {
            EffectiveGitRef::Branch(set(self.branch.as_ref()).unwrap_or("master"))
        }
    }
}

api_struct! {
    /// Signature verification settings for Git.
    pub struct GitRepositoryVerification {
        /// What to verify: the HEAD commit, the tag, or both.
        mode: Option<String> => one_of(&["head", "HEAD", "Tag", "TagAndHEAD"]).default_value("HEAD"),
        /// Secret with the trusted PGP public keys.
        @req secret_ref: LocalObjectReference,
    }
}

api_struct! {
    /// What the GitRepository controller last observed.
    pub struct GitRepositoryStatus {
        /// The artifact produced from the last fetched revision.
        artifact: Option<Artifact>,
        /// Conditions such as Ready, Reconciling and Stalled.
        conditions: Option<Vec<Condition>>,
        /// Artifacts of the included repositories.
        included_artifacts: Option<Vec<Artifact>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// The ignore patterns used for the current artifact.
        observed_ignore: Option<String>,
        /// The includes used for the current artifact.
        observed_include: Option<Vec<GitRepositoryInclude>>,
        /// The submodule setting used for the current artifact.
        observed_recurse_submodules: Option<bool>,
        /// The sparse checkout used for the current artifact.
        observed_sparse_checkout: Option<Vec<String>>,
        /// Fingerprint of the public keys that verified the current artifact, so a key
        /// rotation triggers a new verification (source-controller v1.10).
        source_verification_fingerprint: Option<String>,
        /// What was verified for the current artifact.
        source_verification_mode: Option<String>,
    }
}

api_kind! {
    /// A Git repository that Flux fetches into an artifact.
    GitRepository { group: "source.toolkit.fluxcd.io", version: "v1", spec: GitRepositorySpec,
        status: GitRepositoryStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- HelmRepository

api_struct! {
    /// A Helm chart repository: an HTTP index or an OCI registry.
    pub struct HelmRepositorySpec {
        /// Namespaces allowed to use this repository.
        access_from: Option<AccessFrom>,
        /// Secret with TLS client certificate, key and CA.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Allow plain HTTP for OCI registries.
        insecure: Option<bool>,
        /// How often to download the index.
        interval: Option<String> => duration(),
        /// Send the credentials to hosts other than the repository's too.
        pass_credentials: Option<bool>,
        /// Cloud identity provider for OCI registries.
        provider: Option<String> => one_of(&["generic", "aws", "azure", "gcp"]).default_value("generic"),
        /// Secret with basic-auth or TLS credentials.
        secret_ref: Option<LocalObjectReference>,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Time limit for index downloads.
        timeout: Option<String> => timeout(),
        /// `default` for an HTTP index, `oci` for an OCI registry.
        r#type: Option<String> => one_of(&["default", "oci"]),
        /// Repository address.
        @req url: String => pattern("^(http|https|oci)://.*$"),
    }
}

api_struct! {
    /// What the HelmRepository controller last observed.
    pub struct HelmRepositoryStatus {
        /// The stored index.
        artifact: Option<Artifact>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Address of the stored index.
        url: Option<String>,
    }
}

api_kind! {
    /// A Helm repository whose index Flux keeps up to date.
    HelmRepository { group: "source.toolkit.fluxcd.io", version: "v1", spec: HelmRepositorySpec,
        status: HelmRepositoryStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- HelmChart

api_struct! {
    /// A chart to fetch from a HelmRepository, GitRepository or Bucket.
    @schema rule("!has(self.verify) || self.sourceRef.kind == 'HelmRepository'",
                 "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'");
    pub struct HelmChartSpec {
        /// Chart name in a repository, or path to the chart in a Git or bucket source.
        @req chart: String,
        /// Do not fail when a listed values file is missing.
        ignore_missing_values_files: Option<bool>,
        /// How often to check the source for a new chart.
        @req interval: String => duration(),
        /// Whether a new chart version or a new source revision triggers a rebuild.
        reconcile_strategy: Option<String> => one_of(&["ChartVersion", "Revision"]).default_value("ChartVersion"),
        /// The source holding the chart.
        @req source_ref: LocalHelmChartSourceReference,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Values files merged in order into the chart's values.yaml.
        values_files: Option<Vec<String>>,
        /// Verify the chart's OCI signature.
        verify: Option<OciVerification>,
        /// Semver range of chart versions; the latest when `*`.
        version: Option<String> => default_value("*"),
    }
}

api_struct! {
    /// A source in the same namespace that can hold a Helm chart.
    pub struct LocalHelmChartSourceReference {
        /// API version of the source.
        api_version: Option<String>,
        /// Kind of the source.
        @req kind: String => one_of(&["HelmRepository", "GitRepository", "Bucket"]),
        /// Name of the source.
        @req name: String,
    }
}

api_struct! {
    /// Signature verification for OCI artifacts (cosign or notation).
    pub struct OciVerification {
        /// Keyless identities the signature must match.
        match_oidc_identity as "matchOIDCIdentity": Option<Vec<OidcIdentityMatch>>,
        /// Signing tool.
        @req provider: String => one_of(&["cosign", "notation"]).default_value("cosign"),
        /// Secret with the trusted public keys or certificates.
        secret_ref: Option<LocalObjectReference>,
    }
}

api_struct! {
    /// What the HelmChart controller last observed.
    pub struct HelmChartStatus {
        /// The packaged chart.
        artifact: Option<Artifact>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Chart name last resolved.
        observed_chart_name: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Source revision last used.
        observed_source_artifact_revision: Option<String>,
        /// Values files last merged.
        observed_values_files: Option<Vec<String>>,
        /// Address of the packaged chart.
        url: Option<String>,
    }
}

api_kind! {
    /// A Helm chart packaged by Flux from a source.
    HelmChart { group: "source.toolkit.fluxcd.io", version: "v1", spec: HelmChartSpec,
        status: HelmChartStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- OCIRepository

api_struct! {
    /// An OCI artifact to pull from a container registry.
    pub struct OciRepositorySpec {
        /// Secret with TLS client certificate, key and CA.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Extra ignore patterns in .gitignore syntax.
        ignore: Option<String>,
        /// Allow plain HTTP registries.
        insecure: Option<bool>,
        /// How often to look for a new digest.
        @req interval: String => duration(),
        /// Which layer to use and whether to extract it.
        layer_selector: Option<OciLayerSelector>,
        /// Cloud identity provider.
        provider: Option<String> => one_of(&["generic", "aws", "azure", "gcp"]).default_value("generic"),
        /// Secret with the proxy address and credentials.
        proxy_secret_ref: Option<LocalObjectReference>,
        /// Tag, semver range or digest to pull; `latest` when unset.
        r#ref: Option<OciRepositoryRef>,
        /// Docker-config Secret with registry credentials.
        secret_ref: Option<LocalObjectReference>,
        /// Service account whose image pull secrets are used.
        service_account_name: Option<String>,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Time limit for registry operations.
        timeout: Option<String> => timeout().default_value("60s"),
        /// Artifact address starting with oci://.
        @req url: String => pattern("^oci://.*$"),
        /// Verify the artifact's signature.
        verify: Option<OciRepositoryVerification>,
    }
}

api_struct! {
    /// Chooses a layer of an OCI artifact by media type.
    pub struct OciLayerSelector {
        /// Media type of the layer; the first layer when unset.
        media_type: Option<String>,
        /// `extract` the tarball (default) or `copy` it as is.
        operation: Option<String> => one_of(&["extract", "copy"]),
    }
}

api_struct! {
    /// An OCI reference. Digest wins over semver, semver over tag.
    pub struct OciRepositoryRef {
        /// Exact image digest.
        digest: Option<String>,
        /// Semver range matched against tags.
        semver: Option<String>,
        /// Regular expression restricting which tags semver considers.
        semver_filter: Option<String>,
        /// Tag to pull.
        tag: Option<String>,
    }
}

api_struct! {
    /// Signature verification for OCIRepository, with an optional trusted root.
    pub struct OciRepositoryVerification {
        /// Keyless identities the signature must match.
        match_oidc_identity as "matchOIDCIdentity": Option<Vec<OidcIdentityMatch>>,
        /// Signing tool.
        @req provider: String => one_of(&["cosign", "notation"]).default_value("cosign"),
        /// Secret with the trusted public keys or certificates.
        secret_ref: Option<LocalObjectReference>,
        /// Secret with a custom Sigstore trusted root.
        trusted_root_secret_ref: Option<LocalObjectReference>,
    }
}

api_struct! {
    /// What the OCIRepository controller last observed.
    pub struct OciRepositoryStatus {
        /// The stored artifact.
        artifact: Option<Artifact>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Ignore patterns last used.
        observed_ignore: Option<String>,
        /// Layer selector last used.
        observed_layer_selector: Option<OciLayerSelector>,
        /// Address of the stored artifact.
        url: Option<String>,
    }
}

api_kind! {
    /// An OCI artifact that Flux pulls into a local artifact.
    OCIRepository { group: "source.toolkit.fluxcd.io", version: "v1", spec: OciRepositorySpec,
        status: OciRepositoryStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- Bucket

api_struct! {
    /// An S3-compatible, GCS or Azure Blob bucket to download.
    @schema
        rule("self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)",
             "STS configuration is only supported for the 'aws' and 'generic' Bucket providers")
        .rule("self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'",
              "'aws' is the only supported STS provider for the 'aws' Bucket provider")
        .rule("self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'",
              "'ldap' is the only supported STS provider for the 'generic' Bucket provider")
        .rule("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)",
              "spec.sts.secretRef is not required for the 'aws' STS provider")
        .rule("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)",
              "spec.sts.certSecretRef is not required for the 'aws' STS provider")
        .rule("self.provider != 'generic' || !has(self.serviceAccountName)",
              "ServiceAccountName is not supported for the 'generic' Bucket provider")
        .rule("!has(self.secretRef) || !has(self.serviceAccountName)",
              "cannot set both .spec.secretRef and .spec.serviceAccountName");
    pub struct BucketSpec {
        /// Name of the bucket.
        @req bucket_name: String,
        /// Secret with TLS client certificate, key and CA.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Host (and port) of the storage service.
        @req endpoint: String,
        /// Extra ignore patterns in .gitignore syntax.
        ignore: Option<String>,
        /// Use plain HTTP.
        insecure: Option<bool>,
        /// How often to look for changed objects.
        @req interval: String => duration(),
        /// Only download keys with this prefix.
        prefix: Option<String>,
        /// Storage flavour and identity provider.
        provider: Option<String> => one_of(&["generic", "aws", "gcp", "azure"]).default_value("generic"),
        /// Secret with the proxy address and credentials.
        proxy_secret_ref: Option<LocalObjectReference>,
        /// Region of the bucket.
        region: Option<String>,
        /// Secret with access keys.
        secret_ref: Option<LocalObjectReference>,
        /// Service account used for workload identity.
        service_account_name: Option<String>,
        /// Security token service that issues temporary credentials.
        sts: Option<BucketStsSpec>,
        /// Stop reconciling while true.
        suspend: Option<bool>,
        /// Time limit for bucket operations.
        timeout: Option<String> => timeout().default_value("60s"),
    }
}

api_struct! {
    /// A security token service for temporary bucket credentials.
    pub struct BucketStsSpec {
        /// Secret with TLS settings for the STS endpoint.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Address of the STS.
        @req endpoint: String => pattern("^(http|https)://.*$"),
        /// Kind of STS.
        @req provider: String => one_of(&["aws", "ldap"]),
        /// Secret with STS credentials (ldap only).
        secret_ref: Option<LocalObjectReference>,
    }
}

api_struct! {
    /// What the Bucket controller last observed.
    pub struct BucketStatus {
        /// The stored artifact.
        artifact: Option<Artifact>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Ignore patterns last used.
        observed_ignore: Option<String>,
        /// Address of the stored artifact.
        url: Option<String>,
    }
}

api_kind! {
    /// A storage bucket whose objects Flux downloads into an artifact.
    Bucket { group: "source.toolkit.fluxcd.io", version: "v1", spec: BucketSpec,
        status: BucketStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- ExternalArtifact

api_struct! {
    /// An artifact produced by a controller other than Flux's source controller.
    pub struct ExternalArtifactSpec {
        /// The object that produces the artifact.
        source_ref: Option<NamespacedObjectKindReference>,
    }
}

api_struct! {
    /// A reference to an object of any kind, optionally in another namespace.
    pub struct NamespacedObjectKindReference {
        /// API version of the object.
        api_version: Option<String>,
        /// Kind of the object.
        @req kind: String,
        /// Name of the object.
        @req name: String,
        /// Namespace; the referrer's own when unset.
        namespace: Option<String>,
    }
}

api_struct! {
    /// What the producer last published.
    pub struct ExternalArtifactStatus {
        /// The published artifact.
        artifact: Option<Artifact>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
    }
}

api_kind! {
    /// An artifact published by a third-party controller for Flux appliers to consume.
    ExternalArtifact { group: "source.toolkit.fluxcd.io", version: "v1", spec: ExternalArtifactSpec,
        status: ExternalArtifactStatus }
}

// ---------------------------------------------------------------- v1beta2

/// The v1beta2 schema of a source kind, derived from v1.
///
/// Differences: v1beta2 still has `spec.accessFrom` (Git, HelmChart, Bucket),
/// `spec.gitImplementation`, GitRepository `status.url` and `status.contentConfigChecksum`,
/// HelmChart `spec.valuesFile`; it lacks several newer v1 fields and some CEL rules; and its
/// GitRepository verification only knows mode `head`, which is required.
#[must_use]
pub fn v1beta2_schema(kind: &str, v1: Schema) -> Schema {
    let access_from = <AccessFrom as crate::schema::ApiSchema>::schema()
        .describe("Namespaces allowed to use this source (unused since v1).");
    match kind {
        "GitRepository" => v1
            .edit_path("spec", |s| {
                let mut s = s
                    .without("provider")
                    .without("proxySecretRef")
                    .without("serviceAccountName")
                    .without("sparseCheckout")
                    .prop("accessFrom", access_from)
                    .prop(
                        "gitImplementation",
                        Schema::string()
                            .describe("Git client library; ignored since libgit2 was removed.")
                            .one_of(&["go-git", "libgit2"])
                            .default_value("go-git"),
                    )
                    .edit("verify", |v| {
                        v.edit("mode", |m| {
                            let mut m = m.one_of(&["head"]);
                            m.default = None;
                            m
                        })
                        .required(&["mode", "secretRef"])
                    });
                s.validations.clear();
                s
            })
            .edit_path("status", |s| {
                s.without("observedSparseCheckout")
                    .without("sourceVerificationMode")
                    .without("sourceVerificationFingerprint")
                    .prop(
                        "contentConfigChecksum",
                        Schema::string().describe("Checksum of the content settings (legacy)."),
                    )
                    .prop("url", Schema::string().describe("Address of the stored artifact."))
            }),
        "HelmChart" => v1.edit_path("spec", |s| {
            let mut s = s
                .prop("accessFrom", access_from)
                .prop("valuesFile", Schema::string().describe("A single values file (replaced by valuesFiles)."));
            s.validations.clear();
            s
        }),
        "Bucket" => v1.edit_path("spec", |s| {
            let mut s = s.without("serviceAccountName").prop("accessFrom", access_from);
            s.validations.truncate(5);
            s
        }),
        "OCIRepository" => {
            v1.edit_path("spec.verify", |v| v.without("trustedRootSecretRef")).edit_path("status", |s| {
                s.prop("contentConfigChecksum", Schema::string().describe("Checksum of the content settings (legacy)."))
            })
        }
        _ => v1,
    }
}

fn source_cols(first: &[crate::resource::PrinterColumn], age_first: bool) -> Vec<crate::resource::PrinterColumn> {
    let mut v = first.to_vec();
    if age_first {
        v.extend([AGE, READY, STATUS]);
    } else {
        v.extend([READY, STATUS, AGE]);
    }
    v
}

fn with_beta(kind: &'static str, v1: Schema, cols: &[crate::resource::PrinterColumn]) -> Vec<VersionInfo> {
    let beta = v1beta2_schema(kind, v1.clone());
    vec![
        VersionInfo {
            name: "v1",
            storage: true,
            deprecated: false,
            deprecation_warning: None,
            status_subresource: true,
            printer_columns: cols.to_vec(),
            schema: v1,
        },
        VersionInfo {
            name: "v1beta2",
            storage: false,
            deprecated: true,
            deprecation_warning: Some(deprecation(kind)),
            status_subresource: true,
            printer_columns: cols.to_vec(),
            schema: beta,
        },
    ]
}

fn deprecation(kind: &str) -> &'static str {
    match kind {
        "GitRepository" => "v1beta2 GitRepository is deprecated, upgrade to v1",
        "HelmRepository" => "v1beta2 HelmRepository is deprecated, upgrade to v1",
        "HelmChart" => "v1beta2 HelmChart is deprecated, upgrade to v1",
        "OCIRepository" => "v1beta2 OCIRepository is deprecated, upgrade to v1",
        "Bucket" => "v1beta2 Bucket is deprecated, upgrade to v1",
        _ => "v1beta2 is deprecated, upgrade to v1",
    }
}

const SOURCE_CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-sources"];

/// The registry entries of this group.
pub(crate) fn resources() -> Vec<ResourceInfo> {
    let url = col("URL", ".spec.url");
    vec![
        ResourceInfo {
            group: GROUP,
            kind: "GitRepository",
            list_kind: "GitRepositoryList",
            plural: "gitrepositories",
            singular: "gitrepository",
            short_names: &["gitrepo"],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: with_beta(
                "GitRepository",
                GitRepository::schema(),
                &source_cols(std::slice::from_ref(&url), true),
            ),
        },
        ResourceInfo {
            group: GROUP,
            kind: "HelmRepository",
            list_kind: "HelmRepositoryList",
            plural: "helmrepositories",
            singular: "helmrepository",
            short_names: &["helmrepo"],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: with_beta(
                "HelmRepository",
                HelmRepository::schema(),
                &source_cols(std::slice::from_ref(&url), true),
            ),
        },
        ResourceInfo {
            group: GROUP,
            kind: "HelmChart",
            list_kind: "HelmChartList",
            plural: "helmcharts",
            singular: "helmchart",
            short_names: &["hc"],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: with_beta(
                "HelmChart",
                HelmChart::schema(),
                &source_cols(
                    &[
                        col("Chart", ".spec.chart"),
                        col("Version", ".spec.version"),
                        col("Source Kind", ".spec.sourceRef.kind"),
                        col("Source Name", ".spec.sourceRef.name"),
                    ],
                    true,
                ),
            ),
        },
        ResourceInfo {
            group: GROUP,
            kind: "OCIRepository",
            list_kind: "OCIRepositoryList",
            plural: "ocirepositories",
            singular: "ocirepository",
            short_names: &["ocirepo"],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: with_beta("OCIRepository", OCIRepository::schema(), &source_cols(&[url], false)),
        },
        ResourceInfo {
            group: GROUP,
            kind: "Bucket",
            list_kind: "BucketList",
            plural: "buckets",
            singular: "bucket",
            short_names: &[],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: with_beta("Bucket", Bucket::schema(), &source_cols(&[col("Endpoint", ".spec.endpoint")], true)),
        },
        ResourceInfo {
            group: GROUP,
            kind: "ExternalArtifact",
            list_kind: "ExternalArtifactList",
            plural: "externalartifacts",
            singular: "externalartifact",
            short_names: &["ea"],
            categories: SOURCE_CATEGORIES,
            namespaced: true,
            versions: vec![VersionInfo {
                name: "v1",
                storage: true,
                deprecated: false,
                deprecation_warning: None,
                status_subresource: true,
                printer_columns: vec![AGE, READY, STATUS, col("Source", ".spec.sourceRef.name")],
                schema: ExternalArtifact::schema(),
            }],
        },
    ]
}
