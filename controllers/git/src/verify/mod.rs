//! Signature verification of Git commits and tags (GitRepository `spec.verify`).
//!
//! source-controller verifies the signature of the HEAD commit (`mode: HEAD`, also `head`),
//! of the annotated tag it checked out (`mode: Tag`), or both (`mode: TagAndHEAD`), against
//! the public keys in the Secret named by `spec.verify.secretRef`. This module does the same
//! in process, with rPGP and `ssh-key`; no `gpg` or `ssh-keygen` runs.
//!
//! # The Secret
//!
//! As in source-controller v1.9 and later (`verifySignature` in
//! `internal/controller/gitrepository_controller.go`), every value of the Secret's `data` is
//! a set of trusted keys, chosen by the data key's name:
//!
//! | data key | read as |
//! |---|---|
//! | `*.sshpub` | SSH public keys, one per line, in authorized_keys form (`ssh-ed25519 AAAA… comment`, optionally with options in front) or allowed_signers form (`dev@example.com ssh-ed25519 AAAA…`, a principal and no options) |
//! | `*.asc`, and any other name | an ASCII-armoured OpenPGP key ring (`gpg --export --armor`): the first armoured block, holding one or more keys |
//!
//! Several values may hold keys of the same format; a signature verifies if any trusted key
//! of its format made it. See [`Keyring`] and the docs of the `openpgp` and `ssh` modules
//! (`src/verify/`) for the exact rules, which follow Flux's.
//!
//! # Signatures
//!
//! The signature's armour decides how it is checked (`SignatureType`): OpenPGP signatures
//! against the OpenPGP keys (RSA, DSA, ECDSA, EdDSA legacy, Ed25519/Ed448 v4 and v6, signing
//! subkeys; expiry and revocation judged at verification time, as go-crypto does), SSH
//! signatures against the SSH keys (namespace `git`, sha256 or sha512; Ed25519, ECDSA
//! P-256/384/521, RSA, and FIDO `sk-` keys). X.509 signatures are not supported, as in Flux.
//!
//! [`split_commit`] and [`split_tag`] cut a raw object (as `git cat-file` prints it) into
//! the signature and the signed payload exactly as Git does, so the fetch layer can hand
//! over raw objects; [`verify_commit`] and [`verify_tag`] verify such a pair.
//!
//! # Messages for the controller
//!
//! [`ObjectVerifyError`] renders fluxcd/pkg's part of the message. source-controller then
//! wraps it and sets `SourceVerified=False` with these reasons (all `Generic` errors, retried,
//! except the stalling `InvalidVerificationMode`):
//!
//! - commit: `signature verification of commit '<hash>' failed: <ObjectVerifyError>`,
//!   reason `InvalidCommitSignature`;
//! - tag: `signature verification of tag '<name>@<hash>' failed: <ObjectVerifyError>`,
//!   reason `InvalidTagSignature`;
//! - unsigned tag: `cannot verify signature of tag '<name>@<hash>' since it is not signed`,
//!   reason `InvalidGitObject`; tag mode without a tag reference: `cannot verify tag object's
//!   signature if a tag reference is not specified`, reason `InvalidVerificationMode`;
//! - Secret not found: `public keys secret error: <error>`, reason `VerificationError`;
//! - success: `SourceVerified=True`, reason `Succeeded`, message `verified signature of\n\t-
//!   tag '<name>@<hash>' with key '<key_id>'` and/or `\n\t- commit '<hash>' with key
//!   '<key_id>'` (the first line `verified signature of` once), with [`Verified::key_id`].

mod error;
mod keyring;
mod object;
mod openpgp;
mod ssh;

pub use error::{GitObjectKind, KeyFormat, ObjectVerifyError, SignatureType, VerifyError};
pub use keyring::{Keyring, Verified};
pub use object::{ObjectFormat, SignedObject, split_commit, split_commit_as, split_tag};
pub use ssh::GIT_NAMESPACE;

/// Verifies a commit's `signature` (the `gpgsig` header's value) over its `payload`.
///
/// # Errors
///
/// [`ObjectVerifyError`] for a commit, worded as Flux words it.
pub fn verify_commit(keyring: &Keyring, signature: &str, payload: &[u8]) -> Result<Verified, ObjectVerifyError> {
    verify_object(GitObjectKind::Commit, keyring, signature, payload)
}

/// Verifies an annotated tag's `signature` (the armour after its message) over `payload`.
///
/// # Errors
///
/// [`ObjectVerifyError`] for a tag, worded as Flux words it.
pub fn verify_tag(keyring: &Keyring, signature: &str, payload: &[u8]) -> Result<Verified, ObjectVerifyError> {
    verify_object(GitObjectKind::Tag, keyring, signature, payload)
}

/// Splits a raw commit of a SHA-1 repository and verifies it.
///
/// # Errors
///
/// As [`verify_commit`]; an unsigned commit is [`VerifyError::NoSignature`].
pub fn verify_raw_commit(keyring: &Keyring, raw: &[u8]) -> Result<Verified, ObjectVerifyError> {
    let object = split_commit(raw);
    verify_commit(keyring, &object.signature, &object.payload)
}

/// Splits a raw annotated tag and verifies it.
///
/// # Errors
///
/// As [`verify_tag`]; an unsigned tag is [`VerifyError::NoSignature`].
pub fn verify_raw_tag(keyring: &Keyring, raw: &[u8]) -> Result<Verified, ObjectVerifyError> {
    let object = split_tag(raw);
    verify_tag(keyring, &object.signature, &object.payload)
}

fn verify_object(
    object: GitObjectKind,
    keyring: &Keyring,
    signature: &str,
    payload: &[u8],
) -> Result<Verified, ObjectVerifyError> {
    keyring.verify(signature, payload).map_err(|error| ObjectVerifyError { object, error })
}
