//! Sentry and incident.io (and, below, the other telemetry providers) against local servers,
//! fields checked one by one against the upstream notifier named in each test.

use eddy_controller_runtime::events::Severity;
use serde_json::{Value, json};

use super::tests::{config, event, fast};
use super::*;
use crate::testserver::Capture;

/// Splits a Sentry envelope into its JSON lines.
fn envelope(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.ends_with('\n'), "json.Encoder ends every line with a newline");
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

// sentry.go toSentryEvent (errors) and eventToSpan (info), sent as sentry-go's HTTP transport
// does: envelope to /api/<project>/envelope/, X-Sentry-Auth, environment from the channel.
#[tokio::test]
async fn sentry() {
    let server = Capture::start().await;
    let host = server.url.trim_start_matches("http://");
    let mut cfg = config("sentry", &format!("http://pubkey:seckey@{host}/prefix/42"));
    cfg.channel = "production".into();
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Error), &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/prefix/api/42/envelope/");
    assert_eq!(r.header("content-type"), "application/x-sentry-envelope");
    assert_eq!(
        r.header("x-sentry-auth"),
        "Sentry sentry_version=7, sentry_client=sentry.go/0.46.2, sentry_key=pubkey, sentry_secret=seckey"
    );
    let lines = envelope(&r.body);
    assert_eq!(lines.len(), 3);
    let id = lines[0]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(lines[0]["dsn"], format!("http://pubkey:seckey@{host}/prefix/42"));
    assert_eq!(lines[0]["sdk"], json!({"name": "sentry.go", "version": "0.46.2"}));
    assert_eq!(lines[1]["type"], "event");
    let item = String::from_utf8(r.body.clone()).unwrap().lines().nth(2).unwrap().len();
    assert_eq!(lines[1]["length"], item, "the item length is the body's");
    let e = &lines[2];
    assert_eq!(e["event_id"], id.as_str());
    assert_eq!(e["level"], "error");
    assert_eq!(e["message"], "Health check failed <x> & more\nsecond line");
    assert_eq!(e["server_name"], "kustomize-controller");
    assert_eq!(e["transaction"], "Kustomization: flux-system/apps");
    assert_eq!(e["environment"], "production");
    assert_eq!(e["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(e["platform"], "go");
    assert_eq!(
        e["contexts"],
        json!({"metadata": {"revision": format!("main@sha1:{}", "a".repeat(40)), "summary": "prod"}})
    );

    cfg.channel = String::new();
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Info), &server).await;
    let lines = envelope(&r.body);
    assert_eq!(lines[1]["type"], "transaction");
    let t = &lines[2];
    assert_eq!(t["type"], "transaction");
    assert_eq!(t["transaction"], "Kustomization: flux-system/apps");
    assert_eq!(t["message"], "Health check failed <x> & more\nsecond line");
    assert!(t.get("environment").is_none());
    assert!(t.get("level").is_none());
    assert_eq!(t["start_timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(t["timestamp"], "2023-11-14T22:13:20Z");
    let tags = json!({
        "flux_involved_object_kind": "Kustomization",
        "flux_involved_object_name": "apps",
        "flux_involved_object_namespace": "flux-system",
        "flux_reason": "HealthCheckFailed",
        "flux_reporting_controller": "kustomize-controller",
        "flux_reporting_instance": "host-1",
        "revision": format!("main@sha1:{}", "a".repeat(40)),
        "summary": "prod",
    });
    assert_eq!(t["tags"], tags);
    let span = &t["spans"][0];
    assert_eq!(span["tags"], tags);
    assert_eq!(span["op"], "event");
    assert_eq!(t["contexts"]["trace"]["op"], "event");
    assert_eq!(t["contexts"]["trace"]["trace_id"], span["trace_id"]);
    assert_eq!(t["contexts"]["trace"]["span_id"], span["span_id"]);
    assert_eq!(span["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(span["span_id"].as_str().unwrap().len(), 16);

    // Trace events are not sent; a DSN without a key fails without quoting it.
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Trace)).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    cfg.url = format!("http://{host}/42");
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap_err();
    assert_eq!(err.to_string(), "[Sentry] DsnParseError: empty username");
    cfg.url = String::new();
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Error)).await.unwrap_err();
    assert_eq!(err.to_string(), "DSN cannot be empty");
}

// incidentio.go: firing/resolved by severity, uid as deduplication key, metadata with
// severity, reason and reportingController, bearer token, Progressing skipped.
#[tokio::test]
async fn incidentio() {
    let server = Capture::start().await;
    let mut cfg = config("incident.io", &format!("{}/v2/alert_events/http/01ABC", server.url));
    cfg.token = "inc-token".into();
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Error), &server).await;
    assert_eq!(r.path, "/v2/alert_events/http/01ABC");
    assert_eq!(r.header("authorization"), "Bearer inc-token");
    assert_eq!(r.header("content-type"), "application/json");
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert!(body.starts_with(r#"{"title":"kustomization/apps.flux-system: HealthCheckFailed","status":"firing","deduplication_key":"0f0a-uid","description":"Health check failed \u003cx\u003e"#), "{body}");
    assert_eq!(
        r.json()["metadata"],
        json!({
            "reason": "HealthCheckFailed",
            "reportingController": "kustomize-controller",
            "revision": format!("main@sha1:{}", "a".repeat(40)),
            "severity": "error",
            "summary": "prod",
        })
    );
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Info), &server).await;
    assert_eq!(r.json()["status"], "resolved");
    let mut p = event(Severity::Info);
    p.reason = "Progressing".into();
    Notifier::new(cfg.clone(), fast()).unwrap().post(&p).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    cfg.token = String::new();
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), "empty incident.io API token");
}
