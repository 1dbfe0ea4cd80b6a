//! AWS KMS master keys (sops `kms/keysource.go`; kustomize-controller
//! `internal/sops/awskms`, `internal/decryptor`).
//!
//! A document's `sops.kms` entries hold the data key encrypted by a KMS key (`arn`), with an
//! optional encryption `context`, an optional IAM `role` to assume first and an optional
//! `aws_profile`. Decrypting one is a KMS `Decrypt` call in the key's region (from its ARN),
//! signed with Signature Version 4 ([`sigv4`]).
//!
//! Credentials, as kustomize-controller picks them: the static ones of the decryption
//! Secret's `sops.aws-kms` entry (YAML: `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`), else the controller's own — for Eddy the `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` of its environment (workload identity
//! through web identity tokens is not implemented). Endpoints as the AWS SDKs resolve them:
//! `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else
//! `https://kms.<region>.amazonaws.com` (`.amazonaws.com.cn` in China regions).
//!
//! Secrets (keys, tokens, the plaintext data key) never enter a message or a log line.

mod client;
pub mod sigv4;

use std::collections::BTreeMap;
use std::fmt;

pub use client::AwsKms;

/// AWS credentials. `Debug` shows the access key ID only.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Credentials {
    /// `AKIA…` (not secret).
    #[serde(default, rename = "aws_access_key_id")]
    pub access_key_id: String,
    /// The secret key.
    #[serde(default, rename = "aws_secret_access_key")]
    pub secret_access_key: String,
    /// The session token of temporary credentials (may be empty).
    #[serde(default, rename = "aws_session_token")]
    pub session_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("temporary", &!self.session_token.is_empty())
            .finish_non_exhaustive()
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.secret_access_key.zeroize();
        self.session_token.zeroize();
    }
}

impl Credentials {
    /// Parses the `sops.aws-kms` entry of a decryption Secret (as kustomize-controller's
    /// `LoadStaticCredentialsFromYAML`: unknown fields ignored, missing ones empty).
    ///
    /// # Errors
    /// The entry is not a YAML mapping of strings (the message never quotes the entry).
    pub fn from_yaml(data: &[u8]) -> Result<Self, String> {
        serde_norway::from_slice::<Credentials>(data).map_err(|e| {
            let at = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
            format!("failed to unmarshal AWS credentials file: invalid YAML{at}")
        })
    }

    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` of an environment,
    /// when both of the first two are set.
    #[must_use]
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let access_key_id = var("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
        let secret_access_key = var("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?;
        Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN").unwrap_or_default(),
        })
    }
}

/// One `sops.kms` entry of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KmsKey {
    /// The key's ARN (`arn:aws:kms:<region>:<account>:key/<id>` or `…:alias/<name>`).
    pub arn: String,
    /// An IAM role to assume before calling KMS (empty: none).
    pub role: String,
    /// The encryption context the data key was encrypted with.
    pub context: BTreeMap<String, String>,
    /// A shared-config profile (empty: none).
    pub aws_profile: String,
    /// The encrypted data key, base64.
    pub enc: String,
}

impl KmsKey {
    /// The region of the key's ARN, as sops' `arnRegex`
    /// (`^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$`).
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        let rest = self.arn.strip_prefix("arn:aws")?;
        let partition_end = rest.find(':')?;
        if !rest[..partition_end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        let rest = rest[partition_end..].strip_prefix(":kms:")?;
        // `(.+):[0-9]+:(key|alias)/.+` with a greedy region: the last `:<digits>:key/` or
        // `:<digits>:alias/` split.
        for (i, _) in rest.match_indices(':').collect::<Vec<_>>().into_iter().rev() {
            let (region, tail) = (&rest[..i], &rest[i + 1..]);
            let Some((account, resource)) = tail.split_once(':') else { continue };
            let resource_ok =
                ["key/", "alias/"].iter().any(|p| resource.strip_prefix(p).is_some_and(|r| !r.is_empty()));
            if !region.is_empty() && !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) && resource_ok {
                return Some(region);
            }
        }
        None
    }

    /// How sops names the key in messages (its ARN, `+role` when one is assumed).
    #[must_use]
    pub fn name(&self) -> String {
        if self.role.is_empty() { self.arn.clone() } else { format!("{}+{}", self.arn, self.role) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(arn: &str) -> KmsKey {
        KmsKey { arn: arn.into(), ..KmsKey::default() }
    }

    #[test]
    fn regions_from_arns_as_sops() {
        assert_eq!(key("arn:aws:kms:us-west-2:107501996527:key/612d5f0p").region(), Some("us-west-2"));
        assert_eq!(key("arn:aws-cn:kms:cn-north-1:1:alias/x").region(), Some("cn-north-1"));
        assert_eq!(key("arn:aws-us-gov:kms:us-gov-west-1:12:key/a:b").region(), Some("us-gov-west-1"));
        assert_eq!(key("arn:aws:kms:us-west-2:acct:key/x").region(), None);
        assert_eq!(key("arn:aws:kms:us-west-2:1:key/").region(), None);
        assert_eq!(key("arn:aws:s3:us-west-2:1:key/x").region(), None);
        assert_eq!(key("not an arn").region(), None);
    }

    #[test]
    fn credentials_parse_and_stay_out_of_debug() {
        let c =
            Credentials::from_yaml(b"aws_access_key_id: AKID\naws_secret_access_key: SECRETKEY\nother: 1\n").unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.secret_access_key, "SECRETKEY");
        assert!(c.session_token.is_empty());
        assert!(!format!("{c:?}").contains("SECRETKEY"));
        let err = Credentials::from_yaml(b"aws_access_key_id: [SECRETKEY\n").unwrap_err();
        assert!(err.starts_with("failed to unmarshal AWS credentials file"), "{err}");
        assert!(!err.contains("SECRETKEY"));
    }

    #[test]
    fn credentials_from_an_environment() {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("s".to_owned()),
            _ => None,
        };
        assert_eq!(Credentials::from_env(env).unwrap().access_key_id, "AKID");
        assert!(Credentials::from_env(|_| None).is_none());
    }
}
