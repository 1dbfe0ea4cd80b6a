//! `generic-oidc` against a local issuer (discovery document and key set served by a capturing
//! server), following `receiver_oidc.go`, `receiver_claims.go` and `validateOIDCSpec`.

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::{OidcValidation, OidcVariable, Receiver};
use serde_json::json;

use super::*;
use crate::receiver::jwt::testing::EcKey;
use crate::testserver::Capture;

const NOW: i64 = 1_700_000_000;

fn spec(issuer: &str) -> ReceiverSpec {
    let mut r = Receiver::new("r", "ns");
    r.spec.r#type = "generic-oidc".into();
    r.spec.oidc_providers = Some(vec![OidcProvider {
        issuer_url: issuer.into(),
        variables: Some(vec![OidcVariable { name: "repo".into(), expression: "claims.repository".into() }]),
        validations: vec![
            OidcValidation {
                expression: "claims.sub.startsWith('repo:')".into(),
                message: "must be a repository".into(),
            },
            OidcValidation { expression: "vars.repo == 'org/app'".into(), message: "must be org/app".into() },
        ],
        ..OidcProvider::default()
    }]);
    r.spec
}

async fn issuer(key: &EcKey) -> Capture {
    let server = Capture::start().await;
    let discovery = json!({"issuer": server.url, "jwks_uri": format!("{}/keys", server.url)}).to_string();
    let jwks = json!({"keys": [key.jwk]}).to_string();
    server.script(&[(200, &discovery), (200, &jwks)]);
    server
}

fn claims(iss: &str) -> Value {
    json!({"iss": iss, "aud": ["notification-controller"], "sub": "repo:org/app:ref:refs/heads/main", "repository": "org/app", "exp": NOW + 300, "iat": NOW})
}

#[tokio::test]
async fn tokens_from_a_configured_issuer() {
    let key = EcKey::generate("k1");
    let server = issuer(&key).await;
    let client = crate::http::client(&crate::http::Transport::default()).unwrap();
    let token = key.sign(&claims(&server.url));
    let got = authenticate(&client, &spec(&server.url), &format!("Bearer {token}"), NOW).await.unwrap();
    assert_eq!(got["repository"], "org/app");
    let rs = server.requests();
    assert_eq!(rs[0].path, "/.well-known/openid-configuration");
    assert_eq!(rs[1].path, "/keys");

    // A validation that does not hold: its message.
    let server = issuer(&key).await;
    let mut c = claims(&server.url);
    c["repository"] = "org/other".into();
    let err = authenticate(&client, &spec(&server.url), &format!("Bearer {}", key.sign(&c)), NOW).await.unwrap_err();
    assert_eq!(err, "token validation failed: must be org/app");

    // Wrong audience, expired, unknown issuer, foreign key.
    let server = issuer(&key).await;
    let mut c = claims(&server.url);
    c["aud"] = "someone-else".into();
    let err = authenticate(&client, &spec(&server.url), &format!("Bearer {}", key.sign(&c)), NOW).await.unwrap_err();
    assert_eq!(
        err,
        "failed to verify OIDC token: oidc: expected audience \"notification-controller\" got [\"someone-else\"]"
    );
    let server = issuer(&key).await;
    let err =
        authenticate(&client, &spec(&server.url), &format!("Bearer {}", key.sign(&claims(&server.url))), NOW + 301)
            .await
            .unwrap_err();
    assert!(err.starts_with("failed to verify OIDC token: oidc: token is expired"), "{err}");
    let err = authenticate(&client, &spec("https://elsewhere"), &format!("Bearer {token}"), NOW).await.unwrap_err();
    let first = crate::receiver::jwt::unverified_claims(&token).unwrap()["iss"].as_str().unwrap().to_owned();
    assert_eq!(err, format!("no oidcProvider configured for issuer {first:?}"));
    let server = issuer(&EcKey::generate("k1")).await;
    let forged = key.sign(&claims(&server.url));
    let err = authenticate(&client, &spec(&server.url), &format!("Bearer {forged}"), NOW).await.unwrap_err();
    assert_eq!(err, "failed to verify OIDC token: failed to verify signature: failed to verify signature");

    assert_eq!(
        authenticate(&client, &spec(&server.url), "Basic x", NOW).await.unwrap_err(),
        "the Authorization header is missing or malformed"
    );
    assert_eq!(
        authenticate(&client, &spec(&server.url), "Bearer not-a-jwt", NOW).await.unwrap_err(),
        "failed to parse bearer token: token is not a JWT"
    );
}

#[test]
fn spec_rules() {
    let ok = spec("https://token.actions.githubusercontent.com");
    validate_spec(&ok).unwrap();
    let mut s = ok.clone();
    s.secret_ref = Some(LocalObjectReference { name: "x".into() });
    assert_eq!(
        validate_spec(&s).unwrap_err(),
        ("ValidationFailed", "secretRef cannot be set when type is generic-oidc".into())
    );
    let mut s = ok.clone();
    s.oidc_providers.as_mut().unwrap()[0].validations.clear();
    assert!(validate_spec(&s).unwrap_err().1.contains("at least one validation is required"));
    let mut s = ok.clone();
    let dup = s.oidc_providers.as_ref().unwrap()[0].clone();
    s.oidc_providers.as_mut().unwrap().push(dup);
    assert!(validate_spec(&s).unwrap_err().1.contains("duplicate issuerURL"));
    let mut s = ok.clone();
    s.oidc_providers.as_mut().unwrap()[0].validations[0].expression = "nope == 1".into();
    let (reason, message) = validate_spec(&s).unwrap_err();
    assert_eq!(reason, "InvalidCELExpression");
    assert_eq!(
        message,
        "oidcProviders[0] (issuerURL=\"https://token.actions.githubusercontent.com\"): invalid expression for validation \"must be a repository\": failed to parse the CEL expression 'nope == 1': undeclared reference to 'nope'"
    );
    let mut s = ok;
    s.r#type = "github".into();
    assert_eq!(validate_spec(&s).unwrap_err().1, "oidcProviders can only be set when type is generic-oidc");
}
