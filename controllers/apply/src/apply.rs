//! Applying a set of objects (fluxcd/pkg/ssa `ApplyAll`): each object is read, checked
//! against the skip selectors, dry-run applied (recreated first when an immutable field
//! changed and force is allowed), cleaned of other managers' metadata and compared with the
//! cluster; then only the drifted ones are applied, in order.

use std::time::Instant;

use futures_util::StreamExt as _;
use serde_json::{Map, Value};

use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::discovery::Mapping;
use crate::drift::has_drifted;
use crate::error::{ApplyError, ObjectError, RequestError};
use crate::ignore::{CompiledIgnoreRules, apply_fixes, drift_fixes, without_paths};
use crate::kubeapi;
use crate::manager::ResourceManager;
use crate::meta::{any_in_metadata, api_version, kind, name, namespace, sort_objects, uid};
use crate::objmeta::subject_of;
use crate::options::{ApplyCleanupOptions, ApplyOptions};

/// What the first phase decided for one object.
enum Plan {
    /// Nothing to send: skipped or unchanged.
    Done(ChangeSetEntry),
    /// Apply the object; the entry says whether it is created or configured.
    Apply { object: Value, mapping: Mapping, entry: ChangeSetEntry },
}

impl ResourceManager {
    /// Applies `objects` as one set (no stages): each is dry-run applied and compared with
    /// the cluster first, at most the manager's concurrency at a time; then the drifted ones
    /// are applied. Entries come in Flux's apply order.
    ///
    /// # Errors
    /// The first object (in that order) whose dry-run or apply failed.
    pub async fn apply_all(&self, objects: Vec<Value>, options: &ApplyOptions) -> Result<ChangeSet, ApplyError> {
        let mut objects = objects;
        sort_objects(&mut objects);
        objects.iter_mut().for_each(crate::normalize::remove_invalid_ca_bundle);
        let cleanup = self.cleanup_options(options);
        let rules = CompiledIgnoreRules::compile(&options.drift_ignore_rules)?;
        let mut plans = Vec::with_capacity(objects.len());
        {
            let mut stream =
                futures_util::stream::iter(objects.into_iter().map(|o| self.plan(o, options, &cleanup, &rules)))
                    .buffered(self.concurrency);
            while let Some(plan) = stream.next().await {
                plans.push(plan?);
            }
        }
        let mut set = ChangeSet::default();
        for plan in plans {
            match plan {
                Plan::Done(entry) => set.entries.push(entry),
                Plan::Apply { object, mapping, entry } => {
                    kubeapi::apply(&self.client, &mapping, &object, &self.owner.field, false)
                        .await
                        .map_err(|source| ObjectError::Apply { subject: subject_of(&object), source })?;
                    tracing::debug!(subject = %entry.subject, action = %entry.action, "applied");
                    set.entries.push(entry);
                }
            }
        }
        Ok(set)
    }

    /// Applies one object (fluxcd/pkg/ssa `Apply`).
    ///
    /// # Errors
    /// The dry-run or apply failed.
    pub async fn apply(&self, object: Value, options: &ApplyOptions) -> Result<ChangeSetEntry, ApplyError> {
        let mut set = self.apply_all(vec![object], options).await?;
        set.entries.pop().ok_or_else(|| ApplyError::Failed("apply produced no result".to_string()))
    }

    /// The cleanup options in effect: the given ones, or kustomize-controller's for the owner.
    pub(crate) fn cleanup_options(&self, options: &ApplyOptions) -> ApplyCleanupOptions {
        options
            .cleanup
            .clone()
            .unwrap_or_else(|| ApplyCleanupOptions::flux_default(&self.owner.field, &self.owner.group))
    }

