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

use std::path::Path;

use eddy_api::admission::{AdmissionError, FieldValidation, admit_create, admit_update};
use eddy_api::validation::{FieldError, validate_create, validate_update};
use eddy_ssa::{ApiVersionOnly, ApplyError, FieldManager, Request};
use eddy_ssa_scenarios::{NAMESPACE, Outcome, Scenario, Step, check, fill};
use serde_json::{Map, Value, json};

struct Server {
    fm: FieldManager,
    info: &'static eddy_api::ResourceInfo,
    stored: Option<Value>,
    clock: u32,
    uid: u32,
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
            Request { manager: &step.manager, api_version: &api_version, subresource: &step.subresource, now: &now };
        let status = step.subresource == "status";
        let live = self.read(&api_version);
        let filled = |mut obj: Value| -> Value {
            fill(&mut obj, &api_version, self.info.kind, name, NAMESPACE);
            obj
        };
        let result = match step.op.as_str() {
            "apply" => {
                if live.is_none() && status {
                    return not_found(self.info, name);
                }
                let config = filled(step.object.clone());
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
                let mut new = filled(step.object.clone());
                if let Err(e) = self.admit(&mut new, None) {
                    return e;
                }
                let new = self.fm.update_no_errors(None, &new, &req);
                self.finish(new, None, false, step.dry_run, false)
            }
            "update" | "patch-merge" | "patch-json" => {
                let Some(live) = live else { return not_found(self.info, name) };
                let mut new = match step.op.as_str() {
                    "update" => filled(step.object.clone()),
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

/// Replays one scenario; with `bless`, fills in the `expect` of steps that have none.
/// Returns whether it wrote the file.
fn run(sc: &mut Scenario, bless: bool) -> Result<bool, String> {
    let mut server = Server::new(&sc.kind);
    let mut blessed = false;
    for i in 0..sc.steps.len() {
        let step = sc.steps[i].clone();
        let out = server.step(&step, &sc.name);
        let api_version = step.api_version.clone().unwrap_or_else(|| server.storage_version());
        match sc.filled_expect(i, &api_version) {
            Some(expected) => check(&expected, &out).map_err(|e| format!("{}: {e}", step.describe(i)))?,
            None if bless => {
                sc.set_expect(i, &out, &api_version);
                blessed = true;
            }
            None => return Err(format!("{} has no expect", step.describe(i))),
        }
    }
    if blessed {
        sc.save().map_err(|e| e.to_string())?;
    }
    Ok(blessed)
}

fn scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    Scenario::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn scenarios_replay_through_the_engine() {
    let bless = std::env::var("EDDY_SSA_BLESS").is_ok_and(|v| v == "1");
    let mut scenarios = scenarios();
    assert!(scenarios.len() >= 60, "expected at least 60 scenarios, found {}", scenarios.len());
    let mut failures = Vec::new();
    for sc in &mut scenarios {
        match run(sc, bless) {
            Ok(true) => eprintln!("blessed {}", sc.path.display()),
            Ok(false) => {}
            Err(e) => failures.push(format!("{}: {e}", sc.id)),
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

/// Every scenario is replayed against kube-apiserver by test/ssa-differential; the header says
/// so (a new scenario needs that replay before it may claim it).
#[test]
fn scenario_headers_say_how_they_were_verified() {
    for sc in scenarios() {
        assert!(sc.header().starts_with("# Scenario "), "{} has no header", sc.path.display());
        assert!(
            sc.header().contains("verified against kube-apiserver v1.36.3 by the differential test"),
            "{} does not say how its expectations were verified",
            sc.path.display()
        );
    }
}
