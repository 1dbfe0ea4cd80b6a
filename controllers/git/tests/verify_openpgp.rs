//! OpenPGP verification of real gpg-signed commits and tags, each verdict cross-checked
//! with `git verify-commit` / `git verify-tag` running gpg with the same trusted keys.

mod verify_support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, UNIX_EPOCH};

use eddy_git::verify::{KeyFormat, Keyring, VerifyError, split_commit, split_tag, verify_raw_commit, verify_raw_tag};
use verify_support::{GpgHome, Repo, replace_once, secret};

/// The 16-digit key ID Flux reports: the fingerprint's last 16 hex digits (v4 keys).
fn key_id(fingerprint: &str) -> &str {
    &fingerprint[fingerprint.len() - 16..]
}

fn signed_repo(gpg: &GpgHome) -> Repo {
    let mut repo = Repo::new();
    repo.gnupg_home = Some(gpg.path().to_path_buf());
    repo
}

#[test]
fn ed25519_and_rsa_signatures_verify_with_the_key_that_made_them() {
    let gpg = GpgHome::new();
    let ed = gpg.generate("Ed <ed@example.com>", "ed25519", "0", &[]);
    let rsa = gpg.generate("Rsa <rsa@example.com>", "rsa3072", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("signed by ed25519", &[], &[&format!("-S{ed}")]);
    let tag = repo.tag("v1.0.0", &[], &["-u", &rsa]);
    let raw_commit = repo.cat_file("commit", &commit);
    let raw_tag = repo.cat_file("tag", &tag);
    let (ed_keys, rsa_keys) = (gpg.export(&[&ed]), gpg.export(&[&rsa]));

    // One key per Secret value, and both keys in one value.
    for data in
        [secret(&[("ed.asc", &ed_keys), ("rsa.asc", &rsa_keys)]), secret(&[("keys.asc", &gpg.export(&[&ed, &rsa]))])]
    {
        let keyring = Keyring::from_secret_data(&data);
        assert_eq!(keyring.key_count(KeyFormat::OpenPgp), 2);

        let verified = verify_raw_commit(&keyring, &raw_commit).expect("commit verifies");
        assert_eq!(verified.format, KeyFormat::OpenPgp);
        assert_eq!(verified.key_id, key_id(&ed));
        assert_eq!(verified.fingerprint, ed);
        assert_eq!(verified.signing_fingerprint, ed);
        assert_eq!(verified.to_string(), key_id(&ed));

        let verified = verify_raw_tag(&keyring, &raw_tag).expect("tag verifies");
        assert_eq!(verified.key_id, key_id(&rsa));
        assert_eq!(verified.fingerprint, rsa);
    }
    let keyring = Keyring::from_secret_data(&secret(&[("a.asc", &ed_keys), ("b.asc", &rsa_keys)]));
    assert_eq!(verify_raw_commit(&keyring, &raw_commit).map(|v| v.secret_key), Ok("a.asc".to_owned()));
    assert_eq!(verify_raw_tag(&keyring, &raw_tag).map(|v| v.secret_key), Ok("b.asc".to_owned()));

    // Any value name other than *.sshpub is a key ring, as in Flux.
    let keyring = Keyring::from_secret_data(&secret(&[("author", &ed_keys)]));
    assert!(verify_raw_commit(&keyring, &raw_commit).is_ok());

    let oracle = GpgHome::trusting(&[&ed_keys, &rsa_keys]);
    assert!(repo.git_verifies("commit", &commit, Some(&oracle), None));
    assert!(repo.git_verifies("tag", &tag, Some(&oracle), None));
}

#[test]
fn a_key_that_is_not_trusted_matches_nothing() {
    let gpg = GpgHome::new();
    let signer = gpg.generate("Signer <signer@example.com>", "ed25519", "0", &[]);
    let other = gpg.generate("Other <other@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("signed", &[], &[&format!("-S{signer}")]);
    let tag = repo.tag("v1", &[], &["-u", &signer]);
    let other_keys = gpg.export(&[&other]);
    let keyring = Keyring::from_secret_data(&secret(&[("other.asc", &other_keys)]));

    let error = verify_raw_commit(&keyring, &repo.cat_file("commit", &commit)).expect_err("untrusted");
    assert_eq!(
        error.error,
        VerifyError::NoMatchingKey {
            format: KeyFormat::OpenPgp,
            signer: Some(key_id(&signer).to_owned()),
            keys_tried: 1,
        }
    );
    assert!(
        error.to_string().starts_with(
            "unable to verify Git commit: unable to verify payload with any of the given key rings: no matching key"
        ),
        "{error}"
    );
    let error = verify_raw_tag(&keyring, &repo.cat_file("tag", &tag)).expect_err("untrusted");
    assert!(error.to_string().starts_with("unable to verify Git tag: unable to verify payload"), "{error}");

    let oracle = GpgHome::trusting(&[&other_keys]);
    assert!(!repo.git_verifies("commit", &commit, Some(&oracle), None));
    assert!(!repo.git_verifies("tag", &tag, Some(&oracle), None));
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let gpg = GpgHome::new();
    let fpr = gpg.generate("Signer <signer@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("pay 100 EUR", &[], &[&format!("-S{fpr}")]);
    let tag = repo.tag("v1", &[], &["-u", &fpr]);
    let keys = gpg.export(&[&fpr]);
    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &keys)]));
    let oracle = GpgHome::trusting(&[&keys]);

    // One byte changed in the message.
    let tampered_commit =
        repo.write_object("commit", &replace_once(&repo.cat_file("commit", &commit), b"pay 100", b"pay 900"));
    let tampered_tag = repo.write_object("tag", &replace_once(&repo.cat_file("tag", &tag), b"release", b"Release"));

    for (kind, original, tampered) in [("commit", &commit, &tampered_commit), ("tag", &tag, &tampered_tag)] {
        let verify = |id: &str| {
            let raw = repo.cat_file(kind, id);
            if kind == "commit" { verify_raw_commit(&keyring, &raw) } else { verify_raw_tag(&keyring, &raw) }
        };
        assert!(verify(original).is_ok(), "{kind}");
        assert!(repo.git_verifies(kind, original, Some(&oracle), None), "{kind}");
        assert_eq!(
            verify(tampered).map_err(|e| e.error),
            Err(VerifyError::BadSignature { format: KeyFormat::OpenPgp, key: key_id(&fpr).to_owned() }),
            "{kind}"
        );
        assert!(!repo.git_verifies(kind, tampered, Some(&oracle), None), "{kind}");
    }
}

