//! OpenPGP key rings and detached signatures, with rPGP, checked the way Flux checks them.
//!
//! Flux (fluxcd/pkg `signature.VerifyPGPSignature`) reads each Secret value with go-crypto's
//! `openpgp.ReadArmoredKeyRing` and calls `CheckArmoredDetachedSignature` with no config.
//! This module reproduces the observable rules of that path:
//!
//! - **Key rings.** Only the *first* armoured block of a value is read; it must be a
//!   `PGP PUBLIC KEY BLOCK` or a `PGP PRIVATE KEY BLOCK` (the public half is kept, the
//!   secret material dropped at once). It may hold any number of keys. A key that cannot be
//!   parsed or has no valid self-signature is skipped; a value with no usable key is
//!   malformed.
//! - **Which key.** The signature's issuer key ID (or issuer fingerprint) selects the
//!   candidates: the primary key if its self-signature (the primary user ID's, or the
//!   direct-key signature for v6 keys) has the signing flag, and every subkey bound by a
//!   valid binding signature with the signing flag and a valid back-signature. The first
//!   signature packet with a candidate in the key ring is the one checked.
//! - **Validity now.** After a cryptographically good signature, go-crypto rejects it if,
//!   at the time of verification (not at signing time): the key or the signing subkey or
//!   the primary user ID is revoked (a `key compromised` revocation counts whenever it was
//!   made); the primary key or the subkey has expired; the signature or a self-signature it
//!   relies on has expired or is dated in the future; or any of them carries a critical
//!   notation. A revocation that does not verify makes go-crypto refuse the whole key; here
//!   it makes the key count as revoked, which is the same outcome.
//! - **Identity.** The key that verified is reported as the *primary* key's 16-digit
//!   upper-case key ID, even when a subkey signed (`Entity.PrimaryKey.KeyIdString()`).
//!
//! Self-signatures and bindings that fail to verify are ignored here, where go-crypto
//! refuses the whole key; either way nothing they claim is trusted.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedSecretKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{RevocationCode, Signature, SignatureType, Subpacket, SubpacketData};
use pgp::types::{Duration, KeyDetails, KeyVersion, Tag, Timestamp};

use super::error::{KeyFormat, VerifyError};
use super::keyring::{Entry, Verified};

/// An OpenPGP key with its self-signatures checked.
#[derive(Clone)]
pub(crate) struct Cert {
    key: SignedPublicKey,
    /// The self-signature that states the primary key's flags and expiry.
    binding: Signature,
    /// Revocations of the primary user ID (v4 keys).
    identity_revocations: Vec<Signature>,
    /// Key revocations that verify.
    revocations: Vec<Signature>,
    /// A key revocation that does not verify (a designated revoker's, or forged).
    unverifiable_revocation: bool,
    /// Subkeys with a valid binding.
    subkeys: Vec<BoundSubkey>,
}

#[derive(Clone)]
struct BoundSubkey {
    index: usize,
    binding: Signature,
    revocations: Vec<Signature>,
}

/// Which key of a [`Cert`] a signature names.
#[derive(Clone, Copy)]
enum KeyRef {
    Primary,
    Subkey(usize),
}

/// Reads the first armoured block of a Secret value as a key ring.
pub(crate) fn parse_keyring(value: &[u8]) -> Result<Vec<Cert>, String> {
    let Some((offset, block)) = first_armour(value) else {
        return Err("openpgp: invalid argument: no armored data found".to_owned());
    };
    let armoured = &value[offset..];
    let keys: Vec<pgp::errors::Result<SignedPublicKey>> = match block {
        "PGP PUBLIC KEY BLOCK" => {
            SignedPublicKey::from_armor_many(armoured).map_err(|error| format!("openpgp: {error}"))?.0.collect()
        }
        "PGP PRIVATE KEY BLOCK" => SignedSecretKey::from_armor_many(armoured)
            .map_err(|error| format!("openpgp: {error}"))?
            .0
            .map(|key| key.map(SignedPublicKey::from))
            .collect(),
        other => {
            return Err(format!("openpgp: invalid argument: expected public or private key block, got: {other}"));
        }
    };
    let mut certs = Vec::new();
    let mut last_error = None;
    for key in keys {
        match key.map_err(|error| format!("openpgp: {error}")).and_then(check_cert) {
            Ok(cert) => certs.push(cert),
            Err(error) => last_error = Some(error),
        }
    }
    if certs.is_empty() {
        return Err(last_error.unwrap_or_else(|| "openpgp: no key in the key ring".to_owned()));
    }
    Ok(certs)
}

