//! The server-side-apply scenario model, shared by the two suites that replay the scenario
//! files (`apiserver/ssa/tests/scenarios/*.yaml`, format: `apiserver/ssa/README.md`,
//! "Scenario files"): `eddy-ssa`'s replay through the engine and `eddy-ssa-differential`'s
//! replay against a real kube-apiserver (and against Eddy). One model means one reading of the
//! files: parsing, the filling rules, normalising an answer the way the files state it,
//! comparison, and rewriting a step's `expect` (bless).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// Errors reading or writing scenario files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not a valid scenario.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The namespace every scenario is written for.
pub const NAMESPACE: &str = "default";

/// Which set of reference CRDs a scenario needs (`crds:` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrdSet {
    /// `../shared/reference/flux-crds/current` (the default).
    Current,
    /// `../shared/reference/flux-crds/legacy` (older CRDs that still serve v1beta2).
    Legacy,
}

impl CrdSet {
    /// The directory name under `flux-crds/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            CrdSet::Current => "current",
            CrdSet::Legacy => "legacy",
        }
    }
}

/// One scripted write (or read) and what it must answer.
#[derive(Debug, Clone)]
pub struct Step {
    /// `apply`, `create`, `update`, `patch-merge`, `patch-json` or `get` (without `-status`).
    pub op: String,
    /// `status` for the `-status` ops, else empty.
    pub subresource: String,
    /// The field manager (`fieldManager`).
    pub manager: String,
    /// apply: `force=true`.
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// The request's apiVersion; `None`: the storage version.
    pub api_version: Option<String>,
    /// apply: the config; create/update: the body.
    pub object: Value,
    /// patch-merge: the merge patch; patch-json: the RFC 6902 operations.
    pub patch: Value,
    /// What the step must answer, as the file states it (before filling).
    pub expect: Option<Value>,
}

impl Step {
    fn parse(v: &Value) -> Result<Step, String> {
        let op = v["op"].as_str().ok_or("a step has no op")?.to_owned();
        let (op, subresource) = match op.strip_suffix("-status") {
            Some(base) => (base.to_owned(), "status".to_owned()),
            None => (op, v.get("subresource").and_then(Value::as_str).unwrap_or_default().to_owned()),
        };
        if !matches!(op.as_str(), "apply" | "create" | "update" | "patch-merge" | "patch-json" | "get") {
            return Err(format!("unknown op {op}"));
        }
        Ok(Step {
            op,
            subresource,
            manager: v["manager"].as_str().unwrap_or_default().to_owned(),
            force: v["force"].as_bool().unwrap_or(false),
            dry_run: v["dryRun"].as_bool().unwrap_or(false),
            api_version: v.get("apiVersion").and_then(Value::as_str).map(str::to_owned),
            object: v.get("object").cloned().unwrap_or_else(|| json!({})),
            patch: v.get("patch").cloned().unwrap_or(Value::Null),
            expect: v.get("expect").cloned(),
        })
    }

    /// A short description for reports: `3 (apply-status by alice)`.
    pub fn describe(&self, index: usize) -> String {
        let op =
            if self.subresource.is_empty() { self.op.clone() } else { format!("{}-{}", self.op, self.subresource) };
        if self.manager.is_empty() {
            format!("step {} ({op})", index + 1)
        } else {
            format!("step {} ({op} by {})", index + 1, self.manager)
        }
    }
}

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file.
    pub path: PathBuf,
    /// The file name without `.yaml`, e.g. `047-status-apply`.
    pub id: String,
    /// The object's kind.
    pub kind: String,
    /// The CRDs it needs.
    pub crds: CrdSet,
    /// `metadata.name` of the object.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    header: String,
    doc: Value,
}

