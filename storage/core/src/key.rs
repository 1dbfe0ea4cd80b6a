//! Keys and their byte layout.
//!
//! The store keeps a handful of key spaces in one ordered engine, each behind a one-byte tag:
//!
//! | tag | key                                   | value                                  |
//! |-----|---------------------------------------|----------------------------------------|
//! | `o` | group, resource, namespace, name      | the current object (envelope + bytes)  |
//! | `h` | group, resource, revision (big endian)| the watch event committed at revision  |
//! | `n` | group, resource, revision (big endian)| the revision that replaced or deleted the object version written at revision |
//! | `m` | a name (`rev`, `compact`)             | store metadata                         |
//! | `u` | namespace                             | object count and bytes used            |
//! | `q` | namespace                             | the namespace's quota                  |
//! | `r` | group, resource                       | marks a resource that has history      |
//! | `t` | commit time (unix ms, big endian)     | the last revision committed by then    |
//!
//! Components are separated by a NUL byte, which no component may contain. Because NUL sorts
//! below every other byte, the engine's byte order equals the order of (namespace, name) pairs
//! compared as strings — the order Kubernetes lists objects in.

use crate::error::Error;

/// The global, strictly increasing revision every committed write takes.
pub type Revision = u64;

/// Identifies one object: group, resource (plural), namespace (empty when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// API group, empty for the core group.
    pub group: String,
    /// Resource (plural, lowercase), e.g. `gitrepositories`.
    pub resource: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl Key {
    /// Builds a key.
    pub fn new(
        group: impl Into<String>,
        resource: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self { group: group.into(), resource: resource.into(), namespace: namespace.into(), name: name.into() }
    }

    /// The prefix of this key's namespace.
    pub fn namespace_prefix(&self) -> Prefix {
        Prefix { group: self.group.clone(), resource: self.resource.clone(), namespace: Some(self.namespace.clone()) }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        check_component("group", &self.group, true)?;
        check_component("resource", &self.resource, false)?;
        check_component("namespace", &self.namespace, true)?;
        check_component("name", &self.name, false)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut k = resource_prefix(b'o', &self.group, &self.resource);
        k.extend_from_slice(self.namespace.as_bytes());
        k.push(0);
        k.extend_from_slice(self.name.as_bytes());
        k
    }
}

/// A set of keys to list or watch: one resource, optionally one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// API group, empty for the core group.
    pub group: String,
    /// Resource (plural, lowercase).
    pub resource: String,
    /// `None` for every namespace (and cluster-scoped objects); `Some(ns)` for one namespace.
    pub namespace: Option<String>,
}

impl Prefix {
    /// Every object of a resource.
    pub fn resource(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { group: group.into(), resource: resource.into(), namespace: None }
    }

    /// The objects of a resource in one namespace.
    pub fn namespaced(group: impl Into<String>, resource: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self { group: group.into(), resource: resource.into(), namespace: Some(namespace.into()) }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        check_component("group", &self.group, true)?;
        check_component("resource", &self.resource, false)?;
        match &self.namespace {
            Some(ns) => check_component("namespace", ns, true),
            None => Ok(()),
        }
    }

    /// Whether `namespace` is selected by this prefix.
    pub(crate) fn matches_namespace(&self, namespace: &str) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }

    /// `[start, end)` of the object key space this prefix selects.
    pub(crate) fn object_range(&self) -> (Vec<u8>, Vec<u8>) {
        let mut start = resource_prefix(b'o', &self.group, &self.resource);
        if let Some(ns) = &self.namespace {
            start.extend_from_slice(ns.as_bytes());
            start.push(0);
        }
        let end = range_end(&start);
        (start, end)
    }

    /// The object key of `(namespace, name)` under this prefix's resource.
    pub(crate) fn object_key(&self, namespace: &str, name: &str) -> Vec<u8> {
        let mut k = resource_prefix(b'o', &self.group, &self.resource);
        k.extend_from_slice(namespace.as_bytes());
        k.push(0);
        k.extend_from_slice(name.as_bytes());
        k
    }
}

