//! The build step: Flux's generator, SOPS on the generator inputs, the kustomize build, then
//! per object SOPS and post-build substitution (kustomize-controller's `build`), giving the
//! objects to apply. Runs on a blocking thread: it is all file and CPU work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy_api::kustomize::KustomizationSpec;
use eddy_kustomize::flux::{Image, Overlay, Patch, Selector};
use eddy_kustomize::{BuildOptions, LoadRestrictions, Resource};
use serde_json::Value;

/// The annotation that keeps one object from being decrypted.
pub const DECRYPT_DISABLED_KEY: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// What the build needs besides the tree.
pub struct BuildInput {
    /// The extracted artifact (nothing outside it may be read).
    pub root: PathBuf,
    /// `spec.path` inside it.
    pub dir: PathBuf,
    /// The Kustomization fields that shape the build.
    pub overlay: Overlay,
    /// Decryption keys, when `spec.decryption` is set.
    pub keys: Option<eddy_sops::Keys>,
    /// Post-build variables, when `spec.postBuild` is set.
    pub vars: Option<BTreeMap<String, String>>,
    /// Fail on unset variables without default.
    pub strict_substitution: bool,
}

/// The build's result.
pub struct Built {
    /// The objects, in build order.
    pub objects: Vec<Value>,
    /// `sha256:<hex>` of the built manifests (the history's digest).
    pub digest: String,
}

/// A build kept between reconciles (the reconciler reuses it while the artifact, spec and
/// inputs are unchanged): the objects as one JSON array, parsed again for each use. A parsed
/// `serde_json::Value` takes several times the bytes of its JSON (a map node per object, a
/// heap string per key), and the reconciler keeps one build per Kustomization, while parsing
/// a few kilobytes is a small part of the drift detection that follows.
pub struct KeptBuild {
    json: Box<[u8]>,
    digest: String,
}

impl KeptBuild {
    /// Keeps `built`.
    ///
    /// # Errors
    /// When an object does not serialise (not expected: they came from JSON and YAML).
    pub fn keep(built: &Built) -> Result<Self, serde_json::Error> {
        Ok(Self { json: serde_json::to_vec(&built.objects)?.into_boxed_slice(), digest: built.digest.clone() })
    }

    /// The build again.
    ///
    /// # Errors
    /// When the kept JSON does not parse (not expected: [`KeptBuild::keep`] wrote it).
    pub fn restore(&self) -> Result<Built, serde_json::Error> {
        Ok(Built { objects: serde_json::from_slice(&self.json)?, digest: self.digest.clone() })
    }
}

/// Why the build failed; the text becomes the `BuildFailed` message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// The overlay of a Kustomization's spec.
#[must_use]
pub fn overlay(spec: &KustomizationSpec) -> Overlay {
    Overlay {
        target_namespace: spec.target_namespace.clone().filter(|s| !s.is_empty()),
        name_prefix: spec.name_prefix.clone().filter(|s| !s.is_empty()),
        name_suffix: spec.name_suffix.clone().filter(|s| !s.is_empty()),
        // commonMetadata is stamped at apply time, as kustomize-controller does.
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        patches: spec
            .patches
            .iter()
            .flatten()
            .map(|p| Patch {
                patch: p.patch.clone(),
                target: p.target.as_ref().map(|t| Selector {
                    group: t.group.clone(),
                    version: t.version.clone(),
                    kind: t.kind.clone(),
                    name: t.name.clone(),
                    namespace: t.namespace.clone(),
                    label_selector: t.label_selector.clone(),
                    annotation_selector: t.annotation_selector.clone(),
                }),
            })
            .collect(),
        images: spec
            .images
            .iter()
            .flatten()
            .map(|i| Image {
                name: i.name.clone(),
                new_name: i.new_name.clone(),
                new_tag: i.new_tag.clone(),
                digest: i.digest.clone(),
            })
            .collect(),
        components: spec.components.clone().unwrap_or_default(),
        ignore_missing_components: spec.ignore_missing_components.unwrap_or(false),
        build_metadata: spec.build_metadata.clone().unwrap_or_default(),
    }
}

