//! The two clients a controller holds, and typed access to Flux objects.
//!
//! - [`Clients::flux`]: a `kube::Client` for the Flux kinds. In `eddy serve` it wraps Eddy's own
//!   HTTP router as an in-process `tower::Service`: no socket, no TLS, but the same request
//!   semantics as any client (admission, managedFields, resourceVersions, watch). Out of
//!   process it could be a normal client; the controllers cannot tell.
//! - [`Clients::cluster`]: a `kube::Client` for the real cluster: Secrets, ConfigMaps, Events,
//!   Leases, and what the controllers apply.
//!
//! [`FluxApi`] reads and writes one Flux kind through the dynamic API, converting to and from
//! the typed structs of `eddy-api` (see [`crate::object`]).

use std::marker::PhantomData;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

use crate::object::{DecodeError, FluxObject, decode};

/// The clients every controller gets.
#[derive(Clone)]
pub struct Clients {
    /// The Flux API (Eddy's own router in process).
    pub flux: kube::Client,
    /// The real cluster.
    pub cluster: kube::Client,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

/// Why a request for a Flux object failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error or could not be reached.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// The answer did not fit the typed struct.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl ClientError {
    /// Whether the API said 404.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(kube::Error::Api(s)) if s.code == 404)
    }

    /// Whether the API said 409 (a conflict on resourceVersion or an existing name).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Api(kube::Error::Api(s)) if s.code == 409)
    }
}

/// Typed access to one Flux kind, in one namespace or all.
pub struct FluxApi<T> {
    api: Api<DynamicObject>,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Clone for FluxApi<T> {
    fn clone(&self) -> Self {
        Self { api: self.api.clone(), _kind: PhantomData }
    }
}

impl<T: FluxObject> FluxApi<T> {
    /// The objects of one namespace.
    #[must_use]
    pub fn namespaced(client: kube::Client, namespace: &str) -> Self {
        Self { api: Api::namespaced_with(client, namespace, &T::api_resource()), _kind: PhantomData }
    }

    /// The objects of every namespace (for lists and watches).
    #[must_use]
    pub fn all(client: kube::Client) -> Self {
        Self { api: Api::all_with(client, &T::api_resource()), _kind: PhantomData }
    }

    /// The dynamic API underneath (for watches).
    #[must_use]
    pub fn dynamic(&self) -> &Api<DynamicObject> {
        &self.api
    }

    /// Reads one object.
    ///
    /// # Errors
    /// [`ClientError`]; `is_not_found()` tells a missing object.
    pub async fn get(&self, name: &str) -> Result<T, ClientError> {
        Ok(decode(self.api.get(name).await?)?)
    }

    /// Reads one object, `None` when it does not exist.
    ///
    /// # Errors
    /// [`ClientError`] for anything but 404.
    pub async fn get_opt(&self, name: &str) -> Result<Option<T>, ClientError> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists the objects (every page).
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn list(&self, params: &ListParams) -> Result<Vec<T>, ClientError> {
        let list = self.api.list(params).await?;
        list.items.into_iter().map(|o| decode(o).map_err(ClientError::from)).collect()
    }

    /// A JSON merge patch of the object (metadata and spec) as `field_manager`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn merge_patch(&self, name: &str, patch: &Value, field_manager: &str) -> Result<T, ClientError> {
        let pp = PatchParams { field_manager: Some(field_manager.to_owned()), ..PatchParams::default() };
        Ok(decode(self.api.patch(name, &pp, &Patch::Merge(patch)).await?)?)
    }

    /// A JSON merge patch of the status subresource as `field_manager`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn merge_patch_status(&self, name: &str, patch: &Value, field_manager: &str) -> Result<T, ClientError> {
        let pp = PatchParams { field_manager: Some(field_manager.to_owned()), ..PatchParams::default() };
        Ok(decode(self.api.patch_status(name, &pp, &Patch::Merge(patch)).await?)?)
    }
}
