//! Verification errors, worded as Flux words them.
//!
//! Flux builds its `SourceVerified` condition message from three layers: the controller's
//! `signature verification of commit '<hash>' failed: `, then fluxcd/pkg `git`'s
//! `unable to verify Git commit: ` (OpenPGP) or `unable to verify Git commit SSH signature: `
//! (SSH), then the `signature` package's reason. [`VerifyError`] renders the innermost
//! layer and [`ObjectVerifyError`] the middle one, each with Flux's exact words first.
//!
//! Flux reports every OpenPGP failure after the key rings were read as the same
//! `unable to verify payload with any of the given key rings: no matching key`: a wrong key,
//! a tampered payload, an expired or revoked key. Eddy keeps that sentence and appends what
//! actually went wrong, and it keeps the causes apart as variants so that callers can tell
//! them apart. SSH failures follow Flux's `no matching key` followed by one line naming the
//! cause (`namespace does not match`, `public key does not match`, …).

use std::fmt;

/// The two signature systems a [`Keyring`](super::Keyring) holds trusted keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// OpenPGP keys and signatures (`gpg.format=openpgp`, Git's default).
    OpenPgp,
    /// SSH keys and `sshsig` signatures (`gpg.format=ssh`).
    Ssh,
}

impl KeyFormat {
    /// The Secret data key suffix that selects this format (`.asc`, `.sshpub`).
    #[must_use]
    pub fn secret_key_suffix(self) -> &'static str {
        match self {
            Self::OpenPgp => ".asc",
            Self::Ssh => ".sshpub",
        }
    }

    /// The name Flux uses in its messages (`PGP`, `SSH`).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::OpenPgp => "PGP",
            Self::Ssh => "SSH",
        }
    }

    /// Flux's sentence for "no trusted key verified the signature".
    fn no_match(self) -> &'static str {
        match self {
            Self::OpenPgp => "unable to verify payload with any of the given key rings: no matching key",
            Self::Ssh => "unable to verify payload with any of the given authorized keys: no matching key",
        }
    }
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenPgp => "openpgp",
            Self::Ssh => "ssh",
        })
    }
}

/// What a signature is, judged by its armour the way Flux (fluxcd/pkg `signature`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// `-----BEGIN PGP SIGNATURE-----`.
    OpenPgp,
    /// `-----BEGIN SSH SIGNATURE-----`.
    Ssh,
    /// `-----BEGIN SIGNED MESSAGE-----` (S/MIME, `gpg.format=x509`); not verifiable.
    X509,
    /// No signature at all.
    Empty,
    /// Anything else.
    Unknown,
}

impl SignatureType {
    /// Classifies `signature` after trimming surrounding whitespace, as Flux does.
    #[must_use]
    pub fn of(signature: &str) -> Self {
        let trimmed = signature.trim();
        if trimmed.starts_with("-----BEGIN PGP SIGNATURE-----") {
            Self::OpenPgp
        } else if trimmed.starts_with("-----BEGIN SSH SIGNATURE-----") {
            Self::Ssh
        } else if trimmed.starts_with("-----BEGIN SIGNED MESSAGE-----") {
            Self::X509
        } else if signature.is_empty() {
            Self::Empty
        } else {
            Self::Unknown
        }
    }

