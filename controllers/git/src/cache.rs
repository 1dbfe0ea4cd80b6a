//! Checkouts shared between objects that clone the same thing.
//!
//! Many GitRepositories often point at one repository and branch (a fleet of clusters, or
//! one source per tenant). Each of them must report exactly what a clone of its own would
//! give — the same commit, revision, message, signature and tree — and nothing more; none of
//! that depends on who fetched it. So a [`CheckoutCache`] keeps, per *clone key* (URL,
//! credentials, proxy, strategy, submodules, sparse paths, depth), the last checkout made for
//! it: the commit and a copy of the working tree. A clone with a cache first lists the remote
//! (one GET over a pooled connection); when the remote still advertises what the cached
//! checkout was made from, the tree is copied from the cache instead of being fetched.
//!
//! Identical clones running at the same time are coalesced (single flight): the first one
//! fetches, the others wait for it (never past their own deadline) and copy its result.
//!
//! Only HTTP(S) remotes and branch or tag checkouts are cached; everything else always fetches.
//! Credentials are part of the key, and the listing that validates an entry is made with the
//! object's own credentials, so an object never gets a tree its credentials could not fetch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::auth::AuthOptions;
use crate::cancel::Watchdog;
use crate::clone::CloneOptions;
use crate::error::GitError;
use crate::reference::CheckoutStrategy;
use crate::revision::Commit;

/// How long an unused entry is kept.
const IDLE_TTL: Duration = Duration::from_secs(15 * 60);

/// How often a waiting clone checks its own deadline.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// What identifies identical clones. Holds credentials: never logged or printed.
#[derive(PartialEq, Eq, Hash, Clone)]
pub(crate) struct CloneKey {
    url: String,
    strategy: String,
    recurse_submodules: bool,
    sparse: Vec<String>,
    shallow: bool,
    credentials: Vec<Vec<u8>>,
    proxy: Option<(String, Option<String>, Option<String>)>,
}

impl CloneKey {
    /// The key of a clone, and the full reference it checks out; `None` when such clones are
    /// not cached.
    pub(crate) fn new(opts: &CloneOptions, auth: &AuthOptions, sparse: &[String]) -> Option<(Self, String)> {
        let (strategy, reference) = match &opts.checkout {
            CheckoutStrategy::Branch(b) => (format!("branch:{b}"), format!("refs/heads/{b}")),
            CheckoutStrategy::Tag(t) => (format!("tag:{t}"), format!("refs/tags/{t}")),
            _ => return None,
        };
        let credentials = [
            auth.username.as_bytes(),
            auth.password.as_bytes(),
            auth.bearer_token.as_bytes(),
            auth.identity.as_slice(),
            auth.known_hosts.as_slice(),
            auth.client_cert.as_slice(),
            auth.client_key.as_slice(),
            auth.ca.as_slice(),
        ]
        .iter()
        .map(|b| b.to_vec())
        .collect();
        let key = Self {
            url: opts.url.clone(),
            strategy,
            recurse_submodules: opts.recurse_submodules,
            sparse: sparse.to_vec(),
            shallow: opts.shallow,
            credentials,
            proxy: opts.proxy.as_ref().map(|p| (p.url(), p.username.clone(), p.password.clone())),
        };
        Some((key, reference))
    }
}

/// What the remote advertised for the reference when the entry was made: its target and,
/// for an annotated tag, the commit it peels to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advertised {
    pub(crate) target: String,
    pub(crate) peeled: Option<String>,
}

impl Advertised {
    /// The commit this advertisement checks out.
    pub(crate) fn commit(&self) -> &str {
        self.peeled.as_deref().unwrap_or(&self.target)
    }
}

/// A cached checkout: the commit, its revision and a copy of the tree (removed with the last
/// reference to it).
pub(crate) struct Entry {
    pub(crate) advertised: Advertised,
    pub(crate) commit: Commit,
    pub(crate) revision: String,
    pub(crate) tree: PathBuf,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.tree)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.tree.display(), error = %e, "could not remove a cached checkout");
        }
    }
}

#[derive(Default)]
struct SlotState {
    busy: bool,
    entry: Option<Arc<Entry>>,
    used: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

/// The shared checkouts of one process (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct CheckoutCache {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    max_entries: usize,
    slots: Mutex<HashMap<CloneKey, Arc<Slot>>>,
    next: AtomicU64,
}

impl std::fmt::Debug for CheckoutCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutCache").field("root", &self.inner.root).finish_non_exhaustive()
    }
}

