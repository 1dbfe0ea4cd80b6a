//! Issue 17's GitRepository benchmark, Flux's source-controller and Eddy side by side in one run.
//!
//! N GitRepositories (interval 1m) over R repositories served by `git http-backend` on
//! 127.0.0.1 ([`repos`]); each side is a cluster (Flux's: CRDs and its controllers on the host;
//! Eddy's: Eddy behind kube-apiserver) reached through its kube-apiserver, and measured one
//! after the other, each phase bounded in time:
//!
//! 1. create all N objects at a fixed concurrency; time until every one is Ready at its
//!    repository's revision, as seen by one watch ([`tracker`]);
//! 2. steady state for a fixed time (default 5 minutes) with nothing changing: CPU seconds and
//!    resident memory of the side's processes ([`procs`]), and the Git requests it made;
//! 3. one push to every repository: time until all are Ready at the new revision, brought in by
//!    the interval alone;
//! 4. another push, then `reconcile.fluxcd.io/requestedAt` set on every object: time until all
//!    are Ready at that revision having handled the request;
//! 5. delete everything and wait until it is gone (finalizers), before the next side.
//!
//! Flux's figures are source-controller plus kustomize-controller (idle here, but part of what
//! Flux runs for the same job); Eddy's are its whole process, which also serves the API and
//! stores the objects (Flux keeps those in kube-apiserver and etcd, reported for context).

pub mod procs;
mod report;
pub mod repos;
pub mod tracker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use eddy_test_git::RequestCounts;
use http::{Method, StatusCode};
use serde_json::json;

pub use self::procs::Procs;
use self::procs::{Meter, Phase};
pub use self::repos::Repos;
use self::tracker::{Completion, Goal, Tracker};
use crate::conn;

const API: &str = "/apis/source.toolkit.fluxcd.io/v1";

/// One side: how to reach it and which processes are its cost.
#[derive(Debug, Clone)]
pub struct Side {
    pub name: String,
    pub kubeconfig: PathBuf,
    /// Measured: the controllers (Flux) or the whole Eddy process.
    pub procs: Procs,
    /// Reported for context: the cluster's kube-apiserver and etcd.
    pub context: Procs,
}

/// The workload.
#[derive(Debug, Clone)]
pub struct Config {
    pub sides: Vec<Side>,
    pub objects: usize,
    pub repos: usize,
    pub interval: String,
    pub steady: Duration,
    pub namespace: String,
    pub concurrency: usize,
    /// Bound of each wait for all objects (creation, push, requestedAt).
    pub ready_timeout: Duration,
    pub requested_at: bool,
}

/// Git requests made during a phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitRequests {
    pub http: u64,
    pub info_refs: u64,
    pub ls_refs: u64,
    pub fetches: u64,
}

impl GitRequests {
    fn between(a: RequestCounts, b: RequestCounts) -> Self {
        Self {
            http: b.requests - a.requests,
            info_refs: b.upload_pack_info_refs - a.upload_pack_info_refs,
            ls_refs: b.ls_refs - a.ls_refs,
            fetches: b.fetches - a.fetches,
        }
    }
}

/// A timed wait for all objects, with what the side used meanwhile.
#[derive(Debug, Clone)]
pub struct Timed {
    pub completion: Completion,
    pub phase: Phase,
    pub context: Phase,
    pub git: GitRequests,
    /// Seconds the client took to send its requests (creates, annotations).
    pub sending_seconds: f64,
    pub load: String,
}

/// One side's figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub create: Timed,
    pub steady: Phase,
    pub steady_context: Phase,
    pub steady_git: GitRequests,
    /// Watch events (object changes) seen during the steady state.
    pub steady_events: u64,
    pub steady_load: String,
    pub push: Timed,
    pub requested: Option<Timed>,
    pub idle: Phase,
}

