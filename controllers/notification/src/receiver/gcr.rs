//! GCR / Artifact Registry receivers (`receiver_handlers.go`, `authenticateGCRRequest`): a
//! Pub/Sub push whose `Authorization: Bearer` is a Google-signed OIDC ID token. The token's
//! RS256 signature is checked against Google's published keys (a JWKS from [`GOOGLE_CERTS`] or
//! the URL the server is configured with, reused for five minutes), then its expiry (10 s
//! skew, as `google.golang.org/api/idtoken`), audience (the secret's `audience`), issuer
//! (`accounts.google.com`) and verified `email` (the secret's `email`). The body's base64
//! `message.data` is the registry event; it replaces the body for resource filters.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::validate::ValidateError;

/// Where Google publishes the keys of its ID tokens.
pub const GOOGLE_CERTS: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// idtoken's clock skew.
const CLOCK_SKEW: i64 = 10;

fn auth_error(why: impl std::fmt::Display) -> ValidateError {
    ValidateError::Token(format!("cannot authenticate GCR request: {why}"))
}

/// How long fetched keys are reused (idtoken caches Google's certificates too).
const KEYS_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Google's key set from `url`, fetched at most every [`KEYS_TTL`].
///
/// # Errors
/// `cannot create ID token validator: <why>` when the keys cannot be fetched.
pub async fn google_keys(url: &str) -> Result<Value, String> {
    type Cache = parking_lot::Mutex<Option<(String, std::time::Instant, Value)>>;
    static CACHE: Cache = parking_lot::Mutex::new(None);
    if let Some((u, at, keys)) = CACHE.lock().as_ref()
        && u == url
        && at.elapsed() < KEYS_TTL
    {
        return Ok(keys.clone());
    }
    let fail = |e: String| format!("cannot create ID token validator: {e}");
    let client = crate::http::client(&crate::http::Transport::default()).map_err(|e| fail(e.to_string()))?;
    let fetch = async { client.get(url).send().await?.error_for_status()?.json::<Value>().await };
    let keys = tokio::time::timeout(std::time::Duration::from_secs(10), fetch)
        .await
        .map_err(|_| fail("fetching the keys timed out".into()))?
        .map_err(|e| fail(e.without_url().to_string()))?;
    *CACHE.lock() = Some((url.to_owned(), std::time::Instant::now(), keys.clone()));
    Ok(keys)
}

/// Checks the ID token of `bearer` against `jwks` (Google's key set) at `now` (Unix seconds).
///
/// # Errors
/// [`ValidateError::Token`] with upstream's wording.
pub fn check_token(bearer: &str, jwks: &Value, email: &str, audience: &str, now: i64) -> Result<(), ValidateError> {
    let token =
        bearer.strip_prefix("Bearer ").ok_or_else(|| auth_error("the Authorization header is missing or malformed"))?;
    let claims = super::jwt::unverified_claims(token).unwrap_or_default();
    let invalid = |why: &str| {
        let got = claims["aud"].as_str().filter(|a| !a.is_empty()).unwrap_or("<unknown>");
        auth_error(format!("invalid ID token: audience is '{got}', want '{audience}': idtoken: {why}"))
    };
    let claims = super::jwt::verify(token, jwks).map_err(|e| invalid(&e.to_string()))?;
    let exp = claims["exp"].as_i64().unwrap_or_default();
    if now > exp + CLOCK_SKEW {
        return Err(invalid(&format!("token expired: now={now}, expires={exp}")));
    }
    if claims["aud"].as_str() != Some(audience) {
        return Err(invalid("audience provided does not match aud claim in the JWT"));
    }
    let issuer = claims["iss"].as_str().unwrap_or_default();
    if issuer != "accounts.google.com" && issuer != "https://accounts.google.com" {
        return Err(auth_error(format!(
            "token issuer is '{issuer}', want 'accounts.google.com' or 'https://accounts.google.com'"
        )));
    }
    let got = claims["email"].as_str().unwrap_or_default();
    if got != email {
        return Err(auth_error(format!("token email is '{got}', want '{email}'")));
    }
    if claims["email_verified"] != Value::Bool(true) {
        return Err(auth_error(format!("token email '{got}' is not verified")));
    }
    Ok(())
}

