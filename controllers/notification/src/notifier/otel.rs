//! OpenTelemetry traces (`internal/notifier/otel.go` with the Go SDK's OTLP/HTTP exporter
//! v1.44): one span per event, exported as an OTLP `ExportTraceServiceRequest` (protobuf) to
//! the address.
//!
//! The span: trace id = the first 16 bytes of sha256(`<alert uid>:<revision>`) (revision =
//! `<app-version>@<oci-digest>`, else `revision`, else `unknown`), under a remote sampled
//! parent with that trace id (so no parent span id, flags `HAS_IS_REMOTE|IS_REMOTE`), a random
//! span id, name `<Kind>: <namespace>/<name>`, kind internal, start at the event's time and
//! end now, attributes `object.uid`, `object.kind`, `object.name`, `object.namespace` then
//! the metadata (sorted: Go's map order is random), status error with the message for error
//! events, ok otherwise; scope `flux:notification-controller`; resource `service.name`
//! `<alert namespace>/<alert name>`, `service.namespace`, `service.instance.id` (alert uid)
//! with semconv 1.34.0's schema URL. `HelmRepository` events are not exported. Headers come
//! from the secret, with `Authorization` derived from username/password when the secret
//! has headers but none of them is `Authorization` (upstream's rule).
//!
//! The protobuf is written here (a handful of messages); field numbers follow
//! opentelemetry-proto's `trace/v1/trace.proto`, `common/v1/common.proto`,
//! `resource/v1/resource.proto` and `collector/trace/v1/trace_service.proto`.

use base64::Engine as _;
use eddy_controller_runtime::events::{FluxEvent, Severity};
use sha2::{Digest as _, Sha256};

use super::{NotifierError, Planned, obj};
use crate::config::ProviderConfig;
use crate::http::Request;

/// The schema URL of semconv v1.34.0.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.34.0";
/// The tracer's instrumentation scope.
pub const SCOPE: &str = "flux:notification-controller";
/// The exporter's User-Agent.
const USER_AGENT: &str = "OTel OTLP Exporter Go/1.44.0";

/// Protobuf wire writing.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    /// A length-delimited field (skipped when empty, as proto3 does for strings and bytes).
    fn bytes(&mut self, field: u32, data: &[u8]) {
        if !data.is_empty() {
            self.message(field, data);
        }
    }
    /// An embedded message (written even when empty).
    fn message(&mut self, field: u32, data: &[u8]) {
        self.key(field, 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }
    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v);
        }
    }
    fn fixed64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn fixed32(&mut self, field: u32, v: u32) {
        if v != 0 {
            self.key(field, 5);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// `KeyValue{key: 1, value: AnyValue{string_value: 1}}`.
fn key_value(key: &str, value: &str) -> Vec<u8> {
    let mut any = Pb::default();
    any.bytes(1, value.as_bytes());
    let mut kv = Pb::default();
    kv.bytes(1, key.as_bytes());
    kv.message(2, &any.0);
    kv.0
}

/// `getRevision`.
fn revision(event: &FluxEvent) -> String {
    match (event.metadata.get("oci-digest"), event.metadata.get("app-version")) {
        (Some(digest), Some(app)) => format!("{app}@{digest}"),
        _ => event.metadata.get("revision").cloned().unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// The trace id of an event for an Alert (`generateID`).
#[must_use]
pub fn trace_id(alert_uid: &str, event: &FluxEvent) -> [u8; 16] {
    let hash = Sha256::digest(format!("{alert_uid}:{}", revision(event)).as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    id
}

fn unix_nanos(t: k8s_openapi::jiff::Timestamp) -> u64 {
    u64::try_from(t.as_nanosecond()).unwrap_or(0)
}

/// The OTLP request body for `event`.
fn export_request(cfg: &ProviderConfig, event: &FluxEvent, end: k8s_openapi::jiff::Timestamp) -> Vec<u8> {
    let o = &event.involved_object;
    let mut span = Pb::default();
    span.bytes(1, &trace_id(&cfg.alert_uid, event));
    span.bytes(2, &rand::random::<[u8; 8]>());
    span.bytes(5, format!("{}: {}/{}", obj(&o.kind), obj(&o.namespace), obj(&o.name)).as_bytes());
    span.uint(6, 1); // SPAN_KIND_INTERNAL
    span.fixed64(7, unix_nanos(event.timestamp.0));
    span.fixed64(8, unix_nanos(end));
    let attrs = [
        ("object.uid", obj(&o.uid)),
        ("object.kind", obj(&o.kind)),
        ("object.name", obj(&o.name)),
        ("object.namespace", obj(&o.namespace)),
    ];
    for (k, v) in attrs.into_iter().chain(event.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        span.message(9, &key_value(k, v));
    }
    let mut status = Pb::default();
    if event.severity == Severity::Error {
        status.bytes(2, event.message.as_bytes());
        status.uint(3, 2); // STATUS_CODE_ERROR
    } else {
        status.uint(3, 1); // STATUS_CODE_OK (the SDK drops an Ok status's description)
    }
    span.message(15, &status.0);
    span.fixed32(16, 0x100 | 0x200); // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | IS_REMOTE_MASK

    let mut scope = Pb::default();
    scope.bytes(1, SCOPE.as_bytes());
    let mut scope_spans = Pb::default();
    scope_spans.message(1, &scope.0);
    scope_spans.message(2, &span.0);

    // attribute.Set keeps resource attributes sorted by key.
    let mut resource = Pb::default();
    resource.message(1, &key_value("service.instance.id", &cfg.alert_uid));
    resource.message(1, &key_value("service.name", &format!("{}/{}", cfg.alert_namespace, cfg.alert_name)));
    resource.message(1, &key_value("service.namespace", &cfg.alert_namespace));
    let mut resource_spans = Pb::default();
    resource_spans.message(1, &resource.0);
    resource_spans.message(2, &scope_spans.0);
    resource_spans.bytes(3, SCHEMA_URL.as_bytes());

    let mut request = Pb::default();
    request.message(1, &resource_spans.0);
    request.0
}

/// The export request for `event` (none for `HelmRepository` events).
pub(super) fn otel(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    let mut u = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("OTLP endpoint"))?;
    if u.path().is_empty() || u.path() == "/" {
        u.set_path("/v1/traces");
    }
    if cfg.alert_name.is_empty() {
        return Err(NotifierError::Config("alert metadata not found in context".into()));
    }
    if obj(&event.involved_object.kind) == "HelmRepository" {
        return Ok(Vec::new());
    }
    let mut req = Request::json(u.as_str(), &serde_json::Value::Null)
        .header("Content-Type", "application/x-protobuf")
        .header("User-Agent", USER_AGENT);
    req.body = export_request(cfg, event, k8s_openapi::jiff::Timestamp::now());
    let mut headers = cfg.headers.clone();
    if !headers.is_empty() && headers.get("Authorization").is_none_or(String::is_empty) {
        if cfg.username.is_empty() {
            headers.insert("Authorization".into(), format!("Bearer {}", cfg.password));
        } else if !cfg.password.is_empty() {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cfg.username, cfg.password));
            headers.insert("Authorization".into(), format!("Basic {basic}"));
        }
    }
    for (k, v) in headers {
        req = req.header(&k, v);
    }
    Ok(vec![Planned::any(req)])
}
