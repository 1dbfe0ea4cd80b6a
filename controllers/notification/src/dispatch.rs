//! The event pipeline: events in (in process through [`FluxEventSink`], or from the HTTP
//! endpoint), deduplicated, matched against Alerts, delivered to Providers — never on the
//! caller's path. As notification-controller's `handleEvent` / `dispatchNotification`
//! (`internal/server/event_handlers.go`):
//!
//! - metadata is cleaned (`cleanupMetadata`), then the rate limiter refuses an event whose
//!   key was seen within the interval;
//! - each non-suspended Alert whose sources, severity and inclusion/exclusion lists match is
//!   taken; its Provider is read (suspended → nothing; cross-namespace events refused with
//!   `--no-cross-namespace-refs`); events marked as commit status updates go only to
//!   commit-status and generic providers; commit-status providers take events with a commit
//!   key, status updates and errors; change-request providers need their metadata key;
//! - the event's metadata is combined with the Alert's (`combineEventMetadata`), the Provider's
//!   Secrets are read and the notifier built; delivery runs in its own task, with upstream's
//!   retries, bounded by the Provider's timeout. Failures become `NotificationDispatchFailed`
//!   Warning events on the Alert, a log line naming the Alert, Provider and reason, and the
//!   `failed` delivery counter; secrets never appear in any of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_api::notification::Provider;
use eddy_controller_runtime::events::{FluxEvent, FluxEventSink, Severity};
use eddy_controller_runtime::recorder::{EventRecorder, EventType, object_ref};
use tokio::sync::{Semaphore, mpsc};

use crate::config::{
    ProviderSecrets, SecretData, is_change_request_provider, is_commit_status_provider, is_generic_provider, resolve,
};
use crate::event::{
    cleanup_metadata, dedup_key, exclude_internal_metadata, has_commit_key, involved_object_string,
    is_commit_status_update,
};
use crate::http::RetryPolicy;
use crate::limiter::Limiter;
use crate::matching::{AlertWarning, LabelSource, alert_matches, combine_metadata};
use crate::metrics::Metrics;
use crate::notifier::{Notifier, commit_status_key};
use crate::objects::AlertObject;

/// Why a lookup failed (reading a Provider, Secret or object through the API).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// Where the pipeline reads Alerts, Providers, Secrets and the labels of involved objects.
pub trait Resolver: Send + Sync + 'static {
    /// Every Alert (a cache).
    fn alerts(&self) -> Vec<Arc<AlertObject>>;
    /// One Provider; `None` when it does not exist.
    fn provider(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Provider>, LookupError>> + Send;
    /// One Secret's data; `None` when it does not exist.
    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>, LookupError>> + Send;
    /// The labels of the event's involved object; `None` when it cannot be read.
    fn labels(&self, event: &FluxEvent) -> impl Future<Output = Option<BTreeMap<String, String>>> + Send;
}

struct Labels<'a, R>(&'a R);

impl<R: Resolver> LabelSource for Labels<'_, R> {
    fn labels(&self, event: &FluxEvent) -> impl Future<Output = Option<BTreeMap<String, String>>> + Send {
        self.0.labels(event)
    }
}

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// `--rate-limit-interval`.
    pub rate_limit_interval: std::time::Duration,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// Events waiting to be matched (beyond: refused, counted).
    pub queue_capacity: usize,
    /// Events matched at once.
    pub concurrency: usize,
    /// Deliveries in flight at once (beyond: matching waits, the queue fills, new events
    /// get 503); upstream starts a goroutine per delivery without a bound.
    pub max_deliveries: usize,
    /// HTTP retry policy of deliveries.
    pub retry: RetryPolicy,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            rate_limit_interval: crate::limiter::DEFAULT_INTERVAL,
            no_cross_namespace_refs: false,
            queue_capacity: 10_000,
            concurrency: 64,
            max_deliveries: 256,
            retry: RetryPolicy::default(),
        }
    }
}

/// What happened to a submitted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Queued for matching.
    Accepted,
    /// Refused by the rate limiter (HTTP 429).
    Duplicate,
    /// The queue is full (HTTP 503).
    Overloaded,
}

/// The event pipeline; cheap to clone.
pub struct Dispatcher<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for Dispatcher<R> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

struct Inner<R> {
    resolver: R,
    deliveries: Arc<Semaphore>,
    limiter: Limiter,
    tx: mpsc::Sender<FluxEvent>,
    recorder: Arc<dyn EventRecorder>,
    metrics: Metrics,
    options: DispatchOptions,
}

impl<R: Resolver> Dispatcher<R> {
    /// A pipeline over `resolver`; `recorder` records Warning events on Alerts. Spawns the
    /// worker, which runs until every clone of the dispatcher is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[must_use]
    pub fn start(resolver: R, recorder: Arc<dyn EventRecorder>, metrics: Metrics, options: DispatchOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let inner = Arc::new(Inner {
            resolver,
            deliveries: Arc::new(Semaphore::new(options.max_deliveries.max(1))),
            limiter: Limiter::new(options.rate_limit_interval),
            tx,
            recorder,
            metrics,
            options,
        });
        tokio::spawn(worker(Arc::downgrade(&inner), rx));
        Self { inner }
    }

