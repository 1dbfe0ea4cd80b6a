//! Cloning a repository into a directory for one checkout strategy, as source-controller does.
//!
//! [`clone`] is a blocking function: the controller runs it in `spawn_blocking`. It always ends
//! within [`CloneOptions::timeout`] (Flux's `spec.timeout`, default 60 s) and stops early when
//! [`CloneOptions::cancel`] fires. See [`crate::reference`] for what each strategy fetches, and
//! [`crate::checkout`] and [`crate::submodule`] for the working tree.
//!
//! The no-clone optimisation: with [`CloneOptions::last_observed_revision`] set (Flux sets it to
//! the artifact's revision when the artifact is in storage) and a branch, tag or name strategy,
//! the remote's references are listed first; if the remote still points where the last revision
//! says, nothing is fetched and [`CloneOutcome::Unchanged`] carries the hash and reference (Flux's
//! "partial commit"). Legacy revisions (`main/<hash>`) are understood.

use std::path::Path;
use std::time::Duration;

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::remote::fetch::Tags;

use crate::auth::AuthOptions;
use crate::cache::{Advertised, CheckoutCache, CloneKey, copy_tree};
use crate::cancel::{CancelToken, Watchdog};
use crate::checkout::checkout;
use crate::error::GitError;
use crate::proxy::ProxyOptions;
use crate::reference::{CheckoutStrategy, TAG_DEREFERENCE_SUFFIX};
use crate::remote::{FetchSpec, fetch, init_repository, list_refs, resolve_remote_ref};
use crate::revision::{Commit, Revision, transform_revision};
use crate::semver::{Constraint, select_tag};
use crate::transport::Target;
use crate::{objects, submodule};

/// The default time limit (Flux's `spec.timeout` default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How to clone.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    /// The repository URL (`http`, `https`, `ssh`, or `file` for local repositories).
    pub url: String,
    /// What to check out.
    pub checkout: CheckoutStrategy,
    /// The artifact's revision, to skip fetching when the remote has not moved.
    pub last_observed_revision: Option<String>,
    /// Fetch only what the checkout needs where Flux does (depth 1); on by default, as in
    /// source-controller.
    pub shallow: bool,
    /// Also fetch and check out submodules (`spec.recurseSubmodules`).
    pub recurse_submodules: bool,
    /// Only write these directories (`spec.sparseCheckout`; a leading `./` is removed as
    /// source-controller does). Empty: the whole tree.
    pub sparse_checkout: Vec<String>,
    /// A proxy (`spec.proxySecretRef`).
    pub proxy: Option<ProxyOptions>,
    /// The time limit for the whole operation.
    pub timeout: Duration,
    /// Cancels the operation from another thread.
    pub cancel: Option<CancelToken>,
    /// Checkouts shared with identical clones (see [`crate::cache`]); `None`: always fetch.
    pub cache: Option<CheckoutCache>,
}

impl CloneOptions {
    /// Options for `url` and `checkout` with Flux's defaults (shallow, 60 s, no submodules).
    #[must_use]
    pub fn new(url: impl Into<String>, checkout: CheckoutStrategy) -> Self {
        Self {
            url: url.into(),
            checkout,
            last_observed_revision: None,
            shallow: true,
            recurse_submodules: false,
            sparse_checkout: Vec::new(),
            proxy: None,
            timeout: DEFAULT_TIMEOUT,
            cancel: None,
            cache: None,
        }
    }
}

/// What a clone produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneOutcome {
    /// The remote still points at the last observed revision; nothing was fetched and the
    /// directory was not touched.
    Unchanged {
        /// The commit hash.
        hash: String,
        /// The full reference.
        reference: String,
        /// The revision string (as the artifact has it).
        revision: String,
    },
    /// The commit was checked out into the directory.
    Cloned {
        /// The checked-out commit, with the tag for tag and semver checkouts.
        commit: Box<Commit>,
        /// Its revision string (`main@sha1:…`, or absolute for `spec.ref.name`).
        revision: String,
    },
}

