//! Compares our schemas and registry data with the upstream Flux CRDs, path by path.
//!
//! The CRDs are read at test time from `<workspace>/../shared/reference/flux-crds/` and serve only
//! as an oracle. Descriptions are ignored (ours are our own words); everything else must match
//! except the differences listed in `INTENTIONAL` with their reasons.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Differences we keep on purpose: (kind, version, path, reason).
const INTENTIONAL: &[(&str, &str, &str, &str)] = &[(
    "GitRepository",
    "v1",
    ".status.sourceVerificationFingerprint",
    "added by source-controller v1.10.1 (the reference version Eddy matches); the shared CRDs predate it",
)];

fn crd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/flux-crds")
}

fn load_crds() -> Vec<Value> {
    let mut out = Vec::new();
    for sub in ["current", "legacy"] {
        let dir = crd_dir().join(sub);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).expect("read CRD");
            let mut v: Value = serde_norway::from_str(&text).expect("parse CRD");
            v["__origin"] = Value::from(sub);
            out.push(v);
        }
    }
    out
}

/// The upstream version entry for group/kind/version: v1beta2 from legacy, others from current.
fn upstream_version<'a>(crds: &'a [Value], group: &str, kind: &str, version: &str) -> Option<(&'a Value, &'a Value)> {
    let origin = if version == "v1beta2" { "legacy" } else { "current" };
    crds.iter()
        .filter(|c| c["__origin"] == origin)
        .filter(|c| c["spec"]["group"] == group && c["spec"]["names"]["kind"] == kind)
        .find_map(|c| c["spec"]["versions"].as_array()?.iter().find(|v| v["name"] == version).map(|v| (c, v)))
}

/// Walks two schema JSON trees and records every difference except descriptions.
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    let (Some(a), Some(b)) = (ours.as_object(), theirs.as_object()) else {
        if ours != theirs {
            out.push(format!("{path}: ours {ours} upstream {theirs}"));
        }
        return;
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        if key == "description" {
            continue;
        }
        let (x, y) = (a.get(key), b.get(key));
        match (key.as_str(), x, y) {
            ("properties", Some(x), Some(y)) => {
                let names: BTreeSet<&String> = x
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .chain(y.as_object().into_iter().flat_map(|m| m.keys()))
                    .collect();
                for n in names {
                    let p = format!("{path}.{n}");
                    match (x.get(n), y.get(n)) {
                        (Some(xs), Some(ys)) => diff(&p, xs, ys, out),
                        (Some(_), None) => out.push(format!("{p}: only ours")),
                        (None, _) => out.push(format!("{p}: only upstream")),
                    }
                }
            }
            ("items", Some(x), Some(y)) => diff(&format!("{path}[]"), x, y, out),
            ("additionalProperties", Some(x), Some(y)) => {
                diff(&format!("{path}{{}}"), x, y, out);
            }
            ("required", Some(x), Some(y)) => {
                let set = |v: &Value| -> BTreeSet<String> {
                    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
                };
                if set(x) != set(y) {
                    out.push(format!("{path}: required ours {x} upstream {y}"));
                }
            }
            ("x-kubernetes-validations", Some(x), Some(y)) => {
                let strip = |v: &Value| -> Vec<(String, String)> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| (r["rule"].to_string(), r["message"].to_string()))
                        .collect()
                };
                if strip(x) != strip(y) {
                    out.push(format!("{path}: x-kubernetes-validations ours {x} upstream {y}"));
                }
            }
            (_, Some(x), Some(y)) => {
                if !same_value(x, y) {
                    out.push(format!("{path}: {key} ours {x} upstream {y}"));
                }
            }
            (_, Some(x), None) => out.push(format!("{path}: {key} only ours ({x})")),
            (_, None, Some(y)) => out.push(format!("{path}: {key} only upstream ({y})")),
            (_, None, None) => {}
        }
    }
}

/// Numbers compare by value (YAML may give 1 where we give 1.0 or the reverse).
fn same_value(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => x == y,
    }
}

