//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! with the defaults Flux's controllers run with (`--leader-election-lease-duration=35s`,
//! `--leader-election-renew-deadline=30s`, `--leader-election-retry-period=5s`,
//! `--leader-election-release-on-cancel=true`).
//!
//! **One lease for the process.** Each Flux controller has its own lease
//! (`source-controller-leader-election`, `kustomize-controller-leader-election`, ...; a watch
//! label selector adds a hash suffix). Eddy runs every controller in one process, so one lease
//! decides which replica reconciles: [`DEFAULT_LEASE_NAME`] in the namespace Eddy runs in
//! ([`in_cluster_namespace`]). The API keeps being served by every replica; only the
//! controllers' workers follow [`LeaderElector::subscribe`].
//!
//! The algorithm is client-go's `tryAcquireOrRenew`: a candidate takes the lease when it is
//! absent (create), released (empty holder) or expired, where "expired" is judged on the
//! candidate's own clock: `leaseDurationSeconds` after the moment it last saw the record
//! change, never by comparing clocks. A holder renews every retry period with an optimistic
//! update (the Lease's resourceVersion makes a concurrent write fail with a conflict), falling
//! back to read-then-update. Every write is a compare-and-swap on the resourceVersion, so two
//! candidates never both succeed. `holderIdentity`, `leaseDurationSeconds`, `acquireTime`,
//! `renewTime` (MicroTime) and `leaseTransitions` are written as client-go writes them; a
//! release on shutdown clears the holder and sets a one-second duration.
//!
//! Where Eddy is stricter than client-go, for safety:
//! - leadership is given up at once when the Lease is seen held by someone else (client-go
//!   keeps believing it leads until its renew deadline passes);
//! - a record change is noticed at full precision (client-go compares JSON with second-
//!   precision times, so sub-second renewals can look unchanged to a watcher);
//! - a release rewrites the Lease only if it still names this identity.
//!
//! Like client-go, a deleted Lease is simply created again by its holder. After losing
//! leadership the elector does not exit (Flux's process does): it flips the state to `false`
//! at once and becomes a candidate again.

mod record;

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

use self::record::{LeaderRecord, now_micros};
use crate::events::{EventType, KubeRecorder, ObjectRef, hostname, random};
use crate::metrics::Metrics;

/// The lease Eddy's controllers elect their leader on.
pub const DEFAULT_LEASE_NAME: &str = "eddy-controllers-leader-election";

/// client-go's `JitterFactor` for the candidates' retry period.
const JITTER_FACTOR: f64 = 1.2;

/// Where a Pod's namespace is mounted.
const IN_CLUSTER_NAMESPACE_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The namespace this process runs in, when it runs in a Pod (controller-runtime's default
/// leader election namespace).
#[must_use]
pub fn in_cluster_namespace() -> Option<String> {
    std::fs::read_to_string(IN_CLUSTER_NAMESPACE_PATH).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A fresh identity as controller-runtime makes it: `<hostname>_<uuid>`.
#[must_use]
pub fn default_identity() -> String {
    format!("{}_{}", hostname(), random::uuid_v4())
}

/// The lease and the timing of the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity (unique per process).
    pub identity: String,
    /// How long a lease is valid after it was last seen renewed (whole seconds are written).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it gives up leadership.
    pub renew_deadline: Duration,
    /// The wait between attempts.
    pub retry_period: Duration,
    /// Whether the leader releases the lease when shut down.
    pub release_on_cancel: bool,
}

impl LeaseConfig {
    /// Flux's defaults (35 s, 30 s, 5 s, release on cancel) with a fresh identity.
    #[must_use]
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(35),
            renew_deadline: Duration::from_secs(30),
            retry_period: Duration::from_secs(5),
            release_on_cancel: true,
        }
    }

    /// Checks the configuration as client-go's `NewLeaderElector` does, and that the lease
    /// duration is at least a second (it is written in whole seconds).
    ///
    /// # Errors
    /// [`LeaderError::InvalidConfig`] naming the first problem.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |why| Err(LeaderError::InvalidConfig(why));
        if self.namespace.is_empty() || self.name.is_empty() {
            return invalid("the lease namespace and name must not be empty");
        }
        if self.identity.is_empty() {
            return invalid("Lock identity is empty");
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid("leaseDuration must be greater than renewDeadline");
        }
        if self.renew_deadline <= self.retry_period.mul_f64(JITTER_FACTOR) {
            return invalid("renewDeadline must be greater than retryPeriod*JitterFactor");
        }
        if self.retry_period.is_zero() {
            return invalid("retryPeriod must be greater than zero");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("leaseDuration must be at least one second");
        }
        Ok(())
    }

    fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// Why an elector could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The configuration breaks one of client-go's rules.
    #[error("invalid leader election configuration: {0}")]
    InvalidConfig(&'static str),
}

