//! Waiting for a set of objects to become Current (fluxcd/pkg ssa `WaitForSetWithContext`),
//! learning of changes from watches instead of polling.
//!
//! One watch-backed [`cache::KindCache`] per (apiVersion, kind, namespace) — per (apiVersion,
//! kind) for cluster-scoped kinds — is started on first need and kept for later waits; every
//! wait shares it. Watching per namespace bounds memory to the namespaces that are waited in
//! (a cluster-wide watch of ConfigMaps would hold every ConfigMap of the cluster), at the cost
//! of one watch per namespace and kind. The resource behind an apiVersion/kind (built-in or
//! defined by a CRD) comes from discovery (kept once found); a kind that discovery does not
//! know yet is looked up again every few seconds until the deadline. A watch no wait has
//! used for half an hour is stopped when the next watch starts.
//!
//! A wait that joins a watch already running reads its objects once with a GET: until the
//! watch has delivered that resourceVersion, the fresh object counts, so a watch lagging
//! behind the caller's apply cannot report the previous (rolled-out) object as Current.
//!
//! A target's status: absent → NotFound; `batch/Job` → Flux's Job rule (kustomize-controller
//! registers it before the CEL reader, so it wins); an applicable `healthCheckExprs` entry →
//! its verdict; otherwise kstatus. An evaluation error is status Unknown with that error.

mod cache;
mod report;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::GroupVersionKind;
use kube::discovery::{ApiResource, Scope};
use tokio::sync::Notify;
use tokio::time::Instant;

use self::cache::{KindCache, Lookup, Registration};
use self::report::{Observed, Verdict};
use crate::{CustomChecks, HealthError, Status, compute, flux_job_status};

/// How often a kind that discovery does not know is looked up again during a wait.
const DISCOVERY_RETRY: Duration = Duration::from_secs(3);

/// How many fresh reads a wait runs at once.
const FRESH_READS: usize = 16;

/// A watch no wait has used for this long is stopped (when the next wait starts a watch),
/// so that namespaces waited in once do not keep their watches and objects forever.
const IDLE_WATCH_TTL: Duration = Duration::from_secs(30 * 60);

/// An object to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for Target {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// How to wait.
#[derive(Clone, Default)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Stop as soon as one object is Failed (Flux's `FailFast`).
    pub fail_fast: bool,
    /// Custom health checks (they replace kstatus for the kinds they name).
    pub checks: Option<Arc<CustomChecks>>,
}

/// A resolved resource: what to watch and whether it is namespaced.
#[derive(Clone)]
struct Resolved {
    resource: ApiResource,
    namespaced: bool,
}

/// Watch caches and discovery results shared by every clone of a [`Waiter`].
#[derive(Default)]
struct Shared {
    /// Discovery results by (apiVersion, kind).
    resolved: Mutex<HashMap<(String, String), Resolved>>,
    /// Caches by (apiVersion, kind, namespace); namespace empty for cluster scope.
    caches: Mutex<HashMap<(String, String, String), Arc<KindCache>>>,
}

/// Waits for objects to become Current, from watches shared by every wait.
#[derive(Clone)]
pub struct Waiter {
    client: kube::Client,
    shared: Arc<Shared>,
}

/// One target during a wait.
struct Slot<'a> {
    target: &'a Target,
    /// Counts as Current when absent (a Job with `ttlSecondsAfterFinished`).
    ttl_job: bool,
    cache: Option<Arc<KindCache>>,
    /// Why the kind could not be resolved yet.
    unresolved: Option<String>,
    /// Whether to take that fresh read.
    needs_fresh: bool,
    /// A fresh read taken when the wait joined an already synced watch: authoritative until
    /// the watch has delivered its resourceVersion.
    fresh: Option<(Arc<serde_json::Value>, u64)>,
    _registration: Option<Registration>,
}

