//! The forward proxy, exercised with the real git CLI.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{failed, git_cmd, ok, run, simple_repo};
use eddy_test_git::{HttpGitServer, HttpProxy};

#[test]
fn http_through_the_proxy() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let proxy = HttpProxy::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");

    let proxy_config = format!("http.proxy={}", proxy.url());
    ok(&run(git_cmd(work.path()), &["-c", &proxy_config, "clone", "--quiet", &url, "clone"]), &["clone via proxy"]);
    assert_eq!(common::git_ok(&work.path().join("clone"), &["rev-parse", "HEAD"]), first);
    let counts = proxy.counts();
    assert!(counts.forwarded >= 2, "info/refs and upload-pack went through the proxy: {counts:?}");
    assert_eq!(counts.tunnels, 0, "{counts:?}");
    let port = server.addr().port();
    assert!(proxy.targets().iter().all(|t| *t == format!("127.0.0.1:{port}")), "{:?}", proxy.targets());
    assert!(server.counts().fetches >= 1);
}

#[test]
fn https_through_a_connect_tunnel_with_proxy_auth() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::builder(root.path()).tls().start().unwrap();
    let proxy = HttpProxy::with_basic_auth("proxyuser", "proxypass").unwrap();
    assert!(!format!("{proxy:?}").contains("proxypass"));
    let work = tempfile::tempdir().unwrap();
    let url = server.repo_url("repo.git");
    let with_ca = || {
        let mut cmd = git_cmd(work.path());
        cmd.env("GIT_SSL_CAINFO", server.ca_file().unwrap());
        cmd
    };

    let good = format!("http.proxy={}", proxy.url_with_credentials().unwrap());
    let listing = ok(&run(with_ca(), &["-c", &good, "ls-remote", &url]), &["ls-remote via proxy"]);
    assert!(listing.contains(&first), "{listing}");
    let counts = proxy.counts();
    assert!(counts.tunnels >= 1 && counts.forwarded == 0, "{counts:?}");

    let before = proxy.counts();
    let bad = format!("http.proxy=http://proxyuser:wrong@{}", proxy.addr());
    failed(&run(with_ca(), &["-c", &bad, "ls-remote", &url]), "ls-remote with wrong proxy credentials");
    let none = format!("http.proxy={}", proxy.url());
    failed(&run(with_ca(), &["-c", &none, "ls-remote", &url]), "ls-remote without proxy credentials");
    let after = proxy.counts();
    assert!(after.rejected_auth >= before.rejected_auth + 2, "{after:?}");
    assert_eq!(after.tunnels, before.tunnels, "no tunnel without the right credentials: {after:?}");
}

fn raw(proxy: &HttpProxy, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn status_codes() {
    let proxy = HttpProxy::with_basic_auth("u", "p").unwrap();
    let status = raw(&proxy, "CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n");
    assert!(status.starts_with("HTTP/1.1 407"), "{status}");
    // Targets off the loopback interface are refused before any lookup or connection.
    let auth = "Proxy-Authorization: Basic dTpw\r\n";
    let status =
        raw(&proxy, &format!("CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n{auth}\r\n"));
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    let status = raw(&proxy, &format!("GET /x HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"));
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    let counts = proxy.counts();
    assert_eq!((counts.rejected_auth, counts.refused, counts.proxied()), (1, 2, 0), "{counts:?}");
}