/// The result of one `tryAcquireOrRenew`.
#[derive(Debug, PartialEq, Eq)]
enum Try {
    /// This candidate holds the lease now.
    Held,
    /// Someone else holds a valid lease.
    Other(String),
    /// A request failed; try again later.
    Failed,
}

/// Why a write failed.
enum WriteError {
    Conflict,
    Other(String),
}

/// Takes part in the election on one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    request_timeout: Duration,
    state: watch::Sender<bool>,
    recorder: Option<KubeRecorder>,
    metrics: Option<Metrics>,
    /// The Lease as last read or written: the base of optimistic updates.
    lease: Option<Lease>,
    observed: Option<LeaderRecord>,
    observed_at: Instant,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector").field("config", &self.config).field("leading", &*self.state.borrow()).finish()
    }
}

impl LeaderElector {
    /// An elector for `config`'s Lease in `cluster`; not leading until [`run`](Self::run)
    /// acquires the lease.
    ///
    /// # Errors
    /// When the configuration is invalid (see [`LeaseConfig::validate`]).
    pub fn new(cluster: Client, config: LeaseConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        // controller-runtime bounds each request by half the renew deadline, at least 1 s.
        let request_timeout = (config.renew_deadline / 2).max(Duration::from_secs(1));
        Ok(Self {
            api: Api::namespaced(cluster, &config.namespace),
            config,
            request_timeout,
            state: watch::channel(false).0,
            recorder: None,
            metrics: None,
            lease: None,
            observed: None,
            observed_at: Instant::now(),
        })
    }

    /// Records `became leader` and `stopped leading` Events on the Lease, with the identity
    /// as their component (as controller-runtime's lease lock does).
    #[must_use]
    pub fn with_recorder(mut self, recorder: &KubeRecorder) -> Self {
        self.recorder = Some(recorder.for_component(self.config.identity.clone()));
        self
    }

