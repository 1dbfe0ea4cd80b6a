//! Real fixtures for the signature verification tests: keys made by gpg and ssh-keygen,
//! commits and tags signed by git, and git itself (`verify-commit`, `verify-tag`) as the
//! oracle. Every command runs with a time limit; every directory is temporary.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

/// The longest any fixture command may take (RSA key generation included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `command` with stdin from `input`, killing it after [`COMMAND_TIMEOUT`].
pub fn run(command: &mut Command, input: &[u8]) -> Output {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {description}: {e}"));
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        // The program may exit without reading its input; that is not an error here.
        let _ = stdin.write_all(&input);
    });
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(COMMAND_TIMEOUT) {
        Ok(output) => output.unwrap_or_else(|e| panic!("wait {description}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            panic!("{description} took longer than {COMMAND_TIMEOUT:?}");
        }
    };
    writer.join().expect("stdin writer");
    output
}

/// Runs `command` and asserts that it succeeded; returns its stdout.
pub fn run_ok(command: &mut Command, input: &[u8]) -> Vec<u8> {
    let description = format!("{command:?}");
    let output = run(command, input);
    assert!(
        output.status.success(),
        "{description} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output.stdout
}

/// A throwaway GnuPG home with its own agent, killed on drop.
pub struct GpgHome {
    dir: TempDir,
}

impl GpgHome {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("eddy-gpg").tempdir().expect("tempdir");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn gpg(&self) -> Command {
        let mut command = Command::new("gpg");
        command.arg("--homedir").arg(self.path()).args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]);
        command
    }

    /// Generates a key (`algo`: `rsa3072`, `ed25519`, `nistp256`, …) able to sign, and
    /// returns its fingerprint. `extra` goes before `--quick-gen-key` (e.g. a faked time).
    pub fn generate(&self, uid: &str, algo: &str, expire: &str, extra: &[&str]) -> String {
        run_ok(self.gpg().args(extra).args(["--quick-gen-key", uid, algo, "sign", expire]), b"");
        self.fingerprints(uid)[0].clone()
    }

    /// Adds a signing subkey to `fingerprint`'s key and returns the subkey's fingerprint.
    pub fn add_signing_subkey(&self, fingerprint: &str, algo: &str) -> String {
        let before = self.fingerprints(fingerprint);
        run_ok(self.gpg().args(["--quick-add-key", fingerprint, algo, "sign", "0"]), b"");
        let after = self.fingerprints(fingerprint);
        after.into_iter().find(|fpr| !before.contains(fpr)).expect("a new subkey")
    }

    /// Fingerprints of the primary key and subkeys matching `query`, primary first.
    pub fn fingerprints(&self, query: &str) -> Vec<String> {
        let listing =
            run_ok(self.gpg().args(["--with-colons", "--with-subkey-fingerprints", "--list-keys", query]), b"");
        String::from_utf8_lossy(&listing)
            .lines()
            .filter(|line| line.starts_with("fpr:"))
            .filter_map(|line| line.split(':').nth(9).map(str::to_owned))
            .collect()
    }

    /// The armoured public keys of `fingerprints`, in one block.
    pub fn export(&self, fingerprints: &[&str]) -> String {
        let out = run_ok(self.gpg().args(["--armor", "--export"]).args(fingerprints), b"");
        String::from_utf8(out).expect("armour is ASCII")
    }

    /// The armoured secret keys of `fingerprints` (made without a passphrase).
    pub fn export_secret(&self, fingerprints: &[&str]) -> String {
        let out = run_ok(self.gpg().args(["--armor", "--export-secret-keys"]).args(fingerprints), b"");
        String::from_utf8(out).expect("armour is ASCII")
    }

    /// Revokes `fingerprint` with the revocation certificate gpg made at generation.
    pub fn revoke(&self, fingerprint: &str) {
        let path = self.path().join("openpgp-revocs.d").join(format!("{fingerprint}.rev"));
        let certificate = std::fs::read_to_string(path).expect("revocation certificate");
        // gpg prefixes the armour with ':' so that it is not imported by accident.
        let certificate =
            certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----");
        run_ok(self.gpg().arg("--import"), certificate.as_bytes());
    }

    /// A fresh home trusting only `armoured` keys, for the oracle.
    pub fn trusting(armoured: &[&str]) -> Self {
        let home = Self::new();
        for keys in armoured {
            run_ok(home.gpg().arg("--import"), keys.as_bytes());
        }
        home
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = run(Command::new("gpgconf").arg("--homedir").arg(self.path()).args(["--kill", "all"]), b"");
    }
}

/// An SSH key pair made by ssh-keygen.
pub struct SshKey {
    pub private: PathBuf,
    pub public: String,
}

impl SshKey {
    pub fn generate(dir: &Path, name: &str, kind: &str) -> Self {
        let private = dir.join(name);
        run_ok(Command::new("ssh-keygen").args(["-q", "-t", kind, "-N", "", "-C", name, "-f"]).arg(&private), b"");
        let public = std::fs::read_to_string(format!("{}.pub", private.display())).expect("public key");
        Self { private, public }
    }

