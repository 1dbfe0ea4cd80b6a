//! Authentication and authorization of an aggregated API server, delegated to the cluster's
//! kube-apiserver as k8s.io/apiserver's `DelegatingAuthenticationOptions` and
//! `DelegatingAuthorizationOptions` do.
//!
//! Authentication, in order:
//! 1. **Front proxy.** A connection whose client certificate chains to the request-header CA
//!    and whose common name is allowed carries the user in `X-Remote-User`,
//!    `X-Remote-Group` and `X-Remote-Extra-*` (the header names come from the ConfigMap).
//!    Those headers on any other connection are refused with 401: nobody but the proxy may
//!    assert an identity.
//! 2. **Client certificates** issued by the cluster's client CA: user = CN, groups = O.
//! 3. **Bearer tokens** through a `TokenReview`.
//!
//! The CAs, allowed names and header names are read from
//! `kube-system/extension-apiserver-authentication` and refreshed every minute.
//!
//! Authorization: members of `system:masters` are allowed (as the generic apiserver's
//! privileged-group authorizer does); everyone else is asked about with a
//! `SubjectAccessReview` whose attributes come from [`request_info::Attributes`]. Token
//! reviews and decisions (allowed and denied) are cached for ten seconds.
//!
//! # Guarantees
//! - Identity headers are taken only from the verified proxy and are removed from the request
//!   before it reaches the handlers.
//! - A request that is not authenticated gets 401 and a request that is not authorized gets
//!   403 before any handler runs: nothing is read or written for it.
//!
//! # Errors
//! A failing `TokenReview` is a 401 (the token could not be verified); a failing
//! `SubjectAccessReview` is a 500, as kube-apiserver answers when its webhook authorizer fails.

pub mod request_info;
pub mod x509;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use parking_lot::{Mutex, RwLock};
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::error_response;
use crate::status::{ApiError, Target};
use request_info::Attributes;
use x509::{CaVerifier, DynamicClientVerifier};

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID, when the authenticator knows one.
    pub uid: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The client certificate chain of a request's connection (leaf first), put into the
/// request's extensions by the connection handler.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// What `kube-system/extension-apiserver-authentication` says.
#[derive(Debug, Clone, Default)]
pub struct AuthenticationConfig {
    /// Issuer of client certificates that authenticate users directly.
    pub client_ca: Option<CaVerifier>,
    /// PEM of [`Self::client_ca`].
    pub client_ca_pem: String,
    /// Issuer of the front proxy's client certificate.
    pub requestheader_ca: Option<CaVerifier>,
    /// PEM of [`Self::requestheader_ca`].
    pub requestheader_ca_pem: String,
    /// Common names the proxy certificate may have (empty: any).
    pub allowed_names: Vec<String>,
    /// Headers carrying the user name, first non-empty wins.
    pub username_headers: Vec<String>,
    /// Headers carrying the UID.
    pub uid_headers: Vec<String>,
    /// Headers carrying groups (every value is a group).
    pub group_headers: Vec<String>,
    /// Prefixes of headers carrying extra attributes.
    pub extra_prefixes: Vec<String>,
}

fn json_list(data: &BTreeMap<String, String>, key: &str) -> Result<Vec<String>, String> {
    match data.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(s).map_err(|e| format!("{key}: {e}")),
    }
}

impl AuthenticationConfig {
    /// Reads the ConfigMap's data.
    ///
    /// # Errors
    /// When a CA bundle or a list cannot be parsed.
    pub fn from_configmap_data(data: &BTreeMap<String, String>) -> Result<Self, String> {
        let ca = |key: &str| -> Result<(Option<CaVerifier>, String), String> {
            match data.get(key).filter(|s| !s.trim().is_empty()) {
                None => Ok((None, String::new())),
                Some(pem) => {
                    let roots = x509::roots_from_pem(pem).map_err(|e| format!("{key}: {e}"))?;
                    Ok((Some(CaVerifier::new(roots).map_err(|e| format!("{key}: {e}"))?), pem.clone()))
                }
            }
        };
        let (client_ca, client_ca_pem) = ca("client-ca-file")?;
        let (requestheader_ca, requestheader_ca_pem) = ca("requestheader-client-ca-file")?;
        let lower = |v: Vec<String>| v.into_iter().map(|h| h.to_ascii_lowercase()).collect::<Vec<_>>();
        Ok(Self {
            client_ca,
            client_ca_pem,
            requestheader_ca,
            requestheader_ca_pem,
            allowed_names: json_list(data, "requestheader-allowed-names")?,
            username_headers: lower(json_list(data, "requestheader-username-headers")?),
            uid_headers: lower(json_list(data, "requestheader-uid-headers")?),
            group_headers: lower(json_list(data, "requestheader-group-headers")?),
            extra_prefixes: lower(json_list(data, "requestheader-extra-headers-prefix")?),
        })
    }

