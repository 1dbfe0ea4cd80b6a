//! Issue 18's Kustomization benchmark: Flux's kustomize-controller (with its source-controller)
//! and Eddy side by side, each in its own cluster, measured one after the other.
//!
//! R repositories served by `git http-backend` on 127.0.0.1 each hold one app directory
//! (ServiceAccount, Service, Deployment with 0 replicas, Ingress, named by post-build
//! substitution); R GitRepositories point at them and N Kustomizations (`prune`, `wait`,
//! `timeout: 1m`, `postBuild.substitute.app` = their name) build them into the bench namespace,
//! as Flux's own benchmark (fluxcd/flux-benchmark) does with OCIRepositories. Per side, each
//! phase bounded in time:
//!
//! 1. create the R GitRepositories and wait until they are Ready (reported, not a goal);
//! 2. create the N Kustomizations at a fixed concurrency: time until every one is Ready with
//!    its repository's revision applied, as seen by one watch;
//! 3. steady state for a fixed time: CPU seconds and resident memory of the side's processes
//!    (Flux: source-controller + kustomize-controller, and kustomize-controller alone; Eddy:
//!    its whole process, which also serves the API and stores the objects);
//! 4. the upgrade run: one commit to every repository that changes every app's CPU request,
//!    `reconcile.fluxcd.io/requestedAt` on the GitRepositories (so neither side waits for its
//!    source interval), and the time until every Kustomization has applied it and is Ready.
//!
//! Each side is a fresh cluster that `hack/bench/run` tears down afterwards, so nothing is
//! deleted here; the namespace must hold no Kustomization when a side starts.

pub mod manifests;
mod report;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use http::{Method, StatusCode};
use serde_json::json;

use crate::conn;
use crate::gitrepo::procs::{self, Meter, Phase};
use crate::gitrepo::repos::Repos;
use crate::gitrepo::tracker::{Completion, Goal, Tracker};
use crate::gitrepo::{Side, each, ensure_namespace};

const SOURCE_API: &str = "/apis/source.toolkit.fluxcd.io/v1";
const KUSTOMIZE_API: &str = "/apis/kustomize.toolkit.fluxcd.io/v1";

/// The workload.
#[derive(Debug, Clone)]
pub struct Config {
    /// The sides, measured in this order.
    pub sides: Vec<Side>,
    /// Kustomizations.
    pub objects: usize,
    /// Repositories (and GitRepositories).
    pub repos: usize,
    /// `spec.interval` of the Kustomizations.
    pub interval: String,
    /// `spec.interval` of the GitRepositories.
    pub source_interval: String,
    /// Length of the steady-state phase.
    pub steady: Duration,
    /// The namespace everything lives in (and the apps are applied to).
    pub namespace: String,
    /// Concurrent create requests.
    pub concurrency: usize,
    /// Bound of each wait for all objects.
    pub ready_timeout: Duration,
    /// A service account the Kustomizations impersonate (created, bound to cluster-admin in the
    /// namespace), as Flux's benchmark does; none by default.
    pub service_account: Option<String>,
    /// The `hack/bench/run` command line, for the report.
    pub command: String,
}

/// A timed wait for all objects, with what the side used meanwhile.
#[derive(Debug, Clone)]
pub struct Timed {
    /// When each object met its goal.
    pub completion: Completion,
    /// The measured processes meanwhile.
    pub phase: Phase,
    /// kube-apiserver and etcd meanwhile.
    pub context: Phase,
    /// Seconds the client took to send its requests.
    pub sending_seconds: f64,
    /// Load averages at the end.
    pub load: String,
}

/// One side's figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// "Flux" or "Eddy".
    pub name: String,
    /// Seconds until the GitRepositories were Ready.
    pub sources_seconds: f64,
    /// The measured processes at rest before the Kustomizations.
    pub idle: Phase,
    /// Creation until all Ready.
    pub create: Timed,
    /// The steady state.
    pub steady: Phase,
    /// kube-apiserver and etcd during the steady state.
    pub steady_context: Phase,
    /// Kustomization changes a watch saw during the steady state.
    pub steady_events: u64,
    /// Load averages at the end of the steady state.
    pub steady_load: String,
    /// The upgrade run.
    pub upgrade: Timed,
}

/// Runs the benchmark on every side; returns the Markdown report.
///
/// # Errors
/// A side cannot be reached, or any phase misses its time bound.
pub async fn run(config: &Config) -> anyhow::Result<String> {
    ensure!(config.repos > 0 && config.objects >= config.repos, "need at least one Kustomization per repository");
    let mut repos = tokio::task::block_in_place(|| Repos::create_with(config.repos, manifests::fill))?;
    eprintln!("{} repositories served at {}", repos.len(), repos.url(0));
    let mut outcomes = Vec::new();
    for side in &config.sides {
        eprintln!("== {}: {:?}", side.name, side.procs);
        let outcome = run_side(config, side, &mut repos).await.with_context(|| format!("side {}", side.name))?;
        outcomes.push(outcome);
    }
    Ok(report::markdown(config, &outcomes))
}

