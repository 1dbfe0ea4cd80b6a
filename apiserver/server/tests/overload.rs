//! The standalone server on 127.0.0.1 under overload and slow clients: the in-flight limits
//! (429 with `Retry-After`), the request timeout (504), and floods of clients that connect and
//! then stall — in the TLS handshake or halfway through a request's headers — while normal
//! requests keep succeeding.
//!
//! A request is made slow from the test, never by a server hook: it sends its headers and
//! only part of the body it announced, so its handler waits for the rest while holding its
//! in-flight slot.

use std::sync::Arc;
use std::time::Duration;

use eddy_apiserver::{Limits, ServeConfig, start_with_store};
use eddy_storage::{Store, StoreOptions, memory::MemoryEngine};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const GIT: &str = "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories";
/// A guard against a hung test, never a latency assertion.
const PATIENCE: Duration = Duration::from_secs(60);

struct Server {
    running: eddy_apiserver::Running,
    tls: TlsConnector,
    /// The same, offering only HTTP/2 (ALPN `h2`).
    tls_h2: TlsConnector,
    _dir: tempfile::TempDir,
}

async fn server(limits: Limits) -> Server {
    server_with(limits, 0).await
}

/// A server with `max_watches` (0: the default).
async fn server_with(limits: Limits, max_watches: usize) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(MemoryEngine::new(), StoreOptions { sync: false, ..StoreOptions::default() }).expect("store");
    let mut config = ServeConfig::new(dir.path());
    config.secure_port = 0;
    config.limits = limits;
    if max_watches > 0 {
        config.http.max_watches = max_watches;
    }
    let running = start_with_store(config, store).await.expect("server");
    assert!(running.addr.ip().is_loopback());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(running.credentials.ca_pem.as_bytes()) {
        roots.add(cert.expect("CA certificate")).expect("trusted CA");
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut h2 = client.clone();
    h2.alpn_protocols = vec![b"h2".to_vec()];
    Server { running, tls: TlsConnector::from(Arc::new(client)), tls_h2: TlsConnector::from(Arc::new(h2)), _dir: dir }
}

/// One answer, read off the wire.
#[derive(Debug)]
struct Answer {
    code: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    fn status(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Server {
    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.running.addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("server name");
        self.tls.connect(name, tcp).await.expect("TLS handshake")
    }

    /// The head of a request with the admin token.
    fn head(&self, method: &str, path: &str, extra: &str) -> String {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n{extra}\r\n",
            self.running.credentials.token
        )
    }

    /// Sends a whole request on a new connection and reads its answer.
    async fn send(&self, method: &str, path: &str, body: &str) -> Answer {
        let mut conn = self.connect().await;
        let extra =
            format!("Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        conn.write_all(format!("{}{body}", self.head(method, path, &extra)).as_bytes()).await.expect("write");
        read_answer(&mut conn).await
    }

    /// Starts a POST that announces a body it never finishes: the server holds a mutating
    /// slot for it until the connection goes away or the request times out.
    async fn stalled_post(&self) -> TlsStream<TcpStream> {
        let mut conn = self.connect().await;
        let extra = "Content-Type: application/json\r\nContent-Length: 1000\r\n";
        conn.write_all(format!("{}{{\"apiVersion\":", self.head("POST", GIT, extra)).as_bytes()).await.expect("write");
        conn.flush().await.expect("flush");
        conn
    }
}

/// Reads one HTTP/1.1 answer: the head, then `Content-Length` bytes (or up to the end).
async fn read_answer<S: tokio::io::AsyncRead + Unpin>(conn: &mut S) -> Answer {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let mut answer = Answer { code: 0, head, body: buf[end + 4..].to_vec() };
                answer.code = answer.head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                let length = answer.header("content-length").and_then(|l| l.parse::<usize>().ok());
                while length.is_none_or(|l| answer.body.len() < l) {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.body.extend_from_slice(&chunk[..n]),
                    }
                }
                return answer;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("the connection ended before an answer: {:?}", String::from_utf8_lossy(&buf)),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("an answer")
}

/// Whether the server closed the connection (reading gives EOF or an error) rather than
/// leaving it open forever.
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(conn: &mut S) -> bool {
    let mut chunk = [0u8; 1024];
    let drain = async {
        loop {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, drain).await.is_ok()
}

fn git(name: &str) -> String {
    serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"url": "https://example.com/app", "interval": "5m"},
    })
    .to_string()
}

