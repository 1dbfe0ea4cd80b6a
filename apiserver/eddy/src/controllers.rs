//! Running Eddy's controllers inside `eddy serve`: their flags (Flux's names and defaults),
//! the artifact storage and server, leader election, events, metrics, and the two clients —
//! the Flux API through the server's own router, in process, and the real cluster.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use eddy_artifact::digest::DigestAlgorithm;
use eddy_artifact::storage::{Storage, StorageOptions};
use eddy_controller_runtime::controller::{Config, MetricsObserver};
use eddy_controller_runtime::events::{Forwarder, Recorder, hostname};
use eddy_controller_runtime::jitter::Jitter;
use eddy_controller_runtime::leader::{LeaderElector, LeaseConfig, in_cluster_namespace};
use eddy_controller_runtime::metrics::Metrics;
use eddy_controller_runtime::queue::Backoff;
use eddy_controller_runtime::{Clients, duration};
use tokio::sync::watch;

/// The controllers Eddy can run.
pub const ALL_CONTROLLERS: &[&str] = &["gitrepository", "kustomization", "alert", "provider", "receiver"];

fn parse_duration(s: &str) -> Result<Duration, String> {
    duration::parse(s).map_err(|e| e.to_string())
}

/// Controller flags of `eddy serve` (source-controller's names and defaults where Flux has
/// them).
#[derive(Debug, Clone, Args)]
pub struct ControllerFlags {
    /// Controllers to run, comma separated (default: all).
    #[arg(long, value_delimiter = ',', default_values_t = ALL_CONTROLLERS.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())]
    pub controllers: Vec<String>,
    /// Serve the API only, no controllers.
    #[arg(long)]
    pub no_controllers: bool,
    /// Where artifacts are stored (default: `<data-dir>/artifacts`).
    #[arg(long)]
    pub storage_path: Option<PathBuf>,
    /// Address the artifact HTTP server listens on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub storage_addr: SocketAddr,
    /// `host:port` advertised in artifact URLs (default: the listening address).
    #[arg(long)]
    pub storage_adv_addr: Option<String>,
    /// How long superseded artifacts are kept.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub artifact_retention_ttl: Duration,
    /// How many artifacts per object are kept, the current one included.
    #[arg(long, default_value_t = 2)]
    pub artifact_retention_records: usize,
    /// Digest algorithm of artifacts: sha256, sha384, sha512 or blake3.
    #[arg(long, default_value = "sha256")]
    pub artifact_digest_algo: String,
    /// Concurrent reconciles per kind.
    #[arg(long, default_value_t = 2)]
    pub concurrent: usize,
    /// Wait before retrying an object whose dependency (include) is not ready.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub requeue_dependency: Duration,
    /// First retry delay after a failure.
    #[arg(long, default_value = "750ms", value_parser = parse_duration)]
    pub min_retry_delay: Duration,
    /// Longest retry delay after failures.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub max_retry_delay: Duration,
    /// Spread of periodic reconciles, in percent of the interval.
    #[arg(long, default_value_t = 5)]
    pub interval_jitter_percentage: u8,
    /// Reconcile objects in every namespace (otherwise only the runtime namespace).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_all_namespaces: bool,
    /// Reconcile only objects matching this label selector (sharding); checked at start-up
    /// with the API server's parser.
    #[arg(long, value_parser = label_selector)]
    pub watch_label_selector: Option<String>,
    /// Elect a leader among replicas with a Lease; only the leader reconciles.
    #[arg(long)]
    pub enable_leader_election: bool,
    /// Namespace of the leader election Lease (default: the in-cluster namespace, else
    /// `eddy-system`).
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// Lease duration.
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long a leader tries to renew before giving up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// Wait between election attempts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Where Flux events are also POSTed (notification-controller's address).
    #[arg(long)]
    pub events_addr: Option<String>,
    /// Kustomizations may not reference sources or dependencies in other namespaces.
    #[arg(long)]
    pub no_cross_namespace_refs: bool,
    /// Refuse remote bases in kustomizations (Eddy's engine never loads them; kept for Flux's
    /// flag set).
    #[arg(long)]
    pub no_remote_bases: bool,
    /// Service account Kustomizations without `spec.serviceAccountName` impersonate.
    #[arg(long)]
    pub default_service_account: Option<String>,
    /// Objects applied concurrently per stage by each Kustomization reconcile.
    #[arg(long, default_value_t = 4)]
    pub concurrent_ssa: usize,
    /// Where the notification event endpoint listens (notification-controller's own
    /// `--events-addr`; Flux controllers elsewhere POST their events here). Empty: in process
    /// only. Runs with the `alert` controller.
    #[arg(long, default_value = ":9091")]
    pub events_listen_addr: String,
    /// Where the Receiver webhook server listens (notification-controller's `--receiver-addr`).
    #[arg(long, default_value = ":9292")]
    pub receiver_addr: String,
    /// Interval in which a duplicate event is refused (notification-controller's
    /// `--rate-limit-interval`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub rate_limit_interval: Duration,
    /// Feature gates, `Name=true|false` comma separated (`StrictPostBuildSubstitutions`, on by
    /// default as in kustomize-controller v1.9+; `DisableFailFastBehavior`;
    /// `AdditiveCELDependencyCheck`; `ObjectLevelWorkloadIdentity`: `spec.kubeConfig.configMapRef`
    /// may name a service account, off by default as in Flux).
    #[arg(long, value_delimiter = ',')]
    pub feature_gates: Vec<String>,
}

