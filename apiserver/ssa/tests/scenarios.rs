//! Replays the scripted scenarios in `tests/scenarios/*.yaml` (format: README.md) through the
//! engine and a small model of kube-apiserver's custom-resource request pipeline (decode with
//! pruning and defaulting, field manager, strategy, validation, storage).
//!
//! The expectations are kube-apiserver's answers (test/ssa-differential replays the same files
//! against a real kube-apiserver; `EDDY_SSA_DIFF_BLESS=1` there writes its answers). The model
//! follows kube's order: request bodies are decoded (pruned, defaulted) before the field manager,
//! apply results are only validated, and answers are read back through the storage codec.
//!
//! `EDDY_SSA_BLESS=1` fills in the `expect` of steps that have none (and only those) from the
//! engine's output, for drafting; prefer the differential test's bless, which asks kube-apiserver.

use std::path::{Path, PathBuf};

use eddy_api::admission::{AdmissionError, FieldValidation, admit_create, admit_update};
use eddy_api::validation::{FieldError, validate_create, validate_update};
use eddy_ssa::{ApiVersionOnly, ApplyError, FieldManager, Request};
use serde_json::{Map, Value, json};

const NAMESPACE: &str = "default";

struct Server {
    fm: FieldManager,
    info: &'static eddy_api::ResourceInfo,
    stored: Option<Value>,
    clock: u32,
    uid: u32,
}

/// A response: the object, or a Status-like error.
enum Outcome {
    Object(Value),
    Error { code: u16, message: String, causes: Vec<Value> },
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().unwrap_or_else(|| unreachable!())
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap_or_else(|| unreachable!());
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("json patch must be a list")? {
        let path = op["path"].as_str().ok_or("path")?;
        let (parent_ptr, last) = path.rsplit_once('/').ok_or("bad path")?;
        let last = unescape(last);
        let kind = op["op"].as_str().ok_or("op")?;
        let parent = target.pointer_mut(parent_ptr).ok_or_else(|| format!("missing {parent_ptr}"))?;
        match (kind, parent) {
            ("add" | "replace", Value::Object(m)) => {
                if kind == "replace" && !m.contains_key(&last) {
                    return Err(format!("replace of missing {path}"));
                }
                m.insert(last, op["value"].clone());
            }
            ("add", Value::Array(a)) => {
                let i = if last == "-" { a.len() } else { last.parse().map_err(|_| "index")? };
                a.insert(i, op["value"].clone());
            }
            ("replace", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| "index")?;
                *a.get_mut(i).ok_or("index")? = op["value"].clone();
            }
            ("remove", Value::Object(m)) => {
                m.remove(&last).ok_or_else(|| format!("remove of missing {path}"))?;
            }
            ("remove", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| "index")?;
                if i >= a.len() {
                    return Err("index".into());
                }
                a.remove(i);
            }
            (other, _) => return Err(format!("unsupported op {other}")),
        }
    }
    Ok(())
}

impl Server {
    fn new(kind: &str) -> Self {
        let info =
            eddy_api::registry().iter().find(|r| r.kind == kind).unwrap_or_else(|| panic!("unknown kind {kind}"));
        // kube-apiserver converts Flux CRDs with strategy None: only apiVersion changes.
        Server {
            fm: FieldManager::for_resource_with(info, Box::new(ApiVersionOnly)),
            info,
            stored: None,
            clock: 0,
            uid: 0,
        }
    }

    fn storage_version(&self) -> String {
        self.info.api_version(self.info.storage_version().name)
    }

    fn status_subresource(&self) -> bool {
        self.info.versions.iter().any(|v| v.status_subresource)
    }

