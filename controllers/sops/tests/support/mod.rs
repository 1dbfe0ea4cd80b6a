//! The real `sops` CLI (built by `hack/build-sops`) and throwaway keys for the oracle tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use eddy_sops::Keys;

/// The sops v3.13.3 binary; the test fails (never skips) when it cannot be built.
pub fn sops_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-sops");
        let out = Command::new(&script).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "hack/build-sops failed, so the sops oracle is unavailable:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).expect("path is UTF-8").trim())
    })
}

/// A throwaway age identity: its `AGE-SECRET-KEY-1…` string and `age1…` recipient.
pub struct AgeKey {
    pub identity: String,
    pub recipient: String,
}

/// A deterministic age identity from a seed byte (test keys only).
pub fn age_key(seed: u8) -> AgeKey {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(17);
    }
    let (identity, recipient) = eddy_sops::age_key_from_secret(bytes);
    AgeKey { identity, recipient }
}

/// Keys holding the given age identities.
pub fn age_keys(ids: &[&AgeKey]) -> Keys {
    let text: Vec<&str> = ids.iter().map(|k| k.identity.as_str()).collect();
    let mut data = BTreeMap::new();
    data.insert("identity.agekey".to_owned(), format!("# test keys\n{}\n", text.join("\n")).into_bytes());
    Keys::from_secret_data(&data).expect("age keys import")
}

/// A sandbox for running sops: its own HOME/XDG dirs so no user key or config is picked up.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(sops_bin());
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("GNUPGHOME", self.path().join("gnupg"));
        cmd
    }

    /// `sops --encrypt` of `plain` (written as `name`) with extra arguments; returns the output.
    pub fn encrypt(&self, name: &str, plain: &[u8], args: &[&str]) -> Vec<u8> {
        let file = self.path().join(name);
        std::fs::write(&file, plain).expect("write plaintext");
        let out = self.command().arg("--encrypt").args(args).arg(&file).output().expect("run sops");
        assert!(out.status.success(), "sops --encrypt failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// `sops --decrypt` of `encrypted` (written as `name`) with `SOPS_AGE_KEY`.
    pub fn decrypt(&self, name: &str, encrypted: &[u8], age_identity: &str) -> Vec<u8> {
        let file = self.path().join(format!("enc-{name}"));
        std::fs::write(&file, encrypted).expect("write ciphertext");
        let ext = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("");
        let kind = match ext {
            "yaml" | "yml" => "yaml",
            "json" => "json",
            "env" => "dotenv",
            "ini" => "ini",
            _ => "binary",
        };
        let out = self
            .command()
            .env("SOPS_AGE_KEY", age_identity)
            .args(["--decrypt", "--input-type", kind, "--output-type", kind])
            .arg(&file)
            .output()
            .expect("run sops");
        assert!(out.status.success(), "sops --decrypt failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Generates an OpenPGP key with gpg in the sandbox's GNUPGHOME; returns its fingerprint
    /// and armored secret key.
    pub fn gpg_key(&self, uid: &str) -> (String, String) {
        let home = self.path().join("gnupg");
        std::fs::create_dir_all(&home).expect("gnupg home");
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
                .args(args)
                .output()
                .expect("gpg is installed (hack/ensure-deps)");
            assert!(out.status.success(), "gpg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        gpg(&["--quick-gen-key", uid, "future-default", "default", "never"]);
        let listing = String::from_utf8(gpg(&["--with-colons", "--list-secret-keys", uid])).expect("utf-8");
        let fp = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned()))
            .expect("fingerprint");
        let armored = String::from_utf8(gpg(&["--armor", "--export-secret-keys", &fp])).expect("utf-8");
        (fp, armored)
    }
}
