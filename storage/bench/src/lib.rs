//! Storage benchmark: the figures in `docs/benchmarks.md` come from [`run`].
//!
//! It builds a fleet of `objects` realistic Kustomizations (about 2 KiB of JSON each, status
//! included) over `namespaces` namespaces in a fresh RocksDB store, then measures durable
//! write throughput at several concurrencies, full and one-namespace lists, point gets,
//! watch fan-out lag under a steady update rate, peak RSS, bytes on disk and reopen time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_storage::{Key, ListOptions, Prefix, Store, StoreOptions};
use eddy_storage_rocksdb::RocksEngine;
use hdrhistogram::Histogram;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to create the store (a fresh subdirectory is made and removed).
    pub dir: PathBuf,
    /// Number of objects.
    pub objects: usize,
    /// Number of namespaces they spread over.
    pub namespaces: usize,
    /// Watchers on every namespace.
    pub all_namespace_watchers: usize,
    /// Watchers on a single namespace each.
    pub namespace_watchers: usize,
    /// Updates per second during the watch phase.
    pub update_rate: u64,
    /// Length of the watch phase.
    pub watch_seconds: u64,
    /// Stop after the durable creates: measures the write path alone (e.g. under a profiler).
    pub writes_only: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            dir: std::env::temp_dir(),
            objects: 100_000,
            namespaces: 1_000,
            all_namespace_watchers: 10,
            namespace_watchers: 990,
            update_rate: 2_000,
            watch_seconds: 10,
            writes_only: false,
        }
    }
}

const GROUP: &str = "kustomize.toolkit.fluxcd.io";
const RESOURCE: &str = "kustomizations";
/// Page size of the full list (one consistent revision across pages).
const LIST_PAGE: usize = 1_000;
/// The value starts with `{"benchTs":"<20 digits>"`: a watcher reads the send time from
/// these fixed bytes without parsing the JSON.
const TS_START: usize = 12;
const TS_END: usize = TS_START + 20;

/// A Kustomization as Flux users write it, with the status the controller keeps.
///
/// Built from a template serialised once, so generating load costs the benchmark almost
/// nothing next to the store it measures.
pub fn kustomization_json(namespace: &str, name: &str, generation: u64, sent_nanos: u128) -> Vec<u8> {
    static TEMPLATE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let parts = TEMPLATE.get_or_init(|| {
        // serde_json writes the \u{1} marker delimiters as `\u0001`; the generation is a
        // number, so its marker loses the quotes around it.
        let body = serde_json::to_string(&template_object())
            .unwrap_or_default()
            .replace(r#""\u0001GEN\u0001""#, r"\u0001GEN\u0001");
        body.split(r"\u0001").map(str::to_owned).collect()
    });
    let generation = generation.to_string();
    let fill = |marker: &str| -> &str {
        match marker {
            "NS" => namespace,
            "NAME" => name,
            "GEN" => &generation,
            _ => "",
        }
    };
    // Sized up front: growing the string would copy it several times per object.
    let mut out = String::with_capacity(2560);
    let _ = write!(out, "{{\"benchTs\":\"{sent_nanos:020}\",");
    for (i, part) in parts.iter().enumerate() {
        // Odd parts are marker names between delimiters; the first part opens the object.
        let text = if i % 2 == 1 {
            fill(part)
        } else if i == 0 {
            &part[1..]
        } else {
            part.as_str()
        };
        out.push_str(text);
    }
    out.into_bytes()
}

fn template_object() -> serde_json::Value {
    let (ns, name, generation) = ("\u{1}NS\u{1}", "\u{1}NAME\u{1}", "\u{1}GEN\u{1}");
    serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {
            "name": name,
            "namespace": ns,
            "generation": generation,
            "labels": {"app.kubernetes.io/part-of": "fleet", "team": ns, "tier": "apps"},
            "annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-28T10:00:00Z"},
            "finalizers": ["finalizers.fluxcd.io"],
        },
        "spec": {
            "interval": "10m0s",
            "retryInterval": "2m0s",
            "timeout": "5m0s",
            "path": format!("./clusters/production/{ns}/{name}"),
            "prune": true,
            "wait": true,
            "force": false,
            "targetNamespace": ns,
            "sourceRef": {"kind": "GitRepository", "name": "fleet-repo", "namespace": "flux-system"},
            "dependsOn": [{"name": "infrastructure", "namespace": "flux-system"}],
            "postBuild": {"substitute": {"cluster_env": "production", "region": "eu-west-1"},
                          "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]},
            "healthChecks": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": ns}],
        },
        "status": {
            "observedGeneration": generation,
            "lastAppliedRevision": "main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
            "lastAttemptedRevision": "main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                 "message": "Applied revision: main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
                 "lastTransitionTime": "2026-11-28T10:00:05Z", "observedGeneration": generation},
                {"type": "Healthy", "status": "True", "reason": "Succeeded", "message": "Health check passed in 2.1s",
                 "lastTransitionTime": "2026-11-28T10:00:05Z", "observedGeneration": generation},
            ],
            "inventory": {"entries": [
                {"id": format!("{ns}_{name}__Service"), "v": "v1"},
                {"id": format!("{ns}_{name}_apps_Deployment"), "v": "v1"},
                {"id": format!("{ns}_{name}-config__ConfigMap"), "v": "v1"},
                {"id": format!("{ns}_{name}_autoscaling_HorizontalPodAutoscaler"), "v": "v2"},
                {"id": format!("{ns}_{name}_networking.k8s.io_Ingress"), "v": "v1"},
            ]},
        },
    })
}

