//! The bridge to `git http-backend`, run as a CGI program per request.
//!
//! The request body is streamed to the program's standard input as it arrives (never
//! buffered: a push may be large, and chunked bodies have no length), with
//! `HTTP_CONTENT_ENCODING` passed through so http-backend inflates gzipped bodies itself, and
//! the `Git-Protocol` header passed as `GIT_PROTOCOL` so protocol v2 works (what Apache's
//! `SetEnvIf Git-Protocol` does in git's own test set-up). The program's output is parsed
//! for its CGI headers (`Status:` and the rest) and the remainder is streamed back as the
//! response body. Pushes are enabled by `REMOTE_USER` (http-backend's default for
//! `http.receivepack`) and disabled by configuring `http.receivepack=false`.
//!
//! Every program is spawned with `kill_on_drop`; when the server stops or the client goes
//! away mid-response, the program and what it started (`git upload-pack`) are killed and
//! reaped.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::counters::{Counters, Sniffer, UploadPackCommand};
use crate::body::{ChannelBody, ServerBody, empty, full};
use crate::process::kill_tree;

/// The most CGI header bytes accepted before the body.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How to run http-backend.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    /// The `git-http-backend` program.
    pub(crate) program: PathBuf,
    /// `GIT_PROJECT_ROOT`: the directory of bare repositories.
    pub(crate) root: PathBuf,
    /// Whether pushes are accepted.
    pub(crate) allow_push: bool,
    /// Extra configuration for the git processes (`GIT_CONFIG_KEY_n`).
    pub(crate) config: Vec<(String, String)>,
}

/// What a request is, for the counters.
fn count(counters: &Counters, req: &Request<Incoming>) {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or_default();
    if req.method() == Method::GET && path.ends_with("/info/refs") {
        if query.contains("service=git-upload-pack") {
            Counters::bump(&counters.upload_pack_info_refs);
        } else if query.contains("service=git-receive-pack") {
            Counters::bump(&counters.receive_pack_info_refs);
        }
    } else if req.method() == Method::POST && path.ends_with("/git-upload-pack") {
        Counters::bump(&counters.upload_pack_posts);
    } else if req.method() == Method::POST && path.ends_with("/git-receive-pack") {
        Counters::bump(&counters.receive_pack_posts);
    }
    let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if header("git-protocol").is_some_and(|v| v.contains("version=2")) {
        Counters::bump(&counters.protocol_v2);
    }
    if header(CONTENT_ENCODING.as_str()).is_some_and(|v| v.contains("gzip")) {
        Counters::bump(&counters.gzip_requests);
    }
}

/// Runs http-backend for `req` and answers with what it prints.
pub(crate) async fn serve(
    backend: &Backend,
    req: Request<Incoming>,
    remote_user: Option<String>,
    peer: SocketAddr,
    counters: Arc<Counters>,
    token: CancellationToken,
    tracker: &TaskTracker,
) -> Response<ServerBody> {
    count(&counters, &req);
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let gzip = header(CONTENT_ENCODING.as_str()).is_some_and(|v| v.contains("gzip"));
    let sniff = parts.method == Method::POST && parts.uri.path().ends_with("/git-upload-pack");

    let mut cmd = Command::new(&backend.program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")))
        .env("HOME", &backend.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &backend.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("SERVER_SOFTWARE", "eddy-test-git")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("REMOTE_ADDR", peer.ip().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(v) = header(CONTENT_TYPE.as_str()) {
        cmd.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header(CONTENT_LENGTH.as_str()) {
        cmd.env("CONTENT_LENGTH", v);
    }
    if gzip {
        cmd.env("HTTP_CONTENT_ENCODING", "gzip");
    }
    if let Some(v) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", &v).env("HTTP_GIT_PROTOCOL", v);
    }
    let user = remote_user.or_else(|| backend.allow_push.then(|| "eddy-test".to_owned()));
    if let Some(user) = user {
        cmd.env("REMOTE_USER", user);
    }
    let mut config = backend.config.clone();
    if !backend.allow_push {
        config.push(("http.receivepack".to_owned(), "false".to_owned()));
    }
    cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (key, value)) in config.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), key).env(format!("GIT_CONFIG_VALUE_{i}"), value);
    }

    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(error = %e, "starting git http-backend");
            return status(StatusCode::INTERNAL_SERVER_ERROR, "cannot start git http-backend\n");
        }
    };
    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "git http-backend has no pipes\n");
    };

    // Request body → stdin, classifying upload-pack commands on the way.
    let sniffer = sniff.then(|| Sniffer::new(gzip));
    tracker.spawn(feed_stdin(body, stdin, sniffer, counters, token.clone()));
    // stderr → log.
    tracker.spawn(async move {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text).await;
        if !text.trim().is_empty() {
            tracing::debug!(stderr = %text.trim(), "git http-backend");
        }
    });

    let mut stdout = BufReader::new(stdout);
    let head = tokio::select! {
        head = read_cgi_head(&mut stdout) => head,
        () = token.cancelled() => None,
    };
    let Some((code, headers)) = head else {
        abort(&mut child).await;
        return status(StatusCode::BAD_GATEWAY, "git http-backend wrote no CGI header\n");
    };
    let (tx, body) = ChannelBody::channel(8);
    tracker.spawn(pump(stdout, child, tx, token));
    let mut response = Response::new(body);
    *response.status_mut() = code;
    response.headers_mut().extend(headers);
    response
}

