//! Change-request comments (`internal/notifier/git_change_request_comment.go`,
//! `github_pull_request_comment.go`, `gitlab_merge_request_comment.go`,
//! `gitea_pull_request_comment.go`): one comment per Provider and involved object on the pull
//! (merge) request named by the event's `change_request` metadata, found again by a hidden
//! marker `<!-- flux-pr-comment-key:<provider uid>/<kind>/<namespace>/<name> -->` (GitLab:
//! `flux-mr-comment-key`) among the first 100 comments of the authenticated user, and edited
//! in place; otherwise created. The body is the marker, a blank line and the Markdown post of
//! `markdown.go`.

use eddy_controller_runtime::events::FluxEvent;
use serde_json::{Value, json};

use super::git::{get, github_api, github_headers, owner_repo};
use super::{NotifierError, Plan, obj};
use crate::config::ProviderConfig;
use crate::http::{self, HttpError, Request, RetryPolicy};

/// The metadata key naming the change request (`eventv1.MetaChangeRequestKey`).
pub const META_CHANGE_REQUEST: &str = "change_request";

/// What to do for one comment.
#[derive(Debug, Clone)]
pub(crate) struct CommentPlan {
    /// Asks who the token belongs to.
    user: Request,
    /// The JSON field of `user`'s answer holding the login.
    login_field: &'static str,
    /// Lists the first 100 comments.
    list: Request,
    /// Path to a comment author's login inside a listed comment.
    author: [&'static str; 2],
    /// The marker our comment carries.
    marker: String,
    /// Edits a comment: URL prefix (the comment id is appended) and method.
    edit_prefix: String,
    edit_method: reqwest::Method,
    /// Creates the comment.
    create: Request,
    /// The forge's words for its comments ("pull request comment", "merge request note").
    noun: &'static str,
}

/// The change request number of the event.
fn number(event: &FluxEvent) -> Result<u64, NotifierError> {
    let v = event
        .metadata
        .get(META_CHANGE_REQUEST)
        .ok_or_else(|| NotifierError::Event(format!("missing {META_CHANGE_REQUEST:?} metadata key")))?;
    v.parse::<u64>()
        .map_err(|e| NotifierError::Event(format!("invalid {META_CHANGE_REQUEST:?} metadata value {v:?}: {e}")))
}

/// The plan for a comment provider type.
pub(super) fn plan(provider_type: &str, cfg: &ProviderConfig, event: &FluxEvent) -> Result<Plan, NotifierError> {
    if cfg.provider_uid.is_empty() {
        return Err(NotifierError::Config("provider UID cannot be empty".into()));
    }
    let o = &event.involved_object;
    let key = format!("{}/{}/{}/{}", cfg.provider_uid, obj(&o.kind), obj(&o.namespace), obj(&o.name));
    let prefix =
        if provider_type == "gitlabmergerequestcomment" { "flux-mr-comment-key" } else { "flux-pr-comment-key" };
    let marker = format!("<!-- {prefix}:{key} -->");
    let body = json!({"body": format!("{marker}\n\n{}", super::chat::markdown_post(event))});
    let plan = match provider_type {
        "githubpullrequestcomment" => {
            if cfg.token.is_empty() {
                return Err(NotifierError::Config("github token or github app details must be specified".into()));
            }
            let (host, owner, repo) = owner_repo(cfg)?;
            let n = number(event)?;
            let api = format!("{}/repos/{owner}/{repo}/issues", github_api(&host));
            let h = |r: Request| github_headers(r, &cfg.token);
            CommentPlan {
                user: h(get(&format!("{}/user", github_api(&host)))),
                login_field: "login",
                list: h(get(&format!("{api}/{n}/comments?direction=asc&per_page=100&sort=created"))),
                author: ["user", "login"],
                marker,
                edit_prefix: format!("{api}/comments/"),
                edit_method: reqwest::Method::PATCH,
                create: h(Request::json(&format!("{api}/{n}/comments"), &body)),
                noun: "pull request comment",
            }
        }
        "gitlabmergerequestcomment" => {
            let token = if cfg.token.is_empty() { &cfg.password } else { &cfg.token };
            if token.is_empty() {
                return Err(NotifierError::Config("gitlab token cannot be empty".into()));
            }
            let (host, id) = super::parse_git_address(&cfg.url)?;
            let n = number(event)?;
            let project: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            let api = format!("{host}/api/v4");
            let notes = format!("{api}/projects/{project}/merge_requests/{n}/notes");
            let h = |r: Request| r.header("PRIVATE-TOKEN", token.clone());
            CommentPlan {
                user: h(get(&format!("{api}/user"))),
                login_field: "username",
                list: h(get(&format!("{notes}?order_by=created_at&per_page=100&sort=asc"))),
                author: ["author", "username"],
                marker,
                edit_prefix: format!("{notes}/"),
                edit_method: reqwest::Method::PUT,
                create: h(Request::json(&notes, &body)),
                noun: "merge request note",
            }
        }
        "giteapullrequestcomment" => {
            let token = if cfg.token.is_empty() { &cfg.password } else { &cfg.token };
            if token.is_empty() {
                return Err(NotifierError::Config("gitea token cannot be empty".into()));
            }
            let (host, owner, repo) = owner_repo(cfg)?;
            let n = number(event)?;
            let api = format!("{host}/api/v1");
            let issues = format!("{api}/repos/{owner}/{repo}/issues");
            let auth = format!("token {token}");
            let h = |r: Request| r.header("Authorization", auth.clone());
            CommentPlan {
                user: h(get(&format!("{api}/user"))),
                login_field: "login",
                list: h(get(&format!("{issues}/{n}/comments?page=1&limit=100"))),
                author: ["user", "login"],
                marker,
                edit_prefix: format!("{issues}/comments/"),
                edit_method: reqwest::Method::PATCH,
                create: h(Request::json(&format!("{issues}/{n}/comments"), &body)),
                noun: "pull request comment",
            }
        }
        other => return Err(NotifierError::Unsupported(other.to_owned())),
    };
    Ok(Plan::Comment(Box::new(plan)))
}

/// The id of the first listed comment by `login` that carries `marker`.
fn find(list: &Value, plan: &CommentPlan, login: &str) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|c| {
            c[plan.author[0]][plan.author[1]].as_str() == Some(login)
                && c["body"].as_str().is_some_and(|b| b.contains(&plan.marker))
        })
        .and_then(|c| c["id"].as_u64().map(|id| id.to_string()))
}