    /// The first phase for one object: read, skip, dry-run, clean up, compare.
    async fn plan(
        &self,
        object: Value,
        options: &ApplyOptions,
        cleanup: &ApplyCleanupOptions,
        rules: &CompiledIgnoreRules,
    ) -> Result<Plan, ObjectError> {
        let subject = subject_of(&object);
        let dry_run_error = |source: RequestError| ObjectError::DryRun {
            subject: subject.clone(),
            namespace_empty: namespace(&object).is_empty(),
            source,
        };
        let mapping = self.mapper.map(api_version(&object), kind(&object)).await;
        let (mut existing, get_not_found) = match &mapping {
            Ok(m) => match kubeapi::get(&self.client, m, namespace(&object), name(&object)).await {
                Ok(v) => (v, false),
                Err(e) => (Value::Object(Map::new()), e.is_not_found()),
            },
            Err(_) => (Value::Object(Map::new()), false),
        };

        if let Some(entry) = self.skip_entry(&object, &existing, options) {
            return Ok(Plan::Done(entry));
        }
        let mapping = mapping.map_err(&dry_run_error)?;

        let mut patched = false;
        if options.migrate_api_version
            && !uid(&existing).is_empty()
            && let Some(entries) = crate::cleanup::migrate_api_version(&existing, api_version(&object))
        {
            let patch = serde_json::json!({"metadata": {"managedFields": entries}});
            existing = kubeapi::merge_patch(
                &self.client,
                &mapping,
                namespace(&existing),
                name(&existing),
                &patch,
                &self.owner.field,
            )
            .await
            .map_err(|source| ObjectError::MigrateApiVersion {
                subject: subject_of(&existing),
                api_version: api_version(&object).to_string(),
                source,
            })?;
            patched = true;
        }

        let dry_run = match kubeapi::apply(&self.client, &mapping, &object, &self.owner.field, true).await {
            Ok(v) => v,
            Err(e) if !get_not_found && should_force(&object, &existing, options, &e) => {
                tracing::info!(subject, "immutable field changed, recreating");
                self.recreate_wait(&mapping, &object, options).await?;
                kubeapi::apply(&self.client, &mapping, &object, &self.owner.field, true)
                    .await
                    .map_err(&dry_run_error)?
            }
            Err(e) => return Err(dry_run_error(e)),
        };

        let excluded = any_in_metadata(&object, &cleanup.exclusions) || any_in_metadata(&existing, &cleanup.exclusions);
        if !excluded && let Some(patch) = crate::cleanup::cleanup_patch(&existing, cleanup, &self.owner.field) {
            existing = kubeapi::merge_patch(
                &self.client,
                &mapping,
                namespace(&existing),
                name(&existing),
                &patch,
                &self.owner.field,
            )
            .await
            .map_err(|source| ObjectError::Cleanup { subject: subject_of(&existing), source })?;
            patched = true;
        }

        let drifted = if rules.is_empty() {
            has_drifted(&existing, &dry_run)
        } else {
            // Ignored fields are left out of the comparison (selectors see the dry-run result).
            let paths = rules.paths_for(&dry_run);
            has_drifted(&without_paths(&existing, &paths), &without_paths(&dry_run, &paths))
        };
        if !patched && !drifted {
            return Ok(Plan::Done(ChangeSetEntry::of(&dry_run, Action::Unchanged)));
        }
        let mut object = object;
        let created = crate::meta::resource_version(&dry_run).is_empty();
        if !created && !rules.is_empty() && !crate::meta::resource_version(&existing).is_empty() {
            apply_fixes(&mut object, &drift_fixes(&existing, &dry_run, rules, &self.owner.field));
        }
        let action = if created { Action::Created } else { Action::Configured };
        Ok(Plan::Apply { entry: ChangeSetEntry::of(&dry_run, action), object, mapping })
    }

    /// ssa `shouldSkipApply`: excluded objects (desired or in-cluster), and existing objects
    /// applied only if not present, are skipped; the entry describes the in-cluster object
    /// when there is one.
    fn skip_entry(&self, desired: &Value, existing: &Value, options: &ApplyOptions) -> Option<ChangeSetEntry> {
        let exists = !uid(existing).is_empty();
        let source = if exists { existing } else { desired };
        let excluded = any_in_metadata(desired, &options.exclusion_selector)
            || any_in_metadata(existing, &options.exclusion_selector);
        let only_if_absent = exists && any_in_metadata(desired, &options.if_not_present_selector);
        (excluded || only_if_absent).then(|| ChangeSetEntry::of(source, Action::Skipped))
    }

    /// Deletes the in-cluster object (background propagation) and waits until it is gone
    /// (finalizers may hold it), within the stage wait timeout.
    async fn recreate_wait(
        &self,
        mapping: &Mapping,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<(), ObjectError> {
        let subject = subject_of(object);
        let (ns, n) = (namespace(object), name(object));
        match kubeapi::delete(&self.client, mapping, ns, n).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(source) => return Err(ObjectError::ForceDelete { subject, source }),
        }
        let deadline = Instant::now() + options.effective_wait_timeout();
        loop {
            match kubeapi::get(&self.client, mapping, ns, n).await {
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(ObjectError::ForceWait { subject, reason: e.to_string() }),
                Ok(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(ObjectError::ForceWait { subject, reason: "context deadline exceeded".to_string() });
            }
            tokio::time::sleep(options.effective_wait_interval()).await;
        }
    }
}

/// ssa `shouldForceApply`: an immutable-field error, and force on (`spec.force`) or the force
/// selector on the desired or in-cluster object.
fn should_force(desired: &Value, existing: &Value, options: &ApplyOptions, error: &RequestError) -> bool {
    error.is_immutable()
        && (options.force
            || any_in_metadata(desired, &options.force_selector)
            || any_in_metadata(existing, &options.force_selector))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn force_needs_an_immutable_error_and_a_reason() {
        let immutable = RequestError::Status {
            code: 422,
            reason: "Invalid".into(),
            message: "field is immutable".into(),
            field_manager_conflict: false,
        };
        let forbidden = RequestError::Status {
            code: 403,
            reason: "Forbidden".into(),
            message: "no".into(),
            field_manager_conflict: false,
        };
        let plain = json!({"metadata": {}});
        let annotated = json!({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/force": "Enabled"}}});
        let mut options = ApplyOptions {
            force_selector: BTreeMap::from([("kustomize.toolkit.fluxcd.io/force".into(), "enabled".into())]),
            ..ApplyOptions::default()
        };
        assert!(!should_force(&plain, &plain, &options, &immutable));
        assert!(should_force(&annotated, &plain, &options, &immutable));
        assert!(should_force(&plain, &annotated, &options, &immutable));
        assert!(!should_force(&annotated, &plain, &options, &forbidden));
        options.force = true;
        assert!(should_force(&plain, &plain, &options, &immutable));
    }
}