/// The offset and type of the first `-----BEGIN <type>-----` line.
fn first_armour(value: &[u8]) -> Option<(usize, &str)> {
    let mut offset = 0;
    for line in value.split_inclusive(|&b| b == b'\n') {
        let block = std::str::from_utf8(line)
            .ok()
            .and_then(|text| text.trim_end().strip_prefix("-----BEGIN "))
            .and_then(|text| text.strip_suffix("-----"));
        if let Some(block) = block {
            return Some((offset, block));
        }
        offset += line.len();
    }
    None
}

/// Checks a key's self-signatures and keeps what they validly state.
fn check_cert(key: SignedPublicKey) -> Result<Cert, String> {
    let primary = &key.primary_key;
    if !primary.algorithm().can_sign() {
        return Err("openpgp: primary key cannot be used for signatures".to_owned());
    }
    let mut revocations = Vec::new();
    let mut unverifiable_revocation = false;
    for sig in &key.details.revocation_signatures {
        if sig.verify_key(primary).is_ok() {
            revocations.push(sig.clone());
        } else {
            unverifiable_revocation = true;
        }
    }
    let (binding, identity_revocations) = if primary.version() == KeyVersion::V6 {
        let direct = key
            .details
            .direct_signatures
            .iter()
            .filter(|sig| sig.typ() == Some(SignatureType::Key) && issued_by(sig, primary))
            .filter(|sig| sig.verify_key(primary).is_ok())
            .max_by_key(|sig| created(sig));
        let direct = direct.ok_or("openpgp: v6 key without a valid direct-key signature")?;
        (direct.clone(), Vec::new())
    } else {
        primary_identity(&key).ok_or("openpgp: key without any valid user ID self-signature")?
    };
    let subkeys = key
        .public_subkeys
        .iter()
        .enumerate()
        .filter_map(|(index, subkey)| {
            let valid = |sig: &&Signature| sig.verify_subkey_binding(primary, &subkey.key).is_ok();
            let binding = subkey
                .signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::SubkeyBinding))
                .filter(valid)
                .filter(|sig| {
                    // A signing subkey must sign the primary back.
                    !sig.key_flags().sign()
                        || sig
                            .embedded_signature()
                            .is_some_and(|back| back.verify_primary_key_binding(&subkey.key, primary).is_ok())
                })
                .max_by_key(|sig| created(sig))?
                .clone();
            let revocations = subkey
                .signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::SubkeyRevocation))
                .filter(valid)
                .cloned()
                .collect();
            Some(BoundSubkey { index, binding, revocations })
        })
        .collect();
    Ok(Cert { key, binding, identity_revocations, revocations, unverifiable_revocation, subkeys })
}

/// The primary user ID's newest valid self-certification and its revocations, chosen as
/// go-crypto's `Entity.PrimaryIdentity` chooses: fewest revocations, then the one marked
/// primary, then the newest self-signature.
fn primary_identity(key: &SignedPublicKey) -> Option<(Signature, Vec<Signature>)> {
    let primary = &key.primary_key;
    let mut best: Option<(Signature, Vec<Signature>)> = None;
    for user in &key.details.users {
        let mut self_sig: Option<&Signature> = None;
        let mut revocations = Vec::new();
        for sig in user.signatures.iter().filter(|sig| issued_by(sig, primary)) {
            if sig.verify_certification(primary, Tag::UserId, &user.id).is_err() {
                continue;
            }
            if sig.typ() == Some(SignatureType::CertRevocation) {
                revocations.push(sig.clone());
            } else if self_sig.is_none_or(|current| created(sig) > created(current)) {
                self_sig = Some(sig);
            }
        }
        let Some(self_sig) = self_sig else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((current, current_revocations)) => {
                if current_revocations.len() != revocations.len() {
                    revocations.len() < current_revocations.len()
                } else if current.is_primary() != self_sig.is_primary() {
                    self_sig.is_primary()
                } else {
                    created(self_sig) > created(current)
                }
            }
        };
        if better {
            best = Some((self_sig.clone(), revocations));
        }
    }
    best
}

/// Whether `sig` names `key` as its issuer.
fn issued_by(sig: &Signature, key: &impl KeyDetails) -> bool {
    sig.issuer_fingerprint().iter().any(|fp| **fp == key.fingerprint())
        || sig.issuer_key_id().iter().any(|id| **id == key.legacy_key_id())
}

