//! One revision, end to end (kustomize-controller's `reconcile`): download and extract the
//! artifact, build, apply in stages, record the inventory, prune, wait for health, record the
//! revision. Each failure sets `Ready=False` with its reason before it returns.

use std::collections::BTreeMap;
use std::time::Instant;

use eddy_api::kustomize::Kustomization;
use eddy_api::meta::{Artifact, ResourceInventory, ResourceRef};
use eddy_apply::{ApplyOptions, ChangeSet, DeleteOptions, ObjMetadata, Owner, ResourceManager};
use eddy_artifact::archive::ExtractLimits;
use eddy_controller_runtime::conditions as cond;
use eddy_controller_runtime::patch::SerialPatcher;
use eddy_controller_runtime::{FluxObject, duration};
use serde_json::Value;

use crate::build::{self, BuildInput};
use crate::conditions::{HEALTHY, READY, reasons};
use crate::reconcile::{CONTROLLER_NAME, GROUP, KustomizationReconciler, timeout};

/// What a build depends on besides the artifact.
#[derive(Clone)]
pub(crate) struct Inputs {
    keys: Option<eddy_sops::Keys>,
    vars: Option<BTreeMap<String, String>>,
    /// A hash of the artifact digest, the spec, the keys' Secret and the variables.
    fingerprint: String,
}

/// How a revision's reconcile ended, when not applied.
pub(crate) enum RunError {
    /// The artifact URL answered 404: the source is about to publish another.
    ArtifactNotFound,
    /// Anything else; `Ready` is already set.
    Failed(String),
}

fn fail(obj: &mut Kustomization, reason: &str, message: String) -> RunError {
    cond::mark_false(obj, READY, reason, message.clone());
    RunError::Failed(message)
}

/// The owner labels of a Kustomization.
#[must_use]
pub fn owner_labels(name: &str, namespace: &str) -> BTreeMap<String, String> {
    [(format!("{GROUP}/name"), name.to_owned()), (format!("{GROUP}/namespace"), namespace.to_owned())].into()
}

/// The owner every Kustomization applies as.
#[must_use]
pub fn owner() -> Owner {
    Owner { field: CONTROLLER_NAME.to_owned(), group: GROUP.to_owned() }
}

