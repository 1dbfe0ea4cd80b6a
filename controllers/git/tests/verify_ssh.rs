//! SSH (`sshsig`) verification of commits and tags signed by git with `gpg.format=ssh`,
//! each verdict cross-checked with `git verify-commit` / `git verify-tag` running
//! ssh-keygen against an allowed_signers file with the same trusted keys.

mod verify_support;

use std::path::PathBuf;
use std::process::Command;

use eddy_git::verify::{KeyFormat, Keyring, VerifyError, split_commit, verify_raw_commit, verify_raw_tag};
use verify_support::{Repo, SshKey, replace_once, run_ok, secret};

/// A repository and a directory for keys and allowed_signers files.
struct Fixture {
    repo: Repo,
    keys: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self { repo: Repo::new(), keys: tempfile::tempdir().expect("tempdir") }
    }

    fn key(&self, name: &str, kind: &str) -> SshKey {
        SshKey::generate(self.keys.path(), name, kind)
    }

    /// An allowed_signers file trusting `keys` for the committer's address.
    fn allowed_signers(&self, name: &str, keys: &[&SshKey]) -> PathBuf {
        let path = self.keys.path().join(name);
        let lines: String = keys.iter().map(|key| format!("eddy@example.com {}", key.public)).collect();
        std::fs::write(&path, lines).expect("allowed signers");
        path
    }

    fn commit(&self, message: &str, key: &SshKey) -> String {
        let config = key.git_config();
        let config: Vec<&str> = config.iter().map(String::as_str).collect();
        self.repo.commit(message, &config, &["-S"])
    }

    fn tag(&self, name: &str, key: &SshKey) -> String {
        let config = key.git_config();
        let config: Vec<&str> = config.iter().map(String::as_str).collect();
        self.repo.tag(name, &config, &["-s"])
    }

    /// A commit object whose `gpgsig` is `key`'s signature of the unsigned commit `base`,
    /// made in `namespace` with `extra` ssh-keygen options.
    fn crafted_commit(&self, base: &str, key: &SshKey, namespace: &str, extra: &[&str]) -> String {
        let payload = self.repo.cat_file("commit", base);
        let signature = key.sign(namespace, &payload, extra);
        let header = format!("gpgsig {}\n\n", signature.trim_end().replace('\n', "\n "));
        let raw = replace_once(&payload, b"\n\n", format!("\n{header}").as_bytes());
        let id = self.repo.write_object("commit", &raw);
        assert_eq!(split_commit(&self.repo.cat_file("commit", &id)).payload, payload);
        id
    }
}

/// `ssh-keygen -l`'s SHA256 fingerprint of a public key.
fn fingerprint(key: &SshKey) -> String {
    let out = run_ok(
        Command::new("ssh-keygen").args(["-l", "-E", "sha256", "-f"]).arg(format!("{}.pub", key.private.display())),
        b"",
    );
    let listing = String::from_utf8(out).expect("utf-8");
    listing.split_whitespace().nth(1).expect("fingerprint").to_owned()
}