    fn is_identity_header(&self, name: &str) -> bool {
        self.username_headers.iter().chain(&self.uid_headers).chain(&self.group_headers).any(|h| h == name)
            || self.extra_prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// The identity the proxy asserted, or `None` when the request carries no user header.
    fn user_from_headers(&self, headers: &HeaderMap) -> Option<UserInfo> {
        let values = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .flat_map(|n| headers.get_all(n.as_str()).iter())
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned)
                .collect()
        };
        let name = values(&self.username_headers).into_iter().find(|v| !v.is_empty())?;
        let uid = values(&self.uid_headers).into_iter().find(|v| !v.is_empty()).unwrap_or_default();
        let groups = values(&self.group_headers);
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in headers {
            let key = k.as_str();
            if let Some(p) = self.extra_prefixes.iter().find(|p| key.starts_with(p.as_str()))
                && let Ok(v) = v.to_str()
            {
                let raw = &key[p.len()..];
                let decoded: String = percent_decode(raw).to_ascii_lowercase();
                extra.entry(decoded).or_default().push(v.to_owned());
            }
        }
        Some(UserInfo { name, uid, groups, extra })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 10_000;

/// A small map whose entries expire.
struct TtlCache<V> {
    entries: Mutex<HashMap<[u8; 32], (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &[u8; 32]) -> Option<V> {
        let entries = self.entries.lock();
        entries.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
    }

