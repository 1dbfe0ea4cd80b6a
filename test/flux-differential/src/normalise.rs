//! The one normaliser: turns what a cluster shows (a Kustomization, the objects it applied, its
//! Events) into a value that depends only on behaviour, not on when or where it ran.
//!
//! Removed or replaced: times, uids, resourceVersions, the run token (it is part of every
//! namespace and cluster-scoped name), commit and digest hashes, kustomize's generated name
//! suffixes, temporary paths, ports, measured durations, `lastHandledReconcileAt`, history
//! timestamps, durations and counters.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

/// Replaces what varies between runs and sides in a message or any other string.
#[derive(Debug, Clone)]
pub struct Normaliser {
    run: String,
    /// Commit IDs the scenario made, by label: shown as `<commit:LABEL>`.
    commits: Vec<(String, String)>,
}

static HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(sha1|sha256|sha384|sha512|blake3):[0-9a-f]{40,128}\b").expect("regex"));
static BARE_SHA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{64}\b").expect("regex"));
/// A Kustomization's working directory (Flux: `/tmp/kustomization-N`; Eddy: under its data
/// directory), up to and including its `kustomization-*` component.
static WORKDIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(/[^\s'\x22:,\]\)]*)?/kustomization-[A-Za-z0-9]+").expect("regex"));
static TMP_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"/tmp/[^\s'\x22:,\]\)]+").expect("regex"));
static PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"127\.0\.0\.1:\d+").expect("regex"));
static DURATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|us|ms|s)\b|\b\d+m\d+(\.\d+)?s\b").expect("regex"));
/// kustomize's generated-name hash: a dash and ten characters of its alphabet, ending the name.
static GENERATED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-[bcdfghkmt2-9]{10}\b").expect("regex"));
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})").expect("regex"));

/// Metadata fields that only say when or which copy of an object this is.
const VOLATILE_METADATA: &[&str] =
    &["uid", "resourceVersion", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "ownerReferences"];

impl Normaliser {
    /// A normaliser for one run, whose namespaces and names carry `run` (replaced by `RUN`).
    #[must_use]
    pub fn new(run: &str) -> Self {
        Self { run: run.to_owned(), commits: Vec::new() }
    }

    /// The same, also naming the scenario's commits: (label, commit ID) becomes
    /// `<commit:LABEL>` wherever the ID appears (so both sides must name the same commit).
    #[must_use]
    pub fn with_commits(mut self, commits: &[(String, String)]) -> Self {
        self.commits = commits.to_vec();
        self
    }

    /// Normalises free text: messages, names, revisions.
    #[must_use]
    pub fn text(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (label, id) in &self.commits {
            if !id.is_empty() {
                s = s.replace(id.as_str(), &format!("<commit:{label}>"));
            }
        }
        if !self.run.is_empty() {
            s = s.replace(&self.run, "RUN");
        }
        let s = HASH.replace_all(&s, "$1:<hash>");
        let s = BARE_SHA.replace_all(&s, "<hash>");
        let s = TIMESTAMP.replace_all(&s, "<time>");
        let s = WORKDIR.replace_all(&s, "<workdir>");
        let s = TMP_PATH.replace_all(&s, "<tmp>");
        let s = PORT.replace_all(&s, "127.0.0.1:<port>");
        let s = GENERATED.replace_all(&s, "-<generated>");
        DURATION.replace_all(&s, "<duration>").into_owned()
    }

