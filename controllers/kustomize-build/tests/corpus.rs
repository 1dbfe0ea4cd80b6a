//! Conformance corpus: every tree under `test/kustomize/` is built with this
//! crate and with each reference kustomize, and the outputs must be
//! byte-identical. Trees whose directory name starts with `err-` must fail on
//! both sides; all others must succeed on both sides.
//!
//! The references are the machine's `kubectl kustomize` and the standalone
//! kustomize that Flux's kustomize-controller v1.10.1 embeds (v5.8.1, built by
//! `hack/build-kustomize`, which this test runs when the binary is missing;
//! `EDDY_KUSTOMIZE` names another binary instead). Where the two references
//! disagree with each other, `KNOWN_DIFFERENCES` lists the tree and the
//! reference Eddy differs from; an entry that stops differing fails the test.
//!
//! A tree may hold a `.corpus` file of `key: value` lines telling how the CLI
//! or the controller calls the engine:
//! - `path: overlay`: build that subdirectory (bases outside it, as in the
//!   base/overlay layout) instead of the tree itself;
//! - `mode: flux`: as kustomize-controller does — the tree is copied, Flux's
//!   generator runs on the build directory, and the build may read files
//!   anywhere inside the tree (`--load-restrictor LoadRestrictionsNone` for
//!   the references, `BoundaryOnly` with the tree as boundary for Eddy);
//! - with `mode: flux`, `target-namespace`, `name-prefix`, `name-suffix` and
//!   `component` (repeatable) set those fields of the Kustomization, which the
//!   generator merges into the kustomization file.

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_kustomize::{BuildOptions, LoadRestrictions, build, flux};

/// The minimum number of trees the corpus must hold.
const MIN_TREES: usize = 150;

/// Trees whose output differs from one reference on purpose: (tree, reference
/// label, why). Eddy follows the other reference there.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[(
    "replacements-typing-t131",
    "kubectl",
    "kustomize v5.6 and later (v5.8 in Flux) read replacement target names as regular expressions, so \
     `app|svc` selects both objects; kubectl's v5.5 matches the name literally and selects none",
)];

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

