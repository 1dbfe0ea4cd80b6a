//! The HTTP Git server, exercised with the real git CLI.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{bare_rev, failed, git, git_cmd, git_ok, ok, run, simple_repo};
use eddy_test_git::HttpGitServer;

fn raw_status(server: &HttpGitServer, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn clone_fetch_and_push() {
    let root = tempfile::tempdir().unwrap();
    let (mut repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let work = tempfile::tempdir().unwrap();

    git_ok(work.path(), &["clone", "--quiet", &server.repo_url("repo.git"), "clone"]);
    let clone = work.path().join("clone");
    assert_eq!(std::fs::read_to_string(clone.join("hello.txt")).unwrap(), "hello\n");
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]), first);
    let counts = server.counts();
    assert!(counts.upload_pack_info_refs >= 1, "{counts:?}");
    assert!(counts.fetches >= 1, "{counts:?}");
    assert_eq!(counts.receive_pack_posts, 0, "{counts:?}");

    // A new commit on the server is fetched.
    repo.write("hello.txt", "hello again\n").unwrap();
    let second = repo.commit("second").unwrap();
    repo.push().unwrap();
    git_ok(&clone, &["fetch", "--quiet", "origin"]);
    assert_eq!(git_ok(&clone, &["rev-parse", "origin/main"]), second);

    // A push from the clone reaches the bare repository.
    git_ok(&clone, &["merge", "--quiet", "--ff-only", "origin/main"]);
    std::fs::write(clone.join("pushed.txt"), "pushed\n").unwrap();
    git_ok(&clone, &["add", "pushed.txt"]);
    git_ok(&clone, &["commit", "--quiet", "-m", "pushed"]);
    let pushed = git_ok(&clone, &["rev-parse", "HEAD"]);
    git_ok(&clone, &["push", "--quiet", "origin", "main"]);
    assert_eq!(bare_rev(repo.bare_path(), "main"), pushed);
    assert!(server.counts().receive_pack_posts >= 1);
}

#[test]
fn protocol_v2_and_counters_tell_listing_from_fetching() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");

    let listing = git_ok(work.path(), &["-c", "protocol.version=2", "ls-remote", &url]);
    assert!(listing.contains(&format!("{first}\trefs/heads/main")), "{listing}");
    let counts = server.counts();
    assert!(counts.protocol_v2 >= 1, "{counts:?}");
    assert_eq!(counts.ls_refs, 1, "{counts:?}");
    assert_eq!(counts.fetches, 0, "{counts:?}");

    server.reset_counts();
    git_ok(work.path(), &["-c", "protocol.version=0", "ls-remote", &url]);
    let counts = server.counts();
    assert_eq!((counts.protocol_v2, counts.upload_pack_posts, counts.upload_pack_info_refs), (0, 0, 1), "{counts:?}");

    server.reset_counts();
    git_ok(work.path(), &["-c", "protocol.version=2", "clone", "--quiet", &url, "v2"]);
    let counts = server.counts();
    assert!(counts.protocol_v2 >= 2 && counts.fetches >= 1, "{counts:?}");
}

#[test]
fn gzipped_and_large_chunked_bodies() {
    let root = tempfile::tempdir().unwrap();
    let (mut repo, _) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");
    git_ok(work.path(), &["clone", "--quiet", &url, "clone"]);
    let clone = work.path().join("clone");

    // Many local commits the server does not have: the negotiation's "have" lines exceed
    // 1 KiB, which git sends gzipped.
    for i in 0..80 {
        git_ok(&clone, &["commit", "--quiet", "--allow-empty", "-m", &format!("local {i}")]);
    }
    repo.write("new.txt", "new\n").unwrap();
    let new = repo.commit("new on the server").unwrap();
    repo.push().unwrap();
    server.reset_counts();
    for version in ["0", "2"] {
        git_ok(&clone, &["-c", &format!("protocol.version={version}"), "fetch", "--quiet", "origin"]);
    }
    assert_eq!(git_ok(&clone, &["rev-parse", "origin/main"]), new);
    let counts = server.counts();
    assert!(counts.gzip_requests >= 2, "{counts:?}");
    assert!(counts.fetches >= 2, "gzipped fetches are classified: {counts:?}");

    // A push larger than http.postBuffer is sent chunked and streamed.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(clone.join("big.bin"), &big).unwrap();
    git_ok(&clone, &["add", "big.bin"]);
    git_ok(&clone, &["commit", "--quiet", "-m", "big"]);
    git_ok(&clone, &["push", "--quiet", "origin", "HEAD:refs/heads/big"]);
    let size = git_ok(repo.bare_path(), &["cat-file", "-s", "big:big.bin"]);
    assert_eq!(size, big.len().to_string());
}

#[test]
fn read_only_refuses_pushes() {
    let root = tempfile::tempdir().unwrap();
    let (repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).read_only().start().unwrap();
    let work = tempfile::tempdir().unwrap();
    git_ok(work.path(), &["clone", "--quiet", &server.repo_url("repo.git"), "clone"]);
    let clone = work.path().join("clone");
    git_ok(&clone, &["commit", "--quiet", "--allow-empty", "-m", "refused"]);
    failed(&git(&clone, &["push", "origin", "main"]), "push to a read-only server");
    assert_eq!(bare_rev(repo.bare_path(), "main"), first);
    assert_eq!(server.counts().receive_pack_posts, 0);
}

