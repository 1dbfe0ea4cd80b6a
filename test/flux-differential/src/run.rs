//! Running one scenario on both clusters in lock step, and observing each side.
//!
//! The two sides share one Git repository per scenario, so a commit step happens once, between
//! phases; within a phase both sides work at the same time (one thread each).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy_test_git::{HttpGitServer, RepoBuilder};
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};

use crate::diff::{Difference, compare};
use crate::error::Result;
use crate::kubectl::{Side, condition};
use crate::normalise::Normaliser;
use crate::scenario::{Expect, Scenario, Step, fill};

/// How long a Kustomization may take to settle (the failing health check alone takes 30 s).
const SETTLE: Duration = Duration::from_secs(120);
/// How long the GitRepository may take to become Ready.
const SOURCE: Duration = Duration::from_secs(90);
const KS: &str = "kustomizations.kustomize.toolkit.fluxcd.io";
const GITREPO: &str = "gitrepositories.source.toolkit.fluxcd.io";

/// The two clusters and what every scenario shares.
#[derive(Debug)]
pub struct Harness<'a> {
    /// Flux's reference cluster.
    pub flux: Side,
    /// Eddy's cluster.
    pub eddy: Side,
    /// Serves every scenario's repository (`<scenario>.git`).
    pub git: &'a HttpGitServer,
    /// The server's root directory.
    pub git_root: &'a Path,
    /// The run token (in every namespace and cluster-scoped name).
    pub run: String,
    /// Leave the namespaces behind for inspection.
    pub keep: bool,
}

/// What one scenario found.
#[derive(Debug)]
pub struct Outcome {
    /// Normalised observation of Flux's side.
    pub flux: Value,
    /// Normalised observation of Eddy's side.
    pub eddy: Value,
    /// Their differences.
    pub differences: Vec<Difference>,
}

impl Harness<'_> {
    /// The scenario's namespace (the same name on both clusters).
    #[must_use]
    pub fn namespace(&self, s: &Scenario) -> String {
        format!("{}-{}", s.name, self.run)
    }

    /// Runs `s` on both sides and compares what they show.
    ///
    /// # Errors
    /// The repository or a cluster could not be driven (not a difference: differences are the
    /// outcome).
    pub fn run(&self, s: &Scenario) -> Result<Outcome> {
        let ns = self.namespace(s);
        let mut repo = RepoBuilder::init(self.git_root, &format!("{}.git", s.name))?;
        for (path, text) in &s.files {
            repo.write(path, fill(text, &ns, &self.run))?;
        }
        let mut revision = format!("main@sha1:{}", repo.commit("first")?);
        repo.push()?;
        let url = self.git.repo_url(&format!("{}.git", s.name));
        info!(scenario = s.name, %ns, "setting up");

        let mut settled = both(&self.flux, &self.eddy, |side| self.setup(side, s, &ns, &url, &revision))?;
        for (i, step) in s.steps.iter().enumerate() {
            match step {
                Step::Commit { write, remove, expect } => {
                    for (path, text) in write {
                        repo.write(path, fill(text, &ns, &self.run))?;
                    }
                    for path in remove {
                        repo.remove(path)?;
                    }
                    revision = format!("main@sha1:{}", repo.commit(&format!("step {i}"))?);
                    repo.push()?;
                    let r = both(&self.flux, &self.eddy, |side| self.after_commit(side, s, &ns, &revision, *expect))?;
                    merge(&mut settled, r, i);
                }
                Step::Delete(name) => {
                    let r = both(&self.flux, &self.eddy, |side| delete(side, &ns, name))?;
                    merge(&mut settled, r, i);
                }
            }
        }
        // Let late events and status writes land before looking.
        std::thread::sleep(Duration::from_secs(2));
        let normaliser = Normaliser::new(&self.run);
        let (flux, eddy) = both(&self.flux, &self.eddy, |side| observe(side, s, &ns, &self.run, &normaliser))?;
        let mut flux = flux;
        let mut eddy = eddy;
        flux["settled"] = settled.0;
        eddy["settled"] = settled.1;
        let differences = compare(&flux, &eddy);
        if !self.keep {
            for side in [&self.flux, &self.eddy] {
                cleanup(side, s, &ns, &self.run);
            }
        }
        Ok(Outcome { flux, eddy, differences })
    }

    fn setup(&self, side: &Side, s: &Scenario, ns: &str, url: &str, revision: &str) -> Result<Value> {
        side.kubectl(&["create", "namespace", ns], None)?;
        if !s.pre.is_empty() {
            side.apply(&fill(&s.pre, ns, &self.run))?;
        }
        side.apply(&format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: repo\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  timeout: 20s\n  url: {url}\n  ref:\n    branch: main\n"
        ))?;
        side.wait("GitRepository Ready", SOURCE, |side| {
            let o = side.get(GITREPO, Some(ns), "repo")?;
            Ok((condition(&o, "Ready").is_some_and(|c| c.0 == "True")
                && o["status"]["artifact"]["revision"] == revision)
                .then_some(()))
        })?;
        // One at a time, each settled before the next is created: a dependent created next to
        // its dependency would race it (a DependencyNotReady round or not, by timing).
        let mut out = Map::new();
        for ks in &s.kustomizations {
            side.apply(&fill(&ks.manifest(ns), ns, &self.run))?;
            out.insert(ks.name.to_owned(), Value::Bool(settle(side, ns, ks.name, ks.expect, None)));
        }
        Ok(Value::Object(out))
    }

    fn after_commit(&self, side: &Side, s: &Scenario, ns: &str, revision: &str, expect: Expect) -> Result<Value> {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        side.kubectl(
            &[
                "annotate",
                "--overwrite",
                GITREPO,
                "repo",
                "-n",
                ns,
                &format!("reconcile.fluxcd.io/requestedAt={stamp}"),
            ],
            None,
        )?;
        let mut out = Map::new();
        for ks in &s.kustomizations {
            out.insert(ks.name.to_owned(), Value::Bool(settle(side, ns, ks.name, expect, Some(revision))));
        }
        Ok(Value::Object(out))
    }
}

