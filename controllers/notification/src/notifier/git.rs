//! Git forges: commit statuses (`internal/notifier/github.go`, `gitlab.go`) and GitHub
//! repository dispatch (`github_dispatch.go`), speaking the forges' REST APIs directly.
//!
//! A commit status is set on the commit of the event's revision metadata (`commit`, else
//! `originRevision`, else `revision`), with the Provider's commit status key as context
//! (`generateDefaultCommitStatus`: `<kind>/<name>/<first part of the provider uid>`, lower
//! case), state success/failure by severity and the reason split into words as description;
//! an identical status already present is not posted again; `Progressing` events are skipped.

use eddy_controller_runtime::events::{FluxEvent, Severity};
use serde_json::{Value, json};

use super::{NotifierError, Plan, Planned, describe_reason, obj};
use crate::config::ProviderConfig;
use crate::event::{go_json_bytes, to_go_json};
use crate::http::Request;

/// `generateDefaultCommitStatus`.
#[must_use]
pub fn commit_status_key(provider_uid: &str, event: &FluxEvent) -> String {
    let o = &event.involved_object;
    let uid = provider_uid.split('-').next().unwrap_or_default();
    format!("{}/{}/{uid}", obj(&o.kind), obj(&o.name)).to_lowercase()
}

/// `parseGitAddress`: `(scheme://host, owner/repo)`, SSH addresses mapped to HTTPS, `.git`
/// trimmed.
///
/// # Errors
/// When the address is not a URL or SCP-like address.
pub fn parse_git_address(s: &str) -> Result<(String, String), NotifierError> {
    let bad = || NotifierError::Config("failed parsing the provider address".into());
    let (scheme, host, path) = if s.contains("://") {
        let u = url::Url::parse(s).map_err(|_| bad())?;
        let host = u.host_str().ok_or_else(bad)?.to_owned() + &u.port().map(|p| format!(":{p}")).unwrap_or_default();
        // Go's URL parser hands out the decoded path.
        let path = percent_encoding::percent_decode_str(u.path()).decode_utf8_lossy().into_owned();
        (u.scheme().to_owned(), host, path)
    } else {
        let (left, path) = s.split_once(':').ok_or_else(bad)?;
        let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
        ("ssh".to_owned(), host.to_owned(), path.to_owned())
    };
    let scheme = if scheme == "ssh" { "https".to_owned() } else { scheme };
    let id = path.trim_start_matches('/').trim_end_matches(".git").to_owned();
    Ok((format!("{scheme}://{host}"), id))
}

/// The revision in the event's metadata (`Event.GetRevision`).
pub(super) fn revision(event: &FluxEvent) -> Option<&str> {
    ["commit", "originRevision", "revision"].iter().find_map(|k| event.metadata.get(*k)).map(String::as_str)
}

/// `parseRevision`: the commit hash of a Flux revision (`main@sha1:<hex>`, legacy
/// `main/<hex>`, `sha1:<hex>`, or a bare hash).
pub(super) fn parse_revision(rev: &str) -> Result<String, NotifierError> {
    let tail = rev.rsplit_once('@').map_or(rev, |(_, t)| t);
    let tail = tail.rsplit_once(':').map_or(tail, |(_, t)| t);
    let hash = tail.rsplit_once('/').map_or(tail, |(_, t)| t);
    if (hash.len() == 40 || hash.len() == 64) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_owned())
    } else {
        Err(NotifierError::Event(format!("failed to extract commit hash from '{rev}' revision")))
    }
}

/// A commit status to set: first list what is there, then create unless identical.
#[derive(Debug, Clone)]
pub(crate) struct StatusPlan {
    /// Lists the commit's statuses.
    pub(crate) list: Request,
    /// Creates the status.
    pub(crate) create: Request,
    /// Whether an existing status in the list equals ours.
    pub(crate) duplicate: fn(&Value, &Value) -> bool,
    /// Our status, in the list's item shape.
    pub(crate) ours: Value,
    /// A 404 answer to the list means "no status yet" (Bitbucket's single-status lookups).
    pub(crate) missing_ok: bool,
    /// How a failed lookup is described.
    pub(crate) list_error: &'static str,
    /// How a failed creation is described.
    pub(crate) create_error: &'static str,
}

impl StatusPlan {
    /// Placeholders for the fields the GitHub-like forges share; callers set the rest.
    pub(super) fn defaults() -> Self {
        Self {
            list: Request::json("", &Value::Null),
            create: Request::json("", &Value::Null),
            duplicate: |_, _| false,
            ours: Value::Null,
            missing_ok: false,
            list_error: "could not list commit statuses",
            create_error: "could not create commit status",
        }
    }
}

