//! The handlers of a collection (`POST`, deletecollection) and of one object (`GET`, `PUT`,
//! `PATCH`, `DELETE`, and the status subresource).

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn collection<E: KvEngine>(
    shared: &HttpState<E>,
    res: &ServedResource,
    namespace: &str,
    query: &Query,
    req: Request,
) -> Result<Response, ApiError> {
    match *req.method() {
        Method::GET => list_or_watch(shared, res, Some(namespace), query, req.headers(), is_loopback(&req)).await,
        Method::POST => {
            let body_type = body_type(req.headers())?;
            let (format, encoding) = negotiate_objects(req.headers())?;
            let opts = write_options(query, req.headers())?;
            let body = decode_body(&read_bytes(req).await?, body_type)?;
            let written = shared.registry.create(res, namespace, body, &opts).await?;
            Ok(with_warnings(
                written_response(res, StatusCode::CREATED, &written, format, encoding, query)?,
                &written.warnings,
            ))
        }
        Method::DELETE => {
            let selectors = Selectors { labels: query.label_selector()?, fields: query.field_selector()? };
            let opts = delete_options(query, &Value::Null)?;
            let deleted =
                shared.registry.delete_collection(res, namespace, move |o| selectors.matches(o), &opts).await?;
            let list = list_body(res, &deleted);
            Ok(json_response(StatusCode::OK, &list))
        }
        _ => Err(ApiError::method_not_allowed(format!("{} is not supported on a collection", req.method()))),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn object<E: KvEngine>(
    shared: &HttpState<E>,
    res: &ServedResource,
    namespace: &str,
    name: &str,
    status: bool,
    query: &Query,
    req: Request,
) -> Result<Response, ApiError> {
    let (format, encoding) = negotiate_objects(req.headers())?;
    match *req.method() {
        Method::GET => {
            if let Some(rv) = query.get("resourceVersion").filter(|r| !r.is_empty() && *r != "0") {
                let n = parse_resource_version(rv)?;
                let current = shared.registry.store().current_revision();
                if n > current {
                    return Err(ApiError::too_large_resource_version(n, current));
                }
            }
            if matches!(format, ObjectFormat::Object) && encoding == Encoding::Json {
                let body = shared.registry.get_json(res, namespace, name).await?;
                return Ok(bytes_response(StatusCode::OK, body, "application/json"));
            }
            let obj = shared.registry.get(res, namespace, name).await?;
            Ok(object_response(StatusCode::OK, &render_object(res, &obj, format, query)?, encoding))
        }
        Method::PUT => {
            let body_type = body_type(req.headers())?;
            let opts = write_options(query, req.headers())?;
            let body = decode_body(&read_bytes(req).await?, body_type)?;
            let written = shared.registry.update(res, namespace, name, body, status, &opts).await?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_warnings(written_response(res, code, &written, format, encoding, query)?, &written.warnings))
        }
        Method::PATCH => {
            let kind = patch_kind(&content_type(req.headers()))?;
            validate_patch_options(query, kind == PatchKind::Apply)?;
            let mut opts = write_options(query, req.headers())?;
            let bytes = read_bytes(req).await?;
            let body = match kind {
                PatchKind::Apply => {
                    let config = within_nesting(
                        decode_yaml(&bytes).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
                    )?;
                    if !config.is_object() && !config.is_null() {
                        return Err(ApiError::bad_request(
                            "error decoding YAML: an apply configuration must be an object",
                        ));
                    }
                    // An apply is recorded under its fieldManager only (never the user agent).
                    opts.field_manager = query.get("fieldManager").unwrap_or_default().to_owned();
                    config
                }
                _ => decode_body(&bytes, BodyType::Json)?,
            };
            let change = match kind {
                PatchKind::Merge => {
                    if !body.is_object() {
                        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                    }
                    Change::MergePatch(&body)
                }
                PatchKind::Json => Change::JsonPatch(&body),
                // Create-on-apply goes through the same namespace admission as a POST, inside
                // the write.
                PatchKind::Apply => Change::Apply { config: &body, force: query.flag("force") },
            };
            let written = shared.registry.write(res, namespace, name, status, change, &opts).await?;
            let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_warnings(written_response(res, code, &written, format, encoding, query)?, &written.warnings))
        }
        Method::DELETE if !status => {
            let body = read_body(req).await?;
            let del = delete_options(query, &body)?;
            let obj = shared.registry.delete(res, namespace, name, &del).await?;
            Ok(object_response(StatusCode::OK, &render_object(res, &obj, format, query)?, encoding))
        }
        _ => Err(ApiError::method_not_allowed(format!("{} is not supported here", req.method()))),
    }
}