    fn schema(&self, api_version: &str) -> &'static eddy_api::schema::Schema {
        let (_, version) = eddy_api::split_api_version(api_version);
        &self.info.version(version).unwrap_or_else(|| panic!("version {version}")).schema
    }

    /// An object as kube-apiserver's storage codec hands it out in `api_version`: decoded in the
    /// storage version (pruned, defaulted with that version's schema), then converted (strategy
    /// None: only apiVersion changes) and pruned with the target version's schema. Defaults of
    /// the target version are not applied.
    fn decode(&self, stored: &Value, api_version: &str) -> Value {
        let storage = self.storage_version();
        let mut obj = stored.clone();
        eddy_api::pruning::prune(self.schema(&storage), &mut obj);
        eddy_api::defaulting::default(self.schema(&storage), &mut obj);
        let mut obj = self.fm.types().convert(&obj, api_version).unwrap_or_else(|e| panic!("convert: {e}"));
        eddy_api::pruning::prune(self.schema(api_version), &mut obj);
        obj
    }

    /// An object as it is written to storage: converted to the storage version and pruned.
    fn encode(&self, obj: &Value) -> Value {
        let storage = self.storage_version();
        let mut out = self.fm.types().convert(obj, &storage).unwrap_or_else(|e| panic!("convert: {e}"));
        eddy_api::pruning::prune(self.schema(&storage), &mut out);
        out
    }

    /// The stored object as a client of `api_version` reads it.
    fn read(&self, api_version: &str) -> Option<Value> {
        Some(self.decode(self.stored.as_ref()?, api_version))
    }

    /// Admission as the CR handler does it for decoded request bodies (prune unknown fields and
    /// non-nullable nulls, default, validate).
    fn admit(&self, new: &mut Value, old: Option<&Value>) -> Result<(), Outcome> {
        let r = match old {
            None => admit_create(new, FieldValidation::Ignore),
            Some(o) => admit_update(new, o, FieldValidation::Ignore),
        };
        match r {
            Ok(_) => Ok(()),
            Err(AdmissionError::Invalid(errors)) => Err(self.invalid(new, &errors)),
            Err(e) => Err(Outcome::Error { code: 400, message: e.to_string(), causes: Vec::new() }),
        }
    }

    /// Validation only: the result of an apply is not decoded, so it is neither pruned nor
    /// defaulted before validation (a `null` applied to a non-nullable field is a 422).
    fn validate(&self, new: &Value, old: Option<&Value>) -> Result<(), Outcome> {
        let errors = match old {
            None => validate_create(new),
            Some(o) => validate_update(new, o),
        };
        if errors.is_empty() { Ok(()) } else { Err(self.invalid(new, &errors)) }
    }

    /// kube's 422 (`errors.NewInvalid`): `Kind.group "name" is invalid: <errors>` (several in
    /// brackets), one cause per error with the message after the field.
    fn invalid(&self, obj: &Value, errors: &[FieldError]) -> Outcome {
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let joined = if list.len() == 1 { list[0].clone() } else { format!("[{}]", list.join(", ")) };
        let causes = errors
            .iter()
            .map(|e| {
                let text = e.to_string();
                let body = text.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&text).to_owned();
                json!({"reason": e.error_type.cause_reason(), "message": body, "field": e.field})
            })
            .collect();
        Outcome::Error {
            code: 422,
            message: format!("{}.{} \"{name}\" is invalid: {joined}", self.info.kind, self.info.group),
            causes,
        }
    }

    /// The strategy and storage: status handling, server metadata, then (unless dry-run) store.
    /// `applied`: `new` is the result of an apply (validated only) rather than a decoded body.
    /// The answer is the object as stored, read back through the codec in `new`'s version.
    fn finish(
        &mut self,
        mut new: Value,
        old: Option<&Value>,
        status: bool,
        dry_run: bool,
        applied: bool,
    ) -> Result<Value, Outcome> {
        if self.status_subresource() {
            match (old, status) {
                (None, _) => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
                (Some(o), false) => match o.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                },
                (Some(o), true) => {
                    let mut kept = o.clone();
                    match new.get("status") {
                        Some(s) => kept["status"] = s.clone(),
                        None => {
                            if let Some(m) = kept.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                    match new.pointer("/metadata/managedFields") {
                        Some(mf) => meta_mut(&mut kept).insert("managedFields".into(), mf.clone()),
                        None => meta_mut(&mut kept).remove("managedFields"),
                    };
                    new = kept;
                }
            }
        }
        if applied {
            self.validate(&new, old)?;
        } else {
            self.admit(&mut new, old)?;
        }
        let meta = meta_mut(&mut new);
        match old {
            None => {
                self.uid += 1;
                meta.insert("uid".into(), json!(format!("uid-{}", self.uid)));
            }
            Some(o) => {
                for k in ["uid", "creationTimestamp"] {
                    if let Some(v) = o["metadata"].get(k) {
                        meta.insert(k.into(), v.clone());
                    }
                }
            }
        }
        let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
        let stored = self.encode(&new);
        let answer = self.decode(&stored, &api_version);
        if !dry_run {
            self.stored = Some(stored);
        }
        Ok(answer)
    }

    fn step(&mut self, step: &Step, name: &str) -> Outcome {
        self.clock += 1;
        let now = format!("2026-01-01T00:{:02}:{:02}Z", self.clock / 60, self.clock % 60);
        let api_version = step.api_version.clone().unwrap_or_else(|| self.storage_version());
        let req =
            Request { manager: &step.manager, api_version: &api_version, subresource: step.subresource(), now: &now };
        let status = step.subresource() == "status";
        let live = self.read(&api_version);
        let fill = |mut obj: Value| -> Value {
            if obj.get("apiVersion").is_none() {
                obj["apiVersion"] = json!(api_version);
            }
            if obj.get("kind").is_none() {
                obj["kind"] = json!(self.info.kind);
            }
            let m = meta_mut(&mut obj);
            m.entry("name").or_insert_with(|| json!(name));
            m.entry("namespace").or_insert_with(|| json!(NAMESPACE));
            obj
        };
        let result = match step.op.as_str() {
            "apply" => {
                if live.is_none() && status {
                    return not_found(self.info, name);
                }
                let config = fill(step.object.clone());
                match self.fm.apply(live.as_ref(), &config, &req, step.force) {
                    Ok(applied) => self.finish(applied.object, live.as_ref(), status, step.dry_run, true),
                    Err(ApplyError::Conflicts(c)) => {
                        let status = c.status();
                        return Outcome::Error {
                            code: 409,
                            message: c.message(),
                            causes: status["details"]["causes"].as_array().cloned().unwrap_or_default(),
                        };
                    }
                    Err(ApplyError::BadRequest(m)) => return Outcome::Error { code: 400, message: m, causes: vec![] },
                    Err(ApplyError::Internal(m)) => return Outcome::Error { code: 500, message: m, causes: vec![] },
                }
            }
            "get" => {
                let Some(live) = live else { return not_found(self.info, name) };
                Ok(live)
            }
            "create" => {
                if live.is_some() {
                    return Outcome::Error {
                        code: 409,
                        message: format!("{}.{} \"{name}\" already exists", self.info.plural, self.info.group),
                        causes: vec![],
                    };
                }
                let mut new = fill(step.object.clone());
                if let Err(e) = self.admit(&mut new, None) {
                    return e;
                }
                let new = self.fm.update_no_errors(None, &new, &req);
                self.finish(new, None, false, step.dry_run, false)
            }
            "update" | "patch-merge" | "patch-json" => {
                let Some(live) = live else { return not_found(self.info, name) };
                let mut new = match step.op.as_str() {
                    "update" => fill(step.object.clone()),
                    "patch-merge" => {
                        let mut n = live.clone();
                        merge_patch(&mut n, &step.patch);
                        n
                    }
                    _ => {
                        let mut n = live.clone();
                        if let Err(e) = json_patch(&mut n, &step.patch) {
                            return Outcome::Error { code: 422, message: e, causes: vec![] };
                        }
                        n
                    }
                };
                if let Err(e) = self.admit(&mut new, Some(&live)) {
                    return e;
                }
                let new = self.fm.update_no_errors(Some(&live), &new, &req);
                self.finish(new, Some(&live), status, step.dry_run, false)
            }
            other => panic!("unknown op {other}"),
        };
        match result {
            Ok(v) => Outcome::Object(v),
            Err(e) => e,
        }
    }
}

