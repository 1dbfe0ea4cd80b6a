//! Cases re-expressing fluxcd/pkg/kustomize's generator tests, checked through a build.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;
use crate::yaml::{self, Map};
use crate::{BuildOptions, LoadRestrictions};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  image: nginx\n")
}

fn build(root: &Path, dir: &Path) -> String {
    let opts = BuildOptions {
        boundary: Some(root.to_path_buf()),
        load_restrictions: LoadRestrictions::BoundaryOnly,
        ..BuildOptions::default()
    };
    crate::build(dir, &opts).unwrap_or_else(|e| panic!("build: {e}"))
}

fn kustomization(dir: &Path) -> Map {
    let text = fs::read_to_string(dir.join("kustomization.yaml")).expect("written");
    match yaml::parse_documents(&text).expect("valid").into_iter().next() {
        Some(Value::Map(m)) => m,
        other => panic!("not a mapping: {other:?}"),
    }
}

fn seq_strs(m: &Map, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_seq)
        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn generates_a_kustomization_listing_manifests_and_kustomization_dirs() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "b.yaml", &cm("b"));
    write(d, "a.yml", &cm("a"));
    write(d, "notes.txt", "not yaml at all: [");
    write(d, "nested/deeper/c.yaml", &cm("c"));
    write(d, "app/kustomization.yaml", "resources: [d.yaml]\n");
    write(d, "app/d.yaml", &cm("d"));
    write(d, "app/ignored.yaml", "this file is never read: [");
    write(d, "empty.yaml", "---\n");
    assert_eq!(generate_within(d, d, &Overlay::default()).expect("generates"), Action::Created);
    let k = kustomization(d);
    assert_eq!(seq_strs(&k, "resources"), ["./a.yml", "./app", "./b.yaml", "./empty.yaml", "./nested/deeper/c.yaml"]);
    assert_eq!(k.get("apiVersion").and_then(Value::as_str), Some("kustomize.config.k8s.io/v1beta1"));
    let out = build(d, d);
    for name in ["a", "b", "c", "d"] {
        assert!(out.contains(&format!("name: {name}\n")), "{name} in\n{out}");
    }
}

#[test]
fn yaml_that_is_not_kubernetes_objects_fails_as_in_flux() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "ok.yaml", &cm("ok"));
    write(d, "values.yaml", "replicas: 3\n");
    let err = generate(d, &Overlay::default()).expect_err("no kind");
    assert_eq!(
        err.to_string(),
        format!("failed to decode Kubernetes YAML from {}: missing Resource metadata", d.join("values.yaml").display())
    );
    write(d, "values.yaml", "kind: ConfigMap\napiVersion: v1\nmetadata:\n  labels: {b: '2', a: '1'}\n");
    let err = generate(d, &Overlay::default()).expect_err("no name");
    assert!(
        err.to_string().ends_with("missing metadata.name in object {{v1 ConfigMap} {{ } map[a:1 b:2] map[]}}"),
        "{err}"
    );
    write(d, "values.yaml", "apiVersion: v1\nmetadata:\n  name: x\n");
    let err = generate(d, &Overlay::default()).expect_err("no kind");
    assert!(err.to_string().ends_with("missing kind in object {{v1 } {{x } map[] map[]}}"), "{err}");
    for not_an_object in ["just a string\n", "- a\n- b\n"] {
        write(d, "values.yaml", not_an_object);
        let err = generate(d, &Overlay::default()).expect_err(not_an_object);
        assert!(err.to_string().ends_with(": missing Resource metadata"), "{err}");
    }
    // Lists need no name, empty documents are skipped.
    write(d, "values.yaml", "kind: FooList\napiVersion: v1\n---\n{}\n---\n");
    generate(d, &Overlay::default()).expect("accepted");
    fs::remove_file(d.join("kustomization.yaml")).expect("generated");
    write(d, "values.yaml", "a: [\n");
    let err = generate(d, &Overlay::default()).expect_err("bad YAML");
    assert!(err.to_string().contains("failed to decode Kubernetes YAML from"), "{err}");
}

#[test]
fn an_empty_directory_gets_a_placeholder_namespace() {
    let t = tempfile::tempdir().expect("tempdir");
    generate(t.path(), &Overlay::default()).expect("generates");
    let k = kustomization(t.path());
    assert_eq!(k.get("namespace").and_then(Value::as_str), Some("_placeholder"));
    assert_eq!(build(t.path(), t.path()), "");
}

