//! **The one place** that turns a reconcile's [`Outcome`] and [`ReconcileError`] into
//! conditions, `observedGeneration`, `lastHandledReconcileAt`, events and the requeue
//! [`Decision`] — source-controller's `summarize.Helper.SummarizeAndPatch` with
//! `reconcile.ComputeReconcileResult` and `AlwaysRequeueResultBuilder`, step by step:
//!
//! 1. Report the error (log, event) and record `lastHandledReconcileAt` from the
//!    `reconcile.fluxcd.io/requestedAt` annotation.
//! 2. Success drops `Reconciling`; a remaining `Reconciling` gets reason
//!    `ProgressingWithRetry`.
//! 3. By error kind: a stall with an empty outcome sets `Stalled=True` and ends the retries;
//!    a wait requeues after its delay; an ignored generic error requeues at the interval and
//!    counts as a success; other errors retry with backoff. `observedGeneration` is written
//!    when the result is final (stalled, ignored, or no error and no requeue).
//! 4. `Ready` is summarised from the kind's conditions (negative polarity as configured); a
//!    `False` bi-polarity condition (`SourceVerified`) forces `Ready=False`.
//! 5. A "success" whose `Ready` is not `True` becomes an error (retry with backoff).
//! 6. The status is patched; the decision returned.
//!
//! The appliers (Kustomization, HelmRelease) set `Ready` themselves and close with
//! [`finalize_applier`], kustomize-controller's rules, kept here so that both policies live
//! in one place.

use std::time::Duration;

use crate::conditions::{self, Summary, reasons, types};
use crate::object::FluxObject;
use crate::patch::{PatchOptions, SerialPatcher};
use crate::recorder::{EventRecorder, EventType, object_ref};
use crate::result::{Decision, ErrorKind, Outcome, ReconcileError, Requeue};

/// The conditions of a kind that make up its `Ready` summary.
#[derive(Debug, Clone, Copy)]
pub struct ReadyConditions {
    /// The conditions the controller owns (it may overwrite any of them).
    pub owned: &'static [&'static str],
    /// The conditions `Ready` is computed from, in priority order.
    pub summarize: &'static [&'static str],
    /// Those whose `True` is bad.
    pub negative_polarity: &'static [&'static str],
    /// Conditions whose `False` forces `Ready=False` (`SourceVerified`).
    pub bipolarity: &'static [&'static str],
}

/// Everything [`summarize_and_patch`] needs besides the object.
pub struct Summarize<'a> {
    /// The kind's conditions.
    pub ready: &'a ReadyConditions,
    /// The requeue interval, already jittered.
    pub interval: Duration,
    /// The event action (`reconcile`).
    pub action: &'a str,
    /// Where events go.
    pub recorder: &'a dyn EventRecorder,
    /// Ignore a 404 from the final patch when the object is being deleted (its finalizer was
    /// just removed, so it may be gone).
    pub ignore_not_found: bool,
}

/// Finishes a reconcile (see the module docs) and patches the status.
pub async fn summarize_and_patch<T: FluxObject>(
    obj: &mut T,
    patcher: &mut SerialPatcher<T>,
    outcome: Outcome,
    error: Option<ReconcileError>,
    s: &Summarize<'_>,
) -> Decision {
    let (mut decision, options) = finalize(obj, outcome, error, s);
    if let Err(e) = patcher.patch(obj, options).await
        && !(s.ignore_not_found && obj.is_deleting() && e.is_not_found())
    {
        decision.error = Some(match decision.error {
            Some(prev) => format!("[{prev}, {e}]"),
            None => e.to_string(),
        });
    }
    decision.conditions = Some(obj.conditions().to_vec());
    decision
}

/// Steps 1 to 5 of the module docs: everything but the patch, which is left to the caller
/// with the returned options.
pub fn finalize<T: FluxObject>(
    obj: &mut T,
    outcome: Outcome,
    error: Option<ReconcileError>,
    s: &Summarize<'_>,
) -> (Decision, PatchOptions) {
    report(obj, error.as_ref(), s);
    if let Some(v) = obj.reconcile_request().map(str::to_owned) {
        obj.set_last_handled_reconcile_at(v);
    }
    let (requeue, observed_generation, mut err) = compute(obj, outcome, error, s.interval);
    let summary = Summary { conditions: s.ready.summarize, negative_polarity: s.ready.negative_polarity };
    conditions::set_summary(obj, types::READY, summary);
    let bipolar_failure = s
        .ready
        .bipolarity
        .iter()
        .find_map(|t| conditions::get(obj, t).filter(|c| c.status == conditions::FALSE))
        .map(|c| (c.reason.clone(), c.message.clone()));
    if let Some((reason, message)) = bipolar_failure {
        conditions::mark_false(obj, types::READY, &reason, message);
    }
    let success = requeue == Requeue::After(s.interval);
    if !conditions::is_stalled(obj) && err.is_none() && success && !conditions::is_ready(obj) {
        err = Some(conditions::message(obj, types::READY).to_owned());
    }
    (Decision { requeue, error: err, conditions: None }, PatchOptions { observed_generation })
}

