//! The GitRepository reconciler: source-controller's `GitRepositoryReconciler`, step by step.
//!
//! One reconcile:
//!
//! 1. A deleted object has its artifacts removed and its finalizer dropped; an object without
//!    the finalizer gets it (and comes back); a suspended one is left alone.
//! 2. `Reconciling=True` is published (with `Ready=Unknown` for a new generation only when
//!    Ready was unknown), then the steps run in order, stopping at the first failure:
//!    - [`storage`]: garbage-collect old artifacts, re-hash the current one (a mismatch is a
//!      Warning event, the file is deleted and rebuilt);
//!    - [`source`]: proxy and credentials from Secrets, the included repositories' artifacts,
//!      the no-clone check (`ls-remote` against the artifact's revision), the clone,
//!      sparse-checkout paths, signature verification;
//!    - [`include`]: copy the included artifacts into the tree;
//!    - [`artifact`]: archive the tree (ignore rules applied) unless the stored artifact is
//!      already this revision with the same content settings.
//! 3. A `NewArtifact` event when the digest changed (`Succeeded` when a failure cleared), then
//!    [`eddy_controller_runtime::summarize`] turns the result into `Ready`, `Stalled`,
//!    `observedGeneration` and the requeue.

mod artifact;
pub mod conditions;
mod content;
mod include;
mod source;
mod storage;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use eddy_api::meta::Artifact;
use eddy_api::source::GitRepository;
use eddy_artifact::storage::Storage;
use eddy_controller_runtime::conditions::reasons as meta_reasons;
use eddy_controller_runtime::jitter::Jitter;
use eddy_controller_runtime::patch::{PatchOptions, SerialPatcher};
use eddy_controller_runtime::recorder::{EventRecorder, EventType, object_ref};
use eddy_controller_runtime::summarize::{Summarize, progressive_status, summarize_and_patch};
use eddy_controller_runtime::{Clients, Decision, FluxApi, FluxObject, Outcome, ReconcileError, Reconciler, Store};

use self::conditions::{FAIL_CONDITIONS, READY_CONDITIONS, actions, reasons};

/// The field manager (and event source) of Flux's source-controller, so that objects and
/// events look the same whichever of the two reconciles them.
pub const CONTROLLER_NAME: &str = "source-controller";

/// The result of one step: how it went, and the failure if it failed.
pub(crate) type Step = (Outcome, Option<ReconcileError>);

/// Settings of the GitRepository controller.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for an include's artifact (`--requeue-dependency`, default 30 s).
    pub requeue_dependency: Duration,
    /// Requeue jitter (`--interval-jitter-percentage`).
    pub jitter: Jitter,
    /// Where Git checkouts are made (a temporary directory per reconcile).
    pub work_dir: std::path::PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self { requeue_dependency: Duration::from_secs(30), jitter: Jitter::default(), work_dir: std::env::temp_dir() }
    }
}

/// Reconciles GitRepositories into artifacts.
pub struct GitRepositoryReconciler {
    clients: Clients,
    storage: Storage,
    recorder: Arc<dyn EventRecorder>,
    repositories: Store<GitRepository>,
    options: Options,
    /// Checkouts shared by objects cloning the same thing, in a directory of their own under
    /// the work directory (removed with the reconciler); `None` if it could not be made.
    checkouts: Option<(eddy_git::CheckoutCache, tempfile::TempDir)>,
}

/// How many distinct clones (URL, credentials, reference, settings) keep a shared checkout.
const SHARED_CHECKOUTS: usize = 64;

impl GitRepositoryReconciler {
    /// A reconciler writing artifacts to `storage`; `repositories` is the cache of
    /// GitRepositories (for includes).
    #[must_use]
    pub fn new(
        clients: Clients,
        storage: Storage,
        recorder: Arc<dyn EventRecorder>,
        repositories: Store<GitRepository>,
        options: Options,
    ) -> Self {
        let checkouts = tempfile::Builder::new()
            .prefix("eddy-git-checkouts-")
            .tempdir_in(&options.work_dir)
            .map_err(|e| e.to_string())
            .and_then(|dir| {
                eddy_git::CheckoutCache::new(dir.path(), SHARED_CHECKOUTS).map(|c| (c, dir)).map_err(|e| e.to_string())
            })
            .inspect_err(|e| tracing::warn!(error = %e, "no shared Git checkouts: every clone fetches"))
            .ok();
        Self { clients, storage, recorder, repositories, options, checkouts }
    }