#[test]
fn unsigned_objects_have_no_signature() {
    let gpg = GpgHome::new();
    let fpr = gpg.generate("Signer <signer@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("unsigned", &[], &[]);
    let tag = repo.tag("v1", &[], &[]);
    let keys = gpg.export(&[&fpr]);
    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &keys)]));

    let error = verify_raw_commit(&keyring, &repo.cat_file("commit", &commit)).expect_err("unsigned");
    assert_eq!(error.error, VerifyError::NoSignature);
    // Flux's words for an absent signature.
    assert_eq!(error.to_string(), "unsupported signature type: empty");
    let error = verify_raw_tag(&keyring, &repo.cat_file("tag", &tag)).expect_err("unsigned");
    assert_eq!(error.error, VerifyError::NoSignature);

    let oracle = GpgHome::trusting(&[&keys]);
    assert!(!repo.git_verifies("commit", &commit, Some(&oracle), None));
    assert!(!repo.git_verifies("tag", &tag, Some(&oracle), None));
}

#[test]
fn malformed_secret_values_are_named_unless_another_value_works() {
    let gpg = GpgHome::new();
    let fpr = gpg.generate("Signer <signer@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("signed", &[], &[&format!("-S{fpr}")]);
    let raw = repo.cat_file("commit", &commit);
    let keys = gpg.export(&[&fpr]);

    let broken = Keyring::from_secret_data(&secret(&[("broken.asc", "not a key ring")]));
    let error = verify_raw_commit(&broken, &raw).expect_err("no usable key");
    assert!(
        matches!(&error.error, VerifyError::MalformedKey { format: KeyFormat::OpenPgp, secret_key, .. } if secret_key == "broken.asc"),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("unable to verify Git commit: unable to read armored key ring: broken.asc: "),
        "{error}"
    );

    // A corrupted armour (one character of the key changed) is malformed too.
    let corrupt = keys.replacen("\n\n", "\n\n!", 1);
    let corrupt = Keyring::from_secret_data(&secret(&[("corrupt.asc", &corrupt)]));
    assert!(matches!(verify_raw_commit(&corrupt, &raw).map_err(|e| e.error), Err(VerifyError::MalformedKey { .. })));

    // Flux ignores a malformed value when another value of the format can be read.
    let mixed = Keyring::from_secret_data(&secret(&[("broken.asc", "junk"), ("good.asc", &keys)]));
    assert_eq!(verify_raw_commit(&mixed, &raw).map(|v| v.secret_key), Ok("good.asc".to_owned()));
    let malformed = mixed.malformed();
    assert_eq!(malformed.len(), 1);
    assert!(matches!(&malformed[0], VerifyError::MalformedKey { secret_key, .. } if secret_key == "broken.asc"));

    // Only SSH keys in the Secret: an OpenPGP signature finds none of its format.
    let ssh_only = Keyring::from_secret_data(&secret(&[("dev.sshpub", "")]));
    let error = verify_raw_commit(&ssh_only, &raw).expect_err("no PGP keys");
    assert_eq!(error.error, VerifyError::NoTrustedKeys(KeyFormat::OpenPgp));
    assert_eq!(
        error.to_string(),
        "PGP signature detected but no PGP public keys found in secret (keys with .asc suffix)"
    );

    // Debug output names Secret keys only.
    let debug = format!("{mixed:?}");
    assert!(debug.contains("good.asc") && !debug.contains("BEGIN PGP"), "{debug}");
}

#[test]
fn a_signing_subkey_verifies_and_the_primary_key_is_reported() {
    let gpg = GpgHome::new();
    let primary = gpg.generate("Sub <sub@example.com>", "ed25519", "0", &[]);
    let subkey = gpg.add_signing_subkey(&primary, "nistp256/ecdsa");
    let repo = signed_repo(&gpg);
    // gpg signs with the newest signing subkey when given the primary key.
    let commit = repo.commit("signed by subkey", &[], &[&format!("-S{primary}")]);
    let keys = gpg.export(&[&primary]);
    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &keys)]));

    let verified = verify_raw_commit(&keyring, &repo.cat_file("commit", &commit)).expect("verifies");
    assert_eq!(verified.key_id, key_id(&primary));
    assert_eq!(verified.fingerprint, primary);
    assert_eq!(verified.signing_fingerprint, subkey);
    assert!(repo.git_verifies("commit", &commit, Some(&GpgHome::trusting(&[&keys])), None));
}

