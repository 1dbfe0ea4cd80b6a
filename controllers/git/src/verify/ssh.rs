//! SSH signatures (`sshsig`, Git's `gpg.format=ssh`) against authorized_keys-style lines.
//!
//! Flux (fluxcd/pkg `signature.VerifySSHSignature`, source-controller v1.9+) reads every
//! Secret value whose key ends in `.sshpub` as a list of authorized_keys lines, parsed with
//! golang.org/x/crypto/ssh `ParseAuthorizedKey` line by line. That parser is lenient in a
//! particular way that this module reproduces, because users' Secrets depend on it:
//!
//! - blank lines and lines starting with `#` are skipped;
//! - a line is `[options] keytype base64 [comment]`; the key type *text* is not checked
//!   against the key inside the base64 blob;
//! - one leading field that is not a key (authorized_keys options such as
//!   `no-pty,from="…"`, or an allowed_signers principal such as `dev@example.com`) is
//!   skipped, so `allowed_signers` lines with a principal and no options work too;
//! - any line that cannot be parsed makes the whole value unusable (fail-fast).
//!
//! A signature verifies when a trusted key equals the key embedded in the signature, the
//! signature's namespace is `git`, and the signature over the payload (hashed with the
//! signature's sha256 or sha512) is valid. Certificates may be listed (Flux parses them)
//! but never match, since Git embeds the plain key in its signatures.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ssh_key::{Algorithm, Certificate, EcdsaCurve, HashAlg, PublicKey, SshSig};

use super::error::{KeyFormat, VerifyError};
use super::keyring::{Entry, Verified};

/// The namespace Git signs with (`ssh-keygen -Y sign -n git`).
pub const GIT_NAMESPACE: &str = "git";

/// One usable line of an authorized keys value.
#[derive(Clone)]
pub(crate) enum TrustedSshKey {
    /// A public key.
    Key(Box<PublicKey>),
    /// An OpenSSH certificate: accepted, as Flux does, but it never matches a signature.
    Certificate,
}

/// Go's `base64.StdEncoding`: padded, trailing bits allowed.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Parses an authorized keys value; the first bad line rejects the value.
pub(crate) fn parse_authorized_keys(value: &[u8]) -> Result<Vec<TrustedSshKey>, String> {
    let text = String::from_utf8_lossy(value);
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = parse_line(line).map_err(|reason| format!("line {}: {reason}", number + 1))?;
        keys.push(key);
    }
    Ok(keys)
}

/// One authorized_keys line, as x/crypto/ssh `ParseAuthorizedKey` reads it.
fn parse_line(line: &str) -> Result<TrustedSshKey, String> {
    let no_key = |last: Option<String>| match last {
        Some(error) => format!("ssh: no key found; last parsing error for ignored line: {error}"),
        None => "ssh: no key found".to_owned(),
    };
    let Some(first_space) = line.find([' ', '\t']) else {
        return Err(no_key(None));
    };
    // `keytype base64 [comment]`: the key type text itself is skipped.
    let first_error = match parse_key_field(&line[first_space..]) {
        Ok(key) => return Ok(key),
        Err(error) => error,
    };
    // `options keytype base64 [comment]`: skip one options field (commas and quoted
    // strings included), then the key type.
    let bytes = line.as_bytes();
    let mut in_quote = false;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        if !in_quote && (b == b' ' || b == b'\t') {
            end = i;
            break;
        }
        if b == b'"' && (i == 0 || bytes[i - 1] != b'\\') {
            in_quote = !in_quote;
        }
    }
    let rest = line[end..].trim_start_matches([' ', '\t']);
    if end == bytes.len() || rest.is_empty() {
        return Err(no_key(Some(first_error)));
    }
    let Some(type_end) = rest.find([' ', '\t']) else {
        return Err(no_key(Some(first_error)));
    };
    parse_key_field(&rest[type_end..]).map_err(|error| no_key(Some(error)))
}

/// `base64 [comment]` → the key in the base64 blob.
fn parse_key_field(field: &str) -> Result<TrustedSshKey, String> {
    let field = field.trim();
    let encoded = field.split([' ', '\t']).next().unwrap_or_default();
    let blob = GO_STD_BASE64.decode(encoded).map_err(|error| format!("illegal base64 data: {error}"))?;
    parse_key_blob(&blob)
}

/// An SSH wire-format public key or certificate, with no trailing bytes.
fn parse_key_blob(blob: &[u8]) -> Result<TrustedSshKey, String> {
    let algorithm = wire_string(blob).ok_or("ssh: short read")?;
    if algorithm.ends_with(b"-cert-v01@openssh.com") {
        return Certificate::from_bytes(blob)
            .map(|_| TrustedSshKey::Certificate)
            .map_err(|error| format!("ssh: invalid certificate: {error}"));
    }
    let key = PublicKey::from_bytes(blob).map_err(|error| format!("ssh: {error}"))?;
    if key.key_data().is_other() || matches!(key.algorithm(), Algorithm::Rsa { hash: Some(_) }) {
        return Err(format!("ssh: unknown key algorithm: {}", String::from_utf8_lossy(algorithm)));
    }
    Ok(TrustedSshKey::Key(Box::new(key)))
}

/// The first length-prefixed string of an SSH wire blob.
fn wire_string(blob: &[u8]) -> Option<&[u8]> {
    let (length, rest) = blob.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    rest.get(..length)
}

