//! The `eddy` binary: Eddy's server and Flux-style command-line verbs.
//!
//! `eddy serve` serves the Flux API (standalone: its own RocksDB store, TLS certificate, admin
//! token and kubeconfig in a data directory); `eddy kustomize build DIR` builds
//! kustomizations; `eddy helm template [NAME] CHART` renders charts as `helm template`;
//! `eddy bench storage` benchmarks the object store.

mod controllers;
mod helm;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's allocator: a request allocates and frees thousands of small
/// JSON values across worker threads, where glibc's arenas spent a third of the server's CPU
/// (profile of a create-heavy benchmark, docs/benchmarks.md). The `system-allocator` feature
/// keeps glibc's, so that heap profilers that interpose `malloc` (heaptrack, valgrind) see
/// every allocation: `cargo build --release -p eddy --features system-allocator`.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "eddy", version, about = "Flux, rebuilt as a Kubernetes aggregated API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing would not help anyone")]
enum Command {
    /// Serve the Flux API. With no flags: a RocksDB store, a self-signed serving certificate,
    /// an admin bearer token and a ready kubeconfig, all in the data directory (kept across
    /// restarts), listening on 127.0.0.1:6443.
    Serve {
        /// Where the store, credentials and kubeconfig live.
        #[arg(long, default_value = ".eddy-data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind_address: IpAddr,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 6443)]
        secure_port: u16,
        /// Serving certificate chain (PEM); needs --tls-private-key-file.
        #[arg(long, requires = "tls_private_key_file")]
        tls_cert_file: Option<PathBuf>,
        /// Private key of the serving certificate (PEM); needs --tls-cert-file.
        #[arg(long, requires = "tls_cert_file")]
        tls_private_key_file: Option<PathBuf>,
        /// File holding the admin bearer token (generated in the data directory otherwise).
        #[arg(long, conflicts_with = "aggregated")]
        token_file: Option<PathBuf>,
        /// Serve as an aggregated API server behind the cluster's kube-apiserver: requests are
        /// authenticated (front proxy, client certificates, TokenReview) and authorized
        /// (SubjectAccessReview) by the cluster, which also owns the namespaces.
        #[arg(long)]
        aggregated: bool,
        /// Kubeconfig of Eddy's identity in the cluster. Aggregated mode: without it, the
        /// in-cluster service account or $KUBECONFIG. Standalone: the cluster the controllers
        /// read Secrets from, write Events to and apply to (no controllers without one).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitFlags,
        #[command(flatten)]
        controllers: controllers::ControllerFlags,
    },
    /// Run a benchmark and print its figures as Markdown.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Kustomize, built in.
    Kustomize {
        #[command(subcommand)]
        what: Kustomize,
    },
    /// Helm's chart rendering, built in (no Helm, no cluster).
    Helm {
        #[command(subcommand)]
        what: helm::Helm,
    },
}

/// Overload protection of `eddy serve` (kube-apiserver's flags and defaults).
#[derive(clap::Args)]
struct LimitFlags {
    /// Read-only requests (GET, LIST) served at a time; more are answered 429 with
    /// Retry-After. Watches are exempt. 0: no limit.
    #[arg(long, default_value_t = 400)]
    max_requests_inflight: usize,
    /// Mutating requests (POST, PUT, PATCH, DELETE) served at a time; more are answered 429
    /// with Retry-After. 0: no limit.
    #[arg(long, default_value_t = 200)]
    max_mutating_requests_inflight: usize,
    /// Time a request other than a watch gets to produce its answer before a 504, e.g. 60s, 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    request_timeout: std::time::Duration,
    /// Time a client gets for its TLS handshake and each request's headers (slow clients).
    #[arg(long, default_value = "32s", value_parser = parse_duration)]
    header_read_timeout: std::time::Duration,
    /// A connection with no request in progress for this long is closed.
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    idle_timeout: std::time::Duration,
    /// Concurrent streams (requests) one HTTP/2 connection may open.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    http2_max_streams_per_connection: u32,
    /// Watches open at a time; more are answered 429. 0: no limit.
    #[arg(long, default_value_t = eddy_apiserver::http::DEFAULT_MAX_WATCHES)]
    max_watches: usize,
}

