//! A Provider with its Secrets resolved: notification-controller's `createNotifier` and
//! `extractAuthFromSecret` (`internal/server/event_handlers.go`) — `spec.address`, or the
//! `address` key of `secretRef`; `token`, `username`, `password`, `headers` (YAML map) and the
//! deprecated `proxy` key; `proxySecretRef` (`address`, `username`, `password`);
//! `certSecretRef` (`ca.crt`, `tls.crt`, `tls.key`), or for commit-status providers a `ca.crt`
//! in `secretRef`; `spec.timeout` (default 15 s).

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_api::notification::Provider;

use crate::http::Transport;

/// Upstream's default delivery timeout (`Provider.GetTimeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Secret data by key.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// Why a Provider could not be turned into a notifier configuration. Messages never hold a
/// secret's values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A referenced Secret could not be read.
    #[error("failed to get secret '{namespace}/{name}': {reason}")]
    Secret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why (not found, API error).
        reason: String,
    },
    /// The `address` key is too long.
    #[error("invalid address in secret: address exceeds maximum length of 2048 bytes")]
    AddressTooLong,
    /// The `proxy` key is not a URL.
    #[error("invalid 'proxy' in secret '{0}'")]
    Proxy(String),
    /// The `headers` key is not a YAML map of strings.
    #[error("failed to read headers from secret: {0}")]
    Headers(String),
    /// The proxy Secret has no `address`.
    #[error("failed to get proxy URL: secret '{0}': key 'address' not found")]
    ProxyAddress(String),
    /// The certificate Secret is incomplete.
    #[error("failed to get TLS config: {0}")]
    Tls(String),
    /// `spec.timeout` does not parse.
    #[error("invalid timeout {0:?}")]
    Timeout(String),
}