/// Runs the benchmark on every side; returns the Markdown report.
///
/// # Errors
/// A side cannot be reached, or any phase misses its time bound.
pub async fn run(config: &Config) -> anyhow::Result<String> {
    ensure!(config.repos > 0 && config.objects >= config.repos, "need at least one object per repository");
    let mut repos = tokio::task::block_in_place(|| Repos::create(config.repos))?;
    eprintln!("{} repositories served at {}", repos.len(), repos.url(0));
    let mut outcomes = Vec::new();
    for side in &config.sides {
        eprintln!("== {}: {:?}", side.name, side.procs);
        outcomes.push(run_side(config, side, &mut repos).await.with_context(|| format!("side {}", side.name))?);
    }
    Ok(report::markdown(config, &outcomes))
}

async fn run_side(config: &Config, side: &Side, repos: &mut Repos) -> anyhow::Result<Outcome> {
    let client = conn::connect(&side.kubeconfig).await?;
    let ns = &config.namespace;
    ensure_namespace(&client, ns).await?;
    let collection = format!("{API}/namespaces/{ns}/gitrepositories");
    delete_all(&client, &collection).await?;
    procs::settle(&side.procs, Duration::from_secs(120)).await;
    let idle = {
        let m = Meter::start(&side.procs);
        tokio::time::sleep(Duration::from_secs(10)).await;
        m.finish().await
    };
    let tracker = Tracker::start(client.clone(), collection.clone()).await?;
    ensure!(tracker.len() == 0, "{collection} is not empty");

    // 1. Creation.
    let goals = goal_map(config, repos, None);
    let create = timed(side, repos, &tracker, &goals, config.ready_timeout, "creation", || {
        create_all(&client, &collection, config, repos)
    })
    .await?;
    eprintln!(
        "[{}] all {} Ready {:.1} s after the first create",
        side.name, config.objects, create.completion.all_seconds
    );

    // 2. Steady state.
    let (git0, events0, load) = (repos.counts(), tracker.events(), procs::loadavg());
    let (m, c) = (Meter::start(&side.procs), Meter::start(&side.context));
    tokio::time::sleep(config.steady).await;
    let (steady, steady_context) = (m.finish().await, c.finish().await);
    let steady_git = GitRequests::between(git0, repos.counts());
    let steady_events = tracker.events() - events0;
    eprintln!(
        "[{}] steady state: {:.1} CPU s in {:.0} s, {steady_git:?}, {steady_events} object changes",
        side.name,
        steady.total().cpu_seconds,
        steady.seconds
    );

    // 3. A push to every repository, brought in by the interval.
    tokio::task::block_in_place(|| repos.push_all())?;
    let goals = goal_map(config, repos, None);
    let push = timed(side, repos, &tracker, &goals, config.ready_timeout, "push", || async { Ok(()) }).await?;
    eprintln!("[{}] push: all Ready at the new revision in {:.1} s", side.name, push.completion.all_seconds);

    // 4. A push, and requestedAt on every object.
    let requested = if config.requested_at {
        tokio::task::block_in_place(|| repos.push_all())?;
        let token = format!("bench-{}", crate::workload::now_nanos());
        let goals = goal_map(config, repos, Some(&token));
        let t = timed(side, repos, &tracker, &goals, config.ready_timeout, "requestedAt", || {
            annotate_all(&client, &collection, config, &token)
        })
        .await?;
        eprintln!("[{}] push + requestedAt: all Ready in {:.1} s", side.name, t.completion.all_seconds);
        Some(t)
    } else {
        None
    };

    // 5. Clean up.
    delete_all(&client, &collection).await?;
    Ok(Outcome {
        name: side.name.clone(),
        create,
        steady,
        steady_context,
        steady_git,
        steady_events,
        steady_load: load,
        push,
        requested,
        idle,
    })
}

