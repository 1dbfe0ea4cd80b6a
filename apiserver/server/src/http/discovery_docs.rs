//! Discovery and OpenAPI documents: precomputed answers with their ETags, 304 for a client
//! that has them, 406 for media types they are not served in.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A precomputed discovery answer with its ETag.
pub(super) struct Cached {
    body: Bytes,
    etag: String,
}

impl Cached {
    pub(super) fn new(v: &Value) -> Self {
        let body = Bytes::from(v.to_string());
        let etag = format!("\"{:x}\"", Sha256::digest(&body));
        Self { body, etag }
    }
}

/// A published document, answered 304 when the client has it already.
pub(super) fn published(headers: &HeaderMap, doc: &crate::openapi::Published) -> Response {
    let etag = format!("\"{}\"", doc.hash);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes_response(StatusCode::OK, doc.body.clone(), "application/json")
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

pub(super) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-eddy.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// A document only served as plain JSON: 406 for anything else.
pub(super) fn plain_json(headers: &HeaderMap, doc: &Value) -> Result<Response, ApiError> {
    match discovery_format(&accept(headers)) {
        Some(DiscoveryFormat::Legacy) => Ok(json_response(StatusCode::OK, doc)),
        _ => Err(ApiError::not_acceptable("only application/json is served here")),
    }
}

pub(super) fn discovery_root<E: KvEngine>(
    shared: &HttpState<E>,
    headers: &HeaderMap,
    legacy: &Value,
    core: bool,
) -> Result<Response, ApiError> {
    let format = discovery_format(&accept(headers)).ok_or_else(|| {
        ApiError::not_acceptable(
            "only application/json and the aggregated discovery types apidiscovery.k8s.io v2 and v2beta1 are served",
        )
    })?;
    let cached = match (format, core) {
        (DiscoveryFormat::Legacy, _) => {
            let mut r = json_response(StatusCode::OK, legacy);
            r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
            return Ok(r);
        }
        (DiscoveryFormat::AggregatedV2, false) => &shared.apis_v2,
        (DiscoveryFormat::AggregatedV2Beta1, false) => &shared.apis_v2beta1,
        (DiscoveryFormat::AggregatedV2, true) => &shared.api_v2,
        (DiscoveryFormat::AggregatedV2Beta1, true) => &shared.api_v2beta1,
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == cached.etag));
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes_response(StatusCode::OK, cached.body.clone(), format.content_type())
    };
    if let Ok(v) = HeaderValue::from_str(&cached.etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(r)
}
