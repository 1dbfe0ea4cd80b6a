//! Status conditions with the semantics of fluxcd/pkg `runtime/conditions`, which `kubectl
//! wait`, kstatus, `flux get` and `flux reconcile` rely on.
//!
//! - [`set`] stamps `observedGeneration` with the object's generation, trims the message to
//!   32,768 bytes, keeps `lastTransitionTime` while type, status, reason and message stay the
//!   same (a new message is a transition, as upstream), and keeps the list ordered: `Stalled`,
//!   `Reconciling`, `Ready` first, then the rest by newest generation and type.
//! - [`mark_reconciling`] drops `Stalled`, [`mark_stalled`] drops `Reconciling`; [`is_ready`],
//!   [`is_stalled`], [`is_reconciling`] read them as kstatus does.
//! - [`set_summary`] computes a target condition (usually `Ready`) from others, with negative
//!   polarity (a `True` `FetchFailed` makes `Ready` `False`), exactly as upstream's merge: the
//!   conditions in scope are grouped by (status, polarity), the group with the highest merge
//!   priority wins (true negative < false positive < true positive < false negative < unknown,
//!   smaller is more important), and the first condition of that group in the given order
//!   gives reason and message.

use eddy_api::meta::Condition;

use crate::object::FluxObject;

/// Condition types shared by every Flux kind.
pub mod types {
    /// The object is in the desired state.
    pub const READY: &str = "Ready";
    /// The controller is working towards the desired state.
    pub const RECONCILING: &str = "Reconciling";
    /// The controller cannot make progress without a change of the object.
    pub const STALLED: &str = "Stalled";
    /// The applied objects are healthy (Kustomization, HelmRelease).
    pub const HEALTHY: &str = "Healthy";
}

/// Reasons shared by every Flux kind (fluxcd/pkg `apis/meta`).
pub mod reasons {
    /// The reconciliation succeeded.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The reconciliation failed.
    pub const FAILED: &str = "Failed";
    /// The reconciliation is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// The reconciliation is in progress after a failure, and will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// The object was deleted.
    pub const DELETED: &str = "Deleted";
}

/// `True`.
pub const TRUE: &str = "True";
/// `False`.
pub const FALSE: &str = "False";
/// `Unknown`.
pub const UNKNOWN: &str = "Unknown";

const MAX_MESSAGE_LENGTH: usize = 32_768;
const TRIMMED_SUFFIX: &str = "...";

/// The current time as a condition timestamp: RFC 3339, UTC, whole seconds.
#[must_use]
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A condition value to set: type, status, reason and message.
#[must_use]
pub fn condition(type_: &str, status: &str, reason: &str, message: impl Into<String>) -> Condition {
    Condition {
        r#type: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        ..Condition::default()
    }
}

/// Sets a condition (see the module docs for what is kept and what changes).
pub fn set<T: FluxObject>(obj: &mut T, mut c: Condition) {
    c.observed_generation = Some(obj.generation());
    c.message = trim_message(c.message);
    let list = obj.conditions_mut();
    match list.iter_mut().find(|e| e.r#type == c.r#type) {
        Some(existing) => {
            if same_state(existing, &c) {
                c.last_transition_time = existing.last_transition_time.clone();
                if existing.observed_generation != c.observed_generation {
                    *existing = c;
                }
            } else {
                c.last_transition_time = now();
                *existing = c;
            }
        }
        None => {
            if c.last_transition_time.is_empty() {
                c.last_transition_time = now();
            }
            list.push(c);
        }
    }
    list.sort_by(order);
}

/// Sets `type_` to `True`.
pub fn mark_true<T: FluxObject>(obj: &mut T, type_: &str, reason: &str, message: impl Into<String>) {
    set(obj, condition(type_, TRUE, reason, message));
}

/// Sets `type_` to `False`.
pub fn mark_false<T: FluxObject>(obj: &mut T, type_: &str, reason: &str, message: impl Into<String>) {
    set(obj, condition(type_, FALSE, reason, message));
}

/// Sets `type_` to `Unknown`.
pub fn mark_unknown<T: FluxObject>(obj: &mut T, type_: &str, reason: &str, message: impl Into<String>) {
    set(obj, condition(type_, UNKNOWN, reason, message));
}

/// `Reconciling=True` (and no `Stalled`).
pub fn mark_reconciling<T: FluxObject>(obj: &mut T, reason: &str, message: impl Into<String>) {
    delete(obj, types::STALLED);
    mark_true(obj, types::RECONCILING, reason, message);
}

/// `Stalled=True` (and no `Reconciling`).
pub fn mark_stalled<T: FluxObject>(obj: &mut T, reason: &str, message: impl Into<String>) {
    delete(obj, types::RECONCILING);
    mark_true(obj, types::STALLED, reason, message);
}

/// Removes a condition.
pub fn delete<T: FluxObject>(obj: &mut T, type_: &str) {
    if obj.conditions().iter().any(|c| c.r#type == type_) {
        obj.conditions_mut().retain(|c| c.r#type != type_);
    }
}

/// The condition of a type.
#[must_use]
pub fn get<'a, T: FluxObject>(obj: &'a T, type_: &str) -> Option<&'a Condition> {
    obj.conditions().iter().find(|c| c.r#type == type_)
}