impl KustomizationReconciler {
    pub(crate) async fn reconcile_revision(
        &self,
        obj: &mut Kustomization,
        patcher: &mut SerialPatcher<Kustomization>,
        artifact: &Artifact,
        origin: &str,
        checks: Option<std::sync::Arc<eddy_health::CustomChecks>>,
    ) -> Result<(), RunError> {
        let start = Instant::now();
        let revision = artifact.revision.clone();
        let limit = duration::format(timeout(obj));
        cond::mark_unknown(obj, READY, reasons::PROGRESSING, "Reconciliation in progress");
        cond::mark_reconciling(
            obj,
            reasons::PROGRESSING,
            format!("Fetching manifests for revision {revision} with a timeout of {limit}"),
        );
        self.patch(obj, patcher).await.map_err(RunError::Failed)?;
        let old_inventory = inventory_objects(obj);

        let client = self
            .factory
            .client(obj)
            .await
            .map_err(|e| fail(obj, reasons::RECONCILIATION_FAILED, format!("failed to build kube client: {e}")))?;
        let inputs = match self.inputs(obj, artifact).await {
            Ok(i) => i,
            Err(e) => {
                // Flux reads these while building: the attempt is recorded first.
                obj.status.get_or_insert_with(Default::default).last_attempted_revision = Some(revision.clone());
                cond::mark_reconciling(
                    obj,
                    reasons::PROGRESSING,
                    format!("Building manifests for revision {revision} with a timeout of {limit}"),
                );
                return Err(e);
            }
        };
        let key = obj.key();
        let kept = self.builds.lock().get(&key).filter(|(f, _)| *f == inputs.fingerprint).map(|(_, b)| b.clone());
        let cached =
            kept.and_then(|b| b.restore().inspect_err(|e| tracing::warn!(error = %e, "kept build unreadable")).ok());
        let built = match cached {
            Some(b) => {
                tracing::debug!("artifact, spec and inputs unchanged: reusing the last build");
                let status = obj.status.get_or_insert_with(Default::default);
                status.last_attempted_revision = Some(revision.clone());
                b
            }
            None => {
                let b = self.fetch_and_build(obj, patcher, artifact, &limit, inputs.clone()).await?;
                match crate::build::KeptBuild::keep(&b) {
                    Ok(kept) => {
                        self.builds.lock().insert(key, (inputs.fingerprint.clone(), std::sync::Arc::new(kept)));
                    }
                    Err(e) => tracing::warn!(error = %e, "build not kept for the next interval"),
                }
                b
            }
        };

        let manager = self.factory.manager(obj, client, self.options.concurrent_ssa);
        let mut objects = built.objects;
        let (name, ns) =
            (obj.metadata.name.clone().unwrap_or_default(), obj.metadata.namespace.clone().unwrap_or_default());
        manager.set_owner_labels(&mut objects, &name, &ns);
        cond::mark_reconciling(
            obj,
            reasons::PROGRESSING,
            format!("Detecting drift for revision {revision} with a timeout of {limit}"),
        );
        self.patch(obj, patcher).await.map_err(RunError::Failed)?;

        let (drifted, change_set) = match self.apply(obj, &manager, objects, &revision, origin).await {
            Ok(r) => r,
            Err(e) => {
                crate::history::upsert(obj, &built.digest, start.elapsed(), reasons::RECONCILIATION_FAILED, &revision);
                return Err(fail(obj, reasons::RECONCILIATION_FAILED, e));
            }
        };
        let new_inventory: Vec<ResourceRef> = change_set
            .entries
            .iter()
            .map(|e| ResourceRef { id: e.object_metadata.id(), v: version_of(&e.group_version) })
            .collect();
        let new_objects: Vec<ObjMetadata> = change_set.entries.iter().map(|e| e.object_metadata.clone()).collect();
        set_inventory(obj, new_inventory.clone());
        let stale =
            eddy_apply::diff_inventory(&old_inventory.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(), &new_objects);
        if let Err(e) = self.prune(obj, &manager, &stale, &revision, origin).await {
            // The objects that could not be pruned stay in the inventory, to be retried.
            let mut keep = new_inventory;
            keep.extend(
                old_inventory
                    .iter()
                    .filter(|(m, _)| stale.contains(m))
                    .map(|(m, v)| ResourceRef { id: m.id(), v: v.clone() }),
            );
            set_inventory(obj, keep);
            return Err(fail(obj, reasons::PRUNE_FAILED, e));
        }
        let is_new_revision = !obj
            .status
            .as_ref()
            .and_then(|s| s.last_applied_revision.as_deref())
            .is_some_and(|r| crate::source::has_revision(artifact, r));
        if let Err(e) =
            self.check_health(obj, patcher, &change_set, &revision, origin, is_new_revision, drifted, checks).await
        {
            crate::history::upsert(obj, &built.digest, start.elapsed(), reasons::HEALTH_CHECK_FAILED, &revision);
            // Healthy keeps the waiter's message; Ready gets it with the elapsed time, as Flux.
            return Err(fail(obj, reasons::HEALTH_CHECK_FAILED, e));
        }
        let status = obj.status.get_or_insert_with(Default::default);
        status.last_applied_revision = Some(revision.clone());
        status.last_applied_origin_revision = Some(origin.to_owned()).filter(|o| !o.is_empty());
        crate::history::upsert(obj, &built.digest, start.elapsed(), reasons::RECONCILIATION_SUCCEEDED, &revision);
        cond::mark_true(obj, READY, reasons::RECONCILIATION_SUCCEEDED, format!("Applied revision: {revision}"));
        Ok(())
    }

