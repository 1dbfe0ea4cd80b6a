//! Change sets: what applying or deleting did to each object (fluxcd/pkg/ssa `ChangeSet`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::objmeta::{ObjMetadata, subject_of};

/// What applying or deleting did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object already matched.
    Unchanged,
    /// The object was deleted.
    Deleted,
    /// The object was left alone (excluded by an annotation, `IfNotPresent`, …).
    Skipped,
    /// Not determined.
    Unknown,
}

impl Action {
    /// Whether the object was created, configured or deleted (kustomize-controller's
    /// `HasChanged`: the entries that make up the apply event).
    #[must_use]
    pub fn has_changed(self) -> bool {
        matches!(self, Action::Created | Action::Configured | Action::Deleted)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
            Action::Unknown => "unknown",
        })
    }
}

/// One object's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// Its identity.
    pub object_metadata: ObjMetadata,
    /// Its `apiVersion` (the inventory's `v` is the version part).
    pub group_version: String,
    /// `Kind/namespace/name`.
    pub subject: String,
    /// What happened.
    pub action: Action,
}

impl ChangeSetEntry {
    /// The entry of an object (its identity and `apiVersion` are read from it).
    #[must_use]
    pub fn of(obj: &Value, action: Action) -> Self {
        let object_metadata = ObjMetadata::of_lenient(obj);
        Self {
            subject: subject_of(obj),
            group_version: obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
            object_metadata,
            action,
        }
    }

    /// The entry of an object known by its identity and `apiVersion`.
    #[must_use]
    pub fn of_metadata(object_metadata: &ObjMetadata, api_version: &str, action: Action) -> Self {
        Self {
            subject: object_metadata.to_string(),
            group_version: api_version.to_string(),
            object_metadata: object_metadata.clone(),
            action,
        }
    }
}

impl ChangeSetEntry {
    /// The version part of [`Self::group_version`] (an inventory entry's `v`).
    #[must_use]
    pub fn inventory_version(&self) -> &str {
        crate::objmeta::version_of(&self.group_version)
    }
}

impl fmt::Display for ChangeSetEntry {
    /// `Kind/namespace/name action`, as Flux's events list them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.action)
    }
}

/// The results of an apply or delete, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// One entry per object.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// Subject → action, as Flux's `ToMap` (for events and logs).
    #[must_use]
    pub fn to_map(&self) -> BTreeMap<String, Action> {
        self.entries.iter().map(|e| (e.subject.clone(), e.action)).collect()
    }

    /// Action → subjects, as Flux's `ToGroupedMap`.
    #[must_use]
    pub fn to_grouped_map(&self) -> BTreeMap<Action, Vec<String>> {
        let mut map: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for e in &self.entries {
            map.entry(e.action).or_default().push(e.subject.clone());
        }
        map
    }

    /// The identities of every entry, in order (Flux's `ToObjMetadataSet`).
    #[must_use]
    pub fn to_obj_metadata_set(&self) -> Vec<ObjMetadata> {
        self.entries.iter().map(|e| e.object_metadata.clone()).collect()
    }

    /// The inventory entries of the set, `(id, version)` in order, as kustomize-controller's
    /// `AddChangeSet` records them (every entry, skipped ones included).
    #[must_use]
    pub fn inventory_entries(&self) -> Vec<(String, String)> {
        self.entries.iter().map(|e| (e.object_metadata.id(), e.inventory_version().to_string())).collect()
    }

    /// Appends the entries of another change set.
    pub fn append(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }
}

impl fmt::Display for ChangeSet {
    /// One `Kind/namespace/name action` line per entry (Flux's `ChangeSet.String`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Objects in `old` that are not in `new` (what to prune), in `old`'s order.
#[must_use]
pub fn diff_inventory(old: &[ObjMetadata], new: &[ObjMetadata]) -> Vec<ObjMetadata> {
    let new: std::collections::HashSet<&ObjMetadata> = new.iter().collect();
    old.iter().filter(|o| !new.contains(o)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_and_sets_render_as_flux() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}});
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}});
        let mut set = ChangeSet::default();
        set.entries.push(ChangeSetEntry::of(&ns, Action::Created));
        set.append(ChangeSet { entries: vec![ChangeSetEntry::of(&cm, Action::Unchanged)] });
        assert_eq!(set.to_string(), "Namespace/ns created\nConfigMap/ns/a unchanged");
        assert_eq!(set.entries[1].group_version, "v1");
        assert_eq!(set.to_map().get("ConfigMap/ns/a"), Some(&Action::Unchanged));
        assert_eq!(set.to_grouped_map().get(&Action::Created).unwrap(), &vec!["Namespace/ns".to_string()]);
        assert_eq!(set.to_obj_metadata_set().len(), 2);
        assert!(Action::Created.has_changed() && !Action::Skipped.has_changed());
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "ns"}});
        set.entries.push(ChangeSetEntry::of(&deploy, Action::Skipped));
        assert_eq!(
            set.inventory_entries(),
            [
                ("_ns__Namespace".to_string(), "v1".to_string()),
                ("ns_a__ConfigMap".to_string(), "v1".to_string()),
                ("ns_w_apps_Deployment".to_string(), "v1".to_string()),
            ]
        );
    }

    #[test]
    fn inventory_difference_keeps_old_order() {
        let m = |n: &str| ObjMetadata {
            namespace: "ns".into(),
            name: n.into(),
            group: String::new(),
            kind: "ConfigMap".into(),
        };
        let old = [m("c"), m("a"), m("b")];
        assert_eq!(diff_inventory(&old, &[m("a")]), vec![m("c"), m("b")]);
        assert!(diff_inventory(&old, &old).is_empty());
    }
}
