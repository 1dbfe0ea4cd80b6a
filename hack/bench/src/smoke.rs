//! The reference cluster's smoke test (`eddy-bench flux-smoke`): a GitRepository served by a
//! local `git http-backend` reaches Ready on a cluster, at the repository's revision, and the
//! artifact its status points at downloads with that digest and holds the repository's files
//! minus what `.sourceignore` excludes. Against the Flux cluster it proves the reference
//! controllers work; against Eddy's it checks the same observable behaviour.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::conn;
use crate::gitrepo::Repos;
use crate::gitrepo::tracker::{Goal, Tracker};

/// Runs the smoke test; returns a one-line summary.
///
/// # Errors
/// Anything that does not behave as described in the module docs, or a step over `timeout`.
pub async fn run(kubeconfig: &std::path::Path, namespace: &str, timeout: Duration) -> anyhow::Result<String> {
    let repos = tokio::task::block_in_place(|| Repos::create(1))?;
    let client = conn::connect(kubeconfig).await?;
    let ns_body =
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))?;
    conn::expect(
        &client,
        Method::POST,
        "/api/v1/namespaces",
        Some("application/json"),
        ns_body,
        &[StatusCode::CREATED, StatusCode::CONFLICT],
    )
    .await?;
    let collection = format!("/apis/source.toolkit.fluxcd.io/v1/namespaces/{namespace}/gitrepositories");
    let uri = format!("{collection}/smoke");
    let (status, _) = conn::send(&client, Method::DELETE, &uri, None, Vec::new()).await?;
    ensure!(status == StatusCode::OK || status == StatusCode::NOT_FOUND, "deleting an old {uri}: {status}");
    let tracker = Tracker::start(client.clone(), collection.clone()).await?;
    let gone = Instant::now();
    while tracker.len() > 0 {
        ensure!(gone.elapsed() < timeout, "an old {uri} is still there");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let body = serde_json::to_vec(&json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "smoke", "namespace": namespace},
        "spec": {"interval": "1m", "url": repos.url(0), "ref": {"branch": "main"}},
    }))?;
    let start = Instant::now();
    conn::expect(&client, Method::POST, &collection, Some("application/json"), body, &[StatusCode::CREATED]).await?;
    let revision = repos.revision(0);
    let goals = HashMap::from([("smoke".to_owned(), Goal { revision: revision.clone(), handled: None })]);
    let done = tracker.wait_all(&goals, start, timeout, "smoke").await?;

    let obj: Value =
        serde_json::from_slice(&conn::expect(&client, Method::GET, &uri, None, Vec::new(), &[StatusCode::OK]).await?)?;
    let artifact = &obj["status"]["artifact"];
    let url = artifact["url"].as_str().context("status.artifact.url")?.to_owned();
    let digest = artifact["digest"].as_str().context("status.artifact.digest")?.to_owned();
    let bytes = tokio::task::spawn_blocking(move || http_get(&url, Duration::from_secs(30))).await??;
    let got = format!("sha256:{}", hex(&sha2::Sha256::digest(&bytes)));
    ensure!(got == digest, "the artifact's bytes hash to {got}, its status says {digest}");
    ensure!(
        artifact["size"].as_u64() == Some(bytes.len() as u64),
        "status.artifact.size {} but {} bytes served",
        artifact["size"],
        bytes.len()
    );
    let files = tokio::task::spawn_blocking(move || list_tarball(&bytes)).await??;
    for want in ["README.md", "deploy/deployment.yaml", "deploy/kustomization.yaml", ".sourceignore"] {
        ensure!(
            files.iter().any(|f| f.trim_start_matches("./") == want),
            "{want} missing from the artifact: {files:?}"
        );
    }
    ensure!(!files.iter().any(|f| f.contains("docs/ignored.md")), ".sourceignore'd file in the artifact: {files:?}");

    conn::expect(&client, Method::DELETE, &uri, None, Vec::new(), &[StatusCode::OK]).await?;
    let deleted = Instant::now();
    while tracker.len() > 0 {
        ensure!(deleted.elapsed() < timeout, "{uri} not gone {} s after its deletion", timeout.as_secs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(format!(
        "GitRepository {namespace}/smoke Ready at {revision} {:.1} s after its creation; artifact {digest} ({} files) verified; deleted",
        done.all_seconds,
        files.len()
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A plain `http://host:port/path` GET (the artifact server on 127.0.0.1), with a timeout on
/// every read and write; returns the body of a 200 answer.
fn http_get(url: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let rest = url.strip_prefix("http://").with_context(|| format!("not an http URL: {url}"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?.next().with_context(|| format!("resolving {host}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp)?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = String::from_utf8_lossy(&resp[..split]);
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("GET {url}: {status}");
    }
    Ok(resp[split + 4..].to_vec())
}

/// The entry names of a .tar.gz, listed by the system's `tar`.
fn list_tarball(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("artifact.tar.gz");
    std::fs::write(&path, bytes)?;
    let out = std::process::Command::new("tar").arg("-tzf").arg(&path).output().context("running tar")?;
    ensure!(out.status.success(), "tar -tzf: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_get_reads_a_body_and_refuses_errors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for answer in [&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..], b"HTTP/1.1 404 Not Found\r\n\r\n"]
            {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "request cut short: {}", String::from_utf8_lossy(&req));
                    req.extend_from_slice(&buf[..n]);
                }
                assert!(String::from_utf8_lossy(&req).starts_with("GET /a/b.tar.gz HTTP/1.0\r\n"));
                s.write_all(answer).unwrap();
            }
        });
        let url = format!("http://{addr}/a/b.tar.gz");
        assert_eq!(http_get(&url, Duration::from_secs(5)).unwrap(), b"hello");
        let err = http_get(&url, Duration::from_secs(5)).unwrap_err().to_string();
        assert!(err.contains("404"), "{err}");
        server.join().unwrap();
        assert!(http_get("https://x/y", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn tarballs_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f.txt"), "x").unwrap();
        let tgz = dir.path().join("t.tar.gz");
        let ok = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(dir.path())
            .arg("d")
            .status()
            .unwrap();
        assert!(ok.success());
        let names = list_tarball(&std::fs::read(&tgz).unwrap()).unwrap();
        assert!(names.iter().any(|n| n == "d/f.txt"), "{names:?}");
        assert!(list_tarball(b"not a tarball").is_err());
    }
}
