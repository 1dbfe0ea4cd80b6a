//! The trusted keys of a `spec.verify.secretRef` Secret, and verification against them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{KeyFormat, SignatureType, VerifyError};
use super::openpgp::{self, Cert};
use super::ssh::{self, TrustedSshKey};

/// One Secret value, parsed or not.
#[derive(Clone)]
pub(crate) struct Entry<T> {
    /// The Secret data key.
    pub(crate) secret_key: String,
    /// The keys it holds, or why it could not be read.
    pub(crate) parsed: Result<T, String>,
}

/// The trusted public keys of a verification Secret, sorted by format.
///
/// Built from the Secret's `data` as source-controller reads it: values whose key ends in
/// `.sshpub` are authorized_keys lists, every other value (`.asc` or any other name) is an
/// armoured OpenPGP key ring. Values that cannot be read are kept as such: like Flux, a
/// malformed value only fails verification when no other value of the signature's format
/// could be read ([`Keyring::malformed`] lists them for warnings).
///
/// `Debug` names the Secret keys and counts keys; it never prints key material.
#[derive(Clone, Default)]
pub struct Keyring {
    pgp: Vec<Entry<Vec<Cert>>>,
    ssh: Vec<Entry<Vec<TrustedSshKey>>>,
}

/// The outcome of a good signature: which trusted key made it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The signature's format.
    pub format: KeyFormat,
    /// The key as Flux names it in `SourceVerified` (`… with key '<key_id>'`): the primary
    /// key's 16-digit upper-case key ID for OpenPGP, the `SHA256:…` fingerprint for SSH.
    pub key_id: String,
    /// OpenPGP: the primary key's upper-case hex fingerprint; SSH: the `SHA256:…` fingerprint.
    pub fingerprint: String,
    /// The fingerprint of the key that made the signature: a signing subkey's for OpenPGP
    /// when a subkey signed, otherwise the same as [`fingerprint`](Self::fingerprint).
    pub signing_fingerprint: String,
    /// The Secret data key that holds the trusted key.
    pub secret_key: String,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_id)
    }
}

impl Keyring {
    /// Reads a Secret's `data`. Never fails: unreadable values are kept and reported by
    /// [`malformed`](Self::malformed) and, when they matter, by [`verify`](Self::verify).
    #[must_use]
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Self {
        let mut keyring = Self::default();
        for (secret_key, value) in data {
            let secret_key = secret_key.clone();
            if secret_key.ends_with(KeyFormat::Ssh.secret_key_suffix()) {
                let parsed = ssh::parse_authorized_keys(value);
                keyring.ssh.push(Entry { secret_key, parsed });
            } else {
                // `.asc`, and every other key: Flux's fallback for its earlier,
                // undocumented behaviour of reading all values as key rings.
                let parsed = openpgp::parse_keyring(value);
                keyring.pgp.push(Entry { secret_key, parsed });
            }
        }
        keyring
    }

    /// Whether the Secret held no value at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pgp.is_empty() && self.ssh.is_empty()
    }

    /// The number of usable trusted keys of `format`.
    #[must_use]
    pub fn key_count(&self, format: KeyFormat) -> usize {
        match format {
            KeyFormat::OpenPgp => count(&self.pgp),
            KeyFormat::Ssh => count(&self.ssh),
        }
    }

    /// Every Secret value that could not be read, as [`VerifyError::MalformedKey`].
    #[must_use]
    pub fn malformed(&self) -> Vec<VerifyError> {
        let pgp = self.pgp.iter().map(|e| (KeyFormat::OpenPgp, &e.secret_key, &e.parsed));
        let pgp = pgp.filter_map(|(f, k, p)| p.as_ref().err().map(|r| (f, k, r)));
        let ssh = self.ssh.iter().map(|e| (KeyFormat::Ssh, &e.secret_key, &e.parsed));
        let ssh = ssh.filter_map(|(f, k, p)| p.as_ref().err().map(|r| (f, k, r)));
        pgp.chain(ssh)
            .map(|(format, secret_key, reason)| VerifyError::MalformedKey {
                format,
                secret_key: secret_key.clone(),
                reason: reason.clone(),
            })
            .collect()
    }

    /// Verifies an armoured `signature` over `payload` now.
    ///
    /// The signature's armour picks the format (as Flux's `verifyGitObject` does); OpenPGP
    /// key validity (expiry, revocation) is judged at the current system time.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] says why; see its variants.
    pub fn verify(&self, signature: &str, payload: &[u8]) -> Result<Verified, VerifyError> {
        self.verify_at(signature, payload, SystemTime::now())
    }

    /// Verifies as [`verify`](Self::verify) does, judging OpenPGP key validity at `now`.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] says why; see its variants.
    pub fn verify_at(&self, signature: &str, payload: &[u8], now: SystemTime) -> Result<Verified, VerifyError> {
        let result = match SignatureType::of(signature) {
            SignatureType::OpenPgp if self.pgp.is_empty() => Err(VerifyError::NoTrustedKeys(KeyFormat::OpenPgp)),
            SignatureType::OpenPgp => openpgp::verify(&self.pgp, signature, payload, secs(now)),
            SignatureType::Ssh if self.ssh.is_empty() => Err(VerifyError::NoTrustedKeys(KeyFormat::Ssh)),
            SignatureType::Ssh => ssh::verify(&self.ssh, signature, payload),
            SignatureType::Empty => Err(VerifyError::NoSignature),
            other => Err(VerifyError::UnsupportedSignatureType(other)),
        };
        match &result {
            Ok(verified) => tracing::debug!(
                format = %verified.format,
                key = %verified.key_id,
                secret_key = %verified.secret_key,
                "signature verified"
            ),
            Err(error) => tracing::debug!(%error, "signature not verified"),
        }
        result
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn summary<T>(entries: &[Entry<Vec<T>>]) -> Vec<(String, String)> {
            entries
                .iter()
                .map(|entry| {
                    let state = match &entry.parsed {
                        Ok(keys) => format!("{} key(s)", keys.len()),
                        Err(_) => "malformed".to_owned(),
                    };
                    (entry.secret_key.clone(), state)
                })
                .collect()
        }
        f.debug_struct("Keyring").field("openpgp", &summary(&self.pgp)).field("ssh", &summary(&self.ssh)).finish()
    }
}

fn count<T>(entries: &[Entry<Vec<T>>]) -> usize {
    entries.iter().filter_map(|entry| entry.parsed.as_ref().ok()).map(Vec::len).sum()
}

/// Seconds since the Unix epoch, clamped to OpenPGP's 32-bit timestamps.
fn secs(time: SystemTime) -> u32 {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}
