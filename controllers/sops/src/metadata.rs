//! The `sops` metadata of a document (getsops/sops `stores/stores.go`, `stores/metadata.go`,
//! `stores/flatten.go`).
//!
//! YAML and JSON keep it under a top-level `sops` mapping; INI in a `[sops]` section with
//! flattened keys (`age__list_0__map_enc`) and `\n` escaped; dotenv as top-level `sops_`-
//! prefixed flattened keys. Values are read weakly typed, as sops' mapstructure decoding
//! does (INI and dotenv hold only strings).

use regex::Regex;
use serde_json::{Map, Value as Json};

use crate::error::DocumentError;
use crate::tree::{Branch, Item, Key, Rules, Value};

/// A master key the data key is encrypted to.
#[derive(Debug, Clone)]
pub(crate) enum MasterKey {
    /// An age recipient and its armored age file holding the data key.
    Age {
        /// `age1…`.
        recipient: String,
        /// The armored age file.
        enc: String,
    },
    /// An OpenPGP key and its armored PGP message holding the data key.
    Pgp {
        /// The key's fingerprint as written (hex).
        fingerprint: String,
        /// The armored message.
        enc: String,
    },
    /// An AWS KMS key (`sops.kms`).
    AwsKms(crate::aws::KmsKey),
    /// A cloud KMS or Vault key, which Eddy does not call.
    Service {
        /// `AWS KMS`, `GCP KMS`, …
        service: &'static str,
        /// Its identifier (ARN, resource ID, URL…), public.
        name: String,
    },
}

impl MasterKey {
    /// How sops names the key in messages.
    pub(crate) fn name(&self) -> &str {
        match self {
            MasterKey::Age { recipient, .. } => recipient,
            MasterKey::Pgp { fingerprint, .. } => fingerprint,
            MasterKey::AwsKms(key) => &key.arn,
            MasterKey::Service { name, .. } => name,
        }
    }
}

/// The decoded metadata.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    /// `lastmodified` formatted as Go's RFC 3339 (the MAC's additional data).
    pub(crate) last_modified: String,
    /// The encrypted MAC (may be empty).
    pub(crate) mac: String,
    /// Which leaves are encrypted.
    pub(crate) rules: Rules,
    /// Key groups (one unless Shamir secret sharing is used).
    pub(crate) groups: Vec<Vec<MasterKey>>,
    /// `shamir_threshold` (0 when absent).
    pub(crate) shamir_threshold: usize,
}

/// Removes the `sops` entry from every branch (YAML, JSON): the first branch's entry is the
/// metadata.
pub(crate) fn extract_nested(branches: &mut [Branch]) -> Result<Metadata, DocumentError> {
    let mut found: Option<Value> = None;
    for (bi, branch) in branches.iter_mut().enumerate() {
        let mut i = 0;
        while i < branch.len() {
            if matches!(&branch[i].key, Key::Str(k) if k == "sops") {
                let item = branch.remove(i);
                if bi == 0 {
                    if found.is_some() {
                        return Err(DocumentError::Metadata("found duplicate sops entry".into()));
                    }
                    if !matches!(item.value, Value::Map(_)) {
                        return Err(DocumentError::Metadata("found sops entry that is not a mapping".into()));
                    }
                    found = Some(item.value);
                }
            } else {
                i += 1;
            }
        }
    }
    let meta = found.ok_or(DocumentError::MetadataNotFound)?;
    decode(&to_json(&meta))
}

/// Removes the `sops_`-prefixed entries of the first branch (dotenv) and decodes them.
pub(crate) fn extract_prefixed(branches: &mut [Branch]) -> Result<Metadata, DocumentError> {
    let mut flat = Vec::new();
    if let Some(branch) = branches.first_mut() {
        branch.retain(|item| match &item.key {
            Key::Str(k) if k.starts_with("sops_") => {
                flat.push(Item::new(&k["sops_".len()..], item.value.clone()));
                false
            }
            _ => true,
        });
    }
    if flat.is_empty() {
        return Err(DocumentError::MetadataNotFound);
    }
    decode(&unflatten(&flat, false)?)
}

