//! The upstream Flux CRDs (read from `../shared/reference/flux-crds/current` at run time, never
//! copied into the repository), installed in kube-apiserver under a renamed API group so they
//! never claim a group Eddy serves.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use http::{Method, StatusCode};
use serde_json::Value;

use crate::conn;

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// The renamed group: `kustomize.toolkit.fluxcd.io` becomes `kustomize.reference.eddy.test`.
#[must_use]
pub fn renamed_group(group: &str) -> String {
    format!("{}.reference.eddy.test", group.split('.').next().unwrap_or(group))
}

/// Installs the CRD of `plural`.`group` from `shared_dir` with its group renamed (replacing
/// any earlier copy, whose objects go with it) and waits until it serves. Returns the new group.
pub async fn install(client: &kube::Client, shared_dir: &Path, group: &str, plural: &str) -> anyhow::Result<String> {
    let path = shared_dir.join("reference/flux-crds/current").join(format!("{group}_{plural}.yaml"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading the upstream CRD {}", path.display()))?;
    let new_group = renamed_group(group);
    let renamed = text.replace(group, &new_group);
    let renamed = renamed.strip_prefix("---\n").unwrap_or(&renamed).to_owned();
    ensure!(!renamed.contains("\n---"), "{} holds more than one document", path.display());
    let name = format!("{plural}.{new_group}");
    remove(client, &name).await?;
    conn::expect(client, Method::POST, CRDS, Some("application/yaml"), renamed.into_bytes(), &[StatusCode::CREATED])
        .await
        .with_context(|| format!("creating CRD {name}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let body =
            conn::expect(client, Method::GET, &format!("{CRDS}/{name}"), None, Vec::new(), &[StatusCode::OK]).await?;
        let crd: Value = serde_json::from_slice(&body)?;
        let established = crd["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
        if established {
            let version = crd["spec"]["versions"]
                .as_array()
                .and_then(|v| v.iter().find(|v| v["storage"] == true))
                .and_then(|v| v["name"].as_str())
                .unwrap_or("v1")
                .to_owned();
            let (status, _) = conn::send(
                client,
                Method::GET,
                &format!("/apis/{new_group}/{version}/{plural}?limit=1"),
                None,
                Vec::new(),
            )
            .await?;
            if status == StatusCode::OK {
                return Ok(new_group);
            }
        }
        ensure!(Instant::now() < deadline, "CRD {name} not served after 120 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes a CRD (and so every object of it) and waits until it is gone (up to 15 minutes:
/// kube-apiserver deletes the objects one by one first).
pub async fn remove(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let uri = format!("{CRDS}/{name}");
    let (status, body) = conn::send(client, Method::DELETE, &uri, None, Vec::new()).await?;
    match status {
        StatusCode::NOT_FOUND => return Ok(()),
        StatusCode::OK | StatusCode::ACCEPTED => {}
        s => bail!("deleting CRD {name}: {s}: {}", String::from_utf8_lossy(&body)),
    }
    let started = Instant::now();
    loop {
        let (status, _) = conn::send(client, Method::GET, &uri, None, Vec::new()).await?;
        if status == StatusCode::NOT_FOUND {
            eprintln!("CRD {name} deleted in {:.1} s", started.elapsed().as_secs_f64());
            return Ok(());
        }
        ensure!(started.elapsed() < Duration::from_secs(900), "CRD {name} still there after 15 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renamed_groups_are_outside_flux() {
        assert_eq!(super::renamed_group("kustomize.toolkit.fluxcd.io"), "kustomize.reference.eddy.test");
        assert_eq!(super::renamed_group("helm.toolkit.fluxcd.io"), "helm.reference.eddy.test");
    }
}
