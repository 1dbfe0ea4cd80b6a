//! Helm's own starter chart (`helm create`, generated at test time by the reference Helm
//! v4.3.2 from `hack/build-helm`) rendered by this crate and by Helm with several value sets:
//! outputs must be byte-identical. This is the chart most real charts start from.

mod support;

use std::path::Path;
use std::process::Command;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};
use support::helm;

fn helm_cmd(helm: &str, home: &Path) -> Command {
    let mut cmd = Command::new(helm);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    cmd
}

#[test]
fn helm_create_scaffold_matches_helm() {
    let helm = helm();
    let home = tempfile::tempdir().expect("temp dir");
    let chart = home.path().join("scaffold");
    let out = helm_cmd(&helm, home.path()).arg("create").arg(&chart).output().expect("helm create");
    assert!(out.status.success(), "helm create failed: {}", String::from_utf8_lossy(&out.stderr));
    let loaded = load_dir(&chart).expect("loading the scaffold chart");
    let value_sets: &[&[&str]] = &[
        &[],
        &["ingress.enabled=true"],
        &[
            "ingress.enabled=true",
            "ingress.className=nginx",
            "ingress.tls[0].secretName=tls",
            "ingress.tls[0].hosts[0]=a.example",
        ],
        &["autoscaling.enabled=true", "autoscaling.targetMemoryUtilizationPercentage=70"],
        &["httpRoute.enabled=true"],
        &["serviceAccount.create=false", "podAnnotations.a=b", "podLabels.team=x"],
        &["service.type=NodePort", "replicaCount=3", "image.tag=1.2.3"],
        &["nameOverride=other", "fullnameOverride=full-name-override-that-is-quite-long-indeed-more-than-63-chars"],
        &["resources.limits.cpu=100m", "resources.limits.memory=128Mi", "nodeSelector.disk=ssd"],
    ];
    let mut failures = Vec::new();
    for set in value_sets {
        let mut cmd = helm_cmd(&helm, home.path());
        cmd.arg("template").arg(&chart);
        for s in *set {
            cmd.arg("--set").arg(s);
        }
        let expected = cmd.output().expect("helm template");
        assert!(expected.status.success(), "helm template failed: {}", String::from_utf8_lossy(&expected.stderr));
        let expected = String::from_utf8_lossy(&expected.stdout).into_owned();
        let options = Options { set: set.iter().map(|s| (*s).to_string()).collect(), ..Options::default() };
        match render(&loaded, &options) {
            Ok(r) if r.to_helm_output() == expected => {}
            Ok(r) => {
                let got = r.to_helm_output();
                let line = expected.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(0);
                failures.push(format!(
                    "{set:?}: output differs at line {}: helm {:?} / eddy {:?}",
                    line + 1,
                    expected.lines().nth(line),
                    got.lines().nth(line)
                ));
            }
            Err(e) => failures.push(format!("{set:?}: eddy fails: {e}")),
        }
    }
    assert!(failures.is_empty(), "scaffold renders differ from helm:\n{}", failures.join("\n"));
}
