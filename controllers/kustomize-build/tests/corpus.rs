//! Conformance corpus: every tree under `test/kustomize/` is built with this
//! crate and with the reference `kubectl kustomize`, and the outputs must be
//! byte-identical. Trees whose directory name starts with `err-` must fail on
//! both sides; all others must succeed on both sides.
//!
//! When `EDDY_KUSTOMIZE` names a standalone kustomize binary (for example the
//! newest release built from the Go module proxy), every tree is also checked
//! against `$EDDY_KUSTOMIZE build`.

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_kustomize::{BuildOptions, build};

/// The minimum number of trees the corpus must hold.
const MIN_TREES: usize = 150;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/kustomize")
}

fn kubectl() -> String {
    let bin = std::env::var("EDDY_KUBECTL").unwrap_or_else(|_| "kubectl".to_string());
    let out = Command::new(&bin).args(["version", "--client"]).output();
    match out {
        Ok(o) if o.status.success() => bin,
        Ok(o) => panic!(
            "the reference `{bin} version --client` failed ({}); kubectl with kustomize v5 is required for the corpus test",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("the reference kubectl ({bin}) is required for the corpus test but cannot be run: {e}"),
    }
}

fn trees() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_root())
        .expect("test/kustomize must exist")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// A reference implementation: a binary and the subcommand that builds.
#[derive(Clone)]
struct Reference {
    bin: String,
    subcommand: &'static str,
    /// The `app.kubernetes.io/managed-by` value this binary writes.
    managed_by: Option<String>,
}

/// Builds one tree both ways; returns a description of any mismatch.
fn check(reference: &Reference, tree: &Path) -> Option<String> {
    let name = tree.file_name().unwrap_or_default().to_string_lossy().to_string();
    let expect_error = name.starts_with("err-");
    let name = format!("{name} [{} {}]", reference.bin, reference.subcommand);
    let opts = BuildOptions { managed_by: reference.managed_by.clone(), ..BuildOptions::default() };
    let reference = Command::new(&reference.bin)
        .arg(reference.subcommand)
        .arg(tree)
        .output()
        .expect("running the reference kustomize");
    let ours = build(tree, &opts);
    let ref_ok = reference.status.success();
    match (ref_ok, ours) {
        (true, Ok(out)) => {
            let expected = String::from_utf8_lossy(&reference.stdout);
            if expect_error {
                return Some(format!("{name}: expected an error but both sides succeeded"));
            }
            if out == expected {
                None
            } else {
                Some(format!("{name}: output differs\n{}", first_diff(&expected, &out)))
            }
        }
        (false, Err(_)) if expect_error => None,
        (false, Err(e)) => Some(format!(
            "{name}: both sides failed but the tree is not an err- tree\n  kubectl: {}\n  eddy: {e}",
            String::from_utf8_lossy(&reference.stderr).trim()
        )),
        (true, Err(e)) => Some(format!("{name}: kubectl succeeded but eddy failed: {e}")),
        (false, Ok(_)) => Some(format!(
            "{name}: kubectl failed but eddy succeeded\n  kubectl: {}",
            String::from_utf8_lossy(&reference.stderr).trim()
        )),
    }
}

fn first_diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let n = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let from = n.saturating_sub(3);
    let show = |l: &[&str]| l.iter().skip(from).take(8).map(|s| format!("    {s}")).collect::<Vec<_>>().join("\n");
    format!("  at line {}:\n  kubectl:\n{}\n  eddy:\n{}", n + 1, show(&e), show(&a))
}

#[test]
fn corpus_is_byte_identical_to_kubectl_kustomize() {
    let mut references = vec![Reference { bin: kubectl(), subcommand: "kustomize", managed_by: None }];
    if let Some(bin) = std::env::var_os("EDDY_KUSTOMIZE") {
        let bin = bin.to_string_lossy().to_string();
        let version = Command::new(&bin).arg("version").output().expect("running the standalone kustomize");
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        references.push(Reference { bin, subcommand: "build", managed_by: Some(format!("kustomize-{version}")) });
    }
    let trees = trees();
    let jobs: Vec<(Reference, PathBuf)> =
        references.iter().flat_map(|r| trees.iter().map(move |t| (r.clone(), t.clone()))).collect();
    let chunks: Vec<Vec<(Reference, PathBuf)>> = {
        let n = 4;
        let mut c = vec![Vec::new(); n];
        for (i, j) in jobs.into_iter().enumerate() {
            c[i % n].push(j);
        }
        c
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| s.spawn(move || chunk.iter().filter_map(|(r, t)| check(r, t)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker panicked")).collect()
    });
    assert!(failures.is_empty(), "{} of {} trees differ:\n{}", failures.len(), trees.len(), failures.join("\n"));
    assert!(trees.len() >= MIN_TREES, "the corpus holds {} trees; at least {MIN_TREES} are required", trees.len());
}
