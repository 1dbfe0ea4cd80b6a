//! Sentry and incident.io (and, below, the other telemetry providers) against local servers,
//! fields checked one by one against the upstream notifier named in each test.

use eddy_controller_runtime::events::Severity;
use serde_json::{Value, json};
use sha2::Digest as _;

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

// google_pubsub.go: project ID in the address, topic in the channel, the event as the
// message data and the secret's headers as attributes; credentials from a service account key
// (JWT grant signed RS256, verified here with the key's public half) — sent over Pub/Sub's
// REST API instead of upstream's gRPC client.
#[tokio::test]
async fn googlepubsub() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let server = Capture::start().await;
    let key = json!({
        "type": "service_account",
        "client_email": "flux@proj.iam.gserviceaccount.com",
        "private_key_id": "kid-1",
        "private_key": include_str!("testdata/gcp-sa-key.pem"),
        "token_uri": format!("{}/token", server.url),
    });
    let mut cfg = config("googlepubsub", "my-project");
    cfg.channel = "flux-events".into();
    cfg.token = key.to_string();
    cfg.pubsub_api = format!("{}/pubsub", server.url);
    cfg.headers = [("team".to_owned(), "platform".to_owned())].into_iter().collect();
    server.script(&[
        (200, r#"{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}"#),
        (200, r#"{"messageIds":["1"]}"#),
    ]);
    let e = event(Severity::Error);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&e).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 2);
    assert_eq!((rs[0].method.as_str(), rs[0].path.as_str()), ("POST", "/token"));
    assert_eq!(rs[0].header("content-type"), "application/x-www-form-urlencoded");
    let form: std::collections::BTreeMap<String, String> =
        ::url::form_urlencoded::parse(&rs[0].body).into_owned().collect();
    assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let parts: Vec<&str> = form["assertion"].split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&url.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"}));
    let claims: Value = serde_json::from_slice(&url.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "flux@proj.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/pubsub");
    assert_eq!(claims["aud"], format!("{}/token", server.url));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    let public = b64.decode(include_str!("testdata/gcp-sa-pub.pkcs1.b64").trim()).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &url.decode(parts[2]).unwrap())
        .expect("the assertion is signed by the service account key");

    assert_eq!(rs[1].path, "/pubsub/v1/projects/my-project/topics/flux-events:publish");
    assert_eq!(rs[1].header("authorization"), "Bearer ya29.test");
    let msg = &rs[1].json()["messages"][0];
    assert_eq!(msg["attributes"], json!({"team": "platform"}));
    let data = b64.decode(msg["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, crate::event::go_json_bytes(&crate::event::to_go_json(&e)), "the event as json.Marshal writes it");

    // The emulator: plain HTTP, no credentials, no attributes when there are no headers.
    let emulator = Capture::start().await;
    let mut em = cfg.clone();
    em.token = String::new();
    em.headers.clear();
    em.pubsub_emulator = Some(emulator.url.trim_start_matches("http://").to_owned());
    let r = super::tests::post_one(em, &e, &emulator).await;
    assert_eq!(r.path, "/v1/projects/my-project/topics/flux-events:publish");
    assert_eq!(r.header("authorization"), "");
    assert!(r.json()["messages"][0].get("attributes").is_none());

    let mut none = cfg.clone();
    none.channel = String::new();
    let err = Notifier::new(none, fast()).unwrap().post(&e).await.unwrap_err();
    assert_eq!(err.to_string(), "GCP Pub/Sub topic ID cannot be empty");
    let mut none = cfg;
    none.token = String::new();
    let err = Notifier::new(none, fast()).unwrap().post(&e).await.unwrap_err();
    assert!(err.to_string().starts_with("GCP credentials are required"), "{err}");
}

/// A protobuf wire-format field, decoded without a schema.
#[derive(Debug, Clone, PartialEq)]
enum Wire {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(Vec<u8>),
}

fn decode_pb(mut b: &[u8]) -> Vec<(u32, Wire)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let field = u32::try_from(key >> 3).unwrap();
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut b)),
            1 => {
                let v = u64::from_le_bytes(b[..8].try_into().unwrap());
                b = &b[8..];
                Wire::Fixed64(v)
            }
            2 => {
                let len = usize::try_from(varint(&mut b)).unwrap();
                let v = b[..len].to_vec();
                b = &b[len..];
                Wire::Bytes(v)
            }
            5 => {
                let v = u32::from_le_bytes(b[..4].try_into().unwrap());
                b = &b[4..];
                Wire::Fixed32(v)
            }
            other => panic!("wire type {other}"),
        };
        out.push((field, value));
    }
    out
}

