//! Drift detection (fluxcd/pkg/ssa `hasDrifted`): does the dry-run result differ from the
//! object in the cluster?

use serde_json::Value;

use crate::meta::{annotations, labels, resource_version};
use crate::normalize::for_diff;

/// Whether applying would change the in-cluster object: it does not exist yet (the dry-run
/// result has no `resourceVersion`), its labels or annotations differ, or anything but
/// `metadata` and `status` differs.
#[must_use]
pub fn has_drifted(existing: &Value, dry_run: &Value) -> bool {
    if resource_version(dry_run).is_empty() {
        return true;
    }
    if labels(dry_run) != labels(existing) || annotations(dry_run) != annotations(existing) {
        return true;
    }
    for_diff(dry_run) != for_diff(existing)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cm(rv: &str, data: &Value, labels: &Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "resourceVersion": rv, "labels": labels,
                "managedFields": [{"manager": rv}]},
            "data": data})
    }

    #[test]
    fn new_objects_have_drifted() {
        assert!(has_drifted(&json!({}), &cm("", &json!({}), &json!({}))));
    }

    #[test]
    fn metadata_noise_is_ignored() {
        let existing = cm("1", &json!({"a": "1"}), &json!({"x": "y"}));
        let mut dry = cm("2", &json!({"a": "1"}), &json!({"x": "y"}));
        dry["metadata"]["managedFields"] = json!([{"manager": "other"}]);
        dry["status"] = json!({"whatever": true});
        assert!(!has_drifted(&existing, &dry));
    }

    #[test]
    fn data_labels_and_annotations_count() {
        let existing = cm("1", &json!({"a": "1"}), &json!({"x": "y"}));
        assert!(has_drifted(&existing, &cm("1", &json!({"a": "2"}), &json!({"x": "y"}))));
        assert!(has_drifted(&existing, &cm("1", &json!({"a": "1"}), &json!({"x": "z"}))));
        let mut annotated = existing.clone();
        annotated["metadata"]["annotations"] = json!({"k": "v"});
        assert!(has_drifted(&existing, &annotated));
        // No labels and empty labels are the same.
        let mut bare = existing.clone();
        bare["metadata"]["labels"] = json!({});
        let mut absent = existing;
        absent["metadata"].as_object_mut().unwrap().remove("labels");
        assert!(!has_drifted(&bare, &absent));
    }
}
