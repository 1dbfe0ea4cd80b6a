//! age X25519 identities and the decryption of SOPS' age-wrapped data key
//! (age-encryption.org/v1; sops `age/keysource.go`).
//!
//! Why not the `age` crate: it always pulls its i18n stack (`i18n-embed`, `fluent`,
//! `rust-embed`) and the scrypt/plugin/SSH machinery, while SOPS only needs the X25519 recipient
//! stanza of a 32-byte file. That part of the format is small and fully specified, and its
//! primitives are already in the build through `pgp` (`x25519-dalek`, `hkdf`, `sha2`,
//! `chacha20`/`poly1305`): an armored file, a header of stanzas, the X25519 unwrap
//! (ECDH, HKDF-SHA-256 with the ephemeral share and recipient as salt, ChaCha20-Poly1305 with a
//! zero nonce), the header HMAC and the STREAM payload. Plugin and post-quantum identities are
//! refused with a typed error instead.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::bech32;
use crate::error::KeyError;

const IDENTITY_HRP: &str = "age-secret-key-";
const RECIPIENT_HRP: &str = "age";

/// An X25519 identity (`AGE-SECRET-KEY-1…`).
#[derive(Clone)]
pub(crate) struct Identity {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("recipient", &self.recipient()).finish_non_exhaustive()
    }
}

impl Identity {
    /// From the 32 secret bytes.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret);
        Identity { secret, public }
    }

    /// The `age1…` recipient (public).
    pub(crate) fn recipient(&self) -> String {
        bech32::encode(RECIPIENT_HRP, self.public.as_bytes())
    }

    /// The `AGE-SECRET-KEY-1…` string.
    pub(crate) fn to_secret_string(&self) -> String {
        bech32::encode(IDENTITY_HRP, self.secret.as_bytes()).to_uppercase()
    }
}

/// Parses an `.agekey` entry as sops' `ParsedIdentities.Import` does: one identity per line,
/// empty lines and `#` comments skipped.
pub(crate) fn parse_identities(text: &str) -> Result<Vec<Identity>, KeyError> {
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line_no = n + 1;
        if line.starts_with("AGE-PLUGIN-") {
            return Err(KeyError::UnsupportedAgeIdentity { line: line_no, kind: "plugin" });
        }
        if line.starts_with("AGE-SECRET-KEY-PQ-1") {
            return Err(KeyError::UnsupportedAgeIdentity { line: line_no, kind: "post-quantum hybrid" });
        }
        if !line.starts_with("AGE-SECRET-KEY-1") {
            return Err(KeyError::UnknownAgeIdentity { line: line_no });
        }
        let (hrp, data) =
            bech32::decode(line).map_err(|reason| KeyError::MalformedAgeIdentity { line: line_no, reason })?;
        if hrp != IDENTITY_HRP {
            return Err(KeyError::MalformedAgeIdentity { line: line_no, reason: "wrong prefix" });
        }
        let bytes: [u8; 32] = data
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::MalformedAgeIdentity { line: line_no, reason: "wrong length" })?;
        out.push(Identity::from_bytes(bytes));
    }
    Ok(out)
}

/// Why an age file did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AgeError {
    /// The armor or header does not parse.
    #[error("malformed age file: {0}")]
    Malformed(&'static str),
    /// No identity matched a recipient stanza.
    #[error("no identity matched any of the recipients")]
    NoMatch,
    /// The header MAC or payload failed to authenticate.
    #[error("age file failed to authenticate: {0}")]
    Authentication(&'static str),
}

/// Decrypts an (armored or binary) age file with the first identity that opens a stanza.
pub(crate) fn decrypt(file: &[u8], identities: &[Identity]) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let binary = dearmor(file)?;
    let header = Header::parse(&binary)?;
    let file_key = identities
        .iter()
        .find_map(|id| header.stanzas.iter().find_map(|s| unwrap_x25519(s, id)))
        .ok_or(AgeError::NoMatch)?;
    // Header MAC: HMAC-SHA-256 keyed with HKDF(file key, "header") over the header up to `---`.
    let mut mac_key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, file_key.as_slice())
        .expand(b"header", mac_key.as_mut_slice())
        .map_err(|_| AgeError::Authentication("header"))?;
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(mac_key.as_slice()).map_err(|_| AgeError::Authentication("header"))?;
    mac.update(&binary[..header.mac_input_len]);
    mac.verify_slice(&header.mac).map_err(|_| AgeError::Authentication("header MAC"))?;
    payload(&binary[header.len..], &file_key)
}

fn dearmor(file: &[u8]) -> Result<Vec<u8>, AgeError> {
    const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
    const END: &str = "-----END AGE ENCRYPTED FILE-----";
    let text = std::str::from_utf8(file).map_err(|_| AgeError::Malformed("not text"))?;
    let trimmed = text.trim();
    if !trimmed.starts_with(BEGIN) {
        // Not armored: a binary age file.
        return Ok(file.to_vec());
    }
    let body = trimmed[BEGIN.len()..].strip_suffix(END).ok_or(AgeError::Malformed("armor end line missing"))?;
    let b64: String = body.split_whitespace().collect();
    STANDARD.decode(b64).map_err(|_| AgeError::Malformed("armor is not base64"))
}

struct Stanza {
    kind: String,
    args: Vec<String>,
    body: Vec<u8>,
}

struct Header {
    stanzas: Vec<Stanza>,
    mac: Vec<u8>,
    /// Bytes covered by the MAC (through `---`).
    mac_input_len: usize,
    /// Bytes of the whole header, through the MAC line's newline.
    len: usize,
}

