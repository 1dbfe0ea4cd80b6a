//! Differential corpus: every case under `tests/corpus/` is rendered by this crate and by the
//! reference Helm v4.3.2 (`hack/build-helm`; `EDDY_HELM` names another binary), once without
//! values and once per `*.values.yaml` file of the case. Outputs must be byte-identical, or both
//! sides must fail with the same message (Helm's `Error: ` line without its `--debug` hint).
//!
//! A case is a directory holding the chart in `chart/`, values files beside it, and an optional
//! `args` file with one `helm template` flag per line (`--set a=b`, `--set-string a=b`,
//! `--set-json a={"b":1}`, `--include-crds`, `--skip-tests`, `--no-hooks`, `--kube-version 1.30`, `--api-versions x/v1`, `--show-only templates/x.yaml`,
//! `--name-template NAME` is not supported; the release name is `release-name`).
//!
//! Runs that differ on purpose or for a known gap are listed in `tests/corpus/known-differences.txt`
//! as `CASE[:VALUES] reason`; an entry that no longer differs fails the test, so the list stays true.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};
use support::{helm, known_differences};

/// The minimum number of cases the corpus must hold.
const MIN_CASES: usize = 100;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

struct Run {
    id: String,
    values: Option<PathBuf>,
}

fn runs(case: &Path) -> Vec<Run> {
    let name = case.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let mut v = vec![Run { id: name.clone(), values: None }];
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(case).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    for f in files {
        let fname = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if let Some(stem) = fname.strip_suffix(".values.yaml") {
            v.push(Run { id: format!("{name}:{stem}"), values: Some(f) });
        }
    }
    v
}

fn case_args(case: &Path) -> Vec<String> {
    std::fs::read_to_string(case.join("args"))
        .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
        .unwrap_or_default()
}

fn options(args: &[String], values: Option<&Path>) -> Options {
    let mut o = Options::default();
    if let Some(v) = values {
        o.values_files.push(std::fs::read_to_string(v).expect("values file"));
    }
    for a in args {
        let (flag, val) = a.split_once(' ').map_or((a.as_str(), ""), |(f, v)| (f, v.trim()));
        match flag {
            "--set" => o.set.push(val.to_string()),
            "--set-string" => o.set_string.push(val.to_string()),
            "--set-json" => o.set_json.push(val.to_string()),
            "--include-crds" => o.include_crds = true,
            "--skip-tests" => o.skip_tests = true,
            "--no-hooks" => o.no_hooks = true,
            "--kube-version" => o.kube_version = Some(val.to_string()),
            "--api-versions" => o.api_versions.push(val.to_string()),
            "--strict" => o.strict = true,
            "--skip-schema-validation" => o.skip_schema_validation = true,
            "--show-only" => {}
            other => panic!("unsupported corpus flag {other}"),
        }
    }
    o
}

fn helm_run(helm: &str, home: &Path, chart: &Path, args: &[String], values: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new(helm);
    cmd.arg("template").arg(chart);
    if let Some(v) = values {
        cmd.arg("-f").arg(v);
    }
    for a in args {
        match a.split_once(' ') {
            Some((f, v)) => cmd.arg(f).arg(v.trim()),
            None => cmd.arg(a),
        };
    }
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    let out = cmd.output().expect("running helm");
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    // Helm's slog lines (`level=INFO msg=...`) are logs, not the error.
    let err: String =
        String::from_utf8_lossy(&out.stderr).split_inclusive('\n').filter(|l| !l.starts_with("level=")).collect();
    let err = err.strip_prefix("Error: ").unwrap_or(&err);
    let err = err.strip_suffix('\n').unwrap_or(err);
    let err = err.strip_suffix("\n\nUse --debug flag to render out invalid YAML").unwrap_or(err);
    Err(err.to_string())
}

fn ours(chart: &Path, args: &[String], values: Option<&Path>) -> Result<String, String> {
    let c = load_dir(chart).map_err(|e| e.to_string())?;
    let show_only: Vec<String> =
        args.iter().filter_map(|a| a.strip_prefix("--show-only ").map(|p| p.trim().to_string())).collect();
    let rendered = render(&c, &options(args, values)).map_err(|e| e.to_string())?;
    if show_only.is_empty() {
        Ok(rendered.to_helm_output())
    } else {
        rendered.to_helm_output_show_only(&show_only).map_err(|e| e.to_string())
    }
}

fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i).copied(), bl.get(i).copied());
        if x != y {
            return format!("line {}: helm {:?} / eddy {:?}", i + 1, x, y);
        }
    }
    "trailing bytes differ".into()
}

#[test]
fn corpus_matches_helm() {
    let helm = helm();
    let home = tempfile::tempdir().expect("temp dir");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_root())
        .expect("tests/corpus must exist")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= MIN_CASES, "the corpus has {} cases, fewer than {MIN_CASES}", cases.len());
    let known = known_differences(&corpus_root().join("known-differences.txt"));
    let only = std::env::var("EDDY_CORPUS_ONLY").ok();
    let mut failures = Vec::new();
    let mut seen_known = Vec::new();
    let (mut total, mut same_output, mut same_error) = (0, 0, 0);
    for case in &cases {
        let args = case_args(case);
        let chart = case.join("chart");
        for run in runs(case) {
            if only.as_ref().is_some_and(|o| !run.id.starts_with(o.as_str())) {
                continue;
            }
            total += 1;
            let expected = helm_run(&helm, home.path(), &chart, &args, run.values.as_deref());
            let got = ours(&chart, &args, run.values.as_deref());
            let diff = match (&expected, &got) {
                (Ok(a), Ok(b)) if a == b => None,
                (Err(a), Err(b)) if a == b => None,
                (Ok(a), Ok(b)) => Some(format!("output differs at {}", first_difference(a, b))),
                (Err(a), Err(b)) => Some(format!("errors differ:\n  helm: {a}\n  eddy: {b}")),
                (Ok(_), Err(b)) => Some(format!("helm succeeds, eddy fails: {b}")),
                (Err(a), Ok(_)) => Some(format!("helm fails ({a}), eddy succeeds")),
            };
            match (diff, known.contains_key(&run.id)) {
                (None, false) => {
                    if expected.is_ok() {
                        same_output += 1;
                    } else {
                        same_error += 1;
                    }
                }
                (None, true) => failures.push(format!("{}: listed in known-differences.txt but agrees now", run.id)),
                (Some(_), true) => seen_known.push(run.id.clone()),
                (Some(d), false) => failures.push(format!("{}: {d}", run.id)),
            }
        }
    }
    if only.is_none() {
        for id in known.keys() {
            if !seen_known.contains(id) && !failures.iter().any(|f| f.starts_with(&format!("{id}:"))) {
                failures.push(format!("{id}: listed in known-differences.txt but no such run"));
            }
        }
    }
    eprintln!(
        "helm corpus: {} cases, {total} runs: {same_output} identical outputs, {same_error} identical errors, {} known differences, {} failures",
        cases.len(),
        seen_known.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{} corpus runs disagree with helm:\n{}", failures.len(), failures.join("\n"));
}
