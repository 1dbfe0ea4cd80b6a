//! Issue 6: server-side apply of a realistic HelmRelease (about 3 KiB, nested values) by two
//! field managers, as applies/s and latency, against any server that serves HelmReleases.
//!
//! Each object is first created by an apply of the GitOps applier (not measured). Then the
//! measured applies alternate per object between the applier (`kustomize-controller`, the
//! whole object with a new image tag, `force=true` as Flux applies) and an operator
//! (`ops-team`, a label and two values the applier never sets, no force: it owns them alone,
//! so a conflict would be a server bug and fails the run). At the end every object must carry
//! both managers' last values and both managers in `managedFields`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::conn;
use crate::workload::HelmReleases;

pub const APPLIER: &str = "kustomize-controller";
pub const OPERATOR: &str = "ops-team";

#[derive(Debug, Clone)]
pub struct Config {
    pub applies: usize,
    pub objects: usize,
    pub concurrency: usize,
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self { applies: 10_000, objects: 100, concurrency: 8, namespace: "bench-ssa".into() }
    }
}

/// Where HelmReleases are served.
#[derive(Clone)]
pub struct Target {
    pub client: kube::Client,
    pub group: String,
    pub version: String,
}

impl Target {
    fn collection(&self, ns: &str) -> String {
        format!("/apis/{}/{}/namespaces/{ns}/helmreleases", self.group, self.version)
    }
}

#[derive(Debug, Clone)]
pub struct Figures {
    pub applies: usize,
    pub seconds: f64,
    /// `(manager, p50, p99, max)` in ms, then all applies together.
    pub latency: Vec<(String, f64, f64, f64)>,
    pub object_bytes: usize,
}

