//! Content negotiation: which representation an `Accept` header asks for.
//!
//! Answers are JSON, and objects (and their lists) also YAML; what varies is the shape. A media
//! range may ask for aggregated discovery (`as=APIGroupDiscoveryList`), a `Table` or
//! `PartialObjectMetadata` through its `as`/`g`/`v` parameters, as kube-apiserver reads them.
//! Ranges are taken in the client's order, first acceptable wins (kube-apiserver does not weigh
//! `q` either). Request bodies may be JSON or YAML ([`decode_yaml`]).

use serde_json::Value;

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    /// `application/json`, `*/*`, ...
    pub essence: String,
    /// The `as` parameter (the object kind asked for), if any.
    pub as_kind: Option<String>,
    /// The `g` parameter (group of that kind).
    pub group: Option<String>,
    /// The `v` parameter (version of that kind).
    pub version: Option<String>,
}

impl MediaRange {
    fn is_json(&self) -> bool {
        matches!(self.essence.as_str(), "application/json" | "application/*" | "*/*")
    }

    fn is_yaml(&self) -> bool {
        self.essence == "application/yaml"
    }
}

/// How an answer about objects is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/yaml` (objects and lists only, never watch streams or tables).
    Yaml,
}

impl Encoding {
    /// The `Content-Type` of an answer in this encoding.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Yaml => "application/yaml",
        }
    }
}

/// Parses an `Accept` header into its ranges; a missing or empty header accepts anything.
#[must_use]
pub fn parse_accept(header: Option<&str>) -> Vec<MediaRange> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).unwrap_or("*/*");
    header
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let essence = parts.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let mut m = MediaRange { essence, as_kind: None, group: None, version: None };
            for p in parts {
                let Some((k, v)) = p.split_once('=') else { continue };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim() {
                    "as" => m.as_kind = Some(v),
                    "g" => m.group = Some(v),
                    "v" => m.version = Some(v),
                    _ => {}
                }
            }
            Some(m)
        })
        .collect()
}

/// The shape of a discovery answer at `/api` or `/apis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFormat {
    /// `APIGroupList` / `APIVersions`.
    Legacy,
    /// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`.
    AggregatedV2,
    /// `apidiscovery.k8s.io/v2beta1` `APIGroupDiscoveryList`.
    AggregatedV2Beta1,
}

impl DiscoveryFormat {
    /// The `Content-Type` of an answer in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            DiscoveryFormat::Legacy => "application/json",
            DiscoveryFormat::AggregatedV2 => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            DiscoveryFormat::AggregatedV2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }
}

/// Chooses the discovery format; `None` means 406.
#[must_use]
pub fn discovery_format(ranges: &[MediaRange]) -> Option<DiscoveryFormat> {
    ranges.iter().find_map(|r| {
        if !r.is_json() {
            return None;
        }
        match (r.as_kind.as_deref(), r.group.as_deref(), r.version.as_deref()) {
            (None, _, _) => Some(DiscoveryFormat::Legacy),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                Some(DiscoveryFormat::AggregatedV2)
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) => {
                Some(DiscoveryFormat::AggregatedV2Beta1)
            }
            _ => None,
        }
    })
}

/// The shape of an answer about objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectFormat {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io` `Table` of the given version (`v1` or `v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` (or its list) of the given version.
    PartialMetadata(&'static str),
}

/// Chooses how to render objects; `None` means 406.
#[must_use]
pub fn object_format(ranges: &[MediaRange]) -> Option<ObjectFormat> {
    ranges.iter().find_map(|r| {
        if !r.is_json() {
            return None;
        }
        let meta_version = match (r.group.as_deref(), r.version.as_deref()) {
            (Some("meta.k8s.io"), Some("v1")) => Some("v1"),
            (Some("meta.k8s.io"), Some("v1beta1")) => Some("v1beta1"),
            _ => None,
        };
        match r.as_kind.as_deref() {
            None => Some(ObjectFormat::Object),
            Some("Table") => meta_version.map(ObjectFormat::Table),
            Some("PartialObjectMetadata" | "PartialObjectMetadataList") => {
                meta_version.map(ObjectFormat::PartialMetadata)
            }
            Some(_) => None,
        }
    })
}

/// Chooses how to render objects and in which encoding; `None` means 406. YAML is offered for
/// the objects themselves (`application/yaml` without `as`), as kube-apiserver offers it.
#[must_use]
pub fn object_negotiation(ranges: &[MediaRange]) -> Option<(ObjectFormat, Encoding)> {
    ranges.iter().find_map(|r| {
        if r.is_yaml() {
            return r.as_kind.is_none().then_some((ObjectFormat::Object, Encoding::Yaml));
        }
        object_format(std::slice::from_ref(r)).map(|f| (f, Encoding::Json))
    })
}

