//! The `eddy` binary: Eddy's server and Flux-style command-line verbs.
//!
//! `eddy serve` serves the Flux API (standalone: its own RocksDB store, TLS certificate, admin
//! token and kubeconfig in a data directory); `eddy kustomize build DIR` builds
//! kustomizations; `eddy bench storage` benchmarks the object store.

mod controllers;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's allocator: a request allocates and frees thousands of small
/// JSON values across worker threads, where glibc's arenas spent a third of the server's CPU
/// (profile of a create-heavy benchmark, docs/benchmarks.md).
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
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let running = eddy_apiserver::start(config).await?;
    let controllers = match cluster {
        Some(c) if !flags.no_controllers => {
            let cluster_config = c.config().await.context("the cluster configuration for the controllers")?;
            let client =
                kube::Client::try_from(cluster_config.clone()).context("the cluster client for the controllers")?;
            controllers::start(&flags, &data_dir, running.local.clone(), client, cluster_config, metrics).await?
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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
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
            controllers,
        } => {
            let mut config = eddy_apiserver::ServeConfig::new(data_dir);
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
            let rendered = metrics.clone();
            config.http.extra_metrics = Some(Arc::new(move || rendered.render()));
            let data_dir = config.data_dir.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime
                .block_on(serve(config, cluster, controllers, metrics))
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
    }
    Ok(())
}