fn columns_json(cols: &[eddy_api::PrinterColumn]) -> Value {
    Value::Array(
        cols.iter()
            .map(|c| {
                let mut m = serde_json::Map::new();
                m.insert("jsonPath".into(), c.json_path.into());
                m.insert("name".into(), c.name.into());
                if c.priority != 0 {
                    m.insert("priority".into(), c.priority.into());
                }
                m.insert("type".into(), c.type_.into());
                Value::Object(m)
            })
            .collect(),
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

#[test]
fn schemas_and_names_match_upstream() {
    let crds = load_crds();
    let mut problems = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    let mut checked = 0;
    for info in eddy_api::registry() {
        for version in &info.versions {
            let Some((crd, up)) = upstream_version(&crds, info.group, info.kind, version.name) else {
                problems.push(format!("{} {}: no upstream CRD version", info.kind, version.name));
                continue;
            };
            checked += 1;
            let tag = format!("{} {}", info.kind, version.name);
            // Names and scope belong to the CRD, not to a version: the current CRD is the truth.
            let current =
                upstream_version(&crds, info.group, info.kind, info.storage_version().name).map_or(crd, |(c, _)| c);
            let names = &current["spec"]["names"];
            let check = |what: &str, ours: Value, theirs: &Value, problems: &mut Vec<String>| {
                if &ours != theirs {
                    problems.push(format!("{tag}: {what} ours {ours} upstream {theirs}"));
                }
            };
            check("plural", info.plural.into(), &names["plural"], &mut problems);
            check("singular", info.singular.into(), &names["singular"], &mut problems);
            check("listKind", info.list_kind.into(), &names["listKind"], &mut problems);
            if strings(&names["shortNames"]) != info.short_names {
                problems.push(format!("{tag}: shortNames differ"));
            }
            if strings(&names["categories"]) != info.categories {
                problems.push(format!("{tag}: categories differ"));
            }
            let scope = if info.namespaced { "Namespaced" } else { "Cluster" };
            check("scope", scope.into(), &crd["spec"]["scope"], &mut problems);
            check("storage", version.storage.into(), &up["storage"], &mut problems);
            let deprecated = up["deprecated"].as_bool().unwrap_or(false);
            check("deprecated", version.deprecated.into(), &deprecated.into(), &mut problems);
            let warning = version.deprecation_warning.map_or(Value::Null, Value::from);
            check("deprecationWarning", warning, &up["deprecationWarning"], &mut problems);
            let status_sub = up["subresources"].get("status").is_some();
            check("status subresource", version.status_subresource.into(), &status_sub.into(), &mut problems);
            let up_cols = up.get("additionalPrinterColumns").cloned().unwrap_or(Value::Array(vec![]));
            check("printer columns", columns_json(&version.printer_columns), &up_cols, &mut problems);

            let mut diffs = Vec::new();
            diff("", &version.schema.to_json(), &up["schema"]["openAPIV3Schema"], &mut diffs);
            for d in diffs {
                let path = d.split(':').next().unwrap_or_default().to_owned();
                let allowed =
                    INTENTIONAL.iter().find(|(k, v, p, _)| *k == info.kind && *v == version.name && *p == path);
                match allowed {
                    Some(e) => {
                        used_exceptions.insert((e.0, e.1, e.2));
                    }
                    None => problems.push(format!("{tag}: {d}")),
                }
            }
        }
    }
    for (k, v, p, _) in INTENTIONAL {
        if !used_exceptions.contains(&(*k, *v, *p)) {
            problems.push(format!("stale exception {k} {v} {p}"));
        }
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    assert!(checked > 0);
}

#[test]
fn every_upstream_kind_and_version_is_served() {
    let crds = load_crds();
    let mut missing = Vec::new();
    for crd in &crds {
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
        for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let name = v["name"].as_str().unwrap_or_default();
            let served = eddy_api::find(group, kind).and_then(|i| i.version(name));
            if served.is_none() {
                missing.push(format!("{group} {kind} {name}"));
            }
        }
    }
    assert!(missing.is_empty(), "not served: {missing:?}");
}

#[test]
fn each_kind_has_exactly_one_storage_version_listed_first() {
    for info in eddy_api::registry() {
        let storage: Vec<_> = info.versions.iter().filter(|v| v.storage).collect();
        assert_eq!(storage.len(), 1, "{}", info.kind);
        assert!(info.versions[0].storage, "{}", info.kind);
    }
}

/// Walks every node of a schema.
fn walk<'a>(s: &'a eddy_api::Schema, path: &str, f: &mut dyn FnMut(&str, &'a eddy_api::Schema)) {
    f(path, s);
    for (k, p) in &s.properties {
        walk(p, &format!("{path}.{k}"), f);
    }
    if let Some(i) = &s.items {
        walk(i, &format!("{path}[]"), f);
    }
    if let Some(a) = &s.additional_properties {
        walk(a, &format!("{path}{{}}"), f);
    }
}

#[test]
fn every_pattern_and_cel_rule_compiles() {
    let mut bad = Vec::new();
    let mut rules = 0;
    for info in eddy_api::registry() {
        for v in &info.versions {
            walk(&v.schema, "", &mut |path, s| {
                if let Some(p) = &s.pattern
                    && regex::Regex::new(p.as_str()).is_err()
                {
                    bad.push(format!("{} {} {path}: pattern {}", info.kind, v.name, p.as_str()));
                }
                for r in &s.validations {
                    rules += 1;
                    if let Err(e) = eddy_api::cel::compile_check(&r.rule) {
                        bad.push(format!("{} {} {path}: {e}", info.kind, v.name));
                    }
                }
            });
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(rules >= 30, "only {rules} rules");
}

#[test]
fn printer_columns_point_at_fields_of_the_schema() {
    let filter = regex::Regex::new(r"\[[^\]]*\]").expect("regex");
    let mut bad = Vec::new();
    for info in eddy_api::registry() {
        for v in &info.versions {
            for c in &v.printer_columns {
                if c.json_path.starts_with(".metadata.") {
                    continue;
                }
                let path = filter.replace_all(c.json_path, "[]");
                if v.schema.at(&path).is_none() {
                    bad.push(format!("{} {}: {} -> {path}", info.kind, v.name, c.name));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Collects `path -> description` for every node of a schema JSON tree.
fn descriptions(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Some(d) = v.get("description").and_then(Value::as_str) {
        out.push((path.to_owned(), d.to_owned()));
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            descriptions(p, &format!("{path}.{k}"), out);
        }
    }
    if let Some(items) = v.get("items") {
        descriptions(items, &format!("{path}[]"), out);
    }
    if let Some(ap) = v.get("additionalProperties") {
        descriptions(ap, &format!("{path}{{}}"), out);
    }
}

/// Whether two texts share a run of `n` or more words.
fn shares_words(a: &str, b: &str, n: usize) -> bool {
    let wa: Vec<&str> = a.split_whitespace().collect();
    let text_b = b.split_whitespace().collect::<Vec<_>>().join(" ");
    wa.windows(n).any(|w| text_b.contains(&w.join(" ")))
}

#[test]
fn every_field_is_described_in_our_own_words() {
    let crds = load_crds();
    let mut problems = Vec::new();
    for info in eddy_api::registry() {
        for v in &info.versions {
            let ours = v.schema.to_json();
            let mut mine = Vec::new();
            descriptions(&ours, "", &mut mine);
            // Every property except the bare metadata object is described.
            walk(&v.schema, "", &mut |path, s| {
                let element = path.ends_with(']') || path.ends_with('}');
                if s.description.is_empty() && path != ".metadata" && !path.is_empty() && !element {
                    problems.push(format!("{} {}: {path} has no description", info.kind, v.name));
                }
            });
            let Some((_, up)) = upstream_version(&crds, info.group, info.kind, v.name) else { continue };
            let mut theirs = Vec::new();
            descriptions(&up["schema"]["openAPIV3Schema"], "", &mut theirs);
            for (path, text) in &mine {
                if let Some((_, t)) = theirs.iter().find(|(p, _)| p == path)
                    && shares_words(text, t, 6)
                {
                    problems.push(format!("{} {}: {path} reads like upstream: {text:?}", info.kind, v.name));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