/// Runs `send` at the start of a measured wait for `goals`.
async fn timed<F, Fut>(
    side: &Side,
    repos: &Repos,
    tracker: &Tracker,
    goals: &HashMap<String, Goal>,
    timeout: Duration,
    label: &str,
    send: F,
) -> anyhow::Result<Timed>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let git0 = repos.counts();
    let (m, c) = (Meter::start(&side.procs), Meter::start(&side.context));
    let start = Instant::now();
    send().await?;
    let sending_seconds = start.elapsed().as_secs_f64();
    let completion = tracker.wait_all(goals, start, timeout, &format!("{} {label}", side.name)).await?;
    let (phase, context) = (m.finish().await, c.finish().await);
    Ok(Timed {
        completion,
        phase,
        context,
        git: GitRequests::between(git0, repos.counts()),
        sending_seconds,
        load: procs::loadavg(),
    })
}

/// Object `i`'s name and repository.
fn object(i: usize, repos: usize) -> (String, usize) {
    (format!("app-{i:04}"), i % repos)
}

/// Every object's goal: Ready at its repository's current revision (having handled `token`).
fn goal_map(config: &Config, repos: &Repos, token: Option<&str>) -> HashMap<String, Goal> {
    (0..config.objects)
        .map(|i| {
            let (name, r) = object(i, config.repos);
            (name, Goal { revision: repos.revision(r), handled: token.map(str::to_owned) })
        })
        .collect()
}

/// Runs `f(i)` for `0..n` on `concurrency` tasks.
pub async fn each<F, Fut>(n: usize, concurrency: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let f = Arc::new(f);
    let cursor = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (f, cursor) = (Arc::clone(&f), Arc::clone(&cursor));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = cursor.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                f(i).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn create_all(client: &kube::Client, collection: &str, config: &Config, repos: &Repos) -> anyhow::Result<()> {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..config.objects)
            .map(|i| {
                let (name, r) = object(i, config.repos);
                serde_json::to_vec(&json!({
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": name, "namespace": config.namespace},
                    "spec": {"interval": config.interval, "url": repos.url(r), "ref": {"branch": "main"}, "timeout": "60s"},
                }))
                .unwrap_or_default()
            })
            .collect(),
    );
    let (client, collection) = (client.clone(), collection.to_owned());
    each(config.objects, config.concurrency, move |i| {
        let (client, collection, bodies) = (client.clone(), collection.clone(), Arc::clone(&bodies));
        async move {
            let body = bodies[i].clone();
            conn::expect(&client, Method::POST, &collection, Some("application/json"), body, &[StatusCode::CREATED])
                .await
                .map(|_| ())
        }
    })
    .await
}

async fn annotate_all(client: &kube::Client, collection: &str, config: &Config, token: &str) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}))?;
    let (client, collection, repos) = (client.clone(), collection.to_owned(), config.repos);
    each(config.objects, config.concurrency, move |i| {
        let (client, body) = (client.clone(), body.clone());
        let uri = format!("{collection}/{}", object(i, repos).0);
        async move {
            conn::expect(&client, Method::PATCH, &uri, Some("application/merge-patch+json"), body, &[StatusCode::OK])
                .await
                .map(|_| ())
        }
    })
    .await
}

pub async fn ensure_namespace(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))?;
    conn::expect(
        client,
        Method::POST,
        "/api/v1/namespaces",
        Some("application/json"),
        body,
        &[StatusCode::CREATED, StatusCode::CONFLICT],
    )
    .await?;
    Ok(())
}

/// Deletes every GitRepository of the collection and waits (up to 10 minutes) until the
/// controller has removed its finalizer from each and they are gone.
async fn delete_all(client: &kube::Client, collection: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    conn::expect(client, Method::DELETE, collection, None, Vec::new(), &[StatusCode::OK]).await?;
    loop {
        let body = conn::expect(client, Method::GET, collection, None, Vec::new(), &[StatusCode::OK]).await?;
        let left = conn::summarize_list(&body)?.items.len();
        if left == 0 {
            eprintln!("collection {collection} empty after {:.1} s", started.elapsed().as_secs_f64());
            return Ok(());
        }
        ensure!(started.elapsed() < Duration::from_secs(600), "{left} GitRepositories still there after 10 minutes");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