/// A GET of `url` (no body, no Content-Type).
pub(super) fn get(url: &str) -> Request {
    let mut r = Request::json(url, &Value::Null);
    r.method = reqwest::Method::GET;
    r.body.clear();
    r.headers.clear();
    r
}

pub(super) fn owner_repo(cfg: &ProviderConfig) -> Result<(String, String, String), NotifierError> {
    let (host, id) = parse_git_address(&cfg.url)?;
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != 2 {
        return Err(NotifierError::Config(format!("invalid repository id: '{id}'")));
    }
    Ok((host, parts[0].to_owned(), parts[1].to_owned()))
}

/// go-github's API base: api.github.com, or `<host>/api/v3` for GitHub Enterprise.
pub(super) fn github_api(host: &str) -> String {
    if host == "https://github.com" || host == "http://github.com" {
        "https://api.github.com".to_owned()
    } else {
        format!("{host}/api/v3")
    }
}

pub(super) fn github_headers(req: Request, token: &str) -> Request {
    req.header("Accept", "application/vnd.github.v3+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("Authorization", format!("Bearer {token}"))
}

fn state_and_desc(event: &FluxEvent, ok: &str, failed: &str, forge: &str) -> Result<(String, String), NotifierError> {
    let state = match event.severity {
        Severity::Info => ok,
        Severity::Error => failed,
        Severity::Trace => return Err(NotifierError::Event(format!("can't convert to {forge} state"))),
    };
    Ok((state.to_owned(), describe_reason(&event.reason)))
}

fn github_status(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("github token or github app details must be specified".into()));
    }
    let (host, owner, repo) = owner_repo(cfg)?;
    if event.reason == "Progressing" {
        return Ok(Plan::Skip);
    }
    let rev = parse_revision(revision(event).ok_or_else(|| NotifierError::Event("missing revision metadata".into()))?)?;
    let (state, desc) = state_and_desc(event, "success", "failure", "github")?;
    let api = github_api(&host);
    let mut list = github_headers(
        Request::json(&format!("{api}/repos/{owner}/{repo}/commits/{rev}/statuses?per_page=50"), &Value::Null),
        &cfg.token,
    );
    list.method = reqwest::Method::GET;
    list.body.clear();
    list.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Type"));
    let ours = json!({"state": state, "description": desc, "context": cfg.commit_status});
    let create =
        github_headers(Request::json(&format!("{api}/repos/{owner}/{repo}/statuses/{rev}"), &ours), &cfg.token);
    // duplicateGithubStatus: the first status with our context decides.
    fn duplicate(list: &Value, ours: &Value) -> bool {
        list.as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["context"].is_string() && s["state"].is_string() && s["description"].is_string())
            .find(|s| s["context"] == ours["context"])
            .is_some_and(|s| s["state"] == ours["state"] && s["description"] == ours["description"])
    }
    Ok(Plan::Status(Box::new(StatusPlan { list, create, duplicate, ours, ..StatusPlan::defaults() })))
}

fn gitlab_status(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    let token = if cfg.token.is_empty() { &cfg.password } else { &cfg.token };
    if token.is_empty() {
        return Err(NotifierError::Config("gitlab token cannot be empty".into()));
    }
    let (host, id) = parse_git_address(&cfg.url)?;
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    if event.reason == "Progressing" {
        return Ok(Plan::Skip);
    }
    let rev = parse_revision(revision(event).ok_or_else(|| NotifierError::Event("missing revision metadata".into()))?)?;
    let (state, desc) = state_and_desc(event, "success", "failed", "gitlab")?;
    let project: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let name: String = url::form_urlencoded::byte_serialize(cfg.commit_status.as_bytes()).collect();
    let api = format!("{host}/api/v4");
    let mut list =
        Request::json(&format!("{api}/projects/{project}/repository/commits/{rev}/statuses?name={name}"), &Value::Null)
            .header("PRIVATE-TOKEN", token.clone());
    list.method = reqwest::Method::GET;
    list.body.clear();
    list.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Type"));
    let create = Request::json(
        &format!("{api}/projects/{project}/statuses/{rev}"),
        &json!({"state": state, "name": cfg.commit_status, "description": desc}),
    )
    .header("PRIVATE-TOKEN", token.clone());
    let ours = json!({"sha": rev, "status": state, "description": desc, "name": cfg.commit_status});
    // duplicateGitlabStatus: any status of the same commit with equal status, description, name.
    fn duplicate(list: &Value, ours: &Value) -> bool {
        list.as_array().into_iter().flatten().any(|s| {
            s["sha"] == ours["sha"]
                && s["status"] == ours["status"]
                && s["description"] == ours["description"]
                && s["name"] == ours["name"]
        })
    }
    Ok(Plan::Status(Box::new(StatusPlan { list, create, duplicate, ours, ..StatusPlan::defaults() })))
}

