//! Submodules, fetched recursively as go-git does for Flux's `spec.recurseSubmodules`.
//!
//! gix clones no submodules, so this module does it: after the superproject is checked out, the
//! working tree's `.gitmodules` names each submodule's path and URL; a URL starting with `./` or
//! `../` is resolved against the superproject's URL exactly as `git submodule init` does
//! ([`resolve_url`]). Each submodule becomes a repository in its path, gets the commit its
//! gitlink records — fetched by hash (depth 1), or with all branches when the server does not
//! serve a commit by hash, as go-git falls back the other way round — and is checked out there, its
//! own submodules following, down to go-git's default recursion depth (10, so eleven levels).
//! The same credentials, proxy and time limit apply (credentials only where the transport
//! matches: HTTP credentials to HTTP(S) URLs, the SSH key to ssh URLs). A `.gitmodules` entry
//! without a gitlink is skipped, as `git submodule update` does.

use std::path::Path;

use gix::bstr::ByteSlice;

use crate::auth::AuthOptions;
use crate::cancel::Watchdog;
use crate::checkout::{Gitlink, checkout};
use crate::error::GitError;
use crate::proxy::ProxyOptions;
use crate::remote::{FetchSpec, fetch, init_repository};
use crate::transport::{Target, scheme_of};

/// go-git's `DefaultSubmoduleRecursionDepth`.
pub const MAX_RECURSION_DEPTH: usize = 10;

/// Shared settings for one recursive update.
pub(crate) struct Context<'a> {
    pub(crate) auth: &'a AuthOptions,
    pub(crate) proxy: Option<&'a ProxyOptions>,
    pub(crate) watchdog: &'a Watchdog,
}

/// git's `url_is_local_not_ssh`: no `:` before the first `/`.
fn is_local_not_ssh(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (None, _) => true,
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
    }
}

/// Resolves a submodule URL against the superproject's URL as git's `relative_url`
/// (builtin/submodule--helper.c) does; URLs not starting with `./` or `../` are returned as is.
///
/// # Errors
///
/// A message when `../` climbs above the superproject URL's root.
pub fn resolve_url(parent: &str, url: &str) -> Result<String, String> {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return Ok(url.to_owned());
    }
    let mut remote = parent.strip_suffix('/').unwrap_or(parent).to_owned();
    let is_relative = is_local_not_ssh(&remote) && !remote.starts_with('/');
    if is_relative && !remote.starts_with("./") && !remote.starts_with("../") {
        remote.insert_str(0, "./");
    }
    let mut rest = url;
    let mut colon_sep = false;
    loop {
        if let Some(r) = rest.strip_prefix("../") {
            rest = r;
            if let Some(i) = remote.rfind('/') {
                remote.truncate(i);
            } else if let Some(i) = remote.rfind(':') {
                remote.truncate(i);
                colon_sep = true;
            } else if is_relative || remote == "." {
                return Err(format!("cannot strip one component off url '{remote}'"));
            } else {
                remote = ".".to_owned();
            }
        } else if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else {
            break;
        }
    }
    let mut out = format!("{remote}{}{rest}", if colon_sep { ":" } else { "/" });
    if rest.ends_with('/') {
        out.pop();
    }
    Ok(out.strip_prefix("./").map(str::to_owned).unwrap_or(out))
}

/// One submodule as `.gitmodules` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declared {
    path: String,
    url: String,
}

fn read_gitmodules(workdir: &Path) -> Result<Vec<Declared>, GitError> {
    let file = workdir.join(".gitmodules");
    let Ok(bytes) = std::fs::read(&file) else { return Ok(Vec::new()) };
    let invalid = |e: gix::Error| GitError::local("unable to read .gitmodules", e);
    let config = gix::config::File::new(gix::config::file::Metadata::api());
    let modules = gix::submodule::File::from_bytes(&bytes, None, &config).map_err(invalid)?;
    let mut out = Vec::new();
    for name in modules.names() {
        let Some(path) = modules.try_path(name).map_err(invalid)? else { continue };
        let Some(url) = modules.config().string_by("submodule", Some(name), "url") else { continue };
        out.push(Declared { path: path.to_str_lossy().into_owned(), url: url.to_str_lossy().into_owned() });
    }
    Ok(out)
}

