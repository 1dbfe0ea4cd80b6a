//! What notification-controller does to an event before matching it
//! (`internal/server/event_server.go`, `event_handlers.go`): lenient decoding, metadata
//! clean-up, the deduplication key, and the JSON shape Go's `encoding/json` gives
//! `eventv1.Event` (what the generic providers post).

use std::collections::BTreeMap;

use eddy_controller_runtime::events::{FluxEvent, Severity};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The Flux event API group (`eventv1.Group`): metadata keys under it come from the involved
/// object's `event.toolkit.fluxcd.io/*` annotations.
pub const EVENT_GROUP: &str = "event.toolkit.fluxcd.io";

/// Metadata key of a checksum (`eventv1.MetaChecksumKey`), dropped before alerting.
const META_CHECKSUM: &str = "checksum";
/// Metadata key of a digest (`eventv1.MetaDigestKey`), dropped before alerting.
const META_DIGEST: &str = "digest";
/// Metadata key of the origin revision (`eventv1.MetaOriginRevisionKey`).
pub const META_ORIGIN_REVISION: &str = "originRevision";
/// Metadata key of the revision (`eventv1.MetaRevisionKey`).
pub const META_REVISION: &str = "revision";
/// Metadata key of a token (`eventv1.MetaTokenKey`).
const META_TOKEN: &str = "token";
/// Metadata key of a commit (`eventv1.MetaCommitKey`).
pub const META_COMMIT: &str = "commit";
/// Metadata key marking a commit status update (`eventv1.MetaCommitStatusKey`).
pub const META_COMMIT_STATUS: &str = "commit_status";
/// Its value (`eventv1.MetaCommitStatusUpdateValue`).
pub const META_COMMIT_STATUS_UPDATE: &str = "update";

/// Why an event body was refused.
#[derive(Debug, thiserror::Error)]
#[error("decoding the request body failed: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

/// The event as Go's `json.Unmarshal` would fill `eventv1.Event`: every field optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    #[serde(default)]
    involved_object: ObjectReference,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    timestamp: Option<Time>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    reporting_controller: String,
    #[serde(default)]
    reporting_instance: String,
}

/// Decodes an event from JSON as notification-controller does (missing fields are empty;
/// a severity other than `error` or `trace` matches and renders as `info`).
///
/// # Errors
/// Malformed JSON or fields of the wrong type (the HTTP endpoint answers 400).
pub fn decode(body: &[u8]) -> Result<FluxEvent, DecodeError> {
    let wire: WireEvent = serde_json::from_slice(body)?;
    let severity = match wire.severity.as_str() {
        "error" => Severity::Error,
        "trace" => Severity::Trace,
        _ => Severity::Info,
    };
    Ok(FluxEvent {
        involved_object: wire.involved_object,
        severity,
        timestamp: wire.timestamp.unwrap_or(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
        message: wire.message,
        reason: wire.reason,
        action: String::new(),
        metadata: wire.metadata.unwrap_or_default(),
        reporting_controller: wire.reporting_controller,
        reporting_instance: wire.reporting_instance,
    })
}

/// The involved object's API group (empty for the core group).
#[must_use]
pub fn object_group(event: &FluxEvent) -> &str {
    event.involved_object.api_version.as_deref().and_then(|v| v.rsplit_once('/')).map_or("", |(g, _)| g)
}

/// `cleanupMetadata`: keeps only keys under the event group or the involved object's group,
/// without the object group's checksum and digest (compared case-insensitively, as upstream).
pub fn cleanup_metadata(event: &mut FluxEvent) {
    let event_prefix = format!("{EVENT_GROUP}/");
    let object_prefix = format!("{}/", object_group(event));
    let excluded = [format!("{object_prefix}{META_CHECKSUM}"), format!("{object_prefix}{META_DIGEST}")];
    event.metadata.retain(|k, _| {
        !excluded.iter().any(|e| e.eq_ignore_ascii_case(k))
            && (k.starts_with(&event_prefix) || k.starts_with(&object_prefix))
    });
}

/// `excludeInternalMetadata`: drops the object group's `token` key (used for deduplication
/// only).
pub fn exclude_internal_metadata(event: &mut FluxEvent) {
    let key = format!("{}/{META_TOKEN}", object_group(event));
    event.metadata.remove(&key);
}

/// `eventKeyFunc`: the rate limiter's key, hex sha256 of the object, message and the
/// revision, origin revision and token metadata.
#[must_use]
pub fn dedup_key(event: &FluxEvent) -> String {
    let o = &event.involved_object;
    let mut comps = vec![
        "event".to_owned(),
        format!("name={}", o.name.as_deref().unwrap_or_default()),
        format!("namespace={}", o.namespace.as_deref().unwrap_or_default()),
        format!("kind={}", o.kind.as_deref().unwrap_or_default()),
        format!("message={}", event.message),
    ];
    let group = object_group(event);
    for (key, label) in [(META_ORIGIN_REVISION, "originRevision"), (META_REVISION, "revision"), (META_TOKEN, "token")] {
        if let Some(v) = event.metadata.get(&format!("{group}/{key}")) {
            comps.push(format!("{label}={v}"));
        }
    }
    let digest = Sha256::digest(comps.join("/").as_bytes());
    hex(&digest)
}

/// Lower-case hex of bytes.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `kind/namespace/name` (`involvedObjectString`).
#[must_use]
pub fn involved_object_string(event: &FluxEvent) -> String {
    let o = &event.involved_object;
    format!(
        "{}/{}/{}",
        o.kind.as_deref().unwrap_or_default(),
        o.namespace.as_deref().unwrap_or_default(),
        o.name.as_deref().unwrap_or_default()
    )
}

/// The `corev1.ObjectReference` as Go's encoder writes it (field order, omitempty).
#[must_use]
pub fn object_reference_json(o: &ObjectReference) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("kind", &o.kind),
        ("namespace", &o.namespace),
        ("name", &o.name),
        ("uid", &o.uid),
        ("apiVersion", &o.api_version),
        ("resourceVersion", &o.resource_version),
        ("fieldPath", &o.field_path),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    }
    Value::Object(m)
}