    /// Submits an event (cleaned and deduplicated here); never waits.
    pub fn submit(&self, mut event: FluxEvent) -> Submitted {
        if event.severity == Severity::Trace {
            return Submitted::Accepted;
        }
        cleanup_metadata(&mut event);
        if !self.inner.limiter.take(&dedup_key(&event)) {
            self.inner.metrics.event("duplicate");
            tracing::debug!(object = %involved_object_string(&event), "Discarding event, rate limiting duplicate events");
            return Submitted::Duplicate;
        }
        match self.inner.tx.try_send(event) {
            Ok(()) => {
                self.inner.metrics.event("accepted");
                Submitted::Accepted
            }
            Err(_) => {
                self.inner.metrics.event("overloaded");
                tracing::warn!("notification queue full: event dropped");
                Submitted::Overloaded
            }
        }
    }

    /// The metrics of this pipeline.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

impl<R: Resolver> FluxEventSink for Dispatcher<R> {
    fn publish(&self, event: &FluxEvent) {
        let _ = self.submit(event.clone());
    }
}

async fn worker<R: Resolver>(inner: std::sync::Weak<Inner<R>>, mut rx: mpsc::Receiver<FluxEvent>) {
    let Some(concurrency) = inner.upgrade().map(|i| i.options.concurrency.max(1)) else {
        return;
    };
    let permits = Arc::new(Semaphore::new(concurrency));
    while let Some(event) = rx.recv().await {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            handle(&inner, event).await;
            drop(permit);
        });
    }
}

/// `handleEvent` for one queued event.
async fn handle<R: Resolver>(inner: &Arc<Inner<R>>, mut event: FluxEvent) {
    exclude_internal_metadata(&mut event);
    let object = involved_object_string(&event);
    let mut matched = Vec::new();
    for alert in inner.resolver.alerts() {
        let mut warnings = Vec::new();
        if alert_matches(&event, &alert.object, &Labels(&inner.resolver), &mut warnings).await {
            matched.push(Arc::clone(&alert));
        }
        record_warnings(inner, &alert, warnings);
    }
    if matched.is_empty() {
        tracing::debug!(object = %object, "discarding event, no alerts found for the involved object");
        return;
    }
    tracing::info!(object = %object, message = %event.message, "dispatching event");
    for alert in matched {
        inner.metrics.matched();
        if let Err(e) = dispatch(inner, &event, &alert).await {
            let alert_name = alert.object.metadata.name.clone().unwrap_or_default();
            tracing::error!(
                alert = %alert_name, namespace = %alert.object.metadata.namespace.as_deref().unwrap_or_default(),
                provider = %alert.object.spec.provider_ref.name, error = %e, "failed to dispatch notification"
            );
            inner.metrics.delivery("unknown", "failed");
            inner.recorder.record(
                &object_ref(alert.as_ref()),
                EventType::Warning,
                "NotificationDispatchFailed",
                "",
                &format!("failed to dispatch notification for {object}: {e}"),
                BTreeMap::new(),
            );
        }
    }
}

fn record_warnings<R>(inner: &Inner<R>, alert: &AlertObject, warnings: Vec<AlertWarning>) {
    for w in warnings {
        inner.recorder.record(&object_ref(alert), EventType::Warning, w.reason, "", &w.message, w.annotations);
    }
}

/// Why an event could not be handed to a provider.
#[derive(Debug, thiserror::Error)]
enum DispatchError {
    #[error(
        "discarding event, access denied to cross-namespace sources: alert '{0}' can't process event from '{1}', cross-namespace references have been blocked"
    )]
    CrossNamespace(String, String),
    #[error("failed to read provider: {0}")]
    Provider(String),
    #[error("failed to initialize notifier for provider '{0}': {1}")]
    Notifier(String, String),
    #[error(
        "failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: {0}"
    )]
    CommitStatus(String),
}

/// `newCommitStatus`: `spec.commitStatusExpr` over the event, the Alert and the Provider as
/// unstructured maps, a string.
fn commit_status_from_expr(
    expr: &str,
    event: &FluxEvent,
    alert: &eddy_api::notification::Alert,
    provider: &Provider,
) -> Result<String, DispatchError> {
    let compiled = crate::cel::Expression::compile(expr, &["event", "alert", "provider"], crate::cel::Output::String)
        .map_err(|e| DispatchError::CommitStatus(format!("failed to compile expression: {e}")))?;
    let event = crate::event::to_go_json(event);
    let alert = serde_json::to_value(alert).unwrap_or_default();
    let provider = serde_json::to_value(provider).unwrap_or_default();
    compiled
        .evaluate_string(&[("event", &event), ("alert", &alert), ("provider", &provider)])
        .map_err(|e| DispatchError::CommitStatus(e.to_string()))
}

