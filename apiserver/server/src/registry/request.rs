//! What kube-apiserver's decoder does to a custom resource in a request body before the
//! strategy sees it: unknown fields pruned (refused or warned about per `fieldValidation`),
//! defaults applied in the request's version — and which of those defaults can be stored.

use eddy_api::admission::{AdmissionError, FieldValidation};
use serde_json::Value;

use super::ServedResource;
use crate::status::{ApiError, Target};

/// A request body after [`decode_request`]: the warnings to send and the defaults it got.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    /// `Warning` headers (deprecated version, unknown fields under `fieldValidation=Warn`).
    pub(super) warnings: Vec<String>,
    /// The values defaulting added to the body.
    pub(super) defaults: RequestDefaults,
}

/// What kube-apiserver's decoder does to a custom resource in a request body: drop unknown
/// fields (refused under `fieldValidation=Strict`, warned about under `Warn`) and non-nullable
/// nulls, then apply defaults. Validation comes later, after the strategy.
pub(super) fn decode_request(
    res: &ServedResource,
    obj: &mut Value,
    mode: FieldValidation,
    target: &Target,
) -> Result<Decoded, ApiError> {
    let Some(v) = res.info().version(res.version) else {
        return Err(ApiError::internal(format!("{} is not served", res.api_version())));
    };
    let pruned = eddy_api::pruning::prune(&v.schema, obj);
    let mut warnings: Vec<String> = v.deprecation_warning.map(str::to_owned).into_iter().collect();
    match mode {
        FieldValidation::Strict if !pruned.is_empty() => {
            let e = AdmissionError::UnknownFields(pruned);
            return Err(ApiError::from_admission(&e, target.clone(), res.info().kind));
        }
        FieldValidation::Warn => warnings.extend(pruned.iter().map(|p| format!("unknown field {p:?}"))),
        _ => {}
    }
    // Only a request in another version than the storage version can get defaults that are
    // not stored (see `RequestDefaults`); in the storage version the body is not copied.
    if res.version == res.info().storage_version().name {
        eddy_api::defaulting::default(&v.schema, obj);
        return Ok(Decoded { warnings, defaults: RequestDefaults::default() });
    }
    let sent = obj.clone();
    eddy_api::defaulting::default(&v.schema, obj);
    Ok(Decoded { warnings, defaults: RequestDefaults::added(&sent, obj) })
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

fn value_at<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn value_at_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}

/// The values defaulting put into a request body that the client did not send: each one a
/// field of an object (its parent's path, its name) and the default it got.
///
/// kube-apiserver decodes a custom resource in the request's version and defaults it with that
/// version's schema, then stores it converted to the storage version and pruned there, so a
/// default the storage version does not declare is lost: a GitRepository stored as v1 and
/// patched through v1beta2 gets v1beta2's `gitImplementation: go-git` for the field manager,
/// strategy and validation, but never stores or shows it. Eddy's conversion would remember the
/// field in its conversion annotation (it keeps what clients wrote in another version), so these
/// defaults are dropped before the object is converted: only what the client sent is
/// remembered.
#[derive(Debug, Clone, Default)]
pub(super) struct RequestDefaults(Vec<(Vec<Step>, String, Value)>);

