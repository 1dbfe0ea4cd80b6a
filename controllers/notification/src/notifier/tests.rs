//! Each provider against a real local HTTP server, payloads checked field by field against
//! the upstream notifier named in each test.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_controller_runtime::events::{FluxEvent, Severity};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use sha2::Digest as _;

use super::*;
use crate::testserver::Capture;

pub(super) fn event(severity: Severity) -> FluxEvent {
    FluxEvent {
        involved_object: ObjectReference {
            api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
            kind: Some("Kustomization".into()),
            name: Some("apps".into()),
            namespace: Some("flux-system".into()),
            uid: Some("0f0a-uid".into()),
            ..ObjectReference::default()
        },
        severity,
        timestamp: Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap()),
        message: "Health check failed <x> & more\nsecond line".into(),
        reason: "HealthCheckFailed".into(),
        action: String::new(),
        metadata: BTreeMap::from([
            ("revision".into(), format!("main@sha1:{}", "a".repeat(40))),
            ("summary".into(), "prod".into()),
        ]),
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: "host-1".into(),
    }
}

pub(super) fn config(provider_type: &str, url: &str) -> ProviderConfig {
    ProviderConfig {
        provider_type: provider_type.into(),
        url: url.into(),
        provider_uid: "8d7f5c2e-1111-2222".into(),
        provider_name: "p".into(),
        provider_namespace: "flux-system".into(),
        timeout: Duration::from_secs(10),
        ..ProviderConfig::default()
    }
}

pub(super) fn fast() -> RetryPolicy {
    RetryPolicy { retries: 2, min_wait: Duration::from_millis(10), max_wait: Duration::from_millis(20) }
}

pub(super) async fn post_one(cfg: ProviderConfig, e: &FluxEvent, server: &Capture) -> crate::testserver::Captured {
    Notifier::new(cfg, fast()).unwrap().post(e).await.unwrap();
    server.requests().pop().expect("a request")
}