fn created(sig: &Signature) -> u32 {
    sig.created().map_or(0, Timestamp::as_secs)
}

/// Upper-case hex, as go-crypto prints key IDs and fingerprints.
fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl Cert {
    fn key_id(&self) -> String {
        hex_upper(self.key.primary_key.legacy_key_id().as_ref())
    }

    /// The keys of this cert that `sig` names and that may sign.
    fn candidates(&self, sig: &Signature) -> Vec<KeyRef> {
        let mut keys = Vec::new();
        if issued_by(sig, &self.key.primary_key) && self.binding.key_flags().sign() {
            keys.push(KeyRef::Primary);
        }
        for subkey in &self.subkeys {
            let key = &self.key.public_subkeys[subkey.index].key;
            if issued_by(sig, key) && subkey.binding.key_flags().sign() {
                keys.push(KeyRef::Subkey(subkey.index));
            }
        }
        keys
    }

    fn verify_with(&self, key: KeyRef, sig: &Signature, payload: &[u8]) -> pgp::errors::Result<()> {
        match key {
            KeyRef::Primary => sig.verify(&self.key.primary_key, payload),
            KeyRef::Subkey(index) => sig.verify(&self.key.public_subkeys[index].key, payload),
        }
    }

    fn bound_subkey(&self, index: usize) -> Option<&BoundSubkey> {
        self.subkeys.iter().find(|subkey| subkey.index == index)
    }

    /// go-crypto's `checkMessageSignatureDetails` at `now`.
    fn check_details(&self, key: KeyRef, sig: &Signature, now: u32) -> Result<(), VerifyError> {
        let subkey = match key {
            KeyRef::Primary => None,
            KeyRef::Subkey(index) => self.bound_subkey(index),
        };
        let mut relied_on = vec![sig, &self.binding];
        if let Some(subkey) = subkey {
            relied_on.push(&subkey.binding);
            relied_on.extend(subkey.binding.embedded_signature());
        }
        if let Some(name) = relied_on.iter().find_map(|sig| critical_notation(sig)) {
            return Err(VerifyError::MalformedSignature {
                format: KeyFormat::OpenPgp,
                reason: format!("unknown critical notation: {name}"),
            });
        }
        let key_id = self.key_id();
        if self.unverifiable_revocation
            || revoked(&self.revocations, now)
            || subkey.is_some_and(|subkey| revoked(&subkey.revocations, now))
            || revoked(&self.identity_revocations, now)
        {
            return Err(VerifyError::KeyRevoked { key: key_id });
        }
        let primary = &self.key.primary_key;
        if key_expired(primary.created_at(), &self.binding, now)
            || subkey.is_some_and(|subkey| {
                let created = self.key.public_subkeys[subkey.index].key.created_at();
                key_expired(created, &subkey.binding, now)
            })
        {
            return Err(VerifyError::KeyExpired { key: key_id });
        }
        if relied_on.iter().any(|sig| sig_expired(sig, now)) {
            return Err(VerifyError::SignatureExpired { key: key_id });
        }
        Ok(())
    }
}

/// The name of a critical notation in `sig`'s hashed area (go-crypto knows none by default).
fn critical_notation(sig: &Signature) -> Option<String> {
    sig.config()?.hashed_subpackets().find_map(|packet: &Subpacket| match &packet.data {
        SubpacketData::Notation(notation) if packet.is_critical => {
            Some(String::from_utf8_lossy(&notation.name).into_owned())
        }
        _ => None,
    })
}

fn revoked(revocations: &[Signature], now: u32) -> bool {
    revocations.iter().any(|revocation| {
        revocation.revocation_reason_code() == Some(&RevocationCode::KeyCompromised) || !sig_expired(revocation, now)
    })
}

fn sig_expired(sig: &Signature, now: u32) -> bool {
    let created = created(sig);
    if created > now {
        return true;
    }
    match sig.signature_expiration_time().map(Duration::as_secs) {
        None | Some(0) => false,
        Some(lifetime) => u64::from(now) > u64::from(created) + u64::from(lifetime),
    }
}

fn key_expired(key_created: Timestamp, binding: &Signature, now: u32) -> bool {
    let created = key_created.as_secs();
    if created > now {
        return true;
    }
    match binding.key_expiration_time().map(Duration::as_secs) {
        None | Some(0) => false,
        Some(lifetime) => u64::from(now) > u64::from(created) + u64::from(lifetime),
    }
}

