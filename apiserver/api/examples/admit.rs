//! Runs every YAML file of a directory through Eddy's admission pipeline (prune → default →
//! validate) and prints what happens to each: a quick way to check a corpus of manifests.
//!
//! `cargo run -p eddy-api --example admit -- <dir>`

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: admit <directory of YAML manifests>");
        return ExitCode::from(2);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let (mut ok, mut rejected, mut unserved) = (0, 0, 0);
    for path in paths {
        let name = path.display();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                println!("ERROR {name}: {e}");
                continue;
            }
        };
        let mut obj: Value = match serde_norway::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                println!("ERROR {name}: {e}");
                continue;
            }
        };
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let (group, version) = eddy_api::split_api_version(&api_version);
        let Some(schema) = eddy_api::schema(group, version, &kind) else {
            unserved += 1;
            println!("UNSERVED {name}: {api_version} {kind}");
            continue;
        };
        let pruned = eddy_api::pruning::prune(schema, &mut obj);
        eddy_api::defaulting::default(schema, &mut obj);
        let errors = eddy_api::validation::validate_create(&obj);
        for p in &pruned {
            println!("PRUNED {name}: {p}");
        }
        if errors.is_empty() {
            ok += 1;
        } else {
            rejected += 1;
            for e in errors {
                println!("REJECTED {name}: {e}");
            }
        }
    }
    println!("admitted {ok}, rejected {rejected}, not served {unserved}");
    if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
