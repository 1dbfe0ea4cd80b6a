//! Hostile requests found by probing `eddy serve`, each answered with a 4xx `Status` (or
//! served within bounds) rather than a panic, an overflow or unbounded work.

mod support;

use axum::http::Method;
use eddy_apiserver::HttpOptions;
use serde_json::{Value, json};
use support::{Api, GIT, git};

#[tokio::test]
async fn watch_timeouts_never_overflow() {
    let api = Api::new();
    // Beyond 64 signed bits: kube's decoder refuses it.
    let answer = api.get(&format!("{GIT}?watch=true&timeoutSeconds=18446744073709551615")).await.expect(400);
    assert_eq!(answer.body["reason"], "BadRequest");
    // The largest accepted value is clamped to a deadline that exists.
    let mut events = api.watch(&format!("{GIT}?watch=true&timeoutSeconds=9223372036854775807"), &[]).await;
    api.post(GIT, &git("app")).await.expect(201);
    assert_eq!(events.next_summary().await, Some(("ADDED".into(), "app".into())));
    // A negative timeout ends the stream at once, as kube's timer does.
    let rv = api.get(GIT).await.expect(200).rv();
    let ended = api.get(&format!("{GIT}?watch=true&timeoutSeconds=-1&resourceVersion={rv}")).await.expect(200);
    assert!(ended.raw.is_empty(), "{:?}", String::from_utf8_lossy(&ended.raw));
}

#[tokio::test]
async fn open_watches_are_capped_with_a_clear_error() {
    let api = Api::with_options(HttpOptions { max_watches: 2, ..HttpOptions::default() });
    let first = api.watch(&format!("{GIT}?watch=true"), &[]).await;
    let second = api.watch(&format!("{GIT}?watch=true"), &[]).await;
    let refused = api.get(&format!("{GIT}?watch=true")).await.expect(429);
    assert_eq!(refused.body["reason"], "TooManyRequests");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused.body["message"].as_str().is_some_and(|m| m.contains("too many open watches (the limit is 2)")));
    // Lists are not watches.
    api.get(GIT).await.expect(200);
    drop(first);
    api.watch(&format!("{GIT}?watch=true"), &[]).await;
    drop(second);
}

#[tokio::test]
async fn deeply_nested_documents_are_refused() {
    let api = Api::new();
    let depth = 100_000;
    let json_bomb = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut object = git("deep").to_string();
    object.insert_str(object.len() - 1, &format!(",\"extra\":{json_bomb}"));
    for (method, path, content_type, body) in [
        (Method::POST, GIT.to_owned(), "application/json", json_bomb.clone()),
        (Method::POST, GIT.to_owned(), "application/json", object),
        (Method::POST, GIT.to_owned(), "application/yaml", json_bomb.clone()),
        (Method::PATCH, format!("{GIT}/deep"), "application/merge-patch+json", json_bomb.clone()),
        (Method::PATCH, format!("{GIT}/deep?fieldManager=x"), "application/apply-patch+yaml", json_bomb.clone()),
        (Method::DELETE, format!("{GIT}/deep"), "application/json", json_bomb.clone()),
    ] {
        let answer = api
            .send(api.request(method.clone(), &path, &[("content-type", content_type)], Some(body.into_bytes())))
            .await;
        assert!(answer.status.is_client_error(), "{method} {content_type}: {}", answer.status);
        assert_eq!(answer.body["kind"], "Status");
    }
}

#[tokio::test]
async fn json_patches_cannot_grow_without_bound() {
    let api = Api::new();
    api.post(GIT, &git("app")).await.expect(201);
    let path = format!("{GIT}/app");
    // Copies that double the document.
    let mut ops = vec![json!({"op": "add", "path": "/spec/blob", "value": "x".repeat(64 * 1024)})];
    ops.extend((0..40).map(|i| json!({"op": "copy", "from": "/spec", "path": format!("/metadata/annotations/c{i}")})));
    let answer = api.patch(&path, "application/json-patch+json", &Value::Array(ops)).await;
    assert_eq!(answer.status.as_u16(), 422, "{}", answer.body);
    // Nesting built from shallow steps.
    let step = (0..100).fold(json!(1), |inner, _| json!([inner]));
    let ops = json!([
        {"op": "add", "path": "/spec/deep", "value": step},
        {"op": "add", "path": format!("/spec/deep{}", "/0".repeat(99)), "value": step},
    ]);
    api.patch(&path, "application/json-patch+json", &ops).await.expect(422);
    // Too many operations.
    let ops = vec![json!({"op": "test", "path": "/kind", "value": "GitRepository"}); 10_001];
    api.patch(&path, "application/json-patch+json", &Value::Array(ops)).await.expect(413);
    // The object is unchanged and still readable.
    api.get(&path).await.expect(200);
}

#[tokio::test]
async fn yaml_alias_bombs_and_invalid_utf8_are_refused() {
    let api = Api::new();
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for (prev, name) in
        ["a", "b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
    {
        bomb.push_str(&format!(
            "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    for (content_type, body) in [
        ("application/yaml", bomb.clone().into_bytes()),
        ("application/yaml", b"kind: \xff\xfe\n".to_vec()),
        ("application/json", b"{\"kind\": \"\xc3\x28\"}".to_vec()),
        ("application/json", vec![b' '; 4 * 1024 * 1024]),
    ] {
        let answer = api.send(api.request(Method::POST, GIT, &[("content-type", content_type)], Some(body))).await;
        assert!(answer.status.is_client_error(), "{content_type}: {} {}", answer.status, answer.body);
        assert_eq!(answer.body["kind"], "Status");
    }
    let answer = api
        .send(api.request(
            Method::PATCH,
            &format!("{GIT}/app?fieldManager=x"),
            &[("content-type", "application/apply-patch+yaml")],
            Some(bomb.into_bytes()),
        ))
        .await;
    assert!(answer.status.is_client_error(), "apply: {}", answer.status);
}

#[tokio::test]
async fn hostile_list_parameters_are_400() {
    let api = Api::new();
    for query in [
        "resourceVersion=abc",
        "resourceVersion=-1&resourceVersionMatch=Exact",
        "resourceVersion=99999999999999999999999",
        "continue=%FF%FE",
        "continue=eyJ2IjoiZWRkeS92MSJ9",
        "limit=99999999999999999999999",
        "labelSelector=a%20in%20(b",
        "labelSelector=%00",
        "fieldSelector=spec.url%3Dx",
        "timeoutSeconds=1e3&watch=true",
    ] {
        let answer = api.get(&format!("{GIT}?{query}")).await;
        assert_eq!(answer.status.as_u16(), 400, "{query}: {}", answer.body);
        assert_eq!(answer.body["kind"], "Status");
    }
}

#[tokio::test]
async fn yaml_nested_one_level_deeper_than_json_reads_back_is_refused() {
    let api = Api::new();
    // The YAML decoder reads 128 levels, the JSON decoder 127: such an object, once stored,
    // could never be read again.
    let deep = format!("{}1{}", "[".repeat(126), "]".repeat(126));
    let body = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: deep\nspec:\n  x: {deep}\n"
    );
    let answer = api
        .send(api.request(Method::POST, GIT, &[("content-type", "application/yaml")], Some(body.into_bytes())))
        .await;
    assert_eq!(answer.status.as_u16(), 400, "{}", answer.body);
}
