//! Property tests of everything that reads client input: query parameters, label and field
//! selectors, continue tokens, resource versions, JSON / merge / JSON-patch / apply bodies,
//! YAML bodies, deeply nested and huge documents, invalid UTF-8. Nothing may panic, and
//! invalid input is always answered with a 4xx `Status` — through the parsers directly and
//! through the whole router. Case counts are bounded so the suite stays fast.

mod support;

use axum::http::Method;
use eddy_apiserver::negotiate::decode_yaml;
use eddy_apiserver::patch::{json_patch, merge_patch};
use eddy_apiserver::query::{Continue, Query};
use eddy_apiserver::registry::parse_resource_version;
use eddy_apiserver::selector::{FieldSelector, parse_label_selector};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{Api, GIT, git};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Text a hostile client might send: selector and query punctuation, digits, unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9=!,()&%+ ._/~-]{0,40}",
        "[\\PC]{0,24}",
        Just(String::new()),
        Just("18446744073709551615".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("%FF%FE%00".to_owned()),
        Just("a in (b,c".to_owned()),
        Just("!,=,==,!=".to_owned()),
    ]
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z/~0-9-]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z~/0-9]{0,5}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON patch operation with plausible and implausible paths.
fn patch_op() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        Just(String::new()),
        "(/[a-z0-9~-]{0,3}){1,4}",
        Just("/spec/-".to_owned()),
        Just("/metadata/labels/a~1b".to_owned()),
        Just("/spec/0/99999999999999999999".to_owned()),
        "[a-z/]{0,6}",
    ];
    let op = prop_oneof![
        Just("add"),
        Just("remove"),
        Just("replace"),
        Just("move"),
        Just("copy"),
        Just("test"),
        Just("frob")
    ];
    (op, path.clone(), path, json_value())
        .prop_map(|(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}))
}

fn nested_json(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_yaml(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn query_strings_parse_or_fail_with_400(raw in hostile_text(), key in "[a-zA-Z]{1,20}") {
        for raw in [raw.clone(), format!("{key}={raw}"), format!("timeoutSeconds={raw}&limit={raw}&watch={raw}")] {
            let Ok(q) = Query::parse(Some(&raw)) else { continue };
            let codes = [
                q.dry_run().err().map(|e| e.code),
                q.field_validation().err().map(|e| e.code),
                q.label_selector().err().map(|e| e.code),
                q.field_selector().err().map(|e| e.code),
                q.include_object().err().map(|e| e.code),
                q.limit().err().map(|e| e.code),
                q.timeout_seconds().err().map(|e| e.code),
                q.watch_timeout(std::time::Duration::from_secs(1)).err().map(|e| e.code),
            ];
            for code in codes.into_iter().flatten() {
                prop_assert_eq!(code, 400);
            }
            if let Ok(t) = q.watch_timeout(std::time::Duration::from_secs(1)) {
                prop_assert!(tokio::time::Instant::now().checked_add(t).is_some());
            }
        }
    }

    #[test]
    fn go_durations_parse_or_fail(text in hostile_text(), made in "[+-]?([0-9]{0,22}(\\.[0-9]{0,12})?(ns|us|µs|ms|s|m|h|x)?){1,3}") {
        let _ = eddy_apiserver::duration::parse_go_duration(&text);
        if let Ok(d) = eddy_apiserver::duration::parse_go_duration(&made) {
            prop_assert!(tokio::time::Instant::now().checked_add(d).is_some());
        }
    }

    #[test]
    fn selectors_parse_or_fail_with_400(text in hostile_text()) {
        if let Err(e) = parse_label_selector(&text) {
            prop_assert_eq!(e.code, 400);
        }
        if let Err(e) = FieldSelector::parse(&text) {
            prop_assert_eq!(e.code, 400);
        }
    }

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_400(
        revision in any::<u64>(), namespace in "[\\PC]{0,12}", name in "[\\PC]{0,12}", garbage in hostile_text()
    ) {
        let token = Continue { revision, namespace, name };
        prop_assert_eq!(Continue::decode(&token.encode()).ok(), Some(token));
        if let Err(e) = Continue::decode(&garbage) {
            prop_assert_eq!(e.code, 400);
        }
        if let Err(e) = parse_resource_version(&garbage) {
            prop_assert_eq!(e.code, 400);
        }
    }

    #[test]
    fn yaml_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), text in "[\\PC\n:{}\\[\\]&*!|>-]{0,80}") {
        let _ = decode_yaml(&bytes);
        let _ = decode_yaml(text.as_bytes());
    }

    #[test]
    fn merge_patches_never_panic(target in json_value(), patch in json_value()) {
        let mut doc = target;
        merge_patch(&mut doc, &patch);
    }

    #[test]
    fn json_patches_succeed_or_fail_with_4xx(doc in json_value(), ops in prop::collection::vec(patch_op(), 0..8)) {
        if let Err(e) = json_patch(&doc, &Value::Array(ops)) {
            prop_assert!((400..500).contains(&e.code), "{e}");
        }
    }
}