#[tokio::test]
async fn a_full_mutating_limit_answers_429_with_retry_after_and_reads_still_pass() {
    let s = server(Limits { max_requests_inflight: 4, max_mutating_requests_inflight: 1, ..Limits::default() }).await;
    let held = s.stalled_post().await;
    // The stalled POST takes the slot as soon as the server reads its head; until then a
    // write may still pass, so ask a bounded number of times.
    let mut rejected = None;
    for i in 0..200 {
        let answer = s.send("POST", GIT, &git(&format!("app-{i}"))).await;
        if answer.code == 429 {
            rejected = Some(answer);
            break;
        }
        assert_eq!(answer.code, 201, "{}", String::from_utf8_lossy(&answer.body));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rejected = rejected.expect("a write beyond the mutating limit is refused");
    assert_eq!(rejected.header("retry-after"), Some("1"));
    let status = rejected.status();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(status["code"], 429);
    assert_eq!(status["message"], "Too many requests, please try again later.");
    // Reads have their own limit; watches are exempt from both.
    assert_eq!(s.send("GET", GIT, "").await.code, 200);
    assert_eq!(s.send("GET", &format!("{GIT}?watch=true&timeoutSeconds=1"), "").await.code, 200);
    // The slot comes back when the stalled client leaves.
    drop(held);
    let mut accepted = false;
    for i in 0..200 {
        if s.send("POST", GIT, &git(&format!("after-{i}"))).await.code == 201 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(accepted, "the slot of a client that left is freed");
    let metrics = String::from_utf8_lossy(&s.send("GET", "/metrics", "").await.body).into_owned();
    assert!(metrics.contains("apiserver_request_terminations_total{request_kind=\"mutating\",code=\"429\"}"));
    s.running.shutdown().await;
}

#[tokio::test]
async fn a_request_that_runs_out_of_time_is_answered_504() {
    let s = server(Limits { request_timeout: Duration::from_millis(300), ..Limits::default() }).await;
    let mut stalled = s.stalled_post().await;
    let answer = read_answer(&mut stalled).await;
    assert_eq!(answer.code, 504, "{}", String::from_utf8_lossy(&answer.body));
    let status = answer.status();
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(status["message"], "Timeout: request did not complete within the allotted timeout");
    // Quick requests are not affected, and a watch outlives the timeout (it is long-running).
    assert_eq!(s.send("GET", GIT, "").await.code, 200);
    let mut watch = s.connect().await;
    let head = s.head("GET", &format!("{GIT}?watch=true&timeoutSeconds=2"), "Connection: close\r\n");
    watch.write_all(head.as_bytes()).await.expect("write");
    let started = read_answer(&mut watch).await;
    assert_eq!(started.code, 200, "a watch is not cut by the request timeout");
    s.running.shutdown().await;
}

#[tokio::test]
async fn slow_clients_do_not_keep_normal_requests_from_succeeding() {
    let s = server(Limits::default()).await;
    // 200 connections that send half a request head, and 50 that never start TLS.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut conn = s.connect().await;
        conn.write_all(b"GET /apis HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.expect("write");
        conn.flush().await.expect("flush");
        slow.push(conn);
    }
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(s.running.addr).await.expect("connect"));
    }
    for i in 0..20 {
        let created = s.send("POST", GIT, &git(&format!("app-{i}"))).await;
        assert_eq!(created.code, 201, "{}", String::from_utf8_lossy(&created.body));
        assert_eq!(s.send("GET", &format!("{GIT}/app-{i}"), "").await.code, 200);
    }
    let list = s.send("GET", GIT, "").await;
    assert_eq!(list.code, 200);
    drop((slow, silent));
    s.running.shutdown().await;
}

#[tokio::test]
async fn stalled_handshakes_headers_and_idle_connections_are_closed() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let s = server(limits).await;
    let mut half_header = s.connect().await;
    half_header.write_all(b"GET /apis HTTP/1.1\r\nHost: local").await.expect("write");
    let mut no_request = s.connect().await;
    let mut no_tls = TcpStream::connect(s.running.addr).await.expect("connect");
    // A keep-alive connection that served one request, then went quiet.
    let mut idle = s.connect().await;
    idle.write_all(s.head("GET", "/healthz", "").as_bytes()).await.expect("write");
    assert_eq!(read_answer(&mut idle).await.code, 200);

    assert!(closed_by_server(&mut half_header).await, "half a header");
    assert!(closed_by_server(&mut no_request).await, "TLS but no request");
    assert!(closed_by_server(&mut no_tls).await, "no TLS handshake");
    assert!(closed_by_server(&mut idle).await, "idle keep-alive connection");
    // The server itself is fine.
    assert_eq!(s.send("GET", "/healthz", "").await.code, 200);
    s.running.shutdown().await;
}

