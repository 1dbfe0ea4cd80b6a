//! GitRepositories: when one counts as settled, and what of it is compared.
//!
//! Compared (normalised): conditions (type, status, reason, message), `observedGeneration`
//! (current / behind), `status.artifact.revision` and the artifact's entries (path, kind,
//! mode, contents: downloaded from the side's artifact URL), `includedArtifacts` revisions,
//! `observedIgnore`, `observedInclude`, `observedRecurseSubmodules`,
//! `observedSparseCheckout`, the finalizers, and the object's Events.

use serde_json::{Value, json};
use tracing::debug;

use crate::artifact;
use crate::kubectl::condition;
use crate::normalise::Normaliser;
use crate::scenario::SourceExpect;

/// The GitRepository resource for kubectl.
pub const GITREPO: &str = "gitrepositories.source.toolkit.fluxcd.io";

/// Whether a GitRepository meets `expect`.
#[must_use]
pub fn meets(o: &Value, expect: SourceExpect) -> bool {
    let current = o["status"]["observedGeneration"] == o["metadata"]["generation"];
    let ready = condition(o, "Ready");
    let stalled = condition(o, "Stalled").is_some_and(|c| c.0 == "True");
    match expect {
        SourceExpect::Ready => current && ready.is_some_and(|c| c.0 == "True"),
        SourceExpect::Failed => current && (stalled || ready.is_some_and(|c| c.0 == "False" && c.1 != "Progressing")),
        SourceExpect::Suspended => o["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()),
    }
}

/// Whether the GitRepository has handled the `reconcile.fluxcd.io/requestedAt` value `stamp`
/// and is no longer progressing.
#[must_use]
pub fn handled(o: &Value, stamp: &str) -> bool {
    o["status"]["lastHandledReconcileAt"] == stamp
        && condition(o, "Reconciling").is_none_or(|c| c.0 != "True")
        && condition(o, "Ready").is_some_and(|c| c.0 != "Unknown")
}

/// The comparable part of a GitRepository; the artifact is downloaded from its URL.
#[must_use]
pub fn observe(o: &Value, n: &Normaliser) -> Value {
    if o.is_null() {
        return json!({"exists": false});
    }
    let status = &o["status"];
    let mut conditions: Vec<Value> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"type": c["type"], "status": c["status"], "reason": c["reason"], "message": n.value(&c["message"])}))
        .collect();
    conditions.sort_by(|a, b| a["type"].as_str().cmp(&b["type"].as_str()));
    let artifact = &status["artifact"];
    let files = artifact["url"].as_str().map(|url| match artifact::download(url) {
        Ok(bytes) => n.value(&artifact::listing(&bytes)),
        Err(e) => {
            debug!(error = %e, "artifact not downloadable");
            json!("<not downloadable>")
        }
    });
    let included: Vec<Value> = status["includedArtifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| json!({"revision": n.value(&a["revision"])}))
        .collect();
    let observed = match (status["observedGeneration"].as_i64(), o["metadata"]["generation"].as_i64()) {
        (Some(a), Some(b)) if a == b => json!("current"),
        (Some(-1), _) => json!(-1),
        (Some(_), _) => json!("behind"),
        _ => Value::Null,
    };
    json!({
        "exists": true,
        "finalizers": n.value(&o["metadata"]["finalizers"]),
        "conditions": conditions,
        "observedGeneration": observed,
        "artifact": {
            "revision": n.value(&artifact["revision"]),
            "files": files,
        },
        "includedArtifacts": included,
        "observedIgnore": n.value(&status["observedIgnore"]),
        "observedInclude": n.value(&status["observedInclude"]),
        "observedRecurseSubmodules": status["observedRecurseSubmodules"],
        "observedSparseCheckout": n.value(&status["observedSparseCheckout"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(ready: (&str, &str), generation: i64, observed: i64) -> Value {
        json!({
            "metadata": {"generation": generation, "finalizers": ["finalizers.fluxcd.io"]},
            "status": {
                "observedGeneration": observed,
                "lastHandledReconcileAt": "42",
                "conditions": [{"type": "Ready", "status": ready.0, "reason": ready.1}]
            }
        })
    }

    #[test]
    fn ready_failed_and_suspended() {
        assert!(meets(&repo(("True", "Succeeded"), 1, 1), SourceExpect::Ready));
        assert!(!meets(&repo(("True", "Succeeded"), 2, 1), SourceExpect::Ready));
        assert!(meets(&repo(("False", "GitOperationFailed"), 1, 1), SourceExpect::Failed));
        assert!(!meets(&repo(("False", "Progressing"), 1, 1), SourceExpect::Failed));
        assert!(meets(&repo(("Unknown", "x"), 1, 1), SourceExpect::Suspended));
    }

    #[test]
    fn handled_needs_the_stamp_and_a_verdict() {
        assert!(handled(&repo(("True", "Succeeded"), 1, 1), "42"));
        assert!(!handled(&repo(("True", "Succeeded"), 1, 1), "43"));
        assert!(!handled(&repo(("Unknown", "Progressing"), 1, 1), "42"));
    }

    #[test]
    fn observation_keeps_revisions_and_observed_fields() {
        let o = json!({
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "artifact": {"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567", "digest": "sha256:x"},
                "includedArtifacts": [{"revision": "v1@sha1:0123456789abcdef0123456789abcdef01234567", "url": "http://a"}],
                "observedIgnore": "*.md\n",
                "observedRecurseSubmodules": true,
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored", "lastTransitionTime": "t"}]
            }
        });
        let n = Normaliser::new("run1")
            .with_commits(&[("first".into(), "0123456789abcdef0123456789abcdef01234567".into())]);
        let v = observe(&o, &n);
        assert_eq!(v["artifact"]["revision"], "main@sha1:<commit:first>");
        assert_eq!(v["includedArtifacts"][0], json!({"revision": "v1@sha1:<commit:first>"}));
        assert_eq!(v["observedIgnore"], "*.md\n");
        assert_eq!(v["observedRecurseSubmodules"], true);
        assert_eq!(v["observedGeneration"], "current");
        assert!(v["conditions"][0].get("lastTransitionTime").is_none());
        assert!(v["artifact"]["files"].is_null(), "no URL, nothing downloaded");
    }
}
