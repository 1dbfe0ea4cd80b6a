//! SOPS' document tree and its decryption walk (getsops/sops `sops.go`).
//!
//! Every format loads into branches of ordered items (a YAML file may hold several
//! documents, one branch each). The walk visits leaves in document order with their path;
//! [`Rules`] (from the metadata: `unencrypted_suffix`, `encrypted_suffix`, the regexes and
//! the comment regexes) decide which leaves are encrypted. Encrypted leaves are decrypted with
//! the path as additional data; the MAC is SHA-512 over the plaintext of every leaf (or, with
//! `mac_only_encrypted`, only the encrypted ones after a fixed prefix), comments and nulls
//! excluded, across all branches in order.

use regex::Regex;
use sha2::{Digest, Sha512};

use crate::cipher;
use crate::error::{SopsError, ValueError};
use crate::gofmt;

/// A value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A mapping, in document order.
    Map(Vec<Item>),
    /// A sequence; may hold [`Value::Comment`] entries.
    Seq(Vec<Value>),
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes (`type:bytes`).
    Bytes(Vec<u8>),
    /// A timestamp, as its RFC 3339 text (`type:time`).
    Time(String),
    /// A comment line (without its `#`).
    Comment(String),
    /// Null: never encrypted, not in the MAC.
    Null,
}

/// A mapping entry; a comment has [`Key::Comment`] and a null value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    /// The key.
    pub(crate) key: Key,
    /// The value.
    pub(crate) value: Value,
}

/// A mapping key: a string, or a comment line standing between entries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    /// A string key.
    Str(String),
    /// A comment line.
    Comment(String),
    /// A comment that stood after a scalar value on its line (YAML); written back after the
    /// next entry's value, unless decrypting it as a `comment` value drops that flag (as sops).
    LineComment(String),
}

impl Item {
    /// A string-keyed entry.
    pub(crate) fn new(key: impl Into<String>, value: Value) -> Self {
        Item { key: Key::Str(key.into()), value }
    }

    /// A comment entry.
    pub(crate) fn comment(text: impl Into<String>) -> Self {
        Item { key: Key::Comment(text.into()), value: Value::Null }
    }
}

/// A branch: one document's top-level mapping.
pub(crate) type Branch = Vec<Item>;

/// The metadata's choice of which leaves are encrypted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// `unencrypted_suffix` (the default `_unencrypted` when no rule is set).
    pub(crate) unencrypted_suffix: Option<String>,
    /// `encrypted_suffix`.
    pub(crate) encrypted_suffix: Option<String>,
    /// `unencrypted_regex`.
    pub(crate) unencrypted_regex: Option<Regex>,
    /// `encrypted_regex`.
    pub(crate) encrypted_regex: Option<Regex>,
    /// `unencrypted_comment_regex`.
    pub(crate) unencrypted_comment_regex: Option<Regex>,
    /// `encrypted_comment_regex`.
    pub(crate) encrypted_comment_regex: Option<Regex>,
    /// `mac_only_encrypted`.
    pub(crate) mac_only_encrypted: bool,
}

/// The fixed prefix of a `mac_only_encrypted` MAC: SHA-256 of `sops`.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b,
    0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

impl Rules {
    /// Whether the leaf at `path` (under the comment lines in `comments`) is encrypted.
    fn should_encrypt(&self, path: &[String], comments: &[Vec<String>], is_comment: bool) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        if let Some(re) = &self.unencrypted_comment_regex
            && comments.iter().flatten().any(|c| re.is_match(c))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_comment_regex {
            // The comment line that matches is itself left in clear: skip the last line of
            // the innermost comment block when the leaf is that comment.
            let last_level = comments.len().saturating_sub(1);
            let last_line = comments.last().map_or(0, Vec::len).saturating_sub(1);
            encrypted = comments.iter().enumerate().any(|(i, level)| {
                level
                    .iter()
                    .enumerate()
                    .any(|(j, c)| !(is_comment && i == last_level && j == last_line) && re.is_match(c))
            });
        }
        encrypted
    }
}

/// Decrypts every branch in place with `key` and returns the MAC of the plaintext
/// (uppercase hex SHA-512, as sops formats it).
pub(crate) fn decrypt_branches(branches: &mut [Branch], key: &[u8; 32], rules: &Rules) -> Result<String, SopsError> {
    let mut walker = Walker { key, rules, hash: Sha512::new() };
    if rules.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for branch in branches.iter_mut() {
        let mut path = Vec::new();
        let mut comments = Vec::new();
        walker.branch(branch, &mut path, &mut comments)?;
    }
    Ok(hex_upper(&walker.hash.finalize()))
}

struct Walker<'a> {
    key: &'a [u8; 32],
    rules: &'a Rules,
    hash: Sha512,
}

