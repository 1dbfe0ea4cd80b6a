//! What every scenario of a run shares besides the clusters: the Git servers (one open, one
//! with basic auth), the OpenPGP keys that sign commits and tags (right and wrong), the age and
//! OpenPGP keys SOPS files are encrypted for (right and wrong), and the placeholders that put
//! them into a scenario's text.
//!
//! Key material only goes into the repositories and Secrets of the scenarios (base64 in the
//! YAML given to kubectl on stdin); it is never logged.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use eddy_test_git::{HttpGitServer, SigningKeys};

use crate::error::{Error, Result};
use crate::scenario::Encrypt;

/// The basic-auth user of the authenticated Git server.
pub const GIT_USER: &str = "flux";
/// Its password (a test credential; the wrong one is anything else).
pub const GIT_PASSWORD: &str = "right-password";

/// The run's shared servers and keys.
pub struct Fixtures {
    /// The open Git server's base URL.
    pub git: String,
    /// The basic-auth Git server (same root), kept alive for the run.
    pub auth_server: HttpGitServer,
    /// Signs the scenarios' signed commits and tags.
    pub signing: SigningKeys,
    /// Another key: verification with it must fail.
    pub wrong_signing: SigningKeys,
    age_identity: String,
    age_recipient: String,
    wrong_age_identity: String,
    pgp: tempfile::TempDir,
    pgp_fingerprint: String,
    pgp_secret: String,
    sops: PathBuf,
}

impl std::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixtures").field("git", &self.git).field("sops", &self.sops).finish_non_exhaustive()
    }
}

/// What a scenario's text may name besides the fixtures: its namespace, the run token, its
/// repository and its labelled commits.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The scenario's namespace.
    pub ns: String,
    /// The run token.
    pub run: String,
    /// The scenario's repository name, without `.git`.
    pub repo: String,
    /// Labelled commits: (label, commit ID).
    pub commits: Vec<(String, String)>,
}

impl Fixtures {
    /// Starts the authenticated server on `root` and makes the keys; `git` is the open
    /// server's base URL, `sops` the sops binary.
    ///
    /// # Errors
    /// A server, gpg or key generation failed.
    pub fn new(root: &Path, git: String, sops: PathBuf) -> Result<Self> {
        let auth_server = HttpGitServer::builder(root).basic_auth(GIT_USER, GIT_PASSWORD).start()?;
        let signing = SigningKeys::generate()?;
        let wrong_signing = SigningKeys::generate()?;
        let (age_identity, age_recipient) = eddy_sops::age_key_from_secret(rand::random());
        let (wrong_age_identity, _) = eddy_sops::age_key_from_secret(rand::random());
        let pgp = tempfile::tempdir().map_err(|source| Error::Io { path: "tempdir".into(), source })?;
        let (pgp_fingerprint, pgp_secret) = gpg_key(pgp.path())?;
        Ok(Self {
            git,
            auth_server,
            signing,
            wrong_signing,
            age_identity,
            age_recipient,
            wrong_age_identity,
            pgp,
            pgp_fingerprint,
            pgp_secret,
            sops,
        })
    }

    /// Fills every placeholder of `text`: `{ns}`, `{run}`, `{repo}`, `{git}`, `{auth_git}`,
    /// `{commit:LABEL}`, `{age_recipient}`, and the base64 of key material
    /// (`{age_identity_b64}`, `{wrong_age_identity_b64}`, `{pgp_secret_b64}`,
    /// `{pgp_public_b64}`, `{wrong_pgp_public_b64}`, `{git_user_b64}`, `{git_password_b64}`).
    #[must_use]
    pub fn fill(&self, text: &str, cx: &Context) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let mut s = text
            .replace("{ns}", &cx.ns)
            .replace("{run}", &cx.run)
            .replace("{repo}", &cx.repo)
            .replace("{git}", &self.git)
            .replace("{auth_git}", &self.auth_server.url())
            .replace("{age_recipient}", &self.age_recipient);
        for (label, id) in &cx.commits {
            s = s.replace(&format!("{{commit:{label}}}"), id);
        }
        let secrets: [(&str, &str); 7] = [
            ("{age_identity_b64}", &self.age_identity),
            ("{wrong_age_identity_b64}", &self.wrong_age_identity),
            ("{pgp_secret_b64}", &self.pgp_secret),
            ("{pgp_public_b64}", self.signing.openpgp_public_key()),
            ("{wrong_pgp_public_b64}", self.wrong_signing.openpgp_public_key()),
            ("{git_user_b64}", GIT_USER),
            ("{git_password_b64}", GIT_PASSWORD),
        ];
        for (k, v) in secrets {
            if s.contains(k) {
                s = s.replace(k, &b64(v));
            }
        }
        s
    }

    /// Encrypts a YAML file's `data`/`stringData` with the real sops, for the run's age
    /// recipient or OpenPGP key.
    ///
    /// # Errors
    /// sops fails.
    pub fn encrypt(&self, plain: &str, how: Encrypt) -> Result<String> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io { path: "tempdir".into(), source })?;
        let file = dir.path().join("secret.yaml");
        std::fs::write(&file, plain).map_err(|source| Error::Io { path: file.display().to_string(), source })?;
        let mut cmd = Command::new(&self.sops);
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("GNUPGHOME", self.pgp.path())
            .args(["--encrypt", "--encrypted-regex", "^(data|stringData)$"]);
        match how {
            Encrypt::Age => cmd.args(["--age", &self.age_recipient]),
            Encrypt::Pgp => cmd.args(["--pgp", &self.pgp_fingerprint]),
        };
        let out = cmd.arg(&file).output().map_err(|source| Error::Spawn { program: "sops".into(), source })?;
        if !out.status.success() {
            return Err(Error::Tool { what: "sops --encrypt", stderr: String::from_utf8_lossy(&out.stderr).into() });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Generates an OpenPGP key with an encryption subkey in `home`; returns its fingerprint and
/// armored secret key.
fn gpg_key(home: &Path) -> Result<(String, String)> {
    let gpg = |args: &[&str]| -> Result<String> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home)
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .map_err(|source| Error::Spawn { program: "gpg".into(), source })?;
        if !out.status.success() {
            return Err(Error::Tool { what: "gpg", stderr: String::from_utf8_lossy(&out.stderr).into() });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let uid = "Flux differential <sops@eddy.test>";
    gpg(&["--quick-gen-key", uid, "future-default", "default", "never"])?;
    let listing = gpg(&["--with-colons", "--list-secret-keys", uid])?;
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned()))
        .ok_or(Error::Tool { what: "gpg --list-secret-keys", stderr: "no fingerprint listed".into() })?;
    let armored = gpg(&["--armor", "--export-secret-keys", &fingerprint])?;
    Ok((fingerprint, armored))
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.pgp.path()).args(["--kill", "all"]).output();
    }
}
