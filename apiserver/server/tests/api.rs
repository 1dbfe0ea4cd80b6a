//! The REST surface against an in-memory store: discovery, CRUD with Kubernetes metadata
//! semantics, errors as Status, selectors, pagination, patches, tables and watch.

mod support;

use axum::http::Method;
use serde_json::{Value, json};
use support::{Api, GIT, git};

const AGG_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const AGG_V2B1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

#[tokio::test]
async fn health_and_version() {
    let api = Api::new();
    for path in ["/healthz", "/livez", "/readyz", "/readyz/ping"] {
        let a = api.get(path).await.expect(200);
        assert_eq!(a.raw, b"ok", "{path}");
    }
    assert_eq!(api.get("/version").await.expect(200).body["major"], "1");
    api.call(Method::POST, "/healthz", &[], None).await.expect(405);
    let missing = api.get("/nothing/here").await.expect(404);
    assert_eq!(missing.body["kind"], "Status");
    assert_eq!(missing.body["reason"], "NotFound");
}

#[tokio::test]
async fn discovery_legacy_and_aggregated() {
    let api = Api::new();
    let groups = api.get("/apis").await.expect(200);
    assert_eq!(groups.body["kind"], "APIGroupList");
    assert_eq!(api.get("/api").await.expect(200).body["kind"], "APIVersions");

    for (accept, version) in [(AGG_V2, "v2"), (AGG_V2B1, "v2beta1")] {
        let full = format!("{accept},application/json");
        let a = api.call(Method::GET, "/apis", &[("accept", &full)], None).await.expect(200);
        assert_eq!(a.header("content-type"), Some(accept));
        assert_eq!(a.body["apiVersion"], format!("apidiscovery.k8s.io/{version}"));
        let etag = a.header("etag").unwrap_or_default().to_owned();
        assert!(etag.starts_with('"'));
        let again = api.call(Method::GET, "/apis", &[("accept", accept), ("if-none-match", &etag)], None).await;
        assert_eq!(again.status.as_u16(), 304);
        let core = api.call(Method::GET, "/api", &[("accept", accept)], None).await.expect(200);
        assert_eq!(core.body["items"], json!([]));
    }
    // A media type that is not served is refused, never answered with something else.
    let refused = api.call(Method::GET, "/apis", &[("accept", "application/vnd.kubernetes.protobuf")], None).await;
    assert_eq!(refused.expect(406).body["reason"], "NotAcceptable");
    let refused = api
        .call(
            Method::GET,
            "/apis",
            &[("accept", "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList")],
            None,
        )
        .await;
    refused.expect(406);

    let group = api.get("/apis/kustomize.toolkit.fluxcd.io").await.expect(200);
    assert_eq!(group.body["preferredVersion"]["version"], "v1");
    let list = api.get("/apis/kustomize.toolkit.fluxcd.io/v1").await.expect(200);
    assert_eq!(list.body["kind"], "APIResourceList");
    assert!(list.body["resources"].as_array().is_some_and(|r| r.iter().any(|r| r["name"] == "kustomizations/status")));
    api.get("/apis/apps").await.expect(404);
    api.get("/apis/kustomize.toolkit.fluxcd.io/v7").await.expect(404);
}