/// Runs `f` on both sides at once; returns (Flux's, Eddy's).
fn both<T: Send>(flux: &Side, eddy: &Side, f: impl Fn(&Side) -> Result<T> + Sync) -> Result<(T, T)> {
    std::thread::scope(|scope| {
        let fh = scope.spawn(|| f(flux));
        let eh = scope.spawn(|| f(eddy));
        let fr = fh.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let er = eh.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        Ok((fr?, er?))
    })
}

fn merge(settled: &mut (Value, Value), step: (Value, Value), i: usize) {
    settled.0[format!("step{i}")] = step.0;
    settled.1[format!("step{i}")] = step.1;
}

/// Waits (bounded) until the Kustomization meets `expect`; false when it did not in time.
fn settle(side: &Side, ns: &str, name: &str, expect: Expect, revision: Option<&str>) -> bool {
    let r = side.wait(&format!("Kustomization {ns}/{name} to settle ({expect:?})"), SETTLE, |side| {
        let o = side.get(KS, Some(ns), name)?;
        Ok(meets(&o, expect, revision).then_some(()))
    });
    match r {
        Ok(()) => {
            if expect == Expect::Suspended {
                // Nothing announces that a suspended object was looked at; give it time to act.
                std::thread::sleep(Duration::from_secs(3));
            }
            true
        }
        Err(e) => {
            warn!(side = side.name, error = %e, "did not settle");
            false
        }
    }
}

