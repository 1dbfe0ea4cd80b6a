//! The pipeline end to end over an in-memory resolver and a capturing HTTP server
//! (following `internal/server/event_handlers.go` and `event_server.go`).

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::{Alert, CrossNamespaceObjectReference};
use eddy_controller_runtime::recorder::ObjectRef;
use parking_lot::Mutex;

use super::*;
use crate::testserver::Capture;

#[derive(Default)]
struct Fake {
    alerts: Vec<Arc<AlertObject>>,
    providers: Vec<Provider>,
    secrets: BTreeMap<(String, String), SecretData>,
}

impl Resolver for Fake {
    fn alerts(&self) -> Vec<Arc<AlertObject>> {
        self.alerts.clone()
    }
    async fn provider(&self, namespace: &str, name: &str) -> Result<Option<Provider>, LookupError> {
        Ok(self
            .providers
            .iter()
            .find(|p| p.metadata.namespace.as_deref() == Some(namespace) && p.metadata.name.as_deref() == Some(name))
            .cloned())
    }
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<SecretData>, LookupError> {
        Ok(self.secrets.get(&(namespace.to_owned(), name.to_owned())).cloned())
    }
    async fn labels(&self, _event: &FluxEvent) -> Option<BTreeMap<String, String>> {
        None
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<(String, String, String)>>);

impl EventRecorder for Events {
    fn record(
        &self,
        object: &ObjectRef,
        _type: EventType,
        reason: &str,
        _action: &str,
        message: &str,
        _metadata: BTreeMap<String, String>,
    ) {
        self.0.lock().push((object.name.clone(), reason.to_owned(), message.to_owned()));
    }
}

fn alert(name: &str, provider: &str, kind: &str) -> Arc<AlertObject> {
    let mut a = Alert::new(name, "flux-system");
    a.spec.provider_ref = LocalObjectReference { name: provider.into() };
    a.spec.event_sources =
        vec![CrossNamespaceObjectReference { kind: kind.into(), name: "*".into(), ..Default::default() }];
    a.spec.event_metadata = Some(BTreeMap::from([("cluster".into(), "prod-eu".into())]));
    Arc::new(AlertObject::from(a))
}

fn provider(name: &str, ty: &str, secret: Option<&str>) -> Provider {
    let mut p = Provider::new(name, "flux-system");
    p.spec.r#type = ty.into();
    p.spec.secret_ref = secret.map(|s| LocalObjectReference { name: s.into() });
    p.metadata.uid = Some("abcd-1234".into());
    p
}

fn event(message: &str, revision: &str) -> FluxEvent {
    crate::event::decode(
        serde_json::to_vec(&serde_json::json!({
            "involvedObject": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "app", "namespace": "flux-system"},
            "severity": "info", "timestamp": "2024-05-01T10:00:00Z", "message": message, "reason": "NewArtifact",
            "metadata": {"source.toolkit.fluxcd.io/revision": revision, "source.toolkit.fluxcd.io/token": "t1", "other.io/x": "dropped"},
            "reportingController": "source-controller",
        }))
        .unwrap()
        .as_slice(),
    )
    .unwrap()
}

fn options() -> DispatchOptions {
    DispatchOptions {
        retry: RetryPolicy { retries: 1, min_wait: Duration::from_millis(5), max_wait: Duration::from_millis(5) },
        ..DispatchOptions::default()
    }
}

async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached");
}

