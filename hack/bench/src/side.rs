//! Issue 5: the same workload against (a) the upstream Flux CRDs in kube-apiserver + etcd under
//! a renamed group, (b) Eddy behind the same kube-apiserver (aggregated) and (c) Eddy direct,
//! at growing object counts, with the memory of kube-apiserver + etcd versus Eddy.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::api::{self, Figures, MemorySampler, Target, Workload};
use crate::{conn, crd};

const GROUP: &str = "kustomize.toolkit.fluxcd.io";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Kind {
    /// The upstream CRDs (renamed group) in kube-apiserver + etcd.
    Crd,
    /// Eddy through kube-apiserver's aggregator.
    Aggregated,
    /// Eddy, straight to its own port.
    Direct,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Crd => "CRDs on etcd",
            Kind::Aggregated => "Eddy behind kube-apiserver",
            Kind::Direct => "Eddy direct",
        }
    }
}

pub struct Config {
    pub kubeconfig: PathBuf,
    pub direct_kubeconfig: Option<PathBuf>,
    pub cluster_dir: PathBuf,
    pub shared_dir: PathBuf,
    pub sizes: Vec<usize>,
    pub targets: Vec<Kind>,
    pub workload: Workload,
}

/// Figures and memory of one target at one size.
struct Cell {
    figures: Figures,
    /// Peak RSS (KiB) per process during this step.
    memory: HashMap<String, u64>,
}

pub async fn run(config: &Config) -> anyhow::Result<String> {
    let client = conn::connect(&config.kubeconfig).await?;
    let pids: Vec<(String, u32)> = ["kube-apiserver", "etcd", "eddy"]
        .iter()
        .filter_map(|name| {
            let path = config.cluster_dir.join("pids").join(format!("{name}.pid"));
            conn::read_pid(&path).ok().map(|pid| ((*name).to_owned(), pid))
        })
        .collect();
    eprintln!("processes measured: {pids:?}");
    let baseline: HashMap<String, u64> =
        pids.iter().filter_map(|(n, p)| conn::proc_memory_kib(*p).map(|(rss, _)| (n.clone(), rss))).collect();
    api::ensure_namespaces(&client, config.workload.namespaces).await.context("creating namespaces")?;
    let mut sizes = config.sizes.clone();
    sizes.sort_unstable();
    let mut cells: HashMap<(Kind, usize), Cell> = HashMap::new();
    let mut skipped = Vec::new();
    for &kind in &config.targets {
        let target = match kind {
            Kind::Crd => {
                let group = crd::install(&client, &config.shared_dir, GROUP, "kustomizations").await?;
                Target::kustomizations(client.clone(), &group)
            }
            Kind::Aggregated => Target::kustomizations(client.clone(), GROUP),
            Kind::Direct => match &config.direct_kubeconfig {
                Some(k) => Target::kustomizations(conn::connect(k).await?, GROUP),
                None => {
                    skipped.push(kind);
                    continue;
                }
            },
        };
        if kind != Kind::Crd && api::count_objects(&target).await? > 0 {
            eprintln!("[{}] deleting objects left by an earlier run", kind.title());
            api::delete_all(&target, config.workload.namespaces).await?;
        }
        let mut have = 0;
        for &size in &sizes {
            let wl = Workload { objects: size, ..config.workload.clone() };
            settle(&config.cluster_dir).await;
            let sampler = MemorySampler::start(pids.clone());
            let figures = api::run_at_size(&target, &wl, have, &format!("{} {size}", kind.title()))
                .await
                .with_context(|| format!("{} at {size} objects", kind.title()))?;
            let memory = sampler.finish().await;
            eprintln!("[{} {size}] peak RSS (MiB): {:?}", kind.title(), mib_map(&memory));
            cells.insert((kind, size), Cell { figures, memory });
            have = size;
        }
        match kind {
            Kind::Crd => crd::remove(&client, &format!("kustomizations.{}", target.group)).await?,
            _ => api::delete_all(&target, config.workload.namespaces).await?,
        }
    }
    Ok(report(config, &sizes, &cells, &baseline, &skipped))
}