/// The event as Go's `json.Marshal(eventv1.Event)` writes it: same fields, same order,
/// `metadata` and `reportingInstance` omitted when empty, no `action`.
#[must_use]
pub fn to_go_json(event: &FluxEvent) -> Value {
    let mut m = Map::new();
    m.insert("involvedObject".into(), object_reference_json(&event.involved_object));
    m.insert("severity".into(), Value::String(event.severity.as_str().to_owned()));
    m.insert("timestamp".into(), serde_json::to_value(&event.timestamp).unwrap_or(Value::Null));
    m.insert("message".into(), Value::String(event.message.clone()));
    m.insert("reason".into(), Value::String(event.reason.clone()));
    if !event.metadata.is_empty() {
        let meta: Map<String, Value> =
            event.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        m.insert("metadata".into(), Value::Object(meta));
    }
    m.insert("reportingController".into(), Value::String(event.reporting_controller.clone()));
    if !event.reporting_instance.is_empty() {
        m.insert("reportingInstance".into(), Value::String(event.reporting_instance.clone()));
    }
    Value::Object(m)
}

/// Go's `json.Marshal` escapes `<`, `>` and `&` in strings as `\u003c`, `\u003e`, `\u0026`
/// (and U+2028/U+2029); serde_json does not. Bytes as Go would send them.
#[must_use]
pub fn go_json_bytes(value: &Value) -> Vec<u8> {
    let s = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// Whether the event is a commit status update (`isCommitStatusUpdate`): the object group's
/// `commit_status` metadata is `update`.
#[must_use]
pub fn is_commit_status_update(event: &FluxEvent) -> bool {
    let key = format!("{}/{META_COMMIT_STATUS}", object_group(event));
    event.metadata.get(&key).is_some_and(|v| v == META_COMMIT_STATUS_UPDATE)
}

/// Whether the event carries a non-empty `event.toolkit.fluxcd.io/commit` metadata
/// (`hasCommitKey`).
#[must_use]
pub fn has_commit_key(event: &FluxEvent) -> bool {
    event.metadata.get(&format!("{EVENT_GROUP}/{META_COMMIT}")).is_some_and(|v| !v.is_empty())
}

/// Whether the event carries a non-empty `event.toolkit.fluxcd.io/change_request` metadata
/// (`hasChangeRequestKey`).
#[must_use]
pub fn has_change_request_key(event: &FluxEvent) -> bool {
    event.metadata.get(&format!("{EVENT_GROUP}/change_request")).is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(meta: &[(&str, &str)]) -> FluxEvent {
        decode(
            serde_json::to_vec(&serde_json::json!({
                "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "app", "namespace": "ns"},
                "severity": "info", "timestamp": "2024-01-01T00:00:00Z", "message": "m", "reason": "r",
                "metadata": meta.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
                "reportingController": "kustomize-controller"
            }))
            .unwrap()
            .as_slice(),
        )
        .unwrap()
    }

    // Follows provider_commit_status.go hasCommitKey and provider_change_request.go
    // hasChangeRequestKey: the event group's keys, non-empty.
    #[test]
    fn commit_and_change_request_keys_are_in_the_event_group() {
        assert!(has_commit_key(&event(&[("event.toolkit.fluxcd.io/commit", "abc")])));
        assert!(!has_commit_key(&event(&[("kustomize.toolkit.fluxcd.io/commit", "abc")])));
        assert!(!has_commit_key(&event(&[("event.toolkit.fluxcd.io/commit", "")])));
        assert!(has_change_request_key(&event(&[("event.toolkit.fluxcd.io/change_request", "7")])));
        assert!(!has_change_request_key(&event(&[("kustomize.toolkit.fluxcd.io/change_request", "7")])));
    }

    // Follows event_server.go cleanupMetadata.
    #[test]
    fn cleanup_keeps_group_keys_without_checksum_and_digest() {
        let mut e = event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "main@sha1:1"),
            ("kustomize.toolkit.fluxcd.io/Checksum", "x"),
            ("kustomize.toolkit.fluxcd.io/digest", "y"),
            ("event.toolkit.fluxcd.io/env", "prod"),
            ("source.toolkit.fluxcd.io/revision", "other"),
            ("plain", "z"),
        ]);
        cleanup_metadata(&mut e);
        let keys: Vec<_> = e.metadata.keys().map(String::as_str).collect();
        assert_eq!(keys, ["event.toolkit.fluxcd.io/env", "kustomize.toolkit.fluxcd.io/revision"]);
    }

    // Follows event_server.go eventKeyFunc: the key changes with the revision and token.
    #[test]
    fn dedup_key_covers_revision_and_token() {
        let a = dedup_key(&event(&[("kustomize.toolkit.fluxcd.io/revision", "1")]));
        let b = dedup_key(&event(&[("kustomize.toolkit.fluxcd.io/revision", "2")]));
        let c = dedup_key(&event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "1"),
            ("kustomize.toolkit.fluxcd.io/token", "t"),
        ]));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, dedup_key(&event(&[("kustomize.toolkit.fluxcd.io/revision", "1")])));
        // sha256("event/name=app/namespace=ns/kind=Kustomization/message=m/revision=1")
        assert_eq!(a.len(), 64);
        let direct = hex(&Sha256::digest(b"event/name=app/namespace=ns/kind=Kustomization/message=m/revision=1"));
        assert_eq!(a, direct);
    }

    #[test]
    fn decoding_is_lenient_and_malformed_json_fails() {
        let e = decode(br#"{"involvedObject":{"kind":"GitRepository"},"severity":"odd"}"#).unwrap();
        assert_eq!(e.severity, Severity::Info);
        assert!(e.metadata.is_empty());
        assert!(decode(b"{not json").is_err());
        assert!(decode(br#"{"message": 5}"#).is_err());
    }

    #[test]
    fn go_shape_orders_fields_and_escapes_html() {
        let mut e = event(&[]);
        e.message = "a<b>&c".into();
        let v = to_go_json(&e);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["involvedObject", "severity", "timestamp", "message", "reason", "reportingController"]);
        let io: Vec<_> = v["involvedObject"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(io, ["kind", "namespace", "name", "apiVersion"]);
        let bytes = String::from_utf8(go_json_bytes(&v)).unwrap();
        assert!(bytes.contains(r#""message":"a\u003cb\u003e\u0026c""#), "{bytes}");
    }

    #[test]
    fn internal_token_is_removed() {
        let mut e = event(&[("kustomize.toolkit.fluxcd.io/token", "t"), ("kustomize.toolkit.fluxcd.io/revision", "r")]);
        exclude_internal_metadata(&mut e);
        assert_eq!(e.metadata.len(), 1);
    }
}