    /// Applies [`Normaliser::text`] to every string (keys included) of a JSON value.
    #[must_use]
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (self.text(k), self.value(x))).collect()),
            other => other.clone(),
        }
    }

    /// The comparable part of a Kustomization: its conditions (type, status, reason, message;
    /// sorted by type), inventory (sorted), revisions, observedGeneration against generation,
    /// history without times and counters, and its finalizers.
    #[must_use]
    pub fn kustomization(&self, ks: &Value) -> Value {
        let status = &ks["status"];
        let mut conditions: Vec<Value> = status["conditions"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!({
                            "type": c["type"],
                            "status": c["status"],
                            "reason": c["reason"],
                            "message": self.value(&c["message"]),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        conditions.sort_by(|a, b| a["type"].as_str().cmp(&b["type"].as_str()));
        let mut inventory: Vec<Value> = status["inventory"]["entries"]
            .as_array()
            .map(|e| e.iter().map(|x| self.value(x)).collect())
            .unwrap_or_default();
        inventory.sort_by_key(Value::to_string);
        let history: Vec<Value> = status["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        let mut e = self.value(h);
                        // The digest of the applied manifests is the same on both sides when
                        // they applied the same objects: compared as is.
                        e["digest"] = h["digest"].clone();
                        if let Some(m) = e.as_object_mut() {
                            for k in
                                ["firstReconciled", "lastReconciled", "lastReconciledDuration", "totalReconciliations"]
                            {
                                m.remove(k);
                            }
                        }
                        e
                    })
                    .collect()
            })
            .unwrap_or_default();
        let generation = &ks["metadata"]["generation"];
        let observed = &status["observedGeneration"];
        json!({
            "exists": !ks.is_null(),
            "finalizers": self.value(&ks["metadata"]["finalizers"]),
            "conditions": conditions,
            "inventory": inventory,
            "lastAppliedRevision": self.value(&status["lastAppliedRevision"]),
            "lastAttemptedRevision": self.value(&status["lastAttemptedRevision"]),
            "observedGeneration": observed_generation(observed, generation),
            "history": history,
        })
    }

    /// The comparable part of an applied object: metadata without identity or times, every
    /// other top-level field but `status`, and `managedFields` reduced to (manager, operation,
    /// subresource) triples.
    #[must_use]
    pub fn object(&self, obj: &Value) -> Value {
        let Some(map) = obj.as_object() else {
            return json!({"exists": false});
        };
        let mut out = Map::new();
        out.insert("exists".into(), Value::Bool(true));
        for (k, v) in map {
            match k.as_str() {
                "status" => {}
                "metadata" => {
                    let mut meta = Map::new();
                    for (mk, mv) in v.as_object().into_iter().flatten() {
                        if VOLATILE_METADATA.contains(&mk.as_str()) {
                            continue;
                        }
                        if mk == "managedFields" {
                            meta.insert(mk.clone(), managers(mv));
                        } else if mk == "annotations" {
                            meta.insert(mk.clone(), self.value(&without_volatile_annotations(mv)));
                        } else {
                            meta.insert(mk.clone(), self.value(mv));
                        }
                    }
                    out.insert(k.clone(), Value::Object(meta));
                }
                _ => {
                    out.insert(k.clone(), self.value(&without_cluster_assigned(k, v)));
                }
            }
        }
        Value::Object(out)
    }

    /// The comparable part of a Kustomization's Events: the distinct (type, reason, message)
    /// triples, sorted; counts and times depend on timing.
    #[must_use]
    pub fn events(&self, events: &[Value]) -> Value {
        let mut seen: Vec<Value> = events
            .iter()
            .map(|e| json!({"type": e["type"], "reason": e["reason"], "message": self.value(&e["message"])}))
            .collect();
        seen.sort_by_key(Value::to_string);
        seen.dedup();
        Value::Array(seen)
    }
}

/// `observedGeneration` as "current", "behind" or absent: the generation itself is not
/// comparable (it counts edits, and a step may edit).
fn observed_generation(observed: &Value, generation: &Value) -> Value {
    match (observed.as_i64(), generation.as_i64()) {
        (Some(o), Some(g)) if o == g => json!("current"),
        (Some(-1), _) => json!(-1),
        (Some(_), _) => json!("behind"),
        _ => Value::Null,
    }
}

/// `managedFields` as sorted (manager, operation, subresource) triples.
fn managers(fields: &Value) -> Value {
    let mut list: Vec<Value> = fields
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let mut m = json!({"manager": f["manager"], "operation": f["operation"]});
            if let Some(s) = f["subresource"].as_str() {
                m["subresource"] = json!(s);
            }
            m
        })
        .collect();
    list.sort_by_key(Value::to_string);
    list.dedup();
    Value::Array(list)
}

/// Annotations written by the cluster's controllers on their own schedule.
fn without_volatile_annotations(annotations: &Value) -> Value {
    let mut a = annotations.clone();
    if let Some(m) = a.as_object_mut() {
        m.remove("deployment.kubernetes.io/revision");
    }
    a
}

