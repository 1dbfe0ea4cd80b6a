//! `eddy-bench`: benchmark drivers for Eddy's HTTP API (figures in `docs/benchmarks.md`).
//!
//! - `api`: issue 4's workload against one server (`eddy serve` spawned here, or any
//!   kubeconfig): creates, full and paginated lists, one-namespace lists, watch lag, peak RSS.
//! - `side-by-side`: issue 5's comparison of the upstream CRDs on kube-apiserver + etcd, Eddy
//!   behind the same kube-apiserver and Eddy direct.
//! - `ssa`: issue 6's server-side apply benchmark.
//! - `git-repositories`: issue 17's GitRepository benchmark, Flux's source-controller and Eddy
//!   side by side (`gitrepo`).
//! - `kustomizations`: issue 18's Kustomization benchmark, Flux's kustomize-controller and Eddy
//!   side by side (`ksbench`).
//! - `reads-under-lists`: issue 22's p50/p99 of small requests (point GETs, one-namespace
//!   LISTs) while other clients run full LISTs of 100,000 objects in a loop (`reads`).
//! - `flux-smoke`: a GitRepository reaches Ready on a cluster and its artifact checks out (the
//!   reference cluster's smoke test, `smoke`).
//!
//! Every request is a raw HTTP request through `kube::Client` with a prebuilt JSON body; every
//! list is read to its last byte and checked for the exact set of objects.

mod api;
mod conn;
mod crd;
mod gitrepo;
mod ksbench;
mod reads;
mod side;
mod smoke;
mod ssa;
mod workload;

