//! Every Flux object of the seed guide goes through the server's admission pipeline
//! (prune → default → validate) and decodes into the typed structs; the five fragments of the
//! guide are rejected with errors naming what is missing.

use std::path::{Path, PathBuf};

use eddy_api::typed::FluxObject;
use serde_json::Value;

/// What kube-apiserver adds when missing fields keep it from evaluating CEL rules.
const NOT_CHECKED: &str = r#"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#;

/// The fragments and the exact errors expected for them.
const FRAGMENTS: &[(&str, &[&str])] = &[
    ("line0343", &["spec.include[0].repository: Required value", NOT_CHECKED]),
    ("line1826", &["spec.prune: Required value", "spec.sourceRef: Required value", NOT_CHECKED]),
    ("line1855", &["spec.interval: Required value", NOT_CHECKED]),
    ("line1869", &["spec.interval: Required value", "spec.sourceRef: Required value", NOT_CHECKED]),
    ("line2420", &["spec.prune: Required value", NOT_CHECKED]),
];

/// Fields of the guide's examples that Flux's schemas do not have. kube-apiserver drops them
/// (with a warning, or rejects them under `fieldValidation=Strict`); so do we.
const EXPECTED_PRUNED: &[(&str, &[&str])] = &[
    // GitRepository verification has no provider (only OCI sources have one).
    ("line2228", &["spec.verify.provider"]),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/examples")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read example");
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the admission pipeline; returns pruned paths and error messages.
fn admit(obj: &mut Value) -> (Vec<String>, Vec<String>) {
    let api_version = obj["apiVersion"].as_str().expect("apiVersion").to_owned();
    let kind = obj["kind"].as_str().expect("kind").to_owned();
    let (group, version) = eddy_api::split_api_version(&api_version);
    let schema =
        eddy_api::schema(group, version, &kind).unwrap_or_else(|| panic!("{api_version} {kind} is not served"));
    let pruned = eddy_api::pruning::prune(schema, obj);
    eddy_api::defaulting::default(schema, obj);
    let errors = eddy_api::validation::validate_create(obj).iter().map(ToString::to_string).collect();
    (pruned, errors)
}

#[test]
fn seed_examples_are_admitted_and_fragments_rejected() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 50, "only {} examples found", paths.len());
    let mut failures = Vec::new();
    let mut fragments_seen = 0;
    for path in &paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let mut obj = load(path);
        let (pruned, errors) = admit(&mut obj);
        let expected_pruned =
            EXPECTED_PRUNED.iter().find(|(prefix, _)| name.starts_with(prefix)).map_or(&[][..], |(_, p)| *p);
        if pruned != expected_pruned {
            failures.push(format!("{name}: pruned {pruned:?}"));
        }
        match FRAGMENTS.iter().find(|(prefix, _)| name.starts_with(prefix)) {
            Some((_, expected)) => {
                fragments_seen += 1;
                if errors != *expected {
                    failures.push(format!("{name}: errors {errors:?}, expected {expected:?}"));
                }
            }
            None => {
                if !errors.is_empty() {
                    failures.push(format!("{name}: {errors:?}"));
                }
                // The typed structs must hold the whole (defaulted, storage-version) object.
                let storage = eddy_api::conversion::convert_to_storage(obj.clone()).expect("convert to storage");
                match FluxObject::from_value(obj.clone()).map(|t| t.to_value()) {
                    Ok(Ok(back)) if back == storage => {}
                    Ok(Ok(back)) => failures.push(format!("{name}: typed round trip differs:\n{back}\nvs\n{storage}")),
                    Ok(Err(e)) => failures.push(format!("{name}: {e}")),
                    Err(e) => failures.push(format!("{name}: {e}")),
                }
            }
        }
    }
    assert_eq!(fragments_seen, FRAGMENTS.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn defaults_from_the_schema_are_applied() {
    let mut git = load(&examples_dir().join("line0304-gitrepository-webapp.yaml"));
    admit(&mut git);
    assert_eq!(git["spec"]["timeout"], "60s");
    assert_eq!(git["status"]["observedGeneration"], -1);

    let mut ks = load(&examples_dir().join("line0521-kustomization-webapp.yaml"));
    admit(&mut ks);
    assert_eq!(ks["spec"]["force"], false);

    let mut helm_repo = load(&examples_dir().join("line0409-helmrepository-bitnami.yaml"));
    admit(&mut helm_repo);
    assert_eq!(helm_repo["spec"]["provider"], "generic");
}
