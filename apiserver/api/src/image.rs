//! `image.toolkit.fluxcd.io`: scanning registries (ImageRepository), choosing tags
//! (ImagePolicy) and writing them back to Git (ImageUpdateAutomation).
//!
//! v1 is the storage version; v1beta2 has the same schema except that ImageUpdateAutomation's
//! `spec.git.commit.signingKey.type` does not exist there.

use std::collections::BTreeMap;

use crate::meta::{AccessFrom, Condition, LabelSelector, LocalObjectReference, status_default};
use crate::resource::{AGE, PrinterColumn, READY, ResourceInfo, STATUS, VersionInfo, api_kind, col};
use crate::schema::Schema;
use crate::schema::api_struct;

/// The API group.
pub const GROUP: &str = "image.toolkit.fluxcd.io";

// ---------------------------------------------------------------- ImageRepository

api_struct! {
    /// Which image to scan for tags and how to reach its registry.
    pub struct ImageRepositorySpec {
        /// Namespaces allowed to refer to this repository from an ImagePolicy.
        access_from: Option<AccessFrom>,
        /// Secret with TLS client certificate, key and CA.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Regular expressions of tags to ignore.
        exclusion_list: Option<Vec<String>> => max_items(25).default_json(serde_json::json!(["^.*\\.sig$"])),
        /// Image name without tag, e.g. `ghcr.io/org/app`.
        @req image: String,
        /// Allow plain HTTP registries.
        insecure: Option<bool>,
        /// How often to scan.
        @req interval: String => duration(),
        /// Cloud identity provider.
        provider: Option<String> => one_of(&["generic", "aws", "azure", "gcp"]).default_value("generic"),
        /// Secret with the proxy address and credentials.
        proxy_secret_ref: Option<LocalObjectReference>,
        /// Docker-config Secret with registry credentials.
        secret_ref: Option<LocalObjectReference>,
        /// Service account whose image pull secrets are used.
        service_account_name: Option<String> => max_len(253),
        /// Stop scanning while true.
        suspend: Option<bool>,
        /// Time limit for one scan.
        timeout: Option<String> => timeout(),
    }
}

api_struct! {
    /// Summary of the last scan.
    pub struct ScanResult {
        /// The most recent tags found.
        latest_tags: Option<Vec<String>>,
        /// Digest of the tag list.
        revision: Option<String>,
        /// When the scan ran.
        scan_time: Option<String> => date_time(),
        /// Number of tags found.
        @req tag_count: i64,
    }
}

api_struct! {
    /// What the image reflector last observed for a repository.
    pub struct ImageRepositoryStatus {
        /// Image name with the registry host made explicit.
        canonical_image_name: Option<String>,
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Result of the last scan.
        last_scan_result: Option<ScanResult>,
        /// Exclusion list used by the last scan.
        observed_exclusion_list: Option<Vec<String>>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
    }
}

