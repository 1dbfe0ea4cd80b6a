//! The harness of Eddy's end-to-end tests: a real control plane (`hack/cluster`: etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok) with Eddy registered as an
//! aggregated API server, and the real clients that drive it (`kubectl`, the `flux` CLI,
//! `curl`).
//!
//! [`cluster`] starts the cluster once per test binary (or reuses a running one: `hack/cluster
//! up` is idempotent and restarts Eddy when its binary changed). The Eddy binary is the one
//! `cargo test --workspace` built next to the test executable, or `$EDDY_BIN`.
//!
//! Nothing here is skipped: when the cluster cannot be started the tests fail with the
//! script's output.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
#[must_use]
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// The running cluster, as `hack/cluster env` describes it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Admin kubeconfig (system:masters).
    pub kubeconfig: PathBuf,
    /// The state directory (PKI, logs).
    pub dir: PathBuf,
    /// Directory of the control-plane binaries, kwok and flux.
    pub bin: PathBuf,
    /// Port Eddy listens on (127.0.0.1).
    pub eddy_port: u16,
    /// kube-apiserver's URL.
    pub server: String,
}

/// The Eddy binary the tests run: `$EDDY_BIN`, or the one built next to the test executable.
///
/// # Panics
/// When neither exists.
#[must_use]
pub fn eddy_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("EDDY_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test> -> target/<profile>/eddy
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let bin = dir.join("eddy");
    assert!(
        bin.exists(),
        "{} does not exist: build it with `cargo test --workspace --all-targets` (or set EDDY_BIN)",
        bin.display()
    );
    bin
}

/// Starts (or reuses) the cluster with Eddy in aggregated mode; once per test binary.
///
/// # Panics
/// When `hack/cluster up` fails.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| up(Command::new(repo_root().join("hack/cluster")).args(["up", "--eddy"]).arg(eddy_binary())))
}

/// Starts (or reuses) a second cluster without Eddy — "a remote cluster" for
/// `spec.kubeConfig` — in its own state directory (`$EDDY_REMOTE_CLUSTER_DIR`, default
/// `~/.cache/eddy/cluster-remote`) on ports `<prefix>xxx` (`$EDDY_REMOTE_CLUSTER_PORT_PREFIX`,
/// default 23); once per test binary, left running for the next run as the main cluster is.
///
/// # Panics
/// When `hack/cluster up` fails.
pub fn remote_cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let dir = std::env::var_os("EDDY_REMOTE_CLUSTER_DIR")
            .map_or_else(|| home.join(".cache/eddy/cluster-remote"), PathBuf::from);
        let pp = std::env::var("EDDY_REMOTE_CLUSTER_PORT_PREFIX").unwrap_or_else(|_| "23".to_owned());
        let mut cmd = Command::new(repo_root().join("hack/cluster"));
        cmd.arg("up").env_remove("EDDY_BIN").env("EDDY_CLUSTER_DIR", &dir);
        for (var, port) in [
            ("ETCD_PORT", "379"),
            ("ETCD_PEER_PORT", "380"),
            ("APISERVER_PORT", "443"),
            ("KCM_PORT", "257"),
            ("SCHEDULER_PORT", "259"),
            ("KWOK_PORT", "247"),
            ("EDDY_PORT", "444"),
            ("ARTIFACT_PORT", "445"),
            ("RECEIVER_PORT", "446"),
            ("EVENTS_PORT", "447"),
        ] {
            cmd.env(format!("EDDY_CLUSTER_{var}"), format!("{pp}{port}"));
        }
        up(&mut cmd)
    })
}

/// Runs a `hack/cluster up` command and reads the cluster it started.
fn up(cmd: &mut Command) -> Cluster {
    let root = repo_root();
    let out = cmd.current_dir(&root).stdin(Stdio::null()).output().expect("running hack/cluster up");
    assert!(
        out.status.success(),
        "hack/cluster up failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `up` prints nothing machine-readable; `env` with the same environment does.
    let mut env_cmd = Command::new(root.join("hack/cluster"));
    env_cmd.arg("env").current_dir(&root);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => env_cmd.env(k, v),
            None => env_cmd.env_remove(k),
        };
    }
    let env = env_cmd.output().expect("hack/cluster env");
    assert!(env.status.success(), "hack/cluster env failed: {}", String::from_utf8_lossy(&env.stderr));
    let text = String::from_utf8_lossy(&env.stdout).into_owned();
    let var = |name: &str| -> Option<String> {
        text.lines().find_map(|l| {
            l.strip_prefix("export ")
                .and_then(|kv| kv.strip_prefix(&format!("{name}=")))
                .map(|v| v.trim_matches(['"', '\'']).to_owned())
        })
    };
    let kubeconfig = PathBuf::from(var("KUBECONFIG").expect("KUBECONFIG in hack/cluster env"));
    let dir = PathBuf::from(var("EDDY_CLUSTER_DIR").expect("EDDY_CLUSTER_DIR in hack/cluster env"));
    let bin = PathBuf::from(var("EDDY_CLUSTER_BIN").expect("EDDY_CLUSTER_BIN in hack/cluster env"));
    let ports = std::fs::read_to_string(dir.join("ports.env")).expect("ports.env");
    let port = |key: &str| -> u16 {
        ports
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} in ports.env"))
    };
    let server = format!("https://127.0.0.1:{}", port("apiserver_port"));
    Cluster { kubeconfig, dir, bin, eddy_port: port("eddy_port"), server }
}

