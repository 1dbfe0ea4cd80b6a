//! The seam between reconcilers and event recording: reconcilers say *what happened* to *which
//! object* through [`EventRecorder`]; the [`crate::events`] module turns that into Kubernetes
//! Events and Flux notification events.

use std::collections::BTreeMap;

use crate::object::FluxObject;

/// The type of an event, as Flux uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Something worth knowing (severity `info`).
    Normal,
    /// Something went wrong (severity `error`).
    Warning,
    /// Detail for debugging: logged and recorded as Flux does, never sent to notifications.
    Trace,
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvolvedObject {
    /// `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// resourceVersion when the event was made.
    pub resource_version: String,
    /// The object's annotations (`event.toolkit.fluxcd.io/*` ones travel with the event).
    pub annotations: BTreeMap<String, String>,
}

impl InvolvedObject {
    /// The reference to a Flux object.
    #[must_use]
    pub fn of<T: FluxObject>(obj: &T) -> Self {
        let m = obj.meta();
        Self {
            api_version: format!("{}/{}", T::GROUP, T::VERSION),
            kind: T::KIND.to_owned(),
            namespace: m.namespace.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            uid: m.uid.clone().unwrap_or_default(),
            resource_version: m.resource_version.clone().unwrap_or_default(),
            annotations: m.annotations.clone().unwrap_or_default(),
        }
    }
}

/// Records events about Flux objects.
pub trait EventRecorder: Send + Sync {
    /// Records one event. `metadata` holds Flux's annotations with their full keys
    /// (`source.toolkit.fluxcd.io/revision`); the recorder adds the object's
    /// `event.toolkit.fluxcd.io/*` annotations, as upstream. Never blocks on I/O.
    fn record(
        &self,
        object: &InvolvedObject,
        type_: EventType,
        reason: &str,
        action: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    );
}

/// A recorder that only logs (tests, and controllers run without a cluster).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogRecorder;

impl EventRecorder for LogRecorder {
    fn record(
        &self,
        object: &InvolvedObject,
        type_: EventType,
        reason: &str,
        _action: &str,
        message: &str,
        _metadata: BTreeMap<String, String>,
    ) {
        let target = format!("{}/{}/{}", object.kind, object.namespace, object.name);
        match type_ {
            EventType::Warning => tracing::warn!(object = %target, reason, "{message}"),
            EventType::Normal => tracing::info!(object = %target, reason, "{message}"),
            EventType::Trace => tracing::debug!(object = %target, reason, "{message}"),
        }
    }
}
