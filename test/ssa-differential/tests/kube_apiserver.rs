//! Replays every scenario of `apiserver/ssa/tests/scenarios` against a real kube-apiserver
//! (v1.36.3 from `hack/cluster`, or the cluster of `EDDY_SSA_KUBECONFIG`) serving the upstream
//! Flux CRDs under renamed groups, and holds its answers to the scenarios' expectations. The
//! engine's own replay test (`eddy-ssa`, tests/scenarios.rs) holds the engine to the same
//! expectations, so both passing means they agree after every step.
//!
//! Differences that cannot be matched are listed in [`KNOWN_DIFFERENCES`] (and in
//! apiserver/ssa/README.md); the test fails on any other difference and also when a listed one
//! disappears.
//!
//! `EDDY_SSA_DIFF_BLESS=1` rewrites the `expect` of every differing step to kube-apiserver's
//! answer (then the engine must be made to agree, and the change reviewed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use eddy_ssa_differential::cluster::Cluster;
use eddy_ssa_differential::crds::{self, Crd};
use eddy_ssa_differential::rename::{FLUX_SUFFIX, Translation};
use eddy_ssa_differential::replay::{self, StepResult};
use eddy_ssa_differential::scenario::{CrdSet, Scenario};

/// A difference between kube-apiserver and the scenario that is known and documented
/// (apiserver/ssa/README.md, "Known differences"): scenario id and 1-based step.
struct Known {
    scenario: &'static str,
    step: usize,
    why: &'static str,
}

const KNOWN_DIFFERENCES: &[Known] = &[];

const FLUX_GROUPS: &[&str] = &["source", "kustomize", "helm", "notification", "image"];

fn scenario_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apiserver/ssa/tests/scenarios")
}

fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:06x}", (nanos as u64 ^ u64::from(std::process::id()).rotate_left(20)) & 0xff_ffff)
}

#[test]
fn scenarios_agree_with_kube_apiserver() {
    let cluster = Cluster::acquire().unwrap_or_else(|e| panic!("no cluster for the differential test: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    rt.block_on(differential(&cluster));
}

async fn differential(cluster: &Cluster) {
    let client = cluster.client().await.unwrap_or_else(|e| panic!("{e}"));
    let mut scenarios = Scenario::load_dir(&scenario_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(scenarios.len() >= 60, "expected at least 60 scenarios, found {}", scenarios.len());

    // The CRDs the scenarios need, by (set, kind).
    let reference = crds::reference_dir();
    let mut available: BTreeMap<(CrdSet, String), Crd> = BTreeMap::new();
    for set in [CrdSet::Current, CrdSet::Legacy] {
        for crd in crds::load(&reference, set).unwrap_or_else(|e| panic!("reference CRDs: {e}")) {
            available.insert((set, crd.kind.clone()), crd);
        }
    }
    let needed: BTreeSet<(CrdSet, String)> = scenarios.iter().map(|s| (s.crds, s.kind.clone())).collect();
    let mut to_install = Vec::new();
    for key in &needed {
        let crd = available
            .get(key)
            .unwrap_or_else(|| panic!("no {} CRD for kind {} in {}", key.0.dir_name(), key.1, reference.display()));
        to_install.push(crd);
    }
    crds::install(&client, &to_install, Duration::from_secs(120)).await.unwrap_or_else(|e| panic!("{e}"));

    let groups: Vec<String> = FLUX_GROUPS.iter().map(|g| format!("{g}{FLUX_SUFFIX}")).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let run = run_id();
    let mut results: Vec<(usize, Vec<StepResult>)> = Vec::new();
    let mut steps = 0;
    for (i, sc) in scenarios.iter().enumerate() {
        let number = sc.id.split('-').next().unwrap_or("x");
        let ns = format!("ssa-{number}-{run}");
        let res = available[&(sc.crds, sc.kind.clone())].resource();
        replay::create_namespace(&client, &ns).await.unwrap_or_else(|e| panic!("{e}"));
        let owners = replay::create_owners(&client, sc, &ns).await.unwrap_or_else(|e| panic!("{e}"));
        let tr = Translation::new(&groups, Some(sc.crds), &ns).with_uids(owners);
        let r = replay::run(&client, sc, &res, &tr).await.unwrap_or_else(|e| panic!("{}: {e}", sc.id));
        replay::delete_namespace(&client, &ns).await.unwrap_or_else(|e| panic!("{e}"));
        steps += r.len();
        results.push((i, r));
    }

    let mut unexpected = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut matched_scenarios = 0;
    let mut matched_steps = 0;
    let bless = std::env::var("EDDY_SSA_DIFF_BLESS").is_ok_and(|v| v == "1");
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
        }
    }
    eprintln!(
        "ssa differential against {}: {matched_scenarios}/{} scenarios and {matched_steps}/{steps} steps agree",
        cluster.description,
        scenarios.len()
    );
    if bless {
        for (i, r) in &results {
            let sc = &mut scenarios[*i];
            let mut changed = false;
            for (n, step) in r.iter().enumerate() {
                if step.mismatch.is_some() {
                    sc.set_expect(n, &step.outcome, &step.api_version);
                    changed = true;
                }
            }
            if changed {
                sc.save().unwrap_or_else(|e| panic!("{e}"));
                eprintln!("blessed {}", sc.path.display());
            }
        }
    }
    let vanished: Vec<String> = KNOWN_DIFFERENCES
        .iter()
        .enumerate()
        .filter(|(k, _)| !seen_known.contains(k))
        .map(|(_, k)| format!("{} step {} ({})", k.scenario, k.step, k.why))
        .collect();
    assert!(
        unexpected.is_empty() && vanished.is_empty(),
        "kube-apiserver differs from the scenarios in {} step(s):\n\n{}\n\nknown differences that no longer occur \
         (remove them from KNOWN_DIFFERENCES and the README): {vanished:?}",
        unexpected.len(),
        unexpected.join("\n\n"),
    );
}
