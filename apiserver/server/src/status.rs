//! `metav1.Status`: the body of every error answer, with the `reason`, HTTP `code` and, for
//! validation failures, one `cause` per field, as kube-apiserver sends them.

use axum::http::StatusCode;
use serde_json::{Value, json};

use eddy_api::admission::AdmissionError;
use eddy_api::validation::FieldError;

/// What the failed request was about, for the `details` of a Status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// API group.
    pub group: String,
    /// Resource (plural) name, e.g. `gitrepositories`; kube-apiserver reports it as `kind`.
    pub resource: String,
    /// Object name, when the request names one.
    pub name: String,
}

impl Target {
    /// `gitrepositories.source.toolkit.fluxcd.io`, as messages print a group-resource.
    #[must_use]
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) }
    }
}

/// One field-level cause of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, ...
    pub reason: String,
    /// Human-readable explanation.
    pub message: String,
    /// JSON path of the field.
    pub field: String,
}

/// An error answer: HTTP code, `reason`, message and optional details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `metav1.StatusReason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human-readable description.
    pub message: String,
    /// What the request was about (empty when not about one resource).
    pub target: Option<Box<Target>>,
    /// Field causes.
    pub causes: Vec<Cause>,
    /// `Retry-After` seconds, for 429/504 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), target: None, causes: Vec::new(), retry_after: None }
    }

    /// 401: the request is not authenticated.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 with a complete message (kube-apiserver words it per request).
    pub fn forbidden(message: impl Into<String>, target: Option<Target>) -> Self {
        let mut e = Self::new(403, "Forbidden", message);
        e.target = target.map(Box::new);
        e
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 for a path no handler serves.
    pub fn path_not_found(path: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    /// 404 for a missing object.
    pub fn not_found(target: Target) -> Self {
        let message = format!("{} {:?} not found", target.group_resource(), target.name);
        Self::new(404, "NotFound", message).about(target)
    }

    /// 409 for a create of an existing name.
    pub fn already_exists(target: Target) -> Self {
        let message = format!("{} {:?} already exists", target.group_resource(), target.name);
        Self::new(409, "AlreadyExists", message).about(target)
    }

    /// 409 for a write based on a stale `resourceVersion` or failed precondition.
    pub fn conflict(target: Target, why: &str) -> Self {
        let message = format!("Operation cannot be fulfilled on {} {:?}: {why}", target.group_resource(), target.name);
        Self::new(409, "Conflict", message).about(target)
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 406 for an `Accept` header naming nothing the server can produce.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 410 for a `resourceVersion` or continue token whose history is gone.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 for a body larger than the server accepts.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    /// 415 for a `Content-Type` the server does not read.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 422 with one cause per field error.
    pub fn invalid(target: Target, kind: &str, errors: &[FieldError]) -> Self {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let message = if list.len() == 1 {
            format!("{kind}.{} {:?} is invalid: {}", target.group, target.name, list[0])
        } else {
            format!("{kind}.{} {:?} is invalid: [{}]", target.group, target.name, list.join(", "))
        };
        let causes = errors
            .iter()
            .map(|e| {
                let full = e.to_string();
                // The cause message is the error without its leading "field: ".
                let message = full.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&full).to_owned();
                Cause { reason: e.error_type.cause_reason().to_owned(), message, field: e.field.clone() }
            })
            .collect();
        Self { causes, ..Self::new(422, "Invalid", message).about(target) }
    }

    /// 409 for a server-side apply whose fields other managers own: `reason` Conflict, one
    /// `FieldManagerConflict` cause per field, and no details about the object (as kube sends it).
    pub fn field_manager_conflicts(message: impl Into<String>, causes: impl IntoIterator<Item = Cause>) -> Self {
        Self { causes: causes.into_iter().collect(), ..Self::new(409, "Conflict", message) }
    }

    /// An error kube-apiserver reports without a reason (`StatusReasonUnknown`): a plain error
    /// of the handler chain, e.g. an apply configuration that does not fit the schema (500).
    pub fn unknown(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message)
    }

    /// 500 for a failure of the server itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 504 for a `resourceVersion` newer than the store has.
    ///
    /// It carries the `ResourceVersionTooLarge` cause, which client-go's
    /// `IsTooLargeResourceVersion` (and so its reflectors) looks for.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        Self {
            retry_after: Some(1),
            causes: vec![Cause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            }],
            ..Self::new(504, "Timeout", format!("Too large resource version: {requested}, current: {current}"))
        }
    }

    /// Attaches the target of the request.
    #[must_use]
    pub fn about(mut self, target: Target) -> Self {
        self.target = Some(Box::new(target));
        self
    }

    /// The `metav1.Status` JSON body.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty()
            && let Some(m) = status.as_object_mut()
        {
            m.remove("reason");
        }
        let mut details = serde_json::Map::new();
        if let Some(t) = &self.target {
            if !t.name.is_empty() {
                details.insert("name".into(), t.name.clone().into());
            }
            if !t.group.is_empty() {
                details.insert("group".into(), t.group.clone().into());
            }
            if !t.resource.is_empty() {
                details.insert("kind".into(), t.resource.clone().into());
            }
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    // Every field of a StatusCause is `omitempty` in kube-apiserver's answers.
                    let mut cause = serde_json::Map::new();
                    for (k, v) in [("reason", &c.reason), ("message", &c.message), ("field", &c.field)] {
                        if !v.is_empty() {
                            cause.insert(k.into(), v.clone().into());
                        }
                    }
                    Value::Object(cause)
                })
                .collect();
            details.insert("causes".into(), causes.into());
        }
        if let Some(s) = self.retry_after {
            details.insert("retryAfterSeconds".into(), s.into());
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Maps a storage error about `target` to its Kubernetes answer.
    #[must_use]
    pub fn from_storage(err: &eddy_storage::Error, target: Target) -> Self {
        use eddy_storage::Error as E;
        match err {
            E::NotFound => Self::not_found(target),
            E::AlreadyExists => Self::already_exists(target),
            E::Conflict { .. } => Self::conflict(
                target,
                "the object has been modified; please apply your changes to the latest version and try again",
            ),
            E::PreconditionFailed(why) => Self::conflict(target, &format!("Precondition failed: {why}")),
            E::Compacted { requested, compacted } => Self::expired(format!(
                "The resourceVersion for the provided list is too old: {requested} (oldest available is {compacted})"
            )),
            E::FutureRevision { requested, current } => Self::too_large_resource_version(*requested, *current),
            E::TooLarge { size, limit } => Self::too_large(format!(
                "the object is {size} bytes once stored, more than the limit of {limit} bytes"
            ))
            .about(target),
            E::QuotaExceeded { namespace, what, requested, limit } => Self::new(
                403,
                "Forbidden",
                format!(
                    "{} {:?} is forbidden: exceeded quota of namespace {namespace:?}: {what} would be {requested}, limit is {limit}",
                    target.group_resource(),
                    target.name
                ),
            )
            .about(target),
            E::InvalidKey(why) => Self::bad_request(why.clone()),
            other => Self::internal(other.to_string()),
        }
    }

    /// Maps an admission failure of a `kind` object to its answer.
    #[must_use]
    pub fn from_admission(err: &AdmissionError, target: Target, kind: &str) -> Self {
        match err {
            AdmissionError::NotServed { .. } => Self::bad_request(err.to_string()),
            AdmissionError::UnknownFields(_) => Self::bad_request(err.to_string()),
            AdmissionError::Invalid(errors) => Self::invalid(target, kind, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { group: "source.toolkit.fluxcd.io".into(), resource: "gitrepositories".into(), name: "app".into() }
    }

    #[test]
    fn storage_errors_map_to_kubernetes_answers() {
        use eddy_storage::Error as E;
        let check = |err: E, code: u16, reason: &str| {
            let e = ApiError::from_storage(&err, target());
            assert_eq!((e.code, e.reason), (code, reason), "{err}");
            assert_eq!(e.to_status()["code"], code);
        };
        check(E::NotFound, 404, "NotFound");
        check(E::AlreadyExists, 409, "AlreadyExists");
        check(E::Conflict { expected: 1, actual: 2 }, 409, "Conflict");
        check(E::PreconditionFailed("uid".into()), 409, "Conflict");
        check(E::Compacted { requested: 1, compacted: 5 }, 410, "Expired");
        check(E::FutureRevision { requested: 9, current: 5 }, 504, "Timeout");
        let future = ApiError::from_storage(&E::FutureRevision { requested: 9, current: 5 }, target()).to_status();
        assert_eq!(
            future["details"]["causes"],
            json!([{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]),
            "client-go recognises the cause"
        );
        check(E::TooLarge { size: 9, limit: 5 }, 413, "RequestEntityTooLarge");
        check(E::QuotaExceeded { namespace: "a".into(), what: "objects", requested: 2, limit: 1 }, 403, "Forbidden");
        check(E::Closed, 500, "InternalError");
    }

    #[test]
    fn status_body_has_details_and_causes() {
        let errors = vec![
            FieldError::required("spec.url", ""),
            FieldError::invalid("spec.interval", Value::from("soon"), "bad duration"),
        ];
        let e = ApiError::invalid(target(), "GitRepository", &errors);
        let s = e.to_status();
        assert_eq!(
            s["message"],
            r#"GitRepository.source.toolkit.fluxcd.io "app" is invalid: [spec.url: Required value, spec.interval: Invalid value: "soon": bad duration]"#
        );
        assert_eq!(s["details"]["name"], "app");
        assert_eq!(s["details"]["kind"], "gitrepositories");
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.url"})
        );
        assert_eq!(s["details"]["causes"][1]["message"], r#"Invalid value: "soon": bad duration"#);
        assert_eq!(
            ApiError::not_found(target()).message,
            r#"gitrepositories.source.toolkit.fluxcd.io "app" not found"#
        );
    }
}
