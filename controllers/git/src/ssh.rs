//! Git over SSH with OpenSSH's `ssh`, configured only by what the Secret says.
//!
//! For each operation an [`SshSession`] makes a private temporary directory (mode 0700) holding
//! the private key (0600, decrypted in process with the `ssh-key` crate when it has a
//! passphrase, so `ssh` never prompts) and the `known_hosts` lines, and gives gix an `ssh`
//! command line that ignores every user or system configuration:
//!
//! `ssh -F /dev/null -o StrictHostKeyChecking=yes -o UserKnownHostsFile=<dir>/known_hosts
//! -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityFile=<dir>/identity
//! -o IdentityAgent=none -o BatchMode=yes …`
//!
//! An unknown or changed host key is therefore always refused. `ssh` logs to a file in the
//! directory (`-E`), which is read to tell a refused host key or refused key from other failures.
//! The wrapping shell records `ssh`'s pid so the operation's watchdog can kill it at the
//! deadline. The directory and everything in it are removed when the session ends.
//!
//! Keys in OpenSSH format (encrypted or not) and PEM keys (PKCS#1, PKCS#8, SEC1; legacy
//! `Proc-Type: 4,ENCRYPTED` ones decrypted by [`crate::pem`]) are supported; encrypted PKCS#8 is
//! refused, as by Go's `x/crypto/ssh`, with a message telling how to convert the key.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::{AuthError, AuthOptions};
use crate::cancel::{Killable, Watchdog};
use crate::error::GitError;

const OPENSSH_HEADER: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";

/// Whether `identity` is a private key that needs a passphrase.
pub(crate) fn identity_is_encrypted(identity: &[u8]) -> bool {
    let text = String::from_utf8_lossy(identity);
    if text.contains(OPENSSH_HEADER) {
        return ssh_key::PrivateKey::from_openssh(text.trim()).is_ok_and(|k| k.is_encrypted());
    }
    text.contains("Proc-Type: 4,ENCRYPTED") || text.contains("BEGIN ENCRYPTED PRIVATE KEY")
}

/// Turns the Secret's `identity` into a key file `ssh` can read without prompting.
fn prepare_identity(identity: &[u8], passphrase: &str) -> Result<Vec<u8>, AuthError> {
    let text = String::from_utf8_lossy(identity);
    if text.contains(OPENSSH_HEADER) {
        let key = ssh_key::PrivateKey::from_openssh(text.trim())
            .map_err(|e| AuthError::InvalidIdentity(format!("ssh: {e}")))?;
        let key = if key.is_encrypted() {
            if passphrase.is_empty() {
                return Err(AuthError::PassphraseMissing);
            }
            key.decrypt(passphrase).map_err(|_| AuthError::PassphraseIncorrect)?
        } else {
            key
        };
        let pem =
            key.to_openssh(ssh_key::LineEnding::LF).map_err(|e| AuthError::InvalidIdentity(format!("ssh: {e}")))?;
        return Ok(pem.as_bytes().to_vec());
    }
    if crate::pem::is_legacy_encrypted(&text) {
        if passphrase.is_empty() {
            return Err(AuthError::PassphraseMissing);
        }
        return crate::pem::decrypt_legacy(&text, passphrase);
    }
    if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        // Go's x/crypto/ssh does not read encrypted PKCS#8 either.
        return Err(AuthError::InvalidIdentity(
            "encrypted PKCS#8 keys are not supported; convert the key to the OpenSSH format (ssh-keygen -p -f KEY)"
                .to_owned(),
        ));
    }
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
        let mut out = text.trim().as_bytes().to_vec();
        out.push(b'\n');
        return Ok(out);
    }
    Err(AuthError::InvalidIdentity("ssh: no key found".to_owned()))
}

/// A temporary `ssh` configuration for one operation.
pub(crate) struct SshSession {
    dir: tempfile::TempDir,
    command: String,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession").field("dir", &self.dir.path()).finish_non_exhaustive()
    }
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

