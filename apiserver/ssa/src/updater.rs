//! structured-merge-diff's `merge.Updater`: ownership changes for updates, and merge, pruning
//! of fields no longer applied, and conflict detection for applies.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::convert::{ConvertError, KindTypes};
use crate::fieldpath::{Path, Set};
use crate::managed::{ManagedFields, VersionedSet};
use crate::schema::ObjectType;
use crate::typed::{self, Comparison, ValidationErrors};
use crate::value::equals;

/// One field an applier would take from another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's identifier (see [`crate::managed::manager_identifier`]).
    pub manager: String,
    /// The field.
    pub path: Path,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict with {:?}: {}", self.manager, self.path)
    }
}

/// What failed inside the updater.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UpdaterError {
    #[error("conflicts")]
    Conflicts(Vec<Conflict>),
    #[error("{0}")]
    Other(String),
}

fn other(what: &str, e: impl fmt::Display) -> UpdaterError {
    UpdaterError::Other(format!("{what}: {e}"))
}

/// The updater for one kind, with the fields each version's strategy resets.
pub(crate) struct Updater<'a> {
    pub types: &'a KindTypes,
    /// Fields ignored per version (kube's `resetFields` filter).
    pub ignore: BTreeMap<String, Set>,
}

enum Conv {
    Ok(Value),
    Missing,
}