/// `getNotificationParams` + `dispatchNotification` for one Alert.
async fn dispatch<R: Resolver>(
    inner: &Arc<Inner<R>>,
    event: &FluxEvent,
    alert: &Arc<AlertObject>,
) -> Result<(), DispatchError> {
    let a = &alert.object;
    let ns = a.metadata.namespace.clone().unwrap_or_default();
    if inner.options.no_cross_namespace_refs && event.involved_object.namespace.as_deref().unwrap_or_default() != ns {
        return Err(DispatchError::CrossNamespace(
            format!("{ns}/{}", a.metadata.name.as_deref().unwrap_or_default()),
            involved_object_string(event),
        ));
    }
    let provider_name = &a.spec.provider_ref.name;
    let provider = inner
        .resolver
        .provider(&ns, provider_name)
        .await
        .map_err(|e| DispatchError::Provider(e.to_string()))?
        .ok_or_else(|| {
            DispatchError::Provider(format!("Provider.notification.toolkit.fluxcd.io \"{provider_name}\" not found"))
        })?;
    if provider.spec.suspend.unwrap_or(false) {
        return Ok(());
    }
    let ptype = provider.spec.r#type.as_str();
    if !is_commit_status_provider(ptype) && !is_generic_provider(ptype) && is_commit_status_update(event) {
        return Ok(());
    }
    if is_commit_status_provider(ptype)
        && !has_commit_key(event)
        && !is_commit_status_update(event)
        && event.severity != Severity::Error
    {
        tracing::info!(alert = %a.metadata.name.as_deref().unwrap_or_default(), "event dropped for commit status providers due to missing commit metadata key");
        return Ok(());
    }
    if is_change_request_provider(ptype) && !crate::event::has_change_request_key(event) {
        tracing::info!(alert = %a.metadata.name.as_deref().unwrap_or_default(), "event dropped for change request providers due to missing change request metadata key");
        return Ok(());
    }
    let mut notification = event.clone();
    if let Some(w) = combine_metadata(&mut notification, a) {
        record_warnings(inner, alert, vec![w]);
    }
    let commit_status = if is_commit_status_provider(ptype) {
        match provider.spec.commit_status_expr.as_deref().filter(|e| !e.is_empty()) {
            Some(expr) => commit_status_from_expr(expr, &notification, a, &provider)?,
            None => commit_status_key(provider.metadata.uid.as_deref().unwrap_or_default(), &notification),
        }
    } else {
        String::new()
    };
    let secrets = read_secrets(&inner.resolver, &provider)
        .await
        .map_err(|e| DispatchError::Notifier(provider_name.clone(), e))?;
    let mut config =
        resolve(&provider, &secrets).map_err(|e| DispatchError::Notifier(provider_name.clone(), e.to_string()))?;
    config.commit_status = commit_status;
    config.alert_name = a.metadata.name.clone().unwrap_or_default();
    config.alert_namespace = ns.clone();
    config.alert_uid = a.metadata.uid.clone().unwrap_or_default();
    let notifier = Notifier::new(config, inner.options.retry)
        .map_err(|e| DispatchError::Notifier(provider_name.clone(), e.to_string()))?;
    let Ok(permit) = Arc::clone(&inner.deliveries).acquire_owned().await else {
        return Ok(());
    };
    let inner = Arc::clone(inner);
    let alert = Arc::clone(alert);
    let ptype = ptype.to_owned();
    tokio::spawn(async move {
        let _permit = permit;
        match notifier.post(&notification).await {
            Ok(()) => inner.metrics.delivery(&ptype, "success"),
            Err(e) => {
                inner.metrics.delivery(&ptype, "failed");
                let object = involved_object_string(&notification);
                tracing::error!(
                    alert = %alert.object.metadata.name.as_deref().unwrap_or_default(),
                    provider = %alert.object.spec.provider_ref.name, r#type = %ptype, error = %e,
                    "failed to send notification"
                );
                inner.recorder.record(
                    &object_ref(alert.as_ref()),
                    EventType::Warning,
                    "NotificationDispatchFailed",
                    "",
                    &format!("failed to send notification for {object}: {e}"),
                    BTreeMap::new(),
                );
            }
        }
    });
    Ok(())
}

async fn read_secrets<R: Resolver>(resolver: &R, provider: &Provider) -> Result<ProviderSecrets, String> {
    let ns = provider.metadata.namespace.clone().unwrap_or_default();
    let read = |name: String| {
        let ns = ns.clone();
        async move {
            match resolver.secret(&ns, &name).await {
                Ok(Some(d)) => Ok(d),
                Ok(None) => Err(format!("failed to get secret '{ns}/{name}': not found")),
                Err(e) => Err(format!("failed to get secret '{ns}/{name}': {e}")),
            }
        }
    };
    let spec = &provider.spec;
    Ok(ProviderSecrets {
        secret: match &spec.secret_ref {
            Some(r) => Some(read(r.name.clone()).await?),
            None => None,
        },
        proxy: match &spec.proxy_secret_ref {
            Some(r) => Some(read(r.name.clone()).await?),
            None => None,
        },
        cert: match &spec.cert_secret_ref {
            Some(r) => Some(read(r.name.clone()).await?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests;
