//! What every GitRepository of one namespace looks like right now, kept current by one watch
//! (never by polling the objects), and waits for all of them to reach a goal.
//!
//! The tracker lists the namespace once, then watches from the list's resourceVersion with
//! bookmarks; when the stream ends (server timeout) it watches again from the last version seen,
//! and when the server answers that version is gone (an `ERROR` event) it lists again. Each
//! object's state is what its conditions and status say, stamped with the moment the event that
//! brought it arrived, so the time an object reached a goal is the time the client learned it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tokio::sync::Notify;

use crate::conn;

/// One object's state as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `Ready` is `True` and `status.observedGeneration` equals `metadata.generation`.
    pub ready: bool,
    /// `status.artifact.revision` (sources), else `status.lastAppliedRevision` (Kustomizations).
    pub revision: Option<String>,
    /// `status.lastHandledReconcileAt`.
    pub handled: Option<String>,
    /// The `Ready` condition's reason and message (for reports of what is missing).
    pub ready_reason: String,
    /// When the event that brought this state arrived.
    pub at: Option<Instant>,
}

impl Seen {
    /// Reads an object.
    #[must_use]
    pub fn of(obj: &Value, at: Instant) -> Self {
        let generation = obj["metadata"]["generation"].as_i64();
        let observed = obj["status"]["observedGeneration"].as_i64();
        let ready_cond = obj["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .cloned()
            .unwrap_or(Value::Null);
        let ready = ready_cond["status"] == "True" && generation.is_some() && generation == observed;
        Self {
            ready,
            revision: obj["status"]["artifact"]["revision"]
                .as_str()
                .or_else(|| obj["status"]["lastAppliedRevision"].as_str())
                .map(str::to_owned),
            handled: obj["status"]["lastHandledReconcileAt"].as_str().map(str::to_owned),
            ready_reason: format!(
                "{}: {}",
                ready_cond["reason"].as_str().unwrap_or("-"),
                ready_cond["message"].as_str().unwrap_or("")
            ),
            at: Some(at),
        }
    }
}

/// A goal for one object: Ready at this revision (and, when given, having handled this
/// `reconcile.fluxcd.io/requestedAt` token).
#[derive(Debug, Clone)]
pub struct Goal {
    pub revision: String,
    pub handled: Option<String>,
}

impl Goal {
    fn met_by(&self, s: &Seen) -> bool {
        s.ready
            && s.revision.as_deref() == Some(self.revision.as_str())
            && self.handled.as_ref().is_none_or(|h| s.handled.as_ref() == Some(h))
    }
}

/// When each object met its goal, relative to a start instant.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Seconds from the start until the last object met its goal.
    pub all_seconds: f64,
    /// Per object, sorted ascending.
    pub each_seconds: Vec<f64>,
}

impl Completion {
    /// The q-quantile (0..=1) of the per-object times.
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        if self.each_seconds.is_empty() {
            return 0.0;
        }
        let i = ((self.each_seconds.len() - 1) as f64 * q).round() as usize;
        self.each_seconds[i.min(self.each_seconds.len() - 1)]
    }
}

#[derive(Default)]
struct State {
    objects: HashMap<String, Seen>,
    /// Watch events received.
    events: u64,
    /// Set when the watch loop failed for good.
    failed: Option<String>,
}

/// The watch and the state it keeps (see the module docs). Dropping it stops the watch.
pub struct Tracker {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tracker {
    /// Lists `collection` (a namespaced collection path) and starts watching it.
    ///
    /// # Errors
    /// The first list fails.
    pub async fn start(client: kube::Client, collection: String) -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let rv = relist(&client, &collection, &state).await?;
        let task = tokio::spawn(watch_loop(client, collection, rv, Arc::clone(&state), Arc::clone(&changed)));
        Ok(Self { state, changed, task })
    }

