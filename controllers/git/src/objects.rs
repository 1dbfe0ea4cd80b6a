//! Reading commit and tag objects into [`Commit`] and [`Tag`], with the exact bytes their
//! signatures cover.
//!
//! A commit's signature is its `gpgsig` header (also for SSH signatures); the signed payload is the
//! commit object without that header, as git's `verify-commit` hashes it. A tag's signature is
//! the last block of its message that starts with a signature armour line (`-----BEGIN PGP
//! SIGNATURE-----`, `-----BEGIN SSH SIGNATURE-----`, `-----BEGIN PGP MESSAGE-----`,
//! `-----BEGIN SIGNED MESSAGE-----`), as git's `parse_signed_buffer` finds it; the payload is
//! everything before it.

use gix::ObjectId;
use gix::bstr::ByteSlice;

use crate::error::GitError;
use crate::revision::{Commit, Person, Tag, Time};

const SIGNATURE_MARKERS: [&[u8]; 4] = [
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----",
    b"-----BEGIN SIGNED MESSAGE-----",
    b"-----BEGIN SSH SIGNATURE-----",
];

fn person(s: gix::actor::SignatureRef<'_>) -> Person {
    let s = s.trim();
    let time = s.time().unwrap_or_default();
    Person {
        name: s.name.to_str_lossy().into_owned(),
        email: s.email.to_str_lossy().into_owned(),
        time: Time { seconds: time.seconds, offset_seconds: time.offset },
    }
}

fn read_error(what: &str, id: ObjectId) -> impl Fn(gix::Error) -> GitError + '_ {
    move |e| GitError::local(format!("unable to read {what} {id}"), e)
}

/// Reads commit `id` reached through `reference`.
pub(crate) fn commit(repo: &gix::Repository, id: ObjectId, reference: &str) -> Result<Commit, GitError> {
    let c = repo.find_commit(id).map_err(|_| GitError::CommitNotFound { commit: id.to_string() })?;
    let decoded = c.decode().map_err(read_error("commit", id))?;
    let author = c.author().map_err(read_error("commit", id))?;
    let committer = c.committer().map_err(read_error("commit", id))?;
    let (signature, signed_payload) = match c.signature().map_err(read_error("commit", id))? {
        Some((sig, data)) => (Some(sig.to_str_lossy().into_owned()), data.to_bstring().into()),
        None => (None, c.data.clone()),
    };
    Ok(Commit {
        hash: id.to_string(),
        reference: reference.to_owned(),
        author: person(author),
        committer: person(committer),
        message: decoded.message.to_str_lossy().into_owned(),
        signature,
        signed_payload,
        referencing_tag: None,
    })
}

/// The committer time of commit `id`, in seconds since the epoch.
pub(crate) fn committer_time(repo: &gix::Repository, id: ObjectId) -> Result<i64, GitError> {
    let c = repo.find_commit(id).map_err(|_| GitError::CommitNotFound { commit: id.to_string() })?;
    Ok(c.committer().map_err(read_error("commit", id))?.seconds())
}

/// The offset where a tag's signature starts (git's `parse_signed_buffer`), or the length.
fn signature_start(data: &[u8]) -> usize {
    let mut found = data.len();
    let mut pos = 0;
    while pos < data.len() {
        if SIGNATURE_MARKERS.iter().any(|m| data[pos..].starts_with(m)) {
            found = pos;
        }
        match data[pos..].find_byte(b'\n') {
            Some(eol) => pos += eol + 1,
            None => break,
        }
    }
    found
}

/// Reads the annotated tag object `id`, which `reference` names and which leads to `commit`.
pub(crate) fn tag(repo: &gix::Repository, id: ObjectId, reference: &str, commit: ObjectId) -> Result<Tag, GitError> {
    let object = repo.find_object(id).map_err(|e| GitError::local(format!("unable to read tag {id}"), e))?;
    let data = object.data.clone();
    let t = object.into_tag();
    let decoded = t.decode().map_err(read_error("tag", id))?;
    let start = signature_start(&data);
    let (payload, signature) = data.split_at(start);
    let body_start = payload.find(b"\n\n").map_or(payload.len(), |i| i + 2);
    let target = decoded.target().to_string();
    Ok(Tag {
        name: decoded.name.to_str_lossy().into_owned(),
        hash: Some(id.to_string()),
        target: if target.is_empty() { commit.to_string() } else { target },
        tagger: decoded.tagger().ok().flatten().map(person),
        message: payload[body_start..].to_str_lossy().into_owned(),
        signature: (!signature.is_empty()).then(|| signature.to_str_lossy().into_owned()),
        signed_payload: payload.to_vec(),
    })
    .map(|mut tag| {
        if tag.name.is_empty() {
            tag.name = short_tag_name(reference);
        }
        tag
    })
}

fn short_tag_name(reference: &str) -> String {
    let name = reference.strip_prefix("refs/tags/").unwrap_or(reference);
    name.strip_suffix(crate::reference::TAG_DEREFERENCE_SUFFIX).unwrap_or(name).to_owned()
}

/// A lightweight tag (no tag object): only its name, as Flux's `build.Tag(nil, ref)`.
pub(crate) fn lightweight_tag(reference: &str, commit: ObjectId) -> Tag {
    Tag { name: short_tag_name(reference), target: commit.to_string(), ..Tag::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_armour_line_starts_the_signature() {
        let data =
            b"object x\ntype commit\ntag v1\n\nmsg\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
        let start = signature_start(data);
        assert!(data[start..].starts_with(b"-----BEGIN PGP SIGNATURE-----"));
        let unsigned = b"object x\n\nno signature\n";
        assert_eq!(signature_start(unsigned), unsigned.len());
    }
}
