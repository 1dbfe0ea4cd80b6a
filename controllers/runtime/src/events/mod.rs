//! Events: what a reconcile reports to people and to the notification pipeline.
//!
//! Flux's controllers report through fluxcd/pkg `runtime/events.Recorder`, which does two
//! things with every event:
//!
//! 1. It records a **Kubernetes Event** (`core/v1`) through controller-runtime's
//!    `GetEventRecorderFor`, i.e. client-go's `tools/record` broadcaster. That is what
//!    `kubectl events` and `flux events` show. [`KubeRecorder`] is that half: the Event has
//!    `source.component` and `reportingComponent` set to the controller's name, an empty
//!    `reportingInstance` (controller-runtime gives no host), `firstTimestamp`/`lastTimestamp`,
//!    `count`, and the name `<object>.<hex unix nanos>`. Writes go through client-go's
//!    [`correlator`](EventCorrelator): an identical event within the cache's memory increments
//!    `count` with a strategic-merge PATCH instead of a new Event; the tenth distinct message
//!    of the same reason within ten minutes becomes a `(combined from similar events): `
//!    Event; a token bucket per source and object (burst 25, then one per five minutes) drops
//!    floods. Writes are asynchronous: a bounded queue of 1000 (full → dropped and counted)
//!    drained by one background task that retries transport errors up to 12 times, 10 s apart
//!    (the first wait randomised), and never retries an answer of the API server.
//! 2. Unless the event is a **trace**, it becomes a Flux event ([`FluxEvent`], fluxcd/pkg
//!    `apis/event/v1beta1.Event`) for the notification pipeline: handed to in-process
//!    [`FluxEventSink`]s and, when `--events-addr` is set, POSTed as JSON by the
//!    [`Forwarder`] (5 s timeout, go-retryablehttp's policy: up to 4 retries on transport
//!    errors and 5xx except 501, none on 4xx; 429 means "duplicate" to notification-controller).
//!
//! [`Recorder`] is the combination the reconcilers use. Its metadata handling is Flux's:
//! the caller's metadata (keys already prefixed with the object's API group by convention,
//! e.g. `source.toolkit.fluxcd.io/revision`, see [`metadata_key`]) plus the object's own
//! `event.toolkit.fluxcd.io/*` annotations become both the Kubernetes Event's annotations
//! and the Flux event's metadata.
//!
//! Trace events ([`EventType::Trace`]) are recorded as `Normal` Kubernetes Events only, as
//! upstream does.

mod correlator;
mod flux;
mod forwarder;
mod k8s;
mod lru;
pub(crate) mod random;
mod recorder;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;

pub use self::correlator::{Correlated, CorrelatorOptions, EventCorrelator};
pub use self::flux::{FluxEvent, FluxEventSink, META_COMMIT, META_DIGEST, META_REVISION, META_TOKEN, metadata_key};
pub use self::forwarder::{Forwarder, ForwarderError, ForwarderOptions, ForwarderStats};
pub use self::k8s::{EventStats, KubeRecorder, WriterOptions};
pub use self::recorder::Recorder;

/// The annotation prefix whose object annotations are merged into every event's metadata
/// (fluxcd/pkg `apis/event/v1beta1.Group`).
pub const EVENT_ANNOTATION_PREFIX: &str = "event.toolkit.fluxcd.io/";

/// The object an event is about: what client-go's `reference.GetReference` takes from it,
/// plus its annotations (for the `event.toolkit.fluxcd.io/*` metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    /// The kind, e.g. `GitRepository`.
    pub kind: String,
    /// The namespace; empty for a cluster-scoped object.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The object's uid; may be empty.
    pub uid: String,
    /// The object's resourceVersion when the event was made; may be empty.
    pub resource_version: String,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
}

impl ObjectRef {
    /// A reference with the identifying fields only.
    #[must_use]
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// A reference to the object with this metadata.
    #[must_use]
    pub fn from_meta(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        meta: &eddy_api::meta::ObjectMeta,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
        }
    }

    /// Sets the uid.
    #[must_use]
    pub fn with_uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = uid.into();
        self
    }

    /// Sets the resourceVersion.
    #[must_use]
    pub fn with_resource_version(mut self, resource_version: impl Into<String>) -> Self {
        self.resource_version = resource_version.into();
        self
    }

    /// Sets the annotations.
    #[must_use]
    pub fn with_annotations(mut self, annotations: BTreeMap<String, String>) -> Self {
        self.annotations = annotations;
        self
    }

    /// The API group (empty for the core group).
    #[must_use]
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The `core/v1` ObjectReference client-go builds (no fieldPath).
    #[must_use]
    pub fn to_object_reference(&self) -> ObjectReference {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        ObjectReference {
            api_version: opt(&self.api_version),
            kind: opt(&self.kind),
            namespace: opt(&self.namespace),
            name: opt(&self.name),
            uid: opt(&self.uid),
            resource_version: opt(&self.resource_version),
            field_path: None,
        }
    }
}

/// The event type a reconciler reports, as Flux's recorder takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A normal event (severity info).
    Normal,
    /// A warning (severity error).
    Warning,
    /// A trace (fluxcd/pkg `eventv1.EventTypeTrace`): recorded as a Normal Kubernetes Event,
    /// never sent to the notification pipeline.
    Trace,
}

impl EventType {
    /// The Flux severity of this type (fluxcd/pkg `eventTypeToSeverity`).
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::Normal => Severity::Info,
            Self::Warning => Severity::Error,
            Self::Trace => Severity::Trace,
        }
    }

    /// The Kubernetes Event `type`: `Normal` or `Warning` (a trace is `Normal`).
    #[must_use]
    pub fn kube_type(self) -> &'static str {
        match self {
            Self::Warning => "Warning",
            Self::Normal | Self::Trace => "Normal",
        }
    }
}

/// The severity of a Flux event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: usually a change.
    Info,
    /// Something went wrong.
    Error,
    /// Actions taken during a reconcile; never forwarded.
    Trace,
}

impl Severity {
    /// `info`, `error` or `trace`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Error => "error",
            Self::Trace => "trace",
        }
    }
}

/// The current time as the Kubernetes types carry it.
pub(crate) fn now() -> k8s_openapi::jiff::Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
    k8s_openapi::jiff::Timestamp::from_nanosecond(nanos).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// This machine's host name, as Go's `os.Hostname` gives it (Flux uses it as the Flux
/// event's `reportingInstance` and in the leader election identity); `localhost` when it
/// cannot be read.
#[must_use]
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_the_event_type() {
        assert_eq!(EventType::Normal.severity(), Severity::Info);
        assert_eq!(EventType::Warning.severity(), Severity::Error);
        assert_eq!(EventType::Trace.severity(), Severity::Trace);
        assert_eq!(EventType::Trace.kube_type(), "Normal");
        assert_eq!(serde_json::to_string(&Severity::Error).unwrap(), "\"error\"");
    }

    #[test]
    fn object_ref_group_and_reference() {
        let r = ObjectRef::new("source.toolkit.fluxcd.io/v1", "GitRepository", "ns", "app").with_uid("u1");
        assert_eq!(r.group(), "source.toolkit.fluxcd.io");
        assert_eq!(ObjectRef::new("v1", "ConfigMap", "ns", "c").group(), "");
        let or = r.to_object_reference();
        assert_eq!(or.uid.as_deref(), Some("u1"));
        assert_eq!(or.resource_version, None);
        assert_eq!(or.field_path, None);
    }

    #[test]
    fn hostname_is_never_empty() {
        assert!(!hostname().is_empty());
    }
}