fn not_found(info: &eddy_api::ResourceInfo, name: &str) -> Outcome {
    Outcome::Error {
        code: 404,
        message: format!("{}.{} \"{name}\" not found", info.plural, info.group),
        causes: vec![],
    }
}

struct Step {
    op: String,
    manager: String,
    force: bool,
    dry_run: bool,
    api_version: Option<String>,
    object: Value,
    patch: Value,
    sub: String,
}

impl Step {
    fn parse(v: &Value) -> Step {
        let op = v["op"].as_str().expect("op").to_owned();
        let (op, sub) = match op.strip_suffix("-status") {
            Some(base) => (base.to_owned(), "status".to_owned()),
            None => (op, v.get("subresource").and_then(Value::as_str).unwrap_or_default().to_owned()),
        };
        Step {
            op,
            manager: v["manager"].as_str().unwrap_or_default().to_owned(),
            force: v["force"].as_bool().unwrap_or(false),
            dry_run: v["dryRun"].as_bool().unwrap_or(false),
            api_version: v.get("apiVersion").and_then(Value::as_str).map(str::to_owned),
            object: v.get("object").cloned().unwrap_or_else(|| json!({})),
            patch: v.get("patch").cloned().unwrap_or(Value::Null),
            sub,
        }
    }

    fn subresource(&self) -> &str {
        &self.sub
    }
}

