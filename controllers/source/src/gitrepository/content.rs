//! Whether the content settings of a GitRepository changed since its artifact was built
//! (upstream's `gitContentConfigChanged`, `artifactSet.Diff`, `requiresVerification`).

use eddy_api::meta::Artifact;
use eddy_api::source::{GitRepository, GitRepositoryInclude};

/// The verification mode Flux acts on (`GetMode`): `HEAD` unless `Tag` or `TagAndHEAD`.
pub(crate) fn verification_mode(obj: &GitRepository) -> Option<&'static str> {
    let v = obj.spec.verify.as_ref()?;
    Some(match v.mode.as_deref() {
        Some("Tag") => "Tag",
        Some("TagAndHEAD") => "TagAndHEAD",
        _ => "HEAD",
    })
}

/// Whether verification is configured at all (`mode` set, as upstream checks it).
pub(crate) fn verification_enabled(obj: &GitRepository) -> bool {
    obj.spec.verify.as_ref().is_some_and(|v| v.mode.as_deref().is_some_and(|m| !m.is_empty()))
}

/// Upstream's `requiresVerification`: no verification recorded yet, or the mode widened.
pub(crate) fn requires_verification(obj: &GitRepository) -> bool {
    let Some(mode) = verification_mode(obj) else { return false };
    match obj.status.as_ref().and_then(|s| s.source_verification_mode.as_deref()) {
        None => true,
        Some("Tag") => matches!(mode, "HEAD" | "TagAndHEAD"),
        Some("HEAD") => matches!(mode, "Tag" | "TagAndHEAD"),
        Some(_) => false,
    }
}

/// Upstream's `artifactSet.Diff`: a different count, or an artifact whose revision is not
/// among the others.
pub(crate) fn artifacts_differ(a: &[Artifact], b: &[Artifact]) -> bool {
    a.len() != b.len() || a.iter().any(|x| !b.iter().any(|y| y.revision == x.revision))
}

fn include_equal(a: &GitRepositoryInclude, b: &GitRepositoryInclude) -> bool {
    a.repository.name == b.repository.name
        && a.from_path.as_deref().unwrap_or("") == b.from_path.as_deref().unwrap_or("")
        && a.to_path.as_deref().unwrap_or("") == b.to_path.as_deref().unwrap_or("")
}

/// Upstream's `gitContentConfigChanged`.
pub(crate) fn content_config_changed(obj: &GitRepository, includes: &[Artifact]) -> bool {
    let status = obj.status.clone().unwrap_or_default();
    let spec = &obj.spec;
    if spec.ignore != status.observed_ignore {
        return true;
    }
    if spec.recurse_submodules.unwrap_or(false) != status.observed_recurse_submodules.unwrap_or(false) {
        return true;
    }
    let spec_includes = spec.include.as_deref().unwrap_or_default();
    let observed_includes = status.observed_include.as_deref().unwrap_or_default();
    if spec_includes.len() != observed_includes.len() {
        return true;
    }
    if requires_verification(obj) {
        return true;
    }
    if spec.sparse_checkout.as_deref().unwrap_or_default()
        != status.observed_sparse_checkout.as_deref().unwrap_or_default()
    {
        return true;
    }
    let included = status.included_artifacts.as_deref().unwrap_or_default();
    if spec_includes.len() != includes.len() || spec_includes.len() != included.len() {
        return true;
    }
    spec_includes.iter().enumerate().any(|(i, incl)| {
        !include_equal(incl, &observed_includes[i])
            || included[i].revision != includes[i].revision
            || included[i].digest != includes[i].digest
    })
}

#[cfg(test)]
mod tests {
    use eddy_api::meta::LocalObjectReference;
    use eddy_api::source::{GitRepositoryStatus, GitRepositoryVerification};

    use super::*;

    fn artifact(rev: &str, digest: &str) -> Artifact {
        Artifact { revision: rev.into(), digest: digest.into(), ..Artifact::default() }
    }

    #[test]
    fn unchanged_when_status_mirrors_spec() {
        let mut o = GitRepository::new("a", "ns");
        o.spec.ignore = Some("*.txt".into());
        o.spec.sparse_checkout = Some(vec!["apps".into()]);
        o.status = Some(GitRepositoryStatus {
            observed_ignore: Some("*.txt".into()),
            observed_sparse_checkout: Some(vec!["apps".into()]),
            ..Default::default()
        });
        assert!(!content_config_changed(&o, &[]));
        o.spec.ignore = None;
        assert!(content_config_changed(&o, &[]));
    }

    #[test]
    fn include_revisions_and_digests_count() {
        let mut o = GitRepository::new("a", "ns");
        let incl = GitRepositoryInclude {
            repository: LocalObjectReference { name: "b".into() },
            ..GitRepositoryInclude::default()
        };
        o.spec.include = Some(vec![incl.clone()]);
        o.status = Some(GitRepositoryStatus {
            observed_include: Some(vec![incl]),
            included_artifacts: Some(vec![artifact("main@sha1:1", "sha256:a")]),
            ..Default::default()
        });
        assert!(!content_config_changed(&o, &[artifact("main@sha1:1", "sha256:a")]));
        assert!(content_config_changed(&o, &[artifact("main@sha1:2", "sha256:a")]));
        assert!(content_config_changed(&o, &[artifact("main@sha1:1", "sha256:b")]));
        assert!(content_config_changed(&o, &[]));
    }

    #[test]
    fn verification_mode_widening_requires_verification() {
        let mut o = GitRepository::new("a", "ns");
        o.spec.verify = Some(GitRepositoryVerification {
            mode: Some("TagAndHEAD".into()),
            secret_ref: LocalObjectReference { name: "keys".into() },
        });
        assert!(requires_verification(&o), "nothing verified yet");
        o.status = Some(GitRepositoryStatus { source_verification_mode: Some("HEAD".into()), ..Default::default() });
        assert!(requires_verification(&o));
        o.status =
            Some(GitRepositoryStatus { source_verification_mode: Some("TagAndHEAD".into()), ..Default::default() });
        assert!(!requires_verification(&o));
        o.spec.verify.as_mut().unwrap().mode = Some("head".into());
        assert_eq!(verification_mode(&o), Some("HEAD"));
    }

    #[test]
    fn artifact_sets_compare_by_revision() {
        let a = [artifact("r1", "d1"), artifact("r2", "d2")];
        assert!(!artifacts_differ(&a, &[artifact("r2", "x"), artifact("r1", "y")]));
        assert!(artifacts_differ(&a, &[artifact("r1", "d1")]));
        assert!(artifacts_differ(&a, &[artifact("r1", "d1"), artifact("r3", "d3")]));
    }
}