#[test]
fn basic_auth() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).basic_auth("alice", "s3cret").start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let port = server.addr().port();

    let status = raw_status(
        &server,
        "GET /repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");

    let no_creds = server.repo_url("repo.git");
    failed(&git(work.path(), &["ls-remote", &no_creds]), "ls-remote without credentials");
    let wrong = format!("http://alice:wrong@127.0.0.1:{port}/repo.git");
    let stderr = failed(&git(work.path(), &["clone", &wrong, "wrong"]), "clone with a wrong password");
    assert!(stderr.contains("Authentication failed") || stderr.contains("401"), "{stderr}");
    let counts = server.counts();
    assert!(counts.unauthorized >= 2, "{counts:?}");
    assert_eq!(counts.upload_pack_info_refs, 0, "refused requests never reach http-backend: {counts:?}");

    let good = format!("http://alice:s3cret@127.0.0.1:{port}/repo.git");
    git_ok(work.path(), &["clone", "--quiet", &good, "good"]);
    assert_eq!(git_ok(&work.path().join("good"), &["rev-parse", "HEAD"]), first);
    // The authenticated user may push.
    let clone = work.path().join("good");
    git_ok(&clone, &["commit", "--quiet", "--allow-empty", "-m", "by alice"]);
    git_ok(&clone, &["push", "--quiet", "origin", "main"]);
}

#[test]
fn bearer_token() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).bearer_token("t0ken").start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");

    let listing = git_ok(work.path(), &["-c", "http.extraHeader=Authorization: Bearer t0ken", "ls-remote", &url]);
    assert!(listing.contains(&first), "{listing}");
    failed(
        &git(work.path(), &["-c", "http.extraHeader=Authorization: Bearer nope", "ls-remote", &url]),
        "ls-remote with a wrong token",
    );
    failed(&git(work.path(), &["ls-remote", &url]), "ls-remote without a token");
    let status = raw_status(
        &server,
        "GET /repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    assert_eq!(server.counts().upload_pack_info_refs, 1);
}

#[test]
fn https_with_the_test_ca() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).tls().start().unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert!(server.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let ca = server.ca_file().unwrap().to_str().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();

    for (i, base) in [server.url(), server.localhost_url()].into_iter().enumerate() {
        let url = format!("{base}/repo.git");
        let dest = format!("clone{i}");
        let mut cmd = git_cmd(work.path());
        cmd.env("GIT_SSL_CAINFO", &ca);
        ok(&run(cmd, &["clone", "--quiet", &url, &dest]), &["clone", &url]);
        assert_eq!(git_ok(&work.path().join(&dest), &["rev-parse", "HEAD"]), first);
    }
    let stderr = failed(&git(work.path(), &["ls-remote", &server.repo_url("repo.git")]), "ls-remote without the CA");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}

#[test]
fn mutual_tls_requires_the_client_certificate() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).mutual_tls().start().unwrap();
    let client = server.client_cert().unwrap();
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("client.pem"), &client.cert_pem).unwrap();
    std::fs::write(work.path().join("client.key"), &client.key_pem).unwrap();
    let url = server.repo_url("repo.git");

    let mut cmd = git_cmd(work.path());
    cmd.env("GIT_SSL_CAINFO", server.ca_file().unwrap());
    failed(&run(cmd, &["ls-remote", &url]), "ls-remote without a client certificate");

    let mut cmd = git_cmd(work.path());
    cmd.env("GIT_SSL_CAINFO", server.ca_file().unwrap());
    let listing = ok(
        &run(cmd, &["-c", "http.sslCert=client.pem", "-c", "http.sslKey=client.key", "ls-remote", &url]),
        &["ls-remote with a client certificate"],
    );
    assert!(listing.contains(&first), "{listing}");
}

#[test]
fn hang_mode_accepts_and_never_answers() {
    let root = tempfile::tempdir().unwrap();
    simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).hang().start().unwrap();

    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    stream.write_all(b"GET /repo.git/info/refs HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    let err = stream.read(&mut buf).expect_err("no answer");
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err:?}");

    let work = tempfile::tempdir().unwrap();
    let mut cmd = git_cmd(work.path());
    cmd.env("GIT_HTTP_LOW_SPEED_LIMIT", "1000").env("GIT_HTTP_LOW_SPEED_TIME", "1");
    failed(&run(cmd, &["ls-remote", &server.repo_url("repo.git")]), "ls-remote against a hanging server");
    let counts = server.counts();
    assert!(counts.connections >= 2, "{counts:?}");
    assert_eq!(counts.requests, 0, "{counts:?}");

    // Stopping is bounded even with connections held open.
    let addr = server.addr();
    server.stop();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(), "still listening after stop");
}

#[test]
fn unknown_repositories_are_404() {
    let root = tempfile::tempdir().unwrap();
    simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let status = raw_status(
        &server,
        "GET /missing.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let work = tempfile::tempdir().unwrap();
    failed(&git(work.path(), &["ls-remote", &server.repo_url("missing.git")]), "ls-remote of a missing repository");
}

/// The server has its own thread and runtime: a single-threaded async test can block on a
/// git command (as a blocking client would) and await one, and drop the server in async code.
#[tokio::test(flavor = "current_thread")]
async fn serves_a_single_threaded_async_test() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");

    let blocking = git_ok(work.path(), &["ls-remote", &url, "refs/heads/main"]);
    assert!(blocking.starts_with(&first), "{blocking}");

    let mut cmd = tokio::process::Command::from(git_cmd(work.path()));
    cmd.args(["ls-remote", &url, "refs/heads/main"]).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&first), "{out:?}");
    drop(server);
}
