//! Validating a webhook request per Receiver type (`ReceiverServer.validate` in
//! `internal/server/receiver_handlers.go`, with go-github's `ValidatePayload` /
//! `ValidateSignature`). Every comparison of a secret value is constant-time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// Why a request was refused (HTTP 401 for signatures and tokens, else 400; upstream answers
/// 400 to all). Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// A signature is missing, malformed or wrong.
    #[error("{0}")]
    Signature(String),
    /// A token header does not match.
    #[error("{0}")]
    Token(String),
    /// The event type is not in `spec.events`.
    #[error("the {0} event {1:?} is not authorised")]
    Event(&'static str, String),
    /// The body does not decode.
    #[error("{0}")]
    Payload(String),
    /// The type is not handled by Eddy.
    #[error("receiver type {0:?} not supported")]
    Unsupported(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn allowed(events: &[String], event: &str) -> bool {
    events.is_empty() || events.iter().any(|e| e.eq_ignore_ascii_case(event))
}

/// Constant-time equality of two byte strings (length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// go-github's `ValidateSignature`: `sha1=`, `sha256=` or `sha512=` and the hex HMAC of the
/// body keyed by the token.
fn validate_signature(signature: &str, body: &[u8], key: &[u8]) -> Result<(), ValidateError> {
    let Some((alg, hex)) = signature.split_once('=') else {
        return Err(ValidateError::Signature("missing signature".into()));
    };
    let given =
        decode_hex(hex).ok_or_else(|| ValidateError::Signature(format!("error decoding signature {signature:?}")))?;
    let expected: Vec<u8> = match alg {
        "sha1" => Hmac::<Sha1>::new_from_slice(key).map(|mut m| {
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }),
        "sha256" => Hmac::<Sha256>::new_from_slice(key).map(|mut m| {
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }),
        "sha512" => Hmac::<Sha512>::new_from_slice(key).map(|mut m| {
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }),
        other => return Err(ValidateError::Signature(format!("unknown hash type prefix: {other:?}"))),
    }
    .map_err(|_| ValidateError::Signature("invalid key".into()))?;
    if ct_eq(&given, &expected) {
        Ok(())
    } else {
        Err(ValidateError::Signature("payload signature check failed".into()))
    }
}

/// go-github's `ValidatePayload` for the GitHub and Bitbucket Server receivers.
fn validate_payload(headers: &HeaderMap, body: &[u8], token: &str, forge: &str) -> Result<(), ValidateError> {
    let mut signature = header(headers, "X-Hub-Signature-256");
    if signature.is_empty() {
        signature = header(headers, "X-Hub-Signature");
    }
    let content_type =
        header(headers, "Content-Type").split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let wrap =
        |e: ValidateError| ValidateError::Signature(format!("the {forge} signature header is invalid, err: {e}"));
    if content_type != "application/json" && content_type != "application/x-www-form-urlencoded" {
        return Err(wrap(ValidateError::Payload(format!(
            "webhook request has unsupported Content-Type {content_type:?}"
        ))));
    }
    if !token.is_empty() || !signature.is_empty() {
        validate_signature(signature, body, token.as_bytes()).map_err(wrap)?;
    }
    Ok(())
}

fn json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, ValidateError> {
    serde_json::from_slice(body)
        .map_err(|e| ValidateError::Payload(format!("cannot decode {what} webhook payload: {e}")))
}

/// The CDEvents (v0.4) envelope checks Eddy makes where upstream runs the cdevents SDK's
/// parser and JSON schema: a `context` with `version`, `id`, `source`, `timestamp` (RFC 3339)
/// and a `type` `dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>`, and a `subject`
/// with an `id` and a `content` object.
fn check_cdevent(body: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let context = v.get("context").filter(|c| c.is_object()).ok_or("missing context")?;
    let text = |o: &serde_json::Value, k: &str, at: &str| {
        o[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| format!("{at}.{k} is required"))
    };
    for k in ["version", "id", "source"] {
        text(context, k, "context")?;
    }
    let ts = text(context, "timestamp", "context")?;
    ts.parse::<k8s_openapi::jiff::Timestamp>().map_err(|_| format!("context.timestamp {ts:?} is not RFC 3339"))?;
    let ty = text(context, "type", "context")?;
    let parts: Vec<&str> = ty.split('.').collect();
    let versioned = parts.len() == 7
        && parts[0] == "dev"
        && parts[1] == "cdevents"
        && parts[2..4].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[4..].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !versioned {
        return Err(format!("unknown event type {ty:?}"));
    }
    let subject = v.get("subject").filter(|s| s.is_object()).ok_or("missing subject")?;
    text(subject, "id", "subject")?;
    if !subject["content"].is_object() {
        return Err("subject.content is required".into());
    }
    Ok(())
}

/// Validates a request to a Receiver of `receiver_type` with `token` and `spec.events`.
/// Returns a short description for the log (the event type handled).
///
/// # Errors
/// [`ValidateError`]: the server answers 401 or 400 (see the server's `refusal`).
pub fn validate(
    receiver_type: &str,
    token: &str,
    events: &[String],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, ValidateError> {
    match receiver_type {
        "generic" => Ok("generic".into()),
        "generic-hmac" => {
            validate_signature(header(headers, "X-Signature"), body, token.as_bytes())
                .map_err(|e| ValidateError::Signature(format!("unable to validate HMAC signature: {e}")))?;
            Ok("generic-hmac".into())
        }
        "github" => {
            validate_payload(headers, body, token, "GitHub")?;
            let event = header(headers, "X-GitHub-Event");
            if !allowed(events, event) {
                return Err(ValidateError::Event("GitHub", event.into()));
            }
            Ok(format!("handling GitHub event: {event}"))
        }
        "gitlab" => {
            if !ct_eq(header(headers, "X-Gitlab-Token").as_bytes(), token.as_bytes()) {
                return Err(ValidateError::Token(
                    "the X-Gitlab-Token header value does not match the receiver token".into(),
                ));
            }
            let event = header(headers, "X-Gitlab-Event");
            if !allowed(events, event) {
                return Err(ValidateError::Event("GitLab", event.into()));
            }
            Ok(format!("handling GitLab event: {event}"))
        }
        "bitbucket" => {
            validate_payload(headers, body, token, "Bitbucket server")?;
            let event = header(headers, "X-Event-Key");
            if !allowed(events, event) {
                return Err(ValidateError::Event("Bitbucket server", event.into()));
            }
            Ok(format!("handling Bitbucket server event: {event}"))
        }
        "harbor" => {
            if !ct_eq(header(headers, "Authorization").as_bytes(), token.as_bytes()) {
                return Err(ValidateError::Token(
                    "the Harbor Authorization header value does not match the receiver token".into(),
                ));
            }
            Ok("handling Harbor event".into())
        }
        "quay" => {
            #[derive(Deserialize)]
            struct P {
                #[serde(default)]
                docker_url: String,
            }
            let p: P = json(body, "Quay")?;
            Ok(format!("handling Quay event from {}", p.docker_url))
        }
        "dockerhub" => {
            #[derive(Deserialize, Default)]
            struct Push {
                #[serde(default)]
                tag: String,
            }
            #[derive(Deserialize, Default)]
            struct Repo {
                #[serde(default)]
                repo_url: String,
            }
            #[derive(Deserialize)]
            struct P {
                #[serde(default)]
                push_data: Push,
                #[serde(default)]
                repository: Repo,
            }
            let p: P = serde_json::from_slice(body)
                .map_err(|_| ValidateError::Payload("cannot decode DockerHub webhook payload".into()))?;
            Ok(format!("handling DockerHub event from {} for tag {}", p.repository.repo_url, p.push_data.tag))
        }
        "nexus" => {
            let signature = header(headers, "X-Nexus-Webhook-Signature");
            if signature.is_empty() {
                return Err(ValidateError::Signature("the Nexus signature is missing from header".into()));
            }
            let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes())
                .map_err(|_| ValidateError::Signature("invalid Nexus signature".into()))?;
            mac.update(body);
            let expected = crate::event::hex(&mac.finalize().into_bytes());
            if !ct_eq(signature.as_bytes(), expected.as_bytes()) {
                return Err(ValidateError::Signature("invalid Nexus signature".into()));
            }
            #[derive(Deserialize)]
            struct P {
                #[serde(default, rename = "repositoryName")]
                repository_name: String,
            }
            let p: P = json(body, "Nexus")?;
            Ok(format!("handling Nexus event from {}", p.repository_name))
        }
        "acr" => {
            #[derive(Deserialize, Default)]
            struct Target {
                #[serde(default)]
                repository: String,
                #[serde(default)]
                tag: String,
            }
            #[derive(Deserialize)]
            struct P {
                #[serde(default)]
                target: Target,
            }
            let p: P = json(body, "ACR")?;
            Ok(format!("handling ACR event from {} for tag {}", p.target.repository, p.target.tag))
        }
        "cdevents" => {
            let event = header(headers, "Ce-Type");
            check_cdevent(body)
                .map_err(|e| ValidateError::Payload(format!("unable to validate CDEvent event: {e}")))?;
            if !allowed(events, event) {
                return Err(ValidateError::Payload(format!("the CDEvent {event:?} is not authorised")));
            }
            Ok(format!("handling CDEvent: {event}"))
        }
        // gcr needs Google's keys (the server's async path, [`super::gcr`]); generic-oidc is
        // refused by the reconciler.
        other => Err(ValidateError::Unsupported(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn sign256(key: &str, body: &[u8]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        m.update(body);
        format!("sha256={}", crate::event::hex(&m.finalize().into_bytes()))
    }

    // receiver_handlers.go GitHubReceiver: go-github ValidatePayload, then the events filter.
    #[test]
    fn github_signature_and_events() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let sig = sign256("s3cret", body);
        let ok =
            headers(&[("Content-Type", "application/json"), ("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "push")]);
        assert_eq!(validate("github", "s3cret", &[], &ok, body).unwrap(), "handling GitHub event: push");
        assert!(validate("github", "s3cret", &["Push".into()], &ok, body).is_ok());
        let err = validate("github", "s3cret", &["ping".into()], &ok, body).unwrap_err();
        assert_eq!(err.to_string(), "the GitHub event \"push\" is not authorised");
        let wrong = headers(&[("Content-Type", "application/json"), ("X-Hub-Signature-256", &sign256("other", body))]);
        let err = validate("github", "s3cret", &[], &wrong, body).unwrap_err().to_string();
        assert!(err.contains("payload signature check failed"), "{err}");
        assert!(!err.contains("s3cret"));
        let missing = headers(&[("Content-Type", "application/json")]);
        assert!(validate("github", "s3cret", &[], &missing, body).is_err());
        let form = headers(&[("Content-Type", "text/plain"), ("X-Hub-Signature-256", &sig)]);
        assert!(validate("github", "s3cret", &[], &form, body).is_err());
    }

    #[test]
    fn generic_hmac_gitlab_harbor_nexus() {
        let body = b"{}";
        let h = headers(&[("X-Signature", &sign256("k", body))]);
        assert!(validate("generic-hmac", "k", &[], &h, body).is_ok());
        assert!(validate("generic-hmac", "x", &[], &h, body).is_err());
        let g = headers(&[("X-Gitlab-Token", "t"), ("X-Gitlab-Event", "Push Hook")]);
        assert!(validate("gitlab", "t", &["push hook".into()], &g, body).is_ok());
        assert!(validate("gitlab", "u", &[], &g, body).is_err());
        assert!(validate("harbor", "t", &[], &headers(&[("Authorization", "t")]), body).is_ok());
        assert!(validate("harbor", "t", &[], &headers(&[("Authorization", "x")]), body).is_err());
        let mut m = Hmac::<Sha1>::new_from_slice(b"n").unwrap();
        m.update(body);
        let sig = crate::event::hex(&m.finalize().into_bytes());
        assert!(validate("nexus", "n", &[], &headers(&[("X-Nexus-Webhook-Signature", &sig)]), body).is_ok());
        assert!(validate("nexus", "m", &[], &headers(&[("X-Nexus-Webhook-Signature", &sig)]), body).is_err());
        assert!(validate("quay", "", &[], &HeaderMap::new(), b"not json").is_err());
        assert!(matches!(validate("gcr", "", &[], &HeaderMap::new(), body), Err(ValidateError::Unsupported(_))));
    }

    // receiver_handlers.go CDEventsReceiver: the body must be a CDEvent, Ce-Type filtered by
    // spec.events (case-insensitive).
    #[test]
    fn cdevents() {
        let event = br#"{"context":{"version":"0.4.1","id":"271069a8","source":"/event/source/123","type":"dev.cdevents.pipelinerun.queued.0.2.0","timestamp":"2023-03-20T14:27:05.315384Z"},"subject":{"id":"mySubject123","source":"/event/source/123","type":"pipelineRun","content":{"pipelineName":"myPipeline","url":"https://www.example.com/mySubject123"}}}"#;
        let h = headers(&[("Ce-Type", "dev.cdevents.pipelinerun.queued.0.2.0")]);
        assert_eq!(
            validate("cdevents", "", &[], &h, event).unwrap(),
            "handling CDEvent: dev.cdevents.pipelinerun.queued.0.2.0"
        );
        let only = ["DEV.CDEVENTS.PIPELINERUN.QUEUED.0.2.0".to_owned()];
        assert!(validate("cdevents", "", &only, &h, event).is_ok());
        let other = ["dev.cdevents.taskrun.started.0.2.0".to_owned()];
        assert_eq!(
            validate("cdevents", "", &other, &h, event).unwrap_err().to_string(),
            "the CDEvent \"dev.cdevents.pipelinerun.queued.0.2.0\" is not authorised"
        );
        let bad_type = String::from_utf8(event.to_vec())
            .unwrap()
            .replace("dev.cdevents.pipelinerun.queued.0.2.0", "com.example.thing");
        assert_eq!(
            validate("cdevents", "", &[], &h, bad_type.as_bytes()).unwrap_err().to_string(),
            "unable to validate CDEvent event: unknown event type \"com.example.thing\""
        );
        let no_subject = br#"{"context":{"version":"0.4.1","id":"1","source":"s","type":"dev.cdevents.pipelinerun.queued.0.2.0","timestamp":"2023-03-20T14:27:05Z"}}"#;
        assert!(validate("cdevents", "", &[], &h, no_subject).unwrap_err().to_string().ends_with("missing subject"));
        assert!(validate("cdevents", "", &[], &h, b"not json").is_err());
    }
}
