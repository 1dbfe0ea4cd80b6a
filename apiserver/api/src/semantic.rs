//! Rules Flux enforces beyond its schemas.
//!
//! kube-apiserver admits these objects (the CRDs do not forbid them) and Flux's controllers then
//! refuse to reconcile them, reporting a Stalled/Ready=False condition. Eddy does the same: these
//! checks are **not** part of admission (a manifest Flux accepts must be accepted), they are for
//! the controllers, which turn the errors into conditions. Precedence rules that Flux applies
//! silently are exposed as typed helpers instead:
//!
//! - GitRepository `spec.ref`: commit > name > semver > tag > branch > `master`
//!   ([`crate::source::GitRepositoryRef::effective`]).
//! - OCIRepository `spec.ref`: digest > semver > tag > `latest`
//!   ([`crate::source::OciRepositoryRef::effective`]).
//! - ImagePolicy `spec.policy`: semver > alphabetical > numerical ([`image_policy_choice`]).
//!
//! Errors reported by [`check`]:
//!
//! - HelmRelease `spec.chart` and `spec.chartRef` are exclusive (also a CEL rule; repeated here
//!   so controllers can rely on it for objects admitted before the rule existed).
//! - HelmRelease `spec.chart.spec.verify` needs a HelmRepository source: the generated HelmChart
//!   would otherwise be rejected by HelmChart's own CEL rule.
//! - ImagePolicy `spec.policy` must choose one of semver, alphabetical or numerical.
//! - ImageRepository `spec.image` is a repository, not a reference: no scheme, tag or digest.
//! - Kustomization and HelmRelease `spec.dependsOn` may not name the object itself.

use serde_json::Value;

use crate::source::OciRepositoryRef;
use crate::validation::FieldError;

/// The ordering rule an ImagePolicy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChoice {
    /// Highest version in a semver range.
    SemVer,
    /// Alphabetical order.
    Alphabetical,
    /// Numerical order.
    Numerical,
}

/// Which ordering rule an ImagePolicy's `spec.policy` selects, by Flux's precedence; `None` when
/// it selects none.
#[must_use]
pub fn image_policy_choice(policy: &Value) -> Option<PolicyChoice> {
    let set = |k: &str| policy.get(k).is_some_and(|v| !v.is_null());
    if set("semver") {
        Some(PolicyChoice::SemVer)
    } else if set("alphabetical") {
        Some(PolicyChoice::Alphabetical)
    } else if set("numerical") {
        Some(PolicyChoice::Numerical)
    } else {
        None
    }
}

/// The one OCI reference Flux pulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveOciRef<'a> {
    /// An exact digest.
    Digest(&'a str),
    /// The highest tag in a semver range, optionally filtered by a regular expression.
    Semver {
        /// The range.
        range: &'a str,
        /// The tag filter.
        filter: Option<&'a str>,
    },
    /// A tag (`latest` when nothing is set).
    Tag(&'a str),
}

impl OciRepositoryRef {
    /// Applies Flux's precedence: digest > semver > tag > `latest`; empty strings are unset.
    #[must_use]
    pub fn effective(&self) -> EffectiveOciRef<'_> {
        fn set(v: Option<&String>) -> Option<&str> {
            v.map(String::as_str).filter(|s| !s.is_empty())
        }
        if let Some(d) = set(self.digest.as_ref()) {
            EffectiveOciRef::Digest(d)
        } else if let Some(range) = set(self.semver.as_ref()) {
            EffectiveOciRef::Semver { range, filter: set(self.semver_filter.as_ref()) }
        } else {
            EffectiveOciRef::Tag(set(self.tag.as_ref()).unwrap_or("latest"))
        }
    }
}

/// Flux's reconcile-time rules for an object of any kind (see the module documentation).
#[must_use]
pub fn check(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match kind {
        "HelmRelease" => {
            let chart = spec.get("chart").is_some_and(|v| !v.is_null());
            let chart_ref = spec.get("chartRef").is_some_and(|v| !v.is_null());
            if chart == chart_ref {
                errors.push(FieldError::invalid(
                    "spec",
                    Value::from("object"),
                    "exactly one of spec.chart and spec.chartRef must be set",
                ));
            }
            let source_kind = spec.pointer("/chart/spec/sourceRef/kind").and_then(Value::as_str);
            if spec.pointer("/chart/spec/verify").is_some_and(|v| !v.is_null()) && source_kind != Some("HelmRepository")
            {
                errors.push(FieldError::invalid(
                    "spec.chart.spec.verify",
                    Value::from("object"),
                    "chart verification needs a HelmRepository source",
                ));
            }
            check_self_dependency(obj, spec, &mut errors);
        }
        "Kustomization" => check_self_dependency(obj, spec, &mut errors),
        "ImagePolicy" if image_policy_choice(spec.get("policy").unwrap_or(&Value::Null)).is_none() => {
            errors.push(FieldError::required("spec.policy", "one of semver, alphabetical or numerical must be set"));
        }
        "ImageRepository" => {
            if let Some(image) = spec.get("image").and_then(Value::as_str)
                && let Some(problem) = image_reference_problem(image)
            {
                errors.push(FieldError::invalid("spec.image", Value::from(image), problem));
            }
        }
        _ => {}
    }
    errors
}

