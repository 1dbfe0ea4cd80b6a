//! Google Cloud Pub/Sub (`internal/notifier/google_pubsub.go`, `google_helpers.go`): the
//! address is the project ID, the channel the topic ID, the secret's `token` a service account
//! key (JSON) and its `headers` the message attributes; the message data is the event as JSON.
//!
//! Upstream publishes through the Go client over gRPC. Eddy makes the same publication with
//! Pub/Sub's REST API (`POST /v1/projects/<p>/topics/<t>:publish` with base64 `data` and
//! `attributes`), authorised by an OAuth2 access token obtained with the key's JWT grant
//! (RS256, scope `pubsub`, at the key's `token_uri`). With `PUBSUB_EMULATOR_HOST` set (as the
//! Go client honours it) requests go to the emulator over plain HTTP without credentials.
//! Without a key upstream uses GCP workload identity, which Eddy does not implement.

use base64::Engine as _;
use serde_json::{Value, json};

use super::NotifierError;
use crate::config::ProviderConfig;
use crate::http::{self, Request, RetryPolicy};

/// Pub/Sub's REST endpoint.
pub const PUBSUB_API: &str = "https://pubsub.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/pubsub";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A publication: maybe a token exchange, then the publish call.
#[derive(Debug, Clone)]
pub(crate) struct PubSubPlan {
    /// The JWT-bearer token request (none for the emulator).
    token: Option<Request>,
    /// The publish request, without its Authorization header.
    publish: Request,
    topic: String,
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// The DER body of the first PEM block labelled `label`.
fn pem_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The signed JWT assertion of a service account key, valid an hour from `now`.
fn assertion(key: &Value, now: i64) -> Result<(String, String), NotifierError> {
    let bad = |why: &str| NotifierError::Config(format!("invalid GCP service account key: {why}"));
    let email = key["client_email"].as_str().ok_or_else(|| bad("missing client_email"))?;
    let token_uri = key["token_uri"].as_str().unwrap_or("https://oauth2.googleapis.com/token");
    let pem = key["private_key"].as_str().ok_or_else(|| bad("missing private_key"))?;
    let der = pem_der(pem, "PRIVATE KEY").ok_or_else(|| bad("private_key is not a PKCS#8 PEM key"))?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| bad("private_key is not an RSA key"))?;
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key["private_key_id"].as_str() {
        header["kid"] = kid.into();
    }
    let claims = json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600});
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut sig)
        .map_err(|_| bad("signing failed"))?;
    Ok((format!("{signing_input}.{}", b64url(&sig)), token_uri.to_owned()))
}

/// The plan for `payload` (the event as Go marshals it).
pub(super) fn plan(cfg: &ProviderConfig, payload: &[u8]) -> Result<PubSubPlan, NotifierError> {
    if cfg.url.is_empty() {
        return Err(NotifierError::Config("GCP project ID cannot be empty".into()));
    }
    if cfg.channel.is_empty() {
        return Err(NotifierError::Config("GCP Pub/Sub topic ID cannot be empty".into()));
    }
    let topic = format!("projects/{}/topics/{}", cfg.url, cfg.channel);
    let mut message = json!({"data": base64::engine::general_purpose::STANDARD.encode(payload)});
    if !cfg.headers.is_empty() {
        message["attributes"] = json!(cfg.headers);
    }
    let (base, token) = match (&cfg.pubsub_emulator, cfg.token.is_empty()) {
        (Some(host), _) => (format!("http://{host}"), None),
        (None, true) => {
            return Err(NotifierError::Config(
                "GCP credentials are required: set 'token' to a service account key (workload identity is not supported)"
                    .into(),
            ));
        }
        (None, false) => {
            let key: Value = serde_json::from_str(&cfg.token)
                .map_err(|_| NotifierError::Config("invalid GCP service account key: not JSON".into()))?;
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            let (jwt, token_uri) = assertion(&key, now)?;
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", JWT_GRANT)
                .append_pair("assertion", &jwt)
                .finish();
            let mut req =
                Request::json(&token_uri, &Value::Null).header("Content-Type", "application/x-www-form-urlencoded");
            req.body = body.into_bytes();
            let base = if cfg.pubsub_api.is_empty() { PUBSUB_API.to_owned() } else { cfg.pubsub_api.clone() };
            (base, Some(req))
        }
    };
    let publish = Request::json(&format!("{base}/v1/{topic}:publish"), &json!({"messages": [message]}));
    Ok(PubSubPlan { token, publish, topic })
}

/// Exchanges the assertion (if any), then publishes.
pub(super) async fn publish(
    client: &reqwest::Client,
    plan: &PubSubPlan,
    policy: RetryPolicy,
) -> Result<(), NotifierError> {
    let fail =
        |e: http::HttpError| NotifierError::Event(format!("error publishing to GCP Pub/Sub topic {}: {e}", plan.topic));
    let mut publish = plan.publish.clone();
    if let Some(token) = &plan.token {
        let answer = http::send(client, token, policy).await.map_err(fail)?;
        let answer: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let access = answer["access_token"].as_str().ok_or_else(|| {
            NotifierError::Event(format!(
                "error publishing to GCP Pub/Sub topic {}: the token endpoint returned no access_token",
                plan.topic
            ))
        })?;
        publish = publish.header("Authorization", format!("Bearer {access}"));
    }
    http::send(client, &publish, policy).await.map_err(fail)?;
    Ok(())
}