    /// What the build depends on besides the artifact: decryption keys and post-build
    /// variables, read from the cluster, and the fingerprint of everything a build depends on.
    async fn inputs(&self, obj: &mut Kustomization, artifact: &Artifact) -> Result<Inputs, RunError> {
        let ns = obj.metadata.namespace.clone().unwrap_or_default();
        let (keys, keys_fingerprint) = match &obj.spec.decryption {
            Some(d) => {
                let (k, f) = crate::decryption::keys(&self.clients.cluster, &ns, d)
                    .await
                    .map_err(|e| fail(obj, reasons::BUILD_FAILED, e))?;
                (Some(k), f)
            }
            None => (None, String::new()),
        };
        let vars = match &obj.spec.post_build {
            Some(pb) => Some(
                crate::postbuild::load(&self.clients.cluster, &ns, pb)
                    .await
                    .map_err(|e| fail(obj, reasons::BUILD_FAILED, e.to_string()))?,
            ),
            None => None,
        };
        let fingerprint = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update(artifact.digest.as_bytes());
            h.update([0]);
            h.update(serde_json::to_vec(&obj.spec).unwrap_or_default());
            h.update([0]);
            h.update(keys_fingerprint.as_bytes());
            h.update([0]);
            h.update(serde_json::to_vec(&vars).unwrap_or_default());
            h.update([u8::from(self.options.strict_substitution)]);
            h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        Ok(Inputs { keys, vars, fingerprint })
    }

    /// Downloads and extracts the artifact, checks the path, and builds.
    async fn fetch_and_build(
        &self,
        obj: &mut Kustomization,
        patcher: &mut SerialPatcher<Kustomization>,
        artifact: &Artifact,
        limit: &str,
        inputs: Inputs,
    ) -> Result<build::Built, RunError> {
        let revision = artifact.revision.clone();
        let tmp = tempfile::Builder::new()
            .prefix("kustomization-")
            .tempdir_in(&self.options.work_dir)
            .map_err(|e| fail(obj, reasons::DIR_CREATION_FAILED, format!("tmp dir error: {e}")))?;
        // The artifact is extracted into the working directory itself, as kustomize-controller
        // does (its paths show up in messages such as "kustomization path not found").
        let root = tmp.path().to_path_buf();
        match crate::fetch::fetch(&self.http, &artifact.url, &artifact.digest, &root, ExtractLimits::default()).await {
            Ok(()) => {}
            Err(crate::fetch::FetchError::NotFound) => return Err(RunError::ArtifactNotFound),
            Err(e) => return Err(fail(obj, reasons::ARTIFACT_FAILED, e.to_string())),
        }
        let path = obj.spec.path.clone().unwrap_or_default();
        let dir = build::secure_join(&root, &path);
        if let Err(e) = std::fs::metadata(&dir) {
            return Err(fail(
                obj,
                reasons::ARTIFACT_FAILED,
                format!("kustomization path not found: stat {}: {}", dir.display(), go_io_error(&e)),
            ));
        }
        let status = obj.status.get_or_insert_with(Default::default);
        status.last_attempted_revision = Some(revision.clone());
        cond::mark_reconciling(
            obj,
            reasons::PROGRESSING,
            format!("Building manifests for revision {revision} with a timeout of {limit}"),
        );
        self.patch(obj, patcher).await.map_err(RunError::Failed)?;
        let input = BuildInput {
            root,
            dir,
            overlay: build::overlay(&obj.spec),
            keys: inputs.keys,
            vars: inputs.vars,
            strict_substitution: self.options.strict_substitution,
        };
        let result = tokio::task::spawn_blocking(move || build::run(&input)).await;
        drop(tmp);
        match result {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(fail(obj, reasons::BUILD_FAILED, e.to_string())),
            Err(e) => Err(fail(obj, reasons::BUILD_FAILED, format!("build failed: {e}"))),
        }
    }

