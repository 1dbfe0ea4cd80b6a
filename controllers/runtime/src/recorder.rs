//! The seam between reconcilers and event recording: reconcilers say *what happened* to *which
//! object* through [`EventRecorder`]; [`crate::events::Recorder`] implements it with
//! Kubernetes Events and Flux notification events, [`LogRecorder`] only logs.

use std::collections::BTreeMap;

pub use crate::events::{EventType, ObjectRef};
use crate::object::FluxObject;

/// The reference to a Flux object (its annotations included, for the
/// `event.toolkit.fluxcd.io/*` metadata).
#[must_use]
pub fn object_ref<T: FluxObject>(obj: &T) -> ObjectRef {
    ObjectRef::from_meta(format!("{}/{}", T::GROUP, T::VERSION), T::KIND, obj.meta())
}

/// Records events about Flux objects.
pub trait EventRecorder: Send + Sync {
    /// Records one event. `metadata` holds Flux's annotations with their full keys
    /// (`source.toolkit.fluxcd.io/revision`); the recorder adds the object's
    /// `event.toolkit.fluxcd.io/*` annotations, as upstream. Never blocks on I/O.
    fn record(
        &self,
        object: &ObjectRef,
        type_: EventType,
        reason: &str,
        action: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    );
}

impl EventRecorder for crate::events::Recorder {
    fn record(
        &self,
        object: &ObjectRef,
        type_: EventType,
        reason: &str,
        action: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    ) {
        self.event_with_action(object, type_, reason, action, message, metadata);
    }
}

/// A recorder that only logs (tests, and controllers run without a cluster).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogRecorder;

impl EventRecorder for LogRecorder {
    fn record(
        &self,
        object: &ObjectRef,
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
