//! The architecture's boundaries, checked on `cargo metadata` (dev-dependencies are not
//! counted: tests may start an API server):
//!
//! - every crate under `controllers/` reaches Flux objects through the API (a `kube::Client`),
//!   so none may depend — directly or through another crate — on the store, the API server or
//!   RocksDB;
//! - the arrows between folders run one way: `storage/` depends on no other Eddy folder, the
//!   API server's crates (`apiserver/api`, `ssa`, `server`) never on `controllers/`, and the
//!   types crate (`eddy-api`) on no other Eddy crate. Only the `eddy` binary composes the API
//!   server and the controllers, and nothing depends on it (the design card keeps it under
//!   `apiserver/`; at the crate level there is no cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What a controller crate may not reach.
const STORE_AND_SERVER: &[&str] =
    &["eddy-storage", "eddy-storage-rocksdb", "eddy-apiserver", "eddy-ssa", "rocksdb", "librocksdb-sys"];

/// The host's target triple (`host:` in `cargo -vV`).
fn host() -> String {
    let out = Command::new(env!("CARGO")).arg("-vV").output().expect("running cargo -vV");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("cargo -vV names the host").to_owned()
}

/// The workspace's metadata for the host platform: offline, so only for the packages this
/// platform builds — those of other platforms (`android_system_properties`, …) are never
/// downloaded on a machine that only ever built for its own.
fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", &host()])
        .current_dir(&root)
        .output()
        .expect("running cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// Paths from the packages `select` picks to a crate `forbidden` names, through normal and
/// build dependencies.
fn violations(meta: &Value, select: impl Fn(&Value) -> bool, forbidden: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or_default(), p))
        .collect();
    let name = |id: &str| packages.get(id).and_then(|p| p["name"].as_str()).unwrap_or_default().to_owned();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().unwrap_or_default();
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].as_str() != Some("dev")))
            .filter_map(|d| d["pkg"].as_str())
            .collect();
        edges.insert(id, deps);
    }
    let starts: Vec<&str> = packages.iter().filter(|(_, p)| select(p)).map(|(id, _)| *id).collect();
    let mut problems = Vec::new();
    for start in &starts {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(*start, vec![name(start)])];
        while let Some((id, path)) = stack.pop() {
            for dep in edges.get(id).into_iter().flatten() {
                if !seen.insert(*dep) {
                    continue;
                }
                let mut p = path.clone();
                p.push(name(dep));
                if forbidden(&name(dep)) {
                    problems.push(p.join(" -> "));
                } else {
                    stack.push((dep, p));
                }
            }
        }
    }
    (starts.len(), problems)
}

#[test]
fn controller_crates_depend_on_neither_the_store_nor_the_api_server() {
    let meta = metadata();
    let (checked, problems) = violations(&meta, |p| in_folder(p, "/controllers/"), |n| STORE_AND_SERVER.contains(&n));
    assert!(checked >= 5, "expected the controller crates, found {checked}");
    assert!(problems.is_empty(), "controller crates reach the store or the API server:\n{}", problems.join("\n"));
}

#[test]
fn the_walk_finds_a_forbidden_edge_where_there_is_one() {
    // The binary composes the API server and the controllers: the same walk must flag it, or
    // the check above proves nothing.
    let (checked, problems) = violations(&metadata(), |p| p["name"] == "eddy", |n| STORE_AND_SERVER.contains(&n));
    assert_eq!(checked, 1);
    assert!(problems.iter().any(|p| p.starts_with("eddy -> eddy-apiserver")), "{problems:?}");
}

/// Whether a workspace package's manifest lies under `folder` (e.g. `"/controllers/"`).
fn in_folder(p: &Value, folder: &str) -> bool {
    p["manifest_path"].as_str().is_some_and(|m| m.contains(folder)) && p["source"].is_null()
}

/// The names of the workspace's packages under `folder`.
fn names_in(meta: &Value, folder: &str) -> Vec<String> {
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| in_folder(p, folder))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn arrows_between_folders_run_one_way() {
    let meta = metadata();
    let controllers = names_in(&meta, "/controllers/");
    let apiserver = names_in(&meta, "/apiserver/");
    assert!(controllers.len() >= 5 && apiserver.len() >= 4, "{controllers:?} {apiserver:?}");
    let eddy_crate = |n: &str| n.starts_with("eddy");
    let mut problems = Vec::new();
    // storage/ → nothing of apiserver/ or controllers/.
    let (n, p) =
        violations(&meta, |p| in_folder(p, "/storage/"), |n| controllers.iter().chain(&apiserver).any(|c| c == n));
    assert!(n >= 3, "storage crates: {n}");
    problems.extend(p);
    // apiserver/ (but the composing binary) → nothing of controllers/.
    let (_, p) = violations(
        &meta,
        |p| in_folder(p, "/apiserver/") && p["name"] != "eddy",
        |n| controllers.iter().any(|c| c == n),
    );
    problems.extend(p);
    // The types crate → no other Eddy crate.
    let (n, p) = violations(&meta, |p| p["name"] == "eddy-api", eddy_crate);
    assert_eq!(n, 1);
    problems.extend(p);
    // Nothing depends on the binary.
    let (_, p) = violations(&meta, |p| p["source"].is_null() && p["name"] != "eddy", |n| n == "eddy");
    problems.extend(p);
    assert!(problems.is_empty(), "arrows against the architecture:\n{}", problems.join("\n"));
}
