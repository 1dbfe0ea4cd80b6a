use eddy_api::source::GitRepository;

use super::*;

fn obj(generation: i64) -> GitRepository {
    let mut o = GitRepository::new("app", "default");
    o.metadata.generation = Some(generation);
    o
}

#[test]
fn set_keeps_transition_time_while_the_state_is_the_same() {
    let mut o = obj(1);
    mark_true(&mut o, "Ready", "Succeeded", "done");
    let ltt = "2000-01-01T00:00:00Z".to_owned();
    o.conditions_mut()[0].last_transition_time = ltt.clone();
    mark_true(&mut o, "Ready", "Succeeded", "done");
    assert_eq!(get(&o, "Ready").unwrap().last_transition_time, ltt);
    // A new generation updates observedGeneration but not the transition time.
    o.metadata.generation = Some(2);
    mark_true(&mut o, "Ready", "Succeeded", "done");
    let c = get(&o, "Ready").unwrap();
    assert_eq!((c.observed_generation, c.last_transition_time.as_str()), (Some(2), ltt.as_str()));
    // A new message is a transition (upstream compares type, status, reason and message).
    mark_true(&mut o, "Ready", "Succeeded", "done again");
    assert_ne!(get(&o, "Ready").unwrap().last_transition_time, ltt);
}

#[test]
fn order_is_stalled_reconciling_ready_then_types() {
    let mut o = obj(3);
    mark_true(&mut o, "FetchFailed", "GitOperationFailed", "x");
    mark_true(&mut o, "ArtifactInStorage", "Succeeded", "x");
    mark_false(&mut o, "Ready", "Failed", "x");
    mark_reconciling(&mut o, "Progressing", "x");
    let types: Vec<_> = o.conditions().iter().map(|c| c.r#type.as_str()).collect();
    assert_eq!(types, ["Reconciling", "Ready", "ArtifactInStorage", "FetchFailed"]);
    mark_stalled(&mut o, "URLInvalid", "x");
    let types: Vec<_> = o.conditions().iter().map(|c| c.r#type.as_str()).collect();
    assert_eq!(types, ["Stalled", "Ready", "ArtifactInStorage", "FetchFailed"]);
}

#[test]
fn kstatus_views() {
    let mut o = obj(1);
    assert!(is_unknown(&o, "Ready") && !is_ready(&o));
    mark_true(&mut o, "Ready", "Succeeded", "ok");
    assert!(is_ready(&o));
    mark_reconciling(&mut o, "Progressing", "working");
    assert!(!is_ready(&o) && is_reconciling(&o) && !is_stalled(&o));
    mark_stalled(&mut o, "Bad", "stuck");
    assert!(is_stalled(&o) && !is_reconciling(&o));
}

#[test]
fn long_messages_are_trimmed_on_a_char_boundary() {
    let mut o = obj(1);
    mark_false(&mut o, "Ready", "Failed", "é".repeat(20_000));
    let m = message(&o, "Ready");
    assert!(m.len() <= 32_768 && m.ends_with("..."));
}

const SOURCE: Summary<'static> = Summary {
    conditions: &[
        "StorageOperationFailed",
        "FetchFailed",
        "ArtifactOutdated",
        "ArtifactInStorage",
        "Stalled",
        "Reconciling",
    ],
    negative_polarity: &["StorageOperationFailed", "FetchFailed", "ArtifactOutdated", "Stalled", "Reconciling"],
};

#[test]
fn summary_negative_polarity_wins() {
    let mut o = obj(1);
    mark_true(&mut o, "ArtifactInStorage", "Succeeded", "stored artifact");
    mark_true(&mut o, "FetchFailed", "GitOperationFailed", "failed to checkout");
    set_summary(&mut o, "Ready", SOURCE);
    let r = get(&o, "Ready").unwrap();
    assert_eq!(
        (r.status.as_str(), r.reason.as_str(), r.message.as_str()),
        ("False", "GitOperationFailed", "failed to checkout")
    );
}

#[test]
fn summary_positive_true_and_priority_order() {
    let mut o = obj(1);
    mark_true(&mut o, "ArtifactInStorage", "Succeeded", "stored artifact for revision 'main@sha1:1'");
    set_summary(&mut o, "Ready", SOURCE);
    let r = get(&o, "Ready").unwrap();
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("True", "Succeeded"));

    // Reconciling (negative, True) outranks a positive True: Ready=False with its reason.
    mark_reconciling(&mut o, "Progressing", "reconciliation in progress");
    set_summary(&mut o, "Ready", SOURCE);
    let r = get(&o, "Ready").unwrap();
    assert_eq!((r.status.as_str(), r.reason.as_str()), ("False", "Progressing"));

    // Two negative Trues: the first in the summarize order gives the reason.
    mark_true(&mut o, "ArtifactOutdated", "NewRevision", "new upstream revision");
    mark_true(&mut o, "StorageOperationFailed", "ArchiveOperationFailed", "unable to archive");
    set_summary(&mut o, "Ready", SOURCE);
    assert_eq!(reason(&o, "Ready"), "ArchiveOperationFailed");
}

#[test]
fn summary_of_nothing_changes_nothing() {
    let mut o = obj(1);
    mark_true(&mut o, "Other", "X", "y");
    set_summary(&mut o, "Ready", SOURCE);
    assert!(!has(&o, "Ready"));
}

#[test]
fn summary_unknown_is_last_resort() {
    let mut o = obj(1);
    mark_unknown(&mut o, "ArtifactInStorage", "Progressing", "building");
    set_summary(&mut o, "Ready", SOURCE);
    assert_eq!(get(&o, "Ready").unwrap().status, "Unknown");
    mark_false(&mut o, "FetchFailed", "X", "negative false counts as good");
    set_summary(&mut o, "Ready", SOURCE);
    assert_eq!(get(&o, "Ready").unwrap().status, "True");
}