impl SshSession {
    /// Writes the key and `known_hosts` and builds the command. `host_key_alias` makes `ssh`
    /// check the host key under that name (used when it connects through a local relay).
    pub(crate) fn new(auth: &AuthOptions, watchdog: &Watchdog, host_key_alias: Option<&str>) -> Result<Self, GitError> {
        let identity = prepare_identity(&auth.identity, &auth.password)?;
        let dir = tempfile::Builder::new()
            .prefix("eddy-ssh-")
            .tempdir()
            .map_err(|e| GitError::local("unable to create the ssh directory", e))?;
        let io = |e: std::io::Error| GitError::local("unable to write the ssh configuration", e);
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(io)?;
        let identity_path = dir.path().join("identity");
        write_private(&identity_path, &identity).map_err(io)?;
        let known_hosts = dir.path().join("known_hosts");
        write_private(&known_hosts, &auth.known_hosts).map_err(io)?;
        let pid_file = dir.path().join("pid");
        let log_file = dir.path().join("log");
        // A little longer than the time left, so that the watchdog (and its Timeout error) ends a
        // hung connection first; capped so a dead host fails as such within two minutes.
        let connect_timeout = (watchdog.remaining() + Duration::from_secs(2)).as_secs().clamp(1, 120);
        let mut command = format!("echo $$ > {}; exec ssh -F /dev/null", quote(&pid_file));
        let options: Vec<(&str, String)> = vec![
            ("StrictHostKeyChecking", "yes".into()),
            ("UserKnownHostsFile", quote(&known_hosts)),
            ("GlobalKnownHostsFile", "/dev/null".into()),
            ("IdentitiesOnly", "yes".into()),
            ("IdentityFile", quote(&identity_path)),
            ("IdentityAgent", "none".into()),
            ("BatchMode", "yes".into()),
            ("PreferredAuthentications", "publickey".into()),
            ("PasswordAuthentication", "no".into()),
            ("KbdInteractiveAuthentication", "no".into()),
            ("CheckHostIP", "no".into()),
            ("UpdateHostKeys", "no".into()),
            ("ControlMaster", "no".into()),
            ("ControlPath", "none".into()),
            ("ForwardAgent", "no".into()),
            ("ClearAllForwardings", "yes".into()),
            ("ConnectTimeout", connect_timeout.to_string()),
            ("ServerAliveInterval", "15".into()),
            ("ServerAliveCountMax", "3".into()),
            ("LogLevel", "ERROR".into()),
        ];
        for (k, v) in options {
            let _ = write!(command, " -o {k}={v}");
        }
        if let Some(alias) = host_key_alias {
            let _ = write!(command, " -o 'HostKeyAlias={}'", alias.replace('\'', ""));
        }
        let _ = write!(command, " -E {}", quote(&log_file));
        watchdog.register(Killable { pid_file, marker: dir.path().display().to_string() });
        Ok(Self { dir, command })
    }

