//! Issue 22's small-reads-under-full-lists scenario: how long point GETs and one-namespace
//! LISTs of a few objects take while other clients read full LISTs of every object in a loop.
//! A server that scans its store on the async worker threads makes every small request wait
//! behind a page of the big scan; one that scans on a blocking pool does not.
//!
//! Bounded in count and time: the loaded phase ends when the small clients have sent
//! `small_requests` requests or after `max_seconds`, whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};

use crate::api::{self, Target, Workload};
use crate::conn::{self, check_distinct, summarize_list};
use crate::workload::{name_of, namespace_of};

/// The scenario's knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Objects created (and listed in full by the list loopers).
    pub objects: usize,
    /// Namespaces they are spread over (objects / namespaces per namespace list).
    pub namespaces: usize,
    /// Concurrent creates.
    pub concurrency: usize,
    /// Clients running full LISTs back to back during the loaded phase.
    pub list_loopers: usize,
    /// Clients sending small requests (alternately a point GET and a namespace LIST).
    pub small_clients: usize,
    /// Small requests per phase (quiet and loaded).
    pub small_requests: usize,
    /// Bound of the loaded phase.
    pub max_seconds: u64,
}

/// Latencies of one kind of small request.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One phase: small requests alone, or under full lists.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    pub gets: Latency,
    pub namespace_lists: Latency,
    pub seconds: f64,
    /// Full lists completed during the phase (0 in the quiet phase).
    pub full_lists: usize,
    /// Median full-list time (ms), when any completed.
    pub full_list_median_ms: Option<f64>,
}

/// What the scenario measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub create_seconds: f64,
    pub quiet: Phase,
    pub loaded: Phase,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