fn namespace_of(i: usize, namespaces: usize) -> String {
    format!("team-{:04}", i % namespaces)
}

fn name_of(i: usize) -> String {
    format!("app-{i:06}")
}

/// The figures of one run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `(concurrency, writes, writes per second, writes per durable batch)`.
    pub write_throughput: Vec<(usize, usize, f64, f64)>,
    /// Mean object size in bytes.
    pub object_bytes: usize,
    /// Full list of every object, milliseconds (best and median of 5).
    pub full_list_ms: (f64, f64),
    /// One-namespace list, microseconds p50 / p99.
    pub namespace_list_us: (f64, f64),
    /// Point get, microseconds p50 / p99.
    pub get_us: (f64, f64),
    /// Watch phase: updates done, events delivered, lag p50 / p99 / max in milliseconds.
    pub watch: (u64, u64, f64, f64, f64),
    /// Peak resident set size in MiB.
    pub peak_rss_mib: f64,
    /// Bytes on disk after the run.
    pub disk_bytes: u64,
    /// Time to reopen the store, milliseconds.
    pub reopen_ms: f64,
}

fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.flatten().filter_map(|e| e.metadata().ok()).filter(std::fs::Metadata::is_file).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Runs the benchmark and returns its figures. Progress goes to stderr.
pub fn run(config: &Config) -> Result<Report, eddy_storage::Error> {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| {
            eddy_storage::Error::Engine(eddy_storage::EngineError::new(format!("starting runtime: {e}")))
        })?;
    rt.block_on(run_async(config))
}

