//! A kube-rs client against the standalone server: the resourceVersion semantics that
//! client-go and kube-rs tooling rely on — list variants, pagination, watch resume, 410 after
//! compaction, bookmarks and streaming lists, 409 on stale updates, spec/status separation
//! and generation.

use std::time::Duration;

use eddy_apiserver::{ServeConfig, start_with_store};
use eddy_storage::{Store, StoreOptions, memory::MemoryEngine};
use futures_util::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams, VersionMatch, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use serde_json::json;

fn git_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "GitRepository"),
        "gitrepositories",
    )
}

fn git(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"interval": "5m", "url": format!("https://example.com/{name}")},
    }))
    .expect("object")
}

struct Server {
    api: Api<DynamicObject>,
    store: Store<MemoryEngine>,
    running: eddy_apiserver::Running,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(MemoryEngine::new(), StoreOptions::default()).expect("store");
    let mut config = ServeConfig::new(dir.path());
    config.secure_port = 0;
    config.http.bookmark_interval = Duration::from_millis(300);
    let running = start_with_store(config, store.clone()).await.expect("server");
    let path = running.kubeconfig.clone().expect("kubeconfig");
    let kc = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("client config");
    let client = kube::Client::try_from(cfg).expect("client");
    let api = Api::namespaced_with(client, "default", &git_resource());
    Server { api, store, running, _dir: dir }
}

fn api_error(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv(o: &DynamicObject) -> u64 {
    o.metadata.resource_version.as_deref().and_then(|r| r.parse().ok()).expect("numeric resourceVersion")
}

#[tokio::test]
async fn optimistic_concurrency_generation_and_status_separation() {
    let s = server().await;
    let pp = PostParams::default();
    let created = s.api.create(&pp, &git("a")).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    // A spec change bumps generation; a stale resourceVersion is a 409 Conflict.
    let mut changed = created.clone();
    changed.data["spec"]["interval"] = json!("10m");
    let updated = s.api.replace("a", &pp, &changed).await.expect("update");
    assert_eq!(updated.metadata.generation, Some(2));
    assert!(rv(&updated) > rv(&created));
    let stale = api_error(s.api.replace("a", &pp, &changed).await.expect_err("stale update"));
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(stale.message.contains("the object has been modified"), "{}", stale.message);

    // Metadata-only changes keep generation; status written through the main resource is ignored.
    let mut labelled = updated.clone();
    labelled.metadata.labels = Some([("team".to_owned(), "web".to_owned())].into());
    labelled.data["status"] = json!({"observedGeneration": 7});
    let labelled = s.api.replace("a", &pp, &labelled).await.expect("label");
    assert_eq!(labelled.metadata.generation, Some(2));
    assert_ne!(labelled.data["status"].get("observedGeneration"), Some(&json!(7)), "{}", labelled.data["status"]);

    // /status changes status only: spec and labels sent along are ignored, generation stays.
    let mut status = labelled.clone();
    status.data["status"] = json!({"observedGeneration": 2, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 2,
    }]});
    status.data["spec"]["interval"] = json!("99m");
    status.metadata.labels = None;
    let written = s.api.replace_status("a", &pp, &status).await.expect("status");
    assert_eq!(written.data["status"]["observedGeneration"], 2);
    assert_eq!(written.data["spec"]["interval"], "10m");
    assert_eq!(written.metadata.generation, Some(2));
    assert_eq!(written.metadata.labels.as_ref().and_then(|l| l.get("team")).map(String::as_str), Some("web"));
    s.running.shutdown().await;
}

#[tokio::test]
async fn list_resource_version_semantics_and_pagination() {
    let s = server().await;
    let pp = PostParams::default();
    let first = s.api.create(&pp, &git("a")).await.expect("create a");
    let at_first = rv(&first);
    for name in ["b", "c", "d", "e"] {
        s.api.create(&pp, &git(name)).await.expect("create");
    }
    let names = |l: &kube::core::ObjectList<DynamicObject>| -> Vec<String> {
        l.items.iter().filter_map(|o| o.metadata.name.clone()).collect()
    };
    // Most recent (unset), any ("0"), not older than N.
    let newest = s.api.list(&ListParams::default()).await.expect("list");
    assert_eq!(names(&newest), ["a", "b", "c", "d", "e"]);
    let list_rv: u64 = newest.metadata.resource_version.as_deref().and_then(|r| r.parse().ok()).expect("list rv");
    assert_eq!(s.api.list(&ListParams::default().match_any()).await.expect("rv=0").items.len(), 5);
    let not_older = ListParams::default().at(&at_first.to_string()).matching(VersionMatch::NotOlderThan);
    assert_eq!(s.api.list(&not_older).await.expect("NotOlderThan").items.len(), 5);
    // Exact: the state as of that revision.
    let exact = ListParams::default().at(&at_first.to_string()).matching(VersionMatch::Exact);
    assert_eq!(names(&s.api.list(&exact).await.expect("Exact")), ["a"]);
    // (A resourceVersion from the future is a 504 "Too large resource version" with
    // Retry-After; kube-rs retries those by itself, so tests/api.rs checks that answer.)
    let _ = list_rv;

    // Pages keep the first page's revision, even across writes in between.
    let mut page = s.api.list(&ListParams::default().limit(2)).await.expect("page 1");
    let page_rv = page.metadata.resource_version.clone();
    let mut seen = names(&page);
    let token = page.metadata.continue_.clone().expect("continue");
    s.api.create(&pp, &git("f")).await.expect("create f");
    page = s.api.list(&ListParams::default().limit(2).continue_token(&token)).await.expect("page 2");
    assert_eq!(page.metadata.resource_version, page_rv);
    seen.extend(names(&page));
    let token = page.metadata.continue_.clone().expect("continue");
    page = s.api.list(&ListParams::default().limit(2).continue_token(&token)).await.expect("page 3");
    seen.extend(names(&page));
    assert!(page.metadata.continue_.as_deref().is_none_or(str::is_empty));
    assert_eq!(seen, ["a", "b", "c", "d", "e"], "f was written after the first page");

    // Once the revision is compacted, its continue token and exact lists are 410 Expired.
    let token = s.api.list(&ListParams::default().limit(1)).await.expect("page").metadata.continue_.expect("token");
    s.api.create(&pp, &git("g")).await.expect("create g");
    s.store.compact(s.store.current_revision()).await.expect("compact");
    let expired =
        api_error(s.api.list(&ListParams::default().limit(1).continue_token(&token)).await.expect_err("expired"));
    assert_eq!((expired.code, expired.reason.as_str()), (410, "Expired"));
    let exact = ListParams::default().at(&at_first.to_string()).matching(VersionMatch::Exact);
    assert_eq!(api_error(s.api.list(&exact).await.expect_err("compacted")).code, 410);
    s.running.shutdown().await;
}