    fn put(&self, key: [u8; 32], value: V) {
        let mut entries = self.entries.lock();
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

/// A `SubjectAccessReview` answer.
#[derive(Debug, Clone)]
struct Decision {
    allowed: bool,
    reason: String,
}

/// Delegated authentication and authorization against a kube-apiserver.
pub struct Delegated {
    client: kube::Client,
    verifier: Arc<DynamicClientVerifier>,
    config: RwLock<Arc<AuthenticationConfig>>,
    tokens: TtlCache<Option<UserInfo>>,
    decisions: TtlCache<Decision>,
}

impl std::fmt::Debug for Delegated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delegated").field("config", &self.config.read()).finish_non_exhaustive()
    }
}

const AUTH_CONFIGMAP: &str = "extension-apiserver-authentication";

impl Delegated {
    /// Reads the authentication ConfigMap (retrying for up to `wait`) and starts refreshing it
    /// every minute. `verifier` is the one the TLS stack uses; its CAs follow the ConfigMap.
    ///
    /// # Errors
    /// When the ConfigMap cannot be read within `wait` or does not parse.
    pub async fn start(
        client: kube::Client,
        verifier: Arc<DynamicClientVerifier>,
        wait: Duration,
    ) -> Result<Arc<Self>, String> {
        let deadline = Instant::now() + wait;
        let config = loop {
            match load_config(&client).await {
                Ok(c) => break c,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("reading kube-system/{AUTH_CONFIGMAP}: {e}"));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading kube-system/{AUTH_CONFIGMAP}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let this = Arc::new(Self {
            client,
            verifier,
            config: RwLock::new(Arc::new(AuthenticationConfig::default())),
            tokens: TtlCache::new(),
            decisions: TtlCache::new(),
        });
        this.install(config)?;
        let weak = Arc::downgrade(&this);
        tokio::spawn(refresh(weak));
        Ok(this)
    }

    fn install(&self, config: AuthenticationConfig) -> Result<(), String> {
        let bundles: Vec<&str> = [config.requestheader_ca_pem.as_str(), config.client_ca_pem.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        self.verifier.set_roots(&bundles)?;
        *self.config.write() = Arc::new(config);
        Ok(())
    }

    /// The authentication settings in force.
    #[must_use]
    pub fn config(&self) -> Arc<AuthenticationConfig> {
        Arc::clone(&self.config.read())
    }

    /// Authenticates a request.
    ///
    /// # Errors
    /// 401 when no method authenticates it or identity headers come from anyone but the proxy.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<&PeerCertificates>,
    ) -> Result<UserInfo, ApiError> {
        let config = self.config();
        let chain = peer.map(|p| p.0.as_slice()).filter(|c| !c.is_empty());
        let mut user = None;
        if let (Some(chain), Some(ca)) = (chain, &config.requestheader_ca)
            && ca.verifies(chain)
        {
            let cn = x509::subject(&chain[0]).map(|(cn, _)| cn).unwrap_or_default();
            if !config.allowed_names.is_empty() && !config.allowed_names.contains(&cn) {
                tracing::info!(%cn, "refusing a front-proxy certificate whose common name is not allowed");
                return Err(unauthorized());
            }
            user = config.user_from_headers(headers);
        }
        if user.is_none() && headers.keys().any(|k| config.is_identity_header(k.as_str())) {
            tracing::info!("refusing identity headers from a connection that is not the front proxy");
            return Err(unauthorized());
        }
        if user.is_none()
            && let (Some(chain), Some(ca)) = (chain, &config.client_ca)
            && ca.verifies(chain)
            && let Some((cn, orgs)) = x509::subject(&chain[0])
        {
            user = Some(UserInfo { name: cn, uid: String::new(), groups: orgs, extra: BTreeMap::new() });
        }
        if user.is_none()
            && let Some(token) = bearer(headers)
        {
            user = self.review_token(token).await?;
        }
        let mut user = user.ok_or_else(unauthorized)?;
        if !user.groups.iter().any(|g| g == "system:authenticated") {
            user.groups.push("system:authenticated".into());
        }
        Ok(user)
    }

    async fn review_token(&self, token: &str) -> Result<Option<UserInfo>, ApiError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(cached) = self.tokens.get(&key) {
            return Ok(cached);
        }
        let review: TokenReview = serde_json::from_value(json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token},
        }))
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let answer = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "TokenReview failed");
                unauthorized()
            })?;
        let status = answer.status.unwrap_or_default();
        let user = if status.authenticated == Some(true) {
            status.user.map(|u| UserInfo {
                name: u.username.unwrap_or_default(),
                uid: u.uid.unwrap_or_default(),
                groups: u.groups.unwrap_or_default(),
                extra: u.extra.unwrap_or_default().into_iter().collect(),
            })
        } else {
            None
        };
        self.tokens.put(key, user.clone());
        Ok(user)
    }

    /// Authorizes a request of `user`.
    ///
    /// # Errors
    /// 403 when kube-apiserver denies it; 500 when it cannot be asked.
    pub async fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Ok(());
        }
        let key: [u8; 32] = Sha256::digest(format!("{:?}\u{0}{:?}", user, attrs).as_bytes()).into();
        let decision = match self.decisions.get(&key) {
            Some(d) => d,
            None => {
                let d = self.review_access(user, attrs).await?;
                self.decisions.put(key, d.clone());
                d
            }
        };
        if decision.allowed { Ok(()) } else { Err(forbidden(user, attrs, &decision.reason)) }
    }

    async fn review_access(&self, user: &UserInfo, attrs: &Attributes) -> Result<Decision, ApiError> {
        let (field, attributes) = attrs.review_attributes();
        let mut spec = json!({"user": user.name, "groups": user.groups, "extra": user.extra});
        if !user.uid.is_empty() {
            spec["uid"] = json!(user.uid);
        }
        spec[field] = attributes;
        let review: SubjectAccessReview = serde_json::from_value(json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec,
        }))
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let answer = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| ApiError::internal(format!("authorizing the request: {e}")))?;
        let status = answer.status.unwrap_or_default();
        Ok(Decision {
            allowed: status.allowed && status.denied != Some(true),
            reason: status.reason.unwrap_or_default(),
        })
    }
}

async fn load_config(client: &kube::Client) -> Result<AuthenticationConfig, String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get(AUTH_CONFIGMAP)
        .await
        .map_err(|e| e.to_string())?;
    AuthenticationConfig::from_configmap_data(&cm.data.unwrap_or_default())
}

async fn refresh(this: Weak<Delegated>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let Some(this) = this.upgrade() else { return };
        match load_config(&this.client).await.and_then(|c| this.install(c)) {
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "refreshing kube-system/{AUTH_CONFIGMAP}; keeping the previous one"),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized()
}

fn forbidden(user: &UserInfo, attrs: &Attributes, reason: &str) -> ApiError {
    let detail = attrs.forbidden_message(&user.name, reason);
    match attrs {
        Attributes::NonResource { .. } => ApiError::forbidden(format!("forbidden: {detail}"), None),
        Attributes::Resource { group, resource, name, .. } => {
            let target = Target { group: group.clone(), resource: resource.clone(), name: name.clone() };
            let message = if name.is_empty() {
                format!("{} is forbidden: {detail}", target.group_resource())
            } else {
                format!("{} {name:?} is forbidden: {detail}", target.group_resource())
            };
            ApiError::forbidden(message, Some(target))
        }
    }
}