impl RequestDefaults {
    /// The fields `after` (defaulted) has and `before` (as sent) lacks or has as `null`.
    fn added(before: &Value, after: &Value) -> Self {
        fn walk(before: &Value, after: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, String, Value)>) {
            match (before, after) {
                (Value::Object(b), Value::Object(a)) => {
                    for (k, v) in a {
                        match b.get(k) {
                            None | Some(Value::Null) if !v.is_null() => out.push((path.clone(), k.clone(), v.clone())),
                            Some(bv) => {
                                path.push(Step::Key(k.clone()));
                                walk(bv, v, path, out);
                                path.pop();
                            }
                            None => {}
                        }
                    }
                }
                (Value::Array(b), Value::Array(a)) => {
                    for (i, (bv, v)) in b.iter().zip(a).enumerate() {
                        path.push(Step::Index(i));
                        walk(bv, v, path, out);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(before, after, &mut Vec::new(), &mut out);
        Self(out)
    }

    /// Reduces each default `obj` (in the request's version) still holds to what the storage
    /// version's schema keeps of it, removing it when that is nothing. Nothing changes when the
    /// request's version is the storage version.
    pub(super) fn drop_unstorable(&self, res: &ServedResource, obj: &mut Value) {
        let storage = res.info().storage_version();
        if self.0.is_empty() || storage.name == res.version {
            return;
        }
        // kube's way to the storage version for the Flux CRDs (conversion strategy None, then
        // pruning), to see what survives of each default.
        let mut stored = obj.clone();
        eddy_api::pruning::prune(&storage.schema, &mut stored);
        for (parent, field, value) in &self.0 {
            if value_at(obj, parent).and_then(|p| p.get(field)) != Some(value) {
                continue;
            }
            let kept = value_at(&stored, parent).and_then(|p| p.get(field)).cloned();
            if let Some(Value::Object(p)) = value_at_mut(obj, parent) {
                match kept {
                    Some(k) => p.insert(field.clone(), k),
                    None => p.remove(field),
                };
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::strategy::KindStrategies;

    pub(crate) fn git(version: &str) -> ServedResource {
        KindStrategies::build().resource("source.toolkit.fluxcd.io", version, "gitrepositories").expect("served")
    }

    #[test]
    fn request_defaults_are_the_fields_defaulting_added() {
        let before = json!({"spec": {"a": 1, "n": null, "list": [{"x": 1}, {}]}});
        let after = json!({"spec": {"a": 1, "n": 2, "d": {"e": 3}, "list": [{"x": 1}, {"y": 4}]}, "status": {}});
        let added = RequestDefaults::added(&before, &after).0;
        let key = |k: &str| Step::Key(k.to_owned());
        assert_eq!(
            added,
            vec![
                (vec![key("spec")], "n".to_owned(), json!(2)),
                (vec![key("spec")], "d".to_owned(), json!({"e": 3})),
                (vec![key("spec"), key("list"), Step::Index(1)], "y".to_owned(), json!(4)),
                (vec![], "status".to_owned(), json!({})),
            ]
        );
    }

    #[test]
    fn v1beta2_defaults_the_storage_version_lacks_are_not_stored() {
        let app = |version: &str| {
            json!({
                "apiVersion": format!("source.toolkit.fluxcd.io/{version}"), "kind": "GitRepository",
                "metadata": {"name": "app", "namespace": "default"},
                "spec": {"url": "https://github.com/org/app", "interval": "5m"}
            })
        };
        let beta = git("v1beta2");
        let mut obj = app("v1beta2");
        let decoded = decode_request(&beta, &mut obj, FieldValidation::Ignore, &beta.target("app")).expect("decoded");
        // The field manager, strategy and validation see the request version's defaults...
        assert_eq!(obj["spec"]["gitImplementation"], "go-git");
        assert_eq!(obj["spec"]["timeout"], "60s");
        // ...but only what v1 declares is stored (and nothing is left for Eddy's conversion to
        // remember in an annotation).
        decoded.defaults.drop_unstorable(&beta, &mut obj);
        assert_eq!(obj["spec"], json!({"url": "https://github.com/org/app", "interval": "5m", "timeout": "60s"}));
        let stored = crate::storage_codec::decode(
            &git("v1"),
            &crate::storage_codec::encode(&beta.strategy, &obj).expect("stored"),
        )
        .expect("decoded");
        assert_eq!(stored["metadata"].get("annotations"), None, "{stored}");

        // A value the client sent is kept, also when it equals the default.
        let mut sent = obj.clone();
        sent["spec"]["gitImplementation"] = json!("go-git");
        let decoded = decode_request(&beta, &mut sent, FieldValidation::Ignore, &beta.target("app")).expect("decoded");
        decoded.defaults.drop_unstorable(&beta, &mut sent);
        assert_eq!(sent["spec"]["gitImplementation"], "go-git");

        // In the storage version every default is stored.
        let v1 = git("v1");
        let mut obj = app("v1");
        let decoded = decode_request(&v1, &mut obj, FieldValidation::Ignore, &v1.target("app")).expect("decoded");
        let defaulted = obj.clone();
        decoded.defaults.drop_unstorable(&v1, &mut obj);
        assert_eq!(obj, defaulted);
    }
}