/// Whether the condition exists.
#[must_use]
pub fn has<T: FluxObject>(obj: &T, type_: &str) -> bool {
    get(obj, type_).is_some()
}

/// Whether the condition is `True`.
#[must_use]
pub fn is_true<T: FluxObject>(obj: &T, type_: &str) -> bool {
    get(obj, type_).is_some_and(|c| c.status == TRUE)
}

/// Whether the condition is `False`.
#[must_use]
pub fn is_false<T: FluxObject>(obj: &T, type_: &str) -> bool {
    get(obj, type_).is_some_and(|c| c.status == FALSE)
}

/// Whether the condition is `Unknown` or missing.
#[must_use]
pub fn is_unknown<T: FluxObject>(obj: &T, type_: &str) -> bool {
    get(obj, type_).is_none_or(|c| c.status == UNKNOWN)
}

/// `Ready=True` and neither stalled nor reconciling.
#[must_use]
pub fn is_ready<T: FluxObject>(obj: &T) -> bool {
    !is_stalled(obj) && !is_reconciling(obj) && is_true(obj, types::READY)
}

/// `Stalled=True` and not `Reconciling=True`.
#[must_use]
pub fn is_stalled<T: FluxObject>(obj: &T) -> bool {
    !is_true(obj, types::RECONCILING) && is_true(obj, types::STALLED)
}

/// `Reconciling=True` and not `Stalled=True`.
#[must_use]
pub fn is_reconciling<T: FluxObject>(obj: &T) -> bool {
    !is_true(obj, types::STALLED) && is_true(obj, types::RECONCILING)
}

/// The reason of a condition, or "".
#[must_use]
pub fn reason<'a, T: FluxObject>(obj: &'a T, type_: &str) -> &'a str {
    get(obj, type_).map_or("", |c| c.reason.as_str())
}

/// The message of a condition, or "".
#[must_use]
pub fn message<'a, T: FluxObject>(obj: &'a T, type_: &str) -> &'a str {
    get(obj, type_).map_or("", |c| c.message.as_str())
}

/// Which conditions a summary looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary<'a> {
    /// The conditions in scope, in priority order; all but the target when empty.
    pub conditions: &'a [&'a str],
    /// Conditions whose `True` is bad news (`FetchFailed`, `Stalled`, ...).
    pub negative_polarity: &'a [&'a str],
}

/// Sets `target` to the summary of the other conditions (see the module docs). Nothing changes
/// when no condition is in scope.
pub fn set_summary<T: FluxObject>(obj: &mut T, target: &str, summary: Summary<'_>) {
    if let Some(c) = summarize(obj.conditions(), target, summary) {
        set(obj, c);
    }
}

/// The summary condition of `conditions` for `target`, or `None` when none is in scope.
#[must_use]
pub fn summarize(conditions: &[Condition], target: &str, summary: Summary<'_>) -> Option<Condition> {
    let negative = |t: &str| summary.negative_polarity.contains(&t);
    let in_scope: Vec<&Condition> = conditions
        .iter()
        .filter(|c| {
            c.r#type != target && (summary.conditions.is_empty() || summary.conditions.contains(&c.r#type.as_str()))
        })
        .collect();
    // The top group: the in-scope conditions sharing the most important (status, polarity).
    let priority = |c: &Condition| match (c.status.as_str(), negative(&c.r#type)) {
        (TRUE, true) => 0,
        (FALSE, false) => 1,
        (TRUE, false) => 2,
        (FALSE, true) => 3,
        (UNKNOWN, _) => 4,
        _ => 99,
    };
    let top = in_scope.iter().map(|c| priority(c)).min()?;
    let mut group: Vec<&Condition> = in_scope.into_iter().filter(|c| priority(c) == top).collect();
    group.sort_by(|a, b| order(a, b));
    let first = summary
        .conditions
        .iter()
        .find_map(|t| group.iter().find(|c| c.r#type == *t))
        .or_else(|| group.first())
        .copied()?;
    let (status, group_negative) = (first.status.as_str(), negative(&first.r#type));
    let target_negative = negative(target);
    let status = match status {
        TRUE if group_negative != target_negative => FALSE,
        TRUE => TRUE,
        FALSE if group_negative != target_negative => TRUE,
        FALSE => FALSE,
        _ => UNKNOWN,
    };
    Some(condition(target, status, &first.reason, first.message.clone()))
}

fn same_state(a: &Condition, b: &Condition) -> bool {
    a.r#type == b.r#type && a.status == b.status && a.reason == b.reason && a.message == b.message
}

fn trim_message(mut m: String) -> String {
    if m.len() > MAX_MESSAGE_LENGTH {
        let mut cut = MAX_MESSAGE_LENGTH - TRIMMED_SUFFIX.len();
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
        m.push_str(TRIMMED_SUFFIX);
    }
    m
}

/// Upstream's order: Stalled, Reconciling, Ready; then newest generation first, then by type.
fn order(a: &Condition, b: &Condition) -> std::cmp::Ordering {
    let weight = |c: &Condition| match c.r#type.as_str() {
        types::STALLED => Some(0),
        types::RECONCILING => Some(1),
        types::READY => Some(2),
        _ => None,
    };
    match (weight(a), weight(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) if a.observed_generation == b.observed_generation => a.r#type.cmp(&b.r#type),
        (None, None) => b.observed_generation.cmp(&a.observed_generation),
    }
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
