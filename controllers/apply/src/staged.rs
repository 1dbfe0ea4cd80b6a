//! Staged apply (fluxcd/pkg/ssa `ApplyAllStaged`): CRDs, Namespaces and ClusterRoles first
//! (then waited for), then `*Class` kinds (then waited for), then the custom stage kinds,
//! then everything else.

use serde_json::Value;

use crate::changeset::ChangeSet;
use crate::error::ApplyError;
use crate::manager::ResourceManager;
use crate::meta::{api_version, group, is_class_definition, is_cluster_definition, kind};
use crate::normalize::normalize_objects;
use crate::objmeta::ObjMetadata;
use crate::options::{ApplyOptions, GroupKind};

/// The objects of each stage, in the input's order.
#[derive(Debug, Default)]
pub(crate) struct Stages {
    pub(crate) definitions: Vec<Value>,
    pub(crate) classes: Vec<Value>,
    pub(crate) custom: Vec<Value>,
    pub(crate) rest: Vec<Value>,
}

/// Splits objects into Flux's stages.
pub(crate) fn split(objects: Vec<Value>, options: &ApplyOptions) -> Stages {
    let mut stages = Stages::default();
    for obj in objects {
        let gk = GroupKind { group: group(&obj).to_string(), kind: kind(&obj).to_string() };
        if is_cluster_definition(&obj) {
            stages.definitions.push(obj);
        } else if is_class_definition(&obj) {
            stages.classes.push(obj);
        } else if options.custom_stage_kinds.contains(&gk) {
            stages.custom.push(obj);
        } else {
            stages.rest.push(obj);
        }
    }
    stages
}

impl ResourceManager {
    /// Applies `objects` in Flux's stages: CRDs, Namespaces and ClusterRoles (applied, then
    /// waited for), then kinds ending in `Class` (applied, waited for), then the rest. Each
    /// object is dry-run applied and diffed first; only drifted objects are applied.
    ///
    /// The objects are normalised as kustomize-controller does before applying
    /// ([`crate::normalize_objects`]).
    ///
    /// # Errors
    /// The first stage that fails, with its failing object's message (or the objects that
    /// were not ready in time).
    pub async fn apply_all_staged(&self, objects: Vec<Value>, options: &ApplyOptions) -> Result<ChangeSet, ApplyError> {
        let (set, error) = self.apply_all_staged_partial(objects, options).await;
        match error {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }

    /// [`Self::apply_all_staged`], also returning, on failure, the entries of what was
    /// applied before the failing stage (kustomize-controller appends them to its error).
    pub async fn apply_all_staged_partial(
        &self,
        objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> (ChangeSet, Option<ApplyError>) {
        let mut set = ChangeSet::default();
        let mut objects = objects;
        for obj in &objects {
            if let Err(e) = ObjMetadata::of(obj) {
                return (set, Some(e));
            }
            if api_version(obj).is_empty() {
                return (set, Some(ApplyError::Invalid(format!("{} has no apiVersion", ObjMetadata::of_lenient(obj)))));
            }
        }
        normalize_objects(&mut objects);
        let stages = split(objects, options);
        let (interval, timeout) = (options.effective_wait_interval(), options.effective_wait_timeout());

        for (stage, objects, wait) in [
            ("definitions", stages.definitions, true),
            ("classes", stages.classes, true),
            ("custom", stages.custom, false),
        ] {
            if objects.is_empty() {
                continue;
            }
            tracing::debug!(stage, count = objects.len(), "applying stage");
            let applied = match self.apply_all(objects, options).await {
                Ok(cs) => cs,
                Err(e) => return (set, Some(e)),
            };
            set.entries.extend(applied.entries.iter().cloned());
            if wait && let Err(e) = self.wait_for_set(&applied, interval, timeout).await {
                return (set, Some(e));
            }
        }
        tracing::debug!(stage = "resources", count = stages.rest.len(), "applying stage");
        match self.apply_all(stages.rest, options).await {
            Ok(cs) => set.append(cs),
            Err(e) => return (set, Some(e)),
        }
        tracing::debug!(output = ?set.to_map(), "server-side apply completed");
        (set, None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_split_into_stages() {
        let o = |v: &str, k: &str| json!({"apiVersion": v, "kind": k, "metadata": {"name": "x"}});
        let options = ApplyOptions {
            custom_stage_kinds: [GroupKind { group: "example.com".into(), kind: "Gate".into() }].into(),
            ..ApplyOptions::default()
        };
        let stages = split(
            vec![
                o("v1", "ConfigMap"),
                o("example.com/v1", "Gate"),
                o("storage.k8s.io/v1", "StorageClass"),
                o("v1", "Namespace"),
                o("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
                o("rbac.authorization.k8s.io/v1", "ClusterRole"),
                o("other.com/v1", "Gate"),
            ],
            &options,
        );
        let kinds = |v: &[Value]| v.iter().map(|o| kind(o).to_string()).collect::<Vec<_>>();
        assert_eq!(kinds(&stages.definitions), ["Namespace", "CustomResourceDefinition", "ClusterRole"]);
        assert_eq!(kinds(&stages.classes), ["StorageClass"]);
        assert_eq!(kinds(&stages.custom), ["Gate"]);
        assert_eq!(kinds(&stages.rest), ["ConfigMap", "Gate"]);
    }
}
