//! Why decryption failed.
//!
//! Every message names what failed (a Secret entry, a tree path, a recipient or fingerprint, a
//! file) and never the key material, a ciphertext or a decrypted value: these errors end up in
//! Kubernetes conditions and events.

use std::fmt;
use std::path::PathBuf;

/// Why decryption failed. Messages never contain key material or decrypted values.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// A key in the Secret does not parse (general form; [`SopsError::InvalidKey`] is what
    /// this crate produces).
    #[error("{0}")]
    Key(String),
    /// The document is not valid SOPS (general form; [`SopsError::Document`] is what this
    /// crate produces).
    #[error("{0}")]
    Format(String),
    /// No key could decrypt the data key (general form; [`SopsError::DataKey`] is what this
    /// crate produces).
    #[error("{0}")]
    NoKey(String),
    /// A value or the MAC failed to verify (general form; [`SopsError::Value`] and
    /// [`SopsError::MacMismatch`] are what this crate produces).
    #[error("{0}")]
    Integrity(String),
    /// A Secret entry holds a key that does not parse.
    #[error("failed to import '{entry}' data: {reason}")]
    InvalidKey {
        /// The Secret's data key (`identity.agekey`).
        entry: String,
        /// What is wrong with it.
        reason: KeyError,
    },
    /// A Secret entry configures a key service Eddy does not implement.
    #[error(
        "'{entry}' configures {service}, which is not supported: only age (*.agekey), OpenPGP (*.asc) and AWS KMS (sops.aws-kms) keys are"
    )]
    UnsupportedKeyService {
        /// The Secret's data key (`sops.aws-kms`).
        entry: String,
        /// The service (`AWS KMS`).
        service: &'static str,
    },
    /// The document does not parse or its SOPS metadata is invalid.
    #[error("failed to load encrypted {format} data: {reason}")]
    Document {
        /// The document's format.
        format: crate::Format,
        /// What is wrong.
        reason: DocumentError,
    },
    /// The data key could not be recovered with the keys at hand.
    #[error("cannot get sops data key: {0}")]
    DataKey(#[from] crate::datakey::DataKeyError),
    /// A value failed to decrypt (wrong data key, tampered value or path).
    #[error("error decrypting sops tree: could not decrypt value at '{path}': {reason}")]
    Value {
        /// The value's path in the tree, `:`-joined as SOPS' additional data.
        path: String,
        /// Why.
        reason: ValueError,
    },
    /// The MAC stored in the document could not be decrypted.
    #[error("failed to verify sops data integrity: the stored MAC {reason}")]
    MacUnreadable {
        /// Why.
        reason: ValueError,
    },
    /// The MAC computed over the decrypted values is not the one stored in the document.
    #[error("failed to verify sops data integrity: MAC mismatch (the document was modified after encryption)")]
    MacMismatch,
    /// The decrypted tree cannot be written in the requested format.
    #[error("failed to emit decrypted {format} data: {reason}")]
    Emit {
        /// The output format.
        format: crate::Format,
        /// Why.
        reason: String,
    },
    /// A built object failed to decrypt.
    #[error("failed to decrypt and format '{namespace}/{name}' {what}: {source}")]
    Object {
        /// The object's namespace (may be empty).
        namespace: String,
        /// The object's name.
        name: String,
        /// `Secret data`, `Secret field 'x'`, …
        what: String,
        /// The failure.
        source: Box<SopsError>,
    },
    /// A generator source failed to decrypt.
    #[error("failed to decrypt '{}': {source}", path.display())]
    File {
        /// The file, relative to the root.
        path: PathBuf,
        /// The failure.
        source: Box<SopsError>,
    },
    /// A path escapes the root, or a kustomization or source file is unusable.
    #[error("{0}")]
    Source(#[from] SourceError),
}

/// The broad class of a [`SopsError`], matching the four general variants (for callers
/// that only need to tell a bad Secret from a bad document, a missing key or tampering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// The decryption Secret is unusable.
    Key,
    /// A document, file or path is unusable.
    Format,
    /// No key at hand opens the data key.
    NoKey,
    /// A value or the MAC failed to authenticate.
    Integrity,
}

impl SopsError {
    /// The broad class of this error (of its cause, for [`SopsError::Object`] and
    /// [`SopsError::File`]).
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            SopsError::Key(_) | SopsError::InvalidKey { .. } | SopsError::UnsupportedKeyService { .. } => {
                ErrorCategory::Key
            }
            SopsError::Format(_) | SopsError::Document { .. } | SopsError::Emit { .. } | SopsError::Source(_) => {
                ErrorCategory::Format
            }
            SopsError::NoKey(_) | SopsError::DataKey(_) => ErrorCategory::NoKey,
            SopsError::Integrity(_)
            | SopsError::Value { .. }
            | SopsError::MacUnreadable { .. }
            | SopsError::MacMismatch => ErrorCategory::Integrity,
            SopsError::Object { source, .. } | SopsError::File { source, .. } => source.category(),
        }
    }
}