/// The object as scenarios state it: without server-generated metadata.
fn normalize(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"] {
            m.remove(k);
        }
    }
    o
}

/// managedFields as scenarios state them: without times, `time: false` where there is none.
fn normalize_managed(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    let m = e.as_object_mut().unwrap_or_else(|| unreachable!());
                    if m.remove("time").is_none() {
                        m.insert("time".into(), json!(false));
                    }
                    m.remove("fieldsType");
                    e
                })
                .collect()
        })
        .unwrap_or_default()
}

fn same_entries(expected: &[Value], actual: &[Value]) -> bool {
    expected.len() == actual.len() && expected.iter().all(|e| actual.contains(e))
}

fn outcome_to_expect(out: &Outcome) -> Value {
    match out {
        Outcome::Object(obj) => json!({"object": normalize(obj), "managedFields": normalize_managed(obj)}),
        Outcome::Error { code, message, causes } => {
            let mut e = json!({"code": code, "message": message});
            if !causes.is_empty() {
                e["causes"] = Value::Array(causes.clone());
            }
            json!({"error": e})
        }
    }
}

/// The expectation with the same filling as inputs (apiVersion, kind, name, namespace).
fn fill_expected(mut exp: Value, api_version: &str, kind: &str, name: &str) -> Value {
    if let Some(obj) = exp.get_mut("object")
        && obj.is_object()
    {
        if obj.get("apiVersion").is_none() {
            obj["apiVersion"] = json!(api_version);
        }
        if obj.get("kind").is_none() {
            obj["kind"] = json!(kind);
        }
        let m = meta_mut(obj);
        m.entry("name").or_insert_with(|| json!(name));
        m.entry("namespace").or_insert_with(|| json!(NAMESPACE));
    }
    exp
}

