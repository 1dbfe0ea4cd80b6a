//! Sprig's certificate and key generators (`genPrivateKey`, `genCA`, `genSelfSignedCert`,
//! `genSignedCert`): RSA keys (PKCS#1 PEM) as Sprig makes them, certificates signed with
//! SHA-256. The output is random, so only its shape can match Helm's.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType, SerialNumber,
};

use super::keys::{self, SigningKey};

use crate::funcs::{Func, FuncError, arg_str, strval, to_int64, want};
use crate::value::{Object, Value};

/// A generated certificate with its key (Sprig's `certificate` struct).
pub struct Cert {
    cert_pem: String,
    key_pem: String,
}

impl Object for Cert {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }
    fn kind(&self) -> &'static str {
        "struct"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(self.cert_pem.as_str())),
            "Key" => Some(Value::str(self.key_pem.as_str())),
            _ => None,
        }
    }
    fn call(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert_pem, self.key_pem)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Cert".to_string(), Value::str(self.cert_pem.as_str()));
        m.insert("Key".to_string(), Value::str(self.key_pem.as_str()));
        Value::map(m)
    }
}

fn plain(e: impl std::fmt::Display) -> FuncError {
    FuncError::Plain(e.to_string())
}

/// A new RSA key: its PKCS#1 PEM and an rcgen key pair for signing.
fn rsa_key(bits: usize) -> Result<(String, KeyPair), FuncError> {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).map_err(plain)?;
    let k = keys::rsa_signing(&key).map_err(FuncError::Plain)?;
    Ok((k.pem, k.pair))
}

/// The key a `*WithKey` function is given (`parsing private key: ...` when unusable).
fn given_key(a: &[Value], i: usize) -> Result<(String, KeyPair), FuncError> {
    let SigningKey { pair, pem } =
        keys::parse_private_key(&strval(&a[i])).map_err(|e| FuncError::Plain(format!("parsing private key: {e}")))?;
    Ok((pem, pair))
}

/// The CA argument of `genSignedCert*` (a `sprig.certificate`).
fn ca_arg(a: &[Value], i: usize, func: &str) -> Result<(Certificate, KeyPair), FuncError> {
    let ca = match &a[i] {
        Value::Object(o) => {
            o.as_any().and_then(|x| x.downcast_ref::<Cert>()).map(|c| (c.cert_pem.clone(), c.key_pem.clone()))
        }
        _ => None,
    };
    let Some((cert, key)) = ca else {
        return Err(FuncError::Type { index: i, expected: "sprig.certificate", func: func.into() });
    };
    keys::issuer(&cert, &key)
}

fn params(cn: &str, ips: &Value, dns: &Value, days: i64, ca: bool) -> Result<CertificateParams, FuncError> {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    // Go adds the issuer's key id to a certificate signed by another.
    p.use_authority_key_identifier_extension = !ca;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now;
    p.not_after = now + time::Duration::days(days);
    let mut serial = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial);
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages.push(KeyUsagePurpose::KeyCertSign);
    }
    if let Value::List(l) = ips {
        for ip in l.iter() {
            let s = strval(ip);
            let addr = s.parse().map_err(|_| FuncError::Plain(format!("error parsing ip: {s}")))?;
            p.subject_alt_names.push(SanType::IpAddress(addr));
        }
    }
    if let Value::List(l) = dns {
        for d in l.iter() {
            let name = strval(d).try_into().map_err(plain)?;
            p.subject_alt_names.push(SanType::DnsName(name));
        }
    }
    Ok(p)
}