impl ControllerFlags {
    /// Whether a feature gate is set to true (or `default` when not named).
    fn gate(&self, name: &str, default: bool) -> anyhow::Result<bool> {
        let mut value = default;
        for g in &self.feature_gates {
            let (k, v) = g.split_once('=').unwrap_or((g.as_str(), "true"));
            if k.trim() == name {
                value =
                    v.trim().parse().map_err(|_| anyhow::anyhow!("--feature-gates: {g:?} is not Name=true|false"))?;
            }
        }
        Ok(value)
    }
}

/// Running controllers.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops every controller and waits until their reconciles finished (bounded).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), t).await.is_err() {
                tracing::warn!("a controller did not stop within 30 s");
            }
        }
    }
}

/// `--watch-label-selector`: refused at start-up when the API server would refuse it.
fn label_selector(text: &str) -> Result<String, eddy_api::labels::ParseError> {
    eddy_api::labels::Selector::parse(text).map(|_| text.to_owned())
}

/// Starts the selected controllers. `local` is the API server's in-process router; `cluster`
/// a client of the real cluster; `metrics` is rendered on `/metrics` by the API server.
///
/// # Errors
/// Invalid flags, an unusable storage directory or a port that cannot be bound.
pub async fn start(
    flags: &ControllerFlags,
    data_dir: &Path,
    local: axum::Router,
    cluster: kube::Client,
    cluster_config: kube::Config,
    metrics: Metrics,
    notification_metrics: eddy_notification_controller::Metrics,
) -> anyhow::Result<Option<Running>> {
    if flags.no_controllers || flags.controllers.is_empty() {
        tracing::info!("controllers disabled: serving the API only");
        return Ok(None);
    }
    for c in &flags.controllers {
        anyhow::ensure!(
            ALL_CONTROLLERS.contains(&c.as_str()),
            "unknown controller {c:?} (known: {})",
            ALL_CONTROLLERS.join(", ")
        );
    }
    let flux = kube::Client::new(local, "default");
    let clients = Clients { flux, cluster: cluster.clone() };
    let (stop, stopped) = watch::channel(false);
    let shutdown = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = Vec::new();

    // Leadership: a Lease in the cluster, or always leading.
    let leader = if flags.enable_leader_election {
        let namespace = flags
            .leader_election_namespace
            .clone()
            .or_else(in_cluster_namespace)
            .unwrap_or_else(|| "eddy-system".to_owned());
        let mut name = "eddy-controllers-leader-election".to_owned();
        if let Some(sel) = flags.watch_label_selector.as_deref().filter(|s| !s.is_empty()) {
            // One leader per shard, as Flux suffixes its lease names.
            use sha2::Digest as _;
            let h = sha2::Sha256::digest(sel.as_bytes());
            name.push('-');
            name.push_str(&h.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>());
        }
        let mut config = LeaseConfig::new(namespace, name);
        config.lease_duration = flags.leader_election_lease_duration;
        config.renew_deadline = flags.leader_election_renew_deadline;
        config.retry_period = flags.leader_election_retry_period;
        let elector =
            LeaderElector::new(cluster.clone(), config).context("leader election")?.with_metrics(metrics.clone());
        let rx = elector.subscribe();
        tasks.push(tokio::spawn(elector.run(shutdown())));
        rx
    } else {
        watch::channel(true).1
    };

    let forwarder = match flags.events_addr.as_deref().filter(|a| !a.is_empty()) {
        Some(addr) => Some(Forwarder::new(addr).context("--events-addr")?),
        None => None,
    };
    let observer = Arc::new(MetricsObserver::new(metrics.clone()));
    let backoff = Backoff { min: flags.min_retry_delay, max: flags.max_retry_delay };
    let watch_options = eddy_source::WatchOptions {
        namespace: if flags.watch_all_namespaces {
            None
        } else {
            Some(
                std::env::var("RUNTIME_NAMESPACE")
                    .ok()
                    .or_else(in_cluster_namespace)
                    .unwrap_or_else(|| "default".into()),
            )
        },
        label_selector: flags.watch_label_selector.clone(),
    };

    let enabled = |name: &str| flags.controllers.iter().any(|c| c == name);
    // The notification pipeline first: the other controllers' recorders feed its sink.
    let notification = if ["alert", "provider", "receiver"].iter().any(|c| enabled(c)) {
        let recorder: Arc<dyn eddy_controller_runtime::recorder::EventRecorder> =
            Arc::new(Recorder::new(cluster.clone(), eddy_notification_controller::CONTROLLER_NAME, hostname(), None));
        let options = eddy_notification_controller::DispatchOptions {
            rate_limit_interval: flags.rate_limit_interval,
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
            ..eddy_notification_controller::DispatchOptions::default()
        };
        let watch = eddy_notification_controller::WatchOptions {
            namespace: watch_options.namespace.clone(),
            label_selector: watch_options.label_selector.clone(),
        };
        Some(eddy_notification_controller::Notification::new(
            clients.clone(),
            recorder,
            notification_metrics,
            options,
            watch,
        ))
    } else {
        None
    };
    let sink = notification.as_ref().filter(|_| enabled("alert")).map(eddy_notification_controller::Notification::sink);
    let with_sink = |r: Recorder| match &sink {
        Some(s) => r.with_sink(Arc::clone(s)),
        None => r,
    };

    if flags.controllers.iter().any(|c| c == "gitrepository") {
        let root = flags.storage_path.clone().unwrap_or_else(|| data_dir.join("artifacts"));
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let listener = tokio::net::TcpListener::bind(flags.storage_addr)
            .await
            .with_context(|| format!("artifact server: listening on {}", flags.storage_addr))?;
        let bound = listener.local_addr()?;
        let advertised = flags.storage_adv_addr.clone().unwrap_or_else(|| advertised_address(bound));
        let mut options = StorageOptions::new(&root, advertised.clone());
        options.digest_algorithm = DigestAlgorithm::from_str(&flags.artifact_digest_algo)
            .map_err(|e| anyhow::anyhow!("--artifact-digest-algo: {e}"))?;
        options.retention_ttl = flags.artifact_retention_ttl;
        options.retention_records = flags.artifact_retention_records;
        let storage = Storage::new(options).with_context(|| format!("artifact storage {}", root.display()))?;
        tracing::info!(addr = %bound, advertised = %advertised, root = %root.display(), "serving artifacts");
        let server_root = storage.root().to_path_buf();
        let server_shutdown = shutdown();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = eddy_artifact::server::serve(listener, &server_root, server_shutdown).await {
                tracing::error!(error = %e, "artifact server failed");
            }
        }));

        let work_dir = data_dir.join("work");
        // Checkouts of a process that was killed are garbage.
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
        let recorder = Arc::new(with_sink(Recorder::new(
            cluster.clone(),
            eddy_source::CONTROLLER_NAME,
            hostname(),
            forwarder.clone(),
        )));
        let options = eddy_source::Options {
            requeue_dependency: flags.requeue_dependency,
            jitter: Jitter::percent(flags.interval_jitter_percentage),
            work_dir,
        };
        let config =
            Config { name: "gitrepository".into(), concurrency: flags.concurrent, backoff, observer: observer.clone() };
        let controller = eddy_source::GitRepositoryController {
            clients: clients.clone(),
            storage,
            recorder,
            options,
            config,
            watch: watch_options.clone(),
        };
        tasks.push(tokio::spawn(controller.run(leader.clone(), shutdown())));
        tracing::info!(controller = "gitrepository", workers = flags.concurrent, "controller started");
    }

    if flags.controllers.iter().any(|c| c == "kustomization") {
        let work_dir = data_dir.join("work-kustomize");
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
        let recorder = Arc::new(with_sink(Recorder::new(
            cluster.clone(),
            eddy_kustomize_controller::CONTROLLER_NAME,
            hostname(),
            forwarder.clone(),
        )));
        let options = eddy_kustomize_controller::Options {
            requeue_dependency: flags.requeue_dependency,
            jitter: Jitter::percent(flags.interval_jitter_percentage),
            work_dir,
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
            no_remote_bases: flags.no_remote_bases,
            default_service_account: flags.default_service_account.clone().filter(|s| !s.is_empty()),
            strict_substitution: flags.gate("StrictPostBuildSubstitutions", true)?,
            fail_fast: !flags.gate("DisableFailFastBehavior", false)?,
            concurrent_ssa: flags.concurrent_ssa.max(1),
            additive_cel_dependency_check: flags.gate("AdditiveCELDependencyCheck", false)?,
        };
        let factory = eddy_kustomize_controller::ClientFactory::new(
            cluster_config,
            cluster.clone(),
            options.default_service_account.clone(),
        )
        .with_object_level_workload_identity(flags.gate("ObjectLevelWorkloadIdentity", false)?);
        let config =
            Config { name: "kustomization".into(), concurrency: flags.concurrent, backoff, observer: observer.clone() };
        let controller = eddy_kustomize_controller::KustomizationController {
            clients: clients.clone(),
            factory,
            recorder,
            options,
            config,
            watch: eddy_kustomize_controller::WatchOptions {
                namespace: watch_options.namespace.clone(),
                label_selector: watch_options.label_selector.clone(),
            },
        };
        tasks.push(tokio::spawn(controller.run(leader.clone(), shutdown())));
        tracing::info!(controller = "kustomization", workers = flags.concurrent, "controller started");
    }

    if let Some(notification) = notification {
        let mut parts =
            eddy_notification_controller::Parts { alert: None, provider: enabled("provider"), receiver: None };
        if enabled("alert") {
            parts.alert = Some(bind_optional("event endpoint", &flags.events_listen_addr).await);
        }
        if enabled("receiver") {
            parts.receiver = bind_optional("receiver server", &flags.receiver_addr).await;
        }
        let config =
            Config { name: "notification".into(), concurrency: flags.concurrent, backoff, observer: observer.clone() };
        tasks.push(tokio::spawn(notification.run(parts, config, leader.clone(), shutdown)));
        tracing::info!(controllers = ?["alert", "provider", "receiver"].iter().filter(|c| enabled(c)).collect::<Vec<_>>(), "notification controllers started");
    }
    Ok(Some(Running { stop, tasks }))
}

/// Binds a notification server's listener: Go's `:port` means every interface. A port that
/// cannot be bound is logged and the server does not run (several Eddys on one host must
/// not fail each other); an empty address disables it.
async fn bind_optional(what: &str, addr: &str) -> Option<tokio::net::TcpListener> {
    if addr.is_empty() {
        return None;
    }
    let addr = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_owned() };
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => {
            let bound = l.local_addr().map(|a| a.to_string()).unwrap_or(addr);
            tracing::info!(addr = %bound, "{what} listening");
            Some(l)
        }
        Err(e) => {
            tracing::error!(addr = %addr, error = %e, "{what}: cannot listen; it does not run");
            None
        }
    }
}

/// What to put in artifact URLs when no `--storage-adv-addr` is given: the listening address,
/// with an unspecified IP replaced by the host name (as Flux derives it from `$HOSTNAME`).
fn advertised_address(bound: SocketAddr) -> String {
    if bound.ip().is_unspecified() { format!("{}:{}", hostname(), bound.port()) } else { bound.to_string() }
}
