//! Sprig's key functions beyond plain generation: `genPrivateKey` for every type Sprig knows
//! (RSA as PKCS#1, ECDSA P-256 as SEC1 `EC PRIVATE KEY`, Ed25519 as PKCS#8, DSA L2048N256 as
//! OpenSSL's `DSA PRIVATE KEY`), the `*WithKey` certificate generators that take a PEM key,
//! `buildCustomCert`, and the signer of `genSignedCert*` rebuilt from the CA's PEM.

use base64::Engine as _;
use rcgen::{Certificate, CertificateParams, DnType, DnValue, IsCa, KeyIdMethod, KeyPair};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::funcs::FuncError;

fn plain(e: impl std::fmt::Display) -> FuncError {
    FuncError::Plain(e.to_string())
}

/// PEM encoding with 64-column lines, as Go's `pem.EncodeToMemory`.
pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM block in `text` (Go's `pem.Decode`): its type and bytes.
pub(super) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest[body_start..].find(&end_marker)? + body_start;
    let body: String = rest[body_start..body_end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    Some((label, der))
}

/// A parsed private key able to sign, with its PEM as Sprig re-encodes it.
pub(super) struct SigningKey {
    /// The key for rcgen.
    pub pair: KeyPair,
    /// `pemBlockForKey` of the key.
    pub pem: String,
}

/// An RSA key ready to sign, its PEM PKCS#1.
pub(super) fn rsa_signing(key: &rsa::RsaPrivateKey) -> Result<SigningKey, String> {
    let pkcs1 = key.to_pkcs1_der().map_err(|e| e.to_string())?;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).map_err(|e| e.to_string())?;
    Ok(SigningKey { pair, pem: pem("RSA PRIVATE KEY", pkcs1.as_bytes()) })
}

fn ec_signing(key: &p256::SecretKey) -> Result<SigningKey, String> {
    let sec1 = key.to_sec1_der().map_err(|e| e.to_string())?;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    Ok(SigningKey { pair, pem: pem("EC PRIVATE KEY", &sec1) })
}

/// Sprig's `parsePrivateKeyPEM`, with its messages, for the key types a certificate can be
/// signed with.
pub(super) fn parse_private_key(text: &str) -> Result<SigningKey, String> {
    let (label, der) = pem_decode(text).ok_or("no PEM data in input")?;
    if label == "PRIVATE KEY" {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(&der) {
            return rsa_signing(&k);
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(&der) {
            return ec_signing(&k);
        }
        let d = rustls_pki_types::PrivatePkcs8KeyDer::from(der.clone());
        let pair = KeyPair::from_pkcs8_der_and_sign_algo(&d, &rcgen::PKCS_ED25519)
            .map_err(|_| "decoding PEM as PKCS#8: x509: failed to parse private key".to_string())?;
        return Ok(SigningKey { pair, pem: pem("PRIVATE KEY", &der) });
    }
    let Some(kind) = label.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {label}"));
    };
    match kind {
        "RSA" => {
            let k = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|_| "parsing RSA private key from PEM: x509: malformed private key".to_string())?;
            rsa_signing(&k)
        }
        "EC" => {
            let k = p256::SecretKey::from_sec1_der(&der)
                .map_err(|_| "parsing EC private key from PEM: x509: failed to parse EC private key".to_string())?;
            ec_signing(&k)
        }
        "DSA" => Err("x509: certificate private key does not implement crypto.Signer".into()),
        _ => Err(format!("invalid private key type {label}")),
    }
}

/// `genPrivateKey TYPE`: Sprig returns its failures as the string.
pub(super) fn gen_private_key(kind: &str) -> Result<String, FuncError> {
    let mut rng = rand_core::OsRng;
    match kind {
        "" | "rsa" => {
            let key = rsa::RsaPrivateKey::new(&mut rng, 4096).map_err(plain)?;
            Ok(pem("RSA PRIVATE KEY", key.to_pkcs1_der().map_err(plain)?.as_bytes()))
        }
        "ecdsa" => {
            let key = p256::SecretKey::random(&mut rng);
            Ok(pem("EC PRIVATE KEY", &key.to_sec1_der().map_err(plain)?))
        }
        "ed25519" => {
            let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(plain)?;
            Ok(pem("PRIVATE KEY", &k.serialize_der()))
        }
        "dsa" => {
            let components = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_2048_256);
            let key = dsa::SigningKey::generate(&mut rng, components);
            let vk = key.verifying_key();
            let c = vk.components();
            let ints: Vec<Vec<u8>> = vec![
                vec![0],
                c.p().to_bytes_be(),
                c.q().to_bytes_be(),
                c.g().to_bytes_be(),
                vk.y().to_bytes_be(),
                key.x().to_bytes_be(),
            ];
            Ok(pem("DSA PRIVATE KEY", &der_sequence(&ints)))
        }
        other => Ok(format!("Unknown type {other}")),
    }
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// A DER SEQUENCE of unsigned INTEGERs given big-endian.
fn der_sequence(ints: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for i in ints {
        let mut v: Vec<u8> = i.iter().copied().skip_while(|b| *b == 0).collect();
        if v.is_empty() || v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        body.push(0x02);
        der_len(v.len(), &mut body);
        body.extend(v);
    }
    let mut out = vec![0x30];
    der_len(body.len(), &mut out);
    out.extend(body);
    out
}

