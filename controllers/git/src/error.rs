//! The errors of Git operations, typed so the controller can pick Flux's reason and decide
//! whether to retry.
//!
//! Messages follow the wording of `fluxcd/pkg/git/gogit` where Flux has one ("unable to clone
//! '<url>': couldn't find remote ref \"refs/heads/x\"", "unable to resolve commit object for
//! '<hash>': object not found", "no match found for semver: <range>", "unable to resolve ref
//! '<name>' to a specific commit"), so users see what they know from Flux. Every URL in a message
//! has its user information removed ([`redact_url`]) and no message ever carries a password, token,
//! key or passphrase.

use std::time::Duration;

use crate::auth::AuthError;
use crate::proxy::ProxyError;
use crate::semver::ConstraintError;

/// The broad class of a [`GitError`], for the controller's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL cannot be used (Flux `URLInvalid`, stalls).
    InvalidUrl,
    /// The credentials in the Secret cannot be used (Flux `AuthenticationFailed`).
    InvalidAuth,
    /// The proxy settings cannot be used (Flux `AuthenticationFailed`).
    InvalidProxy,
    /// The reference in the spec cannot be used (an invalid semver range; stalls).
    InvalidReference,
    /// The server refused the credentials (HTTP 401/403, SSH "Permission denied").
    AuthenticationRefused,
    /// The SSH host key is unknown or does not match `known_hosts`.
    HostKeyRejected,
    /// The repository, branch, tag, reference or commit does not exist, or no tag matches.
    NotFound,
    /// The remote repository has no commits.
    EmptyRepository,
    /// The operation ran out of time (`spec.timeout`).
    Timeout,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// Network or remote failure.
    Transport,
    /// Local failure (disk, repository state).
    Local,
}

