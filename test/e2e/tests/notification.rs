//! Notifications end to end: Eddy aggregated behind kube-apiserver with its controllers. An
//! Alert with a generic Provider receives a GitRepository's events (the payload is Flux's
//! `eventv1.Event`, as notification-controller's `internal/notifier/forwarder.go` posts it);
//! a GitHub Receiver's signed request makes the GitRepository reconcile
//! (`internal/server/receiver_handlers.go`); a Receiver's CEL `resourceFilter` sees the
//! request body (`receiver_resource_filter.go`); a flood of 10,000 signed requests neither
//! stalls reconciles nor grows Eddy's memory without bound.

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
    /// Request lines (`METHOD /path HTTP/1.1`), in order.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        let line_sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut length = 0usize;
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                line_sink.lock().expect("lock").push(request_line.trim_end().to_owned());
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
        Self { url, bodies, lines }
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

fn signed_github(token: &[u8], body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token).expect("hmac");
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={sig}")
}

fn git_repository(c: &Cluster, ns: &str, name: &str, url: &str) {
    apply(
        c,
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  url: {url}\n  ref:\n    branch: main\n"
        ),
    );
}

fn github_receiver(c: &Cluster, ns: &str, name: &str, extra: &str) -> String {
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}-token\n  namespace: {ns}\nstringData:\n  token: tok-{name}\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
             spec:\n  type: github\n  secretRef:\n    name: {name}-token\n  resources:\n  - kind: GitRepository\n    name: app\n{extra}"
        ),
    );
    let receiver = eventually(WAIT, || Some(get(c, "receiver", ns, name)).filter(ready))
        .unwrap_or_else(|| panic!("Receiver not Ready: {}", get(c, "receiver", ns, name)["status"]));
    receiver["status"]["webhookPath"].as_str().expect("webhookPath").to_owned()
}