/// The issuer for `genSignedCert`: the CA certificate's subject and key identifier, signing
/// with its key.
pub(super) fn issuer(cert_pem: &str, key_pem: &str) -> Result<(Certificate, KeyPair), FuncError> {
    let (_, der) = pem_decode(cert_pem).ok_or_else(|| plain("unable to decode certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| plain(format!("error parsing certificate: decodedSignerCert.Bytes: {e}")))?;
    let key = parse_private_key(key_pem).map_err(|e| plain(format!("error parsing private key: {e}")))?;
    let mut p = CertificateParams::default();
    for attr in cert.subject().iter_attributes() {
        let Some(arcs) = attr.attr_type().iter() else { continue };
        let arcs: Vec<u64> = arcs.collect();
        let Ok(s) = attr.as_str() else { continue };
        let value = match attr.attr_value().tag() {
            x509_parser::der_parser::asn1_rs::Tag::PrintableString => {
                rcgen::PrintableString::try_from(s).map(DnValue::PrintableString).unwrap_or(DnValue::from(s))
            }
            x509_parser::der_parser::asn1_rs::Tag::Ia5String => {
                rcgen::Ia5String::try_from(s).map(DnValue::Ia5String).unwrap_or(DnValue::from(s))
            }
            _ => DnValue::from(s),
        };
        p.distinguished_name.push(DnType::from_oid(&arcs), value);
    }
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    for ext in cert.extensions() {
        if let x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) = ext.parsed_extension() {
            p.key_identifier_method = KeyIdMethod::PreSpecified(id.0.to_vec());
        }
    }
    let ca = p.self_signed(&key.pair).map_err(plain)?;
    Ok((ca, key.pair))
}

/// `buildCustomCert B64CERT B64KEY`: the PEMs, checked as Sprig checks them.
pub(super) fn build_custom_cert(b64cert: &str, b64key: &str) -> Result<(String, String), FuncError> {
    let std = base64::engine::general_purpose::STANDARD;
    let cert = std.decode(b64cert).map_err(|_| plain("unable to decode base64 certificate"))?;
    let key = std.decode(b64key).map_err(|_| plain("unable to decode base64 private key"))?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let (_, der) = pem_decode(&cert).ok_or_else(|| plain("unable to decode certificate"))?;
    x509_parser::parse_x509_certificate(&der)
        .map_err(|e| plain(format!("error parsing certificate: decodedCert.Bytes: {e}")))?;
    if let Err(e) = parse_private_key(&key)
        && !e.contains("crypto.Signer")
    {
        return Err(plain(format!("error parsing private key: {e}")));
    }
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::ParsedExtension;

    fn key_ids(pem_text: &str) -> (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) {
        let (_, der) = pem_decode(pem_text).expect("pem");
        let (_, c) = x509_parser::parse_x509_certificate(&der).expect("certificate");
        let (mut ski, mut aki) = (None, None);
        for e in c.extensions() {
            match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.as_ref().map(|k| k.0.to_vec()),
                _ => {}
            }
        }
        (c.issuer().as_raw().to_vec(), ski, aki)
    }

    #[test]
    fn signed_certificate_names_its_ca() {
        let key = gen_private_key("ecdsa").expect("key");
        assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let ca_key = parse_private_key(&key).expect("parses");
        assert_eq!(ca_key.pem, key, "Sprig re-encodes an EC key as SEC1");
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, "test-ca");
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key.pair).expect("ca");
        let ca_pem = ca.pem();
        let (issuer_cert, issuer_key) = issuer(&ca_pem, &key).expect("issuer");
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("leaf key");
        let mut lp = CertificateParams::default();
        lp.use_authority_key_identifier_extension = true;
        let leaf = lp.signed_by(&leaf_key, &issuer_cert, &issuer_key).expect("leaf");
        let (_, der) = pem_decode(&ca_pem).expect("pem");
        let (_, ca_parsed) = x509_parser::parse_x509_certificate(&der).expect("ca parses");
        let (leaf_issuer, _, aki) = key_ids(&leaf.pem());
        let (_, ca_ski, _) = key_ids(&ca_pem);
        assert_eq!(leaf_issuer, ca_parsed.subject().as_raw().to_vec(), "issuer is the CA's subject, byte for byte");
        assert_eq!(aki, ca_ski, "authority key id is the CA's subject key id");
    }

    #[test]
    fn dsa_key_is_openssl_der() {
        let pem_text = gen_private_key("dsa").expect("dsa");
        let (label, der) = pem_decode(&pem_text).expect("pem");
        assert_eq!(label, "DSA PRIVATE KEY");
        // SEQUENCE (long form length) then INTEGER 0 (the version).
        assert_eq!(der[0], 0x30);
        let skip = 2 + usize::from(der[1] & 0x7f);
        assert_eq!(&der[skip..skip + 3], &[0x02, 0x01, 0x00]);
    }

    #[test]
    fn bad_keys_are_reported_as_sprig_does() {
        assert_eq!(parse_private_key("nothing").err().as_deref(), Some("no PEM data in input"));
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_private_key(cert).err().as_deref(),
            Some("no private key data in PEM block of type CERTIFICATE")
        );
        assert!(gen_private_key("nope").is_ok_and(|s| s == "Unknown type nope"));
    }
}