fn fields(b: &[u8], n: u32) -> Vec<Wire> {
    decode_pb(b).into_iter().filter(|(f, _)| *f == n).map(|(_, v)| v).collect()
}

fn one(b: &[u8], n: u32) -> Wire {
    let mut f = fields(b, n);
    assert_eq!(f.len(), 1, "field {n} once");
    f.remove(0)
}

fn bytes(w: &Wire) -> &[u8] {
    match w {
        Wire::Bytes(b) => b,
        other => panic!("not length-delimited: {other:?}"),
    }
}

fn text(w: &Wire) -> String {
    String::from_utf8(bytes(w).to_vec()).unwrap()
}

/// `KeyValue` list → (key, string value).
fn key_values(list: &[Wire]) -> Vec<(String, String)> {
    list.iter().map(|kv| (text(&one(bytes(kv), 1)), text(&one(bytes(&one(bytes(kv), 2)), 1)))).collect()
}

// otel.go with otlptracehttp v1.44: one ExportTraceServiceRequest per event, decoded here field
// by field (opentelemetry-proto numbering) from what a local OTLP/HTTP receiver got.
#[tokio::test]
async fn otel() {
    let server = Capture::start().await;
    let mut cfg = config("otel", &server.url);
    cfg.alert_name = "traces".into();
    cfg.alert_namespace = "flux-system".into();
    cfg.alert_uid = "alert-uid-1".into();
    cfg.headers = [("X-Scope-OrgID".to_owned(), "tenant".to_owned())].into_iter().collect();
    cfg.password = "otel-token".into();
    let e = event(Severity::Error);
    let r = super::tests::post_one(cfg.clone(), &e, &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/traces", "the default path when the address has none");
    assert_eq!(r.header("content-type"), "application/x-protobuf");
    assert_eq!(r.header("authorization"), "Bearer otel-token", "password as bearer token when headers are set");
    assert_eq!(r.header("x-scope-orgid"), "tenant");

    let resource_spans = one(&r.body, 1);
    let rs = bytes(&resource_spans);
    assert_eq!(text(&one(rs, 3)), "https://opentelemetry.io/schemas/1.34.0");
    let resource = one(rs, 1);
    assert_eq!(
        key_values(&fields(bytes(&resource), 1)),
        [
            ("service.instance.id".to_owned(), "alert-uid-1".to_owned()),
            ("service.name".to_owned(), "flux-system/traces".to_owned()),
            ("service.namespace".to_owned(), "flux-system".to_owned()),
        ]
    );
    let scope_spans = one(rs, 2);
    let ss = bytes(&scope_spans);
    assert_eq!(text(&one(bytes(&one(ss, 1)), 1)), "flux:notification-controller");
    let span = one(ss, 2);
    let span = bytes(&span);
    let revision = format!("main@sha1:{}", "a".repeat(40));
    let digest = sha2::Sha256::digest(format!("alert-uid-1:{revision}").as_bytes());
    assert_eq!(bytes(&one(span, 1)), &digest[..16], "trace id from the alert uid and revision");
    assert_eq!(bytes(&one(span, 2)).len(), 8, "a span id");
    assert!(fields(span, 4).is_empty(), "no parent span id");
    assert_eq!(text(&one(span, 5)), "Kustomization: flux-system/apps");
    assert_eq!(one(span, 6), Wire::Varint(1), "SPAN_KIND_INTERNAL");
    assert_eq!(one(span, 7), Wire::Fixed64(1_700_000_000_000_000_000), "start at the event time");
    let Wire::Fixed64(end) = one(span, 8) else { panic!("end time") };
    assert!(end >= 1_700_000_000_000_000_000);
    assert_eq!(
        key_values(&fields(span, 9)),
        [
            ("object.uid".to_owned(), "0f0a-uid".to_owned()),
            ("object.kind".to_owned(), "Kustomization".to_owned()),
            ("object.name".to_owned(), "apps".to_owned()),
            ("object.namespace".to_owned(), "flux-system".to_owned()),
            ("revision".to_owned(), revision.clone()),
            ("summary".to_owned(), "prod".to_owned()),
        ]
    );
    let status = one(span, 15);
    assert_eq!(text(&one(bytes(&status), 2)), "Health check failed <x> & more\nsecond line");
    assert_eq!(one(bytes(&status), 3), Wire::Varint(2), "STATUS_CODE_ERROR");
    assert_eq!(one(span, 16), Wire::Fixed32(0x300), "remote parent flags");

    // Info: STATUS_CODE_OK without a message; basic auth from username/password.
    cfg.username = "user".into();
    cfg.url = format!("{}/otlp/v1/traces", server.url);
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Info), &server).await;
    assert_eq!(r.path, "/otlp/v1/traces");
    assert_eq!(r.header("authorization"), "Basic dXNlcjpvdGVsLXRva2Vu");
    let rs = one(&r.body, 1);
    let ss = one(bytes(&rs), 2);
    let span = one(bytes(&ss), 2);
    let status = one(bytes(&span), 15);
    assert_eq!(decode_pb(bytes(&status)), [(3, Wire::Varint(1))]);

    // No headers in the secret: no Authorization (upstream's rule); HelmRepository skipped.
    cfg.headers.clear();
    let r = super::tests::post_one(cfg.clone(), &event(Severity::Info), &server).await;
    assert_eq!(r.header("authorization"), "");
    let mut helm = event(Severity::Info);
    helm.involved_object.kind = Some("HelmRepository".into());
    Notifier::new(cfg, fast()).unwrap().post(&helm).await.unwrap();
    assert_eq!(server.requests().len(), 3);
}