impl CloneOutcome {
    /// The revision string.
    #[must_use]
    pub fn revision(&self) -> &str {
        match self {
            Self::Unchanged { revision, .. } | Self::Cloned { revision, .. } => revision,
        }
    }

    /// The commit hash.
    #[must_use]
    pub fn hash(&self) -> &str {
        match self {
            Self::Unchanged { hash, .. } => hash,
            Self::Cloned { commit, .. } => &commit.hash,
        }
    }

    /// The full commit, unless nothing was fetched (Flux's `IsConcreteCommit`).
    #[must_use]
    pub fn commit(&self) -> Option<&Commit> {
        match self {
            Self::Unchanged { .. } => None,
            Self::Cloned { commit, .. } => Some(commit),
        }
    }
}

/// Clones `opts.url` into `dir` (an empty or missing directory) and checks out what
/// `opts.checkout` selects.
///
/// # Errors
///
/// [`GitError`]: invalid URL, options or semver range; refused credentials or host key; missing
/// repository, branch, tag, reference or commit; no matching tag; empty repository; timeout or
/// cancellation; transport or local failures.
pub fn clone(dir: &Path, opts: &CloneOptions, auth: &AuthOptions) -> Result<CloneOutcome, GitError> {
    let watchdog = Watchdog::start(opts.timeout, opts.cancel.as_ref());
    let target = Target::new(&opts.url, auth, opts.proxy.as_ref(), &watchdog)?;
    let span = tracing::debug_span!("git_clone", url = %target.display);
    let _enter = span.enter();
    let constraint = match &opts.checkout {
        CheckoutStrategy::SemVer(c) => Some(Constraint::parse(c)?),
        _ => None,
    };
    let mut listed = None;
    if let Some(unchanged) = check_unchanged(&target, opts, &mut listed)? {
        return Ok(unchanged);
    }
    let sparse: Vec<String> =
        opts.sparse_checkout.iter().map(|d| d.strip_prefix("./").unwrap_or(d).to_owned()).collect();
    if let Some(cache) = &opts.cache
        && target.is_http()
        && let Some((key, reference)) = CloneKey::new(opts, auth, &sparse)
    {
        let refs = listed.or_else(|| crate::http_list::list(&target));
        if let Some(advertised) = refs.as_deref().and_then(|r| advertised(r, &reference)) {
            let mut turn = cache.acquire(&key, &watchdog, &target.display)?;
            if let Some(entry) = turn.entry.clone().filter(|e| e.advertised == advertised) {
                drop(turn);
                copy_tree(&entry.tree, dir, false)
                    .map_err(|e| GitError::local(format!("unable to write the checkout to '{}'", dir.display()), e))?;
                watchdog.check(&target.display)?;
                tracing::debug!(revision = %entry.revision, "checked out from a shared checkout");
                return Ok(CloneOutcome::Cloned {
                    commit: Box::new(entry.commit.clone()),
                    revision: entry.revision.clone(),
                });
            }
            let outcome = fetch_and_checkout(dir, opts, auth, &target, &watchdog, constraint.as_ref(), &sparse)?;
            if let CloneOutcome::Cloned { commit, revision } = &outcome
                && commit.hash == advertised.commit()
            {
                turn.store(dir, advertised, commit, revision);
            }
            return Ok(outcome);
        }
    }
    fetch_and_checkout(dir, opts, auth, &target, &watchdog, constraint.as_ref(), &sparse)
}

/// What the remote advertises for a full reference name.
fn advertised(refs: &[crate::remote::RemoteRef], reference: &str) -> Option<Advertised> {
    let r = refs.iter().find(|r| r.name == reference)?;
    (!r.target.is_empty()).then(|| Advertised { target: r.target.clone(), peeled: r.peeled.clone() })
}

