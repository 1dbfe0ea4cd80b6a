//! The storage codec: the bytes the registry stores for an object, and how they are read back.
//!
//! kube-apiserver's codec for custom resources decodes every stored object on every read:
//! parse, prune and default with the schema of the version it is stored in, convert to the
//! version the client asked for, encode again. Eddy does the same work once, when it writes:
//! the stored object is already in the storage version, pruned and defaulted with that
//! version's schema, and serialised exactly as a read would serialise it. A read in the
//! storage version then only has to splice `metadata.resourceVersion` into the stored JSON,
//! which makes a full LIST of 100,000 objects a copy of bytes rather than 100,000 decodes.
//!
//! # Format
//! ```text
//! "eddy" 0x01 | schema fingerprint: u64 LE | offset of metadata's closing brace: u32 LE | JSON
//! ```
//! The fingerprint names the storage version, its schema and [`CODEC_REVISION`]: bytes
//! written by an Eddy whose storage schema differed (a default added since, say) no longer
//! match, and take the slow path, which applies today's defaults. Bytes without the envelope
//! (plain JSON, written before it existed) take the slow path too.
//!
//! # Guarantees
//! - [`to_json`] returns exactly the bytes that serialising [`decode`]'s answer would give:
//!   the fast path is a shortcut, never a different answer (tested below over every kind).
//! - Only the storage version is read fast; every other version is converted and pruned as
//!   kube-apiserver does.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use eddy_api::ResourceInfo;
use eddy_storage::Revision;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::registry::ServedResource;
use crate::status::ApiError;
use crate::strategy::KindStrategy;

const MAGIC: &[u8; 5] = b"eddy\x01";
const HEADER: usize = MAGIC.len() + 8 + 4;

/// Bumped when what a write does to the stored object (pruning, defaulting, serialisation)
/// changes in a way the schema alone does not show, so older bytes take the slow path.
pub const CODEC_REVISION: u32 = 1;

/// The fingerprint of a kind's storage version: its name, its schema and [`CODEC_REVISION`]
/// (FNV-1a over their debug rendering, which is deterministic: maps are ordered).
/// Computed once per kind, by its [`KindStrategy`].
pub(crate) fn fingerprint_of(info: &ResourceInfo) -> u64 {
    let v = info.storage_version();
    let text = format!("{CODEC_REVISION}\n{}/{}\n{:?}", info.group, v.name, v.schema);
    fnv1a(text.as_bytes())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Stored bytes, split into their envelope and JSON.
struct Stored<'a> {
    /// The fingerprint and the offset of metadata's closing brace, when enveloped.
    header: Option<(u64, usize)>,
    json: &'a [u8],
}

impl<'a> Stored<'a> {
    fn parse(bytes: &'a [u8]) -> Self {
        if bytes.len() >= HEADER && bytes.starts_with(MAGIC) {
            let mut fp = [0; 8];
            fp.copy_from_slice(&bytes[MAGIC.len()..MAGIC.len() + 8]);
            let mut off = [0; 4];
            off.copy_from_slice(&bytes[MAGIC.len() + 8..HEADER]);
            let json = &bytes[HEADER..];
            let close = u32::from_le_bytes(off) as usize;
            // A header that does not point at a closing brace is not trusted.
            if json.get(close) == Some(&b'}') {
                return Self { header: Some((u64::from_le_bytes(fp), close)), json };
            }
            return Self { header: None, json };
        }
        Self { header: None, json: bytes }
    }

    /// Where `resourceVersion` goes, when the bytes are canonical for `res`'s version.
    fn splice_point(&self, res: &ServedResource) -> Option<usize> {
        let (fp, close) = self.header?;
        (res.version == res.info().storage_version().name && fp == res.strategy.fingerprint()).then_some(close)
    }
}

/// Encodes an object (in any served version) for storage: converted to the storage version,
/// pruned and defaulted with its schema, without `resourceVersion`, in the envelope.
///
/// # Errors
/// 500 when the object cannot be converted.
pub fn encode(strategy: &KindStrategy, obj: &Value) -> Result<Bytes, ApiError> {
    encode_owned(strategy, obj.clone())
}