impl Updater<'_> {
    fn ty(&self, version: &str) -> Result<&ObjectType, UpdaterError> {
        self.types.object_type(version).ok_or_else(|| other("no schema for version", version))
    }

    fn convert(&self, obj: &Value, version: &str) -> Result<Conv, UpdaterError> {
        match self.types.convert(obj, version) {
            Ok(v) => Ok(Conv::Ok(v)),
            Err(ConvertError::MissingVersion(_)) => Ok(Conv::Missing),
            Err(e) => Err(other("failed to convert", e)),
        }
    }

    fn filter(&self, version: &str, set: &Set) -> Set {
        match self.ignore.get(version) {
            Some(x) => set.recursive_difference(x),
            None => set.clone(),
        }
    }

    fn compare(&self, old: &Value, new: &Value, version: &str) -> Result<Comparison, UpdaterError> {
        let ty = self.ty(version)?;
        let mut c = typed::compare(old, new, ty.ty()).map_err(|e| other("failed to compare objects", e))?;
        c.exclude(self.ignore.get(version));
        Ok(c)
    }

    /// Ownership changes of every other manager (`Updater.update`).
    fn update(
        &self,
        old: &Value,
        new: &Value,
        version: &str,
        managers: &mut ManagedFields,
        workflow: &str,
        force: bool,
    ) -> Result<Comparison, UpdaterError> {
        let compare = self.compare(old, new, version)?;
        let mut versions: BTreeMap<String, Comparison> = BTreeMap::new();
        versions.insert(version.to_owned(), compare.clone());
        let mut conflicts: BTreeMap<String, Set> = BTreeMap::new();
        let mut removed: BTreeMap<String, Set> = BTreeMap::new();
        let names: Vec<String> = managers.keys().cloned().collect();
        for name in names {
            if name == workflow {
                continue;
            }
            let mv = managers[&name].api_version.clone();
            if !versions.contains_key(&mv) {
                let (Conv::Ok(o), Conv::Ok(n)) = (self.convert(old, &mv)?, self.convert(new, &mv)?) else {
                    managers.remove(&name);
                    continue;
                };
                let c = self.compare(&o, &n, &mv)?;
                versions.insert(mv.clone(), c);
            }
            let c = &versions[&mv];
            let conflict = managers[&name].set.intersection(&c.modified.union(&c.added));
            if !conflict.is_empty() {
                conflicts.insert(name.clone(), conflict);
            }
            if !c.removed.is_empty() {
                removed.insert(name.clone(), c.removed.clone());
            }
        }
        if !force && !conflicts.is_empty() {
            let mut out = Vec::new();
            for (manager, set) in &conflicts {
                for path in set.paths() {
                    out.push(Conflict { manager: manager.clone(), path });
                }
            }
            return Err(UpdaterError::Conflicts(out));
        }
        for (name, set) in conflicts.iter().chain(&removed) {
            if let Some(vs) = managers.get_mut(name) {
                vs.set = vs.set.difference(set);
            }
        }
        managers.retain(|_, vs| !vs.set.is_empty());
        Ok(compare)
    }

    /// A non-apply write by `manager` (`Updater.Update`).
    pub fn update_op(
        &self,
        live: &Value,
        new: &Value,
        version: &str,
        managers: &mut ManagedFields,
        manager: &str,
    ) -> Result<(), UpdaterError> {
        let compare = self.update(live, new, version, managers, manager, true)?;
        let previous = managers.get(manager).map(|vs| vs.set.clone()).unwrap_or_default();
        let set = previous.difference(&compare.removed).union(&compare.modified).union(&compare.added);
        let set = self.filter(version, &set);
        if set.is_empty() {
            managers.remove(manager);
        } else {
            managers.insert(manager.to_owned(), VersionedSet { set, api_version: version.to_owned(), applied: false });
        }
        Ok(())
    }

    /// An apply of `config` by `manager` (`Updater.Apply`): the merged object, or `None` when it
    /// equals the live object.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        version: &str,
        managers: &mut ManagedFields,
        manager: &str,
        force: bool,
    ) -> Result<Option<Value>, UpdaterError> {
        let ty = self.ty(version)?;
        let merged = typed::merge(live, config, ty.ty()).map_err(|e| other("failed to merge config", e))?;
        let last = managers.get(manager).cloned();
        let set = self.filter(version, &typed::field_set(config, ty.ty()));
        managers.insert(manager.to_owned(), VersionedSet { set, api_version: version.to_owned(), applied: true });
        let new = self.prune(merged, managers, manager, last.as_ref())?;
        self.update(live, &new, version, managers, manager, force)?;
        Ok(if equals(live, &new) { None } else { Some(new) })
    }

    /// Removes what `applying` applied last time and no longer applies, unless another manager
    /// (or the new configuration) owns it.
    fn prune(
        &self,
        merged: Value,
        managers: &ManagedFields,
        applying: &str,
        last: Option<&VersionedSet>,
    ) -> Result<Value, UpdaterError> {
        let Some(last) = last.filter(|l| !l.set.is_empty()) else { return Ok(merged) };
        let lv = &last.api_version;
        let Conv::Ok(converted) = self.convert(&merged, lv)? else { return Ok(merged) };
        let ty = self.ty(lv)?.ty();
        let pruned = typed::remove_items(&converted, &typed::ensure_named_fields_are_members(&last.set, ty), ty);
        let pruned = self.add_back_owned(&converted, pruned, lv, managers)?;
        let pruned = self.add_back_dangling(&converted, &pruned, last)?;
        let target = &managers[applying].api_version;
        match self.convert(&pruned, target)? {
            Conv::Ok(v) => Ok(v),
            Conv::Missing => Err(other("failed to convert pruned object", target)),
        }
    }

    fn add_back_owned(
        &self,
        merged: &Value,
        mut pruned: Value,
        pruned_version: &str,
        managers: &ManagedFields,
    ) -> Result<Value, UpdaterError> {
        let mut by_version: BTreeMap<String, Set> = BTreeMap::new();
        for vs in managers.values() {
            let e = by_version.entry(vs.api_version.clone()).or_default();
            *e = e.union(&vs.set);
        }
        let mut merged = merged.clone();
        let mut order: Vec<String> = Vec::new();
        if by_version.contains_key(pruned_version) {
            order.push(pruned_version.to_owned());
        }
        order.extend(by_version.keys().filter(|v| *v != pruned_version).cloned());
        for version in order {
            let managed = &by_version[&version];
            let Conv::Ok(m) = self.convert(&merged, &version)? else { continue };
            merged = m;
            let Conv::Ok(p) = self.convert(&pruned, &version)? else { continue };
            let ty = self.ty(&version)?.ty();
            let merged_set = typed::ensure_named_fields_are_members(&typed::field_set(&merged, ty), ty);
            let pruned_set = typed::ensure_named_fields_are_members(&typed::field_set(&p, ty), ty);
            let owned = typed::ensure_named_fields_are_members(managed, ty);
            pruned = typed::remove_items(&merged, &merged_set.difference(&pruned_set.union(&owned)), ty);
        }
        Ok(pruned)
    }

    fn add_back_dangling(&self, merged: &Value, pruned: &Value, last: &VersionedSet) -> Result<Value, UpdaterError> {
        let Conv::Ok(p) = self.convert(pruned, &last.api_version)? else { return Ok(merged.clone()) };
        let ty = self.ty(&last.api_version)?.ty();
        let pruned_set = typed::ensure_named_fields_are_members(&typed::field_set(&p, ty), ty);
        let merged_set = typed::ensure_named_fields_are_members(&typed::field_set(merged, ty), ty);
        let last_set = typed::ensure_named_fields_are_members(&last.set, ty);
        Ok(typed::remove_items(merged, &merged_set.difference(&pruned_set).intersection(&last_set), ty))
    }
}

/// Validation of an object for the updater (`ObjectToTyped`).
pub(crate) fn check(obj: &Value, ty: &ObjectType, allow_duplicates: bool) -> Result<(), ValidationErrors> {
    let errs = typed::validate(obj, ty.ty(), allow_duplicates);
    if errs.0.is_empty() { Ok(()) } else { Err(errs) }
}
