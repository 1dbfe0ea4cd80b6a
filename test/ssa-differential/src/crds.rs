//! The upstream Flux CRDs (`../shared/reference/flux-crds/{current,legacy}`), rewritten to the
//! renamed groups of [`crate::rename`] (same kinds, plurals, versions and schemas), installed by
//! server-side apply and awaited until kube-apiserver serves them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::Method;
use kube::client::Client;
use serde_json::Value;

use crate::rename::renamed_group;
use crate::replay::{Resource, send};
use crate::scenario::CrdSet;
use crate::{Error, Result};

/// The field manager this harness installs CRDs with.
pub const MANAGER: &str = "eddy-ssa-differential";

/// `../shared/reference/flux-crds` next to the repository (`EDDY_SHARED_DIR` overrides
/// `../shared`).
pub fn reference_dir() -> PathBuf {
    let shared = match std::env::var_os("EDDY_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    shared.join("reference/flux-crds")
}

/// One reference CRD.
#[derive(Debug, Clone)]
pub struct Crd {
    pub set: CrdSet,
    pub file: PathBuf,
    pub group: String,
    pub kind: String,
    pub plural: String,
    pub storage_version: String,
    pub doc: Value,
}

impl Crd {
    /// The kind as scenarios name it.
    pub fn resource(&self) -> Resource {
        Resource {
            group: self.group.clone(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
            storage_version: self.storage_version.clone(),
        }
    }

    /// The CRD under its renamed group.
    pub fn renamed(&self) -> Value {
        let group = renamed_group(&self.group, self.set);
        let mut doc = self.doc.clone();
        doc["metadata"] = serde_json::json!({
            "name": format!("{}.{group}", self.plural),
            "labels": {"app.kubernetes.io/created-by": MANAGER},
        });
        doc["spec"]["group"] = Value::String(group);
        if let Some(m) = doc.as_object_mut() {
            m.remove("status");
        }
        doc
    }

    /// `metadata.name` of the renamed CRD.
    pub fn renamed_name(&self) -> String {
        format!("{}.{}", self.plural, renamed_group(&self.group, self.set))
    }
}

/// Reads the CRDs of one set.
pub fn load(dir: &Path, set: CrdSet) -> Result<Vec<Crd>> {
    let d = dir.join(set.dir_name());
    let io = |source| Error::Io { path: d.display().to_string(), source };
    let mut files = Vec::new();
    for e in std::fs::read_dir(&d).map_err(io)? {
        let p = e.map_err(io)?.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            files.push(p);
        }
    }
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let p = file.display().to_string();
        let bad = |message: String| Error::Format { path: p.clone(), message };
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Io { path: p.clone(), source })?;
        let doc: Value = serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if doc["kind"] != "CustomResourceDefinition" {
            return Err(bad("not a CustomResourceDefinition".into()));
        }
        let s = |ptr: &str| doc.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
        let storage_version = doc["spec"]["versions"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
            .and_then(|v| v["name"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| bad("no storage version".into()))?;
        crds.push(Crd {
            set,
            group: s("/spec/group").ok_or_else(|| bad("no spec.group".into()))?,
            kind: s("/spec/names/kind").ok_or_else(|| bad("no spec.names.kind".into()))?,
            plural: s("/spec/names/plural").ok_or_else(|| bad("no spec.names.plural".into()))?,
            storage_version,
            file,
            doc,
        });
    }
    Ok(crds)
}

/// Installs `crds` (server-side apply, forced: an earlier run's CRDs are brought up to date)
/// and waits until each is Established and its resource answers a list. `timeout` bounds the
/// wait (a liveness guard, not a measurement).
pub async fn install(client: &Client, crds: &[&Crd], timeout: Duration) -> Result<()> {
    for crd in crds {
        let uri = format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{}?fieldManager={MANAGER}&force=true",
            crd.renamed_name()
        );
        let a = send(client, Method::PATCH, &uri, Some("application/apply-patch+yaml"), Some(&crd.renamed())).await?;
        if !(200..300).contains(&a.status) {
            return Err(Error::Api(format!("installing {}: {} {}", crd.renamed_name(), a.status, a.body)));
        }
    }
    let deadline = Instant::now() + timeout;
    for crd in crds {
        let name = crd.renamed_name();
        let group = renamed_group(&crd.group, crd.set);
        let list = format!("/apis/{group}/{}/{}?limit=1", crd.storage_version, crd.plural);
        loop {
            let a = send(
                client,
                Method::GET,
                &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
                None,
                None,
            )
            .await?;
            let established = a.body["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
            if established && send(client, Method::GET, &list, None, None).await?.status == 200 {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Api(format!("CRD {name} was not served within {timeout:?}: {}", a.body["status"])));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}