api_kind! {
    /// A container image repository whose tags Flux scans.
    ImageRepository { group: "image.toolkit.fluxcd.io", version: "v1", spec: ImageRepositorySpec,
        status: ImageRepositoryStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- ImagePolicy

api_struct! {
    /// How to pick the latest image from a repository's tags.
    @schema
        rule("!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')",
             "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'")
        .rule("has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'",
              "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'");
    pub struct ImagePolicySpec {
        /// When to look up the digest of the chosen tag.
        digest_reflection_policy: Option<String> => one_of(&["Always", "IfNotPresent", "Never"]).default_value("Never"),
        /// Which tags take part, and which part of them is compared.
        filter_tags: Option<TagFilter>,
        /// The ImageRepository providing the tags.
        @req image_repository_ref: NamespacedObjectReference,
        /// How often to refresh the digest when the policy is Always.
        interval: Option<String> => duration(),
        /// The ordering rule.
        @req policy: ImagePolicyChoice,
        /// Stop evaluating while true.
        suspend: Option<bool>,
    }
}

api_struct! {
    /// An object reference by name and optional namespace.
    pub struct NamespacedObjectReference {
        /// Name of the object.
        @req name: String,
        /// Namespace of the object; the referrer's own when unset.
        namespace: Option<String>,
    }
}

api_struct! {
    /// Tag filtering before ordering.
    pub struct TagFilter {
        /// Replacement (with capture groups) producing the value compared.
        extract: Option<String>,
        /// Regular expression tags must match.
        pattern: Option<String>,
    }
}

api_struct! {
    /// Exactly one ordering rule.
    pub struct ImagePolicyChoice {
        /// Order tags alphabetically.
        alphabetical: Option<Ordering>,
        /// Order tags as numbers.
        numerical: Option<Ordering>,
        /// Pick the highest tag in a semver range.
        semver: Option<SemVerPolicy>,
    }
}

api_struct! {
    /// Sort direction.
    pub struct Ordering {
        /// asc or desc.
        order: Option<String> => one_of(&["asc", "desc"]).default_value("asc"),
    }
}

api_struct! {
    /// A semver range.
    pub struct SemVerPolicy {
        /// The range, e.g. `>=1.0.0 <2.0.0`.
        @req range: String,
    }
}

api_struct! {
    /// An image reference as name, tag and digest.
    pub struct ImageRef {
        /// Image digest.
        digest: Option<String>,
        /// Image name.
        @req name: String,
        /// Image tag.
        @req tag: String,
    }
}

api_struct! {
    /// What the image reflector last chose.
    pub struct ImagePolicyStatus {
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// The chosen image.
        latest_ref: Option<ImageRef>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// The image chosen before the latest one.
        observed_previous_ref: Option<ImageRef>,
    }
}

api_kind! {
    /// Picks the latest image tag from an ImageRepository by a rule.
    ImagePolicy { group: "image.toolkit.fluxcd.io", version: "v1", spec: ImagePolicySpec,
        status: ImagePolicyStatus, status_default: status_default() }
}

// ---------------------------------------------------------------- ImageUpdateAutomation

api_struct! {
    /// Which policies to apply to which Git repository, and how to commit and push.
    pub struct ImageUpdateAutomationSpec {
        /// Git settings.
        git: Option<GitSpec>,
        /// How often to run.
        @req interval: String => duration(),
        /// Which ImagePolicies take part; all in the namespace when unset.
        policy_selector: Option<LabelSelector>,
        /// The GitRepository to update.
        @req source_ref: CrossNamespaceSourceReference,
        /// Stop running while true.
        suspend: Option<bool>,
        /// Where and how to update files.
        update: Option<UpdateStrategy> => default_json(serde_json::json!({"strategy": "Setters"})),
    }
}

api_struct! {
    /// The Git repository to update.
    pub struct CrossNamespaceSourceReference {
        /// API version of the source.
        api_version: Option<String>,
        /// Kind of the source.
        @req kind: String => one_of(&["GitRepository"]).default_value("GitRepository"),
        /// Name of the source.
        @req name: String,
        /// Namespace of the source.
        namespace: Option<String>,
    }
}

api_struct! {
    /// Git checkout, commit and push settings.
    pub struct GitSpec {
        /// Reference to check out instead of the GitRepository's.
        checkout: Option<GitCheckoutSpec>,
        /// Commit settings.
        @req commit: CommitSpec,
        /// Push settings.
        push: Option<PushSpec>,
    }
}

api_struct! {
    /// A reference to check out.
    pub struct GitCheckoutSpec {
        /// The reference.
        @req r#ref: GitRef,
    }
}

api_struct! {
    /// A Git reference.
    pub struct GitRef {
        /// Branch.
        branch: Option<String>,
        /// Commit SHA.
        commit: Option<String>,
        /// Full reference name.
        name: Option<String>,
        /// Semver range over tags.
        semver: Option<String>,
        /// Tag.
        tag: Option<String>,
    }
}

api_struct! {
    /// How commits are written.
    pub struct CommitSpec {
        /// Commit author.
        @req author: CommitUser,
        /// Go template of the commit message.
        message_template: Option<String>,
        /// Extra values available to the template.
        message_template_values: Option<BTreeMap<String, String>>,
        /// Key used to sign commits.
        signing_key: Option<SigningKey>,
    }
}

api_struct! {
    /// A commit author.
    pub struct CommitUser {
        /// Email address.
        @req email: String,
        /// Display name.
        name: Option<String>,
    }
}

api_struct! {
    /// A commit signing key.
    pub struct SigningKey {
        /// Secret with the key.
        @req secret_ref: LocalObjectReference,
        /// Key format.
        r#type: Option<String> => one_of(&["gpg", "ssh"]),
    }
}

api_struct! {
    /// Where to push.
    pub struct PushSpec {
        /// Branch to push to; the checked-out one when unset.
        branch: Option<String>,
        /// Push options sent to the server.
        options: Option<BTreeMap<String, String>>,
        /// Refspec to push.
        refspec: Option<String>,
    }
}

api_struct! {
    /// How manifests are updated.
    pub struct UpdateStrategy {
        /// Directory to update; the repository root when unset.
        path: Option<String>,
        /// Update method (setter markers in YAML comments).
        strategy: Option<String> => one_of(&["Setters"]).default_value("Setters"),
    }
}

api_struct! {
    /// What the image automation controller last did.
    pub struct ImageUpdateAutomationStatus {
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// When the automation last ran.
        last_automation_run_time: Option<String> => date_time(),
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// SHA of the last pushed commit.
        last_push_commit: Option<String>,
        /// When the last push happened.
        last_push_time: Option<String> => date_time(),
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Policies applied in the last run, by name.
        observed_policies: Option<BTreeMap<String, ImageRef>>,
        /// Source revision of the last run.
        observed_source_revision: Option<String>,
    }
}

api_kind! {
    /// Updates image references in a Git repository from ImagePolicies.
    ImageUpdateAutomation { group: "image.toolkit.fluxcd.io", version: "v1", spec: ImageUpdateAutomationSpec,
        status: ImageUpdateAutomationStatus, status_default: status_default() }
}

/// The v1beta2 schema of an image kind, derived from v1.
#[must_use]
pub fn v1beta2_schema(kind: &str, v1: Schema) -> Schema {
    match kind {
        "ImageUpdateAutomation" => v1.edit_path("spec.git.commit.signingKey", |s| s.without("type")),
        _ => v1,
    }
}

fn versions(kind: &'static str, v1: Schema, cols: &[PrinterColumn], warning: &'static str) -> Vec<VersionInfo> {
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
            deprecation_warning: Some(warning),
            status_subresource: true,
            printer_columns: cols.to_vec(),
            schema: beta,
        },
    ]
}

