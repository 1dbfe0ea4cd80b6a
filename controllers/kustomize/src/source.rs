//! Resolving `spec.sourceRef` to the source's artifact, through the Flux API.

use eddy_api::kustomize::Kustomization;
use eddy_api::meta::Artifact;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;

/// The annotation in an artifact's metadata that carries the origin revision (OCI sources).
pub const ORIGIN_REVISION_KEY: &str = "org.opencontainers.image.revision";

/// The source kinds a Kustomization may reference, with their plural names.
const KINDS: &[(&str, &str)] = &[
    ("GitRepository", "gitrepositories"),
    ("OCIRepository", "ocirepositories"),
    ("Bucket", "buckets"),
    ("ExternalArtifact", "externalartifacts"),
];

/// The API group of the sources.
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";

/// A resolved source.
#[derive(Debug, Clone)]
pub struct Source {
    /// `Kind/namespace/name`.
    pub display: String,
    /// Its current artifact, if it has one.
    pub artifact: Option<Artifact>,
}

impl Source {
    /// The origin revision of the artifact (OCI sources carry one), if any.
    #[must_use]
    pub fn origin_revision(&self) -> String {
        self.artifact
            .as_ref()
            .and_then(|a| a.metadata.as_ref())
            .and_then(|m| m.get(ORIGIN_REVISION_KEY))
            .cloned()
            .unwrap_or_default()
    }
}

/// Why the source could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A cross-namespace reference while `--no-cross-namespace-refs` is set.
    #[error("{0}")]
    AccessDenied(String),
    /// The API failed (retried with backoff).
    #[error("unable to get source '{key}': {source}")]
    Api {
        /// `namespace/name`.
        key: String,
        /// The error.
        source: kube::Error,
    },
    /// The kind is not a source kind.
    #[error("source `{0}` kind is not supported")]
    UnsupportedKind(String),
}

/// The namespace and name of the referenced source.
#[must_use]
pub fn source_key(obj: &Kustomization) -> (String, String) {
    let own = obj.metadata.namespace.clone().unwrap_or_default();
    let ns = obj.spec.source_ref.namespace.clone().filter(|n| !n.is_empty()).unwrap_or(own);
    (ns, obj.spec.source_ref.name.clone())
}

/// `spec.sourceRef` as Flux prints it: `Kind/namespace/name`.
#[must_use]
pub fn source_display(obj: &Kustomization) -> String {
    let (ns, name) = source_key(obj);
    format!("{}/{}/{}", obj.spec.source_ref.kind, ns, name)
}

/// Reads the source through the Flux API.
///
/// # Errors
/// [`SourceError`].
pub async fn get(
    flux: &kube::Client,
    obj: &Kustomization,
    no_cross_namespace_refs: bool,
) -> Result<Source, SourceError> {
    let (ns, name) = source_key(obj);
    let kind = obj.spec.source_ref.kind.as_str();
    if no_cross_namespace_refs && ns != obj.metadata.namespace.as_deref().unwrap_or_default() {
        return Err(SourceError::AccessDenied(format!(
            "can't access '{kind}/{ns}/{name}', cross-namespace references have been blocked"
        )));
    }
    let Some((_, plural)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return Err(SourceError::UnsupportedKind(kind.to_owned()));
    };
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(SOURCE_GROUP, "v1", kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(flux.clone(), &ns, &resource);
    let found = match api.get(&name).await {
        Ok(o) => o,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Err(SourceError::NotFound(s.message));
        }
        Err(e) => return Err(SourceError::Api { key: format!("{ns}/{name}"), source: e }),
    };
    let artifact = found
        .data
        .pointer("/status/artifact")
        .filter(|a| !a.is_null())
        .and_then(|a| serde_json::from_value::<Artifact>(a.clone()).ok());
    Ok(Source { display: format!("{kind}/{ns}/{name}"), artifact })
}

/// Whether `artifact` is of `revision` (Flux's `HasRevision`: the same string, or the same
/// digest part of `<ref>@<algo>:<hex>` revisions).
#[must_use]
pub fn has_revision(artifact: &Artifact, revision: &str) -> bool {
    if revision.is_empty() {
        return false;
    }
    if artifact.revision == revision {
        return true;
    }
    let digest = |r: &str| r.rsplit_once('@').map_or(r, |(_, d)| d).to_owned();
    digest(&artifact.revision) == digest(revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(revision: &str) -> Artifact {
        Artifact { revision: revision.into(), ..Default::default() }
    }

    #[test]
    fn revisions_compare_by_digest() {
        let a = artifact("main@sha1:abc");
        assert!(has_revision(&a, "main@sha1:abc"));
        assert!(has_revision(&a, "sha1:abc"));
        assert!(!has_revision(&a, "main@sha1:abd"));
        assert!(!has_revision(&a, ""));
    }
}