/// The client shares the 2 cores with the server it measures: keep its allocations cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "eddy-bench", about = "Benchmarks of Eddy's HTTP API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Issue 4: the API workload against one server.
    Api {
        /// Kubeconfig of the server to measure (its group kustomize.toolkit.fluxcd.io must be empty).
        #[arg(long, conflicts_with = "spawn", required_unless_present = "spawn")]
        server_kubeconfig: Option<PathBuf>,
        /// Start `eddy serve` from this binary on a fresh data directory and a free port instead.
        #[arg(long)]
        spawn: Option<PathBuf>,
        /// With --server-kubeconfig: the server's pid, for its peak RSS.
        #[arg(long)]
        server_pid: Option<u32>,
        /// API group of the Kustomizations (v1).
        #[arg(long, default_value = "kustomize.toolkit.fluxcd.io")]
        group: String,
        /// Delete every object of the group when done.
        #[arg(long)]
        cleanup: bool,
        #[command(flatten)]
        workload: WorkloadArgs,
    },
    /// Issue 5: CRDs on kube-apiserver + etcd versus Eddy behind it versus Eddy direct.
    SideBySide {
        /// Admin kubeconfig of the cluster (kube-apiserver with Eddy registered as APIServices).
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Kubeconfig that reaches Eddy on its own port (column "Eddy direct"; skipped without).
        #[arg(long)]
        eddy_direct_kubeconfig: Option<PathBuf>,
        /// The cluster's state directory (pid files of kube-apiserver, etcd and eddy).
        #[arg(long, env = "EDDY_CLUSTER_DIR")]
        cluster_dir: PathBuf,
        /// The shared reference data (upstream CRDs).
        #[arg(long, default_value = "../shared")]
        shared_dir: PathBuf,
        /// Object counts, ascending; each target grows through them.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        /// Targets, in the order run (the CRD's objects are deleted asynchronously at its end, so it goes last).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "direct,aggregated,crd")]
        targets: Vec<side::Kind>,
        /// Smoke-test scale: 2,000 objects over 100 namespaces, 100 watchers, 3 s of updates, one list each.
        #[arg(long)]
        quick: bool,
        #[command(flatten)]
        workload: WorkloadArgs,
    },
    /// Issue 6: server-side apply of HelmReleases by two field managers.
    Ssa {
        /// Admin kubeconfig of a kube-apiserver: the upstream HelmRelease CRD is installed under
        /// a renamed group and measured.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Kubeconfig of an Eddy (standalone, or a cluster with Eddy's APIServices): measured
        /// on helm.toolkit.fluxcd.io/v2.
        #[arg(long, conflicts_with = "spawn")]
        eddy_kubeconfig: Option<PathBuf>,
        /// Start `eddy serve` from this binary and measure it.
        #[arg(long)]
        spawn: Option<PathBuf>,
        /// The shared reference data (upstream CRDs).
        #[arg(long, default_value = "../shared")]
        shared_dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        applies: usize,
        #[arg(long, default_value_t = 100)]
        objects: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value = "bench-ssa")]
        namespace: String,
    },
    /// Issue 17: GitRepositories on Flux's cluster (source-controller) and on Eddy's, one after the other.
    GitRepositories {
        /// Admin kubeconfig of the Flux cluster (`hack/cluster up --flux`).
        #[arg(long, requires = "flux_cluster_dir")]
        flux_kubeconfig: Option<PathBuf>,
        /// Its state directory (pid files of source-controller, kustomize-controller, kube-apiserver, etcd).
        #[arg(long)]
        flux_cluster_dir: Option<PathBuf>,
        /// Admin kubeconfig of Eddy's cluster (`hack/cluster up --eddy`; through kube-apiserver).
        #[arg(long, requires = "eddy_cluster_dir")]
        eddy_kubeconfig: Option<PathBuf>,
        /// Its state directory (pid files of eddy, kube-apiserver, etcd).
        #[arg(long)]
        eddy_cluster_dir: Option<PathBuf>,
        /// Which side runs first.
        #[arg(long, value_delimiter = ',', default_value = "flux,eddy")]
        order: Vec<String>,
        #[arg(long, default_value_t = 1_000)]
        objects: usize,
        #[arg(long, default_value_t = 10)]
        repos: usize,
        #[arg(long, default_value = "1m")]
        interval: String,
        /// Length of the steady-state phase.
        #[arg(long, default_value_t = 300)]
        steady_seconds: u64,
        #[arg(long, default_value = "bench-git")]
        namespace: String,
        /// Concurrent creates (and annotations).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Bound of every wait for all objects to be Ready.
        #[arg(long, default_value_t = 1_200)]
        ready_timeout_seconds: u64,
        /// Skip the push + requestedAt phase.
        #[arg(long)]
        no_requested_at: bool,
    },
    /// Issue 18: Kustomizations on Flux's cluster (kustomize-controller) and on Eddy's, one after the other.
    Kustomizations {
        /// Admin kubeconfig of the Flux cluster (`hack/cluster up --flux`).
        #[arg(long, requires = "flux_cluster_dir")]
        flux_kubeconfig: Option<PathBuf>,
        /// Its state directory (pid files of source-controller, kustomize-controller, kube-apiserver, etcd).
        #[arg(long)]
        flux_cluster_dir: Option<PathBuf>,
        /// Admin kubeconfig of Eddy's cluster (`hack/cluster up --eddy`; through kube-apiserver).
        #[arg(long, requires = "eddy_cluster_dir")]
        eddy_kubeconfig: Option<PathBuf>,
        /// Its state directory (pid files of eddy, kube-apiserver, etcd).
        #[arg(long)]
        eddy_cluster_dir: Option<PathBuf>,
        /// Which side runs first.
        #[arg(long, value_delimiter = ',', default_value = "flux,eddy")]
        order: Vec<String>,
        /// Kustomizations.
        #[arg(long, default_value_t = 1_000)]
        objects: usize,
        /// Repositories (one GitRepository each); Kustomization i builds repository i mod this.
        #[arg(long, default_value_t = 10)]
        repos: usize,
        /// `spec.interval` of the Kustomizations.
        #[arg(long, default_value = "5m")]
        interval: String,
        /// `spec.interval` of the GitRepositories.
        #[arg(long, default_value = "1m")]
        source_interval: String,
        /// Length of the steady-state phase.
        #[arg(long, default_value_t = 300)]
        steady_seconds: u64,
        #[arg(long, default_value = "bench-ks")]
        namespace: String,
        /// Concurrent creates.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Bound of every wait for all objects to be Ready.
        #[arg(long, default_value_t = 900)]
        ready_timeout_seconds: u64,
        /// A service account (bound to cluster-admin in the namespace) the Kustomizations impersonate.
        #[arg(long)]
        service_account: Option<String>,
        /// The command line to print in the report.
        #[arg(long, env = "EDDY_BENCH_COMMAND", default_value = "eddy-bench kustomizations")]
        command: String,
    },
    /// Issue 22: small requests (point GETs, one-namespace LISTs) while full LISTs run in a loop.
    ReadsUnderLists {
        /// Start `eddy serve` from this binary on a fresh data directory and a free port.
        #[arg(long)]
        spawn: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        objects: usize,
        #[arg(long, default_value_t = 10_000)]
        namespaces: usize,
        /// Concurrent creates.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 2)]
        list_loopers: usize,
        #[arg(long, default_value_t = 4)]
        small_clients: usize,
        /// Small requests per phase (quiet, then under full lists).
        #[arg(long, default_value_t = 20_000)]
        small_requests: usize,
        /// Bound of the loaded phase.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// A GitRepository from a local git server reaches Ready on a cluster; its artifact checks out.
    FluxSmoke {
        /// Admin kubeconfig of the cluster (the Flux one: `hack/cluster up --flux`).
        #[arg(long)]
        kubeconfig: PathBuf,
        #[arg(long, default_value = "flux-smoke")]
        namespace: String,
        /// Bound of each wait.
        #[arg(long, default_value_t = 180)]
        timeout_seconds: u64,
    },
}

