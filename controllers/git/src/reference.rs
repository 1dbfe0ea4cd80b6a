//! What to check out: Flux's checkout strategies and how each one fetches.
//!
//! source-controller hands `fluxcd/pkg/git/gogit` a `CheckoutStrategy`; the caller has already
//! applied the precedence of `spec.ref` (commit > name > semver > tag > branch > `master`, see
//! `eddy_api::source::GitRepositoryRef::effective`). Each strategy fetches as go-git's clone does
//! for it in `gogit/clone.go`, with `ShallowClone` (always on in source-controller):
//!
//! | strategy | refspec | depth | tags | unchanged check |
//! |---|---|---|---|---|
//! | branch `B` | `+refs/heads/B:refs/remotes/origin/B` | 1 | none | yes |
//! | tag `T` | `+refs/tags/T:refs/tags/T` (the tag object comes with it) | 1 | that one | yes |
//! | semver | `+refs/heads/*:refs/remotes/origin/*` and `+refs/tags/*:refs/tags/*` | 1 | all | no |
//! | name `refs/…` | branch or tag as above, otherwise the commit the remote advertises for it | as those | | yes |
//! | commit with branch `B` | `+refs/heads/B:refs/remotes/origin/B` | full | none | no |
//! | commit alone | `+refs/heads/*:refs/remotes/origin/*` | full | none | no |
//!
//! A commit is looked up among what was fetched; a commit that no fetched branch reaches is "not
//! found", as in Flux. For a name that is neither a branch nor a tag (`refs/pull/1/head`) Flux
//! resolves the name with ls-remote and clones that commit (all branches, full depth); Eddy
//! fetches the named reference itself, which brings the same commit without the branches.

use eddy_api::source::{EffectiveGitRef, GitRepositoryRef};

/// The default branch when `spec.ref` names nothing (Flux's `git.DefaultBranch`).
pub const DEFAULT_BRANCH: &str = "master";

/// The suffix of a peeled tag in ls-remote output, also accepted in `spec.ref.name`.
pub const TAG_DEREFERENCE_SUFFIX: &str = "^{}";

/// One of Flux's checkout strategies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutStrategy {
    /// The tip of a branch (short name, e.g. `main`).
    Branch(String),
    /// A tag (short name, e.g. `v1.0.0`); annotated tags are peeled to their commit.
    Tag(String),
    /// The highest tag matching a Masterminds semver range.
    SemVer(String),
    /// Any full reference name: `refs/heads/main`, `refs/tags/v1` (optionally with `^{}`),
    /// `refs/pull/1/head`.
    RefName(String),
    /// A commit by its full hash.
    Commit {
        /// The commit hash.
        commit: String,
        /// A branch to fetch instead of all branches; it names the revision (`B@sha1:…`).
        branch: Option<String>,
        /// `spec.ref.name` set together with the commit: it only names the revision
        /// (absolute form) and, for a tag name, also fetches that tag.
        ref_name: Option<String>,
    },
}

impl CheckoutStrategy {
    /// The strategy for a GitRepository's `spec.ref` (`None`: the `master` branch), keeping
    /// what Flux keeps: a `name` set next to a `commit` still names the revision.
    #[must_use]
    pub fn from_spec(r: Option<&GitRepositoryRef>) -> Self {
        let Some(r) = r else { return Self::Branch(DEFAULT_BRANCH.to_owned()) };
        match r.effective() {
            EffectiveGitRef::Commit { commit, branch } => Self::Commit {
                commit: commit.to_owned(),
                branch: branch.map(str::to_owned),
                ref_name: r.name.as_deref().filter(|n| !n.is_empty()).map(str::to_owned),
            },
            other => Self::from(other),
        }
    }

    /// Whether Flux names this checkout's revision with the whole reference
    /// ([`crate::Commit::absolute_revision`]): when `spec.ref.name` is set.
    #[must_use]
    pub fn uses_absolute_revision(&self) -> bool {
        matches!(self, Self::RefName(_) | Self::Commit { ref_name: Some(_), .. })
    }

    /// Whether the no-clone optimisation (ls-remote against the last observed revision) applies:
    /// branches, tags and names, never commits or semver ranges.
    #[must_use]
    pub fn supports_unchanged_check(&self) -> bool {
        matches!(self, Self::Branch(_) | Self::Tag(_) | Self::RefName(_))
    }
}

impl From<EffectiveGitRef<'_>> for CheckoutStrategy {
    fn from(r: EffectiveGitRef<'_>) -> Self {
        match r {
            EffectiveGitRef::Commit { commit, branch } => {
                Self::Commit { commit: commit.to_owned(), branch: branch.map(str::to_owned), ref_name: None }
            }
            EffectiveGitRef::Name(n) => Self::RefName(n.to_owned()),
            EffectiveGitRef::Semver(s) => Self::SemVer(s.to_owned()),
            EffectiveGitRef::Tag(t) => Self::Tag(t.to_owned()),
            EffectiveGitRef::Branch(b) => Self::Branch(b.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_refs_map_with_flux_precedence() {
        assert_eq!(CheckoutStrategy::from_spec(None), CheckoutStrategy::Branch("master".into()));
        let r = GitRepositoryRef {
            commit: Some("abc".into()),
            name: Some("refs/heads/main".into()),
            branch: Some("main".into()),
            ..Default::default()
        };
        let s = CheckoutStrategy::from_spec(Some(&r));
        assert_eq!(
            s,
            CheckoutStrategy::Commit {
                commit: "abc".into(),
                branch: Some("main".into()),
                ref_name: Some("refs/heads/main".into())
            }
        );
        assert!(s.uses_absolute_revision());
        assert!(!s.supports_unchanged_check());
        let r = GitRepositoryRef { tag: Some("v1".into()), branch: Some("main".into()), ..Default::default() };
        assert_eq!(CheckoutStrategy::from_spec(Some(&r)), CheckoutStrategy::Tag("v1".into()));
    }
}
