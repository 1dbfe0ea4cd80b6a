//! The resource manager: one client, one owner, a discovery cache and the apply concurrency.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::discovery::RestMapper;
use crate::meta::merge_string_map;
use crate::options::Owner;

/// kustomize-controller's default `--concurrent-ssa`.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Applies and deletes sets of objects in one cluster as one owner.
#[derive(Clone)]
pub struct ResourceManager {
    pub(crate) client: kube::Client,
    pub(crate) owner: Owner,
    pub(crate) mapper: RestMapper,
    pub(crate) concurrency: usize,
}

impl ResourceManager {
    /// A manager applying through `client` (possibly impersonating) as `owner`, dry-running
    /// up to [`DEFAULT_CONCURRENCY`] objects at once.
    #[must_use]
    pub fn new(client: kube::Client, owner: Owner) -> Self {
        Self { mapper: RestMapper::new(client.clone()), client, owner, concurrency: DEFAULT_CONCURRENCY }
    }

    /// Sets how many objects of a stage are read and dry-run at once (`--concurrent-ssa`; at
    /// least 1).
    pub fn set_concurrency(&mut self, concurrency: usize) {
        self.concurrency = concurrency.max(1);
    }

    /// [`Self::set_concurrency`], by value.
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.set_concurrency(concurrency);
        self
    }

    /// The owner.
    #[must_use]
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The client.
    #[must_use]
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The owner labels `<group>/name` and `<group>/namespace` (Flux's `GetOwnerLabels`, the
    /// inclusions of a prune).
    #[must_use]
    pub fn owner_labels(&self, name: &str, namespace: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (format!("{}/name", self.owner.group), name.to_string()),
            (format!("{}/namespace", self.owner.group), namespace.to_string()),
        ])
    }

    /// Sets the owner labels `<group>/name` and `<group>/namespace` on every object.
    pub fn set_owner_labels(&self, objects: &mut [Value], name: &str, namespace: &str) {
        let labels = self.owner_labels(name, namespace);
        for obj in objects {
            merge_string_map(obj, "labels", &labels);
        }
    }
}

/// Adds labels and annotations to every object (Flux's `SetCommonMetadata`, for a
/// Kustomization's `spec.commonMetadata`).
pub fn set_common_metadata(
    objects: &mut [Value],
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    for obj in objects {
        merge_string_map(obj, "labels", labels);
        merge_string_map(obj, "annotations", annotations);
    }
}
