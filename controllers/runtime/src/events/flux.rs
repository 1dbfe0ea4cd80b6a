//! The Flux event (fluxcd/pkg `apis/event/v1beta1.Event`): what the notification pipeline
//! receives, in-process through a [`FluxEventSink`] or as JSON over HTTP.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use super::Severity;

/// Metadata key of the source artifact revision (`eventv1.MetaRevisionKey`).
pub const META_REVISION: &str = "revision";
/// Metadata key of the source artifact digest (`eventv1.MetaDigestKey`).
pub const META_DIGEST: &str = "digest";
/// Metadata key of a Git commit hash (`eventv1.MetaCommitKey`).
pub const META_COMMIT: &str = "commit";
/// Metadata key of a token identifying the payload, for rate limiting (`eventv1.MetaTokenKey`).
pub const META_TOKEN: &str = "token";

/// A metadata key as Flux's controllers write them: `<API group>/<key>`, e.g.
/// `source.toolkit.fluxcd.io/revision`. (Flux's recorder passes metadata through unchanged;
/// the controllers prefix the keys, and notification-controller strips the involved object's
/// group again.)
#[must_use]
pub fn metadata_key(group: &str, key: &str) -> String {
    format!("{group}/{key}")
}

/// A report of an event issued by a controller, in the JSON shape of Flux's `eventv1.Event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    /// The object this event is about.
    pub involved_object: ObjectReference,
    /// `info`, `error` (never `trace`: traces are not forwarded).
    pub severity: Severity,
    /// When the event was recorded (RFC 3339, seconds).
    pub timestamp: Time,
    /// Human-readable description.
    pub message: String,
    /// Machine-readable reason, e.g. `NewArtifact`.
    pub reason: String,
    /// What the controller was doing (`Reconcile`, `ReconcileArtifact`, ...), as fluxcd/pkg's
    /// `eventv1.Event.Action`; always present in the JSON, possibly empty.
    #[serde(default)]
    pub action: String,
    /// The caller's metadata and the object's `event.toolkit.fluxcd.io/*` annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller that emitted the event, e.g. `source-controller`.
    pub reporting_controller: String,
    /// The controller instance (Flux: the host name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

/// An in-process receiver of Flux events (the notification controller implements it).
///
/// `publish` is called on the reconcile path: it must return at once (queue the event and
/// process it elsewhere), never block or wait on I/O.
pub trait FluxEventSink: Send + Sync {
    /// Takes one event.
    fn publish(&self, event: &FluxEvent);
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    #[test]
    fn json_shape_is_fluxs() {
        let event = FluxEvent {
            involved_object: ObjectReference {
                api_version: Some("source.toolkit.fluxcd.io/v1".into()),
                kind: Some("GitRepository".into()),
                name: Some("app".into()),
                namespace: Some("ns".into()),
                ..ObjectReference::default()
            },
            severity: Severity::Info,
            timestamp: Time(Timestamp::from_second(1_700_000_000).unwrap()),
            message: "stored artifact".into(),
            reason: "NewArtifact".into(),
            metadata: BTreeMap::from([(
                metadata_key("source.toolkit.fluxcd.io", META_REVISION),
                "main@sha1:abc".into(),
            )]),
            action: String::new(),
            reporting_controller: "source-controller".into(),
            reporting_instance: String::new(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "involvedObject": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "app", "namespace": "ns"},
                "severity": "info",
                "timestamp": "2023-11-14T22:13:20Z",
                "message": "stored artifact",
                "reason": "NewArtifact",
                "action": "",
                "metadata": {"source.toolkit.fluxcd.io/revision": "main@sha1:abc"},
                "reportingController": "source-controller"
            })
        );
        let back: FluxEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
