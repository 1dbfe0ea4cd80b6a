//! The API's rules for where a read starts: the revision a list is served at (from
//! `resourceVersion`, `resourceVersionMatch`, `limit` and `continue`, as the Kubernetes API
//! documents them) and where a watch starts.

use eddy_storage::Revision;

use super::parse_resource_version;
use crate::status::ApiError;

/// The revision a list reads at: `None` for the newest. `current` is the store's newest
/// revision, `continue_revision` the one a continue token carries.
///
/// # Errors
/// 400 for combinations the API forbids, 504 for a `resourceVersion` newer than `current`.
pub fn list_revision(
    current: Revision,
    resource_version: Option<&str>,
    resource_version_match: Option<&str>,
    limit: Option<usize>,
    continue_revision: Option<Revision>,
) -> Result<Option<Revision>, ApiError> {
    let rv = resource_version.filter(|s| !s.is_empty());
    let rv_match = resource_version_match.filter(|s| !s.is_empty());
    if let Some(c) = continue_revision {
        if rv.is_some_and(|r| r != "0") {
            return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
        }
        if rv_match.is_some() {
            return Err(ApiError::bad_request("resourceVersionMatch is forbidden when continue is provided"));
        }
        return Ok(Some(c));
    }
    match (rv, rv_match) {
        (None, Some(_)) => {
            Err(ApiError::bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided"))
        }
        (None | Some("0"), None) => Ok(None),
        (Some(r), Some("NotOlderThan") | None) if limit.is_none() || r == "0" => {
            not_newer_than_current(r, current)?;
            Ok(None)
        }
        (Some(r), None | Some("Exact")) => {
            if r == "0" && rv_match == Some("Exact") {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            Ok(Some(parse_resource_version(r)?))
        }
        (Some(r), Some("NotOlderThan")) => {
            not_newer_than_current(r, current)?;
            Ok(None)
        }
        (_, Some(other)) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

fn not_newer_than_current(rv: &str, current: Revision) -> Result<Revision, ApiError> {
    let n = parse_resource_version(rv)?;
    if n > current {
        return Err(ApiError::too_large_resource_version(n, current));
    }
    Ok(n)
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// With the current state as `ADDED` events (no `resourceVersion`, `"0"`, or
    /// `sendInitialEvents=true`); `bookmark` asks for the `initial-events-end` bookmark.
    Initial {
        /// `sendInitialEvents=true`: end the initial events with a bookmark.
        bookmark: bool,
    },
    /// Right after this revision.
    After(Revision),
}

/// Where a watch starts, from `resourceVersion`, `resourceVersionMatch` and
/// `sendInitialEvents`.
///
/// # Errors
/// 400 for `sendInitialEvents=true` without `resourceVersionMatch=NotOlderThan`, a malformed
/// `resourceVersion`; 504 for one newer than `current`.
pub fn watch_start(
    current: Revision,
    resource_version: Option<&str>,
    resource_version_match: Option<&str>,
    send_initial_events: Option<&str>,
) -> Result<WatchStart, ApiError> {
    let rv = resource_version.filter(|s| !s.is_empty());
    let send_initial = match send_initial_events {
        Some("true") => {
            if resource_version_match != Some("NotOlderThan") {
                return Err(ApiError::bad_request("sendInitialEvents requires resourceVersionMatch=NotOlderThan"));
            }
            Some(true)
        }
        Some("false") => Some(false),
        _ => None,
    };
    // Without a resourceVersion (or with "0") the stream starts with the current state as
    // ADDED events; with one, it starts right after that revision.
    if send_initial.unwrap_or(matches!(rv, None | Some("0"))) {
        return Ok(WatchStart::Initial { bookmark: send_initial == Some(true) });
    }
    match rv {
        Some(r) => not_newer_than_current(r, current).map(WatchStart::After),
        None => Ok(WatchStart::After(current)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_the_newest_revision_unless_pinned() {
        assert_eq!(list_revision(10, None, None, None, None).unwrap(), None);
        assert_eq!(list_revision(10, Some("0"), None, Some(5), None).unwrap(), None);
        assert_eq!(list_revision(10, Some("7"), None, None, None).unwrap(), None, "NotOlderThan without a limit");
        assert_eq!(list_revision(10, Some("7"), None, Some(5), None).unwrap(), Some(7), "Exact with a limit");
        assert_eq!(list_revision(10, Some("7"), Some("Exact"), None, None).unwrap(), Some(7));
        assert_eq!(list_revision(10, None, None, Some(5), Some(4)).unwrap(), Some(4), "a continue token's revision");
        assert_eq!(list_revision(10, Some("11"), None, None, None).unwrap_err().code, 504);
        assert_eq!(list_revision(10, Some("11"), Some("NotOlderThan"), Some(5), None).unwrap_err().code, 504);
        for (rv, m, cont) in [
            (Some("3"), None, Some(4)),
            (Some("0"), Some("Exact"), Some(4)),
            (None, Some("Exact"), None),
            (Some("0"), Some("Exact"), None),
            (Some("3"), Some("Newest"), None),
            (Some("x"), None, None),
        ] {
            assert_eq!(list_revision(10, rv, m, Some(5), cont).unwrap_err().code, 400, "{rv:?} {m:?} {cont:?}");
        }
    }

    #[test]
    fn watches_start_with_the_state_or_after_a_revision() {
        let initial = |bookmark| WatchStart::Initial { bookmark };
        assert_eq!(watch_start(10, None, None, None).unwrap(), initial(false));
        assert_eq!(watch_start(10, Some("0"), None, None).unwrap(), initial(false));
        assert_eq!(watch_start(10, Some("4"), None, None).unwrap(), WatchStart::After(4));
        assert_eq!(watch_start(10, Some(""), None, Some("false")).unwrap(), WatchStart::After(10));
        assert_eq!(watch_start(10, Some("4"), Some("NotOlderThan"), Some("true")).unwrap(), initial(true));
        assert_eq!(watch_start(10, None, None, Some("true")).unwrap_err().code, 400);
        assert_eq!(watch_start(10, Some("11"), None, None).unwrap_err().code, 504);
        assert_eq!(watch_start(10, Some("x"), None, None).unwrap_err().code, 400);
    }
}
