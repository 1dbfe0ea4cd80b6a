//! Talking to a remote: listing its references (ls-remote) and fetching into a repository.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::protocol::handshake::Ref;
use gix::remote::fetch::{Shallow, Tags};

use crate::auth::AuthOptions;
use crate::cancel::{CancelToken, Watchdog};
use crate::error::GitError;
use crate::proxy::ProxyOptions;
use crate::reference::TAG_DEREFERENCE_SUFFIX;
use crate::transport::Target;

/// A reference the remote advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name (`refs/heads/main`, `refs/tags/v1.0.0`, `HEAD`).
    pub name: String,
    /// The object the reference points to (a tag object for an annotated tag); empty for a
    /// symbolic reference to an unborn branch.
    pub target: String,
    /// For an annotated tag, the commit it points to.
    pub peeled: Option<String>,
    /// For a symbolic reference (`HEAD`), the reference it points to.
    pub symbolic_target: Option<String>,
}

impl RemoteRef {
    fn from_handshake(r: &Ref) -> Self {
        match r {
            Ref::Peeled { full_ref_name, tag, object } => Self {
                name: full_ref_name.to_string(),
                target: tag.to_string(),
                peeled: Some(object.to_string()),
                symbolic_target: None,
            },
            Ref::Direct { full_ref_name, object } => Self {
                name: full_ref_name.to_string(),
                target: object.to_string(),
                peeled: None,
                symbolic_target: None,
            },
            Ref::Symbolic { full_ref_name, target, tag, object } => Self {
                name: full_ref_name.to_string(),
                target: tag.map_or_else(|| object.to_string(), |t| t.to_string()),
                peeled: tag.map(|_| object.to_string()),
                symbolic_target: Some(target.to_string()),
            },
            Ref::Unborn { full_ref_name, target } => Self {
                name: full_ref_name.to_string(),
                target: String::new(),
                peeled: None,
                symbolic_target: Some(target.to_string()),
            },
        }
    }
}

/// Lists the references of the repository at `url` (all of `refs/` and `HEAD`), as
/// `git ls-remote` does, within `timeout`.
///
/// # Errors
///
/// [`GitError`] for an invalid URL or options, a refused connection or credentials, a timeout.
pub fn ls_remote(url: &str, auth: &AuthOptions, timeout: Duration) -> Result<Vec<RemoteRef>, GitError> {
    ls_remote_with(url, auth, None, timeout, None)
}

/// [`ls_remote`] through an optional proxy, cancellable with `cancel`.
///
/// # Errors
///
/// As [`ls_remote`].
pub fn ls_remote_with(
    url: &str,
    auth: &AuthOptions,
    proxy: Option<&ProxyOptions>,
    timeout: Duration,
    cancel: Option<&CancelToken>,
) -> Result<Vec<RemoteRef>, GitError> {
    let watchdog = Watchdog::start(timeout, cancel);
    let target = Target::new(url, auth, proxy, &watchdog)?;
    list_refs(&target, None)
}

/// Lists the references of the target's remote: all of them, or only `only` (a full reference
/// name, which the server then filters for, saving the transfer of every other reference).
pub(crate) fn list_refs(target: &Target<'_>, only: Option<&str>) -> Result<Vec<RemoteRef>, GitError> {
    if target.is_http() {
        target.watchdog.check(&target.display)?;
        // Protocol version 1 has no server-side filter: `only` narrows nothing either way.
        if let Some(refs) = crate::http_list::list(target) {
            return Ok(refs);
        }
    }
    let repo = scratch_repository()?;
    let specs = match only {
        Some(name) => vec![format!("+{name}:{name}")],
        None => vec!["+refs/*:refs/*".to_owned(), "+HEAD:refs/remotes/origin/HEAD".to_owned()],
    };
    let remote = repo
        .remote_at(target.url.as_str())
        .and_then(|r| r.with_refspecs(specs.iter().map(String::as_str), gix::remote::Direction::Fetch))
        .map_err(|e| GitError::InvalidUrl { url: target.display.clone(), reason: e.to_string() })?
        .with_fetch_tags(Tags::None);
    let connection = target.connect(&remote)?;
    let (ref_map, _) = connection
        .ref_map(
            gix::progress::Discard,
            gix::remote::ref_map::Options {
                prefix_from_spec_as_filter_on_remote: only.is_some(),
                ..Default::default()
            },
        )
        .map_err(|e| target.classify(&e))?;
    target.watchdog.check(&target.display)?;
    Ok(ref_map.remote_refs.iter().map(RemoteRef::from_handshake).collect())
}

/// Flux's `filterRefs`: the `<ref>@sha1:<hash>` the remote advertises for `reference`, peeling
/// annotated tags to their commit; `None` when the remote does not have it.
#[must_use]
pub fn resolve_remote_ref(refs: &[RemoteRef], reference: &str) -> Option<String> {
    let is_tag = reference.starts_with("refs/tags/");
    let base = reference.strip_suffix(TAG_DEREFERENCE_SUFFIX).unwrap_or(reference);
    let found = refs.iter().find(|r| r.name == base)?;
    let hash = if is_tag { found.peeled.as_ref().unwrap_or(&found.target) } else { &found.target };
    if hash.is_empty() {
        return None;
    }
    Some(format!("{reference}@{}", crate::revision::digest(hash)))
}

