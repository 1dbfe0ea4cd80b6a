//! Dropping fields a structural schema does not declare, as kube-apiserver does for custom
//! resources. The dropped paths are returned so that the server can implement
//! `fieldValidation=Strict` (reject) or `Warn` (warn and continue). `null` values of fields
//! that are not nullable are dropped too (silently), so that defaulting can fill them.

use serde_json::Value;

use crate::schema::Schema;

/// The `metadata` fields of Kubernetes' ObjectMeta; others are dropped.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Removes unknown fields from a whole object and returns their paths (`spec.foo`,
/// `spec.include[0].bar`), in document order.
pub fn prune(schema: &Schema, object: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    if let Value::Object(map) = object {
        drop_nulls(schema, map);
        let mut removed = Vec::new();
        map.retain(|k, _| {
            let keep = schema.properties.contains_key(k) || schema.preserve_unknown_fields;
            if !keep {
                removed.push(k.clone());
            }
            keep
        });
        pruned.extend(removed);
        for (k, v) in map.iter_mut() {
            if k == "metadata" {
                prune_metadata(v, &mut pruned);
            } else if let Some(s) = schema.properties.get(k) {
                prune_value(s, v, k, &mut pruned);
            }
        }
    }
    pruned
}

/// Removes unknown fields below `value` (a node other than the root), reporting paths under
/// `path`.
pub fn prune_value(schema: &Schema, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if schema.properties.is_empty() && schema.additional_properties.is_none() {
                // An object without declared structure keeps nothing unless told to preserve.
                if !schema.preserve_unknown_fields && schema.type_.is_some() {
                    for k in map.keys() {
                        pruned.push(format!("{path}.{k}"));
                    }
                    map.clear();
                }
                return;
            }
            drop_nulls(schema, map);
            if let Some(ap) = &schema.additional_properties {
                for (k, v) in map.iter_mut() {
                    prune_value(ap, v, &format!("{path}.{k}"), pruned);
                }
                return;
            }
            let mut removed = Vec::new();
            map.retain(|k, _| {
                let keep = schema.properties.contains_key(k) || schema.preserve_unknown_fields;
                if !keep {
                    removed.push(format!("{path}.{k}"));
                }
                keep
            });
            pruned.extend(removed);
            for (k, v) in map.iter_mut() {
                if let Some(s) = schema.properties.get(k) {
                    prune_value(s, v, &format!("{path}.{k}"), pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, v) in items.iter_mut().enumerate() {
                    prune_value(item_schema, v, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

/// Drops `null` values of fields that are not nullable, as kube-apiserver does before
/// defaulting (they are not reported: they are not unknown fields).
fn drop_nulls(schema: &Schema, map: &mut serde_json::Map<String, Value>) {
    map.retain(|k, v| {
        if !v.is_null() {
            return true;
        }
        match (schema.properties.get(k), &schema.additional_properties) {
            (Some(s), _) => s.nullable,
            (None, Some(ap)) => ap.nullable,
            (None, None) => true,
        }
    });
}

fn prune_metadata(meta: &mut Value, pruned: &mut Vec<String>) {
    if let Value::Object(map) = meta {
        map.retain(|k, _| {
            let keep = OBJECT_META_FIELDS.contains(&k.as_str());
            if !keep {
                pruned.push(format!("metadata.{k}"));
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_nulls_of_non_nullable_fields_silently() {
        let s = Schema::object().prop(
            "spec",
            Schema::object()
                .prop("a", Schema::string())
                .prop("n", Schema::string().nullable())
                .prop("m", Schema::map(Schema::string())),
        );
        let mut v = json!({"spec": {"a": null, "n": null, "m": {"k": null, "j": "x"}}});
        assert!(prune(&s, &mut v).is_empty());
        assert_eq!(v, json!({"spec": {"n": null, "m": {"j": "x"}}}));
    }

    #[test]
    fn drops_unknown_fields_at_every_level_and_reports_paths() {
        let s = Schema::object().prop("metadata", Schema::object()).prop(
            "spec",
            Schema::object()
                .prop("a", Schema::string())
                .prop("l", Schema::array(Schema::object().prop("b", Schema::string())))
                .prop("m", Schema::map(Schema::string()))
                .prop("v", Schema::any()),
        );
        let mut v = json!({
            "metadata": {"name": "x", "bogus": 1},
            "spec": {"a": "1", "zz": 2, "l": [{"b": "x", "c": 1}], "m": {"k": "v"},
                     "v": {"anything": {"goes": true}}},
            "extra": true
        });
        let pruned = prune(&s, &mut v);
        assert_eq!(pruned, vec!["extra", "metadata.bogus", "spec.zz", "spec.l[0].c"]);
        assert_eq!(
            v,
            json!({"metadata": {"name": "x"},
                   "spec": {"a": "1", "l": [{"b": "x"}], "m": {"k": "v"},
                            "v": {"anything": {"goes": true}}}})
        );
    }
}
