//! The verdict of one round of a wait and fluxcd/pkg ssa `WaitForSet`'s messages.

use crate::Status;

/// What is known of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Nothing yet (its watch has not listed, and has not failed).
    Nothing,
    /// A status, with the error that made it Unknown if any.
    Status(Status, Option<String>),
}

/// What a wait does after a round.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every target is Current.
    Done,
    /// Stop: fail-fast and something failed, or every target is Current or Failed.
    FailedEarly(String),
    /// Keep waiting.
    Wait,
}

/// `Kind/namespace/name` as fluxcd/pkg's `FmtObjMetadata`.
fn entry(name: &str, observed: &Observed) -> String {
    match observed {
        Observed::Nothing => format!("can't determine status for {name}"),
        Observed::Status(status, None) => format!("{name} status: '{status}'"),
        Observed::Status(status, Some(err)) => format!("{name} status: '{status}': {err}"),
    }
}

/// The round's verdict over `(name, observed, counts_as_current_when_absent)` entries, as
/// `WaitForSet`'s observer decides: all Current → done; fail-fast with a Failed one, or only
/// Current and Failed left → failed early.
pub(crate) fn verdict(entries: &[(String, Observed, bool)], fail_fast: bool) -> Verdict {
    let mut all_known = true;
    let mut all_current = true;
    let mut any_failed = false;
    let mut terminal = true;
    for (_, observed, ttl_job) in entries {
        match effective(observed, *ttl_job) {
            None => {
                all_known = false;
                all_current = false;
                terminal = false;
            }
            Some(Status::Current) => {}
            Some(Status::Failed) => {
                any_failed = true;
                all_current = false;
            }
            Some(_) => {
                all_current = false;
                terminal = false;
            }
        }
    }
    if all_current {
        return Verdict::Done;
    }
    // Fail-fast needs one Failed object; otherwise only Current and Failed may be left.
    if any_failed && (fail_fast || (terminal && all_known)) {
        // As WaitForSet lists them: the Failed ones, and those it knows nothing of.
        let failed: Vec<String> = entries
            .iter()
            .filter(|(_, o, _)| matches!(o, Observed::Status(Status::Failed, _) | Observed::Nothing))
            .map(|(n, o, _)| entry(n, o))
            .collect();
        return Verdict::FailedEarly(format!("failed early due to stalled resources: [{}]", failed.join(", ")));
    }
    Verdict::Wait
}

/// The status a target counts with: a NotFound Job with a TTL counts as Current.
fn effective(observed: &Observed, ttl_job: bool) -> Option<Status> {
    match observed {
        Observed::Nothing => None,
        Observed::Status(Status::NotFound, _) if ttl_job => Some(Status::Current),
        Observed::Status(s, _) => Some(*s),
    }
}

/// `WaitForSet`'s message at the deadline: every target not Current.
pub(crate) fn timeout_message(entries: &[(String, Observed, bool)]) -> String {
    let pending: Vec<String> = entries
        .iter()
        .filter(|(_, o, ttl)| effective(o, *ttl) != Some(Status::Current))
        .map(|(n, o, _)| entry(n, o))
        .collect();
    format!("timeout waiting for: [{}]", pending.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, o: Observed) -> (String, Observed, bool) {
        (name.to_owned(), o, false)
    }

    fn s(status: Status) -> Observed {
        Observed::Status(status, None)
    }

    #[test]
    fn verdicts() {
        let cur = e("ConfigMap/ns/a", s(Status::Current));
        let failed = e("Job/ns/j", s(Status::Failed));
        let prog = e("Deployment/ns/d", s(Status::InProgress));
        let nothing = e("X/ns/x", Observed::Nothing);
        assert_eq!(verdict(std::slice::from_ref(&cur), false), Verdict::Done);
        assert_eq!(verdict(&[], false), Verdict::Done);
        assert_eq!(verdict(&[cur.clone(), prog.clone()], false), Verdict::Wait);
        assert_eq!(verdict(&[cur.clone(), nothing.clone()], false), Verdict::Wait);
        assert_eq!(verdict(&[failed.clone(), prog.clone()], false), Verdict::Wait);
        let early =
            Verdict::FailedEarly("failed early due to stalled resources: [Job/ns/j status: 'Failed']".to_owned());
        assert_eq!(verdict(&[failed.clone(), prog.clone()], true), early);
        assert_eq!(verdict(&[cur.clone(), failed.clone()], false), early);
        assert_eq!(verdict(&[failed.clone(), nothing.clone()], false), Verdict::Wait);
        assert_eq!(
            verdict(&[failed.clone(), nothing], true),
            Verdict::FailedEarly(
                "failed early due to stalled resources: [Job/ns/j status: 'Failed', can't determine status for X/ns/x]"
                    .to_owned()
            )
        );
        let ttl = ("Job/ns/t".to_owned(), s(Status::NotFound), true);
        assert_eq!(verdict(&[cur, ttl], false), Verdict::Done);
    }

    #[test]
    fn timeout_messages() {
        let entries = [
            e("Deployment/default/podinfo", s(Status::InProgress)),
            e("ConfigMap/default/ok", s(Status::Current)),
            e("Service/default/missing", s(Status::NotFound)),
            e("Namespace/gone", Observed::Nothing),
            e("Thing/default/t", Observed::Status(Status::Unknown, Some("no such key: ready".to_owned()))),
        ];
        assert_eq!(
            timeout_message(&entries),
            "timeout waiting for: [Deployment/default/podinfo status: 'InProgress', Service/default/missing status: 'NotFound', \
             can't determine status for Namespace/gone, Thing/default/t status: 'Unknown': no such key: ready]"
        );
    }
}