// azure_eventhub.go: the event as JSON in one event, SAS from a connection string or a JWT
// with the hub in the address and the namespace in the channel (REST "send event" here,
// AMQP upstream).
#[tokio::test]
async fn azureeventhub() {
    let server = Capture::start().await;
    let mut cfg = config(
        "azureeventhub",
        "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0;EntityPath=flux",
    );
    cfg.eventhub_base = server.url.clone();
    let e = event(Severity::Info);
    let r = super::tests::post_one(cfg.clone(), &e, &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/flux/messages?timeout=60&api-version=2014-01");
    assert_eq!(
        r.body,
        crate::event::go_json_bytes(&crate::event::to_go_json(&e)),
        "the event as json.Marshal writes it"
    );
    let auth = r.header("authorization");
    assert!(
        auth.starts_with("SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2Fflux&sig="),
        "{auth}"
    );
    assert!(auth.ends_with("&skn=send"), "{auth}");
    assert!(!auth.contains("c2VjcmV0"), "the key itself is not sent");

    let mut jwt = cfg.clone();
    jwt.url = "flux".into();
    jwt.channel = "myns".into();
    jwt.token = "eyJ.jwt".into();
    let r = super::tests::post_one(jwt.clone(), &e, &server).await;
    assert_eq!(r.path, "/flux/messages?timeout=60&api-version=2014-01");
    assert_eq!(r.header("authorization"), "Bearer eyJ.jwt");

    let mut both = cfg.clone();
    both.token = "eyJ.jwt".into();
    let err = Notifier::new(both, fast()).unwrap().post(&e).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid authentication options: jwt token and SAS authentication cannot be set at the same time"
    );
    let mut no_path = cfg;
    no_path.url = "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0".into();
    let err = Notifier::new(no_path, fast()).unwrap().post(&e).await.unwrap_err().to_string();
    assert_eq!(err, "failed to create a eventhub using SAS: connection string has no EntityPath");
    assert!(!err.contains("c2VjcmV0"));
}
