//! # eddy-sops — decrypting SOPS documents
//!
//! Flux's Kustomization decrypts SOPS-encrypted manifests and generator inputs with the keys
//! of a Secret. This crate reads SOPS' file format (YAML, JSON, dotenv, INI, binary), unwraps
//! the data key with an age or OpenPGP key, decrypts every value (AES-256-GCM, the value's
//! tree path as additional data) and verifies the MAC, as getsops/sops v3.13.3 does.
//!
//! Module map: [`Format`] and the loaders/writers in `format/`; `metadata` (the `sops`
//! section); `tree` (the walk, encryption rules and MAC); `cipher` (one value); `datakey`
//! (key groups, Shamir); `age` and `openpgp` (the master keys); [`flux`] (kustomize-controller's
//! decryptor: built objects and generator sources).
//!
//! ## Checked against the real sops
//!
//! `tests/` encrypt fixtures with the sops v3.13.3 CLI (built by `hack/build-sops`) and
//! compare this crate's output with the plaintext and with `sops --decrypt`, byte for byte
//! for every format (YAML comments included).
//!
//! ## Known differences from sops
//!
//! Each is also a test in `tests/known_differences.rs` that fails once it no longer differs.
//!
//! - YAML comments are recovered by a line scan of the block style go-yaml writes (every
//!   sops-encrypted file). In a shape the scan does not follow (a comment left in clear next
//!   to a sequence item, anchors, flow collections over several lines) the document's output
//!   has no comments. Comments are outside the MAC, so what decrypts and verifies is
//!   unchanged — except that such a document using `encrypted_comment_regex` or
//!   `unencrypted_comment_regex` is refused ([`DocumentError::Unsupported`]).
//!
//! Master keys, as Flux's kustomize-controller runs sops: age X25519 identities, OpenPGP
//! secret keys without a passphrase, and AWS KMS keys ([`aws`]: credentials from the
//! Secret's `sops.aws-kms` entry or Eddy's environment; `tests/aws_kms.rs` encrypts with the
//! real sops against moto's KMS). GCP KMS, Azure Key Vault, HuaweiCloud KMS and Vault keys
//! in a document are reported as not supported, and their credentials in the decryption
//! Secret (`sops.azure-kv`, `sops.gcp-kms`, `sops.vault-token`) are refused.

mod age;
pub mod aws;
mod bech32;
mod cipher;
mod datakey;
mod error;
pub mod flux;
mod format;
mod gofmt;
mod metadata;
mod openpgp;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;

pub use datakey::{DataKeyError, KeyFailure};
pub use error::{DocumentError, ErrorCategory, KeyError, SopsError, SourceError, ValueError};

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
        // sops' formats.FormatForPath: suffix checks on the whole path.
        let s = path.to_string_lossy();
        if s.ends_with(".yaml") || s.ends_with(".yml") {
            Format::Yaml
        } else if s.ends_with(".json") {
            Format::Json
        } else if s.ends_with(".env") {
            Format::Dotenv
        } else if s.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }
}

/// Decryption keys, from the Secret of `spec.decryption.secretRef`.
#[derive(Clone, Default)]
pub struct Keys {
    age: Vec<age::Identity>,
    pgp: Vec<openpgp::SecretKey>,
    aws_credentials: Option<aws::Credentials>,
    aws: Option<aws::AwsKms>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public parts only.
        f.debug_struct("Keys")
            .field("age", &self.age_recipients())
            .field("pgp", &self.pgp_fingerprints())
            .field("aws_credentials", &self.aws_credentials.as_ref().map(|c| c.access_key_id.as_str()))
            .field("aws", &self.aws)
            .finish()
    }
}

/// Secret entries naming a key service Eddy does not call, and what they configure.
const UNSUPPORTED_ENTRIES: [(&str, &str); 3] = [
    ("sops.azure-kv", "Azure Key Vault credentials"),
    ("sops.gcp-kms", "GCP KMS credentials"),
    ("sops.vault-token", "a HashiCorp Vault / OpenBao token"),
];

