//! Request parsing: bodies (JSON, YAML, size and nesting limits), media types, write, patch
//! and delete options.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn accept(headers: &HeaderMap) -> Vec<crate::negotiate::MediaRange> {
    parse_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

pub(super) async fn read_bytes(req: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is larger than {MAX_BODY_BYTES} bytes")))
}

/// Reads a JSON body (`null` when empty).
pub(super) async fn read_body(req: Request) -> Result<Value, ApiError> {
    let bytes = read_bytes(req).await?;
    decode_body(&bytes, BodyType::Json)
}

/// The media types of object bodies (`POST`, `PUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyType {
    Json,
    Yaml,
}

pub(super) fn decode_body(bytes: &[u8], kind: BodyType) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    match kind {
        BodyType::Json => serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}"))),
        BodyType::Yaml => {
            let value = decode_yaml(bytes)
                .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?;
            within_nesting(value)
        }
    }
}

/// Refuses a YAML document nested deeper than JSON can be read back (the YAML decoder allows
/// one level more than the JSON one): stored, it would become an object nobody can read.
pub(super) fn within_nesting(value: Value) -> Result<Value, ApiError> {
    let depth = crate::patch::nesting(&value);
    if depth > crate::patch::MAX_NESTING {
        return Err(ApiError::bad_request(format!(
            "the request body is nested {depth} levels deep, more than the limit of {}",
            crate::patch::MAX_NESTING
        )));
    }
    Ok(value)
}

pub(super) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The body type of a create or update: JSON or YAML, as kube-apiserver reads custom resources.
pub(super) fn body_type(headers: &HeaderMap) -> Result<BodyType, ApiError> {
    match content_type(headers).as_str() {
        "" | "application/json" | "*/*" => Ok(BodyType::Json),
        "application/yaml" => Ok(BodyType::Yaml),
        _ => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        )),
    }
}

pub(super) fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let field_manager = match query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) if m.chars().count() > 128 => {
            return Err(ApiError::bad_request("fieldManager must be at most 128 characters long"));
        }
        Some(m) => m.to_owned(),
        None => manager_from_user_agent(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())),
    };
    Ok(WriteOptions { dry_run: query.dry_run()?, field_validation: query.field_validation()?, field_manager })
}

/// The manager kube-apiserver records for a non-apply write without `fieldManager`: the user
/// agent's part before the first `/`, printable characters only, at most 128 bytes (the field
/// manager turns an empty one into `unknown`).
#[must_use]
pub fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    let prefix = user_agent.unwrap_or_default().split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// kube's `ValidatePatchOptions`: `fieldManager` is required for apply, `force` only allowed
/// there (422 about `PatchOptions`, as kube-apiserver answers).
pub(super) fn validate_patch_options(query: &Query, apply: bool) -> Result<(), ApiError> {
    use eddy_api::validation::{ErrorType, FieldError};
    let manager = query.get("fieldManager").unwrap_or_default();
    let mut errors = Vec::new();
    if !apply && query.get("force").is_some() {
        errors.push(FieldError {
            error_type: ErrorType::Forbidden,
            field: "force".into(),
            bad_value: None,
            detail: "may not be specified for non-apply patch".into(),
        });
    }
    if apply && manager.is_empty() {
        errors.push(FieldError::required("fieldManager", "is required for apply patch"));
    }
    if manager.len() > 128 {
        errors.push(FieldError::too_long("fieldManager", json!(manager), 128));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let target = Target { group: "meta.k8s.io".into(), resource: "PatchOptions".into(), name: String::new() };
    Err(ApiError::invalid(target, "PatchOptions", &errors))
}

pub(super) fn negotiate_objects(headers: &HeaderMap) -> Result<(ObjectFormat, Encoding), ApiError> {
    object_negotiation(&accept(headers)).ok_or_else(|| {
        ApiError::not_acceptable(
            "only application/json (also as Table or PartialObjectMetadata, meta.k8s.io v1 and v1beta1) \
             and application/yaml are served",
        )
    })
}

pub(super) fn delete_options(query: &Query, body: &Value) -> Result<DeleteOptions, ApiError> {
    if !body.is_null() && !body.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    let dry_run_body = body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    let policy = body.get("propagationPolicy").and_then(Value::as_str).or_else(|| query.get("propagationPolicy"));
    Ok(DeleteOptions {
        dry_run: query.dry_run()? || dry_run_body,
        uid: body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_owned),
        resource_version: body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_owned),
        propagation_policy: policy.map(str::to_owned),
    })
}

/// The patch types served for custom resources (kube-apiserver serves no strategic merge
/// patch for them; CBOR apply bodies are not implemented).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PatchKind {
    Merge,
    Json,
    Apply,
}

pub(super) fn patch_kind(content_type: &str) -> Result<PatchKind, ApiError> {
    match content_type {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        _ => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )),
    }
}
