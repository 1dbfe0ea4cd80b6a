//! Flux's event recorder (fluxcd/pkg `runtime/events.Recorder.AnnotatedEventf`): one call
//! records the Kubernetes Event and feeds the notification pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{
    EVENT_ANNOTATION_PREFIX, EventType, FluxEvent, FluxEventSink, Forwarder, KubeRecorder, ObjectRef, Severity, now,
};

/// The recorder reconcilers report through.
#[derive(Clone)]
pub struct Recorder {
    kube: KubeRecorder,
    instance: Arc<str>,
    forwarder: Option<Forwarder>,
    sinks: Vec<Arc<dyn FluxEventSink>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("reporting_controller", &self.kube.component())
            .field("instance", &self.instance)
            .field("forwarder", &self.forwarder)
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Recorder {
    /// A recorder writing Kubernetes Events to `cluster` as `reporting_controller` (e.g.
    /// `source-controller`), and Flux events with `instance` as their reporting instance
    /// (Flux: the host name, see [`super::hostname`]) to `forwarder` when given.
    ///
    /// # Panics
    /// When called outside a Tokio runtime (the Event writer task is spawned here).
    #[must_use]
    pub fn new(
        cluster: kube::Client,
        reporting_controller: impl Into<String>,
        instance: impl Into<String>,
        forwarder: Option<Forwarder>,
    ) -> Self {
        Self::from_kube(KubeRecorder::new(cluster, reporting_controller), instance, forwarder)
    }

    /// A recorder over an existing Kubernetes recorder (its component is the reporting
    /// controller).
    #[must_use]
    pub fn from_kube(kube: KubeRecorder, instance: impl Into<String>, forwarder: Option<Forwarder>) -> Self {
        Self { kube, instance: instance.into().into(), forwarder, sinks: Vec::new() }
    }

    /// Also hands every non-trace event to `sink`.
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn FluxEventSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// The Kubernetes half (to share its writer, e.g. with leader election).
    #[must_use]
    pub fn kube(&self) -> &KubeRecorder {
        &self.kube
    }

    /// The reporting controller.
    #[must_use]
    pub fn reporting_controller(&self) -> &str {
        self.kube.component()
    }

    /// Records an event about `object`; never waits.
    ///
    /// `metadata` (keys conventionally `<API group>/<key>`, see [`super::metadata_key`]) and
    /// the object's `event.toolkit.fluxcd.io/*` annotations (which win on equal keys) become
    /// the Kubernetes Event's annotations and the Flux event's metadata. A trace is recorded
    /// as a `Normal` Kubernetes Event only. Other events also go to the sinks and the
    /// forwarder, unless the object lacks a kind, name or namespace (logged, as Flux does).
    pub fn event(
        &self,
        object: &ObjectRef,
        event_type: EventType,
        reason: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    ) {
        self.event_with_action(object, event_type, reason, "", message, metadata);
    }

    /// [`Recorder::event`] with the Flux event's `action` (`Reconcile`, ...), which
    /// fluxcd/pkg's recorder takes since the events.k8s.io API; core/v1 Events have no field
    /// for it, so only the Flux event carries it.
    pub fn event_with_action(
        &self,
        object: &ObjectRef,
        event_type: EventType,
        reason: &str,
        action: &str,
        message: &str,
        metadata: BTreeMap<String, String>,
    ) {
        let mut annotations = metadata;
        for (k, v) in &object.annotations {
            if k.starts_with(EVENT_ANNOTATION_PREFIX) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let severity = event_type.severity();
        tracing::trace!(
            name = %object.name, namespace = %object.namespace, kind = %object.kind,
            reason, severity = severity.as_str(), ?annotations, "{message}"
        );
        if severity == Severity::Trace {
            self.kube.event(object, EventType::Normal, reason, message, annotations);
            return;
        }
        self.kube.event(object, event_type, reason, message, annotations.clone());
        if self.forwarder.is_none() && self.sinks.is_empty() {
            return;
        }
        let missing = [("kind", &object.kind), ("name", &object.name), ("namespace", &object.namespace)]
            .into_iter()
            .find(|(_, v)| v.is_empty());
        if let Some((field, _)) = missing {
            tracing::error!(reason, "unable to record event: failed to get object {field}");
            return;
        }
        let event = FluxEvent {
            involved_object: object.to_object_reference(),
            severity,
            // metav1.Time travels with second precision: the sinks see what the wire carries.
            timestamp: Time(Timestamp::from_second(now().as_second()).unwrap_or_else(|_| now())),
            message: message.to_owned(),
            reason: reason.to_owned(),
            action: action.to_owned(),
            metadata: annotations,
            reporting_controller: self.kube.component().to_owned(),
            reporting_instance: self.instance.to_string(),
        };
        for sink in &self.sinks {
            sink.publish(&event);
        }
        if let Some(forwarder) = &self.forwarder {
            forwarder.send(event);
        }
    }

    /// Waits until everything recorded before this call has been written to the cluster and
    /// the forwarder; `false` when `timeout` passed first.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let kube = self.kube.flush(timeout).await;
        let forwarded = match &self.forwarder {
            Some(f) => f.flush(deadline.saturating_duration_since(tokio::time::Instant::now())).await,
            None => true,
        };
        kube && forwarded
    }
}