/// `gitea.go`: like GitHub on Gitea's API (`token` auth); `Progressing` is `pending`, not
/// skipped. (The Gitea SDK also asks `/api/v1/version` first; Eddy does not.)
fn gitea_status(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.commit_status.is_empty() {
        return Err(NotifierError::Config("commit status cannot be empty".into()));
    }
    let token = if cfg.token.is_empty() { &cfg.password } else { &cfg.token };
    if token.is_empty() {
        return Err(NotifierError::Config("gitea token cannot be empty".into()));
    }
    let (host, owner, repo) = owner_repo(cfg)?;
    let rev = parse_revision(revision(event).ok_or_else(|| NotifierError::Event("missing revision metadata".into()))?)?;
    let state = if event.reason == "Progressing" {
        "pending".to_owned()
    } else {
        state_and_desc(event, "success", "failure", "gitea")?.0
    };
    let desc = describe_reason(&event.reason);
    let api = format!("{host}/api/v1/repos/{owner}/{repo}/statuses/{rev}");
    let auth = format!("token {token}");
    let mut list = Request::json(&format!("{api}?page=0&limit=50"), &Value::Null).header("Authorization", auth.clone());
    list.method = reqwest::Method::GET;
    list.body.clear();
    list.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Type"));
    let ours = json!({"state": state, "target_url": "", "description": desc, "context": cfg.commit_status});
    let create = Request::json(&api, &ours).header("Authorization", auth);
    // duplicateGiteaStatus: the first complete status with our context decides.
    fn duplicate(list: &Value, ours: &Value) -> bool {
        list.as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                [&s["context"], &s["status"], &s["description"]]
                    .iter()
                    .all(|v| v.as_str().is_some_and(|x| !x.is_empty()))
            })
            .find(|s| s["context"] == ours["context"])
            .is_some_and(|s| s["status"] == ours["state"] && s["description"] == ours["description"])
    }
    Ok(Plan::Status(Box::new(StatusPlan { list, create, duplicate, ours, ..StatusPlan::defaults() })))
}

/// `github_dispatch.go`: a `repository_dispatch` with event type `Kind/name.namespace` and
/// the event as client payload.
fn github_dispatch(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("github token or github app details must be specified".into()));
    }
    let (host, owner, repo) = owner_repo(cfg)?;
    let o = &event.involved_object;
    let event_type = format!("{}/{}.{}", obj(&o.kind), obj(&o.name), obj(&o.namespace));
    let payload = json!({"event_type": event_type, "client_payload": to_go_json(event)});
    let mut req = github_headers(
        Request::json(&format!("{}/repos/{owner}/{repo}/dispatches", github_api(&host)), &payload),
        &cfg.token,
    );
    req.body = go_json_bytes(&payload);
    Ok(Plan::Requests(vec![Planned::any(req)]))
}

/// The plan of a forge provider type.
///
/// # Errors
/// [`NotifierError::Unsupported`] for forge types Eddy does not deliver to yet, or what the
/// provider lacks.
pub(crate) fn plan(provider_type: &str, cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    match provider_type {
        "github" => github_status(cfg, event),
        "gitlab" => gitlab_status(cfg, event),
        "gitea" => gitea_status(cfg, event),
        "githubdispatch" => github_dispatch(cfg, event),
        "bitbucket" => super::forge::bitbucket(cfg, event),
        "bitbucketserver" => super::forge::bitbucket_server(cfg, event),
        "azuredevops" => super::forge::azure_devops(cfg, event),
        "githubpullrequestcomment" | "gitlabmergerequestcomment" | "giteapullrequestcomment" => {
            super::comment::plan(provider_type, cfg, event)
        }
        other => Err(NotifierError::Unsupported(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_addresses() {
        assert_eq!(
            parse_git_address("https://github.com/org/repo").unwrap(),
            ("https://github.com".into(), "org/repo".into())
        );
        assert_eq!(
            parse_git_address("ssh://git@github.com/org/repo.git").unwrap(),
            ("https://github.com".into(), "org/repo".into())
        );
        assert_eq!(
            parse_git_address("git@gitlab.com:group/sub/repo.git").unwrap(),
            ("https://gitlab.com".into(), "group/sub/repo".into())
        );
        assert_eq!(
            parse_git_address("http://127.0.0.1:8080/org/repo").unwrap(),
            ("http://127.0.0.1:8080".into(), "org/repo".into())
        );
    }

    #[test]
    fn revisions() {
        let sha = "a".repeat(40);
        assert_eq!(parse_revision(&format!("main@sha1:{sha}")).unwrap(), sha);
        assert_eq!(parse_revision(&format!("main/{sha}")).unwrap(), sha);
        assert_eq!(parse_revision(&format!("sha1:{sha}")).unwrap(), sha);
        assert!(parse_revision("main@sha1:xyz").is_err());
    }
}