#[test]
fn ecdsa_signatures_verify() {
    let gpg = GpgHome::new();
    for (name, algo) in [("p256", "nistp256"), ("p384", "nistp384")] {
        let fpr = gpg.generate(&format!("{name} <{name}@example.com>"), algo, "0", &[]);
        let repo = signed_repo(&gpg);
        let commit = repo.commit(name, &[], &[&format!("-S{fpr}")]);
        let keys = gpg.export(&[&fpr]);
        let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &keys)]));
        let verified = verify_raw_commit(&keyring, &repo.cat_file("commit", &commit));
        assert_eq!(verified.map(|v| v.fingerprint), Ok(fpr.clone()), "{algo}");
        assert!(repo.git_verifies("commit", &commit, Some(&GpgHome::trusting(&[&keys])), None));
    }
}

#[test]
fn an_expired_key_fails_now_but_verified_while_it_was_valid() {
    let gpg = GpgHome::new();
    // A key made on 2020-01-01 that expired a day later, used on its first day.
    let faked = ["--faked-system-time", "20200101T000000!"];
    let fpr = gpg.generate("Old <old@example.com>", "ed25519", "1d", &faked);
    let wrapper = gpg.path().join("gpg-in-2020");
    std::fs::write(&wrapper, "#!/bin/sh\nexec gpg --faked-system-time 20200101T120000! \"$@\"\n").expect("wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let repo = signed_repo(&gpg);
    let program = format!("gpg.program={}", wrapper.display());
    let commit = repo.commit("signed in 2020", &[&program], &[&format!("-S{fpr}")]);
    let raw = repo.cat_file("commit", &commit);
    let keys = gpg.export(&[&fpr]);
    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &keys)]));

    let error = verify_raw_commit(&keyring, &raw).expect_err("expired");
    assert_eq!(error.error, VerifyError::KeyExpired { key: key_id(&fpr).to_owned() });
    assert!(!repo.git_verifies("commit", &commit, Some(&GpgHome::trusting(&[&keys])), None));

    // Judged on 2020-01-01 13:00 UTC the same signature is good.
    let then = UNIX_EPOCH + Duration::from_secs(1_577_883_600);
    let split = split_commit(&raw);
    assert!(keyring.verify_at(&split.signature, &split.payload, then).is_ok());
}