/// The repository a listing runs in: it only lends its (isolated) configuration to the remote,
/// and a listing reads and writes nothing in it. So one is made per process, opened, and its
/// directory removed at once, instead of initialising a repository — a couple of dozen files
/// created and deleted — on every listing, which made the no-change reconcile cost more in the
/// file system than everything else together.
fn scratch_repository() -> Result<gix::Repository, GitError> {
    static SCRATCH: std::sync::OnceLock<gix::ThreadSafeRepository> = std::sync::OnceLock::new();
    if let Some(repo) = SCRATCH.get() {
        return Ok(repo.to_thread_local());
    }
    let tmp = tempfile::Builder::new()
        .prefix("eddy-ls-remote-")
        .tempdir()
        .map_err(|e| GitError::local("unable to create a temporary directory", e))?;
    let mut repo = init_repository(tmp.path(), true)?;
    // Protocol version 1, as go-git (Flux) speaks: over HTTP the reference advertisement is
    // the answer to the first request, where version 2 needs a second (`ls-refs`).
    repo.config_snapshot_mut()
        .set_value(&gix::config::tree::Protocol::VERSION, "1")
        .map_err(|e| GitError::local("unable to configure the repository for listing references", e))?;
    // A failure is not kept: the next listing tries again.
    Ok(SCRATCH.get_or_init(|| repo.into_sync()).to_thread_local())
}

/// Creates a repository whose configuration ignores the user's and the system's (no credential
/// helpers, URL rewrites or hooks from the host).
pub(crate) fn init_repository(path: &Path, bare: bool) -> Result<gix::Repository, GitError> {
    let kind = if bare { gix::create::Kind::Bare } else { gix::create::Kind::WithWorktree };
    gix::ThreadSafeRepository::init_opts(path, kind, gix::create::Options::default(), gix::open::Options::isolated())
        .map(|repo| {
            let mut repo = gix::Repository::from(repo);
            // No reflogs: they would need a committer identity, and nothing reads them.
            repo.refs.write_reflog = gix::refs::store::WriteReflog::Disable;
            repo
        })
        .map_err(|e| GitError::local(format!("unable to initialise a repository in '{}'", path.display()), e))
}

/// What to fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchSpec {
    /// Refspecs (`+src:dst`, or an object id to fetch by hash).
    pub(crate) refspecs: Vec<String>,
    /// Which tags come along.
    pub(crate) tags: Tags,
    /// `Some(n)`: a shallow fetch of depth `n`.
    pub(crate) depth: Option<NonZeroU32>,
    /// Sources (full reference names) that must exist on the remote; a missing one is
    /// [`GitError::ReferenceNotFound`].
    pub(crate) required: Vec<String>,
}

/// Fetches `spec` from the target into `repo`; `None` when no reference matched the refspecs
/// (nothing to fetch).
pub(crate) fn fetch(
    repo: &gix::Repository,
    target: &Target<'_>,
    spec: &FetchSpec,
) -> Result<Option<gix::remote::fetch::Outcome>, GitError> {
    let remote = repo
        .remote_at(target.url.as_str())
        .and_then(|r| r.with_refspecs(spec.refspecs.iter().map(String::as_str), gix::remote::Direction::Fetch))
        .map_err(|e| GitError::InvalidUrl { url: target.display.clone(), reason: e.to_string() })?
        .with_fetch_tags(spec.tags);
    let connection = target.connect(&remote)?;
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, gix::remote::ref_map::Options::default())
        .map_err(|e| target.classify(&e))?;
    let ref_map = prepare.ref_map();
    let missing = spec
        .required
        .iter()
        .find(|required| !ref_map.remote_refs.iter().any(|r| r.unpack().0 == required.as_bytes().as_bstr()));
    let by_id = spec.refspecs.iter().all(|r| gix::ObjectId::from_hex(r.as_bytes()).is_ok());
    if !by_id && (missing.is_some() || ref_map.remote_refs.is_empty()) {
        // The server only listed what the refspecs asked for; a second look tells an empty
        // repository (at most an unborn HEAD) from a missing reference.
        drop(prepare);
        let all = list_refs(target, None)?;
        if all.iter().all(|r| r.target.is_empty()) {
            return Err(GitError::EmptyRepository);
        }
        if let Some(reference) = missing {
            return Err(GitError::ReferenceNotFound { url: target.display.clone(), reference: reference.clone() });
        }
        return Ok(None);
    }
    let prepare = match spec.depth {
        Some(depth) => prepare.with_shallow(Shallow::DepthAtRemote(depth)),
        None => prepare,
    };
    let outcome =
        prepare.receive(gix::progress::Discard, target.watchdog.interrupt()).map_err(|e| target.classify(&e))?;
    target.watchdog.check(&target.display)?;
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, target: &str, peeled: Option<&str>) -> RemoteRef {
        RemoteRef { name: name.into(), target: target.into(), peeled: peeled.map(Into::into), symbolic_target: None }
    }

    #[test]
    fn filter_refs_as_flux() {
        let c = "c".repeat(40);
        let t = "t".repeat(40);
        let refs =
            vec![r("refs/heads/main", &c, None), r("refs/tags/v1", &t, Some(&c)), r("refs/tags/light", &c, None)];
        assert_eq!(resolve_remote_ref(&refs, "refs/heads/main"), Some(format!("refs/heads/main@sha1:{c}")));
        assert_eq!(resolve_remote_ref(&refs, "refs/tags/v1"), Some(format!("refs/tags/v1@sha1:{c}")));
        assert_eq!(resolve_remote_ref(&refs, "refs/tags/v1^{}"), Some(format!("refs/tags/v1^{{}}@sha1:{c}")));
        assert_eq!(resolve_remote_ref(&refs, "refs/tags/light"), Some(format!("refs/tags/light@sha1:{c}")));
        assert_eq!(resolve_remote_ref(&refs, "refs/heads/nope"), None);
    }
}