#[tokio::test]
async fn watch_resume_bookmarks_and_compaction() {
    let s = server().await;
    let pp = PostParams::default();
    let a = s.api.create(&pp, &git("a")).await.expect("create");
    let from = rv(&a);
    let b = s.api.create(&pp, &git("b")).await.expect("create b");
    s.api.delete("a", &Default::default()).await.expect("delete a");

    // Resuming from a revision replays exactly what followed it, without synthetic ADDED
    // events for what existed then, and carries on live, with bookmarks.
    let mut stream = s.api.watch(&WatchParams::default().timeout(10), &from.to_string()).await.expect("watch").boxed();
    let mut events = Vec::new();
    let mut bookmark = None;
    let mut live_sent = false;
    while let Some(ev) =
        tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await.expect("event in time").expect("event")
    {
        match ev {
            WatchEvent::Added(o) => {
                events.push(("ADDED", o.metadata.name.unwrap_or_default(), rv_of(o.metadata.resource_version)));
            }
            WatchEvent::Modified(o) => {
                events.push(("MODIFIED", o.metadata.name.unwrap_or_default(), rv_of(o.metadata.resource_version)));
            }
            WatchEvent::Deleted(o) => {
                events.push(("DELETED", o.metadata.name.unwrap_or_default(), rv_of(o.metadata.resource_version)));
            }
            WatchEvent::Bookmark(bm) => bookmark = Some(bm.metadata.resource_version.clone()),
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
        if events.len() == 2 && !live_sent {
            s.api.create(&pp, &git("c")).await.expect("create c");
            live_sent = true;
        }
        if events.len() == 3 && bookmark.is_some() {
            break;
        }
    }
    let kinds: Vec<(&str, &str)> = events.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
    assert_eq!(kinds, [("ADDED", "b"), ("DELETED", "a"), ("ADDED", "c")]);
    assert_eq!(events[0].2, rv(&b));
    assert!(events.windows(2).all(|w| w[0].2 < w[1].2), "revisions ascend: {events:?}");
    let bookmark: u64 = bookmark.and_then(|b| b.parse().ok()).expect("a bookmark");
    assert!(bookmark >= events[2].2);
    drop(stream);

    // A streaming list: the current state as ADDED, then the initial-events-end bookmark.
    let mut stream =
        s.api.watch(&WatchParams::streaming_lists().timeout(10), "").await.expect("streaming list").boxed();
    let mut initial = Vec::new();
    loop {
        match stream.try_next().await.expect("event").expect("open") {
            WatchEvent::Added(o) => initial.push(o.metadata.name.unwrap_or_default()),
            WatchEvent::Bookmark(bm) => {
                assert_eq!(bm.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["b", "c"]);
    drop(stream);

    // A compacted revision: the watch ends with a 410 Expired error event.
    s.store.compact(s.store.current_revision()).await.expect("compact");
    let mut stream = s.api.watch(&WatchParams::default().timeout(5), &from.to_string()).await.expect("watch").boxed();
    match stream.try_next().await.expect("event").expect("an error event") {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}"),
        other => panic!("expected 410, got {other:?}"),
    }
    s.running.shutdown().await;
}

fn rv_of(rv: Option<String>) -> u64 {
    rv.and_then(|r| r.parse().ok()).expect("resourceVersion")
}

#[tokio::test]
async fn the_kube_runtime_watcher_follows_the_server() {
    use kube::runtime::{WatchStreamExt as _, watcher};
    let s = server().await;
    let pp = PostParams::default();
    s.api.create(&pp, &git("a")).await.expect("create");
    for config in [watcher::Config::default(), watcher::Config::default().streaming_lists()] {
        let mut objects = watcher(s.api.clone(), config).applied_objects().boxed();
        let first = tokio::time::timeout(Duration::from_secs(10), objects.try_next()).await.expect("in time");
        assert_eq!(first.expect("ok").expect("object").metadata.name.as_deref(), Some("a"));
        let name = format!("n{}", rand_suffix());
        s.api.create(&pp, &git(&name)).await.expect("create");
        // Objects created by an earlier round come first; the new one follows.
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), objects.try_next()).await.expect("in time");
            let seen = next.expect("ok").expect("object").metadata.name.unwrap_or_default();
            if seen == name {
                break;
            }
            assert!(seen.starts_with('n'), "unexpected object {seen}");
        }
    }
    s.running.shutdown().await;
}

fn rand_suffix() -> u32 {
    rand::random::<u32>() % 100_000
}
