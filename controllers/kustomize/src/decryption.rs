//! `spec.decryption`: the keys of the referenced Secret, read with the controller's own
//! identity (as kustomize-controller reads them), and AWS KMS reached with the Secret's
//! `sops.aws-kms` credentials or Eddy's own (its environment).

use std::collections::BTreeMap;

use eddy_api::kustomize::Decryption;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// Reads the decryption keys of a Kustomization in `namespace`, with a fingerprint of the
/// Secret's content (for the build cache; a hash, never the keys).
///
/// # Errors
/// An unsupported provider, a missing Secret, or a key entry that does not parse (the message
/// names the Secret and entry, never key material).
pub async fn keys(
    client: &kube::Client,
    namespace: &str,
    decryption: &Decryption,
) -> Result<(eddy_sops::Keys, String), String> {
    if decryption.provider != "sops" {
        return Err(format!("unsupported decryption provider '{}'", decryption.provider));
    }
    let Some(reference) = decryption.secret_ref.as_ref() else {
        return Ok((eddy_sops::Keys::default().with_aws_kms(aws_kms()), String::new()));
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get(&reference.name).await.map_err(|e| {
        format!(
            "cannot get {} decryption Secret '{namespace}/{}': {}",
            decryption.provider,
            reference.name,
            crate::postbuild::api_message(&e)
        )
    })?;
    let data: BTreeMap<String, Vec<u8>> = secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
    let fingerprint = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for (k, v) in &data {
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let keys = eddy_sops::Keys::from_secret_data(&data)
        .map_err(|e| format!("failed to read decryption keys from Secret '{namespace}/{}': {e}", reference.name))?;
    Ok((keys.with_aws_kms(aws_kms()), fingerprint))
}

/// How AWS KMS keys are reached: endpoints and the controller's own credentials from Eddy's
/// environment (`AWS_ENDPOINT_URL[_KMS|_STS]`, `AWS_ACCESS_KEY_ID`, …), read once.
fn aws_kms() -> eddy_sops::aws::AwsKms {
    static KMS: std::sync::OnceLock<eddy_sops::aws::AwsKms> = std::sync::OnceLock::new();
    KMS.get_or_init(eddy_sops::aws::AwsKms::from_env).clone()
}
