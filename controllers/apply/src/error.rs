//! Errors: the crate's public [`ApplyError`], the typed failure of one Kubernetes request
//! ([`RequestError`]) and of one object ([`ObjectError`]), whose texts follow fluxcd/pkg/ssa.

/// Why an apply or delete failed. The `Display` texts follow fluxcd/pkg/ssa's messages, since
/// they become the Kustomization's `Ready` message.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An object is malformed (no kind, no name, bad id).
    #[error("{0}")]
    Invalid(String),
    /// Applying or deleting failed; the message names each failing object.
    #[error("{0}")]
    Failed(String),
    /// Waiting timed out.
    #[error("{0}")]
    Timeout(String),
}

impl From<ObjectError> for ApplyError {
    fn from(e: ObjectError) -> Self {
        ApplyError::Failed(e.to_string())
    }
}

/// A failed request to the Kubernetes API. `Display` is what Go's `apierrors` print: the
/// `Status` message the server sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// The server answered with a failure `Status`.
    #[error("{message}")]
    Status {
        /// HTTP code.
        code: u16,
        /// `Status.reason` (`NotFound`, `Invalid`, `Forbidden`, …); may be empty.
        reason: String,
        /// `Status.message`.
        message: String,
        /// Whether a cause is of type `FieldManagerConflict`.
        field_manager_conflict: bool,
    },
    /// Discovery knows no resource for the kind (client-go's `NoKindMatchError`).
    #[error("no matches for kind \"{kind}\" in {scope}")]
    NoKindMatch {
        /// The kind.
        kind: String,
        /// Where it was looked up: `version "example.com/v1"` or `group "example.com"`.
        scope: String,
    },
    /// The request did not get an answer (connection, TLS, decoding).
    #[error("{0}")]
    Transport(String),
}

impl From<kube::Error> for RequestError {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => {
                let field_manager_conflict = status
                    .details
                    .as_ref()
                    .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"));
                // A body that is no `Status` (kube writes "Failed to parse error data" as the
                // reason): client-go derives the reason from the code.
                let (reason, message) = if status.reason.contains(' ') {
                    generic_response(status.code, status.message)
                } else {
                    (status.reason, status.message)
                };
                RequestError::Status { code: status.code, reason, message, field_manager_conflict }
            }
            other => RequestError::Transport(other.to_string()),
        }
    }
}

/// client-go's `NewGenericServerResponse`: the reason (and, for a missing resource, the
/// message) an answer without a `Status` body gets.
fn generic_response(code: u16, body: String) -> (String, String) {
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };
    let message = if code == 404 { "the server could not find the requested resource".to_string() } else { body };
    (reason.to_string(), message)
}

impl RequestError {
    /// The `Status.reason`, as `apierrors.ReasonForError` (empty when unknown).
    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            RequestError::Status { reason, .. } => reason,
            _ => "",
        }
    }

    /// Whether the reason is `reason`, or unknown and the code is `code` (as `apierrors`).
    fn is(&self, reason: &str, code: u16) -> bool {
        match self {
            RequestError::Status { reason: r, code: c, .. } => {
                r == reason || ((r.is_empty() || r == "Unknown") && *c == code)
            }
            _ => false,
        }
    }

    /// `apierrors.IsNotFound`.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.is("NotFound", 404)
    }

    /// `apierrors.IsConflict`.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.is("Conflict", 409)
    }

    /// `apierrors.IsInvalid`.
    #[must_use]
    pub fn is_invalid(&self) -> bool {
        self.is("Invalid", 422)
    }

    /// fluxcd/pkg/ssa `IsImmutableError`: a Conflict or Invalid answer (as kubectl detects
    /// immutability), or a message saying a field `is immutable` / `immutable field` (CEL
    /// rules and admission webhooks).
    #[must_use]
    pub fn is_immutable(&self) -> bool {
        if self.is_conflict() || self.is_invalid() {
            return true;
        }
        let text = self.to_string();
        contains_words(&text, "is", "immutable") || contains_words(&text, "immutable", "field")
    }
}

/// Whether `text` contains `first`, one whitespace character, then `second` (the regular
/// expressions `is\simmutable` and `immutable\sfield`).
fn contains_words(text: &str, first: &str, second: &str) -> bool {
    text.match_indices(first).any(|(i, _)| {
        let rest = &text[i + first.len()..];
        let mut chars = rest.chars();
        chars.next().is_some_and(char::is_whitespace) && chars.as_str().starts_with(second)
    })
}