/// Removes the `sops` section (INI): its keys are flattened, newlines escaped.
pub(crate) fn extract_section(branches: &mut [Branch]) -> Result<Metadata, DocumentError> {
    let mut found: Option<Vec<Item>> = None;
    for branch in branches.iter_mut() {
        let mut i = 0;
        while i < branch.len() {
            if matches!(&branch[i].key, Key::Str(k) if k == "sops") {
                let item = branch.remove(i);
                if found.is_some() {
                    return Err(DocumentError::Metadata("found duplicate sops entry".into()));
                }
                match item.value {
                    Value::Map(items) => found = Some(items),
                    _ => return Err(DocumentError::Metadata("found sops entry that is not a mapping".into())),
                }
            } else {
                i += 1;
            }
        }
    }
    let flat = found.ok_or(DocumentError::MetadataNotFound)?;
    decode(&unflatten(&flat, true)?)
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Map(items) => Json::Object(
            items
                .iter()
                .filter_map(|i| match &i.key {
                    Key::Str(k) => Some((k.clone(), to_json(&i.value))),
                    Key::Comment(_) | Key::LineComment(_) => None,
                })
                .collect(),
        ),
        Value::Seq(values) => {
            Json::Array(values.iter().filter(|v| !matches!(v, Value::Comment(_))).map(to_json).collect())
        }
        Value::Str(s) | Value::Time(s) => Json::String(s.clone()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Comment(_) | Value::Null => Json::Null,
    }
}

/// sops' `unflattenTreeBranch`: `a__map_b__list_0` keys back into nested values.
fn unflatten(flat: &[Item], escaped_newlines: bool) -> Result<Json, DocumentError> {
    let mut root = Json::Object(Map::new());
    for item in flat {
        let Key::Str(key) = &item.key else { continue };
        let mut value = to_json(&item.value);
        if escaped_newlines && let Json::String(s) = &value {
            value = Json::String(s.replace("\\n", "\n"));
        }
        let mut node = &mut root;
        for token in tokenize(key) {
            node = match token {
                Token::Map(k) => {
                    if node.is_null() {
                        *node = Json::Object(Map::new());
                    }
                    let Json::Object(map) = node else {
                        return Err(DocumentError::Metadata(format!("type mismatch while unflattening {key:?}")));
                    };
                    map.entry(k).or_insert(Json::Null)
                }
                Token::List(i) => {
                    if node.is_null() {
                        *node = Json::Array(Vec::new());
                    }
                    let Json::Array(list) = node else {
                        return Err(DocumentError::Metadata(format!("type mismatch while unflattening {key:?}")));
                    };
                    if list.len() <= i {
                        if i > list.len() + 1024 {
                            return Err(DocumentError::Metadata(format!("incomplete list while unflattening {key:?}")));
                        }
                        list.resize(i + 1, Json::Null);
                    }
                    &mut list[i]
                }
            };
        }
        if !node.is_null() {
            return Err(DocumentError::Metadata(format!("duplicate value while unflattening {key:?}")));
        }
        *node = value;
    }
    Ok(root)
}

enum Token {
    Map(String),
    List(usize),
}

fn tokenize(path: &str) -> Vec<Token> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut kind_is_list = false;
    loop {
        let next_map = rest.find(MAP);
        let next_list = rest.find(LIST);
        let (end, sep) = match (next_map, next_list) {
            (Some(m), Some(l)) if l < m => (l, LIST),
            (Some(m), _) => (m, MAP),
            (None, Some(l)) => (l, LIST),
            (None, None) => (rest.len(), ""),
        };
        let part = &rest[..end];
        tokens.push(if kind_is_list { Token::List(part.parse().unwrap_or(0)) } else { Token::Map(part.to_owned()) });
        if sep.is_empty() {
            break;
        }
        kind_is_list = sep == LIST;
        rest = &rest[end + sep.len()..];
    }
    tokens
}