/// Everything a notifier needs (upstream's `notifierOptions`).
#[derive(Clone, Default)]
pub struct ProviderConfig {
    /// The provider type.
    pub provider_type: String,
    /// The endpoint (`spec.address` or the secret's `address`).
    pub url: String,
    /// `spec.channel`.
    pub channel: String,
    /// `spec.username`, or the secret's `username`.
    pub username: String,
    /// The secret's `password`.
    pub password: String,
    /// The secret's `token`.
    pub token: String,
    /// The secret's `headers`.
    pub headers: BTreeMap<String, String>,
    /// Proxy and TLS.
    pub transport: Transport,
    /// The whole secret (providers that read more keys, e.g. NATS).
    pub secret_data: SecretData,
    /// The provider's uid.
    pub provider_uid: String,
    /// The provider's name.
    pub provider_name: String,
    /// The provider's namespace.
    pub provider_namespace: String,
    /// The commit status key (commit-status providers).
    pub commit_status: String,
    /// The delivery timeout.
    pub timeout: Duration,
    /// Bitbucket Cloud's API base (empty: api.bitbucket.org), from `BITBUCKET_API_BASE_URL`
    /// as go-bitbucket reads it.
    pub bitbucket_api: String,
    /// The Pub/Sub emulator (`PUBSUB_EMULATOR_HOST`, as the Go client reads it).
    pub pubsub_emulator: Option<String>,
    /// Pub/Sub's API base (empty: pubsub.googleapis.com).
    pub pubsub_api: String,
    /// Event Hubs' base URL (empty: `https://<namespace>`).
    pub eventhub_base: String,
    /// The Alert being delivered (`otel` names its resource after it).
    pub alert_name: String,
    /// The Alert's namespace.
    pub alert_namespace: String,
    /// The Alert's uid.
    pub alert_uid: String,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("provider_type", &self.provider_type)
            .field("provider", &format!("{}/{}", self.provider_namespace, self.provider_name))
            .field("channel", &self.channel)
            .field("transport", &self.transport)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The Secrets a Provider references, as read from the cluster (`None`: not referenced).
#[derive(Debug, Default, Clone)]
pub struct ProviderSecrets {
    /// `spec.secretRef`.
    pub secret: Option<SecretData>,
    /// `spec.proxySecretRef`.
    pub proxy: Option<SecretData>,
    /// `spec.certSecretRef`.
    pub cert: Option<SecretData>,
}

/// Whether the type sets commit statuses (`isCommitStatusProvider`).
#[must_use]
pub fn is_commit_status_provider(t: &str) -> bool {
    matches!(t, "github" | "gitlab" | "gitea" | "bitbucketserver" | "bitbucket" | "azuredevops")
}

/// Whether the type forwards events as they are (`isGenericProvider`).
#[must_use]
pub fn is_generic_provider(t: &str) -> bool {
    matches!(t, "generic" | "generic-hmac")
}

/// Whether the type comments on change requests (`isChangeRequestProvider`).
#[must_use]
pub fn is_change_request_provider(t: &str) -> bool {
    matches!(t, "githubpullrequestcomment" | "gitlabmergerequestcomment" | "giteapullrequestcomment")
}

fn text(data: &SecretData, key: &str) -> Option<String> {
    data.get(key).map(|v| String::from_utf8_lossy(v).trim().to_owned())
}

/// Resolves `provider` with its `secrets`.
///
/// # Errors
/// [`ConfigError`] for malformed secret data or timeout.
pub fn resolve(provider: &Provider, secrets: &ProviderSecrets) -> Result<ProviderConfig, ConfigError> {
    let spec = &provider.spec;
    let ns = provider.metadata.namespace.clone().unwrap_or_default();
    let timeout = match spec.timeout.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => eddy_controller_runtime::duration::parse(t).map_err(|_| ConfigError::Timeout(t.to_owned()))?,
        None => DEFAULT_TIMEOUT,
    };
    let mut cfg = ProviderConfig {
        provider_type: spec.r#type.clone(),
        url: spec.address.clone().unwrap_or_default(),
        channel: spec.channel.clone().unwrap_or_default(),
        username: spec.username.clone().unwrap_or_default(),
        provider_uid: provider.metadata.uid.clone().unwrap_or_default(),
        provider_name: provider.metadata.name.clone().unwrap_or_default(),
        provider_namespace: ns.clone(),
        timeout,
        bitbucket_api: std::env::var("BITBUCKET_API_BASE_URL").unwrap_or_default(),
        pubsub_emulator: std::env::var("PUBSUB_EMULATOR_HOST").ok().filter(|h| !h.is_empty()),
        ..ProviderConfig::default()
    };
    if let Some(proxy) = spec.proxy.as_deref().filter(|p| !p.is_empty()) {
        tracing::warn!(provider = %cfg.provider_name, "spec.proxy is deprecated, please use spec.proxySecretRef instead");
        cfg.transport.proxy = Some(proxy.to_owned());
    }
    if let Some(data) = &secrets.secret {
        if data.get("address").is_some_and(|a| a.len() > 2048) {
            return Err(ConfigError::AddressTooLong);
        }
        if let Some(proxy) = text(data, "proxy") {
            let name = spec.secret_ref.as_ref().map(|r| format!("{ns}/{}", r.name)).unwrap_or_default();
            url::Url::parse(&proxy).map_err(|_| ConfigError::Proxy(name))?;
            cfg.transport.proxy = Some(proxy);
        }
        if let Some(h) = data.get("headers") {
            let headers: BTreeMap<String, String> =
                serde_norway::from_slice(h).map_err(|e| ConfigError::Headers(e.to_string()))?;
            cfg.headers = headers;
        }
        if let Some(token) = data.get("token") {
            cfg.token = String::from_utf8_lossy(token).into_owned();
        }
        if let Some(user) = data.get("username") {
            cfg.username = String::from_utf8_lossy(user).into_owned();
            cfg.password = data.get("password").map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        }
        if let Some(address) = text(data, "address") {
            cfg.url = address;
        }
        if let Some(token) = text(data, "token") {
            cfg.token = token;
        }
        cfg.secret_data = data.clone();
    }
    if let Some(data) = &secrets.proxy {
        let name = spec.proxy_secret_ref.as_ref().map(|r| format!("{ns}/{}", r.name)).unwrap_or_default();
        let address = text(data, "address").filter(|a| !a.is_empty()).ok_or(ConfigError::ProxyAddress(name.clone()))?;
        let mut u = url::Url::parse(&address).map_err(|_| ConfigError::Proxy(name))?;
        if let Some(user) = text(data, "username") {
            let _ = u.set_username(&user);
            let _ = u.set_password(text(data, "password").as_deref());
        }
        cfg.transport.proxy = Some(u.to_string());
    }
    let tls_source = match (&secrets.cert, &secrets.secret) {
        (Some(cert), _) => Some(cert),
        (None, Some(secret)) if is_commit_status_provider(&spec.r#type) && secret.contains_key("ca.crt") => {
            Some(secret)
        }
        _ => None,
    };
    if let Some(data) = tls_source {
        // Flux's TLSConfigFromSecret also reads the legacy `caFile`, `certFile`, `keyFile`.
        let ca = data.get("ca.crt").or_else(|| data.get("caFile")).cloned();
        let cert = data.get("tls.crt").or_else(|| data.get("certFile"));
        let key = data.get("tls.key").or_else(|| data.get("keyFile"));
        match (cert, key) {
            (Some(c), Some(k)) => cfg.transport.client_pem = Some((c.clone(), k.clone())),
            (None, None) => {}
            _ => return Err(ConfigError::Tls("secret must contain both tls.crt and tls.key".into())),
        }
        if ca.is_none() && cfg.transport.client_pem.is_none() {
            return Err(ConfigError::Tls("secret must contain either ca.crt or both tls.crt and tls.key".into()));
        }
        cfg.transport.ca_pem = ca;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use eddy_api::meta::LocalObjectReference;

    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
    }

