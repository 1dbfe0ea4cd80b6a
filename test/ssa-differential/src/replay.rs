//! Replaying a scenario over HTTP through a `kube::Client`: each step becomes the request a
//! client would send (same verb, content type, `fieldManager`, `force`, `dryRun`, subresource
//! and version), and each answer is translated back and compared with the step's expectation.

use std::fmt::Write as _;

use http::{Method, Request, header};
use kube::client::{Body, Client};
use serde_json::{Value, json};

use crate::rename::Translation;
use crate::scenario::{NAMESPACE, Outcome, Scenario, Step, check, fill};
use crate::{Error, Result};

/// What a replay needs to know about the kind (as the scenarios name it, not renamed).
#[derive(Debug, Clone)]
pub struct Resource {
    pub group: String,
    pub kind: String,
    pub plural: String,
    /// The default version of steps without `apiVersion`.
    pub storage_version: String,
}

impl Resource {
    pub fn storage_api_version(&self) -> String {
        format!("{}/{}", self.group, self.storage_version)
    }
}

/// A raw answer: HTTP status and the JSON body (a string if the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Sends one request and reads the whole answer.
pub async fn send(
    client: &Client,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Option<&Value>,
) -> Result<Answer> {
    let mut req = Request::builder().method(method).uri(uri).header(header::ACCEPT, "application/json");
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let bytes = match body {
        Some(b) => serde_json::to_vec(b).map_err(|e| Error::Api(format!("encoding a body: {e}")))?,
        None => Vec::new(),
    };
    let resp = client.send(req.body(Body::from(bytes))?).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect_bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok(Answer { status, body })
}

/// Percent-encodes a query value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The outcome of an answer: the object for 2xx, else the error of the `metav1.Status`.
fn outcome(answer: &Answer, tr: &Translation) -> Outcome {
    let body = tr.inbound(&answer.body);
    if (200..300).contains(&answer.status) {
        return Outcome::Object(body);
    }
    let message = match &body {
        Value::Object(_) => body["message"].as_str().unwrap_or_default().to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let causes = body.pointer("/details/causes").and_then(Value::as_array).cloned().unwrap_or_default();
    Outcome::Error { code: answer.status, message, causes }
}

/// The result of one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// `step N (op by manager)`.
    pub label: String,
    /// The request's apiVersion (as the scenario names it).
    pub api_version: String,
    pub outcome: Outcome,
    /// Why the answer differs from the expectation; `None` when it agrees.
    pub mismatch: Option<String>,
}

/// Replays `sc` against `client` in namespace `tr.namespace()` (which must exist and be empty).
pub async fn run(client: &Client, sc: &Scenario, res: &Resource, tr: &Translation) -> Result<Vec<StepResult>> {
    let mut results = Vec::new();
    for (i, step) in sc.steps.iter().enumerate() {
        let api_version = step.api_version.clone().unwrap_or_else(|| res.storage_api_version());
        let answer = run_step(client, sc, res, tr, step, &api_version).await?;
        let outcome = outcome(&answer, tr);
        let mismatch = match sc.filled_expect(i, &api_version) {
            Some(exp) => check(&exp, &outcome).err(),
            None => Some("the step has no expect".to_owned()),
        };
        results.push(StepResult { label: step.describe(i), api_version, outcome, mismatch });
    }
    Ok(results)
}