fn get_str(map: &Map<String, Json>, key: &str) -> String {
    match map.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        Some(Json::Bool(b)) => if *b { "1" } else { "0" }.to_owned(),
        _ => String::new(),
    }
}

fn get_bool(map: &Map<String, Json>, key: &str) -> Result<bool, DocumentError> {
    match map.get(key) {
        None | Some(Json::Null) => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(Json::Number(n)) => Ok(n.as_f64() != Some(0.0)),
        Some(Json::String(s)) => match s.as_str() {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            _ => Err(DocumentError::Metadata(format!("'{key}' is not a boolean"))),
        },
        Some(_) => Err(DocumentError::Metadata(format!("'{key}' is not a boolean"))),
    }
}

fn get_list<'a>(map: &'a Map<String, Json>, key: &str) -> &'a [Json] {
    match map.get(key) {
        Some(Json::Array(a)) => a,
        _ => &[],
    }
}

fn decode(meta: &Json) -> Result<Metadata, DocumentError> {
    let Json::Object(map) = meta else {
        return Err(DocumentError::Metadata("not a mapping".into()));
    };
    let last_modified = go_rfc3339(&get_str(map, "lastmodified"))
        .ok_or_else(|| DocumentError::Metadata("'lastmodified' is not an RFC 3339 time".into()))?;
    let shamir_threshold = match map.get("shamir_threshold") {
        None | Some(Json::Null) => 0,
        Some(Json::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        Some(Json::String(s)) if s.is_empty() => 0,
        Some(Json::String(s)) => {
            s.parse().map_err(|_| DocumentError::Metadata("'shamir_threshold' is not a number".into()))?
        }
        Some(_) => return Err(DocumentError::Metadata("'shamir_threshold' is not a number".into())),
    };
    let rule = |k: &str| Some(get_str(map, k)).filter(|s| !s.is_empty());
    let regex = |k: &str| -> Result<Option<Regex>, DocumentError> {
        rule(k)
            .map(|r| {
                Regex::new(&r).map_err(|_| DocumentError::Metadata(format!("'{k}' is not a valid regular expression")))
            })
            .transpose()
    };
    let mut rules = Rules {
        unencrypted_suffix: rule("unencrypted_suffix"),
        encrypted_suffix: rule("encrypted_suffix"),
        unencrypted_regex: regex("unencrypted_regex")?,
        encrypted_regex: regex("encrypted_regex")?,
        unencrypted_comment_regex: regex("unencrypted_comment_regex")?,
        encrypted_comment_regex: regex("encrypted_comment_regex")?,
        mac_only_encrypted: get_bool(map, "mac_only_encrypted")?,
    };
    let count = [
        rules.unencrypted_suffix.is_some(),
        rules.encrypted_suffix.is_some(),
        rules.unencrypted_regex.is_some(),
        rules.encrypted_regex.is_some(),
        rules.unencrypted_comment_regex.is_some(),
        rules.encrypted_comment_regex.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if count > 1 {
        return Err(DocumentError::Metadata(
            "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file".into(),
        ));
    }
    if count == 0 {
        rules.unencrypted_suffix = Some("_unencrypted".into());
    }
    let top_level = group(map);
    let groups = if !top_level.is_empty() {
        vec![top_level]
    } else {
        let groups: Vec<_> = get_list(map, "key_groups").iter().filter_map(Json::as_object).map(group).collect();
        if groups.is_empty() {
            return Err(DocumentError::Metadata("no keys found in file".into()));
        }
        groups
    };
    Ok(Metadata { last_modified, mac: get_str(map, "mac"), rules, groups, shamir_threshold })
}

/// A key group in sops' decryption order: age, OpenPGP, then the services.
fn group(map: &Map<String, Json>) -> Vec<MasterKey> {
    let objects = |k: &str| get_list(map, k).iter().filter_map(Json::as_object).collect::<Vec<_>>();
    let mut keys = Vec::new();
    for k in objects("age") {
        keys.push(MasterKey::Age { recipient: get_str(k, "recipient"), enc: get_str(k, "enc") });
    }
    for k in objects("pgp") {
        keys.push(MasterKey::Pgp { fingerprint: get_str(k, "fp"), enc: get_str(k, "enc") });
    }
    for k in objects("kms") {
        let context = k
            .get("context")
            .and_then(Json::as_object)
            .map(|c| {
                c.iter()
                    .map(|(name, v)| (name.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect()
            })
            .unwrap_or_default();
        keys.push(MasterKey::AwsKms(crate::aws::KmsKey {
            arn: get_str(k, "arn"),
            role: get_str(k, "role"),
            context,
            aws_profile: get_str(k, "aws_profile"),
            enc: get_str(k, "enc"),
        }));
    }
    let services: [(&str, &'static str, &str); 4] = [
        ("gcp_kms", "GCP KMS", "resource_id"),
        ("hckms", "HuaweiCloud KMS", "key_id"),
        ("azure_kv", "Azure Key Vault", "vault_url"),
        ("hc_vault", "HashiCorp Vault", "vault_address"),
    ];
    for (field, service, id) in services {
        for k in objects(field) {
            let mut name = get_str(k, id);
            match field {
                "azure_kv" => name = format!("{name}/keys/{}/{}", get_str(k, "name"), get_str(k, "version")),
                "hc_vault" => name = format!("{name}/v1/{}/keys/{}", get_str(k, "engine_path"), get_str(k, "key_name")),
                _ => {}
            }
            keys.push(MasterKey::Service { service, name });
        }
    }
    keys
}

/// Parses an RFC 3339 time and formats it as Go's `time.RFC3339` does (no fraction, `Z` for
/// a zero offset).
pub(crate) fn go_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) && matches!(b[10], b'T' | b't'))
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" | "z" => "Z".to_owned(),
        z if z.len() == 6
            && matches!(z.as_bytes()[0], b'+' | b'-')
            && z.as_bytes()[3] == b':'
            && [1, 2, 4, 5].iter().all(|&k| z.as_bytes()[k].is_ascii_digit()) =>
        {
            if &z[1..] == "00:00" {
                "Z".to_owned()
            } else {
                z.to_owned()
            }
        }
        _ => return None,
    };
    Some(format!("{}{zone}", &s[..19].replacen('t', "T", 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_as_go() {
        assert_eq!(go_rfc3339("2024-01-02T03:04:05Z").unwrap(), "2024-01-02T03:04:05Z");
        assert_eq!(go_rfc3339("2024-01-02T03:04:05.123Z").unwrap(), "2024-01-02T03:04:05Z");
        assert_eq!(go_rfc3339("2024-01-02T03:04:05+00:00").unwrap(), "2024-01-02T03:04:05Z");
        assert_eq!(go_rfc3339("2024-01-02T03:04:05+02:00").unwrap(), "2024-01-02T03:04:05+02:00");
        assert!(go_rfc3339("yesterday").is_none());
    }

    #[test]
    fn unflattens_keys() {
        let flat = vec![
            Item::new("age__list_0__map_recipient", Value::Str("age1x".into())),
            Item::new("age__list_0__map_enc", Value::Str("a\\nb".into())),
            Item::new("lastmodified", Value::Str("2024-01-02T03:04:05Z".into())),
            Item::new("mac", Value::Str("ENC[…]".into())),
        ];
        let json = unflatten(&flat, true).unwrap();
        assert_eq!(json["age"][0]["enc"], "a\nb");
        let meta = decode(&json).unwrap();
        assert_eq!(meta.groups.len(), 1);
        assert!(matches!(&meta.groups[0][0], MasterKey::Age { recipient, .. } if recipient == "age1x"));
        assert_eq!(meta.rules.unencrypted_suffix.as_deref(), Some("_unencrypted"));
    }

    #[test]
    fn two_rules_are_rejected() {
        let json = serde_json::json!({
            "lastmodified": "2024-01-02T03:04:05Z", "mac": "", "age": [{"recipient": "r", "enc": "e"}],
            "encrypted_regex": "a", "unencrypted_suffix": "_u"
        });
        assert!(decode(&json).is_err());
    }
}