/// Whether an `Accept` header's first acceptable range is YAML (errors are then YAML too).
#[must_use]
pub fn prefers_yaml(ranges: &[MediaRange]) -> bool {
    matches!(object_negotiation(ranges), Some((_, Encoding::Yaml)))
}

/// Decodes a YAML (or JSON, which is YAML) request body holding exactly one document.
///
/// # Errors
/// The parser's message, or a note that the body holds several documents.
pub fn decode_yaml(bytes: &[u8]) -> Result<Value, String> {
    use serde::Deserialize as _;
    let mut docs = serde_norway::Deserializer::from_slice(bytes);
    let Some(first) = docs.next() else { return Ok(Value::Null) };
    let value = Value::deserialize(first).map_err(|e| e.to_string())?;
    if docs.next().is_some() {
        return Err("the body holds more than one YAML document; send one object per request".to_owned());
    }
    Ok(value)
}

/// Serializes a value as YAML with map keys sorted, as kube-apiserver's YAML serializer writes
/// them.
#[must_use]
pub fn encode_yaml(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_norway::to_string(&sorted(v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_negotiation() {
        let check = |accept: Option<&str>, want: Option<DiscoveryFormat>| {
            assert_eq!(discovery_format(&parse_accept(accept)), want, "{accept:?}");
        };
        check(None, Some(DiscoveryFormat::Legacy));
        check(Some("application/json"), Some(DiscoveryFormat::Legacy));
        check(Some("*/*"), Some(DiscoveryFormat::Legacy));
        check(
            Some(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
            ),
            Some(DiscoveryFormat::AggregatedV2),
        );
        check(
            Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            Some(DiscoveryFormat::AggregatedV2Beta1),
        );
        check(Some("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"), None);
        check(Some("application/vnd.kubernetes.protobuf"), None);
        check(Some("application/yaml"), None);
    }

    #[test]
    fn object_negotiation() {
        let check = |accept: Option<&str>, want: Option<ObjectFormat>| {
            assert_eq!(object_format(&parse_accept(accept)), want, "{accept:?}");
        };
        check(None, Some(ObjectFormat::Object));
        check(
            Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            ),
            Some(ObjectFormat::Table("v1")),
        );
        check(Some("application/json;as=Table;v=v2;g=meta.k8s.io, application/json"), Some(ObjectFormat::Object));
        check(
            Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
            Some(ObjectFormat::PartialMetadata("v1")),
        );
        check(Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"), None);
        check(Some("text/html"), None);
    }

    #[test]
    fn yaml_negotiation_and_codec() {
        let check = |accept: Option<&str>, want: Option<(ObjectFormat, Encoding)>| {
            assert_eq!(super::object_negotiation(&parse_accept(accept)), want, "{accept:?}");
        };
        check(None, Some((ObjectFormat::Object, Encoding::Json)));
        check(Some("application/yaml"), Some((ObjectFormat::Object, Encoding::Yaml)));
        check(Some("application/yaml, application/json"), Some((ObjectFormat::Object, Encoding::Yaml)));
        check(Some("application/json, application/yaml"), Some((ObjectFormat::Object, Encoding::Json)));
        check(
            Some("application/yaml;as=Table;v=v1;g=meta.k8s.io, application/json"),
            Some((ObjectFormat::Object, Encoding::Json)),
        );
        check(Some("application/yaml;as=Table;v=v1;g=meta.k8s.io"), None);
        check(Some("text/yaml"), None);

        let v = decode_yaml(b"kind: K\nspec:\n  b: 1\n  a: [x, 'y']\n").unwrap_or_default();
        assert_eq!(v, serde_json::json!({"kind": "K", "spec": {"b": 1, "a": ["x", "y"]}}));
        assert_eq!(decode_yaml(br#"{"a": true}"#), Ok(serde_json::json!({"a": true})));
        assert!(decode_yaml(b"a: 1\n---\nb: 2\n").is_err_and(|e| e.contains("more than one")));
        assert!(decode_yaml(b"a: [1\n").is_err());
        assert_eq!(
            encode_yaml(&serde_json::json!({"b": 1, "a": {"d": "x", "c": true}})),
            "a:\n  c: true\n  d: x\nb: 1\n"
        );
    }
}
