use std::time::Duration;

use eddy_api::source::GitRepository;

use super::*;
use crate::recorder::LogRecorder;

const READY: ReadyConditions = ReadyConditions {
    owned: &["FetchFailed", "ArtifactInStorage", "SourceVerified", "Ready", "Reconciling", "Stalled"],
    summarize: &["FetchFailed", "ArtifactInStorage", "SourceVerified", "Stalled", "Reconciling"],
    negative_polarity: &["FetchFailed", "Stalled", "Reconciling"],
    bipolarity: &["SourceVerified"],
};
const INTERVAL: Duration = Duration::from_secs(60);

fn obj() -> GitRepository {
    let mut o = GitRepository::new("app", "default");
    o.metadata.generation = Some(2);
    o
}

fn run(o: &mut GitRepository, outcome: Outcome, error: Option<ReconcileError>) -> (Decision, PatchOptions) {
    let s = Summarize {
        ready: &READY,
        interval: INTERVAL,
        action: "reconcile",
        recorder: &LogRecorder,
        ignore_not_found: true,
    };
    finalize(o, outcome, error, &s)
}

#[test]
fn success_is_ready_and_requeues_at_the_interval() {
    let mut o = obj();
    conditions::mark_reconciling(&mut o, "Progressing", "reconciliation in progress");
    conditions::mark_true(&mut o, "ArtifactInStorage", "Succeeded", "stored artifact for revision 'main@sha1:1'");
    let (d, p) = run(&mut o, Outcome::Success, None);
    assert_eq!(d, Decision { requeue: Requeue::After(INTERVAL), error: None, conditions: None });
    assert!(p.observed_generation);
    assert!(!conditions::has(&o, "Reconciling"));
    let r = conditions::get(&o, "Ready").unwrap();
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("True", "Succeeded"));
    assert_eq!(r.message, "stored artifact for revision 'main@sha1:1'");
}

#[test]
fn stall_ends_retries_and_records_the_generation() {
    let mut o = obj();
    conditions::mark_reconciling(&mut o, "Progressing", "x");
    conditions::mark_true(&mut o, "FetchFailed", "URLInvalid", "failed to parse url");
    let (d, p) = run(&mut o, Outcome::Empty, Some(ReconcileError::stalling("URLInvalid", "failed to parse url")));
    assert_eq!((d.requeue, d.error), (Requeue::Never, None));
    assert!(p.observed_generation);
    assert!(conditions::is_stalled(&o) && !conditions::has(&o, "Reconciling"));
    let r = conditions::get(&o, "Ready").unwrap();
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("False", "URLInvalid"));
}

#[test]
fn generic_error_backs_off_with_progressing_with_retry() {
    let mut o = obj();
    conditions::mark_reconciling(&mut o, "Progressing", "x");
    conditions::mark_true(&mut o, "FetchFailed", "GitOperationFailed", "failed to checkout");
    let (d, p) = run(&mut o, Outcome::Empty, Some(ReconcileError::generic("GitOperationFailed", "failed to checkout")));
    assert_eq!(d.error.as_deref(), Some("failed to checkout"));
    assert!(!p.observed_generation);
    assert_eq!(conditions::reason(&o, "Reconciling"), "ProgressingWithRetry");
    let r = conditions::get(&o, "Ready").unwrap();
    // Reconciling and FetchFailed are both negative True; FetchFailed comes first in the order.
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("False", "GitOperationFailed"));
}

#[test]
fn waiting_requeues_after_its_delay_without_error() {
    let mut o = obj();
    let e =
        ReconcileError::waiting("NoArtifact", "no artifact available for include 'x'", Some(Duration::from_secs(5)));
    let (d, _) = run(&mut o, Outcome::Empty, Some(e));
    assert_eq!((d.requeue, d.error), (Requeue::After(Duration::from_secs(5)), None));
}

#[test]
fn ignored_generic_error_is_a_success() {
    let mut o = obj();
    conditions::mark_reconciling(&mut o, "Progressing", "x");
    conditions::mark_true(&mut o, "ArtifactInStorage", "Succeeded", "stored artifact for revision 'main@sha1:1'");
    let mut e = ReconcileError::generic("GitOperationSucceeded", "no changes since last reconciliation");
    e.report.ignore = true;
    let (d, p) = run(&mut o, Outcome::Empty, Some(e));
    assert_eq!((d.requeue, d.error), (Requeue::After(INTERVAL), None));
    assert!(p.observed_generation && conditions::is_ready(&o));
}

#[test]
fn false_bipolarity_condition_forces_ready_false_and_retries() {
    let mut o = obj();
    conditions::mark_true(&mut o, "ArtifactInStorage", "Succeeded", "stored");
    conditions::mark_false(&mut o, "SourceVerified", "InvalidCommitSignature", "signature verification failed");
    let (d, _) = run(&mut o, Outcome::Success, None);
    let r = conditions::get(&o, "Ready").unwrap();
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("False", "InvalidCommitSignature"));
    assert_eq!(d.error.as_deref(), Some("signature verification failed"));
}

#[test]
fn requested_reconcile_is_recorded() {
    let mut o = obj();
    o.metadata.annotations =
        Some([("reconcile.fluxcd.io/requestedAt".to_owned(), "2026-12-06T00:00:00Z".to_owned())].into());
    let _ = run(&mut o, Outcome::Success, None);
    assert_eq!(o.last_handled_reconcile_at(), Some("2026-12-06T00:00:00Z"));
}

#[test]
fn requeue_outcome_backs_off_and_keeps_the_generation() {
    let mut o = obj();
    let (d, p) = run(&mut o, Outcome::Requeue, None);
    assert_eq!(d.requeue, Requeue::WithBackoff);
    assert!(!p.observed_generation);
}
