//! The variables of `spec.postBuild`: `substituteFrom` ConfigMaps and Secrets, read from the
//! cluster in order (later wins; `optional` tolerates a missing object), then the inline
//! `substitute` map, which wins over all.

use std::collections::BTreeMap;

use eddy_api::kustomize::PostBuild;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

/// Why the variables could not be read.
#[derive(Debug, thiserror::Error)]
#[error("substitute from '{kind}/{name}' failed: {message}")]
pub struct VarsError {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// What went wrong (the API's message; never values).
    pub message: String,
}

/// Reads the variables of `post_build` for a Kustomization in `namespace`, with `client`
/// (impersonating the Kustomization's service account when it has one).
///
/// # Errors
/// A referenced object that is missing (and not optional) or unreadable.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    post_build: &PostBuild,
) -> Result<BTreeMap<String, String>, VarsError> {
    let mut vars = BTreeMap::new();
    for reference in post_build.substitute_from.as_deref().unwrap_or_default() {
        let optional = reference.optional.unwrap_or(false);
        let err = |message: String| VarsError { kind: reference.kind.clone(), name: reference.name.clone(), message };
        let found: Option<BTreeMap<String, String>> = match reference.kind.as_str() {
            "ConfigMap" => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
                match api.get_opt(&reference.name).await {
                    Ok(Some(cm)) => Some(cm.data.unwrap_or_default()),
                    Ok(None) => None,
                    Err(e) => return Err(err(api_message(&e))),
                }
            }
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
                match api.get_opt(&reference.name).await {
                    Ok(Some(s)) => {
                        let mut data = BTreeMap::new();
                        for (k, v) in s.data.unwrap_or_default() {
                            data.insert(k, String::from_utf8_lossy(&v.0).into_owned());
                        }
                        for (k, v) in s.string_data.unwrap_or_default() {
                            data.insert(k, v);
                        }
                        Some(data)
                    }
                    Ok(None) => None,
                    Err(e) => return Err(err(api_message(&e))),
                }
            }
            other => return Err(err(format!("unsupported kind {other:?}"))),
        };
        match found {
            Some(data) => vars.extend(data),
            None if optional => {}
            None => {
                let plural = if reference.kind == "Secret" { "secrets" } else { "configmaps" };
                return Err(err(format!("{plural} \"{}\" not found", reference.name)));
            }
        }
    }
    if let Some(inline) = &post_build.substitute {
        vars.extend(inline.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(vars)
}

/// The API server's message of an error (its `Status.message`), else the error's text.
#[must_use]
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