// forwarder.go: the event as JSON, gotk-component, headers, X-Signature for generic-hmac.
#[tokio::test]
async fn generic_and_generic_hmac() {
    let server = Capture::start().await;
    let mut cfg = config("generic", &format!("{}/hook", server.url));
    cfg.headers = BTreeMap::from([("X-Custom".into(), "v".into())]);
    let e = event(Severity::Info);
    let r = post_one(cfg.clone(), &e, &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("gotk-component"), "kustomize-controller");
    assert_eq!(r.header("x-custom"), "v");
    assert_eq!(r.header("x-signature"), "");
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert!(body.starts_with(r#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"0f0a-uid","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2023-11-14T22:13:20Z","message":"Health check failed \u003cx\u003e \u0026 more\nsecond line","reason":"HealthCheckFailed","metadata":{"#), "{body}");
    assert!(body.ends_with(r#""reportingController":"kustomize-controller","reportingInstance":"host-1"}"#), "{body}");

    cfg.provider_type = "generic-hmac".into();
    cfg.token = "hmac-key".into();
    let r = post_one(cfg.clone(), &e, &server).await;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"hmac-key").unwrap();
    mac.update(&r.body);
    assert_eq!(r.header("x-signature"), format!("sha256={}", hex(&mac.finalize().into_bytes())));
    cfg.token = String::new();
    let err = Notifier::new(cfg, fast()).unwrap().post(&e).await.unwrap_err();
    assert_eq!(err.to_string(), "HMAC key is empty");
}

// slack.go: attachment fields, colors, fallback, bearer token.
#[tokio::test]
async fn slack() {
    let server = Capture::start().await;
    let mut cfg = config("slack", &server.url);
    cfg.channel = "#ops".into();
    cfg.token = "xoxb".into();
    let r = post_one(cfg, &event(Severity::Error), &server).await;
    assert_eq!(r.header("authorization"), "Bearer xoxb");
    let p = r.json();
    assert_eq!(p["channel"], "#ops");
    assert_eq!(p["username"], "kustomize-controller");
    assert_eq!(p["icon_url"], "");
    assert_eq!(p["icon_emoji"], "");
    assert!(p.get("text").is_none());
    let a = &p["attachments"][0];
    assert_eq!(a["fallback"], "kustomization/apps.flux-system: Health check failed <x> & more");
    assert_eq!(a["color"], "danger");
    assert_eq!(a["author_name"], "kustomization/apps.flux-system");
    assert_eq!(a["text"], "Health check failed <x> & more\nsecond line");
    assert_eq!(a["mrkdwn_in"], json!(["text"]));
    assert_eq!(a["fields"][1], json!({"title": "summary", "value": "prod", "short": false}));
}

// discord.go (/slack appended, no channel), rocket.go (its colors).
#[tokio::test]
async fn discord_and_rocket() {
    let server = Capture::start().await;
    let mut cfg = config("discord", &format!("{}/api/webhooks/1/x", server.url));
    cfg.channel = "ignored".into();
    let r = post_one(cfg, &event(Severity::Info), &server).await;
    assert_eq!(r.path, "/api/webhooks/1/x/slack");
    let p = r.json();
    assert_eq!(p["channel"], "");
    assert_eq!(p["attachments"][0]["color"], "good");
    assert_eq!(p["attachments"][0]["fallback"], "");

    let mut cfg = config("rocket", &server.url);
    cfg.channel = "c".into();
    cfg.username = "bot".into();
    let p = post_one(cfg, &event(Severity::Info), &server).await.json();
    assert_eq!(p["username"], "bot");
    assert_eq!(p["channel"], "c");
    assert_eq!(p["attachments"][0]["color"], "#0076D7");
}

// teams.go: Adaptive Card with summary first, MessageCard for *.webhook.office.com.
#[tokio::test]
async fn msteams_adaptive_card() {
    let server = Capture::start().await;
    let p = post_one(config("msteams", &server.url), &event(Severity::Error), &server).await.json();
    assert_eq!(p["type"], "message");
    let att = &p["attachments"][0];
    assert_eq!(att["contentType"], "application/vnd.microsoft.card.adaptive");
    let c = &att["content"];
    assert_eq!(c["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_eq!(c["version"], "1.4");
    assert_eq!(c["msteams"], json!({"width": "Full"}));
    let items = &c["body"][0]["items"];
    assert_eq!(c["body"][0]["type"], "Container");
    assert_eq!(
        items[0],
        json!({"type": "TextBlock", "text": "kustomization/apps.flux-system", "size": "large", "weight": "bolder", "wrap": true})
    );
    assert_eq!(items[1]["color"], "attention");
    assert_eq!(items[2]["facts"][0], json!({"title": "summary", "value": "prod"}));
    assert_eq!(items[2]["facts"][1]["title"], "revision");

    let cfg = config("msteams", "https://x.webhook.office.com/hook");
    let Plan::Requests(planned) = Notifier::new(cfg, fast()).unwrap().plan(&event(Severity::Info)).unwrap() else {
        panic!("requests")
    };
    let legacy: serde_json::Value = serde_json::from_slice(&planned[0].request.body).unwrap();
    assert_eq!(legacy["@type"], "MessageCard");
    assert_eq!(legacy["themeColor"], "0076D7");
    assert_eq!(legacy["sections"][0]["activitySubtitle"], "kustomization/apps.flux-system");
}

// google_chat.go, webex.go, lark.go.
#[tokio::test]
async fn googlechat_webex_lark() {
    let server = Capture::start().await;
    let p = post_one(config("googlechat", &server.url), &event(Severity::Error), &server).await.json();
    let card = &p["cards"][0];
    assert_eq!(card["header"]["title"], "kustomization/apps.flux-system");
    assert_eq!(card["header"]["subtitle"], "kustomize-controller");
    assert_eq!(
        card["sections"][0]["widgets"][0]["textParagraph"]["text"],
        "<font color=\"#ff0000\">Health check failed <x> & more\nsecond line</font>"
    );
    assert_eq!(card["sections"][1]["widgets"][1]["keyValue"]["topLabel"], "summary");

    let mut cfg = config("webex", &server.url);
    cfg.channel = "room".into();
    cfg.token = "wt".into();
    let r = post_one(cfg, &event(Severity::Info), &server).await;
    assert_eq!(r.header("authorization"), "Bearer wt");
    let p = r.json();
    assert_eq!(p["roomId"], "room");
    let md = p["markdown"].as_str().unwrap();
    assert!(md.starts_with("✅ **kustomization/apps.flux-system**\nHealth check failed"), "{md}");
    assert!(md.ends_with(">**summary**: prod\n"), "{md}");

    let p = post_one(config("lark", &server.url), &event(Severity::Error), &server).await.json();
    assert_eq!(p["msg_type"], "interactive");
    assert_eq!(p["card"]["header"]["template"], "red");
    assert_eq!(p["card"]["header"]["title"]["content"], "🚨 kustomization/apps.flux-system");
    assert!(p["card"]["elements"][0]["text"]["content"].as_str().unwrap().ends_with("summary: prod\n"));
}

// telegram.go (MarkdownV2, chat:thread), matrix.go (PUT, sha1 transaction id).
#[tokio::test]
async fn telegram_and_matrix() {
    let server = Capture::start().await;
    let mut cfg = config("telegram", &server.url);
    cfg.channel = "-100:7".into();
    cfg.token = "bot-token".into();
    let r = post_one(cfg, &event(Severity::Info), &server).await;
    assert_eq!(r.path, "/botbot-token/sendMessage");
    let p = r.json();
    assert_eq!(p["chat_id"], "-100");
    assert_eq!(p["message_thread_id"], "7");
    assert_eq!(p["parse_mode"], "MarkdownV2");
    assert!(p["text"].as_str().unwrap().starts_with("*💫 kustomization/apps/flux\\-system*\n"));

    let mut cfg = config("matrix", &server.url);
    cfg.channel = "!room:server".into();
    cfg.token = "mt".into();
    let e = event(Severity::Info);
    let r = post_one(cfg, &e, &server).await;
    assert_eq!(r.method, "PUT");
    let tx = hex(&<sha1::Sha1 as sha2::Digest>::digest(crate::event::go_json_bytes(&to_go_json(&e))));
    assert_eq!(r.path, format!("/_matrix/client/r0/rooms/!room:server/send/m.room.message/{tx}"));
    assert_eq!(r.json()["msgtype"], "m.text");
}

// opsgenie.go, alertmanager.go, grafana.go.
#[tokio::test]
async fn opsgenie_alertmanager_grafana() {
    let server = Capture::start().await;
    let mut cfg = config("opsgenie", &server.url);
    cfg.token = "gk".into();
    let r = post_one(cfg, &event(Severity::Error), &server).await;
    assert_eq!(r.header("authorization"), "GenieKey gk");
    let p = r.json();
    assert_eq!(p["message"], "Kustomization/apps");
    assert_eq!(p["description"], "Health check failed <x> & more\nsecond line");
    assert_eq!(p["details"]["severity"], "error");
    let alias_key = "8d7f5c2e-1111-2222/Kustomization/flux-system/apps/HealthCheckFailed";
    assert_eq!(p["alias"], hex(&Sha256::digest(alias_key.as_bytes())));

    let mut cfg = config("alertmanager", &server.url);
    cfg.username = "u".into();
    cfg.password = "p".into();
    let r = post_one(cfg, &event(Severity::Error), &server).await;
    assert!(r.header("authorization").starts_with("Basic "));
    let a = &r.json()[0];
    assert_eq!(a["status"], "firing");
    assert_eq!(a["labels"]["alertname"], "FluxKustomizationHealthcheckfailed");
    assert_eq!(a["labels"]["reportingcontroller"], "kustomize-controller");
    assert!(a["labels"].get("summary").is_none());
    assert_eq!(a["annotations"]["summary"], "prod");
    assert_eq!(a["startsAt"], "2023-11-14T22:13:20Z");

    let mut cfg = config("grafana", &server.url);
    cfg.token = "gt".into();
    let r = post_one(cfg, &event(Severity::Info), &server).await;
    assert_eq!(r.header("authorization"), "Bearer gt");
    let p = r.json();
    assert_eq!(p["when"], 1_700_000_000);
    assert_eq!(p["text"], "kustomization/apps.flux-system");
    assert_eq!(p["tags"][0], "flux");
    assert_eq!(p["tags"][2], format!("revision: main@sha1|{}", "a".repeat(40)));
    assert_eq!(p["tags"][5], "name: apps");
}

// pagerduty.go (alert + change events), datadog.go (v1 events API).
#[tokio::test]
async fn pagerduty_and_datadog() {
    let server = Capture::start().await;
    let mut cfg = config("pagerduty", &format!("{}/ignored/path", server.url));
    cfg.channel = "routing".into();
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].path, "/v2/enqueue");
    assert_eq!(rs[0].json(), json!({"routing_key": "routing", "event_action": "resolve", "dedup_key": "0f0a-uid"}));
    assert_eq!(rs[1].path, "/v2/change/enqueue");
    let ch = rs[1].json();
    assert_eq!(ch["payload"]["summary"], "health check failed: kustomization/apps");
    assert_eq!(ch["payload"]["source"], "Flux kustomize-controller");
    assert_eq!(ch["payload"]["custom_details"]["metadata"]["summary"], "prod");
    Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    let t = server.requests()[2].json();
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["payload"]["severity"], "error");
    assert_eq!(t["payload"]["component"], "apps");
    assert_eq!(t["payload"]["group"], "Kustomization");
    assert_eq!(server.requests().len(), 3);

    let mut cfg = config("datadog", &server.url);
    cfg.token = "dd".into();
    let r = post_one(cfg, &event(Severity::Error), &server).await;
    assert_eq!(r.path, "/api/v1/events");
    assert_eq!(r.header("dd-api-key"), "dd");
    let p = r.json();
    assert_eq!(p["title"], "Events from the Kustomization apps/flux-system");
    assert_eq!(p["alert_type"], "error");
    assert_eq!(p["source_type_name"], "fluxcd");
    assert_eq!(p["tags"][0], "flux_reporting_controller:kustomize-controller");
    assert_eq!(p["tags"][2], "kube_kind:kustomization");
}

// github.go: list statuses, then create unless identical; gitlab.go likewise.
#[tokio::test]
async fn github_and_gitlab_commit_statuses() {
    let server = Capture::start().await;
    let mut cfg = config("github", &format!("{}/org/repo", server.url));
    cfg.token = "ghp".into();
    let e = event(Severity::Error);
    cfg.commit_status = commit_status_key(&cfg.provider_uid, &e);
    assert_eq!(cfg.commit_status, "kustomization/apps/8d7f5c2e");
    server.script(&[(200, "[]")]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&e).await.unwrap();
    let rs = server.requests();
    let sha = "a".repeat(40);
    assert_eq!(rs[0].method, "GET");
    assert_eq!(rs[0].path, format!("/api/v3/repos/org/repo/commits/{sha}/statuses?per_page=50"));
    assert_eq!(rs[1].path, format!("/api/v3/repos/org/repo/statuses/{sha}"));
    assert_eq!(rs[1].header("authorization"), "Bearer ghp");
    assert_eq!(
        rs[1].json(),
        json!({"state": "failure", "description": "health check failed", "context": "kustomization/apps/8d7f5c2e"})
    );
    // An identical status is not posted again.
    server.script(&[(
        200,
        r#"[{"context":"kustomization/apps/8d7f5c2e","state":"failure","description":"health check failed"}]"#,
    )]);
    Notifier::new(cfg, fast()).unwrap().post(&e).await.unwrap();
    assert_eq!(server.requests().len(), 3);

    let gl = Capture::start().await;
    let mut cfg = config("gitlab", &format!("{}/group/repo", gl.url));
    cfg.token = "glpat".into();
    cfg.commit_status = "kustomization/apps/8d7f5c2e".into();
    gl.script(&[(200, "[]")]);
    Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    let rs = gl.requests();
    assert_eq!(
        rs[0].path,
        format!("/api/v4/projects/group%2Frepo/repository/commits/{sha}/statuses?name=kustomization%2Fapps%2F8d7f5c2e")
    );
    assert_eq!(rs[1].path, format!("/api/v4/projects/group%2Frepo/statuses/{sha}"));
    assert_eq!(rs[1].header("private-token"), "glpat");
    assert_eq!(
        rs[1].json(),
        json!({"state": "success", "name": "kustomization/apps/8d7f5c2e", "description": "health check failed"})
    );
}

// Retries: 5xx retried, 4xx not; errors carry neither the URL nor the token.
#[tokio::test]
async fn retries_and_error_messages() {
    let server = Capture::start().await;
    server.script(&[(503, ""), (500, "")]);
    let mut cfg = config("slack", &format!("{}/services/SECRET", server.url));
    cfg.token = "tok".into();
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    assert_eq!(server.requests().len(), 3);

    server.script(&[(400, "invalid_payload")]);
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err().to_string();
    assert_eq!(err, "postMessage failed: request failed: request failed with status code 400: invalid_payload");
    assert_eq!(server.requests().len(), 4);

    server.script(&[(502, ""), (502, ""), (502, "")]);
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err().to_string();
    assert!(err.contains("giving up after 3 attempt(s)"), "{err}");
    assert!(!err.contains("SECRET") && !err.contains("tok"), "{err}");
}

#[test]
fn unsupported_types_fail_clearly() {
    let err = Notifier::new(config("smoke-signal", "http://x"), fast()).unwrap_err();
    assert_eq!(err.to_string(), "provider smoke-signal not supported");
    let cfg = config("opsgenie", "http://x");
    let err = Notifier::new(cfg, fast()).unwrap().plan(&event(Severity::Info)).unwrap_err();
    assert_eq!(err.to_string(), "empty Opsgenie apikey/token");
}

// zulip.go (form-encoded as url.Values, basic auth, path replaced) and markdown.go.
#[tokio::test]
async fn zulip() {
    use base64::Engine as _;
    let server = Capture::start().await;
    let mut cfg = config("zulip", &format!("{}/ignored/path?x=1", server.url));
    cfg.channel = "ops/flux alerts".into();
    cfg.username = "bot@example.com".into();
    cfg.password = "zulip-key".into();
    let mut e = event(Severity::Error);
    e.metadata.insert("change_request".into(), "42".into());
    let r = post_one(cfg.clone(), &e, &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v1/messages?x=1", "the address's path is replaced, its query kept (Go's u.String())");
    assert_eq!(r.header("content-type"), "application/x-www-form-urlencoded");
    let basic = base64::engine::general_purpose::STANDARD.encode("bot@example.com:zulip-key");
    assert_eq!(r.header("authorization"), format!("Basic {basic}"));
    let body = String::from_utf8(r.body.clone()).unwrap();
    let keys: Vec<&str> = body.split('&').map(|kv| kv.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["content", "to", "topic", "type"], "url.Values encodes keys sorted");
    let fields: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(fields["type"], "stream");
    assert_eq!(fields["to"], "ops");
    assert_eq!(fields["topic"], "flux alerts");
    assert!(body.contains("topic=flux+alerts"), "spaces as '+' as Go's QueryEscape: {body}");
    assert_eq!(
        fields["content"],
        format!(
            "## Flux Status\n\n⚠️ Kustomization/flux-system/apps\n\nHealth check failed <x> & more\nsecond line\n\n\
             Metadata:\n* `revision`: main@sha1:{}\n* `summary`: prod\n",
            "a".repeat(40)
        ),
        "change_request is left out"
    );
    let info = post_one(cfg.clone(), &event(Severity::Info), &server).await;
    let fields: BTreeMap<String, String> = url::form_urlencoded::parse(&info.body).into_owned().collect();
    assert!(fields["content"].contains("ℹ️ Kustomization/flux-system/apps"), "{}", fields["content"]);

    cfg.channel = "no-topic".into();
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid Zulip channel format, expected <channel>/<topic>, got 'no-topic'");
}

// zoom.go: ?format=full (query re-encoded, keys sorted), raw token as Authorization, head/sub_head/body.
#[tokio::test]
async fn zoom() {
    let server = Capture::start().await;
    let mut cfg = config("zoom", &format!("{}/inbound/hook?b=2&a=x%20y", server.url));
    cfg.token = "zoom-verify".into();
    let r = post_one(cfg.clone(), &event(Severity::Error), &server).await;
    assert_eq!(r.path, "/inbound/hook?a=x+y&b=2&format=full", "format=full added, query encoded as url.Values");
    assert_eq!(r.header("authorization"), "zoom-verify", "the raw token, no scheme");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(
        r.json(),
        json!({"content": {
            "head": {"text": "kustomization/apps.flux-system", "sub_head": {"text": "error"}},
            "body": [
                {"type": "message", "text": "Health check failed <x> & more\nsecond line"},
                {"type": "fields", "items": [
                    {"key": "revision", "value": format!("main@sha1:{}", "a".repeat(40))},
                    {"key": "summary", "value": "prod"},
                ]},
            ],
        }})
    );

    // A URL that pins a format is left alone; an event without metadata has no fields.
    cfg.url = format!("{}/inbound/hook?format=message", server.url);
    let mut e = event(Severity::Info);
    e.metadata.clear();
    let r = post_one(cfg.clone(), &e, &server).await;
    assert_eq!(r.path, "/inbound/hook?format=message");
    assert_eq!(r.json()["content"]["body"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.json()["content"]["head"]["sub_head"]["text"], "info");

    cfg.token = String::new();
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), "empty Zoom verification token");
}

// Every Provider type of the upstream CRD's enum is delivered (the CRD is read at test time
// from `<workspace>/../shared/reference/flux-crds/current`, an oracle never copied here).
#[test]
fn every_provider_type_of_the_crd_is_supported() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/flux-crds/current/notification.toolkit.fluxcd.io_providers.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let crd: serde_json::Value = serde_norway::from_str(&text).expect("CRD YAML");
    let mut checked = 0;
    for version in crd["spec"]["versions"].as_array().expect("versions") {
        let Some(types) =
            version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["type"]["enum"].as_array()
        else {
            continue;
        };
        for t in types {
            let t = t.as_str().expect("type name");
            assert!(SUPPORTED.contains(&t), "{} type {t:?} is not supported", version["name"]);
            checked += 1;
        }
    }
    assert!(checked >= 34, "the enum was found ({checked} types)");
}
