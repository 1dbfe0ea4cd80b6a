//! Deleting a set of objects (fluxcd/pkg/ssa `DeleteAll`): in reverse apply order, each with
//! background propagation, unless it is gone, lacks the owner labels or is excluded.

use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::error::{ApplyError, ObjectError};
use crate::kubeapi;
use crate::manager::ResourceManager;
use crate::meta::{any_in_metadata, compare, has_all_labels};
use crate::objmeta::ObjMetadata;
use crate::options::DeleteOptions;

impl ResourceManager {
    /// Deletes `objects` (background propagation), skipping those that are gone, lack the
    /// inclusion labels or carry an exclusion.
    ///
    /// As Flux, an object already gone is reported `deleted`; one lacking an inclusion label
    /// or carrying an exclusion (label or annotation) is `skipped`.
    ///
    /// # Errors
    /// Every deletion that failed, joined (`delete failed, errors: <a>;<b>;`).
    pub async fn delete_all(&self, objects: &[ObjMetadata], options: &DeleteOptions) -> Result<ChangeSet, ApplyError> {
        let (set, error) = self.delete_all_partial(objects, options).await;
        match error {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }

    /// [`Self::delete_all`], also returning the entries when some deletions failed (failed
    /// objects are `unknown`).
    pub async fn delete_all_partial(
        &self,
        objects: &[ObjMetadata],
        options: &DeleteOptions,
    ) -> (ChangeSet, Option<ApplyError>) {
        let mut ordered: Vec<&ObjMetadata> = objects.iter().collect();
        ordered.sort_by(|a, b| compare(b, a));
        let mut set = ChangeSet::default();
        let mut errors = String::new();
        for id in ordered {
            let (entry, error) = self.delete_one(id, options).await;
            set.entries.push(entry);
            if let Some(e) = error {
                errors.push_str(&e.to_string());
                errors.push(';');
            }
        }
        if errors.is_empty() {
            (set, None)
        } else {
            (set, Some(ApplyError::Failed(format!("delete failed, errors: {errors}"))))
        }
    }

    /// Deletes one object (ssa `Delete`).
    async fn delete_one(&self, id: &ObjMetadata, options: &DeleteOptions) -> (ChangeSetEntry, Option<ObjectError>) {
        let subject = id.to_string();
        let mapping = match self.mapper.map_group_kind(&id.group, &id.kind).await {
            Ok(m) => m,
            Err(source) => {
                return (
                    ChangeSetEntry::of_metadata(id, "", Action::Unknown),
                    Some(ObjectError::DeleteQuery { subject, source }),
                );
            }
        };
        let entry = |action| ChangeSetEntry::of_metadata(id, &mapping.api_version, action);
        let existing = match kubeapi::get(&self.client, &mapping, &id.namespace, &id.name).await {
            Ok(v) => v,
            Err(e) if e.is_not_found() => return (entry(Action::Deleted), None),
            Err(source) => return (entry(Action::Unknown), Some(ObjectError::DeleteQuery { subject, source })),
        };
        if !has_all_labels(&existing, &options.inclusions) || any_in_metadata(&existing, &options.exclusions) {
            tracing::debug!(subject, "kept: not owned or excluded from pruning");
            return (entry(Action::Skipped), None);
        }
        match kubeapi::delete(&self.client, &mapping, &id.namespace, &id.name).await {
            Ok(()) => (entry(Action::Deleted), None),
            Err(source) => (entry(Action::Unknown), Some(ObjectError::Delete { subject, source })),
        }
    }
}
