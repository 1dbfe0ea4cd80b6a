//! What Flux's kustomize-controller does around a build (fluxcd/pkg/kustomize): generate a
//! kustomization file where the path has none, and overlay the Kustomization's own fields.
//!
//! SKELETON: the public API below is agreed between the crates; bodies are being written.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// A patch of `spec.patches` (strategic merge or JSON 6902, told apart by its content).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    /// The patch document (YAML or JSON).
    pub patch: String,
    /// Which objects it applies to.
    pub target: Option<Selector>,
}

/// A kustomize target selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// API group.
    pub group: Option<String>,
    /// API version.
    pub version: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Name (regular expression).
    pub name: Option<String>,
    /// Namespace (regular expression).
    pub namespace: Option<String>,
    /// Label selector.
    pub label_selector: Option<String>,
    /// Annotation selector.
    pub annotation_selector: Option<String>,
}

/// An `spec.images` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// Image name to match.
    pub name: String,
    /// Replacement name.
    pub new_name: Option<String>,
    /// Replacement tag.
    pub new_tag: Option<String>,
    /// Replacement digest.
    pub digest: Option<String>,
}

/// The Kustomization fields that become part of the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.commonMetadata.labels`.
    pub common_labels: BTreeMap<String, String>,
    /// `spec.commonMetadata.annotations`.
    pub common_annotations: BTreeMap<String, String>,
    /// `spec.patches`.
    pub patches: Vec<Patch>,
    /// `spec.images`.
    pub images: Vec<Image>,
    /// `spec.components`.
    pub components: Vec<String>,
    /// `spec.ignoreMissingComponents`.
    pub ignore_missing_components: bool,
    /// `spec.buildMetadata`.
    pub build_metadata: Vec<String>,
}

/// Flux's generator: when `dir` has no kustomization file, writes one listing every YAML file
/// that parses as a Kubernetes object (a subdirectory with its own kustomization file becomes a
/// resource and is not entered); then merges `overlay` into the kustomization file, as
/// kustomize-controller does before it builds.
///
/// # Errors
/// Unreadable files or an invalid existing kustomization file.
pub fn generate(dir: &Path, overlay: &Overlay) -> Result<(), Error> {
    let _ = (dir, overlay);
    unimplemented!("skeleton")
}
