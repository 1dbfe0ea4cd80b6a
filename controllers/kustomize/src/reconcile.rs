//! The Kustomization reconciler: kustomize-controller's `Reconcile`, step by step.
//!
//! 1. A deleted object has its inventory pruned according to `spec.deletionPolicy` and its
//!    finalizer dropped; an object without the finalizer gets it (and comes back); a
//!    suspended one is left alone.
//! 2. `healthCheckExprs` must compile (else `Stalled`, `InvalidCELExpression`); the source must
//!    exist, be reachable (`--no-cross-namespace-refs`) and have an artifact (else
//!    `ArtifactFailed`); dependencies must be ready (else `DependencyNotReady`).
//! 3. [`Self::reconcile_revision`]: download and extract the artifact, build, apply in stages,
//!    record the inventory, prune, wait for health, record the revision.
//! 4. Whatever happened, [`eddy_controller_runtime::summarize::finalize_applier`] applies
//!    Flux's closing rules (observedGeneration
//!    only on `Ready=True`, `ProgressingWithRetry` after a failure, `lastHandledReconcileAt`)
//!    and the status is patched once more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_api::kustomize::Kustomization;
use eddy_controller_runtime::conditions::{self as cond};
use eddy_controller_runtime::jitter::Jitter;
use eddy_controller_runtime::patch::{PatchOptions, SerialPatcher};
use eddy_controller_runtime::recorder::{EventRecorder, EventType, object_ref};
use eddy_controller_runtime::{Clients, Decision, FluxApi, FluxObject, Reconciler, duration};

use crate::conditions::{READY, reasons};
use crate::impersonation::ClientFactory;
use crate::source;

/// The field manager and event source of Flux's kustomize-controller, so that applied objects
/// and events look the same whichever of the two reconciles.
pub const CONTROLLER_NAME: &str = "kustomize-controller";

/// The Kustomization API group (owner labels, annotations, event metadata).
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

/// Settings of the Kustomization controller (kustomize-controller's flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Wait before retrying when a source or dependency is not ready (`--requeue-dependency`).
    pub requeue_dependency: Duration,
    /// Requeue jitter (`--interval-jitter-percentage`).
    pub jitter: Jitter,
    /// Where artifacts are extracted (a temporary directory per reconcile).
    pub work_dir: std::path::PathBuf,
    /// Refuse sources and dependencies in other namespaces (`--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Refuse remote bases (`--no-remote-bases`; Eddy's engine never loads remote resources).
    pub no_remote_bases: bool,
    /// The service account to impersonate when a Kustomization names none
    /// (`--default-service-account`).
    pub default_service_account: Option<String>,
    /// Fail on unset post-build variables (the `StrictPostBuildSubstitutions` feature gate, on
    /// by default since kustomize-controller v1.9).
    pub strict_substitution: bool,
    /// Stop health checks at the first failed object (`--feature-gates=...` FailFast is the default).
    pub fail_fast: bool,
    /// Objects applied concurrently per stage (`--concurrent-ssa`).
    pub concurrent_ssa: usize,
    /// A dependency's `readyExpr` adds to the built-in readiness check instead of replacing
    /// it (the `AdditiveCELDependencyCheck` feature gate, off by default).
    pub additive_cel_dependency_check: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            requeue_dependency: Duration::from_secs(30),
            jitter: Jitter::default(),
            work_dir: std::env::temp_dir(),
            no_cross_namespace_refs: false,
            no_remote_bases: false,
            default_service_account: None,
            strict_substitution: true,
            fail_fast: true,
            concurrent_ssa: 4,
            additive_cel_dependency_check: false,
        }
    }
}

/// Reconciles Kustomizations.
pub struct KustomizationReconciler {
    pub(crate) clients: Clients,
    pub(crate) recorder: Arc<dyn EventRecorder>,
    pub(crate) options: Options,
    pub(crate) factory: ClientFactory,
    pub(crate) waiter: eddy_health::Waiter,
    pub(crate) http: reqwest::Client,
    /// The last build per Kustomization and the fingerprint of its inputs: an interval with
    /// the same artifact, spec, keys and variables skips download and build and goes straight
    /// to drift detection, which still runs every time.
    pub(crate) builds: parking_lot::Mutex<
        std::collections::HashMap<eddy_controller_runtime::ObjectKey, (String, Arc<crate::build::KeptBuild>)>,
    >,
}

/// What the reconcile decided, before the closing status rules.
pub(crate) enum Flow {
    /// Come back after this delay.
    After(Duration),
    /// Retry with backoff because of this error.
    Backoff(String),
    /// Nothing to schedule.
    Done,
}