/// The clone proper: fetch what the strategy needs into a new repository in `dir` and check
/// it out.
fn fetch_and_checkout(
    dir: &Path,
    opts: &CloneOptions,
    auth: &AuthOptions,
    target: &Target<'_>,
    watchdog: &Watchdog,
    constraint: Option<&Constraint>,
    sparse: &[String],
) -> Result<CloneOutcome, GitError> {
    std::fs::create_dir_all(dir).map_err(|e| GitError::local(format!("unable to create '{}'", dir.display()), e))?;
    let repo = init_repository(dir, false)?;
    let depth = if opts.shallow { std::num::NonZeroU32::new(1) } else { None };
    let resolved = match &opts.checkout {
        CheckoutStrategy::Branch(b) => fetch_branch(&repo, target, b, depth)?,
        CheckoutStrategy::Tag(t) => fetch_tag(&repo, target, t, depth)?,
        CheckoutStrategy::SemVer(c) => {
            let constraint = constraint.ok_or_else(|| GitError::local("semver", "constraint missing"))?;
            fetch_semver(&repo, target, c, constraint, depth)?
        }
        CheckoutStrategy::RefName(name) => fetch_ref_name(&repo, target, name, depth)?,
        CheckoutStrategy::Commit { commit, branch, ref_name } => {
            fetch_commit(&repo, target, commit, branch.as_deref(), ref_name.as_deref())?
        }
    };
    let gitlinks = checkout(&repo, resolved.commit, sparse, watchdog.interrupt())?;
    watchdog.check(&target.display)?;
    // go-git only updates submodules when it checks out during the clone, which Flux disables
    // for sparse checkouts: sparse checkouts never get submodules.
    if opts.recurse_submodules && sparse.is_empty() {
        let ctx = submodule::Context { auth, proxy: opts.proxy.as_ref(), watchdog };
        submodule::update(dir, &opts.url, &gitlinks, &ctx, 1)?;
    }
    let mut commit = objects::commit(&repo, resolved.commit, &resolved.reference)?;
    commit.referencing_tag = match resolved.tag {
        Some(tag_id) => Some(objects::tag(&repo, tag_id, &resolved.reference, resolved.commit)?),
        None if resolved.reference.starts_with("refs/tags/") => {
            Some(objects::lightweight_tag(&resolved.reference, resolved.commit))
        }
        None => None,
    };
    let revision = if opts.checkout.uses_absolute_revision() { commit.absolute_revision() } else { commit.revision() };
    tracing::debug!(%revision, "checked out");
    Ok(CloneOutcome::Cloned { commit: Box::new(commit), revision })
}

/// What a strategy resolved to.
struct Resolved {
    commit: ObjectId,
    /// The full reference naming the revision.
    reference: String,
    /// The annotated tag object, if the reference is one.
    tag: Option<ObjectId>,
}

/// The no-clone check; a listing it made is left in `listed` for the checkout cache.
fn check_unchanged(
    target: &Target<'_>,
    opts: &CloneOptions,
    listed: &mut Option<Vec<crate::remote::RemoteRef>>,
) -> Result<Option<CloneOutcome>, GitError> {
    let last = opts.last_observed_revision.as_deref().map(transform_revision).unwrap_or_default();
    let (reference, short) = match &opts.checkout {
        CheckoutStrategy::Branch(b) => (format!("refs/heads/{b}"), b.clone()),
        CheckoutStrategy::Tag(t) => (format!("refs/tags/{t}"), t.clone()),
        CheckoutStrategy::RefName(n) => {
            if n.starts_with('/') || n.ends_with('/') {
                return Err(GitError::InvalidReference {
                    reference: n.clone(),
                    reason: "Git refs cannot begin or end with a slash '/'".to_owned(),
                });
            }
            // Flux resolves a name with ls-remote whether or not there is a last revision.
            let base = n.strip_suffix(TAG_DEREFERENCE_SUFFIX).unwrap_or(n);
            let refs = list_refs(target, Some(base)).map_err(|e| list_error(target, e))?;
            let head =
                resolve_remote_ref(&refs, n).ok_or_else(|| GitError::UnresolvedReference { reference: n.clone() })?;
            if !last.is_empty() && head == last {
                let hash = Revision::parse(&head).hash;
                return Ok(Some(CloneOutcome::Unchanged { hash, reference: n.clone(), revision: head }));
            }
            return Ok(None);
        }
        _ => return Ok(None),
    };
    if last.is_empty() {
        return Ok(None);
    }
    let refs = list_refs(target, Some(&reference)).map_err(|e| list_error(target, e))?;
    let head = resolve_remote_ref(&refs, &reference);
    *listed = Some(refs);
    let Some(head) = head else { return Ok(None) };
    let hash = Revision::parse(&head).hash;
    let revision = format!("{short}@{}", crate::revision::digest(&hash));
    if revision == last {
        tracing::debug!(%revision, "remote unchanged, not fetching");
        return Ok(Some(CloneOutcome::Unchanged { hash, reference, revision }));
    }
    Ok(None)
}

