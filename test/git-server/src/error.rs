//! The crate's one error type.
//!
//! Every variant names the step that failed. Nothing here ever carries a password, token,
//! passphrase or private key: command failures keep a short description chosen by the caller
//! (never the argument list, which may hold a passphrase) and the program's standard error.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Errors of the test servers and fixture builders.
///
/// Debug shows the same text as Display (with the source chain), so that a test's
/// `.unwrap()` prints a readable message, such as the hint to run `hack/ensure-deps`.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A required external tool is not installed.
    #[error("{tool} not found ({path}); run hack/ensure-deps to install the test dependencies")]
    ToolMissing {
        /// The tool's name (`sshd`, `git`, `gpg`, ...).
        tool: &'static str,
        /// Where it was looked for.
        path: String,
    },
    /// A command ran to completion but failed.
    #[error("{what} failed ({status}): {stderr}")]
    CommandFailed {
        /// A description of the command (never its arguments).
        what: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error, trimmed and truncated.
        stderr: String,
    },
    /// A command or a wait did not finish in time.
    #[error("{what} did not finish within {timeout:?}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
    },
    /// A certificate could not be generated.
    #[error("generating a test certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("configuring TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// `sshd` exited or never answered while starting.
    #[error("sshd did not start: {reason}; its log ({log}):\n{log_tail}")]
    SshdStart {
        /// Why we gave up.
        reason: String,
        /// The log file.
        log: PathBuf,
        /// The end of the log.
        log_tail: String,
    },
    /// A command printed something we could not understand.
    #[error("unexpected output from {what}: {output}")]
    UnexpectedOutput {
        /// The command.
        what: String,
        /// What it printed (trimmed).
        output: String,
    },
    /// An argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_name_the_installer() {
        let e = Error::ToolMissing { tool: "sshd", path: "/usr/sbin/sshd".to_owned() };
        let shown = e.to_string();
        assert!(shown.contains("sshd") && shown.contains("hack/ensure-deps"), "{shown}");
        // What `.unwrap()` prints in a failing test.
        let debug = format!("{e:?}");
        assert!(debug.contains("hack/ensure-deps"), "{debug}");
    }
}