/// A failed Git operation.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL cannot be parsed or its scheme is not supported.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL without user information.
        url: String,
        /// Why.
        reason: String,
    },
    /// The authentication options are invalid (`failed to configure authentication options`).
    #[error("failed to configure authentication options: {0}")]
    Auth(#[from] AuthError),
    /// The proxy options are invalid.
    #[error("failed to configure proxy options: {0}")]
    Proxy(#[from] ProxyError),
    /// The semver range does not parse.
    #[error("semver parse error: {0}")]
    InvalidSemver(#[from] ConstraintError),
    /// A reference name that Git refuses (e.g. it begins or ends with `/`).
    #[error("ref {reference} is invalid; {reason}")]
    InvalidReference {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The server refused the credentials or requires some.
    #[error("unable to clone '{url}': authentication required: {detail}")]
    AuthenticationRefused {
        /// The URL without user information.
        url: String,
        /// The server's or ssh's words.
        detail: String,
    },
    /// The SSH server's host key is not in `known_hosts` or does not match it.
    #[error("unable to clone '{url}': ssh: handshake failed: knownhosts: {detail}")]
    HostKeyRejected {
        /// The URL without user information.
        url: String,
        /// What ssh reported.
        detail: String,
    },
    /// The repository does not exist (or is not visible with these credentials).
    #[error("unable to clone: repository not found: git repository: '{url}'")]
    RepositoryNotFound {
        /// The URL without user information.
        url: String,
    },
    /// The branch or tag does not exist on the remote.
    #[error("unable to clone '{url}': couldn't find remote ref \"{reference}\"")]
    ReferenceNotFound {
        /// The URL without user information.
        url: String,
        /// The full reference (`refs/heads/x`, `refs/tags/x`).
        reference: String,
    },
    /// `spec.ref.name` is not advertised by the remote.
    #[error("unable to resolve ref '{reference}' to a specific commit")]
    UnresolvedReference {
        /// The reference name.
        reference: String,
    },
    /// The commit is not among the fetched objects.
    #[error("unable to resolve commit object for '{commit}': object not found")]
    CommitNotFound {
        /// The commit hash as given.
        commit: String,
    },
    /// No tag matches the semver range.
    #[error("no match found for semver: {constraint}")]
    NoSemverMatch {
        /// The range.
        constraint: String,
    },
    /// The remote repository has no commits (Flux: `EmptyGitRepository`).
    #[error("git repository is empty")]
    EmptyRepository,
    /// The operation did not finish within its time limit.
    #[error("unable to clone '{url}': context deadline exceeded (timeout {timeout:?})")]
    Timeout {
        /// The URL without user information.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// The caller cancelled the operation.
    #[error("unable to clone '{url}': context canceled")]
    Cancelled {
        /// The URL without user information.
        url: String,
    },
    /// The transport or the remote failed.
    #[error("unable to clone '{url}': {message}")]
    Transport {
        /// The URL without user information.
        url: String,
        /// What went wrong (credentials removed).
        message: String,
    },
    /// Listing the remote's references failed (the no-clone check).
    #[error("unable to list remote for '{url}': {source}")]
    ListRemote {
        /// The URL without user information.
        url: String,
        /// Why.
        #[source]
        source: Box<GitError>,
    },
    /// A submodule could not be fetched.
    #[error("failed to update submodule '{path}': {source}")]
    Submodule {
        /// The submodule's path in the superproject.
        path: String,
        /// Why.
        #[source]
        source: Box<GitError>,
    },
    /// A local operation failed (disk, repository).
    #[error("{context}: {message}")]
    Local {
        /// What was being done.
        context: String,
        /// Why.
        message: String,
    },
}

impl GitError {
    /// The class of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidUrl { .. } => ErrorKind::InvalidUrl,
            Self::Auth(_) => ErrorKind::InvalidAuth,
            Self::Proxy(_) => ErrorKind::InvalidProxy,
            Self::InvalidSemver(_) | Self::InvalidReference { .. } => ErrorKind::InvalidReference,
            Self::AuthenticationRefused { .. } => ErrorKind::AuthenticationRefused,
            Self::HostKeyRejected { .. } => ErrorKind::HostKeyRejected,
            Self::RepositoryNotFound { .. }
            | Self::ReferenceNotFound { .. }
            | Self::UnresolvedReference { .. }
            | Self::CommitNotFound { .. }
            | Self::NoSemverMatch { .. } => ErrorKind::NotFound,
            Self::EmptyRepository => ErrorKind::EmptyRepository,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
            Self::Transport { .. } => ErrorKind::Transport,
            Self::ListRemote { source, .. } | Self::Submodule { source, .. } => source.kind(),
            Self::Local { .. } => ErrorKind::Local,
        }
    }

    /// The reason source-controller records on `FetchFailed`: `URLInvalid` for an unusable URL,
    /// `AuthenticationFailed` for unusable credentials or proxy settings, `EmptyGitRepository`
    /// for an empty remote, and `GitOperationFailed` for everything that happens while talking
    /// to the remote (Flux reports refused credentials that way too).
    #[must_use]
    pub fn flux_reason(&self) -> &'static str {
        match self.kind() {
            ErrorKind::InvalidUrl => "URLInvalid",
            ErrorKind::InvalidAuth | ErrorKind::InvalidProxy => "AuthenticationFailed",
            ErrorKind::EmptyRepository => "EmptyGitRepository",
            _ => "GitOperationFailed",
        }
    }

    /// Whether retrying cannot help until the spec changes (a stall): an invalid URL or an
    /// invalid semver range.
    #[must_use]
    pub fn is_stalling(&self) -> bool {
        matches!(self.kind(), ErrorKind::InvalidUrl | ErrorKind::InvalidReference)
    }

    #[allow(clippy::needless_pass_by_value, reason = "call sites hand over errors they no longer need")]
    pub(crate) fn local(context: impl Into<String>, message: impl ToString) -> Self {
        Self::Local { context: context.into(), message: message.to_string() }
    }
}

/// Removes the user information (`user:password@`) from a URL for messages and logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => format!("{}{}{}", &url[..scheme_end + 3], &authority[at + 1..], &rest[authority_end..]),
        None => url.to_owned(),
    }
}

/// Replaces every occurrence of the given secrets in `text` by `***` (for messages that quote
/// a remote's or a tool's output).
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_information() {
        assert_eq!(redact_url("https://user:s3cret@host:8443/org/repo.git"), "https://host:8443/org/repo.git");
        assert_eq!(redact_url("ssh://git@host/org/repo"), "ssh://host/org/repo");
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact_url("https://u:p@host"), "https://host");
        assert_eq!(redact_url("file:///tmp/repo"), "file:///tmp/repo");
    }

    #[test]
    fn reasons_follow_flux() {
        let e = GitError::InvalidUrl { url: "x".into(), reason: "y".into() };
        assert_eq!(e.flux_reason(), "URLInvalid");
        assert!(e.is_stalling());
        let e = GitError::ListRemote {
            url: "u".into(),
            source: Box::new(GitError::AuthenticationRefused { url: "u".into(), detail: "401".into() }),
        };
        assert_eq!(e.kind(), ErrorKind::AuthenticationRefused);
        assert_eq!(e.flux_reason(), "GitOperationFailed");
    }
}