fn list_error(target: &Target<'_>, e: GitError) -> GitError {
    match e {
        e @ (GitError::Timeout { .. } | GitError::Cancelled { .. } | GitError::Auth(_) | GitError::Proxy(_)) => e,
        e => GitError::ListRemote { url: target.display.clone(), source: Box::new(e) },
    }
}

fn local_ref(repo: &gix::Repository, name: &str) -> Result<ObjectId, GitError> {
    repo.find_reference(name)
        .map_err(|e| GitError::local(format!("unable to find the fetched reference '{name}'"), e))?
        .target()
        .try_id()
        .map(ToOwned::to_owned)
        .ok_or_else(|| GitError::local(format!("unable to resolve '{name}'"), "symbolic reference"))
}

/// Peels `id` through tag objects to a commit; returns the commit and the first tag object.
fn peel(repo: &gix::Repository, id: ObjectId) -> Result<(ObjectId, Option<ObjectId>), GitError> {
    let mut current = id;
    let mut first_tag = None;
    for _ in 0..32 {
        let object =
            repo.find_object(current).map_err(|e| GitError::local(format!("unable to read object {current}"), e))?;
        match object.kind {
            gix::object::Kind::Tag => {
                first_tag.get_or_insert(current);
                let tag = object.into_tag();
                current = tag.target_id().map_err(|e| GitError::local("unable to read tag", e))?.detach();
            }
            gix::object::Kind::Commit => return Ok((current, first_tag)),
            other => {
                return Err(GitError::local(format!("unable to check out {id}"), format!("it points to a {other}")));
            }
        }
    }
    Err(GitError::local(format!("unable to check out {id}"), "too many nested tags"))
}

fn fetch_branch(
    repo: &gix::Repository,
    target: &Target<'_>,
    branch: &str,
    depth: Option<std::num::NonZeroU32>,
) -> Result<Resolved, GitError> {
    let reference = format!("refs/heads/{branch}");
    let local = format!("refs/remotes/origin/{branch}");
    let spec = FetchSpec {
        refspecs: vec![format!("+{reference}:{local}")],
        tags: Tags::None,
        depth,
        required: vec![reference.clone()],
    };
    fetch(repo, target, &spec)?;
    let (commit, _) = peel(repo, local_ref(repo, &local)?)?;
    Ok(Resolved { commit, reference, tag: None })
}

fn fetch_tag(
    repo: &gix::Repository,
    target: &Target<'_>,
    tag: &str,
    depth: Option<std::num::NonZeroU32>,
) -> Result<Resolved, GitError> {
    let reference = format!("refs/tags/{tag}");
    let spec = FetchSpec {
        refspecs: vec![format!("+{reference}:{reference}")],
        tags: Tags::None,
        depth,
        required: vec![reference.clone()],
    };
    fetch(repo, target, &spec)?;
    let (commit, tag) = peel(repo, local_ref(repo, &reference)?)?;
    Ok(Resolved { commit, reference, tag })
}