impl Walker<'_> {
    fn branch(
        &mut self,
        items: &mut [Item],
        path: &mut Vec<String>,
        comments: &mut Vec<Vec<String>>,
    ) -> Result<(), SopsError> {
        comments.push(Vec::new());
        for item in items.iter_mut() {
            match &mut item.key {
                Key::Comment(text) | Key::LineComment(text) => {
                    let level = comments.len() - 1;
                    comments[level].push(text.clone());
                    if self.rules.should_encrypt(path, comments, true) {
                        let aad = format!("{}:", path.join(":"));
                        // A comment that does not decrypt was never encrypted (older sops).
                        match cipher::decrypt(text, self.key, &aad) {
                            Ok(Value::Comment(plain)) => item.key = Key::Comment(plain),
                            Ok(Value::Str(plain)) => *text = plain,
                            _ => {}
                        }
                    }
                }
                Key::Str(k) => {
                    let value_is_comment = matches!(item.value, Value::Comment(_));
                    if let Value::Comment(c) = &item.value {
                        let level = comments.len() - 1;
                        comments[level].push(c.clone());
                    }
                    path.push(k.clone());
                    let result = self.value(&mut item.value, path, comments);
                    path.pop();
                    result?;
                    if !value_is_comment {
                        let level = comments.len() - 1;
                        comments[level].clear();
                    }
                }
            }
        }
        comments.pop();
        Ok(())
    }

    fn seq(
        &mut self,
        values: &mut [Value],
        path: &mut Vec<String>,
        comments: &mut Vec<Vec<String>>,
    ) -> Result<(), SopsError> {
        comments.push(Vec::new());
        for value in values.iter_mut() {
            let is_comment = matches!(value, Value::Comment(_));
            if let Value::Comment(c) = value {
                let level = comments.len() - 1;
                comments[level].push(c.clone());
            }
            self.value(value, path, comments)?;
            if !is_comment {
                let level = comments.len() - 1;
                comments[level].clear();
            }
        }
        comments.pop();
        Ok(())
    }

    fn value(
        &mut self,
        value: &mut Value,
        path: &mut Vec<String>,
        comments: &mut Vec<Vec<String>>,
    ) -> Result<(), SopsError> {
        match value {
            Value::Map(items) => self.branch(items, path, comments),
            Value::Seq(values) => self.seq(values, path, comments),
            Value::Null => Ok(()),
            _ => self.leaf(value, path, comments),
        }
    }

    fn leaf(&mut self, value: &mut Value, path: &[String], comments: &[Vec<String>]) -> Result<(), SopsError> {
        let is_comment = matches!(value, Value::Comment(_));
        let encrypted = self.rules.should_encrypt(path, comments, is_comment);
        if encrypted {
            let aad = format!("{}:", path.join(":"));
            match value {
                Value::Comment(c) => {
                    // A comment that does not decrypt was never encrypted (older sops).
                    if let Ok(Value::Comment(plain) | Value::Str(plain)) = cipher::decrypt(c, self.key, &aad) {
                        *c = plain;
                    }
                }
                Value::Str(s) => {
                    *value = cipher::decrypt(s, self.key, &aad)
                        .map_err(|reason| SopsError::Value { path: display_path(path), reason })?;
                }
                _ => {
                    return Err(SopsError::Value { path: display_path(path), reason: ValueError::NotAString });
                }
            }
        }
        // sops v3.13.3 looks at the result: a sequence comment is stored as an encrypted
        // string that decrypts to a comment, and comments are never in the MAC.
        if (!self.rules.mac_only_encrypted || encrypted) && !matches!(value, Value::Comment(_)) {
            self.hash.update(mac_bytes(value));
        }
        Ok(())
    }
}

/// The bytes a leaf contributes to the MAC (sops' `ToBytes`).
fn mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Str(s) | Value::Time(s) | Value::Comment(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => gofmt::format_f(*f).into_bytes(),
        Value::Bool(b) => (if *b { "True" } else { "False" }).as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Map(_) | Value::Seq(_) | Value::Null => Vec::new(),
    }
}

fn display_path(path: &[String]) -> String {
    path.join(":")
}

fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn default_suffix_rule() {
        let rules = Rules { unencrypted_suffix: Some("_unencrypted".into()), ..Rules::default() };
        assert!(rules.should_encrypt(&path(&["a", "b"]), &[], false));
        assert!(!rules.should_encrypt(&path(&["a_unencrypted", "b"]), &[], false));
    }

    #[test]
    fn encrypted_regex_matches_any_path_element() {
        let rules = Rules { encrypted_regex: Some(Regex::new("^(data|stringData)$").unwrap()), ..Rules::default() };
        assert!(rules.should_encrypt(&path(&["data", "x"]), &[], false));
        assert!(!rules.should_encrypt(&path(&["metadata", "name"]), &[], false));
    }

    #[test]
    fn mac_of_unencrypted_tree_is_sha512_of_values() {
        let rules = Rules { encrypted_regex: Some(Regex::new("^nothing$").unwrap()), ..Rules::default() };
        let mut branches = vec![vec![
            Item::new("a", Value::Str("x".into())),
            Item::comment(" c"),
            Item::new("b", Value::Seq(vec![Value::Int(1), Value::Bool(true), Value::Float(1.5), Value::Null])),
        ]];
        let mac = decrypt_branches(&mut branches, &[0; 32], &rules).unwrap();
        assert_eq!(mac, hex_upper(&Sha512::digest(b"x1True1.5")));
    }
}
