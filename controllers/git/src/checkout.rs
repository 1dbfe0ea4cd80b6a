//! Writing a commit's tree into the working directory, optionally sparse.
//!
//! Sparse checkout follows go-git's `SparseCheckoutDirectories` exactly, as Flux uses it: a file
//! is written when its path (relative, `/`-separated) *starts with* one of the listed directories
//! as a plain string prefix — so `dir1` also selects `dir10/x` and a root file `dir1.txt`, while
//! other root files are not written (unlike git's cone mode). The other entries stay in the index
//! marked skip-worktree. Submodule entries (gitlinks) become empty directories; [`crate::clone`]
//! fills them when submodules are requested.

use std::sync::atomic::AtomicBool;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use crate::error::GitError;

/// A gitlink (submodule entry) of the checked-out tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gitlink {
    pub(crate) path: String,
    pub(crate) commit: ObjectId,
}

/// Whether go-git's sparse checkout writes `path` for `dirs` (empty: everything).
pub(crate) fn sparse_selects(dirs: &[String], path: &str) -> bool {
    dirs.is_empty() || dirs.iter().any(|d| path.starts_with(d.as_str()))
}

/// Checks out `commit` into the repository's working directory and points `HEAD` at it
/// (detached). Returns the gitlinks that were selected.
pub(crate) fn checkout(
    repo: &gix::Repository,
    commit: ObjectId,
    sparse: &[String],
    interrupt: &AtomicBool,
) -> Result<Vec<Gitlink>, GitError> {
    let fail = |context: &str| {
        let context = context.to_owned();
        move |e: gix::Error| GitError::local(context.clone(), e)
    };
    let workdir = repo.workdir().ok_or_else(|| GitError::local("unable to check out", "no working directory"))?;
    let tree = repo
        .find_commit(commit)
        .map_err(|_| GitError::CommitNotFound { commit: commit.to_string() })?
        .tree_id()
        .map_err(fail("unable to read the commit's tree"))?;
    let mut index = repo.index_from_tree(&tree).map_err(fail("unable to build the index"))?;
    let mut gitlinks = Vec::new();
    for (entry, path) in index.entries_mut_with_paths() {
        let path = path.to_str_lossy();
        if !sparse_selects(sparse, &path) {
            entry.flags.insert(gix::index::entry::Flags::SKIP_WORKTREE | gix::index::entry::Flags::EXTENDED);
            continue;
        }
        if entry.mode == gix::index::entry::Mode::COMMIT {
            gitlinks.push(Gitlink { path: path.into_owned(), commit: entry.id });
        }
    }
    let mut opts = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .map_err(fail("unable to configure the checkout"))?;
    opts.destination_is_initially_empty = true;
    let objects =
        repo.objects.clone().into_arc().map_err(|e| GitError::local("unable to open the object database", e))?;
    let outcome = gix::worktree::state::checkout(
        &mut index,
        workdir,
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        interrupt,
        opts,
    )
    .map_err(fail("unable to check out the working tree"))?;
    if let Some(e) = outcome.errors.first() {
        return Err(GitError::local(format!("unable to check out '{}'", e.path), &e.error));
    }
    if let Some(c) = outcome.collisions.first() {
        return Err(GitError::local("unable to check out the working tree", format!("path collision at '{}'", c.path)));
    }
    for link in &gitlinks {
        std::fs::create_dir_all(workdir.join(&link.path))
            .map_err(|e| GitError::local(format!("unable to create the submodule directory '{}'", link.path), e))?;
    }
    index
        .write(gix::index::write::Options::default(), Default::default())
        .map_err(|e| GitError::local("unable to write the index", e))?;
    set_head(repo, commit)?;
    Ok(gitlinks)
}

/// Points `HEAD` at `commit` (detached).
pub(crate) fn set_head(repo: &gix::Repository, commit: ObjectId) -> Result<(), GitError> {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
    repo.edit_reference(RefEdit {
        change: Change::Update {
            log: LogChange::default(),
            expected: PreviousValue::Any,
            new: gix::refs::Target::Object(commit),
        },
        name: "HEAD".try_into().map_err(|e| GitError::local("unable to set HEAD", e))?,
        deref: false,
    })
    .map_err(|e| GitError::local("unable to set HEAD", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_prefixes_are_plain_string_prefixes() {
        let dirs = vec!["dir1".to_owned()];
        assert!(sparse_selects(&dirs, "dir1/a"));
        assert!(sparse_selects(&dirs, "dir10/a"));
        assert!(sparse_selects(&dirs, "dir1.txt"));
        assert!(!sparse_selects(&dirs, "README.md"));
        assert!(sparse_selects(&[], "README.md"));
    }
}
