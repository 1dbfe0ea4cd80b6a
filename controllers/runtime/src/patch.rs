//! Writing a reconcile's changes back, as fluxcd/pkg `runtime/patch`'s `SerialPatcher`: the
//! patcher remembers what the server last saw and sends only the difference, as JSON merge
//! patches — finalizers on the object, everything else on the status subresource — so a
//! reconcile can publish progress (`Reconciling`) several times and end with its result.
//!
//! Merge patches carry no resourceVersion: like upstream's helper, the controller owns the
//! status it writes and does not fail on a concurrent metadata change. A field that disappears
//! from the status is sent as `null`; lists (conditions) are sent whole.

use serde_json::{Map, Value};

use crate::client::{ClientError, FluxApi};
use crate::object::FluxObject;

/// Options of one [`SerialPatcher::patch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchOptions {
    /// Set `status.observedGeneration` to `metadata.generation` (upstream's
    /// `WithStatusObservedGeneration`).
    pub observed_generation: bool,
}

/// Patches one object, serially, from the state the server last acknowledged.
pub struct SerialPatcher<T> {
    api: FluxApi<T>,
    name: String,
    field_manager: String,
    before: Value,
}

impl<T: FluxObject> SerialPatcher<T> {
    /// A patcher for `obj` as read from the server.
    ///
    /// # Errors
    /// Only if the object cannot be serialized, which the API structs never fail to do.
    pub fn new(api: FluxApi<T>, obj: &T, field_manager: &str) -> Result<Self, serde_json::Error> {
        Ok(Self {
            api,
            name: obj.meta().name.clone().unwrap_or_default(),
            field_manager: field_manager.to_owned(),
            before: serde_json::to_value(obj)?,
        })
    }

    /// Sends what changed in `obj` since the last patch (or since it was read). A no-op when
    /// nothing changed.
    ///
    /// # Errors
    /// [`ClientError`]; a deleted object gives `is_not_found()`.
    pub async fn patch(&mut self, obj: &mut T, options: PatchOptions) -> Result<(), ClientError> {
        if options.observed_generation {
            let generation = obj.generation();
            obj.set_observed_generation(generation);
        }
        let after = serde_json::to_value(&*obj).map_err(|source| {
            ClientError::Decode(crate::object::DecodeError { kind: T::KIND, key: self.name.clone(), source })
        })?;
        let finalizers = |v: &Value| v.pointer("/metadata/finalizers").cloned().unwrap_or(Value::Null);
        let (old_fin, new_fin) = (finalizers(&self.before), finalizers(&after));
        if old_fin != new_fin {
            let patch = serde_json::json!({"metadata": {"finalizers": new_fin}});
            let updated = self.api.merge_patch(&self.name, &patch, &self.field_manager).await?;
            obj.meta_mut().resource_version.clone_from(&updated.meta().resource_version);
            set_pointer(&mut self.before, "finalizers", new_fin);
        }
        let status = |v: &Value| v.get("status").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let (old_status, new_status) = (status(&self.before), status(&after));
        if let Some(diff) = merge_diff(&old_status, &new_status) {
            let patch = serde_json::json!({ "status": diff });
            let updated = self.api.merge_patch_status(&self.name, &patch, &self.field_manager).await?;
            obj.meta_mut().resource_version.clone_from(&updated.meta().resource_version);
            if let Some(o) = self.before.as_object_mut() {
                o.insert("status".into(), new_status);
            }
        }
        Ok(())
    }
}

fn set_pointer(obj: &mut Value, field: &str, value: Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if value.is_null() {
            meta.remove(field);
        } else {
            meta.insert(field.into(), value);
        }
    }
}

/// The JSON merge patch (RFC 7386) that turns `before` into `after`, or `None` when they are
/// equal. Objects are diffed key by key (a removed key becomes `null`); anything else is
/// replaced whole.
#[must_use]
pub fn merge_diff(before: &Value, after: &Value) -> Option<Value> {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut patch = Map::new();
            for (k, av) in a {
                match b.get(k) {
                    Some(bv) => {
                        if let Some(d) = merge_diff(bv, av) {
                            patch.insert(k.clone(), d);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), av.clone());
                    }
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (b, a) if b == a => None,
        // A null in the new state must be sent as a deletion, which `null` is.
        (_, a) => Some(a.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_diff;

    #[test]
    fn diff_sends_changes_and_removals_only() {
        let before = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2], "gone": "x"});
        let after = json!({"a": 1, "b": {"c": 2, "d": 4, "e": 5}, "l": [1, 2, 3]});
        assert_eq!(merge_diff(&before, &after), Some(json!({"b": {"d": 4, "e": 5}, "l": [1, 2, 3], "gone": null})));
        assert_eq!(merge_diff(&after, &after), None);
    }

    #[test]
    fn applying_the_diff_gives_the_new_state() {
        fn apply(target: &mut serde_json::Value, patch: &serde_json::Value) {
            match (target.as_object_mut(), patch.as_object()) {
                (Some(t), Some(p)) => {
                    for (k, v) in p {
                        if v.is_null() {
                            t.remove(k);
                        } else {
                            apply(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                        }
                    }
                }
                _ => *target = patch.clone(),
            }
        }
        let before =
            json!({"artifact": {"revision": "a", "size": 1}, "conditions": [{"type": "Ready"}], "x": {"y": 1}});
        let after = json!({"artifact": {"revision": "b", "digest": "d"}, "conditions": [], "observedGeneration": 2});
        let mut t = before.clone();
        apply(&mut t, &merge_diff(&before, &after).unwrap());
        assert_eq!(t, after);
    }
}
