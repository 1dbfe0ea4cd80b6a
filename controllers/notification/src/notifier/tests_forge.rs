//! Bitbucket, Bitbucket Server, Azure DevOps commit statuses and the change-request comment
//! providers, each against a local server speaking the host's API; fields checked one by one
//! against the upstream notifier named in each test.

use eddy_controller_runtime::events::Severity;
use serde_json::json;

use super::tests::{config, event, fast};
use super::*;
use crate::testserver::Capture;

const KEY: &str = "kustomization/apps/8d7f5c2e";
/// sha1("kustomization/apps/8d7f5c2e"), computed outside Eddy.
const KEY_SHA1: &str = "9b3918522846a20132c874f0448b8699ade0cecb";

fn sha() -> String {
    "a".repeat(40)
}

// bitbucket.go (go-bitbucket): GET the status by sha1(key), 404 = none, POST
// CommitStatusOptions {key,url,state,name,description}, basic auth from "<user>:<password>".
#[tokio::test]
async fn bitbucket_cloud() {
    let server = Capture::start().await;
    let mut cfg = config("bitbucket", "https://bitbucket.org/owner/repo.git");
    cfg.bitbucket_api = format!("{}/2.0", server.url);
    cfg.token = "bob:s3cret".into();
    cfg.commit_status = KEY.into();
    server.script(&[(404, r#"{"type":"error"}"#)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].method, "GET");
    assert_eq!(rs[0].path, format!("/2.0/repositories/owner/repo/commit/{}/statuses/build/{KEY_SHA1}", sha()));
    assert_eq!(rs[0].header("authorization"), "Basic Ym9iOnMzY3JldA==");
    assert_eq!(rs[1].method, "POST");
    assert_eq!(rs[1].path, format!("/2.0/repositories/owner/repo/commit/{}/statuses/build", sha()));
    assert_eq!(rs[1].header("authorization"), "Basic Ym9iOnMzY3JldA==");
    assert_eq!(rs[1].header("content-type"), "application/json");
    let body = String::from_utf8(rs[1].body.clone()).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"key":"{KEY_SHA1}","url":"https://bitbucket.org","state":"FAILED","name":"kustomization/apps","description":"health check failed"}}"#
        ),
        "fields in CommitStatusOptions order"
    );
    // Same state and description under our key: nothing posted.
    server.script(&[(200, r#"{"state":"SUCCESSFUL","description":"health check failed","key":"x"}"#)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    // Another state: posted.
    server.script(&[(200, r#"{"state":"FAILED","description":"health check failed"}"#)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 5);
    assert_eq!(rs[4].json()["state"], "SUCCESSFUL");
    // A lookup failing otherwise than 404 fails without posting.
    server.script(&[(403, "forbidden")]);
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert!(err.to_string().starts_with("could not get commit status:"), "{err}");
    assert!(!err.to_string().contains("s3cret"));
    assert_eq!(server.requests().len(), 6);
    // Progressing is skipped.
    let mut p = event(Severity::Info);
    p.reason = "Progressing".into();
    Notifier::new(cfg.clone(), fast()).unwrap().post(&p).await.unwrap();
    assert_eq!(server.requests().len(), 6);

    for (token, want) in [
        ("", "bitbucket token cannot be empty"),
        ("nocolon", "invalid token format, expected to be <user>:<password>"),
        ("a:b:c", "invalid token format, expected to be <user>:<password>"),
    ] {
        let mut c = cfg.clone();
        c.token = token.into();
        let err = Notifier::new(c, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    let mut c = cfg.clone();
    c.url = "https://bitbucket.org/owner/group/repo".into();
    let err = Notifier::new(c, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), r#"invalid repository id "owner/group/repo""#);
}

// bitbucketserver.go: build-status API under the clone URL's context path, key = sha1(key),
// name "<kind>/<name> [<desc>]", bearer or basic auth, atlassian headers, json.Encoder body.
#[tokio::test]
async fn bitbucket_server() {
    let server = Capture::start().await;
    let address = format!("{}/bitbucket/scm/PROJ/repo.git", server.url);
    let mut cfg = config("bitbucketserver", &address);
    cfg.token = "bbs-token".into();
    cfg.commit_status = KEY.into();
    server.script(&[(404, "")]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    let rs = server.requests();
    let builds = format!("/bitbucket/rest/api/latest/projects/PROJ/repos/repo/commits/{}/builds", sha());
    assert_eq!(rs[0].method, "GET");
    assert_eq!(rs[0].path, format!("{builds}?key={KEY_SHA1}"));
    for r in &rs {
        assert_eq!(r.header("authorization"), "Bearer bbs-token");
        assert_eq!(r.header("x-atlassian-token"), "no-check");
        assert_eq!(r.header("x-requested-with"), "XMLHttpRequest");
    }
    assert_eq!(rs[1].method, "POST");
    assert_eq!(rs[1].path, builds);
    assert_eq!(rs[1].header("content-type"), "application/json");
    assert_eq!(
        String::from_utf8(rs[1].body.clone()).unwrap(),
        format!(
            "{{\"description\":\"health check failed\",\"key\":\"{KEY_SHA1}\",\"name\":\"kustomization/apps [health check failed]\",\"state\":\"FAILED\",\"url\":\"{address}\"}}\n"
        )
    );
    // Identical: not posted again.
    server.script(&[(
        200,
        &format!(
            r#"{{"key":"{KEY_SHA1}","state":"FAILED","description":"health check failed","name":"kustomization/apps [health check failed]"}}"#
        ),
    )]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    // Basic auth without a token.
    cfg.token = String::new();
    cfg.username = "bob".into();
    cfg.password = "s3cret".into();
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs[3].header("authorization"), "Basic Ym9iOnMzY3JldA==");
    assert_eq!(rs[4].json()["state"], "SUCCESSFUL");

    cfg.password = String::new();
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid credentials, expected to be one of username/password or API Token");
    cfg.url = format!("{}/PROJ/repo.git", server.url);
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(err.to_string(), "could not parse git address: supplied provider address is not http(s) git clone url");
    cfg.url = "ssh://git@host/scm/PROJ/repo.git".into();
    let err = Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not parse git address: unsupported scheme type in address: ssh. Must be http or https"
    );
}

// azure_devops.go (azure-devops-go-api v6 GetStatuses / CreateCommitStatus): PAT as basic auth
// with an empty user, genre fluxcd[:summary], name = commit status key, succeeded/error.
#[tokio::test]
async fn azure_devops() {
    let server = Capture::start().await;
    let mut cfg = config("azuredevops", &format!("{}/org/my%20proj/_git/repo", server.url));
    cfg.token = "azpat".into();
    cfg.commit_status = KEY.into();
    server.script(&[(200, r#"{"count":0,"value":[]}"#)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    let rs = server.requests();
    let path = format!("/org/my%20proj/_apis/git/repositories/repo/commits/{}/statuses?api-version=6.0", sha());
    assert_eq!(rs[0].method, "GET");
    assert_eq!(rs[0].path, path);
    assert_eq!(rs[1].method, "POST");
    assert_eq!(rs[1].path, path);
    for r in &rs {
        assert_eq!(r.header("authorization"), "Basic OmF6cGF0");
        assert_eq!(r.header("accept"), "application/json;api-version=6.0");
    }
    assert_eq!(
        String::from_utf8(rs[1].body.clone()).unwrap(),
        format!(
            r#"{{"context":{{"genre":"fluxcd:prod","name":"{KEY}"}},"description":"health check failed","state":"error"}}"#
        ),
        "GitStatus fields in struct order, genre with the summary"
    );
    // The first status with our name and genre decides.
    server.script(&[(
        200,
        &format!(
            r#"{{"count":2,"value":[{{"context":{{"genre":"fluxcd:prod","name":"{KEY}"}},"state":"error","description":"health check failed"}},{{"context":{{"genre":"fluxcd:prod","name":"{KEY}"}},"state":"succeeded","description":"health check failed"}}]}}"#
        ),
    )]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&event(Severity::Error)).await.unwrap();
    assert_eq!(server.requests().len(), 3, "duplicate: not posted");
    let mut e = event(Severity::Info);
    e.metadata.remove("summary");
    Notifier::new(cfg.clone(), fast()).unwrap().post(&e).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs[4].json()["context"]["genre"], "fluxcd");
    assert_eq!(rs[4].json()["state"], "succeeded");

    let mut c = cfg.clone();
    c.url = format!("{}/org/proj/repo", server.url);
    let err = Notifier::new(c, fast()).unwrap().post(&e).await.unwrap_err();
    assert_eq!(err.to_string(), r#"invalid repository id "org/proj/repo""#);
    let mut c = cfg.clone();
    c.token = String::new();
    let err = Notifier::new(c, fast()).unwrap().post(&e).await.unwrap_err();
    assert!(err.to_string().starts_with("failed to acquire azure devops token"), "{err}");
}

fn pr_event() -> eddy_controller_runtime::events::FluxEvent {
    let mut e = event(Severity::Info);
    e.metadata.insert("change_request".into(), "7".into());
    e
}

const MARKER_PR: &str = "<!-- flux-pr-comment-key:8d7f5c2e-1111-2222/Kustomization/flux-system/apps -->";

// github_pull_request_comment.go + git_change_request_comment.go: GET /user, list the first
// 100 comments, PATCH the authenticated user's comment carrying the marker, else POST.
#[tokio::test]
async fn github_pull_request_comment() {
    let server = Capture::start().await;
    let mut cfg = config("githubpullrequestcomment", &format!("{}/org/repo", server.url));
    cfg.token = "ghp".into();
    server.script(&[(200, r#"{"login":"flux-bot"}"#), (200, "[]")]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 3);
    assert_eq!((rs[0].method.as_str(), rs[0].path.as_str()), ("GET", "/api/v3/user"));
    assert_eq!(rs[1].path, "/api/v3/repos/org/repo/issues/7/comments?direction=asc&per_page=100&sort=created");
    assert_eq!((rs[2].method.as_str(), rs[2].path.as_str()), ("POST", "/api/v3/repos/org/repo/issues/7/comments"));
    for r in &rs {
        assert_eq!(r.header("authorization"), "Bearer ghp");
    }
    let body = rs[2].json()["body"].as_str().unwrap().to_owned();
    assert!(body.starts_with(&format!("{MARKER_PR}\n\n## Flux Status\n\n")), "{body}");
    assert!(body.contains("ℹ️ Kustomization/flux-system/apps"), "{body}");
    assert!(!body.contains("change_request"), "{body}");

    // Our comment (by us, with the marker) is edited; others' and unmarked ones are not.
    let list = json!([
        {"id": 1, "body": MARKER_PR, "user": {"login": "someone-else"}},
        {"id": 2, "body": "plain", "user": {"login": "flux-bot"}},
        {"id": 3, "body": format!("{MARKER_PR}\n\nold"), "user": {"login": "flux-bot"}},
    ])
    .to_string();
    server.script(&[(200, r#"{"login":"flux-bot"}"#), (200, &list)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs.len(), 6);
    assert_eq!((rs[5].method.as_str(), rs[5].path.as_str()), ("PATCH", "/api/v3/repos/org/repo/issues/comments/3"));
    assert_eq!(rs[5].json()["body"], rs[2].json()["body"]);

    let mut e = pr_event();
    e.metadata.insert("change_request".into(), "x".into());
    let err = Notifier::new(cfg.clone(), fast()).unwrap().post(&e).await.unwrap_err();
    assert!(err.to_string().starts_with(r#"invalid "change_request" metadata value "x""#), "{err}");
    cfg.provider_uid = String::new();
    let err = Notifier::new(cfg, fast()).unwrap().post(&pr_event()).await.unwrap_err();
    assert_eq!(err.to_string(), "provider UID cannot be empty");
}

// gitlab_merge_request_comment.go: GET /api/v4/user, notes of the MR, PUT or POST, PRIVATE-TOKEN,
// marker flux-mr-comment-key.
#[tokio::test]
async fn gitlab_merge_request_comment() {
    let server = Capture::start().await;
    let mut cfg = config("gitlabmergerequestcomment", &format!("{}/group/sub/repo.git", server.url));
    cfg.password = "glpat".into();
    let marker = "<!-- flux-mr-comment-key:8d7f5c2e-1111-2222/Kustomization/flux-system/apps -->";
    let list = json!([{"id": 11, "body": marker, "author": {"username": "bot"}}]).to_string();
    server.script(&[(200, r#"{"username":"bot"}"#), (200, &list)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs[0].path, "/api/v4/user");
    let notes = "/api/v4/projects/group%2Fsub%2Frepo/merge_requests/7/notes";
    assert_eq!(rs[1].path, format!("{notes}?order_by=created_at&per_page=100&sort=asc"));
    assert_eq!((rs[2].method.as_str(), rs[2].path.clone()), ("PUT", format!("{notes}/11")));
    for r in &rs {
        assert_eq!(r.header("private-token"), "glpat", "the password stands in for a missing token");
    }
    assert!(rs[2].json()["body"].as_str().unwrap().starts_with(&format!("{marker}\n\n")));
    server.script(&[(200, r#"{"username":"other"}"#), (200, &list)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!((rs[5].method.as_str(), rs[5].path.as_str()), ("POST", notes));
    server.script(&[(200, r#"{"username":"bot"}"#), (500, "boom"), (500, "boom"), (500, "boom")]);
    let err = Notifier::new(cfg, fast()).unwrap().post(&pr_event()).await.unwrap_err();
    assert!(err.to_string().starts_with("failed to list merge request notes:"), "{err}");
}

// gitea_pull_request_comment.go: GET /api/v1/user, page=1&limit=100, PATCH or POST, "token" auth.
#[tokio::test]
async fn gitea_pull_request_comment() {
    let server = Capture::start().await;
    let mut cfg = config("giteapullrequestcomment", &format!("{}/org/repo", server.url));
    cfg.token = "gt".into();
    let list = json!([{"id": 5, "body": MARKER_PR, "user": {"login": "bot"}}]).to_string();
    server.script(&[(200, r#"{"login":"bot"}"#), (200, &list)]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!(rs[0].path, "/api/v1/user");
    assert_eq!(rs[1].path, "/api/v1/repos/org/repo/issues/7/comments?page=1&limit=100");
    assert_eq!((rs[2].method.as_str(), rs[2].path.as_str()), ("PATCH", "/api/v1/repos/org/repo/issues/comments/5"));
    assert!(rs.iter().all(|r| r.header("authorization") == "token gt"));
    server.script(&[(200, r#"{"login":"bot"}"#), (200, "[]")]);
    Notifier::new(cfg.clone(), fast()).unwrap().post(&pr_event()).await.unwrap();
    let rs = server.requests();
    assert_eq!((rs[5].method.as_str(), rs[5].path.as_str()), ("POST", "/api/v1/repos/org/repo/issues/7/comments"));
    let mut e = pr_event();
    e.metadata.remove("change_request");
    let err = Notifier::new(cfg, fast()).unwrap().post(&e).await.unwrap_err();
    assert_eq!(err.to_string(), r#"missing "change_request" metadata key"#);
}
