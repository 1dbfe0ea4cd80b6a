//! Running one scenario on both clusters in lock step.
//!
//! The two sides share one Git repository per scenario, so a commit step happens once, between
//! phases; within a phase both sides work at the same time (one thread each).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy_test_git::{RepoBuilder, SignatureFormat};
use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::diff::{Difference, compare};
use crate::error::Result;
use crate::fixtures::{Context, Fixtures};
use crate::kubectl::{Side, condition};
use crate::normalise::Normaliser;
use crate::observe::{KS, cleanup, observe};
use crate::scenario::{Expect, GitOp, Scenario, SourceExpect, Step};
use crate::source::{self, GITREPO};

/// How long a Kustomization or GitRepository may take to settle (the failing health check
/// alone takes 30 s).
const SETTLE: Duration = Duration::from_secs(120);
/// How long the default GitRepository may take to become Ready.
const SOURCE: Duration = Duration::from_secs(90);

/// The two clusters and what every scenario shares.
#[derive(Debug)]
pub struct Harness<'a> {
    /// Flux's reference cluster.
    pub flux: Side,
    /// Eddy's cluster.
    pub eddy: Side,
    /// Git servers and keys.
    pub fixtures: &'a Fixtures,
    /// The Git servers' root directory.
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
        let mut cx = Context { ns: ns.clone(), run: self.run.clone(), repo: s.name.to_owned(), commits: Vec::new() };
        let mut repo = build_repositories(self.fixtures, self.git_root, s, &mut cx)?;
        let mut revision = format!("main@sha1:{}", repo.rev_parse("refs/heads/main")?);
        info!(scenario = s.name, %ns, "setting up");

        let mut settled = both(&self.flux, &self.eddy, |side| self.setup(side, s, &cx, &revision))?;
        for (i, step) in s.steps.iter().enumerate() {
            let r = match step {
                Step::Commit { write, remove, expect } => {
                    for (path, text) in write {
                        repo.write(path, self.fixtures.fill(text, &cx))?;
                    }
                    for path in remove {
                        repo.remove(path)?;
                    }
                    let id = repo.commit(&format!("step {i}"))?;
                    cx.commits.push((format!("step{i}"), id.clone()));
                    revision = format!("main@sha1:{id}");
                    repo.push()?;
                    both(&self.flux, &self.eddy, |side| self.after_commit(side, s, &cx, &revision, *expect))?
                }
                Step::Delete(name) => both(&self.flux, &self.eddy, |side| delete(side, &ns, name))?,
                Step::Drift { resource, name, patch, expect } => {
                    let patch = self.fixtures.fill(patch, &cx);
                    both(&self.flux, &self.eddy, |side| self.drift(side, s, &ns, resource, name, &patch, *expect))?
                }
                Step::Create { ks, expect } => both(&self.flux, &self.eddy, |side| {
                    side.apply(&self.fixtures.fill(&ks.manifest(&ns), &cx))?;
                    let mut out = Map::new();
                    out.insert(
                        format!("{}.created", ks.name),
                        Value::Bool(settle(side, &ns, ks.name, ks.expect, None)),
                    );
                    for name in s.kustomization_names() {
                        out.insert(name.to_owned(), Value::Bool(settle(side, &ns, name, *expect, None)));
                    }
                    Ok(Value::Object(out))
                })?,
            };
            merge(&mut settled, r, i);
        }
        // Let late events and status writes land before looking.
        std::thread::sleep(Duration::from_secs(2));
        let normaliser = Normaliser::new(&self.run).with_commits(&cx.commits);
        let (mut flux, mut eddy) =
            both(&self.flux, &self.eddy, |side| observe(side, s, &cx, self.fixtures, &normaliser))?;
        flux["settled"] = settled.0;
        eddy["settled"] = settled.1;
        let differences = compare(&flux, &eddy);
        if !self.keep {
            for side in [&self.flux, &self.eddy] {
                cleanup(side, s, &cx, self.fixtures);
            }
        }
        Ok(Outcome { flux, eddy, differences })
    }

    fn setup(&self, side: &Side, s: &Scenario, cx: &Context, revision: &str) -> Result<Value> {
        let ns = cx.ns.as_str();
        side.kubectl(&["create", "namespace", ns], None)?;
        if !s.pre.is_empty() {
            side.apply(&self.fixtures.fill(&s.pre, cx))?;
        }
        let mut out = Map::new();
        if s.sources.is_empty() {
            side.apply(&self.fixtures.fill(
                &crate::scenario::Source::new("repo", "  ref:\n    branch: main\n", SourceExpect::Ready).manifest(),
                cx,
            ))?;
            side.wait("GitRepository Ready", SOURCE, |side| {
                let o = side.get(GITREPO, Some(ns), "repo")?;
                Ok((condition(&o, "Ready").is_some_and(|c| c.0 == "True")
                    && o["status"]["artifact"]["revision"] == revision)
                    .then_some(()))
            })?;
        }
        for src in &s.sources {
            side.apply(&self.fixtures.fill(&src.manifest(), cx))?;
            let src_ns = self.fixtures.fill(src.namespace.unwrap_or("{ns}"), cx);
            let ok = side
                .wait(&format!("GitRepository {src_ns}/{} ({:?})", src.name, src.expect), SETTLE, |side| {
                    Ok(source::meets(&side.get(GITREPO, Some(&src_ns), src.name)?, src.expect).then_some(()))
                })
                .inspect_err(|e| warn!(side = side.name, error = %e, "source did not settle"))
                .is_ok();
            if src.expect == SourceExpect::Suspended {
                std::thread::sleep(Duration::from_secs(3));
            }
            out.insert(format!("source.{}", src.name), Value::Bool(ok));
        }
        // One at a time, each settled before the next is created: a dependent created next to
        // its dependency would race it (a DependencyNotReady round or not, by timing).
        for ks in &s.kustomizations {
            side.apply(&self.fixtures.fill(&ks.manifest(ns), cx))?;
            out.insert(ks.name.to_owned(), Value::Bool(settle(side, ns, ks.name, ks.expect, None)));
        }
        Ok(Value::Object(out))
    }

    fn after_commit(&self, side: &Side, s: &Scenario, cx: &Context, revision: &str, expect: Expect) -> Result<Value> {
        let stamp = stamp();
        let mut out = Map::new();
        for (name, ns_template) in s.source_names() {
            let ns = self.fixtures.fill(ns_template, cx);
            request(side, GITREPO, &ns, name, &stamp)?;
            let suspended = s.sources.iter().any(|x| x.name == name && x.expect == SourceExpect::Suspended);
            if suspended || !s.kustomizations.is_empty() {
                // A suspended object handles nothing; Kustomizations are waited for below.
                std::thread::sleep(Duration::from_secs(3));
                continue;
            }
            let ok = side
                .wait(&format!("GitRepository {ns}/{name} to handle {stamp}"), SETTLE, |side| {
                    Ok(source::handled(&side.get(GITREPO, Some(&ns), name)?, &stamp).then_some(()))
                })
                .is_ok();
            out.insert(format!("source.{name}"), Value::Bool(ok));
        }
        for ks in &s.kustomizations {
            out.insert(ks.name.to_owned(), Value::Bool(settle(side, &cx.ns, ks.name, expect, Some(revision))));
        }
        Ok(Value::Object(out))
    }

    #[allow(clippy::too_many_arguments)] // one step's fields, spelled out
    fn drift(
        &self,
        side: &Side,
        s: &Scenario,
        ns: &str,
        resource: &str,
        name: &str,
        patch: &str,
        expect: Expect,
    ) -> Result<Value> {
        side.kubectl(
            &["patch", resource, name, "-n", ns, "--type=merge", "--field-manager=drifter", "-p", patch],
            None,
        )?;
        let stamp = stamp();
        let mut out = Map::new();
        for ks in s.kustomization_names() {
            request(side, KS, ns, ks, &stamp)?;
            let ok = side
                .wait(&format!("Kustomization {ns}/{ks} to handle {stamp}"), SETTLE, |side| {
                    let o = side.get(KS, Some(ns), ks)?;
                    Ok((o["status"]["lastHandledReconcileAt"] == stamp.as_str() && meets(&o, expect, None))
                        .then_some(()))
                })
                .is_ok();
            out.insert(ks.to_owned(), Value::Bool(ok));
        }
        Ok(Value::Object(out))
    }
}

