//! kstatus' statuses and results.

use std::fmt;

/// kstatus' statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Still being worked on.
    InProgress,
    /// Failed.
    Failed,
    /// Reconciled and ready.
    Current,
    /// Being deleted.
    Terminating,
    /// Does not exist.
    NotFound,
    /// Cannot tell.
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        })
    }
}

/// A status and kstatus' message for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResult {
    /// The status.
    pub status: Status,
    /// Why (kstatus' message, e.g. `Deployment is available. Replicas: 1`).
    pub message: String,
}

impl StatusResult {
    /// A result with `status` and `message`.
    #[must_use]
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// `Current` with `message`.
    #[must_use]
    pub fn current(message: impl Into<String>) -> Self {
        Self::new(Status::Current, message)
    }

    /// `InProgress` with `message`.
    #[must_use]
    pub fn in_progress(message: impl Into<String>) -> Self {
        Self::new(Status::InProgress, message)
    }

    /// `Failed` with `message`.
    #[must_use]
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }
}