    /// Applies in stages and emits the change-set event (kustomize-controller's `apply`).
    async fn apply(
        &self,
        obj: &Kustomization,
        manager: &ResourceManager,
        mut objects: Vec<Value>,
        revision: &str,
        origin: &str,
    ) -> Result<(bool, ChangeSet), String> {
        for o in &objects {
            if build::is_encrypted_secret(o) {
                let id = ObjMetadata::of(o).map(|m| m.to_string()).unwrap_or_default();
                return Err(format!(
                    "{id} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
                ));
            }
        }
        if let Some(meta) = &obj.spec.common_metadata {
            eddy_apply::set_common_metadata(
                &mut objects,
                &meta.labels.clone().unwrap_or_default(),
                &meta.annotations.clone().unwrap_or_default(),
            );
        }
        let options = ApplyOptions {
            force: obj.spec.force.unwrap_or(false),
            force_selector: [(format!("{GROUP}/force"), "enabled".to_owned())].into(),
            exclusion_selector: [
                (format!("{GROUP}/reconcile"), "disabled".to_owned()),
                (format!("{GROUP}/ssa"), "Ignore".to_owned()),
            ]
            .into(),
            if_not_present_selector: [(format!("{GROUP}/ssa"), "IfNotPresent".to_owned())].into(),
            drift_ignore_rules: ignore_rules(obj),
            ..ApplyOptions::default()
        };
        let change_set = manager.apply_all_staged(objects, &options).await.map_err(|e| e.to_string())?;
        let mut log = String::new();
        let mut drifted = false;
        for e in &change_set.entries {
            if matches!(e.action, eddy_apply::Action::Created | eddy_apply::Action::Configured) {
                drifted = true;
                log.push_str(&format!("{} {}\n", e.subject, e.action));
            }
        }
        if !log.is_empty() {
            self.event(obj, revision, origin, false, log.trim_end(), BTreeMap::new());
        }
        Ok((drifted, change_set))
    }

    /// Deletes what left the source (kustomize-controller's `prune`).
    async fn prune(
        &self,
        obj: &Kustomization,
        manager: &ResourceManager,
        stale: &[ObjMetadata],
        revision: &str,
        origin: &str,
    ) -> Result<(), String> {
        if !obj.spec.prune || stale.is_empty() {
            return Ok(());
        }
        let (name, ns) =
            (obj.metadata.name.clone().unwrap_or_default(), obj.metadata.namespace.clone().unwrap_or_default());
        let options = DeleteOptions {
            inclusions: owner_labels(&name, &ns),
            exclusions: [(format!("{GROUP}/prune"), "disabled".to_owned())].into(),
        };
        let change_set = manager.delete_all(stale, &options).await.map_err(|e| e.to_string())?;
        if !change_set.entries.is_empty() {
            let text = change_set_text(&change_set);
            tracing::info!("garbage collection completed: {text}");
            self.event(obj, revision, origin, false, &text, BTreeMap::new());
        }
        Ok(())
    }