const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-images"];

pub(crate) fn resources() -> Vec<ResourceInfo> {
    let last_scan = PrinterColumn { priority: 1, ..col("Last scan", ".status.lastScanResult.scanTime") };
    let last_run = PrinterColumn { priority: 1, ..col("Last run", ".status.lastAutomationRunTime") };
    vec![
        ResourceInfo {
            group: GROUP,
            kind: "ImageRepository",
            list_kind: "ImageRepositoryList",
            plural: "imagerepositories",
            singular: "imagerepository",
            short_names: &["imgrepo", "imagerepo"],
            categories: CATEGORIES,
            namespaced: true,
            versions: versions(
                "ImageRepository",
                ImageRepository::schema(),
                &[
                    col("Image", ".spec.image"),
                    col("Tags", ".status.lastScanResult.tagCount"),
                    READY,
                    STATUS,
                    last_scan,
                    AGE,
                ],
                "v1beta2 ImageRepository is deprecated, upgrade to v1",
            ),
        },
        ResourceInfo {
            group: GROUP,
            kind: "ImagePolicy",
            list_kind: "ImagePolicyList",
            plural: "imagepolicies",
            singular: "imagepolicy",
            short_names: &["imgpol", "imagepol"],
            categories: CATEGORIES,
            namespaced: true,
            versions: versions(
                "ImagePolicy",
                ImagePolicy::schema(),
                &[col("Image", ".status.latestRef.name"), col("Tag", ".status.latestRef.tag"), READY, STATUS, AGE],
                "v1beta2 ImagePolicy is deprecated, upgrade to v1",
            ),
        },
        ResourceInfo {
            group: GROUP,
            kind: "ImageUpdateAutomation",
            list_kind: "ImageUpdateAutomationList",
            plural: "imageupdateautomations",
            singular: "imageupdateautomation",
            short_names: &["iua", "imgupd", "imgauto"],
            categories: CATEGORIES,
            namespaced: true,
            versions: versions(
                "ImageUpdateAutomation",
                ImageUpdateAutomation::schema(),
                &[READY, STATUS, last_run, AGE],
                "v1beta2 ImageUpdateAutomation is deprecated, upgrade to v1",
            ),
        },
    ]
}
