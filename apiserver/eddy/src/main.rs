//! The `eddy` binary: Eddy's server and Flux-style command-line verbs.
//!
//! Today it runs benchmarks (`eddy bench storage`) and builds kustomizations
//! (`eddy kustomize build DIR`); `eddy serve` arrives with the API server.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "eddy", version, about = "Flux, rebuilt as a Kubernetes aggregated API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
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
