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
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;

use crate::funcs::{Func, FuncError, arg_str, strval, to_int64, want};
use crate::value::{Object, Value};

/// A generated certificate with its key (Sprig's `certificate` struct).
pub struct Cert {
    cert_pem: String,
    key_pem: String,
    issuer: Option<(Certificate, KeyPair)>,
}

impl Object for Cert {
    fn type_name(&self) -> &str {
        "sprig.certificate"
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

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn plain(e: impl std::fmt::Display) -> FuncError {
    FuncError::Plain(e.to_string())
}

/// A new RSA key: its PKCS#1 PEM and an rcgen key pair for signing.
fn rsa_key(bits: usize) -> Result<(String, KeyPair), FuncError> {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).map_err(plain)?;
    let pkcs1 = key.to_pkcs1_der().map_err(plain)?;
    let pkcs8 = key.to_pkcs8_der().map_err(plain)?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).map_err(plain)?;
    Ok((pem("RSA PRIVATE KEY", pkcs1.as_bytes()), pair))
}

fn params(cn: &str, ips: &Value, dns: &Value, days: i64, ca: bool) -> Result<CertificateParams, FuncError> {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
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

fn cert_value(cert: Certificate, key_pem: String, key: KeyPair, keep: bool) -> Value {
    let cert_pem = cert.pem();
    Value::Object(Rc::new(Cert { cert_pem, key_pem, issuer: keep.then_some((cert, key)) }))
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
        match arg_str(a, 0)?.as_str() {
            "rsa" => rsa_key(4096).map(|(p, _)| Value::str(p)),
            "ecdsa" => {
                let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(plain)?;
                Ok(Value::str(k.serialize_pem()))
            }
            "ed25519" => {
                let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(plain)?;
                Ok(Value::str(k.serialize_pem()))
            }
            other => Ok(Value::str(format!("Unknown type {other}"))),
        }
    });
    m.insert("genCA", |_, a| {
        want(a, 2, "genCA")?;
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &Value::Nil, &Value::Nil, to_int64(&a[1]), true)?;
        let cert = p.self_signed(&key).map_err(plain)?;
        Ok(cert_value(cert, key_pem, key, true))
    });
    m.insert("genSelfSignedCert", |_, a| {
        want(a, 4, "genSelfSignedCert")?;
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        let cert = p.self_signed(&key).map_err(plain)?;
        Ok(cert_value(cert, key_pem, key, false))
    });
    m.insert("genSignedCert", |_, a| {
        want(a, 5, "genSignedCert")?;
        let Value::Object(ca) = &a[4] else {
            return Err(FuncError::Type { index: 4, expected: "sprig.certificate", func: "genSignedCert".into() });
        };
        let (key_pem, key) = rsa_key(2048)?;
        let p = params(&arg_str(a, 0)?, &a[1], &a[2], to_int64(&a[3]), false)?;
        let issuer = ca_issuer(ca.as_ref()).ok_or_else(|| {
            FuncError::Plain("signing with a CA not made by genCA in this render is not supported".into())
        })?;
        let cert = p.signed_by(&key, &issuer.0, &issuer.1).map_err(plain)?;
        Ok(cert_value(cert, key_pem, key, false))
    });
}

fn ca_issuer(o: &dyn Object) -> Option<&(Certificate, KeyPair)> {
    o.as_any()?.downcast_ref::<Cert>()?.issuer.as_ref()
}
