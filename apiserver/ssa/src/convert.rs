//! Version skew: managers record their fields in the apiVersion they wrote with. Like
//! kube-apiserver, the engine converts *objects* (never field sets) to each manager's version
//! and computes that manager's changes there. A [`VersionConverter`] does the object
//! conversion; a version the converter (or the schema table) does not know drops the managers
//! recorded in it, as kube does for versions no longer served.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::ObjectType;

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The target version is not served (managers in it are dropped, as kube does).
    #[error("no corresponding type for {0}")]
    MissingVersion(String),
    /// Conversion failed.
    #[error("{0}")]
    Failed(String),
}

/// Converts whole objects between served versions of one kind.
pub trait VersionConverter: Send + Sync {
    /// `obj` (whose `apiVersion` says its version) in `to_api_version` (`group/version`).
    ///
    /// # Errors
    /// [`ConvertError::MissingVersion`] for a version that is not served.
    fn convert(&self, obj: &Value, to_api_version: &str) -> Result<Value, ConvertError>;
}

fn with_api_version(obj: &Value, to: &str) -> Value {
    let mut out = obj.clone();
    if let Value::Object(m) = &mut out {
        m.insert("apiVersion".to_owned(), Value::from(to));
    }
    out
}

/// kube-apiserver's conversion for CRDs with `strategy: None`: only `apiVersion` changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiVersionOnly;

impl VersionConverter for ApiVersionOnly {
    fn convert(&self, obj: &Value, to_api_version: &str) -> Result<Value, ConvertError> {
        Ok(with_api_version(obj, to_api_version))
    }
}

/// A field that lives at another path in another version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// `group/version` where the field is at `from`.
    pub from_version: String,
    /// Its path there (field names).
    pub from: Vec<String>,
    /// `group/version` where the field is at `to`.
    pub to_version: String,
    /// Its path there.
    pub to: Vec<String>,
}

/// Conversion that moves renamed fields (both directions) and rewrites `apiVersion`; every other
/// field is identical between the versions (true of most Flux v1beta2 → v1 paths).
#[derive(Debug, Clone, Default)]
pub struct FieldRenames {
    renames: Vec<Rename>,
}

impl FieldRenames {
    /// Conversion with the given renames.
    #[must_use]
    pub fn new(renames: Vec<Rename>) -> Self {
        FieldRenames { renames }
    }
}

fn take_path(v: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = v;
    for p in parents {
        cur = cur.get_mut(p)?;
    }
    cur.as_object_mut()?.remove(last)
}

fn put_path(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = v;
    for p in parents {
        let Value::Object(m) = cur else { return };
        cur = m.entry(p.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if let Value::Object(m) = cur {
        m.insert(last.clone(), value);
    }
}

impl VersionConverter for FieldRenames {
    fn convert(&self, obj: &Value, to_api_version: &str) -> Result<Value, ConvertError> {
        let from = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut out = with_api_version(obj, to_api_version);
        if from == to_api_version {
            return Ok(out);
        }
        for r in &self.renames {
            let (src, dst) = if r.from_version == from && r.to_version == to_api_version {
                (&r.from, &r.to)
            } else if r.to_version == from && r.from_version == to_api_version {
                (&r.to, &r.from)
            } else {
                continue;
            };
            if let Some(v) = take_path(&mut out, src) {
                put_path(&mut out, dst, v);
            }
        }
        Ok(out)
    }
}

/// Eddy's own conversion between the served versions of a Flux kind
/// ([`eddy_api::conversion::convert`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct EddyConversion;

impl VersionConverter for EddyConversion {
    fn convert(&self, obj: &Value, to_api_version: &str) -> Result<Value, ConvertError> {
        let (_, version) = eddy_api::split_api_version(to_api_version);
        eddy_api::conversion::convert(obj.clone(), version).map_err(|e| match e {
            eddy_api::conversion::ConversionError::UnknownVersion { .. }
            | eddy_api::conversion::ConversionError::UnknownKind { .. } => {
                ConvertError::MissingVersion(to_api_version.to_owned())
            }
            other => ConvertError::Failed(other.to_string()),
        })
    }
}

/// The object types of every served version of a kind, and how to convert between them.
pub struct KindTypes {
    group: String,
    kind: String,
    versions: BTreeMap<String, ObjectType>,
    converter: Box<dyn VersionConverter>,
}

impl std::fmt::Debug for KindTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindTypes")
            .field("group", &self.group)
            .field("kind", &self.kind)
            .field("versions", &self.versions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KindTypes {
    /// A kind with its versions' whole-object schemas (version names like `v1`).
    #[must_use]
    pub fn new<'a>(
        group: &str,
        kind: &str,
        versions: impl IntoIterator<Item = (&'a str, &'a eddy_api::Schema)>,
        converter: Box<dyn VersionConverter>,
    ) -> Self {
        let versions = versions
            .into_iter()
            .map(|(v, s)| (if group.is_empty() { v.to_owned() } else { format!("{group}/{v}") }, ObjectType::new(s)))
            .collect();
        KindTypes { group: group.to_owned(), kind: kind.to_owned(), versions, converter }
    }

    /// The API group.
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The object type of a served `group/version`.
    #[must_use]
    pub fn object_type(&self, api_version: &str) -> Option<&ObjectType> {
        self.versions.get(api_version)
    }

    /// Converts an object to `to_api_version` (unchanged when already there).
    ///
    /// # Errors
    /// [`ConvertError::MissingVersion`] when the version is not served.
    pub fn convert(&self, obj: &Value, to_api_version: &str) -> Result<Value, ConvertError> {
        if !self.versions.contains_key(to_api_version) {
            return Err(ConvertError::MissingVersion(to_api_version.to_owned()));
        }
        if obj.get("apiVersion").and_then(Value::as_str) == Some(to_api_version) {
            return Ok(obj.clone());
        }
        self.converter.convert(obj, to_api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_move_fields_both_ways() {
        let c = FieldRenames::new(vec![Rename {
            from_version: "g/v1beta2".into(),
            from: vec!["spec".into(), "valuesFile".into()],
            to_version: "g/v1".into(),
            to: vec!["spec".into(), "file".into()],
        }]);
        let old = json!({"apiVersion": "g/v1beta2", "spec": {"valuesFile": "a", "x": 1}});
        let new = c.convert(&old, "g/v1").unwrap();
        assert_eq!(new, json!({"apiVersion": "g/v1", "spec": {"file": "a", "x": 1}}));
        assert_eq!(c.convert(&new, "g/v1beta2").unwrap(), old);
        assert_eq!(ApiVersionOnly.convert(&old, "g/v1").unwrap()["spec"]["valuesFile"], "a");
    }
}
