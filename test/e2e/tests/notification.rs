//! Notifications end to end: Eddy aggregated behind kube-apiserver with its controllers. An
//! Alert with a generic Provider receives a GitRepository's events (the payload is Flux's
//! `eventv1.Event`, as notification-controller's `internal/notifier/forwarder.go` posts it);
//! a GitHub Receiver's signed request makes the GitRepository reconcile
//! (`internal/server/receiver_handlers.go`); the seed's examples: a GitHub commit status for a
//! Kustomization and a Slack Alert on Kustomization errors. Receivers' filters, OIDC and the
//! flood are in `notification_receivers.rs`.

mod notification_support;

use std::time::Duration;

use eddy_e2e::{cluster, eventually};
use eddy_test_git::HttpGitServer;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

use self::notification_support::*;

#[test]
fn alerts_deliver_events_and_receivers_trigger_reconciles() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    let main = repo.branch("main").expect("main").commit.clone();
    let capture = Capture::start();
    let ns = c.namespace("notify");

    // Provider (address from its Secret), Alert on every GitRepository of the namespace.
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: webhook\n  namespace: {ns}\nstringData:\n  address: {url}/flux\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: web\n  namespace: {ns}\n\
             spec:\n  type: generic\n  secretRef:\n    name: webhook\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: git\n  namespace: {ns}\n\
             spec:\n  providerRef:\n    name: web\n  eventSeverity: info\n  eventSources:\n  - kind: GitRepository\n    name: '*'\n\
             \x20 eventMetadata:\n    cluster: e2e\n",
            url = capture.url
        ),
    );
    // Let the notification informers see the Alert before the source produces events.
    std::thread::sleep(Duration::from_secs(2));
    apply(
        c,
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  url: {}\n  ref:\n    branch: main\n",
            http.repo_url("repo.git")
        ),
    );
    let revision = format!("main@sha1:{main}");
    let (headers, event) = eventually(WAIT, || {
        capture.events().into_iter().find(|(_, e)| e["involvedObject"]["name"] == "app" && e["reason"] == "NewArtifact")
    })
    .unwrap_or_else(|| panic!("no NewArtifact event delivered; got {:?}", capture.events()));
    assert!(headers.iter().any(|(k, v)| k == "gotk-component" && v == "source-controller"), "{headers:?}");
    assert_eq!(event["involvedObject"]["kind"], "GitRepository");
    assert_eq!(event["involvedObject"]["namespace"], ns.as_str());
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reportingController"], "source-controller");
    assert_eq!(event["metadata"]["revision"], revision.as_str());
    assert_eq!(event["metadata"]["cluster"], "e2e");
    assert!(event["message"].as_str().is_some_and(|m| m.starts_with("stored artifact for commit")), "{event}");

    // A GitHub Receiver: Ready with Flux's webhook path.
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hook-token\n  namespace: {ns}\nstringData:\n  token: s3cr3t-hook\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: gh\n  namespace: {ns}\n\
             spec:\n  type: github\n  events: [ping, push]\n  secretRef:\n    name: hook-token\n  resources:\n  - kind: GitRepository\n    name: app\n"
        ),
    );
    let receiver = eventually(WAIT, || Some(get(c, "receiver", &ns, "gh")).filter(ready))
        .unwrap_or_else(|| panic!("Receiver not Ready: {}", get(c, "receiver", &ns, "gh")["status"]));
    let path = receiver["status"]["webhookPath"].as_str().expect("webhookPath").to_owned();
    {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("s3cr3t-hook{}{}", "gh", ns).as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(path, format!("/hook/{hex}"));
    }
    let base = format!("http://{}", receiver_address(c));
    let body = r#"{"ref":"refs/heads/main","repository":{"full_name":"org/app"}}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cr3t-hook").expect("hmac");
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let signature = format!("sha256={sig}");
    let json_ct = ("Content-Type", "application/json");

    // Unknown path, bad signature (401), event not allowed (400), not a POST (405): nothing annotated.
    assert_eq!(curl(&format!("{base}/hook/0000"), &[json_ct], body), "404");
    assert_eq!(
        curl(
            &format!("{base}{path}"),
            &[json_ct, ("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=00")],
            body
        ),
        "401"
    );
    assert_eq!(
        curl(
            &format!("{base}{path}"),
            &[json_ct, ("X-GitHub-Event", "release"), ("X-Hub-Signature-256", &signature)],
            body
        ),
        "400"
    );
    assert_eq!(curl_get(&format!("{base}{path}")), "405");
    let before = get(c, "gitrepository", &ns, "app");
    assert!(before["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].is_null(), "{}", before["metadata"]);

    // The signed push: the GitRepository is asked to reconcile and handles the request.
    assert_eq!(
        curl(
            &format!("{base}{path}"),
            &[json_ct, ("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)],
            body
        ),
        "200"
    );
    let handled = eventually(WAIT, || {
        let o = get(c, "gitrepository", &ns, "app");
        let requested = o["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str()?.to_owned();
        (o["status"]["lastHandledReconcileAt"].as_str() == Some(requested.as_str())).then_some(requested)
    })
    .unwrap_or_else(|| panic!("reconcile request not handled: {}", get(c, "gitrepository", &ns, "app")));
    assert!(handled.ends_with(" +0000 UTC"), "{handled}");

    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

// The seed's commit-status example (github.go): a GitHub Provider and an Alert on
// Kustomizations; the Kustomization's successful reconcile posts a `success` status on the
// applied commit to a local server speaking GitHub's statuses API.
#[test]
fn github_commit_status_for_a_kustomization() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    let main = repo.branch("main").expect("main").commit.clone();
    let github = Capture::start();
    let ns = c.namespace("notify-status");
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: github\n  namespace: {ns}\nstringData:\n  token: ghp_e2e\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: github\n  namespace: {ns}\n\
             spec:\n  type: github\n  address: {url}/org/app\n  secretRef:\n    name: github\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: status\n  namespace: {ns}\n\
             spec:\n  providerRef:\n    name: github\n  eventSources:\n  - kind: Kustomization\n    name: '*'\n",
            url = github.url
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    git_repository(c, &ns, "app", &http.repo_url("repo.git"));
    apply(
        c,
        &format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: deploy\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  path: ./deploy\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: GitRepository\n    name: app\n"
        ),
    );
    let create = format!("POST /api/v3/repos/org/app/statuses/{main} HTTP/1.1");
    let at = eventually(WAIT, || github.lines.lock().expect("lock").iter().position(|l| *l == create))
        .unwrap_or_else(|| panic!("no status posted; requests: {:?}", github.lines.lock().expect("lock")));
    let (headers, body) = github.bodies.lock().expect("lock")[at].clone();
    assert!(headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer ghp_e2e"), "{headers:?}");
    let status: Value = serde_json::from_str(&body).expect("status JSON");
    let uid = get(c, "provider", &ns, "github")["metadata"]["uid"].as_str().expect("uid").to_owned();
    let prefix = uid.split('-').next().expect("uid prefix");
    assert_eq!(status["state"], "success", "{status}");
    assert_eq!(status["context"], format!("kustomization/deploy/{prefix}"), "{status}");
    assert!(status["description"].as_str().is_some_and(|d| !d.is_empty()), "{status}");
    let lines = github.lines.lock().expect("lock").clone();
    assert!(
        lines[..at].iter().any(|l| l.starts_with(&format!("GET /api/v3/repos/org/app/commits/{main}/statuses"))),
        "existing statuses listed first: {lines:?}"
    );
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

// The seed's Slack example (slack.go): an Alert on error events of Kustomizations only; a
// Kustomization whose path does not exist produces one Slack attachment colored `danger`,
// the good one's info events are not sent.
#[test]
fn slack_alert_on_kustomization_errors() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let _repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    let slack = Capture::start();
    let ns = c.namespace("notify-slack");
    apply(
        c,
        &format!(
            "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: slack\n  namespace: {ns}\n\
             spec:\n  type: slack\n  channel: general\n  address: {url}/services/T0/B0/X\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: on-call\n  namespace: {ns}\n\
             spec:\n  providerRef:\n    name: slack\n  eventSeverity: error\n  eventSources:\n  - kind: Kustomization\n    name: '*'\n",
            url = slack.url
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    git_repository(c, &ns, "app", &http.repo_url("repo.git"));
    for (name, path) in [("good", "./deploy"), ("broken", "./not/there")] {
        apply(
            c,
            &format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
                 spec:\n  interval: 10m\n  path: {path}\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: GitRepository\n    name: app\n"
            ),
        );
    }
    let (_, payload) = eventually(WAIT, || slack.events().into_iter().next())
        .unwrap_or_else(|| panic!("nothing sent to Slack: {:?}", slack.lines.lock().expect("lock")));
    assert_eq!(payload["channel"], "general");
    assert_eq!(payload["username"], "kustomize-controller");
    let attachment = &payload["attachments"][0];
    assert_eq!(attachment["color"], "danger");
    assert_eq!(attachment["author_name"], format!("kustomization/broken.{}", ns.as_str()));
    assert!(attachment["text"].as_str().is_some_and(|t| t.contains("kustomization path not found")), "{payload}");
    assert_eq!(attachment["mrkdwn_in"], serde_json::json!(["text"]));
    // The good Kustomization becomes Ready; its info events never reach Slack.
    assert!(eventually(WAIT, || Some(get(c, "kustomization", &ns, "good")).filter(ready)).is_some());
    std::thread::sleep(Duration::from_secs(2));
    let sent = slack.events();
    assert!(sent.iter().all(|(_, p)| p["attachments"][0]["color"] == "danger"), "{sent:?}");
    assert!(
        sent.iter().all(|(_, p)| p["attachments"][0]["author_name"] != format!("kustomization/good.{}", ns.as_str())),
        "{sent:?}"
    );
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