fn check_component(what: &str, value: &str, may_be_empty: bool) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(Error::InvalidKey(format!("{what} {value:?} contains a NUL byte")));
    }
    if !may_be_empty && value.is_empty() {
        return Err(Error::InvalidKey(format!("{what} must not be empty")));
    }
    Ok(())
}

/// `tag group \0 resource \0`.
pub(crate) fn resource_prefix(tag: u8, group: &str, resource: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + group.len() + resource.len() + 24);
    k.push(tag);
    k.extend_from_slice(group.as_bytes());
    k.push(0);
    k.extend_from_slice(resource.as_bytes());
    k.push(0);
    k
}

/// The smallest key greater than every key starting with `prefix` (which ends in NUL).
pub(crate) fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    match end.last_mut() {
        Some(last) if *last < u8::MAX => *last += 1,
        _ => end.push(u8::MAX),
    }
    end
}

/// Splits an object key (as produced by [`Key::encode`]) after its resource prefix into
/// `(namespace, name)`.
pub(crate) fn split_object_key(key: &[u8], prefix_len: usize) -> Option<(&str, &str)> {
    let rest = key.get(prefix_len..)?;
    let sep = rest.iter().position(|b| *b == 0)?;
    let ns = std::str::from_utf8(&rest[..sep]).ok()?;
    let name = std::str::from_utf8(&rest[sep + 1..]).ok()?;
    Some((ns, name))
}

pub(crate) fn history_key(group: &str, resource: &str, revision: Revision) -> Vec<u8> {
    let mut k = resource_prefix(b'h', group, resource);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

/// The `n` key of `revision`: it holds the revision of the write that replaced (or deleted)
/// the object version written at `revision`, whose event carries that version's value as
/// its `prev`.
pub(crate) fn successor_key(group: &str, resource: &str, revision: Revision) -> Vec<u8> {
    let mut k = resource_prefix(b'n', group, resource);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

pub(crate) fn resource_marker_key(group: &str, resource: &str) -> Vec<u8> {
    resource_prefix(b'r', group, resource)
}

/// Parses `r group \0 resource \0` back into its parts.
pub(crate) fn parse_resource_marker(key: &[u8]) -> Option<(String, String)> {
    let rest = key.strip_prefix(b"r")?;
    let mut parts = rest.split(|b| *b == 0);
    let group = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let resource = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    Some((group, resource))
}

pub(crate) const META_REVISION: &[u8] = b"mrev";
pub(crate) const META_COMPACTED: &[u8] = b"mcompact";

pub(crate) fn usage_key(namespace: &str) -> Vec<u8> {
    let mut k = vec![b'u'];
    k.extend_from_slice(namespace.as_bytes());
    k
}

pub(crate) fn quota_key(namespace: &str) -> Vec<u8> {
    let mut k = vec![b'q'];
    k.extend_from_slice(namespace.as_bytes());
    k
}

pub(crate) fn time_key(unix_ms: u64) -> Vec<u8> {
    let mut k = vec![b't'];
    k.extend_from_slice(&unix_ms.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_is_namespace_then_name_order() {
        let p = Prefix::resource("g", "r");
        let mut pairs = vec![("a", "b"), ("ab", "a"), ("a", "ba"), ("", "z"), ("b", "")];
        let mut encoded: Vec<Vec<u8>> = pairs.iter().map(|(ns, n)| p.object_key(ns, n)).collect();
        pairs.sort();
        encoded.sort();
        let decoded: Vec<(&str, &str)> =
            encoded.iter().map(|k| split_object_key(k, p.object_range().0.len()).unwrap()).collect();
        assert_eq!(decoded, pairs);
    }

    #[test]
    fn namespace_prefix_does_not_select_longer_namespaces() {
        let p = Prefix::namespaced("g", "r", "a");
        let (start, end) = p.object_range();
        let inside = p.object_key("a", "x");
        let outside = p.object_key("ab", "x");
        assert!(start <= inside && inside < end);
        assert!(!(start <= outside && outside < end));
    }

    #[test]
    fn nul_bytes_are_rejected() {
        assert!(Key::new("g", "r", "n\0s", "x").validate().is_err());
        assert!(Key::new("g", "", "ns", "x").validate().is_err());
        assert!(Key::new("", "r", "", "x").validate().is_ok());
    }
}
