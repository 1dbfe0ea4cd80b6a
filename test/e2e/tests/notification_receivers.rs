//! Receivers end to end: a CEL `resourceFilter` sees the request body
//! (`receiver_resource_filter.go`), a `generic-oidc` Receiver verifies tokens of a local issuer
//! (`receiver_oidc.go`), and a flood of 10,000 signed requests neither stalls reconciles nor
//! grows Eddy's memory without bound.

mod notification_support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually};
use eddy_test_git::HttpGitServer;
use serde_json::Value;

use self::notification_support::*;

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
// claims pass the CEL validations, and its resourceFilter sees the claims; other tokens get 401.
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
    assert_eq!(send(&issuer.token(&claims("org/other", "refs/heads/main"))), "401", "validation fails");
    assert_eq!(send("not-a-jwt"), "401");
    assert_eq!(send(&issuer.token(&claims("org/app", "refs/heads/dev"))), "200", "accepted, filtered out");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(requested_at(c, &ns), None);
    assert_eq!(send(&issuer.token(&claims("org/app", "refs/heads/main"))), "200");
    assert!(eventually(WAIT, || requested_at(c, &ns)).is_some(), "the main push annotated the GitRepository");
    let _ = c.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