impl Header {
    fn parse(data: &[u8]) -> Result<Header, AgeError> {
        let mut pos = 0;
        let mut line = || -> Result<(usize, &[u8]), AgeError> {
            let start = pos;
            let nl = data[pos..].iter().position(|b| *b == b'\n').ok_or(AgeError::Malformed("truncated header"))?;
            pos += nl + 1;
            Ok((start, &data[start..start + nl]))
        };
        let (_, version) = line()?;
        if version != b"age-encryption.org/v1" {
            return Err(AgeError::Malformed("unknown version"));
        }
        let mut stanzas = Vec::new();
        let mut current: Option<Stanza> = None;
        loop {
            let (start, l) = line()?;
            let text = std::str::from_utf8(l).map_err(|_| AgeError::Malformed("header is not text"))?;
            if let Some(mut stanza) = current.take() {
                // Body lines: 64 columns each, the last one shorter (possibly empty).
                let chunk = STANDARD_NO_PAD.decode(text).map_err(|_| AgeError::Malformed("stanza body"))?;
                stanza.body.extend_from_slice(&chunk);
                if text.len() < 64 {
                    stanzas.push(stanza);
                } else {
                    current = Some(stanza);
                }
                continue;
            }
            if let Some(rest) = text.strip_prefix("-> ") {
                let mut parts = rest.split(' ').map(str::to_owned);
                let kind = parts.next().ok_or(AgeError::Malformed("empty stanza"))?;
                current = Some(Stanza { kind, args: parts.collect(), body: Vec::new() });
            } else if let Some(mac) = text.strip_prefix("--- ") {
                let mac = STANDARD_NO_PAD.decode(mac).map_err(|_| AgeError::Malformed("header MAC"))?;
                return Ok(Header { stanzas, mac, mac_input_len: start + 3, len: start + l.len() + 1 });
            } else {
                return Err(AgeError::Malformed("unexpected header line"));
            }
        }
    }
}

/// The X25519 recipient stanza: `-> X25519 <ephemeral share>` and the wrapped file key.
fn unwrap_x25519(stanza: &Stanza, id: &Identity) -> Option<Zeroizing<Vec<u8>>> {
    if stanza.kind != "X25519" || stanza.args.len() != 1 || stanza.body.len() != 32 {
        return None;
    }
    let share: [u8; 32] = STANDARD_NO_PAD.decode(&stanza.args[0]).ok()?.try_into().ok()?;
    let shared = id.secret.diffie_hellman(&PublicKey::from(share));
    if !shared.was_contributory() {
        return None;
    }
    let mut salt = Vec::with_capacity(64);
    salt.extend_from_slice(&share);
    salt.extend_from_slice(id.public.as_bytes());
    let mut wrap_key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
        .expand(b"age-encryption.org/v1/X25519", wrap_key.as_mut_slice())
        .ok()?;
    let cipher = ChaCha20Poly1305::new(wrap_key.as_slice().into());
    let file_key = cipher.decrypt(&[0u8; 12].into(), stanza.body.as_slice()).ok()?;
    Some(Zeroizing::new(file_key))
}

/// The STREAM payload: a 16-byte nonce, then 64 KiB chunks sealed with ChaCha20-Poly1305
/// under HKDF(file key, nonce, "payload"), counter nonces, the last flagged.
fn payload(data: &[u8], file_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    const CHUNK: usize = 64 * 1024 + 16;
    if data.len() < 16 + 16 {
        return Err(AgeError::Malformed("payload too short"));
    }
    let (nonce, mut rest) = data.split_at(16);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(nonce), file_key)
        .expand(b"payload", key.as_mut_slice())
        .map_err(|_| AgeError::Authentication("payload"))?;
    let cipher = ChaCha20Poly1305::new(key.as_slice().into());
    let mut out = Zeroizing::new(Vec::new());
    let mut counter: u128 = 0;
    loop {
        let last = rest.len() <= CHUNK;
        let (chunk, tail) = rest.split_at(rest.len().min(CHUNK));
        let mut n = [0u8; 12];
        n[..11].copy_from_slice(&counter.to_be_bytes()[5..16]);
        n[11] = u8::from(last);
        let plain = cipher.decrypt(&n.into(), chunk).map_err(|_| AgeError::Authentication("payload"))?;
        if plain.is_empty() && counter > 0 {
            return Err(AgeError::Malformed("empty final chunk"));
        }
        out.extend_from_slice(&plain);
        if last {
            return Ok(out);
        }
        rest = tail;
        counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_string_round_trips() {
        let id = Identity::from_bytes([9u8; 32]);
        let text = format!("# created: now\n# public key: {}\n{}\n", id.recipient(), id.to_secret_string());
        let parsed = parse_identities(&text).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].recipient(), id.recipient());
        assert!(id.recipient().starts_with("age1"));
    }

    #[test]
    fn rejects_unknown_and_unsupported_lines() {
        assert_eq!(parse_identities("hello").unwrap_err(), KeyError::UnknownAgeIdentity { line: 1 });
        assert!(matches!(
            parse_identities("\nAGE-PLUGIN-YUBIKEY-1XYZ").unwrap_err(),
            KeyError::UnsupportedAgeIdentity { line: 2, .. }
        ));
        let mut bad = Identity::from_bytes([1u8; 32]).to_secret_string();
        bad.pop();
        bad.push('Q');
        assert!(matches!(parse_identities(&bad).unwrap_err(), KeyError::MalformedAgeIdentity { .. }));
    }

    #[test]
    fn garbage_files_do_not_open() {
        let id = Identity::from_bytes([3u8; 32]);
        assert!(decrypt(b"nonsense", std::slice::from_ref(&id)).is_err());
        let armored = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";
        assert!(decrypt(armored.as_bytes(), &[id]).is_err());
    }
}