/// What is wrong with a key in the Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A line of an `.agekey` entry is not an age identity.
    #[error("line {line}: unknown identity type")]
    UnknownAgeIdentity {
        /// 1-based line number.
        line: usize,
    },
    /// A line is an age identity kind Eddy does not implement.
    #[error("line {line}: {kind} identities are not supported (only X25519 AGE-SECRET-KEY-1…)")]
    UnsupportedAgeIdentity {
        /// 1-based line number.
        line: usize,
        /// `plugin`, `post-quantum hybrid`.
        kind: &'static str,
    },
    /// A line looks like an X25519 identity but does not decode.
    #[error("line {line}: malformed X25519 identity ({reason})")]
    MalformedAgeIdentity {
        /// 1-based line number.
        line: usize,
        /// Why (checksum, length, case…).
        reason: &'static str,
    },
    /// The entry is not UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// A `sops.aws-kms` entry is not the YAML of static AWS credentials (the message never
    /// quotes the entry).
    #[error("{0}")]
    AwsCredentials(String),
    /// An `.asc` entry holds no OpenPGP key.
    #[error("no armored OpenPGP key found")]
    NoPgpKey,
    /// An `.asc` entry does not parse as armored OpenPGP keys.
    #[error("cannot read armored OpenPGP key data")]
    Pgp,
    /// An OpenPGP secret key is protected by a passphrase (there is nobody to type it).
    #[error("OpenPGP secret key {fingerprint} is protected by a passphrase, which is not supported")]
    PgpPassphrase {
        /// The key's fingerprint.
        fingerprint: String,
    },
}

/// What is wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The document does not parse in its format.
    #[error("{0}")]
    Syntax(String),
    /// There is no `sops` metadata.
    #[error("sops metadata not found")]
    MetadataNotFound,
    /// The metadata is present but invalid.
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    /// A feature of the document that Eddy does not implement.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
}

/// Why one value did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value is not `ENC[AES256_GCM,…]`.
    #[error("does not match sops' data format")]
    NotEncrypted,
    /// A field does not decode from base64.
    #[error("cannot base64-decode its {0}")]
    Base64(&'static str),
    /// The IV has a length SOPS never writes.
    #[error("has an unsupported IV length of {0} bytes")]
    IvLength(usize),
    /// AES-GCM authentication failed: wrong key, or the value or its path was changed.
    #[error("could not decrypt with AES_GCM: message authentication failed")]
    Authentication,
    /// The plaintext does not parse as its declared type.
    #[error("its plaintext is not a valid {0}")]
    BadType(&'static str),
    /// The declared type is unknown.
    #[error("has an unknown datatype")]
    UnknownType,
    /// An encrypted value is not a string in the document.
    #[error("is not a string, expected an encrypted value")]
    NotAString,
}

/// A path or file problem while decrypting generator sources.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A path resolves outside the root (`..`, an absolute path or a symlink).
    #[error("path '{}' resolves outside the root", path.display())]
    Escapes {
        /// The path as written.
        path: PathBuf,
    },
    /// An I/O error on a file inside the root.
    #[error("{op} '{}': {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path, relative to the root.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file to decrypt is not a regular file.
    #[error("cannot decrypt irregular file '{}' as it has file mode type bits set", path.display())]
    Irregular {
        /// The path, relative to the root.
        path: PathBuf,
    },
    /// A file to decrypt is larger than the limit.
    #[error("cannot decrypt file '{}' with size ({size} bytes) exceeding limit ({limit})", path.display())]
    TooLarge {
        /// The path, relative to the root.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A kustomization path is not a directory.
    #[error("'{}' is not a directory", path.display())]
    NotADirectory {
        /// The path, relative to the root.
        path: PathBuf,
    },
    /// A directory has more than one kustomization file.
    #[error("found multiple kustomization files in '{}'", dir.display())]
    MultipleKustomizations {
        /// The directory, relative to the root.
        dir: PathBuf,
    },
    /// A directory has no kustomization file.
    #[error("no kustomization file found in '{}'", dir.display())]
    NoKustomization {
        /// The directory, relative to the root.
        dir: PathBuf,
    },
    /// A kustomization file does not parse.
    #[error("failed to unmarshal kustomization file '{}': {reason}", path.display())]
    Kustomization {
        /// The file, relative to the root.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
}

impl fmt::Display for crate::Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As kustomize-controller names them in its messages.
        f.write_str(match self {
            crate::Format::Yaml => "YAML",
            crate::Format::Json => "JSON",
            crate::Format::Dotenv => "dotenv",
            crate::Format::Ini => "INI",
            crate::Format::Binary => "binary",
        })
    }
}