/// Unwraps the Pub/Sub push: the registry event (`action`, `digest`, `tag`) as the body the
/// filters see, and the log line.
///
/// # Errors
/// [`ValidateError::Payload`] when the push or its data does not decode.
pub fn unwrap_payload(body: &[u8]) -> Result<(Vec<u8>, String), ValidateError> {
    #[derive(Deserialize, Default)]
    struct Message {
        #[serde(default)]
        data: String,
    }
    #[derive(Deserialize)]
    struct Push {
        #[serde(default)]
        message: Message,
    }
    #[derive(Deserialize, serde::Serialize, Default)]
    struct Data {
        #[serde(default)]
        action: String,
        #[serde(default)]
        digest: String,
        #[serde(default)]
        tag: String,
    }
    let push: Push = serde_json::from_slice(body)
        .map_err(|e| ValidateError::Payload(format!("cannot decode GCR webhook payload: {e}")))?;
    let raw = base64::engine::general_purpose::STANDARD.decode(&push.message.data).unwrap_or_default();
    let data: Data = serde_json::from_slice(&raw)
        .map_err(|e| ValidateError::Payload(format!("cannot decode GCR webhook body: {e}")))?;
    let line = format!("handling GCR event from {} for tag {}", data.digest, data.tag);
    Ok((serde_json::to_vec(&data).unwrap_or_default(), line))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A JWT signed by the test key of `notifier/testdata` (the same RSA key the Pub/Sub
    /// test uses), and the JWKS publishing its public half.
    fn signed(claims: &Value) -> (String, Value) {
        let pem = include_str!("../notifier/testdata/gcp-sa-key.pem");
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(der).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let input = format!(
            "{}.{}",
            enc(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string().as_bytes()),
            enc(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        use ring::signature::KeyPair as _;
        // The public key is DER RSAPublicKey: SEQUENCE { n INTEGER, e INTEGER }.
        let public = pair.public_key().as_ref().to_vec();
        let (n, e) = rsa_public_components(&public);
        let jwks = json!({"keys": [{"kid": "other", "n": "AQAB", "e": "AQAB"}, {"kid": "k1", "kty": "RSA", "alg": "RS256", "n": enc(&n), "e": enc(&e)}]});
        (format!("{input}.{}", enc(&sig)), jwks)
    }

    /// Splits a DER RSAPublicKey into its modulus and exponent (leading zero dropped).
    fn rsa_public_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        fn len(b: &[u8], i: &mut usize) -> usize {
            let first = b[*i];
            *i += 1;
            if first < 0x80 {
                return usize::from(first);
            }
            let mut l = 0;
            for _ in 0..(first & 0x7f) {
                l = (l << 8) | usize::from(b[*i]);
                *i += 1;
            }
            l
        }
        let mut i = 1;
        let _ = len(der, &mut i);
        let mut ints = Vec::new();
        for _ in 0..2 {
            i += 1;
            let l = len(der, &mut i);
            let mut v = der[i..i + l].to_vec();
            if v.first() == Some(&0) {
                v.remove(0);
            }
            ints.push(v);
            i += l;
        }
        (ints.remove(0), ints.remove(0))
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "https://accounts.google.com", "aud": "https://hook.example", "email": "push@proj.iam.gserviceaccount.com", "email_verified": true, "exp": now + 3600, "iat": now})
    }

    // receiver_handlers.go authenticateGCRRequest with idtoken.Validate.
    #[test]
    fn google_id_tokens() {
        let now = 1_700_000_000;
        let (email, aud) = ("push@proj.iam.gserviceaccount.com", "https://hook.example");
        let (token, jwks) = signed(&claims(now));
        check_token(&format!("Bearer {token}"), &jwks, email, aud, now).unwrap();

        let err =
            |bearer: &str, jwks: &Value, now: i64| check_token(bearer, jwks, email, aud, now).unwrap_err().to_string();
        assert_eq!(
            err(&token, &jwks, now),
            "cannot authenticate GCR request: the Authorization header is missing or malformed"
        );
        assert!(err(&format!("Bearer {token}"), &jwks, now + 3611).contains("idtoken: token expired"));
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 3, 'x');
        assert!(
            err(&format!("Bearer {tampered}"), &jwks, now)
                .starts_with("cannot authenticate GCR request: invalid ID token")
        );
        let mut other = claims(now);
        other["aud"] = "https://elsewhere".into();
        let (t, j) = signed(&other);
        assert_eq!(
            err(&format!("Bearer {t}"), &j, now),
            "cannot authenticate GCR request: invalid ID token: audience is 'https://elsewhere', want 'https://hook.example': idtoken: audience provided does not match aud claim in the JWT"
        );
        let mut other = claims(now);
        other["email_verified"] = false.into();
        let (t, j) = signed(&other);
        assert_eq!(
            err(&format!("Bearer {t}"), &j, now),
            format!("cannot authenticate GCR request: token email '{email}' is not verified")
        );
        let mut other = claims(now);
        other["iss"] = "https://evil".into();
        let (t, j) = signed(&other);
        assert!(err(&format!("Bearer {t}"), &j, now).contains("token issuer is 'https://evil'"));
        // A key set without the token's key.
        let (t, _) = signed(&claims(now));
        assert!(err(&format!("Bearer {t}"), &json!({"keys": []}), now).contains("could not find matching cert keyId"));
    }

    #[tokio::test]
    async fn keys_are_fetched_then_reused() {
        let server = crate::testserver::Capture::start().await;
        server.script(&[(200, r#"{"keys":[{"kid":"a"}]}"#)]);
        let url = format!("{}/oauth2/v3/certs", server.url);
        assert_eq!(google_keys(&url).await.unwrap()["keys"][0]["kid"], "a");
        assert_eq!(google_keys(&url).await.unwrap()["keys"][0]["kid"], "a");
        assert_eq!(server.requests().len(), 1, "reused within the TTL");
        let down = crate::testserver::Capture::start().await;
        down.script(&[(404, "")]);
        let err = google_keys(&format!("{}/certs", down.url)).await.unwrap_err();
        assert!(err.starts_with("cannot create ID token validator:"), "{err}");
    }

    #[test]
    fn pubsub_push_is_unwrapped() {
        let data = base64::engine::general_purpose::STANDARD
            .encode(br#"{"action":"INSERT","digest":"gcr.io/p/app@sha256:1","tag":"gcr.io/p/app:v1","extra":1}"#);
        let body = json!({"message": {"data": data, "messageId": "1"}, "subscription": "s"}).to_string();
        let (unwrapped, line) = unwrap_payload(body.as_bytes()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&unwrapped).unwrap(),
            json!({"action": "INSERT", "digest": "gcr.io/p/app@sha256:1", "tag": "gcr.io/p/app:v1"})
        );
        assert_eq!(line, "handling GCR event from gcr.io/p/app@sha256:1 for tag gcr.io/p/app:v1");
        assert!(unwrap_payload(b"{nope").is_err());
    }
}