#[tokio::test]
async fn http2_connections_advertise_the_stream_limit_and_close_when_idle() {
    let limits =
        Limits { http2_max_streams_per_connection: 3, idle_timeout: Duration::from_millis(400), ..Limits::default() };
    let s = server(limits).await;
    let tcp = TcpStream::connect(s.running.addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let tls = s.tls_h2.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    let driver = tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = axum::http::Request::get("https://localhost/apis")
        .header("authorization", format!("Bearer {}", s.running.credentials.token))
        .body(())
        .expect("request");
    let (answer, _) = client.send_request(request, true).expect("send");
    // The server's SETTINGS come before its first answer.
    assert_eq!(answer.await.expect("answer").status().as_u16(), 200);
    assert_eq!(client.current_max_send_streams(), 3);
    // The client keeps its end open; the server closes the idle connection (hyper has no idle
    // timeout of its own for HTTP/2).
    let ended = tokio::time::timeout(PATIENCE, driver).await;
    assert!(ended.is_ok(), "the server closed the idle HTTP/2 connection");
    drop(client);
    s.running.shutdown().await;
}

#[tokio::test]
async fn the_watch_cap_applies_to_clients_not_to_in_process_callers() {
    let s = server_with(Limits::default(), 1).await;
    // Eddy's own controllers watch through `local`: never refused by the cap.
    let mut local_watches = Vec::new();
    for _ in 0..3 {
        let req =
            axum::http::Request::get(format!("{GIT}?watch=true")).body(axum::body::Body::empty()).expect("request");
        let Ok(answer) = tower::ServiceExt::oneshot(s.running.local.clone(), req).await;
        assert_eq!(answer.status().as_u16(), 200);
        local_watches.push(answer);
    }
    let mut first = s.connect().await;
    first.write_all(s.head("GET", &format!("{GIT}?watch=true"), "").as_bytes()).await.expect("write");
    let mut head = [0u8; 12];
    first.read_exact(&mut head).await.expect("the first watch starts");
    assert_eq!(&head, b"HTTP/1.1 200");
    let refused = s.send("GET", &format!("{GIT}?watch=true"), "").await;
    assert_eq!(refused.code, 429);
    assert!(refused.status()["message"].as_str().is_some_and(|m| m.contains("too many open watches")));
    drop((first, local_watches));
    s.running.shutdown().await;
}

/// Reads one answer off a connection that stays open: the head, then its body, whether sized
/// (`Content-Length`) or chunked (up to the last chunk). Returns the status code.
async fn read_kept_alive_answer<S: tokio::io::AsyncRead + Unpin>(conn: &mut S) -> u16 {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let body = &buf[end + 4..];
                let length = head.lines().find_map(|l| l.strip_prefix("content-length:")?.trim().parse::<usize>().ok());
                let done = match length {
                    Some(l) => body.len() >= l,
                    None => body.ends_with(b"0\r\n\r\n"),
                };
                if done {
                    return head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                }
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("the connection ended before an answer: {:?}", String::from_utf8_lossy(&buf)),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("an answer")
}

/// Found by the schemathesis campaign: a request answered before its body was read (here a
/// 404 for an unknown resource) left the body in the connection, where the server read it as
/// the next request's head and closed the connection under the client still sending.
#[tokio::test]
async fn an_early_answer_reads_the_body_and_keeps_the_connection() {
    let s = server(Limits::default()).await;
    let mut conn = s.connect().await;
    let body = format!("{{\"spec\":\"{}\"}}", "x".repeat(200_000));
    let extra = format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    let put = s.head("PUT", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/nothings/app", &extra);
    conn.write_all(format!("{put}{body}").as_bytes()).await.expect("write the whole body");
    assert_eq!(read_kept_alive_answer(&mut conn).await, 404);
    // The same connection serves the next request.
    conn.write_all(s.head("GET", "/healthz", "Content-Length: 0\r\n").as_bytes()).await.expect("write");
    assert_eq!(read_kept_alive_answer(&mut conn).await, 200);
    s.running.shutdown().await;
}

/// Found by the schemathesis campaign: a kept-alive connection was closed once it had been idle
/// for the header-read timeout, so a client reusing it from its pool found it closed. It waits
/// the idle timeout, as Go's server does.
#[tokio::test]
async fn a_kept_alive_connection_waits_the_idle_timeout_for_its_next_request() {
    let limits =
        Limits { header_read_timeout: Duration::from_millis(200), idle_timeout: PATIENCE, ..Limits::default() };
    let s = server(limits).await;
    let mut conn = s.connect().await;
    conn.write_all(s.head("GET", "/healthz", "").as_bytes()).await.expect("write");
    assert_eq!(read_kept_alive_answer(&mut conn).await, 200);
    // Idle for several header-read timeouts, well within the idle timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    conn.write_all(s.head("GET", "/healthz", "").as_bytes()).await.expect("write");
    assert_eq!(read_kept_alive_answer(&mut conn).await, 200);
    s.running.shutdown().await;
}