    /// The `-c` pairs that make git sign with this SSH key.
    pub fn git_config(&self) -> Vec<String> {
        vec!["gpg.format=ssh".to_owned(), format!("user.signingkey={}", self.private.display())]
    }

    /// An armoured sshsig signature of `payload` in `namespace`; `extra` options go
    /// before the key (e.g. `["-O", "hashalg=sha256"]`).
    pub fn sign(&self, namespace: &str, payload: &[u8], extra: &[&str]) -> String {
        let out = run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", namespace])
                .args(extra)
                .arg("-f")
                .arg(&self.private),
            payload,
        );
        String::from_utf8(out).expect("armour is ASCII")
    }
}

/// A git repository in a temporary directory, isolated from the user's configuration.
pub struct Repo {
    dir: TempDir,
    pub gnupg_home: Option<PathBuf>,
}

impl Repo {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("eddy-repo").tempdir().expect("tempdir");
        let repo = Self { dir, gnupg_home: None };
        run_ok(&mut repo.git(&["init", "-q", "-b", "main"]), b"");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `git -C <repo> <args>` with a fixed identity and no user or system configuration.
    pub fn git(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", self.path())
            .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
            .arg("-C")
            .arg(self.path())
            .args(["-c", "user.name=Eddy Test", "-c", "user.email=eddy@example.com"]);
        if let Some(home) = &self.gnupg_home {
            command.env("GNUPGHOME", home);
        }
        command.args(args);
        command
    }

    /// Commits a new file, with `sign` options (e.g. `["-S<fpr>"]`, or `[]` for unsigned)
    /// and `config` (`-c` pairs); returns the commit id.
    pub fn commit(&self, message: &str, config: &[&str], sign: &[&str]) -> String {
        let name = format!("file-{}", self.rev_count());
        std::fs::write(self.path().join(&name), message).expect("write file");
        run_ok(&mut self.git(&["add", &name]), b"");
        let mut args = Vec::new();
        for pair in config {
            args.extend(["-c", pair]);
        }
        args.extend(["commit", "-q", "-m", message]);
        args.extend(sign);
        run_ok(&mut self.git(&args), b"");
        self.rev_parse("HEAD")
    }

    /// Creates an annotated tag on HEAD with `sign` options (`["-s"]`, `["-u", key]`, `[]`).
    pub fn tag(&self, name: &str, config: &[&str], sign: &[&str]) -> String {
        let mut args = Vec::new();
        for pair in config {
            args.extend(["-c", pair]);
        }
        args.extend(["tag", "-a", "-m", "release notes", name]);
        args.extend(sign);
        run_ok(&mut self.git(&args), b"");
        self.rev_parse(&format!("refs/tags/{name}"))
    }

    fn rev_count(&self) -> usize {
        let out = run(&mut self.git(&["rev-list", "--all", "--count"]), b"");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
    }

    pub fn rev_parse(&self, rev: &str) -> String {
        let out = run_ok(&mut self.git(&["rev-parse", rev]), b"");
        String::from_utf8(out).expect("hex").trim().to_owned()
    }

    /// The raw object, as `git cat-file <kind> <id>` prints it.
    pub fn cat_file(&self, kind: &str, id: &str) -> Vec<u8> {
        run_ok(&mut self.git(&["cat-file", kind, id]), b"")
    }

    /// Writes `raw` as an object of `kind` and returns its id.
    pub fn write_object(&self, kind: &str, raw: &[u8]) -> String {
        let out = run_ok(&mut self.git(&["hash-object", "-t", kind, "-w", "--literally", "--stdin"]), raw);
        String::from_utf8(out).expect("hex").trim().to_owned()
    }

    /// The oracle: does `git verify-<kind> <id>` accept the signature, trusting the keys
    /// of `gpg` (OpenPGP) and of the `allowed_signers` file (SSH)?
    pub fn git_verifies(&self, kind: &str, id: &str, gpg: Option<&GpgHome>, allowed_signers: Option<&Path>) -> bool {
        let mut args = Vec::new();
        let allowed;
        if let Some(path) = allowed_signers {
            allowed = format!("gpg.ssh.allowedSignersFile={}", path.display());
            args.extend(["-c", allowed.as_str()]);
        }
        let verb = format!("verify-{kind}");
        args.extend([verb.as_str(), "--raw", id]);
        let mut command = self.git(&args);
        match gpg {
            Some(home) => command.env("GNUPGHOME", home.path()),
            None => command.env("GNUPGHOME", self.path().join("no-gnupg")),
        };
        run(&mut command, b"").status.success()
    }
}

/// A Secret's `data` from (key, value) pairs.
pub fn secret(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), value.as_bytes().to_vec())).collect()
}

/// Replaces the first occurrence of `from` in `raw` (which must contain it) with `to`.
pub fn replace_once(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = raw.windows(from.len()).position(|window| window == from).expect("pattern present");
    let mut out = raw[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&raw[at + from.len()..]);
    out
}