/// [`encode`] taking the object by value, so that it is not copied.
///
/// # Errors
/// 500 when the object cannot be converted.
pub fn encode_owned(strategy: &KindStrategy, obj: Value) -> Result<Bytes, ApiError> {
    let mut v = eddy_api::conversion::convert_to_storage(obj)
        .map_err(|e| ApiError::internal(format!("converting to the storage version: {e}")))?;
    let schema = &strategy.info.storage_version().schema;
    eddy_api::pruning::prune(schema, &mut v);
    eddy_api::defaulting::default(schema, &mut v);
    let Value::Object(mut top) = v else {
        return Err(ApiError::internal("a stored object must be a JSON object"));
    };
    if let Some(Value::Object(meta)) = top.get_mut("metadata") {
        meta.shift_remove("resourceVersion");
    } else {
        top.insert("metadata".into(), Value::Object(Map::new()));
    }
    // Written member by member, exactly as `serde_json` writes a map, to note where the
    // metadata object closes.
    let mut out = Vec::with_capacity(HEADER + 4096);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&strategy.fingerprint().to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(b'{');
    let mut close = 0;
    for (i, (k, val)) in top.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(&mut out, &Value::String(k.clone()));
        out.push(b':');
        write_json(&mut out, val);
        if k == "metadata" {
            close = out.len() - 1 - HEADER;
        }
    }
    out.push(b'}');
    let close = u32::try_from(close).map_err(|_| ApiError::internal("object too large to store"))?;
    out[MAGIC.len() + 8..HEADER].copy_from_slice(&close.to_le_bytes());
    Ok(Bytes::from(out))
}

fn write_json(out: &mut Vec<u8>, v: &Value) {
    // Serialising a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Decodes stored bytes into the resource's requested version, as kube-apiserver's codec
/// does: pruned and defaulted in the stored version's schema, converted, and pruned in the
/// requested version's schema (whose defaults are not applied). No `resourceVersion`.
///
/// # Errors
/// 500 when the stored bytes are not a valid object of the kind.
pub fn decode(res: &ServedResource, bytes: &[u8]) -> Result<Value, ApiError> {
    let stored = Stored::parse(bytes);
    let mut v: Value =
        serde_json::from_slice(stored.json).map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
    if stored.splice_point(res).is_some() {
        return Ok(v);
    }
    let stored_version =
        v.get("apiVersion").and_then(Value::as_str).map(|a| eddy_api::split_api_version(a).1.to_owned());
    if let Some(schema) = stored_version.as_deref().and_then(|sv| res.info().version(sv)).map(|v| &v.schema) {
        eddy_api::pruning::prune(schema, &mut v);
        eddy_api::defaulting::default(schema, &mut v);
    }
    if stored_version.as_deref() != Some(res.version) {
        v = eddy_api::conversion::convert(v, res.version)
            .map_err(|e| ApiError::internal(format!("converting stored object: {e}")))?;
        if let Some(schema) = res.info().version(res.version).map(|v| &v.schema) {
            eddy_api::pruning::prune(schema, &mut v);
        }
    }
    Ok(v)
}

/// [`decode`] with `metadata.resourceVersion` set to `revision`.
///
/// # Errors
/// As [`decode`].
pub fn decode_at(res: &ServedResource, bytes: &[u8], revision: Revision) -> Result<Value, ApiError> {
    let mut v = decode(res, bytes)?;
    if let Some(m) = v.as_object_mut() {
        let meta = m.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), json!(revision.to_string()));
        }
    }
    Ok(v)
}

/// The object as JSON in the requested version with `resourceVersion` = `revision`: the
/// stored bytes with the version spliced in when they are canonical for that version,
/// otherwise [`decode_at`] serialised.
///
/// # Errors
/// As [`decode`].
pub fn to_json(res: &ServedResource, bytes: &[u8], revision: Revision) -> Result<Bytes, ApiError> {
    let mut out = BytesMut::with_capacity(bytes.len() + 48);
    write_object(&mut out, res, bytes, revision)?;
    Ok(out.freeze())
}

/// [`to_json`], appended to `out`.
///
/// # Errors
/// As [`decode`].
pub fn write_object(
    out: &mut BytesMut,
    res: &ServedResource,
    bytes: &[u8],
    revision: Revision,
) -> Result<(), ApiError> {
    let stored = Stored::parse(bytes);
    match stored.splice_point(res) {
        Some(close) => {
            let (head, tail) = stored.json.split_at(close);
            out.reserve(stored.json.len() + 40);
            out.put_slice(head);
            // `{}` has no member to follow.
            if head.last() != Some(&b'{') {
                out.put_u8(b',');
            }
            out.put_slice(b"\"resourceVersion\":\"");
            out.put_slice(revision.to_string().as_bytes());
            out.put_u8(b'"');
            out.put_slice(tail);
        }
        None => {
            let v = decode_at(res, bytes, revision)?;
            let mut w = std::mem::take(out).writer();
            // Serialising a `Value` into memory cannot fail.
            let _ = serde_json::to_writer(&mut w, &v);
            *out = w.into_inner();
        }
    }
    Ok(())
}