/// The options to use for a submodule URL: the superproject's when the transport matches,
/// none otherwise.
fn auth_for(parent: &AuthOptions, url: &str) -> Result<AuthOptions, GitError> {
    let scheme = scheme_of(url)?;
    let same = parent.transport == scheme || (parent.transport.is_http() && scheme.is_http());
    if same {
        let mut a = parent.clone();
        a.transport = scheme;
        return Ok(a);
    }
    Ok(AuthOptions::anonymous(url)?)
}

/// Fetches and checks out the submodules of the working tree at `workdir`, whose gitlinks are
/// `gitlinks`, recursively. `parent_url` is the URL the superproject came from; `level` starts at 1.
pub(crate) fn update(
    workdir: &Path,
    parent_url: &str,
    gitlinks: &[Gitlink],
    ctx: &Context<'_>,
    level: usize,
) -> Result<(), GitError> {
    if gitlinks.is_empty() {
        return Ok(());
    }
    for declared in read_gitmodules(workdir)? {
        let Some(link) = gitlinks.iter().find(|l| l.path == declared.path) else { continue };
        let wrap = |e: GitError| GitError::Submodule { path: declared.path.clone(), source: Box::new(e) };
        let url = resolve_url(parent_url, &declared.url)
            .map_err(|reason| wrap(GitError::InvalidUrl { url: crate::error::redact_url(&declared.url), reason }))?;
        let auth = auth_for(ctx.auth, &url).map_err(wrap)?;
        let target = Target::new(&url, &auth, ctx.proxy, ctx.watchdog).map_err(wrap)?;
        let dir = workdir.join(&declared.path);
        let repo = init_repository(&dir, false).map_err(wrap)?;
        let by_hash = FetchSpec {
            refspecs: vec![link.commit.to_string()],
            tags: gix::remote::fetch::Tags::None,
            depth: std::num::NonZeroU32::new(1),
            required: Vec::new(),
        };
        let fetched = fetch(&repo, &target, &by_hash);
        if fetched.is_err() || repo.find_commit(link.commit).is_err() {
            ctx.watchdog.check(&target.display).map_err(wrap)?;
            tracing::debug!(path = %declared.path, "fetching the submodule commit by hash failed; fetching all branches");
            let all = FetchSpec {
                refspecs: vec!["+refs/heads/*:refs/remotes/origin/*".to_owned()],
                tags: gix::remote::fetch::Tags::Included,
                depth: None,
                required: Vec::new(),
            };
            fetch(&repo, &target, &all).map_err(wrap)?;
        }
        let nested = checkout(&repo, link.commit, &[], ctx.watchdog.interrupt()).map_err(wrap)?;
        ctx.watchdog.check(&target.display).map_err(wrap)?;
        if level <= MAX_RECURSION_DEPTH {
            update(&dir, &url, &nested, ctx, level + 1).map_err(wrap)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_resolve_as_git() {
        let p = "https://host/org/parent.git";
        assert_eq!(resolve_url(p, "../child.git").unwrap(), "https://host/org/child.git");
        assert_eq!(resolve_url(p, "./child").unwrap(), "https://host/org/parent.git/child");
        assert_eq!(resolve_url(p, "../../other/c.git").unwrap(), "https://host/other/c.git");
        assert_eq!(resolve_url("https://host/org/parent.git/", "../c").unwrap(), "https://host/org/c");
        assert_eq!(resolve_url(p, "https://else/x.git").unwrap(), "https://else/x.git");
        assert_eq!(resolve_url("git@host:org/parent.git", "../c.git").unwrap(), "git@host:org/c.git");
        assert_eq!(resolve_url("git@host:parent.git", "../c.git").unwrap(), "git@host:c.git");
    }
}