/// Parses the armoured detached signature into its signature packets.
fn parse_signature(signature: &str) -> Result<Vec<Signature>, VerifyError> {
    let malformed = |reason: String| VerifyError::MalformedSignature { format: KeyFormat::OpenPgp, reason };
    let (packets, _) = DetachedSignature::from_armor_many(signature.trim().as_bytes())
        .map_err(|error| malformed(error.to_string()))?;
    let sigs = packets
        .map(|packet| packet.map(|detached| detached.signature))
        .collect::<pgp::errors::Result<Vec<_>>>()
        .map_err(|error| malformed(error.to_string()))?;
    if sigs.is_empty() {
        return Err(malformed("no signature packet".to_owned()));
    }
    if sigs.iter().any(|sig| sig.issuer_key_id().is_empty() && sig.issuer_fingerprint().is_empty()) {
        return Err(malformed("signature doesn't have an issuer".to_owned()));
    }
    Ok(sigs)
}

/// The issuer of `sig` as a 16-digit key ID.
fn issuer(sig: &Signature) -> Option<String> {
    if let Some(id) = sig.issuer_key_id().first() {
        return Some(hex_upper(id.as_ref()));
    }
    let fp = sig.issuer_fingerprint().first()?.as_bytes();
    let id = match fp.len() {
        20 => &fp[12..],
        _ => fp.get(..8)?,
    };
    Some(hex_upper(id))
}

/// Verifies an armoured OpenPGP signature with the key ring values, in order, at `now`
/// (seconds since the Unix epoch).
pub(crate) fn verify(
    entries: &[Entry<Vec<Cert>>],
    signature: &str,
    payload: &[u8],
    now: u32,
) -> Result<Verified, VerifyError> {
    let format = KeyFormat::OpenPgp;
    if payload.is_empty() {
        return Err(VerifyError::EmptyPayload { format });
    }
    if !entries.iter().any(|entry| entry.parsed.is_ok())
        && let Some(entry) = entries.first()
        && let Err(reason) = &entry.parsed
    {
        return Err(VerifyError::MalformedKey { format, secret_key: entry.secret_key.clone(), reason: reason.clone() });
    }
    let sigs = parse_signature(signature)?;
    let mut failure: Option<VerifyError> = None;
    for entry in entries {
        let Ok(certs) = &entry.parsed else {
            continue;
        };
        // The first signature packet that names a signing key of this key ring.
        let found = sigs.iter().find_map(|sig| {
            let candidates: Vec<(&Cert, KeyRef)> =
                certs.iter().flat_map(|cert| cert.candidates(sig).into_iter().map(move |key| (cert, key))).collect();
            (!candidates.is_empty()).then_some((sig, candidates))
        });
        let Some((sig, candidates)) = found else {
            continue;
        };
        let outcome = candidates
            .iter()
            .find(|(cert, key)| cert.verify_with(*key, sig, payload).is_ok())
            .map(|(cert, key)| cert.check_details(*key, sig, now).map(|()| verified(cert, *key, &entry.secret_key)));
        match outcome {
            Some(Ok(verified)) => return Ok(verified),
            Some(Err(error)) => {
                failure.get_or_insert(error);
            }
            None => {
                let (cert, _) = candidates[0];
                failure.get_or_insert_with(|| bad_signature(cert, sig));
            }
        }
    }
    Err(failure.unwrap_or_else(|| VerifyError::NoMatchingKey {
        format,
        signer: sigs.first().and_then(issuer),
        keys_tried: entries.iter().filter_map(|entry| entry.parsed.as_ref().ok()).map(Vec::len).sum(),
    }))
}

/// Why a candidate key did not verify: an algorithm rPGP cannot verify, or a bad signature.
fn bad_signature(cert: &Cert, sig: &Signature) -> VerifyError {
    let algorithm = sig.config().map(|config| config.pub_alg);
    match algorithm {
        Some(algorithm) if !verifiable(algorithm) => {
            VerifyError::UnsupportedAlgorithm { format: KeyFormat::OpenPgp, algorithm: format!("{algorithm:?}") }
        }
        _ => VerifyError::BadSignature { format: KeyFormat::OpenPgp, key: cert.key_id() },
    }
}