    /// The word Flux uses for this type (`openpgp`, `ssh`, `x509`, `empty`, `unknown`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenPgp => "openpgp",
            Self::Ssh => "ssh",
            Self::X509 => "x509",
            Self::Empty => "empty",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for SignatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signature could not be verified against a [`Keyring`](super::Keyring).
///
/// Messages never contain key material or Secret values: only Secret data key names, key
/// IDs, fingerprints and parser diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The object carries no signature.
    #[error("unsupported signature type: empty")]
    NoSignature,
    /// The signature is of a kind that cannot be verified (X.509, or unrecognisable).
    #[error("unsupported signature type: {0}")]
    UnsupportedSignatureType(SignatureType),
    /// The Secret holds no trusted key of the signature's format.
    #[error(
        "{label} signature detected but no {label} public keys found in secret (keys with {suffix} suffix)",
        label = .0.label(),
        suffix = .0.secret_key_suffix()
    )]
    NoTrustedKeys(KeyFormat),
    /// The signed payload is empty.
    #[error("unable to verify payload: payload is empty")]
    EmptyPayload {
        /// The signature's format.
        format: KeyFormat,
    },
    /// A Secret value of the signature's format could not be read, and no other value of
    /// that format could (Flux only reports a malformed value when nothing else was usable).
    #[error("{}: {secret_key}: {reason}", malformed_key_prefix(*.format))]
    MalformedKey {
        /// The format the value was read as.
        format: KeyFormat,
        /// The Secret data key holding the value.
        secret_key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature's armour or packets cannot be parsed.
    #[error("{}", malformed_signature(*.format, reason))]
    MalformedSignature {
        /// The signature's format.
        format: KeyFormat,
        /// What is wrong with it.
        reason: String,
    },
    /// No trusted key is the one that made the signature.
    #[error("{}", no_matching_key(*.format, signer.as_deref(), *.keys_tried))]
    NoMatchingKey {
        /// The signature's format.
        format: KeyFormat,
        /// Who made the signature, as far as the signature says: the OpenPGP issuer key ID,
        /// or the SHA256 fingerprint of the SSH key embedded in the signature.
        signer: Option<String>,
        /// How many trusted keys of this format were compared.
        keys_tried: usize,
    },
    /// A trusted key made a signature, but not over this payload (tampered, or corrupt).
    #[error("{}", bad_signature(*.format, key))]
    BadSignature {
        /// The signature's format.
        format: KeyFormat,
        /// The trusted key (OpenPGP key ID or SSH fingerprint).
        key: String,
    },
    /// An SSH signature made by a trusted key for another purpose than Git.
    #[error("{}\nnamespace does not match", KeyFormat::Ssh.no_match())]
    NamespaceMismatch {
        /// The namespace in the signature (Git signs with `git`).
        namespace: String,
        /// The trusted key's SHA256 fingerprint.
        key: String,
    },
    /// The signature or the key uses an algorithm this implementation cannot verify.
    #[error("{}", unsupported_algorithm(*.format, algorithm))]
    UnsupportedAlgorithm {
        /// The signature's format.
        format: KeyFormat,
        /// The algorithm's name.
        algorithm: String,
    },
    /// The OpenPGP key (or the signing subkey, or its primary user ID) is revoked now.
    #[error("{}: key {key} is revoked", KeyFormat::OpenPgp.no_match())]
    KeyRevoked {
        /// The primary key ID.
        key: String,
    },
    /// The OpenPGP key or signing subkey has expired (or is not valid yet) now.
    #[error("{}: key {key} has expired", KeyFormat::OpenPgp.no_match())]
    KeyExpired {
        /// The primary key ID.
        key: String,
    },
    /// The signature, or a self-signature it relies on, has expired (or is dated in the
    /// future) now.
    #[error("{}: signature by key {key} has expired", KeyFormat::OpenPgp.no_match())]
    SignatureExpired {
        /// The primary key ID.
        key: String,
    },
}

impl VerifyError {
    /// The format whose verification failed, or `None` for errors raised before a format
    /// was chosen (no signature, unsupported type, no trusted keys of that type).
    #[must_use]
    pub fn format(&self) -> Option<KeyFormat> {
        match self {
            Self::NoSignature | Self::UnsupportedSignatureType(_) | Self::NoTrustedKeys(_) => None,
            Self::EmptyPayload { format }
            | Self::MalformedKey { format, .. }
            | Self::MalformedSignature { format, .. }
            | Self::NoMatchingKey { format, .. }
            | Self::BadSignature { format, .. }
            | Self::UnsupportedAlgorithm { format, .. } => Some(*format),
            Self::NamespaceMismatch { .. } => Some(KeyFormat::Ssh),
            Self::KeyRevoked { .. } | Self::KeyExpired { .. } | Self::SignatureExpired { .. } => {
                Some(KeyFormat::OpenPgp)
            }
        }
    }
}

fn malformed_key_prefix(format: KeyFormat) -> &'static str {
    match format {
        KeyFormat::OpenPgp => "unable to read armored key ring",
        KeyFormat::Ssh => "unable to parse authorized keys: unable to parse authorized key",
    }
}

fn malformed_signature(format: KeyFormat, reason: &str) -> String {
    match format {
        KeyFormat::OpenPgp => format!("{}: malformed signature: {reason}", format.no_match()),
        KeyFormat::Ssh => format!("unable to unarmor SSH signature: {reason}"),
    }
}