async fn run_async(config: &Config) -> Result<Report, eddy_storage::Error> {
    // Guard the load generator: a malformed object would make every figure meaningless.
    let sample = kustomization_json("team-0001", "app-000001", 7, 42);
    let parsed: serde_json::Value = serde_json::from_slice(&sample)
        .map_err(|e| eddy_storage::Error::Corrupt(format!("benchmark generated invalid JSON: {e}")))?;
    if parsed["metadata"]["generation"] != 7 || parsed["metadata"]["name"] != "app-000001" {
        return Err(eddy_storage::Error::Corrupt(format!("benchmark generated a wrong object: {parsed}")));
    }
    let dir = config.dir.join(format!("eddy-storage-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let epoch = Instant::now();
    let mut report = Report::default();
    let store = eddy_storage_rocksdb::open_store(&dir, StoreOptions::default())?;

    // 1. Durable creates at concurrency 1, 16 and 64.
    let phases = [(1usize, config.objects / 50), (16, config.objects * 9 / 50), (64, config.objects * 4 / 5)];
    let mut next = 0usize;
    let mut total_bytes = 0usize;
    for (concurrency, count) in phases {
        let count = count.min(config.objects - next);
        let base = next;
        next += count;
        let cursor = Arc::new(AtomicUsize::new(0));
        let batches_before = store.stats().batches;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (store, cursor, namespaces) = (store.clone(), Arc::clone(&cursor), config.namespaces);
            tasks.push(tokio::spawn(async move {
                let mut bytes = 0usize;
                loop {
                    let i = cursor.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<usize, eddy_storage::Error>(bytes);
                    }
                    let i = base + i;
                    let (ns, name) = (namespace_of(i, namespaces), name_of(i));
                    let value = kustomization_json(&ns, &name, 1, 0);
                    bytes += value.len();
                    store
                        .create(&Key::new(GROUP, RESOURCE, &ns, &name), &format!("uid-{i}"), Bytes::from(value))
                        .await?;
                }
            }));
        }
        for t in tasks {
            total_bytes +=
                t.await.map_err(|e| eddy_storage::Error::Engine(eddy_storage::EngineError::new(e.to_string())))??;
        }
        let secs = started.elapsed().as_secs_f64();
        let per_batch = count as f64 / (store.stats().batches - batches_before).max(1) as f64;
        eprintln!(
            "create: concurrency {concurrency}: {count} writes in {secs:.2}s = {:.0}/s, {per_batch:.1} writes per sync (RSS {:.0} MiB)",
            count as f64 / secs,
            rss_mib()
        );
        report.write_throughput.push((concurrency, count, count as f64 / secs, per_batch));
    }
    report.object_bytes = total_bytes / config.objects.max(1);
    if config.writes_only {
        report.peak_rss_mib = peak_rss_mib();
        drop(store);
        report.disk_bytes = dir_bytes(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(report);
    }

    // 2. Full list, five times: pages of 1,000 read at the first page's revision, so the
    // whole list is one consistent snapshot — how the API server streams a full LIST without
    // holding every object at once.
    let all = Prefix::resource(GROUP, RESOURCE);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut options = ListOptions { revision: None, start_after: None, limit: Some(LIST_PAGE) };
        let mut listed = 0;
        loop {
            let page = store.list(&all, &options)?;
            listed += page.objects.len();
            match (page.more, page.objects.last()) {
                (true, Some(last)) => {
                    options.revision = Some(page.revision);
                    options.start_after = Some((last.namespace.clone(), last.name.clone()));
                }
                _ => break,
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(listed, config.objects, "full list returned the wrong number of objects");
    }
    times.sort_by(f64::total_cmp);
    report.full_list_ms = (times[0], times[times.len() / 2]);
    eprintln!(
        "full list of {}: best {:.1} ms, median {:.1} ms (RSS {:.0} MiB, peak {:.0} MiB)",
        config.objects,
        times[0],
        times[2],
        rss_mib(),
        peak_rss_mib()
    );

    // 3. One-namespace lists and point gets.
    let mut h = hist();
    for i in 0..500 {
        let prefix = Prefix::namespaced(GROUP, RESOURCE, namespace_of(i * 7, config.namespaces));
        let started = Instant::now();
        let listed = store.list(&prefix, &ListOptions::default())?;
        h.record(started.elapsed().as_nanos() as u64).ok();
        assert_eq!(listed.objects.len(), config.objects / config.namespaces);
    }
    report.namespace_list_us = (h.value_at_quantile(0.5) as f64 / 1e3, h.value_at_quantile(0.99) as f64 / 1e3);
    let mut h = hist();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % config.objects as u64) as usize;
        let key = Key::new(GROUP, RESOURCE, namespace_of(i, config.namespaces), name_of(i));
        let started = Instant::now();
        store.get(&key)?;
        h.record(started.elapsed().as_nanos() as u64).ok();
    }
    report.get_us = (h.value_at_quantile(0.5) as f64 / 1e3, h.value_at_quantile(0.99) as f64 / 1e3);
    eprintln!("namespace list p50/p99 {:?} us; get p50/p99 {:?} us", report.namespace_list_us, report.get_us);

    // 4. Watch fan-out under a steady update rate.
    let from = store.current_revision();
    let mut watchers = Vec::new();
    let delivered = Arc::new(AtomicUsize::new(0));
    let updates = (config.update_rate * config.watch_seconds) as usize;
    for w in 0..(config.all_namespace_watchers + config.namespace_watchers) {
        let prefix = if w < config.all_namespace_watchers {
            all.clone()
        } else {
            Prefix::namespaced(GROUP, RESOURCE, namespace_of(w - config.all_namespace_watchers, config.namespaces))
        };
        let mut watcher = store.watch(&prefix, from)?;
        let delivered = Arc::clone(&delivered);
        let expect = if w < config.all_namespace_watchers { updates } else { updates / config.namespaces };
        watchers.push(tokio::spawn(async move {
            // Raw samples: a histogram per watcher would cost 1,000 x its bucket array.
            let mut samples = Vec::with_capacity(expect);
            let mut seen = 0usize;
            while seen < expect {
                let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_secs(30), watcher.next()).await else {
                    break;
                };
                let now = epoch.elapsed().as_nanos() as u64;
                if let Some(obj) = &ev.object
                    && let Some(ts) = obj.value.get(TS_START..TS_END)
                    && let Some(sent) = std::str::from_utf8(ts).ok().and_then(|s| s.parse::<u64>().ok())
                {
                    samples.push(now.saturating_sub(sent).max(1));
                }
                seen += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            samples
        }));
    }
    let writers = 32usize;
    let per_writer_interval = Duration::from_secs_f64(writers as f64 / config.update_rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..writers {
        let store = store.clone();
        let namespaces = config.namespaces;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_writer_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0;
            for j in (t..updates).step_by(writers) {
                tick.tick().await;
                // Spread updates evenly over namespaces: update j touches namespace j % N.
                let i = (j % namespaces) + namespaces * ((j / namespaces) % 50);
                let (ns, name) = (namespace_of(i, namespaces), name_of(i));
                let sent = epoch.elapsed().as_nanos();
                let value = kustomization_json(&ns, &name, 2 + j as u64, sent);
                store.update(&Key::new(GROUP, RESOURCE, &ns, &name), Bytes::from(value), None).await?;
                n += 1;
            }
            Ok::<u64, eddy_storage::Error>(n)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.map_err(|e| eddy_storage::Error::Engine(eddy_storage::EngineError::new(e.to_string())))??;
    }
    let write_secs = started.elapsed().as_secs_f64();
    let mut lag = hist();
    for w in watchers {
        if let Ok(samples) = w.await {
            for sample in samples {
                lag.record(sample).ok();
            }
        }
    }
    report.watch = (
        done,
        delivered.load(Ordering::Relaxed) as u64,
        lag.value_at_quantile(0.5) as f64 / 1e6,
        lag.value_at_quantile(0.99) as f64 / 1e6,
        lag.max() as f64 / 1e6,
    );
    eprintln!(
        "watch: {done} updates in {write_secs:.1}s ({:.0}/s), {} deliveries, lag p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        done as f64 / write_secs,
        report.watch.1,
        report.watch.2,
        report.watch.3,
        report.watch.4
    );

    // 5. Memory, disk, reopen.
    report.peak_rss_mib = peak_rss_mib();
    drop(store);
    report.disk_bytes = dir_bytes(&dir);
    let started = Instant::now();
    let reopened: Store<RocksEngine> = eddy_storage_rocksdb::open_store(&dir, StoreOptions::default())?;
    let _ = reopened.get(&Key::new(GROUP, RESOURCE, namespace_of(0, config.namespaces), name_of(0)))?;
    report.reopen_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(reopened);
    eprintln!(
        "peak RSS {:.0} MiB, disk {:.0} MiB, reopen {:.0} ms",
        report.peak_rss_mib,
        report.disk_bytes as f64 / 1048576.0,
        report.reopen_ms
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

impl Report {
    /// The figures as a Markdown table.
    pub fn to_markdown(&self, config: &Config) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{} objects (mean {} B) over {} namespaces\n\n| measure | result |\n|---|---|\n",
            config.objects, self.object_bytes, config.namespaces
        ));
        for (c, n, rate, per_batch) in &self.write_throughput {
            s.push_str(&format!(
                "| durable creates, concurrency {c} ({n} writes; {per_batch:.1} writes per sync) | {rate:.0} writes/s |\n"
            ));
        }
        if config.writes_only {
            s.push_str(&format!("| peak RSS (whole benchmark process) | {:.0} MiB |\n", self.peak_rss_mib));
            return s;
        }
        s.push_str(&format!(
            "| full list of {} (pages of 1,000 at one revision; best / median of 5) | {:.0} ms / {:.0} ms |\n",
            config.objects, self.full_list_ms.0, self.full_list_ms.1
        ));
        s.push_str(&format!(
            "| one-namespace list ({} objects) p50 / p99 | {:.0} µs / {:.0} µs |\n",
            config.objects / config.namespaces.max(1),
            self.namespace_list_us.0,
            self.namespace_list_us.1
        ));
        s.push_str(&format!("| point get p50 / p99 | {:.1} µs / {:.1} µs |\n", self.get_us.0, self.get_us.1));
        s.push_str(&format!(
            "| watch: {} watchers ({} all-namespace), {} updates at {}/s, {} deliveries: lag p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |\n",
            config.all_namespace_watchers + config.namespace_watchers,
            config.all_namespace_watchers,
            self.watch.0,
            config.update_rate,
            self.watch.1,
            self.watch.2,
            self.watch.3,
            self.watch.4
        ));
        s.push_str(&format!("| peak RSS (whole benchmark process) | {:.0} MiB |\n", self.peak_rss_mib));
        s.push_str(&format!("| bytes on disk | {:.0} MiB |\n", self.disk_bytes as f64 / 1048576.0));
        s.push_str(&format!("| reopen (open + first get) | {:.0} ms |\n", self.reopen_ms));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_time_sits_at_fixed_bytes_of_valid_json() {
        let v = kustomization_json("team-0001", "app-000001", 3, 123_456_789);
        assert_eq!(std::str::from_utf8(&v[TS_START..TS_END]).unwrap().parse::<u128>().unwrap(), 123_456_789);
        let parsed: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(parsed["kind"], "Kustomization");
        assert_eq!(parsed["metadata"]["namespace"], "team-0001");
        assert_eq!(parsed["metadata"]["name"], "app-000001");
        assert_eq!(parsed["metadata"]["generation"], 3);
        assert_eq!(parsed["status"]["conditions"][0]["observedGeneration"], 3);
        assert_eq!(parsed["spec"]["path"], "./clusters/production/team-0001/app-000001");
        assert!((1500..2600).contains(&v.len()), "about 2 KiB, got {}", v.len());
    }
}
