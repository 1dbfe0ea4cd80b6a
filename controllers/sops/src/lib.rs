//! # eddy-sops — decrypting SOPS documents
//!
//! Flux's Kustomization decrypts SOPS-encrypted manifests and generator inputs with the keys
//! of a Secret. This crate reads SOPS' file format (YAML, JSON, dotenv, INI, binary), unwraps
//! the data key with an age or OpenPGP key, decrypts every value (AES-256-GCM, the value's
//! tree path as additional data) and verifies the MAC.
//!
//! SKELETON: the public API below is agreed between the crates; bodies are being written.

use std::collections::BTreeMap;
use std::path::Path;

/// A document's format, as SOPS tells it from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (the default).
    Yaml,
    /// JSON.
    Json,
    /// `.env` files.
    Dotenv,
    /// INI files.
    Ini,
    /// Anything else: one opaque value.
    Binary,
}

impl Format {
    /// The format SOPS picks for a path (`.yaml`/`.yml`, `.json`, `.env`, `.ini`, else binary).
    #[must_use]
    pub fn from_path(path: &Path) -> Self {
        let _ = path;
        unimplemented!("skeleton")
    }
}

/// Decryption keys, from the Secret of `spec.decryption.secretRef`.
#[derive(Clone, Default)]
pub struct Keys {
    _private: (),
}

impl Keys {
    /// Reads keys as Flux does from a Secret's data: `*.agekey` entries hold age identities,
    /// `*.asc` entries armored OpenPGP secret keys.
    ///
    /// # Errors
    /// An entry that does not parse (the message names the entry, never its contents).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SopsError> {
        let _ = data;
        unimplemented!("skeleton")
    }

    /// No keys at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        unimplemented!("skeleton")
    }
}

/// Whether `data` is a SOPS document of `format` (has SOPS metadata with a MAC).
#[must_use]
pub fn is_encrypted(data: &[u8], format: Format) -> bool {
    let _ = (data, format);
    unimplemented!("skeleton")
}

/// Decrypts a SOPS document and returns it in the same format, metadata removed.
///
/// # Errors
/// No key opens the data key, a value does not decrypt, or the MAC does not match.
pub fn decrypt(data: &[u8], format: Format, keys: &Keys) -> Result<Vec<u8>, SopsError> {
    let _ = (data, format, keys);
    unimplemented!("skeleton")
}

/// Why decryption failed. Messages never contain key material or decrypted values.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// A key in the Secret does not parse.
    #[error("{0}")]
    Key(String),
    /// The document is not valid SOPS.
    #[error("{0}")]
    Format(String),
    /// No key could decrypt the data key.
    #[error("{0}")]
    NoKey(String),
    /// A value or the MAC failed to verify.
    #[error("{0}")]
    Integrity(String),
}

/// How Flux's kustomize-controller applies SOPS to a build (its `internal/decryptor`).
pub mod flux {
    use std::path::Path;

    use serde_json::Value;

    use super::{Keys, SopsError};

    /// Decrypts one built object: a whole object with SOPS metadata (a Secret encrypted with
    /// `sops -e secret.yaml`), or the `data`/`stringData` entries of a Secret that hold SOPS
    /// files (from a `secretGenerator`). `None` when the object holds nothing encrypted.
    ///
    /// # Errors
    /// As [`super::decrypt`], naming the object.
    pub fn decrypt_object(obj: &Value, keys: &Keys) -> Result<Option<Value>, SopsError> {
        let _ = (obj, keys);
        unimplemented!("skeleton")
    }

    /// Decrypts, in place, the encrypted files that the kustomization at `dir` (and the
    /// kustomizations it includes, recursively) feeds to `secretGenerator` and
    /// `configMapGenerator` (`envs`, `files`), never reading or writing outside `root`.
    ///
    /// # Errors
    /// A file outside `root`, or a decryption failure naming the file.
    pub fn decrypt_sources(root: &Path, dir: &Path, keys: &Keys) -> Result<(), SopsError> {
        let _ = (root, dir, keys);
        unimplemented!("skeleton")
    }
}
