//! Where eddy-sops knowingly differs from `sops --decrypt` (v3.13.3). Each test asserts the
//! difference still exists, so it fails — and must be removed from this list and from the
//! crate's docs — the day it stops differing.

mod support;

use eddy_sops::{Format, decrypt};
use support::{Sandbox, age_key, age_keys};

/// YAML comments are not kept: serde_norway drops them on reading. They are outside the MAC,
/// so what decrypts and verifies is the same; Flux applies the objects, where comments do not
/// exist. The values are identical; only the comment lines are missing.
#[test]
fn yaml_output_has_no_comments() {
    let sb = Sandbox::new();
    let key = age_key(40);
    let plain = "# head\na: 1 # inline\nb: two\n";
    let enc = sb.encrypt("c.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap()).unwrap();
    let theirs = String::from_utf8(sb.decrypt("c.yaml", &enc, &key.identity)).unwrap();
    assert_ne!(ours, theirs, "comments are now kept: remove this known difference");
    assert_eq!(ours, "a: 1\nb: two\n");
    let strip = |s: &str| -> serde_norway::Value { serde_norway::from_str(s).unwrap() };
    assert_eq!(strip(&ours), strip(&theirs));
}

/// A YAML document whose metadata uses `encrypted_comment_regex` or
/// `unencrypted_comment_regex` is refused: without comments, which values are encrypted
/// cannot be decided.
#[test]
fn yaml_comment_regexes_are_refused() {
    let sb = Sandbox::new();
    let key = age_key(41);
    let plain = "# sops:enc\na: 1\nb: two\n";
    let enc =
        sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, "--encrypted-comment-regex", "sops:enc"]);
    let theirs = sb.decrypt("r.yaml", &enc, &key.identity);
    assert!(!theirs.is_empty());
    let err = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}