fn no_matching_key(format: KeyFormat, signer: Option<&str>, keys_tried: usize) -> String {
    match (format, signer) {
        (KeyFormat::OpenPgp, Some(signer)) => {
            format!("{}: signed by key {signer}, which is not trusted", format.no_match())
        }
        (KeyFormat::Ssh, _) if keys_tried > 0 => {
            format!("{}\npublic key does not match", format.no_match())
        }
        _ => format.no_match().to_owned(),
    }
}

fn bad_signature(format: KeyFormat, key: &str) -> String {
    match format {
        KeyFormat::OpenPgp => {
            format!("{}: invalid signature from key {key}: the payload does not match", format.no_match())
        }
        KeyFormat::Ssh => format!("{}\nssh: signature did not verify", format.no_match()),
    }
}

fn unsupported_algorithm(format: KeyFormat, algorithm: &str) -> String {
    match format {
        KeyFormat::OpenPgp => format!("{}: unsupported algorithm {algorithm}", format.no_match()),
        KeyFormat::Ssh => format!("{}\nunsupported algorithm {algorithm}", format.no_match()),
    }
}

/// The kind of Git object whose signature is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GitObjectKind {
    /// A commit (`spec.verify.mode` `HEAD`).
    Commit,
    /// An annotated tag (`spec.verify.mode` `Tag`).
    Tag,
}

impl fmt::Display for GitObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Commit => "commit",
            Self::Tag => "tag",
        })
    }
}

/// A [`VerifyError`] for a commit or a tag, worded as fluxcd/pkg `git` words it:
/// `unable to verify Git commit: …` for OpenPGP, `unable to verify Git commit SSH signature: …`
/// for SSH, and the bare reason for errors raised before a format was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_object_error(*.object, error))]
pub struct ObjectVerifyError {
    /// The object whose signature failed.
    pub object: GitObjectKind,
    /// Why (rendered as part of this error's message, so not exposed as its `source`).
    pub error: VerifyError,
}

fn render_object_error(object: GitObjectKind, error: &VerifyError) -> String {
    match error.format() {
        None => error.to_string(),
        Some(KeyFormat::OpenPgp) => format!("unable to verify Git {object}: {error}"),
        Some(KeyFormat::Ssh) => format!("unable to verify Git {object} SSH signature: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_types_follow_flux() {
        assert_eq!(SignatureType::of(""), SignatureType::Empty);
        assert_eq!(SignatureType::of("  \n"), SignatureType::Unknown);
        assert_eq!(SignatureType::of("\n-----BEGIN PGP SIGNATURE-----\n"), SignatureType::OpenPgp);
        // Git's gpgsig never carries a PGP MESSAGE armour; Flux does not count it as OpenPGP.
        assert_eq!(SignatureType::of("-----BEGIN PGP MESSAGE-----\n"), SignatureType::Unknown);
        assert_eq!(SignatureType::of("-----BEGIN SSH SIGNATURE-----\n"), SignatureType::Ssh);
        assert_eq!(SignatureType::of("-----BEGIN SIGNED MESSAGE-----\n"), SignatureType::X509);
    }

    #[test]
    fn messages_match_flux() {
        let cases = [
            (VerifyError::NoSignature, "unsupported signature type: empty"),
            (
                VerifyError::NoTrustedKeys(KeyFormat::OpenPgp),
                "PGP signature detected but no PGP public keys found in secret (keys with .asc suffix)",
            ),
            (
                VerifyError::NoTrustedKeys(KeyFormat::Ssh),
                "SSH signature detected but no SSH public keys found in secret (keys with .sshpub suffix)",
            ),
            (
                VerifyError::NamespaceMismatch { namespace: "file".into(), key: "SHA256:x".into() },
                "unable to verify payload with any of the given authorized keys: no matching key\nnamespace does not match",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
        let object = ObjectVerifyError {
            object: GitObjectKind::Commit,
            error: VerifyError::NoMatchingKey { format: KeyFormat::OpenPgp, signer: None, keys_tried: 1 },
        };
        assert_eq!(
            object.to_string(),
            "unable to verify Git commit: unable to verify payload with any of the given key rings: no matching key"
        );
        let tag = ObjectVerifyError {
            object: GitObjectKind::Tag,
            error: VerifyError::BadSignature { format: KeyFormat::Ssh, key: "SHA256:x".into() },
        };
        assert_eq!(
            tag.to_string(),
            "unable to verify Git tag SSH signature: unable to verify payload with any of the given authorized keys: no matching key\nssh: signature did not verify"
        );
    }
}