impl Waiter {
    /// A waiter reading the cluster through `client`.
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self { client, shared: Arc::new(Shared::default()) }
    }

    /// How many watches (caches) this waiter and its clones have started.
    #[must_use]
    pub fn watch_count(&self) -> usize {
        self.shared.caches.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Returns once every target is Current.
    ///
    /// # Errors
    /// [`HealthError::Timeout`] / [`HealthError::Failed`] with Flux's messages, e.g.
    /// `timeout waiting for: [Deployment/default/podinfo status: 'InProgress']` or
    /// `failed early due to stalled resources: [Job/default/migrate status: 'Failed']`.
    pub async fn wait(&self, targets: &[Target], options: &WaitOptions) -> Result<(), HealthError> {
        self.wait_with_ttl_jobs(targets, options, &[]).await
    }

    /// [`Waiter::wait`], where the Jobs in `jobs_with_ttl` (those with
    /// `spec.ttlSecondsAfterFinished`, which the TTL controller deletes once finished) count as
    /// Current when they do not exist (fluxcd/pkg ssa's `JobsWithTTL`).
    ///
    /// # Errors
    /// As [`Waiter::wait`].
    pub async fn wait_with_ttl_jobs(
        &self,
        targets: &[Target],
        options: &WaitOptions,
        jobs_with_ttl: &[Target],
    ) -> Result<(), HealthError> {
        if targets.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + options.timeout;
        let notify = Arc::new(Notify::new());
        let mut slots: Vec<Slot<'_>> = targets
            .iter()
            .map(|target| Slot {
                target,
                ttl_job: jobs_with_ttl.contains(target),
                cache: None,
                unresolved: None,
                needs_fresh: false,
                fresh: None,
                _registration: None,
            })
            .collect();
        let checks = options.checks.as_deref();
        loop {
            let mut retry_discovery = false;
            // Kinds discovery did not know this round: asked once per round, not per target.
            let mut unknown_kinds: HashMap<(&str, &str), String> = HashMap::new();
            for slot in slots.iter_mut().filter(|s| s.cache.is_none()) {
                let kind = (slot.target.api_version.as_str(), slot.target.kind.as_str());
                if let Some(e) = unknown_kinds.get(&kind) {
                    slot.unresolved = Some(e.clone());
                    continue;
                }
                match tokio::time::timeout_at(deadline, self.cache_for(slot.target)).await {
                    Ok(Ok(cache)) => {
                        slot._registration = Some(cache.register(&slot.target.name, Arc::clone(&notify)));
                        // A watch started now lists after the caller's writes; one that was
                        // already running may still be behind them: read those objects afresh.
                        slot.needs_fresh = cache.is_synced();
                        slot.cache = Some(cache);
                        slot.unresolved = None;
                    }
                    Ok(Err(e)) => {
                        retry_discovery = true;
                        unknown_kinds.insert(kind, e.clone());
                        slot.unresolved = Some(e);
                    }
                    Err(_) => break,
                }
            }
            // Owned inputs, so that the future stays `Send` for any caller (borrowing the
            // slots in the stream's closures defeats the compiler's Send inference).
            let pending: Vec<(usize, Arc<KindCache>, String)> = slots
                .iter_mut()
                .enumerate()
                .filter(|(_, s)| s.needs_fresh)
                .filter_map(|(i, s)| {
                    s.needs_fresh = false;
                    s.cache.clone().map(|c| (i, c, s.target.name.clone()))
                })
                .collect();
            if !pending.is_empty() {
                let reads = futures_util::stream::iter(pending)
                    .map(|(i, cache, name)| async move { (i, cache.fresh(&name).await) })
                    .buffer_unordered(FRESH_READS)
                    .collect::<Vec<_>>();
                if let Ok(results) = tokio::time::timeout_at(deadline, reads).await {
                    for (i, fresh) in results {
                        slots[i].fresh = fresh;
                    }
                }
            }
            let entries: Vec<(String, Observed, bool)> =
                slots.iter().map(|s| (s.target.to_string(), observe(s, checks), s.ttl_job)).collect();
            match report::verdict(&entries, options.fail_fast) {
                Verdict::Done => return Ok(()),
                Verdict::FailedEarly(msg) => return Err(HealthError::Failed(msg)),
                Verdict::Wait => {}
            }
            if Instant::now() >= deadline {
                return Err(HealthError::Timeout(report::timeout_message(&entries)));
            }
            let retry_at = Instant::now() + DISCOVERY_RETRY;
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = tokio::time::sleep_until(retry_at), if retry_discovery => {}
            }
        }
    }

    /// The cache holding `target`, started if needed.
    async fn cache_for(&self, target: &Target) -> Result<Arc<KindCache>, String> {
        let resolved = self.resolve(&target.api_version, &target.kind).await?;
        let namespace = if resolved.namespaced { target.namespace.clone() } else { String::new() };
        let key = (target.api_version.clone(), target.kind.clone(), namespace.clone());
        let mut caches = self.shared.caches.lock().unwrap_or_else(PoisonError::into_inner);
        if !caches.contains_key(&key) {
            caches.retain(|_, c| c.idle_for().is_none_or(|idle| idle < IDLE_WATCH_TTL));
        }
        let cache = caches.entry(key).or_insert_with(|| {
            let ns = resolved.namespaced.then_some(namespace.as_str());
            KindCache::start(self.client.clone(), &resolved.resource, ns)
        });
        Ok(Arc::clone(cache))
    }

    /// The resource of an apiVersion and kind, from discovery (cached once found).
    async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, String> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(r) = self.shared.resolved.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(r.clone());
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await.map_err(|e| {
            tracing::debug!(%api_version, %kind, error = %e, "discovery failed");
            match e {
                // The RESTMapper's words, as Flux reports an unmapped kind.
                kube::Error::Discovery(_) => format!("no matches for kind \"{kind}\" in version \"{api_version}\""),
                kube::Error::Api(s) if s.code == 404 => {
                    format!("no matches for kind \"{kind}\" in version \"{api_version}\"")
                }
                other => format!("discovering {api_version} {kind}: {other}"),
            }
        })?;
        let resolved = Resolved { resource, namespaced: caps.scope == Scope::Namespaced };
        self.shared.resolved.lock().unwrap_or_else(PoisonError::into_inner).insert(key, resolved.clone());
        Ok(resolved)
    }
}

/// What is known of one target now.
fn observe(slot: &Slot<'_>, checks: Option<&CustomChecks>) -> Observed {
    let Some(cache) = &slot.cache else {
        return match &slot.unresolved {
            Some(e) => Observed::Status(Status::Unknown, Some(e.clone())),
            None => Observed::Nothing,
        };
    };
    match cache.lookup(&slot.target.name) {
        Lookup::NotSynced(None) => Observed::Nothing,
        Lookup::NotSynced(Some(e)) => Observed::Status(Status::Unknown, Some(e)),
        lookup => {
            let fresh = slot.fresh.as_ref().filter(|(_, rv)| cache.revision() < *rv).map(|(obj, _)| Arc::clone(obj));
            let ((Some(obj), _) | (None, Lookup::Present(obj))) = (fresh, lookup) else {
                return Observed::Status(Status::NotFound, None);
            };
            let group = slot.target.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let result = if group == "batch" && slot.target.kind == "Job" {
                flux_job_status(&obj)
            } else if let Some(r) = checks.and_then(|c| c.evaluate(&obj)) {
                r
            } else {
                compute(&obj)
            };
            match result {
                Ok(r) => Observed::Status(r.status, None),
                Err(e) => Observed::Status(Status::Unknown, Some(e.to_string())),
            }
        }
    }
}