fn cert_value(cert: &Certificate, key_pem: String) -> Value {
    Value::Object(Rc::new(Cert { cert_pem: cert.pem(), key_pem }))
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC with a random IV, PKCS#7 padding, base64 of IV + data.
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    if plaintext.is_empty() {
        return String::new();
    }
    let mut iv = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut iv);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let mut out = iv.to_vec();
    out.extend(enc.encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()));
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Sprig's `decryptAES`.
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, FuncError> {
    use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let data = base64::engine::general_purpose::STANDARD.decode(crypt64).map_err(plain)?;
    if data.len() < 16 || data.len() % 16 != 0 {
        return Err(FuncError::Plain("crypto/cipher: input not full blocks".into()));
    }
    let (iv, body) = data.split_at(16);
    let mut iv16 = [0u8; 16];
    iv16.copy_from_slice(iv);
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv16.into());
    let plain_bytes = dec.decrypt_padded_vec_mut::<NoPadding>(body).map_err(plain)?;
    let pad = plain_bytes.last().map_or(0, |b| usize::from(*b));
    let end = plain_bytes.len().saturating_sub(pad);
    Ok(String::from_utf8_lossy(&plain_bytes[..end]).into_owned())
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("encryptAES", |_, a| {
        want(a, 2, "encryptAES")?;
        Ok(Value::str(encrypt_aes(&arg_str(a, 0)?, &arg_str(a, 1)?)))
    });
    m.insert("decryptAES", |_, a| {
        want(a, 2, "decryptAES")?;
        decrypt_aes(&arg_str(a, 0)?, &arg_str(a, 1)?).map(Value::str)
    });
    m.insert("randBytes", |_, a| {
        want(a, 1, "randBytes")?;
        let n = usize::try_from(to_int64(&a[0])).unwrap_or(0).min(1 << 20);
        let mut b = vec![0u8; n];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        Ok(Value::str(base64::engine::general_purpose::STANDARD.encode(b)))
    });
    m.insert("genPrivateKey", |_, a| {
        want(a, 1, "genPrivateKey")?;
        keys::gen_private_key(&arg_str(a, 0)?).map(Value::str)
    });
    m.insert("genCA", |_, a| {
        want(a, 2, "genCA")?;
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &Value::Nil, &Value::Nil, to_int64(&a[1]), true)?;
        Ok(cert_value(&p.self_signed(&key).map_err(plain)?, key_pem))
    });
    m.insert("genCAWithKey", |_, a| {
        want(a, 3, "genCAWithKey")?;
        let (key_pem, key) = given_key(a, 2)?;
        let p = params(&arg_str(a, 0)?, &Value::Nil, &Value::Nil, to_int64(&a[1]), true)?;
        Ok(cert_value(&p.self_signed(&key).map_err(plain)?, key_pem))
    });
    m.insert("genSelfSignedCert", |_, a| {
        want(a, 4, "genSelfSignedCert")?;
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        Ok(cert_value(&p.self_signed(&key).map_err(plain)?, key_pem))
    });
    m.insert("genSelfSignedCertWithKey", |_, a| {
        want(a, 5, "genSelfSignedCertWithKey")?;
        let (key_pem, key) = given_key(a, 4)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        Ok(cert_value(&p.self_signed(&key).map_err(plain)?, key_pem))
    });
    m.insert("genSignedCert", |_, a| {
        want(a, 5, "genSignedCert")?;
        let issuer = ca_arg(a, 4, "genSignedCert")?;
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        Ok(cert_value(&p.signed_by(&key, &issuer.0, &issuer.1).map_err(plain)?, key_pem))
    });
    m.insert("genSignedCertWithKey", |_, a| {
        want(a, 6, "genSignedCertWithKey")?;
        let issuer = ca_arg(a, 4, "genSignedCertWithKey")?;
        let (key_pem, key) = given_key(a, 5)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        Ok(cert_value(&p.signed_by(&key, &issuer.0, &issuer.1).map_err(plain)?, key_pem))
    });
    m.insert("buildCustomCert", |_, a| {
        want(a, 2, "buildCustomCert")?;
        let (cert_pem, key_pem) = keys::build_custom_cert(&arg_str(a, 0)?, &arg_str(a, 1)?)?;
        Ok(Value::Object(Rc::new(Cert { cert_pem, key_pem })))
    });
}