/// The workload knobs; defaults are issue 4's.
#[derive(Args, Clone)]
struct WorkloadArgs {
    /// Objects (api only; side-by-side uses --sizes).
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    #[arg(long)]
    namespaces: Option<usize>,
    /// Concurrent creates (and status writes).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Skip the status writes after the creates.
    #[arg(long)]
    no_status: bool,
    #[arg(long, default_value_t = 500)]
    page_size: usize,
    #[arg(long)]
    list_repeats: Option<usize>,
    #[arg(long, default_value_t = 200)]
    namespace_lists: usize,
    /// Watchers on one namespace each.
    #[arg(long)]
    namespace_watchers: Option<usize>,
    /// Watchers on all namespaces.
    #[arg(long)]
    all_namespace_watchers: Option<usize>,
    /// Updates per second during the watch phase.
    #[arg(long, default_value_t = 1_000)]
    update_rate: u64,
    #[arg(long)]
    watch_seconds: Option<u64>,
    /// Concurrent updaters during the watch phase.
    #[arg(long, default_value_t = 64)]
    update_concurrency: usize,
}

impl WorkloadArgs {
    fn workload(&self, quick: bool) -> api::Workload {
        let (ns, nsw, allw, secs, reps) = if quick { (100, 90, 10, 3, 1) } else { (1_000, 990, 10, 10, 3) };
        api::Workload {
            objects: self.objects,
            namespaces: self.namespaces.unwrap_or(ns),
            concurrency: self.concurrency,
            status: !self.no_status,
            page_size: self.page_size,
            list_repeats: self.list_repeats.unwrap_or(reps),
            namespace_lists: self.namespace_lists,
            namespace_watchers: self.namespace_watchers.unwrap_or(nsw),
            all_namespace_watchers: self.all_namespace_watchers.unwrap_or(allw),
            update_rate: self.update_rate,
            watch_seconds: self.watch_seconds.unwrap_or(secs),
            update_concurrency: self.update_concurrency,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async_main(cli))
}

async fn async_main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Api { server_kubeconfig, spawn, server_pid, group, cleanup, workload } => {
            let wl = workload.workload(false);
            let report = run_api(server_kubeconfig, spawn, server_pid, &group, cleanup, &wl).await?;
            println!("{report}");
        }
        Command::SideBySide {
            kubeconfig,
            eddy_direct_kubeconfig,
            cluster_dir,
            shared_dir,
            sizes,
            targets,
            quick,
            workload,
        } => {
            let wl = workload.workload(quick);
            wl.validate()?;
            let sizes = if quick { vec![2_000] } else { sizes };
            let config = side::Config {
                kubeconfig,
                direct_kubeconfig: eddy_direct_kubeconfig,
                cluster_dir,
                shared_dir,
                sizes,
                targets,
                workload: wl,
            };
            println!("{}", side::run(&config).await?);
        }
        Command::Ssa { kubeconfig, eddy_kubeconfig, spawn, shared_dir, applies, objects, concurrency, namespace } => {
            let config = ssa::Config { applies, objects, concurrency, namespace };
            if kubeconfig.is_none() && eddy_kubeconfig.is_none() && spawn.is_none() {
                bail!("give --kubeconfig (CRDs on kube-apiserver), --eddy-kubeconfig or --spawn (Eddy), or both");
            }
            let mut out = format!(
                "{} applies of a HelmRelease by two managers over {} objects, concurrency {}\n\n{}",
                config.applies,
                config.objects,
                config.concurrency,
                ssa::markdown_header()
            );
            if let Some(k) = &kubeconfig {
                let client = conn::connect(k).await?;
                let group = crd::install(&client, &shared_dir, "helm.toolkit.fluxcd.io", "helmreleases").await?;
                let target = ssa::Target { client: client.clone(), group: group.clone(), version: "v2".into() };
                let outcome = ssa::run(&target, &config, "CRD").await?;
                eprintln!("CRD: {outcome:?}");
                out.push_str(&ssa::markdown("kube-apiserver + etcd, upstream CRD (renamed group)", &outcome, &config));
                crd::remove(&client, &format!("helmreleases.{group}")).await?;
            }
            let mut spawned = None;
            let eddy_client = match (&eddy_kubeconfig, &spawn) {
                (Some(k), _) => Some(conn::connect(k).await?),
                (None, Some(bin)) => {
                    let (s, client) = conn::SpawnedEddy::start(bin).await?;
                    spawned = Some(s);
                    Some(client)
                }
                (None, None) => None,
            };
            if let Some(client) = eddy_client {
                let target = ssa::Target { client, group: "helm.toolkit.fluxcd.io".into(), version: "v2".into() };
                let outcome = ssa::run(&target, &config, "Eddy").await?;
                eprintln!("Eddy: {outcome:?}");
                out.push_str(&ssa::markdown("Eddy", &outcome, &config));
            }
            drop(spawned);
            println!("{out}");
        }
        Command::GitRepositories {
            flux_kubeconfig,
            flux_cluster_dir,
            eddy_kubeconfig,
            eddy_cluster_dir,
            order,
            objects,
            repos,
            interval,
            steady_seconds,
            namespace,
            concurrency,
            ready_timeout_seconds,
            no_requested_at,
        } => {
            let mut sides = Vec::new();
            for name in &order {
                let side = match name.as_str() {
                    "flux" => flux_kubeconfig
                        .as_ref()
                        .zip(flux_cluster_dir.as_ref())
                        .map(|(k, d)| side_of("Flux", k, d, &["source-controller", "kustomize-controller"])),
                    "eddy" => eddy_kubeconfig
                        .as_ref()
                        .zip(eddy_cluster_dir.as_ref())
                        .map(|(k, d)| side_of("Eddy", k, d, &["eddy"])),
                    other => bail!("unknown side {other:?} (flux, eddy)"),
                };
                if let Some(side) = side {
                    sides.push(side?);
                }
            }
            if sides.is_empty() {
                bail!("give --flux-kubeconfig/--flux-cluster-dir, --eddy-kubeconfig/--eddy-cluster-dir, or both");
            }
            let config = gitrepo::Config {
                sides,
                objects,
                repos,
                interval,
                steady: std::time::Duration::from_secs(steady_seconds),
                namespace,
                concurrency,
                ready_timeout: std::time::Duration::from_secs(ready_timeout_seconds),
                requested_at: !no_requested_at,
            };
            println!("{}", gitrepo::run(&config).await?);
        }
        Command::Kustomizations {
            flux_kubeconfig,
            flux_cluster_dir,
            eddy_kubeconfig,
            eddy_cluster_dir,
            order,
            objects,
            repos,
            interval,
            source_interval,
            steady_seconds,
            namespace,
            concurrency,
            ready_timeout_seconds,
            service_account,
            command,
        } => {
            let mut sides = Vec::new();
            for name in &order {
                let side = match name.as_str() {
                    "flux" => flux_kubeconfig
                        .as_ref()
                        .zip(flux_cluster_dir.as_ref())
                        .map(|(k, d)| side_of("Flux", k, d, &["source-controller", "kustomize-controller"])),
                    "eddy" => eddy_kubeconfig
                        .as_ref()
                        .zip(eddy_cluster_dir.as_ref())
                        .map(|(k, d)| side_of("Eddy", k, d, &["eddy"])),
                    other => bail!("unknown side {other:?} (flux, eddy)"),
                };
                if let Some(side) = side {
                    sides.push(side?);
                }
            }
            if sides.is_empty() {
                bail!("give --flux-kubeconfig/--flux-cluster-dir, --eddy-kubeconfig/--eddy-cluster-dir, or both");
            }
            let config = ksbench::Config {
                sides,
                objects,
                repos,
                interval,
                source_interval,
                steady: std::time::Duration::from_secs(steady_seconds),
                namespace,
                concurrency,
                ready_timeout: std::time::Duration::from_secs(ready_timeout_seconds),
                service_account,
                command,
            };
            println!("{}", ksbench::run(&config).await?);
        }
        Command::ReadsUnderLists {
            spawn,
            objects,
            namespaces,
            concurrency,
            list_loopers,
            small_clients,
            small_requests,
            max_seconds,
        } => {
            let config = reads::Config {
                objects,
                namespaces,
                concurrency,
                list_loopers,
                small_clients,
                small_requests,
                max_seconds,
            };
            let (server, client) = conn::SpawnedEddy::start(&spawn).await?;
            let target = api::Target::kustomizations(client, "kustomize.toolkit.fluxcd.io");
            let figures = reads::run(&target, &config).await?;
            drop(server);
            println!(
                "Server: `{} serve` (standalone, spawned).\n\n{}",
                spawn.display(),
                reads::markdown(&figures, &config)
            );
        }
        Command::FluxSmoke { kubeconfig, namespace, timeout_seconds } => {
            let summary = smoke::run(&kubeconfig, &namespace, std::time::Duration::from_secs(timeout_seconds)).await?;
            println!("{summary}");
        }
    }
    Ok(())
}

