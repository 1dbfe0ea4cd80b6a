//! Sprig's password functions: `bcrypt` and `htpasswd` (bcrypt `$2a$`, cost 10, random salt, as
//! golang.org/x/crypto/bcrypt makes them) and `derivePassword` (the Master Password algorithm:
//! scrypt N=32768 r=8 p=2, HMAC-SHA256 seed, Sprig's templates), which is deterministic.

use std::collections::HashMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::funcs::{Func, arg_str, strval, to_int64, want};
use crate::value::Value;

/// bcrypt's cost in Go's `bcrypt.DefaultCost`.
const COST: u32 = 10;

fn bcrypt_b64() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(&base64::alphabet::BCRYPT, base64::engine::general_purpose::NO_PAD)
}

/// The raw 23-byte bcrypt hash of `key` (NUL-terminated, at most 72 bytes) with `salt`.
fn bcrypt_raw(key: &[u8], salt: &[u8; 16], cost: u32) -> [u8; 23] {
    let mut state = blowfish::Blowfish::bc_init_state();
    state.salted_expand_key(salt, key);
    for _ in 0..(1u64 << cost) {
        state.bc_expand_key(key);
        state.bc_expand_key(salt);
    }
    let magic = b"OrpheanBeholderScryDoubt";
    let mut words = [0u32; 6];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u32::from_be_bytes([magic[4 * i], magic[4 * i + 1], magic[4 * i + 2], magic[4 * i + 3]]);
    }
    for _ in 0..64 {
        for pair in words.chunks_mut(2) {
            let out = state.bc_encrypt([pair[0], pair[1]]);
            pair[0] = out[0];
            pair[1] = out[1];
        }
    }
    let mut bytes = [0u8; 24];
    for (i, w) in words.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    let mut out = [0u8; 23];
    out.copy_from_slice(&bytes[..23]);
    out
}

/// Sprig's `bcrypt`: a `$2a$10$` hash, or Sprig's failure text.
pub fn bcrypt(password: &str) -> String {
    if password.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes".into();
    }
    let mut salt = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    bcrypt_with_salt(password, &salt, COST)
}

fn bcrypt_with_salt(password: &str, salt: &[u8; 16], cost: u32) -> String {
    let mut key = password.as_bytes().to_vec();
    key.push(0);
    key.truncate(72);
    let hash = bcrypt_raw(&key, salt, cost);
    let b64 = bcrypt_b64();
    format!("$2a${cost:02}${}{}", b64.encode(salt), b64.encode(hash))
}

/// Whether `password` matches a `$2a$`/`$2b$` hash.
#[cfg(test)]
fn bcrypt_verify(password: &str, hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, cost, rest] = parts.as_slice() else { return false };
    let (Ok(cost), true) = (cost.parse::<u32>(), rest.len() == 53) else { return false };
    let Ok(salt) = bcrypt_b64().decode(&rest[..22]) else { return false };
    let Ok(salt) = <[u8; 16]>::try_from(salt.as_slice()) else { return false };
    cost <= 31 && bcrypt_with_salt(password, &salt, cost) == format!("$2a${cost:02}${rest}")
}

fn pbkdf2_sha256_once(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = 1u32;
    while out.len() < len {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(password) else { return out };
        mac.update(salt);
        mac.update(&block.to_be_bytes());
        out.extend_from_slice(&mac.finalize().into_bytes());
        block += 1;
    }
    out.truncate(len);
    out
}

fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    for _ in 0..4 {
        let qr = |x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize| {
            x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
            x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
            x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
            x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
        };
        qr(&mut x, 0, 4, 8, 12);
        qr(&mut x, 5, 9, 13, 1);
        qr(&mut x, 10, 14, 2, 6);
        qr(&mut x, 15, 3, 7, 11);
        qr(&mut x, 0, 1, 2, 3);
        qr(&mut x, 5, 6, 7, 4);
        qr(&mut x, 10, 11, 8, 9);
        qr(&mut x, 15, 12, 13, 14);
    }
    for (o, v) in b.iter_mut().zip(x) {
        *o = o.wrapping_add(v);
    }
}

