//! How Flux's kustomize-controller applies SOPS to a build (its `internal/decryptor`).
//!
//! As upstream, neither path checks the MAC: kustomize adds fields (namespace, labels) to a
//! built object, which would always break it. Values are still authenticated one by one.

mod paths;
mod sources;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Format, Keys, SopsError};
use crate::format::json;

pub use sources::decrypt_sources;

/// The annotation that turns decryption off for one object.
const DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// How kustomize-controller recognises a SOPS document inside a Secret value, per input
/// format (binary documents are JSON envelopes, so the JSON marker covers them).
const MARKERS: [(Format, &str); 4] = [
    (Format::Json, "\"mac\": \"ENC["),
    (Format::Dotenv, "sops_mac=ENC["),
    (Format::Ini, "[sops]"),
    (Format::Yaml, "mac: ENC["),
];

/// The format of a SOPS document in a Secret value, from its marker bytes.
pub(crate) fn detect_format(data: &[u8]) -> Option<Format> {
    MARKERS.iter().find(|(_, m)| contains(data, m.as_bytes())).map(|(f, _)| *f)
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The output format for a Secret key or generator file name (`.dockerconfigjson` is JSON).
pub(crate) fn format_for_key(key: &str) -> Format {
    if key.ends_with(".dockerconfigjson") { Format::Json } else { Format::from_path(std::path::Path::new(key)) }
}

/// Decrypts one built object: a whole object with SOPS metadata (a Secret encrypted with
/// `sops -e secret.yaml`), or the `data` entries of a Secret that hold SOPS files (from a
/// `secretGenerator`). `None` when the object holds nothing encrypted or has the
/// `kustomize.toolkit.fluxcd.io/decrypt: disabled` annotation.
///
/// Like kustomize-controller, only `data` is searched for SOPS files (`stringData` is left
/// alone), a `data` value that is not base64 is left for the apply to reject, and the MAC is
/// not verified.
///
/// # Errors
/// As [`super::decrypt`], naming the object.
pub fn decrypt_object(obj: &Value, keys: &Keys) -> Result<Option<Value>, SopsError> {
    let meta = obj.get("metadata");
    let annotation = meta.and_then(|m| m.get("annotations")).and_then(|a| a.get(DECRYPT_ANNOTATION));
    if annotation.and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case("disabled")) {
        return Ok(None);
    }
    let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let wrap = |what: String, source: SopsError| SopsError::Object {
        namespace: field("namespace"),
        name: field("name"),
        what,
        source: Box::new(source),
    };
    if is_sops_object(obj) {
        let Value::Object(map) = obj.clone() else { return Ok(None) };
        let mut branches = vec![json::object(map)];
        decrypt_branches_in_place(&mut branches, keys).map_err(|e| wrap(format!("{kind} data"), e))?;
        let out = json::to_json(&branches[0])
            .map_err(|reason| wrap(format!("{kind} data"), SopsError::Emit { format: Format::Json, reason }))?;
        return Ok(Some(out));
    }
    if kind != "Secret" {
        return Ok(None);
    }
    let Some(Value::Object(data)) = obj.get("data") else { return Ok(None) };
    let mut decrypted = data.clone();
    let mut changed = false;
    for (key, value) in data {
        let Some(Ok(bytes)) = value.as_str().map(|s| STANDARD.decode(s)) else { continue };
        let Some(input) = detect_format(&bytes) else { continue };
        let out = crate::decrypt_with(&bytes, input, format_for_key(key), keys, false)
            .map_err(|e| wrap(format!("Secret field '{key}'"), e))?;
        decrypted.insert(key.clone(), Value::String(STANDARD.encode(out)));
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    let mut out = obj.clone();
    out["data"] = Value::Object(decrypted);
    Ok(Some(out))
}

/// A whole object encrypted by SOPS: a non-empty `sops` field with a non-empty `mac`.
fn is_sops_object(obj: &Value) -> bool {
    let non_empty = |v: &Value| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    obj.get("sops").is_some_and(|s| non_empty(s) && s.get("mac").is_some_and(non_empty))
}

/// Decrypts a JSON object's tree (its `sops` entry removed) without checking the MAC.
fn decrypt_branches_in_place(branches: &mut [crate::tree::Branch], keys: &Keys) -> Result<(), SopsError> {
    let meta = crate::metadata::extract_nested(branches)
        .map_err(|reason| SopsError::Document { format: Format::Json, reason })?;
    let key = crate::datakey::data_key(&meta, keys)?;
    crate::tree::decrypt_branches(branches, &key, &meta.rules)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn disabled_annotation_skips() {
        let obj = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {DECRYPT_ANNOTATION: "Disabled"}},
            "sops": {"mac": "ENC[x]"}});
        assert_eq!(decrypt_object(&obj, &Keys::default()).unwrap(), None);
    }

    #[test]
    fn plain_objects_are_left_alone() {
        let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "aGVsbG8="}});
        assert_eq!(decrypt_object(&obj, &Keys::default()).unwrap(), None);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(decrypt_object(&cm, &Keys::default()).unwrap(), None);
    }

    #[test]
    fn markers_pick_formats() {
        assert_eq!(detect_format(b"x\nsops_mac=ENC[abc"), Some(Format::Dotenv));
        assert_eq!(detect_format(b"sops:\n    mac: ENC[abc"), Some(Format::Yaml));
        assert_eq!(detect_format(b"plain"), None);
        assert_eq!(format_for_key(".dockerconfigjson"), Format::Json);
    }
}
