//! Types shared by several Flux kinds: object metadata, conditions, references, artifacts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema::api_struct;
use crate::schema::{ApiSchema, Schema, SkipField};

/// The Kubernetes object metadata Eddy keeps typed. Fields this struct does not name are kept
/// in `extra` so that a round trip through the typed form loses nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Unique name of the object inside its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Prefix the server uses to invent a name when `name` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Namespace the object lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Identifying key/value pairs, usable in selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Free-form key/value pairs for tools and humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Server-assigned unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Opaque version used for optimistic concurrency and watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Sequence number of the desired state, bumped on every spec change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// When the object was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// When deletion was requested (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    /// Names of the finalizers that must finish before the object goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
    /// Every other metadata field (owner references, managed fields, ...), kept as JSON.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl SkipField for ObjectMeta {}

impl ApiSchema for ObjectMeta {
    fn schema() -> Schema {
        Schema::object()
    }
}

api_struct! {
    /// A reference to an object in the same namespace, by name.
    pub struct LocalObjectReference {
        /// Name of the object referred to.
        @req name: String,
    }
}

api_struct! {
    /// A reference to one key of a Secret in the same namespace.
    pub struct SecretKeyReference {
        /// Name of the Secret.
        @req name: String,
        /// The key in the Secret's data; a default is used when empty.
        key: Option<String>,
    }
}

api_struct! {
    /// Where to find a kubeconfig for acting on a remote cluster.
    @schema
        rule("has(self.configMapRef) || has(self.secretRef)",
             "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified")
        .rule("!has(self.configMapRef) || !has(self.secretRef)",
             "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified");
    pub struct KubeConfigReference {
        /// A ConfigMap describing a cluster reached with workload identity.
        config_map_ref: Option<LocalObjectReference>,
        /// A Secret holding a full kubeconfig file.
        secret_ref: Option<SecretKeyReference>,
    }
}

