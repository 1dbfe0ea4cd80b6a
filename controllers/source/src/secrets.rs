//! Reading Secrets from the real cluster, with the error text Flux users know
//! (`secrets "name" not found`), never the values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// Why a Secret could not be read. Displays as kube-apiserver's message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SecretError {
    message: String,
    not_found: bool,
}

impl SecretError {
    /// Whether the Secret does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.not_found
    }
}

/// The data of Secret `namespace/name` (`stringData` is folded into `data` by the API).
///
/// # Errors
/// [`SecretError`] with the API's message (`secrets "x" not found`, a 403's text, ...).
pub async fn secret_data(
    cluster: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, SecretError> {
    let api: Api<Secret> = Api::namespaced(cluster.clone(), namespace);
    match api.get(name).await {
        Ok(secret) => Ok(secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()),
        Err(kube::Error::Api(status)) => {
            Err(SecretError { not_found: status.code == 404, message: status.message.clone() })
        }
        Err(e) => Err(SecretError { not_found: false, message: e.to_string() }),
    }
}
