//! Legacy encrypted PEM private keys (`Proc-Type: 4,ENCRYPTED` with `DEK-Info`), as written by
//! `ssh-keygen -m PEM -N <passphrase>` and OpenSSL, decrypted as Go's `x509.DecryptPEMBlock`
//! does for Flux: the key is derived with OpenSSL's `EVP_BytesToKey` (MD5, one iteration, the
//! first eight bytes of the IV as salt) and the body is decrypted with DES-CBC, 3DES-CBC or
//! AES-128/192/256-CBC, PKCS#7 padding removed. The result is the same key as an unencrypted PEM
//! block, which OpenSSH reads.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use md5::{Digest, Md5};

use crate::auth::AuthError;

/// Whether `text` is a PEM block with legacy encryption headers.
pub(crate) fn is_legacy_encrypted(text: &str) -> bool {
    text.contains("Proc-Type: 4,ENCRYPTED")
}

fn invalid(m: &str) -> AuthError {
    AuthError::InvalidIdentity(m.to_owned())
}

fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while key.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(passphrase);
        h.update(salt);
        prev = h.finalize().to_vec();
        key.extend_from_slice(&prev);
    }
    key.truncate(len);
    key
}

fn decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError>
where
    cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
    C: aes::cipher::BlockDecryptMut + aes::cipher::BlockCipher,
{
    let d = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| invalid("x509: invalid key or IV length"))?;
    d.decrypt_padded_vec_mut::<Pkcs7>(data).map_err(|_| AuthError::PassphraseIncorrect)
}

/// Decrypts a legacy encrypted PEM key with `passphrase`, returning the unencrypted PEM.
pub(crate) fn decrypt_legacy(text: &str, passphrase: &str) -> Result<Vec<u8>, AuthError> {
    let mut lines = text.lines().map(str::trim).skip_while(|l| !l.starts_with("-----BEGIN "));
    let begin = lines.next().ok_or_else(|| invalid("ssh: no key found"))?;
    let label = begin.trim_start_matches("-----BEGIN ").trim_end_matches("-----").to_owned();
    let mut dek = None;
    let mut body = String::new();
    let mut in_headers = true;
    for line in lines {
        if line.starts_with("-----END ") {
            break;
        }
        if in_headers {
            if let Some(v) = line.strip_prefix("DEK-Info:") {
                dek = Some(v.trim().to_owned());
                continue;
            }
            if line.contains(':') {
                continue;
            }
            in_headers = false;
        }
        body.push_str(line);
    }
    let dek = dek.ok_or_else(|| invalid("x509: no DEK-Info header in block"))?;
    let (algorithm, iv_hex) = dek.split_once(',').ok_or_else(|| invalid("x509: malformed DEK-Info header"))?;
    let iv = (0..iv_hex.len())
        .step_by(2)
        .map(|i| iv_hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| invalid("x509: malformed DEK-Info IV"))?;
    if iv.len() < 8 {
        return Err(invalid("x509: malformed DEK-Info IV"));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| invalid("ssh: malformed PEM body"))?;
    let key_len = match algorithm {
        "DES-CBC" => 8,
        "DES-EDE3-CBC" | "AES-192-CBC" => 24,
        "AES-128-CBC" => 16,
        "AES-256-CBC" => 32,
        other => return Err(invalid(&format!("x509: unknown encryption mode {other}"))),
    };
    let key = evp_bytes_to_key(passphrase.as_bytes(), &iv[..8], key_len);
    let der = match algorithm {
        "DES-CBC" => decrypt::<des::Des>(&key, &iv, &data)?,
        "DES-EDE3-CBC" => decrypt::<des::TdesEde3>(&key, &iv, &data)?,
        "AES-128-CBC" => decrypt::<aes::Aes128>(&key, &iv, &data)?,
        "AES-192-CBC" => decrypt::<aes::Aes192>(&key, &iv, &data)?,
        _ => decrypt::<aes::Aes256>(&key, &iv, &data)?,
    };
    // A DER private key is a SEQUENCE; anything else means the passphrase was wrong even though
    // the padding happened to look right.
    if der.first() != Some(&0x30) {
        return Err(AuthError::PassphraseIncorrect);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    Ok(pem.into_bytes())
}
