//! The API workload (issue 4, and each column of the side-by-side comparison): creates at a
//! fixed concurrency, status writes, full and paginated lists, one-namespace lists, and watch
//! delivery lag of many watchers under a paced update rate, all as raw HTTP requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::Semaphore;

use crate::conn::{self, check_distinct, summarize_list};
use crate::workload::{self, Kustomizations, name_of, namespace_of};

/// One served resource behind one client.
#[derive(Clone)]
pub struct Target {
    pub client: kube::Client,
    pub group: String,
    pub version: String,
    pub plural: String,
}

impl Target {
    /// Kustomizations of `group`/v1.
    #[must_use]
    pub fn kustomizations(client: kube::Client, group: &str) -> Self {
        Self { client, group: group.to_owned(), version: "v1".into(), plural: "kustomizations".into() }
    }

    #[must_use]
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The collection path, in one namespace or all.
    #[must_use]
    pub fn collection(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("/apis/{}/{}/namespaces/{ns}/{}", self.group, self.version, self.plural),
            None => format!("/apis/{}/{}/{}", self.group, self.version, self.plural),
        }
    }

    #[must_use]
    pub fn object(&self, namespace: &str, name: &str) -> String {
        format!("{}/{name}", self.collection(Some(namespace)))
    }
}

/// The knobs of the workload; the defaults are issue 4's.
#[derive(Debug, Clone)]
pub struct Workload {
    pub objects: usize,
    pub namespaces: usize,
    pub concurrency: usize,
    /// Write the status subresource of every created object (as the controller would), so
    /// objects are about 2 KiB like the storage benchmark's.
    pub status: bool,
    pub page_size: usize,
    /// How many times each full and paginated list runs.
    pub list_repeats: usize,
    pub namespace_lists: usize,
    pub namespace_watchers: usize,
    pub all_namespace_watchers: usize,
    pub update_rate: u64,
    pub watch_seconds: u64,
    pub update_concurrency: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            objects: 100_000,
            namespaces: 1_000,
            concurrency: 64,
            status: true,
            page_size: 500,
            list_repeats: 3,
            namespace_lists: 200,
            namespace_watchers: 990,
            all_namespace_watchers: 10,
            update_rate: 1_000,
            watch_seconds: 10,
            update_concurrency: 64,
        }
    }
}

impl Workload {
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.objects > 0 && self.namespaces > 0, "objects and namespaces must be positive");
        ensure!(self.objects >= self.namespaces, "need at least one object per namespace");
        ensure!(self.concurrency > 0 && self.update_concurrency > 0, "concurrency must be positive");
        ensure!(self.page_size > 0 && self.list_repeats > 0, "page size and list repeats must be positive");
        ensure!(
            self.namespace_watchers <= self.namespaces,
            "at most one one-namespace watcher per namespace ({} > {})",
            self.namespace_watchers,
            self.namespaces
        );
        Ok(())
    }

    /// How many of the first `objects` objects live in namespace number `k`.
    #[must_use]
    pub fn per_namespace(&self, objects: usize, k: usize) -> usize {
        objects / self.namespaces + usize::from(k < objects % self.namespaces)
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// Writes: how many, how long, per-request latency.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    pub count: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Writes {
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

/// Repeated list timings.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub ms: Vec<f64>,
    pub bytes: usize,
    pub pages: usize,
}

impl Lists {
    #[must_use]
    pub fn best(&self) -> f64 {
        self.ms.iter().copied().fold(f64::INFINITY, f64::min)
    }

    #[must_use]
    pub fn median(&self) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// The watch phase.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    pub watchers: usize,
    pub updates: u64,
    pub failed_updates: u64,
    pub seconds: f64,
    pub update_p99_ms: f64,
    pub expected: u64,
    pub delivered: u64,
    /// Watch streams the server ended before they had received every update due to them (the
    /// driver does not re-open them, so their missing events count against `delivered`).
    pub ended_early: usize,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub open_seconds: f64,
}

/// Everything measured at one object count.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub objects: usize,
    pub create: Writes,
    pub status: Option<Writes>,
    pub full: Lists,
    pub paged: Lists,
    pub namespace_p50_ms: f64,
    pub namespace_p99_ms: f64,
    pub watch: Option<Watch>,
}