async fn run_step(
    client: &Client,
    sc: &Scenario,
    res: &Resource,
    tr: &Translation,
    step: &Step,
    api_version: &str,
) -> Result<Answer> {
    let (group, version) = api_version
        .split_once('/')
        .ok_or_else(|| Error::Api(format!("{}: apiVersion {api_version} has no group", sc.id)))?;
    let collection = format!("/apis/{}/{version}/namespaces/{}/{}", tr.group_out(group), tr.namespace(), res.plural);
    let mut item = format!("{collection}/{}", sc.name);
    if !step.subresource.is_empty() {
        item = format!("{item}/{}", step.subresource);
    }
    let mut query = Vec::new();
    if !step.manager.is_empty() {
        query.push(format!("fieldManager={}", query_escape(&step.manager)));
    }
    if step.force {
        query.push("force=true".to_owned());
    }
    if step.dry_run {
        query.push("dryRun=All".to_owned());
    }
    let with_query =
        |path: &str| if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) };
    let body = |v: &Value| {
        let mut v = v.clone();
        fill(&mut v, api_version, &sc.kind, &sc.name, NAMESPACE);
        tr.outbound(&v)
    };
    match step.op.as_str() {
        "apply" => {
            let b = body(&step.object);
            send(client, Method::PATCH, &with_query(&item), Some("application/apply-patch+yaml"), Some(&b)).await
        }
        "create" => {
            let b = body(&step.object);
            send(client, Method::POST, &with_query(&collection), Some("application/json"), Some(&b)).await
        }
        "update" => {
            // The replayer adds the current resourceVersion (format: README "Scenario files").
            let current = send(client, Method::GET, &format!("{collection}/{}", sc.name), None, None).await?;
            let mut b = body(&step.object);
            if let Some(rv) = current.body.pointer("/metadata/resourceVersion").filter(|_| current.status == 200)
                && let Some(m) = b.get_mut("metadata").and_then(Value::as_object_mut)
            {
                m.insert("resourceVersion".into(), rv.clone());
            }
            send(client, Method::PUT, &with_query(&item), Some("application/json"), Some(&b)).await
        }
        "patch-merge" => {
            let b = tr.outbound(&step.patch);
            send(client, Method::PATCH, &with_query(&item), Some("application/merge-patch+json"), Some(&b)).await
        }
        "patch-json" => {
            let b = tr.outbound(&step.patch);
            send(client, Method::PATCH, &with_query(&item), Some("application/json-patch+json"), Some(&b)).await
        }
        "get" => send(client, Method::GET, &item, None, None).await,
        other => Err(Error::Api(format!("{}: unknown op {other}", sc.id))),
    }
}

/// Creates the objects the scenario's owner references name (ConfigMaps in `namespace`) and
/// returns (scenario uid, real uid) pairs for [`Translation::with_uids`].
pub async fn create_owners(client: &Client, sc: &Scenario, namespace: &str) -> Result<Vec<(String, String)>> {
    let mut uids: Vec<(String, String)> = Vec::new();
    for step in &sc.steps {
        for body in [&step.object, &step.patch] {
            let Some(refs) = body.pointer("/metadata/ownerReferences").and_then(Value::as_array) else { continue };
            for r in refs {
                let (Some(uid), Some(name)) = (r["uid"].as_str(), r["name"].as_str()) else { continue };
                if uids.iter().any(|(fake, _)| fake == uid) {
                    continue;
                }
                if r["apiVersion"] != "v1" || r["kind"] != "ConfigMap" {
                    return Err(Error::Api(format!("{}: only ConfigMap owners are supported, not {r}", sc.id)));
                }
                let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
                let uri = format!("/api/v1/namespaces/{namespace}/configmaps");
                let a = send(client, Method::POST, &uri, Some("application/json"), Some(&cm)).await?;
                let real = a.body.pointer("/metadata/uid").and_then(Value::as_str).filter(|_| a.status == 201);
                let Some(real) = real else {
                    return Err(Error::Api(format!(
                        "{}: creating owner ConfigMap {name}: {} {}",
                        sc.id, a.status, a.body
                    )));
                };
                uids.push((uid.to_owned(), real.to_owned()));
            }
        }
    }
    Ok(uids)
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name,
        "labels": {"app.kubernetes.io/created-by": "eddy-ssa-differential"}}});
    let a = send(client, Method::POST, "/api/v1/namespaces", Some("application/json"), Some(&body)).await?;
    if a.status != 201 {
        return Err(Error::Api(format!("creating namespace {name}: {} {}", a.status, a.body)));
    }
    Ok(())
}

/// Deletes namespace `name` (the namespace controller removes what it holds).
pub async fn delete_namespace(client: &Client, name: &str) -> Result<()> {
    let a = send(client, Method::DELETE, &format!("/api/v1/namespaces/{name}"), None, None).await?;
    if !matches!(a.status, 200 | 202 | 404) {
        return Err(Error::Api(format!("deleting namespace {name}: {} {}", a.status, a.body)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("kubectl-client-side-apply"), "kubectl-client-side-apply");
        assert_eq!(query_escape("a b/c"), "a%20b%2Fc");
    }
}