#[tokio::test]
async fn create_get_list_delete() {
    let api = Api::new();
    let created = api.post(GIT, &git("app")).await.expect(201);
    let obj = &created.body;
    assert_eq!(obj["spec"]["timeout"], "60s", "defaults are applied");
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(obj["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(obj["metadata"]["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let rv = created.rv();
    assert!(rv.parse::<u64>().is_ok());

    let got = api.get(&format!("{GIT}/app")).await.expect(200);
    assert_eq!(&got.body, obj);

    let again = api.post(GIT, &git("app")).await.expect(409);
    assert_eq!(again.body["reason"], "AlreadyExists");
    assert_eq!(again.body["message"], r#"gitrepositories.source.toolkit.fluxcd.io "app" already exists"#);
    assert_eq!(
        again.body["details"],
        json!({"name": "app", "group": "source.toolkit.fluxcd.io", "kind": "gitrepositories"})
    );

    api.post(GIT, &git("web")).await.expect(201);
    let list = api.get(GIT).await.expect(200);
    assert_eq!(list.body["kind"], "GitRepositoryList");
    assert_eq!(list.body["apiVersion"], "source.toolkit.fluxcd.io/v1");
    let names: Vec<&str> =
        list.body["items"].as_array().into_iter().flatten().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert_eq!(names, ["app", "web"]);
    let all = api.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories").await.expect(200);
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
    let other_ns = api.get("/apis/source.toolkit.fluxcd.io/v1/namespaces/other/gitrepositories").await.expect(200);
    assert_eq!(other_ns.body["items"], json!([]));

    let deleted = api.delete(&format!("{GIT}/app")).await.expect(200);
    assert_eq!(deleted.body["metadata"]["name"], "app");
    let gone = api.get(&format!("{GIT}/app")).await.expect(404);
    assert_eq!(gone.body["message"], r#"gitrepositories.source.toolkit.fluxcd.io "app" not found"#);
    api.delete(&format!("{GIT}/app")).await.expect(404);
}

#[tokio::test]
async fn bad_requests_are_status_errors() {
    let api = Api::new();
    // Invalid objects: 422 with one cause per field.
    let mut bad = git("bad");
    bad["spec"]["interval"] = json!("soon");
    bad["spec"].as_object_mut().map(|s| s.remove("url"));
    let a = api.post(GIT, &bad).await.expect(422);
    assert_eq!(a.body["reason"], "Invalid");
    let fields: Vec<&str> =
        a.body["details"]["causes"].as_array().into_iter().flatten().filter_map(|c| c["field"].as_str()).collect();
    assert!(fields.contains(&"spec.url"), "{}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(r#"GitRepository.source.toolkit.fluxcd.io "bad" is invalid"#))
    );

    // Names.
    api.post(GIT, &git("Not_A_Name")).await.expect(422);
    let mut nameless = git("x");
    nameless["metadata"].as_object_mut().map(|m| m.remove("name"));
    let a = api.post(GIT, &nameless).await.expect(422);
    assert_eq!(a.body["details"]["causes"][0]["field"], "metadata.name");

    // Body that does not fit the URL.
    let mut other_ns = git("x");
    other_ns["metadata"]["namespace"] = json!("elsewhere");
    api.post(GIT, &other_ns).await.expect(400);
    let mut wrong_kind = git("x");
    wrong_kind["kind"] = json!("HelmRepository");
    api.post(GIT, &wrong_kind).await.expect(400);

    // Malformed JSON, wrong media type, oversized body.
    let raw = api.request(Method::POST, GIT, &[("content-type", "application/json")], Some(b"{not json".to_vec()));
    let a = api.send(raw).await.expect(400);
    assert!(a.body["message"].as_str().is_some_and(|m| m.contains("not valid JSON")));
    let yaml = api.request(Method::POST, GIT, &[("content-type", "application/x-protobuf")], Some(b"x".to_vec()));
    api.send(yaml).await.expect(415);
    let big = vec![b' '; eddy_apiserver::http::MAX_BODY_BYTES + 1];
    let a = api.send(api.request(Method::POST, GIT, &[("content-type", "application/json")], Some(big))).await;
    assert_eq!(a.expect(413).body["reason"], "RequestEntityTooLarge");

    // Unknown resources and versions.
    api.get("/apis/source.toolkit.fluxcd.io/v1/namespaces/a/widgets").await.expect(404);
    api.get("/apis/source.toolkit.fluxcd.io/v9/namespaces/a/gitrepositories").await.expect(404);

    // Unknown fields per fieldValidation.
    let mut extra = git("extra");
    extra["spec"]["bogus"] = json!(1);
    let a = api.post(&format!("{GIT}?fieldValidation=Strict"), &extra).await.expect(400);
    assert!(a.body["message"].as_str().is_some_and(|m| m.contains("spec.bogus")));
    let a = api.post(GIT, &extra).await.expect(201);
    assert!(a.header("warning").is_some_and(|w| w.starts_with("299 - ") && w.contains("spec.bogus")));
    assert!(a.body["spec"].get("bogus").is_none());
    api.post(&format!("{GIT}?fieldValidation=Loose"), &git("y")).await.expect(400);
    api.post(&format!("{GIT}?dryRun=Some"), &git("y")).await.expect(400);
}

#[tokio::test]
async fn update_semantics() {
    let api = Api::new();
    let created = api.post(GIT, &git("app")).await.expect(201).body;
    let path = format!("{GIT}/app");

    // Metadata-only change: no generation bump.
    let mut labelled = created.clone();
    labelled["metadata"]["labels"] = json!({"team": "a"});
    let v2 = api.put(&path, &labelled).await.expect(200).body;
    assert_eq!(v2["metadata"]["generation"], 1);
    assert_eq!(v2["metadata"]["labels"]["team"], "a");
    assert_ne!(v2["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

    // Stale resourceVersion: 409.
    let stale = api.put(&path, &labelled).await.expect(409);
    assert_eq!(stale.body["reason"], "Conflict");
    assert!(stale.body["message"].as_str().is_some_and(|m| m.contains("the object has been modified")));

    // Spec change bumps generation; status in the body is ignored; server fields are kept.
    let mut changed = v2.clone();
    changed["spec"]["interval"] = json!("10m");
    changed["status"] = json!({"observedGeneration": 7});
    changed["metadata"]["creationTimestamp"] = json!("2001-01-01T00:00:00Z");
    let v3 = api.put(&path, &changed).await.expect(200).body;
    assert_eq!(v3["metadata"]["generation"], 2);
    assert_eq!(v3["status"], created["status"], "status comes from the stored object: {v3}");
    assert_eq!(created["status"], json!({"observedGeneration": -1}), "the schema's status default");
    assert_eq!(v3["metadata"]["creationTimestamp"], created["metadata"]["creationTimestamp"]);

    // An unchanged object writes nothing.
    let same = api.put(&path, &v3).await.expect(200).body;
    assert_eq!(same["metadata"]["resourceVersion"], v3["metadata"]["resourceVersion"]);

    // resourceVersion is required; the name must match the URL; uid must match.
    let mut no_rv = v3.clone();
    no_rv["metadata"].as_object_mut().map(|m| m.remove("resourceVersion"));
    let a = api.put(&path, &no_rv).await.expect(422);
    assert_eq!(a.body["details"]["causes"][0]["field"], "metadata.resourceVersion");
    let mut renamed = v3.clone();
    renamed["metadata"]["name"] = json!("other");
    api.put(&path, &renamed).await.expect(400);
    let mut other_uid = v3.clone();
    other_uid["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    api.put(&path, &other_uid).await.expect(409);
    api.put(&format!("{GIT}/missing"), &git("missing")).await.expect(404);

    // Status subresource: only status changes, generation stays.
    let mut st = v3.clone();
    st["status"] = json!({"observedGeneration": 2, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    }]});
    st["spec"]["interval"] = json!("1h");
    st["metadata"]["labels"] = json!({"team": "b"});
    let v4 = api.put(&format!("{path}/status"), &st).await.expect(200).body;
    assert_eq!(v4["status"]["observedGeneration"], 2);
    assert_eq!(v4["spec"]["interval"], "10m");
    assert_eq!(v4["metadata"]["labels"]["team"], "a");
    assert_eq!(v4["metadata"]["generation"], 2);
    let status_get = api.get(&format!("{path}/status")).await.expect(200).body;
    assert_eq!(status_get["status"]["observedGeneration"], 2);
    api.call(Method::DELETE, &format!("{path}/status"), &[], None).await.expect(405);
}

#[tokio::test]
async fn versions_convert_on_the_way_in_and_out() {
    let api = Api::new();
    let mut old = git("legacy");
    old["apiVersion"] = json!("source.toolkit.fluxcd.io/v1beta2");
    let beta = "/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories";
    let a = api.post(beta, &old).await.expect(201);
    assert_eq!(a.body["apiVersion"], "source.toolkit.fluxcd.io/v1beta2");
    assert!(a.header("warning").is_some_and(|w| w.contains("deprecated")));
    let v1 = api.get(&format!("{GIT}/legacy")).await.expect(200).body;
    assert_eq!(v1["apiVersion"], "source.toolkit.fluxcd.io/v1");
    assert_eq!(v1["metadata"]["uid"], a.body["metadata"]["uid"]);
    let list = api.get(beta).await.expect(200).body;
    assert_eq!(list["items"][0]["apiVersion"], "source.toolkit.fluxcd.io/v1beta2");
    // A v1 body posted to the v1beta2 URL is refused.
    api.post(beta, &git("x")).await.expect(400);
}

#[tokio::test]
async fn generate_name_dry_run_and_finalizers() {
    let api = Api::new();
    let mut gen_obj = git("");
    gen_obj["metadata"] = json!({"generateName": "app-"});
    let a = api.post(GIT, &gen_obj).await.expect(201);
    let name = a.body["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    assert!(name.starts_with("app-") && name.len() == 9, "{name}");

    // dryRun=All runs admission but stores nothing.
    let dry = api.post(&format!("{GIT}?dryRun=All"), &git("dry")).await.expect(201);
    assert_eq!(dry.body["spec"]["timeout"], "60s");
    api.get(&format!("{GIT}/dry")).await.expect(404);
    let rev = api.store.current_revision();
    api.delete(&format!("{GIT}/{name}?dryRun=All")).await.expect(200);
    api.get(&format!("{GIT}/{name}")).await.expect(200);
    assert_eq!(api.store.current_revision(), rev);

    // A finalizer holds deletion until it is removed.
    let mut held = git("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    api.post(GIT, &held).await.expect(201);
    let created_generation = api.get(&format!("{GIT}/held")).await.expect(200).body["metadata"]["generation"].clone();
    assert_eq!(created_generation, 1);
    let marked = api.delete(&format!("{GIT}/held")).await.expect(200).body;
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    // As kube-apiserver: the first deletion bumps the generation (controllers watching for
    // generation changes see it).
    assert_eq!(marked["metadata"]["generation"], 2);
    let still = api.get(&format!("{GIT}/held")).await.expect(200).body;
    assert!(still["metadata"]["deletionTimestamp"].is_string());
    // Deleting again changes nothing.
    let again = api.delete(&format!("{GIT}/held")).await.expect(200).body;
    assert_eq!(again["metadata"]["resourceVersion"], still["metadata"]["resourceVersion"]);
    let released = api
        .patch(&format!("{GIT}/held"), "application/merge-patch+json", &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    assert!(released.body["metadata"]["deletionTimestamp"].is_string());
    api.get(&format!("{GIT}/held")).await.expect(404);

    // Preconditions.
    let obj = api.post(GIT, &git("pre")).await.expect(201).body;
    let wrong = json!({"preconditions": {"uid": "nope"}});
    api.call(Method::DELETE, &format!("{GIT}/pre"), &[], Some(&wrong)).await.expect(409);
    let stale = json!({"preconditions": {"resourceVersion": "1"}});
    api.call(Method::DELETE, &format!("{GIT}/pre"), &[], Some(&stale)).await.expect(409);
    let right = json!({"preconditions": {"uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]}});
    api.call(Method::DELETE, &format!("{GIT}/pre"), &[], Some(&right)).await.expect(200);
}

#[tokio::test]
async fn patches() {
    let api = Api::new();
    api.post(GIT, &git("app")).await.expect(201);
    let path = format!("{GIT}/app");
    let merged = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"a": "1"}}, "spec": {"interval": "2m"}}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(merged["metadata"]["labels"]["a"], "1");
    assert_eq!(merged["spec"]["interval"], "2m");
    assert_eq!(merged["metadata"]["generation"], 2);

    let ops = json!([
        {"op": "test", "path": "/spec/interval", "value": "2m"},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}},
        {"op": "replace", "path": "/spec/interval", "value": "3m"}
    ]);
    let patched = api.patch(&path, "application/json-patch+json", &ops).await.expect(200).body;
    assert_eq!(patched["metadata"]["annotations"]["note"], "x");
    assert_eq!(patched["spec"]["interval"], "3m");
    let failing = json!([{"op": "test", "path": "/spec/interval", "value": "9m"}]);
    api.patch(&path, "application/json-patch+json", &failing).await.expect(422);

    // Invalid result: 422; pinned stale resourceVersion: 409; strategic merge: 415.
    api.patch(&path, "application/merge-patch+json", &json!({"spec": {"interval": "often"}})).await.expect(422);
    api.patch(&path, "application/merge-patch+json", &json!({"metadata": {"resourceVersion": "1"}})).await.expect(409);
    api.patch(&path, "application/strategic-merge-patch+json", &json!({})).await.expect(415);
    // Server-side apply needs a fieldManager (tests/apply.rs covers apply).
    api.patch(&path, "application/apply-patch+yaml", &json!({})).await.expect(422);
    api.patch(&format!("{GIT}/missing"), "application/merge-patch+json", &json!({})).await.expect(404);

    // Status patch.
    let st = json!({"status": {"observedGeneration": 3}});
    let s = api.patch(&format!("{path}/status"), "application/merge-patch+json", &st).await.expect(200).body;
    assert_eq!(s["status"]["observedGeneration"], 3);
    assert_eq!(s["metadata"]["generation"], 3);
}

#[tokio::test]
async fn selectors_and_pagination() {
    let api = Api::new();
    for i in 0..25 {
        let mut o = git(&format!("app-{i:02}"));
        o["metadata"]["labels"] = json!({"tier": if i % 2 == 0 { "even" } else { "odd" }});
        api.post(GIT, &o).await.expect(201);
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    };
    let even = api.get(&format!("{GIT}?labelSelector=tier%3Deven")).await.expect(200).body;
    assert_eq!(names(&even).len(), 13);
    let one = api.get(&format!("{GIT}?fieldSelector=metadata.name%3Dapp-07")).await.expect(200).body;
    assert_eq!(names(&one), ["app-07"]);
    api.get(&format!("{GIT}?fieldSelector=spec.url%3Dx")).await.expect(400);
    api.get(&format!("{GIT}?labelSelector=%3D%3D")).await.expect(400);

    // Pages of 4 over the odd ones: all 12, in order, at one revision.
    let mut all = Vec::new();
    let mut url = format!("{GIT}?limit=4&labelSelector=tier%3Dodd");
    let first_rv;
    let mut pages = 0;
    {
        let page = api.get(&url).await.expect(200).body;
        first_rv = page["metadata"]["resourceVersion"].clone();
        all.extend(names(&page));
        let mut token = page["metadata"]["continue"].as_str().map(str::to_owned);
        pages += 1;
        // A write between pages does not show up: pages are read at the first page's revision.
        api.post(GIT, &{
            let mut o = git("app-99");
            o["metadata"]["labels"] = json!({"tier": "odd"});
            o
        })
        .await
        .expect(201);
        while let Some(t) = token {
            url = format!("{GIT}?limit=4&labelSelector=tier%3Dodd&continue={t}");
            let page = api.get(&url).await.expect(200).body;
            assert_eq!(page["metadata"]["resourceVersion"], first_rv);
            all.extend(names(&page));
            token = page["metadata"]["continue"].as_str().map(str::to_owned);
            pages += 1;
        }
    }
    let expected: Vec<String> = (0..25).filter(|i| i % 2 == 1).map(|i| format!("app-{i:02}")).collect();
    assert_eq!(all, expected);
    // Like kube-apiserver over etcd, a filtered page may end with a token before an empty page.
    assert!((3..=4).contains(&pages), "{pages} pages");

    // A continue token combined with a resourceVersion is refused; garbage tokens too.
    api.get(&format!("{GIT}?limit=4&continue=abc")).await.expect(400);

    // Exact reads of the past; 410 once compacted; 504 for the future.
    let rv: u64 = first_rv.as_str().unwrap_or_default().parse().unwrap_or_default();
    let past =
        api.get(&format!("{GIT}?limit=100&resourceVersion={rv}&resourceVersionMatch=Exact")).await.expect(200).body;
    assert_eq!(names(&past).len(), 25);
    let now = api.get(GIT).await.expect(200).body;
    assert_eq!(names(&now).len(), 26);
    let future = api.get(&format!("{GIT}?resourceVersion={}", rv + 100)).await.expect(504);
    assert_eq!(future.body["reason"], "Timeout");
    api.get(&format!("{GIT}?resourceVersionMatch=Exact")).await.expect(400);

    let page = api.get(&format!("{GIT}?limit=5")).await.expect(200).body;
    let token = page["metadata"]["continue"].as_str().unwrap_or_default().to_owned();
    let current = api.store.current_revision();
    let _ = api.store.compact(current).await;
    let expired = api.get(&format!("{GIT}?limit=5&continue={token}")).await;
    // The list was at the current revision, which compaction keeps readable; a write then a
    // compaction past it expires the token.
    if expired.status.as_u16() == 200 {
        api.post(GIT, &git("later")).await.expect(201);
        let _ = api.store.compact(api.store.current_revision()).await;
        let expired = api.get(&format!("{GIT}?limit=5&continue={token}")).await.expect(410);
        assert_eq!(expired.body["reason"], "Expired");
    } else {
        assert_eq!(expired.expect(410).body["reason"], "Expired");
    }
    let old = api.get(&format!("{GIT}?limit=5&resourceVersion={rv}&resourceVersionMatch=Exact")).await.expect(410);
    assert_eq!(old.body["code"], 410);
}

#[tokio::test]
async fn tables_and_partial_metadata() {
    let api = Api::new();
    api.post(GIT, &git("app")).await.expect(201);
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let t = api.call(Method::GET, GIT, &[("accept", table_accept)], None).await.expect(200).body;
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    let cols: Vec<&str> =
        t["columnDefinitions"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(cols.first(), Some(&"Name"));
    assert!(cols.contains(&"URL") && cols.contains(&"Age"), "{cols:?}");
    assert_eq!(t["rows"][0]["cells"][0], "app");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert!(t["metadata"]["resourceVersion"].is_string());

    let one =
        api.call(Method::GET, &format!("{GIT}/app?includeObject=Object"), &[("accept", table_accept)], None).await;
    let one = one.expect(200).body;
    assert_eq!(one["rows"][0]["object"]["kind"], "GitRepository");

    let pom = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
    let p = api.call(Method::GET, GIT, &[("accept", pom)], None).await.expect(200).body;
    assert_eq!(p["kind"], "PartialObjectMetadataList");
    assert_eq!(p["items"][0]["metadata"]["name"], "app");
    assert!(p["items"][0].get("spec").is_none());
    let yaml = api.call(Method::GET, GIT, &[("accept", "application/yaml")], None).await.expect(200);
    assert_eq!(yaml.header("content-type"), Some("application/yaml"));
    api.call(Method::GET, GIT, &[("accept", "text/html")], None).await.expect(406);
}

/// A metadata-only list without a limit is read a page (500) at a time: every object comes
/// back once, selectors apply across pages, and no spec is carried.
#[tokio::test]
async fn partial_metadata_list_spans_pages() {
    let api = Api::new();
    for i in 0..1_010 {
        let mut o = git(&format!("app-{i:04}"));
        o["metadata"]["labels"] = json!({"parity": if i % 2 == 0 { "even" } else { "odd" }});
        api.post(GIT, &o).await.expect(201);
    }
    let pom = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
    let all = api.call(Method::GET, GIT, &[("accept", pom)], None).await.expect(200).body;
    let names: Vec<&str> =
        all["items"].as_array().into_iter().flatten().filter_map(|o| o["metadata"]["name"].as_str()).collect();
    assert_eq!(names.len(), 1_010);
    assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), 1_010);
    assert!(all["items"].as_array().into_iter().flatten().all(|o| o.get("spec").is_none()));
    assert_eq!(all["metadata"].get("continue"), None);
    let odd = api.call(Method::GET, &format!("{GIT}?labelSelector=parity%3Dodd"), &[("accept", pom)], None).await;
    assert_eq!(odd.expect(200).body["items"].as_array().map(Vec::len), Some(505));
}

#[tokio::test]
async fn deletecollection_honours_selectors() {
    let api = Api::new();
    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut o = git(name);
        o["metadata"]["labels"] = json!({"tier": tier});
        api.post(GIT, &o).await.expect(201);
    }
    let gone = api.call(Method::DELETE, &format!("{GIT}?labelSelector=tier%3Dx"), &[], None).await.expect(200).body;
    assert_eq!(gone["items"].as_array().map(Vec::len), Some(2));
    let left = api.get(GIT).await.expect(200).body;
    assert_eq!(left["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(left["items"][0]["metadata"]["name"], "c");
}

#[tokio::test]
async fn openapi_documents() {
    let api = Api::new();
    let index = api.get("/openapi/v3").await.expect(200).body;
    let url =
        index["paths"]["apis/helm.toolkit.fluxcd.io/v2"]["serverRelativeURL"].as_str().unwrap_or_default().to_owned();
    let doc = api.get(&url).await.expect(200);
    let etag = doc.header("etag").unwrap_or_default().to_owned();
    assert!(doc.body["components"]["schemas"]["io.fluxcd.toolkit.helm.v2.HelmRelease"].is_object());
    let cached = api.call(Method::GET, &url, &[("if-none-match", &etag)], None).await;
    assert_eq!(cached.status.as_u16(), 304);
    api.get("/openapi/v3/apis/helm.toolkit.fluxcd.io/v9").await.expect(404);
    let v2 = api.get("/openapi/v2").await.expect(200).body;
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"]["io.fluxcd.toolkit.source.v1.GitRepository"].is_object());
    api.call(
        Method::GET,
        "/openapi/v2",
        &[("accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")],
        None,
    )
    .await
    .expect(406);
}

#[tokio::test]
async fn metrics_count_requests() {
    let api = Api::new();
    api.post(GIT, &git("app")).await.expect(201);
    api.get(&format!("{GIT}/missing")).await.expect(404);
    let text = String::from_utf8(api.get("/metrics").await.expect(200).raw).unwrap_or_default();
    assert!(
        text.contains(r#"apiserver_request_total{verb="POST",group="source.toolkit.fluxcd.io",resource="gitrepositories",code="201"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"apiserver_request_total{verb="GET",group="source.toolkit.fluxcd.io",resource="gitrepositories",code="404"} 1"#));
    // A new store is at revision 1 (as etcd); the create took the next.
    assert!(text.contains("eddy_store_revision 2"), "{text}");
    // The engine's memory: it holds the one object (the test's store is the in-memory engine).
    let memory = text
        .lines()
        .find_map(|l| l.strip_prefix("eddy_store_engine_memory_bytes "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(memory.is_some_and(|b| b > 0.0), "{text}");
}

#[tokio::test]
async fn full_lists_stream_many_pages_as_one_snapshot() {
    let api = Api::new();
    // More than two of the server's internal pages, over three namespaces, every third labelled.
    let total = 1_203;
    for i in 0..total {
        let ns = ["a", "b", "c"][i % 3];
        let mut obj = git(&format!("repo-{i:04}"));
        obj["metadata"]["namespace"] = json!(ns);
        if i % 3 == 0 {
            obj["metadata"]["labels"] = json!({"pick": "yes"});
        }
        api.post(&format!("/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/gitrepositories"), &obj).await.expect(201);
    }
    let all = api.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories").await.expect(200);
    assert_eq!(all.body["kind"], "GitRepositoryList");
    let items = all.body["items"].as_array().expect("items");
    assert_eq!(items.len(), total);
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap().to_owned(),
                o["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "ordered by namespace and name, no duplicates");
    let rv: u64 = all.body["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(items.iter().all(|o| o["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() <= rv));

    let picked =
        api.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories?labelSelector=pick%3Dyes").await.expect(200);
    assert_eq!(picked.body["items"].as_array().map(Vec::len), Some(total.div_ceil(3)));
    let one_ns = api.get("/apis/source.toolkit.fluxcd.io/v1/namespaces/b/gitrepositories").await.expect(200);
    assert_eq!(one_ns.body["items"].as_array().map(Vec::len), Some(total / 3));
    // An exact revision in the past still streams the state of then (a new store is at
    // revision 1, so the fifth create took revision 6).
    let past = api
        .get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories?resourceVersion=6&resourceVersionMatch=Exact")
        .await
        .expect(200);
    assert_eq!(past.body["items"].as_array().map(Vec::len), Some(5));
    // Empty results are a complete list too.
    let none = api.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories?labelSelector=pick%3Dno").await.expect(200);
    assert_eq!(none.body["items"], json!([]));
}

#[tokio::test]
async fn a_future_resource_version_is_a_504_with_retry_after() {
    let api = Api::new();
    api.post(GIT, &git("a")).await.expect(201);
    let a = api.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories?resourceVersion=999999").await.expect(504);
    assert_eq!(a.body["reason"], "Timeout");
    assert!(a.body["message"].as_str().unwrap_or_default().starts_with("Too large resource version"));
    assert_eq!(a.header("retry-after"), Some("1"));
}