/// Why an image repository name is not acceptable, if it is not.
fn image_reference_problem(image: &str) -> Option<&'static str> {
    if image.contains("://") {
        return Some("must not start with a URL scheme");
    }
    if image.contains('@') {
        return Some("must not contain a digest");
    }
    // A colon after the last slash separates a tag (a colon before it is a registry port).
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        return Some("must not contain a tag");
    }
    if image.is_empty() {
        return Some("must not be empty");
    }
    None
}

fn check_self_dependency(obj: &Value, spec: &Value, errors: &mut Vec<FieldError>) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str);
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    let Some(deps) = spec.get("dependsOn").and_then(Value::as_array) else {
        return;
    };
    for (i, dep) in deps.iter().enumerate() {
        let dep_name = dep.get("name").and_then(Value::as_str);
        let dep_ns = dep.get("namespace").and_then(Value::as_str).or(namespace);
        if dep_name.is_some() && dep_name == name && dep_ns == namespace {
            errors.push(FieldError::invalid(
                &format!("spec.dependsOn[{i}]"),
                dep.clone(),
                "an object cannot depend on itself",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_msgs(obj: &Value) -> Vec<String> {
        check(obj).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn helm_release_rules() {
        let ok = json!({"kind": "HelmRelease", "spec": {"chartRef": {"kind": "OCIRepository", "name": "a"}}});
        assert!(check_msgs(&ok).is_empty());
        let both = json!({"kind": "HelmRelease", "spec": {"chart": {}, "chartRef": {}}});
        assert_eq!(
            check_msgs(&both),
            [r#"spec: Invalid value: "object": exactly one of spec.chart and spec.chartRef must be set"#]
        );
        let verify = json!({"kind": "HelmRelease", "spec": {"chart": {"spec": {
            "sourceRef": {"kind": "GitRepository", "name": "g"}, "verify": {"provider": "cosign"}}}}});
        assert_eq!(check(&verify).len(), 1);
        assert_eq!(check(&verify)[0].field, "spec.chart.spec.verify");
    }

    #[test]
    fn image_rules() {
        assert_eq!(
            image_policy_choice(&json!({"numerical": {}, "semver": {"range": "1.x"}})),
            Some(PolicyChoice::SemVer)
        );
        assert_eq!(image_policy_choice(&json!({"numerical": {}})), Some(PolicyChoice::Numerical));
        let none = json!({"kind": "ImagePolicy", "spec": {"policy": {}}});
        assert_eq!(
            check_msgs(&none),
            ["spec.policy: Required value: one of semver, alphabetical or numerical must be set"]
        );
        for (image, ok) in [
            ("ghcr.io/org/app", true),
            ("localhost:5000/app", true),
            ("ghcr.io/org/app:v1", false),
            ("ghcr.io/org/app@sha256:abc", false),
            ("https://ghcr.io/org/app", false),
        ] {
            let o = json!({"kind": "ImageRepository", "spec": {"image": image}});
            assert_eq!(check(&o).is_empty(), ok, "{image}");
        }
    }

    #[test]
    fn self_dependency_is_rejected() {
        let o = json!({"kind": "Kustomization", "metadata": {"name": "apps", "namespace": "flux-system"},
                       "spec": {"dependsOn": [{"name": "infra"}, {"name": "apps"},
                                              {"name": "apps", "namespace": "other"}]}});
        let errs = check(&o);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.dependsOn[1]");
    }

    #[test]
    fn git_ref_precedence() {
        use crate::source::{EffectiveGitRef, GitRepositoryRef};
        let all = GitRepositoryRef {
            branch: Some("main".into()),
            commit: Some("abc".into()),
            name: Some("refs/pull/1/head".into()),
            semver: Some("1.x".into()),
            tag: Some("v1".into()),
        };
        assert_eq!(all.effective(), EffectiveGitRef::Commit { commit: "abc", branch: Some("main") });
        let no_commit = GitRepositoryRef { commit: None, ..all.clone() };
        assert_eq!(no_commit.effective(), EffectiveGitRef::Name("refs/pull/1/head"));
        let no_name = GitRepositoryRef { name: None, ..no_commit };
        assert_eq!(no_name.effective(), EffectiveGitRef::Semver("1.x"));
        let no_semver = GitRepositoryRef { semver: None, ..no_name };
        assert_eq!(no_semver.effective(), EffectiveGitRef::Tag("v1"));
        let branch_only = GitRepositoryRef { tag: None, ..no_semver };
        assert_eq!(branch_only.effective(), EffectiveGitRef::Branch("main"));
        assert_eq!(GitRepositoryRef::default().effective(), EffectiveGitRef::Branch("master"));
    }

    #[test]
    fn oci_ref_precedence() {
        let r = OciRepositoryRef {
            digest: Some(String::new()),
            semver: Some(">=1.0".into()),
            semver_filter: None,
            tag: Some("v1".into()),
        };
        assert_eq!(r.effective(), EffectiveOciRef::Semver { range: ">=1.0", filter: None });
        assert_eq!(OciRepositoryRef::default().effective(), EffectiveOciRef::Tag("latest"));
    }
}
