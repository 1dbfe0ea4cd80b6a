//! Recovering a document's data key (sops `sops.go` `GetDataKeyWithKeyServices`,
//! `shamir/`, `usererrors.go`).
//!
//! Each key group holds the data key (or, with several groups, one Shamir share of it)
//! encrypted to each of its master keys; keys are tried age first, then OpenPGP, then the rest,
//! and the first that opens wins for its group. With one group its part is the key; with
//! several, `shamir_threshold` parts are combined. The error lists, per group, every key that
//! was tried and why it failed: recipients and fingerprints are public, and that is what a user
//! needs to see which key the Secret lacks.

use std::fmt;

use zeroize::Zeroizing;

use crate::Keys;
use crate::metadata::{MasterKey, Metadata};
use crate::{age, openpgp};

/// The data key could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DataKeyError {
    /// Successful groups required (sops' `shamir_threshold`, 0 for a single group).
    pub required: usize,
    /// Per group: `None` when the group succeeded, else why each of its keys failed.
    pub groups: Vec<Option<Vec<KeyFailure>>>,
    /// Set when enough parts were found but they did not combine into a 32-byte key.
    pub combine_failed: bool,
}

/// One master key that did not open the data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFailure {
    /// The recipient, fingerprint or service key identifier (public).
    pub key: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for DataKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = self.groups.iter().filter(|g| g.is_none()).count();
        write!(f, "Error getting data key: {} successful groups required, got {ok}", self.required)?;
        if self.combine_failed {
            return write!(f, " (the recovered Shamir parts do not combine into a data key)");
        }
        for (i, group) in self.groups.iter().enumerate() {
            match group {
                None => write!(f, "; group {i}: SUCCESS")?,
                Some(failures) if failures.is_empty() => write!(f, "; group {i}: FAILED (no keys)")?,
                Some(failures) => {
                    write!(f, "; group {i}: FAILED")?;
                    for (j, failure) in failures.iter().enumerate() {
                        let sep = if j == 0 { ": " } else { ", " };
                        write!(f, "{sep}{}: {}", failure.key, failure.reason)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Recovers the 32-byte data key of a document.
pub(crate) fn data_key(meta: &Metadata, keys: &Keys) -> Result<Zeroizing<[u8; 32]>, DataKeyError> {
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut groups = Vec::with_capacity(meta.groups.len());
    for group in &meta.groups {
        match decrypt_group(group, keys) {
            Ok(part) => {
                parts.push(part);
                groups.push(None);
            }
            Err(failures) => groups.push(Some(failures)),
        }
    }
    let error =
        |combine_failed| DataKeyError { required: meta.shamir_threshold, groups: groups.clone(), combine_failed };
    let key = if meta.groups.len() > 1 {
        if parts.len() < meta.shamir_threshold || parts.len() < 2 {
            return Err(error(false));
        }
        combine(&parts).ok_or_else(|| error(true))?
    } else {
        if parts.len() != 1 {
            return Err(error(false));
        }
        parts.remove(0)
    };
    let bytes: [u8; 32] = key.as_slice().try_into().map_err(|_| error(true))?;
    Ok(Zeroizing::new(bytes))
}

fn decrypt_group(group: &[MasterKey], keys: &Keys) -> Result<Zeroizing<Vec<u8>>, Vec<KeyFailure>> {
    let mut failures = Vec::new();
    for key in group {
        let result = match key {
            MasterKey::Age { enc, .. } => {
                if keys.age.is_empty() {
                    Err("no age identities in the decryption Secret".to_owned())
                } else {
                    age::decrypt(enc.as_bytes(), &keys.age).map_err(|e| match e {
                        age::AgeError::NoMatch => format!(
                            "no identity matched (tried {})",
                            keys.age.iter().map(age::Identity::recipient).collect::<Vec<_>>().join(", ")
                        ),
                        other => other.to_string(),
                    })
                }
            }
            MasterKey::Pgp { enc, .. } => {
                if keys.pgp.is_empty() {
                    Err("no OpenPGP secret keys in the decryption Secret".to_owned())
                } else {
                    openpgp::decrypt(enc, &keys.pgp).map_err(|e| match e {
                        openpgp::PgpError::NoMatch => format!(
                            "no secret key matched (tried {})",
                            keys.pgp.iter().map(openpgp::SecretKey::fingerprint).collect::<Vec<_>>().join(", ")
                        ),
                        other => other.to_string(),
                    })
                }
            }
            MasterKey::AwsKms(kms) => match &keys.aws {
                Some(service) => service.decrypt(kms, keys.aws_credentials.as_ref()),
                None => Err("AWS KMS is not configured for this decryption".to_owned()),
            },
            MasterKey::Service { service, .. } => Err(format!("{service} is not supported by Eddy")),
        };
        match result {
            Ok(part) => {
                tracing::debug!(key = key.name(), "data key recovered");
                return Ok(part);
            }
            Err(reason) => failures.push(KeyFailure { key: key.name().to_owned(), reason }),
        }
    }
    Err(failures)
}

/// Shamir's secret sharing over GF(2^8) (HashiCorp Vault's scheme, as sops uses): each part
/// is the y values followed by its x coordinate; the secret is the interpolation at 0.
fn combine(parts: &[Zeroizing<Vec<u8>>]) -> Option<Zeroizing<Vec<u8>>> {
    let len = parts.first()?.len();
    if len < 2 || parts.iter().any(|p| p.len() != len) {
        return None;
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return None;
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (idx, out) in secret.iter_mut().enumerate() {
        let mut result = 0u8;
        for (i, part) in parts.iter().enumerate() {
            let mut basis = 1u8;
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    basis = gf_mul(basis, gf_div(*xj, xs[i] ^ xj));
                }
            }
            result ^= gf_mul(part[idx], basis);
        }
        *out = result;
    }
    Some(secret)
}

fn gf_mul(a: u8, b: u8) -> u8 {
    let mut acc = 0u8;
    for i in (0..8).rev() {
        let bit = (b >> i) & 1;
        let reduce = if acc & 0x80 != 0 { 0x1b } else { 0 };
        acc = (acc << 1) ^ reduce ^ if bit == 1 { a } else { 0 };
    }
    acc
}

fn gf_inverse(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    for _ in 0..254 {
        result = gf_mul(result, a);
    }
    result
}

fn gf_div(a: u8, b: u8) -> u8 {
    gf_mul(a, gf_inverse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(coeffs: &[u8], x: u8) -> u8 {
        coeffs.iter().rev().fold(0, |acc, c| gf_mul(acc, x) ^ c)
    }

    #[test]
    fn field_arithmetic() {
        assert_eq!(gf_mul(0x57, 0x83), 0xc1); // FIPS-197 example
        for a in 1..=255u8 {
            assert_eq!(gf_mul(a, gf_inverse(a)), 1);
        }
    }

    #[test]
    fn combines_shares() {
        // secret bytes 42 and 7, degree-1 polynomials, shares at x = 1, 2, 3.
        let polys = [[42u8, 99], [7u8, 13]];
        let share = |x: u8| Zeroizing::new(vec![eval(&polys[0], x), eval(&polys[1], x), x]);
        let secret = combine(&[share(3), share(1)]).unwrap();
        assert_eq!(secret.as_slice(), &[42, 7]);
        assert!(combine(&[share(1), share(1)]).is_none());
    }

    #[test]
    fn message_names_keys_not_secrets() {
        let err = DataKeyError {
            required: 0,
            groups: vec![Some(vec![KeyFailure { key: "age1abc".into(), reason: "no identity matched".into() }])],
            combine_failed: false,
        };
        assert_eq!(
            err.to_string(),
            "Error getting data key: 0 successful groups required, got 0; group 0: FAILED: age1abc: no identity matched"
        );
    }
}
