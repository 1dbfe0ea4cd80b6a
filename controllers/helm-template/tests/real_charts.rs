//! Large real charts that ship inside Go modules, fetched at test time through the Go module
//! proxy (`go mod download -json`, cached in `~/.cache/eddy/go-mod` as `hack/env.sh` sets it),
//! never copied into the repository: metrics-server, external-secrets (with its
//! `values.schema.json`), kyverno and kyverno-policies. Each is rendered by this crate and by
//! the reference Helm v4.3.2 (`hack/build-helm`) without values, with every values file of the
//! chart's own `ci/` directory, and with ours in `tests/real-charts/CHART/*.values.yaml`; the
//! outputs must be byte-identical, or both must fail with the same message.
//!
//! Subcharts that `Chart.yaml` names but the module does not ship (fetched by `helm dependency
//! build` from a chart repository) are first rendered as they are (both fail with Helm's
//! missing-dependency error), then stubbed in a copy of the chart (a `Chart.yaml` with the
//! required name and version) so that the rest renders. Runs listed in
//! `tests/real-charts-known-differences.txt` (`CHART[:VALUES] reason`) must differ.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};
use support::{copy_dir, helm, known_differences, module_dir};

/// The charts: a name, the module and the chart's directory in it.
const CHARTS: &[(&str, &str, &str)] = &[
    ("metrics-server", "sigs.k8s.io/metrics-server@v0.8.0", "charts/metrics-server"),
    ("external-secrets", "github.com/external-secrets/external-secrets@v0.16.2", "deploy/charts/external-secrets"),
    ("kyverno", "github.com/kyverno/kyverno@v1.19.1", "charts/kyverno"),
    ("kyverno-policies", "github.com/kyverno/kyverno@v1.19.1", "charts/kyverno-policies"),
];

/// Adds an empty chart for every dependency `Chart.yaml` names that `charts/` lacks.
fn stub_missing(chart: &Path) -> usize {
    let meta = eddy_helm_template::chart::Metadata::from_yaml(
        &std::fs::read_to_string(chart.join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    let present: Vec<String> = std::fs::read_dir(chart.join("charts"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    let mut n = 0;
    for d in &meta.dependencies {
        if present.iter().any(|p| p == &d.name || p.starts_with(&format!("{}-", d.name))) {
            continue;
        }
        let dir = chart.join("charts").join(&d.name);
        std::fs::create_dir_all(&dir).expect("mkdir stub");
        let version = d.version.trim_start_matches(['v', '=', '^', '~']);
        std::fs::write(dir.join("Chart.yaml"), format!("apiVersion: v2\nname: {}\nversion: {version}\n", d.name))
            .expect("stub Chart.yaml");
        n += 1;
    }
    n
}

fn helm_run(helm: &str, home: &Path, chart: &Path, values: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new(helm);
    cmd.arg("template").arg(chart);
    if let Some(v) = values {
        cmd.arg("-f").arg(v);
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
    let err: String =
        String::from_utf8_lossy(&out.stderr).split_inclusive('\n').filter(|l| !l.starts_with("level=")).collect();
    let err = err.strip_prefix("Error: ").unwrap_or(&err).trim_end();
    Err(err.strip_suffix("\n\nUse --debug flag to render out invalid YAML").unwrap_or(err).to_string())
}

fn ours(chart: &Path, values: Option<&Path>) -> Result<String, String> {
    let c = load_dir(chart).map_err(|e| e.to_string())?;
    let mut o = Options::default();
    if let Some(v) = values {
        o.values_files.push(std::fs::read_to_string(v).expect("values file"));
    }
    render(&c, &o).map(|r| r.to_helm_output()).map_err(|e| e.to_string().trim_end().to_string())
}

fn values_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..al.len().max(bl.len()) {
        if al.get(i) != bl.get(i) {
            return format!("line {}: helm {:?} / eddy {:?}", i + 1, al.get(i), bl.get(i));
        }
    }
    "trailing bytes differ".into()
}

#[test]
fn real_charts_match_helm() {
    let helm = helm();
    let home = tempfile::tempdir().expect("temp dir");
    let work = tempfile::tempdir().expect("temp dir");
    let known =
        known_differences(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real-charts-known-differences.txt"));
    let only = std::env::var("EDDY_REAL_CHARTS_ONLY").ok();
    let (mut runs, mut same, mut same_err, mut listed) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for (name, module, sub) in CHARTS {
        let src = module_dir(module).join(sub);
        let chart = work.path().join(name);
        copy_dir(&src, &chart);
        let mut plan: Vec<(String, Option<PathBuf>)> = Vec::new();
        let stubbed = {
            // The chart as shipped: with missing subcharts, both must refuse it alike.
            let missing = helm_run(&helm, home.path(), &chart, None);
            let got = ours(&chart, None);
            let id = format!("{name}:as-shipped");
            let agree = missing == got;
            seen.push(id.clone());
            match (agree, known.contains_key(&id)) {
                (true, false) => same_err += usize::from(missing.is_err()),
                (true, true) => failures.push(format!("{id}: listed as a known difference but agrees")),
                (false, true) => listed += 1,
                (false, false) => failures.push(format!("{id}: helm {missing:?} / eddy {got:?}")),
            }
            runs += 1;
            stub_missing(&chart)
        };
        let _ = stubbed;
        plan.push((name.to_string(), None));
        for v in values_files(&chart.join("ci")) {
            let stem = v.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            plan.push((format!("{name}:ci/{stem}"), Some(v)));
        }
        for v in values_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real-charts").join(name)) {
            let stem = v.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            plan.push((format!("{name}:{}", stem.trim_end_matches(".values")), Some(v)));
        }
        for (id, values) in plan {
            if only.as_ref().is_some_and(|o| !id.starts_with(o.as_str())) {
                continue;
            }
            runs += 1;
            seen.push(id.clone());
            let expected = helm_run(&helm, home.path(), &chart, values.as_deref());
            let got = ours(&chart, values.as_deref());
            let diff = match (&expected, &got) {
                (Ok(a), Ok(b)) if a == b => None,
                (Err(a), Err(b)) if a == b => None,
                (Ok(a), Ok(b)) => Some(format!("output differs at {}", first_difference(a, b))),
                (Err(a), Err(b)) => Some(format!("errors differ:\n  helm: {a}\n  eddy: {b}")),
                (Ok(_), Err(b)) => Some(format!("helm succeeds, eddy fails: {b}")),
                (Err(a), Ok(_)) => Some(format!("helm fails ({a}), eddy succeeds")),
            };
            match (diff, known.contains_key(&id)) {
                (None, false) if expected.is_ok() => same += 1,
                (None, false) => same_err += 1,
                (None, true) => failures.push(format!("{id}: listed as a known difference but agrees")),
                (Some(_), true) => listed += 1,
                (Some(d), false) => failures.push(format!("{id}: {d}")),
            }
        }
    }
    if only.is_none() {
        for id in known.keys() {
            if !seen.contains(id) {
                failures.push(format!("{id}: listed in real-charts-known-differences.txt but no such run"));
            }
        }
    }
    eprintln!(
        "real charts: {runs} runs: {same} identical outputs, {same_err} identical errors, {listed} known differences, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{} real-chart runs disagree with helm:\n{}", failures.len(), failures.join("\n"));
}