/// One request through the whole router.
/// One request through the whole router: its code, with kube's two 5xx answers to bad input
/// read as the 4xx they stand for — 504 for a resourceVersion newer than the store's, and
/// 500 (no reason) for an apply configuration that does not fit the schema, both exactly as
/// kube-apiserver answers them.
fn call(api: &Api, rt: &tokio::runtime::Runtime, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> u16 {
    let headers = [("content-type", content_type)];
    let answer = rt.block_on(api.send(api.request(method, path, &headers, Some(body))));
    let code = answer.status.as_u16();
    if code >= 400 {
        assert_eq!(answer.body["kind"], "Status", "an error is a Status: {:?}", String::from_utf8_lossy(&answer.raw));
        assert_eq!(answer.body["code"], code);
    }
    let message = answer.body["message"].as_str().unwrap_or_default();
    let future_revision = code == 504 && message.starts_with("Too large resource version");
    let untyped_apply = code == 500
        && answer.body.get("reason").is_none()
        && message.starts_with("failed to create typed patch object");
    if future_revision || untyped_apply { 400 } else { code }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Bodies: random bytes (often invalid UTF-8), random JSON, objects that look almost right,
/// deeply nested documents.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        json_value().prop_map(|v| {
            let mut obj = git("app");
            obj["spec"] = v.clone();
            obj["metadata"]["labels"] = v;
            obj.to_string().into_bytes()
        }),
        (1usize..400).prop_map(|d| nested_json(d).into_bytes()),
        (1usize..400).prop_map(|d| nested_yaml(d).into_bytes()),
        Just(b"\xff\xfe{\"kind\": \"\xc3\x28\"}".to_vec()),
    ]
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn hostile_bodies_are_answered_below_500(
        body in body(),
        method in prop_oneof![Just(Method::POST), Just(Method::PUT), Just(Method::PATCH), Just(Method::DELETE)],
        content_type in prop_oneof![
            Just("application/json"),
            Just("application/yaml"),
            Just("application/merge-patch+json"),
            Just("application/json-patch+json"),
            Just("application/apply-patch+yaml"),
            Just("text/plain"),
        ],
    ) {
        let rt = runtime();
        let api = Api::new();
        rt.block_on(api.post(GIT, &git("app"))).expect(201);
        let path = if method == Method::POST { GIT.to_owned() } else { format!("{GIT}/app?fieldManager=fuzz") };
        let code = call(&api, &rt, method, &path, content_type, body);
        prop_assert!(code < 500, "answered {code}");
    }

    #[test]
    fn hostile_query_strings_are_answered_below_500(
        params in prop::collection::vec(
            (prop_oneof![
                Just("labelSelector"), Just("fieldSelector"), Just("limit"), Just("continue"),
                Just("resourceVersion"), Just("resourceVersionMatch"), Just("timeoutSeconds"),
                Just("includeObject"), Just("sendInitialEvents"), Just("allowWatchBookmarks"),
            ], hostile_text()),
            0..5,
        ),
        watch in any::<bool>(),
    ) {
        let rt = runtime();
        let api = Api::new();
        let mut query: Vec<(String, String)> =
            params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if watch {
            query.push(("watch".into(), "true".into()));
            // Without a timeout of its own the watch would outlive the test.
            query.retain(|(k, _)| k != "timeoutSeconds");
            query.push(("timeoutSeconds".into(), "-1".into()));
        }
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        let code = call(&api, &rt, Method::GET, &format!("{GIT}?{encoded}"), "application/json", Vec::new());
        prop_assert!(code < 500, "answered {code} to {encoded}");
    }
}