#[test]
fn overlay_fields_are_merged_into_an_existing_kustomization() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(
        d,
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    write(
        d,
        "comp/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  from: component\n",
    );
    write(
        d,
        "kustomization.yaml",
        "resources: [deploy.yaml]\nnamespace: old\nunknownField: dropped\nimages:\n- name: nginx\n  newTag: \"1.0\"\n  digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let overlay = Overlay {
        target_namespace: Some("prod".into()),
        name_prefix: Some("p-".into()),
        name_suffix: Some("-s".into()),
        patches: vec![Patch {
            patch: "- op: add\n  path: /metadata/labels\n  value: {patched: \"yes\"}\n".into(),
            target: Some(Selector { kind: Some("Deployment".into()), ..Selector::default() }),
        }],
        images: vec![
            Image { name: "nginx".into(), new_tag: Some("2.0".into()), ..Image::default() },
            Image { name: "redis".into(), new_name: Some("mirror/redis".into()), ..Image::default() },
        ],
        components: vec!["comp".into(), "missing".into()],
        ignore_missing_components: true,
        build_metadata: vec!["originAnnotations".into()],
        common_labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
        ..Overlay::default()
    };
    assert_eq!(generate_within(d, d, &overlay).expect("merges"), Action::Unchanged);
    let k = kustomization(d);
    assert!(k.get("unknownField").is_none());
    assert!(k.get("labels").is_none() && k.get("commonLabels").is_none(), "commonMetadata is not written");
    assert_eq!(seq_strs(&k, "components"), ["comp"]);
    let out = build(d, d);
    assert!(out.contains("name: p-web-s\n  namespace: prod\n"), "{out}");
    assert!(out.contains("patched: \"yes\""), "{out}");
    // The tag replaces both the tag and the digest of the existing entry.
    assert!(out.contains("image: nginx:2.0\n"), "{out}");
    assert!(out.contains("from: component"), "{out}");
    assert!(out.contains("config.kubernetes.io/origin"), "{out}");
}

#[test]
fn an_existing_kustomization_without_resources_gets_origin_annotations() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "kustomization.yaml", "configMapGenerator:\n- name: gen\n  literals: [a=b]\n");
    generate(d, &Overlay::default()).expect("generates");
    assert_eq!(seq_strs(&kustomization(d), "buildMetadata"), ["originAnnotations"]);
    assert!(build(d, d).contains("config.kubernetes.io/origin"));
}

#[test]
fn missing_components_fail_the_build_unless_ignored_and_must_be_local() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "a.yaml", &cm("a"));
    let overlay = Overlay { components: vec!["missing".into()], ..Overlay::default() };
    generate(d, &overlay).expect("generates");
    assert_eq!(seq_strs(&kustomization(d), "components"), ["missing"]);
    for bad in ["/abs/comp", "https://example.com/c", "github.com/org/repo", "file:///etc", "git@host:x"] {
        let overlay = Overlay { components: vec![bad.into()], ..Overlay::default() };
        let err = generate(d, &overlay).expect_err(bad);
        assert_eq!(err.to_string(), format!("component path '{bad}' must be local and relative"));
    }
}

#[test]
fn paths_stay_inside_the_root() {
    let t = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret.yaml", &cm("outside"));
    let d = t.path().join("app");
    write(&d, "a.yaml", &cm("a"));
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), d.join("link.yaml")).expect("symlink");
    let err = generate_within(t.path(), &d, &Overlay::default()).expect_err("escapes");
    assert!(matches!(err, crate::Error::Restricted(_)), "{err}");
    let err = generate_within(&d, t.path(), &Overlay::default()).expect_err("dir outside root");
    assert!(matches!(err, crate::Error::Restricted(_)), "{err}");
}

#[test]
fn common_metadata_is_set_on_object_metadata_only() {
    let docs = yaml::parse_documents(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: {team: old, keep: k}\nspec:\n  selector:\n    matchLabels: {app: d}\n",
    )
    .expect("valid");
    let Some(Value::Map(m)) = docs.into_iter().next() else { panic!("mapping") };
    let mut rs = vec![Resource::new(m)];
    let overlay = Overlay {
        common_labels: BTreeMap::from([("team".to_string(), "new".to_string())]),
        common_annotations: BTreeMap::from([("note".to_string(), "${not_substituted}".to_string())]),
        ..Overlay::default()
    };
    apply_common_metadata(&mut rs, &overlay);
    let j = rs[0].to_json();
    assert_eq!(j["metadata"]["labels"], serde_json::json!({"team": "new", "keep": "k"}));
    assert_eq!(j["metadata"]["annotations"], serde_json::json!({"note": "${not_substituted}"}));
    assert_eq!(j["spec"]["selector"]["matchLabels"], serde_json::json!({"app": "d"}));
}
