//! REST mapping: from `apiVersion` and kind (or group and kind) to the resource's URL, through
//! the API's discovery documents, cached per manager. A miss refreshes the group version, so
//! kinds of CRDs applied in an earlier stage are found in later ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIResource};
use kube::core::Request;
use kube::core::params::GetParams;

use crate::error::RequestError;

/// Where a kind lives: its `apiVersion`, plural resource and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// `group/version`, or `v1` for the core group.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The plural resource name (`deployments`).
    pub plural: String,
    /// Whether objects of the kind live in namespaces.
    pub namespaced: bool,
}

impl Mapping {
    /// The collection URL for objects in `namespace` (ignored when cluster-scoped). A
    /// namespaced kind with an empty namespace gets the all-namespaces URL, as client-go
    /// builds it (the server then answers NotFound for a single object).
    #[must_use]
    pub fn collection_path(&self, namespace: &str) -> String {
        let base = if self.api_version.contains('/') {
            format!("/apis/{}", self.api_version)
        } else {
            format!("/api/{}", self.api_version)
        };
        if self.namespaced && !namespace.is_empty() {
            format!("{base}/namespaces/{namespace}/{}", self.plural)
        } else {
            format!("{base}/{}", self.plural)
        }
    }

    /// A request builder for the collection.
    #[must_use]
    pub fn request(&self, namespace: &str) -> Request {
        Request::new(self.collection_path(namespace))
    }
}

/// A discovery cache over one client.
#[derive(Clone)]
pub struct RestMapper {
    client: kube::Client,
    /// Group version → its top-level resources.
    resources: Arc<Mutex<HashMap<String, Arc<Vec<APIResource>>>>>,
    /// Group → its versions, preferred first.
    groups: Arc<Mutex<HashMap<String, Arc<Vec<String>>>>>,
}

impl RestMapper {
    /// An empty cache over `client`.
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self { client, resources: Arc::default(), groups: Arc::default() }
    }

    /// The mapping of `kind` in `api_version`.
    ///
    /// # Errors
    /// [`RequestError::NoKindMatch`] when the API serves no such kind; the discovery
    /// request's failure otherwise.
    pub async fn map(&self, api_version: &str, kind: &str) -> Result<Mapping, RequestError> {
        let cached = self.resources.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(api_version).cloned();
        if let Some(resources) = cached
            && let Some(m) = find(&resources, api_version, kind)
        {
            return Ok(m);
        }
        let resources = self.refresh(api_version).await?;
        find(&resources, api_version, kind).ok_or_else(|| RequestError::NoKindMatch {
            kind: kind.to_string(),
            scope: format!("version \"{api_version}\""),
        })
    }

    /// The mapping of `kind` in `group`, in the group's preferred version if it serves the
    /// kind, else in the first other version that does.
    ///
    /// # Errors
    /// [`RequestError::NoKindMatch`] when no version of the group serves the kind.
    pub async fn map_group_kind(&self, group: &str, kind: &str) -> Result<Mapping, RequestError> {
        let no_match = || RequestError::NoKindMatch { kind: kind.to_string(), scope: format!("group \"{group}\"") };
        for refresh in [false, true] {
            let versions = self.group_versions(group, refresh).await?;
            for version in versions.iter() {
                let api_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
                match self.map(&api_version, kind).await {
                    Ok(m) => return Ok(m),
                    Err(RequestError::NoKindMatch { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Err(no_match())
    }

    /// The versions of a group, preferred first.
    async fn group_versions(&self, group: &str, refresh: bool) -> Result<Arc<Vec<String>>, RequestError> {
        if group.is_empty() {
            return Ok(Arc::new(vec!["v1".to_string()]));
        }
        if !refresh
            && let Some(v) = self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(group).cloned()
        {
            return Ok(v);
        }
        // `/apis/<group>` is the group's discovery document.
        let request = Request::new("/apis")
            .get(group, &GetParams::default())
            .map_err(|e| RequestError::Transport(e.to_string()))?;
        let result: Result<APIGroup, kube::Error> = self.client.request(request).await;
        let versions = match result {
            Ok(g) => {
                let preferred = g.preferred_version.map(|p| p.version);
                let mut versions: Vec<String> = preferred.iter().cloned().collect();
                versions.extend(g.versions.into_iter().map(|v| v.version).filter(|v| Some(v) != preferred.as_ref()));
                versions
            }
            Err(e) => {
                let e = RequestError::from(e);
                if e.is_not_found() {
                    Vec::new()
                } else {
                    return Err(e);
                }
            }
        };
        let versions = Arc::new(versions);
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(group.to_string(), versions.clone());
        Ok(versions)
    }

    /// Fetches (and caches) the resources of a group version; an unknown group version has
    /// none.
    async fn refresh(&self, api_version: &str) -> Result<Arc<Vec<APIResource>>, RequestError> {
        let result = if api_version.contains('/') {
            self.client.list_api_group_resources(api_version).await
        } else {
            self.client.list_core_api_resources(api_version).await
        };
        let resources = match result {
            Ok(list) => list.resources.into_iter().filter(|r| !r.name.contains('/')).collect(),
            Err(e) => {
                let e = RequestError::from(e);
                if e.is_not_found() {
                    Vec::new()
                } else {
                    return Err(e);
                }
            }
        };
        tracing::debug!(api_version, count = resources.len(), "discovered resources");
        let resources = Arc::new(resources);
        self.resources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(api_version.to_string(), resources.clone());
        Ok(resources)
    }
}

/// The mapping of `kind` among a group version's resources.
fn find(resources: &[APIResource], api_version: &str, kind: &str) -> Option<Mapping> {
    resources.iter().find(|r| r.kind == kind).map(|r| Mapping {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        plural: r.name.clone(),
        namespaced: r.namespaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_paths() {
        let m = |v: &str, p: &str, ns: bool| Mapping {
            api_version: v.into(),
            kind: String::new(),
            plural: p.into(),
            namespaced: ns,
        };
        assert_eq!(
            m("apps/v1", "deployments", true).collection_path("prod"),
            "/apis/apps/v1/namespaces/prod/deployments"
        );
        assert_eq!(m("v1", "configmaps", true).collection_path("a"), "/api/v1/namespaces/a/configmaps");
        assert_eq!(m("v1", "namespaces", false).collection_path("ignored"), "/api/v1/namespaces");
        assert_eq!(m("v1", "configmaps", true).collection_path(""), "/api/v1/configmaps");
    }
}