/// Processes of the cluster whose CPU use is watched before each measured step.
const CLUSTER_PROCESSES: [&str; 6] =
    ["kube-apiserver", "etcd", "eddy", "kube-controller-manager", "kube-scheduler", "kwok"];

/// Waits until the cluster is quiet: its processes together use under a tenth of one core over
/// five seconds (at most ten minutes). The previous step's aftermath otherwise lands in the next
/// step's figures: after 100,000 deletes, kube-controller-manager's garbage collector and
/// kube-apiserver digest 100,000 metadata watch events for a minute or more, on the same cores.
async fn settle(cluster_dir: &std::path::Path) {
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(5);
    const QUIET_CORES: f64 = 0.10;
    let pids: Vec<u32> = CLUSTER_PROCESSES
        .iter()
        .filter_map(|name| conn::read_pid(&cluster_dir.join("pids").join(format!("{name}.pid"))).ok())
        .collect();
    let ticks = || -> u64 { pids.iter().filter_map(|&p| conn::proc_cpu_ticks(p)).sum() };
    let started = std::time::Instant::now();
    loop {
        let before = ticks();
        tokio::time::sleep(WINDOW).await;
        // USER_HZ is 100 on Linux.
        let cores = (ticks().saturating_sub(before)) as f64 / 100.0 / WINDOW.as_secs_f64();
        if cores < QUIET_CORES {
            eprintln!("cluster quiet ({cores:.2} cores) after {:.0} s", started.elapsed().as_secs_f64());
            return;
        }
        if started.elapsed() > std::time::Duration::from_secs(600) {
            eprintln!("warning: cluster still busy ({cores:.2} cores) after 10 min; measuring anyway");
            return;
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn mib_map(m: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v / 1024)).collect();
    v.sort();
    v
}

fn report(
    config: &Config,
    sizes: &[usize],
    cells: &HashMap<(Kind, usize), Cell>,
    baseline: &HashMap<String, u64>,
    skipped: &[Kind],
) -> String {
    let wl = &config.workload;
    let kinds: Vec<Kind> = config.targets.iter().copied().filter(|k| !skipped.contains(k)).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Kustomizations over {} namespaces; creates at concurrency {}; pages of {}; {} watchers ({} all-namespace) during {} updates/s for {} s.\n",
        wl.namespaces,
        wl.concurrency,
        wl.page_size,
        wl.namespace_watchers + wl.all_namespace_watchers,
        wl.all_namespace_watchers,
        wl.update_rate,
        wl.watch_seconds
    );
    let _ = writeln!(s, "Idle RSS before the run (MiB): {:?}\n", mib_map(baseline));
    for &size in sizes {
        let _ = writeln!(s, "### {size} Kustomizations\n");
        let mut header = String::from("| measure |");
        let mut rule = String::from("|---|");
        for k in &kinds {
            let _ = write!(header, " {} |", k.title());
            rule.push_str("---|");
        }
        let compare = kinds.contains(&Kind::Crd) && kinds.contains(&Kind::Aggregated);
        if compare {
            header.push_str(" CRDs ÷ Eddy behind kube-apiserver |");
            rule.push_str("---|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        let cell = |k: Kind| cells.get(&(k, size));
        let row =
            |s: &mut String, name: &str, f: &dyn Fn(&Cell) -> Option<f64>, fmt: &dyn Fn(f64) -> String, ratio: bool| {
                let _ = write!(s, "| {name} |");
                for &k in &kinds {
                    let v = cell(k).and_then(f);
                    let _ = write!(s, " {} |", v.map_or_else(|| "—".to_owned(), fmt));
                }
                if compare {
                    let r = match (cell(Kind::Crd).and_then(f), cell(Kind::Aggregated).and_then(f)) {
                        (Some(a), Some(b)) if ratio && b > 0.0 => format!("{:.2}×", a / b),
                        _ => "—".to_owned(),
                    };
                    let _ = write!(s, " {r} |");
                }
                s.push('\n');
            };
        let rate = |v: f64| format!("{v:.0} /s");
        let millis = |v: f64| format!("{v:.0} ms");
        let millis1 = |v: f64| format!("{v:.1} ms");
        row(&mut s, "creates/s", &|c| Some(c.figures.create.rate()), &rate, true);
        row(&mut s, "create p99", &|c| Some(c.figures.create.p99_ms), &millis1, true);
        row(&mut s, "status writes/s", &|c| c.figures.status.as_ref().map(api::Writes::rate), &rate, true);
        row(&mut s, "full LIST, best", &|c| Some(c.figures.full.best()), &millis, true);
        row(&mut s, "full LIST, median", &|c| Some(c.figures.full.median()), &millis, true);
        row(
            &mut s,
            "full LIST size (MiB)",
            &|c| Some(c.figures.full.bytes as f64 / 1048576.0),
            &|v| format!("{v:.0}"),
            false,
        );
        row(&mut s, "paginated LIST, best", &|c| Some(c.figures.paged.best()), &millis, true);
        row(&mut s, "paginated LIST, median", &|c| Some(c.figures.paged.median()), &millis, true);
        row(&mut s, "one-namespace LIST p99", &|c| Some(c.figures.namespace_p99_ms), &|v| format!("{v:.2} ms"), true);
        row(&mut s, "watch lag p50", &|c| c.figures.watch.as_ref().map(|w| w.lag_p50_ms), &millis1, true);
        row(&mut s, "watch lag p99", &|c| c.figures.watch.as_ref().map(|w| w.lag_p99_ms), &millis1, true);
        row(&mut s, "watch lag max", &|c| c.figures.watch.as_ref().map(|w| w.lag_max_ms), &millis1, true);
        row(
            &mut s,
            "updates done/s during watch",
            &|c| c.figures.watch.as_ref().map(|w| w.updates as f64 / w.seconds),
            &rate,
            false,
        );
        row(
            &mut s,
            "deliveries received / due",
            &|c| c.figures.watch.as_ref().map(|w| w.delivered as f64 / w.expected.max(1) as f64),
            &|v| format!("{:.4}", v),
            false,
        );
        row(
            &mut s,
            "watch streams ended early by the server",
            &|c| c.figures.watch.as_ref().map(|w| w.ended_early as f64),
            &|v| format!("{v:.0}"),
            false,
        );
        for proc in ["kube-apiserver", "etcd", "eddy"] {
            row(
                &mut s,
                &format!("peak RSS {proc} (MiB)"),
                &|c| c.memory.get(proc).map(|kib| mib(*kib)),
                &|v| format!("{v:.0}"),
                false,
            );
        }
        s.push('\n');
        if let (Some(c), Some(e)) = (cell(Kind::Crd), cell(Kind::Aggregated)) {
            let crd_mem =
                c.memory.get("kube-apiserver").copied().unwrap_or(0) + c.memory.get("etcd").copied().unwrap_or(0);
            let crd_delta = crd_mem.saturating_sub(
                baseline.get("kube-apiserver").copied().unwrap_or(0) + baseline.get("etcd").copied().unwrap_or(0),
            );
            let eddy_mem = e.memory.get("eddy").copied().unwrap_or(0);
            let eddy_delta = eddy_mem.saturating_sub(baseline.get("eddy").copied().unwrap_or(0));
            let speedup = c.figures.full.best() / e.figures.full.best();
            let _ = writeln!(
                s,
                "At {size}: Eddy behind kube-apiserver lists all objects {speedup:.2}× as fast as the CRDs (best of each; goal ≥ 10×: {}). \
                 Memory: Eddy peaked at {:.0} MiB against {:.0} MiB for kube-apiserver + etcd during the CRD run = {:.2} of theirs \
                 (goal ≤ 0.20: {}); above idle: {:.0} MiB against {:.0} MiB = {:.2}.\n",
                if speedup >= 10.0 { "met" } else { "**not met**" },
                mib(eddy_mem),
                mib(crd_mem),
                eddy_mem as f64 / crd_mem.max(1) as f64,
                if eddy_mem as f64 <= 0.2 * crd_mem as f64 { "met" } else { "**not met**" },
                mib(eddy_delta),
                mib(crd_delta),
                eddy_delta as f64 / crd_delta.max(1) as f64,
            );
        }
    }
    for k in skipped {
        let _ = writeln!(s, "{} not run (no kubeconfig given for it).\n", k.title());
    }
    s
}