/// Streams the request body into http-backend's standard input.
async fn feed_stdin(
    mut body: Incoming,
    mut stdin: tokio::process::ChildStdin,
    mut sniffer: Option<Sniffer>,
    counters: Arc<Counters>,
    token: CancellationToken,
) {
    let record = |cmd: Option<UploadPackCommand>| match cmd {
        Some(UploadPackCommand::Fetch) => Counters::bump(&counters.fetches),
        Some(UploadPackCommand::LsRefs) => Counters::bump(&counters.ls_refs),
        Some(UploadPackCommand::Other) | None => {}
    };
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = token.cancelled() => return,
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "reading a request body");
                return;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
        };
        if let Some(s) = sniffer.as_mut() {
            record(s.feed(&data));
        }
        if stdin.write_all(&data).await.is_err() {
            // http-backend stopped reading: it answers with an error of its own.
            break;
        }
    }
    if let Some(s) = sniffer.as_mut() {
        record(s.finish());
    }
    let _ = stdin.shutdown().await;
}

/// Reads the CGI header block: `Status:` becomes the status, the rest are response headers.
async fn read_cgi_head(stdout: &mut BufReader<ChildStdout>) -> Option<(StatusCode, Vec<(HeaderName, HeaderValue)>)> {
    let mut code = StatusCode::OK;
    let mut headers = Vec::new();
    let mut total = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let n = stdout.read_line(&mut line).await.ok()?;
        total += n;
        if n == 0 || total > MAX_HEADER_BYTES {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some((code, headers));
        }
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let digits = value.split_whitespace().next()?;
            code = StatusCode::from_bytes(digits.as_bytes()).ok()?;
        } else if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.push((name, value));
        }
    }
}

/// Streams http-backend's output into the response body, then reaps it.
async fn pump(
    mut stdout: BufReader<ChildStdout>,
    mut child: Child,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    token: CancellationToken,
) {
    let finished = loop {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let read = tokio::select! {
            read = stdout.read_buf(&mut buf) => read,
            () = token.cancelled() => break false,
        };
        match read {
            Ok(0) => break true,
            Ok(_) => {
                let sent = tokio::select! {
                    sent = tx.send(Ok(buf.freeze())) => sent.is_ok(),
                    () = token.cancelled() => false,
                };
                if !sent {
                    break false;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                break false;
            }
        }
    };
    if !finished {
        abort(&mut child).await;
        return;
    }
    tokio::select! {
        status = child.wait() => {
            if let Ok(status) = status && !status.success() {
                tracing::debug!(%status, "git http-backend exited");
            }
        }
        () = token.cancelled() => abort(&mut child).await,
    }
}

/// Kills http-backend and what it started, and reaps it.
async fn abort(child: &mut Child) {
    if let Some(pid) = child.id() {
        kill_tree(pid);
    }
    let _ = child.kill().await;
}

/// A plain-text answer.
pub(crate) fn status(code: StatusCode, text: &'static str) -> Response<ServerBody> {
    let mut response = Response::new(if text.is_empty() { empty() } else { full(text) });
    *response.status_mut() = code;
    response
}
