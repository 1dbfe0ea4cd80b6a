//! The harness of the runtime's tests against a real Kubernetes API server: the control
//! plane of `hack/cluster` (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
//! kwok), started once per test binary as test/e2e does, or reused when it already runs (a
//! running cluster is left as it is: `hack/cluster up` without `--eddy` would unregister an
//! Eddy someone else started). Nothing here stops the cluster; `hack/test` stops the one it
//! started. Each test works in a namespace of its own.
#![allow(dead_code)]

pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// The running cluster, as `hack/cluster env` describes it.
#[derive(Debug)]
pub struct Cluster {
    /// Admin kubeconfig (system:masters).
    pub kubeconfig: PathBuf,
    /// The state directory.
    pub dir: PathBuf,
    /// Directory of the control-plane binaries and flux.
    pub bin: PathBuf,
}

fn hack_cluster(args: &[&str]) -> Output {
    Command::new(repo_root().join("hack/cluster"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("running hack/cluster")
}

/// Starts the cluster unless it runs already; once per test binary.
///
/// # Panics
/// When the cluster cannot be started.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if !hack_cluster(&["status"]).status.success() {
            let out = hack_cluster(&["up"]);
            assert!(
                out.status.success(),
                "hack/cluster up failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = hack_cluster(&["env"]);
        assert!(env.status.success(), "hack/cluster env failed: {}", String::from_utf8_lossy(&env.stderr));
        let text = String::from_utf8_lossy(&env.stdout).into_owned();
        let var = |name: &str| -> String {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix("export ")
                        .and_then(|kv| kv.strip_prefix(&format!("{name}=")))
                        .map(|v| v.trim_matches(['"', '\'']).to_owned())
                })
                .unwrap_or_else(|| panic!("{name} in hack/cluster env:\n{text}"))
        };
        Cluster {
            kubeconfig: PathBuf::from(var("KUBECONFIG")),
            dir: PathBuf::from(var("EDDY_CLUSTER_DIR")),
            bin: PathBuf::from(var("EDDY_CLUSTER_BIN")),
        }
    })
}

/// The kube configuration of the cluster admin.
pub async fn config() -> kube::Config {
    let kubeconfig = Kubeconfig::read_from(&cluster().kubeconfig).expect("reading the admin kubeconfig");
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube config")
}

/// A client of the cluster admin.
pub async fn client() -> Client {
    Client::try_from(config().await).expect("kube client")
}

/// A fresh namespace, deleted when the returned guard is dropped.
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl TestNamespace {
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("{prefix}-{:08x}", rand_u32());
        let ns = Namespace {
            metadata: kube::api::ObjectMeta { name: Some(name.clone()), ..Default::default() },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("creating the test namespace");
        Self { name, client: client.clone() }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let api = Api::<Namespace>::all(self.client.clone());
        let name = self.name.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = api.delete(&name, &DeleteParams::default()).await;
            });
        }
    }
}

/// A random number (test names only).
pub fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    u32::try_from(h.finish() & 0xffff_ffff).unwrap()
}

/// Runs a tool of the cluster (kubectl from PATH, or flux from the cluster's bin) as admin.
pub fn tool(program: &Path, args: &[&str]) -> (bool, String, String) {
    let c = cluster();
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", &c.kubeconfig)
        .env("KUBECACHEDIR", c.dir.join("runtime-test-kubecache"))
        .env("HOME", c.dir.join("runtime-test-home"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl ARGS` as admin; panics when it fails.
pub fn kubectl(args: &[&str]) -> String {
    let (ok, stdout, stderr) = tool(Path::new("kubectl"), args);
    assert!(ok, "kubectl {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// `flux ARGS` as admin; panics when it fails.
pub fn flux(args: &[&str]) -> String {
    let (ok, stdout, stderr) = tool(&cluster().bin.join("flux"), args);
    assert!(ok, "flux {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`.
///
/// # Panics
/// With `what` when the time runs out.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