/// Builds the scenario's other repositories, then its main one (first commit, history),
/// pushed under `root` (`<scenario>.git`, `<scenario>-<name>.git`); records every labelled
/// commit in `cx`. Returns the main repository's builder.
///
/// # Errors
/// git, gpg or sops fail.
pub fn build_repositories(fixtures: &Fixtures, root: &Path, s: &Scenario, cx: &mut Context) -> Result<RepoBuilder> {
    let mut others = Vec::new();
    for (name, files) in &s.repos {
        let mut r = RepoBuilder::init(root, &format!("{}-{name}.git", s.name))?;
        for (path, text) in files {
            r.write(path, fixtures.fill(text, cx))?;
        }
        let id = r.commit(name)?;
        r.push()?;
        cx.commits.push(((*name).to_owned(), id.clone()));
        others.push((*name, id));
    }
    let mut repo = RepoBuilder::init(root, &format!("{}.git", s.name))?;
    for (path, text) in &s.files {
        let mut text = fixtures.fill(text, cx);
        if let Some((_, how)) = s.encrypt.iter().find(|(p, _)| p == path) {
            text = fixtures.encrypt(&text, *how)?;
        }
        repo.write(path, text)?;
    }
    cx.commits.push(("first".into(), repo.commit("first")?));
    let keys = &fixtures.signing;
    for op in &s.history {
        match op {
            GitOp::Write(path, text) => {
                repo.write(path, fixtures.fill(text, cx))?;
            }
            GitOp::Executable(path, text) => {
                repo.write_executable(path, fixtures.fill(text, cx))?;
            }
            GitOp::Symlink(path, target) => {
                repo.symlink(path, target)?;
            }
            GitOp::Remove(path) => {
                repo.remove(path)?;
            }
            GitOp::Commit(label) => cx.commits.push(((*label).into(), repo.commit(label)?)),
            GitOp::CommitSigned(label) => {
                cx.commits.push(((*label).into(), repo.commit_signed(label, keys, SignatureFormat::OpenPgp)?));
            }
            GitOp::Tag(name) => {
                repo.tag(name)?;
            }
            GitOp::AnnotatedTag(name) => {
                let id = repo.annotated_tag(name, &format!("release {name}"))?;
                cx.commits.push((format!("tag-{name}"), id));
            }
            GitOp::SignedTag(name) => {
                let id = repo.signed_tag(name, &format!("release {name}"), keys, SignatureFormat::OpenPgp)?;
                cx.commits.push((format!("tag-{name}"), id));
            }
            GitOp::Branch(name) => {
                repo.branch(name)?;
            }
            GitOp::Checkout(name) => {
                repo.checkout(name)?;
            }
            GitOp::Submodule(path, other) => {
                let id = others.iter().find(|(n, _)| n == other).map(|(_, id)| id.clone()).unwrap_or_default();
                let url = format!("{}/{}-{other}.git", fixtures.git, s.name);
                repo.submodule(path, &url, &id)?;
            }
        }
    }
    repo.push()?;
    Ok(repo)
}

fn stamp() -> String {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default().to_string()
}

/// Annotates an object with `reconcile.fluxcd.io/requestedAt=<stamp>`.
fn request(side: &Side, resource: &str, ns: &str, name: &str, stamp: &str) -> Result<()> {
    let annotation = format!("reconcile.fluxcd.io/requestedAt={stamp}");
    side.kubectl(&["annotate", "--overwrite", resource, name, "-n", ns, &annotation], None).map(drop)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