/// The outcome for a server without apply support.
#[derive(Debug)]
pub enum Outcome {
    Ran(Figures),
    Unsupported(String),
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

async fn apply(
    target: &Target,
    ns: &str,
    name: &str,
    manager: &str,
    force: bool,
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
    let uri =
        format!("{}/{name}?fieldManager={manager}{}", target.collection(ns), if force { "&force=true" } else { "" });
    conn::send(&target.client, Method::PATCH, &uri, Some("application/apply-patch+yaml"), body).await
}

/// Deletes the benchmark's HelmReleases in the namespace (creating the namespace where the
/// server has namespaces).
async fn prepare(target: &Target, ns: &str) -> anyhow::Result<()> {
    let (status, _) = conn::send(&target.client, Method::GET, "/api/v1/namespaces?limit=1", None, Vec::new()).await?;
    if status == StatusCode::OK {
        let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
        conn::expect(
            &target.client,
            Method::POST,
            "/api/v1/namespaces",
            Some("application/json"),
            body.into_bytes(),
            &[StatusCode::CREATED, StatusCode::CONFLICT],
        )
        .await?;
    }
    conn::expect(&target.client, Method::DELETE, &target.collection(ns), None, Vec::new(), &[StatusCode::OK]).await?;
    Ok(())
}

pub async fn run(target: &Target, config: &Config, label: &str) -> anyhow::Result<Outcome> {
    ensure!(config.objects > 0 && config.concurrency > 0, "objects and concurrency must be positive");
    let ns = config.namespace.clone();
    prepare(target, &ns).await?;
    let bodies = Arc::new(HelmReleases::new(&format!("{}/{}", target.group, target.version)));
    let name_of = |o: usize| format!("podinfo-{o:04}");

    // Creation by the applier; a server without apply support says so here.
    let (status, body) = apply(target, &ns, &name_of(0), APPLIER, true, bodies.full(&ns, &name_of(0), "6.7.0")).await?;
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE || status == StatusCode::METHOD_NOT_ALLOWED {
        return Ok(Outcome::Unsupported(format!("{status}: {}", String::from_utf8_lossy(&body))));
    }
    ensure!(status == StatusCode::CREATED, "[{label}] first apply: {status}: {}", String::from_utf8_lossy(&body));
    let object_bytes = bodies.full(&ns, &name_of(0), "6.7.0").len();
    for o in 1..config.objects {
        let (status, body) =
            apply(target, &ns, &name_of(o), APPLIER, true, bodies.full(&ns, &name_of(o), "6.7.0")).await?;
        ensure!(
            status == StatusCode::CREATED,
            "[{label}] creating apply {o}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    // Measured applies: worker w owns objects w, w+C, ...; each object sees applier and
    // operator in turn.
    let rounds = config.applies.div_ceil(config.objects);
    let workers = config.concurrency.min(config.objects);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (target, bodies, ns, objects, applies) =
            (target.clone(), Arc::clone(&bodies), ns.clone(), config.objects, config.applies);
        tasks.push(tokio::spawn(async move {
            let (mut ha, mut ho, mut n) = (hist(), hist(), 0usize);
            for r in 0..rounds {
                for o in (w..objects).step_by(workers) {
                    let seq = r * objects + o;
                    if seq >= applies {
                        break;
                    }
                    let name = format!("podinfo-{o:04}");
                    let (manager, force, body, h) = if r % 2 == 0 {
                        (APPLIER, true, bodies.full(&ns, &name, &format!("6.7.{}", r + 1)), &mut ha)
                    } else {
                        (OPERATOR, false, bodies.ops(&ns, &name, &r.to_string()), &mut ho)
                    };
                    let at = Instant::now();
                    let (status, resp) = apply(&target, &ns, &name, manager, force, body).await?;
                    h.record(at.elapsed().as_nanos() as u64).ok();
                    if status != StatusCode::OK {
                        bail!("apply {seq} by {manager} to {name}: {status}: {}", String::from_utf8_lossy(&resp));
                    }
                    n += 1;
                }
            }
            Ok::<_, anyhow::Error>((ha, ho, n))
        }));
    }
    let (mut ha, mut ho, mut done) = (hist(), hist(), 0usize);
    for t in tasks {
        let (a, o, n) = t.await??;
        ha.add(a).ok();
        ho.add(o).ok();
        done += n;
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(done == config.applies, "{done} applies done, expected {}", config.applies);
    let mut all = ha.clone();
    all.add(&ho).ok();
    let q = |h: &Histogram<u64>| {
        (h.value_at_quantile(0.5) as f64 / 1e6, h.value_at_quantile(0.99) as f64 / 1e6, h.max() as f64 / 1e6)
    };
    let latency = [(APPLIER, &ha), (OPERATOR, &ho), ("all", &all)]
        .into_iter()
        .map(|(m, h)| {
            let (p50, p99, max) = q(h);
            (m.to_owned(), p50, p99, max)
        })
        .collect();
    verify(target, config, rounds).await.with_context(|| format!("[{label}] checking the applied objects"))?;
    Ok(Outcome::Ran(Figures { applies: done, seconds, latency, object_bytes }))
}

/// Every object carries the last values of both managers and both managers' Apply entries.
async fn verify(target: &Target, config: &Config, rounds: usize) -> anyhow::Result<()> {
    for o in 0..config.objects {
        let name = format!("podinfo-{o:04}");
        // The last round in which this object was applied by each manager.
        let applied_rounds: Vec<usize> = (0..rounds).filter(|r| r * config.objects + o < config.applies).collect();
        let last_applier = applied_rounds.iter().rev().find(|r| *r % 2 == 0).map(|r| format!("6.7.{}", r + 1));
        let last_operator = applied_rounds.iter().rev().find(|r| *r % 2 == 1).map(ToString::to_string);
        let uri = format!("{}/{name}", target.collection(&config.namespace));
        let body = conn::expect(&target.client, Method::GET, &uri, None, Vec::new(), &[StatusCode::OK]).await?;
        let obj: Value = serde_json::from_slice(&body)?;
        let tag = obj.pointer("/spec/values/image/tag").and_then(Value::as_str);
        ensure!(
            tag == Some(last_applier.as_deref().unwrap_or("6.7.0")),
            "{name}: image tag {tag:?}, expected {last_applier:?}"
        );
        ensure!(obj.pointer("/spec/values/replicaCount") == Some(&Value::from(3)), "{name}: replicaCount lost");
        let managers: Vec<(&str, &str)> = obj
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter().map(|e| (e["manager"].as_str().unwrap_or(""), e["operation"].as_str().unwrap_or(""))).collect()
            })
            .unwrap_or_default();
        ensure!(managers.contains(&(APPLIER, "Apply")), "{name}: no Apply entry of {APPLIER}: {managers:?}");
        if let Some(n) = last_operator {
            let label = obj.pointer("/metadata/labels/ops.example.com~1rollout").and_then(Value::as_str);
            ensure!(label == Some(n.as_str()), "{name}: operator label {label:?}, expected {n}");
            let level = obj.pointer("/spec/values/extraArgs/level").and_then(Value::as_str);
            ensure!(level == Some(n.as_str()), "{name}: operator value {level:?}, expected {n}");
            ensure!(managers.contains(&(OPERATOR, "Apply")), "{name}: no Apply entry of {OPERATOR}: {managers:?}");
        }
    }
    Ok(())
}

/// Markdown rows for one target.
#[must_use]
pub fn markdown(label: &str, outcome: &Outcome, config: &Config) -> String {
    match outcome {
        Outcome::Unsupported(why) => {
            format!("| {label} | not run: the server does not accept apply patches ({why}) | | | |\n")
        }
        Outcome::Ran(f) => {
            let mut s = format!(
                "| {label} | {:.0} applies/s ({} applies, {} objects, concurrency {}, {} B per applier body) |",
                f.applies as f64 / f.seconds,
                f.applies,
                config.objects,
                config.concurrency,
                f.object_bytes
            );
            for (_, p50, p99, max) in &f.latency {
                s.push_str(&format!(" {p50:.1} / {p99:.1} / {max:.1} |"));
            }
            s.push('\n');
            s
        }
    }
}

#[must_use]
pub fn markdown_header() -> String {
    format!(
        "| server | throughput | {APPLIER} (force) p50 / p99 / max ms | {OPERATOR} p50 / p99 / max ms | all p50 / p99 / max ms |\n|---|---|---|---|---|\n"
    )
}