    /// The shared checkouts for an object, unless its ignore rules mention `.git` (a copy from
    /// the cache has no `.git`, which such rules could bring into the artifact).
    pub(crate) fn checkout_cache(&self, obj: &GitRepository) -> Option<eddy_git::CheckoutCache> {
        if obj.spec.ignore.as_deref().is_some_and(|i| i.contains(".git")) {
            return None;
        }
        self.checkouts.as_ref().map(|(c, _)| c.clone())
    }

    pub(crate) fn event(&self, obj: &GitRepository, type_: EventType, reason: &str, action: &str, message: &str) {
        let key = obj.key();
        match type_ {
            EventType::Warning => tracing::error!(object = %key, reason, "{message}"),
            _ => tracing::info!(object = %key, reason, "{message}"),
        }
        self.recorder.record(&object_ref(obj), type_, reason, action, message, Default::default());
    }
}

impl Reconciler<GitRepository> for GitRepositoryReconciler {
    async fn reconcile(&self, cached: Arc<GitRepository>) -> Decision {
        let mut obj = (*cached).clone();
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let api = FluxApi::<GitRepository>::namespaced(self.clients.flux.clone(), &namespace);
        let mut patcher = match SerialPatcher::new(api, &obj, CONTROLLER_NAME) {
            Ok(p) => p,
            Err(e) => return Decision::failed(e.to_string()),
        };
        let interval = self.options.jitter.apply(obj.interval().unwrap_or(Duration::from_secs(60)));
        let (outcome, error) = if obj.is_deleting() {
            self.reconcile_delete(&mut obj)
        } else if eddy_controller_runtime::finalizer::add(&mut obj) {
            (Outcome::Requeue, None)
        } else if obj.suspended() {
            tracing::info!("reconciliation is suspended for this object");
            (Outcome::Empty, None)
        } else {
            self.reconcile_object(&mut obj, &mut patcher).await
        };
        let s = Summarize {
            ready: &READY_CONDITIONS,
            interval,
            action: actions::RECONCILE,
            recorder: self.recorder.as_ref(),
            ignore_not_found: true,
        };
        summarize_and_patch(&mut obj, &mut patcher, outcome, error, &s).await
    }
}

/// What the steps share during one reconcile.
pub(crate) struct Run<'a> {
    pub obj: &'a mut GitRepository,
    pub patcher: &'a mut SerialPatcher<GitRepository>,
    /// The cloned (or unchanged) commit, once the source step ran.
    pub commit: Option<eddy_git::CloneOutcome>,
    /// The included repositories' artifacts, in `spec.include` order.
    pub includes: Vec<Artifact>,
    /// The checkout directory.
    pub dir: std::path::PathBuf,
    /// The stored artifact had disappeared or failed verification: the rebuild fetches from
    /// the remote rather than trusting a shared checkout on the same disk.
    pub fetch_afresh: bool,
}

impl Run<'_> {
    /// Publishes the status so far (failures become `PatchOperationFailed`).
    pub async fn patch(&mut self) -> Result<(), ReconcileError> {
        self.patcher
            .patch(self.obj, PatchOptions::default())
            .await
            .map_err(|e| ReconcileError::generic(reasons::PATCH_OPERATION_FAILED, e.to_string()))
    }

    /// The revision string of the commit (absolute when `spec.ref.name` is set).
    pub fn revision(&self) -> String {
        self.commit.as_ref().map(|c| c.revision().to_owned()).unwrap_or_default()
    }
}

impl GitRepositoryReconciler {
    async fn reconcile_object(&self, obj: &mut GitRepository, patcher: &mut SerialPatcher<GitRepository>) -> Step {
        let old = obj.clone();
        progressive_status(false, obj, meta_reasons::PROGRESSING, "reconciliation in progress");
        let observed = obj.observed_generation().unwrap_or(-1);
        let request = obj.reconcile_request().unwrap_or_default().to_owned();
        let patch_now = if obj.generation() != observed {
            let msg = format!("processing object: new generation {observed} -> {}", obj.generation());
            progressive_status(false, obj, meta_reasons::PROGRESSING, &msg);
            true
        } else {
            request != obj.last_handled_reconcile_at().unwrap_or_default()
        };
        if patch_now && let Err(e) = patcher.patch(obj, PatchOptions::default()).await {
            return (Outcome::Empty, Some(ReconcileError::generic(reasons::PATCH_OPERATION_FAILED, e.to_string())));
        }
        // The checkout directory is only named here: the clone creates it, so a reconcile that
        // finds the remote unchanged touches no directory at all (creating and removing one
        // was a tenth of a no-change reconcile's CPU).
        let tmp = WorkDir::new(&self.options.work_dir, obj);
        eddy_controller_runtime::conditions::delete(obj, conditions::STORAGE_OPERATION_FAILED);
        let mut run = Run { obj, patcher, commit: None, includes: Vec::new(), dir: tmp.0.clone(), fetch_afresh: false };
        let mut result = Outcome::Empty;
        let mut error = None;
        for step in 0..4 {
            let (outcome, err) = match step {
                0 => self.reconcile_storage(&mut run).await,
                1 => self.reconcile_source(&mut run).await,
                2 => self.reconcile_include(&mut run).await,
                _ => self.reconcile_artifact(&mut run).await,
            };
            if outcome == Outcome::Requeue {
                return (Outcome::Requeue, None);
            }
            if err.is_some() {
                result = outcome;
                error = err;
                break;
            }
            result = result.lowest_requeuing(outcome);
        }
        let commit = run.commit.take();
        drop(run);
        self.notify(&old, obj, commit.as_ref(), result, error.as_ref());
        drop(tmp);
        (result, error)
    }