// handleEvent: matching Alert → generic provider with the address from the Secret; the
// combined metadata (prefix stripped, alert metadata added, token and foreign keys gone);
// a duplicate is refused; another revision passes.
#[tokio::test]
async fn events_reach_the_generic_provider_once() {
    let server = Capture::start().await;
    let fake = Fake {
        alerts: vec![alert("on-git", "web", "GitRepository"), alert("on-ks", "web", "Kustomization")],
        providers: vec![provider("web", "generic", Some("web-secret"))],
        secrets: BTreeMap::from([(
            ("flux-system".into(), "web-secret".into()),
            BTreeMap::from([("address".into(), format!("{}/events", server.url).into_bytes())]),
        )]),
    };
    let events = Arc::new(Events::default());
    let metrics = Metrics::default();
    let d = Dispatcher::start(fake, events.clone(), metrics.clone(), options());
    assert_eq!(d.submit(event("stored artifact", "main@sha1:1")), Submitted::Accepted);
    assert_eq!(d.submit(event("stored artifact", "main@sha1:1")), Submitted::Duplicate);
    d.publish(&event("stored artifact", "main@sha1:2"));
    let got = server.wait_for(2).await;
    let mut revisions: Vec<String> =
        got.iter().map(|r| r.json()["metadata"]["revision"].as_str().unwrap().to_owned()).collect();
    revisions.sort();
    assert_eq!(revisions, ["main@sha1:1", "main@sha1:2"]);
    let body = got[0].json();
    assert_eq!(body["metadata"], serde_json::json!({"cluster": "prod-eu", "revision": body["metadata"]["revision"]}));
    assert_eq!(body["involvedObject"]["kind"], "GitRepository");
    assert_eq!(got[0].header("gotk-component"), "source-controller");
    until(|| metrics.deliveries("generic", "success") == 2).await;
    assert_eq!(metrics.events("duplicate"), 1);
    assert!(events.0.lock().is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests().len(), 2, "the Kustomization alert does not match");
}

// A missing provider, a failing endpoint and a suspended provider: Warning events on the
// Alert (NotificationDispatchFailed), nothing sent for the suspended one; no secret in them.
#[tokio::test]
async fn failures_become_warnings_on_the_alert() {
    let server = Capture::start().await;
    server.script(&[(500, ""), (500, "")]);
    let mut suspended = provider("quiet", "generic", None);
    suspended.spec.address = Some(server.url.clone());
    suspended.spec.suspend = Some(true);
    let mut failing = provider("down", "slack", Some("slack-secret"));
    failing.spec.address = Some(format!("{}/services/T0/B0/XYZ", server.url));
    let fake = Fake {
        alerts: vec![
            alert("a-missing", "nope", "GitRepository"),
            alert("a-down", "down", "GitRepository"),
            alert("a-quiet", "quiet", "GitRepository"),
        ],
        providers: vec![suspended, failing],
        secrets: BTreeMap::from([(
            ("flux-system".into(), "slack-secret".into()),
            BTreeMap::from([("token".into(), b"xoxb-secret".to_vec())]),
        )]),
    };
    let events = Arc::new(Events::default());
    let metrics = Metrics::default();
    let d = Dispatcher::start(fake, events.clone(), metrics.clone(), options());
    d.submit(event("boom", "main@sha1:9"));
    until(|| events.0.lock().len() == 2).await;
    let mut got = events.0.lock().clone();
    got.sort();
    assert_eq!(got[0].0, "a-down");
    assert_eq!(got[0].1, "NotificationDispatchFailed");
    assert!(
        got[0].2.starts_with("failed to send notification for GitRepository/flux-system/app: postMessage failed"),
        "{}",
        got[0].2
    );
    assert!(got[0].2.contains("giving up after 2 attempt(s)"), "{}", got[0].2);
    assert!(!got[0].2.contains("xoxb-secret") && !got[0].2.contains("XYZ"));
    assert_eq!(got[1].0, "a-missing");
    assert_eq!(
        got[1].2,
        "failed to dispatch notification for GitRepository/flux-system/app: failed to read provider: Provider.notification.toolkit.fluxcd.io \"nope\" not found"
    );
    assert_eq!(server.requests().len(), 2, "only the slack provider's two attempts");
    assert_eq!(metrics.deliveries("slack", "failed"), 1);
}

