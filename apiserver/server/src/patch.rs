//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on unstructured objects.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// Most operations in one JSON patch (kube-apiserver's `maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes one JSON patch may copy in all (kube-apiserver's default
/// `JSONPatchMaxCopyBytes`): without it, a few dozen `copy` operations double a document
/// into gigabytes.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Deepest nesting of arrays and objects a patched document may reach: what the JSON decoder
/// reads back (serde_json's recursion limit), so nothing written becomes unreadable, and no
/// recursive walk of a document can exhaust the stack.
pub const MAX_NESTING: usize = 127;

/// Nesting depth of a value (a scalar is 0, `[]` is 1), computed without recursion.
#[must_use]
pub fn nesting(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(m) => Box::new(m.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

/// Roughly the bytes of a value's JSON (exact for ASCII without escapes), without recursion
/// and without building the text.
fn json_size(value: &Value) -> usize {
    let mut size = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        size = size.saturating_add(match v {
            Value::Null => 4,
            Value::Bool(b) => {
                if *b {
                    4
                } else {
                    5
                }
            }
            Value::Number(n) => n.to_string().len(),
            Value::String(s) => s.len() + 2,
            Value::Array(a) => {
                stack.extend(a.iter());
                2 + a.len()
            }
            Value::Object(m) => {
                stack.extend(m.values());
                2 + m.keys().map(|k| k.len() + 4).sum::<usize>()
            }
        });
    }
    size
}

/// Applies a JSON merge patch: objects merge recursively, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Decodes one RFC 6901 pointer token.
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path {path:?} must start with /"));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if token == "-" && allow_end {
        return Ok(len);
    }
    let valid =
        !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    let i: usize = if valid {
        token.parse().map_err(|_| format!("invalid index {token:?}"))?
    } else {
        return Err(format!("invalid array index {token:?}"));
    };
    if i > len || (i == len && !allow_end) {
        return Err(format!("index {i} is out of bounds for an array of length {len}"));
    }
    Ok(i)
}

fn parent<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("path segment {t:?} does not exist"))?,
            Value::Array(a) => {
                let i = array_index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("path segment {t:?} is inside a scalar")),
        };
    }
    Ok(cur)
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, String> {
    doc.pointer(path).ok_or_else(|| format!("path {path:?} does not exist"))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = split_pointer(path)?;
    if tokens.len() + nesting(&value) > MAX_NESTING {
        return Err(format!("adding at {path:?} would nest the document deeper than {MAX_NESTING} levels"));
    }
    let Some((last, init)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = array_index(last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("cannot add {path:?}: its parent is a scalar")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = split_pointer(path)?;
    let Some((last, init)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match parent(doc, init)? {
        Value::Object(m) => m.shift_remove(last).ok_or_else(|| format!("path {path:?} does not exist")),
        Value::Array(a) => {
            let i = array_index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove {path:?}: its parent is a scalar")),
    }
}

fn field<'a>(op: &'a Value, name: &str, index: usize) -> Result<&'a Value, String> {
    op.get(name).ok_or_else(|| format!("operation {index} has no {name:?}"))
}

fn field_str<'a>(op: &'a Value, name: &str, index: usize) -> Result<&'a str, String> {
    field(op, name, index)?.as_str().ok_or_else(|| format!("operation {index}: {name:?} must be a string"))
}

/// Applies a JSON patch (a list of operations) to `doc`, all or nothing.
///
/// # Errors
/// 422 when an operation fails (missing path, failed `test`, a document nested too deep or
/// copies beyond [`MAX_JSON_PATCH_COPY_BYTES`]), 413 for more than
/// [`MAX_JSON_PATCH_OPERATIONS`] operations, 400 when the patch is malformed.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, ApiError> {
    let Some(ops) = patch.as_array() else {
        return Err(ApiError::bad_request("a JSON patch must be a list of operations"));
    };
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let mut out = doc.clone();
    let mut copied = 0usize;
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut out, op, i, &mut copied).map_err(|e| ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("the server rejected our request due to an error in our request: {e}"),
            target: None,
            causes: Vec::new(),
            retry_after: None,
        })?;
    }
    Ok(out)
}