impl Keys {
    /// Reads keys as Flux does from a Secret's data: `*.agekey` entries hold age identities,
    /// `*.asc` entries armored OpenPGP secret keys, `sops.aws-kms` static AWS credentials
    /// (used once [`Keys::with_aws_kms`] enables KMS).
    ///
    /// `sops.azure-kv`, `sops.gcp-kms` and `sops.vault-token` configure key
    /// services Eddy does not implement: they are refused with
    /// [`SopsError::UnsupportedKeyService`] rather than ignored. Other entries are ignored, as
    /// kustomize-controller does.
    ///
    /// # Errors
    /// An entry that does not parse (the message names the entry, never its contents).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SopsError> {
        let mut keys = Keys::default();
        for (name, value) in data {
            if let Some((_, service)) = UNSUPPORTED_ENTRIES.iter().find(|(entry, _)| entry == name) {
                return Err(SopsError::UnsupportedKeyService { entry: name.clone(), service });
            }
            let invalid = |reason| SopsError::InvalidKey { entry: name.clone(), reason };
            // Go's filepath.Ext: the suffix from the last dot, so `.agekey` counts too.
            if name == "sops.aws-kms" {
                let credentials =
                    aws::Credentials::from_yaml(value).map_err(|reason| invalid(KeyError::AwsCredentials(reason)))?;
                keys.aws_credentials = Some(credentials);
                continue;
            }
            match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("agekey") => {
                    let text = std::str::from_utf8(value).map_err(|_| invalid(KeyError::NotUtf8))?;
                    keys.age.extend(age::parse_identities(text).map_err(invalid)?);
                }
                Some("asc") => keys.pgp.extend(openpgp::parse_keys(value).map_err(invalid)?),
                _ => {}
            }
        }
        tracing::debug!(age = keys.age.len(), pgp = keys.pgp.len(), "imported SOPS decryption keys");
        Ok(keys)
    }

    /// Lets AWS KMS master keys be decrypted through `service` (with the Secret's
    /// `sops.aws-kms` credentials, else the service's own).
    #[must_use]
    pub fn with_aws_kms(mut self, service: aws::AwsKms) -> Self {
        self.aws = Some(service);
        self
    }

    /// Parses age identities (`AGE-SECRET-KEY-1…` lines, `#` comments allowed).
    ///
    /// # Errors
    /// A line that is not an X25519 identity.
    pub fn add_age_identities(&mut self, text: &str) -> Result<(), SopsError> {
        let ids = age::parse_identities(text)
            .map_err(|reason| SopsError::InvalidKey { entry: "age identities".into(), reason })?;
        self.age.extend(ids);
        Ok(())
    }

    /// The recipients (`age1…`) of the age identities held (public).
    #[must_use]
    pub fn age_recipients(&self) -> Vec<String> {
        self.age.iter().map(age::Identity::recipient).collect()
    }

    /// The fingerprints of the OpenPGP secret keys held (public).
    #[must_use]
    pub fn pgp_fingerprints(&self) -> Vec<String> {
        self.pgp.iter().map(|k| k.fingerprint().to_owned()).collect()
    }

    /// No keys at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }
}

/// The age identity (`AGE-SECRET-KEY-1…`) and recipient (`age1…`) of 32 secret bytes — for
/// tools and tests that make keys (`age-keygen` without the binary). Returns key material: keep
/// it out of logs.
#[must_use]
pub fn age_key_from_secret(secret: [u8; 32]) -> (String, String) {
    let identity = age::Identity::from_bytes(secret);
    (identity.to_secret_string(), identity.recipient())
}

/// Whether `data` is a SOPS document of `format` (has SOPS metadata with a MAC).
#[must_use]
pub fn is_encrypted(data: &[u8], format: Format) -> bool {
    format::load(data, format).is_ok_and(|(_, meta)| !meta.mac.is_empty())
}