/// Whether a Kustomization meets `expect` (at `revision`, when given).
#[must_use]
pub fn meets(o: &Value, expect: Expect, revision: Option<&str>) -> bool {
    let status = &o["status"];
    let ready = condition(o, "Ready");
    let current = status["observedGeneration"] == o["metadata"]["generation"];
    match expect {
        Expect::Ready => {
            ready.is_some_and(|c| c.0 == "True")
                && current
                && revision.is_none_or(|r| status["lastAppliedRevision"] == r)
        }
        Expect::Reason(reason) => {
            ready.is_some_and(|c| c.1 == reason) && revision.is_none_or(|r| status["lastAttemptedRevision"] == r)
        }
        Expect::Failed => {
            ready.is_some_and(|c| c.0 == "False" && c.1 != "Progressing")
                && revision.is_none_or(|r| status["lastAttemptedRevision"] == r)
        }
        Expect::Suspended => o["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()),
    }
}

fn delete(side: &Side, ns: &str, name: &str) -> Result<Value> {
    side.kubectl(&["delete", KS, name, "-n", ns, "--wait=false"], None)?;
    let gone = side
        .wait(&format!("Kustomization {ns}/{name} to be deleted"), SETTLE, |side| {
            Ok(side.get(KS, Some(ns), name)?.is_null().then_some(()))
        })
        .is_ok();
    Ok(Value::Bool(gone))
}

/// The kubectl resource name for an inventory entry's group, kind and version.
fn resource(group: &str, kind: &str, version: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{version}.{group}") }
}

/// Everything compared for one side, normalised.
fn observe(side: &Side, s: &Scenario, ns: &str, run: &str, n: &Normaliser) -> Result<Value> {
    let mut kustomizations = Map::new();
    let mut events = Map::new();
    let mut ids: Vec<(String, String)> = s.observe.iter().map(|(id, v)| (fill(id, ns, run), (*v).to_owned())).collect();
    let all_events = side.list("events", ns)?;
    for ks in &s.kustomizations {
        let o = side.get(KS, Some(ns), ks.name)?;
        for e in o["status"]["inventory"]["entries"].as_array().into_iter().flatten() {
            if let (Some(id), Some(v)) = (e["id"].as_str(), e["v"].as_str()) {
                ids.push((id.to_owned(), v.to_owned()));
            }
        }
        kustomizations.insert(ks.name.to_owned(), n.kustomization(&o));
        let mine: Vec<Value> = all_events
            .iter()
            .filter(|e| e["involvedObject"]["kind"] == "Kustomization" && e["involvedObject"]["name"] == ks.name)
            .cloned()
            .collect();
        events.insert(ks.name.to_owned(), n.events(&mine));
    }
    ids.sort();
    ids.dedup();
    let mut objects = Map::new();
    for (id, version) in ids {
        let parts: Vec<&str> = id.splitn(4, '_').collect();
        let [obj_ns, name, group, kind] = parts[..] else {
            warn!(side = side.name, %id, "not an inventory id");
            continue;
        };
        let namespace = (!obj_ns.is_empty()).then_some(obj_ns);
        let obj = side.get(&resource(group, kind, &version), namespace, name).unwrap_or_else(|e| {
            debug!(side = side.name, error = %e, "object not readable");
            Value::Null
        });
        objects.insert(n.text(&id), n.object(&obj));
    }
    Ok(json!({"kustomizations": kustomizations, "events": events, "objects": objects}))
}

fn cleanup(side: &Side, s: &Scenario, ns: &str, run: &str) {
    // Kustomizations first, so their controller prunes what they applied outside the namespace.
    let _ = side.kubectl(&["delete", KS, "--all", "-n", ns, "--wait=true", "--timeout=60s"], None);
    let mut namespaces = vec![ns.to_owned()];
    namespaces.extend(s.extra_namespaces.iter().map(|t| fill(t, ns, run)));
    for n in namespaces {
        let _ = side.kubectl(&["delete", "namespace", &n, "--ignore-not-found", "--wait=false"], None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(ready: (&str, &str), generation: i64, observed: i64) -> Value {
        json!({
            "metadata": {"generation": generation, "finalizers": ["finalizers.fluxcd.io"]},
            "status": {
                "observedGeneration": observed,
                "lastAppliedRevision": "main@sha1:a",
                "lastAttemptedRevision": "main@sha1:b",
                "conditions": [{"type": "Ready", "status": ready.0, "reason": ready.1}]
            }
        })
    }

    #[test]
    fn ready_needs_the_current_generation_and_revision() {
        assert!(meets(&ks(("True", "ReconciliationSucceeded"), 1, 1), Expect::Ready, None));
        assert!(!meets(&ks(("True", "ReconciliationSucceeded"), 2, 1), Expect::Ready, None));
        assert!(meets(&ks(("True", "x"), 1, 1), Expect::Ready, Some("main@sha1:a")));
        assert!(!meets(&ks(("True", "x"), 1, 1), Expect::Ready, Some("main@sha1:b")));
    }

    #[test]
    fn failed_excludes_progressing() {
        assert!(meets(&ks(("False", "BuildFailed"), 1, 1), Expect::Failed, None));
        assert!(!meets(&ks(("Unknown", "Progressing"), 1, 1), Expect::Failed, None));
        assert!(!meets(&ks(("False", "Progressing"), 1, 1), Expect::Failed, None));
        assert!(meets(&ks(("False", "BuildFailed"), 1, 1), Expect::Failed, Some("main@sha1:b")));
    }

    #[test]
    fn reason_and_suspended() {
        assert!(meets(&ks(("False", "DependencyNotReady"), 1, 1), Expect::Reason("DependencyNotReady"), None));
        assert!(!meets(&ks(("False", "BuildFailed"), 1, 1), Expect::Reason("DependencyNotReady"), None));
        assert!(meets(&ks(("False", "x"), 1, 1), Expect::Suspended, None));
        assert!(!meets(&json!({"metadata": {}}), Expect::Suspended, None));
    }

    #[test]
    fn resources_for_core_and_grouped_kinds() {
        assert_eq!(resource("", "ConfigMap", "v1"), "ConfigMap");
        assert_eq!(resource("apps", "Deployment", "v1"), "Deployment.v1.apps");
    }
}
