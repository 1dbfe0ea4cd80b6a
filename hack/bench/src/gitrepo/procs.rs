//! CPU and memory of the measured processes, per phase: CPU seconds from `/proc/<pid>/stat`
//! (user + system) between the phase's start and end, resident memory from `/proc/<pid>/status`
//! sampled every second (mean and maximum over the phase) and the lifetime peak (`VmHWM`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::conn;

/// The processes of one side, by name.
#[derive(Debug, Clone)]
pub struct Procs(pub Vec<(String, u32)>);

/// One phase's figures for one process.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub rss_mean_mib: f64,
    pub rss_max_mib: f64,
    /// `VmHWM` at the end of the phase (peak since the process started).
    pub hwm_mib: f64,
}

/// The figures of one phase, per process, and its wall time.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    pub seconds: f64,
    pub per_process: BTreeMap<String, Usage>,
}

impl Phase {
    /// The sum over the processes (the "side" total).
    #[must_use]
    pub fn total(&self) -> Usage {
        let mut t = Usage::default();
        for u in self.per_process.values() {
            t.cpu_seconds += u.cpu_seconds;
            t.rss_mean_mib += u.rss_mean_mib;
            t.rss_max_mib += u.rss_max_mib;
            t.hwm_mib += u.hwm_mib;
        }
        t
    }
}

struct Samples {
    sum_kib: BTreeMap<String, u64>,
    max_kib: BTreeMap<String, u64>,
    count: u64,
}

/// A running measurement of a phase.
pub struct Meter {
    procs: Procs,
    started: Instant,
    ticks: BTreeMap<String, u64>,
    samples: Arc<Mutex<Samples>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Meter {
    /// Starts measuring `procs` now.
    #[must_use]
    pub fn start(procs: &Procs) -> Self {
        let ticks = procs.0.iter().map(|(n, p)| (n.clone(), conn::proc_cpu_ticks(*p).unwrap_or(0))).collect();
        let samples = Arc::new(Mutex::new(Samples { sum_kib: BTreeMap::new(), max_kib: BTreeMap::new(), count: 0 }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, list) = (Arc::clone(&samples), Arc::clone(&stop), procs.0.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::SeqCst) {
                if let Ok(mut m) = s.lock() {
                    m.count += 1;
                    for (name, pid) in &list {
                        let rss = conn::proc_memory_kib(*pid).map_or(0, |(rss, _)| rss);
                        *m.sum_kib.entry(name.clone()).or_default() += rss;
                        let e = m.max_kib.entry(name.clone()).or_default();
                        *e = (*e).max(rss);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { procs: procs.clone(), started: Instant::now(), ticks, samples, stop, task }
    }

    /// Ends the phase.
    pub async fn finish(self) -> Phase {
        let seconds = self.started.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        let mut per_process = BTreeMap::new();
        let (sum, max, count) =
            self.samples.lock().map(|m| (m.sum_kib.clone(), m.max_kib.clone(), m.count.max(1))).unwrap_or_default();
        for (name, pid) in &self.procs.0 {
            let before = self.ticks.get(name).copied().unwrap_or(0);
            let after = conn::proc_cpu_ticks(*pid).unwrap_or(before);
            let hwm = conn::proc_memory_kib(*pid).map_or(0, |(_, hwm)| hwm);
            per_process.insert(
                name.clone(),
                Usage {
                    // USER_HZ is 100 on Linux.
                    cpu_seconds: after.saturating_sub(before) as f64 / 100.0,
                    rss_mean_mib: sum.get(name).copied().unwrap_or(0) as f64 / count as f64 / 1024.0,
                    rss_max_mib: max.get(name).copied().unwrap_or(0) as f64 / 1024.0,
                    hwm_mib: hwm as f64 / 1024.0,
                },
            );
        }
        Phase { seconds, per_process }
    }
}

/// The machine's load averages (1, 5, 15 minutes) from `/proc/loadavg`.
#[must_use]
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Waits until `procs` together use under a tenth of a core over five seconds (at most
/// `limit`), so that one phase's aftermath stays out of the next one's figures.
pub async fn settle(procs: &Procs, limit: Duration) {
    let started = Instant::now();
    loop {
        let before: u64 = procs.0.iter().filter_map(|(_, p)| conn::proc_cpu_ticks(*p)).sum();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after: u64 = procs.0.iter().filter_map(|(_, p)| conn::proc_cpu_ticks(*p)).sum();
        let cores = after.saturating_sub(before) as f64 / 100.0 / 5.0;
        if cores < 0.10 {
            eprintln!("quiet ({cores:.2} cores) after {:.0} s", started.elapsed().as_secs_f64());
            return;
        }
        if started.elapsed() > limit {
            eprintln!("warning: still busy ({cores:.2} cores) after {} s; measuring anyway", limit.as_secs());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_phase_charges_the_cpu_it_used() {
        let procs = Procs(vec![("me".into(), std::process::id())]);
        let meter = Meter::start(&procs);
        let before = conn::proc_cpu_ticks(std::process::id()).unwrap();
        let t = Instant::now();
        let mut x = 0u64;
        // Spin until the kernel has charged 0.2 s of CPU to this process (on a busy machine
        // that takes longer than 0.2 s of wall time).
        while conn::proc_cpu_ticks(std::process::id()).unwrap() < before + 20 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            assert!(t.elapsed() < Duration::from_secs(30), "no CPU charged after 30 s of spinning");
        }
        std::hint::black_box(x);
        let phase = meter.finish().await;
        let me = &phase.per_process["me"];
        assert!(me.cpu_seconds >= 0.2, "{me:?}");
        assert!(me.rss_max_mib > 0.0 && me.hwm_mib >= me.rss_max_mib, "{me:?}");
        // Not `>= 0.2`: the test binary's other threads charge this process too, so 0.2 CPU
        // seconds can pass in less wall time (and tests do not assert on wall time).
        assert!(phase.seconds > 0.0, "{phase:?}");
        assert!((phase.total().cpu_seconds - me.cpu_seconds).abs() < 1e-9);
    }
}