// Commit-status providers take only events with a commit key, status updates or errors;
// an unsupported provider type fails with a clear message, never silently.
#[tokio::test]
async fn provider_type_rules() {
    let fake = Fake {
        alerts: vec![alert("gh", "gh", "GitRepository"), alert("hub", "hub", "GitRepository")],
        providers: vec![provider("gh", "github", None), provider("hub", "smoke-signal", None)],
        ..Fake::default()
    };
    let events = Arc::new(Events::default());
    let d = Dispatcher::start(fake, events.clone(), Metrics::default(), options());
    d.submit(event("no commit key", "main@sha1:3"));
    until(|| !events.0.lock().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = events.0.lock().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "hub");
    assert!(
        got[0].2.ends_with("failed to initialize notifier for provider 'hub': provider smoke-signal not supported"),
        "{}",
        got[0].2
    );
}

#[tokio::test]
async fn http_endpoint_answers_like_upstream() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = Fake::default();
    let d = Dispatcher::start(fake, Arc::new(Events::default()), Metrics::default(), options());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(crate::server::serve(listener, crate::server::router(d), std::future::pending()));
    let client = reqwest::Client::new();
    let body = crate::event::to_go_json(&event("m", "main@sha1:5")).to_string();
    let post = |b: String| client.post(&url).header("Content-Type", "application/json").body(b).send();
    assert_eq!(post(body.clone()).await.unwrap().status(), 202);
    assert_eq!(post(body).await.unwrap().status(), 429);
    assert_eq!(post("{nope".into()).await.unwrap().status(), 400);
    assert_eq!(post("x".repeat(crate::server::MAX_BODY + 1)).await.unwrap().status(), 413);
}

// provider_commit_status.go newCommitStatus: spec.commitStatusExpr over event, alert and
// provider gives the status key; a failing expression is reported on the Alert.
#[tokio::test]
async fn commit_status_expr() {
    let server = Capture::start().await;
    server.script(&[(200, "[]")]);
    let sha = "b".repeat(40);
    let mut good = provider("gl", "gitlab", Some("gl-secret"));
    good.spec.address = Some(format!("{}/group/repo", server.url));
    good.spec.commit_status_expr =
        Some("event.involvedObject.kind + '/' + alert.metadata.name + '/' + provider.metadata.uid".into());
    let mut bad = provider("gl-bad", "gitlab", Some("gl-secret"));
    bad.spec.address = good.spec.address.clone();
    bad.spec.commit_status_expr = Some("event.metadata.nope + 'x'".into());
    let mut wrong = provider("gl-undeclared", "gitlab", Some("gl-secret"));
    wrong.spec.address = good.spec.address.clone();
    wrong.spec.commit_status_expr = Some("foo.bar".into());
    let fake = Fake {
        alerts: vec![
            alert("a-good", "gl", "GitRepository"),
            alert("a-bad", "gl-bad", "GitRepository"),
            alert("a-undeclared", "gl-undeclared", "GitRepository"),
        ],
        providers: vec![good, bad, wrong],
        secrets: BTreeMap::from([(
            ("flux-system".into(), "gl-secret".into()),
            BTreeMap::from([("token".into(), b"glpat".to_vec())]),
        )]),
    };
    let events = Arc::new(Events::default());
    let d = Dispatcher::start(fake, events.clone(), Metrics::default(), options());
    let mut e = event("stored", &format!("main@sha1:{sha}"));
    e.metadata.insert("event.toolkit.fluxcd.io/commit".into(), sha.clone());
    d.submit(e);
    let got = server.wait_for(2).await;
    assert_eq!(got[1].json()["name"], "GitRepository/a-good/abcd-1234");
    until(|| events.0.lock().len() == 2).await;
    let mut warnings = events.0.lock().clone();
    warnings.sort();
    assert_eq!(warnings[0].0, "a-bad");
    assert_eq!(
        warnings[0].2,
        "failed to dispatch notification for GitRepository/flux-system/app: failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: failed to evaluate the CEL expression 'event.metadata.nope + 'x'': no such key: nope"
    );
    assert_eq!(warnings[1].0, "a-undeclared");
    assert!(
        warnings[1].2.ends_with(
            "failed to compile expression: failed to parse the CEL expression 'foo.bar': undeclared reference to 'foo'"
        ),
        "{}",
        warnings[1].2
    );
}

