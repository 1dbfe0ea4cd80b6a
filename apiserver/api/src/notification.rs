//! `notification.toolkit.fluxcd.io`: Provider and Alert (outgoing events) and Receiver
//! (incoming webhooks).

use std::collections::BTreeMap;

use crate::meta::{Condition, LocalObjectReference, status_default};
use crate::resource::{AGE, READY, ResourceInfo, STATUS, VersionInfo, api_kind};
use crate::schema::api_struct;

/// The API group.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";

/// Kinds that emit events or can be poked by a receiver.
const EVENT_SOURCE_KINDS: &[&str] = &[
    "Bucket",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "OCIRepository",
    "ArtifactGenerator",
    "ExternalArtifact",
];

api_struct! {
    /// A Flux object whose events are selected, or which a receiver triggers.
    pub struct CrossNamespaceObjectReference {
        /// API version of the object.
        api_version: Option<String>,
        /// Kind of the object.
        @req kind: String => one_of(EVENT_SOURCE_KINDS),
        /// Labels selecting objects when the name is `*`.
        match_labels: Option<BTreeMap<String, String>>,
        /// Name of the object, or `*` for all in the namespace.
        @req name: String => len(1, 253),
        /// Namespace of the object.
        namespace: Option<String> => len(1, 253),
    }
}

api_struct! {
    /// A Flux object a receiver triggers, with an optional CEL filter.
    pub struct ReceiverResource {
        /// API version of the object.
        api_version: Option<String>,
        /// CEL expression deciding whether a matched object is triggered.
        filter: Option<String>,
        /// Kind of the object.
        @req kind: String => one_of(EVENT_SOURCE_KINDS),
        /// Labels selecting objects when the name is `*`.
        match_labels: Option<BTreeMap<String, String>>,
        /// Name of the object, or `*` for all in the namespace.
        @req name: String => len(1, 253),
        /// Namespace of the object.
        namespace: Option<String> => len(1, 253),
    }
}

// ---------------------------------------------------------------- Provider

api_struct! {
    /// Where and how notifications are delivered.
    @schema rule("self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)",
                 "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types");
    pub struct ProviderSpec {
        /// Endpoint the notifications are sent to.
        address: Option<String> => max_len(2048),
        /// Secret with a CA certificate for the endpoint.
        cert_secret_ref: Option<LocalObjectReference>,
        /// Channel, room or topic to post to.
        channel: Option<String> => max_len(2048),
        /// CEL expression computing the commit status key.
        commit_status_expr: Option<String>,
        /// Reconcile interval (unused by current controllers).
        interval: Option<String> => duration(),
        /// HTTP(S) proxy for the endpoint.
        proxy: Option<String> => max_len(2048).pattern("^(http|https)://.*$"),
        /// Secret with the proxy address and credentials.
        proxy_secret_ref: Option<LocalObjectReference>,
        /// Secret with the address, token or credentials.
        secret_ref: Option<LocalObjectReference>,
        /// Service account used for workload identity.
        service_account_name: Option<String>,
        /// Stop delivering while true.
        suspend: Option<bool>,
        /// Time limit for one delivery.
        timeout: Option<String> => timeout(),
        /// Kind of notification service.
        @req r#type: String => one_of(PROVIDER_TYPES),
        /// Bot user name.
        username: Option<String> => max_len(2048),
    }
}

/// The notification services Flux can deliver to.
pub const PROVIDER_TYPES: &[&str] = &[
    "slack",
    "discord",
    "msteams",
    "rocket",
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "gitea",
    "giteapullrequestcomment",
    "bitbucketserver",
    "bitbucket",
    "azuredevops",
    "googlechat",
    "googlepubsub",
    "webex",
    "sentry",
    "azureeventhub",
    "telegram",
    "lark",
    "matrix",
    "opsgenie",
    "alertmanager",
    "grafana",
    "githubdispatch",
    "githubpullrequestcomment",
    "gitlabmergerequestcomment",
    "pagerduty",
    "datadog",
    "nats",
    "zulip",
    "otel",
    "zoom",
    "incident.io",
];

api_kind! {
    /// A notification service such as Slack, a Git forge's commit status, or a webhook.
    Provider { group: "notification.toolkit.fluxcd.io", version: "v1beta3", spec: ProviderSpec }
}

// ---------------------------------------------------------------- Alert

api_struct! {
    /// Which events go to which provider.
    pub struct AlertSpec {
        /// Extra metadata added to every event.
        event_metadata: Option<BTreeMap<String, String>>,
        /// Minimum severity forwarded.
        event_severity: Option<String> => one_of(&["info", "error"]).default_value("info"),
        /// Objects whose events are forwarded.
        @req event_sources: Vec<CrossNamespaceObjectReference>,
        /// Regular expressions; matching messages are dropped.
        exclusion_list: Option<Vec<String>>,
        /// Regular expressions; only matching messages are forwarded.
        inclusion_list: Option<Vec<String>>,
        /// The provider to deliver to.
        @req provider_ref: LocalObjectReference,
        /// Short text added to every notification.
        summary: Option<String> => max_len(255),
        /// Stop forwarding while true.
        suspend: Option<bool>,
    }
}

