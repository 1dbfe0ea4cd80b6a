//! `eddy kustomize build` prints what the library builds, and fails clearly on bad input.

use std::path::PathBuf;
use std::process::Command;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/kustomize")
}

#[test]
fn build_prints_the_library_output() {
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("err-") || !dir.join("kustomization.yaml").exists() || checked >= 10 {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_eddy")).args(["kustomize", "build"]).arg(&dir).output().unwrap();
        let expected = eddy_kustomize::build(&dir, &eddy_kustomize::BuildOptions::default());
        match expected {
            Ok(yaml) => {
                assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
                assert_eq!(String::from_utf8(out.stdout).unwrap(), yaml, "{name}");
                checked += 1;
            }
            Err(_) => assert!(!out.status.success(), "{name} should fail"),
        }
    }
    assert!(checked >= 10, "only {checked} corpus trees found");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["kustomize", "build", "/nonexistent/eddy-test-dir"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/eddy-test-dir"), "{err}");
}