impl LimitFlags {
    fn apply(&self, config: &mut eddy_apiserver::ServeConfig) {
        config.limits = eddy_apiserver::Limits {
            max_requests_inflight: self.max_requests_inflight,
            max_mutating_requests_inflight: self.max_mutating_requests_inflight,
            request_timeout: self.request_timeout,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            http2_max_streams_per_connection: self.http2_max_streams_per_connection,
        };
        config.http.max_watches = self.max_watches;
    }
}

/// A duration as kube-apiserver's flags take it (Go's syntax: `60s`, `1m30s`, `500ms`). Zero
/// and negative durations are refused (they would refuse every request or connection).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match eddy_apiserver::duration::parse_go_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{text:?} is not a positive duration such as 60s, 1m30s or 500ms")),
    }
}

#[derive(Subcommand)]
enum Kustomize {
    /// Build a kustomization directory and print the resulting YAML, as `kustomize build` does.
    Build {
        /// The directory holding kustomization.yaml.
        dir: PathBuf,
        /// Which files a kustomization may read.
        #[arg(long, value_enum, default_value_t = LoadRestrictor::LoadRestrictionsRootOnly)]
        load_restrictor: LoadRestrictor,
        /// With LoadRestrictionsNone: the directory nothing may be read outside of (as Flux
        /// confines a build to its source artifact). Defaults to `/`.
        #[arg(long)]
        boundary: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum LoadRestrictor {
    /// Files only from the kustomization's own directory tree (kustomize's default).
    LoadRestrictionsRootOnly,
    /// Files from anywhere inside `--boundary`.
    LoadRestrictionsNone,
}

#[derive(Subcommand)]
enum Bench {
    /// The object store: writes, lists, gets, watch fan-out, memory, disk, reopen.
    Storage {
        /// Directory for the temporary store.
        #[arg(long, default_value_os_t = std::env::temp_dir())]
        dir: PathBuf,
        /// Number of objects.
        #[arg(long, default_value_t = 100_000)]
        objects: usize,
        /// Number of namespaces.
        #[arg(long, default_value_t = 1_000)]
        namespaces: usize,
        /// Watchers on every namespace.
        #[arg(long, default_value_t = 10)]
        all_namespace_watchers: usize,
        /// Watchers on one namespace each.
        #[arg(long, default_value_t = 990)]
        namespace_watchers: usize,
        /// Updates per second during the watch phase.
        #[arg(long, default_value_t = 2_000)]
        update_rate: u64,
        /// Seconds of the watch phase.
        #[arg(long, default_value_t = 10)]
        watch_seconds: u64,
        /// Stop after the durable creates (to profile the write path alone).
        #[arg(long)]
        writes_only: bool,
    },
}

/// `eddy serve`: the API server, then the controllers (when there is a cluster), until Ctrl-C
/// or SIGTERM; controllers stop first, so their last writes still reach the store.
async fn serve(
    config: eddy_apiserver::ServeConfig,
    cluster: Option<eddy_apiserver::serve::AggregatedConfig>,
    flags: controllers::ControllerFlags,
    metrics: eddy_controller_runtime::metrics::Metrics,
    notification_metrics: eddy_notification_controller::Metrics,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let running = eddy_apiserver::start(config).await?;
    let controllers = match cluster {
        Some(c) if !flags.no_controllers => {
            let cluster_config = c.config().await.context("the cluster configuration for the controllers")?;
            let client =
                kube::Client::try_from(cluster_config.clone()).context("the cluster client for the controllers")?;
            controllers::start(
                &flags,
                &data_dir,
                running.local.clone(),
                client,
                cluster_config,
                metrics,
                notification_metrics,
            )
            .await?
        }
        _ => {
            if !flags.no_controllers {
                tracing::info!("no cluster (--aggregated or --kubeconfig): the controllers do not run");
            }
            None
        }
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(c) = controllers {
        c.shutdown().await;
    }
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// No transparent huge pages for this process, unless `MIMALLOC_ALLOW_THP` says otherwise.
///
/// mimalloc advises huge pages for its arenas by default (`allow_thp`), so with the kernel's
/// usual `madvise` THP mode every 2 MiB of its heap that is touched at all becomes resident as
/// a whole: in the GitRepository benchmark 127 of Eddy's 150 MiB of anonymous memory were huge
/// pages, most of them barely used after the creation burst. The flag is the process's (the
/// kernel checks it at each fault), so it also covers the arena mimalloc reserved before
/// `main`; mimalloc itself sets it only when `MIMALLOC_ALLOW_THP=0` is in the environment.
fn disable_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "could not disable transparent huge pages");
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    disable_transparent_huge_pages();
    match Cli::parse().command {
        Command::Serve {
            data_dir,
            bind_address,
            secure_port,
            tls_cert_file,
            tls_private_key_file,
            token_file,
            aggregated,
            kubeconfig,
            limits,
            controllers,
        } => {
            let mut config = eddy_apiserver::ServeConfig::new(data_dir);
            limits.apply(&mut config);
            config.bind_address = bind_address;
            config.secure_port = secure_port;
            config.tls_cert_file = tls_cert_file;
            config.tls_key_file = tls_private_key_file;
            config.token_file = token_file;
            let cluster =
                (aggregated || kubeconfig.is_some()).then(|| eddy_apiserver::serve::AggregatedConfig::new(kubeconfig));
            if aggregated {
                config.aggregated.clone_from(&cluster);
            }
            let metrics = eddy_controller_runtime::metrics::Metrics::new();
            let notification_metrics = eddy_notification_controller::Metrics::default();
            let rendered = (metrics.clone(), notification_metrics.clone());
            config.http.extra_metrics = Some(Arc::new(move || rendered.0.render() + &rendered.1.render()));
            let data_dir = config.data_dir.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime
                .block_on(serve(config, cluster, controllers, metrics, notification_metrics))
                .with_context(|| format!("eddy serve (data directory {})", data_dir.display()))?;
        }
        Command::Bench {
            what:
                Bench::Storage {
                    dir,
                    objects,
                    namespaces,
                    all_namespace_watchers,
                    namespace_watchers,
                    update_rate,
                    watch_seconds,
                    writes_only,
                },
        } => {
            anyhow::ensure!(objects > 0 && namespaces > 0, "--objects and --namespaces must be positive");
            let config = eddy_storage_bench::Config {
                dir,
                objects,
                namespaces,
                all_namespace_watchers,
                namespace_watchers,
                update_rate,
                watch_seconds,
                writes_only,
            };
            let report = eddy_storage_bench::run(&config).context("storage benchmark failed")?;
            println!("{}", report.to_markdown(&config));
        }
        Command::Kustomize { what: Kustomize::Build { dir, load_restrictor, boundary } } => {
            let options = match load_restrictor {
                LoadRestrictor::LoadRestrictionsRootOnly => eddy_kustomize::BuildOptions::default(),
                LoadRestrictor::LoadRestrictionsNone => eddy_kustomize::BuildOptions {
                    boundary: Some(boundary.unwrap_or_else(|| PathBuf::from("/"))),
                    load_restrictions: eddy_kustomize::LoadRestrictions::BoundaryOnly,
                    ..eddy_kustomize::BuildOptions::default()
                },
            };
            let yaml = eddy_kustomize::build(&dir, &options).with_context(|| format!("building {}", dir.display()))?;
            print!("{yaml}");
        }
        Command::Helm { what } => helm::run(what)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_read_as_kube_flags_do() {
        assert_eq!(super::parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(super::parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(super::parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(super::parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(super::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0", "0s", "45", "s", "10x", "-1s", "99999999999999999999h"] {
            assert!(super::parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_malformed_watch_label_selector_is_refused_at_start_up() {
        use clap::Parser as _;
        let parse = |sel: &str| super::Cli::try_parse_from(["eddy", "serve", "--watch-label-selector", sel]);
        assert!(parse("sharding.fluxcd.io/key in (shard1,shard2)").is_ok());
        let err = parse("sharding.fluxcd.io/key in shard1").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("--watch-label-selector") && err.contains("expected a (set)"), "{err}");
    }
}