/// Who am I, find our comment, edit or create it.
pub(super) async fn post(
    client: &reqwest::Client,
    plan: &CommentPlan,
    policy: RetryPolicy,
) -> Result<(), NotifierError> {
    let fail = |what: String| move |e: HttpError| NotifierError::Event(format!("{what}: {e}"));
    let me =
        http::send(client, &plan.user, policy).await.map_err(fail("failed to get authenticated user info".into()))?;
    let me: Value = serde_json::from_slice(&me.body).unwrap_or_default();
    let login = me[plan.login_field].as_str().unwrap_or_default().to_owned();
    let plural = if plan.noun.ends_with("note") { "notes" } else { "comments" };
    let listed = http::send(client, &plan.list, policy)
        .await
        .map_err(fail(format!("failed to list {} {plural}", plan.noun.rsplit_once(' ').map_or("", |(p, _)| p))))?;
    let list: Value = serde_json::from_slice(&listed.body).unwrap_or_default();
    match find(&list, plan, &login) {
        Some(id) => {
            let mut edit = plan.create.clone();
            edit.url = format!("{}{id}", plan.edit_prefix);
            edit.method = plan.edit_method.clone();
            http::send(client, &edit, policy).await.map_err(fail(format!("failed to update {}", plan.noun)))?;
        }
        None => {
            http::send(client, &plan.create, policy).await.map_err(fail(format!("failed to create {}", plan.noun)))?;
        }
    }
    Ok(())
}
