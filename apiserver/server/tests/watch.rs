//! Watch streams: initial events, resume from a resourceVersion, selectors, bookmarks,
//! expiry and Table rendering.

mod support;

use std::time::Duration;

use axum::http::Method;
use eddy_apiserver::HttpOptions;
use serde_json::json;
use support::{Api, GIT, git};

fn summary(kind: &str, name: &str) -> Option<(String, String)> {
    Some((kind.to_owned(), name.to_owned()))
}

#[tokio::test]
async fn watch_from_list_sees_added_modified_deleted() {
    let api = Api::new();
    api.post(GIT, &git("before")).await.expect(201);
    let rv = api.get(GIT).await.expect(200).rv();
    let mut events = api.watch(&format!("{GIT}?watch=true&resourceVersion={rv}"), &[]).await;

    api.post(GIT, &git("app")).await.expect(201);
    api.patch(&format!("{GIT}/app"), "application/merge-patch+json", &json!({"spec": {"interval": "1m"}}))
        .await
        .expect(200);
    api.delete(&format!("{GIT}/app")).await.expect(200);

    assert_eq!(events.next_summary().await, summary("ADDED", "app"));
    let modified = events.next().await.unwrap_or_default();
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["spec"]["interval"], "1m");
    assert_eq!(modified["object"]["apiVersion"], "source.toolkit.fluxcd.io/v1");
    let deleted = events.next().await.unwrap_or_default();
    assert_eq!(deleted["type"], "DELETED");
    let del_rv: u64 =
        deleted["object"]["metadata"]["resourceVersion"].as_str().unwrap_or_default().parse().unwrap_or_default();
    assert_eq!(del_rv, api.store.current_revision());
}

/// A list of a new, empty store answers a resourceVersion a watch resumes from: never "0",
/// which the API reads as "start with the current objects as ADDED events" (in name order,
/// not revision order). The crash test's watches, started from such a list while writers
/// were already busy, once saw "rv 2 after 4".
#[tokio::test]
async fn an_empty_new_store_lists_a_resumable_resource_version() {
    let api = Api::new();
    let rv = api.get(GIT).await.expect(200).rv();
    assert_ne!(rv, "0", "a list of an empty store");
    api.post(GIT, &git("b")).await.expect(201);
    api.post(GIT, &git("a")).await.expect(201);
    let mut events = api.watch(&format!("{GIT}?watch=true&resourceVersion={rv}"), &[]).await;
    assert_eq!(events.next_summary().await, summary("ADDED", "b"), "revision order, not name order");
    assert_eq!(events.next_summary().await, summary("ADDED", "a"));
}

/// Lines that are ready together leave in one chunk (one TLS record, one client wake-up),
/// up to 64 KiB: the initial events of a watch, and live events the client did not read yet.
#[tokio::test]
async fn ready_events_share_chunks() {
    let api = Api::new();
    let names: Vec<String> = (0..200).map(|i| format!("o{i:03}")).collect();
    for name in &names {
        api.post(GIT, &git(name)).await.expect(201);
    }
    let mut initial = api.watch(&format!("{GIT}?watch=1"), &[]).await;
    for name in &names {
        assert_eq!(initial.next_summary().await, summary("ADDED", name));
    }
    // About 120 KiB of events: two or three chunks, not 200.
    assert!((2..=4).contains(&initial.frames), "{} chunks for 200 initial events", initial.frames);

    let rv = api.get(GIT).await.expect(200).rv();
    let mut live = api.watch(&format!("{GIT}?watch=1&resourceVersion={rv}"), &[]).await;
    for name in &names[..50] {
        api.patch(&format!("{GIT}/{name}"), "application/merge-patch+json", &json!({"spec": {"interval": "2m"}}))
            .await
            .expect(200);
    }
    // The body is read only now: the 50 events are all ready and come as one chunk.
    for name in &names[..50] {
        assert_eq!(live.next_summary().await, summary("MODIFIED", name));
    }
    assert_eq!(live.frames, 1);
    api.post(GIT, &git("later")).await.expect(201);
    assert_eq!(live.next_summary().await, summary("ADDED", "later"));
    assert_eq!(live.frames, 2);
}

#[tokio::test]
async fn watch_without_version_starts_with_current_state() {
    let api = Api::new();
    api.post(GIT, &git("a")).await.expect(201);
    api.post(GIT, &git("b")).await.expect(201);
    let mut events = api.watch(&format!("{GIT}?watch=1"), &[]).await;
    assert_eq!(events.next_summary().await, summary("ADDED", "a"));
    assert_eq!(events.next_summary().await, summary("ADDED", "b"));
    api.post(GIT, &git("c")).await.expect(201);
    assert_eq!(events.next_summary().await, summary("ADDED", "c"));

    // Streaming list: initial events then a bookmark marking their end.
    let mut streaming = api
        .watch(
            &format!("{GIT}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"),
            &[],
        )
        .await;
    for name in ["a", "b", "c"] {
        assert_eq!(streaming.next_summary().await, summary("ADDED", name));
    }
    let end = streaming.next().await.unwrap_or_default();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    let bad = api.get(&format!("{GIT}?watch=1&sendInitialEvents=true")).await;
    bad.expect(400);
}