/// A benchmark side from a `hack/cluster` state directory: `measured` processes, and the
/// cluster's kube-apiserver and etcd for context.
fn side_of(
    name: &str,
    kubeconfig: &std::path::Path,
    dir: &std::path::Path,
    measured: &[&str],
) -> anyhow::Result<gitrepo::Side> {
    let pids = |names: &[&str]| -> anyhow::Result<gitrepo::Procs> {
        let mut v = Vec::new();
        for n in names {
            let pid = conn::read_pid(&dir.join("pids").join(format!("{n}.pid")))
                .with_context(|| format!("{name}: is {n} running in {}?", dir.display()))?;
            v.push(((*n).to_owned(), pid));
        }
        Ok(gitrepo::Procs(v))
    };
    Ok(gitrepo::Side {
        name: name.to_owned(),
        kubeconfig: kubeconfig.to_owned(),
        procs: pids(measured)?,
        context: pids(&["kube-apiserver", "etcd"])?,
    })
}

/// Runs issue 4's workload and returns the Markdown report.
async fn run_api(
    server_kubeconfig: Option<PathBuf>,
    spawn: Option<PathBuf>,
    server_pid: Option<u32>,
    group: &str,
    cleanup: bool,
    wl: &api::Workload,
) -> anyhow::Result<String> {
    wl.validate()?;
    let mut spawned = None;
    let (client, pid, server) = match (server_kubeconfig, spawn) {
        (Some(k), _) => (conn::connect(&k).await?, server_pid, k.display().to_string()),
        (None, Some(bin)) => {
            let (s, client) = conn::SpawnedEddy::start(&bin).await?;
            let pid = s.pid;
            spawned = Some(s);
            (client, Some(pid), format!("`{} serve` (standalone, spawned)", bin.display()))
        }
        (None, None) => bail!("give --server-kubeconfig or --spawn"),
    };
    let target = api::Target::kustomizations(client.clone(), group);
    api::ensure_namespaces(&client, wl.namespaces).await.context("creating namespaces")?;
    let existing = api::count_objects(&target).await?;
    if existing > 0 {
        bail!("{} already holds {existing} objects of {group}; the benchmark needs an empty one", server);
    }
    let sampler = api::MemorySampler::start(pid.map(|p| vec![("server".to_owned(), p)]).unwrap_or_default());
    let figures = api::run_at_size(&target, wl, 0, "api").await?;
    let sampled = sampler.finish().await;
    let memory = pid.and_then(conn::proc_memory_kib);
    if cleanup {
        api::delete_all(&target, wl.namespaces).await?;
    }
    drop(spawned);
    let mut s = format!(
        "Server: {server}. {} Kustomizations over {} namespaces.\n\n| measure | result | target (issue 4) |\n|---|---|---|\n",
        wl.objects, wl.namespaces
    );
    let target_for = |row: &str| -> &str {
        if row.starts_with("| creates") {
            "≥ 5,000 /s"
        } else if row.starts_with("| full LIST") {
            "≤ 2 s (100,000)"
        } else if row.starts_with("| watch") {
            "p99 ≤ 50 ms"
        } else {
            "—"
        }
    };
    for row in api::markdown_rows(&figures, wl).lines() {
        s.push_str(row);
        s.push_str(&format!(" {} |\n", target_for(row)));
    }
    match memory {
        Some((rss, hwm)) => s.push_str(&format!(
            "| server peak RSS (VmHWM; sampled max {:.0} MiB; RSS at the end {:.0} MiB) | {:.0} MiB | ≤ 500 MiB |\n",
            sampled.get("server").copied().unwrap_or(0) as f64 / 1024.0,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        )),
        None => s.push_str("| server peak RSS | not measured (no pid) | ≤ 500 MiB |\n"),
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The debug `eddy` next to this test binary (`cargo test --workspace --all-targets`
    /// builds it into the same target directory).
    fn debug_eddy() -> PathBuf {
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target directory");
        let eddy = dir.join(format!("eddy{}", std::env::consts::EXE_SUFFIX));
        assert!(
            eddy.exists(),
            "{} is missing: build it first (cargo test --workspace --all-targets builds it; or cargo build -p eddy)",
            eddy.display()
        );
        eddy
    }

    /// The api benchmark at tiny scale against a spawned debug `eddy serve`: every count and
    /// every delivery is checked, never the time taken.
    #[test]
    fn api_benchmark_runs_against_eddy_serve() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let (server, client) = conn::SpawnedEddy::start(&debug_eddy()).await.unwrap();
            let wl = api::Workload {
                objects: 200,
                namespaces: 20,
                concurrency: 8,
                status: true,
                page_size: 30,
                list_repeats: 2,
                namespace_lists: 20,
                namespace_watchers: 18,
                all_namespace_watchers: 2,
                update_rate: 100,
                watch_seconds: 2,
                update_concurrency: 4,
            };
            let target = api::Target::kustomizations(client.clone(), "kustomize.toolkit.fluxcd.io");
            let f = api::run_at_size(&target, &wl, 0, "smoke").await.unwrap();
            assert_eq!(f.create.count, 200);
            assert_eq!(f.status.as_ref().map(|s| s.count), Some(200));
            assert_eq!(f.full.ms.len(), 2);
            assert_eq!(f.paged.pages, 7, "200 objects in pages of 30");
            let w = f.watch.expect("watch phase ran");
            assert_eq!(w.watchers, 20);
            assert_eq!((w.updates, w.failed_updates), (200, 0));
            // 2 watchers see every update, 18 see their namespace's 10 each.
            assert_eq!(w.expected, 2 * 200 + 18 * 10);
            assert_eq!(w.delivered, w.expected, "every watcher got every update due to it");
            assert_eq!(w.ended_early, 0, "no watch stream ended before its last update");
            // A stored object has the status written after its creation and the last stamp.
            let body = conn::expect(
                &client,
                http::Method::GET,
                &target.object("team-0003", "app-000003"),
                None,
                Vec::new(),
                &[http::StatusCode::OK],
            )
            .await
            .unwrap();
            let obj: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(obj["status"]["inventory"]["entries"].as_array().map(Vec::len), Some(5));
            assert!(obj["metadata"]["annotations"][workload::SENT_ANNOTATION].is_string());
            let (rss, hwm) = conn::proc_memory_kib(server.pid).expect("server memory");
            assert!(rss > 0 && hwm >= rss);
            api::delete_all(&target, wl.namespaces).await.unwrap();
            assert_eq!(api::count_objects(&target).await.unwrap(), 0);
        });
    }
}