    /// Waits for the applied objects (`spec.wait`) or `spec.healthChecks`.
    #[allow(clippy::too_many_arguments)]
    async fn check_health(
        &self,
        obj: &mut Kustomization,
        patcher: &mut SerialPatcher<Kustomization>,
        change_set: &ChangeSet,
        revision: &str,
        origin: &str,
        is_new_revision: bool,
        drifted: bool,
        checks: Option<std::sync::Arc<eddy_health::CustomChecks>>,
    ) -> Result<(), String> {
        let wait = obj.spec.wait.unwrap_or(false);
        let refs = obj.spec.health_checks.clone().unwrap_or_default();
        if refs.is_empty() && !wait {
            cond::delete(obj, HEALTHY);
            return Ok(());
        }
        let targets: Vec<eddy_health::Target> = if wait {
            change_set
                .entries
                .iter()
                .map(|e| eddy_health::Target {
                    api_version: e.group_version.clone(),
                    kind: e.object_metadata.kind.clone(),
                    namespace: e.object_metadata.namespace.clone(),
                    name: e.object_metadata.name.clone(),
                })
                .collect()
        } else {
            refs.iter()
                .map(|r| eddy_health::Target {
                    api_version: r.api_version.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "v1".to_owned()),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone().unwrap_or_default(),
                    name: r.name.clone(),
                })
                .collect()
        };
        let was_healthy = cond::is_true(obj, HEALTHY);
        let limit = timeout(obj);
        let message =
            format!("Running health checks for revision {revision} with a timeout of {}", duration::format(limit));
        cond::mark_reconciling(obj, reasons::PROGRESSING, message.clone());
        cond::mark_unknown(obj, HEALTHY, reasons::PROGRESSING, message);
        self.patch(obj, patcher).await?;
        let start = Instant::now();
        let options = eddy_health::WaitOptions { timeout: limit, fail_fast: self.options.fail_fast, checks };
        // A wait of up to spec.timeout on the cluster: the worker slot goes to other objects.
        let waited = eddy_controller_runtime::slot::released(self.waiter.wait(&targets, &options)).await;
        if let Err(e) = waited {
            let text = e.to_string();
            cond::mark_false(obj, READY, reasons::HEALTH_CHECK_FAILED, text.clone());
            cond::mark_false(obj, HEALTHY, reasons::HEALTH_CHECK_FAILED, text.clone());
            return Err(format!("health check failed after {}: {text}", duration::format(start.elapsed())));
        }
        let msg = format!("Health check passed in {}", duration::format(start.elapsed()));
        if !was_healthy || (is_new_revision && drifted) {
            self.event(obj, revision, origin, false, &msg, BTreeMap::new());
        }
        cond::mark_true(obj, HEALTHY, reasons::SUCCEEDED, msg);
        self.patch(obj, patcher).await
    }
}

/// A change set as Flux prints it in events: one `Kind/ns/name action` per line.
#[must_use]
pub fn change_set_text(set: &ChangeSet) -> String {
    set.entries.iter().map(|e| format!("{} {}", e.subject, e.action)).collect::<Vec<_>>().join("\n")
}

/// The version part of an apiVersion.
fn version_of(group_version: &str) -> String {
    group_version.rsplit_once('/').map_or(group_version, |(_, v)| v).to_owned()
}

fn set_inventory(obj: &mut Kustomization, entries: Vec<ResourceRef>) {
    obj.status.get_or_insert_with(Default::default).inventory = Some(ResourceInventory { entries });
}

/// The objects of `status.inventory` with their versions (entries that do not parse are
/// dropped with a warning).
pub(crate) fn inventory_objects(obj: &Kustomization) -> Vec<(ObjMetadata, String)> {
    let entries = obj.status.as_ref().and_then(|s| s.inventory.as_ref()).map(|i| i.entries.clone()).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| match ObjMetadata::parse(&e.id) {
            Ok(m) => Some((m, e.v)),
            Err(err) => {
                tracing::warn!(id = %e.id, error = %err, "ignoring an invalid inventory entry");
                None
            }
        })
        .collect()
}

/// `spec.ignore` as the apply layer's drift ignore rules.
fn ignore_rules(obj: &Kustomization) -> Vec<eddy_apply::IgnoreRule> {
    obj.spec
        .ignore
        .iter()
        .flatten()
        .map(|r| eddy_apply::IgnoreRule {
            paths: r.paths.clone(),
            selector: r.target.as_ref().map(|t| eddy_apply::IgnoreSelector {
                group: t.group.clone().unwrap_or_default(),
                version: t.version.clone().unwrap_or_default(),
                kind: t.kind.clone().unwrap_or_default(),
                name: t.name.clone().unwrap_or_default(),
                namespace: t.namespace.clone().unwrap_or_default(),
                annotation_selector: t.annotation_selector.clone().unwrap_or_default(),
                label_selector: t.label_selector.clone().unwrap_or_default(),
            }),
        })
        .collect()
}

/// An I/O error as Go prints it (`no such file or directory`).
fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}
