//! The artifact HTTP server: the storage root served read-only at `/`, as source-controller's
//! artifact server (Go's `http.FileServer`) serves it, so that consumers fetch
//! `status.artifact.url` unchanged.
//!
//! GET and HEAD answer with `Content-Length`, `Last-Modified`, `Accept-Ranges`, a strong
//! `ETag` (Go's file server sends none; Eddy's changes whenever the file is replaced), and Go's
//! `Content-Type` choice (`mime.rs`). Conditional requests (`conditional.rs`) and single and
//! multiple ranges (`range.rs`) follow `http.ServeContent`. Unlike Go's file server there are
//! no directory listings (404), temporary files are never served, and paths are resolved
//! without ever following a symlink (`resolve.rs`). Other methods get 405.
//!
//! [`serve`] runs the router on a listener with a header-read timeout, an idle timeout on each
//! connection (no byte either way for [`IDLE_TIMEOUT`]) and a bounded graceful shutdown.

mod conditional;
mod idle;
mod mime;
mod range;
mod resolve;

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;

use self::conditional::Outcome;
use self::range::{ByteRange, RangeError};
use self::resolve::Refusal;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may go without progress in either direction.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long [`serve`] waits for open connections to finish on shutdown (Flux: 5 s).
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Timeouts of [`serve_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long a connection may go without reading or writing a byte (a stalled download,
    /// an idle keep-alive connection).
    pub idle_timeout: Duration,
    /// How long open connections may take to finish after shutdown.
    pub shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
        }
    }
}

const CHUNK: usize = 64 * 1024;

struct ServerState {
    root: PathBuf,
}

/// A router serving the files under `root` read-only.
///
/// # Errors
///
/// The error resolving `root` to an absolute path.
pub fn router(root: &Path) -> io::Result<Router> {
    let root = std::fs::canonicalize(root)?;
    Ok(Router::new().fallback(handle).with_state(Arc::new(ServerState { root })))
}

/// Serves the files under `root` on `listener` until `shutdown` completes, then lets open
/// connections finish for up to [`SHUTDOWN_TIMEOUT`].
///
/// # Errors
///
/// The error resolving `root`. Errors on single connections are logged, not returned.
pub async fn serve(listener: TcpListener, root: &Path, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    serve_with(listener, root, shutdown, ServeOptions::default()).await
}

/// [`serve`] with explicit timeouts.
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_with(
    listener: TcpListener,
    root: &Path,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) -> io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let service = TowerToHyperService::new(router(root)?);
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "artifact server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "artifact server: TCP_NODELAY");
                }
                let io = TokioIo::new(idle::IdleTimeout::new(stream, options.idle_timeout));
                let conn = builder.serve_connection(io, service.clone());
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "artifact server: connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(options.shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!("artifact server: connections still open after the shutdown timeout");
    }
    Ok(())
}

/// Go's `http.Error`: a plain-text body of `message` and a newline.
fn error(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "404 page not found")
}

fn internal_error(e: &io::Error) -> Response {
    tracing::warn!(error = %e, "artifact server: failed to serve a file");
    error(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error")
}

/// What the blocking part found out about the requested file.
struct Opened {
    file: std::fs::File,
    size: u64,
    modified: SystemTime,
    etag: String,
    content_type: &'static str,
}

fn open_file(root: &Path, raw_path: &str) -> Result<Opened, Refusal> {
    let (mut file, name) = resolve::open(root, raw_path)?;
    let meta = file.metadata().map_err(Refusal::Io)?;
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let nanos = modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{:x}-{:x}\"", meta.ino(), nanos, meta.len());
    let content_type = match mime::type_by_extension(&name) {
        Some(ct) => ct,
        None => {
            let mut head = Vec::with_capacity(mime::SNIFF_LEN);
            (&mut file).take(mime::SNIFF_LEN as u64).read_to_end(&mut head).map_err(Refusal::Io)?;
            file.seek(SeekFrom::Start(0)).map_err(Refusal::Io)?;
            mime::detect(&head)
        }
    };
    Ok(Opened { file, size: meta.len(), modified, etag, content_type })
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let raw_path = request.uri().path().to_owned();
    let root = state.root.clone();
    let opened = match tokio::task::spawn_blocking(move || open_file(&root, &raw_path)).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(Refusal::NotFound)) => return not_found(),
        Ok(Err(Refusal::TrailingSlash(base))) => {
            let mut location = format!("../{base}");
            if let Some(query) = request.uri().query() {
                location = format!("{location}?{query}");
            }
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return response;
        }
        Ok(Err(Refusal::Io(e))) => return internal_error(&e),
        Err(e) => return internal_error(&io::Error::other(e)),
    };
    respond(&method, request.headers(), opened)
}

fn respond(method: &Method, headers: &axum::http::HeaderMap, opened: Opened) -> Response {
    let Opened { file, size, modified, etag, content_type } = opened;
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    let has_time = modified > UNIX_EPOCH;
    if has_time && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        out.insert(header::LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    let range_header = match conditional::evaluate(method, headers, &etag, modified) {
        Outcome::NotModified => {
            // Go drops Last-Modified from a 304 that carries an ETag.
            response.headers_mut().remove(header::LAST_MODIFIED);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        Outcome::Failed => {
            *response.status_mut() = StatusCode::PRECONDITION_FAILED;
            return response;
        }
        Outcome::Serve(range) => range.unwrap_or_default(),
    };
    let mut ranges = match range::parse_range(&range_header, size) {
        Ok(ranges) => ranges,
        Err(RangeError::NoOverlap) if size == 0 => Vec::new(),
        Err(e) => {
            let mut failed = error(StatusCode::RANGE_NOT_SATISFIABLE, e.message());
            if e == RangeError::NoOverlap
                && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
            {
                failed.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return failed;
        }
    };
    if ranges.iter().map(|r| r.length).sum::<u64>() > size {
        ranges.clear(); // more bytes than the file: ignore the ranges, as Go does
    }
    let (status, segments, content_type, length) = plan(&ranges, size, content_type);
    *response.status_mut() = status;
    let out = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        out.insert(header::CONTENT_TYPE, v);
    }
    if let [single] = ranges.as_slice()
        && let Ok(v) = HeaderValue::from_str(&single.content_range(size))
    {
        out.insert(header::CONTENT_RANGE, v);
    }
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method != Method::HEAD {
        *response.body_mut() = Body::from_stream(body_stream(tokio::fs::File::from_std(file), segments));
    }
    response
}

/// A piece of a response body.
enum Segment {
    Bytes(Bytes),
    File { start: u64, length: u64 },
}

/// The status, body segments, content type and length of the answer for `ranges`.
fn plan(ranges: &[ByteRange], size: u64, content_type: &'static str) -> (StatusCode, VecDeque<Segment>, String, u64) {
    match ranges {
        [] => {
            (StatusCode::OK, VecDeque::from([Segment::File { start: 0, length: size }]), content_type.to_owned(), size)
        }
        [single] => (
            StatusCode::PARTIAL_CONTENT,
            VecDeque::from([Segment::File { start: single.start, length: single.length }]),
            content_type.to_owned(),
            single.length,
        ),
        many => {
            let boundary: String = (0..30).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
            let mut segments = VecDeque::new();
            let mut length = 0;
            for (i, r) in many.iter().enumerate() {
                let head = range::part_header(&boundary, i == 0, *r, content_type, size);
                length += head.len() as u64 + r.length;
                segments.push_back(Segment::Bytes(Bytes::from(head)));
                segments.push_back(Segment::File { start: r.start, length: r.length });
            }
            let close = range::closing(&boundary);
            length += close.len() as u64;
            segments.push_back(Segment::Bytes(Bytes::from(close)));
            (StatusCode::PARTIAL_CONTENT, segments, format!("multipart/byteranges; boundary={boundary}"), length)
        }
    }
}

/// Streams `segments`, reading file ranges in chunks. A file that turns out shorter than
/// planned ends the stream with an error (the connection is then closed, never padded).
fn body_stream(
    file: tokio::fs::File,
    segments: VecDeque<Segment>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send {
    struct St {
        file: tokio::fs::File,
        segments: VecDeque<Segment>,
        position: Option<u64>,
    }
    futures_util::stream::unfold(St { file, segments, position: None }, |mut st| async move {
        loop {
            match st.segments.front_mut()? {
                Segment::Bytes(bytes) => {
                    let bytes = std::mem::take(bytes);
                    st.segments.pop_front();
                    return Some((Ok(bytes), st));
                }
                Segment::File { length: 0, .. } => {
                    st.segments.pop_front();
                }
                Segment::File { start, length } => {
                    let (from, want) = (*start, usize::try_from(*length).unwrap_or(CHUNK).min(CHUNK));
                    if st.position != Some(from)
                        && let Err(e) = st.file.seek(SeekFrom::Start(from)).await
                    {
                        st.segments.clear();
                        return Some((Err(e), st));
                    }
                    let mut buf = vec![0; want];
                    let n = match st.file.read(&mut buf).await {
                        Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "artifact file shrank while served")),
                        other => other,
                    };
                    let n = match n {
                        Ok(n) => n,
                        Err(e) => {
                            st.segments.clear();
                            return Some((Err(e), st));
                        }
                    };
                    buf.truncate(n);
                    *start += n as u64;
                    *length -= n as u64;
                    st.position = Some(*start);
                    return Some((Ok(Bytes::from(buf)), st));
                }
            }
        }
    })
}