fn fetch_semver(
    repo: &gix::Repository,
    target: &Target<'_>,
    text: &str,
    constraint: &Constraint,
    depth: Option<std::num::NonZeroU32>,
) -> Result<Resolved, GitError> {
    let spec = FetchSpec {
        refspecs: vec!["+refs/heads/*:refs/remotes/origin/*".to_owned(), "+refs/tags/*:refs/tags/*".to_owned()],
        tags: Tags::All,
        depth,
        required: Vec::new(),
    };
    fetch(repo, target, &spec)?;
    let mut candidates: Vec<(String, i64)> = Vec::new();
    let refs = repo.references().map_err(|e| GitError::local("unable to list tags", e))?;
    let tags = refs.tags().map_err(|e| GitError::local("unable to list tags", e))?;
    for r in tags {
        let r = r.map_err(|e| GitError::local("unable to list tags", e))?;
        let name = r.name().shorten().to_str_lossy().into_owned();
        let Some(id) = r.target().try_id().map(ToOwned::to_owned) else { continue };
        let Ok((commit, _)) = peel(repo, id) else { continue };
        let time = objects::committer_time(repo, commit)?;
        candidates.push((name, time));
    }
    let chosen = select_tag(constraint, candidates.iter().map(|(n, t)| (n.as_str(), *t)))
        .ok_or_else(|| GitError::NoSemverMatch { constraint: text.to_owned() })?
        .to_owned();
    let reference = format!("refs/tags/{chosen}");
    let (commit, tag) = peel(repo, local_ref(repo, &reference)?)?;
    Ok(Resolved { commit, reference, tag })
}

fn fetch_ref_name(
    repo: &gix::Repository,
    target: &Target<'_>,
    name: &str,
    depth: Option<std::num::NonZeroU32>,
) -> Result<Resolved, GitError> {
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        let mut r = fetch_branch(repo, target, branch, depth)?;
        r.reference = name.to_owned();
        return Ok(r);
    }
    if let Some(tag) = name.strip_prefix("refs/tags/") {
        let tag = tag.strip_suffix(TAG_DEREFERENCE_SUFFIX).unwrap_or(tag);
        let mut r = fetch_tag(repo, target, tag, depth)?;
        r.reference = name.to_owned();
        return Ok(r);
    }
    let spec = FetchSpec { refspecs: vec![format!("+{name}:{name}")], tags: Tags::None, depth, required: Vec::new() };
    fetch(repo, target, &spec)?;
    let id = local_ref(repo, name).map_err(|_| GitError::UnresolvedReference { reference: name.to_owned() })?;
    let (commit, _) = peel(repo, id)?;
    Ok(Resolved { commit, reference: name.to_owned(), tag: None })
}

fn fetch_commit(
    repo: &gix::Repository,
    target: &Target<'_>,
    commit: &str,
    branch: Option<&str>,
    ref_name: Option<&str>,
) -> Result<Resolved, GitError> {
    let (refspec, required, mut reference) = match branch {
        Some(b) => (
            format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
            vec![format!("refs/heads/{b}")],
            format!("refs/heads/{b}"),
        ),
        None => ("+refs/heads/*:refs/remotes/origin/*".to_owned(), Vec::new(), String::new()),
    };
    let tag_following = ref_name.is_some_and(|n| n.starts_with("refs/tags/") && !n.ends_with(TAG_DEREFERENCE_SUFFIX));
    let spec = FetchSpec {
        refspecs: vec![refspec],
        tags: if tag_following { Tags::Included } else { Tags::None },
        depth: None,
        required,
    };
    fetch(repo, target, &spec)?;
    let not_found = || GitError::CommitNotFound { commit: commit.to_owned() };
    let id = ObjectId::from_hex(commit.as_bytes()).map_err(|_| not_found())?;
    if repo.find_commit(id).is_err() {
        return Err(not_found());
    }
    if let Some(n) = ref_name {
        n.clone_into(&mut reference);
    }
    Ok(Resolved { commit: id, reference, tag: None })
}