#[test]
fn ssh_signed_commits_and_tags_verify_with_the_key_that_made_them() {
    let fx = Fixture::new();
    let dev = fx.key("dev", "ed25519");
    let other = fx.key("other", "ed25519");
    let commit = fx.commit("ssh signed", &dev);
    let tag = fx.tag("v1.0.0", &dev);
    let raw_commit = fx.repo.cat_file("commit", &commit);
    let raw_tag = fx.repo.cat_file("tag", &tag);
    let dev_fingerprint = fingerprint(&dev);
    let dev_key = dev.public.trim();

    for data in [
        // authorized_keys lines, one key per value and several keys per value.
        secret(&[("dev.sshpub", dev_key)]),
        secret(&[("team.sshpub", &format!("{}\n{dev_key}\n", other.public.trim()))]),
        secret(&[("a.sshpub", other.public.trim()), ("b.sshpub", dev_key)]),
        // authorized_keys options, and allowed_signers principals.
        secret(&[("dev.sshpub", &format!("no-pty,from=\"10.0.0.0/8\" {dev_key}"))]),
        secret(&[("dev.sshpub", &format!("eddy@example.com {dev_key}"))]),
    ] {
        let keyring = Keyring::from_secret_data(&data);
        let verified = verify_raw_commit(&keyring, &raw_commit).expect("commit verifies");
        assert_eq!(verified.format, KeyFormat::Ssh);
        assert_eq!(verified.key_id, dev_fingerprint);
        assert_eq!(verified.fingerprint, dev_fingerprint);
        let verified = verify_raw_tag(&keyring, &raw_tag).expect("tag verifies");
        assert_eq!(verified.key_id, dev_fingerprint);
    }

    let allowed = fx.allowed_signers("allowed", &[&other, &dev]);
    assert!(fx.repo.git_verifies("commit", &commit, None, Some(&allowed)));
    assert!(fx.repo.git_verifies("tag", &tag, None, Some(&allowed)));
}

#[test]
fn ecdsa_and_rsa_keys_and_both_hashes_verify() {
    let fx = Fixture::new();
    let base = fx.repo.commit("unsigned base", &[], &[]);
    for kind in ["ecdsa", "rsa", "ed25519"] {
        let key = fx.key(kind, kind);
        let keyring = Keyring::from_secret_data(&secret(&[("key.sshpub", &key.public)]));
        let allowed = fx.allowed_signers(&format!("{kind}.allowed"), &[&key]);
        let commit = fx.commit(&format!("signed with {kind}"), &key);
        let crafted = fx.crafted_commit(&base, &key, "git", &["-O", "hashalg=sha256"]);
        for id in [&commit, &crafted] {
            let verified = verify_raw_commit(&keyring, &fx.repo.cat_file("commit", id));
            assert_eq!(verified.map(|v| v.key_id), Ok(fingerprint(&key)), "{kind}");
            assert!(fx.repo.git_verifies("commit", id, None, Some(&allowed)), "{kind}");
        }
    }
}

#[test]
fn a_key_that_is_not_trusted_matches_nothing() {
    let fx = Fixture::new();
    let dev = fx.key("dev", "ed25519");
    let other = fx.key("other", "ed25519");
    let commit = fx.commit("ssh signed", &dev);
    let tag = fx.tag("v1", &dev);
    let keyring = Keyring::from_secret_data(&secret(&[("other.sshpub", &other.public)]));

    let error = verify_raw_commit(&keyring, &fx.repo.cat_file("commit", &commit)).expect_err("untrusted");
    assert_eq!(
        error.error,
        VerifyError::NoMatchingKey { format: KeyFormat::Ssh, signer: Some(fingerprint(&dev)), keys_tried: 1 }
    );
    assert_eq!(
        error.to_string(),
        "unable to verify Git commit SSH signature: unable to verify payload with any of the given authorized keys: no matching key\npublic key does not match"
    );
    let error = verify_raw_tag(&keyring, &fx.repo.cat_file("tag", &tag)).expect_err("untrusted");
    assert!(error.to_string().starts_with("unable to verify Git tag SSH signature: "));

    let allowed = fx.allowed_signers("allowed", &[&other]);
    assert!(!fx.repo.git_verifies("commit", &commit, None, Some(&allowed)));
    assert!(!fx.repo.git_verifies("tag", &tag, None, Some(&allowed)));
}

