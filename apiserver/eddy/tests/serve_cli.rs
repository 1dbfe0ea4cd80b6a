//! `eddy serve` with no cluster at all: the embedded default writes a kubeconfig that the
//! machine's real kubectl uses straight away, and a restart keeps data and credentials.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(data: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--secure-port", &port.to_string()])
        .spawn()
        .expect("start eddy serve");
    Server(child)
}

/// Runs kubectl until it succeeds (the server may still be starting) or 60 s pass.
fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(kubectl()).arg("--kubeconfig").arg(kubeconfig).args(args).output().expect("run kubectl");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(Instant::now() < deadline, "kubectl {args:?} kept failing: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kubectl_works_against_the_embedded_default_and_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let kubeconfig = data.join("kubeconfig");
    {
        let _server = start(&data, port);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !kubeconfig.exists() {
            assert!(Instant::now() < deadline, "no kubeconfig written in {}", data.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        let listed = kubectl_ok(&kubeconfig, &["get", "gitrepositories", "-A", "-o", "name"]);
        assert!(listed.trim().is_empty(), "a new server lists nothing: {listed:?}");
        let manifest = dir.path().join("repo.yaml");
        std::fs::write(
            &manifest,
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n  url: https://github.com/stefanprodan/podinfo\n  interval: 5m\n",
        )
        .unwrap();
        kubectl_ok(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    }
    let _server = start(&data, port);
    let listed = kubectl_ok(&kubeconfig, &["get", "gitrepositories", "-A", "-o", "name"]);
    assert_eq!(listed.trim(), "gitrepository.source.toolkit.fluxcd.io/podinfo");
}