    /// Reports `leader_election_master_status{name=<lease name>}`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        metrics.set_leader(&self.config.name, false);
        self.metrics = Some(metrics);
        self
    }

    /// This candidate's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Leadership as it changes: `true` while this candidate leads. It turns `false` the
    /// moment leadership is lost or given up, before anything else happens.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.state.subscribe()
    }

    /// Takes part in the election until `shutdown` completes: acquires the lease, renews it,
    /// and after losing it competes again. On shutdown a leader releases the lease when
    /// [`LeaseConfig::release_on_cancel`] is set. The state is `false` when this returns.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tracing::info!(lock = %self.describe(), "attempting to acquire leader lease...");
            let acquired = tokio::select! {
                biased;
                () = &mut shutdown => false,
                () = self.acquire() => true,
            };
            if !acquired {
                break;
            }
            tracing::info!(lock = %self.describe(), identity = %self.config.identity, "successfully acquired lease");
            self.set_leading(true);
            self.record_event("became leader");
            let lost = tokio::select! {
                biased;
                () = &mut shutdown => false,
                () = self.renew() => true,
            };
            self.set_leading(false);
            self.record_event("stopped leading");
            if !lost {
                if self.config.release_on_cancel {
                    self.release().await;
                }
                break;
            }
            tracing::info!(lock = %self.describe(), "failed to renew lease; competing again");
        }
        self.set_leading(false);
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.name)
    }

    fn set_leading(&self, leading: bool) {
        self.state.send_replace(leading);
        if let Some(m) = &self.metrics {
            m.set_leader(&self.config.name, leading);
        }
    }

    fn record_event(&self, what: &str) {
        let (Some(recorder), Some(lease)) = (&self.recorder, &self.lease) else { return };
        let meta = &lease.metadata;
        let object = ObjectRef {
            api_version: "coordination.k8s.io/v1".into(),
            kind: "Lease".into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            annotations: Default::default(),
        };
        let message = format!("{} {what}", self.config.identity);
        recorder.event(&object, EventType::Normal, "LeaderElection", &message, Default::default());
    }

    /// Retries every jittered retry period until the lease is held.
    async fn acquire(&mut self) {
        loop {
            if self.try_acquire_or_renew().await == Try::Held {
                return;
            }
            let jitter = self.config.retry_period.mul_f64(random::unit_f64() * JITTER_FACTOR);
            tokio::time::sleep(self.config.retry_period + jitter).await;
        }
    }

    /// Renews every retry period; returns when leadership is lost: the renew deadline passed
    /// without a successful renewal, or someone else holds the lease.
    async fn renew(&mut self) {
        loop {
            let deadline = Instant::now() + self.config.renew_deadline;
            loop {
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                    Ok(Try::Held) => break,
                    Ok(Try::Other(holder)) => {
                        tracing::warn!(lock = %self.describe(), %holder, "lease is held by another candidate");
                        return;
                    }
                    Ok(Try::Failed) | Err(_) => {}
                }
                if Instant::now() + self.config.retry_period >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    tracing::warn!(lock = %self.describe(), "failed to renew lease before the renew deadline");
                    return;
                }
                tokio::time::sleep(self.config.retry_period).await;
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    fn is_leader(&self) -> bool {
        self.observed.as_ref().is_some_and(|r| r.holder == self.config.identity)
    }

    fn lease_valid(&self, now: Instant) -> bool {
        let seconds = self.observed.as_ref().map_or(0, |r| u64::try_from(r.lease_duration_seconds).unwrap_or(0));
        self.observed_at + Duration::from_secs(seconds) > now
    }

    fn set_observed(&mut self, record: LeaderRecord) {
        self.observed = Some(record);
        self.observed_at = Instant::now();
    }

    /// client-go `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Try {
        let now = now_micros();
        let mut record = LeaderRecord {
            holder: self.config.identity.clone(),
            lease_duration_seconds: self.config.lease_duration_seconds(),
            acquire_time: now,
            renew_time: now,
            transitions: 0,
        };
        // Fast path: renew the lease we hold with an update on the Lease we last wrote.
        if self.is_leader()
            && self.lease_valid(Instant::now())
            && let Some(observed) = &self.observed
        {
            record.acquire_time = observed.acquire_time;
            record.transitions = observed.transitions;
            match self.update(&record).await {
                Ok(()) => {
                    self.set_observed(record);
                    return Try::Held;
                }
                Err(WriteError::Conflict | WriteError::Other(_)) => {
                    tracing::debug!(lock = %self.describe(), "failed to update lease optimistically, falling back to slow path");
                }
            }
        }
        let old = match self.get().await {
            Ok(Some(old)) => old,
            Ok(None) => return self.create(record).await,
            Err(why) => {
                tracing::warn!(lock = %self.describe(), error = %why, "error retrieving lease lock");
                return Try::Failed;
            }
        };
        if self.observed.as_ref() != Some(&old) {
            self.set_observed(old.clone());
        }
        if !old.holder.is_empty() && self.lease_valid(Instant::now()) && !self.is_leader() {
            return Try::Other(old.holder);
        }
        if self.is_leader() {
            record.acquire_time = old.acquire_time;
            record.transitions = old.transitions;
        } else {
            record.transitions = old.transitions.saturating_add(1);
        }
        match self.update(&record).await {
            Ok(()) => {
                self.set_observed(record);
                Try::Held
            }
            Err(WriteError::Conflict) => Try::Failed,
            Err(WriteError::Other(why)) => {
                tracing::warn!(lock = %self.describe(), error = %why, "failed to update lease");
                Try::Failed
            }
        }
    }

    /// Reads the Lease (remembered as the base of the next update); `None` when absent.
    async fn get(&mut self) -> Result<Option<LeaderRecord>, String> {
        match tokio::time::timeout(self.request_timeout, self.api.get(&self.config.name)).await {
            Err(_) => Err("request timed out".into()),
            Ok(Err(kube::Error::Api(s))) if s.is_not_found() => Ok(None),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(lease)) => {
                let record = LeaderRecord::from_spec(&lease.spec.clone().unwrap_or_default());
                self.lease = Some(lease);
                Ok(Some(record))
            }
        }
    }

    async fn create(&mut self, record: LeaderRecord) -> Try {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(record.to_spec()),
        };
        match tokio::time::timeout(self.request_timeout, self.api.create(&PostParams::default(), &lease)).await {
            Ok(Ok(created)) => {
                self.lease = Some(created);
                self.set_observed(record);
                Try::Held
            }
            Ok(Err(e)) => {
                tracing::warn!(lock = %self.describe(), error = %e, "error initially creating lease lock");
                Try::Failed
            }
            Err(_) => Try::Failed,
        }
    }

    /// Replaces the spec of the Lease last read or written, guarded by its resourceVersion.
    async fn update(&mut self, record: &LeaderRecord) -> Result<(), WriteError> {
        let Some(mut lease) = self.lease.clone() else {
            return Err(WriteError::Other("lease not initialized, call get or create first".into()));
        };
        lease.spec = Some(record.to_spec());
        let params = PostParams::default();
        let request = self.api.replace(&self.config.name, &params, &lease);
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(Ok(updated)) => {
                self.lease = Some(updated);
                Ok(())
            }
            Ok(Err(kube::Error::Api(s))) if s.is_conflict() => Err(WriteError::Conflict),
            Ok(Err(e)) => Err(WriteError::Other(e.to_string())),
            Err(_) => Err(WriteError::Other("request timed out".into())),
        }
    }

    /// client-go `release`: within the renew deadline, clears the holder if it is still us.
    async fn release(&mut self) {
        let released = tokio::time::timeout(self.config.renew_deadline, async {
            loop {
                let old = match self.get().await {
                    Ok(Some(old)) => old,
                    Ok(None) => return false,
                    Err(why) => {
                        tracing::warn!(lock = %self.describe(), error = %why, "error retrieving resource lock");
                        return false;
                    }
                };
                if old.holder != self.config.identity {
                    return true;
                }
                let now = now_micros();
                let record = LeaderRecord {
                    holder: String::new(),
                    lease_duration_seconds: 1,
                    acquire_time: now,
                    renew_time: now,
                    transitions: old.transitions,
                };
                match self.update(&record).await {
                    Ok(()) => {
                        self.set_observed(record);
                        return true;
                    }
                    Err(WriteError::Conflict) => {}
                    Err(WriteError::Other(why)) => {
                        tracing::warn!(lock = %self.describe(), error = %why, "failed to release lease");
                        return false;
                    }
                }
            }
        })
        .await
        .unwrap_or(false);
        if released {
            tracing::info!(lock = %self.describe(), "released leader lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_fluxs_and_validate() {
        let c = LeaseConfig::new("flux-system", DEFAULT_LEASE_NAME);
        assert_eq!(c.lease_duration, Duration::from_secs(35));
        assert_eq!(c.renew_deadline, Duration::from_secs(30));
        assert_eq!(c.retry_period, Duration::from_secs(5));
        assert!(c.release_on_cancel);
        assert!(c.identity.contains('_'));
        c.validate().unwrap();
    }

    #[test]
    fn invalid_timings_are_refused() {
        let base = LeaseConfig::new("ns", "l");
        let bad = |f: fn(&mut LeaseConfig)| {
            let mut c = base.clone();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(
            bad(|c| c.renew_deadline = c.lease_duration).contains("leaseDuration must be greater than renewDeadline")
        );
        assert!(bad(|c| c.retry_period = Duration::from_secs(25)).contains("retryPeriod*JitterFactor"));
        assert!(bad(|c| c.identity.clear()).contains("identity"));
        assert!(
            bad(|c| {
                c.lease_duration = Duration::from_millis(900);
                c.renew_deadline = Duration::from_millis(800);
                c.retry_period = Duration::from_millis(100);
            })
            .contains("at least one second")
        );
    }
}