/// Creates the namespaces the workload uses, where the server has core namespaces at all
/// (Eddy standalone does not: it keeps no namespaces).
pub async fn ensure_namespaces(client: &kube::Client, namespaces: usize) -> anyhow::Result<bool> {
    let (status, _) = conn::send(client, Method::GET, "/api/v1/namespaces?limit=1", None, Vec::new()).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(false);
    }
    ensure!(status == StatusCode::OK, "listing namespaces: {status}");
    let cursor = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, cursor) = (client.clone(), Arc::clone(&cursor));
        tasks.push(tokio::spawn(async move {
            loop {
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                if k >= namespaces {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = format!(
                    r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{}"}}}}"#,
                    namespace_of(k, namespaces)
                );
                conn::expect(
                    &client,
                    Method::POST,
                    "/api/v1/namespaces",
                    Some("application/json"),
                    body.into_bytes(),
                    &[StatusCode::CREATED, StatusCode::CONFLICT],
                )
                .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(true)
}

/// How many objects the target serves (a list with `limit=1` and `remainingItemCount` is not
/// portable, so this reads a full list; only used to check emptiness and after cleanups).
pub async fn count_objects(target: &Target) -> anyhow::Result<usize> {
    let body = conn::expect(&target.client, Method::GET, &target.collection(None), None, Vec::new(), &[StatusCode::OK])
        .await?;
    Ok(summarize_list(&body)?.items.len())
}

/// Deletes every object of the target, namespace by namespace, and checks none is left.
pub async fn delete_all(target: &Target, namespaces: usize) -> anyhow::Result<()> {
    let cursor = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (target, cursor) = (target.clone(), Arc::clone(&cursor));
        tasks.push(tokio::spawn(async move {
            loop {
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                if k >= namespaces {
                    return Ok::<(), anyhow::Error>(());
                }
                let uri = target.collection(Some(&namespace_of(k, namespaces)));
                conn::expect(&target.client, Method::DELETE, &uri, None, Vec::new(), &[StatusCode::OK]).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let left = count_objects(target).await?;
    ensure!(left == 0, "{left} objects left after deleting every namespace's collection");
    Ok(())
}

/// Creates objects `from..to` at the workload's concurrency.
pub async fn create(target: &Target, wl: &Workload, from: usize, to: usize) -> anyhow::Result<Writes> {
    let bodies = Arc::new(Kustomizations::new(&target.api_version()));
    let cursor = Arc::new(AtomicUsize::new(from));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..wl.concurrency {
        let (target, bodies, cursor, namespaces) =
            (target.clone(), Arc::clone(&bodies), Arc::clone(&cursor), wl.namespaces);
        tasks.push(tokio::spawn(async move {
            let mut h = hist();
            loop {
                let i = cursor.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return Ok::<_, anyhow::Error>(h);
                }
                let (ns, name) = (namespace_of(i, namespaces), name_of(i));
                let body = bodies.create(&ns, &name);
                let t = Instant::now();
                conn::expect(
                    &target.client,
                    Method::POST,
                    &target.collection(Some(&ns)),
                    Some("application/json"),
                    body,
                    &[StatusCode::CREATED],
                )
                .await?;
                h.record(t.elapsed().as_nanos() as u64).ok();
            }
        }));
    }
    writes_of(tasks, to - from, started).await
}

/// Writes the status of objects `from..to` (a merge patch on the status subresource).
pub async fn write_status(target: &Target, wl: &Workload, from: usize, to: usize) -> anyhow::Result<Writes> {
    let bodies = Arc::new(Kustomizations::new(&target.api_version()));
    let cursor = Arc::new(AtomicUsize::new(from));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..wl.concurrency {
        let (target, bodies, cursor, namespaces) =
            (target.clone(), Arc::clone(&bodies), Arc::clone(&cursor), wl.namespaces);
        tasks.push(tokio::spawn(async move {
            let mut h = hist();
            loop {
                let i = cursor.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return Ok::<_, anyhow::Error>(h);
                }
                let (ns, name) = (namespace_of(i, namespaces), name_of(i));
                let body = bodies.status(&ns, &name);
                let t = Instant::now();
                conn::expect(
                    &target.client,
                    Method::PATCH,
                    &format!("{}/status", target.object(&ns, &name)),
                    Some("application/merge-patch+json"),
                    body,
                    &[StatusCode::OK],
                )
                .await?;
                h.record(t.elapsed().as_nanos() as u64).ok();
            }
        }));
    }
    writes_of(tasks, to - from, started).await
}

async fn writes_of(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Histogram<u64>>>>,
    count: usize,
    started: Instant,
) -> anyhow::Result<Writes> {
    let mut all = hist();
    for t in tasks {
        all.add(t.await??).ok();
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(all.len() == count as u64, "{} writes recorded, expected {count}", all.len());
    Ok(Writes { count, seconds, p50_ms: ms(all.value_at_quantile(0.5)), p99_ms: ms(all.value_at_quantile(0.99)) })
}

/// Full lists of every object (JSON), each read to the end and checked to hold exactly
/// `expected` distinct objects; the clock stops when the last byte is in.
pub async fn full_lists(target: &Target, repeats: usize, expected: usize) -> anyhow::Result<Lists> {
    let mut out = Lists::default();
    for _ in 0..repeats {
        let started = Instant::now();
        let body =
            conn::expect(&target.client, Method::GET, &target.collection(None), None, Vec::new(), &[StatusCode::OK])
                .await?;
        out.ms.push(started.elapsed().as_secs_f64() * 1e3);
        out.bytes = body.len();
        let summary = summarize_list(&body)?;
        drop(body);
        check_distinct(&summary.items, expected, "full list")?;
        ensure!(summary.continue_token.is_none(), "a list without limit came back with a continue token");
    }
    out.pages = 1;
    Ok(out)
}

/// Paginated lists (`limit=page_size`, following `continue`), checked like full lists.
pub async fn paged_lists(target: &Target, repeats: usize, page_size: usize, expected: usize) -> anyhow::Result<Lists> {
    let mut out = Lists::default();
    for _ in 0..repeats {
        let mut items = Vec::with_capacity(expected);
        let (mut pages, mut bytes, mut elapsed) = (0usize, 0usize, Duration::ZERO);
        let mut next: Option<String> = None;
        loop {
            let mut uri = format!("{}?limit={page_size}", target.collection(None));
            if let Some(c) = &next {
                uri.push_str("&continue=");
                uri.push_str(&encode_query(c));
            }
            let started = Instant::now();
            let body = conn::expect(&target.client, Method::GET, &uri, None, Vec::new(), &[StatusCode::OK]).await?;
            elapsed += started.elapsed();
            bytes += body.len();
            pages += 1;
            let summary = summarize_list(&body)?;
            ensure!(summary.items.len() <= page_size, "a page of {} items with limit {page_size}", summary.items.len());
            items.extend(summary.items);
            match summary.continue_token {
                Some(c) => next = Some(c),
                None => break,
            }
            ensure!(pages <= expected / page_size + 2, "pagination does not end ({pages} pages)");
        }
        check_distinct(&items, expected, "paginated list")?;
        out.ms.push(elapsed.as_secs_f64() * 1e3);
        out.bytes = bytes;
        out.pages = pages;
    }
    Ok(out)
}

fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One-namespace lists, spread over the namespaces; returns p50 and p99 in ms.
pub async fn namespace_lists(target: &Target, wl: &Workload, objects: usize) -> anyhow::Result<(f64, f64)> {
    let mut h = hist();
    for j in 0..wl.namespace_lists {
        let k = (j * 7919) % wl.namespaces;
        let ns = namespace_of(k, wl.namespaces);
        let started = Instant::now();
        let body = conn::expect(
            &target.client,
            Method::GET,
            &target.collection(Some(&ns)),
            None,
            Vec::new(),
            &[StatusCode::OK],
        )
        .await?;
        h.record(started.elapsed().as_nanos() as u64).ok();
        let summary = summarize_list(&body)?;
        check_distinct(&summary.items, wl.per_namespace(objects, k), &format!("list of namespace {ns}"))?;
        ensure!(summary.items.iter().all(|(n, _)| *n == ns), "a namespace list holds another namespace's object");
    }
    Ok((ms(h.value_at_quantile(0.5)), ms(h.value_at_quantile(0.99))))
}

/// The current resource version of the collection.
async fn current_revision(target: &Target) -> anyhow::Result<String> {
    let uri = format!("{}?limit=1", target.collection(None));
    let body = conn::expect(&target.client, Method::GET, &uri, None, Vec::new(), &[StatusCode::OK]).await?;
    let rv = summarize_list(&body)?.resource_version;
    ensure!(!rv.is_empty(), "a list came back without a resourceVersion");
    Ok(rv)
}

/// The watch phase: `all_namespace_watchers` watchers on every namespace and
/// `namespace_watchers` on one namespace each, opened at the current revision; then updates at
/// `update_rate`/s for `watch_seconds`, each stamping its send time into an annotation, spread
/// evenly over the namespaces. Every watcher must receive every update it is due.
pub async fn watch(target: &Target, wl: &Workload, objects: usize) -> anyhow::Result<Watch> {
    let rv = current_revision(target).await?;
    let watchers = wl.all_namespace_watchers + wl.namespace_watchers;
    let opened = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let per_ns_done: Arc<Vec<AtomicU64>> = Arc::new((0..wl.namespaces).map(|_| AtomicU64::new(0)).collect());
    let total_done = Arc::new(AtomicU64::new(0));
    let open_limit = Arc::new(Semaphore::new(32));
    let timeout_seconds = wl.watch_seconds + 600;
    let open_started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..watchers {
        let namespace = (w >= wl.all_namespace_watchers).then(|| w - wl.all_namespace_watchers);
        let uri = format!(
            "{}?watch=true&resourceVersion={rv}&timeoutSeconds={timeout_seconds}",
            target.collection(namespace.map(|k| namespace_of(k, wl.namespaces)).as_deref())
        );
        let (client, opened, finished, per_ns_done, total_done, open_limit) = (
            target.client.clone(),
            Arc::clone(&opened),
            Arc::clone(&finished),
            Arc::clone(&per_ns_done),
            Arc::clone(&total_done),
            Arc::clone(&open_limit),
        );
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(&uri).body(kube::client::Body::empty())?;
            let resp = {
                let _permit = open_limit.acquire().await?;
                client.send(req).await.with_context(|| format!("opening watch {uri}"))?
            };
            if resp.status() != StatusCode::OK {
                let status = resp.status();
                let body = resp.into_body().collect_bytes().await.unwrap_or_default();
                bail!("watch {uri}: {status}: {}", String::from_utf8_lossy(&body));
            }
            opened.fetch_add(1, Ordering::SeqCst);
            let mut body = resp.into_body();
            let (mut buf, mut samples, mut errors) = (Vec::<u8>::new(), Vec::<u64>::new(), 0u64);
            let mut grace_until: Option<Instant> = None;
            let mut ended = false;
            loop {
                // The flag first: once it is set, every update's count is final.
                if finished.load(Ordering::SeqCst) {
                    let expected = match namespace {
                        Some(k) => per_ns_done[k].load(Ordering::SeqCst),
                        None => total_done.load(Ordering::SeqCst),
                    };
                    if samples.len() as u64 >= expected {
                        break;
                    }
                    let until = *grace_until.get_or_insert_with(|| Instant::now() + Duration::from_secs(30));
                    if Instant::now() > until {
                        break;
                    }
                }
                let frame = match tokio::time::timeout(Duration::from_millis(100), body.frame()).await {
                    Err(_) => continue,
                    Ok(None) => {
                        ended = true;
                        break;
                    }
                    Ok(Some(frame)) => frame.with_context(|| format!("reading watch {uri}"))?,
                };
                let Ok(data) = frame.into_data() else { continue };
                let now = workload::now_nanos();
                buf.extend_from_slice(&data);
                let mut start = 0;
                while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
                    let line = &buf[start..start + nl];
                    if line.starts_with(br#"{"type":"ERROR""#) {
                        errors += 1;
                    } else if let Some(sent) = workload::sent_nanos_in(line) {
                        samples.push(now.saturating_sub(sent).max(1) as u64);
                    }
                    start += nl + 1;
                }
                buf.drain(..start);
            }
            Ok::<_, anyhow::Error>((samples, errors, ended, namespace))
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while opened.load(Ordering::SeqCst) < watchers {
        if tasks.iter().any(tokio::task::JoinHandle::is_finished) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "only {} of {watchers} watches opened in 300 s",
            opened.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if opened.load(Ordering::SeqCst) < watchers {
        // A watcher failed to open: surface its error.
        for t in tasks {
            if t.is_finished() {
                t.await??;
            }
        }
        bail!("a watch ended before the updates started");
    }
    let open_seconds = open_started.elapsed().as_secs_f64();

    // Updates, paced: writer t sends updates t, t+W, t+2W, ... every W/rate seconds.
    let updates = (wl.update_rate * wl.watch_seconds) as usize;
    let writers = wl.update_concurrency.min(updates.max(1));
    let interval = Duration::from_secs_f64(writers as f64 / wl.update_rate.max(1) as f64);
    let per_ns_objects = objects / wl.namespaces;
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writer_tasks = Vec::new();
    for t in 0..writers {
        let (target, per_ns_done, total_done, failed, namespaces) =
            (target.clone(), Arc::clone(&per_ns_done), Arc::clone(&total_done), Arc::clone(&failed), wl.namespaces);
        writer_tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut h = hist();
            for j in (t..updates).step_by(writers) {
                tick.tick().await;
                // Update j touches namespace j % N, cycling through that namespace's objects.
                let i = (j % namespaces) + namespaces * ((j / namespaces) % per_ns_objects);
                let (ns, name) = (namespace_of(i, namespaces), name_of(i));
                let sent = workload::now_nanos();
                let at = Instant::now();
                let (status, body) = conn::send(
                    &target.client,
                    Method::PATCH,
                    &target.object(&ns, &name),
                    Some("application/merge-patch+json"),
                    workload::stamp_patch(sent),
                )
                .await?;
                h.record(at.elapsed().as_nanos() as u64).ok();
                if status == StatusCode::OK {
                    per_ns_done[i % namespaces].fetch_add(1, Ordering::SeqCst);
                    total_done.fetch_add(1, Ordering::SeqCst);
                } else {
                    if failed.fetch_add(1, Ordering::SeqCst) < 3 {
                        eprintln!("update {ns}/{name}: {status}: {}", String::from_utf8_lossy(&body));
                    }
                }
            }
            Ok::<_, anyhow::Error>(h)
        }));
    }
    let mut update_h = hist();
    for t in writer_tasks {
        update_h.add(t.await??).ok();
    }
    let seconds = started.elapsed().as_secs_f64();
    finished.store(true, Ordering::SeqCst);
    let mut lag = hist();
    let mut delivered = 0u64;
    let mut errors = 0u64;
    let mut ended_early = 0usize;
    for t in tasks {
        let (samples, e, ended, namespace) = t.await??;
        let due = match namespace {
            Some(k) => per_ns_done[k].load(Ordering::SeqCst),
            None => total_done.load(Ordering::SeqCst),
        };
        if ended && (samples.len() as u64) < due {
            ended_early += 1;
        }
        delivered += samples.len() as u64;
        errors += e;
        for s in samples {
            lag.record(s).ok();
        }
    }
    let done = total_done.load(Ordering::SeqCst);
    let expected = done * wl.all_namespace_watchers as u64
        + (0..wl.namespace_watchers).map(|k| per_ns_done[k].load(Ordering::SeqCst)).sum::<u64>();
    ensure!(errors == 0, "{errors} ERROR events on the watches");
    Ok(Watch {
        watchers,
        updates: done,
        failed_updates: failed.load(Ordering::SeqCst),
        seconds,
        update_p99_ms: ms(update_h.value_at_quantile(0.99)),
        expected,
        delivered,
        ended_early,
        lag_p50_ms: ms(lag.value_at_quantile(0.5)),
        lag_p99_ms: ms(lag.value_at_quantile(0.99)),
        lag_max_ms: ms(lag.max()),
        open_seconds,
    })
}

/// Grows the target from `have` to `wl.objects` objects and measures everything at that size.
/// Progress goes to stderr.
pub async fn run_at_size(target: &Target, wl: &Workload, have: usize, label: &str) -> anyhow::Result<Figures> {
    let n = wl.objects;
    let mut f = Figures { objects: n, ..Figures::default() };
    f.create = create(target, wl, have, n).await.context("create phase")?;
    eprintln!(
        "[{label}] create {} at concurrency {}: {:.1} s = {:.0}/s (p50 {:.1} ms, p99 {:.1} ms)",
        f.create.count,
        wl.concurrency,
        f.create.seconds,
        f.create.rate(),
        f.create.p50_ms,
        f.create.p99_ms
    );
    if wl.status {
        let s = write_status(target, wl, have, n).await.context("status phase")?;
        eprintln!(
            "[{label}] status writes {}: {:.1} s = {:.0}/s (p99 {:.1} ms)",
            s.count,
            s.seconds,
            s.rate(),
            s.p99_ms
        );
        f.status = Some(s);
    }
    f.full = full_lists(target, wl.list_repeats, n).await.context("full list phase")?;
    eprintln!(
        "[{label}] full list of {n} ({:.0} MiB): best {:.0} ms, median {:.0} ms",
        f.full.bytes as f64 / 1048576.0,
        f.full.best(),
        f.full.median()
    );
    f.paged = paged_lists(target, wl.list_repeats, wl.page_size, n).await.context("paginated list phase")?;
    eprintln!(
        "[{label}] paginated list ({} pages of {}): best {:.0} ms, median {:.0} ms",
        f.paged.pages,
        wl.page_size,
        f.paged.best(),
        f.paged.median()
    );
    (f.namespace_p50_ms, f.namespace_p99_ms) =
        namespace_lists(target, wl, n).await.context("one-namespace list phase")?;
    eprintln!("[{label}] one-namespace list p50 {:.2} ms, p99 {:.2} ms", f.namespace_p50_ms, f.namespace_p99_ms);
    if wl.namespace_watchers + wl.all_namespace_watchers > 0 && wl.watch_seconds > 0 && wl.update_rate > 0 {
        let w = watch(target, wl, n).await.context("watch phase")?;
        eprintln!(
            "[{label}] watch: {} watchers opened in {:.1} s; {} updates ({} failed) in {:.1} s = {:.0}/s; {} of {} deliveries ({} streams ended early by the server); lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            w.watchers,
            w.open_seconds,
            w.updates,
            w.failed_updates,
            w.seconds,
            w.updates as f64 / w.seconds,
            w.delivered,
            w.expected,
            w.ended_early,
            w.lag_p50_ms,
            w.lag_p99_ms,
            w.lag_max_ms
        );
        f.watch = Some(w);
    }
    Ok(f)
}

/// Samples the resident memory of some processes every 200 ms and keeps the largest.
pub struct MemorySampler {
    peaks: Arc<Mutex<HashMap<String, u64>>>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MemorySampler {
    #[must_use]
    pub fn start(pids: Vec<(String, u32)>) -> Self {
        let peaks = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&peaks), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                for (name, pid) in &pids {
                    if let Some((rss, _)) = conn::proc_memory_kib(*pid)
                        && let Ok(mut m) = p.lock()
                    {
                        let e = m.entry(name.clone()).or_insert(0);
                        *e = (*e).max(rss);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { peaks, stop, task: Some(task) }
    }

    /// Stops sampling; the peak RSS of each process in KiB.
    pub async fn finish(mut self) -> HashMap<String, u64> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.peaks.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Markdown rows for one set of figures (used by the api report).
#[must_use]
pub fn markdown_rows(f: &Figures, wl: &Workload) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "| creates, concurrency {} ({} objects) | {:.0} /s (p50 {:.1} ms, p99 {:.1} ms) |\n",
        wl.concurrency,
        f.create.count,
        f.create.rate(),
        f.create.p50_ms,
        f.create.p99_ms
    ));
    if let Some(st) = &f.status {
        s.push_str(&format!(
            "| status writes (merge patch on /status), concurrency {} | {:.0} /s (p99 {:.1} ms) |\n",
            wl.concurrency,
            st.rate(),
            st.p99_ms
        ));
    }
    s.push_str(&format!(
        "| full LIST of {} (JSON, {:.0} MiB; best / median of {}) | {:.0} ms / {:.0} ms |\n",
        f.objects,
        f.full.bytes as f64 / 1048576.0,
        f.full.ms.len(),
        f.full.best(),
        f.full.median()
    ));
    s.push_str(&format!(
        "| paginated LIST ({} pages of {}; best / median of {}) | {:.0} ms / {:.0} ms |\n",
        f.paged.pages,
        wl.page_size,
        f.paged.ms.len(),
        f.paged.best(),
        f.paged.median()
    ));
    s.push_str(&format!(
        "| one-namespace LIST ({} objects) p50 / p99 | {:.2} ms / {:.2} ms |\n",
        f.objects / wl.namespaces,
        f.namespace_p50_ms,
        f.namespace_p99_ms
    ));
    if let Some(w) = &f.watch {
        s.push_str(&format!(
            "| watch: {} watchers ({} all-namespace), {} updates in {:.1} s ({:.0}/s, update p99 {:.1} ms), {} of {} deliveries: lag p50 / p99 / max | {:.1} ms / {:.1} ms / {:.1} ms |\n",
            w.watchers,
            wl.all_namespace_watchers,
            w.updates,
            w.seconds,
            w.updates as f64 / w.seconds,
            w.update_p99_ms,
            w.delivered,
            w.expected,
            w.lag_p50_ms,
            w.lag_p99_ms,
            w.lag_max_ms
        ));
    }
    s
}