fn latency(h: &Histogram<u64>) -> Latency {
    let ms = |n: u64| n as f64 / 1e6;
    Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// Runs the scenario on an empty target.
pub async fn run(target: &Target, config: &Config) -> anyhow::Result<Figures> {
    ensure!(config.objects >= config.namespaces && config.namespaces > 0, "need at least one object per namespace");
    ensure!(config.small_clients > 0 && config.small_requests > 0, "small clients and requests must be positive");
    let wl = Workload {
        objects: config.objects,
        namespaces: config.namespaces,
        concurrency: config.concurrency,
        status: false,
        ..Workload::default()
    };
    let created = api::create(target, &wl, 0, config.objects).await.context("create phase")?;
    eprintln!("[reads] created {} objects in {:.1} s", created.count, created.seconds);
    let quiet = phase(target, config, &wl, 0).await.context("quiet phase")?;
    eprintln!("[reads] quiet: {quiet:?}");
    let loaded = phase(target, config, &wl, config.list_loopers).await.context("loaded phase")?;
    eprintln!("[reads] loaded: {loaded:?}");
    Ok(Figures { create_seconds: created.seconds, quiet, loaded })
}

/// Small requests from `small_clients` clients (with `loopers` full-list loops running) until
/// `small_requests` were answered or the time bound passed.
async fn phase(target: &Target, config: &Config, wl: &Workload, loopers: usize) -> anyhow::Result<Phase> {
    let done = Arc::new(AtomicBool::new(false));
    let mut lists = Vec::new();
    for _ in 0..loopers {
        let (target, done, objects) = (target.clone(), Arc::clone(&done), config.objects);
        lists.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                let body = conn::expect(
                    &target.client,
                    Method::GET,
                    &target.collection(None),
                    None,
                    Vec::new(),
                    &[StatusCode::OK],
                )
                .await?;
                let elapsed = started.elapsed().as_secs_f64() * 1e3;
                // Checked off the client's async workers, so that parsing 100 MB does not
                // delay the small requests being measured.
                tokio::task::spawn_blocking(move || {
                    let summary = summarize_list(&body)?;
                    check_distinct(&summary.items, objects, "full list")
                })
                .await??;
                // A list cut short by the end of the phase still counts: it completed.
                times.push(elapsed);
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    // Let the loopers get going before measuring.
    if loopers > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cursor = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(config.max_seconds);
    let started = Instant::now();
    let mut smalls = Vec::new();
    for _ in 0..config.small_clients {
        let (target, cursor, wl, total) = (target.clone(), Arc::clone(&cursor), wl.clone(), config.small_requests);
        smalls.push(tokio::spawn(async move {
            let (mut gets, mut nslists) = (hist(), hist());
            loop {
                let j = cursor.fetch_add(1, Ordering::Relaxed);
                if j >= total || Instant::now() >= deadline {
                    return Ok::<_, anyhow::Error>((gets, nslists));
                }
                // Spread over the objects and namespaces (7919 is prime).
                let i = (j * 7919) % wl.objects;
                let ns = namespace_of(i, wl.namespaces);
                let t = Instant::now();
                if j % 2 == 0 {
                    conn::expect(
                        &target.client,
                        Method::GET,
                        &target.object(&ns, &name_of(i)),
                        None,
                        Vec::new(),
                        &[StatusCode::OK],
                    )
                    .await?;
                    gets.record(t.elapsed().as_nanos() as u64).ok();
                } else {
                    let body = conn::expect(
                        &target.client,
                        Method::GET,
                        &target.collection(Some(&ns)),
                        None,
                        Vec::new(),
                        &[StatusCode::OK],
                    )
                    .await?;
                    nslists.record(t.elapsed().as_nanos() as u64).ok();
                    let k = i % wl.namespaces;
                    check_distinct(&summarize_list(&body)?.items, wl.per_namespace(wl.objects, k), "namespace list")?;
                }
            }
        }));
    }
    let (mut gets, mut nslists) = (hist(), hist());
    let mut failure = None;
    for t in smalls {
        match t.await? {
            Ok((g, n)) => {
                gets.add(g).ok();
                nslists.add(n).ok();
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let mut times = Vec::new();
    for t in lists {
        times.extend(t.await??);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    times.sort_by(f64::total_cmp);
    Ok(Phase {
        gets: latency(&gets),
        namespace_lists: latency(&nslists),
        seconds,
        full_lists: times.len(),
        full_list_median_ms: times.get(times.len() / 2).copied(),
    })
}

/// The Markdown table of the figures.
#[must_use]
pub fn markdown(f: &Figures, config: &Config) -> String {
    let mut s = format!(
        "{} Kustomizations over {} namespaces ({} per namespace list), created in {:.1} s; {} small clients, \
         {} small requests per phase (half point GETs, half namespace LISTs), loaded phase with {} full-list loops \
         (bounded at {} s).\n\n| phase | request | count | p50 | p99 | max |\n|---|---|---|---|---|---|\n",
        config.objects,
        config.namespaces,
        config.objects / config.namespaces,
        f.create_seconds,
        config.small_clients,
        config.small_requests,
        config.list_loopers,
        config.max_seconds,
    );
    for (name, p) in [("quiet", &f.quiet), ("under full LISTs", &f.loaded)] {
        for (what, l) in [("point GET", &p.gets), ("namespace LIST", &p.namespace_lists)] {
            s.push_str(&format!(
                "| {name} | {what} | {} | {:.2} ms | {:.2} ms | {:.2} ms |\n",
                l.count, l.p50_ms, l.p99_ms, l.max_ms
            ));
        }
    }
    s.push_str(&format!(
        "\nLoaded phase: {:.1} s, {} full LISTs of {} completed (median {}).\n",
        f.loaded.seconds,
        f.loaded.full_lists,
        config.objects,
        f.loaded.full_list_median_ms.map_or_else(|| "—".to_owned(), |m| format!("{m:.0} ms")),
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario at tiny scale against a spawned debug `eddy serve` (built next to this
    /// test binary by `cargo build -p eddy`): every count is checked, never the time taken.
    #[test]
    fn reads_under_lists_runs_against_eddy_serve() {
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target directory");
        let eddy = dir.join(format!("eddy{}", std::env::consts::EXE_SUFFIX));
        assert!(eddy.exists(), "{} is missing: build it first (cargo build -p eddy)", eddy.display());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let (_server, client) = conn::SpawnedEddy::start(&eddy).await.unwrap();
            let target = Target::kustomizations(client, "kustomize.toolkit.fluxcd.io");
            let config = Config {
                objects: 200,
                namespaces: 20,
                concurrency: 8,
                list_loopers: 1,
                small_clients: 2,
                small_requests: 100,
                max_seconds: 600,
            };
            let f = run(&target, &config).await.unwrap();
            assert_eq!((f.quiet.gets.count, f.quiet.namespace_lists.count), (50, 50));
            assert_eq!((f.loaded.gets.count, f.loaded.namespace_lists.count), (50, 50));
            assert_eq!(f.quiet.full_lists, 0);
            assert!(f.loaded.full_lists >= 1, "the list loop completed no full LIST");
            let md = markdown(&f, &config);
            assert!(md.contains("| under full LISTs | point GET | 50 |"), "{md}");
        });
    }
}
