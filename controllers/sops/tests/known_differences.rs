//! Where eddy-sops knowingly differs from `sops --decrypt` (v3.13.3). Each test asserts the
//! difference still exists, so it fails — and must be removed from this list and from the
//! crate's docs — the day it stops differing.

mod support;

use eddy_sops::{Format, decrypt};
use support::{Sandbox, age_key, age_keys};

/// Comments are recovered by a line scan of the block style go-yaml writes; in a stream of
/// several documents they are dropped (values are unaffected: comments are outside the MAC).
#[test]
fn comments_of_multi_document_yaml_are_dropped() {
    let sb = Sandbox::new();
    let key = age_key(40);
    let plain = "# one\na: 1\n---\n# two\nb: 2\n";
    let enc = sb.encrypt("c.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap()).unwrap();
    let theirs = String::from_utf8(sb.decrypt("c.yaml", &enc, &key.identity)).unwrap();
    assert_ne!(ours, theirs, "comments of multi-document YAML are now kept: remove this known difference");
    assert_eq!(ours, "a: 1\n---\nb: 2\n");
    let docs = |s: &str| -> Vec<serde_norway::Value> {
        s.split("---\n").map(|d| serde_norway::from_str(d).unwrap()).collect()
    };
    assert_eq!(docs(&ours), docs(&theirs));
}

/// A multi-document YAML whose metadata uses a comment regex is refused: without its
/// comments, which values are encrypted cannot be decided.
#[test]
fn comment_regexes_in_multi_document_yaml_are_refused() {
    let sb = Sandbox::new();
    let key = age_key(41);
    let plain = "# sops:enc\na: 1\n---\nb: two\n";
    let enc =
        sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, "--encrypted-comment-regex", "sops:enc"]);
    assert!(!sb.decrypt("r.yaml", &enc, &key.identity).is_empty());
    let err = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}
