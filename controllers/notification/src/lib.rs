//! # eddy-notification-controller — Flux's notification-controller
//!
//! What fluxcd/notification-controller v1 does, on Eddy's runtime:
//!
//! - **Events in.** Every Flux event of Eddy's own controllers arrives in process through the
//!   [`Dispatcher`]'s [`FluxEventSink`](eddy_controller_runtime::events::FluxEventSink); Flux
//!   controllers elsewhere POST theirs to the event endpoint ([`server`], upstream's
//!   `:9090`). Both paths clean the metadata and deduplicate as upstream ([`event`],
//!   [`limiter`]).
//! - **Alerts out.** [`matching`] selects the Alerts an event goes to; [`dispatch`] reads the
//!   Provider and its Secrets ([`config`]) and delivers in a task of its own ([`notifier`],
//!   [`http`]: upstream's payloads and retry policy), so reconciles never wait.
//! - **Static kinds.** Alerts and Providers `v1beta3` carry no status ([`statics`]).
//! - **Receivers.** [`receiver`]: the reconciler computing `status.webhookPath`, and the
//!   webhook server (upstream's `:9292`) that validates requests per type and sets
//!   `reconcile.fluxcd.io/requestedAt` on the selected objects.
//! - [`cel`]: CEL as fluxcd/pkg compiles it, for Providers' `commitStatusExpr` and
//!   Receivers' `resourceFilter`s and OIDC claim checks.
//! - [`metrics`]: counters of both servers and of deliveries.
//!
//! Only `eddy-api`, the runtime and `kube`: never the store or the API server.

pub mod cel;
pub mod config;
pub mod dispatch;
pub mod event;
pub mod http;
pub mod limiter;
pub mod matching;
pub mod metrics;
pub mod notifier;
pub mod objects;
pub mod receiver;
pub mod resolver;
pub mod server;
pub mod statics;
#[cfg(test)]
mod testserver;

use std::sync::Arc;

use eddy_controller_runtime::controller::Config;
use eddy_controller_runtime::events::FluxEventSink;
use eddy_controller_runtime::recorder::EventRecorder;
use eddy_controller_runtime::{Clients, Controller, FluxObject, Informer};
use tokio::sync::watch;

pub use self::dispatch::{DispatchOptions, Dispatcher};
pub use self::metrics::Metrics;
use self::objects::{AlertObject, ProviderObject, ReceiverObject};
pub use self::receiver::CONTROLLER_NAME;
use self::resolver::KubeResolver;

/// Which objects the controllers watch (`--watch-all-namespaces`, `--watch-label-selector`).
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// Only objects matching this label selector.
    pub label_selector: Option<String>,
}

/// What to run.
#[derive(Debug, Default)]
pub struct Parts {
    /// The Alert reconciler, the event pipeline and the event endpoint on this listener
    /// (`None`: in process only).
    pub alert: Option<Option<tokio::net::TcpListener>>,
    /// The Provider reconciler.
    pub provider: bool,
    /// The Receiver reconciler and the webhook server on this listener.
    pub receiver: Option<tokio::net::TcpListener>,
}

/// The notification controllers.
pub struct Notification {
    clients: Clients,
    recorder: Arc<dyn EventRecorder>,
    metrics: Metrics,
    no_cross_namespace_refs: bool,
    alerts: Informer<AlertObject>,
    providers: Informer<ProviderObject>,
    dispatcher: Dispatcher<KubeResolver>,
    watch: WatchOptions,
}

impl Notification {
    /// The controllers over `clients`; `recorder` writes Kubernetes Events as
    /// `notification-controller` (no Flux events: upstream's are Kubernetes-only).
    ///
    /// # Panics
    /// Outside a Tokio runtime (the pipeline's worker is spawned here).
    #[must_use]
    pub fn new(
        clients: Clients,
        recorder: Arc<dyn EventRecorder>,
        metrics: Metrics,
        options: DispatchOptions,
        watch: WatchOptions,
    ) -> Self {
        let alerts = Informer::new(clients.flux.clone(), watch.namespace.as_deref(), watch.label_selector.as_deref());
        let providers =
            Informer::new(clients.flux.clone(), watch.namespace.as_deref(), watch.label_selector.as_deref());
        let resolver = KubeResolver {
            alerts: alerts.store(),
            providers: providers.store(),
            flux: clients.flux.clone(),
            cluster: clients.cluster.clone(),
        };
        let no_cross_namespace_refs = options.no_cross_namespace_refs;
        let dispatcher = Dispatcher::start(resolver, Arc::clone(&recorder), metrics.clone(), options);
        Self { clients, recorder, metrics, no_cross_namespace_refs, alerts, providers, dispatcher, watch }
    }

