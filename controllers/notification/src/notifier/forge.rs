//! Commit statuses on Bitbucket Cloud (`internal/notifier/bitbucket.go`, through
//! ktrysmt/go-bitbucket), Bitbucket Server/Data Center (`bitbucketserver.go`) and Azure DevOps
//! (`azure_devops.go`, through azure-devops-go-api v6), speaking each host's REST API directly.
//!
//! All three skip `Progressing` events, set the status on the commit of the event's revision
//! and post nothing when an identical status is already there. The status name is
//! `<kind>/<name>` in lower case and the description the reason split into lower-case words
//! (`formatNameAndDescription`); the Provider's commit status key identifies the status
//! (SHA-1 hex of it on Bitbucket, the context name on Azure DevOps).

use base64::Engine as _;
use eddy_controller_runtime::events::{FluxEvent, Severity};
use serde_json::{Map, Value, json};
use sha1::{Digest as _, Sha1};

use super::git::{StatusPlan, get, parse_revision, revision};
use super::{NotifierError, Plan, describe_reason, obj};
use crate::config::ProviderConfig;
use crate::event::hex;
use crate::http::Request;

/// go-bitbucket's default API base (`DEFAULT_BITBUCKET_API_BASE_URL`).
pub const BITBUCKET_API: &str = "https://api.bitbucket.org/2.0";

/// `formatNameAndDescription`: `kind/name` and the reason's words, both lower case.
fn name_and_description(event: &FluxEvent) -> (String, String) {
    let o = &event.involved_object;
    (format!("{}/{}", obj(&o.kind), obj(&o.name)).to_lowercase(), describe_reason(&event.reason))
}

/// `sha1String`.
fn sha1_hex(s: &str) -> String {
    hex(&Sha1::digest(s.as_bytes()))
}

/// The commit hash of the event's revision metadata.
fn commit(event: &FluxEvent) -> Result<String, NotifierError> {
    parse_revision(revision(event).ok_or_else(|| NotifierError::Event("missing revision metadata".into()))?)
}

fn severity_state(event: &FluxEvent, ok: &str, failed: &str, err: &str) -> Result<String, NotifierError> {
    match event.severity {
        Severity::Info => Ok(ok.to_owned()),
        Severity::Error => Ok(failed.to_owned()),
        Severity::Trace => Err(NotifierError::Event(err.to_owned())),
    }
}

/// `bitbucket.go`: the token is `<user>:<password>` (basic auth); the status is looked up by
/// key (`GET …/statuses/build/<key>`, 404: none) and created with `POST …/statuses/build`
/// unless state and description are unchanged. The address's host is not used: the API is
/// go-bitbucket's (api.bitbucket.org, or `BITBUCKET_API_BASE_URL` as the SDK reads it).
pub(super) fn bitbucket(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("bitbucket token cannot be empty".into()));
    }
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    let (_, id) = super::parse_git_address(&cfg.url)?;
    let Some((user, password)) = cfg.token.split_once(':').filter(|(_, p)| !p.contains(':')) else {
        return Err(NotifierError::Config("invalid token format, expected to be <user>:<password>".into()));
    };
    let parts: Vec<&str> = id.split('/').collect();
    let [owner, repo] = parts.as_slice() else {
        return Err(NotifierError::Config(format!("invalid repository id {id:?}")));
    };
    if event.reason == "Progressing" {
        return Ok(Plan::Skip);
    }
    let rev = commit(event)?;
    let state = severity_state(event, "SUCCESSFUL", "FAILED", "can't convert to bitbucket state")?;
    let (name, desc) = name_and_description(event);
    let key = sha1_hex(&cfg.commit_status);
    let api = if cfg.bitbucket_api.is_empty() { BITBUCKET_API } else { cfg.bitbucket_api.trim_end_matches('/') };
    let base = format!("{api}/repositories/{owner}/{repo}/commit/{rev}/statuses/build");
    let auth = |mut r: Request| {
        r.basic_auth = Some((user.to_owned(), password.to_owned()));
        r
    };
    let ours = json!({"key": key, "url": "https://bitbucket.org", "state": state, "name": name, "description": desc});
    let create = auth(Request::json(&base, &ours));
    let list = auth(get(&format!("{base}/{key}")));
    // duplicateBitbucketStatus: the status under our key, same state and description.
    fn duplicate(found: &Value, ours: &Value) -> bool {
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        text(found, "state") == text(ours, "state") && text(found, "description") == text(ours, "description")
    }
    Ok(Plan::Status(Box::new(StatusPlan {
        list,
        create,
        duplicate,
        ours,
        missing_ok: true,
        list_error: "could not get commit status",
        create_error: "could not create commit status",
    })))
}

