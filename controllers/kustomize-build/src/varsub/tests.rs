//! Cases re-expressing fluxcd/pkg/kustomize's varsub tests.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn resources(yaml: &str) -> Vec<Resource> {
    yaml::parse_documents(yaml)
        .expect("valid YAML")
        .into_iter()
        .map(|d| match d {
            Value::Map(m) => Resource::new(m),
            other => panic!("not a mapping: {other:?}"),
        })
        .collect()
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${cluster_env:=dev}
  namespace: apps
  labels:
    region: "${cluster_region}"
    plain: $cluster_region
spec:
  replicas: ${replicas:=1}
  template:
    spec:
      containers:
      - name: app
        image: "registry/app:${tag}"
        args: ["--escaped=$${tag}", "--enabled=${enabled}"]
        env:
        - name: FLAG
          value: ${enabled}
"#;

#[test]
fn substitutes_with_defaults_escapes_and_yaml_types() {
    let mut rs = resources(DEPLOYMENT);
    let v = vars(&[("cluster_region", "eu-central-1"), ("tag", "v1.2.3"), ("replicas", "3"), ("enabled", "yes")]);
    substitute(&mut rs, &v, false).expect("substitutes");
    let j = rs[0].to_json();
    assert_eq!(j["metadata"]["name"], json!("app-dev"));
    assert_eq!(j["metadata"]["labels"]["region"], json!("eu-central-1"));
    assert_eq!(j["metadata"]["labels"]["plain"], json!("$cluster_region"));
    assert_eq!(j["spec"]["replicas"], json!(3));
    let c = &j["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], json!("registry/app:v1.2.3"));
    assert_eq!(c["args"], json!(["--escaped=${tag}", "--enabled=yes"]));
    // sigs.k8s.io/yaml reads YAML 1.1: an unquoted `yes` is a boolean.
    assert_eq!(c["env"][0]["value"], json!(true));
}

#[test]
fn unset_variables_are_empty_unless_strict() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"x${missing}y\"\n  b: ${other:-fallback}\n";
    let mut rs = resources(doc);
    substitute(&mut rs, &vars(&[("unrelated", "1")]), false).expect("lenient");
    assert_eq!(rs[0].to_json()["data"], json!({"a": "xy", "b": "fallback"}));

    let mut rs = resources(doc);
    let err = substitute(&mut rs, &vars(&[("unrelated", "1")]), true).expect_err("strict");
    assert_eq!(
        err.to_string(),
        "post build failed for 'ConfigMap.v1.[noGrp]/cm': envsubst error: variable substitution failed: \
         variable not set (strict mode): \"missing\""
    );

    let mut rs = resources("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"${set}\"\n");
    substitute(&mut rs, &vars(&[("set", "")]), true).expect("an empty value is set");
    // The rendered `a: ${set}` is plain, so the empty value leaves `a:`, a null, as in Flux.
    assert_eq!(rs[0].to_json()["data"]["a"], json!(null));
}

#[test]
fn opt_out_by_label_or_annotation() {
    for meta in [
        "labels:\n    kustomize.toolkit.fluxcd.io/substitute: disabled",
        "annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled",
    ] {
        let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  {meta}\ndata:\n  a: ${{x}}\n");
        let mut rs = resources(&doc);
        substitute(&mut rs, &vars(&[("x", "1")]), true).expect("skipped");
        assert_eq!(rs[0].to_json()["data"]["a"], json!("${x}"), "{meta}");
    }
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    kustomize.toolkit.fluxcd.io/substitute: enabled\ndata:\n  a: ${x}\n";
    let mut rs = resources(doc);
    substitute(&mut rs, &vars(&[("x", "1")]), true).expect("substituted");
    assert_eq!(rs[0].to_json()["data"]["a"], json!(1));
}

#[test]
fn no_variables_means_no_substitution_unless_always() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: ${x:=def}\n  b: ${y}\n";
    let mut rs = resources(doc);
    substitute(&mut rs, &BTreeMap::new(), true).expect("nothing to do");
    assert_eq!(rs[0].to_json()["data"], json!({"a": "${x:=def}", "b": "${y}"}));

    let mut rs = resources(doc);
    substitute_with(&mut rs, &BTreeMap::new(), SubstituteOptions { strict: false, always: true }).expect("always");
    assert_eq!(rs[0].to_json()["data"], json!({"a": "def", "b": null}));
}