fn check(expected: &Value, out: &Outcome) -> Result<(), String> {
    let actual = outcome_to_expect(out);
    if let Some(err) = expected.get("error") {
        let Some(got) = actual.get("error") else { return Err(format!("expected error {err}, got {actual}")) };
        if err["code"] != got["code"] || (err.get("message").is_some() && err["message"] != got["message"]) {
            return Err(format!("expected error {err}, got {got}"));
        }
        let exp_causes = err.get("causes").and_then(Value::as_array).cloned().unwrap_or_default();
        let got_causes = got.get("causes").and_then(Value::as_array).cloned().unwrap_or_default();
        if !same_entries(&exp_causes, &got_causes) {
            return Err(format!("expected causes {exp_causes:?}, got {got_causes:?}"));
        }
        return Ok(());
    }
    if let Some(obj) = expected.get("object")
        && *obj != actual["object"]
    {
        return Err(format!(
            "object differs\nexpected: {}\nactual:   {}",
            serde_json::to_string(obj).unwrap_or_default(),
            serde_json::to_string(&actual["object"]).unwrap_or_default()
        ));
    }
    if let Some(mf) = expected.get("managedFields") {
        let exp = mf.as_array().cloned().unwrap_or_default();
        let got = actual["managedFields"].as_array().cloned().unwrap_or_default();
        if !same_entries(&exp, &got) {
            return Err(format!(
                "managedFields differ\nexpected: {}\nactual:   {}",
                serde_json::to_string(&exp).unwrap_or_default(),
                serde_json::to_string(&got).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()).unwrap_or_default())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn run(path: &Path, bless: bool) -> Result<bool, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut doc: Value = serde_norway::from_str(&text).map_err(|e| e.to_string())?;
    let kind = doc["kind"].as_str().ok_or("kind")?.to_owned();
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("s").to_owned();
    let mut server = Server::new(&kind);
    let mut blessed = false;
    let steps = doc["steps"].as_array_mut().ok_or("steps")?;
    for (i, raw) in steps.iter_mut().enumerate() {
        let step = Step::parse(raw);
        let out = server.step(&step, &name);
        let api_version = step.api_version.clone().unwrap_or_else(|| server.storage_version());
        match raw.get("expect") {
            Some(expected) => {
                let expected = fill_expected(expected.clone(), &api_version, &kind, &name);
                check(&expected, &out).map_err(|e| format!("step {} ({} by {}): {e}", i + 1, step.op, step.manager))?;
            }
            None if bless => {
                let mut exp = outcome_to_expect(&out);
                // State expectations compactly: drop what filling adds back.
                if let Some(obj) = exp.get_mut("object").and_then(Value::as_object_mut) {
                    if obj.get("apiVersion") == Some(&json!(api_version)) {
                        obj.remove("apiVersion");
                    }
                    if obj.get("kind") == Some(&json!(kind)) {
                        obj.remove("kind");
                    }
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        if m.get("name") == Some(&json!(name)) {
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
                raw["expect"] = exp;
                blessed = true;
            }
            None => return Err(format!("step {} has no expect", i + 1)),
        }
    }
    if blessed {
        let header: String = text.lines().take_while(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let body = serde_norway::to_string(&doc).map_err(|e| e.to_string())?;
        let body: String = body.lines().map(|l| format!("{}\n", quote_timestamp(l))).collect();
        std::fs::write(path, format!("{header}{body}")).map_err(|e| e.to_string())?;
    }
    Ok(blessed)
}

/// Quotes a plain RFC 3339 scalar (`key: 2026-01-01T00:00:00Z`), which YAML 1.1 parsers (Go's)
/// would otherwise read as a timestamp.
fn quote_timestamp(line: &str) -> String {
    let Some((key, value)) = line.rsplit_once(": ") else { return line.to_owned() };
    let b = value.as_bytes();
    let looks = b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && value.ends_with('Z')
        && !value.contains(' ');
    // YAML 1.1 booleans too.
    let boolish = matches!(value.to_ascii_lowercase().as_str(), "y" | "n" | "yes" | "no" | "on" | "off");
    if looks || boolish { format!("{key}: '{value}'") } else { line.to_owned() }
}

#[test]
fn scenarios_replay_through_the_engine() {
    let bless = std::env::var("EDDY_SSA_BLESS").is_ok_and(|v| v == "1");
    let files = scenario_files();
    assert!(files.len() >= 60, "expected at least 60 scenarios, found {}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        match run(f, bless) {
            Ok(true) => eprintln!("blessed {}", f.display()),
            Ok(false) => {}
            Err(e) => failures.push(format!("{}: {e}", f.file_name().unwrap_or_default().to_string_lossy())),
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

/// Every scenario is replayed against kube-apiserver by test/ssa-differential; the header says
/// so (a new scenario needs that replay before it may claim it).
#[test]
fn scenario_headers_say_how_they_were_verified() {
    for f in scenario_files() {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(text.starts_with("# Scenario "), "{} has no header", f.display());
        assert!(
            text.contains("verified against kube-apiserver v1.36.3 by the differential test"),
            "{} does not say how its expectations were verified",
            f.display()
        );
    }
}