api_struct! {
    /// The observed state of one aspect of an object, in the shape of Kubernetes' metav1.Condition.
    pub struct Condition {
        /// When the status last changed.
        @req last_transition_time: String => date_time(),
        /// Explanation of the state for humans.
        @req message: String => max_len(32768),
        /// The generation the condition was computed for.
        observed_generation: Option<i64> => int64().min(0),
        /// A CamelCase machine-readable cause.
        @req reason: String => len(1, 1024).pattern(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
        /// True, False or Unknown.
        @req status: String => one_of(&["True", "False", "Unknown"]),
        /// The condition's kind, e.g. Ready.
        @req r#type: String => max_len(316).pattern(CONDITION_TYPE),
    }
}

/// The pattern of `Condition.type`: an optional DNS-subdomain prefix and a qualified name.
pub const CONDITION_TYPE: &str =
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

api_struct! {
    /// A file produced by a source and served to other controllers.
    pub struct Artifact {
        /// Checksum of the file as `<algorithm>:<hex>`.
        @req digest: String => pattern(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"),
        /// When the file was last produced.
        @req last_update_time: String => date_time(),
        /// Free-form facts about the artifact, such as OCI annotations.
        metadata: Option<BTreeMap<String, String>>,
        /// Path of the file relative to the storage root.
        @req path: String,
        /// Human readable identity of the content, e.g. `main@sha1:<commit>`.
        @req revision: String,
        /// Size in bytes.
        size: Option<i64> => int64(),
        /// HTTP address the file can be downloaded from.
        @req url: String,
    }
}

api_struct! {
    /// Label selector for namespaces allowed to reference an object.
    pub struct NamespaceSelector {
        /// Labels a namespace must carry.
        match_labels: Option<BTreeMap<String, String>>,
    }
}

api_struct! {
    /// Cross-namespace access control list.
    pub struct AccessFrom {
        /// Namespaces matched by any of these selectors may refer to the object.
        @req namespace_selectors: Vec<NamespaceSelector>,
    }
}

api_struct! {
    /// An OIDC identity that a keyless signature must match.
    pub struct OidcIdentityMatch {
        /// Regular expression for the token issuer.
        @req issuer: String,
        /// Regular expression for the token subject.
        @req subject: String,
    }
}

api_struct! {
    /// Labels and annotations to stamp on every applied object.
    pub struct CommonMetadata {
        /// Annotations to add.
        annotations: Option<BTreeMap<String, String>>,
        /// Labels to add.
        labels: Option<BTreeMap<String, String>>,
    }
}

api_struct! {
    /// Another object this one waits for before reconciling.
    pub struct DependencyReference {
        /// Name of the dependency.
        @req name: String,
        /// Namespace of the dependency; the object's own when empty.
        namespace: Option<String>,
        /// CEL expression deciding whether the dependency is ready.
        ready_expr: Option<String>,
    }
}

api_struct! {
    /// CEL expressions that compute the health of objects of one kind.
    pub struct CustomHealthCheck {
        /// API version of the objects.
        @req api_version: String,
        /// Expression that is true when the object is healthy.
        @req current: String,
        /// Expression that is true when the object has failed.
        failed: Option<String>,
        /// Expression that is true while the object is still progressing.
        in_progress: Option<String>,
        /// Kind of the objects.
        kind: Option<String>,
    }
}

api_struct! {
    /// Selects objects by group, version, kind, name, namespace, labels or annotations.
    pub struct Selector {
        /// Annotation selector expression.
        annotation_selector: Option<String>,
        /// API group.
        group: Option<String>,
        /// Kind.
        kind: Option<String>,
        /// Label selector expression.
        label_selector: Option<String>,
        /// Object name (a regular expression).
        name: Option<String>,
        /// Object namespace (a regular expression).
        namespace: Option<String>,
        /// API version.
        version: Option<String>,
    }
}

api_struct! {
    /// A kustomize patch (strategic merge or JSON 6902) and the objects it targets.
    pub struct Patch {
        /// The patch document, inline YAML or JSON.
        @req patch: String,
        /// Which objects the patch applies to.
        target: Option<Selector>,
    }
}

api_struct! {
    /// Rewrites the name, tag or digest of container images.
    pub struct KustomizeImage {
        /// Digest to pin; takes precedence over the tag.
        digest: Option<String>,
        /// The image name to match.
        @req name: String,
        /// Replacement image name.
        new_name: Option<String>,
        /// Replacement tag.
        new_tag: Option<String>,
    }
}

api_struct! {
    /// Fields to leave alone when computing drift, by JSON pointer.
    pub struct IgnoreRule {
        /// JSON pointers to ignore.
        @req paths: Vec<String>,
        /// Which objects the rule applies to; all when empty.
        target: Option<Selector>,
    }
}

api_struct! {
    /// One object recorded in an inventory.
    pub struct ResourceRef {
        /// Object id as `<namespace>_<name>_<group>_<kind>`.
        @req id: String,
        /// API version of the object.
        @req v: String,
    }
}

api_struct! {
    /// The objects an applier created, used for garbage collection.
    pub struct ResourceInventory {
        /// The recorded objects.
        @req entries: Vec<ResourceRef>,
    }
}

api_struct! {
    /// A label selector with match expressions, as in Kubernetes' metav1.LabelSelector.
    @schema map_type("atomic");
    pub struct LabelSelector {
        /// Requirements that must all hold.
        match_expressions: Option<Vec<LabelSelectorRequirement>> => list_type("atomic"),
        /// Labels that must all be present with these values.
        match_labels: Option<BTreeMap<String, String>>,
    }
}

api_struct! {
    /// One requirement of a label selector.
    pub struct LabelSelectorRequirement {
        /// Label key.
        @req key: String,
        /// One of In, NotIn, Exists, DoesNotExist.
        @req operator: String,
        /// Values for In and NotIn.
        values: Option<Vec<String>> => list_type("atomic"),
    }
}

/// The status default every Flux reconciler declares, marking "never observed".
#[must_use]
pub fn status_default() -> Value {
    serde_json::json!({"observedGeneration": -1})
}
