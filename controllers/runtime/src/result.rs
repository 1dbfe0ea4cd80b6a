//! What a reconcile step can end with, and what the driver does next.
//!
//! A reconciler's steps return an [`Outcome`] and maybe a [`ReconcileError`] — the shapes of
//! source-controller's `sreconcile.Result` and `serror.{Stalling, Waiting, Generic}`. The
//! [`crate::summarize`] module turns them into conditions and a [`Decision`], which the driver
//! ([`crate::controller`]) applies to the work queue exactly as controller-runtime does: an
//! error retries with backoff, a delay requeues after it, `Requeue` retries with backoff, and
//! nothing forgets the item.

use std::fmt;
use std::time::Duration;

use eddy_api::meta::Condition;

use crate::recorder::EventType;

/// How a reconcile step went, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Nothing to say; no requeue of its own.
    #[default]
    Empty,
    /// Come back at once (with backoff), e.g. after adding the finalizer.
    Requeue,
    /// Done; come back at the interval.
    Success,
}

impl Outcome {
    /// The outcome that requeues soonest (upstream's `LowestRequeuingResult`).
    #[must_use]
    pub fn lowest_requeuing(self, other: Self) -> Self {
        match (self, other) {
            (Self::Empty, x) | (x, Self::Empty) => x,
            (Self::Requeue, _) | (_, Self::Requeue) => Self::Requeue,
            (_, x) => x,
        }
    }
}

/// The kind of a reconcile failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Cannot succeed until the object changes: no retry, `Stalled=True`.
    Stalling,
    /// Waiting for something else (a dependency): requeue after a delay, no backoff.
    Waiting {
        /// The delay; the object's interval when `None`.
        requeue_after: Option<Duration>,
    },
    /// A failure to retry with backoff.
    Generic,
    /// An error without a Flux reason (retried with backoff, `Ready=False` reason `Failed`).
    Other,
}

/// How a failure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The event type to record, or `None` for no event.
    pub event: Option<EventType>,
    /// Whether to log it.
    pub log: bool,
    /// Whether a `Normal` event also goes to notifications (otherwise it is a trace event).
    pub notification: bool,
    /// Treat as a success for requeueing (requeue at the interval, no error).
    pub ignore: bool,
}

/// A failed reconcile step: what went wrong, why (a Flux reason), and how to report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileError {
    /// The kind.
    pub kind: ErrorKind,
    /// The Flux reason (`GitOperationFailed`, `URLInvalid`, ...).
    pub reason: String,
    /// The message users see.
    pub message: String,
    /// Reporting options.
    pub report: Report,
}

impl ReconcileError {
    /// A stall (upstream's `serror.NewStalling`: Warning event, logged, notified).
    pub fn stalling(reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Stalling,
            reason: reason.into(),
            message: message.into(),
            report: Report { event: Some(EventType::Warning), log: true, notification: true, ignore: false },
        }
    }

    /// A wait (upstream's `serror.NewWaiting`: Normal event, logged, not notified).
    pub fn waiting(reason: &str, message: impl Into<String>, requeue_after: Option<Duration>) -> Self {
        Self {
            kind: ErrorKind::Waiting { requeue_after },
            reason: reason.into(),
            message: message.into(),
            report: Report { event: Some(EventType::Normal), log: true, notification: false, ignore: false },
        }
    }

    /// A generic failure (upstream's `serror.NewGeneric`: Warning event, notified, not logged
    /// separately).
    pub fn generic(reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Generic,
            reason: reason.into(),
            message: message.into(),
            report: Report { event: Some(EventType::Warning), log: false, notification: true, ignore: false },
        }
    }

    /// An error without a Flux reason.
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Other,
            reason: crate::conditions::reasons::FAILED.into(),
            message: message.into(),
            report: Report { event: None, log: true, notification: false, ignore: false },
        }
    }

    /// With other reporting options.
    #[must_use]
    pub fn with_report(mut self, report: Report) -> Self {
        self.report = report;
        self
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReconcileError {}

/// When to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Not on our own (an event will bring the object back).
    Never,
    /// After this delay, with the failure count reset.
    After(Duration),
    /// After the item's backoff delay.
    WithBackoff,
}

/// The driver's instructions after one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When to come back (ignored when `error` is set: errors always back off).
    pub requeue: Requeue,
    /// The error to log and retry with backoff, if any.
    pub error: Option<String>,
    /// The object's conditions after the reconcile, for the condition metrics.
    pub conditions: Option<Vec<Condition>>,
}

impl Decision {
    /// Nothing more to do (the object is gone or needs nothing).
    #[must_use]
    pub fn done() -> Self {
        Self { requeue: Requeue::Never, error: None, conditions: None }
    }

    /// Come back after `delay`.
    #[must_use]
    pub fn after(delay: Duration) -> Self {
        Self { requeue: Requeue::After(delay), error: None, conditions: None }
    }

    /// Retry with backoff because of `error`.
    #[must_use]
    pub fn failed(error: impl Into<String>) -> Self {
        Self { requeue: Requeue::WithBackoff, error: Some(error.into()), conditions: None }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome::{Empty, Requeue, Success};

    #[test]
    fn lowest_requeuing_matches_upstream() {
        assert_eq!(Empty.lowest_requeuing(Success), Success);
        assert_eq!(Success.lowest_requeuing(Empty), Success);
        assert_eq!(Success.lowest_requeuing(Requeue), Requeue);
        assert_eq!(Requeue.lowest_requeuing(Success), Requeue);
        assert_eq!(Success.lowest_requeuing(Success), Success);
    }
}
