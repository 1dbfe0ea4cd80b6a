//! Replays every scenario of `apiserver/ssa/tests/scenarios` against Eddy's own HTTP server: a
//! standalone `eddy serve` (the binary `cargo test --workspace --all-targets` builds next to the
//! test executable, or `$EDDY_BIN`) with a fresh data directory, serving the Flux groups
//! natively (no renaming: `source.toolkit.fluxcd.io` and the others, with v1beta2 where the
//! legacy scenarios use it). Answers are normalised and compared exactly as in the
//! kube-apiserver test (tests/kube_apiserver.rs), which holds kube-apiserver to the same
//! expectations: both passing means Eddy answers as kube-apiserver does, step by step.
//!
//! Standalone Eddy has no namespaces of its own (any namespace is accepted; each scenario still
//! runs in a namespace of its own) and no garbage collector, so the owners that scenario 034's
//! owner references name are not created (Eddy does not serve ConfigMaps) and the scenario's
//! uids are sent as written.
//!
//! Differences are listed in [`KNOWN_DIFFERENCES`]; the test fails on any other difference and
//! also when a listed one disappears.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eddy_ssa_differential::cluster;
use eddy_ssa_differential::crds;
use eddy_ssa_differential::rename::Translation;
use eddy_ssa_differential::replay::{self, StepResult};
use eddy_ssa_differential::scenario::{CrdSet, Scenario};
use http::Method;

/// A known difference between Eddy and the scenario: scenario id, 1-based step, and why.
struct Known {
    scenario: &'static str,
    step: usize,
    why: &'static str,
}

const KNOWN_DIFFERENCES: &[Known] = &[];

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apiserver/ssa/tests/scenarios")
}

/// `$EDDY_BIN`, or `eddy` in the target directory of the test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/eddy`).
fn eddy_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("EDDY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("test executable path: {e}"));
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("eddy"))
        .unwrap_or_else(|| panic!("no target directory above {}", exe.display()));
    assert!(
        bin.exists(),
        "{} does not exist: build it with `cargo test --workspace --all-targets` (or set EDDY_BIN)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
}

/// A running `eddy serve`; killed (and reaped) on drop, also when the test panics.
struct Eddy {
    child: Child,
    kubeconfig: PathBuf,
    _data: tempfile::TempDir,
}

impl Eddy {
    fn start() -> Eddy {
        let data = tempfile::tempdir().unwrap_or_else(|e| panic!("a data directory: {e}"));
        let port = free_port();
        let child = Command::new(eddy_binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(data.path())
            .args(["--secure-port", &port.to_string(), "--bind-address", "127.0.0.1"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting eddy serve: {e}"));
        let kubeconfig = data.path().join("kubeconfig");
        Eddy { child, kubeconfig, _data: data }
    }

    /// Waits for the kubeconfig and a 200 from `/readyz`, then returns a client. The deadline
    /// is a liveness guard, not a measurement.
    async fn client(&mut self) -> kube::Client {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = String::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("eddy serve exited with {status} before it was ready");
            }
            assert!(Instant::now() < deadline, "eddy serve was not ready within 120 s (last: {last})");
            if self.kubeconfig.exists() {
                match cluster::client(&self.kubeconfig).await {
                    Ok(client) => match replay::send(&client, Method::GET, "/readyz", None, None).await {
                        Ok(a) if a.status == 200 => return client,
                        Ok(a) => last = format!("/readyz answered {} {}", a.status, a.body),
                        Err(e) => last = e.to_string(),
                    },
                    // The file may be read while it is being written.
                    Err(e) => last = e.to_string(),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn scenarios_agree_with_eddy() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let mut eddy = Eddy::start();
    rt.block_on(differential(&mut eddy));
    drop(eddy);
}

async fn differential(eddy: &mut Eddy) {
    let client = eddy.client().await;
    let scenarios = Scenario::load_dir(&scenario_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(scenarios.len() >= 60, "expected at least 60 scenarios, found {}", scenarios.len());

    // Kind, plural and storage version of each scenario's kind, as the reference CRDs state them
    // (Eddy serves the same names; nothing is installed).
    let reference = crds::reference_dir();
    let mut resources = BTreeMap::new();
    for set in [CrdSet::Current, CrdSet::Legacy] {
        for crd in crds::load(&reference, set).unwrap_or_else(|e| panic!("reference CRDs: {e}")) {
            resources.insert((set, crd.kind.clone()), crd.resource());
        }
    }

    let mut results: Vec<(usize, Vec<StepResult>)> = Vec::new();
    let mut steps = 0;
    for (i, sc) in scenarios.iter().enumerate() {
        let number = sc.id.split('-').next().unwrap_or("x");
        let ns = format!("ssa-{number}");
        let res = resources
            .get(&(sc.crds, sc.kind.clone()))
            .unwrap_or_else(|| panic!("{}: no {} CRD for kind {}", sc.id, sc.crds.dir_name(), sc.kind));
        let tr = Translation::new(&[], None, &ns);
        let r = replay::run(&client, sc, res, &tr).await.unwrap_or_else(|e| panic!("{}: {e}", sc.id));
        steps += r.len();
        results.push((i, r));
    }

    let mut unexpected = Vec::new();
    let mut differing = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut matched_scenarios = 0;
    let mut matched_steps = 0;
    for (i, r) in &results {
        let sc = &scenarios[*i];
        let mut all = true;
        for (n, step) in r.iter().enumerate() {
            let Some(why) = &step.mismatch else {
                matched_steps += 1;
                continue;
            };
            all = false;
            match KNOWN_DIFFERENCES.iter().position(|k| k.scenario == sc.id && k.step == n + 1) {
                Some(k) => {
                    seen_known.insert(k);
                }
                None => unexpected.push(format!("{}: {}: {why}", sc.id, step.label)),
            }
        }
        if all {
            matched_scenarios += 1;
        } else {
            differing.push(sc.id.as_str());
        }
    }
    eprintln!(
        "ssa differential against eddy serve: {matched_scenarios}/{} scenarios and {matched_steps}/{steps} steps \
         agree; differing scenarios: {differing:?}",
        scenarios.len()
    );
    let vanished: Vec<String> = KNOWN_DIFFERENCES
        .iter()
        .enumerate()
        .filter(|(k, _)| !seen_known.contains(k))
        .map(|(_, k)| format!("{} step {} ({})", k.scenario, k.step, k.why))
        .collect();
    assert!(
        unexpected.is_empty() && vanished.is_empty(),
        "eddy differs from the scenarios in {} step(s):\n\n{}\n\nknown differences that no longer occur \
         (remove them from KNOWN_DIFFERENCES): {vanished:?}",
        unexpected.len(),
        unexpected.join("\n\n"),
    );
}
