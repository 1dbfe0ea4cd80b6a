//! Real charts that ship inside a Go module: Helm's own test charts
//! (`pkg/cmd/testdata/testcharts` of `helm.sh/helm/v4@v4.3.2`, directories and `.tgz` archives),
//! fetched at test time through the Go module proxy (`go mod download -json`, cached in
//! `~/.cache/eddy/go-mod` as `hack/env.sh` sets it) and rendered by this crate and by the
//! reference Helm (`hack/build-helm`). Outputs must be identical or both must fail with the same
//! message; charts listed in `tests/testcharts-known-differences.txt` (`NAME reason`) must differ.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_helm_template::chart::load::{load_archive, load_dir};
use eddy_helm_template::{Options, render};
use support::{helm, known_differences, module_dir};

#[test]
fn helm_module_test_charts_match_helm() {
    let helm = helm();
    let root = module_dir("helm.sh/helm/v4@v4.3.2").join("pkg/cmd/testdata/testcharts");
    let home = tempfile::tempdir().expect("temp dir");
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(&root).expect("testcharts").filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    let known =
        known_differences(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testcharts-known-differences.txt"));
    let (mut same, mut same_err, mut listed) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let is_archive = name.ends_with(".tgz") || name.ends_with(".tar.gz");
        if !(is_archive || path.join("Chart.yaml").exists()) {
            continue;
        }
        let out = Command::new(&helm)
            .arg("template")
            .arg(&path)
            .env_clear()
            .env("HOME", home.path())
            .env("KUBECONFIG", home.path().join("none"))
            .output()
            .expect("helm");
        let expected = if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let e = String::from_utf8_lossy(&out.stderr).into_owned();
            let e = e.strip_prefix("Error: ").unwrap_or(&e).trim_end().to_string();
            Err(e.strip_suffix("\n\nUse --debug flag to render out invalid YAML").unwrap_or(&e).to_string())
        };
        let chart = if is_archive {
            std::fs::read(&path).map_err(|e| e.to_string()).and_then(|b| load_archive(&b).map_err(|e| e.to_string()))
        } else {
            load_dir(&path).map_err(|e| e.to_string())
        };
        let got =
            chart.and_then(|c| render(&c, &Options::default()).map(|r| r.to_helm_output()).map_err(|e| e.to_string()));
        let agree = match (&expected, &got) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) => a == b.trim_end(),
            _ => false,
        };
        match (agree, known.contains_key(&name)) {
            (true, false) if expected.is_ok() => same += 1,
            (true, false) => same_err += 1,
            (true, true) => failures.push(format!("{name}: listed as a known difference but agrees")),
            (false, true) => listed += 1,
            (false, false) => {
                let detail = match (&expected, &got) {
                    (Ok(a), Ok(b)) => {
                        let i = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
                        format!("line {}: helm {:?} / eddy {:?}", i + 1, a.lines().nth(i), b.lines().nth(i))
                    }
                    _ => format!("helm {expected:?}\n  eddy {got:?}"),
                };
                failures.push(format!("{name}: {detail}"));
            }
        }
    }
    eprintln!(
        "helm test charts: {same} identical outputs, {same_err} identical errors, {listed} known differences, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "helm's test charts disagree:\n{}", failures.join("\n"));
}
