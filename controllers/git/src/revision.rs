//! Commits, tags and Flux revision strings.
//!
//! A revision names what an artifact was built from. Flux (`fluxcd/pkg/git` `Commit.String` and
//! `AbsoluteReference`) writes `<name>@sha1:<40 hex>`: the reference with its first two path
//! components removed (`refs/heads/main` → `main`, `refs/tags/v1.0.0` → `v1.0.0`,
//! `refs/heads/feature/x` → `feature/x`), or only `sha1:<hex>` for a commit reached without a
//! reference. When the GitRepository names a reference (`spec.ref.name`) the whole reference is
//! kept: `refs/heads/main@sha1:…`. Revisions of the older form `main/<hex>` are still understood
//! when comparing ([`transform_revision`]).

use std::fmt;

/// The hash algorithm name Flux puts in front of a 40-character hash.
pub const HASH_TYPE_SHA1: &str = "sha1";
/// What Flux writes for a hash of any other length.
pub const HASH_TYPE_UNKNOWN: &str = "<unknown>";

/// `<algorithm>:<hash>` as Flux's `Hash.Digest` (empty for an empty hash).
#[must_use]
pub fn digest(hash: &str) -> String {
    if hash.is_empty() {
        return String::new();
    }
    let algorithm = if hash.len() == 40 { HASH_TYPE_SHA1 } else { HASH_TYPE_UNKNOWN };
    format!("{algorithm}:{hash}")
}

/// Flux's `Commit.String`: `<short reference>@<digest>`, or the digest alone when the reference
/// has fewer than three path components (none, `HEAD`).
#[must_use]
pub fn revision(reference: &str, hash: &str) -> String {
    let mut parts = reference.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(short)) => format!("{short}@{}", digest(hash)),
        _ => digest(hash),
    }
}

/// Flux's `Commit.AbsoluteReference`: `<reference>@<digest>`, or the digest alone without a
/// reference.
#[must_use]
pub fn absolute_revision(reference: &str, hash: &str) -> String {
    if reference.is_empty() { digest(hash) } else { format!("{reference}@{}", digest(hash)) }
}

/// A revision split into its parts (Flux's `SplitRevision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The named pointer before `@` (or before the last `/` in the legacy form); empty for none.
    pub name: String,
    /// The hash, without its algorithm.
    pub hash: String,
}

impl Revision {
    /// Splits `rev` as Flux's `ExtractNamedPointerFromRevision` and `ExtractHashFromRevision`
    /// do; accepts `main@sha1:<hex>`, `sha1:<hex>`, `main/<hex>`, `HEAD/<hex>` and `<hex>`.
    #[must_use]
    pub fn parse(rev: &str) -> Self {
        let name = if let Some(i) = rev.rfind('@') {
            &rev[..i]
        } else if let Some(i) = rev.rfind('/') {
            if &rev[..i] == "HEAD" { "" } else { &rev[..i] }
        } else {
            ""
        };
        let hash = if let Some(i) = rev.rfind(':') {
            &rev[i + 1..]
        } else if let Some(i) = rev.rfind('/') {
            &rev[i + 1..]
        } else {
            rev
        };
        Self { name: name.to_owned(), hash: hash.to_owned() }
    }
}

/// Flux's `TransformRevision`: turns a legacy `main/<hex>` revision into `main@sha1:<hex>`;
/// current revisions (containing `:`) and the empty string are returned unchanged.
#[must_use]
pub fn transform_revision(rev: &str) -> String {
    if rev.is_empty() || rev.contains(':') {
        return rev.to_owned();
    }
    let r = Revision::parse(rev);
    if r.name.is_empty() { digest(&r.hash) } else { format!("{}@{}", r.name, digest(&r.hash)) }
}

/// Flux's `Commit.ShortMessage`: the subject (first line), cut to 50 characters followed by
/// `...` when longer.
#[must_use]
pub fn short_message(message: &str) -> String {
    let subject = message.split('\n').next().unwrap_or_default();
    if subject.chars().count() > 50 {
        let cut: String = subject.chars().take(50).collect();
        format!("{cut}...")
    } else {
        subject.to_owned()
    }
}

/// A point in time as Git records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// The author's time zone offset from UTC, in seconds (east positive).
    pub offset_seconds: i32,
}

/// Who made a commit or tag, and when (Flux's `git.Signature`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// When.
    pub time: Time,
}

/// An annotated or lightweight tag that led to the checked-out commit (Flux's `git.Tag`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Tag {
    /// The tag's name: the name recorded in the tag object, or the reference's short name for a
    /// lightweight tag.
    pub name: String,
    /// The tag object's hash; `None` for a lightweight tag.
    pub hash: Option<String>,
    /// The object the tag points to (the commit for a lightweight tag).
    pub target: String,
    /// Who tagged and when; `None` for a lightweight tag or a tag object without a tagger.
    pub tagger: Option<Person>,
    /// The tag message, without the signature.
    pub message: String,
    /// The armored signature (OpenPGP or SSH), if any.
    pub signature: Option<String>,
    /// The bytes the signature covers: the tag object without its signature. Empty for a
    /// lightweight tag.
    pub signed_payload: Vec<u8>,
}

