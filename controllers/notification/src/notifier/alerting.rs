//! Alerting and observability providers: the payloads of notification-controller's
//! `internal/notifier/opsgenie.go`, `alertmanager.go`, `grafana.go`, `pagerduty.go`,
//! `datadog.go`.

use std::collections::BTreeMap;

use base64::Engine as _;
use eddy_controller_runtime::events::{FluxEvent, Severity};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{NotifierError, Planned, author, obj};
use crate::config::ProviderConfig;
use crate::event::hex;
use crate::http::Request;

fn timestamp(event: &FluxEvent) -> String {
    serde_json::to_value(&event.timestamp).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// `opsgenie.go`: message `Kind/name`, the sha256 alias of provider uid, object and reason,
/// metadata plus `severity` as details, `GenieKey` auth.
pub(super) fn opsgenie(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("empty Opsgenie apikey/token".into()));
    }
    let o = &event.involved_object;
    let mut details = event.metadata.clone();
    details.insert("severity".into(), event.severity.as_str().into());
    let key = format!("{}/{}/{}/{}/{}", cfg.provider_uid, obj(&o.kind), obj(&o.namespace), obj(&o.name), event.reason);
    let alias = hex(&Sha256::digest(key.as_bytes()));
    let payload = json!({
        "message": format!("{}/{}", obj(&o.kind), obj(&o.name)),
        "alias": alias,
        "description": event.message,
        "details": details,
    });
    Ok(vec![Planned::any(Request::json(&cfg.url, &payload).header("Authorization", format!("GenieKey {}", cfg.token)))])
}

/// `cases.Title(language.Und)`: each word's first letter upper case, the rest lower case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// `alertmanager.go`: one firing alert, metadata as labels plus Flux's, `summary` moved to
/// the annotations; bearer token or basic auth.
pub(super) fn alertmanager(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let o = &event.involved_object;
    let mut labels = event.metadata.clone();
    let mut annotations = BTreeMap::from([("message".to_owned(), event.message.clone())]);
    if let Some(s) = labels.remove("summary") {
        annotations.insert("summary".into(), s);
    }
    labels.insert("alertname".into(), format!("Flux{}{}", obj(&o.kind), title(&event.reason)));
    labels.insert("severity".into(), event.severity.as_str().into());
    labels.insert("reason".into(), event.reason.clone());
    labels.insert("kind".into(), obj(&o.kind).into());
    labels.insert("name".into(), obj(&o.name).into());
    labels.insert("namespace".into(), obj(&o.namespace).into());
    labels.insert("reportingcontroller".into(), event.reporting_controller.clone());
    // `endsAt` is a struct with omitempty, which Go never omits: the zero time.
    let payload = json!([{
        "status": "firing", "labels": labels, "annotations": annotations,
        "startsAt": timestamp(event), "endsAt": "0001-01-01T00:00:00Z",
    }]);
    let mut req = Request::json(&cfg.url, &payload);
    if !cfg.token.is_empty() {
        req = req.header("Authorization", format!("Bearer {}", cfg.token));
    }
    if !cfg.username.is_empty() && !cfg.password.is_empty() {
        req.basic_auth = Some((cfg.username.clone(), cfg.password.clone()));
        req.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Authorization"));
    }
    vec![Planned::any(req)]
}

/// `grafana.go`: a Graphite annotation with `flux`, the controller, the metadata (`:`
/// replaced by `|`) and the object as tags.
pub(super) fn grafana(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let o = &event.involved_object;
    let mut tags = vec!["flux".to_owned(), event.reporting_controller.clone()];
    for (k, v) in &event.metadata {
        tags.push(format!("{}: {}", k.replace(':', "|"), v.replace(':', "|")));
    }
    tags.push(format!("kind: {}", obj(&o.kind)));
    tags.push(format!("name: {}", obj(&o.name)));
    tags.push(format!("namespace: {}", obj(&o.namespace)));
    let payload = json!({"when": event.timestamp.0.as_second(), "text": author(event), "tags": tags});
    let mut req = Request::json(&cfg.url, &payload);
    if !cfg.token.is_empty() {
        req = req.header("Authorization", format!("Bearer {}", cfg.token));
    } else if !cfg.username.is_empty() && !cfg.password.is_empty() {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cfg.username, cfg.password));
        req = req.header("Authorization", format!("Basic {basic}"));
    }
    vec![Planned::any(req)]
}