    /// The options gix uses to start `ssh`.
    pub(crate) fn connect_options(&self) -> gix::protocol::transport::client::blocking_io::ssh::connect::Options {
        gix::protocol::transport::client::blocking_io::ssh::connect::Options {
            command: Some(self.command.clone().into()),
            disallow_shell: false,
            kind: Some(gix::protocol::transport::client::blocking_io::ssh::ProgramKind::Ssh),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// Explains a failed operation from `ssh`'s log, if it says why.
    pub(crate) fn explain_failure(&self, url: &str) -> Option<GitError> {
        let log = std::fs::read_to_string(self.log_path()).ok()?;
        let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let find = |needles: &[&str]| lines.iter().find(|l| needles.iter().any(|n| l.contains(n))).copied();
        if let Some(line) = find(&[
            "Host key verification failed",
            "host key is known",
            "REMOTE HOST IDENTIFICATION HAS CHANGED",
            "Host key for",
        ]) {
            let detail = find(&["host key is known", "Host key for", "REMOTE HOST"]).unwrap_or(line);
            return Some(GitError::HostKeyRejected { url: url.to_owned(), detail: detail.to_owned() });
        }
        if let Some(line) = find(&["Permission denied"]) {
            return Some(GitError::AuthenticationRefused { url: url.to_owned(), detail: line.to_owned() });
        }
        lines.last().map(|l| GitError::Transport { url: url.to_owned(), message: format!("ssh: {l}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keygen(dir: &Path, kind: &str, passphrase: &str, format: Option<&str>) -> Vec<u8> {
        let path = dir.join(format!("key-{kind}-{}", passphrase.len()));
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "test", "-f"]).arg(&path);
        if let Some(f) = format {
            cmd.args(["-m", f]);
        }
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        let status = cmd.status().expect("ssh-keygen runs");
        assert!(status.success());
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn openssh_keys_are_decrypted_in_process() {
        let tmp = tempfile::tempdir().unwrap();
        let plain = keygen(tmp.path(), "ed25519", "", None);
        assert!(!identity_is_encrypted(&plain));
        assert!(prepare_identity(&plain, "").is_ok());
        let enc = keygen(tmp.path(), "ed25519", "correct horse", None);
        assert!(identity_is_encrypted(&enc));
        assert_eq!(prepare_identity(&enc, ""), Err(AuthError::PassphraseMissing));
        assert_eq!(prepare_identity(&enc, "wrong"), Err(AuthError::PassphraseIncorrect));
        let out = prepare_identity(&enc, "correct horse").unwrap();
        // The decrypted key is the same key: ssh-keygen derives the same public key from both.
        let written = tmp.path().join("decrypted");
        write_private(&written, &out).unwrap();
        let public = std::process::Command::new("ssh-keygen").arg("-y").arg("-f").arg(&written).output().unwrap();
        assert!(public.status.success(), "{}", String::from_utf8_lossy(&public.stderr));
        let expected = std::fs::read_to_string(tmp.path().join("key-ed25519-13.pub")).unwrap();
        let got = String::from_utf8_lossy(&public.stdout);
        assert_eq!(got.split_whitespace().nth(1), expected.split_whitespace().nth(1));
    }

    #[test]
    fn the_session_directory_is_private_and_removed_afterwards() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mut auth = AuthOptions::empty(crate::auth::Transport::Ssh, "h".into());
        auth.identity = keygen(tmp.path(), "ed25519", "", None);
        auth.known_hosts = b"h ssh-ed25519 AAAA".to_vec();
        let watchdog = Watchdog::start(Duration::from_secs(30), None);
        let session = SshSession::new(&auth, &watchdog, None).unwrap();
        let dir = session.dir.path().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("identity")), 0o600);
        assert_eq!(mode(&dir.join("known_hosts")), 0o600);
        assert!(session.command.contains("StrictHostKeyChecking=yes"));
        assert!(session.command.contains("-F /dev/null"));
        assert!(!format!("{session:?}").contains("PRIVATE KEY"));
        drop(session);
        assert!(!dir.exists());
    }

    #[test]
    fn pem_keys_pass_and_encrypted_pem_is_decrypted() {
        let tmp = tempfile::tempdir().unwrap();
        let pem = keygen(tmp.path(), "rsa", "", Some("PEM"));
        assert!(String::from_utf8_lossy(&pem).contains("BEGIN RSA PRIVATE KEY"));
        assert!(!identity_is_encrypted(&pem));
        assert!(prepare_identity(&pem, "").is_ok());
        let enc = keygen(tmp.path(), "rsa", "pw-pem", Some("PEM"));
        assert!(identity_is_encrypted(&enc));
        assert!(String::from_utf8_lossy(&enc).contains("DEK-Info: AES-128-CBC"));
        assert_eq!(prepare_identity(&enc, ""), Err(AuthError::PassphraseMissing));
        assert_eq!(prepare_identity(&enc, "wrong"), Err(AuthError::PassphraseIncorrect));
        let out = prepare_identity(&enc, "pw-pem").unwrap();
        // ssh-keygen reads the decrypted key without a passphrase and finds the same public key.
        let written = tmp.path().join("decrypted-pem");
        write_private(&written, &out).unwrap();
        let public = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-P")
            .arg("")
            .arg("-f")
            .arg(&written)
            .output()
            .unwrap();
        assert!(public.status.success(), "{}", String::from_utf8_lossy(&public.stderr));
        let expected = std::fs::read_to_string(tmp.path().join("key-rsa-6.pub")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&public.stdout).split_whitespace().nth(1),
            expected.split_whitespace().nth(1)
        );
        assert!(matches!(prepare_identity(b"garbage", ""), Err(AuthError::InvalidIdentity(_))));
        assert!(matches!(
            prepare_identity(
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "x"
            ),
            Err(AuthError::InvalidIdentity(_))
        ));
    }
}