impl KustomizationReconciler {
    /// A reconciler applying to the cluster of `clients` (impersonating through `factory`).
    #[must_use]
    pub fn new(clients: Clients, recorder: Arc<dyn EventRecorder>, options: Options, factory: ClientFactory) -> Self {
        let waiter = eddy_health::Waiter::new(clients.cluster.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { clients, recorder, options, factory, waiter, http, builds: parking_lot::Mutex::default() }
    }

    /// Records an event as kustomize-controller's `event`: the reason is the `Ready` reason
    /// (or the severity), metadata carries the revisions.
    pub(crate) fn event(
        &self,
        obj: &Kustomization,
        revision: &str,
        origin: &str,
        error: bool,
        message: &str,
        mut metadata: BTreeMap<String, String>,
    ) {
        if !revision.is_empty() {
            metadata.insert(format!("{GROUP}/revision"), revision.to_owned());
        }
        if !origin.is_empty() {
            metadata.insert(format!("{GROUP}/originRevision"), origin.to_owned());
        }
        let reason = match cond::reason(obj, READY) {
            "" if error => "error",
            "" => "info",
            r => r,
        };
        let type_ = if error { EventType::Warning } else { EventType::Normal };
        let key = obj.key();
        if error {
            tracing::error!(object = %key, reason, "{message}");
        } else {
            tracing::info!(object = %key, reason, "{message}");
        }
        self.recorder.record(&object_ref(obj), type_, reason, "Reconcile", message, metadata);
    }

    pub(crate) async fn patch(
        &self,
        obj: &mut Kustomization,
        patcher: &mut SerialPatcher<Kustomization>,
    ) -> Result<(), String> {
        patcher.patch(obj, PatchOptions::default()).await.map_err(|e| format!("failed to update status: {e}"))
    }

    async fn run(&self, obj: &mut Kustomization, patcher: &mut SerialPatcher<Kustomization>) -> Flow {
        if obj.is_deleting() {
            self.builds.lock().remove(&obj.key());
            return self.finalize(obj).await;
        }
        if eddy_controller_runtime::finalizer::add(obj) {
            return Flow::After(Duration::ZERO);
        }
        if obj.suspended() {
            tracing::info!("Reconciliation is suspended for this object");
            return Flow::Done;
        }
        let checks = match compile_checks(obj) {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("Reconciliation failed terminally due to configuration error: {e}");
                cond::mark_false(obj, READY, reasons::INVALID_CEL_EXPRESSION, msg.clone());
                cond::mark_stalled(obj, reasons::INVALID_CEL_EXPRESSION, msg.clone());
                let generation = obj.generation();
                obj.set_observed_generation(generation);
                self.event(obj, "", "", true, &msg, BTreeMap::new());
                return Flow::Done;
            }
        };
        let retry = retry_interval(obj);
        let src = match source::get(&self.clients.flux, obj, self.options.no_cross_namespace_refs).await {
            Ok(s) => s,
            Err(source::SourceError::NotFound(msg)) => {
                cond::mark_false(obj, READY, reasons::ARTIFACT_FAILED, msg);
                tracing::info!("Source '{}' not found", source::source_display(obj));
                return Flow::After(retry);
            }
            Err(e @ source::SourceError::AccessDenied(_)) => {
                cond::mark_false(obj, READY, reasons::ACCESS_DENIED, e.to_string());
                self.event(obj, "", "", true, &e.to_string(), BTreeMap::new());
                return Flow::After(retry);
            }
            Err(e) => {
                cond::mark_false(obj, READY, reasons::ARTIFACT_FAILED, e.to_string());
                return Flow::Backoff(e.to_string());
            }
        };
        let Some(artifact) = src.artifact.clone() else {
            let msg =
                format!("Source artifact not found, retrying in {}", duration::format(self.options.requeue_dependency));
            cond::mark_false(obj, READY, reasons::ARTIFACT_FAILED, msg.clone());
            tracing::info!("{msg}");
            return Flow::After(self.options.requeue_dependency);
        };
        let origin = src.origin_revision();
        if obj.spec.depends_on.as_ref().is_some_and(|d| !d.is_empty()) {
            let checked = crate::dependencies::check(
                &self.clients.flux,
                obj,
                &artifact,
                self.options.additive_cel_dependency_check,
            )
            .await;
            if let Err(crate::dependencies::DependencyError::InvalidExpression(e)) = &checked {
                let msg = format!("Reconciliation failed terminally due to configuration error: {e}");
                cond::mark_false(obj, READY, reasons::INVALID_CEL_EXPRESSION, msg.clone());
                cond::mark_stalled(obj, reasons::INVALID_CEL_EXPRESSION, msg.clone());
                let generation = obj.generation();
                obj.set_observed_generation(generation);
                self.event(obj, &artifact.revision, &origin, true, &msg, BTreeMap::new());
                return Flow::Done;
            }
            if let Err(e) = checked {
                cond::mark_false(obj, READY, reasons::DEPENDENCY_NOT_READY, e.to_string());
                let msg = format!(
                    "Dependencies do not meet ready condition, retrying in {}",
                    duration::format(self.options.requeue_dependency)
                );
                self.event(obj, &artifact.revision, &origin, false, &msg, BTreeMap::new());
                return Flow::After(self.options.requeue_dependency);
            }
            tracing::info!("All dependencies are ready, proceeding with reconciliation");
        }
        let start = Instant::now();
        match self.reconcile_revision(obj, patcher, &artifact, &origin, checks).await {
            Ok(()) => Flow::After(self.options.jitter.apply(interval(obj))),
            Err(crate::run::RunError::ArtifactNotFound) => {
                let msg = format!(
                    "Source is not ready, artifact not found, retrying in {}",
                    duration::format(self.options.requeue_dependency)
                );
                cond::mark_false(obj, READY, reasons::ARTIFACT_FAILED, msg.clone());
                tracing::info!("{msg}");
                Flow::After(self.options.requeue_dependency)
            }
            Err(crate::run::RunError::Failed(e)) => {
                tracing::error!(
                    revision = %artifact.revision,
                    "Reconciliation failed after {}, next try in {}",
                    duration::format(start.elapsed()),
                    duration::format(retry)
                );
                self.event(obj, &artifact.revision, &origin, true, &e, BTreeMap::new());
                Flow::After(retry)
            }
        }
    }
}

