//! Sentry (`internal/notifier/sentry.go` through getsentry/sentry-go v0.46.2): the address is
//! the DSN, the channel the environment. Error events become Sentry error events (level
//! `error`, the reporting controller as server name, `<Kind>: <namespace>/<name>` as
//! transaction, the metadata as the `metadata` context); info events become transactions
//! with one span whose tags are `flux_*` and the metadata. Both travel as the SDK sends them:
//! an envelope (`application/x-sentry-envelope`) to `<dsn host><path>/api/<project>/envelope/`
//! with `X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentry.go/<v>, sentry_key=…`.
//!
//! What the SDK's default integrations add on top (the Go runtime, OS and device contexts,
//! the module list, a release guessed from the environment) is not sent; trace and span ids
//! are random as the SDK's.

use eddy_controller_runtime::events::{FluxEvent, Severity};
use serde_json::{Map, Value, json};

use super::{NotifierError, Planned, obj};
use crate::config::ProviderConfig;
use crate::event::{go_json_bytes, hex};
use crate::http::Request;

/// The sentry-go version notification-controller v1.9 ships (`SDKVersion`).
pub const SDK_VERSION: &str = "0.46.2";
/// `sdkIdentifier`.
const SDK_NAME: &str = "sentry.go";

/// A parsed DSN (`protocol.NewDsn`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dsn {
    scheme: String,
    public_key: String,
    secret_key: String,
    host: String,
    port: Option<u16>,
    path: String,
    project_id: String,
}

impl Dsn {
    fn parse(s: &str) -> Result<Self, NotifierError> {
        let bad = |why: &str| NotifierError::Config(format!("[Sentry] DsnParseError: {why}"));
        let u = url::Url::parse(s).map_err(|_| bad("invalid url"))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(bad("invalid scheme"));
        }
        if u.username().is_empty() {
            return Err(bad("empty username"));
        }
        let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("empty host"))?;
        let path = u.path();
        if path.is_empty() || path == "/" {
            return Err(bad("empty project id"));
        }
        let (prefix, project) = path[1..].rsplit_once('/').map_or(("", &path[1..]), |(p, id)| (p, id));
        if project.is_empty() {
            return Err(bad("empty project id"));
        }
        Ok(Self {
            scheme: u.scheme().to_owned(),
            public_key: u.username().to_owned(),
            secret_key: u.password().unwrap_or_default().to_owned(),
            host: host.to_owned(),
            port: u.port(),
            path: if prefix.is_empty() { String::new() } else { format!("/{prefix}") },
            project_id: project.to_owned(),
        })
    }

    fn base(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{}{port}{}", self.scheme, self.host, self.path)
    }

    /// `Dsn.GetAPIURL`.
    fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base(), self.project_id)
    }

    /// `Dsn.String`, as the envelope header carries it.
    fn to_dsn_string(&self) -> String {
        let secret = if self.secret_key.is_empty() { String::new() } else { format!(":{}", self.secret_key) };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{}{secret}@{}{port}{}/{}", self.scheme, self.public_key, self.host, self.path, self.project_id)
    }
}

fn random_hex(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex(&v)
}

/// `eventSummary`.
fn summary(event: &FluxEvent) -> String {
    let o = &event.involved_object;
    format!("{}: {}/{}", obj(&o.kind), obj(&o.namespace), obj(&o.name))
}

fn timestamp(event: &FluxEvent) -> Value {
    serde_json::to_value(&event.timestamp).unwrap_or(Value::Null)
}

/// `toSentryEvent` as the client completes it.
fn error_event(event: &FluxEvent, environment: &str, event_id: &str) -> Value {
    let metadata: Map<String, Value> =
        event.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut m = Map::new();
    m.insert("contexts".into(), json!({"metadata": metadata}));
    if !environment.is_empty() {
        m.insert("environment".into(), environment.into());
    }
    m.insert("event_id".into(), event_id.into());
    m.insert("level".into(), "error".into());
    m.insert("message".into(), event.message.clone().into());
    m.insert("platform".into(), "go".into());
    m.insert("sdk".into(), json!({"name": SDK_NAME, "version": SDK_VERSION}));
    m.insert("server_name".into(), event.reporting_controller.clone().into());
    m.insert("timestamp".into(), timestamp(event));
    m.insert("transaction".into(), summary(event).into());
    Value::Object(m)
}