#[tokio::test]
async fn watch_filters_by_name_and_labels() {
    let api = Api::new();
    let rv = api.get(GIT).await.expect(200).rv();
    let mut by_name =
        api.watch(&format!("{GIT}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name%3Dtarget"), &[]).await;
    let mut by_label = api.watch(&format!("{GIT}?watch=1&resourceVersion={rv}&labelSelector=team%3Da"), &[]).await;
    api.post(GIT, &git("other")).await.expect(201);
    api.post(GIT, &git("target")).await.expect(201);
    assert_eq!(by_name.next_summary().await, summary("ADDED", "target"));

    // A label change moves an object into and out of a selector: ADDED then DELETED.
    let path = format!("{GIT}/other");
    api.patch(&path, "application/merge-patch+json", &json!({"metadata": {"labels": {"team": "a"}}})).await.expect(200);
    api.patch(&path, "application/merge-patch+json", &json!({"metadata": {"labels": {"team": "b"}}})).await.expect(200);
    assert_eq!(by_label.next_summary().await, summary("ADDED", "other"));
    assert_eq!(by_label.next_summary().await, summary("DELETED", "other"));
}

#[tokio::test]
async fn compacted_resource_version_gives_410_event() {
    let api = Api::new();
    api.post(GIT, &git("a")).await.expect(201);
    api.post(GIT, &git("b")).await.expect(201);
    let _ = api.store.compact(api.store.current_revision()).await;
    let mut events = api.watch(&format!("{GIT}?watch=1&resourceVersion=1"), &[]).await;
    let err = events.next().await.unwrap_or_default();
    assert_eq!(err["type"], "ERROR");
    assert_eq!(err["object"]["code"], 410);
    assert_eq!(err["object"]["reason"], "Expired");
    assert!(events.next().await.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn bookmarks_and_timeout() {
    let api =
        Api::with_options(HttpOptions { bookmark_interval: Duration::from_millis(100), ..HttpOptions::default() });
    api.post(GIT, &git("a")).await.expect(201);
    let rv = api.store.current_revision();
    let mut events =
        api.watch(&format!("{GIT}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1"), &[]).await;
    let bm = events.next().await.unwrap_or_default();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["kind"], "GitRepository");
    assert_eq!(bm["object"]["metadata"]["resourceVersion"], rv.to_string());
    // The stream ends at its timeout.
    let mut ended = false;
    for _ in 0..30 {
        if events.next().await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended);
}

/// Bookmarks come in the shape the client asked for: kube-controller-manager's metadata
/// informers decode only `PartialObjectMetadata` and relist after any other kind.
#[tokio::test]
async fn bookmarks_follow_the_requested_shape() {
    let api =
        Api::with_options(HttpOptions { bookmark_interval: Duration::from_millis(100), ..HttpOptions::default() });
    api.post(GIT, &git("a")).await.expect(201);
    let rv = api.store.current_revision();
    let metadata = [("accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json")];
    let mut events = api
        .watch(&format!("{GIT}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"), &metadata)
        .await;
    let bm = events.next().await.unwrap_or_default();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(bm["object"]["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(bm["object"]["metadata"]["resourceVersion"], rv.to_string());

    // The end of a streaming list's initial events, too.
    let mut streaming = api
        .watch(
            &format!(
                "{GIT}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2"
            ),
            &metadata,
        )
        .await;
    let added = streaming.next().await.unwrap_or_default();
    assert_eq!(
        (added["type"].as_str(), added["object"]["kind"].as_str()),
        (Some("ADDED"), Some("PartialObjectMetadata"))
    );
    let end = streaming.next().await.unwrap_or_default();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(end["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");

    // A Table watch gets a Table whose one row carries the bookmark's metadata.
    let table = [("accept", "application/json;as=Table;g=meta.k8s.io;v=v1")];
    let mut events = api
        .watch(&format!("{GIT}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"), &table)
        .await;
    let bm = events.next().await.unwrap_or_default();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["kind"], "Table");
    assert_eq!(bm["object"]["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(bm["object"]["rows"][0]["object"]["metadata"]["resourceVersion"], rv.to_string());
}

#[tokio::test]
async fn watch_as_table() {
    let api = Api::new();
    let rv = api.store.current_revision();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let mut events = api.watch(&format!("{GIT}?watch=1&resourceVersion={rv}"), &[("accept", accept)]).await;
    api.post(GIT, &git("app")).await.expect(201);
    let ev = events.next().await.unwrap_or_default();
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["kind"], "Table");
    assert_eq!(ev["object"]["rows"][0]["cells"][0], "app");
    let _ = Method::GET;
}
