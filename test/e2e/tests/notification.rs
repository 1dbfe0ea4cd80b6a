//! Notifications end to end: Eddy aggregated behind kube-apiserver with its controllers. An
//! Alert with a generic Provider receives a GitRepository's events (the payload is Flux's
//! `eventv1.Event`, as notification-controller's `internal/notifier/forwarder.go` posts it);
//! a GitHub Receiver's signed request makes the GitRepository reconcile
//! (`internal/server/receiver_handlers.go`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually, json};
use eddy_test_git::HttpGitServer;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

const WAIT: Duration = Duration::from_secs(90);

/// A captured request: its headers (lower-case names) and body.
type Captured = (Vec<(String, String)>, String);

/// A minimal HTTP/1.1 server on 127.0.0.1 that records every request body and answers 200.
struct Capture {
    url: String,
    bodies: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                sink.lock().expect("lock").push((headers, String::from_utf8_lossy(&body).into_owned()));
                let mut stream = reader.into_inner();
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Self { url, bodies }
    }

    fn events(&self) -> Vec<(Vec<(String, String)>, Value)> {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(h, b)| serde_json::from_str(b).ok().map(|v| (h.clone(), v)))
            .collect()
    }
}

fn apply(c: &Cluster, yaml: &str) {
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], yaml).ok("kubectl apply");
}

fn get(c: &Cluster, kind: &str, ns: &str, name: &str) -> Value {
    json(&c.kubectl(&["get", kind, name, "-n", ns, "-o", "json"]).ok("kubectl get"))
}

fn ready(o: &Value) -> bool {
    o["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// The receiver server's address, from Eddy's log (`receiver server listening`).
fn receiver_address(c: &Cluster) -> String {
    let log = std::fs::read_to_string(c.dir.join("logs/eddy.log")).expect("eddy log");
    let strip = regex_free_strip_ansi(&log);
    let line =
        strip.lines().rev().find(|l| l.contains("receiver server listening")).expect("receiver server in the log");
    let addr = line.split("addr=").nth(1).and_then(|s| s.split_whitespace().next()).expect("addr=");
    addr.replace("0.0.0.0", "127.0.0.1")
}

fn regex_free_strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

fn curl(url: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-X", "POST", "--data-binary", body]);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd.arg(url).output().expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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

    // Unknown path, bad signature, event not allowed: nothing annotated.
    assert_eq!(curl(&format!("{base}/hook/0000"), &[json_ct], body), "404");
    assert_eq!(
        curl(
            &format!("{base}{path}"),
            &[json_ct, ("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=00")],
            body
        ),
        "400"
    );
    assert_eq!(
        curl(
            &format!("{base}{path}"),
            &[json_ct, ("X-GitHub-Event", "release"), ("X-Hub-Signature-256", &signature)],
            body
        ),
        "400"
    );
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