/// Health endpoints answer without credentials, as kube-apiserver's always-allowed paths do.
#[must_use]
pub fn is_public(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Wraps `app` with delegated authentication and authorization.
pub fn with_delegated_auth(app: axum::Router, auth: Arc<Delegated>) -> axum::Router {
    app.layer(axum::middleware::from_fn(move |mut req: Request, next: Next| {
        let auth = Arc::clone(&auth);
        async move {
            if is_public(req.uri().path()) {
                return next.run(req).await;
            }
            let peer = req.extensions().get::<PeerCertificates>().cloned();
            let user = match auth.authenticate(req.headers(), peer.as_ref()).await {
                Ok(u) => u,
                Err(e) => {
                    drain(req).await;
                    return error_with_challenge(&e);
                }
            };
            // The identity headers have served their purpose; handlers never see them.
            let config = auth.config();
            let names: Vec<_> =
                req.headers().keys().filter(|k| config.is_identity_header(k.as_str())).cloned().collect();
            for n in names {
                req.headers_mut().remove(n);
            }
            let attrs = Attributes::from_request(req.method().as_str(), req.uri().path(), req.uri().query());
            if let Err(e) = auth.authorize(&user, &attrs).await {
                tracing::debug!(user = %user.name, ?attrs, "forbidden");
                drain(req).await;
                return error_response(&e);
            }
            req.extensions_mut().insert(user);
            next.run(req).await
        }
    }))
}

/// Reads (and drops) what is left of a refused request's body, up to the body limit, so that
/// HTTP/2 clients get the answer on a cleanly finished stream rather than a reset.
pub async fn drain(req: Request) {
    let _ = axum::body::to_bytes(req.into_body(), crate::http::MAX_BODY_BYTES).await;
}

/// A 401 answer with its `WWW-Authenticate` challenge.
#[must_use]
pub fn error_with_challenge(e: &ApiError) -> Response {
    let mut r = error_response(e);
    if e.code == 401 {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// The `Status` body of a 403, for tests and callers that render their own.
#[must_use]
pub fn forbidden_status(user: &str, attrs: &Attributes, reason: &str) -> Value {
    let u = UserInfo { name: user.into(), uid: String::new(), groups: Vec::new(), extra: BTreeMap::new() };
    forbidden(&u, attrs, reason).to_status()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthenticationConfig {
        let data: BTreeMap<String, String> = [
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            ("requestheader-extra-headers-prefix", r#"["X-Remote-Extra-"]"#),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        AuthenticationConfig::from_configmap_data(&data).unwrap()
    }

    #[test]
    fn identity_from_proxy_headers() {
        let c = config();
        let mut h = HeaderMap::new();
        h.insert("x-remote-user", HeaderValue::from_static("alice"));
        h.append("x-remote-group", HeaderValue::from_static("devs"));
        h.append("x-remote-group", HeaderValue::from_static("system:authenticated"));
        h.insert("x-remote-extra-scopes%2Fone", HeaderValue::from_static("a"));
        let u = c.user_from_headers(&h).unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, vec!["devs", "system:authenticated"]);
        assert_eq!(u.extra.get("scopes/one"), Some(&vec!["a".to_owned()]));
        assert!(c.is_identity_header("x-remote-extra-anything"));
        assert!(!c.is_identity_header("authorization"));
        assert!(c.user_from_headers(&HeaderMap::new()).is_none());
    }

    #[test]
    fn forbidden_status_is_kube_shaped() {
        let attrs = Attributes::from_request(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/team-b/gitrepositories/x",
            None,
        );
        let s = forbidden_status("system:serviceaccount:team-a:dev", &attrs, "");
        assert_eq!(s["code"], 403);
        assert_eq!(s["reason"], "Forbidden");
        assert_eq!(
            s["message"],
            "gitrepositories.source.toolkit.fluxcd.io \"x\" is forbidden: User \"system:serviceaccount:team-a:dev\" \
             cannot get resource \"gitrepositories\" in API group \"source.toolkit.fluxcd.io\" in the namespace \"team-b\""
        );
        assert_eq!(s["details"], json!({"name": "x", "group": "source.toolkit.fluxcd.io", "kind": "gitrepositories"}));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn percent_decoding_of_extra_keys() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
