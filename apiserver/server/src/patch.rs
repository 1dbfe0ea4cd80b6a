//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on unstructured objects.

use serde_json::{Map, Value};

use crate::status::ApiError;

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
/// 422 when an operation fails (missing path, failed `test`), 400 when the patch is malformed.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, ApiError> {
    let Some(ops) = patch.as_array() else {
        return Err(ApiError::bad_request("a JSON patch must be a list of operations"));
    };
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut out, op, i).map_err(|e| ApiError {
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

fn apply_op(doc: &mut Value, op: &Value, i: usize) -> Result<(), String> {
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
            let v = get(doc, field_str(op, "from", i)?)?.clone();
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
}
