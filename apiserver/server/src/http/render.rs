//! Rendering answers: objects, lists and errors in the negotiated encoding, with `Warning`
//! and `Retry-After` headers.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Renders an error as a `Status` answer.
#[must_use]
pub fn error_response(e: &ApiError) -> Response {
    with_retry_after(json_response(e.status_code(), &e.to_status()), e)
}

pub(super) fn with_retry_after(mut r: Response, e: &ApiError) -> Response {
    if let Some(s) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An object (or list, or Status) in the negotiated encoding.
pub(super) fn object_response(status: StatusCode, body: &Value, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Json => json_response(status, body),
        Encoding::Yaml => bytes_response(status, Bytes::from(encode_yaml(body)), encoding.content_type()),
    }
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    bytes_response(status, Bytes::from(body.to_string()), "application/json")
}

pub(super) fn bytes_response(status: StatusCode, body: Bytes, content_type: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(super) fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// Renders one object in the negotiated shape.
pub(super) fn render_object(
    res: &ServedResource,
    obj: &Value,
    format: ObjectFormat,
    query: &Query,
) -> Result<Value, ApiError> {
    Ok(match format {
        ObjectFormat::Object => obj.clone(),
        ObjectFormat::PartialMetadata(v) => partial_metadata(obj, v),
        ObjectFormat::Table(v) => {
            let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
            table(res, std::slice::from_ref(obj), json!({"resourceVersion": rv}), v, query.include_object()?)
        }
    })
}

/// The answer to a write: the codec's JSON as it is for a plain JSON object, else rendered.
pub(super) fn written_response(
    res: &ServedResource,
    code: StatusCode,
    written: &Written,
    format: ObjectFormat,
    encoding: Encoding,
    query: &Query,
) -> Result<Response, ApiError> {
    if let (WrittenObject::Json(json), ObjectFormat::Object, Encoding::Json) = (&written.object, format, encoding) {
        return Ok(bytes_response(code, json.clone(), "application/json"));
    }
    let object = written.object.value()?;
    let rendered = render_object(res, &object, format, query)?;
    Ok(object_response(code, &rendered, encoding))
}
