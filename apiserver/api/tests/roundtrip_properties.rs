//! Property test: arbitrary valid objects of every kind and version survive
//! serialize → deserialize → default → validate → typed decode → convert → convert back.
//!
//! Objects are generated from our own schemas (types, enums, patterns, formats, bounds), then
//! filtered by the CEL rules, which a generator cannot express. Validation after defaulting must
//! then find nothing, pruning must find nothing, the typed structs must hold the whole object,
//! and a round trip through every other served version must give it back unchanged.

use eddy_api::Schema;
use eddy_api::schema::Type;
use eddy_api::typed::FluxObject;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

const MAX_DEPTH: usize = 7;

fn strip_anchors(p: &str) -> &str {
    let p = p.strip_prefix('^').unwrap_or(p);
    p.strip_suffix('$').unwrap_or(p)
}

fn string_strategy(s: &Schema) -> BoxedStrategy<Value> {
    let min = s.min_length.unwrap_or(0);
    let max = s.max_length.unwrap_or(u64::MAX);
    if s.format.as_deref() == Some("date-time") {
        return "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
            .prop_map(Value::from)
            .boxed();
    }
    if let Some(p) = &s.pattern {
        let re = strip_anchors(p.as_str()).to_owned();
        return proptest::string::string_regex(&re)
            .unwrap_or_else(|e| panic!("pattern {re}: {e}"))
            .prop_filter("length bounds", move |v| {
                let n = v.chars().count() as u64;
                n >= min && n <= max
            })
            .prop_map(Value::from)
            .boxed();
    }
    let hi = max.min(min.max(12));
    proptest::string::string_regex(&format!("[a-z0-9.-]{{{min},{hi}}}"))
        .unwrap_or_else(|e| panic!("length regex: {e}"))
        .prop_map(Value::from)
        .boxed()
}

/// A strategy for values valid under `s` (CEL rules aside).
fn gen_value(s: &'static Schema, depth: usize) -> BoxedStrategy<Value> {
    if !s.enum_values.is_empty() {
        return proptest::sample::select(s.enum_values.clone()).boxed();
    }
    match s.type_ {
        None => prop_oneof![
            Just(json!({})),
            ("[a-z]{1,5}", any::<i32>(), any::<bool>())
                .prop_map(|(k, n, b)| json!({ k: {"list": [n, b, "text"], "null": null} })),
        ]
        .boxed(),
        Some(Type::String) => string_strategy(s),
        Some(Type::Boolean) => any::<bool>().prop_map(Value::from).boxed(),
        Some(Type::Integer | Type::Number) => {
            let lo = s.minimum.unwrap_or(-1000);
            let hi = s.maximum.unwrap_or(lo.max(0) + 1000);
            (lo..=hi).prop_map(Value::from).boxed()
        }
        Some(Type::Array) => {
            let Some(items) = s.items.as_deref() else {
                return Just(json!([])).boxed();
            };
            let min = usize::try_from(s.min_items.unwrap_or(0)).unwrap_or(0);
            let max = usize::try_from(s.max_items.unwrap_or(3)).unwrap_or(3).min(3).max(min);
            let max = if depth >= MAX_DEPTH { min } else { max };
            let keys = s.list_map_keys.clone();
            proptest::collection::vec(gen_value(items, depth + 1), min..=max)
                .prop_map(move |mut v| {
                    if !keys.is_empty() {
                        let mut seen = Vec::new();
                        v.retain(|item| {
                            let k: Vec<Value> = keys.iter().map(|k| item[k].clone()).collect();
                            let fresh = !seen.contains(&k);
                            seen.push(k);
                            fresh
                        });
                    }
                    Value::Array(v)
                })
                .boxed()
        }
        Some(Type::Object) => {
            if let Some(ap) = s.additional_properties.as_deref() {
                let max = if depth >= MAX_DEPTH { 0 } else { 3 };
                return proptest::collection::btree_map("[a-z]{1,6}", gen_value(ap, depth + 1), 0..=max)
                    .prop_map(|m| Value::Object(m.into_iter().collect()))
                    .boxed();
            }
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = s
                .properties
                .iter()
                .filter_map(|(name, prop)| {
                    let name = name.clone();
                    let required = s.required.contains(&name);
                    if !required && depth >= MAX_DEPTH {
                        return None;
                    }
                    let v = gen_value(prop, depth + 1).prop_map(move |v| (name.clone(), v));
                    Some(if required { v.prop_map(Some).boxed() } else { proptest::option::of(v).boxed() })
                })
                .collect();
            fields.prop_map(|fs| Value::Object(fs.into_iter().flatten().collect::<Map<_, _>>())).boxed()
        }
    }
}