    /// Watch events received so far.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.state.lock().map(|s| s.events).unwrap_or(0)
    }

    /// How many objects are seen.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.objects.len()).unwrap_or(0)
    }

    /// Waits until every object of `goals` meets its goal (an object that met it keeps its
    /// first time even if it changes later); times are from `start`.
    ///
    /// # Errors
    /// `timeout` passes first (the message says how many are missing and why), or the watch
    /// failed.
    pub async fn wait_all(
        &self,
        goals: &HashMap<String, Goal>,
        start: Instant,
        timeout: Duration,
        label: &str,
    ) -> anyhow::Result<Completion> {
        let deadline = start + timeout;
        let mut met: HashMap<&str, Instant> = HashMap::new();
        let mut last_report = Instant::now();
        loop {
            // Register before checking, so a change between the check and the wait is not lost.
            let notified = self.changed.notified();
            {
                let s = self.state.lock().map_err(|_| anyhow::anyhow!("tracker state poisoned"))?;
                if let Some(e) = &s.failed {
                    bail!("{label}: the watch failed: {e}");
                }
                for (name, goal) in goals {
                    if met.contains_key(name.as_str()) {
                        continue;
                    }
                    if let Some(seen) = s.objects.get(name)
                        && goal.met_by(seen)
                    {
                        met.insert(name, seen.at.unwrap_or_else(Instant::now).max(start));
                    }
                }
                if met.len() == goals.len() {
                    let mut each: Vec<f64> = met.values().map(|t| t.duration_since(start).as_secs_f64()).collect();
                    each.sort_by(f64::total_cmp);
                    let all_seconds = each.last().copied().unwrap_or(0.0);
                    return Ok(Completion { all_seconds, each_seconds: each });
                }
                let now = Instant::now();
                if now >= deadline {
                    bail!("{label}: {}", missing_summary(goals, &met, &s.objects));
                }
                if now.duration_since(last_report) >= Duration::from_secs(30) {
                    last_report = now;
                    eprintln!(
                        "[{label}] {} of {} done after {:.0} s",
                        met.len(),
                        goals.len(),
                        now.duration_since(start).as_secs_f64()
                    );
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(5));
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }
}

/// Why objects miss their goal, grouped (for a timeout's error message).
fn missing_summary(
    goals: &HashMap<String, Goal>,
    met: &HashMap<&str, Instant>,
    seen: &HashMap<String, Seen>,
) -> String {
    let mut why: HashMap<String, usize> = HashMap::new();
    for (name, goal) in goals {
        if met.contains_key(name.as_str()) {
            continue;
        }
        let reason = match seen.get(name) {
            None => "not seen".to_owned(),
            Some(s) if !s.ready => format!("not Ready ({})", s.ready_reason),
            Some(s) if s.revision.as_deref() != Some(goal.revision.as_str()) => {
                format!("Ready at {:?}, not {}", s.revision, goal.revision)
            }
            Some(s) => format!("requestedAt not handled (lastHandledReconcileAt {:?})", s.handled),
        };
        *why.entry(reason).or_default() += 1;
    }
    let mut why: Vec<_> = why.into_iter().collect();
    why.sort_by_key(|b| std::cmp::Reverse(b.1));
    let list: Vec<String> = why.iter().take(5).map(|(r, n)| format!("{n} × {r}")).collect();
    format!(
        "{} of {} objects did not reach the goal in time: {}",
        goals.len() - met.len(),
        goals.len(),
        list.join("; ")
    )
}

/// Lists the collection into the state; returns the list's resourceVersion.
async fn relist(client: &kube::Client, collection: &str, state: &Mutex<State>) -> anyhow::Result<String> {
    let body = conn::expect(client, Method::GET, collection, None, Vec::new(), &[StatusCode::OK]).await?;
    let at = Instant::now();
    let list: Value = serde_json::from_slice(&body).context("parsing a GitRepository list")?;
    let mut objects = HashMap::new();
    for item in list["items"].as_array().into_iter().flatten() {
        if let Some(name) = item["metadata"]["name"].as_str() {
            objects.insert(name.to_owned(), Seen::of(item, at));
        }
    }
    if let Ok(mut s) = state.lock() {
        s.objects = objects;
    }
    Ok(list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_owned())
}

/// Watches until aborted; re-watches on stream ends and re-lists when the version is gone.
async fn watch_loop(
    client: kube::Client,
    collection: String,
    mut rv: String,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
) {
    let mut failures = 0u32;
    loop {
        match watch_once(&client, &collection, &mut rv, &state, &changed).await {
            Ok(WatchEnd::Closed) => failures = 0,
            Ok(WatchEnd::Expired) => match relist(&client, &collection, &state).await {
                Ok(new) => {
                    rv = new;
                    changed.notify_waiters();
                }
                Err(e) => failures = fail(&state, failures, &e),
            },
            Err(e) => failures = fail(&state, failures, &e),
        }
        if failures >= 10 {
            changed.notify_waiters();
            return;
        }
        if failures > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn fail(state: &Mutex<State>, failures: u32, e: &anyhow::Error) -> u32 {
    eprintln!("tracker: watch failed ({}): {e:#}", failures + 1);
    if failures + 1 >= 10
        && let Ok(mut s) = state.lock()
    {
        s.failed = Some(format!("{e:#}"));
    }
    failures + 1
}

enum WatchEnd {
    /// The server ended the stream (its timeout); watch again from the last version.
    Closed,
    /// The version is too old; list again.
    Expired,
}

async fn watch_once(
    client: &kube::Client,
    collection: &str,
    rv: &mut String,
    state: &Mutex<State>,
    changed: &Notify,
) -> anyhow::Result<WatchEnd> {
    let uri = format!("{collection}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=300");
    let req = http::Request::builder().method(Method::GET).uri(&uri).body(kube::client::Body::empty())?;
    let resp = client.send(req).await.with_context(|| format!("opening {uri}"))?;
    if resp.status() != StatusCode::OK {
        bail!("watch {uri}: {}", resp.status());
    }
    let mut body = resp.into_body();
    let mut buf = Vec::<u8>::new();
    // The server closes the stream after timeoutSeconds; a silent stream is cut a minute later.
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(360), body.frame())
        .await
        .context("watch stream silent for 6 minutes")?
    {
        let Ok(data) = frame.context("reading a watch stream")?.into_data() else { continue };
        let at = Instant::now();
        buf.extend_from_slice(&data);
        let mut start = 0;
        let mut any = false;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + nl];
            start += nl + 1;
            let event: Value = serde_json::from_slice(line).context("parsing a watch event")?;
            let obj = &event["object"];
            match event["type"].as_str() {
                Some("ERROR") => return Ok(WatchEnd::Expired),
                Some("BOOKMARK") => {}
                Some(kind) => {
                    let Some(name) = obj["metadata"]["name"].as_str() else { continue };
                    let mut s = state.lock().map_err(|_| anyhow::anyhow!("tracker state poisoned"))?;
                    s.events += 1;
                    if kind == "DELETED" {
                        s.objects.remove(name);
                    } else {
                        s.objects.insert(name.to_owned(), Seen::of(obj, at));
                    }
                    any = true;
                }
                None => bail!("a watch event without a type"),
            }
            if let Some(v) = obj["metadata"]["resourceVersion"].as_str() {
                v.clone_into(rv);
            }
        }
        buf.drain(..start);
        if any {
            changed.notify_waiters();
        }
    }
    Ok(WatchEnd::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(generation: i64, observed: i64, ready: &str, revision: &str, handled: Option<&str>) -> Value {
        json!({
            "metadata": {"name": "a", "generation": generation},
            "status": {
                "observedGeneration": observed,
                "conditions": [{"type": "Reconciling", "status": "True"}, {"type": "Ready", "status": ready, "reason": "Succeeded", "message": "m"}],
                "artifact": {"revision": revision},
                "lastHandledReconcileAt": handled,
            }
        })
    }

    #[test]
    fn goals_need_ready_at_the_current_generation_and_revision() {
        let now = Instant::now();
        let goal = Goal { revision: "main@sha1:1".into(), handled: None };
        assert!(goal.met_by(&Seen::of(&obj(2, 2, "True", "main@sha1:1", None), now)));
        assert!(!goal.met_by(&Seen::of(&obj(2, 1, "True", "main@sha1:1", None), now)), "stale generation");
        assert!(!goal.met_by(&Seen::of(&obj(2, 2, "False", "main@sha1:1", None), now)), "not Ready");
        assert!(!goal.met_by(&Seen::of(&obj(2, 2, "True", "main@sha1:0", None), now)), "old revision");
        assert!(!goal.met_by(&Seen::of(&json!({"metadata": {"name": "a", "generation": 1}}), now)), "no status");
        let token = Goal { revision: "main@sha1:1".into(), handled: Some("t1".into()) };
        assert!(token.met_by(&Seen::of(&obj(2, 2, "True", "main@sha1:1", Some("t1")), now)));
        assert!(!token.met_by(&Seen::of(&obj(2, 2, "True", "main@sha1:1", Some("t0")), now)));
    }

    #[test]
    fn kustomizations_are_tracked_by_their_last_applied_revision() {
        let now = Instant::now();
        let goal = Goal { revision: "main@sha1:2".into(), handled: None };
        let ks = |applied: &str| {
            json!({
                "metadata": {"name": "a", "generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}],
                    "lastAttemptedRevision": "main@sha1:2",
                    "lastAppliedRevision": applied,
                }
            })
        };
        assert!(goal.met_by(&Seen::of(&ks("main@sha1:2"), now)));
        assert!(!goal.met_by(&Seen::of(&ks("main@sha1:1"), now)), "only attempted, not applied");
    }

    #[test]
    fn quantiles_pick_from_the_sorted_times() {
        let c = Completion { all_seconds: 4.0, each_seconds: vec![1.0, 2.0, 3.0, 4.0] };
        assert!((c.quantile(0.0) - 1.0).abs() < f64::EPSILON);
        assert!((c.quantile(1.0) - 4.0).abs() < f64::EPSILON);
        assert!((c.quantile(0.5) - 3.0).abs() < f64::EPSILON);
    }
}
