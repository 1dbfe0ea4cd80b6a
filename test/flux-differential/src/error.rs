//! The harness's errors.

use thiserror::Error;

/// What can go wrong while driving the clusters (not a difference: a difference is a result).
#[derive(Debug, Error)]
pub enum Error {
    /// A kubectl command failed.
    #[error("kubectl {args} on the {side} cluster failed: {stderr}")]
    Kubectl {
        /// Which cluster.
        side: &'static str,
        /// The arguments (never secret material: data goes through stdin).
        args: String,
        /// kubectl's standard error.
        stderr: String,
    },
    /// A command could not be started or waited for.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// kubectl printed something that is not the JSON asked for.
    #[error("kubectl output is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The Git fixture failed.
    #[error("git fixture: {0}")]
    Git(#[from] eddy_test_git::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The known-differences file is malformed.
    #[error(transparent)]
    Known(#[from] crate::known::ParseError),
    /// A tool (sops, gpg, curl) failed; its standard error (never key material).
    #[error("{what} failed: {stderr}")]
    Tool {
        /// The tool and what it was asked.
        what: &'static str,
        /// Its standard error.
        stderr: String,
    },
    /// A bounded wait ran out.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
