//! Where eddy-sops knowingly differs from `sops --decrypt` (v3.13.3). Each test asserts the
//! difference still exists, so it fails — and must be removed from this list and from the
//! crate's docs — the day it stops differing.

mod support;

use eddy_sops::{Format, decrypt};
use support::{Sandbox, age_key, age_keys};

/// YAML comments are recovered by a line scan of the block style go-yaml writes. A shape it
/// does not follow — here a comment left in clear after a sequence item — makes the whole
/// document's output comment-free (values are unaffected: comments are outside the MAC).
#[test]
fn comments_next_to_sequence_items_drop_all_comments() {
    let sb = Sandbox::new();
    let key = age_key(40);
    let plain = "# head\nlist:\n    - one # about one\n    - two\ndata:\n    k: v\n";
    let enc = sb.encrypt("c.yaml", plain.as_bytes(), &["--age", &key.recipient, "--encrypted-regex", "^data$"]);
    let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap()).unwrap();
    let theirs = String::from_utf8(sb.decrypt("c.yaml", &enc, &key.identity)).unwrap();
    assert_ne!(ours, theirs, "such comments are now kept: remove this known difference");
    assert_eq!(ours, "list:\n    - one\n    - two\ndata:\n    k: v\n");
    let parse = |s: &str| -> serde_norway::Value { serde_norway::from_str(s).unwrap() };
    assert_eq!(parse(&ours), parse(&theirs));
}

/// The same document using a comment regex is refused: without its comments, which values
/// are encrypted cannot be decided.
#[test]
fn comment_regexes_need_the_comments() {
    let sb = Sandbox::new();
    let key = age_key(41);
    let plain = "# sops:enc\nlist:\n    - one # about one\n    - two\n";
    let enc =
        sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, "--unencrypted-comment-regex", "about"]);
    assert!(!sb.decrypt("r.yaml", &enc, &key.identity).is_empty());
    let err = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}
