//! Content negotiation: which representation an `Accept` header asks for.
//!
//! Every answer is JSON; what varies is the shape. A media range may ask for aggregated
//! discovery (`as=APIGroupDiscoveryList`), a `Table` or `PartialObjectMetadata` through its
//! `as`/`g`/`v` parameters, as kube-apiserver reads them. Ranges are taken in the client's
//! order, first acceptable wins (kube-apiserver does not weigh `q` either).

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
}