api_kind! {
    /// Forwards events of selected Flux objects to a provider.
    Alert { group: "notification.toolkit.fluxcd.io", version: "v1beta3", spec: AlertSpec }
}

// ---------------------------------------------------------------- Receiver

api_struct! {
    /// A webhook endpoint that triggers reconciliation of selected objects.
    @schema
        rule("self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)",
             "generic-oidc receivers must define at least one oidcProvider")
        .rule("self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0",
              "oidcProviders can only be set when type is generic-oidc")
        .rule("self.type != 'generic-oidc' || !has(self.secretRef)",
              "secretRef cannot be set when type is generic-oidc")
        .rule("self.type == 'generic-oidc' || has(self.secretRef)",
              "secretRef is required when type is not generic-oidc");
    pub struct ReceiverSpec {
        /// Event types accepted (for forges that send several).
        events: Option<Vec<String>>,
        /// How often the webhook path is recomputed.
        interval: Option<String> => duration().default_value("10m"),
        /// OIDC issuers trusted by generic-oidc receivers.
        oidc_providers: Option<Vec<OidcProvider>> => list_map(&["issuerURL"]),
        /// CEL expression filtering the objects to trigger.
        resource_filter: Option<String>,
        /// Objects to trigger.
        @req resources: Vec<ReceiverResource>,
        /// Secret with the token that signs or authorises webhooks.
        secret_ref: Option<LocalObjectReference>,
        /// Stop handling webhooks while true.
        suspend: Option<bool>,
        /// Kind of webhook sender.
        @req r#type: String => one_of(&["generic", "generic-hmac", "generic-oidc", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents"]),
    }
}

api_struct! {
    /// A trusted OIDC issuer and the checks its tokens must pass.
    pub struct OidcProvider {
        /// Expected audience.
        audience: Option<String>,
        /// Issuer address.
        @req issuer_url as "issuerURL": String => pattern("^https?://"),
        /// CEL checks on the token claims.
        @req validations: Vec<OidcValidation> => min_items(1),
        /// CEL variables computed from the claims.
        variables: Option<Vec<OidcVariable>>,
    }
}

api_struct! {
    /// A CEL check with the message reported when it fails.
    pub struct OidcValidation {
        /// The expression.
        @req expression: String,
        /// The failure message.
        @req message: String,
    }
}

api_struct! {
    /// A named CEL expression.
    pub struct OidcVariable {
        /// The expression.
        @req expression: String,
        /// The variable name.
        @req name: String,
    }
}

api_struct! {
    /// What the notification controller last observed.
    pub struct ReceiverStatus {
        /// Conditions such as Ready.
        conditions: Option<Vec<Condition>>,
        /// Value of the reconcile-request annotation last acted on.
        last_handled_reconcile_at: Option<String>,
        /// Generation last reconciled.
        observed_generation: Option<i64> => int64(),
        /// Path of the webhook, `/hook/<sha256>`.
        webhook_path: Option<String>,
    }
}

api_kind! {
    /// An incoming webhook that asks Flux to reconcile objects now.
    Receiver { group: "notification.toolkit.fluxcd.io", version: "v1", spec: ReceiverSpec,
        status: ReceiverStatus, status_default: status_default() }
}

fn single(
    version: &'static str,
    status: bool,
    cols: Vec<crate::resource::PrinterColumn>,
    schema: crate::schema::Schema,
) -> Vec<VersionInfo> {
    vec![VersionInfo {
        name: version,
        storage: true,
        deprecated: false,
        deprecation_warning: None,
        status_subresource: status,
        printer_columns: cols,
        schema,
    }]
}

const CATEGORIES: &[&str] = &["all", "fluxcd", "fluxcd-notifications"];

pub(crate) fn resources() -> Vec<ResourceInfo> {
    vec![
        ResourceInfo {
            group: GROUP,
            kind: "Receiver",
            list_kind: "ReceiverList",
            plural: "receivers",
            singular: "receiver",
            short_names: &[],
            categories: CATEGORIES,
            namespaced: true,
            versions: single("v1", true, vec![AGE, READY, STATUS], Receiver::schema()),
        },
        ResourceInfo {
            group: GROUP,
            kind: "Provider",
            list_kind: "ProviderList",
            plural: "providers",
            singular: "provider",
            short_names: &[],
            categories: CATEGORIES,
            namespaced: true,
            versions: single("v1beta3", false, vec![AGE], Provider::schema()),
        },
        ResourceInfo {
            group: GROUP,
            kind: "Alert",
            list_kind: "AlertList",
            plural: "alerts",
            singular: "alert",
            short_names: &[],
            categories: CATEGORIES,
            namespaced: true,
            versions: single("v1beta3", false, vec![AGE], Alert::schema()),
        },
    ]
}