#[test]
fn a_revoked_key_fails() {
    let gpg = GpgHome::new();
    let fpr = gpg.generate("Revoked <revoked@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let commit = repo.commit("signed before revocation", &[], &[&format!("-S{fpr}")]);
    let tag = repo.tag("v1", &[], &["-u", &fpr]);
    let before = gpg.export(&[&fpr]);
    gpg.revoke(&fpr);
    let revoked = gpg.export(&[&fpr]);
    assert_ne!(before, revoked, "the export carries the revocation");

    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &before)]));
    assert!(verify_raw_commit(&keyring, &repo.cat_file("commit", &commit)).is_ok());
    let keyring = Keyring::from_secret_data(&secret(&[("key.asc", &revoked)]));
    let expected = VerifyError::KeyRevoked { key: key_id(&fpr).to_owned() };
    let error = verify_raw_commit(&keyring, &repo.cat_file("commit", &commit)).expect_err("revoked");
    assert_eq!(error.error, expected);
    let error = verify_raw_tag(&keyring, &repo.cat_file("tag", &tag)).expect_err("revoked");
    assert_eq!(error.error, expected);

    assert!(repo.git_verifies("commit", &commit, Some(&GpgHome::trusting(&[&before])), None));
    assert!(!repo.git_verifies("commit", &commit, Some(&GpgHome::trusting(&[&revoked])), None));
    assert!(!split_tag(&repo.cat_file("tag", &tag)).signature.is_empty());
}

#[test]
fn only_the_first_armoured_block_of_a_value_is_read_as_in_flux() {
    let gpg = GpgHome::new();
    let signer = gpg.generate("Signer <signer@example.com>", "ed25519", "0", &[]);
    let other = gpg.generate("Other <other@example.com>", "ed25519", "0", &[]);
    let repo = signed_repo(&gpg);
    let raw = repo.cat_file("commit", &repo.commit("signed", &[], &[&format!("-S{signer}")]));
    let (signer_keys, other_keys) = (gpg.export(&[&signer]), gpg.export(&[&other]));

    // Text before the armour is skipped; a private key block yields its public key.
    let commented = format!("Signing key of the release team\n\n{signer_keys}");
    let secret_block = gpg.export_secret(&[&signer]);
    for value in [&commented, &secret_block] {
        let keyring = Keyring::from_secret_data(&secret(&[("key.asc", value)]));
        assert_eq!(verify_raw_commit(&keyring, &raw).map(|v| v.fingerprint), Ok(signer.clone()));
        let debug = format!("{keyring:?}");
        assert!(!debug.contains("PRIVATE") && !debug.contains("BEGIN"), "{debug}");
    }

    // go-crypto's ReadArmoredKeyRing reads one armoured block: a second block in the same
    // value is ignored, so the signer's key after another key's block is not trusted.
    let concatenated = format!("{other_keys}{signer_keys}");
    let keyring = Keyring::from_secret_data(&secret(&[("keys.asc", &concatenated)]));
    assert!(matches!(verify_raw_commit(&keyring, &raw).map_err(|e| e.error), Err(VerifyError::NoMatchingKey { .. })));
    // A non-key armour is not a key ring.
    let signature = split_commit(&raw).signature;
    let keyring = Keyring::from_secret_data(&secret(&[("sig.asc", &signature)]));
    assert!(matches!(
        verify_raw_commit(&keyring, &raw).map_err(|e| e.error),
        Err(VerifyError::MalformedKey { reason, .. }) if reason.contains("expected public or private key block, got: PGP SIGNATURE")
    ));
}
