//! `generic-oidc` receivers (`internal/server/receiver_oidc.go`, `receiver_claims.go`, and the
//! reconciler's `validateOIDCSpec`): no Secret; the request's bearer token is an OIDC ID
//! token from one of `spec.oidcProviders`, picked by its (unverified) `iss`. The issuer's
//! discovery document gives the key set; the token must verify (RS256/ES256), come from that
//! issuer, name the provider's `audience` (default `notification-controller`) and not be
//! expired. Then the provider's CEL `variables` are computed over `claims` and `vars`, and
//! every `validations` expression must hold (else `token validation failed: <messages>`).
//! The verified claims are the `claims` variable of the resource filters.

use eddy_api::notification::{OidcProvider, ReceiverSpec};
use serde_json::{Map, Value};

use super::jwt;
use crate::cel::{Expression, Output};

/// The audience when a provider names none (`DefaultOIDCAudience`).
pub const DEFAULT_AUDIENCE: &str = "notification-controller";
/// go-oidc's leeway on `nbf`.
const NBF_LEEWAY: i64 = 300;

/// A provider's compiled `variables` and `validations` (`oidcClaimsProcessor`).
struct Processor {
    variables: Vec<(String, Expression)>,
    validations: Vec<(Expression, String)>,
}

fn processor(p: &OidcProvider) -> Result<Processor, String> {
    let mut out = Processor { variables: Vec::new(), validations: Vec::new() };
    for v in p.variables.iter().flatten() {
        let e = Expression::compile(&v.expression, &["claims", "vars"], Output::Dyn)
            .map_err(|e| format!("invalid expression for variable {:?}: {e}", v.name))?;
        out.variables.push((v.name.clone(), e));
    }
    for v in &p.validations {
        let e = Expression::compile(&v.expression, &["claims", "vars"], Output::Bool)
            .map_err(|e| format!("invalid expression for validation {:?}: {e}", v.message))?;
        out.validations.push((e, v.message.clone()));
    }
    Ok(out)
}