/// `eventToSpan` as the client completes it.
fn transaction(event: &FluxEvent, environment: &str, event_id: &str) -> Value {
    let o = &event.involved_object;
    let mut tags = Map::new();
    for (k, v) in [
        ("flux_involved_object_kind", obj(&o.kind)),
        ("flux_involved_object_namespace", obj(&o.namespace)),
        ("flux_involved_object_name", obj(&o.name)),
        ("flux_reporting_controller", event.reporting_controller.as_str()),
        ("flux_reporting_instance", event.reporting_instance.as_str()),
        ("flux_reason", event.reason.as_str()),
    ] {
        tags.insert(k.into(), v.into());
    }
    for (k, v) in &event.metadata {
        tags.insert(k.clone(), v.clone().into());
    }
    // Go marshals the map sorted by key.
    let mut sorted: Vec<(String, Value)> = tags.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let tags: Map<String, Value> = sorted.into_iter().collect();
    let (trace_id, span_id) = (random_hex(16), random_hex(8));
    let ts = timestamp(event);
    let span = json!({
        "trace_id": trace_id, "span_id": span_id, "op": "event", "tags": tags,
        "start_timestamp": ts, "timestamp": ts, "origin": "manual",
    });
    let mut m = Map::new();
    m.insert("contexts".into(), json!({"trace": {"op": "event", "span_id": span_id, "trace_id": trace_id}}));
    if !environment.is_empty() {
        m.insert("environment".into(), environment.into());
    }
    m.insert("event_id".into(), event_id.into());
    m.insert("message".into(), event.message.clone().into());
    m.insert("platform".into(), "go".into());
    m.insert("sdk".into(), json!({"name": SDK_NAME, "version": SDK_VERSION}));
    m.insert("tags".into(), Value::Object(tags));
    m.insert("timestamp".into(), ts.clone());
    m.insert("transaction".into(), summary(event).into());
    m.insert("type".into(), "transaction".into());
    m.insert("start_timestamp".into(), ts);
    m.insert("spans".into(), json!([span]));
    Value::Object(m)
}

/// One envelope line as `json.Encoder` writes it (HTML escaped, newline).
fn line(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(&go_json_bytes(v));
    out.push(b'\n');
}

/// The Sentry request for `event` (none for trace events, as upstream sends a nil event).
pub(super) fn sentry(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if cfg.url.is_empty() {
        return Err(NotifierError::Config("DSN cannot be empty".into()));
    }
    let dsn = Dsn::parse(&cfg.url)?;
    let event_id = random_hex(16);
    let (kind, body) = match event.severity {
        Severity::Error => ("event", error_event(event, &cfg.channel, &event_id)),
        Severity::Info => ("transaction", transaction(event, &cfg.channel, &event_id)),
        Severity::Trace => return Ok(Vec::new()),
    };
    let body = go_json_bytes(&body);
    let sent_at = k8s_openapi::jiff::Timestamp::now().to_string();
    let mut envelope = Vec::with_capacity(body.len() + 256);
    line(
        &mut envelope,
        &json!({"event_id": event_id, "sent_at": sent_at, "dsn": dsn.to_dsn_string(), "sdk": {"name": SDK_NAME, "version": SDK_VERSION}}),
    );
    line(&mut envelope, &json!({"type": kind, "length": body.len()}));
    envelope.extend_from_slice(&body);
    envelope.push(b'\n');
    let mut auth =
        format!("Sentry sentry_version=7, sentry_client={SDK_NAME}/{SDK_VERSION}, sentry_key={}", dsn.public_key);
    if !dsn.secret_key.is_empty() {
        auth.push_str(&format!(", sentry_secret={}", dsn.secret_key));
    }
    let mut req = Request::json(&dsn.envelope_url(), &Value::Null)
        .header("Content-Type", "application/x-sentry-envelope")
        .header("User-Agent", format!("{SDK_NAME}/{SDK_VERSION}"))
        .header("X-Sentry-Auth", auth);
    req.body = envelope;
    Ok(vec![Planned::any(req)])
}

#[cfg(test)]
mod tests {
    use super::*;

    // sentry-go internal/protocol/dsn.go NewDsn / GetAPIURL / String.
    #[test]
    fn dsns_parse_as_the_sdk() {
        let d = Dsn::parse("https://pub:sec@o1.ingest.sentry.io:8443/sub/path/42").unwrap();
        assert_eq!(d.envelope_url(), "https://o1.ingest.sentry.io:8443/sub/path/api/42/envelope/");
        assert_eq!(d.to_dsn_string(), "https://pub:sec@o1.ingest.sentry.io:8443/sub/path/42");
        let d = Dsn::parse("https://pub@sentry.io/7").unwrap();
        assert_eq!(d.envelope_url(), "https://sentry.io/api/7/envelope/");
        for (dsn, why) in [
            ("ftp://pub@h/1", "invalid scheme"),
            ("https://h/1", "empty username"),
            ("https://pub@h/", "empty project id"),
            ("https://pub@h/a/", "empty project id"),
        ] {
            let err = Dsn::parse(dsn).unwrap_err().to_string();
            assert_eq!(err, format!("[Sentry] DsnParseError: {why}"), "{dsn}");
        }
    }
}
