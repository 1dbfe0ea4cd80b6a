//! The architecture's boundary for controllers: every crate under `controllers/` reaches Flux
//! objects through the API (a `kube::Client`), so none may depend — directly or through
//! another crate — on the store, the API server or RocksDB. Dev-dependencies are not counted
//! (tests may start an API server).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const FORBIDDEN: &[&str] =
    &["eddy-storage", "eddy-storage-rocksdb", "eddy-apiserver", "eddy-ssa", "rocksdb", "librocksdb-sys"];

fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(&root)
        .output()
        .expect("running cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// Paths from the packages `select` picks to a forbidden crate, through normal and build
/// dependencies.
fn violations(meta: &Value, select: impl Fn(&Value) -> bool) -> (usize, Vec<String>) {
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
                if FORBIDDEN.contains(&name(dep).as_str()) {
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
    let (checked, problems) =
        violations(&meta, |p| p["manifest_path"].as_str().is_some_and(|m| m.contains("/controllers/")));
    assert!(checked >= 5, "expected the controller crates, found {checked}");
    assert!(problems.is_empty(), "controller crates reach the store or the API server:\n{}", problems.join("\n"));
}

#[test]
fn the_walk_finds_a_forbidden_edge_where_there_is_one() {
    // The binary composes the API server and the controllers: the same walk must flag it, or
    // the check above proves nothing.
    let (checked, problems) = violations(&metadata(), |p| p["name"] == "eddy");
    assert_eq!(checked, 1);
    assert!(problems.iter().any(|p| p.starts_with("eddy -> eddy-apiserver")), "{problems:?}");
}