/// `parseBitbucketServerGitAddress`: an HTTP(S) clone URL `…/scm/<project>/<repo>.git` gives
/// `<context>/rest/api/latest/projects/<project>/repos/<repo>/commits`.
fn bitbucket_server_commits(address: &str) -> Result<String, NotifierError> {
    let bad = |why: String| NotifierError::Config(format!("could not parse git address: {why}"));
    let u = url::Url::parse(address).map_err(|_| bad("invalid URL".into()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad(format!("unsupported scheme type in address: {}. Must be http or https", u.scheme())));
    }
    let path = u.path().trim_end_matches(".git");
    let Some(at) = path.rfind("/scm/") else {
        return Err(bad("supplied provider address is not http(s) git clone url".into()));
    };
    let id = &path[at + "/scm/".len()..];
    let parts: Vec<&str> = id.split('/').collect();
    let [project, repo] = parts.as_slice() else {
        return Err(bad(format!("invalid repository id {id:?}")));
    };
    let host = u.host_str().unwrap_or_default();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{}://{host}{port}{}/rest/api/latest/projects/{project}/repos/{repo}/commits", u.scheme(), &path[..at]))
}

/// `bitbucketserver.go`: the build-status API with bearer (token) or basic auth; the status
/// key is the SHA-1 of the commit status key, the name carries the description in brackets,
/// the existing status is read with `GET …/builds?key=<key>` (404: none).
pub(super) fn bitbucket_server(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    let commits = bitbucket_server_commits(&cfg.url)?;
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    if cfg.token.is_empty() && (cfg.username.is_empty() || cfg.password.is_empty()) {
        return Err(NotifierError::Config(
            "invalid credentials, expected to be one of username/password or API Token".into(),
        ));
    }
    if event.reason == "Progressing" {
        return Ok(Plan::Skip);
    }
    let rev = revision(event).ok_or_else(|| NotifierError::Event("missing revision metadata".into()))?;
    let rev = parse_revision(rev).map_err(|e| NotifierError::Event(format!("could not parse revision: {e}")))?;
    let state = severity_state(
        event,
        "SUCCESSFUL",
        "FAILED",
        "couldn't convert to bitbucket server state: bitbucket server state generated on info or error events only",
    )?;
    let (name, desc) = name_and_description(event);
    let name = format!("{name} [{desc}]");
    let key = sha1_hex(&cfg.commit_status);
    let builds = format!("{commits}/{rev}/builds");
    let auth = if cfg.token.is_empty() {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cfg.username, cfg.password));
        format!("Basic {basic}")
    } else {
        format!("Bearer {}", cfg.token)
    };
    let common = |r: Request| {
        r.header("Authorization", auth.clone())
            .header("x-atlassian-token", "no-check")
            .header("x-requested-with", "XMLHttpRequest")
    };
    let list = common(get(&format!("{builds}?key={key}")));
    // bbServerBuildStatusSetRequest as json.NewEncoder writes it: fields in struct order,
    // empty optional ones left out, a trailing newline.
    let mut body = Map::new();
    if !desc.is_empty() {
        body.insert("description".into(), desc.clone().into());
    }
    body.insert("key".into(), key.clone().into());
    if !name.is_empty() {
        body.insert("name".into(), name.clone().into());
    }
    body.insert("state".into(), state.clone().into());
    body.insert("url".into(), cfg.url.clone().into());
    let mut create = common(Request::json(&builds, &Value::Object(body)));
    create.body.push(b'\n');
    let ours = json!({"key": key, "state": state, "description": desc, "name": name});
    // duplicateBitbucketServerStatus: key, state, description and name all equal.
    fn duplicate(found: &Value, ours: &Value) -> bool {
        ["key", "state", "description", "name"]
            .iter()
            .all(|k| found[*k].as_str().unwrap_or_default() == ours[*k].as_str().unwrap_or_default())
    }
    Ok(Plan::Status(Box::new(StatusPlan {
        list,
        create,
        duplicate,
        ours,
        missing_ok: true,
        list_error: "could not get existing commit status",
        create_error: "could not post build status",
    })))
}