/// A finished command.
#[derive(Debug)]
pub struct Run {
    /// Exit success.
    pub ok: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: &Output) -> Self {
        Self {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Standard output, panicking with both streams when the command failed.
    ///
    /// # Panics
    /// When the command failed.
    #[must_use]
    pub fn ok(self, what: &str) -> String {
        assert!(self.ok, "{what} failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self.stdout
    }

    /// Standard error, panicking when the command succeeded.
    ///
    /// # Panics
    /// When the command succeeded.
    #[must_use]
    pub fn fails(self, what: &str) -> String {
        assert!(!self.ok, "{what} succeeded but should have failed:\nstdout: {}", self.stdout);
        self.stderr
    }
}

impl Cluster {
    fn tool(&self, program: &Path, args: &[&str], stdin: Option<&str>, kubeconfig: &Path) -> Run {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", self.dir.join("e2e-kubecache"))
            .env("HOME", self.dir.join("e2e-home"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("writing stdin");
        }
        Run::from(&child.wait_with_output().expect("waiting for the command"))
    }

    /// Runs `kubectl` as the cluster admin.
    #[must_use]
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.tool(Path::new("kubectl"), args, None, &self.kubeconfig)
    }

    /// Runs `kubectl` as the cluster admin with `input` on stdin.
    #[must_use]
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Run {
        self.tool(Path::new("kubectl"), args, Some(input), &self.kubeconfig)
    }

    /// Runs `kubectl` with another kubeconfig.
    #[must_use]
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Run {
        self.tool(Path::new("kubectl"), args, None, kubeconfig)
    }

    /// Runs the real `flux` CLI as the cluster admin.
    #[must_use]
    pub fn flux(&self, args: &[&str]) -> Run {
        self.tool(&self.bin.join("flux"), args, None, &self.kubeconfig)
    }

    /// A kubeconfig for a ServiceAccount (token from the TokenRequest API).
    ///
    /// # Panics
    /// When the token cannot be made.
    #[must_use]
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self.kubectl(&["create", "token", name, "-n", namespace, "--duration=1h"]).ok("create token");
        let ca = self.dir.join("pki/ca.crt");
        let path = self.dir.join(format!("e2e-{namespace}-{name}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             users:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u, namespace: {namespace}}}\n\
             current-context: c\n",
            self.server,
            ca.display(),
            token.trim()
        );
        std::fs::write(&path, text).expect("writing the kubeconfig");
        path
    }

    /// Creates a namespace with a unique name starting with `prefix`; it is deleted (with
    /// everything in it, Flux objects included) when the returned guard drops, so that a
    /// test's objects never keep reconciling in the shared cluster after it ends.
    ///
    /// # Panics
    /// When kubectl fails.
    #[must_use]
    pub fn namespace(&self, prefix: &str) -> TestNamespace {
        let name = format!("{prefix}-{:06x}", rand::random::<u32>() & 0xff_ffff);
        let _ = self.kubectl(&["create", "namespace", &name]).ok("create namespace");
        TestNamespace { name, kubeconfig: self.kubeconfig.clone() }
    }
}

/// A test's namespace, deleted when dropped (see [`Cluster::namespace`]).
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// The namespace's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl std::ops::Deref for TestNamespace {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl AsRef<str> for TestNamespace {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl AsRef<Path> for TestNamespace {
    fn as_ref(&self) -> &Path {
        Path::new(&self.name)
    }
}

impl AsRef<std::ffi::OsStr> for TestNamespace {
    fn as_ref(&self) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(&self.name)
    }
}

impl std::fmt::Display for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl serde::Serialize for TestNamespace {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl PartialEq<str> for TestNamespace {
    fn eq(&self, other: &str) -> bool {
        self.name == other
    }
}

impl PartialEq<&str> for TestNamespace {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Not waited for: the namespace controller finishes it (Kustomizations run their
        // finalizers first) while the next test runs.
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["delete", "namespace", &self.name, "--wait=false", "--ignore-not-found"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls `f` every 250 ms until it returns `Some` or `limit` passes.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Parses JSON output.
///
/// # Panics
/// When `text` is not JSON.
#[must_use]
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// An `eddy serve` of a test's own: standalone, with its own store in `dir/data`, its
/// controllers working on the cluster of `cluster_kubeconfig`, every listener on a free
/// 127.0.0.1 port (the notification event endpoint off). Killed when dropped.
#[derive(Debug)]
pub struct StandaloneEddy {
    /// The process.
    pub child: std::process::Child,
    /// The kubeconfig Eddy wrote for its own API.
    pub kubeconfig: PathBuf,
    /// Its log (stdout and stderr).
    pub log: PathBuf,
}

impl StandaloneEddy {
    /// Starts it with extra `eddy serve` flags and waits until it wrote its kubeconfig.
    ///
    /// # Panics
    /// When it cannot start or writes no kubeconfig within 60 s.
    #[must_use]
    pub fn start(dir: &Path, cluster_kubeconfig: &Path, flags: &[&str]) -> Self {
        std::fs::create_dir_all(dir).expect("data dir");
        let log = dir.join("eddy.log");
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(eddy_binary())
            .args(["serve", "--bind-address", "127.0.0.1", "--secure-port"])
            .arg(free_port().to_string())
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--kubeconfig")
            .arg(cluster_kubeconfig)
            .args(["--storage-addr", "127.0.0.1:0", "--events-listen-addr", ""])
            .arg("--receiver-addr")
            .arg(format!("127.0.0.1:{}", free_port()))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("starting eddy");
        let kubeconfig = dir.join("data/kubeconfig");
        let ready = eventually(Duration::from_secs(60), || kubeconfig.exists().then_some(()));
        assert!(
            ready.is_some(),
            "eddy did not write its kubeconfig: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self { child, kubeconfig, log }
    }

    /// The log so far.
    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for StandaloneEddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; another process may take it after).
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}
