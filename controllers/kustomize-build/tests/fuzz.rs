//! Property tests: random inputs and random patch sequences must never make
//! the engine panic; they either build or return an error.

use std::fs;
use std::path::Path;

use eddy_kustomize::yaml::{Value, emit_document, parse_documents};
use eddy_kustomize::{BuildOptions, build};
use proptest::prelude::*;

/// Arbitrary text that looks a little like YAML.
fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a", "b: c", "- x", "  ", "\n", ":", "{", "}", "[", "]", "'", "\"", "|", ">", "#", "&a", "*a", "---", "...",
        "!!str", "? ", "1", "1.5", "yes", "~", "\t", "\\", "é", "\u{2028}", "<<: *a",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

/// A random JSON-ish value tree.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["1", "\"s\"", "true", "null", "x", "\"a: b\"", "1e3", "\"\"", "'q'", "0x1F"])
        .prop_map(str::to_string);
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..4).prop_map(|v| {
                let mut seen = std::collections::HashSet::new();
                let items: Vec<String> =
                    v.into_iter().filter(|(k, _)| seen.insert(k.clone())).map(|(k, x)| format!("{k}: {x}")).collect();
                format!("{{{}}}", items.join(", "))
            }),
        ]
    })
}

/// One random patch operation against the fixed deployment below.
fn patch_op() -> impl Strategy<Value = String> {
    let paths = prop::sample::select(vec![
        "/spec/replicas",
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/-",
        "/spec/template/spec/containers/5",
        "/metadata/labels/x",
        "/metadata/annotations",
        "/nope/deeper",
        "",
        "/spec/template/spec/containers/0/env/0",
    ]);
    let ops = prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test", "bogus"]);
    (ops, paths.clone(), paths, value())
        .prop_map(|(op, path, from, v)| format!("- op: {op}\n  path: \"{path}\"\n  from: \"{from}\"\n  value: {v}\n"))
}

fn smp() -> impl Strategy<Value = String> {
    let fields = prop::sample::select(vec![
        "replicas",
        "template",
        "selector",
        "containers",
        "$patch",
        "env",
        "name",
        "image",
        "$setElementOrder/containers",
    ]);
    prop::collection::vec((fields, value()), 0..5).prop_map(|kv| {
        let mut seen = std::collections::HashSet::new();
        let body: Vec<String> =
            kv.into_iter().filter(|(k, _)| seen.insert(*k)).map(|(k, v)| format!("  {k}: {v}")).collect();
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n{}\n",
            if body.is_empty() { "  {}".to_string() } else { body.join("\n") }
        )
    })
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: web
        image: nginx
        env:
        - name: A
          value: a
";

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).expect("write test file");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parsing_and_emitting_never_panics(text in yamlish()) {
        if let Ok(docs) = parse_documents(&text) {
            for d in docs {
                let _ = emit_document(&d);
            }
        }
    }

    #[test]
    fn emitted_values_parse_back(v in value()) {
        let text = format!("k: {v}\n");
        if let Ok(docs) = parse_documents(&text)
            && let Some(doc) = docs.into_iter().next()
            && let Ok(out) = emit_document(&doc)
        {
            let again = parse_documents(&out).expect("emitted YAML must parse");
            let again = emit_document(&again[0]).expect("emitted YAML must emit again");
            prop_assert_eq!(out, again);
        }
    }

    #[test]
    fn random_patch_sequences_never_panic(
        json in prop::collection::vec(patch_op(), 0..6),
        smps in prop::collection::vec(smp(), 0..4),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "deployment.yaml", DEPLOYMENT);
        let mut k = String::from("resources:\n- deployment.yaml\npatches:\n");
        for (i, s) in smps.iter().enumerate() {
            let name = format!("smp{i}.yaml");
            write(dir.path(), &name, s);
            k.push_str(&format!("- path: {name}\n"));
        }
        if !json.is_empty() {
            write(dir.path(), "json.yaml", &json.concat());
            k.push_str("- path: json.yaml\n  target:\n    kind: Deployment\n");
        }
        write(dir.path(), "kustomization.yaml", &k);
        let _ = build(dir.path(), &BuildOptions::default());
    }

    #[test]
    fn random_resources_and_kustomizations_never_panic(res in yamlish(), kust in yamlish()) {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "r.yaml", &res);
        write(dir.path(), "kustomization.yaml", &format!("resources:\n- r.yaml\n{kust}"));
        let _ = build(dir.path(), &BuildOptions::default());
        write(dir.path(), "kustomization.yaml", &kust);
        let _ = build(dir.path(), &BuildOptions::default());
    }
}

#[test]
fn a_value_round_trips_through_the_emitter() {
    let docs = parse_documents("a: [1, 'x', {b: null}]\n").expect("parse");
    let out = emit_document(&docs[0]).expect("emit");
    assert_eq!(out, "a:\n- 1\n- x\n- b: null\n");
    assert!(matches!(docs[0], Value::Map(_)));
}
