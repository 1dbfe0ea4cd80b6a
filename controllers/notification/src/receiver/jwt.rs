//! Verifying a JWS-signed JWT against a JSON Web Key Set: RS256 (RSA keys `n`/`e`) and ES256
//! (P-256 keys `x`/`y`), the algorithms Google's ID tokens and common OIDC issuers use. The
//! key is the one named by the token's `kid`, or any key of the set when the token names
//! none (as go-oidc tries each).

use base64::Engine as _;
use serde_json::Value;

/// Why a token does not verify (the wording of go-oidc / idtoken, without the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments of JSON.
    #[error("malformed jwt: {0}")]
    Malformed(&'static str),
    /// A signing algorithm other than RS256 and ES256.
    #[error("unsupported signing algorithm {0:?}")]
    Algorithm(String),
    /// No key of the set has the token's `kid`.
    #[error("could not find matching cert keyId for the token provided")]
    NoKey,
    /// The signature does not verify with any candidate key.
    #[error("failed to verify signature")]
    Signature,
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The claims of `token` without verifying anything (to pick an issuer or report an
/// audience).
#[must_use]
pub fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&b64url(payload)?).ok()
}

fn verify_with(alg: &str, key: &Value, message: &[u8], signature: &[u8]) -> bool {
    let field = |k: &str| key[k].as_str().and_then(b64url);
    match alg {
        "RS256" => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else { return false };
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok()
        }
        "ES256" => {
            let (Some(x), Some(y)) = (field("x"), field("y")) else { return false };
            if key["crv"].as_str().is_some_and(|c| c != "P-256") {
                return false;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

/// Verifies `token`'s signature with `jwks` and returns its claims.
///
/// # Errors
/// [`JwtError`].
pub fn verify(token: &str, jwks: &Value) -> Result<Value, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [head, body, sig] = parts.as_slice() else {
        return Err(JwtError::Malformed("token must have three segments"));
    };
    let header: Value = b64url(head)
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(JwtError::Malformed("unable to decode the header"))?;
    let claims: Value = b64url(body)
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or(JwtError::Malformed("unable to decode the payload"))?;
    let signature = b64url(sig).ok_or(JwtError::Malformed("unable to decode the signature"))?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if alg != "RS256" && alg != "ES256" {
        return Err(JwtError::Algorithm(alg.to_owned()));
    }
    let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
    let candidates: Vec<&Value> = match header["kid"].as_str() {
        Some(kid) => keys.iter().filter(|k| k["kid"].as_str() == Some(kid)).collect(),
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(JwtError::NoKey);
    }
    let message = format!("{head}.{body}");
    if candidates.iter().any(|k| verify_with(alg, k, message.as_bytes(), &signature)) {
        Ok(claims)
    } else {
        Err(JwtError::Signature)
    }
}

/// Test keys and tokens.
#[cfg(test)]
pub(crate) mod testing {
    use base64::Engine as _;
    use ring::signature::KeyPair as _;
    use serde_json::{Value, json};

    fn enc(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    /// An ES256 key pair with its JWK, kid `kid`.
    pub(crate) struct EcKey {
        pair: ring::signature::EcdsaKeyPair,
        /// The public JWK.
        pub(crate) jwk: Value,
        kid: String,
    }

    impl EcKey {
        pub(crate) fn generate(kid: &str) -> Self {
            let rng = ring::rand::SystemRandom::new();
            let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
            let point = pair.public_key().as_ref();
            let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                "x": enc(&point[1..33]), "y": enc(&point[33..65])});
            Self { pair, jwk, kid: kid.to_owned() }
        }

        /// `claims` signed ES256 with this key.
        pub(crate) fn sign(&self, claims: &Value) -> String {
            let head = enc(json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}).to_string().as_bytes());
            let input = format!("{head}.{}", enc(claims.to_string().as_bytes()));
            let sig = self.pair.sign(&ring::rand::SystemRandom::new(), input.as_bytes()).unwrap();
            format!("{input}.{}", enc(sig.as_ref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::EcKey;
    use super::*;

    #[test]
    fn es256_tokens_verify_against_their_key_set() {
        let key = EcKey::generate("k1");
        let other = EcKey::generate("k2");
        let token = key.sign(&json!({"iss": "https://issuer", "sub": "ci"}));
        let jwks = json!({"keys": [other.jwk.clone(), key.jwk.clone()]});
        assert_eq!(verify(&token, &jwks).unwrap()["sub"], "ci");
        assert_eq!(verify(&token, &json!({"keys": [other.jwk]})), Err(JwtError::NoKey));
        let mut wrong = key.jwk.clone();
        wrong["x"] = EcKey::generate("k1").jwk["x"].clone();
        assert_eq!(verify(&token, &json!({"keys": [wrong]})), Err(JwtError::Signature));
        assert_eq!(verify("a.b", &jwks), Err(JwtError::Malformed("token must have three segments")));
        assert_eq!(unverified_claims(&token).unwrap()["iss"], "https://issuer");
    }
}
