//! SOPS' value cipher (getsops/sops `aes/cipher.go`).
//!
//! A value is stored as `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`: AES-256-GCM
//! with the document's data key, a 32-byte IV (GCM with a non-96-bit nonce, J0 derived with
//! GHASH as in Go's `cipher.NewGCMWithNonceSize`), and the value's tree path joined with `:`
//! plus a trailing `:` as additional data — so a value moved to another key no longer opens.
//! `type` tells how the plaintext is read back: `str`, `int`, `float`, `bool`, `bytes`,
//! `time` or `comment`. An empty string is stored (and read) as an empty string.

use std::sync::LazyLock;

use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;

use crate::error::ValueError;
use crate::tree::Value;

/// The shape sops' parser matches (greedy groups, anchored only at the start, as upstream).
static ENC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]").expect("static regex"));

/// Decrypts one value with the data key and its additional data (the `:`-joined path).
pub(crate) fn decrypt(ciphertext: &str, key: &[u8; 32], aad: &str) -> Result<Value, ValueError> {
    if ciphertext.is_empty() {
        return Ok(Value::Str(String::new()));
    }
    let caps = ENC.captures(ciphertext).ok_or(ValueError::NotEncrypted)?;
    let data = STANDARD.decode(&caps[1]).map_err(|_| ValueError::Base64("data"))?;
    let iv = STANDARD.decode(&caps[2]).map_err(|_| ValueError::Base64("iv"))?;
    let tag = STANDARD.decode(&caps[3]).map_err(|_| ValueError::Base64("tag"))?;
    let datatype = &caps[4];
    if tag.len() != 16 {
        return Err(ValueError::Authentication);
    }
    let mut sealed = data;
    sealed.extend_from_slice(&tag);
    let payload = Payload { msg: &sealed, aad: aad.as_bytes() };
    let plain = match iv.len() {
        32 => AesGcm::<Aes256, U32>::new(key.into())
            .decrypt(iv.as_slice().into(), payload)
            .map_err(|_| ValueError::Authentication)?,
        12 => AesGcm::<Aes256, U12>::new(key.into())
            .decrypt(iv.as_slice().into(), payload)
            .map_err(|_| ValueError::Authentication)?,
        n => return Err(ValueError::IvLength(n)),
    };
    typed(plain, datatype)
}

/// Reads a plaintext back as the type it was encrypted from.
fn typed(plain: Vec<u8>, datatype: &str) -> Result<Value, ValueError> {
    let text = || String::from_utf8(plain.clone()).map_err(|_| ValueError::BadType("string"));
    Ok(match datatype {
        "str" => Value::Str(text()?),
        "int" => Value::Int(parse_go_int(&text()?).ok_or(ValueError::BadType("int"))?),
        "float" => Value::Float(crate::gofmt::parse_float(&text()?).ok_or(ValueError::BadType("float"))?),
        "bool" => Value::Bool(parse_go_bool(&text()?).ok_or(ValueError::BadType("bool"))?),
        "bytes" => Value::Bytes(plain),
        "time" => Value::Time(text()?),
        "comment" => Value::Comment(text()?),
        _ => return Err(ValueError::UnknownType),
    })
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::AeadInPlace;

    use super::*;

    fn seal(plain: &[u8], key: &[u8; 32], aad: &str, datatype: &str) -> String {
        let iv = [7u8; 32];
        let mut buf = plain.to_vec();
        let tag = AesGcm::<Aes256, U32>::new(key.into())
            .encrypt_in_place_detached((&iv).into(), aad.as_bytes(), &mut buf)
            .unwrap();
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{datatype}]",
            STANDARD.encode(&buf),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    #[test]
    fn round_trips_each_type() {
        let key = [1u8; 32];
        let cases: [(&[u8], &str, Value); 5] = [
            (b"hello", "str", Value::Str("hello".into())),
            (b"-42", "int", Value::Int(-42)),
            (b"1.5", "float", Value::Float(1.5)),
            (b"True", "bool", Value::Bool(true)),
            (b" a comment", "comment", Value::Comment(" a comment".into())),
        ];
        for (plain, ty, want) in cases {
            let enc = seal(plain, &key, "a:b:", ty);
            assert_eq!(decrypt(&enc, &key, "a:b:").unwrap(), want);
        }
    }

    #[test]
    fn wrong_path_or_key_fails_authentication() {
        let key = [1u8; 32];
        let enc = seal(b"x", &key, "a:", "str");
        assert_eq!(decrypt(&enc, &key, "b:"), Err(ValueError::Authentication));
        assert_eq!(decrypt(&enc, &[2u8; 32], "a:"), Err(ValueError::Authentication));
    }

    #[test]
    fn rejects_plaintext_and_bad_types() {
        let key = [1u8; 32];
        assert_eq!(decrypt("plain", &key, "a:"), Err(ValueError::NotEncrypted));
        assert_eq!(decrypt("", &key, "a:"), Ok(Value::Str(String::new())));
        let enc = seal(b"x", &key, "a:", "int");
        assert_eq!(decrypt(&enc, &key, "a:"), Err(ValueError::BadType("int")));
        let enc = seal(b"x", &key, "a:", "weird");
        assert_eq!(decrypt(&enc, &key, "a:"), Err(ValueError::UnknownType));
    }
}
