//! `spec.kubeConfig.configMapRef`: a remote cluster reached with workload identity, as
//! fluxcd/pkg `auth/utils.GetRESTConfig` reads it — a ConfigMap in the Kustomization's
//! namespace with `provider`, `address`, `ca.crt`, `serviceAccountName`, `audiences` (one per
//! line) and `cluster`.
//!
//! Eddy implements the `generic` provider (Kubernetes service account tokens, `auth/generic`):
//! with `serviceAccountName`, a token of that account in the Kustomization's namespace
//! (object-level workload identity, behind the `ObjectLevelWorkloadIdentity` feature gate as
//! in Flux); without, a token of the controller's own account, named by the in-cluster token
//! file. The token is requested through the TokenRequest API with the configured audiences
//! (default: the cluster address) and sent as a bearer token to `address`. The cloud providers
//! (`aws`, `azure`, `gcp`) need their identity services and are refused with a clear error.

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::PostParams;

use crate::impersonation::ClientBuildError;

/// fluxcd/pkg `auth.ErrObjectLevelWorkloadIdentityNotEnabled`.
const GATE_DISABLED: &str = "ObjectLevelWorkloadIdentity feature gate is not enabled";

/// The in-cluster token file whose subject names the controller's own service account.
const TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Builds the configuration of the cluster the ConfigMap `namespace/name` describes; `local`
/// is the controller's client to the cluster holding the ConfigMap and service accounts.
///
/// # Errors
/// Messages as fluxcd/pkg words them (missing ConfigMap, unknown provider, missing address,
/// feature gate, token request failures); a token never appears in one.
pub(crate) async fn remote_config(
    local: &kube::Client,
    namespace: &str,
    name: &str,
    object_level: bool,
) -> Result<kube::Config, ClientBuildError> {
    let err = |m: String| ClientBuildError(m);
    let cm = Api::<ConfigMap>::namespaced(local.clone(), namespace).get(name).await.map_err(|e| {
        err(format!("failed to get configmap {namespace}/{name}: {}", crate::postbuild::api_message(&e)))
    })?;
    let data: BTreeMap<String, String> = cm.data.unwrap_or_default();
    let provider = data.get("provider").map(String::as_str).unwrap_or_default();
    match provider {
        "generic" => {}
        "aws" | "azure" | "gcp" => {
            return Err(err(format!(
                "provider '{provider}' is not supported by Eddy: only 'generic' (Kubernetes service account tokens) is"
            )));
        }
        other => return Err(err(format!("provider '{other}' not implemented"))),
    }
    let address = data.get("address").map(|a| a.trim()).unwrap_or_default();
    if address.is_empty() {
        return Err(err("cluster address is required to create a REST config".into()));
    }
    let host = parse_cluster_address(address)
        .ok_or_else(|| err(format!("failed to parse cluster address {address}: not an https URL")))?;
    let mut audiences: Vec<String> = data
        .get("audiences")
        .map(|a| a.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences.push(address.to_owned());
    }
    let service_account = match data.get("serviceAccountName").filter(|s| !s.is_empty()) {
        Some(sa) => {
            if !object_level {
                return Err(err(format!("failed to get access token for cluster: {GATE_DISABLED}")));
            }
            let api = Api::<ServiceAccount>::namespaced(local.clone(), namespace);
            api.get(sa).await.map_err(|e| {
                err(format!(
                    "failed to get access token for cluster: failed to get service account '{namespace}/{sa}': {}",
                    crate::postbuild::api_message(&e)
                ))
            })?;
            (namespace.to_owned(), sa.clone())
        }
        None => controller_service_account().map_err(|m| {
            err(format!(
                "failed to get access token for cluster: failed to create provider access token for the controller: {m}"
            ))
        })?,
    };
    let token = request_token(local, &service_account.0, &service_account.1, audiences)
        .await
        .map_err(|m| err(format!("failed to get access token for cluster: {m}")))?;
    let mut config =
        kube::Config::new(host.parse().map_err(|_| err(format!("failed to parse cluster address {address}")))?);
    if let Some(ca) = data.get("ca.crt").filter(|c| !c.trim().is_empty()) {
        let certs = pem_certificates(ca);
        if certs.is_empty() {
            return Err(err(format!("configmap {namespace}/{name}: 'ca.crt' holds no PEM certificate")));
        }
        config.root_cert = Some(certs);
    }
    config.auth_info.token = Some(token.into());
    Ok(config)
}

/// fluxcd/pkg `auth.ParseClusterAddress`: an `https://` URL (a bare host gets the scheme).
fn parse_cluster_address(address: &str) -> Option<String> {
    let url = if address.contains("://") { address.to_owned() } else { format!("https://{address}") };
    let parsed = reqwest::Url::parse(&url).ok()?;
    (parsed.scheme() == "https" && parsed.host_str().is_some()).then(|| url.trim_end_matches('/').to_owned())
}

/// The controller's own service account, from the subject of its in-cluster token.
fn controller_service_account() -> Result<(String, String), String> {
    let token = std::fs::read_to_string(TOKEN_FILE)
        .map_err(|e| format!("failed to read service account token file {TOKEN_FILE}: {e}"))?;
    let subject = jwt_subject(token.trim()).ok_or("failed to parse service account token")?;
    match subject.split(':').collect::<Vec<_>>().as_slice() {
        ["system", "serviceaccount", ns, name] => Ok(((*ns).to_owned(), (*name).to_owned())),
        _ => Err(format!("invalid subject format in service account token: {subject}")),
    }
}

/// The `sub` claim of a JWT, unverified (as upstream's `ParseUnverified`).
fn jwt_subject(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

async fn request_token(
    local: &kube::Client,
    namespace: &str,
    name: &str,
    audiences: Vec<String>,
) -> Result<String, String> {
    let api = Api::<ServiceAccount>::namespaced(local.clone(), namespace);
    let request =
        TokenRequest { spec: TokenRequestSpec { audiences, ..TokenRequestSpec::default() }, ..TokenRequest::default() };
    let answer = api.create_token_request(name, &PostParams::default(), &request).await.map_err(|e| {
        format!(
            "failed to create kubernetes token for service account '{namespace}/{name}': {}",
            crate::postbuild::api_message(&e)
        )
    })?;
    answer
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the token request for service account '{namespace}/{name}' returned no token"))
}

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (line, body.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", _) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b)) => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    out.push(der);
                }
                body = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_as_fluxcd_pkg() {
        assert_eq!(parse_cluster_address("https://10.0.0.1:6443/").as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(parse_cluster_address("api.example.com").as_deref(), Some("https://api.example.com"));
        assert_eq!(parse_cluster_address("http://api.example.com"), None);
    }

    #[test]
    fn subjects_of_service_account_tokens() {
        use base64::Engine as _;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"system:serviceaccount:flux-system:kustomize-controller"}"#);
        assert_eq!(
            jwt_subject(&format!("e30.{claims}.sig")).as_deref(),
            Some("system:serviceaccount:flux-system:kustomize-controller")
        );
        assert_eq!(jwt_subject("not a token"), None);
    }

    #[test]
    fn pem_bundles() {
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![vec![1, 2, 3], vec![4, 5, 6]]);
        assert!(pem_certificates("nothing").is_empty());
    }
}
