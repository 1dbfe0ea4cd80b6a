//! Property tests: FieldsV1 round trips, set algebra, apply idempotence and ownership.

mod common;

use std::collections::BTreeMap;

use common::*;
use eddy_ssa::{PathElement, Set};
use proptest::prelude::*;
use serde_json::{Value, json};

fn path_element() -> impl Strategy<Value = PathElement> {
    prop_oneof![
        "[a-c]{1,2}".prop_map(PathElement::Field),
        ("[a-b]", 0i64..3)
            .prop_map(|(k, v)| PathElement::key([("name".to_owned(), json!(k)), ("port".to_owned(), json!(v))])),
        prop_oneof![
            "[x-z<&]{1,2}".prop_map(Value::from),
            (0i64..5).prop_map(Value::from),
            any::<bool>().prop_map(Value::from)
        ]
        .prop_map(PathElement::Value),
        (0i64..4).prop_map(PathElement::Index),
    ]
}

fn set() -> impl Strategy<Value = Set> {
    prop::collection::vec(prop::collection::vec(path_element(), 1..4), 0..12).prop_map(|paths| {
        let mut s = Set::new();
        for p in paths {
            s.insert(&p);
        }
        s
    })
}

fn spec() -> impl Strategy<Value = Value> {
    // Empty associative lists are not owned by anyone (kube's ToFieldSet skips them), which the
    // properties below do not account for.
    let names = prop::collection::btree_set("[a-d]", 1..3);
    (
        prop::option::of(0i64..5),
        prop::option::of("[a-z]{1,4}"),
        prop::option::of(prop::collection::vec("[a-c]", 0..3)),
        prop::option::of(prop::collection::btree_set("[a-e]", 1..4)),
        prop::option::of(names),
        prop::option::of(prop::collection::btree_map("[A-C]", "[0-9]", 0..3)),
        prop::option::of(prop::collection::btree_map(
            "[p-r]",
            prop_oneof![(0i64..3).prop_map(Value::from), Just(json!({"x": [1]}))],
            0..3,
        )),
    )
        .prop_map(|(replicas, image, tags, aliases, ports, env, values)| {
            let mut s = serde_json::Map::new();
            if let Some(r) = replicas {
                s.insert("replicas".into(), json!(r));
            }
            if let Some(i) = image {
                s.insert("image".into(), json!(i));
            }
            if let Some(t) = tags {
                s.insert("tags".into(), json!(t));
            }
            if let Some(a) = aliases {
                s.insert("aliases".into(), json!(a));
            }
            if let Some(p) = ports {
                let items: Vec<Value> = p.into_iter().map(|n| json!({"name": n, "port": 80})).collect();
                s.insert("ports".into(), Value::Array(items));
            }
            if let Some(e) = env {
                s.insert("env".into(), json!(e));
            }
            if let Some(v) = values {
                let v: BTreeMap<String, Value> = v;
                s.insert("values".into(), json!(v));
            }
            Value::Object(s)
        })
}

proptest! {
    #[test]
    fn fields_v1_round_trips(s in set()) {
        let v = s.to_fields_v1();
        prop_assert_eq!(Set::from_fields_v1(&v).unwrap(), s.clone());
        let text = s.to_fields_v1_string();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&parsed, &v);
        prop_assert_eq!(Set::from_fields_v1(&parsed).unwrap(), s);
    }

    #[test]
    fn set_algebra_laws(a in set(), b in set()) {
        let u = a.union(&b);
        prop_assert_eq!(u.intersection(&a), a.clone());
        prop_assert!(a.difference(&b).intersection(&b).is_empty());
        prop_assert_eq!(a.difference(&b).union(&a.intersection(&b)), a.clone());
        let rd = a.recursive_difference(&b);
        prop_assert_eq!(rd.difference(&a.difference(&b)), Set::new());
        prop_assert_eq!(u.len(), a.len() + b.len() - a.intersection(&b).len());
    }

    #[test]
    fn applying_twice_is_a_no_op(spec in spec()) {
        let fm = widget_manager(true);
        let config = widget(spec);
        let first = apply(&fm, None, &config, &req("a", "2026-01-01T00:00:01Z"), false).unwrap();
        prop_assert_eq!(without_meta(&first), without_meta(&config));
        let second = fm.apply(Some(&first), &config, &req("a", "2026-01-01T00:00:02Z"), false).unwrap();
        prop_assert!(!second.changed);
        prop_assert_eq!(&second.object["metadata"]["managedFields"], &first["metadata"]["managedFields"]);
    }

    #[test]
    fn identical_configs_share_ownership(spec in spec()) {
        let fm = widget_manager(true);
        let config = widget(spec);
        let first = apply(&fm, None, &config, &req("a", "2026-01-01T00:00:01Z"), false).unwrap();
        let second = apply(&fm, Some(&first), &config, &req("b", "2026-01-01T00:00:02Z"), false).unwrap();
        prop_assert_eq!(fields_of(&second, "a", "Apply"), fields_of(&second, "b", "Apply"));
        prop_assert_eq!(without_meta(&second), without_meta(&config));
    }

    #[test]
    fn applying_then_dropping_everything_removes_what_was_applied(spec in spec()) {
        let fm = widget_manager(true);
        let was_empty = spec.as_object().is_some_and(serde_json::Map::is_empty);
        let first = apply(&fm, None, &widget(spec), &req("a", "2026-01-01T00:00:01Z"), false).unwrap();
        let emptied = apply(&fm, Some(&first), &widget(json!({})), &req("a", "2026-01-01T00:00:02Z"), false).unwrap();
        // Everything applied before is removed; a map emptied by the removal is null (the server
        // drops it), one that was applied empty stays `{}`.
        let expected = if was_empty { json!({}) } else { Value::Null };
        prop_assert_eq!(&emptied["spec"], &expected);
        prop_assert_eq!(fields_of(&emptied, "a", "Apply"), Some(json!({"f:spec": {}})));
    }
}
