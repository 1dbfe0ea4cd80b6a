//! OpenPGP secret keys and the decryption of SOPS' PGP-wrapped data key (sops
//! `pgp/keysource.go`), in process with rPGP instead of a GnuPG keyring.
//!
//! kustomize-controller imports every `*.asc` entry into a private GnuPG home (`gpg
//! --import`), so an entry may hold several armored blocks, public keys among them (useless
//! for decryption, ignored). A secret key behind a passphrase cannot be used there either
//! (there is no agent to ask), so it is refused when the Secret is read.

use pgp::composed::{Message, PublicOrSecret, SignedSecretKey};
use pgp::types::{KeyDetails, Password};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// One secret key (primary and subkeys).
#[derive(Clone)]
pub(crate) struct SecretKey {
    key: SignedSecretKey,
    fingerprint: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl SecretKey {
    /// The primary key's fingerprint, uppercase hex.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Reads every armored block of an `.asc` entry; returns its secret keys.
pub(crate) fn parse_keys(data: &[u8]) -> Result<Vec<SecretKey>, KeyError> {
    let text = std::str::from_utf8(data).map_err(|_| KeyError::NotUtf8)?;
    let mut found_block = false;
    let mut keys = Vec::new();
    // rPGP's messages may quote the input: keep only that it failed.
    for block in armor_blocks(text) {
        found_block = true;
        let (parsed, _) = PublicOrSecret::from_reader_many(block.as_bytes()).map_err(|_| KeyError::Pgp)?;
        for key in parsed {
            match key.map_err(|_| KeyError::Pgp)? {
                PublicOrSecret::Secret(key) => {
                    let fingerprint = format!("{:X}", key.fingerprint());
                    let locked = key.primary_key.secret_params().is_encrypted()
                        || key.secret_subkeys.iter().any(|s| s.key.secret_params().is_encrypted());
                    if locked {
                        return Err(KeyError::PgpPassphrase { fingerprint });
                    }
                    keys.push(SecretKey { key, fingerprint });
                }
                PublicOrSecret::Public(_) => {}
            }
        }
    }
    if !found_block {
        return Err(KeyError::NoPgpKey);
    }
    Ok(keys)
}

/// The `-----BEGIN PGP …-----` … `-----END PGP …-----` blocks of `text`.
fn armor_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.starts_with("-----BEGIN PGP ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(trimmed);
            block.push('\n');
            if trimmed.starts_with("-----END PGP ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

/// Why a PGP-wrapped data key did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PgpError {
    /// The message does not parse.
    #[error("reading PGP message failed")]
    Malformed,
    /// None of the keys decrypts it.
    #[error("the key could not be decrypted with any of the PGP entries")]
    NoMatch,
}

/// Decrypts an armored PGP message with the first key that opens it.
pub(crate) fn decrypt(armored: &str, keys: &[SecretKey]) -> Result<Zeroizing<Vec<u8>>, PgpError> {
    for key in keys {
        let Ok((message, _)) = Message::from_string(armored) else {
            return Err(PgpError::Malformed);
        };
        let Ok(mut message) = message.decrypt(&Password::empty(), &key.key) else {
            continue;
        };
        if message.is_compressed() {
            let Ok(decompressed) = message.decompress() else { continue };
            message = decompressed;
        }
        if let Ok(data) = message.as_data_vec() {
            return Ok(Zeroizing::new(data));
        }
    }
    if Message::from_string(armored).is_err() {
        return Err(PgpError::Malformed);
    }
    Err(PgpError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_without_armor_is_rejected() {
        assert_eq!(parse_keys(b"not a key").unwrap_err(), KeyError::NoPgpKey);
    }

    #[test]
    fn blocks_are_split() {
        let text =
            "junk\n-----BEGIN PGP A-----\nx\n-----END PGP A-----\n-----BEGIN PGP B-----\ny\n-----END PGP B-----\n";
        assert_eq!(armor_blocks(text).len(), 2);
    }
}