/// Decrypts a SOPS document and returns it in the same format, metadata removed.
///
/// # Errors
/// No key opens the data key, a value does not decrypt, or the MAC does not match.
pub fn decrypt(data: &[u8], format: Format, keys: &Keys) -> Result<Vec<u8>, SopsError> {
    decrypt_with(data, format, format, keys, true)
}

/// Decrypts `data` read as `input` and writes it as `output`; the MAC is checked when
/// `verify_mac` (kustomize-controller does not check it for built objects).
pub(crate) fn decrypt_with(
    data: &[u8],
    input: Format,
    output: Format,
    keys: &Keys,
    verify_mac: bool,
) -> Result<Vec<u8>, SopsError> {
    let branches = decrypt_tree(data, input, keys, verify_mac)?;
    format::emit(&branches, output).map_err(|reason| SopsError::Emit { format: output, reason })
}

/// Loads, decrypts and (optionally) verifies a document's tree.
pub(crate) fn decrypt_tree(
    data: &[u8],
    format: Format,
    keys: &Keys,
    verify_mac: bool,
) -> Result<Vec<tree::Branch>, SopsError> {
    let (mut branches, meta) = format::load(data, format).map_err(|reason| SopsError::Document { format, reason })?;
    let key = datakey::data_key(&meta, keys)?;
    let mac = tree::decrypt_branches(&mut branches, &key, &meta.rules)?;
    if verify_mac {
        let stored = match cipher::decrypt(&meta.mac, &key, &meta.last_modified) {
            Ok(tree::Value::Str(s)) => s,
            Ok(_) => return Err(SopsError::MacUnreadable { reason: ValueError::BadType("string") }),
            Err(reason) => return Err(SopsError::MacUnreadable { reason }),
        };
        if stored != mac {
            return Err(SopsError::MacMismatch);
        }
    }
    Ok(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_errors_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Keys>();
        send_sync::<SopsError>();
    }

    #[test]
    fn formats_from_paths() {
        assert_eq!(Format::from_path(Path::new("a/b.yaml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("b.yml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("b.json")), Format::Json);
        assert_eq!(Format::from_path(Path::new(".env")), Format::Dotenv);
        assert_eq!(Format::from_path(Path::new("x.ini")), Format::Ini);
        assert_eq!(Format::from_path(Path::new("x.txt")), Format::Binary);
    }

    #[test]
    fn unsupported_services_are_refused_by_name() {
        let mut data = BTreeMap::new();
        data.insert("sops.vault-token".to_owned(), b"SECRET".to_vec());
        let err = Keys::from_secret_data(&data).unwrap_err();
        assert!(matches!(err, SopsError::UnsupportedKeyService { .. }));
        assert!(err.to_string().contains("sops.vault-token"));
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn aws_credentials_are_read_and_kept_out_of_messages() {
        let mut data = BTreeMap::new();
        data.insert("sops.aws-kms".to_owned(), b"aws_access_key_id: AKID\naws_secret_access_key: SECRET\n".to_vec());
        let keys = Keys::from_secret_data(&data).unwrap();
        assert_eq!(keys.aws_credentials.as_ref().unwrap().access_key_id, "AKID");
        assert!(!format!("{keys:?}").contains("SECRET"));
        data.insert("sops.aws-kms".to_owned(), b"aws_secret_access_key: [SECRET\n".to_vec());
        let err = Keys::from_secret_data(&data).unwrap_err();
        assert!(err.to_string().starts_with("failed to import 'sops.aws-kms' data: failed to unmarshal"), "{err}");
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn bad_age_entry_names_the_entry_only() {
        let mut data = BTreeMap::new();
        data.insert("id.agekey".to_owned(), b"AGE-SECRET-KEY-1NOTAKEY".to_vec());
        let err = Keys::from_secret_data(&data).unwrap_err().to_string();
        assert!(err.contains("id.agekey"), "{err}");
        assert!(!err.contains("NOTAKEY"), "{err}");
    }
}