impl Tag {
    /// Flux's `IsAnnotatedTag`: there is a tag object.
    #[must_use]
    pub fn is_annotated(&self) -> bool {
        !self.signed_payload.is_empty()
    }

    /// Flux's `Tag.String`: `<name>@<hash>` for an annotated tag, the name alone otherwise.
    #[must_use]
    pub fn display_name(&self) -> String {
        match &self.hash {
            Some(hash) => format!("{}@{hash}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("target", &self.target)
            .field("tagger", &self.tagger)
            .field("signed", &self.signature.is_some())
            .field("payload_len", &self.signed_payload.len())
            .finish_non_exhaustive()
    }
}

/// The commit a clone checked out (Flux's `git.Commit`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The commit hash (40 hex characters).
    pub hash: String,
    /// The full reference it was reached through (`refs/heads/main`, `refs/tags/v1`, a ref
    /// name), or empty for a commit checked out by hash alone.
    pub reference: String,
    /// The author.
    pub author: Person,
    /// The committer.
    pub committer: Person,
    /// The full commit message.
    pub message: String,
    /// The armored signature from the `gpgsig` header (OpenPGP or SSH), if any.
    pub signature: Option<String>,
    /// The bytes the signature covers: the commit object without its `gpgsig` header.
    pub signed_payload: Vec<u8>,
    /// The tag checked out, for tag and semver references.
    pub referencing_tag: Option<Tag>,
}

impl Commit {
    /// Flux's `Commit.String`: `main@sha1:<hex>`, `v1.0.0@sha1:<hex>` or `sha1:<hex>`.
    #[must_use]
    pub fn revision(&self) -> String {
        revision(&self.reference, &self.hash)
    }

    /// Flux's `Commit.AbsoluteReference`: `refs/heads/main@sha1:<hex>` (used for `spec.ref.name`).
    #[must_use]
    pub fn absolute_revision(&self) -> String {
        absolute_revision(&self.reference, &self.hash)
    }

    /// Flux's `Commit.ShortMessage` (event messages quote it).
    #[must_use]
    pub fn short_message(&self) -> String {
        short_message(&self.message)
    }
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit")
            .field("hash", &self.hash)
            .field("reference", &self.reference)
            .field("author", &self.author)
            .field("committer", &self.committer)
            .field("subject", &self.short_message())
            .field("signed", &self.signature.is_some())
            .field("payload_len", &self.signed_payload.len())
            .field("referencing_tag", &self.referencing_tag)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";

    #[test]
    fn revisions_as_flux_writes_them() {
        assert_eq!(revision("refs/heads/main", H), format!("main@sha1:{H}"));
        assert_eq!(revision("refs/heads/feature/x", H), format!("feature/x@sha1:{H}"));
        assert_eq!(revision("refs/tags/v1.0.0", H), format!("v1.0.0@sha1:{H}"));
        assert_eq!(revision("refs/pull/1/head", H), format!("1/head@sha1:{H}"));
        assert_eq!(revision("", H), format!("sha1:{H}"));
        assert_eq!(revision("HEAD", H), format!("sha1:{H}"));
        assert_eq!(absolute_revision("refs/pull/1/head", H), format!("refs/pull/1/head@sha1:{H}"));
        assert_eq!(absolute_revision("", H), format!("sha1:{H}"));
        assert_eq!(digest("abc"), "<unknown>:abc");
    }

    #[test]
    fn parsing_and_legacy_forms() {
        let r = Revision::parse(&format!("feature/branch@sha1:{H}"));
        assert_eq!((r.name.as_str(), r.hash.as_str()), ("feature/branch", H));
        let r = Revision::parse(&format!("sha1:{H}"));
        assert_eq!((r.name.as_str(), r.hash.as_str()), ("", H));
        assert_eq!(transform_revision(&format!("main/{H}")), format!("main@sha1:{H}"));
        assert_eq!(transform_revision(&format!("feature/branch/{H}")), format!("feature/branch@sha1:{H}"));
        assert_eq!(transform_revision(&format!("HEAD/{H}")), format!("sha1:{H}"));
        assert_eq!(transform_revision(&format!("main@sha1:{H}")), format!("main@sha1:{H}"));
        assert_eq!(transform_revision(""), "");
    }

    #[test]
    fn short_message_cuts_at_fifty_characters() {
        assert_eq!(short_message("fix: a thing\n\nbody"), "fix: a thing");
        let long = "é".repeat(51);
        assert_eq!(short_message(&long), format!("{}...", "é".repeat(50)));
        assert_eq!(short_message(&"a".repeat(50)), "a".repeat(50));
    }
}