/// Signature algorithms rPGP verifies without optional features.
fn verifiable(algorithm: PublicKeyAlgorithm) -> bool {
    use PublicKeyAlgorithm as A;
    matches!(algorithm, A::RSA | A::RSASign | A::DSA | A::ECDSA | A::EdDSALegacy | A::Ed25519 | A::Ed448)
}

fn verified(cert: &Cert, key: KeyRef, secret_key: &str) -> Verified {
    let fingerprint = hex_upper(cert.key.primary_key.fingerprint().as_bytes());
    let signing_fingerprint = match key {
        KeyRef::Primary => fingerprint.clone(),
        KeyRef::Subkey(index) => hex_upper(cert.key.public_subkeys[index].key.fingerprint().as_bytes()),
    };
    Verified {
        format: KeyFormat::OpenPgp,
        key_id: cert.key_id(),
        fingerprint,
        signing_fingerprint,
        secret_key: secret_key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::verify::{KeyFormat, Keyring, VerifyError};

    /// RFC 9580 appendix A.3: a sample v6 certificate (Ed25519 primary, X25519 subkey).
    const V6_CERT: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

xioGY4d/4xsAAAAg+U2nu0jWCmHlZ3BqZYfQMxmZu52JGggkLq2EVD34laPCsQYf
GwoAAABCBYJjh3/jAwsJBwUVCg4IDAIWAAKbAwIeCSIhBssYbE8GCaaX5NUt+mxy
KwwfHifBilZwj2Ul7Ce62azJBScJAgcCAAAAAK0oIBA+LX0ifsDm185Ecds2v8lw
gyU2kCcUmKfvBXbAf6rhRYWzuQOwEn7E/aLwIwRaLsdry0+VcallHhSu4RN6HWaE
QsiPlR4zxP/TP7mhfVEe7XWPxtnMUMtf15OyA51YBM4qBmOHf+MZAAAAIIaTJINn
+eUBXbki+PSAld2nhJh/LVmFsS+60WyvXkQ1wpsGGBsKAAAALAWCY4d/4wKbDCIh
BssYbE8GCaaX5NUt+mxyKwwfHifBilZwj2Ul7Ce62azJAAAAAAQBIKbpGG2dWTX8
j+VjFM21J0hqWlEg+bdiojWnKfA5AQpWUWtnNwDEM0g12vYxoWM8Y81W+bHBw805
I8kWVkXU6vFOi+HWvv/ira7ofJu16NnoUkhclkUrk0mXubZvyl4GBg==
-----END PGP PUBLIC KEY BLOCK-----
";

    /// RFC 9580 appendix A.6: the v6 text signature of the cleartext message below.
    const V6_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----

wpgGARsKAAAAKQWCY5ijYyIhBssYbE8GCaaX5NUt+mxyKwwfHifBilZwj2Ul7Ce6
2azJAAAAAGk2IHZJX1AhiJD39eLuPBgiUU9wUA9VHYblySHkBONKU/usJ9BvuAqo
/FvLFuGWMbKAdA+epq7V4HOtAPlBWmU8QOd6aud+aSunHQaaEJ+iTFjP2OMW0KBr
NK2ay45cX1IVAQ==
-----END PGP SIGNATURE-----
";

    /// The signed text of appendix A.6 (dash-escaping undone; the line break before the
    /// signature armour is not signed, the one ending "noodles" is).
    const V6_TEXT: &str = "What we need from the grocery store:\n\n- tofu\n- vegetables\n- noodles\n";

    #[test]
    fn v6_ed25519_signatures_verify() {
        let data = BTreeMap::from([("rfc9580.asc".to_owned(), V6_CERT.as_bytes().to_vec())]);
        let keyring = Keyring::from_secret_data(&data);
        let verified = keyring.verify(V6_SIGNATURE, V6_TEXT.as_bytes()).expect("RFC 9580 A.6 verifies with A.3");
        let fingerprint = "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9";
        assert_eq!(verified.fingerprint, fingerprint);
        assert_eq!(verified.signing_fingerprint, fingerprint);
        // v6 key IDs are the fingerprint's first 8 bytes.
        assert_eq!(verified.key_id, &fingerprint[..16]);

        let tampered = V6_TEXT.replace("tofu", "tofo");
        assert_eq!(
            keyring.verify(V6_SIGNATURE, tampered.as_bytes()),
            Err(VerifyError::BadSignature { format: KeyFormat::OpenPgp, key: fingerprint[..16].to_owned() })
        );
    }
}