#[test]
fn variable_names_are_validated() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
    for good in ["a", "_a", "A_1", "_"] {
        let mut rs = resources(doc);
        substitute(&mut rs, &vars(&[(good, "v")]), false).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in ["1a", "a-b", "a.b", "", "é"] {
        let mut rs = resources(doc);
        let err = substitute(&mut rs, &vars(&[(bad, "v")]), false).expect_err(bad);
        assert_eq!(
            err.to_string(),
            format!(
                "post build failed for 'ConfigMap.v1.[noGrp]/cm': envsubst error: '{bad}' var name is invalid, \
                 must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
            )
        );
    }
}

#[test]
fn newlines_in_values_are_dropped_and_values_never_reach_errors() {
    let doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: ${token}\n";
    let mut rs = resources(doc);
    substitute(&mut rs, &vars(&[("token", "abc\ndef\n")]), false).expect("substitutes");
    assert_eq!(rs[0].to_json()["stringData"]["k"], json!("abcdef"));

    // A value that breaks the YAML fails without echoing the value.
    let mut rs = resources(doc);
    let secret = "s3cr3t: [unclosed";
    let err = substitute(&mut rs, &vars(&[("token", secret)]), false).expect_err("invalid YAML");
    let msg = err.to_string();
    assert!(msg.starts_with("post build failed for 'Secret.v1.[noGrp]/s': envsubst error: YAMLToJSON"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");

    // A value that makes two keys equal: sigs.k8s.io/yaml keeps the last one.
    let doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  ${a}: x\n  ${b}: y\n";
    let mut rs = resources(doc);
    substitute(&mut rs, &vars(&[("a", "same"), ("b", "same")]), false).expect("last key wins");
    assert_eq!(rs[0].to_json()["stringData"], json!({"same": "y"}));

    // A value that breaks a quoted scalar: the error quotes nothing of it.
    let doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: \"${token}\"\n";
    let mut rs = resources(doc);
    let err = substitute(&mut rs, &vars(&[("token", "hunter2\" x: \"")]), false).expect_err("broken quoting");
    let msg = err.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn malformed_expressions_fail_with_the_parser_message() {
    let doc = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  x: ${broken\n";
    let mut rs = resources(doc);
    let err = substitute(&mut rs, &vars(&[("a", "1")]), false).expect_err("unclosed");
    assert_eq!(
        err.to_string(),
        "post build failed for 'Deployment.v1.apps/d': envsubst error: variable substitution failed: missing closing brace"
    );
}

#[test]
fn infinities_fail_like_go_json() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: ${v}\n";
    for (value, name) in [(".inf", "+Inf"), ("-.Inf", "-Inf"), (".NaN", "NaN")] {
        let mut rs = resources(doc);
        let err = substitute(&mut rs, &vars(&[("v", value)]), false).expect_err(value);
        assert_eq!(
            err.to_string(),
            format!(
                "post build failed for 'ConfigMap.v1.[noGrp]/cm': envsubst error: YAMLToJSON: json: unsupported value: {name}"
            )
        );
    }
    // Out of float range is not a number at all: it stays a string.
    let mut rs = resources(doc);
    substitute(&mut rs, &vars(&[("v", "1e400")]), false).expect("a string");
    assert_eq!(rs[0].to_json()["data"]["a"], json!("1e400"));
}

#[test]
fn scalars_are_retyped_as_flux_retypes_them() {
    // Expected values observed with fluxcd/pkg/kustomize v1.44.0's SubstituteVariables.
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  quoted: \"${n}\"\n  single: '${n}'\n  mode: \"${m}\"\n  on: on\n  y: y\n  ts: ${ts}\n  exp: ${e}\n  hex: ${h}\n  oct: ${o}\n  lit: |\n    run ${n}\n";
    let mut rs = resources(doc);
    let v = vars(&[("n", "8080"), ("m", "on"), ("ts", "2024-01-02"), ("e", "1e3"), ("h", "0x1F"), ("o", "0755")]);
    substitute(&mut rs, &v, true).expect("substitutes");
    assert_eq!(
        rs[0].to_json()["data"],
        json!({"quoted": 8080, "single": 8080, "mode": true, "on": "on", "y": "y", "ts": "2024-01-02",
               "exp": 1000, "hex": 31, "oct": 493, "lit": "run 8080\n"})
    );
}