/// Service cluster IPs are allocated by the cluster, not chosen by the controller.
fn without_cluster_assigned(key: &str, v: &Value) -> Value {
    let mut v = v.clone();
    if key == "spec"
        && let Some(m) = v.as_object_mut()
    {
        m.remove("clusterIP");
        m.remove("clusterIPs");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normaliser {
        Normaliser::new("a1b2c3")
    }

    #[test]
    fn text_replaces_run_hashes_ports_paths_and_durations() {
        let s = "Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567 in ns-a1b2c3 \
                 from http://127.0.0.1:34567/x.git, /tmp/other/deploy: took 1.25s, 2m3.5s";
        assert_eq!(
            n().text(s),
            "Applied revision: main@sha1:<hash> in ns-RUN from http://127.0.0.1:<port>/x.git, <tmp>: \
             took <duration>, <duration>"
        );
    }

    #[test]
    fn text_keeps_what_is_behaviour() {
        let s = "Deployment/ns/web configured\nConfigMap/ns/app created";
        assert_eq!(n().text(s), s);
        assert_eq!(n().text("retrying in 30s"), "retrying in <duration>");
    }

    #[test]
    fn generated_names_lose_their_hash() {
        assert_eq!(n().text("ConfigMap/ns/settings-7h4c9m6dkb created"), "ConfigMap/ns/settings-<generated> created");
        // A plain name with a dash is not a generated one.
        assert_eq!(n().text("ConfigMap/ns/my-settings created"), "ConfigMap/ns/my-settings created");
    }

    #[test]
    fn working_directories_are_replaced_up_to_the_kustomization_dir() {
        assert_eq!(n().text("stat /tmp/kustomization-2973/nope: no such file"), "stat <workdir>/nope: no such file");
        assert_eq!(
            n().text("stat /root/data/work-kustomize/kustomization-H2vGwu/src/nope: x"),
            "stat <workdir>/src/nope: x"
        );
    }

    #[test]
    fn known_commits_are_named() {
        let id = "0123456789abcdef0123456789abcdef01234567";
        let n = n().with_commits(&[("first".into(), id.into())]);
        assert_eq!(n.text(&format!("main@sha1:{id}")), "main@sha1:<commit:first>");
        assert_eq!(n.text("main@sha1:1123456789abcdef0123456789abcdef01234567"), "main@sha1:<hash>");
    }

    #[test]
    fn timestamps_are_replaced() {
        assert_eq!(n().text("at 2026-12-07T04:05:36Z"), "at <time>");
    }

    #[test]
    fn kustomization_keeps_conditions_inventory_and_revisions_only() {
        let ks = json!({
            "metadata": {"generation": 2, "finalizers": ["finalizers.fluxcd.io"], "uid": "u"},
            "status": {
                "observedGeneration": 2,
                "lastHandledReconcileAt": "x",
                "lastAppliedRevision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                     "message": "Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567",
                     "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 2},
                    {"type": "Healthy", "status": "True", "reason": "Succeeded", "message": "ok"}
                ],
                "inventory": {"entries": [{"id": "b-a1b2c3_x__ConfigMap", "v": "v1"}, {"id": "a_x__ConfigMap", "v": "v1"}]},
                "history": [{"digest": "sha256:aa", "firstReconciled": "t", "lastReconciled": "t",
                             "lastReconciledDuration": "1s", "lastReconciledStatus": "ReconciliationSucceeded",
                             "totalReconciliations": 3}]
            }
        });
        let out = n().kustomization(&ks);
        assert_eq!(out["conditions"][0]["type"], "Healthy", "sorted by type");
        assert_eq!(out["conditions"][1]["message"], "Applied revision: main@sha1:<hash>");
        assert!(out["conditions"][1].get("lastTransitionTime").is_none());
        assert_eq!(out["inventory"][0]["id"], "a_x__ConfigMap", "sorted");
        assert_eq!(out["inventory"][1]["id"], "b-RUN_x__ConfigMap");
        assert_eq!(out["observedGeneration"], "current");
        assert_eq!(
            out["history"][0],
            json!({"digest": "sha256:aa", "lastReconciledStatus": "ReconciliationSucceeded"})
        );
        assert!(out.get("lastHandledReconcileAt").is_none());
    }

    #[test]
    fn observed_generation_behind_is_visible() {
        let ks = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert_eq!(n().kustomization(&ks)["observedGeneration"], "behind");
        let ks = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": -1}});
        assert_eq!(n().kustomization(&ks)["observedGeneration"], -1);
    }

    #[test]
    fn object_drops_identity_status_and_reduces_managed_fields() {
        let obj = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns-a1b2c3", "uid": "u", "resourceVersion": "9",
                         "creationTimestamp": "t", "labels": {"a": "b"},
                         "managedFields": [
                            {"manager": "kustomize-controller", "operation": "Apply", "time": "t", "fieldsV1": {}},
                            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"}
                         ]},
            "spec": {"clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "ports": [{"port": 80}]},
            "status": {"loadBalancer": {}}
        });
        let out = n().object(&obj);
        assert_eq!(out["metadata"]["namespace"], "ns-RUN");
        assert!(out["metadata"].get("uid").is_none());
        assert!(out.get("status").is_none());
        assert!(out["spec"].get("clusterIP").is_none());
        assert_eq!(out["spec"]["ports"][0]["port"], 80);
        assert_eq!(
            out["metadata"]["managedFields"],
            json!([
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"},
                {"manager": "kustomize-controller", "operation": "Apply"}
            ])
        );
    }

    #[test]
    fn a_missing_object_is_just_absent() {
        assert_eq!(n().object(&Value::Null), json!({"exists": false}));
    }

    #[test]
    fn events_are_distinct_and_sorted() {
        let ev = |reason: &str, msg: &str| json!({"type": "Normal", "reason": reason, "message": msg, "count": 3});
        let out = n().events(&[ev("B", "x 1.5s"), ev("A", "y"), ev("B", "x 2.5s")]);
        assert_eq!(
            out,
            json!([
                {"type": "Normal", "reason": "A", "message": "y"},
                {"type": "Normal", "reason": "B", "message": "x <duration>"}
            ])
        );
    }
}
