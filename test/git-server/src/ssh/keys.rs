//! SSH key pairs for clients of the test SSH server, made by `ssh-keygen`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::process::{DEFAULT_TIMEOUT, run};

/// The algorithm of an [`SshKeyPair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshKeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ssh-rsa`, 3072 bits (signatures use rsa-sha2-256/512).
    Rsa,
    /// `ecdsa-sha2-nistp256`.
    Ecdsa,
}

impl SshKeyType {
    fn keygen_type(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Rsa => "rsa",
            Self::Ecdsa => "ecdsa",
        }
    }
}

/// The file format of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SshKeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (ssh-keygen's default).
    #[default]
    OpenSsh,
    /// PEM (`-----BEGIN RSA PRIVATE KEY-----` / `EC PRIVATE KEY`); not for ed25519, which
    /// ssh-keygen writes in the OpenSSH format only.
    Pem,
}

/// A client key pair in a temporary directory. Debug output leaves out the private key and
/// the passphrase.
pub struct SshKeyPair {
    dir: tempfile::TempDir,
    key_type: SshKeyType,
    private_key_path: PathBuf,
    private_key: String,
    public_key: String,
    passphrase: Option<String>,
}

impl fmt::Debug for SshKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshKeyPair")
            .field("key_type", &self.key_type)
            .field("private_key_path", &self.private_key_path)
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SshKeyPair {
    /// Generates an unencrypted key pair in the OpenSSH format.
    ///
    /// # Errors
    ///
    /// [`Error::ToolMissing`] without ssh-keygen; command failures and timeouts.
    pub fn generate(key_type: SshKeyType) -> Result<Self> {
        Self::generate_with(key_type, None, SshKeyFormat::OpenSsh)
    }

    /// Generates a key pair, encrypted with `passphrase` when given, in `format`.
    ///
    /// # Errors
    ///
    /// As [`Self::generate`]; [`Error::InvalidArgument`] for an ed25519 key in PEM.
    pub fn generate_with(key_type: SshKeyType, passphrase: Option<&str>, format: SshKeyFormat) -> Result<Self> {
        if key_type == SshKeyType::Ed25519 && format == SshKeyFormat::Pem {
            return Err(Error::InvalidArgument("ssh-keygen cannot write ed25519 keys as PEM".to_owned()));
        }
        let dir = tempfile::Builder::new()
            .prefix("eddy-sshkey")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory", e))?;
        let private_key_path = dir.path().join(format!("id_{}", key_type.keygen_type()));
        keygen_with(&private_key_path, key_type.keygen_type(), passphrase, "eddy-test-client", format)?;
        let private_key = std::fs::read_to_string(&private_key_path)
            .map_err(|e| Error::io("reading the generated private key", e))?;
        let public = std::fs::read_to_string(private_key_path.with_extension("pub"))
            .map_err(|e| Error::io("reading the generated public key", e))?;
        let public_key = public.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        Ok(Self { dir, key_type, private_key_path, private_key, public_key, passphrase: passphrase.map(str::to_owned) })
    }

    /// The key's algorithm.
    #[must_use]
    pub fn key_type(&self) -> SshKeyType {
        self.key_type
    }

    /// The private key file (mode 0600), for `ssh -i`.
    #[must_use]
    pub fn private_key_path(&self) -> &Path {
        &self.private_key_path
    }

    /// The private key file's contents (what Flux's `identity` Secret key holds). Secret.
    #[must_use]
    pub fn private_key(&self) -> &str {
        &self.private_key
    }

    /// The public key, `ssh-ed25519 AAAA…` (no comment), as in `authorized_keys`.
    #[must_use]
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The passphrase, if the private key is encrypted. Secret.
    #[must_use]
    pub fn passphrase(&self) -> Option<&str> {
        self.passphrase.as_deref()
    }

    /// The temporary directory holding the key files.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs `ssh-keygen` to write a `key_type` key to `path` (and `path.pub`).
pub(crate) fn keygen(path: &Path, key_type: &str, passphrase: Option<&str>, comment: &str) -> Result<()> {
    keygen_with(path, key_type, passphrase, comment, SshKeyFormat::OpenSsh)
}

fn keygen_with(
    path: &Path,
    key_type: &str,
    passphrase: Option<&str>,
    comment: &str,
    format: SshKeyFormat,
) -> Result<()> {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", key_type, "-C", comment, "-N", passphrase.unwrap_or_default(), "-f"]).arg(path);
    if key_type == "rsa" {
        cmd.args(["-b", "3072"]);
    }
    if format == SshKeyFormat::Pem {
        cmd.args(["-m", "PEM"]);
    }
    run(&mut cmd, "ssh-keygen", None, DEFAULT_TIMEOUT).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::ToolMissing { tool: "ssh-keygen", path: "PATH".to_owned() }
        }
        other => other,
    })?;
    Ok(())
}