    /// The in-process sink to register with every controller's event recorder.
    #[must_use]
    pub fn sink(&self) -> Arc<dyn FluxEventSink> {
        Arc::new(self.dispatcher.clone())
    }

    /// Runs the selected parts until the futures `shutdown` makes resolve. `config` is the
    /// template of the controllers' configuration (its name is replaced per kind).
    pub async fn run<F>(
        self,
        parts: Parts,
        config: Config,
        leader: watch::Receiver<bool>,
        shutdown: impl Fn() -> F + Send,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let Self { clients, recorder, metrics, no_cross_namespace_refs, mut alerts, mut providers, dispatcher, watch } =
            self;
        let named = |name: &str| Config { name: name.to_owned(), ..config.clone() };
        let mut tasks = Vec::new();
        if let Some(listener) = parts.alert {
            let controller = Controller::new(&mut alerts, named("alert"));
            let reconciler =
                Arc::new(statics::AlertReconciler { flux: clients.flux.clone(), recorder: Arc::clone(&recorder) });
            tasks.push(tokio::spawn(controller.run(reconciler, leader.clone(), shutdown())));
            if let Some(listener) = listener {
                let router = server::router(dispatcher.clone());
                let stop = shutdown();
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = server::serve(listener, router, stop).await {
                        tracing::error!(error = %e, "event server failed");
                    }
                }));
            }
        }
        if parts.provider {
            let controller = Controller::new(&mut providers, named("provider"));
            let reconciler = Arc::new(statics::ProviderReconciler { flux: clients.flux.clone() });
            tasks.push(tokio::spawn(controller.run(reconciler, leader.clone(), shutdown())));
        }
        let alerts_task = tokio::spawn(alerts.run());
        let providers_task = tokio::spawn(providers.run());
        let mut receivers_task = None;
        if let Some(listener) = parts.receiver {
            let mut informer: Informer<ReceiverObject> =
                Informer::new(clients.flux.clone(), watch.namespace.as_deref(), watch.label_selector.as_deref());
            informer.index(receiver::server::WEBHOOK_PATH_INDEX, |r: &ReceiverObject| {
                r.object.status.as_ref().and_then(|s| s.webhook_path.clone()).into_iter().collect()
            });
            let controller = Controller::new(&mut informer, named("receiver"));
            let webhooks = receiver::ReceiverServer {
                receivers: informer.store(),
                flux: clients.flux.clone(),
                cluster: clients.cluster.clone(),
                no_cross_namespace_refs,
                metrics: metrics.clone(),
                google_certs_url: receiver::gcr::GOOGLE_CERTS.to_owned(),
                in_flight: Arc::new(tokio::sync::Semaphore::new(receiver::server::MAX_IN_FLIGHT)),
                coalescer: Arc::default(),
                waiting: Arc::default(),
            };
            let reconciler = Arc::new(receiver::ReceiverReconciler {
                flux: clients.flux.clone(),
                cluster: clients.cluster.clone(),
                recorder: Arc::clone(&recorder),
            });
            receivers_task = Some(tokio::spawn(informer.run()));
            tasks.push(tokio::spawn(controller.run(reconciler, leader.clone(), shutdown())));
            let router = webhooks.router();
            let stop = shutdown();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve(listener, router, stop).await {
                    tracing::error!(error = %e, "receiver server failed");
                }
            }));
        }
        shutdown().await;
        for t in tasks {
            let _ = t.await;
        }
        alerts_task.abort();
        providers_task.abort();
        if let Some(t) = receivers_task {
            t.abort();
        }
        tracing::debug!(kind = AlertObject::KIND, "notification controllers stopped");
    }
}