impl Scenario {
    /// Reads one scenario file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a scenario.
    pub fn load(path: &Path) -> Result<Scenario> {
        let p = path.display().to_string();
        let bad = |message: String| Error::Format { path: p.clone(), message };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: p.clone(), source })?;
        let doc: Value = serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let kind = doc["kind"].as_str().ok_or_else(|| bad("no kind".into()))?.to_owned();
        let crds = match doc.get("crds").and_then(Value::as_str) {
            None | Some("current") => CrdSet::Current,
            Some("legacy") => CrdSet::Legacy,
            Some(other) => return Err(bad(format!("unknown crds: {other}"))),
        };
        let name = doc.get("name").and_then(Value::as_str).unwrap_or("s").to_owned();
        let steps = doc["steps"]
            .as_array()
            .ok_or_else(|| bad("no steps".into()))?
            .iter()
            .map(Step::parse)
            .collect::<Result<Vec<_>, String>>()
            .map_err(bad)?;
        let header = text.lines().take_while(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let id = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        Ok(Scenario { path: path.to_owned(), id, kind, crds, name, steps, header, doc })
    }

    /// Every `*.yaml` in `dir`, sorted by file name.
    ///
    /// # Errors
    /// When the directory or a file cannot be read, or a file is not a scenario.
    pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
        let io = |source| Error::Io { path: dir.display().to_string(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
        files.sort();
        files.iter().map(|p| Scenario::load(p)).collect()
    }

    /// The header comment lines (each with its newline).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Replaces step `index`'s `expect` with `outcome`, stated compactly (what filling adds back
    /// is left out). [`Scenario::save`] writes it.
    pub fn set_expect(&mut self, index: usize, outcome: &Outcome, api_version: &str) {
        let mut exp = outcome.to_expect();
        // managedFields entries in the order the scenario files use.
        if let Some(entries) = exp.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in entries.iter_mut() {
                let Some(m) = e.as_object_mut() else { continue };
                let mut ordered = Map::new();
                for k in ["manager", "operation", "apiVersion", "subresource", "time", "fieldsV1"] {
                    if let Some(v) = m.remove(k) {
                        ordered.insert(k.to_owned(), v);
                    }
                }
                ordered.extend(std::mem::take(m));
                *m = ordered;
            }
        }
        if let Some(obj) = exp.get_mut("object").and_then(Value::as_object_mut) {
            if obj.get("apiVersion") == Some(&json!(api_version)) {
                obj.remove("apiVersion");
            }
            if obj.get("kind") == Some(&json!(self.kind)) {
                obj.remove("kind");
            }
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                if m.get("name") == Some(&json!(self.name)) {
                    m.remove("name");
                }
                if m.get("namespace") == Some(&json!(NAMESPACE)) {
                    m.remove("namespace");
                }
                if m.is_empty() {
                    obj.remove("metadata");
                }
            }
        }
        if let Some(raw) = self.doc["steps"].get_mut(index) {
            raw["expect"] = exp.clone();
        }
        if let Some(step) = self.steps.get_mut(index) {
            step.expect = Some(exp);
        }
    }

    /// Replaces the header comment (each line must start with `#`).
    pub fn set_header(&mut self, header: &str) {
        self.header = header.to_owned();
    }

    /// Writes the scenario back: header, then the document.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self) -> Result<()> {
        let p = self.path.display().to_string();
        let body = serde_norway::to_string(&self.doc)
            .map_err(|e| Error::Format { path: p.clone(), message: e.to_string() })?;
        let body: String = body.lines().map(|l| format!("{}\n", quote_yaml11_scalar(l))).collect();
        std::fs::write(&self.path, format!("{}{body}", self.header)).map_err(|source| Error::Io { path: p, source })
    }

    /// The expectation of step `index` with the filling rules applied.
    pub fn filled_expect(&self, index: usize, api_version: &str) -> Option<Value> {
        let mut exp = self.steps.get(index)?.expect.clone()?;
        if let Some(obj) = exp.get_mut("object").filter(|o| o.is_object()) {
            fill(obj, api_version, &self.kind, &self.name, NAMESPACE);
        }
        Some(exp)
    }
}

/// Quotes a plain scalar that YAML 1.1 parsers (Go's) would read as a timestamp or a boolean.
fn quote_yaml11_scalar(line: &str) -> String {
    let Some((key, value)) = line.rsplit_once(": ") else { return line.to_owned() };
    let b = value.as_bytes();
    let timestamp = b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && value.ends_with('Z')
        && !value.contains(' ');
    let boolish = matches!(value.to_ascii_lowercase().as_str(), "y" | "n" | "yes" | "no" | "on" | "off");
    if timestamp || boolish { format!("{key}: '{value}'") } else { line.to_owned() }
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    match obj["metadata"].as_object_mut() {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

/// The filling rules: a missing `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`
/// become the step's version, the scenario's kind and name, and `namespace`.
pub fn fill(obj: &mut Value, api_version: &str, kind: &str, name: &str, namespace: &str) {
    if !obj.is_object() {
        return;
    }
    if obj.get("apiVersion").is_none() {
        obj["apiVersion"] = json!(api_version);
    }
    if obj.get("kind").is_none() {
        obj["kind"] = json!(kind);
    }
    let m = meta_mut(obj);
    m.entry("name").or_insert_with(|| json!(name));
    m.entry("namespace").or_insert_with(|| json!(namespace));
}

/// An answer: the object, or the error of a `metav1.Status`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The object answered.
    Object(Value),
    /// A `metav1.Status` failure.
    Error {
        /// The HTTP code.
        code: u16,
        /// `message`.
        message: String,
        /// `details.causes`.
        causes: Vec<Value>,
    },
}

impl Outcome {
    /// The outcome in the form of a scenario's `expect`.
    pub fn to_expect(&self) -> Value {
        match self {
            Outcome::Object(obj) => json!({"object": normalize_object(obj), "managedFields": normalize_managed(obj)}),
            Outcome::Error { code, message, causes } => {
                let mut e = json!({"code": code, "message": message});
                if !causes.is_empty() {
                    e["causes"] = Value::Array(causes.clone());
                }
                json!({"error": e})
            }
        }
    }
}

/// The object as scenarios state it: without server-generated metadata.
pub fn normalize_object(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"] {
            m.remove(k);
        }
    }
    o
}