// The flood: 10,000 distinct events to a generic provider. Every event is either queued and
// delivered or refused with 503 (queue full) — none is lost silently — while deliveries in
// flight are bounded by max_deliveries. The rate is printed for docs/benchmarks.md (not
// asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_events_is_delivered_with_bounded_work() {
    const N: usize = 10_000;
    let server = Capture::start().await;
    let fake = Fake {
        alerts: vec![alert("all", "web", "GitRepository")],
        providers: vec![{
            let mut p = provider("web", "generic", None);
            p.spec.address = Some(format!("{}/events", server.url));
            p
        }],
        ..Fake::default()
    };
    let metrics = Metrics::default();
    let opts = DispatchOptions { queue_capacity: 2_000, max_deliveries: 32, ..options() };
    let d = Dispatcher::start(fake, Arc::new(Events::default()), metrics.clone(), opts);
    let start = std::time::Instant::now();
    let (mut accepted, mut overloaded) = (0usize, 0usize);
    for i in 0..N {
        match d.submit(event(&format!("event {i}"), &format!("main@sha1:{i}"))) {
            Submitted::Accepted => accepted += 1,
            Submitted::Overloaded => {
                overloaded += 1;
                // A well-behaved sender backs off on 503 and retries.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Submitted::Duplicate => panic!("distinct events are not duplicates"),
        }
    }
    assert_eq!(accepted + overloaded, N);
    for _ in 0..2_400 {
        if metrics.deliveries("generic", "success") == accepted as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.deliveries("generic", "success"), accepted as u64, "every accepted event delivered");
    let elapsed = start.elapsed();
    assert_eq!(server.requests().len(), accepted);
    assert_eq!(metrics.deliveries("generic", "failed"), 0);
    eprintln!(
        "flood: {accepted} events delivered ({overloaded} refused with 503) in {:.2}s: {:.0} events/s",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
}

// provider_change_request.go: change-request providers take only events with the event
// group's change_request key; the key reaches the notifier without its prefix.
#[tokio::test]
async fn change_request_events_reach_comment_providers() {
    let server = Capture::start().await;
    server.script(&[(200, r#"{"login":"bot"}"#), (200, "[]"), (201, "{}")]);
    let mut p = provider("pr", "githubpullrequestcomment", Some("gh-token"));
    p.spec.address = Some(format!("{}/org/app", server.url));
    let fake = Fake {
        alerts: vec![alert("pr", "pr", "GitRepository")],
        providers: vec![p],
        secrets: BTreeMap::from([(
            ("flux-system".into(), "gh-token".into()),
            BTreeMap::from([("token".into(), b"ghp".to_vec())]),
        )]),
    };
    let d = Dispatcher::start(fake, Arc::new(Events::default()), Metrics::default(), options());
    d.submit(event("no change request", "main@sha1:1"));
    let mut e = event("preview deployed", "main@sha1:2");
    e.metadata.insert("event.toolkit.fluxcd.io/change_request".into(), "12".into());
    d.submit(e);
    let got = server.wait_for(3).await;
    assert_eq!(got[0].path, "/api/v3/user");
    assert_eq!(got[1].path, "/api/v3/repos/org/app/issues/12/comments?direction=asc&per_page=100&sort=created");
    assert_eq!(got[2].path, "/api/v3/repos/org/app/issues/12/comments");
    let body = got[2].json()["body"].as_str().unwrap().to_owned();
    assert!(body.starts_with("<!-- flux-pr-comment-key:abcd-1234/GitRepository/flux-system/app -->"), "{body}");
    assert!(body.contains("preview deployed"), "{body}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests().len(), 3, "the event without change_request was dropped");
}