/// Splits a CamelCase reason into lower-case words (`splitCamelcase` as
/// `formatNameAndDescription` uses it): `ReconciliationFailed` → `reconciliation failed`.
#[must_use]
pub fn describe_reason(reason: &str) -> String {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in reason.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i][0].is_uppercase()
            && runs[i + 1][0].is_lowercase()
            && let Some(c) = runs[i].pop()
        {
            runs[i + 1].insert(0, c);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `pagerduty.go`: nothing for `Progressing`; an alert event (trigger on errors, resolve
/// otherwise, dedup key = object uid) to `/v2/enqueue`, and for info events also a change
/// event to `/v2/change/enqueue`; the routing key is `spec.channel`.
pub(super) fn pagerduty(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if event.reason == "Progressing" {
        return Ok(Vec::new());
    }
    let u = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("PagerDuty endpoint"))?;
    let endpoint = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default())
        + &u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let o = &event.involved_object;
    let name = format!("{}/{}", obj(&o.kind), obj(&o.name)).to_lowercase();
    let summary = format!("{}: {name}", describe_reason(&event.reason));
    let source = format!("Flux {}", event.reporting_controller);
    let details = json!({"message": event.message, "metadata": event.metadata});
    let mut alert = serde_json::Map::new();
    alert.insert("routing_key".into(), cfg.channel.clone().into());
    let error = event.severity == Severity::Error;
    alert.insert("event_action".into(), (if error { "trigger" } else { "resolve" }).into());
    if let Some(uid) = o.uid.as_deref().filter(|u| !u.is_empty()) {
        alert.insert("dedup_key".into(), uid.into());
    }
    if error {
        let mut payload = serde_json::Map::new();
        payload.insert("summary".into(), summary.clone().into());
        payload.insert("source".into(), source.clone().into());
        payload.insert("severity".into(), "error".into());
        payload.insert("timestamp".into(), timestamp(event).into());
        if !obj(&o.name).is_empty() {
            payload.insert("component".into(), obj(&o.name).into());
        }
        if !obj(&o.kind).is_empty() {
            payload.insert("group".into(), obj(&o.kind).into());
        }
        payload.insert("custom_details".into(), details.clone());
        alert.insert("payload".into(), Value::Object(payload));
    }
    let mut out = vec![Planned::any(Request::json(&format!("{endpoint}/v2/enqueue"), &Value::Object(alert)))];
    if event.severity == Severity::Info {
        let change = json!({
            "routing_key": cfg.channel,
            "payload": {"source": source, "summary": summary, "timestamp": timestamp(event), "custom_details": details},
        });
        out.push(Planned::any(Request::json(&format!("{endpoint}/v2/change/enqueue"), &change)));
    }
    Ok(out)
}

/// `datadog.go`: the v1 Events API on the address's host, `DD-API-KEY`, lower-cased tags.
pub(super) fn datadog(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("token cannot be empty".into()));
    }
    let u = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("DataDog address"))?;
    let host = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default())
        + &u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let o = &event.involved_object;
    let mut tags = vec![
        format!("flux_reporting_controller:{}", event.reporting_controller),
        format!("flux_reason:{}", event.reason),
        format!("kube_kind:{}", obj(&o.kind)),
        format!("kube_name:{}", obj(&o.name)),
        format!("kube_namespace:{}", obj(&o.namespace)),
    ];
    tags.extend(event.metadata.iter().map(|(k, v)| format!("{k}:{v}")));
    let tags: Vec<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
    let payload = json!({
        "alert_type": if event.severity == Severity::Error { "error" } else { "info" },
        "date_happened": event.timestamp.0.as_second(),
        "source_type_name": "fluxcd",
        "tags": tags,
        "text": event.message,
        "title": format!("Events from the {} {}/{}", obj(&o.kind), obj(&o.name), obj(&o.namespace)),
    });
    let req = Request::json(&format!("{host}/api/v1/events"), &payload)
        .header("Accept", "application/json")
        .header("DD-API-KEY", cfg.token.clone());
    Ok(vec![Planned::any(req)])
}

/// `incidentio.go`: an HTTP alert source event — `firing` for errors, `resolved` otherwise,
/// the object's uid as deduplication key, the metadata plus severity, reason and reporting
/// controller; bearer token; nothing for `Progressing`.
pub(super) fn incidentio(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("incident.io alert source"))?;
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("empty incident.io API token".into()));
    }
    if event.reason == "Progressing" {
        return Ok(Vec::new());
    }
    let mut metadata: BTreeMap<String, String> = event.metadata.clone();
    metadata.insert("severity".into(), event.severity.as_str().to_owned());
    metadata.insert("reason".into(), event.reason.clone());
    if !event.reporting_controller.is_empty() {
        metadata.insert("reportingController".into(), event.reporting_controller.clone());
    }
    let mut payload = serde_json::Map::new();
    payload.insert("title".into(), format!("{}: {}", author(event), event.reason).into());
    payload.insert("status".into(), if event.severity == Severity::Error { "firing" } else { "resolved" }.into());
    payload.insert("deduplication_key".into(), obj(&event.involved_object.uid).into());
    if !event.message.is_empty() {
        payload.insert("description".into(), event.message.clone().into());
    }
    payload.insert("metadata".into(), json!(metadata));
    let req = Request::json(&cfg.url, &Value::Object(payload)).header("Authorization", format!("Bearer {}", cfg.token));
    Ok(vec![Planned::any(req)])
}

#[cfg(test)]
mod tests {
    use super::*;

    // util.go splitCamelcase as formatNameAndDescription uses it.
    #[test]
    fn reasons_split_like_upstream() {
        assert_eq!(describe_reason("ReconciliationFailed"), "reconciliation failed");
        assert_eq!(describe_reason("PDFLoader"), "pdf loader");
        assert_eq!(describe_reason("HealthCheckFailed"), "health check failed");
        assert_eq!(describe_reason("Build2Go"), "build 2 go");
    }

    #[test]
    fn title_case_like_x_text() {
        assert_eq!(title("ReconciliationSucceeded"), "Reconciliationsucceeded");
        assert_eq!(title("health check"), "Health Check");
    }
}