/// Whether this implementation verifies signatures made with `algorithm`: a key's
/// algorithm (`ssh-rsa` for any RSA key), or a signature's (RSA only with SHA-2, as
/// sshsig requires).
fn supported(algorithm: &Algorithm, signature: bool) -> bool {
    match algorithm {
        Algorithm::Rsa { hash } => !signature || hash.is_some(),
        other => matches!(
            other,
            Algorithm::Ed25519
                | Algorithm::SkEd25519
                | Algorithm::SkEcdsaSha2NistP256
                | Algorithm::Ecdsa { curve: EcdsaCurve::NistP256 | EcdsaCurve::NistP384 | EcdsaCurve::NistP521 }
        ),
    }
}

/// Verifies an armoured SSH signature with the `.sshpub` values, in order.
pub(crate) fn verify(
    entries: &[Entry<Vec<TrustedSshKey>>],
    signature: &str,
    payload: &[u8],
) -> Result<Verified, VerifyError> {
    let format = KeyFormat::Ssh;
    if payload.is_empty() {
        return Err(VerifyError::EmptyPayload { format });
    }
    let signature = SshSig::from_pem(signature.trim())
        .map_err(|error| VerifyError::MalformedSignature { format, reason: error.to_string() })?;
    let signer = signature.public_key();
    let signer_fingerprint = PublicKey::from(signer.clone()).fingerprint(HashAlg::Sha256).to_string();

    let mut first_malformed = None;
    let mut attempted = false;
    let mut keys_tried = 0;
    for entry in entries {
        let keys = match &entry.parsed {
            Ok(keys) => keys,
            Err(reason) => {
                first_malformed.get_or_insert_with(|| VerifyError::MalformedKey {
                    format,
                    secret_key: entry.secret_key.clone(),
                    reason: reason.clone(),
                });
                continue;
            }
        };
        attempted = true;
        for key in keys {
            keys_tried += 1;
            let TrustedSshKey::Key(key) = key else {
                continue;
            };
            if key.key_data() != signer {
                continue;
            }
            // The signer's key is trusted: this key decides the outcome, as no other
            // trusted key can equal it and verify differently.
            return verify_with(key, &entry.secret_key, &signature, payload);
        }
    }
    if !attempted && let Some(error) = first_malformed {
        return Err(error);
    }
    Err(VerifyError::NoMatchingKey { format, signer: Some(signer_fingerprint), keys_tried })
}

/// Verifies `signature` with the trusted key equal to its embedded key.
fn verify_with(key: &PublicKey, secret_key: &str, signature: &SshSig, payload: &[u8]) -> Result<Verified, VerifyError> {
    let format = KeyFormat::Ssh;
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    if signature.namespace() != GIT_NAMESPACE {
        return Err(VerifyError::NamespaceMismatch { namespace: signature.namespace().to_owned(), key: fingerprint });
    }
    let algorithm = signature.algorithm();
    if !supported(&key.algorithm(), false) || !supported(&algorithm, true) {
        return Err(VerifyError::UnsupportedAlgorithm { format, algorithm: algorithm.to_string() });
    }
    match key.verify(GIT_NAMESPACE, payload, signature) {
        Ok(()) => Ok(Verified {
            format,
            key_id: fingerprint.clone(),
            signing_fingerprint: fingerprint.clone(),
            fingerprint,
            secret_key: secret_key.to_owned(),
        }),
        Err(_) => Err(VerifyError::BadSignature { format, key: fingerprint }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The public half of a throwaway key made with `ssh-keygen -t ed25519`.
    const ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILB9Vark1RgahMo/Kw4KywtbgewNuikMhRTLY0nvalpu";

    fn parses(line: &str) -> bool {
        parse_authorized_keys(line.as_bytes()).is_ok_and(|keys| keys.len() == 1)
    }

    #[test]
    fn accepts_the_line_forms_flux_accepts() {
        assert!(parses(&format!("ssh-ed25519 {ED25519}")));
        assert!(parses(&format!("ssh-ed25519 {ED25519} dev@example.com")));
        // The key type text is not checked against the blob.
        assert!(parses(&format!("anything {ED25519}")));
        // authorized_keys options, including quoted spaces.
        assert!(parses(&format!("no-pty,from=\"10.0.0.1, 10.0.0.2\" ssh-ed25519 {ED25519}")));
        // allowed_signers: a principal in front.
        assert!(parses(&format!("dev@example.com ssh-ed25519 {ED25519}")));
        let keys = parse_authorized_keys(
            format!("# trusted\n\n  ssh-ed25519 {ED25519} a\r\nssh-ed25519 {ED25519} b\n").as_bytes(),
        );
        assert_eq!(keys.map(|k| k.len()), Ok(2));
    }

    #[test]
    fn one_bad_line_rejects_the_value() {
        for bad in [
            ED25519.to_owned(),
            format!("ssh-ed25519 {}", &ED25519[1..]),
            format!("dev@example.com namespaces=\"git\" ssh-ed25519 {ED25519}"),
            "ssh-ed25519 AAAAB3NzaC1yc2E=".to_owned(),
        ] {
            let text = format!("ssh-ed25519 {ED25519}\n{bad}\n");
            let error = parse_authorized_keys(text.as_bytes()).err();
            assert!(error.as_deref().is_some_and(|e| e.starts_with("line 2: ssh: no key found")), "{bad}: {error:?}");
        }
    }
}