async fn run_side(config: &Config, side: &Side, repos: &mut Repos) -> anyhow::Result<Outcome> {
    let client = conn::connect(&side.kubeconfig).await?;
    let ns = &config.namespace;
    ensure_namespace(&client, ns).await?;
    if let Some(sa) = &config.service_account {
        for (collection, body) in manifests::service_account(ns, sa) {
            let body = serde_json::to_vec(&body)?;
            let ok = [StatusCode::CREATED, StatusCode::CONFLICT];
            conn::expect(&client, Method::POST, &collection, Some("application/json"), body, &ok).await?;
        }
    }
    let sources = format!("{SOURCE_API}/namespaces/{ns}/gitrepositories");
    let kustomizations = format!("{KUSTOMIZE_API}/namespaces/{ns}/kustomizations");

    // 1. The sources.
    let source_tracker = Tracker::start(client.clone(), sources.clone()).await?;
    let started = Instant::now();
    let bodies: Vec<Vec<u8>> = (0..config.repos)
        .map(|r| serde_json::to_vec(&manifests::git_repository(ns, r, &repos.url(r), &config.source_interval)))
        .collect::<Result<_, _>>()?;
    create_all(&client, &sources, bodies, config.concurrency).await?;
    let sources_seconds = source_tracker
        .wait_all(&source_goals(config, repos), started, config.ready_timeout, &format!("{} sources", side.name))
        .await?
        .all_seconds;
    eprintln!("[{}] {} GitRepositories Ready in {sources_seconds:.1} s", side.name, config.repos);
    procs::settle(&side.procs, Duration::from_secs(60)).await;
    let idle = {
        let m = Meter::start(&side.procs);
        tokio::time::sleep(Duration::from_secs(10)).await;
        m.finish().await
    };

    // 2. The Kustomizations.
    let tracker = Tracker::start(client.clone(), kustomizations.clone()).await?;
    ensure!(tracker.len() == 0, "{kustomizations} is not empty (the benchmark wants a fresh cluster)");
    let bodies: Vec<Vec<u8>> = (0..config.objects)
        .map(|i| {
            let sa = config.service_account.as_deref();
            serde_json::to_vec(&manifests::kustomization(ns, i, config.repos, &config.interval, sa))
        })
        .collect::<Result<_, _>>()?;
    let goals = goal_map(config, repos);
    let create = timed(side, &tracker, &goals, config.ready_timeout, "creation", || {
        create_all(&client, &kustomizations, bodies, config.concurrency)
    })
    .await?;
    eprintln!(
        "[{}] all {} Ready {:.1} s after the first create",
        side.name, config.objects, create.completion.all_seconds
    );

    // 3. Steady state.
    procs::settle(&side.procs, Duration::from_secs(30)).await;
    let (events0, load) = (tracker.events(), procs::loadavg());
    let (m, c) = (Meter::start(&side.procs), Meter::start(&side.context));
    tokio::time::sleep(config.steady).await;
    let (steady, steady_context) = (m.finish().await, c.finish().await);
    let steady_events = tracker.events() - events0;
    eprintln!(
        "[{}] steady state: {:.1} CPU s in {:.0} s, {steady_events} Kustomization changes",
        side.name,
        steady.total().cpu_seconds,
        steady.seconds
    );

    // 4. The upgrade run.
    tokio::task::block_in_place(|| repos.push_all())?;
    let goals = goal_map(config, repos);
    let token = format!("bench-{}", crate::workload::now_nanos());
    let upgrade = timed(side, &tracker, &goals, config.ready_timeout, "upgrade", || {
        request_all(&client, &sources, config.repos, &token)
    })
    .await?;
    eprintln!("[{}] upgrade: all applied and Ready in {:.1} s", side.name, upgrade.completion.all_seconds);
    Ok(Outcome {
        name: side.name.clone(),
        sources_seconds,
        idle,
        create,
        steady,
        steady_context,
        steady_events,
        steady_load: load,
        upgrade,
    })
}

/// Runs `send` at the start of a measured wait for `goals`.
async fn timed<F, Fut>(
    side: &Side,
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
    let (m, c) = (Meter::start(&side.procs), Meter::start(&side.context));
    let start = Instant::now();
    tokio::time::timeout(timeout, send())
        .await
        .with_context(|| format!("{} {label}: sending timed out", side.name))??;
    let sending_seconds = start.elapsed().as_secs_f64();
    let completion = tracker.wait_all(goals, start, timeout, &format!("{} {label}", side.name)).await?;
    let (phase, context) = (m.finish().await, c.finish().await);
    Ok(Timed { completion, phase, context, sending_seconds, load: procs::loadavg() })
}

/// Every GitRepository's goal: Ready with its repository's current revision.
fn source_goals(config: &Config, repos: &Repos) -> HashMap<String, Goal> {
    (0..config.repos).map(|r| (manifests::repo_name(r), Goal { revision: repos.revision(r), handled: None })).collect()
}

/// Every Kustomization's goal: Ready with its repository's current revision applied.
fn goal_map(config: &Config, repos: &Repos) -> HashMap<String, Goal> {
    (0..config.objects)
        .map(|i| {
            let (name, r) = manifests::kustomization_of(i, config.repos);
            (name, Goal { revision: repos.revision(r), handled: None })
        })
        .collect()
}

/// POSTs every body to `collection` on `concurrency` tasks.
async fn create_all(
    client: &kube::Client,
    collection: &str,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let bodies = Arc::new(bodies);
    let (client, collection) = (client.clone(), collection.to_owned());
    each(bodies.len(), concurrency, move |i| {
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

/// Sets `reconcile.fluxcd.io/requestedAt` on every GitRepository (what `flux reconcile source
/// git` does).
async fn request_all(client: &kube::Client, sources: &str, repos: usize, token: &str) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}))?;
    for r in 0..repos {
        let uri = format!("{sources}/{}", manifests::repo_name(r));
        conn::expect(
            client,
            Method::PATCH,
            &uri,
            Some("application/merge-patch+json"),
            body.clone(),
            &[StatusCode::OK],
        )
        .await?;
    }
    Ok(())
}