fn gen_object(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: &'static Schema,
) -> BoxedStrategy<Value> {
    let meta = (
        "[a-z]([a-z0-9-]{0,10}[a-z0-9])?",
        "[a-z]{1,8}",
        proptest::option::of(proptest::collection::btree_map("[a-z]{1,5}(/[a-z]{1,5})?", "[a-z0-9]{0,6}", 0..3)),
        proptest::option::of(proptest::collection::btree_map(
            "[a-z]{1,4}(\\.[a-z]{1,4})?(/[a-z]{1,4})?",
            ".{0,10}",
            0..3,
        )),
    )
        .prop_map(|(name, ns, labels, annotations)| {
            let mut m = Map::new();
            m.insert("name".into(), Value::from(name));
            m.insert("namespace".into(), Value::from(ns));
            if let Some(l) = labels {
                m.insert("labels".into(), Value::Object(l.into_iter().map(|(k, v)| (k, Value::from(v))).collect()));
            }
            if let Some(a) = annotations {
                m.insert(
                    "annotations".into(),
                    Value::Object(a.into_iter().map(|(k, v)| (k, Value::from(v))).collect()),
                );
            }
            Value::Object(m)
        });
    let spec = gen_value(&schema.properties["spec"], 1);
    let status = match schema.properties.get("status") {
        Some(s) => proptest::option::of(gen_value(s, 1)).boxed(),
        None => Just(None).boxed(),
    };
    (meta, spec, status)
        .prop_map(move |(meta, spec, status)| {
            let mut o = json!({"apiVersion": format!("{group}/{version}"), "kind": kind});
            o["metadata"] = meta;
            o["spec"] = spec;
            if let Some(st) = status {
                o["status"] = st;
            }
            o
        })
        .prop_filter("CEL rules hold", move |o| {
            let mut d = o.clone();
            eddy_api::defaulting::default(schema, &mut d);
            rules_hold(schema, &d)
        })
        .boxed()
}

/// Whether every CEL rule below `value` evaluates to true.
fn rules_hold(s: &Schema, value: &Value) -> bool {
    if !s.validations.iter().all(|r| eddy_api::cel::evaluate(&r.rule, value) == Ok(true)) {
        return false;
    }
    match value {
        Value::Object(m) => m.iter().all(|(k, v)| match (s.properties.get(k), &s.additional_properties) {
            (Some(p), _) => rules_hold(p, v),
            (None, Some(ap)) => rules_hold(ap, v),
            (None, None) => true,
        }),
        Value::Array(items) => s.items.as_deref().is_none_or(|is| items.iter().all(|v| rules_hold(is, v))),
        _ => true,
    }
}

fn property(obj: &Value, schema: &Schema, versions: &[&str]) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(obj).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut parsed: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&parsed, obj);

    eddy_api::defaulting::default(schema, &mut parsed);
    let mut again = parsed.clone();
    eddy_api::defaulting::default(schema, &mut again);
    prop_assert_eq!(&again, &parsed, "defaulting is not idempotent");
    let pruned = eddy_api::pruning::prune(schema, &mut parsed);
    prop_assert!(pruned.is_empty(), "pruned {:?}", pruned);

    // Unknown fields at the root, in metadata and in spec are pruned, reported, and only they.
    let mut noisy = parsed.clone();
    noisy["zUnknown"] = json!(1);
    noisy["metadata"]["zUnknown"] = json!({"a": 1});
    noisy["spec"]["zUnknown"] = json!([true]);
    let pruned = eddy_api::pruning::prune(schema, &mut noisy);
    prop_assert_eq!(pruned, vec!["zUnknown", "metadata.zUnknown", "spec.zUnknown"]);
    prop_assert_eq!(&noisy, &parsed);
    let errors: Vec<String> = eddy_api::validation::validate_create(&parsed).iter().map(ToString::to_string).collect();
    prop_assert!(errors.is_empty(), "errors {:?} in {}", errors, parsed);

    let storage =
        eddy_api::conversion::convert_to_storage(parsed.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let typed = FluxObject::from_value(parsed.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = typed.to_value().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, &storage, "typed round trip");

    let own =
        parsed["apiVersion"].as_str().and_then(|a| a.rsplit_once('/')).map(|(_, v)| v.to_owned()).unwrap_or_default();
    for v in versions {
        if *v == own {
            continue;
        }
        let there = eddy_api::conversion::convert(parsed.clone(), v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = eddy_api::conversion::convert(there, &own).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &parsed, "round trip through {}", v);
    }
    Ok(())
}