    /// The `NewArtifact` / `Succeeded` event (upstream's `notify`).
    fn notify(
        &self,
        old: &GitRepository,
        new: &GitRepository,
        commit: Option<&eddy_git::CloneOutcome>,
        result: Outcome,
        error: Option<&ReconcileError>,
    ) {
        let Some(artifact) = new.status.as_ref().and_then(|s| s.artifact.as_ref()) else { return };
        let should = match error {
            None => result == Outcome::Success,
            Some(e) => {
                result == Outcome::Empty
                    && e.kind == eddy_controller_runtime::result::ErrorKind::Generic
                    && e.report.ignore
            }
        };
        if !should {
            return;
        }
        let subject = match commit {
            Some(eddy_git::CloneOutcome::Cloned { commit, .. }) => commit.short_message(),
            Some(c) => c.revision().to_owned(),
            None => artifact.revision.clone(),
        };
        let message = format!("stored artifact for commit '{subject}'");
        let metadata = [
            (format!("{}/revision", GitRepository::GROUP), artifact.revision.clone()),
            (format!("{}/digest", GitRepository::GROUP), artifact.digest.clone()),
        ]
        .into();
        let old_digest = old.status.as_ref().and_then(|s| s.artifact.as_ref()).map(|a| a.digest.as_str());
        let reason = if old_digest != Some(artifact.digest.as_str()) {
            reasons::NEW_ARTIFACT
        } else if recovered(old, new) {
            meta_reasons::SUCCEEDED
        } else {
            return;
        };
        tracing::info!("{message}");
        self.recorder.record(&object_ref(new), EventType::Normal, reason, actions::RECONCILE, &message, metadata);
    }

    fn reconcile_delete(&self, obj: &mut GitRepository) -> Step {
        let (ns, name) =
            (obj.metadata.namespace.clone().unwrap_or_default(), obj.metadata.name.clone().unwrap_or_default());
        match self.storage.remove_all(GitRepository::KIND, &ns, &name) {
            Ok(removed) => {
                if removed.is_some() {
                    self.event(
                        obj,
                        EventType::Trace,
                        reasons::GARBAGE_COLLECTION_SUCCEEDED,
                        actions::FINALIZE,
                        "garbage collected artifacts for deleted resource",
                    );
                }
                if let Some(s) = obj.status.as_mut() {
                    s.artifact = None;
                }
                eddy_controller_runtime::finalizer::remove(obj);
                (Outcome::Empty, None)
            }
            Err(e) => (
                Outcome::Empty,
                Some(ReconcileError::generic(
                    reasons::GARBAGE_COLLECTION_FAILED,
                    format!("garbage collection for deleted resource failed: {e}"),
                )),
            ),
        }
    }
}

/// A reconcile's checkout directory, `<work dir>/<namespace>-<name>-<n>` (`n` unique in the
/// process; the work directory belongs to this process and is emptied at start), removed
/// with everything in it when dropped.
struct WorkDir(std::path::PathBuf);

impl WorkDir {
    fn new(work_dir: &std::path::Path, obj: &GitRepository) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ns = obj.metadata.namespace.as_deref().unwrap_or("");
        let name = obj.metadata.name.as_deref().unwrap_or("");
        Self(work_dir.join(format!("{ns}-{name}-{n}")))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.0) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(error = %e, "failed to remove temporary working directory");
            }
            _ => {}
        }
    }
}

/// Upstream's `FailureRecovery`: a failure condition was present before and none is now.
fn recovered(old: &GitRepository, new: &GitRepository) -> bool {
    use eddy_controller_runtime::conditions::has;
    FAIL_CONDITIONS.iter().any(|c| has(old, c)) && !FAIL_CONDITIONS.iter().any(|c| has(new, c))
}
