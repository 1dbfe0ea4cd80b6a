//! What Flux's kustomize-controller does around a build (fluxcd/pkg/kustomize): generate a
//! kustomization file where the path has none, and overlay the Kustomization's own fields
//! (`kustomize_generator.go`); and `spec.commonMetadata`, which kustomize-controller applies to
//! each object after the build and the substitution ([`apply_common_metadata`]).

mod generator;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use generator::{Action, generate, generate_within};

use crate::Resource;
use crate::yaml::Value;

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
    /// `spec.commonMetadata.labels`. Not written into the kustomization: Flux sets them on
    /// each object's metadata after the build ([`apply_common_metadata`]).
    pub common_labels: BTreeMap<String, String>,
    /// `spec.commonMetadata.annotations`. Not written into the kustomization: see
    /// [`Overlay::common_labels`].
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

/// Sets `spec.commonMetadata` on every object as kustomize-controller does just before it
/// applies them (fluxcd/pkg/ssa `SetCommonMetadata`): each label and annotation is added to
/// `metadata.labels` / `metadata.annotations`, overriding a value already there; selectors,
/// templates and other fields are left alone. Call it after [`crate::varsub::substitute`]:
/// Flux does not substitute variables in these values.
pub fn apply_common_metadata(resources: &mut [Resource], overlay: &Overlay) {
    for r in resources {
        for (field, values) in [("labels", &overlay.common_labels), ("annotations", &overlay.common_annotations)] {
            if values.is_empty() {
                continue;
            }
            let meta = r.obj.entry_map("metadata");
            let map = meta.entry_map(field);
            for (k, v) in values {
                map.insert(k.clone(), Value::str(v.clone()));
            }
        }
    }
}