/// `azure_devops.go`: the Git statuses API of `<host>/<org>/<project>/_git/<repo>` with the
/// token as PAT (basic auth, empty user); context genre `fluxcd` (`fluxcd:<summary>` when
/// the event has a summary) and name the commit status key; state `succeeded` or `error`.
/// Eddy calls the statuses route (`api-version=6.0`) directly where the SDK first asks the
/// organization's location service for it; without a token upstream falls back to Azure
/// workload identity, which Eddy does not implement.
pub(super) fn azure_devops(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.token.is_empty() {
        return Err(NotifierError::Config(
            "failed to acquire azure devops token: no token in the secret (Azure workload identity is not supported)"
                .into(),
        ));
    }
    let (host, id) = super::parse_git_address(&cfg.url)?;
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    let parts: Vec<&str> = id.split('/').collect();
    let [org, project, _, repo] = parts.as_slice() else {
        return Err(NotifierError::Config(format!("invalid repository id {id:?}")));
    };
    if event.reason == "Progressing" {
        return Ok(Plan::Skip);
    }
    let rev = commit(event)?;
    let state = severity_state(event, "succeeded", "error", "can't convert to azure devops state")?;
    let genre = match event.metadata.get("summary") {
        Some(s) => format!("fluxcd:{s}"),
        None => "fluxcd".to_owned(),
    };
    let (_, desc) = name_and_description(event);
    let mut u = url::Url::parse(&host).map_err(|_| NotifierError::InvalidUrl("Azure DevOps"))?;
    u.path_segments_mut().map_err(|()| NotifierError::InvalidUrl("Azure DevOps"))?.clear().extend([
        *org,
        *project,
        "_apis",
        "git",
        "repositories",
        *repo,
        "commits",
        rev.as_str(),
        "statuses",
    ]);
    u.set_query(Some("api-version=6.0"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(":{}", cfg.token));
    let headers = |r: Request| {
        r.header("Accept", "application/json;api-version=6.0")
            .header("Authorization", format!("Basic {basic}"))
            .header("X-TFS-FedAuthRedirect", "Suppress")
    };
    let ours = json!({"context": {"genre": genre, "name": cfg.commit_status}, "description": desc, "state": state});
    let create = headers(Request::json(u.as_str(), &ours));
    let list = headers(get(u.as_str()));
    // duplicateAzureDevOpsStatus: the first complete status with our name and genre decides.
    fn duplicate(list: &Value, ours: &Value) -> bool {
        list["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["context"]["name"].is_string()
                    && s["context"]["genre"].is_string()
                    && s["state"].is_string()
                    && s["description"].is_string()
            })
            .find(|s| {
                s["context"]["name"] == ours["context"]["name"] && s["context"]["genre"] == ours["context"]["genre"]
            })
            .is_some_and(|s| s["state"] == ours["state"] && s["description"] == ours["description"])
    }
    Ok(Plan::Status(Box::new(StatusPlan { list, create, duplicate, ours, ..StatusPlan::defaults() })))
}