impl CheckoutCache {
    /// A cache keeping at most `max_entries` checkouts in directories under `root` (created
    /// when needed). The root must belong to this cache alone.
    ///
    /// # Errors
    ///
    /// [`GitError::Local`] when `root` cannot be created.
    pub fn new(root: impl Into<PathBuf>, max_entries: usize) -> Result<Self, GitError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| GitError::local(format!("unable to create '{}'", root.display()), e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                max_entries: max_entries.max(1),
                slots: Mutex::default(),
                next: AtomicU64::new(0),
            }),
        })
    }

    /// Takes the key's turn: waits while an identical clone runs (within the deadline), then
    /// hands back the cached entry, if any, with a guard that owns the turn until dropped.
    pub(crate) fn acquire(&self, key: &CloneKey, watchdog: &Watchdog, url: &str) -> Result<Turn, GitError> {
        let slot = {
            let mut slots = self.inner.slots.lock().map_err(|_| poisoned())?;
            if !slots.contains_key(key) {
                self.evict(&mut slots);
            }
            slots.entry(key.clone()).or_default().clone()
        };
        let mut state = slot.state.lock().map_err(|_| poisoned())?;
        while state.busy {
            watchdog.check(url)?;
            state = slot.done.wait_timeout(state, WAIT_POLL).map_err(|_| poisoned())?.0;
        }
        state.busy = true;
        state.used = Some(Instant::now());
        let entry = state.entry.clone();
        drop(state);
        Ok(Turn { cache: self.clone(), slot, entry })
    }

    /// Drops idle entries, and the least recently used ones past the limit.
    fn evict(&self, slots: &mut HashMap<CloneKey, Arc<Slot>>) {
        let now = Instant::now();
        let last_use = |slot: &Slot| -> Option<Option<Instant>> {
            let state = slot.state.try_lock().ok()?;
            (!state.busy).then_some(state.used)
        };
        slots.retain(|_, slot| match last_use(slot) {
            Some(Some(used)) => now.duration_since(used) < IDLE_TTL,
            Some(None) => false,
            None => true,
        });
        while slots.len() >= self.inner.max_entries {
            let oldest = slots
                .iter()
                .filter_map(|(k, s)| last_use(s).map(|u| (k.clone(), u)))
                .min_by_key(|(_, u)| *u)
                .map(|(k, _)| k);
            match oldest {
                Some(k) => {
                    slots.remove(&k);
                }
                None => break,
            }
        }
    }

    fn new_tree_dir(&self) -> PathBuf {
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner.root.join(format!("checkout-{n}"))
    }
}

fn poisoned() -> GitError {
    GitError::local("checkout cache", "a lock was poisoned")
}

/// One clone's exclusive turn at a key (see [`CheckoutCache::acquire`]).
pub(crate) struct Turn {
    cache: CheckoutCache,
    slot: Arc<Slot>,
    /// The entry cached when the turn began.
    pub(crate) entry: Option<Arc<Entry>>,
}

impl Turn {
    /// Keeps a copy of the checkout in `dir` as the key's entry.
    pub(crate) fn store(&mut self, dir: &Path, advertised: Advertised, commit: &Commit, revision: &str) {
        let tree = self.cache.new_tree_dir();
        if let Err(e) = copy_tree(dir, &tree, true) {
            tracing::debug!(error = %e, "could not cache a checkout");
            let _ = std::fs::remove_dir_all(&tree);
            return;
        }
        let entry = Arc::new(Entry { advertised, commit: commit.clone(), revision: revision.to_owned(), tree });
        self.entry = Some(entry.clone());
        if let Ok(mut state) = self.slot.state.lock() {
            state.entry = Some(entry);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Ok(mut state) = self.slot.state.lock() {
            state.busy = false;
            state.used = Some(Instant::now());
        }
        self.slot.done.notify_all();
    }
}

/// Copies the tree under `from` into `to` (created): files with their permissions,
/// directories, symbolic links as links. With `skip_git`, the top-level `.git` is left out
/// (nothing reads it after the checkout). Fails for a tree whose `.sourceignore` files mention
/// `.git`.
pub(crate) fn copy_tree(from: &Path, to: &Path, skip_git: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip_git && name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst, false)?;
        } else if kind.is_file() {
            if name == ".sourceignore" && std::fs::read(&src)?.windows(4).any(|w| w == b".git") {
                // Ignore rules that mention `.git` could bring the repository's own files into
                // the artifact, which a copy without `.git` would not reproduce.
                return Err(std::io::Error::other("a .sourceignore mentions .git"));
            }
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_tree_keeps_files_links_and_modes_without_git() {
        use std::os::unix::fs::PermissionsExt;
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join(".git/objects")).unwrap();
        std::fs::write(src.path().join(".git/HEAD"), "ref").unwrap();
        std::fs::create_dir_all(src.path().join("a/b")).unwrap();
        std::fs::write(src.path().join("a/b/run.sh"), "#!/bin/sh").unwrap();
        std::fs::set_permissions(src.path().join("a/b/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("b/run.sh", src.path().join("a/link")).unwrap();
        let out = dst.path().join("tree");
        copy_tree(src.path(), &out, true).unwrap();
        assert!(!out.join(".git").exists());
        assert_eq!(std::fs::read_to_string(out.join("a/b/run.sh")).unwrap(), "#!/bin/sh");
        let mode = std::fs::metadata(out.join("a/b/run.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
        assert_eq!(std::fs::read_link(out.join("a/link")).unwrap(), Path::new("b/run.sh"));
    }

    #[test]
    fn only_branches_and_tags_have_keys() {
        let auth = AuthOptions::anonymous("https://h/r").unwrap();
        let mut opts = CloneOptions::new("https://h/r", CheckoutStrategy::Branch("main".into()));
        let (key, reference) = CloneKey::new(&opts, &auth, &[]).unwrap();
        assert_eq!(reference, "refs/heads/main");
        opts.checkout = CheckoutStrategy::Tag("v1".into());
        let (tag_key, reference) = CloneKey::new(&opts, &auth, &[]).unwrap();
        assert_eq!(reference, "refs/tags/v1");
        assert!(key != tag_key);
        opts.checkout = CheckoutStrategy::SemVer("1.x".into());
        assert!(CloneKey::new(&opts, &auth, &[]).is_none());
        let mut other = AuthOptions::anonymous("https://h/r").unwrap();
        other.password = "p".into();
        opts.checkout = CheckoutStrategy::Branch("main".into());
        assert!(CloneKey::new(&opts, &other, &[]).unwrap().0 != key);
    }
}
