//! HTTP authentication of the test Git server: basic credentials and bearer tokens.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};

/// What the server accepts. Both kinds may be configured at once; either then suffices.
#[derive(Clone, Default)]
pub(crate) struct AuthConfig {
    pub(crate) basic: Option<(String, String)>,
    pub(crate) bearer: Option<String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("basic_username", &self.basic.as_ref().map(|(u, _)| u))
            .field("basic_password", &self.basic.as_ref().map(|_| "<redacted>"))
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The outcome of checking a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthOutcome {
    /// No authentication configured.
    Open,
    /// Accepted; the user name to hand to http-backend as `REMOTE_USER`.
    User(String),
    /// Refused.
    Denied,
}

impl AuthConfig {
    /// Whether any authentication is required.
    pub(crate) fn required(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some()
    }

    /// Checks the request's `Authorization` header.
    pub(crate) fn check(&self, headers: &HeaderMap) -> AuthOutcome {
        if !self.required() {
            return AuthOutcome::Open;
        }
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return AuthOutcome::Denied;
        };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic")
            && let Some((user, pass)) = &self.basic
        {
            let decoded = STANDARD.decode(rest.trim()).unwrap_or_default();
            let expected = format!("{user}:{pass}");
            if same_secret(&decoded, expected.as_bytes()) {
                return AuthOutcome::User(user.clone());
            }
        } else if scheme.eq_ignore_ascii_case("bearer")
            && let Some(token) = &self.bearer
            && same_secret(rest.trim().as_bytes(), token.as_bytes())
        {
            return AuthOutcome::User("bearer".to_owned());
        }
        AuthOutcome::Denied
    }

    /// The `WWW-Authenticate` challenges of a 401 answer.
    pub(crate) fn challenges(&self) -> Vec<HeaderValue> {
        let mut out = Vec::new();
        if self.basic.is_some() {
            out.push(HeaderValue::from_static("Basic realm=\"eddy-test-git\""));
        }
        if self.bearer.is_some() {
            out.push(HeaderValue::from_static("Bearer realm=\"eddy-test-git\""));
        }
        out
    }
}

/// Adds the challenges to `headers`.
pub(crate) fn add_challenges(config: &AuthConfig, headers: &mut HeaderMap) {
    for challenge in config.challenges() {
        headers.append(WWW_AUTHENTICATE, challenge);
    }
}

/// Compares in time independent of where the inputs differ.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_and_bearer() {
        let config = AuthConfig { basic: Some(("alice".into(), "s3cret".into())), bearer: Some("tok".into()) };
        let good = format!("Basic {}", STANDARD.encode("alice:s3cret"));
        let bad = format!("Basic {}", STANDARD.encode("alice:wrong"));
        assert_eq!(config.check(&headers(&good)), AuthOutcome::User("alice".into()));
        assert_eq!(config.check(&headers(&bad)), AuthOutcome::Denied);
        assert_eq!(config.check(&headers("Bearer tok")), AuthOutcome::User("bearer".into()));
        assert_eq!(config.check(&headers("bearer tok")), AuthOutcome::User("bearer".into()));
        assert_eq!(config.check(&headers("Bearer nope")), AuthOutcome::Denied);
        assert_eq!(config.check(&HeaderMap::new()), AuthOutcome::Denied);
        assert_eq!(AuthConfig::default().check(&HeaderMap::new()), AuthOutcome::Open);
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = AuthConfig { basic: Some(("alice".into(), "s3cret".into())), bearer: Some("tok3n".into()) };
        let shown = format!("{config:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("s3cret") && !shown.contains("tok3n"), "{shown}");
    }
}