/// The labels of a stored object, read without decoding the rest of it.
///
/// # Errors
/// 500 when the stored bytes are not JSON.
pub fn labels(bytes: &[u8]) -> Result<HashMap<Cow<'_, str>, Cow<'_, str>>, ApiError> {
    #[derive(Deserialize)]
    struct Top<'a> {
        #[serde(borrow, default)]
        metadata: Option<Meta<'a>>,
    }
    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(borrow, default)]
        labels: Option<HashMap<Cow<'a, str>, Cow<'a, str>>>,
    }
    let top: Top<'_> = serde_json::from_slice(Stored::parse(bytes).json)
        .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
    Ok(top.metadata.and_then(|m| m.labels).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(group: &str, plural: &str, version: &str) -> ServedResource {
        static KINDS: std::sync::OnceLock<crate::strategy::KindStrategies> = std::sync::OnceLock::new();
        KINDS
            .get_or_init(crate::strategy::KindStrategies::build)
            .resource(group, version, plural)
            .unwrap_or_else(|| panic!("{group}/{version} {plural}"))
    }

    fn sample(info: &ResourceInfo, version: &str) -> Value {
        let mut obj = json!({
            "apiVersion": info.api_version(version),
            "kind": info.kind,
            "metadata": {"name": "x", "namespace": "ns", "labels": {"app": "a\"b"}, "uid": "u1",
                         "resourceVersion": "9"},
            "spec": {"interval": "1m", "url": "https://example.com/repo", "unknownField": 1},
            "status": {"observedGeneration": 1, "conditions": []},
        });
        // A fuller spec when the kind has one of these.
        if info.kind == "Kustomization" {
            obj["spec"] = json!({"interval": "5m", "path": "./deploy", "prune": true,
                                 "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        }
        obj
    }

    /// The fast path and the slow path agree byte for byte, for every kind in its storage
    /// version; other versions and plain JSON go the slow way.
    #[test]
    fn fast_path_equals_decode() {
        for info in eddy_api::registry() {
            let storage = info.storage_version().name;
            let res = resource(info.group, info.plural, storage);
            let bytes = encode(&res.strategy, &sample(info, storage)).unwrap();
            let fast = to_json(&res, &bytes, 42).unwrap();
            let slow = serde_json::to_vec(&decode_at(&res, &bytes[HEADER..], 42).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
                "{} {}: spliced bytes differ from a decode",
                info.group,
                info.kind
            );
            let v: Value = serde_json::from_slice(&fast).unwrap();
            assert_eq!(v["metadata"]["resourceVersion"], "42");
            assert!(v["spec"].get("unknownField").is_none(), "pruned before storing");
            for version in &info.versions {
                let r = resource(info.group, info.plural, version.name);
                let a = to_json(&r, &bytes, 7).unwrap();
                let b = serde_json::to_vec(&decode_at(&r, &bytes, 7).unwrap()).unwrap();
                assert_eq!(a, b, "{} {}", info.kind, version.name);
                assert_eq!(serde_json::from_slice::<Value>(&a).unwrap()["apiVersion"], info.api_version(version.name));
            }
        }
    }

    /// Stored bytes written with a different schema (a stale fingerprint) get today's defaults.
    #[test]
    fn stale_fingerprint_takes_the_slow_path() {
        let res = resource("source.toolkit.fluxcd.io", "gitrepositories", "v1");
        let mut bytes = encode(&res.strategy, &sample(res.info(), "v1")).unwrap().to_vec();
        // Drop a defaulted field from the JSON and mark the bytes as written by another schema.
        let mut v: Value = serde_json::from_slice(&bytes[HEADER..]).unwrap();
        let timeout = v["spec"].as_object_mut().unwrap().shift_remove("timeout");
        assert_eq!(timeout, Some(json!("60s")), "the write defaulted spec.timeout");
        let mut stale = bytes[..HEADER].to_vec();
        stale[MAGIC.len()] ^= 0xff;
        stale.extend_from_slice(&serde_json::to_vec(&v).unwrap());
        bytes = stale;
        let out: Value = serde_json::from_slice(&to_json(&res, &bytes, 3).unwrap()).unwrap();
        assert_eq!(out["spec"]["timeout"], "60s");
        // Plain JSON (no envelope) is read too.
        let plain = serde_json::to_vec(&v).unwrap();
        let out: Value = serde_json::from_slice(&to_json(&res, &plain, 3).unwrap()).unwrap();
        assert_eq!(out["spec"]["timeout"], "60s");
        assert_eq!(out["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn labels_are_read_without_a_decode() {
        let res = resource("source.toolkit.fluxcd.io", "gitrepositories", "v1");
        let bytes = encode(&res.strategy, &sample(res.info(), "v1")).unwrap();
        let l = labels(&bytes).unwrap();
        assert_eq!(l.get("app").map(AsRef::as_ref), Some("a\"b"));
        assert!(labels(br#"{"metadata":{}}"#).unwrap().is_empty());
    }
}