    // Follows event_handlers.go createNotifier / extractAuthFromSecret.
    #[test]
    fn secret_keys_override_the_spec() {
        let mut p = Provider::new("p", "ns");
        p.spec.r#type = "generic".into();
        p.spec.address = Some("http://spec".into());
        p.spec.username = Some("spec-user".into());
        p.spec.secret_ref = Some(LocalObjectReference { name: "s".into() });
        let secrets = ProviderSecrets {
            secret: Some(data(&[
                ("address", " http://secret \n"),
                ("token", "tok\n"),
                ("headers", "X-A: one\nX-B: two\n"),
            ])),
            ..Default::default()
        };
        let c = resolve(&p, &secrets).unwrap();
        assert_eq!(c.url, "http://secret");
        assert_eq!(c.token, "tok");
        assert_eq!(c.username, "spec-user");
        assert_eq!(c.headers.get("X-B").map(String::as_str), Some("two"));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(!format!("{c:?}").contains("tok"));
    }

    #[test]
    fn proxy_secret_and_tls() {
        let mut p = Provider::new("p", "ns");
        p.spec.r#type = "slack".into();
        p.spec.timeout = Some("5s".into());
        p.spec.proxy_secret_ref = Some(LocalObjectReference { name: "px".into() });
        let secrets = ProviderSecrets {
            proxy: Some(data(&[("address", "http://proxy:3128"), ("username", "u"), ("password", "pw")])),
            cert: Some(data(&[("ca.crt", "CA")])),
            ..Default::default()
        };
        let c = resolve(&p, &secrets).unwrap();
        assert_eq!(c.transport.proxy.as_deref(), Some("http://u:pw@proxy:3128/"));
        assert_eq!(c.transport.ca_pem.as_deref(), Some(b"CA".as_slice()));
        assert_eq!(c.timeout, Duration::from_secs(5));
        let bad = ProviderSecrets { cert: Some(data(&[("tls.crt", "C")])), ..Default::default() };
        assert!(matches!(resolve(&p, &bad), Err(ConfigError::Tls(_))));
        let bad = ProviderSecrets { proxy: Some(data(&[])), ..Default::default() };
        assert!(matches!(resolve(&p, &bad), Err(ConfigError::ProxyAddress(_))));
    }

    #[test]
    fn malformed_headers_fail_without_values() {
        let mut p = Provider::new("p", "ns");
        p.spec.r#type = "generic".into();
        let secrets = ProviderSecrets { secret: Some(data(&[("headers", "- not a map")])), ..Default::default() };
        let err = resolve(&p, &secrets).unwrap_err().to_string();
        assert!(err.starts_with("failed to read headers from secret"), "{err}");
    }
}
