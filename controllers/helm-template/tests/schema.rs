//! `values.schema.json` edge cases that must fail cleanly rather than loop or panic: reference
//! cycles, deep nesting, bad regular expressions, schemas that are not objects, unknown
//! metaschemas, schemas that break their metaschema. Helm's wording is checked by the corpus
//! (`tests/corpus/vs-*`, `tests/corpus/vs-meta-*`).

use eddy_helm_template::Value;
use eddy_helm_template::schema::validate_single;

fn values(yaml: &str) -> Value {
    eddy_helm_template::yaml::parse(yaml).expect("values parse")
}

#[test]
fn reference_cycles_end() {
    let schema = br##"{"$ref": "#"}"##;
    let r = validate_single(schema, &values("a: 1\n"));
    assert!(r.is_err(), "a schema that is only a reference to itself is a cycle: {r:?}");
    let schema = br##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}"##;
    assert!(validate_single(schema, &values("a: 1\n")).is_err());
    // A recursive schema over a finite value is fine.
    let tree = br##"{"type": "object", "properties": {"child": {"$ref": "#"}, "num": {"type": "integer"}}}"##;
    assert!(validate_single(tree, &values("child: {child: {num: 1}}\n")).is_ok());
    let err = validate_single(tree, &values("child: {child: {num: x}}\n")).expect_err("num is not an integer");
    assert!(err.contains("at '/child/child/num': got string, want integer"), "{err}");
}

#[test]
fn deep_nesting_and_bad_input_do_not_panic() {
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    assert!(validate_single(deep.as_bytes(), &values("a: 1\n")).is_err());
    for bad in [&b"{"[..], b"", b"[1,", b"{\"a\":}", b"nul", b"{\"pattern\": \"(\"}", b"\"\\uZZZZ\""] {
        let _ = validate_single(bad, &values("a: x\n"));
    }
    assert!(validate_single(b"{\"properties\": {\"a\": {\"pattern\": \"(\"}}}", &values("a: x\n")).is_err());
}

#[test]
fn schemas_that_are_not_objects() {
    assert!(validate_single(b"true", &values("a: 1\n")).is_ok());
    let err = validate_single(b"false", &values("a: 1\n")).expect_err("false rejects everything");
    assert_eq!(err, "- at '': false schema\n");
    let err = validate_single(b"12", &values("a: 1\n")).expect_err("a number is not a schema");
    assert_eq!(
        err,
        "\"file:///values.schema.json#\" is not valid against metaschema: jsonschema validation failed with \
         'https://json-schema.org/draft/2020-12/schema#'\n- at '': got number, want boolean or object"
    );
}

#[test]
fn schemas_breaking_their_metaschema_are_reported() {
    let err =
        validate_single(br#"{"properties": {"a": {"minLength": "x"}}}"#, &values("a: x\n")).expect_err("minLength");
    assert!(err.starts_with("\"file:///values.schema.json#\" is not valid against metaschema"), "{err}");
    assert!(err.ends_with("- at '/properties/a/minLength': got string, want integer"), "{err}");
    let d4 = br#"{"$schema": "http://json-schema.org/draft-04/schema#", "patternProperties": {"(": {}}}"#;
    let err = validate_single(d4, &values("a: x\n")).expect_err("draft 4 leaves the keys to the compiler");
    assert_eq!(
        err,
        "invalid regex \"(\" at \"file:///values.schema.json#/patternProperties\": error parsing regexp: \
         missing closing ): `(`"
    );
    // A subschema of another draft is checked against that draft's metaschema.
    let mixed = br#"{"properties": {"a": {"$id": "http://e.x/a", "$schema": "http://json-schema.org/draft-07/schema#", "items": [true]}}}"#;
    assert!(validate_single(mixed, &values("a: [1]\n")).is_ok());
}

#[test]
fn deep_and_wide_schemas_end() {
    // Schema validation runs on the render thread's stack (256 MiB, `render.rs`); so here.
    std::thread::Builder::new().stack_size(256 << 20).spawn(deep_and_wide).expect("thread").join().expect("no panic");
}

fn deep_and_wide() {
    // As deep as the JSON reader allows, in the shapes the metaschemas recurse through.
    for (open, close) in [
        (r#"{"properties": {"a": "#, "}}"),
        (r#"{"allOf": ["#, "]}"),
        (r#"{"items": "#, "}"),
        (r#"{"not": "#, "}"),
        (r#"{"$defs": {"a": "#, "}}"),
    ] {
        let levels = 240;
        let doc = format!("{}{{}}{}", open.repeat(levels), close.repeat(levels));
        let _ = validate_single(doc.as_bytes(), &values("a: 1\n"));
        let bad = format!("{}{{\"minLength\": \"x\"}}{}", open.repeat(levels), close.repeat(levels));
        let _ = validate_single(bad.as_bytes(), &values("a: 1\n"));
    }
    // Many keywords and many members.
    let wide: String = (0..2000)
        .map(|i| format!("\"p{i}\": {{\"type\": \"strnig\", \"pattern\": \"(\"}}"))
        .collect::<Vec<_>>()
        .join(",");
    let doc = format!("{{\"properties\": {{{wide}}}}}");
    assert!(validate_single(doc.as_bytes(), &values("a: 1\n")).is_err());
}

#[test]
fn unknown_metaschema_is_an_error() {
    let r = validate_single(br#"{"$schema": "https://example.com/my-schema"}"#, &values("a: 1\n"));
    assert!(r.is_err_and(|e| e.contains("https://example.com/my-schema")));
}

/// A draft-07 schema asserting `format` on every property.
fn format_schema(format: &str) -> Vec<u8> {
    format!(
        r#"{{"$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": {{"format": "{format}"}}}}"#
    )
    .into_bytes()
}

#[test]
fn regex_format_ends_on_deep_and_odd_patterns() {
    let schema = format_schema("regex");
    let check = |pattern: &str| {
        let mut m = std::collections::BTreeMap::new();
        m.insert("r".to_string(), Value::str(pattern));
        validate_single(&schema, &Value::map(m))
    };
    let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
    let err = check(&deep).expect_err("Go bounds the nesting");
    assert!(err.contains("expression nests too deeply"), "{err}");
    let nested_repeats = format!("{}a{}", "(?:".repeat(900), "){1}".repeat(900));
    assert!(check(&nested_repeats).is_ok());
    assert!(check("((a{10}){10}){10}").is_ok());
    let err = check("((a{10}){10}){11}").expect_err("1100 copies of a");
    assert!(err.contains("invalid repeat count: `{11}`"), "{err}");
    for odd in ["\\", "[", "[\\", "\\x{", "\\p{", "(?P<", "(?", "[[:", "\\é", "[é-", "{", "a{1,", "\\Q"] {
        let _ = check(odd);
        let _ = check(&odd.repeat(50));
    }
}

#[test]
fn uri_formats_do_not_panic_on_odd_input() {
    for format in ["uri", "uri-reference", "iri", "uri-template", "ipv6", "period", "semver", "relative-json-pointer"] {
        let schema = format_schema(format);
        for odd in [
            "",
            "%",
            "%e",
            "[",
            "//[",
            "//[]",
            "http://[",
            "x://]@[:",
            "a:%zz",
            "::",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "é",
            "/",
            "P/",
            "+",
            "-",
            "0",
            "99999999999999999999",
        ] {
            let mut m = std::collections::BTreeMap::new();
            m.insert("v".to_string(), Value::str(odd));
            let _ = validate_single(&schema, &Value::map(m));
        }
    }
}
