//! Bad input never panics: arbitrary JSON placed anywhere in an object goes through pruning,
//! defaulting, validation, semantic checks, typed decoding and conversion without a panic.

use proptest::prelude::*;
use serde_json::{Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn kinds() -> Vec<(String, String)> {
    eddy_api::registry()
        .iter()
        .flat_map(|i| i.versions.iter().map(move |v| (i.api_version(v.name), i.kind.to_owned())))
        .collect()
}

/// A spec made of the kind's real field names with arbitrary values, so that the walk goes
/// deep into known structure with the wrong shapes.
fn plausible_spec(which: usize) -> impl Strategy<Value = Value> {
    let (api_version, kind) = kinds()[which % kinds().len()].clone();
    let (group, version) = eddy_api::split_api_version(&api_version);
    let names: Vec<String> = eddy_api::schema(group, version, &kind)
        .and_then(|s| s.properties.get("spec"))
        .map(|s| s.properties.keys().cloned().collect())
        .unwrap_or_default();
    let names = if names.is_empty() { vec!["x".to_owned()] } else { names };
    proptest::collection::btree_map(proptest::sample::select(names), any_json(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn known_fields_with_arbitrary_values_never_panic((which, spec) in (0..22usize).prop_flat_map(|w| (Just(w), plausible_spec(w)))) {
        let (api_version, kind) = kinds()[which % kinds().len()].clone();
        let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "a", "namespace": "b"}});
        obj["spec"] = spec;
        let (group, version) = eddy_api::split_api_version(&api_version);
        let schema = eddy_api::schema(group, version, &kind).expect("served");
        let mut o = obj.clone();
        let _ = eddy_api::pruning::prune(schema, &mut o);
        eddy_api::defaulting::default(schema, &mut o);
        let _ = eddy_api::validation::validate_create(&o);
        let _ = eddy_api::validation::validate_update(&o, &obj);
        let _ = eddy_api::semantic::check(&o);
        let _ = eddy_api::typed::FluxObject::from_value(o.clone());
        for info in eddy_api::find(group, &kind).iter().flat_map(|i| i.versions.iter()) {
            prop_assert!(eddy_api::conversion::convert(o.clone(), info.name).is_ok());
        }
    }

    #[test]
    fn arbitrary_json_never_panics(
        which in 0..22usize,
        spec in any_json(),
        status in any_json(),
        metadata in any_json(),
        field in "[a-zA-Z]{1,12}",
        value in any_json(),
    ) {
        let (api_version, kind) = kinds()[which % kinds().len()].clone();
        let mut obj = json!({"apiVersion": api_version, "kind": kind});
        obj["spec"] = spec;
        obj["status"] = status;
        obj["metadata"] = metadata;
        if let Some(map) = obj["spec"].as_object_mut() {
            map.insert(field, value);
        }
        let (group, version) = eddy_api::split_api_version(&api_version);
        let schema = eddy_api::schema(group, version, &kind).expect("served");
        let mut o = obj.clone();
        let _ = eddy_api::pruning::prune(schema, &mut o);
        eddy_api::defaulting::default(schema, &mut o);
        let _ = eddy_api::validation::validate_create(&o);
        let _ = eddy_api::validation::validate_update(&o, &obj);
        let _ = eddy_api::semantic::check(&o);
        let _ = eddy_api::typed::FluxObject::from_value(o.clone());
        for info in eddy_api::find(group, &kind).iter().flat_map(|i| i.versions.iter()) {
            let converted = eddy_api::conversion::convert(obj.clone(), info.name);
            prop_assert!(converted.is_ok());
        }
        let mut raw = obj;
        let _ = eddy_api::admission::admit_create(&mut raw, eddy_api::admission::FieldValidation::Strict);
    }
}
