//! Consistent, paginated lists, also at a past revision.

use std::collections::BTreeMap;

use super::handle::read_meta;
use super::{ListOptions, ListResult, Store};
use crate::codec::{self, Object};
use crate::engine::{KvEngine, KvRead};
use crate::error::Error;
use crate::key::{self, Prefix};
use crate::watch::history_revision;

impl<E: KvEngine> Store<E> {
    /// Lists the objects under `prefix` from one consistent snapshot, in (namespace, name)
    /// order. With `options.revision`, lists the state as of that revision, rebuilt from the
    /// retained history; [`Error::Compacted`] if that history is gone.
    pub fn list(&self, prefix: &Prefix, options: &ListOptions) -> Result<ListResult, Error> {
        prefix.validate()?;
        let snapshot = self.shared().engine.snapshot();
        let current = read_meta(&snapshot, key::META_REVISION)?;
        let at = match options.revision {
            None => current,
            Some(r) if r > current => return Err(Error::FutureRevision { requested: r, current }),
            Some(r) => {
                let compacted = read_meta(&snapshot, key::META_COMPACTED)?;
                if r < compacted {
                    return Err(Error::Compacted { requested: r, compacted });
                }
                r
            }
        };
        let (range_start, range_end) = prefix.object_range();
        let after = options.start_after.as_ref();
        let start = match after {
            Some((ns, name)) => {
                let mut k = prefix.object_key(ns, name);
                k.push(0);
                k.max(range_start.clone())
            }
            None => range_start.clone(),
        };
        let want = options.limit.map_or(usize::MAX, |l| l.saturating_add(1));

        // Keys changed after `at`: their state as of `at` is the `prev` of their first later
        // event (None when they were created later).
        let mut changed: BTreeMap<(String, String), Option<Object>> = BTreeMap::new();
        if at < current {
            let hstart = key::history_key(&prefix.group, &prefix.resource, at + 1);
            let hend = key::history_key(&prefix.group, &prefix.resource, current.saturating_add(1));
            let mut failure = None;
            snapshot.scan(&hstart, &hend, &mut |k, v| {
                match codec::event_key(v) {
                    Ok((ns, name)) => {
                        let selected = prefix.matches_namespace(ns)
                            && after.is_none_or(|(a_ns, a_name)| (ns, name) > (a_ns.as_str(), a_name.as_str()));
                        if selected && !changed.contains_key(&(ns.to_owned(), name.to_owned())) {
                            match codec::decode_event(history_revision(k), v) {
                                Ok(stored) => {
                                    changed.insert((ns.to_owned(), name.to_owned()), stored.event.prev);
                                }
                                Err(e) => failure = Some(e),
                            }
                        }
                    }
                    Err(e) => failure = Some(e),
                }
                failure.is_none()
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
        }

        let prefix_len = key::resource_prefix(b'o', &prefix.group, &prefix.resource).len();
        let mut objects = Vec::new();
        let mut pending = changed.into_iter().peekable();
        let mut failure = None;
        snapshot.scan(&start, &range_end, &mut |k, v| {
            let Some((ns, name)) = key::split_object_key(k, prefix_len) else {
                failure = Some(Error::Corrupt("malformed object key".into()));
                return false;
            };
            // Emit historical states of keys that sort before this one.
            while let Some(((pns, pname), _)) = pending.peek() {
                if (pns.as_str(), pname.as_str()) >= (ns, name) {
                    break;
                }
                if let Some((_, Some(obj))) = pending.next() {
                    objects.push(obj);
                }
                if objects.len() >= want {
                    return false;
                }
            }
            if let Some(((pns, pname), _)) = pending.peek()
                && (pns.as_str(), pname.as_str()) == (ns, name)
            {
                if let Some((_, Some(obj))) = pending.next() {
                    objects.push(obj);
                }
            } else {
                match codec::decode_object(ns, name, v) {
                    Ok(obj) if obj.mod_revision <= at => objects.push(obj),
                    Ok(_) => {}
                    Err(e) => {
                        failure = Some(e);
                        return false;
                    }
                }
            }
            objects.len() < want
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if objects.len() < want {
            for (_, obj) in pending {
                if let Some(obj) = obj {
                    objects.push(obj);
                }
                if objects.len() >= want {
                    break;
                }
            }
        }
        let more = objects.len() >= want && options.limit.is_some();
        if more {
            objects.truncate(want - 1);
        }
        Ok(ListResult { objects, revision: at, more })
    }
}