/// The standalone kustomize: `EDDY_KUSTOMIZE`, or the one `hack/build-kustomize` builds.
fn standalone_kustomize() -> String {
    if let Some(bin) = std::env::var_os("EDDY_KUSTOMIZE") {
        return bin.to_string_lossy().to_string();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-kustomize");
    let out = Command::new(&script).output().expect("running hack/build-kustomize");
    assert!(
        out.status.success(),
        "hack/build-kustomize failed; the corpus test needs the kustomize Flux embeds:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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

/// A reference implementation: a binary and the arguments that build.
#[derive(Clone)]
struct Reference {
    /// A short name for messages and `KNOWN_DIFFERENCES`.
    label: String,
    bin: String,
    subcommand: &'static str,
    /// The `app.kubernetes.io/managed-by` value this binary writes.
    managed_by: Option<String>,
}

/// How a tree is built (its `.corpus` file).
#[derive(Default)]
struct Case {
    path: Option<String>,
    flux: bool,
    overlay: flux::Overlay,
}

fn case(tree: &Path) -> Case {
    let mut c = Case::default();
    let Ok(text) = std::fs::read_to_string(tree.join(".corpus")) else { return c };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("path", v)) => c.path = Some(v.to_string()),
            Some(("mode", "flux")) => c.flux = true,
            Some(("target-namespace", v)) => c.overlay.target_namespace = Some(v.to_string()),
            Some(("name-prefix", v)) => c.overlay.name_prefix = Some(v.to_string()),
            Some(("name-suffix", v)) => c.overlay.name_suffix = Some(v.to_string()),
            Some(("component", v)) => c.overlay.components.push(v.to_string()),
            _ => panic!("{}: unknown .corpus line {line:?}", tree.display()),
        }
    }
    c
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readable tree") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        let kind = e.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&e.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).expect("link"), &target).expect("symlink");
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Builds one tree both ways; returns a description of any mismatch.
fn check(reference: &Reference, tree: &Path) -> Option<String> {
    let name = tree.file_name().unwrap_or_default().to_string_lossy().to_string();
    let expect_error = name.starts_with("err-");
    let name = format!("{name} [{}]", reference.label);
    let case = case(tree);
    let scratch = tempfile::tempdir().expect("tempdir");
    let root = if case.flux {
        let copy = scratch.path().join("tree");
        copy_tree(tree, &copy);
        copy
    } else {
        tree.to_path_buf()
    };
    let dir = match &case.path {
        Some(p) => root.join(p),
        None => root.clone(),
    };
    let mut opts = BuildOptions { managed_by: reference.managed_by.clone(), ..BuildOptions::default() };
    let mut cmd = Command::new(&reference.bin);
    cmd.arg(reference.subcommand);
    if case.flux {
        if let Err(e) = flux::generate_within(&root, &dir, &case.overlay) {
            return Some(format!("{name}: Flux's generator failed: {e}"));
        }
        opts.boundary = Some(root.clone());
        opts.load_restrictions = LoadRestrictions::BoundaryOnly;
        cmd.args(["--load-restrictor", "LoadRestrictionsNone"]);
    }
    let reference = cmd.arg(&dir).output().expect("running the reference kustomize");
    let ours = build(&dir, &opts);
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
            "{name}: both sides failed but the tree is not an err- tree\n  reference: {}\n  eddy: {e}",
            String::from_utf8_lossy(&reference.stderr).trim()
        )),
        (true, Err(e)) => Some(format!("{name}: the reference succeeded but eddy failed: {e}")),
        (false, Ok(_)) => Some(format!(
            "{name}: the reference failed but eddy succeeded\n  reference: {}",
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
    format!("  at line {}:\n  reference:\n{}\n  eddy:\n{}", n + 1, show(&e), show(&a))
}

#[test]
fn corpus_is_byte_identical_to_the_reference_kustomizes() {
    let standalone = standalone_kustomize();
    let version = Command::new(&standalone).arg("version").output().expect("running the standalone kustomize");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let references = [
        Reference { label: "kubectl".into(), bin: kubectl(), subcommand: "kustomize", managed_by: None },
        Reference {
            label: format!("kustomize-{version}"),
            bin: standalone,
            subcommand: "build",
            managed_by: Some(format!("kustomize-{version}")),
        },
    ];
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
    let outcomes: Vec<(String, String, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(r, t)| {
                            let tree = t.file_name().unwrap_or_default().to_string_lossy().to_string();
                            (tree, r.label.clone(), check(r, t))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker panicked")).collect()
    });
    let mut failures = Vec::new();
    for (tree, label, outcome) in &outcomes {
        let known = KNOWN_DIFFERENCES.iter().find(|(t, l, _)| t == tree && l == label);
        match (outcome, known) {
            (Some(problem), None) => failures.push(problem.clone()),
            (None, Some((_, _, why))) => failures.push(format!(
                "{tree} [{label}]: listed in KNOWN_DIFFERENCES ({why}) but no longer differs; remove the entry"
            )),
            _ => {}
        }
    }
    for (tree, label, _) in KNOWN_DIFFERENCES.iter().filter(|(_, l, _)| references.iter().any(|r| r.label == *l)) {
        assert!(
            outcomes.iter().any(|(t, l, _)| t == tree && l == label),
            "KNOWN_DIFFERENCES names {tree} [{label}], which the corpus does not hold"
        );
    }
    assert!(failures.is_empty(), "{} of {} checks fail:\n{}", failures.len(), outcomes.len(), failures.join("\n"));
    assert!(trees.len() >= MIN_TREES, "the corpus holds {} trees; at least {MIN_TREES} are required", trees.len());
}