#[test]
fn a_signature_for_another_namespace_is_refused() {
    let fx = Fixture::new();
    let dev = fx.key("dev", "ed25519");
    let base = fx.repo.commit("unsigned base", &[], &[]);
    let good = fx.crafted_commit(&base, &dev, "git", &[]);
    let file = fx.crafted_commit(&base, &dev, "file", &[]);
    let keyring = Keyring::from_secret_data(&secret(&[("dev.sshpub", &dev.public)]));
    let allowed = fx.allowed_signers("allowed", &[&dev]);

    assert!(verify_raw_commit(&keyring, &fx.repo.cat_file("commit", &good)).is_ok());
    assert!(fx.repo.git_verifies("commit", &good, None, Some(&allowed)));

    let error = verify_raw_commit(&keyring, &fx.repo.cat_file("commit", &file)).expect_err("namespace");
    assert_eq!(error.error, VerifyError::NamespaceMismatch { namespace: "file".to_owned(), key: fingerprint(&dev) });
    assert!(error.to_string().ends_with("no matching key\nnamespace does not match"));
    assert!(!fx.repo.git_verifies("commit", &file, None, Some(&allowed)));
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let fx = Fixture::new();
    let dev = fx.key("dev", "ed25519");
    let commit = fx.commit("pay 100 EUR", &dev);
    let tag = fx.tag("v1", &dev);
    let keyring = Keyring::from_secret_data(&secret(&[("dev.sshpub", &dev.public)]));
    let allowed = fx.allowed_signers("allowed", &[&dev]);
    let tampered_commit =
        fx.repo.write_object("commit", &replace_once(&fx.repo.cat_file("commit", &commit), b"pay 100", b"pay 900"));
    let tampered_tag =
        fx.repo.write_object("tag", &replace_once(&fx.repo.cat_file("tag", &tag), b"release", b"Release"));
    let bad = VerifyError::BadSignature { format: KeyFormat::Ssh, key: fingerprint(&dev) };

    let error = verify_raw_commit(&keyring, &fx.repo.cat_file("commit", &tampered_commit)).expect_err("tampered");
    assert_eq!(error.error, bad);
    let error = verify_raw_tag(&keyring, &fx.repo.cat_file("tag", &tampered_tag)).expect_err("tampered");
    assert_eq!(error.error, bad);
    assert!(fx.repo.git_verifies("commit", &commit, None, Some(&allowed)));
    assert!(!fx.repo.git_verifies("commit", &tampered_commit, None, Some(&allowed)));
    assert!(fx.repo.git_verifies("tag", &tag, None, Some(&allowed)));
    assert!(!fx.repo.git_verifies("tag", &tampered_tag, None, Some(&allowed)));
}

#[test]
fn secrets_without_usable_ssh_keys_are_reported_as_flux_reports_them() {
    let fx = Fixture::new();
    let dev = fx.key("dev", "ed25519");
    let commit = fx.commit("ssh signed", &dev);
    let raw = fx.repo.cat_file("commit", &commit);

    // Only OpenPGP values (any name but *.sshpub is one).
    let keyring = Keyring::from_secret_data(&secret(&[("dev.pub", &dev.public)]));
    let error = verify_raw_commit(&keyring, &raw).expect_err("no SSH keys");
    assert_eq!(error.error, VerifyError::NoTrustedKeys(KeyFormat::Ssh));
    assert_eq!(
        error.to_string(),
        "SSH signature detected but no SSH public keys found in secret (keys with .sshpub suffix)"
    );

    // A malformed value fails the whole value, and is named when nothing else works.
    let broken = format!("{}\nssh-ed25519 AAAA-broken\n", dev.public.trim());
    let keyring = Keyring::from_secret_data(&secret(&[("bad.sshpub", &broken)]));
    let error = verify_raw_commit(&keyring, &raw).expect_err("malformed");
    assert!(
        matches!(&error.error, VerifyError::MalformedKey { format: KeyFormat::Ssh, secret_key, .. } if secret_key == "bad.sshpub"),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with(
            "unable to verify Git commit SSH signature: unable to parse authorized keys: unable to parse authorized key: bad.sshpub: line 2: ssh: no key found"
        ),
        "{error}"
    );
    let keyring = Keyring::from_secret_data(&secret(&[("bad.sshpub", &broken), ("good.sshpub", &dev.public)]));
    assert_eq!(verify_raw_commit(&keyring, &raw).map(|v| v.secret_key), Ok("good.sshpub".to_owned()));
    assert_eq!(keyring.malformed().len(), 1);
}