fn requested_at(c: &Cluster, ns: &str) -> Option<String> {
    get(c, "gitrepository", ns, "app")["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
        .as_str()
        .map(str::to_owned)
}

// receiver_resource_filter.go: the filter sees the JSON body as `req` and the object as `res`;
// an invalid expression makes the Receiver Stalled with InvalidCELExpression.
#[test]
fn receiver_resource_filter_sees_the_request() {
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let _repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    let ns = c.namespace("notify-filter");
    git_repository(c, &ns, "app", &http.repo_url("repo.git"));
    let path = github_receiver(
        c,
        &ns,
        "filtered",
        "  resourceFilter: req.ref == 'refs/heads/main' && res.metadata.name == 'app'\n",
    );
    let base = format!("http://{}", receiver_address(c));
    let send = |body: &str| {
        let sig = signed_github(b"tok-filtered", body);
        curl(
            &format!("{base}{path}"),
            &[("Content-Type", "application/json"), ("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
            body,
        )
    };
    assert_eq!(send(r#"{"ref":"refs/heads/dev"}"#), "200");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(requested_at(c, &ns), None, "the filter refused the dev push");
    assert_eq!(send(r#"{"ref":"refs/heads/main"}"#), "200");
    assert!(eventually(WAIT, || requested_at(c, &ns)).is_some(), "the main push annotated the GitRepository");

    apply(
        c,
        &format!(
            "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: broken\n  namespace: {ns}\n\
             spec:\n  type: github\n  secretRef:\n    name: filtered-token\n  resourceFilter: nope == 1\n  resources:\n  - kind: GitRepository\n    name: app\n"
        ),
    );
    let stalled = eventually(WAIT, || {
        let r = get(c, "receiver", &ns, "broken");
        r["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Stalled" && c["status"] == "True").cloned()
    })
    .unwrap_or_else(|| panic!("not Stalled: {}", get(c, "receiver", &ns, "broken")["status"]));
    assert_eq!(stalled["reason"], "InvalidCELExpression");
    assert!(
        stalled["message"].as_str().is_some_and(|m| m.contains("invalid resourceFilter expression: failed to parse the CEL expression 'nope == 1': undeclared reference to 'nope'")),
        "{stalled}"
    );
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// Eddy's resident memory in KiB (`VmRSS`).
fn eddy_rss_kib(c: &Cluster) -> u64 {
    let pid = std::fs::read_to_string(c.dir.join("pids/eddy.pid")).expect("eddy pid");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("eddy status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// One POST over a fresh connection; the status code (0 when the connection failed).
fn post_status(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return 0 };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut req =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    if stream.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut line = String::new();
    let _ = BufReader::new(stream).read_line(&mut line);
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

// The flood (acceptance): 10,000 signed GitHub pushes from 64 connections at once. Every one is
// answered 200 (annotated) or 503 (Eddy's in-flight bound); meanwhile another GitRepository
// still becomes Ready and the annotated one handles the last request; Eddy's memory after the
// flood stays within a bound of what it was before. Figures are printed for
// docs/benchmarks.md, not asserted.
#[test]
fn receiver_flood_keeps_reconciles_going() {
    const REQUESTS: usize = 10_000;
    const CLIENTS: usize = 64;
    let c = cluster();
    let root = tempfile::tempdir().expect("tempdir");
    let _repo = eddy_test_git::standard_repository(root.path()).expect("standard repository");
    let http = HttpGitServer::start(root.path()).expect("http git server");
    let ns = c.namespace("notify-flood");
    git_repository(c, &ns, "app", &http.repo_url("repo.git"));
    let path = github_receiver(c, &ns, "flood", "");
    let addr = receiver_address(c);
    let body = r#"{"ref":"refs/heads/main","repository":{"full_name":"org/app"}}"#;
    let signature = signed_github(b"tok-flood", body);
    let rss_before = eddy_rss_kib(c);

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let codes = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (next, codes, addr, path, signature) =
                (Arc::clone(&next), Arc::clone(&codes), addr.clone(), path.clone(), signature.clone());
            std::thread::spawn(move || {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
                    let code = post_status(
                        &addr,
                        &path,
                        &[
                            ("Content-Type", "application/json"),
                            ("X-GitHub-Event", "push"),
                            ("X-Hub-Signature-256", &signature),
                        ],
                        body,
                    );
                    *codes.lock().expect("lock").entry(code).or_default() += 1;
                }
            })
        })
        .collect();
    // Reconciles keep going during the flood.
    git_repository(c, &ns, "other", &http.repo_url("repo.git"));
    let other_ready = eventually(WAIT, || Some(get(c, "gitrepository", &ns, "other")).filter(ready)).is_some();
    for w in workers {
        w.join().expect("client thread");
    }
    let elapsed = started.elapsed();
    let rss_after = eddy_rss_kib(c);
    let codes = codes.lock().expect("lock").clone();
    eprintln!(
        "receiver flood: {REQUESTS} requests from {CLIENTS} clients in {:.1}s = {:.0} requests/s; codes {codes:?}; \
         eddy RSS {} MiB before, {} MiB after",
        elapsed.as_secs_f64(),
        REQUESTS as f64 / elapsed.as_secs_f64(),
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(other_ready, "a GitRepository became Ready during the flood");
    assert_eq!(codes.values().sum::<usize>(), REQUESTS);
    assert!(codes.keys().all(|k| *k == 200 || *k == 503), "only 200 and 503: {codes:?}");
    assert!(codes.get(&200).copied().unwrap_or(0) > 0, "{codes:?}");
    assert!(rss_after < rss_before + 256 * 1024, "memory bounded: {rss_before} KiB -> {rss_after} KiB");

    // The last reconcile request is handled: the source controller keeps up after the flood.
    let handled = eventually(WAIT, || {
        let o = get(c, "gitrepository", &ns, "app");
        let requested = o["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str()?.to_owned();
        (o["status"]["lastHandledReconcileAt"].as_str() == Some(requested.as_str())).then_some(())
    });
    assert!(handled.is_some(), "last request not handled: {}", get(c, "gitrepository", &ns, "app"));
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// A local OIDC issuer: its discovery document and key set over HTTP on 127.0.0.1, and an ES256
/// key to sign tokens with.
struct Issuer {
    url: String,
    key: ring::signature::EcdsaKeyPair,
}

impl Issuer {
    fn start() -> Self {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("key");
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        let point = key.public_key().as_ref().to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let discovery = serde_json::json!({"issuer": url, "jwks_uri": format!("{url}/keys")}).to_string();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "e2e", "alg": "ES256",
            "x": enc(&point[1..33]), "y": enc(&point[33..65])}]})
        .to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let body = if request_line.contains("/.well-known/openid-configuration") { &discovery } else { &jwks };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, key }
    }

    fn token(&self, claims: &Value) -> String {
        use base64::Engine as _;
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let head = enc(serde_json::json!({"alg": "ES256", "kid": "e2e", "typ": "JWT"}).to_string().as_bytes());
        let input = format!("{head}.{}", enc(claims.to_string().as_bytes()));
        let sig = self.key.sign(&ring::rand::SystemRandom::new(), input.as_bytes()).expect("sign");
        format!("{input}.{}", enc(sig.as_ref()))
    }
}

// receiver_oidc.go: a generic-oidc Receiver (no Secret) accepts a token of its issuer whose
// claims pass the CEL validations, and its resourceFilter sees the claims; other tokens get 400.
#[test]
fn generic_oidc_receiver_verifies_tokens() {
    let c = cluster();
    let issuer = Issuer::start();
    let ns = c.namespace("notify-oidc");
    apply(
        c,
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  url: https://127.0.0.1:1/none.git\n  ref:\n    branch: main\n\
             ---\napiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: ci\n  namespace: {ns}\n\
             spec:\n  type: generic-oidc\n  oidcProviders:\n  - issuerURL: {url}\n    audience: eddy-e2e\n\
             \x20   variables:\n    - name: repo\n      expression: claims.repository\n\
             \x20   validations:\n    - expression: vars.repo == 'org/app'\n      message: only org/app\n\
             \x20 resourceFilter: claims.ref == 'refs/heads/main'\n\
             \x20 resources:\n  - kind: GitRepository\n    name: app\n",
            url = issuer.url
        ),
    );
    let receiver = eventually(WAIT, || Some(get(c, "receiver", &ns, "ci")).filter(ready))
        .unwrap_or_else(|| panic!("Receiver not Ready: {}", get(c, "receiver", &ns, "ci")["status"]));
    let path = receiver["status"]["webhookPath"].as_str().expect("webhookPath").to_owned();
    {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("ci{ns}").as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(path, format!("/hook/{hex}"), "no token: the path hashes the name and namespace");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let claims = |repo: &str, git_ref: &str| {
        serde_json::json!({"iss": issuer.url, "aud": "eddy-e2e", "sub": "ci", "repository": repo, "ref": git_ref,
            "iat": now, "exp": now + 600})
    };
    let base = format!("http://{}{path}", receiver_address(c));
    let send = |token: &str| curl(&base, &[("Authorization", &format!("Bearer {token}"))], "");
    assert_eq!(send(&issuer.token(&claims("org/other", "refs/heads/main"))), "400", "validation fails");
    assert_eq!(send("not-a-jwt"), "400");
    assert_eq!(send(&issuer.token(&claims("org/app", "refs/heads/dev"))), "200", "accepted, filtered out");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(requested_at(c, &ns), None);
    assert_eq!(send(&issuer.token(&claims("org/app", "refs/heads/main"))), "200");
    assert!(eventually(WAIT, || requested_at(c, &ns)).is_some(), "the main push annotated the GitRepository");
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