/// Why one object could not be applied or deleted; `Display` is fluxcd/pkg/ssa's message.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The server-side dry-run failed (ssa `DryRunErr`).
    #[error("{}", dry_run_message(subject, *namespace_empty, source))]
    DryRun {
        /// `Kind/namespace/name`.
        subject: String,
        /// Whether the object has no namespace.
        namespace_empty: bool,
        /// The request's failure.
        source: RequestError,
    },
    /// The real apply failed.
    #[error("{subject} apply failed: {source}")]
    Apply {
        /// `Kind/namespace/name`.
        subject: String,
        /// The request's failure.
        source: RequestError,
    },
    /// Deleting an object to recreate it failed.
    #[error("{subject} immutable field detected, failed to delete object: {source}")]
    ForceDelete {
        /// `Kind/namespace/name`.
        subject: String,
        /// The request's failure.
        source: RequestError,
    },
    /// Waiting for an object deleted to be recreated failed.
    #[error("{subject} immutable field detected, failed to wait for object to be deleted: {reason}")]
    ForceWait {
        /// `Kind/namespace/name`.
        subject: String,
        /// Why.
        reason: String,
    },
    /// Removing other managers' metadata failed.
    #[error("{subject} metadata.managedFields cleanup failed: {source}")]
    Cleanup {
        /// `Kind/namespace/name`.
        subject: String,
        /// The request's failure.
        source: RequestError,
    },
    /// Rewriting the API version of the `managedFields` entries failed.
    #[error(
        "{subject} failed to migrate API version: failed to migrate managed fields API version to {api_version}: {source}"
    )]
    MigrateApiVersion {
        /// `Kind/namespace/name`.
        subject: String,
        /// The version migrated to.
        api_version: String,
        /// The request's failure.
        source: RequestError,
    },
    /// Reading an object to delete it failed.
    #[error("{subject} query failed: {source}")]
    DeleteQuery {
        /// `Kind/namespace/name`.
        subject: String,
        /// The request's failure.
        source: RequestError,
    },
    /// Deleting an object failed.
    #[error("{subject} delete failed: {source}")]
    Delete {
        /// `Kind/namespace/name`.
        subject: String,
        /// The request's failure.
        source: RequestError,
    },
}

/// ssa `DryRunErr.Error`: NotFound answers say which object (or that its namespace is
/// missing); others carry the reason in parentheses (`FieldManagerConflict` when a cause says
/// so).
fn dry_run_message(subject: &str, namespace_empty: bool, source: &RequestError) -> String {
    if source.is_not_found() {
        if namespace_empty {
            return format!("{subject} namespace not specified: {source}");
        }
        return format!("{subject} not found: {source}");
    }
    let reason = match source {
        RequestError::Status { field_manager_conflict: true, .. } => "FieldManagerConflict",
        other => other.reason(),
    };
    if reason.is_empty() {
        format!("{subject} dry-run failed: {source}")
    } else {
        format!("{subject} dry-run failed ({reason}): {source}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> RequestError {
        RequestError::Status { code, reason: reason.into(), message: message.into(), field_manager_conflict: false }
    }

    #[test]
    fn dry_run_messages_follow_ssa() {
        let invalid = status(422, "Invalid", "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1");
        let e = ObjectError::DryRun { subject: "Deployment/ns/web".into(), namespace_empty: false, source: invalid };
        assert_eq!(
            e.to_string(),
            "Deployment/ns/web dry-run failed (Invalid): Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1"
        );
        let nf = status(404, "NotFound", "namespaces \"x\" not found");
        let e = ObjectError::DryRun { subject: "ConfigMap/x/a".into(), namespace_empty: false, source: nf.clone() };
        assert_eq!(e.to_string(), "ConfigMap/x/a not found: namespaces \"x\" not found");
        let e = ObjectError::DryRun { subject: "ConfigMap/a".into(), namespace_empty: true, source: nf };
        assert!(e.to_string().starts_with("ConfigMap/a namespace not specified: "));
        let nk = RequestError::NoKindMatch { kind: "Foo".into(), scope: "version \"example.com/v1\"".into() };
        let e = ObjectError::DryRun { subject: "Foo/ns/a".into(), namespace_empty: false, source: nk };
        assert_eq!(e.to_string(), "Foo/ns/a dry-run failed: no matches for kind \"Foo\" in version \"example.com/v1\"");
        let conflict = RequestError::Status {
            code: 409,
            reason: "Conflict".into(),
            message: "Apply failed with 1 conflict".into(),
            field_manager_conflict: true,
        };
        let e = ObjectError::DryRun { subject: "ConfigMap/ns/a".into(), namespace_empty: false, source: conflict };
        assert_eq!(e.to_string(), "ConfigMap/ns/a dry-run failed (FieldManagerConflict): Apply failed with 1 conflict");
    }

    #[test]
    fn immutable_errors_are_detected_as_ssa() {
        assert!(status(422, "Invalid", "spec.selector: field is immutable").is_immutable());
        assert!(status(409, "Conflict", "conflict").is_immutable());
        assert!(status(400, "BadRequest", "admission webhook denied: field is immutable").is_immutable());
        assert!(status(400, "BadRequest", "cannot change immutable\tfield spec.x").is_immutable());
        assert!(!status(403, "Forbidden", "cannot patch").is_immutable());
        assert!(!status(400, "BadRequest", "immutablefield").is_immutable());
        assert!(!RequestError::Transport("connection refused".into()).is_immutable());
    }

    #[test]
    fn bodies_without_status_get_generic_reasons() {
        let status = kube::core::Status {
            code: 404,
            reason: "Failed to parse error data".into(),
            message: "404 page not found".into(),
            ..kube::core::Status::default()
        };
        let e = RequestError::from(kube::Error::Api(Box::new(status)));
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "the server could not find the requested resource");
    }

    #[test]
    fn reasons_fall_back_to_codes() {
        assert!(status(404, "", "gone").is_not_found());
        assert!(status(404, "NotFound", "gone").is_not_found());
        assert!(!status(404, "Forbidden", "no").is_not_found());
        assert!(status(422, "Unknown", "bad").is_invalid());
    }
}