/// managedFields as scenarios state them: without `fieldsType` and `time`, and `time: false`
/// on entries that have no time.
pub fn normalize_managed(obj: &Value) -> Vec<Value> {
    let Some(entries) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else { return Vec::new() };
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(m) = e.as_object_mut() {
                if m.remove("time").is_none() {
                    m.insert("time".into(), json!(false));
                }
                m.remove("fieldsType");
            }
            e
        })
        .collect()
}

fn same_entries(expected: &[Value], actual: &[Value]) -> bool {
    expected.len() == actual.len()
        && expected
            .iter()
            .all(|e| expected.iter().filter(|x| *x == e).count() == actual.iter().filter(|x| *x == e).count())
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Compares an answer with a filled expectation ([`Scenario::filled_expect`]): errors by code,
/// message (when stated) and causes (unordered); objects exactly after normalising;
/// managedFields as unordered lists of normalised entries.
///
/// # Errors
/// A description of every difference.
pub fn check(expected: &Value, out: &Outcome) -> Result<(), String> {
    let actual = out.to_expect();
    if let Some(err) = expected.get("error") {
        let Some(got) = actual.get("error") else {
            return Err(format!("expected error {}, got {}", compact(err), compact(&actual)));
        };
        if err["code"] != got["code"] || (err.get("message").is_some() && err["message"] != got["message"]) {
            return Err(format!("expected error {}, got {}", compact(err), compact(got)));
        }
        let exp_causes = err.get("causes").and_then(Value::as_array).cloned().unwrap_or_default();
        let got_causes = got.get("causes").and_then(Value::as_array).cloned().unwrap_or_default();
        if !same_entries(&exp_causes, &got_causes) {
            return Err(format!(
                "expected causes {}, got {}",
                compact(&Value::Array(exp_causes)),
                compact(&Value::Array(got_causes))
            ));
        }
        return Ok(());
    }
    if actual.get("error").is_some() {
        return Err(format!("expected an object, got {}", compact(&actual)));
    }
    let mut problems = Vec::new();
    if let Some(obj) = expected.get("object")
        && *obj != actual["object"]
    {
        problems.push(format!(
            "object differs\n  expected: {}\n  actual:   {}",
            compact(obj),
            compact(&actual["object"])
        ));
    }
    if let Some(mf) = expected.get("managedFields") {
        let exp = mf.as_array().cloned().unwrap_or_default();
        let got = actual["managedFields"].as_array().cloned().unwrap_or_default();
        if !same_entries(&exp, &got) {
            problems.push(format!(
                "managedFields differ\n  expected: {}\n  actual:   {}",
                compact(&Value::Array(exp)),
                compact(&Value::Array(got))
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_entries_compare_as_multisets_without_times() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "a", "operation": "Apply", "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1"},
            {"manager": "b", "operation": "Apply", "fieldsType": "FieldsV1"},
        ]}});
        let exp = json!({"managedFields": [
            {"manager": "b", "operation": "Apply", "time": false},
            {"manager": "a", "operation": "Apply"},
        ]});
        assert_eq!(check(&exp, &Outcome::Object(obj.clone())), Ok(()));
        let wrong = json!({"managedFields": [
            {"manager": "a", "operation": "Apply"},
            {"manager": "a", "operation": "Apply"},
        ]});
        assert!(check(&wrong, &Outcome::Object(obj)).is_err());
    }

    #[test]
    fn errors_compare_code_message_and_causes() {
        let out = Outcome::Error { code: 409, message: "m".into(), causes: vec![json!({"field": ".a"})] };
        assert_eq!(check(&json!({"error": {"code": 409, "message": "m", "causes": [{"field": ".a"}]}}), &out), Ok(()));
        assert!(check(&json!({"error": {"code": 409, "message": "m"}}), &out).is_err());
        assert!(check(&json!({"error": {"code": 400}}), &out).is_err());
        assert!(check(&json!({"object": {}}), &out).is_err());
    }

    #[test]
    fn server_metadata_is_not_compared() {
        let obj = json!({"metadata": {"name": "x", "uid": "u", "resourceVersion": "3", "generation": 2,
            "creationTimestamp": "t"}, "spec": {}});
        assert_eq!(normalize_object(&obj), json!({"metadata": {"name": "x"}, "spec": {}}));
    }
}