fn apply_op(doc: &mut Value, op: &Value, i: usize, copied: &mut usize) -> Result<(), String> {
    let path = field_str(op, "path", i)?;
    match field_str(op, "op", i)? {
        "add" => add(doc, path, field(op, "value", i)?.clone()),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            get(doc, path)?;
            if path.is_empty() {
                *doc = field(op, "value", i)?.clone();
                return Ok(());
            }
            remove(doc, path)?;
            add(doc, path, field(op, "value", i)?.clone())
        }
        "move" => {
            let from = field_str(op, "from", i)?;
            if path.starts_with(from) && path[from.len()..].starts_with('/') {
                return Err(format!("cannot move {from:?} into its own child {path:?}"));
            }
            let v = remove(doc, from)?;
            add(doc, path, v)
        }
        "copy" => {
            let from = get(doc, field_str(op, "from", i)?)?;
            *copied = copied.saturating_add(json_size(from));
            if *copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(format!(
                    "operation {i}: the patch copies more than {MAX_JSON_PATCH_COPY_BYTES} bytes in all"
                ));
            }
            let v = from.clone();
            add(doc, path, v)
        }
        "test" => {
            let want = field(op, "value", i)?;
            if get(doc, path)? == want { Ok(()) } else { Err(format!("testing value {path:?} failed")) }
        }
        other => Err(format!("unknown operation {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let check = |target: Value, patch: Value, want: Value| {
            let mut t = target.clone();
            merge_patch(&mut t, &patch);
            assert_eq!(t, want, "{target} + {patch}");
        };
        check(json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"}));
        check(json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"}));
        check(json!({"a": "b"}), json!({"a": null}), json!({}));
        check(json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"}));
        check(json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"}));
        check(json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]}));
        check(json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}}));
        check(json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]}));
        check(json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"]));
        check(json!({"a": "b"}), json!(["c"]), json!(["c"]));
        check(json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1}));
        check(json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"}));
        check(json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}}));
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"spec": {"list": [1, 2, 3], "a~b": {"c/d": 1}}, "metadata": {"name": "x"}});
        let check = |patch: Value, want: Result<Value, &str>| {
            let got = json_patch(&doc, &patch);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{patch}"),
                (Err(e), Err(w)) => assert!(e.message.contains(w), "{patch}: {} lacks {w}", e.message),
                (g, w) => panic!("{patch}: got {g:?}, want {w:?}"),
            }
        };
        let with_spec = |spec: Value| json!({"spec": spec, "metadata": {"name": "x"}});
        check(
            json!([{"op": "add", "path": "/spec/list/1", "value": 9}]),
            Ok(with_spec(json!({"list": [1, 9, 2, 3], "a~b": {"c/d": 1}}))),
        );
        check(
            json!([{"op": "add", "path": "/spec/list/-", "value": 9}]),
            Ok(with_spec(json!({"list": [1, 2, 3, 9], "a~b": {"c/d": 1}}))),
        );
        check(
            json!([{"op": "remove", "path": "/spec/a~0b/c~1d"}]),
            Ok(with_spec(json!({"list": [1, 2, 3], "a~b": {}}))),
        );
        check(
            json!([{"op": "replace", "path": "/spec/list/0", "value": 0}]),
            Ok(with_spec(json!({"list": [0, 2, 3], "a~b": {"c/d": 1}}))),
        );
        check(
            json!([{"op": "move", "from": "/spec/list", "path": "/spec/moved"}]),
            Ok(with_spec(json!({"a~b": {"c/d": 1}, "moved": [1, 2, 3]}))),
        );
        check(
            json!([{"op": "copy", "from": "/metadata/name", "path": "/spec/name"}]),
            Ok(with_spec(json!({"list": [1, 2, 3], "a~b": {"c/d": 1}, "name": "x"}))),
        );
        check(json!([{"op": "test", "path": "/metadata/name", "value": "x"}]), Ok(doc.clone()));
        check(json!([{"op": "test", "path": "/metadata/name", "value": "y"}]), Err("testing value"));
        check(json!([{"op": "replace", "path": "/spec/missing", "value": 1}]), Err("does not exist"));
        check(json!([{"op": "add", "path": "/spec/list/7", "value": 1}]), Err("out of bounds"));
        check(json!([{"op": "add", "path": "/spec/list/01", "value": 1}]), Err("invalid array index"));
        check(json!([{"op": "remove", "path": "/spec/list/3"}]), Err("out of bounds"));
        check(json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]), Err("own child"));
        check(json!([{"op": "frob", "path": "/a"}]), Err("unknown operation"));
        check(json!([{"path": "/a"}]), Err("no \"op\""));
        check(json!({"op": "add"}), Err("list of operations"));
        // All or nothing: a failing later operation leaves the document untouched.
        assert!(
            json_patch(&doc, &json!([{"op": "remove", "path": "/spec"}, {"op": "remove", "path": "/nope"}])).is_err()
        );
    }

    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn the_nesting_limit_is_what_the_json_decoder_reads_back() {
        let deepest = nested(MAX_NESTING);
        assert_eq!(nesting(&deepest), MAX_NESTING);
        assert!(serde_json::from_str::<Value>(&deepest.to_string()).is_ok());
        assert!(serde_json::from_str::<Value>(&nested(MAX_NESTING + 1).to_string()).is_err());
        assert_eq!(nesting(&json!({"a": [1, {"b": {}}], "c": 2})), 4);
        assert_eq!(nesting(&json!("scalar")), 0);
    }

    #[test]
    fn patches_cannot_nest_without_bound() {
        // Each value is shallow enough to decode, but added at the bottom of the previous one.
        let step = nested(100);
        let mut ops = vec![json!({"op": "add", "path": "/spec", "value": step})];
        ops.push(json!({"op": "add", "path": format!("/spec{}", "/0".repeat(99)), "value": step}));
        let e = json_patch(&json!({"spec": {}}), &Value::Array(ops)).err();
        assert_eq!(e.map(|e| e.code), Some(422));
    }

    #[test]
    fn copies_cannot_blow_a_document_up() {
        let mut ops = vec![json!({"op": "add", "path": "/a", "value": "x".repeat(1024)})];
        for i in 0..40 {
            ops.push(json!({"op": "copy", "from": "", "path": format!("/c{i}")}));
        }
        let e = json_patch(&json!({}), &Value::Array(ops)).err();
        assert_eq!(e.as_ref().map(|e| e.code), Some(422));
        assert!(e.is_some_and(|e| e.message.contains("copies more than")));
    }

    #[test]
    fn too_many_operations_are_413() {
        let ops = vec![json!({"op": "test", "path": "", "value": {}}); MAX_JSON_PATCH_OPERATIONS + 1];
        assert_eq!(json_patch(&json!({}), &Value::Array(ops)).err().map(|e| e.code), Some(413));
    }
}