/// Runs the build.
///
/// # Errors
/// [`BuildError`] with a message a user can act on.
pub fn run(input: &BuildInput) -> Result<Built, BuildError> {
    eddy_kustomize::flux::generate(&input.dir, &input.overlay).map_err(|e| BuildError(e.to_string()))?;
    if let Some(keys) = &input.keys {
        eddy_sops::flux::decrypt_sources(&input.root, &input.dir, keys).map_err(|e| BuildError(e.to_string()))?;
    }
    let options = BuildOptions {
        boundary: Some(input.root.clone()),
        load_restrictions: LoadRestrictions::BoundaryOnly,
        ..BuildOptions::default()
    };
    let mut resources = eddy_kustomize::build_resources(&input.dir, &options)
        .map_err(|e| BuildError(format!("kustomize build failed: {e}")))?;
    for r in &resources {
        if r.name().is_empty() || r.kind().is_empty() || r.api_version().is_empty() {
            let text = eddy_kustomize::render(std::slice::from_ref(r)).unwrap_or_default();
            return Err(BuildError(format!("failed to decode Kubernetes apiVersion, kind and name from: {text}")));
        }
    }
    if let Some(keys) = &input.keys {
        for r in &mut resources {
            decrypt(r, keys)?;
        }
    }
    if let Some(vars) = &input.vars {
        eddy_kustomize::varsub::substitute(&mut resources, vars, input.strict_substitution)
            // The engine's error already reads "post build failed for '<object>': …", as Flux's.
            .map_err(|e| BuildError(e.to_string()))?;
    }
    let rendered = eddy_kustomize::render(&resources).map_err(|e| BuildError(e.to_string()))?;
    let digest = {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(rendered.as_bytes());
        format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    Ok(Built { objects: resources.iter().map(Resource::to_json).collect(), digest })
}

/// Decrypts one object in place when it holds SOPS data (and does not opt out).
fn decrypt(r: &mut Resource, keys: &eddy_sops::Keys) -> Result<(), BuildError> {
    if r.annotations().iter().any(|(k, v)| k == DECRYPT_DISABLED_KEY && v == "disabled") {
        return Ok(());
    }
    let json = r.to_json();
    let Some(decrypted) = eddy_sops::flux::decrypt_object(&json, keys).map_err(|e| BuildError(e.to_string()))? else {
        return Ok(());
    };
    // JSON is YAML: parse the decrypted object back into the engine's model.
    let text = serde_json::to_string(&decrypted).map_err(|e| BuildError(e.to_string()))?;
    let docs = eddy_kustomize::yaml::parse_documents(&text).map_err(|e| BuildError(e.to_string()))?;
    match docs.into_iter().next() {
        Some(eddy_kustomize::yaml::Value::Map(map)) => {
            r.obj = map;
            Ok(())
        }
        _ => Err(BuildError(format!("decrypting {}: not an object", r.id()))),
    }
}

/// Whether an object is a Secret still holding SOPS data (applying it without decryption
/// configured is refused, as kustomize-controller does).
#[must_use]
pub fn is_encrypted_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && obj.get("sops").is_some_and(|s| s.get("mac").is_some())
}

/// `spec.path` joined to `root` lexically and confined to it (as securejoin: `..` cannot climb
/// above the root).
#[must_use]
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.iter().fold(root.to_path_buf(), |p, c| p.join(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let root = Path::new("/tmp/r");
        assert_eq!(secure_join(root, "./apps/prod"), Path::new("/tmp/r/apps/prod"));
        assert_eq!(secure_join(root, "../../etc"), Path::new("/tmp/r/etc"));
        assert_eq!(secure_join(root, ""), Path::new("/tmp/r"));
        assert_eq!(secure_join(root, "/abs/x/../y"), Path::new("/tmp/r/abs/y"));
    }

    #[test]
    fn encrypted_secrets_are_recognised() {
        let s = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "sops": {"mac": "x"}});
        assert!(is_encrypted_secret(&s));
        let s = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": {}});
        assert!(!is_encrypted_secret(&s));
    }
}