#[test]
fn arbitrary_valid_objects_round_trip() {
    let mut checked = 0;
    for info in eddy_api::registry() {
        let versions: Vec<&str> = info.versions.iter().map(|v| v.name).collect();
        for version in &info.versions {
            let config = Config {
                cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
                max_local_rejects: 100_000,
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            let strategy = gen_object(info.group, version.name, info.kind, &version.schema);
            let result = runner.run(&strategy, |obj| {
                if std::env::var_os("EDDY_SHOW_SAMPLES").is_some() {
                    eprintln!("{obj}");
                }
                property(&obj, &version.schema, &versions)
            });
            if let Err(e) = result {
                panic!("{} {}: {e}", info.kind, version.name);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 22);
}

/// A leaf of an object that can be made invalid: its JSON pointer, field path and schema.
struct Leaf<'s> {
    pointer: String,
    path: String,
    schema: &'s Schema,
}

fn leaves<'s>(s: &'s Schema, v: &Value, pointer: &str, path: &str, out: &mut Vec<Leaf<'s>>) {
    match (s.type_, v) {
        (Some(Type::Object), Value::Object(m)) => {
            for (k, c) in m {
                let (p, f) =
                    (format!("{pointer}/{k}"), if path.is_empty() { k.clone() } else { format!("{path}.{k}") });
                if let Some(cs) = s.properties.get(k).or(s.additional_properties.as_deref()) {
                    leaves(cs, c, &p, &f, out);
                }
            }
        }
        (Some(Type::Array), Value::Array(items)) => {
            if let Some(is) = s.items.as_deref() {
                for (i, c) in items.iter().enumerate() {
                    leaves(is, c, &format!("{pointer}/{i}"), &format!("{path}[{i}]"), out);
                }
            }
        }
        (Some(Type::String | Type::Boolean | Type::Integer), _) => {
            out.push(Leaf { pointer: pointer.to_owned(), path: path.to_owned(), schema: s });
        }
        _ => {}
    }
}

/// Makes one leaf invalid and checks that validation reports an error at exactly that field.
fn mutation_is_caught(
    obj: &Value,
    schema: &Schema,
    pick: proptest::sample::Index,
    how: u8,
) -> Result<(), TestCaseError> {
    let mut valid = obj.clone();
    eddy_api::defaulting::default(schema, &mut valid);
    let mut all = Vec::new();
    for part in ["spec", "status"] {
        if let (Some(s), Some(v)) = (schema.properties.get(part), valid.get(part)) {
            leaves(s, v, &format!("/{part}"), part, &mut all);
        }
    }
    if all.is_empty() {
        return Ok(());
    }
    let leaf = &all[pick.index(all.len())];
    let bad = match (how % 3, leaf.schema.type_) {
        (0, Some(Type::String)) if !leaf.schema.enum_values.is_empty() => json!("zz-not-allowed"),
        (1, Some(Type::String)) if leaf.schema.pattern.is_some() => json!("\n"),
        (_, Some(Type::String)) => json!(42),
        _ => json!("wrong type"),
    };
    let mut broken = valid.clone();
    if let Some(slot) = broken.pointer_mut(&leaf.pointer) {
        *slot = bad.clone();
    }
    let errors = eddy_api::validation::validate_create(&broken);
    prop_assert!(
        errors.iter().any(|e| e.field == leaf.path),
        "setting {} to {} went unnoticed: {:?}",
        leaf.path,
        bad,
        errors.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn invalid_leaves_are_reported_at_their_path() {
    for info in eddy_api::registry() {
        for version in &info.versions {
            let config = Config {
                cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
                max_local_rejects: 100_000,
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            let strategy = (
                gen_object(info.group, version.name, info.kind, &version.schema),
                any::<proptest::sample::Index>(),
                any::<u8>(),
            );
            let result = runner.run(&strategy, |(obj, pick, how)| mutation_is_caught(&obj, &version.schema, pick, how));
            if let Err(e) = result {
                panic!("{} {}: {e}", info.kind, version.name);
            }
        }
    }
}
