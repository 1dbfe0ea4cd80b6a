//! The requests the manager sends: GET, server-side apply (dry-run or not), merge patch and
//! DELETE of one object, on untyped JSON so that every field round-trips.

use kube::core::params::{DeleteParams, GetParams, Patch, PatchParams};
use serde_json::Value;

use crate::discovery::Mapping;
use crate::error::RequestError;

/// Maps a request-building failure (an invalid name) to a [`RequestError`].
#[allow(clippy::needless_pass_by_value)] // used as `map_err(build)`
fn build(e: kube::core::request::Error) -> RequestError {
    RequestError::Transport(e.to_string())
}

/// GET an object.
pub async fn get(client: &kube::Client, mapping: &Mapping, namespace: &str, name: &str) -> Result<Value, RequestError> {
    let request = mapping.request(namespace).get(name, &GetParams::default()).map_err(build)?;
    Ok(client.request::<Value>(request).await?)
}

/// Server-side applies `obj` as `field_manager`, forcing conflicts (as Flux does); with
/// `dry_run`, nothing is persisted. Returns the server's result.
pub async fn apply(
    client: &kube::Client,
    mapping: &Mapping,
    obj: &Value,
    field_manager: &str,
    dry_run: bool,
) -> Result<Value, RequestError> {
    let mut params = PatchParams::apply(field_manager).force();
    if dry_run {
        params = params.dry_run();
    }
    let name = crate::meta::name(obj);
    let request =
        mapping.request(crate::meta::namespace(obj)).patch(name, &params, &Patch::Apply(obj)).map_err(build)?;
    Ok(client.request::<Value>(request).await?)
}

/// Merge-patches an object as `field_manager`. Returns the server's result.
pub async fn merge_patch(
    client: &kube::Client,
    mapping: &Mapping,
    namespace: &str,
    name: &str,
    patch: &Value,
    field_manager: &str,
) -> Result<Value, RequestError> {
    let params = PatchParams { field_manager: Some(field_manager.to_string()), ..PatchParams::default() };
    let request = mapping.request(namespace).patch(name, &params, &Patch::Merge(patch)).map_err(build)?;
    Ok(client.request::<Value>(request).await?)
}

/// Deletes an object with background propagation.
pub async fn delete(client: &kube::Client, mapping: &Mapping, namespace: &str, name: &str) -> Result<(), RequestError> {
    let request = mapping.request(namespace).delete(name, &DeleteParams::background()).map_err(build)?;
    client.request::<Value>(request).await?;
    Ok(())
}