/// The closing rules of the appliers (kustomize-controller's and helm-controller's
/// `finalizeStatus`), whose reconcilers set `Ready` themselves instead of summarising it:
/// record `lastHandledReconcileAt`; on `Ready=True` drop `Reconciling` and write
/// `observedGeneration`; on `Ready=False` a remaining `Reconciling` gets reason
/// `ProgressingWithRetry`. The caller patches.
pub fn finalize_applier<T: FluxObject>(obj: &mut T) {
    if let Some(v) = obj.reconcile_request().map(str::to_owned) {
        obj.set_last_handled_reconcile_at(v);
    }
    if conditions::is_true(obj, types::READY) {
        conditions::delete(obj, types::RECONCILING);
        let generation = obj.generation();
        obj.set_observed_generation(generation);
    }
    if conditions::is_false(obj, types::READY)
        && let Some(mut rc) = conditions::get(obj, types::RECONCILING).cloned()
    {
        rc.reason = reasons::PROGRESSING_WITH_RETRY.to_owned();
        conditions::set(obj, rc);
    }
}

/// Reports progress (fluxcd/pkg `ProgressiveStatus`): always `Reconciling=True` with the
/// reason and message; `Ready=Unknown` with the same only when there is drift (new revision,
/// missing artifact) or no usable `Ready` yet — an existing `Ready=True` stays while a routine
/// reconcile runs, so `kubectl wait` and dashboards do not flap.
pub fn progressive_status<T: FluxObject>(drift: bool, obj: &mut T, reason: &str, message: &str) {
    conditions::mark_reconciling(obj, reason, message);
    if drift || conditions::is_unknown(obj, types::READY) {
        conditions::mark_unknown(obj, types::READY, reason, message);
    }
}

/// Steps 2 and 3 of the module docs, without patching: the requeue, whether to write
/// `observedGeneration`, and the error left for the driver.
pub fn compute<T: FluxObject>(
    obj: &mut T,
    outcome: Outcome,
    error: Option<ReconcileError>,
    interval: Duration,
) -> (Requeue, bool, Option<String>) {
    let requeue = match &error {
        Some(ReconcileError { kind: ErrorKind::Waiting { requeue_after }, .. }) => {
            Requeue::After(requeue_after.filter(|d| !d.is_zero()).unwrap_or(interval))
        }
        Some(e) if e.kind == ErrorKind::Generic && e.report.ignore => Requeue::After(interval),
        _ => match outcome {
            Outcome::Requeue => Requeue::WithBackoff,
            Outcome::Success => Requeue::After(interval),
            Outcome::Empty => Requeue::Never,
        },
    };
    if error.is_none() && outcome == Outcome::Success {
        conditions::delete(obj, types::RECONCILING);
    }
    if let Some(mut c) = conditions::get(obj, types::RECONCILING).filter(|c| c.status == conditions::TRUE).cloned()
        && !conditions::is_true(obj, types::STALLED)
    {
        c.reason = reasons::PROGRESSING_WITH_RETRY.into();
        conditions::set(obj, c);
    }
    let has_conditions = !obj.conditions().is_empty();
    match error {
        Some(e) if e.kind == ErrorKind::Stalling => {
            if outcome == Outcome::Empty {
                conditions::mark_stalled(obj, &e.reason, e.message);
                return (requeue, true, None);
            }
            (requeue, false, Some(e.message))
        }
        Some(ReconcileError { kind: ErrorKind::Waiting { .. }, .. }) => {
            conditions::delete(obj, types::STALLED);
            (requeue, false, None)
        }
        Some(e) if e.kind == ErrorKind::Generic && e.report.ignore => {
            conditions::delete(obj, types::STALLED);
            conditions::delete(obj, types::RECONCILING);
            (requeue, has_conditions, None)
        }
        Some(e) => {
            conditions::delete(obj, types::STALLED);
            (requeue, false, Some(e.message))
        }
        None => {
            conditions::delete(obj, types::STALLED);
            (requeue, outcome != Outcome::Requeue && has_conditions, None)
        }
    }
}

/// Upstream's `ErrorActionHandler`: log and record the error as its report says.
fn report<T: FluxObject>(obj: &T, error: Option<&ReconcileError>, s: &Summarize<'_>) {
    let Some(e) = error else { return };
    let key = obj.key();
    if e.report.log {
        match e.report.event {
            Some(EventType::Warning) => tracing::error!(object = %key, reason = %e.reason, "{}", e.message),
            _ => tracing::info!(object = %key, reason = %e.reason, "{}", e.message),
        }
    }
    let type_ = match e.report.event {
        None => return,
        Some(EventType::Normal) if !e.report.notification => EventType::Trace,
        Some(t) => t,
    };
    s.recorder.record(&object_ref(obj), type_, &e.reason, s.action, &e.message, Default::default());
}

#[cfg(test)]
#[path = "summarize_tests.rs"]
mod tests;
