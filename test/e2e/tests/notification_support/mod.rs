//! Helpers shared by the notification end-to-end tests: a capturing HTTP server, kubectl
//! shorthands, the receiver server's address and signed GitHub requests.
// Each test crate including this module uses part of it.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_e2e::{Cluster, eventually, json};
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

pub(crate) const WAIT: Duration = Duration::from_secs(90);

/// A captured request: its headers (lower-case names) and body.
pub(crate) type Captured = (Vec<(String, String)>, String);

/// A minimal HTTP/1.1 server on 127.0.0.1 that records every request body and answers 200.
pub(crate) struct Capture {
    pub(crate) url: String,
    pub(crate) bodies: Arc<Mutex<Vec<Captured>>>,
    /// Request lines (`METHOD /path HTTP/1.1`), in order.
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    pub(crate) fn start() -> Self {
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

    pub(crate) fn events(&self) -> Vec<(Vec<(String, String)>, Value)> {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(h, b)| serde_json::from_str(b).ok().map(|v| (h.clone(), v)))
            .collect()
    }
}

pub(crate) fn apply(c: &Cluster, yaml: &str) {
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], yaml).ok("kubectl apply");
}

pub(crate) fn get(c: &Cluster, kind: &str, ns: &str, name: &str) -> Value {
    json(&c.kubectl(&["get", kind, name, "-n", ns, "-o", "json"]).ok("kubectl get"))
}

pub(crate) fn ready(o: &Value) -> bool {
    o["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// The receiver server's address, from Eddy's log (`receiver server listening`).
pub(crate) fn receiver_address(c: &Cluster) -> String {
    let log = std::fs::read_to_string(c.dir.join("logs/eddy.log")).expect("eddy log");
    let strip = regex_free_strip_ansi(&log);
    let line =
        strip.lines().rev().find(|l| l.contains("receiver server listening")).expect("receiver server in the log");
    let addr = line.split("addr=").nth(1).and_then(|s| s.split_whitespace().next()).expect("addr=");
    addr.replace("0.0.0.0", "127.0.0.1")
}

pub(crate) fn regex_free_strip_ansi(s: &str) -> String {
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

pub(crate) fn curl(url: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-X", "POST", "--data-binary", body]);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd.arg(url).output().expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The HTTP status of a GET of `url`.
pub(crate) fn curl_get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20"])
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn signed_github(token: &[u8], body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token).expect("hmac");
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={sig}")
}

pub(crate) fn git_repository(c: &Cluster, ns: &str, name: &str, url: &str) {
    apply(
        c,
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  url: {url}\n  ref:\n    branch: main\n"
        ),
    );
}

pub(crate) fn github_receiver(c: &Cluster, ns: &str, name: &str, extra: &str) -> String {
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

pub(crate) fn requested_at(c: &Cluster, ns: &str) -> Option<String> {
    get(c, "gitrepository", ns, "app")["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
        .as_str()
        .map(str::to_owned)
}
