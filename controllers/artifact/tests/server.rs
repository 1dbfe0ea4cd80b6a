//! The artifact server over real HTTP on 127.0.0.1: a hyper client for the protocol, raw
//! request lines on a TcpStream for traversal attempts (clients normalise `..`).

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use eddy_artifact::storage::{Storage, StorageOptions};
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";

struct Fixture {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    artifact: Vec<u8>,
}

impl Fixture {
    async fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("storage");
        fs::create_dir(&root).unwrap();
        fs::write(tmp.path().join("secret"), SECRET).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/secret"), SECRET).unwrap();

        let storage = Storage::new(StorageOptions::new(&root, "127.0.0.1")).unwrap();
        let mut a = storage.new_artifact("GitRepository", "ns", "app", "r", "a.tar.gz").unwrap();
        let artifact: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        storage.copy_from(&mut a, &mut &artifact[..]).unwrap();
        let dir = root.join("gitrepository/ns/app");
        fs::write(dir.join("chart-1.0.0.tgz"), b"\x1f\x8b\x08\x00rest").unwrap();
        fs::write(dir.join("index.yaml"), "apiVersion: v1\n").unwrap();
        fs::write(dir.join("empty.txt"), "").unwrap();
        fs::write(dir.join(".eddy-tmp-a.tar.gz.0123"), "partial").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), dir.join("evil.tar.gz")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("linkdir")).unwrap();
        std::os::unix::fs::symlink("a.tar.gz", dir.join("latest.tar.gz")).unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server_root = root.clone();
        let server = tokio::spawn(async move {
            eddy_artifact::server::serve(listener, &server_root, async {
                let _ = stopped.await;
            })
            .await
        });
        Self { _tmp: tmp, root, addr, stop: Some(stop), server: Some(server), artifact }
    }

    async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut req = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = tokio::time::timeout(Duration::from_secs(10), client.request(req.body(Empty::new()).unwrap()))
            .await
            .unwrap()
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(10), body.collect()).await.unwrap().unwrap().to_bytes();
        (parts.status, parts.headers, body)
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        self.request(Method::GET, path, headers).await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
        }
    }
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> &'h str {
    h.get(name).map_or("", |v| v.to_str().unwrap())
}

const A: &str = "/gitrepository/ns/app/a.tar.gz";

#[tokio::test]
async fn get_and_head_serve_the_file_with_go_headers() {
    let f = Fixture::new().await;
    let (status, h, body) = f.get(A, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, f.artifact);
    assert_eq!(header(&h, "content-length"), "100000");
    assert_eq!(header(&h, "content-type"), "application/gzip");
    assert_eq!(header(&h, "accept-ranges"), "bytes");
    let modified = fs::metadata(f.root.join(&A[1..])).unwrap().modified().unwrap();
    assert_eq!(header(&h, "last-modified"), httpdate::fmt_http_date(modified));
    let etag = header(&h, "etag");
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2, "{etag}");

    let (status, hh, body) = f.request(Method::HEAD, A, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(header(&hh, "content-length"), "100000");
    assert_eq!(header(&hh, "etag"), etag);

    let (_, h, _) = f.get("/gitrepository/ns/app/chart-1.0.0.tgz", &[]).await;
    assert_eq!(header(&h, "content-type"), "application/x-gzip", "sniffed, as Go does for .tgz");
    let (_, h, _) = f.get("/gitrepository/ns/app/index.yaml", &[]).await;
    assert_eq!(header(&h, "content-type"), "text/plain; charset=utf-8");
    let (status, h, body) = f.get("/gitrepository/ns/app/empty.txt", &[("range", "bytes=5-")]).await;
    assert_eq!(
        (status, header(&h, "content-length"), body.len()),
        (StatusCode::OK, "0", 0),
        "empty file ignores ranges"
    );

    let (status, h, _) = f.request(Method::POST, A, &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&h, "allow"), "GET, HEAD");
    f.stop().await;
}