impl Processor {
    fn evaluate(&self, claims: &Value) -> Result<(), String> {
        let mut vars = Map::new();
        for (name, e) in &self.variables {
            let value = e
                .evaluate_json(&[("claims", claims), ("vars", &Value::Object(vars.clone()))])
                .map_err(|e| format!("failed to evaluate variable {name:?}: {e}"))?;
            vars.insert(name.clone(), value);
        }
        let vars = Value::Object(vars);
        let mut failures = Vec::new();
        for (e, message) in &self.validations {
            let ok = e
                .evaluate_bool(&[("claims", claims), ("vars", &vars)])
                .map_err(|e| format!("failed to evaluate validation: {e}"))?;
            if !ok {
                failures.push(message.as_str());
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(format!("token validation failed: {}", failures.join("; "))) }
    }
}

/// The reconciler's checks (`validateOIDCSpec`, `ValidateOIDCProvidersSpec`,
/// `CompileOIDCProviders`): the terminal reason and message of the first failure.
///
/// # Errors
/// `(reason, message)`: `ValidationFailed` or `InvalidCELExpression`.
pub fn validate_spec(spec: &ReceiverSpec) -> Result<(), (&'static str, String)> {
    let oidc = spec.r#type == "generic-oidc";
    let providers = spec.oidc_providers.as_deref().unwrap_or_default();
    let failed = |m: &str| Err(("ValidationFailed", m.to_owned()));
    if oidc && providers.is_empty() {
        return failed("generic-oidc receiver requires at least one oidcProvider");
    }
    if !oidc && !providers.is_empty() {
        return failed("oidcProviders can only be set when type is generic-oidc");
    }
    if oidc && spec.secret_ref.is_some() {
        return failed("secretRef cannot be set when type is generic-oidc");
    }
    if !oidc && spec.secret_ref.is_none() {
        return failed("secretRef is required when type is not generic-oidc");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in providers.iter().enumerate() {
        let at = format!("oidcProviders[{i}] (issuerURL={:?})", p.issuer_url);
        if p.issuer_url.is_empty() {
            return failed(&format!("oidcProviders[{i}]: issuerURL is required"));
        }
        if !(p.issuer_url.starts_with("http://") || p.issuer_url.starts_with("https://")) {
            return failed(&format!(
                "oidcProviders[{i}]: issuerURL {:?} must start with http:// or https://",
                p.issuer_url
            ));
        }
        if !seen.insert(p.issuer_url.as_str()) {
            return failed(&format!("oidcProviders[{i}]: duplicate issuerURL {:?}", p.issuer_url));
        }
        if p.validations.is_empty() {
            return failed(&format!(
                "{at}: at least one validation is required; without validations any caller able to obtain a token from this issuer can trigger the Receiver"
            ));
        }
        for (j, v) in p.variables.iter().flatten().enumerate() {
            if v.name.is_empty() {
                return failed(&format!("{at}: variables[{j}]: name is required"));
            }
            if v.expression.is_empty() {
                return failed(&format!("{at}: variables[{j}] (name={:?}): expression is required", v.name));
            }
        }
        for (j, v) in p.validations.iter().enumerate() {
            if v.expression.is_empty() {
                return failed(&format!("{at}: validations[{j}]: expression is required"));
            }
            if v.message.is_empty() {
                return failed(&format!("{at}: validations[{j}]: message is required"));
            }
        }
    }
    for (i, p) in providers.iter().enumerate() {
        processor(p)
            .map_err(|e| ("InvalidCELExpression", format!("oidcProviders[{i}] (issuerURL={:?}): {e}", p.issuer_url)))?;
    }
    Ok(())
}

/// go-oidc's claim checks of a token whose signature verified.
fn check_claims(claims: &Value, issuer: &str, audience: &str, now: i64) -> Result<(), String> {
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss != issuer {
        return Err(format!("oidc: id token issued by a different provider, expected {issuer:?} got {iss:?}"));
    }
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !auds.contains(&audience) {
        return Err(format!("oidc: expected audience {audience:?} got {auds:?}"));
    }
    let exp = claims["exp"].as_i64().unwrap_or_default();
    if exp < now {
        return Err(format!("oidc: token is expired (Token Expiry: {exp})"));
    }
    if let Some(nbf) = claims["nbf"].as_i64()
        && nbf > now + NBF_LEEWAY
    {
        return Err(format!("oidc: current time {now} before the nbf (not before) time: {nbf}"));
    }
    Ok(())
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    async { client.get(url).send().await?.error_for_status()?.json().await }
        .await
        .map_err(|e: reqwest::Error| e.without_url().to_string())
}

/// `validateGenericOIDC`: the verified claims of the request's bearer token.
///
/// # Errors
/// Upstream's message for what failed (the server answers 401; upstream 400).
pub async fn authenticate(
    client: &reqwest::Client,
    spec: &ReceiverSpec,
    authorization: &str,
    now: i64,
) -> Result<Value, String> {
    let providers = spec.oidc_providers.as_deref().unwrap_or_default();
    if providers.is_empty() {
        return Err("generic-oidc receiver has no oidcProviders configured".into());
    }
    let token = authorization.strip_prefix("Bearer ").ok_or("the Authorization header is missing or malformed")?.trim();
    if token.is_empty() {
        return Err("the Authorization header is missing a bearer token".into());
    }
    let iss = match jwt::unverified_claims(token) {
        None if token.split('.').count() != 3 => return Err("failed to parse bearer token: token is not a JWT".into()),
        None => return Err("failed to parse bearer token: failed to parse token payload".into()),
        Some(c) => c["iss"].as_str().filter(|i| !i.is_empty()).map(str::to_owned),
    }
    .ok_or("failed to parse bearer token: token is missing the 'iss' claim")?;
    let provider = providers
        .iter()
        .find(|p| p.issuer_url == iss)
        .ok_or_else(|| format!("no oidcProvider configured for issuer {iss:?}"))?;
    let init = |e: String| format!("failed to initialize OIDC provider for issuer {:?}: {e}", provider.issuer_url);
    let discovery =
        get_json(client, &format!("{}/.well-known/openid-configuration", provider.issuer_url.trim_end_matches('/')))
            .await
            .map_err(init)?;
    let discovered = discovery["issuer"].as_str().unwrap_or_default();
    if discovered != provider.issuer_url {
        return Err(init(format!(
            "oidc: issuer did not match the issuer returned by provider, expected {:?} got {discovered:?}",
            provider.issuer_url
        )));
    }
    let jwks_uri = discovery["jwks_uri"].as_str().ok_or_else(|| init("oidc: no jwks_uri in discovery".into()))?;
    let verify = |e: String| format!("failed to verify OIDC token: {e}");
    let audience = provider.audience.as_deref().filter(|a| !a.is_empty()).unwrap_or(DEFAULT_AUDIENCE);
    let unverified = jwt::unverified_claims(token).unwrap_or_default();
    check_claims(&unverified, &provider.issuer_url, audience, now).map_err(verify)?;
    let jwks = get_json(client, jwks_uri).await.map_err(|e| verify(format!("fetching keys: {e}")))?;
    let claims = jwt::verify(token, &jwks).map_err(|e| verify(format!("failed to verify signature: {e}")))?;
    processor(provider)
        .map_err(|e| format!("invalid oidcProvider configuration for issuer {:?}: {e}", provider.issuer_url))?
        .evaluate(&claims)?;
    Ok(claims)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