impl Reconciler<Kustomization> for KustomizationReconciler {
    async fn reconcile(&self, cached: Arc<Kustomization>) -> Decision {
        let start = Instant::now();
        let mut obj = (*cached).clone();
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let api = FluxApi::<Kustomization>::namespaced(self.clients.flux.clone(), &namespace);
        let mut patcher = match SerialPatcher::new(api, &obj, CONTROLLER_NAME) {
            Ok(p) => p,
            Err(e) => return Decision::failed(e.to_string()),
        };
        let flow = self.run(&mut obj, &mut patcher).await;
        eddy_controller_runtime::summarize::finalize_applier(&mut obj);
        let deleting = obj.is_deleting();
        if let Err(e) = patcher.patch(&mut obj, PatchOptions::default()).await
            && !(deleting && e.is_not_found())
        {
            return Decision::failed(format!("failed to update status: {e}"));
        }
        let mut decision = match flow {
            Flow::After(d) if d.is_zero() => Decision::after(Duration::from_millis(1)),
            Flow::After(d) => Decision::after(d),
            Flow::Backoff(e) => Decision::failed(e),
            Flow::Done => Decision::done(),
        };
        decision.conditions = Some(obj.conditions().to_vec());
        if !obj.suspended() && decision.error.is_none() && !deleting && cond::is_true(&obj, READY) {
            let msg = format!(
                "Reconciliation finished in {}, next run in {}",
                duration::format(start.elapsed()),
                duration::format(interval(&obj))
            );
            let status = obj.status.clone().unwrap_or_default();
            let metadata = [(format!("{GROUP}/commit_status"), "update".to_owned())].into();
            self.event(
                &obj,
                status.last_applied_revision.as_deref().unwrap_or_default(),
                status.last_applied_origin_revision.as_deref().unwrap_or_default(),
                false,
                &msg,
                metadata,
            );
        }
        decision
    }
}

/// `spec.interval`.
pub(crate) fn interval(obj: &Kustomization) -> Duration {
    obj.interval().unwrap_or(Duration::from_secs(600))
}

/// `spec.retryInterval`, else the interval.
pub(crate) fn retry_interval(obj: &Kustomization) -> Duration {
    obj.spec.retry_interval.as_deref().and_then(|s| duration::parse(s).ok()).unwrap_or_else(|| interval(obj))
}

/// `spec.timeout`, else the interval less 30 s; at least 30 s (Flux's `GetTimeout`).
pub(crate) fn timeout(obj: &Kustomization) -> Duration {
    let d = match obj.spec.timeout.as_deref().and_then(|s| duration::parse(s).ok()) {
        Some(t) => t,
        None => interval(obj).saturating_sub(Duration::from_secs(30)),
    };
    d.max(Duration::from_secs(30))
}

fn compile_checks(obj: &Kustomization) -> Result<Option<Arc<eddy_health::CustomChecks>>, eddy_health::HealthError> {
    let exprs: Vec<eddy_health::HealthCheckExpr> = obj
        .spec
        .health_check_exprs
        .iter()
        .flatten()
        .map(|c| eddy_health::HealthCheckExpr {
            api_version: c.api_version.clone(),
            kind: c.kind.clone().unwrap_or_default(),
            current: c.current.clone(),
            in_progress: c.in_progress.clone(),
            failed: c.failed.clone(),
        })
        .collect();
    if exprs.is_empty() {
        return Ok(None);
    }
    eddy_health::CustomChecks::compile(&exprs).map(|c| Some(Arc::new(c)))
}