#[tokio::test]
async fn ranges_single_suffix_open_and_multiple() {
    let f = Fixture::new().await;
    let all = &f.artifact;
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 99_995, 99_999),
        ("bytes=99990-", 99_990, 99_999),
        ("bytes=50-10000000", 50, 99_999),
    ] {
        let (status, h, body) = f.get(A, &[("range", range)]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(&h, "content-range"), format!("bytes {start}-{end}/100000"));
        assert_eq!(header(&h, "content-length"), (end - start + 1).to_string());
        assert_eq!(&body[..], &all[start..=end], "{range}");
    }

    let (status, h, body) = f.get(A, &[("range", "bytes=0-1, 10-12,-2")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let ct = header(&h, "content-type");
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    assert_eq!(boundary.len(), 60);
    assert_eq!(header(&h, "content-length"), body.len().to_string());
    let text = body.to_vec();
    let mut expected = Vec::new();
    for (i, (s, e)) in [(0usize, 1usize), (10, 12), (99_998, 99_999)].into_iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Range: bytes {s}-{e}/100000\r\nContent-Type: application/gzip\r\n\r\n"
        );
        expected.extend_from_slice(head.as_bytes());
        expected.extend_from_slice(&all[s..=e]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(text, expected);

    let (status, h, body) = f.get(A, &[("range", "bytes=100000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&h, "content-range"), "bytes */100000");
    assert_eq!(&body[..], b"invalid range: failed to overlap\n");
    let (status, _, body) = f.get(A, &[("range", "bytes=x-y")]).await;
    assert_eq!((status, &body[..]), (StatusCode::RANGE_NOT_SATISFIABLE, &b"invalid range\n"[..]));
    // Ranges adding up to more than the file are ignored.
    let (status, _, body) = f.get(A, &[("range", "bytes=0-,0-")]).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 100_000));
    f.stop().await;
}

#[tokio::test]
async fn conditional_requests() {
    let f = Fixture::new().await;
    let (_, h, _) = f.get(A, &[]).await;
    let etag = header(&h, "etag").to_owned();
    let modified = header(&h, "last-modified").to_owned();

    let (status, h304, body) = f.get(A, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&h304, "etag"), etag);
    assert_eq!(header(&h304, "last-modified"), "", "Go drops Last-Modified next to an ETag");
    let (status, _, _) = f.request(Method::HEAD, A, &[("if-none-match", &format!("\"x\", W/{etag}"))]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = f.get(A, &[("if-modified-since", &modified)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = f.get(A, &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = f.get(A, &[("if-match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, body) = f.get(A, &[("range", "bytes=0-0"), ("if-range", "\"stale\"")]).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 100_000), "a stale If-Range gets the whole file");
    let (status, _, body) = f.get(A, &[("range", "bytes=0-0"), ("if-range", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::PARTIAL_CONTENT, 1));

    // Replacing the artifact changes the ETag.
    let storage = Storage::new(StorageOptions::new(&f.root, "127.0.0.1")).unwrap();
    let mut a = storage.new_artifact("GitRepository", "ns", "app", "r", "a.tar.gz").unwrap();
    storage.copy_from(&mut a, &mut &b"new content"[..]).unwrap();
    let (status, h, body) = f.get(A, &[("if-none-match", &etag)]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"new content"[..]));
    assert_ne!(header(&h, "etag"), etag);
    f.stop().await;
}

#[tokio::test]
async fn directories_temp_files_and_symlinks_are_not_found() {
    let f = Fixture::new().await;
    for path in [
        "/",
        "/gitrepository",
        "/gitrepository/ns/app",
        "/gitrepository/ns/app/",
        "/gitrepository/ns/app/missing.tar.gz",
        "/gitrepository/ns/app/.eddy-tmp-a.tar.gz.0123",
        "/gitrepository/ns/app/evil.tar.gz",
        "/gitrepository/ns/app/latest.tar.gz",
        "/linkdir/secret",
        "/gitrepository/ns/app/a.tar.gz/x",
    ] {
        let (status, h, body) = f.get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(&body[..], b"404 page not found\n", "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    }
    let (status, h, _) = f.get("/gitrepository/ns/app/a.tar.gz/?x=1", &[]).await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&h, "location"), "../a.tar.gz?x=1");
    f.stop().await;
}

/// Sends `line` as the request line of a raw HTTP/1.1 request and returns the whole response.
async fn raw(addr: SocketAddr, target: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn traversal_attempts_never_read_outside_the_root() {
    let f = Fixture::new().await;
    let outside = f.root.parent().unwrap();
    let rel = Path::new("..").join("secret");
    assert!(f.root.join(&rel).exists(), "the secret is one level up");
    let absolute = outside.join("secret").display().to_string();
    let attempts = [
        "/../secret".to_owned(),
        "/../../secret".to_owned(),
        "/gitrepository/../../secret".to_owned(),
        "/%2e%2e/secret".to_owned(),
        "/%2E%2E/secret".to_owned(),
        "/.%2e/secret".to_owned(),
        "/%2e%2e%2fsecret".to_owned(),
        "/..%2fsecret".to_owned(),
        "/..%2Fsecret".to_owned(),
        "/gitrepository/ns/app/..%2f..%2f..%2f..%2fsecret".to_owned(),
        "/%252e%252e/secret".to_owned(),
        "/..%5csecret".to_owned(),
        "/..\\secret".to_owned(),
        "/%5c..%5csecret".to_owned(),
        "/secret%00.tar.gz".to_owned(),
        "/%00/../secret".to_owned(),
        "//../secret".to_owned(),
        absolute.clone(),
        format!("/{absolute}"),
        format!("/%2f{}", absolute.trim_start_matches('/')),
        "http://127.0.0.1/../secret".to_owned(),
        "../secret".to_owned(),
        "/linkdir/secret".to_owned(),
        "/gitrepository/ns/app/evil.tar.gz".to_owned(),
        "/./../secret".to_owned(),
        "/%2e/%2e%2e/secret".to_owned(),
    ];
    for target in &attempts {
        let response = raw(f.addr, target).await;
        let status = response.split_whitespace().nth(1).unwrap_or("");
        assert!(!response.contains(SECRET), "{target} leaked the secret:\n{response}");
        assert!(status == "404" || status == "400", "{target}: unexpected status {status}\n{response}");
    }
    // The same raw client does read a real artifact.
    let ok = raw(f.addr, A).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    f.stop().await;
}

#[tokio::test]
async fn stalled_clients_are_cut_off_and_shutdown_is_bounded() {
    use eddy_artifact::server::{ServeOptions, serve_with};
    let tmp = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(500),
        shutdown_timeout: Duration::from_millis(500),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let root = tmp.path().to_path_buf();
    let server = tokio::spawn(async move {
        serve_with(
            listener,
            &root,
            async {
                let _ = stopped.await;
            },
            options,
        )
        .await
    });
    // A request that never finishes its headers is closed.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server kept a stalled request open");
    // An idle connection does not hold shutdown up past its timeout.
    let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
}