fn block_mix(b: &[u32], out: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&b[(2 * r - 1) * 16..2 * r * 16]);
    for i in 0..2 * r {
        for (xv, bv) in x.iter_mut().zip(&b[i * 16..(i + 1) * 16]) {
            *xv ^= bv;
        }
        salsa20_8(&mut x);
        let dst = if i % 2 == 0 { (i / 2) * 16 } else { (r + i / 2) * 16 };
        out[dst..dst + 16].copy_from_slice(&x);
    }
}

fn ro_mix(block: &mut [u8], n: usize, r: usize) {
    let words = 32 * r;
    let mut x: Vec<u32> = block.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut v = vec![0u32; words * n];
    let mut tmp = vec![0u32; words];
    for i in 0..n {
        v[i * words..(i + 1) * words].copy_from_slice(&x);
        block_mix(&x, &mut tmp, r);
        std::mem::swap(&mut x, &mut tmp);
    }
    for _ in 0..n {
        let j = (x[(2 * r - 1) * 16] as usize) & (n - 1);
        for (xv, vv) in x.iter_mut().zip(&v[j * words..(j + 1) * words]) {
            *xv ^= vv;
        }
        block_mix(&x, &mut tmp, r);
        std::mem::swap(&mut x, &mut tmp);
    }
    for (c, w) in block.chunks_exact_mut(4).zip(x) {
        c.copy_from_slice(&w.to_le_bytes());
    }
}

/// scrypt (RFC 7914) with a power-of-two `n`.
fn scrypt(password: &[u8], salt: &[u8], n: usize, r: usize, p: usize, len: usize) -> Vec<u8> {
    let mut b = pbkdf2_sha256_once(password, salt, p * 128 * r);
    for chunk in b.chunks_mut(128 * r) {
        ro_mix(chunk, n, r);
    }
    pbkdf2_sha256_once(password, &b, len)
}

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword COUNTER TYPE PASSWORD USER SITE`.
pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let key = scrypt(password.as_bytes(), &salt, 32768, 8, 2, 64);
    let mut msg = SEED.as_bytes().to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else { return String::new() };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()].as_bytes();
    template
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_chars(*c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("bcrypt", |_, a| {
        want(a, 1, "bcrypt")?;
        Ok(Value::str(bcrypt(&arg_str(a, 0)?)))
    });
    m.insert("htpasswd", |_, a| {
        want(a, 2, "htpasswd")?;
        let (user, password) = (arg_str(a, 0)?, arg_str(a, 1)?);
        if user.contains(':') {
            return Ok(Value::str(format!("invalid username: {user}")));
        }
        Ok(Value::str(format!("{user}:{}", bcrypt(&password))))
    });
    m.insert("derivePassword", |_, a| {
        want(a, 5, "derivePassword")?;
        let counter = to_int64(&a[0]) as u32;
        let (kind, password, user, site) = (strval(&a[1]), strval(&a[2]), strval(&a[3]), strval(&a[4]));
        Ok(Value::str(derive_password(counter, &kind, &password, &user, &site)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_known_vector() {
        // OpenBSD's test vector (the empty password, cost 6).
        let salt_text = "DCq7YPn5Rq63x1Lad4cll.";
        let salt = bcrypt_b64().decode(salt_text).expect("salt");
        let salt: [u8; 16] = salt.as_slice().try_into().expect("16 bytes");
        assert_eq!(bcrypt_with_salt("", &salt, 6), "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.");
        let h = bcrypt("hunter2");
        assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
        assert!(bcrypt_verify("hunter2", &h));
        assert!(!bcrypt_verify("hunter3", &h));
    }

    #[test]
    fn scrypt_rfc7914_vector() {
        let out = scrypt(b"password", b"NaCl", 1024, 8, 16, 64);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.starts_with("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e773"), "{hex}");
    }
}
