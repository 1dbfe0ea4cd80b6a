//! The cluster to test against: the kubeconfig in `EDDY_SSA_KUBECONFIG`, or a control plane of
//! its own started with `hack/cluster up` (state in `~/.cache/eddy/cluster-ssa`, ports 25xxx, so
//! it is independent of the shared cluster on the default ports; the first start builds the
//! binaries with `hack/build-controlplane`, which takes minutes once and is then cached).
//!
//! (`EDDY_KUBECONFIG` is not used: `hack/cluster env` sets it to Eddy's own ServiceAccount
//! kubeconfig, which may not install CRDs.)

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use kube::client::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{Error, Result};

/// A kubeconfig with cluster-admin rights to use instead of starting a cluster.
pub const KUBECONFIG_ENV: &str = "EDDY_SSA_KUBECONFIG";
/// `1`: leave a cluster this harness started running (the next run reuses it).
pub const KEEP_ENV: &str = "EDDY_SSA_KEEP_CLUSTER";

/// The ports of the harness's own cluster (`EDDY_CLUSTER_*_PORT` of `hack/cluster`).
pub const PORTS: &[(&str, u16)] = &[
    ("EDDY_CLUSTER_ETCD_PORT", 25379),
    ("EDDY_CLUSTER_ETCD_PEER_PORT", 25380),
    ("EDDY_CLUSTER_APISERVER_PORT", 25443),
    ("EDDY_CLUSTER_KCM_PORT", 25257),
    ("EDDY_CLUSTER_SCHEDULER_PORT", 25259),
    ("EDDY_CLUSTER_KWOK_PORT", 25247),
    ("EDDY_CLUSTER_EDDY_PORT", 25444),
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The state directory of the harness's own cluster.
pub fn state_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").ok_or_else(|| Error::Cluster("HOME is not set".into()))?;
    Ok(PathBuf::from(home).join(".cache/eddy/cluster-ssa"))
}

/// A cluster in use. Holds an exclusive lock on the harness's own cluster so concurrent runs
/// take turns; a cluster this harness started is stopped on drop (unless `EDDY_SSA_KEEP_CLUSTER=1`).
#[derive(Debug)]
pub struct Cluster {
    pub kubeconfig: PathBuf,
    /// What is under test, for reports (e.g. `kube-apiserver (hack/cluster, ~/.cache/eddy/cluster-ssa)`).
    pub description: String,
    started_in: Option<PathBuf>,
    _lock: Option<File>,
}

fn hack_cluster(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(repo_root().join("hack/cluster"));
    cmd.args(args).current_dir(repo_root()).env("EDDY_CLUSTER_DIR", dir).env_remove("EDDY_BIN");
    for (var, port) in PORTS {
        cmd.env(var, port.to_string());
    }
    cmd
}

impl Cluster {
    /// The cluster of `EDDY_SSA_KUBECONFIG`, or the harness's own one (started if it does not
    /// run). Fails if it cannot be started: a differential test without a cluster is not run.
    pub fn acquire() -> Result<Cluster> {
        if let Some(kc) = std::env::var_os(KUBECONFIG_ENV) {
            let kubeconfig = PathBuf::from(kc);
            return Ok(Cluster {
                description: format!("the cluster of {KUBECONFIG_ENV}={}", kubeconfig.display()),
                kubeconfig,
                started_in: None,
                _lock: None,
            });
        }
        let dir = state_dir()?;
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
        let lock_path = dir.join(".ssa-differential.lock");
        let lock =
            File::create(&lock_path).map_err(|source| Error::Io { path: lock_path.display().to_string(), source })?;
        lock.lock().map_err(|source| Error::Io { path: lock_path.display().to_string(), source })?;

        let running = hack_cluster(&dir, &["status"])
            .output()
            .map_err(|e| Error::Cluster(format!("running hack/cluster status: {e}")))?
            .status
            .success();
        let mut started_in = None;
        if !running {
            let out = hack_cluster(&dir, &["up"])
                .output()
                .map_err(|e| Error::Cluster(format!("running hack/cluster up: {e}")))?;
            if !out.status.success() {
                return Err(Error::Cluster(format!(
                    "hack/cluster up (EDDY_CLUSTER_DIR={}) failed with {}:\n{}{}",
                    dir.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            if std::env::var(KEEP_ENV).as_deref() != Ok("1") {
                started_in = Some(dir.clone());
            }
        }
        Ok(Cluster {
            kubeconfig: dir.join("admin.kubeconfig"),
            description: format!("kube-apiserver of hack/cluster (EDDY_CLUSTER_DIR={})", dir.display()),
            started_in,
            _lock: Some(lock),
        })
    }

    /// A client for the cluster.
    pub async fn client(&self) -> Result<Client> {
        client(&self.kubeconfig).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = self.started_in.take() {
            // Best effort: a cluster left running is reused (and stopped) by the next run.
            let _ = hack_cluster(&dir, &["down"]).output();
        }
    }
}

/// A client from a kubeconfig file (its current context).
pub async fn client(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::Cluster(format!("reading {}: {e}", kubeconfig.display())))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Cluster(format!("{}: {e}", kubeconfig.display())))?;
    Ok(Client::try_from(config)?)
}
